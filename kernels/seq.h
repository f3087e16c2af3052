/* seq.h: the classifier's batch plumbing as kernels (SentenceEncoder,
 * spec §7): chunk gathers and scatters between the batch (B,T,...) and a
 * bptt chunk, pad masks from the lengths and the softmax of the
 * predictions (a step's loss reductions are ops.h's).
 *
 * Every pointer is device memory of k (ctx.h); the host passes sizes.
 * Row-major, batch first.  Nothing here allocates. */
#ifndef KERN_SEQ_H
#define KERN_SEQ_H

#include <stdint.h>

#include "ctx.h"

/* dst (rows, len, w) = src[b, col .. col+len, :] of src (rows, T, w): the
 * columns of one chunk, for every row b < rows.  col + len <= T. */
void seq_chunk_gather(struct kern *k, float *dst, const float *src,
                      int rows, int T, int col, int len, int w);
/* dst[b, col .. col+len, :] of dst (B, T, w) = src (rows, len, w) for
 * b < rows and 0 for rows <= b < B (rows that have not started yet).  The
 * other columns of dst are left alone. */
void seq_chunk_scatter(struct kern *k, float *dst, const float *src, int B,
                       int rows, int T, int col, int len, int w);

/* mask (B,T) 1 where column first + t is padding of row b, that is
 * outside [start[b], start[b] + len[b]); 0 on the text. */
void seq_pad_mask(struct kern *k, uint8_t *mask, const uint32_t *start,
                  const uint32_t *len, int B, int T, int first);

/* p (rows, n) = softmax of z (rows, n) per row, the exponentials and
 * their sum in double (p may not be z). */
void seq_softmax(struct kern *k, float *p, const float *z, int rows, int n);

#endif
