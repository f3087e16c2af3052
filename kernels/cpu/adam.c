/* adam.c: the reference Adam step (adam.h). */
#include "adam.h"
#include "blas.h"
#include "dispatch.h"

void
adam_args_set(struct adam_args *a, double lr, double mom, double sqr_mom,
              double eps, double wd, int do_wd, int64_t step)
{
	double damp = 1 - mom, sqr_damp = 1 - sqr_mom;
	/* fastai's debias(mom, damp, step) = damp * (1 - mom^step) / (1 - mom) */
	double debias1 = damp * (1 - pow(mom, (double)step)) / (1 - mom);
	double debias2 = sqr_damp * (1 - pow(sqr_mom, (double)step)) /
	                 (1 - sqr_mom);

	a->decay = do_wd && wd != 0 ? (float)(1 - lr * wd) : 1.0f;
	a->mom = (float)mom;
	a->damp = (float)damp;
	a->sqr_mom = (float)sqr_mom;
	a->sqr_damp = (float)sqr_damp;
	a->debias2 = (float)debias2;
	a->neg_step = (float)(-lr / debias1);
	a->eps = (float)eps;
}

/* fmaf is exact either way; with the FMA instruction it is inlined
 * instead of a libm call.  Both loops give the same bits.  (About 0.23 s
 * for the 44M parameters of the full LM on one core: memory bound.) */
__attribute__((target("fma"))) static void
adam_loop_fma(float *restrict p, const float *restrict g, float *restrict m,
              float *restrict v, size_t n, const struct adam_args *a)
{
	const struct adam_args k = *a;  /* a local copy: no aliasing with p */

	for (size_t i = 0; i < n; i++)
		adam_elem(&p[i], g[i], &m[i], &v[i], &k);
}

static void
adam_loop(float *restrict p, const float *restrict g, float *restrict m,
          float *restrict v, size_t n, const struct adam_args *a)
{
	const struct adam_args k = *a;

	for (size_t i = 0; i < n; i++)
		adam_elem(&p[i], g[i], &m[i], &v[i], &k);
}

void
adam_step_cpu(struct kern *k, float *p, const float *g, float *m, float *v,
              size_t n, const struct adam_args *a)
{
	KERN_TWIN(k, adam_step_cpu, (k, p, g, m, v, n, a));
	(void)k;
	static int fma = -1;

	if (fma < 0)
		fma = __builtin_cpu_supports("fma");
	if (fma)
		adam_loop_fma(p, g, m, v, n, a);
	else
		adam_loop(p, g, m, v, n, a);
}

/* ---- multi-tensor calls ---- */

/* Call fn on the pieces of the tensors that fall in [lo, hi) of the flat
 * range of all their elements, in table order. */
static void
flat_pieces(const struct adam_tensor *t, int nt, long lo, long hi,
            void (*fn)(const struct adam_tensor *t, size_t a, size_t b,
                       void *x), void *x)
{
	long at = 0;
	for (int i = 0; i < nt && at < hi; i++) {
		long n = (long)t[i].n, a = lo > at ? lo - at : 0,
		     b = hi < at + n ? hi - at : n;
		if (a < b)
			fn(&t[i], (size_t)a, (size_t)b, x);
		at += n;
	}
}

static long
flat_count(const struct adam_tensor *t, int nt)
{
	long n = 0;
	for (int i = 0; i < nt; i++)
		n += (long)t[i].n;
	return n;
}

struct multi_ctx {
	struct kern *k;
	const struct adam_tensor *t;
	int nt;
	const struct adam_args *args;
};

static void
adam_piece(const struct adam_tensor *t, size_t a, size_t b, void *x)
{
	const struct multi_ctx *c = x;
	adam_step_cpu(c->k, t->p + a, t->g + a, t->m + a, t->v + a, b - a,
	              &c->args[t->args]);
}

static void
adam_range(void *x, long lo, long hi)
{
	const struct multi_ctx *c = x;
	flat_pieces(c->t, c->nt, lo, hi, adam_piece, x);
}

/* A piece per worker of at least 64K elements: below that the pool's
 * wake-up costs more than the memory traffic it splits. */
#define MULTI_MIN (1L << 16)

void
adam_multi(struct kern *k, const struct adam_tensor *t, int nt,
           const struct adam_args *args)
{
	KERN_TWIN(k, adam_multi, (k, t, nt, args));
	struct multi_ctx c = { k, t, nt, args };
	kern_par_for(k, flat_count(t, nt), MULTI_MIN, adam_range, &c);
}
