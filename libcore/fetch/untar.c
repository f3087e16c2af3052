/* untar.c: the cache, the names, the checks.  See untar.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "fetch/extract.h"
#include "fetch/fetch.h"
#include "fetch/untar.h"
#include "core/util.h"

static const char *const hf_gpt2[] = {
	"config.json", "vocab.json", "merges.txt", "model.safetensors", NULL
};

/* fastai's URLs (fastai/data/external.py): S3 = ".../fast-ai-", then
 * nlp/, sample/, modelzoo/.  Checks are fastai's (size, md5 of the first
 * MiB) where it has one (spec 11.3). */
static const struct untar_name names[] = {
	{ "imdb", "fast-ai-nlp/imdb.tgz", 0, 144440600,
	  "90f9b1c4ff43a90d67553c9240dc0249", "IMDB reviews, 50k labelled + 50k unlabelled (URLs.IMDB)", NULL },
	{ "imdb_sample", "fast-ai-sample/imdb_sample.tgz", 0, 571827,
	  "0842e61a9867caa2e6fbdb14fa703d61", "1000 IMDB reviews in texts.csv (URLs.IMDB_SAMPLE)", NULL },
	{ "wikitext-103", "fast-ai-nlp/wikitext-103.tgz", 0, 0, NULL,
	  "WikiText-103 (URLs.WIKITEXT)", NULL },
	{ "wikitext-2", "fast-ai-nlp/wikitext-2.tgz", 0, 0, NULL,
	  "WikiText-2 (URLs.WIKITEXT_TINY)", NULL },
	{ "wt103-fwd", "fast-ai-modelzoo/wt103-fwd.tgz", 1, 0, NULL,
	  "AWD-LSTM pretrained on WikiText-103, forward (URLs.WT103_FWD)", NULL },
	{ "wt103-bwd", "fast-ai-modelzoo/wt103-bwd.tgz", 1, 0, NULL,
	  "AWD-LSTM pretrained on WikiText-103, backward (URLs.WT103_BWD)", NULL },
	{ "human_numbers", "fast-ai-sample/human_numbers.tgz", 0, 0, NULL,
	  "numbers written in English (URLs.HUMAN_NUMBERS)", NULL },
	{ "ag_news", "fast-ai-nlp/ag_news_csv.tgz", 0, 0, NULL,
	  "AG News (URLs.AG_NEWS)", NULL },
	{ "amazon_reviews", "fast-ai-nlp/amazon_review_full_csv.tgz", 0, 0,
	  NULL, "Amazon reviews, 5 classes (URLs.AMAZON_REVIEWS)", NULL },
	{ "amazon_reviews_polarity",
	  "fast-ai-nlp/amazon_review_polarity_csv.tgz", 0, 0, NULL,
	  "Amazon reviews, 2 classes (URLs.AMAZON_REVIEWS_POLARITY)", NULL },
	{ "dbpedia", "fast-ai-nlp/dbpedia_csv.tgz", 0, 0, NULL,
	  "DBpedia ontology (URLs.DBPEDIA)", NULL },
	{ "giga-fren", "fast-ai-nlp/giga-fren.tgz", 0, 0, NULL,
	  "English-French pairs (URLs.MT_ENG_FRA)", NULL },
	{ "sogou_news", "fast-ai-nlp/sogou_news_csv.tgz", 0, 0, NULL,
	  "Sogou news (URLs.SOGOU_NEWS)", NULL },
	{ "yahoo_answers", "fast-ai-nlp/yahoo_answers_csv.tgz", 0, 0, NULL,
	  "Yahoo! Answers (URLs.YAHOO_ANSWERS)", NULL },
	{ "yelp_reviews", "fast-ai-nlp/yelp_review_full_csv.tgz", 0, 0, NULL,
	  "Yelp reviews, 5 classes (URLs.YELP_REVIEWS)", NULL },
	{ "yelp_reviews_polarity", "fast-ai-nlp/yelp_review_polarity_csv.tgz",
	  0, 0, NULL, "Yelp reviews, 2 classes (URLs.YELP_REVIEWS_POLARITY)", NULL },
	/* Hugging Face models: what infer --gpt2 reads */
	{ "gpt2", "openai-community/gpt2/resolve/main", 1, 0, NULL,
	  "GPT-2 124M, Hugging Face's files (infer --gpt2)", hf_gpt2 },
	{ "gpt2-medium", "openai-community/gpt2-medium/resolve/main", 1, 0,
	  NULL, "GPT-2 355M, Hugging Face's files (infer --gpt2)", hf_gpt2 },
	{ "gpt2-large", "openai-community/gpt2-large/resolve/main", 1, 0, NULL,
	  "GPT-2 774M, Hugging Face's files (infer --gpt2)", hf_gpt2 },
	{ "gpt2-xl", "openai-community/gpt2-xl/resolve/main", 1, 0, NULL,
	  "GPT-2 1.5B, Hugging Face's files (infer --gpt2)", hf_gpt2 },
};

