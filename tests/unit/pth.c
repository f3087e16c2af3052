/* .pth reader/writer and the pickle machine.
 *
 * Without arguments: unit tests (round trip, ties, every kind of damage,
 * malicious pickles, the legacy format).  With arguments it is the C side
 * of tests/pth.t, which checks against torch 1.13:
 *   pth dump FILE    one line per state-dict tensor: name dtype shape
 *                    tie crc32-of-data (float32 or int64 little-endian)
 *   pth write FILE   our test checkpoint (values from fill(), below)
 *   pth sd FILE      spec §12's sd.pth dict
 *   pth resave IN OUT [META]  load IN, write its state dict to OUT
 *   pth meta FILE    print the file's metadata
 *   pth flip FILE    flip every bit of FILE (of tensor data, every 61st
 *                    byte's) and cut it at every length: each must be
 *                    refused or load exactly as FILE does */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "torch/pickle.h"
#include "torch/pth.h"
#include "text/tokfile.h"
#include "core/util.h"

static const char *dtname[] = { "f32", "f64", "f16", "bf16", "i64", "i32",
                                "i16", "i8", "u8", "bool" };

/* Exact float32 values from (tensor k, element i): a 24-bit integer times
 * a power of two.  tests/ref/pth_ref.py computes the same. */
static float
fill(int k, int64_t i)
{
	uint32_t u = (uint32_t)(i * 2654435761u + (uint32_t)k * 40503u);
	return ldexpf((float)((int32_t)(u & 0xffffff) - 0x800000),
	              -20 + (int)(u >> 29));
}

static int
dump(const char *path)
{
	struct pth *p = pth_load(path);

	for (int i = 0; i < p->n; i++) {
		struct pth_tensor *t = &p->t[i];
		printf("%s %s (", t->name, dtname[t->dtype]);
		for (int d = 0; d < t->ndim; d++)
			printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
		printf(") %s %08x\n", p->t[t->tie].name,
		       t->f ? pth_crc32(0, t->f, t->numel * 4) :
		              pth_crc32(0, t->l, t->numel * 8));
	}
	if (p->meta)
		printf("meta %08x\n", pth_crc32(0, p->meta, strlen(p->meta)));
	/* fastai's optimizer state: counts and the first group's lr */
	size_t ns = 0, nh = 0;
	double lr = -1;
	struct pv *const *st = pv_items(pv_get(p->opt, "state"), &ns);
	struct pv *const *hy = pv_items(pv_get(p->opt, "hypers"), &nh);
	if (p->opt && (!hy || !nh || !pv_as_double(pv_get(hy[0], "lr"), &lr)))
		lr = -1;
	if (p->opt)
		printf("opt %zu %zu %.17g\n", st ? ns : 0, hy ? nh : 0, lr);
	pth_free(p);
	return 0;
}

/* The test checkpoint: {'model': sd, 'opt': {...}} with a tied pair, a
 * view of the same memory under a third name, int64 tensors, a 0-d
 * tensor, an empty one, a 5-d one, and 300 small ones (LONG_BINPUT). */
struct fixture {
	struct pv_pool pool;
	struct pth_tensor t[320];
	float *f[320];
	int64_t l[4];
	int n;
	struct pv *root;
};

static struct pth_tensor
mk(const char *name, int ndim, const int64_t *shape, float *f)
{
	struct pth_tensor t;

	memset(&t, 0, sizeof t);
	t.name = name;
	t.dtype = PTH_F32;
	t.ndim = ndim;
	t.numel = 1;
	for (int d = 0; d < ndim; d++)
		t.numel *= t.shape[d] = shape[d];
	t.f = f;
	return t;
}

static void
fixture_build(struct fixture *x, int with_opt)
{
	static char names[300][24];
	static const int64_t s_emb[] = { 7, 5 }, s_b[] = { 7 }, s5[] =
		{ 2, 1, 3, 1, 2 }, s_empty[] = { 0, 4 };
	int n = 0;

	memset(x, 0, sizeof *x);
	float *emb = xmalloc(35 * sizeof *emb);
	for (int i = 0; i < 35; i++)
		emb[i] = fill(0, i);
	x->f[0] = emb;
	x->t[n++] = mk("0.encoder.weight", 2, s_emb, emb);
	x->t[n++] = mk("0.encoder_dp.emb.weight", 2, s_emb, emb);
	for (int k = 1; k < 4; k++) {
		float *v = xmalloc(12 * sizeof *v);
		for (int i = 0; i < 12; i++)
			v[i] = fill(k, i);
		x->f[k] = v;
	}
	x->t[n++] = mk("0.rnns.0.weight_hh_l0_raw", 5, s5, x->f[1]);
	x->t[n++] = mk("scalar", 0, NULL, x->f[2]);
	x->t[n++] = mk("empty", 2, s_empty, x->f[3]);
	x->t[n++] = mk("1.decoder.weight", 2, s_emb, emb);
	float *bias = xmalloc(7 * sizeof *bias);
	for (int i = 0; i < 7; i++)
		bias[i] = fill(4, i);
	x->f[4] = bias;
	x->t[n++] = mk("1.decoder.bias", 1, s_b, bias);
	x->l[0] = 123456789012345LL;
	x->l[1] = -3;
	x->l[2] = 7;
	struct pth_tensor nt = mk("1.layers.0.0.num_batches_tracked", 0, NULL,
	                          NULL);
	nt.dtype = PTH_I64;
	nt.l = x->l;
	x->t[n++] = nt;
	for (int k = 0; k < 300; k++) {
		int64_t s1[] = { 1 + k % 3 };
		snprintf(names[k], sizeof names[k], "many.%d", k);
		float *v = xmalloc(3 * sizeof *v);
		for (int i = 0; i < 3; i++)
			v[i] = fill(10 + k, i);
		x->f[5 + k] = v;
		x->t[n++] = mk(names[k], 1, s1, v);
	}
	x->n = n;
	struct pv *sd = pth_state_dict(&x->pool, x->t, n);
	struct pv *opt = NULL;
	if (with_opt) {
		struct pv_pool *P = &x->pool;
		opt = pv_dict(P);
		struct pv *st = pv_list(P), *hy = pv_list(P);
		struct pv *one = pv_dict(P);
		pv_sets(P, one, "grad_avg", pv_tensor(P, &x->t[6]));
		pv_sets(P, one, "step", pv_int(P, 70000));
		pv_sets(P, one, "do_wd", pv_bool(P, 0));
		pv_push(st, one);
		pv_push(st, pv_dict(P));
		struct pv *h = pv_dict(P);
		pv_sets(P, h, "lr", pv_float(P, 1e-3 / 3));
		pv_sets(P, h, "mom", pv_float(P, -0.0));
		pv_sets(P, h, "big", pv_int(P, -5000000000LL));
		pv_sets(P, h, "neg", pv_int(P, -2));
		pv_sets(P, h, "none", pv_none(P));
		pv_push(hy, h);
		pv_sets(P, opt, "state", st);
		pv_sets(P, opt, "hypers", hy);
	}
	x->root = pth_learner(&x->pool, sd, opt);
}

