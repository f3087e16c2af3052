/* gemm.c: C += A B with B packed once (gemm.h); an AVX-512 micro-kernel
 * of 8 rows x 32 columns.  Tested against sgemm in tests/unit/speed.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "gemm.h"
#include "dispatch.h"

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

/* bf16 (below): a product's description; bf_pack_b also packs W_hh once
 * for gemm_packed under k->bf16 (then pb points into the caller's
 * buffer) */
struct bf_ctx {
	int ta, tb, M, N, K, K2, lda, ldb, ldc;
	const float *A, *B;
	float *C, alpha, beta;
	uint16_t *pb;           /* B packed: bfs.b or a gemm_pack_* buffer */
};

static void bf_pack_b(void *arg, long lo, long hi);

static int
npanel(int N)
{
	return (N + GEMM_NR - 1) / GEMM_NR;
}

static int bf_amx;      /* AMX tiles run the bf16 products (gemm_bf16_ok) */

/* pairs of k in a bf16 row of A and a panel of B: AMX multiplies 16 pairs
 * at a time, so under it the pairs are padded with zeros to a multiple
 * of 16 */
static int
bf_pairs(int K)
{
	int k2 = (K + 1) / 2;
	return gemm_bf16_ok() && bf_amx ? (k2 + 15) & ~15 : k2;
}

size_t
gemm_pack_size(int K, int N)
{
	/* bf16 panels take bf_pairs(K) x GEMM_NR floats' room */
	int k = bf_pairs(K) > K ? bf_pairs(K) : K;
	return (size_t)npanel(N) * k * GEMM_NR;
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
gemm_pack_bt(struct kern *k, float *pk, const float *W, int ldw, int K, int N)
{
	KERN_TWIN(k, gemm_pack_bt, (k, pk, W, ldw, K, N));
	if (k->bf16 && gemm_bf16_ok()) {
		struct bf_ctx b = { .tb = 1, .N = N, .K = K, .K2 = bf_pairs(K),
		                    .ldb = ldw, .B = W, .pb = (uint16_t *)pk };
		kern_par_for(k, npanel(N), 2, bf_pack_b, &b);
		return;
	}
	struct pack_ctx x = { pk, W, ldw, K, N };
	kern_par_for(k, npanel(N), 4, pack_bt_range, &x);
}

void
gemm_pack_b(struct kern *k, float *pk, const float *W, int ldw, int K, int N)
{
	KERN_TWIN(k, gemm_pack_b, (k, pk, W, ldw, K, N));
	if (k->bf16 && gemm_bf16_ok()) {
		struct bf_ctx b = { .tb = 0, .N = N, .K = K, .K2 = bf_pairs(K),
		                    .ldb = ldw, .B = W, .pb = (uint16_t *)pk };
		kern_par_for(k, npanel(N), 2, bf_pack_b, &b);
		return;
	}
	struct pack_ctx x = { pk, W, ldw, K, N };
	kern_par_for(k, npanel(N), 4, pack_b_range, &x);
}

/* round to nearest even; a NaN stays a (quiet) NaN */
unsigned short
gemm_f2bf(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (unsigned short)(u >> 16 | 0x40);
	u += 0x7fffu + (u >> 16 & 1);
	return (unsigned short)(u >> 16);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023      /* arch_prctl: ask for a feature */
#define XFEATURE_XTILEDATA 18           /* the AMX tiles' state */

/* Clang's AddressSanitizer spends minutes on the micro-kernels below (each
 * inlined copy's register arrays c0, c1 become instrumented stack arrays):
 * 70 s for this file alone, 130 s with the fuzzer's coverage.  Only the
 * fuzz build uses clang, and its harnesses run no GEMM; GCC's `make asan`
 * still instruments every line here. */
#if defined(__clang__)
#define KERNEL_NO_ASAN __attribute__((no_sanitize("address")))
#else
#define KERNEL_NO_ASAN
#endif

/* C[mr rows, 32 columns (masks m0, m1)] += A[mr, kc] P[kc, 32] */
KERNEL_NO_ASAN __attribute__((target("avx512f"), always_inline))
static inline void
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
KERNEL_NO_ASAN __attribute__((target("avx512f"))) static void
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

KERNEL_NO_ASAN __attribute__((target("avx512f"))) static void
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

static void bf_packed(const struct bf_ctx *x, struct kern *k);

void
gemm_packed(struct kern *k, int M, int N, int K, const float *A, int lda,
            const float *pk, float *C, int ldc)
{
	KERN_TWIN(k, gemm_packed, (k, M, N, K, A, lda, pk, C, ldc));
	if (M <= 0 || N <= 0 || K <= 0)
		return;
	if (k->bf16 && gemm_bf16_ok()) {        /* pk is bf16 panels */
		struct bf_ctx b = { .M = M, .N = N, .K = K, .K2 = bf_pairs(K),
		                    .lda = lda, .ldc = ldc, .A = A, .C = C,
		                    .alpha = 1, .beta = 1,
		                    .pb = (uint16_t *)(uintptr_t)pk };
		bf_packed(&b, k);
		return;
	}
	struct gemm_ctx x = { M, N, K, lda, ldc, A, pk, C };
	/* at least 2 panels a thread; the split is by whole panels */
	kern_par_for(k, npanel(N), 2, gemm_range, &x);
}
/* ---- bf16 ---- */

static int bf_amx_can;  /* the CPU and the OS allow the tiles */

/* AMX: the CPU has AMX-TILE and AMX-BF16, the OS saves the tile state
 * (XCR0 bits 17 and 18) and Linux lets this process use it (a tile
 * instruction without that permission is a fault) */
static int
amx_usable(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) ||
	    !(d & 1u << 24) || !(d & 1u << 22))
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & 1u << 27))
		return 0;               /* no OSXSAVE: no xgetbv */
	unsigned lo, hi;
	__asm__ volatile ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 3u << 17) != 3u << 17)
		return 0;
	return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM,
	               XFEATURE_XTILEDATA) == 0;
}

