/* ckpt.h: our checkpoints' metadata as one typed struct, written in one
 * function and read (every field parsed and range-checked as the command
 * line checks it) in one function; the load/save table of each model; the
 * vocab-vs-rows check; the LSTM state of a mid-epoch checkpoint as
 * tensors.
 *
 *   struct ckpt_meta m;
 *   ckpt_meta_read(&m, p);                    dies on a damaged value
 *   ckpt_meta_need(&m, CK_FIT | CK_RUN, "an awdtrain checkpoint");
 *   ... m.fit, m.run, m.vocab_n ...
 *   char *text = ckpt_meta_text(&m);          the "key=value\n" lines
 *
 * A file without metadata (fastai's learn.save) reads as kind CKPT_FOREIGN
 * with nothing present; callers take sizes from the tensor shapes. */
#ifndef CKPT_H
#define CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "learn/trainrun.h"
#include "model/awd.h"
#include "torch/pth.h"

struct lm;
struct clas;
struct optim;
struct kern;

enum ckpt_kind { CKPT_FOREIGN, CKPT_LM, CKPT_CLAS, CKPT_ENCODER };

/* Groups of keys: present[] says which were in the file; ckpt_meta_need
 * dies naming the first missing key of a group. */
enum {
	CK_VOCAB  = 1 << 0,     /* vocab_n vocab_xxh64 */
	CK_SIZES  = 1 << 1,     /* emb_sz n_hid n_layers */
	CK_DROP   = 1 << 2,     /* drop_mult */
	CK_HEAD   = 1 << 3,     /* ps bptt max_len lin_ftrs nclass */
	CK_SEED   = 1 << 4,     /* seed bs */
	CK_FIT    = 1 << 5,     /* lr_lo .. beta */
	CK_RUN    = 1 << 6,     /* freeze_to .. parent */
	CK_STREAM = 1 << 7,     /* seq_len stream_seed stream_epochs
	                           train_batches (awdtrain's lmbatch stream) */
	CK_TAGS   = 1 << 8,     /* train_tags valid_tags */
};

struct ckpt_meta {
	const char *path;       /* the file, for messages (read) */
	int kind;               /* enum ckpt_kind */
	char tool[32];          /* "awdtrain", "clastrain", or "" */
	uint64_t present;       /* bit i: field i of ckpt.c's table was read */
	/* the vocab and tokenizer */
	uint32_t vocab_n;
	uint64_t vocab_xxh64;
	char *vocab_path;       /* NULL: not recorded */
	uint64_t sp_xxh64;      /* sp_path non-NULL: recorded */
	char *sp_path;
	/* the encoder */
	int emb, hid, layers, pad;      /* pad: LM only, written if has_pad */
	int has_pad;
	double drop_mult;
	/* the classifier's head and documents */
	double ps;
	int bptt, max_len, lin_ftrs, nclass;
	char **labels;          /* nlabels names (label.0 ...) */
	int nlabels;
	char *train_tags, *valid_tags;
	/* the run */
	uint64_t seed;
	int bs;
	struct fit_opts fit;
	struct trainrun run;
	/* awdtrain's stream (bs above) */
	uint32_t seq_len, stream_epochs, train_batches;
	uint64_t stream_seed;
	/* a mid-epoch LM checkpoint: live rows of the LSTM state (0: none) */
	int hidden_rows;
	/* an encoder file: the hash of the file it was cut from */
	uint64_t parent_xxh64;
	int has_parent_xxh64;
};

/* Parse p's metadata into m (zeroed first).  Every value present is
 * checked whole: numbers, ranges as the command line's (drop_mult >= 0,
 * 0 <= ps < 1, the fit settings, freeze_to by kind, 1 <= bptt <= max_len,
 * epoch <= n_epoch, labels one per class); a bad one dies with "FILE:
 * metadata KEY=VALUE ...; the file is damaged or was not made by these
 * tools". */
void ckpt_meta_read(struct ckpt_meta *m, const struct pth *p);
/* 1 if the key was in the file. */
int ckpt_meta_has(const struct ckpt_meta *m, const char *key);
/* Dies "FILE: no 'KEY' in its metadata: not WHAT" for the first key of
 * groups that the file did not have. */
void ckpt_meta_need(const struct ckpt_meta *m, unsigned groups,
                    const char *what);
/* The metadata text (malloc'd), in each kind's key order: m->kind LM or
 * CLAS (the fields awdtrain / clastrain fill). */
char *ckpt_meta_text(const struct ckpt_meta *m);
void ckpt_meta_free(struct ckpt_meta *m);
/* The stream's SentencePiece model m, read from path: sp_xxh64 and the
 * absolute sp_path (spmeta.c). */
