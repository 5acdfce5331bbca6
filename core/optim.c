/* core/optim.c — Adam and SGD over the flat buffers, and global-norm
 * gradient clipping.
 *
 * The updates are element-wise (parallel when large). The norm is a
 * reduction, so it is made deterministic by construction: the buffer is cut
 * into a fixed number of parts whatever the thread count, each part is
 * summed in double in a fixed order, and the parts are added in index
 * order. The result is the same for any number of threads.
 */
#include "core/optim.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#ifdef __AVX__
#include <immintrin.h>
#endif

#define PAR_MIN 65536
#define NORM_PARTS S2S_NORM_PARTS
#define NORM_LANES 8

static inline int go_parallel(size_t n)
{
    return n > PAR_MIN && !omp_in_parallel();
}

/* torch.optim.Adam (single-tensor path, no weight decay, no amsgrad):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   w -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * The bias corrections are computed in double, as PyTorch does in Python.
 *
 * GCC will not vectorise sqrtf without -fno-math-errno (and the optimize
 * attribute does not switch it off per function), so on AVX machines the
 * loop is written with intrinsics: the same IEEE operations in the same
 * order (no FMA), so both paths give bit-identical results. */
static inline float adam_one(float *m, float *v, float gi, float b1,
                             float b2, float eps, float step_size,
                             float bc2_sqrt)
{
    float mi = b1 * *m + (1.0f - b1) * gi;
    float vi = b2 * *v + (1.0f - b2) * (gi * gi);
    *m = mi;
    *v = vi;
    return step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
}

static void adam_range(float *restrict w, float *restrict m,
                       float *restrict v, const float *restrict g,
                       size_t lo, size_t hi, float b1, float b2, float eps,
                       float step_size, float bc2_sqrt)
{
    size_t i = lo;
#ifdef __AVX512F__
    {
        const __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2);
        const __m512 vc1 = _mm512_set1_ps(1.0f - b1);
        const __m512 vc2 = _mm512_set1_ps(1.0f - b2);
        const __m512 veps = _mm512_set1_ps(eps);
        const __m512 vss = _mm512_set1_ps(step_size);
        const __m512 vbc = _mm512_set1_ps(bc2_sqrt);
        for (; i + 16 <= hi; i += 16) {
            __m512 gi = _mm512_loadu_ps(g + i);
            __m512 mi = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_loadu_ps(m + i)),
                                      _mm512_mul_ps(vc1, gi));
            __m512 vi = _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_loadu_ps(v + i)),
                                      _mm512_mul_ps(vc2, _mm512_mul_ps(gi, gi)));
            _mm512_storeu_ps(m + i, mi);
            _mm512_storeu_ps(v + i, vi);
            __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), vbc),
                                       veps);
            __m512 upd = _mm512_div_ps(_mm512_mul_ps(vss, mi), den);
            _mm512_storeu_ps(w + i, _mm512_sub_ps(_mm512_loadu_ps(w + i), upd));
        }
    }
#endif
#ifdef __AVX__
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2);
    const __m256 vc1 = _mm256_set1_ps(1.0f - b1);
    const __m256 vc2 = _mm256_set1_ps(1.0f - b2);
    const __m256 veps = _mm256_set1_ps(eps);
    const __m256 vss = _mm256_set1_ps(step_size);
    const __m256 vbc = _mm256_set1_ps(bc2_sqrt);
    for (; i + 8 <= hi; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)),
                                  _mm256_mul_ps(vc1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbc),
                                   veps);
        __m256 upd = _mm256_div_ps(_mm256_mul_ps(vss, mi), den);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), upd));
    }
#endif
    for (; i < hi; i++)
        w[i] -= adam_one(m + i, v + i, g[i], b1, b2, eps, step_size,
                         bc2_sqrt);
}

void s2s_adam_prepare(const s2s_adam_cfg *cfg, long step, s2s_adam_k *k)
{
    const float b1 = cfg->beta1, b2 = cfg->beta2;
    double bc1 = 1.0 - pow((double)b1, (double)step);
    double bc2 = 1.0 - pow((double)b2, (double)step);
    k->b1 = b1;
    k->b2 = b2;
    k->eps = cfg->eps;
    k->step_size = (float)((double)cfg->lr / bc1);
    k->bc2_sqrt = (float)sqrt(bc2);
}

void s2s_adam_step(s2s_params *p, const s2s_adam_cfg *cfg, long step)
{
    s2s_adam_k c;
    s2s_adam_prepare(cfg, step, &c);
    size_t n = p->n;
    const int parts = go_parallel(n) ? NORM_PARTS : 1;

#pragma omp parallel for schedule(static) if (parts > 1)
    for (int k = 0; k < parts; k++)
        adam_range(p->w, p->m, p->v, p->g, n * k / parts,
                   n * (k + 1) / parts, c.b1, c.b2, c.eps, c.step_size,
                   c.bc2_sqrt);
}

/* Chunks of the gradient are scaled into a stack buffer first, so the
 * update reads them as s2s_clip_grad_norm would have left them. */
#define CHUNK 1024

static void scale_chunk(float *restrict out, const float *restrict g,
                        size_t n, float c)
{
    for (size_t i = 0; i < n; i++) out[i] = g[i] * c;
}

static void zero_tail(float *g, size_t lo, size_t hi, size_t zero_from)
{
    if (zero_from < lo) zero_from = lo;
    if (zero_from < hi) memset(g + zero_from, 0, (hi - zero_from) * sizeof *g);
}

