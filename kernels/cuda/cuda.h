/* cuda.h: the CUDA twins of the kernels behind kernels.h.
 *
 * Every operation <name>(struct kern *k, ...) declared in a kernels header has
 * a twin cuda_<name> here with the same parameters (tests/cuda.t checks
 * that, and that libkern_cuda.a defines each one).  Pointers are device
 * memory of k (cuda_kern_alloc); sizes, scalars and tables (adam_multi's)
 * are host values.  Work is issued on k's stream and GEMMs go through
 * cuBLAS on k's handle; functions that return a value (reductions, the
 * losses) wait for it.  Per-element maths is the headers' KERN_HD
 * functions (lstm_elem.h, head.h, adam.h, philox.h, gpt2.h), built with
 * -fmad=false so that nvcc does not fuse what the CPU build does not.
 *
 * Two operations have no twin of the same form:
 *   kern_init    the backend is the twin itself: cuda_kern_init(k, threads)
 *   kern_par_for runs a host callback on the CPU's worker threads; device
 *                code has no use for it.
 * Host-side code (C) includes this header; the .cu files implement it. */
#ifndef KERN_CUDA_H
#define KERN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rng;

/* Start k on a CUDA device (device 0; under mpirun the node-local rank
 * modulo the devices): a stream, a cuBLAS handle on it.
 * threads is kept in k->threads (host work).  Returns 0, or -1 when no
 * device or driver is usable; cuda_kern_why() then says why ("no CUDA
 * device", the driver's message) and nothing is allocated.  After a
 * start it names the device (name, sm_XY, memory). */
int cuda_kern_init(struct kern *k, int threads);
const char *cuda_kern_why(void);

/* ---- ctx.h ---- */
void cuda_kern_fini(struct kern *k);
void *cuda_kern_alloc(struct kern *k, size_t bytes);
void cuda_kern_free(struct kern *k, void *p);
void *cuda_kern_scratch(struct kern *k, size_t bytes);
void cuda_kern_upload(struct kern *k, void *dev, const void *host,
                      size_t bytes);
void cuda_kern_download(struct kern *k, void *host, const void *dev,
                        size_t bytes);
void cuda_kern_copy(struct kern *k, void *dst, const void *src, size_t bytes);
void cuda_kern_fill(struct kern *k, float *x, size_t n, float v);
void cuda_kern_zero(struct kern *k, void *p, size_t bytes);
void cuda_kern_sync(struct kern *k);
/* coll.cu: NCCL (ctx.h's kern_coll_*); without NCCL in the build
 * (ULMFIT_NCCL unset) they answer "not available" as the CPU's do */
int cuda_kern_coll_id(struct kern *k, void *id, size_t bytes);
int cuda_kern_coll_init(struct kern *k, const void *id, int rank, int size);
void cuda_kern_coll_sum(struct kern *k, float *const *x, const size_t *n,
                        int count);
void cuda_kern_coll_fini(struct kern *k);
/* ---- ops.h ---- */
void cuda_ops_bias_rows(struct kern *k, float *y, const float *b1,
                        const float *b2, long rows, int cols);
void cuda_ops_colsum_acc(struct kern *k, float *acc, const float *x, long rows,
                         int cols);
void cuda_ops_axpy(struct kern *k, float *y, float a, const float *x,
                   size_t n);
void cuda_ops_scale(struct kern *k, float *x, float a, size_t n);
void cuda_ops_tbe_to_bte(struct kern *k, float *dst, const float *src, int T,
                         int B, int E);
void cuda_ops_bte_to_tbe(struct kern *k, float *dst, const float *src, int B,
                         int T, int E);
void cuda_ops_copy_rows(struct kern *k, float *dst, long ldd, const float *src,
                        long lds, long rows, int w);