int
gemm_bf16_ok(void)
{
	static int ok = -1;
	if (ok < 0) {
		__builtin_cpu_init();
		ok = __builtin_cpu_supports("avx512bf16") &&
		     __builtin_cpu_supports("avx512bw") &&
		     !getenv("ULMFIT_NO_BF16");
		bf_amx = bf_amx_can = ok && !getenv("ULMFIT_NO_AMX") &&
		                      amx_usable();
	}
	return ok;
}

int
gemm_bf16_amx(int on)
{
	gemm_bf16_ok();
	if (on >= 0)
		bf_amx = on && bf_amx_can;
	return bf_amx;
}

/* Blocks: K in blocks of BF_KC (so C is read and written once per block:
 * at the LM's shapes, 4608 x 4608 floats of C do not stay in any cache,
 * and with 256 the passes over C, not vdpbf16ps, set the pace: 1.03-1.15x
 * sgemm; with 2048, 1.3-1.7x, tests/unit/speed.c's figures), rows of A in
 * blocks of BF_MC (96 rows x 1024 pairs: 384 KiB, in L2); a panel block of
 * B (1024 pairs x 32 columns: 128 KiB) streams from L2, two loads per 16
 * vdpbf16ps. */
#define BF_KC 2048              /* k per block (1024 pairs) */
#define BF_MC 96                /* rows of A per block */

/* the packing buffers gemm_bf16 keeps */
static struct {
	uint32_t *a;            /* (M, K/2) pairs of A */
	uint16_t *b;            /* panels: (K/2, 32 columns, 2) */
	size_t acap, bcap;
} bfs;

/* n floats to bfloat16, 32 at a time by vcvtne2ps2bf16 (nearest even;
 * it flushes denormals to zero), the tail by gemm_f2bf */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
