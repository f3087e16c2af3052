/* fastai's load_pretrained: clean_raw_keys, match_embeds, the copy by
 * position, and fastai's pickled itos lists as vocabs.
 *
 * Without arguments: unit tests (spec §11's acceptance facts, pickled
 * vocabs of protocols 2 and 4, refusals).  With arguments it is the C side
 * of tests/pretrained.t:
 *   pretrained load WGTS VOCAB NEWVOCAB MODE [EXPECTED]
 *     load_pretrained(WGTS, VOCAB) into a model for NEWVOCAB (emb 6,
 *     hidden 10, 3 layers, as tests/ref/pretrained_ref.py), print the
 *     report on stderr, and compare every parameter with EXPECTED (a
 *     .pth written by the script): names, shapes, values.  MODE: lm (our
 *     own table of the v2 LM's 16 parameters), awd (the table of awd.h's
 *     LM, lm_tensors), clas (a classifier's encoder: 14 parameters
 *     0.module.*), wide (an LM with hidden 12: must be refused). */
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "../tap.h"
#include "model/awd.h"
#include "model/lm.h"
#include "torch/pickle.h"
#include "learn/pretrained.h"
#include "torch/pth.h"
#include "text/tokfile.h"
#include "core/util.h"
#include "data/vocab.h"

enum { EMB = 6, HID = 10, LAYERS = 3 };

/* ---- a target table ------------------------------------------------- */

struct table {
	struct pretrained_param p[48];
	char name[48][96];
	float *own[48];
	int n;
};

static float *
table_add(struct table *t, const char *prefix, const char *name, float *w,
          int ndim, int64_t d0, int64_t d1)
{
	int i = t->n++;
	struct pretrained_param *p = &t->p[i];

	snprintf(t->name[i], sizeof t->name[i], "%s%s", prefix, name);
	p->name = t->name[i];
	p->ndim = ndim;
	p->shape[0] = d0;
	p->shape[1] = d1;
	if (!w)
		w = t->own[i] = xcalloc((size_t)d0 * (ndim > 1 ? d1 : 1),
		                        sizeof *w);
	p->w = w;
	return w;
}

/* fastai v2's AWD-LSTM state dict, in order (spec §11.2).  lm: the LM
 * ("0." + encoder, then the tied decoder and its bias); else the
 * classifier's encoder ("0.module.", 14 entries). */
static void
table_awd(struct table *t, int V, int H, int lm)
{
	const char *pre = lm ? "0." : "0.module.";
	char nm[48];

	memset(t, 0, sizeof *t);
	float *emb = table_add(t, pre, "encoder.weight", NULL, 2, V, EMB);
	table_add(t, pre, "encoder_dp.emb.weight", emb, 2, V, EMB);
	for (int l = 0; l < LAYERS; l++) {
		int in = l ? H : EMB, out = l == LAYERS - 1 ? EMB : H;
		snprintf(nm, sizeof nm, "rnns.%d.weight_hh_l0_raw", l);
		table_add(t, pre, nm, NULL, 2, 4 * out, out);
		snprintf(nm, sizeof nm, "rnns.%d.module.weight_ih_l0", l);
		table_add(t, pre, nm, NULL, 2, 4 * out, in);
		snprintf(nm, sizeof nm, "rnns.%d.module.bias_ih_l0", l);
		table_add(t, pre, nm, NULL, 1, 4 * out, 0);
		snprintf(nm, sizeof nm, "rnns.%d.module.bias_hh_l0", l);
		table_add(t, pre, nm, NULL, 1, 4 * out, 0);
	}
	if (lm) {
		table_add(t, "1.", "decoder.weight", emb, 2, V, EMB);
		table_add(t, "1.", "decoder.bias", NULL, 1, V, 0);
	}
}

static void
table_free(struct table *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->own[i]);
}

/* awd.h's LM table as pretrained_params: name, w, ndim, shape. */
static int
table_from_lm(struct lm *lm, struct awd_tensor *at, struct pretrained_param *p,
              int max)
{
	int n = lm_tensors(lm, at, max);

	for (int i = 0; i < n && i < max; i++) {
		p[i].name = at[i].name;
		p[i].w = at[i].w;
		p[i].ndim = at[i].ndim;
		for (int d = 0; d < at[i].ndim; d++)
			p[i].shape[d] = at[i].shape[d];
	}
	return n;
}

