/* check.c: every CUDA twin (kernels/cuda/cuda.h) against its CPU kernel
 * on fresh random inputs (make gpucheck).
 *
 * Each case draws its inputs from one seed (printed; GPUCHECK_SEED=n
 * repeats a run), runs the CPU kernel on host copies and the twin on
 * device copies whose outputs were poisoned first (NaN floats, 0xA5
 * bytes), so an element the twin does not write fails.  The error is
 * max |cpu - gpu| / max |cpu| over an output; the limit is 1e-5 for fp32
 * and 1e-2 for bf16 GEMMs; integer outputs must be equal.  A table comes
 * last; the exit status is 1 when any case fails.  With no usable device
 * it prints "SKIP: no CUDA device (reason)" and exits 0. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "cuda/cuda.h"
#include "core/rng.h"
#include "core/util.h"

#define F32 1e-5
#define BF16 1e-2

static struct kern C, G;        /* the CPU context and the device's */
static struct rng R;

/* ---- memory of one group of cases, freed by release() ---- */
#define MAXBUF 1024
static void *hmem[MAXBUF], *dmem[MAXBUF];
static int nh, nd;

static void *
hkeep(void *p)
{
	if (!p || nh == MAXBUF)
		die("gpucheck: host memory");
	return hmem[nh++] = p;
}

static void *
dkeep(void *p)
{
	if (nd == MAXBUF)
		die("gpucheck: too many device buffers in one case");
	return dmem[nd++] = p;
}

static void
release(void)
{
	while (nh)
		free(hmem[--nh]);
	while (nd)
		cuda_kern_free(&G, dmem[--nd]);
}

static void *
halloc(size_t bytes)
{
	return hkeep(aligned_alloc(64, (bytes + 63) & ~(size_t)63));
}

/* n floats uniform in [lo, hi) on the host */
static float *
rnd(size_t n, float lo, float hi)
{
	float *a = halloc(n * sizeof *a);
	for (size_t i = 0; i < n; i++)
		a[i] = lo + (hi - lo) * rng_float(&R);
	return a;
}

static float *
nanh(size_t n)
{
	float *a = halloc(n * sizeof *a);
	for (size_t i = 0; i < n; i++)
		a[i] = NAN;
	return a;
}

static void *
hcopy(const void *h, size_t bytes)
{
	return memcpy(halloc(bytes), h, bytes);
}

/* a device copy of host bytes */
static void *
dev(const void *h, size_t bytes)
{
	void *d = dkeep(cuda_kern_alloc(&G, bytes));
	cuda_kern_upload(&G, d, h, bytes);
	return d;
}

/* device floats poisoned with NaN; device bytes poisoned with 0xA5 */
static float *
dnan(size_t n)
{
	float *d = dkeep(cuda_kern_alloc(&G, n * sizeof *d));
	cuda_kern_fill(&G, d, n, NAN);
	return d;
}

static void *
dpoison(size_t bytes)
{
	void *h = halloc(bytes);
	memset(h, 0xA5, bytes);
	return dev(h, bytes);
}

static void *
down(const void *d, size_t bytes)
{
	void *h = halloc(bytes);
	cuda_kern_download(&G, h, d, bytes);
	return h;
}

/* max |a - b| / max |a| (max |a - b| when a is all 0); NaN gives inf */
static double
relerr_f(const float *a, const float *b, size_t n)
{
	double dm = 0, am = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (!(d <= dm))
			dm = isnan(d) ? INFINITY : d;
		if (fabs(a[i]) > am)
			am = fabs(a[i]);
	}
	return am > 0 ? dm / am : dm;
}

static double
relerr_d(const double *a, const double *b, size_t n)
{
	double dm = 0, am = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs(a[i] - b[i]);
		if (!(d <= dm))
			dm = isnan(d) ? INFINITY : d;
		if (fabs(a[i]) > am)
			am = fabs(a[i]);
	}
	return am > 0 ? dm / am : dm;
}

/* error of device floats d against host reference h */
static double
ef(const float *h, const float *d, size_t n)
{
	return relerr_f(h, down(d, n * sizeof *d), n);
}

static double
ed(const double *h, const double *d, size_t n)
{
	return relerr_d(h, down(d, n * sizeof *d), n);
}

/* bytes must be equal: 0, else inf */
static double
eb(const void *h, const void *d, size_t bytes)
{
	return memcmp(h, down(d, bytes), bytes) ? INFINITY : 0;
}

static double
es(double a, double b)          /* two scalars */
{
	return relerr_d(&a, &b, 1);
}

static double
worst(int n, ...)
{
	va_list ap;
	double w = 0;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		double e = va_arg(ap, double);
		if (!(e <= w))
			w = isnan(e) ? INFINITY : e;
	}
	va_end(ap);
	return w;
}

/* ---- the table ---- */
struct row { char name[32], size[40]; double err, lim; };
static struct row rows[128];
static int nrows, nfail;

static void
row(const char *name, double err, double lim, const char *fmt, ...)
{
	struct row *r = &rows[nrows < 127 ? nrows++ : 127];
	va_list ap;
	snprintf(r->name, sizeof r->name, "%s", name);
	va_start(ap, fmt);
	vsnprintf(r->size, sizeof r->size, fmt, ap);
	va_end(ap);
	r->err = err, r->lim = lim;
	nfail += !(err <= lim);
	printf("%-22s %-24s %.3g%s\n", r->name, r->size, err,
	       err <= lim ? "" : "  FAIL");
	fflush(stdout);
}

/* ---- cases ---- */

static void
t_memory(void)
{
	size_t n = 100003;
	float *a = rnd(n, -1, 1), *d = dnan(n), *e = dnan(n);
	cuda_kern_upload(&G, d, a, n * sizeof *a);
	cuda_kern_copy(&G, e, d, n * sizeof *a);
	double err = ef(a, e, n);
	cuda_kern_fill(&G, e, n, 2.5f);
	cuda_kern_sync(&G);
	float *b = down(e, n * sizeof *b);
	for (size_t i = 0; i < n; i++)
		err = b[i] == 2.5f ? err : INFINITY;
	cuda_kern_zero(&G, e, n * sizeof *e);
	b = down(e, n * sizeof *b);
	for (size_t i = 0; i < n; i++)
		err = b[i] == 0.0f ? err : INFINITY;
	float *s = cuda_kern_scratch(&G, n * sizeof *s);
	cuda_kern_upload(&G, s, a, n * sizeof *a);
	err = worst(2, err, ef(a, s, n));
	row("kern_upload..sync", err, 0, "%zu floats", n);
}

