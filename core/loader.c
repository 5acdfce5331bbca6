/* core/loader.c — finds cell plugins along the search path, loads them with
 * dlopen and checks their descriptor before anything else uses it; and the
 * table of host services every plugin call receives.
 *
 * Every failure is one line naming the file and what to do about it.
 */
#include "core/loader.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kernels.h"
#include "core/rng.h"

#ifndef S2S_CELL_DIR_INSTALL
#define S2S_CELL_DIR_INSTALL "/usr/local/lib/s2s/cells"
#endif
#ifndef S2S_CELL_DIR_BUILD
#define S2S_CELL_DIR_BUILD "build/cells"
#endif

/* ------------------------------------------------------- host services */

static float host_uniform(void *rng, float lo, float hi)
{
    return s2s_rng_uniform((s2s_rng *)rng, lo, hi);
}

static const s2s_cell_host host_services = {
    .abi_version = S2S_CELL_ABI_VERSION,
    .size = sizeof(s2s_cell_host),
    .gemm = s2s_gemm,
    .sigmoid = s2s_sigmoid,
    .tanh = s2s_tanh,
    .uniform = host_uniform,
};

const s2s_cell_host *s2s_cell_host_services(void)
{
    return &host_services;
}

/* --------------------------------------------------------- search path */

/* Calls fn(dir, len, ctx) for each directory in search order, stopping
 * when it returns non-zero (and returning that). Empty entries of
 * $S2S_CELL_PATH are skipped. */
static int each_dir(int (*fn)(const char *dir, size_t len, void *ctx),
                    void *ctx)
{
    const char *env = getenv("S2S_CELL_PATH");
    if (env) {
        const char *p = env;
        while (*p) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            if (len > 0) {
                int r = fn(p, len, ctx);
                if (r)
                    return r;
            }
            if (!colon)
                break;
            p = colon + 1;
        }
    }
    /* beside the program: BIN/../lib/s2s/cells, so an installed tree
     * works wherever it was installed (DESTDIR, a changed PREFIX) */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            strcpy(slash, "/../lib/s2s/cells");
            int r = fn(exe, strlen(exe), ctx);
            if (r)
                return r;
        }
    }
    int r = fn(S2S_CELL_DIR_INSTALL, strlen(S2S_CELL_DIR_INSTALL), ctx);
    if (r)
        return r;
    return fn(S2S_CELL_DIR_BUILD, strlen(S2S_CELL_DIR_BUILD), ctx);
}

typedef struct joiner {
    char *buf;
    size_t size, used;
} joiner;

static void join(joiner *j, const char *s, size_t len)
{
    if (j->size == 0)
        return;
    if (j->used > 0 && j->used + 1 < j->size)
        j->buf[j->used++] = ':';
    size_t room = j->size - 1 - j->used;
    if (len > room)
        len = room;
    memcpy(j->buf + j->used, s, len);
    j->used += len;
    j->buf[j->used] = '\0';
}

static int join_dir(const char *dir, size_t len, void *ctx)
{
    join(ctx, dir, len);
    return 0;
}

const char *s2s_cell_search_path(char *buf, size_t size)
{
    joiner j = { buf, size, 0 };
    if (size > 0)
        buf[0] = '\0';
    each_dir(join_dir, &j);
    return buf;
}

typedef struct finder {
    const char *name;
    char *path;        /* out: DIR/NAME.so of the first readable file */
    size_t path_size;
} finder;

static int find_in_dir(const char *dir, size_t len, void *ctx)
{
    finder *f = ctx;
    int n = snprintf(f->path, f->path_size, "%.*s/%s.so", (int)len, dir,
                     f->name);
    if (n < 0 || (size_t)n >= f->path_size)
        return 0;
    return access(f->path, F_OK) == 0;
}

/* ---------------------------------------------------------------- load */

static int is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') != NULL || (n >= 3 && strcmp(s + n - 3, ".so") == 0);
}

/* The name a file is expected to declare: its base name without ".so". */
static void name_of_path(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n >= 3 && strcmp(base + n - 3, ".so") == 0)
        n -= 3;
    if (n >= size)
        n = size - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

