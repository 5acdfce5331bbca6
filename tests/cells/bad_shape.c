/* tests/cells/bad_shape.c — a cell plugin with an inconsistent shape.
 * Which flaw it has is chosen by $S2S_TEST_BAD_SHAPE when the host calls
 * the entry:
 * state0 (S = 0, the default), state5 (S = 5), proj0 (G = 0), nullfn (no
 * backward), count0 (param_count is 0), nodesc (the entry returns NULL);
 * lying shapes: projbig (G = INT32_MAX), counthuge (param_count 2^62),
 * cachehuge (cache_per_row 2^40), countsmall (param_count 1, fewer floats
 * than W_ih and b_ih), liebig (honest for H <= 8, param_count 2^62 above:
 * caught only when the host asks for the sizes it uses); recpast (W_rec
 * placed past the parameters).
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stub.h"

static size_t zero(int X, int H) { return 0; }
static size_t one(int X, int H) { return 1; }
static size_t huge(int X, int H) { return (size_t)1 << 62; }
static size_t huge_cache(int X, int H) { return (size_t)1 << 40; }
static size_t lie_big(int X, int H) { return H <= 8 ? count(X, H) : (size_t)1 << 62; }

#define DESC(S_, G_, COUNT, BACKWARD) DESCK(S_, G_, COUNT, BACKWARD, cache)
#define DESCK(S_, G_, COUNT, BACKWARD, CACHE)                              \
    {                                                                      \
        .abi_version = S2S_CELL_ABI_VERSION,                               \
        .size = sizeof(s2s_cell_desc),                                     \
        .name = "bad_shape",                                               \
        .state_per_unit = S_, .proj_per_unit = G_,                         \
        .param_count = COUNT, .cache_per_row = CACHE, .init = init,        \
        .project = project, .forward = forward, .backward = BACKWARD,      \
        .project_backward = project_backward,                              \
    }

static const s2s_cell_desc state0 = DESC(0, 1, count, backward);
static const s2s_cell_desc state5 = DESC(5, 1, count, backward);
static const s2s_cell_desc proj0 = DESC(1, 0, count, backward);
static const s2s_cell_desc nullfn = DESC(1, 1, count, NULL);
static const s2s_cell_desc count0 = DESC(1, 1, zero, backward);
static const s2s_cell_desc projbig = DESC(1, INT32_MAX, count, backward);
static const s2s_cell_desc counthuge = DESC(1, 1, huge, backward);
static const s2s_cell_desc cachehuge = DESCK(1, 1, count, backward, huge_cache);
static const s2s_cell_desc countsmall = DESC(1, 1, one, backward);
static const s2s_cell_desc liebig = DESC(1, 1, lie_big, backward);
/* W_rec said to start where the parameters end */
static const s2s_cell_desc recpast = {
    .abi_version = S2S_CELL_ABI_VERSION, .size = sizeof(s2s_cell_desc),
    .name = "bad_shape", .state_per_unit = 1, .proj_per_unit = 1,
    .param_count = count, .cache_per_row = cache, .init = init,
    .project = project, .forward = forward, .backward = backward,
    .project_backward = project_backward, .recurrent_weight_offset = count,
};

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
    if (strcmp(which, "projbig") == 0)
        return &projbig;
    if (strcmp(which, "counthuge") == 0)
        return &counthuge;
    if (strcmp(which, "cachehuge") == 0)
        return &cachehuge;
    if (strcmp(which, "countsmall") == 0)
        return &countsmall;
    if (strcmp(which, "liebig") == 0)
        return &liebig;
    if (strcmp(which, "recpast") == 0)
        return &recpast;
    return NULL; /* "nodesc" */
}
