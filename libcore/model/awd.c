/* awd.c: the AWD-LSTM encoder (spec §5.2).  Reads top to bottom like
 * fastai's AWD_LSTM.forward; the maths is in kernels/. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/awd.h"
#include "kernels.h"
#include "core/util.h"

/* Per-layer caches, all time-major. */
struct awd_rnn_act {
	int in, hid;
	float *x;               /* (T,B,I) input after its dropout */
	float *act;             /* (T,B,4H) xg, then gate activations */
	float *y;               /* (T,B,H) h_t (raw, before hidden_dp) */
	float *c, *tc;          /* (T,B,H) c_t, tanh(c_t) */
	float *h0, *c0;         /* (B,H) state when the chunk started */
	const float *w_eff;     /* weight_hh used: w_used (train) or raw */
};

void
awd_config_lm(struct awd_config *c, int vocab, float drop_mult)
{
	*c = (struct awd_config){ .vocab = vocab, .emb = 400, .hidden = 1152,
		.layers = 3, .pad = 1, .embed_p = 0.02f * drop_mult,
		.input_p = 0.25f * drop_mult, .hidden_p = 0.15f * drop_mult,
		.weight_p = 0.2f * drop_mult, .output_p = 0.1f * drop_mult,
		.drop_mult = drop_mult };
}

void
awd_config_clas(struct awd_config *c, int vocab, float drop_mult)
{
	*c = (struct awd_config){ .vocab = vocab, .emb = 400, .hidden = 1152,
		.layers = 3, .pad = 1, .embed_p = 0.05f * drop_mult,
		.input_p = 0.4f * drop_mult, .hidden_p = 0.3f * drop_mult,
		.weight_p = 0.5f * drop_mult, .output_p = 0.4f * drop_mult,
		.drop_mult = drop_mult };
}

int
awd_layer_in(const struct awd_config *c, int l)
{
	return l == 0 ? c->emb : c->hidden;
}

int
awd_layer_out(const struct awd_config *c, int l)
{
	return l == c->layers - 1 ? c->emb : c->hidden;
}

size_t
awd_param_count(const struct awd_config *c)
{
	size_t n = (size_t)c->vocab * c->emb;
	for (int l = 0; l < c->layers; l++) {
		size_t I = awd_layer_in(c, l), H = awd_layer_out(c, l);
		n += 4 * H * H + 4 * H * I + 8 * H;
	}
	return n;
}

/* Arena: a sizing pass (base NULL) then the real one. */
struct arena { char *base; size_t off; };

static float *
take(struct arena *a, size_t nfloat)
{
	size_t at = (a->off + 63) & ~(size_t)63;
	a->off = at + nfloat * sizeof(float);
	return a->base ? (float *)(a->base + at) : NULL;
}

static void
add_tensor(struct awd *m, const char *name, float *w, float *g, int ndim,
           long d0, long d1, int layer, int alias)
{
	struct awd_tensor *t = &m->tensor[m->ntensor++];
	snprintf(t->name, sizeof t->name, "%s", name);
	t->w = w, t->g = g, t->ndim = ndim;
	t->shape[0] = d0, t->shape[1] = ndim > 1 ? d1 : 0;
	t->n = (size_t)d0 * (ndim > 1 ? d1 : 1);
	t->layer = layer, t->alias = alias;
}

