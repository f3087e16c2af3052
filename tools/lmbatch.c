/* lmbatch: id stream -> language-model batch stream (fastai LMDataLoader:
 * bs streams x seq_len, per-epoch document shuffle), or --show N for
 * fastai's show_batch table. */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/ids.h"
#include "core/spool.h"
#include "data/lmb.h"
#include "core/rng.h"
#include "text/tokfile.h"
#include "core/util.h"
#include "data/vocab.h"

static const char usage_text[] =
"usage: lmbatch [-hq] [-b bs] [-l seq_len] [-e epochs] [-s seed] [-o out]\n"
"               [-v vocab] [--val-bs n] [--valid-pct p] [--train-tags list]\n"
"               [--valid-tags list] [--valid-out file] [--no-shuffle]\n"
"               [--show n] [file ...]\n"
"  -b bs            rows per training batch (default 64)\n"
"  -l seq_len       tokens per row and batch (default 72)\n"
"  -e epochs        epochs in the stream (default 1)\n"
"  -s seed          seed of the split and the shuffles (default 0)\n"
"  -o out           batch stream (default: stdout)\n"
"  -v vocab         the vocab, for --show (and to check the input)\n"
"  --val-bs n       rows per validation batch (default: bs)\n"
"  --valid-pct p    random split: a fraction p of all documents -> valid\n"
"  --train-tags l   split tags (comma list, * = any) used for training\n"
"                   (default train)\n"
"  --valid-tags l   split tags used for validation (default valid)\n"
"  --valid-out f    write the validation batches (once) to f instead\n"
"  --no-shuffle     keep the training documents in input order\n"
"  --show n         print show_batch's table of n rows of the first\n"
"                   training batch (needs -v); batches go only to -o\n"
"  --dump           read batch streams and print every row as text:\n"
"                   epoch TAB split TAB batch TAB row TAB x TAB y\n"
"                   (ids, or tokens with -v)\n"
"  -q               no progress or notes on stderr\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

enum { OPT_VALBS = 256, OPT_PCT, OPT_TTAGS, OPT_VTAGS, OPT_VOUT,
       OPT_NOSHUF, OPT_SHOW, OPT_DUMP };

