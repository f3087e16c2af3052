/* untar.h: fastai's untar_data as a cache of archives and extracted trees.
 *
 * $ULMFIT_HOME (default ~/.ulmfit), like fastai's ~/.fastai:
 *   archive/NAME          a downloaded archive (NAME: the URL's last part)
 *   archive/NAME.part     a download in progress (resumed by the next call)
 *   archive/NAME.sum      its record: source, size, xxh64, md5 (and mtime
 *                         for a local archive, which is not copied)
 *   archive/STEM.lock     flock'd while a process works on STEM
 *   data/STEM             the extracted tree (STEM: NAME without .tgz,
 *                         .tar.gz, .zip, ...), as fastai's c_key='data'
 *   models/STEM           the same for pretrained models (wt103-fwd, ...),
 *                         as fastai's c_key='model'
 * A tree is extracted into data/.STEM.untar-XXXXXX and renamed into place,
 * so data/STEM is either absent or complete.  When the archive holds one
 * top-level folder (imdb.tgz holds imdb/), that folder becomes data/STEM,
 * as fastai's untar_dir does; otherwise data/STEM holds the top level.
 *
 * A Hugging Face model (gpt2, ...) is no archive but a few plain files:
 * each is fetched (resumed, recorded) as archive/NAME/FILE, and
 * models/NAME is a folder of hard links to them, made in a temp folder
 * and renamed into place like an extracted tree. */
#ifndef UNTAR_H
#define UNTAR_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

struct untar_name {
	const char *name;        /* what the user types: imdb */
	const char *path;        /* below the URL base: fast-ai-nlp/imdb.tgz */
	int model;               /* 1: extract under models/ */
	uint64_t size;           /* fastai's check: size ... */
	const char *md5_1m;      /* ... and md5 of the first MiB; NULL: none */
	const char *what;        /* one line for -l */
	const char *const *files;/* NULL: path is an archive; else path is a
	                            folder below UNTAR_HF_BASE holding these */
};

/* fastai's URLs.S3 base; $ULMFIT_URL_BASE replaces it (a mirror). */
#define UNTAR_URL_BASE "https://s3.amazonaws.com/"
/* The Hugging Face hub; $ULMFIT_HF_BASE replaces it. */
#define UNTAR_HF_BASE "https://huggingface.co/"

enum { CHECK_NONE, CHECK_XXH64, CHECK_MD5 };
struct untar_check {
	int kind;
	uint64_t xxh64;
	unsigned char md5[16];
};

struct untar_opts {
	const char *home;        /* NULL: $ULMFIT_HOME or ~/.ulmfit */
	struct untar_check check;
	uint64_t max_bytes;      /* expansion limit, 0: none */
	int force, quiet, retries, model;
	long connect_timeout, stall_timeout;
};

extern volatile sig_atomic_t untar_stop;   /* set by SIGINT/TERM/HUP */

const struct untar_name *untar_find(const char *name);
void untar_list(FILE *f);

/* "xxh64:HEX" or "md5:HEX" -> c.  0, or -1 when malformed. */
int untar_check_parse(const char *s, struct untar_check *c);

/* Fetch, verify and extract src (a name, a URL, or a local archive).
 * Returns the extracted directory (malloc'd), or prints why and exits 1
 * with nothing half-made left in the cache. */
char *untar_get(const char *src, const struct untar_opts *o);

/* Integrity helpers (exposed for tests). */
struct md5 { uint32_t h[4]; uint64_t len; unsigned char buf[64]; };
void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *p, size_t n);
void md5_final(struct md5 *m, unsigned char out[16]);
/* size, xxh64 of the whole file, md5 of the first MiB.  0 or -1 (errno). */
int file_sums(const char *path, uint64_t *size, uint64_t *xxh,
              unsigned char md5_1m[16], unsigned char md5_all[16]);

#endif
