/* tok: fastai's Tokenizer (default rules + spaCy blank("en") words) as a
 * Unix tool.  Reads a folder tree, CSV files, plain files or stdin; writes
 * .tok lines (split TAB label TAB tokens) in input order.
 *
 * Threads: the main thread reads documents into batches and writes finished
 * batches in order; -j workers tokenize.  At most NSLOT batches exist at
 * once, so memory is bounded by the documents in flight. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer.h"
#include "tokfile.h"
#include "util.h"

static const char usage_text[] =
"usage: tok [-hlq] [-j threads] [-o out] [-L lengths] [-c] [-r rules] [-x rules]\n"
"           [--no-bos] [--eos] [--folders list] [--text-col cols]\n"
"           [--label-col col] [--valid-col col] [--split name] [--label name]\n"
"           [dir | file.csv | file | -] ...\n"
"  A directory is read as fastai's from_folder: every *.txt below it, label =\n"
"  parent folder, split = grandparent folder.  A *.csv file (or any file with\n"
"  -c) is read as from_csv.  Other files are one document each; - is stdin.\n"
"  -o out      write the .tok lines to out (default: stdout)\n"
"  -j n        tokenize with n threads (default: all cores)\n"
"  -L file     also write each document's token count, one per line\n"
"  -l          plain files: one document per line\n"
"  -c          read files and stdin as CSV\n"
"  -r rules    apply only these pre-rules (comma list; order stays fastai's)\n"
"  -x rules    drop these pre-rules (fix_html replace_rep replace_wrep\n"
"              spec_add_spaces rm_useless_spaces replace_all_caps replace_maj\n"
"              lowercase)\n"
"  -q          no progress on stderr\n"
"  --no-bos    no xxbos at the start of each document\n"
"  --eos       add xxeos at the end of each document\n"
"  --folders l from_folder: only these top-level folders (comma list)\n"
"  --text-col c   CSV text column(s), comma list (default: text)\n"
"  --label-col c  CSV label column (default: label, if present)\n"
"  --valid-col c  CSV boolean column: true rows get split \"valid\" (default:\n"
"                 every row is \"train\")\n"
"  --split s, --label s   split and label of plain files and stdin\n"
"                 (default: train, empty)\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

/* ---- batches ---- */

struct batch {
	struct buf text;          /* documents, back to back */
	struct buf meta;          /* split NUL label NUL, per document */
	size_t *end, *mend;       /* end offsets in text and meta */
	int *newlines;            /* per document: translate \r\n */
	size_t n, cap;
	struct buf out;           /* .tok lines */
	struct buf lens;          /* "count\n" per document */
	int state;
};
enum { FREE, READY, BUSY, DONE };

#define BATCH_DOCS 512
#define BATCH_BYTES (256u << 10)

static struct tok_opts opts;
static struct batch *slots;
static int nslot, nthread;
static size_t next_fill, next_take, next_write;
static int quitting;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

static struct out *out, *lens_out;
static struct batch *cur;
static uint64_t ndocs, nbytes;
static struct progress prog;

static void
field_escape(struct buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		default:   buf_addc(b, *s);
		}
}

static void
batch_run(struct tok_ctx *c, struct batch *b)
{
	size_t t0 = 0, m0 = 0;

	b->out.n = b->lens.n = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct tok_opts o = opts;
		o.newlines = b->newlines[i];
		size_t k = tok_doc(c, &o, b->text.p + t0, b->end[i] - t0);
		const char *split = b->meta.p + m0;
		const char *label = split + strlen(split) + 1;
		field_escape(&b->out, split);
		buf_addc(&b->out, '\t');
		field_escape(&b->out, label);
		buf_addc(&b->out, '\t');
		tok_write(c, &b->out);
		buf_addc(&b->out, '\n');
		char num[32];
		int l = snprintf(num, sizeof num, "%zu\n", k);
		buf_add(&b->lens, num, (size_t)l);
		t0 = b->end[i];
		m0 = b->mend[i];
	}
}

