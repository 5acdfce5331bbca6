/* core/frozen.c — products against frozen weights, for decoding.
 *
 * Every decoder step multiplies its rows (1 to a few hundred) by each
 * weight matrix, C = A . B^T with B (n x k) a weight matrix. OpenBLAS's
 * GEMM first copies all of B into packed panels, at every call: for config
 * S's output layer 7.8 MB per step, to use each element of B a few times
 * (beam search's 5 rows at batch 1: a third of its time went to that
 * copy). Once the caller declares the weights frozen (s2s_gemm_freeze),
 * the first product against a matrix keeps a copy of B^T already in
 * panels (k x 64 columns each, contiguous), and every later product of 2
 * or more rows runs a register-blocked kernel over it: B is streamed once
 * per group of up to 8 rows, never repacked. It runs on the calling
 * thread, or, outside a parallel region, on s2s_gemm_frozen_threads
 * threads (beam search at batch 1 sets the BLAS to one thread and gives
 * the threads to this kernel: both pools spinning at once on 2 cores
 * measured slower, not faster).
 *
 * The kernel computes each element as OpenBLAS's x86 FMA kernels do: a
 * chain of fused multiply-adds over k from zero, one per block of k the
 * BLAS uses, each block's sum added to C. Whether that is what the BLAS in
 * use does is not assumed: every copy is checked, at row counts 2..8, 17
 * and 24 and for beta 0 and 1, to give bit for bit the BLAS's own result
 * on the very matrix, and a matrix whose check fails stays with the BLAS.
 * So decoded output never depends on which path ran.
 *
 * Training uses the same kernel for its few-row products (each thread's
 * share of the batch through the recurrent weights, once per time step,
 * forward C = A . W^T and backward C = A . W): weights that change once a
 * step, frozen in between. A range frozen for training
 * (s2s_gemm_freeze_training) has a generation: the trainer bumps it when
 * it writes the weights (s2s_gemm_frozen_changed), a copy of an older
 * generation is never used (the BLAS does the product), and at the start
 * of a step the trainer's threads repack, each its share of the panels,
 * the copies the last step used (s2s_gemm_frozen_refresh). Only products
 * of up to max_rows rows take the kernel: past that the BLAS's own
 * packing pays for itself.
 */
#include "core/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define FEW_MAX 8       /* rows a few-row product takes */
#define REGIONS 8       /* frozen ranges at once */

#if defined(__AVX512F__)
#include <immintrin.h>
#define LANES 16
typedef __m512 vec;
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define HAVE_FEW 1
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LANES 8
typedef __m256 vec;
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define HAVE_FEW 1
#else
#define HAVE_FEW 0
#endif

typedef struct copy {
    const float *b;         /* the operand: n x k (trans) or k x n, row stride ldb */
    int n, k, ldb, trans;
    float *bt;              /* k x n, op(B) transposed; NULL: use the BLAS */
    int kb;                 /* k is summed in blocks of kb (block_end) */
    int min_rows;           /* fewer rows: the BLAS (matches_blas) */
    long gen;               /* the region's generation it was copied at */
    _Atomic int used;       /* served a product since the last refresh */
    struct copy *next;
} copy;

static struct {
    const float *lo, *hi;
    copy *copies;
    int max_rows;           /* products of more rows go to the BLAS */
    _Atomic long gen;       /* bumped when the weights change (training) */
    long id;                /* which freeze this is (s2s_gemm_frozen_id) */
} region[REGIONS];
static long freezes;          /* freezes so far: the next id */
static _Atomic int n_regions; /* read without the lock: a hint only */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int few_threads = 1; /* s2s_gemm_frozen_threads */
static _Atomic long served;         /* s2s_gemm_frozen_served */

/* ------------------------------------------------------------------------
 * The kernel: columns [v0, v1) of C (m x n) = [beta C +] A (m x k) . B^T,
 * from bt = B^T (k x n). */

#if HAVE_FEW
/* The end of the block of k that starts at k0, as OpenBLAS's level-3
 * driver cuts k: blocks of q, except that a rest of more than q and less
 * than 2q is cut into two (the first rounded up to 16). q >= k: one block. */
