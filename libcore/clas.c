/* clas.c: SentenceEncoder + PoolingLinearClassifier (see clas.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clas.h"
#include "clsbatch.h"
#include "kernels.h"
#include "optim.h"
#include "pth.h"
#include "util.h"
#include "vocab.h"

void
clas_config_default(struct clas_config *cc, const struct awd_config *ac,
                    int nclass, float alpha, float beta)
{
	cc->nclass = nclass;
	cc->nhid = CLAS_NHID;
	cc->bptt = CLAS_BPTT;
	cc->max_len = CLAS_MAX_LEN;
	cc->p0 = ac->output_p;
	cc->p1 = CLAS_P1;
	cc->drop0 = cc->drop1 = -1;
	cc->alpha = alpha;
	cc->beta = beta;
}

size_t
clas_head_count(int E, int nh, int nclass)
{
	size_t D3 = 3 * (size_t)E;
	return 2 * D3 + nh * D3 + 2 * (size_t)nh + (size_t)nclass * nh;
}

/* A bump allocator over one block: sizes first, then views. */
struct bump { char *base; size_t off; };

static void *
bump(struct bump *b, size_t bytes)
{
	size_t at = (b->off + 63) & ~(size_t)63;
	b->off = at + bytes;
	return b->base ? b->base + at : NULL;
}

static void
layout(struct clas *c, struct bump *b)
{
	const struct clas_config *cc = &c->cfg;
	size_t B = c->maxB, E = c->E, D3 = c->D3, nh = cc->nhid;
	size_t nchunk = cc->max_len / cc->bptt + 1, st = 0;
	for (int l = 0; l < c->enc.cfg.layers; l++)
		st += 2 * (size_t)awd_layer_out(&c->enc.cfg, l);

#define F(n) bump(b, (n) * sizeof(float))
	c->bn0_mean = F(D3), c->bn0_var = F(D3);
	c->bn1_mean = F(nh), c->bn1_var = F(nh);
	c->chunk = bump(b, nchunk * sizeof *c->chunk);
	float *states = F(nchunk * B * st);
	c->ctok = bump(b, B * cc->bptt * sizeof *c->ctok);
	c->cdout = F(B * cc->bptt * E);
	c->out = F(B * cc->max_len * E);
	c->dout = F(B * cc->max_len * E);
	c->mask = bump(b, B * cc->max_len);
	c->pooled = F(B * D3), c->xh0 = F(B * D3), c->m0 = F(B * D3);
	c->a0 = F(B * D3), c->mu0 = F(D3), c->rs0 = F(D3);
	c->h0 = F(B * nh), c->r0 = F(B * nh), c->xh1 = F(B * nh);
	c->m1 = F(B * nh), c->a1 = F(B * nh), c->mu1 = F(nh), c->rs1 = F(nh);
	c->argmax = bump(b, B * E * sizeof *c->argmax);
	c->last = bump(b, B * sizeof *c->last);
	c->logits = F(B * cc->nclass), c->dlogits = F(B * cc->nclass);
	c->d3 = F(B * D3), c->dh = F(B * nh);
	c->row_loss = bump(b, B * sizeof *c->row_loss);
	c->row_hit = bump(b, B * sizeof *c->row_hit);
	c->bstart = bump(b, B * sizeof *c->bstart);
	c->blen = bump(b, B * sizeof *c->blen);
#undef F
	if (b->base)
		for (size_t i = 0; i < nchunk; i++)
			c->chunk[i].state = states + i * B * st;
}

static void
head_views(struct clas_head *h, float *x, size_t D3, size_t nh, size_t nc)
{
	h->bn0_w = x, x += D3;
	h->bn0_b = x, x += D3;
	h->lin0_w = x, x += nh * D3;
	h->bn1_w = x, x += nh;
	h->bn1_b = x, x += nh;
	h->lin1_w = x, x += nc * nh;
}

void
clas_create(struct clas *c, const struct awd_config *ac,
            const struct clas_config *cc, int maxB)
{
	memset(c, 0, sizeof *c);
	if (cc->nclass < 2)
		die("classifier: need at least 2 classes, have %d", cc->nclass);
	if (cc->bptt < 1 || cc->max_len < cc->bptt || cc->nhid < 1)
		die("classifier: bad sizes (bptt %d, max_len %d)", cc->bptt,
		    cc->max_len);
	c->cfg = *cc;
	if (c->cfg.drop0 < 0)
		c->cfg.drop0 = cc->p0 > 0;
	if (c->cfg.drop1 < 0)
		c->cfg.drop1 = cc->p1 > 0;
	if ((!c->cfg.drop0 && cc->p0 > 0) || (!c->cfg.drop1 && cc->p1 > 0))
		die("classifier: a head dropout without its Dropout module");
	c->E = ac->emb, c->D3 = 3 * ac->emb, c->maxB = maxB;
	c->nhead = clas_head_count(c->E, cc->nhid, cc->nclass);
	awd_create(&c->enc, ac, maxB, cc->bptt, c->nhead);
	head_views(&c->p, c->enc.xparam, c->D3, cc->nhid, cc->nclass);
	head_views(&c->g, c->enc.xgrad, c->D3, cc->nhid, cc->nclass);
	struct bump b = { NULL, 0 };
	layout(c, &b);
	b.base = c->mem = xcalloc(1, b.off + 64);
	b.off = 0;
	layout(c, &b);
	c->grad_head = 1;
}

