/* clsbatch.c: SortedDL ordering and Pad_Chunk padding (spec §4). */
#include <string.h>

#include "data/clsbatch.h"

/* Bottom-up merge sort: stable, O(n log n), no allocation. */
void
sort_by_len_desc(uint32_t *idx, size_t n, const uint32_t *key, uint32_t *tmp)
{
	uint32_t *a = idx, *b = tmp;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)   /* >= : left wins ties */
				b[k++] = key[a[i]] >= key[a[j]] ? a[i++] : a[j++];
			while (i < mid)
				b[k++] = a[i++];
			while (j < hi)
				b[k++] = a[j++];
		}
		uint32_t *t = a; a = b; b = t;
	}
	if (a != idx)
		memcpy(idx, a, n * sizeof *idx);
}

size_t
sorted_order(const uint32_t *len, size_t n, size_t bs, int shuffle,
             struct rng *r, uint32_t *order, uint32_t *tmp)
{
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	if (!shuffle) {
		sort_by_len_desc(order, n, len, tmp);
		return n;
	}
	if (n == 0 || bs == 0)
		return 0;

	/* np.argmax: the first longest item */
	size_t imax = 0;
	for (size_t i = 1; i < n; i++)
		if (len[i] > len[imax])
			imax = i;
	rng_shuffle_u32(r, order, n);
	for (size_t i = 0; i < n; i++)
		if (order[i] == imax) {
			order[i] = order[0];
			order[0] = (uint32_t)imax;
			break;
		}
	size_t sz = bs * 50;
	for (size_t i = 0; i < n; i += sz)
		sort_by_len_desc(order + i, n - i < sz ? n - i : sz, len, tmp);

	/* permute the batches strictly between the first and the last:
	 * all of them are full, only the last can be short */
	size_t nbat = (n + bs - 1) / bs;
	if (nbat > 2) {
		size_t mid = nbat - 2;
		uint32_t *perm = tmp + n;
		for (size_t i = 0; i < mid; i++)
			perm[i] = (uint32_t)i;
		rng_shuffle_u32(r, perm, mid);
		memcpy(tmp, order + bs, mid * bs * sizeof *tmp);
		for (size_t i = 0; i < mid; i++)
			memcpy(order + (i + 1) * bs, tmp + perm[i] * bs,
			       bs * sizeof *tmp);
	}
	size_t use = n / bs * bs;  /* drop_last */
	return use;
}

void
pad_chunk(uint32_t *dst, size_t M, const uint32_t *src, size_t L,
          size_t seq_len, uint32_t pad, int pad_first)
{
	size_t l = M - L, front = pad_first ? l / seq_len * seq_len : 0;

	for (size_t i = 0; i < front; i++)
		dst[i] = pad;
	memcpy(dst + front, src, L * sizeof *src);
	for (size_t i = front + L; i < M; i++)
		dst[i] = pad;
}

size_t
clsbatch_fill(uint32_t *x, const uint32_t *const *docs, const uint32_t *len,
              const uint32_t *idx, size_t nb, size_t seq_len, uint32_t pad,
              int pad_first)
{
	size_t M = 0;

	for (size_t i = 0; i < nb; i++)
		if (len[idx[i]] > M)
			M = len[idx[i]];
	for (size_t i = 0; i < nb; i++)
		pad_chunk(x + i * M, M, docs[idx[i]], len[idx[i]], seq_len, pad,
		          pad_first);
	return M;
}
