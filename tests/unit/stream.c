/* The stream framing: round trip, and every kind of damage is refused. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "core/stream.h"
#include "text/tokfile.h"
#include "core/util.h"

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
read_whole(const void *buf, size_t n)
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
	return child_status(read_whole, buf, n);
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
		/* a length past a file's end is "truncated" before it sizes an
		 * allocation: record 1's length set to 512 MiB, in a file */
		char path[] = "/tmp/streamtestXXXXXX", msg[512] = "", err[64];
		int fd = mkstemp(path), st;
		snprintf(err, sizeof err, "%s.err", path);
		size_t at = 32 + strlen("bs=64\nseq_len=72\n") + 8 + 1;
		char *big = xmalloc(n);
		memcpy(big, buf, n);
		put_u32((unsigned char *)big + at, 1u << 29);
		ok(fd >= 0 && write(fd, big, n) == (ssize_t)n, "wrote a file");
		fflush(stdout);
		pid_t pid = fork();
		if (!pid) {
			FILE *in = fopen(path, "rb");
			struct sreader rr;
			int t;
			const unsigned char *pp;
			uint32_t ll;
			if (!freopen(path, "rb", stdin) ||
			    !freopen(err, "w", stderr))
				_exit(98);
			sr_open(&rr, in, path, "ULTS", 1, "test stream");
			while (sr_next(&rr, &t, &pp, &ll))
				;
			_exit(0);
		}
		waitpid(pid, &st, 0);
		FILE *e = fopen(err, "r");
		if (e) {
			msg[fread(msg, 1, sizeof msg - 1, e)] = 0;
			msg[strcspn(msg, "\n")] = 0;
			fclose(e);
		}
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 1 &&
		   strstr(msg, ": truncated stream (record of 536870912 bytes at "
		          "byte 57, the file ends at"),
		   "a record length past the file's end: truncated (%s)", msg);
		unlink(err);
		unlink(path);
		close(fd);
		free(big);
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
