/* pth.c: PyTorch checkpoints: zip container, storages, tensors.  The
 * pickle itself is pickle.c's business.  See pth.h for the format. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "torch/pth.h"
#include "core/buf.h"
#include "core/util.h"

/* ---- CRC-32 (zip's polynomial) ---------------------------------------- */

/* zlib's crc32 is the zip CRC; it takes 32-bit lengths. */
static uint32_t
crc_zlib(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n) {
		uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
		crc = (uint32_t)crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CRC_CLMUL 1
/* Folding with carry-less multiplies (Intel's "Fast CRC Computation Using
 * PCLMULQDQ", constants as in Linux's crc32-pclmul for the reflected zip
 * polynomial): four 128-bit lanes fold 64 bytes per round, then into one
 * lane; its 16 bytes have the CRC of all the folded data, which zlib
 * finishes (with the tail).  3x zlib's speed here; checking every record of
 * a 177 MB checkpoint was most of infer's CPU time. */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i
crc_fold(__m128i x, __m128i k, __m128i d)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
	                                   _mm_clmulepi64_si128(x, k, 0x11)), d);
}

__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_clmul(uint32_t crc, const unsigned char *p, size_t n)
{
	const __m128i k12 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
	const __m128i k34 = _mm_set_epi64x(0xccaa009eLL, 0x1751997d0LL);
	const __m128i *q = (const __m128i *)p;
	__m128i x0 = _mm_loadu_si128(q), x1 = _mm_loadu_si128(q + 1);
	__m128i x2 = _mm_loadu_si128(q + 2), x3 = _mm_loadu_si128(q + 3);
	unsigned char b[16];

	x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		q = (const __m128i *)p;
		x0 = crc_fold(x0, k12, _mm_loadu_si128(q));
		x1 = crc_fold(x1, k12, _mm_loadu_si128(q + 1));
		x2 = crc_fold(x2, k12, _mm_loadu_si128(q + 2));
		x3 = crc_fold(x3, k12, _mm_loadu_si128(q + 3));
	}
	x0 = crc_fold(crc_fold(crc_fold(x0, k34, x1), k34, x2), k34, x3);
	_mm_storeu_si128((__m128i *)b, x0);
	/* the folded lane already holds the conditioned start: a zlib CRC
	 * whose register starts at ~0xffffffff = 0 */
	crc = (uint32_t)crc32(0xffffffffUL, b, 16);
	return crc_zlib(crc, p, n);
}
#endif

uint32_t
pth_crc32(uint32_t crc, const void *buf, size_t n)
{
#ifdef CRC_CLMUL
	static int have = -1;
	if (have < 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("pclmul") &&
		       __builtin_cpu_supports("sse4.1");
	}
	if (have && n >= 256 && !getenv("ULMFIT_CRC_ZLIB"))
		return crc_clmul(crc, buf, n);
#endif
	return crc_zlib(crc, buf, n);
}

/* ---- dtypes ------------------------------------------------------------ */

static const struct {
	const char *storage;    /* torch.<X>Storage */
	int size;               /* bytes per element on disk */
	int isfloat;
} dtypes[] = {
	[PTH_F32]  = { "FloatStorage", 4, 1 },
	[PTH_F64]  = { "DoubleStorage", 8, 1 },
	[PTH_F16]  = { "HalfStorage", 2, 1 },
	[PTH_BF16] = { "BFloat16Storage", 2, 1 },
	[PTH_I64]  = { "LongStorage", 8, 0 },
	[PTH_I32]  = { "IntStorage", 4, 0 },
	[PTH_I16]  = { "ShortStorage", 2, 0 },
	[PTH_I8]   = { "CharStorage", 1, 0 },
	[PTH_U8]   = { "ByteStorage", 1, 0 },
	[PTH_BOOL] = { "BoolStorage", 1, 0 },
};
#define NDTYPE ((int)(sizeof dtypes / sizeof *dtypes))

static int
host_is_le(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

static float
half_to_float(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	uint32_t u;
	float f;

	if (e == 0x1f)
		u = s | 0x7f800000u | m << 13;          /* inf, nan */
	else if (e)
		u = s | (e + 112) << 23 | m << 13;      /* normal */
	else if (!m)
		u = s;                                  /* zero */
	else {                                          /* subnormal */
		f = (float)m * 0x1p-24f;
		return s ? -f : f;
	}
	memcpy(&f, &u, 4);
	return f;
}

/* Convert n little-endian elements of dtype to float32 or int64. */
static void
convert(void *out, const unsigned char *in, int dtype, int64_t n)
{
	float *f = out;
	int64_t *l = out;

	if ((dtype == PTH_F32 || dtype == PTH_I64) && host_is_le()) {
		memcpy(out, in, (size_t)n * dtypes[dtype].size);
		return;
	}
	for (int64_t i = 0; i < n; i++) {
		const unsigned char *q = in + i * dtypes[dtype].size;
		uint32_t u;
		uint64_t w;
		double d;
		switch (dtype) {
		case PTH_F32: u = get_u32(q); memcpy(&f[i], &u, 4); break;
		case PTH_F64: w = get_u64(q); memcpy(&d, &w, 8); f[i] = (float)d; break;
		case PTH_F16: f[i] = half_to_float(get_u16(q)); break;
		case PTH_BF16: u = (uint32_t)get_u16(q) << 16; memcpy(&f[i], &u, 4); break;
		case PTH_I64: l[i] = (int64_t)get_u64(q); break;
		case PTH_I32: l[i] = (int32_t)get_u32(q); break;
		case PTH_I16: l[i] = (int16_t)get_u16(q); break;
		case PTH_I8: l[i] = (int8_t)q[0]; break;
		default: l[i] = q[0]; break;            /* u8, bool */
		}
	}
}

/* ---- reading ----------------------------------------------------------- */

struct tens {                   /* a tensor as the pickle built it */
	struct pth_tensor t;    /* first: the public part */
	int64_t stride[PTH_MAXDIM];
	size_t st;              /* storage index */
	void *own;              /* a contiguous copy of a strided tensor */
};

struct zent {
	char *name;
	uint32_t crc;
	uint64_t size, off;     /* data size and offset */
	uint64_t start, end;    /* the whole record: local header to the end
	                           of its data descriptor */
	int method;
	int used;               /* read by load_zip */
};

struct rd {
	struct pth *p;
	const unsigned char *buf;
	size_t n;
	struct zent *z;
	size_t nz;
	char *err;
	int view;               /* float32 storages may point into buf */
	jmp_buf fail;
};

static _Noreturn void
rd_fail(struct rd *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	free(r->err);
	if (asprintf(&r->err, "%s: %s", r->p->path, msg) < 0)
		die("out of memory");
	free(msg);
	longjmp(r->fail, 1);
}

static const char damaged[] =
	"the file is damaged or truncated; copy or re-save it";

/* The pickle callbacks report errors through *err (pk_load unwinds). */
static struct pv *
cb_fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return NULL;
}

/* Index of storage key, added on first sight; -1 if described twice
 * differently. */
static long
storage_get(struct pth *p, const char *key, int dtype, int64_t numel)
{
	for (size_t i = 0; i < p->nst; i++)
		if (!strcmp(p->st[i].key, key))
			return p->st[i].dtype != dtype ||
			       p->st[i].numel != numel ? -1 : (long)i;
	if (p->nst == p->capst) {
		p->capst = p->capst ? 2 * p->capst : 32;
		p->st = xrealloc(p->st, p->capst * sizeof *p->st);
	}
	struct pth_storage *s = &p->st[p->nst];
	memset(s, 0, sizeof *s);
	s->key = xstrdup(key);
	s->dtype = dtype;
	s->numel = numel;
	return (long)p->nst++;
}