/* Every parameter equals EXPECTED's tensor at the same position. */
static int
compare(const struct pretrained_param *p, int n, const char *expected)
{
	struct pth *e = pth_load(expected);
	int bad = 0;

	if (e->n != n) {
		fprintf(stderr, "%s has %d tensors, the model %d\n", expected,
		        e->n, n);
		bad = 1;
	}
	for (int i = 0; !bad && i < n; i++) {
		const struct pth_tensor *t = &e->t[i];
		int64_t m = 1;
		if (strcmp(t->name, p[i].name) || t->ndim != p[i].ndim || !t->f) {
			fprintf(stderr, "position %d: expected %s, model has %s\n",
			        i, t->name, p[i].name);
			bad = 1;
			break;
		}
		for (int d = 0; d < t->ndim; d++) {
			m *= t->shape[d];
			bad |= t->shape[d] != p[i].shape[d];
		}
		if (bad) {
			fprintf(stderr, "%s: shapes differ\n", t->name);
			break;
		}
		/* rows are copies (exact); means differ from torch's float32
		 * mean by rounding only */
		if (!close_to(p[i].w, t->f, (size_t)m, 1e-6f, 1e-5f)) {
			for (int64_t j = 0; j < m; j++)
				if (!close_to(p[i].w + j, t->f + j, 1, 1e-6f, 1e-5f)) {
					fprintf(stderr, "%s[%lld]: %.9g, expected %.9g\n",
					        t->name, (long long)j, p[i].w[j],
					        t->f[j]);
					break;
				}
			bad = 1;
		}
	}
	pth_free(e);
	return bad;
}

static int
cmd_load(int argc, char **argv)
{
	const char *wgts = argv[0], *itos = argv[1], *mode = argv[3];
	const char *expected = argc > 4 ? argv[4] : NULL;
	struct vocab *nw = vocab_load(argv[2]);
	struct pretrained_report rep;
	struct table t = { 0 };
	struct lm lm;
	struct awd_tensor at[AWD_MAX_TENSORS + 2];
	struct pretrained_param ap[AWD_MAX_TENSORS + 2];
	const struct pretrained_param *p = t.p;
	int n, ret = 0, is_lm = 0;

	if (!strcmp(mode, "awd")) {
		struct awd_config cfg;
		awd_config_lm(&cfg, (int)nw->n, 1.0f);
		cfg.emb = EMB, cfg.hidden = HID, cfg.layers = LAYERS;
		lm_create(&lm, &cfg, 1, 1);
		n = table_from_lm(&lm, at, ap, AWD_MAX_TENSORS + 2);
		p = ap;
		is_lm = 1;
	} else {
		table_awd(&t, (int)nw->n, !strcmp(mode, "wide") ? HID + 2 : HID,
		          strcmp(mode, "clas") != 0);
		n = t.n;
	}
	pretrained_load(wgts, itos, nw, p, n, &rep);
	pretrained_report_print(stderr, wgts, &rep, p, 1);
	if (expected)
		ret = compare(p, n, expected);
	pretrained_report_free(&rep);
	if (is_lm)
		lm_free(&lm);
	table_free(&t);
	vocab_free(nw);
	return ret;
}

/* ---- unit tests ------------------------------------------------------ */

static int
rows_are(const float *got, const float *want, int n)
{
	return !memcmp(got, want, (size_t)n * sizeof *got);
}

