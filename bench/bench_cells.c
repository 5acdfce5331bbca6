/* bench/bench_cells.c — the speed of the numeric core, as JSON lines:
 *
 *   sgemm GFLOP/s for M x N x K = 1024x1024x1024 and 64x1024x4096, at 1 and
 *   2 BLAS threads (the machine's single-precision peak, the yardstick of
 *   the training-efficiency figure);
 *
 *   each built-in cell at B=64, X=H in {256, 512}, over a T=20 sequence:
 *   project, 20 forward steps, 20 backward steps, project_backward; the
 *   microseconds per time step and the achieved GFLOP/s, counting
 *   3 * B * G*H * (X+H) multiply-adds per step (input projection, its two
 *   gradients; recurrent product, its two gradients), times 2. Three ways
 *   of using the 2 cores: BLAS 1 thread, BLAS 2 threads, and the trainer's
 *   way (2 OpenMP threads, each on half the batch with its own buffers and
 *   gradient, BLAS 1 thread each: "omp_threads":2).
 *
 * Every figure is the median of 7 timed runs after one warm-up run.
 * Run with `make bench-cells`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "core/error.h"
#include "core/kernels.h"
#include "core/loader.h"
#include "core/rng.h"

#define RUNS 7

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *rand_buf(s2s_rng *r, size_t n, float lo, float hi)
{
    float *a = s2s_xaligned(n * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = s2s_rng_uniform(r, lo, hi);
    return a;
}

/* OpenBLAS's idle threads spin for a while after a multi-threaded call
 * (about 2^28 cycles) and would steal a core from whatever runs next;
 * wait them out between measurements that use the cores differently. */
static void settle(void)
{
    struct timespec ts = { 0, 400 * 1000 * 1000 };
    nanosleep(&ts, NULL);
}

static char commit[64] = "unknown";

static void read_commit(void)
{
    FILE *p = popen("git rev-parse --short HEAD 2>/dev/null", "r");
    if (!p)
        return;
    char buf[64];
    if (fgets(buf, sizeof buf, p)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0])
            snprintf(commit, sizeof commit, "%s", buf);
    }
    pclose(p);
}

/* ---------------------------------------------------------------- GEMM */

/* C (M x N) = A (M x K) . B (K x N); returns GFLOP/s. */
static double bench_gemm(int M, int N, int K, int threads, double *ms)
{
    s2s_rng r;
    s2s_rng_seed(&r, 1);
    float *a = rand_buf(&r, (size_t)M * K, -1, 1);
    float *b = rand_buf(&r, (size_t)K * N, -1, 1);
    float *c = rand_buf(&r, (size_t)M * N, -1, 1);
    s2s_blas_set_threads(threads);
    double t[RUNS];
    s2s_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now();
        s2s_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        t[i] = now() - t0;
    }
    double med = median(t, RUNS);
    free(a);
    free(b);
    free(c);
    *ms = 1e3 * med;
    return 2.0 * M * N * K / med * 1e-9;
}

/* --------------------------------------------------------------- cells */

typedef struct cell_run {
    const s2s_cell_desc *d;
    const s2s_cell_host *host;
    int X, H, B, T;
    float *P, *dP, *x, *dx, *xp, *dxp, *st, *cache, *dnext, *dprev;
    size_t K;
} cell_run;

static void cell_run_init(cell_run *c, const s2s_cell_desc *d, int X, int H,
                          int B, int T)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->host = s2s_cell_host_services();
    c->X = X, c->H = H, c->B = B, c->T = T;
    const size_t SH = (size_t)d->state_per_unit * H;
    const size_t GH = (size_t)d->proj_per_unit * H, N = (size_t)T * B;
    const size_t NP = d->param_count(X, H);
    c->K = d->cache_per_row(X, H);
    s2s_rng r;
    s2s_rng_seed(&r, 3);
    c->P = s2s_xaligned(NP * sizeof(float));
    d->init(c->host, &r, c->P, X, H);
    c->dP = rand_buf(&r, NP, 0, 0);
    c->x = rand_buf(&r, N * X, -1, 1);
    c->dx = rand_buf(&r, N * X, 0, 0);
    c->xp = rand_buf(&r, N * GH, 0, 0);
    c->dxp = rand_buf(&r, N * GH, 0, 0);
    c->st = rand_buf(&r, (N + B) * SH, -0.5f, 0.5f);
    c->cache = rand_buf(&r, N * c->K + 1, 0, 0);
    c->dnext = rand_buf(&r, B * SH, -1, 1);
    c->dprev = rand_buf(&r, B * SH, 0, 0);
}

