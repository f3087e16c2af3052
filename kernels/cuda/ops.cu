/* ops.cu: the general element operations (ops.h) on the device.  Column
 * sums run one thread per column over the rows in order (the CPU's
 * order: the same bits); the reductions are reduce_sum's fixed tree. */
#include "common.cuh"

__global__ void
bias_k(float *y, const float *b1, const float *b2, long rows, int cols)
{
	FOR_N(i, rows * cols) {
		long j = i % cols;
		y[i] = b2 ? b1[j] + b2[j] : b1[j];
	}
}

extern "C" void
cuda_ops_bias_rows(struct kern *k, float *y, const float *b1,
                   const float *b2, long rows, int cols)
{
	if (rows * cols <= 0)
		return;
	bias_k<<<nblk(rows * cols), NT, 0, kstream(k)>>>(y, b1, b2, rows, cols);
	CKL();
}

__global__ void
colsum_k(float *acc, const float *x, long rows, int cols)
{
	FOR_N(j, cols) {
		float s = acc[j];
		for (long r = 0; r < rows; r++)
			s += x[r * cols + j];
		acc[j] = s;
	}
}

extern "C" void
cuda_ops_colsum_acc(struct kern *k, float *acc, const float *x, long rows,
                    int cols)
{
	if (rows <= 0 || cols <= 0)
		return;
	colsum_k<<<nblk(cols), NT, 0, kstream(k)>>>(acc, x, rows, cols);
	CKL();
}

__global__ void
axpy_k(float *y, float a, const float *x, size_t n)
{
	FOR_N(i, n)
		y[i] += a * x[i];
}

__global__ void
scale_k(float *x, float a, size_t n)
{
	FOR_N(i, n)
		x[i] *= a;
}

extern "C" void
cuda_ops_axpy(struct kern *k, float *y, float a, const float *x, size_t n)
{
	if (!n)
		return;
	axpy_k<<<nblk((long)n), NT, 0, kstream(k)>>>(y, a, x, n);
	CKL();
}

extern "C" void
cuda_ops_scale(struct kern *k, float *x, float a, size_t n)
{
	if (!n)
		return;
	scale_k<<<nblk((long)n), NT, 0, kstream(k)>>>(x, a, n);
	CKL();
}

/* dst (B,T,E) from src (T,B,E) when tb is 1; (T,B,E) from (B,T,E) when 0.
 * i runs over dst. */
__global__ void
transpose_k(float *dst, const float *src, int T, int B, int E, int to_bte)
{
	FOR_N(i, (long)T * B * E) {
		long e = i % E, r = i / E, t, b;
		if (to_bte)
			b = r / T, t = r % T;
		else
			t = r / B, b = r % B;
		dst[i] = to_bte ? src[(t * B + b) * E + e]
		                : src[(b * T + t) * E + e];
	}
}

extern "C" void
cuda_ops_tbe_to_bte(struct kern *k, float *dst, const float *src, int T,
                    int B, int E)
{
	long n = (long)T * B * E;
	if (n <= 0)
		return;
	transpose_k<<<nblk(n), NT, 0, kstream(k)>>>(dst, src, T, B, E, 1);
	CKL();
}

extern "C" void
cuda_ops_bte_to_tbe(struct kern *k, float *dst, const float *src, int B,
                    int T, int E)
{
	long n = (long)T * B * E;
	if (n <= 0)
		return;
	transpose_k<<<nblk(n), NT, 0, kstream(k)>>>(dst, src, T, B, E, 0);
	CKL();
}

extern "C" void
cuda_ops_copy_rows(struct kern *k, float *dst, long ldd, const float *src,
                   long lds, long rows, int w)
{
	if (rows <= 0 || w <= 0)
		return;
	CK(cudaMemcpy2DAsync(dst, ldd * sizeof *dst, src, lds * sizeof *src,
	                     (size_t)w * sizeof *dst, rows,
	                     cudaMemcpyDeviceToDevice, kstream(k)));
}

namespace {       /* this file's functors */
struct id_f {
	const double *x;
	__device__ double operator()(long i) const { return x[i]; }
};

struct sq_f {
	const float *x;
	__device__ double operator()(long i) const
	{ return (double)x[i] * x[i]; }
};

struct nz_f {
	const int *x;
	__device__ double operator()(long i) const { return x[i] != 0; }
};
}

extern "C" double
cuda_ops_sum_f64(struct kern *k, const double *x, long n)
{
	return n > 0 ? reduce_sum(k, n, id_f{ x }) : 0.0;
}

extern "C" double
cuda_ops_sumsq(struct kern *k, const float *x, size_t n)
{
	return n ? reduce_sum(k, (long)n, sq_f{ x }) : 0.0;
}

/* counts up to 2^53 are exact in double */
extern "C" long
cuda_ops_count_nz(struct kern *k, const int *x, long n)
{
	return n > 0 ? (long)reduce_sum(k, n, nz_f{ x }) : 0;
}
