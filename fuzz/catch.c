/* catch.c: fz_catch() and the resource wrappers (see catch.h).
 *
 * While a catch is active, every resource the code under test acquires is
 * recorded in an open-addressing table (key: the pointer, or fd*2+1) and
 * forgotten when released.  exit() longjmps to the catch, which releases
 * what is left: FILEs and directories first (they own their descriptors),
 * then descriptors, xxHash states and memory. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "catch.h"

enum { R_MEM = 1, R_FILE, R_DIR, R_FD, R_XXH };

struct ent { uintptr_t key; int kind; };

static struct ent *tab;
static size_t cap, used;
static int active;              /* inside fz_catch */
static jmp_buf *jb;
static int status;

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
char *__real_strdup(const char *);
char *__real_strndup(const char *, size_t);
int __real_vasprintf(char **, const char *, va_list);
FILE *__real_fopen(const char *, const char *);
FILE *__real_fdopen(int, const char *);
int __real_fclose(FILE *);
int __real_open(const char *, int, ...);
int __real_close(int);
DIR *__real_opendir(const char *);
DIR *__real_fdopendir(int);
int __real_closedir(DIR *);
XXH64_state_t *__real_XXH64_createState(void);
XXH_errorcode __real_XXH64_freeState(XXH64_state_t *);
_Noreturn void __real_exit(int);

static size_t
slot(uintptr_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k & (cap - 1);
}

static void
add(uintptr_t key, int kind)
{
	if (!active || !key)
		return;
	if (2 * (used + 1) > cap) {
		struct ent *old = tab;
		size_t ocap = cap;
		cap = cap ? 2 * cap : 1024;
		tab = __real_calloc(cap, sizeof *tab);
		if (!tab)
			abort();
		used = 0;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].key) {
				size_t j = slot(old[i].key);
				while (tab[j].key)
					j = (j + 1) & (cap - 1);
				tab[j] = old[i];
				used++;
			}
		__real_free(old);
	}
	size_t i = slot(key);
	while (tab[i].key && tab[i].key != key)
		i = (i + 1) & (cap - 1);
	if (!tab[i].key)
		used++;
	tab[i].key = key;
	tab[i].kind = kind;
}

static void
del(uintptr_t key)
{
	if (!used || !key)
		return;
	size_t i = slot(key);
	while (tab[i].key != key) {
		if (!tab[i].key)
			return;
		i = (i + 1) & (cap - 1);
	}
	/* backward-shift deletion keeps every probe chain unbroken */
	for (size_t j = i;;) {
		tab[i].key = 0;
		for (;;) {
			j = (j + 1) & (cap - 1);
			if (!tab[j].key) {
				used--;
				return;
			}
			size_t h = slot(tab[j].key);
			if (i <= j ? (h <= i || h > j) : (h <= i && h > j))
				break;
		}
		tab[i] = tab[j];
		i = j;
	}
}

static void
release_all(void)
{
	static const int order[] = { R_FILE, R_DIR, R_FD, R_XXH, R_MEM };

	for (size_t k = 0; k < sizeof order / sizeof *order; k++)
		for (size_t i = 0; i < cap; i++) {
			if (!tab[i].key || tab[i].kind != order[k])
				continue;
			void *p = (void *)tab[i].key;
			switch (order[k]) {
			case R_FILE: __real_fclose(p); break;
			case R_DIR: __real_closedir(p); break;
			case R_FD: __real_close((int)(tab[i].key >> 1)); break;
			case R_XXH: __real_XXH64_freeState(p); break;
			case R_MEM: __real_free(p); break;
			}
		}
	memset(tab, 0, cap * sizeof *tab);
	used = 0;
}

int
fz_catch(void (*fn)(void *), void *arg)
{
	jmp_buf here, *outer = jb;
	int was = active;

	if (was)
		abort();        /* not nested: one table */
	jb = &here;
	status = 0;
	active = 1;
	if (!setjmp(here))
		fn(arg);
	else
		release_all();
	active = 0;
	jb = outer;
	if (used) {             /* what a returning call kept is its owner's */
		memset(tab, 0, cap * sizeof *tab);
		used = 0;
	}
	return status;
}

