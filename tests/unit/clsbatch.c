/* Classification batching: spec §4 acceptance facts, and the invariants of
 * SortedDL's shuffled order. */
#include <string.h>

#include "../tap.h"
#include "data/clsbatch.h"
#include "core/rng.h"

static int
eq(const uint32_t *a, const uint32_t *b, size_t n)
{
	return !memcmp(a, b, n * sizeof *a);
}

int
main(void)
{
	/* Pad_Chunk: pad_idx 0, seq_len 2, batch longest 6 */
	uint32_t t3[] = {1, 2, 3}, t2[] = {1, 2}, d[6];
	pad_chunk(d, 6, t3, 3, 2, 0, 1);
	ok(eq(d, (uint32_t[]){0, 0, 1, 2, 3, 0}, 6), "pad_first [1,2,3] -> [0,0,1,2,3,0]");
	pad_chunk(d, 6, t2, 2, 2, 0, 1);
	ok(eq(d, (uint32_t[]){0, 0, 0, 0, 1, 2}, 6), "pad_first [1,2] -> [0,0,0,0,1,2]");
	pad_chunk(d, 6, t3, 3, 2, 0, 0);
	ok(eq(d, (uint32_t[]){1, 2, 3, 0, 0, 0}, 6), "pad_last [1,2,3] -> [1,2,3,0,0,0]");
	pad_chunk(d, 6, t2, 2, 2, 0, 0);
	ok(eq(d, (uint32_t[]){1, 2, 0, 0, 0, 0}, 6), "pad_last [1,2] -> [1,2,0,0,0,0]");
	pad_chunk(d, 3, t3, 3, 2, 9, 1);
	ok(eq(d, t3, 3), "the longest text is not padded");

	/* Unshuffled SortedDL, bs=2, lengths 2,4,1,3, padded at the end */
	uint32_t a0[] = {1, 2}, a1[] = {3, 4, 5, 6}, a2[] = {7}, a3[] = {8, 9, 10};
	const uint32_t *docs[] = {a0, a1, a2, a3};
	uint32_t len[] = {2, 4, 1, 3}, lab[] = {1, 2, 3, 4};
	uint32_t order[4], tmp[8], x[8];
	size_t use = sorted_order(len, 4, 2, 0, NULL, order, tmp);
	ok(use == 4 && eq(order, (uint32_t[]){1, 3, 0, 2}, 4),
	   "validation order: by length, descending");
	size_t M = clsbatch_fill(x, docs, len, order, 2, 72, 0, 0);
	ok(M == 4 && eq(x, (uint32_t[]){3, 4, 5, 6, 8, 9, 10, 0}, 8),
	   "batch 1 = [[3,4,5,6],[8,9,10,0]]");
	ok(lab[order[0]] == 2 && lab[order[1]] == 4, "batch 1 labels [2,4]");
	M = clsbatch_fill(x, docs, len, order + 2, 2, 72, 0, 0);
	ok(M == 2 && eq(x, (uint32_t[]){1, 2, 7, 0}, 4), "batch 2 = [[1,2],[7,0]]");
	ok(lab[order[2]] == 1 && lab[order[3]] == 3, "batch 2 labels [1,3]");

	/* ties keep their input order (Python's sorted is stable) */
	uint32_t tl[] = {3, 5, 3, 5, 3};
	uint32_t to[5], tt[10];
	sorted_order(tl, 5, 2, 0, NULL, to, tt);
	ok(eq(to, (uint32_t[]){1, 3, 0, 2, 4}, 5), "stable for equal lengths");

	/* Shuffled: IMDB-like train set, 25,000 items, bs 64 */
	enum { N = 25000, BS = 64 };
	static uint32_t L[N], O[N], TMP[2 * N], seen[N];
	struct rng r;
	rng_seed(&r, 42, 0);
	for (size_t i = 0; i < N; i++)
		L[i] = 10 + (uint32_t)rng_below(&r, 2000);
	L[12345] = 5000;                  /* the longest, unique */
	int all_first = 1, none_longer = 1, perm_ok = 1, chunk_sorted = 1;
	uint32_t first_batch0[BS];
	int differs = 0;
	for (int ep = 0; ep < 3; ep++) {
		use = sorted_order(L, N, BS, 1, &r, O, TMP);
		if (use != 390 * 64)
			perm_ok = 0;
		memset(seen, 0, sizeof seen);
		for (size_t i = 0; i < N; i++)
			seen[O[i]]++;
		for (size_t i = 0; i < N; i++)
			if (seen[i] != 1)
				perm_ok = 0;
		if (O[0] != 12345)
			all_first = 0;
		for (size_t i = 0; i < use; i++)
			if (L[O[i]] > L[O[0]])
				none_longer = 0;
		/* within a batch, lengths descend (batches are slices of
		 * sorted chunks of bs*50) */
		for (size_t b = 0; b < use; b += BS)
			for (size_t i = b + 1; i < b + BS; i++)
				if (L[O[i]] > L[O[i - 1]])
					chunk_sorted = 0;
		if (ep == 0)
			memcpy(first_batch0, O + BS, sizeof first_batch0);
		else if (memcmp(first_batch0, O + BS, sizeof first_batch0))
			differs = 1;
	}
	ok(perm_ok, "shuffled order is a permutation; drop_last keeps 390*64");
	ok(all_first, "the longest item is first in every epoch");
	ok(none_longer, "no batch is longer than the first");
	ok(chunk_sorted, "each batch is sorted by length, descending");
	ok(differs, "epochs differ");

	/* the last (short) batch stays last and is dropped; with <= 2 batches
	 * nothing is permuted */
	uint32_t sl[5] = {1, 2, 3, 4, 5}, so[5], st[10];
	use = sorted_order(sl, 5, 2, 1, &r, so, st);
	ok(use == 4 && so[0] == 4, "5 items, bs 2: 4 used, longest first");
	use = sorted_order(sl, 3, 2, 1, &r, so, st);
	ok(use == 2 && so[0] == 2 && so[1] == 1 && so[2] == 0,
	   "2 batches: sorted chunk, no permutation");
	use = sorted_order(sl, 1, 2, 1, &r, so, st);
	ok(use == 0, "fewer items than bs: nothing (drop_last)");
	return done_testing();
}
