/* gemm.c: C += A B with B packed once (gemm.h); an AVX-512 micro-kernel
 * of 8 rows x 32 columns.  Tested against sgemm in tests/unit/speed.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gemm.h"

int
gemm_packed_ok(void)
{
	static int ok = -1;
	if (ok < 0) {
#if defined(__x86_64__) && defined(__GNUC__)
		__builtin_cpu_init();
		ok = __builtin_cpu_supports("avx512f") &&
		     !getenv("ULMFIT_NO_PACKED_GEMM");
#else
		ok = 0;
#endif
	}
	return ok;
}

static int
npanel(int N)
{
	return (N + GEMM_NR - 1) / GEMM_NR;
}

size_t
gemm_pack_size(int K, int N)
{
	return (size_t)npanel(N) * K * GEMM_NR;
}

struct pack_ctx {
	float *pk;
	const float *W;
	int ldw, K, N;
};

static void
pack_bt_range(void *arg, long lo, long hi)
{
	const struct pack_ctx *x = arg;
	int K = x->K;
	for (long p = lo; p < hi; p++) {
		float *dst = x->pk + (size_t)p * K * GEMM_NR;
		for (int j = 0; j < GEMM_NR; j++) {
			long n = p * GEMM_NR + j;
			if (n >= x->N) {
				for (int k = 0; k < K; k++)
					dst[(size_t)k * GEMM_NR + j] = 0;
				continue;
			}
			const float *src = x->W + n * x->ldw;
			for (int k = 0; k < K; k++)
				dst[(size_t)k * GEMM_NR + j] = src[k];
		}
	}
}

static void
pack_b_range(void *arg, long lo, long hi)
{
	const struct pack_ctx *x = arg;
	int K = x->K;
	for (long p = lo; p < hi; p++) {
		float *dst = x->pk + (size_t)p * K * GEMM_NR;
		long n0 = p * GEMM_NR;
		int w = x->N - n0 < GEMM_NR ? (int)(x->N - n0) : GEMM_NR;
		for (int k = 0; k < K; k++) {
			float *d = dst + (size_t)k * GEMM_NR;
			memcpy(d, x->W + (size_t)k * x->ldw + n0, w * sizeof *d);
			for (int j = w; j < GEMM_NR; j++)
				d[j] = 0;
		}
	}
}

void
gemm_pack_bt(float *pk, const float *W, int ldw, int K, int N)
{
	struct pack_ctx x = { pk, W, ldw, K, N };
	kern_par_for(npanel(N), 4, pack_bt_range, &x);
}

void
gemm_pack_b(float *pk, const float *W, int ldw, int K, int N)
{
	struct pack_ctx x = { pk, W, ldw, K, N };
	kern_par_for(npanel(N), 4, pack_b_range, &x);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* C[mr rows, 32 columns (masks m0, m1)] += A[mr, kc] P[kc, 32] */
__attribute__((target("avx512f"), always_inline)) static inline void
micro(int mr, int kc, const float *A, int lda, const float *P, float *C,
      int ldc, __mmask16 m0, __mmask16 m1)
{
	__m512 c0[GEMM_MR], c1[GEMM_MR];
#pragma GCC unroll 8
	for (int i = 0; i < GEMM_MR; i++)
		c0[i] = c1[i] = _mm512_setzero_ps();
	for (int k = 0; k < kc; k++) {
		__m512 b0 = _mm512_loadu_ps(P + (size_t)k * GEMM_NR);
		__m512 b1 = _mm512_loadu_ps(P + (size_t)k * GEMM_NR + 16);
#pragma GCC unroll 8
		for (int i = 0; i < GEMM_MR; i++)
			if (i < mr) {
				__m512 a = _mm512_set1_ps(A[(size_t)i * lda + k]);
				c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
				c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
			}
	}
#pragma GCC unroll 8
	for (int i = 0; i < GEMM_MR; i++)
		if (i < mr) {
			float *r = C + (size_t)i * ldc;
			__m512 x0 = _mm512_maskz_loadu_ps(m0, r);
			__m512 x1 = _mm512_maskz_loadu_ps(m1, r + 16);
			_mm512_mask_storeu_ps(r, m0, _mm512_add_ps(x0, c0[i]));
			_mm512_mask_storeu_ps(r + 16, m1, _mm512_add_ps(x1, c1[i]));
		}
}

#define MICRO_CASE(n) case n: micro(n, kc, A, lda, P, C, ldc, m0, m1); break;
__attribute__((target("avx512f"))) static void
micro_any(int mr, int kc, const float *A, int lda, const float *P, float *C,
          int ldc, __mmask16 m0, __mmask16 m1)
{
	switch (mr) {
	MICRO_CASE(1) MICRO_CASE(2) MICRO_CASE(3) MICRO_CASE(4)
	MICRO_CASE(5) MICRO_CASE(6) MICRO_CASE(7) MICRO_CASE(8)
	}
}

struct gemm_ctx {
	int M, N, K, lda, ldc;
	const float *A, *pk;
	float *C;
};

__attribute__((target("avx512f"))) static void
gemm_range(void *arg, long lo, long hi)
{
	const struct gemm_ctx *x = arg;
	int K = x->K;
	for (long p = lo; p < hi; p++) {
		int cols = x->N - (int)p * GEMM_NR;
		if (cols > GEMM_NR)
			cols = GEMM_NR;
		__mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
		__mmask16 m1 = cols <= 16 ? 0 : cols >= 32 ? 0xffff :
		               (__mmask16)((1u << (cols - 16)) - 1);
		const float *P = x->pk + (size_t)p * K * GEMM_NR;
		float *C = x->C + p * GEMM_NR;
		for (int k0 = 0; k0 < K; k0 += GEMM_KC) {
			int kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
			for (int i = 0; i < x->M; i += GEMM_MR) {
				int mr = x->M - i < GEMM_MR ? x->M - i : GEMM_MR;
				if (mr == GEMM_MR)
					micro(GEMM_MR, kc, x->A + (size_t)i * x->lda + k0,
					      x->lda, P + (size_t)k0 * GEMM_NR,
					      C + (size_t)i * x->ldc, x->ldc, m0, m1);
				else
					micro_any(mr, kc, x->A + (size_t)i * x->lda + k0,
					          x->lda, P + (size_t)k0 * GEMM_NR,
					          C + (size_t)i * x->ldc, x->ldc, m0, m1);
			}
		}
	}
}

void
gemm_packed(int M, int N, int K, const float *A, int lda, const float *pk,
            float *C, int ldc)
{
	if (M <= 0 || N <= 0 || K <= 0)
		return;
	struct gemm_ctx x = { M, N, K, lda, ldc, A, pk, C };
	/* at least 2 panels a thread; the split is by whole panels */
	kern_par_for(npanel(N), 2, gemm_range, &x);
}
#else
void
gemm_packed(int M, int N, int K, const float *A, int lda, const float *pk,
            float *C, int ldc)
{
	(void)M, (void)N, (void)K, (void)A, (void)lda, (void)pk, (void)C,
	(void)ldc;
	abort();        /* gemm_packed_ok() is 0 here */
}
#endif