static inline int block_end(int k0, int k, int q)
{
    int left = k - k0;
    if (left >= 2 * q) return k0 + q;
    if (left > q) {
        int half = (left / 2 + 15) / 16 * 16;
        return half < left ? k0 + half : k;
    }
    return k;
}

/* B^T is stored in panels of PW columns (the last padded with zeros):
 * panel p holds columns [p*PW, p*PW + PW) as k rows of PW floats, so a
 * tile streams through contiguous memory. */
#define PW (4 * LANES)
#define PREFETCH_K 16
/* vectors per tile at M rows: as many accumulators as the registers hold */
#define JW(M) (LANES == 16 ? ((M) <= 6 ? 4 : 2) : ((M) <= 2 ? 4 : (M) <= 5 ? 2 : 1))

/* M rows x J vectors of one panel (pan) from vector column joff; c points
 * at row 0's first column of the panel; k summed in blocks of kb. The
 * panel's rows a little further on are fetched ahead: the first group of
 * rows to read a panel finds it in L3 (a training step's weights do not
 * fit L2). */
static inline __attribute__((always_inline)) void
tile(int M, int J, const float *a, int lda, const float *pan, int joff,
     int k, int kb, int zero_c, float *c, int ldc)
{
    for (int k0 = 0, k1; k0 < k; k0 = k1) {
        k1 = block_end(k0, k, kb);
        vec acc[FEW_MAX][4];
        for (int r = 0; r < M; r++)
            for (int j = 0; j < J; j++) acc[r][j] = VZERO();
        for (int kk = k0; kk < k1; kk++) {
            const float *w = pan + (size_t)kk * PW + joff;
            vec wv[4];
            for (int j = 0; j < J; j++) wv[j] = VLOAD(w + j * LANES);
            for (int j = 0; j < J; j++)
                _mm_prefetch((const char *)(w + PREFETCH_K * PW + j * LANES), _MM_HINT_T0);
            for (int r = 0; r < M; r++) {
                vec x = VSET1(a[(size_t)r * lda + kk]);
                for (int j = 0; j < J; j++) acc[r][j] = VFMA(x, wv[j], acc[r][j]);
            }
        }
        for (int r = 0; r < M; r++)
            for (int j = 0; j < J; j++) {
                float *cp = c + (size_t)r * ldc + joff + j * LANES;
                vec base = zero_c && k0 == 0 ? VZERO() : VLOAD(cp);
                VSTORE(cp, VADD(base, acc[r][j]));
            }
    }
}

/* All PW columns of one panel at M rows. */
#define PANEL_FN(M)                                                          \
    static void panel_##M(const float *a, int lda, const float *pan, int k, \
                          int kb, int zero_c, float *c, int ldc)             \
    {                                                                        \
        for (int joff = 0; joff < PW; joff += JW(M) * LANES)                 \
            tile(M, JW(M), a, lda, pan, joff, k, kb, zero_c, c, ldc);        \
    }
PANEL_FN(2) PANEL_FN(3) PANEL_FN(4) PANEL_FN(5) PANEL_FN(6) PANEL_FN(7) PANEL_FN(8)

/* Panel p of a group of m rows (2..FEW_MAX); a partial last panel goes
 * through a scratch row block, so every element is the same chain. */
