/* optim.h: fastai's optimizer and schedules (spec §8-§9).
 *
 * A model registers each parameter once, with its gradient, its
 * parameter group and two flags, in the order fastai's splitter lists
 * them (within an LSTM group: weight_hh_l0_raw, weight_ih_l0, bias_ih_l0,
 * bias_hh_l0).  Tied weights are registered once (a second opt_add of the
 * same pointer returns the first index).
 *
 *   optim_init(&o, 4);                                 LM: 4 groups
 *   opt_add(&o, "0.rnns.0.weight_hh_l0_raw", w, dw, 2, shape, 0, 0);
 *   opt_add(&o, "1.decoder.bias", b, db, 1, shape, 3, OPT_NO_WD);
 *   opt_freeze_to(&o, -1);                             fastai's freeze()
 *   onecycle_init(&c, n_epoch, n_iter, lr_max, o.ng);
 *   per batch: onecycle_apply(&c, &o); ...backward...;
 *              opt_clip_groups(&o, 0.1); opt_step(&o); opt_zero_grad(&o);
 *              onecycle_next(&c);
 *
 * Adam is fastai's (kernels/adam.h): decoupled wd, damped moments, debias
 * with the current mom, eps 1e-5 outside the sqrt, beta2 0.99.  Only
 * trainable parameters (opt_freeze_to) are stepped, weight decay included.
 *
 * Memory: parameters and gradients are the model's (device memory of
 * o->k); the moments of every parameter are one block of o->k (allocated
 * when first needed: the first freeze, step or restore), and a step is
 * one multi-tensor adam_multi over a table of the trainable tensors and
 * their groups' scalars.  The host reads only the clipping norms.
 * The state saves into a .pth as fastai's learn.save does ('opt':
 * {'state': [...], 'hypers': [...]}), so --resume is bit-identical and
 * fastai's learn.load can read our moments. */
#ifndef OPTIM_H
#define OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "adam.h"
#include "torch/pickle.h"
#include "torch/pth.h"

#define OPT_MAX_GROUPS 16

enum {
	OPT_NO_WD = 1,          /* no weight decay: BatchNorm, plain .bias */
	OPT_FORCE_TRAIN = 2     /* trains even in a frozen group (BatchNorm,
	                           fastai's train_bn=True) */
};

struct opt_param {
	char name[64];
	float *p, *g;           /* value and gradient (n floats, caller's) */
	size_t n;
	int ndim;
	int64_t shape[PTH_MAXDIM];
	int group, flags;
	int train;              /* requires_grad after the last freeze_to */
	float *m, *v;           /* grad_avg, sqr_avg: views into o->mom (NULL
	                           until the block exists), zero at start */
	int64_t step;           /* Adam steps taken since the last clear */
};

struct opt_group {              /* fastai's per-group hypers */
	double lr, mom, sqr_mom, eps, wd;
};

struct optim {
	struct opt_param *p;
	int np, cap;
	struct opt_group g[OPT_MAX_GROUPS];
	int ng;
	int frozen;             /* groups below this index are frozen */
	struct pth_tensor *saved;       /* tensor views for opt_state */
	struct kern *k;                 /* the model's compute context */
	float *mom;                     /* device: every m, then every v */
	int mom_np;                     /* parameters laid out in mom */
	struct adam_tensor *tab;        /* (cap) the multi-tensor table */
	struct adam_args *args;         /* (cap) its rows */
	float *hmom;                    /* host copy for opt_state (not CPU) */
};

/* fastai's defaults: lr 1e-3, mom 0.9, sqr_mom 0.99, eps 1e-5, wd 0.01.
 * Everything trains until opt_freeze_to.  The context is kern_default()
 * until opt_set_kern gives the model's (before the first opt_add). */
void optim_init(struct optim *o, int ngroups);
void opt_set_kern(struct optim *o, struct kern *k);
void optim_free(struct optim *o);
/* Register a parameter; returns its index.  shape: ndim longs (as the
 * model's tensor tables hold them).  Dies on a bad group. */
int opt_add(struct optim *o, const char *name, float *p, float *g,
            int ndim, const long *shape, int group, int flags);

/* freeze_to(n): groups n.. train (n < 0 counts from the end), earlier
 * groups are frozen except OPT_FORCE_TRAIN parameters.  Clears every
 * moment and step count, as fastai does.  freeze() = -1, unfreeze() = 0. */