/* ('storage', torch.XStorage, key, location, numel[, view_metadata]) */
static struct pv *
on_persid(void *ctx, struct pv_pool *pool, struct pv *pid, char **err)
{
	struct rd *r = ctx;
	int dtype = -1;
	long si;

	if (pid->kind != PV_TUPLE || (pid->n != 5 && pid->n != 6) ||
	    pid->it[0]->kind != PV_STR || strcmp(pid->it[0]->s, "storage") ||
	    pid->it[1]->kind != PV_GLOBAL || pid->it[2]->kind != PV_STR ||
	    pid->it[4]->kind != PV_INT || pid->it[4]->big || pid->it[4]->i < 0)
		return cb_fail(err, "a persistent id that is not a torch "
		               "storage; %s", damaged);
	if (pid->n == 6 && pid->it[5]->kind != PV_NONE)
		return cb_fail(err, "storage views (torch < 1.0) are not "
		               "supported; re-save the file with a newer torch");
	for (int d = 0; d < NDTYPE; d++)
		if (!strncmp(pid->it[1]->s, "torch ", 6) &&
		    !strcmp(pid->it[1]->s + 6, dtypes[d].storage))
			dtype = d;
	if (dtype < 0)
		return cb_fail(err, "'%s' is not a storage type", pid->it[1]->s);
	if ((uint64_t)pid->it[4]->i > r->n / (size_t)dtypes[dtype].size)
		return cb_fail(err, "storage %s claims %lld elements, more "
		               "than the file holds; %s", pid->it[2]->s,
		               (long long)pid->it[4]->i, damaged);
	if ((si = storage_get(r->p, pid->it[2]->s, dtype, pid->it[4]->i)) < 0)
		return cb_fail(err, "storage %s is described two ways; %s",
		               pid->it[2]->s, damaged);
	struct pv *v = pv_new(pool, PV_STORAGE);
	v->i = si;
	return v;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks
 * [, metadata]) or the pre-0.4 _rebuild_tensor(storage, offset, size,
 * stride).  Checks the view fits the storage, in unsigned arithmetic that
 * refuses to overflow: no size, stride or offset a file gives can make an
 * element index wrap around and land outside the storage. */
static struct pv *
on_tensor(void *ctx, struct pv_pool *pool, const char *global,
          struct pv *args, char **err)
{
	struct rd *r = ctx;
	struct pth *p = r->p;
	int64_t shape[PTH_MAXDIM], stride[PTH_MAXDIM];
	uint64_t numel = 1, last, off;

	(void)global;
	if (args->n < 4 || args->it[0]->kind != PV_STORAGE ||
	    args->it[1]->kind != PV_INT || args->it[1]->big ||
	    args->it[2]->kind != PV_TUPLE || args->it[3]->kind != PV_TUPLE ||
	    args->it[2]->n != args->it[3]->n)
		return cb_fail(err, "a tensor with malformed arguments; %s",
		               damaged);
	size_t ndim = args->it[2]->n;
	if (ndim > PTH_MAXDIM)
		return cb_fail(err, "a tensor with %zu dimensions (at most %d "
		               "are supported)", ndim, PTH_MAXDIM);
	struct pth_storage *s = &p->st[args->it[0]->i];
	uint64_t snumel = (uint64_t)s->numel;
	if (args->it[1]->i < 0)
		return cb_fail(err, "a tensor with a negative storage offset "
		               "(%lld); %s", (long long)args->it[1]->i, damaged);
	off = (uint64_t)args->it[1]->i;
	if (off > snumel)
		return cb_fail(err, "a tensor starts at element %llu of storage "
		               "%s, which has %llu; %s", (unsigned long long)off,
		               s->key, (unsigned long long)snumel, damaged);
	for (size_t d = 0; d < ndim; d++) {
		const struct pv *a = args->it[2]->it[d], *b = args->it[3]->it[d];
		if (a->kind != PV_INT || a->big || b->kind != PV_INT || b->big)
			return cb_fail(err, "a tensor whose size or stride is not "
			               "an integer; %s", damaged);
		if (a->i < 0 || b->i < 0)
			return cb_fail(err, "a tensor with a negative %s (%lld); "
			               "%s", a->i < 0 ? "size" : "stride",
			               (long long)(a->i < 0 ? a->i : b->i), damaged);
		if (a->i > INT32_MAX)
			return cb_fail(err, "a tensor dimension of %lld elements "
			               "(at most %d are supported); %s",
			               (long long)a->i, INT32_MAX, damaged);
		shape[d] = a->i;
		stride[d] = b->i;
		if (__builtin_mul_overflow(numel, (uint64_t)a->i, &numel))
			numel = UINT64_MAX;
	}
	if (numel) {
		/* the last element: off + sum (size - 1) * stride */
		last = off;
		for (size_t d = 0; d < ndim; d++) {
			uint64_t step;
			if (__builtin_mul_overflow((uint64_t)shape[d] - 1,
			                           (uint64_t)stride[d], &step) ||
			    __builtin_add_overflow(last, step, &last))
				last = UINT64_MAX;
		}
		if (last >= snumel)
			return cb_fail(err, "a tensor reaches past the end of "
			               "storage %s (%llu elements); %s", s->key,
			               (unsigned long long)snumel, damaged);
		/* every element lies in the storage; more elements than the
		 * storage has means some overlap (expand): resolve() says so */
		if (numel > ((uint64_t)1 << 40))
			return cb_fail(err, "a tensor of more than 2^40 elements "
			               "(a view repeating its storage); %s",
			               damaged);
	}
	struct tens *t = xcalloc(1, sizeof *t);
	if (p->nall == p->capall) {
		p->capall = p->capall ? 2 * p->capall : 64;
		p->all = xrealloc(p->all, p->capall * sizeof *p->all);
	}
	p->all[p->nall++] = &t->t;
	t->st = (size_t)args->it[0]->i;
	t->t.dtype = s->dtype;
	t->t.key = s->key;
	t->t.offset = (int64_t)off;
	t->t.ndim = (int)ndim;
	t->t.numel = (int64_t)numel;
	memcpy(t->t.shape, shape, ndim * sizeof *shape);
	memcpy(t->stride, stride, ndim * sizeof *stride);
	return pv_tensor(pool, &t->t);
}

/* Walks an extra-field area: the records must fill it exactly.  When
 * want[] is given, the zip64 record (id 1) supplies, in order, the fields
 * whose 32-bit value was 0xffffffff.  Returns 0, or -1 when malformed or
 * when a saturated field has no zip64 value. */
static int
zip_extra(const unsigned char *x, size_t xl, uint64_t *want[], int nwant)
{
	int got64 = 0;

	for (size_t at = 0; at < xl;) {
		if (xl - at < 4)
			return -1;
		size_t id = get_u16(x + at), len = get_u16(x + at + 2);
		if (len > xl - at - 4)
			return -1;
		if (id == 1 && want && !got64) {
			const unsigned char *q = x + at + 4, *qe = q + len;
			for (int k = 0; k < nwant; k++)
				if (*want[k] == 0xffffffffu) {
					if (qe - q < 8)
						return -1;
					*want[k] = get_u64(q);
					q += 8;
				}
			got64 = 1;
		}
		at += 4 + len;
	}
	for (int k = 0; want && k < nwant; k++)
		if (*want[k] == 0xffffffffu && !got64)
			return -1;
	return 0;
}

