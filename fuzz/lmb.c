/* lmb.c: the batch stream reader (.lmb) on any bytes, raw or framed
 * (frame.h).  Every batch it hands out must fit the header: rows bs or
 * val_bs, len at most seq_len, ids below the vocab size, batches in
 * order; lmb_xy must read exactly rows x len of each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "frame.h"
#include "data/lmb.h"

struct run { FILE *f; uint32_t *x, *y; };

static void
go(void *arg)
{
	struct run *r = arg;
	struct lmb_reader lr;
	struct lmb_batch b;

	lmb_open(&lr, r->f, "fuzz.lmb");
	lmb_check_vocab(&lr, lr.info.vocab_n, lr.info.vocab_xxh64, "v");
	while (lmb_next(&lr, &b)) {
		const struct lmb_info *in = &lr.info;
		FZ_ASSERT(b.split == LMB_SPLIT_TRAIN || b.split == LMB_SPLIT_VALID);
		FZ_ASSERT(b.rows == (b.split ? in->val_bs : in->bs));
		FZ_ASSERT(b.len >= 1 && b.len <= in->seq_len);
		FZ_ASSERT(b.epoch < in->epochs || in->kind == LMB_VALID);
		FZ_ASSERT(b.index < (b.split ? in->valid_batches :
		                     in->train_batches));
		size_t n = (size_t)b.rows * b.len;
		r->x = malloc(n * sizeof *r->x);
		r->y = malloc(n * sizeof *r->y);
		lmb_xy(&b, r->x, r->y);
		for (size_t i = 0; i < n; i++)
			FZ_ASSERT(r->x[i] < in->vocab_n && r->y[i] < in->vocab_n);
		free(r->x);
		free(r->y);
		r->x = r->y = NULL;
	}
	lmb_close(&lr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *mem = NULL;
	size_t n;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		n = fz_frame(data + 1, size - 1, LMB_MAGIC, &mem);
	else
		n = size - 1;
	struct run r = { fz_memopen(mem ? mem : (const char *)data + 1, n),
	                 NULL, NULL };
	fz_catch(go, &r);
	fclose(r.f);
	free(mem);
	return 0;
}
