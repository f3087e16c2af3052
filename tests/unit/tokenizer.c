/* tokenizer: every vector of tests/data/tokenizer_vectors.jsonl (the spec's
 * file: kinds rule, spacy_only, pipeline), the spec §1.5 examples and
 * acceptance facts, the seed notebook outputs, and input hygiene. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tap.h"
#include "text/tokenizer.h"
#include "text/tokint.h"
#include "core/util.h"

/* ---- a small JSON reader: objects of strings and arrays of strings ---- */

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static unsigned
hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
	}
	return v;
}

/* parse a JSON string at p (on the quote) into b; returns the end */
static const char *
json_str(const char *p, struct buf *b)
{
	b->n = 0;
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\') {
			buf_addc(b, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'n': buf_addc(b, '\n'); break;
		case 't': buf_addc(b, '\t'); break;
		case 'r': buf_addc(b, '\r'); break;
		case 'b': buf_addc(b, '\b'); break;
		case 'f': buf_addc(b, '\f'); break;
		case 'u': {
			unsigned c = hex4(p + 1);
			p += 4;
			if (c >= 0xD800 && c < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
				c = 0x10000 + ((c - 0xD800) << 10) + (hex4(p + 3) - 0xDC00);
				p += 6;
			}
			buf_addcp(b, c);
			break;
		}
		default: buf_addc(b, *p);
		}
	}
	buf_addc(b, 0);
	b->n--;
	return p + 1;
}

struct vec {
	struct buf kind, rule, input, output;
	struct buf toks;        /* tokens joined by \x01 */
	int has_toks;
};

static void
parse_vec(const char *line, struct vec *v)
{
	struct buf key = {0}, val = {0};
	const char *p = skip_ws(line);

	v->kind.n = v->rule.n = v->input.n = v->output.n = v->toks.n = 0;
	v->has_toks = 0;
	if (*p == '{')
		p++;
	for (;;) {
		p = skip_ws(p);
		if (*p != '"')
			break;
		p = json_str(p, &key);
		p = skip_ws(p);
		p = skip_ws(p + 1);          /* ':' */
		if (*p == '[') {
			p = skip_ws(p + 1);
			v->has_toks = 1;
			int first = 1;
			while (*p == '"') {
				p = json_str(p, &val);
				if (!first)
					buf_addc(&v->toks, 1);
				first = 0;
				buf_add(&v->toks, val.p, val.n);
				p = skip_ws(p);
				if (*p == ',')
					p = skip_ws(p + 1);
			}
			p++;                 /* ']' */
		} else {
			p = json_str(p, &val);
			struct buf *dst = !strcmp(key.p, "kind") ? &v->kind :
				!strcmp(key.p, "rule") ? &v->rule :
				!strcmp(key.p, "input") ? &v->input :
				!strcmp(key.p, "output") ? &v->output : NULL;
			if (dst)
				buf_add(dst, val.p, val.n);
		}
		p = skip_ws(p);
		if (*p == ',')
			p++;
	}
	buf_addc(&v->kind, 0); buf_addc(&v->rule, 0);
	buf_addc(&v->input, 0); buf_addc(&v->output, 0); buf_addc(&v->toks, 0);
	v->kind.n--; v->rule.n--; v->input.n--; v->output.n--; v->toks.n--;
	buf_free(&key);
	buf_free(&val);
}

/* ---- helpers ---- */

static struct tok_ctx *C;

/* a test description on one line: \n and \t shown escaped */
static const char *
esc(const char *s)
{
	static char b[4][512];
	static int k;
	char *o = b[k = (k + 1) % 4];
	size_t n = 0;
	for (; *s && n < sizeof b[0] - 3; s++) {
		if (*s == '\n' || *s == '\t') {
			o[n++] = '\\';
			o[n++] = *s == '\n' ? 'n' : 't';
		} else {
			o[n++] = *s;
		}
	}
	o[n] = 0;
	return o;
}

/* tokens of the last call joined by \x01 (raw, not escaped) */
static char *
joined(size_t n)
{
	struct buf b = {0};
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *t = tok_token(C, i, &l);
		if (i)
			buf_addc(&b, 1);
		buf_add(&b, t, l);
	}
	buf_addc(&b, 0);
	return b.p;
}

