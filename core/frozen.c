/* core/frozen.c — few-row products against frozen weights, for decoding.
 *
 * A decoder step of beam search multiplies a few rows (2 to 8: the
 * hypotheses of one sentence) by each weight matrix, C = A . B^T with B
 * (n x k) a weight matrix. OpenBLAS's GEMM first copies all of B into
 * packed panels, every call: for config S's output layer 7.8 MB per step,
 * to use each element of B a few times (a third of beam search's time at
 * batch 1). Once the caller declares the weights frozen
 * (s2s_gemm_freeze), the first product against a matrix keeps its
 * transposed copy B^T (k x n), and later products with 2..8 rows run a
 * register-blocked kernel over it: B is read once per call, in its
 * natural order, and never repacked. It runs on the calling thread: split
 * over threads of its own next to the BLAS's spinning pool, it measured
 * slower on 2 cores, not faster.
 *
 * The kernel computes each element as OpenBLAS's x86 FMA kernels do: a
 * chain of fused multiply-adds over k from zero, one per block of k the
 * BLAS uses, each block's sum added to C. Whether that is what the BLAS in
 * use does is not assumed: every copy is checked, at every row count and
 * for beta 0 and 1, to give bit for bit the BLAS's own result on the very
 * matrix, and a matrix whose check fails stays with the BLAS. So decoded
 * output never depends on which path ran.
 */
#include "core/kernels.h"

#include <cblas.h>
#include <math.h>
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
    const float *b;         /* the operand: n x k, row stride ldb */
    int n, k, ldb;
    float *bt;              /* k x n, B transposed; NULL: use the BLAS */
    int kb;                 /* k is summed in blocks of kb */
    struct copy *next;
} copy;

static struct {
    const float *lo, *hi;
    copy *copies;
} region[REGIONS];
static _Atomic int n_regions; /* read without the lock: a hint only */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------
 * The kernel: columns [v0, v1) of C (m x n) = [beta C +] A (m x k) . B^T,
 * from bt = B^T (k x n). */

#if HAVE_FEW
/* M rows x J vectors of columns at v, k summed in blocks of kb. */
static inline __attribute__((always_inline)) void
tile(int M, int J, const float *a, int lda, const float *bt, int n, int k,
     int kb, int zero_c, float *c, int ldc, int v)
{
    for (int k0 = 0; k0 < k; k0 += kb) {
        int k1 = k0 + kb < k ? k0 + kb : k;
        vec acc[FEW_MAX][4];
        for (int r = 0; r < M; r++)
            for (int j = 0; j < J; j++) acc[r][j] = VZERO();
        for (int kk = k0; kk < k1; kk++) {
            const float *w = bt + (size_t)kk * n + v;
            vec wv[4];
            for (int j = 0; j < J; j++) wv[j] = VLOAD(w + j * LANES);
            for (int r = 0; r < M; r++) {
                vec x = VSET1(a[(size_t)r * lda + kk]);
                for (int j = 0; j < J; j++) acc[r][j] = VFMA(x, wv[j], acc[r][j]);
            }
        }
        for (int r = 0; r < M; r++)
            for (int j = 0; j < J; j++) {
                float *cp = c + (size_t)r * ldc + v + j * LANES;
                vec base = zero_c && k0 == 0 ? VZERO() : VLOAD(cp);
                VSTORE(cp, VADD(base, acc[r][j]));
            }
    }
}

/* Rows fixed at M: wide tiles, then one-vector tiles, then single columns. */
#define TILES(M, J)                                                          \
    static void tiles_##M(const float *a, int lda, const float *bt, int n,   \
                          int k, int kb, int zero_c, float *c, int ldc,      \
                          int v0, int v1)                                    \
    {                                                                        \
        int v = v0;                                                          \
        for (; v + (J) * LANES <= v1; v += (J) * LANES)                      \
            tile(M, J, a, lda, bt, n, k, kb, zero_c, c, ldc, v);             \
        for (; v + LANES <= v1; v += LANES)                                  \
            tile(M, 1, a, lda, bt, n, k, kb, zero_c, c, ldc, v);             \
        for (; v < v1; v++)                                                  \
            for (int r = 0; r < (M); r++) {                                  \
                float *cp = c + (size_t)r * ldc + v;                         \
                for (int k0 = 0; k0 < k; k0 += kb) {                         \
                    int k1 = k0 + kb < k ? k0 + kb : k;                      \
                    float s = 0.0f;                                          \
                    for (int kk = k0; kk < k1; kk++)                         \
                        s = fmaf(a[(size_t)r * lda + kk],                    \
                                 bt[(size_t)kk * n + v], s);                 \
                    *cp = (zero_c && k0 == 0 ? 0.0f : *cp) + s;              \
                }                                                            \
            }                                                                \
    }

#if LANES == 16 /* 32 vector registers: up to 24 accumulators */
TILES(2, 4) TILES(3, 4) TILES(4, 4) TILES(5, 4) TILES(6, 4) TILES(7, 3) TILES(8, 3)
#else           /* 16: up to 12 */
TILES(2, 4) TILES(3, 3) TILES(4, 3) TILES(5, 2) TILES(6, 2) TILES(7, 1) TILES(8, 1)
#endif