_Noreturn void
__wrap_exit(int st)
{
	if (!active)
		__real_exit(st);
	status = st ? st : 256;         /* exit(0) inside a parser: odd too */
	active = 0;
	longjmp(*jb, 1);
}

void *
__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);
	add((uintptr_t)p, R_MEM);
	return p;
}

void *
__wrap_calloc(size_t n, size_t m)
{
	void *p = __real_calloc(n, m);
	add((uintptr_t)p, R_MEM);
	return p;
}

void *
__wrap_realloc(void *q, size_t n)
{
	void *p = __real_realloc(q, n);
	if (p || !n) {
		del((uintptr_t)q);
		add((uintptr_t)p, R_MEM);
	}
	return p;
}

void
__wrap_free(void *p)
{
	del((uintptr_t)p);
	__real_free(p);
}

char *
__wrap_strdup(const char *s)
{
	char *p = __real_strdup(s);
	add((uintptr_t)p, R_MEM);
	return p;
}

char *
__wrap_strndup(const char *s, size_t n)
{
	char *p = __real_strndup(s, n);
	add((uintptr_t)p, R_MEM);
	return p;
}

int
__wrap_vasprintf(char **s, const char *fmt, va_list ap)
{
	int r = __real_vasprintf(s, fmt, ap);
	if (r >= 0)
		add((uintptr_t)*s, R_MEM);
	return r;
}

int
__wrap_asprintf(char **s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __wrap_vasprintf(s, fmt, ap);
	va_end(ap);
	return r;
}

FILE *
__wrap_fopen(const char *path, const char *mode)
{
	FILE *f = __real_fopen(path, mode);
	add((uintptr_t)f, R_FILE);
	return f;
}

FILE *
__wrap_fdopen(int fd, const char *mode)
{
	FILE *f = __real_fdopen(fd, mode);
	if (f) {
		del((uintptr_t)fd << 1 | 1);    /* the FILE owns it now */
		add((uintptr_t)f, R_FILE);
	}
	return f;
}

int
__wrap_fclose(FILE *f)
{
	del((uintptr_t)f);
	return __real_fclose(f);
}

int
__wrap_open(const char *path, int flags, ...)
{
	int mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	int fd = __real_open(path, flags, mode);
	if (fd >= 0)
		add((uintptr_t)fd << 1 | 1, R_FD);
	return fd;
}

int
__wrap_close(int fd)
{
	if (fd >= 0)
		del((uintptr_t)fd << 1 | 1);
	return __real_close(fd);
}

DIR *
__wrap_opendir(const char *path)
{
	DIR *d = __real_opendir(path);
	add((uintptr_t)d, R_DIR);
	return d;
}

DIR *
__wrap_fdopendir(int fd)
{
	DIR *d = __real_fdopendir(fd);
	if (d) {
		del((uintptr_t)fd << 1 | 1);
		add((uintptr_t)d, R_DIR);
	}
	return d;
}

int
__wrap_closedir(DIR *d)
{
	del((uintptr_t)d);
	return __real_closedir(d);
}

XXH64_state_t *
__wrap_XXH64_createState(void)
{
	XXH64_state_t *s = __real_XXH64_createState();
	add((uintptr_t)s, R_XXH);
	return s;
}

XXH_errorcode
__wrap_XXH64_freeState(XXH64_state_t *s)
{
	del((uintptr_t)s);
	return __real_XXH64_freeState(s);
}

int
fz_memfile(const uint8_t *data, size_t n, char *path)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, data + off, n - off);
		if (w <= 0) {
			perror("memfd write");
			abort();
		}
		off += (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

void
fz_tmpdir(char *path, const char *what)
{
	struct stat st;
	const char *base = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) &&
	                   !access("/dev/shm", W_OK) ? "/dev/shm" : "/tmp";

	snprintf(path, 64, "%s/fuzz-%s-XXXXXX", base, what);
	if (!mkdtemp(path)) {
		perror(path);
		abort();
	}
}

FILE *
fz_memopen(const void *p, size_t n)
{
	static char empty[1];
	FILE *f = fmemopen(n ? (void *)p : empty, n ? n : 1, "r");

	if (!f) {
		perror("fmemopen");
		abort();
	}
	if (!n)
		fgetc(f);       /* fmemopen wants a size: skip the one byte */
	return f;
}

_Noreturn void
fz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}
