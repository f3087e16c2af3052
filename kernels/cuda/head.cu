/* head.cu: the classifier head (head.h) on the device.  Pooling and the
 * batch norm statistics run one thread per (row, feature) or per channel
 * with the CPU's loops inside, so the sums are in the CPU's order. */
#include <math.h>

#include "common.cuh"
#include "bn.h"

__global__ void
pool_fwd_k(float *y, int32_t *argmax, int32_t *last, const float *out,
           const uint8_t *mask, int B, int T, int D)
{
	FOR_N(i, (long)B * D) {
		long b = i / D, d = i % D;
		const float *o = out + b * T * D;
		const uint8_t *m = mask + b * T;
		float *yl = y + b * 3 * D, *ym = yl + D, *ya = ym + D;
		int npad = 0, lt = -1;
		for (int t = 0; t < T; t++) {
			npad += m[t] != 0;
			if (!m[t])
				lt = t;
		}
		int len = T - npad;
		if (d == 0)
			last[b] = len ? lt : -1;
		if (len == 0) {
			yl[d] = ym[d] = ya[d] = 0;
			argmax[b * D + d] = -1;
			continue;
		}
		float mx = -INFINITY, s = 0;
		int am = -1;
		for (int t = 0; t < T; t++) {
			if (m[t])
				continue;
			float v = o[(long)t * D + d];
			if (v > mx || am < 0)
				mx = v, am = t;
			s += v;
		}
		yl[d] = o[(long)lt * D + d];
		ym[d] = mx;
		ya[d] = s / (float)len;
		argmax[b * D + d] = am;
	}
}

extern "C" void
cuda_pool_concat_fwd(struct kern *k, float *y, int32_t *argmax, int32_t *last,
                     const float *out, const uint8_t *mask, int B, int T,
                     int D, int bptt)
{
	(void)bptt;     /* head.h: the true last token */
	if ((long)B * D <= 0)
		return;
	pool_fwd_k<<<nblk((long)B * D), NT, 0, kstream(k)>>>(y, argmax, last,
	                                                     out, mask, B, T, D);
	CKL();
}

/* per (b, d): the column d of dout[b], then last and argmax added */
__global__ void
pool_bwd_k(float *dout, const float *dy, const int32_t *argmax,
           const int32_t *last, const uint8_t *mask, int B, int T, int D)
{
	FOR_N(i, (long)B * D) {
		long b = i / D, d = i % D;
		float *g = dout + b * T * D;
		const uint8_t *m = mask + b * T;
		const float *dl = dy + b * 3 * D, *dm = dl + D, *da = dm + D;
		int len = 0;
		for (int t = 0; t < T; t++)
			len += !m[t];
		for (int t = 0; t < T; t++)
			g[(long)t * D + d] = m[t] ? 0.0f : da[d] / (float)len;
		if (last[b] < 0)
			continue;
		g[(long)last[b] * D + d] += dl[d];
		g[(long)argmax[b * D + d] * D + d] += dm[d];
	}
}

extern "C" void
cuda_pool_concat_bwd(struct kern *k, float *dout, const float *dy,
                     const int32_t *argmax, const int32_t *last,
                     const uint8_t *mask, int B, int T, int D)
{
	if ((long)B * D <= 0)
		return;
	pool_bwd_k<<<nblk((long)B * D), NT, 0, kstream(k)>>>(dout, dy, argmax,
	                                                     last, mask, B, T, D);
	CKL();
}

__global__ void
bn_train_fwd_k(float *y, float *xhat, float *mean, float *rstd,
               const float *x, const float *w, const float *b,
               float *run_mean, float *run_var, int B, int C, float momentum,
               float eps)
{
	FOR_N(c, C) {
		/* two passes: the mean, then the squares about it */
		double sum, q;
		bn_col_sums(x, B, C, c, 0, &sum, &q);
		double mu = sum / B;
		bn_col_sums(x, B, C, c, mu, &sum, &q);
		bn_col_apply(y, xhat, mean, rstd, x, w, b, run_mean, run_var, mu,
		             q, B, B, C, c, momentum, eps);
	}
}

extern "C" void
cuda_bn_train_fwd(struct kern *k, float *y, float *xhat, float *mean,
                  float *rstd, const float *x, const float *w, const float *b,
                  float *run_mean, float *run_var, int B, int C,
                  float momentum, float eps)
{
	if (C <= 0)
		return;
	bn_train_fwd_k<<<nblk(C), NT, 0, kstream(k)>>>(y, xhat, mean, rstd, x, w,
	                                               b, run_mean, run_var, B, C,
	                                               momentum, eps);
	CKL();
}

