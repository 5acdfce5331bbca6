/* core/screen.c — greedy decoding's arg-max over the output layer, exact,
 * from a quarter of the output layer's bytes.
 *
 * At batch 1 a decoder step reads all of W to find one index (config S:
 * 7.8 MB, two thirds of the step). The screen keeps W in 8 bits with a
 * scale per row, multiplies h, also rounded to 8 bits, by it with integer
 * dot products (exact, so their order does not matter), and bounds how far
 * each such approximate logit can be from the float one the BLAS computes:
 * the rounding of W and of h, and the BLAS's own rounding (any order of
 * summation, fused or not: Higham's gamma_n). A row whose upper bound
 * reaches the largest lower bound may hold the arg-max; only those rows
 * are computed exactly, by the BLAS, and the first largest of them is the
 * answer: the index the full product gives, whatever the rounding.
 *
 * "Exactly" means with the full product's bits. OpenBLAS's GEMV computes
 * rows four at a time, and the last rows of each thread's share two or one
 * at a time, each in another order. Which row goes which way is not
 * assumed: at first use, and when the BLAS's thread count changes, each
 * row of the full product on random inputs is compared with calls of 4, 2
 * and 1 rows, and a row that matches none turns the screen off (every
 * logit computed).
 */
#include "core/screen.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#include <immintrin.h>
#define STEP 64 /* bytes of h per instruction; rows are padded to it */
#define HMAX 127 /* h rounded to -127..127, stored + HOFF as unsigned */
#define HOFF 128
#define HAVE_SCREEN 1
typedef __m512i ivec;
#define ILOAD(p) _mm512_loadu_si512((const void *)(p))
#define IZERO() _mm512_setzero_si512()
/* acc += the sums of 4 products u8(x) * s8(w), exact in 32 bits */
#define IDOT(acc, x, w) _mm512_dpbusd_epi32((acc), (x), (w))
#define ISUM(a) _mm512_reduce_add_epi32(a)
#elif defined(__AVX2__)
#include <immintrin.h>
#define STEP 32
#define HMAX 63 /* a pair of products 126 * 127 * 2 fits maddubs's int16 */
#define HOFF 63
#define HAVE_SCREEN 1
typedef __m256i ivec;
#define ILOAD(p) _mm256_loadu_si256((const void *)(p))
#define IZERO() _mm256_setzero_si256()
#define IDOT(acc, x, w) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((x), (w)), \
                                              _mm256_set1_epi16(1)))
static inline int ISUM(__m256i a)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a),
                              _mm256_extracti128_si256(a, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
#else
#define HAVE_SCREEN 0
#define STEP 64
#define HMAX 127
#define HOFF 128
#endif

#define QMAX 127 /* W rounded to -127..127 times its row's scale */
#define CLASSES 4

struct s2s_screen {
    int V, H, Hp;
    const float *w, *bias;
    int8_t *q;          /* V x Hp: W / scale rounded, 0 past H */
    double *scale;      /* V */
    int32_t *qsum;      /* V: q summed over the row */
    double *P, *Q;      /* V: |approximate - BLAS logit| <= max|h| P + Q */
    uint8_t *hq;        /* Hp: h / sh rounded, + HOFF */
    int32_t *dot;       /* V: hq . q */
    double *upper;      /* V */
    int *cand;          /* V */
    /* per BLAS thread count seen (the last CLASSES): for each row v the
     * size of call (4, 2, 1) that gives it the full product's bits, and
     * whether every row has one */
    struct { int threads, usable; uint8_t *rows; } cls[CLASSES];
    int n_cls, next_cls; /* slots in use; the next to (re)use */
    uint8_t *rows;      /* the current thread count's */
    double A_max;       /* the largest sum of |W| over a row */
    long answered, exact;
};

#if HAVE_SCREEN
/* s->dot over all rows, four rows per pass over h */
static void int_dots(const s2s_screen *s)
{
    const int Hp = s->Hp, V = s->V;
    int v = 0;
    for (; v + 4 <= V; v += 4) {
        const int8_t *r = s->q + (size_t)v * Hp;
        ivec a0 = IZERO(), a1 = IZERO(), a2 = IZERO(), a3 = IZERO();
        for (int k = 0; k < Hp; k += STEP) {
            ivec x = ILOAD(s->hq + k);
            a0 = IDOT(a0, x, ILOAD(r + k));
            a1 = IDOT(a1, x, ILOAD(r + Hp + k));
            a2 = IDOT(a2, x, ILOAD(r + 2 * (size_t)Hp + k));
            a3 = IDOT(a3, x, ILOAD(r + 3 * (size_t)Hp + k));
        }
        s->dot[v] = ISUM(a0);
        s->dot[v + 1] = ISUM(a1);
        s->dot[v + 2] = ISUM(a2);
        s->dot[v + 3] = ISUM(a3);
    }
    for (; v < V; v++) {
        const int8_t *r = s->q + (size_t)v * Hp;
        ivec a = IZERO();
        for (int k = 0; k < Hp; k += STEP) a = IDOT(a, ILOAD(s->hq + k), ILOAD(r + k));
        s->dot[v] = ISUM(a);
    }
}

/* Row v's logit by the BLAS, in a call of n rows (4, 2 or 1) aligned to
 * n, the last such call ending at row V; the call's block is cached in
 * blk[] while *at (n * V + first row) stays. */
static float blas_row(const s2s_screen *s, const float *h, int v, int n,
                      long *at, float blk[4])
{
    int v0 = v / n * n;
    if (v0 + n > s->V) v0 = s->V - n;
    long key = (long)n * s->V + v0;
    if (key != *at) {
        memcpy(blk, s->bias + v0, (size_t)n * sizeof(float));
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, s->H, 1.0f,
                    s->w + (size_t)v0 * s->H, s->H, h, 1, 1.0f, blk, 1);
        *at = key;
    }
    return blk[v - v0];
}

