/* tokrules.c: UTF-8 hygiene, Unicode classes, Python's str.lower(), and
 * fastai's 8 pre-rules (spec §1.3), each a single pass over the text.
 *
 * fastai writes the rules as Python regexes; each function below says which
 * one it implements and why the scan is equivalent (leftmost matches, what
 * a match consumes, where the next search starts). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tokdata.h"
#include "text/tokenizer.h"
#include "text/tokint.h"
#include "core/util.h"

/* ---- character classes (utf8proc) ---- */

unsigned char tok_bmp_class[0x10000];

static int
class_of(uint32_t c)
{
	const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)c);
	int k = 0;

	/* CPython: bidirectional WS, B or S, or category Zs */
	if (p->category == UTF8PROC_CATEGORY_ZS ||
	    p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
	    p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
	    p->bidi_class == UTF8PROC_BIDI_CLASS_S)
		k |= CC_SPACE;
	/* sre: isalnum (letters L*, numbers N*) or '_' */
	switch (p->category) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		k |= CC_WORD;
		break;
	default:
		if (c == '_')
			k |= CC_WORD;
	}
	return k;
}

int
tok_class_astral(uint32_t c)
{
	return class_of(c);
}

static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static void
classes_fill(void)
{
	for (uint32_t c = 0; c < 0x10000; c++)
		tok_bmp_class[c] = (unsigned char)class_of(c);
}

void
tok_classes_init(void)
{
	pthread_once(&classes_once, classes_fill);
}

/* ---- Python str.lower() ---- */

/* Unicode "Cased": Lu, Ll, Lt, or with a case mapping (Other_Lowercase /
 * Other_Uppercase letters such as circled letters have one). */
static int
cp_cased(uint32_t c)
{
	int cat = utf8proc_category((utf8proc_int32_t)c);

	return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
	       cat == UTF8PROC_CATEGORY_LT ||
	       utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
	       utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

/* Unicode "Case_Ignorable": Mn Me Cf Lm Sk, or Word_Break MidLetter,
 * MidNumLet or Single_Quote (those few code points are listed: utf8proc
 * has no Word_Break property). */
static int
cp_case_ignorable(uint32_t c)
{
	static const uint32_t wb[] = { 0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F,
		0x5F4, 0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55,
		0xFF07, 0xFF0E, 0xFF1A };
	int cat = utf8proc_category((utf8proc_int32_t)c);

	if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
	    cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
	    cat == UTF8PROC_CATEGORY_SK)
		return 1;
	for (size_t i = 0; i < sizeof wb / sizeof *wb; i++)
		if (wb[i] == c)
			return 1;
	return 0;
}

/* CPython's handle_capital_sigma: \p{cased}\p{ci}* SIGMA !(\p{ci}*\p{cased}) */
static uint32_t
final_sigma(const unsigned char *s, size_t n, size_t i)
{
	size_t j = i;
	uint32_t c = 0;
	int len, found = 0;

	while (j > 0) {
		size_t k = j - 1;
		while (k > 0 && (s[k] & 0xC0) == 0x80)
			k--;
		c = u8_get(s + k, &len);
		j = k;
		if (!cp_case_ignorable(c)) {
			found = 1;
			break;
		}
	}
	if (!found || !cp_cased(c))
		return 0x3C3;
	for (j = i + 2; j < n; j += len) {        /* U+03A3 is 2 bytes */
		c = u8_get(s + j, &len);
		if (!cp_case_ignorable(c))
			return cp_cased(c) ? 0x3C3 : 0x3C2;
	}
	return 0x3C2;
}

/* Lowercase the code points in [from, to) of s[0..n), the whole of s
 * being the context final sigma looks at. */
static void
lower_range(struct buf *out, const unsigned char *s, size_t n, size_t from,
            size_t to)
{
	size_t i = from;
	int len;

	buf_grow(out, to - from + 8);
	while (i < to) {
		if (s[i] < 0x80) {            /* an ASCII run */
			buf_grow(out, to - i);
			char *o = out->p + out->n;
			size_t k = i;
			for (; k < to; k++) {
				unsigned c = s[k];
				if (c >= 0x80)
					break;
				*o++ = (char)(c + ((c - 'A' < 26u) << 5));
			}
			out->n += k - i;
			i = k;
			continue;
		}
		uint32_t c = u8_get(s + i, &len), l;
		if (c == 0x130) {                  /* SpecialCasing.txt */
			buf_addcp(out, 'i');
			l = 0x307;
		} else if (c == 0x3A3) {
			l = final_sigma(s, n, i);
		} else {
			l = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
		}
		buf_addcp(out, l);
		i += len;
	}
}