void
clas_free(struct clas *c)
{
	awd_free(&c->enc);
	free(c->mem);
	memset(c, 0, sizeof *c);
}

static void
uniform(float *w, size_t n, float k, struct rng *r)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (2.0f * rng_float(r) - 1.0f) * k;
}

void
clas_init_head(struct clas *c, struct rng *r)
{
	size_t D3 = c->D3, nh = c->cfg.nhid, nc = c->cfg.nclass;
	for (size_t i = 0; i < D3; i++)
		c->p.bn0_w[i] = 1, c->p.bn0_b[i] = 1e-3f,
		c->bn0_mean[i] = 0, c->bn0_var[i] = 1;
	for (size_t i = 0; i < nh; i++)
		c->p.bn1_w[i] = 1, c->p.bn1_b[i] = 1e-3f,
		c->bn1_mean[i] = 0, c->bn1_var[i] = 1;
	c->bn0_nbt = c->bn1_nbt = 0;
	uniform(c->p.lin0_w, nh * D3, 1.0f / sqrtf((float)D3), r);
	uniform(c->p.lin1_w, nc * nh, 1.0f / sqrtf((float)nh), r);
}

void
clas_init(struct clas *c, struct rng *r)
{
	awd_init(&c->enc, r);
	clas_init_head(c, r);
}

static int
enc_needs_grad(const struct awd *m)
{
	if (m->grad_emb)
		return 1;
	for (int l = 0; l < m->cfg.layers; l++)
		if (m->grad_rnn[l])
			return 1;
	return 0;
}

/* copy the live hidden state out of (save 1) or into (save 0) buf */
static void
state_copy(struct awd *m, float *buf, int rows, int save)
{
	for (int l = 0; l < m->cfg.layers; l++) {
		size_t n = (size_t)rows * awd_layer_out(&m->cfg, l);
		float *h = m->h[l], *cc = m->c[l];
		if (save) {
			memcpy(buf, h, n * sizeof *buf);
			memcpy(buf + n, cc, n * sizeof *buf);
		} else {
			memcpy(h, buf, n * sizeof *buf);
			memcpy(cc, buf + n, n * sizeof *buf);
		}
		buf += 2 * n;
	}
}

/* rows that take part in chunk [col, col+len): those whose text has
 * started.  Rows are sorted, so they are a prefix. */
static int
chunk_rows(const uint32_t *start, int B, int col, int len)
{
	int rb = 0;
	while (rb < B && start[rb] < (uint32_t)(col + len))
		rb++;
	return rb;
}

static void
chunk_tokens(uint32_t *dst, const uint32_t *tok, int T, int rows, int col,
             int len)
{
	for (int b = 0; b < rows; b++)
		memcpy(dst + (size_t)b * len, tok + (size_t)b * T + col,
		       len * sizeof *dst);
}

static void
head_forward(struct clas *c, int B, int train, struct rng *r)
{
	const struct clas_config *cc = &c->cfg;
	int D3 = c->D3, nh = cc->nhid, nc = cc->nclass;

	pool_concat_fwd(c->pooled, c->argmax, c->last, c->out, c->mask, B,
	                c->Tk, c->E, cc->bptt);
	/* LinBnDrop 0: BN(3E) -> Dropout(p0) -> Linear -> ReLU */
	if (train) {
		bn_train_fwd(c->a0, c->xh0, c->mu0, c->rs0, c->pooled, c->p.bn0_w,
		             c->p.bn0_b, c->bn0_mean, c->bn0_var, B, D3,
		             CLAS_BN_MOM, CLAS_BN_EPS);
		c->bn0_nbt++;
		dropout_mask(c->m0, (size_t)B * D3, cc->p0, r);
		dropout_apply(c->a0, c->a0, c->m0, (size_t)B * D3);
	} else {
		bn_eval_fwd(c->a0, c->xh0, c->rs0, c->pooled, c->p.bn0_w,
		            c->p.bn0_b, c->bn0_mean, c->bn0_var, B, D3,
		            CLAS_BN_EPS);
	}
	linnb_fwd(c->h0, c->a0, c->p.lin0_w, B, D3, nh);
	relu_fwd(c->r0, c->h0, (long)B * nh);
	/* LinBnDrop 1: BN(nh) -> Dropout(p1) -> Linear, no activation */
	if (train) {
		bn_train_fwd(c->a1, c->xh1, c->mu1, c->rs1, c->r0, c->p.bn1_w,
		             c->p.bn1_b, c->bn1_mean, c->bn1_var, B, nh,
		             CLAS_BN_MOM, CLAS_BN_EPS);
		c->bn1_nbt++;
		dropout_mask(c->m1, (size_t)B * nh, cc->p1, r);
		dropout_apply(c->a1, c->a1, c->m1, (size_t)B * nh);
	} else {
		bn_eval_fwd(c->a1, c->xh1, c->rs1, c->r0, c->p.bn1_w, c->p.bn1_b,
		            c->bn1_mean, c->bn1_var, B, nh, CLAS_BN_EPS);
	}
	linnb_fwd(c->logits, c->a1, c->p.lin1_w, B, nh, nc);
}

