/* tok: fastai's Tokenizer (default rules + spaCy blank("en") words) as a
 * Unix tool.  Reads a folder tree, CSV files, plain files or stdin; writes
 * .tok lines (split TAB label TAB tokens) in input order.
 *
 * The readers are libcore/docsrc.c; the ordered -j thread pipeline, in
 * bounded memory, is libcore/tokpool.c. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docsrc.h"
#include "tokenizer.h"
#include "tokfile.h"
#include "tokpool.h"
#include "util.h"

static const char usage_text[] =
"usage: tok [-hlq] [-j threads] [-o out] [-L lengths] [-c] [-r rules] [-x rules]\n"
"           [--no-bos] [--eos] [--folders list] [--text-col cols]\n"
"           [--label-col col] [--valid-col col] [--split name] [--label name]\n"
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
"                 (default: train, empty)\n";

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
       O_SPLIT, O_LABEL };

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
		{NULL, 0, NULL, 0}
	};
	struct tok_opts opts;
	struct docsrc_opts src;
	const char **folders = NULL;
	int nfolders = 0;
	char **lists = NULL;    /* the --folders arguments, split in place */
	int nlists = 0;
	const char *outpath = "-", *lenpath = NULL;
	int c, quiet = 0, force_csv = 0;
	long j = 0;

	argv0 = "tok";
	tok_opts_default(&opts);
	docsrc_opts_default(&src);
	while ((c = getopt_long(argc, argv, "hqlcj:o:L:r:x:", lo, NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': quiet = 1; break;
		case 'l': src.lines = 1; break;
		case 'c': force_csv = 1; break;
		case 'j': j = parse_long(optarg, "-j", 1, 1024); break;
		case 'o': outpath = optarg; break;
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

	tok_init();
	struct out *out = out_open(outpath, 0);
	struct out *lens_out = lenpath ? out_open(lenpath, 0) : NULL;
	struct tok_sink t = { tokpool_new(&opts, (int)j, out, lens_out), 0, {0} };
	struct doc_sink sink = { sink_begin, sink_end, &t };
	progress_init(&t.prog, "tok", 0, quiet);

	char *stdin_only[] = { "-", NULL };
	for (char **in = argc ? argv : stdin_only; *in; in++)
		docsrc_path(&src, *in, force_csv, &sink);
	tokpool_finish(t.pool);
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
