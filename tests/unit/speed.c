/* unit/speed: the fast paths checked against the plain ones on random
 * inputs (no timings here): gemm_packed (W_hh packed once, AVX-512
 * micro-kernel) and the LSTM that uses it against sgemm, gemm_bf16 (by
 * AMX tiles where the CPU has them, and by vdpbf16ps) against double
 * sums of its rounded operands, pth_crc32's
 * carry-less fold against zlib,
 * big_alloc, pth_load's in-place float32 tensors against pth_load_mem's
 * copies, and clas_open_eval (borrowed encoder weights) against clas_open
 * (copied). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/clas.h"
#include "learn/clasio.h"
#include "kernels.h"
#include "torch/pth.h"
#include "../tap.h"
#include "core/util.h"

/* the context every kernel takes (the process's CPU one) */
static struct kern *kd;

static uint64_t rs = 88172645463325252ULL;
static uint32_t
rnd(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

static void
test_crc(void)
{
	size_t N = (1 << 20) + 77;
	unsigned char *b = xmalloc(N);
	for (size_t i = 0; i < N; i++)
		b[i] = (unsigned char)rnd();
	int bad = 0;
	/* every length around the 64-byte blocks and the 256-byte switch,
	 * odd offsets, chained starts */
	for (size_t n = 0; n < 1200; n++)
		for (int off = 0; off < 3; off++) {
			uint32_t init = n % 5 ? rnd() : 0;
			if (pth_crc32(init, b + off, n) !=
			    (uint32_t)crc32(init, b + off, (uInt)n))
				bad++;
		}
	ok(!bad, "pth_crc32 == zlib crc32 for lengths 0..1199, 3 offsets, "
	   "random starts (%d differ)", bad);
	ok(pth_crc32(0, b, N) == (uint32_t)crc32(0, b, (uInt)N),
	   "pth_crc32 == zlib crc32 on 1 MiB + 77");
	uint32_t half = pth_crc32(0, b, N / 2);
	ok(pth_crc32(half, b + N / 2, N - N / 2) == pth_crc32(0, b, N),
	   "pth_crc32 chains like zlib's");
	free(b);
}

static void
test_big_alloc(void)
{
	size_t n = (5 << 20) + 3;
	unsigned char *p = big_alloc(n);
	int zero = 1;
	ok(p && (uintptr_t)p % (2 << 20) == 0, "big_alloc: 2 MiB aligned");
	for (size_t i = 0; p && i < n; i += 4093)
		zero &= p[i] == 0;
	ok(p && zero && p[n - 1] == 0, "big_alloc: zero");
	if (p)
		memset(p, 1, n);
	big_free(p, n);
	ok(!big_alloc(0), "big_alloc(0) is NULL");
}

/* a small classifier with random weights, saved to path */
static void
make_clas(const char *path, struct awd_config *ac, struct clas_config *cc)
{
	struct clas c;
	struct rng r;
	struct pth_tensor t[AWD_MAX_TENSORS + 16];
	char names[AWD_MAX_TENSORS + 16][64];
	struct pv_pool pool = {0};

	awd_config_clas(ac, 50, 0.5f);
	ac->emb = 8, ac->hidden = 12, ac->layers = 3;
	clas_config_default(cc, ac, 3, 0, 0);
	clas_create(&c, ac, cc, 4);
	rng_seed(&r, 7, 0);
	clas_init(&c, &r);
	for (int i = 0; i < c.cfg.nhid; i++)    /* BN stats that matter */
		c.bn1_mean[i] = 0.01f * (float)(rnd() % 100);
	int n = clas_state_dict(&c, t, names, AWD_MAX_TENSORS + 16);
	ok(pth_save(path, pth_state_dict(&pool, t, n), NULL) == 0,
	   "saved a random classifier");
	pv_pool_free(&pool);
	clas_free(&c);
}

static void
test_open_eval(void)
{
	char path[] = "/tmp/unit-speed-XXXXXX";
	int fd = mkstemp(path);
	struct awd_config ac;
	struct clas_config cc;
	close(fd);
	make_clas(path, &ac, &cc);

	struct pth *p = pth_load(path);
	/* the same file through the copying reader */
	FILE *f = fopen(path, "rb");
	unsigned char *buf = xmalloc(1 << 20);
	size_t nb = fread(buf, 1, 1 << 20, f);
	fclose(f);
	char *err = NULL;
	struct pth *q = pth_load_mem(buf, nb, "mem", &err);
	int same = q && p->n == q->n;
	for (int i = 0; same && i < p->n; i++)
		same = p->t[i].numel == q->t[i].numel &&
		       !strcmp(p->t[i].name, q->t[i].name) &&
		       (p->t[i].f ? !memcmp(p->t[i].f, q->t[i].f,
		                            p->t[i].numel * 4)
		                  : !memcmp(p->t[i].l, q->t[i].l,
		                            p->t[i].numel * 8));
	ok(same, "pth_load (tensors in place) == pth_load_mem (copies)");
	ok(pth_xxh64(p) == pth_xxh64(q), "pth_xxh64: the same file hash");

	struct clas a, b;
	char **la, **lb;
	clas_open(&a, q, 4, 0, 0, &la);
	clas_open_eval(&b, p, 2, &lb);
	ok(b.enc.p.emb == pth_find(p, "0.module.encoder.weight")->f,
	   "clas_open_eval: the embedding is read where the file holds it");
	/* three documents of random lengths, one longer than bptt */
	uint32_t len[3] = { 5, 90, 1 }, *docs[3];
	for (int d = 0; d < 3; d++) {
		docs[d] = xmalloc(len[d] * sizeof **docs);
		for (uint32_t i = 0; i < len[d]; i++)
			docs[d][i] = rnd() % 50;
	}
	float pa[9], pb[9];
	struct clas_scratch sa = {0}, sb = {0};
	clas_predict(&a, (const uint32_t *const *)docs, len, NULL, 3, pa, NULL,
	             NULL, &sa);
	clas_predict(&b, (const uint32_t *const *)docs, len, NULL, 3, pb, NULL,
	             NULL, &sb);
	ok(close_to(pb, pa, 9, 1e-6f, 1e-5f), "clas_open_eval (batches of 2) "
	   "predicts as clas_open (batch of 4)");
	for (int d = 0; d < 3; d++)
		free(docs[d]);
	clas_scratch_free(&sa), clas_scratch_free(&sb);
	clas_labels_free(la, 3), clas_labels_free(lb, 3);
	clas_free(&a), clas_free(&b);
	pth_free(p), pth_free(q);
	free(buf);
	unlink(path);
}

static void
fill(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
}

/* gemm_packed against sgemm: odd sizes (row tails, column tails, K not a
 * multiple of GEMM_KC), both packings, leading dimensions > width */
static void
test_gemm(void)
{
	static const int sz[][3] = {    /* M N K */
		{ 1, 1, 1 }, { 3, 17, 5 }, { 8, 32, 256 }, { 9, 33, 257 },
		{ 19, 100, 300 }, { 64, 4 * 40, 40 }, { 64, 40, 160 },
		{ 7, 513, 600 }, { 32, 2304, 576 },
	};
	int bad_bt = 0, bad_b = 0;
	for (size_t s = 0; s < sizeof sz / sizeof *sz; s++) {
		int M = sz[s][0], N = sz[s][1], K = sz[s][2];
		int lda = K + 3, ldc = N + 5, ldw = K + 1, ldb = N + 2;
		float *A = xmalloc((size_t)M * lda * sizeof *A);
		float *W = xmalloc((size_t)N * ldw * sizeof *W);   /* (N,K) */
		float *Bm = xmalloc((size_t)K * ldb * sizeof *Bm); /* (K,N) */
		float *C0 = xmalloc((size_t)M * ldc * sizeof *C0);
		float *C1 = xmalloc((size_t)M * ldc * sizeof *C1);
		float *C2 = xmalloc((size_t)M * ldc * sizeof *C2);
		float *pk = big_alloc(gemm_pack_size(K, N) * sizeof *pk);
		fill(A, (size_t)M * lda), fill(W, (size_t)N * ldw);
		fill(Bm, (size_t)K * ldb), fill(C0, (size_t)M * ldc);
		/* C += A W^T */
		memcpy(C1, C0, (size_t)M * ldc * sizeof *C1);
		memcpy(C2, C0, (size_t)M * ldc * sizeof *C2);
		blas_sgemm(kd, 0, 1, M, N, K, 1.0f, A, lda, W, ldw, 1.0f, C1,
		           ldc);
		gemm_pack_bt(kd, pk, W, ldw, K, N);
		gemm_packed(kd, M, N, K, A, lda, pk, C2, ldc);
		bad_bt += !close_to(C2, C1, (size_t)M * ldc, 1e-4f, 1e-4f);
		/* C += A B */
		memcpy(C1, C0, (size_t)M * ldc * sizeof *C1);
		memcpy(C2, C0, (size_t)M * ldc * sizeof *C2);
		blas_sgemm(kd, 0, 0, M, N, K, 1.0f, A, lda, Bm, ldb, 1.0f, C1,
		           ldc);
		gemm_pack_b(kd, pk, Bm, ldb, K, N);
		gemm_packed(kd, M, N, K, A, lda, pk, C2, ldc);
		bad_b += !close_to(C2, C1, (size_t)M * ldc, 1e-4f, 1e-4f);
		big_free(pk, gemm_pack_size(K, N) * sizeof *pk);
		free(A), free(W), free(Bm), free(C0), free(C1), free(C2);
	}
	ok(!bad_bt, "gemm_packed(pack_bt) == sgemm(A W^T), %d shapes (%d "
	   "differ; padding columns left alone)", (int)(sizeof sz / sizeof *sz),
	   bad_bt);
	ok(!bad_b, "gemm_packed(pack_b) == sgemm(A B) (%d differ)", bad_b);
}

/* the LSTM over T steps with W_hh packed once == sgemm at every step.
 * With bf (k->bf16) and H large enough that each step's product is over
 * blas.h's 2^18 multiply-adds, sgemm is gemm_bf16 at every step, and the
 * packed path must give its bits exactly (same rounding, same sums). */
static void
test_lstm_packed(int H, int bf)
{
	/* bf16: 37 rows, so AMX tiles (blocks of 32 and 16 rows) run too */
	int T = 5, B = bf ? 37 : 11, G = 4 * H;
	size_t BH = (size_t)B * H, BG = (size_t)B * G;
	float *w = xmalloc((size_t)G * H * sizeof *w);
	float *h0 = xmalloc(BH * sizeof *h0), *c0 = xmalloc(BH * sizeof *c0);
	float *xg0 = xmalloc(T * BG * sizeof *xg0);
	float *xg[2], *y[2], *c[2], *tc[2], *dy[2], *dpre[2], *dc[2];
	float *pk = big_alloc(lstm_pack_size(H) * sizeof *pk);
	fill(w, (size_t)G * H), fill(h0, BH), fill(c0, BH), fill(xg0, T * BG);
	for (size_t i = 0; i < (size_t)G * H; i++)
		w[i] *= 0.3f;
	float *dy0 = xmalloc(T * BH * sizeof *dy0);
	fill(dy0, T * BH);
	kd->bf16 = bf;
	for (int v = 0; v < 2; v++) {
		xg[v] = xmalloc(T * BG * sizeof **xg);
		memcpy(xg[v], xg0, T * BG * sizeof **xg);
		y[v] = xmalloc(T * BH * sizeof **y);
		c[v] = xmalloc(T * BH * sizeof **c);
		tc[v] = xmalloc(T * BH * sizeof **tc);
		dy[v] = xmalloc(T * BH * sizeof **dy);
		memcpy(dy[v], dy0, T * BH * sizeof **dy);
		dpre[v] = xmalloc(T * BG * sizeof **dpre);
		dc[v] = xmalloc(BH * sizeof **dc);
		if (v)
			lstm_fwd_pk(kd, xg[v], w, h0, c0, y[v], c[v], tc[v], T,
			            B, H, pk);
		else
			lstm_fwd(kd, xg[v], w, h0, c0, y[v], c[v], tc[v], T, B,
			         H);
		if (v)
			lstm_bwd_pk(kd, xg[v], w, c0, c[v], tc[v], dy[v],
			            dpre[v], dc[v], T, B, H, pk);
		else
			lstm_bwd(kd, xg[v], w, c0, c[v], tc[v], dy[v], dpre[v],
			         dc[v], T, B, H);
	}
	kd->bf16 = 0;
	if (bf) {
		ok(!memcmp(y[1], y[0], T * BH * sizeof *y[0]) &&
		   !memcmp(c[1], c[0], T * BH * sizeof *c[0]),
		   "bf16: lstm_fwd_pk (W_hh packed once as bf16) == lstm_fwd "
		   "(gemm_bf16 each step), bit for bit, H %d", H);
		ok(!memcmp(dpre[1], dpre[0], T * BG * sizeof *dpre[0]),
		   "bf16: lstm_bwd_pk == lstm_bwd, bit for bit");
		/* and it is bf16: fp32 gives other bits, within bf16's error */
		memcpy(xg[0], xg0, T * BG * sizeof **xg);
		lstm_fwd(kd, xg[0], w, h0, c0, y[0], c[0], tc[0], T, B, H);
		ok(memcmp(y[1], y[0], T * BH * sizeof *y[0]) &&
		   close_to(y[1], y[0], T * BH, 2e-2f, 2e-2f),
		   "bf16: the packed recurrence differs from fp32 within 2e-2");
	} else {
		ok(close_to(y[1], y[0], T * BH, 1e-5f, 1e-4f) &&
		   close_to(c[1], c[0], T * BH, 1e-5f, 1e-4f),
		   "lstm_fwd_pk (W_hh packed once) == lstm_fwd (sgemm each "
		   "step)");
		ok(close_to(dpre[1], dpre[0], T * BG, 1e-5f, 1e-4f),
		   "lstm_bwd_pk == lstm_bwd");
	}
	for (int v = 0; v < 2; v++)
		free(xg[v]), free(y[v]), free(c[v]), free(tc[v]), free(dy[v]),
		free(dpre[v]), free(dc[v]);
	big_free(pk, lstm_pack_size(H) * sizeof *pk);
	free(w), free(h0), free(c0), free(xg0), free(dy0);
}

/* gemm_bf16 against a double-precision sum of the bf16-rounded operands
 * (so only the fp32 accumulation differs), every transpose, beta 0/1/0.5 */
static float
bf(float f)
{
	uint32_t u = (uint32_t)gemm_f2bf(f) << 16;
	float r;
	memcpy(&r, &u, 4);
	return r;
}

static void
test_bf16(void)
{
	ok(gemm_f2bf(1.0f) == 0x3f80 && gemm_f2bf(1.00390625f) == 0x3f80 &&
	   gemm_f2bf(1.01171875f) == 0x3f82 && gemm_f2bf(-2.0f) == 0xc000,
	   "gemm_f2bf rounds to nearest even");
	/* the last three: K past gemm.c's block of 2048, beta 0.5, 1, 0 */
	static const int sz[][3] = { { 1, 1, 1 }, { 9, 33, 7 }, { 17, 70, 300 },
	                             { 200, 45, 513 }, { 33, 40, 4500 },
	                             { 20, 70, 2500 }, { 12, 35, 4099 } };
	int bad = 0, n = 0;
	for (size_t s = 0; s < sizeof sz / sizeof *sz; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int M = sz[s][0], N = sz[s][1], K = sz[s][2];
				int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2;
				int ldc = N + 3;
				float beta = (float)(s % 3) * 0.5f;
				size_t na = (size_t)(ta ? K : M) * lda;
				size_t nb = (size_t)(tb ? N : K) * ldb;
				float *A = xmalloc(na * sizeof *A);
				float *B = xmalloc(nb * sizeof *B);
				float *C = xmalloc((size_t)M * ldc * sizeof *C);
				float *R = xmalloc((size_t)M * ldc * sizeof *R);
				fill(A, na), fill(B, nb), fill(C, (size_t)M * ldc);
				memcpy(R, C, (size_t)M * ldc * sizeof *R);
				gemm_bf16(kd, ta, tb, M, N, K, 0.75f, A, lda, B,
				          ldb, beta, C, ldc);
				for (int i = 0; i < M; i++)
					for (int j = 0; j < N; j++) {
						double acc = 0;
						for (int k = 0; k < K; k++)
							acc += (double)bf(ta ? A[(size_t)k * lda + i] :
							                  A[(size_t)i * lda + k]) *
							       bf(tb ? B[(size_t)j * ldb + k] :
							          B[(size_t)k * ldb + j]);
						float *r = R + (size_t)i * ldc + j;
						*r = (float)(0.75 * acc + (double)beta * *r);
					}
				bad += !close_to(C, R, (size_t)M * ldc, 1e-4f, 1e-4f);
				n++;
				free(A), free(B), free(C), free(R);
			}
	ok(!bad, "gemm_bf16 == double sums of the bf16-rounded operands, %d "
	   "shapes x transposes (%d differ)", n, bad);
	/* and through blas_sgemm when switched on: close to fp32 sgemm */
	int M = 64, N = 96, K = 128;
	float *A = xmalloc((size_t)M * K * 4), *B = xmalloc((size_t)K * N * 4);
	float *C0 = xcalloc((size_t)M * N, 4), *C1 = xcalloc((size_t)M * N, 4);
	fill(A, (size_t)M * K), fill(B, (size_t)K * N);
	blas_sgemm(kd, 0, 0, M, N, K, 1, A, K, B, N, 0, C0, N);
	kern_set_bf16(1);
	blas_sgemm(kd, 0, 0, M, N, K, 1, A, K, B, N, 0, C1, N);
	kern_set_bf16(0);
	ok(close_to(C1, C0, (size_t)M * N, 0.05f, 0.02f) &&
	   memcmp(C1, C0, (size_t)M * N * 4),
	   "kern_set_bf16(1): blas_sgemm goes through bf16 (close to fp32, "
	   "not equal)");
	free(A), free(B), free(C0), free(C1);
}

/* a word of /proc/cpuinfo's flags line */
static int
cpu_flag(const char *name)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	int found = 0;
	size_t n = strlen(name);
	while (f && !found && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5))
			for (char *p = strstr(line, name); p && !found;
			     p = strstr(p + 1, name))
				found = p[-1] == ' ' &&
				        (p[n] == ' ' || p[n] == '\n');
	if (f)
		fclose(f);
	return found;
}

