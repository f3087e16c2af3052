/* awd.h: fastai's AWD-LSTM encoder (spec §5): embedding with
 * EmbeddingDropout, input RNNDropout, L one-layer LSTMs with WeightDropout
 * on weight_hh, RNNDropout between layers, hidden state carried (detached)
 * between calls.
 *
 * Memory: one parameter arena (fastai state-dict order), a gradient arena
 * of the same layout, and one activation arena sized for (maxB, maxT) when
 * the model is created.  awd_forward/awd_backward never allocate.
 *
 * Layout inside the activations is time-major (T,B,F) so that each time
 * step is a contiguous (B,F) block for the recurrent GEMM; the API takes
 * and returns batch-first (B,T,F) like fastai's batch_first LSTMs.
 *
 * Use:
 *   awd_config_lm(&cfg, V, 1.0);             // or awd_config_clas
 *   awd_create(&m, &cfg, maxB, maxT, extra);  // extra floats for a head
 *   awd_init(&m, &rng);                       // fastai init (or load .pth)
 *   out = awd_forward(&m, tok, B, T, 1, &rng);   // (B,T,E)
 *   ... head forward/backward gives dout (B,T,E) ...
 *   awd_backward(&m, dout);                   // grads += (accumulate)
 */
#ifndef AWD_H
#define AWD_H

#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"

#define AWD_MAX_LAYERS 8
#define AWD_MAX_TENSORS (2 + 4 * AWD_MAX_LAYERS + 8)

struct awd_config {
	int vocab;      /* V: embedding rows (and decoder outputs) */
	int emb;        /* E: emb_sz (400); also the last LSTM's output */
	int hidden;     /* H: n_hid (1152) of every layer but the last */
	int layers;     /* n_layers (3) */
	int pad;        /* pad_token (1); -1 none */
	/* dropout probabilities, already multiplied by drop_mult */
	float embed_p, input_p, hidden_p, weight_p, output_p;
	float drop_mult;        /* recorded for checkpoints */
};

/* fastai's awd_lstm_lm_config / awd_lstm_clas_config with every *_p
 * multiplied by drop_mult. */
void awd_config_lm(struct awd_config *c, int vocab, float drop_mult);
void awd_config_clas(struct awd_config *c, int vocab, float drop_mult);

/* Layer l's sizes: in = E for l == 0 else H; out = E for the last layer
 * else H. */
int awd_layer_in(const struct awd_config *c, int l);
int awd_layer_out(const struct awd_config *c, int l);

/* One LSTM's tensors (views into an arena). */
struct awd_rnn {
	float *w_hh;    /* (4H,H) weight_hh_l0_raw (the trainable one) */
	float *w_ih;    /* (4H,I) module.weight_ih_l0 */
	float *b_ih;    /* (4H)   module.bias_ih_l0 */
	float *b_hh;    /* (4H)   module.bias_hh_l0 */
};
struct awd_params {
	float *emb;     /* (V,E) encoder.weight == encoder_dp.emb.weight */
	struct awd_rnn rnn[AWD_MAX_LAYERS];
};

/* The named tensor table, in fastai state-dict order, names relative to
 * the encoder ("encoder.weight", "rnns.0.weight_hh_l0_raw", ...): the LM
 * prefixes "0.", the classifier "0.module.".  Row 1 ("encoder_dp.emb.weight")
 * is an alias of row 0: same pointers, alias = 1 (saved as a shared storage,
 * not a second parameter).  layer = -1 for the embedding, l for rnns[l]
 * (fastai's splitters put them in param groups from that). */
struct awd_tensor {
	char name[48];
	float *w, *g;           /* weight and gradient views */
	int ndim;
	long shape[2];
	size_t n;               /* elements */
	int layer;
	int alias;
	int no_wd;      /* 1: fastai excludes it from weight decay (decoder
	                 * bias, BatchNorm); every encoder tensor is 0 */
};

struct awd_rnn_act;     /* per-layer activation views, see awd.c */
struct kern;

struct awd {
	struct kern *k;         /* compute context (kernels/ctx.h): every
	                         * operation runs on it, the arena is its
	                         * memory */
	struct awd_config cfg;
	int maxB, maxT;

	/* parameters and gradients: nparam floats each, then `extra` floats
	 * reserved for a head (LM decoder bias, classifier head) so the
	 * optimizer sees one flat array. */
	float *param, *grad;
	size_t nparam;          /* encoder parameters (unique) */
	size_t nextra;
	float *xparam, *xgrad;  /* param + nparam, grad + nparam */
	struct awd_params p, g;
	struct awd_tensor tensor[AWD_MAX_TENSORS];
	int ntensor;