static void
layout(struct awd *m, struct arena *a)
{
	const struct awd_config *c = &m->cfg;
	int L = c->layers, B = m->maxB, T = m->maxT, E = c->emb;
	size_t V = c->vocab, TB = (size_t)T * B;
	int Hmax = E > c->hidden ? E : c->hidden;

	/* parameters, fastai state-dict order, then the head's extra */
	m->param = take(a, m->nparam + m->nextra);
	m->grad = take(a, m->nparam + m->nextra);
	/* the per-layer views are host metadata (m->act, awd_create): only
	 * the tensors they point to live in device memory */
	struct awd_rnn_act *act = m->act;
	if (a->base) {
		float *p = m->param, *g = m->grad;
		m->p.emb = p, m->g.emb = g;
		p += V * E, g += V * E;
		for (int l = 0; l < L; l++) {
			size_t I = awd_layer_in(c, l), H = awd_layer_out(c, l);
			struct awd_rnn *rp = &m->p.rnn[l], *rg = &m->g.rnn[l];
			rp->w_hh = p, rg->w_hh = g, p += 4 * H * H, g += 4 * H * H;
			rp->w_ih = p, rg->w_ih = g, p += 4 * H * I, g += 4 * H * I;
			rp->b_ih = p, rg->b_ih = g, p += 4 * H, g += 4 * H;
			rp->b_hh = p, rg->b_hh = g, p += 4 * H, g += 4 * H;
		}
		m->xparam = m->param + m->nparam;
		m->xgrad = m->grad + m->nparam;
	}
	float *emb_mask = take(a, V), *in_mask = take(a, (size_t)B * E);
	if (a->base)
		m->emb_mask = emb_mask, m->in_mask = in_mask;
	for (int l = 0; l < L; l++) {
		size_t I = awd_layer_in(c, l), H = awd_layer_out(c, l);
		struct awd_rnn_act r = { .in = (int)I, .hid = (int)H };
		r.x = take(a, TB * I);
		r.act = take(a, TB * 4 * H);
		r.y = take(a, TB * H);
		r.c = take(a, TB * H);
		r.tc = take(a, TB * H);
		r.h0 = take(a, (size_t)B * H);
		r.c0 = take(a, (size_t)B * H);
		float *h = take(a, (size_t)B * H), *cs = take(a, (size_t)B * H);
		float *hm = l < L - 1 ? take(a, (size_t)B * H) : NULL;
		float *wm = take(a, 4 * H * H), *wu = take(a, 4 * H * H);
		if (a->base) {
			act[l] = r;
			m->h[l] = h, m->c[l] = cs, m->hid_mask[l] = hm;
			m->w_mask[l] = wm, m->w_used[l] = wu;
		}
	}
	float *out = take(a, TB * E);
	uint32_t *tok = (uint32_t *)take(a, TB);        /* (B,T) ids */
	/* backward scratch: dpre (T,B,4H), two (T,B,Hmax) buffers, dc (B,H),
	 * dW_hh of the weight used (4H,H) */
	size_t ns = TB * 4 * Hmax + 2 * TB * Hmax + (size_t)B * Hmax +
	            4 * (size_t)Hmax * Hmax;
	float *scr = take(a, ns);
	size_t np = 0;
	for (int l = 0; l < L; l++) {
		size_t k = lstm_pack_size(awd_layer_out(c, l));
		np = k > np ? k : np;
	}
	float *wpk = take(a, np);
	if (a->base)
		m->out = out, m->scratch = scr, m->wpack = wpk, m->tok = tok;
}

void
awd_create(struct awd *m, const struct awd_config *cfg, int maxB, int maxT,
           size_t extra)
{
	memset(m, 0, sizeof *m);
	m->k = kern_default();
	if (cfg->layers < 1 || cfg->layers > AWD_MAX_LAYERS || cfg->vocab < 1 ||
	    cfg->emb < 1 || cfg->hidden < 1 || maxB < 1 || maxT < 1)
		die("awd: bad model size (layers 1..%d, sizes >= 1)",
		    AWD_MAX_LAYERS);
	m->cfg = *cfg, m->maxB = maxB, m->maxT = maxT;
	m->row0 = 0, m->row_step = 1;
	m->nparam = awd_param_count(cfg), m->nextra = extra;
	struct arena a = { NULL, 0 };
	layout(m, &a);
	size_t bytes = (a.off + 63) & ~(size_t)63;
	/* On the CPU, pages cost nothing until first touched: the
	 * activations are sized for (maxB, maxT) and the gradients for
	 * training, but an eval run of one short text touches only its own
	 * rows (no up-front memset of the whole arena). */
	void *base = kern_alloc(m->k, bytes);
	m->act = xcalloc((size_t)cfg->layers, sizeof *m->act);
	a = (struct arena){ base, 0 };
	layout(m, &a);
	m->arena = base, m->arena_bytes = bytes;

	const struct awd_config *c = &m->cfg;
	char nm[48];
	add_tensor(m, "encoder.weight", m->p.emb, m->g.emb, 2, c->vocab,
	           c->emb, -1, 0);
	add_tensor(m, "encoder_dp.emb.weight", m->p.emb, m->g.emb, 2,
	           c->vocab, c->emb, -1, 1);
	for (int l = 0; l < c->layers; l++) {
		long I = awd_layer_in(c, l), H = awd_layer_out(c, l);
		struct awd_rnn *rp = &m->p.rnn[l], *rg = &m->g.rnn[l];
		snprintf(nm, sizeof nm, "rnns.%d.weight_hh_l0_raw", l);
		add_tensor(m, nm, rp->w_hh, rg->w_hh, 2, 4 * H, H, l, 0);
		snprintf(nm, sizeof nm, "rnns.%d.module.weight_ih_l0", l);
		add_tensor(m, nm, rp->w_ih, rg->w_ih, 2, 4 * H, I, l, 0);
		snprintf(nm, sizeof nm, "rnns.%d.module.bias_ih_l0", l);
		add_tensor(m, nm, rp->b_ih, rg->b_ih, 1, 4 * H, 0, l, 0);
		snprintf(nm, sizeof nm, "rnns.%d.module.bias_hh_l0", l);
		add_tensor(m, nm, rp->b_hh, rg->b_hh, 1, 4 * H, 0, l, 0);
	}
	m->grad_emb = 1;
	for (int l = 0; l < c->layers; l++)
		m->grad_rnn[l] = 1;
	m->state_bs = 0;
}

