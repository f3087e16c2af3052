/* embed.h: embedding lookup and its gradient (scatter-add). */
#ifndef KERN_EMBED_H
#define KERN_EMBED_H

#include <stdint.h>
#include "ctx.h"

/* out(T,B,E) time-major <- w[tok[b*T+t]] * scale[tok] (tok is (B,T)
 * batch-first, as batches arrive).  scale (V) is EmbeddingDropout's
 * per-vocabulary-row factor (0 or 1/(1-p)); NULL means 1. */
void embed_fwd(struct kern *k, const float *w, const float *scale,
               const uint32_t *tok, float *out, int B, int T, int E);

/* dw[tok] += scale[tok] * dout(T,B,E) for every position whose token is
 * not pad (padding_idx: the pad row gets no gradient through the lookup).
 * pad < 0: no padding index.  Serial in a fixed order: deterministic. */
void embed_bwd(struct kern *k, float *dw, const float *scale,
               const uint32_t *tok, const float *dout, int B, int T, int E,
               int pad);

#endif
