/* clastrain: fine-tune fastai's text classifier (text_classifier_learner)
 * from an encoder, one fit_one_cycle stage per run, with gradual
 * unfreezing across runs. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/clas.h"
#include "learn/clasio.h"
#include "data/clsbatch.h"
#include "data/ids.h"
#include "kernels.h"
#include "learn/optim.h"
#include "torch/pth.h"
#include "learn/recorder.h"
#include "core/stream.h"
#include "learn/trainrun.h"
#include "text/sp.h"
#include "core/util.h"
#include "data/vocab.h"

static const char usage_text[] =
"usage: clastrain [-hq] (-e enc.pth | -c clas.pth | --resume ckpt.pth)\n"
"                 -o out.pth [-v vocab] [-n epochs] [-l lr] [-b bs]\n"
"                 [--freeze-to n | --unfreeze] [--wd wd] [--moms a,b,c]\n"
"                 [--pct-start p] [--div d] [--div-final d] [--clip c]\n"
"                 [--clip-global] [--drop-mult m] [--ps p] [--alpha a]\n"
"                 [--beta b] [--train-tags list] [--valid-tags list]\n"
"                 [-s seed] [-j threads] [--log file] [--sp model]\n"
"                 [--precision fp32|bf16] train.ids [valid.ids]\n"
"  -e enc.pth    start from an encoder (encsave, fastai save_encoder):\n"
"                a new head, frozen (fastai's load_encoder)\n"
"  -c clas.pth   continue from a classifier checkpoint\n"
"  --resume ckpt.pth  finish an interrupted run (same data)\n"
"  -o out.pth    the checkpoint to write (after every epoch)\n"
"  -v vocab      the vocab (checked, and recorded for infer)\n"
"  -n epochs     fit_one_cycle epochs (default 1)\n"
"  -l lr         lr_max: one value, lo:hi (slice(lo,hi) over the 5\n"
"                groups) or :hi (slice(hi)) (default 1e-3, fastai's)\n"
"  -b bs         batch size (default 64)\n"
"  --freeze-to n train groups n.. of 5 (embedding, 3 LSTMs, head), n < 0\n"
"                from the end; clears Adam state (new head: freeze())\n"
"  --unfreeze    train everything (freeze_to 0)\n"
"  --wd wd       weight decay (default 0.01)\n"
"  --moms a,b,c  one-cycle momentums (default 0.8,0.7,0.8)\n"
"  --pct-start p --div d --div-final d   one-cycle shape (0.25, 25, 1e5)\n"
"  --clip c      clip each group's gradient norm to c (fastai 2.0\n"
"                to_fp16(clip=)); --clip-global: the global norm instead\n"
"  --drop-mult m scale the encoder dropouts (default 0.5)\n"
"  --ps p        the head's hidden-layer dropout (fastai's ps, default 0.1)\n"
"  --alpha a --beta b  AR/TAR on the encoder output (default 2, 1; 0 off)\n"
"  --train-tags list --valid-tags list  split tags of one stream\n"
"                (default train; valid,test)\n"
"  -s seed       random seed (default 42)\n"
"  -j threads    compute threads (default: all cores)\n"
"  --log file    one line per epoch: TSV, or JSON lines if file ends\n"
"                in .json or .jsonl\n"
"  --sp model    the texts are the pieces of this SentencePiece model\n"
"                (tok --sp): recorded for infer; the encoder's or\n"
"                checkpoint's own record is kept, and must agree\n"
"  --precision p fp32 (default) or bf16: GEMM operands rounded to\n"
"                bfloat16, fp32 sums, weights, optimizer and element maths\n"
"                (needs a CPU with AVX512-BF16)\n"
"  -q            no progress bar\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

/* ---- options ----------------------------------------------------------- */

struct opts {
	const char *enc, *from, *resume, *out, *vocab, *log;
	const char *sp;
	struct sp_model *spm;   /* the texts' SentencePiece model, or NULL */
	char *sp_file;
	const char *ttags, *vtags;
	int epochs, bs, freeze_to, freeze_given, quiet, threads;
	struct fit_opts fit;
	double drop_mult, ps;
	uint64_t seed;
};

/* ---- data -------------------------------------------------------------- */

