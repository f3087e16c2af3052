/* bpe.c: GPT-2's byte-level BPE (see bpe.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "text/bpe.h"
#include "text/docsrc.h"
#include "core/util.h"

/* GPT-2's pattern with \s spelt out as Python's: the Unicode White_Space
 * characters.  PCRE2's \s also takes U+180E (not White_Space since
 * Unicode 6.3); JavaScript's also takes U+FEFF and not U+0085. */
#define WS "\\t\\n\\x0B\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}" \
           "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char gpt2_pat[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
	"|[" WS "]+(?![^" WS "])|[" WS "]+";

struct pairent { uint64_t key; uint32_t rank, id; int used; };

struct bpe {
	uint32_t n;             /* ids 0..n-1 */
	char **tok;             /* id -> bytes (NULL: hole) */
	uint32_t *len;
	uint32_t *htab;         /* bytes -> id+1 (0: empty), open addressing */
	size_t hcap;
	struct pairent *ptab;   /* (a,b) -> rank, merged id */
	size_t pcap;
	uint32_t byte_id[256];
	pcre2_code *re;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
	/* scratch */
	char *san; size_t *map; size_t sancap;
	struct sym { uint32_t id; int32_t prev, next; } *sym; size_t symcap;
	struct hent { uint32_t rank; int32_t pos; uint32_t a, b; } *heap;
	size_t heapcap;
};

/* ---- GPT-2's bytes_to_unicode ---- */
static uint16_t b2u[256];
static int16_t u2b[512];

static void
byte_map_init(void)
{
	int n = 0;
	for (int c = 0; c < 512; c++)
		u2b[c] = -1;
	for (int b = 0; b < 256; b++) {
		int keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
		           (b >= 0xAE && b <= 0xFF);
		b2u[b] = keep ? b : 256 + n++;
		u2b[b2u[b]] = (int16_t)b;
	}
}

/* the bytes a vocab/merges string stands for; -1 if a character is not
 * one of the 256 byte characters */
static int
unmap(const char *s, size_t n, struct buf *out)
{
	out->n = 0;
	for (size_t i = 0; i < n;) {
		unsigned c = (unsigned char)s[i];
		uint32_t cp;
		if (c < 0x80)
			cp = c, i += 1;
		else if ((c & 0xE0) == 0xC0 && i + 1 < n)
			cp = (c & 0x1F) << 6 | (s[i + 1] & 0x3F), i += 2;
		else
			return -1;      /* every byte character is < U+0800 */
		if (cp >= 512 || u2b[cp] < 0)
			return -1;
		buf_addc(out, (char)u2b[cp]);
	}
	return 0;
}

static uint64_t
hstr(const char *s, size_t n)
{
	return XXH3_64bits(s, n);
}

int64_t
bpe_lookup(const struct bpe *b, const char *s, size_t n)
{
	size_t m = b->hcap - 1, i = hstr(s, n) & m;
	for (; b->htab[i]; i = (i + 1) & m) {
		uint32_t id = b->htab[i] - 1;
		if (b->len[id] == n && !memcmp(b->tok[id], s, n))
			return id;
	}
	return -1;
}

static void
hput(struct bpe *b, uint32_t id)
{
	size_t m = b->hcap - 1, i = hstr(b->tok[id], b->len[id]) & m;
	while (b->htab[i])
		i = (i + 1) & m;
	b->htab[i] = id + 1;
}

static struct pairent *
pslot(const struct bpe *b, uint64_t key)
{
	size_t m = b->pcap - 1, i = XXH3_64bits(&key, sizeof key) & m;
	while (b->ptab[i].used && b->ptab[i].key != key)
		i = (i + 1) & m;
	return &b->ptab[i];
}

static void
slurp(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s:", path);
	out->n = 0;
	read_all(fd, path, out);
	close(fd);
	buf_addc(out, 0);
	out->n--;
}

static size_t
pow2_above(size_t n)
{
	size_t c = 16;
	while (c < 2 * n)
		c <<= 1;
	return c;
}

