/* cells/gru.c — the GRU cell as a plugin, exactly PyTorch's nn.GRU:
 *
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
 *   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r*(W_hn h + b_hn))
 *   h' = (1-z)*n + z*h
 *
 * Parameters: [W_ih (3H x X) | W_hh (3H x H) | b_ih (3H) | b_hh (3H)], gate
 * order r, z, n. State row: h (H), S = 1. Cache row (K = 4H): r, z, n and
 * W_hn h + b_hn (backward needs it for dr); backward reuses the first 3H as
 * scratch for the gradient of W_hh h + b_hh.
 *
 * Built against cells/cell.h alone; products and activations go through
 * the host. Nothing here allocates.
 */

#define G 3
#define S 1

#include "standard.h"

/* ------------------------------------------------------------- shapes */

static size_t gru_cache_per_row(int X, int H)
{
    (void)X;
    return (size_t)(G + 1) * H;
}

/* ------------------------------------------------------------ forward */

static void gru_forward(const s2s_cell_host *host, const float *params,
                        int X, int H, int B, const float *xp,
                        const float *prev, float *next, float *cache)
{
    const int GH = G * H, K = (G + 1) * H;
    const float *w_hh = params + w_hh_off(X, H);
    const float *b_hh = params + b_hh_off(X, H);

    /* hp (B x 3H, stride K) = h . W_hh^T + b_hh */
    for (int r = 0; r < B; r++) {
        float *hp = cache + (size_t)r * K;
        for (int j = 0; j < GH; j++)
            hp[j] = b_hh[j];
    }
    host->gemm(0, 1, B, GH, H, 1.0f, prev, S * H, w_hh, H, 1.0f, cache, K);

    for (int r = 0; r < B; r++) {
        float *c = cache + (size_t)r * K;
        float *gr = c, *gn = c + 2 * H, *hpn = c + 3 * H;
        const float *gz = c + H;
        const float *xr = xp + (size_t)r * GH;
        const float *h0 = prev + (size_t)r * S * H;
        float *h1 = next + (size_t)r * S * H;
        for (int j = 0; j < H; j++)
            hpn[j] = gn[j];
        for (int j = 0; j < 2 * H; j++)
            gr[j] += xr[j]; /* r and z */
        host->sigmoid(gr, 2 * (size_t)H);
        for (int j = 0; j < H; j++)
            gn[j] = xr[2 * H + j] + gr[j] * hpn[j];
        host->tanh(gn, H);
        for (int j = 0; j < H; j++)
            h1[j] = (1.0f - gz[j]) * gn[j] + gz[j] * h0[j];
    }
}

/* ----------------------------------------------------------- backward */

/* One row. Reads r, z, n, W_hn h + b_hn from the cache row (4H), h and
 * dh' (H); writes dxp = [dr_pre dz_pre dn_pre] (3H), dh's direct part dh'*z
 * (H), and over the cache's first 3H dhp = [dr_pre dz_pre dn_pre*r], the
 * gradient of W_hh h + b_hh. restrict lets GCC vectorise without runtime
 * alias checks (too many pointers for them). */
static void gru_row_backward(int H, float *restrict c,
                             const float *restrict h0,
                             const float *restrict dh, float *restrict dx,
                             float *restrict dp)
{
    for (int j = 0; j < H; j++) {
        float rr = c[j], z = c[H + j], n = c[2 * H + j];
        float hpn = c[3 * H + j], d = dh[j];
        float dn = d * (1.0f - z) * (1.0f - n * n);
        float dz = d * (h0[j] - n) * z * (1.0f - z);
        float dr = dn * hpn * rr * (1.0f - rr);
        dx[j] = dr;
        dx[H + j] = dz;
        dx[2 * H + j] = dn;
        c[j] = dr;
        c[H + j] = dz;
        c[2 * H + j] = dn * rr;
        dp[j] = d * z;
    }
}

static void gru_backward(const s2s_cell_host *host, const float *params,
                         float *dparams, int X, int H, int B,
                         const float *xp, const float *prev,
                         const float *next, float *cache,
                         const float *dnext, float *dxp, float *dprev)
{
    (void)xp;
    (void)next;
    const int GH = G * H, K = (G + 1) * H;

    for (int r = 0; r < B; r++)
        gru_row_backward(H, cache + (size_t)r * K, prev + (size_t)r * S * H,
                         dnext + (size_t)r * S * H, dxp + (size_t)r * GH,
                         dprev + (size_t)r * S * H);
    /* dW_hh (3H x H) += dhp^T h;  db_hh += colsum(dhp);  dh += dhp . W_hh */
    host->gemm(1, 0, GH, H, B, 1.0f, cache, K, prev, S * H, 1.0f,
               dparams + w_hh_off(X, H), H);
    col_sums(dparams + b_hh_off(X, H), cache, B, GH, K);
    host->gemm(0, 0, B, H, GH, 1.0f, cache, K, params + w_hh_off(X, H), H,
               1.0f, dprev, S * H);
}

/* --------------------------------------------------------- descriptor */

static const s2s_cell_desc gru_desc = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_desc),
    .name = "gru",
    .state_per_unit = S,
    .proj_per_unit = G,
    .param_count = std_param_count,
    .cache_per_row = gru_cache_per_row,
    .init = std_init,
    .project = std_project,
    .forward = gru_forward,
    .backward = gru_backward,
    .project_backward = std_project_backward,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &gru_desc;
}