static int
zent_by_start(const void *a, const void *b)
{
	const struct zent *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The central directory, every entry checked against its local header and
 * data descriptor (names, flags, method, CRC and sizes must agree), the
 * records tiling the file from byte 0 to the directory with nothing
 * between, the directory filling exactly the space the end records give
 * it.  Names are covered by no CRC: these checks make a changed byte in
 * any of them (or in a count, size or offset) a refusal, never a file
 * that reads differently. */
static void
zip_parse(struct rd *r)
{
	const unsigned char *b = r->buf;
	size_t n = r->n, eocd = 0;
	int found = 0;

	if (n < 22)
		rd_fail(r, "too short for a zip file; %s", damaged);
	for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
		if (get_u32(b + i) == 0x06054b50 &&
		    i + 22 + get_u16(b + i + 20) == n) {
			eocd = i;
			found = 1;
			break;
		}
	if (!found)
		rd_fail(r, "no zip directory at the end: %s", damaged);
	if (get_u16(b + eocd + 4) || get_u16(b + eocd + 6) ||
	    get_u16(b + eocd + 8) != get_u16(b + eocd + 10))
		rd_fail(r, "a zip file split over several disks; %s", damaged);
	uint64_t count = get_u16(b + eocd + 10);
	uint64_t cdsize = get_u32(b + eocd + 12);
	uint64_t cdoff = get_u32(b + eocd + 16);
	uint64_t cdend = eocd;          /* where the directory must end */
	if (eocd >= 20 && get_u32(b + eocd - 20) == 0x07064b50) {
		/* zip64: the locator points at the end record just before it;
		 * its values must be those of the 32-bit record, except where
		 * that one is saturated */
		uint64_t z64 = get_u64(b + eocd - 20 + 8);
		if (z64 > eocd - 20 || eocd - 20 - z64 < 56 ||
		    get_u32(b + z64) != 0x06064b50 ||
		    get_u64(b + z64 + 4) != eocd - 20 - z64 - 12 ||
		    get_u32(b + eocd - 20 + 4) || get_u32(b + eocd - 20 + 16) != 1 ||
		    get_u32(b + z64 + 16) || get_u32(b + z64 + 20) ||
		    get_u64(b + z64 + 24) != get_u64(b + z64 + 32))
			rd_fail(r, "bad zip64 end record; %s", damaged);
		uint64_t c64 = get_u64(b + z64 + 32), s64 = get_u64(b + z64 + 40),
		         o64 = get_u64(b + z64 + 48);
		if ((count != 0xffff && count != c64) ||
		    (cdsize != 0xffffffffu && cdsize != s64) ||
		    (cdoff != 0xffffffffu && cdoff != o64))
			rd_fail(r, "the zip end records disagree; %s", damaged);
		count = c64, cdsize = s64, cdoff = o64;
		cdend = z64;
	} else if (count == 0xffff || cdsize == 0xffffffffu ||
	           cdoff == 0xffffffffu) {
		rd_fail(r, "zip64 locator missing; %s", damaged);
	}
	if (cdoff > cdend || cdsize != cdend - cdoff || count > cdsize / 46)
		rd_fail(r, "the zip directory is not where its end record "
		        "says; %s", damaged);
	r->z = xcalloc(count ? count : 1, sizeof *r->z);
	size_t at = cdoff;
	for (uint64_t k = 0; k < count; k++) {
		if (cdend - at < 46 || get_u32(b + at) != 0x02014b50)
			rd_fail(r, "bad zip directory entry; %s", damaged);
		struct zent *e = &r->z[r->nz];
		size_t nl = get_u16(b + at + 28), xl = get_u16(b + at + 30),
		       cl = get_u16(b + at + 32);
		if (cdend - at - 46 < nl + xl + cl || !nl ||
		    memchr(b + at + 46, 0, nl) || get_u16(b + at + 34))
			rd_fail(r, "bad zip directory entry; %s", damaged);
		int flags = get_u16(b + at + 8);
		e->method = get_u16(b + at + 10);
		e->crc = get_u32(b + at + 16);
		uint64_t csize = get_u32(b + at + 20);
		e->size = get_u32(b + at + 24);
		uint64_t loff = get_u32(b + at + 42);
		e->name = xmalloc(nl + 1);
		memcpy(e->name, b + at + 46, nl);
		e->name[nl] = 0;
		r->nz++;
		uint64_t *want[3] = { &e->size, &csize, &loff };
		if (zip_extra(b + at + 46 + nl, xl, want, 3))
			rd_fail(r, "record %s: bad zip64 field; %s", e->name,
			        damaged);
		if (e->method != 0)
			rd_fail(r, "record %s is compressed; torch.save never "
			        "does that; re-save the file with torch.save",
			        e->name);
		if (csize != e->size)
			rd_fail(r, "record %s has two sizes; %s", e->name,
			        damaged);
		/* the local header says the same */
		if (n < 30 || loff > n - 30 || get_u32(b + loff) != 0x04034b50)
			rd_fail(r, "record %s: local header missing; %s",
			        e->name, damaged);
		const unsigned char *h = b + loff;
		size_t lnl = get_u16(h + 26), lxl = get_u16(h + 28);
		uint32_t lcrc = get_u32(h + 14), lcs = get_u32(h + 18),
		         lus = get_u32(h + 22);
		if (lnl != nl || n - loff - 30 < lnl + lxl ||
		    memcmp(h + 30, e->name, nl))
			rd_fail(r, "record %s: its local header names another "
			        "record; %s", e->name, damaged);
		if (get_u16(h + 6) != flags || get_u16(h + 8) != e->method ||
		    zip_extra(h + 30 + lnl, lxl, NULL, 0))
			rd_fail(r, "record %s: its local header disagrees with "
			        "the directory; %s", e->name, damaged);
		e->start = loff;
		e->off = loff + 30 + lnl + lxl;
		if (e->size > n - e->off)
			rd_fail(r, "record %s runs past the end of the file; %s",
			        e->name, damaged);
		e->end = e->off + e->size;
		if (flags & 8) {
			/* sizes and CRC follow the data: 0 (or the same)
			 * here, and a descriptor after it */
			if ((lcrc && lcrc != e->crc) ||
			    (lcs && lcs != 0xffffffffu && lcs != e->size) ||
			    (lus && lus != 0xffffffffu && lus != e->size))
				rd_fail(r, "record %s: its local header disagrees "
				        "with the directory; %s", e->name, damaged);
			const unsigned char *d = b + e->end;
			size_t left = n - e->end, sig = 0;
			if (left >= 4 && get_u32(d) == 0x08074b50)
				sig = 4;
			if (left - sig >= 12 && get_u32(d + sig) == e->crc &&
			    get_u32(d + sig + 4) == e->size &&
			    get_u32(d + sig + 8) == e->size)
				e->end += sig + 12;
			else if (left - sig >= 20 && get_u32(d + sig) == e->crc &&
			         get_u64(d + sig + 4) == e->size &&
			         get_u64(d + sig + 12) == e->size)
				e->end += sig + 20;
			else
				rd_fail(r, "record %s: its data descriptor "
				        "disagrees with the directory; %s",
				        e->name, damaged);
		} else if (lcrc != e->crc ||
		           (lcs != 0xffffffffu && lcs != e->size) ||
		           (lus != 0xffffffffu && lus != e->size)) {
			rd_fail(r, "record %s: its local header disagrees with "
			        "the directory; %s", e->name, damaged);
		}
		at += 46 + nl + xl + cl;
	}
	if (at != cdend)
		rd_fail(r, "the zip directory holds more than its %llu "
		        "entries; %s", (unsigned long long)count, damaged);
	if (!r->nz)
		rd_fail(r, "an empty zip file is not a checkpoint");
	/* the records, in file order, fill the file up to the directory */
	struct zent *s = xmalloc(r->nz * sizeof *s);
	memcpy(s, r->z, r->nz * sizeof *s);
	qsort(s, r->nz, sizeof *s, zent_by_start);
	uint64_t pos = 0;
	for (size_t i = 0; i < r->nz && pos != UINT64_MAX; i++)
		pos = s[i].start == pos ? s[i].end : UINT64_MAX;
	free(s);
	if (pos != cdoff)
		rd_fail(r, "the zip records overlap or leave gaps; %s", damaged);
	/* one top folder, and only the records torch.save (and we) write */
	const char *slash = strchr(r->z[0].name, '/');
	if (!slash || slash == r->z[0].name)
		rd_fail(r, "zip entries are not in a top folder: not a PyTorch "
		        "checkpoint");
	size_t la = (size_t)(slash - r->z[0].name);
	r->p->archive = xmalloc(la + 1);
	memcpy(r->p->archive, r->z[0].name, la);
	r->p->archive[la] = 0;
	for (size_t i = 0; i < r->nz; i++) {
		const char *nm = r->z[i].name, *rel = nm + la + 1;
		static const char *known[] = {
			"data.pkl", "byteorder", "version", ".data/version",
			".data/serialization_id", ".format_version",
			".storage_alignment", "ulmfit/meta" };
		int ok = 0;
		if (strncmp(nm, r->p->archive, la) || nm[la] != '/')
			rd_fail(r, "records in two top folders (%s/ and %s); "
			        "%s", r->p->archive, nm, damaged);
		for (size_t k = 0; k < sizeof known / sizeof *known; k++)
			ok |= !strcmp(rel, known[k]);
		if (!strncmp(rel, "data/", 5) && rel[5] &&
		    strspn(rel + 5, "0123456789") == strlen(rel + 5))
			ok = 1;
		/* ours: the LSTM state of a mid-epoch checkpoint */
		size_t dl = strncmp(rel, "ulmfit/state.", 13) ? 0 :
		            strspn(rel + 13, "0123456789");
		if (dl && (!strcmp(rel + 13 + dl, ".h") ||
		           !strcmp(rel + 13 + dl, ".c")))
			ok = 1;
		if (!ok)
			rd_fail(r, "record %s is not one a PyTorch checkpoint "
			        "has; %s", nm, damaged);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(r->z[k].name, nm))
				rd_fail(r, "record %s appears twice; %s", nm,
				        damaged);
	}
}

