/* tests/core_loader.c — loading cell plugins by name along the search path
 * and by explicit path, the host services table, and every way a load can
 * fail: each a single line naming the file and what to do.
 *
 * The bad plugins are the sources in tests/cells/, built to
 * $S2S_BUILD/tests/cells/.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kernels.h"
#include "core/loader.h"
#include "core/rng.h"
#include "core/sha256.h"

#include <fcntl.h>

static const char *build_dir(void)
{
    const char *b = getenv("S2S_BUILD");
    if (!b || !*b)
        cr_skip_test("S2S_BUILD is not set (run through make test-core)");
    return b;
}

/* $S2S_BUILD/SUB */
static const char *bpath(const char *sub)
{
    static char buf[8][4096];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", build_dir(), sub);
    return p;
}

static void use_cell_path(const char *value)
{
    cr_assert_eq(setenv("S2S_CELL_PATH", value, 1), 0);
}

/* The failure contract: -1, one line, the file named, the cell untouched. */
static void expect_fail(const char *name_or_path, const char *file,
                        const char *const *needles)
{
    s2s_cell c;
    s2s_err e;
    memset(&e, 0, sizeof e);
    cr_assert_eq(s2s_cell_load(&c, name_or_path, &e), -1, "loading %s",
                 name_or_path);
    cr_assert_null(c.desc);
    cr_assert_null(c.handle);
    cr_assert_null(strchr(e.msg, '\n'), "one line: %s", e.msg);
    if (file)
        cr_assert_not_null(strstr(e.msg, file), "names %s: %s", file, e.msg);
    for (; needles && *needles; needles++)
        cr_assert_not_null(strstr(e.msg, *needles), "says '%s': %s",
                           *needles, e.msg);
    cr_log_info("%s", e.msg);
}

/* ------------------------------------------------------------- success */

Test(loader, builtins_by_name)
{
    use_cell_path(bpath("cells"));
    const struct { const char *name; int S, G; } want[] = {
        { "lstm", 2, 4 }, { "gru", 1, 3 }, { "elman", 1, 1 }
    };
    for (int i = 0; i < 3; i++) {
        s2s_cell c;
        s2s_err e;
        cr_assert_eq(s2s_cell_load(&c, want[i].name, &e), 0, "%s", e.msg);
        cr_assert_str_eq(c.desc->name, want[i].name);
        cr_assert_eq(c.desc->abi_version, S2S_CELL_ABI_VERSION);
        cr_assert_eq(c.desc->state_per_unit, want[i].S);
        cr_assert_eq(c.desc->proj_per_unit, want[i].G);
        char p[4096];
        snprintf(p, sizeof p, "%s/%s.so", bpath("cells"), want[i].name);
        cr_assert_str_eq(c.path, p);
        s2s_cell_unload(&c);
        cr_assert_null(c.desc);
        cr_assert_null(c.handle);
    }
}

/* Empty entries are skipped, missing directories passed over, the first
 * directory holding NAME.so wins. */
Test(loader, search_order_and_empty_entries)
{
    char v[8192];
    snprintf(v, sizeof v, "::/nonexistent/dir:%s::%s:", bpath("tests/cells"),
             bpath("cells"));
    use_cell_path(v);
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load(&c, "mgu", &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.desc->name, "mgu");
    s2s_cell_unload(&c);
    cr_assert_eq(s2s_cell_load(&c, "gru", &e), 0, "%s", e.msg);
    s2s_cell_unload(&c);

    /* the same plugin loaded twice (encoder and decoder) */
    s2s_cell a, b;
    cr_assert_eq(s2s_cell_load(&a, "lstm", &e), 0);
    cr_assert_eq(s2s_cell_load(&b, "lstm", &e), 0);
    cr_assert_eq(a.desc, b.desc);
    s2s_cell_unload(&a);
    cr_assert_str_eq(b.desc->name, "lstm");
    s2s_cell_unload(&b);
}

