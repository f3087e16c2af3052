/* fastai's optimizer: spec §8-§9 acceptance facts, freezing, clipping,
 * save/restore (bit-identical resume), and parity with a plain-torch
 * reimplementation (tests/ref/optim_ref.py, when Debian's python3 has
 * torch). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tap.h"
#include "adam.h"
#include "learn/optim.h"
#include "torch/pth.h"
#include "core/util.h"

static int
near(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fabs(b);
}

static void
test_lr_forms(void)
{
	double lr[5], want1[] = { 2.1883e-4, 5.6896e-4, 1.4793e-3, 3.8462e-3,
	                          1e-2 },
	       want2[] = { 5e-5, 1.5811e-4, 5e-4, 1.5811e-3, 5e-3 };
	int good = 1;

	lr_spread(1e-2 / pow(2.6, 4), 1e-2, 5, lr);
	for (int i = 0; i < 5; i++)
		good &= near(lr[i], want1[i], 5e-5);
	ok(good, "slice(1e-2/2.6**4, 1e-2) over 5 groups = 2.1883e-4 .. 1e-2 "
	   "(%.5g %.5g %.5g %.5g %.5g)", lr[0], lr[1], lr[2], lr[3], lr[4]);
	good = 1;
	lr_spread(5e-5, 5e-3, 5, lr);
	for (int i = 0; i < 5; i++)
		good &= near(lr[i], want2[i], 5e-5);
	ok(good, "slice(5e-5, 5e-3) over 5 groups = 5e-5, 1.5811e-4, 5e-4, "
	   "1.5811e-3, 5e-3");
	ok(lr[0] == 5e-5 && near(lr[4], 5e-3, 1e-15), "the ends are lo and hi");
	lr_spread(0, 2e-3, 4, lr);
	ok(lr[0] == 2e-4 && lr[1] == 2e-4 && lr[2] == 2e-4 && lr[3] == 2e-3,
	   "slice(hi) = [hi/10]*(n-1) + [hi]");
	lr_spread(3e-3, 3e-3, 4, lr);
	ok(lr[0] == 3e-3 && lr[3] == 3e-3, "a single lr for every group");
	double lo, hi;
	parse_lr(":1e-2", "-l", &lo, &hi);
	lr_spread(lo, hi, 5, lr);
	ok(lr[0] == 1e-3 && lr[4] == 1e-2, "parse_lr(':1e-2') + lr_spread");
}

static void
test_adam_fact(void)
{
	struct optim o;
	float p = 1, g = 0.5;
	const long one[] = { 1 };

	optim_init(&o, 1);
	opt_add(&o, "p", &p, &g, 1, one, 0, 0);
	o.g[0].lr = 0.1;
	o.g[0].wd = 0.01;
	opt_step(&o);
	ok(fabsf(p - 0.899002f) < 1e-6f, "one Adam step from 1 -> 0.899002 "
	   "(%.9g)", p);
	opt_step(&o);
	ok(fabsf(p - 0.798105f) < 1e-6f, "a second step -> 0.798105 (%.9g)", p);
	ok(o.p[0].step == 2, "two steps counted");
	optim_free(&o);

	/* no wd for OPT_NO_WD; wd uses the current lr; zero grads still move
	 * nothing but wd */
	float a = 2, b = 2, ga = 0, gb = 0;
	optim_init(&o, 1);
	opt_add(&o, "w", &a, &ga, 1, one, 0, 0);
	opt_add(&o, "1.decoder.bias", &b, &gb, 1, one, 0, OPT_NO_WD);
	o.g[0].lr = 0.5;
	o.g[0].wd = 0.1;
	opt_step(&o);
	ok(a == 2 * (float)(1 - 0.5 * 0.1) && b == 2, "decoupled wd on "
	   "weights (p*(1-lr*wd)), none on the no-wd bias");
	optim_free(&o);
}

