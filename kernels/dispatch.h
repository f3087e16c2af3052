/* dispatch.h: the table of a backend's operations, and the line each CPU
 * kernel begins with.
 *
 * KERN_OPS lists every operation of kernels.h with its parameters after
 * the context (X(return type, name, (parameters), (arguments))); KERN_MEM
 * lists ctx.h's memory calls.  struct kern_ops holds one pointer per name,
 * typed __typeof__(name) * from the CPU declaration, so a backend's table
 * { .name = cuda_name, ... } is checked by the compiler against the CPU
 * signature.  A context whose ops is NULL (the CPU backend) runs the CPU
 * code; otherwise each CPU kernel's first line, KERN_TWIN, hands the call
 * to k->ops (one predictable branch per call).  tests/cuda.t checks that
 * every kernel is listed and every CPU kernel has its KERN_TWIN line. */
#ifndef KERN_DISPATCH_H
#define KERN_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

struct rng;

#define KERN_MEM(X) \
	X(kern_fini) X(kern_alloc) X(kern_free) X(kern_scratch) \
	X(kern_upload) X(kern_download) X(kern_copy) X(kern_fill) \
	X(kern_zero) X(kern_sync) \
	X(kern_coll_id) X(kern_coll_init) X(kern_coll_sum) X(kern_coll_fini)

