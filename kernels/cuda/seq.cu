/* seq.cu: the classifier's batch plumbing (seq.h) on the device. */
#include <math.h>

#include "common.cuh"

/* dst row b (len*w floats, ldd apart) = src row b (lds apart) for
 * b < ncopy, 0 for ncopy <= b < nall */
__global__ void
rows_k(float *dst, long ldd, const float *src, long lds, long rw, long ncopy,
       long nall)
{
	FOR_N(i, nall * rw) {
		long b = i / rw, j = i % rw;
		dst[b * ldd + j] = b < ncopy ? src[b * lds + j] : 0.0f;
	}
}

static void
rows(struct kern *k, float *dst, long ldd, const float *src, long lds,
     long rw, long ncopy, long nall)
{
	if (rw <= 0 || nall <= 0)
		return;
	rows_k<<<nblk(nall * rw), NT, 0, kstream(k)>>>(dst, ldd, src, lds, rw,
	                                               ncopy, nall);
	CKL();
}

extern "C" void
cuda_seq_chunk_gather(struct kern *k, float *dst, const float *src, int rows_,
                      int T, int col, int len, int w)
{
	long rw = (long)len * w;
	rows(k, dst, rw, src + (long)col * w, (long)T * w, rw, rows_, rows_);
}

extern "C" void
cuda_seq_chunk_scatter(struct kern *k, float *dst, const float *src, int B,
                       int rows_, int T, int col, int len, int w)
{
	long rw = (long)len * w;
	rows(k, dst + (long)col * w, (long)T * w, src, rw, rw, rows_, B);
}

__global__ void
pad_mask_k(uint8_t *mask, const uint32_t *start, const uint32_t *len, int B,
           int T, uint32_t first)
{
	FOR_N(i, (long)B * T) {
		long b = i / T, t = i % T;
		uint32_t c = first + (uint32_t)t, s = start[b], e = s + len[b];
		mask[i] = !(c >= s && c < e);
	}
}

extern "C" void
cuda_seq_pad_mask(struct kern *k, uint8_t *mask, const uint32_t *start,
                  const uint32_t *len, int B, int T, int first)
{
	if ((long)B * T <= 0)
		return;
	pad_mask_k<<<nblk((long)B * T), NT, 0, kstream(k)>>>(mask, start, len,
	                                                     B, T,
	                                                     (uint32_t)first);
	CKL();
}

/* one block per row: max, sum of exp in double, the quotients */
__global__ void
softmax_k(float *p, const float *z, int n)
{
	z += (long)blockIdx.x * n, p += (long)blockIdx.x * n;
	float mx = -INFINITY;
	for (int j = threadIdx.x; j < n; j += blockDim.x)
		mx = z[j] > mx ? z[j] : mx;
	mx = block_max(mx);
	double s = 0;
	for (int j = threadIdx.x; j < n; j += blockDim.x)
		s += exp((double)z[j] - mx);
	s = block_sum(s);
	for (int j = threadIdx.x; j < n; j += blockDim.x)
		p[j] = (float)(exp((double)z[j] - mx) / s);
}

extern "C" void
cuda_seq_softmax(struct kern *k, float *p, const float *z, int rows_, int n)
{
	if (rows_ <= 0 || n <= 0)
		return;
	softmax_k<<<rows_, NT, 0, kstream(k)>>>(p, z, n);
	CKL();
}
