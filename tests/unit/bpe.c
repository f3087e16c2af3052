/* GPT-2's byte-level BPE (libcore/text/bpe.c) on a small hand-made vocabulary:
 * the byte map, encoder.py's merge order, invalid UTF-8, round trips of
 * random bytes, a long pre-token (n log n, not n^2) and malformed files.
 * tests/gpt2.t checks the real GPT-2 files against the JavaScript
 * encoder. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "text/bpe.h"
#include "core/rng.h"
#include "core/util.h"

static char dir[] = "/tmp/bpe-unit.XXXXXX";
static char vpath[300], mpath[300];

/* GPT-2's bytes_to_unicode as UTF-8 */
static void
bchar(int b, struct buf *out)
{
	int n = 0, cp = -1;
	for (int c = 0; c < 256 && cp < 0; c++) {
		int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) ||
		           (c >= 0xAE);
		if (c == b)
			cp = keep ? c : 256 + n;
		if (!keep)
			n++;
	}
	if (cp < 0x80)
		buf_addc(out, (char)cp);
	else
		buf_addc(out, (char)(0xC0 | cp >> 6)), buf_addc(out, (char)(0x80 | (cp & 0x3F)));
}

static void
put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	fputs(s, f);
	fclose(f);
}

/* vocab: the 256 bytes (ids 0..255 in byte order), then the merges'
 * results; merges given as "a b" in GPT-2's characters */
static const char *merges[] = { "a a", "Ġ t", "h e", "Ġt he", "aa a",
                                "aa aa", "Ã ©", "c af", "a f", NULL };

static void
write_files(int nmerge, const char *extra_vocab, const char *extra_merge)
{
	struct buf v = {0}, m = {0};
	buf_add(&v, "{", 1);
	for (int b = 0; b < 256; b++) {
		buf_add(&v, b ? ",\"" : "\"", b ? 2 : 1);
		if (b == '"' || b == '\\')
			buf_addc(&v, '\\');
		bchar(b, &v);
		char num[16];
		snprintf(num, sizeof num, "\":%d", b);
		buf_add(&v, num, strlen(num));
	}
	buf_add(&m, "#version: 0.2\n", 14);
	for (int i = 0; i < nmerge && merges[i]; i++) {
		const char *sp = strchr(merges[i], ' ');
		char num[16];
		buf_add(&v, ",\"", 2);
		buf_add(&v, merges[i], sp - merges[i]);
		buf_add(&v, sp + 1, strlen(sp + 1));
		snprintf(num, sizeof num, "\":%d", 256 + i);
		buf_add(&v, num, strlen(num));
		buf_add(&m, merges[i], strlen(merges[i]));
		buf_addc(&m, '\n');
	}
	if (extra_vocab)
		buf_add(&v, extra_vocab, strlen(extra_vocab));
	buf_add(&v, "}", 2);
	if (extra_merge)
		buf_add(&m, extra_merge, strlen(extra_merge) + 1);
	else
		buf_addc(&m, 0);
	put(vpath, v.p), put(mpath, m.p);
	free(v.p), free(m.p);
}

static int
enc_is(struct bpe *b, const char *s, size_t n, const uint32_t *want,
       size_t nw)
{
	uint32_t *ids = NULL;
	size_t cap = 0, k = bpe_encode(b, s, n, &ids, &cap, 0);
	int r = k == nw && !memcmp(ids, want, k * sizeof *ids);
	if (!r) {
		printf("# got:");
		for (size_t i = 0; i < k; i++)
			printf(" %u", ids[i]);
		printf("\n");
	}
	free(ids);
	return r;
}

static void
load_bad(const void *arg, size_t n)
{
	(void)arg, (void)n;
	bpe_free(bpe_load(vpath, mpath));
}

