/* trainrun.c: a training run's settings, position, checkpoint metadata and
 * stop flag.  See trainrun.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stream.h"
#include "learn/trainrun.h"
#include "core/util.h"

int
fit_opts_valid(const struct fit_opts *f)
{
	return f->wd >= 0 && f->pct_start >= 0 && f->pct_start < 1 &&
	       f->div > 0 && f->div_final > 0 && f->clip >= 0 &&
	       f->alpha >= 0 && f->beta >= 0;
}

void
fit_cycle_init(struct onecycle *c, const struct fit_opts *f, int n_epoch,
               int64_t n_iter, int ng)
{
	double lr[OPT_MAX_GROUPS];
	lr_spread(f->lr_lo, f->lr_hi, ng, lr);
	onecycle_init(c, n_epoch, n_iter, lr, ng);
	c->div = f->div, c->div_final = f->div_final;
	c->pct_start = f->pct_start;
	memcpy(c->moms, f->moms, sizeof c->moms);
}

void
fit_step(const struct fit_opts *f, struct optim *o, struct onecycle *c)
{
	if (f->clip > 0) {
		if (f->clip_global)
			opt_clip_global(o, f->clip);
		else
			opt_clip_groups(o, f->clip);
	}
	opt_step(o);
	opt_zero_grad(o);
	onecycle_next(c);
}

void
trainrun_start(struct trainrun *r)
{
	smooth_reset(&r->sm);
	r->epoch = 0, r->batch = 0, r->step = 0;
}

void
trainrun_dropout_rng(struct rng *drop, uint64_t seed, int64_t step)
{
	rng_seed(drop, seed, (1ULL << 40) + (uint64_t)step);
}

double
trainrun_train_loss(const struct trainrun *r)
{
	return r->sm.count ? r->sm.val / (1 - pow(0.98, (double)r->sm.count))
	                   : NAN;
}

struct trainrun
trainrun_next_epoch(const struct trainrun *r)
{
	struct trainrun at = *r;
	at.epoch++, at.batch = 0, at.done = at.epoch == at.n_epoch;
	return at;
}

/* ---- stopping ---------------------------------------------------------- */

volatile sig_atomic_t trainrun_stop;
static int64_t stop_step = -1;

static void
on_stop(int sig)
{
	if (trainrun_stop) {    /* second signal: give up now */
		out_cleanup_all();
		signal(sig, SIG_DFL);
		raise(sig);
	}
	trainrun_stop = sig;
}

void
trainrun_catch_stop(const char *test_env)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	/* a read or write blocked on a pipe (the stream from a fifo, the
	 * table to a slow reader) resumes: the flag is seen at the next step,
	 * not as "read error: Interrupted system call" */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	const char *at = test_env ? getenv(test_env) : NULL;
	stop_step = at ? strtoll(at, NULL, 10) : -1;
}

int
trainrun_stopping(int64_t step)
{
	if (step == stop_step)
		raise(SIGINT);
	return trainrun_stop;
}
