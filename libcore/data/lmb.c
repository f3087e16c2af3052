/* lmb.c: the .lmb stream of language-model batches (see lmb.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/lmb.h"
#include "core/util.h"

/* ---- batching ----------------------------------------------------------- */

void
lm_docs_add(struct lm_docs *d, uint64_t off, uint32_t len)
{
	if (d->n == UINT32_MAX)
		die("more than 4 billion documents");
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		d->off = xrealloc(d->off, (size_t)d->cap * sizeof *d->off);
		d->len = xrealloc(d->len, (size_t)d->cap * sizeof *d->len);
	}
	d->off[d->n] = off;
	d->len[d->n++] = len;
	d->ntok += len;
}

void
lm_docs_free(struct lm_docs *d)
{
	free(d->off);
	free(d->len);
	memset(d, 0, sizeof *d);
}

void
lm_shape(struct lm_shape *s, uint64_t T, uint32_t bs, uint32_t seq_len)
{
	memset(s, 0, sizeof *s);
	s->T = T;
	s->bs = bs;
	s->seq_len = seq_len;
	s->corpus = T ? (T - 1) / bs * bs : 0;
	s->bl = s->corpus / bs;
	s->n_batches = (uint32_t)((s->bl + seq_len - 1) / seq_len);
	if (s->n_batches)
		s->last_len = (uint32_t)(s->bl - (uint64_t)(s->n_batches - 1) *
		                         seq_len);
}

void
lm_loader_init(struct lm_loader *l, const struct lm_docs *d, uint32_t bs,
               uint32_t seq_len)
{
	memset(l, 0, sizeof *l);
	l->d = d;
	lm_shape(&l->sh, d->ntok, bs, seq_len);
	l->order = xmalloc(((size_t)d->n + 1) * sizeof *l->order);
	l->cum = xmalloc(((size_t)d->n + 1) * sizeof *l->cum);
	l->rk = xmalloc((size_t)bs * sizeof *l->rk);
	l->ro = xmalloc((size_t)bs * sizeof *l->ro);
}

void
lm_loader_epoch(struct lm_loader *l, struct rng *shuffle)
{
	const struct lm_docs *d = l->d;
	uint32_t n = d->n;

	/* fastai permutes the original items afresh every epoch */
	for (uint32_t i = 0; i < n; i++)
		l->order[i] = i;
	if (shuffle)
		rng_shuffle_u32(shuffle, l->order, n);
	l->cum[0] = 0;
	for (uint32_t k = 0; k < n; k++)
		l->cum[k + 1] = l->cum[k] + d->len[l->order[k]];
	/* row r starts at r*bl: the last k with cum[k] <= start holds it
	 * (empty documents share their cum with the next one) */
	for (uint32_t r = 0; r < l->sh.bs && l->sh.n_batches; r++) {
		uint64_t start = r * l->sh.bl;
		uint32_t lo = 0, hi = n;   /* cum[lo] <= start < cum[hi] */
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (l->cum[mid] <= start)
				lo = mid;
			else
				hi = mid;
		}
		l->rk[r] = lo;
		l->ro[r] = start - l->cum[lo];
	}
	l->next = 0;
}

