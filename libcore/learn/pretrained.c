/* pretrained.c: fastai's load_pretrained (spec §11.1, §11.3). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "learn/pretrained.h"
#include "core/util.h"

/* ---- clean_raw_keys -------------------------------------------------- */

/* fastai's _rm_module(k) + "_raw": drop the last dotted component that is
 * exactly "module" (none: k unchanged), append "_raw".  malloc'd. */
static char *
raw_name(const char *k)
{
	size_t n = strlen(k);
	char *out = xmalloc(n + 5);
	const char *cut = NULL;

	/* components start at k or after a '.'; take the last "module" */
	for (const char *c = k;; c++) {
		size_t l = strcspn(c, ".");
		if (l == 6 && !memcmp(c, "module", 6))
			cut = c;
		if (!c[l])
			break;
		c += l;
	}
	if (!cut) {
		memcpy(out, k, n);
		strcpy(out + n, "_raw");
		return out;
	}
	/* "a.module.b" -> "a.b"; "module.b" -> "b"; "a.module" -> "a" */
	size_t pre = cut - k, after = pre + 6;
	if (k[after] == '.') {
		memcpy(out, k, pre);
		strcpy(out + pre, k + after + 1);
	} else {
		size_t keep = pre ? pre - 1 : 0;        /* drop the '.' before */
		memcpy(out, k, keep);
		out[keep] = 0;
	}
	strcat(out, "_raw");
	return out;
}

int
pretrained_clean_raw_keys(const char *const *keys, int n, unsigned char *keep)
{
	int dropped = 0;

	for (int i = 0; i < n; i++) {
		char *raw = raw_name(keys[i]);
		keep[i] = 1;
		/* the test is against the original key set (fastai takes
		 * list(wgts.keys()) before deleting) */
		for (int j = 0; j < n; j++)
			if (!strcmp(keys[j], raw)) {
				keep[i] = 0;
				dropped++;
				break;
			}
		free(raw);
	}
	return dropped;
}

/* ---- match_embeds ---------------------------------------------------- */

uint32_t
pretrained_match_embeds(const struct vocab *old, const struct vocab *nw,
                        const float *E, const float *b, int64_t rows,
                        int64_t D, float *newE, float *newb)
{
	uint32_t *last = xmalloc(((size_t)old->n + 1) * sizeof *last);
	double *acc = xcalloc((size_t)D + 1, sizeof *acc);
	float *mean = xmalloc(((size_t)D + 1) * sizeof *mean);
	float bmean = 0;
	uint32_t matched = 0;

	/* mean over all old rows: summed in double, rounded once */
	for (int64_t r = 0; r < rows; r++)
		for (int64_t d = 0; d < D; d++)
			acc[d] += E[(size_t)r * D + d];
	for (int64_t d = 0; d < D; d++)
		mean[d] = (float)(acc[d] / rows);
	if (b) {
		double s = 0;
		for (int64_t r = 0; r < rows; r++)
			s += b[r];
		bmean = (float)(s / rows);
	}
	/* vocab_id gives a token's first index; fastai's
	 * {w: i for i, w in enumerate(itos)} keeps the last. */
	for (uint32_t i = 0; i < old->n; i++) {
		uint32_t f = vocab_id(old, old->tok[i], old->len[i]);
		if (old->len[f] == old->len[i] &&
		    !memcmp(old->tok[f], old->tok[i], old->len[i]))
			last[f] = i;
	}
	for (uint32_t i = 0; i < nw->n; i++) {
		const char *t = nw->tok[i];
		uint32_t len = nw->len[i];
		uint32_t f = vocab_id(old, t, len);
		int found = old->len[f] == len && !memcmp(old->tok[f], t, len) &&
		            strcmp(t, VOCAB_FAKE);
		const float *src = found ? E + (size_t)last[f] * D : mean;

		memcpy(newE + (size_t)i * D, src, (size_t)D * sizeof *src);
		if (b)
			newb[i] = found ? b[last[f]] : bmean;
		matched += found;
	}
	free(last);
	free(acc);
	free(mean);
	return matched;
}

/* ---- load_pretrained ------------------------------------------------- */

/* A state-dict entry after match_embeds: the file's tensor or ours. */
struct entry {
	const char *name;
	const float *f;
	const int64_t *l;
	int ndim;
	int64_t shape[PTH_MAXDIM];
};

static int
fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return -1;
}

/* "4608x400", "scalar" */
static const char *
shape_str(char *s, size_t cap, int ndim, const int64_t *shape)
{
	size_t o = 0;

	if (!ndim)
		return "scalar";
	s[0] = 0;
	for (int d = 0; d < ndim && o < cap; d++)
		o += snprintf(s + o, cap - o, "%s%lld", d ? "x" : "",
		              (long long)shape[d]);
	return s;
}

