/* fetch.h: download a URL to a file with libcurl, resuming.
 *
 * The body goes to PART (dest + ".part"); a second call after a cut
 * connection asks for the rest with a Range request (If-Range: the ETag or
 * Last-Modified of the first response, kept in PART.info, so a changed
 * file is fetched again from the start).  Only when the whole body is there
 * (the length the server announced) is PART renamed to dest.
 *
 * Protocols: http, https, ftp, file; redirects to http(s) only.  The proxy
 * comes from the usual variables (https_proxy, http_proxy, no_proxy). */
#ifndef FETCH_H
#define FETCH_H

#include <signal.h>

struct fetch_opts {
	long connect_timeout;    /* seconds to connect, 0: libcurl's */
	long stall_timeout;      /* seconds under 1 byte/s before giving up */
	int retries;             /* after a transient failure */
	int quiet;               /* no progress bar */
	const volatile sig_atomic_t *stop;  /* set by a signal: abort */
};

/* Returns 0, or prints "untar: url: reason" and returns -1.  Failures that
 * another try cannot fix (DNS, refused connection, HTTP 4xx) are not
 * retried; the others are, after 1, 2, 4, ... seconds, each try resuming
 * where the last one stopped. */
int fetch_url(const char *url, const char *dest, const struct fetch_opts *o);

#endif
