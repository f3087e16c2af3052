/* optim.c: fastai's Adam, parameter groups, freezing, lr forms,
 * one-cycle, clipping, smoothed loss, and the optimizer's checkpoint
 * state.  See optim.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/optim.h"
#include "ops.h"
#include "core/util.h"

void
optim_init(struct optim *o, int ngroups)
{
	memset(o, 0, sizeof *o);
	if (ngroups < 1 || ngroups > OPT_MAX_GROUPS)
		die("optim: %d parameter groups (1..%d)", ngroups,
		    OPT_MAX_GROUPS);
	o->ng = ngroups;
	o->k = kern_default();
	for (int i = 0; i < ngroups; i++)
		o->g[i] = (struct opt_group){ 1e-3, 0.9, 0.99, 1e-5, 0.01 };
}

void
opt_set_kern(struct optim *o, struct kern *k)
{
	if (o->mom)
		die("optim: the context changes after the moments exist");
	o->k = k;
}

void
optim_free(struct optim *o)
{
	kern_free(o->k, o->mom);
	free(o->p);
	free(o->tab);
	free(o->args);
	free(o->saved);
	free(o->hmom);
	memset(o, 0, sizeof *o);
}

/* moment views: a parameter's m and v start on 64 bytes */
static size_t
mom_len(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* The moments block of every parameter registered so far: made on first
 * use, laid out again (moments kept) when parameters came after it. */
static void
moments(struct optim *o)
{
	if (o->mom && o->mom_np == o->np)
		return;
	size_t tot = 0;
	for (int i = 0; i < o->np; i++)
		tot += mom_len(o->p[i].n);
	float *mom = kern_alloc(o->k, 2 * tot * sizeof *mom);
	kern_zero(o->k, mom, 2 * tot * sizeof *mom);
	size_t at = 0;
	for (int i = 0; i < o->np; i++) {
		struct opt_param *q = &o->p[i];
		float *m = mom + at, *v = mom + tot + at;
		if (q->m) {
			kern_copy(o->k, m, q->m, q->n * sizeof *m);
			kern_copy(o->k, v, q->v, q->n * sizeof *v);
		}
		q->m = m, q->v = v;
		at += mom_len(q->n);
	}
	kern_free(o->k, o->mom);
	o->mom = mom;
	o->mom_np = o->np;
}

int
opt_add(struct optim *o, const char *name, float *p, float *g, int ndim,
        const long *shape, int group, int flags)
{
	if (group < 0 || group >= o->ng)
		die("optim: %s: group %d of %d", name, group, o->ng);
	if (ndim < 0 || ndim > PTH_MAXDIM)
		die("optim: %s: rank %d", name, ndim);
	for (int i = 0; i < o->np; i++)
		if (o->p[i].p == p)     /* a tied weight: one parameter */
			return i;
	if (o->np == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 32;
		o->p = xrealloc(o->p, o->cap * sizeof *o->p);
		o->tab = xrealloc(o->tab, o->cap * sizeof *o->tab);
		o->args = xrealloc(o->args, o->cap * sizeof *o->args);
	}
	struct opt_param *q = &o->p[o->np];
	memset(q, 0, sizeof *q);
	snprintf(q->name, sizeof q->name, "%s", name);
	q->p = p;
	q->g = g;
	q->n = 1;
	q->ndim = ndim;
	for (int d = 0; d < ndim; d++)
		q->n *= (size_t)(q->shape[d] = shape[d]);
	q->group = group;
	q->flags = flags;
	q->train = 1;
	return o->np++;
}

void
opt_clear_state(struct optim *o)
{
	moments(o);
	for (int i = 0; i < o->np; i++) {
		kern_zero(o->k, o->p[i].m, o->p[i].n * sizeof *o->p[i].m);
		kern_zero(o->k, o->p[i].v, o->p[i].n * sizeof *o->p[i].v);
		o->p[i].step = 0;
	}
}

void
opt_freeze_to(struct optim *o, int n)
{
	int from = n >= 0 ? n : o->ng + n;

	if (from < 0)
		from = 0;
	if (from >= o->ng)
		warn("freezing %d groups; the model has %d: all of it is "
		     "frozen", from, o->ng);
	o->frozen = from;
	for (int i = 0; i < o->np; i++)
		o->p[i].train = o->p[i].group >= from ||
		                (o->p[i].flags & OPT_FORCE_TRAIN);
	opt_clear_state(o);
}

void
lr_spread(double lo, double hi, int n, double *out)
{
	if (n == 1 || lo == hi) {
		for (int i = 0; i < n; i++)
			out[i] = hi;
	} else if (lo == 0) {           /* slice(hi) */
		for (int i = 0; i < n - 1; i++)
			out[i] = hi / 10;
		out[n - 1] = hi;
	} else {                        /* fastai's even_mults(lo, hi, n) */
		double step = pow(hi / lo, 1.0 / (n - 1));
		for (int i = 0; i < n; i++)
			out[i] = lo * pow(step, i);
	}
}

void
opt_set_lr(struct optim *o, const double *lr)
{
	for (int i = 0; i < o->ng; i++)
		o->g[i].lr = lr[i];
}

void
opt_set_mom(struct optim *o, double mom)
{
	for (int i = 0; i < o->ng; i++)
		o->g[i].mom = mom;
}

void
opt_set_wd(struct optim *o, double wd)
{
	for (int i = 0; i < o->ng; i++)
		o->g[i].wd = wd;
}

/* The multi-tensor table of the trainable parameters of group (all when
 * group < 0).  With step set, each parameter's step count moves on and
 * the args table gets one row per (group, do_wd, step) met, fastai's
 * param groups with their scalars. */
static int
table(struct optim *o, int group, int step)
{
	int nt = 0, na = 0;
	int key[OPT_MAX_GROUPS * 2];    /* row of (group, do_wd) */
	int64_t key_step[OPT_MAX_GROUPS * 2];

	for (int i = 0; i < 2 * o->ng; i++)
		key[i] = -1, key_step[i] = 0;
	for (int i = 0; i < o->np; i++) {
		struct opt_param *q = &o->p[i];
		if (!q->train || (group >= 0 && q->group != group))
			continue;
		struct adam_tensor *t = &o->tab[nt++];
		*t = (struct adam_tensor){ q->p, q->g, q->m, q->v, q->n, 0 };
		if (!step)
			continue;
		int do_wd = !(q->flags & OPT_NO_WD), kk = 2 * q->group + do_wd;
		q->step++;
		if (key[kk] < 0 || key_step[kk] != q->step) {
			const struct opt_group *h = &o->g[q->group];
			adam_args_set(&o->args[na], h->lr, h->mom, h->sqr_mom,
			              h->eps, h->wd, do_wd, q->step);
			key[kk] = na++;
			key_step[kk] = q->step;
		}
		t->args = key[kk];
	}
	return nt;
}

void
opt_step(struct optim *o)
{
	moments(o);
	int nt = table(o, -1, 1);
	adam_multi(o->k, o->tab, nt, o->args);
}

void
opt_zero_grad(struct optim *o)
{
	for (int i = 0; i < o->np; i++)
		kern_zero(o->k, o->p[i].g, o->p[i].n * sizeof *o->p[i].g);
}

/* Clip the trainable parameters of group (or all, group < 0): each
 * tensor's sum of squares (double, in order) added in table order, the
 * norm the one scalar the host reads, then g *= coef. */
static double
clip(struct optim *o, int group, double max_norm)
{
	int nt = table(o, group, 0);
	double s = 0;
	for (int i = 0; i < nt; i++)
		s += ops_sumsq(o->k, o->tab[i].g, o->tab[i].n);
	double norm = sqrt(s), coef = max_norm / (norm + 1e-6);
	if (coef < 1)
		for (int i = 0; i < nt; i++)
			ops_scale(o->k, o->tab[i].g, (float)coef, o->tab[i].n);
	return norm;
}

double
opt_clip_groups(struct optim *o, double max_norm)
{
	double most = 0;

	for (int g = 0; g < o->ng; g++) {
		double n = clip(o, g, max_norm);
		if (n > most)
			most = n;
	}
	return most;
}

double
opt_clip_global(struct optim *o, double max_norm)
{
	return clip(o, -1, max_norm);
}

/* ---- schedules ---------------------------------------------------------- */

double
cos_anneal(double a, double b, double t)
{
	return a + (1 + cos(M_PI * (1 - t))) * (b - a) / 2;
}

void
onecycle_init(struct onecycle *c, int n_epoch, int64_t n_iter,
              const double *lr_max, int ng)
{
	memset(c, 0, sizeof *c);
	if (n_epoch < 1 || n_iter < 1)
		die("fit_one_cycle: %d epochs of %lld batches", n_epoch,
		    (long long)n_iter);
	c->n_epoch = n_epoch;
	c->n_iter = n_iter;
	c->ng = ng;
	for (int i = 0; i < ng; i++)
		c->lr_max[i] = lr_max[i];
	c->div = 25;
	c->div_final = 1e5;
	c->pct_start = 0.25;
	c->moms[0] = 0.8;
	c->moms[1] = 0.7;
	c->moms[2] = 0.8;
}

void
onecycle_epoch(struct onecycle *c, int epoch)
{
	c->pos = (double)epoch / c->n_epoch;
}

void
onecycle_next(struct onecycle *c)
{
	c->pos += 1. / (double)(c->n_iter * c->n_epoch);
}

void
onecycle_seek(struct onecycle *c, int epoch, int64_t batch)
{
	onecycle_epoch(c, epoch);
	for (int64_t b = 0; b < batch; b++)
		onecycle_next(c);
}

/* fastai's combined_cos(pct, start, middle, end): the phase boundaries
 * are a float32 tensor and the position within a phase is computed in
 * float32, then the cosine in double; we do the same. */
static double
combined_cos(double pct, double start, double middle, double end, double pos)
{
	float p1 = (float)pct, p2 = p1 + (float)(1 - pct), pf = (float)pos;
	float t;

	if (pf >= p1) {
		t = (pf - p1) / (p2 - p1);
		return cos_anneal(middle, end, t);
	}
	t = pf / p1;
	return cos_anneal(start, middle, t);
}

void
onecycle_values(const struct onecycle *c, int g, double *lr, double *mom)
{
	double m = c->lr_max[g];

	*lr = combined_cos(c->pct_start, m / c->div, m, m / c->div_final,
	                   c->pos);
	*mom = combined_cos(c->pct_start, c->moms[0], c->moms[1], c->moms[2],
	                    c->pos);
}

void
onecycle_apply(const struct onecycle *c, struct optim *o)
{
	for (int g = 0; g < o->ng && g < c->ng; g++)
		onecycle_values(c, g, &o->g[g].lr, &o->g[g].mom);
}

int
fine_tune_plan(int epochs, double base_lr, int freeze_epochs, double lr_mult,
               double pct_start, double div, struct ft_phase out[2])
{
	int k = 0;

	/* freeze(); fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99) */
	if (freeze_epochs > 0)
		out[k++] = (struct ft_phase){ -1, freeze_epochs, 0, base_lr,
		                              0.99, 25 };
	base_lr /= 2;                   /* then unfreeze() */
	out[k++] = (struct ft_phase){ 0, epochs, base_lr / lr_mult, base_lr,
	                              pct_start, div };
	return k;
}

void
smooth_reset(struct smooth_loss *s)
{
	s->val = 0;
	s->count = 0;
}

double
smooth_add(struct smooth_loss *s, double loss)
{
	const double beta = 0.98;

	s->count++;
	s->val = loss + beta * (s->val - loss);   /* torch.lerp(loss, val, beta) */
	return s->val / (1 - pow(beta, (double)s->count));
}

/* ---- checkpoints -------------------------------------------------------- */

/* The moments where the host can read them: the block itself on the CPU
 * backend (device memory is host memory), else a copy. */
static float *
host_moments(struct optim *o)
{
	moments(o);
	if (o->k->backend == KERN_CPU)
		return o->mom;
	size_t tot = 0;
	for (int i = 0; i < o->np; i++)
		tot += mom_len(o->p[i].n);
	free(o->hmom);
	o->hmom = xmalloc(2 * tot * sizeof *o->hmom + 1);
	kern_download(o->k, o->hmom, o->mom, 2 * tot * sizeof *o->hmom);
	return o->hmom;
}

struct pv *
opt_state(struct optim *o, struct pv_pool *pool)
{
	struct pv *opt = pv_dict(pool), *state = pv_list(pool),
	          *hypers = pv_list(pool);

	free(o->saved);
	o->saved = xcalloc(2 * (size_t)o->np + 1, sizeof *o->saved);
	float *host = host_moments(o);
	for (int i = 0; i < o->np; i++) {
		struct opt_param *q = &o->p[i];
		struct pv *d = pv_dict(pool);
		if (q->flags & OPT_FORCE_TRAIN)
			pv_sets(pool, d, "force_train", pv_bool(pool, 1));
		pv_sets(pool, d, "do_wd", pv_bool(pool, !(q->flags & OPT_NO_WD)));
		if (q->step) {
			for (int k = 0; k < 2; k++) {
				struct pth_tensor *t = &o->saved[2 * i + k];
				t->name = q->name;
				t->dtype = PTH_F32;
				t->ndim = q->ndim;
				memcpy(t->shape, q->shape, sizeof t->shape);
				t->numel = (int64_t)q->n;
				t->f = host + ((k ? q->v : q->m) - o->mom);
				pv_sets(pool, d, k ? "sqr_avg" : "grad_avg",
				        pv_tensor(pool, t));
			}
			pv_sets(pool, d, "step", pv_int(pool, q->step));
		}
		pv_push(state, d);
	}
	for (int g = 0; g < o->ng; g++) {
		struct pv *h = pv_dict(pool);
		pv_sets(pool, h, "wd", pv_float(pool, o->g[g].wd));
		pv_sets(pool, h, "sqr_mom", pv_float(pool, o->g[g].sqr_mom));
		pv_sets(pool, h, "lr", pv_float(pool, o->g[g].lr));
		pv_sets(pool, h, "mom", pv_float(pool, o->g[g].mom));
		pv_sets(pool, h, "eps", pv_float(pool, o->g[g].eps));
		pv_push(hypers, h);
	}
	pv_sets(pool, opt, "state", state);
	pv_sets(pool, opt, "hypers", hypers);
	return opt;
}

static void
restore_moment(struct optim *o, const struct opt_param *q, const struct pv *t,
               float *dst, const char *file, const char *what)
{
	/* The shape, not only the count: a (8,8) moment is no (64,) one. */
	if (!t || t->kind != PV_TENSOR || !t->t->f ||
	    t->t->numel != (int64_t)q->n || t->t->ndim != q->ndim ||
	    memcmp(t->t->shape, q->shape, (size_t)q->ndim * sizeof *q->shape))
		die("%s: optimizer state for %s: %s is missing or has the "
		    "wrong shape; start without the optimizer state", file,
		    q->name, what);
	kern_upload(o->k, dst, t->t->f, q->n * sizeof *dst);
}

void
opt_restore(struct optim *o, const struct pv *opt, const char *file)
{
	size_t ns, nh;
	struct pv *const *st = pv_items(pv_get(opt, "state"), &ns);
	struct pv *const *hy = pv_items(pv_get(opt, "hypers"), &nh);

	if (!st || !hy)
		die("%s: no optimizer state in the file (saved without it?)",
		    file);
	if (ns != (size_t)o->np || nh != (size_t)o->ng)
		die("%s: optimizer state for %zu parameters in %zu groups, "
		    "this model has %d in %d; it was saved from another model",
		    file, ns, nh, o->np, o->ng);
	moments(o);
	for (int i = 0; i < o->np; i++) {
		struct opt_param *q = &o->p[i];
		const struct pv *d = st[i];
		int64_t step = 0;
		if (d->kind != PV_DICT)
			die("%s: optimizer state %d is not a dict", file, i);
		if (!pv_get(d, "step")) {       /* never stepped, or cleared */
			kern_zero(o->k, q->m, q->n * sizeof *q->m);
			kern_zero(o->k, q->v, q->n * sizeof *q->v);
			q->step = 0;
			continue;
		}
		if (!pv_as_int(pv_get(d, "step"), &step) || step < 0)
			die("%s: optimizer step of %s is not a count", file,
			    q->name);
		restore_moment(o, q, pv_get(d, "grad_avg"), q->m, file, "grad_avg");
		restore_moment(o, q, pv_get(d, "sqr_avg"), q->v, file, "sqr_avg");
		q->step = step;
	}
	for (int g = 0; g < o->ng; g++) {
		struct opt_group *h = &o->g[g];
		if (!pv_as_double(pv_get(hy[g], "lr"), &h->lr) ||
		    !pv_as_double(pv_get(hy[g], "mom"), &h->mom) ||
		    !pv_as_double(pv_get(hy[g], "sqr_mom"), &h->sqr_mom) ||
		    !pv_as_double(pv_get(hy[g], "eps"), &h->eps) ||
		    !pv_as_double(pv_get(hy[g], "wd"), &h->wd))
			die("%s: hyper-parameters of group %d are incomplete",
			    file, g);
	}
}
