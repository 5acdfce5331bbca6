/* tests/cli_hardening.c — the `s2s` command against hostile input:
 * checkpoints crafted to point at another plugin (never loaded), plugins
 * with lying shapes, NaN-injected resumes, a huge learning rate, kill -9
 * with train.save_every, stale temp files, resume differences, unbounded
 * or broken input. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ckpt.h"
#include "core/sha256.h"
#include "scratch.h"

#include <fcntl.h>

static char dir[256], bin[4200], build[4096];

static void setup(void)
{
    snprintf(build, sizeof build, "%s", scratch_find_s2s(bin, sizeof bin));
    scratch_make(dir, sizeof dir, "harden");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(harden, .init = setup, .fini = teardown, .timeout = 180);

static void write_file(const char *name, const char *text)
{
    scratch_write(dir, 0, name, text, strlen(text));
}

static char *slurp(const char *name, size_t *len)
{
    return scratch_read(dir, name, 1 << 22, len);
}

/* Runs `s2s ARGS` in dir with stdin from IN (a path, or /dev/null);
 * returns the exit status; stdout and stderr (malloc'd) if wanted. */
static int run_in(const char *args, const char *in, char **out, char **err)
{
    return scratch_run_file(dir, bin, args, in, out, err);
}

static int run(const char *args, char **err) { return run_in(args, NULL, NULL, err); }

