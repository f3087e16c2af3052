/* loss.cu: fused softmax + cross-entropy, AR and TAR (loss.h). */
#include <math.h>

#include "common.cuh"

/* One block per row.  The max, the first argmax and the sum of exp (in
 * double, as the CPU) are block reductions; exp is expf_neg_elem as on
 * the CPU, so every softmax value is the CPU's and only the order of the
 * sum differs. */
__global__ void
ce_k(float *logits, const uint32_t *y, double *loss, int *hit, int V,
     float gscale)
{
	long n = blockIdx.x;
	float *z = logits + n * V;
	float mx = -INFINITY;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		mx = z[v] > mx ? z[v] : mx;
	mx = block_max(mx);
	int am = V - 1;         /* first index holding the max */
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		if (z[v] == mx && v < am)
			am = v;
	am = -block_max(-am);
	uint32_t yn = y[n];
	float zy = z[yn];
	double s = 0;
	for (int v = threadIdx.x; v < V; v += blockDim.x)
		s += expf_neg_elem(z[v] - mx);
	s = block_sum(s);
	if (gscale != 0.0f) {
		float f = (float)(gscale / s);
		for (int v = threadIdx.x; v < V; v += blockDim.x)
			z[v] = expf_neg_elem(z[v] - mx) * f;
		__syncthreads();
		if (threadIdx.x == 0)
			z[yn] -= gscale;
	}
	if (threadIdx.x == 0) {
		loss[n] = log(s) + mx - zy;
		hit[n] = (uint32_t)am == yn;
	}
}

extern "C" void
cuda_ce_fwd_bwd(struct kern *k, float *logits, const uint32_t *y,
                double *loss, int *hit, int N, int V, float gscale)
{
	if (N <= 0)
		return;
	ce_k<<<N, NT, 0, kstream(k)>>>(logits, y, loss, hit, V, gscale);
	CKL();
}

namespace {
struct sq_f {
	const float *x;
	__device__ double operator()(long i) const
	{ return (double)x[i] * x[i]; }
};
}

__global__ void
ar_grad_k(const float *x, float *dx, long n, float g)
{
	FOR_N(i, n)
		dx[i] += g * x[i];
}

extern "C" double
cuda_ar_fwd_bwd(struct kern *k, const float *x, float *dx, long n,
                float alpha)
{
	if (n <= 0)
		return alpha * 0.0 / n;     /* the CPU's 0/0 */
	double s = reduce_sum(k, n, sq_f{ x });
	if (dx) {
		ar_grad_k<<<nblk(n), NT, 0, kstream(k)>>>(x, dx, n,
		                                          2.0f * alpha / (float)n);
		CKL();
	}
	return alpha * s / n;
}

/* (x[b,t+1,e] - x[b,t,e])^2 over i = (b, t < T-1, e) */
namespace {
struct tar_f {
	const float *x;
	int T, E;
	__device__ double operator()(long i) const
	{
		long e = i % E, bt = i / E, t = bt % (T - 1), b = bt / (T - 1);
		const float *a = x + (b * T + t) * E + e;
		float d = a[E] - a[0];
		return (double)d * d;
	}
};
}

/* dx[b,t] += g d_{t-1} then -= g d_t: the CPU's two updates in its order */
__global__ void
tar_grad_k(const float *x, float *dx, int B, int T, int E, float g)
{
	FOR_N(i, (long)B * T * E) {
		long t = (i / E) % T;
		float v = dx[i];
		if (t > 0) {
			float d = x[i] - x[i - E];
			v += g * d;
		}
		if (t + 1 < T) {
			float d = x[i + E] - x[i];
			v -= g * d;
		}
		dx[i] = v;
	}
}

extern "C" double
cuda_tar_fwd_bwd(struct kern *k, const float *x, float *dx, int B, int T,
                 int E, float beta)
{
	if (T < 2 || B == 1)
		return 0;
	long cnt = (long)B * (T - 1) * E;
	double s = reduce_sum(k, cnt, tar_f{ x, T, E });
	if (dx) {
		tar_grad_k<<<nblk((long)B * T * E), NT, 0, kstream(k)>>>(
			x, dx, B, T, E, 2.0f * beta / (float)cnt);
		CKL();
	}
	return beta * s / cnt;
}
