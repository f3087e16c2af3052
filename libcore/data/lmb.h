/* lmb.h: language-model batches (fastai LMDataLoader, spec §3.1) and the
 * batch stream (".lmb") that carries them from lmbatch to awdtrain.
 *
 * Batching, per split: the documents (each starts with xxbos) are
 * concatenated in the current order into one stream S of T tokens;
 *   corpus = floor((T-1)/bs)*bs, bl = corpus/bs,
 *   n_batches = ceil(bl/seq_len), last_len = bl - (n_batches-1)*seq_len.
 * Batch b, row r: start = r*bl + b*seq_len, L = seq_len (last_len for the
 * last batch); x = S[start, start+L), y = S[start+1, start+L+1).  Row r of
 * batch b+1 continues row r of batch b, so the hidden state carries over.
 * Training: the document order is shuffled at the start of every epoch
 * (and S rebuilt); validation keeps its order.
 *
 * Stream: stream.h framing, magic "ULLB", version 1; the header carries
 * the vocab's n and xxh64.  kind: LMB_BOTH (for each epoch, all train
 * batches then all valid batches: `lmbatch | awdtrain` needs one pipe),
 * LMB_TRAIN (train batches only) or LMB_VALID (valid batches once, epoch
 * 0).  Header params (text, see lmb_info): bs val_bs seq_len epochs seed
 * shuffle train_batches valid_batches train_tokens valid_tokens
 * train_docs valid_docs.
 * Records:
 *   'B' epoch:u32 split:u32 index:u32 rows:u32 len:u32
 *       tok[rows*(len+1)]:u32, row-major: row r is S[start, start+len+1),
 *       so x = columns 0..len-1 and y = columns 1..len.
 * Batches come in order (epoch, split, index); the reader checks it and
 * the counts against the header. */
#ifndef LMB_H
#define LMB_H

#include <stdint.h>
#include <stdio.h>

#include "core/rng.h"
#include "core/stream.h"

#define LMB_MAGIC "ULLB"
#define LMB_VERSION 1
#define LMB_HEAD 20

enum { LMB_BOTH = 1, LMB_TRAIN = 2, LMB_VALID = 3 };   /* stream kind */
enum { LMB_SPLIT_TRAIN = 0, LMB_SPLIT_VALID = 1 };

/* ---- batching ----------------------------------------------------------- */

/* A split's documents: doc i is len[i] little-endian u32 ids at
 * base + off[i] (a memory-mapped input or spool file), so only offsets and
 * lengths live in memory. */
struct lm_docs {
	const unsigned char *base;
	uint64_t *off;
	uint32_t *len;
	uint32_t n, cap;
	uint64_t ntok;                /* sum of len */
};
void lm_docs_add(struct lm_docs *d, uint64_t off, uint32_t len);
void lm_docs_free(struct lm_docs *d);

/* The shape of one split: the formulas above. */
struct lm_shape {
	uint64_t T, corpus, bl;
	uint32_t bs, seq_len, n_batches, last_len;
};
/* Fills s; n_batches is 0 when T-1 < bs (too few tokens). */
void lm_shape(struct lm_shape *s, uint64_t T, uint32_t bs, uint32_t seq_len);

/* One LMDataLoader over a split.  Call lm_loader_epoch() to start an
 * epoch, then lm_loader_batch() for b = 0, 1, ... n_batches-1 in order. */
struct lm_loader {
	const struct lm_docs *d;
	struct lm_shape sh;
	uint32_t *order;              /* document order of this epoch */
	uint64_t *cum;                /* cum[k] = tokens before order[k] */
	/* private: per-row read position (index into order, offset in doc) */
	uint32_t *rk;
	uint64_t *ro;
	uint32_t next;                /* next batch expected */
};
/* sh.n_batches is 0 when the split has too few tokens (T-1 < bs): the
 * caller decides whether that is an error. */
void lm_loader_init(struct lm_loader *l, const struct lm_docs *d,
                    uint32_t bs, uint32_t seq_len);
