/* numz: .tok text -> id stream, through a vocab it builds or is given
 * (fastai Numericalize); -d turns an id stream back into .tok text. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/ids.h"
#include "core/spool.h"
#include "text/tokfile.h"
#include "core/util.h"
#include "data/vocab.h"

static const char usage_text[] =
"usage: numz [-hqd] [-v vocab | -w vocab | -c counts] [--counts]\n"
"            [-m max_vocab] [-f min_freq] [-o out] [file ...]\n"
"  -w vocab  build a vocab from the input (two passes), write it to vocab\n"
"  -v vocab  use this vocab (one streaming pass); unknown tokens -> 0\n"
"  -c counts only count the tokens (one pass) and write them to counts\n"
"  --counts  the inputs are counts files (numz -c) of shards, in corpus\n"
"            order: -w builds the vocab one pass over them all would\n"
"            (and no id stream), -c merges them\n"
"  -m n      --max-vocab: keep at most n entries (default 60000)\n"
"  -f n      --min-freq: drop tokens seen fewer than n times (default 3)\n"
"  -d        decode id streams back to .tok text (needs -v)\n"
"  -o out    write to out (default: stdout)\n"
"  -q        no progress on stderr\n"
"Input is .tok text (split TAB label TAB tokens); output an id stream.\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

/* One input of the build mode: a regular file is read twice, anything
 * else (a pipe, a terminal) is copied to an unlinked temp file while it
 * is counted, and the second pass reads the copy. */
struct src {
	const char *name;
	FILE *spool;             /* NULL: reopen name (or seek stdin) */
	off_t start;             /* where stdin began, for a regular stdin */
};

static int
is_regular(FILE *f)
{
	struct stat st;
	return fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
}

static uint64_t
file_size(FILE *f)
{
	struct stat st;
	return fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ?
	       (uint64_t)st.st_size : 0;
}

static void
parse_or_die(struct tokdoc *d, struct buf *line, const char *name,
             uint64_t lineno)
{
	int r;
	if (strlen(line->p) != line->n)
		die("%s: line %llu: a NUL byte; not .tok text (make it with "
		    "tok)", name, (unsigned long long)lineno);
	if ((r = tokdoc_parse(d, line->p)) == -2)
		die("%s: line %llu: a raw TAB among the tokens (two lines "
		    "merged?); .tok writes a TAB in a token as \\t", name,
		    (unsigned long long)lineno);
	if (r < 0)
		die("%s: line %llu: not a .tok line (want split TAB label TAB"
		    " tokens); make it with tok", name,
		    (unsigned long long)lineno);
}

/* Pass 1: count the tokens of one input, spooling it when it cannot be
 * read twice. */
static void
count_input(struct src *s, struct counter *c, struct progress *p,
            uint64_t *done, int twice)
{
	FILE *f = open_in(s->name);
	struct buf line = {0};
	struct tokdoc d = {0};
	uint64_t lineno = 0;

	if (is_regular(f) || !twice) {
		s->start = ftello(f);
	} else {
		s->spool = spool_open(s->name);
	}
	while (read_line(f, s->name, &line)) {
		lineno++;
		*done += line.n + 1;
		progress_set(p, *done);
		if (s->spool && (fwrite(line.p, 1, line.n, s->spool) != line.n ||
		                 putc('\n', s->spool) == EOF))
			die("temporary file for %s: write error:", s->name);
		parse_or_die(&d, &line, s->name, lineno);
		for (size_t i = 0; i < d.ntok; i++)
			counter_add(c, d.tok[i], strlen(d.tok[i]));
	}
	if (s->spool && (fflush(s->spool) == EOF || fseeko(s->spool, 0, SEEK_SET)))
		die("temporary file for %s:", s->name);
	if (f == stdin && !s->spool && twice) {
		if (fseeko(stdin, s->start, SEEK_SET))
			die("-: cannot rewind stdin:");
		clearerr(stdin);
	} else {
		close_in(f, s->name);
	}
	tokdoc_free(&d);
	buf_free(&line);
}

/* Encode one .tok input into the id stream. */
static void
encode_input(FILE *f, const char *name, const struct vocab *v,
             struct ids_writer *w, struct progress *p, uint64_t *done)
{
	struct buf line = {0};
	struct tokdoc d = {0};
	uint32_t *ids = NULL;
	size_t cap = 0;
	uint64_t lineno = 0;

