/* ops.c: the element operations of ops.h on the CPU.  Rows or elements
 * are split between kern_par_for's threads; each output element is
 * written by one thread in a fixed order (bitwise the same for any thread
 * count).  The inner loops are KERN_CLONES so they vectorise. */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")

#include <string.h>

#include "blas.h"
#include "ops.h"
#include "dispatch.h"

/* elements a thread should at least get before splitting pays */
#define MIN_ELEMS 16384

struct ops_ctx {
	float *y;
	const float *x, *b1, *b2;
	float a;
	long rows;
	int cols, T, B, E;
};

KERN_CLONES static void
bias1(float *restrict y, const float *restrict b, int n)
{
	for (int j = 0; j < n; j++)
		y[j] = b[j];
}

KERN_CLONES static void
bias2(float *restrict y, const float *restrict b1, const float *restrict b2,
      int n)
{
	for (int j = 0; j < n; j++)
		y[j] = b1[j] + b2[j];
}

static void
bias_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	for (long r = lo; r < hi; r++) {
		float *y = c->y + (size_t)r * c->cols;
		if (c->b2)
			bias2(y, c->b1, c->b2, c->cols);
		else
			bias1(y, c->b1, c->cols);
	}
}

static long
min_rows(int cols)
{
	return MIN_ELEMS / (cols > 0 ? cols : 1) + 1;
}

void
ops_bias_rows(struct kern *k, float *y, const float *b1, const float *b2,
              long rows, int cols)
{
	KERN_TWIN_RET(k, ops_bias_rows, (k, y, b1, b2, rows, cols));
	struct ops_ctx c = { .y = y, .b1 = b1, .b2 = b2, .cols = cols };
	kern_par_for(k, rows, min_rows(cols), bias_range, &c);
}

KERN_CLONES static void
add_row(float *restrict acc, const float *restrict x, long n)
{
	for (long j = 0; j < n; j++)
		acc[j] += x[j];
}

/* columns [lo, hi) over every row, rows in order */
static void
colsum_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	for (long r = 0; r < c->rows; r++)
		add_row(c->y + lo, c->x + (size_t)r * c->cols + lo, hi - lo);
}

void
ops_colsum_acc(struct kern *k, float *acc, const float *x, long rows,
               int cols)
{
	KERN_TWIN(k, ops_colsum_acc, (k, acc, x, rows, cols));
	struct ops_ctx c = { .y = acc, .x = x, .rows = rows, .cols = cols };
	if (rows <= 0)
		return;
	/* whole cache lines (16 floats) per thread */
	long per = MIN_ELEMS / (rows > 0 ? rows : 1) + 16;
	kern_par_for(k, cols, per, colsum_range, &c);
}

KERN_CLONES static void
axpy_loop(float *restrict y, float a, const float *restrict x, long n)
{
	for (long i = 0; i < n; i++)
		y[i] += a * x[i];
}

static void
axpy_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	axpy_loop(c->y + lo, c->a, c->x + lo, hi - lo);
}

void
ops_axpy(struct kern *k, float *y, float a, const float *x, size_t n)
{
	KERN_TWIN(k, ops_axpy, (k, y, a, x, n));
	struct ops_ctx c = { .y = y, .x = x, .a = a };
	kern_par_for(k, (long)n, MIN_ELEMS, axpy_range, &c);
}

KERN_CLONES static void
scale_loop(float *restrict x, float a, long n)
{
	for (long i = 0; i < n; i++)
		x[i] *= a;
}

static void
scale_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	scale_loop(c->y + lo, c->a, hi - lo);
}

void
ops_scale(struct kern *k, float *x, float a, size_t n)
{
	KERN_TWIN(k, ops_scale, (k, x, a, n));
	struct ops_ctx c = { .y = x, .a = a };
	kern_par_for(k, (long)n, MIN_ELEMS, scale_range, &c);
}

/* rows r = t*B + b of the time-major side, [lo, hi) */
static void
tbe_to_bte_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	size_t E = c->E;
	for (long r = lo; r < hi; r++) {
		long t = r / c->B, b = r % c->B;
		memcpy(c->y + ((size_t)b * c->T + t) * E, c->x + (size_t)r * E,
		       E * sizeof(float));
	}
}

static void
bte_to_tbe_range(void *p, long lo, long hi)
{
	const struct ops_ctx *c = p;
	size_t E = c->E;
	for (long r = lo; r < hi; r++) {
		long t = r / c->B, b = r % c->B;
		memcpy(c->y + (size_t)r * E, c->x + ((size_t)b * c->T + t) * E,
		       E * sizeof(float));
	}
}

void
ops_tbe_to_bte(struct kern *k, float *dst, const float *src, int T, int B,
               int E)
{
	KERN_TWIN(k, ops_tbe_to_bte, (k, dst, src, T, B, E));
	struct ops_ctx c = { .y = dst, .x = src, .T = T, .B = B, .E = E };
	kern_par_for(k, (long)T * B, min_rows(E), tbe_to_bte_range, &c);
}

void
ops_bte_to_tbe(struct kern *k, float *dst, const float *src, int B, int T,
               int E)
{
	KERN_TWIN(k, ops_bte_to_tbe, (k, dst, src, B, T, E));
	struct ops_ctx c = { .y = dst, .x = src, .T = T, .B = B, .E = E };
	kern_par_for(k, (long)T * B, min_rows(E), bte_to_tbe_range, &c);
}

struct copy_ctx {
	float *dst;
	const float *src;
	long ldd, lds;
	int w;
};

static void
copy_range(void *p, long lo, long hi)
{
	const struct copy_ctx *c = p;
	for (long r = lo; r < hi; r++)
		memcpy(c->dst + r * c->ldd, c->src + r * c->lds,
		       (size_t)c->w * sizeof(float));
}

void
ops_copy_rows(struct kern *k, float *dst, long ldd, const float *src,
              long lds, long rows, int w)
{
	KERN_TWIN(k, ops_copy_rows, (k, dst, ldd, src, lds, rows, w));
	struct copy_ctx c = { dst, src, ldd, lds, w };
	kern_par_for(k, rows, min_rows(w), copy_range, &c);
}

/* The reductions run on one thread: their order is the host loop's, so
 * a step's scalars are what they were before they became kernels. */
double
ops_sum_f64(struct kern *k, const double *x, long n)
{
	KERN_TWIN_RET(k, ops_sum_f64, (k, x, n));
	(void)k;
	double s = 0;
	for (long i = 0; i < n; i++)
		s += x[i];
	return s;
}

double
ops_sumsq(struct kern *k, const float *x, size_t n)
{
	KERN_TWIN_RET(k, ops_sumsq, (k, x, n));
	(void)k;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return s;
}

long
ops_count_nz(struct kern *k, const int *x, long n)
{
	KERN_TWIN_RET(k, ops_count_nz, (k, x, n));
	(void)k;
	long c = 0;
	for (long i = 0; i < n; i++)
		c += x[i] != 0;
	return c;
}
