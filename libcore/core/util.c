/* util.c: messages, exits, checked allocation, atomic outputs and cleanup
 * (see util.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

const char *argv0 = "ulmfit";

void
vwarn(const char *fmt, va_list ap)
{
	int e = errno;
	size_t n = strlen(fmt);

	fflush(stdout);
	fprintf(stderr, "%s: ", argv0);
	vfprintf(stderr, fmt, ap);
	if (n && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(e));
	fputc('\n', stderr);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

static char note[512];

void
die_note(const char *fmt, ...)
{
	va_list ap;

	note[0] = 0;
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(note, sizeof note, fmt, ap);
	va_end(ap);
}

_Noreturn void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	if (note[0])
		fprintf(stderr, "%s: %s\n", argv0, note);
	exit(1);
}

_Noreturn void
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(2);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

#define BIG_ALIGN ((size_t)2 << 20)

void *
big_alloc(size_t n)
{
	size_t len = (n + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1);
	if (!n || len < n || len + BIG_ALIGN < len)
		return NULL;
	char *raw = mmap(NULL, len + BIG_ALIGN, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	char *p = (char *)(((uintptr_t)raw + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (raw + BIG_ALIGN > p)
		munmap(p + len, raw + BIG_ALIGN - p);
#ifdef MADV_HUGEPAGE
	madvise(p, len, MADV_HUGEPAGE);        /* advice: failure is fine */
#endif
	return p;
}

void
big_free(void *p, size_t n)
{
	if (p)
		munmap(p, (n + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1));
}

void *
xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1)))
		die("out of memory (%zu bytes)", n);
	return p;
}

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

FILE *
open_in(const char *path)
{
	struct stat st;
	FILE *f;

	if (!strcmp(path, "-"))
		return stdin;
	if (!(f = fopen(path, "rb")))
		die("%s:", path);
	/* fopen opens a directory for reading; say so now, not "read error" */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		die("%s:", path);
	}
	return f;
}

void
close_in(FILE *f, const char *path)
{
	if (ferror(f))
		die("%s: read error", path);
	if (f != stdin)
		fclose(f);
}

/* ---- atomic output ---------------------------------------------------- */

/* The pending list is read by a signal handler: a singly linked list whose
 * head is swapped in one store, with tmp names fixed before linking. */
static struct out *volatile pending;
static int cleanup_installed;

void
out_cleanup_all(void)
{
	for (struct out *o = pending; o; o = o->next)
		if (o->tmp)
			unlink(o->tmp);
}