	while (read_line(f, name, &line)) {
		uint32_t nunk;

		lineno++;
		*done += line.n + 1;
		progress_set(p, *done);
		parse_or_die(&d, &line, name, lineno);
		if (d.ntok > UINT32_MAX)
			die("%s: line %llu: too many tokens", name,
			    (unsigned long long)lineno);
		if (d.ntok > cap) {
			cap = d.ntok;
			ids = xrealloc(ids, cap * sizeof *ids);
		}
		nunk = vocab_encode(v, d.tok, d.ntok, ids);
		ids_write(w, d.split, d.label, ids, (uint32_t)d.ntok, nunk);
	}
	free(ids);
	tokdoc_free(&d);
	buf_free(&line);
}

static int
decode(char **files, int nfiles, const char *vocab_path, const char *out)
{
	struct vocab *v = vocab_load(vocab_path);
	struct out *o;

	vocab_check_specials(v, vocab_path);
	struct buf b = {0};
	FILE *f = open_in(files[0]);

	o = out_open(out, 0);
	for (int i = 0; i < nfiles; i++) {
		struct ids_reader r;
		struct ids_doc d;

		if (i)
			f = open_in(files[i]);
		ids_open(&r, f, files[i]);
		ids_check_vocab(&r, v->n, v->xxh64, vocab_path);
		while (ids_next(&r, &d)) {
			b.n = 0;
			ids_format_tok(&b, v, &d);
			if (fwrite(b.p, 1, b.n, o->f) != b.n)
				die("%s: write error:", out);
		}
		ids_close(&r);
		close_in(f, files[i]);
	}
	buf_free(&b);
	vocab_free(v);
	return out_close(o);
}

/* -c and --counts: count .tok inputs, or merge counts files, in one pass;
 * write the counts (-c) or the vocab they make (-w). */