uint32_t
lm_loader_batch(struct lm_loader *l, uint32_t b, uint32_t *tok)
{
	const struct lm_docs *d = l->d;
	uint32_t L;

	if (b != l->next || b >= l->sh.n_batches)
		die("lm_loader_batch: batch %u out of order (want %u of %u)",
		    b, l->next, l->sh.n_batches);
	L = b == l->sh.n_batches - 1 ? l->sh.last_len : l->sh.seq_len;
	for (uint32_t r = 0; r < l->sh.bs; r++) {
		uint32_t k = l->rk[r], *dst = tok + (size_t)r * (L + 1);
		uint64_t o = l->ro[r];
		uint32_t need = L + 1;

		/* copy S[start, start+L+1) across document boundaries */
		while (need) {
			uint32_t doc = l->order[k], avail, take;
			const unsigned char *src;

			while (o >= d->len[doc]) {   /* skip ended/empty docs */
				o -= d->len[doc];
				doc = l->order[++k];
			}
			avail = (uint32_t)(d->len[doc] - o);
			take = avail < need ? avail : need;
			src = d->base + d->off[doc] + 4 * o;
			for (uint32_t i = 0; i < take; i++)
				dst[i] = get_u32(src + 4 * (size_t)i);
			dst += take;
			need -= take;
			o += take;
		}
		/* the next batch starts L tokens on (y overlaps x by one) */
		o = l->ro[r] + L;
		k = l->rk[r];
		while (k < d->n && o >= d->len[l->order[k]]) {
			o -= d->len[l->order[k]];
			k++;
		}
		l->rk[r] = k;
		l->ro[r] = o;
	}
	l->next++;
	return L;
}

void
lm_loader_free(struct lm_loader *l)
{
	free(l->order);
	free(l->cum);
	free(l->rk);
	free(l->ro);
	memset(l, 0, sizeof *l);
}

/* ---- the stream ---------------------------------------------------------- */

void
lmb_xy(const struct lmb_batch *b, uint32_t *x, uint32_t *y)
{
	for (uint32_t r = 0; r < b->rows; r++) {
		const uint32_t *row = b->tok + (size_t)r * (b->len + 1);
		memcpy(x + (size_t)r * b->len, row, (size_t)b->len * 4);
		memcpy(y + (size_t)r * b->len, row + 1, (size_t)b->len * 4);
	}
}

void
lmb_begin(struct lmb_writer *w, FILE *f, const char *name,
          const struct lmb_info *in, const char *extra)
{
	struct shdr h = { LMB_MAGIC, LMB_VERSION, (uint16_t)in->kind,
	                  in->vocab_n, in->vocab_xxh64, 0, NULL };

	memset(w, 0, sizeof *w);
	w->info = *in;
	params_add(&h.params, "bs", "%" PRIu32, in->bs);
	params_add(&h.params, "val_bs", "%" PRIu32, in->val_bs);
	params_add(&h.params, "seq_len", "%" PRIu32, in->seq_len);
	params_add(&h.params, "epochs", "%" PRIu32, in->epochs);
	params_add(&h.params, "seed", "%" PRIu64, in->seed);
	params_add(&h.params, "shuffle", "%d", in->shuffle ? 1 : 0);
	params_add(&h.params, "train_batches", "%" PRIu32, in->train_batches);
	params_add(&h.params, "valid_batches", "%" PRIu32, in->valid_batches);
	params_add(&h.params, "train_tokens", "%" PRIu64, in->train_tokens);
	params_add(&h.params, "valid_tokens", "%" PRIu64, in->valid_tokens);
	params_add(&h.params, "train_docs", "%" PRIu64, in->train_docs);
	params_add(&h.params, "valid_docs", "%" PRIu64, in->valid_docs);
	if (extra && *extra) {
		size_t a = strlen(h.params), b = strlen(extra);
		h.params = xrealloc(h.params, a + b + 1);
		memcpy(h.params + a, extra, b + 1);
	}
	sw_begin(&w->s, f, name, &h);
	free(h.params);
}

void
lmb_write(struct lmb_writer *w, uint32_t epoch, int split, uint32_t index,
          uint32_t rows, uint32_t len, const uint32_t *tok)
{
	size_t n = (size_t)rows * (len + 1), need = LMB_HEAD + 4 * n;

	if (need > STREAM_MAX_RECORD)
		die("%s: batch of %zu tokens is too large for a record; lower"
		    " -b or -l", w->s.name, n);
	if (need > w->cap) {
		w->cap = need;
		w->bytes = xrealloc(w->bytes, need);
	}
	put_u32(w->bytes, epoch);
	put_u32(w->bytes + 4, (uint32_t)split);
	put_u32(w->bytes + 8, index);
	put_u32(w->bytes + 12, rows);
	put_u32(w->bytes + 16, len);
	for (size_t i = 0; i < n; i++)
		put_u32(w->bytes + LMB_HEAD + 4 * i, tok[i]);
	sw_record(&w->s, 'B', w->bytes, (uint32_t)need);
	w->nbatch++;
}

