/* check.c: the "check" backend (ctx.h KERN_CHECK): the CPU kernels, but
 * every kern_alloc'd block lives in its own mmap'd pages that are
 * PROT_NONE between operations.  Each operation of the table makes every
 * block readable and writable, runs the CPU kernel on an inner CPU
 * context, and protects them again; the copies likewise.  Host code that
 * reads or writes tensor memory outside a kernel or a copy, which would
 * break on a GPU, dies with SIGSEGV, and so does a kernel that overruns
 * its block into the guard page after it.  Results are the CPU's, bit for
 * bit. */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dispatch.h"
#include "core/util.h"

struct blk {
	char *p;
	size_t n;               /* mapped bytes, the guard page not counted */
};

struct check {
	struct kern in;         /* the CPU context the kernels run on */
	struct blk *b;
	size_t nb, cap;
};

static void
protect(struct check *c, int prot)
{
	for (size_t i = 0; i < c->nb; i++)
		if (mprotect(c->b[i].p, c->b[i].n, prot) != 0)
			die("check device: mprotect: %s", strerror(errno));
}

static struct kern *
enter(struct kern *k)
{
	struct check *c = k->priv;
	protect(c, PROT_READ | PROT_WRITE);
	c->in.threads = k->threads;
	c->in.bf16 = k->bf16;
	return &c->in;
}

static void
leave(struct kern *k)
{
	protect(k->priv, PROT_NONE);
}

/* The kernels: enter, the CPU kernel on the inner context, leave. */
#define CHECK_VOID(n, p, a) \
	static void chk_##n(struct kern *k, KERN_UNPAREN p) \
	{ \
		struct kern *in = enter(k); \
		n(in, KERN_UNPAREN a); \
		leave(k); \
	}
#define CHECK_RET(r, n, p, a) \
	static r chk_##n(struct kern *k, KERN_UNPAREN p) \
	{ \
		struct kern *in = enter(k); \
		r v = n(in, KERN_UNPAREN a); \
		leave(k); \
		return v; \
	}
#define KERN_UNPAREN(...) __VA_ARGS__
#define CHECK_ONE(r, n, p, a) CHECK_##r(r, n, p, a)
#define CHECK_void(r, n, p, a) CHECK_VOID(n, p, a)
#define CHECK_double(r, n, p, a) CHECK_RET(r, n, p, a)
#define CHECK_long(r, n, p, a) CHECK_RET(r, n, p, a)
KERN_OPS(CHECK_ONE)

/* Memory: one mapping per block, a PROT_NONE guard page after it. */
static void *
chk_kern_alloc(struct kern *k, size_t bytes)
{
	struct check *c = k->priv;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (bytes + pg - 1) / pg * pg;
	if (!n)
		n = pg;
	if (n < bytes)
		die("%zu bytes: more memory than can be addressed", bytes);
	char *p = mmap(NULL, n + pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED)
		die("out of memory (%.1f MiB of tensors); lower the batch size "
		    "or the sequence length", bytes / 1048576.0);
	if (c->nb == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->b = xrealloc(c->b, c->cap * sizeof *c->b);
	}
	c->b[c->nb++] = (struct blk){ p, n };
	return p;
}

static void
chk_kern_free(struct kern *k, void *p)
{
	struct check *c = k->priv;
	if (!p)
		return;
	for (size_t i = 0; i < c->nb; i++)
		if (c->b[i].p == p) {
			size_t pg = (size_t)sysconf(_SC_PAGESIZE);
			munmap(p, c->b[i].n + pg);
			c->b[i] = c->b[--c->nb];
			return;
		}
	die("check device: kern_free of %p, which kern_alloc did not give", p);
}

static void *
chk_kern_scratch(struct kern *k, size_t bytes)
{
	if (bytes > k->ws_bytes) {
		chk_kern_free(k, k->ws);
		k->ws = chk_kern_alloc(k, bytes);
		k->ws_bytes = bytes;
	}
	return k->ws;
}

