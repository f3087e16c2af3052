/* docsrc: CSV records (RFC 4180 as pandas reads it), CSV columns, the
 * from_folder walk (labels, splits, order, --folders) and plain lines. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "text/docsrc.h"
#include "text/tokfile.h"
#include "core/util.h"

/* ---- a sink that keeps every document ---- */

struct doc { char *name, *split, *label; struct buf text; int newlines; };
struct docs { struct doc d[64]; int n; };

static struct buf *
keep_begin(void *arg, const struct doc_meta *m)
{
	struct docs *ds = arg;
	if (ds->n == 64)
		die("test: too many documents");
	struct doc *d = &ds->d[ds->n];
	memset(d, 0, sizeof *d);
	d->name = xstrdup(m->name);
	d->split = xstrdup(m->split);
	d->label = xstrdup(m->label);
	return &d->text;
}

static void
keep_end(void *arg, int newlines)
{
	struct docs *ds = arg;
	struct doc *d = &ds->d[ds->n++];
	d->newlines = newlines;
	buf_addc(&d->text, 0);
}

static void
docs_free(struct docs *ds)
{
	for (int i = 0; i < ds->n; i++) {
		free(ds->d[i].name), free(ds->d[i].split), free(ds->d[i].label);
		buf_free(&ds->d[i].text);
	}
	ds->n = 0;
}

/* a sink that keeps every document, and the default options */
struct fix { struct docs ds; struct doc_sink s; struct docsrc_opts o; };

static void
fix_init(struct fix *x)
{
	memset(&x->ds, 0, sizeof x->ds);
	x->s = (struct doc_sink){ keep_begin, keep_end, &x->ds };
	docsrc_opts_default(&x->o);
}

/* "name|split|label|text;" per document, for one-line comparisons */
static char *
docs_str(const struct docs *ds, int with_name)
{
	struct buf b = {0};
	buf_grow(&b, 1);
	for (int i = 0; i < ds->n; i++) {
		if (with_name) {
			buf_adds(&b, ds->d[i].name);
			buf_addc(&b, '|');
		}
		buf_adds(&b, ds->d[i].split);
		buf_addc(&b, '|');
		buf_adds(&b, ds->d[i].label);
		buf_addc(&b, '|');
		buf_adds(&b, ds->d[i].text.p);
		buf_addc(&b, ';');
	}
	buf_addc(&b, 0);
	return b.p;
}

static int
check_str(char *got, const char *want, const char *what)
{
	int r = !strcmp(got, want);
	ok(r, "%s", what);
	if (!r)
		diag("got  %s\n# want %s", got, want);
	free(got);
	return r;
}

static void
put(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	if (!f || fputs(s, f) == EOF || fclose(f))
		die("%s:", path);
}

/* ---- CSV records ---- */

static void
test_records(void)
{
	static const char in[] =
		"a,\"say \"\"hi\"\"\",\"two\nlines\",x\"y\r\n"
		"\"crlf, inside\",b\rc,\r\n"
		"last,no newline";
	FILE *f = fmemopen((void *)in, sizeof in - 1, "rb");
	struct csv_reader r;

	csv_open(&r, f, "mem");
	ok(csv_record(&r) && r.nf == 4, "record 1: 4 fields (got %zu)", r.nf);
	ok(!strcmp(r.rec.p + r.off[0], "a"), "plain field");
	ok(!strcmp(r.rec.p + r.off[1], "say \"hi\""),
	   "doubled quotes inside quotes are one quote");
	ok(!strcmp(r.rec.p + r.off[2], "two\nlines"),
	   "a newline inside quotes is kept");
	ok(!strcmp(r.rec.p + r.off[3], "x\"y"),
	   "a quote inside an unquoted field is literal; CRLF ends the record");
	ok(r.lineno == 3, "the record took 2 lines (next starts on %llu)",
	   (unsigned long long)r.lineno);
	ok(csv_record(&r) && r.nf == 3, "record 2: 3 fields (got %zu)", r.nf);
	ok(!strcmp(r.rec.p + r.off[0], "crlf, inside"), "a comma inside quotes");
	ok(!strcmp(r.rec.p + r.off[1], "b\rc"), "a lone CR is data");
	ok(!strcmp(r.rec.p + r.off[2], ""), "a trailing comma: an empty field");
	ok(csv_record(&r) && r.nf == 2 &&
	   !strcmp(r.rec.p + r.off[1], "no newline"),
	   "the last record needs no newline");
	ok(!csv_record(&r), "then end of file");
	csv_close(&r);
	fclose(f);

	ok(csv_is_na("") && csv_is_na("NA") && csv_is_na("null") &&
	   csv_is_na("#N/A") && !csv_is_na("na") && !csv_is_na("0"),
	   "pandas' na_values, case-sensitive");
}