static void
fixture_free(struct fixture *x)
{
	for (int i = 0; i < 305; i++)
		free(x->f[i]);
	pv_pool_free(&x->pool);
}

static const char fixture_meta[] = "kind=lm\nvocab_n=7\n"
	"vocab_xxh64=00000000deadbeef\nemb_sz=5\n";

static int
write_fixture(const char *path)
{
	struct fixture x;

	fixture_build(&x, 1);
	int r = pth_save(path, x.root, fixture_meta);
	fixture_free(&x);
	return r;
}

static int
write_sd(const char *path)
{
	static float w[6] = { 0, 1, 2, 3, 4, 5 }, b[3] = { 1, 2, 3 };
	static int64_t nn = 7;
	struct pth_tensor t[3];
	struct pv_pool pool = { 0 };
	const int64_t s23[] = { 2, 3 }, s3[] = { 3 };

	t[0] = mk("a.weight", 2, s23, w);
	t[1] = mk("a.bias", 1, s3, b);
	t[2] = mk("n", 0, NULL, NULL);
	t[2].dtype = PTH_I64;
	t[2].l = &nn;
	int r = pth_save(path, pth_state_dict(&pool, t, 3), NULL);
	pv_pool_free(&pool);
	return r;
}

static int
resave(const char *in, const char *out, const char *meta)
{
	struct pth *p = pth_load(in);
	struct pv_pool pool = { 0 };

	for (int i = 0; i < p->n; i++)
		p->t[i].dtype = p->t[i].f ? PTH_F32 : PTH_I64;
	int r = pth_save(out, pth_state_dict(&pool, p->t, p->n), meta);
	pv_pool_free(&pool);
	pth_free(p);
	return r;
}

/* ---- unit tests -------------------------------------------------------- */

static char *
mem_write(const struct pv *root, const char *meta, size_t *n)
{
	char *buf;
	FILE *f = open_memstream(&buf, n);

	pth_write(f, "t", root, meta);
	fclose(f);
	return buf;
}

/* Load from memory; returns NULL and the message in *err on refusal. */
static struct pth *
mem_load(const void *buf, size_t n, char **err)
{
	return pth_load_mem(buf, n, "mem", err);
}

static int
refused(const void *buf, size_t n, const char *want)
{
	char *err = NULL;
	struct pth *p = mem_load(buf, n, &err);
	int ok = !p && err && (!want || strstr(err, want));

	if (!ok)
		diag("got: %s", p ? "loaded" : err);
	pth_free(p);
	free(err);
	return ok;
}

static void
test_roundtrip(void)
{
	struct fixture x;
	size_t n;
	char *err = NULL;

	fixture_build(&x, 1);
	char *buf = mem_write(x.root, fixture_meta, &n);
	struct pth *p = mem_load(buf, n, &err);
	ok(p != NULL, "our file loads back (%s)", err ? err : "");
	if (!p)
		return;
	ok(p->n == x.n, "all %d tensors come back (%d)", x.n, p->n);
	int same = 1;
	for (int i = 0; i < x.n && i < p->n; i++) {
		struct pth_tensor *a = &x.t[i], *b = &p->t[i];
		same &= !strcmp(a->name, b->name) && a->ndim == b->ndim &&
		        a->numel == b->numel && a->dtype == b->dtype &&
		        !memcmp(a->shape, b->shape, a->ndim * 8);
		if (a->f && a->numel)
			same &= b->f && !memcmp(a->f, b->f, a->numel * 4);
		if (a->l)
			same &= b->l && !memcmp(a->l, b->l, a->numel * 8);
	}
	ok(same, "names, shapes, dtypes and bits are equal");
	ok(p->t[1].tie == 0 && p->t[5].tie == 0 && p->t[0].tie == 0 &&
	   p->t[2].tie == 2, "tied tensors share one storage");
	ok(p->t[1].f == p->t[0].f && p->t[5].f == p->t[0].f,
	   "ties are views of the same memory");
	ok(p->nst == (size_t)x.n - 2, "%zu storages for %d tensors, 3 tied",
	   p->nst, x.n);
	ok(!strcmp(p->archive, "t"), "top folder is the archive name");
	ok(p->meta && !strcmp(p->meta, fixture_meta), "metadata round trip");
	const char *v = pth_meta(p, "emb_sz");
	ok(v && !strcmp(v, "5"), "pth_meta finds a key");
	ok(pth_meta(p, "emb") == NULL, "pth_meta needs the whole key");
	const struct pv *st = pv_get(p->opt, "state"), *hy = pv_get(p->opt,
	                                                            "hypers");
	size_t ns = 0, nh = 0;
	struct pv *const *sit = pv_items(st, &ns), *const *hit = pv_items(hy, &nh);
	int64_t step = 0, big = 0, neg = 0;
	double lr = 0, mom = 1;
	ok(sit && ns == 2 && hit && nh == 1 &&
	   pv_as_int(pv_get(sit[0], "step"), &step) && step == 70000 &&
	   pv_get(sit[0], "grad_avg")->kind == PV_TENSOR &&
	   pv_get(sit[0], "grad_avg")->t->f == p->t[6].f &&
	   pv_as_double(pv_get(hit[0], "lr"), &lr) && lr == 1e-3 / 3 &&
	   pv_as_double(pv_get(hit[0], "mom"), &mom) && mom == 0 && signbit(mom) &&
	   pv_as_int(pv_get(hit[0], "big"), &big) && big == -5000000000LL &&
	   pv_as_int(pv_get(hit[0], "neg"), &neg) && neg == -2 &&
	   pv_get(hit[0], "none")->kind == PV_NONE,
	   "the opt tree round trips (ints, floats, bools, None, shared tensor)");
	pth_free(p);

	/* every byte matters: flip one anywhere in a record -> refused */
	int all = 1, tried = 0;
	for (size_t i = 64; i < n; i += 97) {
		char *c = xmalloc(n);
		memcpy(c, buf, n);
		c[i] ^= 0x20;
		struct pth *q = mem_load(c, n, &err);
		/* bytes in padding/headers may be harmless; data must not be */
		if (q) {
			int diff = 0;
			for (int k = 0; k < q->n && k < x.n; k++)
				if (x.t[k].f && x.t[k].numel &&
				    memcmp(q->t[k].f, x.t[k].f, x.t[k].numel * 4))
					diff = 1;
			all &= !diff;
			pth_free(q);
		} else {
			free(err);
		}
		tried++;
		free(c);
	}
	ok(all, "no flipped byte (of %d) gives different data silently", tried);

	/* truncation anywhere is refused */
	int trunc = 1;
	for (size_t k = 0; k < n; k += n / 37 + 1)
		trunc &= refused(buf, k, NULL);
	ok(trunc, "every truncation is refused");
	free(buf);
	fixture_free(&x);
}

