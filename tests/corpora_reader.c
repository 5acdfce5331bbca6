/* tests/corpora_reader.c — the raw pair reader: TSV columns and aligned
 * files, CRLF, BOM, a last line without newline, long lines, blank lines,
 * and every error with its exact FILE:LINE message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpora/reader.h"

#include "scratch.h"

static char dir[64];

static void setup(void) { scratch_make(dir, sizeof dir, "reader"); }
static void teardown(void) { scratch_remove(dir); }

TestSuite(reader, .init = setup, .fini = teardown);

static const char *write_file(int slot, const char *name, const char *data,
                              size_t len)
{
    return scratch_write(dir, slot, name, data, len);
}
#define WRITE(slot, name, lit) write_file(slot, name, lit, sizeof(lit) - 1)

static void expect_pair(s2s_reader *r, const char *src, const char *tgt,
                        size_t line)
{
    s2s_raw_pair p;
    s2s_err err = {{0}};
    int rc = s2s_reader_next(r, &p, &err);
    cr_assert_eq(rc, 1, "expected a pair at line %zu: rc %d, %s", line, rc,
                 err.msg);
    cr_assert_eq(p.line, line);
    cr_assert_eq(p.src_len, strlen(src), "line %zu: src '%.*s'", line,
                 (int)p.src_len, p.src);
    cr_assert(memcmp(p.src, src, p.src_len) == 0);
    cr_assert_eq(p.tgt_len, strlen(tgt), "line %zu: tgt '%.*s'", line,
                 (int)p.tgt_len, p.tgt);
    cr_assert(memcmp(p.tgt, tgt, p.tgt_len) == 0);
}

static void expect_end(s2s_reader *r)
{
    s2s_raw_pair p;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_reader_next(r, &p, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_reader_next(r, &p, &err), 0);
}

static void expect_next_error(s2s_reader *r, const char *msg)
{
    s2s_raw_pair p;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_reader_next(r, &p, &err), -1);
    cr_assert_str_eq(err.msg, msg);
}

Test(reader, tsv_columns)
{
    const char *f = WRITE(0, "a.tsv", "Go.\tVa !\tx\nHi.\tSalut !\ty\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 2, 1, 0, &err), 0);
    expect_pair(&r, "Va !", "Go.", 1);
    expect_pair(&r, "Salut !", "Hi.", 2);
    expect_end(&r);
    cr_assert_eq(r.lines, 2);
    s2s_reader_close(&r);
    /* column 3, and "" target means TSV */
    cr_assert_eq(s2s_reader_open(&r, f, "", 3, 1, 0, &err), 0);
    expect_pair(&r, "x", "Go.", 1);
    expect_pair(&r, "y", "Hi.", 2);
    expect_end(&r);
    s2s_reader_close(&r);
}

Test(reader, crlf_bom_and_last_line_without_newline)
{
    const char *f = WRITE(0, "b.tsv",
                          "\xEF\xBB\xBFGo.\tVa !\r\nHi.\tSalut !\r\nRun!\tCours");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    expect_pair(&r, "Go.", "Va !", 1);
    expect_pair(&r, "Hi.", "Salut !", 2);
    expect_pair(&r, "Run!", "Cours", 3);
    expect_end(&r);
    cr_assert_eq(r.lines, 3);
    s2s_reader_close(&r);
}

Test(reader, empty_file_and_blank_lines)
{
    const char *f = WRITE(0, "e.tsv", "");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    expect_end(&r);
    cr_assert_eq(r.lines, 0);
    s2s_reader_close(&r);

    f = WRITE(0, "bl.tsv", "a\tb\n\r\n\nc\t\n");
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    s2s_raw_pair p;
    expect_pair(&r, "a", "b", 1);
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert(p.blank);
    cr_assert_eq(p.line, 2);
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert(p.blank);
    cr_assert_eq(p.line, 3);
    /* an empty field is not a blank line: the caller counts it */
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert(!p.blank);
    cr_assert_eq(p.src_len, 1);
    cr_assert_eq(p.tgt_len, 0);
    expect_end(&r);
    cr_assert_eq(r.blank, 2);
    cr_assert_eq(r.lines, 4);
    s2s_reader_close(&r);
}

