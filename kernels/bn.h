/* bn.h: BatchNorm1d's training-mode maths for one channel c of x (B,C),
 * shared by the CPU kernels (cpu/head.c) and their CUDA twins
 * (cuda/head.cu, one thread per channel).  head.h's whole kernels
 * (bn_train_fwd/_bwd) and their parts for data parallelism (bn_sums,
 * bn_fwd_apply, bn_bwd_sums, bn_bwd_apply) are these four steps in
 * different orders, so a whole and its parts give the same bits, on
 * either backend.  Sums in double: B is small, precision is cheap. */
#ifndef KERN_BN_H
#define KERN_BN_H

#include <math.h>

#include "hd.h"

/* sum_i (x[i,c] - shift) and sum_i (x[i,c] - shift)^2 */
static inline KERN_HD void
bn_col_sums(const float *x, int B, int C, int c, double shift, double *sum,
            double *sq)
{
	double a = 0, q = 0;
	for (int i = 0; i < B; i++) {
		double d = x[(long)i * C + c] - shift;
		a += d;
		q += d * d;
	}
	*sum = a, *sq = q;
}

/* Normalise this process's B rows with the mean mu and the sum of squared
 * deviations m2 over n rows in all; save mean, rstd, xhat; move the
 * running stats by momentum with the unbiased variance m2/(n-1). */
static inline KERN_HD void
bn_col_apply(float *y, float *xhat, float *mean, float *rstd, const float *x,
             const float *w, const float *b, float *run_mean, float *run_var,
             double mu, double m2, long n, int B, int C, int c,
             float momentum, float eps)
{
	double var = m2 / n;
	float r = (float)(1.0 / sqrt(var + eps)), m = (float)mu;
	mean[c] = m;
	rstd[c] = r;
	for (int i = 0; i < B; i++) {
		long j = (long)i * C + c;
		xhat[j] = (x[j] - m) * r;
		y[j] = xhat[j] * w[c] + b[c];
	}
	run_mean[c] = (1 - momentum) * run_mean[c] + momentum * m;
	run_var[c] = (1 - momentum) * run_var[c]
	             + momentum * (float)(n > 1 ? m2 / (n - 1) : var);
}

/* sum_i dy[i,c] and sum_i dy[i,c] xhat[i,c] over this process's rows */
static inline KERN_HD void
bn_col_bwd_sums(const float *dy, const float *xhat, int B, int C, int c,
                double *sdy, double *sdyx)
{
	double a = 0, q = 0;
	for (int i = 0; i < B; i++) {
		long j = (long)i * C + c;
		a += dy[j];
		q += (double)dy[j] * xhat[j];
	}
	*sdy = a, *sdyx = q;
}

/* dw += sdyx, db += sdy (this process's sums); dx (may be NULL, may be
 * dy) = w rstd (dy - gdy/n - xhat gdyx/n), with gdy, gdyx the sums over
 * all n rows */
static inline KERN_HD void
bn_col_bwd_apply(float *dx, float *dw, float *db, const float *dy,
                 const float *xhat, const float *rstd, const float *w,
                 double sdy, double sdyx, double gdy, double gdyx, long n,
                 int B, int C, int c)
{
	dw[c] += (float)sdyx;
	db[c] += (float)sdy;
	if (!dx)
		return;
	float k1 = (float)(gdy / n), k2 = (float)(gdyx / n);
	float f = w[c] * rstd[c];
	for (int i = 0; i < B; i++) {
		long j = (long)i * C + c;
		dx[j] = f * (dy[j] - k1 - xhat[j] * k2);
	}
}

#endif