static void
test_match_embeds(void)
{
	/* spec §11.3: old [a,b,c], E 5x3 -> new [a,c,d,b] */
	const char *o[] = { "a", "b", "c" }, *w[] = { "a", "c", "d", "b" };
	struct vocab *old = vocab_from_list(o, 3), *nw = vocab_from_list(w, 4);
	float E[5][3], b[5], nE[4][3], nb[4], mean[3] = { 0 }, bm = 0;

	for (int r = 0; r < 5; r++) {
		for (int d = 0; d < 3; d++) {
			E[r][d] = (float)(r * 3 + d) * 0.25f - 1.0f;
			mean[d] += E[r][d] / 5;
		}
		b[r] = (float)(r * r) - 2.0f;
		bm += b[r] / 5;
	}
	uint32_t k = pretrained_match_embeds(old, nw, &E[0][0], b, 5, 3,
	                                     &nE[0][0], nb);
	ok(k == 3, "3 of the new tokens were in the old vocab (%u)", k);
	ok(rows_are(nE[0], E[0], 3) && rows_are(nE[1], E[2], 3) &&
	   close_to(nE[2], mean, 3, 1e-6f, 0) && rows_are(nE[3], E[1], 3),
	   "new rows are E0, E2, mean(E) of all 5 rows, E1");
	ok(nb[0] == b[0] && nb[1] == b[2] && fabsf(nb[2] - bm) < 1e-6f &&
	   nb[3] == b[1], "new biases are b0, b2, mean(b), b1");
	float nE2[4][3];
	pretrained_match_embeds(old, nw, &E[0][0], NULL, 5, 3, &nE2[0][0], NULL);
	ok(!memcmp(nE, nE2, sizeof nE), "no bias: the same rows");
	vocab_free(old);
	vocab_free(nw);

	/* xxfake takes the mean even when the old vocab has it; a duplicate
	 * takes its last row, as fastai's {w: i for i, w in ...} */
	const char *o2[] = { "xxunk", "the", "a", "the", "xxfake", "xxfake" };
	const char *w2[] = { "xxunk", "the", "xxfake", "a", "zz" };
	old = vocab_from_list(o2, 6);
	nw = vocab_from_list(w2, 5);
	float E2[6][2], nE3[5][2], m2[2] = { 0 };
	for (int r = 0; r < 6; r++)
		for (int d = 0; d < 2; d++) {
			E2[r][d] = (float)(r + 1) * (d ? -1.0f : 0.5f);
			m2[d] += E2[r][d] / 6;
		}
	k = pretrained_match_embeds(old, nw, &E2[0][0], NULL, 6, 2, &nE3[0][0],
	                            NULL);
	ok(k == 3 && rows_are(nE3[0], E2[0], 2) && rows_are(nE3[3], E2[2], 2),
	   "xxunk and a found (%u found)", k);
	ok(rows_are(nE3[1], E2[3], 2), "a duplicated token takes its last row");
	ok(close_to(nE3[2], m2, 2, 1e-6f, 0) && close_to(nE3[4], m2, 2, 1e-6f, 0),
	   "xxfake and an unseen token take the mean row");
	vocab_free(old);
	vocab_free(nw);
}

/* fastai v1's LM keys (19) and what clean_raw_keys leaves (16). */
static const char *v1_keys[] = {
	"0.encoder.weight", "0.encoder_dp.emb.weight",
	"0.rnns.0.weight_hh_l0_raw", "0.rnns.0.module.weight_ih_l0",
	"0.rnns.0.module.weight_hh_l0", "0.rnns.0.module.bias_ih_l0",
	"0.rnns.0.module.bias_hh_l0",
	"0.rnns.1.weight_hh_l0_raw", "0.rnns.1.module.weight_ih_l0",
	"0.rnns.1.module.weight_hh_l0", "0.rnns.1.module.bias_ih_l0",
	"0.rnns.1.module.bias_hh_l0",
	"0.rnns.2.weight_hh_l0_raw", "0.rnns.2.module.weight_ih_l0",
	"0.rnns.2.module.weight_hh_l0", "0.rnns.2.module.bias_ih_l0",
	"0.rnns.2.module.bias_hh_l0",
	"1.decoder.weight", "1.decoder.bias",
};

