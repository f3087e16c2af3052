/* generate.h: fastai's LMLearner.predict (spec §13): sample words after a
 * prompt, and decode_spec_tokens to turn tokens back into text.
 *
 * fastai re-runs the whole sequence from a zero state for every new word
 * (get_preds resets the model).  In eval mode that is the same maths as
 * carrying the state and feeding only the new word, which is what we do:
 * O(n) instead of O(n^2). */
#ifndef GENERATE_H
#define GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "model/lm.h"
#include "core/rng.h"
#include "text/tokfile.h"
#include "data/vocab.h"

struct gen_opts {
	int n_words;            /* words to add (fastai n_words=1) */
	double temperature;     /* p <- p^(1/temperature) when != 1 */
	int no_unk;             /* p[xxunk] = 0 (fastai default on) */
	double min_p;           /* > 0: zero every p < min_p, unless that
	                           would zero everything (then warn, skip) */
};
void gen_opts_default(struct gen_opts *o);

/* Prompt ids (n >= 1; fastai's begin with xxbos) then o->n_words sampled
 * ids into out (n + n_words entries; out may not alias prompt).  probs is
 * scratch for V doubles.  Returns how many times min_p had to be ignored.
 * The model must have been created with maxB >= 1; a prompt longer than
 * its maxT is fed in pieces (the state carries). */
int lm_generate(struct lm *lm, const uint32_t *prompt, size_t n,
                const struct gen_opts *o, struct rng *r, uint32_t *out,
                double *probs, float *logits);

/* Sample an index from p[0..n) (unnormalised, >= 0) after the no_unk,
 * min_p and temperature steps above (p is modified).  Returns the index;
 * *warned is set when min_p was ignored. */
uint32_t gen_sample(double *p, size_t n, const struct gen_opts *o,
                    struct rng *r, int *warned);

/* decode_spec_tokens on raw (unescaped) tokens, joined by single spaces
 * into out:  xxmaj w -> W (first letter up, the rest down), xxup w -> W in
 * capitals, xxrep n c -> c repeated n times, xxwrep n w -> n copies of w.
 * Two differences from fastai, both bugs there: a rule ends after its
 * expansion (fastai never clears xxrep/xxwrep, so every later token is
 * repeated too), and a count that is not an integer cancels the rule but
 * keeps that token (fastai drops it). */
void decode_spec_tokens(const char *const *tok, size_t n, struct buf *out);

/* The text of ids, as fastai's predict returns it: every token but xxbos
 * and xxpad, unescaped, through decode_spec_tokens. */
void gen_text(const struct vocab *v, const uint32_t *ids, size_t n,
              struct buf *out);

#endif
