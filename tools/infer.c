/* infer: classify texts with a classifier checkpoint (learn.predict),
 * evaluate it on a labelled id stream, or generate text with a language
 * model checkpoint (LMLearner.predict). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/clas.h"
#include "learn/ckpt.h"
#include "learn/clasio.h"
#include "text/docsrc.h"
#include "learn/generate.h"
#include "model/gpt2.h"
#include "learn/gpt2run.h"
#include "learn/device.h"
#include "data/ids.h"
#include "kernels.h"
#include "model/lm.h"
#include "torch/pth.h"
#include "text/tokenizer.h"
#include "text/sp.h"
#include "text/tokfile.h"
#include "core/util.h"
#include "data/vocab.h"

static const char usage_text[] =
"usage: infer [-hq] [-v vocab] [-b bs] [-j threads] [--json] [-f path]...\n"
"             [--precision fp32|bf16] [--device d] model.pth [text ...]\n"
"       infer [-hq] [-v vocab] [-b bs] [-j threads] [--json] --eval ids\n"
"             [--split name] [--show-results n] [--precision fp32|bf16]\n"
"             model.pth\n"
"       infer [-hq] [-v vocab] --generate prompt [-n words] [-t temp]\n"
"             [--min-p p] [--unk] [-s seed] [--precision fp32|bf16] lm.pth\n"
"       infer --gpt2 dir [-n tokens] [-t temp] [--top-k k] [-s seed] [--json]\n"
"             [--precision fp32|bf16] [prompt ...]\n"
"       infer --gpt2 dir --encode | --decode\n"
"  text          classify this text (one document per argument)\n"
"  -f path       classify a file (one document), or every .txt file under\n"
"                a folder; \"-\" is all of stdin as one document.  Without\n"
"                texts or -f, every line of stdin is a document.\n"
"  -v vocab      the vocab the model was trained with (default: the one\n"
"                its metadata names, or model.vocab / vocab beside it)\n"
"  --sp model    tokenize texts into the pieces of this SentencePiece\n"
"                model (tok --sp); it must be the one the checkpoint\n"
"                records (default: the one it records, if any)\n"
"  -b bs         documents per batch (default 64)\n"
"  -j threads    compute threads (default: all cores)\n"
"  --json        one JSON object per document instead of TSV\n"
"  --eval ids    accuracy, per-class precision/recall and the confusion\n"
"                matrix on a labelled id stream (from numz)\n"
"  --split name  with --eval: only the documents of this split\n"
"  --show-results n  with --eval: the first n documents with their label\n"
"                and the prediction (learn.show_results); with --json\n"
"                also the probabilities, one object per document\n"
"  --generate prompt  sample words after prompt with an LM checkpoint\n"
"  -n words      words to generate (default 1, as fastai)\n"
"  -t temp       --temperature (default 1)\n"
"  --min-p p     drop words with probability below p\n"
"  --unk         allow xxunk to be generated (fastai's no_unk=False)\n"
"  -s seed       random seed for --generate (default: from the clock)\n"
"  --gpt2 dir    a Hugging Face GPT-2 folder (config.json, vocab.json +\n"
"                merges.txt, model.safetensors or pytorch_model.bin):\n"
"                complete each prompt (or stdin line) with -n tokens,\n"
"                greedy unless -t or --top-k (default 1 token)\n"
"  --top-k k     sample among the k most probable tokens (--json: list k)\n"
"  --encode      --gpt2: print the token ids of each stdin line\n"
"  --decode      --gpt2: turn lines of token ids back into text\n"
"  --precision p fp32 (default) or bf16: GEMM operands rounded to bfloat16,\n"
"                fp32 sums, weights and element maths (needs a CPU with\n"
"                AVX512-BF16)\n"
"  --device d    cpu (default), cuda or check (a test device: see\n"
"                ULMFIT_DEVICE in the manual)\n"
"  -q            no progress on stderr\n"
"Output (classification): name TAB label TAB one probability per class.\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

struct opts {
	const char *model, *vocab, *eval, *split, *generate;
	const char *sp;
	struct sp_model *spm;   /* texts -> pieces (tok --sp), or NULL */
	int bs, threads, json, show, quiet;
	struct gen_opts gen;
	uint64_t seed;
	int seeded;
	const char *gpt2;       /* --gpt2 dir */
	int gpt2_tok, top_k, tset, nset;       /* gpt2_tok: 1 encode, 2 decode */
	int bf16;               /* --precision bf16 */
	const char *device;     /* --device */
};

