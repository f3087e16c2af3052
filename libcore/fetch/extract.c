/* extract.c: safe extraction with libarchive.  See extract.h. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/extract.h"
#include "core/util.h"

#define MAX_HOPS 40     /* symlinks followed in one walk, as the kernel */

/* ---- paths ------------------------------------------------------------- */

/* Append "/comp" (or "comp" at the start) to a growing path. */
static char *
path_join(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	char *s = xmalloc(alen + blen + 2);

	memcpy(s, a, alen);
	if (alen)
		s[alen++] = '/';
	memcpy(s + alen, b, blen);
	s[alen + blen] = 0;
	return s;
}

int
path_stays_inside(const char *name)
{
	char *todo = xstrdup(name), *cur = xstrdup(""), *p, *rest;
	int hops = 0, ret = 1;
	struct stat st;

	for (p = todo; *p; p = rest) {
		size_t len = strcspn(p, "/");
		rest = p[len] ? p + len + 1 : p + len;
		if (len == 0 || (len == 1 && p[0] == '.'))
			continue;
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(cur, '/');
			if (!*cur) {           /* above the top */
				ret = 0;
				break;
			}
			if (slash)
				*slash = 0;
			else
				*cur = 0;
			continue;
		}
		char *cand = path_join(cur, p, len);
		if (lstat(cand, &st) == 0 && S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlink(cand, target, sizeof target - 1);
			free(cand);
			if (n <= 0 || ++hops > MAX_HOPS) {
				ret = -1;
				break;
			}
			target[n] = 0;
			if (target[0] == '/') {
				ret = 0;
				break;
			}
			/* walk the link's target, then what was left */
			char *next = path_join(target, rest, strlen(rest));
			free(todo);
			todo = next;
			rest = todo;
			continue;
		}
		/* a plain name, or one that does not exist (yet): lexical */
		free(cur);
		cur = cand;
	}
	free(todo);
	free(cur);
	return ret;
}

/* Normalise an entry name into *out: drop "./" and empty components.
 * Returns NULL, or why the name is refused.  *out may be "" (the top). */
static const char *
clean_name(const char *s, char **out)
{
	char *o = xmalloc(strlen(s) + 1), *w = o;
	const char *p = s;

	*out = o;
	*w = 0;
	if (*s == '/')
		return "absolute path";
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return "'..' in path";
		if (len && !(len == 1 && p[0] == '.')) {
			if (w != o)
				*w++ = '/';
			memcpy(w, p, len);
			w += len;
			*w = 0;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return NULL;
}

/* ---- rm -rf -------------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int
rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- extraction -------------------------------------------------------- */

struct names { char **v; size_t n, cap; };

static void
names_add(struct names *l, const char *s)
{
	if (l->n == l->cap)
		l->v = xrealloc(l->v, (l->cap = l->cap ? 2 * l->cap : 16) *
		                sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
}

static void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* libarchive leaves the error string NULL for some failures (an xz or
 * zstd stream cut short): never print "(null)". */
static const char *
aerr(struct archive *x)
{
	const char *s = archive_error_string(x);
	return s ? s : "read failed";
}

static struct archive *
reader_new(void)
{
	struct archive *a = archive_read_new();

	/* Formats named one by one: _all would enable mtree, which reads
	 * files of the local disk named by the "archive". */
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_cpio(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_compress(a);
	return a;
}

static const char *
size_str(uint64_t n, char *buf, size_t cap)
{
	static const char units[] = "BKMGTPE";
	int u = 0;
	double v = (double)n;

	while (v >= 1024 && u < 6)
		v /= 1024, u++;
	if (u == 0)
		snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
	else
		snprintf(buf, cap, "%.1f %ciB", v, units[u]);
	return buf;
}

/* Check one entry and rewrite it (clean name, safe mode).  Returns NULL,
 * or why it is refused.  *skip is set for the archive's top entry ("./"). */
static const char *
vet_entry(struct archive_entry *e, char **clean, int *skip,
          struct names *links)
{
	/* In the C locale a zip's UTF-8 names have no locale form: take
	 * the UTF-8 bytes as they are (the tools downstream read UTF-8). */
	const char *name = archive_entry_pathname(e), *why;
	mode_t type = archive_entry_filetype(e);
	const char *hard = archive_entry_hardlink(e);

	if (!name)
		name = archive_entry_pathname_utf8(e);
	if (!hard)
		hard = archive_entry_hardlink_utf8(e);

	*skip = 0;
	*clean = NULL;
	if (!name)
		return "entry name not readable (bad encoding?)";
	if ((why = clean_name(name, clean)))
		return why;
	if (!**clean) {
		if (type != AE_IFDIR)
			return "entry without a name";
		*skip = 1;
		return NULL;
	}
	archive_entry_set_pathname(e, *clean);
	if (hard) {
		char *t;
		int in;
		struct stat st;
		if ((why = clean_name(hard, &t))) {
			free(t);
			return "hardlink target outside the archive";
		}
		in = *t ? path_stays_inside(t) : 0;
		if (in != 1 || lstat(t, &st) < 0 || S_ISDIR(st.st_mode)) {
			free(t);
			return in != 1 ? "hardlink target outside the archive"
			               : "hardlink to a missing entry";
		}
		archive_entry_set_hardlink(e, t);
		free(t);
		return NULL;
	}
	switch (type) {
	case AE_IFREG:
		archive_entry_set_perm(e, archive_entry_perm(e) & 0111 ?
		                       0755 : 0644);
		return NULL;
	case AE_IFDIR:
		archive_entry_set_perm(e, 0755);
		return NULL;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target)
			target = archive_entry_symlink_utf8(e);
		char *slash, *dir, *full;
		int in;
		if (!target || !*target)
			return "symlink without a target";
		if (target[0] == '/')
			return "symlink to an absolute path";
		dir = xstrdup(*clean);
		if ((slash = strrchr(dir, '/')))
			*slash = 0;
		else
			*dir = 0;
		full = path_join(dir, target, strlen(target));
		in = path_stays_inside(full);
		free(dir);
		free(full);
		if (in != 1)
			return in < 0 ? "symlink loop"
			              : "symlink pointing outside the archive";
		names_add(links, *clean);
		return NULL;
	}
	case AE_IFCHR: case AE_IFBLK:
		return "device file";
	case AE_IFIFO:
		return "fifo";
	case AE_IFSOCK:
		return "socket";
	default:
		return "unsupported entry type";
	}
}

/* Copy one entry's data, counting bytes written against the limit. */
static int
copy_data(struct archive *a, struct archive *w, const char *label,
          const char *name, const struct extract_opts *o,
          struct extract_stats *st, struct progress *pr)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	uint64_t end = 0;
	char b1[32];

	for (;;) {
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			warn("%s: %s: %s; the archive is corrupt or truncated",
			     label, name, aerr(a));
			return -1;
		}
		if (o->stop && *o->stop) {
			warn("%s: interrupted", label);
			return -1;
		}
		/* the length the file reaches, holes included */
		if (off >= 0 && (uint64_t)off + size > end) {
			st->bytes += (uint64_t)off + size - end;
			end = (uint64_t)off + size;
		}
		if (o->max_bytes && st->bytes > o->max_bytes) {
			warn("%s: expands to more than %s (at %s); refusing it "
			     "(raise the limit with --max-size)", label,
			     size_str(o->max_bytes, b1, sizeof b1), name);
			return -1;
		}
		/* a failed write (a full disk, ulimit -f) is only ARCHIVE_WARN
		 * to libarchive: the file would be left short or zero-filled */
		if (archive_write_data_block(w, buf, size, off) != ARCHIVE_OK) {
			warn("%s: %s: %s", label, name, aerr(w));
			return -1;
		}
		progress_set(pr, (uint64_t)archive_filter_bytes(a, -1));
	}
}

