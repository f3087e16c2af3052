/* gpt2run.c: infer --gpt2: the tokenizer from the shell (--encode,
 * --decode) and prompt completion (see gpt2run.h). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "learn/gpt2run.h"
#include "kernels.h"
#include "core/util.h"

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
		gpt2_softmax(m->k, p, lg, V, temp);
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
