/* pretrained.h: fastai's pretrained language models (WT103) loaded into
 * a model of ours, as Learner.load_pretrained does it (spec §11.3):
 *
 *   1. load the weights (a legacy pre-1.6 or a zip .pth; a bare state
 *      dict or learn.save's {'model': ..., 'opt': ...}) and the old vocab
 *      (fastai's itos .pkl, or one of our vocab files: vocab_load);
 *   2. match_embeds: the embedding rows and decoder biases of the old
 *      vocab are put in the new vocab's order; a token absent from the
 *      old vocab gets the mean row (mean bias);
 *   3. clean_raw_keys: drop fastai v1's "X.module.Y" copies when the
 *      trainable "X.Y_raw" exists;
 *   4. load_ignore_keys: copy BY POSITION, the i-th tensor left in the
 *      file into the i-th parameter of the target, names ignored.
 * Freezing (fastai's learn.freeze() after loading) is the trainer's job.
 *
 * The target is a plain table of named float tensors, so any model's
 * parameter table plugs in (awd.h's lm_tensors() rows map one to one:
 * name, w, ndim, shape).  Rows sharing one pointer (tied weights) are
 * simply written once per row, in order, as load_state_dict does. */
#ifndef PRETRAINED_H
#define PRETRAINED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "torch/pth.h"
#include "data/vocab.h"

#define PRETRAINED_MAXDIM 4

/* One parameter of the target model, in its state-dict order. */
struct pretrained_param {
	const char *name;       /* for messages ("0.encoder.weight") */
	float *w;               /* numel floats, written in place */
	int ndim;
	int64_t shape[PRETRAINED_MAXDIM];
};

/* What load_pretrained did. */
struct pretrained_report {
	int legacy;             /* 1: pre-1.6 torch format */
	int wrapped;            /* 1: {'model': ...}, 0: a bare state dict */
	int file_keys;          /* tensors in the file's state dict */
	int raw_dropped;        /* removed by clean_raw_keys */
	int decoder_added;      /* no 1.decoder.weight in the file: match_embeds
	                           appends one (as fastai does) */
	int has_bias;           /* the file has 1.decoder.bias */
	uint32_t old_n, new_n;  /* vocab sizes */
	int64_t old_rows;       /* rows of the file's embedding (>= old_n) */
	uint32_t matched;       /* new tokens found in the old vocab */
	int64_t emb;            /* embedding width */
	int copied;             /* target rows filled (the first `copied`) */
	int unused;             /* file tensors past the target's end (a
	                           classifier's encoder leaves the decoder) */
	int untouched;          /* target rows past the file's end */
	char **keys;            /* the file keys after cleaning, in order */
	int nkeys;
};
void pretrained_report_free(struct pretrained_report *r);
/* A few lines for stderr; verbose adds one line per copied tensor
 * ("file key -> target name"). */
void pretrained_report_print(FILE *f, const char *wgts_name,
                             const struct pretrained_report *r,
                             const struct pretrained_param *dst,
                             int verbose);

/* fastai's clean_raw_keys on a list of state-dict keys: key k goes when
 * k with its last "module" component removed, plus "_raw", is also a key
 * ("0.rnns.1.module.weight_hh_l0" goes when "0.rnns.1.weight_hh_l0_raw"
 * exists).  keep[i] gets 1 or 0; returns how many were dropped. */
int pretrained_clean_raw_keys(const char *const *keys, int n,
                              unsigned char *keep);

/* fastai's match_embeds for one embedding matrix and its bias.
 * E (rows, D) and b (rows) (b may be NULL) are in old's order, rows >=
 * old->n; newE (nw->n, D) and newb (nw->n) (if b) get, for each token of
 * nw, the row of that token in old, or the mean of all rows of E (mean
 * of b).  A token found several times in old takes its last row
 * (fastai's dict); xxfake, the padding no text maps to, always takes the
 * mean.  Returns how many tokens of nw were found. */
uint32_t pretrained_match_embeds(const struct vocab *old,
                                 const struct vocab *nw, const float *E,
                                 const float *b, int64_t rows, int64_t D,
                                 float *newE, float *newb);

/* Steps 2-4 on a loaded file p (not modified): returns 0 and fills rep
 * (free it with pretrained_report_free), or -1 with *err a malloc'd
 * sentence naming the file and what to do; then dst is untouched (every
 * shape is checked before anything is written).  old_name names the old
 * vocab in messages (may be NULL). */
int pretrained_apply(const struct pth *p, const struct vocab *old,
                     const char *old_name, const struct vocab *nw,
                     const struct pretrained_param *dst, int ndst,
                     struct pretrained_report *rep, char **err);

/* The whole of fastai's load_pretrained(wgts, vocab): loads wgts_path
 * (.pth) and old_vocab_path (itos .pkl or vocab file), then
 * pretrained_apply.  Dies with the message on any problem. */
void pretrained_load(const char *wgts_path, const char *old_vocab_path,
                     const struct vocab *nw,
                     const struct pretrained_param *dst, int ndst,
                     struct pretrained_report *rep);

#endif
