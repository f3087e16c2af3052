/* tokpool.c: the ordered batch pipeline behind tok. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokpool.h"

struct batch {
	struct buf text;          /* documents, back to back */
	struct buf meta;          /* split NUL label NUL, per document */
	size_t *end, *mend;       /* end offsets in text and meta */
	int *newlines;            /* per document: translate \r\n */
	size_t n, cap;
	struct buf out;           /* .tok lines */
	struct buf lens;          /* "count\n" per document */
	int state;
};
enum { FREE, READY, BUSY, DONE };

#define BATCH_DOCS 512
#define BATCH_BYTES (256u << 10)

struct tokpool {
	struct tok_opts opts;
	struct batch *slots;
	int nslot, nthread;
	size_t next_fill, next_take, next_write;
	int quitting;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	pthread_t *th;
	struct tok_ctx *solo;     /* nthread 1: no threads */
	struct out *out, *lens_out;
	struct batch *cur;
};

static void
batch_run(const struct tokpool *p, struct tok_ctx *c, struct batch *b)
{
	size_t t0 = 0, m0 = 0;

	b->out.n = b->lens.n = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct tok_opts o = p->opts;
		o.newlines = b->newlines[i];
		size_t k = tok_doc(c, &o, b->text.p + t0, b->end[i] - t0);
		const char *split = b->meta.p + m0;
		const char *label = split + strlen(split) + 1;
		if (!o.text_only) {    /* a training text is the line alone */
			tok_field_escape(&b->out, split);
			buf_addc(&b->out, '\t');
			tok_field_escape(&b->out, label);
			buf_addc(&b->out, '\t');
		}
		tok_write(c, &b->out);
		buf_addc(&b->out, '\n');
		char num[32];
		int l = snprintf(num, sizeof num, "%zu\n", k);
		buf_add(&b->lens, num, (size_t)l);
		t0 = b->end[i];
		m0 = b->mend[i];
	}
}

static void *
worker(void *arg)
{
	struct tokpool *p = arg;
	struct tok_ctx *c = tok_ctx_new();

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->next_take == p->next_fill && !p->quitting)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->next_take == p->next_fill)
			break;
		struct batch *b = &p->slots[p->next_take++ % (size_t)p->nslot];
		b->state = BUSY;
		pthread_mutex_unlock(&p->mu);
		batch_run(p, c, b);
		pthread_mutex_lock(&p->mu);
		b->state = DONE;
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	tok_ctx_free(c);
	return NULL;
}

static void
batch_write(struct tokpool *p, struct batch *b)
{
	struct out *o = p->out, *l = p->lens_out;

	if (fwrite(b->out.p, 1, b->out.n, o->f) != b->out.n)
		die("%s: write error:", o->path);
	if (l && fwrite(b->lens.p, 1, b->lens.n, l->f) != b->lens.n)
		die("%s: write error:", l->path);
	b->n = b->text.n = b->meta.n = 0;
}

/* write the finished batches at the head, in order; with wait, block for
 * the head one */
static void
drain(struct tokpool *p, int wait)
{
	pthread_mutex_lock(&p->mu);
	while (p->next_write < p->next_fill) {
		struct batch *b = &p->slots[p->next_write % (size_t)p->nslot];
		if (b->state != DONE) {
			if (!wait)
				break;
			pthread_cond_wait(&p->done_cv, &p->mu);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		batch_write(p, b);
		pthread_mutex_lock(&p->mu);
		b->state = FREE;
		p->next_write++;
		wait = 0;
	}
	pthread_mutex_unlock(&p->mu);
}

static void
submit(struct tokpool *p)
{
	struct batch *cur = p->cur;

	if (!cur || !cur->n)
		return;
	if (p->nthread == 1) {
		batch_run(p, p->solo, cur);
		batch_write(p, cur);
		return;
	}
	pthread_mutex_lock(&p->mu);
	cur->state = READY;
	p->next_fill++;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	p->cur = NULL;
	drain(p, 0);
}

static struct batch *
batch_get(struct tokpool *p)
{
	if (p->cur)
		return p->cur;
	if (p->nthread == 1)
		return p->cur = &p->slots[0];
	for (;;) {
		struct batch *b = &p->slots[p->next_fill % (size_t)p->nslot];
		pthread_mutex_lock(&p->mu);
		int st = b->state;
		pthread_mutex_unlock(&p->mu);
		if (st == FREE)
			return p->cur = b;
		drain(p, 1);
	}
}

struct tokpool *
tokpool_new(const struct tok_opts *o, int nthread, struct out *out,
            struct out *lens)
{
	struct tokpool *p = xcalloc(1, sizeof *p);

	tok_init();
	p->opts = *o;
	p->nthread = nthread;
	p->out = out;
	p->lens_out = lens;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	p->nslot = nthread == 1 ? 1 : 2 * nthread + 2;
	p->slots = xcalloc((size_t)p->nslot, sizeof *p->slots);
	if (nthread == 1) {
		p->solo = tok_ctx_new();
	} else {
		p->th = xmalloc((size_t)nthread * sizeof *p->th);
		for (int i = 0; i < nthread; i++)
			if (pthread_create(&p->th[i], NULL, worker, p))
				die("pthread_create:");
	}
	return p;
}

struct buf *
tokpool_begin(struct tokpool *p, const char *split, const char *label)
{
	struct batch *b = batch_get(p);

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : BATCH_DOCS;
		b->end = xrealloc(b->end, b->cap * sizeof *b->end);
		b->mend = xrealloc(b->mend, b->cap * sizeof *b->mend);
		b->newlines = xrealloc(b->newlines, b->cap * sizeof *b->newlines);
	}
	buf_grow(&b->text, 1);
	buf_add(&b->meta, split, strlen(split) + 1);
	buf_add(&b->meta, label, strlen(label) + 1);
	return &b->text;
}

size_t
tokpool_end(struct tokpool *p, int newlines)
{
	struct batch *b = p->cur;
	size_t start = b->n ? b->end[b->n - 1] : 0, len = b->text.n - start;

	b->end[b->n] = b->text.n;
	b->mend[b->n] = b->meta.n;
	b->newlines[b->n] = newlines;
	b->n++;
	if (b->n >= BATCH_DOCS || b->text.n >= BATCH_BYTES)
		submit(p);
	return len;
}

void
tokpool_finish(struct tokpool *p)
{
	submit(p);
	if (p->nthread > 1) {
		drain(p, 1);
		while (p->next_write < p->next_fill)
			drain(p, 1);
		pthread_mutex_lock(&p->mu);
		p->quitting = 1;
		pthread_cond_broadcast(&p->work_cv);
		pthread_mutex_unlock(&p->mu);
		for (int i = 0; i < p->nthread; i++)
			pthread_join(p->th[i], NULL);
	}
	tok_ctx_free(p->solo);
	free(p->th);
	for (int i = 0; i < p->nslot; i++) {
		struct batch *b = &p->slots[i];
		buf_free(&b->text);
		buf_free(&b->meta);
		buf_free(&b->out);
		buf_free(&b->lens);
		free(b->end);
		free(b->mend);
		free(b->newlines);
	}
	free(p->slots);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
	free(p);
}