int
archive_extract(const char *path, const char *label, const char *dir,
                const struct extract_opts *o, struct extract_stats *st)
{
	struct archive *a = reader_new(), *w = archive_write_disk_new();
	struct archive_entry *e;
	struct names links = { 0 };
	struct progress pr;
	struct stat sb;
	int cwd = -1, ret = -1, r;
	char *clean = NULL;

	memset(st, 0, sizeof *st);
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME |
	    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	progress_init(&pr, "extract", stat(path, &sb) == 0 ? sb.st_size : 0,
	              o->quiet);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		warn("%s: %s; the archive is corrupt, truncated, or not an "
		     "archive", label, aerr(a));
		goto out;
	}
	if ((cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    chdir(dir) < 0) {
		warn("%s:", dir);
		goto out;
	}
	for (;;) {
		const char *why;
		int skip;

		free(clean);
		clean = NULL;
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			warn("%s: %s; the archive is corrupt, truncated, or not "
			     "an archive", label, aerr(a));
			goto out;
		}
		if (o->stop && *o->stop) {
			warn("%s: interrupted", label);
			goto out;
		}
		if ((why = vet_entry(e, &clean, &skip, &links))) {
			const char *n = archive_entry_pathname(e);
			if (!n)
				n = archive_entry_pathname_utf8(e);
			warn("%s: %s: %s; refusing the archive", label,
			     n ? n : "?", why);
			goto out;
		}
		if (skip)
			continue;
		st->entries++;
		if (archive_write_header(w, e) < ARCHIVE_WARN) {
			warn("%s: %s: %s; refusing the archive", label, clean,
			     aerr(w));
			goto out;
		}
		if (copy_data(a, w, label, clean, o, st, &pr) < 0)
			goto out;
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			warn("%s: %s: %s", label, clean, aerr(w));
			goto out;
		}
	}
	if (archive_write_close(w) < ARCHIVE_WARN) {
		warn("%s: %s", label, aerr(w));
		goto out;
	}
	/* Later entries may have changed where earlier links lead
	 * (a -> b/.. written before b -> .): check the final tree. */
	for (size_t i = 0; i < links.n; i++)
		if (path_stays_inside(links.v[i]) != 1) {
			warn("%s: %s: symlink pointing outside the archive; "
			     "refusing the archive", label, links.v[i]);
			goto out;
		}
	ret = 0;
out:
	progress_end(&pr);
	free(clean);
	names_free(&links);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0)
			die("cannot return to the working directory:");
		close(cwd);
	}
	archive_read_free(a);
	archive_write_free(w);
	return ret;
}