__global__ void
bn_train_bwd_k(float *dx, float *dw, float *db, const float *dy,
               const float *xhat, const float *rstd, const float *w, int B,
               int C)
{
	FOR_N(c, C) {
		double sdy, sdyx;
		bn_col_bwd_sums(dy, xhat, B, C, c, &sdy, &sdyx);
		bn_col_bwd_apply(dx, dw, db, dy, xhat, rstd, w, sdy, sdyx, sdy,
		                 sdyx, B, B, C, c);
	}
}

extern "C" void
cuda_bn_train_bwd(struct kern *k, float *dx, float *dw, float *db,
                  const float *dy, const float *xhat, const float *rstd,
                  const float *w, int B, int C)
{
	if (C <= 0)
		return;
	bn_train_bwd_k<<<nblk(C), NT, 0, kstream(k)>>>(dx, dw, db, dy, xhat,
	                                               rstd, w, B, C);
	CKL();
}

/* the split BatchNorm (head.h): one thread per channel, bn.h's maths
 * as the CPU's */
__global__ void
bn_sums_k(double *s, const float *x, const double *shift, int B, int C)
{
	FOR_N(c, C)
		bn_col_sums(x, B, C, c, shift ? shift[c] : 0, &s[c], &s[C + c]);
}

extern "C" void
cuda_bn_sums(struct kern *k, double *s, const float *x, const double *shift,
             int B, int C)
{
	if (C <= 0)
		return;
	bn_sums_k<<<nblk(C), NT, 0, kstream(k)>>>(s, x, shift, B, C);
	CKL();
}

__global__ void
bn_fwd_apply_k(float *y, float *xhat, float *mean, float *rstd,
               const float *x, const float *w, const float *b,
               float *run_mean, float *run_var, const double *mu,
               const double *m2, long n, int B, int C, float momentum,
               float eps)
{
	FOR_N(c, C)
		bn_col_apply(y, xhat, mean, rstd, x, w, b, run_mean, run_var,
		             mu[c], m2[c], n, B, C, c, momentum, eps);
}

extern "C" void
cuda_bn_fwd_apply(struct kern *k, float *y, float *xhat, float *mean,
                  float *rstd, const float *x, const float *w, const float *b,
                  float *run_mean, float *run_var, const double *mu,
                  const double *m2, long n, int B, int C, float momentum,
                  float eps)
{
	if (C <= 0)
		return;
	bn_fwd_apply_k<<<nblk(C), NT, 0, kstream(k)>>>(y, xhat, mean, rstd, x, w,
	                                               b, run_mean, run_var, mu,
	                                               m2, n, B, C, momentum,
	                                               eps);
	CKL();
}

__global__ void
bn_bwd_sums_k(double *s, const float *dy, const float *xhat, int B, int C)
{
	FOR_N(c, C)
		bn_col_bwd_sums(dy, xhat, B, C, c, &s[c], &s[C + c]);
}

extern "C" void
cuda_bn_bwd_sums(struct kern *k, double *s, const float *dy,
                 const float *xhat, int B, int C)
{
	if (C <= 0)
		return;
	bn_bwd_sums_k<<<nblk(C), NT, 0, kstream(k)>>>(s, dy, xhat, B, C);
	CKL();
}

__global__ void
bn_bwd_apply_k(float *dx, float *dw, float *db, const float *dy,
               const float *xhat, const float *rstd, const float *w,
               const double *s, const double *gs, long n, int B, int C)
{
	FOR_N(c, C)
		bn_col_bwd_apply(dx, dw, db, dy, xhat, rstd, w, s[c], s[C + c],
		                 gs[c], gs[C + c], n, B, C, c);
}

extern "C" void
cuda_bn_bwd_apply(struct kern *k, float *dx, float *dw, float *db,
                  const float *dy, const float *xhat, const float *rstd,
                  const float *w, const double *s, const double *gs, long n,
                  int B, int C)
{
	if (C <= 0)
		return;
	bn_bwd_apply_k<<<nblk(C), NT, 0, kstream(k)>>>(dx, dw, db, dy, xhat,
	                                               rstd, w, s, gs, n, B, C);
	CKL();
}

