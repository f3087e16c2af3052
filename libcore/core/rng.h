/* rng.h: the one random number generator (xoshiro256** seeded by
 * splitmix64).  Everything random (shuffles, splits, dropout masks, init)
 * draws from an explicit struct rng, so a run is a function of its seed and
 * a checkpoint can store the state (4 x u64) and resume bit-identically.
 * fastai draws from torch's and Python's generators; we cannot reproduce
 * their streams, only their distributions (the man pages say so). */
#ifndef RNG_H
#define RNG_H

#include <stdint.h>

struct rng { uint64_t s[4]; };

static inline uint64_t
rng_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* stream lets one seed give independent generators (e.g. one per epoch
 * or per purpose) without their sequences overlapping in practice. */
static inline void
rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix(&x);
}

static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t x = s[1] * 5, res = ((x << 7) | (x >> 57)) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return res;
}

/* uniform in [0, 1) with 53 bits */
static inline double
rng_double(struct rng *r)
{
	return (rng_next(r) >> 11) * 0x1.0p-53;
}

/* uniform in [0, 1) with 24 bits: exact in float */
static inline float
rng_float(struct rng *r)
{
	return (float)(rng_next(r) >> 40) * 0x1.0p-24f;
}

/* uniform integer in [0, n), unbiased (Lemire) */
static inline uint64_t
rng_below(struct rng *r, uint64_t n)
{
	unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
	uint64_t l = (uint64_t)m;
	if (l < n) {
		uint64_t t = -n % n;
		while (l < t) {
			m = (unsigned __int128)rng_next(r) * n;
			l = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* Fisher-Yates permutation of idx[0..n) (caller fills idx). */
static inline void
rng_shuffle_u32(struct rng *r, uint32_t *idx, uint64_t n)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rng_below(r, i);
		uint32_t t = idx[i - 1]; idx[i - 1] = idx[j]; idx[j] = t;
	}
}

#endif
