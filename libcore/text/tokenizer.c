/* tokenizer.c: one document through fastai's pipeline (spec §1.2). */
#include <stdlib.h>
#include <string.h>

#include "text/sp.h"
#include "text/tokenizer.h"
#include "text/tokint.h"
#include "core/util.h"

static const char *const rule_names[TOK_NRULES] = {
	"fix_html", "replace_rep", "replace_wrep", "spec_add_spaces",
	"rm_useless_spaces", "replace_all_caps", "replace_maj", "lowercase",
};

struct tok_ctx {
	struct tok_spacy *sp;
	struct buf a, b;          /* the text between rules */
	struct buf out;           /* final token bytes */
	uint32_t *off, *len;      /* into out */
	size_t n, cap;
	const struct tok_span *spans;   /* the last result, slices of a */
	int replace_space, ready;
	int mode;                 /* of the last result: WORDS PIECES TEXT */
	struct sp_enc *spe;       /* SentencePiece scratch, on first use */
};
enum { WORDS, PIECES, TEXT };

void
tok_opts_default(struct tok_opts *o)
{
	o->rules = TOK_RULES_ALL;
	o->bos = 1;
	o->eos = 0;
	o->replace_space = 1;
	o->newlines = 0;
	o->sp = NULL;
	o->text_only = 0;
}

const char *
tok_rule_name(int r)
{
	return r >= 0 && r < TOK_NRULES ? rule_names[r] : NULL;
}

int
tok_rule_by_name(const char *name)
{
	for (int r = 0; r < TOK_NRULES; r++)
		if (!strcmp(name, rule_names[r]))
			return r;
	return -1;
}

void
tok_init(void)
{
	tok_classes_init();
	tok_spacy_global_init();
}

struct tok_ctx *
tok_ctx_new(void)
{
	struct tok_ctx *c = xcalloc(1, sizeof *c);

	tok_init();
	c->sp = tok_spacy_new();
	/* never a NULL .p: an empty text is still a valid pointer */
	buf_grow(&c->a, 4096);
	buf_grow(&c->b, 4096);
	buf_grow(&c->out, 4096);
	return c;
}

void
tok_ctx_free(struct tok_ctx *c)
{
	if (!c)
		return;
	tok_spacy_free(c->sp);
	sp_enc_free(c->spe);
	buf_free(&c->a);
	buf_free(&c->b);
	buf_free(&c->out);
	free(c->off);
	free(c->len);
	free(c);
}

static void
swap(struct tok_ctx *c)
{
	struct buf t = c->a;

	c->a = c->b;
	c->b = t;
}

/* spaCy over c->a; the tokens are slices of it until someone asks for
 * them one by one (materialize) */
static size_t
words(struct tok_ctx *c, int replace_space)
{
	c->n = tok_spacy_run(c->sp, c->a.p, c->a.n, &c->spans);
	c->replace_space = replace_space;
	c->ready = 0;
	c->mode = WORDS;
	return c->n;
}

/* SentencePiece over c->a: the pieces go straight to out/off/len, with
 * replace_space (a no-op on pieces, which spell a space U+2581, but
 * fastai applies it) */
static size_t
pieces(struct tok_ctx *c, const struct tok_opts *o)
{
	char err[256];
	long k;

	if (!c->spe && !(c->spe = sp_enc_new()))
		die("sentencepiece: out of memory");
	if ((k = sp_encode(o->sp, c->spe, c->a.p, c->a.n, err, sizeof err)) < 0)
		die("sentencepiece: %s", err);
	size_t n = (size_t)k;
	if (n > c->cap) {
		c->cap = n;
		c->off = xrealloc(c->off, n * sizeof *c->off);
		c->len = xrealloc(c->len, n * sizeof *c->len);
	}
	c->out.n = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *s = sp_piece(c->spe, i, &l);
		c->off[i] = (uint32_t)c->out.n;
		for (size_t j = 0; j < l; j++)
			if (s[j] == ' ' && o->replace_space)
				buf_add(&c->out, "\xE2\x96\x81", 3);
			else
				buf_addc(&c->out, s[j]);
		if (c->out.n > UINT32_MAX - 64)
			die("tokenizer: a document over 4 GB");
		c->len[i] = (uint32_t)(c->out.n - c->off[i]);
	}
	c->n = n;
	c->ready = 1;
	c->mode = PIECES;
	return n;
}

