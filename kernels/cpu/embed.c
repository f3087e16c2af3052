/* embed.c: embedding gather (time-major out) and scatter-add. */
#include <string.h>

#include "kernels.h"
#include "dispatch.h"

void
embed_fwd(struct kern *k, const float *w, const float *scale,
          const uint32_t *tok, float *out, int B, int T, int E)
{
	KERN_TWIN(k, embed_fwd, (k, w, scale, tok, out, B, T, E));
	(void)k;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			uint32_t v = tok[(size_t)b * T + t];
			const float *src = w + (size_t)v * E;
			float *dst = out + ((size_t)t * B + b) * E;
			float s = scale ? scale[v] : 1.0f;
			if (!scale)
				memcpy(dst, src, (size_t)E * sizeof *dst);
			else
				for (int e = 0; e < E; e++)
					dst[e] = src[e] * s;
		}
}

void
embed_bwd(struct kern *k, float *dw, const float *scale, const uint32_t *tok,
          const float *dout, int B, int T, int E, int pad)
{
	KERN_TWIN(k, embed_bwd, (k, dw, scale, tok, dout, B, T, E, pad));
	(void)k;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			uint32_t v = tok[(size_t)b * T + t];
			if (pad >= 0 && v == (uint32_t)pad)
				continue;
			float s = scale ? scale[v] : 1.0f;
			if (s == 0.0f)
				continue;
			const float *src = dout + ((size_t)t * B + b) * E;
			float *dst = dw + (size_t)v * E;
			for (int e = 0; e < E; e++)
				dst[e] += src[e] * s;
		}
}
