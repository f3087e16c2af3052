/* fit.c: the training driver (learn/fit.h) with a learner whose model is
 * one parameter: the batches, steps, dropout streams and schedule it is
 * given, the checkpoints it asks for, SIGINT at a step (saved position,
 * 128 + signal), a resume from that position that continues exactly as
 * the uninterrupted run, a stop during validation, and divergence. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "core/util.h"
#include "learn/fit.h"

#define NB 5            /* batches per epoch */
#define NE 3            /* epochs */
#define NS (NB * NE)

struct mock {
	struct learner l;
	struct optim *opt;
	float w, g;
	int ntrain, nfetch, nsave, stop_in_valid;
	int64_t step_i[NS], step_batch[NS];
	uint64_t draw[NS];      /* first draw of each step's dropout stream */
	double lr[NS];          /* lr the schedule gave each step */
	struct trainrun saved[NE + 1];
	float saved_w[NE + 1];
	int64_t steps;          /* steps taken (the run's step at entry) */
	double loss_at;         /* NaN at this step: divergence */
};

static int64_t
m_epoch_begin(struct learner *l, const struct trainrun *r)
{
	(void)l, (void)r;
	return NB;
}

static void
m_fetch(struct learner *l, int epoch, int64_t i)
{
	(void)epoch, (void)i;
	((struct mock *)l->self)->nfetch++;
}

static double
m_train(struct learner *l, int64_t i, struct rng *drop, double *smooth)
{
	struct mock *m = l->self;
	int64_t s = m->steps++;
	m->step_i[s] = i;
	m->draw[s] = rng_next(drop);
	m->lr[s] = m->opt->g[0].lr;
	m->ntrain++;
	/* a loss that depends on the step only (so a resumed run, whose
	 * mock has no Adam state to restore, smooths the same values) */
	double loss = 1 + 0.125 * (double)s;
	m->g = 1;
	*smooth = loss;
	return s == (int64_t)m->loss_at ? NAN : loss;
}

static int
m_validate(struct learner *l, double *loss, double *metrics)
{
	struct mock *m = l->self;
	if (m->stop_in_valid) {
		trainrun_stop = SIGTERM;
		return 1;
	}
	*loss = m->w * m->w;
	metrics[0] = m->w;
	return 0;
}

static int
m_save(struct learner *l, const struct trainrun *r)
{
	struct mock *m = l->self;
	m->saved[m->nsave] = *r;
	m->saved_w[m->nsave] = m->w;
	m->nsave++;
	return 0;
}

/* Run fit_run from position run (the table and messages to /dev/null). */
static int
run_fit(struct mock *m, struct trainrun *run, float w0)
{
	static const struct fit_opts fo = FIT_OPTS_DEFAULT;
	struct fit_opts f = fo;
	struct optim opt;
	struct onecycle cyc;
	struct recorder rec;
	long shape[1] = { 1 };
	f.lr_lo = f.lr_hi = 0.1;
	m->w = w0, m->g = 0;
	optim_init(&opt, 1);
	opt_add(&opt, "w", &m->w, &m->g, 1, shape, 0, 0);
	opt_freeze_to(&opt, 0);
	opt_set_wd(&opt, 0);
	fit_cycle_init(&cyc, &f, run->n_epoch, NB, 1);
	m->opt = &opt;
	m->steps = run->step;
	m->l = (struct learner){ .tool = "fit", .resume_tail = "", .self = m,
		.epoch_begin = m_epoch_begin, .fetch = m_fetch,
		.train_batch = m_train, .validate = m_validate, .save = m_save,
		.out = "x.pth", .quiet = 1 };
	recorder_init(&rec, (const char *[]){ "w" }, 1);
	fflush(stdout);
	int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 1), dup2(null, 2);
	int ret = fit_run(&m->l, run, &f, &opt, &cyc, &rec, 42);
	fflush(stdout);
	dup2(out, 1), dup2(err, 2);
	close(out), close(err), close(null);
	recorder_close(&rec);
	optim_free(&opt);
	return ret;
}

static void
diverge(const void *arg, size_t n)
{
	(void)arg, (void)n;
	static struct mock m;
	struct trainrun run = { .n_epoch = NE };
	trainrun_start(&run);
	m.loss_at = 7;
	run_fit(&m, &run, 0);
}

