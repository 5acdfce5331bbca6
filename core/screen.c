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
 *
 * Batched greedy decoding (2 or more rows, against frozen weights) gets
 * its logits from core/frozen.c's kernel, whose every element is a known
 * chain of fused multiply-adds (s2s_gemm_chains): the screen computes the
 * candidates' logits by that chain, over the slice of the vocabulary the
 * caller asks for. There, W in 8 bits also saves arithmetic: one integer
 * instruction does 4 multiply-adds per lane where a float one does 1.
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
#define STEP 64 /* bytes of W per vector: 16 rows x 4 values of h */
#define HMAX 127 /* h rounded to -127..127, stored + HOFF as unsigned */
#define HOFF 128
#define HAVE_SCREEN 1
#define TILE_ROWS 6 /* rows of h x 4 vectors of W: 24 accumulators */
typedef __m512i ivec;
#define ILOAD(p) _mm512_loadu_si512((const void *)(p))
#define ISTORE(p, v) _mm512_storeu_si512((void *)(p), (v))
#define IZERO() _mm512_setzero_si512()
#define ISET1(x) _mm512_set1_epi32(x)
/* acc += the sums of 4 products u8(x) * s8(w), exact in 32 bits (in asm:
 * GCC 12 copies the accumulator around the intrinsic, and a tile of them
 * then spills to the stack) */
static inline __m512i IDOT(__m512i acc, __m512i x, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}
typedef __m512d dvec;
#define DL 8
#define DLOADI(p) _mm512_cvtepi32_pd(_mm256_loadu_si256((const void *)(p)))
#define DLOAD(p) _mm512_loadu_pd(p)
#define DSET1(x) _mm512_set1_pd(x)
#define DFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define DMUL(a, b) _mm512_mul_pd((a), (b))
#define DADD(a, b) _mm512_add_pd((a), (b))
#define DSUB(a, b) _mm512_sub_pd((a), (b))
#define DMAX(a, b) _mm512_max_pd((a), (b))
#define DHMAX(a) _mm512_reduce_max_pd(a)
#define DGE(a, b) ((unsigned)_mm512_cmp_pd_mask((a), (b), _CMP_GE_OQ))
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define STEP 32
#define HMAX 63 /* a pair of products 126 * 127 * 2 fits maddubs's int16 */
#define HOFF 63
#define HAVE_SCREEN 1
#define TILE_ROWS 3 /* 12 accumulators of 16 registers */
typedef __m256i ivec;
#define ILOAD(p) _mm256_loadu_si256((const void *)(p))
#define ISTORE(p, v) _mm256_storeu_si256((void *)(p), (v))
#define IZERO() _mm256_setzero_si256()
#define ISET1(x) _mm256_set1_epi32(x)
#define IDOT(acc, x, w) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((x), (w)), \
                                              _mm256_set1_epi16(1)))
typedef __m256d dvec;
#define DL 4
#define DLOADI(p) _mm256_cvtepi32_pd(_mm_loadu_si128((const void *)(p)))
#define DLOAD(p) _mm256_loadu_pd(p)
#define DSET1(x) _mm256_set1_pd(x)
#define DFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define DMUL(a, b) _mm256_mul_pd((a), (b))
#define DADD(a, b) _mm256_add_pd((a), (b))
#define DSUB(a, b) _mm256_sub_pd((a), (b))
#define DMAX(a, b) _mm256_max_pd((a), (b))
static inline double DHMAX(__m256d a)
{
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return fmax(_mm_cvtsd_f64(m), _mm_cvtsd_f64(_mm_unpackhi_pd(m, m)));
}
#define DGE(a, b) ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd((a), (b), _CMP_GE_OQ)))
#else
#define HAVE_SCREEN 0
#define STEP 64
#define HMAX 127
#define HOFF 128
#define TILE_ROWS 1
#define DL 1
#endif

#define QL (STEP / 4) /* rows of W per vector (a 32-bit lane each) */
#define BLK 64        /* rows of W candidates() rules out at once */
#define TILE_PANELS 4 /* vectors of W per tile */
#define QMAX 127 /* W rounded to -127..127 times its row's scale */
#define CLASSES 4

