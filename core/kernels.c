/* core/kernels.c — GEMM over CBLAS and the element-wise kernels.
 *
 * The activations are plain branch-free loops over our own exp (Cody-Waite
 * range reduction to 2^n * polynomial, after Cephes' expf) so GCC -O3
 * vectorises them without -ffast-math and the results stay IEEE: NaN in
 * gives NaN out, +-inf give the exact limits. Accuracy over [-20, 20]:
 * tanh and sigmoid within 3e-7 absolute of the double functions, exp within
 * a few ulp (tests/core_kernels.c measures both).
 *
 * Element-wise loops go parallel only when large and not already inside a
 * parallel region (the trainer calls them from its own threads).
 */
#include "core/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>

/* Below this, threading costs more than it saves. */
#define PAR_MIN 65536

static inline int go_parallel(size_t n)
{
    return n > PAR_MIN && !omp_in_parallel();
}

/* ---------------------------------------------------------------- GEMM */

void s2s_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta,
              float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (m == 1 && k > 0) {
        /* One row (greedy decoding at batch 1, the last rows of a step):
         * c^T = op(B)^T a^T as a GEMV, which reads B once, where GEMM
         * would first copy all of B into packed panels. */
        int incx = trans_a ? lda : 1;
        if (trans_b) /* B is n x k */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, b, ldb, a,
                        incx, beta, c, 1);
        else         /* B is k x n */
            cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, b, ldb, a,
                        incx, beta, c, 1);
        return;
    }
    /* a few rows against frozen weights (core/frozen.c): same bits */
    if (!trans_a && alpha == 1.0f &&
        s2s_gemm_frozen(m, n, k, a, lda, b, ldb, trans_b, beta, c, ldc))
        return;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
                b, ldb, beta, c, ldc);
}

void s2s_blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int s2s_blas_get_threads(void)
{
    return openblas_get_num_threads();
}

/* ----------------------------------------------------------------- exp */

static inline uint32_t f2u(float f)
{
    union { float f; uint32_t u; } v = { .f = f };
    return v.u;
}

static inline float u2f(uint32_t u)
{
    union { uint32_t u; float f; } v = { .u = u };
    return v.f;
}

/* exp(x) for every float x. Clamping to [-110, 89] keeps n in range;
 * outside it the true result is 0 or overflows anyway, and the two-step
 * scale below lets both happen by IEEE rounding (subnormals included).
 * The comparisons are false for NaN, which flows through to the result. */
static inline float exp_f(float x)
{
    const float log2e = 1.44269504088896341f;
    const float c1 = 0.693359375f;       /* ln 2, high part (exact * n) */
    const float c2 = -2.12194440e-4f;    /* ln 2, low part */
    const float magic = 12582912.0f;     /* 1.5 * 2^23: round to integer */

    x = x < -110.0f ? -110.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float t = x * log2e + magic;
    float n = t - magic;
    int32_t i = (int32_t)(f2u(t) - f2u(magic));

    float r = x - n * c1;
    r = r - n * c2;
    float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;

    /* 2^n as two normal powers of two: n reaches -159 and +128. */
    int32_t n1 = i >> 1, n2 = i - n1;
    float s1 = u2f((uint32_t)(n1 + 127) << 23);
    float s2 = u2f((uint32_t)(n2 + 127) << 23);
    return p * s1 * s2;
}

static inline float sigmoid_f(float x)
{
    return 1.0f / (1.0f + exp_f(-x));
}

/* Small |x|: Cephes' odd polynomial (1 - 2/(e^2x + 1) cancels there);
 * beyond: the exp form. Both are computed on |x| and one selected, so the
 * loop has no branch; the sign is put back last (tanh(-0) = -0). */
static inline float tanh_f(float x)
{
    float ax = fabsf(x);
    float e = exp_f(2.0f * ax);
    float big = 1.0f - 2.0f / (e + 1.0f);

    float z = ax * ax;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * ax + ax;
    return copysignf(ax < 0.625f ? small : big, x);
}

/* ---------------------------------------------------------- element-wise */

