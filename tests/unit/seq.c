/* seq.h kernels against plain loops on random inputs.  Outputs are
 * poisoned first (NaN floats, 0xA5 bytes), so an element a kernel fails
 * to write shows; every kernel runs on 1 and on 3 threads (the copies
 * split rows between workers) and must give the same bytes. */
#include <stdint.h>
#include <string.h>

#include "../tap.h"
#include "kernels.h"
#include "seq.h"
#include "core/rng.h"
#include "core/util.h"

static struct rng R;
static struct kern K;

static void
frand(float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = 4 * rng_float(&R) - 2;
}

static void
poison(void *p, size_t bytes)
{
	memset(p, 0xA5, bytes);         /* as floats: -2.9e-16, never written */
}

static void
fnan(float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = NAN;
}

static int
rnd(int n)
{
	return (int)(rng_float(&R) * n);
}

/* rows x T x w batch, a random chunk of it; large enough (w 400) that the
 * copies go to the workers */
static void
test_gather_scatter(int threads)
{
	int bad = 0, bads = 0, keep = 0;
	kern_set_threads(threads);
	for (int it = 0; it < 40; it++) {
		int B = 1 + rnd(9), T = 1 + rnd(30), w = it & 1 ? 400 : 1 + rnd(7);
		int col = rnd(T), len = 1 + rnd(T - col), rows = rnd(B + 1);
		size_t nb = (size_t)B * T * w, nc = (size_t)B * len * w;
		float *src = xmalloc(nb * 4), *dst = xmalloc(nc * 4);
		float *big = xmalloc(nb * 4), *was = xmalloc(nb * 4);
		frand(src, nb);

		fnan(dst, nc);
		seq_chunk_gather(&K, dst, src, rows, T, col, len, w);
		for (int b = 0; b < rows; b++)
			for (int t = 0; t < len; t++)
				for (int d = 0; d < w; d++)
					bad += memcmp(&dst[((size_t)b * len + t) * w + d],
					    &src[((size_t)b * T + col + t) * w + d], 4) != 0;
		/* rows past `rows` are not the kernel's: still poisoned */
		for (size_t i = (size_t)rows * len * w; i < nc; i++)
			bad += !isnan(dst[i]);


		/* scatter a random chunk back; zero rows from `rows`, other
		 * columns untouched */
		float *chunk = xmalloc(nc * 4);
		frand(chunk, nc);
		fnan(big, nb);
		for (int b = 0; b < B; b++)     /* some columns hold data */
			for (int t = 0; t < T; t++)
				if ((t + b) % 3 == 0)
					for (int d = 0; d < w; d++)
						big[((size_t)b * T + t) * w + d] = (float)(b + t);
		memcpy(was, big, nb * 4);
		seq_chunk_scatter(&K, big, chunk, B, rows, T, col, len, w);
		for (int b = 0; b < B; b++)
			for (int t = 0; t < T; t++)
				for (int d = 0; d < w; d++) {
					size_t i = ((size_t)b * T + t) * w + d;
					if (t < col || t >= col + len) {
						bads += memcmp(&big[i], &was[i], 4) != 0;
						keep++;
					} else if (b < rows) {
						bads += memcmp(&big[i],
						    &chunk[((size_t)b * len + t - col) * w + d],
						    4) != 0;
					} else {
						bads += memcmp(&big[i], &(float){ 0 }, 4) != 0;
					}
				}
		free(src), free(dst), free(big), free(was);
		free(chunk);
	}
	ok(!bad, "chunk gather == plain loop, %d thread(s) (%d bad)", threads,
	   bad);
	ok(!bads && keep > 0, "chunk scatter: rows copied, later rows zero, "
	   "other columns untouched, %d thread(s) (%d bad)", threads, bads);
}

/* a Pad_Chunk batch: sorted by length, padded in front by whole chunks */
static void
test_mask(void)
{
	int bad = 0, pads = 0, text = 0;
	for (int it = 0; it < 50; it++) {
		int B = 1 + rnd(8), T = 1 + rnd(40), first = rnd(T);
		uint32_t start[8], len[8];
		for (int b = 0; b < B; b++) {
			start[b] = (uint32_t)rnd(T);
			len[b] = 1 + (uint32_t)rnd(T - (int)start[b]);
		}
		int Tk = T - first;
		uint8_t *m = xmalloc((size_t)B * Tk + 1);
		poison(m, (size_t)B * Tk);
		seq_pad_mask(&K, m, start, len, B, Tk, first);
		for (int b = 0; b < B; b++)
			for (int t = 0; t < Tk; t++) {
				uint32_t c = (uint32_t)(first + t);
				int want = c < start[b] || c >= start[b] + len[b];
				bad += m[(size_t)b * Tk + t] != want;
				pads += want, text += !want;
			}
		free(m);
	}
	ok(!bad && pads && text, "pad mask from lengths == plain loop "
	   "(%d bad, %d pads, %d text)", bad, pads, text);
}

static void
test_softmax(void)
{
	int bad = 0, sum = 0;
	for (int it = 0; it < 20; it++) {
		int rows = 1 + rnd(6), n = 1 + rnd(12);
		float *z = xmalloc((size_t)rows * n * 4), *p = xmalloc((size_t)rows * n * 4);
		frand(z, (size_t)rows * n);
		if (it == 3)            /* exp would overflow without the max */
			for (int i = 0; i < rows * n; i++)
				z[i] = 90 + 10 * z[i];
		fnan(p, (size_t)rows * n);
		seq_softmax(&K, p, z, rows, n);
		for (int r = 0; r < rows; r++) {
			const float *zr = z + (size_t)r * n;
			double mx = zr[0], s = 0, t = 0;
			for (int j = 1; j < n; j++)
				mx = zr[j] > mx ? zr[j] : mx;
			for (int j = 0; j < n; j++)
				s += exp(zr[j] - mx);
			for (int j = 0; j < n; j++) {
				float want = (float)(exp(zr[j] - mx) / s);
				bad += memcmp(&p[(size_t)r * n + j], &want, 4) != 0;
				t += p[(size_t)r * n + j];
			}
			sum += !(fabs(t - 1) < 1e-5);
		}
		free(z), free(p);
	}
	ok(!bad && !sum, "softmax == plain double loop, rows sum to 1 "
	   "(%d bad, %d sums)", bad, sum);
}

int
main(void)
{
	rng_seed(&R, 9, 0);
	if (kern_init(&K, KERN_CPU, 1))
		die("no CPU backend");
	test_gather_scatter(1);
	test_gather_scatter(3);
	kern_set_threads(1);
	test_mask();
	test_softmax();
	kern_fini(&K);
	return done_testing();
}