void opt_freeze_to(struct optim *o, int n);
void opt_clear_state(struct optim *o);

/* Per-group lr from fastai's lr forms (util.h parse_lr gives lo, hi):
 * lo == hi: every group hi; lo == 0: slice(hi) = hi/10 for all groups
 * but the last; otherwise slice(lo, hi) = even_mults(lo, hi, n). */
void lr_spread(double lo, double hi, int n, double *out);
void opt_set_lr(struct optim *o, const double *lr);
void opt_set_mom(struct optim *o, double mom);
void opt_set_wd(struct optim *o, double wd);

/* One Adam step over every trainable parameter. */
void opt_step(struct optim *o);
/* Zero the gradients of every parameter (fastai's zero_grad). */
void opt_zero_grad(struct optim *o);

/* Gradient clipping as torch's clip_grad_norm_ (scale by
 * max/(norm+1e-6) when that is < 1).  opt_clip_groups clips each group
 * separately (fastai 2.0/2.1 to_fp16(clip=)); opt_clip_global the norm
 * over all trainable parameters (GradientClip).  Return the largest norm
 * seen before clipping. */
double opt_clip_groups(struct optim *o, double max_norm);
double opt_clip_global(struct optim *o, double max_norm);

/* ---- schedules -------------------------------------------------------- */

/* a + (1 + cos(pi*(1-t))) * (b-a) / 2: t=0 gives a, t=1 gives b */
double cos_anneal(double a, double b, double t);

/* fit_one_cycle(n_epoch, lr_max, div, div_final, pct_start, moms).
 * pos follows fastai's pct_train exactly: epoch/n_epoch at the start of
 * each epoch, then += 1/(n_iter*n_epoch) after each training batch. */
struct onecycle {
	int n_epoch;
	int64_t n_iter;         /* training batches per epoch */
	double lr_max[OPT_MAX_GROUPS];
	int ng;
	double div, div_final, pct_start;
	double moms[3];
	double pos;
};
/* Defaults: div 25, div_final 1e5, pct_start 0.25, moms (0.8,0.7,0.8)
 * (TextLearner's). */
void onecycle_init(struct onecycle *c, int n_epoch, int64_t n_iter,
                   const double *lr_max, int ng);
void onecycle_epoch(struct onecycle *c, int epoch);     /* before_train */
void onecycle_next(struct onecycle *c);                 /* after_batch */
/* Position after `batch` training batches of epoch (for resuming). */
void onecycle_seek(struct onecycle *c, int epoch, int64_t batch);
/* Values at the current position; group g's lr. */
void onecycle_values(const struct onecycle *c, int g, double *lr,
                     double *mom);
void onecycle_apply(const struct onecycle *c, struct optim *o);

/* fine_tune(epochs, base_lr, freeze_epochs, lr_mult, pct_start, div) as
 * its phases: freeze_to, epochs, lr as (lo, hi) for lr_spread, pct_start,
 * div.  Returns the number of phases (1 if freeze_epochs is 0). */
struct ft_phase {
	int freeze_to, epochs;
	double lr_lo, lr_hi, pct_start, div;
};
int fine_tune_plan(int epochs, double base_lr, int freeze_epochs,
                   double lr_mult, double pct_start, double div,
                   struct ft_phase out[2]);

/* fastai's AvgSmoothLoss (beta 0.98, debiased): the printed train_loss. */
struct smooth_loss { double val; int64_t count; };
void smooth_reset(struct smooth_loss *s);           /* at each fit */
double smooth_add(struct smooth_loss *s, double loss);  /* returns value */

/* ---- checkpoints ------------------------------------------------------ */

/* fastai's opt state_dict as a pickle tree in pool: {'state': [one dict per
 * parameter: grad_avg, sqr_avg, step, do_wd, force_train], 'hypers':
 * [one dict per group]}.  Tensors point at the live moments: write the
 * file before the next step or the next opt_state call. */
struct pv *opt_state(struct optim *o, struct pv_pool *pool);
/* Restore moments, step counts and hypers from a loaded file's 'opt'
 * (call opt_freeze_to first: it clears the state).  Dies with a message
 * naming file when the layout differs (another model or group split). */
void opt_restore(struct optim *o, const struct pv *opt, const char *file);

#endif
