/* tokspacy.c: spaCy 3.8 blank("en") tokenizer (spec §1.4), on PCRE2.
 *
 * The algorithm follows spaCy's Tokenizer: whitespace split with one
 * absorbed U+0020, special cases, the affix loop (_split_affixes), the core
 * (special, URL, infixes: _attach_tokens), then the special-case merge pass
 * (_apply_special_cases with its PhraseMatcher).  Every token is a slice of
 * the input, so a span's tokenization is a list of cut lengths; like spaCy,
 * we cache those per span string (results are context-free, so the cache
 * changes speed only).  The cache is shared by all threads and bounded:
 * entries are immutable once published and never freed while tokenizing,
 * readers take no lock, and when it is full nothing more is added. */
#include <stdatomic.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "text/tokdata.h"
#include "text/tokint.h"
#include "core/util.h"

/* ---- shared, read-only after init ---- */

struct special {
	const char *key;
	uint32_t klen;
	int n;
	unsigned char len[8];
};

struct pattern {            /* a merge-pass key as unspecial tokens */
	int special;            /* index into specials */
	int n;                  /* tokens */
	uint16_t len[16];       /* token byte lengths; they tile the key */
};

static struct special *specials;
static int nspecials;
static int32_t *spec_tab;           /* open addressing: index or -1 */
static uint32_t spec_mask;
static uint64_t spec_filter[256];   /* bit min(len,63) for first byte */

static struct pattern *patterns;
static int npatterns;
static int32_t *pat_tab;            /* first-token hash: first pattern */
static int32_t *pat_next;           /* chain of patterns, same first token */
static uint32_t pat_mask;
static uint64_t pat_filter[256];

static pcre2_code *re_pre, *re_suf, *re_inf, *re_url;

/* The tail a suffix search must look at: no suffix alternative except
 * \.\.+ is longer than a few characters. */
#define SUFFIX_TAIL 16
#define CACHE_MAX_SPAN 64           /* longer spans are not cached */
#ifndef CACHE_BYTES
#define CACHE_BYTES (16u << 20)     /* span text + cuts, all threads */
#endif
#define CACHE_SLOTS (1u << 19)      /* 4 MB; at most half are used */

static uint64_t
hash(const char *s, size_t n)
{
	return XXH3_64bits(s, n);
}

static int
special_could(const char *s, size_t n)
{
	return n && spec_filter[(unsigned char)s[0]] >> (n < 63 ? n : 63) & 1;
}

/* hv: hash(s, n) */
static int
special_find_h(const char *s, size_t n, uint64_t hv)
{
	for (uint32_t h = (uint32_t)hv & spec_mask;; h = (h + 1) & spec_mask) {
		int32_t k = spec_tab[h];
		if (k < 0)
			return -1;
		if (specials[k].klen == n && !memcmp(specials[k].key, s, n))
			return k;
	}
}

static int
special_find(const char *s, size_t n)
{
	if (!special_could(s, n))
		return -1;
	return special_find_h(s, n, hash(s, n));
}

static void
special_add(const char *key, int n, const unsigned char *len)
{
	size_t kl = strlen(key);
	int32_t k = special_find(key, kl);

	if (k < 0) {
		k = nspecials++;
		uint32_t h = (uint32_t)hash(key, kl) & spec_mask;
		while (spec_tab[h] >= 0)
			h = (h + 1) & spec_mask;
		spec_tab[h] = k;
		spec_filter[(unsigned char)key[0]] |= 1ull << (kl < 63 ? kl : 63);
	}
	specials[k].key = key;
	specials[k].klen = (uint32_t)kl;
	specials[k].n = n;
	memcpy(specials[k].len, len, (size_t)n);
}

static pcre2_code *
re_compile(const char *pat, const char *what)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	                               PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);

	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof msg);
		die("tokenizer: %s pattern at offset %zu: %s", what, (size_t)off,
		    (char *)msg);
	}
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* else interpreted */
	return re;
}

/* ---- per thread ---- */

/* a cached span: key bytes, then ntok cut lengths */
struct centry { uint64_t h; uint8_t klen, ntok; unsigned char data[]; };

static _Atomic(struct centry *) *cache;      /* CACHE_SLOTS */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t cache_used, cache_bytes;
static char *cache_chunk;                    /* bump allocation */
static size_t cache_chunk_left;