struct bpe *
bpe_load(const char *vocab_json, const char *merges)
{
	struct bpe *b = xcalloc(1, sizeof *b);
	struct buf f = {0}, t = {0};

	if (!b2u['!'])
		byte_map_init();
	slurp(vocab_json, &f);
	cJSON *root = cJSON_ParseWithLength(f.p, f.n);
	if (!root || !cJSON_IsObject(root))
		die("%s: not a JSON object (a GPT-2 encoder.json/vocab.json)",
		    vocab_json);
	size_t cnt = 0;
	uint32_t maxid = 0;
	for (cJSON *e = root->child; e; e = e->next, cnt++) {
		double v = e->valuedouble;
		if (!cJSON_IsNumber(e) || v < 0 || v > (1 << 30) || v != (int)v)
			die("%s: token \"%s\": id is not an integer in 0..2^30",
			    vocab_json, e->string);
		if ((uint32_t)v > maxid)
			maxid = (uint32_t)v;
	}
	if (!cnt)
		die("%s: empty vocabulary", vocab_json);
	b->n = maxid + 1;
	b->tok = xcalloc(b->n, sizeof *b->tok);
	b->len = xcalloc(b->n, sizeof *b->len);
	b->hcap = pow2_above(cnt);
	b->htab = xcalloc(b->hcap, sizeof *b->htab);
	for (cJSON *e = root->child; e; e = e->next) {
		uint32_t id = (uint32_t)e->valuedouble;
		if (unmap(e->string, strlen(e->string), &t))
			die("%s: token \"%s\" is not made of GPT-2's byte "
			    "characters", vocab_json, e->string);
		if (b->tok[id])
			die("%s: id %u given to two tokens", vocab_json, id);
		if (bpe_lookup(b, t.p ? t.p : "", t.n) >= 0)
			die("%s: token \"%s\" appears twice", vocab_json,
			    e->string);
		b->tok[id] = xmalloc(t.n + 1);
		memcpy(b->tok[id], t.p ? t.p : "", t.n);
		b->tok[id][t.n] = 0;
		b->len[id] = (uint32_t)t.n;
		hput(b, id);
	}
	cJSON_Delete(root);
	for (int c = 0; c < 256; c++) {
		char ch = (char)c;
		int64_t id = bpe_lookup(b, &ch, 1);
		if (id < 0)
			die("%s: no token for byte 0x%02x (not a byte-level "
			    "BPE vocabulary)", vocab_json, c);
		b->byte_id[c] = (uint32_t)id;
	}

	/* merges: first line "#version: ...", then "a b" per line; a
	 * repeated pair takes its later rank (Python's dict(zip(...))) */
	slurp(merges, &f);
	size_t lines = 1;
	for (size_t i = 0; i < f.n; i++)
		lines += f.p[i] == '\n';
	b->pcap = pow2_above(lines);
	b->ptab = xcalloc(b->pcap, sizeof *b->ptab);
	uint32_t rank = 0;
	struct buf u = {0};
	size_t ln = 0;
	for (char *p = f.p, *end = f.p + f.n; p < end; ln++) {
		char *nl = memchr(p, '\n', end - p), *le = nl ? nl : end;
		char *line = p;
		p = nl ? nl + 1 : end;
		if (ln == 0 && le - line >= 1 && line[0] == '#')
			continue;
		/* split on whitespace (str.split()) */
		char *w[3];
		size_t wl[3];
		int nw = 0;
		for (char *q = line; q < le && nw < 3;) {
			while (q < le && strchr(" \t\r\f\v", *q))
				q++;
			if (q == le)
				break;
			w[nw] = q;
			while (q < le && !strchr(" \t\r\f\v", *q))
				q++;
			wl[nw] = q - w[nw];
			nw++;
		}
		if (nw == 0)
			continue;
		if (nw != 2)
			die("%s: line %zu: want two tokens \"a b\"", merges,
			    ln + 1);
		int64_t ida, idb, idm;
		if (unmap(w[0], wl[0], &t) || (ida = bpe_lookup(b, t.p, t.n)) < 0 ||
		    (buf_add(&u, t.p, t.n), 0) || unmap(w[1], wl[1], &t) ||
		    (idb = bpe_lookup(b, t.p, t.n)) < 0)
			die("%s: line %zu: a token of the merge is not in %s",
			    merges, ln + 1, vocab_json);
		buf_add(&u, t.p, t.n);
		if ((idm = bpe_lookup(b, u.p, u.n)) < 0)
			die("%s: line %zu: the merged token is not in %s",
			    merges, ln + 1, vocab_json);
		u.n = 0;
		uint64_t key = (uint64_t)ida << 32 | (uint64_t)idb;
		struct pairent *pe = pslot(b, key);
		pe->key = key, pe->used = 1;
		pe->rank = rank++, pe->id = (uint32_t)idm;
	}
	free(f.p), free(t.p), free(u.p);

	int err;
	PCRE2_SIZE eoff;
	b->re = pcre2_compile((PCRE2_SPTR)gpt2_pat, PCRE2_ZERO_TERMINATED,
	                      PCRE2_UTF | PCRE2_UCP, &err, &eoff, NULL);
	if (!b->re)
		die("bpe: regex does not compile (PCRE2 error %d)", err);
	pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE);
	b->md = pcre2_match_data_create(4, NULL);
	b->mc = pcre2_match_context_create(NULL);
	b->js = pcre2_jit_stack_create(32 << 10, 4 << 20, NULL);
	pcre2_jit_stack_assign(b->mc, NULL, b->js);
	return b;
}