static void
test_onecycle(void)
{
	struct onecycle c;
	double lrmax = 1e-2, lr, mom;
	const int at[] = { 0, 10, 25, 50, 99 };
	const double wlr[] = { 4.0e-4, 3.71672e-3, 1.0e-2, 7.5000e-3, 4.4858e-6 },
	             wmom[] = { 0.8, 0.765451, 0.7, 0.725, 0.799956 };
	int good = 1;

	onecycle_init(&c, 1, 100, &lrmax, 1);
	onecycle_epoch(&c, 0);
	for (int b = 0, k = 0; b < 100; b++) {
		if (k < 5 && b == at[k]) {
			onecycle_values(&c, 0, &lr, &mom);
			if (!near(lr, wlr[k], 5e-5) || !near(mom, wmom[k], 2e-6)) {
				good = 0;
				diag("batch %d: lr %.6g mom %.6g", b, lr, mom);
			}
			k++;
		}
		onecycle_next(&c);
	}
	ok(good, "fit_one_cycle(1, 1e-2), 100 batches: lr and mom at batches "
	   "0, 10, 25, 50, 99 as spec §9.2");
	onecycle_seek(&c, 0, 50);
	onecycle_values(&c, 0, &lr, &mom);
	ok(near(lr, 7.5e-3, 1e-4), "onecycle_seek to batch 50");
	ok(cos_anneal(1, 3, 0) == 1 && cos_anneal(1, 3, 1) == 3 &&
	   cos_anneal(1, 3, 0.5) == 2, "cos_anneal ends and middle");

	struct ft_phase ph[2];
	int n = fine_tune_plan(4, 2e-3, 1, 100, 0.3, 5, ph);
	ok(n == 2 && ph[0].freeze_to == -1 && ph[0].epochs == 1 &&
	   ph[0].lr_lo == 0 && ph[0].lr_hi == 2e-3 && ph[0].pct_start == 0.99 &&
	   ph[0].div == 25 && ph[1].freeze_to == 0 && ph[1].epochs == 4 &&
	   ph[1].lr_lo == 1e-3 / 100 && ph[1].lr_hi == 1e-3 &&
	   ph[1].pct_start == 0.3 && ph[1].div == 5,
	   "fine_tune(4): frozen 1 epoch at slice(2e-3) pct 0.99, then "
	   "unfrozen at slice(1e-5, 1e-3) pct 0.3 div 5");

	struct smooth_loss s;
	smooth_reset(&s);
	double v1 = smooth_add(&s, 4), v2 = smooth_add(&s, 2);
	ok(fabs(v1 - 4) < 1e-12 && fabs(v2 - (0.98 * 0.02 * 4 + 0.02 * 2) /
	                                 (1 - 0.98 * 0.98)) < 1e-12,
	   "smoothed loss: debiased EMA with beta 0.98 (%.6f %.6f)", v1, v2);
}

/* The classifier's 5 groups: embedding, 3 LSTMs, head (BN force_train). */
struct clas {
	float w[7][4], g[7][4];
	struct optim o;
};

static void
clas_build(struct clas *c)
{
	static const char *names[7] = { "0.module.encoder.weight",
		"0.module.rnns.0.weight_hh_l0_raw", "0.module.rnns.1.weight_hh_l0_raw",
		"0.module.rnns.2.weight_hh_l0_raw", "1.layers.0.0.weight",
		"1.layers.0.0.bias", "1.layers.0.2.weight" };
	static const int group[7] = { 0, 1, 2, 3, 4, 4, 4 };
	static const int flags[7] = { 0, 0, 0, 0, OPT_NO_WD | OPT_FORCE_TRAIN,
		OPT_NO_WD | OPT_FORCE_TRAIN, 0 };
	const long shape[] = { 2, 2 };

	optim_init(&c->o, 5);
	for (int i = 0; i < 7; i++) {
		for (int k = 0; k < 4; k++) {
			c->w[i][k] = 1 + i + k * 0.25f;
			c->g[i][k] = 0.1f * (k + 1) - 0.02f * i;
		}
		opt_add(&c->o, names[i], c->w[i], c->g[i], 2, shape, group[i],
		        flags[i]);
	}
}

