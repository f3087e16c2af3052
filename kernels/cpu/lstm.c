/* lstm.c: LSTM layer forward/backward on the CPU (reference).  The
 * per-element maths is in lstm_elem.h; GEMMs go to OpenBLAS. */
/* -O2 vectorises only loops with no epilogue; the unit loops below have
 * one.  Set for the whole file (a per-function optimize attribute would
 * stop the *_elem.h functions from being inlined). */
#pragma GCC optimize("vect-cost-model=dynamic", "no-trapping-math")

#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "dispatch.h"

struct cell_ctx {
	float *pre;
	const float *cprev, *act, *tc, *dh;
	float *c, *tcw, *h, *dc, *dpre;
	int H;
};

/* One row of H units.  Values are copied in and out so that the loop is
 * plain loads and stores for the vectoriser. */
KERN_CLONES static void
cell_fwd_units(float *restrict pi, float *restrict pf, float *restrict pg,
               float *restrict po, const float *restrict cp,
               float *restrict c, float *restrict tc, float *restrict h,
               int H)
{
	for (int j = 0; j < H; j++) {
		float i = pi[j], f = pf[j], g = pg[j], o = po[j], cj, tj, hj;
		lstm_cell_fwd_elem(&i, &f, &g, &o, cp[j], &cj, &tj, &hj);
		pi[j] = i, pf[j] = f, pg[j] = g, po[j] = o;
		c[j] = cj, tc[j] = tj, h[j] = hj;
	}
}

static void
cell_fwd_rows(void *p, long lo, long hi)
{
	struct cell_ctx *x = p;
	int H = x->H;
	for (long b = lo; b < hi; b++) {
		float *g = x->pre + b * 4 * H;
		cell_fwd_units(g, g + H, g + 2 * H, g + 3 * H, x->cprev + b * H,
		               x->c + b * H, x->tcw + b * H, x->h + b * H, H);
	}
}

void
lstm_cell_fwd(struct kern *k, float *pre, const float *cprev, float *c,
              float *tc, float *h, int B, int H)
{
	KERN_TWIN(k, lstm_cell_fwd, (k, pre, cprev, c, tc, h, B, H));
	struct cell_ctx x = { .pre = pre, .cprev = cprev, .c = c, .tcw = tc,
	                      .h = h, .H = H };
	kern_par_for(k, B, 4096 / (H > 0 ? H : 1) + 1, cell_fwd_rows, &x);
}

static void
cell_bwd_rows(void *p, long lo, long hi)
{
	struct cell_ctx *x = p;
	int H = x->H;
	for (long b = lo; b < hi; b++) {
		const float *a = x->act + b * 4 * H;
		const float *cp = x->cprev + b * H, *tc = x->tc + b * H;
		const float *dh = x->dh + b * H;
		float *dc = x->dc + b * H, *d = x->dpre + b * 4 * H;
		for (int j = 0; j < H; j++)
			dc[j] = lstm_cell_bwd_elem(a[j], a[H + j], a[2 * H + j],
			                           a[3 * H + j], cp[j], tc[j],
			                           dh[j], dc[j], d + j, d + H + j,
			                           d + 2 * H + j, d + 3 * H + j);
	}
}

void
lstm_cell_bwd(struct kern *k, const float *act, const float *cprev,
              const float *tc, const float *dh, float *dc, float *dpre, int B,
              int H)
{
	KERN_TWIN(k, lstm_cell_bwd, (k, act, cprev, tc, dh, dc, dpre, B, H));
	struct cell_ctx x = { .act = act, .cprev = cprev, .tc = tc, .dh = dh,
	                      .dc = dc, .dpre = dpre, .H = H };
	kern_par_for(k, B, 4096 / (H > 0 ? H : 1) + 1, cell_bwd_rows, &x);
}

size_t
lstm_pack_size(int H)
{
	size_t f = gemm_pack_size(H, 4 * H), b = gemm_pack_size(4 * H, H);
	return f > b ? f : b;
}

