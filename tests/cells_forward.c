/* tests/cells_forward.c — the cells' forward pass against an independent
 * reference written here in double straight from the equations (PyTorch's
 * nn.LSTM / nn.GRU / nn.RNN, and the MGU test plugin), plus parameter
 * counts against PyTorch's formulas, init ranges, batch invariance and
 * buffer discipline (no reads of output buffers, no writes past them).
 *
 * Legend: B batch rows, T time steps, X input, H hidden, S state floats
 * per unit, G projection width per unit, K cache floats per row.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/loader.h"
#include "core/rng.h"

static const char *const CELLS[] = { "elman", "lstm", "gru", "mgu" };
#define NCELLS 4

/* Built-ins by name along S2S_CELL_PATH; the third-party MGU by path. */
static const s2s_cell_desc *load(s2s_cell *c, const char *name)
{
    const char *b = getenv("S2S_BUILD");
    if (!b || !*b)
        cr_skip_test("S2S_BUILD is not set (run through make test-core)");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/cells", b);
    setenv("S2S_CELL_PATH", buf, 1);
    if (strcmp(name, "mgu") == 0)
        snprintf(buf, sizeof buf, "%s/tests/cells/mgu.so", b);
    else
        snprintf(buf, sizeof buf, "%s", name);
    s2s_err e;
    cr_assert_eq(s2s_cell_load(c, buf, &e), 0, "%s", e.msg);
    return c->desc;
}

static void fill(s2s_rng *r, float *a, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = s2s_rng_uniform(r, lo, hi);
}

/* ------------------------------------------------ reference in double */

typedef struct ref {
    const float *P;
    int X, H, G;
} ref;

