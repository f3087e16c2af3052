/* recorder.h: what fastai's Recorder and ProgressCallback print for a
 * training run (spec §13): the epoch table on stdout and, with --log, one
 * line per epoch in a file.
 *
 * Columns: epoch, train_loss, valid_loss, the metrics, time.  In the
 * table every header is padded to 8 characters and headers are joined by
 * two spaces; every value is followed by 2 + width - len(value) spaces;
 * floats are %.6f, the epoch a bare integer, time mm:ss (h:mm:ss from an
 * hour).  The log is TSV with a header line, or JSON lines when its name
 * ends in .json or .jsonl, with the time in seconds (%.3f).
 *
 *   struct recorder rec;
 *   recorder_init(&rec, (const char *[]){ "accuracy" }, 1);
 *   recorder_open_log(&rec, path, resuming);    (only with --log)
 *   recorder_header(&rec, stdout);
 *   per epoch: recorder_epoch(&rec, stdout, epoch, tl, vl, metrics, secs);
 *   recorder_close(&rec); */
#ifndef RECORDER_H
#define RECORDER_H

#include <stddef.h>
#include <stdio.h>

enum { RECORDER_MAX_METRICS = 8 };

struct recorder {
	const char *cols[RECORDER_MAX_METRICS + 4];
	int ncol;
	FILE *log;              /* NULL: no log */
	const char *log_path;
	int json, append;
	int regular;            /* the log is a regular file (not /dev/full, a fifo) */
	long long good;         /* bytes of whole lines in the log */
};

/* Longest table or log line: 12 columns of at most 32 + names. */
enum { RECORDER_LINE = 4096 };

/* metrics names the columns between valid_loss and time. */
void recorder_init(struct recorder *r, const char *const *metrics,
                   int nmetrics);
/* Opens the log, appending for a resumed run (then no TSV header: the
 * file has one).  Dies if it cannot be opened or the header not written. */
void recorder_open_log(struct recorder *r, const char *path, int append);
void recorder_header(const struct recorder *r, FILE *out);   /* flushed */
/* One epoch: a table row on out (flushed) and a log line (written whole
 * with one write; on a write error the log is cut back to its last whole
 * line, or removed if this run created it, and recorder_epoch dies).
 * metrics: one value per metric column. */
void recorder_epoch(struct recorder *r, FILE *out, int epoch,
                    double train_loss, double valid_loss,
                    const double *metrics, double secs);
void recorder_close(struct recorder *r);    /* dies on a write error */

/* fastai's format_time: mm:ss, or h:mm:ss from an hour; whole seconds. */
void recorder_fmt_time(char *b, size_t n, double secs);

#endif