static int exists(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void toy(const char *cell, const char *extra_train)
{
    char path[512];
    snprintf(path, sizeof path, "%s/toy.tsv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    static const char *tw[] = {"a", "b", "c", "d", "e"};
    for (int k = 0; k < 25; k++)
        fprintf(f, "%s %s %s\t%s %s %s\n", tw[(k / 5) % 5], tw[(k + 1) % 5], tw[k % 5],
                sw[k % 5], sw[(k + 1) % 5], sw[(k / 5) % 5]);
    fclose(f);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
             "  split_every: 0\n  min_count: 1\n"
             "model:\n  cell: %s\n  embed: 16\n  hidden: 24\n"
             "train:\n  batch: 5\n%s  threads: 1\n"
             "  run_dir: run\n  log_every: 1000\n%s",
             cell, extra_train && strstr(extra_train, "lr:") ? "" : "  lr: 0.01\n",
             extra_train ? extra_train : "  epochs: 1\n");
    write_file("toy.yaml", yaml);
}

static void train_ok(const char *args)
{
    char *err;
    int rc = run(args, &err);
    cr_assert_eq(rc, 0, "s2s %s: %d: %s", args, rc, err);
    free(err);
}

/* Copies checkpoint src to dst, with every cell "lstm" in the config
 * replaced by "cell: CELL", and the cells section kept (cells_name NULL),
 * dropped (""), or replaced by one pin of cells_name to the digest of
 * the file cells_file. */
static void craft(const char *src, const char *dst, const char *cell,
                  const char *cells_name, const char *cells_file, int nan_moment)
{
    char sp[512], dp[512];
    snprintf(sp, sizeof sp, "%s/%s", dir, src);
    snprintf(dp, sizeof dp, "%s/%s", dir, dst);
    s2s_ckpt ck;
    s2s_err e;
    cr_assert_eq(s2s_ckpt_open(&ck, sp, &e), 0, "%s", e.msg);
    s2s_ckpt_writer *w = s2s_ckpt_create(dp, &e);
    cr_assert_not_null(w, "%s", e.msg);
    for (uint32_t i = 0; i < ck.n_sections; i++) {
        const s2s_ckpt_section *s = &ck.sections[i];
        const char *data = (const char *)ck.data + s->off;
        size_t len = s->len;
        if (strcmp(s->tag, "config") == 0 && cell) {
            char *out = calloc(1, len * 2 + 4096);
            size_t o = 0;
            for (size_t k = 0; k < len;) {
                if (len - k >= 12 && memcmp(data + k, "cell: \"lstm\"", 12) == 0) {
                    o += (size_t)sprintf(out + o, "cell: \"%s\"", cell);
                    k += 12;
                } else {
                    out[o++] = data[k++];
                }
            }
            cr_assert_eq(s2s_ckpt_add(w, "config", out, o, &e), 0);
            free(out);
            continue;
        }
        if (strcmp(s->tag, "cells") == 0 && cells_name) {
            if (!*cells_name) continue;
            unsigned char d[32];
            int fd = open(cells_file, O_RDONLY);
            cr_assert_geq(fd, 0);
            cr_assert_eq(s2s_sha256_fd(fd, cells_file, d, &e), 0);
            close(fd);
            s2s_buf b;
            s2s_buf_init(&b);
            s2s_buf_put_u32(&b, 1);
            s2s_buf_put_str(&b, cells_name);
            s2s_buf_put(&b, d, 32);
            cr_assert_eq(s2s_ckpt_add(w, "cells", b.data, b.len, &e), 0);
            s2s_buf_free(&b);
            continue;
        }
        if (strcmp(s->tag, "adam_m") == 0 && nan_moment) {
            char *copy = malloc(len);
            memcpy(copy, data, len);
            memcpy(copy + 4, &(float){NAN}, 4);
            cr_assert_eq(s2s_ckpt_add(w, "adam_m", copy, len, &e), 0);
            free(copy);
            continue;
        }
        cr_assert_eq(s2s_ckpt_add(w, s->tag, data, len, &e), 0, "%s", e.msg);
    }
    cr_assert_eq(s2s_ckpt_commit(w, &e), 0, "%s", e.msg);
    s2s_ckpt_close(&ck);
}

/* 1: a checkpoint whose config (and cells section) names another plugin,
 * by absolute path, by a path relative to where the user stands, or as a
 * pinned name with the right digest, never gets it loaded: the plugin's
 * constructor would leave a mark. A genuine checkpoint loads from any
 * directory. */
Test(harden, crafted_checkpoint_never_runs_another_plugin)
{
    toy("lstm", NULL);
    train_ok("train toy.yaml");
    char evil[4200], mark[600], cmd[9000];
    snprintf(evil, sizeof evil, "%s/tests/cells/evil.so", build);
    snprintf(mark, sizeof mark, "%s/mark", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/evil.so'", evil, dir);
    cr_assert_eq(system(cmd), 0);
    setenv("S2S_TEST_EVIL_MARK", mark, 1);
    write_file("in.txt", "ka lo mi\n");

    craft("run/last.ckpt", "a.ckpt", "./evil.so", NULL, NULL, 0);
    craft("run/last.ckpt", "b.ckpt", evil, "", NULL, 0);
    craft("run/last.ckpt", "c.ckpt", "./evil.so", "evil", evil, 0);
    craft("run/last.ckpt", "d.ckpt", "evil", "evil", evil, 0);
    const char *cks[] = {"a.ckpt", "b.ckpt", "c.ckpt", "d.ckpt"};
    const char *cmds[] = {"translate -m %s in.txt", "repl -m %s", "eval -m %s"};
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) {
            char args[256], *err;
            snprintf(args, sizeof args, cmds[c], cks[i]);
            int rc = run_in(args, "in.txt", NULL, &err);
            cr_assert_eq(rc, 1, "s2s %s: %d: %s", args, rc, err);
            cr_assert(strstr(err, "evil"), "s2s %s: %s", args, err);
            cr_assert(!exists("mark"), "s2s %s loaded the planted plugin: %s", args, err);
            if (i == 1) cr_assert(strstr(err, "older checkpoint without plugin digests"), "%s", err);
            if (i >= 2) cr_assert(strstr(err, "sha256"), "%s", err);
            free(err);
        }
    unsetenv("S2S_TEST_EVIL_MARK");

    /* portable: the genuine file copied elsewhere and used from there */
    cr_assert_eq(system((snprintf(cmd, sizeof cmd, "mkdir -p '%s/else' && cp '%s/run/last.ckpt' "
                                  "'%s/else/x.ckpt'", dir, dir, dir), cmd)), 0);
    char *out, *err;
    int rc = run_in("translate -m else/x.ckpt in.txt", "in.txt", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    free(out);
    free(err);
}

/* A cell trained by path (the user's own run file) is found by name in the
 * trusted places only: not in the current directory; with --cell-path, or
 * on --resume with the run file that names it. */
Test(harden, path_trained_cell_found_only_in_trusted_places)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s/tests/cells/mgu.so' '%s/mgu.so'", build, dir);
    cr_assert_eq(system(cmd), 0);
    toy("./mgu.so", NULL);
    train_ok("train toy.yaml");
    write_file("in.txt", "ka lo mi\n");
    char *err;
    int rc = run_in("translate -m run/last.ckpt in.txt", "in.txt", NULL, &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "cell 'mgu' with sha256 "), "%s", err);
    free(err);
    rc = run_in("translate --cell-path . -m run/last.ckpt in.txt", "in.txt", NULL, &err);
    cr_assert_eq(rc, 0, "%s", err);
    free(err);
    toy("./mgu.so", "  epochs: 2\n");
    train_ok("train toy.yaml --resume");
}

