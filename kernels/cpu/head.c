/* head.c: CPU reference for the classifier head kernels (see head.h). */
#include <cblas.h>
#include <math.h>

#include "head.h"
#include "bn.h"
#include "dispatch.h"

void
pool_concat_fwd(struct kern *k, float *y, int32_t *argmax, int32_t *last,
                const float *out, const uint8_t *mask, int B, int T, int D,
                int bptt)
{
	KERN_TWIN(k, pool_concat_fwd,
	          (k, y, argmax, last, out, mask, B, T, D, bptt));
	(void)k;
	(void)bptt;   /* see head.h: the true last token, not T-last_pads-1 */
	for (int b = 0; b < B; b++) {
		const float *o = out + (long)b * T * D;
		const uint8_t *m = mask + (long)b * T;
		float *yl = y + (long)b * 3 * D, *ym = yl + D, *ya = ym + D;
		int32_t *am = argmax + (long)b * D;
		int npad = 0, lt = -1;

		for (int t = 0; t < T; t++) {
			npad += m[t] != 0;
			if (!m[t])
				lt = t;
		}
		int len = T - npad;
		if (len == 0) {
			for (int d = 0; d < 3 * D; d++)
				yl[d] = 0;
			for (int d = 0; d < D; d++)
				am[d] = -1;
			last[b] = -1;
			continue;
		}
		last[b] = lt;
		for (int d = 0; d < D; d++) {
			yl[d] = o[(long)last[b] * D + d];
			ym[d] = -INFINITY;
			am[d] = -1;
			ya[d] = 0;
		}
		for (int t = 0; t < T; t++) {
			if (m[t])
				continue;
			const float *ot = o + (long)t * D;
			for (int d = 0; d < D; d++) {
				/* strict >: the first maximum, as torch's max() */
				if (ot[d] > ym[d] || am[d] < 0) {
					ym[d] = ot[d];
					am[d] = t;
				}
				ya[d] += ot[d];
			}
		}
		for (int d = 0; d < D; d++)
			ya[d] /= (float)len;
	}
}

void
pool_concat_bwd(struct kern *k, float *dout, const float *dy,
                const int32_t *argmax, const int32_t *last, const uint8_t *mask,
                int B, int T, int D)
{
	KERN_TWIN(k, pool_concat_bwd,
	          (k, dout, dy, argmax, last, mask, B, T, D));
	(void)k;
	for (int b = 0; b < B; b++) {
		float *g = dout + (long)b * T * D;
		const uint8_t *m = mask + (long)b * T;
		const float *dl = dy + (long)b * 3 * D, *dm = dl + D, *da = dm + D;
		const int32_t *am = argmax + (long)b * D;
		int len = 0;

		for (int t = 0; t < T; t++)
			len += !m[t];
		for (int t = 0; t < T; t++) {
			float *gt = g + (long)t * D;
			if (m[t]) {
				for (int d = 0; d < D; d++)
					gt[d] = 0;
				continue;
			}
			for (int d = 0; d < D; d++)
				gt[d] = da[d] / (float)len;
		}
		if (last[b] < 0)
			continue;
		for (int d = 0; d < D; d++) {
			g[(long)last[b] * D + d] += dl[d];
			g[(long)am[d] * D + d] += dm[d];
		}
	}
}

void
bn_train_fwd(struct kern *k, float *y, float *xhat, float *mean, float *rstd,
             const float *x, const float *w, const float *b, float *run_mean,
             float *run_var, int B, int C, float momentum, float eps)
{
	KERN_TWIN(k, bn_train_fwd,
	          (k, y, xhat, mean, rstd, x, w, b, run_mean, run_var, B, C, momentum, eps));
	(void)k;
	for (int c = 0; c < C; c++) {
		/* two passes: the mean, then the squares about it */
		double s, q;
		bn_col_sums(x, B, C, c, 0, &s, &q);
		double mu = s / B;
		bn_col_sums(x, B, C, c, mu, &s, &q);
		bn_col_apply(y, xhat, mean, rstd, x, w, b, run_mean, run_var, mu,
		             q, B, B, C, c, momentum, eps);
	}
}

void
bn_train_bwd(struct kern *k, float *dx, float *dw, float *db, const float *dy,
             const float *xhat, const float *rstd, const float *w, int B, int C)
{
	KERN_TWIN(k, bn_train_bwd, (k, dx, dw, db, dy, xhat, rstd, w, B, C));
	(void)k;
	for (int c = 0; c < C; c++) {
		double sdy, sdyx;
		bn_col_bwd_sums(dy, xhat, B, C, c, &sdy, &sdyx);
		bn_col_bwd_apply(dx, dw, db, dy, xhat, rstd, w, sdy, sdyx, sdy,
		                 sdyx, B, B, C, c);
	}
}

