/* ckpt.c: checkpoint metadata (typed), model tables, the vocab check and
 * the LSTM state records.  See ckpt.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stream.h"
#include "core/util.h"
#include "kernels.h"
#include "learn/ckpt.h"
#include "learn/optim.h"
#include "model/clas.h"
#include "model/lm.h"

/* ---- metadata ---------------------------------------------------------- */

enum { F_STR, F_INT, F_U64, F_HEX, F_NUM, F_MOMS };

#define O(x) offsetof(struct ckpt_meta, x)
#define S(x) sizeof(((struct ckpt_meta *)0)->x)
static const struct field {
	const char *key;
	int type;
	size_t off, size;
	int64_t lo, hi;
	unsigned group;
} fields[] = {
	{ "vocab_n", F_INT, O(vocab_n), S(vocab_n), 1, UINT32_MAX, CK_VOCAB },
	{ "vocab_xxh64", F_HEX, O(vocab_xxh64), 8, 0, 0, CK_VOCAB },
	{ "vocab_path", F_STR, O(vocab_path), 0, 0, 0, 0 },
	{ "sp_xxh64", F_HEX, O(sp_xxh64), 8, 0, 0, 0 },
	{ "sp_path", F_STR, O(sp_path), 0, 0, 0, 0 },
	{ "emb_sz", F_INT, O(emb), S(emb), 1, 1 << 16, CK_SIZES },
	{ "n_hid", F_INT, O(hid), S(hid), 1, 1 << 16, CK_SIZES },
	{ "n_layers", F_INT, O(layers), S(layers), 1, AWD_MAX_LAYERS, CK_SIZES },
	{ "pad_token", F_INT, O(pad), S(pad), -1, INT32_MAX, 0 },
	{ "drop_mult", F_NUM, O(drop_mult), 8, 0, 0, CK_DROP },
	{ "ps", F_NUM, O(ps), 8, 0, 0, CK_HEAD },
	{ "bptt", F_INT, O(bptt), S(bptt), 1, INT32_MAX, CK_HEAD },
	{ "max_len", F_INT, O(max_len), S(max_len), 1, INT32_MAX, CK_HEAD },
	{ "lin_ftrs", F_INT, O(lin_ftrs), S(lin_ftrs), 1, INT32_MAX, CK_HEAD },
	{ "nclass", F_INT, O(nclass), S(nclass), 2, 1 << 20, CK_HEAD },
	{ "seed", F_U64, O(seed), 8, 0, 0, CK_SEED },
	{ "bs", F_INT, O(bs), S(bs), 1, INT32_MAX, CK_SEED },
	{ "lr_lo", F_NUM, O(fit.lr_lo), 8, 0, 0, CK_FIT },
	{ "lr_hi", F_NUM, O(fit.lr_hi), 8, 0, 0, CK_FIT },
	{ "wd", F_NUM, O(fit.wd), 8, 0, 0, CK_FIT },
	{ "moms", F_MOMS, O(fit.moms), 24, 0, 0, CK_FIT },
	{ "pct_start", F_NUM, O(fit.pct_start), 8, 0, 0, CK_FIT },
	{ "div", F_NUM, O(fit.div), 8, 0, 0, CK_FIT },
	{ "div_final", F_NUM, O(fit.div_final), 8, 0, 0, CK_FIT },
	{ "clip", F_NUM, O(fit.clip), 8, 0, 0, CK_FIT },
	{ "clip_global", F_INT, O(fit.clip_global), S(fit.clip_global), 0, 1,
	  CK_FIT },
	{ "alpha", F_NUM, O(fit.alpha), 8, 0, 0, CK_FIT },
	{ "beta", F_NUM, O(fit.beta), 8, 0, 0, CK_FIT },
	{ "seq_len", F_INT, O(seq_len), S(seq_len), 1, UINT32_MAX, CK_STREAM },
	{ "stream_seed", F_U64, O(stream_seed), 8, 0, 0, CK_STREAM },
	{ "stream_epochs", F_INT, O(stream_epochs), S(stream_epochs), 0,
	  UINT32_MAX, CK_STREAM },
	{ "train_batches", F_INT, O(train_batches), S(train_batches), 0,
	  UINT32_MAX, CK_STREAM },
	{ "train_tags", F_STR, O(train_tags), 0, 0, 0, CK_TAGS },
	{ "valid_tags", F_STR, O(valid_tags), 0, 0, 0, CK_TAGS },
	{ "freeze_to", F_INT, O(run.freeze_to), S(run.freeze_to), -64, 64,
	  CK_RUN },
	{ "n_epoch", F_INT, O(run.n_epoch), S(run.n_epoch), 1, INT32_MAX,
	  CK_RUN },
	{ "epoch", F_INT, O(run.epoch), S(run.epoch), 0, INT32_MAX, CK_RUN },
	{ "batch", F_INT, O(run.batch), S(run.batch), 0, INT64_MAX, CK_RUN },
	{ "step", F_INT, O(run.step), S(run.step), 0, INT64_MAX, CK_RUN },
	{ "done", F_INT, O(run.done), S(run.done), 0, 1, CK_RUN },
	{ "smooth_val", F_NUM, O(run.sm.val), 8, 0, 0, CK_RUN },
	{ "smooth_count", F_INT, O(run.sm.count), S(run.sm.count), 0,
	  INT64_MAX, CK_RUN },
	{ "parent", F_HEX, O(run.parent), 8, 0, 0, CK_RUN },
	{ "hidden_rows", F_INT, O(hidden_rows), S(hidden_rows), 1, 1 << 20, 0 },
	{ "parent_xxh64", F_HEX, O(parent_xxh64), 8, 0, 0, 0 },
};
#define NFIELD ((int)(sizeof fields / sizeof *fields))
_Static_assert(sizeof fields / sizeof *fields <= 64, "present is 64 bits");

