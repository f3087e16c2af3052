/* gemm.cu: the GEMMs (blas.h, gemm.h) through cuBLAS.
 *
 * cuBLAS is column-major; a row-major C(M,N) is the column-major C^T(N,M),
 * so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T: the operands
 * swap places and keep their leading dimensions. */
#include <cuda_bf16.h>

#include "common.cuh"

static cublasOperation_t
op(int t)
{
	return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}

static void
sgemm(struct kern *k, int ta, int tb, int M, int N, int K, float alpha,
      const float *A, int lda, const float *B, int ldb, float beta, float *C,
      int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	CKB(cublasSgemm(kblas(k), op(tb), op(ta), N, M, K, &alpha, B, ldb, A,
	                lda, &beta, C, ldc));
}

/* as the CPU's blas_sgemm: k->bf16 sends products of 2^18 multiply-adds
 * and more to the bf16 GEMM */
extern "C" void
cuda_blas_sgemm(struct kern *k, int ta, int tb, int M, int N, int K,
                float alpha, const float *A, int lda, const float *B, int ldb,
                float beta, float *C, int ldc)
{
	if (k->bf16 && (double)M * N * K >= (1 << 18))
		cuda_gemm_bf16(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
		               C, ldc);
	else
		sgemm(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* y(M) = alpha op(A) x + beta y.  Row-major A (M,N) is column-major
 * (N,M): y = A x is its transpose times x. */
extern "C" void
cuda_blas_sgemv(struct kern *k, int ta, int M, int N, float alpha,
                const float *A, int lda, const float *x, float beta, float *y)
{
	if (M <= 0)
		return;
	if (ta)         /* A stored (N,M) row-major = (M,N) column-major */
		CKB(cublasSgemv(kblas(k), CUBLAS_OP_N, M, N, &alpha, A, lda, x,
		                1, &beta, y, 1));
	else
		CKB(cublasSgemv(kblas(k), CUBLAS_OP_T, N, M, &alpha, A, lda, x,
		                1, &beta, y, 1));
}

/* ---- packed right-hand sides (gemm.h's layout, so that a caller that
 * packs once per batch gets the same numbers) ----
 * pk[p][k][j] = B[k][p*NR + j], zero past N; under k->bf16 each value is
 * rounded to bfloat16 (kept as a float: the products of two such values
 * are exact in fp32, so an fp32 GEMM on them is gemm_bf16's maths). */
static __device__ float
bf16_round(float v)
{
	return __bfloat162float(__float2bfloat16_rn(v));
}

__global__ void
round_bf16_k(float *d, const float *s, long n)
{
	FOR_N(i, n)
		d[i] = bf16_round(s[i]);
}

__global__ void
pack_k(float *pk, const float *W, int ldw, int K, int N, int bt, int bf)
{
	long np = (N + GEMM_NR - 1) / GEMM_NR;
	FOR_N(i, np * K * GEMM_NR) {
		long p = i / ((long)K * GEMM_NR), r = i % ((long)K * GEMM_NR);
		int kk = (int)(r / GEMM_NR), j = (int)(r % GEMM_NR);
		long n = p * GEMM_NR + j;
		float v = 0.0f;
		if (n < N)
			v = bt ? W[n * ldw + kk] : W[(long)kk * ldw + n];
		pk[i] = bf ? bf16_round(v) : v;
	}
}

extern "C" void
cuda_gemm_pack_bt(struct kern *k, float *pk, const float *W, int ldw, int K,
                  int N)
{
	long n = (long)(N + GEMM_NR - 1) / GEMM_NR * K * GEMM_NR;
	if (n <= 0)
		return;
	pack_k<<<nblk(n), NT, 0, kstream(k)>>>(pk, W, ldw, K, N, 1, k->bf16);
	CKL();
}

extern "C" void
cuda_gemm_pack_b(struct kern *k, float *pk, const float *W, int ldw, int K,
                 int N)
{
	long n = (long)(N + GEMM_NR - 1) / GEMM_NR * K * GEMM_NR;
	if (n <= 0)
		return;
	pack_k<<<nblk(n), NT, 0, kstream(k)>>>(pk, W, ldw, K, N, 0, k->bf16);
	CKL();
}

/* C(M,N) += A(M,K) B: each full panel p is a row-major (K,NR) matrix with
 * leading dimension NR, so the full panels are one strided batched GEMM
 * (C columns p*NR.., A shared); the last, partial panel a GEMM of its own
 * width (its zero padding must not reach the next row of C).  Under
 * k->bf16 pk was rounded when packed, and A is rounded here. */
extern "C" void
cuda_gemm_packed(struct kern *k, int M, int N, int K, const float *A, int lda,
                 const float *pk, float *C, int ldc)
{
	if (M <= 0 || N <= 0 || K <= 0)
		return;
	float *ar = NULL;
	if (k->bf16) {
		long n = (long)(M - 1) * lda + K;
		ar = (float *)tmp_alloc(k, n * sizeof *ar);
		round_bf16_k<<<nblk(n), NT, 0, kstream(k)>>>(ar, A, n);
		CKL();
		A = ar;
	}
	const float one = 1.0f;
	int full = N / GEMM_NR, rest = N % GEMM_NR;
	long ps = (long)K * GEMM_NR;
	if (full)
		CKB(cublasSgemmStridedBatched(kblas(k), CUBLAS_OP_N, CUBLAS_OP_N,
		                              GEMM_NR, M, K, &one, pk, GEMM_NR,
		                              ps, A, lda, 0, &one, C, ldc,
		                              GEMM_NR, full));
	if (rest)
		CKB(cublasSgemm(kblas(k), CUBLAS_OP_N, CUBLAS_OP_N, rest, M, K,
		                &one, pk + full * ps, GEMM_NR, A, lda, &one,
		                C + (long)full * GEMM_NR, ldc));
	if (ar)
		tmp_free(k, ar);
}

/* ---- bf16: operands rounded to bfloat16 (nearest even, as gemm_f2bf),
 * products summed in fp32 (cublasGemmEx, CUBLAS_COMPUTE_32F) ---- */
__global__ void
to_bf16_k(__nv_bfloat16 *d, const float *s, long n)
{
	FOR_N(i, n)
		d[i] = __float2bfloat16_rn(s[i]);
}

/* a stored (rows, cols) matrix with leading dimension ld: the rows up to
 * the last one's cols (a view into a wider matrix ends there) */
static __nv_bfloat16 *
bf16_copy(struct kern *k, const float *s, long rows, int cols, int ld)
{
	long n = (rows - 1) * ld + cols;
	__nv_bfloat16 *d = (__nv_bfloat16 *)tmp_alloc(k, n * sizeof *d);
	to_bf16_k<<<nblk(n), NT, 0, kstream(k)>>>(d, s, n);
	CKL();
	return d;
}

extern "C" void
cuda_gemm_bf16(struct kern *k, int ta, int tb, int M, int N, int K,
               float alpha, const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc)
{
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0) {   /* nothing to round: C = beta C */
		sgemm(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		return;
	}
	/* as stored: A (M,K) or (K,M), B (K,N) or (N,K) */
	__nv_bfloat16 *a = bf16_copy(k, A, ta ? K : M, ta ? M : K, lda);
	__nv_bfloat16 *b = bf16_copy(k, B, tb ? N : K, tb ? K : N, ldb);
	CKB(cublasGemmEx(kblas(k), op(tb), op(ta), N, M, K, &alpha, b,
	                 CUDA_R_16BF, ldb, a, CUDA_R_16BF, lda, &beta, C,
	                 CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F,
	                 CUBLAS_GEMM_DEFAULT));
	tmp_free(k, a);
	tmp_free(k, b);
}
