/* gemm_bench: GFLOP/s of the GEMMs of one full-size LM training step
 * (fastai's AWD-LSTM: V 60000, emb 400, hidden 1152, bs 64 x bptt 72 =
 * 4608 rows), fp32 (blas_sgemm: OpenBLAS) against bf16 (gemm_bf16: AMX
 * tiles or vdpbf16ps), with the transposes and betas awd.c and lm.c pass.
 * Each product runs `reps` times, the two precisions alternated; the figure is
 * the best run's GFLOP/s per thread CPU second (CLOCK_THREAD_CPUTIME_ID:
 * steadier than wall time when other jobs share the cores, so run it
 * with 1 thread, as bench/gemm.sh does).  Built by bench/gemm.sh.
 * usage: gemm_bench threads reps
 *
 * The GEMM bound of one LM training step (bench/awd.sh): every product
 * the step runs (awd.c, lstm.c, lm.c: their shapes, transposes, betas,
 * the per-step recurrence on W_hh packed once, the decoder in lm.c's
 * chunks of rows), alone and back to back, with the same threads and
 * precision as the model; best of `reps` wall times per product, summed.
 * A step cannot be faster than that; awd.sh divides it by the step's
 * time to say what fraction of the bound the whole step reaches.
 * usage: gemm_bench step V E H B T threads reps
 * prints: fp32 seconds TAB bf16 seconds (bf16 - without AVX512-BF16) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "model/awd.h"
#include "core/util.h"

struct prod {
	int ta, tb, M, N, K;
	float beta;
	int n;          /* times a step */
	int rec;        /* 1: h W_hh^T per time step, 2: dpre W_hh (lstm.c) */
};

/* seconds of the best of reps runs of p, n times over */
static double
prod_time(struct kern *k, const struct prod *p, int reps)
{
	int M = p->M, N = p->N, K = p->K;
	float *A = xmalloc((size_t)M * K * sizeof *A);
	float *B = xmalloc((size_t)N * K * sizeof *B);
	float *C = xcalloc((size_t)M * N, sizeof *C);
	float *pk = p->rec ? xmalloc(gemm_pack_size(K, N) * sizeof *pk) : NULL;
	for (size_t j = 0; j < (size_t)M * K; j++)
		A[j] = (float)(j % 1000) * 1e-3f - 0.5f;
	for (size_t j = 0; j < (size_t)N * K; j++)
		B[j] = (float)(j % 997) * 1e-3f - 0.5f;
	int packed = p->rec && gemm_packed_ok();
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now_sec();
		if (packed && p->rec == 1)      /* W_hh (N,K): packed as B^T */
			gemm_pack_bt(k, pk, B, K, K, N);
		else if (packed)                /* W_hh (K,N) */
			gemm_pack_b(k, pk, B, N, K, N);
		for (int i = 0; i < p->n; i++)
			if (packed)
				gemm_packed(k, M, N, K, A, K, pk, C, N);
			else
				blas_sgemm(k, p->ta, p->tb, M, N, K, 1, A,
				           p->ta ? M : K, B, p->tb ? K : N, p->beta,
				           C, N);
		double t = now_sec() - t0;
		if (t < best)
			best = t;
	}
	free(A), free(B), free(C), free(pk);
	return best;
}

/* the products of one step of an LM of vocab V, emb E, hidden H, batch
 * B x T (3 layers), into p; returns how many */
static int
step_prods(struct prod *p, int V, int E, int H, int B, int T)
{
	struct awd_config c;
	awd_config_lm(&c, V, 1.0f);
	int n = 0, TB = B * T, L = c.layers;
	for (int l = 0; l < L; l++) {
		int I = l ? H : E, O = l == L - 1 ? E : H, G = 4 * O;
		p[n++] = (struct prod){ 0, 1, TB, G, I, 1, 1, 0 };  /* x W_ih^T */
		p[n++] = (struct prod){ 0, 1, B, G, O, 1, T, 1 };   /* h W_hh^T */
		p[n++] = (struct prod){ 0, 0, B, O, G, 1, T - 1, 2 }; /* dpre W_hh */
		p[n++] = (struct prod){ 1, 0, G, I, TB, 1, 1, 0 };  /* dW_ih */
		p[n++] = (struct prod){ 1, 0, G, O, B, 0, 1, 0 };   /* dW_hh, h0 */
		p[n++] = (struct prod){ 1, 0, G, O, TB - B, 1, 1, 0 };
		p[n++] = (struct prod){ 0, 0, TB, I, G, 0, 1, 0 };  /* dx */
	}
	/* the decoder in lm.c's chunks of at most 32M logits */
	int ch = (32 << 20) / V;
	ch = ch < 16 ? 16 : ch > TB ? TB : ch;
	for (int r = 0; r < 2; r++) {
		int rows = r ? TB % ch : ch, times = r ? 1 : TB / ch;
		if (!rows || !times)
			continue;
		p[n++] = (struct prod){ 0, 1, rows, V, E, 1, times, 0 };
		p[n++] = (struct prod){ 0, 0, rows, E, V, 0, times, 0 };
		p[n++] = (struct prod){ 1, 0, V, E, rows, 1, times, 0 };
	}
	return n;
}

static int
step_bound(char **argv)
{
	int V = atoi(argv[2]), E = atoi(argv[3]), H = atoi(argv[4]);
	int B = atoi(argv[5]), T = atoi(argv[6]), reps = atoi(argv[8]);
	kern_set_threads(atoi(argv[7]));
	struct kern *k = kern_default();
	struct prod p[32];
	int n = step_prods(p, V, E, H, B, T);
	double t[2] = { 0, 0 };
	for (int q = 0; q < 1 + gemm_bf16_ok(); q++) {
		kern_set_bf16(q);
		for (int i = 0; i < n; i++)
			t[q] += prod_time(k, &p[i], reps);
	}
	kern_set_bf16(0);
	if (gemm_bf16_ok())
		printf("%.4f\t%.4f\n", t[0], t[1]);
	else
		printf("%.4f\t-\n", t[0]);
	return 0;
}

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
	if (argc == 9 && !strcmp(argv[1], "step"))
		return step_bound(argv);
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
