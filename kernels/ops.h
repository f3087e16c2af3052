/* ops.h: the general element operations of a training step, so that the
 * models touch tensor memory only through kernels: bias broadcast,
 * column sums, axpy and scale, the (T,B,E) <-> (B,T,E) transposes,
 * reductions returning a scalar.
 *
 * Every pointer is device memory of k (ctx.h); sizes are host ints.  The
 * CPU twin splits rows or elements between kern_par_for's threads; every
 * output element is computed by one thread in a fixed order, so results
 * do not depend on the thread count.  Nothing here allocates. */
#ifndef KERN_OPS_H
#define KERN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "ctx.h"

/* y(rows,cols): every row = b1 (+ b2 when not NULL, added in float as
 * b1[j] + b2[j]).  The bias before a GEMM that accumulates (beta 1). */
void ops_bias_rows(struct kern *k, float *y, const float *b1,
                   const float *b2, long rows, int cols);

/* acc(cols) += sum over rows of x(rows,cols), rows added in order (a
 * bias gradient). */
void ops_colsum_acc(struct kern *k, float *acc, const float *x, long rows,
                    int cols);

/* y += a x; x *= a (n elements) */
void ops_axpy(struct kern *k, float *y, float a, const float *x, size_t n);
void ops_scale(struct kern *k, float *x, float a, size_t n);

/* dst(B,T,E) = src(T,B,E) and back: time-major caches <-> the
 * batch-first API.  dst and src do not overlap. */
void ops_tbe_to_bte(struct kern *k, float *dst, const float *src, int T,
                    int B, int E);
void ops_bte_to_tbe(struct kern *k, float *dst, const float *src, int B,
                    int T, int E);

/* dst(rows, w) with leading dimension ldd = src(rows, w) with leading
 * dimension lds (a column block of a wider matrix, e.g. the keys of a
 * (T,3C) qkv block into a (T,C) cache).  No overlap. */
void ops_copy_rows(struct kern *k, float *dst, long ldd, const float *src,
                   long lds, long rows, int w);

/* Reductions: the value comes back to the host (a step's scalars).
 * sum of x[0..n) in double, in order; sum of squares of x in double (a
 * gradient norm's square); count of x[i] != 0. */
double ops_sum_f64(struct kern *k, const double *x, long n);
double ops_sumsq(struct kern *k, const float *x, size_t n);
long ops_count_nz(struct kern *k, const int *x, long n);

#endif
