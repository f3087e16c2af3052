/* stream.h: the framing shared by every binary stream (.ids, .lmb, ...).
 *
 * A stream must go through a pipe, so nothing is ever seeked back to:
 *
 *   header   magic[4] version:u16 kind:u16 vocab_n:u32 params_len:u32
 *            vocab_xxh64:u64 flags:u64 params[params_len] hdr_xxh64:u64
 *   record*  tag:u8 len:u32 payload[len] rec_check:u32
 *   trailer  'E' nrec:u64 payload_bytes:u64 stream_xxh64:u64
 *
 * All integers little-endian.  params is text, "key=value\n" lines, so
 * `head -c 200 x.lmb | strings` shows how a stream was made.  hdr_xxh64
 * covers the header bytes before it; rec_check is the low 32 bits of the
 * xxh64 of tag, len and payload, so a flipped byte is caught before a record
 * is used; stream_xxh64 covers every byte before it, so a lost or repeated
 * record is caught at the end.  EOF before the trailer is "truncated"; so
 * is, in a regular file, a length that runs past the file's end (checked
 * before the length sizes an allocation).
 * Tag 'E' is reserved; other tags are the stream kind's business. */
#ifndef STREAM_H
#define STREAM_H

#include <stdint.h>
#include <stdio.h>

#define STREAM_MAX_RECORD (1u << 30)     /* refuse absurd lengths early */
#define STREAM_MAX_PARAMS (1u << 16)

struct shdr {
	char magic[4];
	uint16_t version;
	uint16_t kind;
	uint32_t vocab_n;
	uint64_t vocab_xxh64;
	uint64_t flags;
	char *params;           /* NUL-terminated "key=value\n" lines */
};

struct swriter {
	FILE *f;
	const char *name;       /* for messages */
	void *h;                /* XXH64_state_t */
	uint64_t nrec, bytes;
};

/* The writer dies (tool: name: write error) on I/O failure; callers that
 * use out_open() get the temp file removed by the exit handler. */
void sw_begin(struct swriter *w, FILE *f, const char *name,
              const struct shdr *h);
void sw_record(struct swriter *w, int tag, const void *payload, uint32_t len);
/* Two-part record: a small head and a body, written without copying. */
void sw_record2(struct swriter *w, int tag, const void *head, uint32_t hlen,
                const void *body, uint32_t blen);
void sw_end(struct swriter *w);

struct sreader {
	FILE *f;
	const char *name;
	void *h;
	struct shdr hdr;
	unsigned char *buf;     /* current payload (owned, reused) */
	uint32_t cap;
	uint64_t nrec, bytes;
	uint64_t left;          /* bytes from the header to a file's end;
	                         * 0 for a pipe (unknown) */
	int done;
};

/* Reads and checks the header: magic must equal magic, version must be
 * <= maxver.  what names the stream kind in messages ("id stream").
 * Dies with a sentence that says what to do. */
void sr_open(struct sreader *r, FILE *f, const char *name, const char *magic,
             uint16_t maxver, const char *what);
/* Next record: returns 1 and sets tag, payload, len (payload valid until
 * the next call); returns 0 after the trailer has been read and verified.
 * Dies on truncation or corruption. */
int sr_next(struct sreader *r, int *tag, const unsigned char **payload,
            uint32_t *len);
void sr_close(struct sreader *r);

/* Value of key in the header params, or NULL.  Returned string is owned
 * by a static buffer that the next call overwrites. */
const char *sr_param(const struct sreader *r, const char *key);
/* Dies unless the stream was made with this vocab. */
void sr_check_vocab(const struct sreader *r, uint32_t vocab_n,
                    uint64_t vocab_xxh64, const char *vocab_name);

/* Append "key=value\n" to a malloc'd params string. */
void params_add(char **params, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
