/* The AWD-LSTM and its LM head: spec §5/§6 acceptance facts, and a
 * finite-difference check of every gradient of the whole model (dropout
 * off, and on with the same masks replayed).  With "--dump DIR" it also
 * writes a tiny model, batch, masks, loss and gradients for
 * tests/ref/awd_ref.py (PyTorch parity, run by tests/awd.t). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../tap.h"
#include "model/awd.h"
#include "kernels.h"
#include "model/lm.h"
#include "core/util.h"

static void
test_shapes(void)
{
	/* AWD_LSTM(V=100, emb=20, hid=10, layers=2) on x (10,5) */
	struct awd_config c = { .vocab = 100, .emb = 20, .hidden = 10,
	                        .layers = 2, .pad = 1 };
	struct awd m;
	struct rng r;
	rng_seed(&r, 1, 0);
	awd_create(&m, &c, 10, 5, 0);
	awd_init(&m, &r);
	uint32_t tok[50];
	for (int i = 0; i < 50; i++)
		tok[i] = (uint32_t)rng_below(&r, 100);
	float *out = awd_forward(&m, tok, 10, 5, 0, NULL);
	int same = 1;
	for (int b = 0; b < 10; b++)
		same &= !memcmp(out + (b * 5 + 4) * 20, m.h[1] + b * 20,
		                20 * sizeof(float));
	ok(awd_layer_out(&c, 0) == 10 && awd_layer_out(&c, 1) == 20 &&
	   m.state_bs == 10 && same,
	   "AWD_LSTM(100,20,10,2) on (10,5): hidden (10,10),(10,20); out[:,-1] == hidden[-1].h");
	/* resize: rows dropped from the end, added rows are zero */
	float h3 = m.h[0][3 * 10];
	awd_resize(&m, 4);
	awd_resize(&m, 6);
	int z = 1;
	for (int i = 4 * 10; i < 6 * 10; i++)
		z &= m.h[0][i] == 0 && m.c[0][i] == 0;
	ok(z && m.h[0][3 * 10] == h3 && h3 != 0,
	   "awd_resize: kept rows unchanged, re-added rows are zero");
	awd_reset(&m);
	ok(m.h[1][0] == 0 && m.c[0][5] == 0, "awd_reset zeroes the state");
	awd_free(&m);
}

