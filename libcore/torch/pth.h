/* pth.h: PyTorch .pth checkpoints, read and written (spec §11-§12).
 *
 * Writing: a real torch >= 1.6 zip file, as torch.save writes it: stored
 * entries, flags 0x0808 with data descriptors, every record's data at a
 * multiple of 64 (an 'FB' extra field pads), one top folder named after
 * the file ("lm.pth" -> "lm/"), records data.pkl, byteorder ("little"),
 * data/<key> in string order, version ("3\n"), zip64 end records.  The
 * pickle is protocol 2 with collections.OrderedDict and
 * torch._utils._rebuild_tensor_v2, byte for byte what torch writes.
 * Tensors whose data pointers are equal share one storage (tied weights).
 * torch.load opens the file; fastai's learn.load sees {'model','opt'}.
 *
 * Our own metadata ("key=value\n" lines: config, vocab xxh64, step, RNG,
 * parent) travels in one more record, <top>/ulmfit/meta, that PyTorch
 * never reads.  The optimizer state goes in 'opt' in fastai's layout
 * (optim.h), so nothing of ours hides in the pickle.
 *
 * Reading: the zip format (CRC of every record used is checked) and the
 * legacy pre-1.6 format (five pickles + raw storages, e.g. WT103's
 * lstm_fwd.pth).  The pickle machine only accepts what a state dict needs
 * (pickle.h).  Float storages (f32/f64/f16/bf16) become float32, integer
 * and bool storages int64.  Tensors that share a storage are views of the
 * same memory.  Every error is a sentence naming the file and what to do;
 * the loaders die (exit 1). */
#ifndef PTH_H
#define PTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "torch/pickle.h"

enum pth_dtype {
	PTH_F32, PTH_F64, PTH_F16, PTH_BF16,
	PTH_I64, PTH_I32, PTH_I16, PTH_I8, PTH_U8, PTH_BOOL
};
#define PTH_MAXDIM 8

/* One tensor.  To write: name, dtype (PTH_F32 with f, or PTH_I64 with l),
 * ndim, shape; the rest is ignored.  Read: everything is filled. */
struct pth_tensor {
	const char *name;       /* state-dict key (NULL outside the state dict) */
	int dtype;              /* enum pth_dtype, as stored in the file */
	int ndim;
	int64_t shape[PTH_MAXDIM];
	int64_t numel;
	float *f;               /* float32 data (float dtypes), else NULL */
	int64_t *l;             /* int64 data (integer/bool dtypes), else NULL */
	const char *key;        /* read: storage key ("0", "1", ...) */
	int64_t offset;         /* read: element offset into the storage */
	int tie;                /* read: index in pth.t of the first entry that
	                           is the same tensor (same storage, offset and
	                           size: tied weights), else its own index */
};

struct pth_storage {
	char *key;
	int dtype;
	int64_t numel;
	void *data;             /* float32 or int64 copy, numel elements */
	int loaded;
	int view;               /* data points into pth_load's copy */
};

/* One record of ours besides the metadata: <top>/ulmfit/NAME, raw bytes
 * that torch.load never reads (name "state.0.h": an LSTM state tensor).
 * NAME is letters, digits, '.' and '_'; never "meta". */
struct pth_record {
	const char *name;
	const void *data;
	size_t size;
};

struct pth {
	char *path;
	int legacy;             /* 1: pre-1.6 format */
	char *archive;          /* top folder of a zip file ("lm") */
	uint64_t xxh64;         /* of the whole file: its identity; read it
	                           with pth_xxh64 (pth_load computes it only
	                           when asked) */
	struct pv *root;        /* the unpickled object */
	const struct pv *sd;    /* the state dict: root, or root['model'] */
	const struct pv *opt;   /* root['opt'] or NULL */
	struct pth_tensor *t;   /* the state dict's tensors, in file order */
	int n;
	char *meta;             /* our "key=value\n" lines, or NULL */
	struct pth_record *rec; /* our other records (ulmfit/NAME), read */
	int nrec;
	/* private */
	struct pv_pool pool;
	struct pth_storage *st;
	size_t nst, capst;
	struct pth_tensor **all;        /* every tensor the pickle built */
	size_t nall, capall;
	void *map;                      /* pth_load's copy of the file */
	size_t mapn, mapused;           /* its size (big_alloc), the file's */
};

