/* tok: fastai's Tokenizer (default rules + spaCy blank("en") words) as a
 * Unix tool.  Reads a folder tree, CSV files, plain files or stdin; writes
 * .tok lines (split TAB label TAB tokens) in input order.
 *
 * The readers are libcore/text/docsrc.c; the ordered -j thread pipeline, in
 * bounded memory, is libcore/text/tokpool.c. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/docsrc.h"
#include "text/sp.h"
#include "core/spool.h"
#include "text/sptrain.h"
#include "text/tokenizer.h"
#include "text/tokfile.h"
#include "text/tokpool.h"
#include "core/util.h"

static const char usage_text[] =
"usage: tok [-hlq] [-j threads] [-o out] [-L lengths] [-c] [-r rules] [-x rules]\n"
"           [--no-bos] [--eos] [--folders list] [--text-col cols]\n"
"           [--label-col col] [--valid-col col] [--split name] [--label name]\n"
"           [--sp model | --sp-train n -m model [--sp-max-vocab n]\n"
"            [--sp-coverage f] [--sp-type type]]\n"
"           [dir | file.csv | file | -] ...\n"
"  A directory is read as fastai's from_folder: every *.txt below it, label =\n"
"  parent folder, split = grandparent folder.  A *.csv file (or any file with\n"
"  -c) is read as from_csv.  Other files are one document each; - is stdin.\n"
"  -o out      write the .tok lines to out (default: stdout)\n"
"  -j n        tokenize with n threads (default: all cores)\n"
"  -L file     also write each document's token count, one per line\n"
"  -l          plain files: one document per line\n"
"  -c          read files and stdin as CSV\n"
"  -r rules    apply only these pre-rules (comma list; order stays fastai's)\n"
"  -x rules    drop these pre-rules (fix_html replace_rep replace_wrep\n"
"              spec_add_spaces rm_useless_spaces replace_all_caps replace_maj\n"
"              lowercase)\n"
"  -q          no progress on stderr\n"
"  --no-bos    no xxbos at the start of each document\n"
"  --eos       add xxeos at the end of each document\n"
"  --folders l from_folder: only these top-level folders (comma list)\n"
"  --text-col c   CSV text column(s), comma list (default: text)\n"
"  --label-col c  CSV label column (default: label, if present)\n"
"  --valid-col c  CSV boolean column: true rows get split \"valid\" (default:\n"
"                 every row is \"train\")\n"
"  --split s, --label s   split and label of plain files and stdin\n"
"                 (default: train, empty)\n"
"  --sp model     fastai's SubwordTokenizer: after the pre-rules, the pieces\n"
"                 of this SentencePiece model instead of spaCy's words\n"
"  --sp-train n   train a SentencePiece model with n pieces (0: fastai's\n"
"                 rule, distinct words / 4) on the texts after the pre-rules,\n"
"                 with fastai's settings; write it to -m model (no .tok)\n"
"  -m model       --sp-train's output\n"
"  --sp-max-vocab n   cap of fastai's rule (max_vocab_sz, default 30000)\n"
"  --sp-coverage f    character_coverage (default 0.99999, fastai's for\n"
"                 European languages; 0.9998 for others)\n"
"  --sp-type t    model_type: unigram (default), bpe, char, word\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

/* ---- the sink: documents into the pool, progress by bytes ---- */

struct tok_sink {
	struct tokpool *pool;
	uint64_t nbytes;
	struct progress prog;
	size_t *ndocs;          /* or NULL */
};

static struct buf *
sink_begin(void *arg, const struct doc_meta *m)
{
	struct tok_sink *t = arg;
	return tokpool_begin(t->pool, m->split, m->label);
}

static void
sink_end(void *arg, int newlines)
{
	struct tok_sink *t = arg;
	t->nbytes += tokpool_end(t->pool, newlines);
	if (t->ndocs)
		++*t->ndocs;
	progress_set(&t->prog, t->nbytes);
}

/* ---- options ---- */

