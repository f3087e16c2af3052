/* lm.c: LinearDecoder (tied, with bias) + cross-entropy + AR/TAR on top
 * of the AWD-LSTM encoder (spec §5.3, §6, §9.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model/lm.h"
#include "core/util.h"

void
lm_create(struct lm *lm, const struct awd_config *cfg, int maxB, int maxT)
{
	memset(lm, 0, sizeof *lm);
	awd_create(&lm->enc, cfg, maxB, maxT, (size_t)cfg->vocab);
	lm->dec_b = lm->enc.xparam, lm->dec_gb = lm->enc.xgrad;
	size_t V = cfg->vocab, E = cfg->emb, N = (size_t)maxB * maxT;
	/* logits in chunks of at most 32M floats (128 MiB) */
	size_t ch = ((size_t)32 << 20) / V;
	if (ch < 16)
		ch = 16;
	if (ch > N)
		ch = N;
	lm->chunk = (int)ch;
	struct kern *k = lm->enc.k;
	lm->out_mask = kern_alloc(k, (size_t)maxB * E * sizeof(float));
	lm->dropped = kern_alloc(k, N * E * sizeof(float));
	lm->dout = kern_alloc(k, N * E * sizeof(float));
	lm->logits = kern_alloc(k, ch * V * sizeof(float));
	lm->row_loss = kern_alloc(k, N * sizeof(double));
	lm->row_hit = kern_alloc(k, N * sizeof(int));
	lm->alpha = 2.0f, lm->beta = 1.0f;
}

void
lm_free(struct lm *lm)
{
	struct kern *k = lm->enc.k;
	kern_free(k, lm->out_mask), kern_free(k, lm->dropped);
	kern_free(k, lm->dout), kern_free(k, lm->logits);
	kern_free(k, lm->row_loss), kern_free(k, lm->row_hit);
	awd_free(&lm->enc);
	memset(lm, 0, sizeof *lm);
}

void
lm_init(struct lm *lm, struct rng *r)
{
	awd_init(&lm->enc, r);
	memset(lm->dec_b, 0, lm->enc.cfg.vocab * sizeof(float));
}

int
lm_tensors(struct lm *lm, struct awd_tensor *t, int max)
{
	struct awd *m = &lm->enc;
	int n = 0;
	for (int i = 0; i < m->ntensor; i++, n++)
		if (n < max) {
			t[n] = m->tensor[i];
			snprintf(t[n].name, sizeof t[n].name, "0.%s",
			         m->tensor[i].name);
		}
	if (n < max) {
		t[n] = m->tensor[0];
		snprintf(t[n].name, sizeof t[n].name, "1.decoder.weight");
		t[n].alias = 1;
	}
	n++;
	if (n < max) {
		t[n] = (struct awd_tensor){ .w = lm->dec_b, .g = lm->dec_gb,
			.ndim = 1, .shape = { m->cfg.vocab, 0 },
			.n = (size_t)m->cfg.vocab, .layer = -1, .no_wd = 1 };
		snprintf(t[n].name, sizeof t[n].name, "1.decoder.bias");
	}
	return n + 1;
}

/* logits(k,V) = x(k,E) W^T + b, W the tied embedding (V,E) */
static void
decode(struct lm *lm, const float *x, int k)
{
	int V = lm->enc.cfg.vocab, E = lm->enc.cfg.emb;
	for (int n = 0; n < k; n++)
		memcpy(lm->logits + (size_t)n * V, lm->dec_b, V * sizeof(float));
	blas_sgemm(lm->enc.k, 0, 1, k, V, E, 1.0f, x, E, lm->enc.p.emb, E, 1.0f,
	           lm->logits, V);
}

/* CE over all N = B*T rows in chunks; with grad, also the decoder's
 * backward: dx (N,E) = dlogits W, dW += dlogits^T x, db += sum dlogits. */
