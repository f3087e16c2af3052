/* vocab.c: fastai's vocab: building, reading, writing, itos pickles (see
 * vocab.h). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "torch/pickle.h"
#include "text/tokfile.h"
#include "core/util.h"
#include "data/vocab.h"

const char *const vocab_specials[TK_NSPECIAL] = {
	"xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep",
	"xxup", "xxmaj",
};

static uint32_t
table_size(uint32_t n)
{
	uint32_t sz = 16;

	while (sz < 2 * (uint64_t)n + 2)
		sz *= 2;
	return sz;
}

static uint64_t
hash_tok(const char *t, size_t len)
{
	return XXH3_64bits(t, len);
}

/* Index the tokens; the first occurrence of a duplicate wins, and xxfake
 * is left out (it must map to 0, as in fastai's o2i). */
static void
vocab_index(struct vocab *v)
{
	uint32_t sz = table_size(v->n);

	v->mask = sz - 1;
	v->slot = xcalloc(sz, sizeof *v->slot);
	for (uint32_t i = 0; i < v->n; i++) {
		uint64_t h;

		if (!strcmp(v->tok[i], VOCAB_FAKE))
			continue;
		h = hash_tok(v->tok[i], v->len[i]);
		for (uint32_t s = h & v->mask;; s = (s + 1) & v->mask) {
			uint32_t k = v->slot[s];
			if (!k) {
				v->slot[s] = i + 1;
				break;
			}
			if (v->len[k - 1] == v->len[i] &&
			    !memcmp(v->tok[k - 1], v->tok[i], v->len[i]))
				break;  /* duplicate: keep the first */
		}
	}
}

uint32_t
vocab_id(const struct vocab *v, const char *t, size_t len)
{
	uint64_t h = hash_tok(t, len);

	for (uint32_t s = h & v->mask;; s = (s + 1) & v->mask) {
		uint32_t k = v->slot[s];
		if (!k)
			return TK_UNK;
		if (v->len[k - 1] == len && !memcmp(v->tok[k - 1], t, len))
			return k - 1;
	}
}

/* mem holds the tokens, each followed by '\n' (the file image); split it
 * into NUL-terminated strings in place. */
static struct vocab *
vocab_from_image(char *mem, size_t size, const char *name)
{
	struct vocab *v = xcalloc(1, sizeof *v);
	uint32_t cap = 0, line = 0;
	char *p = mem, *end = mem + size;

	v->xxh64 = XXH64(mem, size, 0);
	v->mem = mem;
	while (p < end) {
		char *nl = memchr(p, '\n', end - p);
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		line++;
		if (!l)
			die("%s: line %u is empty; a vocab has one token a line"
			    " (make one with numz -w)", name, line);
		if (memchr(p, 0, l) || memchr(p, '\t', l))
			die("%s: line %u holds a NUL or TAB byte; not a vocab"
			    " file (make one with numz -w)", name, line);
		if (v->n == UINT32_MAX - 1)
			die("%s: too many tokens", name);
		if (v->n == cap) {
			cap = cap ? 2 * cap : 1024;
			v->tok = xrealloc(v->tok, cap * sizeof *v->tok);
			v->len = xrealloc(v->len, cap * sizeof *v->len);
		}
		p[l] = 0;   /* the '\n', or the spare byte after the image */
		v->tok[v->n] = p;
		v->len[v->n++] = (uint32_t)l;
		p += l + 1;
	}
	if (!v->n)
		die("%s: empty vocab; make one with numz -w", name);
	vocab_index(v);
	return v;
}

void
vocab_check_specials(const struct vocab *v, const char *name)
{
	uint32_t seen = 0;
	if (v->n < TK_NSPECIAL)
		die("%s: %u token%s; a vocab starts with fastai's %d special "
		    "tokens (xxunk xxpad xxbos ...); make one with numz -w",
		    name, v->n, v->n == 1 ? "" : "s", TK_NSPECIAL);
	for (uint32_t i = 0; i < TK_NSPECIAL; i++) {
		int k = -1;
		for (int j = 0; j < TK_NSPECIAL; j++)
			if (!strcmp(v->tok[i], vocab_specials[j]))
				k = j;
		if (k < 0 || (seen >> k & 1) || (i <= TK_PAD && k != (int)i))
			die("%s: id %u is \"%.40s\", not %s; a vocab starts "
			    "with fastai's %d special tokens (xxunk xxpad "
			    "xxbos ...); make one with numz -w", name, i,
			    v->tok[i], i <= TK_PAD ? vocab_specials[i] :
			    "one of the special tokens", TK_NSPECIAL);
		seen |= 1u << k;
	}
}