/* NCCL (coll.cu) on one rank: a communicator of 1, a bucket of two
 * tensors summed over it is the tensors themselves, on the stream.  Two
 * ranks need two devices: tests/gpu/nccl.sh. */
static void
t_coll(void)
{
	if (cuda_kern_coll_id(&G, NULL, 0) != 0) {
		printf("%-22s %-24s (no NCCL in this build)\n", "kern_coll_sum",
		       "-");
		return;
	}
	unsigned char id[KERN_COLL_ID_BYTES];
	cuda_kern_coll_id(&G, id, sizeof id);
	cuda_kern_coll_init(&G, id, 0, 1);
	size_t n[2] = { 100003, 77 };
	float *a = rnd(n[0], -1, 1), *b = rnd(n[1], -1, 1);
	float *x[2] = { dev(a, n[0] * 4), dev(b, n[1] * 4) };
	cuda_kern_coll_sum(&G, x, n, 2);
	cuda_kern_sync(&G);
	row("kern_coll_sum", worst(2, ef(a, x[0], n[0]), ef(b, x[1], n[1])), 0,
	    "1 rank, %zu+%zu", n[0], n[1]);
	cuda_kern_coll_fini(&G);
}

static void
t_ops(void)
{
	long rows_ = 301;
	int cols = 777;
	size_t n = (size_t)rows_ * cols;
	float *b1 = rnd(cols, -1, 1), *b2 = rnd(cols, -1, 1), *y = nanh(n);
	float *dy = dnan(n), *db1 = dev(b1, cols * 4), *db2 = dev(b2, cols * 4);
	ops_bias_rows(&C, y, b1, b2, rows_, cols);
	cuda_ops_bias_rows(&G, dy, db1, db2, rows_, cols);
	double e = ef(y, dy, n);
	ops_bias_rows(&C, y, b1, NULL, rows_, cols);
	cuda_ops_bias_rows(&G, dy, db1, NULL, rows_, cols);
	row("ops_bias_rows", worst(2, e, ef(y, dy, n)), F32, "%ldx%d", rows_, cols);

	float *x = rnd(n, -1, 1), *acc = rnd(cols, -1, 1);
	float *dacc = dev(acc, cols * 4);
	ops_colsum_acc(&C, acc, x, rows_, cols);
	cuda_ops_colsum_acc(&G, dacc, dev(x, n * 4), rows_, cols);
	row("ops_colsum_acc", ef(acc, dacc, cols), F32, "%ldx%d", rows_, cols);

	float *yy = rnd(n, -1, 1), *dyy = dev(yy, n * 4), *dx = dev(x, n * 4);
	ops_axpy(&C, yy, 0.37f, x, n);
	cuda_ops_axpy(&G, dyy, 0.37f, dx, n);
	row("ops_axpy", ef(yy, dyy, n), F32, "%zu", n);
	ops_scale(&C, yy, -1.7f, n);
	cuda_ops_scale(&G, dyy, -1.7f, n);
	row("ops_scale", ef(yy, dyy, n), F32, "%zu", n);

	int T = 23, B = 17, E = 131;
	size_t m = (size_t)T * B * E;
	float *s = rnd(m, -1, 1), *o = nanh(m), *ds = dev(s, m * 4), *dd = dnan(m);
	ops_tbe_to_bte(&C, o, s, T, B, E);
	cuda_ops_tbe_to_bte(&G, dd, ds, T, B, E);
	row("ops_tbe_to_bte", ef(o, dd, m), 0, "%dx%dx%d", T, B, E);
	dd = dnan(m);
	ops_bte_to_tbe(&C, o, s, B, T, E);
	cuda_ops_bte_to_tbe(&G, dd, ds, B, T, E);
	row("ops_bte_to_tbe", ef(o, dd, m), 0, "%dx%dx%d", B, T, E);

	/* a column block of a wider matrix into a narrower one */
	long r = 257, lds = 300, ldd = 130;
	int w = 100;
	float *src = rnd(r * lds, -1, 1), *dst = rnd(r * ldd, -1, 1);
	float *dsrc = dev(src, r * lds * 4), *ddst = dev(dst, r * ldd * 4);
	ops_copy_rows(&C, dst, ldd, src + 7, lds, r, w);
	cuda_ops_copy_rows(&G, ddst, ldd, dsrc + 7, lds, r, w);
	row("ops_copy_rows", ef(dst, ddst, r * ldd), 0, "%ldx%d", r, w);

	long nn = 1000003;
	double *xd = halloc(nn * sizeof *xd);
	int *xi = halloc(nn * sizeof *xi);
	for (long i = 0; i < nn; i++)
		xd[i] = rng_double(&R) - 0.25, xi[i] = rng_float(&R) < 0.3f;
	float *xf = rnd(nn, -1, 1);
	row("ops_sum_f64", es(ops_sum_f64(&C, xd, nn),
	                      cuda_ops_sum_f64(&G, dev(xd, nn * 8), nn)), F32,
	    "%ld", nn);
	row("ops_sumsq", es(ops_sumsq(&C, xf, nn),
	                    cuda_ops_sumsq(&G, dev(xf, nn * 4), nn)), F32, "%ld",
	    nn);
	row("ops_count_nz", ops_count_nz(&C, xi, nn) ==
	    cuda_ops_count_nz(&G, dev(xi, nn * 4), nn) ? 0 : INFINITY, 0, "%ld",
	    nn);
}

/* C = op(A) op(B) with the operands rounded to bf16: the definition of
 * gemm_bf16, computed in fp32 on the CPU (any CPU, not only one with
 * AVX512-BF16) */
static void
ref_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A,
         int lda, const float *B, int ldb, float beta, float *Cm, int ldc)
{
	size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
	float *a = hcopy(A, na * 4), *b = hcopy(B, nb * 4);
	for (size_t i = 0; i < na; i++) {
		uint32_t u = (uint32_t)gemm_f2bf(a[i]) << 16;
		memcpy(&a[i], &u, 4);
	}
	for (size_t i = 0; i < nb; i++) {
		uint32_t u = (uint32_t)gemm_f2bf(b[i]) << 16;
		memcpy(&b[i], &u, 4);
	}
	C.bf16 = 0;
	blas_sgemm(&C, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, Cm, ldc);
}