struct match { uint32_t start, end; int pat; };

struct tok_spacy {
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
	struct tok_span *tok, *tok2;
	size_t ntok, cap, cap2;
	uint32_t *pre, *suf;
	size_t npre, nsuf, cappre, capsuf;
	struct match *m;
	size_t nm, capm;
	unsigned char *seen;
	size_t capseen;
	int with_specials;
};

static void
push_tok(struct tok_spacy *t, uint32_t off, uint32_t len)
{
	if (t->ntok == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->tok = xrealloc(t->tok, t->cap * sizeof *t->tok);
	}
	t->tok[t->ntok++] = (struct tok_span){ off, len, 0 };
}

static void
push_affix(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = x;
}

static int
re_match(struct tok_spacy *t, pcre2_code *re, const char *s, size_t n,
         size_t start, size_t *mb, size_t *me)
{
	int rc = pcre2_match(re, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK,
	                     t->md, t->mc);

	/* errors (match or JIT stack limits on pathological input) count as
	 * no match rather than a hang */
	if (rc < 0)
		return 0;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
	*mb = ov[0], *me = ov[1];
	return 1;
}

/* Facts of the data, used to skip a regex run (tests/tok.t compares with
 * a Python re reference): no prefix alternative starts with a-z or 0-9 (the
 * only ASCII letters that start one are the U, C, A of US$ C$ A$); no
 * suffix alternative ends with a digit, and those ending with an ASCII
 * letter are 's 'S ’s ’S and the units, which follow a digit within a few
 * bytes. */
static size_t
find_prefix(struct tok_spacy *t, const char *s, size_t n)
{
	size_t b, e;
	unsigned char c = (unsigned char)s[0];

	if ((unsigned)(c - 'a') < 26u || (unsigned)(c - '0') < 10u)
		return 0;

	return re_match(t, re_pre, s, n, 0, &b, &e) ? e - b : 0;
}

/* spaCy: suffix_search(s) = re.search over "alt1$|alt2$|...": the leftmost
 * start wins.  Only \.\.+ can be long, so search the last SUFFIX_TAIL code
 * points (lookbehinds still see the whole subject) and handle a long run
 * of dots at the end directly. */
static size_t
find_suffix(struct tok_spacy *t, const char *s, size_t n)
{
	size_t st = n, b, e;
	int k = 0;

	if (n == 0)     /* the span was all prefix: spaCy's search of "" */
		return 0;
	unsigned char c = (unsigned char)s[n - 1];
	if ((unsigned)(c - '0') < 10u)
		return 0;
	if ((unsigned)((c | 32) - 'a') < 26u) {
		int may = 0;
		if ((c | 32) == 's' && n >= 2 && (s[n - 2] == '\'' ||
		    (n >= 4 && !memcmp(s + n - 4, "\xE2\x80\x99", 3))))
			may = 1;
		for (size_t i = n > 8 ? n - 8 : 0; i < n && !may; i++)
			may = (unsigned)(s[i] - '0') < 10u;
		if (!may)
			return 0;
	}

	while (st > 0 && k < SUFFIX_TAIL) {
		st--;
		if (((unsigned char)s[st] & 0xC0) != 0x80)
			k++;
	}
	if (st > 0 && s[n - 1] == '.') {
		size_t r = n;
		while (r > 0 && s[r - 1] == '.')
			r--;
		if (r < st)
			return n - r;
	}
	return re_match(t, re_suf, s, n, st, &b, &e) ? e - b : 0;
}

static int
is_url(struct tok_spacy *t, const char *s, size_t n)
{
	size_t b, e;

	return re_match(t, re_url, s, n, 0, &b, &e);
}

static void
emit_special(struct tok_spacy *t, int k, uint32_t off)
{
	for (int i = 0; i < specials[k].n; i++) {
		push_tok(t, off, specials[k].len[i]);
		off += specials[k].len[i];
	}
}