void
bn_sums(struct kern *k, double *s, const float *x, const double *shift, int B,
        int C)
{
	KERN_TWIN(k, bn_sums, (k, s, x, shift, B, C));
	(void)k;
	for (int c = 0; c < C; c++)
		bn_col_sums(x, B, C, c, shift ? shift[c] : 0, &s[c], &s[C + c]);
}

void
bn_fwd_apply(struct kern *k, float *y, float *xhat, float *mean, float *rstd,
             const float *x, const float *w, const float *b, float *run_mean,
             float *run_var, const double *mu, const double *m2, long n,
             int B, int C, float momentum, float eps)
{
	KERN_TWIN(k, bn_fwd_apply,
	          (k, y, xhat, mean, rstd, x, w, b, run_mean, run_var, mu, m2, n, B, C, momentum, eps));
	(void)k;
	for (int c = 0; c < C; c++)
		bn_col_apply(y, xhat, mean, rstd, x, w, b, run_mean, run_var,
		             mu[c], m2[c], n, B, C, c, momentum, eps);
}

void
bn_bwd_sums(struct kern *k, double *s, const float *dy, const float *xhat,
            int B, int C)
{
	KERN_TWIN(k, bn_bwd_sums, (k, s, dy, xhat, B, C));
	(void)k;
	for (int c = 0; c < C; c++)
		bn_col_bwd_sums(dy, xhat, B, C, c, &s[c], &s[C + c]);
}

void
bn_bwd_apply(struct kern *k, float *dx, float *dw, float *db, const float *dy,
             const float *xhat, const float *rstd, const float *w,
             const double *s, const double *gs, long n, int B, int C)
{
	KERN_TWIN(k, bn_bwd_apply,
	          (k, dx, dw, db, dy, xhat, rstd, w, s, gs, n, B, C));
	(void)k;
	for (int c = 0; c < C; c++)
		bn_col_bwd_apply(dx, dw, db, dy, xhat, rstd, w, s[c], s[C + c],
		                 gs[c], gs[C + c], n, B, C, c);
}

void
bn_eval_fwd(struct kern *k, float *y, float *xhat, float *rstd, const float *x,
            const float *w, const float *b, const float *run_mean,
            const float *run_var, int B, int C, float eps)
{
	KERN_TWIN(k, bn_eval_fwd,
	          (k, y, xhat, rstd, x, w, b, run_mean, run_var, B, C, eps));
	(void)k;
	for (int c = 0; c < C; c++)
		rstd[c] = 1.0f / sqrtf(run_var[c] + eps);
	for (int i = 0; i < B; i++)
		for (int c = 0; c < C; c++) {
			long k = (long)i * C + c;
			xhat[k] = (x[k] - run_mean[c]) * rstd[c];
			y[k] = xhat[k] * w[c] + b[c];
		}
}

void
bn_eval_bwd(struct kern *k, float *dx, float *dw, float *db, const float *dy,
            const float *xhat, const float *rstd, const float *w, int B, int C)
{
	KERN_TWIN(k, bn_eval_bwd, (k, dx, dw, db, dy, xhat, rstd, w, B, C));
	(void)k;
	for (int i = 0; i < B; i++)
		for (int c = 0; c < C; c++) {
			long k = (long)i * C + c;
			dw[c] += dy[k] * xhat[k];
			db[c] += dy[k];
			if (dx)
				dx[k] = dy[k] * w[c] * rstd[c];
		}
}

void
linnb_fwd(struct kern *k, float *y, const float *x, const float *w, int B,
          int nin, int nout)
{
	KERN_TWIN(k, linnb_fwd, (k, y, x, w, B, nin, nout));
	(void)k;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, nout, nin, 1.0f, x, nin,
	            w, nin, 0.0f, y, nout);
}

void
linnb_bwd(struct kern *k, float *dx, float *dw, const float *dy, const float *x,
          const float *w, int B, int nin, int nout)
{
	KERN_TWIN(k, linnb_bwd, (k, dx, dw, dy, x, w, B, nin, nout));
	(void)k;
	if (dx)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, nin, nout,
		            1.0f, dy, nout, w, nin, 0.0f, dx, nin);
	if (dw)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nout, nin, B,
		            1.0f, dy, nout, x, nin, 1.0f, dw, nin);
}

void
relu_fwd(struct kern *k, float *y, const float *x, long n)
{
	KERN_TWIN(k, relu_fwd, (k, y, x, n));
	(void)k;
	for (long i = 0; i < n; i++)
		y[i] = relu_elem(x[i]);
}

void
relu_bwd(struct kern *k, float *dx, const float *dy, const float *y, long n)
{
	KERN_TWIN(k, relu_bwd, (k, dx, dy, y, n));
	(void)k;
	for (long i = 0; i < n; i++)
		dx[i] = relu_grad_elem(y[i], dy[i]);
}