static void cell_run_free(cell_run *c)
{
    free(c->P);
    free(c->dP);
    free(c->x);
    free(c->dx);
    free(c->xp);
    free(c->dxp);
    free(c->st);
    free(c->cache);
    free(c->dnext);
    free(c->dprev);
}

/* One training pass over the sequence, as the host runs it. */
static void cell_pass(cell_run *c)
{
    const s2s_cell_desc *d = c->d;
    const size_t SH = (size_t)d->state_per_unit * c->H;
    const size_t GH = (size_t)d->proj_per_unit * c->H, B = (size_t)c->B;
    const int X = c->X, H = c->H;
    d->project(c->host, c->P, X, H, c->T * c->B, c->x, X, c->xp);
    for (int t = 0; t < c->T; t++)
        d->forward(c->host, c->P, X, H, c->B, c->xp + t * B * GH,
                   c->st + t * B * SH, c->st + (t + 1) * B * SH,
                   c->cache + t * B * c->K);
    for (int t = c->T - 1; t >= 0; t--)
        d->backward(c->host, c->P, c->dP, X, H, c->B, c->xp + t * B * GH,
                    c->st + t * B * SH, c->st + (t + 1) * B * SH,
                    c->cache + t * B * c->K, c->dnext, c->dxp + t * B * GH,
                    c->dprev);
    d->project_backward(c->host, c->P, c->dP, X, H, c->T * c->B, c->x, X,
                        c->dxp, c->dx, X);
}

int main(void)
{
    read_commit();
    int saved = s2s_blas_get_threads();
    double peak[3] = { 0 };
    const int shapes[2][3] = { { 1024, 1024, 1024 }, { 64, 1024, 4096 } };
    for (int s = 0; s < 2; s++)
        for (int th = 1; th <= 2; th++) {
            double ms;
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            double g = bench_gemm(M, N, K, th, &ms);
            if (s == 0)
                peak[th] = g;
            if (th > 1)
                settle();
            printf("{\"bench\":\"sgemm\",\"m\":%d,\"n\":%d,\"k\":%d,"
                   "\"blas_threads\":%d,\"median_ms\":%.3f,\"gflops\":%.1f,"
                   "\"runs\":%d,\"commit\":\"%s\"}\n",
                   M, N, K, th, ms, g, RUNS, commit);
            fflush(stdout);
        }

    const char *names[3] = { "elman", "lstm", "gru" };
    const int sizes[2] = { 256, 512 };
    const int B = 64, T = 20;
    for (int n = 0; n < 3; n++) {
        s2s_cell cell;
        s2s_err err;
        if (s2s_cell_load(&cell, names[n], &err) != 0) {
            fprintf(stderr, "bench_cells: %s\n", err.msg);
            return 1;
        }
        for (int s = 0; s < 2; s++) {
            int X = sizes[s], H = sizes[s];
            double macs = 3.0 * B * cell.desc->proj_per_unit * H *
                          (double)(X + H);
            /* mode 0: two OpenMP threads on B/2 rows each, BLAS 1 thread;
             * modes 1, 2: one run, BLAS 1 or 2 threads */
            for (int mode = 0; mode < 3; mode++) {
                int omp = mode == 0 ? 2 : 1, blas = mode == 2 ? 2 : 1;
                cell_run c[2];
                for (int k = 0; k < omp; k++)
                    cell_run_init(&c[k], cell.desc, X, H, B / omp, T);
                s2s_blas_set_threads(blas);
                double t[RUNS + 1];
                for (int i = 0; i <= RUNS; i++) { /* run 0: warm-up */
                    double t0 = now();
#pragma omp parallel for num_threads(omp) schedule(static, 1)
                    for (int k = 0; k < omp; k++)
                        cell_pass(&c[k]);
                    t[i] = now() - t0;
                }
                double step = median(t + 1, RUNS) / T;
                double g = 2.0 * macs / step * 1e-9;
                printf("{\"bench\":\"cell\",\"cell\":\"%s\",\"B\":%d,"
                       "\"X\":%d,\"H\":%d,\"T\":%d,\"omp_threads\":%d,"
                       "\"blas_threads\":%d,\"us_per_step\":%.1f,"
                       "\"gflops\":%.1f,\"of_sgemm_peak\":%.2f,"
                       "\"runs\":%d,\"commit\":\"%s\"}\n",
                       names[n], B, X, H, T, omp, blas, 1e6 * step, g,
                       g / peak[omp * blas], RUNS, commit);
                fflush(stdout);
                for (int k = 0; k < omp; k++)
                    cell_run_free(&c[k]);
                if (blas > 1)
                    settle();
            }
        }
        s2s_cell_unload(&cell);
    }
    s2s_blas_set_threads(saved);
    return 0;
}
