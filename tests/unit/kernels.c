/* kernels/cpu: every kernel against a plain loop or a central
 * difference, and the spec's acceptance facts for dropout and CE. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "kernels.h"
#include "ops.h"
#include "philox.h"
#include "core/rng.h"

/* the context every kernel takes (the process's CPU one) */
static struct kern *kd;

static struct rng R;

static void
randu(float *x, size_t n, float k)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (2 * rng_float(&R) - 1) * k;
}

/* relative error of two gradient vectors: |a-b| / max(|a|,|b|,tiny) */
static double
relerr(const double *a, const float *b, size_t n)
{
	double d = 0, na = 0, nb = 0;
	for (size_t i = 0; i < n; i++) {
		d += (a[i] - b[i]) * (a[i] - b[i]);
		na += a[i] * a[i], nb += (double)b[i] * b[i];
	}
	double m = sqrt(na > nb ? na : nb);
	return m > 1e-12 ? sqrt(d) / m : sqrt(d);
}

static void
test_sgemm(void)
{
	enum { M = 7, N = 5, K = 9 };
	float A[K * M], B[N * K], C[M * N], W[M * N];
	randu(A, K * M, 1), randu(B, N * K, 1), randu(C, M * N, 1);
	memcpy(W, C, sizeof C);
	/* C = 2 A^T B^T + 0.5 C with A stored (K,M), B stored (N,K) */
	blas_sgemm(kd, 1, 1, M, N, K, 2, A, M, B, K, 0.5f, C, N);
	double err = 0;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			double s = 0;
			for (int k = 0; k < K; k++)
				s += (double)A[k * M + i] * B[j * K + k];
			err = fmax(err, fabs(2 * s + 0.5 * W[i * N + j] - C[i * N + j]));
		}
	ok(err < 1e-5, "blas_sgemm(T,T) == loop (max err %.2g)", err);
}

/* blas_sgemv, both layouts, on 1 and 2 threads, against a double loop:
 * odd shapes, GPT-2's, lda > width, beta 0 (y not read: it starts NaN)
 * and not, the outputs cut between the threads by blas.c. */
static void
test_sgemv(void)
{
	static const int shape[][2] = { { 1, 1 }, { 3, 700 }, { 1299, 77 },
	                                { 2304, 768 }, { 50, 3 } };
	for (int s = 0; s < 5; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int b = 0; b < 2; b++) {
				int M = shape[s][0], N = shape[s][1];
				int rows = ta ? N : M, cols = ta ? M : N;
				int lda = cols + 3;
				float beta = b ? 0.5f : 0.0f;
				float *A = malloc((size_t)rows * lda * sizeof *A);
				float *x = malloc(N * sizeof *x);
				float *y0 = malloc(M * sizeof *y0);
				float *y1 = malloc(M * sizeof *y1);
				float *y2 = malloc(M * sizeof *y2);
				randu(A, (size_t)rows * lda, 1), randu(x, N, 1);
				randu(y0, M, 1);
				for (int m = 0; m < M; m++)
					y1[m] = y2[m] = b ? y0[m] : NAN;
				kern_set_threads(1);
				blas_sgemv(kd, ta, M, N, 1.5f, A, lda, x, beta, y1);
				kern_set_threads(2);
				blas_sgemv(kd, ta, M, N, 1.5f, A, lda, x, beta, y2);
				kern_set_threads(1);
				double err = 0;
				for (int m = 0; m < M; m++) {
					/* error relative to the sum of the
					 * terms' sizes (a float sum's bound) */
					double t = 0, mag = 0;
					for (int n = 0; n < N; n++) {
						double v = (double)(ta ? A[(size_t)n * lda + m] :
						                    A[(size_t)m * lda + n]) * x[n];
						t += v, mag += fabs(v);
					}
					t = 1.5 * t + (b ? 0.5 * y0[m] : 0);
					mag = 1.5 * mag + (b ? fabs(0.5 * y0[m]) : 0);
					err = fmax(err, fabs(t - y1[m]) / (1e-30 + mag));
					err = fmax(err, fabs(t - y2[m]) / (1e-30 + mag));
					if (isnan(y1[m]) || isnan(y2[m]))
						err = INFINITY;
				}
				ok(err < 1e-6,
				   "blas_sgemv %s %dx%d beta %g == loop, 1 and 2 "
				   "threads (max err %.2g of the terms' sizes)",
				   ta ? "A^T x" : "A x", M, N, beta, err);
				free(A), free(x), free(y0), free(y1), free(y2);
			}
}

