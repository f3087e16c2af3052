/* The classifier (spec §7): head size and init, PyTorch parity of forward
 * and backward (tests/ref/clas_ref.py), gradient check with dropout on,
 * frozen groups, and padding invariance. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "model/clas.h"
#include "learn/clasio.h"
#include "kernels.h"
#include "core/util.h"

/* ---- fixture file (see clas_ref.py) ---- */
struct rec { char name[80]; int dt; size_t n; void *data; };
static struct rec recs[256];
static int nrec;

static int
load_fixture(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint32_t nl, dt, nd, d;
	if (!f)
		return 0;
	while (fread(&nl, 4, 1, f) == 1) {
		struct rec *r = &recs[nrec++];
		if (nl >= sizeof r->name || fread(r->name, 1, nl, f) != nl)
			return 0;
		r->name[nl] = 0;
		if (fread(&dt, 4, 1, f) != 1 || fread(&nd, 4, 1, f) != 1)
			return 0;
		r->dt = (int)dt, r->n = 1;
		for (uint32_t i = 0; i < nd; i++) {
			if (fread(&d, 4, 1, f) != 1)
				return 0;
			r->n *= d;
		}
		r->data = xmalloc(r->n * 4 + 4);
		if (fread(r->data, 4, r->n, f) != r->n)
			return 0;
	}
	fclose(f);
	return nrec > 0;
}

static struct rec *
fx(const char *fmt, const char *a)
{
	char name[200];
	snprintf(name, sizeof name, fmt, a);
	for (int i = 0; i < nrec; i++)
		if (!strcmp(recs[i].name, name))
			return &recs[i];
	die("fixture: no %s", name);
}

/* tiny config of clas_ref.py */
enum { V = 40, E = 6, H = 10, L = 3, NC = 3, NH = 5, BPTT = 4, MAXLEN = 8 };

static void
tiny2(struct clas *c, float drop_mult, float alpha, float beta, int maxB,
      int bptt, int max_len)
{
	struct awd_config ac;
	struct clas_config cc;
	awd_config_clas(&ac, V, drop_mult);
	ac.emb = E, ac.hidden = H, ac.layers = L, ac.pad = 1;
	clas_config_default(&cc, &ac, NC, alpha, beta);
	cc.nhid = NH, cc.bptt = bptt, cc.max_len = max_len;
	cc.p1 = drop_mult ? CLAS_P1 : 0;
	clas_create(c, &ac, &cc, maxB);
}

static void
tiny(struct clas *c, float drop_mult, float alpha, float beta, int maxB)
{
	tiny2(c, drop_mult, alpha, beta, maxB, BPTT, MAXLEN);
}

/* head tensors by the fixture's names */
static float *
head_tensor(struct clas_head *h, const char *n, size_t *len)
{
	size_t D3 = 3 * E;
	if (!strcmp(n, "bn0.weight")) return *len = D3, h->bn0_w;
	if (!strcmp(n, "bn0.bias")) return *len = D3, h->bn0_b;
	if (!strcmp(n, "lin0.weight")) return *len = NH * D3, h->lin0_w;
	if (!strcmp(n, "bn1.weight")) return *len = NH, h->bn1_w;
	if (!strcmp(n, "bn1.bias")) return *len = NH, h->bn1_b;
	if (!strcmp(n, "lin1.weight")) return *len = NC * NH, h->lin1_w;
	return NULL;
}
static const char *head_names[] = {
	"bn0.weight", "bn0.bias", "lin0.weight", "bn1.weight", "bn1.bias",
	"lin1.weight"
};