/* ---- vocab and text -> ids -------------------------------------------- */

static int
exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* -v, else the metadata's vocab_path, else beside the model */
static struct vocab *
find_vocab(const struct opts *o, const struct pth *p)
{
	char *dir, *stem, path[4096];

	if (o->vocab)
		return vocab_load(o->vocab);
	struct ckpt_meta cm;
	ckpt_meta_read(&cm, p);
	if (cm.vocab_path && exists(cm.vocab_path)) {
		struct vocab *v = vocab_load(cm.vocab_path);
		ckpt_meta_free(&cm);
		return v;
	}
	ckpt_meta_free(&cm);
	dir = xstrdup(o->model);
	char *slash = strrchr(dir, '/');
	stem = xstrdup(slash ? slash + 1 : dir);
	if (slash)
		slash[1] = 0;
	else
		dir[0] = 0;
	char *dot = strrchr(stem, '.');
	if (dot)
		*dot = 0;
	snprintf(path, sizeof path, "%s%s.vocab", dir, stem);
	if (!exists(path))
		snprintf(path, sizeof path, "%svocab", dir);
	free(dir), free(stem);
	if (!exists(path))
		die("%s: no vocab: give the one it was trained with (-v vocab)",
		    o->model);
	return vocab_load(path);
}

static void
check_vocab(const struct pth *p, const struct vocab *v, const char *vname,
            int rows)
{
	ckpt_check_vocab(p, rows, v->n, v->xxh64, vname,
	                 "use the vocab the model was trained with");
}

struct textenc {
	struct tok_ctx *tc;
	struct tok_opts to;
	const struct vocab *v;
	struct buf esc;
};

/* fastai's predict path: the tokenizer without the replace_space
 * post-rule, then the vocab; a token holding a space cannot be in a
 * vocab built by the batch path, so it is xxunk there as here. */
static uint32_t
text_ids(struct textenc *te, const char *text, size_t n, int newlines,
         uint32_t **ids, size_t *cap)
{
	te->to.newlines = newlines;
	size_t k = tok_doc(te->tc, &te->to, text, n);
	if (k > UINT32_MAX)
		die("a document of more than 2^32 tokens");
	if (k > *cap) {
		*cap = k;
		*ids = xrealloc(*ids, k * sizeof **ids);
	}
	for (size_t i = 0; i < k; i++) {
		size_t len;
		const char *t = tok_token(te->tc, i, &len);
		if (memchr(t, ' ', len)) {
			(*ids)[i] = TK_UNK;
			continue;
		}
		te->esc.n = 0;
		tok_escape(&te->esc, t, len);
		(*ids)[i] = vocab_id(te->v, te->esc.p, te->esc.n);
	}
	return (uint32_t)k;
}

/* ---- output ----------------------------------------------------------- */

static void
print_pred(const struct opts *o, const char *name, char **labels, int nc,
           const float *p)
{
	int k = 0;
	for (int j = 1; j < nc; j++)
		if (p[j] > p[k])
			k = j;
	if (o->json) {
		fputs("{\"name\":", stdout);
		json_write_str(stdout, name);
		fputs(",\"label\":", stdout);
		json_write_str(stdout, labels[k]);
		printf(",\"index\":%d,\"probs\":{", k);
		for (int j = 0; j < nc; j++) {
			if (j)
				putchar(',');
			json_write_str(stdout, labels[j]);
			printf(":%.6f", p[j]);
		}
		fputs("}}\n", stdout);
		return;
	}
	tsv_write_str(stdout, name);
	putchar('\t');
	tsv_write_str(stdout, labels[k]);
	for (int j = 0; j < nc; j++)
		printf("\t%.6f", p[j]);
	putchar('\n');
}

