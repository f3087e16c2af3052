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
	long N;                 /* row length (apply_rows, apply_bt,
	                         * mask_rows) */
	long row0, step;        /* mask_rows: the tensor's rows */
	int T, F;
};

/* 16 blocks of 4 at once, blocks blk .. blk+15: Philox's lanes side by
 * side so that the 32x32->64 multiplies vectorise (one call per block
 * made the masks ~5% of a classifier step) */
#define LANES 16
KERN_CLONES static void
draw64(const struct drop_ctx *c, float *restrict y, uint64_t blk)
{
	uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
	for (int j = 0; j < LANES; j++) {
		c0[j] = (uint32_t)(blk + j), c1[j] = (uint32_t)((blk + j) >> 32);
		c2[j] = c->id, c3[j] = 0;
	}
	uint32_t k0 = c->key[0], k1 = c->key[1];
	for (int r = 0; r < 10; r++) {
		for (int j = 0; j < LANES; j++) {
			uint64_t p0 = (uint64_t)PHILOX_M0 * c0[j];
			uint64_t p1 = (uint64_t)PHILOX_M1 * c2[j];
			uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[j] ^ k0;
			uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[j] ^ k1;
			c1[j] = (uint32_t)p1, c3[j] = (uint32_t)p0;
			c0[j] = n0, c2[j] = n2;
		}
		k0 += PHILOX_W0, k1 += PHILOX_W1;
	}
	float p = c->p, keep = c->keep;
	for (int j = 0; j < LANES; j++) {
		y[4 * j] = philox_u01(c0[j]) >= p ? keep : 0.0f;
		y[4 * j + 1] = philox_u01(c1[j]) >= p ? keep : 0.0f;
		y[4 * j + 2] = philox_u01(c2[j]) >= p ? keep : 0.0f;
		y[4 * j + 3] = philox_u01(c3[j]) >= p ? keep : 0.0f;
	}
}

/* n mask elements y[0..n) drawn at the tensor's indices g, g+1, ...:
 * whole blocks of 4 sixteen at a time, a partial block or the rest with
 * one Philox call per block */
static void
draw(const struct drop_ctx *c, float *y, uint64_t g, long n)
{
	uint64_t end = g + (uint64_t)n;
	while (g < end) {
		if (!(g & 3) && end - g >= 4 * LANES) {
			draw64(c, y, g >> 2);
			y += 4 * LANES, g += 4 * LANES;
			continue;
		}
		uint64_t blk = g >> 2;
		uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)(blk >> 32), c->id,
		                    0 }, w[4];
		philox4x32_10(ctr, c->key, w);
		for (int j = g & 3; j < 4 && g < end; j++, g++)
			*y++ = philox_u01(w[j]) >= c->p ? c->keep : 0.0f;
	}
}

/* elements [lo, hi) of the mask */
static void
mask_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	draw(c, c->y + lo, (uint64_t)lo, hi - lo);
}

/* elements [lo, hi) of a (rows, N) mask whose row r is the tensor's row
 * row0 + r * step: each piece of a row is one contiguous draw */
static void
mask_rows_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	for (long i = lo; i < hi;) {
		long r = i / c->N, j = i % c->N;
		long n = c->N - j < hi - i ? c->N - j : hi - i;
		uint64_t row = (uint64_t)c->row0 + (uint64_t)r * c->step;
		draw(c, c->y + i, row * (uint64_t)c->N + (uint64_t)j, n);
		i += n;
	}
}

static void
fill_range(void *arg, long lo, long hi)
{
	const struct drop_ctx *c = arg;
	for (long i = lo; i < hi; i++)
		c->y[i] = 1.0f;
}

/* fastai: bernoulli_(1-p).div_(1-p), the factor in float */
static struct drop_ctx
mask_ctx(float *mask, float p, uint64_t key, uint32_t id)
{
	return (struct drop_ctx){ .y = mask, .p = p,
	                          .keep = 1.0f / (1.0f - p),
	                          .key = { (uint32_t)key,
	                                   (uint32_t)(key >> 32) },
	                          .id = id };
}

void
dropout_mask_key(struct kern *k, float *mask, size_t n, float p,
                 uint64_t key, uint32_t id)
{
	KERN_TWIN(k, dropout_mask_key, (k, mask, n, p, key, id));
	struct drop_ctx c = mask_ctx(mask, p, key, id);
	if (p <= 0.0f) {
		kern_par_for(k, (long)n, MIN_ELEMS, fill_range, &c);
		return;
	}
	/* a thread's piece starts anywhere: draw handles a partial first
	 * block, so the split does not change the bits */
	kern_par_for(k, (long)n, 4096, mask_range, &c);
}

void
dropout_mask_rows(struct kern *k, float *mask, int rows, long N, float p,
                  uint64_t key, uint32_t id, long row0, long step)
{
	KERN_TWIN(k, dropout_mask_rows, (k, mask, rows, N, p, key, id, row0,
	                                 step));
	struct drop_ctx c = mask_ctx(mask, p, key, id);
	c.N = N, c.row0 = row0, c.step = step;
	long n = (long)rows * N;
	if (p <= 0.0f) {
		kern_par_for(k, n, MIN_ELEMS, fill_range, &c);
		return;
	}
	kern_par_for(k, n, 4096, mask_rows_range, &c);
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
