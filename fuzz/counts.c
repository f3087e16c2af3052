/* counts.c: counter_read (numz --counts) on any bytes.  A file it takes
 * must be exactly what counter_write makes of the counter read from it
 * (the final newline aside): one canonical text per counter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "core/util.h"
#include "data/vocab.h"

struct run { const char *path; struct counter c; };

static void
go(void *arg)
{
	struct run *r = arg;
	FILE *f = fopen(r->path, "r");

	if (!f)
		die("%s:", r->path);
	counter_init(&r->c);    /* in here: a die releases it with the rest */
	counter_read(&r->c, f, r->path);
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fz_memfile(data, size, path);
	struct run r = { path, { 0 } };

	if (fz_catch(go, &r) == 0) {
		char *img;
		size_t n;
		FILE *f = open_memstream(&img, &n);
		counter_write(&r.c, f, "memstream");
		fclose(f);
		FZ_ASSERT(n == size || n == size + 1);
		FZ_ASSERT(!memcmp(img, data, size < n ? size : n));
		uint64_t sum = 0;
		for (uint32_t i = 0; i < r.c.n; i++) {
			FZ_ASSERT(r.c.count[i] > 0 && r.c.len[i] > 0);
			FZ_ASSERT(!memchr(r.c.tok[i], '\t', r.c.len[i]));
			sum += r.c.count[i];
		}
		FZ_ASSERT(sum == r.c.total);
		free(img);
		counter_free(&r.c);
	}
	close(fd);
	return 0;
}
