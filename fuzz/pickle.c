/* pickle.c: the pickle machine (pk_load) on any bytes, with no tensor or
 * persistent-id support (as a vocab .pkl is read).  A value it accepts
 * that is a tree must be writable (pk_write, or a clean die for what the
 * writer does not write, such as bytes) and the written pickle must load
 * again to a pickle that writes the same bytes.  A value whose nodes are
 * shared (the memo makes DAGs and cycles) is not written: pk_write does
 * not memoise nodes, so a cycle recurses without end; see
 * fuzz/pending/README. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pickle.h"
#include "tokfile.h"

struct run { const struct pv *v; struct buf out; };

/* 1 if some node of v is reached twice (a DAG or a cycle). */
static int
shared(const struct pv *v)
{
	size_t cap = 1024, n = 0, sp = 0, scap = 64;
	const struct pv **set = calloc(cap, sizeof *set);
	const struct pv **st = malloc(scap * sizeof *st);
	int found = 0;

	st[sp++] = v;
	while (sp && !found) {
		const struct pv *x = st[--sp];
		if (!x)
			continue;
		if (2 * (n + 1) > cap) {        /* grow the set */
			const struct pv **o = set;
			size_t oc = cap;
			cap *= 2;
			set = calloc(cap, sizeof *set);
			for (size_t i = 0; i < oc; i++)
				if (o[i]) {
					size_t j = ((uintptr_t)o[i] >> 4) & (cap - 1);
					while (set[j])
						j = (j + 1) & (cap - 1);
					set[j] = o[i];
				}
			free(o);
		}
		size_t j = ((uintptr_t)x >> 4) & (cap - 1);
		while (set[j] && set[j] != x)
			j = (j + 1) & (cap - 1);
		if (set[j]) {
			found = 1;
			break;
		}
		set[j] = x, n++;
		if (sp + x->n + 1 > scap) {
			scap = 2 * (sp + x->n + 1);
			st = realloc(st, scap * sizeof *st);
		}
		for (size_t i = 0; i < x->n; i++)
			st[sp++] = x->it[i];
		st[sp++] = x->state;
	}
	free(set);
	free(st);
	return found;
}

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
	if (!shared(v) && fz_catch(write_it, &r) == 0) {
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
