/* awdtrain: train or fine-tune fastai's AWD-LSTM language model
 * (language_model_learner + fit_one_cycle) on lmbatch streams, one
 * fit_one_cycle per run. */
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
#include "kernels.h"
#include "model/lm.h"
#include "data/lmb.h"
#include "learn/optim.h"
#include "learn/pretrained.h"
#include "torch/pth.h"
#include "learn/recorder.h"
#include "core/stream.h"
#include "text/sp.h"
#include "learn/trainrun.h"
#include "learn/device.h"
#include "core/util.h"
#include "data/vocab.h"

static const char usage_text[] =
"usage: awdtrain [-hq] [-c lm.pth | -p wgts.pth -P old.vocab | --resume ckpt.pth]\n"
"                -o out.pth [-v vocab] [-l lr] [--freeze | --freeze-to n |\n"
"                --unfreeze] [--wd wd] [--moms a,b,c] [--pct-start p]\n"
"                [--div d] [--div-final d] [--clip c] [--clip-global]\n"
"                [--drop-mult m] [--alpha a] [--beta b] [--emb n] [--hid n]\n"
"                [--layers n] [-s seed] [-j threads] [--log file]\n"
"                [--sp model] [--precision fp32|bf16] [--device d]\n"
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
"  --sp model    the stream is the pieces of this SentencePiece model (tok\n"
"                --sp): recorded (sp_xxh64, sp_path) for infer; -c and\n"
"                --resume keep the one their checkpoint records\n"
"  --precision p fp32 (default) or bf16: GEMM operands rounded to bfloat16,\n"
"                fp32 sums, weights, optimizer and element maths (needs a\n"
"                CPU with AVX512-BF16)\n"
"  --device d    cpu (default), cuda or check (a test device: see\n"
"                ULMFIT_DEVICE in the manual)\n"
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
	const char *sp;
	struct sp_model *spm;   /* the stream's SentencePiece model, or NULL */
	char *sp_file;
	int freeze_to, freeze_given, quiet, threads;
	int emb, hid, layers;
	struct fit_opts fit;
	double drop_mult;
	uint64_t seed;
};

/* ---- the learner ------------------------------------------------------ */

static const char what[] = "an awdtrain checkpoint";

struct awdl {
	struct learner l;
	const struct opts *o;
	struct lm lm;
	struct optim opt;
	struct lmb_reader tr;
	const char *tname, *vname;
	uint32_t valid_batches;
	int epoch;
	uint32_t *x, *y;
	struct lmb_batch b;
	struct ckpt_meta m;     /* what every save records; run set per save */
};

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

/* This rank's rows of b (rank r: rows r, r+N, ...; all of them alone) as
 * x and y; returns their count. */
static int
rank_xy(struct awdl *a, const struct lmb_batch *b)
{
	int N = dist_size(), r0 = dist_rank(), n = dist_rows((int)b->rows);
	if (N == 1) {
		lmb_xy(b, a->x, a->y);
		return n;
	}
	for (int j = 0; j < n; j++) {
		const uint32_t *row = b->tok + (size_t)(r0 + j * N) * (b->len + 1);
		memcpy(a->x + (size_t)j * b->len, row, (size_t)b->len * 4);
		memcpy(a->y + (size_t)j * b->len, row + 1, (size_t)b->len * 4);
	}
	return n;
}

/* awd.h's grad_ready: rnns[l] is group l, the embedding (tied to the
 * decoder) and the decoder bias are group L (lm_register) */
static void
grad_ready(void *ctx, int layer)
{
	struct awdl *a = ctx;
	dist_grad_ready(layer < 0 ? a->lm.enc.cfg.layers : layer);
}

static int64_t
lm_epoch_begin(struct learner *l, const struct trainrun *r)
{
	struct awdl *a = l->self;
	a->epoch = r->epoch;
	if (r->batch == 0)
		awd_reset(&a->lm.enc);  /* ModelResetter: before_train */
	return a->tr.info.train_batches;
}

static void
lm_fetch(struct learner *l, int epoch, int64_t i)
{
	struct awdl *a = l->self;
	want(&a->tr, &a->b, a->tname, (uint32_t)epoch, LMB_SPLIT_TRAIN,
	     (uint32_t)i);
}

