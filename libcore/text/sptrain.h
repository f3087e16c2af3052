/* sptrain.h: fastai's SentencePieceTokenizer.setup/train over a file of
 * training texts (the pre-rules' output, a text per line, as setup writes
 * its texts.out): the vocab size rule of _get_vocab_sz, then
 * SentencePieceTrainer with fastai's options (sp.h). */
#ifndef SPTRAIN_H
#define SPTRAIN_H

#include <stddef.h>
#include <stdio.h>

struct sptrain_opts {
	long vocab_sz;          /* 0: fastai's rule (sptrain_vocab_size) */
	long max_vocab_sz;      /* fastai's max_vocab_sz: 30000 */
	const char *coverage;   /* character_coverage: "0.99999" (EU langs) */
	const char *model_type; /* "unigram" */
};
void sptrain_opts_default(struct sptrain_opts *o);

/* _get_vocab_sz: distinct whitespace-separated words (Python's
 * str.split()) over the lines of f, // 4, rounded up to a multiple of 8,
 * at least 29; max_vocab_sz as soon as words // 4 passes it.  Reads f
 * from the start; name is for messages. */
long sptrain_vocab_size(FILE *f, const char *name, long max_vocab_sz);

/* Train on the lines of f (from the start; each line one sentence, as
 * SentencePiece reads a text file) with vocab_size vocab_sz.  Returns
 * the model's bytes (malloc'd, *n bytes); dies with "name: SentencePiece
 * training failed: the library's reason" on failure (name: the model to
 * be written).  *nlines gets the number of lines read. */
char *sptrain_run(FILE *f, const char *name, const struct sptrain_opts *o,
                  long vocab_sz, size_t *n, size_t *nlines);

#endif