struct sp_model;
void ckpt_set_sp(struct ckpt_meta *c, const struct sp_model *m,
                 const char *path);
/* The SentencePiece model to use with checkpoint p (NULL: none; only
 * path counts).  path (may be NULL) is the one given (--sp).  When p
 * records a model (sp_xxh64), path's must be that one (else dies: a
 * different model), and without path the recorded sp_path is loaded
 * (dies when it is gone: give --sp).  When p records none: path's model,
 * or NULL; with strict set, a checkpoint of ours (it records a vocab)
 * that records no model was trained on words, and a path given dies.
 * Every failure says which file and what to do.  *used gets the path
 * loaded (malloc'd), or NULL.  (spmeta.c) */
struct sp_model *sp_for_pth(const struct pth *p, const char *path,
                            int strict, char **used);
/* Replace a string field (copies v; v NULL clears). */
void ckpt_set_str(char **field, const char *v);

/* The file's vocab against a stream's: when the metadata records one
 * (vocab_xxh64) it must be the same (dies "made with another vocab"); a
 * file without
 * (fastai's) must have rows == vocab_n embedding rows, else dies "FILE:
 * its embedding has ROWS rows, but STREAM was made with a vocab of N
 * tokens; HINT" (hint may be NULL). */
void ckpt_check_vocab(const struct pth *p, int64_t rows, uint32_t vocab_n,
                      uint64_t vocab_xxh64, const char *stream,
                      const char *hint);

/* ---- the load/save table of a model ----------------------------------- */

#define CKPT_MAXROWS (AWD_MAX_TENSORS + 16)

struct ckpt_row {
	char name[64];          /* state-dict key */
	float *w;               /* float data (model memory) ... */
	int64_t *l;             /* ... or int64 (BatchNorm's counter) */
	int ndim;
	int64_t shape[2];
	size_t n;
	int alias;              /* tied to an earlier row: saved, not loaded */
	int alt;                /* a head Linear: at .1. or .2. in the file */
	int optional;           /* may be absent from the file (then 0) */
	struct awd_tensor *at;  /* the encoder tensor (for borrowing), or NULL */
};
struct ckpt_table {
	struct ckpt_row r[CKPT_MAXROWS];
	int n;
	struct kern *k;         /* the model's context: float rows are its
	                           memory, read and written through
	                           kern_download / kern_upload */
};

/* The language model's 16 keys ("0.encoder.weight" ... "1.decoder.bias"),
 * the classifier's (encoder under "0.module.", head, BatchNorm buffers),
 * the bare encoder's (save_encoder's names, no prefix). */
void ckpt_lm_table(struct lm *lm, struct ckpt_table *t);
void ckpt_clas_table(struct clas *c, struct ckpt_table *t);
void ckpt_enc_table(struct awd *a, struct ckpt_table *t);
/* Copy every non-alias row from p's tensor prefix+name, checking shapes
 * (dies naming the tensor).  borrow (a classifier's encoder, eval only):
 * encoder rows point at p's memory instead (p must outlive the model). */
void ckpt_load(const struct ckpt_table *t, const struct pth *p,
               const char *prefix, struct awd *borrow);
/* Host copies of the float rows (tied rows share one), and back into the
 * model (the copies are freed): for code that fills a model's rows on the
 * host (pretrained.h's load_pretrained). */
void ckpt_rows_download(const struct ckpt_table *t, float **host);
void ckpt_rows_upload(const struct ckpt_table *t, float **host);
/* The rows as pth tensors for writing (names point into t). */
int ckpt_tensors(const struct ckpt_table *t, struct pth_tensor *out);

/* ---- the LSTM state of a mid-epoch checkpoint ------------------------- */

/* Records "state.L.h" and "state.L.c" of a's live state (state_bs rows,
 * float32, shape (rows, out_L)), host copies (kern_download) to free with
 * ckpt_state_free; names[][24] holds the names.  Returns the count
 * (2 * layers). */
int ckpt_state_records(const struct awd *a, struct pth_record *rec,
                       char (*names)[24]);
void ckpt_state_free(struct pth_record *rec, int n);
/* Put the saved state of rows rows back into a (reset and resized).  A
 * checkpoint of before this format (the state as hex text in the
 * metadata's hidden=) is read as well.  Dies when neither is there or a
 * size differs. */
void ckpt_state_restore(const struct pth *p, struct awd *a, int rows);

/* A checkpoint: fastai's Learner.save of table t and opt's state, the
 * metadata m, and (rec, nrec) our records.  Returns 0, or 1 after saying
 * why. */
int ckpt_save(const char *path, const struct ckpt_table *t,
              struct optim *opt, const struct ckpt_meta *m,
              const struct pth_record *rec, int nrec);

#endif
