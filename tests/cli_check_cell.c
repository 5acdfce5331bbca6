/* tests/cli_check_cell.c — `s2s check-cell` end to end: a good cell gives
 * seven "pass" lines and exit status 0, quickly; each malformed test
 * plugin gives one "FAIL  load:" line with the loader's reason and status
 * 1; a cell with one wrong gradient term fails the gradient check; a
 * plugin that crashes gives a FAIL line naming the check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static char build[4096];

static void setup(void)
{
    cr_assert_not_null(realpath(getenv("S2S_BUILD") ? getenv("S2S_BUILD") : "build", build));
}

TestSuite(cli_check_cell, .init = setup, .timeout = 60);

/* `s2s check-cell ARG` with `env` before it; its stdout (malloc'd) and
 * exit status. */
static int check_cell(const char *env, const char *arg, char **out)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s S2S_CELL_PATH='%s/cells' '%s/s2s' check-cell %s 2>&1",
             env, build, build, arg);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, p);
    buf[n] = 0;
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(cli_check_cell, built_in_cells_and_the_mgu_pass_in_a_second_or_two)
{
    char mgu[4200];
    snprintf(mgu, sizeof mgu, "%s/tests/cells/mgu.so", build);
    const char *cells[] = {"lstm", "gru", "elman", mgu};
    for (int i = 0; i < 4; i++) {
        char *out;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = check_cell("", cells[i], &out);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        cr_assert_eq(rc, 0, "%s:\n%s", cells[i], out);
        cr_assert_null(strstr(out, "FAIL"), "%s:\n%s", cells[i], out);
        cr_assert(strstr(out, "pass: 0 of 7 checks failed"), "%s", out);
        cr_log_info("check-cell %s: %.2f s", cells[i], s);
        cr_assert_lt(s, 20.0, "check-cell %s took %.1f s", cells[i], s);
        free(out);
    }
}

Test(cli_check_cell, malformed_plugins_fail_to_load_with_the_reason)
{
    const struct { const char *file, *env, *says; } cases[] = {
        {"bad_abi", "", "rebuild it against this s2s's cells/cell.h"},
        {"bad_size", "", "descriptor is"},
        {"bad_name", "", "says it is 'impostor'"},
        {"no_entry", "", "no symbol s2s_cell_entry"},
        {"bad_shape", "S2S_TEST_BAD_SHAPE=nullfn", "every function pointer must be set"},
        {"bad_shape", "S2S_TEST_BAD_SHAPE=count0", "inconsistent shape (param_count(8, 8)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char arg[4200], *out;
        snprintf(arg, sizeof arg, "'%s/tests/cells/%s.so'", build, cases[i].file);
        cr_assert_eq(check_cell(cases[i].env, arg, &out), 1, "%s: %s", cases[i].file, out);
        cr_assert(strncmp(out, "FAIL  load: ", 12) == 0, "%s: %s", cases[i].file, out);
        cr_assert(strstr(out, cases[i].says), "%s: '%s' not in %s", cases[i].file,
                  cases[i].says, out);
        free(out);
    }
    char *out;
    cr_assert_eq(check_cell("", "nosuchcell", &out), 1);
    cr_assert(strstr(out, "FAIL  load: ") && strstr(out, "S2S_CELL_PATH"), "%s", out);
    free(out);
}

Test(cli_check_cell, a_wrong_gradient_term_fails_with_status_1)
{
    char arg[4200], *out;
    snprintf(arg, sizeof arg, "'%s/tests/cells/irnn_flawed.so'", build);
    cr_assert_eq(check_cell("S2S_TEST_FLAW=grad", arg, &out), 1, "%s", out);
    cr_assert(strstr(out, "FAIL  gradients: "), "%s", out);
    cr_assert(strstr(out, "pass  descriptor: "), "%s", out);
    free(out);
    /* a crash is one more FAIL line, naming the check that was running */
    cr_assert_eq(check_cell("S2S_TEST_FLAW=crash", arg, &out), 1, "%s", out);
    cr_assert(strstr(out, "pass  init: "), "%s", out);
    cr_assert(strstr(out, "FAIL  determinism: the plugin crashed (signal 11)"), "%s", out);
    free(out);
    cr_assert_eq(check_cell("", arg, &out), 0, "without the flaw: %s", out);
    free(out);
    cr_assert_eq(check_cell("", "", &out), 2, "no argument is a usage error: %s", out);
    free(out);
}