static void group_panel(const copy *cp, int m, const float *a, int lda,
                        int zero_c, float *c, int ldc, int p)
{
    const float *pan = cp->bt + (size_t)p * cp->k * PW;
    int v = p * PW, w = cp->n - v < PW ? cp->n - v : PW, k = cp->k, kb = cp->kb;
    float tmp[FEW_MAX * PW];
    float *cc = c + v;
    int ld = ldc;
    if (w < PW) {
        memset(tmp, 0, sizeof tmp);
        for (int r = 0; r < m && !zero_c; r++)
            memcpy(tmp + r * PW, c + (size_t)r * ldc + v, (size_t)w * sizeof(float));
        cc = tmp;
        ld = PW;
    }
    switch (m) {
    case 2: panel_2(a, lda, pan, k, kb, zero_c, cc, ld); break;
    case 3: panel_3(a, lda, pan, k, kb, zero_c, cc, ld); break;
    case 4: panel_4(a, lda, pan, k, kb, zero_c, cc, ld); break;
    case 5: panel_5(a, lda, pan, k, kb, zero_c, cc, ld); break;
    case 6: panel_6(a, lda, pan, k, kb, zero_c, cc, ld); break;
    case 7: panel_7(a, lda, pan, k, kb, zero_c, cc, ld); break;
    default: panel_8(a, lda, pan, k, kb, zero_c, cc, ld); break;
    }
    if (w < PW)
        for (int r = 0; r < m; r++)
            memcpy(c + (size_t)r * ldc + v, tmp + r * PW, (size_t)w * sizeof(float));
}

/* Panels [p0, p1) of C (m x n) [+]= A . op(B), m >= 2: panel by panel, the
 * rows in groups of at most 6 (never one: a group of one is not checked)
 * so that a panel (k x PW floats) stays in cache while every group reads
 * it. Each element is the same chain whatever the grouping. */
static void few_panels(const copy *cp, int m, const float *a, int lda,
                       int zero_c, float *c, int ldc, int p0, int p1)
{
    int G = m <= FEW_MAX ? m : 6;
    for (int p = p0; p < p1; p++)
        for (int r = 0, g; r < m; r += g) {
            int left = m - r;
            g = left <= FEW_MAX ? left : left == G + 1 ? 4 : G;
            group_panel(cp, g, a + (size_t)r * lda, lda, zero_c,
                        c + (size_t)r * ldc, ldc, p);
        }
}

/* The whole product; outside a parallel region and when big enough, its
 * panels split over few_threads threads (each element computed alike).
 * A fork and join costs microseconds when the threads run together; on a
 * machine busy with other work a thread may wait a whole time slice for
 * the other to be scheduled. So the region's overhead (its wall time past
 * the slowest thread's work) is measured, and when it passes 50 us plus a
 * quarter of the wall time the next 256 products run on the calling
 * thread alone. Products under 2M multiply-adds are not worth a fork. */
static _Atomic int few_serial; /* products left to run on one thread */

static void few_cols(const copy *cp, int m, const float *a, int lda,
                     int zero_c, float *c, int ldc)
{
    int np = (cp->n + PW - 1) / PW, nt = few_threads;
    if (nt > np) nt = np;
    if (nt <= 1 || omp_in_parallel() || few_serial > 0 ||
        (size_t)m * cp->n * cp->k < ((size_t)1 << 17)) {
        if (nt > 1 && few_serial > 0 && !omp_in_parallel()) few_serial--;
        few_panels(cp, m, a, lda, zero_c, c, ldc, 0, np);
        return;
    }
    double busy[64] = {0}, t0 = omp_get_wtime();
    if (nt > 64) nt = 64;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        double s = omp_get_wtime();
        few_panels(cp, m, a, lda, zero_c, c, ldc, (int)((long)np * t / T),
                   (int)((long)np * (t + 1) / T));
        busy[t] = omp_get_wtime() - s;
    }
    double wall = omp_get_wtime() - t0, most = 0;
    for (int t = 0; t < nt; t++) most = busy[t] > most ? busy[t] : most;
    if (wall - most > 50e-6 + wall / 4) few_serial = 256;
}

/* From how many rows on does the kernel with k blocks of kb give the
 * BLAS's bits for this matrix, checked at every row count up to FEW_MAX
 * and at larger ones (groups of rows, a training thread's share), beta 0
 * and 1? INT_MAX: not even at FEW_MAX rows. (OpenBLAS takes other paths
 * for products of very few rows against small matrices: those stay with
 * it.) */
