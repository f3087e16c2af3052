/* awdtrain: train or fine-tune fastai's AWD-LSTM language model
 * (language_model_learner + fit_one_cycle) on lmbatch streams, one
 * fit_one_cycle per run. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clas.h"
#include "kernels.h"
#include "lm.h"
#include "lmb.h"
#include "optim.h"
#include "pretrained.h"
#include "pth.h"
#include "stream.h"
#include "util.h"
#include "vocab.h"

static const char usage_text[] =
"usage: awdtrain [-hq] [-c lm.pth | -p wgts.pth -P old.vocab | --resume ckpt.pth]\n"
"                -o out.pth [-v vocab] [-l lr] [--freeze | --freeze-to n |\n"
"                --unfreeze] [--wd wd] [--moms a,b,c] [--pct-start p]\n"
"                [--div d] [--div-final d] [--clip c] [--clip-global]\n"
"                [--drop-mult m] [--alpha a] [--beta b] [--emb n] [--hid n]\n"
"                [--layers n] [-s seed] [-j threads] [--log file]\n"
"                train.lmb [valid.lmb]\n"
"  (none)        a new model, fastai's init (sizes: --emb 400 --hid 1152\n"
"                --layers 3)\n"
"  -c lm.pth     continue from a language model checkpoint (ours or\n"
"                fastai's learn.save)\n"
"  -p wgts.pth   start from pretrained weights (WT103) whose vocab is\n"
"  -P old.vocab  old.vocab (fastai itos .pkl or a vocab file): rows are\n"
"                matched to -v vocab (load_pretrained), then frozen\n"
"  --resume ckpt.pth  finish an interrupted run (same stream)\n"
"  -o out.pth    the checkpoint to write (after every epoch)\n"
"  -v vocab      the vocab of the stream (checked, recorded for infer)\n"
"  -l lr         lr_max: one value, lo:hi (slice over the 4 groups) or :hi\n"
"                (default 1e-3)\n"
"  --freeze      train only the embedding/decoder (fastai's freeze(); the\n"
"                default after -p)\n"
"  --freeze-to n train groups n.. of 4 (3 LSTMs, embedding+decoder)\n"
"  --unfreeze    train everything (the default from scratch)\n"
"  --wd wd       weight decay (default 0.01)\n"
"  --moms a,b,c  one-cycle momentums (default 0.8,0.7,0.8)\n"
"  --pct-start p --div d --div-final d   one-cycle shape (0.25, 25, 1e5)\n"
"  --clip c      clip each group's gradient norm to c; --clip-global: the\n"
"                norm over all parameters\n"
"  --drop-mult m scale every dropout (default 1)\n"
"  --alpha a --beta b  AR/TAR (default 2, 1; 0 turns one off)\n"
"  -s seed       dropout seed (default 42)\n"
"  -j threads    compute threads (default: all cores)\n"
"  --log file    one line per epoch: TSV, or JSON lines if file ends in\n"
"                .json or .jsonl\n"
"  -q            no progress bar\n"
"The epochs and batches come from the stream (lmbatch -e).\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

struct opts {
	const char *from, *wgts, *oldvocab, *resume, *out, *vocab, *log;
	int freeze_to, freeze_given, clip_global, quiet, threads;
	int emb, hid, layers;
	double lr_lo, lr_hi, wd, moms[3], pct_start, div, div_final, clip;
	double drop_mult, alpha, beta;
	uint64_t seed;
};

static void
parse_moms(const char *s, double *m)
{
	char *a = xstrdup(s), *save = NULL, *t;
	int k = 0;
	for (t = strtok_r(a, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (k == 3)
			usage_error("--moms: want three numbers a,b,c");
		m[k++] = parse_double(t, "--moms");
	}
	free(a);
	if (k != 3)
		usage_error("--moms: want three numbers a,b,c");
}

/* ---- the epoch table --------------------------------------------------- */

static const char *cols[] = { "epoch", "train_loss", "valid_loss", "accuracy",
                              "perplexity", "time" };
enum { NCOL = 6 };

/* fastai's console table: headers padded to 8 and joined by two spaces;
 * each value followed by 2 + len(header) - len(value) spaces */
static void
table_header(void)
{
	for (int i = 0; i < NCOL; i++)
		printf("%s%-8s", i ? "  " : "", cols[i]);
	putchar('\n');
	fflush(stdout);
}

static void
fmt_time(char *b, size_t n, double s)
{
	long t = (long)s;
	if (t >= 3600)
		snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(b, n, "%02ld:%02ld", t / 60, t % 60);
}

