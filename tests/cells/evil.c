/* tests/cells/evil.c — a plugin whose constructor leaves a mark: it writes
 * the file $S2S_TEST_EVIL_MARK as soon as it is loaded, before any check
 * could run. Otherwise a well-formed cell named "evil". Tests show that
 * reading a checkpoint that points at it never loads it
 * (tests/core_loader.c, tests/cli_hardening.c).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "stub.h"

__attribute__((constructor)) static void mark(void)
{
    const char *p = getenv("S2S_TEST_EVIL_MARK");
    if (p) {
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) close(fd);
    }
}

static const s2s_cell_desc desc =
    STUB_DESC(S2S_CELL_ABI_VERSION, sizeof(s2s_cell_desc), "evil");

S2S_CELL_EXPORT const s2s_cell_desc *s2s_cell_entry(void) { return &desc; }
