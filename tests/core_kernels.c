/* tests/core_kernels.c — the numeric kernels against double references:
 * accuracy sweeps of exp, sigmoid and tanh (with their IEEE limits and NaN),
 * softmax and log-softmax, GEMM in every transpose case, and the add.
 */
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/rng.h"

/* A sweep of [-20, 20] by 1e-4 (400001 points) plus random points. */
#define SWEEP_N 400001
static float *sweep(size_t *n)
{
    size_t extra = 100000;
    float *x = malloc((SWEEP_N + extra) * sizeof *x);
    for (size_t i = 0; i < SWEEP_N; i++)
        x[i] = (float)(-20.0 + 1e-4 * (double)i);
    s2s_rng r;
    s2s_rng_seed(&r, 1);
    for (size_t i = 0; i < extra; i++)
        x[SWEEP_N + i] = s2s_rng_uniform(&r, -20.0f, 20.0f);
    *n = SWEEP_N + extra;
    return x;
}

Test(kernels, tanh_accuracy_sweep)
{
    size_t n;
    float *x = sweep(&n);
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    s2s_tanh(y, n);
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)y[i] - tanh((double)x[i]));
        if (e > worst)
            worst = e, at = x[i];
        cr_assert(y[i] >= -1.0f && y[i] <= 1.0f);
    }
    cr_log_info("tanh: max abs error %.3g at %g", worst, at);
    cr_assert_leq(worst, 3e-7, "tanh max abs error %.3g at x=%.9g", worst, at);
    free(x);
    free(y);
}

/* Near 0 tanh(x) ~ x: the absolute error must shrink with x (the
 * polynomial branch), not stay at the 1e-7 level of 1 - 2/(e^2x+1). */
Test(kernels, tanh_small_arguments_relative)
{
    float x[2000], y[2000];
    for (int i = 0; i < 2000; i++)
        x[i] = y[i] = (float)ldexp(1.0 + i / 2000.0, -(i % 40)) *
                      (i % 2 ? -1.0f : 1.0f) * 0.6f;
    s2s_tanh(y, 2000);
    for (int i = 0; i < 2000; i++) {
        double t = tanh((double)x[i]);
        double rel = fabs(y[i] - t) / fabs(t);
        cr_assert_leq(rel, 4e-7, "tanh(%a): rel error %.3g", x[i], rel);
    }
}

Test(kernels, sigmoid_accuracy_sweep)
{
    size_t n;
    float *x = sweep(&n);
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    s2s_sigmoid(y, n);
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)y[i] - 1.0 / (1.0 + exp(-(double)x[i])));
        if (e > worst)
            worst = e, at = x[i];
        cr_assert(y[i] >= 0.0f && y[i] <= 1.0f);
    }
    cr_log_info("sigmoid: max abs error %.3g at %g", worst, at);
    cr_assert_leq(worst, 3e-7, "sigmoid max abs error %.3g at x=%.9g", worst,
                  at);
    free(x);
    free(y);
}

/* exp over its whole finite-result range, in units in the last place of
 * the correctly rounded float result. */
Test(kernels, exp_accuracy_ulp)
{
    enum { N = 400001 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++)
        x[i] = (float)(-87.0 + (88.7 + 87.0) * i / (N - 1.0));
    s2s_exp(x, y, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double t = exp((double)x[i]);
        float tf = (float)t;
        double ulp = nextafterf(tf, INFINITY) - tf;
        double e = fabs(y[i] - t) / ulp;
        if (e > worst)
            worst = e;
    }
    cr_log_info("exp: max error %.3f ulp", worst);
    cr_assert_leq(worst, 2.0, "exp max error %.3f ulp", worst);
    free(x);
    free(y);
}

