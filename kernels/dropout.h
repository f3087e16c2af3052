/* dropout.h: masks for fastai's three dropouts.  A mask holds the factor
 * itself, 0 or 1/(1-p), so applying it is one multiply and the same
 * array serves the backward pass.  Masks are drawn from struct rng on the
 * host (keep when rng_float() >= p), so a run is a function of its seed. */
#ifndef KERN_DROPOUT_H
#define KERN_DROPOUT_H

#include <stddef.h>
#include "core/rng.h"
#include "ctx.h"

/* n factors, each 0 (probability p) or 1/(1-p).  p == 0: all 1. */
void dropout_mask(struct kern *k, float *mask, size_t n, float p,
                  struct rng *r);

/* x(T,N) *= mask(N) for every t: RNNDropout's variational mask (bs,1,F)
 * shared over time, with N = B*F.  Also its backward (same operation). */
void dropout_apply_rows(struct kern *k, float *x, const float *mask, int T,
                        long N);

/* y = x * mask element-wise, n elements (WeightDropout: the weight used is
 * raw * mask; its backward is d_raw += d_used * mask, dropout_acc_mul). */
void dropout_apply(struct kern *k, float *y, const float *x, const float *mask,
                   size_t n);
void dropout_acc_mul(struct kern *k, float *acc, const float *d,
                     const float *mask, size_t n);

#endif
