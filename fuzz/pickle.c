/* pickle.c: the pickle machine (pk_load) on any bytes, with no tensor or
 * persistent-id support (as a vocab .pkl is read).  A value it accepts,
 * shared nodes and cycles included (the memo makes them), must be
 * writable (pk_write, or a clean die for what the writer does not write,
 * such as bytes) and the written pickle must load again to a pickle that
 * writes the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "torch/pickle.h"
#include "text/tokfile.h"

struct run { const struct pv *v; struct buf out; };

static void
write_it(void *arg)
{
	struct run *r = arg;
	struct pk_writer w = { .out = &r->out };
	pk_write(&w, r->v);
	pk_writer_free(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pv_pool pool = {0}, pool2 = {0};
	struct pk_reader rd = { .pool = &pool };
	size_t used = 0;
	char *err = NULL;
	struct pv *v = pk_load(&rd, data, size, &used, &err);

	if (!v) {
		FZ_ASSERT(err && *err);
		free(err);
		pv_pool_free(&pool);
		return 0;
	}
	FZ_ASSERT(!err && used >= 2 && used <= size && data[used - 1] == '.');
	struct run r = { v, {0} };
	if (fz_catch(write_it, &r) == 0) {
		struct pk_reader rd2 = { .pool = &pool2 };
		struct pv *v2 = pk_load(&rd2, (unsigned char *)r.out.p, r.out.n,
		                        &used, &err);
		if (!v2)
			fz_fail(err, __FILE__, __LINE__);
		FZ_ASSERT(used == r.out.n);
		struct run r2 = { v2, {0} };
		FZ_ASSERT(fz_catch(write_it, &r2) == 0);
		FZ_ASSERT(r2.out.n == r.out.n &&
		          !memcmp(r2.out.p, r.out.p, r.out.n));
		buf_free(&r.out);
		buf_free(&r2.out);
	}
	pv_pool_free(&pool);
	pv_pool_free(&pool2);
	return 0;
}