void
tok_lower(struct buf *out, const char *str, size_t n)
{
	lower_range(out, (const unsigned char *)str, n, 0, n);
}

/* ---- input hygiene ---- */

void
tok_sanitize(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	buf_grow(out, n);
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] && s[j] < 0x80)
			j++;
		buf_add(out, s + i, j - i);
		if ((i = j) >= n)
			break;
		unsigned char b = s[i];
		if (!b) {
			buf_add(out, "\xEF\xBF\xBD", 3);
			i++;
			continue;
		}
		/* expected continuation count and range of the 2nd byte */
		int need;
		unsigned char lo = 0x80, hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF) need = 1;
		else if (b == 0xE0) { need = 2; lo = 0xA0; }
		else if (b >= 0xE1 && b <= 0xEC) need = 2;
		else if (b == 0xED) { need = 2; hi = 0x9F; }
		else if (b >= 0xEE && b <= 0xEF) need = 2;
		else if (b == 0xF0) { need = 3; lo = 0x90; }
		else if (b >= 0xF1 && b <= 0xF3) need = 3;
		else if (b == 0xF4) { need = 3; hi = 0x8F; }
		else need = 0;
		j = i + 1;
		int got = 0;
		while (need && got < need && j < n) {
			unsigned char c = s[j];
			if (got == 0 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
				break;
			got++, j++;
		}
		if (need && got == need)
			buf_add(out, s + i, j - i);
		else
			buf_add(out, "\xEF\xBF\xBD", 3);   /* maximal subpart */
		i = j;
	}
}

int
tok_utf8_clean(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		if (s[i] && s[i] < 0x80) {
			i++;
			continue;
		}
		unsigned char b = s[i];
		int need;
		unsigned char lo = 0x80, hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF) need = 1;
		else if (b == 0xE0) { need = 2; lo = 0xA0; }
		else if (b >= 0xE1 && b <= 0xEC) need = 2;
		else if (b == 0xED) { need = 2; hi = 0x9F; }
		else if (b >= 0xEE && b <= 0xEF) need = 2;
		else if (b == 0xF0) { need = 3; lo = 0x90; }
		else if (b >= 0xF1 && b <= 0xF3) need = 3;
		else if (b == 0xF4) { need = 3; hi = 0x8F; }
		else return 0;                    /* NUL, stray or bad lead */
		if ((size_t)need >= n - i)        /* truncated at the end */
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (int k = 2; k <= need; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return 0;
		i += (size_t)need + 1;
	}
	return 1;
}

void
tok_newlines(struct buf *out, const char *s, size_t n)
{
	buf_grow(out, n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\r') {
			out->p[out->n++] = s[i];
			continue;
		}
		out->p[out->n++] = '\n';
		if (i + 1 < n && s[i + 1] == '\n')
			i++;
	}
}

/* memmem for a needle of 2 or 3 equal bytes (the "  " and "..." that
 * every document is searched for), skipping ahead by the needle length */
static const char *
find_run(const char *p, size_t n, char c, size_t k)
{
	size_t i = 0;

	while (i + k <= n) {
		if (p[i + k - 1] != c) {
			i += k;
			continue;
		}
		size_t j = i + k - 1;      /* c at j: count back and forward */
		size_t lo = j;
		while (lo > i && p[lo - 1] == c)
			lo--;
		size_t hi = j;
		while (hi - lo + 1 < k && hi + 1 < n && p[hi + 1] == c)
			hi++;
		if (hi - lo + 1 >= k)
			return p + lo;
		i = hi + 1;
	}
	return NULL;
}

static const char *
find_pat(const char *s, size_t n, const char *pat, size_t pn)
{
	if ((pn == 2 || pn == 3) && pat[0] == pat[1] && pat[pn - 1] == pat[0])
		return find_run(s, n, pat[0], pn);
	return memmem(s, n, pat, pn);
}

