/* tests/cells/mgu.c — a third-party cell: the Minimal Gated Unit (Zhou et
 * al., 2016), written against cells/cell.h alone to show that a cell s2s
 * does not ship can be built and loaded by path.
 *
 *   f  = sigmoid(W_f x + b_if + U_f h + b_hf)
 *   n  = tanh(W_n x + b_in + U_n (f*h) + b_hn)
 *   h' = (1-f)*h + f*n
 *
 * Parameters: [W_ih (2H x X) | W_hh (2H x H) | b_ih (2H) | b_hh (2H)], rows
 * f then n. State row: h (H), S = 1. Cache row (K = 3H): f, n, f*h.
 */
#include "cells/cell.h"

#define G 2
#define S 1

static size_t w_hh_off(int X, int H) { return (size_t)G * H * X; }
static size_t b_ih_off(int X, int H) { return (size_t)G * H * (X + H); }
static size_t b_hh_off(int X, int H) { return b_ih_off(X, H) + (size_t)G * H; }

static size_t mgu_param_count(int X, int H)
{
    return (size_t)G * H * (X + H) + 2 * (size_t)G * H;
}

static size_t mgu_cache_per_row(int X, int H)
{
    (void)X;
    return 3 * (size_t)H;
}

static void mgu_init(const s2s_cell_host *host, void *rng, float *params,
                     int X, int H)
{
    size_t n = mgu_param_count(X, H);
    for (size_t i = 0; i < n; i++)
        params[i] = host->uniform(rng, -0.1f, 0.1f);
}

static void col_sums(float *db, const float *d, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            db[j] += d[(size_t)r * ld + j];
}

static void mgu_project(const s2s_cell_host *host, const float *params,
                        int X, int H, int N, const float *x, int ldx,
                        float *xp)
{
    const int GH = G * H;
    const float *b_ih = params + b_ih_off(X, H);
    for (int r = 0; r < N; r++)
        for (int j = 0; j < GH; j++)
            xp[(size_t)r * GH + j] = b_ih[j];
    host->gemm(0, 1, N, GH, X, 1.0f, x, ldx, params, X, 1.0f, xp, GH);
}

static void mgu_project_backward(const s2s_cell_host *host,
                                 const float *params, float *dparams, int X,
                                 int H, int N, const float *x, int ldx,
                                 const float *dxp, float *dx, int lddx)
{
    const int GH = G * H;
    host->gemm(1, 0, GH, X, N, 1.0f, dxp, GH, x, ldx, 1.0f, dparams, X);
    col_sums(dparams + b_ih_off(X, H), dxp, N, GH, GH);
    if (dx)
        host->gemm(0, 0, N, X, GH, 1.0f, dxp, GH, params, X, 1.0f, dx, lddx);
}

static void mgu_forward(const s2s_cell_host *host, const float *params,
                        int X, int H, int B, const float *xp,
                        const float *prev, float *next, float *cache)
{
    const int GH = G * H, K = 3 * H;
    const float *u_f = params + w_hh_off(X, H), *u_n = u_f + (size_t)H * H;
    const float *b_hf = params + b_hh_off(X, H), *b_hn = b_hf + H;

    /* f (stride K) = xp_f + b_hf + h . U_f^T, then sigmoid and f*h */
    for (int r = 0; r < B; r++)
        for (int j = 0; j < H; j++)
            cache[(size_t)r * K + j] = xp[(size_t)r * GH + j] + b_hf[j];
    host->gemm(0, 1, B, H, H, 1.0f, prev, H, u_f, H, 1.0f, cache, K);
    for (int r = 0; r < B; r++) {
        float *f = cache + (size_t)r * K, *n = f + H, *fh = n + H;
        const float *h0 = prev + (size_t)r * H;
        host->sigmoid(f, H);
        for (int j = 0; j < H; j++) {
            fh[j] = f[j] * h0[j];
            n[j] = xp[(size_t)r * GH + H + j] + b_hn[j];
        }
    }
    /* n (stride K) += (f*h) . U_n^T, then tanh and the blend */
    host->gemm(0, 1, B, H, H, 1.0f, cache + 2 * H, K, u_n, H, 1.0f,
               cache + H, K);
    for (int r = 0; r < B; r++) {
        float *f = cache + (size_t)r * K, *n = f + H;
        const float *h0 = prev + (size_t)r * H;
        float *h1 = next + (size_t)r * H;
        host->tanh(n, H);
        for (int j = 0; j < H; j++)
            h1[j] = (1.0f - f[j]) * h0[j] + f[j] * n[j];
    }
}

static void mgu_backward(const s2s_cell_host *host, const float *params,
                         float *dparams, int X, int H, int B,
                         const float *xp, const float *prev,
                         const float *next, float *cache,
                         const float *dnext, float *dxp, float *dprev)
{
    (void)xp;
    (void)next;
    const int GH = G * H, K = 3 * H;
    const float *u_f = params + w_hh_off(X, H), *u_n = u_f + (size_t)H * H;
    float *du_f = dparams + w_hh_off(X, H), *du_n = du_f + (size_t)H * H;
    float *db_hf = dparams + b_hh_off(X, H), *db_hn = db_hf + H;

    /* dxp_n = dn_pre; dxp_f holds dh*(n-h) (f's direct part) for now;
     * dprev starts with the direct path dh*(1-f). */
    for (int r = 0; r < B; r++) {
        const float *f = cache + (size_t)r * K, *n = f + H;
        const float *h0 = prev + (size_t)r * H, *dh = dnext + (size_t)r * H;
        float *df = dxp + (size_t)r * GH, *dn = df + H;
        float *dp = dprev + (size_t)r * H;
        for (int j = 0; j < H; j++) {
            dn[j] = dh[j] * f[j] * (1.0f - n[j] * n[j]);
            df[j] = dh[j] * (n[j] - h0[j]);
            dp[j] = dh[j] * (1.0f - f[j]);
        }
    }
    /* dU_n += dn_pre^T (f*h); db_hn; d(f*h) (into the cache's n) */
    host->gemm(1, 0, H, H, B, 1.0f, dxp + H, GH, cache + 2 * H, K, 1.0f,
               du_n, H);
    col_sums(db_hn, dxp + H, B, H, GH);
    host->gemm(0, 0, B, H, H, 1.0f, dxp + H, GH, u_n, H, 0.0f, cache + H, K);
    for (int r = 0; r < B; r++) {
        const float *f = cache + (size_t)r * K, *dfh = f + H;
        const float *h0 = prev + (size_t)r * H;
        float *df = dxp + (size_t)r * GH, *dp = dprev + (size_t)r * H;
        for (int j = 0; j < H; j++) {
            float d = df[j] + dfh[j] * h0[j];
            dp[j] += dfh[j] * f[j];
            df[j] = d * f[j] * (1.0f - f[j]);
        }
    }
    /* dU_f += df_pre^T h; db_hf; dh += df_pre . U_f */
    host->gemm(1, 0, H, H, B, 1.0f, dxp, GH, prev, H, 1.0f, du_f, H);
    col_sums(db_hf, dxp, B, H, GH);
    host->gemm(0, 0, B, H, H, 1.0f, dxp, GH, u_f, H, 1.0f, dprev, H);
}

static const s2s_cell_desc mgu_desc = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_desc),
    .name = "mgu",
    .state_per_unit = S,
    .proj_per_unit = G,
    .param_count = mgu_param_count,
    .cache_per_row = mgu_cache_per_row,
    .init = mgu_init,
    .project = mgu_project,
    .forward = mgu_forward,
    .backward = mgu_backward,
    .project_backward = mgu_project_backward,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &mgu_desc;
}
