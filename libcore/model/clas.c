/* clas.c: SentenceEncoder + PoolingLinearClassifier (see clas.h).
 * Tensor memory is the encoder's context's (c->enc.k): every loop over it
 * is a kernel; the host keeps sizes, the rows of each chunk and the RNG
 * states, and reads back the step's scalars only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/clas.h"
#include "kernels.h"
#include "core/util.h"

/* dropout.h's tensor ids of the head's two masks */
enum { CLAS_DROP0 = DROP_HEAD, CLAS_DROP1 = DROP_HEAD + 1 };

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

/* Device memory (dev) and the host's metadata (host). */
static void
layout(struct clas *c, struct bump *dev, struct bump *host)
{
	const struct clas_config *cc = &c->cfg;
	size_t B = c->maxB, E = c->E, D3 = c->D3, nh = cc->nhid;
	size_t nchunk = cc->max_len / cc->bptt + 1, st = 0;
	for (int l = 0; l < c->enc.cfg.layers; l++)
		st += 2 * (size_t)awd_layer_out(&c->enc.cfg, l);

	c->chunk = bump(host, nchunk * sizeof *c->chunk);
	c->bstart = bump(host, B * sizeof *c->bstart);
	c->blen = bump(host, B * sizeof *c->blen);
	c->ctok = bump(host, B * cc->bptt * sizeof *c->ctok);
#define F(n) bump(dev, (n) * sizeof(float))
	c->bn0_mean = F(D3), c->bn0_var = F(D3);
	c->bn1_mean = F(nh), c->bn1_var = F(nh);
	float *states = F(nchunk * B * st);
	c->cdout = F(B * cc->bptt * E);
	c->out = F(B * cc->max_len * E);
	c->dout = F(B * cc->max_len * E);
	c->mask = bump(dev, B * cc->max_len);
	c->pooled = F(B * D3), c->xh0 = F(B * D3), c->m0 = F(B * D3);
	c->a0 = F(B * D3), c->mu0 = F(D3), c->rs0 = F(D3);
	c->h0 = F(B * nh), c->r0 = F(B * nh), c->xh1 = F(B * nh);
	c->m1 = F(B * nh), c->a1 = F(B * nh), c->mu1 = F(nh), c->rs1 = F(nh);
	c->argmax = bump(dev, B * E * sizeof *c->argmax);
	c->last = bump(dev, B * sizeof *c->last);
	c->logits = F(B * cc->nclass), c->dlogits = F(B * cc->nclass);
	c->probs = F(B * cc->nclass);
	c->d3 = F(B * D3), c->dh = F(B * nh);
	c->row_loss = bump(dev, B * sizeof *c->row_loss);
	c->row_hit = bump(dev, B * sizeof *c->row_hit);
	c->dstart = bump(dev, B * sizeof *c->dstart);
	c->dlen = bump(dev, B * sizeof *c->dlen);
	c->dy = bump(dev, B * sizeof *c->dy);
	/* BN sums: 4 per feature of the wider BatchNorm (nh may exceed 3E) */
	size_t nbn = 4 * (D3 > nh ? D3 : nh);
	c->bns = bump(dev, nbn * sizeof *c->bns);
	c->hbns = bump(host, nbn * sizeof *c->hbns);
#undef F
	if (dev->base)
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
	struct bump dev = { NULL, 0 }, host = { NULL, 0 };
	layout(c, &dev, &host);
	dev.base = c->mem = kern_alloc(c->enc.k, dev.off);
	host.base = c->hmem = xcalloc(1, host.off + 64);
	dev.off = host.off = 0;
	layout(c, &dev, &host);
	c->grad_head = 1;
}

void
clas_free(struct clas *c)
{
	kern_free(c->enc.k, c->mem);
	free(c->hmem);
	awd_free(&c->enc);
	memset(c, 0, sizeof *c);
}

/* w (n, device) = U(-k, k) drawn on the host in order, one upload */
static void
uniform(struct kern *k, float *w, size_t n, float a, struct rng *r)
{
	float *h = xmalloc(n * sizeof *h + 1);
	for (size_t i = 0; i < n; i++)
		h[i] = (2.0f * rng_float(r) - 1.0f) * a;
	kern_upload(k, w, h, n * sizeof *h);
	free(h);
}

