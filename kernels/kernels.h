/* kernels.h: the one header of compute operations.
 *
 * Every maths routine the models use is declared behind this header.
 * kernels/cpu/ is the reference implementation (plain C loops, cblas_sgemm
 * through OpenBLAS, -O2, no fast-math) and is what the tests check;
 * kernels/cuda/ will hold twins with the same signatures.  Per-element
 * maths lives once in *_elem.h headers as static inline functions marked
 * KERN_HD, so nvcc compiles exactly the maths the CPU tests checked.
 *
 * Each area has its own header, included here, owned by one part of the
 * code: lstm/embedding/dropout/loss/adam (language model) and the
 * classifier head (pooling, batch norm, linear). */
#ifndef KERNELS_H
#define KERNELS_H

#include "hd.h"

/* the context and memory of a backend, passed to every operation */
#include "ctx.h"
/* general element operations (bias, column sums, axpy, transposes,
 * reductions) */
#include "ops.h"

/* language model compute (lstm/embedding/dropout/loss engineer) */
#include "blas.h"
#include "gemm.h"
#include "lstm.h"
#include "embed.h"
#include "dropout.h"
#include "loss.h"
#include "adam.h"

/* classifier head (clastrain engineer) */
#include "head.h"
#include "seq.h"

/* GPT-2 inference (infer --gpt2) */
#include "gpt2.h"

#endif
