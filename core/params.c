/* core/params.c — the flat parameter, gradient and moment buffers. */
#include "core/params.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

size_t s2s_params_reserve(s2s_params *p, size_t count)
{
    /* 16 floats = 64 bytes: every block starts on its own cache line. */
    size_t off = (p->n + 15) & ~(size_t)15;
    p->n = off + count;
    return off;
}

static float *zeroed(size_t n)
{
    size_t bytes = (n ? n : 1) * sizeof(float);
    float *a = s2s_xaligned(bytes);
    memset(a, 0, bytes);
    return a;
}

void s2s_params_alloc(s2s_params *p)
{
    p->w = zeroed(p->n);
    p->g = zeroed(p->n);
    p->m = zeroed(p->n);
    p->v = zeroed(p->n);
}

void s2s_params_free(s2s_params *p)
{
    free(p->w);
    free(p->g);
    free(p->m);
    free(p->v);
    memset(p, 0, sizeof *p);
}

void s2s_params_zero_grad(s2s_params *p)
{
    if (p->g)
        memset(p->g, 0, p->n * sizeof(float));
}