static void
test_freeze(void)
{
	struct clas c;
	float before[7][4];

	clas_build(&c);
	ok(opt_add(&c.o, "tied", c.w[0], c.g[0], 2, (long[]){ 2, 2 }, 0, 0) == 0
	   && c.o.np == 7, "a tied weight registered twice is one parameter");
	opt_step(&c.o);
	opt_freeze_to(&c.o, -2);
	ok(!c.o.p[0].train && !c.o.p[1].train && !c.o.p[2].train &&
	   c.o.p[3].train && c.o.p[6].train,
	   "freeze_to(-2) on the classifier: only rnns[2] and the head train");
	ok(c.o.p[4].train && c.o.p[5].train, "BatchNorm (force_train) trains "
	   "in a frozen group too");
	int cleared = 1;
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 4; k++)
			cleared &= c.o.p[i].m[k] == 0 && c.o.p[i].v[k] == 0 &&
			           c.o.p[i].step == 0;
	ok(cleared, "freeze_to clears every moment and step count");
	memcpy(before, c.w, sizeof before);
	opt_step(&c.o);
	ok(!memcmp(before[0], c.w[0], sizeof before[0]) &&
	   !memcmp(before[2], c.w[2], sizeof before[2]) &&
	   memcmp(before[3], c.w[3], sizeof before[3]) &&
	   memcmp(before[4], c.w[4], sizeof before[4]),
	   "frozen parameters are not stepped (no wd either); trainable are");
	opt_freeze_to(&c.o, -1);
	ok(!c.o.p[3].train && c.o.p[6].train, "freeze() trains the last group");
	opt_freeze_to(&c.o, 0);
	int all = 1;
	for (int i = 0; i < 7; i++)
		all &= c.o.p[i].train;
	ok(all, "unfreeze() trains everything");

	/* clipping: per group, then global */
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 4; k++)
			c.g[i][k] = 3;
	double most = opt_clip_groups(&c.o, 0.1);
	double n4 = 0, n0 = 0;
	for (int i = 4; i < 7; i++)
		for (int k = 0; k < 4; k++)
			n4 += c.g[i][k] * c.g[i][k];
	for (int k = 0; k < 4; k++)
		n0 += c.g[0][k] * c.g[0][k];
	ok(near(most, sqrt(12 * 9.0), 1e-12) && near(sqrt(n4), 0.1, 1e-5) &&
	   near(sqrt(n0), 0.1, 1e-5), "per-group clipping: each group's norm "
	   "becomes 0.1");
	double tot = opt_clip_global(&c.o, 0.1);
	ok(near(tot, sqrt(5 * 0.01), 1e-5), "global norm over the groups "
	   "(%.6f)", tot);
	double s = 0;
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 4; k++)
			s += c.g[i][k] * c.g[i][k];
	ok(near(sqrt(s), 0.1, 1e-5), "global clipping to 0.1");
	double small = opt_clip_global(&c.o, 1);
	ok(near(small, 0.1, 1e-5) && near(sqrt(s), 0.1, 1e-5),
	   "a norm under the limit is left alone");
	optim_free(&c.o);
}

/* a's seven (2,2) weights and its optimizer state as a .pth in memory */
static void
save_mem(struct clas *a, const char *name, char **buf, size_t *n)
{
	struct pv_pool pool = { 0 };
	struct pth_tensor t[7];
	for (int i = 0; i < 7; i++) {
		memset(&t[i], 0, sizeof t[i]);
		t[i].name = a->o.p[i].name;
		t[i].dtype = PTH_F32;
		t[i].ndim = 2;
		t[i].shape[0] = t[i].shape[1] = 2;
		t[i].f = a->w[i];
	}
	FILE *f = open_memstream(buf, n);
	pth_write(f, name, pth_learner(&pool, pth_state_dict(&pool, t, 7),
	                               opt_state(&a->o, &pool)), NULL);
	fclose(f);
	pv_pool_free(&pool);
}

/* Save after some steps, load into a fresh optimizer, continue: the same
 * bits as an uninterrupted run. */
static void
test_resume(void)
{
	struct clas a, b;
	char *buf, *err = NULL;
	size_t n;

	clas_build(&a);
	clas_build(&b);
	opt_freeze_to(&a.o, -3);
	opt_freeze_to(&b.o, -3);
	for (int s = 0; s < 3; s++) {
		a.o.g[4].lr = 1e-2 / (s + 1);
		a.o.g[4].mom = 0.8 - 0.03 * s;
		opt_step(&a.o);
	}
	save_mem(&a, "resume", &buf, &n);
	struct pth *p = pth_load_mem((unsigned char *)buf, n, "mem", &err);
	ok(p && p->opt, "a checkpoint with optimizer state loads (%s)",
	   err ? err : "ok");
	if (!p)
		return;
	for (int i = 0; i < 7; i++)
		memcpy(b.w[i], pth_find(p, a.o.p[i].name)->f, sizeof b.w[i]);
	opt_restore(&b.o, p->opt, "mem");
	pth_free(p);
	free(buf);
	int same = 1;
	for (int i = 0; i < 7; i++)
		same &= a.o.p[i].step == b.o.p[i].step &&
		        !memcmp(a.o.p[i].m, b.o.p[i].m, 16) &&
		        !memcmp(a.o.p[i].v, b.o.p[i].v, 16);
	ok(same && a.o.g[4].lr == b.o.g[4].lr && a.o.g[4].mom == b.o.g[4].mom,
	   "moments, step counts and hypers come back exactly");
	for (int s = 0; s < 3; s++) {
		opt_step(&a.o);
		opt_step(&b.o);
	}
	ok(!memcmp(a.w, b.w, sizeof a.w), "resumed steps are bit-identical");
	optim_free(&a.o);
	optim_free(&b.o);
}

/* A moment with the right count but the wrong shape ((4,) saved for a
 * (2,2) weight) is refused, not copied in. */
