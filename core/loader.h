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
    unsigned char sha256[32]; /* of that file, hashed before dlopen */
} s2s_cell;

/* Loads the cell named `name_or_path`. On error returns -1 with one line in
 * err naming the file and what to do. */
int s2s_cell_load(s2s_cell *cell, const char *name_or_path, s2s_err *err);
void s2s_cell_unload(s2s_cell *cell);

/* Loads the cell called `name` (a plain name, no '/') from the first of
 * `files` (NULL-terminated, may be NULL: plugin paths the user named, whose
 * base name is the cell's) and then the search path whose SHA-256 is
 * sha256 (NULL: any file of that name). Nothing is dlopen'ed before its
 * digest matches. The error names the cell, the expected digest, every
 * directory searched and the files found there with another digest. */
int s2s_cell_load_pinned(s2s_cell *cell, const char *name,
                         const unsigned char *sha256,
                         const char *const *files, s2s_err *err);

/* The cell name a config entry stands for: the name itself, or a path's
 * base name without ".so". Returns out. */
const char *s2s_cell_key(const char *name_or_path, char *out, size_t size);

/* Checks the shape answers of d for the sizes X, H actually used: sizes in
 * range, param_count at least G*H*(X+1) (W_ih and b_ih, which `project`
 * reads) and at most S2S_CELL_MAX_PARAMS, cache_per_row at most
 * S2S_CELL_MAX_CACHE. Fills *params and *cache (either may be NULL). */
int s2s_cell_check_shape(const s2s_cell_desc *d, int X, int H,
                         size_t *params, size_t *cache, s2s_err *err);

/* Adds a trusted directory searched before all others (the command line's
 * --cell-path); _reset forgets them. */
int s2s_cell_trust_dir(const char *dir, s2s_err *err);
void s2s_cell_trust_reset(void);

/* The host services handed to every plugin call; the same, telling
 * backward that the host adds the recurrent weights' gradient over whole
 * sequences (cells/cell.h, recurrent_weight_offset). */
const s2s_cell_host *s2s_cell_host_services(void);
const s2s_cell_host *s2s_cell_host_summing(void);

/* The descriptor's recurrent_weight_offset, or NULL when the plugin does
 * not set it or was built before the field existed. */
typedef size_t (*s2s_cell_rec_off_fn)(int X, int H);
s2s_cell_rec_off_fn s2s_cell_recurrent_offset(const s2s_cell_desc *d);

/* The directories searched, colon-separated, for messages and --help. */
const char *s2s_cell_search_path(char *buf, size_t size);

#endif