static void
load_params(struct clas *c)
{
	for (int i = 0; i < c->enc.ntensor; i++) {
		struct awd_tensor *t = &c->enc.tensor[i];
		if (t->alias)
			continue;
		struct rec *r = fx("p.%s", t->name);
		if (r->n != t->n)
			die("fixture: %s has %zu, want %zu", t->name, r->n, t->n);
		memcpy(t->w, r->data, t->n * 4);
	}
	for (int i = 0; i < 6; i++) {
		size_t n;
		float *w = head_tensor(&c->p, head_names[i], &n);
		memcpy(w, fx("p.%s", head_names[i])->data, n * 4);
	}
	memcpy(c->bn0_mean, fx("p.%s", "bn0.running_mean")->data, 3 * E * 4);
	memcpy(c->bn0_var, fx("p.%s", "bn0.running_var")->data, 3 * E * 4);
	memcpy(c->bn1_mean, fx("p.%s", "bn1.running_mean")->data, NH * 4);
	memcpy(c->bn1_var, fx("p.%s", "bn1.running_var")->data, NH * 4);
}

/* batch rows from the fixture: x (B,T), starts from Pad_Chunk */
static int
get_batch(const char *tag, uint32_t **x, uint32_t *start, uint32_t *len,
          uint32_t *y, int *T)
{
	struct rec *rl = fx("%s.len", tag), *rx = fx("%s.x", tag);
	int B = (int)rl->n;
	memcpy(len, rl->data, B * 4);
	memcpy(y, fx("%s.y", tag)->data, B * 4);
	*x = rx->data;
	*T = (int)(rx->n / B);
	for (int b = 0; b < B; b++)
		start[b] = (*T - len[b]) / BPTT * BPTT;
	return B;
}

static void
test_parity(const char *tag, double *maxerr_out)
{
	struct clas c;
	uint32_t *x, start[8], len[8], y[8];
	int T, hits;
	char name[128];
	tiny(&c, 0, tag[0] == 'A' ? 2 : 0, tag[0] == 'A' ? 1 : 0, 4);
	load_params(&c);
	int B = get_batch(tag, &x, start, len, y, &T);

	clas_forward(&c, x, B, T, start, len, 0, NULL);
	double le = clas_loss(&c, y, &hits, 0, NULL);
	ok(close_to(c.logits, fx("%s.eval.logits", tag)->data, B * NC, 1e-5f,
	            1e-4f), "%s: eval logits == PyTorch (BN running stats)", tag);
	ok(fabs(le - *(float *)fx("%s.eval.loss", tag)->data) < 1e-5,
	   "%s: eval loss == PyTorch", tag);

	struct rng r;
	rng_seed(&r, 1, 0);
	awd_zero_grad(&c.enc);
	clas_forward(&c, x, B, T, start, len, 1, &r);
	double lt = clas_loss(&c, y, &hits, 1, &r);
	ok(close_to(c.logits, fx("%s.train.logits", tag)->data, B * NC, 1e-5f,
	            1e-4f), "%s: train logits == PyTorch (BN batch stats)", tag);
	ok(fabs(lt - *(float *)fx("%s.train.loss", tag)->data) < 1e-5,
	   "%s: train loss == PyTorch", tag);
	ok(close_to(c.bn0_mean, fx("%s.bn0.running_mean", tag)->data, 3 * E,
	            1e-6f, 1e-5f) &&
	   close_to(c.bn0_var, fx("%s.bn0.running_var", tag)->data, 3 * E,
	            1e-6f, 1e-5f) &&
	   close_to(c.bn1_var, fx("%s.bn1.running_var", tag)->data, NH, 1e-6f,
	            1e-5f), "%s: BN running stats after a step == PyTorch", tag);
	ok(c.bn0_nbt == 1 && c.bn1_nbt == 1, "%s: num_batches_tracked", tag);

	/* every gradient, relative to the tensor's largest */
	int allok = 1;
	double worst = 0;
	for (int i = 0; i < c.enc.ntensor + 6; i++) {
		const float *g;
		size_t n;
		const char *nm;
		if (i < c.enc.ntensor) {
			struct awd_tensor *t = &c.enc.tensor[i];
			if (t->alias)
				continue;
			g = t->g, n = t->n, nm = t->name;
		} else {
			nm = head_names[i - c.enc.ntensor];
			g = head_tensor(&c.g, nm, &n);
		}
		snprintf(name, sizeof name, "%s.g.%s", tag, nm);
		const float *want = fx("%s", name)->data;
		double m = 0, e = 0;
		for (size_t k = 0; k < n; k++) {
			m = fmax(m, fabs(want[k]));
			e = fmax(e, fabs(want[k] - g[k]));
			if (isnan(g[k]))
				e = INFINITY;
		}
		double rel = e / (m + 1e-7);
		if (!(rel < 1e-4)) {
			allok = 0;
			diag("%s: %s rel err %.3g (max |g| %.3g)", tag, nm, rel, m);
		}
		worst = fmax(worst, rel);
	}
	ok(allok, "%s: every gradient == PyTorch within 1e-4 (worst %.2g)", tag,
	   worst);
	*maxerr_out = worst;
	clas_free(&c);
}