/* 1 if tag is in the comma list (exactly, or as "*" when star). */
static int
in_list(const char *list, const char *tag, int star)
{
	size_t tl = strlen(tag);

	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (star ? (l == 1 && *p == '*') :
		    (l == tl && !memcmp(p, tag, l)))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

/* Explicit tags first, then "*"; valid before train. */
static int
classify(const char *tag, const char *ttags, const char *vtags)
{
	if (in_list(vtags, tag, 0))
		return LMB_SPLIT_VALID;
	if (in_list(ttags, tag, 0))
		return LMB_SPLIT_TRAIN;
	if (in_list(vtags, tag, 1))
		return LMB_SPLIT_VALID;
	if (in_list(ttags, tag, 1))
		return LMB_SPLIT_TRAIN;
	return -1;
}

/* The documents' tokens stay on disk: a regular input is mapped as it is,
 * anything else is copied to an unlinked temp file that is mapped. */
struct store {
	FILE *spool;
	uint64_t spool_off;
	int mapped_input;       /* 1: offsets point into the input file */
	uint64_t start;         /* where the stream starts in that file */
	int fd;
	uint64_t size;
	unsigned char *base;
};

static void
show_batch(const uint32_t *tok, uint32_t rows, uint32_t L, uint32_t n,
           const struct vocab *v)
{
	struct buf b = {0};

	/* fastai: columns text (x) and text_ (y); only text is cut to 150
	 * space-separated tokens */
	buf_adds(&b, "\ttext\ttext_\n");
	for (uint32_t r = 0; r < rows && r < n; r++) {
		const uint32_t *row = tok + (size_t)r * (L + 1);
		char num[16];

		snprintf(num, sizeof num, "%u\t", r);
		buf_adds(&b, num);
		for (uint32_t t = 0; t < L && t < 150; t++) {
			if (t)
				buf_addc(&b, ' ');
			buf_add(&b, v->tok[row[t]], v->len[row[t]]);
		}
		buf_addc(&b, '\t');
		for (uint32_t t = 1; t <= L; t++) {
			if (t > 1)
				buf_addc(&b, ' ');
			buf_add(&b, v->tok[row[t]], v->len[row[t]]);
		}
		buf_addc(&b, '\n');
	}
	if (fwrite(b.p, 1, b.n, stdout) != b.n || fflush(stdout) == EOF)
		die("stdout: write error:");
	buf_free(&b);
}

static void
dump_ids(struct buf *b, const struct lmb_batch *bt, uint32_t r, uint32_t from,
         const struct vocab *v)
{
	char num[16];

	for (uint32_t t = 0; t < bt->len; t++) {
		uint32_t id = bt->tok[(size_t)r * (bt->len + 1) + from + t];
		if (t)
			buf_addc(b, ' ');
		if (v) {
			buf_add(b, v->tok[id], v->len[id]);
		} else {
			snprintf(num, sizeof num, "%u", id);
			buf_adds(b, num);
		}
	}
}

/* --dump: batch streams as text, one row a line. */
static int
dump_streams(char **files, int nfiles, const char *vocab_path,
             const char *out)
{
	struct vocab *v = vocab_path ? vocab_load(vocab_path) : NULL;
	FILE *f = open_in(files[0]);
	struct out *o = out_open(out, 0);
	struct buf b = {0};

	for (int i = 0; i < nfiles; i++) {
		struct lmb_reader r;
		struct lmb_batch bt;

		if (i)
			f = open_in(files[i]);
		lmb_open(&r, f, files[i]);
		if (v)
			lmb_check_vocab(&r, v->n, v->xxh64, vocab_path);
		while (lmb_next(&r, &bt))
			for (uint32_t row = 0; row < bt.rows; row++) {
				char head[64];
				b.n = 0;
				snprintf(head, sizeof head, "%u\t%s\t%u\t%u\t",
				         bt.epoch, bt.split ? "valid" : "train",
				         bt.index, row);
				buf_adds(&b, head);
				dump_ids(&b, &bt, row, 0, v);
				buf_addc(&b, '\t');
				dump_ids(&b, &bt, row, 1, v);
				buf_addc(&b, '\n');
				if (fwrite(b.p, 1, b.n, o->f) != b.n)
					die("%s: write error:", out);
			}
		lmb_close(&r);
		close_in(f, files[i]);
	}
	buf_free(&b);
	vocab_free(v);
	return out_close(o);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "bs", required_argument, NULL, 'b' },
		{ "seq-len", required_argument, NULL, 'l' },
		{ "epochs", required_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 's' },
		{ "vocab", required_argument, NULL, 'v' },
		{ "val-bs", required_argument, NULL, OPT_VALBS },
		{ "valid-pct", required_argument, NULL, OPT_PCT },
		{ "train-tags", required_argument, NULL, OPT_TTAGS },
		{ "valid-tags", required_argument, NULL, OPT_VTAGS },
		{ "valid-out", required_argument, NULL, OPT_VOUT },
		{ "no-shuffle", no_argument, NULL, OPT_NOSHUF },
		{ "show", required_argument, NULL, OPT_SHOW },
		{ "dump", no_argument, NULL, OPT_DUMP },
		{ 0, 0, 0, 0 }
	};
	const char *out = NULL, *vout = NULL, *vocab_path = NULL;
	const char *ttags = "train", *vtags = "valid";
	long bs = 64, val_bs = 0, seq_len = 72, epochs = 1, show = -1;
	unsigned long long seed = 0;
	double pct = -1;
	int c, quiet = 0, shuffle = 1, dump = 0, nfiles, ret = 0, tags_given = 0;
	char **files, *stdin_only[] = { "-", NULL }, *extra = NULL;
	struct store st = { .fd = -1 };
	struct lm_docs dt = {0}, dv = {0}, pool = {0};
	uint64_t skipped = 0, nwork;
	const char *skipped_tag = NULL;
	char *skipped_copy = NULL;
	struct vocab *v = NULL;
	uint32_t vocab_n = 0;
	uint64_t vocab_xxh64 = 0;
	struct lm_loader lt, lv;
	struct lmb_info info = {0};
	struct lmb_writer w, wv;
	struct out *o = NULL, *ov = NULL;
	struct progress p;
	uint32_t *tok;
	struct rng rg;

	argv0 = "lmbatch";
	while ((c = getopt_long(argc, argv, "hqb:l:e:s:o:v:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': quiet = 1; break;
		case 'b': bs = parse_long(optarg, "-b", 1, 1 << 20); break;
		case 'l': seq_len = parse_long(optarg, "-l", 1, 1 << 20); break;
		case 'e': epochs = parse_long(optarg, "-e", 1, 1 << 20); break;
		case 's': seed = (unsigned long long)parse_long(optarg, "-s", 0,
		                                                LONG_MAX);
		          break;
		case 'o': out = optarg; break;
		case 'v': vocab_path = optarg; break;
		case OPT_VALBS:
			val_bs = parse_long(optarg, "--val-bs", 1, 1 << 20);
			break;
		case OPT_PCT:
			pct = parse_double(optarg, "--valid-pct");
			if (pct < 0 || pct >= 1)
				usage_error("--valid-pct: %s is not in [0, 1)",
				            optarg);
			break;
		case OPT_TTAGS: ttags = optarg; tags_given = 1; break;
		case OPT_VTAGS: vtags = optarg; tags_given = 1; break;
		case OPT_VOUT: vout = optarg; break;
		case OPT_NOSHUF: shuffle = 0; break;
		case OPT_SHOW:
			show = parse_long(optarg, "--show", 1, 1 << 20);
			break;
		case OPT_DUMP: dump = 1; break;
		default:  usage(2);
		}
	files = optind < argc ? argv + optind : stdin_only;
	nfiles = optind < argc ? argc - optind : 1;
	if (!val_bs)
		val_bs = bs;
	if (dump)
		return dump_streams(files, nfiles, vocab_path, out ? out : "-");
	if (pct >= 0 && tags_given)
		usage_error("--valid-pct splits at random; it cannot be combined"
		            " with --train-tags/--valid-tags");
	if (show > 0 && !vocab_path)
		usage_error("--show needs the vocab (-v) to print tokens");
	if (!out)
		out = show > 0 ? NULL : "-";
	if (vout && !out)
		usage_error("--valid-out needs -o for the training batches");
	if (out && vout && !strcmp(out, vout))
		usage_error("-o and --valid-out name the same file");

	for (int i = 0; i < nfiles; i++)
		if (strcmp(files[i], "-"))
			close_in(open_in(files[i]), files[i]);
	if (vocab_path)
		v = vocab_load(vocab_path);

	/* read the documents: keep offsets and lengths, tokens on disk */
	for (int i = 0; i < nfiles; i++) {
		FILE *f = open_in(files[i]);
		struct ids_reader r;
		struct ids_doc d;
		struct stat sb;

		if (nfiles == 1 && fstat(fileno(f), &sb) == 0 &&
		    S_ISREG(sb.st_mode) && ftello(f) >= 0) {
			st.mapped_input = 1;
			st.start = (uint64_t)ftello(f);
			st.fd = dup(fileno(f));
		} else if (!st.spool) {
			st.spool = spool_open(files[i]);
		}
		ids_open(&r, f, files[i]);
		if (v)
			ids_check_vocab(&r, v->n, v->xxh64, vocab_path);
		if (i && (r.vocab_n != vocab_n || r.vocab_xxh64 != vocab_xxh64))
			die("%s: made with another vocab than %s; re-run numz"
			    " with one vocab", files[i], files[0]);
		vocab_n = r.vocab_n;
		vocab_xxh64 = r.vocab_xxh64;
		while (ids_next(&r, &d)) {
			uint64_t off;
			int split = pct >= 0 ? LMB_SPLIT_TRAIN :
			            classify(d.split, ttags, vtags);

			if (split < 0) {
				if (!skipped++)
					skipped_tag = skipped_copy =
						xstrdup(d.split);
				continue;
			}
			if (st.mapped_input) {
				off = st.start + d.raw_off;
			} else {
				off = st.spool_off;
				if (d.n && fwrite(d.raw, 4, d.n, st.spool) != d.n)
					die("temporary file: write error:");
				st.spool_off += 4 * (uint64_t)d.n;
			}
			lm_docs_add(pct >= 0 ? &pool :
			            split == LMB_SPLIT_VALID ? &dv : &dt, off, d.n);
		}
		ids_close(&r);
		close_in(f, files[i]);
	}
	if (skipped && !quiet)
		warn("note: skipped %llu documents whose split tag (e.g. '%s')"
		     " is in neither --train-tags (%s) nor --valid-tags (%s)",
		     (unsigned long long)skipped, skipped_tag, ttags, vtags);
	free(skipped_copy);

	/* RandomSplitter: a permutation; the first int(pct*n) are valid */
	if (pct >= 0) {
		uint32_t *perm = xmalloc(((size_t)pool.n + 1) * sizeof *perm);
		uint64_t cut = (uint64_t)(pct * (double)pool.n);

		for (uint32_t i = 0; i < pool.n; i++)
			perm[i] = i;
		rng_seed(&rg, seed, 1);
		rng_shuffle_u32(&rg, perm, pool.n);
		for (uint32_t i = 0; i < pool.n; i++)
			lm_docs_add(i < cut ? &dv : &dt, pool.off[perm[i]],
			            pool.len[perm[i]]);
		free(perm);
		lm_docs_free(&pool);
	}

	/* map the tokens */
	if (st.mapped_input) {
		struct stat sb;
		if (fstat(st.fd, &sb) < 0)
			die("%s:", files[0]);
		st.size = (uint64_t)sb.st_size;
	} else {
		if (fflush(st.spool) == EOF)
			die("temporary file: write error:");
		st.fd = fileno(st.spool);
		st.size = st.spool_off;
	}
	if (st.size) {
		st.base = mmap(NULL, st.size, PROT_READ, MAP_PRIVATE, st.fd, 0);
		if (st.base == MAP_FAILED)
			die("mmap:");
	}
	dt.base = dv.base = st.base;

	if (!dt.n)
		die("%s: no training documents (split tags in --train-tags %s);"
		    " check the tags, or use --valid-pct", files[0], ttags);
	lm_loader_init(&lt, &dt, (uint32_t)bs, (uint32_t)seq_len);
	lm_loader_init(&lv, &dv, (uint32_t)val_bs, (uint32_t)seq_len);
	if (!lt.sh.n_batches)
		die("%s: the training split has %llu tokens, too few for %ld"
		    " rows; lower -b", files[0], (unsigned long long)dt.ntok, bs);
	if (dv.n && !lv.sh.n_batches)
		die("%s: the validation split has %llu tokens, too few for %ld"
		    " rows; lower --val-bs", files[0],
		    (unsigned long long)dv.ntok, val_bs);

	info.vocab_n = vocab_n;
	info.vocab_xxh64 = vocab_xxh64;
	info.bs = (uint32_t)bs;
	info.val_bs = (uint32_t)val_bs;
	info.seq_len = (uint32_t)seq_len;
	info.epochs = (uint32_t)epochs;
	info.seed = seed;
	info.shuffle = shuffle;
	info.train_batches = lt.sh.n_batches;
	info.valid_batches = lv.sh.n_batches;
	info.train_tokens = dt.ntok;
	info.valid_tokens = dv.ntok;
	info.train_docs = dt.n;
	info.valid_docs = dv.n;
	params_add(&extra, "tool", "lmbatch");
	if (pct >= 0)
		params_add(&extra, "valid_pct", "%.17g", pct);
	else {
		params_add(&extra, "train_tags", "%s", ttags);
		params_add(&extra, "valid_tags", "%s", vtags);
	}

	tok = xmalloc(((size_t)(bs > val_bs ? bs : val_bs)) *
	              ((size_t)seq_len + 1) * sizeof *tok);
	if (show > 0) {
		uint32_t L;
		rng_seed(&rg, seed, 2);
		lm_loader_epoch(&lt, shuffle ? &rg : NULL);
		L = lm_loader_batch(&lt, 0, tok);
		show_batch(tok, (uint32_t)bs, L, (uint32_t)show, v);
		if (!out)
			goto done;
	}

	o = out_open(out, 1);
	info.kind = vout ? LMB_TRAIN : LMB_BOTH;
	lmb_begin(&w, o->f, out, &info, extra);
	if (vout) {
		ov = out_open(vout, 1);
		info.kind = LMB_VALID;
		lmb_begin(&wv, ov->f, vout, &info, extra);
	}
	nwork = (uint64_t)epochs * info.train_batches +
	        (vout ? 1 : (uint64_t)epochs) * info.valid_batches;
	progress_init(&p, "lmbatch", nwork, quiet);
	nwork = 0;
	for (uint32_t e = 0; e < (uint32_t)epochs; e++) {
		/* one generator per epoch: epoch e's order depends only on
		 * the seed and e (a resumed run can rebuild it) */
		rng_seed(&rg, seed, 2 + (uint64_t)e);
		lm_loader_epoch(&lt, shuffle ? &rg : NULL);
		for (uint32_t b = 0; b < lt.sh.n_batches; b++) {
			uint32_t L = lm_loader_batch(&lt, b, tok);
			lmb_write(&w, e, LMB_SPLIT_TRAIN, b, (uint32_t)bs, L, tok);
			progress_set(&p, ++nwork);
		}
		if (vout && e)
			continue;
		lm_loader_epoch(&lv, NULL);
		for (uint32_t b = 0; b < lv.sh.n_batches; b++) {
			uint32_t L = lm_loader_batch(&lv, b, tok);
			lmb_write(vout ? &wv : &w, vout ? 0 : e, LMB_SPLIT_VALID,
			          b, (uint32_t)val_bs, L, tok);
			progress_set(&p, ++nwork);
		}
	}
	progress_end(&p);
	lmb_end(&w);
	if (vout) {
		lmb_end(&wv);
		if (out_flush(ov) | out_flush(o)) {
			out_abort(ov);  /* neither output without the other */
			out_abort(o);
			ret = 1;
			goto done;
		}
		ret |= out_close(ov);
	}
	ret |= out_close(o);
done:
	free(tok);
	free(extra);
	lm_loader_free(&lt);
	lm_loader_free(&lv);
	lm_docs_free(&dt);
	lm_docs_free(&dv);
	if (st.base)
		munmap(st.base, st.size);
	if (st.spool)
		fclose(st.spool);
	else if (st.fd >= 0)
		close(st.fd);
	vocab_free(v);
	return ret;
}