/* Subnormal results and the underflow to 0, overflow to +inf. */
Test(kernels, exp_range_ends)
{
    float x[] = { -87.5f, -95.0f, -100.0f, -103.0f, -104.0f, -110.0f,
                  -1000.0f, 88.72f, 88.7228f, 88.73f, 89.0f, 1000.0f, 0.0f,
                  -0.0f };
    enum { N = sizeof x / sizeof x[0] };
    float y[N];
    s2s_exp(x, y, N);
    for (int i = 0; i < N; i++) {
        double t = exp((double)x[i]);
        if (t > 3.4028234663852886e38) {
            cr_assert(isinf(y[i]) && y[i] > 0, "exp(%g) = %g", x[i], y[i]);
        } else {
            /* within 2 ulp of the float result, subnormal ulps included */
            float tf = (float)t;
            double ulp = nextafterf(tf, INFINITY) - tf;
            cr_assert_leq(fabs(y[i] - t), 2 * ulp, "exp(%g) = %a, want %a",
                          x[i], y[i], tf);
        }
    }
    cr_assert_eq(y[N - 2], 1.0f);
    cr_assert_eq(y[N - 1], 1.0f);
    s2s_exp(x, x, N); /* in place */
    cr_assert_arr_eq(x, y, sizeof y);
}

Test(kernels, limits_and_nan)
{
    float in[] = { INFINITY, -INFINITY, NAN, -NAN, 0.0f, -0.0f, 1e30f, -1e30f };
    enum { N = sizeof in / sizeof in[0] };
    float t[N], s[N], e[N];
    memcpy(t, in, sizeof in);
    memcpy(s, in, sizeof in);
    s2s_tanh(t, N);
    s2s_sigmoid(s, N);
    s2s_exp(in, e, N);

    cr_assert_eq(t[0], 1.0f);
    cr_assert_eq(t[1], -1.0f);
    cr_assert(isnan(t[2]) && isnan(t[3]));
    cr_assert(t[4] == 0.0f && !signbit(t[4]));
    cr_assert(t[5] == 0.0f && signbit(t[5]), "tanh(-0) = -0");
    cr_assert_eq(t[6], 1.0f);
    cr_assert_eq(t[7], -1.0f);

    cr_assert_eq(s[0], 1.0f);
    cr_assert_eq(s[1], 0.0f);
    cr_assert(isnan(s[2]) && isnan(s[3]));
    cr_assert_eq(s[4], 0.5f);
    cr_assert_eq(s[5], 0.5f);
    cr_assert_eq(s[6], 1.0f);
    cr_assert_eq(s[7], 0.0f);

    cr_assert(isinf(e[0]) && e[0] > 0);
    cr_assert_eq(e[1], 0.0f);
    cr_assert(isnan(e[2]) && isnan(e[3]));
    cr_assert_eq(e[4], 1.0f);
    cr_assert_eq(e[5], 1.0f);
    cr_assert(isinf(e[6]));
    cr_assert_eq(e[7], 0.0f);
}

/* Above the threshold the loops run in parallel; each element must still
 * get exactly what a short call gives it. */