/* shuffle NULL: keep the document order; else permute it with shuffle. */
void lm_loader_epoch(struct lm_loader *l, struct rng *shuffle);
/* Batch b into tok[bs*(L+1)] (row-major, as in the stream); returns L. */
uint32_t lm_loader_batch(struct lm_loader *l, uint32_t b, uint32_t *tok);
void lm_loader_free(struct lm_loader *l);

/* ---- the stream ---------------------------------------------------------- */

struct lmb_info {
	int kind;                     /* LMB_BOTH, LMB_TRAIN, LMB_VALID */
	uint32_t vocab_n;
	uint64_t vocab_xxh64;
	uint32_t bs, val_bs, seq_len, epochs;
	uint64_t seed;
	int shuffle;                  /* train order shuffled each epoch */
	uint32_t train_batches, valid_batches;    /* per epoch */
	uint64_t train_tokens, valid_tokens;      /* T of each split */
	uint64_t train_docs, valid_docs;
};

struct lmb_batch {
	uint32_t epoch;
	int split;                    /* LMB_SPLIT_TRAIN or LMB_SPLIT_VALID */
	uint32_t index;               /* batch number within epoch and split */
	uint32_t rows, len;           /* rows = bs (val_bs), len = L */
	const uint32_t *tok;          /* rows x (len+1), valid until next */
	int reset;                    /* 1 when split or epoch changed since the
	                               * previous batch: reset the LSTM state */
};
/* x[r][t] and y[r][t], 0 <= r < rows, 0 <= t < len. */
static inline uint32_t lmb_x(const struct lmb_batch *b, uint32_t r, uint32_t t)
{ return b->tok[(uint64_t)r * (b->len + 1) + t]; }
static inline uint32_t lmb_y(const struct lmb_batch *b, uint32_t r, uint32_t t)
{ return b->tok[(uint64_t)r * (b->len + 1) + t + 1]; }
/* Copy out x and y, each rows*len, row-major. */
void lmb_xy(const struct lmb_batch *b, uint32_t *x, uint32_t *y);

struct lmb_writer {
	struct swriter s;
	struct lmb_info info;
	uint64_t nbatch;
	unsigned char *bytes;         /* private: LE staging */
	size_t cap;
};
/* extra: more "key=value\n" header lines, or NULL. */
void lmb_begin(struct lmb_writer *w, FILE *f, const char *name,
               const struct lmb_info *info, const char *extra);
void lmb_write(struct lmb_writer *w, uint32_t epoch, int split,
               uint32_t index, uint32_t rows, uint32_t len,
               const uint32_t *tok);
void lmb_end(struct lmb_writer *w);

struct lmb_reader {
	struct sreader s;
	struct lmb_info info;
	/* private */
	uint32_t *tok;
	size_t cap;
	uint64_t nbatch;
	uint32_t epoch, index;
	int split, started;
};
/* Reads and checks the header, fills r->info; dies with a sentence that
 * says what to do.  Check the vocab with lmb_check_vocab. */
void lmb_open(struct lmb_reader *r, FILE *f, const char *name);
void lmb_check_vocab(const struct lmb_reader *r, uint32_t vocab_n,
                     uint64_t vocab_xxh64, const char *vocab_name);
/* 1 and *b filled, or 0 at the verified end.  Dies on corruption,
 * truncation, batches out of order or counts that disagree with the
 * header. */
int lmb_next(struct lmb_reader *r, struct lmb_batch *b);
void lmb_close(struct lmb_reader *r);
/* A stream in a regular file is read through once, records, order, counts
 * and trailer checked (dying as lmb_next does), and f put back where it
 * was: damage anywhere is found before a trainer uses the first batch or
 * writes a checkpoint.  Returns 1, or 0 (nothing read) for a pipe, whose
 * records can only be checked as they come. */
int lmb_verify(FILE *f, const char *name);

#endif
