/* gpt2.cu: GPT-2's LayerNorm, embedding, gelu, residual add, causal
 * attention over the KV cache and sampling softmax (gpt2.h). */
#include <math.h>

#include "common.cuh"

/* one block per row; mean and variance in double as the CPU */
__global__ void
ln_k(float *y, const float *x, const float *w, const float *b, int C,
     float eps)
{
	x += (long)blockIdx.x * C, y += (long)blockIdx.x * C;
	double m = 0, v = 0;
	for (int i = threadIdx.x; i < C; i += blockDim.x)
		m += x[i];
	m = block_sum(m) / C;
	for (int i = threadIdx.x; i < C; i += blockDim.x)
		v += (x[i] - m) * (x[i] - m);
	v = block_sum(v) / C;
	float mf = (float)m, rs = (float)(1.0 / sqrt(v + eps));
	for (int i = threadIdx.x; i < C; i += blockDim.x)
		y[i] = (x[i] - mf) * rs * w[i] + b[i];
}

extern "C" void
cuda_gpt2_layernorm(struct kern *k, float *y, const float *x, const float *w,
                    const float *b, int T, int C, float eps)
{
	if (T <= 0)
		return;
	ln_k<<<T, NT, 0, kstream(k)>>>(y, x, w, b, C, eps);
	CKL();
}

__global__ void
gpt2_embed_k(float *x, const float *wte, const float *wpe,
             const uint32_t *ids, int T, int P, int C)
{
	FOR_N(i, (long)T * C) {
		long t = i / C, c = i % C;
		x[i] = wte[(long)ids[t] * C + c] + wpe[(P + t) * C + c];
	}
}

extern "C" void
cuda_gpt2_embed(struct kern *k, float *x, const float *wte, const float *wpe,
                const uint32_t *ids, int T, int P, int C)
{
	if ((long)T * C <= 0)
		return;
	gpt2_embed_k<<<nblk((long)T * C), NT, 0, kstream(k)>>>(x, wte, wpe, ids,
	                                                       T, P, C);
	CKL();
}

__global__ void
gelu_k(float *x, long n)
{
	FOR_N(i, n)
		x[i] = gelu_new_elem(x[i]);
}

__global__ void
add_k(float *x, const float *y, long n)
{
	FOR_N(i, n)
		x[i] += y[i];
}

extern "C" void
cuda_gpt2_gelu(struct kern *k, float *x, long n)
{
	if (n <= 0)
		return;
	gelu_k<<<nblk(n), NT, 0, kstream(k)>>>(x, n);
	CKL();
}

extern "C" void
cuda_gpt2_add(struct kern *k, float *x, const float *y, long n)
{
	if (n <= 0)
		return;
	add_k<<<nblk(n), NT, 0, kstream(k)>>>(x, y, n);
	CKL();
}

/* One warp per (t, h): lanes split each dot product (a shuffle sum) and
 * own every 32nd of the HS outputs; online softmax as the CPU (running
 * max and sum), so no row of scores is kept.  HS <= 1024. */
#define AW 32
__global__ void
att_k(float *out, const float *q, int ldq, const float *kc, const float *vc,
      int T, int P, int C, int NH)
{
	long it = ((long)blockIdx.x * blockDim.x + threadIdx.x) / AW;
	int lane = threadIdx.x % AW;
	if (it >= (long)T * NH)
		return;
	int t = (int)(it / NH), h = (int)(it % NH), HS = C / NH;
	const float *qt = q + (long)t * ldq + h * HS;
	float acc[1024 / AW];
	float scale = 1.0f / sqrtf((float)HS), m = -INFINITY, l = 0;
	for (int j = 0; j < 1024 / AW; j++)
		acc[j] = 0;
	for (int p = 0; p < P + t + 1; p++) {
		const float *kp = kc + (long)p * C + h * HS;
		const float *vp = vc + (long)p * C + h * HS;
		float s = 0;
		for (int i = lane; i < HS; i += AW)
			s += qt[i] * kp[i];
		for (int o = AW / 2; o > 0; o >>= 1)
			s += __shfl_xor_sync(0xffffffffu, s, o);
		s *= scale;
		if (s > m) {
			float r = expf(m - s);
			l *= r;
			for (int j = 0; j * AW + lane < HS; j++)
				acc[j] *= r;
			m = s;
		}
		float e = expf(s - m);
		l += e;
		for (int j = 0; j * AW + lane < HS; j++)
			acc[j] += e * vp[j * AW + lane];
	}
	float *o = out + (long)t * C + h * HS;
	for (int j = 0; j * AW + lane < HS; j++)
		o[j * AW + lane] = acc[j] / l;
}

extern "C" void
cuda_gpt2_attention(struct kern *k, float *out, const float *q, int ldq,
                    const float *kc, const float *vc, int T, int P, int C,
                    int NH)
{
	long warps = (long)T * NH;
	if (warps <= 0)
		return;
	att_k<<<(unsigned)((warps * AW + NT - 1) / NT), NT, 0, kstream(k)>>>(
		out, q, ldq, kc, vc, T, P, C, NH);
	CKL();
}

/* one block: max, then p = exp((x - m)/temp) and their sum, then p /= s */
__global__ void
gpt2_softmax_k(double *p, const float *x, int n, double temp)
{
	double m = -INFINITY, s = 0;
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		m = x[i] > m ? x[i] : m;
	m = block_max(m);
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		s += p[i] = exp((x[i] - m) / temp);
	s = block_sum(s);
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		p[i] /= s;
}

extern "C" void
cuda_gpt2_softmax(struct kern *k, double *p, const float *x, int n,
                  double temp)
{
	if (n <= 0)
		return;
	gpt2_softmax_k<<<1, NT, 0, kstream(k)>>>(p, x, n, temp);
	CKL();
}
