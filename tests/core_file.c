/* tests/core_file.c — reading whole files: contents byte for byte (NUL
 * bytes included), the size cap, and the error lines. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/file.h"

static char path[64];

static void write_bytes(const char *data, size_t n)
{
    snprintf(path, sizeof path, "/tmp/s2s-file-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
}

Test(file, whole_file_with_nul_bytes)
{
    write_bytes("a\0b\n", 4);
    size_t len;
    s2s_err err;
    char *buf = s2s_read_file(path, 0, &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    cr_assert_eq(len, 4);
    cr_assert(memcmp(buf, "a\0b\n", 5) == 0); /* NUL appended */
    free(buf);
    unlink(path);
}

Test(file, larger_than_the_cap)
{
    static char big[100000];
    memset(big, 'x', sizeof big);
    write_bytes(big, sizeof big);
    size_t len;
    s2s_err err;
    cr_assert_null(s2s_read_file(path, 1000, &len, &err));
    char want[128];
    snprintf(want, sizeof want, "%s: larger than 1000 bytes", path);
    cr_assert_str_eq(err.msg, want);
    char *buf = s2s_read_file(path, sizeof big, &len, &err);
    cr_assert_not_null(buf);
    cr_assert_eq(len, sizeof big);
    free(buf);
    unlink(path);
}

Test(file, errors_name_the_path)
{
    s2s_err err;
    size_t len;
    cr_assert_null(s2s_read_file("/nonexistent/x", 0, &len, &err));
    cr_assert_str_eq(err.msg, "/nonexistent/x: cannot open: No such file or directory");
    cr_assert_null(s2s_read_file("/tmp", 0, &len, &err));
    cr_assert_str_eq(err.msg, "/tmp: read error: Is a directory");
}
