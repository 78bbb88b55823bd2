/* SPDX-License-Identifier: MIT */
/* The tests' random numbers: xorshift64 (Marsaglia, "Xorshift RNGs", 2003). Seed rng_state non-zero. */
#ifndef CF_TEST_RNG_H
#define CF_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state = 88172645463325252ULL;

static inline uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#endif
