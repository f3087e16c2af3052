/* pickle.h: Python pickles as plain data, both ways, and nothing more.
 *
 * The reader is a small pickle machine that builds a tree of values
 * (None, bool, int, float, str, bytes, tuple, list, dict) and never runs
 * anything: a GLOBAL is only accepted when it names one of the few things
 * a PyTorch state dict or fastai's optimizer state needs (see pickle.c,
 * allowed[]), and becomes an inert node.  'os system' and friends are
 * refused with a message before any further byte is read.
 *
 * The writer serialises such a tree as protocol 2, byte for byte the way
 * Python's pickler (and so torch.save) writes it: same opcodes, same memo
 * numbering, batches of 1000 for SETITEMS/APPENDS.
 *
 * Tensors and storages belong to the .pth layer (pth.h): the machine hands
 * persistent ids to a callback and keeps whatever node it returns. */
#ifndef PICKLE_H
#define PICKLE_H

#include <stddef.h>
#include <stdint.h>

enum pv_kind {
	PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_BYTES,
	PV_TUPLE, PV_LIST, PV_DICT,
	PV_GLOBAL,      /* s = "module name"; only allowed ones exist */
	PV_OBJECT,      /* an allowed class built by REDUCE/NEWOBJ: s = class,
	                   args in it[], BUILD state in state */
	PV_STORAGE,     /* made by the .pth layer from a persistent id */
	PV_TENSOR       /* made by the .pth layer (_rebuild_tensor_v2) */
};

struct pth_tensor;
struct pth_storage;

struct pv {
	int kind;
	int64_t i;              /* INT, BOOL */
	double d;               /* FLOAT */
	char *s;                /* STR, BYTES (NUL added), GLOBAL, OBJECT */
	size_t len;             /* bytes in s */
	unsigned char *big;     /* INT wider than 64 bits: little-endian bytes */
	struct pv **it;         /* TUPLE, LIST, OBJECT args; DICT: key, value, ... */
	size_t n, cap;          /* items (a DICT has n/2 pairs) */
	struct pv *state;       /* BUILD state (DICT attributes, OBJECT state) */
	struct pth_tensor *t;   /* TENSOR */
	struct pth_storage *st; /* STORAGE */
	struct pv *next_alloc;  /* pool chain */
};

/* Every node belongs to a pool and is freed with it. */
struct pv_pool { struct pv *all; };
void pv_pool_free(struct pv_pool *pool);

struct pv *pv_new(struct pv_pool *pool, int kind);
struct pv *pv_none(struct pv_pool *pool);
struct pv *pv_bool(struct pv_pool *pool, int b);
struct pv *pv_int(struct pv_pool *pool, int64_t i);
struct pv *pv_float(struct pv_pool *pool, double d);
struct pv *pv_str(struct pv_pool *pool, const char *s);
struct pv *pv_dict(struct pv_pool *pool);   /* written as OrderedDict when
                                               s = "collections OrderedDict" */
struct pv *pv_odict(struct pv_pool *pool);  /* an OrderedDict */
struct pv *pv_list(struct pv_pool *pool);
struct pv *pv_tensor(struct pv_pool *pool, struct pth_tensor *t);
void pv_push(struct pv *seq, struct pv *item);           /* list/tuple */
void pv_set(struct pv *dict, struct pv *key, struct pv *val);
void pv_sets(struct pv_pool *pool, struct pv *dict, const char *key,
             struct pv *val);

/* Lookups (NULL when absent or of another kind). */
const struct pv *pv_get(const struct pv *dict, const char *key);
/* Items of a list, a tuple, or a fastcore L (an OBJECT whose state holds
 * 'items'); NULL otherwise.  *n gets the count. */
struct pv *const *pv_items(const struct pv *seq, size_t *n);
/* Value of an int or bool, or of a 0-d int64 tensor; 0 if neither. */
int pv_as_int(const struct pv *v, int64_t *out);
/* Value of a float, an int, or a numpy float64/float32 scalar. */
int pv_as_double(const struct pv *v, double *out);

/* ---- reading ---------------------------------------------------------- */

/* Called for BINPERSID with the persistent id (a tuple); returns the node
 * to push, or NULL after setting *err to a malloc'd message. */
typedef struct pv *(*pk_persid_fn)(void *ctx, struct pv_pool *pool,
                                   struct pv *pid, char **err);
/* Called when REDUCE applies a tensor-building global (s names it) to an
 * argument tuple. */
typedef struct pv *(*pk_tensor_fn)(void *ctx, struct pv_pool *pool,
                                   const char *global, struct pv *args,
                                   char **err);

struct pk_reader {
	struct pv_pool *pool;
	pk_persid_fn persid;    /* NULL: persistent ids are refused */
	pk_tensor_fn tensor;    /* NULL: torch globals are refused */
	void *ctx;
};

/* Run one pickle from buf[0..n).  On success returns the value and sets
 * *used to the bytes consumed (up to and including STOP).  On failure
 * returns NULL and sets *err to a malloc'd sentence (what and where). */
struct pv *pk_load(const struct pk_reader *r, const unsigned char *buf,
                   size_t n, size_t *used, char **err);

/* ---- writing ---------------------------------------------------------- */

/* Called for a TENSOR node: fills the persistent id and rebuild arguments
 * (see pth.c); the writer owns the memo and the output. */
struct pk_writer;
struct buf;
typedef void (*pk_tensor_out)(void *ctx, struct pk_writer *w,
                              const struct pv *tensor);

struct pk_writer {
	struct buf *out;
	pk_tensor_out tensor;
	void *ctx;
	uint32_t memo;          /* next memo slot */
	/* memoised globals and shared strings: name -> slot */
	struct { char *name; uint32_t slot; } *gm;
	size_t ngm, capgm;
	/* containers and strings already written: node -> slot, so that a
	 * node met again (a shared or self-containing list, as a read pickle
	 * can make) is a BINGET, as Python's pickler writes it, not a copy
	 * or an endless recursion (open addressing, nodes NULL when free) */
	struct { const struct pv *v; uint32_t slot; } *nm;
	size_t nnm, capnm;
};

void pk_write(struct pk_writer *w, const struct pv *root);   /* PROTO..STOP */
/* Pieces for the tensor callback. */
void pk_put(struct pk_writer *w);                  /* BINPUT next slot */
void pk_global(struct pk_writer *w, const char *module, const char *name);
void pk_shared_str(struct pk_writer *w, const char *s); /* memoised once */
void pk_value(struct pk_writer *w, const struct pv *v);
void pk_int(struct pk_writer *w, int64_t i);
void pk_op(struct pk_writer *w, int op);
void pk_writer_free(struct pk_writer *w);

/* A pickled list of str (fastai's itos .pkl).  Dies with a message. */
char **pk_read_strings(const char *path, size_t *n);

#endif