static void
t_gemm(void)
{
	int M = 200, N = 330, K = 470;
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++)
			for (int bf = 0; bf < 2; bf++) {
				int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5,
				    ldc = N + 2;
				float *A = rnd((size_t)(ta ? K : M) * lda, -1, 1);
				float *B = rnd((size_t)(tb ? N : K) * ldb, -1, 1);
				float *c = rnd((size_t)M * ldc, -1, 1);
				float *dc = dev(c, (size_t)M * ldc * 4);
				G.bf16 = bf;
				cuda_blas_sgemm(&G, ta, tb, M, N, K, 0.7f,
				                dev(A, (size_t)(ta ? K : M) * lda * 4),
				                lda,
				                dev(B, (size_t)(tb ? N : K) * ldb * 4),
				                ldb, 0.3f, dc, ldc);
				G.bf16 = 0;
				if (bf)
					ref_bf16(ta, tb, M, N, K, 0.7f, A, lda, B,
					         ldb, 0.3f, c, ldc);
				else
					blas_sgemm(&C, ta, tb, M, N, K, 0.7f, A,
					           lda, B, ldb, 0.3f, c, ldc);
				row(bf ? "blas_sgemm (bf16)" : "blas_sgemm",
				    ef(c, dc, (size_t)M * ldc), bf ? BF16 : F32,
				    "%dx%dx%d t%d%d", M, N, K, ta, tb);
			}
	for (int ta = 0; ta < 2; ta++) {
		int lda = (ta ? M : N) + 1;
		float *A = rnd((size_t)(ta ? N : M) * lda, -1, 1);
		float *x = rnd(N, -1, 1), *y = rnd(M, -1, 1), *dy = dev(y, M * 4);
		blas_sgemv(&C, ta, M, N, 1.1f, A, lda, x, 0.5f, y);
		cuda_blas_sgemv(&G, ta, M, N, 1.1f,
		                dev(A, (size_t)(ta ? N : M) * lda * 4), lda,
		                dev(x, N * 4), 0.5f, dy);
		row("blas_sgemv", ef(y, dy, M), F32, "%dx%d t%d", M, N, ta);
	}
	/* packed: B = W^T with W (N,K), and B = W (K,N); N not a multiple
	 * of GEMM_NR so the partial panel is there */
	int Kp = 300, Np = 4 * 75 + 7, Mp = 64;
	size_t ps = gemm_pack_size(Kp, Np);
	float *W = rnd((size_t)Np * Kp, -1, 1), *pk = nanh(ps);
	float *dpk = dnan(ps), *dW = dev(W, (size_t)Np * Kp * 4);
	gemm_pack_bt(&C, pk, W, Kp, Kp, Np);
	cuda_gemm_pack_bt(&G, dpk, dW, Kp, Kp, Np);
	row("gemm_pack_bt", ef(pk, dpk, ps), 0, "%dx%d", Kp, Np);
	float *A = rnd((size_t)Mp * Kp, -1, 1), *c = rnd((size_t)Mp * Np, -1, 1);
	float *dc = dev(c, (size_t)Mp * Np * 4);
	if (gemm_packed_ok())
		gemm_packed(&C, Mp, Np, Kp, A, Kp, pk, c, Np);
	else            /* the same product without the micro-kernel */
		blas_sgemm(&C, 0, 1, Mp, Np, Kp, 1.0f, A, Kp, W, Kp, 1.0f, c, Np);
	cuda_gemm_packed(&G, Mp, Np, Kp, dev(A, (size_t)Mp * Kp * 4), Kp, dpk,
	                 dc, Np);
	row("gemm_packed", ef(c, dc, (size_t)Mp * Np), F32, "%dx%dx%d", Mp, Np,
	    Kp);
	float *W2 = rnd((size_t)Kp * Np, -1, 1);
	pk = nanh(ps), dpk = dnan(ps);
	gemm_pack_b(&C, pk, W2, Np, Kp, Np);
	cuda_gemm_pack_b(&G, dpk, dev(W2, (size_t)Kp * Np * 4), Np, Kp, Np);
	row("gemm_pack_b", ef(pk, dpk, ps), 0, "%dx%d", Kp, Np);
	/* under k->bf16 the packed product is gemm_bf16's (gemm.h): both
	 * packings against the definition, computed on the CPU */
	for (int bt = 1; bt >= 0; bt--) {
		float *c2 = rnd((size_t)Mp * Np, -1, 1);
		float *dc2 = dev(c2, (size_t)Mp * Np * 4);
		G.bf16 = 1;
		dpk = dnan(ps);
		if (bt)
			cuda_gemm_pack_bt(&G, dpk, dW, Kp, Kp, Np);
		else
			cuda_gemm_pack_b(&G, dpk, dev(W2, (size_t)Kp * Np * 4), Np,
			                 Kp, Np);
		cuda_gemm_packed(&G, Mp, Np, Kp, dev(A, (size_t)Mp * Kp * 4), Kp,
		                 dpk, dc2, Np);
		G.bf16 = 0;
		ref_bf16(0, bt, Mp, Np, Kp, 1.0f, A, Kp, bt ? W : W2,
		         bt ? Kp : Np, 1.0f, c2, Np);
		row(bt ? "gemm_packed (bf16, pack_bt)" : "gemm_packed (bf16, pack_b)",
		    ef(c2, dc2, (size_t)Mp * Np), BF16, "%dx%dx%d", Mp, Np, Kp);
	}

	float *Ab = rnd((size_t)M * K, -1, 1), *Bb = rnd((size_t)N * K, -1, 1);
	float *cb = rnd((size_t)M * N, -1, 1), *dcb = dev(cb, (size_t)M * N * 4);
	ref_bf16(0, 1, M, N, K, 1.0f, Ab, K, Bb, K, 1.0f, cb, N);
	cuda_gemm_bf16(&G, 0, 1, M, N, K, 1.0f, dev(Ab, (size_t)M * K * 4), K,
	               dev(Bb, (size_t)N * K * 4), K, 1.0f, dcb, N);
	row("gemm_bf16", ef(cb, dcb, (size_t)M * N), BF16, "%dx%dx%d", M, N, K);
}