static void *
worker(void *arg)
{
	struct tok_ctx *c = tok_ctx_new();

	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		while (next_take == next_fill && !quitting)
			pthread_cond_wait(&work_cv, &mu);
		if (next_take == next_fill)
			break;
		struct batch *b = &slots[next_take++ % (size_t)nslot];
		b->state = BUSY;
		pthread_mutex_unlock(&mu);
		batch_run(c, b);
		pthread_mutex_lock(&mu);
		b->state = DONE;
		pthread_cond_broadcast(&done_cv);
	}
	pthread_mutex_unlock(&mu);
	tok_ctx_free(c);
	return NULL;
}

static void
batch_write(struct batch *b)
{
	if (fwrite(b->out.p, 1, b->out.n, out->f) != b->out.n)
		die("%s: write error:", out->path);
	if (lens_out && fwrite(b->lens.p, 1, b->lens.n, lens_out->f) != b->lens.n)
		die("%s: write error:", lens_out->path);
	b->n = b->text.n = b->meta.n = 0;
}

/* write the finished batches at the head, in order; with wait, block for
 * the head one */
static void
drain(int wait)
{
	pthread_mutex_lock(&mu);
	while (next_write < next_fill) {
		struct batch *b = &slots[next_write % (size_t)nslot];
		if (b->state != DONE) {
			if (!wait)
				break;
			pthread_cond_wait(&done_cv, &mu);
			continue;
		}
		pthread_mutex_unlock(&mu);
		batch_write(b);
		pthread_mutex_lock(&mu);
		b->state = FREE;
		next_write++;
		wait = 0;
	}
	pthread_mutex_unlock(&mu);
}

static struct tok_ctx *solo;     /* -j 1: no threads */

static void
submit(void)
{
	if (!cur || !cur->n)
		return;
	if (nthread == 1) {
		batch_run(solo, cur);
		batch_write(cur);
		return;
	}
	pthread_mutex_lock(&mu);
	cur->state = READY;
	next_fill++;
	pthread_cond_signal(&work_cv);
	pthread_mutex_unlock(&mu);
	cur = NULL;
	drain(0);
}

static struct batch *
batch_get(void)
{
	if (cur)
		return cur;
	if (nthread == 1)
		return cur = &slots[0];
	for (;;) {
		struct batch *b = &slots[next_fill % (size_t)nslot];
		pthread_mutex_lock(&mu);
		int st = b->state;
		pthread_mutex_unlock(&mu);
		if (st == FREE)
			return cur = b;
		drain(1);
	}
}

/* Start a document; the caller appends its text to the returned buffer
 * and calls doc_end(). */
static struct buf *
doc_begin(const char *split, const char *label)
{
	struct batch *b = batch_get();

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : BATCH_DOCS;
		b->end = xrealloc(b->end, b->cap * sizeof *b->end);
		b->mend = xrealloc(b->mend, b->cap * sizeof *b->mend);
		b->newlines = xrealloc(b->newlines, b->cap * sizeof *b->newlines);
	}
	buf_grow(&b->text, 1);
	buf_add(&b->meta, split, strlen(split) + 1);
	buf_add(&b->meta, label, strlen(label) + 1);
	return &b->text;
}

static void
doc_end(int newlines)
{
	struct batch *b = cur;
	size_t start = b->n ? b->end[b->n - 1] : 0;

	b->end[b->n] = b->text.n;
	b->mend[b->n] = b->meta.n;
	b->newlines[b->n] = newlines;
	b->n++;
	ndocs++;
	nbytes += b->text.n - start;
	progress_set(&prog, nbytes);
	if (b->n >= BATCH_DOCS || b->text.n >= BATCH_BYTES)
		submit();
}

/* ---- plain files ---- */

static const char *plain_split = "train", *plain_label = "";
static int lines_mode;

static void
read_all(int fd, const char *path, struct buf *b)
{
	for (;;) {
		buf_grow(b, 1 << 16);
		ssize_t r = read(fd, b->p + b->n, b->cap - b->n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("%s:", path);
		}
		if (r == 0)
			break;
		b->n += (size_t)r;
	}
}

