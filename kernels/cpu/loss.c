/* loss.c: fused softmax + cross-entropy, AR, TAR. */
/* see lstm.c: vectorise the loops with epilogues, no FP traps assumed */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")

#include <math.h>

#include "kernels.h"
#include "dispatch.h"

struct ce_ctx {
	float *z;
	const uint32_t *y;
	double *loss;
	int *hit;
	int V;
	float gscale;
};

/* The V-long loops are written for the vectoriser: the max and the sum
 * run in 8 interleaved lanes (a fixed order, so the same bits every run),
 * exp is expf_neg_elem (arguments are <= 0 after the max is taken out). */
#define LANES 8

KERN_CLONES static float
row_max(const float *restrict z, int V)
{
	float m[LANES];
	int v = 0;
	for (int k = 0; k < LANES; k++)
		m[k] = z[0];
	for (; v + LANES <= V; v += LANES)
		for (int k = 0; k < LANES; k++)
			m[k] = z[v + k] > m[k] ? z[v + k] : m[k];
	float mx = m[0];
	for (int k = 1; k < LANES; k++)
		mx = m[k] > mx ? m[k] : mx;
	for (; v < V; v++)
		mx = z[v] > mx ? z[v] : mx;
	return mx;
}

KERN_CLONES static void
row_exp(float *restrict z, float mx, int V)
{
	for (int v = 0; v < V; v++)
		z[v] = expf_neg_elem(z[v] - mx);
}

/* sum of z[v], or of exp(z[v] - mx) when exp is set */
KERN_CLONES static double
row_sum(const float *restrict z, float mx, int exp, int V)
{
	double acc[LANES] = { 0 };
	int v = 0;
	if (exp)
		for (; v + LANES <= V; v += LANES)
			for (int k = 0; k < LANES; k++)
				acc[k] += expf_neg_elem(z[v + k] - mx);
	else
		for (; v + LANES <= V; v += LANES)
			for (int k = 0; k < LANES; k++)
				acc[k] += z[v + k];
	double s = 0;
	for (int k = 0; k < LANES; k++)
		s += acc[k];
	for (; v < V; v++)
		s += exp ? expf_neg_elem(z[v] - mx) : z[v];
	return s;
}

KERN_CLONES static void
row_scale(float *restrict z, float k, int V)
{
	for (int v = 0; v < V; v++)
		z[v] *= k;
}

static void
ce_rows(void *p, long lo, long hi)
{
	struct ce_ctx *x = p;
	int V = x->V;
	for (long n = lo; n < hi; n++) {
		float *z = x->z + (size_t)n * V;
		uint32_t y = x->y[n];
		float mx = row_max(z, V);
		int am = 0;
		while (am < V - 1 && !(z[am] == mx))    /* first maximum */
			am++;
		float zy = z[y];
		/* logsumexp with the max taken out: every exp() is <= 1 */
		double s;
		if (x->gscale != 0.0f) {
			row_exp(z, mx, V);
			s = row_sum(z, 0.0f, 0, V);
			row_scale(z, (float)(x->gscale / s), V);
			z[y] -= x->gscale;
		} else {
			s = row_sum(z, mx, 1, V);
		}
		x->loss[n] = log(s) + mx - zy;
		x->hit[n] = (uint32_t)am == y;
	}
}

void
ce_fwd_bwd(struct kern *k, float *logits, const uint32_t *y, double *loss,
           int *hit, int N, int V, float gscale)
{
	KERN_TWIN(k, ce_fwd_bwd, (k, logits, y, loss, hit, N, V, gscale));
	struct ce_ctx x = { logits, y, loss, hit, V, gscale };
	kern_par_for(k, N, 1, ce_rows, &x);
}

double
ar_fwd_bwd(struct kern *k, const float *x, float *dx, long n, float alpha)
{
	KERN_TWIN_RET(k, ar_fwd_bwd, (k, x, dx, n, alpha));
	(void)k;
	double s = 0;
	for (long i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	if (dx) {
		float k = 2.0f * alpha / (float)n;
		for (long i = 0; i < n; i++)
			dx[i] += k * x[i];
	}
	return alpha * s / n;
}

double
tar_fwd_bwd(struct kern *k, const float *x, float *dx, int B, int T, int E,
            float beta)
{
	KERN_TWIN_RET(k, tar_fwd_bwd, (k, x, dx, B, T, E, beta));
	(void)k;
	if (T < 2 || B == 1)
		return 0;
	long cnt = (long)B * (T - 1) * E;
	float g = 2.0f * beta / (float)cnt;
	double s = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t + 1 < T; t++) {
			const float *a = x + ((size_t)b * T + t) * E, *c = a + E;
			float *da = dx ? dx + ((size_t)b * T + t) * E : NULL;
			for (int e = 0; e < E; e++) {
				float d = c[e] - a[e];
				s += (double)d * d;
				if (da) {
					da[E + e] += g * d;
					da[e] -= g * d;
				}
			}
		}
	return beta * s / cnt;
}