static void
on_signal(int sig)
{
	out_cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
at_exit_cleanup(void)
{
	out_cleanup_all();
}

void
out_install_cleanup(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	struct sigaction sa, old;

	if (cleanup_installed)
		return;
	cleanup_installed = 1;
	atexit(at_exit_cleanup);
	/* Past ulimit -f a write then fails with EFBIG, and the error path
	 * removes the temp file; SIGXFSZ would kill us first and leave it. */
	if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGXFSZ, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		/* leave a handler the tool installed (or an ignored signal) alone */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_DFL)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

static void
unlink_pending(struct out *o)
{
	struct out **pp = (struct out **)&pending;

	for (; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
}

/* Removes path.tmp.PID files whose PID is no process: what a SIGKILL
 * between out_close's link and rename leaves.  Only called where O_TMPFILE
 * works (a local file system, where that window is the only way such a
 * file comes to be), so a live writer on another host is never touched. */
static void
remove_stale(const char *path)
{
	char *d = xstrdup(path), *b = xstrdup(path), *base = basename(b);
	const char *dir = dirname(d);
	size_t bl = strlen(base);
	DIR *dp = opendir(dir);
	struct dirent *e;

	while (dp && (e = readdir(dp))) {
		const char *p = e->d_name;
		char *end;
		long pid;
		if (strncmp(p, base, bl) || strncmp(p + bl, ".tmp.", 5))
			continue;
		p += bl + 5;
		if (*p < '1' || *p > '9')
			continue;
		errno = 0;
		pid = strtol(p, &end, 10);
		if (*end || errno || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char *full = xmalloc(strlen(dir) + strlen(e->d_name) + 2);
		sprintf(full, "%s/%s", dir, e->d_name);
		unlink(full);
		free(full);
	}
	if (dp)
		closedir(dp);
	free(d);
	free(b);
}

struct out *
out_open(const char *path, int binary)
{
	struct out *o = xcalloc(1, sizeof *o);
	struct stat st;
	int fd;

	o->path = xstrdup(path);
	if (!strcmp(path, "-")) {
		if (binary && isatty(STDOUT_FILENO))
			usage_error("refusing to write binary data to a terminal;"
			            " use -o FILE or a pipe");
		o->f = stdout;
		return o;
	}
	/* A device or fifo (-o /dev/null, /dev/stdout, a named pipe) is
	 * written in place: renaming a temp file onto it would replace the
	 * device node itself (as root) or fail. */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			die("%s:", path);
		if (binary && isatty(fd))
			usage_error("%s: refusing to write binary data to a "
			            "terminal; use -o FILE or a pipe", path);
		if (!(o->f = fdopen(fd, "wb")))
			die("%s:", path);
		return o;
	}
	out_install_cleanup();
	o->tmp = xmalloc(strlen(path) + 32);
	sprintf(o->tmp, "%s.tmp.%ld", path, (long)getpid());
	/* An unnamed file in the target's folder: a SIGKILL (no handler runs)
	 * then leaves nothing behind.  Where the file system has no O_TMPFILE
	 * (or /proc is not there to link it), NAME.tmp.PID as before. */
	char *dir = xstrdup(path);
	fd = access("/proc/self/fd", X_OK) == 0 ?
	     open(dirname(dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666) : -1;
	free(dir);
	o->anon = fd >= 0;
	if (o->anon)
		remove_stale(path);
	if (fd < 0 &&
	    (fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		die("%s:", path);
	if (!(o->f = fdopen(fd, "wb")))
		die("%s:", o->tmp);
	o->next = pending;
	pending = o;
	return o;
}

static void
out_free(struct out *o)
{
	free(o->path);
	free(o->tmp);
	free(o);
}

/* Gives the unnamed file its name: linked straight to path when there is
 * no such file yet (o->linked = 1), else linked to NAME.tmp.PID to be
 * renamed over it (o->linked = 2).  Returns -1 with errno set. */
static int
out_link(struct out *o)
{
	char fdp[64];
	snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fileno(o->f));
	if (linkat(AT_FDCWD, fdp, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0) {
		o->linked = 1;
		return 0;
	}
	if (errno != EEXIST)
		return -1;
	o->linked = 2;
	if (linkat(AT_FDCWD, fdp, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST || unlink(o->tmp) < 0)   /* ours, from a reused pid */
		return o->linked = 0, -1;
	if (linkat(AT_FDCWD, fdp, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return o->linked = 0, -1;
}

int
out_close(struct out *o)
{
	int bad = 0;

	if (fflush(o->f) == EOF || ferror(o->f)) {
		warn("%s:", o->path);
		bad = 1;
	}
	if (!o->tmp) {              /* stdout or a device: nothing to rename */
		if (o->f != stdout && fclose(o->f) == EOF && !bad) {
			warn("%s:", o->path);
			bad = 1;
		}
		out_free(o);
		return bad;
	}
	if (!bad && fsync(fileno(o->f)) < 0 && errno != EINVAL) {
		warn("%s: fsync:", o->path);
		bad = 1;
	}
	if (!bad && o->anon && out_link(o) < 0) {
		warn("%s:", o->path);
		bad = 1;
	}
	if (fclose(o->f) == EOF && !bad) {
		warn("%s:", o->path);
		bad = 1;
	}
	if (!bad && (!o->anon || o->linked == 2) &&
	    rename(o->tmp, o->path) < 0) {
		warn("%s:", o->path);
		bad = 1;
	}
	if (bad && o->linked == 1)     /* linked to its name, then failed */
		unlink(o->path);
	if (bad && (!o->anon || o->linked == 2))
		unlink(o->tmp);
	unlink_pending(o);
	out_free(o);
	return bad;
}

int
out_flush(struct out *o)
{
	if (fflush(o->f) == EOF || ferror(o->f)) {
		warn("%s:", o->path);
		return 1;
	}
	if (o->tmp && fsync(fileno(o->f)) < 0 && errno != EINVAL) {
		warn("%s: fsync:", o->path);
		return 1;
	}
	return 0;
}

void
out_abort(struct out *o)
{
	if (o->tmp) {
		fclose(o->f);
		if (!o->anon)
			unlink(o->tmp);
		unlink_pending(o);
	} else if (o->f != stdout)
		fclose(o->f);
	out_free(o);
}

/* ---- progress ------------------------------------------------------------ */

double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
progress_init(struct progress *p, const char *label, uint64_t total, int quiet)
{
	memset(p, 0, sizeof *p);
	p->label = label;
	p->total = total;
	p->on = !quiet && isatty(STDERR_FILENO);
	p->t0 = p->last = now_sec();
}

static void
progress_draw(struct progress *p, double t)
{
	double el = t - p->t0;

	if (p->total) {
		double f = (double)p->done / p->total;
		int w = 30, k = (int)(f * w + 0.5);
		if (k > w)
			k = w;
		fprintf(stderr, "\r%s [%.*s%*s] %5.1f%% %llu/%llu %02d:%02d",
		        p->label, k, "##############################", w - k, "",
		        100 * f, (unsigned long long)p->done,
		        (unsigned long long)p->total,
		        (int)el / 60, (int)el % 60);
		if (f > 0 && f < 1) {
			int eta = (int)(el / f - el);
			fprintf(stderr, " <%02d:%02d", eta / 60, eta % 60);
		}
	} else {
		fprintf(stderr, "\r%s %llu %02d:%02d", p->label,
		        (unsigned long long)p->done, (int)el / 60, (int)el % 60);
	}
	fputs("\033[K", stderr);
}

void
progress_set(struct progress *p, uint64_t done)
{
	double t;

	p->done = done;
	if (!p->on)
		return;
	t = now_sec();
	if (t - p->last < 0.1 && done != p->total)
		return;
	p->last = t;
	progress_draw(p, t);
}

void
progress_end(struct progress *p)
{
	if (!p->on)
		return;
	progress_draw(p, now_sec());
	fputc('\n', stderr);
	p->on = 0;
}

/* ---- option parsing ------------------------------------------------------ */

long
parse_long(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno)
		usage_error("%s: '%s' is not an integer", what, s);
	if (v < lo || v > hi)
		usage_error("%s: %ld is out of range [%ld, %ld]", what, v, lo, hi);
	return v;
}

double
parse_double(const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		usage_error("%s: '%s' is not a number", what, s);
	return v;
}

void
parse_lr(const char *s, const char *what, double *lo, double *hi)
{
	const char *colon = strchr(s, ':');

	if (!colon) {
		*lo = *hi = parse_double(s, what);
	} else {
		char *a = xstrdup(s);
		a[colon - s] = 0;
		*lo = *a ? parse_double(a, what) : 0;
		*hi = parse_double(colon + 1, what);
		free(a);
	}
	if (*hi <= 0 || *lo < 0 || *lo > *hi)
		usage_error("%s: '%s': want LR, LO:HI or :HI with 0 < LO <= HI",
		            what, s);
}

void
parse_moms(const char *s, const char *what, double m[3])
{
	char *a = xstrdup(s), *save = NULL, *t;
	int k = 0;
	for (t = strtok_r(a, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (k == 3)
			usage_error("%s: want three numbers a,b,c", what);
		m[k++] = parse_double(t, what);
	}
	free(a);
	if (k != 3)
		usage_error("%s: want three numbers a,b,c", what);
}

const char *
kv_find(const char *lines, const char *key, size_t *len)
{
	size_t kl = strlen(key);

	for (const char *l = lines; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t ll = nl ? (size_t)(nl - l) : strlen(l);
		if (ll > kl && !strncmp(l, key, kl) && l[kl] == '=') {
			*len = ll - kl - 1;
			return l + kl + 1;
		}
		l += ll + (nl != NULL);
	}
	return NULL;
}
