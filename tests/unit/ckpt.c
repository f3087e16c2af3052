/* ckpt.c: checkpoint metadata (typed: written, read back, every damaged
 * value refused), encoder discovery on every kind of file, the model
 * tables, and the LSTM state records (and the earlier hex format). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "core/util.h"
#include "kernels.h"
#include "learn/ckpt.h"
#include "model/clas.h"
#include "model/lm.h"
#include "torch/pth.h"

static char dir[] = "/tmp/ckpttestXXXXXX";

/* A file of n float tensors called names[i] (shape (2,3)), meta, records */
static struct pth *
save_load(const char *name, const char *const *names, int n, const char *meta,
          const struct pth_record *rec, int nrec)
{
	static float w[6] = { 1, 2, 3, 4, 5, 6 };
	struct pth_tensor t[16];
	char path[128];
	for (int i = 0; i < n; i++)
		t[i] = (struct pth_tensor){ .name = names[i], .dtype = PTH_F32,
			.ndim = 2, .shape = { 2, 3 }, .numel = 6, .f = w };
	struct pv_pool pool = {0};
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (pth_save_records(path, pth_state_dict(&pool, t, n), meta, rec, nrec))
		exit(1);
	pv_pool_free(&pool);
	return pth_load(path);
}

static void
test_prefix(void)
{
	static const struct { const char *file, *keys[3], *want; int n; } c[] = {
		{ "enc.pth", { "encoder.weight", "rnns.0.weight_hh_l0_raw" },
		  "", 2 },
		{ "lm.pth", { "0.encoder.weight", "1.decoder.bias" }, "0.", 2 },
		{ "clas.pth", { "0.module.encoder.weight", "1.layers.0.0.weight" },
		  "0.module.", 2 },
		/* both: fastai's get_model(m)[0].module comes first */
		{ "both.pth", { "0.encoder.weight", "0.module.encoder.weight",
		  "encoder.weight" }, "0.module.", 3 },
		{ "lmenc.pth", { "encoder.weight", "0.encoder.weight" }, "0.", 2 },
		{ "none.pth", { "decoder.weight" }, NULL, 1 },
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		struct pth *p = save_load(c[i].file, c[i].keys, c[i].n, NULL, NULL,
		                          0);
		const char *got = pth_encoder_prefix(p);
		ok(c[i].want ? got && !strcmp(got, c[i].want) : !got,
		   "encoder prefix of %s: '%s'", c[i].file, got ? got : "(none)");
		pth_free(p);
	}
}

static void
fill_lm(struct ckpt_meta *m)
{
	memset(m, 0, sizeof *m);
	m->kind = CKPT_LM;
	snprintf(m->tool, sizeof m->tool, "awdtrain");
	m->vocab_n = 32, m->vocab_xxh64 = 0x0123456789abcdefULL;
	ckpt_set_str(&m->vocab_path, "/x/vocab");
	m->emb = 16, m->hid = 32, m->layers = 3, m->pad = 1, m->has_pad = 1;
	m->drop_mult = 0.2, m->seed = 42;
	m->fit = (struct fit_opts)FIT_OPTS_DEFAULT;
	m->fit.lr_lo = 1e-3 / 3, m->fit.clip = 0.25;
	m->bs = 8, m->seq_len = 10, m->stream_seed = 7, m->stream_epochs = 10;
	m->train_batches = 50;
	m->run = (struct trainrun){ .epoch = 1, .n_epoch = 10, .batch = 15,
		.step = 65, .freeze_to = -1, .parent = 0xfeedULL,
		.sm = { .val = 0.1 / 3, .count = 65 } };
	m->hidden_rows = 8;
}