static _Noreturn void
damaged(const struct ckpt_meta *m, const char *key, const char *v,
        const char *why)
{
	die("%s: metadata %s=%s %s; the file is damaged or was not made by "
	    "these tools", m->path, key, v, why);
}

static void
put_int(void *at, size_t size, int64_t x)
{
	if (size == 8) {
		memcpy(at, &x, 8);
	} else {
		int32_t y = (int32_t)(uint32_t)x;
		memcpy(at, &y, 4);
	}
}

static void
read_field(struct ckpt_meta *m, const struct field *f, const char *v)
{
	char *at = (char *)m + f->off, *end, tail;
	char why[96];
	errno = 0;
	switch (f->type) {
	case F_STR:
		ckpt_set_str((char **)at, v);
		break;
	case F_INT: {
		long long x = strtoll(v, &end, 10);
		if (!*v || *end || isspace((unsigned char)*v) || errno ||
		    x < f->lo || x > f->hi) {
			snprintf(why, sizeof why, "is not an integer from %lld "
			         "to %lld", (long long)f->lo, (long long)f->hi);
			damaged(m, f->key, v, why);
		}
		put_int(at, f->size, x);
		break;
	}
	case F_U64:
	case F_HEX: {
		int base = f->type == F_HEX ? 16 : 10;
		unsigned long long x = strtoull(v, &end, base);
		if (!*v || *end || !isxdigit((unsigned char)*v) || errno ||
		    (base == 10 && strspn(v, "0123456789") != strlen(v)))
			damaged(m, f->key, v, base == 16 ?
			        "is not a hexadecimal number" :
			        "is not a whole number");
		uint64_t u = x;
		memcpy(at, &u, 8);
		break;
	}
	case F_NUM: {
		double x = strtod(v, &end);
		if (!*v || *end || isspace((unsigned char)*v) || !isfinite(x))
			damaged(m, f->key, v, "is not a finite number");
		memcpy(at, &x, 8);
		break;
	}
	case F_MOMS: {
		double x[3];
		if (sscanf(v, "%lf,%lf,%lf%c", &x[0], &x[1], &x[2], &tail) != 3 ||
		    !isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2]))
			damaged(m, f->key, v, "is not three numbers");
		memcpy(at, x, sizeof x);
		break;
	}
	}
}

static int
has(const struct ckpt_meta *m, const char *key)
{
	for (int i = 0; i < NFIELD; i++)
		if (!strcmp(fields[i].key, key))
			return (int)(m->present >> i & 1);
	return 0;
}

int
ckpt_meta_has(const struct ckpt_meta *m, const char *key)
{
	return has(m, key);
}

static void
refuse(const struct ckpt_meta *m, const char *key, const char *rule)
{
	const char *k = key;
	char v[64];
	for (int i = 0; i < NFIELD; i++)
		if (!strcmp(fields[i].key, key)) {
			const char *at = (const char *)m + fields[i].off;
			double x;
			memcpy(&x, at, 8);
			snprintf(v, sizeof v, "%g", x);
		}
	die("%s: metadata %s=%s: %s; the file is damaged or was not made by "
	    "these tools", m->path, k, v, rule);
}