static void
show(const char *what, const char *s)
{
	printf("#   %s: ", what);
	for (; *s; s++)
		if (*s == 1)
			fputs(" | ", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else if (*s == '\t')
			fputs("\\t", stdout);
		else
			putchar(*s);
	putchar('\n');
}

static int
same(const char *got, const char *want)
{
	if (!strcmp(got, want))
		return 1;
	show("got ", got);
	show("want", want);
	return 0;
}

/* pipeline: space-separated expected tokens; "|" separates when a token
 * holds a space-like character (none of the ones below do) */
static int
pipe_is(const char *in, const char *want_spaced)
{
	struct tok_opts o;
	tok_opts_default(&o);
	size_t n = tok_doc(C, &o, in, strlen(in));
	char *got = joined(n);
	char *want = xstrdup(want_spaced);
	for (char *p = want; *p; p++)
		if (*p == ' ')
			*p = 1;
	int r = same(got, want);
	free(got);
	free(want);
	return r;
}

static int
spacy_is(const char *in, const char *want_bar)
{
	size_t n = tok_spacy_only(C, in, strlen(in));
	char *got = joined(n);
	char *want = xstrdup(want_bar);
	for (char *p = want; *p; p++)
		if (*p == '|')
			*p = 1;
	int r = same(got, want);
	free(got);
	free(want);
	return r;
}

static int
rule_is(int rule, const char *in, const char *want)
{
	struct tok_opts o;
	struct buf b = {0};
	tok_opts_default(&o);
	tok_apply_rule(rule, &o, &b, in, strlen(in));
	buf_addc(&b, 0);
	int r = same(b.p, want);
	buf_free(&b);
	return r;
}

static void
vectors(const char *path)
{
	struct vec v;
	FILE *f = fopen(path, "r");
	struct buf line = {0};

	memset(&v, 0, sizeof v);
	int nrule = 0, nspacy = 0, npipe = 0;

	if (!f) {
		ok(0, "open %s", path);
		return;
	}
	while (read_line(f, path, &line)) {
		if (!line.n)
			continue;
		parse_vec(line.p, &v);
		if (!strcmp(v.kind.p, "rule")) {
			int r = tok_rule_by_name(v.rule.p);
			ok(r >= 0 && rule_is(r, v.input.p, v.output.p),
			   "rule %s: %s", v.rule.p, esc(v.input.p));
			nrule++;
		} else if (!strcmp(v.kind.p, "spacy_only") ||
		           !strcmp(v.kind.p, "pipeline")) {
			struct tok_opts o;
			tok_opts_default(&o);
			int sp = v.kind.p[0] == 's';
			size_t n = sp ? tok_spacy_only(C, v.input.p, v.input.n)
			              : tok_doc(C, &o, v.input.p, v.input.n);
			char *got = joined(n);
			ok(v.has_toks && same(got, v.toks.p), "%s: %s",
			   v.kind.p, esc(v.input.p));
			free(got);
			sp ? nspacy++ : npipe++;
		} else {
			ok(0, "unknown vector kind %s", v.kind.p);
		}
	}
	fclose(f);
	buf_free(&v.kind); buf_free(&v.rule); buf_free(&v.input);
	buf_free(&v.output); buf_free(&v.toks);
	ok(nrule + nspacy + npipe == 82, "82 vectors read (%d rule, %d spacy_only, "
	   "%d pipeline)", nrule, nspacy, npipe);
	buf_free(&line);
}


/* spec §1.5, all 35 rows (space-separated expected tokens) */
static const char *const table[][2] = {
	{"It is. It is it.", "xxbos xxmaj it is . xxmaj it is it ."},
	{"This isn't a problem", "xxbos xxmaj this is n't a problem"},
	{"I'M SHOUTING", "xxbos xxup i 'm xxup shouting"},
	{"Jeremy Howard", "xxbos xxmaj jeremy xxmaj howard"},
	{"I liked this movie because", "xxbos i liked this movie because"},
	{"I've rented it on DVD. It's TERRIBLE!",
	 "xxbos xxmaj i 've rented it on xxup dvd . xxmaj it 's xxup terrible !"},
	{"Don't waste your money.", "xxbos xxmaj do n't waste your money ."},
	{"I can't believe it won't work; cannot be.",
	 "xxbos i ca n't believe it wo n't work ; can not be ."},
	{"You're gonna love it, gotta see it.",
	 "xxbos xxmaj you 're gon na love it , got ta see it ."},
	{"Let's go! We'll see; they'd know.",
	 "xxbos xxmaj let 's go ! xxmaj we 'll see ; they 'd know ."},
	{"He's a detective with the L.A.P.D., and he's good.",
	 "xxbos xxmaj he 's a detective with the xxup l.a.p.d . , and he 's good ."},
	{"(Mr. Director) thought", "xxbos ( mr . xxmaj director ) thought"},
	{"The U.S. version was released in 1999.",
	 "xxbos xxmaj the xxup u.s . version was released in 1 xxrep 3 9 ."},
	{"It cost $5.00 or 10% of 1,000 dollars.",
	 "xxbos xxmaj it cost $ 5.00 or 10 % of 1 , xxrep 3 0 dollars ."},
	{"It's 3:30 and 1.5 hours (approx.)",
	 "xxbos xxmaj it 's 3:30 and 1.5 hours ( approx . )"},
	{"at 5pm or 10:30 a.m. today", "xxbos at 5 pm or 10:30 a.m. today"},
	{"e.g. this, i.e. that", "xxbos e.g. this , i.e. that"},
	{"The ten-year-old boy's e-mail",
	 "xxbos xxmaj the ten - year - old boy 's e - mail"},
	{"John's car, the kids' toys", "xxbos xxmaj john 's car , the kids ' toys"},
	{"\"Quoted\" text 'single'", "xxbos \" quoted \" text ' single '"},
	{"I waited...and waited....", "xxbos i waited \xE2\x80\xA6 and waited \xE2\x80\xA6 ."},
	{"Noooo!!!! This is sooo bad",
	 "xxbos n xxrep 4 o xxrep 4 ! xxmaj this is s xxrep 3 o bad"},
	{"ah ah ah ah.", "xxbos xxwrep 4 ah ."},
	{"*** SPOILERS *** continued",
	 "xxbos xxrep 3 * xxup spoilers xxrep 3 * continued"},
	{"Line one<br /><br />Line two", "xxbos xxmaj line one \n\n xxmaj line two"},
	{"end. <br /><br /> Next", "xxbos end . \n\n\xE2\x96\x81 xxmaj next"},
	{"A &amp; B, it&#39;s &quot;great&quot;",
	 "xxbos a & & xxup b , it & 's & ' great & '"},
	{"and/or #1 fan w/o doubt", "xxbos and / or # 1 fan w / o doubt"},
	{"OK, THE END.", "xxbos xxup ok , xxup the xxup end ."},
	{"\xC3\x89" "COLE and \xC3\x89" "cole and caf\xC3\xA9",
	 "xxbos \xC3\xA9" "cole and \xC3\xA9" "cole and caf\xC3\xA9"},
	{"That was great:) really", "xxbos xxmaj that was great :) really"},
	{"you're in for-- specifically", "xxbos you 're in for-- specifically"},
	{"Send it to me@example.com now", "xxbos xxmaj send it to me@example.com now"},
	{"it\xE2\x80\x99s curly and don\xE2\x80\x99t",
	 "xxbos it \xE2\x80\x99s curly and do n\xE2\x80\x99t"},
	{"Use <unk> tokens", "xxbos xxmaj use xxunk tokens"},
};

static void
examples(void)
{
	for (size_t i = 0; i < sizeof table / sizeof *table; i++)
		ok(pipe_is(table[i][0], table[i][1]), "spec 1.5 #%zu: %s", i + 1,
		   esc(table[i][0]));
	/* acceptance facts */
	ok(spacy_is("U.S. and e.g. and Mr. Smith", "U.S.|and|e.g.|and|Mr.|Smith"),
	   "raw spaCy keeps U.S. e.g. Mr. whole");
	ok(spacy_is("This isn't the easiest text.",
	            "This|is|n't|the|easiest|text|."), "raw spaCy splits n't");
	ok(rule_is(TOK_REPLACE_REP, "aa", "aa"), "replace_rep(aa) unchanged");
	ok(rule_is(TOK_REPLACE_WREP, "ah ah ah ah ", " xxwrep 4 ah  "),
	   "replace_wrep keeps two trailing spaces");
	/* spec §15.3 and 15.4 */
	ok(pipe_is("Mr. Smith", "xxbos xxmaj mr . xxmaj smith"),
	   "Title-case exceptions never fire");
	ok(rule_is(TOK_FIX_HTML, "&amp;", "&&"), "fix_html keeps the & of &amp;");
	/* §1.2: the single-string path keeps the space of "\n " */
	struct tok_opts o;
	tok_opts_default(&o);
	o.replace_space = 0;
	size_t n = tok_doc(C, &o, "end. \n Next", 11);
	char *g = joined(n);
	ok(same(g, "xxbos\001end\001.\001\n \001xxmaj\001next"),
	   "predict path: \"\\n \" keeps its space");
	free(g);
}

/* the seed notebook (seed 003) printed these */
static void
seeds(void)
{
	/* spaCy's whitespace split alone */
	ok(spacy_is("a  b", "a| |b"), "spaCy: the second space of two is a token");
	ok(spacy_is(" a", " |a"), "spaCy: a leading space is a token");
	ok(spacy_is("a \n\nb ", "a|\n\n|b"), "spaCy: one space absorbed before a newline run");
	ok(spacy_is("Hello:)", "Hello|:)"), "spaCy: merge pass joins : and )");
	ok(spacy_is("Hello: )", "Hello|:|)"), "spaCy: no merge across a space");
	ok(spacy_is("It is. It is it.", "It|is|.|It|is|it|."),
	   "seed 003: spacy(['It is. It is it.'])");
	ok(spacy_is("The U.S. dollar $1 is $1.00.",
	            "The|U.S.|dollar|$|1|is|$|1.00|."),
	   "seed 003: spacy(['The U.S. dollar $1 is $1.00.'])");
	ok(pipe_is("It is. It is it.", "xxbos xxmaj it is . xxmaj it is it ."),
	   "seed 003: tkn('It is. It is it.')");
	ok(pipe_is("&copy;   Fast.ai www.fast.ai/INDEX",
	           "xxbos \xC2\xA9 xxmaj fast.ai xxrep 3 w .fast.ai / xxup index"),
	   "seed 003: tkn('&copy;   Fast.ai www.fast.ai/INDEX')");
	/* the review's opening (its first 75 characters are printed, the
	 * rest is rebuilt from the printed tokens) */
	const char *rev = "I know it's an action film but it would help if there "
	"was a vague plot, rather than just one long drawn-out joke about "
	"muddling twins";
	ok(spacy_is(rev, "I|know|it|'s|an|action|film|but|it|would|help|if|"
	            "there|was|a|vague|plot|,|rather|than|just|one|long|drawn|-|"
	            "out|joke|about|muddling|twins"),
	   "seed 003: first 30 spaCy tokens of the review");
	ok(pipe_is(rev, "xxbos i know it 's an action film but it would help if "
	           "there was a vague plot , rather than just one long drawn - "
	           "out joke about muddling twins"),
	   "seed 003: first 31 tkn tokens of the review");
	const char *stream = "In this chapter, we will go back over the example "
	"of classifying movie reviews we studied in chapter 1 and dig deeper "
	"under the surface. First we will look at the processing steps necessary "
	"to convert text into numbers and how to customize it. By doing this, "
	"we'll have another example of the PreProcessor used in the data block "
	"API.\nThen we will study how we build a language model and train it for "
	"a while.";
	/* the 6 x 15 table of the notebook, row by row */
	const char *want =
	"xxbos xxmaj in this chapter , we will go back over the example of classifying "
	"movie reviews we studied in chapter 1 and dig deeper under the surface . xxmaj "
	"first we will look at the processing steps necessary to convert text into numbers and "
	"how to customize it . xxmaj by doing this , we 'll have another example "
	"of the preprocessor used in the data block xxup api . \n xxmaj then we "
	"will study how we build a language model and train it for a while .";
	struct tok_opts o;
	tok_opts_default(&o);
	o.replace_space = 0;             /* tkn(stream): the single-string path */
	size_t n = tok_doc(C, &o, stream, strlen(stream));
	ok(n == 90, "seed 003: the stream is 90 tokens (got %zu)", n);
	char *got = joined(n);
	char *w = xstrdup(want);
	for (char *p = w; *p; p++)
		if (*p == ' ')
			*p = 1;
	ok(same(got, w), "seed 003: the 90-token stream table");
	free(got);
	free(w);
}

static int
doc_is(const char *in, size_t n, const char *want_bar)
{
	struct tok_opts o;
	tok_opts_default(&o);
	size_t k = tok_doc(C, &o, in, n);
	char *got = joined(k);
	char *w = xstrdup(want_bar);
	for (char *p = w; *p; p++)
		if (*p == '|')
			*p = 1;
	int r = same(got, w);
	free(got);
	free(w);
	return r;
}

static void
hygiene(void)
{
	ok(doc_is("", 0, "xxbos"), "empty document is xxbos alone");
	ok(doc_is(" \n\t ", 4, "xxbos"), "blank document is xxbos alone");
	/* U+FFFD is in spaCy's symbol class: an infix */
	ok(doc_is("a\xFF" "b", 3, "xxbos|a|\xEF\xBF\xBD|b"), "invalid byte -> U+FFFD");
	ok(doc_is("x \xE2\x82 y", 6, "xxbos|x|\xEF\xBF\xBD|y"),
	   "truncated sequence -> one U+FFFD");
	ok(doc_is("x \xF0\x80\x80 y", 7, "xxbos|x|xxrep|3|\xEF\xBF\xBD|y"),
	   "F0 80 80: three maximal subparts, three U+FFFD");
	ok(doc_is("x \xED\xA0\x80 y", 7, "xxbos|x|xxrep|3|\xEF\xBF\xBD|y"),
	   "encoded surrogate -> U+FFFD each byte");
	ok(doc_is("a\0b c", 5, "xxbos|a|\xEF\xBF\xBD|b|c"), "NUL -> U+FFFD");
	ok(doc_is("\xC3", 1, "xxbos|\xEF\xBF\xBD"), "lone lead byte at the end");
	ok(tok_utf8_clean("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10) &&
	   !tok_utf8_clean("a\0", 2) && !tok_utf8_clean("\xC3", 1) &&
	   !tok_utf8_clean("\xE2\x82", 2) && !tok_utf8_clean("\xED\xA0\x80", 3) &&
	   !tok_utf8_clean("\xC0\x80", 2) && !tok_utf8_clean("\xF4\x90\x80\x80", 4),
	   "tok_utf8_clean: valid, NUL, truncated, surrogate, overlong, > U+10FFFF");
	struct buf b = {0};
	tok_newlines(&b, "a\r\nb\rc", 6);
	ok(b.n == 5 && !memcmp(b.p, "a\nb\nc", 5), "universal newlines");
	buf_free(&b);
	/* unicode classes and lowercase as Python has them */
	ok(doc_is("caf\xC3\x89 \xCE\x9F\xCE\xA3 \xC4\xB0", 13,
	          "xxbos|caf\xC3\xA9|\xCE\xBF\xCF\x82|i\xCC\x87"),
	   "lower: final sigma, U+0130 -> i + U+0307");
	ok(doc_is("a\xC2\xA0" "b\xE2\x80\x83" "c", 8,
	          "xxbos|a|\xC2\xA0|b|\xE2\x80\x83|c"),
	   "NBSP and EM SPACE are whitespace tokens");
	ok(rule_is(TOK_FIX_HTML, "&lt;&gt &#x41;&#65&#0;&#x110000;&ampx; &#;&zz;",
	           "<> AA\xEF\xBF\xBD\xEF\xBF\xBD&x; &#;&zz;"),
	   "html.unescape: legacy names, numeric refs, prefixes");
	ok(rule_is(TOK_FIX_HTML, "&#128;&#x81;&#1;&notit;",
	           "\xE2\x82\xAC\xC2\x81\xC2\xACit;"),
	   "html.unescape: C1 remap, invalid code points, longest prefix");
	ok(rule_is(TOK_FIX_HTML, "x#36;y quot;z #146; a&amp;b;amp;",
	           "x$y 'z ' a&&b;&"), "fix_html: the ;-patterns, in order");
	ok(rule_is(TOK_FIX_HTML, "a. @.@ . b", "a \xE2\x80\xA6 b"),
	   "fix_html: ' @.@ ' runs before '...', which it can create");
	ok(rule_is(TOK_REPLACE_WREP, "ok ah ah ah ok ok ok",
	           "ok xxwrep 3 ah  ok ok ok"),
	   "replace_wrep: E is consumed, next run needs its own space");
	ok(rule_is(TOK_REPLACE_WREP, "ah ah ah ah ahi", " xxwrep 4 ah  ahi"),
	   "replace_wrep backtracks before a longer word");
	ok(rule_is(TOK_REPLACE_WREP, "ah ah ah ok ok ok ok",
	           " xxwrep 3 ah  ok xxwrep 3 ok "), "replace_wrep: two runs");
}

/* This thread's CPU seconds: unlike the wall clock, not stretched by
 * other jobs on the machine. */
static double
cpu_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A 10 MB single line must tokenize in linear time.  No deadline (CI
 * machines are faster and slower than ours): the CPU time of 10 MB over
 * that of 1 MB is about 10 when linear, 100 when quadratic. */
static void
big(void)
{
	const char *w = "The quick brown fox, it's 10% (approx.) http://x.org/a ... ";
	size_t wl = strlen(w), n = 0, want = 10u << 20;
	char *s = xmalloc(want + wl);
	while (n < want) {
		memcpy(s + n, w, wl);
		n += wl;
	}
	struct tok_opts o;
	tok_opts_default(&o);
	size_t per = tok_doc(C, &o, w, wl) - 1;
	size_t small = n / wl / 10 * wl;  /* whole copies, about 1 MB */
	double t0 = cpu_sec();
	size_t k1 = tok_doc(C, &o, s, small);
	double t1 = cpu_sec();
	size_t k = tok_doc(C, &o, s, n);
	double t2 = cpu_sec();
	ok(k == 1 + per * (n / wl), "10 MB line: %zu tokens (%zu per copy)", k, per);
	ok(k1 == 1 + per * (small / wl), "1 MB line: %zu tokens", k1);
	double r = (t2 - t1) / (t1 - t0 > 1e-6 ? t1 - t0 : 1e-6);
	ok(r < 30, "10 MB line: %.1fx the CPU time of 1 MB (%.2f s)", r, t2 - t1);
	free(s);
}

/* Fuzz findings (fuzz/regress/tok): the building blocks on an empty buf,
 * whose p is NULL, and spans that are all prefix (find_suffix of ""). */
static void
empty_bufs(void)
{
	struct buf out = {0};
	struct tok_opts o;
	tok_opts_default(&o);
	tok_html_unescape(&out, NULL, 0);
	ok(out.n == 0, "html_unescape of an empty buf (NULL): nothing");
	for (int r = 0; r < TOK_NRULES; r++) {
		out.n = 0;
		tok_apply_rule(r, &o, &out, NULL, 0);
		ok(r == TOK_LOWERCASE ? out.n == 6 && !memcmp(out.p, "xxbos ", 6)
		                      : out.n == 0,
		   "rule %s on an empty buf (NULL)", tok_rule_name(r));
	}
	buf_free(&out);
	size_t len, k = tok_spacy_only(C, "((", 2);
	const char *t = tok_token(C, 0, &len);
	ok(k == 2 && len == 1 && *t == '(', "a span of prefixes only: \"((\" -> ( (");
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data";
	char path[4096];

	argv0 = "tokenizer";
	C = tok_ctx_new();
	snprintf(path, sizeof path, "%s/tokenizer_vectors.jsonl", dir);
	vectors(path);
	examples();
	seeds();
	hygiene();
	empty_bufs();
	big();

	tok_ctx_free(C);
	return done_testing();
}