static const char *const pv_kind_name[] = {
	"None", "bool", "int", "float", "str", "bytes", "tuple", "list",
	"dict", "global", "object", "storage", "tensor",
};

/* fastai's itos .pkl: a pickled list of str (a fastcore L is accepted
 * too, pv_items reads it).  Each str is escaped as a .tok token and the
 * whole is laid out as vocab_write would write it, so the vocab's xxh64
 * is that of its text form: converting the .pkl keeps its identity. */
static struct vocab *
vocab_from_pickle(const char *mem, size_t size, const char *name)
{
	struct pv_pool pool = { 0 };
	struct pk_reader r = { &pool, NULL, NULL, NULL };
	struct buf img = { 0 };
	char *err = NULL;
	size_t used, n;

	struct pv *v = pk_load(&r, (const unsigned char *)mem, size, &used,
	                       &err);
	if (!v)
		die("%s: %s; expected fastai's itos .pkl (a pickled list of "
		    "strings)", name, err);
	struct pv *const *it = pv_items(v, &n);
	if (!it)
		die("%s: the pickle holds a %s, not a list of strings; expected "
		    "fastai's itos .pkl%s", name, v->kind >= 0 &&
		    v->kind <= PV_TENSOR ? pv_kind_name[v->kind] : "value",
		    v->kind == PV_INT ? " (is this a legacy .pth file?)" : "");
	if (!n)
		die("%s: the pickled list is empty; expected fastai's itos .pkl",
		    name);
	if (n >= UINT32_MAX - 1)
		die("%s: too many tokens", name);
	for (size_t i = 0; i < n; i++) {
		if (it[i]->kind != PV_STR)
			die("%s: item %zu of the pickled list is a %s, not a "
			    "string; expected fastai's itos .pkl", name, i,
			    it[i]->kind >= 0 && it[i]->kind <= PV_TENSOR ?
			    pv_kind_name[it[i]->kind] : "value");
		if (!it[i]->len)
			die("%s: item %zu of the pickled list is an empty "
			    "string, which a vocab cannot hold", name, i);
		tok_escape(&img, it[i]->s, it[i]->len);
		buf_addc(&img, '\n');
	}
	buf_grow(&img, 1);   /* room for the NUL of the last line */
	pv_pool_free(&pool);
	return vocab_from_image(img.p, img.n, name);
}

