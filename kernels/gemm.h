/* gemm.h: C(M,N) += A(M,K) B(K,N) with B packed once and reused.
 *
 * The LSTM recurrence multiplies the same W_hh by a new (B,H) block at
 * every time step; sgemm repacks all of W_hh (4H x H: 21 MB at H = 1152)
 * at each call.  Here the caller packs B once per batch (after weight
 * drop) and every step runs an AVX-512 micro-kernel straight on the
 * packed panels: 8 rows x 32 columns of C in 16 zmm accumulators, K in
 * blocks of GEMM_KC so a panel block stays in L1/L2.
 *
 * Packed layout: panels of GEMM_NR columns (the last zero-padded), each
 * K rows of GEMM_NR floats, panel after panel.  Columns are split between
 * threads by whole panels and each element's sum runs over k in order, so
 * the result does not depend on the thread count.
 *
 * gemm_packed_ok() is 0 on a CPU without AVX-512 (or with
 * ULMFIT_NO_PACKED_GEMM set): callers then use blas_sgemm.
 *
 * Under k->bf16 (and gemm_bf16_ok()) gemm_pack_* round W to bfloat16
 * into gemm_bf16's panel layout (half the bytes, so it fits in
 * gemm_pack_size floats) and gemm_packed rounds A likewise and runs
 * gemm_bf16's micro-kernel: the result is gemm_bf16's, bit for bit, with
 * W_hh rounded and packed once per batch instead of at every step.  Pack
 * and product must see the same k->bf16. */
#ifndef KERN_GEMM_H
#define KERN_GEMM_H

#include <stddef.h>
#include "ctx.h"

#define GEMM_NR 32
#define GEMM_MR 8
#define GEMM_KC 256

int gemm_packed_ok(void);

/* floats gemm_pack_* writes for a (K,N) right-hand side */
size_t gemm_pack_size(int K, int N);

/* B = W^T with W stored (N,K) row-major (ldw >= K): the LSTM forward's
 * h W_hh^T with W_hh (4H,H). */
void gemm_pack_bt(struct kern *k, float *pk, const float *W, int ldw, int K,
                  int N);
/* B = W stored (K,N) row-major (ldw >= N): the backward's dpre W_hh. */
void gemm_pack_b(struct kern *k, float *pk, const float *W, int ldw, int K,
                 int N);

/* C(M,N) += A(M,K) B, A row-major (lda), C row-major (ldc), B packed by
 * gemm_pack_* with the same K and N.  Threads: kern_par_for. */
void gemm_packed(struct kern *k, int M, int N, int K, const float *A, int lda,
                 const float *pk, float *C, int ldc);

/* bf16 GEMM: C(M,N) = alpha op(A) op(B) + beta C (ta/tb as blas_sgemm)
 * with A and B rounded to bfloat16 (nearest even) as they are packed and
 * products summed in fp32 by vdpbf16ps (pairs of k per 32-bit lane), or
 * by AMX tiles (tdpbf16ps, 16 x 16 x 16 pairs an instruction) for blocks
 * of 16 and 32 rows where the CPU has them (Intel's Sapphire Rapids and
 * later; not AMD's).  Packing buffers grow as needed and are kept (call
 * from one thread).
 * gemm_bf16_ok(): the CPU has AVX512-BF16 (and ULMFIT_NO_BF16 is unset).
 * gemm_bf16_amx(on): whether the AMX tiles are used; on 0 or 1 switches
 * them off or (where usable) back on, -1 only asks.  ULMFIT_NO_AMX set
 * keeps them off.  Switch only between products, never between a
 * gemm_pack_* and its gemm_packed (AMX pads the pairs of k to 16). */
int gemm_bf16_ok(void);
int gemm_bf16_amx(int on);
void gemm_bf16(struct kern *k, int ta, int tb, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb, float beta,
               float *C, int ldc);
/* float -> bfloat16 bits, round to nearest even (NaN stays NaN) */
unsigned short gemm_f2bf(float f);

#endif