static double
lm_train_batch(struct learner *l, int64_t i, struct rng *drop, double *smooth)
{
	struct awdl *a = l->self;
	struct lm_stats st;
	(void)i;
	int rows = rank_xy(a, &a->b);
	l->share = (double)rows / a->b.rows;
	/* under mpirun: each group's gradients start their reduction as
	 * backward finishes them (grad_ready); fit's dist_grad_reduce waits */
	dist_overlap_begin(&a->opt, l->share);
	lm_train_step(&a->lm, a->x, a->y, rows, (int)a->b.len, drop, &st);
	*smooth = st.ce;
	return st.loss;
}

struct eval { double loss, acc, rows; };

static void
eval_batch(struct awdl *a, struct eval *ev)
{
	struct lm_stats st;
	const struct lmb_batch *b = &a->b;
	int rows = rank_xy(a, b);
	if (!rows)
		return;
	lm_eval_step(&a->lm, a->x, a->y, rows, (int)b->len, &st);
	/* fastai weights each batch's mean by its size (first dim of y);
	 * over ranks: sums of this rank's rows, added up in lm_validate */
	ev->loss += st.ce * rows;
	ev->acc += (double)st.hits / st.n * rows;
	ev->rows += rows;
}

/* eval mode, state reset first; stops early on a signal */
static int
lm_validate(struct learner *l, double *loss, double *metrics)
{
	struct awdl *a = l->self;
	struct eval ev = {0};
	awd_reset(&a->lm.enc);
	if (a->vname) {
		FILE *vf = open_in(a->vname);
		struct lmb_reader vr;
		lmb_open(&vr, vf, a->vname);
		while (!trainrun_stop && lmb_next(&vr, &a->b))
			eval_batch(a, &ev);
		lmb_close(&vr);
		if (!trainrun_stop)
			close_in(vf, a->vname);
		else if (vf != stdin)
			fclose(vf);
	} else {
		for (uint32_t i = 0; !trainrun_stop && i < a->valid_batches; i++) {
			want(&a->tr, &a->b, a->tname, (uint32_t)a->epoch,
			     LMB_SPLIT_VALID, i);
			eval_batch(a, &ev);
		}
	}
	if (dist_size() > 1)
		trainrun_stop = dist_max_int(trainrun_stop);
	if (trainrun_stop)
		return 1;
	double tot[3] = { ev.loss, ev.acc, ev.rows };
	dist_sum(tot, 3);
	ev.loss = tot[0], ev.acc = tot[1], ev.rows = tot[2];
	*loss = ev.loss / ev.rows;
	metrics[0] = ev.acc / ev.rows;
	metrics[1] = exp(*loss);
	return 0;
}

/* The weights, Adam, the metadata, and mid-epoch the LSTM state (so a
 * resumed run continues from exactly where it stopped). */
static int
lm_save(struct learner *l, const struct trainrun *r)
{
	struct awdl *a = l->self;
	struct ckpt_table t;
	struct pth_record rec[2 * AWD_MAX_LAYERS];
	char names[2 * AWD_MAX_LAYERS][24];
	int nrec = 0;
	ckpt_lm_table(&a->lm, &t);
	a->m.run = *r;
	a->m.hidden_rows = 0;
	if (r->batch > 0 && r->batch < (int64_t)a->tr.info.train_batches) {
		a->m.hidden_rows = a->lm.enc.state_bs;
		nrec = ckpt_state_records(&a->lm.enc, rec, names);
	}
	int ret = ckpt_save(a->o->out, &t, &a->opt, &a->m, rec, nrec);
	ckpt_state_free(rec, nrec);
	return ret;
}

/* a pipe is checked as it comes: say what is left */
static void
lm_saved(struct learner *l, const struct trainrun *r)
{
	const char *out = ((struct awdl *)l->self)->o->out;
	int more = r->epoch < r->n_epoch;
	die_note("%s holds the run after epoch %d of %d%s%s%s%s%s", out,
	         r->epoch, r->n_epoch, more ? "; continue with: awdtrain "
	         "--resume " : "", more ? out : "", more ? " -o " : "",
	         more ? out : "", more ? " (a good copy of the same stream)"
	         : "");
}

/* The settings the command line accepts */
static int
opts_valid(const struct opts *o)
{
	return fit_opts_valid(&o->fit) && o->drop_mult >= 0 &&
	       isfinite(o->drop_mult);
}

