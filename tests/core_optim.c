/* tests/core_optim.c — the flat parameter buffers (layout, alignment,
 * zeroing), Adam against hand-computed steps, SGD, the global gradient norm
 * (exact and the same for any thread count) and clipping as PyTorch's
 * clip_grad_norm_.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/optim.h"
#include "core/params.h"
#include "core/rng.h"

/* -------------------------------------------------------------- params */

Test(params, reserve_aligns_blocks_and_alloc_zeroes)
{
    s2s_params p;
    memset(&p, 0, sizeof p);
    size_t a = s2s_params_reserve(&p, 5);
    size_t b = s2s_params_reserve(&p, 16);
    size_t c = s2s_params_reserve(&p, 1);
    size_t d = s2s_params_reserve(&p, 0);
    cr_assert_eq(a, 0u);
    cr_assert_eq(b, 16u);
    cr_assert_eq(c, 32u);
    cr_assert_eq(d, 48u);
    cr_assert_eq(p.n, 48u);
    s2s_params_alloc(&p);
    float *bufs[4] = { p.w, p.g, p.m, p.v };
    for (int k = 0; k < 4; k++) {
        cr_assert_not_null(bufs[k]);
        cr_assert_eq((uintptr_t)bufs[k] % 64, 0u, "buffer %d aligned", k);
        for (size_t i = 0; i < p.n; i++)
            cr_assert_eq(bufs[k][i], 0.0f);
    }
    for (size_t i = 0; i < p.n; i++)
        p.g[i] = 1.0f + (float)i;
    s2s_params_zero_grad(&p);
    for (size_t i = 0; i < p.n; i++)
        cr_assert_eq(p.g[i], 0.0f);
    s2s_params_free(&p);
    cr_assert_null(p.w);
    cr_assert_eq(p.n, 0u);
}

Test(params, empty_model)
{
    s2s_params p;
    memset(&p, 0, sizeof p);
    s2s_params_alloc(&p);
    s2s_params_zero_grad(&p);
    s2s_params_free(&p);
}

/* ---------------------------------------------------------------- Adam */

static s2s_params two_params(float w0, float w1)
{
    s2s_params p;
    memset(&p, 0, sizeof p);
    s2s_params_reserve(&p, 2);
    s2s_params_alloc(&p);
    p.w[0] = w0;
    p.w[1] = w1;
    return p;
}

/* lr 0.1, betas 0.9/0.999, eps 1e-8, by hand (m_hat / (sqrt(v_hat) + eps)):
 *   w0 = 1, g = 0.5, -0.25, 1:
 *     t=1: m=0.05 v=2.5e-4 m^=0.5 v^=0.25 -> w = 1 - 0.1*0.5/0.5 = 0.9
 *     t=2: m=0.02 v=3.1225e-4 m^=0.1052632 v^=0.1562031 -> 0.8733663
 *     t=3: m=0.118 v=1.31194e-3 -> 0.8075551
 *   w1 = -2, g = -3, 0, 2: -1.9, -1.8329942, -1.8253704 */
Test(adam, hand_computed_steps)
{
    s2s_params p = two_params(1.0f, -2.0f);
    s2s_adam_cfg cfg = { .lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f,
                         .eps = 1e-8f };
    const float g0[3] = { 0.5f, -0.25f, 1.0f }, g1[3] = { -3.0f, 0.0f, 2.0f };
    const double w0[3] = { 0.900000002, 0.8733662987078463,
                           0.8075551396770898 };
    const double w1[3] = { -1.9000000003333333, -1.832994175235627,
                           -1.8253703724453203 };
    const double m0[3] = { 0.05, 0.02, 0.118 }, v0[3] = { 2.5e-4, 3.1225e-4,
                                                          1.31193775e-3 };
    for (int t = 0; t < 3; t++) {
        p.g[0] = g0[t];
        p.g[1] = g1[t];
        s2s_adam_step(&p, &cfg, t + 1);
        cr_assert_leq(fabs(p.w[0] - w0[t]), 2e-7, "t=%d w0=%.9g", t + 1,
                      p.w[0]);
        cr_assert_leq(fabs(p.w[1] - w1[t]), 4e-7, "t=%d w1=%.9g", t + 1,
                      p.w[1]);
        /* 1 - 0.9f and 1 - 0.999f are off by 2e-7 and 1.3e-5 relative */
        cr_assert_leq(fabs(p.m[0] - m0[t]), 1e-6 * m0[t]);
        cr_assert_leq(fabs(p.v[0] - v0[t]), 3e-5 * v0[t]);
    }
    s2s_params_free(&p);
}

