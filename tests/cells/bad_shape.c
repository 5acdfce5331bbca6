/* tests/cells/bad_shape.c — a cell plugin with an inconsistent shape.
 * Which flaw it has is chosen by $S2S_TEST_BAD_SHAPE when the host calls
 * the entry:
 * state0 (S = 0, the default), state5 (S = 5), proj0 (G = 0), nullfn (no
 * backward), count0 (param_count is 0), nodesc (the entry returns NULL).
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cells/cell.h"

/* The step functions are stubs: the host never gets as far as calling
 * them. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

static size_t count(int X, int H)
{
    return (size_t)H * (X + H) + 2 * (size_t)H;
}

static size_t cache(int X, int H) { return 0; }

static void init(const s2s_cell_host *h, void *r, float *p, int X, int H) {}

static void project(const s2s_cell_host *h, const float *p, int X, int H,
                    int N, const float *x, int ldx, float *xp) {}

static void forward(const s2s_cell_host *h, const float *p, int X, int H,
                    int B, const float *xp, const float *prev, float *next,
                    float *c) {}

static void backward(const s2s_cell_host *h, const float *p, float *dp, int X,
                     int H, int B, const float *xp, const float *prev,
                     const float *next, float *c, const float *dn,
                     float *dxp, float *dprev) {}

static void project_backward(const s2s_cell_host *h, const float *p,
                             float *dp, int X, int H, int N, const float *x,
                             int ldx, const float *dxp, float *dx, int lddx)
{
}

static size_t zero(int X, int H) { return 0; }

#define DESC(S_, G_, COUNT, BACKWARD)                                      \
    {                                                                      \
        .abi_version = S2S_CELL_ABI_VERSION,                               \
        .size = sizeof(s2s_cell_desc),                                     \
        .name = "bad_shape",                                               \
        .state_per_unit = S_, .proj_per_unit = G_,                         \
        .param_count = COUNT, .cache_per_row = cache, .init = init,        \
        .project = project, .forward = forward, .backward = BACKWARD,      \
        .project_backward = project_backward,                              \
    }

static const s2s_cell_desc state0 = DESC(0, 1, count, backward);
static const s2s_cell_desc state5 = DESC(5, 1, count, backward);
static const s2s_cell_desc proj0 = DESC(1, 0, count, backward);
static const s2s_cell_desc nullfn = DESC(1, 1, count, NULL);
static const s2s_cell_desc count0 = DESC(1, 1, zero, backward);

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    const char *which = getenv("S2S_TEST_BAD_SHAPE");
    if (!which || strcmp(which, "state0") == 0)
        return &state0;
    if (strcmp(which, "state5") == 0)
        return &state5;
    if (strcmp(which, "proj0") == 0)
        return &proj0;
    if (strcmp(which, "nullfn") == 0)
        return &nullfn;
    if (strcmp(which, "count0") == 0)
        return &count0;
    return NULL; /* "nodesc" */
}
