/* tests/cli_commands.c — the `s2s` command end to end: bad input of every
 * kind gives one line on stderr naming the file, line and key, and a
 * non-zero exit; train, translate, repl and eval work through pipes. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char dir[256], bin[4200];

static void setup(void)
{
    scratch_find_s2s(bin, sizeof bin);
    scratch_make(dir, sizeof dir, "cli");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 120);

static void write_file(const char *name, const char *text)
{
    scratch_write(dir, 0, name, text, strlen(text));
}

/* Runs `s2s ARGS` in dir; returns the exit status and stdout / stderr
 * (malloc'd, caller frees, or NULL not to keep them). */
static int run(const char *args, const char *stdin_text, char **out, char **err)
{
    return scratch_run(dir, bin, args, stdin_text, out, err);
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

/* ------------------------------------------------------------------------
 * A conversation through pipes: the test writes a line and waits for the
 * answer, as a program driving s2s would; every wait is bounded. */

typedef struct child {
    pid_t pid;
    int to, from;       /* its stdin, its stdout */
    char got[8192];     /* bytes read and not yet returned */
    size_t n;
} child;

static void child_start(child *c, const char *cmd, const char *model)
{
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    memset(c, 0, sizeof *c);
    c->pid = fork();
    cr_assert_neq(c->pid, -1);
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        if (chdir(dir) != 0) _exit(126);
        execl(bin, bin, cmd, "-m", model, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = in[1];
    c->from = out[0];
}

static void child_say(child *c, const char *text)
{
    cr_assert_eq(write(c->to, text, strlen(text)), (ssize_t)strlen(text));
}

/* The next line it writes (no line end, into line), within `seconds`;
 * 0 when it came, -1 on timeout or end of output. */
static int child_line(child *c, char *line, size_t size, int seconds)
{
    for (;;) {
        char *nl = memchr(c->got, '\n', c->n);
        if (nl) {
            size_t k = (size_t)(nl - c->got);
            snprintf(line, size, "%.*s", (int)k, c->got);
            memmove(c->got, nl + 1, c->n - k - 1);
            c->n -= k + 1;
            return 0;
        }
        struct pollfd p = {.fd = c->from, .events = POLLIN};
        if (poll(&p, 1, seconds * 1000) <= 0) return -1;
        ssize_t r = read(c->from, c->got + c->n, sizeof c->got - 1 - c->n);
        if (r <= 0) return -1;
        c->n += (size_t)r;
    }
}

/* Closes its input; returns its exit status (killed after 30 s). */
static int child_finish(child *c)
{
    close(c->to);
    int st = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            close(c->from);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        }
        usleep(100000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    close(c->from);
    return -1;
}

/* One line in, its translation out before any more input: for translate
 * (which batches) and for the REPL. */
static void line_by_line(const char *cmd, const char *model)
{
    child c;
    child_start(&c, cmd, model);
    char s[64], t[64], line[256];
    for (int k = 0; k < 3; k++) {
        toy_pair(k * 4, s, t);
        strcat(s, "\n");
        child_say(&c, s);
        cr_assert_eq(child_line(&c, line, sizeof line, 30), 0,
                     "s2s %s: no answer to one line within 30 s", cmd);
        cr_assert_str_eq(line, t, "s2s %s", cmd);
    }
    /* several lines at once all come back, in order */
    char many[512] = "", want[4][64];
    for (int k = 0; k < 4; k++) {
        toy_pair(k + 9, s, want[k]);
        strcat(many, s);
        strcat(many, "\n");
    }
    child_say(&c, many);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(child_line(&c, line, sizeof line, 30), 0, "s2s %s", cmd);
        cr_assert_str_eq(line, want[k], "s2s %s", cmd);
    }
    cr_assert_eq(child_finish(&c), 0, "s2s %s", cmd);
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
                          "eval --help", "config --help", "bench --help", "check-cell --help",
                          "--help"};
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

    /* a program that writes a line and waits gets its translation */
    line_by_line("translate", "run/best.ckpt");
    line_by_line("repl", "run/best.ckpt");

    /* the same from a file argument, CRLF and no final newline */
    snprintf(in, sizeof in, "%s\r\n%s", s0, s1);
    write_file("in2.txt", in);
    cr_assert_eq(run("translate -m run/best.ckpt in2.txt", NULL, &out, &err), 0, "%s", err);
    snprintf(want, sizeof want, "%s\n%s\n", t0, t1);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);

    /* the REPL from a pipe prints just the translations; ':' lines are
     * commands there only with --commands; a word the model does not
     * know is marked in the :tokens output */
    snprintf(in, sizeof in, "%s\n:tokens on\n%s zorglub\n:quit\n%s\n", s0, s1, s2);
    rc = run("repl -m run/best.ckpt --commands", in, &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    snprintf(want, sizeof want, "%s\n", t0);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_assert(strstr(out, "  src: ") && strstr(out, " <unk:zorglub>\n"), "%s", out);
    cr_assert_null(strstr(out, t2), "input after :quit was translated: %s", out);
    free(out);
    free(err);
    /* without --commands they are sentences: every line is translated,
     * and a line that fails goes to stderr and sets the exit status */
    snprintf(in, sizeof in, "%s\nmi \xff\n:quit\n%s\n", s0, s2);
    rc = run("repl -m run/best.ckpt", in, &out, &err);
    cr_assert_eq(rc, 1, "a failed line makes the exit status 1: %s", err);
    cr_assert_eq(lines(out), 4, "%s", out);
    snprintf(want, sizeof want, "%s\n\n", t0);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_assert(strstr(out, t2), "%s", out);
    cr_assert(strstr(err, "stdin:2:") && lines(err) == 1, "%s", err);
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

    /* the checkpoint holds the data paths absolute: eval works from any
     * directory; with the corpus gone, one line says which file and how
     * to pass one */
    {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "cd / && '%s' eval -m '%s/run/best.ckpt' "
                 ">'%s/o.txt' 2>'%s/e.txt'", bin, dir, dir, dir);
        cr_assert_eq(system(cmd), 0, "eval from / failed");
        snprintf(cmd, sizeof cmd, "cd '%s' && mv toy.tsv toy.moved", dir);
        cr_assert_eq(system(cmd), 0);
        char want_path[600];
        snprintf(want_path, sizeof want_path, "data.train '%s/toy.tsv'", dir);
        expect_error("eval -m run/best.ckpt", 1, want_path, "--test FILE");
        cr_assert_eq(run("eval -m run/best.ckpt --test toy.moved", NULL, &out, &err), 0, "%s", err);
        free(out);
        free(err);
        snprintf(cmd, sizeof cmd, "cd '%s' && mv toy.moved toy.tsv", dir);
        cr_assert_eq(system(cmd), 0);
    }

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

