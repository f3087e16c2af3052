/* buf.h: a growable byte buffer, and reading a line of any length into
 * one (every layer of libcore uses both). */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdio.h>

/* A growable byte buffer: p[0..n) used, cap allocated. */
struct buf {
	char *p;
	size_t n, cap;
};
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
static inline void buf_addc(struct buf *b, char c)
{ if (b->n + 1 > b->cap) buf_grow(b, 1); b->p[b->n++] = c; }
void buf_adds(struct buf *b, const char *s);
void buf_free(struct buf *b);

/* Read one line (any length) into line; returns 0 at EOF, 1 otherwise.
 * Dies on a read error. */
int read_line(FILE *f, const char *name, struct buf *line);
/* Read all of fd into b (appending); dies with path on error. */
void read_all(int fd, const char *path, struct buf *b);

#endif
