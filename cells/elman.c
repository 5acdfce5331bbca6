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

#define G 1
#define S 1

#include "standard.h"

/* ------------------------------------------------------------- shapes */

static size_t elman_cache_per_row(int X, int H)
{
    (void)X;
    (void)H;
    return 0;
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
    if (!s2s_cell_host_sums_steps(host)) /* else the host, over all steps */
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
    .param_count = std_param_count,
    .cache_per_row = elman_cache_per_row,
    .init = std_init,
    .project = std_project,
    .forward = elman_forward,
    .backward = elman_backward,
    .project_backward = std_project_backward,
    .recurrent_weight_offset = w_hh_off,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &elman_desc;
}