/* Checks what the host is about to rely on: version, size, name, shape. */
static int check_desc(const s2s_cell_desc *d, const char *path,
                      const char *want, s2s_err *err)
{
    if (d->abi_version != S2S_CELL_ABI_VERSION)
        return s2s_fail(err,
                        "%s: cell ABI version %u, but this s2s speaks version "
                        "%u: rebuild it against this s2s's cells/cell.h",
                        path, (unsigned)d->abi_version,
                        (unsigned)S2S_CELL_ABI_VERSION);
    if (d->size < sizeof(s2s_cell_desc))
        return s2s_fail(err,
                        "%s: cell descriptor is %u bytes, ABI version %u "
                        "needs %zu: rebuild it against this s2s's "
                        "cells/cell.h",
                        path, (unsigned)d->size, (unsigned)d->abi_version,
                        sizeof(s2s_cell_desc));
    if (!d->name || strcmp(d->name, want) != 0)
        return s2s_fail(err,
                        "%s: asked for cell '%s' but the file says it is "
                        "'%s': name the file %s.so or ask for '%s'",
                        path, want, d->name ? d->name : "(null)",
                        d->name ? d->name : "NAME", d->name ? d->name : "?");

    const char *bad = NULL;
    if (d->state_per_unit < 1 || d->state_per_unit > 4)
        bad = "state_per_unit (S) must be 1..4";
    else if (d->proj_per_unit < 1)
        bad = "proj_per_unit (G) must be at least 1";
    else if (!d->param_count || !d->cache_per_row || !d->init ||
             !d->project || !d->forward || !d->backward ||
             !d->project_backward)
        bad = "every function pointer must be set";
    else if (d->param_count(8, 8) == 0)
        bad = "param_count(8, 8) is 0";
    if (bad)
        return s2s_fail(err,
                        "%s: cell '%s' has an inconsistent shape (%s, "
                        "S=%d, G=%d): fix the plugin's descriptor",
                        path, d->name, bad, d->state_per_unit,
                        d->proj_per_unit);
    return 0;
}

static int load_file(s2s_cell *cell, const char *path, const char *want,
                     s2s_err *err)
{
    if (access(path, F_OK) != 0)
        return s2s_fail(err,
                        "%s: no such cell plugin file: check the path, or "
                        "give a cell name to search S2S_CELL_PATH",
                        path);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return s2s_fail(err,
                        "%s: cannot load as a cell plugin (%s): it must be a "
                        "shared object built for this machine from a cell "
                        "source against cells/cell.h",
                        path, why ? why : "dlopen failed");
    }
    /* dlsym returns void *; POSIX guarantees the function-pointer cast. */
    s2s_cell_entry_fn entry;
    *(void **)&entry = dlsym(h, S2S_CELL_ENTRY);
    if (!entry) {
        dlclose(h);
        return s2s_fail(err,
                        "no symbol %s in %s: is it an s2s cell plugin built "
                        "against cells/cell.h?",
                        S2S_CELL_ENTRY, path);
    }
    const s2s_cell_desc *d = entry();
    if (!d) {
        dlclose(h);
        return s2s_fail(err,
                        "%s: %s() returned no descriptor: fix the plugin",
                        path, S2S_CELL_ENTRY);
    }
    if (check_desc(d, path, want, err) != 0) {
        dlclose(h);
        return -1;
    }
    cell->desc = d;
    cell->handle = h;
    snprintf(cell->path, sizeof cell->path, "%s", path);
    return 0;
}

int s2s_cell_load(s2s_cell *cell, const char *name_or_path, s2s_err *err)
{
    memset(cell, 0, sizeof *cell);
    if (!name_or_path || !*name_or_path)
        return s2s_fail(err, "empty cell name: give a name such as lstm, "
                             "gru or elman, or a path to a .so");

    char want[256];
    if (is_path(name_or_path)) {
        if (strlen(name_or_path) + 2 >= sizeof cell->path)
            return s2s_fail(err, "cell plugin path too long (%zu bytes)",
                            strlen(name_or_path));
        name_of_path(name_or_path, want, sizeof want);
        if (strchr(name_or_path, '/'))
            return load_file(cell, name_or_path, want, err);
        /* "x.so" alone means the file here; dlopen would search the
         * library path for it. */
        char here[sizeof cell->path];
        memcpy(here, "./", 2);
        memcpy(here + 2, name_or_path, strlen(name_or_path) + 1);
        return load_file(cell, here, want, err);
    }

    if (strlen(name_or_path) >= sizeof want)
        return s2s_fail(err, "cell name too long (%zu bytes)",
                        strlen(name_or_path));
    snprintf(want, sizeof want, "%s", name_or_path);
    char path[sizeof cell->path];
    finder f = { want, path, sizeof path };
    if (!each_dir(find_in_dir, &f)) {
        char dirs[700];
        s2s_cell_search_path(dirs, sizeof dirs);
        return s2s_fail(err,
                        "cell '%s' not found: no %s.so in %s; set "
                        "S2S_CELL_PATH=DIR (colon-separated) to the directory "
                        "that holds it, or give the path to the .so",
                        want, want, dirs);
    }
    return load_file(cell, path, want, err);
}

void s2s_cell_unload(s2s_cell *cell)
{
    if (cell->handle)
        dlclose(cell->handle);
    memset(cell, 0, sizeof *cell);
}
