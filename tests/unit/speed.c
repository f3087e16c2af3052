/* unit/speed: the fast paths checked against the plain ones on random
 * inputs (no timings here): pth_crc32's carry-less fold against zlib,
 * big_alloc, pth_load's in-place float32 tensors against pth_load_mem's
 * copies, and clas_open_eval (borrowed encoder weights) against clas_open
 * (copied). */
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "clas.h"
#include "kernels.h"
#include "pth.h"
#include "../tap.h"
#include "util.h"

static uint64_t rs = 88172645463325252ULL;
static uint32_t
rnd(void)
{
	rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

static void
test_crc(void)
{
	size_t N = (1 << 20) + 77;
	unsigned char *b = xmalloc(N);
	for (size_t i = 0; i < N; i++)
		b[i] = (unsigned char)rnd();
	int bad = 0;
	/* every length around the 64-byte blocks and the 256-byte switch,
	 * odd offsets, chained starts */
	for (size_t n = 0; n < 1200; n++)
		for (int off = 0; off < 3; off++) {
			uint32_t init = n % 5 ? rnd() : 0;
			if (pth_crc32(init, b + off, n) !=
			    (uint32_t)crc32(init, b + off, (uInt)n))
				bad++;
		}
	ok(!bad, "pth_crc32 == zlib crc32 for lengths 0..1199, 3 offsets, "
	   "random starts (%d differ)", bad);
	ok(pth_crc32(0, b, N) == (uint32_t)crc32(0, b, (uInt)N),
	   "pth_crc32 == zlib crc32 on 1 MiB + 77");
	uint32_t half = pth_crc32(0, b, N / 2);
	ok(pth_crc32(half, b + N / 2, N - N / 2) == pth_crc32(0, b, N),
	   "pth_crc32 chains like zlib's");
	free(b);
}

static void
test_big_alloc(void)
{
	size_t n = (5 << 20) + 3;
	unsigned char *p = big_alloc(n);
	int zero = 1;
	ok(p && (uintptr_t)p % (2 << 20) == 0, "big_alloc: 2 MiB aligned");
	for (size_t i = 0; p && i < n; i += 4093)
		zero &= p[i] == 0;
	ok(p && zero && p[n - 1] == 0, "big_alloc: zero");
	if (p)
		memset(p, 1, n);
	big_free(p, n);
	ok(!big_alloc(0), "big_alloc(0) is NULL");
}

/* a small classifier with random weights, saved to path */
static void
make_clas(const char *path, struct awd_config *ac, struct clas_config *cc)
{
	struct clas c;
	struct rng r;
	struct pth_tensor t[AWD_MAX_TENSORS + 16];
	char names[AWD_MAX_TENSORS + 16][64];
	struct pv_pool pool = {0};

	awd_config_clas(ac, 50, 0.5f);
	ac->emb = 8, ac->hidden = 12, ac->layers = 3;
	clas_config_default(cc, ac, 3, 0, 0);
	clas_create(&c, ac, cc, 4);
	rng_seed(&r, 7, 0);
	clas_init(&c, &r);
	for (int i = 0; i < c.cfg.nhid; i++)    /* BN stats that matter */
		c.bn1_mean[i] = 0.01f * (float)(rnd() % 100);
	int n = clas_state_dict(&c, t, names, AWD_MAX_TENSORS + 16);
	ok(pth_save(path, pth_state_dict(&pool, t, n), NULL) == 0,
	   "saved a random classifier");
	pv_pool_free(&pool);
	clas_free(&c);
}

static void
test_open_eval(void)
{
	char path[] = "/tmp/unit-speed-XXXXXX";
	int fd = mkstemp(path);
	struct awd_config ac;
	struct clas_config cc;
	close(fd);
	make_clas(path, &ac, &cc);

	struct pth *p = pth_load(path);
	/* the same file through the copying reader */
	FILE *f = fopen(path, "rb");
	unsigned char *buf = xmalloc(1 << 20);
	size_t nb = fread(buf, 1, 1 << 20, f);
	fclose(f);
	char *err = NULL;
	struct pth *q = pth_load_mem(buf, nb, "mem", &err);
	int same = q && p->n == q->n;
	for (int i = 0; same && i < p->n; i++)
		same = p->t[i].numel == q->t[i].numel &&
		       !strcmp(p->t[i].name, q->t[i].name) &&
		       (p->t[i].f ? !memcmp(p->t[i].f, q->t[i].f,
		                            p->t[i].numel * 4)
		                  : !memcmp(p->t[i].l, q->t[i].l,
		                            p->t[i].numel * 8));
	ok(same, "pth_load (tensors in place) == pth_load_mem (copies)");
	ok(pth_xxh64(p) == pth_xxh64(q), "pth_xxh64: the same file hash");

	struct clas a, b;
	char **la, **lb;
	clas_open(&a, q, 4, 0, 0, &la);
	clas_open_eval(&b, p, 2, &lb);
	ok(b.enc.p.emb == pth_find(p, "0.module.encoder.weight")->f,
	   "clas_open_eval: the embedding is read where the file holds it");
	/* three documents of random lengths, one longer than bptt */
	uint32_t len[3] = { 5, 90, 1 }, *docs[3];
	for (int d = 0; d < 3; d++) {
		docs[d] = xmalloc(len[d] * sizeof **docs);
		for (uint32_t i = 0; i < len[d]; i++)
			docs[d][i] = rnd() % 50;
	}
	float pa[9], pb[9];
	struct clas_scratch sa = {0}, sb = {0};
	clas_predict(&a, (const uint32_t *const *)docs, len, NULL, 3, pa, NULL,
	             NULL, &sa);
	clas_predict(&b, (const uint32_t *const *)docs, len, NULL, 3, pb, NULL,
	             NULL, &sb);
	ok(close_to(pb, pa, 9, 1e-6f, 1e-5f), "clas_open_eval (batches of 2) "
	   "predicts as clas_open (batch of 4)");
	for (int d = 0; d < 3; d++)
		free(docs[d]);
	clas_scratch_free(&sa), clas_scratch_free(&sb);
	clas_labels_free(la, 3), clas_labels_free(lb, 3);
	clas_free(&a), clas_free(&b);
	pth_free(p), pth_free(q);
	free(buf);
	unlink(path);
}

int
main(void)
{
	kern_set_threads(2);
	test_crc();
	test_big_alloc();
	test_open_eval();
	return done_testing();
}
