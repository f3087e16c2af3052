/* The stream framing: round trip, and every kind of damage is refused. */
#include <string.h>

#include "../tap.h"
#include "stream.h"
#include "tokfile.h"
#include "util.h"

static size_t
make(char **buf)
{
	size_t n;
	FILE *f = open_memstream(buf, &n);
	struct swriter w;
	struct shdr h = { "ULTS", 1, 7, 123, 0xabcdefULL, 0, NULL };

	params_add(&h.params, "bs", "%d", 64);
	params_add(&h.params, "seq_len", "%d", 72);
	sw_begin(&w, f, "mem", &h);
	sw_record(&w, 'D', "hello", 5);
	sw_record2(&w, 'D', "ab", 2, "cdef", 4);
	sw_record(&w, 'X', "", 0);
	sw_end(&w);
	fclose(f);
	free(h.params);
	return n;
}

/* Read a whole stream from memory (run in a child: it dies on damage). */
static void
read_all(const void *buf, size_t n)
{
	FILE *f = fmemopen((void *)buf, n, "rb");
	struct sreader r;
	int tag;
	const unsigned char *p;
	uint32_t len;

	sr_open(&r, f, "mem", "ULTS", 1, "test stream");
	while (sr_next(&r, &tag, &p, &len))
		;
}

static int
read_status(const char *buf, size_t n)
{
	return child_status(read_all, buf, n);
}

int
main(void)
{
	char *buf;
	size_t n = make(&buf);
	FILE *f = fmemopen(buf, n, "rb");
	struct sreader r;
	int tag, bad = 0;
	const unsigned char *p;
	uint32_t len;

	argv0 = "test";
	sr_open(&r, f, "mem", "ULTS", 1, "test stream");
	ok(r.hdr.kind == 7 && r.hdr.vocab_n == 123 &&
	   r.hdr.vocab_xxh64 == 0xabcdefULL, "header fields round trip");
	ok(sr_param(&r, "seq_len") && !strcmp(sr_param(&r, "seq_len"), "72"),
	   "params readable");
	ok(!sr_param(&r, "seq"), "no prefix match of param keys");
	ok(sr_next(&r, &tag, &p, &len) && tag == 'D' && len == 5 &&
	   !memcmp(p, "hello", 5), "record 1");
	ok(sr_next(&r, &tag, &p, &len) && len == 6 && !memcmp(p, "abcdef", 6),
	   "two-part record");
	ok(sr_next(&r, &tag, &p, &len) && tag == 'X' && len == 0,
	   "empty record");
	ok(!sr_next(&r, &tag, &p, &len), "trailer verified");
	sr_close(&r);
	fclose(f);

	ok(read_status(buf, n) == 0, "clean stream reads in a child");
	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x10;
		bad += read_status(buf, n) != 1;
		buf[i] ^= 0x10;
	}
	ok(bad == 0, "every one of %zu flipped bytes is refused", n);
	bad = 0;
	for (size_t k = 0; k < n; k++)
		bad += read_status(buf, k) != 1;
	ok(bad == 0, "every truncation is refused");
	{
		char *two = xmalloc(2 * n);
		memcpy(two, buf, n);
		memcpy(two + n, buf, n);
		ok(read_status(two, 2 * n) == 1, "trailing data is refused");
		free(two);
	}
	{
		struct buf b = {0};
		char s[] = "a\\b\nc\td e";
		tok_escape(&b, s, strlen(s));
		buf_addc(&b, 0);
		ok(!strcmp(b.p, "a\\\\b\\nc\\td\xe2\x96\x81" "e"), "tok_escape");
		b.n = tok_unescape(b.p, b.n - 1);
		ok(b.n == 11 && !memcmp(b.p, "a\\b\nc\td\xe2\x96\x81" "e", 11),
		   "tok_unescape undoes all but the space");
		buf_free(&b);
	}
	free(buf);
	return done_testing();
}
