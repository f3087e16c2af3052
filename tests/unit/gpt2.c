/* GPT-2 model (libcore/model/gpt2.c, kernels/cpu/gpt2.c).
 *
 * Without arguments: the KV-cache path against recomputing the whole
 * sequence (one token at a time, in uneven chunks, all at once) on a
 * random configuration, gelu_new, LayerNorm and attention against their
 * formulas,
 * the n_positions limit and bad config.json files.
 * With "ref DIR": the C side of tests/gpt2.t against tests/ref/gpt2_ref.py:
 * DIR/model.safetensors, DIR/bin/pytorch_model.bin and the same in the
 * pre-1.6 format, DIR/legacy/pytorch_model.bin, must all give
 * DIR/ref.logits (every position of the prompt DIR/p.ids) within 1e-4
 * relative, and the 50 greedy tokens of DIR/ref.greedy through the cache. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "model/gpt2.h"
#include "learn/gpt2run.h"
#include "kernels.h"
#include "core/util.h"

/* the largest |a - b| relative to the largest |b|: the logits' scale
 * (an element near zero has no relative error of its own to speak of) */
static float
maxrel(const float *a, const float *b, size_t n)
{
	float scale = 0, err = 0;
	for (size_t i = 0; i < n; i++) {
		float e = fabsf(a[i] - b[i]);
		if (fabsf(b[i]) > scale)
			scale = fabsf(b[i]);
		if (!(e <= err))
			err = e;        /* NaN sticks */
	}
	return err / scale;
}

static uint32_t
argmax(const float *x, int n)
{
	int k = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[k])
			k = i;
	return (uint32_t)k;
}

static int
read_ids(const char *path, uint32_t *ids, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;
	unsigned v;
	if (!f)
		die("%s:", path);
	while (n < max && fscanf(f, "%u", &v) == 1)
		ids[n++] = v;
	fclose(f);
	return n;
}

static int
ref(const char *dir)
{
	char p[4096];
	uint32_t prompt[256], want[256];
	snprintf(p, sizeof p, "%s/p.ids", dir);
	int T = read_ids(p, prompt, 256);
	snprintf(p, sizeof p, "%s/ref.greedy", dir);
	int G = read_ids(p, want, 256);
	ok(T > 1 && G == 50, "fixture: %d prompt ids, %d greedy ids", T, G);
	static const char *sub[] = { "", "/bin", "/legacy" };
	static const char *name[] = { "safetensors", "pytorch_model.bin",
	                              "pytorch_model.bin (pre-1.6 format)" };
	for (int fmt = 0; fmt < 3; fmt++) {
		struct gpt2 m;
		snprintf(p, sizeof p, "%s%s", dir, sub[fmt]);
		gpt2_load(&m, p);
		const char *what = name[fmt];
		int V = m.c.vocab;
		float *all = xmalloc((size_t)T * V * sizeof *all);
		float *r = xmalloc((size_t)T * V * sizeof *r);
		snprintf(p, sizeof p, "%s/ref.logits", dir);
		FILE *f = fopen(p, "rb");
		if (!f || fread(r, sizeof *r, (size_t)T * V, f) != (size_t)T * V)
			die("%s: short", p);
		fclose(f);
		gpt2_forward(&m, prompt, T, all);
		float e = maxrel(all, r, (size_t)T * V);
		ok(e < 1e-4f, "%s: logits of %d positions x %d within 1e-4 "
		   "relative of PyTorch (%.2g)", what, T, V, e);
		/* greedy through the cache */
		gpt2_reset(&m);
		const float *lg = gpt2_forward(&m, prompt, T, NULL);
		int same = 1;
		for (int i = 0; i < G; i++) {
			uint32_t nx = argmax(lg, V);
			if (nx != want[i]) {
				diag("step %d: %u, PyTorch %u", i, nx, want[i]);
				same = 0;
				break;
			}
			lg = gpt2_forward(&m, &nx, 1, NULL);
		}
		ok(same, "%s: 50 greedy tokens (KV cache) equal PyTorch's "
		   "(whole sequence each step)", what);
		free(all), free(r);
		gpt2_free(&m);
	}
	return done_testing();
}

static void
too_long(const void *arg, size_t n)
{
	struct gpt2 *m = (struct gpt2 *)arg;
	uint32_t id = 1;
	(void)n;
	for (int i = 0; i <= m->c.ctx; i++)
		gpt2_forward(m, &id, 1, NULL);
}

static void
bad_id(const void *arg, size_t n)
{
	struct gpt2 *m = (struct gpt2 *)arg;
	uint32_t id = (uint32_t)m->c.vocab;
	(void)n;
	gpt2_reset(m);
	gpt2_forward(m, &id, 1, NULL);
}

static char cfgpath[] = "/tmp/gpt2-unit.XXXXXX";

static void
read_cfg(const void *arg, size_t n)
{
	struct gpt2_config c;
	FILE *f = fopen(cfgpath, "w");
	fputs(arg, f);
	fclose(f);
	(void)n;
	gpt2_read_config(cfgpath, &c);
}

