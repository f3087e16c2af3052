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
#include "learn/ckpt.h"
#include "learn/clasio.h"
#include "learn/dist.h"
#include "learn/fit.h"
#include "data/clsbatch.h"
#include "data/ids.h"
#include "kernels.h"
#include "learn/optim.h"
#include "torch/pth.h"
#include "learn/recorder.h"
#include "core/stream.h"
#include "learn/trainrun.h"
#include "learn/device.h"
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
"                 [--precision fp32|bf16] [--device d] train.ids\n"
"                 [valid.ids]\n"
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
"  --device d    cpu (default), cuda or check (a test device: see\n"
"                ULMFIT_DEVICE in the manual)\n"
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

/* ---- the learner ------------------------------------------------------ */

static const char what[] = "a clastrain checkpoint";

struct clasl {
	struct learner l;
	const struct opts *o;
	struct clas cl;
	struct optim opt;
	struct docs train, valid;
	uint32_t *order, *tmp, *yb, *x;
	size_t xcap;
	/* data parallel (dist.h): this rank's rows of a batch, and its
	 * share of the validation set */
	uint32_t *lidx, *lstart, *llen;
	struct docs vmine;
	struct clas_scratch vs;
	struct ckpt_meta m;     /* what every save records; run set per save */
};

/* fastai's SortedDL for training: shuffled chunks sorted by length */
static int64_t
cl_epoch_begin(struct learner *l, const struct trainrun *r)
{
	struct clasl *a = l->self;
	struct rng shuf;
	rng_seed(&shuf, a->o->seed, 1 + (uint64_t)r->epoch);
	size_t use = sorted_order(a->train.len, a->train.n, a->o->bs, 1, &shuf,
	                          a->order, a->tmp);
	return (int64_t)(use / a->o->bs);
}

/* Under mpirun: rows r, r+N, ... of the global batch idx (sorted by
 * length, so these are too), padded by Pad_Chunk to the GLOBAL batch's
 * longest length M, so that every row meets the chunk boundaries, the
 * kept window and the AR/TAR normalisation of the single process; BN's
 * statistics are summed over the ranks (clas_sync).  Returns the rows. */
static int
rank_forward(struct clasl *a, const uint32_t *idx, struct rng *drop)
{
	struct clas *c = &a->cl;
	const uint32_t *len = a->train.len;
	int bs = a->o->bs, N = dist_size(), nb = dist_rows(bs);
	size_t M = len[idx[0]], bptt = c->cfg.bptt;
	if ((size_t)nb * M > a->xcap) {
		a->xcap = (size_t)nb * M;
		a->x = xrealloc(a->x, a->xcap * sizeof *a->x);
	}
	for (int k = 0; k < nb; k++) {
		uint32_t d = idx[dist_rank() + k * N];
		a->lidx[k] = d;
		pad_chunk(a->x + (size_t)k * M, M, a->train.ids[d], len[d], bptt,
		          TK_PAD, 1);
		a->llen[k] = len[d];
		a->lstart[k] = (uint32_t)((M - len[d]) / bptt * bptt);
	}
	c->sync.rows = bs;
	clas_forward(c, a->x, nb, (int)M, a->lstart, a->llen, 1, drop);
	return nb;
}

static double
cl_train_batch(struct learner *l, int64_t i, struct rng *drop, double *smooth)
{
	struct clasl *a = l->self;
	int bs = a->o->bs;
	const uint32_t *idx = a->order + i * bs;
	if (dist_size() > 1) {
		int nb = rank_forward(a, idx, drop);
		for (int b = 0; b < nb; b++)
			a->yb[b] = a->train.y[a->lidx[b]];
		l->share = (double)nb / bs;
		/* each group's gradients start their reduction as backward
		 * finishes them (grad_ready); fit's dist_grad_reduce waits */
		dist_overlap_begin(&a->opt, l->share);
		return *smooth = clas_loss(&a->cl, a->yb, NULL, 1, drop);
	}
	clas_forward_docs(&a->cl, (const uint32_t *const *)a->train.ids,
	                  a->train.len, idx, bs, &a->x, &a->xcap, 1, drop);
	for (int b = 0; b < bs; b++)
		a->yb[b] = a->train.y[idx[b]];
	return *smooth = clas_loss(&a->cl, a->yb, NULL, 1, drop);
}

