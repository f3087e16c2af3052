/* lstm_elem.h: per-element LSTM maths (PyTorch convention, gate order
 * i, f, g, o).  Compiled by both cc and nvcc (KERN_HD). */
#ifndef KERN_LSTM_ELEM_H
#define KERN_LSTM_ELEM_H

#include <math.h>
#include "kernels.h"

static inline KERN_HD float
sigmoidf_elem(float x)
{
	/* never exp of a large positive number: stable at both ends */
	if (x >= 0.0f)
		return 1.0f / (1.0f + expf(-x));
	float e = expf(x);
	return e / (1.0f + e);
}

/* One unit: pre-activations in, activations, c and h out.
 * c' = f c + i g,  h' = o tanh(c'). */
static inline KERN_HD void
lstm_cell_fwd_elem(float *pi, float *pf, float *pg, float *po, float cprev,
                   float *c, float *tc, float *h)
{
	float i = sigmoidf_elem(*pi), f = sigmoidf_elem(*pf);
	float g = tanhf(*pg), o = sigmoidf_elem(*po);
	*pi = i, *pf = f, *pg = g, *po = o;
	*c = f * cprev + i * g;
	*tc = tanhf(*c);
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
