/* Classifier head kernels: spec §7 pooling facts, and every backward
 * against central differences of L = sum(y * r) for a random r. */
#include <string.h>

#include "../tap.h"
#include "head.h"
#include "core/rng.h"

static struct rng R;

static void
fill(float *a, long n, float lo, float hi)
{
	for (long i = 0; i < n; i++)
		a[i] = lo + (hi - lo) * rng_float(&R);
}

static double
dot(const float *a, const float *b, long n)
{
	double s = 0;
	for (long i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* max |fd - an| relative to max |an| (+ a floor for all-zero grads) */
static double
relerr(const double *fd, const float *an, long n)
{
	double m = 0, e = 0;
	for (long i = 0; i < n; i++) {
		double d = fabs(fd[i] - an[i]);
		if (!(d <= e))
			e = d;
		if (fabs(an[i]) > m)
			m = fabs(an[i]);
	}
	return e / (m + 1e-3);
}

/* ---- pooling ---- */
enum { PB = 3, PT = 7, PD = 5, PBPTT = 3 };
static uint8_t pmask[PB * PT];

static double
pool_loss(const float *x, const float *r)
{
	float y[PB * 3 * PD];
	int32_t am[PB * PD], last[PB];
	pool_concat_fwd(kern_default(), y, am, last, x, pmask, PB, PT, PD,
	                PBPTT);
	return dot(y, r, PB * 3 * PD);
}

static void
test_pool(void)
{
	/* spec §7: out (2,4,5), mask [[T,T,F,F],[F,F,F,T]], bptt 2 */
	float out[2 * 4 * 5], y[2 * 15], want[2 * 15];
	int32_t am[10], last[2];
	uint8_t mask[8] = {1, 1, 0, 0, 0, 0, 0, 1};
	fill(out, 40, -1, 1);
	pool_concat_fwd(kern_default(), y, am, last, out, mask, 2, 4, 5, 2);
	for (int d = 0; d < 5; d++) {
		float *o0 = out, *o1 = out + 20;
		want[d] = o0[3 * 5 + d];
		want[5 + d] = fmaxf(o0[2 * 5 + d], o0[3 * 5 + d]);
		want[10 + d] = (o0[2 * 5 + d] + o0[3 * 5 + d]) / 2;
		want[15 + d] = o1[2 * 5 + d];
		want[20 + d] = fmaxf(fmaxf(o1[d], o1[5 + d]), o1[10 + d]);
		want[25 + d] = (o1[d] + o1[5 + d] + o1[10 + d]) / 3;
	}
	ok(close_to(y, want, 30, 1e-6f, 1e-6f),
	   "masked_concat_pool: [last, max, avg] of the spec's example");
	ok(last[0] == 3 && last[1] == 2, "last = the last real token per row");
	float y2[30];
	out[0] = 100, out[7] = -100, out[20 + 15 + 1] = 55;  /* pads only */
	pool_concat_fwd(kern_default(), y2, am, last, out, mask, 2, 4, 5, 2);
	ok(!memcmp(y, y2, sizeof y), "values at padded positions change nothing");

	/* gradient: front pads (whole chunks) and trailing pads */
	memset(pmask, 0, sizeof pmask);
	pmask[0 * PT + 6] = 1;                       /* row 0: one trailing */
	for (int t = 0; t < 3; t++) pmask[1 * PT + t] = 1;   /* row 1: front */
	pmask[1 * PT + 6] = 1;
	for (int t = 0; t < 6; t++) pmask[2 * PT + t] = 1;   /* row 2: 1 real */
	float x[PB * PT * PD], r[PB * 3 * PD], dx[PB * PT * PD];
	double fd[PB * PT * PD];
	fill(x, PB * PT * PD, -1, 1);
	fill(r, PB * 3 * PD, -1, 1);
	float yy[PB * 3 * PD];
	int32_t pam[PB * PD], plast[PB];
	pool_concat_fwd(kern_default(), yy, pam, plast, x, pmask, PB, PT, PD,
	                PBPTT);
	pool_concat_bwd(kern_default(), dx, r, pam, plast, pmask, PB, PT, PD);
	for (int i = 0; i < PB * PT * PD; i++) {
		float s = x[i], h = 1e-3f;
		x[i] = s + h; double lp = pool_loss(x, r);
		x[i] = s - h; double lm = pool_loss(x, r);
		x[i] = s;
		fd[i] = (lp - lm) / (2.0 * h);
	}
	double e = relerr(fd, dx, PB * PT * PD);
	ok(e < 1e-3, "pool_concat_bwd == central diff (rel err %.2g)", e);
	int padzero = 1;
	for (int b = 0; b < PB; b++)
		for (int t = 0; t < PT; t++)
			for (int d = 0; d < PD; d++)
				if (pmask[b * PT + t] && dx[(b * PT + t) * PD + d] != 0)
					padzero = 0;
	ok(padzero, "no gradient reaches padded positions");
	ok(plast[0] == 5 && plast[1] == 5,
	   "last skips trailing padding (fastai's rule where T %% bptt == 0)");
	/* row 2: T=7, bptt=3, front padding 6 reaches into the last 3
	 * columns; fastai's T-last_pads-1 would point at pad 4 */
	ok(plast[2] == 6, "last is the real token even where fastai's rule "
	   "points into front padding (T %% bptt != 0)");
}

/* ---- batch norm ---- */
enum { NB = 6, NC = 4 };
static float bw[NC], bb[NC];

static double
bn_loss(const float *x, const float *w, const float *b, const float *r,
        int train)
{
	float y[NB * NC], xh[NB * NC], mu[NC], rs[NC], rm[NC] = {0},
	      rv[NC] = {1, 1, 1, 1};
	if (train)
		bn_train_fwd(kern_default(), y, xh, mu, rs, x, w, b, rm, rv, NB,
		             NC, 0.1f, 1e-5f);
	else {
		float m[NC] = {0.3f, -0.2f, 0.1f, 0}, v[NC] = {0.5f, 2, 1, 0.1f};
		bn_eval_fwd(kern_default(), y, xh, rs, x, w, b, m, v, NB, NC,
		            1e-5f);
	}
	return dot(y, r, NB * NC);
}

static void
test_bn(int train)
{
	float x[NB * NC], r[NB * NC], y[NB * NC], xh[NB * NC], mu[NC], rs[NC];
	float dx[NB * NC], dw[NC] = {0}, db[NC] = {0};
	float rm[NC] = {0}, rv[NC] = {1, 1, 1, 1};
	double fx[NB * NC], fw[NC], fb[NC];
	const char *mode = train ? "train" : "eval";

	fill(x, NB * NC, -2, 2);
	fill(r, NB * NC, -1, 1);
	fill(bw, NC, 0.5f, 1.5f);
	fill(bb, NC, -0.5f, 0.5f);
	if (train) {
		bn_train_fwd(kern_default(), y, xh, mu, rs, x, bw, bb, rm, rv,
		             NB, NC, 0.1f, 1e-5f);
		bn_train_bwd(kern_default(), dx, dw, db, r, xh, rs, bw, NB, NC);
		/* running stats: momentum 0.1, unbiased var */
		double s = 0, ss = 0;
		for (int i = 0; i < NB; i++)
			s += x[i * NC + 1];
		s /= NB;
		for (int i = 0; i < NB; i++)
			ss += (x[i * NC + 1] - s) * (x[i * NC + 1] - s);
		ok(fabs(rm[1] - 0.1 * s) < 1e-6 &&
		   fabs(rv[1] - (0.9 + 0.1 * ss / (NB - 1))) < 1e-6,
		   "bn running mean/var: momentum 0.1, unbiased variance");
		double m = 0, v = 0;
		for (int i = 0; i < NB; i++)
			m += y[i * NC + 2];
		m /= NB;
		for (int i = 0; i < NB; i++)
			v += (y[i * NC + 2] - m) * (y[i * NC + 2] - m);
		v /= NB;
		ok(fabs(m - bb[2]) < 1e-5 && fabs(sqrt(v) - bw[2]) < 1e-4,
		   "bn train output has mean b and std w");
	} else {
		float m[NC] = {0.3f, -0.2f, 0.1f, 0}, v[NC] = {0.5f, 2, 1, 0.1f};
		bn_eval_fwd(kern_default(), y, xh, rs, x, bw, bb, m, v, NB, NC,
		            1e-5f);
		bn_eval_bwd(kern_default(), dx, dw, db, r, xh, rs, bw, NB, NC);
		ok(fabsf(y[5] - ((x[5] + 0.2f) / sqrtf(2 + 1e-5f) * bw[1] + bb[1]))
		   < 1e-6f, "bn eval uses the running statistics");
	}
	float h = 1e-2f;
	for (int i = 0; i < NB * NC; i++) {
		float s = x[i];
		x[i] = s + h; double lp = bn_loss(x, bw, bb, r, train);
		x[i] = s - h; double lm = bn_loss(x, bw, bb, r, train);
		x[i] = s;
		fx[i] = (lp - lm) / (2.0 * h);
	}
	for (int c = 0; c < NC; c++) {
		float s = bw[c];
		bw[c] = s + h; double lp = bn_loss(x, bw, bb, r, train);
		bw[c] = s - h; double lm = bn_loss(x, bw, bb, r, train);
		bw[c] = s;
		fw[c] = (lp - lm) / (2.0 * h);
		s = bb[c];
		bb[c] = s + h; lp = bn_loss(x, bw, bb, r, train);
		bb[c] = s - h; lm = bn_loss(x, bw, bb, r, train);
		bb[c] = s;
		fb[c] = (lp - lm) / (2.0 * h);
	}
	double ex = relerr(fx, dx, NB * NC), ew = relerr(fw, dw, NC),
	       eb = relerr(fb, db, NC);
	ok(ex < 2e-3, "bn %s dx == central diff (rel err %.2g)", mode, ex);
	ok(ew < 2e-3, "bn %s dw == central diff (rel err %.2g)", mode, ew);
	ok(eb < 2e-3, "bn %s db == central diff (rel err %.2g)", mode, eb);
}

/* ---- batch norm in parts (data parallel): the rows of one batch split
 * over two "processes" (even and odd rows) give bn_train_fwd / _bwd of
 * the whole batch; on one process, bit for bit ---- */
static void
rows_of(float *dst, const float *src, int part)
{
	for (int i = part, k = 0; i < NB; i += 2, k++)
		memcpy(dst + k * NC, src + i * NC, NC * sizeof *dst);
}

static void
test_bn_split(void)
{
	enum { H = NB / 2 };
	float x[NB * NC], r[NB * NC], y[NB * NC], xh[NB * NC], mu[NC], rs[NC];
	float rm[NC] = {0.1f, 0, 0, 0}, rv[NC] = {1, 2, 1, 1};
	float dx[NB * NC], dw[NC] = {0}, db[NC] = {0};
	fill(x, NB * NC, -2, 2);
	fill(r, NB * NC, -1, 1);
	bn_train_fwd(kern_default(), y, xh, mu, rs, x, bw, bb, rm, rv, NB, NC,
	             0.1f, 1e-5f);
	bn_train_bwd(kern_default(), dx, dw, db, r, xh, rs, bw, NB, NC);

	/* bn_sums against plain loops */
	double s[2 * NC], want[2 * NC] = {0}, shift[NC] = {0.5, -1, 0, 2};
	bn_sums(kern_default(), s, x, shift, NB, NC);
	for (int i = 0; i < NB; i++)
		for (int c = 0; c < NC; c++) {
			double d = (double)x[i * NC + c] - shift[c];
			want[c] += d, want[NC + c] += d * d;
		}
	int good = 1;
	for (int c = 0; c < 2 * NC; c++)
		good &= fabs(s[c] - want[c]) <= 1e-12 * (1 + fabs(want[c]));
	ok(good, "bn_sums == plain loops (sum and squares about the shift)");

	/* one process: the parts are bn_train_fwd / _bwd, bit for bit */
	float y1[NB * NC], xh1[NB * NC], mu1[NC], rs1[NC], dx1[NB * NC];
	float rm1[NC] = {0.1f, 0, 0, 0}, rv1[NC] = {1, 2, 1, 1};
	float dw1[NC] = {0}, db1[NC] = {0};
	double m[NC], q[2 * NC], g[2 * NC];
	bn_sums(kern_default(), s, x, NULL, NB, NC);
	for (int c = 0; c < NC; c++)
		m[c] = s[c] / NB;
	bn_sums(kern_default(), q, x, m, NB, NC);
	bn_fwd_apply(kern_default(), y1, xh1, mu1, rs1, x, bw, bb, rm1, rv1, m,
	             q + NC, NB, NB, NC, 0.1f, 1e-5f);
	bn_bwd_sums(kern_default(), g, r, xh1, NB, NC);
	bn_bwd_apply(kern_default(), dx1, dw1, db1, r, xh1, rs1, bw, g, g, NB,
	             NB, NC);
	ok(!memcmp(y, y1, sizeof y) && !memcmp(xh, xh1, sizeof xh) &&
	   !memcmp(mu, mu1, sizeof mu) && !memcmp(rs, rs1, sizeof rs) &&
	   !memcmp(rm, rm1, sizeof rm) && !memcmp(rv, rv1, sizeof rv),
	   "bn_sums + bn_fwd_apply on one process == bn_train_fwd, bitwise");
	ok(!memcmp(dx, dx1, sizeof dx) && !memcmp(dw, dw1, sizeof dw) &&
	   !memcmp(db, db1, sizeof db),
	   "bn_bwd_sums + bn_bwd_apply on one process == bn_train_bwd, bitwise");

	/* two processes of 3 rows: sums added in between */
	float xp[2][H * NC], rp[2][H * NC], yp[2][H * NC], xhp[2][H * NC];
	float dxp[2][H * NC], mup[2][NC], rsp[2][NC];
	float rmp[2][NC], rvp[2][NC], dwp[2][NC] = {{0}}, dbp[2][NC] = {{0}};
	double sp[2][2 * NC], tot[2 * NC] = {0}, gp[2][2 * NC], gt[2 * NC] = {0};
	for (int p = 0; p < 2; p++) {
		rows_of(xp[p], x, p), rows_of(rp[p], r, p);
		memcpy(rmp[p], (float[NC]){0.1f, 0, 0, 0}, sizeof rmp[p]);
		memcpy(rvp[p], (float[NC]){1, 2, 1, 1}, sizeof rvp[p]);
		bn_sums(kern_default(), sp[p], xp[p], NULL, H, NC);
	}
	for (int c = 0; c < NC; c++)
		m[c] = (sp[0][c] + sp[1][c]) / NB;
	for (int p = 0; p < 2; p++) {
		bn_sums(kern_default(), sp[p], xp[p], m, H, NC);
		for (int c = 0; c < 2 * NC; c++)
			tot[c] += sp[p][c];
	}
	for (int p = 0; p < 2; p++) {
		bn_fwd_apply(kern_default(), yp[p], xhp[p], mup[p], rsp[p], xp[p],
		             bw, bb, rmp[p], rvp[p], m, tot + NC, NB, H, NC, 0.1f,
		             1e-5f);
		bn_bwd_sums(kern_default(), gp[p], rp[p], xhp[p], H, NC);
		for (int c = 0; c < 2 * NC; c++)
			gt[c] += gp[p][c];
	}
	double ey = 0, ed = 0, es = 0, eg = 0;
	for (int p = 0; p < 2; p++) {
		bn_bwd_apply(kern_default(), dxp[p], dwp[p], dbp[p], rp[p],
		             xhp[p], rsp[p], bw, gp[p], gt, NB, H, NC);
		for (int i = p, k = 0; i < NB; i += 2, k++)
			for (int c = 0; c < NC; c++) {
				ey = fmax(ey, fabs(yp[p][k * NC + c] - y[i * NC + c]));
				ed = fmax(ed, fabs(dxp[p][k * NC + c] -
				                   dx[i * NC + c]));
			}
		for (int c = 0; c < NC; c++)
			es = fmax(es, fmax(fmax(fabs(mup[p][c] - mu[c]),
			                        fabs(rsp[p][c] - rs[c])),
			                   fmax(fabs(rmp[p][c] - rm[c]),
			                        fabs(rvp[p][c] - rv[c]))));
	}
	for (int c = 0; c < NC; c++)
		eg = fmax(eg, fmax(fabs(dwp[0][c] + dwp[1][c] - dw[c]),
		                   fabs(dbp[0][c] + dbp[1][c] - db[c])));
	ok(ey < 1e-5 && es < 1e-5,
	   "two halves, sums added: y, mean, rstd, running stats == whole "
	   "batch (%.2g, %.2g)", ey, es);
	ok(ed < 1e-5 && eg < 1e-5,
	   "two halves, sums added: dx == whole batch, dw + db add up "
	   "(%.2g, %.2g)", ed, eg);
	/* and the check can fail: one half's own statistics are not the
	 * batch's */
	bn_fwd_apply(kern_default(), yp[0], xhp[0], mup[0], rsp[0], xp[0], bw, bb,
	             rmp[0], rvp[0], m, sp[0] + NC, H, H, NC, 0.1f, 1e-5f);
	ey = 0;
	for (int k = 0; k < H * NC; k++)
		ey = fmax(ey, fabs(yp[0][k] - y[(2 * (k / NC)) * NC + k % NC]));
	ok(ey > 1e-3, "one half's own statistics differ (%.2g)", ey);
}

/* ---- linear without bias, relu ---- */
enum { LB = 5, LI = 7, LO = 3 };

static double
lin_loss(const float *x, const float *w, const float *r)
{
	float y[LB * LO];
	linnb_fwd(kern_default(), y, x, w, LB, LI, LO);
	return dot(y, r, LB * LO);
}

static void
test_lin(void)
{
	float x[LB * LI], w[LO * LI], r[LB * LO], y[LB * LO], dy[LB * LO];
	float dx[LB * LI], dw[LO * LI];
	double fx[LB * LI], fw[LO * LI];

	fill(x, LB * LI, -1, 1);
	fill(w, LO * LI, -1, 1);
	fill(r, LB * LO, -1, 1);
	linnb_fwd(kern_default(), y, x, w, LB, LI, LO);
	double y12 = 0;
	for (int i = 0; i < LI; i++)
		y12 += (double)x[1 * LI + i] * w[2 * LI + i];
	ok(fabs(y[1 * LO + 2] - y12) < 1e-5, "linear: y = x W^T, no bias");
	float rin[6] = {-1, 0, 2, -3, 0.5f, 4}, rout[6], rd[6],
	      rg[6] = {1, 2, 3, 4, 5, 6};
	relu_fwd(kern_default(), rout, rin, 6);
	relu_bwd(kern_default(), rd, rg, rout, 6);
	ok(rout[0] == 0 && rout[1] == 0 && rout[2] == 2 && rout[4] == 0.5f &&
	   rd[0] == 0 && rd[1] == 0 && rd[2] == 3 && rd[3] == 0 && rd[5] == 6,
	   "relu forward and backward");
	memcpy(dy, r, sizeof dy);
	for (int i = 0; i < LO * LI; i++)
		dw[i] = 1.0f;               /* accumulates */
	linnb_bwd(kern_default(), dx, dw, dy, x, w, LB, LI, LO);
	for (int i = 0; i < LO * LI; i++)
		dw[i] -= 1.0f;
	float h = 0.5f;      /* linear in x and w: differences are exact */
	for (int i = 0; i < LB * LI; i++) {
		float s = x[i];
		x[i] = s + h; double lp = lin_loss(x, w, r);
		x[i] = s - h; double lm = lin_loss(x, w, r);
		x[i] = s;
		fx[i] = (lp - lm) / (2.0 * h);
	}
	for (int i = 0; i < LO * LI; i++) {
		float s = w[i];
		w[i] = s + h; double lp = lin_loss(x, w, r);
		w[i] = s - h; double lm = lin_loss(x, w, r);
		w[i] = s;
		fw[i] = (lp - lm) / (2.0 * h);
	}
	double ex = relerr(fx, dx, LB * LI), ew = relerr(fw, dw, LO * LI);
	ok(ex < 1e-4, "linear dx == central diff (rel err %.2g)", ex);
	ok(ew < 1e-4, "linear dw == central diff, accumulated (rel err %.2g)", ew);

}

int
main(void)
{
	rng_seed(&R, 7, 0);
	test_pool();
	test_bn(1);
	test_bn(0);
	test_bn_split();
	test_lin();
	return done_testing();
}