struct s2s_screen {
    int V, H, Hp, np;   /* np: panels of QL rows of W */
    const float *w, *bias;
    /* W / scale rounded (0 past H and past V), in panels: panel p holds
     * rows [p QL, p QL + QL) as Hp / 4 vectors, vector i holding h's
     * values 4i..4i+3 of each row (lane = row), so that one product of a
     * vector by 4 bytes of h repeated gives QL partial dot products */
    int8_t *qp;
    double *scale;      /* V */
    int32_t *qoff;      /* np QL: -HOFF times q summed over the row (0
                           past V), where the integer sums start */
    /* V: |approximate - BLAS logit| <= max|h| P + Q, and with the bound
     * folded in for candidates(): sc = scale / HMAX, nP = -P,
     * blo = bias - Q, bhi = bias + Q */
    double *P, *Q, *sc, *nP, *blo, *bhi;
    double *Pblk, *Qblk; /* the largest P and Q of each BLK rows of W */
    /* the rows of h in hand (cap of them) */
    int cap;
    uint8_t *hq;        /* cap x Hp: h / sh rounded, + HOFF */
    double *hinf;       /* cap: max|h| of each row */
    int32_t *dot;       /* (dot_cap) hq . q, a row per row of h */
    size_t dot_cap;
    int *cand;          /* V */
    /* per BLAS thread count seen (the last CLASSES): for each row v the
     * size of call (4, 2, 1) that gives it the full product's bits, and
     * whether every row has one */
    struct { int threads, usable; uint8_t *rows; } cls[CLASSES];
    int n_cls, next_cls; /* slots in use; the next to (re)use */
    uint8_t *rows;      /* the current thread count's */
    double *blk_lo;     /* (V / BLK + 2) candidates()'s scratch */
    double A_max;       /* the largest sum of |W| over a row */
    double b_max;       /* the largest |bias| */
    long answered, exact;
};

/* Room for n rows of h, and their dot products over `panels` panels. */
static int reserve(s2s_screen *s, int n, int panels)
{
    size_t dots = (size_t)n * panels * QL;
    if (n <= s->cap && dots <= s->dot_cap) return 1;
    if (n < s->cap) n = s->cap;
    if (dots < s->dot_cap) dots = s->dot_cap;
    free(s->hq); free(s->hinf); free(s->dot);
    s->hq = calloc((size_t)n, (size_t)s->Hp);
    s->hinf = malloc((size_t)n * sizeof *s->hinf);
    s->dot = malloc(dots * sizeof *s->dot);
    int ok = s->hq && s->hinf && s->dot;
    s->cap = ok ? n : 0;
    s->dot_cap = ok ? dots : 0;
    return ok;
}

#if HAVE_SCREEN
/* M rows of hq (Hp apart) x J panels from p of the integer products, into
 * dot (ld apart, panel p at column 0). */
static inline __attribute__((always_inline)) void
int_tile(const s2s_screen *s, int M, int J, const uint8_t *hq, int p,
         int32_t *dot, int ld)
{
    const int Hp = s->Hp;
    const int8_t *pan = s->qp + (size_t)p * Hp * QL;
    ivec acc[TILE_ROWS][TILE_PANELS];
    /* from -HOFF q summed: the sums come out as (h rounded) . q */
    for (int j = 0; j < J; j++) {
        ivec off = ILOAD(s->qoff + (size_t)(p + j) * QL);
        for (int r = 0; r < M; r++) acc[r][j] = off;
    }
    for (int k = 0; k < Hp; k += 4) {
        ivec w[TILE_PANELS];
        for (int j = 0; j < J; j++) w[j] = ILOAD(pan + (size_t)j * Hp * QL + (size_t)k * QL);
        for (int r = 0; r < M; r++) {
            int32_t four;
            memcpy(&four, hq + (size_t)r * Hp + k, sizeof four);
            ivec x = ISET1(four);
            for (int j = 0; j < J; j++) acc[r][j] = IDOT(acc[r][j], x, w[j]);
        }
    }
    for (int r = 0; r < M; r++)
        for (int j = 0; j < J; j++) ISTORE(dot + (size_t)r * ld + j * QL, acc[r][j]);
}

#define TILE_FN(M)                                                            \
    static void tile_##M(const s2s_screen *s, int J, const uint8_t *hq, int p, \
                         int32_t *dot, int ld)                                \
    {                                                                         \
        if (J == TILE_PANELS) int_tile(s, M, TILE_PANELS, hq, p, dot, ld);    \
        else int_tile(s, M, 1, hq, p, dot, ld);                               \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3)
#if TILE_ROWS > 3
TILE_FN(4) TILE_FN(5) TILE_FN(6)
#endif

/* s->dot for rows 0..n-1 of s->hq over panels [p0, p1): a few panels at a
 * time (they stay in L1) against every group of rows. */
