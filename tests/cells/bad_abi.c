/* tests/cells/bad_abi.c — a cell plugin built against another ABI version.
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include "stub.h"

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION + 41, sizeof(s2s_cell_desc), "bad_abi");

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &desc;
}
