/* tests/cli_commands.c — the `s2s` command end to end: bad input of every
 * kind gives one line on stderr naming the file, line and key, and a
 * non-zero exit; train, translate, repl and eval work through pipes. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char dir[256], bin[4200];

static void setup(void)
{
    /* the tests run in a temporary directory: absolute paths */
    char b[4096];
    cr_assert_not_null(realpath(getenv("S2S_BUILD") ? getenv("S2S_BUILD") : "build", b));
    snprintf(bin, sizeof bin, "%s/s2s", b);
    char cells[4200];
    snprintf(cells, sizeof cells, "%s/cells", b);
    setenv("S2S_CELL_PATH", cells, 1);
    scratch_make(dir, sizeof dir, "cli");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

static void write_file(const char *name, const char *text)
{
    scratch_write(dir, 0, name, text, strlen(text));
}

/* Runs `s2s ARGS` in dir-relative shell form; returns the exit status and
 * stdout / stderr (malloc'd, caller frees). */
static int run(const char *args, const char *stdin_text, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && %s '%s' %s <%s >out.txt 2>err.txt", dir,
             stdin_text ? "" : "", bin, args, stdin_text ? "in.txt" : "/dev/null");
    if (stdin_text) write_file("in.txt", stdin_text);
    int st = system(cmd);
    char path[512];
    const char *names[2] = {"out.txt", "err.txt"};
    char **dst[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        char *buf = calloc(1, 1 << 20);
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
        fclose(f);
        if (dst[i]) *dst[i] = buf; else free(buf);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* One error line containing every needle, and the given exit status. */
static void expect_error(const char *args, int status, const char *n1, const char *n2)
{
    char *out, *err;
    int rc = run(args, NULL, &out, &err);
    cr_assert_eq(rc, status, "s2s %s: exit %d, stderr: %s", args, rc, err);
    cr_assert_eq(lines(err), 1, "s2s %s: want one line, got: %s", args, err);
    cr_assert(strstr(err, n1), "s2s %s: '%s' not in: %s", args, n1, err);
    if (n2) cr_assert(strstr(err, n2), "s2s %s: '%s' not in: %s", args, n2, err);
    free(out);
    free(err);
}

Test(cli, missing_run_file)
{
    expect_error("train nosuch.yaml", 1, "nosuch.yaml", "No such file");
}

Test(cli, misspelt_key_names_file_line_and_key)
{
    write_file("r.yaml", "model:\n  cell: gru\ntrain:\n  bach: 3\n");
    expect_error("train r.yaml", 1, "r.yaml:4", "train.bach");
    expect_error("config r.yaml", 1, "r.yaml:4", "did you mean 'train.batch'");
}

Test(cli, wrong_type)
{
    write_file("r.yaml", "train:\n  batch: many\n");
    expect_error("train r.yaml", 1, "r.yaml:2", "train.batch");
}

Test(cli, yaml_syntax_error)
{
    write_file("r.yaml", "train:\n  batch: [1, 2\n");
    expect_error("train r.yaml", 1, "r.yaml:", NULL);
}

/* Pair k of the toy corpus: four source words, the target their
 * "translations" in reverse order. */
static void toy_pair(int k, char *src, char *tgt)
{
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    static const char *tw[] = {"a", "b", "c", "d", "e"};
    int w[4] = {k % 5, (k / 5) % 5, (k + 1) % 5, (k / 5 + 2) % 5};
    sprintf(src, "%s %s %s %s", sw[w[0]], sw[w[1]], sw[w[2]], sw[w[3]]);
    sprintf(tgt, "%s %s %s %s", tw[w[3]], tw[w[2]], tw[w[1]], tw[w[0]]);
}

static void toy_run_file(const char *cell, int epochs)
{
    FILE *f;
    char path[512];
    snprintf(path, sizeof path, "%s/toy.tsv", dir);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int k = 0; k < 25; k++) {
        char src[64], tgt[64];
        toy_pair(k, src, tgt);
        fprintf(f, "%s\t%s\n", tgt, src);
    }
    fclose(f);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
             "  split_every: 0\n  min_count: 1\n"
             "model:\n  cell: %s\n  embed: 16\n  hidden: 48\n"
             "train:\n  batch: 5\n  epochs: %d\n  lr: 0.01\n  threads: 2\n"
             "  run_dir: run\n  log_every: 1000\n",
             cell, epochs);
    write_file("toy.yaml", yaml);
}