static void
csv_default(const void *path, size_t unused_)
{
	(void)unused_;
	struct fix x;

	fix_init(&x);
	docsrc_csv(&x.o, path, &x.s);
	docs_free(&x.ds);
}

/* ---- CSV files: header, BOM, columns ---- */

static void
test_csv(const char *tmp)
{
	char p[4096];
	struct fix x;

	fix_init(&x);
	snprintf(p, sizeof p, "%s/a.csv", tmp);
	put(p, "\xEF\xBB\xBFtext,label,is_valid,title\r\n"
	       "\"he said \"\"no\"\"\",pos,True,T1\r\n"
	       "\r\n"
	       "\"line\r\nbreak\",NA,0,T2\r\n"
	       "short\n"
	       ",neg,1\n");
	docsrc_csv(&x.o, p, &x.s);
	check_str(docs_str(&x.ds, 0),
	          "train|pos|he said \"no\";train|nan|line\r\nbreak;"
	          "train|nan|short;train|neg|nan;",
	          "BOM dropped from the header; blank line skipped; NA label and "
	          "missing fields are nan; no --valid-col: all train");
	ok(x.ds.n == 4 && !strcmp(x.ds.d[0].name, p) && x.ds.d[0].newlines == 0,
	   "a row is named by its file; no newline translation");
	docs_free(&x.ds);

	x.o.valid_col = "is_valid";
	x.o.text_cols = "title,text";
	x.o.label_col = "title";
	docsrc_csv(&x.o, p, &x.s);
	check_str(docs_str(&x.ds, 0),
	          "valid|T1|xxfld 1 T1 xxfld 2 he said \"no\";"
	          "train|T2|xxfld 1 T2 xxfld 2 line\r\nbreak;"
	          "train|nan|xxfld 1 nan xxfld 2 short;"
	          "valid|nan|xxfld 1 nan xxfld 2 nan;",
	          "--valid-col (True, 1), --label-col, two text columns marked "
	          "xxfld 1, xxfld 2");
	docs_free(&x.ds);

	snprintf(p, sizeof p, "%s/wide.csv", tmp);
	put(p, "text,label\na,b,c\n");
	ok(child_status(csv_default, p, 0) == 1, "more fields than the header: exit 1");
	snprintf(p, sizeof p, "%s/open.csv", tmp);
	put(p, "text\n\"never closed\n");
	ok(child_status(csv_default, p, 0) == 1, "an unclosed quote: exit 1");
	snprintf(p, sizeof p, "%s/notext.csv", tmp);
	put(p, "body,label\nx,y\n");
	ok(child_status(csv_default, p, 0) == 1, "no text column: exit 1");
	snprintf(p, sizeof p, "%s/empty.csv", tmp);
	put(p, "");
	ok(child_status(csv_default, p, 0) == 1, "an empty file: exit 1");
}

/* ---- from_folder ---- */