int
main(void)
{
	argv0 = "fit";
	static struct mock full, cut, rest, val;

	/* the whole run */
	struct trainrun run = { .n_epoch = NE };
	trainrun_start(&run);
	full.loss_at = -1;
	ok(run_fit(&full, &run, 0) == 0, "3 epochs: returns 0");
	ok(full.ntrain == NS && full.nfetch == NS, "%d steps, every batch "
	   "fetched once", full.ntrain);
	int order = 1, draws = 1;
	for (int s = 0; s < NS; s++) {
		struct rng d;
		trainrun_dropout_rng(&d, 42, s);
		order &= full.step_i[s] == s % NB;
		draws &= full.draw[s] == rng_next(&d);
	}
	ok(order, "batches 0..4 in every epoch");
	ok(draws, "step s draws from trainrun_dropout_rng(seed, s)");
	ok(full.lr[0] < full.lr[NS / 4] && full.lr[NS - 1] < full.lr[0],
	   "one-cycle: warm-up then anneal (%g, %g, %g)", full.lr[0],
	   full.lr[NS / 4], full.lr[NS - 1]);
	ok(full.nsave == NE && full.saved[0].epoch == 1 &&
	   full.saved[0].batch == 0 && !full.saved[0].done &&
	   full.saved[NE - 1].epoch == NE && full.saved[NE - 1].done &&
	   full.saved[NE - 1].step == NS, "a checkpoint after every epoch, "
	   "the next epoch's start, done after the last");
	ok(full.saved_w[NE - 1] != 0 && full.saved[NE - 1].sm.count == NS,
	   "the parameter moved; %lld losses smoothed",
	   (long long)full.saved[NE - 1].sm.count);

	/* SIGINT before step 7 (epoch 1, batch 2), through the handler */
	setenv("FIT_TEST_STOP_AT", "7", 1);
	trainrun_catch_stop("FIT_TEST_STOP_AT");
	struct trainrun r2 = { .n_epoch = NE };
	trainrun_start(&r2);
	cut.loss_at = -1;
	int ret = run_fit(&cut, &r2, 0);
	ok(ret == 128 + SIGINT, "SIGINT at step 7: returns 128 + SIGINT (%d)",
	   ret);
	ok(cut.ntrain == 7 && cut.nsave == 2 && cut.saved[1].epoch == 1 &&
	   cut.saved[1].batch == 2 && cut.saved[1].step == 7 &&
	   !cut.saved[1].done, "... after 7 steps, saved at epoch 1, batch 2, "
	   "step 7");
	unsetenv("FIT_TEST_STOP_AT");
	trainrun_catch_stop("FIT_TEST_STOP_AT");
	trainrun_stop = 0;

	/* resume from the saved position */
	struct trainrun r3 = cut.saved[1];
	rest.loss_at = -1;
	ret = run_fit(&rest, &r3, cut.saved_w[1]);
	ok(ret == 0 && rest.ntrain == NS - 7, "resumed: the %d steps left",
	   rest.ntrain);
	ok(rest.nfetch == NS - NB, "... reading past the 2 batches done (%d "
	   "fetches)", rest.nfetch);
	int same = 1;
	for (int s = 7; s < NS; s++)
		same &= rest.step_i[s] == full.step_i[s] &&
		        rest.draw[s] == full.draw[s] && rest.lr[s] == full.lr[s];
	ok(same, "... the same batches, dropout streams and lr per step as "
	   "the uninterrupted run");
	ok(rest.nsave == 2 && rest.saved[1].done && rest.saved[1].step == NS &&
	   rest.saved[1].sm.count == NS &&
	   rest.saved[1].sm.val == full.saved[NE - 1].sm.val,
	   "... ends where it does, smoothed loss bit for bit");

	/* a signal during validation: saved at the end of the epoch's batches */
	struct trainrun r4 = { .n_epoch = NE };
	trainrun_start(&r4);
	val.loss_at = -1;
	val.stop_in_valid = 1;
	ret = run_fit(&val, &r4, 0);
	ok(ret == 128 + SIGTERM && val.nsave == 1 && val.saved[0].epoch == 0 &&
	   val.saved[0].batch == NB, "stopped in validation: 128 + SIGTERM, "
	   "saved at epoch 0, batch %d", NB);
	trainrun_stop = 0;

	ok(child_status(diverge, NULL, 0) == 1, "a non-finite loss dies");
	return done_testing();
}