static void
table_row(int epoch, double tl, double vl, double acc, double secs)
{
	char v[NCOL][32];
	snprintf(v[0], 32, "%d", epoch);
	snprintf(v[1], 32, "%.6f", tl);
	snprintf(v[2], 32, "%.6f", vl);
	snprintf(v[3], 32, "%.6f", acc);
	snprintf(v[4], 32, "%.6f", exp(vl));
	fmt_time(v[5], 32, secs);
	for (int i = 0; i < NCOL; i++) {
		int w = strlen(cols[i]) < 8 ? 8 : (int)strlen(cols[i]);
		printf("%s%*s", v[i], 2 + w - (int)strlen(v[i]), "");
	}
	putchar('\n');
	fflush(stdout);
}

static void
log_row(FILE *f, int json, int epoch, double tl, double vl, double acc,
        double secs)
{
	if (!f)
		return;
	if (json)
		fprintf(f, "{\"epoch\":%d,\"train_loss\":%.6f,\"valid_loss\":%.6f,"
		        "\"accuracy\":%.6f,\"perplexity\":%.6f,\"time\":%.3f}\n",
		        epoch, tl, vl, acc, exp(vl), secs);
	else
		fprintf(f, "%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.3f\n", epoch, tl, vl, acc,
		        exp(vl), secs);
	if (fflush(f) == EOF)
		die("%s: write error:", "log");
}

/* ---- checkpoint -------------------------------------------------------- */

struct run {                    /* what a checkpoint must remember */
	int epoch, n_epoch;
	int64_t batch, step;
	int freeze_to, done;
	struct smooth_loss sm;
	uint64_t parent;
	uint32_t vocab_n;
	uint64_t vocab_h;
	const char *vocab_path;
	const struct lmb_info *si;      /* the training stream */
};

/* The LSTM state in the middle of an epoch, as hex, so a resumed run
 * continues from exactly where it stopped. */
static void
hidden_add(char **m, const struct awd *a)
{
	static const char hx[] = "0123456789abcdef";
	size_t n = 0;
	for (int l = 0; l < a->cfg.layers; l++)
		n += 2 * (size_t)a->state_bs * awd_layer_out(&a->cfg, l);
	size_t old = strlen(*m), len = 7 + 8 * n + 1;
	*m = xrealloc(*m, old + len + 1);
	char *p = *m + old;
	memcpy(p, "hidden=", 7), p += 7;
	for (int l = 0; l < a->cfg.layers; l++)
		for (int k = 0; k < 2; k++) {
			const unsigned char *b = (const unsigned char *)
			    (k ? a->c[l] : a->h[l]);
			size_t nb = 4 * (size_t)a->state_bs *
			            awd_layer_out(&a->cfg, l);
			for (size_t i = 0; i < nb; i++) {
				*p++ = hx[b[i] >> 4];
				*p++ = hx[b[i] & 15];
			}
		}
	*p++ = '\n', *p = 0;
}

static void
hidden_restore(const struct pth *p, struct awd *a, int rows)
{
	const char *h = p->meta ? strstr(p->meta, "\nhidden=") : NULL;
	if (!h)
		die("%s: no LSTM state in it; it was not saved mid-epoch",
		    p->path);
	h += 8;
	awd_reset(a);
	awd_resize(a, rows);
	for (int l = 0; l < a->cfg.layers; l++)
		for (int k = 0; k < 2; k++) {
			unsigned char *b = (unsigned char *)(k ? a->c[l] : a->h[l]);
			size_t nb = 4 * (size_t)rows * awd_layer_out(&a->cfg, l);
			for (size_t i = 0; i < nb; i++, h += 2) {
				int v = 0;
				for (int j = 0; j < 2; j++) {
					char c = h[j];
					int d = c >= '0' && c <= '9' ? c - '0' :
					        c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
					if (d < 0)
						die("%s: damaged LSTM state in its "
						    "metadata", p->path);
					v = v << 4 | d;
				}
				b[i] = (unsigned char)v;
			}
		}
}