/* ---- gradient check with every dropout on ---- */
static uint32_t gx[3 * 12], gstart[3], glen[3] = {12, 9, 3}, gy[3] = {2, 0, 1};

static double
full_loss(struct clas *c, uint64_t seed, int grad)
{
	struct rng r;
	rng_seed(&r, seed, 0);
	clas_forward(c, gx, 3, 12, gstart, glen, 1, &r);
	double l = clas_loss(c, gy, NULL, grad, &r);
	size_t n = (size_t)c->B * c->Tk * c->E;
	if (grad)
		return l + c->ar + c->tar;
	return l + ar_fwd_bwd(kern_default(), c->out, NULL, n, c->cfg.alpha) +
	       tar_fwd_bwd(kern_default(), c->out, NULL, c->B, c->Tk, c->E,
	                   c->cfg.beta);
}

static void
test_gradcheck(void)
{
	struct clas c;
	struct rng r;
	/* one chunk (bptt 12): the state is detached between chunks, so
	 * only within a chunk is the gradient the true derivative */
	tiny2(&c, 1.0f, 2, 1, 3, 12, 24);
	rng_seed(&r, 99, 0);
	clas_init(&c, &r);
	for (int b = 0; b < 3; b++) {
		gstart[b] = (12 - glen[b]) / 4 * 4;   /* rows start later */
		for (int t = 0; t < 12; t++)
			gx[b * 12 + t] = 1;
		for (uint32_t t = 0; t < glen[b]; t++)
			gx[b * 12 + gstart[b] + t] = 2 + (uint32_t)rng_below(&r, V - 2);
	}
	gx[5] = gx[12 + 1];      /* a word shared by two rows */
	awd_zero_grad(&c.enc);
	full_loss(&c, 5, 1);
	size_t np = c.enc.nparam + c.enc.nextra;
	float *an = xmalloc(np * sizeof *an);
	memcpy(an, c.enc.grad, np * sizeof *an);

	/* sample parameters of every tensor (the embedding rows in use) */
	double num = 0, den = 0;
	int nsamp = 0;
	float h = 1e-2f;
	for (size_t i = 0; i < np; i += 1 + (size_t)rng_below(&r, 23)) {
		if (i < (size_t)V * E && an[i] == 0)
			continue;            /* unused embedding rows */
		float s = c.enc.param[i];
		c.enc.param[i] = s + h; double lp = full_loss(&c, 5, 0);
		c.enc.param[i] = s - h; double lm = full_loss(&c, 5, 0);
		c.enc.param[i] = s;
		double fd = (lp - lm) / (2.0 * h);
		num += (fd - an[i]) * (fd - an[i]);
		den += (double)an[i] * an[i];
		nsamp++;
	}
	double rel = sqrt(num / den);
	ok(rel < 2e-2, "dropout on, AR/TAR on: gradient == central diff over %d "
	   "parameters (rel err %.2g)", nsamp, rel);

	/* frozen: only rnns[2] and the head (freeze_to(-2)) */
	for (int l = 0; l < L; l++)
		c.enc.grad_rnn[l] = l == L - 1;
	c.enc.grad_emb = 0;
	awd_zero_grad(&c.enc);
	full_loss(&c, 5, 1);
	struct awd_tensor *te = awd_tensor(&c.enc, "encoder.weight"),
	                  *t0 = awd_tensor(&c.enc, "rnns.0.module.weight_ih_l0"),
	                  *t2 = awd_tensor(&c.enc, "rnns.2.module.weight_ih_l0");
	int zero = 1;
	for (size_t k = 0; k < te->n; k++)
		zero &= te->g[k] == 0;
	for (size_t k = 0; k < t0->n; k++)
		zero &= t0->g[k] == 0;
	ok(zero, "frozen groups get no gradient");
	size_t off2 = t2->g - c.enc.grad;
	ok(!memcmp(t2->g, an + off2, t2->n * 4) &&
	   !memcmp(c.enc.xgrad, an + c.enc.nparam, c.enc.nextra * 4),
	   "trained groups get the same gradient as unfrozen");
	/* all frozen: head only, no re-run */
	c.enc.grad_rnn[L - 1] = 0;
	awd_zero_grad(&c.enc);
	full_loss(&c, 5, 1);
	ok(!memcmp(c.enc.xgrad, an + c.enc.nparam, c.enc.nextra * 4),
	   "head-only backward: same head gradient");
	free(an);
	clas_free(&c);
}

