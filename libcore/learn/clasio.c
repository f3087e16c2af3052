/* clasio.c: the classifier's checkpoints (state dict, encoder discovery,
 * loading), documents in batches, prediction and metrics (see clasio.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/clas.h"
#include "learn/ckpt.h"
#include "learn/clasio.h"
#include "data/clsbatch.h"
#include "kernels.h"
#include "learn/optim.h"
#include "torch/pth.h"
#include "core/util.h"
#include "data/vocab.h"

int
clas_state_dict(struct clas *c, struct pth_tensor *t, char (*names)[64],
                int max)
{
	struct ckpt_table tb;
	ckpt_clas_table(c, &tb);
	if (max < tb.n)
		die("classifier: state dict table too small");
	ckpt_tensors(&tb, t);
	for (int i = 0; i < tb.n; i++) {
		memcpy(names[i], tb.r[i].name, 64);
		t[i].name = names[i];
	}
	return tb.n;
}

const char *
clas_encoder_prefix(const struct pth *p)
{
	return pth_encoder_prefix(p);
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
	struct ckpt_table t;
	ckpt_enc_table(&c->enc, &t);
	ckpt_load(&t, p, prefix, NULL);
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
load(struct clas *c, const struct pth *p, int borrow)
{
	struct ckpt_table t;
	ckpt_clas_table(c, &t);
	ckpt_load(&t, p, "", borrow ? &c->enc : NULL);
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

	if (!clas_encoder_sizes(p, "0.module.", &ac))
		die("%s: not a text classifier checkpoint (no "
		    "0.module.encoder.weight)", p->path);
	clas_head_sizes(p, &nhid, &nclass, &drop0, &drop1);
	/* the metadata's settings (ckpt_meta_read checks them as the
	 * command line would) */
	struct ckpt_meta m;
	ckpt_meta_read(&m, p);
	float dm = ckpt_meta_has(&m, "drop_mult") ? (float)m.drop_mult : 0.5f;
	int vocab = ac.vocab, emb = ac.emb, hid = ac.hidden, L = ac.layers;
	awd_config_clas(&ac, vocab, dm);
	ac.emb = emb, ac.hidden = hid, ac.layers = L;
	clas_config_default(&cc, &ac, nclass, alpha, beta);
	cc.nhid = nhid;
	if (ckpt_meta_has(&m, "ps"))
		cc.p1 = (float)m.ps;
	cc.drop0 = drop0, cc.drop1 = drop1;
	if (!drop0)
		cc.p0 = 0;
	if (!drop1)
		cc.p1 = 0;
	if (ckpt_meta_has(&m, "bptt"))
		cc.bptt = m.bptt;
	if (ckpt_meta_has(&m, "max_len"))
		cc.max_len = m.max_len;
	if (cc.max_len < cc.bptt)
		die("%s: bad bptt/max_len in the metadata", p->path);
	/* our file names its classes: exactly one per output of the head */
	if (m.nlabels && m.nlabels != nclass)
		die("%s: head has %d outputs but %s%d labels", p->path, nclass,
		    m.nlabels > nclass ? "more than " : "",
		    m.nlabels > nclass ? nclass : m.nlabels);
	clas_create(c, &ac, &cc, maxB);
	load(c, p, borrow);
	*labels = xcalloc(nclass, sizeof **labels);
	for (int k = 0; k < nclass; k++) {
		char key[32];
		snprintf(key, sizeof key, "%d", k);
		(*labels)[k] = xstrdup(m.nlabels ? m.labels[k] : key);
	}
	ckpt_meta_free(&m);
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
				float z[nc];    /* the model's memory: a copy */
				kern_download(c->enc.k, z, c->logits +
				              (size_t)b * nc, sizeof z);
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
