/* tokpool.h: tokenize documents on n threads, write .tok lines in input
 * order.  The caller's thread reads documents into batches and writes
 * finished batches in order; n workers tokenize (n = 1: no threads, the
 * caller tokenizes).  At most 2n+2 batches exist at once, so memory is
 * bounded by the documents in flight, not by the input. */
#ifndef TOKPOOL_H
#define TOKPOOL_H

#include <stddef.h>

#include "text/tokenizer.h"
#include "text/tokfile.h"
#include "core/util.h"

struct tokpool;

/* lens: also write each document's token count, a line each (or NULL).
 * Write errors die with the output's path.  Calls tok_init(). */
struct tokpool *tokpool_new(const struct tok_opts *o, int nthread,
                            struct out *out, struct out *lens);
/* Start a document: append its text to the returned buffer, then call
 * tokpool_end(); newlines: translate \r\n (a file's bytes). */
struct buf *tokpool_begin(struct tokpool *p, const char *split,
                          const char *label);
size_t tokpool_end(struct tokpool *p, int newlines);  /* the doc's bytes */
/* Tokenize and write everything pending, stop the workers, free p. */
void tokpool_finish(struct tokpool *p);

#endif
