/* tests/cli_install.c — the installed library as a user meets it: `make
 * install` into a temporary DESTDIR, a small C program (and the same as
 * C++) built against it with pkg-config alone, shared and static, that
 * translates a sentence with a model trained here. Also: the installed
 * header includes nothing of the source tree, and libs2s.so exports the
 * calls of s2s.h and nothing else. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char dir[256], build[4096], repo[4096];

static void setup(void)
{
    cr_assert_not_null(realpath(getenv("S2S_BUILD") ? getenv("S2S_BUILD") : "build", build));
    cr_assert_not_null(getcwd(repo, sizeof repo)); /* tests run from the root */
    scratch_make(dir, sizeof dir, "install");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli_install, .init = setup, .fini = teardown, .timeout = 120);

/* Runs a shell command in dir; output to dir/log.txt. Returns the exit
 * status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char body[8192], cmd[8704];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && { %s; } >log.txt 2>&1", dir, body);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* dir/name, read whole (malloc'd). */
static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static const char APP[] =
    "#include <s2s/s2s.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "#if S2S_VERSION_NUMBER < 100\n"
    "#error no version\n"
    "#endif\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "    s2s_err err;\n"
    "    if (strcmp(s2s_version(), S2S_VERSION) != 0) return 3;\n"
    "    s2s_translator *t = s2s_translator_open(argv[1], 1, &err);\n"
    "    if (!t) { fprintf(stderr, \"%s\\n\", err.msg); return 1; }\n"
    "    for (int i = 2; i < argc; i++) {\n"
    "        char *out = s2s_translate(t, argv[i], &err);\n"
    "        if (!out) { fprintf(stderr, \"%s\\n\", err.msg); return 1; }\n"
    "        puts(out);\n"
    "        free(out);\n"
    "    }\n"
    "    s2s_translator_close(t);\n"
    "    return 0;\n"
    "}\n";

/* The toy task of tests/cli_commands.c: four source words, the target
 * their "translations" in reverse order. */
static void toy_pair(int k, char *src, char *tgt)
{
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    static const char *tw[] = {"a", "b", "c", "d", "e"};
    int w[4] = {k % 5, (k / 5) % 5, (k + 1) % 5, (k / 5 + 2) % 5};
    sprintf(src, "%s %s %s %s", sw[w[0]], sw[w[1]], sw[w[2]], sw[w[3]]);
    sprintf(tgt, "%s %s %s %s", tw[w[3]], tw[w[2]], tw[w[1]], tw[w[0]]);
}