/* ---- classification of texts ------------------------------------------ */

struct window {
	size_t n, cap;
	char **name;
	uint32_t **ids, *len;
	float *probs;
};

static void
window_add(struct window *w, const char *name, const uint32_t *ids,
           uint32_t n)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->name = xrealloc(w->name, w->cap * sizeof *w->name);
		w->ids = xrealloc(w->ids, w->cap * sizeof *w->ids);
		w->len = xrealloc(w->len, w->cap * sizeof *w->len);
	}
	w->name[w->n] = xstrdup(name);
	w->ids[w->n] = xmalloc((n ? n : 1) * sizeof **w->ids);
	memcpy(w->ids[w->n], ids, n * sizeof **w->ids);
	w->len[w->n] = n;
	w->n++;
}

struct classify {
	const struct opts *o;
	struct clas *c;
	char **labels;
	struct window w;
	struct clas_scratch s;
	size_t limit;            /* documents per window */
	uint64_t done;
	struct progress pr;
};

static void
flush_window(struct classify *k)
{
	struct window *w = &k->w;
	int nc = k->c->cfg.nclass;
	if (!w->n)
		return;
	w->probs = xrealloc(w->probs, w->n * nc * sizeof *w->probs);
	clas_predict(k->c, (const uint32_t *const *)w->ids, w->len, NULL, w->n,
	             w->probs, NULL, NULL, &k->s);
	for (size_t i = 0; i < w->n; i++) {
		print_pred(k->o, w->name[i], k->labels, nc, w->probs + i * nc);
		free(w->name[i]);
		free(w->ids[i]);
	}
	if (fflush(stdout) == EOF)
		die("stdout:");
	k->done += w->n;
	progress_set(&k->pr, k->done);
	w->n = 0;
}

static void
classify_doc(struct classify *k, const char *name, const uint32_t *ids,
             uint32_t n)
{
	if (n == 0)
		die("%s: no tokens", name);
	window_add(&k->w, name, ids, n);
	if (k->w.n >= k->limit)
		flush_window(k);
}

/* -f: a file (or "-") is one document; a folder is read as tok reads
 * one (docsrc_folder), each *.txt a document named by its path. */
struct classify_sink {
	struct classify *k;
	struct textenc *te;
	struct buf text;
	const char *name;
	uint32_t *ids;
	size_t cap;
};

static struct buf *
classify_begin(void *arg, const struct doc_meta *m)
{
	struct classify_sink *cs = arg;
	cs->name = m->name;
	cs->text.n = 0;
	return &cs->text;
}

static void
classify_end(void *arg, int newlines)
{
	struct classify_sink *cs = arg;
	uint32_t m = text_ids(cs->te, cs->text.p, cs->text.n, newlines,
	                      &cs->ids, &cs->cap);
	classify_doc(cs->k, cs->name, cs->ids, m);
}