/* multi-chunk with dropout: the backward's re-run of a chunk must see
 * the state and masks of the forward (checked on the first kept chunk,
 * the last one re-run, whose state depends on the warm-up chunks) */
static void
test_rerun(void)
{
	struct clas c;
	struct rng r;
	tiny(&c, 1.0f, 2, 1, 3);
	rng_seed(&r, 21, 0);
	clas_init(&c, &r);
	uint32_t x[3 * 15], start[3], len[3] = {15, 10, 5}, y[3] = {0, 1, 2};
	for (int b = 0; b < 3; b++) {
		start[b] = (15 - len[b]) / BPTT * BPTT;
		for (int t = 0; t < 15; t++)
			x[b * 15 + t] = 1;
		for (uint32_t t = 0; t < len[b]; t++)
			x[b * 15 + start[b] + t] = 2 + (uint32_t)rng_below(&r, V - 2);
	}
	clas_forward(&c, x, 3, 15, start, len, 1, &r);
	struct rng after = r;
	ok(c.nchunk == 2 && c.Tk == 7, "15 columns, bptt 4, max_len 8: 2 chunks "
	   "kept (7 columns), 2 warm-up");
	clas_loss(&c, y, NULL, 1, &r);
	int same = 1;
	struct clas_chunk *ch = &c.chunk[0];
	for (int b = 0; b < ch->rows; b++)
		same &= !memcmp(c.enc.out + (size_t)b * ch->len * E,
		                c.out + ((size_t)b * c.Tk + ch->col - (15 - c.Tk)) * E,
		                (size_t)ch->len * E * 4);
	ok(same && ch->rows == 3 && ch->col == 8,
	   "backward re-runs a chunk bit-identically");
	ok(!memcmp(&r, &after, sizeof r), "backward leaves the RNG as it was");
	clas_free(&c);
}

static void
test_padding(void)
{
	struct clas c;
	struct rng r;
	tiny(&c, 0.5f, 0, 0, 3);
	rng_seed(&r, 3, 0);
	clas_init(&c, &r);
	/* train a step so BN running stats are not the identity */
	uint32_t x[3 * 13], start[3], len[3] = {12, 9, 3};
	for (int b = 0; b < 3; b++) {
		start[b] = (12 - len[b]) / BPTT * BPTT;
		for (int t = 0; t < 13; t++)
			x[b * 13 + t] = 1;
		for (uint32_t t = 0; t < len[b]; t++)
			x[b * 13 + start[b] + t] = 2 + (uint32_t)rng_below(&r, V - 2);
	}
	uint32_t x12[3 * 12];
	for (int b = 0; b < 3; b++)
		memcpy(x12 + b * 12, x + b * 13, 12 * 4);
	clas_forward(&c, x12, 3, 12, start, len, 1, &r);
	float p12[3 * NC], p13[3 * NC];
	clas_forward(&c, x12, 3, 12, start, len, 0, NULL);
	memcpy(p12, c.logits, sizeof p12);
	clas_forward(&c, x, 3, 13, start, len, 0, NULL);
	memcpy(p13, c.logits, sizeof p13);
	ok(close_to(p13, p12, 3 * NC, 1e-6f, 1e-5f),
	   "an extra trailing pad column leaves the output unchanged (eval)");
	/* one row alone (bs 1, as predict) gives the same as in the batch */
	uint32_t s0 = 0, l2 = 3;
	clas_forward(&c, x12 + 2 * 12 + start[2], 1, 3, &s0, &l2, 0, NULL);
	ok(close_to(c.logits, p12 + 2 * NC, NC, 1e-5f, 1e-4f),
	   "a text alone gives what it gives inside a padded batch (eval)");
	clas_free(&c);
}

