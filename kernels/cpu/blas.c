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

/* OpenBLAS runs single-threaded (kern_set_threads); products big enough
 * to share are cut here, into pieces of whole blocks of rows or columns
 * of C, one per thread of our pool.  With OpenBLAS's own threads, its idle
 * workers spun in sched_yield for up to 2^28 cycles after every call,
 * taking the cores from our pool's kernels between the calls: a fifth of
 * a small LM step's CPU time (perf).  Each element of C is one piece's
 * and is summed over k as a 1-thread call sums it. */
struct sgemm_piece {
	int ta, tb, M, N, K, by_rows, lda, ldb, ldc;
	float alpha, beta;
	const float *A, *B;
	float *C;
};

#define PIECE 16        /* rows or columns: a piece is whole blocks */

static void
sgemm_range(void *arg, long lo, long hi)
{
	const struct sgemm_piece *p = arg;
	long a = lo * PIECE, b = hi * PIECE;
	const float *A = p->A, *B = p->B;
	float *C = p->C;
	int M = p->M, N = p->N;
	if (p->by_rows) {       /* rows a..b of op(A) and C */
		if (b > M)
			b = M;
		A += p->ta ? a : a * p->lda;
		C += a * p->ldc;
		M = (int)(b - a);
	} else {                /* columns a..b of op(B) and C */
		if (b > N)
			b = N;
		B += p->tb ? a * p->ldb : a;
		C += a;
		N = (int)(b - a);
	}
	cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
	            p->tb ? CblasTrans : CblasNoTrans, M, N, p->K, p->alpha, A,
	            p->lda, B, p->ldb, p->beta, C, p->ldc);
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
	/* cut the longer side of C; below 2^20 multiply-adds a thread, one
	 * call (kern_par_for runs it inline) */
	int by_rows = M > N, len = by_rows ? M : N;
	long blocks = (len + PIECE - 1) / PIECE;
	double per = (double)M * N * (K > 0 ? K : 1) / blocks;
	struct sgemm_piece p = { ta, tb, M, N, K, by_rows, lda, ldb, ldc,
	                         alpha, beta, A, B, C };
	kern_par_for(k, blocks, (long)((1 << 20) / per) + 1, sgemm_range, &p);
}

struct sgemv_piece {
	int ta, N, lda;
	float alpha, beta;
	const float *A, *x;
	float *y;
};

static void
sgemv_range(void *arg, long lo, long hi)
{
	const struct sgemv_piece *p = arg;
	int m = (int)(hi - lo);
	if (p->ta)      /* A stored (N,M): columns lo..hi */
		cblas_sgemv(CblasRowMajor, CblasTrans, p->N, m, p->alpha,
		            p->A + lo, p->lda, p->x, 1, p->beta, p->y + lo, 1);
	else
		cblas_sgemv(CblasRowMajor, CblasNoTrans, m, p->N, p->alpha,
		            p->A + lo * p->lda, p->lda, p->x, 1, p->beta,
		            p->y + lo, 1);
}

void
blas_sgemv(struct kern *k, int ta, int M, int N, float alpha, const float *A,
           int lda, const float *x, float beta, float *y)
{
	KERN_TWIN(k, blas_sgemv, (k, ta, M, N, alpha, A, lda, x, beta, y));
	if (M <= 0)
		return;
	/* outputs split between threads, at least 2^16 weights each */
	struct sgemv_piece p = { ta, N, lda, alpha, beta, A, x, y };
	kern_par_for(k, M, (1 << 16) / (N > 0 ? N : 1) + 1, sgemv_range, &p);
}

/* ---- thread pool ---- */
extern int blas_thread_shutdown_(void) __attribute__((weak));

#define MAXTHR 64
static struct {
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;       /* read by spinning workers: atomic */
	int nthr, started;
	int pending;            /* workers still running a call: atomic */
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

/* Waits poll for SPIN pause instructions (10.8 us on the Intel Xeon
 * where this was measured) before they sleep on the condition: the
 * model's calls come that close together (GPT-2 makes ~50 matrix-vector
 * products a token), and a futex wake-up on these VMs costs as much as
 * a small call.  Bounded, unlike OpenBLAS's own spin (2^28 cycles),
 * which this replaces. */
#define SPIN 1024

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
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
		if (pool.gen == seen) {
			pthread_mutex_unlock(&pool.mu);
			for (int i = 0; i < SPIN && __atomic_load_n(&pool.gen,
			                     __ATOMIC_ACQUIRE) == seen; i++)
				cpu_relax();
			pthread_mutex_lock(&pool.mu);
		}
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
		if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_RELEASE) == 0)
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
	/* blas_sgemm/sgemv cut the work; OpenBLAS's own workers, started
	 * when the library loaded, would spin in sched_yield for 2^28
	 * cycles after each call (the whole of a short process like
	 * infer): join them, through the entry point OpenBLAS's fork
	 * handler uses (weak: absent from a serial or other BLAS) */
	openblas_set_num_threads(1);
	if (blas_thread_shutdown_)
		blas_thread_shutdown_();
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
	__atomic_add_fetch(&pool.gen, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&pool.go);
	pthread_mutex_unlock(&pool.mu);
	piece(0, nthr, n, &lo, &hi);
	fn(ctx, lo, hi);
	for (int i = 0; i < SPIN && __atomic_load_n(&pool.pending,
	                                             __ATOMIC_ACQUIRE); i++)
		cpu_relax();
	pthread_mutex_lock(&pool.mu);
	while (pool.pending)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}
