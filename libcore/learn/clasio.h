/* clasio.h: the classifier (clas.h) as files and documents: its state
 * dict, encoder discovery in any checkpoint, loading, batches of whole
 * documents, prediction, the optimizer's groups and the metrics. */
#ifndef CLASIO_H
#define CLASIO_H

#include "model/clas.h"

struct pth;
struct pth_tensor;
/* The full state dict to save: clas_tensors' entries plus the BatchNorm
 * buffers (running_mean, running_var, num_batches_tracked) in place.
 * Names point into names[][64]; returns the count. */
int clas_state_dict(struct clas *c, struct pth_tensor *t, char (*names)[64],
                    int max);

/* Sizes of the encoder stored in p under prefix ("" for save_encoder
 * files, "0." for an LM, "0.module." for a classifier), read from the
 * tensor shapes: vocab, emb, hidden, layers.  Returns 0 if p has no
 * "<prefix>encoder.weight"; dies when the tensors do not make an
 * AWD-LSTM. */
int clas_encoder_sizes(const struct pth *p, const char *prefix,
                       struct awd_config *ac);
/* Prefix under which p holds an encoder ("", "0." or "0.module."), or
 * NULL. */
const char *clas_encoder_prefix(const struct pth *p);
/* Copy the encoder tensors from p (prefix as above) into c, checking
 * every shape.  (fastai's load_encoder.) */
void clas_load_encoder(struct clas *c, const struct pth *p,
                       const char *prefix);
/* Head sizes of a classifier file: nhid, nclass, and whether each head
 * Dropout was present (the Linear at .2. rather than .1.).  Dies if p is
 * not a classifier. */
void clas_head_sizes(const struct pth *p, int *nhid, int *nclass,
                     int *has_drop0, int *has_drop1);
/* Load a whole classifier (encoder, head, BN buffers) from p. */
void clas_load(struct clas *c, const struct pth *p);

/* Create c from a classifier file (ours or fastai's learn.save): sizes
 * from the shapes, bptt/max_len/drop_mult/ps from our metadata when present
 * (fastai's defaults otherwise), weights loaded.  Label names from our
 * metadata ("label.0=neg" ...), or "0", "1", ... for a fastai file;
 * *labels is malloc'd (free with clas_labels_free). */
void clas_open(struct clas *c, const struct pth *p, int maxB, float alpha,
               float beta, char ***labels);
/* The same for prediction only: the encoder's weights are read where p
 * holds them (awd_borrow), not copied, so p must outlive c and c must not
 * be trained. */
void clas_open_eval(struct clas *c, const struct pth *p, int maxB,
                    char ***labels);
void clas_labels_free(char **labels, int n);

/* Forward the documents docs[idx[i]] (len[idx[i]] tokens), i < nb, as one
 * batch: idx must be ordered by length, descending (sorted_order's
 * batches are); they are padded with Pad_Chunk (pad first, seq_len bptt,
 * pad 1) into *x (grown as needed, *xcap entries).  Returns the logits. */
const float *clas_forward_docs(struct clas *c, const uint32_t *const *docs,
                               const uint32_t *len, const uint32_t *idx,
                               int nb, uint32_t **x, size_t *xcap,
                               int train, struct rng *r);

struct optim;
/* Register the trainable tensors with the optimizer in fastai's classifier
 * split: group 0 the embedding, 1..L the LSTMs, L+1 the head (the
 * BatchNorm weights and biases with no weight decay and force_train).
 * optim_init(o, c->enc.cfg.layers + 2) first. */
void clas_register(struct clas *c, struct optim *o);
/* After opt_freeze_to: compute only the gradients that will be used. */
void clas_apply_freeze(struct clas *c, const struct optim *o);

/* Scratch for clas_predict (grows as needed; zero-initialise). */
struct clas_scratch {
	uint32_t *x, *order, *tmp;
	size_t xcap, ocap;
};
void clas_scratch_free(struct clas_scratch *s);

/* Evaluate n documents in eval mode, batched as fastai's validation
 * SortedDL (by length, descending, batches of c->maxB), results in input
 * order: probs (n, nclass) if not NULL, pred (n) argmax if not NULL.
 * With y (n labels): returns the sum of per-document cross-entropies and
 * adds the correct ones to *hits (fastai's valid_loss is sum/n). */
double clas_predict(struct clas *c, const uint32_t *const *docs,
                    const uint32_t *len, const uint32_t *y, size_t n,
                    float *probs, uint32_t *pred, long *hits,
                    struct clas_scratch *s);

/* Confusion matrix [true][predicted] over nclass classes. */
struct clas_confusion {
	int nc;
	uint64_t *m;
};
void confusion_init(struct clas_confusion *cm, int nc);
void confusion_add(struct clas_confusion *cm, uint32_t truth, uint32_t pred);
uint64_t confusion_total(const struct clas_confusion *cm);
double confusion_accuracy(const struct clas_confusion *cm);
/* NAN when nothing was predicted as (precision) / labelled (recall) k */
double confusion_precision(const struct clas_confusion *cm, int k);
double confusion_recall(const struct clas_confusion *cm, int k);
uint64_t confusion_support(const struct clas_confusion *cm, int k);
void confusion_free(struct clas_confusion *cm);

#endif
