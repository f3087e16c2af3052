/* spmeta.c: a SentencePiece model's identity in checkpoint metadata. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "learn/ckpt.h"
#include "torch/pth.h"
#include "text/sp.h"
#include "core/stream.h"
#include "core/util.h"

void
ckpt_set_sp(struct ckpt_meta *c, const struct sp_model *m, const char *path)
{
	char *abs = realpath(path, NULL);

	c->sp_xxh64 = sp_xxh64(m);
	ckpt_set_str(&c->sp_path, abs ? abs : path);
	free(abs);
}

static struct sp_model *
load(const char *path)
{
	char err[256];
	struct sp_model *m = sp_load(path, err, sizeof err);

	if (!m)
		die("%s: %s", path, err);
	return m;
}

struct sp_model *
sp_for_pth(const struct pth *p, const char *path, int strict, char **used)
{
	struct ckpt_meta cm = {0};
	char rec[17] = "", was[4096] = "";
	struct stat st;

	if (p)
		ckpt_meta_read(&cm, p);        /* sp_xxh64: 16 hex digits */
	if (ckpt_meta_has(&cm, "sp_xxh64"))
		snprintf(rec, sizeof rec, "%016llx",
		         (unsigned long long)cm.sp_xxh64);
	if (ckpt_meta_has(&cm, "sp_path"))
		snprintf(was, sizeof was, "%s", cm.sp_path);
	int words = ckpt_meta_has(&cm, "vocab_xxh64");
	ckpt_meta_free(&cm);
	*used = NULL;
	if (path) {
		struct sp_model *m = load(path);
		char have[17];
		snprintf(have, sizeof have, "%016llx",
		         (unsigned long long)sp_xxh64(m));
		if (*rec && strcmp(have, rec))
			die("%s: a different SentencePiece model (xxh64 %s) from "
			    "the one %s was trained with (%s, xxh64 %s); use that "
			    "one", path, have, p->path, *was ? was : "path unknown",
			    rec);
		if (!*rec && strict && words)
			die("%s: trained on words, not on SentencePiece pieces "
			    "(no sp_xxh64 in its metadata); drop --sp %s",
			    p->path, path);
		*used = xstrdup(path);
		return m;
	}
	if (!*rec)
		return NULL;
	if (!*was || stat(was, &st))
		die("%s: trained on the pieces of a SentencePiece model (xxh64 "
		    "%s%s%s) that is not there; give it with --sp model",
		    p->path, rec, *was ? ", was " : "", was);
	struct sp_model *m = load(was);
	char have[17];
	snprintf(have, sizeof have, "%016llx", (unsigned long long)sp_xxh64(m));
	if (strcmp(have, rec))
		die("%s: changed since %s was trained on it (xxh64 %s, was %s); "
		    "give the original with --sp model", was, p->path, have, rec);
	*used = xstrdup(was);
	return m;
}