/* gpt2_attention against its formula in double on random inputs: head
 * sizes below, at and past the 16-wide dot products, caches longer than
 * one block of positions, and a late position whose score dwarfs the
 * rest (the running maximum rises in a later block).  Returns the
 * largest error over the cases, relative to the case's largest output. */
static double
attention_cases(void)
{
	static const int cs[][4] = {   /* HS, NH, P, T */
		{ 12, 4, 0, 5 }, { 16, 2, 70, 1 }, { 24, 3, 130, 3 },
		{ 64, 2, 200, 1 }, { 64, 12, 1, 1 }, { 40, 2, 63, 2 },
	};
	double worst = 0;
	uint64_t r = 12345;
	for (size_t ci = 0; ci < sizeof cs / sizeof *cs; ci++) {
		int HS = cs[ci][0], NH = cs[ci][1], P = cs[ci][2], T = cs[ci][3];
		int C = HS * NH, n = P + T;
		float *q = xmalloc((size_t)T * 3 * C * sizeof *q);
		float *kc = xmalloc((size_t)n * C * sizeof *kc);
		float *vc = xmalloc((size_t)n * C * sizeof *vc);
		float *o = xmalloc((size_t)T * C * sizeof *o);
		float *all[] = { q, kc, vc };
		size_t len[] = { (size_t)T * 3 * C, (size_t)n * C, (size_t)n * C };
		for (int a = 0; a < 3; a++)
			for (size_t i = 0; i < len[a]; i++) {
				r = r * 6364136223846793005ULL + 1442695040888963407ULL;
				all[a][i] = (float)((r >> 40) / 16777216.0 - 0.5) * 2;
			}
		if (n > 100)            /* position 129 (or the last) dominates */
			for (int h = 0; h < NH; h++)
				for (int i = 0; i < HS; i++)
					kc[(size_t)(n > 129 ? 129 : n - 1) * C + h * HS + i] =
						3 * q[h * HS + i];
		gpt2_attention(kern_default(), o, q, 3 * C, kc, vc, T, P, C, NH);
		double err = 0, scale = 0;
		for (int t = 0; t < T; t++)
			for (int h = 0; h < NH; h++) {
				int np = P + t + 1;
				double *sc = xmalloc(np * sizeof *sc), mx = -1e300, sum = 0;
				for (int p = 0; p < np; p++) {
					double d = 0;
					for (int i = 0; i < HS; i++)
						d += (double)q[(size_t)t * 3 * C + h * HS + i] *
						     kc[(size_t)p * C + h * HS + i];
					sc[p] = d / sqrt(HS);
					if (sc[p] > mx)
						mx = sc[p];
				}
				for (int p = 0; p < np; p++)
					sum += sc[p] = exp(sc[p] - mx);
				for (int i = 0; i < HS; i++) {
					double w = 0;
					for (int p = 0; p < np; p++)
						w += sc[p] / sum * vc[(size_t)p * C + h * HS + i];
					double e = fabs(o[(size_t)t * C + h * HS + i] - w);
					if (!(e <= err))
						err = e;        /* NaN sticks */
					if (fabs(w) > scale)
						scale = fabs(w);
				}
				free(sc);
			}
		if (!(err / scale <= worst))
			worst = err / scale;
		free(q), free(kc), free(vc), free(o);
	}
	return worst;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "ref"))
		return ref(argv[2]);
	kern_set_threads(2);

	/* gelu_new and LayerNorm against their formulas in double: gelu
	 * over -12..12 in steps of 1/128 (both branches of its tanh, which
	 * meet at |u| = 0.625), then the far ends and zero */
	enum { NG = 3072 + 6 };
	static float g[NG], gw[NG];
	for (int i = 0; i < 3072; i++)
		g[i] = (float)(i - 1536) / 128;
	float ends[6] = { -1e30f, -100, -0.0f, 1e-30f, 100, 1e30f };
	memcpy(g + 3072, ends, sizeof ends);
	for (int i = 0; i < NG; i++) {
		double x = g[i], u = sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
		gw[i] = (float)(0.5 * x * (1 + tanh(u)));
	}
	gpt2_gelu(kern_default(), g, NG);
	ok(close_to(g, gw, NG, 1e-6f, 1e-5f), "gelu_new, %d inputs", NG);
	float x[6] = { 1, 2, 4, -1, 0, 1 }, w[3] = { 1, 2, 0.5f },
	      b[3] = { 0, 1, -1 }, y[6], yw[6];
	for (int t = 0; t < 2; t++) {
		double m = 0, v = 0;
		for (int i = 0; i < 3; i++)
			m += x[3 * t + i] / 3.0;
		for (int i = 0; i < 3; i++)
			v += (x[3 * t + i] - m) * (x[3 * t + i] - m) / 3.0;
		for (int i = 0; i < 3; i++)
			yw[3 * t + i] = (float)((x[3 * t + i] - m) /
			                        sqrt(v + 1e-5) * w[i] + b[i]);
	}
	gpt2_layernorm(kern_default(), y, x, w, b, 2, 3, 1e-5f);
	ok(close_to(y, yw, 6, 1e-6f, 1e-5f), "layernorm");
	double ae = attention_cases();
	ok(ae < 1e-5, "attention against its formula (head sizes 12-64, "
	   "up to 201 positions): worst relative error %.2g", ae);

	/* KV cache == recompute */
	struct gpt2_config c = { .vocab = 97, .ctx = 40, .C = 32, .L = 3,
	                         .NH = 4, .inner = 80, .eps = 1e-5f };
	struct gpt2 m;
	gpt2_init_random(&m, &c, 7);
	enum { T = 37 };
	uint32_t ids[T];
	for (int i = 0; i < T; i++)
		ids[i] = (uint32_t)(i * 31 + 5) % c.vocab;
	float *all = xmalloc((size_t)T * c.vocab * sizeof *all);
	float *one = xmalloc((size_t)T * c.vocab * sizeof *one);
	gpt2_forward(&m, ids, T, all);
	ok(m.pos == T, "the cache holds %d positions", T);
	gpt2_reset(&m);
	for (int t = 0; t < T; t++) {
		const float *lg = gpt2_forward(&m, &ids[t], 1, NULL);
		memcpy(one + (size_t)t * c.vocab, lg, c.vocab * sizeof *lg);
	}
	float e = maxrel(one, all, (size_t)T * c.vocab);
	/* sgemv for one row, sgemm for many: the same sums in another
	 * order, so equal to float rounding */
	ok(e < 1e-5f, "one token at a time through the cache == the whole "
	   "sequence at once (%.2g)", e);
	/* uneven chunks: 5, 1, 13, 18 */
	gpt2_reset(&m);
	int chunk[] = { 5, 1, 13, 18 }, at = 0, okc = 1;
	for (int k = 0; k < 4; k++) {
		float *part = xmalloc((size_t)chunk[k] * c.vocab * sizeof *part);
		gpt2_forward(&m, ids + at, chunk[k], part);
		e = maxrel(part, all + (size_t)at * c.vocab,
		           (size_t)chunk[k] * c.vocab);
		if (!(e < 1e-5f))
		{
			diag("chunk %d: %.2g", k, (double)e);
			okc = 0;
		}
		at += chunk[k];
		free(part);
	}
	ok(okc && at == T, "chunks of 5, 1, 13, 18 == the whole sequence");
	/* a prefix recomputed gives the prefix's logits (causality) */
	gpt2_reset(&m);
	gpt2_forward(&m, ids, 10, one);
	e = maxrel(one, all, 10 * (size_t)c.vocab);
	ok(e < 1e-5f, "a 10-token prefix sees nothing after it (causal, "
	   "%.2g)", e);
	gpt2_reset(&m);
	kern_set_threads(1);    /* no worker threads across fork() */
	ok(child_status(too_long, &m, 0) == 1, "past n_positions: exit 1");
	ok(child_status(bad_id, &m, 0) == 1, "id >= vocab: exit 1");
	free(all), free(one);
	gpt2_free(&m);

	/* config.json */
	int fd = mkstemp(cfgpath);
	close(fd);
	static const char good[] = "{\"vocab_size\": 50257, \"n_positions\": "
		"1024, \"n_embd\": 768, \"n_layer\": 12, \"n_head\": 12, "
		"\"n_inner\": null, \"activation_function\": \"gelu_new\", "
		"\"layer_norm_epsilon\": 1e-05}";
	ok(child_status(read_cfg, good, 0) == 0, "GPT-2 124M's config reads");
	struct gpt2_config gc;
	gpt2_read_config(cfgpath, &gc);
	ok(gc.C == 768 && gc.L == 12 && gc.NH == 12 && gc.inner == 3072 &&
	   gc.vocab == 50257 && gc.ctx == 1024, "its sizes (n_inner null: 4C)");
	ok(child_status(read_cfg, "{\"vocab_size\": 5", 0) == 1,
	   "truncated JSON: exit 1");
	ok(child_status(read_cfg, "{\"vocab_size\": 50, \"n_positions\": 8, "
	   "\"n_embd\": 10, \"n_layer\": 1, \"n_head\": 3}", 0) == 1,
	   "n_embd not a multiple of n_head: exit 1");
	ok(child_status(read_cfg, "{\"vocab_size\": 50, \"n_positions\": 8, "
	   "\"n_embd\": 12, \"n_layer\": 1}", 0) == 1, "no n_head: exit 1");
	ok(child_status(read_cfg, "{\"vocab_size\": 50.5, \"n_positions\": 8,"
	   " \"n_embd\": 12, \"n_layer\": 1, \"n_head\": 3}", 0) == 1,
	   "vocab_size 50.5: exit 1");
	ok(child_status(read_cfg, "{\"vocab_size\": 50, \"n_positions\": 8, "
	   "\"n_embd\": 12, \"n_layer\": 1, \"n_head\": 3, "
	   "\"activation_function\": \"relu\"}", 0) == 1,
	   "activation relu: exit 1");
	unlink(cfgpath);
	return done_testing();
}
