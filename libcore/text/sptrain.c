/* sptrain.c: fastai's SentencePieceTokenizer training (see sptrain.h). */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "text/sp.h"
#include "text/sptrain.h"
#include "text/tokenizer.h"
#include "text/tokint.h"
#include "core/util.h"

/* fastai's special tokens (defaults.text_spec_tok), in order */
static const char *const spec_tok[] = {
	"xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup",
	"xxmaj",
};
#define NSPEC (sizeof spec_tok / sizeof *spec_tok)

void
sptrain_opts_default(struct sptrain_opts *o)
{
	o->vocab_sz = 0;
	o->max_vocab_sz = 30000;
	o->coverage = "0.99999";
	o->model_type = "unigram";
}

/* ---- distinct words: an open-addressing set of byte strings ---- */

struct wset {
	char **w;
	size_t *len;
	uint64_t *h;
	size_t n, cap;      /* cap a power of two */
};

static void
wset_put(struct wset *s, const char *w, size_t len)
{
	uint64_t h = XXH64(w, len, 0);

	if (2 * (s->n + 1) > s->cap) {
		struct wset t = { 0, 0, 0, 0, s->cap ? 2 * s->cap : 1024 };
		t.w = xcalloc(t.cap, sizeof *t.w);
		t.len = xcalloc(t.cap, sizeof *t.len);
		t.h = xcalloc(t.cap, sizeof *t.h);
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->w[i])
				continue;
			size_t j = s->h[i] & (t.cap - 1);
			while (t.w[j])
				j = (j + 1) & (t.cap - 1);
			t.w[j] = s->w[i], t.len[j] = s->len[i], t.h[j] = s->h[i];
		}
		t.n = s->n;
		free(s->w), free(s->len), free(s->h);
		*s = t;
	}
	size_t j = h & (s->cap - 1);
	for (; s->w[j]; j = (j + 1) & (s->cap - 1))
		if (s->h[j] == h && s->len[j] == len && !memcmp(s->w[j], w, len))
			return;
	s->w[j] = xmalloc(len ? len : 1);
	memcpy(s->w[j], w, len);
	s->len[j] = len, s->h[j] = h;
	s->n++;
}

static void
wset_free(struct wset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->w[i]);
	free(s->w), free(s->len), free(s->h);
}

/* The next space-split word of line at or after *i: its start in *w0,
 * its length returned (0: no more), *i past it.  The texts are valid
 * UTF-8 (tok_sanitize made them so). */
static size_t
next_word(const struct buf *line, size_t *i, size_t *w0)
{
	const unsigned char *p = (const unsigned char *)line->p;
	size_t n = line->n;
	int l;

	while (*i < n && cp_isspace(u8_get(p + *i, &l)))
		*i += (size_t)l;
	*w0 = *i;
	while (*i < n && !cp_isspace(u8_get(p + *i, &l)))
		*i += (size_t)l;
	return *i - *w0;
}

long
sptrain_vocab_size(FILE *f, const char *name, long max_vocab_sz)
{
	struct wset s = {0};
	struct buf line = {0};
	long res = -1;

	tok_init();         /* the character classes */
	rewind(f);
	while (res < 0 && read_line(f, name, &line)) {
		size_t i = 0, w0, wn;
		while ((wn = next_word(&line, &i, &w0)))
			wset_put(&s, line.p + w0, wn);
		/* fastai checks after each line (readlines: "\r" ends one
		 * too, which changes nothing here: "\r" is a space) */
		if ((long)(s.n / 4) > max_vocab_sz)
			res = max_vocab_sz;
	}
	if (res < 0) {
		res = (long)(s.n / 4);
		while (res % 8)
			res++;
		if (res < 29)
			res = 29;
	}
	wset_free(&s);
	buf_free(&line);
	return res;
}

/* Some word that is not a special token?  With none, the trainer has no
 * character to learn and ends the process (a CHECK in the library, not a
 * status), so this is asked first. */
static int
has_text(FILE *f, const char *name)
{
	struct buf line = {0};
	int found = 0;

	rewind(f);
	while (!found && read_line(f, name, &line)) {
		size_t i = 0, w0, wn;
		while (!found && (wn = next_word(&line, &i, &w0))) {
			found = 1;
			for (size_t k = 0; k < NSPEC; k++)
				if (wn == strlen(spec_tok[k]) &&
				    !memcmp(line.p + w0, spec_tok[k], wn))
					found = 0;
		}
	}
	buf_free(&line);
	return found;
}

struct feed {
	FILE *f;
	const char *name;
	struct buf line;
	size_t nlines;
};

static int
feed_next(void *arg, const char **s, size_t *n)
{
	struct feed *d = arg;

	if (!read_line(d->f, d->name, &d->line))
		return 0;
	d->nlines++;
	*s = d->line.p;
	*n = d->line.n;
	return 1;
}

char *
sptrain_run(FILE *f, const char *name, const struct sptrain_opts *o,
            long vocab_sz, size_t *n, size_t *nlines)
{
	char vs[32], unk[16], err[512], *model = NULL;
	struct buf uds = {0};
	struct feed d = { f, name, {0}, 0 };

	snprintf(vs, sizeof vs, "%ld", vocab_sz);
	snprintf(unk, sizeof unk, "%zu", NSPEC);
	for (size_t i = 0; i < NSPEC; i++) {
		if (i)
			buf_addc(&uds, ',');
		buf_adds(&uds, "\xE2\x96\x81");      /* U+2581 */
		buf_adds(&uds, spec_tok[i]);
	}
	buf_addc(&uds, 0);
	/* SentencePieceTokenizer.train's options, as it passes them */
	const char *opt[] = {
		"vocab_size", vs,
		"character_coverage", o->coverage,
		"model_type", o->model_type,
		"unk_id", unk,
		"pad_id", "-1", "bos_id", "-1", "eos_id", "-1",
		"minloglevel", "2",
		"user_defined_symbols", uds.p,
		"hard_vocab_limit", "false",
	};
	tok_init();
	if (!has_text(f, name))
		die("%s: nothing to train on: the texts hold no word but"
		    " fastai's special tokens", name);
	rewind(f);
	if (sp_train(opt, (int)(sizeof opt / sizeof *opt / 2), feed_next, &d,
	             &model, n, err, sizeof err))
		die("%s: SentencePiece training failed: %s", name, err);
	*nlines = d.nlines;
	buf_free(&uds);
	buf_free(&d.line);
	return model;
}