static void
test_meta(void)
{
	struct ckpt_meta m, r;
	fill_lm(&m);
	char *text = ckpt_meta_text(&m);
	struct pth *p = save_load("m.pth", (const char *[]){ "x" }, 1, text,
	                          NULL, 0);
	ckpt_meta_read(&r, p);
	ok(r.kind == CKPT_LM && !strcmp(r.tool, "awdtrain"), "kind, tool");
	ok(r.vocab_n == 32 && r.vocab_xxh64 == m.vocab_xxh64 &&
	   !strcmp(r.vocab_path, "/x/vocab"), "vocab");
	ok(r.emb == 16 && r.hid == 32 && r.layers == 3 && r.has_pad && r.pad == 1,
	   "sizes");
	ok(r.drop_mult == 0.2 && r.seed == 42 && r.bs == 8, "drop_mult, seed, bs");
	ok(!memcmp(&r.fit, &m.fit, sizeof r.fit), "fit settings bit for bit");
	ok(r.run.epoch == 1 && r.run.batch == 15 && r.run.step == 65 &&
	   r.run.freeze_to == -1 && r.run.parent == 0xfeed &&
	   r.run.sm.val == m.run.sm.val && r.run.sm.count == 65,
	   "the run's position, smoothed loss bit for bit");
	ok(r.seq_len == 10 && r.stream_seed == 7 && r.stream_epochs == 10 &&
	   r.train_batches == 50 && r.hidden_rows == 8, "the stream, state rows");
	ok(!r.sp_path && !ckpt_meta_has(&r, "sp_xxh64"), "no SentencePiece");
	char *again = ckpt_meta_text(&r);
	ok(!strcmp(text, again), "written again: the same text");
	free(again);
	ckpt_meta_need(&r, CK_FIT | CK_RUN | CK_STREAM | CK_SEED, "x");
	ok(1, "an awdtrain file has every group it needs");
	ckpt_meta_free(&r);
	pth_free(p);
	free(text);

	/* a classifier: labels and tags */
	struct ckpt_meta c = m;
	c.vocab_path = NULL;
	c.kind = CKPT_CLAS;
	snprintf(c.tool, sizeof c.tool, "clastrain");
	c.ps = 0.1, c.bptt = 72, c.max_len = 1440, c.lin_ftrs = 50, c.nclass = 2;
	char *labels[] = { "neg", "pos" };
	c.labels = labels, c.nlabels = 2;
	c.train_tags = "train", c.valid_tags = "valid,test";
	text = ckpt_meta_text(&c);
	p = save_load("c.pth", (const char *[]){ "x" }, 1, text, NULL, 0);
	ckpt_meta_read(&r, p);
	ok(r.kind == CKPT_CLAS && r.nlabels == 2 && !strcmp(r.labels[1], "pos") &&
	   r.nclass == 2 && r.bptt == 72 && r.max_len == 1440 &&
	   !strcmp(r.valid_tags, "valid,test") && r.ps == 0.1,
	   "classifier: labels, head, tags");
	again = ckpt_meta_text(&r);
	ok(!strcmp(text, again), "... written again: the same text");
	free(again), free(text);
	ckpt_meta_free(&r);
	pth_free(p);
	ckpt_meta_free(&m);

	/* a foreign file: nothing */
	p = save_load("f.pth", (const char *[]){ "x" }, 1, NULL, NULL, 0);
	ckpt_meta_read(&r, p);
	ok(r.kind == CKPT_FOREIGN && !r.present, "fastai's file: no metadata");
	ckpt_meta_free(&r);
	pth_free(p);
}

/* Each line replaces (or adds) one key of a good LM file: must die */
static const char *bad[] = {
	"drop_mult=-3", "drop_mult=nan", "ps=1", "bptt=0", "freeze_to=9",
	"vocab_xxh64=zz", "seed=-1", "moms=1,2", "wd=-1", "epoch=11",
	"batch=x", "lr_lo=1", "n_layers=99", "kind=gpt", "done=2",
};

