/* adam.cu: fastai's Adam step (adam.h) on the device: adam_elem per
 * element (fmaf is a fused multiply-add on both sides: the CPU's bits). */
#include "common.cuh"

__global__ void
adam_k(float *p, const float *g, float *m, float *v, size_t n,
       struct adam_args a)
{
	FOR_N(i, n)
		adam_elem(&p[i], g[i], &m[i], &v[i], &a);
}

extern "C" void
cuda_adam_step_cpu(struct kern *k, float *p, const float *g, float *m,
                   float *v, size_t n, const struct adam_args *a)
{
	if (!n)
		return;
	adam_k<<<nblk((long)n), NT, 0, kstream(k)>>>(p, g, m, v, n, *a);
	CKL();
}