/* 3: a plugin honest at the load check but lying for the sizes used. */
Test(harden, plugin_with_lying_shapes_is_refused)
{
    char cell[4200];
    snprintf(cell, sizeof cell, "%s/tests/cells/bad_shape.so", build);
    toy(cell, NULL);
    setenv("S2S_TEST_BAD_SHAPE", "liebig", 1);
    char *err;
    int rc = run("train toy.yaml", &err);
    unsetenv("S2S_TEST_BAD_SHAPE");
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "param_count(16, 24) = 4611686018427387904"), "%s", err);
    free(err);
}

/* 2: resuming from a checkpoint whose Adam moments hold a NaN is refused;
 * a huge learning rate stops with an error and leaves a loadable
 * last.ckpt. */
Test(harden, nan_resume_refused_and_divergence_keeps_last_good)
{
    toy("lstm", NULL);
    train_ok("train toy.yaml");
    craft("run/last.ckpt", "nan.ckpt", NULL, NULL, NULL, 1);
    toy("lstm", "  epochs: 2\n");
    char *err;
    int rc = run("train toy.yaml --resume-from nan.ckpt", &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "Adam moments hold a non-finite value"), "%s", err);
    free(err);

    toy("lstm", "  epochs: 3\n  save_every: 1\n  clip: 0\n  lr: 1e30\n");
    rc = run("train toy.yaml --resume", &err);
    /* either the loss overflows (an error, nothing non-finite written) or
     * it stays finite but absurd (the log says the run diverged) */
    cr_assert(rc != 0 ? strstr(err, "diverged") || strstr(err, "not written")
                      : strstr(err, "the run has diverged") != NULL, "%d: %s", rc, err);
    cr_assert(strstr(err, "train.lr: 0.01 -> 1e+30"), "%s", err);
    free(err);
    write_file("in.txt", "ka lo mi\n");
    rc = run_in("translate -m run/last.ckpt in.txt", "in.txt", NULL, &err);
    cr_assert_eq(rc, 0, "last.ckpt no longer loads: %s", err);
    free(err);
}

/* 5: kill -9 at random moments with save_every: a loadable last.ckpt
 * survives, the next run removes the dead run's temp files and resumes. */
Test(harden, kill9_with_save_every)
{
    /* long enough that it never ends before the kill, even on an idle machine */
    toy("lstm", "  epochs: 1000000\n  save_every: 2\n");
    srand((unsigned)time(NULL));
    char dead[600];
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            if (chdir(dir) != 0) _exit(99);
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 2);
            execl(bin, "s2s", "train", "toy.yaml", round ? "--resume" : NULL, NULL);
            _exit(98);
        }
        /* at a random moment after the first save (a loaded machine may
         * take a while to get there) */
        for (int i = 0; i < 600 && !exists("run/last.ckpt"); i++) usleep(50000);
        usleep((useconds_t)(rand() % 1000000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        cr_assert(WIFSIGNALED(st), "the run ended before the kill");
        /* a temp file as a killed writer leaves it */
        snprintf(dead, sizeof dead, "run/last.ckpt.tmp.%d", (int)pid);
        write_file(dead, "partial");
        write_file("in.txt", "ka lo mi\n");
        char *err;
        int rc = run_in("translate -m run/last.ckpt in.txt", "in.txt", NULL, &err);
        cr_assert_eq(rc, 0, "round %d: last.ckpt after kill -9: %s", round, err);
        free(err);
    }
    /* a short resume cleans the dead temp files, keeps a live one's */
    char live[600];
    snprintf(live, sizeof live, "run/x.tmp.%d", (int)getpid());
    write_file(live, "live");
    toy("lstm", "  epochs: 1\n  max_steps: 1\n");
    char *err;
    int rc = run("train toy.yaml --resume", &err);
    cr_assert_eq(rc, 0, "%s", err);
    /* at least the planted one; a kill that landed while best.ckpt or the
     * curves were being written leaves their temp files too */
    const char *removed = strstr(err, "removed ");
    cr_assert(removed && atoi(removed + 8) >= 1 && strstr(removed, "temporary file"),
              "%s", err);
    cr_assert(!exists(dead));
    cr_assert(exists(live));
    char rundir[600];
    snprintf(rundir, sizeof rundir, "%s/run", dir);
    DIR *d = opendir(rundir);
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));)
        cr_assert(!strstr(e->d_name, ".tmp.") || strcmp(e->d_name, strrchr(live, '/') + 1) == 0,
                  "a dead run's temp file survived: %s", e->d_name);
    closedir(d);
    free(err);
}

