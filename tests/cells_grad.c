/* tests/cells_grad.c — every gradient of every cell (all parameters, the
 * inputs x and the initial state, c included for the LSTM) against central
 * finite differences, over a 3-step sequence run the way the host runs it:
 * project, forward per step; backward per step in reverse, project_backward.
 *
 * The loss is L = sum_t sum_i w_ti * state_ti over every step's whole state
 * (h and c) with fixed random weights w, so dL/dstate_t = w_t plus what
 * flows back from step t+1. L is accumulated in double from the float
 * forward pass; each input is perturbed in float by +-EPS and the actual
 * float step is used as the denominator.
 *
 * Tolerance: |analytic - numeric| <= 5e-4 + 5e-3 |numeric|. The numeric
 * side carries (a) truncation, EPS^2/6 * L''' = 1.7e-5 * L''' with L'''
 * of order 1 here (inputs and weights of order 1, 3 steps), and (b) the
 * float rounding of L, about 48 terms * 1e-7 = 5e-6, divided by 2 EPS =
 * 0.02: 2.5e-4 at worst (the errors mostly cancel). The observed worst
 * cases are logged: below 7e-5. A wrong gate, sign or missing term gives
 * errors of order 0.1 and more. On top, the whole gradient must agree
 * within 3e-4 in relative L2 norm (observed: 3e-5 at most).
 *
 * Legend: B batch rows, T time steps, X input, H hidden, S state floats
 * per unit, G projection width per unit, K cache floats per row.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/loader.h"
#include "core/rng.h"

#define EPS 1e-2f
#define ATOL 5e-4
#define RTOL 5e-3

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

typedef struct prob {
    const s2s_cell_desc *d;
    const s2s_cell_host *host;
    int X, H, B, T, S, G, LDX;
    size_t K, NP;
    float *P;     /* NP */
    float *x;     /* T*B x X, stride LDX (NaN padding) */
    float *h0;    /* B x S*H */
    float *w;     /* T x B x S*H: loss weights */
    float *xp;    /* T*B x G*H */
    float *st;    /* T+1 x B x S*H: states */
    float *cache; /* T x B x K */
} prob;

static float *nans(size_t n)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = NAN;
    return a;
}

static void prob_init(prob *p, const s2s_cell_desc *d, int X, int H, int B,
                      int T, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->d = d;
    p->host = s2s_cell_host_services();
    p->X = X, p->H = H, p->B = B, p->T = T, p->LDX = X + 1;
    p->S = d->state_per_unit, p->G = d->proj_per_unit;
    p->K = d->cache_per_row(X, H), p->NP = d->param_count(X, H);
    const size_t SH = (size_t)p->S * H, N = (size_t)T * B;
    s2s_rng r;
    s2s_rng_seed(&r, seed);
    p->P = nans(p->NP);
    for (size_t i = 0; i < p->NP; i++)
        p->P[i] = s2s_rng_uniform(&r, -0.5f, 0.5f);
    p->x = nans(N * p->LDX);
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < X; k++)
            p->x[i * p->LDX + k] = s2s_rng_uniform(&r, -1, 1);
    p->h0 = nans(B * SH);
    for (size_t i = 0; i < B * SH; i++)
        p->h0[i] = s2s_rng_uniform(&r, -0.8f, 0.8f);
    p->w = nans(N * SH);
    for (size_t i = 0; i < N * SH; i++)
        p->w[i] = s2s_rng_uniform(&r, -1, 1);
    p->xp = nans(N * p->G * H);
    p->st = nans((N + B) * SH);
    p->cache = nans(N * p->K);
}

static void prob_free(prob *p)
{
    free(p->P);
    free(p->x);
    free(p->h0);
    free(p->w);
    free(p->xp);
    free(p->st);
    free(p->cache);
}

static double run_forward(prob *p)
{
    const size_t SH = (size_t)p->S * p->H, GH = (size_t)p->G * p->H;
    const size_t B = (size_t)p->B;
    p->d->project(p->host, p->P, p->X, p->H, p->T * p->B, p->x, p->LDX,
                  p->xp);
    memcpy(p->st, p->h0, B * SH * sizeof(float));
    double L = 0;
    for (int t = 0; t < p->T; t++) {
        float *prev = p->st + t * B * SH, *next = prev + B * SH;
        p->d->forward(p->host, p->P, p->X, p->H, p->B, p->xp + t * B * GH,
                      prev, next, p->cache + t * B * p->K);
        for (size_t i = 0; i < B * SH; i++)
            L += (double)p->w[t * B * SH + i] * next[i];
    }
    return L;
}

