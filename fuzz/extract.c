/* extract.c: archive extraction (libarchive behind extract.c's checks)
 * on any bytes, into a fresh temporary directory removed after each run.
 * Whatever the archive, nothing may land outside that directory, the
 * working directory must come back, and the byte limit must hold. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/extract.h"
#include "fuzz.h"

#define LIMIT (1u << 20)

struct run {
	const char *path, *dir;
	struct extract_stats st;
	int ret;
};

static void
go(void *arg)
{
	struct run *r = arg;
	struct extract_opts o = { .max_bytes = LIMIT, .quiet = 1 };
	r->ret = archive_extract(r->path, "fuzz.tar", r->dir, &o, &r->st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], cwd[PATH_MAX], cwd2[PATH_MAX], parent[64];
	int fd = fz_memfile(data, size, path);

	if (!getcwd(cwd, sizeof cwd))
		abort();
	fz_tmpdir(parent, "extract");
	/* the destination in a parent of its own: a sibling must stay empty */
	char dir[sizeof parent + 4];
	snprintf(dir, sizeof dir, "%s/d", parent);
	if (mkdir(dir, 0755))
		abort();
	struct run r = { path, dir, {0}, 0 };
	FZ_ASSERT(fz_catch(go, &r) == 0);
	FZ_ASSERT(r.ret == 0 || r.ret == -1);
	FZ_ASSERT(getcwd(cwd2, sizeof cwd2) && !strcmp(cwd, cwd2));
	if (r.ret == 0)
		FZ_ASSERT(r.st.bytes <= LIMIT);
	/* nothing beside d/ in the parent */
	struct stat sb;
	FZ_ASSERT(lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
	FZ_ASSERT(rm_tree(dir) == 0);
	FZ_ASSERT(rmdir(parent) == 0);   /* fails if anything else is there */
	close(fd);
	return 0;
}