static const struct pth *shape_ckpt;
static void
restore_shape(const void *arg, size_t n)
{
	struct clas b;
	(void)arg, (void)n;
	clas_build(&b);
	opt_restore(&b.o, shape_ckpt->opt, "mem");
	optim_free(&b.o);
}

static void
test_restore_shape(void)
{
	struct clas a;
	char *buf, *err = NULL;
	size_t n;

	clas_build(&a);
	opt_step(&a.o);
	a.o.p[3].ndim = 1;
	a.o.p[3].shape[0] = 4;
	save_mem(&a, "shape", &buf, &n);
	struct pth *p = pth_load_mem((unsigned char *)buf, n, "mem", &err);
	ok(p && p->opt, "a checkpoint with a (4,) moment for a (2,2) weight "
	   "loads as a file (%s)", err ? err : "ok");
	if (p) {
		shape_ckpt = p;
		ok(child_status(restore_shape, NULL, 0) == 1,
		   "opt_restore refuses a moment of another shape, same count");
		pth_free(p);
	}
	free(buf);
	optim_free(&a.o);
}

/* Parity with torch (tests/ref/optim_ref.py) */
static float
fill(int k, int64_t i)
{
	uint32_t u = (uint32_t)(i * 2654435761u + (uint32_t)k * 40503u);
	return ldexpf((float)((int32_t)(u & 0xffffff) - 0x800000),
	              -20 + (int)(u >> 29));
}

/* adam_multi over a table of tensors (three args rows, an empty tensor
 * among them) equals adam_step_cpu tensor by tensor bit for bit, on 1 and
 * on 3 threads (the flat range splits inside tensors); clipping equals
 * the plain loops it replaced. */
static void
test_multi(void)
{
	enum { NT = 7 };
	static const size_t n[NT] = { 1, 100003, 17, 70001, 0, 5, 200000 };
	float *w[NT][4], *ref[NT][4];   /* p, g, m, v */
	struct adam_tensor t[NT];
	struct adam_args a[3];
	struct kern k;

	adam_args_set(&a[0], 1e-3, 0.9, 0.99, 1e-5, 0.01, 1, 1);
	adam_args_set(&a[1], 3e-2, 0.75, 0.99, 1e-5, 0.1, 0, 4);
	adam_args_set(&a[2], 2e-4, 0.8, 0.99, 1e-5, 0.01, 1, 9);
	for (int th = 1; th <= 3; th += 2) {
		kern_init(&k, KERN_CPU, th);
		for (int i = 0; i < NT; i++) {
			for (int j = 0; j < 4; j++) {
				w[i][j] = xmalloc(n[i] * 4 + 4);
				ref[i][j] = xmalloc(n[i] * 4 + 4);
				for (size_t e = 0; e < n[i]; e++)
					w[i][j][e] = j == 3 ? fabsf(fill(i + 8 * j, (int)e))
					                    : fill(i + 8 * j, (int)e);
				memcpy(ref[i][j], w[i][j], n[i] * 4);
			}
			t[i] = (struct adam_tensor){ w[i][0], w[i][1], w[i][2],
			                             w[i][3], n[i], i % 3 };
		}
		for (int s = 0; s < 2; s++) {
			adam_multi(&k, t, NT, a);
			for (int i = 0; i < NT; i++)
				adam_step_cpu(&k, ref[i][0], ref[i][1], ref[i][2],
				              ref[i][3], n[i], &a[i % 3]);
		}
		int bad = 0;
		for (int i = 0; i < NT; i++)
			for (int j = 0; j < 4; j++)
				bad += memcmp(w[i][j], ref[i][j], n[i] * 4) != 0;
		ok(!bad, "multi-tensor Adam == adam_step_cpu per tensor, bit for "
		   "bit, %d thread(s) (%d arrays differ)", th, bad);

		/* clipping through the optimizer: the norm and the scaled
		 * gradients equal the plain loops it replaced, bit for bit */
		struct optim o;
		optim_init(&o, 3);
		for (int i = 0; i < NT; i++)
			opt_add(&o, "t", w[i][0], w[i][1], 1, (long[]){ (long)n[i] },
			        i % 3, 0);
		double want = 0;
		for (int i = 0; i < NT; i++) {
			double si = 0;
			for (size_t e = 0; e < n[i]; e++)
				si += (double)ref[i][1][e] * ref[i][1][e];
			want += si;
		}
		want = sqrt(want);
		float coef = (float)(1.0 / (want + 1e-6));
		double got = opt_clip_global(&o, 1.0);
		for (int i = 0; i < NT; i++)
			for (size_t e = 0; e < n[i]; e++)
				ref[i][1][e] *= coef;
		bad = 0;
		for (int i = 0; i < NT; i++)
			bad += memcmp(w[i][1], ref[i][1], n[i] * 4) != 0;
		ok(!memcmp(&got, &want, sizeof got) && !bad && want > 1, "global "
		   "clipping: the norm (per-tensor double sums added in order) and "
		   "g * coef are the plain loops' bits, %d thread(s)", th);
		optim_free(&o);
		for (int i = 0; i < NT; i++)
			for (int j = 0; j < 4; j++)
				free(w[i][j]), free(ref[i][j]);
		kern_fini(&k);
	}
	kern_init(&k, KERN_CPU, 1);
}