__global__ void
bn_eval_fwd_k(float *y, float *xhat, float *rstd, const float *x,
              const float *w, const float *b, const float *run_mean,
              const float *run_var, int B, int C, float eps)
{
	FOR_N(j, (long)B * C) {
		long c = j % C;
		float r = 1.0f / sqrtf(run_var[c] + eps);
		if (j < C)
			rstd[c] = r;
		xhat[j] = (x[j] - run_mean[c]) * r;
		y[j] = xhat[j] * w[c] + b[c];
	}
}

extern "C" void
cuda_bn_eval_fwd(struct kern *k, float *y, float *xhat, float *rstd,
                 const float *x, const float *w, const float *b,
                 const float *run_mean, const float *run_var, int B, int C,
                 float eps)
{
	if ((long)B * C <= 0)
		return;
	bn_eval_fwd_k<<<nblk((long)B * C), NT, 0, kstream(k)>>>(
		y, xhat, rstd, x, w, b, run_mean, run_var, B, C, eps);
	CKL();
}

/* per channel: dw, db in the CPU's row order; dx per element */
__global__ void
bn_eval_bwd_k(float *dx, float *dw, float *db, const float *dy,
              const float *xhat, const float *rstd, const float *w, int B,
              int C)
{
	FOR_N(c, C)
		for (int i = 0; i < B; i++) {
			long j = (long)i * C + c;
			dw[c] += dy[j] * xhat[j];
			db[c] += dy[j];
			if (dx)
				dx[j] = dy[j] * w[c] * rstd[c];
		}
}

extern "C" void
cuda_bn_eval_bwd(struct kern *k, float *dx, float *dw, float *db,
                 const float *dy, const float *xhat, const float *rstd,
                 const float *w, int B, int C)
{
	if (C <= 0)
		return;
	bn_eval_bwd_k<<<nblk(C), NT, 0, kstream(k)>>>(dx, dw, db, dy, xhat, rstd,
	                                              w, B, C);
	CKL();
}

/* Linear without bias: y = x W^T, always fp32 (the CPU's cblas_sgemm) */
extern "C" void
cuda_linnb_fwd(struct kern *k, float *y, const float *x, const float *w,
               int B, int nin, int nout)
{
	const float one = 1.0f, zero = 0.0f;
	if (B <= 0 || nout <= 0)
		return;
	/* row-major y(B,nout) = x(B,nin) w(nout,nin)^T, column-major:
	 * y^T = w x^T */
	CKB(cublasSgemm(kblas(k), CUBLAS_OP_T, CUBLAS_OP_N, nout, B, nin, &one,
	                w, nin, x, nin, &zero, y, nout));
}

extern "C" void
cuda_linnb_bwd(struct kern *k, float *dx, float *dw, const float *dy,
               const float *x, const float *w, int B, int nin, int nout)
{
	const float one = 1.0f, zero = 0.0f;
	if (B <= 0)
		return;
	if (dx)         /* dx(B,nin) = dy(B,nout) w(nout,nin) */
		CKB(cublasSgemm(kblas(k), CUBLAS_OP_N, CUBLAS_OP_N, nin, B, nout,
		                &one, w, nin, dy, nout, &zero, dx, nin));
	if (dw)         /* dw(nout,nin) += dy^T(nout,B) x(B,nin) */
		CKB(cublasSgemm(kblas(k), CUBLAS_OP_N, CUBLAS_OP_T, nin, nout, B,
		                &one, x, nin, dy, nout, &one, dw, nin));
}

__global__ void
relu_k(float *y, const float *x, long n)
{
	FOR_N(i, n)
		y[i] = relu_elem(x[i]);
}

__global__ void
relu_bwd_k(float *dx, const float *dy, const float *y, long n)
{
	FOR_N(i, n)
		dx[i] = relu_grad_elem(y[i], dy[i]);
}

extern "C" void
cuda_relu_fwd(struct kern *k, float *y, const float *x, long n)
{
	if (n <= 0)
		return;
	relu_k<<<nblk(n), NT, 0, kstream(k)>>>(y, x, n);
	CKL();
}

extern "C" void
cuda_relu_bwd(struct kern *k, float *dx, const float *dy, const float *y,
              long n)
{
	if (n <= 0)
		return;
	relu_bwd_k<<<nblk(n), NT, 0, kstream(k)>>>(dx, dy, y, n);
	CKL();
}