static int64_t
numel(int ndim, const int64_t *shape)
{
	int64_t n = 1;

	for (int d = 0; d < ndim; d++)
		n *= shape[d];
	return n;
}

void
pretrained_report_free(struct pretrained_report *r)
{
	for (int i = 0; i < r->nkeys; i++)
		free(r->keys[i]);
	free(r->keys);
	memset(r, 0, sizeof *r);
}

int
pretrained_apply(const struct pth *p, const struct vocab *old,
                 const char *old_name, const struct vocab *nw,
                 const struct pretrained_param *dst, int ndst,
                 struct pretrained_report *rep, char **err)
{
	const struct pth_tensor *E = pth_find(p, "0.encoder.weight");
	const struct pth_tensor *b = pth_find(p, "1.decoder.bias");
	char s1[64], s2[64];
	int ret = -1;

	memset(rep, 0, sizeof *rep);
	*err = NULL;
	if (!old_name)
		old_name = "the pretrained vocab";
	if (!E)
		return fail(err, "%s: no 0.encoder.weight: not a fastai language "
		            "model (load_pretrained needs the LM's state dict, as "
		            "in wt103-fwd's .pth, not an encoder or a "
		            "classifier)", p->path);
	if (!E->f || E->ndim != 2)
		return fail(err, "%s: 0.encoder.weight is not a float matrix "
		            "(%s); not a fastai language model", p->path,
		            shape_str(s1, sizeof s1, E->ndim, E->shape));
	/* fastai indexes E with the old vocab's ids and averages all rows:
	 * more rows than tokens works, fewer cannot */
	if (E->shape[0] < old->n)
		return fail(err, "%s: 0.encoder.weight has %lld rows but %s has "
		            "%u tokens; give the vocab (itos .pkl) that came "
		            "with these weights", p->path,
		            (long long)E->shape[0], old_name, old->n);
	if (b && (!b->f || b->ndim != 1 || b->shape[0] != E->shape[0]))
		return fail(err, "%s: 1.decoder.bias is %s, not a vector of "
		            "%lld floats (one per row of 0.encoder.weight)",
		            p->path, shape_str(s1, sizeof s1, b->ndim, b->shape),
		            (long long)E->shape[0]);

	int64_t D = E->shape[1];
	float *newE = xmalloc(((size_t)nw->n * D + 1) * sizeof *newE);
	float *newb = b ? xmalloc(((size_t)nw->n + 1) * sizeof *newb) : NULL;
	uint32_t matched = pretrained_match_embeds(old, nw, E->f,
	                                           b ? b->f : NULL, E->shape[0],
	                                           D, newE, newb);

	/* match_embeds writes back into the dict: existing keys keep their
	 * place, a missing 1.decoder.weight is appended. */
	int n = 0, has_dec = 0;
	struct entry *e = xcalloc((size_t)p->n + 1, sizeof *e);
	for (int i = 0; i < p->n; i++) {
		const struct pth_tensor *t = &p->t[i];
		struct entry *x = &e[n++];

		x->name = t->name;
		x->f = t->f;
		x->l = t->l;
		x->ndim = t->ndim;
		memcpy(x->shape, t->shape, sizeof x->shape);
		has_dec |= !strcmp(t->name, "1.decoder.weight");
		if (!strcmp(t->name, "0.encoder.weight") ||
		    !strcmp(t->name, "0.encoder_dp.emb.weight") ||
		    !strcmp(t->name, "1.decoder.weight")) {
			x->f = newE, x->l = NULL, x->ndim = 2;
			x->shape[0] = nw->n, x->shape[1] = D;
		} else if (b && !strcmp(t->name, "1.decoder.bias")) {
			x->f = newb, x->l = NULL, x->ndim = 1;
			x->shape[0] = nw->n;
		}
	}
	if (!has_dec) {
		struct entry *x = &e[n++];
		x->name = "1.decoder.weight";
		x->f = newE, x->ndim = 2;
		x->shape[0] = nw->n, x->shape[1] = D;
	}

	/* clean_raw_keys, then keep what is left in order */
	const char **names = xmalloc((size_t)n * sizeof *names);
	unsigned char *keep = xmalloc((size_t)n);
	for (int i = 0; i < n; i++)
		names[i] = e[i].name;
	int dropped = pretrained_clean_raw_keys(names, n, keep);
	int k = 0;
	for (int i = 0; i < n; i++)
		if (keep[i])
			e[k++] = e[i];
	n = k;

