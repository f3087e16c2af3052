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

/* ---- metadata ---------------------------------------------------------- */

void
fit_meta_add(char **m, const struct fit_opts *f)
{
	params_add(m, "lr_lo", "%.17g", f->lr_lo);
	params_add(m, "lr_hi", "%.17g", f->lr_hi);
	params_add(m, "wd", "%.17g", f->wd);
	params_add(m, "moms", "%.17g,%.17g,%.17g", f->moms[0], f->moms[1],
	           f->moms[2]);
	params_add(m, "pct_start", "%.17g", f->pct_start);
	params_add(m, "div", "%.17g", f->div);
	params_add(m, "div_final", "%.17g", f->div_final);
	params_add(m, "clip", "%.17g", f->clip);
	params_add(m, "clip_global", "%d", f->clip_global);
	params_add(m, "alpha", "%.17g", f->alpha);
	params_add(m, "beta", "%.17g", f->beta);
}

void
trainrun_meta_add(char **m, const struct trainrun *r)
{
	params_add(m, "freeze_to", "%d", r->freeze_to);
	params_add(m, "n_epoch", "%d", r->n_epoch);
	params_add(m, "epoch", "%d", r->epoch);
	params_add(m, "batch", "%lld", (long long)r->batch);
	params_add(m, "step", "%lld", (long long)r->step);
	params_add(m, "done", "%d", r->done);
	params_add(m, "smooth_val", "%a", r->sm.val);
	params_add(m, "smooth_count", "%lld", (long long)r->sm.count);
	params_add(m, "parent", "%016llx", (unsigned long long)r->parent);
}

double
trainrun_meta_num(const struct pth *p, const char *key, const char *what)
{
	return pth_meta_double(p, key, what);
}

/* The same rules as the command line's: fit_opts_valid and parse_lr's. */
void
fit_meta_read(struct fit_opts *f, const struct pth *p, const char *what)
{
	f->lr_lo = trainrun_meta_num(p, "lr_lo", what);
	f->lr_hi = trainrun_meta_num(p, "lr_hi", what);
	f->wd = trainrun_meta_num(p, "wd", what);
	const char *m = pth_meta_need(p, "moms", what);
	char tail;
	if (sscanf(m, "%lf,%lf,%lf%c", &f->moms[0], &f->moms[1], &f->moms[2],
	           &tail) != 3 || !isfinite(f->moms[0]) ||
	    !isfinite(f->moms[1]) || !isfinite(f->moms[2]))
		die("%s: metadata moms=%s is not three numbers; the file is "
		    "damaged or was not made by these tools", p->path, m);
	f->pct_start = trainrun_meta_num(p, "pct_start", what);
	f->div = trainrun_meta_num(p, "div", what);
	f->div_final = trainrun_meta_num(p, "div_final", what);
	f->clip = trainrun_meta_num(p, "clip", what);
	f->clip_global = (int)pth_meta_int(p, "clip_global", what, 0, 1);
	f->alpha = trainrun_meta_num(p, "alpha", what);
	f->beta = trainrun_meta_num(p, "beta", what);
	if (!fit_opts_valid(f) || !(f->lr_hi > 0 && f->lr_lo >= 0 &&
	                            f->lr_lo <= f->lr_hi))
		die("%s: its metadata holds settings the command line refuses "
		    "(lr, wd, pct_start, div, div_final, clip, alpha or beta "
		    "out of range); the file is damaged or was not made by "
		    "these tools", p->path);
}

void
trainrun_meta_read(struct trainrun *r, const struct pth *p, const char *what)
{
	r->freeze_to = (int)pth_meta_int(p, "freeze_to", what, -64, 64);
	r->n_epoch = (int)pth_meta_int(p, "n_epoch", what, 1, INT32_MAX);
	r->epoch = (int)pth_meta_int(p, "epoch", what, 0, r->n_epoch);
	r->batch = pth_meta_int(p, "batch", what, 0, INT64_MAX);
	r->step = pth_meta_int(p, "step", what, 0, INT64_MAX);
	r->sm.val = trainrun_meta_num(p, "smooth_val", what);
	r->sm.count = pth_meta_int(p, "smooth_count", what, 0, INT64_MAX);
	r->parent = pth_meta_u64(p, "parent", what, 16);
}

void
trainrun_refuse_done(const struct pth *p, const char *what)
{
	if (pth_meta_int(p, "done", what, 0, 1))
		die("%s: its run finished; start the next stage with -c %s",
		    p->path, p->path);
}

int
trainrun_save(const char *path, const struct pth_tensor *t, int n,
              struct optim *opt, const char *meta)
{
	struct pv_pool pool = {0};
	struct pv *sd = pth_state_dict(&pool, t, n);
	struct pv *root = pth_learner(&pool, sd, opt_state(opt, &pool));
	int r = pth_save(path, root, meta);
	pv_pool_free(&pool);
	return r;
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