/* _attach_tokens for the core s[0..n) at text offset off */
static void
attach_core(struct tok_spacy *t, const char *s, size_t n, uint32_t off)
{
	int k;
	size_t b, e, start = 0, pos = 0;

	if (t->with_specials && (k = special_find(s, n)) >= 0) {
		emit_special(t, k, off);
		return;
	}
	if (is_url(t, s, n)) {
		push_tok(t, off, (uint32_t)n);
		return;
	}
	while (pos <= n && re_match(t, re_inf, s, n, pos, &b, &e)) {
		if (b != 0) {                 /* a match at 0 is ignored */
			if (b != start)
				push_tok(t, off + (uint32_t)start, (uint32_t)(b - start));
			if (b != e)
				push_tok(t, off + (uint32_t)b, (uint32_t)(e - b));
			start = e;
		}
		if (e == b) {                 /* empty match: step one char */
			if (e >= n)
				break;
			int len;
			u8_get((const unsigned char *)s + e, &len);
			e += (size_t)len;
		}
		pos = e;
	}
	if (start < n)
		push_tok(t, off + (uint32_t)start, (uint32_t)(n - start));
}

static int
all_in(const char *s, size_t n, char lo, char hi)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return 1;
}

/* _split_affixes + _attach_tokens for one whitespace-delimited span */
static void
tokenize_full(struct tok_spacy *t, const char *s, size_t n, uint32_t off)
{
	size_t a = 0, z = n, last = (size_t)-1;
	int sp = t->with_specials;

	t->npre = t->nsuf = 0;
	while (z > a && z - a != last) {
		if (sp && special_find(s + a, z - a) >= 0)
			break;
		last = z - a;
		size_t pre = find_prefix(t, s + a, z - a);
		if (pre && z - a - pre > 0 && sp &&
		    special_find(s + a + pre, z - a - pre) >= 0) {
			push_affix(&t->pre, &t->npre, &t->cappre, (uint32_t)pre);
			a += pre;
			break;
		}
		size_t suf = find_suffix(t, s + a + pre, z - a - pre);
		if (suf && z - a - suf > 0 && sp &&
		    special_find(s + a, z - a - suf) >= 0) {
			push_affix(&t->suf, &t->nsuf, &t->capsuf, (uint32_t)suf);
			z -= suf;
			break;
		}
		if (pre)
			push_affix(&t->pre, &t->npre, &t->cappre, (uint32_t)pre);
		if (suf)
			push_affix(&t->suf, &t->nsuf, &t->capsuf, (uint32_t)suf);
		a += pre;
		z -= suf;
	}
	uint32_t o = off;
	for (size_t i = 0; i < t->npre; i++) {
		push_tok(t, o, t->pre[i]);
		o += t->pre[i];
	}
	if (z > a)
		attach_core(t, s + a, z - a, off + (uint32_t)a);
	o = off + (uint32_t)z;
	for (size_t i = t->nsuf; i-- > 0;) {
		push_tok(t, o, t->suf[i]);
		o += t->suf[i];
	}
}

static const struct centry *
cache_get(const char *s, size_t n, uint64_t h)
{
	for (uint32_t i = (uint32_t)h & (CACHE_SLOTS - 1);;
	     i = (i + 1) & (CACHE_SLOTS - 1)) {
		const struct centry *c =
			atomic_load_explicit(&cache[i], memory_order_acquire);
		if (!c)
			return NULL;
		if (c->h == h && c->klen == n && !memcmp(c->data, s, n))
			return c;
	}
}

static void
cache_put(const char *s, size_t n, uint64_t h, const struct tok_span *tok,
          size_t nt)
{
	size_t need = (sizeof(struct centry) + n + nt + 7) & ~(size_t)7;

	pthread_mutex_lock(&cache_mu);
	if (cache_used * 2 >= CACHE_SLOTS || cache_bytes + need > CACHE_BYTES)
		goto out;                     /* full: stays as it is */
	uint32_t i = (uint32_t)h & (CACHE_SLOTS - 1);
	for (;; i = (i + 1) & (CACHE_SLOTS - 1)) {
		const struct centry *c =
			atomic_load_explicit(&cache[i], memory_order_relaxed);
		if (!c)
			break;
		if (c->h == h && c->klen == n && !memcmp(c->data, s, n))
			goto out;             /* another thread was first */
	}
	if (cache_chunk_left < need) {
		cache_chunk_left = 1u << 20;
		cache_chunk = xmalloc(cache_chunk_left);   /* kept for good */
	}
	struct centry *e = (struct centry *)cache_chunk;
	cache_chunk += need;
	cache_chunk_left -= need;
	cache_bytes += need;
	e->h = h;
	e->klen = (uint8_t)n;
	e->ntok = (uint8_t)nt;
	memcpy(e->data, s, n);
	for (size_t k = 0; k < nt; k++)
		e->data[n + k] = (unsigned char)tok[k].len;
	atomic_store_explicit(&cache[i], e, memory_order_release);
	cache_used++;
out:
	pthread_mutex_unlock(&cache_mu);
}

