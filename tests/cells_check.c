/* tests/cells_check.c — the conformance checks of `s2s check-cell`
 * (core/cellcheck.c): the built-in cells and the third-party MGU and IRNN
 * pass all seven; tests/cells/irnn_flawed.so with each of its flaws fails
 * the check that flaw breaks, with its figures.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cellcheck.h"
#include "core/loader.h"

static const s2s_cell_desc *load(s2s_cell *c, const char *name)
{
    const char *b = getenv("S2S_BUILD");
    if (!b || !*b) cr_skip_test("S2S_BUILD is not set (run through make test-core)");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/cells", b);
    setenv("S2S_CELL_PATH", buf, 1);
    if (strchr(name, '/') == NULL && strcmp(name, "mgu") && strncmp(name, "irnn", 4))
        snprintf(buf, sizeof buf, "%s", name);
    else
        snprintf(buf, sizeof buf, "%s/tests/cells/%s.so", b, name);
    s2s_err e;
    cr_assert_eq(s2s_cell_load(c, buf, &e), 0, "%s", e.msg);
    return c->desc;
}

/* Runs the checks; returns the report (malloc'd) and the failures. */
static char *check(const char *name, int *failed)
{
    s2s_cell c;
    const s2s_cell_desc *d = load(&c, name);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    *failed = s2s_cellcheck_run(d, c.path, f);
    fclose(f);
    s2s_cell_unload(&c);
    return text;
}

static int count_lines(const char *s, const char *prefix)
{
    int n = 0;
    for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

static void passes(const char *name)
{
    int failed;
    char *r = check(name, &failed);
    cr_log_info("%s", r);
    cr_assert_eq(failed, 0, "%s:\n%s", name, r);
    cr_assert_eq(count_lines(r, "pass  "), 7, "%s:\n%s", name, r);
    cr_assert_eq(count_lines(r, "FAIL"), 0, "%s:\n%s", name, r);
    const char *names[] = {"descriptor:", "init:", "determinism:", "batch invariance:",
                           "gradients:", "bounds:", "learns:"};
    for (size_t i = 0; i < 7; i++) cr_assert(strstr(r, names[i]), "%s", r);
    free(r);
}

Test(cellcheck, lstm_passes) { passes("lstm"); }
Test(cellcheck, gru_passes) { passes("gru"); }
Test(cellcheck, elman_passes) { passes("elman"); }
Test(cellcheck, mgu_passes) { passes("mgu"); }
Test(cellcheck, irnn_passes) { passes("irnn"); }

/* With flaw `flaw`, the check `fail` fails saying `says`, and no other
 * check fails but those listed in `may` (comma-separated), which the same
 * flaw can also spoil. */
static void flawed(const char *flaw, const char *fail, const char *may,
                   const char *says)
{
    cr_assert_eq(setenv("S2S_TEST_FLAW", flaw, 1), 0);
    int failed;
    char *r = check("irnn_flawed", &failed);
    unsetenv("S2S_TEST_FLAW");
    cr_assert_geq(failed, 1, "%s:\n%s", flaw, r);
    char line[64];
    snprintf(line, sizeof line, "FAIL  %s:", fail);
    const char *at = strstr(r, line);
    cr_assert_not_null(at, "flaw %s: no '%s' in\n%s", flaw, line, r);
    const char *eol = strchr(at, '\n');
    cr_assert(strstr(at, says) && strstr(at, says) < eol, "flaw %s: '%s' not in\n%s",
              flaw, says, r);
    /* every other FAIL is one the flaw may also break */
    for (const char *p = r; (p = strstr(p, "FAIL  ")); p++) {
        if (p == at) continue;
        const char *name = p + 6;
        int allowed = 0;
        for (const char *m = may; m && *m; m += strcspn(m, ",") + (m[strcspn(m, ",")] == ','))
            allowed |= strncmp(name, m, strcspn(m, ",")) == 0 && name[strcspn(m, ",")] == ':';
        cr_assert(allowed,
                  "flaw %s: unexpected failure %.40s\n%s", flaw, name, r);
    }
    free(r);
}

Test(cellcheck, one_wrong_gradient_term_fails_the_gradient_check)
{
    flawed("grad", "gradients", "learns", "analytic");
}
Test(cellcheck, init_leaving_a_parameter_unset_fails_init)
{
    flawed("init", "init", NULL, "left 1 of 4 parameters unset");
}
Test(cellcheck, a_write_past_the_output_fails_bounds)
{
    flawed("overrun", "bounds", NULL, "wrote next[");
}
Test(cellcheck, a_hidden_state_fails_determinism)
{
    /* the noise also spoils the row comparison and the differences */
    flawed("nondet", "determinism", "batch invariance,gradients,learns", "second run");
}
Test(cellcheck, rows_reading_each_other_fail_batch_invariance)
{
    flawed("batch", "batch invariance", "gradients,learns", "rows must not read each other");
}