struct docs {
	size_t n, cap;
	uint32_t **ids, *len, *y;
	char **label;            /* label names, until mapped to y */
};

static void
docs_add(struct docs *d, const struct ids_doc *doc)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->ids = xrealloc(d->ids, d->cap * sizeof *d->ids);
		d->len = xrealloc(d->len, d->cap * sizeof *d->len);
		d->label = xrealloc(d->label, d->cap * sizeof *d->label);
	}
	d->ids[d->n] = xmalloc((doc->n ? doc->n : 1) * sizeof **d->ids);
	memcpy(d->ids[d->n], doc->ids, doc->n * sizeof **d->ids);
	d->len[d->n] = doc->n;
	d->label[d->n] = xstrdup(doc->label);
	d->n++;
}

static void
docs_free(struct docs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ids[i]), free(d->label[i]);
	free(d->ids), free(d->len), free(d->y), free(d->label);
}

static int
tag_in(const char *tag, const char *list)
{
	size_t n = strlen(tag);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !strncmp(p, tag, n))
			return 1;
		p += l + (e != NULL);
	}
	return 0;
}

/* Read a stream into train and/or valid (valid NULL: all to train;
 * train NULL: all to valid; both: by split tags). */
static void
read_stream(const char *path, struct docs *train, struct docs *valid,
            const struct opts *o, uint32_t *vocab_n, uint64_t *vocab_h)
{
	struct ids_reader r;
	struct ids_doc d;
	FILE *f = open_in(path);
	ids_open(&r, f, path);
	if (*vocab_n == 0) {
		*vocab_n = r.vocab_n, *vocab_h = r.vocab_xxh64;
	} else if (r.vocab_n != *vocab_n || r.vocab_xxh64 != *vocab_h) {
		die("%s: made with another vocab than the training stream; "
		    "numericalize both with the same vocab", path);
	}
	while (ids_next(&r, &d)) {
		if (d.n == 0)
			die("%s: document %llu has no tokens (not even xxbos); "
			    "remove it", path, (unsigned long long)d.index + 1);
		if (train && valid) {
			if (tag_in(d.split, o->ttags))
				docs_add(train, &d);
			else if (tag_in(d.split, o->vtags))
				docs_add(valid, &d);
		} else {
			docs_add(train ? train : valid, &d);
		}
	}
	ids_close(&r);
	close_in(f, path);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fastai's CategoryBlock: the sorted unique labels of the training set */
static char **
labels_of(const struct docs *d, int *n)
{
	char **l = xmalloc((d->n ? d->n : 1) * sizeof *l);
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++)
		l[k++] = d->label[i];
	qsort(l, k, sizeof *l, cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || strcmp(l[i], l[u - 1]))
			l[u++] = l[i];
	for (size_t i = 0; i < u; i++)
		l[i] = xstrdup(l[i]);
	*n = (int)u;
	return l;
}

static void
map_labels(struct docs *d, char **labels, int nc, const char *what)
{
	d->y = xmalloc((d->n ? d->n : 1) * sizeof *d->y);
	for (size_t i = 0; i < d->n; i++) {
		int k = -1;
		for (int j = 0; j < nc && k < 0; j++)
			if (!strcmp(d->label[i], labels[j]))
				k = j;
		if (k < 0)
			die("%s: label '%s' is not one of the model's %d classes",
			    what, d->label[i], nc);
		d->y[i] = (uint32_t)k;
	}
}

/* ---- checkpoint -------------------------------------------------------- */

static const char what[] = "a clastrain checkpoint";