cvt_bf(uint16_t *dst, const float *src, long n)
{
	long k = 0;
	for (; k + 32 <= n; k += 32) {
		__m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16),
		                                 _mm512_loadu_ps(src + k));
		_mm512_storeu_si512(dst + k, (__m512i)v);
	}
	for (; k < n; k++)
		dst[k] = gemm_f2bf(src[k]);
}

/* lane j: bf16(b[j]) << 16 | bf16(a[j]), the pair (k, k+1) of a
 * column when a and b are rows k and k+1 */
__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline))
static inline __m512i
bf_pair(__m512 a, __m512 b)
{
	__m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(a));
	__m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(b));
	return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

/* r[j][i] <-> r[i][j] for a 16 x 16 matrix of 32-bit values */
__attribute__((target("avx512f"), always_inline)) static inline void
transpose16(__m512i r[16])
{
	__m512i t[16];
	for (int i = 0; i < 16; i += 2) {       /* 2 x 2 blocks of 1 */
		t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
		t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
	}
	for (int i = 0; i < 16; i += 4) {       /* 2 x 2 blocks of 2 */
		r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
		r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
		r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
		r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
	}
	/* now r[4a + b] holds, in its 128-bit lane l, row 4a..4a+3's
	 * elements 4l + b (one per 32 bits): swap 128-bit lanes between
	 * groups of rows, 2 x 2 blocks of 4 then of 8 */
	for (int i = 0; i < 16; i++)
		t[i] = r[i];
	for (int a = 0; a < 16; a += 8)
		for (int b = 0; b < 4; b++) {
			__m512i x = t[a + b], y = t[a + 4 + b];
			t[a + b] = _mm512_shuffle_i32x4(x, y, 0x88);
			t[a + 4 + b] = _mm512_shuffle_i32x4(x, y, 0xdd);
		}
	for (int b = 0; b < 8; b++) {
		__m512i x = t[b], y = t[8 + b];
		r[b] = _mm512_shuffle_i32x4(x, y, 0x88);
		r[8 + b] = _mm512_shuffle_i32x4(x, y, 0xdd);
	}
}

/* rows lo..hi (a multiple of 16 apart) and k < K32 (a multiple of 32)
 * of a transposed A (stored (K,M)) in blocks of 16 rows x 16 pairs: read
 * 32 stored rows along their length (so the hardware sees 32 streams,
 * not 4,608 pages), convert and pair them, transpose in registers, store
 * 64 bytes per row */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
bf_pack_at(const struct bf_ctx *x, long lo, long hi, long K32)
{
	uint32_t *pa = bfs.a;
	for (long k0 = 0; k0 < K32; k0 += 32)
		for (long i0 = lo; i0 < hi; i0 += 16) {
			__m512i r[16];
			const float *a = x->A + k0 * x->lda + i0;
			for (int p = 0; p < 16; p++)
				r[p] = bf_pair(_mm512_loadu_ps(a + 2 * p * x->lda),
				               _mm512_loadu_ps(a + (2 * p + 1) * x->lda));
			transpose16(r);
			for (int i = 0; i < 16; i++)
				_mm512_storeu_si512(pa + (i0 + i) * x->K2 + k0 / 2,
				                    r[i]);
		}
}

/* A as rows of k pairs: pa16[i][k] (k < 2 K2, zero past K). */
static void
bf_pack_a(void *arg, long lo, long hi)
{
	const struct bf_ctx *x = arg;
	uint16_t *pa = (uint16_t *)bfs.a;
	size_t w = 2 * (size_t)x->K2;
	if (x->ta) {                    /* stored (K,M) */
		long K32 = x->K & ~31L, i16 = lo + ((hi - lo) & ~15L);
		bf_pack_at(x, lo, i16, K32);
		for (long i = lo; i < hi; i++)  /* what it left, one by one */
			for (long k = i < i16 ? K32 : 0; k < x->K; k++)
				pa[i * w + k] = gemm_f2bf(x->A[k * x->lda + i]);
	} else {
		for (long i = lo; i < hi; i++)
			cvt_bf(pa + i * w, x->A + i * x->lda, x->K);
	}
	if ((size_t)x->K < w)           /* an odd K's last pair, AMX's pad */
		for (long i = lo; i < hi; i++)
			memset(pa + i * w + x->K, 0, (w - x->K) * sizeof *pa);
}