#define CHECK_ROWS 64
static int matches_blas(copy *cp, int kb)
{
    static const int rows[] = {2, 3, 4, 5, 6, 7, 8, 17, 24, 32, CHECK_ROWS};
    int n = cp->n, k = cp->k, ok = 1, from = 2;
    float *a = s2s_xmalloc((size_t)CHECK_ROWS * k * sizeof(float));
    float *c1 = s2s_xmalloc((size_t)CHECK_ROWS * n * sizeof(float));
    float *c2 = s2s_xmalloc((size_t)CHECK_ROWS * n * sizeof(float));
    uint32_t s = 12345u;
    for (size_t i = 0; i < (size_t)CHECK_ROWS * k; i++) {
        s = s * 1664525u + 1013904223u; /* values of either sign, many scales */
        a[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (float)(1 + (i % 7));
    }
    cp->kb = kb;
    int blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    for (int i = (int)(sizeof rows / sizeof *rows) - 1; i >= 0 && ok; i--)
        for (int m = rows[i], beta = 0; beta <= 1 && ok; beta++) {
            for (size_t i = 0; i < (size_t)m * n; i++)
                c1[i] = c2[i] = (float)(i % 13) * 0.25f - 1.5f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans,
                        cp->trans ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                        a, k, cp->b, cp->ldb, (float)beta, c1, n);
            few_cols(cp, m, a, k, !beta, c2, n);
            ok = memcmp(c1, c2, (size_t)m * n * sizeof(float)) == 0;
            if (!ok) from = m < FEW_MAX ? m + 1 : INT_MAX;
        }
    s2s_blas_set_threads(blas);
    free(a); free(c1); free(c2);
    return from;
}
#endif /* HAVE_FEW */

#if HAVE_FEW
/* Panels [p0, p1) of cp's copy, from op(B) as it is now. */
static void pack_panels(copy *cp, int p0, int p1)
{
    int k = cp->k, ldb = cp->ldb;
#if defined(__AVX512F__)
    /* the offsets of 16 rows of B, for the gathers below (while they fit
     * the gather's 32-bit indices) */
    int gather = cp->trans && ldb <= INT_MAX / 16;
    const __m512i rows = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(gather ? ldb : 0));
#endif
    for (int p = p0; p < p1; p++) {
        float *pan = cp->bt + (size_t)p * k * PW;
        int v0 = p * PW, w = cp->n - v0 < PW ? cp->n - v0 : PW;
        if (cp->trans) /* B is n x k: column v of op(B) is row v of B;
                          transposed in 16 x 16 tiles, which stay in L1 */
            for (int k0 = 0; k0 < k; k0 += 16) {
                int k1 = k0 + 16 < k ? k0 + 16 : k, j = 0;
#if defined(__AVX512F__)
                /* 16 rows at once: each kk gathers one row of the panel */
                for (; gather && j + 16 <= w; j += 16) {
                    const float *b0 = cp->b + (size_t)(v0 + j) * ldb;
                    for (int kk = k0; kk < k1; kk++)
                        _mm512_storeu_ps(pan + (size_t)kk * PW + j,
                                         _mm512_i32gather_ps(rows, b0 + kk, 4));
                }
#endif
                for (; j < w; j++) {
                    const float *row = cp->b + (size_t)(v0 + j) * ldb;
                    for (int kk = k0; kk < k1; kk++) pan[(size_t)kk * PW + j] = row[kk];
                }
            }
        else           /* B is k x n: its rows, a panel's width at a time */
            for (int kk = 0; kk < k; kk++)
                memcpy(pan + (size_t)kk * PW, cp->b + (size_t)kk * ldb + v0,
                       (size_t)w * sizeof(float));
    }
}

/* The region holding (b, n, k, ldb, trans), or -1. */
static int region_of(const float *b, int n, int k, int ldb, int trans)
{
    const float *end = trans ? b + (size_t)(n - 1) * ldb + k : b + (size_t)(k - 1) * ldb + n;
    int g = -1;
    for (int i = 0; i < REGIONS; i++)
        if (region[i].lo && b >= region[i].lo && end <= region[i].hi) g = i;
    return g;
}

/* The copy of (b, n, k, ldb, trans) in region g, made (and checked) on
 * first use. Called with the lock held. */
