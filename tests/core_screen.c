/* tests/core_screen.c — the output layer's screen (core/screen.c) finds the
 * index the full product's arg-max finds, bit for bit, at 1 and 2 BLAS
 * threads, including near ties planted below the screen's resolution and
 * exact ties between equal rows; it declines what it cannot tell. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/rng.h"
#include "core/screen.h"

/* What greedy decoding does without the screen: every logit, then the
 * first largest. */
static uint32_t full_argmax(const float *W, const float *b, int V, int H,
                            const float *h, float *z)
{
    memcpy(z, b, (size_t)V * sizeof *z);
    s2s_gemm(0, 1, 1, V, H, 1.0f, h, H, W, H, 1.0f, z, V);
    uint32_t best = 0;
    for (int v = 1; v < V; v++)
        if (z[v] > z[best]) best = (uint32_t)v;
    return best;
}

static void fill(s2s_rng *r, float *x, size_t n, float range)
{
    for (size_t i = 0; i < n; i++) x[i] = s2s_rng_uniform(r, -range, range);
}

Test(screen, same_index_as_the_full_product)
{
    static const int shapes[][2] = {{1003, 77}, {4, 1}, {517, 256}, {2050, 300}};
    s2s_rng r;
    s2s_rng_seed(&r, 7);
    long answered = 0, exact = 0, trials = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int V = shapes[s][0], H = shapes[s][1];
        float *W = malloc((size_t)V * H * sizeof *W), *b = malloc((size_t)V * sizeof *b);
        float *h = malloc((size_t)H * sizeof *h), *z = malloc((size_t)V * sizeof *z);
        for (int threads = 1; threads <= 2; threads++) {
            s2s_blas_set_threads(threads);
            for (int t = 0; t < 12; t++, trials++) {
                fill(&r, W, (size_t)V * H, 0.3f);
                fill(&r, b, (size_t)V, 1.0f);
                float scale = t % 3 == 0 ? 1e-3f : t % 3 == 1 ? 1.0f : 30.0f;
                fill(&r, h, (size_t)H, scale);
                /* plant ties: rows lifted to within a few ulps of the
                 * largest logit, and one row a copy of the largest */
                uint32_t m = full_argmax(W, b, V, H, h, z);
                for (int k = 0; k < 8 && V > 1; k++) {
                    int v = (int)(s2s_rng_next(&r) % (uint64_t)V);
                    b[v] += (z[m] - z[v]) * (1.0f + (float)(k - 4) * 1e-7f);
                }
                int c = (int)(s2s_rng_next(&r) % (uint64_t)V);
                if (c != (int)m && V > 1) {
                    memcpy(W + (size_t)c * H, W + (size_t)m * H, (size_t)H * sizeof *W);
                    b[c] = b[m];
                }
                uint32_t want = full_argmax(W, b, V, H, h, z), got = ~0u;
                s2s_screen *sc = s2s_screen_new(W, b, V, H);
                if (!sc) {
                    free(W); free(b); free(h); free(z);
                    cr_skip_test("this build has no screen kernel");
                }
                cr_assert_eq(s2s_screen_argmax(sc, h, &got), 1,
                             "V %d H %d threads %d trial %d: declined", V, H,
                             threads, t);
                cr_assert_eq(got, want, "V %d H %d threads %d trial %d: %u, not %u",
                             V, H, threads, t, got, want);
                long a, e;
                s2s_screen_counts(sc, &a, &e);
                answered += a;
                exact += e;
                s2s_screen_free(sc);
            }
        }
        s2s_blas_set_threads(1);
        free(W); free(b); free(h); free(z);
    }
    cr_assert_eq(answered, trials);
    /* the planted ties must have reached the exact path */
    cr_assert(exact >= 3 * trials, "%ld logits computed exactly in %ld trials: "
              "the ties never got past the screen", exact, trials);
}

