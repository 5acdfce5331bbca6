/* cells/elman.c — the Elman (vanilla tanh) cell as a plugin, exactly
 * PyTorch's nn.RNN(nonlinearity='tanh'):
 *
 *   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
 *
 * Parameters: [W_ih (H x X) | W_hh (H x H) | b_ih (H) | b_hh (H)]. State
 * row: h (H), S = 1. No cache (K = 0): backward needs only h', which the
 * host hands back as `next`.
 *
 * Built against cells/cell.h alone; products and activations go through
 * the host. Nothing here allocates.
 */
#include "cell.h"

#define G 1
#define S 1

/* ------------------------------------------------------------- shapes */

static size_t w_hh_off(int X, int H) { return (size_t)G * H * X; }
static size_t b_ih_off(int X, int H) { return (size_t)G * H * (X + H); }
static size_t b_hh_off(int X, int H) { return b_ih_off(X, H) + (size_t)G * H; }

static size_t elman_param_count(int X, int H)
{
    return (size_t)G * H * (X + H) + 2 * (size_t)G * H;
}

static size_t elman_cache_per_row(int X, int H)
{
    (void)X;
    (void)H;
    return 0;
}

/* 1/sqrt(H) without libm: Newton's iteration on sqrt. */
static float inv_sqrt(int H)
{
    double a = H > 1 ? (double)H : 1.0, y = a;
    for (int k = 0; k < 64; k++)
        y = 0.5 * (y + a / y);
    return (float)(1.0 / y);
}

/* PyTorch's default: every parameter uniform(-1/sqrt(H), 1/sqrt(H)). */
static void elman_init(const s2s_cell_host *host, void *rng, float *params,
                       int X, int H)
{
    float k = inv_sqrt(H);
    size_t n = elman_param_count(X, H);
    for (size_t i = 0; i < n; i++)
        params[i] = host->uniform(rng, -k, k);
}

/* ------------------------------------------------------------- helpers */

/* db (n) += column sums of d (rows x n, row stride ld). */
static void col_sums(float *db, const float *d, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++) {
        const float *row = d + (size_t)r * ld;
        for (int j = 0; j < n; j++)
            db[j] += row[j];
    }
}

/* ------------------------------------------------------------ project */

/* xp (N x H) = x (N x X, stride ldx) . W_ih^T + b_ih */
static void elman_project(const s2s_cell_host *host, const float *params,
                          int X, int H, int N, const float *x, int ldx,
                          float *xp)
{
    const int GH = G * H;
    const float *b_ih = params + b_ih_off(X, H);
    for (int r = 0; r < N; r++) {
        float *row = xp + (size_t)r * GH;
        for (int j = 0; j < GH; j++)
            row[j] = b_ih[j];
    }
    host->gemm(0, 1, N, GH, X, 1.0f, x, ldx, params, X, 1.0f, xp, GH);
}

/* dW_ih (H x X) += dxp^T x;  db_ih += colsum(dxp);  dx += dxp . W_ih */
static void elman_project_backward(const s2s_cell_host *host,
                                   const float *params, float *dparams,
                                   int X, int H, int N, const float *x,
                                   int ldx, const float *dxp, float *dx,
                                   int lddx)
{
    const int GH = G * H;
    host->gemm(1, 0, GH, X, N, 1.0f, dxp, GH, x, ldx, 1.0f, dparams, X);
    col_sums(dparams + b_ih_off(X, H), dxp, N, GH, GH);
    if (dx)
        host->gemm(0, 0, N, X, GH, 1.0f, dxp, GH, params, X, 1.0f, dx, lddx);
}

/* ------------------------------------------------------------ forward */

static void elman_forward(const s2s_cell_host *host, const float *params,
                          int X, int H, int B, const float *xp,
                          const float *prev, float *next, float *cache)
{
    (void)cache;
    const float *w_hh = params + w_hh_off(X, H);
    const float *b_hh = params + b_hh_off(X, H);

    /* next (B x H) = tanh(xp + b_hh + h . W_hh^T) */
    for (int r = 0; r < B; r++) {
        float *h1 = next + (size_t)r * H;
        const float *xr = xp + (size_t)r * H;
        for (int j = 0; j < H; j++)
            h1[j] = xr[j] + b_hh[j];
    }
    host->gemm(0, 1, B, H, H, 1.0f, prev, H, w_hh, H, 1.0f, next, H);
    host->tanh(next, (size_t)B * H);
}

/* ----------------------------------------------------------- backward */

static void elman_backward(const s2s_cell_host *host, const float *params,
                           float *dparams, int X, int H, int B,
                           const float *xp, const float *prev,
                           const float *next, float *cache,
                           const float *dnext, float *dxp, float *dprev)
{
    (void)xp;
    (void)cache;
    size_t n = (size_t)B * H;
    /* dpre (B x H) = dnext * (1 - h'^2), straight into dxp */
    for (size_t i = 0; i < n; i++)
        dxp[i] = dnext[i] * (1.0f - next[i] * next[i]);
    /* dW_hh (H x H) += dpre^T h;  db_hh += colsum(dpre);  dh = dpre . W_hh */
    host->gemm(1, 0, H, H, B, 1.0f, dxp, H, prev, H, 1.0f,
               dparams + w_hh_off(X, H), H);
    col_sums(dparams + b_hh_off(X, H), dxp, B, H, H);
    host->gemm(0, 0, B, H, H, 1.0f, dxp, H, params + w_hh_off(X, H), H, 0.0f,
               dprev, H);
}

/* --------------------------------------------------------- descriptor */

static const s2s_cell_desc elman_desc = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_desc),
    .name = "elman",
    .state_per_unit = S,
    .proj_per_unit = G,
    .param_count = elman_param_count,
    .cache_per_row = elman_cache_per_row,
    .init = elman_init,
    .project = elman_project,
    .forward = elman_forward,
    .backward = elman_backward,
    .project_backward = elman_project_backward,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &elman_desc;
}