const float *
clas_forward(struct clas *c, const uint32_t *tok, int B, int T,
             const uint32_t *start, const uint32_t *len, int train,
             struct rng *r)
{
	const struct clas_config *cc = &c->cfg;
	struct awd *m = &c->enc;
	int bptt = cc->bptt, E = c->E;

	if (B < 1 || B > c->maxB || T < 1)
		die("classifier: batch of %d x %d, sized for %d rows", B, T,
		    c->maxB);
	if (train && B < 2)
		die("classifier: a training batch needs 2 rows or more "
		    "(BatchNorm statistics); use a larger batch size");
	for (int b = 0; b < B; b++)
		if (len[b] < 1 || start[b] + len[b] > (uint32_t)T ||
		    (b && start[b] < start[b - 1]))
			die("classifier: batch rows must be sorted by length and "
			    "padded in front (row %d: start %u, length %u, T %d)",
			    b, start[b], len[b], T);
	c->B = B, c->T = T, c->train = train;
	c->tok = tok, c->start = start, c->len = len;

	int first = 0;
	while (T - first > cc->max_len)
		first += bptt;
	c->Tk = T - first;
	int keep_state = train && enc_needs_grad(m);

	awd_reset(m);
	m->state_bs = 0;
	c->nchunk = 0;
	for (int col = 0; col < T; col += bptt) {
		int tl = T - col < bptt ? T - col : bptt;
		int rb = chunk_rows(start, B, col, tl), keep = col >= first;
		struct clas_chunk *ch = NULL;
		if (keep) {
			ch = &c->chunk[c->nchunk++];
			ch->col = col, ch->len = tl, ch->rows = rb;
			ch->state_bs = m->state_bs;
			if (keep_state) {
				ch->rng = *r;
				state_copy(m, ch->state, m->state_bs, 1);
			}
		}
		const float *o = NULL;
		if (rb > 0) {
			chunk_tokens(c->ctok, tok, T, rb, col, tl);
			o = awd_forward(m, c->ctok, rb, tl, train, r);
		}
		if (!keep)
			continue;
		for (int b = 0; b < B; b++) {
			float *dst = c->out + ((size_t)b * c->Tk + col - first) * E;
			if (b < rb)
				memcpy(dst, o + (size_t)b * tl * E,
				       (size_t)tl * E * sizeof *dst);
			else
				memset(dst, 0, (size_t)tl * E * sizeof *dst);
		}
	}
	for (int b = 0; b < B; b++)
		for (int t = 0; t < c->Tk; t++) {
			uint32_t col = first + t;
			c->mask[(size_t)b * c->Tk + t] =
				!(col >= start[b] && col < start[b] + len[b]);
		}
	head_forward(c, B, train, r);
	return c->logits;
}

static void
head_backward(struct clas *c, int B)
{
	const struct clas_config *cc = &c->cfg;
	int D3 = c->D3, nh = cc->nhid, nc = cc->nclass;
	int hg = c->grad_head;

	/* Linear 1 */
	linnb_bwd(c->dh, hg ? c->g.lin1_w : NULL, c->dlogits, c->a1,
	          c->p.lin1_w, B, nh, nc);
	dropout_apply(c->dh, c->dh, c->m1, (size_t)B * nh);
	/* BN 1 (train mode); its weight and bias always train (train_bn) */
	bn_train_bwd(c->dh, c->g.bn1_w, c->g.bn1_b, c->dh, c->xh1, c->rs1,
	             c->p.bn1_w, B, nh);
	relu_bwd(c->dh, c->dh, c->r0, (long)B * nh);
	/* Linear 0 */
	linnb_bwd(c->d3, hg ? c->g.lin0_w : NULL, c->dh, c->a0, c->p.lin0_w, B,
	          D3, nh);
	dropout_apply(c->d3, c->d3, c->m0, (size_t)B * D3);
	bn_train_bwd(c->d3, c->g.bn0_w, c->g.bn0_b, c->d3, c->xh0, c->rs0,
	             c->p.bn0_w, B, D3);
}

