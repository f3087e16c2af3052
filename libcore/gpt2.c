/* gpt2.c: GPT-2 inference and infer --gpt2 (see gpt2.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docsrc.h"
#include "gpt2.h"
#include "kernels.h"
#include "pth.h"
#include "safetensors.h"
#include "tokfile.h"
#include "util.h"

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
	m->kc = xmalloc(kv * sizeof *m->kc);
	m->vc = xmalloc(kv * sizeof *m->vc);
	m->logits = xmalloc((size_t)c->vocab * sizeof *m->logits);
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
	m->c = *c;
	int C = c->C, I = c->inner;
	size_t per = (size_t)4 * C + (size_t)C * 3 * C + 3 * C + (size_t)C * C +
	             C + (size_t)C * I + I + (size_t)I * C + C;
	size_t tot = (size_t)c->vocab * C + (size_t)c->ctx * C + 2 * C +
	             per * c->L;
	float *p = m->own = xmalloc(tot * sizeof *p);
	struct rng r;
	rng_seed(&r, seed, 0);
	for (size_t i = 0; i < tot; i++)        /* uniform, std 0.02 */
		p[i] = (float)((rng_double(&r) - 0.5) * 0.02 * sqrt(12.0));
	m->wte = p, p += (size_t)c->vocab * C;
	m->wpe = p, p += (size_t)c->ctx * C;
	float *lw = p, *lb = p + C;
	for (int i = 0; i < C; i++)
		lw[i] = 1, lb[i] = 0;
	m->lnf_w = lw, m->lnf_b = lb, p += 2 * C;
	m->l = xcalloc(c->L, sizeof *m->l);
	for (int i = 0; i < c->L; i++) {
		struct gpt2_layer *l = &m->l[i];
		float *q = p;
		for (int j = 0; j < C; j++)
			q[j] = 1, q[C + j] = 0, q[2 * C + j] = 1, q[3 * C + j] = 0;
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
	free(m->l), free(m->kc), free(m->vc);
	free(m->x), free(m->xn), free(m->qkv), free(m->att), free(m->h);
	free(m->y), free(m->logits), free(m->own);
	if (m->st)
		st_close(m->st);
	if (m->pth)
		pth_free(m->pth);
	memset(m, 0, sizeof *m);
}

/* ---- forward ---- */

/* y(T,out) = x(T,in) W(in,out) + b */
static void
linear(float *y, const float *x, const float *W, const float *b, int T,
       int in, int out)
{
	for (int t = 0; t < T; t++)
		memcpy(y + (size_t)t * out, b, out * sizeof *y);
	if (T == 1)
		blas_sgemv(1, out, in, 1, W, out, x, 1, y);
	else
		blas_sgemm(0, 0, T, out, in, 1, x, in, W, out, 1, y, out);
}

static void
scratch(struct gpt2 *m, int T)
{
	if (T <= m->tcap)
		return;
	const struct gpt2_config *c = &m->c;
	size_t t = T;
	m->x = xrealloc(m->x, t * c->C * sizeof(float));
	m->xn = xrealloc(m->xn, t * c->C * sizeof(float));
	m->qkv = xrealloc(m->qkv, t * 3 * c->C * sizeof(float));
	m->att = xrealloc(m->att, t * c->C * sizeof(float));
	m->y = xrealloc(m->y, t * c->C * sizeof(float));
	m->h = xrealloc(m->h, t * c->inner * sizeof(float));
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
	for (int t = 0; t < T; t++) {
		if (ids[t] >= (uint32_t)c->vocab)
			die("gpt2: token id %u: the model has %d", ids[t],
			    c->vocab);
		const float *e = m->wte + (size_t)ids[t] * C;
		const float *p = m->wpe + (size_t)(P + t) * C;
		float *x = m->x + (size_t)t * C;
		for (int i = 0; i < C; i++)
			x[i] = e[i] + p[i];
	}
	for (int li = 0; li < c->L; li++) {
		const struct gpt2_layer *l = &m->l[li];
		float *kc = m->kc + (size_t)li * c->ctx * C;
		float *vc = m->vc + (size_t)li * c->ctx * C;
		gpt2_layernorm(m->xn, m->x, l->ln1_w, l->ln1_b, T, C, c->eps);
		linear(m->qkv, m->xn, l->attn_w, l->attn_b, T, C, 3 * C);
		for (int t = 0; t < T; t++) {
			const float *r = m->qkv + (size_t)t * 3 * C;
			memcpy(kc + (size_t)(P + t) * C, r + C, C * sizeof *r);
			memcpy(vc + (size_t)(P + t) * C, r + 2 * C,
			       C * sizeof *r);
		}
		gpt2_attention(m->att, m->qkv, 3 * C, kc, vc, T, P, C, c->NH);
		linear(m->y, m->att, l->proj_w, l->proj_b, T, C, C);
		gpt2_add(m->x, m->y, (long)T * C);
		gpt2_layernorm(m->xn, m->x, l->ln2_w, l->ln2_b, T, C, c->eps);
		linear(m->h, m->xn, l->fc_w, l->fc_b, T, C, c->inner);
		gpt2_gelu(m->h, (long)T * c->inner);
		linear(m->y, m->h, l->fcp_w, l->fcp_b, T, c->inner, C);
		gpt2_add(m->x, m->y, (long)T * C);
	}
	m->pos = P + T;
	if (all) {
		gpt2_layernorm(m->xn, m->x, m->lnf_w, m->lnf_b, T, C, c->eps);
		blas_sgemm(0, 1, T, c->vocab, C, 1, m->xn, C, m->wte, C, 0, all,
		           c->vocab);
		memcpy(m->logits, all + (size_t)(T - 1) * c->vocab,
		       c->vocab * sizeof *all);
		return m->logits;
	}
	const float *xl = m->x + (size_t)(T - 1) * C;
	gpt2_layernorm(m->xn, xl, m->lnf_w, m->lnf_b, 1, C, c->eps);
	blas_sgemv(0, c->vocab, C, 1, m->wte, C, m->xn, 0, m->logits);
	return m->logits;
}

