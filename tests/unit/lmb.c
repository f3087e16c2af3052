/* LM batching (spec §3.1 acceptance facts) and the batch stream. */
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "data/lmb.h"
#include "core/util.h"

/* Documents of the given lengths holding the ids 0, 1, 2, ... in order. */
static unsigned char *
make_docs(struct lm_docs *d, const uint32_t *len, int n)
{
	uint64_t T = 0;
	unsigned char *base;

	for (int i = 0; i < n; i++)
		T += len[i];
	base = xmalloc(4 * T + 4);
	for (uint64_t i = 0; i < T; i++)
		put_u32(base + 4 * i, (uint32_t)i);
	memset(d, 0, sizeof *d);
	T = 0;
	for (int i = 0; i < n; i++) {
		lm_docs_add(d, 4 * T, len[i]);
		T += len[i];
	}
	d->base = base;
	return base;
}

/* tok (rows x (L+1)) has x == want_x and y == want_y (rows x L each) */
static int
batch_is(const uint32_t *tok, uint32_t rows, uint32_t L,
         const uint32_t *want_x, const uint32_t *want_y)
{
	for (uint32_t r = 0; r < rows; r++)
		for (uint32_t t = 0; t < L; t++)
			if (tok[r * (L + 1) + t] != want_x[r * L + t] ||
			    tok[r * (L + 1) + t + 1] != want_y[r * L + t])
				return 0;
	return 1;
}

static void
read_whole(const void *buf, size_t n)
{
	FILE *f = fmemopen((void *)buf, n, "rb");
	struct lmb_reader r;
	struct lmb_batch b;

	lmb_open(&r, f, "mem");
	while (lmb_next(&r, &b))
		;
}

static int
read_status(const char *buf, size_t n)
{
	return child_status(read_whole, buf, n);
}

