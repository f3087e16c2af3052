/* seq.c: CPU reference of the classifier's batch plumbing (seq.h).  The
 * copies are memory bound: rows go to the worker threads when a chunk is
 * large (a full-size bptt chunk of 32 rows is 3.7 MB). */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "seq.h"
#include "dispatch.h"

/* rows per thread below which a copy stays on one thread: ~64K floats */
static long
min_rows(long row_bytes)
{
	return (1L << 18) / (row_bytes > 0 ? row_bytes : 1) + 1;
}

struct rows_ctx {
	char *dst;
	const char *src;
	size_t ldd, lds, n;     /* bytes */
	long rows;              /* rows below this copy, the rest are zeroed */
};

static void
copy_rows(void *p, long lo, long hi)
{
	const struct rows_ctx *x = p;
	for (long b = lo; b < hi; b++)
		if (b < x->rows)
			memcpy(x->dst + b * x->ldd, x->src + b * x->lds, x->n);
		else
			memset(x->dst + b * x->ldd, 0, x->n);
}

static void
rows(struct kern *k, char *dst, size_t ldd, const char *src, size_t lds,
     size_t n, long ncopy, long nall)
{
	struct rows_ctx x = { dst, src, ldd, lds, n, ncopy };
	if (n)
		kern_par_for(k, nall, min_rows((long)n), copy_rows, &x);
}

void
seq_chunk_gather(struct kern *k, float *dst, const float *src, int nrow,
                 int T, int col, int len, int w)
{
	KERN_TWIN(k, seq_chunk_gather, (k, dst, src, nrow, T, col, len, w));
	size_t rw = (size_t)len * w * sizeof *dst;
	rows(k, (char *)dst, rw, (const char *)(src + (size_t)col * w),
	     (size_t)T * w * sizeof *src, rw, nrow, nrow);
}

void
seq_chunk_scatter(struct kern *k, float *dst, const float *src, int B,
                  int nrow, int T, int col, int len, int w)
{
	KERN_TWIN(k, seq_chunk_scatter,
	          (k, dst, src, B, nrow, T, col, len, w));
	size_t rw = (size_t)len * w * sizeof *dst;
	rows(k, (char *)(dst + (size_t)col * w), (size_t)T * w * sizeof *dst,
	     (const char *)src, rw, rw, nrow, B);
}

KERN_CLONES static void
mask_row(uint8_t *restrict m, uint32_t s, uint32_t e, uint32_t first, int T)
{
	for (int t = 0; t < T; t++) {
		uint32_t c = first + (uint32_t)t;
		m[t] = !(c >= s && c < e);
	}
}

void
seq_pad_mask(struct kern *k, uint8_t *mask, const uint32_t *start,
             const uint32_t *len, int B, int T, int first)
{
	KERN_TWIN(k, seq_pad_mask, (k, mask, start, len, B, T, first));
	(void)k;
	for (int b = 0; b < B; b++)
		mask_row(mask + (size_t)b * T, start[b], start[b] + len[b],
		         (uint32_t)first, T);
}

void
seq_softmax(struct kern *k, float *p, const float *z, int nrow, int n)
{
	KERN_TWIN(k, seq_softmax, (k, p, z, nrow, n));
	(void)k;
	for (int r = 0; r < nrow; r++, z += n, p += n) {
		float mx = z[0];
		for (int j = 1; j < n; j++)
			if (z[j] > mx)
				mx = z[j];
		double s = 0;
		for (int j = 0; j < n; j++)
			s += exp((double)z[j] - mx);
		for (int j = 0; j < n; j++)
			p[j] = (float)(exp((double)z[j] - mx) / s);
	}
}