/* d[j] = bf16(r1[j]) << 16 | bf16(r0[j]) for j < wd (r1 NULL: 0) */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
pack_pairs(uint32_t *d, const float *r0, const float *r1, int wd)
{
	for (int j = 0; j < wd; j += 16) {
		int w = wd - j < 16 ? wd - j : 16;
		__mmask16 m = (__mmask16)((1u << w) - 1);
		__m512 a = _mm512_maskz_loadu_ps(m, r0 + j);
		__m512 b = r1 ? _mm512_maskz_loadu_ps(m, r1 + j) :
		           _mm512_setzero_ps();
		_mm512_mask_storeu_epi32(d + j, m, bf_pair(a, b));
	}
}

/* B as panels of 32 columns: pb[p][k/2][j][k%2] (k/2 < K2), zero past N
 * and K */
static void
bf_pack_b(void *arg, long lo, long hi)
{
	const struct bf_ctx *x = arg;
	size_t step = (size_t)x->K2 * 2 * GEMM_NR;
	for (long p = lo; p < hi; p++) {
		uint16_t *d = x->pb + (size_t)p * step;
		long n0 = p * GEMM_NR;
		int wd = x->N - n0 < GEMM_NR ? (int)(x->N - n0) : GEMM_NR;
		if (wd < GEMM_NR || 2 * x->K2 != x->K)
			memset(d, 0, step * sizeof *d);
		if (x->tb) {            /* stored (N,K): a row is a column's pairs */
			uint32_t *d32 = (uint32_t *)d;
			for (long k0 = 0; k0 < x->K; k0 += 256) {
				long kn = x->K - k0 < 256 ? x->K - k0 : 256;
				for (int j = 0; j < wd; j++) {
					uint32_t t[129];
					t[kn >> 1] = 0;         /* an odd K's last pair */
					cvt_bf((uint16_t *)t, x->B + (n0 + j) * x->ldb + k0,
					       kn);
					uint32_t *dj = d32 + (k0 >> 1) * GEMM_NR + j;
					for (long k2 = 0; k2 < (kn + 1) >> 1; k2++)
						dj[k2 * GEMM_NR] = t[k2];
				}
			}
		} else {                /* stored (K,N): rows k, k+1 make pairs */
			uint32_t *d32 = (uint32_t *)d;
			for (long k = 0; k < x->K; k += 2) {
				const float *r0 = x->B + k * x->ldb + n0;
				pack_pairs(d32 + (k >> 1) * GEMM_NR, r0,
				           k + 1 < x->K ? r0 + x->ldb : NULL, wd);
			}
		}
	}
}

/* C[mr, 32 (masks)] += alpha A P, or = alpha A P when set (the first
 * block of k with beta 0: C is neither cleared first nor read) */