void
clas_init_head(struct clas *c, struct rng *r)
{
	struct kern *k = c->enc.k;
	size_t D3 = c->D3, nh = c->cfg.nhid, nc = c->cfg.nclass;
	kern_fill(k, c->p.bn0_w, D3, 1), kern_fill(k, c->p.bn0_b, D3, 1e-3f);
	kern_fill(k, c->bn0_mean, D3, 0), kern_fill(k, c->bn0_var, D3, 1);
	kern_fill(k, c->p.bn1_w, nh, 1), kern_fill(k, c->p.bn1_b, nh, 1e-3f);
	kern_fill(k, c->bn1_mean, nh, 0), kern_fill(k, c->bn1_var, nh, 1);
	c->bn0_nbt = c->bn1_nbt = 0;
	uniform(k, c->p.lin0_w, nh * D3, 1.0f / sqrtf((float)D3), r);
	uniform(k, c->p.lin1_w, nc * nh, 1.0f / sqrtf((float)nh), r);
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
			kern_copy(m->k, buf, h, n * sizeof *buf);
			kern_copy(m->k, buf + n, cc, n * sizeof *buf);
		} else {
			kern_copy(m->k, h, buf, n * sizeof *buf);
			kern_copy(m->k, cc, buf + n, n * sizeof *buf);
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

/* the host batch's ids of one chunk (host memory: awd_forward checks
 * and uploads them) */
static void
chunk_tokens(uint32_t *dst, const uint32_t *tok, int T, int rows, int col,
             int len)
{
	for (int b = 0; b < rows; b++)
		memcpy(dst + (size_t)b * len, tok + (size_t)b * T + col,
		       len * sizeof *dst);
}

/* BatchNorm in training mode.  Over the processes' rows (clas.h, struct
 * clas_sync): the global mean, then the global sum of squared deviations about it (the
 * two passes of bn_train_fwd), each summed over the processes on the
 * host.  bns: [0,D) sums, [D,2D) squares, [2D,3D) the mean. */
static void
bn_fwd(struct clas *c, float *y, float *xh, float *mu, float *rs,
       const float *x, const float *w, const float *b, float *rm, float *rv,
       int B, int D)
{
	struct kern *k = c->enc.k;
	double *ds = c->bns, *dm = c->bns + 2 * D, *h = c->hbns;
	long n = c->sync.rows;
	if (!c->sync.sum) {
		bn_train_fwd(k, y, xh, mu, rs, x, w, b, rm, rv, B, D,
		             CLAS_BN_MOM, CLAS_BN_EPS);
		return;
	}
	bn_sums(k, ds, x, NULL, B, D);
	kern_download(k, h, ds, D * sizeof *h);
	c->sync.sum(c->sync.ctx, h, D);
	for (int i = 0; i < D; i++)
		h[i] /= n;
	kern_upload(k, dm, h, D * sizeof *h);
	bn_sums(k, ds, x, dm, B, D);
	kern_download(k, h, ds + D, D * sizeof *h);
	c->sync.sum(c->sync.ctx, h, D);
	kern_upload(k, ds + D, h, D * sizeof *h);
	bn_fwd_apply(k, y, xh, mu, rs, x, w, b, rm, rv, dm, ds + D, n, B, D,
	             CLAS_BN_MOM, CLAS_BN_EPS);
}

/* dy here is this process's: its loss is the mean over its own B rows,
 * B/rows times the global batch's share of each row.  The sums go over
 * the processes in the global scale (times B/rows) and come back in
 * this one's (divided by it); dw, db take this process's own sums (the
 * gradient reduction weights them).  bns: [0,2D) own, [2D,4D) global. */
static void
bn_bwd(struct clas *c, float *dx, float *dw, float *db, const float *dy,
       const float *xh, const float *rs, const float *w, int B, int D)
{
	struct kern *k = c->enc.k;
	double *ds = c->bns, *dg = c->bns + 2 * D, *h = c->hbns;
	if (!c->sync.sum) {
		bn_train_bwd(k, dx, dw, db, dy, xh, rs, w, B, D);
		return;
	}
	double share = (double)B / c->sync.rows;
	bn_bwd_sums(k, ds, dy, xh, B, D);
	kern_download(k, h, ds, 2 * D * sizeof *h);
	for (int i = 0; i < 2 * D; i++)
		h[i] *= share;
	c->sync.sum(c->sync.ctx, h, 2 * D);
	for (int i = 0; i < 2 * D; i++)
		h[i] /= share;
	kern_upload(k, dg, h, 2 * D * sizeof *h);
	bn_bwd_apply(k, dx, dw, db, dy, xh, rs, w, ds, dg, c->sync.rows, B, D);
}

static void
head_forward(struct clas *c, int B, int train, struct rng *r)
{
	const struct clas_config *cc = &c->cfg;
	int D3 = c->D3, nh = cc->nhid, nc = cc->nclass;
	/* the head's dropout masks: one key from r per training forward,
	 * tensor ids from the range dropout.h reserves for the head */
	uint64_t key = train && (cc->p0 > 0 || cc->p1 > 0) ? dropout_key(r) : 0;

	pool_concat_fwd(c->enc.k, c->pooled, c->argmax, c->last, c->out,
	                c->mask, B, c->Tk, c->E, cc->bptt);
	/* LinBnDrop 0: BN(3E) -> Dropout(p0) -> Linear -> ReLU */
	if (train) {
		bn_fwd(c, c->a0, c->xh0, c->mu0, c->rs0, c->pooled, c->p.bn0_w,
		       c->p.bn0_b, c->bn0_mean, c->bn0_var, B, D3);
		c->bn0_nbt++;
		dropout_mask_rows(c->enc.k, c->m0, B, D3, cc->p0, key,
		                  CLAS_DROP0, c->enc.row0, c->enc.row_step);
		dropout_apply(c->enc.k, c->a0, c->a0, c->m0, (size_t)B * D3);
	} else {
		bn_eval_fwd(c->enc.k, c->a0, c->xh0, c->rs0, c->pooled,
		            c->p.bn0_w, c->p.bn0_b, c->bn0_mean, c->bn0_var, B,
		            D3, CLAS_BN_EPS);
	}
	linnb_fwd(c->enc.k, c->h0, c->a0, c->p.lin0_w, B, D3, nh);
	relu_fwd(c->enc.k, c->r0, c->h0, (long)B * nh);
	/* LinBnDrop 1: BN(nh) -> Dropout(p1) -> Linear, no activation */
	if (train) {
		bn_fwd(c, c->a1, c->xh1, c->mu1, c->rs1, c->r0, c->p.bn1_w,
		       c->p.bn1_b, c->bn1_mean, c->bn1_var, B, nh);
		c->bn1_nbt++;
		dropout_mask_rows(c->enc.k, c->m1, B, nh, cc->p1, key,
		                  CLAS_DROP1, c->enc.row0, c->enc.row_step);
		dropout_apply(c->enc.k, c->a1, c->a1, c->m1, (size_t)B * nh);
	} else {
		bn_eval_fwd(c->enc.k, c->a1, c->xh1, c->rs1, c->r0, c->p.bn1_w,
		            c->p.bn1_b, c->bn1_mean, c->bn1_var, B, nh,
		            CLAS_BN_EPS);
	}
	linnb_fwd(c->enc.k, c->logits, c->a1, c->p.lin1_w, B, nh, nc);
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
	if (train && c->sync.sum && (c->sync.rows < 2 || B > c->sync.rows))
		die("classifier: %d of a global batch of %d rows; BatchNorm "
		    "needs 2 rows or more in all", B, c->sync.rows);
	if (train && !c->sync.sum && B < 2)
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
	/* the lengths go up for the mask; the ids stay on the host, where
	 * awd_forward takes each chunk's */
	struct kern *k = m->k;
	kern_upload(k, c->dstart, start, B * sizeof *start);
	kern_upload(k, c->dlen, len, B * sizeof *len);

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
		} else {
			/* a rank whose rows start later: the global batch's
			 * first row runs every chunk (dist.h), so the other
			 * ranks draw this chunk's key */
			awd_forward_skip(train, r);
		}
		/* kept: rows that have not started are zeros */
		if (keep)
			seq_chunk_scatter(k, c->out, o, B, rb, c->Tk, col - first,
			                  tl, E);
	}
	seq_pad_mask(k, c->mask, c->dstart, c->dlen, B, c->Tk, first);
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
	linnb_bwd(c->enc.k, c->dh, hg ? c->g.lin1_w : NULL, c->dlogits, c->a1,
	          c->p.lin1_w, B, nh, nc);
	dropout_apply(c->enc.k, c->dh, c->dh, c->m1, (size_t)B * nh);
	/* BN 1 (train mode); its weight and bias always train (train_bn) */
	bn_bwd(c, c->dh, c->g.bn1_w, c->g.bn1_b, c->dh, c->xh1, c->rs1,
	       c->p.bn1_w, B, nh);
	relu_bwd(c->enc.k, c->dh, c->dh, c->r0, (long)B * nh);
	/* Linear 0 */
	linnb_bwd(c->enc.k, c->d3, hg ? c->g.lin0_w : NULL, c->dh, c->a0,
	          c->p.lin0_w, B, D3, nh);
	dropout_apply(c->enc.k, c->d3, c->d3, c->m0, (size_t)B * D3);
	bn_bwd(c, c->d3, c->g.bn0_w, c->g.bn0_b, c->d3, c->xh0, c->rs0,
	       c->p.bn0_w, B, D3);
}