void
ckpt_meta_read(struct ckpt_meta *m, const struct pth *p)
{
	const char *v;
	memset(m, 0, sizeof *m);
	m->path = p->path;
	if (!p->meta)
		return;
	if ((v = pth_meta(p, "kind")))
		m->kind = !strcmp(v, "lm") ? CKPT_LM : !strcmp(v, "clas") ?
		          CKPT_CLAS : !strcmp(v, "encoder") ? CKPT_ENCODER :
		          (damaged(m, "kind", v, "is not lm, clas or encoder"), 0);
	if ((v = pth_meta(p, "tool")))
		snprintf(m->tool, sizeof m->tool, "%s", v);
	for (int i = 0; i < NFIELD; i++)
		if ((v = pth_meta(p, fields[i].key))) {
			read_field(m, &fields[i], v);
			m->present |= 1ULL << i;
		}
	if ((v = pth_meta(p, "sp_xxh64")) && strlen(v) != 16)
		damaged(m, "sp_xxh64", v, "is not 16 hex digits");
	m->has_pad = has(m, "pad_token");
	m->has_parent_xxh64 = has(m, "parent_xxh64");
	if (!has(m, "sp_xxh64"))
		ckpt_set_str(&m->sp_path, NULL);
	else if (!m->sp_path)
		m->sp_path = xstrdup("");
	/* the ranges the command line enforces */
	if (has(m, "drop_mult") && !(m->drop_mult >= 0))
		refuse(m, "drop_mult", "--drop-mult must be >= 0");
	if (has(m, "ps") && !(m->ps >= 0 && m->ps < 1))
		refuse(m, "ps", "--ps must be in [0, 1)");
	if (has(m, "bptt") && has(m, "max_len") && m->max_len < m->bptt)
		die("%s: metadata max_len=%d is below bptt=%d; the file is "
		    "damaged or was not made by these tools", m->path,
		    m->max_len, m->bptt);
	if (has(m, "bs") && m->kind == CKPT_CLAS && m->bs < 2) {
		char b[24];
		snprintf(b, sizeof b, "%d", m->bs);
		damaged(m, "bs", b, "is below 2 (as -b)");
	}
	unsigned fit_all = 1;
	for (int i = 0; i < NFIELD; i++)
		if (fields[i].group == CK_FIT)
			fit_all &= (unsigned)(m->present >> i & 1);
	const struct fit_opts *f = &m->fit;
	if (fit_all && (!fit_opts_valid(f) || !(f->lr_hi > 0 && f->lr_lo >= 0 &&
	                                        f->lr_lo <= f->lr_hi)))
		die("%s: its metadata holds settings the command line refuses "
		    "(lr, wd, pct_start, div, div_final, clip, alpha or beta "
		    "out of range); the file is damaged or was not made by "
		    "these tools", p->path);
	if (has(m, "freeze_to") && (m->kind == CKPT_LM || m->kind == CKPT_CLAS)) {
		/* --freeze-to's range: 4 groups for the LM, 5 for clastrain */
		int g = m->kind == CKPT_LM ? 4 : 5;
		if (m->run.freeze_to < -g || m->run.freeze_to >= g) {
			char b[24], why[64];
			snprintf(b, sizeof b, "%d", m->run.freeze_to);
			snprintf(why, sizeof why, "is not an integer from %d to %d",
			         -g, g - 1);
			damaged(m, "freeze_to", b, why);
		}
	}
	if (has(m, "epoch") && has(m, "n_epoch") && m->run.epoch > m->run.n_epoch)
		die("%s: metadata epoch=%d is past n_epoch=%d; the file is "
		    "damaged or was not made by these tools", m->path,
		    m->run.epoch, m->run.n_epoch);
	/* the class names, label.0 .. label.(nclass-1) */
	if (pth_meta(p, "label.0")) {
		int n = 0;
		char key[32];
		do
			snprintf(key, sizeof key, "label.%d", ++n);
		while (n <= (m->nclass ? m->nclass : 1 << 20) && pth_meta(p, key));
		m->labels = xcalloc(n, sizeof *m->labels);
		for (int k = 0; k < n; k++) {
			snprintf(key, sizeof key, "label.%d", k);
			m->labels[k] = xstrdup(pth_meta(p, key));
		}
		m->nlabels = n;
	}
}

