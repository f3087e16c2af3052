/* ctx.h: the compute context every kernel takes first, and the memory
 * calls of a backend.
 *
 * A model holds one struct kern and passes it to every operation; all its
 * tensors (parameters, gradients, optimizer moments, activations, masks,
 * scratch) are kern_alloc'd memory of that backend.  The host touches
 * them only through kern_upload / kern_download (and reads a step's
 * scalars: loss, accuracy, norms, which kernels return).  On the CPU
 * backend device memory is host memory and the copies are memcpy; the
 * CUDA backend (kernels/cuda/, later) fills in stream and blas.
 *
 * Threads: the CPU backend runs GEMMs (OpenBLAS) and element loops
 * (kern_par_for) on `threads` workers; the pool is the process's, so the
 * last kern_init / kern_set_threads decides.  Results are bitwise the same
 * for a fixed thread count. */
#ifndef KERN_CTX_H
#define KERN_CTX_H

#include <stddef.h>

/* KERN_CHECK: the CPU kernels on memory that is PROT_NONE outside kernel
 * and copy calls, so that a host access the GPU would not allow dies
 * with SIGSEGV (kernels/cpu/check.c). */
enum kern_backend { KERN_CPU = 0, KERN_CUDA = 1, KERN_CHECK = 2 };

struct kern_ops;                /* dispatch.h */

struct kern {
	int backend;            /* enum kern_backend */
	int threads;            /* workers for GEMMs and element loops */
	int bf16;               /* GEMM precision: 0 fp32, 1 bf16 (blas.h) */
	void *stream;           /* CUDA: cudaStream_t; NULL on the CPU */
	void *blas;             /* CUDA: cublasHandle_t; NULL on the CPU */
	void *ws;               /* scratch workspace (kern_scratch) */
	size_t ws_bytes;
	const struct kern_ops *ops;     /* NULL: the CPU code (dispatch.h) */
	void *priv;             /* the backend's own state (check: blocks) */
	void *coll;             /* CUDA: ncclComm_t (kern_coll_init) */
};

/* Start a context on backend with n threads (n <= 0: every online CPU).
 * Returns 0, or -1 when the backend is not in this build or has no
 * usable device (then k is left unusable and nothing is allocated, and
 * kern_why() says why: "this build has no CUDA backend", "no CUDA
 * device", the driver's message).  KERN_CUDA loads libkern_cuda.so
 * (next to the executable: $ORIGIN/../libkern_cuda.so in the build tree,
 * $ORIGIN/../lib/ulmfit/ installed) only when asked for. */
int kern_init(struct kern *k, int backend, int threads);
void kern_fini(struct kern *k);
const char *kern_why(void);

/* The process's context: the CPU backend with kern_set_threads' count
 * (blas.h) unless kern_select chose another.  Models take it when they
 * are made.  The first call honours ULMFIT_DEVICE (cpu, check, cuda; an
 * unusable one dies with its reason). */
struct kern *kern_default(void);
/* Make kern_default() a context of backend with n threads: 0, or -1 and
 * the reason in why[0..n).  Models made before keep their context. */
int kern_select(int backend, int threads, char *why, size_t n);

/* Device memory: 64-byte aligned and zeroed (the CPU and CUDA twins
 * both give zeros).  Dies with a sentence when the memory is not
 * there.  kern_free(k, NULL) is a no-op. */
void *kern_alloc(struct kern *k, size_t bytes);
void kern_free(struct kern *k, void *p);
/* At least `bytes` of scratch, valid until the next kern_scratch call
 * (grown, never shrunk; freed by kern_fini). */
void *kern_scratch(struct kern *k, size_t bytes);

/* Copies: host to device, device to host, device to device. */
void kern_upload(struct kern *k, void *dev, const void *host, size_t bytes);
void kern_download(struct kern *k, void *host, const void *dev, size_t bytes);
void kern_copy(struct kern *k, void *dst, const void *src, size_t bytes);
/* x[0..n) = v; kern_zero: all bytes 0 */
void kern_fill(struct kern *k, float *x, size_t n, float v);
void kern_zero(struct kern *k, void *p, size_t bytes);
/* Wait until every operation issued on k has finished (CPU: nothing). */
void kern_sync(struct kern *k);

/* Collectives over processes (data parallel, learn/dist.h): the CUDA
 * backend's are NCCL's, on k's device and stream, one rank per device;
 * the CPU's (and a CUDA build without NCCL) are not available, and the
 * caller sums through the host (MPI).
 *   kern_coll_id(k, NULL, 0): 0 if k has collectives, else -1.
 *   kern_coll_id(k, id, bytes): a new communicator id into id (bytes at
 *     least KERN_COLL_ID_BYTES), made by one process, sent to the others
 *     by the caller.
 *   kern_coll_init: join the communicator of id as rank of size (every
 *     rank calls it: it waits for them all); one per context.
 *   kern_coll_sum: x[i][0..n[i]) for i < count summed over the ranks in
 *     place, as one group, issued on k's stream (returns before it is
 *     done, as kernels do; later work on k waits for it).
 *   kern_coll_fini: leave the communicator (kern_fini does too).
 * An error of a started communicator dies with NCCL's message. */
#define KERN_COLL_ID_BYTES 128
int kern_coll_id(struct kern *k, void *id, size_t bytes);
int kern_coll_init(struct kern *k, const void *id, int rank, int size);
void kern_coll_sum(struct kern *k, float *const *x, const size_t *n,
                   int count);
void kern_coll_fini(struct kern *k);

#endif
