/* generate.c: LM sampling and decode_spec_tokens (see generate.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "model/awd.h"
#include "learn/generate.h"
#include "core/util.h"

void
gen_opts_default(struct gen_opts *o)
{
	o->n_words = 1;
	o->temperature = 1.0;
	o->no_unk = 1;
	o->min_p = 0;
}

uint32_t
gen_sample(double *p, size_t n, const struct gen_opts *o, struct rng *r,
           int *warned)
{
	*warned = 0;
	if (o->no_unk && n > TK_UNK)
		p[TK_UNK] = 0;
	if (o->min_p > 0) {
		size_t keep = 0;
		for (size_t i = 0; i < n; i++)
			keep += p[i] >= o->min_p;
		if (!keep)
			*warned = 1;
		else
			for (size_t i = 0; i < n; i++)
				if (p[i] < o->min_p)
					p[i] = 0;
	}
	if (o->temperature != 1.0)
		for (size_t i = 0; i < n; i++)
			p[i] = pow(p[i], 1.0 / o->temperature);
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	if (!(s > 0) || !isfinite(s)) {
		/* torch.multinomial would fail; take the largest instead */
		size_t best = 0;
		for (size_t i = 1; i < n; i++)
			if (p[i] > p[best])
				best = i;
		return (uint32_t)best;
	}
	double u = rng_double(r) * s, c = 0;
	size_t last = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] <= 0)
			continue;
		c += p[i];
		last = i;
		if (u < c)
			return (uint32_t)i;
	}
	return (uint32_t)last;           /* rounding at the very end */
}

/* softmax of logits[V] into p (double) */
static void
softmax(const float *z, double *p, int V)
{
	float mx = z[0];
	for (int i = 1; i < V; i++)
		if (z[i] > mx)
			mx = z[i];
	double s = 0;
	for (int i = 0; i < V; i++)
		s += p[i] = exp((double)z[i] - mx);
	for (int i = 0; i < V; i++)
		p[i] /= s;
}

int
lm_generate(struct lm *lm, const uint32_t *prompt, size_t n,
            const struct gen_opts *o, struct rng *r, uint32_t *out,
            double *probs, float *logits)
{
	struct awd *m = &lm->enc;
	int V = m->cfg.vocab, warned = 0;

	if (n < 1)
		die("generate: empty prompt");
	memcpy(out, prompt, n * sizeof *out);
	awd_reset(m);
	for (size_t i = 0; i < n; i += m->maxT) {
		int T = n - i < (size_t)m->maxT ? (int)(n - i) : m->maxT;
		lm_last_logits(lm, out + i, 1, T, logits);
	}
	for (int w = 0; w < o->n_words; w++) {
		int wn;
		softmax(logits, probs, V);
		out[n + w] = gen_sample(probs, V, o, r, &wn);
		warned += wn;
		if (w + 1 < o->n_words)
			lm_last_logits(lm, out + n + w, 1, 1, logits);
	}
	return warned;
}

/* first code point up, the rest down (Python's t[:1].upper() +
 * t[1:].lower()); mode 1: all up */
static void
recase(struct buf *out, const char *s, int all_up)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
	int first = 1;
	while (left > 0) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
		if (k <= 0) {           /* not UTF-8: copy the byte */
			buf_addc(out, (char)*p);
			p++, left--;
			continue;
		}
		cp = all_up || first ? utf8proc_toupper(cp) : utf8proc_tolower(cp);
		utf8proc_uint8_t enc[4];
		utf8proc_ssize_t e = utf8proc_encode_char(cp, enc);
		buf_add(out, enc, (size_t)e);
		p += k, left -= k, first = 0;
	}
}

/* Python int(): optional sign, digits, surrounding whitespace */
static int
parse_count(const char *s, long *v)
{
	char *end;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (end == s || errno)
		return 0;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	return *end == 0;
}

static void
emit(struct buf *out, int *nout, const char *s, size_t len)
{
	if ((*nout)++)
		buf_addc(out, ' ');
	buf_add(out, s, len);
}

void
decode_spec_tokens(const char *const *tok, size_t n, struct buf *out)
{
	enum { NONE, MAJ, UP, REP, WREP } rule = NONE;
	int have_arg = 0, nout = 0;
	long arg = 0;

	for (size_t i = 0; i < n; i++) {
		const char *t = tok[i];
		if (!strcmp(t, "xxmaj")) { rule = MAJ, have_arg = 0; continue; }
		if (!strcmp(t, "xxup")) { rule = UP, have_arg = 0; continue; }
		if (!strcmp(t, "xxrep")) { rule = REP, have_arg = 0; continue; }
		if (!strcmp(t, "xxwrep")) { rule = WREP, have_arg = 0; continue; }
		switch (rule) {
		case NONE:
			emit(out, &nout, t, strlen(t));
			break;
		case MAJ:
		case UP:
			if (nout++)
				buf_addc(out, ' ');
			recase(out, t, rule == UP);
			rule = NONE;
			break;
		case REP:
		case WREP:
			if (!have_arg) {
				if (parse_count(t, &arg)) {
					have_arg = 1;
				} else {    /* not a count: no rule, keep t */
					rule = NONE;
					emit(out, &nout, t, strlen(t));
				}
				break;
			}
			if (rule == REP) {
				if (nout++)
					buf_addc(out, ' ');
				for (long k = 0; k < arg; k++)
					buf_adds(out, t);
			} else {
				for (long k = 0; k < arg; k++)
					emit(out, &nout, t, strlen(t));
			}
			rule = NONE, have_arg = 0;   /* fastai forgets this */
			break;
		}
	}
}

void
gen_text(const struct vocab *v, const uint32_t *ids, size_t n,
         struct buf *out)
{
	char **tok = xmalloc((n ? n : 1) * sizeof *tok);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == TK_BOS || ids[i] == TK_PAD || ids[i] >= v->n)
			continue;
		tok[k] = xstrdup(v->tok[ids[i]]);
		tok[k][tok_unescape(tok[k], strlen(tok[k]))] = 0;
		k++;
	}
	decode_spec_tokens((const char *const *)tok, k, out);
	for (size_t i = 0; i < k; i++)
		free(tok[i]);
	free(tok);
}