Test(loader, search_path_string)
{
    use_cell_path("/a::/b:");
    char buf[8192];
    const char *s = s2s_cell_search_path(buf, sizeof buf);
    cr_assert_eq(s, buf);
    /* ../lib/s2s/cells beside this program comes after the variable */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
    cr_assert_gt(n, 0);
    exe[n] = 0;
    strcpy(strrchr(exe, '/'), "/../lib/s2s/cells");
    char want[16384];
    snprintf(want, sizeof want, "/a:/b:%s:%s:%s", exe, S2S_CELL_DIR_INSTALL,
             S2S_CELL_DIR_BUILD);
    cr_assert_str_eq(buf, want);
    unsetenv("S2S_CELL_PATH");
    snprintf(want, sizeof want, "%s:%s:%s", exe, S2S_CELL_DIR_INSTALL,
             S2S_CELL_DIR_BUILD);
    cr_assert_str_eq(s2s_cell_search_path(buf, sizeof buf), want);
    /* a small buffer is cut, never overrun */
    char small[8];
    memset(small, 'z', sizeof small);
    s2s_cell_search_path(small, 5);
    cr_assert_eq(strlen(small), 4u);
    cr_assert_eq(small[5], 'z');
    small[0] = 'q';
    s2s_cell_search_path(small, 0);
    cr_assert_eq(small[0], 'q', "size 0: nothing written");
}

Test(loader, explicit_path)
{
    unsetenv("S2S_CELL_PATH");
    s2s_cell c;
    s2s_err e;
    const char *p = bpath("tests/cells/mgu.so");
    cr_assert_eq(s2s_cell_load(&c, p, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.desc->name, "mgu");
    cr_assert_str_eq(c.path, p);
    s2s_cell_unload(&c);
}

/* "mgu.so" without a directory is the file in the working directory, not a
 * library-path search. */
Test(loader, bare_so_name_is_relative_path)
{
    char dir[] = "/tmp/s2s_loader_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char link[4200];
    snprintf(link, sizeof link, "%s/mgu.so", dir);
    cr_assert_eq(symlink(bpath("tests/cells/mgu.so"), link), 0);
    cr_assert_eq(chdir(dir), 0);
    s2s_cell c;
    s2s_err e;
    int rc = s2s_cell_load(&c, "mgu.so", &e);
    unlink(link);
    rmdir(dir);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_assert_str_eq(c.path, "./mgu.so");
    s2s_cell_unload(&c);
}

Test(loader, host_services)
{
    const s2s_cell_host *h = s2s_cell_host_services();
    cr_assert_eq(h, s2s_cell_host_services(), "one static table");
    cr_assert_eq(h->abi_version, S2S_CELL_ABI_VERSION);
    cr_assert_eq(h->size, sizeof(s2s_cell_host));
    cr_assert_eq((void *)h->gemm, (void *)s2s_gemm);
    cr_assert_eq((void *)h->sigmoid, (void *)s2s_sigmoid);
    cr_assert_eq((void *)h->tanh, (void *)s2s_tanh);
    s2s_rng a, b;
    s2s_rng_seed(&a, 9);
    s2s_rng_seed(&b, 9);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(h->uniform(&a, -0.5f, 0.25f),
                     s2s_rng_uniform(&b, -0.5f, 0.25f));
}

/* -------------------------------------------------------------- errors */

Test(loader_errors, name_not_found)
{
    use_cell_path("/nonexistent/one:/nonexistent/two");
    const char *n[] = { "cell 'nosuchcell' not found", "nosuchcell.so",
                        "/nonexistent/one:/nonexistent/two",
                        S2S_CELL_DIR_BUILD, "S2S_CELL_PATH",
                        "path to the .so", NULL };
    expect_fail("nosuchcell", NULL, n);
}

Test(loader_errors, path_missing)
{
    const char *n[] = { "no such cell plugin file", NULL };
    expect_fail("/nonexistent/x/mycell.so", "/nonexistent/x/mycell.so", n);
}

Test(loader_errors, empty_name)
{
    const char *n[] = { "empty cell name", NULL };
    expect_fail("", NULL, n);
    s2s_cell c;
    cr_assert_eq(s2s_cell_load(&c, NULL, NULL), -1);
}

Test(loader_errors, not_a_shared_object)
{
    char path[] = "/tmp/s2s_fake_XXXXXX.so";
    int fd = mkstemps(path, 3);
    cr_assert_geq(fd, 0);
    /* longer than an ELF header, so dlopen reads and rejects it */
    const char text[] =
        "# run.yaml\nmodel:\n  encoder: { cell: lstm, layers: 1 }\n"
        "  decoder: { cell: lstm, layers: 1 }\ntrain: { batch: 64 }\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *n[] = { "cannot load as a cell plugin", "shared object",
                        "cells/cell.h", NULL };
    expect_fail(path, path, n);
    unlink(path);
}