static void
test_sizes(void)
{
	ok(clas_head_count(400, 50, 2) == 62600,
	   "head parameter count for 2 classes: 62,600");
	struct clas c;
	struct awd_config ac;
	struct clas_config cc;
	struct rng r;
	awd_config_clas(&ac, 64, 0.5f);
	clas_config_default(&cc, &ac, 2, 0, 0);
	ok(fabsf(cc.p0 - 0.2f) < 1e-7f && cc.p1 == 0.1f && cc.bptt == 72 &&
	   cc.max_len == 1440 && cc.nhid == 50,
	   "head dropouts 0.2 (output_p 0.4 x drop_mult 0.5) and 0.1; bptt "
	   "72, max_len 1440, lin_ftrs 50");
	clas_create(&c, &ac, &cc, 2);
	ok(c.nhead == 62600 && c.enc.nextra == 62600, "clas_create sizes the head");
	rng_seed(&r, 11, 0);
	clas_init(&c, &r);
	int bn = 1;
	for (int i = 0; i < 1200; i++)
		bn &= c.p.bn0_w[i] == 1 && c.p.bn0_b[i] == 1e-3f &&
		      c.bn0_mean[i] == 0 && c.bn0_var[i] == 1;
	for (int i = 0; i < 50; i++)
		bn &= c.p.bn1_w[i] == 1 && c.p.bn1_b[i] == 1e-3f;
	ok(bn, "BatchNorm init: weight 1, bias 1e-3, running 0/1");
	float m0 = 0, m1 = 0, k0 = 1 / sqrtf(1200), k1 = 1 / sqrtf(50);
	for (int i = 0; i < 50 * 1200; i++)
		m0 = fmaxf(m0, fabsf(c.p.lin0_w[i]));
	for (int i = 0; i < 2 * 50; i++)
		m1 = fmaxf(m1, fabsf(c.p.lin1_w[i]));
	ok(m0 <= k0 && m0 > 0.99f * k0 && m1 <= k1 && m1 > 0.8f * k1,
	   "Linear init U(+-1/sqrt(fan_in)): max |w| %.4f of %.4f, %.4f of %.4f",
	   m0, k0, m1, k1);
	clas_free(&c);
}

int
main(void)
{
	test_sizes();
	test_padding();
	test_rerun();
	test_gradcheck();

	char dir[] = "/tmp/clas-ref.XXXXXX", path[256], cmd[512];
	const char *src = getenv("ULMFIT_SRC") ? getenv("ULMFIT_SRC") : ".";
	snprintf(path, sizeof path, "%s/tests/ref/clas_ref.py", src);
	if (access("/usr/bin/python3", X_OK) || access(path, R_OK) ||
	    !mkdtemp(dir)) {
		ok(0, "/usr/bin/python3 and %s are there (missing: run "
		   "scripts/deps.sh from the source tree)", path);
		return done_testing();
	}
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s fix %s/fix.bin", path, dir);
	int st = system(cmd);
	snprintf(path, sizeof path, "%s/fix.bin", dir);
	if (st || !load_fixture(path)) {
		ok(0, "tests/ref/clas_ref.py ran (torch 1.13)");
	} else {
		double e;
		test_parity("A", &e);
		test_parity("B", &e);
	}
	unlink(path);
	rmdir(dir);
	return done_testing();
}