static uint64_t
crc_check(struct rd *r, const struct zent *e)
{
	if (pth_crc32(0, r->buf + e->off, e->size) != e->crc)
		rd_fail(r, "record %s fails its CRC check; %s", e->name,
		        damaged);
	((struct zent *)e)->used = 1;
	return e->off;
}

static const struct zent *
zfind(struct rd *r, const char *rel)
{
	size_t la = strlen(r->p->archive);

	for (size_t i = 0; i < r->nz; i++)
		if (!strncmp(r->z[i].name, r->p->archive, la) &&
		    r->z[i].name[la] == '/' && !strcmp(r->z[i].name + la + 1, rel))
			return &r->z[i];
	return NULL;
}

static void
fill_storage(struct rd *r, struct pth_storage *s, const unsigned char *src)
{
	int es = dtypes[s->dtype].isfloat ? 4 : 8;

	/* pth_load's own buffer: little-endian float32 is used where it lies
	 * (torch aligns records to 64 bytes), no copy */
	if (r->view && s->dtype == PTH_F32 && s->numel && host_is_le() &&
	    (uintptr_t)src % sizeof(float) == 0) {
		s->data = (void *)src;
		s->view = s->loaded = 1;
		return;
	}
	s->data = xmalloc(s->numel ? (size_t)s->numel * es : 1);
	convert(s->data, src, s->dtype, s->numel);
	s->loaded = 1;
	(void)r;
}

static void
load_zip(struct rd *r)
{
	struct pth *p = r->p;
	struct pk_reader pk = { &p->pool, on_persid, on_tensor, r };
	const struct zent *e;
	size_t used;
	char *err = NULL;

	zip_parse(r);
	if (!(e = zfind(r, "data.pkl")))
		rd_fail(r, "no %s/data.pkl record: not a PyTorch checkpoint "
		        "(or a damaged one)", p->archive);
	crc_check(r, e);
	const struct zent *bo = zfind(r, "byteorder");
	if (bo && (crc_check(r, bo), bo->size != 6 ||
	           memcmp(r->buf + bo->off, "little", 6)))
		rd_fail(r, "written on a big-endian machine; re-save it on a "
		        "little-endian one");
	if (!(p->root = pk_load(&pk, r->buf + e->off, e->size, &used, &err))) {
		free(r->err);
		r->err = err;
		rd_fail(r, "data.pkl: %s", err);
	}
	if (used != e->size)
		rd_fail(r, "data.pkl goes on after its pickle ends; %s", damaged);
	for (size_t i = 0; i < p->nst; i++) {
		struct pth_storage *s = &p->st[i];
		char *rel;
		if (asprintf(&rel, "data/%s", s->key) < 0)
			die("out of memory");
		e = zfind(r, rel);
		free(rel);
		if (!e)
			rd_fail(r, "record %s/data/%s is missing; %s", p->archive,
			        s->key, damaged);
		if (e->size != (uint64_t)s->numel * dtypes[s->dtype].size)
			rd_fail(r, "record %s holds %llu bytes but storage %s "
			        "needs %lld x %d; %s", e->name,
			        (unsigned long long)e->size, s->key,
			        (long long)s->numel, dtypes[s->dtype].size,
			        damaged);
		crc_check(r, e);
		fill_storage(r, s, r->buf + e->off);
	}
	if ((e = zfind(r, "ulmfit/meta"))) {
		crc_check(r, e);
		if (memchr(r->buf + e->off, 0, e->size))
			rd_fail(r, "record %s holds a NUL byte: not our "
			        "metadata; %s", e->name, damaged);
		p->meta = xmalloc(e->size + 1);
		memcpy(p->meta, r->buf + e->off, e->size);
		p->meta[e->size] = 0;
	}
	for (size_t i = 0; i < r->nz; i++) {
		const char *rel = r->z[i].name + strlen(p->archive) + 1;
		if (strncmp(rel, "ulmfit/", 7) || !strcmp(rel, "ulmfit/meta"))
			continue;
		crc_check(r, &r->z[i]);
		p->rec = xrealloc(p->rec, (p->nrec + 1) * sizeof *p->rec);
		void *d = xmalloc(r->z[i].size ? r->z[i].size : 1);
		memcpy(d, r->buf + r->z[i].off, r->z[i].size);
		p->rec[p->nrec++] = (struct pth_record){ xstrdup(rel + 7), d,
		                                         r->z[i].size };
	}
	/* the format version: what torch.save has written since torch 1.6 */
	static const char *ver[] = { "version", ".data/version" };
	for (int k = 0; k < 2; k++) {
		e = zfind(r, ver[k]);
		if (!e && !k)
			rd_fail(r, "no %s/version record; %s", p->archive,
			        damaged);
		if (!e)
			continue;
		crc_check(r, e);
		if (e->size != 2 || memcmp(r->buf + e->off, "3\n", 2))
			rd_fail(r, "record %s says format version '%.*s'; this "
			        "reader knows version 3 (torch.save of torch 1.6 "
			        "and later)", e->name,
			        (int)(e->size > 16 ? 16 : e->size),
			        (const char *)r->buf + e->off);
	}
	/* every other record is intact too, and none is left unread: an
	 * unused storage is a damaged file, not something to ignore */
	for (size_t i = 0; i < r->nz; i++) {
		const char *rel = r->z[i].name + strlen(p->archive) + 1;
		if (r->z[i].used)
			continue;
		if (!strncmp(rel, "data/", 5))
			rd_fail(r, "record %s is used by no tensor; %s",
			        r->z[i].name, damaged);
		crc_check(r, &r->z[i]);
	}
}