static void
test_clean_raw_keys(void)
{
	unsigned char keep[32];
	int n = (int)(sizeof v1_keys / sizeof *v1_keys), d, bad = 0;

	d = pretrained_clean_raw_keys(v1_keys, n, keep);
	for (int i = 0; i < n; i++)
		bad += keep[i] != !strstr(v1_keys[i], "module.weight_hh_l0");
	ok(n == 19 && d == 3 && !bad,
	   "v1's 19 keys: exactly the 3 module.weight_hh_l0 go (%d)", d);
	ok(!keep[9] && !strcmp(v1_keys[9], "0.rnns.1.module.weight_hh_l0"),
	   "0.rnns.1.module.weight_hh_l0 goes when 0.rnns.1.weight_hh_l0_raw "
	   "exists");

	/* without its _raw twin a module.weight_hh_l0 stays */
	const char *k2[] = { "0.rnns.1.module.weight_hh_l0",
	                     "0.rnns.1.module.weight_ih_l0", "1.decoder.bias" };
	d = pretrained_clean_raw_keys(k2, 3, keep);
	ok(d == 0 && keep[0] && keep[1] && keep[2],
	   "no _raw twin: everything stays");

	/* the classifier's names: the LAST module component is removed */
	const char *k3[] = { "0.module.rnns.0.weight_hh_l0_raw",
	                     "0.module.rnns.0.module.weight_hh_l0",
	                     "0.module.rnns.0.module.weight_ih_l0",
	                     "0.module.encoder.weight" };
	d = pretrained_clean_raw_keys(k3, 4, keep);
	ok(d == 1 && keep[0] && !keep[1] && keep[2] && keep[3],
	   "0.module.rnns.0.module.weight_hh_l0 goes, 0.module.* stays");

	/* fastai's _rm_module edge cases: no "module" at all ("x" goes when
	 * "x_raw" exists), a trailing "module", and look-alikes */
	const char *k4[] = { "x", "x_raw", "a.module", "a_raw", "b.modules.w",
	                     "b.w_raw", "c.submodule.w", "c.w_raw" };
	d = pretrained_clean_raw_keys(k4, 8, keep);
	ok(d == 2 && !keep[0] && keep[1] && !keep[2] && keep[3] && keep[4] &&
	   keep[6], "edge cases as fastai's _rm_module (%d dropped)", d);
}

static void
test_encoder_keys(void)
{
	unsigned char keep[32];
	int n = (int)(sizeof v1_keys / sizeof *v1_keys), enc = 0, same = 1;
	const char *first = NULL;
	struct awd_config cfg;
	struct awd m;

	pretrained_clean_raw_keys(v1_keys, n, keep);
	awd_config_lm(&cfg, 16, 1.0f);
	cfg.emb = EMB, cfg.hidden = HID, cfg.layers = LAYERS;
	awd_create(&m, &cfg, 1, 1, 0);
	for (int i = 0; i < n; i++) {
		if (!keep[i] || strncmp(v1_keys[i], "0.", 2))
			continue;
		if (!first)
			first = v1_keys[i] + 2;
		same &= enc < m.ntensor && !strcmp(m.tensor[enc].name,
		                                   v1_keys[i] + 2);
		enc++;
	}
	ok(enc == 14 && first && !strcmp(first, "encoder.weight"),
	   "the cleaned v1 encoder has 14 keys, starting with encoder.weight");
	ok(same && m.ntensor == 14,
	   "... the 14 names of awd.h's table, in the same order");
	awd_free(&m);
}

/* ---- pickled vocabs -------------------------------------------------- */

static const char *
write_tmp(const void *p, size_t n)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/pretrained-unit-XXXXXX");
	if ((fd = mkstemp(path)) < 0 || write(fd, p, n) != (ssize_t)n)
		die("%s:", path);
	close(fd);
	return path;
}

/* The raw tokens of the test itos and their escaped forms. */
#define NITOS 300
static char raw_tok[NITOS][24], esc_tok[NITOS][32];

static void
itos_init(void)
{
	static const char *fixed[] = { "xxunk", "xxpad", "xxbos", "the",
	                               "new york", "tab\there", "a\\b",
	                               "line\nx", "caf\xc3\xa9", "the" };
	static const char *fixed_esc[] = { "xxunk", "xxpad", "xxbos", "the",
	                                   "new\xe2\x96\x81york", "tab\\there",
	                                   "a\\\\b", "line\\nx", "caf\xc3\xa9",
	                                   "the" };
	for (int i = 0; i < NITOS; i++) {
		if (i < 10) {
			strcpy(raw_tok[i], fixed[i]);
			strcpy(esc_tok[i], fixed_esc[i]);
		} else {
			snprintf(raw_tok[i], sizeof raw_tok[i], "w%d", i);
			strcpy(esc_tok[i], raw_tok[i]);
		}
	}
}

