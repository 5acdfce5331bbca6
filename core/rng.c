/* core/rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64,
 * exactly as the reference implementations, so published values hold and
 * the stream is the same on every machine and compiler.
 */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void s2s_rng_seed(s2s_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t s2s_rng_next(s2s_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float s2s_rng_float(s2s_rng *r)
{
    /* The top 24 bits: every value is exact in a float and < 1. */
    return (float)(s2s_rng_next(r) >> 40) * 0x1.0p-24f;
}

float s2s_rng_uniform(s2s_rng *r, float lo, float hi)
{
    float u = s2s_rng_float(r);
    float x = lo + (hi - lo) * u;
    /* lo + (hi-lo)*u can round up to hi; keep the interval half-open. */
    return x < hi ? x : nextafterf(hi, lo);
}

uint64_t s2s_rng_below(s2s_rng *r, uint64_t n)
{
    /* Rejects the lowest (2^64 mod n) values so every residue is equally
     * likely. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = s2s_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

void s2s_rng_shuffle_u32(s2s_rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)s2s_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
