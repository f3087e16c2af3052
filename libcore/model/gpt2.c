/* gpt2.c: the GPT-2 model: config, weights, forward with a KV cache
 * (see gpt2.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gpt2.h"
#include "kernels.h"
#include "torch/pth.h"
#include "torch/safetensors.h"
#include "core/buf.h"
#include "core/util.h"

/* ---- config.json ---- */

static int
cfg_int(const cJSON *root, const char *path, const char *key,
        const char *alt, int def)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
	if ((!j || cJSON_IsNull(j)) && alt)
		j = cJSON_GetObjectItemCaseSensitive(root, alt);
	if (!j || cJSON_IsNull(j)) {
		if (def < 0)
			die("%s: no \"%s\"", path, key);
		return def;
	}
	if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) ||
	    j->valuedouble < 1 || j->valuedouble > (1 << 24))
		die("%s: \"%s\" is not an integer in 1..2^24", path, key);
	return (int)j->valuedouble;
}

void
gpt2_read_config(const char *path, struct gpt2_config *c)
{
	struct buf f = {0};
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("%s:", path);
	read_all(fd, path, &f);
	close(fd);
	cJSON *root = cJSON_ParseWithLength(f.p ? f.p : "", f.n);
	free(f.p);
	if (!root || !cJSON_IsObject(root))
		die("%s: not a JSON object (a Hugging Face config.json)", path);
	c->vocab = cfg_int(root, path, "vocab_size", NULL, -1);
	c->ctx = cfg_int(root, path, "n_positions", "n_ctx", -1);
	c->C = cfg_int(root, path, "n_embd", NULL, -1);
	c->L = cfg_int(root, path, "n_layer", NULL, -1);
	c->NH = cfg_int(root, path, "n_head", NULL, -1);
	c->inner = cfg_int(root, path, "n_inner", NULL, 4 * c->C);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root,
	                                                  "layer_norm_epsilon");
	c->eps = 1e-5f;
	if (e && !cJSON_IsNull(e)) {
		if (!cJSON_IsNumber(e) || !(e->valuedouble > 0 &&
		                            e->valuedouble < 1))
			die("%s: \"layer_norm_epsilon\" is not a number in "
			    "(0, 1)", path);
		c->eps = (float)e->valuedouble;
	}
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(root,
	                                                  "activation_function");
	if (a && !(cJSON_IsString(a) && (!strcmp(a->valuestring, "gelu_new") ||
	           !strcmp(a->valuestring, "gelu_pytorch_tanh"))))
		die("%s: activation_function %s: only GPT-2's gelu_new is "
		    "supported", path, cJSON_IsString(a) ? a->valuestring : "?");
	static const char *unsup[] = { "scale_attn_by_inverse_layer_idx",
	                               "add_cross_attention" };
	for (size_t i = 0; i < sizeof unsup / sizeof *unsup; i++)
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
		                                                  unsup[i])))
			die("%s: %s is not supported", path, unsup[i]);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(root,
	                                                  "scale_attn_weights");
	if (cJSON_IsFalse(s))
		die("%s: scale_attn_weights false is not supported", path);
	cJSON_Delete(root);
	if (c->C % c->NH || c->C / c->NH > 1024)
		die("%s: n_embd %d is not n_head %d x a head size <= 1024",
		    path, c->C, c->NH);
	if ((int64_t)c->L * c->ctx * c->C > (int64_t)1 << 34)
		die("%s: n_layer x n_positions x n_embd too large", path);
}

/* ---- weights ---- */

struct wsrc {
	struct gpt2 *m;
	const char *path;
};

