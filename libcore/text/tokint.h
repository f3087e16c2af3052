/* tokint.h: internals shared by libcore/tok*.c (not a public API).
 * Strings are valid UTF-8 (tok_sanitize makes them so) with explicit
 * lengths: NUL never ends anything here. */
#ifndef TOKINT_H
#define TOKINT_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokfile.h"

/* Code point at p (valid UTF-8); *len gets its byte length. */
static inline uint32_t
u8_get(const unsigned char *p, int *len)
{
	uint32_t c = p[0];

	if (c < 0x80) { *len = 1; return c; }
	if (c < 0xE0) { *len = 2; return (c & 0x1F) << 6 | (p[1] & 0x3F); }
	if (c < 0xF0) {
		*len = 3;
		return (c & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F);
	}
	*len = 4;
	return (c & 0x07) << 18 | (p[1] & 0x3F) << 12 | (p[2] & 0x3F) << 6 |
	       (p[3] & 0x3F);
}

static inline int
u8_put(char *o, uint32_t c)
{
	if (c < 0x80) { o[0] = (char)c; return 1; }
	if (c < 0x800) {
		o[0] = (char)(0xC0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | c >> 12);
		o[1] = (char)(0x80 | (c >> 6 & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | c >> 18);
	o[1] = (char)(0x80 | (c >> 12 & 0x3F));
	o[2] = (char)(0x80 | (c >> 6 & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static inline void
buf_addcp(struct buf *b, uint32_t c)
{
	buf_grow(b, 4);
	b->n += u8_put(b->p + b->n, c);
}

/* Character classes, all from utf8proc (filled by tok_classes_init). */
enum { CC_SPACE = 1, CC_WORD = 2 };
extern unsigned char tok_bmp_class[0x10000];
void tok_classes_init(void);
int tok_class_astral(uint32_t c);
static inline int
cp_class(uint32_t c)
{
	return c < 0x10000 ? tok_bmp_class[c] : tok_class_astral(c);
}
/* Python str.isspace() */
static inline int cp_isspace(uint32_t c) { return cp_class(c) & CC_SPACE; }
/* Python re \w (str.isalnum() or '_') */
static inline int cp_isword(uint32_t c) { return cp_class(c) & CC_WORD; }

/* Python str.lower() of s[0..n) appended to out (full mapping: U+0130
 * becomes "i" U+0307; capital sigma is final sigma in context). */
void tok_lower(struct buf *out, const char *s, size_t n);

/* Fused passes, equal to the rules in sequence (see tokrules.c):
 * replace_all_caps + replace_maj; those two + lowercase; spec_add_spaces +
 * rm_useless_spaces. */
struct tok_opts;
void tok_case_rules(struct buf *out, const char *s, size_t n);
void tok_case_lower(struct buf *out, const struct tok_opts *o, const char *s,
                    size_t n);
void tok_spaces(struct buf *out, const char *s, size_t n);

/* The spaCy part (tokspacy.c).  A token is a slice of the pre-processed
 * text; sp says one U+0020 followed it and was absorbed (spaCy's
 * Token.whitespace_), which the merge pass needs. */
struct tok_span { uint32_t off, len; uint8_t sp; };
struct tok_spacy;                                    /* per thread */
struct tok_spacy *tok_spacy_new(void);
void tok_spacy_free(struct tok_spacy *s);
/* Tokenize text[0..n) (special cases on, merge pass on).  Returns the
 * number of tokens; *out points into s, valid until the next call. */
size_t tok_spacy_run(struct tok_spacy *s, const char *text, size_t n,
                     const struct tok_span **out);
void tok_spacy_global_init(void);

#endif