static copy *find_copy(int g, const float *b, int n, int k, int ldb, int trans)
{
    for (copy *cp = region[g].copies; cp; cp = cp->next)
        if (cp->b == b && cp->n == n && cp->k == k && cp->ldb == ldb && cp->trans == trans)
            return cp;
    copy *cp = s2s_xcalloc(1, sizeof *cp);
    *cp = (copy){.b = b, .n = n, .k = k, .ldb = ldb, .trans = trans, .kb = k,
                 .gen = region[g].gen, .next = region[g].copies};
    region[g].copies = cp;
    int np = (n + PW - 1) / PW;
    cp->bt = s2s_xcalloc((size_t)np * k * PW, sizeof(float));
    pack_panels(cp, 0, np);
    /* one block of k, its two halves, or OpenBLAS's blocks of q for the
     * values of q its x86 kernels use (SkylakeX: 384) */
    int cand[] = {k, k - 1, 384, 256, 512, 320, 448, 192, 128};
    int best = INT_MAX, best_q = k;
    for (size_t i = 0; i < sizeof cand / sizeof *cand && best > 2; i++)
        if (cand[i] > 0 && (i == 0 || cand[i] < k)) { /* q >= k: one block again */
            int from = matches_blas(cp, cand[i]);
            if (from < best) {
                best = from;
                best_q = cand[i];
            }
        }
    cp->kb = best_q;
    cp->min_rows = best;
    if (best == INT_MAX) {
        free(cp->bt);
        cp->bt = NULL;
    }
    return cp;
}
#endif

/* The copy that does the product of m rows by (b, n, k, ldb, trans_b), or
 * NULL when the BLAS does it. */
static copy *serving(int m, int n, int k, const float *b, int ldb, int trans_b)
{
#if HAVE_FEW
    if (m < 2 || k <= 0 || n <= 0 || n_regions == 0) return NULL;
    /* a threaded BLAS beats the kernel on one thread (greedy decoding at
     * batch 1: the encoder's products) */
    if (few_threads == 1 && !omp_in_parallel() && s2s_blas_get_threads() > 1)
        return NULL;
    pthread_mutex_lock(&lock);
    int g = region_of(b, n, k, ldb, trans_b);
    copy *cp = g >= 0 && m <= region[g].max_rows ? find_copy(g, b, n, k, ldb, trans_b) : NULL;
    int serves = cp && cp->bt && m >= cp->min_rows;
    int current = serves && cp->gen == region[g].gen;
    if (serves) cp->used = 1; /* (stale: to be repacked for the next step) */
    pthread_mutex_unlock(&lock);
    return current ? cp : NULL;
#else
    (void)m; (void)n; (void)k; (void)b; (void)ldb; (void)trans_b;
    return NULL;
#endif
}

int s2s_gemm_frozen(int m, int n, int k, const float *a, int lda,
                    const float *b, int ldb, int trans_b, float beta, float *c,
                    int ldc)
{
#if HAVE_FEW
    if (beta != 0.0f && beta != 1.0f) return 0;
    copy *cp = serving(m, n, k, b, ldb, trans_b);
    if (!cp) return 0;
    few_cols(cp, m, a, lda, beta == 0.0f, c, ldc);
    served++;
    return 1;
#else
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb;
    (void)trans_b; (void)beta; (void)c; (void)ldc;
    return 0;
#endif
}

int s2s_gemm_frozen_chain(int m, int n, int k, const float *b, int ldb, int trans_b)
{
    copy *cp = trans_b ? serving(m, n, k, b, ldb, trans_b) : NULL;
    return cp ? cp->kb : 0;
}

void s2s_gemm_chains(int n, const float *c, const float *const *a,
                     const float *const *b, int k, int kb, float *out)
{
#if HAVE_FEW
    /* tile()'s operations on one lane, in its order; up to 8 chains side
     * by side */
    for (int i0 = 0; i0 < n; i0 += 8) {
        int m = n - i0 < 8 ? n - i0 : 8;
        float z[8];
        for (int i = 0; i < m; i++) z[i] = c[i0 + i];
        for (int k0 = 0, k1; k0 < k; k0 = k1) {
            k1 = block_end(k0, k, kb);
            float acc[8] = {0};
            for (int kk = k0; kk < k1; kk++)
                for (int i = 0; i < m; i++)
                    acc[i] = fmaf(a[i0 + i][kk], b[i0 + i][kk], acc[i]);
            for (int i = 0; i < m; i++) z[i] = z[i] + acc[i];
        }
        for (int i = 0; i < m; i++) out[i0 + i] = z[i];
    }
#else
    (void)a; (void)b; (void)k; (void)kb;
    for (int i = 0; i < n; i++) out[i] = c[i];
#endif
}