int
main(void)
{
	struct lm_docs d;
	struct lm_loader l;
	uint32_t tok[64 * 20];
	unsigned char *base;
	uint32_t L;

	argv0 = "test";
	{   /* T = 23: docs [0..4],[5..10],[11..18],[19,20],[21,22] */
		const uint32_t len[] = { 5, 6, 8, 2, 2 };
		const uint32_t x0[] = { 0, 1, 2, 5, 6, 7, 10, 11, 12, 15, 16, 17 };
		uint32_t y0[12];
		const uint32_t x1[] = { 3, 4, 8, 9, 13, 14, 18, 19 };
		const uint32_t y1[] = { 4, 5, 9, 10, 14, 15, 19, 20 };

		for (int i = 0; i < 12; i++)
			y0[i] = x0[i] + 1;
		base = make_docs(&d, len, 5);
		lm_loader_init(&l, &d, 4, 3);
		ok(l.sh.T == 23 && l.sh.bl == 5 && l.sh.n_batches == 2 &&
		   l.sh.last_len == 2, "T=23 bs=4 seq_len=3: bl=5, 2 batches,"
		   " last_len 2");
		lm_loader_epoch(&l, NULL);
		L = lm_loader_batch(&l, 0, tok);
		ok(L == 3 && batch_is(tok, 4, 3, x0, y0), "T=23: x0 and y0 = x0+1");
		L = lm_loader_batch(&l, 1, tok);
		ok(L == 2 && batch_is(tok, 4, 2, x1, y1), "T=23: x1 and y1");
		lm_loader_free(&l);
		lm_docs_free(&d);
		free(base);
	}
	{   /* T = 25: ... [21,22,23],[24] */
		const uint32_t len[] = { 5, 6, 8, 2, 3, 1 };
		const uint32_t x0[] = { 0, 1, 2, 6, 7, 8, 12, 13, 14, 18, 19, 20 };
		const uint32_t y0[] = { 1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21 };
		const uint32_t x1[] = { 3, 4, 5, 9, 10, 11, 15, 16, 17, 21, 22, 23 };
		const uint32_t y1[] = { 4, 5, 6, 10, 11, 12, 16, 17, 18, 22, 23,
		                        24 };

		base = make_docs(&d, len, 6);
		lm_loader_init(&l, &d, 4, 3);
		ok(l.sh.bl == 6 && l.sh.n_batches == 2 && l.sh.last_len == 3,
		   "T=25: bl=6, 2 batches, last_len 3");
		lm_loader_epoch(&l, NULL);
		L = lm_loader_batch(&l, 0, tok);
		ok(L == 3 && batch_is(tok, 4, 3, x0, y0), "T=25: x0 rows start"
		   " 0,6,12,18");
		L = lm_loader_batch(&l, 1, tok);
		ok(L == 3 && batch_is(tok, 4, 3, x1, y1), "T=25: x1, and y1's last"
		   " column is 6,12,18,24");
		lm_loader_free(&l);
		lm_docs_free(&d);
		free(base);
	}
	{   /* shuffled: invariants, and every epoch a permutation of docs */
		uint32_t len[40], prev[64 * 8], bad = 0, same = 0, cont = 0;
		struct rng rg;
		uint32_t first_tok[2] = { 0, 0 };

		for (int i = 0; i < 40; i++)
			len[i] = 1 + (uint32_t)(i * 7 % 13);   /* some empty-free mix */
		len[5] = 0;                              /* an empty document */
		base = make_docs(&d, len, 40);
		lm_loader_init(&l, &d, 5, 4);
		for (int e = 0; e < 2; e++) {
			rng_seed(&rg, 42, (uint64_t)e);
			lm_loader_epoch(&l, &rg);
			first_tok[e] = 0;
			for (uint32_t b = 0; b < l.sh.n_batches; b++) {
				L = lm_loader_batch(&l, b, tok);
				if (b == 0)
					first_tok[e] = tok[0];
				for (uint32_t r = 0; r < 5; r++) {
					/* S is a concatenation of documents holding
					 * consecutive ids: within one document y = x+1 */
					uint32_t *row = tok + r * (L + 1);
					if (b && prev[r] != row[0])
						bad++;
					else if (b)
						cont++;
					prev[r] = row[L];
				}
			}
		}
		ok(bad == 0 && cont > 0, "shuffled: y_b[:,-1] == x_{b+1}[:,0]"
		   " (%u row continuations checked)", cont);
		/* x[:,1:] == y[:,:-1] holds by construction of the record; check
		 * it through lmb_xy on a real batch below.  Check the epoch
		 * order really is a permutation. */
		{
			uint32_t seen[40] = {0};
			for (uint32_t k = 0; k < d.n; k++)
				seen[l.order[k]]++;
			for (int i = 0; i < 40; i++)
				same += seen[i] == 1;
		}
		ok(same == 40, "an epoch's order is a permutation of the docs");
		ok(first_tok[0] != first_tok[1], "epochs are shuffled differently"
		   " (first tokens %u, %u)", first_tok[0], first_tok[1]);
		lm_loader_free(&l);
		lm_docs_free(&d);
		free(base);
	}
	{   /* the stream: round trip through a writer and reader */
		const uint32_t len[] = { 5, 6, 8, 2, 2 };
		struct lmb_info in = { .kind = LMB_BOTH, .vocab_n = 30,
		                       .vocab_xxh64 = 77, .bs = 4, .val_bs = 2,
		                       .seq_len = 3, .epochs = 2, .seed = 9,
		                       .shuffle = 1 };
		struct lm_loader lv;
		struct lmb_writer w;
		struct lmb_reader r;
		struct lmb_batch b;
		struct rng rg;
		char *buf;
		size_t n, nbad = 0;
		FILE *f = open_memstream(&buf, &n);
		int resets = 0, nb = 0, okx = 1;
		uint32_t x[64], y[64];

		base = make_docs(&d, len, 5);
		lm_loader_init(&l, &d, 4, 3);
		lm_loader_init(&lv, &d, 2, 3);
		in.train_batches = l.sh.n_batches;
		in.valid_batches = lv.sh.n_batches;
		in.train_tokens = in.valid_tokens = 23;
		in.train_docs = in.valid_docs = 5;
		lmb_begin(&w, f, "mem", &in, NULL);
		for (uint32_t e = 0; e < 2; e++) {
			rng_seed(&rg, 9, e);
			lm_loader_epoch(&l, &rg);
			for (uint32_t i = 0; i < l.sh.n_batches; i++) {
				L = lm_loader_batch(&l, i, tok);
				lmb_write(&w, e, LMB_SPLIT_TRAIN, i, 4, L, tok);
			}
			lm_loader_epoch(&lv, NULL);
			for (uint32_t i = 0; i < lv.sh.n_batches; i++) {
				L = lm_loader_batch(&lv, i, tok);
				lmb_write(&w, e, LMB_SPLIT_VALID, i, 2, L, tok);
			}
		}
		lmb_end(&w);
		fclose(f);
		f = fmemopen(buf, n, "rb");
		lmb_open(&r, f, "mem");
		ok(r.info.bs == 4 && r.info.val_bs == 2 && r.info.seq_len == 3 &&
		   r.info.epochs == 2 && r.info.seed == 9 &&
		   r.info.train_batches == 2 && r.info.valid_batches == 4 &&
		   r.info.kind == LMB_BOTH && r.info.vocab_n == 30,
		   "batch stream header round trip (valid: bl=11, 4 batches)");
		while (lmb_next(&r, &b)) {
			nb++;
			resets += b.reset;
			lmb_xy(&b, x, y);
			for (uint32_t i = 0; i < b.rows; i++)
				for (uint32_t t = 0; t + 1 < b.len; t++)
					okx &= x[i * b.len + t + 1] ==
					       y[i * b.len + t] &&
					       lmb_x(&b, i, t + 1) == lmb_y(&b, i, t);
		}
		ok(nb == 12 && resets == 4, "12 batches, state reset 4 times"
		   " (split or epoch change)");
		ok(okx, "x[:,1:] == y[:,:-1] in every batch read back");
		lmb_close(&r);
		fclose(f);
		for (size_t i = 0; i < n; i++) {
			buf[i] ^= 0x20;
			nbad += read_status(buf, n) != 1;
			buf[i] ^= 0x20;
		}
		ok(nbad == 0, "every one of %zu flipped bytes is refused", n);
		nbad = 0;
		for (size_t k = 0; k < n; k += 3)
			nbad += read_status(buf, k) != 1;
		ok(nbad == 0, "truncations are refused");
		free(buf);
		lm_loader_free(&l);
		lm_loader_free(&lv);
		lm_docs_free(&d);
		free(base);
	}
	return done_testing();
}
