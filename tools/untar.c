/* untar: fastai's untar_data as a Unix tool.  Fetch, verify and extract
 * a dataset or model into the cache; print the directory. */
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/untar.h"
#include "core/util.h"

static const char usage_text[] =
"usage: untar [-fhlmq] [-c xxh64:HEX|md5:HEX] [-M size] [-r retries]\n"
"             [-t seconds] source ...\n"
"  source        a name (untar -l), an http(s)/ftp/file URL, or a local\n"
"                archive (tar, tar.gz/bz2/xz/zst, tgz, zip, 7z)\n"
"  -c SUM        the archive must have this xxh64 or md5 (whole file)\n"
"  -f, --force   download and extract again\n"
"  -l, --list    list the names, their cache folder and URL\n"
"  -m            extract under models/ instead of data/\n"
"  -M, --max-size SIZE  refuse archives that expand to more than SIZE\n"
"                bytes (K/M/G/T suffixes; 0: no limit; default 64G)\n"
"  -q            no progress bar or retry notes on stderr\n"
"  -r N          tries again N times after a transient error (default 3)\n"
"  -t SEC        connect timeout (default 20)\n"
"Prints the extracted directory ($ULMFIT_HOME, default ~/.ulmfit, /data\n"
"or /models, then the archive's name without its extension).\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

/* 64G, 512M, 100000: bytes, binary suffixes. */
static uint64_t
parse_size(const char *s, const char *what)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	if (*s < '0' || *s > '9')
		usage_error("%s: '%s' is not a size", what, s);
	v = strtoull(s, &end, 10);
	switch (*end) {
	case 0: break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: usage_error("%s: '%s' is not a size", what, s);
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	if (*end || (shift && v > (~0ULL >> shift)))
		usage_error("%s: '%s' is not a size", what, s);
	return (uint64_t)v << shift;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "force", no_argument, NULL, 'f' },
		{ "list", no_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "max-size", required_argument, NULL, 'M' },
		{ "check", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct untar_opts o = { 0 };
	int c, list = 0, ret = 0;

	argv0 = "untar";
	/* Names on disk in UTF-8 whatever the locale: libarchive converts
	 * zip and pax names to the locale's charset, and ASCII (the C
	 * locale) cannot hold them. */
	if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8"))
		setlocale(LC_CTYPE, "C.UTF-8");
	o.max_bytes = (uint64_t)64 << 30;
	o.retries = 3;
	o.connect_timeout = 20;
	o.stall_timeout = 60;
	while ((c = getopt_long(argc, argv, "+c:fhlmM:qr:t:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'c':
			if (untar_check_parse(optarg, &o.check) < 0)
				usage_error("-c: '%s': want xxh64:16 hex digits or "
				            "md5:32 hex digits", optarg);
			break;
		case 'f': o.force = 1; break;
		case 'h': usage(0);
		case 'l': list = 1; break;
		case 'm': o.model = 1; break;
		case 'M': o.max_bytes = parse_size(optarg, "--max-size"); break;
		case 'q': o.quiet = 1; break;
		case 'r': o.retries = parse_long(optarg, "-r", 0, 100); break;
		case 't': o.connect_timeout = parse_long(optarg, "-t", 1, 3600);
			break;
		default:  usage(2);
		}
	argc -= optind, argv += optind;
	if (list) {
		if (argc)
			usage(2);
		untar_list(stdout);
	} else if (!argc) {
		usage(2);
	}
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "-"))
			usage_error("-: an archive on stdin has no name to cache "
			            "it under; save it to a file first");
	for (int i = 0; i < argc; i++) {
		char *dir = untar_get(argv[i], &o);
		printf("%s\n", dir);
		free(dir);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("stdout:");
		ret = 1;
	}
	return ret;
}
