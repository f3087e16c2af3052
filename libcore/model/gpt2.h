/* gpt2.h: GPT-2 inference (Hugging Face's GPT2LMHeadModel, eval mode).
 *
 * x = wte[ids] + wpe[pos]; per block: x += attn(ln_1(x)), x +=
 * mlp(ln_2(x)) with causal multi-head attention and gelu_new; logits =
 * ln_f(x) wte^T (the LM head is the token embedding).  Linear weights
 * are Hugging Face's Conv1D layout, (in, out): y = x W + b.  Keys and
 * values of every position fed so far stay in a cache, so each new token
 * is one single-position step.
 *
 * A model folder holds config.json (n_embd, n_layer, n_head,
 * n_positions, vocab_size, layer_norm_epsilon, n_inner,
 * activation_function) and model.safetensors or pytorch_model.bin (a
 * torch.save'd state dict, read by pth.h: no pickle code runs); keys may
 * carry GPT2LMHeadModel's "transformer." prefix. */
#ifndef GPT2_H
#define GPT2_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/rng.h"

struct gpt2_config {
	int vocab, ctx, C, L, NH, inner;
	float eps;
};

struct gpt2_layer {
	const float *ln1_w, *ln1_b, *attn_w, *attn_b, *proj_w, *proj_b;
	const float *ln2_w, *ln2_b, *fc_w, *fc_b, *fcp_w, *fcp_b;
};

struct kern;

struct gpt2 {
	struct kern *k;         /* compute context (kernels/ctx.h) */
	struct gpt2_config c;
	const float *wte, *wpe, *lnf_w, *lnf_b;
	struct gpt2_layer *l;
	int pos;                /* positions in the cache */
	float *kc, *vc;         /* (L, ctx, C) */
	/* scratch for up to tcap positions */
	float *x, *xn, *qkv, *att, *h, *y, *logits;
	uint32_t *ids;          /* (tcap) the fed ids, uploaded */
	int tcap;
	/* owners of the weights */
	struct safetensors *st;
	struct pth *pth;
	float *own;             /* gpt2_init_random */
	/* m->k's memory: kc, vc, the scratch, logits, own; the loaded
	 * weights are the mapping (host memory: the CPU backend reads it) */
};

/* Read config.json (dies with "path: reason"). */
void gpt2_read_config(const char *path, struct gpt2_config *c);
/* Load dir/config.json and dir/model.safetensors (else
 * dir/pytorch_model.bin).  Dies with a sentence on any problem. */
void gpt2_load(struct gpt2 *m, const char *dir);
/* Same from an explicit weights file (.safetensors or a .bin/.pth). */
void gpt2_load_file(struct gpt2 *m, const struct gpt2_config *c,
                    const char *weights);
/* Random weights (N(0, 0.02), LayerNorm 1/0) of config c: the bench. */
void gpt2_init_random(struct gpt2 *m, const struct gpt2_config *c,
                      uint64_t seed);
void gpt2_free(struct gpt2 *m);

/* Forget the cache (a new sequence). */
static inline void gpt2_reset(struct gpt2 *m) { m->pos = 0; }

/* Feed T tokens at positions m->pos..m->pos+T-1 (they join the cache).
 * Returns the logits of the last one (vocab floats, valid until the next
 * call); with all != NULL also writes every position's logits (T, vocab).
 * Dies when the cache would pass n_positions or an id is out of range. */
const float *gpt2_forward(struct gpt2 *m, const uint32_t *ids, int T,
                          float *all);

#endif
