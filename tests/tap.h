/* tap.h: TAP output for C unit tests (git t/, llm.c style). */
#ifndef TAP_H
#define TAP_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_n, tap_bad;
#define ok(c, ...) do { int r_ = (c); tap_n++; tap_bad += !r_;          \
	printf("%sok %d - ", r_ ? "" : "not ", tap_n);                   \
	printf(__VA_ARGS__); putchar('\n'); fflush(stdout); } while (0)
#define diag(...) do { printf("# "); printf(__VA_ARGS__);             \
	putchar('\n'); } while (0)
#define done_testing() (printf("1..%d\n", tap_n), tap_bad != 0)

/* !(x <= tol) also catches NaN */
static inline int
close_to(const float *a, const float *b, size_t k, float atol, float rtol)
{
	for (size_t i = 0; i < k; i++)
		if (!(fabsf(a[i] - b[i]) <= atol + rtol * fabsf(b[i])))
			return 0;
	return 1;
}

/* A dying child ends here, before the exit handlers registered earlier
 * (LeakSanitizer's among them): a die() leaves its blocks to the kernel,
 * and checking the whole heap for leaks in each of thousands of children
 * made the byte-flip tests the slowest of the suite under ASan. */
static inline void
child_quick_exit(int status, void *arg)
{
	(void)arg;
	_exit(status);
}

/* Exit status of fn(arg, n) run in a child with stderr discarded, for code
 * that is meant to die(): 0 if fn returns, 99 if the child crashed. */
static inline int
child_status(void (*fn)(const void *arg, size_t n), const void *arg, size_t n)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if (!(pid = fork())) {
		if (!freopen("/dev/null", "w", stderr))
			_exit(98);
		on_exit(child_quick_exit, NULL);
		fn(arg, n);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}
#endif
