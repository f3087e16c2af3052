/* stream.c: the framing of .ids and .lmb streams: header, checked records,
 * trailer (see stream.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "core/stream.h"
#include "core/util.h"

#define HDR_FIXED 32

static void
wr(struct swriter *w, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, w->f) != n)
		die("%s: write error:", w->name);
	XXH64_update(w->h, p, n);
	w->bytes += n;
}

void
sw_begin(struct swriter *w, FILE *f, const char *name, const struct shdr *h)
{
	unsigned char b[HDR_FIXED + 8];
	size_t plen = h->params ? strlen(h->params) : 0;
	XXH64_state_t *hh;

	if (plen > STREAM_MAX_PARAMS)
		die("%s: stream parameters too long", name);
	memset(w, 0, sizeof *w);
	w->f = f;
	w->name = name;
	if (!(w->h = XXH64_createState()))
		die("out of memory");
	XXH64_reset(w->h, 0);
	memcpy(b, h->magic, 4);
	put_u16(b + 4, h->version);
	put_u16(b + 6, h->kind);
	put_u32(b + 8, h->vocab_n);
	put_u32(b + 12, (uint32_t)plen);
	put_u64(b + 16, h->vocab_xxh64);
	put_u64(b + 24, h->flags);
	hh = XXH64_createState();
	XXH64_reset(hh, 0);
	XXH64_update(hh, b, HDR_FIXED);
	XXH64_update(hh, h->params, plen);
	wr(w, b, HDR_FIXED);
	wr(w, h->params, plen);
	put_u64(b, XXH64_digest(hh));
	XXH64_freeState(hh);
	wr(w, b, 8);
}

void
sw_record2(struct swriter *w, int tag, const void *head, uint32_t hlen,
           const void *body, uint32_t blen)
{
	unsigned char b[5];
	XXH64_state_t *rh;
	uint64_t len = (uint64_t)hlen + blen;

	if (len > STREAM_MAX_RECORD)
		die("%s: record of %llu bytes is too large", w->name,
		    (unsigned long long)len);
	b[0] = (unsigned char)tag;
	put_u32(b + 1, (uint32_t)len);
	rh = XXH64_createState();
	XXH64_reset(rh, 0);
	XXH64_update(rh, b, 5);
	XXH64_update(rh, head, hlen);
	XXH64_update(rh, body, blen);
	wr(w, b, 5);
	wr(w, head, hlen);
	wr(w, body, blen);
	put_u32(b, (uint32_t)XXH64_digest(rh));
	XXH64_freeState(rh);
	wr(w, b, 4);
	w->nrec++;
}

void
sw_record(struct swriter *w, int tag, const void *payload, uint32_t len)
{
	sw_record2(w, tag, payload, len, NULL, 0);
}

void
sw_end(struct swriter *w)
{
	unsigned char b[17];

	b[0] = 'E';
	put_u64(b + 1, w->nrec);
	put_u64(b + 9, w->bytes);
	wr(w, b, 17);
	put_u64(b, XXH64_digest(w->h));
	if (fwrite(b, 1, 8, w->f) != 8)
		die("%s: write error:", w->name);
	XXH64_freeState(w->h);
	w->h = NULL;
}

/* ---- reader -------------------------------------------------------------- */

static const char redo[] = "re-create it with the tool that made it";

/* Read exactly n bytes or die "truncated". */
static void
rd(struct sreader *r, void *p, size_t n, int hash)
{
	if (n && fread(p, 1, n, r->f) != n) {
		if (ferror(r->f))
			die("%s: read error:", r->name);
		die("%s: truncated stream (ends after %llu bytes, no trailer);"
		    " %s", r->name, (unsigned long long)r->bytes, redo);
	}
	if (hash)
		XXH64_update(r->h, p, n);
	r->bytes += n;
}

void
sr_open(struct sreader *r, FILE *f, const char *name, const char *magic,
        uint16_t maxver, const char *what)
{
	unsigned char b[HDR_FIXED];
	unsigned char c[8];
	uint32_t plen;
	XXH64_state_t *hh;

	struct stat st;
	off_t at;

	memset(r, 0, sizeof *r);
	r->f = f;
	r->name = name;
	/* a file's size bounds every length read from it: a damaged length
	 * is "truncated" before it sizes an allocation */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (at = ftello(f)) >= 0 && at <= st.st_size)
		r->left = (uint64_t)(st.st_size - at);
	r->h = XXH64_createState();
	XXH64_reset(r->h, 0);
	if (fread(b, 1, HDR_FIXED, f) != HDR_FIXED) {
		if (ferror(f))
			die("%s: read error:", name);
		die("%s: empty or truncated %s (no header)", name, what);
	}
	XXH64_update(r->h, b, HDR_FIXED);
	r->bytes = HDR_FIXED;
	if (memcmp(b, magic, 4)) {
		char m[5];
		for (int i = 0; i < 4; i++)
			m[i] = (b[i] >= 0x20 && b[i] < 0x7f) ? b[i] : '?';
		m[4] = 0;
		die("%s: not %s %s (magic '%s', want '%.4s'); check the file"
		    " argument or the pipeline order", name,
		    strchr("aeiou", what[0]) ? "an" : "a", what, m, magic);
	}
	memcpy(r->hdr.magic, b, 4);
	r->hdr.version = get_u16(b + 4);
	r->hdr.kind = get_u16(b + 6);
	r->hdr.vocab_n = get_u32(b + 8);
	plen = get_u32(b + 12);
	r->hdr.vocab_xxh64 = get_u64(b + 16);
	r->hdr.flags = get_u64(b + 24);
	if (plen > STREAM_MAX_PARAMS)
		die("%s: corrupt %s header (params length %u); %s", name, what,
		    plen, redo);
	if (r->left && HDR_FIXED + (uint64_t)plen + 8 > r->left)
		die("%s: truncated %s (header of %u bytes, the file has %llu);"
		    " %s", name, what, HDR_FIXED + plen + 8,
		    (unsigned long long)r->left, redo);
	r->hdr.params = xmalloc(plen + 1);
	rd(r, r->hdr.params, plen, 1);
	r->hdr.params[plen] = 0;
	rd(r, c, 8, 1);
	hh = XXH64_createState();
	XXH64_reset(hh, 0);
	XXH64_update(hh, b, HDR_FIXED);
	XXH64_update(hh, r->hdr.params, plen);
	if (XXH64_digest(hh) != get_u64(c))
		die("%s: corrupt %s header (checksum mismatch); %s", name, what,
		    redo);
	XXH64_freeState(hh);
	if (r->hdr.version > maxver)
		die("%s: %s version %u, this tool reads <= %u; upgrade the"
		    " tools or re-create the file", name, what,
		    r->hdr.version, maxver);
	if (strlen(r->hdr.params) != plen)
		die("%s: corrupt %s header (NUL in params); %s", name, what, redo);
}

