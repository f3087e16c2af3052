/* ids.c: the id stream reader (.ids: stream.c framing, ids.c records) on
 * any bytes, raw or framed (frame.h).  Every document it hands out must
 * keep its promises: ids below the vocab size, split and label without a
 * tab, documents and tokens counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "frame.h"
#include "data/ids.h"

struct run { FILE *f; };

static void
go(void *arg)
{
	struct run *r = arg;
	struct ids_reader ir;
	struct ids_doc d;
	uint64_t docs = 0, toks = 0;

	ids_open(&ir, r->f, "fuzz.ids");
	ids_check_vocab(&ir, ir.vocab_n, ir.vocab_xxh64, "fuzz.vocab");
	while (ids_next(&ir, &d)) {
		FZ_ASSERT(d.index == docs);
		FZ_ASSERT(!strchr(d.split, '\t') && !strchr(d.label, '\t'));
		for (uint32_t i = 0; i < d.n; i++) {
			FZ_ASSERT(d.ids[i] < ir.vocab_n);
			FZ_ASSERT(get_u32(d.raw + 4 * (size_t)i) == d.ids[i]);
		}
		docs++, toks += d.n;
	}
	FZ_ASSERT(ir.docs == docs && ir.tokens == toks);
	ids_close(&ir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *mem = NULL;
	size_t n;

	if (size < 1)
		return 0;
	if (data[0] & 1)
		n = fz_frame(data + 1, size - 1, IDS_MAGIC, &mem);
	else
		n = size - 1;
	struct run r;
	r.f = fz_memopen(mem ? mem : (const char *)data + 1, n);
	fz_catch(go, &r);
	fclose(r.f);
	free(mem);
	return 0;
}
