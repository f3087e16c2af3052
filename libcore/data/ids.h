/* ids.h: the id stream (".ids"), numericalized documents.
 *
 * stream.h framing, magic "ULID", version 1, kind 1; the header carries
 * the vocab's n and xxh64; params say who made it ("tool=numz\n").
 * Records:
 *   'D' one document, in input order:
 *       n:u32 split_len:u16 label_len:u16 split[split_len]
 *       label[label_len] ids[n]:u32
 *       split and label are the .tok fields (escaped, no NUL, no TAB), so
 *       label names travel with the stream; every id is < vocab n.
 *   'S' summary, last record before the trailer:
 *       docs:u64 tokens:u64 unknown:u64 (ids equal to 0 that were not the
 *       literal token xxunk; informational)
 * All integers little-endian.  A reader checks the summary against what
 * it read, so a stream cut at a record boundary is refused too. */
#ifndef IDS_H
#define IDS_H

#include <stdint.h>
#include <stdio.h>

#include "core/stream.h"
#include "text/tokfile.h"
#include "data/vocab.h"

#define IDS_MAGIC "ULID"
#define IDS_VERSION 1
#define IDS_KIND 1
#define IDS_DOC_HEAD 8           /* n, split_len, label_len */

struct ids_writer {
	struct swriter s;
	uint32_t vocab_n;
	uint64_t docs, tokens, unknown;
	struct buf b;            /* private: record head */
};

/* params: extra "key=value\n" lines for the header, or NULL. */
void ids_begin(struct ids_writer *w, FILE *f, const char *name,
               uint32_t vocab_n, uint64_t vocab_xxh64, const char *params);
/* One document.  Dies if an id is >= vocab_n (a bug, not bad input).
 * nunk: how many of ids are unknown words (for the summary). */
void ids_write(struct ids_writer *w, const char *split, const char *label,
               const uint32_t *ids, uint32_t n, uint32_t nunk);
void ids_end(struct ids_writer *w);   /* summary + trailer */

struct ids_doc {
	const char *split, *label;    /* NUL-terminated, valid until next */
	uint32_t n;
	const uint32_t *ids;          /* host order, valid until next */
	const unsigned char *raw;     /* the n ids as stored (LE u32) */
	uint64_t raw_off;             /* byte offset of raw in the stream */
	uint64_t index;               /* 0-based document number */
};

struct ids_reader {
	struct sreader s;
	uint32_t vocab_n;
	uint64_t vocab_xxh64;
	uint64_t docs, tokens;        /* read so far; totals after the end */
	uint64_t unknown;             /* from the summary, after the end */
	/* private */
	uint32_t *ids;
	uint32_t cap;
	char *split, *label;
	uint32_t scap, lcap;
};

/* Reads and checks the header (dies on a wrong magic, newer version,
 * corrupt header).  The caller checks the vocab with ids_check_vocab. */
void ids_open(struct ids_reader *r, FILE *f, const char *name);
/* Dies unless the stream was made with this vocab (sr_check_vocab). */
void ids_check_vocab(const struct ids_reader *r, uint32_t vocab_n,
                     uint64_t vocab_xxh64, const char *vocab_name);
/* Next document: 1 and *d filled, or 0 after the summary and trailer
 * were verified.  Dies on corruption, truncation or an id >= vocab n. */
int ids_next(struct ids_reader *r, struct ids_doc *d);
void ids_close(struct ids_reader *r);

/* Append d as a .tok line (split TAB label TAB tokens NL) decoded through
 * v: the inverse of numz for in-vocab tokens. */
void ids_format_tok(struct buf *b, const struct vocab *v,
                    const struct ids_doc *d);

#endif