static void
test_count(void)
{
	struct awd_config c;
	awd_config_lm(&c, 60008, 1.0f);
	size_t n = awd_param_count(&c) + 60008;
	ok(n == 44336488, "parameter count with V=60008: %zu (44,336,488)", n);
	{       /* layer 0 as the model lays it out (E 400 -> H 1152) */
		struct awd_config d;
		struct lm big;
		struct awd_tensor bt[AWD_MAX_TENSORS + 2];
		awd_config_lm(&d, 10, 1.0f);
		lm_create(&big, &d, 1, 1);
		int nb = lm_tensors(&big, bt, AWD_MAX_TENSORS + 2);
		size_t l0 = 0;
		for (int i = 0; i < nb; i++)
			if (!strncmp(bt[i].name, "0.rnns.0.", 9) && !bt[i].alias)
				l0 += bt[i].n;
		ok(l0 == 7160832, "layer 0 has 7,160,832 parameters: %zu", l0);
		lm_free(&big);
	}
	awd_config_clas(&c, 100, 0.5f);
	ok(fabsf(c.output_p - 0.2f) < 1e-7f && fabsf(c.hidden_p - 0.15f) < 1e-7f &&
	   fabsf(c.input_p - 0.2f) < 1e-7f && fabsf(c.embed_p - 0.025f) < 1e-7f &&
	   fabsf(c.weight_p - 0.25f) < 1e-7f,
	   "classifier config at drop_mult 0.5: 0.2 0.15 0.2 0.025 0.25");

	struct lm lm;
	struct awd_config s = { .vocab = 9, .emb = 4, .hidden = 6, .layers = 3,
	                        .pad = 1 };
	lm_create(&lm, &s, 2, 3);
	struct awd_tensor t[32];
	int k = lm_tensors(&lm, t, 32);
	const char *want[] = { "0.encoder.weight", "0.encoder_dp.emb.weight",
		"0.rnns.0.weight_hh_l0_raw", "0.rnns.0.module.weight_ih_l0",
		"0.rnns.0.module.bias_ih_l0", "0.rnns.0.module.bias_hh_l0",
		"0.rnns.1.weight_hh_l0_raw", "0.rnns.1.module.weight_ih_l0",
		"0.rnns.1.module.bias_ih_l0", "0.rnns.1.module.bias_hh_l0",
		"0.rnns.2.weight_hh_l0_raw", "0.rnns.2.module.weight_ih_l0",
		"0.rnns.2.module.bias_ih_l0", "0.rnns.2.module.bias_hh_l0",
		"1.decoder.weight", "1.decoder.bias" };
	int good = k == 16;
	for (int i = 0; good && i < 16; i++)
		good &= !strcmp(t[i].name, want[i]);
	ok(good, "LM state dict: 16 fastai keys in order");
	ok(t[1].alias && t[14].alias && t[14].w == t[0].w && t[15].no_wd &&
	   !t[4].no_wd && t[10].shape[0] == 16 && t[10].shape[1] == 4 &&
	   t[11].shape[1] == 6,
	   "tied decoder/encoder_dp aliases; last LSTM is 4E x E; bias no_wd only on decoder");
	/* init ranges: LSTM U(+-1/sqrt(H)), emb U(+-0.1) including pad row */
	struct rng r;
	rng_seed(&r, 3, 0);
	lm_init(&lm, &r);
	float mx0 = 0, mx2 = 0, mxe = 0, pad = 0;
	for (size_t i = 0; i < 24 * 6; i++)
		mx0 = fmaxf(mx0, fabsf(lm.enc.p.rnn[0].w_hh[i]));
	for (size_t i = 0; i < 16 * 4; i++)
		mx2 = fmaxf(mx2, fabsf(lm.enc.p.rnn[2].w_hh[i]));
	for (size_t i = 0; i < 9 * 4; i++)
		mxe = fmaxf(mxe, fabsf(lm.enc.p.emb[i]));
	for (int e = 0; e < 4; e++)
		pad += fabsf(lm.enc.p.emb[4 + e]);
	ok(mx0 <= 1 / sqrtf(6) && mx0 > 0.6f / sqrtf(6) && mx2 <= 0.5f &&
	   mx2 > 0.3f && mxe <= 0.1f && pad > 0 && lm.dec_b[3] == 0,
	   "init: U(+-1/sqrt(H_l)) per layer, embedding U(+-0.1) incl. pad row, dec bias 0");
	lm_free(&lm);
}

/* ---- whole-model gradient check ---- */
enum { GV = 11, GE = 4, GH = 5, GB = 3, GT = 4 };
static uint32_t g_tok[GB * GT], g_y[GB * GT];
static float *g_h[3], *g_c[3];

static double
model_loss(struct lm *lm, uint64_t seed)
{
	struct rng r;
	struct lm_stats st;
	rng_seed(&r, seed, 9);  /* same masks every call */
	for (int l = 0; l < 3; l++) {
		size_t n = (size_t)GB * awd_layer_out(&lm->enc.cfg, l);
		memcpy(lm->enc.h[l], g_h[l], n * sizeof(float));
		memcpy(lm->enc.c[l], g_c[l], n * sizeof(float));
	}
	lm->enc.state_bs = GB;
	awd_zero_grad(&lm->enc);
	lm_train_step(lm, g_tok, g_y, GB, GT, &r, &st);
	return st.loss;
}

