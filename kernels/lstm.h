/* lstm.h: one LSTM layer, time-major, PyTorch gate order (i, f, g, o).
 *
 * The input projection of all T steps is one GEMM done by the caller:
 *   xg(T*B,4H) = x(T*B,I) W_ih^T + b_ih + b_hh
 * lstm_fwd adds the recurrent part h_{t-1} W_hh^T one step at a time
 * (a GEMM writing straight into xg[t]) and applies the cell.  Shapes:
 * B batch rows, H hidden units, w_hh (4H,H) row-major as PyTorch stores it. */
#ifndef KERN_LSTM_H
#define KERN_LSTM_H

#include "lstm_elem.h"
#include "ctx.h"

/* One step for B rows.  pre (B,4H): pre-activations in, activations out;
 * cprev, c, tc = tanh(c), h: (B,H). */
void lstm_cell_fwd(struct kern *k, float *pre, const float *cprev, float *c,
                   float *tc, float *h, int B, int H);

/* Backward of one step.  act (B,4H) activations; dh (B,H) total gradient
 * on h_t; dc (B,H) gradient on c_t, overwritten with dc_{t-1};
 * dpre (B,4H) pre-activation gradients (written). */
void lstm_cell_bwd(struct kern *k, const float *act, const float *cprev,
                   const float *tc, const float *dh, float *dc, float *dpre,
                   int B, int H);

/* Forward over T steps.  xg (T,B,4H) as above; becomes the activations.
 * h0, c0 (B,H) state before step 0.  y, c, tc (T,B,H) written. */
void lstm_fwd(struct kern *k, float *xg, const float *w_hh, const float *h0,
              const float *c0, float *y, float *c, float *tc, int T, int B,
              int H);

/* Backward over T steps (truncated BPTT: no gradient leaves through h0,
 * c0).  dy (T,B,H) gradient on the outputs, used as scratch (destroyed).
 * dpre (T,B,4H) written: pre-activation gradients, from which the caller
 * gets dW_ih, dW_hh, the biases and dx with GEMMs.  dc (B,H) scratch. */
void lstm_bwd(struct kern *k, const float *act, const float *w_hh,
              const float *c0, const float *c, const float *tc, float *dy,
              float *dpre, float *dc, int T, int B, int H);

/* The same with W_hh packed once for all T steps (gemm.h) when pk is not
 * NULL, the CPU has the micro-kernel, B >= 2 and T >= 2; otherwise as
 * above (sgemm per step repacks W_hh every time).  pk: scratch of
 * lstm_pack_size(H) floats, 64-byte aligned. */
size_t lstm_pack_size(int H);
void lstm_fwd_pk(struct kern *k, float *xg, const float *w_hh, const float *h0,
                 const float *c0, float *y, float *c, float *tc, int T, int B,
                 int H, float *pk);
void lstm_bwd_pk(struct kern *k, const float *act, const float *w_hh,
                 const float *c0, const float *c, const float *tc, float *dy,
                 float *dpre, float *dc, int T, int B, int H, float *pk);

#endif
