/* spool.h: unlinked temporary files for input that must be read twice
 * (numz's two passes, lmbatch's per-epoch shuffles over a pipe). */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdio.h>

/* A read-write temp file in $TMPDIR (default /tmp), already unlinked, so
 * it vanishes when closed or when the process dies.  what names it in the
 * message if creating it fails (dies). */
FILE *spool_open(const char *what);

#endif
