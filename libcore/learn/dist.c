/* dist.c: data-parallel training over MPI.  See dist.h. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "learn/dist.h"
#include "learn/optim.h"
#include "kernels.h"

#ifdef ULMFIT_MPI
#include <mpi.h>
#endif

static int rank, size = 1;
static float *buf;
static size_t buf_n, last_bytes;
static double reduce_sec;

#ifdef ULMFIT_MPI
static int started;

static void
finish(void)
{
	int fin = 0;
	MPI_Finalized(&fin);
	if (!fin)
		MPI_Finalize();
	free(buf);
}
#endif

int
dist_init(int *argc, char ***argv)
{
	(void)argc, (void)argv;
#ifdef ULMFIT_MPI
	if (!started && (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE"))) {
		MPI_Init(argc, argv);
		/* errors abort the job (the default handler), so that a
		 * dead peer ends every rank instead of hanging one */
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		MPI_Comm_size(MPI_COMM_WORLD, &size);
		started = 1;
		atexit(finish);
	}
#endif
	return size;
}

int dist_rank(void) { return rank; }
int dist_size(void) { return size; }
int dist_main(void) { return rank == 0; }

int
dist_rows(int rows)
{
	return rows > rank ? (rows - rank + size - 1) / size : 0;
}

void
dist_sum(double *v, int n)
{
#ifdef ULMFIT_MPI
	if (started && size > 1)
		MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM,
		              MPI_COMM_WORLD);
#else
	(void)v, (void)n;
#endif
}

int
dist_max_int(int v)
{
#ifdef ULMFIT_MPI
	if (started && size > 1)
		MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX,
		              MPI_COMM_WORLD);
#endif
	return v;
}

void
dist_bcast(void *b, size_t bytes)
{
#ifdef ULMFIT_MPI
	if (started && size > 1)
		MPI_Bcast(b, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
#else
	(void)b, (void)bytes;
#endif
}

void
dist_grad_reduce(struct optim *o, double weight)
{
	if (size == 1 && weight == 1)
		return;
	double t0 = now_sec();
	size_t n = 0;
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train)
			n += o->p[i].n;
	if (n > buf_n) {
		free(buf);
		buf = xmalloc(n * sizeof *buf);
		buf_n = n;
	}
	size_t at = 0;
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train) {
			kern_download(o->k, buf + at, o->p[i].g,
			              o->p[i].n * sizeof *buf);
			at += o->p[i].n;
		}
	float w = (float)weight;
	for (size_t j = 0; j < n; j++)
		buf[j] *= w;
#ifdef ULMFIT_MPI
	/* MPI_Allreduce takes an int count: reduce in chunks */
	if (started && size > 1)
		for (size_t j = 0; j < n; j += 1 << 30) {
			size_t c = n - j < (size_t)1 << 30 ? n - j : (size_t)1 << 30;
			MPI_Allreduce(MPI_IN_PLACE, buf + j, (int)c, MPI_FLOAT,
			              MPI_SUM, MPI_COMM_WORLD);
		}
#endif
	at = 0;
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train) {
			kern_upload(o->k, o->p[i].g, buf + at,
			            o->p[i].n * sizeof *buf);
			at += o->p[i].n;
		}
	last_bytes = n * sizeof *buf;
	reduce_sec += now_sec() - t0;
}

size_t dist_grad_bytes(void) { return last_bytes; }
double dist_reduce_seconds(void) { return reduce_sec; }

void
dist_test_die(int64_t step)
{
	static int64_t at = -2;
	if (at == -2) {
		const char *s = getenv("ULMFIT_DIST_DIE_AT");
		const char *r = getenv("ULMFIT_DIST_DIE_RANK");
		at = s ? strtoll(s, NULL, 10) : -1;
		if (rank != (r ? atoi(r) : 1))
			at = -1;
	}
	if (step == at)
		raise(SIGKILL);
}
