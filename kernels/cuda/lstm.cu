/* lstm.cu: the LSTM layer (lstm.h) on the device.  The cell is
 * lstm_elem.h's maths, one thread per (row, unit); the recurrence is one
 * cuBLAS GEMM per step.  The _pk forms take the CPU's packing scratch and
 * do not need it: cuBLAS reads W_hh in place. */
#include "common.cuh"

__global__ void
cell_fwd_k(float *pre, const float *cprev, float *c, float *tc, float *h,
           int B, int H)
{
	FOR_N(i, (long)B * H) {
		long b = i / H, j = i % H;
		float *g = pre + b * 4 * H;
		float gi = g[j], gf = g[H + j], gg = g[2 * H + j],
		      go = g[3 * H + j];
		lstm_cell_fwd_elem(&gi, &gf, &gg, &go, cprev[i], &c[i], &tc[i],
		                   &h[i]);
		g[j] = gi, g[H + j] = gf, g[2 * H + j] = gg, g[3 * H + j] = go;
	}
}

__global__ void
cell_bwd_k(const float *act, const float *cprev, const float *tc,
           const float *dh, float *dc, float *dpre, int B, int H)
{
	FOR_N(i, (long)B * H) {
		long b = i / H, j = i % H;
		const float *a = act + b * 4 * H;
		float *d = dpre + b * 4 * H;
		dc[i] = lstm_cell_bwd_elem(a[j], a[H + j], a[2 * H + j],
		                           a[3 * H + j], cprev[i], tc[i], dh[i],
		                           dc[i], d + j, d + H + j, d + 2 * H + j,
		                           d + 3 * H + j);
	}
}

extern "C" void
cuda_lstm_cell_fwd(struct kern *k, float *pre, const float *cprev, float *c,
                   float *tc, float *h, int B, int H)
{
	if ((long)B * H <= 0)
		return;
	cell_fwd_k<<<nblk((long)B * H), NT, 0, kstream(k)>>>(pre, cprev, c, tc,
	                                                      h, B, H);
	CKL();
}

extern "C" void
cuda_lstm_cell_bwd(struct kern *k, const float *act, const float *cprev,
                   const float *tc, const float *dh, float *dc, float *dpre,
                   int B, int H)
{
	if ((long)B * H <= 0)
		return;
	cell_bwd_k<<<nblk((long)B * H), NT, 0, kstream(k)>>>(act, cprev, tc, dh,
	                                                      dc, dpre, B, H);
	CKL();
}

extern "C" void
cuda_lstm_fwd_pk(struct kern *k, float *xg, const float *w_hh,
                 const float *h0, const float *c0, float *y, float *c,
                 float *tc, int T, int B, int H, float *pk)
{
	(void)pk;
	size_t BH = (size_t)B * H, BG = 4 * BH;
	for (int t = 0; t < T; t++) {
		const float *hp = t ? y + (t - 1) * BH : h0;
		const float *cp = t ? c + (t - 1) * BH : c0;
		float *pre = xg + t * BG;
		/* pre(B,4H) += h_{t-1}(B,H) W_hh^T */
		cuda_blas_sgemm(k, 0, 1, B, 4 * H, H, 1.0f, hp, H, w_hh, H, 1.0f,
		                pre, 4 * H);
		cuda_lstm_cell_fwd(k, pre, cp, c + t * BH, tc + t * BH,
		                   y + t * BH, B, H);
	}
}

extern "C" void
cuda_lstm_fwd(struct kern *k, float *xg, const float *w_hh, const float *h0,
              const float *c0, float *y, float *c, float *tc, int T, int B,
              int H)
{
	cuda_lstm_fwd_pk(k, xg, w_hh, h0, c0, y, c, tc, T, B, H, NULL);
}

extern "C" void
cuda_lstm_bwd_pk(struct kern *k, const float *act, const float *w_hh,
                 const float *c0, const float *c, const float *tc, float *dy,
                 float *dpre, float *dc, int T, int B, int H, float *pk)
{
	(void)pk;
	size_t BH = (size_t)B * H, BG = 4 * BH;
	cuda_kern_zero(k, dc, BH * sizeof *dc);
	for (int t = T - 1; t >= 0; t--) {
		float *dh = dy + t * BH;
		/* dh(B,H) += dpre_{t+1}(B,4H) W_hh: the recurrent path */
		if (t < T - 1)
			cuda_blas_sgemm(k, 0, 0, B, H, 4 * H, 1.0f,
			                dpre + (t + 1) * BG, 4 * H, w_hh, H, 1.0f,
			                dh, H);
		const float *cp = t ? c + (t - 1) * BH : c0;
		cuda_lstm_cell_bwd(k, act + t * BG, cp, tc + t * BH, dh, dc,
		                   dpre + t * BG, B, H);
	}
}

extern "C" void
cuda_lstm_bwd(struct kern *k, const float *act, const float *w_hh,
              const float *c0, const float *c, const float *tc, float *dy,
              float *dpre, float *dc, int T, int B, int H)
{
	cuda_lstm_bwd_pk(k, act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H, NULL);
}