/* --resume: every setting of the interrupted run comes from its file */
static void
resume_opts(struct opts *o, const struct ckpt_meta *m, struct trainrun *r)
{
	if (m->kind != CKPT_LM || strcmp(m->tool, "awdtrain"))
		die("%s: not %s", m->path, what);
	ckpt_meta_need(m, CK_RUN, what);
	if (m->run.done)
		die("%s: its run finished; start the next stage with -c %s",
		    m->path, m->path);
	ckpt_meta_need(m, CK_SEED | CK_FIT | CK_DROP | CK_STREAM, what);
	o->seed = m->seed;
	o->fit = m->fit;
	o->drop_mult = m->drop_mult;
	*r = m->run;
	o->freeze_to = r->freeze_to;
	o->freeze_given = 1;
}

/* The stream must be the one the interrupted run read. */
static void
resume_check_stream(const struct ckpt_meta *m, const struct lmb_info *si,
                    const char *name)
{
	if (m->stream_seed != si->seed || m->stream_epochs != si->epochs ||
	    m->train_batches != si->train_batches ||
	    m->bs != (int64_t)si->bs || m->seq_len != si->seq_len)
		die("%s: not the batch stream %s was trained on (seed, epochs, bs, "
		    "seq_len or batches differ); re-run lmbatch as before",
		    name, m->path);
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

/* ---- main -------------------------------------------------------------- */

enum {
	O_FREEZE = 256, O_FREEZE1, O_UNFREEZE, O_WD, O_MOMS, O_PCT, O_DIV,
	O_DIVF, O_CLIP, O_CLIPG, O_DROP, O_ALPHA, O_BETA, O_LOG, O_RESUME, O_SP,
	O_EMB, O_HID, O_LAYERS, O_PREC, O_DEV
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
		{ "sp", required_argument, NULL, O_SP },
		{ "seed", required_argument, NULL, 's' },
		{ "precision", required_argument, NULL, O_PREC },
		{ "device", required_argument, NULL, O_DEV },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = {
		.freeze_to = 0, .fit = FIT_OPTS_DEFAULT, .drop_mult = 1,
		.emb = 400, .hid = 1152, .layers = 3, .seed = 42
	};
	int c, lr_given = 0, drop_given = 0, size_given = 0, bf16 = 0;
	const char *device = NULL;

	argv0 = "awdtrain";
	dist_init(&argc, &argv);
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
			parse_lr(optarg, "-l", &o.fit.lr_lo, &o.fit.lr_hi);
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
		case O_ALPHA: o.fit.alpha = parse_double(optarg, "--alpha"); break;
		case O_BETA: o.fit.beta = parse_double(optarg, "--beta"); break;
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
	if (!!o.from + !!o.wgts + !!o.resume > 1)
		usage_error("give at most one of -c lm.pth, -p wgts.pth, "
		            "--resume ckpt.pth");
	if (!!o.wgts != !!o.oldvocab)
		usage_error("-p wgts.pth and -P old.vocab go together");
	if (o.wgts && !o.vocab)
		usage_error("-p needs -v vocab (the stream's vocab) to match rows");
	if (!o.out)
		usage_error("no output: -o out.pth");
	if (!strcmp(o.out, "-"))
		usage_error("-o -: the checkpoint would mix with the table on "
		            "stdout; give a file");
	if (argc < 1 || argc > 2)
		usage_error("want train.lmb [valid.lmb]");
	if (!opts_valid(&o))
		usage_error("--wd, --clip, --drop-mult, --alpha, --beta >= 0; "
		            "0 <= --pct-start < 1; --div, --div-final > 0");
	if (o.resume && (lr_given || o.freeze_given || drop_given))
		usage_error("--resume takes its settings from the checkpoint");
	if ((o.from || o.resume) && size_given)
		usage_error("--emb/--hid/--layers are for a new model; a "
		            "checkpoint has its own sizes");
	if (bf16 && !gemm_bf16_ok())
		die("--precision bf16: this CPU has no AVX512-BF16%s",
		    getenv("ULMFIT_NO_BF16") ? " (ULMFIT_NO_BF16 is set)" : "");
	kern_set_bf16(bf16);
	kern_set_threads(o.threads);
	device_use(device, o.threads);

	struct awdl A = { .o = &o };
	struct trainrun run = { .freeze_to = o.freeze_to };
	struct ckpt_meta pm = {0};
	struct pth *p = NULL;
	const char *src = o.from ? o.from : o.resume;
	if (src) {
		p = pth_load(src);
		ckpt_meta_read(&pm, p);
		run.parent = pth_xxh64(p);
		if (o.resume)
			resume_opts(&o, &pm, &run);
	}

	/* the streams */
	const char *tname = argv[0], *vname = argc == 2 ? argv[1] : NULL;
	FILE *tf = open_in(tname);
	struct lmb_reader *tr = &A.tr;
	lmb_verify(tf, tname);  /* a file: damage anywhere is found now */
	lmb_open(tr, tf, tname);
	const struct lmb_info *si = &tr->info;
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
	if (o.resume) {
		resume_check_stream(&pm, si, tname);
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
		lmb_check_vocab(tr, vocab->n, vocab->xxh64, o.vocab);
		vocab_abs = realpath(o.vocab, NULL);
	} else if (pm.vocab_path) {
		vocab_abs = xstrdup(pm.vocab_path);
	}
	o.spm = sp_for_pth(p, o.sp, 0, &o.sp_file);

	/* the model */
	struct awd_config ac;
	struct lm *lm = &A.lm;
	int maxB = (int)(si->bs > val_bs ? si->bs : val_bs);
	if (dist_size() > (int)si->bs || dist_size() > (int)val_bs)
		die("%s: bs %u / val_bs %u: fewer rows than the %d processes",
		    tname, si->bs, val_bs, dist_size());
	maxB = dist_rows(maxB);         /* this rank's rows at most */
	if (p) {
		pth_clean_raw_keys(p);
		if (!pth_find(p, "1.decoder.bias") ||
		    !clas_encoder_sizes(p, "0.", &ac))
			die("%s: not a language model checkpoint (no "
			    "0.encoder.weight and 1.decoder.bias)", src);
		ckpt_check_vocab(p, ac.vocab, si->vocab_n, si->vocab_xxh64, tname,
		                 "start with -p to match rows");
		if (!drop_given && !o.resume && ckpt_meta_has(&pm, "drop_mult"))
			o.drop_mult = pm.drop_mult;
		int E = ac.emb, H = ac.hidden, L = ac.layers;
		awd_config_lm(&ac, (int)si->vocab_n, (float)o.drop_mult);
		ac.emb = E, ac.hidden = H, ac.layers = L;
	} else {
		awd_config_lm(&ac, (int)si->vocab_n, (float)o.drop_mult);
		ac.emb = o.emb, ac.hidden = o.hid, ac.layers = o.layers;
	}
	lm_create(lm, &ac, maxB, (int)si->seq_len);
	lm->alpha = (float)o.fit.alpha, lm->beta = (float)o.fit.beta;
	struct ckpt_table tab;
	ckpt_lm_table(lm, &tab);
	if (p) {
		ckpt_load(&tab, p, "", NULL);
	} else {
		struct rng init;
		rng_seed(&init, o.seed, 0);
		lm_init(lm, &init);
	}
	if (o.wgts) {
		struct pretrained_param dst[CKPT_MAXROWS];
		struct pretrained_report rep;
		float *host[CKPT_MAXROWS];
		ckpt_rows_download(&tab, host);   /* filled on the host */
		for (int i = 0; i < tab.n; i++) {
			const struct ckpt_row *r = &tab.r[i];
			dst[i] = (struct pretrained_param){ .name = r->name,
				.w = host[i], .ndim = r->ndim };
			for (int d = 0; d < r->ndim; d++)
				dst[i].shape[d] = r->shape[d];
		}
		pretrained_load(o.wgts, o.oldvocab, vocab, dst, tab.n, &rep);
		if (!o.quiet)
			pretrained_report_print(stderr, o.wgts, &rep, dst, 0);
		pretrained_report_free(&rep);
		ckpt_rows_upload(&tab, host);
		if (!o.freeze_given)
			o.freeze_to = -1;       /* load_pretrained -> freeze() */
	}

	/* the optimizer */
	struct optim *opt = &A.opt;
	int ng = ac.layers + 1;
	optim_init(opt, ng);
	lm_register(lm, opt);
	if (o.from && !o.freeze_given)
		/* continue the checkpoint's stage: its freeze level and Adam
		 * state, as calling fit_one_cycle again would */
		run.freeze_to = ckpt_meta_has(&pm, "freeze_to") ?
		                pm.run.freeze_to : 0;
	else
		run.freeze_to = o.freeze_to;
	opt_freeze_to(opt, run.freeze_to);   /* clears the state */
	if (o.resume || (o.from && !o.freeze_given && p->opt))
		opt_restore(opt, p->opt, src);
	lm_apply_freeze(lm, opt);
	opt_set_wd(opt, o.fit.wd);
	struct onecycle cyc;
	fit_cycle_init(&cyc, &o.fit, run.n_epoch, si->train_batches, ng);
	if (!o.resume) {
		trainrun_start(&run);
	} else if (run.batch > 0 && run.batch < (int64_t)si->train_batches) {
		if (!pm.hidden_rows)
			die("%s: no 'hidden_rows' in its metadata: not %s", src,
			    what);
		if (dist_size() > 1)
			die("%s: saved mid-epoch (its LSTM state of every row): "
			    "resume it as one process; a data-parallel run "
			    "resumes from an epoch's end", src);
		ckpt_state_restore(p, &lm->enc, pm.hidden_rows);
	}

	/* what every checkpoint records */
	struct ckpt_meta *m = &A.m;
	m->kind = CKPT_LM;
	snprintf(m->tool, sizeof m->tool, "awdtrain");
	m->vocab_n = si->vocab_n, m->vocab_xxh64 = si->vocab_xxh64;
	ckpt_set_str(&m->vocab_path, vocab_abs);
	if (o.spm)
		ckpt_set_sp(m, o.spm, o.sp_file);
	m->emb = ac.emb, m->hid = ac.hidden, m->layers = ac.layers;
	m->pad = ac.pad, m->has_pad = 1;
	m->drop_mult = o.drop_mult;
	m->seed = o.seed;
	m->fit = o.fit;
	m->bs = (int)si->bs, m->seq_len = si->seq_len;
	m->stream_seed = si->seed, m->stream_epochs = si->epochs;
	m->train_batches = si->train_batches;
	if (p)
		pth_free(p);
	ckpt_meta_free(&pm);

	/* go */
	/* tests interrupt at an exact step through the real signal path */
	trainrun_catch_stop("AWDTRAIN_STOP_AT");
	struct recorder rec;
	recorder_init(&rec, (const char *[]){ "accuracy", "perplexity" }, 2);
	if (o.log && dist_main())
		recorder_open_log(&rec, o.log, !!o.resume);
	size_t nxy = (size_t)maxB * si->seq_len;
	A.x = xmalloc(nxy * sizeof *A.x), A.y = xmalloc(nxy * sizeof *A.y);
	A.tname = tname, A.vname = vname, A.valid_batches = valid_batches;
	A.l = (struct learner){ .tool = "awdtrain",
		.resume_tail = "(same stream)", .self = &A,
		.epoch_begin = lm_epoch_begin, .fetch = lm_fetch,
		.train_batch = lm_train_batch, .validate = lm_validate,
		.save = lm_save, .saved = lm_saved, .out = o.out,
		.quiet = o.quiet };
	if (dist_size() > 1) {
		lm->enc.grad_ready = grad_ready, lm->enc.grad_ctx = &A;
		/* this rank's rows' masks of the whole batch (rank_xy) */
		lm->enc.row0 = dist_rank(), lm->enc.row_step = dist_size();
	}
	int ret = fit_run(&A.l, &run, &o.fit, opt, &cyc, &rec, o.seed);
	if (dist_size() > 1 && dist_main() && !o.quiet)
		warn("%d bucket%s per step; %.3f s inside MPI calls of the "
		     "reductions", dist_buckets(), dist_buckets() == 1 ? "" : "s",
		     dist_mpi_seconds());
	if (!ret) {
		/* the verified end: trailer and counts */
		while (lmb_next(tr, &A.b))
			;
		close_in(tf, tname);
	} else if (tf != stdin) {
		fclose(tf);
	}
	lmb_close(tr);
	recorder_close(&rec);
	free(A.x), free(A.y);
	optim_free(opt);
	lm_free(lm);
	ckpt_meta_free(m);
	if (vocab)
		vocab_free(vocab);
	free(vocab_abs);
	sp_free(o.spm);
	free(o.sp_file);
	return ret;
}
