/* tests/cells/irnn.c — a third-party cell with an initialisation of its
 * own: a tanh RNN whose recurrent matrix starts as 0.5 times the identity
 * (after Le et al., 2015, "IRNN"), so a test can tell whether the host
 * called the plugin's `init` (tests/seq2seq_model.c) or drew every
 * parameter itself.
 *
 *   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
 *
 * Parameters: [W_ih (H x X) | W_hh (H x H) | b_ih (H) | b_hh (H)].
 * init: W_ih uniform(-0.1, 0.1), W_hh = 0.5 I, both biases 0.
 * State row: h (H), S = 1, G = 1; no cache (backward reads `next`).
 *
 * tests/cells/irnn_flawed.c builds this file again with one flaw switched
 * on (IRNN_FLAWED), for `s2s check-cell` to catch.
 */
#include <signal.h>

#include "cells/cell.h"

#ifndef IRNN_NAME
#define IRNN_NAME "irnn"
#endif
#ifndef IRNN_FLAW
#define IRNN_FLAW(what) 0
#endif

static size_t irnn_param_count(int X, int H)
{
    return (size_t)H * X + (size_t)H * H + 2 * (size_t)H;
}

static size_t irnn_cache_per_row(int X, int H)
{
    (void)X, (void)H;
    return 0;
}

static void irnn_init(const s2s_cell_host *host, void *rng, float *params,
                      int X, int H)
{
    float *w_hh = params + (size_t)H * X, *b = w_hh + (size_t)H * H;
    for (size_t i = 0; i < (size_t)H * X; i++)
        params[i] = host->uniform(rng, -0.1f, 0.1f);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++)
            w_hh[(size_t)i * H + j] = i == j ? 0.5f : 0.0f;
    /* flaw "init": the last bias is left as it was */
    int nb = IRNN_FLAW("init") ? 2 * H - 1 : 2 * H;
    for (int i = 0; i < nb; i++)
        b[i] = 0.0f;
}

static void col_sums(float *db, const float *d, int rows, int n)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++)
            db[j] += d[(size_t)r * n + j];
}

/* xp (N x H) = x W_ih^T + b_ih */
static void irnn_project(const s2s_cell_host *host, const float *params,
                         int X, int H, int N, const float *x, int ldx,
                         float *xp)
{
    const float *b_ih = params + (size_t)H * X + (size_t)H * H;
    host->gemm(0, 1, N, H, X, 1.0f, x, ldx, params, X, 0.0f, xp, H);
    for (int r = 0; r < N; r++)
        for (int j = 0; j < H; j++)
            xp[(size_t)r * H + j] += b_ih[j];
}

static void irnn_forward(const s2s_cell_host *host, const float *params,
                         int X, int H, int B, const float *xp,
                         const float *prev, float *next, float *cache)
{
    (void)cache;
    const float *w_hh = params + (size_t)H * X;
    const float *b_hh = w_hh + (size_t)H * H + H;
    host->gemm(0, 1, B, H, H, 1.0f, prev, H, w_hh, H, 0.0f, next, H);
    for (int r = 0; r < B; r++)
        for (int j = 0; j < H; j++) {
            float *z = &next[(size_t)r * H + j];
            *z += xp[(size_t)r * H + j] + b_hh[j];
            /* flaw "batch": each row peeks at the next row's state */
            if (IRNN_FLAW("batch"))
                *z += 0.1f * prev[(size_t)((r + 1) % B) * H + j];
        }
    host->tanh(next, (size_t)B * H);
    /* flaw "overrun": one float written past the end of next */
    if (IRNN_FLAW("overrun"))
        next[(size_t)B * H] = 0.0f;
    /* flaw "crash": a fault, as a wild pointer would give */
    if (IRNN_FLAW("crash"))
        raise(SIGSEGV);
    /* flaw "nondet": a hidden counter changes every other call */
    if (IRNN_FLAW("nondet")) {
        static int calls;
        next[0] += (calls++ & 1) ? 1e-3f : 0.0f;
    }
}

static void irnn_backward(const s2s_cell_host *host, const float *params,
                          float *dparams, int X, int H, int B,
                          const float *xp, const float *prev,
                          const float *next, float *cache, const float *dnext,
                          float *dxp, float *dprev)
{
    (void)xp, (void)cache;
    const float *w_hh = params + (size_t)H * X;
    float *dw_hh = dparams + (size_t)H * X;
    float *db_hh = dw_hh + (size_t)H * H + H;
    /* dz = dnext (1 - h'^2), which is also dL/dxp */
    for (size_t i = 0; i < (size_t)B * H; i++)
        dxp[i] = dnext[i] * (1.0f - next[i] * next[i]);
    host->gemm(1, 0, H, H, B, 1.0f, dxp, H, prev, H, 1.0f, dw_hh, H);
    col_sums(db_hh, dxp, B, H);
    /* flaw "grad": W_hh where W_hh^T belongs (a transposed term) */
    host->gemm(0, IRNN_FLAW("grad") ? 1 : 0, B, H, H, 1.0f, dxp, H, w_hh, H,
               0.0f, dprev, H);
}

static void irnn_project_backward(const s2s_cell_host *host,
                                  const float *params, float *dparams, int X,
                                  int H, int N, const float *x, int ldx,
                                  const float *dxp, float *dx, int lddx)
{
    float *db_ih = dparams + (size_t)H * X + (size_t)H * H;
    host->gemm(1, 0, H, X, N, 1.0f, dxp, H, x, ldx, 1.0f, dparams, X);
    col_sums(db_ih, dxp, N, H);
    if (dx)
        host->gemm(0, 0, N, X, H, 1.0f, dxp, H, params, X, 1.0f, dx, lddx);
}

static const s2s_cell_desc irnn_desc = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_desc),
    .name = IRNN_NAME,
    .state_per_unit = 1,
    .proj_per_unit = 1,
    .param_count = irnn_param_count,
    .cache_per_row = irnn_cache_per_row,
    .init = irnn_init,
    .project = irnn_project,
    .forward = irnn_forward,
    .backward = irnn_backward,
    .project_backward = irnn_project_backward,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &irnn_desc;
}
