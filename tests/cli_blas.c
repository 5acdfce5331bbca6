/* tests/cli_blas.c — the OpenBLAS kernel choice end to end: `s2s
 * --version` reports the BLAS; a generic fallback (simulated with
 * S2S_BLAS_SELECT=test and OPENBLAS_CORETYPE=Prescott) makes s2s restart
 * on the processor's kernel; a failed check goes back; the user's
 * OPENBLAS_CORETYPE wins.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/blas.h"

static char bin[4200];

static void setup(void)
{
    char b[4096];
    cr_assert_not_null(realpath(getenv("S2S_BUILD") ? getenv("S2S_BUILD") : "build", b));
    snprintf(bin, sizeof bin, "%s/s2s", b);
}

TestSuite(cli_blas, .init = setup, .timeout = 60);

/* The BLAS line of `ENV s2s --version`. */
static void blas_line(const char *env, char *out, size_t size)
{
    char cmd[4600];
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u S2S_BLAS_SELECT "
             "-u S2S_BLAS_SELFCHECK_FAIL %s '%s' --version", env, bin);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    out[0] = 0;
    char line[1024];
    while (fgets(line, sizeof line, p))
        if (strncmp(line, "BLAS: ", 6) == 0) snprintf(out, size, "%s", line);
    cr_assert_eq(pclose(p), 0, "%s", cmd);
    cr_assert(out[0], "no BLAS line from: %s", cmd);
}

/* Whether this processor has a better kernel than the generic one. */
static const char *best_here(void)
{
    s2s_cpuid_regs r;
    s2s_cpu_features f;
    if (s2s_cpuid_read(&r) < 0) return NULL;
    s2s_cpu_features_decode(&r, &f);
    return s2s_blas_best_core(&f);
}

Test(cli_blas, version_reports_library_and_kernel)
{
    char line[1024];
    blas_line("", line, sizeof line);
    cr_assert(strstr(line, "BLAS: OpenBLAS 0."), "%s", line);
    cr_assert(strstr(line, "kernel "), "%s", line);
}

Test(cli_blas, a_generic_fallback_is_replaced)
{
    const char *best = best_here();
    if (!best) cr_skip_test("no AVX here: nothing better than the generic kernel");
    char line[1024], want[64];
    blas_line("S2S_BLAS_SELECT=test OPENBLAS_CORETYPE=Prescott", line, sizeof line);
    snprintf(want, sizeof want, "kernel %s (chosen by s2s", best);
    cr_assert(strstr(line, want), "want '%s' in: %s", want, line);
    cr_assert(strstr(line, "generic Prescott kernel"), "%s", line);
}

Test(cli_blas, a_kernel_that_fails_its_check_is_dropped)
{
    const char *best = best_here();
    if (!best) cr_skip_test("no AVX here: nothing better than the generic kernel");
    char line[1024], want[64];
    blas_line("S2S_BLAS_SELFCHECK_FAIL=1 S2S_BLAS_SELECT=test "
              "OPENBLAS_CORETYPE=Prescott", line, sizeof line);
    snprintf(want, sizeof want, "s2s tried %s: it failed its check", best);
    cr_assert(strstr(line, want), "want '%s' in: %s", want, line);
    cr_assert(!strstr(line, "chosen by s2s"), "%s", line);
}

Test(cli_blas, the_users_choice_wins)
{
    char line[1024];
    blas_line("OPENBLAS_CORETYPE=Prescott", line, sizeof line);
    cr_assert(strstr(line, "kernel Prescott (OPENBLAS_CORETYPE=Prescott)"), "%s", line);
    blas_line("S2S_BLAS_SELECT=off OPENBLAS_CORETYPE=Prescott", line, sizeof line);
    cr_assert(strstr(line, "kernel Prescott"), "%s", line);
}
