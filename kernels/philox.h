/* philox.h: Philox-4x32-10, the counter-based generator of Salmon,
 * Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3"
 * (SC 2011), written from its published definition: a 128-bit counter
 * and a 64-bit key give 128 random bits, with no state between calls, so
 * any element of a mask can be drawn by any thread (or a CUDA thread) in
 * any order and come out the same.  Checked against the paper's
 * known-answer vectors in tests/unit/kernels.c. */
#ifndef KERN_PHILOX_H
#define KERN_PHILOX_H

#include <stdint.h>

#include "hd.h"

#define PHILOX_M0 0xD2511F53u   /* round multipliers */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u   /* key schedule (Weyl) increments */
#define PHILOX_W1 0xBB67AE85u

/* out = philox4x32_10(ctr, key).  Each round: (hi0,lo0) = M0 * c0,
 * (hi1,lo1) = M1 * c2 (32x32 -> 64-bit products), then
 * c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0); the key is bumped by
 * (W0, W1) between rounds. */
static inline KERN_HD void
philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key[0], k1 = key[1];
	for (int r = 0; r < 10; r++) {
		uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
		uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
		uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
		uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
		c0 = hi1 ^ c1 ^ k0;
		c1 = lo1;
		c2 = hi0 ^ c3 ^ k1;
		c3 = lo0;
		k0 += PHILOX_W0, k1 += PHILOX_W1;
	}
	out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* 32 random bits -> uniform float in [0, 1) with 24 bits (exact) */
static inline KERN_HD float
philox_u01(uint32_t x)
{
	return (float)(x >> 8) * 0x1.0p-24f;
}

#endif
