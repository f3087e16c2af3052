/* blas.h: GEMM (OpenBLAS cblas_sgemm, row-major) and the worker threads
 * that run the per-element loops.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise some recent CPUs and falls
 * back to its generic SSE3 (Prescott) kernel, about 5x slower, unless
 * OPENBLAS_CORETYPE names a core.  blas_setup() fixes that before any GEMM
 * runs: when the variable is unset and OpenBLAS chose a pre-AVX2 kernel on
 * a CPU that has AVX2 (-> Haswell kernels) or AVX-512 (-> SkylakeX), it
 * sets the variable and re-executes /proc/self/exe once (OpenBLAS reads it
 * only when the library is loaded). */
#ifndef KERN_BLAS_H
#define KERN_BLAS_H

#include <stddef.h>
#include "ctx.h"

/* Call first thing in main() of every tool that does maths, with main's
 * argv before getopt permutes it.  Returns OpenBLAS's core name in force
 * ("Haswell", "SkylakeX", "Cooperlake", ...). */
const char *blas_setup(char **argv);

/* Threads of the process's pool (kern_par_for): the element loops, and
 * the GEMMs and GEMVs, which blas_sgemm/blas_sgemv cut into blocks of
 * rows or columns of C, one OpenBLAS call each (OpenBLAS itself runs
 * single-threaded: its idle workers' sched_yield spin cost a fifth of a
 * small LM step).  n <= 0: the number of online CPUs.  A GEMM's bits do
 * not depend on n (tests/unit/kernels.c); the rest is bitwise identical
 * for a fixed n. */
void kern_set_threads(int n);
int kern_threads(void);

/* C(M,N) = alpha op(A)(M,K) op(B)(K,N) + beta C.  Row-major; ta/tb 1 means
 * the stored matrix is transposed (A is stored (K,M), B is stored (N,K)). */
void blas_sgemm(struct kern *k, int ta, int tb, int M, int N, int K,
                float alpha, const float *A, int lda, const float *B, int ldb,
                float beta, float *C, int ldc);

/* Precision of blas_sgemm is the context's k->bf16: 0 fp32 (default), 1
 * bf16 (gemm_bf16 in gemm.h: operands rounded to bfloat16, fp32 sums;
 * products smaller than 2^18 multiply-adds stay fp32).  kern_set_bf16
 * sets it on kern_default(), the context the tools' models take; the
 * caller checks gemm_bf16_ok() first.  blas_sgemv stays fp32; the
 * packed recurrence (gemm.h) follows k->bf16 too, at any size, since its
 * rounding of W_hh is paid once per batch. */
void kern_set_bf16(int on);
int kern_bf16(void);

/* y(M) = alpha op(A) x + beta y.  A stored row-major (M,N) when ta is 0,
 * (N,M) when ta is 1.  For one row (B = 1, infer's single review) this
 * reads A once instead of packing it as sgemm does on every call. */
void blas_sgemv(struct kern *k, int ta, int M, int N, float alpha,
                const float *A, int lda, const float *x, float beta, float *y);

/* Run fn(ctx, lo, hi) over [0, n) split into kern_threads() contiguous,
 * equal pieces (the split depends only on n and the thread count, so the
 * result does too).  Small n runs inline. */
typedef void (*kern_range_fn)(void *ctx, long lo, long hi);
void kern_par_for(struct kern *k, long n, long min_per_thread, kern_range_fn fn,
                  void *ctx);

/* For the element loops of kernels/cpu (they vectorise: restrict
 * pointers, branch-free maths in *_elem.h): target_clones adds AVX2 and
 * AVX-512 builds picked at load time.  -std=c11 keeps -ffp-contract=off,
 * so every clone gives the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define KERN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KERN_CLONES
#endif

#endif
