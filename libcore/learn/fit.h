/* fit.h: the training loop both trainers run (fastai's fit_one_cycle
 * through a Learner), behind a small learner interface.
 *
 * The driver owns: epochs and batches from the run's position (a resumed
 * run skips the batches done), the one-cycle schedule, each step's
 * dropout stream, clipping and the Adam step (fit_step), the smoothed
 * loss, the progress bar, validation and the recorder's line per epoch,
 * a checkpoint after every epoch, and SIGINT/SIGTERM: the step under way
 * finishes, a checkpoint of the position reached is saved, and fit_run
 * returns 128 + the signal.
 *
 * The tool fills a struct learner (its model, data and checkpoint) and
 * has already built the optimizer (groups, freeze_to, state) and cyc.
 *
 * Data parallel (mpirun, dist.h): every rank runs the loop on its rows;
 * after backward the losses and the gradients, weighted by l->share, are
 * summed over the ranks, so each takes the single process's step; the
 * stop flag is agreed on (a maximum over ranks) before each step; rank 0
 * alone prints, saves and logs.  Interrupted mid-epoch, a data-parallel
 * run saves nothing (each rank holds its rows' state): the checkpoint of
 * the epoch's start stays. */
#ifndef FIT_H
#define FIT_H

#include <stdint.h>

#include "core/rng.h"
#include "learn/dist.h"
#include "learn/optim.h"
#include "learn/recorder.h"
#include "learn/trainrun.h"

struct learner {
	const char *tool;       /* "awdtrain": messages */
	const char *resume_tail; /* after "continue with: TOOL --resume OUT -o
	                            OUT" when interrupted */
	void *self;             /* the tool's state */
	/* Start of epoch r->epoch (r->batch batches already done): returns
	 * the epoch's number of training batches. */
	int64_t (*epoch_begin)(struct learner *l, const struct trainrun *r);
	/* Optional: batch i of the epoch comes next, whether or not it is
	 * trained (a stream reader reads past the batches done). */
	void (*fetch)(struct learner *l, int epoch, int64_t i);
	/* Forward and backward of batch i in train mode with drop's masks:
	 * returns the loss the run must keep finite and sets *smooth, the
	 * value the smoothed train_loss follows. */
	double (*train_batch)(struct learner *l, int64_t i, struct rng *drop,
	                      double *smooth);
	/* Validation: valid_loss and the recorder's metrics.  Returns 1 when
	 * it stopped early for trainrun_stop (then nothing is recorded). */
	int (*validate)(struct learner *l, double *loss, double *metrics);
	/* Save a checkpoint of position r (the interrupted one, or the next
	 * epoch's start); returns 0, or 1 after saying why. */
	int (*save)(struct learner *l, const struct trainrun *r);
	/* Optional: after the checkpoint of a finished epoch was saved. */
	void (*saved)(struct learner *l, const struct trainrun *r);
	const char *out;        /* the checkpoint's path, for messages */
	/* Under mpirun (dist.h): this rank's share of the rows of the batch
	 * train_batch just did (its loss, smoothed loss and gradients are the
	 * rank's own mean); 1 alone.  Validate sums its totals over ranks. */
	double share;
	int quiet;              /* no progress bar */
};

/* Run the remaining epochs of run (its position says where to start).
 * rec has its header printed here (stdout).  Returns 0, 1 after a failed
 * save, or 128 + signal when interrupted (after saving). */
int fit_run(struct learner *l, struct trainrun *run, const struct fit_opts *f,
            struct optim *opt, struct onecycle *cyc, struct recorder *rec,
            uint64_t seed);

#endif