KERNEL_NO_ASAN
__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline))
static inline void
micro_bf(int mr, int k2c, const uint32_t *A, int lda2, const uint16_t *P,
         float *C, int ldc, __mmask16 m0, __mmask16 m1, float alpha, int set)
{
	__m512 c0[GEMM_MR], c1[GEMM_MR];
#pragma GCC unroll 8
	for (int i = 0; i < GEMM_MR; i++)
		c0[i] = c1[i] = _mm512_setzero_ps();
	for (int k = 0; k < k2c; k++) {
		__m512i b0 = _mm512_loadu_si512(P + (size_t)k * 2 * GEMM_NR);
		__m512i b1 = _mm512_loadu_si512(P + (size_t)k * 2 * GEMM_NR + 32);
#pragma GCC unroll 8
		for (int i = 0; i < GEMM_MR; i++)
			if (i < mr) {
				__m512i a = _mm512_set1_epi32((int)A[(size_t)i * lda2 + k]);
				c0[i] = _mm512_dpbf16_ps(c0[i], (__m512bh)a,
				                         (__m512bh)b0);
				c1[i] = _mm512_dpbf16_ps(c1[i], (__m512bh)a,
				                         (__m512bh)b1);
			}
	}
	__m512 al = _mm512_set1_ps(alpha);
#pragma GCC unroll 8
	for (int i = 0; i < GEMM_MR; i++)
		if (i < mr) {
			float *r = C + (size_t)i * ldc;
			__m512 x0 = set ? _mm512_setzero_ps() :
			            _mm512_maskz_loadu_ps(m0, r);
			__m512 x1 = set ? _mm512_setzero_ps() :
			            _mm512_maskz_loadu_ps(m1, r + 16);
			_mm512_mask_storeu_ps(r, m0, _mm512_fmadd_ps(al, c0[i], x0));
			_mm512_mask_storeu_ps(r + 16, m1,
			                      _mm512_fmadd_ps(al, c1[i], x1));
		}
}

#define MICRO_BF_CASE(n) case n: micro_bf(n, k2c, A, lda2, P, C, ldc, m0, \
	m1, alpha, set); break;
KERNEL_NO_ASAN
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
micro_bf_any(int mr, int k2c, const uint32_t *A, int lda2, const uint16_t *P,
             float *C, int ldc, __mmask16 m0, __mmask16 m1, float alpha,
             int set)
{
	switch (mr) {
	MICRO_BF_CASE(1) MICRO_BF_CASE(2) MICRO_BF_CASE(3) MICRO_BF_CASE(4)
	MICRO_BF_CASE(5) MICRO_BF_CASE(6) MICRO_BF_CASE(7) MICRO_BF_CASE(8)
	}
}

/* AMX (Intel's tile unit, where gemm_bf16_ok found it): tdpbf16ps adds
 * a (16 rows x 16 pairs) A tile times a (16 pairs x 16 columns) B tile
 * into 16 x 16 floats, 16 times vdpbf16ps's work in one instruction.
 * gemm_bf16's packing is already the tiles' layout: a row of A holds
 * its pairs in order (a tile is 16 rows of it, 64 bytes each), and a
 * panel's row of pairs is 32 columns x 2 (a B tile is the left or right
 * 64 bytes of 16 such rows).  Tiles 0-3: C of 32 rows x 32 columns, 4-5:
 * A, 6-7: B.  Like vdpbf16ps, tdpbf16ps rounds to nearest even; it also
 * flushes denormals, which the bf16 packing already did to its inputs. */
struct amx_cfg {
	uint8_t palette, start_row, reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
};
static const struct amx_cfg amx_cfg __attribute__((aligned(64))) = {
	.palette = 1,
	.colsb = { 64, 64, 64, 64, 64, 64, 64, 64 },
	.rows = { 16, 16, 16, 16, 16, 16, 16, 16 },
};

__attribute__((target("amx-tile"))) static void
amx_begin(void)
{
	_tile_loadconfig(&amx_cfg);
}

__attribute__((target("amx-tile"))) static void
amx_end(void)
{
	_tile_release();
}

/* C[16 mt rows, 32 columns (masks)] (+)= alpha A P over k2c pairs (a
 * multiple of 16: bf_pairs pads), as micro_bf */
