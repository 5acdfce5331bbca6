/* tests/scratch.h — a scratch directory for a test and files written into
 * it, shared by the test files that read and write real files; and for the
 * tests that drive build/s2s, where it is and a run of it that captures
 * its exit status, stdout and stderr.
 */
#ifndef S2S_TEST_SCRATCH_H
#define S2S_TEST_SCRATCH_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Creates /tmp/s2s-TAG-XXXXXX into dir (size bytes). */
static inline void scratch_make(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, "/tmp/s2s-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

/* Removes it and everything in it. */
static inline void scratch_remove(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", dir);
}

/* Writes len bytes to dir/name; returns the path, valid until `slot` is
 * used again (slots 0..7). */
static inline const char *scratch_write(const char *dir, int slot, const char *name,
                                 const void *data, size_t len)
{
    static char paths[8][256];
    int n = snprintf(paths[slot], sizeof paths[slot], "%s/%s", dir, name);
    cr_assert(n > 0 && (size_t)n < sizeof paths[slot], "path too long: %s", name);
    FILE *f = fopen(paths[slot], "wb");
    cr_assert_not_null(f, "cannot write %s", paths[slot]);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return paths[slot];
}

/* The contents of dir/name (NUL-terminated, at most cap - 1 bytes,
 * malloc'd) and their length; NULL when it cannot be opened. */
static inline char *scratch_read(const char *dir, const char *name, size_t cap,
                                 size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, cap);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    if (len) *len = n;
    return buf;
}

/* The build directory as an absolute path (the tests run s2s from scratch
 * directories): $S2S_BUILD or ./build. Puts its s2s into bin and points
 * S2S_CELL_PATH at its cells. The returned path is static. */
static inline const char *scratch_find_s2s(char *bin, size_t size)
{
    static char build[4096];
    const char *b = getenv("S2S_BUILD") ? getenv("S2S_BUILD") : "build";
    cr_assert_not_null(realpath(b, build), "no build directory %s", b);
    snprintf(bin, size, "%s/s2s", build);
    char cells[4200];
    snprintf(cells, sizeof cells, "%s/cells", build);
    setenv("S2S_CELL_PATH", cells, 1);
    return build;
}

/* `BIN ARGS` by the shell in dir, stdin from the file `in` (relative to
 * dir, or absolute; NULL: /dev/null), stdout and stderr into dir/out.txt
 * and dir/err.txt. Returns the exit status (128 when killed by a signal)
 * and, where out / err are not NULL, what it wrote (malloc'd). */
static inline int scratch_run_file(const char *dir, const char *bin, const char *args,
                                   const char *in, char **out, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s <%s >out.txt 2>err.txt", dir,
             bin, args, in ? in : "/dev/null");
    int st = system(cmd);
    const char *names[2] = {"out.txt", "err.txt"};
    char **dst[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        if (!dst[i]) continue;
        *dst[i] = scratch_read(dir, names[i], 1 << 22, NULL);
        cr_assert_not_null(*dst[i], "%s/%s missing", dir, names[i]);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The same with stdin_text (written to dir/in.txt) as standard input. */
static inline int scratch_run(const char *dir, const char *bin, const char *args,
                              const char *stdin_text, char **out, char **err)
{
    if (stdin_text) scratch_write(dir, 7, "in.txt", stdin_text, strlen(stdin_text));
    return scratch_run_file(dir, bin, args, stdin_text ? "in.txt" : NULL, out, err);
}

#endif