/* A checkpoint written before attention existed loads and translates
 * exactly as the version that wrote it did. */
Test(cli, checkpoint_from_before_attention_translates_identically)
{
    char root[4096], args[8400], *out, *err;
    cr_assert_not_null(realpath("tests/data", root), "run from the repository root");
    FILE *f = fopen("tests/data/sample.tsv", "r");
    cr_assert_not_null(f);
    char line[1024], in[1 << 16] = "";
    while (fgets(line, sizeof line, f)) strcat(in, strchr(line, '\t') + 1);
    fclose(f);
    /* greedy, as that version decoded (the default beam came later) */
    snprintf(args, sizeof args, "translate --beam 1 -m '%s/pre-attention.ckpt'", root);
    cr_assert_eq(run(args, in, &out, &err), 0, "%s", err);
    f = fopen("tests/data/pre-attention.out", "r");
    cr_assert_not_null(f);
    static char want[1 << 16];
    want[fread(want, 1, sizeof want - 1, f)] = 0;
    fclose(f);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
}

/* --align: "translation ||| i-j ..." with one pair per output token, j
 * counting up from 0 and i inside the source; refused without attention. */
Test(cli, align_prints_pharaoh_pairs)
{
    toy_run_file("lstm", 30);
    char *out, *err;
    int rc = run("train toy.yaml", NULL, &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    free(out);
    free(err);
    rc = run("translate -m run/last.ckpt --align", "ka lo mi nu\n", &out, &err);
    cr_assert_eq(rc, 2, "no attention: usage error, got %d", rc);
    cr_assert(strstr(err, "--align needs a model with attention"), "%s", err);
    free(out);
    free(err);

    /* the same corpus with attention (train.run_dir: run2) */
    char yaml[4096], path[512];
    snprintf(path, sizeof path, "%s/toy.yaml", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(yaml, 1, sizeof yaml - 1, f);
    yaml[n] = 0;
    fclose(f);
    char *m = strstr(yaml, "model:\n");
    cr_assert_not_null(m);
    char rest[4096];
    snprintf(rest, sizeof rest, "%s", m + 7);
    snprintf(m, sizeof yaml - (size_t)(m - yaml),
             "model:\n  attention: general\n  input_feed: true\n%s", rest);
    char *r = strstr(yaml, "run_dir: run\n");
    cr_assert_not_null(r);
    memcpy(r, "run_dir: rn2\n", 13);
    write_file("toy.yaml", yaml);
    rc = run("train toy.yaml", NULL, &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    free(out);
    free(err);
    rc = run("translate -m rn2/last.ckpt --align", "ka lo mi nu\nmi nu\n", &out, &err);
    cr_assert_eq(rc, 0, "%s", err);
    int srclen[2] = {4, 2}, row = 0;
    for (char *ln = strtok(out, "\n"); ln; ln = strtok(NULL, "\n"), row++) {
        cr_assert(row < 2, "extra line: %s", ln);
        char *bar = strstr(ln, " ||| ");
        cr_assert_not_null(bar, "no ' ||| ' in: %s", ln);
        int words = 1;
        for (char *p = ln; p < bar; p++) words += *p == ' ';
        int j = 0, i, jj, used;
        for (char *p = bar + 5; sscanf(p, "%d-%d%n", &i, &jj, &used) == 2; p += used, j++) {
            cr_assert_eq(jj, j, "pairs out of order in: %s", ln);
            cr_assert(i >= 0 && i < srclen[row], "source position %d in: %s", i, ln);
            if (p[used] == 0) { j++; break; }
        }
        cr_assert_eq(j, words, "%d pairs for %d output tokens: %s", j, words, ln);
    }
    cr_assert_eq(row, 2);
    free(out);
    free(err);
}

/* Beam search through the command: n-best lines 'i ||| text ||| score',
 * sorted, N per input line; s2s score gives each hypothesis the
 * log-probability beam search found (avg length normalisation: the
 * per-token column); the REPL's :beam and :nbest. */
Test(cli, n_best_score_and_repl_beam)
{
    toy_run_file("gru", 60);
    char *out, *err;
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    char s0[64], t0[64], s1[64], t1[64], in[256];
    toy_pair(3, s0, t0);
    toy_pair(11, s1, t1);
    snprintf(in, sizeof in, "%s\n%s\n", s0, s1);
    cr_assert_eq(run("translate -m run/best.ckpt --n-best 3", in, &out, &err), 0, "%s", err);
    char pairs[4096] = "", *save = NULL;
    int n = 0;
    double prev = 0;
    for (char *ln = strtok_r(out, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), n++) {
        int i;
        char text[256];
        double score;
        cr_assert_eq(sscanf(ln, "%d ||| %255[^|] ||| %lf", &i, text, &score), 3, "%s", ln);
        cr_assert_eq(i, n / 3, "line %d: %s", n, ln);
        if (n % 3) cr_assert(score <= prev, "not sorted: %s", ln);
        prev = score;
        text[strlen(text) - 1] = 0; /* the space before ' |||' */
        if (n % 3 == 0) cr_assert_str_eq(text, i ? t1 : t0, "best of line %d", i);
        /* target TAB source, the toy run file's columns */
        char row[400];
        snprintf(row, sizeof row, "%s\t%s\n", text, i ? s1 : s0);
        strcat(pairs, row);
    }
    cr_assert_eq(n, 6, "%d n-best lines", n);
    free(out);
    free(err);
    /* forced decoding of every hypothesis: per-token log P == its score */
    write_file("hyps.tsv", pairs);
    cr_assert_eq(run("translate -m run/best.ckpt --n-best 3", in, &out, NULL), 0);
    char *scored;
    cr_assert_eq(run("score -m run/best.ckpt hyps.tsv", NULL, &scored, &err), 0, "%s", err);
    char *a = NULL, *b = NULL;
    char *la = strtok_r(out, "\n", &a), *lb = strtok_r(scored, "\n", &b);
    for (; la && lb; la = strtok_r(NULL, "\n", &a), lb = strtok_r(NULL, "\n", &b)) {
        double beam_score = atof(strrchr(la, '|') + 1), total, per;
        cr_assert_eq(sscanf(lb, "%lf\t%lf", &total, &per), 2, "%s", lb);
        cr_assert(fabs(per - beam_score) < 1e-5, "beam %f, score %f", beam_score, per);
        cr_assert(total <= 0);
    }
    cr_assert(!la && !lb, "line counts differ");
    free(out);
    free(scored);
    free(err);
    /* the REPL from a pipe: translations and n-best lines, no chatter */
    snprintf(in, sizeof in, ":beam 4\n:nbest 2\n%s\n", s0);
    cr_assert_eq(run("repl --commands -m run/best.ckpt", in, &out, &err), 0, "%s", err);
    char want[256];
    snprintf(want, sizeof want, "%s\n  1. %s ||| ", t0, t0);
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_assert(strstr(out, "\n  2. "), "%s", out);
    cr_assert_eq(lines(out), 3, "%s", out);
    free(out);
    free(err);
    /* over the lexical shortlist the checkpoint keeps: the toy's source
     * words name their translations, so the same best translations */
    snprintf(in, sizeof in, "%s\n%s\n", s0, s1);
    cr_assert_eq(run("translate -m run/best.ckpt --beam 4 --shortlist 2", in, &out, &err),
                 0, "%s", err);
    snprintf(want, sizeof want, "%s\n%s\n", t0, t1);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
    cr_assert_eq(run("eval -m run/best.ckpt --shortlist 2", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "\"bleu\": "), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(run("translate -m run/best.ckpt --beam 4 --shortlist 0", in, &out, &err),
                 0, "%s", err);
    cr_assert_str_eq(out, want); /* 0: off */
    free(out);
    free(err);
    /* the REPL's :shortlist, then off again */
    snprintf(in, sizeof in, ":shortlist 2\n%s\n:shortlist 0\n%s\n:shortlist 65\n", s0, s1);
    cr_assert_eq(run("repl --commands -m run/best.ckpt", in, &out, &err), 0, "%s", err);
    snprintf(want, sizeof want, "%s\n%s\nerror: :shortlist takes a number from 0 to 64 "
             "(0 = off)\n", t0, t1);
    cr_assert_str_eq(out, want);
    free(out);
    free(err);
    snprintf(in, sizeof in, "%s\n%s\n", s0, s1);
    cr_assert_eq(run("translate -m run/best.ckpt --shortlist 65", in, &out, &err), 2);
    cr_assert(strstr(err, "--shortlist"), "%s", err);
    free(out);
    free(err);
}
