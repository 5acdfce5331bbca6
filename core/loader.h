/* core/loader.h — finds, loads and checks cell plugins.
 *
 * A cell is named either by a plain name ("lstm") looked up along the
 * search path — each directory of $S2S_CELL_PATH (colon-separated), then
 * ../lib/s2s/cells beside the running program, then the install directory,
 * then the build directory of the built-in cells — as
 * NAME.so, or by an explicit path to a .so (anything containing a '/' or
 * ending in ".so"). The plugin's declared name must match the name asked
 * for; for a path, that is the file's base name without ".so".
 */
#ifndef S2S_LOADER_H
#define S2S_LOADER_H

#include "cells/cell.h"
#include "core/error.h"

typedef struct s2s_cell {
    const s2s_cell_desc *desc;
    void *handle;       /* dlopen handle */
    char path[4096];    /* the file it was loaded from */
} s2s_cell;

/* Loads the cell named `name_or_path`. On error returns -1 with one line in
 * err naming the file and what to do. */
int s2s_cell_load(s2s_cell *cell, const char *name_or_path, s2s_err *err);
void s2s_cell_unload(s2s_cell *cell);

/* The host services handed to every plugin call. */
const s2s_cell_host *s2s_cell_host_services(void);

/* The directories searched, colon-separated, for messages and --help. */
const char *s2s_cell_search_path(char *buf, size_t size);

#endif