static void
gradcheck(float p, const char *what)
{
	/* pad -1: padding_idx deliberately is not the true derivative (no
	 * gradient through the lookup of row 1); the kernel test and the
	 * PyTorch parity check that part */
	struct awd_config c = { .vocab = GV, .emb = GE, .hidden = GH,
	                        .layers = 3, .pad = -1, .embed_p = p,
	                        .input_p = p, .hidden_p = p, .weight_p = p,
	                        .output_p = p };
	struct lm lm;
	struct rng r;
	rng_seed(&r, 5, 0);
	lm_create(&lm, &c, GB, GT);
	lm_init(&lm, &r);
	/* larger weights than init so every path matters */
	for (size_t i = 0; i < lm.enc.nparam + lm.enc.nextra; i++)
		lm.enc.param[i] = (2 * rng_float(&r) - 1) * 0.8f;
	for (int i = 0; i < GB * GT; i++)
		g_tok[i] = (uint32_t)rng_below(&r, GV), g_y[i] = (uint32_t)rng_below(&r, GV);
	for (int l = 0; l < 3; l++) {
		size_t n = (size_t)GB * awd_layer_out(&c, l);
		g_h[l] = xmalloc(n * sizeof(float)), g_c[l] = xmalloc(n * sizeof(float));
		for (size_t i = 0; i < n; i++)
			g_h[l][i] = 2 * rng_float(&r) - 1, g_c[l][i] = 2 * rng_float(&r) - 1;
	}
	size_t n = lm.enc.nparam + lm.enc.nextra;
	model_loss(&lm, 77);
	float *g = xmalloc(n * sizeof(float));
	memcpy(g, lm.enc.grad, n * sizeof(float));
	double *fd = xmalloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		float s = lm.enc.param[i], e = 5e-3f;
		lm.enc.param[i] = s + e;
		double a = model_loss(&lm, 77);
		lm.enc.param[i] = s - e;
		double b = model_loss(&lm, 77);
		lm.enc.param[i] = s;
		fd[i] = (a - b) / (2.0 * e);
	}
	struct awd_tensor t[32];
	int k = lm_tensors(&lm, t, 32);
	for (int j = 0; j < k; j++) {
		if (t[j].alias)
			continue;
		size_t off = t[j].w - lm.enc.param;
		double d = 0, nn = 0;
		for (size_t i = 0; i < t[j].n; i++) {
			d += (fd[off + i] - g[off + i]) * (fd[off + i] - g[off + i]);
			nn += fd[off + i] * fd[off + i];
		}
		double rel = sqrt(d) / (sqrt(nn) + 1e-12);

		ok(rel < 2e-2 && nn > 0, "%s: d %s == central difference (rel %.2g)",
		   what, t[j].name, rel);
	}
	free(g), free(fd);
	for (int l = 0; l < 3; l++)
		free(g_h[l]), free(g_c[l]);
	lm_free(&lm);
}

/* grad_ready (awd.h): each LSTM layer is announced once backward is done
 * with it, top-down, then -1 (lm.c: the tied embedding + decoder bias);
 * what the layer's gradients hold at the call is what they end with */
static struct { struct lm *lm; int order[8], n; float *snap[8]; } gr;

static void
on_ready(void *ctx, int layer)
{
	(void)ctx;
	struct awd *m = &gr.lm->enc;
	size_t n = 0;
	for (int i = 0; i < m->ntensor; i++)
		if (m->tensor[i].layer == layer && !m->tensor[i].alias)
			n += m->tensor[i].n;
	float *s = gr.snap[gr.n] = xmalloc((n + 1) * sizeof *s);
	for (int i = 0; i < m->ntensor; i++)
		if (m->tensor[i].layer == layer && !m->tensor[i].alias) {
			memcpy(s, m->tensor[i].g, m->tensor[i].n * sizeof *s);
			s += m->tensor[i].n;
		}
	gr.order[gr.n++] = layer;
}

static int
ready_final(void)
{
	struct awd *m = &gr.lm->enc;
	int same = 1;
	for (int k = 0; k < gr.n; k++) {
		const float *s = gr.snap[k];
		for (int i = 0; i < m->ntensor; i++)
			if (m->tensor[i].layer == gr.order[k] &&
			    !m->tensor[i].alias) {
				same &= !memcmp(s, m->tensor[i].g,
				                m->tensor[i].n * sizeof *s);
				s += m->tensor[i].n;
			}
		free(gr.snap[k]);
	}
	return same;
}