/* The same update on a large buffer (the vector and parallel paths) agrees
 * bit for bit with element-by-element updates of two-float buffers. */
Test(adam, long_buffer_matches_short)
{
    s2s_params big;
    memset(&big, 0, sizeof big);
    s2s_params_reserve(&big, 200003);
    s2s_params_alloc(&big);
    s2s_rng r;
    s2s_rng_seed(&r, 3);
    for (size_t i = 0; i < big.n; i++)
        big.w[i] = s2s_rng_uniform(&r, -1, 1);
    s2s_params small = two_params(0, 0);
    s2s_adam_cfg cfg = { 1e-3f, 0.9f, 0.999f, 1e-8f };
    float *w = malloc(big.n * sizeof *w), *m = calloc(big.n, sizeof *m),
          *v = calloc(big.n, sizeof *v);
    memcpy(w, big.w, big.n * sizeof *w);
    for (long t = 1; t <= 3; t++) {
        for (size_t i = 0; i < big.n; i++)
            big.g[i] = s2s_rng_uniform(&r, -2, 2);
        s2s_adam_step(&big, &cfg, t);
        for (size_t i = 0; i < big.n; i += 997) {
            small.w[0] = w[i];
            small.m[0] = m[i];
            small.v[0] = v[i];
            small.g[0] = big.g[i];
            s2s_adam_step(&small, &cfg, t);
            w[i] = small.w[0];
            m[i] = small.m[0];
            v[i] = small.v[0];
            cr_assert_eq(big.w[i], w[i], "t=%ld i=%zu", t, i);
            cr_assert_eq(big.m[i], m[i]);
            cr_assert_eq(big.v[i], v[i]);
        }
        /* the elements not followed above: keep their copies in step */
        for (size_t i = 0; i < big.n; i++)
            if (i % 997)
                w[i] = big.w[i], m[i] = big.m[i], v[i] = big.v[i];
    }
    free(w);
    free(m);
    free(v);
    s2s_params_free(&small);
    s2s_params_free(&big);
}

Test(sgd, step)
{
    s2s_params p = two_params(1.0f, -2.0f);
    p.g[0] = 0.5f;
    p.g[1] = -4.0f;
    s2s_sgd_step(&p, 0.25f);
    cr_assert_eq(p.w[0], 0.875f);
    cr_assert_eq(p.w[1], -1.0f);
    s2s_params_free(&p);
}

/* ------------------------------------------------------ norm and clip */

Test(clip, norm_known_values)
{
    float g[3] = { 3.0f, 4.0f, 12.0f };
    cr_assert_eq(s2s_grad_norm(g, 3), 13.0);
    cr_assert_eq(s2s_grad_norm(g, 0), 0.0);
    /* the squares overflow a float, not a double */
    float big[2] = { 3e30f, 4e30f };
    cr_assert_leq(fabs(s2s_grad_norm(big, 2) - 5e30) / 5e30, 1e-7);
}

/* Same bits for 1, 2 and 3 threads, and within rounding of a plain double
 * sum. */
