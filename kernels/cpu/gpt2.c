/* gpt2.c: GPT-2's element and attention kernels (see gpt2.h). */
/* as ops.c: GCC 12's -O2 cost model vectorises no loop of unknown length */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "dispatch.h"

struct ln_ctx {
	float *y;
	const float *x, *w, *b;
	int C;
	float eps;
};

static void
ln_range(void *arg, long lo, long hi)
{
	const struct ln_ctx *c = arg;
	int C = c->C;
	for (long t = lo; t < hi; t++) {
		const float *x = c->x + t * C;
		float *y = c->y + t * C;
		double m = 0, v = 0;
		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		float mf = (float)m, rs = (float)(1.0 / sqrt(v + c->eps));
		for (int i = 0; i < C; i++)
			y[i] = (x[i] - mf) * rs * c->w[i] + c->b[i];
	}
}

void
gpt2_layernorm(struct kern *k, float *y, const float *x, const float *w,
               const float *b, int T, int C, float eps)
{
	KERN_TWIN(k, gpt2_layernorm, (k, y, x, w, b, T, C, eps));
	struct ln_ctx c = { y, x, w, b, C, eps };
	kern_par_for(k, T, 4, ln_range, &c);
}

struct emb_ctx {
	float *x;
	const float *wte, *wpe;
	const uint32_t *ids;
	int P, C;
};

KERN_CLONES static void
add2(float *restrict x, const float *restrict a, const float *restrict b,
     int n)
{
	for (int i = 0; i < n; i++)
		x[i] = a[i] + b[i];
}

static void
emb_range(void *arg, long lo, long hi)
{
	const struct emb_ctx *c = arg;
	size_t C = c->C;
	for (long t = lo; t < hi; t++)
		add2(c->x + t * C, c->wte + (size_t)c->ids[t] * C,
		     c->wpe + (c->P + t) * C, c->C);
}

void
gpt2_embed(struct kern *k, float *x, const float *wte, const float *wpe,
           const uint32_t *ids, int T, int P, int C)
{
	KERN_TWIN(k, gpt2_embed, (k, x, wte, wpe, ids, T, P, C));
	struct emb_ctx c = { x, wte, wpe, ids, P, C };
	kern_par_for(k, T, 16384 / (C > 0 ? C : 1) + 1, emb_range, &c);
}

struct gelu_ctx { float *x; };

KERN_CLONES static void
gelu_range(void *arg, long lo, long hi)
{
	float *restrict x = ((struct gelu_ctx *)arg)->x;
	for (long i = lo; i < hi; i++)
		x[i] = gelu_new_elem(x[i]);
}

void
gpt2_gelu(struct kern *k, float *x, long n)
{
	KERN_TWIN(k, gpt2_gelu, (k, x, n));
	struct gelu_ctx c = { x };
	kern_par_for(k, n, 16384, gelu_range, &c);
}

void
gpt2_add(struct kern *k, float *x, const float *y, long n)
{
	KERN_TWIN(k, gpt2_add, (k, x, y, n));
	(void)k;
	for (long i = 0; i < n; i++)
		x[i] += y[i];
}

struct att_ctx {
	float *out;
	const float *q, *kc, *vc;
	int ldq, T, P, C, NH;
};

/* One query row against np cached positions of one head: out(HS) =
 * softmax(q.k_p * scale) . v_p.  Positions go in blocks of ATT_BLK: the
 * block's scores first (dot products in 16 running sums, so they
 * vectorise), then one rescale of the running sum when the block raises
 * the maximum (online softmax: no row of np scores is kept), then the
 * weighted values. */
enum { ATT_BLK = 64 };

KERN_CLONES static void
att_one(float *restrict out, const float *restrict q, const float *restrict kc,
        const float *restrict vc, long ld, int np, int HS, float scale)
{
	float acc[1024], sc[ATT_BLK];
	float m = -INFINITY, l = 0;
	for (int i = 0; i < HS; i++)
		acc[i] = 0;
	for (int p0 = 0; p0 < np; p0 += ATT_BLK) {
		int nb = np - p0 < ATT_BLK ? np - p0 : ATT_BLK;
		float mb = -INFINITY;
		for (int j = 0; j < nb; j++) {
			const float *restrict k = kc + (long)(p0 + j) * ld;
			float s[16] = { 0 };
			int i = 0;
			for (; i + 16 <= HS; i += 16)
				for (int u = 0; u < 16; u++)
					s[u] += q[i + u] * k[i + u];
			for (; i < HS; i++)
				s[i & 15] += q[i] * k[i];
			for (int u = 0; u < 8; u++)     /* a tree: 4 steps */
				s[u] += s[u + 8];
			for (int u = 0; u < 4; u++)
				s[u] += s[u + 4];
			s[0] += s[2], s[1] += s[3];
			sc[j] = (s[0] + s[1]) * scale;
			if (sc[j] > mb)
				mb = sc[j];
		}
		if (mb > m) {
			float r = expf(m - mb);
			l *= r;
			for (int i = 0; i < HS; i++)
				acc[i] *= r;
			m = mb;
		}
		for (int j = 0; j < nb; j++) {
			const float *restrict v = vc + (long)(p0 + j) * ld;
			float e = expf(sc[j] - m);
			l += e;
			for (int i = 0; i < HS; i++)
				acc[i] += e * v[i];
		}
	}
	for (int i = 0; i < HS; i++)
		out[i] = acc[i] / l;
}

/* one (t, h) per item */
static void
att_range(void *arg, long lo, long hi)
{
	const struct att_ctx *c = arg;
	int HS = c->C / c->NH;
	float scale = 1.0f / sqrtf((float)HS);
	for (long it = lo; it < hi; it++) {
		int t = (int)(it / c->NH), h = (int)(it % c->NH);
		att_one(c->out + (long)t * c->C + h * HS,
		        c->q + (long)t * c->ldq + h * HS, c->kc + h * HS,
		        c->vc + h * HS, c->C, c->P + t + 1, HS, scale);
	}
}

void
gpt2_attention(struct kern *k, float *out, const float *q, int ldq,
               const float *kc, const float *vc, int T, int P, int C, int NH)
{
	KERN_TWIN(k, gpt2_attention, (k, out, q, ldq, kc, vc, T, P, C, NH));
	struct att_ctx c = { out, q, kc, vc, ldq, T, P, C, NH };
	/* one position (a generation step) runs inline: waking the workers
	 * costs more than its few dot products, and OpenBLAS's threads are
	 * still spinning from the GEMV before */
	kern_par_for(k, (long)T * NH, NH, att_range, &c);
}

void
gpt2_softmax(struct kern *k, double *p, const float *x, int n, double temp)
{
	KERN_TWIN(k, gpt2_softmax, (k, p, x, n, temp));
	(void)k;
	double m = -INFINITY, s = 0;
	for (int i = 0; i < n; i++)
		if (x[i] > m)
			m = x[i];
	for (int i = 0; i < n; i++)
		s += p[i] = exp((x[i] - m) / temp);
	for (int i = 0; i < n; i++)
		p[i] /= s;
}