/* 5: resume differences are listed and applied or refused by the rule;
 * metrics.csv in a new run_dir gets its header. */
Test(harden, resume_differences_and_metrics_header)
{
    toy("lstm", NULL);
    train_ok("train toy.yaml");
    char yaml[4096];
    size_t n;
    char *t = slurp("toy.yaml", &n);
    char *p = strstr(t, "lr: 0.01\n");
    cr_assert_not_null(p);
    snprintf(yaml, sizeof yaml, "%.*slr: 0.02\n  threads: 1\n  run_dir: run2\n"
             "  log_every: 1000\n  epochs: 2\n", (int)(p - t), t);
    write_file("toy2.yaml", yaml);
    char *err;
    int rc = run("train toy2.yaml --resume-from run/last.ckpt", &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(err, "train.epochs: 1 -> 2"), "%s", err);
    cr_assert(strstr(err, "train.lr: 0.01 -> 0.02"), "%s", err);
    cr_assert(strstr(err, "train.run_dir: \"run\" -> \"run2\""), "%s", err);
    free(err);
    char *csv = slurp("run2/metrics.csv", NULL);
    cr_assert_not_null(csv);
    cr_assert(strncmp(csv, "epoch,", 6) == 0, "no header: %.80s", csv);
    free(csv);
    /* the model may not change */
    p = strstr(t, "hidden: 24");
    cr_assert_not_null(p);
    snprintf(yaml, sizeof yaml, "%.*shidden: 32%s", (int)(p - t), t, p + 10);
    write_file("toy3.yaml", yaml);
    rc = run("train toy3.yaml --resume-from run/last.ckpt", &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "model.encoder.hidden: 24 -> 32"), "%s", err);
    free(err);
    free(t);
}

/* 4 and 6: unbounded or broken input. */
Test(harden, input_edges)
{
    toy("lstm", NULL);
    train_ok("train toy.yaml");
    char *out, *err;
    cr_assert_eq(run("translate -m run/last.ckpt --threads ''", &err), 2, "%s", err);
    free(err);
    int rc = run_in("translate -m run/last.ckpt /dev/zero", NULL, NULL, &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "/dev/zero:1: a line longer than 1048576 bytes"), "%s", err);
    free(err);
    write_file("in.txt", "ka\nka lo mi pe nu ka lo mi\n");
    rc = run_in("translate -m run/last.ckpt --max-line 10 in.txt", NULL, &out, &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "in.txt:2: a line longer than 10 bytes"), "%s", err);
    free(out);
    free(err);
    scratch_write(dir, 0, "nul.txt", "ka\0lo\nmi\n", 9);
    rc = run_in("repl -m run/last.ckpt", "nul.txt", &out, &err);
    cr_assert_eq(rc, 1, "a failed line makes the exit status 1: %s", err);
    cr_assert(strstr(err, "stdin:1: the line has a NUL byte"), "%s", err);
    cr_assert(out[0] == '\n' && strchr(out + 1, '\n') && !strchr(strchr(out + 1, '\n') + 1, '\n'),
              "an empty line, then one translation: %s", out);
    free(out);
    free(err);
    /* a corpus of CR-only line ends reads line by line */
    size_t n = 0;
    char *tsv = slurp("toy.tsv", &n);
    for (size_t i = 0; i < n; i++)
        if (tsv[i] == '\n') tsv[i] = '\r';
    write_file("toy.tsv", tsv);
    free(tsv);
    rc = run("train toy.yaml --resume-from run/last.ckpt", &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(err, "training 25 pairs"), "%s", err);
    free(err);
}

/* 4: a model larger than the machine's memory is refused before any
 * allocation, with the size. */
Test(harden, model_larger_than_memory_refused)
{
    toy("lstm", NULL);
    char *t = slurp("toy.yaml", NULL);
    char *p = strstr(t, "  embed: 16\n  hidden: 24\n");
    cr_assert_not_null(p);
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "%.*s  embed: 65536\n  hidden: 65536\n  layers: 8\n%s",
             (int)(p - t), t, p + strlen("  embed: 16\n  hidden: 24\n"));
    write_file("big.yaml", yaml);
    free(t);
    char *err;
    int rc = run("train big.yaml", &err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "MiB, more than this machine's"), "%s", err);
    free(err);
}