/* copy the tokens out, with replace_space when asked */
static void
materialize(struct tok_ctx *c)
{
	const struct tok_span *t = c->spans;
	size_t n = c->n;

	if (n > c->cap) {
		c->cap = n;
		c->off = xrealloc(c->off, n * sizeof *c->off);
		c->len = xrealloc(c->len, n * sizeof *c->len);
	}
	c->out.n = 0;
	buf_grow(&c->out, c->a.n);
	for (size_t i = 0; i < n; i++) {
		const char *s = c->a.p + t[i].off;
		c->off[i] = (uint32_t)c->out.n;
		if (!c->replace_space || !memchr(s, ' ', t[i].len)) {
			buf_add(&c->out, s, t[i].len);
		} else {
			for (uint32_t j = 0; j < t[i].len; j++)
				if (s[j] == ' ')
					buf_add(&c->out, "\xE2\x96\x81", 3);
				else
					buf_addc(&c->out, s[j]);
		}
		c->len[i] = (uint32_t)(c->out.n - c->off[i]);
	}
	c->ready = 1;
}

size_t
tok_doc(struct tok_ctx *c, const struct tok_opts *o, const char *text,
        size_t n)
{
	/* src is the current text: the input itself while it needs no
	 * repair, then c->a; each step writes into c->b and swaps */
	const char *src = text;
	size_t sn = n;

	if (!tok_utf8_clean(text, n)) {
		c->a.n = 0;
		tok_sanitize(&c->a, text, n);
		src = c->a.p, sn = c->a.n;
	}
	if (o->newlines && memchr(src, '\r', sn)) {
		c->b.n = 0;
		tok_newlines(&c->b, src, sn);
		swap(c);
		src = c->a.p, sn = c->a.n;
	}
	for (int r = 0; r < TOK_NRULES; r++) {
		if (!(o->rules >> r & 1))
			continue;
		if (src == c->b.p)         /* never write over the source */
			swap(c);
		c->b.n = 0;
		unsigned want = o->rules >> r;
		if (r == TOK_REPLACE_ALL_CAPS && (want & 7) == 7) {
			tok_case_lower(&c->b, o, src, sn);
			r += 2;
		} else if (r == TOK_REPLACE_ALL_CAPS && (want & 3) == 3) {
			tok_case_rules(&c->b, src, sn);
			r++;
		} else if (r == TOK_SPEC_ADD_SPACES && (want & 3) == 3) {
			tok_spaces(&c->b, src, sn);
			r++;
		} else {
			tok_apply_rule(r, o, &c->b, src, sn);
		}
		swap(c);
		src = c->a.p, sn = c->a.n;
	}
	if (src != c->a.p) {              /* no rule ran on clean input */
		c->a.n = 0;
		buf_add(&c->a, src, sn);
	}
	if (c->a.n > UINT32_MAX - 64)
		die("tokenizer: a document over 4 GB");
	if (o->text_only) {
		c->n = 1;
		c->ready = 0;
		c->mode = TEXT;
		return 1;
	}
	if (o->sp)
		return pieces(c, o);
	return words(c, o->replace_space);
}

size_t
tok_spacy_only(struct tok_ctx *c, const char *text, size_t n)
{
	c->a.n = 0;
	tok_sanitize(&c->a, text, n);
	return words(c, 0);
}

const char *
tok_token(const struct tok_ctx *cc, size_t i, size_t *len)
{
	struct tok_ctx *c = (struct tok_ctx *)cc;   /* lazily filled cache */

	if (c->mode == TEXT) {
		*len = c->a.n;
		return c->a.p;
	}
	if (!c->ready)
		materialize(c);
	*len = c->len[i];
	return c->out.p + c->off[i];
}

/* .tok escaping straight from the slices: tok_escape writes a space as
 * U+2581, which is replace_space */
void
tok_write(const struct tok_ctx *c, struct buf *out)
{
	if (c->mode == TEXT) {
		buf_add(out, c->a.p, c->a.n);
		return;
	}
	if (c->mode == PIECES) {
		for (size_t i = 0; i < c->n; i++) {
			if (i)
				buf_addc(out, ' ');
			tok_escape(out, c->out.p + c->off[i], c->len[i]);
		}
		return;
	}
	buf_grow(out, c->a.n + c->n + 16);
	for (size_t i = 0; i < c->n; i++) {
		const char *t = c->a.p + c->spans[i].off;
		size_t k, n = c->spans[i].len;
		if (i)
			buf_addc(out, ' ');
		for (k = 0; k < n; k++)
			if (t[k] <= ' ' || t[k] == '\\')
				break;
		if (k == n)
			buf_add(out, t, n);
		else
			tok_escape(out, t, n);
	}
}