	/* load_ignore_keys: zip(model keys, file keys), by position.  Every
	 * shape first, so a mismatch leaves the model as it was. */
	int ncopy = n < ndst ? n : ndst;
	for (int i = 0; i < ncopy; i++) {
		const struct pretrained_param *d = &dst[i];
		int same = d->ndim == e[i].ndim && d->ndim <= PRETRAINED_MAXDIM;
		for (int j = 0; same && j < d->ndim; j++)
			same = d->shape[j] == e[i].shape[j];
		if (!same) {
			fail(err, "%s: at position %d the file's '%s' (%s) does "
			     "not fit the model's '%s' (%s): load_pretrained "
			     "copies by position, so the model must have the "
			     "pretrained one's layout and sizes (embedding width "
			     "%lld)", p->path, i, e[i].name,
			     shape_str(s1, sizeof s1, e[i].ndim, e[i].shape),
			     d->name ? d->name : "?",
			     shape_str(s2, sizeof s2, d->ndim, d->shape),
			     (long long)D);
			goto out;
		}
	}
	for (int i = 0; i < ncopy; i++) {
		int64_t m = numel(e[i].ndim, e[i].shape);
		if (!m)
			continue;
		if (e[i].f)
			memmove(dst[i].w, e[i].f, (size_t)m * sizeof *e[i].f);
		else
			for (int64_t j = 0; j < m; j++)   /* copy_ converts */
				dst[i].w[j] = (float)e[i].l[j];
	}

	rep->legacy = p->legacy;
	rep->wrapped = p->sd != p->root;
	rep->file_keys = p->n;
	rep->raw_dropped = dropped;
	rep->decoder_added = !has_dec;
	rep->has_bias = b != NULL;
	rep->old_n = old->n;
	rep->old_rows = E->shape[0];
	rep->new_n = nw->n;
	rep->matched = matched;
	rep->emb = D;
	rep->copied = ncopy;
	rep->unused = n - ncopy;
	rep->untouched = ndst - ncopy;
	rep->nkeys = n;
	rep->keys = xmalloc(((size_t)n + 1) * sizeof *rep->keys);
	for (int i = 0; i < n; i++)
		rep->keys[i] = xstrdup(e[i].name);
	ret = 0;
out:
	free(names);
	free(keep);
	free(e);
	free(newE);
	free(newb);
	return ret;
}

void
pretrained_load(const char *wgts_path, const char *old_vocab_path,
                const struct vocab *nw, const struct pretrained_param *dst,
                int ndst, struct pretrained_report *rep)
{
	struct vocab *old = vocab_load(old_vocab_path);
	struct pth *p = pth_load(wgts_path);
	char *err;

	if (pretrained_apply(p, old, old_vocab_path, nw, dst, ndst, rep,
	                     &err)) {
		warn("%s", err);
		free(err);
		exit(1);
	}
	pth_free(p);
	vocab_free(old);
}

void
pretrained_report_print(FILE *f, const char *wgts_name,
                        const struct pretrained_report *r,
                        const struct pretrained_param *dst, int verbose)
{
	fprintf(f, "%s: %s, %s, %d tensors; clean_raw_keys dropped %d\n",
	        wgts_name, r->legacy ? "legacy (pre-1.6) format" : "zip format",
	        r->wrapped ? "{'model': ...}" : "a bare state dict",
	        r->file_keys, r->raw_dropped);
	fprintf(f, "%s: %u of the %u tokens found in the pretrained vocab "
	        "(%u tokens", wgts_name, r->matched, r->new_n, r->old_n);
	if (r->old_rows != r->old_n)
		fprintf(f, ", %lld embedding rows", (long long)r->old_rows);
	fprintf(f, "); %u got the mean embedding row%s\n",
	        r->new_n - r->matched,
	        r->has_bias ? " and mean decoder bias" : "");
	fprintf(f, "%s: copied %d tensor%s by position into the model's %d "
	        "parameter%s", wgts_name, r->copied, r->copied == 1 ? "" : "s",
	        r->copied + r->untouched,
	        r->copied + r->untouched == 1 ? "" : "s");
	if (r->unused)
		fprintf(f, "; %d file tensor%s left unused", r->unused,
		        r->unused == 1 ? "" : "s");
	if (r->untouched)
		fprintf(f, "; %d parameter%s kept %s value%s", r->untouched,
		        r->untouched == 1 ? "" : "s",
		        r->untouched == 1 ? "its" : "their",
		        r->untouched == 1 ? "" : "s");
	fputc('\n', f);
	for (int i = 0; verbose && i < r->copied; i++) {
		char s[64];
		fprintf(f, "  %s -> %s (%s)\n", r->keys[i],
		        dst[i].name ? dst[i].name : "?",
		        shape_str(s, sizeof s, dst[i].ndim, dst[i].shape));
	}
	for (int i = r->copied; verbose && i < r->nkeys; i++)
		fprintf(f, "  %s (unused)\n", r->keys[i]);
}