static char *
make_meta(const struct opts *o, const struct lm *lm, const struct run *r)
{
	const struct awd_config *c = &lm->enc.cfg;
	char *m = NULL;
	params_add(&m, "kind", "lm");
	params_add(&m, "tool", "awdtrain");
	params_add(&m, "vocab_n", "%u", r->vocab_n);
	params_add(&m, "vocab_xxh64", "%016llx", (unsigned long long)r->vocab_h);
	if (r->vocab_path)
		params_add(&m, "vocab_path", "%s", r->vocab_path);
	params_add(&m, "emb_sz", "%d", c->emb);
	params_add(&m, "n_hid", "%d", c->hidden);
	params_add(&m, "n_layers", "%d", c->layers);
	params_add(&m, "pad_token", "%d", c->pad);
	params_add(&m, "drop_mult", "%.9g", o->drop_mult);
	params_add(&m, "seed", "%llu", (unsigned long long)o->seed);
	params_add(&m, "lr_lo", "%.17g", o->lr_lo);
	params_add(&m, "lr_hi", "%.17g", o->lr_hi);
	params_add(&m, "wd", "%.17g", o->wd);
	params_add(&m, "moms", "%.17g,%.17g,%.17g", o->moms[0], o->moms[1],
	           o->moms[2]);
	params_add(&m, "pct_start", "%.17g", o->pct_start);
	params_add(&m, "div", "%.17g", o->div);
	params_add(&m, "div_final", "%.17g", o->div_final);
	params_add(&m, "clip", "%.17g", o->clip);
	params_add(&m, "clip_global", "%d", o->clip_global);
	params_add(&m, "alpha", "%.17g", o->alpha);
	params_add(&m, "beta", "%.17g", o->beta);
	params_add(&m, "bs", "%u", r->si->bs);
	params_add(&m, "seq_len", "%u", r->si->seq_len);
	params_add(&m, "stream_seed", "%llu", (unsigned long long)r->si->seed);
	params_add(&m, "stream_epochs", "%u", r->si->epochs);
	params_add(&m, "train_batches", "%u", r->si->train_batches);
	params_add(&m, "freeze_to", "%d", r->freeze_to);
	params_add(&m, "n_epoch", "%d", r->n_epoch);
	params_add(&m, "epoch", "%d", r->epoch);
	params_add(&m, "batch", "%lld", (long long)r->batch);
	params_add(&m, "step", "%lld", (long long)r->step);
	params_add(&m, "done", "%d", r->done);
	params_add(&m, "smooth_val", "%a", r->sm.val);
	params_add(&m, "smooth_count", "%lld", (long long)r->sm.count);
	params_add(&m, "parent", "%016llx", (unsigned long long)r->parent);
	if (r->batch > 0 && r->batch < (int64_t)r->si->train_batches) {
		params_add(&m, "hidden_rows", "%d", lm->enc.state_bs);
		hidden_add(&m, &lm->enc);
	}
	return m;
}

static int
save_ckpt(const char *path, struct lm *lm, struct optim *opt,
          const char *meta)
{
	struct awd_tensor at[AWD_MAX_TENSORS + 2];
	struct pth_tensor t[AWD_MAX_TENSORS + 2];
	struct pv_pool pool = {0};
	int n = lm_tensors(lm, at, AWD_MAX_TENSORS + 2);
	for (int i = 0; i < n; i++) {
		t[i] = (struct pth_tensor){ .name = at[i].name, .dtype = PTH_F32,
			.ndim = at[i].ndim, .f = at[i].w,
			.numel = (int64_t)at[i].n };
		for (int d = 0; d < at[i].ndim; d++)
			t[i].shape[d] = at[i].shape[d];
	}
	struct pv *sd = pth_state_dict(&pool, t, n);
	struct pv *root = pth_learner(&pool, sd, opt_state(opt, &pool));
	int r = pth_save(path, root, meta);
	pv_pool_free(&pool);
	return r;
}

static double
meta_num(const struct pth *p, const char *key)
{
	const char *v = pth_meta(p, key);
	if (!v)
		die("%s: no '%s' in its metadata: not an awdtrain checkpoint",
		    p->path, key);
	return strtod(v, NULL);
}

