/* gpt2_bench: tokens/s generating with GPT-2 124M shapes (random
 * weights), and the memory floor: the best time to read every weight
 * once, in place, with the same threads (read_floor).  Built by
 * bench/gpt2.sh against $B/libcore.a and $B/libkern.a.
 * usage: gpt2_bench prompt_len new_tokens threads
 * prints: coretype TAB tok/s TAB ms/token TAB floor ms/token TAB GB/s
 * usage: gpt2_bench att POSITIONS...
 * prints per POSITIONS: the CPU time of one layer's attention for one new
 * token (12 heads of 64, one thread, best of 5 x 200 calls) in us
 * usage: gpt2_bench gelu
 * prints: the CPU time of one token's gelu_new (12 layers of 3072, one
 * thread, best of 5 x 200 tokens) in us */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "kernels.h"
#include "core/util.h"

struct rd { const float *p; size_t n; double s; };

static void *
reader(void *arg)
{
	struct rd *r = arg;
	float a[16] = {0};
	for (size_t i = 0; i + 16 <= r->n; i += 16)
		for (int j = 0; j < 16; j++)
			a[j] += r->p[i + j];
	for (int j = 0; j < 16; j++)
		r->s += a[j];
	return NULL;
}

/* The memory floor: the best of 10 passes that read every weight of m
 * in place once (wte, and ln_f with the blocks; wpe is one row a token),
 * split over thr threads with a plain loop (even passes) or as sgemv
 * reads them (odd passes, OpenBLAS's own threads).  Reading the model's
 * own arrays, not a buffer of our choosing, lets the floor see the
 * caches the generation sees: where the last-level cache holds part of
 * the 498 MB, both get that part faster.  Returns seconds per pass. */
static double
read_floor(const struct gpt2 *m, int thr)
{
	const struct gpt2_config *c = &m->c;
	size_t per = (size_t)4 * c->C + (size_t)c->C * 3 * c->C + 3 * c->C +
	             (size_t)c->C * c->C + c->C + (size_t)c->C * c->inner +
	             c->inner + (size_t)c->inner * c->C + c->C;
	const float *sp[2] = { m->lnf_w, m->wte };
	size_t sn[2] = { 2 * (size_t)c->C + per * c->L, (size_t)c->vocab * c->C };
	float *x = xcalloc(c->C, sizeof *x);
	float *y = xmalloc((sn[0] > sn[1] ? sn[0] : sn[1]) / c->C * sizeof *y);
	double best = 1e30;
	for (int rep = 0; rep < 10; rep++) {
		double t0 = now_sec();
		for (int s = 0; s < 2; s++) {
			if (rep & 1) {
				blas_sgemv(m->k, 0, (int)(sn[s] / c->C), c->C, 1,
				           sp[s], c->C, x, 0, y);
				continue;
			}
			pthread_t t[64];
			struct rd r[64];
			for (int k = 0; k < thr; k++) {
				r[k] = (struct rd){ sp[s] + sn[s] / thr * k,
				                    sn[s] / thr, 0 };
				pthread_create(&t[k], NULL, reader, &r[k]);
			}
			for (int k = 0; k < thr; k++)
				pthread_join(t[k], NULL);
			if (r[0].s < 0)
				puts("");        /* keep the sums alive */
		}
		double dt = now_sec() - t0;
		if (dt < best)
			best = dt;
	}
	free(x), free(y);
	return best;
}