/* After patching data.pkl (the first record), make its CRCs right again
 * so that the reader's other checks are what is tested. */
static void
fix_pkl_crc(char *c, size_t n)
{
	unsigned char *u = (unsigned char *)c;
	size_t at = 30 + get_u16(u + 26) + get_u16(u + 28);
	char *desc = memmem(c + at, n - at, "PK\7\x08", 4);
	char *cen = memmem(c, n, "PK\1\2", 4);
	uint32_t crc = pth_crc32(0, c + at, desc - (c + at));

	put_u32((unsigned char *)desc + 4, crc);
	put_u32((unsigned char *)cen + 16, crc);
}

static void
test_damage(void)
{
	struct fixture x;
	size_t n;

	fixture_build(&x, 0);
	char *buf = mem_write(x.root, NULL, &n);
	/* flip a data byte of the first storage record */
	char *c = xmalloc(n);
	memcpy(c, buf, n);
	char *rec = memmem(c, n, "t/data/0FB", 10);
	size_t at = rec - c + 10;
	at += 2 + get_u16((unsigned char *)c + at) + 1;   /* into the data */
	c[at] ^= 1;
	ok(refused(c, n, "CRC"), "a flipped data bit fails the CRC check");
	/* a missing record: rename data/1 to data/X in both headers */
	memcpy(c, buf, n);
	for (char *q = c; (q = memmem(q, c + n - q, "t/data/1", 8)); q += 8)
		if (q[8] != '0' && q[8] != '1' && q[8] != '2' && q[8] != '3' &&
		    q[8] != '4' && q[8] != '5' && q[8] != '6' && q[8] != '7' &&
		    q[8] != '8' && q[8] != '9')
			q[7] = 'X';
	ok(refused(c, n, "not one a PyTorch checkpoint has"),
	   "a renamed storage record (data/1 -> data/X) is refused");
	/* wrong numel in the pickle: patch 'K\x23' (35) -> 36 after the key */
	memcpy(c, buf, n);
	char *pk = memmem(c, n, "X\1\0\0\0" "0q", 7);
	char *k35 = pk ? memmem(pk, 40, "K\x23t", 3) : NULL;
	if (k35) {
		k35[1] = 0x24;
		fix_pkl_crc(c, n);
	}
	ok(k35 && refused(c, n, "storage 0"), "a storage size mismatch is "
	   "refused");
	free(c);
	ok(refused("hello world, not a zip", 22, "not a PyTorch"),
	   "a text file is refused");
	ok(refused("", 0, NULL), "an empty file is refused");
	free(buf);
	fixture_free(&x);
}

/* A stored zip of the given records, as plain as zip files get (no data
 * descriptors): names[i] holds data[i] (len[i] bytes). */
static char *
zip_records(int k, const char *const *names, const char *const *data,
            const size_t *len, size_t *n)
{
	char *buf;
	FILE *f = open_memstream(&buf, n);
	unsigned char h[46];
	long off[16];

	for (int i = 0; i < k; i++) {
		off[i] = ftell(f);
		memset(h, 0, 30);
		put_u32(h, 0x04034b50);
		put_u32(h + 14, pth_crc32(0, data[i], len[i]));
		put_u32(h + 18, (uint32_t)len[i]);
		put_u32(h + 22, (uint32_t)len[i]);
		put_u16(h + 26, (uint16_t)strlen(names[i]));
		fwrite(h, 1, 30, f);
		fwrite(names[i], 1, strlen(names[i]), f);
		fwrite(data[i], 1, len[i], f);
	}
	long cd = ftell(f);
	for (int i = 0; i < k; i++) {
		memset(h, 0, 46);
		put_u32(h, 0x02014b50);
		put_u32(h + 16, pth_crc32(0, data[i], len[i]));
		put_u32(h + 20, (uint32_t)len[i]);
		put_u32(h + 24, (uint32_t)len[i]);
		put_u16(h + 28, (uint16_t)strlen(names[i]));
		put_u32(h + 42, (uint32_t)off[i]);
		fwrite(h, 1, 46, f);
		fwrite(names[i], 1, strlen(names[i]), f);
	}
	long ce = ftell(f);
	memset(h, 0, 22);
	put_u32(h, 0x06054b50);
	put_u16(h + 8, (uint16_t)k);
	put_u16(h + 10, (uint16_t)k);
	put_u32(h + 12, (uint32_t)(ce - cd));
	put_u32(h + 16, (uint32_t)cd);
	fwrite(h, 1, 22, f);
	fclose(f);
	return buf;
}