static void
encoder_backward(struct clas *c, struct rng *r)
{
	struct awd *m = &c->enc;
	int B = c->B, E = c->E;
	struct rng after = *r;

	pool_concat_bwd(c->dout, c->d3, c->argmax, c->last, c->mask, B, c->Tk,
	                E);
	size_t n = (size_t)B * c->Tk * E;
	c->ar = c->cfg.alpha ? ar_fwd_bwd(c->out, c->dout, n, c->cfg.alpha) : 0;
	c->tar = c->cfg.beta ?
	         tar_fwd_bwd(c->out, c->dout, B, c->Tk, E, c->cfg.beta) : 0;
	int first = c->T - c->Tk;
	/* last chunk first: the encoder still holds its forward caches */
	for (int k = c->nchunk - 1; k >= 0; k--) {
		struct clas_chunk *ch = &c->chunk[k];
		int rb = ch->rows, tl = ch->len;
		if (rb == 0)
			continue;
		if (k < c->nchunk - 1) {
			/* re-run from its saved state with its own masks */
			m->state_bs = ch->state_bs;
			state_copy(m, ch->state, ch->state_bs, 0);
			*r = ch->rng;
			chunk_tokens(c->ctok, c->tok, c->T, rb, ch->col, tl);
			awd_forward(m, c->ctok, rb, tl, 1, r);
		}
		for (int b = 0; b < rb; b++)
			memcpy(c->cdout + (size_t)b * tl * E,
			       c->dout + ((size_t)b * c->Tk + ch->col - first) * E,
			       (size_t)tl * E * sizeof *c->cdout);
		awd_backward(m, c->cdout);
	}
	*r = after;
}

double
clas_loss(struct clas *c, const uint32_t *y, int *hits, int grad,
          struct rng *r)
{
	int B = c->B, nc = c->cfg.nclass;
	for (int b = 0; b < B; b++)
		if (y[b] >= (uint32_t)nc)
			die("classifier: label %u outside the %d classes", y[b], nc);
	memcpy(c->dlogits, c->logits, (size_t)B * nc * sizeof *c->dlogits);
	ce_fwd_bwd(c->dlogits, y, c->row_loss, c->row_hit, B, nc,
	           grad ? 1.0f / B : 0.0f);
	double loss = 0;
	int h = 0;
	for (int b = 0; b < B; b++)
		loss += c->row_loss[b], h += c->row_hit[b];
	if (hits)
		*hits = h;
	c->ar = c->tar = 0;
	if (grad) {
		if (!c->train)
			die("classifier: backward needs a training forward");
		head_backward(c, B);
		if (enc_needs_grad(&c->enc))
			encoder_backward(c, r);
	}
	return loss / B;
}

void
clas_probs(const struct clas *c, int b, float *p)
{
	int nc = c->cfg.nclass;
	const float *z = c->logits + (size_t)b * nc;
	float mx = z[0];
	for (int k = 1; k < nc; k++)
		if (z[k] > mx)
			mx = z[k];
	double s = 0;
	for (int k = 0; k < nc; k++)
		s += exp((double)z[k] - mx);
	for (int k = 0; k < nc; k++)
		p[k] = (float)(exp((double)z[k] - mx) / s);
}

static int
head_tensor(struct awd_tensor *t, const char *name, float *w, float *g,
            int ndim, long d0, long d1, int layer, int no_wd)
{
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->w = w, t->g = g, t->ndim = ndim;
	t->shape[0] = d0, t->shape[1] = d1;
	t->n = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);
	t->layer = layer, t->no_wd = no_wd;
	return 1;
}

