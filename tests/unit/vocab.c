/* The vocab: spec §2 acceptance facts (fastai make_vocab order, min_freq,
 * max_vocab, the xxfake rule, encoding), the file round trip, and the
 * ids stream that carries encoded documents. */
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "../tap.h"
#include "data/ids.h"
#include "core/util.h"
#include "data/vocab.h"

/* Count the space-split texts, as numz's first pass does. */
static void
count_texts(struct counter *c, const char *const *texts, int n)
{
	for (int i = 0; i < n; i++) {
		const char *p = texts[i];
		while (*p) {
			size_t l = strcspn(p, " ");
			if (l)
				counter_add(c, p, l);
			p += l + (p[l] == ' ');
		}
	}
}

/* vocab[from..from+k) equals the space-separated words of want */
static int
vocab_has(const struct vocab *v, uint32_t from, const char *want)
{
	char w[512], *save, *t;
	uint32_t i = from;

	snprintf(w, sizeof w, "%s", want);
	for (t = strtok_r(w, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (i >= v->n || strcmp(v->tok[i++], t))
			return 0;
	return 1;
}

static int
encodes(const struct vocab *v, const char *text, const uint32_t *want,
        int n)
{
	int i = 0;
	for (const char *p = text; *p;) {
		size_t l = strcspn(p, " ");
		if (i >= n || vocab_id(v, p, l) != want[i++])
			return 0;
		p += l + (p[l] == ' ');
	}
	return i == n;
}

static int
specials_first(const struct vocab *v)
{
	for (int i = 0; i < TK_NSPECIAL; i++)
		if ((uint32_t)i >= v->n || strcmp(v->tok[i], vocab_specials[i]))
			return 0;
	return 1;
}

static int
fakes_from(const struct vocab *v, uint32_t from)
{
	for (uint32_t i = from; i < v->n; i++)
		if (strcmp(v->tok[i], VOCAB_FAKE))
			return 0;
	return 1;
}

/* Read a whole id stream from memory (in a child: it dies on damage). */
static void
read_whole(const void *buf, size_t n)
{
	FILE *f = fmemopen((void *)buf, n, "rb");
	struct ids_reader r;
	struct ids_doc d;

	ids_open(&r, f, "mem");
	while (ids_next(&r, &d))
		;
}

static int
read_status(const char *buf, size_t n)
{
	return child_status(read_whole, buf, n);
}

/* vocab_check_specials on n tokens (run in a child: it dies) */
static void
check_specials(const void *tok, size_t n)
{
	struct vocab *v = vocab_from_list(tok, (uint32_t)n);
	vocab_check_specials(v, "v");
	vocab_free(v);
}

int
main(void)
{
	const char *texts[] = { "This is an example of text",
	                        "this is another text" };
	struct counter c;
	struct vocab *v;

	argv0 = "test";
	counter_init(&c);
	count_texts(&c, texts, 2);
	ok(c.n == 8 && c.total == 10, "counter: 8 distinct of 10 tokens");

	v = vocab_build(&c, 60000, 1);
	ok(specials_first(v), "min_freq 1: the 9 specials come first");
	ok(vocab_has(v, 9, "is text This an example of this another"),
	   "min_freq 1: vocab[9..16] = is text This an example of this"
	   " another");
	ok(v->n == 24 && fakes_from(v, 17), "min_freq 1: 17 entries padded"
	   " to 24 with xxfake");
	ok(encodes(v, texts[0], (const uint32_t[]){11, 9, 12, 13, 14, 10}, 6),
	   "min_freq 1: first text encodes to [11,9,12,13,14,10]");
	ok(vocab_id(v, "xxfake", 6) == 0, "xxfake encodes to 0");
	ok(vocab_id(v, "nope", 4) == 0, "an unknown word encodes to 0");
	ok(vocab_id(v, "xxmaj", 5) == TK_MAJ && vocab_id(v, "xxpad", 5) ==
	   TK_PAD, "specials encode to their constants");
	vocab_free(v);

	v = vocab_build(&c, 60000, 2);
	ok(v->n == 16 && specials_first(v) && vocab_has(v, 9, "is text") &&
	   fakes_from(v, 11), "min_freq 2: specials + is text, padded to 16");
	ok(encodes(v, texts[0], (const uint32_t[]){0, 9, 0, 0, 0, 10}, 6),
	   "min_freq 2: first text encodes to [0,9,0,0,0,10]");
	vocab_free(v);
	counter_free(&c);

	{   /* with the fastai rules applied */
		const char *rt[] = { "xxbos xxmaj this is an example of text",
		                     "xxbos this is another text" };
		counter_init(&c);
		count_texts(&c, rt, 2);
		v = vocab_build(&c, 60000, 2);
		ok(encodes(v, rt[0], (const uint32_t[]){2, 8, 9, 10, 0, 0, 0,
		                                        11}, 8) &&
		   encodes(v, rt[1], (const uint32_t[]){2, 9, 10, 0, 11}, 5),
		   "rules applied, min_freq 2: [2,8,9,10,0,0,0,11] and"
		   " [2,9,10,0,11]");
		ok(v->n == 16, "specials counted in the text are not repeated");
		vocab_free(v);
		counter_free(&c);
	}

	{   /* counts {a:4, b:2, c:2, d:1} */
		const char *t[] = { "a b a c a d b c a" };
		counter_init(&c);
		count_texts(&c, t, 1);
		v = vocab_build(&c, 12, 1);
		ok(v->n == 16 && specials_first(v) && vocab_has(v, 9, "a b c")
		   && fakes_from(v, 12), "max_vocab 12, min_freq 1: specials +"
		   " a b c, d cut, 4 xxfake -> 16");
		vocab_free(v);
		v = vocab_build(&c, 60000, 3);
		ok(v->n == 16 && vocab_has(v, 9, "a") && fakes_from(v, 10),
		   "defaults (min_freq 3): specials + a");
		vocab_free(v);
		counter_free(&c);
	}

	{   /* ties by first occurrence, not by name */
		const char *t[] = { "zz yy xx yy zz xx ww" };
		counter_init(&c);
		count_texts(&c, t, 1);
		v = vocab_build(&c, 60000, 1);
		ok(vocab_has(v, 9, "zz yy xx ww"), "ties keep first-occurrence"
		   " order");
		vocab_free(v);
		counter_free(&c);
	}

	{   /* the xxfake rule when the length is already a multiple of 8 */
		char w[16];
		counter_init(&c);
		for (int i = 0; i < 15; i++) {   /* 9 + 15 = 24 */
			snprintf(w, sizeof w, "w%02d", i);
			for (int k = 0; k <= 15 - i; k++)
				counter_add(&c, w, strlen(w));
		}
		v = vocab_build(&c, 60000, 1);
		ok(v->n == 32 && fakes_from(v, 24) && !strcmp(v->tok[9], "w00")
		   && !strcmp(v->tok[23], "w14"),
		   "24 entries (a multiple of 8) get 8 xxfake -> 32");
		vocab_free(v);
		v = vocab_build(&c, 16, 1);
		ok(v->n == 24 && !strcmp(v->tok[15], "w06") && fakes_from(v, 16),
		   "max_vocab 16 (multiple of 8): truncated to 16, +8 fakes");
		vocab_free(v);
		counter_free(&c);
	}

	{   /* file round trip and identity */
		const char *list[] = { "xxunk", "xxpad", "a\\tb", "c\xe2\x96\x81"
		                       "d", "xxfake", "a\\tb" };
		char path[] = "/tmp/vocabtestXXXXXX";
		int fd = mkstemp(path);
		FILE *f = fdopen(fd, "w");
		struct vocab *w;
		const char img[] = "xxunk\nxxpad\na\\tb\nc\xe2\x96\x81" "d\n"
		                   "xxfake\na\\tb\n";

		v = vocab_from_list(list, 6);
		vocab_write(v, f, path);
		fclose(f);
		w = vocab_load(path);
		ok(w->n == 6 && w->xxh64 == v->xxh64 &&
		   w->xxh64 == XXH64(img, sizeof img - 1, 0),
		   "write/load round trip; xxh64 is of the file bytes");
		ok(vocab_id(w, "a\\tb", 4) == 2, "a duplicate maps to its first"
		   " index");
		ok(vocab_id(w, "c\xe2\x96\x81" "d", 5) == 3, "escaped tokens"
		   " look up as written");
		vocab_free(w);
		vocab_free(v);
		unlink(path);
	}

	{   /* the id stream */
		char *buf;
		size_t n, bad = 0;
		FILE *f = open_memstream(&buf, &n);
		struct ids_writer w;
		struct ids_reader r;
		struct ids_doc d;
		int okd = 1;

		ids_begin(&w, f, "mem", 24, 0x1234, "tool=test\n");
		ids_write(&w, "train", "pos", (const uint32_t[]){2, 9, 10}, 3, 0);
		ids_write(&w, "valid", "", NULL, 0, 0);
		ids_write(&w, "t", "neg", (const uint32_t[]){2, 0, 23}, 3, 1);
		ids_end(&w);
		fclose(f);
		f = fmemopen(buf, n, "rb");
		ids_open(&r, f, "mem");
		okd &= r.vocab_n == 24 && r.vocab_xxh64 == 0x1234;
		okd &= ids_next(&r, &d) && !strcmp(d.split, "train") &&
		       !strcmp(d.label, "pos") && d.n == 3 && d.ids[0] == 2 &&
		       d.ids[2] == 10 && get_u32(d.raw + 4) == 9 &&
		       d.index == 0 && !memcmp(buf + d.raw_off, d.raw, 12);
		okd &= ids_next(&r, &d) && !strcmp(d.split, "valid") &&
		       !*d.label && d.n == 0;
		okd &= ids_next(&r, &d) && d.ids[2] == 23 && d.index == 2 &&
		       !strcmp(d.label, "neg");
		okd &= !ids_next(&r, &d) && r.docs == 3 && r.tokens == 6 &&
		       r.unknown == 1;
		ok(okd, "id stream round trip: split, label, ids, offsets,"
		   " summary");
		ids_close(&r);
		fclose(f);
		ok(read_status(buf, n) == 0, "clean id stream reads in a child");
		for (size_t i = 0; i < n; i++) {
			buf[i] ^= 0x04;
			bad += read_status(buf, n) != 1;
			buf[i] ^= 0x04;
		}
		ok(bad == 0, "every one of %zu flipped bytes is refused", n);
		bad = 0;
		for (size_t k = 0; k < n; k++)
			bad += read_status(buf, k) != 1;
		ok(bad == 0, "every truncation is refused");
		free(buf);
	}
	{
		const char *v2[] = { "xxunk", "xxpad", "xxbos", "xxeos", "xxfld",
		                     "xxrep", "xxwrep", "xxup", "xxmaj", "the" };
		const char *v1[] = { "xxunk", "xxpad", "xxbos", "xxeos", "xxfld",
		                     "xxmaj", "xxup", "xxrep", "xxwrep", "the" };
		const char *swap[] = { "xxpad", "xxunk", "xxbos", "xxeos", "xxfld",
		                       "xxrep", "xxwrep", "xxup", "xxmaj" };
		const char *twice[] = { "xxunk", "xxpad", "xxbos", "xxbos",
		                        "xxfld", "xxrep", "xxwrep", "xxup",
		                        "xxmaj" };
		const char *word[] = { "xxunk", "xxpad", "the", "xxeos", "xxfld",
		                       "xxrep", "xxwrep", "xxup", "xxmaj" };
		ok(child_status(check_specials, v2, 10) == 0,
		   "specials: fastai v2's order passes");
		ok(child_status(check_specials, v1, 10) == 0,
		   "specials: fastai v1's order (itos_wt103.pkl) passes");
		ok(child_status(check_specials, v2, 8) == 1,
		   "specials: 8 tokens are too few");
		ok(child_status(check_specials, swap, 9) == 1,
		   "specials: xxpad at 0 is refused");
		ok(child_status(check_specials, twice, 9) == 1,
		   "specials: one twice (one missing) is refused");
		ok(child_status(check_specials, word, 9) == 1,
		   "specials: a word among ids 0..8 is refused");
	}
	return done_testing();
}
