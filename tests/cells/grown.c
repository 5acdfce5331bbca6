/* tests/cells/grown.c — the ABI's growth rule: a descriptor exactly
 * S2S_CELL_DESC_V1_SIZE bytes long (a plugin built against the first
 * cell.h) and one with fields appended after it (a plugin built against a
 * later cell.h) both load. $S2S_TEST_GROWN picks: "v1" (default) or
 * "later". tests/core_loader.c checks both.
 */
#include <stdlib.h>
#include <string.h>

#include "stub.h"

/* What a later cell.h might look like: today's fields, then more. */
typedef struct later_desc {
    s2s_cell_desc v1;
    void (*appended)(void);
    uint64_t more[3];
} later_desc;

static const s2s_cell_desc v1 =
    STUB_DESC(S2S_CELL_ABI_VERSION, S2S_CELL_DESC_V1_SIZE, "grown");
static const later_desc later = {
    STUB_DESC(S2S_CELL_ABI_VERSION, sizeof(later_desc), "grown"), 0, {0}};

S2S_CELL_EXPORT const s2s_cell_desc *s2s_cell_entry(void)
{
    const char *which = getenv("S2S_TEST_GROWN");
    return which && strcmp(which, "later") == 0 ? &later.v1 : &v1;
}