static void
encoder_backward(struct clas *c, struct rng *r)
{
	struct awd *m = &c->enc;
	int B = c->B, E = c->E;
	struct rng after = *r;

	pool_concat_bwd(c->enc.k, c->dout, c->d3, c->argmax, c->last, c->mask,
	                B, c->Tk, E);
	size_t n = (size_t)B * c->Tk * E;
	c->ar = c->cfg.alpha ? ar_fwd_bwd(c->enc.k, c->out, c->dout, n,
	                                  c->cfg.alpha) : 0;
	c->tar = c->cfg.beta ?
	         tar_fwd_bwd(c->enc.k, c->out, c->dout, B, c->Tk, E,
	                     c->cfg.beta) : 0;
	int first = c->T - c->Tk;
	/* grad_ready (data parallel): a layer's gradient is final only after
	 * the last backward, that of the first chunk in time with rows (which
	 * one differs by rank: the hook's calls do not, top-down) */
	void (*ready)(void *, int) = m->grad_ready;
	int kfin = 0;
	while (kfin < c->nchunk - 1 && c->chunk[kfin].rows == 0)
		kfin++;
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
		seq_chunk_gather(m->k, c->cdout, c->dout, rb, c->Tk,
		                 ch->col - first, tl, E);
		m->grad_ready = k == kfin ? ready : NULL;
		awd_backward(m, c->cdout);
	}
	m->grad_ready = ready;
	if (ready) {
		/* no backward ran (no rows in any kept chunk): the same calls
		 * all the same, as every rank makes them; then the embedding */
		if (c->nchunk == 0 || c->chunk[kfin].rows == 0)
			for (int l = m->cfg.layers - 1; l >= 0; l--)
				if (m->grad_rnn[l])
					ready(m->grad_ctx, l);
		ready(m->grad_ctx, -1);
	}
	*r = after;
}