volatile sig_atomic_t untar_stop;

const struct untar_name *
untar_find(const char *name)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strcmp(names[i].name, name))
			return &names[i];
	return NULL;
}

/* The URL base of a name: fastai's S3 or the Hugging Face hub, or the
 * mirror the environment names. */
static const char *
name_base(const struct untar_name *nm)
{
	const char *base = getenv(nm->files ? "ULMFIT_HF_BASE" :
	                          "ULMFIT_URL_BASE");

	if (!base || !*base)
		base = nm->files ? UNTAR_HF_BASE : UNTAR_URL_BASE;
	return base;
}

void
untar_list(FILE *f)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const char *base = name_base(&names[i]);
		fprintf(f, "%s\t%s\t%s%s%s%s\t%s\n", names[i].name,
		        names[i].model ? "models" : "data", base,
		        base[strlen(base) - 1] == '/' ? "" : "/", names[i].path,
		        names[i].files ? "/" : "", names[i].what);
	}
}

/* ---- md5 (RFC 1321), for fastai's checks ---------------------------------- */

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const unsigned char md5_r[16] = {
	7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21,
};

static void
md5_block(struct md5 *m, const unsigned char *p)
{
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];

	for (int i = 0; i < 16; i++)
		w[i] = get_u32(p + 4 * i);
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g, s = md5_r[(i / 16) * 4 + i % 4];
		switch (i / 16) {
		case 0:  f = (b & c) | (~b & d); g = i; break;
		case 1:  f = (d & b) | (~d & c); g = (5 * i + 1) % 16; break;
		case 2:  f = b ^ c ^ d;          g = (3 * i + 5) % 16; break;
		default: f = c ^ (b | ~d);       g = (7 * i) % 16; break;
		}
		f += a + md5_k[i] + w[g];
		a = d, d = c, c = b;
		b += f << s | f >> (32 - s);
	}
	m->h[0] += a, m->h[1] += b, m->h[2] += c, m->h[3] += d;
}

void
md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301, m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe, m->h[3] = 0x10325476;
	m->len = 0;
}

void
md5_update(struct md5 *m, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t have = m->len % 64;

	m->len += n;
	if (have) {
		size_t k = 64 - have < n ? 64 - have : n;
		memcpy(m->buf + have, p, k);
		p += k, n -= k;
		if (have + k < 64)
			return;
		md5_block(m, m->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m, p);
	memcpy(m->buf, p, n);
}

void
md5_final(struct md5 *m, unsigned char out[16])
{
	unsigned char pad[72] = { 0x80 };
	uint64_t bits = m->len * 8;
	size_t k = (m->len % 64 < 56 ? 56 : 120) - m->len % 64;

	put_u64(pad + k, bits);
	md5_update(m, pad, k + 8);
	for (int i = 0; i < 4; i++)
		put_u32(out + 4 * i, m->h[i]);
}

int
file_sums(const char *path, uint64_t *size, uint64_t *xxh,
          unsigned char md5_1m[16], unsigned char md5_all[16])
{
	enum { MiB = 1 << 20 };
	unsigned char *buf = xmalloc(MiB);
	XXH64_state_t *x = XXH64_createState();
	struct md5 m1, ma;
	FILE *f = fopen(path, "rb");
	uint64_t n = 0;
	size_t k;
	int first = 1, ret = 0;

	if (!f || !x) {
		free(buf);
		XXH64_freeState(x);
		return -1;
	}
	XXH64_reset(x, 0);
	md5_init(&m1);
	md5_init(&ma);
	/* fread fills the whole buffer unless at EOF: the first chunk is
	 * exactly the first MiB */
	while ((k = fread(buf, 1, MiB, f)) > 0) {
		if (first)
			md5_update(&m1, buf, k), first = 0;
		md5_update(&ma, buf, k);
		XXH64_update(x, buf, k);
		n += k;
		if (untar_stop)
			break;
	}
	if (ferror(f) || untar_stop)
		ret = -1;
	fclose(f);
	*size = n;
	*xxh = XXH64_digest(x);
	if (md5_1m)
		md5_final(&m1, md5_1m);
	if (md5_all)
		md5_final(&ma, md5_all);
	XXH64_freeState(x);
	free(buf);
	return ret;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int
unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = v;
	}
	return 0;
}

