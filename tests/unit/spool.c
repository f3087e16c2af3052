/* spool_open: a temp file in $TMPDIR that is gone from the directory at
 * once, yet readable and writable until closed. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "core/spool.h"
#include "core/util.h"

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/spooltestXXXXXX", back[32];
	FILE *f;

	argv0 = "test";
	ok(mkdtemp(dir) != NULL, "made a private TMPDIR");
	setenv("TMPDIR", dir, 1);
	f = spool_open("test");
	ok(fputs("hello spool", f) >= 0 && fflush(f) == 0, "writable");
	{
		char link[64], target[256];
		ssize_t n;
		snprintf(link, sizeof link, "/proc/self/fd/%d", fileno(f));
		n = readlink(link, target, sizeof target - 1);
		target[n > 0 ? n : 0] = 0;
		ok(!strncmp(target, dir, strlen(dir)) &&
		   strstr(target, "(deleted)"), "lives in $TMPDIR: %s", target);
	}
	ok(entries(dir) == 0, "already unlinked from $TMPDIR");
	rewind(f);
	ok(fgets(back, sizeof back, f) && !strcmp(back, "hello spool"),
	   "reads back what was written");
	fclose(f);
	rmdir(dir);
	return done_testing();
}