static char *
make_meta(const struct opts *o, const struct clas *c, char **labels,
          const struct trainrun *r, uint32_t vocab_n, uint64_t vocab_h,
          const char *vocab_path)
{
	char *m = NULL;
	params_add(&m, "kind", "clas");
	params_add(&m, "tool", "clastrain");
	params_add(&m, "vocab_n", "%u", vocab_n);
	params_add(&m, "vocab_xxh64", "%016llx", (unsigned long long)vocab_h);
	if (vocab_path)
		params_add(&m, "vocab_path", "%s", vocab_path);
	if (o->spm)
		sp_meta_add(&m, o->spm, o->sp_file);
	params_add(&m, "emb_sz", "%d", c->enc.cfg.emb);
	params_add(&m, "n_hid", "%d", c->enc.cfg.hidden);
	params_add(&m, "n_layers", "%d", c->enc.cfg.layers);
	params_add(&m, "drop_mult", "%.9g", o->drop_mult);
	params_add(&m, "ps", "%.9g", c->cfg.p1);
	params_add(&m, "bptt", "%d", c->cfg.bptt);
	params_add(&m, "max_len", "%d", c->cfg.max_len);
	params_add(&m, "lin_ftrs", "%d", c->cfg.nhid);
	params_add(&m, "nclass", "%d", c->cfg.nclass);
	for (int k = 0; k < c->cfg.nclass; k++) {
		char key[32];
		snprintf(key, sizeof key, "label.%d", k);
		params_add(&m, key, "%s", labels[k]);
	}
	params_add(&m, "seed", "%llu", (unsigned long long)o->seed);
	params_add(&m, "bs", "%d", o->bs);
	fit_meta_add(&m, &o->fit);
	params_add(&m, "train_tags", "%s", o->ttags);
	params_add(&m, "valid_tags", "%s", o->vtags);
	trainrun_meta_add(&m, r);
	return m;
}

static int
save_ckpt(const char *path, struct clas *c, struct optim *opt,
          const char *meta)
{
	struct pth_tensor t[AWD_MAX_TENSORS + 16];
	char names[AWD_MAX_TENSORS + 16][64];
	int n = clas_state_dict(c, t, names, AWD_MAX_TENSORS + 16);
	return trainrun_save(path, t, n, opt, meta);
}

/* The settings the command line accepts; a checkpoint's must pass too. */
static int
opts_valid(const struct opts *o)
{
	return fit_opts_valid(&o->fit) && o->drop_mult >= 0 &&
	       isfinite(o->drop_mult) && o->ps >= 0 && o->ps < 1;
}

/* --resume: every setting of the interrupted run comes from its file */
static void
resume_opts(struct opts *o, const struct pth *p, struct trainrun *r)
{
	const char *v;
	if (!(v = pth_meta(p, "kind")) || strcmp(v, "clas"))
		die("%s: not %s", p->path, what);
	trainrun_refuse_done(p, what);
	o->seed = pth_meta_u64(p, "seed", what, 10);
	o->bs = (int)pth_meta_int(p, "bs", what, 2, 1 << 16);
	fit_meta_read(&o->fit, p, what);
	o->drop_mult = trainrun_meta_num(p, "drop_mult", what);
	if (!opts_valid(o))
		die("%s: its metadata holds settings the command line refuses "
		    "(drop_mult=%g; --wd, --clip, --drop-mult, --alpha, --beta "
		    ">= 0, 0 <= --ps < 1, 0 <= --pct-start < 1, --div, "
		    "--div-final > 0); the file is damaged or was not made by "
		    "these tools", p->path, o->drop_mult);
	static char tt[1024], vt[1024];
	snprintf(tt, sizeof tt, "%s", pth_meta_need(p, "train_tags", what));
	snprintf(vt, sizeof vt, "%s", pth_meta_need(p, "valid_tags", what));
	o->ttags = tt, o->vtags = vt;
	trainrun_meta_read(r, p, what);
	o->freeze_to = (int)pth_meta_int(p, "freeze_to", what, -5, 4);
	o->freeze_given = 1;
	o->epochs = r->n_epoch;
}

/* The sizes an encoder's metadata records must be its tensors' sizes. */
static void
check_sizes(const struct pth *p, const struct awd_config *ac)
{
	static const char *key[] = { "vocab_n", "emb_sz", "n_hid", "n_layers" };
	int have[] = { ac->vocab, ac->emb, ac->hidden, ac->layers };
	const char *v;
	for (int i = 0; i < 4; i++)
		if ((v = pth_meta(p, key[i])) &&
		    pth_meta_int(p, key[i], "an encoder", 0, INT_MAX) != have[i])
			die("%s: its metadata says %s=%s but its tensors give %d: "
			    "built with other sizes or damaged; re-run encsave on "
			    "the language model", p->path, key[i], v, have[i]);
}

