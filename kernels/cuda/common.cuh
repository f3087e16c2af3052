/* common.cuh: what the twins in kernels/cuda share: error checks, the
 * stream and cuBLAS handle of a context, launch sizes, deterministic
 * reductions. */
#ifndef KERN_CUDA_COMMON_CUH
#define KERN_CUDA_COMMON_CUH

#include <cuda_runtime.h>
#include <cublas_v2.h>
#include <stdint.h>

#include "cuda/cuda.h"

/* core/util.h's die(), declared here: that header is C (_Noreturn) */
extern "C" [[noreturn]] void die(const char *fmt, ...);

#define CK(call) do { cudaError_t e_ = (call);                          \
	if (e_ != cudaSuccess)                                           \
		die("cuda: %s:%d: %s: %s", __FILE__, __LINE__, #call,    \
		    cudaGetErrorString(e_)); } while (0)
#define CKB(call) do { cublasStatus_t s_ = (call);                      \
	if (s_ != CUBLAS_STATUS_SUCCESS)                                 \
		die("cublas: %s:%d: %s: %s", __FILE__, __LINE__, #call,  \
		    cublasGetStatusString(s_)); } while (0)
/* after a launch: a bad configuration shows here, not later */
#define CKL() CK(cudaGetLastError())

static inline cudaStream_t
kstream(const struct kern *k)
{
	return (cudaStream_t)k->stream;
}

static inline cublasHandle_t
kblas(const struct kern *k)
{
	return (cublasHandle_t)k->blas;
}

#define NT 256          /* threads per block of the element kernels */

/* blocks for n elements, one per thread, capped (grid-stride loops) */
static inline unsigned
nblk(long n)
{
	long b = (n + NT - 1) / NT;
	return b < 1 ? 1 : b > 65535L * 16 ? 65535u * 16 : (unsigned)b;
}

#define FOR_N(i, n) for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; \
	i < (long)(n); i += (long)gridDim.x * blockDim.x)

/* Stream-ordered temporaries (freed after the work that uses them). */
static inline void *
tmp_alloc(const struct kern *k, size_t bytes)
{
	void *p = NULL;
	CK(cudaMallocAsync(&p, bytes ? bytes : 1, kstream(k)));
	return p;
}

static inline void
tmp_free(const struct kern *k, void *p)
{
	CK(cudaFreeAsync(p, kstream(k)));
}

/* Block-wide sum of v over NT threads, in a fixed tree order (the same
 * bits every run).  Every thread gets the result. */
template <typename T>
__device__ T
block_sum(T v)
{
	__shared__ T sh[NT];
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int s = NT / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s)
			sh[threadIdx.x] += sh[threadIdx.x + s];
		__syncthreads();
	}
	T r = sh[0];
	__syncthreads();
	return r;
}

template <typename T>
__device__ T
block_max(T v)
{
	__shared__ T sh[NT];
	sh[threadIdx.x] = v;
	__syncthreads();
	for (int s = NT / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s && sh[threadIdx.x + s] > sh[threadIdx.x])
			sh[threadIdx.x] = sh[threadIdx.x + s];
		__syncthreads();
	}
	T r = sh[0];
	__syncthreads();
	return r;
}

/* Deterministic sum of f(i) for i < n, as double, brought to the host:
 * RBLK blocks each sum a strided share in a fixed tree, one block then
 * adds the partial sums in order.  Not the CPU's left-to-right order, so
 * the last bits can differ from it (gpucheck allows for that). */
#define RBLK 256

template <typename F>
__global__ void
reduce_part(double *part, long n, F f)
{
	double s = 0;
	FOR_N(i, n)
		s += f(i);
	s = block_sum(s);
	if (threadIdx.x == 0)
		part[blockIdx.x] = s;
}

/* the second pass: part[0] = sum of part[0..np) (each .cu its own copy) */
static __global__ void
reduce_final(double *part, int np)
{
	double s = 0;
	for (int i = threadIdx.x; i < np; i += blockDim.x)
		s += part[i];
	s = block_sum(s);
	if (threadIdx.x == 0)
		part[0] = s;
}

template <typename F>
double
reduce_sum(const struct kern *k, long n, F f)
{
	double *part = (double *)tmp_alloc(k, RBLK * sizeof(double)), r;
	reduce_part<<<RBLK, NT, 0, kstream(k)>>>(part, n, f);
	CKL();
	reduce_final<<<1, NT, 0, kstream(k)>>>(part, RBLK);
	CKL();
	CK(cudaMemcpyAsync(&r, part, sizeof r, cudaMemcpyDeviceToHost,
	                   kstream(k)));
	tmp_free(k, part);
	CK(cudaStreamSynchronize(kstream(k)));
	return r;
}

#endif