static struct pv *
legacy_pickle(struct rd *r, size_t *at, const char *what)
{
	struct pth *p = r->p;
	struct pk_reader pk = { &p->pool, on_persid, on_tensor, r };
	size_t used;
	char *err = NULL;
	struct pv *v;

	if (!(v = pk_load(&pk, r->buf + *at, r->n - *at, &used, &err))) {
		free(r->err);
		r->err = err;
		rd_fail(r, "legacy format, %s: %s", what, err);
	}
	*at += used;
	return v;
}

static void
load_legacy(struct rd *r)
{
	static const unsigned char magic[10] = {
		0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 };
	struct pth *p = r->p;
	size_t at = 0, nk;
	int64_t proto;
	struct pv *v;

	v = legacy_pickle(r, &at, "magic number");
	if (v->kind != PV_INT || !v->big || v->len != 10 ||
	    memcmp(v->big, magic, 10))
		rd_fail(r, "not a PyTorch file (no legacy magic number)");
	v = legacy_pickle(r, &at, "protocol");
	if (!pv_as_int(v, &proto) || proto != 1001)
		rd_fail(r, "legacy protocol %lld, this reader knows 1001",
		        (long long)proto);
	v = legacy_pickle(r, &at, "sys_info");
	const struct pv *le = pv_get(v, "little_endian");
	if (!le || le->kind != PV_BOOL || !le->i)
		rd_fail(r, "written on a big-endian machine; re-save it on a "
		        "little-endian one");
	p->root = legacy_pickle(r, &at, "object");
	v = legacy_pickle(r, &at, "storage keys");
	struct pv *const *keys = pv_items(v, &nk);
	if (!keys)
		rd_fail(r, "legacy storage key list missing; %s", damaged);
	for (size_t k = 0; k < nk; k++) {
		size_t i;
		if (keys[k]->kind != PV_STR)
			rd_fail(r, "legacy storage key is not a string; %s",
			        damaged);
		for (i = 0; i < p->nst; i++)
			if (!strcmp(p->st[i].key, keys[k]->s))
				break;
		if (i == p->nst)
			rd_fail(r, "storage %s is not used by any tensor; %s",
			        keys[k]->s, damaged);
		struct pth_storage *s = &p->st[i];
		if (s->loaded)
			rd_fail(r, "storage %s is listed twice; %s", s->key,
			        damaged);
		if (r->n - at < 8)
			rd_fail(r, "storage %s is cut short; %s", s->key, damaged);
		int64_t cnt = (int64_t)get_u64(r->buf + at);
		at += 8;
		if (cnt != s->numel)
			rd_fail(r, "storage %s has %lld elements, its tensor "
			        "says %lld; %s", s->key, (long long)cnt,
			        (long long)s->numel, damaged);
		size_t bytes = (size_t)cnt * dtypes[s->dtype].size;
		if (r->n - at < bytes)
			rd_fail(r, "storage %s is cut short; %s", s->key, damaged);
		fill_storage(r, s, r->buf + at);
		at += bytes;
	}
	for (size_t i = 0; i < p->nst; i++)
		if (!p->st[i].loaded)
			rd_fail(r, "storage %s has no data; %s", p->st[i].key,
			        damaged);
}

/* Point every tensor at its storage: a view when contiguous, a copy when
 * strided (rare in state dicts). */
static void
resolve(struct rd *r)
{
	struct pth *p = r->p;

	for (size_t i = 0; i < p->nall; i++) {
		struct tens *t = (struct tens *)p->all[i];
		struct pth_storage *s = &p->st[t->st];
		int isf = dtypes[s->dtype].isfloat, es = isf ? 4 : 8;
		int64_t want = 1;
		int contig = 1;
		/* an empty tensor is contiguous (and its sizes may be anything) */
		for (int d = t->t.ndim - 1; d >= 0 && t->t.numel; d--) {
			if (t->t.shape[d] > 1 && t->stride[d] != want)
				contig = 0;
			want *= t->t.shape[d];
		}
		char *base = (char *)s->data + t->t.offset * es;
		if (!contig && t->t.numel > s->numel)
			rd_fail(r, "a broadcast view (%lld elements of a "
			        "%lld-element storage) is not a state dict tensor; "
			        "save tensor.contiguous() instead",
			        (long long)t->t.numel, (long long)s->numel);
		if (!contig) {
			char *dst = t->own = xmalloc(t->t.numel * es + 1);
			int64_t idx[PTH_MAXDIM] = { 0 };
			for (int64_t k = 0; k < t->t.numel; k++) {
				int64_t off = 0;
				for (int d = 0; d < t->t.ndim; d++)
					off += idx[d] * t->stride[d];
				memcpy(dst + k * es, base + off * es, es);
				for (int d = t->t.ndim - 1; d >= 0; d--) {
					if (++idx[d] < t->t.shape[d])
						break;
					idx[d] = 0;
				}
			}
			base = dst;
		}
		if (isf)
			t->t.f = (float *)base;
		else
			t->t.l = (int64_t *)base;
	}
}

/* tie: the first entry that is the same tensor (storage, offset, size) */
static void
set_ties(struct pth *p)
{
	for (int i = 0; i < p->n; i++) {
		struct pth_tensor *t = &p->t[i];
		t->tie = i;
		for (int k = 0; k < i; k++)
			if (p->t[k].key == t->key && p->t[k].offset == t->offset
			    && p->t[k].numel == t->numel) {
				t->tie = k;
				break;
			}
	}
}

static void
state_dict(struct rd *r)
{
	struct pth *p = r->p;
	const struct pv *m;

	if (!p->root || p->root->kind != PV_DICT)
		rd_fail(r, "the file holds no dict of tensors (not a state "
		        "dict or a fastai checkpoint)");
	p->sd = p->root;
	if ((m = pv_get(p->root, "model")) && m->kind == PV_DICT) {
		p->sd = m;
		p->opt = pv_get(p->root, "opt");
	}
	p->t = xcalloc(p->sd->n / 2 + 1, sizeof *p->t);
	for (size_t k = 0; k + 1 < p->sd->n; k += 2) {
		const struct pv *key = p->sd->it[k], *val = p->sd->it[k + 1];
		if (key->kind != PV_STR || val->kind != PV_TENSOR)
			continue;
		struct pth_tensor *t = &p->t[p->n];
		*t = *val->t;
		t->name = key->s;
		p->n++;
	}
	set_ties(p);
}

static struct pth *
load_buf(const unsigned char *buf, size_t n, const char *name, int view,
         char **err)
{
	struct rd r;
	struct pth *p = xcalloc(1, sizeof *p);

	memset(&r, 0, sizeof r);
	r.p = p;
	r.buf = buf;
	r.n = n;
	r.view = view;
	p->path = xstrdup(name);
	if (setjmp(r.fail)) {
		*err = r.err;
		for (size_t i = 0; i < r.nz; i++)
			free(r.z[i].name);
		free(r.z);
		pth_free(p);
		return NULL;
	}
	if (!view)      /* pth_load's mapping: pth_xxh64 hashes it on demand */
		p->xxh64 = XXH64(buf, n, 0);
	if (n >= 4 && !memcmp(buf, "PK\3\4", 4)) {
		load_zip(&r);
	} else if (n >= 2 && buf[0] == 0x80) {
		p->legacy = 1;
		load_legacy(&r);
	} else if (n > 262 && !memcmp(buf + 257, "ustar", 5)) {
		rd_fail(&r, "a tar checkpoint from torch < 0.4: re-save it with "
		        "a newer torch");
	} else {
		rd_fail(&r, "not a PyTorch checkpoint (neither zip nor "
		        "legacy pickle)");
	}
	resolve(&r);
	state_dict(&r);
	for (size_t i = 0; i < r.nz; i++)
		free(r.z[i].name);
	free(r.z);
	*err = NULL;
	return p;
}