/* ---- main -------------------------------------------------------------- */

enum {
	O_FREEZE = 256, O_UNFREEZE, O_WD, O_MOMS, O_PCT, O_DIV, O_DIVF, O_CLIP,
	O_CLIPG, O_DROP, O_PS, O_ALPHA, O_BETA, O_TTAGS, O_VTAGS, O_LOG, O_RESUME,
	O_SP, O_PREC
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "encoder", required_argument, NULL, 'e' },
		{ "from", required_argument, NULL, 'c' },
		{ "resume", required_argument, NULL, O_RESUME },
		{ "freeze-to", required_argument, NULL, O_FREEZE },
		{ "unfreeze", no_argument, NULL, O_UNFREEZE },
		{ "wd", required_argument, NULL, O_WD },
		{ "moms", required_argument, NULL, O_MOMS },
		{ "pct-start", required_argument, NULL, O_PCT },
		{ "div", required_argument, NULL, O_DIV },
		{ "div-final", required_argument, NULL, O_DIVF },
		{ "clip", required_argument, NULL, O_CLIP },
		{ "clip-global", no_argument, NULL, O_CLIPG },
		{ "drop-mult", required_argument, NULL, O_DROP },
		{ "ps", required_argument, NULL, O_PS },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "beta", required_argument, NULL, O_BETA },
		{ "train-tags", required_argument, NULL, O_TTAGS },
		{ "valid-tags", required_argument, NULL, O_VTAGS },
		{ "log", required_argument, NULL, O_LOG },
		{ "sp", required_argument, NULL, O_SP },
		{ "seed", required_argument, NULL, 's' },
		{ "precision", required_argument, NULL, O_PREC },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.epochs = 1, .bs = 64, .freeze_to = -1, .fit = FIT_OPTS_DEFAULT,
		.drop_mult = 0.5, .ps = CLAS_P1,
		.ttags = "train", .vtags = "valid,test",
		.seed = 42
	};
	int c, lr_given = 0, drop_given = 0, ps_given = 0, bf16 = 0;

	argv0 = "clastrain";
	blas_setup(argv);
	if (argc > 1 && !strcmp(argv[1], "--help"))
		usage(0);
	while ((c = getopt_long(argc, argv, "hqe:c:o:v:n:l:b:s:j:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': o.quiet = 1; break;
		case 'e': o.enc = optarg; break;
		case 'c': o.from = optarg; break;
		case O_RESUME: o.resume = optarg; break;
		case 'o': o.out = optarg; break;
		case 'v': o.vocab = optarg; break;
		case 'n': o.epochs = (int)parse_long(optarg, "-n", 1, 1 << 20); break;
		case 'l':
			parse_lr(optarg, "-l", &o.fit.lr_lo, &o.fit.lr_hi);
			lr_given = 1;
			break;
		case 'b': o.bs = (int)parse_long(optarg, "-b", 2, 1 << 16); break;
		case 's':
			o.seed = (uint64_t)parse_long(optarg, "-s", 0, LONG_MAX);
			break;
		case 'j': o.threads = (int)parse_long(optarg, "-j", 1, 1024); break;
		case O_FREEZE:
			o.freeze_to = (int)parse_long(optarg, "--freeze-to", -5, 4);
			o.freeze_given = 1;
			break;
		case O_UNFREEZE: o.freeze_to = 0, o.freeze_given = 1; break;
		case O_WD: o.fit.wd = parse_double(optarg, "--wd"); break;
		case O_MOMS: parse_moms(optarg, "--moms", o.fit.moms); break;
		case O_PCT: o.fit.pct_start = parse_double(optarg, "--pct-start"); break;
		case O_DIV: o.fit.div = parse_double(optarg, "--div"); break;
		case O_DIVF: o.fit.div_final = parse_double(optarg, "--div-final"); break;
		case O_CLIP: o.fit.clip = parse_double(optarg, "--clip"); break;
		case O_CLIPG: o.fit.clip_global = 1; break;
		case O_DROP:
			o.drop_mult = parse_double(optarg, "--drop-mult");
			drop_given = 1;
			break;
		case O_PS:
			o.ps = parse_double(optarg, "--ps");
			ps_given = 1;
			break;
		case O_ALPHA: o.fit.alpha = parse_double(optarg, "--alpha"); break;
		case O_BETA: o.fit.beta = parse_double(optarg, "--beta"); break;
		case O_TTAGS: o.ttags = optarg; break;
		case O_VTAGS: o.vtags = optarg; break;
		case O_LOG: o.log = optarg; break;
		case O_SP: o.sp = optarg; break;
		case O_PREC:
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
				usage_error("--precision: want fp32 or bf16");
			bf16 = !strcmp(optarg, "bf16");
			break;
		default: usage(2);
		}
	argc -= optind, argv += optind;
	if (!!o.enc + !!o.from + !!o.resume != 1)
		usage_error("give exactly one of -e enc.pth, -c clas.pth, "
		            "--resume ckpt.pth");
	if (!o.out)
		usage_error("no output: -o out.pth");
	if (!strcmp(o.out, "-"))
		usage_error("-o -: the checkpoint would mix with the table on "
		            "stdout; give a file");
	if (argc < 1 || argc > 2)
		usage_error("want train.ids [valid.ids]");
	if (!opts_valid(&o))
		usage_error("--wd, --clip, --drop-mult, --alpha, --beta >= 0; "
		            "0 <= --ps < 1; "
		            "0 <= --pct-start < 1; --div, --div-final > 0");
	if (o.resume && (lr_given || o.freeze_given || drop_given || ps_given))
		usage_error("--resume takes its settings from the checkpoint");
	if (bf16 && !gemm_bf16_ok())
		die("--precision bf16: this CPU has no AVX512-BF16%s",
		    getenv("ULMFIT_NO_BF16") ? " (ULMFIT_NO_BF16 is set)" : "");
	kern_set_bf16(bf16);
	if (o.threads)
		kern_set_threads(o.threads);

	/* the starting checkpoint */
	struct trainrun run = { .freeze_to = o.freeze_to, .n_epoch = o.epochs };
	const char *src = o.enc ? o.enc : o.from ? o.from : o.resume;
	struct pth *p = pth_load(src);
	run.parent = pth_xxh64(p);
	if (o.resume)
		resume_opts(&o, p, &run);

	/* data */
	struct docs train = {0}, valid = {0};
	uint32_t vocab_n = 0;
	uint64_t vocab_h = 0;
	if (argc == 2) {
		read_stream(argv[0], &train, NULL, &o, &vocab_n, &vocab_h);
		read_stream(argv[1], NULL, &valid, &o, &vocab_n, &vocab_h);
	} else {
		read_stream(argv[0], &train, &valid, &o, &vocab_n, &vocab_h);
	}
	if (train.n < (size_t)o.bs)
		die("%s: %zu training documents, fewer than one batch of %d; "
		    "lower -b or check --train-tags", argv[0], train.n, o.bs);
	if (!valid.n)
		die("%s: no validation documents; give valid.ids or the split "
		    "tags (--valid-tags)", argv[argc - 1]);
	struct vocab *vocab = NULL;
	char *vocab_abs = NULL;
	if (o.vocab) {
		vocab = vocab_load(o.vocab);
		if (vocab->n != vocab_n || vocab->xxh64 != vocab_h)
			die("%s: not the vocab %s was made with; use that one",
			    o.vocab, argv[0]);
		vocab_abs = realpath(o.vocab, NULL);
	} else if (!o.enc && pth_meta(p, "vocab_path")) {
		vocab_abs = xstrdup(pth_meta(p, "vocab_path"));
	}
	o.spm = sp_for_pth(p, o.sp, 0, &o.sp_file);

	/* the model */
	struct clas cl;
	char **labels;
	int nc;
	struct rng init;
	rng_seed(&init, o.seed, 0);
	if (o.enc) {
		struct awd_config ac;
		struct clas_config cc;
		pth_clean_raw_keys(p);
		const char *pre = clas_encoder_prefix(p);
		if (!pre || !clas_encoder_sizes(p, pre, &ac))
			die("%s: no AWD-LSTM encoder in it (want encoder.weight "
			    "and rnns.N.*: a file from encsave or fastai's "
			    "save_encoder)", o.enc);
		check_sizes(p, &ac);
		if (!pth_check_vocab(p, vocab_n, vocab_h, argv[0]) &&
		    (uint32_t)ac.vocab != vocab_n)
			die("%s: its embedding has %d rows, but %s was made with a "
			    "vocab of %u tokens; use the vocab the encoder's "
			    "language model was trained with", o.enc, ac.vocab,
			    argv[0], vocab_n);
		int V = ac.vocab, E = ac.emb, H = ac.hidden, L = ac.layers;
		awd_config_clas(&ac, V, (float)o.drop_mult);
		ac.emb = E, ac.hidden = H, ac.layers = L;
		labels = labels_of(&train, &nc);
		if (nc < 2)
			die("%s: the training documents have %d label%s; a "
			    "classifier needs 2 or more", argv[0], nc,
			    nc == 1 ? "" : "s");
		clas_config_default(&cc, &ac, nc, (float)o.fit.alpha,
		                    (float)o.fit.beta);
		cc.p1 = (float)o.ps;
		clas_create(&cl, &ac, &cc, o.bs);
		clas_load_encoder(&cl, p, pre);
		clas_init_head(&cl, &init);
	} else {
		clas_open(&cl, p, o.bs, (float)o.fit.alpha, (float)o.fit.beta,
		          &labels);
		nc = cl.cfg.nclass;
		if (!pth_meta(p, "label.0")) {
			/* a fastai file keeps its labels in the DataLoaders, not
			 * the weights: take the stream's, in CategoryBlock order */
			int n2;
			char **l2 = labels_of(&train, &n2);
			if (n2 == nc) {
				clas_labels_free(labels, nc);
				labels = l2;
			} else {
				clas_labels_free(l2, n2);
			}
		}
		if (!pth_check_vocab(p, vocab_n, vocab_h, argv[0]) &&
		    (uint32_t)cl.enc.cfg.vocab != vocab_n)
			die("%s: its embedding has %d rows, but %s was made with a "
			    "vocab of %u tokens", src, cl.enc.cfg.vocab, argv[0],
			    vocab_n);
		/* the checkpoint's dropouts, unless this stage sets its own
		 * (clas_open took them from the metadata) */
		struct awd_config *ac = &cl.enc.cfg;
		if (o.resume || drop_given) {
			int V = ac->vocab, E = ac->emb, H = ac->hidden;
			int L = ac->layers;
			awd_config_clas(ac, V, (float)o.drop_mult);
			ac->emb = E, ac->hidden = H, ac->layers = L;
			if (cl.cfg.drop0)
				cl.cfg.p0 = ac->output_p;
		} else {
			o.drop_mult = ac->drop_mult;
		}
		if (ps_given && cl.cfg.drop1)
			cl.cfg.p1 = (float)o.ps;
		else if (ps_given && o.ps > 0)
			die("%s: its head has no Dropout before the last Linear "
			    "(made with ps 0); --ps cannot add one", src);
		o.ps = cl.cfg.p1;
	}
	map_labels(&train, labels, nc, argv[0]);
	map_labels(&valid, labels, nc, argv[argc - 1]);

	/* the optimizer */
	struct optim opt;
	int ng = cl.enc.cfg.layers + 2;
	optim_init(&opt, ng);
	clas_register(&cl, &opt);
	if (o.enc || o.freeze_given) {
		opt_freeze_to(&opt, o.freeze_to);     /* clears the state */
		run.freeze_to = o.freeze_to;
	} else {
		/* continue the checkpoint's stage: its freeze level and its
		 * Adam state, as calling fit_one_cycle again would */
		run.freeze_to = pth_meta(p, "freeze_to") ? (int)pth_meta_int(p,
		                "freeze_to", "a classifier", -5, 4) : -1;
		opt_freeze_to(&opt, run.freeze_to);
	}
	if (o.resume || (o.from && !o.freeze_given && p->opt))
		opt_restore(&opt, p->opt, src);
	clas_apply_freeze(&cl, &opt);
	opt_set_wd(&opt, o.fit.wd);
	struct onecycle cyc;
	int64_t n_iter = (int64_t)(train.n / o.bs);
	fit_cycle_init(&cyc, &o.fit, run.n_epoch, n_iter, ng);
	if (!o.resume)
		trainrun_start(&run);
	pth_free(p);

	/* go */
	/* tests interrupt at an exact step through the real signal path */
	trainrun_catch_stop("CLASTRAIN_STOP_AT");
	struct recorder rec;
	recorder_init(&rec, (const char *[]){ "accuracy" }, 1);
	if (o.log)
		recorder_open_log(&rec, o.log, !!o.resume);
	uint32_t *order = xmalloc(train.n * sizeof *order);
	uint32_t *tmp = xmalloc(2 * train.n * sizeof *tmp);
	uint32_t *yb = xmalloc(o.bs * sizeof *yb);
	uint32_t *x = NULL;
	size_t xcap = 0;
	struct clas_scratch vs = {0};
	int ret = 0;

	recorder_header(&rec, stdout);
	for (; run.epoch < run.n_epoch; run.epoch++, run.batch = 0) {
		double t0 = now_sec();
		struct rng shuf;
		struct progress pr;
		rng_seed(&shuf, o.seed, 1 + (uint64_t)run.epoch);
		size_t use = sorted_order(train.len, train.n, o.bs, 1, &shuf, order,
		                          tmp);
		int64_t nb = (int64_t)(use / o.bs);
		onecycle_seek(&cyc, run.epoch, run.batch);
		progress_init(&pr, "train", (uint64_t)nb, o.quiet);
		for (; run.batch < nb; run.batch++) {
			if (trainrun_stopping(run.step))
				break;
			const uint32_t *idx = order + run.batch * o.bs;
			struct rng drop;
			trainrun_dropout_rng(&drop, o.seed, run.step);
			onecycle_apply(&cyc, &opt);
			clas_forward_docs(&cl, (const uint32_t *const *)train.ids,
			                  train.len, idx, o.bs, &x, &xcap, 1, &drop);
			for (int b = 0; b < o.bs; b++)
				yb[b] = train.y[idx[b]];
			double loss = clas_loss(&cl, yb, NULL, 1, &drop);
			if (!isfinite(loss))
				die("training diverged (loss %g at epoch %d, batch "
				    "%lld); lower the learning rate", loss, run.epoch,
				    (long long)run.batch);
			smooth_add(&run.sm, loss);
			fit_step(&o.fit, &opt, &cyc);
			run.step++;
			progress_set(&pr, (uint64_t)run.batch + 1);
		}
		progress_end(&pr);
		if (trainrun_stop) {
			char *meta = make_meta(&o, &cl, labels, &run, vocab_n, vocab_h,
			                       vocab_abs);
			ret = save_ckpt(o.out, &cl, &opt, meta);
			free(meta);
			if (!ret)
				warn("interrupted at epoch %d, batch %lld; saved %s; "
				     "continue with: clastrain --resume %s -o %s ...",
				     run.epoch, (long long)run.batch, o.out, o.out,
				     o.out);
			ret = 128 + (int)trainrun_stop;
			break;
		}
		long hits = 0;
		double vloss = clas_predict(&cl, (const uint32_t *const *)valid.ids,
		                            valid.len, valid.y, valid.n, NULL, NULL,
		                            &hits, &vs) / valid.n;
		double acc = (double)hits / valid.n, secs = now_sec() - t0;
		recorder_epoch(&rec, stdout, run.epoch, trainrun_train_loss(&run),
		               vloss, &acc, secs);
		struct trainrun at = trainrun_next_epoch(&run);
		char *meta = make_meta(&o, &cl, labels, &at, vocab_n, vocab_h,
		                       vocab_abs);
		if (save_ckpt(o.out, &cl, &opt, meta))
			ret = 1;
		free(meta);
		if (ret)
			break;
	}
	recorder_close(&rec);
	free(order), free(tmp), free(yb), free(x);
	clas_scratch_free(&vs);
	optim_free(&opt);
	clas_labels_free(labels, nc);
	clas_free(&cl);
	docs_free(&train), docs_free(&valid);
	if (vocab)
		vocab_free(vocab);
	free(vocab_abs);
	sp_free(o.spm);
	free(o.sp_file);
	return ret;
}