double
clas_loss(struct clas *c, const uint32_t *y, int *hits, int grad,
          struct rng *r)
{
	struct kern *k = c->enc.k;
	int B = c->B, nc = c->cfg.nclass;
	for (int b = 0; b < B; b++)
		if (y[b] >= (uint32_t)nc)
			die("classifier: label %u outside the %d classes", y[b], nc);
	kern_upload(k, c->dy, y, B * sizeof *y);
	kern_copy(k, c->dlogits, c->logits, (size_t)B * nc * sizeof *c->dlogits);
	ce_fwd_bwd(k, c->dlogits, c->dy, c->row_loss, c->row_hit, B, nc,
	           grad ? 1.0f / B : 0.0f);
	/* the step's scalars: the only reads of tensor memory */
	double loss = ops_sum_f64(k, c->row_loss, B);
	if (hits)
		*hits = (int)ops_count_nz(k, c->row_hit, B);
	c->ar = c->tar = 0;
	if (grad) {
		if (!c->train)
			die("classifier: backward needs a training forward");
		head_backward(c, B);
		if (c->enc.grad_ready)  /* the head's gradients: final */
			c->enc.grad_ready(c->enc.grad_ctx, c->enc.cfg.layers);
		if (enc_needs_grad(&c->enc))
			encoder_backward(c, r);
	}
	return loss / B;
}

void
clas_probs(const struct clas *c, int b, float *p)
{
	int nc = c->cfg.nclass;
	size_t at = (size_t)b * nc;
	seq_softmax(c->enc.k, c->probs + at, c->logits + at, 1, nc);
	kern_download(c->enc.k, p, c->probs + at, nc * sizeof *p);
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