static void int_dots(const s2s_screen *s, int n, int p0, int p1)
{
    int ld = (p1 - p0) * QL;
    for (int p = p0; p < p1;) {
        int J = p1 - p >= TILE_PANELS ? TILE_PANELS : 1;
        for (int r = 0; r < n; r += TILE_ROWS) {
            int M = n - r < TILE_ROWS ? n - r : TILE_ROWS;
            const uint8_t *hq = s->hq + (size_t)r * s->Hp;
            int32_t *d = s->dot + (size_t)r * ld + (size_t)(p - p0) * QL;
            switch (M) {
            case 1: tile_1(s, J, hq, p, d, ld); break;
            case 2: tile_2(s, J, hq, p, d, ld); break;
#if TILE_ROWS > 3
            case 3: tile_3(s, J, hq, p, d, ld); break;
            case 4: tile_4(s, J, hq, p, d, ld); break;
            case 5: tile_5(s, J, hq, p, d, ld); break;
            default: tile_6(s, J, hq, p, d, ld); break;
#else
            default: tile_3(s, J, hq, p, d, ld); break;
#endif
            }
        }
        p += J;
    }
}

/* Rounds each of the n rows of h (ldh apart) to 8 bits on its own grid. */
static void quantize(s2s_screen *s, int n, const float *h, int ldh)
{
    for (int r = 0; r < n; r++) {
        const float *x = h + (size_t)r * ldh;
        float hinf = 0;
        for (int k = 0; k < s->H; k++) hinf = fmaxf(hinf, fabsf(x[k]));
        double sh = (double)hinf / HMAX;
        uint8_t *q = s->hq + (size_t)r * s->Hp;
        for (int k = 0; k < s->H; k++) {
            double v = sh > 0 ? nearbyint(x[k] / sh) : 0;
            int hi = v > HMAX ? HMAX : v < -HMAX ? -HMAX : (int)v;
            q[k] = (uint8_t)(hi + HOFF);
        }
        s->hinf[r] = hinf;
    }
}

/* The rows of W in [v0, v1) whose logit for row r of h (quantized, its
 * dot products ld apart from panel p0 on) may be the largest among them:
 * those whose upper bound reaches the largest lower bound. Into s->cand. */
static int candidates(s2s_screen *s, int r, int p0, int ld, int v0, int v1)
{
    /* row v of W's product at dot[v - v00] */
    const int32_t *dot = s->dot + (size_t)r * ld;
    const int v00 = p0 * QL;
    double hinf = s->hinf[r];
    /* logit z = b + scale (max|h| / HMAX) dot, within e = max|h| P + Q of
     * the BLAS's: lo = blo + max|h| (sc dot - P), hi = bhi + max|h| (sc
     * dot + P). These few roundings in double are each within 2^-53 of
     * terms no larger than max|b| + 3 max|h| A_max: `slack` covers them,
     * whatever H (P and Q's own margins do only for larger H). */
    double slack = 0x1p-46 * (s->b_max + 4 * hinf * s->A_max);
    int nb = (v1 - 1) / BLK - v0 / BLK + 1;
    double *blk_lo = s->blk_lo, lower = -HUGE_VAL;
    dvec hv = DSET1(hinf);
    /* the largest lo of each block of BLK rows, and of all */
    for (int bi = 0; bi < nb; bi++) {
        int b = v0 / BLK + bi, a = b * BLK > v0 ? b * BLK : v0;
        int e = (b + 1) * BLK < v1 ? (b + 1) * BLK : v1, v = a;
        dvec lo = DSET1(-HUGE_VAL);
        for (; v + DL <= e; v += DL)
            lo = DMAX(lo, DFMA(hv, DFMA(DLOAD(s->sc + v), DLOADI(dot + (v - v00)), DLOAD(s->nP + v)),
                               DLOAD(s->blo + v)));
        double m = DHMAX(lo);
        for (; v < e; v++)
            m = fmax(m, s->blo[v] + hinf * (s->sc[v] * dot[v - v00] + s->nP[v]));
        blk_lo[bi] = m;
        lower = fmax(lower, m);
    }
    /* rows whose hi + slack reaches lower - slack; a block is looked at
     * only if its hi can: hi - lo = 2 (Q + max|h| P) <= 2 (Qblk + max|h|
     * Pblk), to within the slack */
    double want = lower - 2 * slack;
    int n = 0;
    dvec wv = DSET1(want);
    for (int bi = 0; bi < nb; bi++) {
        int b = v0 / BLK + bi;
        if (blk_lo[bi] + 2 * (s->Qblk[b] + hinf * s->Pblk[b]) + 2 * slack < want)
            continue;
        int a = b * BLK > v0 ? b * BLK : v0;
        int e = (b + 1) * BLK < v1 ? (b + 1) * BLK : v1, v = a;
        for (; v + DL <= e; v += DL) {
            dvec hi = DFMA(hv, DFMA(DLOAD(s->sc + v), DLOADI(dot + (v - v00)), DLOAD(s->P + v)),
                           DLOAD(s->bhi + v));
            for (unsigned m = DGE(hi, wv); m; m &= m - 1)
                s->cand[n++] = v + __builtin_ctz(m);
        }
        for (; v < e; v++)
            if (s->bhi[v] + hinf * (s->sc[v] * dot[v - v00] + s->P[v]) >= want)
                s->cand[n++] = v;
    }
    return n;
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
    free(s->qp); free(s->scale); free(s->qoff); free(s->P); free(s->Q);
    free(s->sc); free(s->nP); free(s->blo); free(s->bhi); free(s->Pblk);
    free(s->Qblk); free(s->blk_lo); free(s->hq); free(s->hinf); free(s->dot); free(s->cand);
    for (int i = 0; i < CLASSES; i++) free(s->cls[i].rows);
    free(s);
}

