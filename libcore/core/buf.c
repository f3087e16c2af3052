/* buf.c: growable byte buffers and whole lines (see buf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"

void
buf_grow(struct buf *b, size_t extra)
{
	size_t want = b->n + extra;

	if (want <= b->cap)
		return;
	b->cap = b->cap ? b->cap : 64;
	while (b->cap < want)
		b->cap *= 2;
	b->p = xrealloc(b->p, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;         /* b->p may still be NULL: no memcpy from/to it */
	buf_grow(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int
read_line(FILE *f, const char *name, struct buf *line)
{
	int c;

	line->n = 0;
	while ((c = getc_unlocked(f)) != EOF && c != '\n')
		buf_addc(line, (char)c);
	if (ferror(f))
		die("%s: read error:", name);
	buf_addc(line, 0);
	line->n--;
	if (c == '\n')
		return 1;
	return line->n > 0;
}

void
read_all(int fd, const char *path, struct buf *b)
{
	for (;;) {
		buf_grow(b, 1 << 16);
		ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("%s:", path);
		}
		if (r == 0)
			break;
		b->n += (size_t)r;
	}
}