/* The whole file's xxh64 (its identity, for the parent_xxh64 of files
 * made from it). */
uint64_t pth_xxh64(const struct pth *p);

/* Load a file ("-" is stdin).  Dies with a message on any problem. */
struct pth *pth_load(const char *path);
/* Same from memory; name is used in messages.  Returns NULL with *err set
 * (malloc'd) instead of dying. */
struct pth *pth_load_mem(const unsigned char *buf, size_t n, const char *name,
                         char **err);
void pth_free(struct pth *p);

/* Our record ulmfit/NAME as read (data and *size), or NULL. */
const void *pth_record(const struct pth *p, const char *name, size_t *size);

/* The state dict's tensor called name, or NULL. */
struct pth_tensor *pth_find(const struct pth *p, const char *name);
/* Like pth_find, but dies when it is missing, is not float, or its shape
 * differs from shape[0..ndim) (shape NULL: any). */
struct pth_tensor *pth_need(const struct pth *p, const char *name, int ndim,
                            const int64_t *shape);

/* Metadata value for key (a static buffer, overwritten by the next call),
 * or NULL when absent or when the file has none (a foreign file). */
const char *pth_meta(const struct pth *p, const char *key);
/* (Typed, checked reading of our metadata: learn/ckpt.h.) */

/* ---- writing ---------------------------------------------------------- */

/* Write root (usually a dict whose values are TENSOR nodes) as a zip .pth.
 * archive is the top folder name; meta (may be NULL) goes in
 * <archive>/ulmfit/meta.  Dies on a write error. */
void pth_write(FILE *f, const char *archive, const struct pv *root,
               const char *meta);
/* Atomically write path ("-": stdout): NAME.tmp, fsync, rename.  The top
 * folder is the base name without its extension.  Returns 0, or 1 after
 * printing why. */
int pth_save(const char *path, const struct pv *root, const char *meta);
/* The same with our records rec[0..nrec) after the metadata. */
int pth_save_records(const char *path, const struct pv *root,
                     const char *meta, const struct pth_record *rec,
                     int nrec);

/* A state dict (OrderedDict) of n tensors, as TENSOR nodes in pool. */
struct pv *pth_state_dict(struct pv_pool *pool, const struct pth_tensor *t,
                          int n);
/* learn.save's layout: {'model': sd, 'opt': opt}; opt NULL gives the bare
 * state dict (with_opt=False, save_encoder). */
struct pv *pth_learner(struct pv_pool *pool, struct pv *sd, struct pv *opt);

/* fastai's clean_raw_keys (§11.1): drop "X.module.Y" when "X.Y_raw"
 * exists, for files from fastai v1.  Returns how many were dropped. */
int pth_clean_raw_keys(struct pth *p);

/* Where p keeps an AWD-LSTM encoder: "0.module." (a classifier), "0." (a
 * language model) or "" (save_encoder's file), the first whose
 * encoder.weight is there, in fastai's order (get_model(m)[0], its
 * .module when it has one; a bare encoder last); NULL if none. */
const char *pth_encoder_prefix(const struct pth *p);

/* fastai's save_encoder: the AWD-LSTM encoder of an LM ("0." keys), a
 * classifier ("0.module.") or an encoder file (no prefix), renamed
 * without the prefix, in file order (encoder.weight first).  Checks the
 * AWD-LSTM layout (encoder.weight, encoder_dp.emb.weight, then per layer
 * weight_hh_l0_raw, module.weight_ih_l0, module.bias_ih_l0,
 * module.bias_hh_l0, with matching shapes) and dies with a sentence when
 * it is not one.  Run pth_clean_raw_keys first for fastai v1 files.
 * out: room for p->n tensors (names point into p).  Returns the count. */
struct awd_shape { int64_t vocab, emb, hid; int layers; };
int pth_encoder(const struct pth *p, struct pth_tensor *out,
                struct awd_shape *sh);
/* The encoder file's metadata: p's lines (config, vocab hash, ...) with
 * kind=encoder, the sizes, and parent_xxh64 = p's file hash.  malloc'd. */
char *pth_encoder_meta(const struct pth *p, const struct awd_shape *sh);

uint32_t pth_crc32(uint32_t crc, const void *buf, size_t n);

#endif