uint64_t
pth_xxh64(const struct pth *p)
{
	return p->map ? XXH64(p->map, p->mapused, 0) : p->xxh64;
}

struct pth *
pth_load_mem(const unsigned char *buf, size_t n, const char *name, char **err)
{
	return load_buf(buf, n, name, 0, err);
}

struct pth *
pth_load(const char *path)
{
	FILE *f = open_in(path);
	struct stat sb;
	unsigned char *buf;
	size_t n = 0, cap, k;
	char *err;
	struct pth *p;

	/* A regular file is read into big_alloc's pages, faulted in first
	 * (2 MiB pages where the kernel has them: cheap to touch and to walk),
	 * and float32 tensors stay where they lie: no copy per storage. */
	if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_size > 0 && (uint64_t)sb.st_size < SIZE_MAX &&
	    (buf = big_alloc((size_t)sb.st_size + 1))) {
		size_t want = (size_t)sb.st_size + 1;  /* +1: see growth */
		memset(buf, 0, want);
		for (;;) {
			ssize_t got = read(fileno(f), buf + n, want - n);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				die("%s:", path);
			if (got == 0)
				break;
			n += (size_t)got;
			if (n == want)          /* it grew: read it the old way */
				break;
		}
		if (n < want) {
			close_in(f, path);
			p = load_buf(buf, n, path, 1, &err);
			if (!p) {
				big_free(buf, want);
				warn("%s", err);
				free(err);
				exit(1);
			}
			p->map = buf, p->mapn = want, p->mapused = n;
			return p;
		}
		big_free(buf, want);
		rewind(f);
		n = 0;
	}
	cap = (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) ?
	      (size_t)sb.st_size + 1 : 1 << 20;
	buf = xmalloc(cap);
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	close_in(f, path);
	p = pth_load_mem(buf, n, path, &err);
	free(buf);
	if (!p) {
		warn("%s", err);
		free(err);
		exit(1);
	}
	return p;
}

void
pth_free(struct pth *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nall; i++) {
		free(((struct tens *)p->all[i])->own);
		free(p->all[i]);
	}
	for (size_t i = 0; i < p->nst; i++) {
		free(p->st[i].key);
		if (!p->st[i].view)
			free(p->st[i].data);
	}
	big_free(p->map, p->mapn);
	free(p->all);
	free(p->st);
	free(p->t);
	free(p->meta);
	for (int i = 0; i < p->nrec; i++) {
		free((void *)p->rec[i].name);
		free((void *)p->rec[i].data);
	}
	free(p->rec);
	free(p->archive);
	free(p->path);
	pv_pool_free(&p->pool);
	free(p);
}

struct pth_tensor *
pth_find(const struct pth *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->t[i].name, name))
			return &p->t[i];
	return NULL;
}

static void
shape_str(char *s, size_t cap, int ndim, const int64_t *shape)
{
	size_t k = 0;

	k += snprintf(s + k, cap - k, "(");
	for (int d = 0; d < ndim && k < cap; d++)
		k += snprintf(s + k, cap - k, "%s%lld", d ? "," : "",
		              (long long)shape[d]);
	if (k < cap)
		snprintf(s + k, cap - k, ")");
}

struct pth_tensor *
pth_need(const struct pth *p, const char *name, int ndim, const int64_t *shape)
{
	struct pth_tensor *t = pth_find(p, name);
	char a[128], b[128];

	if (!t)
		die("%s: no tensor '%s': not a checkpoint of this model",
		    p->path, name);
	if (!t->f)
		die("%s: tensor '%s' is not a float tensor", p->path, name);
	if (shape && (t->ndim != ndim ||
	              memcmp(t->shape, shape, ndim * sizeof *shape))) {
		shape_str(a, sizeof a, t->ndim, t->shape);
		shape_str(b, sizeof b, ndim, shape);
		die("%s: tensor '%s' is %s, this model needs %s; use the same "
		    "sizes (and vocab) the checkpoint was made with",
		    p->path, name, a, b);
	}
	return t;
}

const void *
pth_record(const struct pth *p, const char *name, size_t *size)
{
	for (int i = 0; i < p->nrec; i++)
		if (!strcmp(p->rec[i].name, name)) {
			*size = p->rec[i].size;
			return p->rec[i].data;
		}
	return NULL;
}

const char *
pth_meta(const struct pth *p, const char *key)
{
	static char val[1024];
	size_t vl;
	const char *v = kv_find(p->meta, key, &vl);

	if (!v)
		return NULL;
	if (vl >= sizeof val)
		vl = sizeof val - 1;
	memcpy(val, v, vl);
	val[vl] = 0;
	return val;
}

int
pth_clean_raw_keys(struct pth *p)
{
	int dropped = 0, j = 0;

	for (int i = 0; i < p->n; i++) {
		const char *name = p->t[i].name, *m = NULL;
		/* the last ".module." component (or a leading "module.") */
		for (const char *q = name; (q = strstr(q, "module.")); q++)
			if (q == name || q[-1] == '.')
				m = q;
		int drop = 0;
		if (m) {
			char *raw = xmalloc(strlen(name) + 8);
			size_t pre = m - name;
			memcpy(raw, name, pre);
			strcpy(raw + pre, m + 7);
			strcat(raw, "_raw");
			drop = pth_find(p, raw) != NULL;
			free(raw);
		}
		if (drop)
			dropped++;
		else
			p->t[j++] = p->t[i];
	}
	p->n = j;
	set_ties(p);
	return dropped;
}

/* ---- writing ----------------------------------------------------------- */

struct wst {                    /* a storage to write */
	const void *ptr;
	int dtype;
	int64_t numel;
	char key[24];
};

struct wctx {
	struct wst *st;
	size_t nst, cap;
};

static int64_t
tnumel(const struct pth_tensor *t)
{
	int64_t n = 1;

	for (int d = 0; d < t->ndim; d++)
		n *= t->shape[d];
	return n;
}

static const void *
tdata(const struct pth_tensor *t)
{
	return t->dtype == PTH_I64 ? (const void *)t->l : (const void *)t->f;
}

/* Storages in pickle order (the order torch numbers them); tensors with
 * the same data pointer share one, as large as the largest of them. */
