/* tests/cells/no_entry.c — a shared object that exports no s2s_cell_entry (a
 * misspelt entry point instead).
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include "stub.h"

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION, sizeof(s2s_cell_desc), "no_entry");

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry_point(void)
{
    return &desc;
}