static void
test_folder(const char *tmp)
{
	static const char *const dirs[] = { "r", "r/train", "r/train/pos",
		"r/train/neg", "r/valid", "r/valid/pos", "r/.hidden" };
	static const char *const files[][2] = {
		{ "r/top.txt", "T" },
		{ "r/train/x.txt", "X" },
		{ "r/train/pos/b.txt", "B" },
		{ "r/train/pos/a.TXT", "A\r\n" },
		{ "r/train/pos/notes.md", "no" },
		{ "r/train/neg/c.txt", "C" },
		{ "r/valid/pos/d.txt", "D" },
		{ "r/.hidden/e.txt", "no" },
		{ "r/train/.f.txt", "no" },
	};
	char p[4096], root[4096];
	struct fix x;

	fix_init(&x);
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(p, sizeof p, "%s/%s", tmp, dirs[i]);
		if (mkdir(p, 0755))
			die("%s:", p);
	}
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", tmp, files[i][0]);
		put(p, files[i][1]);
	}
	snprintf(root, sizeof root, "%s/r", tmp);
	docsrc_folder(&x.o, root, &x.s);
	check_str(docs_str(&x.ds, 0),
	          "||T;|train|X;train|neg|C;train|pos|A\r\n;train|pos|B;"
	          "valid|pos|D;",
	          "label = parent, split = grandparent; sorted, a folder's files "
	          "before its subfolders; *.txt any case; hidden and others skipped");
	ok(x.ds.n == 6 && x.ds.d[3].newlines == 1, "file text: newlines translated");
	snprintf(p, sizeof p, "%s/r/train/pos/a.TXT", tmp);
	ok(x.ds.n == 6 && !strcmp(x.ds.d[3].name, p), "named by path: %s",
	   x.ds.n == 6 ? x.ds.d[3].name : "?");
	docs_free(&x.ds);

	snprintf(root, sizeof root, "%s/r//", tmp);
	docsrc_folder(&x.o, root, &x.s);
	snprintf(p, sizeof p, "%s/r/top.txt", tmp);
	ok(x.ds.n == 6 && !strcmp(x.ds.d[0].name, p),
	   "trailing slashes of the root are dropped from names");
	docs_free(&x.ds);

	const char *only[] = { "valid" }, *with_root[] = { "valid", "." };
	snprintf(root, sizeof root, "%s/r", tmp);
	x.o.folders = only, x.o.nfolders = 1;
	docsrc_folder(&x.o, root, &x.s);
	check_str(docs_str(&x.ds, 0), "valid|pos|D;",
	          "--folders valid: only that top folder, no root files");
	docs_free(&x.ds);
	x.o.folders = with_root, x.o.nfolders = 2;
	docsrc_folder(&x.o, root, &x.s);
	check_str(docs_str(&x.ds, 0), "||T;valid|pos|D;",
	          "--folders valid,.: and the files at the root");
	docs_free(&x.ds);

	/* a symbolic link loop is skipped, not followed forever */
	snprintf(p, sizeof p, "%s/r/valid/pos/up", tmp);
	if (symlink("../..", p))
		die("%s:", p);
	x.o.folders = only, x.o.nfolders = 1;
	fflush(stdout);
	FILE *saved = stderr;
	stderr = fopen("/dev/null", "w");
	docsrc_folder(&x.o, root, &x.s);
	fclose(stderr);
	stderr = saved;
	check_str(docs_str(&x.ds, 0), "valid|pos|D;", "a symbolic link loop is skipped");
	docs_free(&x.ds);

	/* docsrc_path dispatches on the kind of path */
	x.o.folders = NULL, x.o.nfolders = 0;
	snprintf(p, sizeof p, "%s/a.csv", tmp);
	docsrc_path(&x.o, p, 0, &x.s);
	ok(x.ds.n == 4 && !strcmp(x.ds.d[0].text.p, "he said \"no\""),
	   "docsrc_path: *.csv is read as CSV");
	docs_free(&x.ds);
	snprintf(p, sizeof p, "%s/r/top.txt", tmp);
	docsrc_path(&x.o, p, 0, &x.s);
	ok(x.ds.n == 1 && !strcmp(x.ds.d[0].split, "train") &&
	   !strcmp(x.ds.d[0].label, "") && !strcmp(x.ds.d[0].text.p, "T"),
	   "docsrc_path: another file is one document, train, no label");
	docs_free(&x.ds);
}

/* ---- plain files, one document per line ---- */

static void
test_lines(const char *tmp)
{
	char p[4096];
	struct fix x;

	fix_init(&x);
	snprintf(p, sizeof p, "%s/lines", tmp);
	put(p, "a\r\nb\rc\n\nd");
	x.o.lines = 1;
	x.o.split = "valid";
	x.o.label = "L";
	docsrc_plain(&x.o, p, &x.s);
	check_str(docs_str(&x.ds, 0),
	          "valid|L|a;valid|L|b;valid|L|c;valid|L|;valid|L|d;",
	          "lines split at \\n, \\r\\n and \\r (Python's text mode); "
	          "--split, --label");
	ok(x.ds.n == 5 && x.ds.d[0].newlines == 0, "a line: no newline translation");
	docs_free(&x.ds);
}

int
main(void)
{
	char tmp[] = "/tmp/docsrc-test.XXXXXX";

	argv0 = "docsrc";
	if (!mkdtemp(tmp))
		die("mkdtemp:");
	test_records();
	test_csv(tmp);
	test_folder(tmp);
	test_lines(tmp);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd))
		diag("could not remove %s", tmp);
	return done_testing();
}