static void
t_lstm(void)
{
	int T = 12, B = 32, H = 400;
	size_t BH = (size_t)B * H, BG = 4 * BH;
	/* one cell */
	float *pre = rnd(BG, -3, 3), *cp = rnd(BH, -1, 1);
	float *dpre_ = dev(pre, BG * 4), *dcp = dev(cp, BH * 4);
	float *c = nanh(BH), *tc = nanh(BH), *h = nanh(BH);
	float *dc = dnan(BH), *dtc = dnan(BH), *dh = dnan(BH);
	lstm_cell_fwd(&C, pre, cp, c, tc, h, B, H);
	cuda_lstm_cell_fwd(&G, dpre_, dcp, dc, dtc, dh, B, H);
	row("lstm_cell_fwd", worst(4, ef(pre, dpre_, BG), ef(c, dc, BH),
	                           ef(tc, dtc, BH), ef(h, dh, BH)), F32,
	    "B%d H%d", B, H);
	float *gh = rnd(BH, -1, 1), *gc = rnd(BH, -1, 1), *gp = nanh(BG);
	float *dgc = dev(gc, BH * 4), *dgp = dnan(BG);
	lstm_cell_bwd(&C, pre, cp, tc, gh, gc, gp, B, H);
	cuda_lstm_cell_bwd(&G, dpre_, dcp, dtc, dev(gh, BH * 4), dgc, dgp, B, H);
	row("lstm_cell_bwd", worst(2, ef(gc, dgc, BH), ef(gp, dgp, BG)), F32,
	    "B%d H%d", B, H);

	/* T steps, plain and with the packing scratch */
	float *w = rnd(4 * (size_t)H * H, -0.1f, 0.1f), *dw = dev(w, 16 * (size_t)H * H);
	float *h0 = rnd(BH, -1, 1), *c0 = rnd(BH, -1, 1);
	float *dh0 = dev(h0, BH * 4), *dc0 = dev(c0, BH * 4);
	size_t n = (size_t)T * BH;
	float *pk = kern_alloc(&C, lstm_pack_size(H) * 4);
	for (int packed = 0; packed < 2; packed++) {
		float *xg = rnd(T * BG, -1, 1), *dxg = dev(xg, T * BG * 4);
		float *y = nanh(n), *cc = nanh(n), *tt = nanh(n);
		float *dy = dnan(n), *dcc = dnan(n), *dtt = dnan(n);
		if (packed) {
			lstm_fwd_pk(&C, xg, w, h0, c0, y, cc, tt, T, B, H, pk);
			cuda_lstm_fwd_pk(&G, dxg, dw, dh0, dc0, dy, dcc, dtt, T, B,
			                 H, dnan(lstm_pack_size(H)));
		} else {
			lstm_fwd(&C, xg, w, h0, c0, y, cc, tt, T, B, H);
			cuda_lstm_fwd(&G, dxg, dw, dh0, dc0, dy, dcc, dtt, T, B, H);
		}
		double ef_ = worst(4, ef(xg, dxg, T * BG), ef(y, dy, n),
		                   ef(cc, dcc, n), ef(tt, dtt, n));
		/* backward from the CPU's forward, on both sides */
		float *gy = rnd(n, -1, 1), *dgy = dev(gy, n * 4);
		float *dxc = dev(xg, T * BG * 4), *dccc = dev(cc, n * 4),
		      *dttc = dev(tt, n * 4);
		float *gpre = nanh(T * BG), *dgpre = dnan(T * BG);
		float *gcs = nanh(BH), *dgcs = dnan(BH);
		if (packed) {
			lstm_bwd_pk(&C, xg, w, c0, cc, tt, gy, gpre, gcs, T, B, H,
			            pk);
			cuda_lstm_bwd_pk(&G, dxc, dw, dc0, dccc, dttc, dgy, dgpre,
			                 dgcs, T, B, H, dnan(lstm_pack_size(H)));
		} else {
			lstm_bwd(&C, xg, w, c0, cc, tt, gy, gpre, gcs, T, B, H);
			cuda_lstm_bwd(&G, dxc, dw, dc0, dccc, dttc, dgy, dgpre, dgcs,
			              T, B, H);
		}
		row(packed ? "lstm_fwd_pk" : "lstm_fwd", ef_, F32,
		    "T%d B%d H%d", T, B, H);
		row(packed ? "lstm_bwd_pk" : "lstm_bwd",
		    worst(2, ef(gpre, dgpre, T * BG), ef(gcs, dgcs, BH)), F32,
		    "T%d B%d H%d", T, B, H);
	}
	kern_free(&C, pk);
}

static void
t_embed(void)
{
	int V = 5000, E = 400, B = 32, T = 70, pad = 1;
	size_t nt = (size_t)B * T, n = nt * E;
	float *w = rnd((size_t)V * E, -1, 1), *sc = rnd(V, 0, 1);
	uint32_t *tok = halloc(nt * 4);
	for (size_t i = 0; i < nt; i++)
		tok[i] = (uint32_t)(rng_float(&R) * (i % 3 ? 50 : V));
	for (int v = 0; v < V; v++)
		sc[v] = sc[v] < 0.1f ? 0.0f : 1.0f / 0.9f;
	float *dw_ = dev(w, (size_t)V * E * 4), *dsc = dev(sc, V * 4);
	uint32_t *dtok = dev(tok, nt * 4);
	double e = 0;
	for (int s = 0; s < 2; s++) {
		float *o = nanh(n), *dout = dnan(n);
		embed_fwd(&C, w, s ? sc : NULL, tok, o, B, T, E);
		cuda_embed_fwd(&G, dw_, s ? dsc : NULL, dtok, dout, B, T, E);
		e = worst(2, e, ef(o, dout, n));
	}
	row("embed_fwd", e, 0, "V%d E%d B%d T%d", V, E, B, T);
	float *go = rnd(n, -1, 1), *gw = rnd((size_t)V * E, -1, 1);
	float *dgw = dev(gw, (size_t)V * E * 4);
	embed_bwd(&C, gw, sc, tok, go, B, T, E, pad);
	cuda_embed_bwd(&G, dgw, dsc, dtok, dev(go, n * 4), B, T, E, pad);
	row("embed_bwd", ef(gw, dgw, (size_t)V * E), F32, "V%d E%d B%d T%d", V,
	    E, B, T);
}