/* Python's pickle.dumps(list, protocol=4): FRAME, MEMOIZE after the list
 * and after each new string, BINGET for a string seen before, APPENDS in
 * batches of 1000. */
static void
pickle4(struct buf *b)
{
	size_t memo = 0, at[NITOS];

	buf_add(b, "\x80\x04\x95\0\0\0\0\0\0\0\0]\x94(", 14);
	memo++;
	for (int i = 0; i < NITOS; i++) {
		int seen = -1;
		for (int j = 0; j < i; j++)
			if (!strcmp(raw_tok[j], raw_tok[i]))
				seen = j;
		if (seen >= 0) {
			unsigned char g[5] = { 'j' };
			put_u32(g + 1, (uint32_t)at[seen]);
			if (at[seen] < 256)
				buf_add(b, (char[]){ 'h', (char)at[seen] }, 2);
			else
				buf_add(b, g, 5);
			at[i] = at[seen];
			continue;
		}
		buf_addc(b, (char)0x8c);
		buf_addc(b, (char)strlen(raw_tok[i]));
		buf_adds(b, raw_tok[i]);
		buf_addc(b, (char)0x94);
		at[i] = memo++;
	}
	buf_add(b, "e.", 2);
}

static void
test_pickled_vocab(void)
{
	const char *esc[NITOS];
	struct pv_pool pool = { 0 };
	struct buf b2 = { 0 }, b4 = { 0 };
	struct pk_writer w = { .out = &b2 };

	itos_init();
	for (int i = 0; i < NITOS; i++)
		esc[i] = esc_tok[i];
	struct vocab *want = vocab_from_list(esc, NITOS);

	/* protocol 2, as Python writes it (pickle.h's writer) */
	struct pv *list = pv_list(&pool);
	for (int i = 0; i < NITOS; i++)
		pv_push(list, pv_str(&pool, raw_tok[i]));
	pk_write(&w, list);
	pk_writer_free(&w);
	const char *path = write_tmp(b2.p, b2.n);
	struct vocab *v2 = vocab_load(path);
	unlink(path);
	int same = v2->n == NITOS;
	for (int i = 0; same && i < NITOS; i++)
		same = !strcmp(v2->tok[i], esc_tok[i]);
	ok(same, "protocol 2 itos: %u tokens, escaped as in .tok files", v2->n);
	ok(v2->xxh64 == want->xxh64,
	   "its xxh64 is that of the same vocab in text form");

	char *img;
	size_t nimg;
	FILE *mf = open_memstream(&img, &nimg);
	vocab_write(v2, mf, "mem");
	fclose(mf);
	ok(v2->xxh64 == XXH64(img, nimg, 0),
	   "... = xxh64 of the bytes vocab_write writes");
	free(img);
	ok(vocab_id(v2, "new\xe2\x96\x81york", 10) == 4 &&
	   vocab_id(v2, "the", 3) == 3 && vocab_id(v2, "w299", 4) == 299,
	   "lookups: new▁york 4, the 3 (first), w299 299");

	/* protocol 4 with MEMOIZE (over 256 slots) and BINGET */
	pickle4(&b4);
	path = write_tmp(b4.p, b4.n);
	struct vocab *v4 = vocab_load(path);
	unlink(path);
	same = v4->n == NITOS && v4->xxh64 == want->xxh64;
	for (int i = 0; same && i < NITOS; i++)
		same = !strcmp(v4->tok[i], esc_tok[i]);
	ok(same, "protocol 4 itos (MEMOIZE, BINGET): the same vocab");

	vocab_free(v2);
	vocab_free(v4);
	vocab_free(want);
	pv_pool_free(&pool);
	buf_free(&b2);
	buf_free(&b4);
}

/* ---- pretrained_apply on files made here ----------------------------- */