Test(kernels, parallel_path_matches_serial)
{
    enum { N = 300007 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    s2s_rng r;
    s2s_rng_seed(&r, 4);
    for (int i = 0; i < N; i++)
        a[i] = b[i] = s2s_rng_uniform(&r, -30.0f, 30.0f);
    s2s_tanh(a, N);
    for (int i = 0; i < N; i += 1000)
        s2s_tanh(b + i, (size_t)(N - i < 1000 ? N - i : 1000));
    cr_assert_arr_eq(a, b, N * sizeof *a);
    s2s_sigmoid(a, N);
    for (int i = 0; i < N; i += 1000)
        s2s_sigmoid(b + i, (size_t)(N - i < 1000 ? N - i : 1000));
    cr_assert_arr_eq(a, b, N * sizeof *a);
    s2s_add(a, b, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(a[i], 2.0f * b[i]);
    free(a);
    free(b);
}

Test(kernels, derivative_helpers)
{
    cr_assert_eq(s2s_dsigmoid_y(0.5f), 0.25f);
    cr_assert_eq(s2s_dtanh_y(0.5f), 0.75f);
    cr_assert_eq(s2s_dtanh_y(1.0f), 0.0f);
}

/* ------------------------------------------------------------ softmax */

static void ref_softmax(const float *x, int n, double *p, double *lp)
{
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++)
        s += exp(x[i] - m);
    for (int i = 0; i < n; i++) {
        p[i] = exp(x[i] - m) / s;
        lp[i] = (x[i] - m) - log(s);
    }
}

Test(kernels, softmax_rows_against_double)
{
    const int cols[] = { 1, 5, 16, 17, 100, 3001 };
    s2s_rng r;
    s2s_rng_seed(&r, 6);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
        int rows = 4, n = cols[c], ld = n + 3;
        float *x = malloc((size_t)rows * ld * sizeof *x);
        float *s = malloc((size_t)rows * ld * sizeof *s);
        float *l = malloc((size_t)rows * ld * sizeof *l);
        double *p = malloc(n * sizeof *p), *lp = malloc(n * sizeof *lp);
        for (int i = 0; i < rows * ld; i++)
            x[i] = s2s_rng_uniform(&r, -10.0f, 10.0f);
        x[0] = 1000.0f;     /* would overflow without the max shift */
        if (n > 1)
            x[ld + 0] = -INFINITY; /* a masked entry: probability 0 */
        memcpy(s, x, (size_t)rows * ld * sizeof *x);
        memcpy(l, x, (size_t)rows * ld * sizeof *x);
        s2s_softmax_rows(s, rows, n, ld);
        s2s_log_softmax_rows(l, rows, n, ld);
        for (int rr = 0; rr < rows; rr++) {
            ref_softmax(x + (size_t)rr * ld, n, p, lp);
            double sum = 0;
            for (int i = 0; i < n; i++) {
                float sv = s[(size_t)rr * ld + i], lv = l[(size_t)rr * ld + i];
                cr_assert_leq(fabs(sv - p[i]), 1e-6 * p[i] + 1e-9,
                              "softmax n=%d row %d col %d: %g vs %g", n, rr,
                              i, sv, p[i]);
                if (isinf(lp[i]))
                    cr_assert(isinf(lv) && lv < 0);
                else
                    cr_assert_leq(fabs(lv - lp[i]),
                                  2e-6 * fabs(lp[i]) + 1e-6,
                                  "log_softmax n=%d row %d col %d: %g vs %g",
                                  n, rr, i, lv, lp[i]);
                sum += sv;
            }
            cr_assert_leq(fabs(sum - 1.0), 1e-5);
            /* the padding past cols is not touched */
            for (int i = n; i < ld; i++)
                cr_assert_eq(s[(size_t)rr * ld + i], x[(size_t)rr * ld + i]);
        }
        if (n > 1)
            cr_assert_eq(s[ld], 0.0f);
        free(x);
        free(s);
        free(l);
        free(p);
        free(lp);
    }
}

/* An all -inf row (everything masked) has no distribution: NaN, as in
 * PyTorch, rather than a made-up uniform one. */
Test(kernels, softmax_all_masked_is_nan)
{
    float x[2] = { -INFINITY, -INFINITY };
    s2s_softmax_rows(x, 1, 2, 2);
    cr_assert(isnan(x[0]) && isnan(x[1]));
}

Test(kernels, softmax_nan_propagates)
{
    float x[6] = { 1, NAN, 2, 1, 2, 3 };
    s2s_softmax_rows(x, 2, 3, 3);
    cr_assert(isnan(x[0]) && isnan(x[1]) && isnan(x[2]));
    cr_assert(!isnan(x[3]) && !isnan(x[4]) && !isnan(x[5]));
    float y[3] = { 1, 2, NAN };
    s2s_log_softmax_rows(y, 1, 3, 3);
    cr_assert(isnan(y[0]) && isnan(y[1]) && isnan(y[2]));
}

/* Many rows take the parallel path; the result is the per-row result. */
Test(kernels, softmax_many_rows_parallel)
{
    int rows = 300, n = 500;
    float *a = malloc((size_t)rows * n * sizeof *a);
    float *b = malloc((size_t)rows * n * sizeof *b);
    s2s_rng r;
    s2s_rng_seed(&r, 8);
    for (int i = 0; i < rows * n; i++)
        a[i] = b[i] = s2s_rng_uniform(&r, -5.0f, 5.0f);
    s2s_log_softmax_rows(a, rows, n, n);
    for (int i = 0; i < rows; i++)
        s2s_log_softmax_rows(b + (size_t)i * n, 1, n, n);
    cr_assert_arr_eq(a, b, (size_t)rows * n * sizeof *a);
    free(a);
    free(b);
}