struct vocab *
vocab_load(const char *path)
{
	FILE *f = open_in(path);
	size_t n = 0, cap = 1 << 16, got;
	char *mem = xmalloc(cap + 1);

	while ((got = fread(mem + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			mem = xrealloc(mem, cap + 1);
		}
	}
	close_in(f, path);
	/* A pickle starts with PROTO (0x80, then the protocol); no UTF-8
	 * text does, as 0x80 is a continuation byte. */
	if (n >= 2 && (unsigned char)mem[0] == 0x80) {
		struct vocab *v = vocab_from_pickle(mem, n, path);
		free(mem);
		return v;
	}
	/* a protocol 0 pickle of a list ("(lp0\nVxxunk\n..." or Python 2's
	 * "(lp0\nS'xxunk'..."), or protocol 1 ("]q\0(X..."; "](" when
	 * unmemoised): not vocabs, and this machine reads neither */
	if (n >= 4 && (!memcmp(mem, "(lp", 3) || !memcmp(mem, "]q\0", 3) ||
	               !memcmp(mem, "](", 2)))
		die("%s: a protocol %d pickle, not a vocab; re-save the list "
		    "with pickle protocol 2 or newer", path, mem[0] == ']');
	return vocab_from_image(mem, n, path);
}

struct vocab *
vocab_from_list(const char *const *tok, uint32_t n)
{
	struct buf b = {0};

	for (uint32_t i = 0; i < n; i++) {
		buf_adds(&b, tok[i]);
		buf_addc(&b, '\n');
	}
	buf_grow(&b, 1);   /* room for the NUL of a last line */
	return vocab_from_image(b.p, b.n, "vocab");
}

void
vocab_free(struct vocab *v)
{
	if (!v)
		return;
	free(v->tok);
	free(v->len);
	free(v->slot);
	free(v->mem);
	free(v);
}

void
vocab_write(const struct vocab *v, FILE *f, const char *name)
{
	for (uint32_t i = 0; i < v->n; i++)
		if (fwrite(v->tok[i], 1, v->len[i], f) != v->len[i] ||
		    putc('\n', f) == EOF)
			die("%s: write error:", name);
}

/* ---- counting ------------------------------------------------------------ */

void
counter_init(struct counter *c)
{
	memset(c, 0, sizeof *c);
	c->mask = 1023;
	c->slot = xcalloc(c->mask + 1, sizeof *c->slot);
}

static void
counter_rehash(struct counter *c)
{
	uint32_t sz = (c->mask + 1) * 2;

	free(c->slot);
	c->slot = xcalloc(sz, sizeof *c->slot);
	c->mask = sz - 1;
	for (uint32_t i = 0; i < c->n; i++) {
		uint32_t s = hash_tok(c->tok[i], c->len[i]) & c->mask;
		while (c->slot[s])
			s = (s + 1) & c->mask;
		c->slot[s] = i + 1;
	}
}

void
counter_add(struct counter *c, const char *t, size_t len)
{
	counter_add_n(c, t, len, 1);
}

void
counter_add_n(struct counter *c, const char *t, size_t len, uint64_t n)
{
	uint32_t s = hash_tok(t, len) & c->mask;

	if (c->total > UINT64_MAX - n)
		die("more than 2^64 tokens counted");
	c->total += n;
	for (;; s = (s + 1) & c->mask) {
		uint32_t k = c->slot[s];
		if (!k)
			break;
		if (c->len[k - 1] == len && !memcmp(c->tok[k - 1], t, len)) {
			c->count[k - 1] += n;   /* <= total: no overflow */
			return;
		}
	}
	if (c->n == UINT32_MAX - 1)
		die("more than 4 billion distinct tokens");
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->tok = xrealloc(c->tok, c->cap * sizeof *c->tok);
		c->len = xrealloc(c->len, c->cap * sizeof *c->len);
		c->count = xrealloc(c->count, c->cap * sizeof *c->count);
	}
	c->tok[c->n] = xmalloc(len + 1);
	memcpy(c->tok[c->n], t, len);
	c->tok[c->n][len] = 0;
	c->len[c->n] = (uint32_t)len;
	c->count[c->n] = n;
	c->slot[s] = ++c->n;
	if (2 * (uint64_t)c->n > c->mask)
		counter_rehash(c);
}

#define COUNTS_MAGIC "#numz counts 1"

void
counter_write(const struct counter *c, FILE *f, const char *name)
{
	if (fprintf(f, "%s\n", COUNTS_MAGIC) < 0)
		die("%s: write error:", name);
	for (uint32_t i = 0; i < c->n; i++)
		if (fwrite(c->tok[i], 1, c->len[i], f) != c->len[i] ||
		    fprintf(f, "\t%llu\n", (unsigned long long)c->count[i]) < 0)
			die("%s: write error:", name);
	if (fprintf(f, "#end %llu %lu\n", (unsigned long long)c->total,
	            (unsigned long)c->n) < 0)
		die("%s: write error:", name);
}

/* a decimal without sign, spaces or leading zeros, > 0 unless zero_ok */
static int
parse_count(const char *s, uint64_t *v, int zero_ok)
{
	uint64_t x = 0;

	if (!*s || (*s == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - (*s - '0')) / 10)
			return -1;
		x = x * 10 + (*s - '0');
	}
	*v = x;
	return x || zero_ok ? 0 : -1;
}