Test(screen, declines_what_it_cannot_tell)
{
    enum { V = 40, H = 33 };
    float W[V * H], b[V], h[H];
    s2s_rng r;
    s2s_rng_seed(&r, 3);
    fill(&r, W, V * H, 0.5f);
    fill(&r, b, V, 0.5f);
    s2s_screen *sc = s2s_screen_new(W, b, V, H);
    if (!sc) cr_skip_test("this build has no screen kernel");
    uint32_t got = 0;
    /* h of zeros: the largest bias */
    memset(h, 0, sizeof h);
    float z[V];
    cr_assert_eq(s2s_screen_argmax(sc, h, &got), 1);
    cr_assert_eq(got, full_argmax(W, b, V, H, h, z));
    fill(&r, h, H, 1.0f);
    h[5] = NAN;
    cr_assert_eq(s2s_screen_argmax(sc, h, &got), 0);
    h[5] = INFINITY;
    cr_assert_eq(s2s_screen_argmax(sc, h, &got), 0);
    s2s_screen_free(sc);
    W[17] = NAN;
    cr_assert_null(s2s_screen_new(W, b, V, H));
    W[17] = 0;
    b[3] = -INFINITY;
    cr_assert_null(s2s_screen_new(W, b, V, H));
    cr_assert_null(s2s_screen_new(W, b, 3, H));
}

/* The bound taken in full, each of its terms: row ROW planted just above
 * a row of zero weights (whose logit, its bias, the screen knows to the
 * last bits), and h
 * chosen so that ROW's 8-bit logit falls short of the float one by all of
 * the term:
 * - rounding of W: ROW's largest weight 1 (steps of 1/127) and the others
 *   0.49 of a step off the grid, h = +-1 (exact in 8 bits) against the
 *   sign of each rounding;
 * - rounding of h: ROW's weights on the grid, h just short of half a step
 *   of its own grid (max|h| 127: steps of 1) with the signs of the weights.
 * A screen whose bound fell short of the term by a few per cent would rule
 * ROW out. */
static void worst_case(int rounding_of_h)
{
    enum { V = 64, H = 96, M = 10, ROW = 33 };
    float W[V * H], b[V], h[H], z[V];
    s2s_rng r;
    s2s_rng_seed(&r, 11);
    fill(&r, W, V * H, 0.001f);
    memset(b, 0, sizeof b);
    double gap = 0;
    for (int k = 0; k < H; k++) {
        W[M * H + k] = 0;
        float sign = s2s_rng_uniform(&r, -1, 1) < 0 ? -1.0f : 1.0f;
        if (rounding_of_h) {
            /* on the grid of 0.002 * 127: its largest is k = 0's */
            W[ROW * H + k] = k == 0 ? 127 * 0.002f : (float)((k * 37 % 251) - 125) * 0.002f;
            h[k] = W[ROW * H + k] > 0 ? 126.49f : -126.49f;
            gap += 0.49 * fabs(W[ROW * H + k]);
        } else {
            W[ROW * H + k] = k == 0 ? 1.0f : sign * (float)((k % 2) + 0.49) / 127;
            h[k] = k == 0 ? 1.0f : sign; /* the rounding is -sign * 0.49/127 */
            gap += k == 0 ? 0 : 0.49 / 127;
        }
    }
    if (rounding_of_h) { /* h[0] sets the step, exactly */
        h[0] = 127.0f;
        gap -= 0.49 * fabs(W[ROW * H]);
    }
    /* near 1 (h of +-1) or, where h is 127 and logits are thousands, 5000 */
    float top = rounding_of_h ? 5000.0f : 1.0f;
    full_argmax(W, b, V, H, h, z);
    b[M] = top;
    b[ROW] = top + (float)(gap / 20) - z[ROW];
    cr_assert_eq(full_argmax(W, b, V, H, h, z), ROW, "the planted row must win");
    s2s_screen *sc = s2s_screen_new(W, b, V, H);
    if (!sc) cr_skip_test("this build has no screen kernel");
    uint32_t got = 0;
    cr_assert_eq(s2s_screen_argmax(sc, h, &got), 1);
    cr_assert_eq(got, ROW, "%u, not %d (the shortfall: %g)", got, ROW, gap);
    s2s_screen_free(sc);
}

Test(screen, bound_holds_for_the_rounding_of_w) { worst_case(0); }
Test(screen, bound_holds_for_the_rounding_of_h) { worst_case(1); }

/* Batched greedy decoding: for rows of h against frozen weights, the
 * first largest logit of a slice of the vocabulary as the frozen kernel's
 * product gives it, index and bits, with near and exact ties planted. */