static double
cpu_sec(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* gpt2_attention alone, T = 1 after P cached positions */
static void
att_bench(int P)
{
	int C = 768, NH = 12, n = P + 1;
	float *q = xmalloc(3 * C * sizeof *q), *o = xmalloc(C * sizeof *o);
	float *kc = xmalloc((size_t)n * C * sizeof *kc);
	float *vc = xmalloc((size_t)n * C * sizeof *vc);
	uint64_t r = 1;
	for (size_t i = 0; i < (size_t)n * C; i++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		kc[i] = (float)((r >> 40) / 16777216.0 - 0.5);
		vc[i] = (float)((r >> 16 & 0xffffff) / 16777216.0 - 0.5);
		if (i < (size_t)3 * C)
			q[i] = kc[i];
	}
	double best = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = cpu_sec();
		for (int it = 0; it < 200; it++)
			gpt2_attention(kern_default(), o, q, 3 * C, kc, vc, 1, P, C,
			               NH);
		double dt = (cpu_sec() - t0) / 200;
		if (dt < best)
			best = dt;
	}
	printf("%d\t%.1f\n", P, best * 1e6);
	free(q), free(o), free(kc), free(vc);
}

/* gpt2_gelu alone: one new token's 12 layers of 3072 */
static void
gelu_bench(void)
{
	enum { N = 3072, L = 12 };
	float *x = xmalloc(N * sizeof *x), *x0 = xmalloc(N * sizeof *x0);
	for (int i = 0; i < N; i++)        /* GPT-2's range of inputs */
		x0[i] = (float)((i * 37) % 1000) / 125 - 4;
	double best = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = cpu_sec();
		for (int it = 0; it < 200; it++)
			for (int l = 0; l < L; l++) {
				/* the same inputs each time (a 12 KB copy) */
				memcpy(x, x0, sizeof x0[0] * N);
				gpt2_gelu(kern_default(), x, N);
			}
		double dt = (cpu_sec() - t0) / 200;
		if (dt < best)
			best = dt;
	}
	printf("%.1f\n", best * 1e6);
	free(x), free(x0);
}

int
main(int argc, char **argv)
{
	argv0 = "gpt2_bench";
	if (argc > 2 && !strcmp(argv[1], "att")) {
		kern_set_threads(1);
		for (int i = 2; i < argc; i++)
			att_bench(atoi(argv[i]));
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "gelu")) {
		kern_set_threads(1);
		gelu_bench();
		return 0;
	}
	const char *ct = blas_setup(argv);
	if (argc != 4)
		usage_error("usage: gpt2_bench prompt_len new_tokens threads");
	int P = atoi(argv[1]), N = atoi(argv[2]), thr = atoi(argv[3]);
	kern_set_threads(thr);
	struct gpt2_config c = { .vocab = 50257, .ctx = 1024, .C = 768,
	                         .L = 12, .NH = 12, .inner = 3072,
	                         .eps = 1e-5f };
	struct gpt2 m;
	gpt2_init_random(&m, &c, 1);
	uint32_t *ids = xmalloc((P + N + 1) * sizeof *ids);
	for (int i = 0; i < P; i++)
		ids[i] = (uint32_t)(i * 7919) % c.vocab;
	const float *lg = gpt2_forward(&m, ids, P, NULL);
	double t0 = 0;
	for (int i = 0; i < N; i++) {
		int k = 0;
		for (int j = 1; j < c.vocab; j++)
			if (lg[j] > lg[k])
				k = j;
		ids[P + i] = (uint32_t)k;
		if (i == 1)
			t0 = now_sec();         /* the first step warms up */
		lg = gpt2_forward(&m, &ids[P + i], 1, NULL);
	}
	double dt = (now_sec() - t0) / (N - 1);
	/* bytes read per token: every weight once (wpe: one row) */
	double w = (double)c.vocab * c.C + c.C + 2 * c.C +
	           (double)c.L * (4 * c.C + (double)c.C * 3 * c.C + 3 * c.C +
	                          (double)c.C * c.C + c.C +
	                          2.0 * c.C * c.inner + c.inner + c.C);
	double floor_s = read_floor(&m, thr);
	printf("%s\t%.2f\t%.2f\t%.2f\t%.2f\n", ct, 1 / dt, dt * 1e3,
	       floor_s * 1e3, w * 4 / floor_s / 1e9);
	gpt2_free(&m);
	free(ids);
	return 0;
}