int
sr_next(struct sreader *r, int *tag, const unsigned char **payload,
        uint32_t *len)
{
	unsigned char b[17];
	uint32_t n, chk;
	XXH64_state_t *rh;

	if (r->done)
		return 0;
	rd(r, b, 1, 1);
	if (b[0] == 'E') {
		uint64_t want_nrec, want_bytes, digest;

		rd(r, b + 1, 16, 1);
		want_nrec = get_u64(b + 1);
		want_bytes = get_u64(b + 9);
		digest = XXH64_digest(r->h);
		rd(r, b, 8, 0);
		if (get_u64(b) != digest || want_nrec != r->nrec ||
		    want_bytes + 17 != r->bytes - 8)
			die("%s: corrupt stream (trailer checksum or counts"
			    " mismatch: records lost, repeated or altered); %s",
			    r->name, redo);
		if (fgetc(r->f) != EOF)
			die("%s: trailing garbage after the stream trailer;"
			    " were two streams concatenated?", r->name);
		r->done = 1;
		return 0;
	}
	rd(r, b + 1, 4, 1);
	n = get_u32(b + 1);
	if (n > STREAM_MAX_RECORD)
		die("%s: corrupt stream (record length %u at byte %llu); %s",
		    r->name, n, (unsigned long long)r->bytes - 5, redo);
	if (r->left && r->bytes + n + 4 > r->left)
		die("%s: truncated stream (record of %u bytes at byte %llu, "
		    "the file ends at %llu); %s", r->name, n,
		    (unsigned long long)r->bytes - 5,
		    (unsigned long long)r->left, redo);
	if (n > r->cap) {
		r->cap = n;
		r->buf = xrealloc(r->buf, n);
	}
	rd(r, r->buf, n, 1);
	rd(r, b + 5, 4, 1);
	chk = get_u32(b + 5);
	rh = XXH64_createState();
	XXH64_reset(rh, 0);
	XXH64_update(rh, b, 5);
	XXH64_update(rh, r->buf, n);
	if ((uint32_t)XXH64_digest(rh) != chk)
		die("%s: corrupt stream (record %llu checksum mismatch); %s",
		    r->name, (unsigned long long)r->nrec, redo);
	XXH64_freeState(rh);
	r->nrec++;
	*tag = b[0];
	*payload = r->buf;
	*len = n;
	return 1;
}

void
sr_close(struct sreader *r)
{
	if (r->h)
		XXH64_freeState(r->h);
	free(r->buf);
	free(r->hdr.params);
	memset(r, 0, sizeof *r);
}

const char *
sr_param(const struct sreader *r, const char *key)
{
	static char val[4096];
	size_t vl;
	const char *v = kv_find(r->hdr.params, key, &vl);

	if (!v)
		return NULL;
	if (vl >= sizeof val)
		vl = sizeof val - 1;
	memcpy(val, v, vl);
	val[vl] = 0;
	return val;
}

void
sr_check_vocab(const struct sreader *r, uint32_t vocab_n, uint64_t vocab_xxh64,
               const char *vocab_name)
{
	if (r->hdr.vocab_n != vocab_n || r->hdr.vocab_xxh64 != vocab_xxh64)
		die("%s: made with another vocab (%u tokens, xxh64 %016llx) than"
		    " %s (%u tokens, xxh64 %016llx); re-run numz -v %s on the"
		    " tokens", r->name, r->hdr.vocab_n,
		    (unsigned long long)r->hdr.vocab_xxh64, vocab_name, vocab_n,
		    (unsigned long long)vocab_xxh64, vocab_name);
}

void
params_add(char **params, const char *key, const char *fmt, ...)
{
	char val[1024];
	size_t old = *params ? strlen(*params) : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(val, sizeof val, fmt, ap);
	va_end(ap);
	n = (int)(strlen(key) + strlen(val) + 2);
	*params = xrealloc(*params, old + n + 1);
	sprintf(*params + old, "%s=%s\n", key, val);
}