/* ---- infer --gpt2 ---- */

int
gpt2_encode_lines(struct bpe *b, FILE *in, FILE *out)
{
	struct buf line = {0};
	uint32_t *ids = NULL;
	size_t cap = 0;
	while (read_line(in, "-", &line)) {
		size_t k = bpe_encode(b, line.p, line.n, &ids, &cap, 0);
		for (size_t i = 0; i < k; i++)
			fprintf(out, i ? " %u" : "%u", ids[i]);
		putc('\n', out);
	}
	free(ids), free(line.p);
	return 0;
}

int
gpt2_decode_lines(struct bpe *b, FILE *in, FILE *out)
{
	struct buf line = {0}, text = {0};
	uint32_t *ids = NULL;
	size_t cap = 0;
	uint64_t ln = 0;
	while (read_line(in, "-", &line)) {
		size_t k = 0;
		ln++;
		buf_addc(&line, 0);
		for (char *p = line.p, *e;; p = e) {
			while (*p == ' ' || *p == '\t' || *p == '\r')
				p++;
			if (!*p)
				break;
			errno = 0;
			unsigned long v = strtoul(p, &e, 10);
			if (e == p || *p == '-' || errno || v > UINT32_MAX ||
			    (*e && *e != ' ' && *e != '\t' && *e != '\r'))
				die("-: line %llu: not a list of token ids",
				    (unsigned long long)ln);
			if (k == cap) {
				cap = cap ? 2 * cap : 64;
				ids = xrealloc(ids, cap * sizeof *ids);
			}
			ids[k++] = (uint32_t)v;
		}
		text.n = 0;
		long bad = bpe_decode(b, ids, k, &text);
		if (bad >= 0)
			die("-: line %llu: token id %u is not in the vocabulary "
			    "(%u ids)", (unsigned long long)ln, ids[bad],
			    bpe_size(b));
		fwrite(text.p ? text.p : "", 1, text.n, out);
		putc('\n', out);
	}
	free(ids), free(line.p), free(text.p);
	return 0;
}

/* JSON string: valid UTF-8 as is, control characters escaped, each
 * invalid byte (a token can be part of a character) as U+FFFD */
static void
json_str(FILE *f, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	putc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c), i++;
		else if (c == '\n')
			fputs("\\n", f), i++;
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c), i++;
		else if (c < 0x80)
			putc(c, f), i++;
		else {
			size_t l = c >= 0xC2 && c <= 0xDF ? 2 :
			           c >= 0xE0 && c <= 0xEF ? 3 :
			           c >= 0xF0 && c <= 0xF4 ? 4 : 0;
			int okc = l && i + l <= n;
			for (size_t j = 1; okc && j < l; j++)
				okc = (u[i + j] & 0xC0) == 0x80;
			if (okc && ((c == 0xE0 && u[i + 1] < 0xA0) ||
			            (c == 0xED && u[i + 1] > 0x9F) ||
			            (c == 0xF0 && u[i + 1] < 0x90) ||
			            (c == 0xF4 && u[i + 1] > 0x8F)))
				okc = 0;
			if (okc)
				fwrite(u + i, 1, l, f), i += l;
			else
				fputs("\\ufffd", f), i++;
		}
	}
	putc('"', f);
}

struct cand { double p; uint32_t id; };

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->p != y->p)
		return x->p < y->p ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* the k most probable ids of p(n), most probable first (ties: lower id) */
