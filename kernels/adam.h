/* adam.h: fastai's Adam step (spec §9.1) over one float array.
 *
 * fastai's order, per parameter that has a gradient:
 *   p <- p * (1 - lr*wd)                      decoupled ("true") weight decay
 *   m <- mom*m + (1-mom)*g                    damped first moment
 *   v <- sqr_mom*v + (1-sqr_mom)*g*g
 *   step <- step + 1
 *   p <- p - lr/debias1 * m / (sqrt(v/debias2) + eps)
 * with debias1 = 1 - mom^step using the *current* (scheduled) mom, and
 * eps outside the square root.  The scalars are computed in double (as
 * Python does) and rounded to float once; per element the float
 * operations happen in PyTorch's order (mul_, add_(alpha), addcmul_,
 * div, sqrt, add, addcdiv_).  torch's CPU kernels (AVX2 build) fuse
 * add_(g, alpha) and addcmul_ into one fused multiply-add each; fmaf does
 * the same here, so a step matches torch 1.13 on CPU bit for bit. */
#ifndef KERN_ADAM_H
#define KERN_ADAM_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include "ctx.h"
#include "hd.h"

struct adam_args {
	float decay;            /* 1 - lr*wd (1: no weight decay) */
	float mom, damp;        /* beta1, 1 - beta1 */
	float sqr_mom, sqr_damp;/* beta2, 1 - beta2 */
	float debias2;          /* 1 - beta2^step */
	float neg_step;         /* -lr / debias1 */
	float eps;
};

/* The scalars of one step.  step is the count after this step (>= 1). */
void adam_args_set(struct adam_args *a, double lr, double mom,
                   double sqr_mom, double eps, double wd, int do_wd,
                   int64_t step);

static inline KERN_HD void
adam_elem(float *p, float g, float *m, float *v, const struct adam_args *a)
{
	float x = *p * a->decay;                        /* p.mul_(1-lr*wd) */
	float mm = fmaf(g, a->damp, *m * a->mom);      /* mul_, add_(alpha) */
	float vv = fmaf(a->sqr_damp * g, g, *v * a->sqr_mom);   /* addcmul_ */
	float den = sqrtf(vv / a->debias2) + a->eps;
	*p = x + a->neg_step * mm / den;                /* addcdiv_ */
	*m = mm;
	*v = vv;
}

/* p, m, v updated in place; g read.  n elements. */
void adam_step_cpu(struct kern *k, float *p, const float *g, float *m, float *v,
                   size_t n, const struct adam_args *a);

/* ---- one step over many tensors (fastai's param groups) ----
 * The optimizer's table: each trainable tensor with its gradient and
 * moments and the row of an args table that holds its group's scalars
 * (lr, wd, moms; do_wd and the step count are the tensor's own, so rows
 * are per (group, do_wd, step) in practice).  On a GPU the table goes to
 * the device with the call; here the elements of all tensors form one
 * range split between the workers, so the result is the same as
 * adam_step_cpu tensor by tensor, bit for bit, on any thread count. */
struct adam_tensor {
	float *p;               /* parameter (n), updated */
	float *g;               /* gradient (n) */
	float *m, *v;           /* moments (n), updated */
	size_t n;
	int args;               /* row of the args table */
};

void adam_multi(struct kern *k, const struct adam_tensor *t, int nt,
                const struct adam_args *args);

#endif
