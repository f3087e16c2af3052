/* awd_bench: tokens/s of one AWD-LSTM LM training step (forward +
 * backward with fastai's LM dropouts and AR/TAR, no optimizer), built by
 * bench/awd.sh against build/libcore.a and build/libkern.a.
 * usage: awd_bench V E H B T steps threads
 * AWD_BENCH_PRECISION=bf16: GEMMs in bf16 (awdtrain --precision bf16). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "model/lm.h"
#include "core/util.h"

static double
cpu_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	argv0 = "awd_bench";
	const char *ct = blas_setup(argv);
	if (argc != 8)
		usage_error("usage: awd_bench V E H B T steps threads");
	int V = atoi(argv[1]), E = atoi(argv[2]), H = atoi(argv[3]);
	int B = atoi(argv[4]), T = atoi(argv[5]), steps = atoi(argv[6]);
	kern_set_threads(atoi(argv[7]));
	const char *prec = getenv("AWD_BENCH_PRECISION");
	if (prec && !strcmp(prec, "bf16")) {
		if (!gemm_bf16_ok())
			die("--precision bf16: this CPU has no AVX512-BF16");
		kern_set_bf16(1);
	}
	struct awd_config c;
	awd_config_lm(&c, V, 1.0f);
	c.emb = E, c.hidden = H;
	struct lm lm;
	struct rng r;
	rng_seed(&r, 1, 0);
	lm_create(&lm, &c, B, T);
	lm_init(&lm, &r);
	uint32_t *tok = xmalloc((size_t)B * T * 4), *y = xmalloc((size_t)B * T * 4);
	for (int i = 0; i < B * T; i++)
		tok[i] = (uint32_t)rng_below(&r, V), y[i] = (uint32_t)rng_below(&r, V);
	struct lm_stats st;
	double best = 1e30, sum = 0, cpu = 0;
	for (int s = 0; s <= steps; s++) {
		double t0 = now_sec(), c0 = cpu_sec();
		awd_zero_grad(&lm.enc);
		lm_train_step(&lm, tok, y, B, T, &r, &st);
		double dt = now_sec() - t0;
		if (s == 0)
			continue;       /* warm-up: page faults, BLAS buffers */
		sum += dt;
		cpu += cpu_sec() - c0;
		if (dt < best)
			best = dt;
	}
	/* last column: tokens per second of process CPU time, all threads
	 * together (with other jobs on the machine, steadier than wall) */
	printf("c\t%s\t%d\t%.1f\t%.1f\t%.4f\t%.1f\n", ct ? ct : "default",
	       kern_threads(), B * T / (sum / steps), B * T / best, st.ce,
	       B * T / (cpu / steps));
	lm_free(&lm);
	return 0;
}