static void
t_dropout(void)
{
	size_t n = 1000003;
	float *m = nanh(n), *dm = dnan(n);
	uint64_t key = rng_next(&R);
	dropout_mask_key(&C, m, n, 0.3f, key, DROP_WEIGHT + 2);
	cuda_dropout_mask_key(&G, dm, n, 0.3f, key, DROP_WEIGHT + 2);
	double e = ef(m, dm, n);
	float *m0 = nanh(n), *dm0 = dnan(n);
	dropout_mask_key(&C, m0, n, 0.0f, key, DROP_EMB);
	cuda_dropout_mask_key(&G, dm0, n, 0.0f, key, DROP_EMB);
	row("dropout_mask_key", worst(2, e, ef(m0, dm0, n)), 0, "%zu p0.3", n);
	/* rank 1 of 3 holding rows 1, 4, 7, ... of a batch of 4001 rows of
	 * 250 (rows start inside blocks of 4) */
	int rr = 1334;
	long rf = 250;
	float *hm = nanh((size_t)rr * rf), *dhm = dnan((size_t)rr * rf);
	dropout_mask_rows(&C, hm, rr, rf, 0.4f, key, DROP_HIDDEN, 1, 3);
	cuda_dropout_mask_rows(&G, dhm, rr, rf, 0.4f, key, DROP_HIDDEN, 1, 3);
	row("dropout_mask_rows", ef(hm, dhm, (size_t)rr * rf), 0,
	    "%d x %ld p0.4", rr, rf);

	int T = 20, B = 32, F = 400;
	size_t N = (size_t)B * F, nx = (size_t)T * N;
	float *mask = m, *dmask = dev(m, n * 4);       /* any factors */
	float *x = rnd(nx, -1, 1), *dx = dev(x, nx * 4);
	dropout_apply_rows(&C, x, mask, T, N);
	cuda_dropout_apply_rows(&G, dx, dmask, T, N);
	row("dropout_apply_rows", ef(x, dx, nx), 0, "T%d N%zu", T, N);
	float *y = nanh(nx), *dy = dnan(nx);
	dropout_apply_bt(&C, y, x, mask, B, T, F);
	cuda_dropout_apply_bt(&G, dy, dx, dmask, B, T, F);
	double e2 = ef(y, dy, nx);
	dropout_apply_bt(&C, x, x, mask, B, T, F);     /* in place */
	cuda_dropout_apply_bt(&G, dx, dx, dmask, B, T, F);
	row("dropout_apply_bt", worst(2, e2, ef(x, dx, nx)), 0, "B%d T%d F%d",
	    B, T, F);
	float *a = rnd(n, -1, 1), *o = nanh(n), *dout = dnan(n);
	float *da = dev(a, n * 4);
	dropout_apply(&C, o, a, mask, n);
	cuda_dropout_apply(&G, dout, da, dmask, n);
	row("dropout_apply", ef(o, dout, n), 0, "%zu", n);
	float *acc = rnd(n, -1, 1), *dacc = dev(acc, n * 4);
	dropout_acc_mul(&C, acc, a, mask, n);
	cuda_dropout_acc_mul(&G, dacc, da, dmask, n);
	row("dropout_acc_mul", ef(acc, dacc, n), F32, "%zu", n);
}

static void
t_loss(void)
{
	int N = 64 * 2, V = 30000;
	size_t n = (size_t)N * V;
	float *z = rnd(n, -8, 8);
	uint32_t *y = halloc(N * 4);
	for (int i = 0; i < N; i++)
		y[i] = (uint32_t)(rng_float(&R) * V);
	for (int i = 0; i < N; i += 5)     /* some hits */
		z[(size_t)i * V + y[i]] = 20;
	uint32_t *dyv = dev(y, N * 4);
	for (int g = 0; g < 2; g++) {
		float gs = g ? 1.0f / N : 0.0f;
		float *dz = dev(z, n * 4), *zc = hcopy(z, n * 4);
		double *loss = halloc(N * 8), *dl = dpoison(N * 8);
		int *hit = halloc(N * 4), *dh = dpoison(N * 4);
		ce_fwd_bwd(&C, zc, y, loss, hit, N, V, gs);
		cuda_ce_fwd_bwd(&G, dz, dyv, dl, dh, N, V, gs);
		row(g ? "ce_fwd_bwd (grad)" : "ce_fwd_bwd (eval)",
		    worst(3, ed(loss, dl, N), eb(hit, dh, N * 4),
		          ef(zc, dz, n)), F32, "N%d V%d", N, V);
	}
	long nx = 70L * 32 * 400;
	float *x = rnd(nx, -2, 2), *gx = rnd(nx, -1, 1);
	float *dgx = dev(gx, nx * 4), *dx = dev(x, nx * 4);
	double a = ar_fwd_bwd(&C, x, gx, nx, 2.0f);
	double b = cuda_ar_fwd_bwd(&G, dx, dgx, nx, 2.0f);
	row("ar_fwd_bwd", worst(2, es(a, b), ef(gx, dgx, nx)), F32, "%ld", nx);
	int B = 32, T = 70, E = 400;
	a = tar_fwd_bwd(&C, x, gx, B, T, E, 1.0f);
	b = cuda_tar_fwd_bwd(&G, dx, dgx, B, T, E, 1.0f);
	row("tar_fwd_bwd", worst(2, es(a, b), ef(gx, dgx, nx)), F32,
	    "B%d T%d E%d", B, T, E);
}

static void
t_adam(void)
{
	struct adam_args args[3];
	adam_args_set(&args[0], 1e-3, 0.9, 0.99, 1e-5, 0.01, 1, 3);
	adam_args_set(&args[1], 3e-3, 0.8, 0.99, 1e-5, 0.01, 0, 7);
	adam_args_set(&args[2], 1e-2, 0.95, 0.999, 1e-8, 0.1, 1, 1);
	size_t n = 1000003;
	float *p = rnd(n, -1, 1), *g = rnd(n, -1, 1), *m = rnd(n, -0.1f, 0.1f),
	      *v = rnd(n, 0, 0.01f);
	float *dp = dev(p, n * 4), *dm = dev(m, n * 4), *dv = dev(v, n * 4);
	float *dg = dev(g, n * 4);
	adam_step_cpu(&C, p, g, m, v, n, &args[0]);
	cuda_adam_step_cpu(&G, dp, dg, dm, dv, n, &args[0]);
	row("adam_step_cpu", worst(3, ef(p, dp, n), ef(m, dm, n), ef(v, dv, n)),
	    F32, "%zu", n);

	enum { NT_ = 7 };
	struct adam_tensor ht[NT_], dt[NT_];
	size_t sz[NT_] = { 1, 400, 4 * 1152 * 400, 1152, 60002 * 4, 3, 777 };
	float *hp[NT_], *hm[NT_], *hv[NT_];
	for (int i = 0; i < NT_; i++) {
		size_t k = sz[i];
		hp[i] = rnd(k, -1, 1), hm[i] = rnd(k, -0.1f, 0.1f);
		hv[i] = rnd(k, 0, 0.01f);
		float *hg = rnd(k, -1, 1);
		ht[i] = (struct adam_tensor){ hp[i], hg, hm[i], hv[i], k, i % 3 };
		dt[i] = (struct adam_tensor){ dev(hp[i], k * 4), dev(hg, k * 4),
		                              dev(hm[i], k * 4),
		                              dev(hv[i], k * 4), k, i % 3 };
	}
	adam_multi(&C, ht, NT_, args);
	cuda_adam_multi(&G, dt, NT_, args);
	double e = 0;
	for (int i = 0; i < NT_; i++)
		e = worst(4, e, ef(hp[i], dt[i].p, sz[i]), ef(hm[i], dt[i].m, sz[i]),
		          ef(hv[i], dt[i].v, sz[i]));
	row("adam_multi", e, F32, "%d tensors", NT_);
}

