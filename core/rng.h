/* core/rng.h — the deterministic random number generator.
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every machine and compiler (integer arithmetic only; floats are
 * made from the top 24 bits). Its whole state is four words, so it is saved
 * in checkpoints and restored for bit-identical resumption.
 */
#ifndef S2S_RNG_H
#define S2S_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct s2s_rng {
    uint64_t s[4];
} s2s_rng;

void s2s_rng_seed(s2s_rng *r, uint64_t seed);
uint64_t s2s_rng_next(s2s_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float s2s_rng_float(s2s_rng *r);
/* Uniform in [lo, hi). */
float s2s_rng_uniform(s2s_rng *r, float lo, float hi);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t s2s_rng_below(s2s_rng *r, uint64_t n);
/* Fisher-Yates shuffle. */
void s2s_rng_shuffle_u32(s2s_rng *r, uint32_t *a, size_t n);

#endif