double cuda_ops_sum_f64(struct kern *k, const double *x, long n);
double cuda_ops_sumsq(struct kern *k, const float *x, size_t n);
long cuda_ops_count_nz(struct kern *k, const int *x, long n);
/* ---- blas.h ---- */
void cuda_blas_sgemm(struct kern *k, int ta, int tb, int M, int N, int K,
                     float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc);
void cuda_blas_sgemv(struct kern *k, int ta, int M, int N, float alpha,
                     const float *A, int lda, const float *x, float beta,
                     float *y);
/* ---- gemm.h ---- */
void cuda_gemm_pack_bt(struct kern *k, float *pk, const float *W, int ldw,
                       int K, int N);
void cuda_gemm_pack_b(struct kern *k, float *pk, const float *W, int ldw,
                      int K, int N);
void cuda_gemm_packed(struct kern *k, int M, int N, int K, const float *A,
                      int lda, const float *pk, float *C, int ldc);
void cuda_gemm_bf16(struct kern *k, int ta, int tb, int M, int N, int K,
                    float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);
/* ---- lstm.h ---- */
void cuda_lstm_cell_fwd(struct kern *k, float *pre, const float *cprev,
                        float *c, float *tc, float *h, int B, int H);
void cuda_lstm_cell_bwd(struct kern *k, const float *act, const float *cprev,
                        const float *tc, const float *dh, float *dc,
                        float *dpre, int B, int H);
void cuda_lstm_fwd(struct kern *k, float *xg, const float *w_hh,
                   const float *h0, const float *c0, float *y, float *c,
                   float *tc, int T, int B, int H);
void cuda_lstm_bwd(struct kern *k, const float *act, const float *w_hh,
                   const float *c0, const float *c, const float *tc, float *dy,
                   float *dpre, float *dc, int T, int B, int H);
void cuda_lstm_fwd_pk(struct kern *k, float *xg, const float *w_hh,
                      const float *h0, const float *c0, float *y, float *c,
                      float *tc, int T, int B, int H, float *pk);
void cuda_lstm_bwd_pk(struct kern *k, const float *act, const float *w_hh,
                      const float *c0, const float *c, const float *tc,
                      float *dy, float *dpre, float *dc, int T, int B, int H,
                      float *pk);
/* ---- embed.h ---- */
void cuda_embed_fwd(struct kern *k, const float *w, const float *scale,
                    const uint32_t *tok, float *out, int B, int T, int E);
void cuda_embed_bwd(struct kern *k, float *dw, const float *scale,
                    const uint32_t *tok, const float *dout, int B, int T,
                    int E, int pad);
/* ---- dropout.h ---- */
void cuda_dropout_mask_key(struct kern *k, float *mask, size_t n, float p,
                           uint64_t key, uint32_t id);
void cuda_dropout_mask_rows(struct kern *k, float *mask, int rows, long N,
                            float p, uint64_t key, uint32_t id, long row0,
                            long step);
void cuda_dropout_apply_rows(struct kern *k, float *x, const float *mask,
                             int T, long N);
void cuda_dropout_apply_bt(struct kern *k, float *y, const float *x,
                           const float *mask, int B, int T, int F);
void cuda_dropout_apply(struct kern *k, float *y, const float *x,
                        const float *mask, size_t n);
void cuda_dropout_acc_mul(struct kern *k, float *acc, const float *d,
                          const float *mask, size_t n);
/* ---- loss.h ---- */
void cuda_ce_fwd_bwd(struct kern *k, float *logits, const uint32_t *y,
                     double *loss, int *hit, int N, int V, float gscale);
double cuda_ar_fwd_bwd(struct kern *k, const float *x, float *dx, long n,
                       float alpha);
double cuda_tar_fwd_bwd(struct kern *k, const float *x, float *dx, int B,
                        int T, int E, float beta);
/* ---- adam.h ---- */
void cuda_adam_step_cpu(struct kern *k, float *p, const float *g, float *m,
                        float *v, size_t n, const struct adam_args *a);
void cuda_adam_multi(struct kern *k, const struct adam_tensor *t, int nt,
                     const struct adam_args *args);