static int
is_file(const char *dir, const char *name, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", dir, name);
	return access(path, R_OK) == 0;
}

struct bpe *
bpe_load_dir(const char *dir)
{
	char v[4096], m[4096];
	if (is_file(dir, "vocab.json", v, sizeof v) &&
	    is_file(dir, "merges.txt", m, sizeof m))
		return bpe_load(v, m);
	if (is_file(dir, "encoder.json", v, sizeof v) &&
	    is_file(dir, "vocab.bpe", m, sizeof m))
		return bpe_load(v, m);
	die("%s: no GPT-2 tokenizer files (vocab.json + merges.txt, or "
	    "encoder.json + vocab.bpe)", dir);
}

void
bpe_free(struct bpe *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->n; i++)
		free(b->tok[i]);
	free(b->tok), free(b->len), free(b->htab), free(b->ptab);
	pcre2_match_data_free(b->md);
	pcre2_match_context_free(b->mc);
	pcre2_jit_stack_free(b->js);
	pcre2_code_free(b->re);
	free(b->san), free(b->map), free(b->sym), free(b->heap);
	free(b);
}

uint32_t bpe_size(const struct bpe *b) { return b->n; }

const char *
bpe_token(const struct bpe *b, uint32_t id, size_t *len)
{
	if (id >= b->n || !b->tok[id])
		return NULL;
	*len = b->len[id];
	return b->tok[id];
}

/* ---- BPE of one pre-token ---- */

static int
hless(const struct hent *x, const struct hent *y)
{
	return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void
hpush(struct bpe *b, size_t *hn, struct hent e)
{
	if (*hn == b->heapcap) {
		b->heapcap = b->heapcap ? 2 * b->heapcap : 64;
		b->heap = xrealloc(b->heap, b->heapcap * sizeof *b->heap);
	}
	size_t i = (*hn)++;
	while (i && hless(&e, &b->heap[(i - 1) / 2])) {
		b->heap[i] = b->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	b->heap[i] = e;
}

static struct hent
hpop(struct bpe *b, size_t *hn)
{
	struct hent top = b->heap[0], e = b->heap[--*hn];
	size_t i = 0, n = *hn;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && hless(&b->heap[c + 1], &b->heap[c]))
			c++;
		if (!hless(&b->heap[c], &e))
			break;
		b->heap[i] = b->heap[c];
		i = c;
	}
	if (n)
		b->heap[i] = e;
	return top;
}

static void
try_pair(struct bpe *b, size_t *hn, int32_t i)
{
	int32_t j = b->sym[i].next;
	if (j < 0)
		return;
	uint64_t key = (uint64_t)b->sym[i].id << 32 | b->sym[j].id;
	struct pairent *pe = pslot(b, key);
	if (pe->used)
		hpush(b, hn, (struct hent){ pe->rank, i, b->sym[i].id,
		                            b->sym[j].id });
}

/* encoder.py's bpe(): the lowest-ranked pair merges everywhere, left to
 * right, then again.  Popping (rank, leftmost position) with stale entries
 * skipped gives the same result: a merge cannot create another instance
 * of the pair just merged (the merged token is longer than either part). */