/* dP += dL/dP; dx (stride LDX) += dL/dx unless NULL; dh0 = dL/dh0. */
static void run_backward(prob *p, float *dP, float *dx, float *dh0)
{
    const size_t SH = (size_t)p->S * p->H, GH = (size_t)p->G * p->H;
    const size_t B = (size_t)p->B, N = (size_t)p->T * B;
    run_forward(p);
    float *dxp = nans(N * GH), *dnext = nans(B * SH), *dprev = nans(B * SH);
    float *dstate = calloc(B * SH, sizeof *dstate);
    for (int t = p->T - 1; t >= 0; t--) {
        for (size_t i = 0; i < B * SH; i++)
            dnext[i] = p->w[t * B * SH + i] + dstate[i];
        for (size_t i = 0; i < B * SH; i++)
            dprev[i] = NAN; /* written, not accumulated */
        p->d->backward(p->host, p->P, dP, p->X, p->H, p->B,
                       p->xp + t * B * GH, p->st + t * B * SH,
                       p->st + (t + 1) * B * SH, p->cache + t * B * p->K,
                       dnext, dxp + t * B * GH, dprev);
        memcpy(dstate, dprev, B * SH * sizeof *dstate);
    }
    p->d->project_backward(p->host, p->P, dP, p->X, p->H, (int)N, p->x,
                           p->LDX, dxp, dx, p->LDX);
    memcpy(dh0, dstate, B * SH * sizeof *dh0);
    free(dxp);
    free(dnext);
    free(dprev);
    free(dstate);
}

/* Central difference of L in v[i]. */
static double numeric(prob *p, float *v, size_t i)
{
    float orig = v[i];
    v[i] = orig + EPS;
    double up = v[i];
    double Lp = run_forward(p);
    v[i] = orig - EPS;
    double dn = v[i];
    double Lm = run_forward(p);
    v[i] = orig;
    return (Lp - Lm) / (up - dn);
}

typedef struct tally {
    double worst, diff2, ref2;
    size_t n;
} tally;

static void check(tally *t, const char *cell, const char *what, size_t i,
                  double ana, double num)
{
    double e = fabs(ana - num);
    cr_assert_leq(e, ATOL + RTOL * fabs(num),
                  "%s: d%s[%zu] analytic %.6f vs numeric %.6f", cell, what, i,
                  ana, num);
    if (e > t->worst)
        t->worst = e;
    t->diff2 += e * e;
    t->ref2 += num * num;
    t->n++;
}

static void grad_case(const char *name, int X, int H, int B, int T)
{
    s2s_cell cell;
    const s2s_cell_desc *d = load(&cell, name);
    prob p;
    prob_init(&p, d, X, H, B, T, 99);
    const size_t SH = (size_t)p.S * H, N = (size_t)T * B;

    float *dP = calloc(p.NP, sizeof *dP), *dh0 = nans(B * SH);
    float *dx = malloc(N * p.LDX * sizeof *dx);
    for (size_t i = 0; i < N * p.LDX; i++)
        dx[i] = (i % p.LDX) < (size_t)X ? 0.0f : 7.0f; /* padding: 7 */
    run_backward(&p, dP, dx, dh0);

    tally t = { 0 };
    for (size_t i = 0; i < p.NP; i++)
        check(&t, name, "params", i, dP[i], numeric(&p, p.P, i));
    for (size_t i = 0; i < N * p.LDX; i++) {
        if (i % p.LDX < (size_t)X)
            check(&t, name, "x", i, dx[i], numeric(&p, p.x, i));
        else
            cr_assert_eq(dx[i], 7.0f, "dx padding untouched");
    }
    for (size_t i = 0; i < B * SH; i++)
        check(&t, name, "h0", i, dh0[i], numeric(&p, p.h0, i));
    double rel = sqrt(t.diff2 / t.ref2);
    cr_log_info("%s X=%d H=%d B=%d T=%d: %zu gradients, worst abs error "
                "%.2e, relative L2 %.2e",
                name, X, H, B, T, t.n, t.worst, rel);
    cr_assert_leq(rel, 3e-4, "%s: relative L2 error %.3g", name, rel);
    cr_assert_gt(t.ref2, 1.0, "%s: the gradient is not trivially small",
                 name);

    /* Without dx the parameter gradient is the same; a second pass
     * accumulates (+=) on top of the first. */
    float *dP2 = calloc(p.NP, sizeof *dP2), *dh2 = nans(B * SH);
    run_backward(&p, dP2, NULL, dh2);
    cr_assert_arr_eq(dP, dP2, p.NP * sizeof *dP);
    cr_assert_arr_eq(dh0, dh2, B * SH * sizeof *dh0);
    run_backward(&p, dP2, NULL, dh2);
    for (size_t i = 0; i < p.NP; i++)
        cr_assert_leq(fabs(dP2[i] - 2.0f * dP[i]), 1e-6 * fabs(dP[i]) + 1e-7);

    free(dP);
    free(dP2);
    free(dh0);
    free(dh2);
    free(dx);
    prob_free(&p);
    s2s_cell_unload(&cell);
}

Test(cells_grad, elman) { grad_case("elman", 3, 4, 2, 3); }
Test(cells_grad, lstm) { grad_case("lstm", 3, 4, 2, 3); }
Test(cells_grad, gru) { grad_case("gru", 3, 4, 2, 3); }
Test(cells_grad, mgu) { grad_case("mgu", 3, 4, 2, 3); }
/* X != H the other way, B = 3, two steps */
Test(cells_grad, lstm_wide_input) { grad_case("lstm", 6, 3, 3, 2); }
Test(cells_grad, gru_wide_input) { grad_case("gru", 6, 3, 3, 2); }