Test(cli_install, a_program_builds_against_the_installed_library_with_pkg_config)
{
    /* the install rule itself, into a DESTDIR (everything is built) */
    int rc = sh("env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '%s' BUILD='%s' "
                "install DESTDIR='%s/root' PREFIX=/usr", repo, build, dir);
    char *log = slurp("log.txt");
    cr_assert_eq(rc, 0, "make install: %s", log);
    free(log);
    const char *files[] = {"usr/include/s2s/s2s.h", "usr/include/s2s/cells/cell.h",
                           "usr/lib/libs2s.a", "usr/lib/libs2s.so", "usr/lib/libs2s.so.0",
                           "usr/lib/pkgconfig/s2s.pc", "usr/lib/s2s/cells/lstm.so",
                           "usr/bin/s2s"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/root/%s", dir, files[i]);
        cr_assert_eq(access(path, R_OK), 0, "%s not installed", files[i]);
    }
    /* self-contained: no #include "..." of the source tree */
    cr_assert_neq(sh("grep -n '#include \"' root/usr/include/s2s/s2s.h"), 0,
                  "the installed s2s.h includes a repository header");
    cr_assert_eq(sh("readelf -d root/usr/lib/libs2s.so | grep -q 'SONAME.*libs2s.so.0'"), 0,
                 "no soname libs2s.so.0");

    /* the exports: s2s.h's calls, none of the library's insides */
    char so[512];
    snprintf(so, sizeof so, "%s/root/usr/lib/libs2s.so.0", dir);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s", dlerror());
    cr_assert_not_null(dlsym(h, "s2s_translator_open"));
    cr_assert_not_null(dlsym(h, "s2s_version"));
    cr_assert_null(dlsym(h, "s2s_fail"), "an internal symbol is exported");
    cr_assert_null(dlsym(h, "s2s_trainer_step"), "an internal symbol is exported");
    dlclose(h);

    /* a model to translate with */
    FILE *f = fopen(scratch_write(dir, 0, "toy.tsv", "", 0), "w");
    cr_assert_not_null(f);
    for (int k = 0; k < 25; k++) {
        char s[64], t[64];
        toy_pair(k, s, t);
        fprintf(f, "%s\t%s\n", t, s);
    }
    fclose(f);
    const char *yaml =
        "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
        "  split_every: 0\n  min_count: 1\n"
        "model:\n  cell: lstm\n  embed: 16\n  hidden: 48\n"
        "train:\n  batch: 5\n  epochs: 60\n  lr: 0.02\n  threads: 1\n"
        "  run_dir: run\n  log_every: 1000\n";
    scratch_write(dir, 0, "toy.yaml", yaml, strlen(yaml));
    rc = sh("S2S_CELL_PATH='%s/cells' '%s/s2s' train toy.yaml", build, build);
    log = slurp("log.txt");
    cr_assert_eq(rc, 0, "train: %s", log);
    free(log);

    /* built with pkg-config only, against the DESTDIR */
    scratch_write(dir, 0, "app.c", APP, strlen(APP));
    const char *san = getenv("S2S_SAN") ? getenv("S2S_SAN") : "";
    const char *pc = "PKG_CONFIG_SYSROOT_DIR=\"$PWD/root\" "
                     "PKG_CONFIG_PATH=\"$PWD/root/usr/lib/pkgconfig\"";
    rc = sh("export %s; cc -std=c11 -Wall -Wextra -Werror %s app.c "
            "$(pkg-config --cflags --libs s2s) -o app", pc, san);
    log = slurp("log.txt");
    cr_assert_eq(rc, 0, "cc (shared): %s", log);
    free(log);
    rc = sh("export %s; cc -std=c11 -Wall %s app.c $(pkg-config --cflags s2s) "
            "$(pkg-config --static --libs s2s | sed 's/-ls2s/-l:libs2s.a/') -o app-static",
            pc, san);
    log = slurp("log.txt");
    cr_assert_eq(rc, 0, "cc (static, --static --libs): %s", log);
    free(log);
    int cxx = sh("command -v c++") == 0;
    if (cxx) {
        rc = sh("export %s; c++ -x c++ -Wall %s app.c $(pkg-config --cflags --libs s2s) "
                "-o app-cxx", pc, san);
        log = slurp("log.txt");
        cr_assert_eq(rc, 0, "c++ (extern \"C\"): %s", log);
        free(log);
    }

    /* each translates with the installed cells and nothing of the build */
    char s0[64], t0[64], s1[64], t1[64], want[256];
    toy_pair(3, s0, t0);
    toy_pair(17, s1, t1);
    snprintf(want, sizeof want, "%s\n%s\n", t0, t1);
    const char *apps[] = {"app", "app-static", "app-cxx"};
    for (int i = 0; i < (cxx ? 3 : 2); i++) {
        rc = sh("S2S_CELL_PATH=\"$PWD/root/usr/lib/s2s/cells\" "
                "LD_LIBRARY_PATH=\"$PWD/root/usr/lib\" ./%s run/best.ckpt '%s' '%s'",
                apps[i], s0, s1);
        log = slurp("log.txt");
        cr_assert_eq(rc, 0, "%s: %s", apps[i], log);
        cr_assert_str_eq(log, want, "%s", apps[i]);
        free(log);
    }
    cr_assert_eq(sh("LD_LIBRARY_PATH=\"$PWD/root/usr/lib\" ldd ./app | grep -q 'libs2s.so.0 => .*root/usr/lib'"),
                 0, "app is not linked against the installed libs2s.so.0");
}
