/* tokfile.c: the .tok reader (read_line, tokdoc_parse, tok_unescape) on
 * any bytes, and the escaping it inverts: for every line x, unescaping
 * the escaped x gives x back (spaces aside, which tok_escape turns into
 * U+2581 by design), and an escaped x has no byte that would break a line
 * or a field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "text/tokfile.h"

static void
roundtrip(const char *x, size_t n)
{
	struct buf e = {0};
	tok_escape(&e, x, n);
	for (size_t i = 0; i < e.n; i++)
		FZ_ASSERT(e.p[i] != '\n' && e.p[i] != '\t' && e.p[i] != '\r' &&
		          e.p[i] != ' ');
	if (!n)
		return;
	if (!memchr(x, ' ', n)) {
		size_t m = tok_unescape(e.p, e.n);
		FZ_ASSERT(m == n && !memcmp(e.p, x, n));
	}
	if (!memchr(x, 0, n)) {         /* a field: spaces stay */
		char *z = strndup(x, n);
		e.n = 0;
		tok_field_escape(&e, z);
		for (size_t i = 0; i < e.n; i++)
			FZ_ASSERT(e.p[i] != '\n' && e.p[i] != '\t' &&
			          e.p[i] != '\r');
		size_t m = tok_unescape(e.p, e.n);
		FZ_ASSERT(m == n && !memcmp(e.p, x, n));
		free(z);
	}
	buf_free(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fz_memopen(data, size);
	struct buf line = {0};
	struct tokdoc d = {0};

	while (read_line(f, "fuzz.tok", &line)) {
		FZ_ASSERT(!memchr(line.p, '\n', line.n));
		roundtrip(line.p, line.n);
		buf_addc(&line, 0);
		if (tokdoc_parse(&d, line.p) < 0)
			continue;
		FZ_ASSERT(d.split && d.label);
		FZ_ASSERT(!strchr(d.split, '\t') && !strchr(d.label, '\t'));
		for (size_t i = 0; i < d.ntok; i++) {
			size_t n = strlen(d.tok[i]);
			FZ_ASSERT(n > 0 && !strchr(d.tok[i], ' '));
			FZ_ASSERT(tok_unescape(d.tok[i], n) <= n);
		}
	}
	tokdoc_free(&d);
	buf_free(&line);
	fclose(f);
	return 0;
}
