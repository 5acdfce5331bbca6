/* tests/cells/bad_shape.c — a cell plugin with an inconsistent shape.
 * Which flaw it has is chosen by $S2S_TEST_BAD_SHAPE when the host calls
 * the entry:
 * state0 (S = 0, the default), state5 (S = 5), proj0 (G = 0), nullfn (no
 * backward), count0 (param_count is 0), nodesc (the entry returns NULL).
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include <stdlib.h>
#include <string.h>

#include "stub.h"

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