int
clas_tensors(struct clas *c, struct awd_tensor *t, int max)
{
	struct awd *m = &c->enc;
	int n = 0, L = m->cfg.layers, nh = c->cfg.nhid, nc = c->cfg.nclass;
	const char *lin0 = c->cfg.drop0 ? "1.layers.0.2.weight" :
	                                  "1.layers.0.1.weight";
	const char *lin1 = c->cfg.drop1 ? "1.layers.1.2.weight" :
	                                  "1.layers.1.1.weight";
	if (max < m->ntensor + 6)
		die("classifier: tensor table too small");
	for (int i = 0; i < m->ntensor; i++, n++) {
		t[n] = m->tensor[i];
		snprintf(t[n].name, sizeof t[n].name, "0.module.%s",
		         m->tensor[i].name);
	}
	n += head_tensor(&t[n], "1.layers.0.0.weight", c->p.bn0_w, c->g.bn0_w,
	                 1, c->D3, 0, L, 1);
	n += head_tensor(&t[n], "1.layers.0.0.bias", c->p.bn0_b, c->g.bn0_b, 1,
	                 c->D3, 0, L, 1);
	n += head_tensor(&t[n], lin0, c->p.lin0_w, c->g.lin0_w, 2, nh, c->D3, L,
	                 0);
	n += head_tensor(&t[n], "1.layers.1.0.weight", c->p.bn1_w, c->g.bn1_w,
	                 1, nh, 0, L, 1);
	n += head_tensor(&t[n], "1.layers.1.0.bias", c->p.bn1_b, c->g.bn1_b, 1,
	                 nh, 0, L, 1);
	n += head_tensor(&t[n], lin1, c->p.lin1_w, c->g.lin1_w, 2, nc, nh, L, 0);
	return n;
}

static void
pt_float(struct pth_tensor *t, const char *name, float *f, int ndim, long d0,
         long d1)
{
	memset(t, 0, sizeof *t);
	t->name = name, t->dtype = PTH_F32, t->f = f, t->ndim = ndim;
	t->shape[0] = d0, t->shape[1] = d1;
}

int
clas_state_dict(struct clas *c, struct pth_tensor *t, char (*names)[64],
                int max)
{
	struct awd_tensor at[AWD_MAX_TENSORS + 8];
	int na = clas_tensors(c, at, AWD_MAX_TENSORS + 8), n = 0;
	if (max < na + 6)
		die("classifier: state dict table too small");
	for (int i = 0; i < na; i++) {
		size_t nl = strnlen(at[i].name, sizeof at[i].name - 1);
		memcpy(names[n], at[i].name, nl);
		names[n][nl] = 0;
		pt_float(&t[n], names[n], at[i].w, at[i].ndim, at[i].shape[0],
		         at[i].shape[1]);
		n++;
		/* BN buffers follow their layer's bias */
		int bn = !strcmp(at[i].name, "1.layers.0.0.bias") ? 0 :
		         !strcmp(at[i].name, "1.layers.1.0.bias") ? 1 : -1;
		if (bn < 0)
			continue;
		float *mu = bn ? c->bn1_mean : c->bn0_mean;
		float *var = bn ? c->bn1_var : c->bn0_var;
		long C = bn ? c->cfg.nhid : c->D3;
		snprintf(names[n], 64, "1.layers.%d.0.running_mean", bn);
		pt_float(&t[n], names[n], mu, 1, C, 0);
		n++;
		snprintf(names[n], 64, "1.layers.%d.0.running_var", bn);
		pt_float(&t[n], names[n], var, 1, C, 0);
		n++;
		snprintf(names[n], 64, "1.layers.%d.0.num_batches_tracked", bn);
		memset(&t[n], 0, sizeof t[n]);
		t[n].name = names[n], t[n].dtype = PTH_I64, t[n].ndim = 0;
		t[n].l = bn ? &c->bn1_nbt : &c->bn0_nbt;
		n++;
	}
	return n;
}

const char *
clas_encoder_prefix(const struct pth *p)
{
	static const char *pre[] = { "", "0.", "0.module." };
	char k[64];
	for (int i = 0; i < 3; i++) {
		snprintf(k, sizeof k, "%sencoder.weight", pre[i]);
		if (pth_find(p, k))
			return pre[i];
	}
	return NULL;
}

int
clas_encoder_sizes(const struct pth *p, const char *prefix,
                   struct awd_config *ac)
{
	char k[96];
	snprintf(k, sizeof k, "%sencoder.weight", prefix);
	const struct pth_tensor *e = pth_find(p, k);
	if (!e)
		return 0;
	if (e->ndim != 2 || !e->numel)
		die("%s: %s is not a matrix: not an AWD-LSTM encoder", p->path, k);
	int L = 0;
	long H = 0;
	for (;; L++) {
		snprintf(k, sizeof k, "%srnns.%d.weight_hh_l0_raw", prefix, L);
		const struct pth_tensor *w = pth_find(p, k);
		if (!w)
			break;
		if (L == AWD_MAX_LAYERS)
			die("%s: more than %d LSTM layers", p->path, AWD_MAX_LAYERS);
		if (w->ndim != 2 || !w->numel || w->shape[0] != 4 * w->shape[1])
			die("%s: %s is not an LSTM weight (4H x H)", p->path, k);
		if (L == 0)
			H = w->shape[1];
	}
	if (L < 1)
		die("%s: no %srnns.0.weight_hh_l0_raw: not an AWD-LSTM encoder",
		    p->path, prefix);
	awd_config_clas(ac, (int)e->shape[0], 1.0f);
	ac->emb = (int)e->shape[1];
	ac->layers = L;
	ac->hidden = L > 1 ? (int)H : ac->emb;
	return 1;
}

