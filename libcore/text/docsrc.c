/* docsrc.c: documents from a folder tree, CSV files, plain files, stdin. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/docsrc.h"
#include "core/util.h"

void
docsrc_opts_default(struct docsrc_opts *o)
{
	memset(o, 0, sizeof *o);
	o->split = "train";
	o->label = "";
	o->text_cols = "text";
}

static struct buf *
sink_begin(const struct doc_sink *s, const char *name, const char *split,
           const char *label)
{
	struct doc_meta m = { name, split, label };
	return s->begin(s->arg, &m);
}

/* ---- plain files ---- */

void
docsrc_plain(const struct docsrc_opts *o, const char *path,
             const struct doc_sink *s)
{
	FILE *f = open_in(path);

	if (o->lines) {
		struct buf line = {0};
		/* lines as Python's text mode splits them: \n, \r\n or \r */
		while (read_line(f, path, &line)) {
			size_t n = line.n, a = 0;
			if (n && line.p[n - 1] == '\r')
				n--;
			for (;;) {
				const char *cr = memchr(line.p + a, '\r', n - a);
				size_t e = cr ? (size_t)(cr - line.p) : n;
				struct buf *t = sink_begin(s, path, o->split, o->label);
				if (e > a)     /* an empty line: no memcpy(NULL) */
					buf_add(t, line.p + a, e - a);
				s->end(s->arg, 0);
				if (!cr)
					break;
				a = e + 1;
			}
		}
		buf_free(&line);
	} else {
		struct buf *t = sink_begin(s, path, o->split, o->label);
		read_all(fileno(f), path, t);
		s->end(s->arg, 1);
	}
	close_in(f, path);
}

/* ---- from_folder ---- */

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_txt(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && !strcasecmp(dot, ".txt");
}

struct dirstack { dev_t dev; ino_t ino; const struct dirstack *up; };

/* rel: path below the root, "" for the root; comps: its components */
static void
walk(const struct docsrc_opts *o, const struct doc_sink *s, const char *root,
     const char *rel, const char **comps, int depth,
     const struct dirstack *up)
{
	char *dir = xmalloc(strlen(root) + strlen(rel) + 2);
	sprintf(dir, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	struct stat st;

	if (!d || fstat(dirfd(d), &st))
		die("%s:", dir);
	for (const struct dirstack *u = up; u; u = u->up)
		if (u->dev == st.st_dev && u->ino == st.st_ino) {
			warn("%s: symbolic link loop, skipped", dir);
			closedir(d);
			free(dir);
			return;
		}
	struct dirstack me = { st.st_dev, st.st_ino, up };
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')     /* hidden, . and .. */
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	if (errno)
		die("%s:", dir);
	closedir(d);
	if (n)          /* an empty folder: names is NULL, qsort's UB */
		qsort(names, n, sizeof *names, namecmp);

	/* os.walk: this folder's files first, then its subfolders */
	char **sub = xmalloc((n + 1) * sizeof *sub);
	size_t nsub = 0;
	int root_files = depth > 0 || !o->nfolders;
	for (int k = 0; k < o->nfolders; k++)
		if (!strcmp(o->folders[k], "."))
			root_files = 1;
	for (size_t i = 0; i < n; i++) {
		char *p = xmalloc(strlen(dir) + strlen(names[i]) + 2);
		sprintf(p, "%s/%s", dir, names[i]);
		if (stat(p, &st)) {
			warn("%s:", p);        /* a dangling link */
			free(p);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int keep = depth > 0 || !o->nfolders;
			for (int k = 0; k < o->nfolders && !keep; k++)
				keep = !strcmp(o->folders[k], names[i]);
			if (keep)
				sub[nsub++] = names[i];
		} else if (S_ISREG(st.st_mode) && is_txt(names[i]) && root_files) {
			const char *label = depth >= 1 ? comps[depth - 1] : "";
			const char *split = depth >= 2 ? comps[depth - 2] : "";
			int fd = open(p, O_RDONLY);
			if (fd < 0)
				die("%s:", p);
			struct buf *t = sink_begin(s, p, split, label);
			read_all(fd, p, t);
			close(fd);
			s->end(s->arg, 1);
		}
		free(p);
	}
	if (nsub && depth >= 4000)
		die("%s: folders nested over 4000 deep", dir);
	for (size_t i = 0; i < nsub; i++) {
		char *r = xmalloc(strlen(rel) + strlen(sub[i]) + 2);
		sprintf(r, "%s%s%s", rel, *rel ? "/" : "", sub[i]);
		comps[depth] = sub[i];
		walk(o, s, root, r, comps, depth + 1, &me);
		free(r);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(sub);
	free(dir);
}

void
docsrc_folder(const struct docsrc_opts *o, const char *root,
              const struct doc_sink *s)
{
	const char *comps[4096];
	char *r = xstrdup(root);
	size_t n = strlen(r);

	while (n > 1 && r[n - 1] == '/')
		r[--n] = 0;
	walk(o, s, r, "", comps, 0, NULL);
	free(r);
}

/* ---- CSV (RFC 4180, as pandas.read_csv reads it) ---- */

void
csv_open(struct csv_reader *r, FILE *f, const char *path)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	r->path = path;
	r->lineno = 1;
}

void
csv_close(struct csv_reader *r)
{
	buf_free(&r->rec);
	free(r->off);
	r->off = NULL;
	r->nf = r->cap = 0;
}

int
csv_record(struct csv_reader *r)
{
	FILE *f = r->f;
	struct buf *rec = &r->rec;
	int c, q = 0, any = 0;

	rec->n = 0;
	r->nf = 0;
	for (;;) {
		if (r->nf == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 16;
			r->off = xrealloc(r->off, r->cap * sizeof *r->off);
		}
		r->off[r->nf++] = rec->n;
		int quoted = 0;
		q = 0;
		for (;;) {
			c = getc_unlocked(f);
			if (c == EOF) {
				if (ferror(f))
					die("%s: read error:", r->path);
				if (q)
					die("%s: line %llu: end of file inside a quoted "
					    "field; close the quote", r->path,
					    (unsigned long long)r->lineno);
				break;
			}
			any = 1;
			if (q) {
				if (c == '"') {
					int d = getc_unlocked(f);
					if (d == '"') {
						buf_addc(rec, '"');
						continue;
					}
					q = 0;
					if (d != EOF)
						ungetc(d, f);
					continue;
				}
				if (c == '\n')
					++r->lineno;
				buf_addc(rec, (char)c);
				continue;
			}
			if (c == '"' && !quoted && rec->n == r->off[r->nf - 1]) {
				q = quoted = 1;
				continue;
			}
			if (c == ',' || c == '\n')
				break;
			if (c == '\r') {
				int d = getc_unlocked(f);
				if (d == '\n') {
					c = '\n';
					break;
				}
				if (d != EOF)
					ungetc(d, f);
			}
			buf_addc(rec, (char)c);
		}
		buf_addc(rec, 0);
		if (c != ',') {
			++r->lineno;
			break;
		}
	}
	return any;
}

int
csv_is_na(const char *s)
{
	static const char *const na[] = { "", "#N/A", "#N/A N/A", "#NA",
		"-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
		"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null" };
	for (size_t i = 0; i < sizeof na / sizeof *na; i++)
		if (!strcmp(s, na[i]))
			return 1;
	return 0;
}

static int
col_index(char **names, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], want))
			return (int)i;
	return -1;
}

