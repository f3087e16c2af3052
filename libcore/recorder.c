/* recorder.c: fastai's epoch table and the per-epoch log.  See recorder.h. */
#include <string.h>

#include "recorder.h"
#include "util.h"

enum { VAL_MAX = 32 };          /* one formatted value, as fastai's str() */

void
recorder_init(struct recorder *r, const char *const *metrics, int nmetrics)
{
	if (nmetrics < 0 || nmetrics > RECORDER_MAX_METRICS)
		die("recorder: %d metrics, at most %d", nmetrics,
		    RECORDER_MAX_METRICS);
	memset(r, 0, sizeof *r);
	r->cols[r->ncol++] = "epoch";
	r->cols[r->ncol++] = "train_loss";
	r->cols[r->ncol++] = "valid_loss";
	for (int i = 0; i < nmetrics; i++)
		r->cols[r->ncol++] = metrics[i];
	r->cols[r->ncol++] = "time";
}

void
recorder_open_log(struct recorder *r, const char *path, int append)
{
	size_t l = strlen(path);
	r->json = (l > 5 && !strcmp(path + l - 5, ".json")) ||
	          (l > 6 && !strcmp(path + l - 6, ".jsonl"));
	if (!(r->log = fopen(path, append ? "a" : "w")))
		die("%s:", path);
	r->log_path = path;
	if (!r->json && !append)
		for (int i = 0; i < r->ncol; i++)
			fprintf(r->log, "%s%s", r->cols[i],
			        i + 1 < r->ncol ? "\t" : "\n");
}

void
recorder_header(const struct recorder *r, FILE *out)
{
	for (int i = 0; i < r->ncol; i++)
		fprintf(out, "%s%-8s", i ? "  " : "", r->cols[i]);
	putc('\n', out);
	fflush(out);
}

void
recorder_fmt_time(char *b, size_t n, double secs)
{
	long t = (long)secs;
	if (t >= 3600)
		snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(b, n, "%02ld:%02ld", t / 60, t % 60);
}

static void
table_row(const struct recorder *r, FILE *out, int epoch, const double *f,
          double secs)
{
	char v[RECORDER_MAX_METRICS + 4][VAL_MAX];
	int last = r->ncol - 1;
	snprintf(v[0], VAL_MAX, "%d", epoch);
	for (int i = 1; i < last; i++)
		snprintf(v[i], VAL_MAX, "%.6f", f[i - 1]);
	recorder_fmt_time(v[last], VAL_MAX, secs);
	for (int i = 0; i < r->ncol; i++) {
		int w = strlen(r->cols[i]) < 8 ? 8 : (int)strlen(r->cols[i]);
		fprintf(out, "%s%*s", v[i], 2 + w - (int)strlen(v[i]), "");
	}
	putc('\n', out);
	fflush(out);
}

static void
log_row(const struct recorder *r, int epoch, const double *f, double secs)
{
	int last = r->ncol - 1;
	if (r->json) {
		fprintf(r->log, "{\"epoch\":%d", epoch);
		for (int i = 1; i < last; i++)
			fprintf(r->log, ",\"%s\":%.6f", r->cols[i], f[i - 1]);
		fprintf(r->log, ",\"time\":%.3f}\n", secs);
	} else {
		fprintf(r->log, "%d", epoch);
		for (int i = 1; i < last; i++)
			fprintf(r->log, "\t%.6f", f[i - 1]);
		fprintf(r->log, "\t%.3f\n", secs);
	}
	if (fflush(r->log) == EOF)
		die("%s: write error:", r->log_path);
}

void
recorder_epoch(const struct recorder *r, FILE *out, int epoch,
               double train_loss, double valid_loss, const double *metrics,
               double secs)
{
	double f[RECORDER_MAX_METRICS + 2];
	f[0] = train_loss, f[1] = valid_loss;
	for (int i = 3; i < r->ncol - 1; i++)
		f[i - 1] = metrics[i - 3];
	table_row(r, out, epoch, f, secs);
	if (r->log)
		log_row(r, epoch, f, secs);
}

void
recorder_close(struct recorder *r)
{
	if (r->log && fclose(r->log))
		die("%s: write error:", r->log_path);
	r->log = NULL;
}
