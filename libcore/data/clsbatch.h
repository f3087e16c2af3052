/* clsbatch.h: classification batching, as fastai's SortedDL + Pad_Chunk
 * (spec §4).
 *
 * Documents have very different lengths, so fastai sorts them by length
 * and pads each batch only to its own longest text.  Padding goes in front
 * in whole seq_len chunks (the remainder at the end), so every text starts
 * on a chunk boundary and the SentenceEncoder can skip the rows that are
 * still in their leading padding (see clas.h). */
#ifndef CLSBATCH_H
#define CLSBATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* Stable sort of idx[0..n) by key[idx[i]] descending (ties keep their
 * order, like Python's sorted(reverse=True)).  tmp holds n entries. */
void sort_by_len_desc(uint32_t *idx, size_t n, const uint32_t *key,
                      uint32_t *tmp);

/* The order of items for one pass over n items with lengths len[n].
 * Validation (shuffle 0): all indices sorted by length, descending; all n
 * are used.  Training (shuffle 1), one epoch of SortedDL.shuffle_fn:
 *   a random permutation; the (first) longest item swapped to position 0;
 *   chunks of bs*50 each sorted by length descending; cut into batches of
 *   bs; the first and last batch stay, those between are permuted (only
 *   when there are more than 2); then drop_last drops a short last batch.
 * Writes order[n] (needs tmp[2n] scratch) and returns how many leading
 * entries to use: consecutive groups of bs are the batches. */
size_t sorted_order(const uint32_t *len, size_t n, size_t bs, int shuffle,
                    struct rng *r, uint32_t *order, uint32_t *tmp);

/* Pad_Chunk for one text: src[L] into dst[M] (M >= L is the batch's
 * longest length).  With pad_first, (M-L)/seq_len*seq_len pads go in front
 * and (M-L)%seq_len at the end; otherwise all M-L pads go at the end. */
void pad_chunk(uint32_t *dst, size_t M, const uint32_t *src, size_t L,
               size_t seq_len, uint32_t pad, int pad_first);

/* Collate one batch: docs[idx[i]] with lengths len[idx[i]], i < nb, into
 * x (nb, M) row-major, M = the longest of them; returns M.  x must hold
 * nb * M entries (the caller sizes it from the first, longest batch or the
 * overall maximum). */
size_t clsbatch_fill(uint32_t *x, const uint32_t *const *docs,
                     const uint32_t *len, const uint32_t *idx, size_t nb,
                     size_t seq_len, uint32_t pad, int pad_first);

#endif