s2s_screen *s2s_screen_new(const float *w, const float *bias, int V, int H)
{
    if (!HAVE_SCREEN || V < 4 || H < 1) return NULL;
    s2s_screen *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    int Hp = (H + STEP - 1) / STEP * STEP, np = (V + QL - 1) / QL;
    *s = (s2s_screen){.V = V, .H = H, .Hp = Hp, .np = np, .w = w, .bias = bias};
    s->qp = calloc((size_t)np * QL, (size_t)Hp);
    s->scale = malloc((size_t)V * sizeof *s->scale);
    s->qoff = calloc((size_t)np * QL, sizeof *s->qoff);
    s->P = malloc((size_t)V * sizeof *s->P);
    s->Q = malloc((size_t)V * sizeof *s->Q);
    s->sc = malloc((size_t)V * sizeof *s->sc);
    s->nP = malloc((size_t)V * sizeof *s->nP);
    s->blo = malloc((size_t)V * sizeof *s->blo);
    s->bhi = malloc((size_t)V * sizeof *s->bhi);
    int nblk = V / BLK + 2;
    s->Pblk = calloc((size_t)nblk, sizeof *s->Pblk);
    s->Qblk = calloc((size_t)nblk, sizeof *s->Qblk);
    s->blk_lo = malloc((size_t)nblk * sizeof *s->blk_lo);
    s->cand = malloc((size_t)V * sizeof *s->cand);
    for (int i = 0; i < CLASSES; i++) s->cls[i].rows = calloc((size_t)V, 1);
    if (!s->qp || !s->scale || !s->qoff || !s->P || !s->Q || !s->sc ||
        !s->nP || !s->blo || !s->bhi || !s->Pblk || !s->Qblk || !s->blk_lo ||
        !s->cand || !s->cls[0].rows || !s->cls[1].rows || !s->cls[2].rows ||
        !s->cls[3].rows || !reserve(s, 1, np)) {
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
        int8_t *pan = s->qp + (size_t)(v / QL) * Hp * QL + (size_t)(v % QL) * 4;
        for (int k = 0; k < H; k++) {
            double r = sc > 0 ? nearbyint(row[k] / sc) : 0;
            int qi = r > QMAX ? QMAX : r < -QMAX ? -QMAX : (int)r;
            pan[(size_t)(k / 4) * STEP + k % 4] = (int8_t)qi;
            sum += qi;
            D += fabs(sc * qi - row[k]);
            Aq += fabs(sc * qi);
        }
        s->scale[v] = sc;
        s->qoff[v] = -HOFF * sum;
        /* with h~ = h + e (|e| <= sh/2 = max|h| / (2 HMAX)) and W~ = W + d:
         * h~.W~ - h.W = h.d + e.W~; the (1 + 1e-9) covers the rounding of
         * these sums in double */
        s->P[v] = (D + Aq / (2.0 * HMAX) + gamma * A) * (1 + 1e-9);
        /* gamma bounds relative error only while nothing underflows: each
         * of the H + 2 operations may also lose half a subnormal step */
        s->Q[v] = gamma * fabs(bias[v]) * (1 + 1e-9) + n * 0x1p-149;
        s->sc[v] = sc / HMAX;
        s->nP[v] = -s->P[v];
        s->blo[v] = bias[v] - s->Q[v];
        s->bhi[v] = bias[v] + s->Q[v];
        s->Pblk[v / BLK] = fmax(s->Pblk[v / BLK], s->P[v]);
        s->Qblk[v / BLK] = fmax(s->Qblk[v / BLK], s->Q[v]);
        if (A > s->A_max) s->A_max = A;
        if (fabs(bias[v]) > s->b_max) s->b_max = fabs(bias[v]);
    }
    return s;
bad:
    s2s_screen_free(s);
    return NULL;
}

