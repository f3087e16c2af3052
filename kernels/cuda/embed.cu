/* embed.cu: embedding lookup and its gradient (embed.h). */
#include "common.cuh"

/* out(T,B,E) <- w[tok[b*T+t]] * scale[tok] */
__global__ void
embed_fwd_k(const float *w, const float *scale, const uint32_t *tok,
            float *out, int B, int T, int E)
{
	FOR_N(i, (long)T * B * E) {
		long r = i / E, e = i % E, t = r / B, b = r % B;
		uint32_t v = tok[b * T + t];
		float x = w[(long)v * E + e];
		out[i] = scale ? x * scale[v] : x;
	}
}

/* One thread per column e walks every position in the CPU's order
 * (b, then t), so each dw element gets the same additions in the same
 * order as on the CPU: the same bits, and no atomics. */
__global__ void
embed_bwd_k(float *dw, const float *scale, const uint32_t *tok,
            const float *dout, int B, int T, int E, int pad)
{
	FOR_N(e, E)
		for (int b = 0; b < B; b++)
			for (int t = 0; t < T; t++) {
				uint32_t v = tok[(long)b * T + t];
				if (pad >= 0 && v == (uint32_t)pad)
					continue;
				float s = scale ? scale[v] : 1.0f;
				if (s == 0.0f)
					continue;
				dw[(long)v * E + e] +=
					dout[((long)t * B + b) * E + e] * s;
			}
}

extern "C" void
cuda_embed_fwd(struct kern *k, const float *w, const float *scale,
               const uint32_t *tok, float *out, int B, int T, int E)
{
	long n = (long)T * B * E;
	if (n <= 0)
		return;
	embed_fwd_k<<<nblk(n), NT, 0, kstream(k)>>>(w, scale, tok, out, B, T, E);
	CKL();
}

extern "C" void
cuda_embed_bwd(struct kern *k, float *dw, const float *scale,
               const uint32_t *tok, const float *dout, int B, int T, int E,
               int pad)
{
	if (E <= 0 || (long)B * T <= 0)
		return;
	embed_bwd_k<<<(E + 63) / 64, 64, 0, kstream(k)>>>(dw, scale, tok, dout,
	                                                   B, T, E, pad);
	CKL();
}