void
ckpt_meta_need(const struct ckpt_meta *m, unsigned groups, const char *what)
{
	for (int i = 0; i < NFIELD; i++)
		if ((fields[i].group & groups) && !(m->present >> i & 1))
			die("%s: no '%s' in its metadata: not %s", m->path,
			    fields[i].key, what);
}

void
ckpt_set_str(char **field, const char *v)
{
	free(*field);
	*field = v ? xstrdup(v) : NULL;
}

void
ckpt_meta_free(struct ckpt_meta *m)
{
	for (int k = 0; k < m->nlabels; k++)
		free(m->labels[k]);
	free(m->labels);
	free(m->vocab_path), free(m->sp_path);
	free(m->train_tags), free(m->valid_tags);
	memset(m, 0, sizeof *m);
}

static void
fit_add(char **t, const struct fit_opts *f)
{
	params_add(t, "lr_lo", "%.17g", f->lr_lo);
	params_add(t, "lr_hi", "%.17g", f->lr_hi);
	params_add(t, "wd", "%.17g", f->wd);
	params_add(t, "moms", "%.17g,%.17g,%.17g", f->moms[0], f->moms[1],
	           f->moms[2]);
	params_add(t, "pct_start", "%.17g", f->pct_start);
	params_add(t, "div", "%.17g", f->div);
	params_add(t, "div_final", "%.17g", f->div_final);
	params_add(t, "clip", "%.17g", f->clip);
	params_add(t, "clip_global", "%d", f->clip_global);
	params_add(t, "alpha", "%.17g", f->alpha);
	params_add(t, "beta", "%.17g", f->beta);
}

static void
run_add(char **t, const struct trainrun *r)
{
	params_add(t, "freeze_to", "%d", r->freeze_to);
	params_add(t, "n_epoch", "%d", r->n_epoch);
	params_add(t, "epoch", "%d", r->epoch);
	params_add(t, "batch", "%lld", (long long)r->batch);
	params_add(t, "step", "%lld", (long long)r->step);
	params_add(t, "done", "%d", r->done);
	params_add(t, "smooth_val", "%a", r->sm.val);
	params_add(t, "smooth_count", "%lld", (long long)r->sm.count);
	params_add(t, "parent", "%016llx", (unsigned long long)r->parent);
}

char *
ckpt_meta_text(const struct ckpt_meta *m)
{
	int lm = m->kind == CKPT_LM;
	char *t = NULL;
	if (m->kind != CKPT_LM && m->kind != CKPT_CLAS)
		die("ckpt: metadata of kind %d is not written here", m->kind);
	params_add(&t, "kind", lm ? "lm" : "clas");
	params_add(&t, "tool", "%s", m->tool);
	params_add(&t, "vocab_n", "%u", m->vocab_n);
	params_add(&t, "vocab_xxh64", "%016llx",
	           (unsigned long long)m->vocab_xxh64);
	if (m->vocab_path)
		params_add(&t, "vocab_path", "%s", m->vocab_path);
	if (m->sp_path) {
		params_add(&t, "sp_xxh64", "%016llx",
		           (unsigned long long)m->sp_xxh64);
		params_add(&t, "sp_path", "%s", m->sp_path);
	}
	params_add(&t, "emb_sz", "%d", m->emb);
	params_add(&t, "n_hid", "%d", m->hid);
	params_add(&t, "n_layers", "%d", m->layers);
	if (lm) {
		params_add(&t, "pad_token", "%d", m->pad);
		params_add(&t, "drop_mult", "%.9g", m->drop_mult);
		params_add(&t, "seed", "%llu", (unsigned long long)m->seed);
		fit_add(&t, &m->fit);
		params_add(&t, "bs", "%d", m->bs);
		params_add(&t, "seq_len", "%u", m->seq_len);
		params_add(&t, "stream_seed", "%llu",
		           (unsigned long long)m->stream_seed);
		params_add(&t, "stream_epochs", "%u", m->stream_epochs);
		params_add(&t, "train_batches", "%u", m->train_batches);
		run_add(&t, &m->run);
		if (m->hidden_rows)
			params_add(&t, "hidden_rows", "%d", m->hidden_rows);
	} else {
		params_add(&t, "drop_mult", "%.9g", m->drop_mult);
		params_add(&t, "ps", "%.9g", m->ps);
		params_add(&t, "bptt", "%d", m->bptt);
		params_add(&t, "max_len", "%d", m->max_len);
		params_add(&t, "lin_ftrs", "%d", m->lin_ftrs);
		params_add(&t, "nclass", "%d", m->nclass);
		for (int k = 0; k < m->nlabels; k++) {
			char key[32];
			snprintf(key, sizeof key, "label.%d", k);
			params_add(&t, key, "%s", m->labels[k]);
		}
		params_add(&t, "seed", "%llu", (unsigned long long)m->seed);
		params_add(&t, "bs", "%d", m->bs);
		fit_add(&t, &m->fit);
		params_add(&t, "train_tags", "%s", m->train_tags);
		params_add(&t, "valid_tags", "%s", m->valid_tags);
		run_add(&t, &m->run);
	}
	return t;
}