/* Wrap a raw pickle into a zip with x/data.pkl and x/version. */
static char *
zip_pickle(const char *pkl, size_t len, size_t *n)
{
	const char *names[] = { "x/data.pkl", "x/version" };
	const char *data[] = { pkl, "3\n" };
	size_t lens[] = { len, 2 };

	return zip_records(2, names, data, lens, n);
}

static void
test_malicious(void)
{
	static const struct { const char *pkl; size_t len; const char *want,
	                      *what; } bad[] = {
		{ "\x80\x02" "cos\nsystem\nX\x02\0\0\0idq\0\x85R.", 25,
		  "refusing global 'os system'", "GLOBAL os.system" },
		{ "\x80\x02" "cbuiltins\neval\n.", 18, "refusing global",
		  "GLOBAL builtins.eval" },
		{ "\x80\x04\x8c\x02os\x8c\x06system\x93.", 16,
		  "refusing global 'os system'", "STACK_GLOBAL os.system" },
		{ "\x80\x02(ios\nsystem\n.", 15, "unsupported pickle opcode",
		  "INST" },
		{ "\x80\x02" "ccollections\nOrderedDict\nX\x01\0\0\0a\x85R.",
		  36, "OrderedDict argument", "OrderedDict('a')" },
		{ "\x80\x02h\x05.", 5, "memo slot", "BINGET of an empty slot" },
		{ "\x80\x02u.", 4, "MARK", "SETITEMS without MARK" },
		{ "\x80\x02X\xff\xff\xff\x7f" "abc.", 11, "truncated",
		  "a string longer than the file" },
		{ "\x80\x02Nr\xff\xff\xff\x7f.", 9, "absurd",
		  "LONG_BINPUT to slot 2^31" },
		{ "\x80\x02}(X\1\0\0\0aQ.", 12, "persistent id",
		  "a persistent id that is not a storage" },
		/* lengths that claim more than the file: refused before
		 * anything is allocated for them */
		{ "\x80\x02X\xff\xff\xff\xff" "abc.", 11, "truncated",
		  "BINUNICODE of 4 GiB in a tiny file" },
		{ "\x80\x02\x8b\xff\xff\xff\xff" "abc.", 11, "truncated",
		  "LONG4 of 4 GiB" },
		{ "\x80\x04\x8e\0\0\0\0\0\1\0\0" "abc.", 15, "truncated",
		  "BINBYTES8 of 2^40 bytes" },
		{ "\x80\x02}(X\1\0\0\0a" "ctorch._utils\n_rebuild_tensor_v2\n"
		  "((X\7\0\0\0storage" "ctorch\nFloatStorage\n" "X\1\0\0\0" "0"
		  "X\3\0\0\0cpu" "\x8a\x05\0\0\0\0\x01" "tQK\0K\1\x85K\1\x85\x89"
		  "ccollections\nOrderedDict\n)RtRu.", 135,
		  "claims 4294967296 elements, more than the file holds",
		  "a storage of 2^32 floats in a tiny file" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t n;
		char *z = zip_pickle(bad[i].pkl, bad[i].len, &n);
		ok(refused(z, n, bad[i].want), "refused: %s", bad[i].what);
		free(z);
	}
	/* a valid protocol 4 pickle of a dict with a list (FRAME, MEMOIZE,
	 * SHORT_BINUNICODE, EMPTY_DICT, APPENDS) is not a state dict of
	 * tensors but loads as data */
	static const char p4[] = "\x80\x04\x95\x1d\0\0\0\0\0\0\0}\x94"
		"\x8c\x01k\x94]\x94(K\x01J\xff\xff\xff\xff\x8c\x02" "ab\x94"
		"e\x88\x86\x94s.";
	size_t n;
	char *err = NULL;
	char *z = zip_pickle(p4, sizeof p4 - 1, &n);
	struct pth *p = mem_load(z, n, &err);
	size_t cnt = 0;
	const struct pv *k = p ? pv_get(p->root, "k") : NULL;
	struct pv *const *it = k && k->kind == PV_TUPLE ?
		pv_items(k->it[0], &cnt) : NULL;
	ok(p && p->n == 0 && it && cnt == 3 && it[0]->i == 1 && it[1]->i == -1 &&
	   !strcmp(it[2]->s, "ab"), "protocol 4 opcodes are understood (%s)",
	   err ? err : "ok");
	pth_free(p);
	free(err);
	free(z);

	/* an L whose items are itself must not send a reader round forever */
	static const char selfref[] = "\x80\x02}X\x05\0\0\0model"
		"ccollections\nOrderedDict\n)RsX\x03\0\0\0opt}X\x05\0\0\0state"
		"cfastcore.foundation\nL\n)\x81q\x01}X\x05\0\0\0itemsh\x01sbss.";
	err = NULL;
	z = zip_pickle(selfref, sizeof selfref - 1, &n);
	p = mem_load(z, n, &err);
	cnt = 99;
	ok(p && p->opt && !pv_items(pv_get(p->opt, "state"), &cnt) && cnt == 99,
	   "a self-referential fastcore L is not a list (%s)", err ? err : "ok");
	pth_free(p);
	free(err);
	free(z);
}

/* The legacy format, built by hand from spec §12.3's sd example. */
static void
test_legacy(void)
{
	struct buf b = { 0 };
	static const unsigned char head[] = {
		0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20,
		0x6a, 0xa8, 0x50, 0x19, 0x2e,
		0x80, 0x02, 'M', 0xe9, 0x03, '.' };
	static const char sysinfo[] = "\x80\x02}q\0(X\x10\0\0\0protocol_version"
		"M\xe9\x03X\x0d\0\0\0little_endian\x88u.";
	static const char obj[] = "\x80\x02" "ccollections\nOrderedDict\n)R("
		"X\x01\0\0\0w" "ctorch._utils\n_rebuild_tensor_v2\n"
		"((X\x07\0\0\0storage" "ctorch\nFloatStorage\nX\x02\0\0\0" "99"
		"X\x03\0\0\0cpuK\x06Nt" "QK\x01K\x02K\x02\x86K\x02K\x01\x86\x89"
		"ccollections\nOrderedDict\n)Rt"
		"RX\x01\0\0\0n" "ctorch._utils\n_rebuild_tensor_v2\n"
		"((X\x07\0\0\0storage" "ctorch\nLongStorage\nX\x02\0\0\0" "11"
		"X\x03\0\0\0cpuK\x01Nt" "QK\0))\x89"
		"ccollections\nOrderedDict\n)Rt" "Ru.";
	static const char keys[] = "\x80\x02](X\x02\0\0\0" "11X\x02\0\0\0" "99e.";
	unsigned char cnt[8];
	float w[6] = { 0, 1, 2, 3, 4, 5 };
	int64_t nn = -9;

	buf_add(&b, head, sizeof head);
	buf_add(&b, sysinfo, sizeof sysinfo - 1);
	buf_add(&b, obj, sizeof obj - 1);
	buf_add(&b, keys, sizeof keys - 1);
	put_u64(cnt, 1);
	buf_add(&b, cnt, 8);
	buf_add(&b, &nn, 8);
	put_u64(cnt, 6);
	buf_add(&b, cnt, 8);
	buf_add(&b, w, sizeof w);
	char *err = NULL;
	struct pth *p = mem_load(b.p, b.n, &err);
	ok(p && p->legacy && p->n == 2, "a legacy file loads (%s)",
	   err ? err : "ok");
	if (p) {
		struct pth_tensor *t = pth_find(p, "w");
		ok(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2 &&
		   t->f[0] == 1 && t->f[3] == 4 && t->offset == 1,
		   "a legacy view with an offset has the right values");
		t = pth_find(p, "n");
		ok(t && t->dtype == PTH_I64 && t->ndim == 0 && t->l[0] == -9,
		   "a legacy int64 scalar");
	}
	pth_free(p);
	ok(refused(b.p, b.n - 1, "cut short"), "a truncated legacy file is "
	   "refused");
	/* the legacy format has no checksum: damage may load, but must never
	 * crash or read out of bounds */
	char *c = xmalloc(b.n);
	uint64_t r = 42;
	int fine = 0;
	for (int i = 0; i < 1000; i++) {
		memcpy(c, b.p, b.n);
		for (int k = 0; k < 1 + i % 3; k++) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			c[(r >> 33) % b.n] = (char)(r >> 13);
		}
		char *e2 = NULL;
		struct pth *q = mem_load(c, b.n - (i % 7 ? 0 : (r >> 40) % 64), &e2);
		fine += q != NULL || e2 != NULL;
		pth_free(q);
		free(e2);
	}
	free(c);
	ok(fine == 1000, "1000 damaged legacy files: loaded or refused, never "
	   "a crash");
	put_u64((unsigned char *)b.p + b.n - 32, (uint64_t)1 << 32);
	ok(refused(b.p, b.n, "storage 99 has 4294967296 elements, its tensor "
	   "says 6"), "a legacy count of 2^32 in a tiny file is refused");
	put_u64((unsigned char *)b.p + b.n - 32, 6);
	b.p[b.n - 32] = 5;      /* the count 6 -> 5: mismatch */
	ok(refused(b.p, b.n, NULL), "a legacy count mismatch is refused");
	b.p[4] ^= 1;
	ok(refused(b.p, b.n, "magic"), "a wrong magic number is refused");
	buf_free(&b);
	/* a storage listed twice (its first copy leaked: found by libFuzzer) */
	static const char keys2[] = "\x80\x02](X\x02\0\0\0" "11X\x02\0\0\0"
		"11e.";
	buf_add(&b, head, sizeof head);
	buf_add(&b, sysinfo, sizeof sysinfo - 1);
	buf_add(&b, obj, sizeof obj - 1);
	buf_add(&b, keys2, sizeof keys2 - 1);
	for (int k = 0; k < 2; k++) {
		put_u64(cnt, 1);
		buf_add(&b, cnt, 8);
		buf_add(&b, &nn, 8);
	}
	ok(refused(b.p, b.n, "storage 11 is listed twice"), "a legacy storage "
	   "listed twice is refused");
	buf_free(&b);
}

