/* gemm_bench: GFLOP/s of the GEMMs of one full-size LM training step
 * (fastai's AWD-LSTM: V 60000, emb 400, hidden 1152, bs 64 x bptt 72 =
 * 4608 rows), fp32 (blas_sgemm: OpenBLAS) against bf16 (gemm_bf16:
 * vdpbf16ps), with the transposes and betas awd.c and lm.c pass.  Each
 * product runs `reps` times, the two precisions alternated; the figure is
 * the best run's GFLOP/s per thread CPU second (CLOCK_THREAD_CPUTIME_ID:
 * steadier than wall time when other jobs share the cores, so run it
 * with 1 thread, as bench/gemm.sh does).  Built by bench/gemm.sh.
 * usage: gemm_bench threads reps */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "core/util.h"

static double
tcpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	static const struct { const char *name; int ta, tb, M, N, K; float beta; }
	s[] = {
		{ "fwd x W_ih^T, layer 0", 0, 1, 4608, 4608, 400, 1 },
		{ "fwd x W_ih^T, layer 1", 0, 1, 4608, 4608, 1152, 1 },
		{ "fwd x W_ih^T, layer 2", 0, 1, 4608, 1600, 1152, 1 },
		{ "bwd dW_ih += dpre^T x, l1", 1, 0, 4608, 1152, 4608, 1 },
		{ "bwd dx = dpre W_ih, l1", 0, 0, 4608, 1152, 4608, 0 },
		{ "decoder fwd", 0, 1, 4608, 60000, 400, 1 },
		{ "decoder dx", 0, 0, 4608, 400, 60000, 0 },
		{ "decoder dW", 1, 0, 60000, 400, 4608, 1 },
	};
	argv0 = "gemm_bench";
	const char *ct = blas_setup(argv);
	if (argc != 3)
		usage_error("usage: gemm_bench threads reps");
	int thr = atoi(argv[1]), reps = atoi(argv[2]);
	if (!gemm_bf16_ok())
		die("this CPU has no AVX512-BF16: nothing to compare");
	kern_set_threads(thr);
	struct kern *k = kern_default();
	printf("%-27s %5s %5s %5s %4s %9s %9s %6s   (OpenBLAS %s, %d thread%s)\n",
	       "product", "M", "N", "K", "beta", "fp32", "bf16", "ratio", ct,
	       thr, thr > 1 ? "s" : "");
	double lf = 0, lb = 0, fl_all = 0;
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		int M = s[i].M, N = s[i].N, K = s[i].K, ta = s[i].ta, tb = s[i].tb;
		float *A = xmalloc((size_t)M * K * sizeof *A);
		float *B = xmalloc((size_t)N * K * sizeof *B);
		float *C = xcalloc((size_t)M * N, sizeof *C);
		for (size_t j = 0; j < (size_t)M * K; j++)
			A[j] = (float)(j % 1000) * 1e-3f - 0.5f;
		for (size_t j = 0; j < (size_t)N * K; j++)
			B[j] = (float)(j % 997) * 1e-3f - 0.5f;
		int lda = ta ? M : K, ldb = tb ? K : N;
		double best[2] = { 1e30, 1e30 };
		for (int r = 0; r < reps; r++)
			for (int p = 0; p < 2; p++) {
				int q = r & 1 ? 1 - p : p;
				double t0 = tcpu();
				if (q)
					gemm_bf16(k, ta, tb, M, N, K, 1, A, lda, B, ldb,
					          s[i].beta, C, N);
				else
					blas_sgemm(k, ta, tb, M, N, K, 1, A, lda, B, ldb,
					           s[i].beta, C, N);
				double t = tcpu() - t0;
				if (t < best[q])
					best[q] = t;
			}
		double fl = 2.0 * M * N * K / 1e9;
		printf("%-27s %5d %5d %5d %4g %9.1f %9.1f %5.2fx\n", s[i].name, M,
		       N, K, s[i].beta, fl / best[0], fl / best[1],
		       best[0] / best[1]);
		lf += best[0], lb += best[1], fl_all += fl;
		free(A), free(B), free(C);
	}
	printf("%-27s %5s %5s %5s %4s %9.1f %9.1f %5.2fx\n", "the eight, time summed",
	       "", "", "", "", fl_all / lf, fl_all / lb, lf / lb);
	return 0;
}
