#include <stdlib.h>
#include <string.h>

#include "tokfile.h"
#include "util.h"

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

void
tok_escape(struct buf *b, const char *t, size_t n)
{
	buf_grow(b, n);
	for (size_t i = 0; i < n; i++)
		switch (t[i]) {
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case ' ':  buf_add(b, "\xe2\x96\x81", 3); break;  /* U+2581 */
		default:   buf_addc(b, t[i]);
		}
}

size_t
tok_unescape(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			char c = s[i + 1];
			char r = c == 'n' ? '\n' : c == 't' ? '\t' :
			         c == 'r' ? '\r' : c == '\\' ? '\\' : 0;
			if (r) {
				s[o++] = r;
				i++;
				continue;
			}
		}
		s[o++] = s[i];
	}
	if (o < n)
		s[o] = 0;
	return o;
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

int
tokdoc_parse(struct tokdoc *d, char *line)
{
	char *t1 = strchr(line, '\t'), *t2, *p;

	if (!t1 || !(t2 = strchr(t1 + 1, '\t')))
		return -1;
	if (strchr(t2 + 1, '\t'))
		return -2;      /* a raw TAB among the tokens: lines merged */
	*t1 = *t2 = 0;
	d->split = line;
	d->label = t1 + 1;
	d->ntok = 0;
	for (p = t2 + 1; *p;) {
		char *sp = strchr(p, ' ');
		if (d->ntok == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 256;
			d->tok = xrealloc(d->tok, d->cap * sizeof *d->tok);
		}
		if (sp)
			*sp = 0;
		if (*p)           /* tolerate doubled spaces: no empty tokens */
			d->tok[d->ntok++] = p;
		if (!sp)
			break;
		p = sp + 1;
	}
	return 0;
}

void
tokdoc_free(struct tokdoc *d)
{
	free(d->tok);
	memset(d, 0, sizeof *d);
}

void
tok_field_escape(struct buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		default:   buf_addc(b, *s);
		}
}

void
tsv_write_str(FILE *f, const char *s)
{
	struct buf b = {0};
	tok_escape(&b, s, strlen(s));
	fwrite(b.p, 1, b.n, f);
	buf_free(&b);
}

void
json_write_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			putc(ch, f);
	}
	putc('"', f);
}