/* --resume: every setting of the interrupted run comes from its file */
static void
resume_opts(struct opts *o, const struct pth *p, struct run *r)
{
	const char *v;
	if (!(v = pth_meta(p, "kind")) || strcmp(v, "lm") ||
	    !(v = pth_meta(p, "tool")) || strcmp(v, "awdtrain"))
		die("%s: not an awdtrain checkpoint", p->path);
	if (meta_num(p, "done"))
		die("%s: its run finished; start the next stage with -c %s",
		    p->path, p->path);
	o->seed = (uint64_t)strtoull(pth_meta(p, "seed"), NULL, 10);
	o->lr_lo = meta_num(p, "lr_lo"), o->lr_hi = meta_num(p, "lr_hi");
	o->wd = meta_num(p, "wd");
	if (sscanf(pth_meta(p, "moms"), "%lf,%lf,%lf", &o->moms[0], &o->moms[1],
	           &o->moms[2]) != 3)
		die("%s: bad moms in the metadata", p->path);
	o->pct_start = meta_num(p, "pct_start");
	o->div = meta_num(p, "div"), o->div_final = meta_num(p, "div_final");
	o->clip = meta_num(p, "clip");
	o->clip_global = (int)meta_num(p, "clip_global");
	o->alpha = meta_num(p, "alpha"), o->beta = meta_num(p, "beta");
	o->drop_mult = meta_num(p, "drop_mult");
	r->freeze_to = o->freeze_to = (int)meta_num(p, "freeze_to");
	o->freeze_given = 1;
	r->n_epoch = (int)meta_num(p, "n_epoch");
	r->epoch = (int)meta_num(p, "epoch");
	r->batch = (int64_t)meta_num(p, "batch");
	r->step = (int64_t)meta_num(p, "step");
	r->sm.val = meta_num(p, "smooth_val");
	r->sm.count = (int64_t)meta_num(p, "smooth_count");
	r->parent = strtoull(pth_meta(p, "parent"), NULL, 16);
}

/* The stream must be the one the interrupted run read. */
static void
resume_check_stream(const struct pth *p, const struct lmb_info *si,
                    const char *name)
{
	if ((uint64_t)strtoull(pth_meta(p, "stream_seed"), NULL, 10) != si->seed ||
	    meta_num(p, "stream_epochs") != si->epochs ||
	    meta_num(p, "train_batches") != si->train_batches ||
	    meta_num(p, "bs") != si->bs || meta_num(p, "seq_len") != si->seq_len)
		die("%s: not the batch stream %s was trained on (seed, epochs, bs, "
		    "seq_len or batches differ); re-run lmbatch as before",
		    name, p->path);
}

/* ---- SIGINT ------------------------------------------------------------ */

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	if (stop) {             /* second signal: give up now */
		out_cleanup_all();
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop = sig;
}

/* ---- loading ----------------------------------------------------------- */

static void
load_lm(struct lm *lm, const struct pth *p)
{
	struct awd_tensor t[AWD_MAX_TENSORS + 2];
	int n = lm_tensors(lm, t, AWD_MAX_TENSORS + 2);
	for (int i = 0; i < n; i++) {
		if (t[i].alias)
			continue;
		int64_t shape[2] = { t[i].shape[0], t[i].shape[1] };
		memcpy(t[i].w, pth_need(p, t[i].name, t[i].ndim, shape)->f,
		       t[i].n * sizeof *t[i].w);
	}
}

/* fastai's language-model split: rnns[0..L-1], then embedding + decoder */
static void
lm_register(struct lm *lm, struct optim *o)
{
	struct awd_tensor t[AWD_MAX_TENSORS + 2];
	int n = lm_tensors(lm, t, AWD_MAX_TENSORS + 2), L = lm->enc.cfg.layers;
	for (int l = 0; l < L; l++)
		for (int i = 0; i < n; i++)
			if (!t[i].alias && t[i].layer == l)
				opt_add(o, t[i].name, t[i].w, t[i].g, t[i].ndim,
				        t[i].shape, l, 0);
	for (int i = 0; i < n; i++)
		if (!t[i].alias && t[i].layer < 0)
			opt_add(o, t[i].name, t[i].w, t[i].g, t[i].ndim, t[i].shape,
			        L, t[i].no_wd ? OPT_NO_WD : 0);
}

static void
lm_apply_freeze(struct lm *lm, const struct optim *o)
{
	for (int l = 0; l < lm->enc.cfg.layers; l++)
		lm->enc.grad_rnn[l] = l >= o->frozen;
	lm->enc.grad_emb = lm->enc.cfg.layers >= o->frozen;
}

/* ---- the stream -------------------------------------------------------- */

/* Next batch of (epoch, split, index), skipping earlier epochs (a resumed
 * run reads the stream from its start). */
static void
want(struct lmb_reader *r, struct lmb_batch *b, const char *name,
     uint32_t epoch, int split, uint32_t index)
{
	for (;;) {
		if (!lmb_next(r, b))
			die("%s: the stream ended before epoch %u, batch %u; "
			    "re-run lmbatch", name, epoch, index);
		if (b->epoch < epoch)
			continue;
		if (b->epoch != epoch || b->split != split || b->index != index)
			die("%s: expected %s batch %u of epoch %u, got %s batch "
			    "%u of epoch %u", name, split ? "valid" : "train", index,
			    epoch, b->split ? "valid" : "train", b->index, b->epoch);
		return;
	}
}

struct eval { double loss, acc, rows; };