static void
tokenize_span(struct tok_spacy *t, const char *s, size_t n, uint32_t off)
{
	int k, hashed = 0;
	uint64_t h = 0;

	if (t->with_specials && special_could(s, n)) {
		h = hash(s, n);
		hashed = 1;
		if ((k = special_find_h(s, n, h)) >= 0) {
			emit_special(t, k, off);
			return;
		}
	}
	/* no affix, URL or infix pattern matches these (see tok(1)) */
	if (all_in(s, n, 'a', 'z') || all_in(s, n, '0', '9') ||
	    (s[0] == '\n' && all_in(s, n, '\n', '\n'))) {
		push_tok(t, off, (uint32_t)n);
		return;
	}
	if (n > CACHE_MAX_SPAN || !t->with_specials) {
		tokenize_full(t, s, n, off);
		return;
	}
	if (!hashed)
		h = hash(s, n);
	const struct centry *c = cache_get(s, n, h);
	if (c) {
		const unsigned char *len = c->data + n;
		for (int i = 0; i < c->ntok; i++) {
			push_tok(t, off, len[i]);
			off += len[i];
		}
		return;
	}
	size_t first = t->ntok;
	tokenize_full(t, s, n, off);
	size_t nt = t->ntok - first;
	if (nt <= 255)
		cache_put(s, n, h, t->tok + first, nt);
}

/* _tokenize_affixes: the whitespace split.  A run of whitespace becomes a
 * span of its own, except that one U+0020 right after a non-space span is
 * absorbed as that token's trailing space. */
static void
split_spans(struct tok_spacy *t, const char *text, size_t n)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, start = 0;
	int len, in_ws;

	t->ntok = 0;
	if (!n)
		return;
	in_ws = cp_isspace(u8_get(s, &len)) != 0;
	while (i < n) {
		uint32_t c;
		if (!in_ws) {             /* skip ASCII non-space quickly */
			while (i < n && s[i] < 0x80 && !(tok_bmp_class[s[i]] & CC_SPACE))
				i++;
			if (i >= n)
				break;
		}
		if (s[i] < 0x80) {
			c = s[i];
			len = 1;
		} else {
			c = u8_get(s + i, &len);
		}
		if ((cp_isspace(c) != 0) != in_ws) {
			if (start < i)
				tokenize_span(t, text + start, i - start, (uint32_t)start);
			if (c == ' ') {
				t->tok[t->ntok - 1].sp = 1;
				start = i + 1;
			} else {
				start = i;
			}
			in_ws = !in_ws;
		}
		i += (size_t)len;
	}
	if (start < n) {
		tokenize_span(t, text + start, n - start, (uint32_t)start);
		t->tok[t->ntok - 1].sp = text[n - 1] == ' ' && !in_ws;
	}
}

/* ---- the merge pass (_apply_special_cases) ---- */

static int
tok_eq(const char *text, const struct tok_span *a, const char *s, size_t n)
{
	return a->len == n && !memcmp(text + a->off, s, n);
}

static int
match_cmp(const void *x, const void *y)
{
	const struct match *a = x, *b = y;
	uint32_t la = a->end - a->start, lb = b->end - b->start;

	/* longest first; among equal lengths the earlier start first */
	if (la != lb)
		return la > lb ? -1 : 1;
	return a->start < b->start ? -1 : a->start > b->start;
}