static void
chk_kern_fini(struct kern *k)
{
	struct check *c = k->priv;
	while (c->nb)
		chk_kern_free(k, c->b[0].p);
	free(c->b);
	kern_fini(&c->in);
	free(c);
	memset(k, 0, sizeof *k);
}

static void
chk_kern_sync(struct kern *k)
{
	(void)k;
}

#define CHECK_MEM(n, p, a) \
	static void chk_##n(struct kern *k, KERN_UNPAREN p) \
	{ \
		struct kern *in = enter(k); \
		n(in, KERN_UNPAREN a); \
		leave(k); \
	}
CHECK_MEM(kern_upload, (void *dev, const void *host, size_t bytes),
          (dev, host, bytes))
CHECK_MEM(kern_download, (void *host, const void *dev, size_t bytes),
          (host, dev, bytes))
CHECK_MEM(kern_copy, (void *dst, const void *src, size_t bytes),
          (dst, src, bytes))
CHECK_MEM(kern_fill, (float *x, size_t n, float v), (x, n, v))
CHECK_MEM(kern_zero, (void *p, size_t bytes), (p, bytes))

/* the check device has no collectives (the CPU's answer) */
static int
chk_kern_coll_id(struct kern *k, void *id, size_t bytes)
{
	(void)k, (void)id, (void)bytes;
	return -1;
}

static int
chk_kern_coll_init(struct kern *k, const void *id, int rank, int size)
{
	(void)k, (void)id, (void)rank, (void)size;
	return -1;
}

static void
chk_kern_coll_sum(struct kern *k, float *const *x, const size_t *n, int count)
{
	(void)k, (void)x, (void)n;
	if (count)
		die("kern_coll_sum: the check backend has no collectives");
}

static void
chk_kern_coll_fini(struct kern *k)
{
	(void)k;
}

#define CHECK_ENTRY_(n) .n = chk_##n,
#define CHECK_ENTRY(r, n, p, a) .n = chk_##n,
const struct kern_ops kern_check_ops = {
	KERN_MEM(CHECK_ENTRY_)
	KERN_OPS(CHECK_ENTRY)
};

/* ULMFIT_CHECK=log: instead of dying at the first host access, print
 * "check: host access FILE PC ADDR" once per program counter
 * (addr2line -e FILE PC names the line), open the blocks until the next operation
 * ends, and go on, so that one run lists every access. */
static struct check *logged;

static void
on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	static uintptr_t seen[256];
	static int nseen;
	uintptr_t pc = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
	char *a = si->si_addr;
	int ours = 0;
	for (size_t i = 0; logged && i < logged->nb && !ours; i++)
		ours = a >= logged->b[i].p && a < logged->b[i].p + logged->b[i].n;
	if (!ours) {
		signal(SIGSEGV, SIG_DFL);
		return;
	}
	int i = 0;
	while (i < nseen && seen[i] != pc)
		i++;
	if (i == nseen && nseen < 256) {
		seen[nseen++] = pc;
		char line[600];
		Dl_info di = { 0 };
		dladdr((void *)pc, &di);
		int n = snprintf(line, sizeof line, "check: host access %s %#lx "
		                 "%p\n", di.dli_fname ? di.dli_fname : "?",
		                 (unsigned long)(pc - (uintptr_t)di.dli_fbase),
		                 (void *)a);
		if (write(2, line, (size_t)n) < 0)
			_exit(86);
	}
	for (size_t j = 0; j < logged->nb; j++)
		mprotect(logged->b[j].p, logged->b[j].n, PROT_READ | PROT_WRITE);
}

/* kern_init's part (ctx.c): k is a started CPU context. */
int kern_check_init(struct kern *k);
int
kern_check_init(struct kern *k)
{
	struct check *c = xcalloc(1, sizeof *c);
	c->in = *k;
	k->backend = KERN_CHECK;
	k->ops = &kern_check_ops;
	k->priv = c;
	const char *e = getenv("ULMFIT_CHECK");
	if (e && !strcmp(e, "log") && !logged) {
		struct sigaction sa = { .sa_sigaction = on_segv,
		                        .sa_flags = SA_SIGINFO | SA_NODEFER };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, NULL);
		logged = c;
	}
	return 0;
}
