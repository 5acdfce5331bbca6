/* tests/cells/bad_size.c — a cell plugin whose descriptor declares fewer
 * bytes than ABI version 1 needs.
 * The loader must refuse it with a one-line message (tests/core_loader.c).
 */
#include "stub.h"

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION, offsetof(s2s_cell_desc, forward), "bad_size");

__attribute__((visibility("default"))) const s2s_cell_desc *
s2s_cell_entry(void)
{
    return &desc;
}