/* blas_sgemm cut between the threads of our pool (blas.c: OpenBLAS runs
 * single-threaded inside each piece): every transpose, C cut by rows and
 * by columns, odd sizes past the 16-wide pieces, beta 0 (C starts NaN)
 * and 1; 2 threads give 1 thread's bits, and both the double loop's
 * values. */
static void
test_sgemm_threads(void)
{
	static const int shape[][3] = { { 301, 70, 200 }, { 45, 1001, 100 },
	                                { 17, 17, 9000 } };
	int same = 1, n = 0;
	double err = 0;
	for (int s = 0; s < 3; s++)
		for (int t = 0; t < 8; t++) {
			int ta = t & 1, tb = t >> 1 & 1, b = t >> 2;
			int M = shape[s][0], N = shape[s][1], K = shape[s][2];
			int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2;
			int ldc = N + 3;
			size_t na = (size_t)(ta ? K : M) * lda;
			size_t nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
			float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
			float *C0 = malloc(nc * sizeof *C0);
			float *C1 = malloc(nc * sizeof *C1);
			float *C2 = malloc(nc * sizeof *C2);
			randu(A, na, 1), randu(B, nb, 1), randu(C0, nc, 1);
			for (size_t i = 0; i < nc; i++)
				C1[i] = C2[i] = b ? C0[i] : NAN;
			kern_set_threads(1);
			blas_sgemm(kd, ta, tb, M, N, K, 0.5f, A, lda, B, ldb,
			           (float)b, C1, ldc);
			kern_set_threads(2);
			blas_sgemm(kd, ta, tb, M, N, K, 0.5f, A, lda, B, ldb,
			           (float)b, C2, ldc);
			kern_set_threads(1);
			same &= !memcmp(C1, C2, nc * sizeof *C1);
			for (int i = 0; i < M; i++)
				for (int j = 0; j < N; j++) {
					double v = 0, mag = 0;
					for (int k = 0; k < K; k++) {
						double p = (double)(ta ? A[(size_t)k * lda + i] :
						                    A[(size_t)i * lda + k]) *
						           (tb ? B[(size_t)j * ldb + k] :
						            B[(size_t)k * ldb + j]);
						v += p, mag += fabs(p);
					}
					size_t c = (size_t)i * ldc + j;
					v = 0.5 * v + (b ? C0[c] : 0);
					mag = 0.5 * mag + (b ? fabs(C0[c]) : 0);
					double e = fabs(v - C2[c]) / (1e-30 + mag);
					err = isnan(C2[c]) ? INFINITY : fmax(err, e);
				}
			n++;
			free(A), free(B), free(C0), free(C1), free(C2);
		}
	ok(same, "blas_sgemm: 2 threads give 1 thread's bits (%d products)", n);
	ok(err < 1e-6, "blas_sgemm on 2 threads == loop (max err %.2g of the "
	   "terms' sizes)", err);
}

/* ---- LSTM: loss = sum(ry * y) over a T-step layer ---- */
enum { LT = 4, LB = 3, LI = 5, LH = 4, LG = 4 * LH };
static float l_x[LT * LB * LI], l_wih[LG * LI], l_whh[LG * LH], l_b[LG];
static float l_h0[LB * LH], l_c0[LB * LH], l_ry[LT * LB * LH];

static double
lstm_loss(float *act, float *y, float *c, float *tc)
{
	for (int n = 0; n < LT * LB; n++)
		memcpy(act + n * LG, l_b, sizeof l_b);
	blas_sgemm(kd, 0, 1, LT * LB, LG, LI, 1, l_x, LI, l_wih, LI, 1, act,
	           LG);
	lstm_fwd(kd, act, l_whh, l_h0, l_c0, y, c, tc, LT, LB, LH);
	double s = 0;
	for (int i = 0; i < LT * LB * LH; i++)
		s += (double)l_ry[i] * y[i];
	return s;
}