static void
collect(struct wctx *c, const struct pv *v)
{
	if (v->kind == PV_TENSOR) {
		const struct pth_tensor *t = v->t;
		const void *ptr = tdata(t);
		if (t->dtype != PTH_F32 && t->dtype != PTH_I64)
			die("pth: tensor %s: only float32 and int64 can be "
			    "written", t->name ? t->name : "?");
		int64_t numel = tnumel(t);
		if (t->ndim < 0 || t->ndim > PTH_MAXDIM)
			die("pth: tensor %s: bad rank %d", t->name ? t->name : "?",
			    t->ndim);
		if (!ptr && numel)
			die("pth: tensor %s has no data",
			    t->name ? t->name : "?");
		for (size_t i = 0; i < c->nst; i++)
			if (c->st[i].ptr == ptr && ptr) {
				if (c->st[i].dtype != t->dtype)
					die("pth: tensor %s shares memory with "
					    "a tensor of another type", t->name);
				if (numel > c->st[i].numel)
					c->st[i].numel = numel;
				return;
			}
		if (c->nst == c->cap) {
			c->cap = c->cap ? 2 * c->cap : 32;
			c->st = xrealloc(c->st, c->cap * sizeof *c->st);
		}
		struct wst *s = &c->st[c->nst];
		s->ptr = ptr;
		s->dtype = t->dtype;
		s->numel = numel;
		snprintf(s->key, sizeof s->key, "%zu", c->nst);
		c->nst++;
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		if (v->kind == PV_TUPLE || v->kind == PV_LIST ||
		    v->kind == PV_DICT)
			collect(c, v->it[i]);
}

static void
dims_tuple(struct pk_writer *w, int ndim, const int64_t *d)
{
	if (!ndim) {
		pk_op(w, ')');
		return;
	}
	if (ndim > 3)
		pk_op(w, '(');
	for (int i = 0; i < ndim; i++)
		pk_int(w, d[i]);
	pk_op(w, ndim > 3 ? 't' : 0x84 + ndim);
	pk_put(w);
}

/* As torch: _rebuild_tensor_v2(pid, 0, size, stride, False, OrderedDict()) */
static void
tensor_out(void *ctx, struct pk_writer *w, const struct pv *v)
{
	struct wctx *c = ctx;
	const struct pth_tensor *t = v->t;
	const void *ptr = tdata(t);
	struct wst *s = NULL;
	int64_t stride[PTH_MAXDIM];

	for (size_t i = 0; i < c->nst; i++)
		if (c->st[i].ptr == ptr)
			s = &c->st[i];
	pk_global(w, "torch._utils", "_rebuild_tensor_v2");
	pk_op(w, '(');
	pk_op(w, '(');
	pk_shared_str(w, "storage");
	pk_global(w, "torch", dtypes[t->dtype].storage);
	pk_shared_str(w, s->key);
	pk_shared_str(w, "cpu");
	pk_int(w, s->numel);
	pk_op(w, 't');
	pk_put(w);
	pk_op(w, 'Q');
	pk_int(w, 0);
	dims_tuple(w, t->ndim, t->shape);
	for (int d = t->ndim - 1; d >= 0; d--)
		stride[d] = d == t->ndim - 1 ? 1 : stride[d + 1] * t->shape[d + 1];
	dims_tuple(w, t->ndim, stride);
	pk_op(w, 0x89);
	pk_global(w, "collections", "OrderedDict");
	pk_op(w, ')');
	pk_op(w, 'R');
	pk_put(w);
	pk_op(w, 't');
	pk_put(w);
	pk_op(w, 'R');
	pk_put(w);
}

struct zw {                     /* zip writer */
	FILE *f;
	const char *path;       /* for messages; NULL: "pth" */
	uint64_t at;
	struct { char *name; uint32_t crc; uint64_t size, off; } *e;
	size_t ne, cap;
};

static void
zput(struct zw *z, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, z->f) != n)
		die("%s: write error:", z->path ? z->path : "pth");
	z->at += n;
}

static void
zentry(struct zw *z, const char *archive, const char *rel,
       const void *data, uint64_t size)
{
	unsigned char h[30];
	char name[512];
	static const char fill[64] = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
	                             "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
	size_t nl = (size_t)snprintf(name, sizeof name, "%s/%s", archive, rel);
	uint32_t crc = pth_crc32(0, data, size);

	if (nl >= sizeof name)
		die("pth: archive name too long");
	if (z->at + size + 200 >= 0xffffffffu)
		die("pth: checkpoints over 4 GiB are not supported yet");
	/* data starts at a multiple of 64: pad in an 'FB' extra field */
	uint64_t start = z->at + 30 + nl + 4;
	size_t pad = (64 - start % 64) % 64;
	memset(h, 0, sizeof h);
	put_u32(h, 0x04034b50);
	put_u16(h + 6, 0x0808);         /* data descriptor, UTF-8 names */
	put_u16(h + 26, (uint16_t)nl);
	put_u16(h + 28, (uint16_t)(4 + pad));
	zput(z, h, 30);
	zput(z, name, nl);
	unsigned char x[4] = { 'F', 'B', (unsigned char)pad, 0 };
	zput(z, x, 4);
	zput(z, fill, pad);
	if (z->ne == z->cap) {
		z->cap = z->cap ? 2 * z->cap : 32;
		z->e = xrealloc(z->e, z->cap * sizeof *z->e);
	}
	z->e[z->ne].name = xstrdup(name);
	z->e[z->ne].crc = crc;
	z->e[z->ne].size = size;
	z->e[z->ne].off = z->at - 30 - nl - 4 - pad;
	z->ne++;
	zput(z, data, size);
	unsigned char d[16];
	put_u32(d, 0x08074b50);
	put_u32(d + 4, crc);
	put_u32(d + 8, (uint32_t)size);
	put_u32(d + 12, (uint32_t)size);
	zput(z, d, 16);
}

static void
zfinish(struct zw *z)
{
	uint64_t cd = z->at;
	unsigned char h[56];

	for (size_t i = 0; i < z->ne; i++) {
		size_t nl = strlen(z->e[i].name);
		memset(h, 0, 46);
		put_u32(h, 0x02014b50);
		put_u16(h + 8, 0x0808);
		put_u32(h + 16, z->e[i].crc);
		put_u32(h + 20, (uint32_t)z->e[i].size);
		put_u32(h + 24, (uint32_t)z->e[i].size);
		put_u16(h + 28, (uint16_t)nl);
		put_u32(h + 42, (uint32_t)z->e[i].off);
		zput(z, h, 46);
		zput(z, z->e[i].name, nl);
		free(z->e[i].name);
	}
	uint64_t cdsize = z->at - cd, z64 = z->at;
	memset(h, 0, 56);               /* zip64 end record, as torch writes */
	put_u32(h, 0x06064b50);
	put_u64(h + 4, 44);
	put_u16(h + 12, 0x031e);
	put_u16(h + 14, 0x2d);
	put_u64(h + 24, z->ne);
	put_u64(h + 32, z->ne);
	put_u64(h + 40, cdsize);
	put_u64(h + 48, cd);
	zput(z, h, 56);
	memset(h, 0, 20);
	put_u32(h, 0x07064b50);
	put_u64(h + 8, z64);
	put_u32(h + 16, 1);
	zput(z, h, 20);
	memset(h, 0, 22);
	put_u32(h, 0x06054b50);
	put_u16(h + 8, (uint16_t)z->ne);
	put_u16(h + 10, (uint16_t)z->ne);
	put_u32(h + 12, (uint32_t)cdsize);
	put_u32(h + 16, (uint32_t)cd);
	zput(z, h, 22);
	free(z->e);
	z->e = NULL;
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct wst *)a)->key, ((const struct wst *)b)->key);
}

