/* sp.h: SentencePiece (Debian's libsentencepiece, C++) behind a C API,
 * for fastai's SubwordTokenizer: tok --sp, tok --sp-train, infer --sp.
 * sp.cc is the shim; nothing here prints or exits: failures come back
 * as -1 / NULL with a reason in err (errsz bytes), for the caller's die().
 *
 * A model's identity is the xxh64 (seed 0) of its file's bytes, as a
 * vocab's is. */
#ifndef SP_H
#define SP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sp_model;

/* Load the model file at path (a serialized ModelProto, as spm_train and
 * Python's SentencePieceTrainer write it). */
struct sp_model *sp_load(const char *path, char *err, size_t errsz);
/* The same from bytes in memory (what sp_train returns). */
struct sp_model *sp_load_mem(const void *p, size_t n, char *err,
                             size_t errsz);
void sp_free(struct sp_model *m);
uint64_t sp_xxh64(const struct sp_model *m);   /* of the model's bytes */
int sp_npieces(const struct sp_model *m);
/* Piece i (0 <= i < sp_npieces), NUL-terminated, owned by m. */
const char *sp_id_to_piece(const struct sp_model *m, int i);

/* Per-thread encoding scratch (m is shared, read-only, by all threads). */
struct sp_enc;
struct sp_enc *sp_enc_new(void);
void sp_enc_free(struct sp_enc *e);
/* EncodeAsPieces of text[0..n) (valid UTF-8).  Returns the number of
 * pieces, or -1 with err set; sp_piece() reads them until the next
 * call on e. */
long sp_encode(const struct sp_model *m, struct sp_enc *e, const char *text,
               size_t n, char *err, size_t errsz);
const char *sp_piece(const struct sp_enc *e, size_t i, size_t *len);

/* SentencePieceTrainer::Train from key=value options (keys as spm_train's
 * flags, without the dashes: "vocab_size", "model_type", ...; nopt pairs
 * in opt[2k], opt[2k+1]) on the sentences next() hands out, one per call
 * (*s, *n valid until the next call), until it returns 0.  The model's
 * bytes come back in *model (malloc'd, *nmodel bytes).  Returns 0, or -1
 * with err set. */
typedef int (*sp_next_fn)(void *arg, const char **s, size_t *n);
int sp_train(const char *const *opt, int nopt, sp_next_fn next, void *arg,
             char **model, size_t *nmodel, char *err, size_t errsz);


#ifdef __cplusplus
}
#endif

#endif
