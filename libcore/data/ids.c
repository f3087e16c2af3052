/* ids.c: the .ids stream of numericalized documents (see ids.h). */
#include <stdlib.h>
#include <string.h>

#include "data/ids.h"
#include "core/util.h"

void
ids_begin(struct ids_writer *w, FILE *f, const char *name, uint32_t vocab_n,
          uint64_t vocab_xxh64, const char *params)
{
	struct shdr h = { IDS_MAGIC, IDS_VERSION, IDS_KIND, vocab_n,
	                  vocab_xxh64, 0, NULL };

	memset(w, 0, sizeof *w);
	w->vocab_n = vocab_n;
	if (params && *params)
		h.params = xstrdup(params);
	sw_begin(&w->s, f, name, &h);
	free(h.params);
}

void
ids_write(struct ids_writer *w, const char *split, const char *label,
          const uint32_t *ids, uint32_t n, uint32_t nunk)
{
	size_t sl = strlen(split), ll = strlen(label);
	unsigned char *p;

	if (sl > UINT16_MAX || ll > UINT16_MAX)
		die("%s: document %llu: split or label longer than 65535 bytes",
		    w->s.name, (unsigned long long)w->docs + 1);
	if ((uint64_t)n * 4 + IDS_DOC_HEAD + sl + ll > STREAM_MAX_RECORD)
		die("%s: document %llu has %u tokens, more than an id stream"
		    " record holds", w->s.name, (unsigned long long)w->docs + 1,
		    n);
	w->b.n = 0;
	buf_grow(&w->b, IDS_DOC_HEAD + sl + ll + (size_t)n * 4);
	p = (unsigned char *)w->b.p;
	put_u32(p, n);
	put_u16(p + 4, (uint16_t)sl);
	put_u16(p + 6, (uint16_t)ll);
	memcpy(p + 8, split, sl);
	memcpy(p + 8 + sl, label, ll);
	p += IDS_DOC_HEAD + sl + ll;
	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] >= w->vocab_n)
			die("%s: id %u >= vocab size %u (a bug)", w->s.name,
			    ids[i], w->vocab_n);
		put_u32(p + 4 * (size_t)i, ids[i]);
	}
	sw_record(&w->s, 'D', w->b.p,
	          (uint32_t)(IDS_DOC_HEAD + sl + ll + (size_t)n * 4));
	w->docs++;
	w->tokens += n;
	w->unknown += nunk;
}

void
ids_end(struct ids_writer *w)
{
	unsigned char s[24];

	put_u64(s, w->docs);
	put_u64(s + 8, w->tokens);
	put_u64(s + 16, w->unknown);
	sw_record(&w->s, 'S', s, sizeof s);
	sw_end(&w->s);
	buf_free(&w->b);
}

void
ids_open(struct ids_reader *r, FILE *f, const char *name)
{
	memset(r, 0, sizeof *r);
	sr_open(&r->s, f, name, IDS_MAGIC, IDS_VERSION, "id stream");
	if (r->s.hdr.kind != IDS_KIND)
		die("%s: id stream of unknown kind %u; re-create it with numz",
		    name, r->s.hdr.kind);
	r->vocab_n = r->s.hdr.vocab_n;
	r->vocab_xxh64 = r->s.hdr.vocab_xxh64;
	if (!r->vocab_n)
		die("%s: corrupt id stream header (vocab size 0); re-create"
		    " it with numz", name);
}

void
ids_check_vocab(const struct ids_reader *r, uint32_t vocab_n,
                uint64_t vocab_xxh64, const char *vocab_name)
{
	sr_check_vocab(&r->s, vocab_n, vocab_xxh64, vocab_name);
}

static _Noreturn void
corrupt(const struct ids_reader *r, const char *what)
{
	die("%s: corrupt id stream (%s in document %llu); re-create it with"
	    " numz", r->s.name, what, (unsigned long long)r->docs + 1);
}

static char *
copy_str(char **dst, uint32_t *cap, const unsigned char *p, size_t n)
{
	if (n + 1 > *cap) {
		*cap = (uint32_t)n + 1;
		*dst = xrealloc(*dst, *cap);
	}
	memcpy(*dst, p, n);
	(*dst)[n] = 0;
	return *dst;
}

int
ids_next(struct ids_reader *r, struct ids_doc *d)
{
	const unsigned char *p;
	uint32_t len, n, sl, ll;
	int tag;

	while (sr_next(&r->s, &tag, &p, &len)) {
		if (tag == 'S') {
			if (len != 24 || get_u64(p) != r->docs ||
			    get_u64(p + 8) != r->tokens)
				die("%s: corrupt id stream (summary says %llu"
				    " documents, read %llu); re-create it with"
				    " numz", r->s.name, len == 24 ?
				    (unsigned long long)get_u64(p) : 0ULL,
				    (unsigned long long)r->docs);
			r->unknown = get_u64(p + 16);
			if (sr_next(&r->s, &tag, &p, &len))
				die("%s: corrupt id stream (records after the"
				    " summary); re-create it with numz",
				    r->s.name);
			return 0;
		}
		if (tag != 'D')
			continue;   /* unknown record kinds are skipped */
		if (len < IDS_DOC_HEAD)
			corrupt(r, "short record");
		n = get_u32(p);
		sl = get_u16(p + 4);
		ll = get_u16(p + 6);
		if ((uint64_t)IDS_DOC_HEAD + sl + ll + (uint64_t)n * 4 != len)
			corrupt(r, "record length");
		if (memchr(p + 8, 0, sl + ll))
			corrupt(r, "NUL in split or label");
		d->split = copy_str(&r->split, &r->scap, p + 8, sl);
		d->label = copy_str(&r->label, &r->lcap, p + 8 + sl, ll);
		if (n > r->cap) {
			r->cap = n;
			r->ids = xrealloc(r->ids, (size_t)n * sizeof *r->ids);
		}
		d->raw = p + IDS_DOC_HEAD + sl + ll;
		for (uint32_t i = 0; i < n; i++) {
			r->ids[i] = get_u32(d->raw + 4 * (size_t)i);
			if (r->ids[i] >= r->vocab_n)
				corrupt(r, "id beyond the vocab");
		}
		d->n = n;
		d->ids = r->ids;
		/* the record ends with a 4-byte check after the payload */
		d->raw_off = r->s.bytes - 4 - (uint64_t)n * 4;
		d->index = r->docs++;
		r->tokens += n;
		return 1;
	}
	die("%s: corrupt id stream (no summary record); re-create it with"
	    " numz", r->s.name);
}

void
ids_close(struct ids_reader *r)
{
	sr_close(&r->s);
	free(r->ids);
	free(r->split);
	free(r->label);
	memset(r, 0, sizeof *r);
}

void
ids_format_tok(struct buf *b, const struct vocab *v, const struct ids_doc *d)
{
	buf_adds(b, d->split);
	buf_addc(b, '\t');
	buf_adds(b, d->label);
	buf_addc(b, '\t');
	for (uint32_t i = 0; i < d->n; i++) {
		if (i)
			buf_addc(b, ' ');
		buf_add(b, v->tok[d->ids[i]], v->len[d->ids[i]]);
	}
	buf_addc(b, '\n');
}
