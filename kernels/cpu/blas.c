/* blas.c: OpenBLAS setup, sgemm wrapper, and a small thread pool for
 * the element loops (the Makefile has no OpenMP; a pool of pthreads
 * started once keeps the loop overhead at a few microseconds). */
#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blas.h"
#include "ctx.h"
#include "gemm.h"
#include "dispatch.h"

/* OpenBLAS's own choice is kept when it is one of its AVX2/AVX-512
 * kernels; anything older on a CPU that has AVX2 is the fallback. */
static int
good_core(const char *name)
{
	static const char *const good[] = { "haswell", "skylakex",
		"cooperlake", "sapphirerapids", "zen", NULL };
	if (getenv("ULMFIT_BLAS_DETECT_FAILED"))        /* tests/awd.t */
		return 0;
	for (int i = 0; good[i]; i++)
		if (!strcasecmp(name, good[i]))
			return 1;
	return 0;
}

const char *
blas_setup(char **argv)
{
	const char *ct = getenv("OPENBLAS_CORETYPE");
	const char *have = openblas_get_corename();
	if ((ct && *ct) || good_core(have))
		return have;
	__builtin_cpu_init();
	/* SkylakeX kernels use AVX-512; Haswell kernels AVX2 + FMA.  Debian's
	 * 0.3.21 maps CPUs it does not know to its SSE3 (Prescott) kernels,
	 * about 5x slower. */
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
		ct = "SkylakeX";
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		ct = "Haswell";
	else
		return have;
	if (getenv("ULMFIT_BLAS_REEXEC"))       /* already tried once */
		return have;
	setenv("OPENBLAS_CORETYPE", ct, 1);
	setenv("ULMFIT_BLAS_REEXEC", "1", 1);
	fflush(NULL);
	execv("/proc/self/exe", argv);
	/* exec failed (no /proc): carry on with what OpenBLAS chose */
	return have;
}

/* the precision is the context's (k->bf16); these set and read the
 * process's default context, the one the tools' models take */
void
kern_set_bf16(int on)
{
	kern_default()->bf16 = on;
}

int
kern_bf16(void)
{
	return kern_default()->bf16;
}

void
blas_sgemm(struct kern *k, int ta, int tb, int M, int N, int K, float alpha,
           const float *A, int lda, const float *B, int ldb, float beta,
           float *C, int ldc)
{
	KERN_TWIN(k, blas_sgemm,
	          (k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
	if (M <= 0 || N <= 0)
		return;
	if (k->bf16 && (double)M * N * K >= (1 << 18)) {
		gemm_bf16(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
		return;
	}
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
	            tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
	            ldb, beta, C, ldc);
}

void
blas_sgemv(struct kern *k, int ta, int M, int N, float alpha, const float *A,
           int lda, const float *x, float beta, float *y)
{
	KERN_TWIN(k, blas_sgemv, (k, ta, M, N, alpha, A, lda, x, beta, y));
	(void)k;
	if (M <= 0)
		return;
	if (ta)         /* A stored (N,M): y = A^T x */
		cblas_sgemv(CblasRowMajor, CblasTrans, N, M, alpha, A, lda, x,
		            1, beta, y, 1);
	else
		cblas_sgemv(CblasRowMajor, CblasNoTrans, M, N, alpha, A, lda, x,
		            1, beta, y, 1);
}

/* ---- thread pool ---- */
#define MAXTHR 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;
	int nthr, started, pending;
	kern_range_fn fn;
	void *ctx;
	long n;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
           PTHREAD_COND_INITIALIZER, 0, 1, 0, 0, NULL, NULL, 0 };

static unsigned long start_gen[MAXTHR];

static void
piece(int k, int nthr, long n, long *lo, long *hi)
{
	*lo = n * k / nthr;
	*hi = n * (k + 1) / nthr;
}

static void *
worker(void *arg)
{
	int k = (int)(long)arg;
	pthread_mutex_lock(&pool.mu);
	/* the generation current when this worker was created (under the
	 * lock): it must not run calls issued before it existed */
	unsigned long seen = start_gen[k];
	for (;;) {
		while (pool.gen == seen)
			pthread_cond_wait(&pool.go, &pool.mu);
		seen = pool.gen;
		if (k >= pool.nthr)
			continue;
		kern_range_fn fn = pool.fn;
		void *ctx = pool.ctx;
		long lo, hi;
		piece(k, pool.nthr, pool.n, &lo, &hi);
		pthread_mutex_unlock(&pool.mu);
		fn(ctx, lo, hi);
		pthread_mutex_lock(&pool.mu);
		if (--pool.pending == 0)
			pthread_cond_signal(&pool.done);
	}
	return NULL;
}

void
kern_set_threads(int n)
{
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > MAXTHR)
		n = MAXTHR;
	openblas_set_num_threads(n);
	pthread_mutex_lock(&pool.mu);
	for (; pool.started < n - 1; pool.started++) {
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		start_gen[pool.started + 1] = pool.gen;
		if (pthread_create(&t, &at, worker, (void *)(long)(pool.started + 1)))
			break;
		pthread_attr_destroy(&at);
	}
	pool.nthr = n <= pool.started + 1 ? n : pool.started + 1;
	pthread_mutex_unlock(&pool.mu);
}

int
kern_threads(void)
{
	return pool.nthr;
}

void
kern_par_for(struct kern *k, long n, long min_per_thread, kern_range_fn fn,
             void *ctx)
{
	(void)k;        /* the pool is the process's (ctx.h) */
	int nthr = pool.nthr;
	if (n <= 0)
		return;
	if (nthr <= 1 || n < 2 * (min_per_thread > 0 ? min_per_thread : 1)) {
		fn(ctx, 0, n);
		return;
	}
	long lo, hi;
	pthread_mutex_lock(&pool.mu);
	pool.fn = fn, pool.ctx = ctx, pool.n = n;
	pool.pending = nthr - 1;
	pool.gen++;
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	piece(0, nthr, n, &lo, &hi);
	fn(ctx, lo, hi);
	pthread_mutex_lock(&pool.mu);
	while (pool.pending)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}