static int
count_only(char **files, int nfiles, int counts_in, const char *counts_out,
           const char *vocab_out, long max_vocab, long min_freq, int quiet)
{
	struct counter cnt;
	struct progress p;
	uint64_t total = 0, done = 0;
	struct out *o;

	for (int i = 0; i < nfiles; i++)
		if (strcmp(files[i], "-")) {
			FILE *f = open_in(files[i]);
			total += file_size(f);
			close_in(f, files[i]);
		}
	counter_init(&cnt);
	progress_init(&p, "numz: counting", total, quiet);
	for (int i = 0; i < nfiles; i++) {
		if (counts_in) {
			FILE *f = open_in(files[i]);
			uint64_t sz = file_size(f);
			counter_read(&cnt, f, files[i]);
			close_in(f, files[i]);
			progress_set(&p, done += sz);
		} else {
			struct src s = { files[i], NULL, 0 };
			count_input(&s, &cnt, &p, &done, 0);
		}
	}
	progress_end(&p);
	if (counts_out) {
		o = out_open(counts_out, 0);
		counter_write(&cnt, o->f, counts_out);
	} else {
		struct vocab *v = vocab_build(&cnt, (uint32_t)max_vocab,
		                              (uint64_t)min_freq);
		o = out_open(vocab_out, 0);
		vocab_write(v, o->f, vocab_out);
		vocab_free(v);
	}
	counter_free(&cnt);
	return out_close(o);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "max-vocab", required_argument, NULL, 'm' },
		{ "min-freq", required_argument, NULL, 'f' },
		{ "decode", no_argument, NULL, 'd' },
		{ "counts", no_argument, NULL, 'C' },
		{ 0, 0, 0, 0 }
	};
	const char *out = "-", *vocab_in = NULL, *vocab_out = NULL;
	const char *counts_out = NULL;
	long max_vocab = VOCAB_MAX_DEFAULT, min_freq = VOCAB_MIN_FREQ_DEFAULT;
	int c, quiet = 0, dec = 0, counts_in = 0, out_given = 0, nfiles, ret = 0;
	char **files, *stdin_only[] = { "-", NULL };
	struct progress p;
	uint64_t total = 0, done = 0;
	struct vocab *v;
	struct out *o, *ov = NULL;
	struct ids_writer w;
	char *params = NULL;

	argv0 = "numz";
	while ((c = getopt_long(argc, argv, "hqdv:w:c:m:f:o:", longopts,
	                        NULL)) != -1)
		switch (c) {
		case 'h': usage(0);
		case 'q': quiet = 1; break;
		case 'd': dec = 1; break;
		case 'v': vocab_in = optarg; break;
		case 'w': vocab_out = optarg; break;
		case 'c': counts_out = optarg; break;
		case 'C': counts_in = 1; break;
		case 'm': max_vocab = parse_long(optarg, "-m", 1, UINT32_MAX - 16);
		          break;
		case 'f': min_freq = parse_long(optarg, "-f", 0, 1L << 62); break;
		case 'o': out = optarg; out_given = 1; break;
		default:  usage(2);
		}
	files = optind < argc ? argv + optind : stdin_only;
	nfiles = optind < argc ? argc - optind : 1;
	if (vocab_in && vocab_out)
		usage_error("-v (use a vocab) and -w (build one) exclude each"
		            " other");
	if (dec && !vocab_in)
		usage_error("-d needs the vocab the stream was made with (-v)");
	if (dec && vocab_out)
		usage_error("-d decodes; it cannot build a vocab (-w)");
	if (!dec && !vocab_in && !vocab_out && !counts_out)
		usage_error("give -w VOCAB to build a vocab, -v VOCAB to use"
		            " one, or -c COUNTS to count");
	if (vocab_out && !strcmp(vocab_out, "-") && !strcmp(out, "-"))
		usage_error("-w - and the id stream cannot both go to stdout;"
		            " use -o");
	if (vocab_out && !strcmp(vocab_out, out))
		usage_error("-w and -o name the same file");
	if (counts_out && (vocab_in || vocab_out || dec))
		usage_error("-c only counts; it goes with neither -v, -w nor -d");
	if (counts_in && !vocab_out && !counts_out)
		usage_error("--counts: give -w VOCAB to build a vocab from the "
		            "counts, or -c COUNTS to merge them");
	if ((counts_out || counts_in) && out_given)
		usage_error("-o: %s writes no id stream", counts_out ? "-c" :
		            "--counts");
	if (dec)
		return decode(files, nfiles, vocab_in, out);
	if (counts_out || counts_in)
		return count_only(files, nfiles, counts_in, counts_out, vocab_out,
		                  max_vocab, min_freq, quiet);

	for (int i = 0; i < nfiles; i++)
		if (strcmp(files[i], "-")) {
			/* fail on a missing file before any output exists */
			FILE *f = open_in(files[i]);
			total += file_size(f);
			close_in(f, files[i]);
		}

	if (vocab_in) {         /* apply: one pass, constant memory */
		v = vocab_load(vocab_in);
		vocab_check_specials(v, vocab_in);
		o = out_open(out, 1);
		params_add(&params, "tool", "numz");
		params_add(&params, "vocab", "%s", vocab_in);
		ids_begin(&w, o->f, out, v->n, v->xxh64, params);
		progress_init(&p, "numz", total, quiet);
		for (int i = 0; i < nfiles; i++) {
			FILE *f = open_in(files[i]);
			encode_input(f, files[i], v, &w, &p, &done);
			close_in(f, files[i]);
		}
	} else {                /* build: count, make the vocab, encode */
		struct src *src = xcalloc(nfiles, sizeof *src);
		struct counter cnt;

		counter_init(&cnt);
		progress_init(&p, "numz: counting", total, quiet);
		for (int i = 0; i < nfiles; i++) {
			src[i].name = files[i];
			count_input(&src[i], &cnt, &p, &done, 1);
		}
		progress_end(&p);
		v = vocab_build(&cnt, (uint32_t)max_vocab, (uint64_t)min_freq);
		counter_free(&cnt);
		ov = out_open(vocab_out, 0);
		vocab_write(v, ov->f, vocab_out);
		o = out_open(out, 1);
		params_add(&params, "tool", "numz");
		params_add(&params, "max_vocab", "%ld", max_vocab);
		params_add(&params, "min_freq", "%ld", min_freq);
		ids_begin(&w, o->f, out, v->n, v->xxh64, params);
		total = done;
		done = 0;
		progress_init(&p, "numz", total, quiet);
		for (int i = 0; i < nfiles; i++) {
			FILE *f = src[i].spool ? src[i].spool : open_in(files[i]);
			encode_input(f, files[i], v, &w, &p, &done);
			if (src[i].spool)
				fclose(src[i].spool);
			else
				close_in(f, files[i]);
		}
		free(src);
	}
	progress_end(&p);
	ids_end(&w);
	free(params);
	vocab_free(v);
	if (ov && (out_flush(ov) | out_flush(o))) {
		out_abort(ov);          /* neither output without the other */
		out_abort(o);
		return 1;
	}
	if (ov)
		ret |= out_close(ov);
	ret |= out_close(o);
	return ret;
}