void s2s_sigmoid(float *x, size_t n)
{
    /* a parallel region, even of one thread, costs a runtime call: small
     * calls (the common case, inside the trainer's own threads) skip it */
    if (go_parallel(n)) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            x[i] = sigmoid_f(x[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = sigmoid_f(x[i]);
}

void s2s_tanh(float *x, size_t n)
{
    /* a parallel region, even of one thread, costs a runtime call: small
     * calls (the common case, inside the trainer's own threads) skip it */
    if (go_parallel(n)) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            x[i] = tanh_f(x[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = tanh_f(x[i]);
}

void s2s_exp(const float *in, float *out, size_t n)
{
    /* a parallel region, even of one thread, costs a runtime call: small
     * calls (the common case, inside the trainer's own threads) skip it */
    if (go_parallel(n)) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            out[i] = exp_f(in[i]);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = exp_f(in[i]);
}

void s2s_add(float *y, const float *x, size_t n)
{
    /* a parallel region, even of one thread, costs a runtime call: small
     * calls (the common case, inside the trainer's own threads) skip it */
    if (go_parallel(n)) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] += x[i];
        return;
    }
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* --------------------------------------------------------------- softmax */

/* Row reductions keep 16 independent lanes so the loops vectorise without
 * reassociation; the lanes are then combined in a fixed order. */
#define LANES 16

static float row_max(const float *x, int n)
{
    float lane[LANES];
    for (int k = 0; k < LANES; k++)
        lane[k] = -INFINITY;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            lane[k] = x[i + k] > lane[k] ? x[i + k] : lane[k];
    for (; i < n; i++)
        lane[0] = x[i] > lane[0] ? x[i] : lane[0];
    float m = lane[0];
    for (int k = 1; k < LANES; k++)
        m = lane[k] > m ? lane[k] : m;
    return m;
}

static float row_sum(const float *x, int n)
{
    float lane[LANES] = { 0 };
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            lane[k] += x[i + k];
    for (; i < n; i++)
        lane[0] += x[i];
    float s = 0.0f;
    for (int k = 0; k < LANES; k++)
        s += lane[k];
    return s;
}

/* sum of exp(x - m) over a row, without storing. */
static float row_sum_exp(const float *x, int n, float m)
{
    float lane[LANES] = { 0 };
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            lane[k] += exp_f(x[i + k] - m);
    for (; i < n; i++)
        lane[0] += exp_f(x[i] - m);
    float s = 0.0f;
    for (int k = 0; k < LANES; k++)
        s += lane[k];
    return s;
}

double s2s_xent_row(float *z, int n, unsigned gold, float scale)
{
    float m = row_max(z, n), zg = z[gold];
    for (int i = 0; i < n; i++)
        z[i] = exp_f(z[i] - m);
    float sum = row_sum(z, n);
    if (scale != 0.0f) {
        float k = scale / sum;
        for (int i = 0; i < n; i++)
            z[i] *= k;
        z[gold] -= scale;
    }
    return log((double)sum) - (double)(zg - m);
}

void s2s_logsumexp_row(const float *z, int n, float *scratch, float *max,
                       double *log_sum)
{
    /* the arithmetic of s2s_xent_row, so that z[v] - *max - *log_sum is
     * exactly -s2s_xent_row(z, n, v, 0) */
    float m = row_max(z, n);
    for (int i = 0; i < n; i++)
        scratch[i] = exp_f(z[i] - m);
    *max = m;
    *log_sum = log((double)row_sum(scratch, n));
}

/* A row whose maximum is -inf (all -inf) or +inf gives NaN, as PyTorch. */
void s2s_softmax_rows(float *x, int rows, int cols, int ld)
{
#pragma omp parallel for schedule(static) \
    if (go_parallel((size_t)rows * (size_t)cols))
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * ld;
        float m = row_max(row, cols);
        for (int i = 0; i < cols; i++)
            row[i] = exp_f(row[i] - m);
        float inv = 1.0f / row_sum(row, cols);
        for (int i = 0; i < cols; i++)
            row[i] *= inv;
    }
}

void s2s_log_softmax_rows(float *x, int rows, int cols, int ld)
{
#pragma omp parallel for schedule(static) \
    if (go_parallel((size_t)rows * (size_t)cols))
    for (int r = 0; r < rows; r++) {
        float *row = x + (size_t)r * ld;
        float m = row_max(row, cols);
        float ls = logf(row_sum_exp(row, cols, m));
        for (int i = 0; i < cols; i++)
            row[i] = (row[i] - m) - ls;
    }
}