void s2s_gemm_frozen_threads(int n) { few_threads = n < 1 ? 1 : n; }

long s2s_gemm_frozen_served(void) { return served; }

int s2s_gemm_is_frozen(const float *p)
{
    int yes = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++)
        yes |= region[i].lo && p >= region[i].lo && p < region[i].hi;
    pthread_mutex_unlock(&lock);
    return yes;
}

long s2s_gemm_frozen_id(const float *p, size_t n)
{
    long id = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++)
        if (region[i].lo && p >= region[i].lo && p + n <= region[i].hi &&
            region[i].max_rows == INT_MAX)
            id = region[i].id;
    pthread_mutex_unlock(&lock);
    return id;
}

int s2s_gemm_frozen_copies(void)
{
    int n = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++)
        for (const copy *cp = region[i].copies; cp; cp = cp->next) n += cp->bt != NULL;
    pthread_mutex_unlock(&lock);
    return n;
}

static int freeze(const float *p, size_t n, int max_rows)
{
    /* S2S_FROZEN=0: every product by the BLAS (to compare, or to rule the
     * kernel out) */
    const char *env = getenv("S2S_FROZEN");
    if (env && strcmp(env, "0") == 0) return -1;
    pthread_mutex_lock(&lock);
    int done = 0;
    for (int i = 0; i < REGIONS && !done; i++)
        if (!region[i].lo) {
            region[i].lo = p;
            region[i].hi = p + n;
            region[i].copies = NULL;
            region[i].max_rows = max_rows;
            region[i].gen = 0;
            region[i].id = ++freezes;
            n_regions++;
            done = 1;
        }
    pthread_mutex_unlock(&lock);
    return done ? 0 : -1;
}

int s2s_gemm_freeze(const float *p, size_t n) { return freeze(p, n, INT_MAX); }

int s2s_gemm_freeze_training(const float *p, size_t n, int max_rows)
{
    return freeze(p, n, max_rows);
}

void s2s_gemm_frozen_changed(const float *p)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++)
        if (region[i].lo == p) region[i].gen++;
    pthread_mutex_unlock(&lock);
}

void s2s_gemm_frozen_refresh(const float *p, int part, int parts)
{
#if HAVE_FEW
    /* the copies are not added to or freed while a refresh runs: the
     * caller's threads do nothing else meanwhile */
    for (int i = 0; i < REGIONS; i++) {
        if (region[i].lo != p) continue;
        for (copy *cp = region[i].copies; cp; cp = cp->next) {
            if (!cp->bt || !cp->used || cp->gen == region[i].gen) continue;
            int np = (cp->n + PW - 1) / PW;
            pack_panels(cp, (int)((long)np * part / parts),
                        (int)((long)np * (part + 1) / parts));
        }
    }
#else
    (void)p; (void)part; (void)parts;
#endif
}

void s2s_gemm_frozen_refreshed(const float *p)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++) {
        if (region[i].lo != p) continue;
        for (copy *cp = region[i].copies; cp; cp = cp->next)
            if (cp->used) {
                cp->gen = region[i].gen;
                cp->used = 0;
            }
    }
    pthread_mutex_unlock(&lock);
}

void s2s_gemm_thaw(const float *p)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < REGIONS; i++)
        if (region[i].lo == p) {
            for (copy *cp = region[i].copies, *nx; cp; cp = nx) {
                nx = cp->next;
                free(cp->bt);
                free(cp);
            }
            region[i].lo = region[i].hi = NULL;
            region[i].copies = NULL;
            n_regions--;
            break;
        }
    pthread_mutex_unlock(&lock);
}
