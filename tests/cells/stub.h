/* tests/cells/stub.h — the do-nothing step functions of the malformed
 * test plugins (bad_*.c, no_entry.c): the loader refuses those plugins
 * before it would ever call a step, so only their descriptors differ. */
#ifndef S2S_TEST_STUB_H
#define S2S_TEST_STUB_H

#include <stddef.h>

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

/* A well-formed descriptor but for what the caller overrides. */
#define STUB_DESC(ABI, SIZE, NAME)                                        \
    {                                                                     \
        .abi_version = (ABI), .size = (SIZE), .name = (NAME),             \
        .state_per_unit = 1, .proj_per_unit = 1, .param_count = count,    \
        .cache_per_row = cache, .init = init, .project = project,         \
        .forward = forward, .backward = backward,                         \
        .project_backward = project_backward,                             \
        .recurrent_weight_offset = 0,                                     \
    }

#endif