/* --------------------------------------------------------------- GEMM */

/* m = 1 takes the GEMV path: check it the same way. */
static void gemm_transposes(int m)
{
    const int n = 5, k = 9, pad = 3;
    s2s_rng r;
    s2s_rng_seed(&r, 12);
    float a[16 * 16], b[16 * 16], c[16 * 16];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* stored shapes: A is m x k (or k x m), B k x n (or n x k) */
            int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad;
            int ldc = n + pad;
            for (int i = 0; i < 256; i++) {
                a[i] = s2s_rng_uniform(&r, -1, 1);
                b[i] = s2s_rng_uniform(&r, -1, 1);
                c[i] = s2s_rng_uniform(&r, -1, 1);
            }
            float c0[16 * 16];
            memcpy(c0, c, sizeof c);
            s2s_gemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, 2.0f, c, ldc);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++)
                        s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                             (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    double want = 0.5 * s + 2.0 * c0[i * ldc + j];
                    cr_assert_leq(fabs(c[i * ldc + j] - want), 1e-5,
                                  "ta=%d tb=%d (%d,%d): %g vs %g", ta, tb, i,
                                  j, c[i * ldc + j], want);
                }
            /* padding columns untouched */
            for (int i = 0; i < m; i++)
                for (int j = n; j < ldc; j++)
                    cr_assert_eq(c[i * ldc + j], c0[i * ldc + j]);
        }
}

Test(kernels, gemm_all_transposes) { gemm_transposes(7); }
Test(kernels, gemm_one_row_all_transposes) { gemm_transposes(1); }

/* beta = 0 ignores what C held (even NaN), as BLAS specifies; m = 0 or
 * n = 0 is a no-op; k = 0 scales C by beta. */
Test(kernels, gemm_edge_cases)
{
    float a[4] = { 1, 2, 3, 4 }, b[4] = { 1, 0, 0, 1 };
    float c[4] = { NAN, NAN, NAN, NAN };
    s2s_gemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    cr_assert_arr_eq(c, a, sizeof a);
    s2s_gemm(0, 0, 0, 2, 2, 1.0f, a, 2, b, 2, 0.0f, NULL, 2);
    s2s_gemm(0, 0, 2, 0, 2, 1.0f, a, 2, b, 2, 0.0f, NULL, 1);
    s2s_gemm(0, 0, 2, 2, 0, 1.0f, a, 1, b, 2, 2.0f, c, 2);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(c[i], 2.0f * a[i]);
}

/* Frozen weights (core/frozen.c): the few-row kernel, where it is taken,
 * gives the BLAS's bits at every row count, both betas and shapes with
 * column and k remainders; and thawing drops the copies, so a changed
 * matrix is read afresh. */