static void
test_grad_ready(void)
{
	struct awd_config c = { .vocab = GV, .emb = GE, .hidden = GH,
	                        .layers = 3, .pad = 1, .embed_p = 0.1f,
	                        .input_p = 0.2f, .hidden_p = 0.2f,
	                        .weight_p = 0.3f, .output_p = 0.1f };
	struct lm lm;
	struct rng r;
	rng_seed(&r, 9, 0);
	lm_create(&lm, &c, GB, GT);
	lm_init(&lm, &r);
	for (int i = 0; i < GB * GT; i++)
		g_tok[i] = (uint32_t)rng_below(&r, GV), g_y[i] = (uint32_t)rng_below(&r, GV);
	struct lm_stats st;
	memset(&gr, 0, sizeof gr);
	gr.lm = &lm;
	lm.enc.grad_ready = on_ready;
	awd_reset(&lm.enc);
	awd_zero_grad(&lm.enc);
	lm_train_step(&lm, g_tok, g_y, GB, GT, &r, &st);
	ok(gr.n == 4 && gr.order[0] == 2 && gr.order[1] == 1 &&
	   gr.order[2] == 0 && gr.order[3] == -1,
	   "grad_ready: LSTM layers 2, 1, 0, then the embedding (-1)");
	ok(ready_final(), "grad_ready: each layer's gradients were final");
	/* rnns[0] frozen: not announced; the embedding still is, last */
	gr.n = 0;
	lm.enc.grad_rnn[0] = 0;
	awd_zero_grad(&lm.enc);
	lm_train_step(&lm, g_tok, g_y, GB, GT, &r, &st);
	ok(gr.n == 3 && gr.order[0] == 2 && gr.order[1] == 1 &&
	   gr.order[2] == -1, "grad_ready: a frozen layer is not announced");
	ok(ready_final(), "... and the others were final");
	lm_free(&lm);
}

static void
test_frozen(void)
{
	/* frozen LSTMs: backward leaves their grads at 0, embedding still
	 * gets the same gradient as the unfrozen run */
	struct awd_config c = { .vocab = GV, .emb = GE, .hidden = GH,
	                        .layers = 3, .pad = 1 };
	struct lm lm;
	struct rng r;
	rng_seed(&r, 6, 0);
	lm_create(&lm, &c, GB, GT);
	lm_init(&lm, &r);
	for (int i = 0; i < GB * GT; i++)
		g_tok[i] = (uint32_t)rng_below(&r, GV), g_y[i] = (uint32_t)rng_below(&r, GV);
	struct lm_stats st;
	size_t ne = (size_t)GV * GE;
	awd_reset(&lm.enc);
	awd_zero_grad(&lm.enc);
	lm_train_step(&lm, g_tok, g_y, GB, GT, &r, &st);
	float *ge = xmalloc(ne * sizeof(float));
	memcpy(ge, lm.enc.g.emb, ne * sizeof(float));
	for (int l = 0; l < 3; l++)
		lm.enc.grad_rnn[l] = 0;
	awd_reset(&lm.enc);
	awd_zero_grad(&lm.enc);
	lm_train_step(&lm, g_tok, g_y, GB, GT, &r, &st);
	int zero = 1;
	for (size_t i = ne; i < lm.enc.nparam; i++)
		zero &= lm.enc.grad[i] == 0;
	ok(zero && !memcmp(ge, lm.enc.g.emb, ne * sizeof(float)),
	   "frozen LSTMs: no LSTM grads, same embedding grad");
	free(ge);
	lm_free(&lm);
}

static void
test_determinism(void)
{
	struct awd_config c;
	awd_config_lm(&c, 300, 1.0f);
	c.emb = 16, c.hidden = 24;
	struct lm a, b;
	struct rng r1, r2;
	struct lm_stats s1, s2;
	lm_create(&a, &c, 8, 10);
	lm_create(&b, &c, 8, 10);
	rng_seed(&r1, 11, 0), rng_seed(&r2, 11, 0);
	lm_init(&a, &r1), lm_init(&b, &r2);
	uint32_t tok[80], y[80];
	for (int i = 0; i < 80; i++)
		tok[i] = (uint32_t)(i * 37 % 300), y[i] = (tok[i] * 7) % 300;
	for (int k = 0; k < 2; k++) {
		awd_zero_grad(&a.enc), awd_zero_grad(&b.enc);
		lm_train_step(&a, tok, y, 8, 10, &r1, &s1);
		lm_train_step(&b, tok, y, 8, 10, &r2, &s2);
	}
	ok(s1.loss == s2.loss && !memcmp(a.enc.grad, b.enc.grad,
	   (a.enc.nparam + a.enc.nextra) * sizeof(float)),
	   "same seed, same threads (2): bitwise identical loss and grads");
	/* eval CE of a fresh model is near ln V */
	lm_eval_step(&a, tok, y, 8, 10, &s1);
	ok(fabs(s1.ce - log(300)) < 0.05 && s1.n == 80,
	   "eval CE of a fresh model ~ ln V (%.4f vs %.4f)", s1.ce, log(300));
	lm_free(&a), lm_free(&b);
}

