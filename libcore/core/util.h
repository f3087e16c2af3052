/* util.h: messages, exits, allocation, atomic output files, progress.
 *
 * Every tool follows one contract: data on stdout (or -o), messages on
 * stderr as "tool: file: reason", exit 0 ok / 1 error / 2 usage.  "-" is
 * stdin or stdout.  Outputs are written to an unnamed file (O_TMPFILE) in
 * the target's folder, fsync'd and then named (see out_open), so an error, a
 * die(), a signal, a full disk or a SIGKILL never leaves a half file. */
#ifndef UTIL_H
#define UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern const char *argv0;       /* set by each tool's main() */

/* If fmt ends in ':', ": strerror(errno)" is appended. */
_Noreturn void die(const char *fmt, ...);        /* print, exit(1) */
/* A second line that every later die() prints ("tool: note"): what a
 * failure leaves behind, e.g. which checkpoint a trainer last wrote.
 * NULL clears it. */
void die_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...);                 /* print, return */
void vwarn(const char *fmt, va_list ap);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* n bytes of zero memory for a large block (model arenas, checkpoints):
 * fresh anonymous pages, 2 MiB aligned and in 2 MiB pages where the kernel
 * has them (MADV_HUGEPAGE).  Nothing is touched: a page costs only when
 * first used.  (On this project's VMs a first touch of a 4 KiB page is
 * expensive; one 2 MiB page instead of 512 made loading a 177 MB
 * checkpoint ~10x faster.)  NULL when out of memory. */
void *big_alloc(size_t n);
void big_free(void *p, size_t n);
char *xstrdup(const char *s);

/* Input: "-" is stdin.  Dies with "tool: path: reason" on failure. */
FILE *open_in(const char *path);
void close_in(FILE *f, const char *path);   /* dies on a read error */

/* Atomic output.  path "-" means stdout (then nothing is renamed).  With
 * binary set, a terminal is refused (binary data on a tty helps nobody).
 * A device or fifo is written in place.  A regular file is written to an
 * unnamed O_TMPFILE file in path's folder; out_close() flushes, fsyncs and
 * links it to path (linkat through /proc/self/fd) when path does not exist,
 * or to path.tmp.PID and renames that over path.  Where the file system
 * has no O_TMPFILE, path.tmp.PID is written from the start.  out_close()
 * returns 0, or prints why it failed, removes the temp file and returns 1.
 * out_abort() drops the temp file.  A named temp file is removed at exit()
 * and on SIGINT, SIGTERM, SIGHUP and SIGPIPE; SIGXFSZ is ignored, so past
 * ulimit -f a write fails (EFBIG) and the tool's error path runs.  Only a
 * SIGKILL in the instant between the link and the rename (or anywhere on a
 * file system without O_TMPFILE) can leave a path.tmp.PID; the next
 * out_open of path removes such files whose PID is no longer a process
 * (where O_TMPFILE works, i.e. on a local file system). */
struct out {
	FILE *f;
	char *path;      /* final name, or "-" */
	char *tmp;       /* temp name, NULL for stdout and devices */
	int anon;        /* written to an unnamed O_TMPFILE file */
	int linked;      /* out_close: 1 linked to path, 2 to tmp */
	struct out *next;
};
struct out *out_open(const char *path, int binary);
int out_close(struct out *o);
void out_abort(struct out *o);
/* Flush and fsync without renaming; prints why and returns 1 on failure.
 * A tool with two outputs flushes both before closing either, so a
 * failure in one (a full disk) leaves neither. */
int out_flush(struct out *o);
/* Register the cleanup handlers yourself when a tool installs its own
 * SIGINT handler (awdtrain saves a checkpoint first); out_open() calls it. */
void out_install_cleanup(void);
void out_cleanup_all(void);      /* async-signal-safe: unlinks temp files */

/* Progress on stderr, only when stderr is a terminal and not quiet.
 * total 0 means unknown (a counter is shown instead of a bar). */
struct progress {
	const char *label;
	uint64_t total, done;
	double t0, last;
	int on;
};
void progress_init(struct progress *p, const char *label, uint64_t total,
                   int quiet);
void progress_set(struct progress *p, uint64_t done);
void progress_end(struct progress *p);

double now_sec(void);            /* monotonic seconds */

/* Strict number parsing for options: dies with exit 2 on junk.
 * what names the option in the message, e.g. "-b". */
long parse_long(const char *s, const char *what, long lo, long hi);
double parse_double(const char *s, const char *what);
/* fastai-style lr: "1e-3" gives lo = hi = 1e-3; "lo:hi" gives both;
 * ":hi" gives lo = 0 (meaning fastai's slice(hi): hi/10 for earlier groups).
 * Returns 0, or dies with exit 2. */
void parse_lr(const char *s, const char *what, double *lo, double *hi);
/* fastai-style moms: "a,b,c", three numbers (one-cycle's start, middle
 * and end momentum).  Dies with exit 2 otherwise. */
void parse_moms(const char *s, const char *what, double m[3]);
_Noreturn void usage_error(const char *fmt, ...);  /* message, exit 2 */

/* In "key=value\n" lines, the value of key: a pointer into lines and its
 * length in *len, or NULL.  (Stream params and checkpoint metadata.) */
const char *kv_find(const char *lines, const char *key, size_t *len);

/* Little-endian helpers for formats. */
static inline void put_u16(unsigned char *p, uint16_t v)
{ p[0] = v; p[1] = v >> 8; }
static inline void put_u32(unsigned char *p, uint32_t v)
{ for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static inline void put_u64(unsigned char *p, uint64_t v)
{ for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static inline uint16_t get_u16(const unsigned char *p)
{ return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_u32(const unsigned char *p)
{ uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static inline uint64_t get_u64(const unsigned char *p)
{ uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

#endif