static void
test_torch(void)
{
	const char *ref = getenv("ULMFIT_REF");
	char dir[] = "/tmp/optim-ref-XXXXXX", cmd[512], path[300];
	enum { N = 1000 };
	static float want[2][3][N], p[N], g[N], m[N], v[N];
	const double steps[3][2] = { { 1e-2, 0.8 }, { 3e-3, 0.75 }, { 7e-4, 0.7 } };

	if (!ref)
		ref = "tests/ref/optim_ref.py";
	if (access("/usr/bin/python3", X_OK) || access(ref, R_OK) ||
	    system("/usr/bin/python3 -c 'import torch' 2>/dev/null")) {
		ok(0, "python3-torch and %s are there (missing: run "
		   "scripts/deps.sh from the source tree)", ref);
		return;
	}
	if (!mkdtemp(dir))
		die("mkdtemp:");
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", ref, dir);
	ok(system(cmd) == 0, "the torch reference runs");
	snprintf(path, sizeof path, "%s/adam.bin", dir);
	FILE *f = fopen(path, "rb");
	ok(f && fread(want, sizeof want, 1, f) == 1, "read its Adam results");
	if (f)
		fclose(f);
	for (int wd = 1; wd >= 0; wd--) {
		struct optim o;
		const long shape[] = { N };
		for (int i = 0; i < N; i++) {
			p[i] = fill(0, i);
			g[i] = fill(1, i) / 1024;
		}
		memset(m, 0, sizeof m);
		memset(v, 0, sizeof v);
		optim_init(&o, 1);
		opt_add(&o, "p", p, g, 1, shape, 0, wd ? 0 : OPT_NO_WD);
		o.g[0].wd = 0.1;
		for (int s = 0; s < 3; s++) {
			o.g[0].lr = steps[s][0];
			o.g[0].mom = steps[s][1];
			opt_step(&o);
		}
		int k = 1 - wd, bad = 0;
		for (int i = 0; i < N; i++)
			bad += p[i] != want[k][0][i] || o.p[0].m[i] != want[k][1][i]
			       || o.p[0].v[i] != want[k][2][i];
		ok(bad == 0, "3 Adam steps (%s wd) equal torch's ops bit for "
		   "bit (%d of %d differ)", wd ? "with" : "without", bad, N);
		optim_free(&o);
	}
	snprintf(path, sizeof path, "%s/sched.txt", dir);
	f = fopen(path, "r");
	struct onecycle c;
	const double lrmax[] = { 1e-3, 1e-2 };
	int same = 1, rows = 0;
	onecycle_init(&c, 2, 37, lrmax, 2);
	c.pct_start = 0.3;
	for (int e = 0; f && e < 2; e++) {
		onecycle_epoch(&c, e);
		for (int b = 0; b < 37; b++) {
			double l0, l1, mo, a0, a1, am;
			if (fscanf(f, "%lf %lf %lf", &l0, &l1, &mo) != 3)
				break;
			onecycle_values(&c, 0, &a0, &am);
			onecycle_values(&c, 1, &a1, &am);
			if (a0 != l0 || a1 != l1 || am != mo) {
				if (same)
					diag("epoch %d batch %d: %.17g %.17g %.17g"
					     " vs %.17g %.17g %.17g", e, b, a0, a1,
					     am, l0, l1, mo);
				same = 0;
			}
			rows++;
			onecycle_next(&c);
		}
	}
	if (f)
		fclose(f);
	ok(same && rows == 74, "fit_one_cycle(2 epochs x 37, two groups, "
	   "pct_start 0.3): every lr and mom equals fastai's exactly (%d rows)",
	   rows);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		warn("could not remove %s", dir);
}

int
main(void)
{
	argv0 = "optim";
	test_lr_forms();
	test_adam_fact();
	test_onecycle();
	test_freeze();
	test_resume();
	test_restore_shape();
	test_multi();
	test_torch();
	return done_testing();
}