Test(reader, too_few_columns)
{
    const char *f = WRITE(0, "c.tsv", "a\tb\nc\nd\te\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 2, 1, 0, &err), 0);
    expect_pair(&r, "b", "a", 1);
    char want[512];
    snprintf(want, sizeof want, "%s:2: expected at least 2 tab-separated "
             "columns, found 1", f);
    expect_next_error(&r, want);
    s2s_reader_close(&r);

    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 3, 0, &err), 0);
    snprintf(want, sizeof want, "%s:1: expected at least 3 tab-separated "
             "columns, found 2", f);
    expect_next_error(&r, want);
    s2s_reader_close(&r);
}

Test(reader, nul_byte)
{
    const char *f = WRITE(0, "n.tsv", "ab\tcd\nxy\tz\0w\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    expect_pair(&r, "ab", "cd", 1);
    char want[512];
    snprintf(want, sizeof want, "%s:2: NUL byte at byte offset 4 (file "
             "offset 10)", f);
    expect_next_error(&r, want);
    s2s_reader_close(&r);
    /* skipping invalid UTF-8 does not skip NUL bytes */
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 1, &err), 0);
    expect_pair(&r, "ab", "cd", 1);
    expect_next_error(&r, want);
    s2s_reader_close(&r);
}

Test(reader, invalid_utf8_error_and_skip)
{
    const char *f = WRITE(0, "u.tsv",
                          "\xEF\xBB\xBFok\tok\nab\t\xC3\xA9\xFFx\nfin\tend");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    expect_pair(&r, "ok", "ok", 1);
    char want[512];
    snprintf(want, sizeof want, "%s:2: invalid UTF-8 at byte offset 5 (file "
             "offset 14)", f);
    expect_next_error(&r, want);
    s2s_reader_close(&r);

    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 1, &err), 0);
    expect_pair(&r, "ok", "ok", 1);
    expect_pair(&r, "fin", "end", 3);
    expect_end(&r);
    cr_assert_eq(r.invalid_utf8, 1);
    cr_assert_eq(r.lines, 3);
    s2s_reader_close(&r);

    /* an unused column is checked too */
    f = WRITE(1, "u3.tsv", "a\tb\t\xFF\n");
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0);
    snprintf(want, sizeof want, "%s:1: invalid UTF-8 at byte offset 4 (file "
             "offset 4)", f);
    expect_next_error(&r, want);
    s2s_reader_close(&r);
}

Test(reader, long_line)
{
    size_t n = 3 << 20;
    char *data = malloc(n + 16);
    memset(data, 'a', n);
    memcpy(data + n, "\tb\nc\td\n", 7);
    const char *f = write_file(0, "long.tsv", data, n + 7);
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open_max(&r, f, NULL, 1, 2, 0, 4 << 20, &err), 0, "%s", err.msg);
    s2s_raw_pair p;
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert_eq(p.src_len, n);
    cr_assert_eq(p.src[n - 1], 'a');
    expect_pair(&r, "c", "d", 2);
    expect_end(&r);
    s2s_reader_close(&r);
    free(data);
}

Test(reader, aligned_files)
{
    const char *src = WRITE(0, "x.fr", "\xEF\xBB\xBFVa !\r\nSalut !\r\n\r\n"
                                       "Cours\xE2\x80\xAF!");
    const char *tgt = WRITE(1, "x.en", "Go.\nHi.\n\nRun!\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, src, tgt, 0, 0, 0, &err), 0, "%s",
                 err.msg);
    expect_pair(&r, "Va !", "Go.", 1);
    expect_pair(&r, "Salut !", "Hi.", 2);
    s2s_raw_pair p;
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert(p.blank);
    expect_pair(&r, "Cours\xE2\x80\xAF!", "Run!", 4);
    expect_end(&r);
    s2s_reader_close(&r);
}

Test(reader, aligned_length_mismatch)
{
    const char *src = WRITE(0, "m.fr", "a\nb\nc\n");
    const char *tgt = WRITE(1, "m.en", "a\nb");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, src, tgt, 1, 1, 0, &err), -1);
    char want[1024];
    snprintf(want, sizeof want, "aligned files differ in length: %s has 3 "
             "lines, %s has 2", src, tgt);
    cr_assert_str_eq(err.msg, want);
}