void
clas_load_encoder(struct clas *c, const struct pth *p, const char *prefix)
{
	struct awd *m = &c->enc;
	char k[96];
	for (int i = 0; i < m->ntensor; i++) {
		struct awd_tensor *t = &m->tensor[i];
		if (t->alias)
			continue;
		int64_t shape[2] = { t->shape[0], t->shape[1] };
		snprintf(k, sizeof k, "%s%s", prefix, t->name);
		struct pth_tensor *pt = pth_need(p, k, t->ndim, shape);
		memcpy(t->w, pt->f, t->n * sizeof *t->w);
	}
}

static const struct pth_tensor *
find2(const struct pth *p, const char *a, const char *b)
{
	const struct pth_tensor *t = pth_find(p, a);
	return t ? t : pth_find(p, b);
}

void
clas_head_sizes(const struct pth *p, int *nhid, int *nclass, int *has_drop0,
                int *has_drop1)
{
	const struct pth_tensor *l0 = find2(p, "1.layers.0.2.weight",
	                                    "1.layers.0.1.weight");
	const struct pth_tensor *l1 = find2(p, "1.layers.1.2.weight",
	                                    "1.layers.1.1.weight");
	if (!l0 || !l1 || l0->ndim != 2 || l1->ndim != 2 || !l0->numel ||
	    !l1->numel || l1->shape[1] != l0->shape[0])
		die("%s: not a text classifier checkpoint (no 1.layers.0/1 "
		    "Linear weights); give one made by clastrain or fastai's "
		    "text_classifier_learner", p->path);
	*nhid = (int)l0->shape[0];
	*nclass = (int)l1->shape[0];
	*has_drop0 = pth_find(p, "1.layers.0.2.weight") != NULL;
	*has_drop1 = pth_find(p, "1.layers.1.2.weight") != NULL;
}

static void
copy_need(const struct pth *p, const char *name, float *dst, long n)
{
	int64_t shape[1] = { n };
	memcpy(dst, pth_need(p, name, 1, shape)->f, n * sizeof *dst);
}

static void
load(struct clas *c, const struct pth *p, int borrow)
{
	struct awd_tensor t[AWD_MAX_TENSORS + 8];
	int n = clas_tensors(c, t, AWD_MAX_TENSORS + 8);
	for (int i = 0; i < n; i++) {
		if (t[i].alias)
			continue;
		const char *nm = t[i].name;
		char alt[64];
		/* the Linear may sit at .1. or .2. (Dropout left out or not) */
		size_t nl = strnlen(nm, sizeof alt - 1);
		memcpy(alt, nm, nl);
		alt[nl] = 0;
		if (!strncmp(nm, "1.layers.", 9) && nm[11] != '0') {
			alt[11] = alt[11] == '2' ? '1' : '2';
			if (!pth_find(p, nm) && pth_find(p, alt))
				nm = alt;
		}
		int64_t shape[2] = { t[i].shape[0], t[i].shape[1] };
		float *w = pth_need(p, nm, t[i].ndim, shape)->f;
		struct awd_tensor *et = borrow && !strncmp(nm, "0.module.", 9) ?
		                        awd_tensor(&c->enc, nm + 9) : NULL;
		if (et)
			awd_borrow(&c->enc, et, w);
		else
			memcpy(t[i].w, w, t[i].n * sizeof *t[i].w);
	}
	copy_need(p, "1.layers.0.0.running_mean", c->bn0_mean, c->D3);
	copy_need(p, "1.layers.0.0.running_var", c->bn0_var, c->D3);
	copy_need(p, "1.layers.1.0.running_mean", c->bn1_mean, c->cfg.nhid);
	copy_need(p, "1.layers.1.0.running_var", c->bn1_var, c->cfg.nhid);
	const struct pth_tensor *nb;
	nb = pth_find(p, "1.layers.0.0.num_batches_tracked");
	c->bn0_nbt = nb && nb->l ? nb->l[0] : 0;
	nb = pth_find(p, "1.layers.1.0.num_batches_tracked");
	c->bn1_nbt = nb && nb->l ? nb->l[0] : 0;
}

void
clas_load(struct clas *c, const struct pth *p)
{
	load(c, p, 0);
}

