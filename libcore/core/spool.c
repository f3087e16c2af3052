/* spool.c: unlinked temporary files for input read twice (see spool.h). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/spool.h"
#include "core/util.h"

FILE *
spool_open(const char *what)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	path = xmalloc(strlen(dir) + 32);
	sprintf(path, "%s/ulmfit-spool.XXXXXX", dir);
	if ((fd = mkstemp(path)) < 0)
		die("%s: temporary file in %s (set TMPDIR to a writable"
		    " directory):", what, dir);
	unlink(path);
	free(path);
	if (!(f = fdopen(fd, "w+b")))
		die("%s: temporary file:", what);
	return f;
}