void
awd_free(struct awd *m)
{
	kern_free(m->k, m->arena);
	free(m->act);
	memset(m, 0, sizeof *m);
}

void
awd_borrow(struct awd *m, struct awd_tensor *t, float *w)
{
	float *old = t->w;
	if (m->p.emb == old)
		m->p.emb = w;
	for (int l = 0; l < m->cfg.layers; l++) {
		struct awd_rnn *r = &m->p.rnn[l];
		if (r->w_hh == old)
			r->w_hh = w;
		if (r->w_ih == old)
			r->w_ih = w;
		if (r->b_ih == old)
			r->b_ih = w;
		if (r->b_hh == old)
			r->b_hh = w;
	}
	for (int i = 0; i < m->ntensor; i++)
		if (m->tensor[i].w == old)
			m->tensor[i].w = w;
}

struct awd_tensor *
awd_tensor(struct awd *m, const char *name)
{
	for (int i = 0; i < m->ntensor; i++)
		if (!strcmp(m->tensor[i].name, name))
			return &m->tensor[i];
	return NULL;
}

/* w (device) = U(-k, k) from r, drawn on the host in pieces and
 * uploaded (init only: not a training step) */
static void
uniform(struct kern *kc, float *w, size_t n, float k, struct rng *r)
{
	float buf[4096];
	for (size_t at = 0; at < n; at += 4096) {
		size_t len = n - at < 4096 ? n - at : 4096;
		for (size_t i = 0; i < len; i++)
			buf[i] = (2.0f * rng_float(r) - 1.0f) * k;
		kern_upload(kc, w + at, buf, len * sizeof *buf);
	}
}

void
awd_init(struct awd *m, struct rng *r)
{
	const struct awd_config *c = &m->cfg;
	/* the pad row too: fastai overwrites the embedding's zero row */
	uniform(m->k, m->p.emb, (size_t)c->vocab * c->emb, 0.1f, r);
	for (int l = 0; l < c->layers; l++) {
		size_t I = awd_layer_in(c, l), H = awd_layer_out(c, l);
		float k = 1.0f / sqrtf((float)H);
		struct awd_rnn *p = &m->p.rnn[l];
		uniform(m->k, p->w_ih, 4 * H * I, k, r);
		uniform(m->k, p->w_hh, 4 * H * H, k, r);
		uniform(m->k, p->b_ih, 4 * H, k, r);
		uniform(m->k, p->b_hh, 4 * H, k, r);
	}
	awd_reset(m);
}

void
awd_reset(struct awd *m)
{
	for (int l = 0; l < m->cfg.layers; l++) {
		size_t n = (size_t)m->maxB * awd_layer_out(&m->cfg, l);
		kern_zero(m->k, m->h[l], n * sizeof(float));
		kern_zero(m->k, m->c[l], n * sizeof(float));
	}
}