int
main(void)
{
	kd = kern_default();
	kern_set_threads(2);
	__builtin_cpu_init();
	ok(gemm_packed_ok() == !!__builtin_cpu_supports("avx512f"),
	   "gemm_packed_ok() follows the CPU's AVX-512 (%d)", gemm_packed_ok());
	if (gemm_packed_ok()) {
		test_gemm();
		test_lstm_packed(37, 0);
	}
	ok(gemm_bf16_ok() == (__builtin_cpu_supports("avx512bf16") &&
	                      __builtin_cpu_supports("avx512bw")),
	   "gemm_bf16_ok() follows the CPU's AVX512-BF16 (%d)", gemm_bf16_ok());
	if (gemm_bf16_ok()) {
		/* both bf16 paths where the CPU has AMX: tiles, then vdpbf16ps */
		int amx = gemm_bf16_amx(-1);
		ok(amx == (cpu_flag("amx_tile") && cpu_flag("amx_bf16") &&
		           !getenv("ULMFIT_NO_AMX")),
		   "gemm_bf16_amx() follows the CPU's AMX-BF16 (%d)", amx);
		for (int on = amx; on >= 0; on--) {
			ok(gemm_bf16_amx(on) == on, "bf16 products by %s",
			   on ? "AMX tiles" : "vdpbf16ps");
			test_bf16();
			/* 37 x 320 x 80 multiply-adds a step: over 2^18 */
			test_lstm_packed(80, 1);
		}
		gemm_bf16_amx(amx);
	}
	test_crc();
	test_big_alloc();
	test_open_eval();
	return done_testing();
}
