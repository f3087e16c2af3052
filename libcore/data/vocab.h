/* vocab.h: the vocabulary (fastai's Numericalize vocab, spec §2).
 *
 * File: one token a line, in the escaped form of .tok files (tokfile.h),
 * index = line number - 1.  Its identity is the xxh64 (seed 0) of the
 * file's bytes; every binary stream carries (n, xxh64) and readers refuse
 * a stream made with another vocab.
 *
 * Order when built from counts (fastai make_vocab):
 *   1. the max_vocab most common tokens, count descending, ties in order
 *      of first occurrence (Counter.most_common is a stable sort);
 *   2. drop those with count < min_freq;
 *   3. the 9 specials to the front in canonical order (removed first if
 *      present, inserted anyway if absent);
 *   4. truncate to max_vocab;
 *   5. append 8 - n % 8 copies of "xxfake" (8 when n is already a multiple
 *      of 8: IMDB gives 60008, never 60000).
 * Lookup: a token maps to its first index; anything absent, and "xxfake",
 * maps to 0 (xxunk). */
#ifndef VOCAB_H
#define VOCAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The special tokens, ids 0..8 in every fastai vocab. */
enum {
	TK_UNK,    /* xxunk: unknown words */
	TK_PAD,    /* xxpad: padding */
	TK_BOS,    /* xxbos: every document starts with it */
	TK_EOS,    /* xxeos */
	TK_FLD,    /* xxfld: field marker */
	TK_REP,    /* xxrep: character repetition */
	TK_WREP,   /* xxwrep: word repetition */
	TK_UP,     /* xxup: next word was all caps */
	TK_MAJ,    /* xxmaj: next word was capitalised */
	TK_NSPECIAL
};
extern const char *const vocab_specials[TK_NSPECIAL];  /* "xxunk", ... */
#define VOCAB_FAKE "xxfake"

/* Defaults of Numericalize / TextBlock. */
#define VOCAB_MAX_DEFAULT 60000
#define VOCAB_MIN_FREQ_DEFAULT 3

struct vocab {
	uint32_t n;
	char **tok;          /* tok[i]: escaped, NUL-terminated */
	uint32_t *len;       /* strlen(tok[i]) */
	uint64_t xxh64;      /* of the file bytes (as vocab_write writes them) */
	/* private: open-addressing index, slot = id + 1, 0 empty */
	uint32_t *slot;
	uint32_t mask;
	char *mem;           /* token storage */
};

/* Load a vocab file; dies ("tool: path: reason; what to do") on a read
 * error, an empty file or an empty line.  A file that starts with a
 * pickle's PROTO opcode (byte 0x80: protocol 2 or newer) is read as
 * fastai's pickled itos list (itos_wt103.pkl, or a vocab pickled by
 * fastai v2 when it is a plain list of str): each string is escaped as
 * a .tok token, and xxh64 is that of the vocab written in the text
 * format (vocab_write), so a .pkl and its text conversion are the same
 * vocab to every stream.  Only plain data is unpickled (pickle.h). */
struct vocab *vocab_load(const char *path);
/* Dies ("tool: name: id I is "tok", not xxunk; ...") unless ids 0..8 are
 * the 9 special tokens, xxunk at 0 and xxpad at 1 (the ids the tools
 * rely on); the rest may be in fastai v2's order or v1's (itos_wt103.pkl
 * has xxmaj xxup xxrep xxwrep at 5..8).  For a vocab a tool encodes or
 * decodes with. */
void vocab_check_specials(const struct vocab *v, const char *name);
/* A vocab from n escaped tokens (copied).  xxh64 is computed as if the
 * tokens were written by vocab_write. */
struct vocab *vocab_from_list(const char *const *tok, uint32_t n);
void vocab_free(struct vocab *v);

/* Id of escaped token t (len bytes), or TK_UNK (0) when absent.  "xxfake"
 * gives 0, duplicates give their first index. */
uint32_t vocab_id(const struct vocab *v, const char *t, size_t len);

/* Encode n escaped tokens into ids[n]; returns how many were unknown
 * (mapped to 0 but not the literal xxunk). */
uint32_t vocab_encode(const struct vocab *v, char *const *tok, size_t n,
                      uint32_t *ids);

/* Write the vocab, one token a line (dies on a write error). */
void vocab_write(const struct vocab *v, FILE *f, const char *name);

/* Token counts in first-occurrence order: the only state numz keeps while
 * counting (memory grows with distinct tokens, not with the corpus). */
struct counter {
	uint32_t n, cap;     /* distinct tokens, in order of first occurrence */
	char **tok;          /* escaped, NUL-terminated (owned) */
	uint32_t *len;
	uint64_t *count;
	uint64_t total;      /* tokens counted */
	/* private */
	uint32_t *slot;      /* index + 1, 0 empty */
	uint32_t mask;
};
void counter_init(struct counter *c);
void counter_add(struct counter *c, const char *t, size_t len);
/* counter_add n times at once (n >= 1) */
void counter_add_n(struct counter *c, const char *t, size_t len, uint64_t n);
void counter_free(struct counter *c);

/* Counts files (numz -c), so that shards counted apart merge into the
 * counter one pass over all of them would have built: the line
 * "#numz counts 1", then "token TAB count" per distinct token in order of
 * first occurrence, then "#end TOTAL DISTINCT" (a cut file lacks it).
 * Tokens are escaped as in .tok, so they hold no TAB, space or newline.
 * counter_read adds a file's counts to c in its order (new tokens go
 * after c's, so reading shards in corpus order keeps fastai's ties), and
 * dies on anything else, naming the line. */
void counter_write(const struct counter *c, FILE *f, const char *name);
void counter_read(struct counter *c, FILE *f, const char *name);

/* fastai make_vocab (order above).  max_vocab >= 1, min_freq >= 0. */
struct vocab *vocab_build(const struct counter *c, uint32_t max_vocab,
                          uint64_t min_freq);

#endif