int s2s_screen_rows_usable(const s2s_screen *s, int n, const float *h, int ldh)
{
    if (!HAVE_SCREEN || !s) return 0;
    for (int r = 0; r < n; r++) {
        float hinf = 0;
        for (int k = 0; k < s->H; k++) {
            float a = fabsf(h[(size_t)r * ldh + k]);
            if (!(a <= FLT_MAX)) return 0; /* NaN or inf */
            hinf = a > hinf ? a : hinf;
        }
        /* a product or a logit that may overflow: the float logits are
         * not what the bound speaks of */
        if ((double)hinf * s->A_max > FLT_MAX / 4 ||
            2.0 * hinf * s->A_max + s->b_max > FLT_MAX / 2)
            return 0;
    }
    return 1;
}

int s2s_screen_argmax(s2s_screen *s, const float *h, uint32_t *best)
{
#if HAVE_SCREEN
    if (!s2s_screen_rows_usable(s, 1, h, s->H)) return 0;
    if (!select_class(s, s2s_blas_get_threads()) || !reserve(s, 1, s->np)) return 0;
    quantize(s, 1, h, s->H);
    int_dots(s, 1, 0, s->np);
    int n = candidates(s, 0, 0, s->np * QL, 0, s->V), found = -1;
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

int s2s_screen_argmax_rows(s2s_screen *s, int n, const float *h, int ldh,
                           int v0, int v1, int kb, uint32_t *best, float *best_z)
{
#if HAVE_SCREEN
    int p0 = v0 / QL, p1 = (v1 + QL - 1) / QL;
    if (n < 1 || v0 < 0 || v1 > s->V || v0 >= v1 || kb < 1 || !reserve(s, n, p1 - p0))
        return 0;
    quantize(s, n, h, ldh);
    int_dots(s, n, p0, p1);
    /* the candidates' logits, 8 chains at a time (each alone would wait
     * on its own latency): rows in order, each's candidates in order */
    enum { LOT = 8 };
    int lot = 0, lot_r[LOT], lot_v[LOT];
    const float *lot_a[LOT], *lot_b[LOT];
    float lot_c[LOT], lot_z[LOT];
    for (int r = 0; r <= n; r++) {
        int c = r < n ? candidates(s, r, p0, (p1 - p0) * QL, v0, v1) : 0;
        if (r < n) best[r] = UINT32_MAX;
        s->exact += c;
        for (int j = 0; j <= c; j++) {
            if (lot == LOT || (r == n && j == c && lot > 0)) {
                s2s_gemm_chains(lot, lot_c, lot_a, lot_b, s->H, kb, lot_z);
                for (int i = 0; i < lot; i++) {
                    int rr = lot_r[i];
                    if (best[rr] == UINT32_MAX || lot_z[i] > best_z[rr]) {
                        best[rr] = (uint32_t)lot_v[i];
                        best_z[rr] = lot_z[i];
                    }
                }
                lot = 0;
            }
            if (j == c) break;
            int v = s->cand[j];
            lot_r[lot] = r;
            lot_v[lot] = v;
            lot_a[lot] = h + (size_t)r * ldh;
            lot_b[lot] = s->w + (size_t)v * s->H;
            lot_c[lot] = s->bias[v];
            lot++;
        }
    }
    for (int r = 0; r < n; r++)
        if (best[r] == UINT32_MAX) return 0; /* no candidate: cannot be */
    s->answered += n;
    return 1;
#else
    (void)s; (void)n; (void)h; (void)ldh; (void)v0; (void)v1; (void)kb;
    (void)best; (void)best_z;
    return 0;
#endif
}

void s2s_screen_counts(const s2s_screen *s, long *answered, long *exact)
{
    *answered = s ? s->answered : 0;
    *exact = s ? s->exact : 0;
}