Test(cli, unknown_cell_names_it_and_the_search_path)
{
    toy_run_file("nosuchcell", 1);
    expect_error("train toy.yaml", 1, "nosuchcell", "S2S_CELL_PATH");
}

Test(cli, cell_path_that_is_not_a_plugin)
{
    write_file("fake.so", "not a shared object\n");
    toy_run_file("./fake.so", 1);
    expect_error("train toy.yaml", 1, "fake.so", NULL);
}

Test(cli, corpus_errors_name_file_and_line)
{
    toy_run_file("gru", 1);
    write_file("toy.tsv", "a b\tka lo\nno tab here\n");
    expect_error("train toy.yaml", 1, "toy.tsv:2", NULL);
    write_file("toy.tsv", "a b\tka lo\nc \xff\tmi\n");
    expect_error("train toy.yaml", 1, "toy.tsv:2", "UTF-8");
}

Test(cli, usage_errors_exit_2)
{
    expect_error("translate", 2, "-m", NULL);
    expect_error("frobnicate", 2, "frobnicate", NULL);
    expect_error("translate -m x.ckpt --threads lots", 2, "--threads", NULL);
}

Test(cli, missing_and_bad_checkpoints)
{
    expect_error("translate -m nosuch.ckpt", 1, "nosuch.ckpt", NULL);
    write_file("junk.ckpt", "S2SCKPT junk");
    expect_error("translate -m junk.ckpt", 1, "junk.ckpt", NULL);
    expect_error("eval -m junk.ckpt", 1, "junk.ckpt", NULL);
}

Test(cli, help_and_version)
{
    const char *cmds[] = {"train --help", "translate --help", "repl --help",
                          "eval --help", "config --help", "bench --help", "--help"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char *out, *err;
        cr_assert_eq(run(cmds[i], NULL, &out, &err), 0, "%s", cmds[i]);
        cr_assert(strstr(out, "usage"), "s2s %s: %s", cmds[i], out);
        free(out);
        free(err);
    }
    char *out, *err;
    cr_assert_eq(run("--version", NULL, &out, &err), 0);
    cr_assert(strncmp(out, "s2s ", 4) == 0);
    free(out);
    free(err);
}

