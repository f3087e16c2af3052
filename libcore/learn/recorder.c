/* recorder.c: fastai's epoch table and the per-epoch log.  See recorder.h. */
#include <sys/stat.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "learn/recorder.h"
#include "core/util.h"

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

/* A log write that fails (a full disk, a file size limit) must not leave a
 * cut line: the file is cut back to its last whole line, and a log this run
 * created is removed, before dying. */
static _Noreturn void
log_fail(struct recorder *r)
{
	int e = errno;
	/* Only a regular file is cut or removed: as root, unlinking a
	 * --log /dev/full would remove the device for everyone. */
	if (r->regular && r->append)
		(void)!ftruncate(fileno(r->log), r->good);
	else if (r->regular)
		unlink(r->log_path);
	errno = e;
	die("%s: write error:", r->log_path);
}

/* Writes n bytes of p as one unit, unbuffered: all of them or log_fail(). */
static void
log_write(struct recorder *r, const char *p, size_t n)
{
	int fd = fileno(r->log);
	for (size_t done = 0; done < n; ) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			log_fail(r);
		}
		done += w;
	}
	r->good += n;
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
	r->append = append;
	struct stat st;
	r->regular = fstat(fileno(r->log), &st) == 0 && S_ISREG(st.st_mode);
	if (fseeko(r->log, 0, SEEK_END) < 0 || (r->good = ftello(r->log)) < 0)
		r->good = 0;    /* a fifo or a device: nothing to cut back */
	if (!r->json && !append) {
		char b[RECORDER_LINE];
		size_t n = 0;
		for (int i = 0; i < r->ncol; i++)
			n += snprintf(b + n, sizeof b - n, "%s%s", r->cols[i],
			              i + 1 < r->ncol ? "\t" : "\n");
		log_write(r, b, n);
	}
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
log_row(struct recorder *r, int epoch, const double *f, double secs)
{
	char b[RECORDER_LINE];
	size_t n = 0;
	int last = r->ncol - 1;
	if (r->json) {
		n += snprintf(b + n, sizeof b - n, "{\"epoch\":%d", epoch);
		for (int i = 1; i < last; i++)
			n += snprintf(b + n, sizeof b - n, ",\"%s\":%.6f",
			              r->cols[i], f[i - 1]);
		n += snprintf(b + n, sizeof b - n, ",\"time\":%.3f}\n", secs);
	} else {
		n += snprintf(b + n, sizeof b - n, "%d", epoch);
		for (int i = 1; i < last; i++)
			n += snprintf(b + n, sizeof b - n, "\t%.6f", f[i - 1]);
		n += snprintf(b + n, sizeof b - n, "\t%.3f\n", secs);
	}
	log_write(r, b, n);
}

void
recorder_epoch(struct recorder *r, FILE *out, int epoch,
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