/* ---- fixtures for tests/ref/awd_ref.py ---- */
static void
wr(const char *dir, const char *name, const void *p, size_t bytes)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, bytes, f) != bytes || fclose(f))
		die("%s:", path);
}

static void
dump(const char *dir, float p, int B, int T)
{
	enum { V = 37, E = 6, H = 9, L = 3 };
	struct awd_config c = { .vocab = V, .emb = E, .hidden = H, .layers = L,
	                        .pad = 1, .embed_p = p, .input_p = p,
	                        .hidden_p = p, .weight_p = p, .output_p = p };
	struct lm lm;
	struct rng r;
	struct lm_stats st;
	mkdir(dir, 0777);
	rng_seed(&r, 21, 0);
	lm_create(&lm, &c, B, T);
	lm_init(&lm, &r);
	for (int v = 0; v < V; v++)
		lm.dec_b[v] = (2 * rng_float(&r) - 1) * 0.1f;
	uint32_t tok[B * T], y[B * T];
	for (int i = 0; i < B * T; i++)
		tok[i] = (uint32_t)rng_below(&r, V), y[i] = (uint32_t)rng_below(&r, V);
	tok[B * T > 3 ? 3 : 0] = 1;
	/* warm-up batch so the initial state is not zero */
	lm_train_step(&lm, tok, y, B, T, &r, &st);
	for (int i = 0; i < B * T; i++)
		tok[i] = (uint32_t)rng_below(&r, V), y[i] = (uint32_t)rng_below(&r, V);
	tok[B * T > 5 ? 5 : 0] = 1;
	char nm[64];
	for (int l = 0; l < L; l++) {
		size_t n = (size_t)B * awd_layer_out(&c, l) * sizeof(float);
		snprintf(nm, sizeof nm, "h0_%d.bin", l), wr(dir, nm, lm.enc.h[l], n);
		snprintf(nm, sizeof nm, "c0_%d.bin", l), wr(dir, nm, lm.enc.c[l], n);
	}
	wr(dir, "params.bin", lm.enc.param, (lm.enc.nparam + V) * sizeof(float));
	awd_zero_grad(&lm.enc);
	lm_train_step(&lm, tok, y, B, T, &r, &st);
	FILE *f;
	char path[4096];
	snprintf(path, sizeof path, "%s/cfg.txt", dir);
	if (!(f = fopen(path, "w")))
		die("%s:", path);
	fprintf(f, "%d %d %d %d %d %d %d %g %g\n%.17g %.17g %.17g %.17g %ld\n",
	        V, E, H, L, B, T, c.pad, lm.alpha, lm.beta, st.ce, st.ar, st.tar,
	        st.loss, st.hits);
	fclose(f);
	wr(dir, "tok.bin", tok, sizeof tok);
	wr(dir, "y.bin", y, sizeof y);
	wr(dir, "grads.bin", lm.enc.grad, (lm.enc.nparam + V) * sizeof(float));
	wr(dir, "out.bin", lm.enc.out, (size_t)B * T * E * sizeof(float));
	wr(dir, "emb_mask.bin", lm.enc.emb_mask, V * sizeof(float));
	wr(dir, "in_mask.bin", lm.enc.in_mask, (size_t)B * E * sizeof(float));
	wr(dir, "out_mask.bin", lm.out_mask, (size_t)B * E * sizeof(float));
	for (int l = 0; l < L; l++) {
		size_t Hl = awd_layer_out(&c, l);
		snprintf(nm, sizeof nm, "w_mask_%d.bin", l);
		wr(dir, nm, lm.enc.w_mask[l], 4 * Hl * Hl * sizeof(float));
		if (l < L - 1) {
			snprintf(nm, sizeof nm, "hid_mask_%d.bin", l);
			wr(dir, nm, lm.enc.hid_mask[l], B * Hl * sizeof(float));
		}
		snprintf(nm, sizeof nm, "h1_%d.bin", l);
		wr(dir, nm, lm.enc.h[l], B * Hl * sizeof(float));
		snprintf(nm, sizeof nm, "c1_%d.bin", l);
		wr(dir, nm, lm.enc.c[l], B * Hl * sizeof(float));
	}
	lm_free(&lm);
}