void
lmb_end(struct lmb_writer *w)
{
	sw_end(&w->s);
	free(w->bytes);
	w->bytes = NULL;
}

static const char remake[] = "re-create it with lmbatch";

static uint64_t
need_param(const struct lmb_reader *r, const char *key, uint64_t max)
{
	const char *v = sr_param(&r->s, key);
	char *end;
	unsigned long long x;

	if (!v || !*v || *v == '-')
		die("%s: batch stream header lacks %s; %s", r->s.name, key,
		    remake);
	x = strtoull(v, &end, 10);
	if (*end || x > max)
		die("%s: batch stream header has a bad %s (%s); %s",
		    r->s.name, key, v, remake);
	return x;
}

void
lmb_open(struct lmb_reader *r, FILE *f, const char *name)
{
	struct lmb_info *in = &r->info;
	struct lm_shape ts, vs;

	memset(r, 0, sizeof *r);
	sr_open(&r->s, f, name, LMB_MAGIC, LMB_VERSION, "batch stream");
	in->kind = r->s.hdr.kind;
	if (in->kind < LMB_BOTH || in->kind > LMB_VALID)
		die("%s: batch stream of unknown kind %d; %s", name, in->kind,
		    remake);
	in->vocab_n = r->s.hdr.vocab_n;
	in->vocab_xxh64 = r->s.hdr.vocab_xxh64;
	in->bs = (uint32_t)need_param(r, "bs", 1u << 24);
	in->val_bs = (uint32_t)need_param(r, "val_bs", 1u << 24);
	in->seq_len = (uint32_t)need_param(r, "seq_len", 1u << 24);
	in->epochs = (uint32_t)need_param(r, "epochs", UINT32_MAX);
	in->seed = need_param(r, "seed", UINT64_MAX);
	in->shuffle = (int)need_param(r, "shuffle", 1);
	in->train_batches = (uint32_t)need_param(r, "train_batches",
	                                         UINT32_MAX);
	in->valid_batches = (uint32_t)need_param(r, "valid_batches",
	                                         UINT32_MAX);
	in->train_tokens = need_param(r, "train_tokens", UINT64_MAX);
	in->valid_tokens = need_param(r, "valid_tokens", UINT64_MAX);
	in->train_docs = need_param(r, "train_docs", UINT64_MAX);
	in->valid_docs = need_param(r, "valid_docs", UINT64_MAX);
	if (!in->bs || !in->val_bs || !in->seq_len || !in->vocab_n)
		die("%s: batch stream header has a zero size; %s", name,
		    remake);
	lm_shape(&ts, in->train_tokens, in->bs, in->seq_len);
	lm_shape(&vs, in->valid_tokens, in->val_bs, in->seq_len);
	if (ts.n_batches != in->train_batches ||
	    vs.n_batches != in->valid_batches)
		die("%s: batch stream header counts disagree with its token"
		    " counts; %s", name, remake);
}

void
lmb_check_vocab(const struct lmb_reader *r, uint32_t vocab_n,
                uint64_t vocab_xxh64, const char *vocab_name)
{
	sr_check_vocab(&r->s, vocab_n, vocab_xxh64, vocab_name);
}

/* Batches a stream of this kind holds, in all. */
static uint64_t
lmb_total(const struct lmb_info *in)
{
	switch (in->kind) {
	case LMB_BOTH:
		return (uint64_t)in->epochs *
		       ((uint64_t)in->train_batches + in->valid_batches);
	case LMB_TRAIN:
		return (uint64_t)in->epochs * in->train_batches;
	default:
		return in->valid_batches;
	}
}