Test(clip, norm_deterministic_across_threads)
{
    size_t n = 1000003;
    float *g = malloc(n * sizeof *g);
    s2s_rng r;
    s2s_rng_seed(&r, 5);
    double ref = 0;
    for (size_t i = 0; i < n; i++) {
        g[i] = s2s_rng_uniform(&r, -1, 1);
        ref += (double)g[i] * g[i];
    }
    ref = sqrt(ref);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double a = s2s_grad_norm(g, n);
    omp_set_num_threads(2);
    double b = s2s_grad_norm(g, n);
    omp_set_num_threads(3);
    double c = s2s_grad_norm(g, n);
    omp_set_num_threads(saved);
    cr_assert(memcmp(&a, &b, sizeof a) == 0 && memcmp(&a, &c, sizeof a) == 0,
              "%.17g %.17g %.17g", a, b, c);
    cr_assert_leq(fabs(a - ref) / ref, 1e-12);
    free(g);
}

/* torch.nn.utils.clip_grad_norm_: factor max / (norm + 1e-6) when it is
 * below 1; the norm before clipping is returned. */
Test(clip, scales_like_pytorch)
{
    float g[2] = { 3.0f, 4.0f };
    double norm = s2s_clip_grad_norm(g, 2, 1.0);
    cr_assert_eq(norm, 5.0);
    float f = (float)(1.0 / (5.0 + 1e-6));
    cr_assert_eq(g[0], 3.0f * f);
    cr_assert_eq(g[1], 4.0f * f);
    cr_assert_leq(fabs(s2s_grad_norm(g, 2) - 1.0), 1e-6);

    float h[2] = { 3.0f, 4.0f };
    cr_assert_eq(s2s_clip_grad_norm(h, 2, 5.0), 5.0); /* factor < 1 */
    cr_assert_eq(h[0], 3.0f * (float)(5.0 / (5.0 + 1e-6)));
    float k[2] = { 0.3f, 0.4f };
    s2s_clip_grad_norm(k, 2, 5.0); /* under the limit: untouched */
    cr_assert_eq(k[0], 0.3f);
    cr_assert_eq(k[1], 0.4f);
}

Test(clip, non_finite_left_alone)
{
    float g[3] = { 1.0f, NAN, 2.0f };
    cr_assert(isnan(s2s_clip_grad_norm(g, 3, 1.0)));
    cr_assert_eq(g[0], 1.0f);
    cr_assert_eq(g[2], 2.0f);
    float h[2] = { INFINITY, 1.0f };
    cr_assert(isinf(s2s_clip_grad_norm(h, 2, 1.0)));
    cr_assert_eq(h[1], 1.0f);
}

Test(clip, large_buffer_parallel_scale)
{
    size_t n = 300001;
    float *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++)
        g[i] = (i % 2) ? 1.0f : -1.0f;
    double norm = s2s_clip_grad_norm(g, n, 5.0);
    cr_assert_leq(fabs(norm - sqrt((double)n)), 1e-9);
    float f = (float)(5.0 / (norm + 1e-6));
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(g[i], (i % 2) ? f : -f);
    free(g);
}

/* ------------------------------------------- the pieces the trainer fuses */

/* A gradient that is zero but for scattered rows of 16: the sum over the
 * rows alone has the bits of the sum over the whole part, for parts that
 * start and end anywhere (the lanes depend on the part's start). */
Test(pieces, sparse_sumsq_has_the_bits_of_the_full_one)
{
    size_t n = 100003;
    float *g = calloc(n, sizeof *g);
    s2s_rng r;
    s2s_rng_seed(&r, 11);
    size_t rows[40];
    for (int j = 0; j < 40; j++) rows[j] = 2500 * (size_t)j + (size_t)(j * 7 % 13);
    for (int j = 0; j < 40; j++)
        for (int e = 0; e < 16; e++)
            g[rows[j] + e] = s2s_rng_uniform(&r, -3, 3);
    size_t span[82];
    for (int k = 0; k < S2S_NORM_PARTS; k++) {
        size_t lo, hi, ns = 0;
        s2s_norm_part(n, k, &lo, &hi);
        for (int j = 0; j < 40; j++) {
            size_t a = rows[j] > lo ? rows[j] : lo;
            size_t b = rows[j] + 16 < hi ? rows[j] + 16 : hi;
            if (a < b) span[2 * ns] = a, span[2 * ns + 1] = b, ns++;
        }
        double full = s2s_grad_sumsq(g, lo, hi);
        double sparse = s2s_grad_sumsq_spans(g, lo, hi, span, ns);
        cr_assert(memcmp(&full, &sparse, sizeof full) == 0,
                  "part %d: %.17g vs %.17g", k, full, sparse);
    }
    /* a dense span too, starting off the lanes' alignment */
    size_t whole[2] = {3, n};
    double a = s2s_grad_sumsq(g, 3, n), b = s2s_grad_sumsq_spans(g, 3, n, whole, 1);
    cr_assert(memcmp(&a, &b, sizeof a) == 0);
    free(g);
}