static const float *
wget(struct wsrc *w, const char *name, int ndim, int64_t d0, int64_t d1)
{
	char pre[256];
	int64_t want[2] = { d0, d1 };
	const int64_t *shape;
	int nd;
	const float *f;
	snprintf(pre, sizeof pre, "transformer.%s", name);
	if (w->m->st) {
		struct st_tensor *t = st_find(w->m->st, name);
		if (!t)
			t = st_find(w->m->st, pre);
		if (!t)
			die("%s: no tensor %s: not a GPT-2 checkpoint", w->path,
			    name);
		if (!(f = st_float(t)))
			die("%s: %s: integer dtype, want floats", w->path,
			    name);
		shape = t->shape, nd = t->ndim;
	} else {
		struct pth_tensor *t = pth_find(w->m->pth, name);
		if (!t)
			t = pth_find(w->m->pth, pre);
		if (!t)
			die("%s: no tensor %s: not a GPT-2 checkpoint", w->path,
			    name);
		if (!(f = t->f))
			die("%s: %s: integer dtype, want floats", w->path,
			    name);
		shape = t->shape, nd = t->ndim;
	}
	if (nd != ndim || shape[0] != d0 || (ndim == 2 && shape[1] != d1)) {
		char got[128] = "", *p = got;
		for (int i = 0; i < nd && p < got + 100; i++)
			p += sprintf(p, "%s%lld", i ? ", " : "",
			             (long long)shape[i]);
		if (ndim == 2)
			die("%s: %s has shape (%s), config.json says (%lld, "
			    "%lld)", w->path, name, got, (long long)want[0],
			    (long long)want[1]);
		die("%s: %s has shape (%s), config.json says (%lld)", w->path,
		    name, got, (long long)want[0]);
	}
	return f;
}

static void
alloc_state(struct gpt2 *m)
{
	const struct gpt2_config *c = &m->c;
	size_t kv = (size_t)c->L * c->ctx * c->C;
	m->kc = kern_alloc(m->k, kv * sizeof *m->kc);
	m->vc = kern_alloc(m->k, kv * sizeof *m->vc);
	m->logits = kern_alloc(m->k, (size_t)c->vocab * sizeof *m->logits);
	m->pos = 0;
}

static void
bind(struct gpt2 *m, struct wsrc *w)
{
	const struct gpt2_config *c = &m->c;
	int C = c->C;
	char n[128];
	m->wte = wget(w, "wte.weight", 2, c->vocab, C);
	m->wpe = wget(w, "wpe.weight", 2, c->ctx, C);
	m->lnf_w = wget(w, "ln_f.weight", 1, C, 0);
	m->lnf_b = wget(w, "ln_f.bias", 1, C, 0);
	m->l = xcalloc(c->L, sizeof *m->l);
	for (int i = 0; i < c->L; i++) {
		struct gpt2_layer *l = &m->l[i];
#define W(f, s, nd, a, b) (snprintf(n, sizeof n, "h.%d.%s", i, s), \
                           l->f = wget(w, n, nd, a, b))
		W(ln1_w, "ln_1.weight", 1, C, 0);
		W(ln1_b, "ln_1.bias", 1, C, 0);
		W(attn_w, "attn.c_attn.weight", 2, C, 3 * C);
		W(attn_b, "attn.c_attn.bias", 1, 3 * C, 0);
		W(proj_w, "attn.c_proj.weight", 2, C, C);
		W(proj_b, "attn.c_proj.bias", 1, C, 0);
		W(ln2_w, "ln_2.weight", 1, C, 0);
		W(ln2_b, "ln_2.bias", 1, C, 0);
		W(fc_w, "mlp.c_fc.weight", 2, C, c->inner);
		W(fc_b, "mlp.c_fc.bias", 1, c->inner, 0);
		W(fcp_w, "mlp.c_proj.weight", 2, c->inner, C);
		W(fcp_b, "mlp.c_proj.bias", 1, C, 0);
#undef W
	}
	alloc_state(m);
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

void
gpt2_load_file(struct gpt2 *m, const struct gpt2_config *c,
               const char *weights)
{
	memset(m, 0, sizeof *m);
	m->k = kern_default();
	m->c = *c;
	if (has_suffix(weights, ".safetensors")) {
		char *err;
		if (!(m->st = st_open(weights, &err)))
			die("%s", err);
	} else {
		m->pth = pth_load(weights);
	}
	struct wsrc w = { m, weights };
	bind(m, &w);
}

void
gpt2_load(struct gpt2 *m, const char *dir)
{
	char cfg[4096], wp[4096];
	struct gpt2_config c;
	snprintf(cfg, sizeof cfg, "%s/config.json", dir);
	if (access(cfg, R_OK))
		die("%s: no config.json: not a Hugging Face GPT-2 folder", dir);
	gpt2_read_config(cfg, &c);
	snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
	if (access(wp, R_OK))
		snprintf(wp, sizeof wp, "%s/pytorch_model.bin", dir);
	if (access(wp, R_OK))
		die("%s: no model.safetensors or pytorch_model.bin", dir);
	gpt2_load_file(m, &c, wp);
}