void s2s_adam_range(s2s_params *p, const s2s_adam_k *k, size_t lo,
                    size_t hi, float gscale, size_t zero_from, int zero_g)
{
    if (gscale == 1.0f) {
        adam_range(p->w, p->m, p->v, p->g, lo, hi, k->b1, k->b2, k->eps,
                   k->step_size, k->bc2_sqrt);
    } else {
        float buf[CHUNK] __attribute__((aligned(64)));
        for (size_t a = lo; a < hi; a += CHUNK) {
            size_t b = hi - a < CHUNK ? hi : a + CHUNK;
            scale_chunk(buf, p->g + a, b - a, gscale);
            adam_range(p->w + a, p->m + a, p->v + a, buf, 0, b - a,
                       k->b1, k->b2, k->eps, k->step_size, k->bc2_sqrt);
        }
    }
    if (zero_g) zero_tail(p->g, lo, hi, zero_from);
}

void s2s_sgd_range(s2s_params *p, float lr, size_t lo, size_t hi,
                   float gscale, size_t zero_from, int zero_g)
{
    float *restrict w = p->w;
    const float *restrict g = p->g;
    if (gscale == 1.0f) {
        for (size_t i = lo; i < hi; i++) w[i] -= lr * g[i];
    } else {
        for (size_t i = lo; i < hi; i++) {
            float gi = g[i] * gscale;
            w[i] -= lr * gi;
        }
    }
    if (zero_g) zero_tail(p->g, lo, hi, zero_from);
}

void s2s_sgd_step(s2s_params *p, float lr)
{
    float *restrict w = p->w;
    const float *restrict g = p->g;
    size_t n = p->n;
#pragma omp parallel for simd schedule(static) if (go_parallel(n))
    for (size_t i = 0; i < n; i++)
        w[i] -= lr * g[i];
}

/* Sum of squares of g[lo, hi) in double, lanes combined in a fixed order. */
double s2s_grad_sumsq(const float *g, size_t lo, size_t hi)
{
    double lane[NORM_LANES] = { 0 };
    size_t i = lo;
    for (; i + NORM_LANES <= hi; i += NORM_LANES)
        for (int k = 0; k < NORM_LANES; k++)
            lane[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < hi; i++)
        lane[0] += (double)g[i] * (double)g[i];
    double s = 0.0;
    for (int k = 0; k < NORM_LANES; k++)
        s += lane[k];
    return s;
}

/* Adds g[a, b) into the lanes exactly as s2s_grad_sumsq over [lo, hi)
 * would: element i < mend (the end of the whole 8-blocks) into lane
 * (i - lo) % 8, the tail into lane 0, each lane in index order. Skipped
 * zeros change nothing: s + 0.0 == s for the non-negative sums. */
static void sumsq_span(double *lane, const float *g, size_t lo, size_t mend,
                       size_t a, size_t b)
{
    size_t i = a;
    for (; i < b && i < mend && ((i - lo) & 7); i++)
        lane[(i - lo) & 7] += (double)g[i] * (double)g[i];
    for (; i + NORM_LANES <= b && i + NORM_LANES <= mend; i += NORM_LANES)
        for (int k = 0; k < NORM_LANES; k++)
            lane[k] += (double)g[i + k] * (double)g[i + k];
    for (; i < b && i < mend; i++)
        lane[(i - lo) & 7] += (double)g[i] * (double)g[i];
    for (; i < b; i++)
        lane[0] += (double)g[i] * (double)g[i];
}

void s2s_grad_sumsq_acc(double *lane, const float *g, size_t lo, size_t hi,
                        size_t a, size_t b)
{
    sumsq_span(lane, g, lo, lo + (hi - lo) / NORM_LANES * NORM_LANES, a, b);
}

double s2s_grad_sumsq_lanes(const double *lane)
{
    double s = 0.0;
    for (int k = 0; k < NORM_LANES; k++)
        s += lane[k];
    return s;
}

double s2s_grad_sumsq_spans(const float *g, size_t lo, size_t hi,
                            const size_t *span, size_t nspan)
{
    double lane[NORM_LANES] = { 0 };
    for (size_t j = 0; j < nspan; j++)
        s2s_grad_sumsq_acc(lane, g, lo, hi, span[2 * j], span[2 * j + 1]);
    return s2s_grad_sumsq_lanes(lane);
}

double s2s_grad_norm(const float *g, size_t n)
{
    double part[NORM_PARTS];
#pragma omp parallel for schedule(static) if (go_parallel(n))
    for (int k = 0; k < NORM_PARTS; k++)
        part[k] = s2s_grad_sumsq(g, n * k / NORM_PARTS, n * (k + 1) / NORM_PARTS);
    return s2s_grad_norm_of_parts(part);
}

double s2s_grad_norm_of_parts(const double *part)
{
    double s = 0.0;
    for (int k = 0; k < NORM_PARTS; k++)
        s += part[k];
    return sqrt(s);
}

float s2s_clip_factor(double norm, double max_norm)
{
    if (!isfinite(norm)) return 1.0f;
    double coef = max_norm / (norm + 1e-6);
    return coef < 1.0 ? (float)coef : 1.0f;
}

/* Leaves g alone when the norm is not finite, so the caller can see it
 * (the returned norm) and skip the step. */
double s2s_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double norm = s2s_grad_norm(g, n);
    if (!isfinite(norm))
        return norm;
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
#pragma omp parallel for simd schedule(static) if (go_parallel(n))
        for (size_t i = 0; i < n; i++)
            g[i] *= c;
    }
    return norm;
}
