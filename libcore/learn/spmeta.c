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
sp_meta_add(char **meta, const struct sp_model *m, const char *path)
{
	char *abs = realpath(path, NULL);

	params_add(meta, "sp_xxh64", "%016llx",
	           (unsigned long long)sp_xxh64(m));
	params_add(meta, "sp_path", "%s", abs ? abs : path);
	free(abs);
}

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
	const char *v = p ? pth_meta(p, "sp_xxh64") : NULL;
	char rec[17] = "", *end;
	struct stat st;

	if (v) {
		if (strlen(v) != 16 || (strtoull(v, &end, 16), *end))
			die("%s: metadata sp_xxh64=%s is not 16 hex digits "
			    "(a damaged file)", p->path, v);
		memcpy(rec, v, 17);
	}
	*used = NULL;
	if (path) {
		struct sp_model *m = load(path);
		char have[17];
		snprintf(have, sizeof have, "%016llx",
		         (unsigned long long)sp_xxh64(m));
		if (*rec && strcmp(have, rec)) {
			const char *was = pth_meta(p, "sp_path");
			die("%s: a different SentencePiece model (xxh64 %s) from "
			    "the one %s was trained with (%s, xxh64 %s); use that "
			    "one", path, have, p->path, was ? was : "path unknown",
			    rec);
		}
		if (!*rec && strict && p && pth_meta(p, "vocab_xxh64"))
			die("%s: trained on words, not on SentencePiece pieces "
			    "(no sp_xxh64 in its metadata); drop --sp %s",
			    p->path, path);
		*used = xstrdup(path);
		return m;
	}
	if (!*rec)
		return NULL;
	const char *was = pth_meta(p, "sp_path");
	if (!was || stat(was, &st))
		die("%s: trained on the pieces of a SentencePiece model (xxh64 "
		    "%s%s%s) that is not there; give it with --sp model",
		    p->path, rec, was ? ", was " : "", was ? was : "");
	char *keep = xstrdup(was);        /* pth_meta's buffer is reused */
	struct sp_model *m = load(keep);
	char have[17];
	snprintf(have, sizeof have, "%016llx", (unsigned long long)sp_xxh64(m));
	if (strcmp(have, rec))
		die("%s: changed since %s was trained on it (xxh64 %s, was %s); "
		    "give the original with --sp model", keep, p->path, have, rec);
	*used = keep;
	return m;
}