/* The zip records a checkpoint must have, and nothing else. */
static void
test_zip_records(void)
{
	static const struct { int k; const char *names[3], *data[3], *want,
	                      *what; } bad[] = {
		{ 1, { "x/data.pkl" }, { "\x80\x02}." }, "no x/version record",
		  "no version record" },
		{ 2, { "x/data.pkl", "x/version" }, { "\x80\x02}.", "2\n" },
		  "format version '2", "version 2" },
		{ 2, { "x/data.pkl", "x/version" }, { "\x80\x02}.", "3" },
		  "format version '3'", "version '3' without its newline" },
		{ 2, { "x/data.pkl", "y/version" }, { "\x80\x02}.", "3\n" },
		  "two top folders", "records in two top folders" },
		{ 3, { "x/data.pkl", "x/version", "x/extra" },
		  { "\x80\x02}.", "3\n", "" }, "not one a PyTorch checkpoint has",
		  "a record torch.save never writes" },
		{ 3, { "x/data.pkl", "x/version", "x/ulmfit/metadata" },
		  { "\x80\x02}.", "3\n", "" }, "not one a PyTorch checkpoint has",
		  "a record named like ours but not ours" },
		{ 3, { "x/data.pkl", "x/version", "x/version" },
		  { "\x80\x02}.", "3\n", "3\n" }, "appears twice",
		  "a record twice" },
		{ 3, { "x/data.pkl", "x/version", "x/data/0" },
		  { "\x80\x02}.", "3\n", "abcd" }, "used by no tensor",
		  "a storage record no tensor uses" },
		{ 2, { "x/data.pkl", "x/version" }, { "\x80\x02}.N.", "3\n" },
		  "goes on after its pickle ends", "bytes after the pickle" },
		{ 2, { "x/data.pkl", "x/ulmfit/meta" }, { "\x80\x02}.", "a=1\n" },
		  "no x/version record", "our metadata without a version" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		size_t n, len[3];
		for (int j = 0; j < bad[i].k; j++)
			len[j] = strlen(bad[i].data[j]);
		char *z = zip_records(bad[i].k, bad[i].names, bad[i].data, len,
		                      &n);
		ok(refused(z, n, bad[i].want), "refused: %s", bad[i].what);
		free(z);
	}
	const char *names[] = { "x/data.pkl", "x/version" },
	           *data[] = { "\x80\x02}.", "3\n" };
	size_t len[] = { 4, 2 }, n;
	char *z = zip_records(2, names, data, len, &n);
	char *err = NULL;
	struct pth *p = mem_load(z, n, &err);
	ok(p && p->n == 0, "the smallest checkpoint loads (%s)", err ? err : "ok");
	pth_free(p);
	free(err);
	unsigned char *u = (unsigned char *)z, *cd = u + get_u32(u + n - 6);
	put_u32(cd + 20, 0xfffffff0u);
	put_u32(cd + 24, 0xfffffff0u);
	ok(refused(z, n, "runs past the end of the file"), "a record size of "
	   "4 GiB in a %zu-byte file is refused", n);
	put_u32(cd + 20, 4);
	put_u32(cd + 24, 4);
	put_u16(u + n - 12, 0xffff);
	put_u16(u + n - 14, 0xffff);
	ok(refused(z, n, "zip64 locator missing"), "a zip64 count without "
	   "its zip64 records is refused");
	put_u16(u + n - 12, 1);
	put_u16(u + n - 14, 1);
	ok(refused(z, n, "holds more than its 1 entries"), "a directory "
	   "that holds one entry more than its count is refused (a hidden "
	   "record)");
	put_u16(u + n - 12, 2);
	put_u16(u + n - 14, 2);
	u[30 + 4] ^= 1;          /* x/dbta.pkl in the local header only */
	ok(refused(z, n, "local header names another record"), "a name that "
	   "differs between the local header and the directory is refused");
	u[30 + 4] ^= 1;
	put_u16(u + 6, 8);       /* the local header says: a descriptor */
	ok(refused(z, n, "disagrees with the directory"), "flags that differ "
	   "between the local header and the directory are refused");
	free(z);
}

/* Damage the pickle at random (CRC made right again so the pickle machine
 * sees it): every result must be a clean load or a clean refusal.  Under
 * ASan this catches any out-of-bounds read on hostile input. */
static void
test_fuzz(void)
{
	struct fixture x;
	size_t n;
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	int loaded = 0, refusals = 0;

	fixture_build(&x, 1);
	x.root = pth_learner(&x.pool, pth_state_dict(&x.pool, x.t, 12),
	                     (struct pv *)pv_get(x.root, "opt"));
	char *buf = mem_write(x.root, NULL, &n);
	unsigned char *u = (unsigned char *)buf;
	size_t at = 30 + get_u16(u + 26) + get_u16(u + 28);
	size_t len = (char *)memmem(buf + at, n - at, "PK\7\x08", 4) - (buf + at);
	char *c = xmalloc(n);
	for (int i = 0; i < 2000; i++) {
		memcpy(c, buf, n);
		int k = 1 + i % 3;
		while (k--) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			c[at + (r >> 33) % len] = (char)(r >> 13);
		}
		fix_pkl_crc(c, n);
		char *err = NULL;
		struct pth *p = mem_load(c, n, &err);
		if (p) {
			/* whatever loaded must be consistent */
			for (int j = 0; j < p->n; j++) {
				struct pth_tensor *t = &p->t[j];
				volatile float sink = 0;
				for (int64_t e = 0; e < t->numel && t->f; e++)
					sink += t->f[e];
				for (int64_t e = 0; e < t->numel && t->l; e++)
					sink += (float)t->l[e];
				(void)sink;
			}
			loaded++;
		} else {
			refusals += err != NULL;
		}
		pth_free(p);
		free(err);
	}
	ok(loaded + refusals == 2000, "2000 damaged pickles: %d refused with a "
	   "message, %d still consistent, none crashed", refusals, loaded);
	/* damage anywhere (headers, directory, end records), unrepaired */
	loaded = refusals = 0;
	for (int i = 0; i < 2000; i++) {
		memcpy(c, buf, n);
		for (int k = 0; k < 1 + i % 4; k++) {
			r = r * 6364136223846793005ULL + 1442695040888963407ULL;
			size_t pos = i % 2 ? n - 1 - (r >> 33) % 400 : (r >> 33) % n;
			c[pos] = (char)(r >> 13);
		}
		char *err = NULL;
		size_t cut = i % 5 ? n : (r >> 20) % n;
		struct pth *p = mem_load(c, cut, &err);
		loaded += p != NULL;
		refusals += !p && err;
		pth_free(p);
		free(err);
	}
	ok(loaded + refusals == 2000, "2000 files damaged anywhere: %d refused, "
	   "%d loaded (harmless bytes), none crashed", refusals, loaded);
	free(c);
	free(buf);
	fixture_free(&x);
}