static void
classify_path(struct classify_sink *cs, const char *path)
{
	struct docsrc_opts src;
	struct doc_sink s = { classify_begin, classify_end, cs };
	struct stat st;

	docsrc_opts_default(&src);
	if (strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		docsrc_folder(&src, path, &s);
	else
		docsrc_plain(&src, path, &s);
}

/* Lines of standard input, one document each, read in blocks straight from
 * the descriptor so that what is still waiting is known: before blocking
 * for more, the window read so far is classified and printed (flushed)
 * when poll says nothing more is there.  A pipe from a file or a program
 * that writes fast keeps the windows full (batched throughput, as
 * --eval); a program that writes one text and waits for the answer gets
 * it at once, from a model loaded once. */
static void
classify_lines(struct classify *k, struct textenc *te, uint32_t **ids,
               size_t *cap)
{
	char *buf = NULL, name[32];
	size_t n = 0, at = 0, bcap = 0;
	uint64_t ln = 0;
	int eof = 0;

	for (;;) {
		char *nl = at < n ? memchr(buf + at, '\n', n - at) : NULL;
		if (!nl && !eof) {
			if (at) {
				memmove(buf, buf + at, n - at);
				n -= at, at = 0;
			}
			if (n == bcap) {
				bcap = bcap ? 2 * bcap : 1 << 16;
				buf = xrealloc(buf, bcap);
			}
			struct pollfd pf = { .fd = 0, .events = POLLIN };
			if (k->w.n && poll(&pf, 1, 0) == 0)
				flush_window(k);
			ssize_t r = read(0, buf + n, bcap - n);
			if (r < 0 && errno != EINTR)
				die("stdin: read error:");
			if (r == 0)
				eof = 1;
			else if (r > 0)
				n += (size_t)r;
			continue;
		}
		if (!nl && at == n)
			break;
		size_t len = nl ? (size_t)(nl - (buf + at)) : n - at;
		uint32_t m = text_ids(te, buf + at, len, 1, ids, cap);
		snprintf(name, sizeof name, "%llu", (unsigned long long)++ln);
		classify_doc(k, name, *ids, m);
		at += len + (nl != NULL);
	}
	free(buf);
}

/* ---- evaluation on an id stream ---------------------------------------- */

static int
label_index(char **labels, int nc, const char *l)
{
	for (int k = 0; k < nc; k++)
		if (!strcmp(labels[k], l))
			return k;
	return -1;
}

/* the first 150 tokens of a document, as show_results prints them */
static void
show_text(const struct vocab *v, const uint32_t *ids, uint32_t n,
          struct buf *b)
{
	uint32_t shown = 0;
	for (uint32_t i = 0; i < n && shown < 150; i++) {
		if (ids[i] == TK_PAD)
			continue;
		if (shown++)
			buf_addc(b, ' ');
		buf_adds(b, v->tok[ids[i]]);
	}
}

static void
show_tokens(const struct vocab *v, const uint32_t *ids, uint32_t n)
{
	struct buf b = {0};
	show_text(v, ids, n, &b);
	fwrite(b.p, 1, b.n, stdout);
	buf_free(&b);
}

static int
evaluate(const struct opts *o, struct clas *c, char **labels,
         const struct vocab *v, const struct pth *p)
{
	struct ids_reader r;
	struct ids_doc d;
	int nc = c->cfg.nclass;
	FILE *f = open_in(o->eval);
	ids_open(&r, f, o->eval);
	if (v)
		ids_check_vocab(&r, v->n, v->xxh64, o->vocab ? o->vocab : "vocab");
	ckpt_check_vocab(p, c->enc.cfg.vocab, r.vocab_n, r.vocab_xxh64,
	                 o->eval, "numericalize with the model's vocab");

	struct clas_confusion cm;
	struct clas_scratch s = {0};
	struct window w = {0};
	uint32_t *y = NULL, *pred = NULL;
	size_t ycap = 0, limit = (size_t)c->maxB * 16;
	long shown = 0;
	struct progress pr;
	confusion_init(&cm, nc);
	progress_init(&pr, "eval", 0, o->quiet);
	if (o->show > 0 && !o->json)
		puts("text\tcategory\tcategory_");
	for (int more = 1; more;) {
		more = ids_next(&r, &d);
		if (more) {
			if (o->split && strcmp(d.split, o->split))
				continue;
			int k = label_index(labels, nc, d.label);
			if (k < 0)
				die("%s: document %llu has label '%s', which the "
				    "model does not know", o->eval,
				    (unsigned long long)d.index + 1, d.label);
			if (d.n == 0)
				die("%s: document %llu has no tokens", o->eval,
				    (unsigned long long)d.index + 1);
			if (w.n == ycap) {
				ycap = ycap ? 2 * ycap : 64;
				y = xrealloc(y, ycap * sizeof *y);
			}
			y[w.n] = (uint32_t)k;
			window_add(&w, "", d.ids, d.n);
			if (w.n < limit)
				continue;
		}
		if (!w.n)
			break;
		pred = xrealloc(pred, w.n * sizeof *pred);
		/* --json --show-results: each shown document's probabilities
		 * too, as classification prints them */
		int jshow = o->json && shown < o->show && v;
		if (jshow)
			w.probs = xrealloc(w.probs, w.n * nc * sizeof *w.probs);
		clas_predict(c, (const uint32_t *const *)w.ids, w.len, NULL, w.n,
		             jshow ? w.probs : NULL, pred, NULL, &s);
		for (size_t i = 0; i < w.n; i++) {
			confusion_add(&cm, y[i], pred[i]);
			if (jshow && shown < o->show) {
				struct buf b = {0};
				show_text(v, w.ids[i], w.len[i], &b);
				buf_addc(&b, 0);
				fputs("{\"text\":", stdout);
				json_write_str(stdout, b.p);
				fputs(",\"category\":", stdout);
				json_write_str(stdout, labels[y[i]]);
				fputs(",\"category_\":", stdout);
				json_write_str(stdout, labels[pred[i]]);
				fputs(",\"probs\":{", stdout);
				for (int j = 0; j < nc; j++) {
					if (j)
						putchar(',');
					json_write_str(stdout, labels[j]);
					printf(":%.6f", w.probs[i * nc + j]);
				}
				fputs("}}\n", stdout);
				buf_free(&b);
				shown++;
			}
			if (shown < o->show && v && !o->json) {
				show_tokens(v, w.ids[i], w.len[i]);
				putchar('\t');
				tsv_write_str(stdout, labels[y[i]]);
				putchar('\t');
				tsv_write_str(stdout, labels[pred[i]]);
				putchar('\n');
				shown++;
			}
			free(w.name[i]);
			free(w.ids[i]);
		}
		progress_set(&pr, confusion_total(&cm));
		w.n = 0;
	}
	progress_end(&pr);
	ids_close(&r);
	close_in(f, o->eval);
	if (!confusion_total(&cm))
		die("%s: no documents to evaluate%s%s", o->eval,
		    o->split ? " in split " : "", o->split ? o->split : "");

	uint64_t tot = confusion_total(&cm), right = 0;
	for (int k = 0; k < nc; k++)
		right += cm.m[(size_t)k * nc + k];
	if (o->json) {
		printf("{\"accuracy\":%.6f,\"correct\":%llu,\"total\":%llu,"
		       "\"classes\":[", confusion_accuracy(&cm),
		       (unsigned long long)right, (unsigned long long)tot);
		for (int k = 0; k < nc; k++) {
			double pk = confusion_precision(&cm, k);
			double rk = confusion_recall(&cm, k);
			printf("%s{\"label\":", k ? "," : "");
			json_write_str(stdout, labels[k]);
			if (isnan(pk))
				printf(",\"precision\":null");
			else
				printf(",\"precision\":%.6f", pk);
			if (isnan(rk))
				printf(",\"recall\":null");
			else
				printf(",\"recall\":%.6f", rk);
			printf(",\"support\":%llu,\"predicted\":[",
			       (unsigned long long)confusion_support(&cm, k));
			for (int j = 0; j < nc; j++)
				printf("%s%llu", j ? "," : "",
				       (unsigned long long)cm.m[(size_t)k * nc + j]);
			printf("]}");
		}
		printf("]}\n");
	} else {
		printf("accuracy\t%.6f\t%llu/%llu\n", confusion_accuracy(&cm),
		       (unsigned long long)right, (unsigned long long)tot);
		printf("class\tprecision\trecall\tsupport\n");
		for (int k = 0; k < nc; k++) {
			tsv_write_str(stdout, labels[k]);
			printf("\t%.6f\t%.6f\t%llu\n", confusion_precision(&cm, k),
			       confusion_recall(&cm, k),
			       (unsigned long long)confusion_support(&cm, k));
		}
		printf("true\\predicted");
		for (int k = 0; k < nc; k++) {
			putchar('\t');
			tsv_write_str(stdout, labels[k]);
		}
		putchar('\n');
		for (int k = 0; k < nc; k++) {
			tsv_write_str(stdout, labels[k]);
			for (int j = 0; j < nc; j++)
				printf("\t%llu",
				       (unsigned long long)cm.m[(size_t)k * nc + j]);
			putchar('\n');
		}
	}
	free(y), free(pred);
	free(w.name), free(w.ids), free(w.len), free(w.probs);
	clas_scratch_free(&s);
	confusion_free(&cm);
	return 0;
}

/* ---- generation -------------------------------------------------------- */

static int
generate(const struct opts *o, struct pth *p)
{
	struct awd_config ac;
	struct lm lm;
	struct ckpt_table t;

	if (!pth_find(p, "1.decoder.bias") || !clas_encoder_sizes(p, "0.", &ac))
		die("%s: not a language model checkpoint (no 0.encoder.weight "
		    "and 1.decoder.bias); --generate needs one from awdtrain or "
		    "fastai's language_model_learner", o->model);
	struct vocab *v = find_vocab(o, p);
	check_vocab(p, v, o->vocab ? o->vocab : "the vocab", ac.vocab);
	lm_create(&lm, &ac, 1, 72);
	ckpt_lm_table(&lm, &t);
	ckpt_load(&t, p, "", NULL);

	struct textenc te = { tok_ctx_new(), {0}, v, {0} };
	tok_opts_default(&te.to);
	te.to.replace_space = 0;
	te.to.sp = o->spm;
	uint32_t *ids = NULL;
	size_t cap = 0;
	uint32_t m = text_ids(&te, o->generate, strlen(o->generate), 0, &ids,
	                      &cap);
	uint32_t *out = xmalloc((m + o->gen.n_words) * sizeof *out);
	double *probs = xmalloc(ac.vocab * sizeof *probs);
	float *logits = xmalloc(ac.vocab * sizeof *logits);
	struct rng r;
	rng_seed(&r, o->seed, 0);
	int warned = lm_generate(&lm, ids, m, &o->gen, &r, out, probs, logits);
	if (warned)
		warn("no word had probability >= %g %d time%s; sampled from all "
		     "instead (as fastai does); try a lower --min-p", o->gen.min_p,
		     warned, warned > 1 ? "s" : "");
	struct buf b = {0};
	gen_text(v, out, m + o->gen.n_words, &b);
	fwrite(b.p, 1, b.n, stdout);
	putchar('\n');
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: write error");
	buf_free(&b);
	buf_free(&te.esc);
	tok_ctx_free(te.tc);
	free(ids), free(out), free(probs), free(logits);
	lm_free(&lm);
	vocab_free(v);
	return 0;
}

/* ---- infer --gpt2 (gpt2.h) ---------------------------------------------- */

static int
gpt2_mode(const struct opts *o, int argc, char **argv, int npath)
{
	if (!o->gpt2)
		usage_error("--encode, --decode and --top-k need --gpt2 dir");
	if (npath || o->eval || o->generate || o->vocab)
		usage_error("--gpt2 takes prompts, not -f, --eval, --generate "
		            "or -v");
	if (o->gpt2_tok) {
		if (argc || o->json || o->top_k || o->tset || o->nset)
			usage_error("--encode/--decode read stdin only");
		struct bpe *b = bpe_load_dir(o->gpt2);
		int ret = o->gpt2_tok == 1 ? gpt2_encode_lines(b, stdin, stdout)
		                           : gpt2_decode_lines(b, stdin, stdout);
		bpe_free(b);
		if (fflush(stdout) == EOF || ferror(stdout))
			die("stdout: write error");
		return ret;
	}
	struct gpt2_opts g = { .n = o->gen.n_words, .temp = o->tset ?
	                       o->gen.temperature : 0, .top_k = o->top_k,
	                       .json = o->json, .quiet = o->quiet,
	                       .seed = o->seed };
	if (!o->seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		g.seed = (uint64_t)ts.tv_sec * 1000000007ULL + ts.tv_nsec;
	}
	kern_set_threads(o->threads);   /* 0: every online CPU */
	device_use(o->device, o->threads);
	int ret = gpt2_complete(o->gpt2, (const char *const *)argv, argc, &g);
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: write error");
	return ret;
}

/* ---- main -------------------------------------------------------------- */

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "eval", required_argument, NULL, 'E' },
		{ "split", required_argument, NULL, 'S' },
		{ "show-results", required_argument, NULL, 'R' },
		{ "generate", required_argument, NULL, 'g' },
		{ "temperature", required_argument, NULL, 't' },
		{ "min-p", required_argument, NULL, 'P' },
		{ "unk", no_argument, NULL, 'U' },
		{ "seed", required_argument, NULL, 's' },
		{ "vocab", required_argument, NULL, 'v' },
		{ "gpt2", required_argument, NULL, 'G' },
		{ "encode", no_argument, NULL, 'N' },
		{ "decode", no_argument, NULL, 'D' },
		{ "top-k", required_argument, NULL, 'K' },
		{ "sp", required_argument, NULL, 'Y' },
		{ "precision", required_argument, NULL, 'X' },
		{ "device", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { .bs = 64 };
	const char **paths = NULL;
	int npath = 0, c;

	argv0 = "infer";
	blas_setup(argv);
	gen_opts_default(&o.gen);
	while ((c = getopt_long(argc, argv, "hqv:b:j:f:n:t:s:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': o.quiet = 1; break;
		case 'v': o.vocab = optarg; break;
		case 'b': o.bs = (int)parse_long(optarg, "-b", 1, 1 << 16); break;
		case 'j': o.threads = (int)parse_long(optarg, "-j", 1, 1024); break;
		case 'f':
			paths = xrealloc(paths, (npath + 1) * sizeof *paths);
			paths[npath++] = optarg;
			break;
		case 'J': o.json = 1; break;
		case 'E': o.eval = optarg; break;
		case 'Y': o.sp = optarg; break;
		case 'S': o.split = optarg; break;
		case 'R':
			o.show = (int)parse_long(optarg, "--show-results", 0,
			                         1L << 30);
			break;
		case 'g': o.generate = optarg; break;
		case 'n':
			o.gen.n_words = (int)parse_long(optarg, "-n", 0, 1 << 20);
			o.nset = 1;
			break;
		case 't':
			o.gen.temperature = parse_double(optarg, "--temperature");
			o.tset = 1;
			if (!(o.gen.temperature > 0))
				usage_error("--temperature: want a number > 0");
			break;
		case 'P':
			o.gen.min_p = parse_double(optarg, "--min-p");
			if (!(o.gen.min_p >= 0 && o.gen.min_p <= 1))
				usage_error("--min-p: want a probability");
			break;
		case 'U': o.gen.no_unk = 0; break;
		case 'G': o.gpt2 = optarg; break;
		case 'N': o.gpt2_tok = 1; break;
		case 'D': o.gpt2_tok = 2; break;
		case 'K':
			o.top_k = (int)parse_long(optarg, "--top-k", 1, 1 << 24);
			break;
		case 's':
			o.seed = (uint64_t)parse_long(optarg, "--seed", 0, LONG_MAX);
			o.seeded = 1;
			break;
		case 'W': o.device = optarg; break;
		case 'X':
			if (strcmp(optarg, "fp32") && strcmp(optarg, "bf16"))
				usage_error("--precision: want fp32 or bf16");
			o.bf16 = !strcmp(optarg, "bf16");
			break;
		default: usage(2);
		}
	argc -= optind, argv += optind;
	if (o.bf16 && !gemm_bf16_ok())
		die("--precision bf16: this CPU has no AVX512-BF16%s",
		    getenv("ULMFIT_NO_BF16") ? " (ULMFIT_NO_BF16 is set)" : "");
	kern_set_bf16(o.bf16);  /* every model below takes kern_default() */
	if ((o.gpt2 || o.gpt2_tok || o.top_k) && o.sp)
		usage_error("--sp goes with awdtrain/clastrain checkpoints, not"
		            " --gpt2");
	if (o.gpt2 || o.gpt2_tok || o.top_k)
		return gpt2_mode(&o, argc, argv, npath);
	if (argc < 1)
		usage_error("no model: infer model.pth [text ...]");
	o.model = argv[0];
	argc--, argv++;
	if (o.generate && (o.eval || npath || argc))
		usage_error("--generate takes no texts, -f or --eval");
	if (o.eval && (npath || argc))
		usage_error("--eval takes no texts or -f");
	if ((o.show || o.split) && !o.eval)
		usage_error("--show-results and --split need --eval");
	if (!o.seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o.seed = (uint64_t)ts.tv_sec * 1000000007ULL + ts.tv_nsec;
	}
	kern_set_threads(o.threads);    /* 0: every online CPU */
	device_use(o.device, o.threads);

	struct pth *p = pth_load(o.model);
	int ret;
	if (!o.eval || o.sp) {  /* texts: the checkpoint's SentencePiece model */
		char *used;
		o.spm = sp_for_pth(p, o.sp, 1, &used);
		free(used);
	}
	if (o.generate) {
		ret = generate(&o, p);
		pth_free(p);
		sp_free(o.spm);
		return ret;
	}

	struct clas cl;
	char **labels;
	/* rows for the batches that can come: texts given as arguments only
	 * need as many as there are */
	int maxB = !o.eval && !npath && argc && argc < o.bs ? argc : o.bs;
	clas_open_eval(&cl, p, maxB, &labels);
	int nc = cl.cfg.nclass;
	if (o.eval) {
		struct vocab *v = NULL;
		if (o.show || o.vocab)  /* a -v given is checked, used or not */
			v = find_vocab(&o, p);
		ret = evaluate(&o, &cl, labels, v, p);
		if (v)
			vocab_free(v);
	} else {
		struct vocab *v = find_vocab(&o, p);
		check_vocab(p, v, o.vocab ? o.vocab : "the vocab",
		            cl.enc.cfg.vocab);
		struct textenc te = { tok_ctx_new(), {0}, v, {0} };
		tok_opts_default(&te.to);
		te.to.replace_space = 0;
		te.to.sp = o.spm;
		struct classify k = { .o = &o, .c = &cl, .labels = labels };
		k.limit = (size_t)o.bs * 16;
		progress_init(&k.pr, "infer", 0, o.quiet);
		uint32_t *ids = NULL;
		size_t cap = 0;
		char name[32];
		for (int i = 0; i < argc; i++) {
			uint32_t m = text_ids(&te, argv[i], strlen(argv[i]), 0,
			                      &ids, &cap);
			snprintf(name, sizeof name, "%d", i + 1);
			classify_doc(&k, name, ids, m);
		}
		struct classify_sink cs = { .k = &k, .te = &te };
		for (int i = 0; i < npath; i++)
			classify_path(&cs, paths[i]);
		buf_free(&cs.text);
		free(cs.ids);
		if (!argc && !npath)
			classify_lines(&k, &te, &ids, &cap);
		flush_window(&k);
		progress_end(&k.pr);
		free(ids);
		free(k.w.name), free(k.w.ids), free(k.w.len), free(k.w.probs);
		clas_scratch_free(&k.s);
		buf_free(&te.esc);
		tok_ctx_free(te.tc);
		vocab_free(v);
		ret = 0;
	}
	clas_labels_free(labels, nc);
	clas_free(&cl);
	pth_free(p);
	sp_free(o.spm);
	free(paths);
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: write error");
	return ret;
}
