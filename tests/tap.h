/* tap.h: TAP output for C unit tests (git t/, llm.c style). */
#ifndef TAP_H
#define TAP_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
#endif
