/* loss.h: softmax + cross-entropy fused (numerically stable), and the
 * AR/TAR activation regularisers of AWD-LSTM. */
#ifndef KERN_LOSS_H
#define KERN_LOSS_H

#include <stdint.h>
#include "ctx.h"

/* logits (N,V) -> per-row loss[n] = logsumexp(z) - z[y[n]] (double), and
 * hit[n] = 1 when the first argmax equals y[n].  When gscale != 0 the
 * logits are overwritten with their gradient gscale * (softmax - onehot);
 * with gscale 0 they are left alone (evaluation). */
void ce_fwd_bwd(struct kern *k, float *logits, const uint32_t *y, double *loss,
                int *hit, int N, int V, float gscale);

/* AR: alpha * mean(x^2) over n elements; adds its gradient to dx (if not
 * NULL).  Returns the value. */
double ar_fwd_bwd(struct kern *k, const float *x, float *dx, long n,
                  float alpha);

/* TAR: beta * mean((x[b,t+1] - x[b,t])^2) over B*(T-1)*E, x (B,T,E)
 * batch-first; adds its gradient to dx (if not NULL).  Returns 0 when
 * T < 2 (fastai's mean over nothing is NaN) or B == 1 (fastai's quirk:
 * TAR is skipped for a batch of one). */
double tar_fwd_bwd(struct kern *k, const float *x, float *dx, int B, int T,
                   int E, float beta);

#endif