static void
test_lstm(void)
{
	static float act[LT * LB * LG], y[LT * LB * LH], c[LT * LB * LH],
	    tc[LT * LB * LH], dy[LT * LB * LH], dpre[LT * LB * LG], dc[LB * LH];
	randu(l_x, sizeof l_x / 4, 1), randu(l_wih, sizeof l_wih / 4, 0.5f);
	randu(l_whh, sizeof l_whh / 4, 0.5f), randu(l_b, LG, 0.5f);
	randu(l_h0, LB * LH, 1), randu(l_c0, LB * LH, 1);
	randu(l_ry, sizeof l_ry / 4, 1);
	lstm_loss(act, y, c, tc);

	/* y[t] == o * tanh(c) and c = f c' + i g, by hand for one element */
	{
		int t = 1, b = 2, j = 3;
		const float *a = act + (t * LB + b) * LG;
		float cp = c[((t - 1) * LB + b) * LH + j];
		float cc = a[LH + j] * cp + a[j] * a[2 * LH + j];
		ok(fabsf(cc - c[(t * LB + b) * LH + j]) < 1e-6f &&
		   fabsf(a[3 * LH + j] * tanhf(cc) - y[(t * LB + b) * LH + j]) < 1e-6f,
		   "lstm_fwd: c' = f c + i g, h = o tanh(c') (gate order i f g o)");
	}
	/* analytic gradient: dy = ry */
	memcpy(dy, l_ry, sizeof dy);
	lstm_bwd(kd, act, l_whh, l_c0, c, tc, dy, dpre, dc, LT, LB, LH);
	/* gradients of W_ih, W_hh, b, x from dpre */
	static float g_wih[LG * LI], g_whh[LG * LH], g_b[LG], g_x[LT * LB * LI];
	memset(g_wih, 0, sizeof g_wih), memset(g_whh, 0, sizeof g_whh);
	memset(g_b, 0, sizeof g_b);
	blas_sgemm(kd, 1, 0, LG, LI, LT * LB, 1, dpre, LG, l_x, LI, 1, g_wih,
	           LI);
	blas_sgemm(kd, 1, 0, LG, LH, LB, 1, dpre, LG, l_h0, LH, 1, g_whh, LH);
	blas_sgemm(kd, 1, 0, LG, LH, (LT - 1) * LB, 1, dpre + LB * LG, LG, y,
	           LH, 1, g_whh, LH);
	for (int n = 0; n < LT * LB; n++)
		for (int j = 0; j < LG; j++)
			g_b[j] += dpre[n * LG + j];
	blas_sgemm(kd, 0, 0, LT * LB, LI, LG, 1, dpre, LG, l_wih, LI, 0, g_x,
	           LI);

	/* finite differences */
	struct { float *p; size_t n; float *g; const char *name; } v[] = {
		{ l_wih, LG * LI, g_wih, "W_ih" }, { l_whh, LG * LH, g_whh, "W_hh" },
		{ l_b, LG, g_b, "bias" }, { l_x, LT * LB * LI, g_x, "x" },
	};
	for (size_t k = 0; k < sizeof v / sizeof *v; k++) {
		static double fd[LT * LB * LI + LG * LI];
		for (size_t i = 0; i < v[k].n; i++) {
			float s = v[k].p[i], e = 1e-2f;
			v[k].p[i] = s + e;
			double lp = lstm_loss(act, y, c, tc);
			v[k].p[i] = s - e;
			double lm = lstm_loss(act, y, c, tc);
			v[k].p[i] = s;
			fd[i] = (lp - lm) / (2.0 * e);
		}
		double r = relerr(fd, v[k].g, v[k].n);
		ok(r < 2e-3, "lstm_bwd: d%s == central difference (rel %.2g)",
		   v[k].name, r);
	}
}

static void
test_cell(void)
{
	enum { B = 2, H = 3 };
	float pre[B * 4 * H], p0[B * 4 * H], cp[B * H], c[B * H], tc[B * H],
	    h[B * H], rh[B * H], rc[B * H], dh[B * H], dc[B * H], dpre[B * 4 * H];
	randu(p0, B * 4 * H, 2), randu(cp, B * H, 1);
	randu(rh, B * H, 1), randu(rc, B * H, 1);
	memcpy(pre, p0, sizeof pre);
	lstm_cell_fwd(kd, pre, cp, c, tc, h, B, H);
	memcpy(dh, rh, sizeof dh), memcpy(dc, rc, sizeof dc);
	lstm_cell_bwd(kd, pre, cp, tc, dh, dc, dpre, B, H);
	double fd[B * 4 * H], fdc[B * H];
	float dcp[B * H];
	memcpy(dcp, dc, sizeof dcp);
	for (int i = 0; i < B * 4 * H + B * H; i++) {
		double l[2];
		for (int s = 0; s < 2; s++) {
			float e = s ? -1e-2f : 1e-2f;
			memcpy(pre, p0, sizeof pre);
			float cq[B * H];
			memcpy(cq, cp, sizeof cq);
			if (i < B * 4 * H)
				pre[i] += e;
			else
				cq[i - B * 4 * H] += e;
			lstm_cell_fwd(kd, pre, cq, c, tc, h, B, H);
			l[s] = 0;
			for (int q = 0; q < B * H; q++)
				l[s] += (double)rh[q] * h[q] + (double)rc[q] * c[q];
		}
		if (i < B * 4 * H)
			fd[i] = (l[0] - l[1]) / 2e-2;
		else
			fdc[i - B * 4 * H] = (l[0] - l[1]) / 2e-2;
	}
	double r1 = relerr(fd, dpre, B * 4 * H), r2 = relerr(fdc, dcp, B * H);
	ok(r1 < 1e-3 && r2 < 1e-3,
	   "lstm_cell_bwd: d gates, d c_prev == central difference (%.2g %.2g)",
	   r1, r2);
	float big = sigmoidf_elem(-100.0f), one = sigmoidf_elem(100.0f);
	ok(big >= 0 && big < 1e-40f && one == 1.0f && isfinite(big),
	   "sigmoid is stable at +-100");
}