#define KERN_OPS(X) \
	X(void, ops_bias_rows, (float *y, const float *b1, const float *b2, long rows, int cols), (y, b1, b2, rows, cols)) \
	X(void, ops_colsum_acc, (float *acc, const float *x, long rows, int cols), (acc, x, rows, cols)) \
	X(void, ops_axpy, (float *y, float a, const float *x, size_t n), (y, a, x, n)) \
	X(void, ops_scale, (float *x, float a, size_t n), (x, a, n)) \
	X(void, ops_tbe_to_bte, (float *dst, const float *src, int T, int B, int E), (dst, src, T, B, E)) \
	X(void, ops_bte_to_tbe, (float *dst, const float *src, int B, int T, int E), (dst, src, B, T, E)) \
	X(void, ops_copy_rows, (float *dst, long ldd, const float *src, long lds, long rows, int w), (dst, ldd, src, lds, rows, w)) \
	X(double, ops_sum_f64, (const double *x, long n), (x, n)) \
	X(double, ops_sumsq, (const float *x, size_t n), (x, n)) \
	X(long, ops_count_nz, (const int *x, long n), (x, n)) \
	X(void, blas_sgemm, (int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc), (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) \
	X(void, blas_sgemv, (int ta, int M, int N, float alpha, const float *A, int lda, const float *x, float beta, float *y), (ta, M, N, alpha, A, lda, x, beta, y)) \
	X(void, gemm_pack_bt, (float *pk, const float *W, int ldw, int K, int N), (pk, W, ldw, K, N)) \
	X(void, gemm_pack_b, (float *pk, const float *W, int ldw, int K, int N), (pk, W, ldw, K, N)) \
	X(void, gemm_packed, (int M, int N, int K, const float *A, int lda, const float *pk, float *C, int ldc), (M, N, K, A, lda, pk, C, ldc)) \
	X(void, gemm_bf16, (int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc), (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) \
	X(void, lstm_cell_fwd, (float *pre, const float *cprev, float *c, float *tc, float *h, int B, int H), (pre, cprev, c, tc, h, B, H)) \
	X(void, lstm_cell_bwd, (const float *act, const float *cprev, const float *tc, const float *dh, float *dc, float *dpre, int B, int H), (act, cprev, tc, dh, dc, dpre, B, H)) \
	X(void, lstm_fwd, (float *xg, const float *w_hh, const float *h0, const float *c0, float *y, float *c, float *tc, int T, int B, int H), (xg, w_hh, h0, c0, y, c, tc, T, B, H)) \
	X(void, lstm_bwd, (const float *act, const float *w_hh, const float *c0, const float *c, const float *tc, float *dy, float *dpre, float *dc, int T, int B, int H), (act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H)) \
	X(void, lstm_fwd_pk, (float *xg, const float *w_hh, const float *h0, const float *c0, float *y, float *c, float *tc, int T, int B, int H, float *pk), (xg, w_hh, h0, c0, y, c, tc, T, B, H, pk)) \
	X(void, lstm_bwd_pk, (const float *act, const float *w_hh, const float *c0, const float *c, const float *tc, float *dy, float *dpre, float *dc, int T, int B, int H, float *pk), (act, w_hh, c0, c, tc, dy, dpre, dc, T, B, H, pk)) \
	X(void, embed_fwd, (const float *w, const float *scale, const uint32_t *tok, float *out, int B, int T, int E), (w, scale, tok, out, B, T, E)) \
	X(void, embed_bwd, (float *dw, const float *scale, const uint32_t *tok, const float *dout, int B, int T, int E, int pad), (dw, scale, tok, dout, B, T, E, pad)) \
	X(void, dropout_mask_key, (float *mask, size_t n, float p, uint64_t key, uint32_t id), (mask, n, p, key, id)) \
	X(void, dropout_mask_rows, (float *mask, int rows, long N, float p, uint64_t key, uint32_t id, long row0, long step), (mask, rows, N, p, key, id, row0, step)) \
	X(void, dropout_apply_rows, (float *x, const float *mask, int T, long N), (x, mask, T, N)) \
	X(void, dropout_apply_bt, (float *y, const float *x, const float *mask, int B, int T, int F), (y, x, mask, B, T, F)) \
	X(void, dropout_apply, (float *y, const float *x, const float *mask, size_t n), (y, x, mask, n)) \
	X(void, dropout_acc_mul, (float *acc, const float *d, const float *mask, size_t n), (acc, d, mask, n)) \
	X(void, ce_fwd_bwd, (float *logits, const uint32_t *y, double *loss, int *hit, int N, int V, float gscale), (logits, y, loss, hit, N, V, gscale)) \
	X(double, ar_fwd_bwd, (const float *x, float *dx, long n, float alpha), (x, dx, n, alpha)) \
	X(double, tar_fwd_bwd, (const float *x, float *dx, int B, int T, int E, float beta), (x, dx, B, T, E, beta)) \
	X(void, adam_step_cpu, (float *p, const float *g, float *m, float *v, size_t n, const struct adam_args *a), (p, g, m, v, n, a)) \
	X(void, adam_multi, (const struct adam_tensor *t, int nt, const struct adam_args *args), (t, nt, args)) \
	X(void, pool_concat_fwd, (float *y, int32_t *argmax, int32_t *last, const float *out, const uint8_t *mask, int B, int T, int D, int bptt), (y, argmax, last, out, mask, B, T, D, bptt)) \
	X(void, pool_concat_bwd, (float *dout, const float *dy, const int32_t *argmax, const int32_t *last, const uint8_t *mask, int B, int T, int D), (dout, dy, argmax, last, mask, B, T, D)) \
	X(void, bn_train_fwd, (float *y, float *xhat, float *mean, float *rstd, const float *x, const float *w, const float *b, float *run_mean, float *run_var, int B, int C, float momentum, float eps), (y, xhat, mean, rstd, x, w, b, run_mean, run_var, B, C, momentum, eps)) \
	X(void, bn_train_bwd, (float *dx, float *dw, float *db, const float *dy, const float *xhat, const float *rstd, const float *w, int B, int C), (dx, dw, db, dy, xhat, rstd, w, B, C)) \
	X(void, bn_sums, (double *s, const float *x, const double *shift, int B, int C), (s, x, shift, B, C)) \
	X(void, bn_fwd_apply, (float *y, float *xhat, float *mean, float *rstd, const float *x, const float *w, const float *b, float *run_mean, float *run_var, const double *mu, const double *m2, long n, int B, int C, float momentum, float eps), (y, xhat, mean, rstd, x, w, b, run_mean, run_var, mu, m2, n, B, C, momentum, eps)) \
	X(void, bn_bwd_sums, (double *s, const float *dy, const float *xhat, int B, int C), (s, dy, xhat, B, C)) \
	X(void, bn_bwd_apply, (float *dx, float *dw, float *db, const float *dy, const float *xhat, const float *rstd, const float *w, const double *s, const double *gs, long n, int B, int C), (dx, dw, db, dy, xhat, rstd, w, s, gs, n, B, C)) \
	X(void, bn_eval_fwd, (float *y, float *xhat, float *rstd, const float *x, const float *w, const float *b, const float *run_mean, const float *run_var, int B, int C, float eps), (y, xhat, rstd, x, w, b, run_mean, run_var, B, C, eps)) \
	X(void, bn_eval_bwd, (float *dx, float *dw, float *db, const float *dy, const float *xhat, const float *rstd, const float *w, int B, int C), (dx, dw, db, dy, xhat, rstd, w, B, C)) \
	X(void, linnb_fwd, (float *y, const float *x, const float *w, int B, int nin, int nout), (y, x, w, B, nin, nout)) \
	X(void, linnb_bwd, (float *dx, float *dw, const float *dy, const float *x, const float *w, int B, int nin, int nout), (dx, dw, dy, x, w, B, nin, nout)) \
	X(void, relu_fwd, (float *y, const float *x, long n), (y, x, n)) \
	X(void, relu_bwd, (float *dx, const float *dy, const float *y, long n), (dx, dy, y, n)) \
	X(void, seq_chunk_gather, (float *dst, const float *src, int rows, int T, int col, int len, int w), (dst, src, rows, T, col, len, w)) \
	X(void, seq_chunk_scatter, (float *dst, const float *src, int B, int rows, int T, int col, int len, int w), (dst, src, B, rows, T, col, len, w)) \
	X(void, seq_pad_mask, (uint8_t *mask, const uint32_t *start, const uint32_t *len, int B, int T, int first), (mask, start, len, B, T, first)) \
	X(void, seq_softmax, (float *p, const float *z, int rows, int n), (p, z, rows, n)) \
	X(void, gpt2_layernorm, (float *y, const float *x, const float *w, const float *b, int T, int C, float eps), (y, x, w, b, T, C, eps)) \
	X(void, gpt2_embed, (float *x, const float *wte, const float *wpe, const uint32_t *ids, int T, int P, int C), (x, wte, wpe, ids, T, P, C)) \
	X(void, gpt2_gelu, (float *x, long n), (x, n)) \
	X(void, gpt2_add, (float *x, const float *y, long n), (x, y, n)) \
	X(void, gpt2_attention, (float *out, const float *q, int ldq, const float *kc, const float *vc, int T, int P, int C, int NH), (out, q, ldq, kc, vc, T, P, C, NH)) \
	X(void, gpt2_softmax, (double *p, const float *x, int n, double temp), (p, x, n, temp)) \
	/* end of KERN_OPS */

struct kern_ops {
#define KERN_MEMBER_(n) __typeof__(n) *n;
#define KERN_MEMBER(r, n, p, a) __typeof__(n) *n;
	KERN_MEM(KERN_MEMBER_)
	KERN_OPS(KERN_MEMBER)
#undef KERN_MEMBER_
#undef KERN_MEMBER
};

/* The first line of every CPU kernel: KERN_TWIN for one that returns
 * nothing, KERN_TWIN_RET for one that returns a value. */
#define KERN_TWIN(k, name, args) \
	do { \
		if (__builtin_expect((k)->ops != NULL, 0)) { \
			(k)->ops->name args; \
			return; \
		} \
	} while (0)
#define KERN_TWIN_RET(k, name, args) \
	do { \
		if (__builtin_expect((k)->ops != NULL, 0)) \
			return (k)->ops->name args; \
	} while (0)

/* The check backend's table (kernels/cpu/check.c). */
extern const struct kern_ops kern_check_ops;

#endif