Test(cli, train_translate_repl_eval_through_pipes)
{
    toy_run_file("lstm", 100);
    char *out, *err;
    int rc = run("train toy.yaml", NULL, &out, &err);
    cr_assert_eq(rc, 0, "train: %s", err);
    /* the log header names the BLAS and its kernel */
    cr_assert(strstr(out, "BLAS: OpenBLAS ") || strstr(err, "BLAS: OpenBLAS "),
              "no BLAS line in the training log: %s%s", out, err);
    cr_assert(strstr(out, ", kernel ") || strstr(err, ", kernel "), "%s%s", out, err);
    free(out);
    free(err);
    char path[512];
    const char *made[] = {"run/last.ckpt", "run/best.ckpt", "run/metrics.csv", "run/curves.svg"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        cr_assert_eq(access(path, R_OK), 0, "%s missing", made[i]);
    }

    /* translate: one line out per line in, errors keep the alignment */
    char s0[64], t0[64], s1[64], t1[64], s2[64], t2[64], in[512], want[512];
    toy_pair(0, s0, t0);
    toy_pair(7, s1, t1);
    toy_pair(13, s2, t2);
    snprintf(in, sizeof in, "%s\nmi \xff\n%s\n\n%s\n", s0, s1, s2);
    rc = run("translate -m run/best.ckpt", in, &out, &err);
    cr_assert_eq(rc, 1, "an invalid line makes the exit status 1");
    snprintf(want, sizeof want, "%s\n\n%s\n\n%s\n", t0, t1, t2);
    cr_assert_str_eq(out, want);
    cr_assert(strstr(err, "stdin:2:"), "%s", err);
    cr_assert_eq(lines(err), 1, "%s", err);
    free(out);
    free(err);

    /* the same from a file argument, CRLF and no final newline */
    snprintf(in, sizeof in, "%s\r\n%s", s0, s1);
    write_file("in2.txt", in);
    cr_assert_eq(run("translate -m run/best.ckpt in2.txt", NULL, &out, &err), 0, "%s", err);
    snprintf(want, sizeof want, "%s\n%s\n", t0, t1);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);

    /* the REPL from a pipe prints just the translations */
    snprintf(in, sizeof in, "%s\n:tokens on\n%s\n:quit\n%s\n", s0, s1, s2);
    rc = run("repl -m run/best.ckpt", in, &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    snprintf(want, sizeof want, "%s\n", t0);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_assert(strstr(out, t1), "%s", out);
    cr_assert_null(strstr(out, t2), "input after :quit was translated: %s", out);
    free(out);
    free(err);

    /* eval prints one JSON line; this toy task is learnt */
    cr_assert_eq(run("eval -m run/best.ckpt", NULL, &out, &err), 0, "%s", err);
    double bleu = -1;
    const char *p = strstr(out, "\"bleu\": ");
    cr_assert_not_null(p, "%s", out);
    bleu = atof(p + 8);
    cr_assert(bleu > 90, "%s", out);
    free(out);
    free(err);

    /* or on a file of its own, every pair of it */
    cr_assert_eq(run("eval -m run/best.ckpt --test toy.tsv", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "\"split\": \"file\", \"sentences\": 25,"), "%s", out);
    p = strstr(out, "\"bleu\": ");
    cr_assert(p && atof(p + 8) > 90, "%s", out);
    free(out);
    free(err);
    expect_error("eval -m run/best.ckpt --test nosuch.tsv", 1, "nosuch.tsv", NULL);

    /* a sentence over the length limit is refused alone; its neighbours
     * are still translated */
    {
        size_t big = 1200 * 3 + 1;
        char *longin = malloc(big + 256);
        char *p = longin;
        p += sprintf(p, "%s\n", s0);
        for (int i = 0; i < 1200; i++) p += sprintf(p, "ka ");
        p += sprintf(p, "\n%s\n", s1);
        rc = run("translate -m run/best.ckpt", longin, &out, &err);
        free(longin);
        cr_assert_eq(rc, 1);
        snprintf(want, sizeof want, "%s\n\n%s\n", t0, t1);
        cr_assert_str_eq(out, want);
        cr_assert(strstr(err, "stdin:2: 1200 tokens"), "%s", err);
        free(out);
        free(err);
    }

    /* --resume continues from last.ckpt when the run file asks for more */
    toy_run_file("lstm", 101);
    rc = run("train toy.yaml --resume", NULL, &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(err, "epoch 101"), "%s", err);
    cr_assert_null(strstr(err, "epoch 100:"), "resumed from the start: %s", err);
    free(out);
    free(err);

    /* Ctrl-C: the step finishes, last.ckpt is saved mid-run, exit 130 */
    toy_run_file("lstm", 1000000);
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -rf run && { '%s' train toy.yaml 2>int.txt & pid=$!; "
             "n=0; while [ ! -s run/metrics.csv ] && [ $n -lt 600 ]; do "
             "sleep 0.1; n=$((n+1)); done; "
             "kill -INT $pid; wait $pid; echo $? > status.txt; }", dir, bin);
    cr_assert_eq(system(cmd), 0);
    char path2[512];
    snprintf(path2, sizeof path2, "%s/status.txt", dir);
    FILE *sf = fopen(path2, "r");
    int status = -1;
    cr_assert_eq(fscanf(sf, "%d", &status), 1);
    fclose(sf);
    cr_assert_eq(status, 130);
    snprintf(path2, sizeof path2, "%s/run/last.ckpt", dir);
    cr_assert_eq(access(path2, R_OK), 0);
    snprintf(path2, sizeof path2, "%s/int.txt", dir);
    sf = fopen(path2, "r");
    char msg[4096] = "";
    fseek(sf, 0, SEEK_END);
    long size = ftell(sf);
    fseek(sf, size > 1000 ? size - 1000 : 0, SEEK_SET); /* the last lines */
    size_t got = fread(msg, 1, sizeof msg - 1, sf);
    msg[got] = 0;
    fclose(sf);
    cr_assert(strstr(msg, "stopped at epoch") && strstr(msg, "--resume"), "%s", msg);

    /* config prints a run file that loads back */
    cr_assert_eq(run("config toy.yaml", NULL, &out, &err), 0, "%s", err);
    write_file("resolved.yaml", out);
    free(out);
    free(err);
    char *out2;
    cr_assert_eq(run("config resolved.yaml", NULL, &out2, &err), 0, "%s", err);
    cr_assert(strstr(out2, "cell:") && strstr(out2, "lstm"), "%s", out2);
    free(out2);
    free(err);
}
