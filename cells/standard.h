/* cells/standard.h — what the built-in cells share: PyTorch's parameter
 * layout [W_ih (G*H x X) | W_hh (G*H x H) | b_ih (G*H) | b_hh (G*H)], its
 * default initialisation, and the input projection of all time steps with
 * its backward pass. Include it after defining G (gates per unit); every
 * function is static, so each plugin stays one self-contained .so built
 * against cells/cell.h alone.
 */
#ifndef S2S_CELLS_STANDARD_H
#define S2S_CELLS_STANDARD_H

#include "cell.h"

#ifndef G
#error "define G (gates per hidden unit) before including standard.h"
#endif

/* ------------------------------------------------------------- shapes */

static size_t w_hh_off(int X, int H) { return (size_t)G * H * X; }
static size_t b_ih_off(int X, int H) { return (size_t)G * H * (X + H); }
static size_t b_hh_off(int X, int H) { return b_ih_off(X, H) + (size_t)G * H; }

static size_t std_param_count(int X, int H)
{
    return (size_t)G * H * (X + H) + 2 * (size_t)G * H;
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
static void std_init(const s2s_cell_host *host, void *rng, float *params,
                       int X, int H)
{
    float k = inv_sqrt(H);
    size_t n = std_param_count(X, H);
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

/* xp (N x G*H) = x (N x X, stride ldx) . W_ih^T + b_ih */
static void std_project(const s2s_cell_host *host, const float *params,
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

/* dW_ih (G*H x X) += dxp^T x;  db_ih += colsum(dxp);  dx += dxp . W_ih */
static void std_project_backward(const s2s_cell_host *host,
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

#endif