/* The masks of a training forward are philox(key, site, index) with
 * ONE key drawn from the rng (kernels/dropout.h): recompute each from
 * the documented definition. */
static void
test_mask_keys(void)
{
	struct awd_config c;
	awd_config_lm(&c, 50, 1.0f);
	c.emb = 6, c.hidden = 7;
	struct lm lm;
	lm_create(&lm, &c, 4, 5);
	struct rng r, r0;
	rng_seed(&r, 77, 3);
	lm_init(&lm, &r);
	uint32_t tok[20], y[20];
	for (int i = 0; i < 20; i++) {
		tok[i] = (uint32_t)rng_below(&r, 50);
		y[i] = (uint32_t)rng_below(&r, 50);
	}
	r0 = r;
	struct lm_stats st;
	lm_train_step(&lm, tok, y, 4, 5, &r, &st);
	uint64_t key = rng_next(&r0);
	ok(lm.enc.drop_key == key && !memcmp(&r, &r0, sizeof r),
	   "a training step draws one key from its rng, nothing else");
	struct kern *k = lm.enc.k;
	static float m[4 * 7 * 7];
	int bad = 0;
	const struct { float *got; size_t n; float p; uint32_t id; } site[] = {
		{ lm.enc.emb_mask, 50, c.embed_p, DROP_EMB },
		{ lm.enc.in_mask, 4 * 6, c.input_p, DROP_INPUT },
		{ lm.out_mask, 4 * 6, c.output_p, DROP_OUTPUT },
		{ lm.enc.hid_mask[0], 4 * 7, c.hidden_p, DROP_HIDDEN + 0 },
		{ lm.enc.hid_mask[1], 4 * 7, c.hidden_p, DROP_HIDDEN + 1 },
		{ lm.enc.w_mask[0], 4 * 7 * 7, c.weight_p, DROP_WEIGHT + 0 },
		{ lm.enc.w_mask[2], 4 * 6 * 6, c.weight_p, DROP_WEIGHT + 2 },
	};
	for (size_t i = 0; i < sizeof site / sizeof *site; i++) {
		dropout_mask_key(k, m, site[i].n, site[i].p, key, site[i].id);
		bad += memcmp(m, site[i].got, site[i].n * sizeof *m) != 0;
	}
	ok(!bad, "every mask == dropout_mask_key(key, its site's id) (%d of "
	   "%zu differ)", bad, sizeof site / sizeof *site);
	lm_free(&lm);
}

int
main(int argc, char **argv)
{
	argv0 = "awd-test";
	kern_set_threads(1);
	if (argc == 3 && !strcmp(argv[1], "--dump")) {
		char d[4096];
		mkdir(argv[2], 0777);
		snprintf(d, sizeof d, "%s/off", argv[2]), dump(d, 0.0f, 5, 7);
		snprintf(d, sizeof d, "%s/drop", argv[2]), dump(d, 0.3f, 5, 7);
		snprintf(d, sizeof d, "%s/bs1", argv[2]), dump(d, 0.3f, 1, 7);
		/* lmbatch's last batch of an epoch can be 1 token long */
		snprintf(d, sizeof d, "%s/len1", argv[2]), dump(d, 0.3f, 4, 1);
		return 0;
	}
	test_shapes();
	test_count();
	gradcheck(0.0f, "no dropout");
	gradcheck(0.3f, "dropout 0.3, masks replayed");
	test_frozen();
	test_grad_ready();
	test_mask_keys();
	kern_set_threads(2);
	test_determinism();
	return done_testing();
}
