/* dropout.cu: dropout masks drawn on the device by dropout.h's Philox
 * scheme (the same bits as the CPU), and their application. */
#include <stdlib.h>

#include "common.cuh"
#include "philox.h"

/* one thread per block of 4 elements: one Philox call */
__global__ void
mask_k(float *mask, size_t n, float p, float keep, uint32_t k0, uint32_t k1,
       uint32_t id)
{
	const uint32_t key[2] = { k0, k1 };
	FOR_N(blk, (n + 3) / 4) {
		uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)((uint64_t)blk >> 32),
		                    id, 0 }, w[4];
		philox4x32_10(ctr, key, w);
		for (int j = 0; j < 4 && (size_t)blk * 4 + j < n; j++)
			mask[blk * 4 + j] = philox_u01(w[j]) >= p ? keep : 0.0f;
	}
}

extern "C" void
cuda_dropout_mask_key(struct kern *k, float *mask, size_t n, float p,
                      uint64_t key, uint32_t id)
{
	if (!n)
		return;
	if (p <= 0.0f) {
		cuda_kern_fill(k, mask, n, 1.0f);
		return;
	}
	/* fastai: bernoulli_(1-p).div_(1-p), the factor in float */
	mask_k<<<nblk((long)((n + 3) / 4)), NT, 0, kstream(k)>>>(
		mask, n, p, 1.0f / (1.0f - p), (uint32_t)key,
		(uint32_t)(key >> 32), id);
	CKL();
}

/* The host-rng mask (the classifier head's, until it moves to keys): the
 * sequence is serial by nature, so it is drawn on the host as the CPU
 * does and uploaded. */
extern "C" void
cuda_dropout_mask(struct kern *k, float *mask, size_t n, float p,
                  struct rng *r)
{
	if (!n)
		return;
	if (p <= 0.0f) {
		cuda_kern_fill(k, mask, n, 1.0f);
		return;
	}
	float *h = (float *)malloc(n * sizeof *h), keep = 1.0f / (1.0f - p);
	if (!h)
		die("out of memory (a dropout mask of %zu floats)", n);
	for (size_t i = 0; i < n; i++)
		h[i] = rng_float(r) >= p ? keep : 0.0f;
	cuda_kern_upload(k, mask, h, n * sizeof *h);
	free(h);
}

__global__ void
rows_k(float *x, const float *mask, int T, long N)
{
	FOR_N(i, (long)T * N)
		x[i] *= mask[i % N];
}

__global__ void
bt_k(float *y, const float *x, const float *mask, int B, int T, int F)
{
	FOR_N(i, (long)B * T * F) {
		long b = i / ((long)T * F), f = i % F;
		y[i] = x[i] * mask[b * F + f];
	}
}

__global__ void
mul_k(float *y, const float *x, const float *mask, size_t n)
{
	FOR_N(i, n)
		y[i] = x[i] * mask[i];
}

__global__ void
acc_k(float *acc, const float *d, const float *mask, size_t n)
{
	FOR_N(i, n)
		acc[i] += d[i] * mask[i];
}

extern "C" void
cuda_dropout_apply_rows(struct kern *k, float *x, const float *mask, int T,
                        long N)
{
	if ((long)T * N <= 0)
		return;
	rows_k<<<nblk((long)T * N), NT, 0, kstream(k)>>>(x, mask, T, N);
	CKL();
}

extern "C" void
cuda_dropout_apply_bt(struct kern *k, float *y, const float *x,
                      const float *mask, int B, int T, int F)
{
	long n = (long)B * T * F;
	if (n <= 0)
		return;
	bt_k<<<nblk(n), NT, 0, kstream(k)>>>(y, x, mask, B, T, F);
	CKL();
}

extern "C" void
cuda_dropout_apply(struct kern *k, float *y, const float *x,
                   const float *mask, size_t n)
{
	if (!n)
		return;
	mul_k<<<nblk((long)n), NT, 0, kstream(k)>>>(y, x, mask, n);
	CKL();
}

extern "C" void
cuda_dropout_acc_mul(struct kern *k, float *acc, const float *d,
                     const float *mask, size_t n)
{
	if (!n)
		return;
	acc_k<<<nblk((long)n), NT, 0, kstream(k)>>>(acc, d, mask, n);
	CKL();
}
