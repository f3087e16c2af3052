/* driver.c: run a harness over saved inputs without libFuzzer, so the
 * regressions build with any compiler and run under make test and make
 * asan.  usage: fuzz-NAME FILE|DIR ...  Each file is one input; a
 * directory's files are run in name order.  Prints "ok FILE" for each;
 * a finding aborts (as under libFuzzer), so the exit status says it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "core/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0, cap = 0, got;

	if (!f) {
		perror(path);
		return 1;
	}
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(p);
		return 1;
	}
	fclose(f);
	/* exactly n bytes, as libFuzzer hands them: ASan sees one past */
	unsigned char *q = malloc(n ? n : 1);
	if (n)
		memcpy(q, p, n);
	free(p);
	LLVMFuzzerTestOneInput(q, n);
	free(q);
	printf("ok %s\n", path);
	fflush(stdout);
	return 0;
}

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char *argv[])
{
	int ret = 0;

	argv0 = "fuzz";
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR ...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			perror(argv[i]);
			ret = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			ret |= run_file(argv[i]);
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		char **names = NULL;
		size_t n = 0;
		if (!d) {
			perror(argv[i]);
			ret = 1;
			continue;
		}
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			names = realloc(names, (n + 1) * sizeof *names);
			if (!names || asprintf(&names[n], "%s/%s", argv[i],
			                       e->d_name) < 0)
				abort();
			n++;
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof *names, namecmp);
		for (size_t k = 0; k < n; k++) {
			ret |= run_file(names[k]);
			free(names[k]);
		}
		free(names);
	}
	return ret;
}
