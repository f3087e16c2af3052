/* head.h: the classifier head's compute (spec §7): masked concat pooling,
 * BatchNorm1d, Linear without bias, ReLU.
 *
 * Shapes: B rows (documents), T time steps, D features, C channels,
 * nin/nout linear sizes (not I/O: complex.h, pulled in by cblas.h, owns
 * I).  Row-major throughout.  Forward functions
 * overwrite their outputs; backward functions overwrite dx and ACCUMULATE
 * into parameter gradients (dw += ...), so gradients of several
 * micro-batches add up.  Nothing here allocates. */
#ifndef HEAD_H
#define HEAD_H

#include <stdint.h>

#include "kernels.h"

/* ---- per-element maths, shared with the CUDA twins ---- */
static inline KERN_HD float relu_elem(float x) { return x > 0.0f ? x : 0.0f; }
static inline KERN_HD float relu_grad_elem(float y, float dy)
{ return y > 0.0f ? dy : 0.0f; }
/* y = w * (x - mean) * rstd + b */
static inline KERN_HD float bn_elem(float x, float mean, float rstd, float w,
                                    float b)
{ return (x - mean) * rstd * w + b; }

/* ---- masked concat pooling (fastai's masked_concat_pool) ----
 * out (B,T,D) the encoder outputs, mask (B,T) 1 where the token is a pad.
 * y (B,3D) = [last, max, avg] where
 *   last = out[b, t] for the last non-pad t.  fastai takes
 *          out[b, T - last_pads - 1] with last_pads = pads among the last
 *          bptt columns; that is the same position whenever T is a
 *          multiple of bptt, but when it is not, a short text whose front
 *          padding reaches into the last bptt columns gets a padded
 *          (zero) position as its "last" in fastai.  We fix that; bptt is
 *          kept in the signature to say which rule this replaces;
 *   max  = max over non-pad t (argmax (B,D) saved for backward);
 *   avg  = sum over non-pad t / number of non-pad t.
 * A row made only of pads gives zeros (fastai would give -inf/NaN; our
 * batching never produces one).  last (B) saves the index used. */
void pool_concat_fwd(struct kern *k, float *y, int32_t *argmax, int32_t *last,
                     const float *out, const uint8_t *mask, int B, int T, int D,
                     int bptt);
/* dout (B,T,D) overwritten: the pad positions get 0. */
void pool_concat_bwd(struct kern *k, float *dout, const float *dy,
                     const int32_t *argmax, const int32_t *last,
                     const uint8_t *mask, int B, int T, int D);

/* ---- BatchNorm1d over x (B,C) ----
 * Training: batch mean and biased variance normalise; the running stats
 * move by momentum with the UNBIASED variance (torch: var * B/(B-1)), so B
 * must be >= 2 (torch refuses B == 1 too).  Saves xhat (B,C), mean (C),
 * rstd (C) = 1/sqrt(var + eps) for backward. */
void bn_train_fwd(struct kern *k, float *y, float *xhat, float *mean,
                  float *rstd, const float *x, const float *w, const float *b,
                  float *run_mean, float *run_var, int B, int C, float momentum,
                  float eps);
/* dx (B,C) overwritten (may be NULL, may be dy itself); dw, db (C)
 * accumulated. */
void bn_train_bwd(struct kern *k, float *dx, float *dw, float *db,
                  const float *dy, const float *xhat, const float *rstd,
                  const float *w, int B, int C);
/* The same training-mode BatchNorm in parts, so that the statistics can
 * be summed over processes in between (data parallel: every process holds
 * some rows of one global batch of n rows; dist.h).  bn_sums with shift
 * NULL, then with shift = the mean (two passes, as bn_train_fwd), then
 * bn_fwd_apply; with n == B and nothing summed in between, the result is
 * bn_train_fwd's, bit for bit.
 * s (2C, double): s[c] = sum_i (x[i,c] - shift[c]),
 * s[C+c] = sum_i (x[i,c] - shift[c])^2 (shift NULL: 0). */
void bn_sums(struct kern *k, double *s, const float *x, const double *shift,
             int B, int C);
/* mu (C) the mean and m2 (C) the sum of squared deviations over n rows in
 * all (n >= 2): normalise this process's B rows of x, save xhat, mean,
 * rstd, move the running stats (unbiased variance m2/(n-1)). */
void bn_fwd_apply(struct kern *k, float *y, float *xhat, float *mean,
                  float *rstd, const float *x, const float *w, const float *b,
                  float *run_mean, float *run_var, const double *mu,
                  const double *m2, long n, int B, int C, float momentum,
                  float eps);
/* Backward in parts: s (2C, double) = sum_i dy[i,c], sum_i dy[i,c]
 * xhat[i,c] over this process's rows. */
void bn_bwd_sums(struct kern *k, double *s, const float *dy,
                 const float *xhat, int B, int C);
/* dw += s[C+c], db += s[c] (this process's sums, accumulated); dx (may
 * be NULL, may be dy) = w rstd (dy - gs[c]/n - xhat gs[C+c]/n), gs the
 * sums over all n rows, in this process's scale of dy.  gs == s and
 * n == B: bn_train_bwd, bit for bit. */
void bn_bwd_apply(struct kern *k, float *dx, float *dw, float *db,
                  const float *dy, const float *xhat, const float *rstd,
                  const float *w, const double *s, const double *gs, long n,
                  int B, int C);
/* Eval: normalise with the running statistics; saves xhat and rstd too,
 * so a backward in eval mode (a fixed affine map) is possible. */
void bn_eval_fwd(struct kern *k, float *y, float *xhat, float *rstd,
                 const float *x, const float *w, const float *b,
                 const float *run_mean, const float *run_var, int B, int C,
                 float eps);
void bn_eval_bwd(struct kern *k, float *dx, float *dw, float *db,
                 const float *dy, const float *xhat, const float *rstd,
                 const float *w, int B, int C);

/* ---- Linear without bias: y (B,nout) = x (B,nin) W^T, W (nout,nin) ---- */
void linnb_fwd(struct kern *k, float *y, const float *x, const float *w, int B,
               int nin, int nout);
/* dx (B,nin) = dy W (overwritten; may be NULL); dw += dy^T x */
void linnb_bwd(struct kern *k, float *dx, float *dw, const float *dy,
               const float *x, const float *w, int B, int nin, int nout);

/* ---- ReLU (n elements; y may equal x).  Dropout is dropout.h's
 * dropout_mask_rows + dropout_apply (mask = 0 or 1/(1-p)). ---- */
void relu_fwd(struct kern *k, float *y, const float *x, long n);
void relu_bwd(struct kern *k, float *dx, const float *dy, const float *y,
              long n);

#endif