void
docsrc_csv(const struct docsrc_opts *o, const char *path,
           const struct doc_sink *s)
{
	FILE *f = open_in(path);
	struct csv_reader r;

	csv_open(&r, f, path);
	if (!csv_record(&r))
		die("%s: empty CSV file: a header line is needed", path);
	size_t ncol = r.nf;
	char **names = xmalloc(ncol * sizeof *names);
	for (size_t i = 0; i < ncol; i++)
		names[i] = xstrdup(r.rec.p + r.off[i]);
	if (!strncmp(names[0], "\xEF\xBB\xBF", 3))     /* a BOM, as pandas drops */
		memmove(names[0], names[0] + 3, strlen(names[0]) - 2);
	/* text columns */
	int tc[64], ntc = 0;
	char *list = xstrdup(o->text_cols), *sv;
	for (char *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		if (ntc == 64)
			usage_error("--text-col: at most 64 columns");
		if ((tc[ntc++] = col_index(names, ncol, t)) < 0)
			die("%s: no column \"%s\" in the header; choose one with "
			    "--text-col", path, t);
	}
	free(list);
	const char *label_col = o->label_col, *valid_col = o->valid_col;
	int lc = col_index(names, ncol, label_col ? label_col : "label");
	if (label_col && lc < 0)
		die("%s: no column \"%s\" in the header", path, label_col);
	int vc = valid_col ? col_index(names, ncol, valid_col) : -1;
	if (valid_col && vc < 0)
		die("%s: no column \"%s\" in the header", path, valid_col);

	while (csv_record(&r)) {
		const char *p = r.rec.p;
		size_t nf = r.nf, *off = r.off;
		if (nf == 1 && p[0] == 0)
			continue;              /* pandas skips blank lines */
		if (nf > ncol)
			die("%s: line %llu: %zu fields, the header has %zu", path,
			    (unsigned long long)r.lineno - 1, nf, ncol);
		/* missing trailing fields are NaN, as pandas pads them */
		const char *split = "train";
		if (vc >= 0) {
			const char *v = (size_t)vc < nf ? p + off[vc] : "";
			int t = !strcasecmp(v, "true") || !strcmp(v, "1");
			split = t ? "valid" : "train";
		}
		const char *label = lc >= 0 && (size_t)lc < nf ? p + off[lc] : "";
		if (lc >= 0 && csv_is_na(label))
			label = "nan";
		struct buf *t = sink_begin(s, path, split, label);
		for (int k = 0; k < ntc; k++) {
			const char *v = (size_t)tc[k] < nf ? p + off[tc[k]] : "";
			if (ntc > 1) {          /* _join_texts(mark_fields=True) */
				char m[32];
				snprintf(m, sizeof m, "%sxxfld %d ", k ? " " : "", k + 1);
				buf_adds(t, m);
			}
			if (csv_is_na(v))
				v = "nan";
			buf_adds(t, v);
		}
		s->end(s->arg, 0);
	}
	for (size_t i = 0; i < ncol; i++)
		free(names[i]);
	free(names);
	csv_close(&r);
	close_in(f, path);
}

static int
ends_with_csv(const char *p)
{
	size_t n = strlen(p);
	return n >= 4 && !strcasecmp(p + n - 4, ".csv");
}

void
docsrc_path(const struct docsrc_opts *o, const char *path, int csv,
            const struct doc_sink *s)
{
	struct stat st;

	if (strcmp(path, "-") && stat(path, &st))
		die("%s:", path);
	if (strcmp(path, "-") && S_ISDIR(st.st_mode))
		docsrc_folder(o, path, s);
	else if (csv || ends_with_csv(path))
		docsrc_csv(o, path, s);
	else
		docsrc_plain(o, path, s);
}
