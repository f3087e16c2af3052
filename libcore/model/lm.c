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
	lm->y = kern_alloc(k, N * sizeof *lm->y);
	lm->alpha = 2.0f, lm->beta = 1.0f;
}

void
lm_free(struct lm *lm)
{
	struct kern *k = lm->enc.k;
	kern_free(k, lm->out_mask), kern_free(k, lm->dropped);
	kern_free(k, lm->dout), kern_free(k, lm->logits);
	kern_free(k, lm->row_loss), kern_free(k, lm->row_hit);
	kern_free(k, lm->y);
	if (lm->dec_pk)
		kern_free(k, lm->dec_pk_t), kern_free(k, lm->dec_pk);
	awd_free(&lm->enc);
	memset(lm, 0, sizeof *lm);
}

void
lm_init(struct lm *lm, struct rng *r)
{
	awd_init(&lm->enc, r);
	kern_zero(lm->enc.k, lm->dec_b, lm->enc.cfg.vocab * sizeof(float));
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

/* logits(k,V) = x(k,E) W^T + b, W the tied embedding (V,E); pk: W^T
 * packed by gemm_pack_bt, or NULL */
static void
decode(struct lm *lm, const float *x, int k, const float *pk)
{
	int V = lm->enc.cfg.vocab, E = lm->enc.cfg.emb;
	ops_bias_rows(lm->enc.k, lm->logits, lm->dec_b, NULL, k, V);
	if (pk)
		gemm_packed(lm->enc.k, k, V, E, x, E, pk, lm->logits, V);
	else
		blas_sgemm(lm->enc.k, 0, 1, k, V, E, 1.0f, x, E, lm->enc.p.emb,
		           E, 1.0f, lm->logits, V);
}

/* Under bf16, with the rows in more than one chunk: the decoder's weight
 * rounded and packed once for all chunks (W^T for the logits, W for dx),
 * instead of by every chunk's gemm_bf16 (at full size 9 chunks: 8 of 9
 * packings of 24M values saved, twice).  gemm_packed then runs gemm_bf16's
 * micro-kernel on the same panels, so the logits and dx are the same
 * bits as without it.  Only when every chunk's product goes to bf16
 * (blas_sgemm's 2^18 multiply-adds), so nothing else changes. */
static int
pack_decoder(struct lm *lm, long N, int grad)
{
	struct awd *m = &lm->enc;
	int V = m->cfg.vocab, E = m->cfg.emb;
	long last = N % lm->chunk ? N % lm->chunk : lm->chunk;
	if (!m->k->bf16 || !gemm_bf16_ok() || !gemm_packed_ok() ||
	    N <= lm->chunk || (double)last * V * E < (1 << 18))
		return 0;
	if (!lm->dec_pk) {      /* pages are touched only as bf16 fills them */
		lm->dec_pk_t = kern_alloc(m->k, gemm_pack_size(E, V) * sizeof(float));
		lm->dec_pk = kern_alloc(m->k, gemm_pack_size(V, E) * sizeof(float));
	}
	gemm_pack_bt(m->k, lm->dec_pk_t, m->p.emb, E, E, V);
	if (grad)               /* dx's panels: not for a validation pass */
		gemm_pack_b(m->k, lm->dec_pk, m->p.emb, E, V, E);
	return 1;
}

/* CE over all N = B*T rows in chunks; with grad, also the decoder's
 * backward: dx (N,E) = dlogits W, dW += dlogits^T x, db += sum dlogits.
 * y (N) the targets, host memory: uploaded into lm->y. */
static void
decode_loss(struct lm *lm, const float *x, const uint32_t *yh, long N,
            float *dx, struct lm_stats *st)
{
	struct awd *m = &lm->enc;
	int V = m->cfg.vocab, E = m->cfg.emb;
	const uint32_t *y = lm->y;
	kern_upload(m->k, lm->y, yh, N * sizeof *yh);
	int packed = pack_decoder(lm, N, dx != NULL);
	for (long n0 = 0; n0 < N; n0 += lm->chunk) {
		int k = (int)(N - n0 < lm->chunk ? N - n0 : lm->chunk);
		decode(lm, x + n0 * E, k, packed ? lm->dec_pk_t : NULL);
		ce_fwd_bwd(lm->enc.k, lm->logits, y + n0, lm->row_loss + n0,
		           lm->row_hit + n0, k, V, dx ? 1.0f / (float)N : 0.0f);
		if (!dx)
			continue;
		float *g = lm->logits;
		ops_colsum_acc(m->k, lm->dec_gb, g, k, V);
		if (packed) {
			kern_zero(m->k, dx + n0 * E, (size_t)k * E * sizeof *dx);
			gemm_packed(m->k, k, E, V, g, V, lm->dec_pk, dx + n0 * E, E);
		} else {
			blas_sgemm(lm->enc.k, 0, 0, k, E, V, 1.0f, g, V, m->p.emb,
			           E, 0.0f, dx + n0 * E, E);
		}
		if (m->grad_emb)
			blas_sgemm(lm->enc.k, 1, 0, V, E, k, 1.0f, g, V,
			           x + n0 * E, E, 1.0f, m->g.emb, E);
	}
	/* the step's scalars: the only reads of tensor memory by the host */
	double s = ops_sum_f64(m->k, lm->row_loss, N);
	long hits = ops_count_nz(m->k, lm->row_hit, N);
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

	/* output_dp: one (B,E) mask shared over time, from the forward's key */
	dropout_mask_rows(m->k, lm->out_mask, B, E, m->cfg.output_p,
	                  m->drop_key, DROP_OUTPUT, m->row0, m->row_step);
	dropout_apply_bt(m->k, lm->dropped, out, lm->out_mask, B, T, E);

	decode_loss(lm, lm->dropped, y, N, lm->dout, st);
	/* AR on the dropped output, then back through output_dp; TAR on the
	 * raw output */
	st->ar = lm->alpha ? ar_fwd_bwd(lm->enc.k, lm->dropped, lm->dout, N * E,
	                                lm->alpha) : 0;
	dropout_apply_bt(m->k, lm->dout, lm->dout, lm->out_mask, B, T, E);
	st->tar = lm->beta ? tar_fwd_bwd(lm->enc.k, out, lm->dout, B, T, E,
	                                 lm->beta) : 0;
	st->loss = st->ce + st->ar + st->tar;
	awd_backward(m, lm->dout);
	if (m->grad_ready)     /* the tied embedding + decoder, last */
		m->grad_ready(m->grad_ctx, -1);
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
	ops_bias_rows(m->k, out, lm->dec_b, NULL, B, V);
	/* rows b*T + T-1 of h: stride T*E */
	blas_sgemm(lm->enc.k, 0, 1, B, V, E, 1.0f, h + (size_t)(T - 1) * E,
	           T * E, m->p.emb, E, 1.0f, out, V);
}