void
awd_resize(struct awd *m, int B)
{
	if (B > m->maxB)
		die("awd: batch of %d rows, model sized for %d", B, m->maxB);
	/* rows are contiguous per b: dropping = forgetting the tail, adding
	 * = zeroing the new rows */
	if (B > m->state_bs)
		for (int l = 0; l < m->cfg.layers; l++) {
			size_t H = awd_layer_out(&m->cfg, l);
			size_t off = (size_t)m->state_bs * H;
			size_t n = (size_t)(B - m->state_bs) * H;
			kern_zero(m->k, m->h[l] + off, n * sizeof(float));
			kern_zero(m->k, m->c[l] + off, n * sizeof(float));
		}
	m->state_bs = B;
}

void
awd_zero_grad(struct awd *m)
{
	kern_zero(m->k, m->grad, (m->nparam + m->nextra) * sizeof(float));
}

/* xg(T*B,4H) = x W_ih^T + b_ih + b_hh */
static void
input_proj(struct kern *k, const struct awd_rnn *p,
           const struct awd_rnn_act *r, int TB)
{
	int H = r->hid, G = 4 * H;
	ops_bias_rows(k, r->act, p->b_ih, p->b_hh, TB, G);
	blas_sgemm(k, 0, 1, TB, G, r->in, 1.0f, r->x, r->in, p->w_ih, r->in,
	           1.0f, r->act, G);
}

void
awd_forward_skip(int train, struct rng *r)
{
	if (train)
		(void)dropout_key(r);
}

float *
awd_forward(struct awd *m, const uint32_t *tok, int B, int T, int train,
            struct rng *r)
{
	const struct awd_config *c = &m->cfg;
	int L = c->layers, E = c->emb;
	if (B < 1 || B > m->maxB || T < 1 || T > m->maxT)
		die("awd: batch %dx%d, model sized for at most %dx%d", B, T,
		    m->maxB, m->maxT);
	for (size_t i = 0; i < (size_t)B * T; i++)
		if (tok[i] >= (uint32_t)c->vocab)
			die("awd: token id %u outside the vocab (%d)", tok[i],
			    c->vocab);
	if (B != m->state_bs)
		awd_resize(m, B);
	m->B = B, m->T = T, m->train = train;
	size_t TB = (size_t)T * B;
	struct kern *k = m->k;
	kern_upload(k, m->tok, tok, TB * sizeof *tok);

	/* masks: philox(key, site, index), one key drawn per forward */
	uint64_t key = m->drop_key = train ? dropout_key(r) : 0;
	if (train) {
		dropout_mask_key(k, m->emb_mask, c->vocab, c->embed_p, key,
		                 DROP_EMB);
		dropout_mask_rows(k, m->in_mask, B, E, c->input_p, key,
		                  DROP_INPUT, m->row0, m->row_step);
	} else {
		kern_fill(k, m->emb_mask, c->vocab, 1.0f);
		kern_fill(k, m->in_mask, (size_t)B * E, 1.0f);
	}

	/* encoder_dp + encoder, then input_dp; x of layer 0 is (T,B,E) */
	struct awd_rnn_act *a0 = &m->act[0];
	embed_fwd(k, m->p.emb, train ? m->emb_mask : NULL, m->tok, a0->x, B,
	          T, E);
	if (train)
		dropout_apply_rows(k, a0->x, m->in_mask, T, (long)B * E);

	for (int l = 0; l < L; l++) {
		struct awd_rnn_act *a = &m->act[l];
		const struct awd_rnn *p = &m->p.rnn[l];
		size_t H = a->hid, BH = (size_t)B * H;
		/* WeightDropout: the weight used this call */
		if (train) {
			dropout_mask_key(k, m->w_mask[l], 4 * H * H, c->weight_p,
			                 key, DROP_WEIGHT + l);
			dropout_apply(k, m->w_used[l], p->w_hh, m->w_mask[l],
			              4 * H * H);
			a->w_eff = m->w_used[l];
		} else {
			a->w_eff = p->w_hh;
		}
		kern_copy(k, a->h0, m->h[l], BH * sizeof(float));
		kern_copy(k, a->c0, m->c[l], BH * sizeof(float));
		input_proj(k, p, a, (int)TB);
		lstm_fwd_pk(k, a->act, a->w_eff, a->h0, a->c0, a->y, a->c, a->tc,
		            T, B, (int)H, m->wpack);
		/* new state, detached */
		kern_copy(k, m->h[l], a->y + (T - 1) * BH, BH * sizeof(float));
		kern_copy(k, m->c[l], a->c + (T - 1) * BH, BH * sizeof(float));
		if (l < L - 1) {
			/* hidden_dps[l] feeds the next layer: x(T,BH) =
			 * y(T,BH) * mask(BH) */
			struct awd_rnn_act *n = &m->act[l + 1];
			if (train) {
				dropout_mask_rows(k, m->hid_mask[l], B, (long)H,
				                  c->hidden_p, key, DROP_HIDDEN + l,
				                  m->row0, m->row_step);
				dropout_apply_bt(k, n->x, a->y, m->hid_mask[l], 1,
				                 T, (int)BH);
			} else {
				kern_fill(k, m->hid_mask[l], BH, 1.0f);
				kern_copy(k, n->x, a->y, TB * H * sizeof(float));
			}
		}
	}
	/* (T,B,E) -> (B,T,E) */
	ops_tbe_to_bte(k, m->out, m->act[L - 1].y, T, B, E);
	return m->out;
}

