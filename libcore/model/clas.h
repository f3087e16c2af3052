/* clas.h: fastai's text classifier (spec §7) = SentenceEncoder over the
 * AWD-LSTM encoder + PoolingLinearClassifier.
 *
 * SentenceEncoder: a batch (B,T) sorted by length, descending, padded by
 * Pad_Chunk (whole bptt chunks of padding in front, the remainder at the
 * end) is read in chunks of bptt columns.  Each chunk runs the LSTM on the
 * rows that have started (their front padding is behind), carrying the
 * state and detaching it after every chunk; rows that join get zero state.
 * Only chunks that start within the last max_len columns are kept for
 * pooling; earlier ones only warm the state up.
 *
 * Head: masked concat pooling [last, max, avg] (3E) ->
 *   BatchNorm1d(3E) -> Dropout(p0) -> Linear(3E, nh, no bias) -> ReLU ->
 *   BatchNorm1d(nh) -> Dropout(p1) -> Linear(nh, nclass, no bias)
 * with p0 = output_p (already times drop_mult), p1 = 0.1 (not scaled).
 *
 * Backward through the encoder: gradients never cross a chunk boundary, so
 * each kept chunk is backpropagated on its own.  The encoder (awd.h) keeps
 * the caches of one forward only, so forward saves each kept chunk's
 * starting state and RNG state, and backward re-runs that chunk (same
 * state, same dropout masks, so the same activations) right before its
 * awd_backward; the last chunk, whose caches are still there, is not
 * re-run.  Frozen encoders skip this entirely.
 *
 * enc.grad_ready (awd.h; data parallel, learn/dist.h), when set, is
 * called as gradients become final: layer L (the head) after the head's
 * backward, then rnns[l] top-down during the backward of the first chunk
 * in time (the last to run; earlier backwards still add to them), then -1
 * (the embedding) at the end.  Every call happens whatever the rows.
 *
 * Where we differ from fastai (the man page says so too):
 *  - rows taking part in a chunk are those whose text has started (known
 *    from the lengths), not "token at the chunk's first column is not a
 *    pad": fastai's rule drops a row whose trailing padding happens to
 *    cover that one column while a shorter row below it has started, so
 *    that row's last tokens are never read (possible only when T is not a
 *    multiple of bptt);
 *  - "last" in pooling is the last real token (fastai may point into front
 *    padding in the same situation; kernels/head.h);
 *  - the mask comes from the lengths, so a literal xxpad inside a text is
 *    an ordinary token.
 * When T is a multiple of bptt the first two agree with fastai exactly. */
#ifndef CLAS_H
#define CLAS_H

#include <stdint.h>

#include "model/awd.h"
#include "core/rng.h"

#define CLAS_BPTT 72
#define CLAS_MAX_LEN (72 * 20)
#define CLAS_NHID 50
#define CLAS_P1 0.1f
#define CLAS_BN_MOM 0.1f
#define CLAS_BN_EPS 1e-5f

struct clas_config {
	int nclass;
	int nhid;               /* lin_ftrs [50] */
	int bptt, max_len;      /* 72, 72*20 */
	float p0, p1;           /* head dropouts: output_p, ps (0.1) */
	int drop0, drop1;       /* the Dropout modules exist (fastai leaves
	                           one out when its p is 0 at creation, which
	                           shifts the Linear's state-dict index); -1:
	                           decided by clas_create from p0/p1 */
	float alpha, beta;      /* AR/TAR on the encoder outputs (0: off) */
};

/* Head parameters in state-dict order (views into enc.xparam /
 * enc.xgrad, so the optimizer sees one flat array); BN buffers apart. */
struct clas_head {
	float *bn0_w, *bn0_b;   /* (3E) */
	float *lin0_w;          /* (nh, 3E) */
	float *bn1_w, *bn1_b;   /* (nh) */
	float *lin1_w;          /* (nclass, nh) */
};

struct clas_chunk {             /* a kept chunk, for the backward re-run */
	int col;                /* first column in the batch */
	int len;                /* columns */
	int rows;               /* rows run */
	int state_bs;           /* live state rows before it */
	struct rng rng;         /* RNG before its forward */
	float *state;           /* h,c of every layer, state_bs rows */
};

/* Data parallel (learn/dist.h): every process holds some rows of one
 * global batch of `rows` rows.  BatchNorm in training must normalise with
 * the global batch's statistics and its backward needs the global sums of
 * dy and dy*xhat, so clas sums those over the processes through sum (n
 * doubles, in place, on the host; the caller wires it to MPI).  sum NULL
 * (the default): one process, bn_train_fwd/_bwd as before.  The process's
 * loss is its own rows' mean (the caller weights gradients by B/rows), so
 * the backward sums go over the processes in the global scale. */
struct clas_sync {
	void (*sum)(void *ctx, double *v, int n);
	void *ctx;
	int rows;               /* the global batch's rows (>= 2) */
};

/* Memory: the encoder's context enc.k (kernels/ctx.h) holds every tensor
 * (parameters and gradients in the encoder's arena, the rest in one block,
 * mem); the host keeps the sizes, the chunk table, the token ids (as
 * awd_forward takes them) and bstart/blen (hmem), and reads back a step's
 * scalars (loss, hits) and clas_probs' rows. */