/* Adam / SGD over ranges with a gradient scale equal clipping first and
 * then the whole-buffer step, bit for bit; the gradient is cleared from
 * zero_from on. */
Test(pieces, ranges_with_scale_equal_clip_then_step)
{
    for (int sgd = 0; sgd <= 1; sgd++) {
        s2s_params a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        s2s_params_reserve(&a, 5003);
        s2s_params_reserve(&b, 5003);
        s2s_params_alloc(&a);
        s2s_params_alloc(&b);
        s2s_rng r;
        s2s_rng_seed(&r, 5);
        for (size_t i = 0; i < a.n; i++) {
            a.w[i] = b.w[i] = s2s_rng_uniform(&r, -1, 1);
            a.m[i] = b.m[i] = s2s_rng_uniform(&r, -0.1f, 0.1f);
            a.v[i] = b.v[i] = s2s_rng_uniform(&r, 0, 0.01f);
            a.g[i] = b.g[i] = s2s_rng_uniform(&r, -4, 4);
        }
        s2s_adam_cfg cfg = { 1e-3f, 0.9f, 0.999f, 1e-8f };
        double norm = s2s_clip_grad_norm(a.g, a.n, 1.0);
        if (sgd) s2s_sgd_step(&a, 0.1f); else s2s_adam_step(&a, &cfg, 7);

        double part[S2S_NORM_PARTS];
        for (int k = 0; k < S2S_NORM_PARTS; k++) {
            size_t lo, hi;
            s2s_norm_part(b.n, k, &lo, &hi);
            part[k] = s2s_grad_sumsq(b.g, lo, hi);
        }
        double norm2 = s2s_grad_norm_of_parts(part);
        cr_assert(memcmp(&norm, &norm2, sizeof norm) == 0);
        float c = s2s_clip_factor(norm2, 1.0);
        cr_assert(c < 1.0f);
        s2s_adam_k ak;
        s2s_adam_prepare(&cfg, 7, &ak);
        for (int k = S2S_NORM_PARTS - 1; k >= 0; k--) { /* any order */
            size_t lo, hi;
            s2s_norm_part(b.n, k, &lo, &hi);
            if (sgd) s2s_sgd_range(&b, 0.1f, lo, hi, c, 100, 1);
            else s2s_adam_range(&b, &ak, lo, hi, c, 100, 1);
        }
        cr_assert(memcmp(a.w, b.w, a.n * sizeof *a.w) == 0, "sgd=%d", sgd);
        cr_assert(memcmp(a.m, b.m, a.n * sizeof *a.m) == 0);
        cr_assert(memcmp(a.v, b.v, a.n * sizeof *a.v) == 0);
        for (size_t i = 100; i < b.n; i++) cr_assert_eq(b.g[i], 0.0f);
        for (size_t i = 0; i < 100; i++) cr_assert_neq(b.g[i], 0.0f);
        s2s_params_free(&a);
        s2s_params_free(&b);
    }
    /* no clipping needed, or a non-finite norm: factor 1 */
    cr_assert_eq(s2s_clip_factor(0.5, 1.0), 1.0f);
    cr_assert_eq(s2s_clip_factor(NAN, 1.0), 1.0f);
    cr_assert_eq(s2s_clip_factor(INFINITY, 1.0), 1.0f);
}