static void
decode_loss(struct lm *lm, const float *x, const uint32_t *y, long N,
            float *dx, struct lm_stats *st)
{
	struct awd *m = &lm->enc;
	int V = m->cfg.vocab, E = m->cfg.emb;
	for (long n0 = 0; n0 < N; n0 += lm->chunk) {
		int k = (int)(N - n0 < lm->chunk ? N - n0 : lm->chunk);
		decode(lm, x + n0 * E, k);
		ce_fwd_bwd(lm->enc.k, lm->logits, y + n0, lm->row_loss + n0,
		           lm->row_hit + n0, k, V, dx ? 1.0f / (float)N : 0.0f);
		if (!dx)
			continue;
		float *g = lm->logits;
		for (int n = 0; n < k; n++) {
			const float *row = g + (size_t)n * V;
			for (int v = 0; v < V; v++)
				lm->dec_gb[v] += row[v];
		}
		blas_sgemm(lm->enc.k, 0, 0, k, E, V, 1.0f, g, V, m->p.emb, E,
		           0.0f, dx + n0 * E, E);
		if (m->grad_emb)
			blas_sgemm(lm->enc.k, 1, 0, V, E, k, 1.0f, g, V,
			           x + n0 * E, E, 1.0f, m->g.emb, E);
	}
	double s = 0;
	long hits = 0;
	for (long n = 0; n < N; n++)
		s += lm->row_loss[n], hits += lm->row_hit[n];
	st->ce = s / N, st->hits = hits, st->n = N;
	st->ar = st->tar = 0;
	st->loss = st->ce;
}

void
lm_train_step(struct lm *lm, const uint32_t *tok, const uint32_t *y, int B,
              int T, struct rng *r, struct lm_stats *st)
{
	struct awd *m = &lm->enc;
	int E = m->cfg.emb;
	long N = (long)B * T;
	const float *out = awd_forward(m, tok, B, T, 1, r);

	/* output_dp: one (B,E) mask shared over time */
	dropout_mask(lm->enc.k, lm->out_mask, (size_t)B * E, m->cfg.output_p,
	             r);
	for (int b = 0; b < B; b++)
		dropout_apply_rows(lm->enc.k,
		                   memcpy(lm->dropped + (size_t)b * T * E,
		                          out + (size_t)b * T * E,
		                          (size_t)T * E * sizeof(float)),
		                   lm->out_mask + (size_t)b * E, T, E);

	decode_loss(lm, lm->dropped, y, N, lm->dout, st);
	/* AR on the dropped output, then back through output_dp; TAR on the
	 * raw output */
	st->ar = lm->alpha ? ar_fwd_bwd(lm->enc.k, lm->dropped, lm->dout, N * E,
	                                lm->alpha) : 0;
	for (int b = 0; b < B; b++)
		dropout_apply_rows(lm->enc.k, lm->dout + (size_t)b * T * E,
		                   lm->out_mask + (size_t)b * E, T, E);
	st->tar = lm->beta ? tar_fwd_bwd(lm->enc.k, out, lm->dout, B, T, E,
	                                 lm->beta) : 0;
	st->loss = st->ce + st->ar + st->tar;
	awd_backward(m, lm->dout);
}

void
lm_eval_step(struct lm *lm, const uint32_t *tok, const uint32_t *y, int B,
             int T, struct lm_stats *st)
{
	const float *out = awd_forward(&lm->enc, tok, B, T, 0, NULL);
	decode_loss(lm, out, y, (long)B * T, NULL, st);
}

void
lm_last_logits(struct lm *lm, const uint32_t *tok, int B, int T, float *out)
{
	struct awd *m = &lm->enc;
	int V = m->cfg.vocab, E = m->cfg.emb;
	const float *h = awd_forward(m, tok, B, T, 0, NULL);
	for (int b = 0; b < B; b++)
		memcpy(out + (size_t)b * V, lm->dec_b, V * sizeof(float));
	/* rows b*T + T-1 of h: stride T*E */
	blas_sgemm(lm->enc.k, 0, 1, B, V, E, 1.0f, h + (size_t)(T - 1) * E,
	           T * E, m->p.emb, E, 1.0f, out, V);
}