void
gpt2_init_random(struct gpt2 *m, const struct gpt2_config *c, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->k = kern_default();
	m->c = *c;
	int C = c->C, I = c->inner;
	size_t per = (size_t)4 * C + (size_t)C * 3 * C + 3 * C + (size_t)C * C +
	             C + (size_t)C * I + I + (size_t)I * C + C;
	size_t tot = (size_t)c->vocab * C + (size_t)c->ctx * C + 2 * C +
	             per * c->L;
	struct kern *k = m->k;
	float *p = m->own = kern_alloc(k, tot * sizeof *p);
	struct rng r;
	rng_seed(&r, seed, 0);
	float buf[4096];        /* drawn on the host in pieces, uploaded */
	for (size_t at = 0; at < tot; at += 4096) {
		size_t n = tot - at < 4096 ? tot - at : 4096;
		for (size_t i = 0; i < n; i++)  /* uniform, std 0.02 */
			buf[i] = (float)((rng_double(&r) - 0.5) * 0.02 *
			                 sqrt(12.0));
		kern_upload(k, p + at, buf, n * sizeof *buf);
	}
	m->wte = p, p += (size_t)c->vocab * C;
	m->wpe = p, p += (size_t)c->ctx * C;
	float *lw = p, *lb = p + C;
	kern_fill(k, lw, C, 1), kern_fill(k, lb, C, 0);
	m->lnf_w = lw, m->lnf_b = lb, p += 2 * C;
	m->l = xcalloc(c->L, sizeof *m->l);
	for (int i = 0; i < c->L; i++) {
		struct gpt2_layer *l = &m->l[i];
		float *q = p;
		for (int j = 0; j < 4; j++)     /* ln_1 w, b, ln_2 w, b */
			kern_fill(k, q + (size_t)j * C, C, j % 2 ? 0 : 1);
		l->ln1_w = q, l->ln1_b = q + C, l->ln2_w = q + 2 * C;
		l->ln2_b = q + 3 * C, p += 4 * C;
		l->attn_w = p, p += (size_t)C * 3 * C;
		l->attn_b = p, p += 3 * C;
		l->proj_w = p, p += (size_t)C * C;
		l->proj_b = p, p += C;
		l->fc_w = p, p += (size_t)C * I;
		l->fc_b = p, p += I;
		l->fcp_w = p, p += (size_t)I * C;
		l->fcp_b = p, p += C;
	}
	alloc_state(m);
}

void
gpt2_free(struct gpt2 *m)
{
	struct kern *k = m->k;
	free(m->l);
	void *dev[] = { m->kc, m->vc, m->x, m->xn, m->qkv, m->att, m->h,
	                m->y, m->logits, m->own, m->ids };
	for (size_t i = 0; i < sizeof dev / sizeof *dev; i++)
		kern_free(k, dev[i]);
	if (m->st)
		st_close(m->st);
	if (m->pth)
		pth_free(m->pth);
	memset(m, 0, sizeof *m);
}

/* ---- forward ---- */

/* y(T,out) = x(T,in) W(in,out) + b.  With k->bf16 (infer --precision
 * bf16) every product, one position or many and of any size, goes to the
 * bf16 GEMM: operands rounded to bfloat16, sums in fp32 (blas_sgemm keeps
 * small products and blas_sgemv all of them in fp32). */
static void
linear(struct kern *k, float *y, const float *x, const float *W,
       const float *b, int T, int in, int out)
{
	ops_bias_rows(k, y, b, NULL, T, out);
	if (k->bf16)
		gemm_bf16(k, 0, 0, T, out, in, 1, x, in, W, out, 1, y, out);
	else if (T == 1)
		blas_sgemv(k, 1, out, in, 1, W, out, x, 1, y);
	else
		blas_sgemm(k, 0, 0, T, out, in, 1, x, in, W, out, 1, y, out);
}

