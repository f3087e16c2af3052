/* ctx.c: the CPU backend's context and memory (see ctx.h): device memory
 * is host memory, copies are memcpy. */
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ctx.h"
#include "core/util.h"

int
kern_init(struct kern *k, int backend, int threads)
{
	memset(k, 0, sizeof *k);
	if (backend != KERN_CPU)
		return -1;
	kern_set_threads(threads);
	k->backend = KERN_CPU;
	k->threads = kern_threads();
	return 0;
}

void
kern_fini(struct kern *k)
{
	kern_free(k, k->ws);
	k->ws = NULL, k->ws_bytes = 0;
}

struct kern *
kern_default(void)
{
	static struct kern k;
	k.backend = KERN_CPU;
	k.threads = kern_threads();
	return &k;
}

/* Every block starts with a 64-byte header holding its size, so
 * kern_free knows how it was made.  Blocks of 1 MiB and more are mmap'd
 * (core/util.h big_alloc: 2 MiB aligned, transparent huge pages, pages
 * cost nothing until touched), the rest come from aligned_alloc. */
#define HDR 64
#define BIG (1u << 20)

void *
kern_alloc(struct kern *k, size_t bytes)
{
	(void)k;
	size_t n = (bytes + HDR + 63) & ~(size_t)63;
	if (n < bytes)
		die("%zu bytes: more memory than can be addressed", bytes);
	char *raw = n >= BIG ? big_alloc(n) : aligned_alloc(64, n);
	if (!raw)
		die("out of memory (%.1f MiB of tensors); lower the batch size "
		    "or the sequence length", bytes / 1048576.0);
	if (n < BIG)            /* zeros, as fresh mmap'd pages (ctx.h) */
		memset(raw, 0, n);
	*(size_t *)raw = n;
	return raw + HDR;
}

void
kern_free(struct kern *k, void *p)
{
	(void)k;
	if (!p)
		return;
	char *raw = (char *)p - HDR;
	size_t n = *(size_t *)raw;
	if (n >= BIG)
		big_free(raw, n);
	else
		free(raw);
}

void *
kern_scratch(struct kern *k, size_t bytes)
{
	if (bytes > k->ws_bytes) {
		kern_free(k, k->ws);
		k->ws = kern_alloc(k, bytes);
		k->ws_bytes = bytes;
	}
	return k->ws;
}

void
kern_upload(struct kern *k, void *dev, const void *host, size_t bytes)
{
	(void)k;
	if (bytes && dev != host)
		memcpy(dev, host, bytes);
}

void
kern_download(struct kern *k, void *host, const void *dev, size_t bytes)
{
	(void)k;
	if (bytes && dev != host)
		memcpy(host, dev, bytes);
}

void
kern_copy(struct kern *k, void *dst, const void *src, size_t bytes)
{
	(void)k;
	if (bytes && dst != src)
		memmove(dst, src, bytes);
}

void
kern_fill(struct kern *k, float *x, size_t n, float v)
{
	(void)k;
	for (size_t i = 0; i < n; i++)
		x[i] = v;
}

void
kern_zero(struct kern *k, void *p, size_t bytes)
{
	(void)k;
	if (bytes)
		memset(p, 0, bytes);
}

void
kern_sync(struct kern *k)
{
	(void)k;
}
