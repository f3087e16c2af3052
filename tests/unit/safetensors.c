/* safetensors reader (libcore/torch/safetensors.c): a good file (F32 in place,
 * F16/BF16/F64 converted), and every kind of damage refused with a
 * sentence: header length past the file, offsets out of range, bytes not
 * matching the shape, unknown dtype, duplicate names, bad JSON, and every
 * truncation of a good file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../tap.h"
#include "torch/safetensors.h"
#include "text/tokfile.h"
#include "core/util.h"

/* header JSON + data -> a file image in b */
static void
image(struct buf *b, const char *json, const void *data, size_t n)
{
	size_t hl = strlen(json);
	unsigned char len[8];
	put_u64(len, hl);
	b->n = 0;
	buf_add(b, len, 8);
	buf_add(b, json, hl);
	buf_add(b, data, n);
}

static char *
err_of(const char *json, const void *data, size_t n)
{
	struct buf b = {0};
	char *err = NULL;
	image(&b, json, data, n);
	struct safetensors *s = st_open_mem((unsigned char *)b.p, b.n, "x.st",
	                                    &err);
	if (s) {
		st_close(s);
		err = xstrdup("(no error)");
	}
	free(b.p);
	return err;
}

static int
err_is(const char *json, size_t n, const char *want)
{
	static const unsigned char zeros[64];
	char *e = err_of(json, zeros, n);
	int r = strstr(e, want) != NULL && !strncmp(e, "x.st: ", 6);
	if (!r)
		diag("got: %s", e);
	free(e);
	return r;
}

int
main(void)
{
	/* good: a F32 (2,2), a F16 (3), a BF16 (1), a F64 (1), metadata */
	unsigned char data[16 + 6 + 2 + 8];
	float f[4] = { 1, -2.5f, 3.25f, 1e-3f };
	memcpy(data, f, 16);
	uint16_t h[3] = { 0x3C00, 0xC000, 0x0001 };     /* 1, -2, 2^-24 */
	memcpy(data + 16, h, 6);
	uint16_t bf = 0x4049;                           /* 3.140625 */
	memcpy(data + 22, &bf, 2);
	double d = -0.125;
	memcpy(data + 24, &d, 8);
	const char *good = "{\"__metadata__\":{\"format\":\"pt\"},"
		"\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
		"\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
		"\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[22,24]},"
		"\"d\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[24,32]}}";
	struct buf b = {0};
	image(&b, good, data, sizeof data);
	char *err = NULL;
	struct safetensors *s = st_open_mem((unsigned char *)b.p, b.n, "x.st",
	                                    &err);
	ok(s && s->n == 4, "good file: 4 tensors");
	if (!s)
		return done_testing();
	struct st_tensor *t = st_find(s, "w");
	ok(t && t->ndim == 2 && t->shape[0] == 2 && t->numel == 4,
	   "w: F32 (2, 2)");
	ok(t && !memcmp(st_float(t), f, 16), "w: values");
	t = st_find(s, "h");
	const float *hv = st_float(t);
	ok(hv[0] == 1 && hv[1] == -2 && hv[2] == ldexpf(1, -24),
	   "F16 converted (1, -2, subnormal 2^-24)");
	ok(st_float(st_find(s, "b"))[0] == 3.140625f, "BF16 converted");
	t = st_find(s, "d");
	ok(t->ndim == 0 && t->numel == 1 && st_float(t)[0] == -0.125f,
	   "F64 scalar converted");
	ok(!st_find(s, "__metadata__") && !st_find(s, "nope"),
	   "metadata is not a tensor");
	st_close(s);

	/* every truncation of the good file is refused, none crashes */
	int cut = 1;
	for (size_t n = 0; n < b.n && cut; n++) {
		s = st_open_mem((unsigned char *)b.p, n, "x.st", &err);
		if (s) {
			cut = 0;
			st_close(s);
		} else {
			free(err);
		}
	}
	ok(cut, "every truncation (%zu lengths) refused", b.n);
	free(b.p);

	/* damage */
	ok(err_is("", 0, "not a JSON object"), "empty header (length 0)");
	{
		unsigned char four[4] = { 1, 2, 3, 4 };
		struct safetensors *z = st_open_mem(four, 4, "x.st", &err);
		ok(!z && strstr(err, "too short"), "4 bytes: too short");
		free(err);
	}
	{
		unsigned char big[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		                          0xff, 0xff };
		struct safetensors *z = st_open_mem(big, 16, "x.st", &err);
		ok(!z && strstr(err, "past the end"),
		   "header length 2^64-1: past the end, no overflow");
		free(err);
		put_u64(big, 9);
		z = st_open_mem(big, 16, "x.st", &err);
		ok(!z && strstr(err, "past the end"),
		   "header length 9 in a 16-byte file: past the end");
		free(err);
	}
	ok(err_is("[1,2]", 0, "not a JSON object"), "header not an object");
	ok(err_is("{\"a\":", 0, "not a JSON object"), "header cut JSON");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	          "\"data_offsets\":[0,16]}}", 8, "out of range"),
	   "offsets past the data");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	          "\"data_offsets\":[0,18446744073709551615]}}", 8,
	          "data_offsets"), "end offset 2^64-1");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	          "\"data_offsets\":[8,0]}}", 8, "begin <= end"),
	   "begin > end");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],"
	          "\"data_offsets\":[0,8]}}", 8, "bytes of data for shape"),
	   "shape (3) F32 in 8 bytes");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
	          "4294967296],\"data_offsets\":[0,8]}}", 8, "bad shape"),
	   "shape whose size overflows");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],"
	          "\"data_offsets\":[0,8]}}", 8, "bad shape"),
	   "negative dimension");
	ok(err_is("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],"
	          "\"data_offsets\":[0,8]}}", 8, "dtype Q4 is not supported"),
	   "unknown dtype");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	          "\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\","
	          "\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "appears twice"),
	   "duplicate name");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
	          "data_offsets"), "no data_offsets");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
	          "\"data_offsets\":[0.5,8]}}", 8, "data_offsets"),
	   "fractional offset");
	ok(err_is("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
	          "\"data_offsets\":[0,4]}}", 8, "dimensions"),
	   "9 dimensions");

	/* from a file: a missing one names the path */
	s = st_open("/nonexistent/model.safetensors", &err);
	ok(!s && strstr(err, "/nonexistent/model.safetensors: "),
	   "missing file: %s", err);
	free(err);

	/* a refused buffer stays the caller's: st_open_mem's error path once
	 * munmap'ed it (the test crashed when a stack buffer happened to
	 * start a page, about 1 run in 60); here the buffer is a page */
	unsigned char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED) {
		ok(0, "mmap a page: %s", strerror(errno));
		return done_testing();
	}
	memset(pg, 0xff, 8);            /* header length 2^64-1 */
	s = st_open_mem(pg, 4096, "x.st", &err);
	ok(!s && strstr(err, "past the end"), "a damaged page-aligned buffer");
	free(err);
	int gone = msync(pg, 4096, MS_ASYNC) != 0;
	ok(!gone, "  is still mapped after the refusal%s%s", gone ? ": " : "",
	   gone ? strerror(errno) : "");
	munmap(pg, 4096);
	return done_testing();
}
