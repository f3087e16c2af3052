/* lm.h: the language model = AWD-LSTM encoder + fastai's LinearDecoder
 * (spec §5.3, §6): output RNNDropout, decoder tied to the embedding with
 * its own bias, mean cross-entropy over (B*T) positions, AR/TAR.
 *
 * The decoder bias lives in the encoder's extra parameter space, so the
 * optimizer sees one flat array: [encoder params | decoder bias].  The
 * (B*T,V) logits are computed in row chunks (lm.chunk rows at a time):
 * softmax, gradient, dX and dW of one chunk before the next, so memory is
 * chunk*V floats, not B*T*V. */
#ifndef LM_H
#define LM_H

#include "model/awd.h"

struct lm {
	struct awd enc;
	float *dec_b, *dec_gb;  /* (V) decoder bias and its gradient */
	float *out_mask;        /* (B,E) output_dp factors of the last forward */
	float *dropped;         /* (B,T,E) decoder input */
	float *dout;            /* (B,T,E) gradient on the encoder output */
	float *logits;          /* (chunk,V) */
	double *row_loss;       /* (B*T) per-position loss */
	int *row_hit;           /* (B*T) argmax == target */
	uint32_t *y;            /* (B*T) the targets, uploaded */
	float *dec_pk_t, *dec_pk; /* bf16: the decoder's W^T and W packed
	                           * once a batch (lm.c), allocated on use */
	int chunk;
	float alpha, beta;      /* AR, TAR (fastai 2.0/2.1: 2 and 1) */
};

/* Results of one batch.  ce: mean cross-entropy (what fastai logs);
 * loss: ce + ar + tar (what backward differentiates); hits: positions
 * whose argmax equals the target; n = B*T. */
struct lm_stats {
	double ce, ar, tar, loss;
	long hits, n;
};

void lm_create(struct lm *lm, const struct awd_config *cfg, int maxB,
               int maxT);
void lm_free(struct lm *lm);
/* fastai init: encoder as awd_init, decoder bias 0. */
void lm_init(struct lm *lm, struct rng *r);

/* The LM's state-dict table: "0.<encoder tensors>", then
 * "1.decoder.weight" (alias of 0.encoder.weight) and "1.decoder.bias".
 * Returns the count; fills up to max entries. */
int lm_tensors(struct lm *lm, struct awd_tensor *t, int max);

/* One training batch: forward with dropout (masks from r), loss, and
 * backward accumulating into lm->enc.grad (decoder bias included).  With
 * lm->enc.grad_ready set (awd.h), it is called for each LSTM layer as
 * backward finishes it, then with layer -1 for the embedding (tied to the
 * decoder) and the decoder bias, whose gradients are final last.
 * tok, y (B,T) batch-first; y are the targets. */
void lm_train_step(struct lm *lm, const uint32_t *tok, const uint32_t *y,
                   int B, int T, struct rng *r, struct lm_stats *st);

/* Evaluation: no dropout, no gradient, no AR/TAR.  st->ce and hits. */
void lm_eval_step(struct lm *lm, const uint32_t *tok, const uint32_t *y,
                  int B, int T, struct lm_stats *st);

/* Forward only, for generation: logits of the
 * last position of each row into out (B,V).  Eval mode, state carried. */
void lm_last_logits(struct lm *lm, const uint32_t *tok, int B, int T,
                    float *out);

#endif
