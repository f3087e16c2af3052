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
static double reduce_sec, mpi_sec;
static int last_buckets = 1;

/* NCCL (ctx.h's kern_coll_*): the context whose communicator is up, and
 * whether it is (0: not tried, 1: up, -1: not available: the host path) */
static struct kern *coll_k;
static int coll_state;
/* a bucket's gradients for kern_coll_sum */
static float **cx;
static size_t *cn;
static int ccap;

/* the overlapped reduction under way (dist_overlap_begin) */
#define DIST_MAX_REQ 64
static struct {
	struct optim *o;
	float w;
	int active, nreq, nbucket;
	int dev;                        /* on the device (NCCL): no buf */
	size_t at;                      /* floats of buf in use */
	int started[OPT_MAX_GROUPS];
	int order[OPT_MAX_GROUPS], norder;      /* groups as started */
#ifdef ULMFIT_MPI
	MPI_Request req[DIST_MAX_REQ];
#endif
} ov;

#ifdef ULMFIT_MPI
static int started;

static void
finish(void)
{
	int fin = 0;
	MPI_Finalized(&fin);
	if (!fin)
		MPI_Finalize();
	free(buf), free(cx), free(cn);
}
#endif

int
dist_init(int *argc, char ***argv)
{
	(void)argc, (void)argv;
#ifdef ULMFIT_MPI
	if (!started && (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE"))) {
		/* PMIx 4.2's shared-memory datastore (gds/shmem, Debian 12's
		 * libpmix2) wants its segment at the same address in every
		 * process.  Where that range is taken in ours, MPI_Init fails:
		 * "getting local rank failed" (seen on an Intel Xeon VM with
		 * these tools, never with a bare MPI program there).  The
		 * hash datastore has no such need; a PMIX_MCA_gds the user
		 * set stays. */
		setenv("PMIX_MCA_gds", "hash", 0);
		MPI_Init(argc, argv);
		/* errors abort the job (the default handler), so that a
		 * dead peer ends every rank instead of hanging one */
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		MPI_Comm_size(MPI_COMM_WORLD, &size);
		started = 1;
		atexit(finish);
	}
#else
	/* launched by mpirun -np N>1 but built without MPI: N copies of one
	 * run would write one file */
	const char *n = getenv("OMPI_COMM_WORLD_SIZE");
	if (!n)
		n = getenv("PMI_SIZE");
	if (n && atoi(n) > 1)
		die("built without MPI (make MPI=0): run as one process, or "
		    "rebuild with Open MPI (libopenmpi-dev)");
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

/* 1 when o's gradients are summed on the device (NCCL): o's context has
 * collectives on every rank and ULMFIT_DIST_NCCL is not 0.  The first
 * call (every rank at once: it is a collective) brings the communicator
 * up: rank 0 makes the id, MPI_Bcast sends it, each rank joins. */
static int
coll_up(struct kern *k)
{
	if (size == 1)
		return 0;
	if (coll_state)
		return coll_state > 0 && k == coll_k;
#ifdef ULMFIT_MPI
	const char *e = getenv("ULMFIT_DIST_NCCL");
	int can = !(e && !strcmp(e, "0")) && kern_coll_id(k, NULL, 0) == 0;
	/* all or none: the least over the ranks */
	int all;
	MPI_Allreduce(&can, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	coll_state = -1;
	if (!all)
		return 0;
	unsigned char id[KERN_COLL_ID_BYTES];
	memset(id, 0, sizeof id);
	if (rank == 0 && kern_coll_id(k, id, sizeof id) != 0)
		die("dist: no communicator id from the device backend");
	MPI_Bcast(id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
	if (kern_coll_init(k, id, rank, size) != 0)
		die("dist: rank %d could not join the device communicator",
		    rank);
	coll_k = k, coll_state = 1;
	return 1;
#else
	(void)k;
	return 0;
#endif
}

/* Scale the trainable gradients of o in group gr (all groups: gr < 0)
 * by w on the device and start their sum over the ranks, one group of
 * NCCL all-reduces on the context's stream; returns their floats. */
static size_t
dev_sum(struct optim *o, int gr, float w)
{
	int c = 0;
	size_t tot = 0;
	if (ccap < o->np) {
		ccap = o->np;
		cx = xrealloc(cx, ccap * sizeof *cx);
		cn = xrealloc(cn, ccap * sizeof *cn);
	}
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train && (gr < 0 || o->p[i].group == gr)) {
			if (w != 1.0f)
				ops_scale(o->k, o->p[i].g, w, o->p[i].n);
			cx[c] = o->p[i].g, cn[c++] = o->p[i].n;
			tot += o->p[i].n;
		}
	double tw = now_sec();
	kern_coll_sum(o->k, cx, cn, c);
	mpi_sec += now_sec() - tw;
	return tot;
}

/* buf holds every trainable gradient of o */
static size_t
grad_buf(struct optim *o)
{
	size_t n = 0;
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train)
			n += o->p[i].n;
	if (n > buf_n) {
		free(buf);
		buf = xmalloc(n * sizeof *buf);
		buf_n = n;
	}
	return n;
}

void
dist_overlap_begin(struct optim *o, double weight)
{
	static int off = -1;
	if (off < 0) {
		const char *e = getenv("ULMFIT_DIST_OVERLAP");
		off = e && !strcmp(e, "0");
	}
	if (size == 1 || off)
		return;
	int dev = coll_up(o->k);
	if (!dev)
		grad_buf(o);
	memset(&ov, 0, sizeof ov);
	ov.o = o, ov.w = (float)weight, ov.active = 1, ov.dev = dev;
}

/* The trainable gradients of group gr, scaled, into buf at ov.at, and
 * their sum over the ranks started */
static void
bucket_start(int gr)
{
	struct optim *o = ov.o;
	size_t at0 = ov.at;
	ov.started[gr] = 1;
	ov.order[ov.norder++] = gr;
	if (ov.dev) {
		size_t n = dev_sum(o, gr, ov.w);
		ov.at += n;
		ov.nbucket += n > 0;
		return;
	}
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train && o->p[i].group == gr) {
			kern_download(o->k, buf + ov.at, o->p[i].g,
			              o->p[i].n * sizeof *buf);
			ov.at += o->p[i].n;
		}
	for (size_t j = at0; j < ov.at; j++)
		buf[j] *= ov.w;
	if (ov.at == at0)
		return;
	ov.nbucket++;
#ifdef ULMFIT_MPI
	double tw = now_sec();
	for (size_t j = at0; j < ov.at; j += (size_t)1 << 30) {
		size_t c = ov.at - j < (size_t)1 << 30 ? ov.at - j :
		           (size_t)1 << 30;
		if (ov.nreq == DIST_MAX_REQ)
			die("dist: more than %d reductions in one step",
			    DIST_MAX_REQ);
		MPI_Iallreduce(MPI_IN_PLACE, buf + j, (int)c, MPI_FLOAT, MPI_SUM,
		               MPI_COMM_WORLD, &ov.req[ov.nreq++]);
	}
	/* Open MPI progresses a non-blocking collective inside MPI calls:
	 * give the earlier buckets a turn */
	int flag;
	MPI_Testall(ov.nreq, ov.req, &flag, MPI_STATUSES_IGNORE);
	mpi_sec += now_sec() - tw;
#endif
}

void
dist_grad_ready(int group)
{
	if (!ov.active || group < 0 || group >= OPT_MAX_GROUPS ||
	    ov.started[group])
		return;
	double t0 = now_sec();
	bucket_start(group);
	reduce_sec += now_sec() - t0;
}

/* Wait for the buckets, put the sums back (the groups' floats lie in buf
 * in the order their buckets started) */
static void
overlap_finish(void)
{
	double t0 = now_sec();
	struct optim *o = ov.o;
	for (int gr = 0; gr < o->ng && gr < OPT_MAX_GROUPS; gr++)
		if (!ov.started[gr])
			bucket_start(gr);
	if (ov.dev) {
		/* the sums are on the stream, before anything else issued on
		 * the context (Adam): nothing to wait for or copy back */
		last_bytes = ov.at * sizeof *buf;
		last_buckets = ov.nbucket;
		ov.active = 0;
		reduce_sec += now_sec() - t0;
		return;
	}
#ifdef ULMFIT_MPI
	double tw = now_sec();
	MPI_Waitall(ov.nreq, ov.req, MPI_STATUSES_IGNORE);
	mpi_sec += now_sec() - tw;
#endif
	size_t at = 0;
	for (int k = 0; k < ov.norder; k++)
		for (int i = 0; i < o->np; i++)
			if (o->p[i].train && o->p[i].group == ov.order[k]) {
				kern_upload(o->k, o->p[i].g, buf + at,
				            o->p[i].n * sizeof *buf);
				at += o->p[i].n;
			}
	last_bytes = ov.at * sizeof *buf;
	last_buckets = ov.nbucket;
	ov.active = 0;
	reduce_sec += now_sec() - t0;
}

void
dist_grad_reduce(struct optim *o, double weight)
{
	if (ov.active && ov.o == o) {
		overlap_finish();
		return;
	}
	if (size == 1 && weight == 1)
		return;
	double t0 = now_sec();
	if (coll_up(o->k)) {
		last_bytes = dev_sum(o, -1, (float)weight) * sizeof *buf;
		last_buckets = 1;
		reduce_sec += now_sec() - t0;
		return;
	}
	size_t n = grad_buf(o);
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
	double tw = now_sec();
	if (started && size > 1)
		for (size_t j = 0; j < n; j += 1 << 30) {
			size_t c = n - j < (size_t)1 << 30 ? n - j : (size_t)1 << 30;
			MPI_Allreduce(MPI_IN_PLACE, buf + j, (int)c, MPI_FLOAT,
			              MPI_SUM, MPI_COMM_WORLD);
		}
	mpi_sec += now_sec() - tw;
#endif
	at = 0;
	for (int i = 0; i < o->np; i++)
		if (o->p[i].train) {
			kern_upload(o->k, o->p[i].g, buf + at,
			            o->p[i].n * sizeof *buf);
			at += o->p[i].n;
		}
	last_bytes = n * sizeof *buf;
	last_buckets = 1;
	reduce_sec += now_sec() - t0;
}

size_t dist_grad_bytes(void) { return last_bytes; }
double dist_reduce_seconds(void) { return reduce_sec; }
double dist_mpi_seconds(void) { return mpi_sec; }
int dist_buckets(void) { return last_buckets; }

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
