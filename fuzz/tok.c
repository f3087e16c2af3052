/* tok.c: the tokenizer (fastai's pre-rules, spaCy's rules, sanitising)
 * on any bytes.  Byte 0 picks the pre-rules, byte 1 the other options;
 * the rest is the document.  Never dies: a die here is a finding. */
#include <string.h>

#include "fuzz.h"
#include "text/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	tok_init();
	return 0;
}

/* A .tok line's tokens: no raw newline, tab or CR, no empty token. */
static void
check_written(const struct buf *b)
{
	for (size_t i = 0; i < b->n; i++)
		FZ_ASSERT(b->p[i] != '\n' && b->p[i] != '\t' && b->p[i] != '\r');
	for (size_t i = 0; i + 1 < b->n; i++)
		FZ_ASSERT(!(b->p[i] == ' ' && b->p[i + 1] == ' '));
	FZ_ASSERT(!b->n || (b->p[0] != ' ' && b->p[b->n - 1] != ' '));
}

static void
check_tokens(struct tok_ctx *c, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		size_t len;
		const char *t = tok_token(c, i, &len);
		FZ_ASSERT(t && len > 0);
		FZ_ASSERT(tok_utf8_clean(t, len));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct tok_opts o;
	tok_opts_default(&o);
	o.rules = data[0] & TOK_RULES_ALL;
	o.bos = data[1] & 1;
	o.eos = data[1] >> 1 & 1;
	o.replace_space = data[1] >> 2 & 1;
	o.newlines = data[1] >> 3 & 1;
	const char *text = (const char *)data + 2;
	size_t n = size - 2;

	struct tok_ctx *c = tok_ctx_new();
	struct buf out = {0}, san = {0}, r = {0};

	check_tokens(c, tok_doc(c, &o, text, n));
	tok_write(c, &out);
	check_written(&out);
	out.n = 0;
	check_tokens(c, tok_spacy_only(c, text, n));
	tok_write(c, &out);
	check_written(&out);

	/* the building blocks keep text valid UTF-8 without NUL */
	tok_sanitize(&san, text, n);
	FZ_ASSERT(tok_utf8_clean(san.p, san.n));
	FZ_ASSERT(tok_utf8_clean(text, n) == (san.n == n &&
	          (!n || !memcmp(san.p, text, n))));
	tok_newlines(&r, san.p, san.n);
	FZ_ASSERT(tok_utf8_clean(r.p, r.n));
	r.n = 0;
	tok_html_unescape(&r, san.p, san.n);
	FZ_ASSERT(tok_utf8_clean(r.p, r.n));
	for (int k = 0; k < TOK_NRULES; k++) {
		r.n = 0;
		tok_apply_rule(k, &o, &r, san.p, san.n);
		FZ_ASSERT(tok_utf8_clean(r.p, r.n));
	}
	buf_free(&out);
	buf_free(&san);
	buf_free(&r);
	tok_ctx_free(c);
	return 0;
}