/* A small LM-shaped state dict: E (3,2) for vocab [a,b,c], one LSTM-ish
 * tensor (4,2), the decoder (tied) and its bias. */
static char *
small_pth(size_t *n, int with_enc, int with_dec)
{
	static float E[6] = { 1, 2, 3, 4, 5, 6 }, W[8] = { 0, 1, 2, 3, 4, 5, 6,
	                                                   7 }, B[3] = { 9, 8, 7 };
	struct pth_tensor t[5];
	struct pv_pool pool = { 0 };
	int k = 0;

	memset(t, 0, sizeof t);
	t[k++] = (struct pth_tensor){ .name = with_enc ? "0.encoder.weight" :
	                              "encoder.weight", .dtype = PTH_F32,
	                              .ndim = 2, .shape = { 3, 2 }, .f = E };
	t[k++] = (struct pth_tensor){ .name = "0.rnns.0.weight_hh_l0_raw",
	                              .dtype = PTH_F32, .ndim = 2,
	                              .shape = { 4, 2 }, .f = W };
	t[k++] = (struct pth_tensor){ .name = "0.rnns.0.module.weight_hh_l0",
	                              .dtype = PTH_F32, .ndim = 2,
	                              .shape = { 4, 2 }, .f = W };
	if (with_dec)
		t[k++] = (struct pth_tensor){ .name = "1.decoder.weight",
		                              .dtype = PTH_F32, .ndim = 2,
		                              .shape = { 3, 2 }, .f = E };
	t[k++] = (struct pth_tensor){ .name = "1.decoder.bias",
	                              .dtype = PTH_F32, .ndim = 1,
	                              .shape = { 3 }, .f = B };
	for (int i = 0; i < k; i++)
		t[i].numel = t[i].ndim == 2 ? t[i].shape[0] * t[i].shape[1] :
		                              t[i].shape[0];
	char *buf;
	FILE *f = open_memstream(&buf, n);
	pth_write(f, "small", pth_state_dict(&pool, t, k), NULL);
	fclose(f);
	pv_pool_free(&pool);
	return buf;
}