static int
start_cmp(const void *x, const void *y)
{
	const struct match *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

static void
merge_pass(struct tok_spacy *t, const char *text)
{
	t->nm = 0;
	for (size_t i = 0; i < t->ntok; i++) {
		const struct tok_span *a = &t->tok[i];
		unsigned char c0 = (unsigned char)text[a->off];
		if (!(pat_filter[c0] >> (a->len < 63 ? a->len : 63) & 1))
			continue;
		const char *s = text + a->off;
		for (uint32_t h = (uint32_t)hash(s, a->len) & pat_mask;;
		     h = (h + 1) & pat_mask) {
			int32_t p = pat_tab[h];
			if (p < 0)
				break;
			const struct special *k = &specials[patterns[p].special];
			if (!(patterns[p].len[0] == a->len &&
			      !memcmp(k->key, s, a->len)))
				continue;
			for (; p >= 0; p = pat_next[p]) {
				const struct pattern *q = &patterns[p];
				const char *key = specials[q->special].key;
				if (i + (size_t)q->n > t->ntok)
					continue;
				size_t o = q->len[0];
				int j;
				for (j = 1; j < q->n; j++) {
					if (!tok_eq(text, &t->tok[i + j], key + o, q->len[j]))
						break;
					o += q->len[j];
				}
				if (j < q->n)
					continue;
				if (t->nm == t->capm) {
					t->capm = t->capm ? 2 * t->capm : 64;
					t->m = xrealloc(t->m, t->capm * sizeof *t->m);
				}
				t->m[t->nm++] = (struct match){ (uint32_t)i,
					(uint32_t)(i + q->n), p };
			}
			break;
		}
	}
	if (!t->nm)
		return;
	qsort(t->m, t->nm, sizeof *t->m, match_cmp);
	if (t->capseen < t->ntok) {
		t->capseen = t->ntok;
		t->seen = xrealloc(t->seen, t->capseen);
	}
	memset(t->seen, 0, t->ntok);
	/* _filter_special_spans: a span whose first or last token was seen is
	 * dropped; every span, kept or not, marks its tokens seen.  Kept spans
	 * are tagged by start in seen[] as 2 + index into m. */
	size_t kept = 0;
	for (size_t i = 0; i < t->nm; i++) {
		struct match *m = &t->m[i];
		int ok = !t->seen[m->start] && !t->seen[m->end - 1];
		for (uint32_t j = m->start; j < m->end; j++)
			t->seen[j] = 1;
		if (ok)
			t->m[kept++] = *m;
	}
	qsort(t->m, kept, sizeof *t->m, start_cmp);
	if (t->cap2 < t->ntok + 16 * kept) {
		t->cap2 = t->ntok + 16 * kept;
		t->tok2 = xrealloc(t->tok2, t->cap2 * sizeof *t->tok2);
	}
	/* mark starts: reuse seen[] as "start of kept span i" */
	memset(t->seen, 0, t->ntok);
	for (size_t i = 0; i < kept; i++)
		t->seen[t->m[i].start] = 1;
	size_t o = 0, mi = 0;
	for (size_t i = 0; i < t->ntok;) {
		if (!t->seen[i]) {
			t->tok2[o++] = t->tok[i++];
			continue;
		}
		struct match *m = &t->m[mi++];
		/* span.text must be a rule: tokens joined with their spaces */
		int spaced = 0;
		for (uint32_t j = m->start; j + 1 < m->end; j++)
			spaced |= t->tok[j].sp;
		if (spaced) {
			for (uint32_t j = m->start; j < m->end; j++)
				t->tok2[o++] = t->tok[j];
		} else {
			const struct special *k = &specials[patterns[m->pat].special];
			uint32_t off = t->tok[m->start].off;
			for (int j = 0; j < k->n; j++) {
				t->tok2[o++] = (struct tok_span){ off, k->len[j], 0 };
				off += k->len[j];
			}
			t->tok2[o - 1].sp = t->tok[m->end - 1].sp;
		}
		i = m->end;
	}
	struct tok_span *x = t->tok;
	t->tok = t->tok2;
	t->tok2 = x;
	size_t c = t->cap;
	t->cap = t->cap2;
	t->cap2 = c;
	t->ntok = o;
}

size_t
tok_spacy_run(struct tok_spacy *t, const char *text, size_t n,
              const struct tok_span **out)
{
	t->with_specials = 1;
	split_spans(t, text, n);
	if (t->ntok)
		merge_pass(t, text);
	*out = t->tok;
	return t->ntok;
}

struct tok_spacy *
tok_spacy_new(void)
{
	struct tok_spacy *t = xcalloc(1, sizeof *t);

	tok_spacy_global_init();
	t->md = pcre2_match_data_create(16, NULL);
	t->mc = pcre2_match_context_create(NULL);
	t->js = pcre2_jit_stack_create(32 << 10, 4 << 20, NULL);
	if (!t->md || !t->mc || !t->js)
		die("tokenizer: out of memory");
	pcre2_jit_stack_assign(t->mc, NULL, t->js);
	pcre2_set_match_limit(t->mc, 10000000);
	pcre2_set_depth_limit(t->mc, 100000);
	return t;
}

void
tok_spacy_free(struct tok_spacy *t)
{
	if (!t)
		return;
	pcre2_match_data_free(t->md);
	pcre2_match_context_free(t->mc);
	pcre2_jit_stack_free(t->js);
	free(t->tok);
	free(t->tok2);
	free(t->pre);
	free(t->suf);
	free(t->m);
	free(t->seen);
	free(t);
}

/* ---- global init ---- */

static void
build_patterns(void)
{
	struct tok_spacy *t = xcalloc(1, sizeof *t);

	t->md = pcre2_match_data_create(16, NULL);
	t->mc = pcre2_match_context_create(NULL);
	patterns = xcalloc((size_t)spacy_matcher_keys_n, sizeof *patterns);
	pat_mask = 1023;
	pat_tab = xmalloc((pat_mask + 1) * sizeof *pat_tab);
	pat_next = xmalloc((size_t)spacy_matcher_keys_n * sizeof *pat_next);
	memset(pat_tab, 0xff, (pat_mask + 1) * sizeof *pat_tab);
	for (int i = 0; i < spacy_matcher_keys_n; i++) {
		const char *key = spacy_matcher_keys[i];
		size_t kl = strlen(key);
		int k = special_find(key, kl);
		if (k < 0)
			die("tokenizer: merge key is not a special case");
		/* _tokenize_affixes(key, with_special_cases=False) */
		t->with_specials = 0;
		split_spans(t, key, kl);
		if (t->ntok == 0 || t->ntok > 16)
			die("tokenizer: merge key of %zu tokens", t->ntok);
		struct pattern *p = &patterns[npatterns];
		p->special = k;
		p->n = (int)t->ntok;
		for (size_t j = 0; j < t->ntok; j++)
			p->len[j] = (uint16_t)t->tok[j].len;
		/* chain after an existing pattern with the same first token */
		uint32_t h = (uint32_t)hash(key, p->len[0]) & pat_mask;
		int32_t q = -1;
		for (;; h = (h + 1) & pat_mask) {
			q = pat_tab[h];
			if (q < 0)
				break;
			if (patterns[q].len[0] == p->len[0] &&
			    !memcmp(specials[patterns[q].special].key, key, p->len[0]))
				break;
		}
		pat_next[npatterns] = -1;
		if (q < 0) {
			pat_tab[h] = npatterns;
		} else {
			while (pat_next[q] >= 0)
				q = pat_next[q];
			pat_next[q] = npatterns;
		}
		pat_filter[(unsigned char)key[0]] |=
			1ull << (p->len[0] < 63 ? p->len[0] : 63);
		npatterns++;
	}
	tok_spacy_free(t);
}

static pthread_once_t spacy_once = PTHREAD_ONCE_INIT;

static void
spacy_init(void)
{
	tok_classes_init();
	cache = xcalloc(CACHE_SLOTS, sizeof *cache);
	re_pre = re_compile(spacy_prefix_re, "prefix");
	re_suf = re_compile(spacy_suffix_re, "suffix");
	re_inf = re_compile(spacy_infix_re, "infix");
	re_url = re_compile(spacy_url_re, "url");
	int cap = spacy_exceptions_n + spacy_fastai_specials_n;
	specials = xcalloc((size_t)cap, sizeof *specials);
	spec_mask = 4095;
	while (spec_mask < (uint32_t)cap * 4)
		spec_mask = spec_mask * 2 + 1;
	spec_tab = xmalloc(((size_t)spec_mask + 1) * sizeof *spec_tab);
	memset(spec_tab, 0xff, ((size_t)spec_mask + 1) * sizeof *spec_tab);
	for (int i = 0; i < spacy_exceptions_n; i++)
		special_add(spacy_exceptions[i].key, spacy_exceptions[i].n,
		            spacy_exceptions[i].len);
	for (int i = 0; i < spacy_fastai_specials_n; i++) {
		unsigned char l = (unsigned char)strlen(spacy_fastai_specials[i]);
		special_add(spacy_fastai_specials[i], 1, &l);
	}
	build_patterns();
}

void
tok_spacy_global_init(void)
{
	pthread_once(&spacy_once, spacy_init);
}
