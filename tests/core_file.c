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

/* Line-oriented reads stop at the first line longer than the bound,
 * naming the line; the end of a file counts as a line end. */
Test(file, text_file_line_bound)
{
    write_bytes("ab\ncd\rxxxxxxxxxx\n", 17);
    size_t len;
    s2s_err err;
    cr_assert_null(s2s_read_text_file(path, 5, &len, &err));
    cr_assert(strstr(err.msg, ":3: a line longer than 5 bytes"), "%s", err.msg);
    char *buf = s2s_read_text_file(path, 10, &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    cr_assert_eq(len, 17);
    free(buf);
    unlink(path);
    cr_assert_null(s2s_read_text_file("/dev/zero", 1000, &len, &err));
    cr_assert(strstr(err.msg, "/dev/zero:1: a line longer than 1000 bytes"), "%s", err.msg);
}

/* The bounded getline: lines, the end, and a line over the bound. */
Test(file, getline_max)
{
    write_bytes("one\ntwo\nlonger line\n", 20);
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0, n;
    cr_assert_eq(s2s_getline_max(&buf, &cap, &n, f, 8), 1);
    cr_assert_str_eq(buf, "one\n");
    cr_assert_eq(s2s_getline_max(&buf, &cap, &n, f, 8), 1);
    cr_assert_eq(s2s_getline_max(&buf, &cap, &n, f, 8), -2);
    fclose(f);
    f = fopen(path, "r");
    for (int i = 0; i < 3; i++) cr_assert_eq(s2s_getline_max(&buf, &cap, &n, f, 100), 1);
    cr_assert_eq(s2s_getline_max(&buf, &cap, &n, f, 100), 0);
    fclose(f);
    free(buf);
    unlink(path);
}