int
untar_check_parse(const char *s, struct untar_check *c)
{
	memset(c, 0, sizeof *c);
	if (!strncmp(s, "xxh64:", 6)) {
		unsigned char b[8];
		if (unhex(s + 6, b, 8) < 0)
			return -1;
		c->kind = CHECK_XXH64;
		for (int i = 0; i < 8; i++)
			c->xxh64 = c->xxh64 << 8 | b[i];
		return 0;
	}
	if (!strncmp(s, "md5:", 4)) {
		if (unhex(s + 4, c->md5, 16) < 0)
			return -1;
		c->kind = CHECK_MD5;
		return 0;
	}
	return -1;
}

/* ---- records ------------------------------------------------------------- */

struct record {
	int ok, has_mtime;
	char *source;
	uint64_t size, xxh;
	unsigned char md5[16];
	long long mtime_s, mtime_ns;
};

static void
record_read(const char *path, struct record *r)
{
	FILE *f = fopen(path, "r");
	char line[PATH_MAX + 64];
	int have = 0;

	memset(r, 0, sizeof *r);
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *v = strchr(line, ' ');
		unsigned long long u;
		if (!v)
			continue;
		*v++ = 0;
		v[strcspn(v, "\n")] = 0;
		if (!strcmp(line, "source")) {
			free(r->source);
			r->source = xstrdup(v);
			have |= 1;
		} else if (!strcmp(line, "size") && sscanf(v, "%llu", &u) == 1) {
			r->size = u, have |= 2;
		} else if (!strcmp(line, "xxh64") &&
		           sscanf(v, "%16llx", &u) == 1) {
			r->xxh = u, have |= 4;
		} else if (!strcmp(line, "md5") && unhex(v, r->md5, 16) == 0) {
			have |= 8;
		} else if (!strcmp(line, "mtime") &&
		           sscanf(v, "%lld.%lld", &r->mtime_s, &r->mtime_ns) == 2) {
			r->has_mtime = 1;
		}
	}
	fclose(f);
	r->ok = have == 15;
}

static void
record_write(const char *path, const char *source, uint64_t size,
             uint64_t xxh, const unsigned char md5[16],
             const struct stat *local)
{
	struct out *o = out_open(path, 0);
	char m[33];

	hex(md5, 16, m);
	fprintf(o->f, "source %s\nsize %llu\nxxh64 %016llx\nmd5 %s\n", source,
	        (unsigned long long)size, (unsigned long long)xxh, m);
	if (local)
		fprintf(o->f, "mtime %lld.%09ld\n", (long long)local->st_mtim.tv_sec,
		        local->st_mtim.tv_nsec);
	if (out_close(o))
		die("%s: cannot write the archive's record", path);
}

/* Does the record satisfy the check the user gave? */
static int
record_meets(const struct record *r, const struct untar_check *c)
{
	if (c->kind == CHECK_NONE)
		return 1;
	if (!r->ok)
		return 0;
	if (c->kind == CHECK_XXH64)
		return r->xxh == c->xxh64;
	return !memcmp(r->md5, c->md5, 16);
}

/* ---- the cache --------------------------------------------------------- */

static char *tmp_dir;            /* removed by bail() */

static _Noreturn void
bail(const char *fmt, ...)
{
	va_list ap;
	int sig = untar_stop;

	if (fmt) {
		va_start(ap, fmt);
		vwarn(fmt, ap);
		va_end(ap);
	}
	if (tmp_dir)
		rm_tree(tmp_dir);
	if (sig) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	exit(1);
}

