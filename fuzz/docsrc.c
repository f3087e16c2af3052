/* docsrc.c: the document readers as tok runs them: a CSV file (pandas'
 * read_csv rules) with the default columns or with two text columns, a
 * label and a validity column; a plain file as one document or one per
 * line.  Byte 0 picks the reader; the rest is the file. */
#include <string.h>
#include <unistd.h>

#include "docsrc.h"
#include "fuzz.h"

struct run {
	struct docsrc_opts o;
	int mode;
	const char *path;
	struct buf text;        /* the current document */
	size_t docs;
};

static struct buf *
begin(void *arg, const struct doc_meta *m)
{
	struct run *r = arg;
	FZ_ASSERT(m->name && m->split && m->label);
	FZ_ASSERT(!strcmp(m->split, "train") || !strcmp(m->split, "valid"));
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
	default: docsrc_plain(&r->o, r->path, &s); break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char path[64];
	int fd = fz_memfile(data + 1, size - 1, path);
	struct run r = { .mode = data[0] & 3, .path = path };

	docsrc_opts_default(&r.o);
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
	close(fd);
	return 0;
}