void
lstm_fwd_pk(struct kern *k, float *xg, const float *w_hh, const float *h0,
            const float *c0, float *y, float *c, float *tc, int T, int B, int H,
            float *pk)
{
	KERN_TWIN(k, lstm_fwd_pk,
	          (k, xg, w_hh, h0, c0, y, c, tc, T, B, H, pk));
	size_t BH = (size_t)B * H, BG = 4 * BH;
	int packed = pk && B >= 2 && T >= 2 && gemm_packed_ok();
	if (packed)     /* W_hh^T (H,4H) once for the T steps */
		gemm_pack_bt(k, pk, w_hh, H, H, 4 * H);
	for (int t = 0; t < T; t++) {
		const float *hp = t ? y + (t - 1) * BH : h0;
		const float *cp = t ? c + (t - 1) * BH : c0;
		float *pre = xg + t * BG;
		/* pre(B,4H) += h_{t-1}(B,H) W_hh^T; one row: a GEMV, since
		 * sgemm would repack all of W_hh for a single product */
		if (packed)
			gemm_packed(k, B, 4 * H, H, hp, H, pk, pre, 4 * H);
		else if (B == 1)
			blas_sgemv(k, 0, 4 * H, H, 1.0f, w_hh, H, hp, 1.0f, pre);
		else
			blas_sgemm(k, 0, 1, B, 4 * H, H, 1.0f, hp, H, w_hh, H,
			           1.0f, pre, 4 * H);
		lstm_cell_fwd(k, pre, cp, c + t * BH, tc + t * BH, y + t * BH, B, H);
	}
}

void
lstm_fwd(struct kern *k, float *xg, const float *w_hh, const float *h0,
         const float *c0, float *y, float *c, float *tc, int T, int B, int H)
{
	KERN_TWIN(k, lstm_fwd, (k, xg, w_hh, h0, c0, y, c, tc, T, B, H));
	lstm_fwd_pk(k, xg, w_hh, h0, c0, y, c, tc, T, B, H, NULL);
}

void
lstm_bwd_pk(struct kern *k, const float *act, const float *w_hh,
            const float *c0, const float *c, const float *tc, float *dy,
            float *dpre, float *dc, int T, int B, int H, float *pk)
{
	KERN_TWIN(k, lstm_bwd_pk,
	          (k, act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H, pk));
	size_t BH = (size_t)B * H, BG = 4 * BH;
	int packed = pk && B >= 2 && T >= 3 && gemm_packed_ok();
	if (packed)     /* W_hh (4H,H) as it is stored */
		gemm_pack_b(k, pk, w_hh, H, 4 * H, H);
	memset(dc, 0, BH * sizeof *dc);
	for (int t = T - 1; t >= 0; t--) {
		float *dh = dy + t * BH;
		/* dh(B,H) += dpre_{t+1}(B,4H) W_hh: the recurrent path */
		if (t < T - 1 && packed)
			gemm_packed(k, B, H, 4 * H, dpre + (t + 1) * BG, 4 * H, pk,
			            dh, H);
		else if (t < T - 1 && B == 1)
			blas_sgemv(k, 1, H, 4 * H, 1.0f, w_hh, H,
			           dpre + (t + 1) * BG, 1.0f, dh);
		else if (t < T - 1)
			blas_sgemm(k, 0, 0, B, H, 4 * H, 1.0f, dpre + (t + 1) * BG,
			           4 * H, w_hh, H, 1.0f, dh, H);
		const float *cp = t ? c + (t - 1) * BH : c0;
		lstm_cell_bwd(k, act + t * BG, cp, tc + t * BH, dh, dc,
		              dpre + t * BG, B, H);
	}
}

void
lstm_bwd(struct kern *k, const float *act, const float *w_hh, const float *c0,
         const float *c, const float *tc, float *dy, float *dpre, float *dc,
         int T, int B, int H)
{
	KERN_TWIN(k, lstm_bwd,
	          (k, act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H));
	lstm_bwd_pk(k, act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H, NULL);
}