void
ckpt_check_vocab(const struct pth *p, int64_t rows, uint32_t vocab_n,
                 uint64_t vocab_xxh64, const char *stream, const char *hint)
{
	struct ckpt_meta m;
	ckpt_meta_read(&m, p);
	int said = ckpt_meta_has(&m, "vocab_xxh64");
	if (said && (m.vocab_xxh64 != vocab_xxh64 ||
	             (ckpt_meta_has(&m, "vocab_n") && m.vocab_n != vocab_n)))
		die("%s: made with another vocab (%u tokens, xxh64 %016llx) "
		    "than %s (%u tokens, xxh64 %016llx); use the vocab the "
		    "checkpoint was trained with", p->path, m.vocab_n,
		    (unsigned long long)m.vocab_xxh64, stream, vocab_n,
		    (unsigned long long)vocab_xxh64);
	ckpt_meta_free(&m);
	if (!said && rows != (int64_t)vocab_n)
		die("%s: its embedding has %lld rows, but the vocab of %s has "
		    "%u tokens%s%s", p->path, (long long)rows, stream,
		    vocab_n, hint ? "; " : "", hint ? hint : "");
}

/* ---- tables ------------------------------------------------------------ */

static struct ckpt_row *
row_add(struct ckpt_table *t, const struct awd_tensor *a, const char *prefix)
{
	if (t->n == CKPT_MAXROWS)
		die("ckpt: table full");
	struct ckpt_row *r = &t->r[t->n++];
	memset(r, 0, sizeof *r);
	size_t pl = strlen(prefix), nl = strnlen(a->name, sizeof a->name);
	if (pl + nl >= sizeof r->name)
		die("ckpt: tensor name too long");
	memcpy(r->name, prefix, pl);
	memcpy(r->name + pl, a->name, nl);
	r->name[pl + nl] = 0;
	r->w = a->w, r->ndim = a->ndim, r->n = a->n, r->alias = a->alias;
	r->shape[0] = a->shape[0], r->shape[1] = a->ndim > 1 ? a->shape[1] : 0;
	return r;
}

void
ckpt_lm_table(struct lm *lm, struct ckpt_table *t)
{
	struct awd_tensor at[AWD_MAX_TENSORS + 2];
	int n = lm_tensors(lm, at, AWD_MAX_TENSORS + 2);
	t->n = 0, t->k = lm->enc.k;
	for (int i = 0; i < n; i++)
		row_add(t, &at[i], "");
}

void
ckpt_enc_table(struct awd *a, struct ckpt_table *t)
{
	t->n = 0, t->k = a->k;
	for (int i = 0; i < a->ntensor; i++)
		row_add(t, &a->tensor[i], "")->at = &a->tensor[i];
}

static struct ckpt_row *
buf_row(struct ckpt_table *t, int bn, const char *what, float *f,
        int64_t *l, int64_t C)
{
	struct ckpt_row *r = &t->r[t->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->name, sizeof r->name, "1.layers.%d.0.%s", bn, what);
	r->w = f, r->l = l;
	r->ndim = l ? 0 : 1, r->shape[0] = l ? 0 : C, r->n = l ? 1 : (size_t)C;
	r->optional = l != NULL;
	return r;
}