static void
eval_batch(struct lm *lm, const struct lmb_batch *b, uint32_t *x, uint32_t *y,
           struct eval *ev)
{
	struct lm_stats st;
	lmb_xy(b, x, y);
	lm_eval_step(lm, x, y, (int)b->rows, (int)b->len, &st);
	/* fastai weights each batch's mean by its size (first dim of y) */
	ev->loss += st.ce * b->rows;
	ev->acc += (double)st.hits / st.n * b->rows;
	ev->rows += b->rows;
}

/* ---- main -------------------------------------------------------------- */

enum {
	O_FREEZE = 256, O_FREEZE1, O_UNFREEZE, O_WD, O_MOMS, O_PCT, O_DIV,
	O_DIVF, O_CLIP, O_CLIPG, O_DROP, O_ALPHA, O_BETA, O_LOG, O_RESUME,
	O_EMB, O_HID, O_LAYERS
};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "from", required_argument, NULL, 'c' },
		{ "pretrained", required_argument, NULL, 'p' },
		{ "pretrained-vocab", required_argument, NULL, 'P' },
		{ "resume", required_argument, NULL, O_RESUME },
		{ "freeze", no_argument, NULL, O_FREEZE1 },
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
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "beta", required_argument, NULL, O_BETA },
		{ "emb", required_argument, NULL, O_EMB },
		{ "hid", required_argument, NULL, O_HID },
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "log", required_argument, NULL, O_LOG },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.freeze_to = 0, .lr_lo = 1e-3, .lr_hi = 1e-3, .wd = 0.01,
		.moms = { 0.8, 0.7, 0.8 }, .pct_start = 0.25, .div = 25,
		.div_final = 1e5, .drop_mult = 1, .alpha = 2, .beta = 1,
		.emb = 400, .hid = 1152, .layers = 3, .seed = 42
	};
	int c, lr_given = 0, drop_given = 0, size_given = 0;

	argv0 = "awdtrain";
	blas_setup(argv);
	if (argc > 1 && !strcmp(argv[1], "--help"))
		usage(0);
	while ((c = getopt_long(argc, argv, "hqc:p:P:o:v:l:s:j:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': o.quiet = 1; break;
		case 'c': o.from = optarg; break;
		case 'p': o.wgts = optarg; break;
		case 'P': o.oldvocab = optarg; break;
		case O_RESUME: o.resume = optarg; break;
		case 'o': o.out = optarg; break;
		case 'v': o.vocab = optarg; break;
		case 'l':
			parse_lr(optarg, "-l", &o.lr_lo, &o.lr_hi);
			lr_given = 1;
			break;
		case 's':
			o.seed = (uint64_t)parse_long(optarg, "-s", 0, LONG_MAX);
			break;
		case 'j': o.threads = (int)parse_long(optarg, "-j", 1, 1024); break;
		case O_FREEZE:
			o.freeze_to = (int)parse_long(optarg, "--freeze-to", -4, 3);
			o.freeze_given = 1;
			break;
		case O_FREEZE1: o.freeze_to = -1, o.freeze_given = 1; break;
		case O_UNFREEZE: o.freeze_to = 0, o.freeze_given = 1; break;
		case O_WD: o.wd = parse_double(optarg, "--wd"); break;
		case O_MOMS: parse_moms(optarg, o.moms); break;
		case O_PCT: o.pct_start = parse_double(optarg, "--pct-start"); break;
		case O_DIV: o.div = parse_double(optarg, "--div"); break;
		case O_DIVF: o.div_final = parse_double(optarg, "--div-final"); break;
		case O_CLIP: o.clip = parse_double(optarg, "--clip"); break;
		case O_CLIPG: o.clip_global = 1; break;
		case O_DROP:
			o.drop_mult = parse_double(optarg, "--drop-mult");
			drop_given = 1;
			break;
		case O_ALPHA: o.alpha = parse_double(optarg, "--alpha"); break;
		case O_BETA: o.beta = parse_double(optarg, "--beta"); break;
		case O_EMB:
			o.emb = (int)parse_long(optarg, "--emb", 1, 1 << 16);
			size_given = 1;
			break;
		case O_HID:
			o.hid = (int)parse_long(optarg, "--hid", 1, 1 << 16);
			size_given = 1;
			break;
		case O_LAYERS:
			o.layers = (int)parse_long(optarg, "--layers", 1, AWD_MAX_LAYERS);
			size_given = 1;
			break;
		case O_LOG: o.log = optarg; break;
		default: usage(2);
		}
	argc -= optind, argv += optind;
	if (!!o.from + !!o.wgts + !!o.resume > 1)
		usage_error("give at most one of -c lm.pth, -p wgts.pth, "
		            "--resume ckpt.pth");
	if (!!o.wgts != !!o.oldvocab)
		usage_error("-p wgts.pth and -P old.vocab go together");
	if (o.wgts && !o.vocab)
		usage_error("-p needs -v vocab (the stream's vocab) to match rows");
	if (!o.out)
		usage_error("no output: -o out.pth");
	if (argc < 1 || argc > 2)
		usage_error("want train.lmb [valid.lmb]");
	if (!(o.wd >= 0) || !(o.pct_start >= 0 && o.pct_start < 1) ||
	    !(o.div > 0) || !(o.div_final > 0) || !(o.clip >= 0) ||
	    !(o.drop_mult >= 0) || !(o.alpha >= 0) || !(o.beta >= 0))
		usage_error("--wd, --clip, --drop-mult, --alpha, --beta >= 0; "
		            "0 <= --pct-start < 1; --div, --div-final > 0");
	if (o.resume && (lr_given || o.freeze_given || drop_given))
		usage_error("--resume takes its settings from the checkpoint");
	if ((o.from || o.resume) && size_given)
		usage_error("--emb/--hid/--layers are for a new model; a "
		            "checkpoint has its own sizes");
	kern_set_threads(o.threads);

	struct run run = { .freeze_to = o.freeze_to };
	struct pth *p = NULL;
	const char *src = o.from ? o.from : o.resume;
	if (src) {
		p = pth_load(src);
		run.parent = p->xxh64;
		if (o.resume)
			resume_opts(&o, p, &run);
	}

	/* the streams */
	const char *tname = argv[0], *vname = argc == 2 ? argv[1] : NULL;
	FILE *tf = open_in(tname);
	struct lmb_reader tr;
	lmb_open(&tr, tf, tname);
	const struct lmb_info *si = &tr.info;
	if (vname ? si->kind == LMB_VALID : si->kind != LMB_BOTH)
		die("%s: %s; give one stream made by lmbatch with both splits, "
		    "or train.lmb and valid.lmb", tname, si->kind == LMB_VALID ?
		    "a validation stream in the place of the training one" :
		    "no validation batches in it");
	if (vname && si->kind == LMB_BOTH)
		die("%s: already carries validation batches; give it alone", tname);
	if (!si->train_batches)
		die("%s: no training batches (too few tokens for bs %u)", tname,
		    si->bs);
	uint32_t val_bs = si->val_bs, valid_batches = si->valid_batches;
	if (vname) {
		FILE *vf = open_in(vname);
		struct lmb_reader vr;
		lmb_open(&vr, vf, vname);
		if (vr.info.kind != LMB_VALID)
			die("%s: not a validation stream (lmbatch --valid-only)",
			    vname);
		if (vr.info.vocab_n != si->vocab_n ||
		    vr.info.vocab_xxh64 != si->vocab_xxh64)
			die("%s: made with another vocab than %s", vname, tname);
		if (vf == stdin)
			die("%s: the validation stream is read every epoch: give "
			    "a file, not stdin", vname);
		val_bs = vr.info.val_bs ? vr.info.val_bs : vr.info.bs;
		valid_batches = vr.info.valid_batches;
		lmb_close(&vr);
		close_in(vf, vname);
	}
	if (!valid_batches)
		die("%s: no validation batches; fastai needs a validation set",
		    vname ? vname : tname);
	run.vocab_n = si->vocab_n, run.vocab_h = si->vocab_xxh64, run.si = si;
	if (o.resume) {
		resume_check_stream(p, si, tname);
		if ((uint32_t)run.n_epoch != si->epochs)
			die("%s: the stream has %u epochs, the run had %d", tname,
			    si->epochs, run.n_epoch);
	} else {
		run.n_epoch = (int)si->epochs;
	}

	struct vocab *vocab = NULL;
	char *vocab_abs = NULL;
	if (o.vocab) {
		vocab = vocab_load(o.vocab);
		lmb_check_vocab(&tr, vocab->n, vocab->xxh64, o.vocab);
		vocab_abs = realpath(o.vocab, NULL);
	} else if (p && pth_meta(p, "vocab_path")) {
		vocab_abs = xstrdup(pth_meta(p, "vocab_path"));
	}
	run.vocab_path = vocab_abs;

	/* the model */
	struct awd_config ac;
	struct lm lm;
	int maxB = (int)(si->bs > val_bs ? si->bs : val_bs);
	if (p) {
		pth_clean_raw_keys(p);
		if (!pth_find(p, "1.decoder.bias") ||
		    !clas_encoder_sizes(p, "0.", &ac))
			die("%s: not a language model checkpoint (no "
			    "0.encoder.weight and 1.decoder.bias)", src);
		if (!pth_check_vocab(p, si->vocab_n, si->vocab_xxh64, tname) &&
		    (uint32_t)ac.vocab != si->vocab_n)
			die("%s: its embedding has %d rows, but %s was made with a "
			    "vocab of %u tokens; start with -p to match rows",
			    src, ac.vocab, tname, si->vocab_n);
		if (!drop_given && !o.resume && pth_meta(p, "drop_mult"))
			o.drop_mult = atof(pth_meta(p, "drop_mult"));
		int E = ac.emb, H = ac.hidden, L = ac.layers;
		awd_config_lm(&ac, (int)si->vocab_n, (float)o.drop_mult);
		ac.emb = E, ac.hidden = H, ac.layers = L;
	} else {
		awd_config_lm(&ac, (int)si->vocab_n, (float)o.drop_mult);
		ac.emb = o.emb, ac.hidden = o.hid, ac.layers = o.layers;
	}
	lm_create(&lm, &ac, maxB, (int)si->seq_len);
	lm.alpha = (float)o.alpha, lm.beta = (float)o.beta;
	if (p) {
		load_lm(&lm, p);
	} else {
		struct rng init;
		rng_seed(&init, o.seed, 0);
		lm_init(&lm, &init);
	}
	if (o.wgts) {
		struct awd_tensor t[AWD_MAX_TENSORS + 2];
		struct pretrained_param dst[AWD_MAX_TENSORS + 2];
		struct pretrained_report rep;
		int n = lm_tensors(&lm, t, AWD_MAX_TENSORS + 2);
		for (int i = 0; i < n; i++) {
			dst[i] = (struct pretrained_param){ .name = t[i].name,
				.w = t[i].w, .ndim = t[i].ndim };
			for (int d = 0; d < t[i].ndim; d++)
				dst[i].shape[d] = t[i].shape[d];
		}
		pretrained_load(o.wgts, o.oldvocab, vocab, dst, n, &rep);
		if (!o.quiet)
			pretrained_report_print(stderr, o.wgts, &rep, dst, 0);
		pretrained_report_free(&rep);
		if (!o.freeze_given)
			o.freeze_to = -1;       /* load_pretrained -> freeze() */
	}

	/* the optimizer */
	struct optim opt;
	double lr[OPT_MAX_GROUPS];
	int ng = ac.layers + 1;
	optim_init(&opt, ng);
	lm_register(&lm, &opt);
	if (o.from && !o.freeze_given) {
		/* continue the checkpoint's stage: its freeze level and Adam
		 * state, as calling fit_one_cycle again would */
		const char *v = pth_meta(p, "freeze_to");
		run.freeze_to = v ? atoi(v) : 0;
	} else {
		run.freeze_to = o.freeze_to;
	}
	opt_freeze_to(&opt, run.freeze_to);   /* clears the state */
	if (o.resume || (o.from && !o.freeze_given && p->opt))
		opt_restore(&opt, p->opt, src);
	lm_apply_freeze(&lm, &opt);
	opt_set_wd(&opt, o.wd);
	lr_spread(o.lr_lo, o.lr_hi, ng, lr);
	struct onecycle cyc;
	onecycle_init(&cyc, run.n_epoch, si->train_batches, lr, ng);
	cyc.div = o.div, cyc.div_final = o.div_final, cyc.pct_start = o.pct_start;
	memcpy(cyc.moms, o.moms, sizeof cyc.moms);
	if (!o.resume) {
		smooth_reset(&run.sm);
		run.epoch = 0, run.batch = 0, run.step = 0;
	} else if (run.batch > 0 && run.batch < (int64_t)si->train_batches) {
		hidden_restore(p, &lm.enc, (int)meta_num(p, "hidden_rows"));
	}
	if (p)
		pth_free(p);

	/* go */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	FILE *logf = NULL;
	int json = 0;
	if (o.log) {
		size_t l = strlen(o.log);
		json = (l > 5 && !strcmp(o.log + l - 5, ".json")) ||
		       (l > 6 && !strcmp(o.log + l - 6, ".jsonl"));
		if (!(logf = fopen(o.log, o.resume ? "a" : "w")))
			die("%s:", o.log);
		if (!json && !o.resume)
			fprintf(logf, "epoch\ttrain_loss\tvalid_loss\taccuracy\t"
			        "perplexity\ttime\n");
	}
	size_t nxy = (size_t)maxB * si->seq_len;
	uint32_t *x = xmalloc(nxy * sizeof *x), *y = xmalloc(nxy * sizeof *y);
	int ret = 0;
	/* tests interrupt at an exact step through the real signal path */
	const char *stop_at = getenv("AWDTRAIN_STOP_AT");
	int64_t stop_step = stop_at ? strtoll(stop_at, NULL, 10) : -1;
	struct lmb_batch b;

	table_header();
	for (; run.epoch < run.n_epoch; run.epoch++, run.batch = 0) {
		double t0 = now_sec();
		struct progress pr;
		uint32_t nb = si->train_batches;
		onecycle_seek(&cyc, run.epoch, run.batch);
		if (run.batch == 0)
			awd_reset(&lm.enc);     /* ModelResetter: before_train */
		progress_init(&pr, "train", nb, o.quiet);
		for (uint32_t i = 0; i < nb; i++) {
			want(&tr, &b, tname, (uint32_t)run.epoch, LMB_SPLIT_TRAIN, i);
			if (i < run.batch)
				continue;       /* done before the interruption */
			if (run.step == stop_step)
				raise(SIGINT);
			if (stop)
				break;
			struct rng drop;
			struct lm_stats st;
			/* per-step generator: a resumed run draws the same masks */
			rng_seed(&drop, o.seed, (1ULL << 40) + (uint64_t)run.step);
			onecycle_apply(&cyc, &opt);
			lmb_xy(&b, x, y);
			lm_train_step(&lm, x, y, (int)b.rows, (int)b.len, &drop, &st);
			if (!isfinite(st.loss))
				die("training diverged (loss %g at epoch %d, batch "
				    "%u); lower the learning rate", st.loss, run.epoch,
				    i);
			smooth_add(&run.sm, st.ce);
			if (o.clip > 0) {
				if (o.clip_global)
					opt_clip_global(&opt, o.clip);
				else
					opt_clip_groups(&opt, o.clip);
			}
			opt_step(&opt);
			opt_zero_grad(&opt);
			onecycle_next(&cyc);
			run.step++;
			run.batch = i + 1;
			progress_set(&pr, i + 1);
		}
		progress_end(&pr);

		/* validation: eval mode, state reset first */
		struct eval ev = {0};
		if (!stop) {
			awd_reset(&lm.enc);
			if (vname) {
				FILE *vf = open_in(vname);
				struct lmb_reader vr;
				lmb_open(&vr, vf, vname);
				while (!stop && lmb_next(&vr, &b))
					eval_batch(&lm, &b, x, y, &ev);
				lmb_close(&vr);
				if (!stop)
					close_in(vf, vname);
				else if (vf != stdin)
					fclose(vf);
			} else {
				for (uint32_t i = 0; !stop && i < valid_batches; i++) {
					want(&tr, &b, tname, (uint32_t)run.epoch,
					     LMB_SPLIT_VALID, i);
					eval_batch(&lm, &b, x, y, &ev);
				}
			}
		}
		if (stop) {
			char *meta = make_meta(&o, &lm, &run);
			ret = save_ckpt(o.out, &lm, &opt, meta);
			free(meta);
			if (!ret)
				warn("interrupted at epoch %d, batch %lld; saved %s; "
				     "continue with: awdtrain --resume %s -o %s "
				     "(same stream)", run.epoch, (long long)run.batch,
				     o.out, o.out, o.out);
			ret = 128 + (int)stop;
			break;
		}
		double vl = ev.loss / ev.rows, acc = ev.acc / ev.rows;
		double secs = now_sec() - t0;
		double tl = run.sm.count ? run.sm.val / (1 - pow(0.98, (double)
		            run.sm.count)) : NAN;
		table_row(run.epoch, tl, vl, acc, secs);
		log_row(logf, json, run.epoch, tl, vl, acc, secs);
		struct run at = run;
		at.epoch++, at.batch = 0, at.done = at.epoch == at.n_epoch;
		char *meta = make_meta(&o, &lm, &at);
		if (save_ckpt(o.out, &lm, &opt, meta))
			ret = 1;
		free(meta);
		if (ret)
			break;
	}
	if (!ret) {
		/* the verified end: trailer and counts */
		while (lmb_next(&tr, &b))
			;
		close_in(tf, tname);
	} else if (tf != stdin) {
		fclose(tf);
	}
	lmb_close(&tr);
	if (logf && fclose(logf))
		die("%s: write error:", o.log);
	free(x), free(y);
	optim_free(&opt);
	lm_free(&lm);
	if (vocab)
		vocab_free(vocab);
	free(vocab_abs);
	return ret;
}