static void few_cols(const copy *cp, int m, const float *a, int lda,
                     int zero_c, float *c, int ldc, int v0, int v1)
{
    const float *bt = cp->bt;
    int n = cp->n, k = cp->k, kb = cp->kb;
    switch (m) {
    case 2: tiles_2(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    case 3: tiles_3(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    case 4: tiles_4(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    case 5: tiles_5(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    case 6: tiles_6(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    case 7: tiles_7(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    default: tiles_8(a, lda, bt, n, k, kb, zero_c, c, ldc, v0, v1); break;
    }
}

/* Does the kernel with k blocks of kb give the BLAS's bits for this
 * matrix, at every row count and beta 0 and 1? */
static int matches_blas(copy *cp, int kb)
{
    int n = cp->n, k = cp->k, ok = 1;
    float *a = s2s_xmalloc((size_t)FEW_MAX * k * sizeof(float));
    float *c1 = s2s_xmalloc((size_t)FEW_MAX * n * sizeof(float));
    float *c2 = s2s_xmalloc((size_t)FEW_MAX * n * sizeof(float));
    uint32_t s = 12345u;
    for (size_t i = 0; i < (size_t)FEW_MAX * k; i++) {
        s = s * 1664525u + 1013904223u; /* values of either sign, many scales */
        a[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (float)(1 + (i % 7));
    }
    cp->kb = kb;
    int blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    for (int m = 2; m <= FEW_MAX && ok; m++)
        for (int beta = 0; beta <= 1 && ok; beta++) {
            for (size_t i = 0; i < (size_t)m * n; i++)
                c1[i] = c2[i] = (float)(i % 13) * 0.25f - 1.5f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f,
                        a, k, cp->b, cp->ldb, (float)beta, c1, n);
            few_cols(cp, m, a, k, !beta, c2, n, 0, n);
            ok = memcmp(c1, c2, (size_t)m * n * sizeof(float)) == 0;
        }
    s2s_blas_set_threads(blas);
    free(a); free(c1); free(c2);
    return ok;
}
#endif /* HAVE_FEW */

/* The copy of (b, n, k, ldb), made (and checked) on first use; NULL when b
 * is not frozen. Called with the lock held. */
static copy *find_copy(const float *b, int n, int k, int ldb)
{
    const float *end = b + (size_t)(n - 1) * ldb + k;
    int g = -1;
    for (int i = 0; i < REGIONS; i++)
        if (region[i].lo && b >= region[i].lo && end <= region[i].hi) g = i;
    if (g < 0) return NULL;
    for (copy *cp = region[g].copies; cp; cp = cp->next)
        if (cp->b == b && cp->n == n && cp->k == k && cp->ldb == ldb) return cp;
    copy *cp = s2s_xcalloc(1, sizeof *cp);
    *cp = (copy){.b = b, .n = n, .k = k, .ldb = ldb, .kb = k,
                 .next = region[g].copies};
    region[g].copies = cp;
#if HAVE_FEW
    cp->bt = s2s_xmalloc((size_t)n * k * sizeof(float));
    for (int v = 0; v < n; v++)
        for (int kk = 0; kk < k; kk++)
            cp->bt[(size_t)kk * n + v] = b[(size_t)v * ldb + kk];
    /* one block of k, or the halves OpenBLAS cuts a k up to twice its
     * block size into (x86 kernels: k = 256..384 in one piece) */
    int cand[3] = {k, (k / 2 + 15) / 16 * 16, 256};
    int found = 0;
    for (int i = 0; i < 3 && !found; i++)
        if (cand[i] > 0 && cand[i] <= k && (i == 0 || cand[i] != cand[0]))
            found = matches_blas(cp, cand[i]);
    if (!found) {
        free(cp->bt);
        cp->bt = NULL;
    }
#endif
    return cp;
}

int s2s_gemm_frozen(int m, int n, int k, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc)
{
#if HAVE_FEW
    if (m < 2 || m > FEW_MAX || k <= 0 || n <= 0 || n_regions == 0 ||
        (beta != 0.0f && beta != 1.0f))
        return 0;
    pthread_mutex_lock(&lock);
    const copy *cp = find_copy(b, n, k, ldb);
    pthread_mutex_unlock(&lock);
    if (!cp || !cp->bt) return 0;
    few_cols(cp, m, a, lda, beta == 0.0f, c, ldc, 0, cp->n);
    return 1;
#else
    (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb;
    (void)beta; (void)c; (void)ldc;
    return 0;
#endif
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

int s2s_gemm_freeze(const float *p, size_t n)
{
    pthread_mutex_lock(&lock);
    int done = 0;
    for (int i = 0; i < REGIONS && !done; i++)
        if (!region[i].lo) {
            region[i].lo = p;
            region[i].hi = p + n;
            region[i].copies = NULL;
            n_regions++;
            done = 1;
        }
    pthread_mutex_unlock(&lock);
    return done ? 0 : -1;
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
