/* docsrc.h: where documents come from.  A folder tree (fastai's
 * from_folder), CSV files (from_csv, read as pandas.read_csv reads them),
 * plain files (one document each, or one per line) and stdin ("-").
 *
 * Readers call a sink for every document, in input order: begin() returns
 * the buffer the text is appended to (so a batch can own the bytes and no
 * copy is made), end() says the text is complete.  Errors die() with
 * `path: reason`, as every tool's messages. */
#ifndef DOCSRC_H
#define DOCSRC_H

#include <stdint.h>
#include <stdio.h>

#include "text/tokfile.h"

struct docsrc_opts {
	const char *split, *label;   /* plain files and stdin (train, "") */
	int lines;                   /* plain files: one document per line */
	const char *const *folders;  /* from_folder: only these top-level */
	int nfolders;                /*   folders ("." = files at the root) */
	const char *text_cols;       /* CSV: comma list (default "text") */
	const char *label_col;       /* CSV: NULL = "label" if present */
	const char *valid_col;       /* CSV: true rows are split "valid" */
};
void docsrc_opts_default(struct docsrc_opts *o);

/* name: the file's path ("-" for stdin); for a CSV row, the CSV's path */
struct doc_meta { const char *name, *split, *label; };

struct doc_sink {
	struct buf *(*begin)(void *arg, const struct doc_meta *m);
	/* newlines: the text is a file's bytes (tokenizer translates \r\n) */
	void (*end)(void *arg, int newlines);
	void *arg;
};

/* Every *.txt (any case) below root, sorted by name, a folder's files
 * before its subfolders (os.walk); label = parent folder, split =
 * grandparent, "" above the root.  Hidden entries are skipped; symbolic
 * link loops and dangling links are warned about and skipped. */
void docsrc_folder(const struct docsrc_opts *o, const char *root,
                   const struct doc_sink *s);
/* A CSV file with a header line; one document per row. */
void docsrc_csv(const struct docsrc_opts *o, const char *path,
                const struct doc_sink *s);
/* A plain file or "-": one document, or one per line with o->lines. */
void docsrc_plain(const struct docsrc_opts *o, const char *path,
                  const struct doc_sink *s);
/* A directory as docsrc_folder, a *.csv (or any file with csv) as
 * docsrc_csv, anything else as docsrc_plain. */
void docsrc_path(const struct docsrc_opts *o, const char *path, int csv,
                 const struct doc_sink *s);

/* ---- the pieces, for tests ---- */

/* One RFC 4180 record: fields NUL-terminated in rec at off[0..nf). */
struct csv_reader {
	FILE *f;
	const char *path;
	struct buf rec;
	size_t *off, nf, cap;
	uint64_t lineno;             /* line the next record starts on */
};
void csv_open(struct csv_reader *r, FILE *f, const char *path);
/* Returns 0 at end of file.  Dies inside an unclosed quote. */
int csv_record(struct csv_reader *r);
void csv_close(struct csv_reader *r);
/* pandas' default na_values (such a field reads as NaN, then "nan") */
int csv_is_na(const char *s);

#endif