static void
t_head(void)
{
	int B = 48, T = 150, D = 1200, bptt = 70;
	size_t n = (size_t)B * T * D;
	float *out = rnd(n, -2, 2);
	uint8_t *mask = halloc((size_t)B * T);
	for (int b = 0; b < B; b++) {   /* left padding, one row all pads */
		int np = b == 5 ? T : (int)(rng_float(&R) * T * 0.8f);
		for (int t = 0; t < T; t++)
			mask[b * T + t] = t < np;
	}
	float *y = nanh((size_t)B * 3 * D), *dy = dnan((size_t)B * 3 * D);
	int32_t *am = halloc((size_t)B * D * 4), *dam = dpoison((size_t)B * D * 4);
	int32_t *last = halloc(B * 4), *dlast = dpoison(B * 4);
	uint8_t *dmask = dev(mask, (size_t)B * T);
	float *dout_ = dev(out, n * 4);
	pool_concat_fwd(&C, y, am, last, out, mask, B, T, D, bptt);
	cuda_pool_concat_fwd(&G, dy, dam, dlast, dout_, dmask, B, T, D, bptt);
	row("pool_concat_fwd", worst(3, ef(y, dy, (size_t)B * 3 * D),
	                             eb(am, dam, (size_t)B * D * 4),
	                             eb(last, dlast, B * 4)), F32,
	    "B%d T%d D%d", B, T, D);
	float *g = rnd((size_t)B * 3 * D, -1, 1), *gout = nanh(n);
	float *dgout = dnan(n);
	pool_concat_bwd(&C, gout, g, am, last, mask, B, T, D);
	cuda_pool_concat_bwd(&G, dgout, dev(g, (size_t)B * 3 * D * 4),
	                     dev(am, (size_t)B * D * 4), dev(last, B * 4), dmask,
	                     B, T, D);
	row("pool_concat_bwd", ef(gout, dgout, n), F32, "B%d T%d D%d", B, T, D);

	int Cc = 3600;
	size_t m = (size_t)B * Cc;
	float *x = rnd(m, -3, 3), *w = rnd(Cc, 0.5f, 1.5f), *bb = rnd(Cc, -1, 1);
	float *rm = rnd(Cc, -1, 1), *rv = rnd(Cc, 0.5f, 2);
	float *dx = dev(x, m * 4), *dw = dev(w, Cc * 4), *db = dev(bb, Cc * 4);
	float *drm = dev(rm, Cc * 4), *drv = dev(rv, Cc * 4);
	float *yy = nanh(m), *xh = nanh(m), *mu = nanh(Cc), *rs = nanh(Cc);
	float *dyy = dnan(m), *dxh = dnan(m), *dmu = dnan(Cc), *drs = dnan(Cc);
	bn_train_fwd(&C, yy, xh, mu, rs, x, w, bb, rm, rv, B, Cc, 0.1f, 1e-5f);
	cuda_bn_train_fwd(&G, dyy, dxh, dmu, drs, dx, dw, db, drm, drv, B, Cc,
	                  0.1f, 1e-5f);
	row("bn_train_fwd", worst(6, ef(yy, dyy, m), ef(xh, dxh, m),
	                          ef(mu, dmu, Cc), ef(rs, drs, Cc),
	                          ef(rm, drm, Cc), ef(rv, drv, Cc)), F32,
	    "B%d C%d", B, Cc);
	float *gy = rnd(m, -1, 1), *gx = nanh(m), *gw = rnd(Cc, -1, 1),
	      *gb = rnd(Cc, -1, 1);
	float *dgx = dnan(m), *dgw = dev(gw, Cc * 4), *dgb = dev(gb, Cc * 4);
	float *dgy = dev(gy, m * 4), *dxh2 = dev(xh, m * 4), *drs2 = dev(rs, Cc * 4);
	bn_train_bwd(&C, gx, gw, gb, gy, xh, rs, w, B, Cc);
	cuda_bn_train_bwd(&G, dgx, dgw, dgb, dgy, dxh2, drs2, dw, B, Cc);
	row("bn_train_bwd", worst(3, ef(gx, dgx, m), ef(gw, dgw, Cc),
	                          ef(gb, dgb, Cc)), F32, "B%d C%d", B, Cc);
	yy = nanh(m), xh = nanh(m), rs = nanh(Cc);
	dyy = dnan(m), dxh = dnan(m), drs = dnan(Cc);
	bn_eval_fwd(&C, yy, xh, rs, x, w, bb, rm, rv, B, Cc, 1e-5f);
	cuda_bn_eval_fwd(&G, dyy, dxh, drs, dx, dw, db, dev(rm, Cc * 4),
	                 dev(rv, Cc * 4), B, Cc, 1e-5f);
	row("bn_eval_fwd", worst(3, ef(yy, dyy, m), ef(xh, dxh, m),
	                         ef(rs, drs, Cc)), F32, "B%d C%d", B, Cc);
	gx = nanh(m), dgx = dnan(m);
	gw = rnd(Cc, -1, 1), gb = rnd(Cc, -1, 1);
	dgw = dev(gw, Cc * 4), dgb = dev(gb, Cc * 4);
	bn_eval_bwd(&C, gx, gw, gb, gy, xh, rs, w, B, Cc);
	cuda_bn_eval_bwd(&G, dgx, dgw, dgb, dgy, dev(xh, m * 4), dev(rs, Cc * 4),
	                 dw, B, Cc);
	row("bn_eval_bwd", worst(3, ef(gx, dgx, m), ef(gw, dgw, Cc),
	                         ef(gb, dgb, Cc)), F32, "B%d C%d", B, Cc);
	/* the split BatchNorm (data parallel): sums, then the apply parts */
	double *s1 = halloc(2 * Cc * sizeof *s1), *s2 = halloc(2 * Cc * sizeof *s2);
	double *mu1 = halloc(Cc * sizeof *mu1);
	bn_sums(&C, s1, x, NULL, B, Cc);
	double *ds1 = dev(s1, 2 * Cc * 8);
	cuda_bn_sums(&G, ds1, dx, NULL, B, Cc);
	double e1 = ed(s1, ds1, 2 * Cc);
	for (int c = 0; c < Cc; c++)
		mu1[c] = s1[c] / B;
	double *dmu1 = dev(mu1, Cc * 8);
	bn_sums(&C, s2, x, mu1, B, Cc);
	double *ds2 = dev(s2, 2 * Cc * 8);
	cuda_bn_sums(&G, ds2, dx, dmu1, B, Cc);
	row("bn_sums", worst(2, e1, ed(s2, ds2, 2 * Cc)), F32, "B%d C%d", B, Cc);
	yy = nanh(m), xh = nanh(m), mu = nanh(Cc), rs = nanh(Cc);
	dyy = dnan(m), dxh = dnan(m), dmu = dnan(Cc), drs = dnan(Cc);
	rm = rnd(Cc, -1, 1), rv = rnd(Cc, 0.5f, 2);
	drm = dev(rm, Cc * 4), drv = dev(rv, Cc * 4);
	bn_fwd_apply(&C, yy, xh, mu, rs, x, w, bb, rm, rv, mu1, s2 + Cc,
	             2L * B, B, Cc, 0.1f, 1e-5f);
	cuda_bn_fwd_apply(&G, dyy, dxh, dmu, drs, dx, dw, db, drm, drv, dmu1,
	                  ds2 + Cc, 2L * B, B, Cc, 0.1f, 1e-5f);
	row("bn_fwd_apply", worst(6, ef(yy, dyy, m), ef(xh, dxh, m),
	                          ef(mu, dmu, Cc), ef(rs, drs, Cc),
	                          ef(rm, drm, Cc), ef(rv, drv, Cc)), F32,
	    "B%d C%d", B, Cc);
	bn_bwd_sums(&C, s1, gy, xh, B, Cc);
	cuda_bn_bwd_sums(&G, ds1, dgy, dev(xh, m * 4), B, Cc);
	row("bn_bwd_sums", ed(s1, ds1, 2 * Cc), F32, "B%d C%d", B, Cc);
	for (int c = 0; c < 2 * Cc; c++)
		s2[c] = 3 * s1[c];
	ds2 = dev(s2, 2 * Cc * 8);
	gx = nanh(m), dgx = dnan(m);
	gw = rnd(Cc, -1, 1), gb = rnd(Cc, -1, 1);
	dgw = dev(gw, Cc * 4), dgb = dev(gb, Cc * 4);
	bn_bwd_apply(&C, gx, gw, gb, gy, xh, rs, w, s1, s2, 3L * B, B, Cc);
	cuda_bn_bwd_apply(&G, dgx, dgw, dgb, dgy, dev(xh, m * 4),
	                  dev(rs, Cc * 4), dw, dev(s1, 2 * Cc * 8), ds2, 3L * B,
	                  B, Cc);
	row("bn_bwd_apply", worst(3, ef(gx, dgx, m), ef(gw, dgw, Cc),
	                          ef(gb, dgb, Cc)), F32, "B%d C%d", B, Cc);

	int nin = 3600, nout = 50;
	float *lx = rnd((size_t)B * nin, -1, 1), *lw = rnd((size_t)nout * nin, -0.1f, 0.1f);
	float *ly = nanh((size_t)B * nout), *dly = dnan((size_t)B * nout);
	float *dlx = dev(lx, (size_t)B * nin * 4), *dlw = dev(lw, (size_t)nout * nin * 4);
	linnb_fwd(&C, ly, lx, lw, B, nin, nout);
	cuda_linnb_fwd(&G, dly, dlx, dlw, B, nin, nout);
	row("linnb_fwd", ef(ly, dly, (size_t)B * nout), F32, "B%d %d->%d", B,
	    nin, nout);
	float *lg = rnd((size_t)B * nout, -1, 1), *lgx = nanh((size_t)B * nin);
	float *lgw = rnd((size_t)nout * nin, -1, 1);
	float *dlgx = dnan((size_t)B * nin), *dlgw = dev(lgw, (size_t)nout * nin * 4);
	linnb_bwd(&C, lgx, lgw, lg, lx, lw, B, nin, nout);
	cuda_linnb_bwd(&G, dlgx, dlgw, dev(lg, (size_t)B * nout * 4), dlx, dlw, B,
	               nin, nout);
	row("linnb_bwd", worst(2, ef(lgx, dlgx, (size_t)B * nin),
	                       ef(lgw, dlgw, (size_t)nout * nin)), F32,
	    "B%d %d->%d", B, nin, nout);

	long nr = 1000003;
	float *rx = rnd(nr, -1, 1), *ry = nanh(nr), *dry = dnan(nr);
	float *drx = dev(rx, nr * 4);
	relu_fwd(&C, ry, rx, nr);
	cuda_relu_fwd(&G, dry, drx, nr);
	row("relu_fwd", ef(ry, dry, nr), 0, "%ld", nr);
	float *rg = rnd(nr, -1, 1), *rdx = nanh(nr), *drdx = dnan(nr);
	relu_bwd(&C, rdx, rg, ry, nr);
	cuda_relu_bwd(&G, drdx, dev(rg, nr * 4), dry, nr);
	row("relu_bwd", ef(rdx, drdx, nr), 0, "%ld", nr);
}