/* Under mpirun each rank evaluates its share of the validation batches
 * (vmine) and the sums of loss and hits go over the ranks. */
static int
cl_validate(struct learner *l, double *loss, double *metrics)
{
	struct clasl *a = l->self;
	const struct docs *v = dist_size() > 1 ? &a->vmine : &a->valid;
	long hits = 0;
	double tot[2] = { 0, 0 };
	if (v->n)
		tot[0] = clas_predict(&a->cl, (const uint32_t *const *)v->ids,
		                      v->len, v->y, v->n, NULL, NULL, &hits,
		                      &a->vs);
	tot[1] = (double)hits;
	dist_sum(tot, 2);
	*loss = tot[0] / a->valid.n;
	metrics[0] = tot[1] / a->valid.n;
	return 0;
}

/* This rank's validation documents: batches j = r, r+N, ... of the single
 * process's validation order (all sorted by length, batches of bs), so
 * each rank runs exactly the single process's batches (clas_predict sorts
 * them again, stably: the same order) */
static void
valid_share(struct clasl *a)
{
	const struct docs *v = &a->valid;
	struct docs *m = &a->vmine;
	size_t bs = a->o->bs, N = dist_size(), r = dist_rank(), k = 0;
	uint32_t *order = xmalloc(v->n * sizeof *order);
	uint32_t *tmp = xmalloc(2 * v->n * sizeof *tmp);
	sorted_order(v->len, v->n, bs, 0, NULL, order, tmp);
	m->ids = xmalloc(v->n * sizeof *m->ids);
	m->len = xmalloc(v->n * sizeof *m->len);
	m->y = xmalloc(v->n * sizeof *m->y);
	for (size_t i = 0; i < v->n; i++)
		if (i / bs % N == r) {
			m->ids[k] = v->ids[order[i]];
			m->len[k] = v->len[order[i]];
			m->y[k++] = v->y[order[i]];
		}
	m->n = k;
	free(order), free(tmp);
}

static int
cl_save(struct learner *l, const struct trainrun *r)
{
	struct clasl *a = l->self;
	struct ckpt_table t;
	ckpt_clas_table(&a->cl, &t);
	a->m.run = *r;
	return ckpt_save(a->o->out, &t, &a->opt, &a->m, NULL, 0);
}

/* clas.h's grad_ready: the embedding is group 0, rnns[l] group l + 1,
 * the head (layer L) group L + 1 (clas_register) */
static void
grad_ready(void *ctx, int layer)
{
	(void)ctx;
	dist_grad_ready(layer + 1);
}

/* clas_sync's sum: over the ranks */
static void
dist_hook(void *ctx, double *v, int n)
{
	(void)ctx;
	dist_sum(v, n);
}

/* The settings the command line accepts */
static int
opts_valid(const struct opts *o)
{
	return fit_opts_valid(&o->fit) && o->drop_mult >= 0 &&
	       isfinite(o->drop_mult) && o->ps >= 0 && o->ps < 1;
}

/* --resume: every setting of the interrupted run comes from its file */
static void
resume_opts(struct opts *o, const struct ckpt_meta *m, struct trainrun *r)
{
	if (m->kind != CKPT_CLAS)
		die("%s: not %s", m->path, what);
	ckpt_meta_need(m, CK_RUN, what);
	if (m->run.done)
		die("%s: its run finished; start the next stage with -c %s",
		    m->path, m->path);
	ckpt_meta_need(m, CK_SEED | CK_FIT | CK_DROP | CK_TAGS, what);
	o->seed = m->seed;
	o->bs = m->bs;
	o->fit = m->fit;
	o->drop_mult = m->drop_mult;
	o->ttags = m->train_tags, o->vtags = m->valid_tags;
	*r = m->run;
	o->freeze_to = r->freeze_to;
	o->freeze_given = 1;
	o->epochs = r->n_epoch;
}

