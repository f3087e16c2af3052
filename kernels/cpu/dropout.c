/* dropout.c: masks (Philox, dropout.h) and their application.  Loops
 * are split between kern_par_for's threads by element ranges; every
 * element is one multiply, so the bits do not depend on the split. */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")

#include "kernels.h"
#include "philox.h"
#include "dispatch.h"

#define MIN_ELEMS 16384

struct drop_ctx {
	float *y;
	const float *x, *mask;
	float p, keep;
	uint32_t key[2], id;
	long N;                 /* row length (apply_rows, apply_bt) */
	int T, F;
};

/* elements [lo, hi) of the mask: blocks of 4 share one Philox call */
static void
mask_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	long i = lo;
	while (i < hi) {
		uint64_t blk = (uint64_t)i >> 2;
		uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)(blk >> 32), c->id,
		                    0 }, w[4];
		philox4x32_10(ctr, c->key, w);
		for (int j = i & 3; j < 4 && i < hi; j++, i++)
			c->y[i] = philox_u01(w[j]) >= c->p ? c->keep : 0.0f;
	}
}

static void
fill_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	for (long i = lo; i < hi; i++)
		c->y[i] = 1.0f;
}

void
dropout_mask_key(struct kern *k, float *mask, size_t n, float p,
                 uint64_t key, uint32_t id)
{
	KERN_TWIN(k, dropout_mask_key, (k, mask, n, p, key, id));
	/* fastai: bernoulli_(1-p).div_(1-p), the factor in float */
	struct drop_ctx c = { .y = mask, .p = p, .keep = 1.0f / (1.0f - p),
	                      .key = { (uint32_t)key, (uint32_t)(key >> 32) },
	                      .id = id };
	if (p <= 0.0f) {
		kern_par_for(k, (long)n, MIN_ELEMS, fill_range, &c);
		return;
	}
	/* a thread's piece starts anywhere: mask_range handles a partial
	 * first block, so the split does not change the bits */
	kern_par_for(k, (long)n, 4096, mask_range, &c);
}

void
dropout_mask(struct kern *k, float *mask, size_t n, float p, struct rng *r)
{
	KERN_TWIN(k, dropout_mask, (k, mask, n, p, r));
	(void)k;
	if (p <= 0.0f) {
		for (size_t i = 0; i < n; i++)
			mask[i] = 1.0f;
		return;
	}
	float keep = 1.0f / (1.0f - p);
	for (size_t i = 0; i < n; i++)
		mask[i] = rng_float(r) >= p ? keep : 0.0f;
}

KERN_CLONES static void
mul3(float *restrict y, const float *restrict x, const float *restrict m,
     long n)
{
	for (long i = 0; i < n; i++)
		y[i] = x[i] * m[i];
}

/* y may be x: the in-place form */
KERN_CLONES static void
mul_inplace(float *restrict y, const float *restrict m, long n)
{
	for (long i = 0; i < n; i++)
		y[i] *= m[i];
}

KERN_CLONES static void
fma_acc(float *restrict acc, const float *restrict d,
        const float *restrict m, long n)
{
	for (long i = 0; i < n; i++)
		acc[i] += d[i] * m[i];
}

static void
mul_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	if (c->y == c->x)
		mul_inplace(c->y + lo, c->mask + lo, hi - lo);
	else
		mul3(c->y + lo, c->x + lo, c->mask + lo, hi - lo);
}

static void
acc_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	fma_acc(c->y + lo, c->x + lo, c->mask + lo, hi - lo);
}

/* rows r of (T, N): row r times mask(N) */
static void
rows_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	for (long r = lo; r < hi; r++)
		mul_inplace(c->y + (size_t)r * c->N, c->mask, c->N);
}

void
dropout_apply_rows(struct kern *k, float *x, const float *mask, int T, long N)
{
	KERN_TWIN(k, dropout_apply_rows, (k, x, mask, T, N));
	struct drop_ctx c = { .y = x, .mask = mask, .N = N };
	kern_par_for(k, T, MIN_ELEMS / (N > 0 ? N : 1) + 1, rows_range, &c);
}

/* rows (b, t) of (B,T,F): y row = x row * mask[b] */
static void
bt_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	for (long r = lo; r < hi; r++) {
		const float *m = c->mask + (size_t)(r / c->T) * c->F;
		float *y = c->y + (size_t)r * c->F;
		if (c->y == c->x)
			mul_inplace(y, m, c->F);
		else
			mul3(y, c->x + (size_t)r * c->F, m, c->F);
	}
}

void
dropout_apply_bt(struct kern *k, float *y, const float *x, const float *mask,
                 int B, int T, int F)
{
	KERN_TWIN(k, dropout_apply_bt, (k, y, x, mask, B, T, F));
	struct drop_ctx c = { .y = y, .x = x, .mask = mask, .T = T, .F = F };
	kern_par_for(k, (long)B * T, MIN_ELEMS / (F > 0 ? F : 1) + 1, bt_range,
	             &c);
}

void
dropout_apply(struct kern *k, float *y, const float *x, const float *mask,
              size_t n)
{
	KERN_TWIN(k, dropout_apply, (k, y, x, mask, n));
	struct drop_ctx c = { .y = y, .x = x, .mask = mask };
	kern_par_for(k, (long)n, MIN_ELEMS, mul_range, &c);
}

void
dropout_acc_mul(struct kern *k, float *acc, const float *d, const float *mask,
                size_t n)
{
	KERN_TWIN(k, dropout_acc_mul, (k, acc, d, mask, n));
	struct drop_ctx c = { .y = acc, .x = d, .mask = mask };
	kern_par_for(k, (long)n, MIN_ELEMS, acc_range, &c);
}
