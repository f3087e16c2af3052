/* LM text generation: decode_spec_tokens (spec §13 facts and the rep fix),
 * sampling steps, and carried state == fastai's re-run from zero. */
#include <string.h>

#include "../tap.h"
#include "learn/generate.h"
#include "core/util.h"

static int
dec_is(const char *const *t, size_t n, const char *want)
{
	struct buf b = {0};
	decode_spec_tokens(t, n, &b);
	buf_addc(&b, 0);
	int r = !strcmp(b.p, want);
	if (!r)
		diag("got '%s', want '%s'", b.p, want);
	buf_free(&b);
	return r;
}

int
main(void)
{
	ok(dec_is((const char *[]){"xxmaj", "text"}, 2, "Text"), "[xxmaj,text] -> Text");
	ok(dec_is((const char *[]){"xxup", "text"}, 2, "TEXT"), "[xxup,text] -> TEXT");
	ok(dec_is((const char *[]){"xxrep", "3", "a"}, 3, "aaa"), "[xxrep,3,a] -> aaa");
	ok(dec_is((const char *[]){"xxwrep", "3", "word"}, 3, "word word word"),
	   "[xxwrep,3,word] -> word word word");
	ok(dec_is((const char *[]){"xxmaj", "éCOLE", "is"}, 3, "École is"),
	   "xxmaj lowercases the rest, Unicode-aware");
	ok(dec_is((const char *[]){"xxrep", "3", "!", "ok", "go"}, 5, "!!! ok go"),
	   "the rep rule ends after use (fastai's bug: 'okokok gogogo')");
	ok(dec_is((const char *[]){"xxwrep", "2", "no", "end"}, 4, "no no end"),
	   "the wrep rule ends after use");
	ok(dec_is((const char *[]){"xxrep", "x", "a"}, 3, "x a"),
	   "a non-integer count cancels the rule");

	/* gen_sample */
	struct gen_opts o;
	struct rng r;
	gen_opts_default(&o);
	rng_seed(&r, 1, 0);
	int w, unk = 0, cnt[4] = {0};
	for (int i = 0; i < 4000; i++) {
		double p[4] = {0.5, 0.1, 0.2, 0.2};
		uint32_t k = gen_sample(p, 4, &o, &r, &w);
		unk += k == 0;
		cnt[k]++;
	}
	ok(unk == 0, "no_unk: xxunk is never drawn");
	ok(abs(cnt[1] - 800) < 120 && abs(cnt[2] - 1600) < 150,
	   "draws follow the renormalised probabilities (%d %d %d)", cnt[1],
	   cnt[2], cnt[3]);
	o.min_p = 0.15;
	int c1 = 0;
	for (int i = 0; i < 1000; i++) {
		double p[4] = {0.5, 0.1, 0.2, 0.2};
		c1 += gen_sample(p, 4, &o, &r, &w) == 1;
	}
	ok(c1 == 0, "min_p 0.15 removes p = 0.1");
	double p5[4] = {0.3, 0.3, 0.2, 0.2};
	o.min_p = 0.9;
	gen_sample(p5, 4, &o, &r, &w);
	ok(w == 1, "min_p above every p: ignored with a warning");
	o.min_p = 0, o.temperature = 0.05;
	int c3 = 0;
	for (int i = 0; i < 500; i++) {
		double p[4] = {0.1, 0.2, 0.3, 0.4};
		c3 += gen_sample(p, 4, &o, &r, &w) == 3;
	}
	ok(c3 > 490, "low temperature sharpens towards the most likely (%d/500)", c3);

	/* carrying the state == re-running from zero (fastai) */
	struct awd_config ac;
	struct lm lm;
	awd_config_lm(&ac, 30, 1.0f);
	ac.emb = 8, ac.hidden = 12, ac.layers = 2;
	lm_create(&lm, &ac, 1, 16);
	rng_seed(&r, 4, 0);
	lm_init(&lm, &r);
	for (int i = 0; i < 30; i++)
		lm.dec_b[i] = 0.05f * (i % 7);
	uint32_t prompt[3] = {2, 9, 14}, out[3 + 10];
	double probs[30];
	float lg[30], lg2[30];
	o.temperature = 1, o.n_words = 10;
	struct rng r1, r2;
	rng_seed(&r1, 77, 0);
	lm_generate(&lm, prompt, 3, &o, &r1, out, probs, lg);
	uint32_t out2[13];
	rng_seed(&r2, 77, 0);
	lm_generate(&lm, prompt, 3, &o, &r2, out2, probs, lg);
	ok(!memcmp(out, out2, sizeof out) && !memcmp(out, prompt, sizeof prompt),
	   "same seed, same words; the prompt is kept");
	int inrange = 1;
	for (int i = 3; i < 13; i++)
		inrange &= out[i] > 0 && out[i] < 30;
	ok(inrange, "generated ids are in the vocab and never xxunk");
	/* logits after the whole sequence in one forward from zero state vs
	 * the carried state of generation */
	awd_reset(&lm.enc);
	lm_last_logits(&lm, out, 1, 12, lg2);
	awd_reset(&lm.enc);
	for (int i = 0; i < 12; i++)
		lm_last_logits(&lm, out + i, 1, 1, lg);
	ok(close_to(lg, lg2, 30, 1e-5f, 1e-4f),
	   "one token at a time with the state carried == the whole sequence "
	   "from zero");
	lm_free(&lm);

	const char *toks[] = {"xxunk", "xxpad", "xxbos", "xxeos", "xxfld",
	                      "xxrep", "xxwrep", "xxup", "xxmaj", "hello",
	                      "world", "!", "a\\nb", "3"};
	struct vocab *v = vocab_from_list(toks, 14);
	uint32_t ids[] = {2, 8, 9, 10, 5, 13, 11, 1, 12};
	struct buf b = {0};
	gen_text(v, ids, 9, &b);
	buf_addc(&b, 0);
	ok(!strcmp(b.p, "Hello world !!! a\nb"),
	   "gen_text: no xxbos/xxpad, unescaped, decoded ('%s')", b.p);
	buf_free(&b);
	vocab_free(v);
	return done_testing();
}
