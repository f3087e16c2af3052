/* coll.cu: the CUDA backend's collectives (ctx.h's kern_coll_*): NCCL's
 * all-reduce on the context's device and stream, one rank per device.
 * Built with ULMFIT_NCCL when the CUDA install has nccl.h (the Makefile's
 * NCCL); without it every call answers "not available", as the CPU's, and
 * learn/dist.c sums through the host. */
#include <string.h>

#include "common.cuh"

#ifdef ULMFIT_NCCL
#include <nccl.h>

#define CKN(call) do { ncclResult_t r_ = (call);                        \
	if (r_ != ncclSuccess)                                           \
		die("nccl: %s:%d: %s: %s", __FILE__, __LINE__, #call,    \
		    ncclGetErrorString(r_)); } while (0)

static_assert(sizeof(ncclUniqueId) <= KERN_COLL_ID_BYTES,
              "KERN_COLL_ID_BYTES holds an ncclUniqueId");

extern "C" int
cuda_kern_coll_id(struct kern *k, void *id, size_t bytes)
{
	(void)k;
	if (!id)
		return 0;
	if (bytes < sizeof(ncclUniqueId))
		die("kern_coll_id: %zu bytes for an id of %zu", bytes,
		    sizeof(ncclUniqueId));
	ncclUniqueId u;
	CKN(ncclGetUniqueId(&u));
	memset(id, 0, bytes);
	memcpy(id, &u, sizeof u);
	return 0;
}

extern "C" int
cuda_kern_coll_init(struct kern *k, const void *id, int rank, int size)
{
	ncclUniqueId u;
	ncclComm_t c;
	if (k->coll)
		die("kern_coll_init: this context has a communicator");
	memcpy(&u, id, sizeof u);
	/* the communicator lives on the current device: the context's */
	CK(cudaStreamSynchronize(kstream(k)));
	CKN(ncclCommInitRank(&c, size, u, rank));
	k->coll = c;
	return 0;
}

extern "C" void
cuda_kern_coll_sum(struct kern *k, float *const *x, const size_t *n,
                   int count)
{
	if (!count)
		return;
	if (!k->coll)
		die("kern_coll_sum: no communicator (kern_coll_init)");
	ncclComm_t c = (ncclComm_t)k->coll;
	/* one group: NCCL fuses the launches of a bucket's tensors */
	CKN(ncclGroupStart());
	for (int i = 0; i < count; i++)
		if (n[i])
			CKN(ncclAllReduce(x[i], x[i], n[i], ncclFloat, ncclSum,
			                  c, kstream(k)));
	CKN(ncclGroupEnd());
}

extern "C" void
cuda_kern_coll_fini(struct kern *k)
{
	if (!k->coll)
		return;
	CK(cudaStreamSynchronize(kstream(k)));
	ncclCommDestroy((ncclComm_t)k->coll);
	k->coll = NULL;
}

#else   /* no NCCL in this build */

extern "C" int
cuda_kern_coll_id(struct kern *k, void *id, size_t bytes)
{
	(void)k, (void)id, (void)bytes;
	return -1;
}

extern "C" int
cuda_kern_coll_init(struct kern *k, const void *id, int rank, int size)
{
	(void)k, (void)id, (void)rank, (void)size;
	return -1;
}

extern "C" void
cuda_kern_coll_sum(struct kern *k, float *const *x, const size_t *n,
                   int count)
{
	(void)k, (void)x, (void)n;
	if (count)
		die("kern_coll_sum: this build has no NCCL");
}

extern "C" void
cuda_kern_coll_fini(struct kern *k)
{
	(void)k;
}

#endif