void
awd_backward(struct awd *m, const float *dout)
{
	const struct awd_config *c = &m->cfg;
	int L = c->layers, E = c->emb, B = m->B, T = m->T;
	int Hmax = E > c->hidden ? E : c->hidden;
	size_t TB = (size_t)T * B;
	int lo = 0;
	if (!m->grad_emb) {
		lo = L;
		for (int l = L - 1; l >= 0; l--)
			if (m->grad_rnn[l])
				lo = l;
		if (lo == L)
			return;         /* everything frozen */
	}
	float *dpre = m->scratch;
	float *dy = dpre + TB * 4 * Hmax, *dx = dy + TB * Hmax;
	float *dc = dx + TB * Hmax, *dw = dc + (size_t)B * Hmax;

	/* (B,T,E) -> (T,B,E) */
	ops_bte_to_tbe(m->k, dy, dout, B, T, E);

	for (int l = L - 1; l >= lo; l--) {
		struct awd_rnn_act *a = &m->act[l];
		const struct awd_rnn *p = &m->p.rnn[l];
		struct awd_rnn *g = &m->g.rnn[l];
		int H = a->hid, I = a->in, G = 4 * H;
		lstm_bwd_pk(m->k, a->act, a->w_eff, a->c0, a->c, a->tc, dy,
		            dpre, dc, T, B, H, m->wpack);
		if (m->grad_rnn[l]) {
			/* dW_ih += dpre^T x */
			blas_sgemm(m->k, 1, 0, G, I, (int)TB, 1.0f, dpre, G,
			           a->x, I, 1.0f, g->w_ih, I);
			/* dW_used = sum_t dpre_t^T h_{t-1} (h_{-1} = h0) */
			blas_sgemm(m->k, 1, 0, G, H, B, 1.0f, dpre, G, a->h0, H,
			           0.0f, dw, H);
			blas_sgemm(m->k, 1, 0, G, H, (int)(TB - B), 1.0f,
			           dpre + (size_t)B * G, G, a->y, H, 1.0f, dw, H);
			/* WeightDropout: d raw = d used * mask */
			if (m->train)
				dropout_acc_mul(m->k, g->w_hh, dw, m->w_mask[l],
				                (size_t)G * H);
			else
				ops_axpy(m->k, g->w_hh, 1.0f, dw, (size_t)G * H);
			ops_colsum_acc(m->k, g->b_ih, dpre, (long)TB, G);
			ops_colsum_acc(m->k, g->b_hh, dpre, (long)TB, G);
			if (m->grad_ready)
				m->grad_ready(m->grad_ctx, l);
		}
		if (l == 0 && !m->grad_emb)
			break;
		if (l == lo && l > 0)
			break;
		/* dx(T*B,I) = dpre W_ih, through this layer's input dropout */
		blas_sgemm(m->k, 0, 0, (int)TB, I, G, 1.0f, dpre, G, p->w_ih, I,
		           0.0f, dx, I);
		if (l > 0) {
			if (m->train)
				dropout_apply_rows(m->k, dx, m->hid_mask[l - 1],
				                   T, (long)B * I);
			float *t = dy; dy = dx; dx = t;
		} else {
			if (m->train)
				dropout_apply_rows(m->k, dx, m->in_mask, T,
				                   (long)B * E);
			embed_bwd(m->k, m->g.emb, m->train ? m->emb_mask : NULL,
			          m->tok, dx, B, T, E, c->pad);
		}
	}
}
