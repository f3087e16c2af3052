/* lstm_elem.h: per-element LSTM maths (PyTorch convention, gate order
 * i, f, g, o).  Compiled by both cc and nvcc (KERN_HD). */
#ifndef KERN_LSTM_ELEM_H
#define KERN_LSTM_ELEM_H

#include <math.h>
#include "kernels.h"

/* exp(x) for x <= 0, written with arithmetic and selects only (no libm
 * call, no branch) so that the CPU loops vectorise: Cephes' expf, about
 * 1 ulp.  x = n ln2 + r, |r| <= ln2/2, n rounded with the 1.5*2^23 trick,
 * r in two parts (the first exact), a degree-6 polynomial for e^r, then
 * 2^n built in the exponent bits.  Below -87.33 (where expf is < 2^-126,
 * subnormal) it returns 0. */
static inline KERN_HD float
expf_neg_elem(float x)
{
	union { float f; unsigned u; } t, s;   /* unsigned: NaN in, no UB */
	float xc = x < -87.33f ? -87.33f : x;
	t.f = xc * 1.44269504088896341f + 12582912.0f;
	float n = t.f - 12582912.0f;
	unsigned ni = t.u - 0x4b400000u;
	float r = xc - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * (r * r) + r + 1.0f;
	s.u = (ni + 127u) << 23;
	y = y * s.f;
	return x < -87.33f ? 0.0f : y;
}

static inline KERN_HD float
sigmoidf_elem(float x)
{
	/* never exp of a positive number: stable at both ends */
	float e = expf_neg_elem(x < 0.0f ? x : -x);
	float pos = 1.0f / (1.0f + e), neg = e / (1.0f + e);
	return x >= 0.0f ? pos : neg;   /* both computed: a select */
}

/* tanh as Cephes' tanhf, branch-free like expf_neg_elem: an odd
 * polynomial below 0.625 (no cancellation near 0), (1 - e)/(1 + e) with
 * e = exp(-2|x|) above; a few ulp. */
static inline KERN_HD float
tanhf_elem(float x)
{
	float a = x < 0.0f ? -x : x;
	float z = x * x;
	float p = -5.70498872745e-3f;
	p = p * z + 2.06390887954e-2f;
	p = p * z - 5.37397155531e-2f;
	p = p * z + 1.33314422036e-1f;
	p = p * z - 3.33332819422e-1f;
	float small = p * z * x + x;
	float e = expf_neg_elem(-2.0f * a);
	float big = (1.0f - e) / (1.0f + e);
	big = x < 0.0f ? -big : big;
	return a < 0.625f ? small : big;
}

/* One unit: pre-activations in, activations, c and h out.
 * c' = f c + i g,  h' = o tanh(c'). */
static inline KERN_HD void
lstm_cell_fwd_elem(float *pi, float *pf, float *pg, float *po, float cprev,
                   float *c, float *tc, float *h)
{
	float i = sigmoidf_elem(*pi), f = sigmoidf_elem(*pf);
	float g = tanhf_elem(*pg), o = sigmoidf_elem(*po);
	*pi = i, *pf = f, *pg = g, *po = o;
	*c = f * cprev + i * g;
	*tc = tanhf_elem(*c);
	*h = o * *tc;
}

/* Backward of one unit given the activations (i f g o), c_{t-1}, tanh(c_t),
 * dh (total gradient reaching h_t) and dc (reaching c_t from t+1).
 * Writes the pre-activation gradients and returns dc_{t-1}. */
static inline KERN_HD float
lstm_cell_bwd_elem(float i, float f, float g, float o, float cprev, float tc,
                   float dh, float dc, float *di, float *df, float *dg,
                   float *dout)
{
	float dct = dc + dh * o * (1.0f - tc * tc);
	*dout = dh * tc * o * (1.0f - o);
	*di = dct * g * i * (1.0f - i);
	*df = dct * cprev * f * (1.0f - f);
	*dg = dct * i * (1.0f - g * g);
	return dct * f;
}

#endif