/* ---- every single-bit flip ---------------------------------------------- */

/* What a load gave, as bytes: the file written again from the tree, the
 * tensors and the metadata that were read.  Two loads that give the same
 * bytes give every tool the same answer. */
static char *
rewrite(const struct pth *p, size_t *n)
{
	char *buf;
	FILE *f = open_memstream(&buf, n);

	pth_write(f, p->archive, p->root, p->meta);
	fclose(f);
	return buf;
}

/* Marks the bytes of buf (a zip as we write it) that are the payload of a
 * data/N record: tensor data, covered by the CRC alone. */
static unsigned char *
tensor_bytes(const unsigned char *buf, size_t n)
{
	unsigned char *m = xcalloc(n + 1, 1);

	if (n < 22 || get_u32(buf + n - 22) != 0x06054b50)
		return m;
	size_t count = get_u16(buf + n - 12), at = get_u32(buf + n - 6);
	for (size_t k = 0; k < count && at + 46 <= n; k++) {
		size_t nl = get_u16(buf + at + 28), loff = get_u32(buf + at + 42);
		size_t size = get_u32(buf + at + 24);
		if (memmem(buf + at + 46, nl, "/data/", 6) && loff + 30 <= n) {
			size_t off = loff + 30 + get_u16(buf + loff + 26) +
			             get_u16(buf + loff + 28);
			for (size_t i = off; i < off + size && i < n; i++)
				m[i] = 1;
		}
		at += 46 + nl + get_u16(buf + at + 30) + get_u16(buf + at + 32);
	}
	return m;
}