void
ckpt_clas_table(struct clas *c, struct ckpt_table *t)
{
	struct awd_tensor at[AWD_MAX_TENSORS + 8];
	int n = clas_tensors(c, at, AWD_MAX_TENSORS + 8);
	t->n = 0, t->k = c->enc.k;
	if (n + 6 > CKPT_MAXROWS)
		die("classifier: state dict table too small");
	for (int i = 0; i < n; i++) {
		struct ckpt_row *r = row_add(t, &at[i], "");
		if (!strncmp(r->name, "0.module.", 9))
			r->at = awd_tensor(&c->enc, r->name + 9);
		/* the Linear may sit at .1. or .2. (Dropout left out or not) */
		r->alt = !strncmp(r->name, "1.layers.", 9) && r->name[11] != '0';
		/* BN buffers follow their layer's bias */
		int bn = !strcmp(r->name, "1.layers.0.0.bias") ? 0 :
		         !strcmp(r->name, "1.layers.1.0.bias") ? 1 : -1;
		if (bn < 0)
			continue;
		int64_t C = bn ? c->cfg.nhid : c->D3;
		buf_row(t, bn, "running_mean", bn ? c->bn1_mean : c->bn0_mean,
		        NULL, C);
		buf_row(t, bn, "running_var", bn ? c->bn1_var : c->bn0_var,
		        NULL, C);
		buf_row(t, bn, "num_batches_tracked", NULL,
		        bn ? &c->bn1_nbt : &c->bn0_nbt, 0);
	}
}

/* Model memory is written here only: floats are the model's device
 * memory (kern_upload), the BatchNorm counters host integers. */
static void
put(const struct ckpt_table *t, const struct ckpt_row *r, const void *src)
{
	if (r->w)
		kern_upload(t->k, r->w, src, r->n * sizeof *r->w);
	else
		memcpy(r->l, src, r->n * sizeof *r->l);
}

void
ckpt_load(const struct ckpt_table *t, const struct pth *p, const char *prefix,
          struct awd *borrow)
{
	char k[128], alt[128];
	for (int i = 0; i < t->n; i++) {
		const struct ckpt_row *r = &t->r[i];
		if (r->alias)
			continue;
		snprintf(k, sizeof k, "%s%s", prefix, r->name);
		if (r->alt) {
			size_t o = strlen(prefix) + 11;
			memcpy(alt, k, sizeof alt);
			alt[o] = alt[o] == '2' ? '1' : '2';
			if (!pth_find(p, k) && pth_find(p, alt))
				memcpy(k, alt, sizeof k);
		}
		if (r->l) {
			const struct pth_tensor *pt = pth_find(p, k);
			int64_t v = pt && pt->l && pt->numel == 1 ? pt->l[0] : 0;
			if (!pt && !r->optional)
				die("%s: no tensor %s", p->path, k);
			put(t, r, &v);
			continue;
		}
		float *w = pth_need(p, k, r->ndim, r->shape)->f;
		if (borrow && r->at)
			awd_borrow(borrow, r->at, w);
		else
			put(t, r, w);
	}
}

static void
download(const struct ckpt_table *t, float **host, int all)
{
	for (int i = 0; i < t->n; i++) {
		host[i] = NULL;
		if (!t->r[i].w || (!all && t->k->backend == KERN_CPU))
			continue;
		for (int j = 0; j < i && !host[i]; j++)
			if (t->r[j].w == t->r[i].w)
				host[i] = host[j];
		if (!host[i]) {
			host[i] = xmalloc(t->r[i].n * sizeof **host + 1);
			kern_download(t->k, host[i], t->r[i].w,
			              t->r[i].n * sizeof **host);
		}
	}
}

static void
host_free(const struct ckpt_table *t, float **host)
{
	for (int i = 0; i < t->n; i++) {
		int first = host[i] != NULL;
		for (int j = 0; j < i && first; j++)
			first = host[j] != host[i];
		if (first)
			free(host[i]);
	}
}

void
ckpt_rows_download(const struct ckpt_table *t, float **host)
{
	download(t, host, 1);
}

void
ckpt_rows_upload(const struct ckpt_table *t, float **host)
{
	for (int i = 0; i < t->n; i++)
		if (host[i] && !t->r[i].alias)
			put(t, &t->r[i], host[i]);
	host_free(t, host);
}

int
ckpt_tensors(const struct ckpt_table *t, struct pth_tensor *out)
{
	for (int i = 0; i < t->n; i++) {
		const struct ckpt_row *r = &t->r[i];
		memset(&out[i], 0, sizeof out[i]);
		out[i].name = r->name;
		out[i].dtype = r->l ? PTH_I64 : PTH_F32;
		out[i].f = r->w, out[i].l = r->l;
		out[i].ndim = r->ndim;
		out[i].numel = (int64_t)r->n;
		for (int d = 0; d < r->ndim; d++)
			out[i].shape[d] = r->shape[d];
	}
	return t->n;
}