int
lmb_next(struct lmb_reader *r, struct lmb_batch *b)
{
	const struct lmb_info *in = &r->info;
	const unsigned char *p;
	uint32_t len, epoch, index, L, want_L, rows;
	uint64_t per, w, total = lmb_total(in);
	struct lm_shape sh;
	int tag, split;
	size_t n;

	for (;;) {
		if (!sr_next(&r->s, &tag, &p, &len)) {
			if (r->nbatch != total)
				die("%s: batch stream ends after %llu of %llu"
				    " batches; %s", r->s.name,
				    (unsigned long long)r->nbatch,
				    (unsigned long long)total, remake);
			return 0;
		}
		if (tag == 'B')
			break;
	}
	if (r->nbatch >= total)
		die("%s: batch stream has more batches than its header says;"
		    " %s", r->s.name, remake);
	/* where this batch must sit in the sequence */
	per = in->kind == LMB_BOTH ? (uint64_t)in->train_batches +
	      in->valid_batches : in->kind == LMB_TRAIN ? in->train_batches :
	      in->valid_batches;
	epoch = (uint32_t)(r->nbatch / per);
	w = r->nbatch % per;
	if (in->kind == LMB_VALID || (in->kind == LMB_BOTH &&
	                              w >= in->train_batches)) {
		split = LMB_SPLIT_VALID;
		index = (uint32_t)(in->kind == LMB_VALID ? w :
		                   w - in->train_batches);
		lm_shape(&sh, in->valid_tokens, in->val_bs, in->seq_len);
	} else {
		split = LMB_SPLIT_TRAIN;
		index = (uint32_t)w;
		lm_shape(&sh, in->train_tokens, in->bs, in->seq_len);
	}
	want_L = index == sh.n_batches - 1 ? sh.last_len : sh.seq_len;
	if (len < LMB_HEAD)
		die("%s: corrupt batch record %llu (short); %s", r->s.name,
		    (unsigned long long)r->nbatch, remake);
	rows = get_u32(p + 12);
	L = get_u32(p + 16);
	if (get_u32(p) != epoch || get_u32(p + 4) != (uint32_t)split ||
	    get_u32(p + 8) != index || rows != sh.bs || L != want_L)
		die("%s: batch %llu out of order or of the wrong shape (want"
		    " epoch %u %s batch %u, %ux%u); %s", r->s.name,
		    (unsigned long long)r->nbatch, epoch,
		    split ? "valid" : "train", index, sh.bs, want_L, remake);
	n = (size_t)rows * (L + 1);
	if (len != LMB_HEAD + 4 * n)
		die("%s: corrupt batch record %llu (length); %s", r->s.name,
		    (unsigned long long)r->nbatch, remake);
	if (n > r->cap) {
		r->cap = n;
		r->tok = xrealloc(r->tok, n * sizeof *r->tok);
	}
	for (size_t i = 0; i < n; i++)
		if ((r->tok[i] = get_u32(p + LMB_HEAD + 4 * i)) >= in->vocab_n)
			die("%s: corrupt batch %llu (id %u >= vocab size %u);"
			    " %s", r->s.name, (unsigned long long)r->nbatch,
			    r->tok[i], in->vocab_n, remake);
	b->epoch = epoch;
	b->split = split;
	b->index = index;
	b->rows = rows;
	b->len = L;
	b->tok = r->tok;
	b->reset = !r->started || epoch != r->epoch || split != r->split;
	r->started = 1;
	r->epoch = epoch;
	r->split = split;
	r->index = index;
	r->nbatch++;
	return 1;
}

void
lmb_close(struct lmb_reader *r)
{
	sr_close(&r->s);
	free(r->tok);
	memset(r, 0, sizeof *r);
}

int
lmb_verify(FILE *f, const char *name)
{
	struct stat st;
	struct lmb_reader r;
	struct lmb_batch b;
	off_t at;

	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
	    (at = ftello(f)) < 0)
		return 0;
	lmb_open(&r, f, name);
	while (lmb_next(&r, &b))
		;
	lmb_close(&r);
	if (fseeko(f, at, SEEK_SET) < 0)
		die("%s: cannot seek back:", name);
	return 1;
}