static void
test_apply(void)
{
	const char *o[] = { "a", "b", "c" }, *w[] = { "c", "zz", "a", "xxfake" };
	struct vocab *old = vocab_from_list(o, 3), *nw = vocab_from_list(w, 4);
	size_t n;
	char *buf = small_pth(&n, 1, 1), *err = NULL;
	struct pth *p = pth_load_mem((unsigned char *)buf, n, "small.pth", &err);
	float emb[8], wh[8], db[4], extra[5];
	struct pretrained_param dst[4] = {
		{ "p0", emb, 2, { 4, 2 } },     /* names are ignored */
		{ "p1", wh, 2, { 4, 2 } },
		{ "p2", emb, 2, { 4, 2 } },     /* tied, as our decoder */
		{ "p3", db, 1, { 4 } },
	};
	struct pretrained_report rep;

	ok(p != NULL, "pth_write'n small LM loads");
	int r = pretrained_apply(p, old, "abc", nw, dst, 4, &rep, &err);
	ok(r == 0 && rep.file_keys == 5 && rep.raw_dropped == 1 &&
	   rep.copied == 4 && rep.unused == 0 && rep.untouched == 0 &&
	   rep.matched == 2 && !rep.wrapped && !rep.legacy,
	   "5 keys, 1 dropped, 4 copied by position, 2 of 4 tokens found");
	float want_emb[8] = { 5, 6, 3, 4, 1, 2, 3, 4 };
	ok(!memcmp(emb, want_emb, sizeof emb) && wh[7] == 7 && db[0] == 7 &&
	   db[1] == 8 && db[2] == 9 && db[3] == 8,
	   "rows c, mean, a, mean (xxfake); biases likewise");
	pretrained_report_free(&rep);

	/* fewer parameters than tensors (a classifier's encoder), more
	 * (an extra head): zip() stops at the shorter */
	r = pretrained_apply(p, old, NULL, nw, dst, 2, &rep, &err);
	ok(r == 0 && rep.copied == 2 && rep.unused == 2,
	   "2 parameters: 2 copied, 2 file tensors unused");
	pretrained_report_free(&rep);
	struct pretrained_param dst5[5];
	memcpy(dst5, dst, sizeof dst);
	dst5[4] = (struct pretrained_param){ "head", extra, 1, { 5 } };
	extra[0] = 42;
	r = pretrained_apply(p, old, NULL, nw, dst5, 5, &rep, &err);
	ok(r == 0 && rep.copied == 4 && rep.untouched == 1 && extra[0] == 42,
	   "5 parameters: the last keeps its value");
	pretrained_report_free(&rep);

	/* a shape mismatch names both sides and writes nothing */
	float wh6[12] = { 0 };
	struct pretrained_param bad[4];
	memcpy(bad, dst, sizeof dst);
	bad[1] = (struct pretrained_param){ "0.rnns.0.weight_hh_l0_raw", wh6, 2,
	                                    { 4, 3 } };
	memset(emb, 0, sizeof emb);
	r = pretrained_apply(p, old, NULL, nw, bad, 4, &rep, &err);
	ok(r == -1 && err && strstr(err, "small.pth: at position 1 the file's "
	          "'0.rnns.0.weight_hh_l0_raw' (4x2) does not fit the model's "
	          "'0.rnns.0.weight_hh_l0_raw' (4x3)"),
	   "a shape mismatch is refused: %s", err);
	ok(emb[0] == 0 && wh6[0] == 0, "... and nothing was written");
	free(err);

	/* the old vocab must cover the embedding rows' ids */
	const char *o4[] = { "a", "b", "c", "d" };
	struct vocab *old4 = vocab_from_list(o4, 4);
	r = pretrained_apply(p, old4, "itos.pkl", nw, dst, 4, &rep, &err);
	ok(r == -1 && err && strstr(err, "3 rows but itos.pkl has 4 tokens"),
	   "an old vocab larger than the embedding is refused: %s", err);
	free(err);
	vocab_free(old4);
	pth_free(p);

	/* no 1.decoder.weight: fastai's match_embeds appends one */
	free(buf);
	buf = small_pth(&n, 1, 0);
	p = pth_load_mem((unsigned char *)buf, n, "nodec.pth", &err);
	struct pretrained_param nodec[4] = { dst[0], dst[1], dst[3], dst[2] };
	r = p ? pretrained_apply(p, old, NULL, nw, nodec, 4, &rep, &err) : -1;
	ok(r == 0 && rep.decoder_added && rep.nkeys == 4 &&
	   !strcmp(rep.keys[2], "1.decoder.bias") &&
	   !strcmp(rep.keys[3], "1.decoder.weight"),
	   "no 1.decoder.weight: one is appended after the bias");
	pretrained_report_free(&rep);
	pth_free(p);

	/* an encoder (save_encoder) is not a language model */
	free(buf);
	buf = small_pth(&n, 0, 1);
	p = pth_load_mem((unsigned char *)buf, n, "enc.pth", &err);
	r = p ? pretrained_apply(p, old, NULL, nw, dst, 4, &rep, &err) : 0;
	ok(r == -1 && err && strstr(err, "no 0.encoder.weight"),
	   "a file without 0.encoder.weight is refused: %s", err);
	free(err);
	pth_free(p);

	/* truncated */
	p = pth_load_mem((unsigned char *)buf, n / 2, "cut.pth", &err);
	ok(!p && err && strstr(err, "cut.pth"), "a truncated file is refused: "
	   "%s", err);
	free(err);
	free(buf);
	vocab_free(old);
	vocab_free(nw);
}

int
main(int argc, char *argv[])
{
	argv0 = "pretrained";
	if (argc >= 6 && argc <= 7 && !strcmp(argv[1], "load"))
		return cmd_load(argc - 2, argv + 2);
	if (argc > 1) {
		fprintf(stderr, "usage: pretrained [load WGTS VOCAB NEWVOCAB "
		        "lm|awd|clas|wide [EXPECTED]]\n");
		return 2;
	}
	test_match_embeds();
	test_clean_raw_keys();
	test_encoder_keys();
	test_pickled_vocab();
	test_apply();
	return done_testing();
}