static void
open_clas(struct clas *c, const struct pth *p, int maxB, float alpha,
          float beta, char ***labels, int borrow)
{
	struct awd_config ac;
	struct clas_config cc;
	int nhid, nclass, drop0, drop1;
	const char *v;

	if (!clas_encoder_sizes(p, "0.module.", &ac))
		die("%s: not a text classifier checkpoint (no "
		    "0.module.encoder.weight)", p->path);
	clas_head_sizes(p, &nhid, &nclass, &drop0, &drop1);
	/* the metadata's settings, as the command line would accept them */
	double dmv = pth_meta(p, "drop_mult") ?
	             pth_meta_double(p, "drop_mult", "a classifier") : 0.5;
	if (!(dmv >= 0))
		die("%s: metadata drop_mult=%g: clastrain --drop-mult must be "
		    ">= 0; the file is damaged or was not made by these tools",
		    p->path, dmv);
	float dm = (float)dmv;
	int vocab = ac.vocab, emb = ac.emb, hid = ac.hidden, L = ac.layers;
	awd_config_clas(&ac, vocab, dm);
	ac.emb = emb, ac.hidden = hid, ac.layers = L;
	clas_config_default(&cc, &ac, nclass, alpha, beta);
	cc.nhid = nhid;
	if (pth_meta(p, "ps")) {
		double ps = pth_meta_double(p, "ps", "a classifier");
		if (!(ps >= 0 && ps < 1))
			die("%s: metadata ps=%g: clastrain --ps must be in "
			    "[0, 1); the file is damaged or was not made by "
			    "these tools", p->path, ps);
		cc.p1 = (float)ps;
	}
	cc.drop0 = drop0, cc.drop1 = drop1;
	if (!drop0)
		cc.p0 = 0;
	if (!drop1)
		cc.p1 = 0;
	if (pth_meta(p, "bptt"))
		cc.bptt = (int)pth_meta_int(p, "bptt", "a classifier", 1,
		                            INT32_MAX);
	if (pth_meta(p, "max_len"))
		cc.max_len = (int)pth_meta_int(p, "max_len", "a classifier", 1,
		                               INT32_MAX);
	if (cc.bptt < 1 || cc.max_len < cc.bptt)
		die("%s: bad bptt/max_len in the metadata", p->path);
	/* our file names its classes: exactly one per output of the head */
	if (pth_meta(p, "label.0")) {
		int nl = 0;
		char key[32];
		do
			snprintf(key, sizeof key, "label.%d", ++nl);
		while (nl <= nclass && pth_meta(p, key));
		if (nl != nclass)
			die("%s: head has %d outputs but %s%d labels", p->path,
			    nclass, nl > nclass ? "more than " : "",
			    nl > nclass ? nclass : nl);
	}
	clas_create(c, &ac, &cc, maxB);
	load(c, p, borrow);
	*labels = xcalloc(nclass, sizeof **labels);
	for (int k = 0; k < nclass; k++) {
		char key[32];
		snprintf(key, sizeof key, "label.%d", k);
		if ((v = pth_meta(p, key)))
			(*labels)[k] = xstrdup(v);
		else {
			snprintf(key, sizeof key, "%d", k);
			(*labels)[k] = xstrdup(key);
		}
	}
}

void
clas_open(struct clas *c, const struct pth *p, int maxB, float alpha,
          float beta, char ***labels)
{
	open_clas(c, p, maxB, alpha, beta, labels, 0);
}

void
clas_open_eval(struct clas *c, const struct pth *p, int maxB, char ***labels)
{
	open_clas(c, p, maxB, 0, 0, labels, 1);
}

void
clas_labels_free(char **labels, int n)
{
	for (int k = 0; labels && k < n; k++)
		free(labels[k]);
	free(labels);
}

const float *
clas_forward_docs(struct clas *c, const uint32_t *const *docs,
                  const uint32_t *len, const uint32_t *idx, int nb,
                  uint32_t **x, size_t *xcap, int train, struct rng *r)
{
	size_t M = 0;
	for (int i = 0; i < nb; i++) {
		if (len[idx[i]] < 1)
			die("classifier: an empty document (no tokens, not even "
			    "xxbos)");
		if (i && len[idx[i]] > len[idx[i - 1]])
			die("classifier: batch not sorted by length (a bug)");
		if (len[idx[i]] > M)
			M = len[idx[i]];
	}
	if ((size_t)nb * M > *xcap) {
		*xcap = (size_t)nb * M;
		*x = xrealloc(*x, *xcap * sizeof **x);
	}
	size_t bptt = c->cfg.bptt;
	clsbatch_fill(*x, docs, len, idx, nb, bptt, TK_PAD, 1);
	for (int i = 0; i < nb; i++) {
		c->blen[i] = len[idx[i]];
		c->bstart[i] = (uint32_t)((M - c->blen[i]) / bptt * bptt);
	}
	return clas_forward(c, *x, nb, (int)M, c->bstart, c->blen, train, r);
}

