/* fit.c: the training loop of awdtrain and clastrain.  See fit.h. */
#include <math.h>
#include <stdio.h>

#include "core/util.h"
#include "learn/fit.h"

int
fit_run(struct learner *l, struct trainrun *run, const struct fit_opts *f,
        struct optim *opt, struct onecycle *cyc, struct recorder *rec,
        uint64_t seed)
{
	int ret = 0;

	int main_rank = dist_main(), ranks = dist_size();
	double t_run = now_sec();

	if (main_rank)
		recorder_header(rec, stdout);
	for (; run->epoch < run->n_epoch; run->epoch++, run->batch = 0) {
		double t0 = now_sec();
		struct progress pr;
		int64_t nb = l->epoch_begin(l, run);
		onecycle_seek(cyc, run->epoch, run->batch);
		progress_init(&pr, "train", (uint64_t)nb, l->quiet || !main_rank);
		for (int64_t i = l->fetch ? 0 : run->batch; i < nb; i++) {
			if (l->fetch)
				l->fetch(l, run->epoch, i);
			if (i < run->batch)
				continue;       /* done before the interruption */
			dist_test_die(run->step);
			int stop = trainrun_stopping(run->step);
			if (ranks > 1 && (stop = dist_max_int(stop)))
				trainrun_stop = stop;   /* every rank stops here */
			if (stop)
				break;
			struct rng drop;
			double sm;
			/* the same on every rank: each draws its rows of the
			 * whole batch's masks (awd.h's row0, row_step) */
			trainrun_dropout_rng(&drop, seed, run->step);
			onecycle_apply(cyc, opt);
			l->share = 1;
			double loss = l->train_batch(l, i, &drop, &sm);
			if (ranks > 1) {
				double v[2] = { loss * l->share, sm * l->share };
				dist_sum(v, 2);
				loss = v[0], sm = v[1];
				dist_grad_reduce(opt, l->share);
			}
			if (!isfinite(loss))
				die("training diverged (loss %g at epoch %d, batch "
				    "%lld); lower the learning rate", loss,
				    run->epoch, (long long)i);
			smooth_add(&run->sm, sm);
			fit_step(f, opt, cyc);
			run->step++;
			run->batch = i + 1;
			progress_set(&pr, (uint64_t)i + 1);
		}
		progress_end(&pr);

		double vloss = 0, metrics[RECORDER_MAX_METRICS];
		if (ranks > 1)  /* all validate, or all save and stop */
			trainrun_stop = dist_max_int(trainrun_stop);
		if (trainrun_stop || l->validate(l, &vloss, metrics)) {
			if (ranks > 1 && run->batch > 0 && run->batch < nb) {
				/* mid-epoch the model's per-row state (the LSTM
				 * hidden state) is split over the ranks and rank
				 * 0 holds only its rows': the epoch's start stays
				 * the checkpoint */
				if (main_rank)
					warn("interrupted at epoch %d, batch %lld; a "
					     "data-parallel run saves at epoch ends: "
					     "%s (if there) holds the start of epoch "
					     "%d; continue with: %s --resume %s -o %s "
					     "%s", run->epoch, (long long)run->batch,
					     l->out, run->epoch, l->tool, l->out,
					     l->out, l->resume_tail);
				ret = 128 + (int)trainrun_stop;
				break;
			}
			ret = main_rank ? l->save(l, run) : 0;
			if (ranks > 1)
				ret = dist_max_int(ret);
			if (!ret && main_rank)
				warn("interrupted at epoch %d, batch %lld; saved %s; "
				     "continue with: %s --resume %s -o %s %s",
				     run->epoch, (long long)run->batch, l->out,
				     l->tool, l->out, l->out, l->resume_tail);
			ret = 128 + (int)trainrun_stop;
			break;
		}
		if (main_rank)
			recorder_epoch(rec, stdout, run->epoch,
			               trainrun_train_loss(run), vloss, metrics,
			               now_sec() - t0);
		struct trainrun at = trainrun_next_epoch(run);
		int bad = main_rank ? l->save(l, &at) : 0;
		if (ranks > 1)
			bad = dist_max_int(bad);
		if (bad) {
			ret = 1;
			break;
		}
		if (l->saved && main_rank)
			l->saved(l, &at);
	}
	if (ranks > 1 && main_rank && !l->quiet)
		warn("%d ranks: %zu bytes of gradients per all-reduce; %.3f s "
		     "in the reduce (with its copies), %.3f s in all", ranks,
		     dist_grad_bytes(), dist_reduce_seconds(), now_sec() - t_run);
	return ret;
}