static void
read_bad(const void *arg, size_t n)
{
	(void)n;
	struct ckpt_meta m, r;
	fill_lm(&m);
	char *text = ckpt_meta_text(&m);
	ckpt_meta_free(&m);
	char *t = xmalloc(strlen(text) + 64);
	const char *line = arg, *eq = strchr(line, '=');
	size_t kl = (size_t)(eq - line) + 1;
	/* drop the key's line, then add the bad one */
	char *o = t;
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		if (strncmp(l, line, kl)) {
			memcpy(o, l, (size_t)(nl - l) + 1);
			o += nl - l + 1;
		}
		l = nl + 1;
	}
	sprintf(o, "%s\n", line);
	char name[32];
	snprintf(name, sizeof name, "bad%d.pth", (int)getpid());
	struct pth *p = save_load(name, (const char *[]){ "x" }, 1, t, NULL, 0);
	ckpt_meta_read(&r, p);
}

static void
test_bad(void)
{
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(child_status(read_bad, bad[i], 0) == 1, "metadata %s is refused",
		   bad[i]);
	ok(child_status(read_bad, "drop_mult=0.5", 0) == 0,
	   "... and a good value passes (the harness itself)");
}

static void
check_vocab_child(const void *arg, size_t n)
{
	const uint32_t *v = arg;
	(void)n;
	struct ckpt_meta m;
	fill_lm(&m);
	char *text = ckpt_meta_text(&m);
	struct pth *p = save_load(v[2] ? "cv.pth" : "cvf.pth",
	                          (const char *[]){ "x" }, 1,
	                          v[2] ? text : NULL, NULL, 0);
	ckpt_check_vocab(p, 2, v[0], v[1] ? 0x0123456789abcdefULL : 7, "s",
	                 NULL);
}

static void
test_vocab(void)
{
	/* { vocab_n, right hash, file has metadata (32 tokens) } */
	static const uint32_t pass[][3] = { { 32, 1, 1 }, { 2, 0, 0 } };
	static const uint32_t fail[][3] = { { 32, 0, 1 }, { 31, 1, 1 },
	                                    { 3, 0, 0 } };
	for (int i = 0; i < 2; i++)
		ok(child_status(check_vocab_child, pass[i], 0) == 0,
		   "vocab check passes: %u tokens, %s", pass[i][0], pass[i][2] ?
		   "the recorded hash" : "no metadata, as many embedding rows");
	for (int i = 0; i < 3; i++)
		ok(child_status(check_vocab_child, fail[i], 0) == 1,
		   "vocab check refuses: %u tokens, %s", fail[i][0], i == 0 ?
		   "another hash" : i == 1 ? "another size" :
		   "no metadata, another number of rows");
}

/* lm's live state (2 rows) is hs, cs */
static int
same_state(struct lm *lm, float (*hs)[12], float (*cs)[12])
{
	float b[12];
	int same = 1;
	for (int l = 0; l < 2; l++) {
		size_t n = 2 * awd_layer_out(&lm->enc.cfg, l) * sizeof *b;
		kern_download(lm->enc.k, b, lm->enc.h[l], n);
		same &= !memcmp(b, hs[l], n);
		kern_download(lm->enc.k, b, lm->enc.c[l], n);
		same &= !memcmp(b, cs[l], n);
	}
	return same;
}

