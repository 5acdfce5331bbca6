/* tests/core_error.c — one-line error messages (formatting, prefixing,
 * truncation, NULL sinks) and the allocators: alignment, zeroing, and the
 * fatal "out of memory" message with abort.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"

/* Under AddressSanitizer a huge malloc must return NULL (as libc's does)
 * for the out-of-memory path to be reachable; ignored without ASan. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

Test(error, fail_formats_and_returns_minus_one)
{
    s2s_err e;
    cr_assert_eq(s2s_fail(&e, "%s:%d: key '%s': %s", "run.yaml", 12, "a.b",
                          "not a number"),
                 -1);
    cr_assert_str_eq(e.msg, "run.yaml:12: key 'a.b': not a number");
    cr_assert_eq(s2s_fail(NULL, "ignored %d", 1), -1);
}

Test(error, prefix_prepends)
{
    s2s_err e;
    s2s_fail(&e, "byte %d: bad UTF-8", 17);
    cr_assert_eq(s2s_fail_prefix(&e, "%s", "corpus.tsv"), -1);
    cr_assert_str_eq(e.msg, "corpus.tsv: byte 17: bad UTF-8");
    s2s_fail_prefix(&e, "loading %s", "x");
    cr_assert_str_eq(e.msg, "loading x: corpus.tsv: byte 17: bad UTF-8");
    cr_assert_eq(s2s_fail_prefix(NULL, "x"), -1);
}

Test(error, always_one_line)
{
    s2s_err e;
    s2s_fail(&e, "dlopen said:\n%s\r\n", "line two");
    cr_assert_null(strchr(e.msg, '\n'));
    cr_assert_null(strchr(e.msg, '\r'));
    cr_assert_str_eq(e.msg, "dlopen said: line two  ");
    s2s_fail_prefix(&e, "a\nb");
    cr_assert_null(strchr(e.msg, '\n'));
}

Test(error, long_messages_truncate)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s2s_err e;
    s2s_fail(&e, "%s", big);
    cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
    s2s_fail_prefix(&e, "%s", "pre");
    cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
    cr_assert_eq(strncmp(e.msg, "pre: xxx", 8), 0);
    s2s_fail(&e, "tail");
    s2s_fail_prefix(&e, "%s", big);
    cr_assert_eq(strlen(e.msg), sizeof e.msg - 1);
}

Test(alloc, basic)
{
    char *p = s2s_xmalloc(0);
    cr_assert_not_null(p);
    free(p);
    int *z = s2s_xcalloc(100, sizeof *z);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(z[i], 0);
    z = s2s_xrealloc(z, 1000 * sizeof *z);
    cr_assert_eq(z[99], 0);
    free(z);
    char *s = s2s_xstrdup("hello");
    cr_assert_str_eq(s, "hello");
    free(s);
    for (size_t n = 0; n < 300; n += 37) {
        void *a = s2s_xaligned(n);
        cr_assert_eq((uintptr_t)a % 64, 0u);
        memset(a, 1, n);
        free(a);
    }
}

/* Runs fn in a child with stderr captured: it must abort with the one
 * out-of-memory line. */
static void expect_oom(void (*fn)(void), const char *want_prefix)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0); /* not reached if it aborts */
    }
    close(fd[1]);
    char buf[256] = { 0 };
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "child status %d, stderr: %s", status, buf);
    /* (under ASan a warning of its own comes first) */
    const char *line = strstr(buf, want_prefix);
    cr_assert(line && (line == buf || line[-1] == '\n'), "stderr: %s", buf);
    cr_assert_not_null(strstr(buf, " bytes)\n"), "stderr: %s", buf);
}

static void huge_malloc(void) { free(s2s_xmalloc(SIZE_MAX / 2)); }
static void huge_calloc(void) { free(s2s_xcalloc(SIZE_MAX / 2, 4)); }
static void huge_realloc(void) { free(s2s_xrealloc(NULL, SIZE_MAX / 2)); }
static void huge_aligned(void) { free(s2s_xaligned(SIZE_MAX / 2)); }

Test(alloc, out_of_memory_aborts_with_message)
{
    char want[64];
    snprintf(want, sizeof want, "s2s: out of memory (%zu bytes)",
             SIZE_MAX / 2);
    expect_oom(huge_malloc, want);
    expect_oom(huge_realloc, want);
    expect_oom(huge_aligned, want);
    expect_oom(huge_calloc, "s2s: out of memory (");
}
