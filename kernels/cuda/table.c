/* table.c: the CUDA backend's dispatch table (dispatch.h), in
 * libkern_cuda.so.  Each entry's type is the CPU kernel's, so the
 * compiler checks every twin's form against it. */
#include "dispatch.h"
#include "cuda/cuda.h"

#define CUDA_ENTRY_(n) .n = cuda_##n,
#define CUDA_ENTRY(r, n, p, a) .n = cuda_##n,
const struct kern_ops kern_cuda_ops = {
	KERN_MEM(CUDA_ENTRY_)
	KERN_OPS(CUDA_ENTRY)
};
