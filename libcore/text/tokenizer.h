/* tokenizer.h: fastai's default text pipeline for one document (spec §1).
 *
 *   raw UTF-8 -> sanitize -> 8 pre-rules -> spaCy blank("en") words
 *             -> replace_space -> tokens
 *
 * tok_init() compiles everything once (thread-safe, idempotent); then each
 * thread owns a struct tok_ctx (regex match data, scratch buffers) and
 * calls tok_doc() per document.  Span tokenizations are cached, as spaCy
 * does, in one bounded cache all threads share.  Nothing here writes to
 * stdout or exits except on a bug. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokfile.h"

/* The pre-rules, in the order fastai applies them (defaults.text_proc_rules). */
enum tok_rule {
	TOK_FIX_HTML, TOK_REPLACE_REP, TOK_REPLACE_WREP, TOK_SPEC_ADD_SPACES,
	TOK_RM_USELESS_SPACES, TOK_REPLACE_ALL_CAPS, TOK_REPLACE_MAJ,
	TOK_LOWERCASE, TOK_NRULES
};
#define TOK_RULES_ALL ((1u << TOK_NRULES) - 1)

struct sp_model;
struct tok_opts {
	unsigned rules;     /* bit r set: apply pre-rule r (order is fixed) */
	int bos, eos;       /* lowercase's add_bos / add_eos (fastai: 1, 0) */
	int replace_space;  /* post-rule: ' ' in a token -> U+2581.  fastai
	                       skips it on the single-string (predict) path */
	int newlines;       /* "\r\n" and "\r" -> "\n" first, as Python's text
	                       mode does when fastai reads a file */
	/* fastai's SubwordTokenizer: after the pre-rules, SentencePiece's
	 * EncodeAsPieces with this model (sp.h) instead of spaCy's words */
	const struct sp_model *sp;
	/* no tokenizer: the text after the pre-rules is the result, one
	 * "token" that tok_write writes raw (what SentencePieceTokenizer.setup
	 * writes to its training file); tokpool writes it without fields */
	int text_only;
};
void tok_opts_default(struct tok_opts *o);   /* fastai's batch path */

const char *tok_rule_name(int r);            /* "fix_html", ... */
int tok_rule_by_name(const char *name);      /* -1 if unknown */

void tok_init(void);

struct tok_ctx;
struct tok_ctx *tok_ctx_new(void);           /* calls tok_init() */
void tok_ctx_free(struct tok_ctx *c);

/* Tokenize one document of n bytes (any bytes: invalid UTF-8 and NUL
 * become U+FFFD).  Returns the token count; tok_token() reads them until
 * the next call on c. */
size_t tok_doc(struct tok_ctx *c, const struct tok_opts *o,
               const char *text, size_t n);
/* spaCy alone (no pre-rules, no post-rule): spec's "spacy_only". */
size_t tok_spacy_only(struct tok_ctx *c, const char *text, size_t n);
const char *tok_token(const struct tok_ctx *c, size_t i, size_t *len);
/* The tokens of the last call, .tok-escaped and space-separated. */
void tok_write(const struct tok_ctx *c, struct buf *out);

/* Building blocks, exposed for tests and other tools.  They append to out.
 * tok_sanitize: invalid UTF-8 -> U+FFFD per maximal invalid subpart (as
 * Python's errors="replace"), NUL -> U+FFFD.  The rest expect valid
 * UTF-8 (what tok_sanitize produces). */
void tok_sanitize(struct buf *out, const char *s, size_t n);
int tok_utf8_clean(const char *s, size_t n);  /* 1: valid, no NUL */
void tok_newlines(struct buf *out, const char *s, size_t n);
void tok_apply_rule(int rule, const struct tok_opts *o, struct buf *out,
                    const char *s, size_t n);
void tok_html_unescape(struct buf *out, const char *s, size_t n);

#endif