Test(loader_errors, no_entry_symbol)
{
    const char *p = bpath("tests/cells/no_entry.so");
    const char *n[] = { "no symbol s2s_cell_entry in ",
                        "is it an s2s cell plugin built against "
                        "cells/cell.h?",
                        NULL };
    expect_fail(p, p, n);
}

Test(loader_errors, abi_mismatch)
{
    const char *p = bpath("tests/cells/bad_abi.so");
    char theirs[64], ours[64];
    snprintf(theirs, sizeof theirs, "version %u", S2S_CELL_ABI_VERSION + 41);
    snprintf(ours, sizeof ours, "version %u", S2S_CELL_ABI_VERSION);
    const char *n[] = { theirs, ours,
                        "rebuild it against this s2s's cells/cell.h", NULL };
    expect_fail(p, p, n);
}

Test(loader_errors, descriptor_too_small)
{
    const char *p = bpath("tests/cells/bad_size.so");
    const char *n[] = { "descriptor is", "rebuild it against", NULL };
    expect_fail(p, p, n);
}

/* By path: the name asked for is the file's base name. By name: the name. */
Test(loader_errors, name_mismatch)
{
    const char *p = bpath("tests/cells/bad_name.so");
    const char *n[] = { "asked for cell 'bad_name'", "says it is 'impostor'",
                        NULL };
    expect_fail(p, p, n);
    use_cell_path(bpath("tests/cells"));
    expect_fail("bad_name", p, n);
}

Test(loader_errors, inconsistent_shapes)
{
    const char *p = bpath("tests/cells/bad_shape.so");
    const struct { const char *which, *says; } cases[] = {
        { "state0", "S) must be 1..4" },
        { "state5", "S) must be 1..4" },
        { "proj0", "G) must be 1..64" },
        { "nullfn", "every function pointer must be set" },
        { "count0", "param_count(8, 8), cache_per_row(8, 8) or recurrent_weight_offset(8, 8) out of range" },
        { "nodesc", "returned no descriptor" },
        /* lying shapes */
        { "projbig", "G) must be 1..64" },
        { "counthuge", "param_count(8, 8), cache_per_row(8, 8) or recurrent_weight_offset(8, 8) out of range" },
        { "cachehuge", "param_count(8, 8), cache_per_row(8, 8) or recurrent_weight_offset(8, 8) out of range" },
        { "countsmall", "param_count(8, 8), cache_per_row(8, 8) or recurrent_weight_offset(8, 8) out of range" },
        { "recpast", "param_count(8, 8), cache_per_row(8, 8) or recurrent_weight_offset(8, 8) out of range" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(setenv("S2S_TEST_BAD_SHAPE", cases[i].which, 1), 0);
        const char *n[] = { cases[i].says, NULL };
        expect_fail(p, p, n);
    }
    unsetenv("S2S_TEST_BAD_SHAPE");
}

/* ------------------------------------------- shapes for the sizes used */

/* A plugin honest at (8, 8) but lying for larger sizes passes the load
 * check; the host's check for the sizes it uses refuses it with the
 * numbers, before any size is computed from them. */
Test(loader_shapes, checked_for_the_sizes_used)
{
    cr_assert_eq(setenv("S2S_TEST_BAD_SHAPE", "liebig", 1), 0);
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load(&c, bpath("tests/cells/bad_shape.so"), &e), 0, "%s", e.msg);
    size_t np = 0, nk = 7;
    cr_assert_eq(s2s_cell_check_shape(c.desc, 8, 8, &np, &nk, &e), 0, "%s", e.msg);
    cr_assert_eq(np, 8u * 16 + 16);
    cr_assert_eq(nk, 0u);
    cr_assert_eq(s2s_cell_check_shape(c.desc, 16, 32, &np, &nk, &e), -1);
    cr_assert(strstr(e.msg, "param_count(16, 32) = 4611686018427387904"), "%s", e.msg);
    cr_assert_eq(s2s_cell_check_shape(c.desc, 16, 70000, &np, &nk, &e), -1);
    cr_assert(strstr(e.msg, "out of 1..65536"), "%s", e.msg);
    s2s_cell_unload(&c);
    unsetenv("S2S_TEST_BAD_SHAPE");
}