static void
pth_write_to(FILE *f, const char *path, const char *archive,
             const struct pv *root, const char *meta,
             const struct pth_record *rec, int nrec)
{
	struct wctx c = { 0 };
	struct buf pkl = { 0 };
	struct pk_writer w = { 0 };
	struct zw z = { 0 };

	if (!host_is_le())
		die("pth: writing on a big-endian host is not supported");
	collect(&c, root);
	w.out = &pkl;
	w.tensor = tensor_out;
	w.ctx = &c;
	pk_write(&w, root);
	pk_writer_free(&w);
	z.f = f;
	z.path = path;
	zentry(&z, archive, "data.pkl", pkl.p, pkl.n);
	zentry(&z, archive, "byteorder", "little", 6);
	/* records in string order of their keys: data/10 before data/2 */
	qsort(c.st, c.nst, sizeof *c.st, key_cmp);
	for (size_t i = 0; i < c.nst; i++) {
		char rel[40];
		snprintf(rel, sizeof rel, "data/%s", c.st[i].key);
		zentry(&z, archive, rel, c.st[i].ptr,
		       (uint64_t)c.st[i].numel * dtypes[c.st[i].dtype].size);
	}
	zentry(&z, archive, "version", "3\n", 2);
	if (meta)
		zentry(&z, archive, "ulmfit/meta", meta, strlen(meta));
	for (int i = 0; i < nrec; i++) {
		char rel[128];
		if (snprintf(rel, sizeof rel, "ulmfit/%s", rec[i].name) >=
		    (int)sizeof rel || !strcmp(rec[i].name, "meta"))
			die("pth: bad record name %s", rec[i].name);
		zentry(&z, archive, rel, rec[i].data, rec[i].size);
	}
	zfinish(&z);
	free(c.st);
	buf_free(&pkl);
}

void
pth_write(FILE *f, const char *archive, const struct pv *root,
          const char *meta)
{
	pth_write_to(f, NULL, archive, root, meta, NULL, 0);
}

int
pth_save(const char *path, const struct pv *root, const char *meta)
{
	return pth_save_records(path, root, meta, NULL, 0);
}

int
pth_save_records(const char *path, const struct pv *root, const char *meta,
                 const struct pth_record *rec, int nrec)
{
	struct out *o = out_open(path, 1);
	const char *base = strrchr(path, '/');
	char *archive;

	base = base ? base + 1 : path;
	if (!strcmp(path, "-"))
		base = "archive";
	archive = xstrdup(base);
	char *dot = strrchr(archive, '.');
	if (dot && dot != archive)
		*dot = 0;
	pth_write_to(o->f, path, archive, root, meta, rec, nrec);
	free(archive);
	return out_close(o);
}

struct pv *
pth_state_dict(struct pv_pool *pool, const struct pth_tensor *t, int n)
{
	struct pv *sd = pv_odict(pool);

	for (int i = 0; i < n; i++)
		pv_sets(pool, sd, t[i].name,
		        pv_tensor(pool, (struct pth_tensor *)&t[i]));
	return sd;
}

struct pv *
pth_learner(struct pv_pool *pool, struct pv *sd, struct pv *opt)
{
	if (!opt)
		return sd;
	struct pv *d = pv_dict(pool);
	pv_sets(pool, d, "model", sd);
	pv_sets(pool, d, "opt", opt);
	return d;
}

/* ---- save_encoder -------------------------------------------------------- */

const char *
pth_encoder_prefix(const struct pth *p)
{
	static const char *pre[] = { "0.module.", "0.", "" };
	char k[64];

	for (size_t i = 0; i < sizeof pre / sizeof *pre; i++) {
		snprintf(k, sizeof k, "%sencoder.weight", pre[i]);
		if (pth_find(p, k))
			return pre[i];
	}
	return NULL;
}

int
pth_encoder(const struct pth *p, struct pth_tensor *out, struct awd_shape *sh)
{
	const char *pre = pth_encoder_prefix(p);
	char want[96];
	int n = 0;

	if (!pre)
		die("%s: no AWD-LSTM encoder (no 0.encoder.weight, "
		    "0.module.encoder.weight or encoder.weight): is it a "
		    "fastai language model or classifier?", p->path);
	size_t pl = strlen(pre);
	for (int i = 0; i < p->n; i++) {
		const char *name = p->t[i].name;
		if (strncmp(name, pre, pl))
			continue;
		/* an LM's "0." keys are all encoder; "1." is the decoder */
		out[n] = p->t[i];
		out[n].name = name + pl;
		out[n].dtype = out[n].f ? PTH_F32 : PTH_I64;
		n++;
	}
	/* the layout, and the sizes it implies */
	const struct pth_tensor *e = &out[0];
	if (strcmp(e->name, "encoder.weight") || e->ndim != 2 || !e->f)
		die("%s: the encoder does not start with a 2-d encoder.weight; "
		    "not an AWD-LSTM", p->path);
	sh->vocab = e->shape[0];
	sh->emb = e->shape[1];
	sh->hid = 0;
	if (n < 2 || strcmp(out[1].name, "encoder_dp.emb.weight") ||
	    out[1].ndim != 2 || out[1].shape[0] != sh->vocab ||
	    out[1].shape[1] != sh->emb)
		die("%s: encoder_dp.emb.weight missing or not (%lld,%lld); "
		    "not a fastai AWD-LSTM", p->path, (long long)sh->vocab,
		    (long long)sh->emb);
	if ((n - 2) % 4 || n == 2)
		die("%s: %d encoder tensors; an AWD-LSTM has 2 + 4 per layer "
		    "(a QRNN or another encoder is not supported)", p->path, n);
	sh->layers = (n - 2) / 4;
	static const char *part[4] = { "weight_hh_l0_raw", "module.weight_ih_l0",
	                               "module.bias_ih_l0", "module.bias_hh_l0" };
	int64_t in = sh->emb;
	for (int l = 0; l < sh->layers; l++) {
		const struct pth_tensor *t = &out[2 + 4 * l];
		int64_t h = t[0].ndim == 2 ? t[0].shape[1] : -1;
		int64_t shp[4][2] = { { 4 * h, h }, { 4 * h, in }, { 4 * h, 0 },
		                      { 4 * h, 0 } };
		for (int k = 0; k < 4; k++) {
			snprintf(want, sizeof want, "rnns.%d.%s", l, part[k]);
			int nd = k < 2 ? 2 : 1;
			if (strcmp(t[k].name, want) || t[k].ndim != nd ||
			    t[k].shape[0] != shp[k][0] ||
			    (nd == 2 && t[k].shape[1] != shp[k][1]))
				die("%s: expected %s%s of shape (%lld%s%lld) at "
				    "encoder position %d; not a fastai AWD-LSTM",
				    p->path, pre, want, (long long)shp[k][0],
				    nd == 2 ? "," : "", nd == 2 ?
				    (long long)shp[k][1] : 0LL, 2 + 4 * l + k);
		}
		if (l == sh->layers - 1 && h != sh->emb)
			die("%s: the last LSTM outputs %lld, not emb_sz %lld; "
			    "not a fastai AWD-LSTM", p->path, (long long)h,
			    (long long)sh->emb);
		if (l == 0 && sh->layers > 1)
			sh->hid = h;
		in = h;
	}
	return n;
}

char *
pth_encoder_meta(const struct pth *p, const struct awd_shape *sh)
{
	static const char *ours[] = { "kind", "parent_xxh64", "vocab_n",
	                              "emb_sz", "n_hid", "n_layers" };
	struct buf b = { 0 };
	char line[160];

	for (const char *l = p->meta; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) + 1 : strlen(l);
		int mine = 0;
		for (size_t k = 0; k < sizeof ours / sizeof *ours; k++) {
			size_t kl = strlen(ours[k]);
			mine |= len > kl && !strncmp(l, ours[k], kl) && l[kl] == '=';
		}
		if (!mine) {
			buf_add(&b, l, len);
			if (!nl)
				buf_addc(&b, '\n');
		}
		l += len;
	}
	snprintf(line, sizeof line, "kind=encoder\nparent_xxh64=%016llx\n"
	         "vocab_n=%lld\nemb_sz=%lld\nn_hid=%lld\nn_layers=%d\n",
	         (unsigned long long)pth_xxh64(p), (long long)sh->vocab,
	         (long long)sh->emb, (long long)(sh->hid ? sh->hid : sh->emb),
	         sh->layers);
	buf_adds(&b, line);
	buf_addc(&b, 0);
	return b.p;
}