KERNEL_NO_ASAN
__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw"), always_inline))
static inline void
amx_block(int mt, int k2c, const uint32_t *A, int lda2, const uint16_t *P,
          float *C, int ldc, __mmask16 m0, __mmask16 m1, float alpha, int set)
{
	long sa = (long)lda2 * 4, sb = 2 * GEMM_NR * 2;        /* bytes a row */
	_tile_zero(0);
	_tile_zero(1);
	if (mt == 2) {
		_tile_zero(2);
		_tile_zero(3);
	}
	for (int k = 0; k < k2c; k += 16) {
		const uint16_t *b = P + (size_t)k * 2 * GEMM_NR;
		_tile_loadd(6, b, sb);
		_tile_loadd(7, b + GEMM_NR, sb);
		_tile_loadd(4, A + k, sa);
		_tile_dpbf16ps(0, 4, 6);
		_tile_dpbf16ps(1, 4, 7);
		if (mt == 2) {
			_tile_loadd(5, A + (size_t)16 * lda2 + k, sa);
			_tile_dpbf16ps(2, 5, 6);
			_tile_dpbf16ps(3, 5, 7);
		}
	}
	float t[32][32] __attribute__((aligned(64)));
	_tile_stored(0, t[0], sizeof t[0]);
	_tile_stored(1, t[0] + 16, sizeof t[0]);
	if (mt == 2) {
		_tile_stored(2, t[16], sizeof t[0]);
		_tile_stored(3, t[16] + 16, sizeof t[0]);
	}
	__m512 al = _mm512_set1_ps(alpha);
	for (int i = 0; i < 16 * mt; i++) {
		float *r = C + (size_t)i * ldc;
		__m512 x0 = set ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, r);
		__m512 x1 = set ? _mm512_setzero_ps() :
		            _mm512_maskz_loadu_ps(m1, r + 16);
		_mm512_mask_storeu_ps(r, m0, _mm512_fmadd_ps(al,
		                      _mm512_load_ps(t[i]), x0));
		_mm512_mask_storeu_ps(r + 16, m1, _mm512_fmadd_ps(al,
		                      _mm512_load_ps(t[i] + 16), x1));
	}
}

KERNEL_NO_ASAN
__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw"))) static void
amx_any(int mt, int k2c, const uint32_t *A, int lda2, const uint16_t *P,
        float *C, int ldc, __mmask16 m0, __mmask16 m1, float alpha, int set)
{
	if (mt == 2)
		amx_block(2, k2c, A, lda2, P, C, ldc, m0, m1, alpha, set);
	else
		amx_block(1, k2c, A, lda2, P, C, ldc, m0, m1, alpha, set);
}

KERNEL_NO_ASAN
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
bf_range(void *arg, long lo, long hi)
{
	const struct bf_ctx *x = arg;
	int K2 = x->K2, amx = bf_amx;
	if (amx)
		amx_begin();
	for (int k0 = 0; k0 < K2; k0 += BF_KC / 2) {
		int set = k0 == 0 && x->beta == 0;
		for (int i0 = 0; i0 < x->M; i0 += BF_MC)
			for (long p = lo; p < hi; p++) {
				int cols = x->N - (int)p * GEMM_NR;
				if (cols > GEMM_NR)
					cols = GEMM_NR;
				__mmask16 m0 = cols >= 16 ? 0xffff :
				               (__mmask16)((1u << cols) - 1);
				__mmask16 m1 = cols <= 16 ? 0 : cols >= 32 ? 0xffff :
				               (__mmask16)((1u << (cols - 16)) - 1);
				int k2c = K2 - k0 < BF_KC / 2 ? K2 - k0 : BF_KC / 2;
				const uint16_t *P = x->pb + ((size_t)p * K2 + k0) *
				                    2 * GEMM_NR;
				int i1 = x->M - i0 < BF_MC ? x->M : i0 + BF_MC;
				for (int i = i0, mr; i < i1; i += mr) {
					const uint32_t *A = bfs.a + (size_t)i * K2 + k0;
					float *C = x->C + (size_t)i * x->ldc + p * GEMM_NR;
					if (amx && i1 - i >= 16) {
						int mt = i1 - i >= 32 ? 2 : 1;
						amx_any(mt, k2c, A, K2, P, C, x->ldc, m0,
						        m1, x->alpha, set);
						mr = 16 * mt;
						continue;
					}
					mr = i1 - i < GEMM_MR ? i1 - i : GEMM_MR;
					if (mr == GEMM_MR && set)
						micro_bf(GEMM_MR, k2c, A, K2, P, C, x->ldc,
						         m0, m1, x->alpha, 1);
					else if (mr == GEMM_MR)
						micro_bf(GEMM_MR, k2c, A, K2, P, C, x->ldc,
						         m0, m1, x->alpha, 0);
					else
						micro_bf_any(mr, k2c, A, K2, P, C, x->ldc,
						             m0, m1, x->alpha, set);
				}
			}
	}
	if (amx)
		amx_end();
}