static void
t_seq(void)
{
	int B = 48, rows_ = 40, T = 300, col = 70, len = 70, w = 400;
	size_t nb = (size_t)B * T * w, nc = (size_t)B * len * w;
	float *src = rnd(nb, -1, 1), *dst = nanh(nc), *ddst = dnan(nc);
	float *dsrc = dev(src, nb * 4);
	seq_chunk_gather(&C, dst, src, rows_, T, col, len, w);
	cuda_seq_chunk_gather(&G, ddst, dsrc, rows_, T, col, len, w);
	row("seq_chunk_gather", ef(dst, ddst, (size_t)rows_ * len * w), 0,
	    "%d rows T%d len%d w%d", rows_, T, len, w);
	float *ch = rnd(nc, -1, 1), *big = rnd(nb, -1, 1);
	float *dbig = dev(big, nb * 4);
	seq_chunk_scatter(&C, big, ch, B, rows_, T, col, len, w);
	cuda_seq_chunk_scatter(&G, dbig, dev(ch, nc * 4), B, rows_, T, col, len,
	                       w);
	row("seq_chunk_scatter", ef(big, dbig, nb), 0, "B%d rows%d", B, rows_);
	uint32_t *st = halloc(B * 4), *ln = halloc(B * 4);
	for (int b = 0; b < B; b++)
		st[b] = (uint32_t)(rng_float(&R) * T), ln[b] = (uint32_t)(rng_float(&R) * T);
	uint8_t *mk = halloc((size_t)B * T), *dmk = dpoison((size_t)B * T);
	seq_pad_mask(&C, mk, st, ln, B, T, 13);
	cuda_seq_pad_mask(&G, dmk, dev(st, B * 4), dev(ln, B * 4), B, T, 13);
	row("seq_pad_mask", eb(mk, dmk, (size_t)B * T), 0, "B%d T%d", B, T);
	int n = 7;
	float *z = rnd((size_t)B * n, -5, 5), *p = nanh((size_t)B * n);
	float *dp = dnan((size_t)B * n);
	seq_softmax(&C, p, z, B, n);
	cuda_seq_softmax(&G, dp, dev(z, (size_t)B * n * 4), B, n);
	row("seq_softmax", ef(p, dp, (size_t)B * n), F32, "%dx%d", B, n);
}

