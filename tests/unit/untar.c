/* untar's pieces: md5 against RFC 1321's vectors, the (size, xxh64, md5 of
 * the first MiB) sums, -c parsing, the symlink walk that keeps extraction
 * inside its folder, rm_tree. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "../tap.h"
#include "fetch/extract.h"
#include "fetch/untar.h"
#include "core/util.h"

static int
md5_is(const void *p, size_t n, const char *want)
{
	struct md5 m;
	unsigned char d[16];
	char hex[33];

	md5_init(&m);
	md5_update(&m, p, n);
	md5_final(&m, d);
	for (int i = 0; i < 16; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	if (strcmp(hex, want))
		diag("md5 %s, want %s", hex, want);
	return !strcmp(hex, want);
}

static char *
hexs(const unsigned char *d, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	return out;
}

int
main(void)
{
	static const char *abc = "abcdefghijklmnopqrstuvwxyz";
	char dir[] = "/tmp/untar-unit.XXXXXX", path[256], h1[33], h2[33];
	unsigned char *big, d1[16], d2[16];
	struct md5 m;
	struct untar_check c;
	uint64_t size, xxh;
	FILE *f;
	int cwd;

	argv0 = "unit";
	ok(md5_is("", 0, "d41d8cd98f00b204e9800998ecf8427e"), "md5 \"\"");
	ok(md5_is("abc", 3, "900150983cd24fb0d6963f7d28e17f72"), "md5 abc");
	ok(md5_is(abc, 26, "c3fcd3d76192e4007dfb496cca67e13b"), "md5 a..z");
	ok(md5_is("12345678901234567890123456789012345678901234567890123456789012"
	          "345678901234567890", 80, "57edf4a22be3c955ac49da2e2107b67a"),
	   "md5 80 digits (two blocks)");
	ok(md5_is("message digest", 14, "f96b697d7cb7938d525a2f31aaf161d0"),
	   "md5 message digest");
	/* byte-at-a-time updates == one update: the buffering */
	md5_init(&m);
	for (int i = 0; i < 26; i++)
		md5_update(&m, abc + i, 1);
	md5_final(&m, d1);
	ok(!strcmp(hexs(d1, h1), "c3fcd3d76192e4007dfb496cca67e13b"),
	   "md5 fed one byte at a time");

	ok(untar_check_parse("xxh64:0123456789abcdef", &c) == 0 &&
	   c.kind == CHECK_XXH64 && c.xxh64 == 0x0123456789abcdefULL,
	   "-c xxh64 parses big-endian as printed");
	ok(untar_check_parse("md5:d41d8cd98f00b204e9800998ecf8427e", &c) == 0 &&
	   c.kind == CHECK_MD5 && c.md5[0] == 0xd4 && c.md5[15] == 0x7e,
	   "-c md5 parses");
	ok(untar_check_parse("md5:d41d8cd98f00b204e9800998ecf8427", &c) < 0 &&
	   untar_check_parse("xxh64:0123456789abcdeg", &c) < 0 &&
	   untar_check_parse("sha256:00", &c) < 0 &&
	   untar_check_parse("xxh64:", &c) < 0, "-c refuses junk");

	ok(untar_find("imdb") && !strcmp(untar_find("imdb")->path,
	   "fast-ai-nlp/imdb.tgz") && untar_find("imdb")->size == 144440600,
	   "imdb: fastai's path and size");
	ok(untar_find("wt103-fwd") && untar_find("wt103-fwd")->model,
	   "wt103-fwd goes under models/");
	ok(!untar_find("imdb.tgz"), "no match on prefixes");

	if (!mkdtemp(dir))
		die("mkdtemp:");
	/* 1 MiB + 5 bytes: the md5 of the first MiB leaves the tail out */
	big = malloc((1 << 20) + 5);
	for (size_t i = 0; i < (1 << 20) + 5; i++)
		big[i] = (unsigned char)(i * 2654435761u >> 13);
	snprintf(path, sizeof path, "%s/big", dir);
	f = fopen(path, "wb");
	fwrite(big, 1, (1 << 20) + 5, f);
	fclose(f);
	ok(file_sums(path, &size, &xxh, d1, d2) == 0, "file_sums");
	ok(size == (1 << 20) + 5, "size");
	ok(xxh == XXH64(big, (1 << 20) + 5, 0), "xxh64 of the whole file");
	md5_init(&m);
	md5_update(&m, big, 1 << 20);
	md5_final(&m, d2);
	ok(!strcmp(hexs(d1, h1), hexs(d2, h2)), "md5 of the first MiB only");
	free(big);

	/* the walk: a/b real, up -> .., self -> ., s1 -> b, loop <-> loop2 */
	cwd = open(".", O_RDONLY);
	if (chdir(dir) < 0)
		die("%s:", dir);
	mkdir("a", 0755);
	mkdir("a/b", 0755);
	symlink("..", "a/up");
	symlink(".", "self");
	symlink("a/b", "s1");
	symlink("loop2", "loop");
	symlink("loop", "loop2");
	symlink("/etc", "abs");
	ok(path_stays_inside("a/b/../b") == 1, "lexical .. inside");
	ok(path_stays_inside("a/../..") == 0, "lexical .. above the top");
	ok(path_stays_inside("a/up") == 1, "a/up -> .. is the top");
	ok(path_stays_inside("a/up/..") == 0, "a/up/.. is above");
	ok(path_stays_inside("self/..") == 0, "self -> . then .. is above");
	ok(path_stays_inside("s1/../..") == 1, "s1 -> a/b: s1/../.. is the top");
	ok(path_stays_inside("s1/../../..") == 0, "... one more is above");
	ok(path_stays_inside("abs") == 0, "a link to an absolute path");
	ok(path_stays_inside("loop") == -1, "a symlink loop");
	ok(path_stays_inside("missing/../x") == 1, "missing names: lexical");
	if (fchdir(cwd) < 0)
		die("fchdir:");
	close(cwd);

	ok(rm_tree(dir) == 0 && access(dir, F_OK) < 0 && access("/etc", F_OK) == 0,
	   "rm_tree removes the tree and follows no link");
	return done_testing();
}
