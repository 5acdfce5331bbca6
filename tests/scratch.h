/* tests/scratch.h — a scratch directory for a test and files written into
 * it, shared by the test files that read and write real files.
 */
#ifndef S2S_TEST_SCRATCH_H
#define S2S_TEST_SCRATCH_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
