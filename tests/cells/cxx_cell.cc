// tests/cells/cxx_cell.cc — a cell written in C++: cells/cell.h has
// extern "C" guards and S2S_CELL_EXPORT gives the entry C linkage, so this
// builds with a C++ compiler and loads (tests/core_loader.c).
#include "stub.h"

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION, sizeof(s2s_cell_desc), "cxx_cell");

S2S_CELL_EXPORT const s2s_cell_desc *s2s_cell_entry(void) { return &desc; }
