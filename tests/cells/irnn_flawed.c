/* tests/cells/irnn_flawed.c — tests/cells/irnn.c with one flaw switched
 * on, chosen by $S2S_TEST_FLAW when a step runs: grad (one gradient term
 * transposed), init (the last bias left unset), overrun (forward writes
 * one float past its output), nondet (forward differs from call to call),
 * batch (rows of a batch leak into each other), crash (forward raises
 * SIGSEGV). Unset or anything else: no
 * flaw. `s2s check-cell` must fail each with the right check
 * (tests/cells_check.c, tests/cli_check_cell.c).
 */
#include <stdlib.h>
#include <string.h>

static int irnn_flaw(const char *what)
{
    const char *f = getenv("S2S_TEST_FLAW");
    return f && strcmp(f, what) == 0;
}

#define IRNN_NAME "irnn_flawed"
#define IRNN_FLAW(what) irnn_flaw(what)
#include "irnn.c"