void
clas_scratch_free(struct clas_scratch *s)
{
	free(s->x), free(s->order), free(s->tmp);
	memset(s, 0, sizeof *s);
}

double
clas_predict(struct clas *c, const uint32_t *const *docs, const uint32_t *len,
             const uint32_t *y, size_t n, float *probs, uint32_t *pred,
             long *hits, struct clas_scratch *s)
{
	int nc = c->cfg.nclass;
	double loss = 0;
	uint32_t yb[c->maxB];

	if (n > s->ocap) {
		s->ocap = n;
		s->order = xrealloc(s->order, n * sizeof *s->order);
		s->tmp = xrealloc(s->tmp, 2 * n * sizeof *s->tmp);
	}
	sorted_order(len, n, c->maxB, 0, NULL, s->order, s->tmp);
	for (size_t i = 0; i < n; i += c->maxB) {
		int nb = n - i < (size_t)c->maxB ? (int)(n - i) : c->maxB;
		const uint32_t *idx = s->order + i;
		clas_forward_docs(c, docs, len, idx, nb, &s->x, &s->xcap, 0, NULL);
		for (int b = 0; b < nb; b++) {
			if (probs)
				clas_probs(c, b, probs + (size_t)idx[b] * nc);
			if (pred) {
				const float *z = c->logits + (size_t)b * nc;
				uint32_t k = 0;
				for (int j = 1; j < nc; j++)
					if (z[j] > z[k])
						k = j;
				pred[idx[b]] = k;
			}
		}
		if (y) {
			int h;
			for (int b = 0; b < nb; b++)
				yb[b] = y[idx[b]];
			loss += clas_loss(c, yb, &h, 0, NULL) * nb;
			*hits += h;
		}
	}
	return loss;
}

void
confusion_init(struct clas_confusion *cm, int nc)
{
	cm->nc = nc;
	cm->m = xcalloc((size_t)nc * nc, sizeof *cm->m);
}

void
confusion_add(struct clas_confusion *cm, uint32_t truth, uint32_t pred)
{
	cm->m[(size_t)truth * cm->nc + pred]++;
}

uint64_t
confusion_total(const struct clas_confusion *cm)
{
	uint64_t t = 0;
	for (size_t i = 0; i < (size_t)cm->nc * cm->nc; i++)
		t += cm->m[i];
	return t;
}

double
confusion_accuracy(const struct clas_confusion *cm)
{
	uint64_t d = 0, t = confusion_total(cm);
	for (int k = 0; k < cm->nc; k++)
		d += cm->m[(size_t)k * cm->nc + k];
	return t ? (double)d / t : NAN;
}

double
confusion_precision(const struct clas_confusion *cm, int k)
{
	uint64_t col = 0;
	for (int i = 0; i < cm->nc; i++)
		col += cm->m[(size_t)i * cm->nc + k];
	return col ? (double)cm->m[(size_t)k * cm->nc + k] / col : NAN;
}

uint64_t
confusion_support(const struct clas_confusion *cm, int k)
{
	uint64_t row = 0;
	for (int j = 0; j < cm->nc; j++)
		row += cm->m[(size_t)k * cm->nc + j];
	return row;
}

double
confusion_recall(const struct clas_confusion *cm, int k)
{
	uint64_t row = confusion_support(cm, k);
	return row ? (double)cm->m[(size_t)k * cm->nc + k] / row : NAN;
}

void
confusion_free(struct clas_confusion *cm)
{
	free(cm->m);
	cm->m = NULL;
}

void
clas_register(struct clas *c, struct optim *o)
{
	struct awd_tensor t[AWD_MAX_TENSORS + 8];
	int n = clas_tensors(c, t, AWD_MAX_TENSORS + 8);
	int L = c->enc.cfg.layers;
	if (o->ng != L + 2)
		die("classifier: optimizer has %d groups, want %d", o->ng, L + 2);
	for (int i = 0; i < n; i++) {
		if (t[i].alias)
			continue;
		int flags = t[i].no_wd ? OPT_NO_WD | OPT_FORCE_TRAIN : 0;
		opt_add(o, t[i].name, t[i].w, t[i].g, t[i].ndim, t[i].shape,
		        t[i].layer + 1, flags);
	}
}

void
clas_apply_freeze(struct clas *c, const struct optim *o)
{
	struct awd *m = &c->enc;
	int L = m->cfg.layers;
	for (int i = 0; i < o->np; i++) {
		const struct opt_param *p = &o->p[i];
		if (p->flags & OPT_FORCE_TRAIN)
			continue;
		if (p->group == 0)
			m->grad_emb = p->train;
		else if (p->group <= L)
			m->grad_rnn[p->group - 1] = p->train;
		else
			c->grad_head = p->train;
	}
}