/* Flips every bit of buf, one at a time (of tensor data, every sample-th
 * byte only), and cuts it at every length (every sample-th, away from
 * the ends): each must be refused with a
 * message, or load to exactly what the original loads to.  Returns the
 * number of differing loads (0 passes); counts go to *refusals and
 * *harmless, the flips tried to *tried. */
static long
flip_all(const char *what, const unsigned char *buf, size_t n, size_t sample,
         long *tried, long *refusals, long *harmless)
{
	char *err = NULL;
	struct pth *p = pth_load_mem(buf, n, what, &err);
	long differ = 0;
	size_t cn;

	*tried = *refusals = *harmless = 0;
	if (!p) {
		diag("%s", err);
		free(err);
		return -1;
	}
	char *canon = rewrite(p, &cn);
	pth_free(p);
	unsigned char *c = xmalloc(n), *data = tensor_bytes(buf, n);
	memcpy(c, buf, n);
	for (size_t i = 0, seen = 0; i < n; i++) {
		if (data[i] && seen++ % sample)
			continue;
		for (int bit = 0; bit < 8; bit++) {
			++*tried;
			c[i] ^= (unsigned char)(1 << bit);
			err = NULL;
			p = pth_load_mem(c, n, what, &err);
			if (!p) {
				*refusals += err != NULL;
				differ += err == NULL;
			} else {
				size_t gn;
				char *got = rewrite(p, &gn);
				if (gn == cn && !memcmp(got, canon, cn)) {
					++*harmless;
				} else if (differ++ < 10) {
					diag("%s: bit %d of byte %zu (0x%02x) "
					     "loads as another file", what, bit,
					     i, buf[i]);
				}
				free(got);
			}
			pth_free(p);
			free(err);
			c[i] ^= (unsigned char)(1 << bit);
		}
	}
	free(data);
	for (size_t cut = 0; cut < n; cut++) {
		if (cut % sample && cut > 256 && n - cut > 256)
			continue;
		err = NULL;
		p = pth_load_mem(c, cut, what, &err);
		if (p || !err) {
			if (differ++ < 10)
				diag("%s: cut to %zu bytes, it still loads",
				     what, cut);
		} else {
			++*refusals;
		}
		pth_free(p);
		free(err);
	}
	free(c);
	free(canon);
	return differ;
}

static int
flip_file(const char *path)
{
	FILE *f = open_in(path);
	struct buf b = { 0 };
	char chunk[65536];
	size_t k;
	long tried, refusals, harmless;

	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, k);
	close_in(f, path);
	long d = flip_all(path, (unsigned char *)b.p, b.n, 61, &tried,
	                  &refusals, &harmless);
	printf("%zu bytes, %ld one-bit flips (every bit outside tensor data, "
	       "every 61st byte of it) and cuts: %ld refused, %ld load "
	       "the same, %ld differ\n", b.n, tried, refusals, harmless,
	       d);
	buf_free(&b);
	return d != 0;
}

static void
test_flips(void)
{
	struct fixture x;
	size_t n;
	long tried, refusals, harmless;

	fixture_build(&x, 1);
	x.root = pth_learner(&x.pool, pth_state_dict(&x.pool, x.t, 8),
	                     (struct pv *)pv_get(x.root, "opt"));
	char *buf = mem_write(x.root, fixture_meta, &n);
	size_t cn;
	char *err = NULL;
	struct pth *p = mem_load(buf, n, &err);
	char *again = p ? rewrite(p, &cn) : NULL;
	ok(again && cn == n && !memcmp(again, buf, n), "a checkpoint written "
	   "again from what was read is the same file, byte for byte");
	free(again);
	pth_free(p);
	long d = flip_all("mem", (unsigned char *)buf, n, 1, &tried, &refusals,
	                  &harmless);
	ok(d == 0, "a %zu-byte checkpoint with metadata and optimizer state: "
	   "each of its %zu one-bit flips and %zu cuts is refused (%ld) or "
	   "loads the same (%ld); %ld differ", n, 8 * n, n, refusals,
	   harmless, d);
	free(buf);
	fixture_free(&x);
}

