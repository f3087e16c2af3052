/* extract.h: safe extraction of an archive from the internet (libarchive).
 *
 * Formats: tar (ustar, pax, gnu), zip, 7z, cpio, each raw or compressed
 * with gzip, bzip2, xz/lzma, zstd, lz4, lzip or compress(1).  npm's .tgz
 * packages are tar.gz.  Other libarchive formats (mtree, which names files
 * of the local disk, among them) are not enabled.
 *
 * Refused, with a sentence on stderr: absolute names, ".." components,
 * symlinks whose target is absolute or resolves outside the destination,
 * hardlinks to anything outside it, writing through a symlink, device,
 * fifo and socket entries, and archives that expand to more than
 * max_bytes (counted as bytes written, holes of sparse files included, not
 * as the sizes the headers claim).  Owners, ACLs, xattrs and setuid bits
 * are never restored: files get 0644 (0755 when executable), directories
 * 0755, minus the umask.  Modification times are kept. */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <signal.h>
#include <stdint.h>

struct extract_opts {
	uint64_t max_bytes;      /* 0: no limit */
	int quiet;               /* no progress bar */
	const volatile sig_atomic_t *stop;  /* set by a signal: abort */
};

struct extract_stats {
	uint64_t bytes;          /* bytes written (file lengths) */
	uint64_t entries;
};

/* Extract the archive at path into dir, an existing empty directory.
 * label names the archive in messages.  Returns 0, or prints
 * "untar: label: reason" and returns -1; then dir may hold a part of the
 * archive and the caller removes it (rm_tree).  The working directory is
 * changed during the call and restored before it returns. */
int archive_extract(const char *path, const char *label, const char *dir,
                    const struct extract_opts *o, struct extract_stats *st);

/* rm -rf path without following symlinks.  0, or -1 with errno set. */
int rm_tree(const char *path);

/* 1 if name (relative to the current directory), with every symlink along
 * it followed (dangling ones end the walk), stays inside the current
 * directory; 0 if it leaves it; -1 on a symlink loop.  Exposed for tests. */
int path_stays_inside(const char *name);

#endif
