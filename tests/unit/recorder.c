/* recorder: fastai's epoch table as spec §13 gives it (headers padded to 8
 * and joined by two spaces, each value followed by 2 + width - len spaces,
 * %.6f floats, a bare integer epoch, mm:ss or h:mm:ss), perplexity
 * 50.038246 for valid_loss 3.912788, and the --log files (TSV with a
 * header unless appending, JSON lines for .json and .jsonl). */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "learn/recorder.h"
#include "core/util.h"

static const char *lm_metrics[] = { "accuracy", "perplexity" };
static const char *clas_metrics[] = { "accuracy" };

static char mem[4096];

/* In a child: the log at path (appending when *append), under a file size
 * limit of limit bytes, one epoch row.  Dies on the write error. */
struct full { const char *path; int append; long limit; };
static void
log_on_full_disk(const void *arg, size_t n)
{
	const struct full *a = arg;
	struct recorder r;
	struct rlimit rl = { a->limit, a->limit };
	(void)n;
	signal(SIGXFSZ, SIG_IGN);     /* the write fails with EFBIG */
	setrlimit(RLIMIT_FSIZE, &rl);
	recorder_init(&r, lm_metrics, 2);
	recorder_open_log(&r, a->path, a->append);
	recorder_epoch(&r, fopen("/dev/null", "w"), 7, 4, 3,
	               (double[]){ 0.3, 50 }, 2);
	recorder_close(&r);
}

/* what the recorder printed for one header and one row */
static const char *
table(const char **metrics, int nm, int epoch, double tl, double vl,
      const double *m, double secs)
{
	struct recorder r;
	FILE *f = fmemopen(mem, sizeof mem, "w");
	recorder_init(&r, metrics, nm);
	recorder_header(&r, f);
	recorder_epoch(&r, f, epoch, tl, vl, m, secs);
	fclose(f);
	return mem;
}

static char *
slurp(const char *path)
{
	static char b[4096];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(b, 1, sizeof b - 1, f) : 0;
	if (f)
		fclose(f);
	b[n] = 0;
	return b;
}

static void
time_is(double secs, const char *want)
{
	char b[32];
	recorder_fmt_time(b, sizeof b, secs);
	ok(!strcmp(b, want), "format_time(%g) = %s (got %s)", secs, want, b);
}

int
main(void)
{
	argv0 = "test";

	/* ---- the console table */
	/* fastai prints the loss rounded and the perplexity of the unrounded
	 * loss: exp(3.912788) itself would be 50.038264 */
	double vl = 3.91278763, lm_m[] = { 0.3, exp(vl) };
	const char *t = table(lm_metrics, 2, 0, 4.1234564, vl, lm_m, 75.9);
	const char *want =
	    "epoch     train_loss  valid_loss  accuracy  perplexity  time    \n"
	    "0         4.123456    3.912788    0.300000  50.038246   01:15     \n";
	ok(!strcmp(t, want), "LM table: header padding, %%.6f, mm:ss, "
	   "perplexity 50.038246 for valid_loss 3.912788");
	if (strcmp(t, want))
		diag("got:\n%s", t);

	double acc = 0.9375;
	t = table(clas_metrics, 1, 12, 0.25, 0.1234567, &acc, 3725);
	want = "epoch     train_loss  valid_loss  accuracy  time    \n"
	       "12        0.250000    0.123457    0.937500  1:02:05   \n";
	ok(!strcmp(t, want), "classifier table: two-digit epoch, h:mm:ss");
	if (strcmp(t, want))
		diag("got:\n%s", t);

	t = table(clas_metrics, 1, 3, NAN, 12.5, &acc, 0);
	ok(!strncmp(strchr(t, '\n') + 1, "3         ", 10) &&
	   strstr(t, "nan") != NULL && strstr(t, "12.500000   0.937500  00:00"),
	   "NaN train_loss (before a step); valid_loss pads to its width 10");

	time_is(0, "00:00");
	time_is(59.99, "00:59");
	time_is(61, "01:01");
	time_is(3599, "59:59");
	time_is(3600, "1:00:00");
	time_is(36061, "10:01:01");

	/* ---- the --log files */
	char dir[] = "/tmp/recordertestXXXXXX", path[64];
	struct recorder r;
	ok(mkdtemp(dir) != NULL, "made a temp dir");

	snprintf(path, sizeof path, "%s/log.tsv", dir);
	recorder_init(&r, lm_metrics, 2);
	recorder_open_log(&r, path, 0);
	ok(!r.json, "log.tsv is TSV");
	FILE *null = fopen("/dev/null", "w");
	recorder_epoch(&r, null, 0, 4.5, vl, lm_m, 1.25);
	recorder_close(&r);
	ok(!strcmp(slurp(path), "epoch\ttrain_loss\tvalid_loss\taccuracy\t"
	           "perplexity\ttime\n"
	           "0\t4.500000\t3.912788\t0.300000\t50.038246\t1.250\n"),
	   "TSV: header, then %%.6f values and seconds as %%.3f");
	recorder_init(&r, lm_metrics, 2);
	recorder_open_log(&r, path, 1);
	recorder_epoch(&r, null, 1, 4, 3, lm_m, 2);
	recorder_close(&r);
	ok(!strcmp(strchr(strchr(slurp(path), '\n') + 1, '\n') + 1,
	           "1\t4.000000\t3.000000\t0.300000\t50.038246\t2.000\n"),
	   "appending (--resume) adds rows, no second header");

	/* a full disk: the log keeps its whole lines, or goes if it is new */
	char *before = strdup(slurp(path));
	long sz = strlen(before);
	ok(child_status(log_on_full_disk,
	                &(struct full){ path, 1, sz + 10 }, 0) == 1 &&
	   !strcmp(slurp(path), before),
	   "a row that does not fit: exit 1, the log as it was (no cut line)");
	free(before);
	unlink(path);
	ok(child_status(log_on_full_disk, &(struct full){ path, 0, 20 }, 0)
	   == 1 && access(path, F_OK) < 0,
	   "a header that does not fit: exit 1, no log left");
	ok(child_status(log_on_full_disk, &(struct full){ path, 0, 80 }, 0)
	   == 1 && access(path, F_OK) < 0,
	   "a first row that does not fit: exit 1, no log left");
	{
		struct stat st;
		ok(child_status(log_on_full_disk,
		                &(struct full){ "/dev/full", 0, 1 << 20 }, 0) == 1 &&
		   stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode),
		   "--log /dev/full: exit 1, the device left alone (was unlinked)");
	}

	const char *json[] = { "log.json", "log.jsonl" };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, json[i]);
		recorder_init(&r, clas_metrics, 1);
		recorder_open_log(&r, path, 0);
		recorder_epoch(&r, null, 2, 0.5, 0.25, &acc, 0.0625);
		recorder_close(&r);
		ok(r.json && !strcmp(slurp(path), "{\"epoch\":2,\"train_loss\":"
		   "0.500000,\"valid_loss\":0.250000,\"accuracy\":0.937500,"
		   "\"time\":0.062}\n"), "%s: JSON lines, no header", json[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/log.tsv", dir);
	unlink(path);
	rmdir(dir);
	fclose(null);
	return done_testing();
}
