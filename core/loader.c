/* core/loader.c — finds cell plugins along the search path, loads them with
 * dlopen and checks their descriptor before anything else uses it; and the
 * table of host services every plugin call receives.
 *
 * Every failure is one line naming the file and what to do about it.
 */
#include "core/loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kernels.h"
#include "core/rng.h"
#include "core/sha256.h"

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

#define HOST_SERVICES                                                   \
    .abi_version = S2S_CELL_ABI_VERSION, .size = sizeof(s2s_cell_host), \
    .gemm = s2s_gemm, .sigmoid = s2s_sigmoid, .tanh = s2s_tanh,         \
    .uniform = host_uniform

static const s2s_cell_host host_services = {HOST_SERVICES};

/* The same services, with the host adding the recurrent weights'
 * gradient over whole sequences (seq2seq/step.c's layer_backward). */
static const s2s_cell_host host_summing = {HOST_SERVICES, .sums_recurrent_grad = 1};

const s2s_cell_host *s2s_cell_host_services(void)
{
    return &host_services;
}

const s2s_cell_host *s2s_cell_host_summing(void)
{
    return &host_summing;
}

s2s_cell_rec_off_fn s2s_cell_recurrent_offset(const s2s_cell_desc *d)
{
    size_t end = offsetof(s2s_cell_desc, recurrent_weight_offset) +
                 sizeof d->recurrent_weight_offset;
    return d->size >= end ? d->recurrent_weight_offset : NULL;
}

/* --------------------------------------------------------- search path */

/* Directories given on the command line (--cell-path), searched first. */
#define MAX_TRUSTED_DIRS 8
static char *trusted_dirs[MAX_TRUSTED_DIRS];
static int n_trusted_dirs;

int s2s_cell_trust_dir(const char *dir, s2s_err *err)
{
    if (!dir || !*dir)
        return s2s_fail(err, "--cell-path: empty directory name");
    if (n_trusted_dirs == MAX_TRUSTED_DIRS)
        return s2s_fail(err, "--cell-path: at most %d directories",
                        MAX_TRUSTED_DIRS);
    trusted_dirs[n_trusted_dirs++] = s2s_xstrdup(dir);
    return 0;
}

void s2s_cell_trust_reset(void)
{
    for (int i = 0; i < n_trusted_dirs; i++)
        free(trusted_dirs[i]);
    n_trusted_dirs = 0;
}

/* Calls fn(dir, len, ctx) for each directory in search order, stopping
 * when it returns non-zero (and returning that). Empty entries of
 * $S2S_CELL_PATH are skipped. */
