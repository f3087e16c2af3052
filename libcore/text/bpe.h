/* bpe.h: GPT-2's byte-level BPE tokenizer (OpenAI's encoder.py, Hugging
 * Face's GPT2Tokenizer), from the files GPT-2 ships: encoder.json +
 * vocab.bpe, or vocab.json + merges.txt (the same content).
 *
 * Encoding: the text is cut into pre-tokens by GPT-2's regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (PCRE2, UTF + UCP, run as written); each pre-token's bytes start as
 * byte tokens and the merges apply lowest rank first, every occurrence
 * of the chosen pair left to right, as encoder.py's bpe() does (a heap
 * over a linked list: long pre-tokens cost n log n, not n^2).
 *
 * Invalid UTF-8 (which Python and JavaScript strings cannot hold): each
 * byte that does not start a valid sequence counts, for the regex only,
 * as U+FFFD (a symbol: [^\s\p{L}\p{N}]); its own byte is what is
 * encoded.  So decode(encode(x)) == x for any bytes, and valid text is
 * cut exactly as GPT-2 cuts it. */
#ifndef BPE_H
#define BPE_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokfile.h"

struct bpe;

/* Load encoder.json/vocab.json (token -> id) and vocab.bpe/merges.txt.
 * Dies with "file: reason" on anything malformed. */
struct bpe *bpe_load(const char *vocab_json, const char *merges);
/* The pair in dir: vocab.json + merges.txt, else encoder.json + vocab.bpe. */
struct bpe *bpe_load_dir(const char *dir);
void bpe_free(struct bpe *b);

uint32_t bpe_size(const struct bpe *b);      /* number of ids (max id + 1) */
/* The bytes of id (NULL if no token has it). */
const char *bpe_token(const struct bpe *b, uint32_t id, size_t *len);
/* The id of a token given by its bytes ("<|endoftext|>"), or -1. */
int64_t bpe_lookup(const struct bpe *b, const char *s, size_t n);

/* Encode n bytes of s, appending ids to *ids (capacity *cap, grown with
 * realloc) from index *k; returns the new count. */
size_t bpe_encode(struct bpe *b, const char *s, size_t n, uint32_t **ids,
                  size_t *cap, size_t k);
/* Append the bytes of ids to out.  Returns -1 when every id exists, else
 * the index of the first unknown id (nothing is appended for it). */
long bpe_decode(const struct bpe *b, const uint32_t *ids, size_t n,
                struct buf *out);

#endif