int
ckpt_save(const char *path, const struct ckpt_table *t, struct optim *opt,
          const struct ckpt_meta *m, const struct pth_record *rec, int nrec)
{
	struct pth_tensor pt[CKPT_MAXROWS];
	float *host[CKPT_MAXROWS];
	int n = ckpt_tensors(t, pt);
	/* the CPU backend's memory is the host's: written where it lies;
	 * another backend's is downloaded once per storage (tied rows share
	 * the copy, so they stay tied) */
	download(t, host, 0);
	for (int i = 0; i < n; i++)
		if (host[i])
			pt[i].f = host[i];
	char *meta = ckpt_meta_text(m);
	struct pv_pool pool = {0};
	struct pv *sd = pth_state_dict(&pool, pt, n);
	struct pv *root = pth_learner(&pool, sd, opt ? opt_state(opt, &pool)
	                                             : NULL);
	int r = pth_save_records(path, root, meta, rec, nrec);
	pv_pool_free(&pool);
	free(meta);
	host_free(t, host);
	return r;
}

/* ---- the LSTM state ---------------------------------------------------- */

int
ckpt_state_records(const struct awd *a, struct pth_record *rec,
                   char (*names)[24])
{
	int n = 0;
	for (int l = 0; l < a->cfg.layers; l++)
		for (int k = 0; k < 2; k++, n++) {
			size_t size = sizeof(float) * (size_t)a->state_bs *
			              awd_layer_out(&a->cfg, l);
			void *host = xmalloc(size + 1);
			kern_download(a->k, host, k ? a->c[l] : a->h[l], size);
			snprintf(names[n], 24, "state.%d.%c", l, k ? 'c' : 'h');
			rec[n] = (struct pth_record){ names[n], host, size };
		}
	return n;
}

void
ckpt_state_free(struct pth_record *rec, int n)
{
	for (int i = 0; i < n; i++)
		free((void *)rec[i].data);
}

/* Checkpoints of before the records: the state as hex in hidden= */
static void
state_from_hex(const struct pth *p, struct awd *a, int rows)
{
	const char *h = p->meta ? strstr(p->meta, "\nhidden=") : NULL;
	if (!h)
		die("%s: no LSTM state in it (no ulmfit/state.* records); it "
		    "was not saved mid-epoch, or is damaged", p->path);
	h += 8;
	for (int l = 0; l < a->cfg.layers; l++)
		for (int k = 0; k < 2; k++) {
			size_t nb = 4 * (size_t)rows * awd_layer_out(&a->cfg, l);
			unsigned char *b = xmalloc(nb + 1);
			for (size_t i = 0; i < nb; i++, h += 2) {
				int v = 0;
				for (int j = 0; j < 2; j++) {
					char c = h[j];
					int d = c >= '0' && c <= '9' ? c - '0' :
					        c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
					if (d < 0)
						die("%s: damaged LSTM state in its "
						    "metadata", p->path);
					v = v << 4 | d;
				}
				b[i] = (unsigned char)v;
			}
			kern_upload(a->k, k ? a->c[l] : a->h[l], b, nb);
			free(b);
		}
}

void
ckpt_state_restore(const struct pth *p, struct awd *a, int rows)
{
	size_t size;
	awd_reset(a);
	awd_resize(a, rows);
	if (!pth_record(p, "state.0.h", &size)) {
		state_from_hex(p, a, rows);
		return;
	}
	for (int l = 0; l < a->cfg.layers; l++)
		for (int k = 0; k < 2; k++) {
			char name[24];
			snprintf(name, sizeof name, "state.%d.%c", l, k ? 'c' : 'h');
			size_t want = sizeof(float) * (size_t)rows *
			              awd_layer_out(&a->cfg, l);
			const void *d = pth_record(p, name, &size);
			if (!d || size != want)
				die("%s: record ulmfit/%s %s (want %d x %d floats); "
				    "the file is damaged", p->path, name, d ?
				    "has another size" : "is missing", rows,
				    awd_layer_out(&a->cfg, l));
			kern_upload(a->k, k ? a->c[l] : a->h[l], d, want);
		}
}