static int each_dir(int (*fn)(const char *dir, size_t len, void *ctx),
                    void *ctx)
{
    for (int i = 0; i < n_trusted_dirs; i++) {
        int r = fn(trusted_dirs[i], strlen(trusted_dirs[i]), ctx);
        if (r)
            return r;
    }
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

/* Checks what the host is about to rely on: version, size, name, shape.
 * Only the fields of ABI version 1 (S2S_CELL_DESC_V1_SIZE bytes) are
 * required; a descriptor may be larger (a plugin built against a later
 * cell.h that appended fields), and the host reads no field past the size
 * the plugin declares. */
static int check_desc(const s2s_cell_desc *d, const char *path,
                      const char *want, s2s_err *err)
{
    if (d->abi_version != S2S_CELL_ABI_VERSION)
        return s2s_fail(err,
                        "%s: cell ABI version %u, but this s2s speaks version "
                        "%u: rebuild it against this s2s's cells/cell.h",
                        path, (unsigned)d->abi_version,
                        (unsigned)S2S_CELL_ABI_VERSION);
    if (d->size < S2S_CELL_DESC_V1_SIZE)
        return s2s_fail(err,
                        "%s: cell descriptor is %u bytes, ABI version %u "
                        "needs at least %zu: rebuild it against this s2s's "
                        "cells/cell.h",
                        path, (unsigned)d->size, (unsigned)d->abi_version,
                        (size_t)S2S_CELL_DESC_V1_SIZE);
    if (!d->name || strcmp(d->name, want) != 0)
        return s2s_fail(err,
                        "%s: asked for cell '%s' but the file says it is "
                        "'%.200s': name the file %.200s.so or ask for '%.200s'",
                        path, want, d->name ? d->name : "(null)",
                        d->name ? d->name : "NAME", d->name ? d->name : "?");

    const char *bad = NULL;
    if (d->state_per_unit < 1 || d->state_per_unit > S2S_CELL_MAX_STATE)
        bad = "state_per_unit (S) must be 1..4";
    else if (d->proj_per_unit < 1 || d->proj_per_unit > S2S_CELL_MAX_PROJ)
        bad = "proj_per_unit (G) must be 1..64";
    else if (!d->param_count || !d->cache_per_row || !d->init ||
             !d->project || !d->forward || !d->backward ||
             !d->project_backward)
        bad = "every function pointer must be set";
    else if (s2s_cell_check_shape(d, 8, 8, NULL, NULL, NULL) != 0)
        bad = "param_count(8, 8), cache_per_row(8, 8) or "
              "recurrent_weight_offset(8, 8) out of range";
    if (bad)
        return s2s_fail(err,
                        "%s: cell '%s' has an inconsistent shape (%s, "
                        "S=%d, G=%d): fix the plugin's descriptor",
                        path, d->name, bad, d->state_per_unit,
                        d->proj_per_unit);
    return 0;
}

int s2s_cell_check_shape(const s2s_cell_desc *d, int X, int H,
                         size_t *params, size_t *cache, s2s_err *err)
{
    const char *name = d->name ? d->name : "?";
    if (X < 1 || H < 1 || X > S2S_CELL_MAX_SIZE || H > S2S_CELL_MAX_SIZE)
        return s2s_fail(err, "cell '%s': sizes X=%d, H=%d out of 1..%d", name,
                        X, H, S2S_CELL_MAX_SIZE);
    /* the least a cell can hold: W_ih (G*H x X) and b_ih (G*H), which
     * `project` reads by the ABI; fits size_t since G <= 64 and X, H are
     * bounded */
    size_t least = (size_t)d->proj_per_unit * (size_t)H * ((size_t)X + 1);
    size_t n = d->param_count(X, H);
    if (n < least || n > S2S_CELL_MAX_PARAMS)
        return s2s_fail(err,
                        "cell '%s': param_count(%d, %d) = %zu, outside "
                        "%zu..%llu (G*H*(X+1) at least, for W_ih and b_ih): "
                        "fix the plugin",
                        name, X, H, n, least,
                        (unsigned long long)S2S_CELL_MAX_PARAMS);
    size_t k = d->cache_per_row(X, H);
    if (k > S2S_CELL_MAX_CACHE)
        return s2s_fail(err,
                        "cell '%s': cache_per_row(%d, %d) = %zu, more than "
                        "%d: fix the plugin",
                        name, X, H, k, S2S_CELL_MAX_CACHE);
    s2s_cell_rec_off_fn rec = s2s_cell_recurrent_offset(d);
    if (rec) {
        /* W_rec (G*H x H) inside the parameters; G*H*H < 2^38 */
        size_t off = rec(X, H), size = (size_t)d->proj_per_unit * H * H;
        if (off > n || size > n - off)
            return s2s_fail(err,
                            "cell '%s': recurrent_weight_offset(%d, %d) = %zu "
                            "puts W_rec (%zu floats) past param_count %zu: "
                            "fix the plugin", name, X, H, off, size, n);
    }
    if (params) *params = n;
    if (cache) *cache = k;
    return 0;
}

/* Opens path and hashes it; returns the open descriptor (positioned
 * anywhere) or -1 with err filled. */
static int open_hashed(const char *path, unsigned char sha[32], s2s_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s2s_fail(err,
                        "%s: no such cell plugin file (%s): check the path, or "
                        "give a cell name to search S2S_CELL_PATH",
                        path, strerror(errno));
    if (s2s_sha256_fd(fd, path, sha, err) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* dlopens path, whose digest is sha, and closes fd. (Not through
 * /proc/self/fd: glibc would take a later, different file opened under the
 * same descriptor number for the one already loaded. The directories
 * searched are the user's own, so the file is not swapped in between.) */
static int load_fd(s2s_cell *cell, int fd, const char *path,
                   const unsigned char sha[32], const char *want, s2s_err *err)
{
    close(fd);
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return s2s_fail(err,
                        "%s: cannot load as a cell plugin (%.300s): it must be a "
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
    memcpy(cell->sha256, sha, 32);
    snprintf(cell->path, sizeof cell->path, "%s", path);
    return 0;
}

static int load_file(s2s_cell *cell, const char *path, const char *want,
                     s2s_err *err)
{
    unsigned char sha[32];
    int fd = open_hashed(path, sha, err);
    if (fd < 0)
        return -1;
    return load_fd(cell, fd, path, sha, want, err);
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

const char *s2s_cell_key(const char *name_or_path, char *out, size_t size)
{
    name_of_path(name_or_path, out, size);
    return out;
}

/* ----------------------------------------------------- pinned loading */

typedef struct pinned {
    s2s_cell *cell;
    const char *name;
    const unsigned char *sha;  /* NULL: any */
    int loaded;                /* 1 loaded, -1 a hard error in err */
    s2s_err *err;
    char seen[600];            /* files found with another digest */
} pinned;

static int try_candidate(pinned *p, const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    unsigned char sha[32];
    s2s_err e;
    int fd = open_hashed(path, sha, &e);
    if (fd < 0)
        return 0;
    if (p->sha && memcmp(sha, p->sha, 32) != 0) {
        close(fd);
        char hex[65];
        s2s_sha256_hex(sha, hex);
        size_t used = strlen(p->seen);
        snprintf(p->seen + used, sizeof p->seen - used, "%s%s with sha256 %s",
                 used ? ", " : "", path, hex);
        return 0;
    }
    p->loaded = load_fd(p->cell, fd, path, sha, p->name, p->err) == 0 ? 1 : -1;
    return 1;
}

static int pinned_in_dir(const char *dir, size_t len, void *ctx)
{
    pinned *p = ctx;
    char path[4096];
    int n = snprintf(path, sizeof path, "%.*s/%s.so", (int)len, dir, p->name);
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    return try_candidate(p, path);
}

int s2s_cell_load_pinned(s2s_cell *cell, const char *name,
                         const unsigned char *sha256,
                         const char *const *files, s2s_err *err)
{
    memset(cell, 0, sizeof *cell);
    if (!name || !*name || strlen(name) > 200 || strchr(name, '/') ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return s2s_fail(err, "cell name '%.200s' is not a plain name",
                        name ? name : "");
    pinned p = { cell, name, sha256, 0, err, "" };
    for (int i = 0; files && files[i] && !p.loaded; i++) {
        char key[256];
        s2s_cell_key(files[i], key, sizeof key);
        if (strcmp(key, name) != 0)
            continue;
        char here[4096];
        /* "x.so" alone is the file here, never dlopen's library search */
        snprintf(here, sizeof here, "%s%s", strchr(files[i], '/') ? "" : "./",
                 files[i]);
        try_candidate(&p, here);
    }
    if (!p.loaded)
        each_dir(pinned_in_dir, &p);
    if (p.loaded == 1)
        return 0;
    if (p.loaded < 0)
        return -1;
    char dirs[600], hex[65] = "(any)";
    s2s_cell_search_path(dirs, sizeof dirs);
    if (sha256)
        s2s_sha256_hex(sha256, hex);
    return s2s_fail(err,
                    "cell '%s' with sha256 %s not found in %s%s%s%s: put the "
                    "plugin the model was trained with in one of them, or set "
                    "S2S_CELL_PATH or --cell-path to its directory",
                    name, hex, dirs, files && files[0] ? " or the run file" : "",
                    p.seen[0] ? "; found " : "", p.seen);
}

void s2s_cell_unload(s2s_cell *cell)
{
    if (cell->handle)
        dlclose(cell->handle);
    memset(cell, 0, sizeof *cell);
}