static void
on_signal(int sig)
{
	untar_stop = sig;
}

static void
install_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;      /* no SA_RESTART: flock returns */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction old;
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;       /* nohup'd: stay so */
		sigaction(sigs[i], &sa, NULL);
	}
	/* past ulimit -f a write must fail (EFBIG) so the temp tree is
	 * removed, not kill us and leave it */
	signal(SIGXFSZ, SIG_IGN);
}

static char *
str(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static void
mkdir_p(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0777) < 0 && errno != EEXIST)
				bail("%s:", p);
			*s = '/';
		}
	if (mkdir(p, 0777) < 0 && errno != EEXIST)
		bail("%s:", p);
	free(p);
}

static char *
cache_home(const struct untar_opts *o)
{
	const char *h = o->home;
	char *home, *real;

	if (!h || !*h)
		h = getenv("ULMFIT_HOME");
	if (h && *h) {
		home = xstrdup(h);
	} else {
		const char *u = getenv("HOME");
		struct passwd *pw;
		if ((!u || !*u) && (pw = getpwuid(getuid())))
			u = pw->pw_dir;
		if (!u || !*u)
			bail("no home directory: set ULMFIT_HOME");
		home = str("%s/.ulmfit", u);
	}
	mkdir_p(home);
	/* no symlink in the prefix: extraction refuses writing through one */
	if (!(real = realpath(home, NULL)))
		bail("%s:", home);
	free(home);
	return real;
}

/* The URL's last path part, without query or fragment. */
static char *
url_file(const char *url)
{
	const char *p = strstr(url, "://") + 3, *end, *slash;
	char *s;

	end = p + strcspn(p, "?#");
	slash = memchr(p, '/', end - p);
	if (!slash)
		return NULL;
	while (end > slash + 1 && end[-1] == '/')
		end--;
	for (const char *q = slash; q < end; q++)
		if (*q == '/')
			slash = q;
	s = xmalloc(end - slash);
	memcpy(s, slash + 1, end - slash - 1);
	s[end - slash - 1] = 0;
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..")) {
		free(s);
		return NULL;
	}
	return s;
}

/* fastai: Path(name).stem with ".tar" removed: imdb.tgz -> imdb,
 * a.tar.gz -> a, x.zip -> x. */
static char *
stem_of(const char *file)
{
	char *s = xstrdup(file), *dot = strrchr(s, '.');
	size_t n;

	if (dot && dot != s)
		*dot = 0;
	n = strlen(s);
	if (n > 4 && !strcmp(s + n - 4, ".tar"))
		s[n - 4] = 0;
	return s;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
take_lock(const char *path, const char *what, int quiet)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);

	if (fd < 0)
		bail("%s:", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno != EWOULDBLOCK)
		bail("%s: lock:", path);
	if (!quiet)
		warn("%s: waiting for another untar working on it", what);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR || untar_stop)
			bail(untar_stop ? "%s: interrupted" : "%s: lock:", path);
	return fd;
}

/* Temp trees of a killed untar: ours now that we hold the lock. */
static void
remove_stale(const char *root, const char *stem)
{
	char *prefix = str(".%s.untar-", stem);
	DIR *d = opendir(root);
	struct dirent *e;

	if (!d)
		bail("%s:", root);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			char *p = str("%s/%s", root, e->d_name);
			rm_tree(p);
			free(p);
		}
	closedir(d);
	free(prefix);
}

/* fastai's untar_dir: one top-level folder is the tree itself. */
static char *
top_of(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	char *one = NULL;
	int n = 0;
	struct stat st;

	if (!d)
		bail("%s:", tmp);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n++ == 0)
			one = str("%s/%s", tmp, e->d_name);
	}
	closedir(d);
	if (n == 1 && lstat(one, &st) == 0 && S_ISDIR(st.st_mode))
		return one;
	free(one);
	return xstrdup(tmp);
}

