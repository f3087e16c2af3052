/* tokfile.h: the .tok text format and token escaping.
 *
 * One document per line:  split TAB label TAB tok1 SP tok2 ... NL
 * Inside a field or token: backslash, newline, tab and carriage return are
 * written \\ \n \t \r, and a space inside a token is U+2581 (as fastai's
 * replace_space).  The vocab file uses the same escaping, one token a line. */
#ifndef TOKFILE_H
#define TOKFILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"

/* Append token t (n bytes, raw) to b, escaped; spaces become U+2581. */
void tok_escape(struct buf *b, const char *t, size_t n);
/* Append field s (split or label; NUL-terminated) escaped as tok_escape
 * does, except that spaces stay spaces. */
void tok_field_escape(struct buf *b, const char *s);
/* Write s to f as a TSV field escaped as tok_escape does (names, labels). */
void tsv_write_str(FILE *f, const char *s);
/* Write s to f as a JSON string, quotes included. */
void json_write_str(FILE *f, const char *s);
/* Unescape in place; returns the new length.  Unknown escapes are kept. */
size_t tok_unescape(char *s, size_t n);

/* A parsed .tok line.  Fields point into the line buffer (escaped form;
 * tokens are escaped strings, which is what the vocab stores too). */
struct tokdoc {
	char *split, *label;
	char **tok;
	size_t ntok, cap;
};
/* Parse line (NUL-terminated, no trailing newline) in place.  Returns 0,
 * -1 if the line lacks the two tabs of the format, or -2 if a third, raw
 * TAB follows them (tokens write TAB as \t; a raw one means two lines
 * were merged or the file was edited by hand). */
int tokdoc_parse(struct tokdoc *d, char *line);
void tokdoc_free(struct tokdoc *d);

#endif