/* ---- fix_html ---- */

static void
replace_all(struct buf *out, const char *s, size_t n, const char *pat,
            size_t pn, const char *rep, size_t rn)
{
	const char *p = s, *end = s + n, *q;

	buf_grow(out, n + 1);
	while ((q = find_pat(p, (size_t)(end - p), pat, pn))) {
		buf_add(out, p, (size_t)(q - p));
		buf_add(out, rep, rn);
		p = q + pn;
	}
	buf_add(out, p, (size_t)(end - p));
}

static int
entity_cmp(const void *k, const void *e)
{
	const struct buf *key = k;
	const char *name = ((const struct html_entity *)e)->name;
	size_t nl = strlen(name);
	int r = memcmp(key->p, name, key->n < nl ? key->n : nl);

	return r ? r : (key->n < nl ? -1 : key->n > nl);
}

static const struct html_entity *
entity_find(const char *s, size_t n)
{
	struct buf key = { (char *)s, n, n };

	return bsearch(&key, html_entities, (size_t)html_entities_n,
	               sizeof *html_entities, entity_cmp);
}

static int
ucmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static void
charref_num(struct buf *out, uint32_t num, int overflow)
{
	if (!overflow)
		for (int i = 0; i < html_invalid_charrefs_n; i++)
			if (html_invalid_charrefs[i].cp == num) {
				buf_add(out, html_invalid_charrefs[i].value,
				        (size_t)html_invalid_charrefs[i].len);
				return;
			}
	if (overflow || (num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
		buf_add(out, "\xEF\xBF\xBD", 3);
		return;
	}
	if (bsearch(&num, html_invalid_codepoints,
	            (size_t)html_invalid_codepoints_n, sizeof(unsigned), ucmp))
		return;
	buf_addcp(out, num);
}

static int
ishex(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

/* Python html.unescape: re.sub of
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * with _replace_charref.  The search resumes after each whole match, so the
 * unmatched tail of a name ("&ampx;" -> "&x;") is never re-scanned. */
void
tok_html_unescape(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	if (!n)         /* an empty buf: str may be NULL */
		return;
	if (!memchr(s, '&', n)) {
		buf_add(out, s, n);
		return;
	}
	while (i < n) {
		const unsigned char *amp = memchr(s + i, '&', n - i);
		if (!amp) {
			buf_add(out, s + i, n - i);
			break;
		}
		size_t a = (size_t)(amp - s);
		buf_add(out, s + i, a - i);
		size_t j = a + 1;
		if (j < n && s[j] == '#') {
			int hex = j + 1 < n && (s[j + 1] | 32) == 'x';
			size_t d = j + 1 + (size_t)hex;
			if (j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9')
				hex = 0, d = j + 1;       /* first alternative */
			size_t k = d;
			uint32_t num = 0;
			int over = 0;
			while (k < n && (hex ? ishex(s[k]) : s[k] >= '0' && s[k] <= '9')) {
				unsigned v = s[k] <= '9' ? s[k] - '0' : (s[k] | 32) - 'a' + 10;
				if (num > 0x10FFFF)
					over = 1;
				else
					num = num * (hex ? 16 : 10) + v;
				k++;
			}
			if (k == d) {             /* "&#" + nothing numeric */
				buf_addc(out, '&');
				i = j;
				continue;
			}
			if (k < n && s[k] == ';')
				k++;
			charref_num(out, num, over || num > 0x10FFFF);
			i = k;
			continue;
		}
		/* named: up to 32 code points of [^\t\n\f <&#;], then ;? */
		size_t k = j, cuts[34];
		int nc = 0, len;
		while (k < n && nc < 32) {
			unsigned char c = s[k];
			if (c == '\t' || c == '\n' || c == '\f' || c == ' ' ||
			    c == '<' || c == '&' || c == '#' || c == ';')
				break;
			u8_get(s + k, &len);
			k += (size_t)len;
			cuts[++nc] = k;
		}
		if (nc == 0) {
			buf_addc(out, '&');
			i = j;
			continue;
		}
		if (k < n && s[k] == ';')
			cuts[++nc] = ++k;
		cuts[0] = j;
		const struct html_entity *e = entity_find((const char *)s + j, k - j);
		if (e) {
			buf_add(out, e->value, (size_t)e->len);
			i = k;
			continue;
		}
		/* longest prefix s[:x], x = len-1 .. 2 code points */
		int x;
		for (x = nc - 1; x >= 2; x--)
			if ((e = entity_find((const char *)s + j, cuts[x] - j)))
				break;
		if (x >= 2) {
			buf_add(out, e->value, (size_t)e->len);
			buf_add(out, s + cuts[x], k - cuts[x]);
		} else {
			buf_add(out, s + a, k - a);
		}
		i = k;
	}
}

static void
fix_html(struct buf *out, const char *s, size_t n)
{
	static const char *const subs[][2] = {
		{"#39;", "'"}, {"amp;", "&"}, {"#146;", "'"}, {"nbsp;", " "},
		{"#36;", "$"}, {"\\n", "\n"}, {"quot;", "'"}, {"<br />", "\n"},
		{"\\\"", "\""}, {"<unk>", "xxunk"}, {" @.@ ", "."},
		{" @-@ ", "-"}, {"...", " \xE2\x80\xA6"},
	};
	struct buf a = {0}, b = {0};
	/* No replacement creates ; \\ < or @, so a pattern holding one that
	 * the input lacks cannot match at its turn either. */
	int has[256] = {0};
	/* the six patterns ending in ';': find which occur in one scan of the
	 * semicolons (a replacement never creates one: "' & $" and space are
	 * in none of them) */
	unsigned semi = 0;
	for (const char *q = s; (q = memchr(q, ';', (size_t)(s + n - q))); q++)
		for (int r = 0; r < 6; r++) {
			static const int idx[6] = { 0, 1, 2, 3, 4, 6 };
			const char *pat = subs[idx[r]][0];
			size_t pl = strlen(pat) - 1;
			if ((size_t)(q - s) >= pl && !memcmp(q - pl, pat, pl))
				semi |= 1u << idx[r];
		}
	has[';'] = semi != 0;
	has['\\'] = !!memchr(s, '\\', n);
	has['<'] = !!memchr(s, '<', n);
	has['@'] = !!memchr(s, '@', n);

	const char *src = s;            /* the current text: s, then a */
	size_t sn = n;
	for (size_t r = 0; r < sizeof subs / sizeof *subs; r++) {
		const char *pat = subs[r][0];
		size_t pn = strlen(pat);
		if ((memchr(pat, ';', pn) && !has[';']) ||
		    (memchr(pat, '\\', pn) && !has['\\']) ||
		    (memchr(pat, '<', pn) && !has['<']) ||
		    (memchr(pat, '@', pn) && !has['@']))
			continue;
		if (memchr(pat, ';', pn) ? !(semi >> r & 1) : !find_pat(src, sn, pat, pn))
			continue;
		b.n = 0;
		replace_all(&b, src, sn, pat, pn, subs[r][1], strlen(subs[r][1]));
		struct buf t = a; a = b; b = t;
		src = a.p, sn = a.n;
	}
	tok_html_unescape(out, src, sn);
	buf_free(&a);
	buf_free(&b);
}

/* ---- replace_rep: (\S)(\1{2,}) -> " xxrep N c " ---- */
static void
replace_rep(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, copied = 0;
	int len;

	buf_grow(out, n);
	while (i + 2 < n) {
		/* a run needs its first three characters equal */
		if (s[i] < 0x80) {
			if (s[i + 1] != s[i] || s[i + 2] != s[i] ||
			    (tok_bmp_class[s[i]] & CC_SPACE)) {
				i++;
				continue;
			}
			len = 1;
		} else {
			uint32_t c = u8_get(s + i, &len);
			size_t l = (size_t)len;
			if (i + 3 * l > n || memcmp(s + i, s + i + l, l) ||
			    memcmp(s + i, s + i + 2 * l, l) || cp_isspace(c)) {
				i += l;
				continue;
			}
		}
		size_t l = (size_t)len, j = i + 3 * l, run = 3;
		while (j + l <= n && !memcmp(s + j, s + i, l))
			j += l, run++;
		buf_add(out, s + copied, i - copied);
		char num[32];
		int k = snprintf(num, sizeof num, " xxrep %zu ", run);
		buf_add(out, num, (size_t)k);
		buf_add(out, s + i, l);
		buf_addc(out, ' ');
		copied = i = j;
	}
	buf_add(out, s + copied, n - copied);
}

/* ---- replace_wrep ----
 * (?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)  ->  " xxwrep K W E"
 * W is a whole word (it must be followed by \s).  The copies after it are
 * each W followed by whitespace, except the last which may be followed by
 * any non-word character or the end; backtracking makes the match take all
 * of them.  E (one character) is consumed, so a following run cannot use it
 * as its leading \s. */
static size_t
word_end(const unsigned char *s, size_t n, size_t i)
{
	int len;

	while (i < n && cp_isword(u8_get(s + i, &len)))
		i += (size_t)len;
	return i;
}

static size_t
space_end(const unsigned char *s, size_t n, size_t i)
{
	int len;

	while (i < n && cp_isspace(u8_get(s + i, &len)))
		i += (size_t)len;
	return i;
}

static void
replace_wrep(struct buf *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, copied = 0;
	int len;

	while (i < n) {
		/* a match may start at i when s[i] is \s (consumed) or i == 0 */
		size_t w;
		uint32_t c = u8_get(s + i, &len);
		if (cp_isspace(c))
			w = i + (size_t)len;
		else if (i == 0)
			w = 0;
		else {
			i += (size_t)len;
			while (i < n && s[i] < 0x80 && !(tok_bmp_class[s[i]] & CC_SPACE))
				i++;
			continue;
		}
		size_t we = word_end(s, n, w), wl = we - w;
		size_t p = space_end(s, n, we);
		if (wl == 0 || p == we) {
			/* no match can start inside the word */
			i = wl ? we : i + (size_t)len;
			continue;
		}
		/* count copies after the first */
		size_t k = 1, last_end = 0;
		while (p + wl <= n && !memcmp(s + p, s + w, wl)) {
			size_t e = p + wl;
			int l3 = 0;
			if (e < n && cp_isword(u8_get(s + e, &l3)))
				break;             /* a longer word, not a copy */
			k++;
			last_end = e;
			size_t q = space_end(s, n, e);
			if (q == e)
				break;             /* last possible copy */
			p = q;
		}
		if (k < 3) {
			i = we;
			continue;
		}
		size_t e_end = last_end;
		if (e_end < n) {
			u8_get(s + e_end, &len);
			e_end += (size_t)len;
		}
		buf_add(out, s + copied, i - copied);
		char num[48];
		int m = snprintf(num, sizeof num, " xxwrep %zu ", k);
		buf_add(out, num, (size_t)m);
		buf_add(out, s + w, wl);
		buf_addc(out, ' ');
		buf_add(out, s + last_end, e_end - last_end);
		copied = i = e_end;
	}
	buf_add(out, s + copied, n - copied);
}

/* ---- spec_add_spaces: ([/#\\]) -> " \1 " ---- */
typedef void add_fn(struct buf *out, const char *p, size_t n);

static void
add_plain(struct buf *out, const char *p, size_t n)
{
	buf_add(out, p, n);
}

/* Writes s with each / # \ spaced out through add (plain, or collapsing
 * space runs when rm_useless_spaces is fused in: see tok_spaces). */
static void
spaces_around(struct buf *out, const char *s, size_t n, add_fn *add)
{
	static const char chars[3] = { '/', '#', '\\' };
	const char *end = s + n, *next[3], *p = s;

	for (int k = 0; k < 3; k++)
		next[k] = memchr(s, chars[k], n);
	buf_grow(out, n + 1);
	for (;;) {
		int k = -1;
		for (int j = 0; j < 3; j++)
			if (next[j] && (k < 0 || next[j] < next[k]))
				k = j;
		if (k < 0)
			break;
		const char *q = next[k];
		add(out, p, (size_t)(q - p));
		char t[3] = { ' ', chars[k], ' ' };
		add(out, t, 3);
		p = q + 1;
		next[k] = memchr(p, chars[k], (size_t)(end - p));
	}
	add(out, p, (size_t)(end - p));
}

static void
spec_add_spaces(struct buf *out, const char *s, size_t n)
{
	spaces_around(out, s, n, add_plain);
}

/* ---- rm_useless_spaces: " {2,}" -> " " ---- */
static void
rm_useless_spaces(struct buf *out, const char *s, size_t n)
{
	size_t copied = 0;
	const char *dbl = find_run(s, n, ' ', 2);

	if (!dbl) {
		buf_add(out, s, n);
		return;
	}
	buf_grow(out, n);
	for (size_t i = (size_t)(dbl - s) + 1; i < n; i++) {
		if (s[i] == ' ' && s[i - 1] == ' ') {
			buf_add(out, s + copied, i - copied);
			while (i < n && s[i] == ' ')
				i++;
			copied = i;
		}
	}
	buf_add(out, s + copied, n - copied);
}

/* ---- replace_all_caps and replace_maj ----
 * (\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))  and  (\s|^)([A-Z][^A-Z\s]*)(?=(\s|$)):
 * the group is a whole whitespace-delimited word (its end is forced by the
 * lookahead and the classes exclude \s), starting with A-Z and holding no
 * a-z (caps) or no other A-Z (maj).  It is lowercased (Python lower of the
 * word alone) and gets the marker when it is longer than one character. */
/* caps: 1 replace_all_caps, 0 replace_maj, 2 both in one pass (what
 * caps leaves alone it leaves byte for byte, word boundaries included, and
 * nothing it writes can match maj) */
static void
case_rule(struct buf *out, const char *str, size_t n, int caps)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, copied = 0;
	int len;

	buf_grow(out, n);
	while (i < n) {
		/* at a word start (start of text or after whitespace) */
		if (!(s[i] >= 'A' && s[i] <= 'Z')) {
			/* cannot match: skip this word and the space after it */
			while (i < n) {
				uint32_t d = s[i] < 0x80 ? (len = 1, s[i]) : u8_get(s + i, &len);
				i += (size_t)len;
				if (cp_isspace(d))
					break;
			}
			continue;
		}
		size_t e = i + 1, ncp = 1;
		int lower = 0, upper = 0;
		while (e < n) {
			uint32_t d = s[e] < 0x80 ? (len = 1, s[e]) : u8_get(s + e, &len);
			if (cp_isspace(d))
				break;
			lower |= d >= 'a' && d <= 'z';
			upper |= d >= 'A' && d <= 'Z';
			ncp++;
			e += (size_t)len;
		}
		const char *mark = NULL;
		if (caps >= 1 && !lower)
			mark = "xxup ";
		else if (caps != 1 && !upper)
			mark = "xxmaj ";
		if (mark) {
			buf_add(out, s + copied, i - copied);
			if (ncp > 1)
				buf_adds(out, mark);
			tok_lower(out, (const char *)s + i, e - i);
			copied = e;
		}
		i = e;
		if (i < n) {              /* the whitespace after the word */
			u8_get(s + i, &len);
			i += (size_t)len;
		}
	}
	buf_add(out, s + copied, n - copied);
}

/* ---- lowercase(add_bos, add_eos): bos + t.lower().strip() + eos ---- */
static void
lowercase(struct buf *out, const struct tok_opts *o, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t a = 0, b = n;
	int len;

	while (a < b) {                       /* str.strip(): isspace */
		uint32_t c = u8_get(s + a, &len);
		if (!cp_isspace(c))
			break;
		a += (size_t)len;
	}
	while (b > a) {
		size_t k = b - 1;
		while (k > a && (s[k] & 0xC0) == 0x80)
			k--;
		if (!cp_isspace(u8_get(s + k, &len)))
			break;
		b = k;
	}
	if (o->bos)
		buf_adds(out, "xxbos ");
	/* lower() runs before strip(): only final sigma could see the
	 * stripped whitespace, and whitespace is not cased, so slicing first
	 * gives the same string */
	tok_lower(out, str + a, b - a);
	if (o->eos)
		buf_adds(out, " xxeos");
}

void
tok_case_rules(struct buf *out, const char *s, size_t n)
{
	case_rule(out, s, n, 2);
}

/* replace_all_caps, replace_maj and lowercase in one pass.  Equal to the
 * three passes because: they all work word by word (whitespace-delimited
 * words; the markers they insert are separate lowercase words), lower() is
 * idempotent (checked for every code point), and its only context rule,
 * final sigma, never looks across whitespace (not case-ignorable, not
 * cased), so lowering a word alone or within the text is the same. */
void
tok_case_lower(struct buf *out, const struct tok_opts *o, const char *str,
               size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t a = 0, b = n;
	int len;

	while (a < b) {
		uint32_t c = u8_get(s + a, &len);
		if (!cp_isspace(c))
			break;
		a += (size_t)len;
	}
	while (b > a) {
		size_t k = b - 1;
		while (k > a && (s[k] & 0xC0) == 0x80)
			k--;
		if (!cp_isspace(u8_get(s + k, &len)))
			break;
		b = k;
	}
	buf_grow(out, b - a + 16);
	if (o->bos)
		buf_adds(out, "xxbos ");
	/* lower() of the whole text, with a marker before each word (after
	 * whitespace or at the start) that starts with A-Z, is longer than one
	 * character, and has no a-z after it (xxup) or no A-Z (xxmaj) */
	const unsigned char *t = s + a;
	size_t m = b - a, seg = 0, p = 0;
	while (p < m) {
		while (p < m && (unsigned)(t[p] - 'A') >= 26u)
			p++;
		if (p >= m)
			break;
		int start = p == 0;
		if (!start) {
			if (t[p - 1] < 0x80) {
				start = tok_bmp_class[t[p - 1]] & CC_SPACE;
			} else {
				size_t k = p - 1;
				while (k > 0 && (t[k] & 0xC0) == 0x80)
					k--;
				start = cp_isspace(u8_get(t + k, &len)) != 0;
			}
		}
		if (!start) {
			p++;
			continue;
		}
		size_t e = p + 1, ncp = 1;
		int lower = 0, upper = 0;
		while (e < m) {
			uint32_t d = t[e] < 0x80 ? (len = 1, t[e]) : u8_get(t + e, &len);
			if (cp_isspace(d))
				break;
			lower |= (unsigned)(d - 'a') < 26u;
			upper |= (unsigned)(d - 'A') < 26u;
			ncp++;
			e += (size_t)len;
		}
		if (ncp > 1 && (!lower || !upper)) {
			lower_range(out, t, m, seg, p);
			buf_adds(out, !lower ? "xxup " : "xxmaj ");
			seg = p;
		}
		p = e;
	}
	lower_range(out, t, m, seg, m);
	if (o->eos)
		buf_adds(out, " xxeos");
}

/* spec_add_spaces then rm_useless_spaces in one pass: the second collapses
 * runs of U+0020 in the first's output, so collapse while writing it. */
static void
add_collapsed(struct buf *out, const char *p, size_t n)
{
	while (n) {
		if (*p == ' ' && out->n && out->p[out->n - 1] == ' ') {
			p++, n--;
			continue;
		}
		const char *d = find_run(p, n, ' ', 2);
		size_t k = d ? (size_t)(d - p) + 1 : n;
		buf_add(out, p, k);
		p += k, n -= k;
	}
}

void
tok_spaces(struct buf *out, const char *s, size_t n)
{
	spaces_around(out, s, n, add_collapsed);
}

void
tok_apply_rule(int rule, const struct tok_opts *o, struct buf *out,
               const char *s, size_t n)
{
	tok_classes_init();
	buf_grow(out, n + 1);        /* out->p is never NULL below */
	if (!s)                      /* an empty buf's NULL: no memchr(NULL) */
		s = "";
	switch (rule) {
	case TOK_FIX_HTML:          fix_html(out, s, n); break;
	case TOK_REPLACE_REP:       replace_rep(out, s, n); break;
	case TOK_REPLACE_WREP:      replace_wrep(out, s, n); break;
	case TOK_SPEC_ADD_SPACES:   spec_add_spaces(out, s, n); break;
	case TOK_RM_USELESS_SPACES: rm_useless_spaces(out, s, n); break;
	case TOK_REPLACE_ALL_CAPS:  case_rule(out, s, n, 1); break;
	case TOK_REPLACE_MAJ:       case_rule(out, s, n, 0); break;
	case TOK_LOWERCASE:         lowercase(out, o, s, n); break;
	default:                    buf_add(out, s, n);
	}
}
