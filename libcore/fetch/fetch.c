/* fetch.c: libcurl download with resume, timeouts and retries.  See fetch.h. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch/fetch.h"
#include "core/util.h"

struct xfer {
	CURL *c;
	FILE *f;                 /* PART, opened for append */
	const char *info;        /* PART.info: the validator for If-Range */
	uint64_t off;            /* bytes in PART when the request started */
	uint64_t got;            /* body bytes written by this request */
	long code;               /* HTTP status; 0 for file:// */
	int http;                /* statuses mean something (not file/ftp) */
	int started, ignore, werr;
	uint64_t range_start, range_total;  /* from Content-Range */
	int have_range;
	char etag[256], lastmod[256];
	struct progress pr;
	const struct fetch_opts *o;
};

static void
copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

/* Header lines of every response, redirects included: each status line
 * starts over. */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		x->etag[0] = x->lastmod[0] = 0;
		x->have_range = 0;
	} else if (n > 5 && !strncasecmp(p, "ETag:", 5)) {
		copy_value(x->etag, sizeof x->etag, p + 5, n - 5);
	} else if (n > 14 && !strncasecmp(p, "Last-Modified:", 14)) {
		copy_value(x->lastmod, sizeof x->lastmod, p + 14, n - 14);
	} else if (n > 14 && !strncasecmp(p, "Content-Range:", 14)) {
		char v[128];
		unsigned long long a, b, t;
		copy_value(v, sizeof v, p + 14, n - 14);
		if (sscanf(v, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
			x->range_start = a, x->range_total = t, x->have_range = 1;
		} else if (sscanf(v, "bytes */%llu", &t) == 1) {
			x->range_start = 0, x->range_total = t, x->have_range = 2;
		}
	}
	return n;
}

/* The first body bytes decide: 206 appends to PART, 200 starts it over
 * (the server ignored the range, or If-Range said the file changed),
 * an error status is not written at all. */
static int
start_body(struct xfer *x)
{
	curl_off_t cl = -1;

	x->started = 1;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->code);
	curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	if (!x->http)
		x->code = 0;
	if (x->code >= 300) {
		x->ignore = 1;
		return 0;
	}
	if (x->code == 206) {
		if (!x->have_range || x->range_start != x->off)
			return -1;
	} else if (x->code == 200 && x->off) {
		if (fflush(x->f) == EOF || ftruncate(fileno(x->f), 0) < 0)
			return -1;
		x->off = 0;
	}
	if (x->code == 200) {   /* remember what we got, for If-Range */
		const char *v = x->etag[0] ? x->etag : x->lastmod;
		FILE *fi = fopen(x->info, "w");
		if (fi) {
			fprintf(fi, "%s\n", v);
			fclose(fi);
		}
	}
	progress_init(&x->pr, "download", cl >= 0 ? x->off + cl : 0,
	              x->o->quiet);
	progress_set(&x->pr, x->off);
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (!x->started && start_body(x) < 0) {
		x->werr = errno ? errno : EPROTO;
		return 0;
	}
	if (x->ignore)
		return n;
	if (fwrite(p, 1, n, x->f) != n) {
		x->werr = errno;
		return 0;
	}
	x->got += n;
	progress_set(&x->pr, x->off + x->got);
	return n;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
            curl_off_t un)
{
	struct xfer *x = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return x->o->stop && *x->o->stop;
}

enum { DONE, RETRY, RESTART, FAIL };

/* Classify the end of one request; fills why. */
static int
outcome(struct xfer *x, CURLcode res, const char *errbuf, char *why,
        size_t cap)
{
	curl_off_t connected = 0;
	const char *e = errbuf[0] ? errbuf : curl_easy_strerror(res);

	curl_easy_getinfo(x->c, CURLINFO_CONNECT_TIME_T, &connected);
	if (x->o->stop && *x->o->stop) {
		snprintf(why, cap, "interrupted");
		return FAIL;
	}
	if (x->werr) {
		snprintf(why, cap, "%s", x->werr == EPROTO ?
		         "server sent a range that was not asked for" :
		         strerror(x->werr));
		return FAIL;
	}
	if (res == CURLE_OK && !x->started) {   /* no body at all */
		if (x->http)
			curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->code);
		if (x->code == 200 && x->off) {
			snprintf(why, cap, "the file is empty now");
			return RESTART;
		}
	}
	if (res == CURLE_OK && x->code == 416) {
		if (x->have_range == 2 && x->range_total == x->off)
			return DONE;    /* PART was complete already */
		snprintf(why, cap, "server refused the resume range");
		return RESTART;
	}
	if (res == CURLE_OK && x->code >= 400) {
		snprintf(why, cap, "HTTP %ld%s", x->code,
		         x->code == 404 ? " (not found)" :
		         x->code == 403 ? " (forbidden)" : "");
		return x->code == 408 || x->code == 429 || x->code >= 500 ?
		       RETRY : FAIL;
	}
	if (res == CURLE_OK && x->code >= 300) {
		snprintf(why, cap, "HTTP %ld (redirect not followed)", x->code);
		return FAIL;
	}
	if (res == CURLE_OK) {
		if (x->code == 206 || x->code == 200) {
			uint64_t want = x->code == 206 ? x->range_total : 0;
			curl_off_t cl = -1;
			curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			                  &cl);
			if (x->code == 200 && cl >= 0)
				want = cl;
			if (want && x->off + x->got != want) {
				snprintf(why, cap, "got %llu of %llu bytes",
				         (unsigned long long)(x->off + x->got),
				         (unsigned long long)want);
				return RETRY;
			}
		}
		return DONE;
	}
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(why, cap, "%s; are we offline? (a proxy goes in "
		         "https_proxy)", e);
		return FAIL;
	case CURLE_COULDNT_CONNECT:
		snprintf(why, cap, "%s; are we offline, or is the host down?", e);
		return FAIL;
	case CURLE_OPERATION_TIMEDOUT:
		if (connected) {
			snprintf(why, cap, "%s", e);
			return RETRY;
		}
		snprintf(why, cap, "%s; are we offline, or is the host down?", e);
		return FAIL;
	case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING: case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(why, cap, "%s", e);
		return RETRY;
	default:
		snprintf(why, cap, "%s", e);
		return FAIL;
	}
}