/* ------------------------------------------------- the ABI's growth rule */

/* A descriptor of exactly the version-1 size, and one with fields appended
 * (a plugin built against a later cell.h), both load; one byte short of
 * version 1 is refused (bad_size, above). */
Test(loader_abi, v1_size_and_appended_fields_load)
{
    const char *which[] = { "v1", "later" };
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(setenv("S2S_TEST_GROWN", which[i], 1), 0);
        s2s_cell c;
        s2s_err e;
        cr_assert_eq(s2s_cell_load(&c, bpath("tests/cells/grown.so"), &e), 0,
                     "%s: %s", which[i], e.msg);
        if (i == 0)
            cr_assert_eq(c.desc->size, S2S_CELL_DESC_V1_SIZE);
        else
            cr_assert_gt(c.desc->size, S2S_CELL_DESC_V1_SIZE);
        s2s_cell_unload(&c);
    }
    unsetenv("S2S_TEST_GROWN");
    /* today's struct: version 1, then recurrent_weight_offset */
    cr_assert_eq(S2S_CELL_DESC_V1_SIZE + sizeof(void (*)(void)), sizeof(s2s_cell_desc),
                 "appended fields go past version 1");
}

/* recurrent_weight_offset, appended: absent from a version-1 descriptor
 * (the host then leaves dW_rec to backward), and where W_hh is for the
 * built-in LSTM and Elman cells. */
Test(loader_abi, recurrent_weight_offset_only_where_declared)
{
    cr_assert_eq(setenv("S2S_TEST_GROWN", "v1", 1), 0);
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load(&c, bpath("tests/cells/grown.so"), &e), 0, "%s", e.msg);
    cr_assert_null(s2s_cell_recurrent_offset(c.desc));
    s2s_cell_unload(&c);
    unsetenv("S2S_TEST_GROWN");
    const char *cells[] = {"cells/lstm.so", "cells/elman.so", "cells/gru.so"};
    const size_t G[] = {4, 1, 3};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s2s_cell_load(&c, bpath(cells[i]), &e), 0, "%s", e.msg);
        s2s_cell_rec_off_fn rec = s2s_cell_recurrent_offset(c.desc);
        if (i == 2) {
            cr_assert_null(rec, "GRU's dW_hh is not dxp^T h");
        } else {
            cr_assert_not_null(rec, "%s", cells[i]);
            cr_assert_eq(rec(5, 7), G[i] * 7 * 5, "%s: W_hh after W_ih", cells[i]);
        }
        s2s_cell_unload(&c);
    }
}

/* A cell written in C++ against cells/cell.h loads. */
Test(loader_abi, cell_in_cxx)
{
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load(&c, bpath("tests/cells/cxx_cell.so"), &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.desc->name, "cxx_cell");
    s2s_cell_unload(&c);
}

/* ------------------------------------------------------- pinned loading */

static void file_sha(const char *path, unsigned char d[32])
{
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s", path);
    s2s_err e;
    cr_assert_eq(s2s_sha256_fd(fd, path, d, &e), 0, "%s", e.msg);
    close(fd);
}

