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

/* Every tensor of the table at once: blockIdx.y picks the tensor, the x
 * blocks stride over its elements.  The tables go to the device with the
 * call (stream-ordered temporaries). */
__global__ void
multi_k(const struct adam_tensor *t, const struct adam_args *args)
{
	const struct adam_tensor *x = &t[blockIdx.y];
	const struct adam_args a = args[x->args];
	FOR_N(i, x->n)
		adam_elem(&x->p[i], x->g[i], &x->m[i], &x->v[i], &a);
}

extern "C" void
cuda_adam_multi(struct kern *k, const struct adam_tensor *t, int nt,
                const struct adam_args *args)
{
	size_t most = 0;
	int na = 0;
	for (int i = 0; i < nt; i++) {
		most = t[i].n > most ? t[i].n : most;
		na = t[i].args + 1 > na ? t[i].args + 1 : na;
	}
	if (nt <= 0 || !most)
		return;
	struct adam_tensor *dt = (struct adam_tensor *)tmp_alloc(
		k, nt * sizeof *dt);
	struct adam_args *da = (struct adam_args *)tmp_alloc(k, na * sizeof *da);
	cuda_kern_upload(k, dt, t, nt * sizeof *dt);
	cuda_kern_upload(k, da, args, na * sizeof *da);
	for (int i0 = 0; i0 < nt; i0 += 65535) {    /* gridDim.y's limit */
		int m = nt - i0 < 65535 ? nt - i0 : 65535;
		unsigned bx = nblk((long)most);
		bx = bx > 1024 ? 1024 : bx;
		multi_k<<<dim3(bx, m), NT, 0, kstream(k)>>>(dt + i0, da);
		CKL();
	}
	tmp_free(k, dt);
	tmp_free(k, da);
}
