/* docsrc.c: the document readers as tok runs them: a CSV file (pandas'
 * read_csv rules) with the default columns or with two text columns, a
 * label and a validity column; a plain file as one document or one per
 * line; a folder tree (from_folder).  Byte 0 % 5 picks the reader; the
 * rest is the file, or for a folder the tree, one entry a line:
 * "path TAB content" (content "@target": a symbolic link to target, kept
 * relative and without "..", so the walk stays in the temporary tree). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/extract.h"

#include "text/docsrc.h"
#include "fuzz.h"

struct run {
	struct docsrc_opts o;
	int mode;
	const char *path;
	size_t rootlen;
	struct buf text;        /* the current document */
	size_t docs;
};

static struct buf *
begin(void *arg, const struct doc_meta *m)
{
	struct run *r = arg;
	FZ_ASSERT(m->name && m->split && m->label);
	if (r->mode == 4) {     /* root/.../split/label/name.txt */
		size_t n = strlen(m->name);
		FZ_ASSERT(n > r->rootlen + 4 && !strncmp(m->name, r->path,
		          r->rootlen) && m->name[r->rootlen] == '/');
		FZ_ASSERT(!strcasecmp(m->name + n - 4, ".txt"));
		const char *rel = m->name + r->rootlen + 1;
		const char *e = strrchr(rel, '/'), *b = e;
		if (!e)
			FZ_ASSERT(!*m->label && !*m->split);
		else {
			while (b > rel && b[-1] != '/')
				b--;
			FZ_ASSERT(strlen(m->label) == (size_t)(e - b) &&
			          !strncmp(m->label, b, (size_t)(e - b)));
		}
	} else
		FZ_ASSERT(!strcmp(m->split, "train") ||
		          !strcmp(m->split, "valid"));
	r->text.n = 0;
	return &r->text;
}

static void
end(void *arg, int newlines)
{
	struct run *r = arg;
	(void)newlines;
	if (r->mode == 3)       /* one per line: no line break inside */
		FZ_ASSERT(!r->text.n || (!memchr(r->text.p, '\n', r->text.n) &&
		          !memchr(r->text.p, '\r', r->text.n)));
	r->docs++;
}

static void
go(void *arg)
{
	struct run *r = arg;
	struct doc_sink s = { begin, end, r };
	switch (r->mode) {
	case 0: case 1: docsrc_csv(&r->o, r->path, &s); break;
	case 4: docsrc_folder(&r->o, r->path, &s); break;
	default: docsrc_plain(&r->o, r->path, &s); break;
	}
}

/* Make the tree the bytes describe under root (at most 256 entries). */
static void
make_tree(const char *root, const char *p, size_t n)
{
	char path[512];
	int k = 0;

	while (n && k++ < 256) {
		const char *nl = memchr(p, '\n', n), *tab;
		size_t len = nl ? (size_t)(nl - p) : n;
		tab = memchr(p, '\t', len);
		if (tab) {
			/* the path: components without "." or "..", NUL ends it */
			size_t o = (size_t)snprintf(path, sizeof path, "%s", root);
			const char *c = p, *end = tab;
			while (c < end && o + 2 < sizeof path) {
				const char *sl = memchr(c, '/', (size_t)(end - c));
				size_t cl = (size_t)((sl ? sl : end) - c);
				if (cl && cl < 64 && !memchr(c, 0, cl) &&
				    !(cl == 1 && c[0] == '.') &&
				    !(cl == 2 && c[0] == '.' && c[1] == '.') &&
				    o + cl + 2 < sizeof path) {
					path[o++] = '/';
					memcpy(path + o, c, cl);
					o += cl;
					path[o] = 0;
					if (sl)
						mkdir(path, 0755);
				}
				c = sl ? sl + 1 : end;
			}
			const char *v = tab + 1;
			size_t vl = len - (size_t)(v - p);
			if (vl && v[0] == '@') {
				char t[128];
				size_t tl = vl - 1 < sizeof t - 1 ? vl - 1 : sizeof t - 1;
				memcpy(t, v + 1, tl);
				t[tl] = 0;
				if (t[0] != '/' && !strstr(t, ".."))
					if (symlink(t, path)) {}
			} else {
				FILE *f = fopen(path, "wb");
				if (f) {
					fwrite(v, 1, vl, f);
					fclose(f);
				}
			}
		}
		if (!nl)
			break;
		n -= len + 1;
		p = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char path[64], root[64];
	int fd = -1;
	struct run r = { .mode = data[0] % 5, .path = path };

	if (r.mode == 4) {
		static const char *const only[] = { "train", "." };
		fz_tmpdir(root, "docsrc");
		make_tree(root, (const char *)data + 1, size - 1);
		r.path = root;
		r.rootlen = strlen(root);
		if (data[0] / 5 & 1)
			r.o.folders = only, r.o.nfolders = 2;
	} else
		fd = fz_memfile(data + 1, size - 1, path);

	const char *const *folders = r.o.folders;
	int nfolders = r.o.nfolders;
	docsrc_opts_default(&r.o);
	r.o.folders = folders, r.o.nfolders = nfolders;
	if (r.mode == 1) {
		r.o.text_cols = "text,title";
		r.o.label_col = "label";
		r.o.valid_col = "is_valid";
	}
	r.o.lines = r.mode == 3;
	if (fz_catch(go, &r) == 0) {
		if (r.mode == 2)
			FZ_ASSERT(r.docs == 1 && r.text.n == size - 1);
		buf_free(&r.text);
	}       /* else what go() allocated is gone */
	if (fd >= 0)
		close(fd);
	if (r.mode == 4)
		FZ_ASSERT(rm_tree(root) == 0);
	return 0;
}