static void
test_embed(void)
{
	enum { V = 6, E = 3, B = 2, T = 3 };
	float w[V * E], out[T * B * E], scale[V] = { 2, 2, 0, 2, 0, 2 };
	float dw[V * E] = { 0 }, dout[T * B * E];
	uint32_t tok[B * T] = { 0, 1, 2, 1, 5, 4 };
	randu(w, V * E, 1);
	embed_fwd(kd, w, scale, tok, out, B, T, E);
	int good = 1;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int e = 0; e < E; e++) {
				uint32_t v = tok[b * T + t];
				float o = out[(t * B + b) * E + e];
				good &= o == (scale[v] ? 2 * w[v * E + e] : 0.0f);
			}
	ok(good, "EmbeddingDropout(0.5): each row is 0 or exactly 2x the weight row, time-major out");
	for (int i = 0; i < T * B * E; i++)
		dout[i] = 1;
	embed_bwd(kd, dw, scale, tok, dout, B, T, E, 1);
	/* token 0 once (x2), token 1 is pad: no grad; 2, 4 dropped; 5 once */
	ok(dw[0] == 2 && dw[1 * E] == 0 && dw[2 * E] == 0 && dw[4 * E] == 0 &&
	   dw[5 * E] == 2 && dw[3 * E] == 0,
	   "embed_bwd: scatter-add x scale, nothing into the pad row or dropped rows");
	memset(dw, 0, sizeof dw);
	uint32_t rep[B * T] = { 3, 3, 3, 0, 3, 0 };
	embed_bwd(kd, dw, NULL, rep, dout, B, T, E, -1);
	ok(dw[3 * E] == 4 && dw[0] == 2, "embed_bwd: repeated tokens accumulate");
}

static void
test_dropout(void)
{
	enum { B = 4, T = 3, F = 7 };
	float x[T * B * F], x0[T * B * F], mask[B * F];
	randu(x0, T * B * F, 1);
	memcpy(x, x0, sizeof x);
	dropout_mask_key(kd, mask, B * F, 0.3f, rng_next(&R), DROP_INPUT);
	dropout_apply_rows(kd, x, mask, T, B * F);
	int good = 1, zeros = 0;
	float k = 1.0f / (1.0f - 0.3f);
	for (int i = 0; i < B * F; i++) {
		int z = x[i] == 0;
		zeros += z;
		for (int t = 0; t < T; t++) {
			float v = x[t * B * F + i], v0 = x0[t * B * F + i];
			good &= z ? v == 0 : v == v0 * k;
		}
	}
	ok(good && zeros > 0 && zeros < B * F,
	   "RNNDropout(0.3) on (4,3,7): every (b,f) is 0 at all steps or x/0.7 at all steps (%d zeros)",
	   zeros);
	static float big[100000];
	dropout_mask_key(kd, big, 100000, 0.25f, 77, DROP_INPUT);
	int z = 0, bad = 0;
	for (int i = 0; i < 100000; i++)
		z += big[i] == 0, bad += big[i] != 0 && big[i] != 1.0f / 0.75f;
	ok(!bad && z > 24500 && z < 25500,
	   "dropout_mask_key(0.25): %d zeros of 100000, others 1/0.75", z);
	dropout_mask_key(kd, big, 100, 0, 77, DROP_INPUT);
	ok(big[0] == 1 && big[99] == 1, "dropout_mask_key(p = 0) is all ones");
	dropout_mask_rows(kd, big, 10, 10, 0, 77, DROP_INPUT, 3, 2);
	ok(big[0] == 1 && big[99] == 1, "dropout_mask_rows(p = 0) is all ones");
}

/* Philox-4x32-10: the known-answer vectors of Random123 (kat_vectors,
 * the SC'11 paper's generator): counter, key -> output */