static int
one_request(const char *url, const char *part, const char *info,
            const struct fetch_opts *o, char *why, size_t cap)
{
	struct xfer x;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", range[32], ifr[300];
	CURLcode res;
	int ret;

	memset(&x, 0, sizeof x);
	x.o = o;
	x.http = !strncasecmp(url, "http", 4);
	x.info = info;
	if (!(x.f = fopen(part, "ab"))) {
		snprintf(why, cap, "%s: %s", part, strerror(errno));
		return FAIL;
	}
	fseeko(x.f, 0, SEEK_END);
	x.off = ftello(x.f);
	if (!(x.c = curl_easy_init()))
		die("libcurl: cannot start");
	curl_easy_setopt(x.c, CURLOPT_URL, url);
	curl_easy_setopt(x.c, CURLOPT_PROTOCOLS_STR, "http,https,ftp,file");
	curl_easy_setopt(x.c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(x.c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(x.c, CURLOPT_USERAGENT, "ulmfit-untar/1");
	curl_easy_setopt(x.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
	if (o->connect_timeout > 0)
		curl_easy_setopt(x.c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
	if (o->stall_timeout > 0) {
		curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout);
	}
	curl_easy_setopt(x.c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x.c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(x.c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x.c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x.c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x.c, CURLOPT_XFERINFODATA, &x);
	if (x.off) {
		FILE *fi = fopen(info, "r");
		char v[256];
		/* CURLOPT_RANGE, not RESUME_FROM: that one fails on a 200,
		 * which is how If-Range says "changed, here is all of it". */
		snprintf(range, sizeof range, "%llu-", (unsigned long long)x.off);
		curl_easy_setopt(x.c, CURLOPT_RANGE, range);
		if (fi && fgets(v, sizeof v, fi) && v[0] && v[0] != '\n') {
			v[strcspn(v, "\n")] = 0;
			snprintf(ifr, sizeof ifr, "If-Range: %s", v);
			hdrs = curl_slist_append(hdrs, ifr);
			curl_easy_setopt(x.c, CURLOPT_HTTPHEADER, hdrs);
		}
		if (fi)
			fclose(fi);
	}
	res = curl_easy_perform(x.c);
	progress_end(&x.pr);
	ret = outcome(&x, res, errbuf, why, cap);
	if (fflush(x.f) == EOF || (ret == DONE && fsync(fileno(x.f)) < 0)) {
		snprintf(why, cap, "%s: %s", part, strerror(errno));
		ret = FAIL;
	}
	fclose(x.f);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(x.c);
	return ret;
}

static void
nap(int sec, const struct fetch_opts *o)
{
	for (int i = 0; i < 10 * sec && !(o->stop && *o->stop); i++)
		usleep(100000);
}

int
fetch_url(const char *url, const char *dest, const struct fetch_opts *o)
{
	static int inited;
	size_t n = strlen(dest);
	char *part = xmalloc(n + 8), *info = xmalloc(n + 16), why[512];
	int tries = 0, restarts = 0, ret = -1, delay = 1;
	struct stat st;

	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
		inited = 1;
	sprintf(part, "%s.part", dest);
	sprintf(info, "%s.part.info", dest);
	for (;;) {
		int r = one_request(url, part, info, o, why, sizeof why);
		if (r == DONE) {
			if (rename(part, dest) < 0) {
				warn("%s:", dest);
				break;
			}
			unlink(info);
			ret = 0;
			break;
		}
		if (r == RESTART && restarts++ < 2) {
			unlink(part);
			unlink(info);
			continue;
		}
		if (r == RETRY && tries++ < o->retries) {
			if (!o->quiet)
				warn("%s: %s; trying again in %d s", url, why, delay);
			nap(delay, o);
			delay *= 2;
			if (!(o->stop && *o->stop))
				continue;
			snprintf(why, sizeof why, "interrupted");
		}
		/* an empty PART helps nobody; a partial one is resumed later */
		if (stat(part, &st) == 0 && st.st_size == 0) {
			unlink(part);
			unlink(info);
			warn("%s: %s", url, why);
		} else if (stat(part, &st) == 0) {
			warn("%s: %s; %llu bytes kept in %s: run again to resume",
			     url, why, (unsigned long long)st.st_size, part);
		} else {
			warn("%s: %s", url, why);
		}
		break;
	}
	free(part);
	free(info);
	return ret;
}