/* The sizes an encoder's metadata records must be its tensors' sizes. */
static void
check_sizes(const struct ckpt_meta *m, const struct awd_config *ac)
{
	static const char *key[] = { "vocab_n", "emb_sz", "n_hid", "n_layers" };
	int64_t have[] = { ac->vocab, ac->emb, ac->hidden, ac->layers };
	int64_t said[] = { m->vocab_n, m->emb, m->hid, m->layers };
	for (int i = 0; i < 4; i++)
		if (ckpt_meta_has(m, key[i]) && said[i] != have[i])
			die("%s: its metadata says %s=%lld but its tensors give "
			    "%lld: built with other sizes or damaged; re-run "
			    "encsave on the language model", m->path, key[i],
			    (long long)said[i], (long long)have[i]);
}

/* ---- main -------------------------------------------------------------- */

enum {
	O_FREEZE = 256, O_UNFREEZE, O_WD, O_MOMS, O_PCT, O_DIV, O_DIVF, O_CLIP,
	O_CLIPG, O_DROP, O_PS, O_ALPHA, O_BETA, O_TTAGS, O_VTAGS, O_LOG, O_RESUME,
	O_SP, O_PREC, O_DEV
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
		{ "device", required_argument, NULL, O_DEV },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.epochs = 1, .bs = 64, .freeze_to = -1, .fit = FIT_OPTS_DEFAULT,
		.drop_mult = 0.5, .ps = CLAS_P1,
		.ttags = "train", .vtags = "valid,test",
		.seed = 42
	};
	int c, lr_given = 0, drop_given = 0, ps_given = 0, bf16 = 0;
	const char *device = NULL;

	argv0 = "clastrain";
	/* under mpirun: data parallel (dist.h, rank_forward) */
	dist_init(&argc, &argv);
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
		case O_DEV: device = optarg; break;
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
	kern_set_threads(o.threads);    /* 0: every online CPU */
	device_use(device, o.threads);

	/* the starting checkpoint */
	struct clasl A = { .o = &o };
	struct trainrun run = { .freeze_to = o.freeze_to, .n_epoch = o.epochs };
	const char *src = o.enc ? o.enc : o.from ? o.from : o.resume;
	struct pth *p = pth_load(src);
	struct ckpt_meta pm;
	ckpt_meta_read(&pm, p);
	run.parent = pth_xxh64(p);
	if (o.resume)
		resume_opts(&o, &pm, &run);

	/* data */
	struct docs *train = &A.train, *valid = &A.valid;
	uint32_t vocab_n = 0;
	uint64_t vocab_h = 0;
	if (argc == 2) {
		read_stream(argv[0], train, NULL, &o, &vocab_n, &vocab_h);
		read_stream(argv[1], NULL, valid, &o, &vocab_n, &vocab_h);
	} else {
		read_stream(argv[0], train, valid, &o, &vocab_n, &vocab_h);
	}
	if (dist_size() > o.bs)
		die("-b %d: fewer rows in a batch than the %d processes; raise "
		    "-b or lower mpirun -np", o.bs, dist_size());
	if (train->n < (size_t)o.bs)
		die("%s: %zu training documents, fewer than one batch of %d; "
		    "lower -b or check --train-tags", argv[0], train->n, o.bs);
	if (!valid->n)
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
	} else if (!o.enc && pm.vocab_path) {
		vocab_abs = xstrdup(pm.vocab_path);
	}
	o.spm = sp_for_pth(p, o.sp, 0, &o.sp_file);

	/* the model */
	struct clas *cl = &A.cl;
	char **labels;
	int nc;
	struct rng init;
	rng_seed(&init, o.seed, 0);
	if (o.enc) {
		struct awd_config ac;
		struct clas_config cc;
		pth_clean_raw_keys(p);
		const char *pre = pth_encoder_prefix(p);
		if (!pre || !clas_encoder_sizes(p, pre, &ac))
			die("%s: no AWD-LSTM encoder in it (want encoder.weight "
			    "and rnns.N.*: a file from encsave or fastai's "
			    "save_encoder)", o.enc);
		check_sizes(&pm, &ac);
		ckpt_check_vocab(p, ac.vocab, vocab_n, vocab_h, argv[0],
		                 "use the vocab the encoder's language model "
		                 "was trained with");
		int V = ac.vocab, E = ac.emb, H = ac.hidden, L = ac.layers;
		awd_config_clas(&ac, V, (float)o.drop_mult);
		ac.emb = E, ac.hidden = H, ac.layers = L;
		labels = labels_of(train, &nc);
		if (nc < 2)
			die("%s: the training documents have %d label%s; a "
			    "classifier needs 2 or more", argv[0], nc,
			    nc == 1 ? "" : "s");
		clas_config_default(&cc, &ac, nc, (float)o.fit.alpha,
		                    (float)o.fit.beta);
		cc.p1 = (float)o.ps;
		clas_create(cl, &ac, &cc, o.bs);
		clas_load_encoder(cl, p, pre);
		clas_init_head(cl, &init);
	} else {
		clas_open(cl, p, o.bs, (float)o.fit.alpha, (float)o.fit.beta,
		          &labels);
		nc = cl->cfg.nclass;
		if (!pm.nlabels) {
			/* a fastai file keeps its labels in the DataLoaders, not
			 * the weights: take the stream's, in CategoryBlock order */
			int n2;
			char **l2 = labels_of(train, &n2);
			if (n2 == nc) {
				clas_labels_free(labels, nc);
				labels = l2;
			} else {
				clas_labels_free(l2, n2);
			}
		}
		ckpt_check_vocab(p, cl->enc.cfg.vocab, vocab_n, vocab_h, argv[0],
		                 NULL);
		/* the checkpoint's dropouts, unless this stage sets its own
		 * (clas_open took them from the metadata) */
		struct awd_config *ac = &cl->enc.cfg;
		if (o.resume || drop_given) {
			int V = ac->vocab, E = ac->emb, H = ac->hidden;
			int L = ac->layers;
			awd_config_clas(ac, V, (float)o.drop_mult);
			ac->emb = E, ac->hidden = H, ac->layers = L;
			if (cl->cfg.drop0)
				cl->cfg.p0 = ac->output_p;
		} else {
			o.drop_mult = ac->drop_mult;
		}
		if (ps_given && cl->cfg.drop1)
			cl->cfg.p1 = (float)o.ps;
		else if (ps_given && o.ps > 0)
			die("%s: its head has no Dropout before the last Linear "
			    "(made with ps 0); --ps cannot add one", src);
		o.ps = cl->cfg.p1;
	}
	map_labels(train, labels, nc, argv[0]);
	map_labels(valid, labels, nc, argv[argc - 1]);

	/* the optimizer */
	struct optim *opt = &A.opt;
	int ng = cl->enc.cfg.layers + 2;
	optim_init(opt, ng);
	clas_register(cl, opt);
	if (o.enc || o.freeze_given)
		run.freeze_to = o.freeze_to;
	else
		/* continue the checkpoint's stage: its freeze level and its
		 * Adam state, as calling fit_one_cycle again would */
		run.freeze_to = ckpt_meta_has(&pm, "freeze_to") ?
		                pm.run.freeze_to : -1;
	opt_freeze_to(opt, run.freeze_to);     /* clears the state */
	if (o.resume || (o.from && !o.freeze_given && p->opt))
		opt_restore(opt, p->opt, src);
	clas_apply_freeze(cl, opt);
	opt_set_wd(opt, o.fit.wd);
	struct onecycle cyc;
	int64_t n_iter = (int64_t)(train->n / o.bs);
	fit_cycle_init(&cyc, &o.fit, run.n_epoch, n_iter, ng);
	if (!o.resume)
		trainrun_start(&run);

	/* what every checkpoint records */
	struct ckpt_meta *m = &A.m;
	m->kind = CKPT_CLAS;
	snprintf(m->tool, sizeof m->tool, "clastrain");
	m->vocab_n = vocab_n, m->vocab_xxh64 = vocab_h;
	ckpt_set_str(&m->vocab_path, vocab_abs);
	if (o.spm)
		ckpt_set_sp(m, o.spm, o.sp_file);
	m->emb = cl->enc.cfg.emb, m->hid = cl->enc.cfg.hidden;
	m->layers = cl->enc.cfg.layers;
	m->drop_mult = o.drop_mult;
	m->ps = cl->cfg.p1;
	m->bptt = cl->cfg.bptt, m->max_len = cl->cfg.max_len;
	m->lin_ftrs = cl->cfg.nhid, m->nclass = cl->cfg.nclass;
	m->labels = labels, m->nlabels = nc;
	m->seed = o.seed, m->bs = o.bs;
	m->fit = o.fit;
	ckpt_set_str(&m->train_tags, o.ttags);
	ckpt_set_str(&m->valid_tags, o.vtags);
	o.ttags = m->train_tags, o.vtags = m->valid_tags;
	pth_free(p);
	ckpt_meta_free(&pm);

	/* go */
	/* tests interrupt at an exact step through the real signal path */
	trainrun_catch_stop("CLASTRAIN_STOP_AT");
	struct recorder rec;
	recorder_init(&rec, (const char *[]){ "accuracy" }, 1);
	if (o.log && dist_main())
		recorder_open_log(&rec, o.log, !!o.resume);
	if (dist_size() > 1) {
		/* the sums of BatchNorm's statistics go over the ranks */
		cl->sync.sum = dist_hook;
		/* this rank's rows' masks of the whole batch (rank_forward) */
		cl->enc.row0 = dist_rank(), cl->enc.row_step = dist_size();
		/* overlapped buckets: head first, then the encoder top-down */
		cl->enc.grad_ready = grad_ready, cl->enc.grad_ctx = &A;
		A.lidx = xmalloc(o.bs * sizeof *A.lidx);
		A.lstart = xmalloc(o.bs * sizeof *A.lstart);
		A.llen = xmalloc(o.bs * sizeof *A.llen);
		valid_share(&A);
	}
	A.order = xmalloc(train->n * sizeof *A.order);
	A.tmp = xmalloc(2 * train->n * sizeof *A.tmp);
	A.yb = xmalloc(o.bs * sizeof *A.yb);
	A.l = (struct learner){ .tool = "clastrain", .resume_tail = "...",
		.self = &A, .epoch_begin = cl_epoch_begin,
		.train_batch = cl_train_batch, .validate = cl_validate,
		.save = cl_save, .out = o.out, .quiet = o.quiet };
	int ret = fit_run(&A.l, &run, &o.fit, opt, &cyc, &rec, o.seed);
	if (dist_size() > 1 && dist_main() && !o.quiet)
		warn("%d bucket%s per step; %.3f s inside MPI calls of the "
		     "reductions", dist_buckets(), dist_buckets() == 1 ? "" : "s",
		     dist_mpi_seconds());
	recorder_close(&rec);
	free(A.order), free(A.tmp), free(A.yb), free(A.x);
	free(A.lidx), free(A.lstart), free(A.llen);
	free(A.vmine.ids), free(A.vmine.len), free(A.vmine.y);
	clas_scratch_free(&A.vs);
	optim_free(opt);
	m->labels = NULL, m->nlabels = 0;
	ckpt_meta_free(m);
	clas_labels_free(labels, nc);
	clas_free(cl);
	docs_free(train), docs_free(valid);
	if (vocab)
		vocab_free(vocab);
	free(vocab_abs);
	sp_free(o.spm);
	free(o.sp_file);
	return ret;
}