static int same_bits(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The call that gives each row the full product's bits, at the BLAS's
 * current thread count; 0 when some row matches none. */
static int classify(s2s_screen *s)
{
    static const int sizes[3] = {4, 2, 1};
    int V = s->V, H = s->H, usable = 1;
    float *h = malloc((size_t)H * sizeof *h), *full = malloc((size_t)V * sizeof *full);
    uint8_t *as = malloc((size_t)V); /* bit i: matches a call of sizes[i] */
    if (!h || !full || !as) usable = 0;
    if (usable) memset(as, 7, (size_t)V);
    uint32_t x = 0x9e3779b9u;
    for (int trial = 0; usable && trial < 3; trial++) {
        for (int k = 0; k < H; k++) {
            x = x * 1664525u + 1013904223u;
            h[k] = (float)((x >> 8) * 0x1p-23 - 1.0);
        }
        memcpy(full, s->bias, (size_t)V * sizeof *full);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, V, H, 1.0f, s->w, H, h, 1,
                    1.0f, full, 1);
        for (int i = 0; i < 3; i++) {
            long at = -1;
            float blk[4];
            for (int v = 0; v < V; v++)
                if (!same_bits(blas_row(s, h, v, sizes[i], &at, blk), full[v]))
                    as[v] &= (uint8_t)~(1u << i);
        }
    }
    for (int v = 0; usable && v < V; v++) {
        int i = 0;
        while (i < 3 && !(as[v] >> i & 1)) i++;
        usable = i < 3;
        s->rows[v] = (uint8_t)(usable ? sizes[i] : 0);
    }
    free(h);
    free(full);
    free(as);
    return usable;
}

/* Points s->rows at the call shapes for this BLAS thread count, found the
 * first time it is seen (slots reused round robin); 0 when some row has
 * none. */
static int select_class(s2s_screen *s, int threads)
{
    int c = 0;
    while (c < s->n_cls && s->cls[c].threads != threads) c++;
    if (c == s->n_cls) {
        c = s->next_cls++ % CLASSES;
        if (s->n_cls < CLASSES) s->n_cls++;
        s->rows = s->cls[c].rows;
        s->cls[c].threads = threads;
        s->cls[c].usable = classify(s);
    }
    s->rows = s->cls[c].rows;
    return s->cls[c].usable;
}
#endif

void s2s_screen_free(s2s_screen *s)
{
    if (!s) return;
    free(s->q); free(s->scale); free(s->qsum); free(s->P); free(s->Q);
    free(s->hq); free(s->dot); free(s->upper); free(s->cand);
    for (int i = 0; i < CLASSES; i++) free(s->cls[i].rows);
    free(s);
}