/* the packing buffers hold na pairs of A and nb bf16 of B */
static void
bf_grow(size_t na, size_t nb)
{
	if (na > bfs.acap) {
		free(bfs.a);
		bfs.a = aligned_alloc(64, (na * sizeof *bfs.a + 63) & ~(size_t)63);
		bfs.acap = na;
	}
	if (nb > bfs.bcap) {
		free(bfs.b);
		bfs.b = aligned_alloc(64, (nb * sizeof *bfs.b + 63) & ~(size_t)63);
		bfs.bcap = nb;
	}
	if ((na && !bfs.a) || (nb && !bfs.b)) {
		fputs("gemm_bf16: out of memory\n", stderr);
		exit(1);
	}
}

void
gemm_bf16(struct kern *k, int ta, int tb, int M, int N, int K, float alpha,
          const float *A, int lda, const float *B, int ldb, float beta,
          float *C, int ldc)
{
	KERN_TWIN(k, gemm_bf16,
	          (k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
	if (M <= 0 || N <= 0)
		return;
	int none = K <= 0 || alpha == 0;       /* C = beta C only */
	for (int i = 0; i < M; i++) {
		float *r = C + (size_t)i * ldc;
		if (beta == 0 && none)  /* else the first block of k sets C */
			memset(r, 0, N * sizeof *r);
		else if (beta != 0 && beta != 1)
			for (int j = 0; j < N; j++)
				r[j] *= beta;
	}
	if (none)
		return;
	int K2 = bf_pairs(K);
	bf_grow((size_t)M * K2, (size_t)npanel(N) * K2 * 2 * GEMM_NR);
	struct bf_ctx x = { ta, tb, M, N, K, K2, lda, ldb, ldc, A, B, C, alpha,
	                    beta, bfs.b };
	kern_par_for(k, M, 16, bf_pack_a, &x);
	kern_par_for(k, npanel(N), 2, bf_pack_b, &x);
	kern_par_for(k, npanel(N), 2, bf_range, &x);
}

/* gemm_packed's bf16 half: C += A B with B packed by bf_pack_b */
static void
bf_packed(const struct bf_ctx *x, struct kern *k)
{
	bf_grow((size_t)x->M * x->K2, 0);
	kern_par_for(k, x->M, 16, bf_pack_a, (void *)x);
	kern_par_for(k, npanel(x->N), 2, bf_range, (void *)x);
}
#else
int
gemm_bf16_ok(void)
{
	return 0;
}

int
gemm_bf16_amx(int on)
{
	(void)on;
	return 0;
}

static void
bf_pack_b(void *arg, long lo, long hi)
{
	(void)arg, (void)lo, (void)hi;
	abort();        /* gemm_bf16_ok() is 0 here */
}

void
gemm_bf16(struct kern *k, int ta, int tb, int M, int N, int K, float alpha,
          const float *A, int lda, const float *B, int ldb, float beta,
          float *C, int ldc)
{
	KERN_TWIN(k, gemm_bf16,
	          (k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
	(void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A,
	(void)lda, (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
	abort();        /* gemm_bf16_ok() is 0 here */
}

void
gemm_packed(struct kern *k, int M, int N, int K, const float *A, int lda,
            const float *pk, float *C, int ldc)
{
	KERN_TWIN(k, gemm_packed, (k, M, N, K, A, lda, pk, C, ldc));
	(void)M, (void)N, (void)K, (void)A, (void)lda, (void)pk, (void)C,
	(void)ldc;
	abort();        /* gemm_packed_ok() is 0 here */
}
#endif