Test(kernels, gemm_frozen_same_bits)
{
    const int shapes[][2] = {{7640, 256}, {1024, 256}, {1024, 512}, {100, 37},
                             {33, 64}, {17, 256}, {7640, 256}};
    s2s_rng r;
    s2s_rng_seed(&r, 21);
    int blas = s2s_blas_get_threads();
    /* the kernel runs where the BLAS has one thread; the last shape again
     * with the product split over two threads */
    s2s_blas_set_threads(1);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        s2s_gemm_frozen_threads(s + 1 == sizeof shapes / sizeof *shapes ? 2 : 1);
        int n = shapes[s][0], k = shapes[s][1], ldb = k + 3, ldc = n + 1;
        size_t nb = (size_t)n * ldb, nc = (size_t)10 * ldc;
        float *b = malloc(nb * sizeof *b), *a = malloc(10 * (size_t)k * sizeof *a);
        float *c0 = malloc(nc * sizeof *c0), *c1 = malloc(nc * sizeof *c1);
        float *c2 = malloc(nc * sizeof *c2);
        for (size_t i = 0; i < nb; i++) b[i] = s2s_rng_uniform(&r, -0.1f, 0.1f);
        for (int i = 0; i < 10 * k; i++) a[i] = s2s_rng_uniform(&r, -3, 3);
        for (size_t i = 0; i < nc; i++) c0[i] = s2s_rng_uniform(&r, -1, 1);
        for (int m = 1; m <= 10; m++)
            for (int beta = 0; beta <= 1; beta++) {
                memcpy(c1, c0, nc * sizeof *c1);
                memcpy(c2, c0, nc * sizeof *c2);
                s2s_gemm(0, 1, m, n, k, 1.0f, a, k, b, ldb, (float)beta, c1, ldc);
                cr_assert_eq(s2s_gemm_freeze(b, nb), 0);
                s2s_gemm(0, 1, m, n, k, 1.0f, a, k, b, ldb, (float)beta, c2, ldc);
                if (m == 5 && beta == 1)
                    cr_log_info("n %d k %d: %s", n, k,
                                s2s_gemm_frozen_copies() ? "few-row kernel" : "BLAS");
                s2s_gemm_thaw(b);
                cr_assert_arr_eq(c1, c2, nc * sizeof *c1,
                                 "n %d k %d m %d beta %d", n, k, m, beta);
            }
        /* a matrix changed after thawing is not served from an old copy */
        cr_assert_eq(s2s_gemm_freeze(b, nb), 0);
        s2s_gemm(0, 1, 3, n, k, 1.0f, a, k, b, ldb, 0.0f, c1, ldc);
        s2s_gemm_thaw(b);
        cr_assert_eq(s2s_gemm_frozen_copies(), 0);
        for (size_t i = 0; i < nb; i++) b[i] *= 2.0f;
        cr_assert_eq(s2s_gemm_freeze(b, nb), 0);
        s2s_gemm(0, 1, 3, n, k, 1.0f, a, k, b, ldb, 0.0f, c2, ldc);
        s2s_gemm_thaw(b);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < n; j++)
                cr_assert_eq(c2[i * ldc + j], 2.0f * c1[i * ldc + j]);
        free(a); free(b); free(c0); free(c1); free(c2);
    }
    s2s_gemm_frozen_threads(1);
    s2s_blas_set_threads(blas);
}

Test(kernels, blas_threads)
{
    int before = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    cr_assert_eq(s2s_blas_get_threads(), 1);
    s2s_blas_set_threads(0); /* clamped to 1 */
    cr_assert_eq(s2s_blas_get_threads(), 1);
    s2s_blas_set_threads(before);
    cr_assert_eq(s2s_blas_get_threads(), before);
}

/* Cross-entropy of a row and its gradient against double precision. */
Test(kernels, xent_row_value_and_gradient)
{
    enum { N = 1000 };
    static float z[N], g[N];
    s2s_rng r;
    s2s_rng_seed(&r, 21);
    for (int i = 0; i < N; i++) z[i] = s2s_rng_uniform(&r, -8, 8);
    memcpy(g, z, sizeof z);
    double m = -INFINITY, sum = 0;
    for (int i = 0; i < N; i++) m = z[i] > m ? z[i] : m;
    for (int i = 0; i < N; i++) sum += exp((double)z[i] - m);
    unsigned gold = 417;
    double want = log(sum) - ((double)z[gold] - m);
    cr_assert_leq(fabs(s2s_xent_row(g, N, gold, 0.0f) - want), 1e-5 * want);
    memcpy(g, z, sizeof z);
    float scale = 0.25f;
    double got = s2s_xent_row(g, N, gold, scale);
    cr_assert_leq(fabs(got - want), 1e-5 * want);
    for (int i = 0; i < N; i++) {
        double p = exp((double)z[i] - m) / sum;
        double d = scale * (p - (i == (int)gold));
        cr_assert_leq(fabs(g[i] - d), 1e-7 + 1e-5 * fabs(d), "%d: %g vs %g", i, g[i], d);
    }
}

/* Weights frozen for training: products of up to max_rows rows, forward
 * (A . B^T) and backward (A . B), give the BLAS's bits; after a write
 * (s2s_gemm_frozen_changed) the stale copy is not used until the threads
 * have repacked it, and then it serves the new values, bit for bit. */
