/* trainrun.h: the plumbing the training tools (awdtrain, clastrain) share
 * around one fit_one_cycle per run: its settings, the run's position, both
 * kept in the checkpoint's metadata (ckpt.h) so that --resume continues bit
 * for bit, the stop flag SIGINT/SIGTERM set, and one optimizer step.
 * fit.h's fit_run is the loop that uses them:
 *
 *   trainrun_catch_stop("TOOL_STOP_AT");
 *   fit_cycle_init(&cyc, &fit, run.n_epoch, n_iter, ng);
 *   fit_run(&learner, &run, &fit, &opt, &cyc, &rec, seed); */
#ifndef TRAINRUN_H
#define TRAINRUN_H

#include <signal.h>
#include <stdint.h>

#include "learn/optim.h"
#include "torch/pth.h"
#include "core/rng.h"

/* fit_one_cycle's settings, with AR/TAR (fastai's RNNRegularizer) */
struct fit_opts {
	double lr_lo, lr_hi;    /* lr_max, or a slice over the groups */
	double wd, moms[3], pct_start, div, div_final;
	double clip;            /* 0: no clipping */
	int clip_global;        /* clip the norm over all groups, not each */
	double alpha, beta;
};
/* fastai's defaults: lr 1e-3, wd 0.01, moms (0.8,0.7,0.8), pct_start 0.25,
 * div 25, div_final 1e5, alpha 2, beta 1 */
#define FIT_OPTS_DEFAULT { .lr_lo = 1e-3, .lr_hi = 1e-3, .wd = 0.01,        \
	.moms = { 0.8, 0.7, 0.8 }, .pct_start = 0.25, .div = 25,              \
	.div_final = 1e5, .alpha = 2, .beta = 1 }

/* 1 if wd, clip, alpha, beta >= 0, 0 <= pct_start < 1, div, div_final > 0 */
int fit_opts_valid(const struct fit_opts *f);
/* lr_spread over ng groups, then the one-cycle schedule with f's shape */
void fit_cycle_init(struct onecycle *c, const struct fit_opts *f,
                    int n_epoch, int64_t n_iter, int ng);
/* after backward: clip, Adam step, zero the gradients, next schedule
 * position */
void fit_step(const struct fit_opts *f, struct optim *o, struct onecycle *c);

/* Where a run is: what a checkpoint must remember besides the weights,
 * the optimizer state and the settings. */
struct trainrun {
	int epoch, n_epoch;
	int64_t batch, step;    /* batch within epoch; steps since the start */
	int freeze_to, done;
	struct smooth_loss sm;
	uint64_t parent;        /* xxh64 of the checkpoint it started from */
};
/* A new fit: position 0, smoothed loss reset (a resumed run instead
 * takes its position from ckpt_meta_read). */
void trainrun_start(struct trainrun *r);
/* The generator of step's dropout masks: one stream per step (after
 * 2^40: below are the tools' other streams), so a resumed run draws the
 * same masks as an uninterrupted one. */
void trainrun_dropout_rng(struct rng *drop, uint64_t seed, int64_t step);
/* Recorder's train_loss: the debiased smoothed loss (NaN before a step) */
double trainrun_train_loss(const struct trainrun *r);
/* The position saved after an epoch: the next epoch's start. */
struct trainrun trainrun_next_epoch(const struct trainrun *r);

/* The checkpoint's metadata (settings, position) is ckpt.h's; the loop
 * that moves the position is fit.h's. */

/* ---- stopping ---------------------------------------------------------- */

/* The signal that asked the run to stop (SIGINT or SIGTERM), or 0: the
 * current step finishes, the tool saves a checkpoint and exits
 * 128 + signal.  A second signal gives up at once (temp files removed). */
extern volatile sig_atomic_t trainrun_stop;
/* Installs the handlers.  Tests set the environment variable test_env to
 * N to raise SIGINT before step N, through the real signal path. */
void trainrun_catch_stop(const char *test_env);
/* Before each training step: nonzero when the run must stop. */
int trainrun_stopping(int64_t step);

#endif