static unsigned
parse_rules(const char *s, const char *what)
{
	unsigned m = 0;
	char *l = xstrdup(s), *sv;

	for (char *t = strtok_r(l, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		int r = tok_rule_by_name(t);
		if (r < 0)
			usage_error("%s: unknown rule \"%s\" (see tok -h)", what, t);
		m |= 1u << r;
	}
	free(l);
	return m;
}

enum { O_NOBOS = 256, O_EOS, O_FOLDERS, O_TEXT, O_LABELCOL, O_VALID,
       O_SPLIT, O_LABEL, O_SP, O_SPTRAIN, O_SPMAX, O_SPCOV, O_SPTYPE };

/* --sp-train: the texts after the pre-rules go to a temp file, a line
 * each (SentencePieceTokenizer.setup's texts.out), then to the trainer */
static int
sp_train_main(struct tok_opts *opts, const struct sptrain_opts *so,
              struct docsrc_opts *src, char **in, int force_csv, int nthread,
              const char *mpath, int quiet)
{
	struct out tmp = { spool_open("tok --sp-train"), "training texts",
	                   NULL, 0, 0, NULL };
	struct tok_sink t;
	struct doc_sink sink = { sink_begin, sink_end, &t };
	size_t ndocs = 0, nmodel, nlines;

	opts->text_only = 1;
	t.pool = tokpool_new(opts, nthread, &tmp, NULL);
	t.nbytes = 0;
	t.ndocs = &ndocs;
	progress_init(&t.prog, "tok", 0, quiet);
	for (; *in; in++)
		docsrc_path(src, *in, force_csv, &sink);
	tokpool_finish(t.pool);
	progress_end(&t.prog);
	if (fflush(tmp.f))
		die("tok --sp-train: temporary file:");
	long vs = so->vocab_sz ? so->vocab_sz
	        : sptrain_vocab_size(tmp.f, "training texts", so->max_vocab_sz);
	if (!quiet)
		fprintf(stderr, "tok: --sp-train: %zu texts, vocab_size %ld\n",
		        ndocs, vs);
	char *model = sptrain_run(tmp.f, mpath, so, vs, &nmodel, &nlines);
	fclose(tmp.f);
	char err[256];
	struct sp_model *m = sp_load_mem(model, nmodel, err, sizeof err);
	if (!m)         /* the library's own output: should not happen */
		die("%s: the trained model does not load: %s", mpath, err);
	sp_free(m);
	struct out *o = out_open(mpath, 1);
	if (fwrite(model, 1, nmodel, o->f) != nmodel) {
		warn("%s: write error:", mpath);
		out_abort(o);
		free(model);
		return 1;
	}
	free(model);
	int ret = out_close(o);
	if (!ret && !quiet)
		fprintf(stderr, "tok: --sp-train: %zu texts (%zu lines) -> %s\n",
		        ndocs, nlines, mpath);
	return ret;
}

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{"help", no_argument, NULL, 'h'},
		{"no-bos", no_argument, NULL, O_NOBOS},
		{"eos", no_argument, NULL, O_EOS},
		{"folders", required_argument, NULL, O_FOLDERS},
		{"text-col", required_argument, NULL, O_TEXT},
		{"label-col", required_argument, NULL, O_LABELCOL},
		{"valid-col", required_argument, NULL, O_VALID},
		{"split", required_argument, NULL, O_SPLIT},
		{"label", required_argument, NULL, O_LABEL},
		{"lines", no_argument, NULL, 'l'},
		{"csv", no_argument, NULL, 'c'},
		{"sp", required_argument, NULL, O_SP},
		{"sp-train", required_argument, NULL, O_SPTRAIN},
		{"sp-max-vocab", required_argument, NULL, O_SPMAX},
		{"sp-coverage", required_argument, NULL, O_SPCOV},
		{"sp-type", required_argument, NULL, O_SPTYPE},
		{NULL, 0, NULL, 0}
	};
	struct tok_opts opts;
	struct docsrc_opts src;
	const char **folders = NULL;
	int nfolders = 0;
	char **lists = NULL;    /* the --folders arguments, split in place */
	int nlists = 0;
	const char *outpath = "-", *lenpath = NULL, *sppath = NULL, *mpath = NULL;
	struct sptrain_opts so;
	int c, quiet = 0, force_csv = 0, sptrain = 0, outset = 0;
	long j = 0;

	argv0 = "tok";
	tok_opts_default(&opts);
	docsrc_opts_default(&src);
	sptrain_opts_default(&so);
	while ((c = getopt_long(argc, argv, "hqlcj:o:L:r:x:m:", lo, NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': quiet = 1; break;
		case 'l': src.lines = 1; break;
		case 'c': force_csv = 1; break;
		case 'j': j = parse_long(optarg, "-j", 1, 1024); break;
		case 'o': outpath = optarg; outset = 1; break;
		case 'm': mpath = optarg; break;
		case 'L': lenpath = optarg; break;
		case 'r': opts.rules = parse_rules(optarg, "-r"); break;
		case 'x': opts.rules &= ~parse_rules(optarg, "-x"); break;
		case O_NOBOS: opts.bos = 0; break;
		case O_EOS: opts.eos = 1; break;
		case O_FOLDERS: {
			char *l = xstrdup(optarg), *sv;
			lists = xrealloc(lists, (size_t)(nlists + 1) * sizeof *lists);
			lists[nlists++] = l;    /* folders point into it */
			for (char *t = strtok_r(l, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
				folders = xrealloc(folders, (size_t)(nfolders + 1) * sizeof *folders);
				folders[nfolders++] = t;
			}
			break;
		}
		case O_TEXT: src.text_cols = optarg; break;
		case O_LABELCOL: src.label_col = optarg; break;
		case O_VALID: src.valid_col = optarg; break;
		case O_SPLIT: src.split = optarg; break;
		case O_LABEL: src.label = optarg; break;
		case O_SP: sppath = optarg; break;
		case O_SPTRAIN:
			so.vocab_sz = parse_long(optarg, "--sp-train", 0, 1000000000);
			sptrain = 1;
			break;
		case O_SPMAX:
			so.max_vocab_sz = parse_long(optarg, "--sp-max-vocab", 1,
			                             1000000000);
			break;
		case O_SPCOV: {
			char *e;
			double v = strtod(optarg, &e);
			if (e == optarg || *e || !(v > 0 && v <= 1))
				usage_error("--sp-coverage: \"%s\": want a number in (0, 1]",
				            optarg);
			so.coverage = optarg;
			break;
		}
		case O_SPTYPE:
			if (strcmp(optarg, "unigram") && strcmp(optarg, "bpe") &&
			    strcmp(optarg, "char") && strcmp(optarg, "word"))
				usage_error("--sp-type: \"%s\": want unigram, bpe, char"
				            " or word", optarg);
			so.model_type = optarg;
			break;
		default: usage(2);
		}
	argc -= optind, argv += optind;
	src.folders = folders;
	src.nfolders = nfolders;
	if (!*src.text_cols)
		usage_error("--text-col: empty");
	if (!j) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		j = n > 0 ? n : 1;
	}
	if (sptrain && !mpath)
		usage_error("--sp-train needs -m model (the file to write)");
	if (mpath && !sptrain)
		usage_error("-m goes with --sp-train");
	if (sptrain && (sppath || outset || lenpath))
		usage_error("--sp-train writes only the model; tokenize with"
		            " --sp model in a second run");
	char *stdin_only[] = { "-", NULL };
	if (sptrain) {
		tok_init();
		int r = sp_train_main(&opts, &so, &src, argc ? argv : stdin_only,
		                      force_csv, (int)j, mpath, quiet);
		free(folders);
		for (int i = 0; i < nlists; i++)
			free(lists[i]);
		free(lists);
		return r;
	}
	struct sp_model *spm = NULL;
	if (sppath) {
		char err[256];
		if (!(spm = sp_load(sppath, err, sizeof err)))
			die("%s: %s", sppath, err);
		opts.sp = spm;
	}

	tok_init();
	struct out *out = out_open(outpath, 0);
	struct out *lens_out = lenpath ? out_open(lenpath, 0) : NULL;
	struct tok_sink t = { tokpool_new(&opts, (int)j, out, lens_out), 0, {0},
	                      NULL };
	struct doc_sink sink = { sink_begin, sink_end, &t };
	progress_init(&t.prog, "tok", 0, quiet);

	for (char **in = argc ? argv : stdin_only; *in; in++)
		docsrc_path(&src, *in, force_csv, &sink);
	tokpool_finish(t.pool);
	sp_free(spm);
	progress_end(&t.prog);
	free(folders);
	for (int i = 0; i < nlists; i++)
		free(lists[i]);
	free(lists);
	if (lens_out && (out_flush(out) | out_flush(lens_out))) {
		out_abort(out);         /* neither output without the other */
		out_abort(lens_out);
		return 1;
	}
	int ret = out_close(out);
	if (lens_out)
		ret |= out_close(lens_out);
	return ret;
}
