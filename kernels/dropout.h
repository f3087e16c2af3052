/* dropout.h: masks for fastai's dropouts.  A mask holds the factor
 * itself, 0 or 1/(1-p), so applying it is one multiply and the same
 * array serves the backward pass.
 *
 * Masks come from a counter-based generator (philox.h): a forward draws
 * ONE 64-bit key from its struct rng (dropout_key; the trainers make that
 * rng a function of (seed, step)), and element i of the mask of tensor id
 * is kept when u >= p, with
 *   (w0,w1,w2,w3) = philox4x32_10(ctr = (i/4 low 32 bits, i/4 high 32
 *                                        bits, id, 0),
 *                                 key = (key low 32 bits, key high 32))
 *   u = (w[i%4] >> 8) / 2^24.
 * So a mask is a function of (key, id, i) only: any thread, or a CUDA
 * twin, draws the same bits, a longer mask starts with a shorter one, and
 * a process holding some rows of a batch draws their rows of the whole
 * batch's mask (dropout_mask_rows).
 *
 * Tensor ids, fixed per mask site (DROP_*): the AWD-LSTM's embedding
 * rows, input dropout, output dropout, hidden dropout after layer l,
 * weight drop of layer l; the classifier head owns [DROP_HEAD,
 * DROP_HEAD_END) for its own masks. */
#ifndef KERN_DROPOUT_H
#define KERN_DROPOUT_H

#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"
#include "ctx.h"

enum {
	DROP_EMB = 1,           /* EmbeddingDropout: (V) per vocab row */
	DROP_INPUT = 2,         /* input_dp: (B,E) */
	DROP_OUTPUT = 3,        /* the LM's output_dp: (B,E) */
	DROP_HIDDEN = 16,       /* + l: hidden_dps[l], (B,H_l) */
	DROP_WEIGHT = 32,       /* + l: WeightDropout of rnns[l], (4H,H) */
	DROP_HEAD = 256,        /* the classifier head: 256 ids reserved */
	DROP_HEAD_END = 512
};

/* The key of one forward: one draw from r. */
static inline uint64_t
dropout_key(struct rng *r)
{
	return rng_next(r);
}

/* n factors of tensor id under key, each 0 (probability p) or 1/(1-p).
 * p == 0: all 1 (and nothing is drawn). */
void dropout_mask_key(struct kern *k, float *mask, size_t n, float p,
                      uint64_t key, uint32_t id);

/* A (rows, N) mask whose row r is row row0 + r * step of tensor id's
 * mask (element (row, j) at index row * N + j): a process that holds rows
 * rank, rank + ranks, ... of a batch (learn/dist.h) draws the masks a
 * single process draws for those rows.  row0 0, step 1: the first rows * N
 * elements, as dropout_mask_key. */
void dropout_mask_rows(struct kern *k, float *mask, int rows, long N,
                       float p, uint64_t key, uint32_t id, long row0,
                       long step);

/* x(T,N) *= mask(N) for every t: RNNDropout's variational mask (bs,1,F)
 * shared over time, with N = B*F.  Also its backward (same operation). */
void dropout_apply_rows(struct kern *k, float *x, const float *mask, int T,
                        long N);

/* y(B,T,F) = x(B,T,F) * mask(B,F), batch-first (the LM's output_dp; y may
 * be x: its backward in place). */
void dropout_apply_bt(struct kern *k, float *y, const float *x,
                      const float *mask, int B, int T, int F);

/* y = x * mask element-wise, n elements (WeightDropout: the weight used is
 * raw * mask; its backward is d_raw += d_used * mask, dropout_acc_mul). */
void dropout_apply(struct kern *k, float *y, const float *x,
                   const float *mask, size_t n);
void dropout_acc_mul(struct kern *k, float *acc, const float *d,
                     const float *mask, size_t n);

#endif
