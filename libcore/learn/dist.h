/* dist.h: data-parallel training over MPI (mpirun -np N awdtrain ...).
 *
 * The only interface to MPI: dist.c is the one file that includes
 * <mpi.h>, and without ULMFIT_MPI (make MPI=0, or no Open MPI) every call
 * is the single-process one (rank 0 of 1).  MPI is started only when the
 * process was launched by mpirun (OMPI_COMM_WORLD_SIZE or PMI_SIZE in the
 * environment): a plain run needs no MPI daemon and behaves as before.
 *
 * Each rank takes its share of every global batch (rows r, r+N, ...);
 * after backward the gradients, each scaled by the rank's share of the
 * rows, are summed over the ranks (one MPI_Allreduce over a flat buffer),
 * so every rank takes the same Adam step the single process takes on the
 * whole batch.  Rank 0 alone writes checkpoints, logs and the table.
 *
 * Overlap (awdtrain): dist_overlap_begin before backward, then
 * dist_grad_ready(group) as backward finishes each parameter group's
 * gradients starts their reduction (one MPI_Iallreduce per group, a
 * bucket); dist_grad_reduce then only waits for them and puts the sums
 * back.  ULMFIT_DIST_OVERLAP=0 in the environment turns it off (one
 * blocking MPI_Allreduce after backward, for comparison).
 * clastrain the same: the head's bucket first, then the LSTMs top-down
 * (clas.h's grad_ready), then the embedding.
 *
 * NCCL: when the model's context has collectives on every rank (--device
 * cuda with libkern_cuda.so built with NCCL: ctx.h's kern_coll_*), the
 * first reduction brings up a communicator (rank 0 makes its id, MPI_Bcast
 * sends it) and from then on each bucket is scaled (ops_scale) and summed
 * (ncclAllReduce, one group a bucket) on the device, on the context's
 * stream, without the host buffer: nothing to wait for, Adam's kernels
 * come after it on the stream.  ULMFIT_DIST_NCCL=0 keeps the host path.
 * The CPU and check backends have none: MPI through the host. */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>
#include <stdint.h>

struct optim;

/* MPI_Init when launched by mpirun; MPI_Finalize at exit.  Returns the
 * number of ranks.  A failed collective aborts the whole job. */
int dist_init(int *argc, char ***argv);
int dist_rank(void);
int dist_size(void);
/* 1 on rank 0 (or without MPI): the rank that writes and prints */
int dist_main(void);

/* The rows of a global batch of `rows` that this rank takes: rank r gets
 * rows r, r+N, ...; returns their count (0 when rows < N for rank >= rows). */
int dist_rows(int rows);

/* Sum n doubles over the ranks, in place. */
void dist_sum(double *v, int n);
/* Maximum of one int over the ranks (the stop flag every rank agrees on). */
int dist_max_int(int v);
/* The sum over the ranks of each trainable gradient of o times weight
 * (this rank's share of the batch's rows): through one host buffer, one
 * MPI_Allreduce.  No-op on one rank when weight is 1. */
void dist_grad_reduce(struct optim *o, double weight);
/* Overlapped reduction of the next dist_grad_reduce (same o and weight):
 * buckets by parameter group, started by dist_grad_ready(group) in any
 * order (each rank the same order: they are collectives); a group never
 * made ready is started by dist_grad_reduce, which waits for all.  No-op
 * on one rank or with ULMFIT_DIST_OVERLAP=0. */
void dist_overlap_begin(struct optim *o, double weight);
void dist_grad_ready(int group);
/* Bytes the last dist_grad_reduce sent per rank; seconds in all reduces
 * (copies, starts and waits: the time backward did not hide); of those,
 * seconds inside MPI calls (blocking all-reduces, or the buckets' starts,
 * tests and the final wait; under NCCL the calls that issue the sums on
 * the stream, not the device's time); buckets in the last step. */
size_t dist_grad_bytes(void);
double dist_reduce_seconds(void);
double dist_mpi_seconds(void);
int dist_buckets(void);
/* Broadcast bytes from rank 0 to every rank. */
void dist_bcast(void *buf, size_t bytes);
/* Test-only: the environment variable env holds N: this rank (the one
 * ULMFIT_DIST_DIE_RANK names, default 1) dies with SIGKILL before step N. */
void dist_test_die(int64_t step);

#endif