	/* which gradients backward computes.  grad_emb: embedding;
	 * grad_rnn[l]: rnns[l]'s weights.  Backward stops below the lowest
	 * layer that needs anything (frozen groups cost nothing). */
	int grad_emb, grad_rnn[AWD_MAX_LAYERS];
	/* Optional (data parallel, learn/dist.h): called as awd_backward
	 * finishes rnns[l]'s gradients (those with grad_rnn[l] set), top
	 * layer first, so their reduction over processes can start while
	 * the layers below run.  The embedding's gradient is final only at
	 * the end (the decoder is tied to it): its owner says so.  NULL: no
	 * calls. */
	void (*grad_ready)(void *ctx, int layer);
	void *grad_ctx;

	/* hidden state: h[l], c[l] (maxB, H_l); state_bs rows are live.
	 * Detached: backward never goes into them. */
	float *h[AWD_MAX_LAYERS], *c[AWD_MAX_LAYERS];
	int state_bs;

	/* dropout masks of the last forward (factors 0 or 1/(1-p); all 1 in
	 * eval).  Exposed so tests can replay them in PyTorch.  Each is
	 * philox(drop_key, site, index) (kernels/dropout.h); drop_key is the
	 * one draw a training forward takes from its rng (0 in eval). */
	uint64_t drop_key;
	/* Row r of a batch is row row0 + r * row_step of the whole batch's
	 * per-row masks (in, hidden; the LM's output and the classifier
	 * head's too): a data-parallel rank holding rows rank, rank + ranks,
	 * ... draws the single process's masks for them.  0 and 1 (what
	 * awd_create sets): the batch is the whole batch. */
	long row0, row_step;
	float *emb_mask;                        /* (V) per vocab row */
	float *in_mask;                         /* (B,E) input_dp */
	float *hid_mask[AWD_MAX_LAYERS];        /* (B,H_l) after layer l<L-1 */
	float *w_mask[AWD_MAX_LAYERS];          /* (4H,H) WeightDropout */
	float *w_used[AWD_MAX_LAYERS];          /* (4H,H) weight_hh used */

	/* the last forward's shape and mode, for backward */
	int B, T, train;
	uint32_t *tok;          /* (maxB*maxT) the batch's ids, uploaded */

	struct awd_rnn_act *act;        /* per-layer caches (time-major) */
	float *out;             /* (B,T,E) last layer output, batch-first */
	float *scratch;         /* backward work space */
	float *wpack;           /* W_hh packed for the recurrence (gemm.h),
	                           once per layer per forward / backward */
	void *arena;            /* one block of k's memory: params, grads,
	                         * activations */
	size_t arena_bytes;
};

/* Size and allocate (one block).  Dies with a sentence on failure. */
void awd_create(struct awd *m, const struct awd_config *cfg, int maxB,
                int maxT, size_t extra);
void awd_free(struct awd *m);
size_t awd_param_count(const struct awd_config *cfg);

/* fastai init: embedding U(-0.1,0.1) (pad row too); every LSTM tensor
 * U(-1/sqrt(H_l), 1/sqrt(H_l)).  Extra head params are not touched. */
void awd_init(struct awd *m, struct rng *r);

/* Eval only: tensor t's weight view (and its alias's) reads w from now
 * on instead of its place in m->param, e.g. a checkpoint's mapping that
 * outlives m, so nothing is copied and untouched embedding rows are never
 * read.  Training must not borrow: the optimizer steps m->param. */
void awd_borrow(struct awd *m, struct awd_tensor *t, float *w);

/* Find a tensor by encoder-relative name; NULL if none. */
struct awd_tensor *awd_tensor(struct awd *m, const char *name);

/* Hidden state: zeros for every row (ModelResetter). */
void awd_reset(struct awd *m);
/* Change the live batch rows to B: rows added are zero, extra rows are
 * dropped from the end (fastai's _change_hidden).  awd_forward does this
 * itself when B differs. */
void awd_resize(struct awd *m, int B);

/* Forward.  tok (B,T) batch-first ids < V (host memory, uploaded into
 * m->tok).  train 1: new dropout masks keyed by one draw from r; 0: no
 * dropout (r may be NULL).  Returns the last layer's output (B,T,E), owned by m (valid
 * until the next forward).  The state is updated to the last step. */
float *awd_forward(struct awd *m, const uint32_t *tok, int B, int T,
                   int train, struct rng *r);

/* What a training forward (train 1) takes from r, without running it: a
 * data-parallel rank none of whose rows run a chunk that other ranks' rows
 * run keeps its rng in step with theirs.  train 0: nothing. */
void awd_forward_skip(int train, struct rng *r);

/* Backward of the last forward.  dout (B,T,E) gradient on its output.
 * Adds into m->grad (zero it with awd_zero_grad).  dout is not modified. */
void awd_backward(struct awd *m, const float *dout);
void awd_zero_grad(struct awd *m);      /* zeros grad incl. extra */

#endif
