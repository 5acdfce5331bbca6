/* core/cellcheck.h — conformance checks for cell plugins, what `s2s
 * check-cell` runs (as lv2lint does for LV2 plugins): a cell is called the
 * way training calls it, on small problems, and each check reports one
 * line, pass or FAIL, with its figures.
 *
 *   descriptor        ABI, size, name, S and G, shapes at a few (X, H)
 *   init              fills exactly its parameters, finite, same seed ->
 *                     same values
 *   determinism       forward and backward give the same bits twice
 *   batch invariance  a row's result does not depend on the other rows
 *   gradients         every parameter, input and previous-state gradient
 *                     against central finite differences; accumulates (+=)
 *   bounds            no write outside the buffers handed over (guard
 *                     floats around each), none into read-only inputs or
 *                     the padding of strided rows
 *   learns            a toy task (recall the first input after a few
 *                     steps): the loss falls under Adam
 *
 * Knows only cells/cell.h and core. A plugin that crashes crashes the
 * check; s2s_cellcheck_current names the check that was running, for a
 * signal handler to report.
 */
#ifndef S2S_CELLCHECK_H
#define S2S_CELLCHECK_H

#include <stdio.h>

#include "cells/cell.h"

/* The tolerance of the gradient check: |analytic - numeric| <=
 * S2S_CELLCHECK_RTOL (|numeric| + 0.1), and the whole gradient within
 * S2S_CELLCHECK_L2 in relative L2 norm. */
#define S2S_CELLCHECK_RTOL 5e-3
#define S2S_CELLCHECK_L2 3e-4

/* Runs every check on the descriptor d (loaded from `path`, for the
 * report), writing one line per check to out: "pass  NAME: figures" or
 * "FAIL  NAME: what, figures". Returns the number of failed checks. */
int s2s_cellcheck_run(const s2s_cell_desc *d, const char *path, FILE *out);

/* The name of the check running now ("load" before and after);
 * async-signal-safe. */
const char *s2s_cellcheck_current(void);

#endif
