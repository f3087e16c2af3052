/* dropout.cu: dropout masks drawn on the device by dropout.h's Philox
 * scheme (the same bits as the CPU), and their application. */

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

/* one thread per element of a (rows, N) mask whose row r is the
 * tensor's row row0 + r * step: its own Philox call (a row's elements need
 * not start on a block of 4) */
__global__ void
mask_rows_k(float *mask, long n, long N, float p, float keep, uint32_t k0,
            uint32_t k1, uint32_t id, long row0, long step)
{
	const uint32_t key[2] = { k0, k1 };
	FOR_N(i, n) {
		uint64_t g = ((uint64_t)row0 + (uint64_t)(i / N) * (uint64_t)step)
		             * (uint64_t)N + (uint64_t)(i % N), blk = g >> 2;
		uint32_t ctr[4] = { (uint32_t)blk, (uint32_t)(blk >> 32), id, 0 },
		         w[4];
		philox4x32_10(ctr, key, w);
		mask[i] = philox_u01(w[g & 3]) >= p ? keep : 0.0f;
	}
}

extern "C" void
cuda_dropout_mask_rows(struct kern *k, float *mask, int rows, long N, float p,
                       uint64_t key, uint32_t id, long row0, long step)
{
	long n = (long)rows * N;
	if (n <= 0)
		return;
	if (p <= 0.0f) {
		cuda_kern_fill(k, mask, (size_t)n, 1.0f);
		return;
	}
	mask_rows_k<<<nblk(n), NT, 0, kstream(k)>>>(
		mask, n, N, p, 1.0f / (1.0f - p), (uint32_t)key,
		(uint32_t)(key >> 32), id, row0, step);
	CKL();
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
