/* loss.c: fused softmax + cross-entropy, AR, TAR. */
#include <math.h>

#include "kernels.h"

struct ce_ctx {
	float *z;
	const uint32_t *y;
	double *loss;
	int *hit;
	int V;
	float gscale;
};

static void
ce_rows(void *p, long lo, long hi)
{
	struct ce_ctx *x = p;
	int V = x->V;
	for (long n = lo; n < hi; n++) {
		float *z = x->z + (size_t)n * V;
		uint32_t y = x->y[n];
		float mx = z[0];
		int am = 0;
		for (int v = 1; v < V; v++)
			if (z[v] > mx)
				mx = z[v], am = v;
		float zy = z[y];
		/* logsumexp with the max taken out: every exp() is <= 1 */
		double s = 0;
		if (x->gscale != 0.0f) {
			for (int v = 0; v < V; v++) {
				float e = expf(z[v] - mx);
				z[v] = e;
				s += e;
			}
			float k = (float)(x->gscale / s);
			for (int v = 0; v < V; v++)
				z[v] *= k;
			z[y] -= x->gscale;
		} else {
			for (int v = 0; v < V; v++)
				s += expf(z[v] - mx);
		}
		x->loss[n] = log(s) + mx - zy;
		x->hit[n] = (uint32_t)am == y;
	}
}

void
ce_fwd_bwd(float *logits, const uint32_t *y, double *loss, int *hit, int N,
           int V, float gscale)
{
	struct ce_ctx x = { logits, y, loss, hit, V, gscale };
	kern_par_for(N, 1, ce_rows, &x);
}

double
ar_fwd_bwd(const float *x, float *dx, long n, float alpha)
{
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
tar_fwd_bwd(const float *x, float *dx, int B, int T, int E, float beta)
{
	if (T < 2 || B == 1)
		return 0;
	long cnt = (long)B * (T - 1) * E;
	float k = 2.0f * beta / (float)cnt;
	double s = 0;
	for (int b = 0; b < B; b++)
		for (int t = 0; t + 1 < T; t++) {
			const float *a = x + ((size_t)b * T + t) * E, *c = a + E;
			float *da = dx ? dx + ((size_t)b * T + t) * E : NULL;
			for (int e = 0; e < E; e++) {
				float d = c[e] - a[e];
				s += (double)d * d;
				if (da) {
					da[E + e] += k * d;
					da[e] -= k * d;
				}
			}
		}
	return beta * s / cnt;
}