static void
plain(const char *path)
{
	FILE *f = open_in(path);

	if (lines_mode) {
		struct buf line = {0};
		/* lines as Python's text mode splits them: \n, \r\n or \r */
		while (read_line(f, path, &line)) {
			size_t n = line.n, a = 0;
			if (n && line.p[n - 1] == '\r')
				n--;
			for (;;) {
				const char *cr = memchr(line.p + a, '\r', n - a);
				size_t e = cr ? (size_t)(cr - line.p) : n;
				struct buf *t = doc_begin(plain_split, plain_label);
				buf_add(t, line.p + a, e - a);
				doc_end(0);
				if (!cr)
					break;
				a = e + 1;
			}
		}
		buf_free(&line);
	} else {
		struct buf *t = doc_begin(plain_split, plain_label);
		read_all(fileno(f), path, t);
		doc_end(1);
	}
	close_in(f, path);
}

/* ---- from_folder ---- */

static char **folders;
static int nfolders;

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
walk(const char *root, const char *rel, const char **comps, int depth,
     const struct dirstack *up)
{
	char *dir = xmalloc(strlen(root) + strlen(rel) + 2);
	sprintf(dir, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(dir);
	struct stat st;

	if (!d || fstat(dirfd(d), &st))
		die("%s:", dir);
	for (const struct dirstack *s = up; s; s = s->up)
		if (s->dev == st.st_dev && s->ino == st.st_ino) {
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
	qsort(names, n, sizeof *names, namecmp);

	/* os.walk: this folder's files first, then its subfolders */
	char **sub = xmalloc((n + 1) * sizeof *sub);
	size_t nsub = 0;
	int root_files = depth > 0 || !nfolders;
	for (int k = 0; k < nfolders; k++)
		if (!strcmp(folders[k], "."))
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
			int keep = depth > 0 || !nfolders;
			for (int k = 0; k < nfolders && !keep; k++)
				keep = !strcmp(folders[k], names[i]);
			if (keep)
				sub[nsub++] = names[i];
		} else if (S_ISREG(st.st_mode) && is_txt(names[i]) && root_files) {
			const char *label = depth >= 1 ? comps[depth - 1] : "";
			const char *split = depth >= 2 ? comps[depth - 2] : "";
			int fd = open(p, O_RDONLY);
			if (fd < 0)
				die("%s:", p);
			struct buf *t = doc_begin(split, label);
			read_all(fd, p, t);
			close(fd);
			doc_end(1);
		}
		free(p);
	}
	if (nsub && depth >= 4000)
		die("%s: folders nested over 4000 deep", dir);
	for (size_t i = 0; i < nsub; i++) {
		char *r = xmalloc(strlen(rel) + strlen(sub[i]) + 2);
		sprintf(r, "%s%s%s", rel, *rel ? "/" : "", sub[i]);
		comps[depth] = sub[i];
		walk(root, r, comps, depth + 1, &me);
		free(r);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(sub);
	free(dir);
}

static void
folder(const char *root)
{
	const char *comps[4096];
	char *r = xstrdup(root);
	size_t n = strlen(r);

	while (n > 1 && r[n - 1] == '/')
		r[--n] = 0;
	walk(r, "", comps, 0, NULL);
	free(r);
}

/* ---- CSV (RFC 4180, as pandas.read_csv reads it) ---- */

static const char *text_cols = "text", *label_col, *valid_col;

/* One record into fields (NUL-terminated, in rec); 0 at EOF. */
static int
csv_record(FILE *f, const char *path, struct buf *rec, size_t **off,
           size_t *nf, size_t *cap, uint64_t *lineno)
{
	int c, q = 0, any = 0;

	rec->n = 0;
	*nf = 0;
	for (;;) {
		if (*nf == *cap) {
			*cap = *cap ? 2 * *cap : 16;
			*off = xrealloc(*off, *cap * sizeof **off);
		}
		(*off)[(*nf)++] = rec->n;
		int quoted = 0;
		q = 0;
		for (;;) {
			c = getc_unlocked(f);
			if (c == EOF) {
				if (ferror(f))
					die("%s: read error:", path);
				if (q)
					die("%s: line %llu: end of file inside a quoted "
					    "field; close the quote", path,
					    (unsigned long long)*lineno);
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
					++*lineno;
				buf_addc(rec, (char)c);
				continue;
			}
			if (c == '"' && !quoted && rec->n == (*off)[*nf - 1]) {
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
			++*lineno;
			break;
		}
	}
	return any;
}

/* pandas' default na_values: such a text becomes NaN, then "nan" */
static int
is_na(const char *s)
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

static void
csv(const char *path)
{
	FILE *f = open_in(path);
	struct buf rec = {0};
	size_t *off = NULL, nf = 0, cap = 0;
	uint64_t lineno = 1;

	if (!csv_record(f, path, &rec, &off, &nf, &cap, &lineno))
		die("%s: empty CSV file: a header line is needed", path);
	char **names = xmalloc(nf * sizeof *names);
	size_t ncol = nf;
	for (size_t i = 0; i < nf; i++)
		names[i] = xstrdup(rec.p + off[i]);
	if (!strncmp(names[0], "\xEF\xBB\xBF", 3))     /* a BOM, as pandas drops */
		memmove(names[0], names[0] + 3, strlen(names[0]) - 2);
	/* text columns */
	int tc[64], ntc = 0;
	char *list = xstrdup(text_cols), *sv;
	for (char *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		if (ntc == 64)
			usage_error("--text-col: at most 64 columns");
		if ((tc[ntc++] = col_index(names, ncol, t)) < 0)
			die("%s: no column \"%s\" in the header; choose one with "
			    "--text-col", path, t);
	}
	free(list);
	int lc = col_index(names, ncol, label_col ? label_col : "label");
	if (label_col && lc < 0)
		die("%s: no column \"%s\" in the header", path, label_col);
	int vc = valid_col ? col_index(names, ncol, valid_col) : -1;
	if (valid_col && vc < 0)
		die("%s: no column \"%s\" in the header", path, valid_col);

	while (csv_record(f, path, &rec, &off, &nf, &cap, &lineno)) {
		if (nf == 1 && rec.p[0] == 0)
			continue;              /* pandas skips blank lines */
		if (nf > ncol)
			die("%s: line %llu: %zu fields, the header has %zu", path,
			    (unsigned long long)lineno - 1, nf, ncol);
		/* missing trailing fields are NaN, as pandas pads them */
		const char *split = "train";
		if (vc >= 0) {
			const char *v = (size_t)vc < nf ? rec.p + off[vc] : "";
			int t = !strcasecmp(v, "true") || !strcmp(v, "1");
			split = t ? "valid" : "train";
		}
		const char *label = lc >= 0 && (size_t)lc < nf ? rec.p + off[lc] : "";
		if (lc >= 0 && is_na(label))
			label = "nan";
		struct buf *t = doc_begin(split, label);
		for (int k = 0; k < ntc; k++) {
			const char *v = (size_t)tc[k] < nf ? rec.p + off[tc[k]] : "";
			if (ntc > 1) {          /* _join_texts(mark_fields=True) */
				char m[32];
				snprintf(m, sizeof m, "%sxxfld %d ", k ? " " : "", k + 1);
				buf_adds(t, m);
			}
			if (is_na(v))
				v = "nan";
			buf_adds(t, v);
		}
		doc_end(0);
	}
	for (size_t i = 0; i < ncol; i++)
		free(names[i]);
	free(names);
	free(off);
	buf_free(&rec);
	close_in(f, path);
}

/* ---- options ---- */

static unsigned
parse_rules(const char *s, const char *what)
{
	unsigned m = 0;
	char *l = xstrdup(s), *sv;

	for (char *t = strtok_r(l, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		int r = tok_rule_by_name(t);
		if (r < 0)
			usage_error("%s: unknown rule \"%s\" (see tok -h)", what, t);
		m |= 1u << r;
	}
	free(l);
	return m;
}

static int
ends_with_csv(const char *p)
{
	size_t n = strlen(p);
	return n >= 4 && !strcasecmp(p + n - 4, ".csv");
}

enum { O_NOBOS = 256, O_EOS, O_FOLDERS, O_TEXT, O_LABELCOL, O_VALID,
       O_SPLIT, O_LABEL };

int
main(int argc, char *argv[])
{
	static const struct option lo[] = {
		{"help", no_argument, NULL, 'h'},
		{"no-bos", no_argument, NULL, O_NOBOS},
		{"eos", no_argument, NULL, O_EOS},
		{"folders", required_argument, NULL, O_FOLDERS},
		{"text-col", required_argument, NULL, O_TEXT},
		{"label-col", required_argument, NULL, O_LABELCOL},
		{"valid-col", required_argument, NULL, O_VALID},
		{"split", required_argument, NULL, O_SPLIT},
		{"label", required_argument, NULL, O_LABEL},
		{"lines", no_argument, NULL, 'l'},
		{"csv", no_argument, NULL, 'c'},
		{NULL, 0, NULL, 0}
	};
	const char *outpath = "-", *lenpath = NULL;
	int c, quiet = 0, force_csv = 0;
	long j = 0;

	argv0 = "tok";
	tok_opts_default(&opts);
	while ((c = getopt_long(argc, argv, "hqlcj:o:L:r:x:", lo, NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': quiet = 1; break;
		case 'l': lines_mode = 1; break;
		case 'c': force_csv = 1; break;
		case 'j': j = parse_long(optarg, "-j", 1, 1024); break;
		case 'o': outpath = optarg; break;
		case 'L': lenpath = optarg; break;
		case 'r': opts.rules = parse_rules(optarg, "-r"); break;
		case 'x': opts.rules &= ~parse_rules(optarg, "-x"); break;
		case O_NOBOS: opts.bos = 0; break;
		case O_EOS: opts.eos = 1; break;
		case O_FOLDERS: {
			char *l = xstrdup(optarg), *sv;
			for (char *t = strtok_r(l, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
				folders = xrealloc(folders, (size_t)(nfolders + 1) * sizeof *folders);
				folders[nfolders++] = t;
			}
			break;
		}
		case O_TEXT: text_cols = optarg; break;
		case O_LABELCOL: label_col = optarg; break;
		case O_VALID: valid_col = optarg; break;
		case O_SPLIT: plain_split = optarg; break;
		case O_LABEL: plain_label = optarg; break;
		default: usage(2);
		}
	argc -= optind, argv += optind;
	if (!*text_cols)
		usage_error("--text-col: empty");
	if (!j) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		j = n > 0 ? n : 1;
	}
	nthread = (int)j;

	tok_init();
	out = out_open(outpath, 0);
	lens_out = lenpath ? out_open(lenpath, 0) : NULL;
	nslot = nthread == 1 ? 1 : 2 * nthread + 2;
	slots = xcalloc((size_t)nslot, sizeof *slots);
	pthread_t *th = NULL;
	if (nthread == 1) {
		solo = tok_ctx_new();
	} else {
		th = xmalloc((size_t)nthread * sizeof *th);
		for (int i = 0; i < nthread; i++)
			if (pthread_create(&th[i], NULL, worker, NULL))
				die("pthread_create:");
	}
	progress_init(&prog, "tok", 0, quiet);

	char *stdin_only[] = { "-", NULL };
	char **in = argc ? argv : stdin_only;
	for (; *in; in++) {
		struct stat st;
		if (strcmp(*in, "-") && stat(*in, &st))
			die("%s:", *in);
		if (strcmp(*in, "-") && S_ISDIR(st.st_mode))
			folder(*in);
		else if (force_csv || ends_with_csv(*in))
			csv(*in);
		else
			plain(*in);
	}
	submit();
	if (nthread > 1) {
		drain(1);
		while (next_write < next_fill)
			drain(1);
		pthread_mutex_lock(&mu);
		quitting = 1;
		pthread_cond_broadcast(&work_cv);
		pthread_mutex_unlock(&mu);
		for (int i = 0; i < nthread; i++)
			pthread_join(th[i], NULL);
	}
	progress_end(&prog);
	tok_ctx_free(solo);
	free(th);
	for (int i = 0; i < nslot; i++) {
		struct batch *b = &slots[i];
		buf_free(&b->text);
		buf_free(&b->meta);
		buf_free(&b->out);
		buf_free(&b->lens);
		free(b->end);
		free(b->mend);
		free(b->newlines);
	}
	free(slots);
	int ret = out_close(out);
	if (lens_out)
		ret |= out_close(lens_out);
	return ret;
}