static void
scratch(struct gpt2 *m, int T)
{
	if (T <= m->tcap)
		return;
	const struct gpt2_config *c = &m->c;
	size_t t = T;
	struct { float **p; size_t n; } s[] = {
		{ &m->x, t * c->C }, { &m->xn, t * c->C },
		{ &m->qkv, t * 3 * c->C }, { &m->att, t * c->C },
		{ &m->y, t * c->C }, { &m->h, t * c->inner },
		{ (float **)&m->ids, (t * sizeof *m->ids + 3) / 4 } };
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		kern_free(m->k, *s[i].p);       /* contents need not survive */
		*s[i].p = kern_alloc(m->k, s[i].n * sizeof(float));
	}
	m->tcap = T;
}

const float *
gpt2_forward(struct gpt2 *m, const uint32_t *ids, int T, float *all)
{
	const struct gpt2_config *c = &m->c;
	int C = c->C, P = m->pos;
	if (T < 1)
		die("gpt2: nothing to feed");
	if (T > c->ctx - P)
		die("gpt2: %d positions: more than the model's n_positions "
		    "(%d)", P + T, c->ctx);
	scratch(m, T);
	for (int t = 0; t < T; t++)
		if (ids[t] >= (uint32_t)c->vocab)
			die("gpt2: token id %u: the model has %d", ids[t],
			    c->vocab);
	kern_upload(m->k, m->ids, ids, (size_t)T * sizeof *ids);
	gpt2_embed(m->k, m->x, m->wte, m->wpe, m->ids, T, P, C);
	for (int li = 0; li < c->L; li++) {
		const struct gpt2_layer *l = &m->l[li];
		float *kc = m->kc + (size_t)li * c->ctx * C;
		float *vc = m->vc + (size_t)li * c->ctx * C;
		gpt2_layernorm(m->k, m->xn, m->x, l->ln1_w, l->ln1_b, T, C,
		               c->eps);
		linear(m->k, m->qkv, m->xn, l->attn_w, l->attn_b, T, C, 3 * C);
		/* this chunk's keys and values join the cache */
		ops_copy_rows(m->k, kc + (size_t)P * C, C, m->qkv + C, 3 * C, T,
		              C);
		ops_copy_rows(m->k, vc + (size_t)P * C, C, m->qkv + 2 * C,
		              3 * C, T, C);
		gpt2_attention(m->k, m->att, m->qkv, 3 * C, kc, vc, T, P, C,
		               c->NH);
		linear(m->k, m->y, m->att, l->proj_w, l->proj_b, T, C, C);
		gpt2_add(m->k, m->x, m->y, (long)T * C);
		gpt2_layernorm(m->k, m->xn, m->x, l->ln2_w, l->ln2_b, T, C,
		               c->eps);
		linear(m->k, m->h, m->xn, l->fc_w, l->fc_b, T, C, c->inner);
		gpt2_gelu(m->k, m->h, (long)T * c->inner);
		linear(m->k, m->y, m->h, l->fcp_w, l->fcp_b, T, c->inner, C);
		gpt2_add(m->k, m->x, m->y, (long)T * C);
	}
	m->pos = P + T;
	if (all) {
		gpt2_layernorm(m->k, m->xn, m->x, m->lnf_w, m->lnf_b, T, C,
		               c->eps);
		if (m->k->bf16)
			gemm_bf16(m->k, 0, 1, T, c->vocab, C, 1, m->xn, C, m->wte,
			          C, 0, all, c->vocab);
		else
			blas_sgemm(m->k, 0, 1, T, c->vocab, C, 1, m->xn, C, m->wte,
			           C, 0, all, c->vocab);
		kern_copy(m->k, m->logits, all + (size_t)(T - 1) * c->vocab,
		          c->vocab * sizeof *all);
		return m->logits;
	}
	const float *xl = m->x + (size_t)(T - 1) * C;
	gpt2_layernorm(m->k, m->xn, xl, m->lnf_w, m->lnf_b, 1, C, c->eps);
	if (m->k->bf16)
		gemm_bf16(m->k, 0, 1, 1, c->vocab, C, 1, m->xn, C, m->wte, C, 0,
		          m->logits, c->vocab);
	else
		blas_sgemv(m->k, 0, c->vocab, C, 1, m->wte, C, m->xn, 0,
		           m->logits);
	return m->logits;
}
