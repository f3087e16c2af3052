/* gpt2.h: GPT-2's compute besides the GEMMs (which go through blas.h):
 * LayerNorm, gelu_new, causal multi-head attention over a KV cache,
 * softmax.  Row-major; nothing here allocates.
 *
 * Shapes: T new positions, P positions already cached before them, C
 * channels (n_embd), NH heads of HS = C/NH. */
#ifndef KERN_GPT2_H
#define KERN_GPT2_H

#include <math.h>
#include <stdint.h>

#include "kernels.h"
#include "lstm_elem.h"

/* GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * tanh is lstm_elem.h's branch-free one, so the CPU loop vectorises (a
 * libm tanhf call per element took 0.65 ms of CPU per token of the
 * 124M model, this 24 us: `gpt2_bench gelu`). */
static inline KERN_HD float gelu_new_elem(float x)
{
	const float s = 0.7978845608028654f;    /* sqrt(2/pi) */
	return 0.5f * x * (1.0f + tanhf_elem(s * (x + 0.044715f * x * x * x)));
}

/* y(T,C) = (x - mean) / sqrt(var + eps) * w + b per row (biased var,
 * as torch.nn.LayerNorm).  y may equal x. */
void gpt2_layernorm(struct kern *k, float *y, const float *x, const float *w,
                    const float *b, int T, int C, float eps);

/* x(T,C) = wte[ids[t]] + wpe[P + t] (ids device memory, < vocab) */
void gpt2_embed(struct kern *k, float *x, const float *wte, const float *wpe,
                const uint32_t *ids, int T, int P, int C);

/* x[i] = gelu_new(x[i]) for i < n */
void gpt2_gelu(struct kern *k, float *x, long n);

/* x[i] += y[i] for i < n (the residual stream) */
void gpt2_add(struct kern *k, float *x, const float *y, long n);

/* Causal attention for T new positions P..P+T-1.  q: (T, ldq) with head h
 * at q[t*ldq + h*HS]; kc, vc: the cache, (P+T, C) rows, position p at row
 * p (the new positions' keys and values already written).  out (T, C):
 * out[t, h*HS..] = softmax_p<=P+t(q.k_p / sqrt(HS)) . v_p.  HS <= 1024. */
void gpt2_attention(struct kern *k, float *out, const float *q, int ldq,
                    const float *kc, const float *vc, int T, int P, int C,
                    int NH);

/* p(n) = softmax(x / temp) in double (for sampling); returns max logit */
void gpt2_softmax(struct kern *k, double *p, const float *x, int n,
                  double temp);

#endif