s2s_screen *s2s_screen_new(const float *w, const float *bias, int V, int H)
{
    if (!HAVE_SCREEN || V < 4 || H < 1) return NULL;
    s2s_screen *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    int Hp = (H + STEP - 1) / STEP * STEP;
    *s = (s2s_screen){.V = V, .H = H, .Hp = Hp, .w = w, .bias = bias};
    s->q = calloc((size_t)V, (size_t)Hp);
    s->scale = malloc((size_t)V * sizeof *s->scale);
    s->qsum = malloc((size_t)V * sizeof *s->qsum);
    s->P = malloc((size_t)V * sizeof *s->P);
    s->Q = malloc((size_t)V * sizeof *s->Q);
    s->hq = calloc((size_t)Hp, 1);
    s->dot = malloc((size_t)V * sizeof *s->dot);
    s->upper = malloc((size_t)V * sizeof *s->upper);
    s->cand = malloc((size_t)V * sizeof *s->cand);
    for (int i = 0; i < CLASSES; i++) s->cls[i].rows = calloc((size_t)V, 1);
    if (!s->q || !s->scale || !s->qsum || !s->P || !s->Q || !s->hq ||
        !s->dot || !s->upper || !s->cand || !s->cls[0].rows || !s->cls[1].rows ||
        !s->cls[2].rows || !s->cls[3].rows) {
        s2s_screen_free(s);
        return NULL;
    }
    /* the BLAS's rounding: |computed - exact| <= gamma * sum of |terms|
     * over the H products and the bias, in any order (one more for
     * safety) */
    double u = 0x1p-24, n = H + 2, gamma = n * u / (1 - n * u);
    for (int v = 0; v < V; v++) {
        const float *row = w + (size_t)v * H;
        double amax = 0, A = 0;
        for (int k = 0; k < H; k++) {
            if (!isfinite(row[k])) goto bad;
            A += fabs(row[k]);
            amax = fmax(amax, fabs(row[k]));
        }
        if (!isfinite(bias[v])) goto bad;
        double sc = amax / QMAX, D = 0, Aq = 0;
        int32_t sum = 0;
        for (int k = 0; k < H; k++) {
            double r = sc > 0 ? nearbyint(row[k] / sc) : 0;
            int qi = r > QMAX ? QMAX : r < -QMAX ? -QMAX : (int)r;
            s->q[(size_t)v * Hp + k] = (int8_t)qi;
            sum += qi;
            D += fabs(sc * qi - row[k]);
            Aq += fabs(sc * qi);
        }
        s->scale[v] = sc;
        s->qsum[v] = sum;
        /* with h~ = h + e (|e| <= sh/2 = max|h| / (2 HMAX)) and W~ = W + d:
         * h~.W~ - h.W = h.d + e.W~; the (1 + 1e-9) covers the rounding of
         * these sums in double */
        s->P[v] = (D + Aq / (2.0 * HMAX) + gamma * A) * (1 + 1e-9);
        /* gamma bounds relative error only while nothing underflows: each
         * of the H + 2 operations may also lose half a subnormal step */
        s->Q[v] = gamma * fabs(bias[v]) * (1 + 1e-9) + n * 0x1p-149;
        if (A > s->A_max) s->A_max = A;
    }
    return s;
bad:
    s2s_screen_free(s);
    return NULL;
}

int s2s_screen_argmax(s2s_screen *s, const float *h, uint32_t *best)
{
#if HAVE_SCREEN
    if (!select_class(s, s2s_blas_get_threads())) return 0;
    int V = s->V, H = s->H;
    float hinf = 0;
    for (int k = 0; k < H; k++) {
        float a = fabsf(h[k]);
        if (!(a <= FLT_MAX)) return 0; /* NaN or inf */
        hinf = a > hinf ? a : hinf;
    }
    /* a product that may overflow: the float logits are not what the
     * bound speaks of */
    if (hinf * s->A_max > FLT_MAX / 4) return 0;
    double sh = (double)hinf / HMAX;
    for (int k = 0; k < H; k++) {
        double r = sh > 0 ? nearbyint(h[k] / sh) : 0;
        int hi = r > HMAX ? HMAX : r < -HMAX ? -HMAX : (int)r;
        s->hq[k] = (uint8_t)(hi + HOFF);
    }
    int_dots(s);
    double lower = -HUGE_VAL, top = 0;
    for (int v = 0; v < V; v++) {
        /* sum of (h/sh rounded) * q: exact in 64 bits */
        long long i = (long long)s->dot[v] - (long long)HOFF * s->qsum[v];
        double z = s->bias[v] + s->scale[v] * sh * (double)i;
        double e = (hinf * s->P[v] + s->Q[v]) * (1 + 1e-12);
        if (z - e > lower) lower = z - e;
        s->upper[v] = z + e;
        top = fmax(top, fabs(z) + e);
    }
    if (top > FLT_MAX / 2) return 0; /* a logit may overflow */
    int n = 0;
    for (int v = 0; v < V; v++)
        if (s->upper[v] >= lower) s->cand[n++] = v;
    int found = -1;
    long at = -1;
    float blk[4], m = 0;
    for (int j = 0; j < n; j++) {
        int v = s->cand[j];
        float z = blas_row(s, h, v, s->rows[v], &at, blk);
        if (z != z) return 0;
        if (found < 0 || z > m) {
            m = z;
            found = v;
        }
    }
    s->answered++;
    s->exact += n;
    *best = (uint32_t)found;
    return 1;
#else
    (void)s; (void)h; (void)best;
    return 0;
#endif
}

void s2s_screen_counts(const s2s_screen *s, long *answered, long *exact)
{
    *answered = s ? s->answered : 0;
    *exact = s ? s->exact : 0;
}