static void
test_checks(void)
{
	struct fixture x;
	size_t n;
	char *err = NULL;

	fixture_build(&x, 0);
	char *buf = mem_write(x.root, fixture_meta, &n);
	struct pth *p = mem_load(buf, n, &err);
	const int64_t good[] = { 7, 5 }, bad[] = { 8, 5 };
	ok(p && pth_need(p, "0.encoder.weight", 2, good) == &p->t[0],
	   "pth_need finds a tensor of the right shape");
	fflush(stdout);
	pid_t pid;
	int st, codes[2];
	for (int k = 0; k < 2; k++) {
		if (!(pid = fork())) {
			if (!freopen("/dev/null", "w", stderr))
				_exit(9);
			if (k == 0)
				pth_need(p, "0.encoder.weight", 2, bad);
			if (k == 1)
				pth_need(p, "no.such.key", 0, NULL);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		codes[k] = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
	}
	ok(codes[0] == 1, "pth_need dies on a shape mismatch");
	ok(codes[1] == 1, "pth_need dies on a missing tensor");
	pth_free(p);
	free(buf);
	buf = mem_write(x.root, NULL, &n);
	p = mem_load(buf, n, &err);
	ok(p && !p->meta && !pth_meta(p, "emb_sz"),
	   "a file without metadata says nothing (a fastai file)");
	pth_free(p);
	free(buf);
	fixture_free(&x);
}

static void
test_clean_raw(void)
{
	struct pv_pool pool = { 0 };
	float a[4] = { 1, 2, 3, 4 }, c[4] = { 5, 6, 7, 8 };
	const int64_t s[] = { 4 };
	struct pth_tensor t[4] = {
		mk("0.rnns.1.weight_hh_l0_raw", 1, s, a),
		mk("0.rnns.1.module.weight_hh_l0", 1, s, c),
		mk("0.rnns.1.module.weight_ih_l0", 1, s, c),
		mk("0.rnns.2.module.weight_hh_l0", 1, s, a),
	};
	size_t n;
	char *err = NULL;
	char *buf = mem_write(pth_state_dict(&pool, t, 4), NULL, &n);
	struct pth *p = mem_load(buf, n, &err);
	int dropped = p ? pth_clean_raw_keys(p) : -1;
	ok(dropped == 1 && p->n == 3 && !pth_find(p, "0.rnns.1.module.weight_hh_l0")
	   && pth_find(p, "0.rnns.1.module.weight_ih_l0") &&
	   pth_find(p, "0.rnns.2.module.weight_hh_l0") && p->t[2].tie == 0,
	   "clean_raw_keys drops X.module.Y only when X.Y_raw exists");
	pth_free(p);
	free(buf);
	pv_pool_free(&pool);
}

static void
test_strings(void)
{
	/* protocol 2 and protocol 4 lists of strings, as pickle.dump writes */
	static const char p2[] = "\x80\x02]q\0(X\x05\0\0\0xxunkq\1X\x05\0\0\0"
		"xxpadq\x02X\x03\0\0\0theq\x03" "e.";
	static const char p4[] = "\x80\x04\x95\x13\0\0\0\0\0\0\0]\x94(\x8c\x05"
		"xxunk\x94\x8c\x03the\x94" "e.";
	char path[] = "/tmp/pth-itos-XXXXXX";
	int fd = mkstemp(path);
	size_t n;

	ok(write(fd, p2, sizeof p2 - 1) > 0, "wrote a temp file");
	close(fd);
	char **s = pk_read_strings(path, &n);
	ok(n == 3 && !strcmp(s[0], "xxunk") && !strcmp(s[2], "the"),
	   "a protocol 2 itos list");
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
	fd = open(path, O_WRONLY | O_TRUNC);
	ok(write(fd, p4, sizeof p4 - 1) > 0, "wrote a temp file");
	close(fd);
	s = pk_read_strings(path, &n);
	ok(n == 2 && !strcmp(s[1], "the"), "a protocol 4 itos list");
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
	unlink(path);
}

/* Shared and self-containing containers (a pickle's memo makes them) are
 * written as Python's pickler writes them: BINGET, not a copy or an
 * endless recursion (fuzz/pending/pickle/self-referencing-list). */
static void
test_write_shared(void)
{
	static const struct { const char *in, *want; size_t nin, nwant;
	                      const char *what; } c[] = {
		{ "\x80\x04\x95\x0e\0\0\0\0\0\0\0]\x94(]\x94h\x01" "a"
		  "h\x01" "h\x01" "e.",
		  "\x80\x02]q\0(]q\x01" "h\x01" "a" "h\x01" "h\x01" "e.", 25, 18,
		  "[m, m, m] with m = [m]" },
		{ "\x80\x02]q\0h\0\x85q\x01" "a0h\x01.",
		  "\x80\x02]q\0h\0\x85q\x01" "a0h\x01.", 15, 15,
		  "t = ([t],)" },
	};
	for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
		struct pv_pool pool = { 0 };
		struct pk_reader r = { &pool, NULL, NULL, NULL };
		struct buf out = { 0 };
		struct pk_writer w = { 0 };
		size_t used;
		char *err = NULL;
		struct pv *v = pk_load(&r, (const unsigned char *)c[i].in, c[i].nin,
		                       &used, &err);
		if (v) {
			w.out = &out;
			pk_write(&w, v);
			pk_writer_free(&w);
		}
		ok(v && out.n == c[i].nwant && !memcmp(out.p, c[i].want, out.n),
		   "%s is written as Python writes it (%s)", c[i].what,
		   err ? err : "ok");
		buf_free(&out);
		free(err);
		pv_pool_free(&pool);
	}
}

int
main(int argc, char *argv[])
{
	argv0 = "pth";
	if (argc == 3 && !strcmp(argv[1], "dump"))
		return dump(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "write"))
		return write_fixture(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "sd"))
		return write_sd(argv[2]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "resave"))
		return resave(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 3 && !strcmp(argv[1], "meta")) {
		struct pth *p = pth_load(argv[2]);
		fputs(p->meta ? p->meta : "", stdout);
		pth_free(p);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "flip"))
		return flip_file(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: pth [dump|write|sd FILE]\n");
		return 2;
	}
	ok(pth_crc32(0, "123456789", 9) == 0xcbf43926, "crc32 check value");
	test_roundtrip();
	test_damage();
	test_malicious();
	test_legacy();
	test_zip_records();
	test_clean_raw();
	test_strings();
	test_write_shared();
	test_checks();
	test_fuzz();
	test_flips();
	return done_testing();
}
