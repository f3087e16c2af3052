/* clasio.c: the classifier's checkpoints (state dict, encoder discovery,
 * loading), documents in batches, prediction and metrics (see clasio.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/clas.h"
#include "learn/clasio.h"
#include "data/clsbatch.h"
#include "kernels.h"
#include "learn/optim.h"
#include "torch/pth.h"
#include "core/util.h"
#include "data/vocab.h"

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