static void
test_tables_state(void)
{
	struct awd_config ac;
	struct lm lm, lm2;
	struct ckpt_table t;
	awd_config_lm(&ac, 11, 1);
	ac.emb = 4, ac.hidden = 6, ac.layers = 2;
	lm_create(&lm, &ac, 3, 5);
	lm_create(&lm2, &ac, 3, 5);
	ckpt_lm_table(&lm, &t);
	ok(t.n == 12 && !strcmp(t.r[0].name, "0.encoder.weight") &&
	   t.r[1].alias && !strcmp(t.r[t.n - 1].name, "1.decoder.bias"),
	   "LM table: %d rows, encoder first, its dropout copy tied, bias last",
	   t.n);
	struct rng r;
	rng_seed(&r, 1, 0);
	lm_init(&lm, &r);
	/* a live state of 2 rows (model memory: through the context) */
	float hs[2][12], cs[2][12];
	awd_reset(&lm.enc);
	awd_resize(&lm.enc, 2);
	for (int l = 0; l < 2; l++) {
		for (int i = 0; i < 2 * awd_layer_out(&ac, l); i++)
			hs[l][i] = 0.5f + i + l, cs[l][i] = -i - 0.25f * l;
		kern_upload(lm.enc.k, lm.enc.h[l], hs[l], 2 * awd_layer_out(&ac, l) * 4);
		kern_upload(lm.enc.k, lm.enc.c[l], cs[l], 2 * awd_layer_out(&ac, l) * 4);
	}
	struct pth_record rec[4];
	char names[4][24];
	int nrec = ckpt_state_records(&lm.enc, rec, names);
	ok(nrec == 4 && !strcmp(names[3], "state.1.c") &&
	   rec[0].size == 2 * 6 * sizeof(float), "state records: 2 per layer");
	struct pth_tensor pt[CKPT_MAXROWS];
	int n = ckpt_tensors(&t, pt);
	struct pv_pool pool = {0};
	char path[128];
	snprintf(path, sizeof path, "%s/s.pth", dir);
	pth_save_records(path, pth_state_dict(&pool, pt, n), "kind=lm\n", rec,
	                 nrec);
	pv_pool_free(&pool);
	ckpt_state_free(rec, nrec);
	struct pth *p = pth_load(path);
	struct ckpt_table t2;
	ckpt_lm_table(&lm2, &t2);
	ckpt_load(&t2, p, "", NULL);
	float a[11 * 4], b[11 * 4];
	kern_download(lm.enc.k, a, t.r[0].w, sizeof a);
	kern_download(lm.enc.k, b, t2.r[0].w, sizeof b);
	int eq = !memcmp(a, b, sizeof a);
	kern_download(lm.enc.k, a, t.r[t.n - 1].w, 11 * sizeof *a);
	kern_download(lm.enc.k, b, t2.r[t2.n - 1].w, 11 * sizeof *b);
	ok(eq && !memcmp(a, b, 11 * sizeof *a), "the table loads what it saved");
	ok(p->n == 12, "the state is no tensor of the state dict (%d)", p->n);
	ckpt_state_restore(p, &lm2.enc, 2);
	ok(lm2.enc.state_bs == 2 && same_state(&lm2, hs, cs),
	   "the state comes back bit for bit");
	pth_free(p);

	/* the earlier format: hex in the metadata */
	static const char hx[] = "0123456789abcdef";
	char *meta = xmalloc(64 + 2 * 4 * 2 * (6 + 4) * 2);
	char *o = meta + sprintf(meta, "kind=lm\nhidden=");
	for (int l = 0; l < 2; l++)
		for (int k = 0; k < 2; k++) {
			const unsigned char *b = (const unsigned char *)
			    (k ? cs[l] : hs[l]);
			for (int i = 0; i < 4 * 2 * awd_layer_out(&ac, l); i++)
				*o++ = hx[b[i] >> 4], *o++ = hx[b[i] & 15];
		}
	strcpy(o, "\n");
	p = save_load("hex.pth", (const char *[]){ "x" }, 1, meta, NULL, 0);
	awd_reset(&lm2.enc);
	ckpt_state_restore(p, &lm2.enc, 2);
	ok(same_state(&lm2, hs, cs), "the earlier hex state comes back bit for bit");
	pth_free(p);
	free(meta);
	lm_free(&lm), lm_free(&lm2);
}

int
main(void)
{
	argv0 = "ckpt";
	if (!mkdtemp(dir))
		die("mkdtemp:");
	test_prefix();
	test_meta();
	test_bad();
	test_vocab();
	test_tables_state();
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return done_testing();
}