static int
top_k(const double *p, int n, int k, struct cand *out, struct cand *all)
{
	int m = 0;
	if (k > 64) {   /* insertion would be n k: sort everything instead */
		for (int i = 0; i < n; i++)
			all[i] = (struct cand){ p[i], (uint32_t)i };
		qsort(all, n, sizeof *all, cand_cmp);
		memcpy(out, all, (k < n ? k : n) * sizeof *out);
		return k < n ? k : n;
	}
	for (int i = 0; i < n; i++) {
		struct cand c = { p[i], (uint32_t)i };
		if (m == k && cand_cmp(&c, &out[m - 1]) >= 0)
			continue;
		int j = m < k ? m++ : m - 1;
		while (j > 0 && cand_cmp(&c, &out[j - 1]) < 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = c;
	}
	return m;
}

static void
complete_one(struct gpt2 *m, struct bpe *b, const char *text, size_t len,
             const struct gpt2_opts *o, struct rng *r, double *p,
             struct cand *cand, int ncand, struct cand *all, uint32_t **ids,
             size_t *cap)
{
	size_t k = bpe_encode(b, text, len, ids, cap, 0);
	if (!k)
		die("an empty prompt: GPT-2 needs at least one token");
	if (k + o->n > (size_t)m->c.ctx)
		die("prompt (%zu tokens) + %d more: more than the model's "
		    "n_positions (%d)", k, o->n, m->c.ctx);
	if (*cap < k + o->n + 1) {
		*cap = k + o->n + 1;
		*ids = xrealloc(*ids, *cap * sizeof **ids);
	}
	gpt2_reset(m);
	const float *lg = gpt2_forward(m, *ids, (int)k, NULL);
	int V = m->c.vocab;
	if (V > (int)bpe_size(b))
		V = (int)bpe_size(b);   /* padded vocabularies: never pick pads */
	struct buf out = {0};
	if (o->json) {
		fputs("{\"prompt\":", stdout);
		json_str(stdout, text, len);
		fputs(",\"steps\":[", stdout);
	}
	for (int s = 0; s < o->n; s++) {
		if (s)
			lg = gpt2_forward(m, &(*ids)[k - 1], 1, NULL);
		double temp = o->temp > 0 ? o->temp : 1;
		gpt2_softmax(p, lg, V, temp);
		uint32_t next;
		int nc = top_k(p, V, ncand, cand, all);
		if (o->temp <= 0 && !o->top_k) {
			next = cand[0].id;
		} else {
			int kk = o->top_k ? (o->top_k < nc ? o->top_k : nc) : 0;
			double u = rng_double(r), acc = 0, tot = 0;
			next = cand[0].id;
			if (kk) {
				for (int i = 0; i < kk; i++)
					tot += cand[i].p;
				u *= tot;
				for (int i = 0; i < kk; i++)
					if ((acc += cand[i].p) > u) {
						next = cand[i].id;
						break;
					}
			} else {
				for (int i = 0; i < V; i++)
					if ((acc += p[i]) > u) {
						next = (uint32_t)i;
						break;
					}
			}
		}
		(*ids)[k++] = next;
		if (o->json) {
			size_t tl;
			const char *t = bpe_token(b, next, &tl);
			printf("%s{\"id\":%u,\"token\":", s ? "," : "", next);
			json_str(stdout, t ? t : "", t ? tl : 0);
			fputs(",\"top\":[", stdout);
			for (int i = 0; i < nc; i++) {
				t = bpe_token(b, cand[i].id, &tl);
				printf("%s{\"id\":%u,\"token\":", i ? "," : "",
				       cand[i].id);
				json_str(stdout, t ? t : "", t ? tl : 0);
				printf(",\"p\":%.6g}", cand[i].p);
			}
			fputs("]}", stdout);
		}
	}
	size_t np = k - o->n;
	bpe_decode(b, *ids + np, o->n, &out);
	if (o->json) {
		fputs("],\"completion\":", stdout);
		json_str(stdout, out.p ? out.p : "", out.n);
		fputs("}\n", stdout);
	} else {
		fwrite(text, 1, len, stdout);
		fwrite(out.p ? out.p : "", 1, out.n, stdout);
		putchar('\n');
	}
	free(out.p);
}

int
gpt2_complete(const char *dir, const char *const *texts, int n,
              const struct gpt2_opts *o)
{
	struct gpt2 m;
	gpt2_load(&m, dir);
	struct bpe *b = bpe_load_dir(dir);
	if (bpe_size(b) > (uint32_t)m.c.vocab)
		die("%s: the tokenizer has %u ids but the model %d", dir,
		    bpe_size(b), m.c.vocab);
	struct rng r;
	rng_seed(&r, o->seed, 0x67707432);
	double *p = xmalloc((size_t)m.c.vocab * sizeof *p);
	int ncand = o->top_k ? o->top_k : 5;
	if (ncand > m.c.vocab)
		ncand = m.c.vocab;
	struct cand *cand = xmalloc(ncand * sizeof *cand);
	struct cand *all = ncand > 64 ? xmalloc((size_t)m.c.vocab *
	                                        sizeof *all) : NULL;
	uint32_t *ids = NULL;
	size_t cap = 0;
	for (int i = 0; i < n; i++)
		complete_one(&m, b, texts[i], strlen(texts[i]), o, &r, p, cand,
		             ncand, all, &ids, &cap);
	if (!n) {
		struct buf line = {0};
		while (read_line(stdin, "-", &line)) {
			complete_one(&m, b, line.p ? line.p : "", line.n, o, &r,
			             p, cand, ncand, all, &ids, &cap);
			fflush(stdout);
		}
		free(line.p);
	}
	free(ids), free(p), free(cand), free(all);
	gpt2_free(&m);
	bpe_free(b);
	return 0;
}