static size_t
bpe_word(struct bpe *b, const unsigned char *s, size_t n, uint32_t **ids,
         size_t *cap, size_t k)
{
	if (n > b->symcap) {
		b->symcap = n;
		b->sym = xrealloc(b->sym, n * sizeof *b->sym);
	}
	size_t hn = 0;
	for (size_t i = 0; i < n; i++)
		b->sym[i] = (struct sym){ b->byte_id[s[i]], (int32_t)i - 1,
		                          i + 1 < n ? (int32_t)i + 1 : -1 };
	for (size_t i = 0; i + 1 < n; i++)
		try_pair(b, &hn, (int32_t)i);
	while (hn) {
		struct hent e = hpop(b, &hn);
		int32_t i = e.pos, j = b->sym[i].next;
		if (b->sym[i].id != e.a || j < 0 || b->sym[j].id != e.b)
			continue;       /* stale: a neighbour merged first */
		uint64_t key = (uint64_t)e.a << 32 | e.b;
		b->sym[i].id = pslot(b, key)->id;
		b->sym[i].next = b->sym[j].next;
		if (b->sym[j].next >= 0)
			b->sym[b->sym[j].next].prev = i;
		b->sym[j].id = UINT32_MAX;      /* dead */
		if (b->sym[i].prev >= 0)
			try_pair(b, &hn, b->sym[i].prev);
		try_pair(b, &hn, i);
	}
	for (int32_t i = 0; i >= 0; i = b->sym[i].next) {
		if (k == *cap) {
			*cap = *cap ? 2 * *cap : 256;
			*ids = xrealloc(*ids, *cap * sizeof **ids);
		}
		(*ids)[k++] = b->sym[i].id;
	}
	return k;
}

/* length of the valid UTF-8 sequence at s (strict: no overlongs, no
 * surrogates, <= U+10FFFF), or 0 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t l = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 :
	           c >= 0xF0 && c <= 0xF4 ? 4 : 0;
	if (!l || l > n)
		return 0;
	for (size_t i = 1; i < l; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
	    (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
		return 0;
	return l;
}

size_t
bpe_encode(struct bpe *b, const char *s, size_t n, uint32_t **ids,
           size_t *cap, size_t k)
{
	const unsigned char *u = (const unsigned char *)s;
	const char *subj = s;
	size_t sn = n, *map = NULL;

	/* invalid bytes -> U+FFFD for the regex, with a map back */
	size_t i = 0;
	while (i < n) {
		size_t l = utf8_len(u + i, n - i);
		if (!l)
			break;
		i += l;
	}
	if (i < n) {
		if (n > (SIZE_MAX / 8 - 1) / 3)
			die("bpe: text too long");
		if (3 * n + 1 > b->sancap) {
			b->sancap = 3 * n + 1;
			b->san = xrealloc(b->san, b->sancap);
			b->map = xrealloc(b->map, b->sancap * sizeof *b->map);
		}
		sn = 0;
		for (i = 0; i < n;) {
			size_t l = utf8_len(u + i, n - i);
			if (l) {
				for (size_t j = 0; j < l; j++)
					b->map[sn] = i, b->san[sn++] = s[i + j];
				i += l;
			} else {
				for (size_t j = 0; j < 3; j++)
					b->map[sn + j] = i;
				memcpy(b->san + sn, "\xEF\xBF\xBD", 3);
				sn += 3, i++;
			}
		}
		b->map[sn] = n;
		subj = b->san, map = b->map;
	}
	size_t pos = 0;
	while (pos < sn) {
		int rc = pcre2_match(b->re, (PCRE2_SPTR)subj, sn, pos,
		                     PCRE2_NO_UTF_CHECK, b->md, b->mc);
		size_t ms, me;
		if (rc < 0) {
			if (rc != PCRE2_ERROR_NOMATCH)
				die("bpe: regex match failed (PCRE2 error %d)",
				    rc);
			ms = me = sn;
		} else {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(b->md);
			ms = ov[0], me = ov[1];
		}
		if (ms > pos)   /* cannot happen: some branch matches any char */
			ms = pos;
		if (me <= ms)
			die("bpe: empty regex match");
		size_t os = map ? map[ms] : ms, oe = map ? map[me] : me;
		k = bpe_word(b, u + os, oe - os, ids, cap, k);
		pos = me;
	}
	return k;
}

long
bpe_decode(const struct bpe *b, const uint32_t *ids, size_t n,
           struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= b->n || !b->tok[ids[i]])
			return (long)i;
		buf_add(out, b->tok[ids[i]], b->len[ids[i]]);
	}
	return -1;
}