void
counter_read(struct counter *c, FILE *f, const char *name)
{
	struct buf line = {0};
	struct counter own;     /* this file alone: its totals, no repeats */
	uint64_t lineno = 1, total, n;
	int ended = 0;

	if (!read_line(f, name, &line) || strlen(line.p) != line.n ||
	    strcmp(line.p, COUNTS_MAGIC))
		die("%s: not a counts file (make it with numz -c)", name);
	counter_init(&own);
	while (read_line(f, name, &line)) {
		char *tab = memchr(line.p, '\t', line.n), *sp;
		lineno++;
		if (strlen(line.p) != line.n)
			die("%s: line %llu: a NUL byte", name,
			    (unsigned long long)lineno);
		if (ended)
			die("%s: line %llu: text after the #end line", name,
			    (unsigned long long)lineno);
		if (!tab && !strncmp(line.p, "#end ", 5) &&
		    (sp = strchr(line.p + 5, ' '))) {
			*sp = 0;
			if (parse_count(line.p + 5, &total, 1) ||
			    parse_count(sp + 1, &n, 1) || total != own.total ||
			    n != own.n)
				die("%s: line %llu: the #end line does not match "
				    "the counts above it", name,
				    (unsigned long long)lineno);
			ended = 1;
			continue;
		}
		if (!tab || tab == line.p || strpbrk(tab + 1, "\t") || memchr(line.p, ' ', tab - line.p) ||
		    parse_count(tab + 1, &n, 0))
			die("%s: line %llu: not \"token TAB count\"", name,
			    (unsigned long long)lineno);
		size_t len = tab - line.p;
		uint32_t before = own.n;
		counter_add_n(&own, line.p, len, n);
		if (own.n == before)
			die("%s: line %llu: %.*s is counted twice", name,
			    (unsigned long long)lineno, (int)len, line.p);
		counter_add_n(c, line.p, len, n);
	}
	if (!ended)
		die("%s: cut short: no #end line", name);
	counter_free(&own);
	buf_free(&line);
}

void
counter_free(struct counter *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		free(c->tok[i]);
	free(c->tok);
	free(c->len);
	free(c->count);
	free(c->slot);
	memset(c, 0, sizeof *c);
}

static const struct counter *sort_c;

/* count descending, then first occurrence: Counter.most_common's stable
 * sort, made explicit so qsort's instability does not matter. */
static int
by_count(const void *a, const void *b)
{
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	uint64_t ci = sort_c->count[i], cj = sort_c->count[j];

	if (ci != cj)
		return ci > cj ? -1 : 1;
	return i < j ? -1 : i > j;
}

static int
is_special(const char *t)
{
	for (int i = 0; i < TK_NSPECIAL; i++)
		if (!strcmp(t, vocab_specials[i]))
			return 1;
	return 0;
}

struct vocab *
vocab_build(const struct counter *c, uint32_t max_vocab, uint64_t min_freq)
{
	uint32_t *idx = xmalloc(((size_t)c->n + 1) * sizeof *idx);
	uint32_t take = c->n < max_vocab ? c->n : max_vocab, n = 0, nfake;
	const char **list;
	struct vocab *v;

	for (uint32_t i = 0; i < c->n; i++)
		idx[i] = i;
	sort_c = c;
	qsort(idx, c->n, sizeof *idx, by_count);
	/* room for specials + take words + up to 8 fakes */
	list = xmalloc(((size_t)take + TK_NSPECIAL + 8) * sizeof *list);
	for (int i = 0; i < TK_NSPECIAL; i++)
		list[n++] = vocab_specials[i];
	for (uint32_t i = 0; i < take; i++) {
		uint32_t k = idx[i];
		if (c->count[k] < min_freq || is_special(c->tok[k]))
			continue;
		list[n++] = c->tok[k];
	}
	if (n > max_vocab)
		n = max_vocab;
	nfake = 8 - n % 8;
	for (uint32_t i = 0; i < nfake; i++)
		list[n++] = VOCAB_FAKE;
	v = vocab_from_list(list, n);
	free(list);
	free(idx);
	return v;
}

uint32_t
vocab_encode(const struct vocab *v, char *const *tok, size_t n, uint32_t *ids)
{
	uint32_t nunk = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(tok[i]);
		ids[i] = vocab_id(v, tok[i], l);
		nunk += ids[i] == TK_UNK && strcmp(tok[i], "xxunk");
	}
	return nunk;
}
