/* core/cellcheck.c — the conformance checks of `s2s check-cell` (see
 * cellcheck.h).
 *
 * Every buffer handed to the plugin is a "guarded buffer": GUARD floats
 * on each side hold a sentinel NaN (and so does every float the plugin
 * is meant to write before it writes it), so a write outside a buffer, a
 * read of something never written and a float left unset all show.
 * Problems are run the way the host runs a layer: project over all steps,
 * forward per step; backward per step in reverse, project_backward once.
 * The loss of the gradient check is L = sum_t sum_i w_ti state_ti over
 * every step's whole state (h and c), accumulated in double, as in
 * tests/cells_grad.c, whose tolerances it shares.
 *
 * Legend: B batch rows, T time steps, X input, H hidden, S state floats
 * per unit, G projection width per unit, K cache floats per row, N = T*B.
 */
#include "core/cellcheck.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/loader.h"
#include "core/rng.h"

#define GUARD 16
#define TMAX 8
#define EPS 1e-2f

/* ------------------------------------------------------------------------ */
/* Guarded buffers                                                          */

static float sentinel(void)
{
    uint32_t bits = 0x7fc5a5a5u; /* a quiet NaN no arithmetic produces */
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int is_sentinel(float f)
{
    float s = sentinel();
    return memcmp(&f, &s, sizeof f) == 0;
}

typedef struct gbuf {
    const char *name;
    float *mem; /* n + 2 GUARD floats */
    float *p;   /* the n floats handed over */
    size_t n;
} gbuf;

static void gb_alloc(gbuf *b, const char *name, size_t n)
{
    b->name = name;
    b->n = n;
    b->mem = s2s_xmalloc((n + 2 * GUARD) * sizeof(float));
    for (size_t i = 0; i < n + 2 * GUARD; i++) b->mem[i] = sentinel();
    b->p = b->mem + GUARD;
}

static void gb_free(gbuf *b)
{
    free(b->mem);
    b->mem = b->p = NULL;
}

static void gb_fill_sentinel(gbuf *b)
{
    for (size_t i = 0; i < b->n; i++) b->p[i] = sentinel();
}

/* -1 when the guards are intact, else the offset written (negative
 * offsets count back from the start: -1 is the float before it). */
static long gb_overwritten(const gbuf *b, int *before)
{
    for (size_t i = 0; i < GUARD; i++)
        if (!is_sentinel(b->mem[GUARD - 1 - i])) {
            *before = 1;
            return (long)i + 1;
        }
    for (size_t i = 0; i < GUARD; i++)
        if (!is_sentinel(b->p[b->n + i])) {
            *before = 0;
            return (long)(b->n + i);
        }
    return -1;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

static float *copy_of(const float *a, size_t n)
{
    float *c = s2s_xmalloc((n ? n : 1) * sizeof *c);
    if (n) memcpy(c, a, n * sizeof *c);
    return c;
}

/* ------------------------------------------------------------------------ */
/* One problem: a layer over T steps of B rows                              */

typedef struct prob {
    const s2s_cell_desc *d;
    const s2s_cell_host *host;
    int X, H, B, T, S, G, LDX;
    size_t K, NP, SH, GH, N;
    gbuf P;              /* NP */
    gbuf x;              /* N rows of stride LDX; padding left sentinel */
    gbuf xp;             /* N x GH */
    gbuf st[TMAX + 1];   /* B x SH each; st[0] is the initial state */
    gbuf cache[TMAX];    /* B x K each */
    gbuf dP, dx, dxp_all, dxp[TMAX], dnext, dprev;
    float *w;            /* T x B x SH: dL/dstate of each step */
    char broken[256];    /* the first write into a read-only input */
} prob;

static void prob_init(prob *p, const s2s_cell_desc *d, int X, int H, int B,
                      int T, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->d = d;
    p->host = s2s_cell_host_services();
    p->X = X, p->H = H, p->B = B, p->T = T, p->LDX = X + 1;
    p->S = d->state_per_unit, p->G = d->proj_per_unit;
    p->K = d->cache_per_row(X, H), p->NP = d->param_count(X, H);
    p->SH = (size_t)p->S * H, p->GH = (size_t)p->G * H, p->N = (size_t)T * B;
    s2s_rng r;
    s2s_rng_seed(&r, seed);
    gb_alloc(&p->P, "params", p->NP);
    for (size_t i = 0; i < p->NP; i++) p->P.p[i] = s2s_rng_uniform(&r, -0.5f, 0.5f);
    gb_alloc(&p->x, "x", p->N * p->LDX);
    for (size_t i = 0; i < p->N; i++)
        for (int k = 0; k < X; k++) p->x.p[i * p->LDX + k] = s2s_rng_uniform(&r, -1, 1);
    gb_alloc(&p->xp, "xp", p->N * p->GH);
    for (int t = 0; t <= T; t++) gb_alloc(&p->st[t], t ? "next" : "prev", B * p->SH);
    for (size_t i = 0; i < B * p->SH; i++) p->st[0].p[i] = s2s_rng_uniform(&r, -0.8f, 0.8f);
    for (int t = 0; t < T; t++) gb_alloc(&p->cache[t], "cache", B * p->K);
    p->w = s2s_xmalloc((p->N * p->SH != 0 ? p->N * p->SH : 1) * sizeof *p->w);
    for (size_t i = 0; i < p->N * p->SH; i++) p->w[i] = s2s_rng_uniform(&r, -1, 1);
    gb_alloc(&p->dP, "dparams", p->NP);
    gb_alloc(&p->dx, "dx", p->N * p->LDX);
    gb_alloc(&p->dxp_all, "dxp", p->N * p->GH);
    for (int t = 0; t < T; t++) gb_alloc(&p->dxp[t], "dxp", B * p->GH);
    gb_alloc(&p->dnext, "dnext", B * p->SH);
    gb_alloc(&p->dprev, "dprev", B * p->SH);
}

static void prob_free(prob *p)
{
    gb_free(&p->P);
    gb_free(&p->x);
    gb_free(&p->xp);
    for (int t = 0; t <= p->T; t++) gb_free(&p->st[t]);
    for (int t = 0; t < p->T; t++) {
        gb_free(&p->cache[t]);
        gb_free(&p->dxp[t]);
    }
    gb_free(&p->dP);
    gb_free(&p->dx);
    gb_free(&p->dxp_all);
    gb_free(&p->dnext);
    gb_free(&p->dprev);
    free(p->w);
}

/* Calls every buffer's guards, then the padding of dx; the first problem
 * found goes to why. 0 when all is well. */
static int prob_bounds(const prob *p, char *why, size_t size)
{
    const gbuf *all[4 * TMAX + 16];
    int n = 0;
    all[n++] = &p->P, all[n++] = &p->x, all[n++] = &p->xp;
    for (int t = 0; t <= p->T; t++) all[n++] = &p->st[t];
    for (int t = 0; t < p->T; t++) all[n++] = &p->cache[t], all[n++] = &p->dxp[t];
    all[n++] = &p->dP, all[n++] = &p->dx, all[n++] = &p->dxp_all;
    all[n++] = &p->dnext, all[n++] = &p->dprev;
    for (int i = 0; i < n; i++) {
        int before = 0;
        long at = gb_overwritten(all[i], &before);
        if (at >= 0) {
            if (before)
                snprintf(why, size, "wrote %ld float(s) before %s (%zu floats)",
                         at, all[i]->name, all[i]->n);
            else
                snprintf(why, size, "wrote %s[%ld], past its end (%zu floats)",
                         all[i]->name, at, all[i]->n);
            return -1;
        }
    }
    for (size_t i = 0; i < p->N * p->LDX; i++)
        if (i % p->LDX >= (size_t)p->X &&
            (!is_sentinel(p->dx.p[i]) || !is_sentinel(p->x.p[i]))) {
            snprintf(why, size, "wrote the padding of row %zu of %s (row "
                     "stride %d, %d floats used)", i / p->LDX,
                     is_sentinel(p->x.p[i]) ? "dx" : "x", p->LDX, p->X);
            return -1;
        }
    if (p->broken[0]) {
        snprintf(why, size, "%s", p->broken);
        return -1;
    }
    return 0;
}

static void note_broken(prob *p, const char *fmt, ...)
{
    if (p->broken[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->broken, sizeof p->broken, fmt, ap);
    va_end(ap);
}

/* project, then forward per step; returns L = sum w . state. */
static double run_forward(prob *p)
{
    const size_t B = (size_t)p->B;
    float *P0 = copy_of(p->P.p, p->NP), *x0 = copy_of(p->x.p, p->N * p->LDX);
    gb_fill_sentinel(&p->xp);
    p->d->project(p->host, p->P.p, p->X, p->H, (int)p->N, p->x.p, p->LDX, p->xp.p);
    double L = 0;
    for (int t = 0; t < p->T; t++) {
        gb_fill_sentinel(&p->st[t + 1]);
        float *xp_t = p->xp.p + t * B * p->GH;
        float *xp0 = copy_of(xp_t, B * p->GH), *prev0 = copy_of(p->st[t].p, B * p->SH);
        p->d->forward(p->host, p->P.p, p->X, p->H, p->B, xp_t, p->st[t].p,
                      p->st[t + 1].p, p->cache[t].p);
        if (!same_bits(xp0, xp_t, B * p->GH)) note_broken(p, "forward wrote into xp (read-only)");
        if (!same_bits(prev0, p->st[t].p, B * p->SH)) note_broken(p, "forward wrote into prev (read-only)");
        free(xp0);
        free(prev0);
        for (size_t i = 0; i < B * p->SH; i++)
            L += (double)p->w[t * B * p->SH + i] * p->st[t + 1].p[i];
    }
    if (!same_bits(P0, p->P.p, p->NP)) note_broken(p, "project or forward wrote into params (read-only)");
    if (!same_bits(x0, p->x.p, p->N * p->LDX)) note_broken(p, "project wrote into x (read-only)");
    free(P0);
    free(x0);
    return L;
}

/* dP += dL/dP; dx (stride LDX) += dL/dx when want_dx; dh0 = dL/dh0. */
static void run_backward(prob *p, int want_dx, float *dh0)
{
    const size_t B = (size_t)p->B, BS = B * p->SH;
    run_forward(p);
    float *P0 = copy_of(p->P.p, p->NP), *xp0 = copy_of(p->xp.p, p->N * p->GH);
    float *dstate = s2s_xcalloc(BS ? BS : 1, sizeof *dstate);
    for (int t = p->T - 1; t >= 0; t--) {
        for (size_t i = 0; i < BS; i++) p->dnext.p[i] = p->w[t * BS + i] + dstate[i];
        gb_fill_sentinel(&p->dprev);  /* written (=), not accumulated */
        gb_fill_sentinel(&p->dxp[t]);
        float *dn0 = copy_of(p->dnext.p, BS), *pr0 = copy_of(p->st[t].p, BS);
        float *nx0 = copy_of(p->st[t + 1].p, BS);
        p->d->backward(p->host, p->P.p, p->dP.p, p->X, p->H, p->B,
                       p->xp.p + t * B * p->GH, p->st[t].p, p->st[t + 1].p,
                       p->cache[t].p, p->dnext.p, p->dxp[t].p, p->dprev.p);
        if (!same_bits(dn0, p->dnext.p, BS)) note_broken(p, "backward wrote into dnext (read-only)");
        if (!same_bits(pr0, p->st[t].p, BS)) note_broken(p, "backward wrote into prev (read-only)");
        if (!same_bits(nx0, p->st[t + 1].p, BS)) note_broken(p, "backward wrote into next (read-only)");
        free(dn0);
        free(pr0);
        free(nx0);
        memcpy(p->dxp_all.p + t * B * p->GH, p->dxp[t].p, B * p->GH * sizeof(float));
        memcpy(dstate, p->dprev.p, BS * sizeof *dstate);
    }
    float *dxp0 = copy_of(p->dxp_all.p, p->N * p->GH);
    p->d->project_backward(p->host, p->P.p, p->dP.p, p->X, p->H, (int)p->N,
                           p->x.p, p->LDX, p->dxp_all.p,
                           want_dx ? p->dx.p : NULL, p->LDX);
    if (!same_bits(dxp0, p->dxp_all.p, p->N * p->GH)) note_broken(p, "project_backward wrote into dxp (read-only)");
    if (!same_bits(xp0, p->xp.p, p->N * p->GH)) note_broken(p, "backward wrote into xp (read-only)");
    if (!same_bits(P0, p->P.p, p->NP)) note_broken(p, "backward wrote into params (read-only)");
    memcpy(dh0, dstate, BS * sizeof *dh0);
    free(dxp0);
    free(P0);
    free(xp0);
    free(dstate);
}

/* dP and dx (its used part) set to 0 */
static void zero_grads(prob *p)
{
    memset(p->dP.p, 0, p->NP * sizeof(float));
    for (size_t i = 0; i < p->N * p->LDX; i++)
        if (i % p->LDX < (size_t)p->X) p->dx.p[i] = 0.0f;
}

/* ------------------------------------------------------------------------ */
/* The report                                                               */

typedef struct report {
    FILE *out;
    int failed;
} report;

/* The check running, for a crash handler (s2s_cellcheck_current). */
static const char *volatile current = "load";

const char *s2s_cellcheck_current(void) { return current; }

static void say(report *r, int ok, const char *check, const char *fmt, ...)
{
    fprintf(r->out, "%s  %s: ", ok ? "pass" : "FAIL", check);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    fflush(r->out);
    if (!ok) r->failed++;
}

/* ------------------------------------------------------------------------ */
/* The checks                                                               */

static const int SHAPES[][2] = {{1, 1}, {3, 4}, {16, 8}, {7, 33}};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

static void check_descriptor(report *r, const s2s_cell_desc *d)
{
    char shapes[512];
    size_t len = 0;
    const char *bad = NULL;
    for (int i = 0; i < NSHAPES; i++) {
        int X = SHAPES[i][0], H = SHAPES[i][1];
        size_t np = d->param_count(X, H), k = d->cache_per_row(X, H);
        len += (size_t)snprintf(shapes + len, sizeof shapes - len,
                                "%s(%d,%d) %zu/%zu", i ? ", " : "", X, H, np, k);
        if (np == 0) bad = "param_count is 0";
        else if (np > ((size_t)1 << 30) || k > ((size_t)1 << 24))
            bad = "param_count or cache_per_row is implausibly large";
        else if (np != d->param_count(X, H) || k != d->cache_per_row(X, H))
            bad = "param_count or cache_per_row changes from call to call";
    }
    int ok = !bad && d->abi_version == S2S_CELL_ABI_VERSION &&
             d->size >= sizeof(s2s_cell_desc);
    say(r, ok, "descriptor",
        "%s%sABI %u (host %u), %u bytes (host %zu), name '%s', S=%d G=%d; "
        "params/cache floats per row at (X,H): %s",
        bad ? bad : "", bad ? "; " : "", (unsigned)d->abi_version,
        (unsigned)S2S_CELL_ABI_VERSION, (unsigned)d->size,
        sizeof(s2s_cell_desc), d->name, d->state_per_unit, d->proj_per_unit,
        shapes);
}

static void check_init(report *r, const s2s_cell_desc *d)
{
    const s2s_cell_host *host = s2s_cell_host_services();
    char why[256] = "";
    float lo = INFINITY, hi = -INFINITY;
    size_t total = 0;
    for (int s = 0; s < NSHAPES && !why[0]; s++) {
        int X = SHAPES[s][0], H = SHAPES[s][1];
        size_t n = d->param_count(X, H);
        gbuf a, b;
        gb_alloc(&a, "params", n);
        gb_alloc(&b, "params", n);
        s2s_rng r1, r2;
        s2s_rng_seed(&r1, 7);
        s2s_rng_seed(&r2, 7);
        d->init(host, &r1, a.p, X, H);
        d->init(host, &r2, b.p, X, H);
        int before = 0;
        long at = gb_overwritten(&a, &before);
        size_t unset = 0, first = 0, bad = 0, first_bad = 0;
        for (size_t i = 0; i < n; i++) {
            if (is_sentinel(a.p[i])) {
                if (!unset++) first = i;
            } else if (!isfinite(a.p[i])) {
                if (!bad++) first_bad = i;
            } else {
                lo = fminf(lo, a.p[i]);
                hi = fmaxf(hi, a.p[i]);
            }
        }
        if (at >= 0)
            snprintf(why, sizeof why, "at (X,H)=(%d,%d) init wrote %s params "
                     "(%zu floats)", X, H, before ? "before" : "past the end of", n);
        else if (unset)
            snprintf(why, sizeof why, "at (X,H)=(%d,%d) init left %zu of %zu "
                     "parameters unset (the first at index %zu)", X, H, unset, n,
                     first);
        else if (bad)
            snprintf(why, sizeof why, "at (X,H)=(%d,%d) %zu parameters are not "
                     "finite (the first at index %zu)", X, H, bad, first_bad);
        else if (!same_bits(a.p, b.p, n))
            snprintf(why, sizeof why, "at (X,H)=(%d,%d) the same RNG seed gave "
                     "other values (draw from the host's RNG only)", X, H);
        total += n;
        gb_free(&a);
        gb_free(&b);
    }
    if (why[0])
        say(r, 0, "init", "%s", why);
    else
        say(r, 1, "init", "fills exactly its %zu parameters over %d shapes, "
            "values in [%.4g, %.4g], the same for the same seed", total,
            NSHAPES, lo, hi);
}

static void check_determinism(report *r, const s2s_cell_desc *d)
{
    prob p;
    prob_init(&p, d, 3, 4, 2, 3, 11);
    run_forward(&p);
    size_t BS = (size_t)p.B * p.SH;
    float *first = s2s_xmalloc((p.T * BS != 0 ? p.T * BS : 1) * sizeof *first);
    for (int t = 0; t < p.T; t++) memcpy(first + t * BS, p.st[t + 1].p, BS * sizeof *first);
    run_forward(&p);
    int fwd_ok = 1;
    for (int t = 0; t < p.T; t++)
        if (!same_bits(first + t * BS, p.st[t + 1].p, BS)) fwd_ok = 0;
    float *dh = s2s_xmalloc((BS ? BS : 1) * sizeof *dh), *dh2 = s2s_xmalloc((BS ? BS : 1) * sizeof *dh2);
    zero_grads(&p);
    run_backward(&p, 1, dh);
    float *dP1 = copy_of(p.dP.p, p.NP), *dx1 = copy_of(p.dx.p, p.N * p.LDX);
    zero_grads(&p);
    run_backward(&p, 1, dh2);
    int bwd_ok = same_bits(dP1, p.dP.p, p.NP) && same_bits(dh, dh2, BS) &&
                 same_bits(dx1, p.dx.p, p.N * p.LDX);
    if (fwd_ok && bwd_ok)
        say(r, 1, "determinism", "forward and backward twice over %d steps of "
            "%d rows: the same bits", p.T, p.B);
    else
        say(r, 0, "determinism", "the same inputs gave other %s on a second "
            "run (a plugin must keep no state)", fwd_ok ? "gradients" : "states");
    free(first);
    free(dh);
    free(dh2);
    free(dP1);
    free(dx1);
    prob_free(&p);
}

static void check_batch_invariance(report *r, const s2s_cell_desc *d)
{
    const int B = 4, T = 3;
    prob p;
    prob_init(&p, d, 3, 5, B, T, 12);
    run_forward(&p);
    double worst = 0;
    int worst_row = 0;
    for (int b = 0; b < B; b++) {
        prob q;
        prob_init(&q, d, 3, 5, 1, T, 12);
        memcpy(q.P.p, p.P.p, p.NP * sizeof(float));
        for (int t = 0; t < T; t++)
            memcpy(q.x.p + (size_t)t * q.LDX, p.x.p + ((size_t)t * B + b) * p.LDX,
                   (size_t)p.X * sizeof(float));
        memcpy(q.st[0].p, p.st[0].p + (size_t)b * p.SH, p.SH * sizeof(float));
        run_forward(&q);
        for (int t = 1; t <= T; t++)
            for (size_t i = 0; i < p.SH; i++) {
                double a = p.st[t].p[(size_t)b * p.SH + i], c = q.st[t].p[i];
                double e = fabs(a - c) / (1.0 + fabs(c));
                if (!(e <= worst)) {
                    worst = isnan(e) ? INFINITY : e;
                    worst_row = b;
                }
            }
        prob_free(&q);
    }
    if (worst <= 1e-5)
        say(r, 1, "batch invariance", "each of %d rows alone gives its states "
            "within %.1e (largest difference relative to 1+|h|)", B, worst);
    else
        say(r, 0, "batch invariance", "row %d alone differs from the same row "
            "in a batch of %d by %.3g (relative to 1+|h|; allowed 1e-5): rows "
            "must not read each other", worst_row, B, worst);
    prob_free(&p);
}

/* Central difference of L in v[i], with the float step actually taken. */
static double numeric(prob *p, float *v, size_t i)
{
    float orig = v[i];
    v[i] = orig + EPS;
    double up = v[i], Lp = run_forward(p);
    v[i] = orig - EPS;
    double dn = v[i], Lm = run_forward(p);
    v[i] = orig;
    return (Lp - Lm) / (up - dn);
}

typedef struct worst {
    double rel;        /* largest |a - n| / (|n| + 0.1) */
    size_t at;
    double ana, num;
    size_t n;
} worst;

static void tally(worst *w, double *d2, double *r2, size_t i, double ana, double num)
{
    double e = fabs(ana - num), rel = e / (fabs(num) + 0.1);
    if (isnan(rel)) rel = INFINITY;
    if (rel > w->rel || w->n == 0) {
        if (rel > w->rel) w->rel = rel;
        w->at = i, w->ana = ana, w->num = num;
    }
    w->n++;
    *d2 += e * e;
    *r2 += num * num;
}

/* Returns 0 and the worst figures, or -1 with why filled. */
static int grad_case(const s2s_cell_desc *d, int X, int H, int B, int T,
                     worst w[3], double *l2, char *why, size_t size)
{
    prob p;
    prob_init(&p, d, X, H, B, T, 99);
    size_t BS = (size_t)B * p.SH;
    float *dh0 = s2s_xmalloc((BS ? BS : 1) * sizeof *dh0);
    zero_grads(&p);
    run_backward(&p, 1, dh0);
    float *dP = copy_of(p.dP.p, p.NP), *dx = copy_of(p.dx.p, p.N * p.LDX);
    double d2 = 0, r2 = 0;
    memset(w, 0, 3 * sizeof *w);
    for (size_t i = 0; i < p.NP; i++) tally(&w[0], &d2, &r2, i, dP[i], numeric(&p, p.P.p, i));
    for (size_t i = 0; i < p.N * p.LDX; i++)
        if (i % p.LDX < (size_t)X) tally(&w[1], &d2, &r2, i, dx[i], numeric(&p, p.x.p, i));
    for (size_t i = 0; i < BS; i++) tally(&w[2], &d2, &r2, i, dh0[i], numeric(&p, p.st[0].p, i));
    *l2 = r2 > 0 ? sqrt(d2 / r2) : INFINITY;
    int rc = 0;
    why[0] = 0;
    static const char *what[3] = {"dparams", "dx", "dprev (initial state)"};
    for (int k = 0; k < 3; k++)
        if (!(w[k].rel <= S2S_CELLCHECK_RTOL)) {
            snprintf(why, size, "at (X,H,B,T)=(%d,%d,%d,%d) %s[%zu]: analytic "
                     "%.6g vs numeric %.6g (relative error %.3g, allowed %.0e)",
                     X, H, B, T, what[k], w[k].at, w[k].ana, w[k].num, w[k].rel,
                     S2S_CELLCHECK_RTOL);
            rc = -1;
            break;
        }
    if (rc == 0 && !(*l2 <= S2S_CELLCHECK_L2)) {
        snprintf(why, size, "at (X,H,B,T)=(%d,%d,%d,%d) the whole gradient is "
                 "off by %.3g in relative L2 norm (allowed %.0e)", X, H, B, T,
                 *l2, S2S_CELLCHECK_L2);
        rc = -1;
    }
    if (rc == 0) {
        /* a second pass accumulates (+=) into dparams and dx */
        run_backward(&p, 1, dh0);
        for (size_t i = 0; i < p.NP && rc == 0; i++)
            if (!(fabs(p.dP.p[i] - 2.0 * dP[i]) <= 1e-5 * fabs(dP[i]) + 1e-6)) {
                snprintf(why, size, "dparams is not accumulated (+=): a second "
                         "backward pass gave dparams[%zu] = %.6g, want %.6g",
                         i, p.dP.p[i], 2.0 * dP[i]);
                rc = -1;
            }
        for (size_t i = 0; i < p.N * p.LDX && rc == 0; i++)
            if (i % p.LDX < (size_t)X &&
                !(fabs(p.dx.p[i] - 2.0 * dx[i]) <= 1e-5 * fabs(dx[i]) + 1e-6)) {
                snprintf(why, size, "dx is not accumulated (+=) by "
                         "project_backward: dx[%zu] = %.6g after two passes, "
                         "want %.6g", i, p.dx.p[i], 2.0 * dx[i]);
                rc = -1;
            }
    }
    free(dh0);
    free(dP);
    free(dx);
    prob_free(&p);
    return rc;
}

static void check_gradients(report *r, const s2s_cell_desc *d)
{
    static const int CASES[][4] = {{3, 4, 2, 3}, {6, 3, 3, 2}};
    worst all[3] = {{0}};
    double l2max = 0;
    char why[512];
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        worst w[3];
        double l2;
        if (grad_case(d, CASES[c][0], CASES[c][1], CASES[c][2], CASES[c][3], w,
                      &l2, why, sizeof why) < 0) {
            say(r, 0, "gradients", "%s", why);
            return;
        }
        for (int k = 0; k < 3; k++) {
            if (w[k].rel > all[k].rel) all[k].rel = w[k].rel;
            all[k].n += w[k].n;
        }
        if (l2 > l2max) l2max = l2;
    }
    say(r, 1, "gradients", "central differences of %zu parameter, %zu input "
        "and %zu previous-state gradients: largest relative error %.1e, %.1e, "
        "%.1e (allowed %.0e); relative L2 %.1e; dparams and dx accumulate",
        all[0].n, all[1].n, all[2].n, all[0].rel, all[1].rel, all[2].rel,
        S2S_CELLCHECK_RTOL, l2max);
}

static void check_bounds(report *r, const s2s_cell_desc *d)
{
    /* every call, forward and backward, with and without dx */
    prob p;
    prob_init(&p, d, 3, 4, 2, 3, 5);
    size_t BS = (size_t)p.B * p.SH;
    float *dh = s2s_xmalloc((BS ? BS : 1) * sizeof *dh);
    zero_grads(&p);
    run_backward(&p, 1, dh);
    run_backward(&p, 0, dh);
    char why[256];
    if (prob_bounds(&p, why, sizeof why) < 0)
        say(r, 0, "bounds", "%s", why);
    else
        say(r, 1, "bounds", "no write outside the %d buffers handed over "
            "(%d guard floats each side), into read-only inputs or into row "
            "padding", 3 * p.T + 9, GUARD);
    free(dh);
    prob_free(&p);
}

/* The toy task: B sequences of T steps; the h part of the last state
 * should recall half the first input, h_T[j] = 0.5 x_0[j] for j < X
 * (0 for the other units). Mean squared error, Adam. */
static void check_learns(report *r, const s2s_cell_desc *d)
{
    enum { X = 3, H = 8, B = 16, T = 4, STEPS = 300 };
    prob p;
    prob_init(&p, d, X, H, B, T, 21);
    s2s_rng rng;
    s2s_rng_seed(&rng, 21);
    d->init(p.host, &rng, p.P.p, X, H);
    for (size_t i = 0; i < B * p.SH; i++) p.st[0].p[i] = 0.0f;
    const size_t BS = (size_t)B * p.SH;
    float *m = s2s_xcalloc(p.NP, sizeof *m), *v = s2s_xcalloc(p.NP, sizeof *v);
    float *dh = s2s_xmalloc(BS * sizeof *dh);
    double first = NAN, loss = NAN;
    for (int step = 0; step <= STEPS; step++) {
        memset(p.w, 0, p.N * p.SH * sizeof *p.w);
        run_forward(&p);
        loss = 0;
        float *last = p.st[T].p, *dlast = p.w + (size_t)(T - 1) * BS;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                double y = j < X ? 0.5 * p.x.p[(size_t)b * p.LDX + j] : 0.0;
                double e = last[(size_t)b * p.SH + j] - y;
                loss += 0.5 * e * e / B;
                dlast[(size_t)b * p.SH + j] = (float)(e / B);
            }
        if (step == 0) first = loss;
        if (step == STEPS || !isfinite(loss)) break;
        zero_grads(&p);
        run_backward(&p, 0, dh);
        const double lr = 0.02, b1 = 0.9, b2 = 0.999;
        double c1 = 1 - pow(b1, step + 1), c2 = 1 - pow(b2, step + 1);
        for (size_t i = 0; i < p.NP; i++) {
            float g = p.dP.p[i];
            m[i] = (float)(b1 * m[i] + (1 - b1) * g);
            v[i] = (float)(b2 * v[i] + (1 - b2) * g * g);
            p.P.p[i] -= (float)(lr * (m[i] / c1) / (sqrt(v[i] / c2) + 1e-8));
        }
    }
    int ok = isfinite(loss) && loss <= 0.5 * first;
    say(r, ok, "learns", "%sloss %.4g -> %.4g after %d Adam steps on a toy task "
        "(recall the first of %d inputs; X=%d H=%d B=%d)%s",
        ok ? "" : "the loss did not halve: ", first, loss, STEPS, T, X, H, B,
        ok ? "" : " (check the gradients and the init)");
    free(m);
    free(v);
    free(dh);
    prob_free(&p);
}

int s2s_cellcheck_run(const s2s_cell_desc *d, const char *path, FILE *out)
{
    (void)path;
    report r = {.out = out};
    current = "descriptor";
    check_descriptor(&r, d);
    current = "init";
    check_init(&r, d);
    current = "determinism";
    check_determinism(&r, d);
    current = "batch invariance";
    check_batch_invariance(&r, d);
    current = "gradients";
    check_gradients(&r, d);
    current = "bounds";
    check_bounds(&r, d);
    current = "learns";
    check_learns(&r, d);
    current = "load";
    return r.failed;
}