int
main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(vpath, sizeof vpath, "%s/vocab.json", dir);
	snprintf(mpath, sizeof mpath, "%s/merges.txt", dir);
	write_files(99, ", \"<|endoftext|>\":265", NULL);
	struct bpe *b = bpe_load(vpath, mpath);
	ok(bpe_size(b) == 266, "vocab: 256 bytes + 9 merges + endoftext");
	size_t l;
	const char *t = bpe_token(b, 257, &l);
	ok(t && l == 2 && !memcmp(t, " t", 2), "Ġt decodes to ' t'");
	ok(bpe_lookup(b, "<|endoftext|>", 13) == 265, "special token lookup");
	ok(bpe_token(b, 266, &l) == NULL, "id past the vocab: NULL");

	/* "aaa": a a (rank 0) merges left to right -> aa a -> aaa (rank 4) */
	ok(enc_is(b, "aaa", 3, (uint32_t[]){ 260 }, 1), "aaa -> [aaa]");
	/* "aaaaa": aa aa a -> (aa aa rank 5, aa a rank 4: aa a first at the
	 * right) -> aa aaa */
	ok(enc_is(b, "aaaaa", 5, (uint32_t[]){ 256, 260 }, 2),
	   "aaaaa -> aa + aaa (lowest rank first, not leftmost first)");
	ok(enc_is(b, "aaaa", 4, (uint32_t[]){ 261 }, 1), "aaaa -> aaaa");
	ok(enc_is(b, " the", 4, (uint32_t[]){ 259 }, 1), "' the' -> Ġthe");
	/* pre-tokens: "the the" = "the" + " the"; 'h e' merges in "the" */
	ok(enc_is(b, "the the", 7, (uint32_t[]){ 't', 258, 259 }, 3),
	   "'the the' -> t he Ġthe");
	ok(enc_is(b, "café", 5, (uint32_t[]){ 263, 262 }, 2),
	   "café: Ã © (rank 6), a f (8), c af (7): caf + é");
	/* contractions and spaces: "it's  ok" = it 's ' ' ' ok' */
	ok(enc_is(b, "it's  x", 7, (uint32_t[]){ 'i', 't', '\'', 's', ' ',
	                                           ' ', 'x' }, 7),
	   "it's  x: contraction, a lone space before ' x'");
	/* invalid UTF-8 counts as a symbol: "a\xff!" = "a" + "\xff!" */
	uint32_t *ids = NULL;
	size_t cap = 0, k = bpe_encode(b, "a\xff!", 3, &ids, &cap, 0);
	ok(k == 3 && ids[0] == 'a' && ids[1] == 0xff && ids[2] == '!',
	   "invalid byte encoded as its own byte token");
	/* round trips of random bytes, and of text with invalid UTF-8 */
	struct rng r;
	rng_seed(&r, 42, 0);
	int rt = 1;
	struct buf s = {0}, d = {0};
	for (int it = 0; it < 2000 && rt; it++) {
		s.n = 0;
		size_t n = rng_next(&r) % 64;
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rng_next(&r);
			/* mix bytes, ASCII letters/spaces and UTF-8 pieces */
			static const char *pieces[] = { " ", "a", "'s", "é",
				"\xf0\x9f\x98\x80", "\xe2\x80\x83", "\t", "\n",
				"1", "\xc3", "\xed\xa0\x80", "\xef\xbb\xbf" };
			if (x & 1)
				buf_addc(&s, (char)(x >> 8));
			else {
				const char *p = pieces[(x >> 8) % 12];
				buf_add(&s, p, strlen(p));
			}
		}
		k = bpe_encode(b, s.p ? s.p : "", s.n, &ids, &cap, 0);
		d.n = 0;
		rt = bpe_decode(b, ids, k, &d) == -1 && d.n == s.n &&
		     !memcmp(d.p, s.p, s.n);
	}
	ok(rt, "decode(encode(x)) == x for 2000 random byte strings");
	/* a 1 MB pre-token: heap merges, not n^2 (n^2 would be hours) */
	size_t big = 1 << 20;
	char *a = xmalloc(big);
	memset(a, 'a', big);
	double t0 = now_sec();
	k = bpe_encode(b, a, big, &ids, &cap, 0);
	ok(k == big / 4, "1 MB of 'a' -> aaaa tokens (%zu, %.2f s)", k,
	   now_sec() - t0);
	free(a);
	uint32_t bad[] = { 5, 9999 };
	d.n = 0;
	ok(bpe_decode(b, bad, 2, &d) == 1, "decode: unknown id reported");
	free(ids), free(s.p), free(d.p);
	bpe_free(b);

	/* malformed files exit 1 */
	put(vpath, "[1, 2]");
	ok(child_status(load_bad, NULL, 0) == 1, "vocab not an object: exit 1");
	put(vpath, "{\"a\": 0}");
	ok(child_status(load_bad, NULL, 0) == 1, "no byte tokens: exit 1");
	write_files(3, NULL, "x y\n");
	ok(child_status(load_bad, NULL, 0) == 1, "merge not in vocab: exit 1");
	write_files(3, NULL, "a b c\n");
	ok(child_status(load_bad, NULL, 0) == 1, "three fields: exit 1");
	write_files(3, ",\"a\":300", NULL);
	ok(child_status(load_bad, NULL, 0) == 1, "duplicate token: exit 1");
	write_files(3, ",\"zzz\":5", NULL);
	ok(child_status(load_bad, NULL, 0) == 1, "duplicate id: exit 1");
	write_files(3, ",\"zzz\":-1", NULL);
	ok(child_status(load_bad, NULL, 0) == 1, "negative id: exit 1");
	write_files(3, NULL, NULL);
	unlink(mpath);
	ok(child_status(load_bad, NULL, 0) == 1, "missing merges: exit 1");
	write_files(3, NULL, NULL);
	ok(child_status(load_bad, NULL, 0) == 0, "good files load");
	unlink(vpath), unlink(mpath), rmdir(dir);
	return done_testing();
}