static double sig(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Row `row` of W_ih . x + b_ih and of W_hh . h + b_hh. */
static double ih(const ref *m, int row, const float *x)
{
    const float *w = m->P + (size_t)row * m->X;
    double s = m->P[(size_t)m->G * m->H * (m->X + m->H) + row];
    for (int k = 0; k < m->X; k++)
        s += (double)w[k] * x[k];
    return s;
}

static double hh(const ref *m, int row, const double *h)
{
    const float *w = m->P + (size_t)m->G * m->H * m->X + (size_t)row * m->H;
    double s = m->P[(size_t)m->G * m->H * (m->X + m->H) + m->G * m->H + row];
    for (int k = 0; k < m->H; k++)
        s += (double)w[k] * h[k];
    return s;
}

/* One step of one row: prev and next are S*H doubles. */
static void ref_step(const char *cell, const ref *m, const float *x,
                     const double *prev, double *next)
{
    const int H = m->H;
    if (strcmp(cell, "elman") == 0) {
        for (int j = 0; j < H; j++)
            next[j] = tanh(ih(m, j, x) + hh(m, j, prev));
    } else if (strcmp(cell, "lstm") == 0) {
        for (int j = 0; j < H; j++) {
            double i = sig(ih(m, j, x) + hh(m, j, prev));
            double f = sig(ih(m, H + j, x) + hh(m, H + j, prev));
            double g = tanh(ih(m, 2 * H + j, x) + hh(m, 2 * H + j, prev));
            double o = sig(ih(m, 3 * H + j, x) + hh(m, 3 * H + j, prev));
            double c = f * prev[H + j] + i * g;
            next[H + j] = c;
            next[j] = o * tanh(c);
        }
    } else if (strcmp(cell, "gru") == 0) {
        for (int j = 0; j < H; j++) {
            double r = sig(ih(m, j, x) + hh(m, j, prev));
            double z = sig(ih(m, H + j, x) + hh(m, H + j, prev));
            double n = tanh(ih(m, 2 * H + j, x) + r * hh(m, 2 * H + j, prev));
            next[j] = (1 - z) * n + z * prev[j];
        }
    } else { /* mgu */
        double f[64], fh[64];
        for (int j = 0; j < H; j++) {
            f[j] = sig(ih(m, j, x) + hh(m, j, prev));
            fh[j] = f[j] * prev[j];
        }
        for (int j = 0; j < H; j++) {
            double n = tanh(ih(m, H + j, x) + hh(m, H + j, fh));
            next[j] = (1 - f[j]) * prev[j] + f[j] * n;
        }
    }
}

/* ------------------------------------------------------------- tests */

/* PyTorch: LSTM 4H(X+H)+8H, GRU 3H(X+H)+6H, RNN H(X+H)+2H. */
Test(cells, param_counts_match_pytorch)
{
    const int shapes[][2] = { { 1, 1 }, { 3, 4 }, { 7, 100 }, { 256, 256 },
                              { 256, 512 }, { 512, 256 } };
    for (int c = 0; c < NCELLS; c++) {
        s2s_cell cell;
        const s2s_cell_desc *d = load(&cell, CELLS[c]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            size_t X = (size_t)shapes[s][0], H = (size_t)shapes[s][1], want;
            if (strcmp(CELLS[c], "lstm") == 0)
                want = 4 * H * (X + H) + 8 * H;
            else if (strcmp(CELLS[c], "gru") == 0)
                want = 3 * H * (X + H) + 6 * H;
            else if (strcmp(CELLS[c], "elman") == 0)
                want = H * (X + H) + 2 * H;
            else
                want = 2 * H * (X + H) + 4 * H;
            cr_assert_eq(d->param_count((int)X, (int)H), want,
                         "%s X=%zu H=%zu", CELLS[c], X, H);
            cr_assert_eq(want, (size_t)d->proj_per_unit * H * (X + H) +
                                   2 * (size_t)d->proj_per_unit * H);
        }
        s2s_cell_unload(&cell);
    }
}

/* uniform(-1/sqrt(H), 1/sqrt(H)) for the built-ins (PyTorch's default),
 * deterministic in the host RNG. */
Test(cells, init_range_and_determinism)
{
    const s2s_cell_host *host = s2s_cell_host_services();
    for (int c = 0; c < NCELLS; c++) {
        s2s_cell cell;
        const s2s_cell_desc *d = load(&cell, CELLS[c]);
        int X = 10, H = 25;
        size_t n = d->param_count(X, H);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        s2s_rng r1, r2;
        s2s_rng_seed(&r1, 1);
        s2s_rng_seed(&r2, 1);
        d->init(host, &r1, a, X, H);
        d->init(host, &r2, b, X, H);
        cr_assert_arr_eq(a, b, n * sizeof *a);
        float k = strcmp(CELLS[c], "mgu") == 0 ? 0.1f : 0.2f; /* 1/sqrt(25) */
        float lo = 1, hi = -1;
        for (size_t i = 0; i < n; i++) {
            cr_assert(a[i] >= -k && a[i] < k, "%s[%zu] = %g", CELLS[c], i,
                      a[i]);
            lo = a[i] < lo ? a[i] : lo;
            hi = a[i] > hi ? a[i] : hi;
        }
        cr_assert(lo < -0.95f * k && hi > 0.95f * k, "%s spans the range",
                  CELLS[c]);
        free(a);
        free(b);
        s2s_cell_unload(&cell);
    }
}

/* X=3, H=4, B=2 over T=3 steps: project all rows, then forward step by
 * step; every state against the double reference. x rows have a stride
 * of X+2 with NaN padding, and the output buffers start as NaN, so a cell
 * that reads either fails. */
static void forward_case(const char *name)
{
    enum { X = 3, H = 4, B = 2, T = 3, LDX = X + 2 };
    s2s_cell cell;
    const s2s_cell_desc *d = load(&cell, name);
    const s2s_cell_host *host = s2s_cell_host_services();
    const int S = d->state_per_unit, G = d->proj_per_unit;
    const size_t K = d->cache_per_row(X, H), NP = d->param_count(X, H);
    s2s_rng r;
    s2s_rng_seed(&r, 2024);

    float *P = malloc(NP * sizeof *P);
    fill(&r, P, NP, -0.5f, 0.5f);
    float x[T * B * LDX];
    for (int i = 0; i < T * B * LDX; i++)
        x[i] = (i % LDX) < X ? s2s_rng_uniform(&r, -1, 1) : NAN;
    float *xp = malloc((size_t)T * B * G * H * sizeof *xp);
    float *st = malloc((size_t)(T + 1) * B * S * H * sizeof *st);
    float *cache = malloc((K ? K : 1) * B * sizeof *cache);
    for (size_t i = 0; i < (size_t)T * B * G * H; i++)
        xp[i] = NAN;
    for (size_t i = 0; i < (size_t)(T + 1) * B * S * H; i++)
        st[i] = NAN;
    fill(&r, st, (size_t)B * S * H, -0.8f, 0.8f);

    d->project(host, P, X, H, T * B, x, LDX, xp);

    ref m = { P, X, H, G };
    double want[B][2 * H], tmp[2 * H];
    for (int b = 0; b < B; b++)
        for (int j = 0; j < S * H; j++)
            want[b][j] = st[b * S * H + j];
    for (int t = 0; t < T; t++) {
        for (size_t i = 0; i < K * B; i++)
            cache[i] = NAN;
        float *prev = st + (size_t)t * B * S * H, *next = prev + B * S * H;
        d->forward(host, P, X, H, B, xp + (size_t)t * B * G * H, prev, next,
                   cache);
        for (int b = 0; b < B; b++) {
            ref_step(name, &m, x + (size_t)(t * B + b) * LDX, want[b], tmp);
            memcpy(want[b], tmp, sizeof tmp);
            for (int j = 0; j < S * H; j++) {
                float got = next[b * S * H + j];
                cr_assert_leq(fabs(got - want[b][j]), 2e-6,
                              "%s t=%d row %d unit %d: %.8f vs %.8f", name, t,
                              b, j, got, want[b][j]);
            }
        }
    }
    free(P);
    free(xp);
    free(st);
    free(cache);
    s2s_cell_unload(&cell);
}

Test(cells, forward_elman) { forward_case("elman"); }
Test(cells, forward_lstm) { forward_case("lstm"); }
Test(cells, forward_gru) { forward_case("gru"); }
Test(cells, forward_mgu) { forward_case("mgu"); }

/* A row alone gives what it gives inside a batch of 5 (forward state,
 * input-projection and previous-state gradients), within 1e-6. */
static void batch_case(const char *name)
{
    enum { X = 24, H = 40, B = 5, ROW = 2 };
    s2s_cell cell;
    const s2s_cell_desc *d = load(&cell, name);
    const s2s_cell_host *host = s2s_cell_host_services();
    const int S = d->state_per_unit, G = d->proj_per_unit;
    const size_t K = d->cache_per_row(X, H), NP = d->param_count(X, H);
    const int GH = G * H, SH = S * H;
    s2s_rng r;
    s2s_rng_seed(&r, 77);
    float *P = malloc(NP * sizeof *P);
    fill(&r, P, NP, -0.3f, 0.3f);
    float *x = malloc(B * X * sizeof *x), *prev = malloc(B * SH * sizeof *prev);
    float *dnext = malloc(B * SH * sizeof *dnext);
    fill(&r, x, B * X, -1, 1);
    fill(&r, prev, B * SH, -1, 1);
    fill(&r, dnext, B * SH, -1, 1);

    float *xp[2], *next[2], *cache[2], *dxp[2], *dprev[2], *dP[2];
    const int rows[2] = { B, 1 };
    for (int k = 0; k < 2; k++) {
        int n = rows[k];
        const float *xk = k ? x + ROW * X : x, *pk = k ? prev + ROW * SH : prev;
        const float *dk = k ? dnext + ROW * SH : dnext;
        xp[k] = malloc((size_t)n * GH * sizeof(float));
        next[k] = malloc((size_t)n * SH * sizeof(float));
        cache[k] = malloc((K ? K : 1) * n * sizeof(float));
        dxp[k] = malloc((size_t)n * GH * sizeof(float));
        dprev[k] = malloc((size_t)n * SH * sizeof(float));
        dP[k] = calloc(NP, sizeof(float));
        d->project(host, P, X, H, n, xk, X, xp[k]);
        d->forward(host, P, X, H, n, xp[k], pk, next[k], cache[k]);
        d->backward(host, P, dP[k], X, H, n, xp[k], pk, next[k], cache[k], dk,
                    dxp[k], dprev[k]);
    }
    for (int j = 0; j < SH; j++) {
        cr_assert_leq(fabs(next[0][ROW * SH + j] - next[1][j]), 1e-6,
                      "%s next %d", name, j);
        cr_assert_leq(fabs(dprev[0][ROW * SH + j] - dprev[1][j]), 1e-6,
                      "%s dprev %d", name, j);
    }
    for (int j = 0; j < GH; j++) {
        cr_assert_leq(fabs(xp[0][ROW * GH + j] - xp[1][j]), 1e-6);
        cr_assert_leq(fabs(dxp[0][ROW * GH + j] - dxp[1][j]), 1e-6,
                      "%s dxp %d", name, j);
    }
    for (int k = 0; k < 2; k++) {
        free(xp[k]);
        free(next[k]);
        free(cache[k]);
        free(dxp[k]);
        free(dprev[k]);
        free(dP[k]);
    }
    free(P);
    free(x);
    free(prev);
    free(dnext);
    s2s_cell_unload(&cell);
}

Test(cells, batch_invariance_elman) { batch_case("elman"); }
Test(cells, batch_invariance_lstm) { batch_case("lstm"); }
Test(cells, batch_invariance_gru) { batch_case("gru"); }
Test(cells, batch_invariance_mgu) { batch_case("mgu"); }

/* No step writes outside its buffers: every buffer is followed by guard
 * floats that must survive project, forward, backward, project_backward. */
Test(cells, writes_stay_in_bounds)
{
    enum { X = 5, H = 6, B = 3, GUARD = 64 };
    const float SENT = -12345.0f;
    const s2s_cell_host *host = s2s_cell_host_services();
    for (int c = 0; c < NCELLS; c++) {
        s2s_cell cell;
        const s2s_cell_desc *d = load(&cell, CELLS[c]);
        const int S = d->state_per_unit, G = d->proj_per_unit;
        const size_t K = d->cache_per_row(X, H), NP = d->param_count(X, H);
        size_t sizes[] = { NP, (size_t)B * X, (size_t)B * G * H,
                           (size_t)B * S * H, (size_t)B * S * H, K * B,
                           (size_t)B * S * H, NP, (size_t)B * G * H,
                           (size_t)B * S * H, (size_t)B * X };
        enum { NB = sizeof sizes / sizeof sizes[0] };
        float *buf[NB];
        s2s_rng r;
        s2s_rng_seed(&r, 5);
        for (int k = 0; k < NB; k++) {
            buf[k] = malloc((sizes[k] + GUARD) * sizeof(float));
            fill(&r, buf[k], sizes[k], -0.5f, 0.5f);
            for (int g = 0; g < GUARD; g++)
                buf[k][sizes[k] + g] = SENT;
        }
        float *P = buf[0], *x = buf[1], *xp = buf[2], *prev = buf[3],
              *next = buf[4], *cache = buf[5], *dnext = buf[6], *dP = buf[7],
              *dxp = buf[8], *dprev = buf[9], *dx = buf[10];
        d->project(host, P, X, H, B, x, X, xp);
        d->forward(host, P, X, H, B, xp, prev, next, cache);
        d->backward(host, P, dP, X, H, B, xp, prev, next, cache, dnext, dxp,
                    dprev);
        d->project_backward(host, P, dP, X, H, B, x, X, dxp, dx, X);
        for (int k = 0; k < NB; k++)
            for (int g = 0; g < GUARD; g++)
                cr_assert_eq(buf[k][sizes[k] + g], SENT,
                             "%s: buffer %d written past its end", CELLS[c],
                             k);
        for (int k = 0; k < NB; k++)
            free(buf[k]);
        s2s_cell_unload(&cell);
    }
}

/* Plugins keep no state: two OpenMP threads running different batches
 * through the same plugin at once get exactly the serial results (BLAS at
 * one thread inside, as the trainer runs it). */
Test(cells, concurrent_threads_match_serial)
{
    enum { X = 16, H = 32, B = 4, NT = 2 };
    const s2s_cell_host *host = s2s_cell_host_services();
    s2s_blas_set_threads(1);
    for (int c = 0; c < NCELLS; c++) {
        s2s_cell cell;
        const s2s_cell_desc *d = load(&cell, CELLS[c]);
        const int S = d->state_per_unit, G = d->proj_per_unit;
        const size_t K = d->cache_per_row(X, H), NP = d->param_count(X, H);
        const size_t SH = (size_t)S * H, GH = (size_t)G * H;
        s2s_rng r;
        s2s_rng_seed(&r, 31);
        float *P = malloc(NP * sizeof *P);
        fill(&r, P, NP, -0.3f, 0.3f);
        float *in[NT], *h0[NT], *dn[NT], *out[2][NT], *dP[2][NT];
        for (int k = 0; k < NT; k++) {
            in[k] = malloc(B * X * sizeof(float));
            h0[k] = malloc(B * SH * sizeof(float));
            dn[k] = malloc(B * SH * sizeof(float));
            fill(&r, in[k], B * X, -1, 1);
            fill(&r, h0[k], B * SH, -1, 1);
            fill(&r, dn[k], B * SH, -1, 1);
            for (int m = 0; m < 2; m++) {
                out[m][k] = malloc(B * (2 * SH + 2 * GH + K + X) *
                                   sizeof(float));
                dP[m][k] = calloc(NP, sizeof(float));
            }
        }
        for (int m = 0; m < 2; m++) { /* m = 0 serial, 1 concurrent */
#pragma omp parallel for num_threads(m ? NT : 1) schedule(static, 1)
            for (int k = 0; k < NT; k++) {
                float *xp = out[m][k], *next = xp + B * GH;
                float *cache = next + B * SH, *dxp = cache + B * K;
                float *dprev = dxp + B * GH, *dx = dprev + B * SH;
                memset(dx, 0, B * X * sizeof(float));
                d->project(host, P, X, H, B, in[k], X, xp);
                d->forward(host, P, X, H, B, xp, h0[k], next, cache);
                d->backward(host, P, dP[m][k], X, H, B, xp, h0[k], next,
                            cache, dn[k], dxp, dprev);
                d->project_backward(host, P, dP[m][k], X, H, B, in[k], X,
                                    dxp, dx, X);
            }
        }
        for (int k = 0; k < NT; k++) {
            /* compare all but the cache (backward may use it as scratch) */
            float *a = out[0][k], *b = out[1][k];
            size_t pre = B * (GH + SH), post = B * (GH + SH + X);
            cr_assert_arr_eq(a, b, pre * sizeof(float), "%s", CELLS[c]);
            cr_assert_arr_eq(a + pre + B * K, b + pre + B * K,
                             post * sizeof(float), "%s", CELLS[c]);
            cr_assert_arr_eq(dP[0][k], dP[1][k], NP * sizeof(float), "%s",
                             CELLS[c]);
        }
        for (int k = 0; k < NT; k++) {
            free(in[k]);
            free(h0[k]);
            free(dn[k]);
            for (int m = 0; m < 2; m++) {
                free(out[m][k]);
                free(dP[m][k]);
            }
        }
        free(P);
        s2s_cell_unload(&cell);
    }
}
