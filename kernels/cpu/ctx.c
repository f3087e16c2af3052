/* ctx.c: the CPU backend's context and memory (see ctx.h): device memory
 * is host memory, copies are memcpy. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "ctx.h"
#include "dispatch.h"
#include "core/util.h"

int kern_check_init(struct kern *k);     /* check.c */

static char why[PATH_MAX + 128];

const char *
kern_why(void)
{
	return why;
}

/* The CUDA backend: libkern_cuda.so next to the executable, loaded only
 * here, so that CPU runs map no CUDA library. */
static int
cuda_open(struct kern *k, int threads)
{
	static void *lib;
	static const struct kern_ops *ops;
	static int (*init)(struct kern *, int);
	static const char *(*cwhy)(void);
	if (!lib) {
		char exe[PATH_MAX], path[PATH_MAX + 64];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0) {
			snprintf(why, sizeof why, "cannot find this program's "
			         "directory");
			return -1;
		}
		exe[n] = 0;
		char *sl = strrchr(exe, '/');
		*sl = 0;
		static const char *const rel[] = {
			"/../libkern_cuda.so", "/../lib/ulmfit/libkern_cuda.so"
		};
		for (size_t i = 0; i < sizeof rel / sizeof *rel && !lib; i++) {
			snprintf(path, sizeof path, "%s%s", exe, rel[i]);
			if (access(path, F_OK) != 0)
				continue;
			lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
			if (!lib) {
				snprintf(why, sizeof why, "%s", dlerror());
				return -1;
			}
		}
		if (!lib) {
			snprintf(why, sizeof why, "this build has no CUDA "
			         "backend (no libkern_cuda.so in %s/..)", exe);
			return -1;
		}
		ops = dlsym(lib, "kern_cuda_ops");
		*(void **)&init = dlsym(lib, "cuda_kern_init");
		*(void **)&cwhy = dlsym(lib, "cuda_kern_why");
		if (!ops || !init || !cwhy) {
			snprintf(why, sizeof why, "libkern_cuda.so lacks "
			         "kern_cuda_ops or cuda_kern_init");
			dlclose(lib), lib = NULL;
			return -1;
		}
	}
	if (init(k, threads) != 0) {
		snprintf(why, sizeof why, "%s", cwhy());
		memset(k, 0, sizeof *k);
		return -1;
	}
	k->backend = KERN_CUDA;
	k->ops = ops;
	return 0;
}

int
kern_init(struct kern *k, int backend, int threads)
{
	memset(k, 0, sizeof *k);
	why[0] = 0;
	if (backend == KERN_CUDA)
		return cuda_open(k, threads);
	if (backend != KERN_CPU && backend != KERN_CHECK) {
		snprintf(why, sizeof why, "no backend %d", backend);
		return -1;
	}
	kern_set_threads(threads);
	k->backend = KERN_CPU;
	k->threads = kern_threads();
	if (backend == KERN_CHECK)
		return kern_check_init(k);
	return 0;
}

void
kern_fini(struct kern *k)
{
	KERN_TWIN(k, kern_fini, (k));
	kern_free(k, k->ws);
	k->ws = NULL, k->ws_bytes = 0;
}

static struct kern dflt;

int
kern_select(int backend, int threads, char *whybuf, size_t n)
{
	struct kern k;
	if (kern_init(&k, backend, threads) != 0) {
		if (n)
			snprintf(whybuf, n, "%s", why);
		return -1;
	}
	k.bf16 = dflt.bf16;
	dflt = k;
	return 0;
}

struct kern *
kern_default(void)
{
	static int once;
	if (!once) {
		once = 1;
		const char *d = getenv("ULMFIT_DEVICE");
		int b = !d || !*d || !strcmp(d, "cpu") ? KERN_CPU
		        : !strcmp(d, "check") ? KERN_CHECK
		        : !strcmp(d, "cuda") ? KERN_CUDA : -1;
		char w[PATH_MAX + 128];
		if (b < 0)
			die("ULMFIT_DEVICE=%s: not cpu, cuda or check", d);
		if (b != KERN_CPU && kern_select(b, kern_threads(), w,
		                                 sizeof w) != 0)
			die("ULMFIT_DEVICE=%s: %s", d, w);
	}
	if (dflt.backend != KERN_CUDA)
		dflt.threads = kern_threads();
	return &dflt;
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
	KERN_TWIN_RET(k, kern_alloc, (k, bytes));
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
	KERN_TWIN(k, kern_free, (k, p));
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
	KERN_TWIN_RET(k, kern_scratch, (k, bytes));
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
	KERN_TWIN(k, kern_upload, (k, dev, host, bytes));
	(void)k;
	if (bytes && dev != host)
		memcpy(dev, host, bytes);
}

void
kern_download(struct kern *k, void *host, const void *dev, size_t bytes)
{
	KERN_TWIN(k, kern_download, (k, host, dev, bytes));
	(void)k;
	if (bytes && dev != host)
		memcpy(host, dev, bytes);
}

void
kern_copy(struct kern *k, void *dst, const void *src, size_t bytes)
{
	KERN_TWIN(k, kern_copy, (k, dst, src, bytes));
	(void)k;
	if (bytes && dst != src)
		memmove(dst, src, bytes);
}

void
kern_fill(struct kern *k, float *x, size_t n, float v)
{
	KERN_TWIN(k, kern_fill, (k, x, n, v));
	(void)k;
	for (size_t i = 0; i < n; i++)
		x[i] = v;
}

void
kern_zero(struct kern *k, void *p, size_t bytes)
{
	KERN_TWIN(k, kern_zero, (k, p, bytes));
	(void)k;
	if (bytes)
		memset(p, 0, bytes);
}

void
kern_sync(struct kern *k)
{
	KERN_TWIN(k, kern_sync, (k));
	(void)k;
}

/* No collectives on the CPU: dist.c sums through MPI */
int
kern_coll_id(struct kern *k, void *id, size_t bytes)
{
	KERN_TWIN_RET(k, kern_coll_id, (k, id, bytes));
	(void)k, (void)id, (void)bytes;
	return -1;
}

int
kern_coll_init(struct kern *k, const void *id, int rank, int size)
{
	KERN_TWIN_RET(k, kern_coll_init, (k, id, rank, size));
	(void)k, (void)id, (void)rank, (void)size;
	return -1;
}

void
kern_coll_sum(struct kern *k, float *const *x, const size_t *n, int count)
{
	KERN_TWIN(k, kern_coll_sum, (k, x, n, count));
	(void)k, (void)x, (void)n;
	if (count)
		die("kern_coll_sum: the CPU backend has no collectives");
}

void
kern_coll_fini(struct kern *k)
{
	KERN_TWIN(k, kern_coll_fini, (k));
	(void)k;
}
