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

	recorder_header(rec, stdout);
	for (; run->epoch < run->n_epoch; run->epoch++, run->batch = 0) {
		double t0 = now_sec();
		struct progress pr;
		int64_t nb = l->epoch_begin(l, run);
		onecycle_seek(cyc, run->epoch, run->batch);
		progress_init(&pr, "train", (uint64_t)nb, l->quiet);
		for (int64_t i = l->fetch ? 0 : run->batch; i < nb; i++) {
			if (l->fetch)
				l->fetch(l, run->epoch, i);
			if (i < run->batch)
				continue;       /* done before the interruption */
			if (trainrun_stopping(run->step))
				break;
			struct rng drop;
			double sm;
			trainrun_dropout_rng(&drop, seed, run->step);
			onecycle_apply(cyc, opt);
			double loss = l->train_batch(l, i, &drop, &sm);
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
		if (trainrun_stop || l->validate(l, &vloss, metrics)) {
			ret = l->save(l, run);
			if (!ret)
				warn("interrupted at epoch %d, batch %lld; saved %s; "
				     "continue with: %s --resume %s -o %s %s",
				     run->epoch, (long long)run->batch, l->out,
				     l->tool, l->out, l->out, l->resume_tail);
			ret = 128 + (int)trainrun_stop;
			break;
		}
		recorder_epoch(rec, stdout, run->epoch, trainrun_train_loss(run),
		               vloss, metrics, now_sec() - t0);
		struct trainrun at = trainrun_next_epoch(run);
		if (l->save(l, &at)) {
			ret = 1;
			break;
		}
		if (l->saved)
			l->saved(l, &at);
	}
	return ret;
}
