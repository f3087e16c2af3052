/* gpt2run.h: infer --gpt2 on top of the model (gpt2.h) and GPT-2's
 * byte-level BPE (bpe.h). */
#ifndef GPT2RUN_H
#define GPT2RUN_H

#include <stdint.h>
#include <stdio.h>

#include "text/bpe.h"

/* ---- infer --gpt2 ---------------------------------------------------- */
struct gpt2_opts {
	int n;                  /* tokens to generate (default 1) */
	double temp;            /* 0: greedy (unless top_k) */
	int top_k;              /* 0: all */
	int json;
	int quiet;
	uint64_t seed;
};

/* --encode / --decode: stdin lines to ids / ids to text on stdout.
 * Returns the exit status. */
int gpt2_encode_lines(struct bpe *b, FILE *in, FILE *out);
int gpt2_decode_lines(struct bpe *b, FILE *in, FILE *out);
/* Complete each prompt (texts, or stdin lines when n == 0): prints
 * prompt + completion per line, or one JSON object per prompt. */
int gpt2_complete(const char *dir, const char *const *texts, int n,
                  const struct gpt2_opts *o);

#endif
