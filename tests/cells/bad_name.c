/* tests/cells/bad_name.c — a cell plugin whose descriptor names another
 * cell than its file says.
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include "stub.h"

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION, sizeof(s2s_cell_desc), "impostor");

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &desc;
}