Test(kernels, gemm_frozen_training_generations)
{
    const int n = 1024, k = 256, max_rows = 40;
    s2s_rng r;
    s2s_rng_seed(&r, 5);
    size_t nb = (size_t)n * k;
    float *b = malloc(nb * sizeof *b), *a = malloc((size_t)64 * n * sizeof *a);
    float *c1 = malloc((size_t)64 * n * sizeof *c1), *c2 = malloc((size_t)64 * n * sizeof *c2);
    for (size_t i = 0; i < nb; i++) b[i] = s2s_rng_uniform(&r, -0.1f, 0.1f);
    for (int i = 0; i < 64 * n; i++) a[i] = s2s_rng_uniform(&r, -2, 2);
    int blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    long served0 = s2s_gemm_frozen_served();
    cr_assert_eq(s2s_gemm_freeze_training(b, nb, max_rows), 0);
    for (int round = 0; round < 3; round++) {
        for (int trans = 0; trans <= 1; trans++) {
            /* forward: (m x k) . (n x k)^T; backward: (m x n) . (n x k) */
            int N = trans ? n : k, K = trans ? k : n, ldb = k; /* B: n x k */
            for (int m = 2; m <= 64; m += m < 8 ? 1 : 15) {
                memset(c1, 0, (size_t)64 * n * sizeof *c1);
                memset(c2, 0, (size_t)64 * n * sizeof *c2);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, trans ? CblasTrans : CblasNoTrans,
                            m, N, K, 1.0f, a, K, b, ldb, 0.0f, c1, N);
                s2s_gemm(0, trans, m, N, K, 1.0f, a, K, b, ldb, 0.0f, c2, N);
                cr_assert_arr_eq(c1, c2, (size_t)m * N * sizeof *c1,
                                 "round %d trans %d m %d", round, trans, m);
            }
            /* a build without the kernel (no AVX2: MARCH=x86-64-v2) has
             * the BLAS do all, which the loop above checked */
            if (s2s_gemm_frozen_copies() == 0) {
                s2s_gemm_thaw(b);
                s2s_blas_set_threads(blas);
                free(a); free(b); free(c1); free(c2);
                cr_skip_test("this build has no frozen kernel");
            }
            /* with a current copy, 32 rows take the kernel; 48 rows never */
            long s0 = s2s_gemm_frozen_served();
            s2s_gemm(0, trans, 32, N, K, 1.0f, a, K, b, ldb, 0.0f, c2, N);
            cr_assert_eq(s2s_gemm_frozen_served(), s0 + 1, "round %d trans %d", round, trans);
            s2s_gemm(0, trans, 48, N, K, 1.0f, a, K, b, ldb, 0.0f, c2, N);
            cr_assert_eq(s2s_gemm_frozen_served(), s0 + 1);
        }
        /* the optimiser writes: stale copies go unused ... */
        for (size_t i = 0; i < nb; i++) b[i] = 0.5f * b[i] + 0.01f * (float)(i % 5);
        s2s_gemm_frozen_changed(b);
        long s0 = s2s_gemm_frozen_served();
        s2s_gemm(0, 1, 32, n, k, 1.0f, a, k, b, k, 0.0f, c2, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 32, n, k, 1.0f, a, k, b, k,
                    0.0f, c1, n);
        cr_assert_arr_eq(c1, c2, (size_t)32 * n * sizeof *c1);
        cr_assert_eq(s2s_gemm_frozen_served(), s0, "a stale copy served a product");
        /* ... until two "threads" repack their halves */
        s2s_gemm_frozen_refresh(b, 1, 2);
        s2s_gemm_frozen_refresh(b, 0, 2);
        s2s_gemm_frozen_refreshed(b);
    }
    cr_assert_gt(s2s_gemm_frozen_served(), served0);
    s2s_gemm_thaw(b);
    cr_assert_eq(s2s_gemm_frozen_copies(), 0);
    s2s_blas_set_threads(blas);
    free(a); free(b); free(c1); free(c2);
}