static void
t_gpt2(void)
{
	int T = 64, P = 100, Cc = 768, NH = 12, V = 5000;
	size_t n = (size_t)T * Cc;
	float *x = rnd(n, -2, 2), *w = rnd(Cc, 0.5f, 1.5f), *b = rnd(Cc, -1, 1);
	float *y = nanh(n), *dy = dnan(n);
	gpt2_layernorm(&C, y, x, w, b, T, Cc, 1e-5f);
	cuda_gpt2_layernorm(&G, dy, dev(x, n * 4), dev(w, Cc * 4), dev(b, Cc * 4),
	                    T, Cc, 1e-5f);
	row("gpt2_layernorm", ef(y, dy, n), F32, "T%d C%d", T, Cc);
	float *wte = rnd((size_t)V * Cc, -1, 1), *wpe = rnd((size_t)(P + T) * Cc, -1, 1);
	uint32_t *ids = halloc(T * 4);
	for (int t = 0; t < T; t++)
		ids[t] = (uint32_t)(rng_float(&R) * V);
	float *e = nanh(n), *de = dnan(n);
	gpt2_embed(&C, e, wte, wpe, ids, T, P, Cc);
	cuda_gpt2_embed(&G, de, dev(wte, (size_t)V * Cc * 4),
	                dev(wpe, (size_t)(P + T) * Cc * 4), dev(ids, T * 4), T, P,
	                Cc);
	row("gpt2_embed", ef(e, de, n), 0, "T%d P%d C%d", T, P, Cc);
	float *gx = hcopy(x, n * 4), *dgx = dev(x, n * 4);
	gpt2_gelu(&C, gx, n);
	cuda_gpt2_gelu(&G, dgx, n);
	row("gpt2_gelu", ef(gx, dgx, n), F32, "%zu", n);
	float *ax = hcopy(x, n * 4), *dax = dev(x, n * 4);
	gpt2_add(&C, ax, gx, n);
	cuda_gpt2_add(&G, dax, dgx, n);
	row("gpt2_add", ef(ax, dax, n), F32, "%zu", n);

	int ldq = 3 * Cc;
	float *q = rnd((size_t)T * ldq, -1, 1);
	float *kc = rnd((size_t)(P + T) * Cc, -1, 1), *vc = rnd((size_t)(P + T) * Cc, -1, 1);
	float *o = nanh(n), *dout = dnan(n);
	gpt2_attention(&C, o, q, ldq, kc, vc, T, P, Cc, NH);
	cuda_gpt2_attention(&G, dout, dev(q, (size_t)T * ldq * 4), ldq,
	                    dev(kc, (size_t)(P + T) * Cc * 4),
	                    dev(vc, (size_t)(P + T) * Cc * 4), T, P, Cc, NH);
	row("gpt2_attention", ef(o, dout, n), F32, "T%d P%d C%d NH%d", T, P, Cc,
	    NH);
	int nv = 50257;
	float *lg = rnd(nv, -10, 10);
	double *pr = halloc(nv * 8), *dpr = dpoison(nv * 8);
	gpt2_softmax(&C, pr, lg, nv, 0.8);
	cuda_gpt2_softmax(&G, dpr, dev(lg, nv * 4), nv, 0.8);
	row("gpt2_softmax", ed(pr, dpr, nv), F32, "%d", nv);
}

int
main(int argc, char *argv[])
{
	(void)argc;
	blas_setup(argv);
	argv0 = "gpucheck";
	if (cuda_kern_init(&G, 0) < 0) {
		printf("SKIP: no CUDA device (%s)\n", cuda_kern_why());
		return 0;
	}
	if (kern_init(&C, KERN_CPU, 0) < 0)
		die("no CPU backend");
	const char *s = getenv("GPUCHECK_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
	printf("gpucheck: %s\n", cuda_kern_why());
	printf("gpucheck: seed %llu (GPUCHECK_SEED=%llu repeats this run)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	rng_seed(&R, seed, 0);

	void (*group[])(void) = { t_memory, t_coll, t_ops, t_gemm, t_lstm, t_embed,
	                          t_dropout, t_loss, t_adam, t_head, t_seq,
	                          t_gpt2 };
	for (size_t i = 0; i < sizeof group / sizeof *group; i++) {
		group[i]();
		release();
	}

	printf("\n%-22s %-24s %-10s %-8s %s\n", "kernel", "size", "max rel",
	       "limit", "");
	for (int i = 0; i < nrows; i++)
		printf("%-22s %-24s %-10.3g %-8.0e %s\n", rows[i].name,
		       rows[i].size, rows[i].err, rows[i].lim,
		       rows[i].err <= rows[i].lim ? "PASS" : "FAIL");
	printf("gpucheck: %d of %d cases failed\n", nfail, nrows);
	kern_fini(&C);
	cuda_kern_fini(&G);
	return nfail != 0;
}
