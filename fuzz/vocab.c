/* vocab.c: vocab_load on any bytes: the text format, and fastai's pickled
 * itos list when the file starts with 0x80.  A loaded vocab must look up
 * every token at its first index (xxfake at 0), and its xxh64 must be that
 * of the vocab written back, as vocab_from_list computes it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fuzz.h"
#include "data/vocab.h"

struct run { const char *path; struct vocab *v; };

static void
go(void *arg)
{
	struct run *r = arg;
	r->v = vocab_load(r->path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fz_memfile(data, size, path);
	struct run r = { path, NULL };

	if (fz_catch(go, &r) == 0) {
		struct vocab *v = r.v;
		FZ_ASSERT(v && v->n > 0);
		for (uint32_t i = 0; i < v->n; i++) {
			FZ_ASSERT(v->len[i] > 0 && strlen(v->tok[i]) == v->len[i]);
			FZ_ASSERT(!strchr(v->tok[i], '\n'));
			uint32_t id = vocab_id(v, v->tok[i], v->len[i]);
			if (!strcmp(v->tok[i], VOCAB_FAKE))
				FZ_ASSERT(id == 0);
			else
				FZ_ASSERT(id <= i && !strcmp(v->tok[id], v->tok[i]));
		}
		char *img;
		size_t n;
		FILE *f = open_memstream(&img, &n);
		vocab_write(v, f, "memstream");
		fclose(f);
		struct vocab *w = vocab_from_list((const char *const *)v->tok,
		                                  v->n);
		FZ_ASSERT(w->n == v->n && w->xxh64 == XXH64(img, n, 0));
		int pkl = size >= 2 && data[0] == 0x80;
		if (!pkl && n == size && !memcmp(img, data, n))
			FZ_ASSERT(v->xxh64 == w->xxh64);
		if (pkl)                /* a .pkl is the vocab it converts to */
			FZ_ASSERT(v->xxh64 == w->xxh64);
		vocab_free(w);
		free(img);
		vocab_free(v);
	}
	close(fd);
	return 0;
}