Test(screen, rows_same_index_and_logit_as_the_frozen_product)
{
    static const int shapes[][2] = {{1003, 77}, {517, 256}, {2050, 300}};
    static const int rows[] = {2, 7, 24, 64};
    s2s_rng r;
    s2s_rng_seed(&r, 17);
    s2s_blas_set_threads(1); /* the frozen kernel serves: one BLAS thread */
    long tested = 0;
    int kernel = 0; /* the frozen kernel served (its check passed on this BLAS) */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int V = shapes[s][0], H = shapes[s][1];
        float *W = malloc((size_t)V * H * sizeof *W), *b = malloc((size_t)V * sizeof *b);
        float *h = malloc((size_t)64 * H * sizeof *h), *z = malloc((size_t)64 * V * sizeof *z);
        for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++) {
            int n = rows[ri];
            fill(&r, W, (size_t)V * H, 0.3f);
            fill(&r, b, (size_t)V, 1.0f);
            for (int i = 0; i < n; i++)
                fill(&r, h + (size_t)i * H, (size_t)H, i % 3 == 0 ? 1e-3f : i % 3 == 1 ? 1.0f : 30.0f);
            /* ties against row 0's largest logit */
            uint32_t m0 = full_argmax(W, b, V, H, h, z);
            for (int k = 0; k < 8; k++) {
                int v = (int)(s2s_rng_next(&r) % (uint64_t)V);
                b[v] += (z[m0] - z[v]) * (1.0f + (float)(k - 4) * 1e-7f);
            }
            int c = (int)(s2s_rng_next(&r) % (uint64_t)V);
            if (c != (int)m0) {
                memcpy(W + (size_t)c * H, W + (size_t)m0 * H, (size_t)H * sizeof *W);
                b[c] = b[m0];
            }
            cr_assert_eq(s2s_gemm_freeze(W, (size_t)V * H), 0);
            s2s_screen *sc = s2s_screen_new(W, b, V, H);
            if (!sc) {
                s2s_gemm_thaw(W);
                free(W); free(b); free(h); free(z);
                cr_skip_test("this build has no screen kernel");
            }
            cr_assert(s2s_screen_rows_usable(sc, n, h, H));
            /* the whole vocabulary, and a slice that starts and ends off
             * any vector's edge */
            int cuts[2][2] = {{0, V}, {V / 3 + 1, V - 5}};
            for (int ci = 0; ci < 2; ci++) {
                int v0 = cuts[ci][0], v1 = cuts[ci][1];
                const float *ws = W + (size_t)v0 * H;
                int kb = s2s_gemm_frozen_chain(n, v1 - v0, H, ws, H, 1);
                if (kb == 0) continue; /* the BLAS does it: no screen */
                for (int i = 0; i < n; i++)
                    memcpy(z + (size_t)i * V + v0, b + v0, (size_t)(v1 - v0) * sizeof *z);
                s2s_gemm(0, 1, n, v1 - v0, H, 1.0f, h, H, ws, H, 1.0f, z + v0, V);
                uint32_t best[64];
                float best_z[64];
                cr_assert_eq(s2s_screen_argmax_rows(sc, n, h, H, v0, v1, kb, best, best_z), 1);
                for (int i = 0; i < n; i++) {
                    const float *zi = z + (size_t)i * V;
                    int want = v0;
                    for (int v = v0 + 1; v < v1; v++)
                        if (zi[v] > zi[want]) want = v;
                    cr_assert_eq(best[i], (uint32_t)want, "V %d H %d rows %d slice %d row %d",
                                 V, H, n, ci, i);
                    cr_assert_eq(memcmp(&best_z[i], &zi[want], sizeof(float)), 0,
                                 "V %d H %d rows %d row %d: logit %a, not %a", V, H, n,
                                 i, best_z[i], zi[want]);
                    tested++;
                }
            }
            kernel |= s2s_gemm_frozen_copies() > 0;
            s2s_screen_free(sc);
            s2s_gemm_thaw(W);
        }
        free(W); free(b); free(h); free(z);
    }
    if (!kernel) cr_skip_test("the frozen kernel does not match this BLAS: no screen");
    cr_assert(tested > 0, "the frozen kernel served products the screen was not asked for");
}