Test(reader, aligned_errors_name_their_file)
{
    const char *src = WRITE(0, "v.fr", "ok\nbad\xFF\nok\n");
    const char *tgt = WRITE(1, "v.en", "ok\nok\nb\0d\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, src, tgt, 1, 1, 0, &err), 0);
    expect_pair(&r, "ok", "ok", 1);
    char want[512];
    snprintf(want, sizeof want, "%s:2: invalid UTF-8 at byte offset 3 (file "
             "offset 6)", src);
    expect_next_error(&r, want);
    s2s_reader_close(&r);

    cr_assert_eq(s2s_reader_open(&r, src, tgt, 1, 1, 1, &err), 0);
    expect_pair(&r, "ok", "ok", 1);
    snprintf(want, sizeof want, "%s:3: NUL byte at byte offset 1 (file "
             "offset 7)", tgt);
    expect_next_error(&r, want);
    cr_assert_eq(r.invalid_utf8, 1);
    s2s_reader_close(&r);
}

Test(reader, unreadable_files)
{
    char path[256], want[512];
    s2s_reader r;
    s2s_err err;
    snprintf(path, sizeof path, "%s/nope.tsv", dir);
    cr_assert_eq(s2s_reader_open(&r, path, NULL, 1, 2, 0, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory",
             path);
    cr_assert_str_eq(err.msg, want);

    /* a directory opens but cannot be read */
    cr_assert_eq(s2s_reader_open(&r, dir, NULL, 1, 2, 0, &err), -1);
    snprintf(want, sizeof want, "%s: read error: Is a directory", dir);
    cr_assert_str_eq(err.msg, want);

    /* the target side of aligned files */
    const char *src = WRITE(0, "ok.fr", "a\n");
    cr_assert_eq(s2s_reader_open(&r, src, path, 1, 1, 0, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory",
             path);
    cr_assert_str_eq(err.msg, want);

    /* bad columns */
    cr_assert_eq(s2s_reader_open(&r, src, NULL, 0, 2, 0, &err), -1);
    snprintf(want, sizeof want, "%s: columns are 1-based (got source 0, "
             "target 2)", src);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(s2s_reader_open(&r, "", NULL, 1, 2, 0, &err), -1);
    cr_assert_str_eq(err.msg, "no corpus file given");
}

/* A line longer than the bound is an error naming file and line, found
 * while reading (so /dev/zero fails fast instead of filling memory). */
Test(reader, line_longer_than_the_bound)
{
    const char *f = WRITE(0, "b.tsv", "a\tb\nccccccccccccccccccccc\td\n");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open_max(&r, f, NULL, 1, 2, 0, 10, &err), -1);
    cr_assert(strstr(err.msg, "b.tsv:2: a line longer than 10 bytes"), "%s", err.msg);
    cr_assert_eq(s2s_reader_open_max(&r, "/dev/zero", NULL, 1, 2, 0, 1 << 16, &err), -1);
    cr_assert(strstr(err.msg, "/dev/zero:1: a line longer than 65536 bytes"), "%s", err.msg);
}

/* CR-only line ends (old Mac files) read line by line, in TSV and in
 * aligned files alike. */
Test(reader, cr_only_line_ends)
{
    const char *f = WRITE(0, "cr.tsv", "a\tb\rc\td\r\re\tf");
    s2s_reader r;
    s2s_err err;
    cr_assert_eq(s2s_reader_open(&r, f, NULL, 1, 2, 0, &err), 0, "%s", err.msg);
    expect_pair(&r, "a", "b", 1);
    expect_pair(&r, "c", "d", 2);
    s2s_raw_pair p;
    cr_assert_eq(s2s_reader_next(&r, &p, &err), 1);
    cr_assert(p.blank);
    expect_pair(&r, "e", "f", 4);
    expect_end(&r);
    s2s_reader_close(&r);
    const char *a = WRITE(0, "a.txt", "x\ry\r");
    const char *b = WRITE(1, "b.txt", "1\n2\n");
    cr_assert_eq(s2s_reader_open(&r, a, b, 1, 1, 0, &err), 0, "%s", err.msg);
    expect_pair(&r, "x", "1", 1);
    expect_pair(&r, "y", "2", 2);
    expect_end(&r);
    s2s_reader_close(&r);
}
