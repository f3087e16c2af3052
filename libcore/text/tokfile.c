/* tokfile.c: the .tok format and token escaping (see tokfile.h). */
#include <stdlib.h>
#include <string.h>

#include "text/tokfile.h"
#include "core/util.h"

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
