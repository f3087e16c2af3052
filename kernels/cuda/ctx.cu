/* ctx.cu: the CUDA backend's context and memory (ctx.h, cuda.h): one
 * stream and one cuBLAS handle per context, cudaMalloc'd tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

static char why[320] = "not started";

extern "C" const char *
cuda_kern_why(void)
{
	return why;
}

/* The device of this process: under mpirun (or srun) the node-local
 * rank modulo the devices, so that ranks of one node take one device
 * each (NCCL wants that); else device 0.  CUDA_VISIBLE_DEVICES still
 * chooses which devices there are. */
static int
local_device(int n)
{
	static const char *const env[] = { "OMPI_COMM_WORLD_LOCAL_RANK",
		"MPI_LOCALRANKID", "SLURM_LOCALID" };
	for (size_t i = 0; i < sizeof env / sizeof *env; i++) {
		const char *v = getenv(env[i]);
		if (v && *v)
			return atoi(v) % n;
	}
	return 0;
}

extern "C" int
cuda_kern_init(struct kern *k, int threads)
{
	int n = 0, dev;
	cudaStream_t s;
	cublasHandle_t h;

	memset(k, 0, sizeof *k);
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
		return -1;
	}
	if (n < 1) {
		snprintf(why, sizeof why, "no CUDA device");
		return -1;
	}
	dev = local_device(n);
	if ((e = cudaSetDevice(dev)) != cudaSuccess ||
	    (e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) !=
	    cudaSuccess) {
		snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
		return -1;
	}
	cublasStatus_t b = cublasCreate(&h);
	if (b != CUBLAS_STATUS_SUCCESS) {
		snprintf(why, sizeof why, "cublasCreate: %s",
		         cublasGetStatusString(b));
		cudaStreamDestroy(s);
		return -1;
	}
	/* fp32 GEMMs stay fp32: no TF32 (the CPU twin is exact fp32) */
	cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH);
	cublasSetStream(h, s);
	k->backend = KERN_CUDA;
	k->threads = threads;
	k->stream = s;
	k->blas = h;
	cudaDeviceProp pr;
	if (cudaGetDeviceProperties(&pr, dev) == cudaSuccess)
		snprintf(why, sizeof why, "%.200s, sm_%d%d, %.0f MiB (device "
		         "%d)", pr.name, pr.major, pr.minor,
		         pr.totalGlobalMem / 1048576.0, dev);
	else
		snprintf(why, sizeof why, "device %d", dev);
	return 0;
}

extern "C" void
cuda_kern_fini(struct kern *k)
{
	if (k->backend != KERN_CUDA)
		return;
	cuda_kern_coll_fini(k);
	cuda_kern_free(k, k->ws);
	k->ws = NULL, k->ws_bytes = 0;
	CK(cudaStreamSynchronize(kstream(k)));
	CKB(cublasDestroy(kblas(k)));
	CK(cudaStreamDestroy(kstream(k)));
	k->blas = k->stream = NULL;
}

extern "C" void *
cuda_kern_alloc(struct kern *k, size_t bytes)
{
	void *p = NULL;
	cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
	if (e != cudaSuccess) {
		size_t fr = 0, tot = 0;
		cudaMemGetInfo(&fr, &tot);
		die("GPU out of memory: %.1f MiB of tensors asked, %.1f MiB "
		    "free of %.1f MiB (%s); lower the batch size or the "
		    "sequence length", bytes / 1048576.0, fr / 1048576.0,
		    tot / 1048576.0, cudaGetErrorString(e));
	}
	/* zeroed, as the CPU twin's blocks read (ctx.c) */
	CK(cudaMemsetAsync(p, 0, bytes ? bytes : 1, kstream(k)));
	return p;
}

extern "C" void
cuda_kern_free(struct kern *k, void *p)
{
	if (!p)
		return;
	/* the stream may still use p: wait (frees are rare) */
	CK(cudaStreamSynchronize(kstream(k)));
	CK(cudaFree(p));
}

extern "C" void *
cuda_kern_scratch(struct kern *k, size_t bytes)
{
	if (bytes > k->ws_bytes) {
		cuda_kern_free(k, k->ws);
		k->ws = cuda_kern_alloc(k, bytes);
		k->ws_bytes = bytes;
	}
	return k->ws;
}

/* Copies are ordered on the stream.  An upload from pageable memory
 * returns once the host buffer has been staged, so the caller may reuse
 * it; a download waits, so the host may read the bytes. */
extern "C" void
cuda_kern_upload(struct kern *k, void *dev, const void *host, size_t bytes)
{
	if (bytes)
		CK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice,
		                   kstream(k)));
}

extern "C" void
cuda_kern_download(struct kern *k, void *host, const void *dev, size_t bytes)
{
	if (!bytes)
		return;
	CK(cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost,
	                   kstream(k)));
	CK(cudaStreamSynchronize(kstream(k)));
}

extern "C" void
cuda_kern_copy(struct kern *k, void *dst, const void *src, size_t bytes)
{
	if (bytes && dst != src)
		CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice,
		                   kstream(k)));
}

__global__ void
fill_k(float *x, size_t n, float v)
{
	FOR_N(i, n)
		x[i] = v;
}

extern "C" void
cuda_kern_fill(struct kern *k, float *x, size_t n, float v)
{
	if (!n)
		return;
	fill_k<<<nblk(n), NT, 0, kstream(k)>>>(x, n, v);
	CKL();
}

extern "C" void
cuda_kern_zero(struct kern *k, void *p, size_t bytes)
{
	if (bytes)
		CK(cudaMemsetAsync(p, 0, bytes, kstream(k)));
}

extern "C" void
cuda_kern_sync(struct kern *k)
{
	CK(cudaStreamSynchronize(kstream(k)));
}