struct clas {
	struct awd enc;
	struct clas_config cfg;
	int E, D3, maxB;
	struct clas_head p, g;          /* parameters, gradients */
	size_t nhead;                   /* head parameter count */
	float *bn0_mean, *bn0_var, *bn1_mean, *bn1_var;
	int64_t bn0_nbt, bn1_nbt;       /* num_batches_tracked */
	int grad_head;                  /* 1: backward fills head grads */

	/* the last forward */
	int B, T, Tk, train;            /* Tk: kept columns */
	const uint32_t *tok;            /* the caller's (host) */
	const uint32_t *start, *len;    /* the caller's (host) */
	uint32_t *bstart, *blen;        /* host (maxB) for clas_forward_docs */
	int nchunk;
	struct clas_chunk *chunk;       /* host (max_len/bptt + 1) */
	uint32_t *ctok;                 /* host (maxB, bptt) chunk tokens */
	uint32_t *dstart, *dlen, *dy;   /* (maxB) lengths and labels, device */
	float *cdout;                   /* (maxB, bptt, E) chunk gradient */
	float *out;                     /* (maxB, max_len, E) kept outputs */
	float *dout;                    /* (maxB, max_len, E) */
	uint8_t *mask;                  /* (maxB, max_len) 1 = pad */
	/* head activations (maxB rows) */
	float *pooled, *xh0, *mu0, *rs0, *m0, *a0;     /* 3E wide */
	float *h0, *r0, *xh1, *mu1, *rs1, *m1, *a1;    /* nh wide */
	int32_t *argmax, *last;
	float *logits, *dlogits, *probs;        /* (maxB, nclass) */
	float *d3, *dh;                 /* gradient scratch (3E), (nh) */
	double *row_loss;
	int *row_hit;
	double ar, tar;                 /* of the last training step */
	struct clas_sync sync;          /* data parallel; zero: one process */
	double *bns;                    /* (4 * max(3E, nh)) device: BN sums */
	double *hbns;                   /* (4 * max(3E, nh)) host: the same */
	void *mem;                      /* device block */
	void *hmem;                     /* host block */
};

/* fastai defaults: nh 50, bptt 72, max_len 1440, p0 = enc output_p,
 * p1 0.1, AR/TAR as given. */
void clas_config_default(struct clas_config *cc, const struct awd_config *ac,
                         int nclass, float alpha, float beta);
/* Head parameter count: 2*3E + nh*3E + 2*nh + nclass*nh (62,600 for
 * E=400, nh=50, 2 classes). */
size_t clas_head_count(int E, int nh, int nclass);

/* maxB rows per batch; any T (long documents run chunk by chunk). */
void clas_create(struct clas *c, const struct awd_config *ac,
                 const struct clas_config *cc, int maxB);
void clas_free(struct clas *c);
/* fastai init: encoder as awd_init; BN weight 1, bias 1e-3, running mean
 * 0, var 1; Linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void clas_init(struct clas *c, struct rng *r);
void clas_init_head(struct clas *c, struct rng *r);

/* Forward a batch tok (B,T) row-major, rows sorted by length descending
 * and padded by pad_chunk(pad_first=1) to T columns; start[b] is row b's
 * first real column, len[b] its length (>= 1).  train 1: dropout (masks
 * from r), BatchNorm batch statistics (B >= 2, or c->sync.rows >= 2 rows
 * over the processes with c->sync set), running stats updated.
 * Returns the logits (B, nclass), owned by c. */
const float *clas_forward(struct clas *c, const uint32_t *tok, int B, int T,
                          const uint32_t *start, const uint32_t *len,
                          int train, struct rng *r);
/* Mean cross-entropy of the last forward's logits against y (B); hits =
 * rows whose argmax is y.  With grad set, also the backward pass:
 * gradients are ADDED to c->enc.grad (head included) for the parts that
 * train (c->grad_head, c->enc.grad_emb, c->enc.grad_rnn[]).  r must be the
 * generator given to the forward, untouched since (the chunk re-runs
 * restore their own RNG states and leave r as it was). */
double clas_loss(struct clas *c, const uint32_t *y, int *hits, int grad,
                 struct rng *r);

/* Softmax of the last forward's logits, row b, into p (nclass). */
void clas_probs(const struct clas *c, int b, float *p);

/* The classifier's trainable tensors in fastai state-dict order, like
 * lm_tensors: "0.module.<encoder tensors>" (encoder_dp alias included),
 * then "1.layers.0.0.weight", "1.layers.0.0.bias", "1.layers.0.2.weight"
 * (".1." when p0 is 0: fastai leaves the Dropout out and the index
 * shifts), "1.layers.1.0.weight", "1.layers.1.0.bias",
 * "1.layers.1.2.weight".  layer: -1 embedding, l rnns[l], L the head;
 * no_wd set for the BatchNorm tensors.  Returns the count (<= max). */
int clas_tensors(struct clas *c, struct awd_tensor *t, int max);

#endif