/* Move src to dest; an old dest ends up at src (removed with tmp). */
static void
install(const char *src, const char *dest, const char *root)
{
	struct stat st;
	int fd;

	if (lstat(dest, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(dest) < 0)
		bail("%s:", dest);
	if (rename(src, dest) < 0) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			bail("%s:", dest);
		if (renameat2(AT_FDCWD, src, AT_FDCWD, dest, RENAME_EXCHANGE) < 0) {
			/* a file system without RENAME_EXCHANGE: two steps */
			char *old = str("%s.old", src);
			if (rename(dest, old) < 0 || rename(src, dest) < 0)
				bail("%s:", dest);
			free(old);
		}
	}
	if ((fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

static void
md5_hex(const unsigned char *m, char out[33])
{
	hex(m, 16, out);
}

static void
verify_check(const char *label, const struct untar_check *c, uint64_t xxh,
             const unsigned char *md5, const char *apath, const char *sum,
             int remove)
{
	char got[33], want[33];

	if (c->kind == CHECK_XXH64 && xxh != c->xxh64) {
		if (remove)
			unlink(apath), unlink(sum);
		bail("%s: checksum mismatch: xxh64 is %016llx, -c wants %016llx%s",
		     label, (unsigned long long)xxh, (unsigned long long)c->xxh64,
		     remove ? "; removed the download" : "");
	}
	if (c->kind == CHECK_MD5 && memcmp(md5, c->md5, 16)) {
		md5_hex(md5, got);
		md5_hex(c->md5, want);
		if (remove)
			unlink(apath), unlink(sum);
		bail("%s: checksum mismatch: md5 is %s, -c wants %s%s", label, got,
		     want, remove ? "; removed the download" : "");
	}
}

/* root/.STEM.from: where the tree data/STEM came from. */
static char *
read_from(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[PATH_MAX + 64];

	if (!f)
		return NULL;
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	return xstrdup(line);
}

static void
write_from(const char *path, const char *source)
{
	struct out *o = out_open(path, 0);

	fprintf(o->f, "%s\n", source);
	if (out_close(o))
		die("%s: cannot write where the tree came from", path);
}

/* Fetch url to apath unless the cached copy matches its record sum;
 * check it (fastai's check for a known name, -c); write its record.
 * Returns its size, xxh64 and md5. */
static void
fetch_cached(const char *src, const char *url, const char *apath,
             const char *sum, const struct untar_name *known,
             const struct untar_opts *o, const struct record *rec,
             uint64_t *size, uint64_t *xxh, unsigned char md5_all[16])
{
	struct fetch_opts fo = { o->connect_timeout, o->stall_timeout,
	                         o->retries, o->quiet, &untar_stop };
	struct stat ast;
	unsigned char md5_1m[16];
	int have = stat(apath, &ast) == 0, summed = 0;

	if (o->force && have) {
		char *part = str("%s.part", apath);
		char *info = str("%s.part.info", apath);
		unlink(apath);
		unlink(part);
		unlink(info);
		free(part);
		free(info);
		have = 0;
	} else if (have && rec->ok && !strcmp(rec->source, url)) {
		if (file_sums(apath, size, xxh, md5_1m, md5_all) < 0)
			bail("%s:", apath);
		summed = 1;
		if (*size != rec->size || *xxh != rec->xxh) {
			warn("%s: does not match its record (size or xxh64);"
			     " downloading it again", apath);
			unlink(apath);
			have = summed = 0;
		}
	} else if (have && rec->ok) {
		warn("%s: came from %s; downloading %s", apath, rec->source, url);
		unlink(apath);
		have = 0;
	}
	if (!have) {
		unlink(sum);
		if (fetch_url(url, apath, &fo) < 0) {
			if (untar_stop)
				bail(NULL);     /* fetch said so */
			bail("%s: not downloaded (without a network, a copy "
			     "of %s put in %.*s/ is used as it is)", src,
			     strrchr(apath, '/') + 1,
			     (int)(strrchr(apath, '/') - apath), apath);
		}
	}
	if (!summed && file_sums(apath, size, xxh, md5_1m, md5_all) < 0)
		bail("%s:", apath);
	if (known && known->md5_1m) {
		char got[33];
		md5_hex(md5_1m, got);
		if (*size != known->size || strcmp(got, known->md5_1m)) {
			unlink(apath);
			unlink(sum);
			bail("%s: %s has size %llu and first-MiB md5 %s; "
			     "fastai's check wants %llu and %s: the download "
			     "is corrupt or the file changed upstream "
			     "(removed it; try again)", src, url,
			     (unsigned long long)*size, got,
			     (unsigned long long)known->size, known->md5_1m);
		}
	}
	verify_check(src, &o->check, *xxh, md5_all, apath, sum, 1);
	record_write(sum, url, *size, *xxh, md5_all, NULL);
}

/* dest: the same bytes as src, a hard link where the file system allows
 * one (the cache's archive/ and models/ are one tree), else a copy. */
static void
link_or_copy(const char *src, const char *dest)
{
	char buf[1 << 16];
	ssize_t n = 0;
	int in, out;

	if (link(src, dest) == 0)
		return;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		bail("%s:", dest);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		bail("%s:", src);
	if ((out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)) < 0)
		bail("%s:", dest);
	while ((n = read(in, buf, sizeof buf)) > 0)
		for (ssize_t w, off = 0; off < n; off += w)
			if ((w = write(out, buf + off, n - off)) < 0)
				bail("%s:", dest);
	if (n < 0)
		bail("%s:", src);
	if (fsync(out) < 0 || close(out) < 0)
		bail("%s:", dest);
	close(in);
}

/* A name that is a folder of files (a Hugging Face model): each file
 * fetched and recorded under archive/NAME/, then models/NAME made of them
 * in one rename.  Reused as it is when it came from the same folder URL,
 * or was put there by hand. */
static char *
get_files(const struct untar_name *nm, const struct untar_opts *o)
{
	const char *base = name_base(nm);
	char *folder, *home, *adir, *root, *dest, *lock, *fromp, *from;
	struct record rec;
	uint64_t size, xxh;
	unsigned char md5_all[16];

	if (o->check.kind != CHECK_NONE)
		usage_error("%s: -c checks one archive, and %s is a folder of "
		            "files", nm->name, nm->name);
	folder = str("%s%s%s/", base, base[strlen(base) - 1] == '/' ? "" : "/",
	             nm->path);
	home = cache_home(o);
	adir = str("%s/archive/%s", home, nm->name);
	root = str("%s/models", home);
	mkdir_p(adir);
	mkdir_p(root);
	dest = str("%s/%s", root, nm->name);
	lock = str("%s/archive/%s.lock", home, nm->name);
	fromp = str("%s/.%s.from", root, nm->name);
	take_lock(lock, nm->name, o->quiet);     /* held until exit */
	remove_stale(root, nm->name);
	/* as for an archive's tree: one put there by hand (no .from) is
	 * used as it is */
	from = read_from(fromp);
	if (!o->force && is_dir(dest) && (!from || !strcmp(from, folder)))
		goto done;
	tmp_dir = str("%s/.%s.untar-XXXXXX", root, nm->name);
	if (!mkdtemp(tmp_dir))
		bail("%s:", tmp_dir);
	for (const char *const *f = nm->files; *f; f++) {
		char *url = str("%s%s", folder, *f);
		char *apath = str("%s/%s", adir, *f);
		char *sum = str("%s.sum", apath);
		char *tpath = str("%s/%s", tmp_dir, *f);
		record_read(sum, &rec);
		fetch_cached(nm->name, url, apath, sum, NULL, o, &rec, &size, &xxh,
		             md5_all);
		if (untar_stop)
			bail("%s: interrupted", nm->name);
		link_or_copy(apath, tpath);
		free(rec.source);
		free(url);
		free(apath);
		free(sum);
		free(tpath);
	}
	unlink(fromp);
	install(tmp_dir, dest, root);
	write_from(fromp, folder);
	rm_tree(tmp_dir);       /* an old dest, exchanged into its place */
	free(tmp_dir);
	tmp_dir = NULL;
done:
	free(folder);
	free(home);
	free(adir);
	free(root);
	free(lock);
	free(fromp);
	free(from);
	return dest;
}

char *
untar_get(const char *src, const struct untar_opts *o)
{
	const struct untar_name *nm = untar_find(src), *known = nm;
	char *url = NULL, *local = NULL, *file, *stem, *home, *adir, *root;
	char *dest, *apath, *sum, *lock, *top, *fromp, *from;
	struct stat lst;
	struct record rec;
	uint64_t size, xxh;
	unsigned char md5_all[16];
	struct extract_opts eo = { o->max_bytes, o->quiet, &untar_stop };
	struct extract_stats es;

	install_signals();
	if (nm && nm->files)
		return get_files(nm, o);
	if (nm) {
		const char *base = name_base(nm);
		url = str("%s%s%s", base, base[strlen(base) - 1] == '/' ?
		          "" : "/", nm->path);
	} else if (strstr(src, "://")) {
		url = xstrdup(src);
		/* fastai's own URL given in full: its check still applies */
		for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
			char *u = str("%s%s", UNTAR_URL_BASE, names[i].path);
			if (!strcmp(u, url) && names[i].md5_1m)
				known = &names[i];
			free(u);
		}
	} else {
		if (stat(src, &lst) < 0) {
			if (errno == ENOENT && !strchr(src, '/') &&
			    !strchr(src, '.'))
				bail("%s: no such name, URL or file "
				     "(untar -l lists the names)", src);
			bail("%s:", src);
		}
		if (!S_ISREG(lst.st_mode))
			bail("%s: not an archive file", src);
		if (!(local = realpath(src, NULL)))
			bail("%s:", src);
	}
	if (url) {
		if (!(file = url_file(url)))
			bail("%s: no file name at the end of this URL", url);
	} else {
		file = xstrdup(strrchr(local, '/') + 1);
	}
	stem = stem_of(file);
	home = cache_home(o);
	adir = str("%s/archive", home);
	root = str("%s/%s", home, (nm && nm->model) || o->model ?
	           "models" : "data");
	mkdir_p(adir);
	mkdir_p(root);
	dest = str("%s/%s", root, stem);
	apath = url ? str("%s/%s", adir, file) : xstrdup(local);
	sum = str("%s/%s.sum", adir, file);
	lock = str("%s/%s.lock", adir, stem);
	fromp = str("%s/.%s.from", root, stem);
	take_lock(lock, src, o->quiet);     /* held until exit */
	remove_stale(root, stem);
	record_read(sum, &rec);

	/* A tree that is there is reused, as fastai does, when it came from
	 * this source (root/.STEM.from; a tree without one was put there by
	 * hand or by fastai); a local archive must also be the same file
	 * (size, mtime) as last time. */
	from = read_from(fromp);
	if (!o->force && is_dir(dest) && record_meets(&rec, &o->check)) {
		if (url && (!from || !strcmp(from, url)))
			goto done;
		if (local && from && !strcmp(from, local) && rec.ok &&
		    rec.has_mtime && !strcmp(rec.source, local) &&
		    rec.size == (uint64_t)lst.st_size &&
		    rec.mtime_s == (long long)lst.st_mtim.tv_sec &&
		    rec.mtime_ns == lst.st_mtim.tv_nsec)
			goto done;
	}

	if (url) {
		fetch_cached(src, url, apath, sum, known, o, &rec, &size, &xxh,
		             md5_all);
	} else {
		if (file_sums(apath, &size, &xxh, NULL, md5_all) < 0)
			bail("%s:", apath);
		verify_check(src, &o->check, xxh, md5_all, apath, sum, 0);
	}

	tmp_dir = str("%s/.%s.untar-XXXXXX", root, stem);
	if (!mkdtemp(tmp_dir))
		bail("%s:", tmp_dir);
	if (archive_extract(apath, url ? url : local, tmp_dir, &eo, &es) < 0)
		bail(url && !untar_stop ?
		     "%s: nothing extracted; the archive stays in %s "
		     "(--force downloads it again)" : "%s: nothing extracted",
		     src, apath);
	if (untar_stop)
		bail("%s: interrupted", src);
	top = top_of(tmp_dir);
	unlink(fromp);
	install(top, dest, root);
	write_from(fromp, url ? url : local);
	rm_tree(tmp_dir);
	free(tmp_dir);
	tmp_dir = NULL;
	if (local)
		record_write(sum, local, size, xxh, md5_all, &lst);
	free(top);
done:
	free(url);
	free(local);
	free(file);
	free(stem);
	free(home);
	free(adir);
	free(root);
	free(apath);
	free(sum);
	free(lock);
	free(fromp);
	free(from);
	free(rec.source);
	return dest;
}