/* ---- head.h ---- */
void cuda_pool_concat_fwd(struct kern *k, float *y, int32_t *argmax,
                          int32_t *last, const float *out, const uint8_t *mask,
                          int B, int T, int D, int bptt);
void cuda_pool_concat_bwd(struct kern *k, float *dout, const float *dy,
                          const int32_t *argmax, const int32_t *last,
                          const uint8_t *mask, int B, int T, int D);
void cuda_bn_train_fwd(struct kern *k, float *y, float *xhat, float *mean,
                       float *rstd, const float *x, const float *w,
                       const float *b, float *run_mean, float *run_var, int B,
                       int C, float momentum, float eps);
void cuda_bn_train_bwd(struct kern *k, float *dx, float *dw, float *db,
                       const float *dy, const float *xhat, const float *rstd,
                       const float *w, int B, int C);
void cuda_bn_sums(struct kern *k, double *s, const float *x,
                  const double *shift, int B, int C);
void cuda_bn_fwd_apply(struct kern *k, float *y, float *xhat, float *mean,
                       float *rstd, const float *x, const float *w,
                       const float *b, float *run_mean, float *run_var,
                       const double *mu, const double *m2, long n, int B,
                       int C, float momentum, float eps);
void cuda_bn_bwd_sums(struct kern *k, double *s, const float *dy,
                      const float *xhat, int B, int C);
void cuda_bn_bwd_apply(struct kern *k, float *dx, float *dw, float *db,
                       const float *dy, const float *xhat, const float *rstd,
                       const float *w, const double *s, const double *gs,
                       long n, int B, int C);
void cuda_bn_eval_fwd(struct kern *k, float *y, float *xhat, float *rstd,
                      const float *x, const float *w, const float *b,
                      const float *run_mean, const float *run_var, int B,
                      int C, float eps);
void cuda_bn_eval_bwd(struct kern *k, float *dx, float *dw, float *db,
                      const float *dy, const float *xhat, const float *rstd,
                      const float *w, int B, int C);
void cuda_linnb_fwd(struct kern *k, float *y, const float *x, const float *w,
                    int B, int nin, int nout);
void cuda_linnb_bwd(struct kern *k, float *dx, float *dw, const float *dy,
                    const float *x, const float *w, int B, int nin, int nout);
void cuda_relu_fwd(struct kern *k, float *y, const float *x, long n);
void cuda_relu_bwd(struct kern *k, float *dx, const float *dy, const float *y,
                   long n);
/* ---- seq.h ---- */
void cuda_seq_chunk_gather(struct kern *k, float *dst, const float *src,
                           int rows, int T, int col, int len, int w);
void cuda_seq_chunk_scatter(struct kern *k, float *dst, const float *src,
                            int B, int rows, int T, int col, int len, int w);
void cuda_seq_pad_mask(struct kern *k, uint8_t *mask, const uint32_t *start,
                       const uint32_t *len, int B, int T, int first);
void cuda_seq_softmax(struct kern *k, float *p, const float *z, int rows,
                      int n);
/* ---- gpt2.h ---- */
void cuda_gpt2_layernorm(struct kern *k, float *y, const float *x,
                         const float *w, const float *b, int T, int C,
                         float eps);
void cuda_gpt2_embed(struct kern *k, float *x, const float *wte,
                     const float *wpe, const uint32_t *ids, int T, int P,
                     int C);
void cuda_gpt2_gelu(struct kern *k, float *x, long n);
void cuda_gpt2_add(struct kern *k, float *x, const float *y, long n);
void cuda_gpt2_attention(struct kern *k, float *out, const float *q, int ldq,
                         const float *kc, const float *vc, int T, int P, int C,
                         int NH);
void cuda_gpt2_softmax(struct kern *k, double *p, const float *x, int n,
                       double temp);

#ifdef __cplusplus
}
#endif

#endif