/* The digest recorded at load is the file's, and a pinned load with it
 * finds the cell by name in the search path. */
Test(loader_pinned, by_name_and_digest)
{
    use_cell_path(bpath("cells"));
    unsigned char d[32];
    file_sha(bpath("cells/gru.so"), d);
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load(&c, "gru", &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(c.sha256, d, 32), 0);
    s2s_cell_unload(&c);
    cr_assert_eq(s2s_cell_load_pinned(&c, "gru", d, NULL, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.desc->name, "gru");
    s2s_cell_unload(&c);
    /* any digest: an older checkpoint */
    cr_assert_eq(s2s_cell_load_pinned(&c, "gru", NULL, NULL, &e), 0, "%s", e.msg);
    s2s_cell_unload(&c);
}

/* A file whose digest differs is never dlopen'ed: its constructor does
 * not run; the message names the cell, the expected digest, where it
 * looked and what it found. */
Test(loader_pinned, wrong_digest_never_loads)
{
    char mark[] = "/tmp/s2s-evil-mark-XXXXXX";
    int fd = mkstemp(mark);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(mark);
    cr_assert_eq(setenv("S2S_TEST_EVIL_MARK", mark, 1), 0);
    use_cell_path(bpath("tests/cells"));
    unsigned char want[32];
    memset(want, 0xab, sizeof want);
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load_pinned(&c, "evil", want, NULL, &e), -1);
    cr_assert_eq(access(mark, F_OK), -1, "the plugin's constructor ran");
    cr_assert_null(c.handle);
    cr_assert_null(strchr(e.msg, '\n'), "one line: %s", e.msg);
    const char *needles[] = { "cell 'evil'", "abababababababababababababab",
                              bpath("tests/cells"), "evil.so with sha256 ", NULL };
    for (const char *const *n = needles; *n; n++)
        cr_assert(strstr(e.msg, *n), "says '%s': %s", *n, e.msg);
    /* a name is never a path */
    cr_assert_eq(s2s_cell_load_pinned(&c, "../evil", NULL, NULL, &e), -1);
    cr_assert(strstr(e.msg, "not a plain name"), "%s", e.msg);
    cr_assert_eq(access(mark, F_OK), -1);
    /* the right digest loads it (and the constructor runs, as it should) */
    file_sha(bpath("tests/cells/evil.so"), want);
    cr_assert_eq(s2s_cell_load_pinned(&c, "evil", want, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(access(mark, F_OK), 0);
    s2s_cell_unload(&c);
    unlink(mark);
    unsetenv("S2S_TEST_EVIL_MARK");
}

/* Files the user named (a run file's plugin paths) are trusted too,
 * matched by base name; --cell-path directories come first. */
Test(loader_pinned, trusted_files_and_dirs)
{
    use_cell_path("");
    unsigned char d[32];
    file_sha(bpath("tests/cells/mgu.so"), d);
    const char *files[] = { bpath("tests/cells/grown.so"), bpath("tests/cells/mgu.so"), NULL };
    s2s_cell c;
    s2s_err e;
    cr_assert_eq(s2s_cell_load_pinned(&c, "mgu", d, files, &e), 0, "%s", e.msg);
    cr_assert_str_eq(c.path, bpath("tests/cells/mgu.so"));
    s2s_cell_unload(&c);
    cr_assert_eq(s2s_cell_load_pinned(&c, "mgu", d, NULL, &e), -1);
    cr_assert_eq(s2s_cell_trust_dir(bpath("tests/cells"), &e), 0);
    cr_assert_eq(s2s_cell_load_pinned(&c, "mgu", d, NULL, &e), 0, "%s", e.msg);
    s2s_cell_unload(&c);
    char buf[8192];
    cr_assert(strncmp(s2s_cell_search_path(buf, sizeof buf), bpath("tests/cells"),
                      strlen(bpath("tests/cells"))) == 0, "%s", buf);
    s2s_cell_trust_reset();
}