static void
test_philox(void)
{
	static const uint32_t kat[3][10] = {
		{ 0, 0, 0, 0, 0, 0,
		  0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 },
		{ 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
		  0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
		{ 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822,
		  0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
	};
	for (int v = 0; v < 3; v++) {
		uint32_t out[4];
		philox4x32_10(kat[v], kat[v] + 4, out);
		ok(out[0] == kat[v][6] && out[1] == kat[v][7] &&
		   out[2] == kat[v][8] && out[3] == kat[v][9],
		   "philox4x32_10 known answer %d: %08x %08x %08x %08x", v,
		   out[0], out[1], out[2], out[3]);
	}

	/* dropout_mask_key == the definition in dropout.h, element by
	 * element, on 2 threads (pieces start inside a block of 4), into a
	 * poisoned buffer */
	enum { N = 40003 };
	static float m[N + 1], m2[N + 1];
	uint64_t key = 0x0123456789abcdefULL;
	float p = 0.3f, keep = 1.0f / (1.0f - p);
	kern_set_threads(2);
	for (int i = 0; i <= N; i++)
		m[i] = NAN;
	dropout_mask_key(kd, m, N, p, key, DROP_WEIGHT + 2);
	int bad = 0;
	for (long i = 0; i < N; i++) {
		uint32_t ctr[4] = { (uint32_t)(i / 4), 0, DROP_WEIGHT + 2, 0 };
		uint32_t k2[2] = { (uint32_t)key, (uint32_t)(key >> 32) }, w[4];
		philox4x32_10(ctr, k2, w);
		float u = (float)(w[i % 4] >> 8) / 16777216.0f;
		bad += m[i] != (u >= p ? keep : 0.0f);
	}
	ok(!bad && isnan(m[N]),
	   "dropout_mask_key == philox(key, id, i) kept when u >= p, %d elements "
	   "on 2 threads (%d differ), nothing written past n", N, bad);
	/* a function of (key, id, i): a shorter mask is a prefix, another
	 * id or key another mask */
	dropout_mask_key(kd, m2, 1001, p, key, DROP_WEIGHT + 2);
	ok(!memcmp(m, m2, 1001 * sizeof *m),
	   "a mask of 1001 is the first 1001 of the mask of %d", N);
	kern_set_threads(1);
	dropout_mask_key(kd, m2, N, p, key, DROP_WEIGHT + 2);
	ok(!memcmp(m, m2, N * sizeof *m), "the same mask on 1 thread");
	/* dropout_mask_rows: rows rank, rank + ranks, ... of a batch are
	 * those rows of the whole batch's mask, every rank and thread split
	 * (rows of 37: pieces start anywhere in a block of 4) */
	enum { BR = 11, F = 37 };
	static float whole[BR * F], part[BR * F + 1];
	kern_set_threads(2);
	dropout_mask_key(kd, whole, BR * F, p, key, DROP_HIDDEN + 1);
	int rbad = 0, checked = 0;
	for (int ranks = 1; ranks <= 4; ranks++)
		for (int rank = 0; rank < ranks; rank++) {
			int rows = (BR - rank + ranks - 1) / ranks;
			for (int j = 0; j <= rows * F; j++)
				part[j] = NAN;
			dropout_mask_rows(kd, part, rows, F, p, key,
			                  DROP_HIDDEN + 1, rank, ranks);
			for (int r = 0; r < rows; r++)
				rbad += memcmp(part + r * F,
				               whole + (rank + r * ranks) * F,
				               F * sizeof *part) != 0;
			rbad += !isnan(part[rows * F]);
			checked += rows;
		}
	ok(!rbad && checked == 4 * BR,
	   "dropout_mask_rows(rank, ranks) == those rows of the batch's mask, "
	   "1 to 4 ranks (%d of %d rows differ)", rbad, checked);
	kern_set_threads(1);
	dropout_mask_rows(kd, part, 3, F, p, key, DROP_HIDDEN + 1, 1, 4);
	ok(!memcmp(part, whole + F, F * sizeof *part) &&
	   !memcmp(part + F, whole + 5 * F, F * sizeof *part) &&
	   !memcmp(part + 2 * F, whole + 9 * F, F * sizeof *part),
	   "  and on 1 thread");
	dropout_mask_key(kd, m2, N, p, key, DROP_WEIGHT + 1);
	int same = 0;
	for (int i = 0; i < N; i++)
		same += m[i] == m2[i];
	ok(same < N * 0.7, "another tensor id: another mask (%d of %d equal, "
	   "0.58 expected by chance)", same, N);
	dropout_mask_key(kd, m2, N, p, key + 1, DROP_WEIGHT + 2);
	same = 0;
	for (int i = 0; i < N; i++)
		same += m[i] == m2[i];
	ok(same < N * 0.7, "another key: another mask (%d of %d equal)", same,
	   N);
}

/* dropout_apply_bt: y(B,T,F) = x * mask(B,F), against a loop, poisoned */
static void
test_apply_bt(void)
{
	enum { B = 5, T = 7, F = 9 };
	static float x[B * T * F], y[B * T * F + 1], m[B * F];
	randu(x, B * T * F, 1);
	randu(m, B * F, 2);
	for (int i = 0; i <= B * T * F; i++)
		y[i] = NAN;
	dropout_apply_bt(kd, y, x, m, B, T, F);
	int bad = isnan(y[B * T * F]) ? 0 : 1;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int f = 0; f < F; f++) {
				size_t i = ((size_t)b * T + t) * F + f;
				bad += y[i] != x[i] * m[b * F + f];
			}
	ok(!bad, "dropout_apply_bt == x[b,t,f] * mask[b,f] (%d differ)", bad);
	memcpy(y, x, sizeof x);
	dropout_apply_bt(kd, y, y, m, B, T, F);
	bad = 0;
	for (int i = 0; i < B * T * F; i++)
		bad += y[i] != x[i] * m[(i / (T * F)) * F + i % F];
	ok(!bad, "dropout_apply_bt in place (its backward)");
}

/* ops.h against plain loops on random inputs, outputs poisoned with NaN
 * (an element left unwritten fails), on 1 and 2 threads */
static void
test_ops(void)
{
	enum { NR = 37, C = 1029, T = 6, B = 5, E = 13 };
	static float y[NR * C + 1], b1[C], b2[C], x[NR * C], acc[C + 1],
	    ref[NR * C];
	randu(b1, C, 1), randu(b2, C, 1), randu(x, NR * C, 1);
	for (int thr = 1; thr <= 2; thr++) {
		kern_set_threads(thr);
		for (int i = 0; i <= NR * C; i++)
			y[i] = NAN;
		ops_bias_rows(kd, y, b1, b2, NR, C);
		int bad = !isnan(y[NR * C]);
		for (int r = 0; r < NR; r++)
			for (int j = 0; j < C; j++)
				bad += y[r * C + j] != b1[j] + b2[j];
		ops_bias_rows(kd, y, b1, NULL, NR, C);
		for (int r = 0; r < NR; r++)
			for (int j = 0; j < C; j++)
				bad += y[r * C + j] != b1[j];
		ok(!bad, "ops_bias_rows: every row = b1 + b2, = b1 (%d threads)",
		   thr);

		for (int j = 0; j < C; j++)
			acc[j] = ref[j] = b1[j];
		acc[C] = NAN;
		ops_colsum_acc(kd, acc, x, NR, C);
		bad = !isnan(acc[C]);
		for (int r = 0; r < NR; r++)
			for (int j = 0; j < C; j++)
				ref[j] += x[r * C + j];
		for (int j = 0; j < C; j++)
			bad += acc[j] != ref[j];
		ok(!bad, "ops_colsum_acc == rows added in order, bit for bit "
		   "(%d threads)", thr);

		/* n large enough to be split between the threads */
		memcpy(y, x, sizeof x);
		ops_axpy(kd, y, -0.75f, x, NR * C - 1);
		bad = y[NR * C - 1] != x[NR * C - 1];
		for (int i = 0; i < NR * C - 1; i++)
			bad += y[i] != x[i] + -0.75f * x[i];
		memcpy(y, x, sizeof x);
		ops_scale(kd, y, 3.5f, NR * C - 1);
		bad += y[NR * C - 1] != x[NR * C - 1];
		for (int i = 0; i < NR * C - 1; i++)
			bad += y[i] != x[i] * 3.5f;
		ok(!bad, "ops_axpy y += a x, ops_scale x *= a, n elements only "
		   "(%d threads)", thr);

		float *bte = y, *tbe = ref;
		for (int i = 0; i <= T * B * E; i++)
			bte[i] = NAN;
		ops_tbe_to_bte(kd, bte, x, T, B, E);
		bad = !isnan(bte[T * B * E]);
		for (int t = 0; t < T; t++)
			for (int b = 0; b < B; b++)
				for (int e = 0; e < E; e++)
					bad += bte[(b * T + t) * E + e] !=
					       x[(t * B + b) * E + e];
		for (int i = 0; i <= T * B * E; i++)
			tbe[i] = NAN;
		ops_bte_to_tbe(kd, tbe, bte, B, T, E);
		bad += !isnan(tbe[T * B * E]);
		bad += memcmp(tbe, x, sizeof(float) * T * B * E) != 0;
		ok(!bad, "ops_tbe_to_bte, ops_bte_to_tbe: (T,B,E) <-> (B,T,E) "
		   "(%d threads)", thr);

		/* a column block (the keys of a (rows, 3C) qkv) into (rows, C) */
		enum { QR = 20, QC = 500 };
		for (int i = 0; i <= QR * QC + QC; i++)
			y[i] = NAN;
		ops_copy_rows(kd, y + QC, QC, x + QC, 3 * QC, QR, QC);
		bad = !isnan(y[QC - 1]) + !isnan(y[QR * QC + QC]);
		for (int r = 0; r < QR; r++)
			for (int j = 0; j < QC; j++)
				bad += y[QC + r * QC + j] != x[QC + r * 3 * QC + j];
		ok(!bad, "ops_copy_rows: rows of a column block, strides kept "
		   "(%d threads)", thr);

		/* gpt2_embed: x[t] = wte[ids[t]] + wpe[P + t] */
		enum { GV = 50, GT = 40, GC = 200, GP = 3 };
		static uint32_t ids[GT];
		for (int t = 0; t < GT; t++)
			ids[t] = (uint32_t)rng_below(&R, GV);
		const float *wte = x, *wpe = x + GV * GC;
		for (int i = 0; i <= GT * GC; i++)
			y[i] = NAN;
		gpt2_embed(kd, y, wte, wpe, ids, GT, GP, GC);
		bad = !isnan(y[GT * GC]);
		for (int t = 0; t < GT; t++)
			for (int j = 0; j < GC; j++)
				bad += y[t * GC + j] != wte[ids[t] * GC + j] +
				                        wpe[(GP + t) * GC + j];
		ok(!bad, "gpt2_embed == wte[id] + wpe[P + t] (%d threads)", thr);
	}
	kern_set_threads(1);

	static double d[1001];
	static int h[1001];
	double s = 0, q = 0;
	long nz = 0;
	for (int i = 0; i < 1001; i++) {
		d[i] = rng_double(&R) * 10, h[i] = rng_below(&R, 3) == 0;
		s += d[i], nz += h[i] != 0;
		q += (double)x[i] * x[i];
	}
	ok(ops_sum_f64(kd, d, 1001) == s && ops_count_nz(kd, h, 1001) == nz &&
	   ops_sumsq(kd, x, 1001) == q,
	   "ops_sum_f64, ops_count_nz, ops_sumsq == host loops, bit for bit");
}

static double
ce_loss(const float *z, const uint32_t *y, int N, int V)
{
	static float buf[4 * 11];
	double l[4];
	int h[4];
	memcpy(buf, z, sizeof(float) * N * V);
	ce_fwd_bwd(kd, buf, y, l, h, N, V, 0);
	double s = 0;
	for (int n = 0; n < N; n++)
		s += l[n];
	return s / N;
}

static void
test_ce(void)
{
	enum { V = 60008 };
	static float z[V];
	uint32_t y = 17;
	double l;
	int hit;
	for (int v = 0; v < V; v++)
		z[v] = 3.5f;
	ce_fwd_bwd(kd, z, &y, &l, &hit, 1, V, 0);
	ok(fabs(l - 11.00223) < 5e-6, "CE of uniform logits, V=60008 = ln V = 11.00223 (%.6f)", l);
	for (int v = 0; v < V; v++)
		z[v] = 0;
	z[5] = 1000, z[17] = 990;
	ce_fwd_bwd(kd, z, &y, &l, &hit, 1, V, 1.0f);
	ok(fabs(l - 10) < 1e-4 && !hit && isfinite(z[5]) && fabsf(z[5] - 1) < 1e-4f,
	   "CE with logits 1000: finite, loss 10, softmax 1 (%.6f)", l);

	enum { N = 4, W = 11 };
	float a[N * W], g[N * W];
	uint32_t ys[N] = { 3, 0, 10, 3 };
	double lr[N], fd[N * W];
	int hs[N];
	randu(a, N * W, 3);
	memcpy(g, a, sizeof g);
	ce_fwd_bwd(kd, g, ys, lr, hs, N, W, 1.0f / N);
	for (int i = 0; i < N * W; i++) {
		float s = a[i];
		a[i] = s + 1e-2f;
		double p = ce_loss(a, ys, N, W);
		a[i] = s - 1e-2f;
		double m = ce_loss(a, ys, N, W);
		a[i] = s;
		fd[i] = (p - m) / 2e-2;
	}
	double r = relerr(fd, g, N * W);
	ok(r < 1e-3, "ce_fwd_bwd gradient == central difference (rel %.2g)", r);
	int am = 0;
	for (int v = 1; v < W; v++)
		if (a[W + v] > a[W + am])
			am = v;
	ok(hs[1] == (am == 0), "ce_fwd_bwd: hit = argmax equals target");
}

static void
test_artar(void)
{
	enum { B = 3, T = 4, E = 5, N = B * T * E };
	float x[N], dx[N];
	memset(x, 0, sizeof x);
	ok(ar_fwd_bwd(kd, x, NULL, N, 2) == 0, "AR of zero output = 0");
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (int e = 0; e < E; e++)
				x[(b * T + t) * E + e] = (float)(b + e);
	ok(tar_fwd_bwd(kd, x, NULL, B, T, E,
	               1) == 0, "TAR of a constant-in-time output = 0");
	ok(tar_fwd_bwd(kd, x, NULL, 1, T, E,
	               1) == 0, "TAR skipped when B == 1");
	randu(x, N, 1);
	memset(dx, 0, sizeof dx);
	double v = ar_fwd_bwd(kd, x, dx, N, 2) + tar_fwd_bwd(kd, x, dx, B, T, E,
	                      1);
	double ar = 0, tar = 0;
	for (int i = 0; i < N; i++)
		ar += (double)x[i] * x[i];
	for (int b = 0; b < B; b++)
		for (int t = 0; t + 1 < T; t++)
			for (int e = 0; e < E; e++) {
				double d = x[(b * T + t + 1) * E + e] - x[(b * T + t) * E + e];
				tar += d * d;
			}
	ok(fabs(v - (2 * ar / N + tar / (B * (T - 1) * E))) < 1e-6,
	   "AR + TAR = 2 mean(x^2) + mean(dx_t^2)");
	double fd[N];
	for (int i = 0; i < N; i++) {
		float s = x[i];
		x[i] = s + 1e-2f;
		double p = ar_fwd_bwd(kd, x, NULL, N, 2) + tar_fwd_bwd(kd, x,
		                      NULL, B, T, E, 1);
		x[i] = s - 1e-2f;
		double m = ar_fwd_bwd(kd, x, NULL, N, 2) + tar_fwd_bwd(kd, x,
		                      NULL, B, T, E, 1);
		x[i] = s;
		fd[i] = (p - m) / 2e-2;
	}
	double r = relerr(fd, dx, N);
	ok(r < 1e-4, "AR/TAR gradient == central difference (rel %.2g)", r);
}

static void
sq(void *ctx, long lo, long hi)
{
	double *x = ctx;
	for (long i = lo; i < hi; i++)
		x[i] = (double)i * i;
}

static void
inc(void *ctx, long lo, long hi)
{
	double *x = ctx;
	for (long i = lo; i < hi; i++)
		x[i] += 1;
}

static void
test_par(void)
{
	static double x[10007];
	kern_set_threads(2);
	kern_par_for(kd, 10007, 1, sq, x);
	int good = 1;
	for (long i = 0; i < 10007; i++)
		good &= x[i] == (double)i * i;
	ok(good && kern_threads() == 2, "kern_par_for covers [0,n) once with 2 threads");
	/* a worker started later must not replay an earlier call */
	memset(x, 0, sizeof x);
	kern_par_for(kd, 10007, 1, inc, x);
	kern_set_threads(3);
	usleep(20000);
	kern_par_for(kd, 10007, 1, inc, x);
	good = 1;
	for (long i = 0; i < 10007; i++)
		good &= x[i] == 2;
	ok(good && kern_threads() == 3, "growing the pool to 3 threads: each call runs once");
	kern_set_threads(1);
}

char *openblas_get_corename(void);

int
main(int argc, char **argv)
{
	kd = kern_default();
	if (argc == 2 && !strcmp(argv[1], "--corename")) {
		/* tests/awd.t: blas_setup() picks a core type and re-executes */
		const char *ct = blas_setup(argv);
		printf("%s %s\n", ct ? ct : "none", openblas_get_corename());
		return 0;
	}
	rng_seed(&R, 42, 0);
	kern_set_threads(1);
	test_sgemm();
	test_sgemv();
	test_sgemm_threads();
	test_cell();
	test_lstm();
	test_embed();
	test_dropout();
	test_philox();
	test_apply_bt();
	test_ops();
	test_ce();
	test_artar();
	test_par();
	return done_testing();
}
