/* dropout.c: mask drawing and application. */
#include "kernels.h"

void
dropout_mask(struct kern *k, float *mask, size_t n, float p, struct rng *r)
{
	(void)k;
	if (p <= 0.0f) {
		for (size_t i = 0; i < n; i++)
			mask[i] = 1.0f;
		return;
	}
	/* fastai: bernoulli_(1-p).div_(1-p), the factor in float */
	float keep = 1.0f / (1.0f - p);
	for (size_t i = 0; i < n; i++)
		mask[i] = rng_float(r) >= p ? keep : 0.0f;
}

void
dropout_apply_rows(struct kern *k, float *x, const float *mask, int T, long N)
{
	(void)k;
	for (int t = 0; t < T; t++) {
		float *row = x + (size_t)t * N;
		for (long i = 0; i < N; i++)
			row[i] *= mask[i];
	}
}

void
dropout_apply(struct kern *k, float *y, const float *x, const float *mask,
              size_t n)
{
	(void)k;
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] * mask[i];
}

void
dropout_acc_mul(struct kern *k, float *acc, const float *d, const float *mask,
                size_t n)
{
	(void)k;
	for (size_t i = 0; i < n; i++)
		acc[i] += d[i] * mask[i];
}
