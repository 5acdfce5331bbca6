/* cells/lstm.c — the LSTM cell as a plugin, exactly PyTorch's nn.LSTM:
 *
 *   [i f g o] = W_ih x + b_ih + W_hh h + b_hh     (gate order i, f, g, o)
 *   i, f, o = sigmoid(.)   g = tanh(.)
 *   c' = f*c + i*g         h' = o*tanh(c')
 *
 * Parameters: [W_ih (4H x X) | W_hh (4H x H) | b_ih (4H) | b_hh (4H)].
 * State row: [h (H) | c (H)], S = 2. Cache row (K = 5H): the activated
 * gates [i f g o] then tanh(c').
 *
 * Built against cells/cell.h alone; products and activations go through
 * the host. Nothing here allocates.
 */

#define G 4
#define S 2

#include "standard.h"

/* ------------------------------------------------------------- shapes */

static size_t lstm_cache_per_row(int X, int H)
{
    (void)X;
    return (size_t)(G + 1) * H;
}

/* ------------------------------------------------------------ forward */

static void lstm_forward(const s2s_cell_host *host, const float *params,
                         int X, int H, int B, const float *xp,
                         const float *prev, float *next, float *cache)
{
    const int GH = G * H, SH = S * H, K = (G + 1) * H;
    const float *w_hh = params + w_hh_off(X, H);
    const float *b_hh = params + b_hh_off(X, H);

    /* gates (B x 4H, stride K) = xp + b_hh + h . W_hh^T */
    for (int r = 0; r < B; r++) {
        float *gt = cache + (size_t)r * K;
        const float *xr = xp + (size_t)r * GH;
        for (int j = 0; j < GH; j++)
            gt[j] = xr[j] + b_hh[j];
    }
    host->gemm(0, 1, B, GH, H, 1.0f, prev, SH, w_hh, H, 1.0f, cache, K);

    for (int r = 0; r < B; r++) {
        float *gi = cache + (size_t)r * K, *gf = gi + H, *gg = gf + H,
              *go = gg + H, *tc = go + H;
        const float *c0 = prev + (size_t)r * SH + H;
        float *h1 = next + (size_t)r * SH, *c1 = h1 + H;
        host->sigmoid(gi, 2 * (size_t)H); /* i and f */
        host->tanh(gg, H);
        host->sigmoid(go, H);
        for (int j = 0; j < H; j++) {
            float c = gf[j] * c0[j] + gi[j] * gg[j];
            c1[j] = c;
            tc[j] = c;
        }
        host->tanh(tc, H);
        for (int j = 0; j < H; j++)
            h1[j] = go[j] * tc[j];
    }
}

/* ----------------------------------------------------------- backward */

/* One row: dgates (4H) from the cached gates and tanh(c') (5H), c (H),
 * dh' and dc' (H each); also dc (H). restrict lets GCC vectorise without
 * runtime alias checks (too many pointers for them). */
static void lstm_row_backward(int H, const float *restrict cache,
                              const float *restrict c0,
                              const float *restrict dh,
                              const float *restrict dc1,
                              float *restrict dgates, float *restrict dc0)
{
    const float *gi = cache, *gf = gi + H, *gg = gf + H, *go = gg + H,
                *tc = go + H;
    float *di = dgates, *df = di + H, *dg = df + H, *dout = dg + H;
    for (int j = 0; j < H; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], t = tc[j];
        float dc = dc1[j] + dh[j] * o * (1.0f - t * t);
        di[j] = dc * g * i * (1.0f - i);
        df[j] = dc * c0[j] * f * (1.0f - f);
        dg[j] = dc * i * (1.0f - g * g);
        dout[j] = dh[j] * t * o * (1.0f - o);
        dc0[j] = dc * f;
    }
}

static void lstm_backward(const s2s_cell_host *host, const float *params,
                          float *dparams, int X, int H, int B,
                          const float *xp, const float *prev,
                          const float *next, float *cache,
                          const float *dnext, float *dxp, float *dprev)
{
    (void)xp;
    (void)next;
    const int GH = G * H, SH = S * H, K = (G + 1) * H;

    /* dgates (B x 4H) go straight into dxp: xp enters the gates linearly. */
    for (int r = 0; r < B; r++) {
        const float *dh = dnext + (size_t)r * SH;
        lstm_row_backward(H, cache + (size_t)r * K,
                          prev + (size_t)r * SH + H, dh, dh + H,
                          dxp + (size_t)r * GH, dprev + (size_t)r * SH + H);
    }
    /* dW_hh (4H x H) += dgates^T h;  db_hh += colsum(dgates) */
    if (!s2s_cell_host_sums_steps(host)) /* else the host, over all steps */
        host->gemm(1, 0, GH, H, B, 1.0f, dxp, GH, prev, SH, 1.0f,
                   dparams + w_hh_off(X, H), H);
    col_sums(dparams + b_hh_off(X, H), dxp, B, GH, GH);
    /* dh (B x H, stride 2H) = dgates . W_hh */
    host->gemm(0, 0, B, H, GH, 1.0f, dxp, GH, params + w_hh_off(X, H), H,
               0.0f, dprev, SH);
}

/* --------------------------------------------------------- descriptor */

static const s2s_cell_desc lstm_desc = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_desc),
    .name = "lstm",
    .state_per_unit = S,
    .proj_per_unit = G,
    .param_count = std_param_count,
    .cache_per_row = lstm_cache_per_row,
    .init = std_init,
    .project = std_project,
    .forward = lstm_forward,
    .backward = lstm_backward,
    .project_backward = std_project_backward,
    .recurrent_weight_offset = w_hh_off,
};

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &lstm_desc;
}
