/* tests/cli_info.c — `s2s info` and `s2s export` end to end: info shows
 * the model, vocabularies, position and best dev figures (text and JSON);
 * an exported checkpoint is a third of the size, translates and scores
 * exactly as the original, and `train --resume` refuses it in one line. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scratch.h"

static char dir[256], bin[4200];

static void setup(void)
{
    scratch_find_s2s(bin, sizeof bin);
    scratch_make(dir, sizeof dir, "info");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli_info, .init = setup, .fini = teardown, .timeout = 120);

/* `s2s ARGS` in dir, stdin from `in` when given; stdout and stderr
 * (malloc'd, or NULL not to keep them) and the exit status. */
static int run(const char *args, const char *in, char **out, char **err)
{
    return scratch_run(dir, bin, args, in, out, err);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static long file_size(const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq(stat(path, &sb), 0, "%s", path);
    return (long)sb.st_size;
}

/* The toy task: four source words, their "translations" reversed. */
static void toy_pair(int k, char *src, char *tgt)
{
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    static const char *tw[] = {"a", "b", "c", "d", "e"};
    int w[4] = {k % 5, (k / 5) % 5, (k + 1) % 5, (k / 5 + 2) % 5};
    sprintf(src, "%s %s %s %s", sw[w[0]], sw[w[1]], sw[w[2]], sw[w[3]]);
    sprintf(tgt, "%s %s %s %s", tw[w[3]], tw[w[2]], tw[w[1]], tw[w[0]]);
}

/* toy.tsv: 25 pairs of the toy task. */
static void write_toy_tsv(void)
{
    char tsv[4096] = "", *p = tsv;
    for (int k = 0; k < 25; k++) {
        char s[64], t[64];
        toy_pair(k, s, t);
        p += sprintf(p, "%s\t%s\n", t, s);
    }
    scratch_write(dir, 0, "toy.tsv", tsv, strlen(tsv));
}

/* 25 pairs, batch 5: 5 steps an epoch. */
static void train_toy(const char *extra)
{
    write_toy_tsv();
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
             "  split_every: 0\n  min_count: 1\n"
             "model:\n  cell: [lstm, gru]\n  layers: 2\n  embed: 16\n  hidden: 32\n"
             "train:\n  batch: 5\n  epochs: 40\n  lr: 0.02\n  threads: 1\n"
             "  run_dir: run\n  log_every: 1000\n%s", extra);
    scratch_write(dir, 0, "toy.yaml", yaml, strlen(yaml));
    char *out, *err;
    int rc = run("train toy.yaml", NULL, &out, &err);
    cr_assert_eq(rc, 0, "train: %s", err);
    free(out);
    free(err);
}

Test(cli_info, info_shows_what_a_checkpoint_holds)
{
    train_toy("");
    char *out, *err;
    cr_assert_eq(run("info run/last.ckpt", NULL, &out, &err), 0, "%s", err);
    const char *want[] = {"run/last.ckpt: ", "written by s2s ", " parameters",
                          "encoder     2 layers x 32: lstm (sha256 ",
                          "decoder     2 layers x 32: lstm (sha256 ",
                          "source 9, target 9 tokens", "/toy.tsv (columns 2 -> 1)", /* stored absolute */
                          "step 200, 40 of 40 epochs done, lr 0.02", "resumable",
                          "best dev    loss ", "shortlist   kept"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(out, want[i]), "no '%s' in:\n%s", want[i], out);
    cr_assert(lines(out) <= 24, "more than a screen:\n%s", out);
    free(out);
    free(err);

    cr_assert_eq(run("info run/last.ckpt --json", NULL, &out, &err), 0, "%s", err);
    cr_assert_eq(lines(out), 1, "%s", out);
    const char *jwant[] = {"{\"file\": \"run/last.ckpt\"", "\"vocab_src\": 9", "\"embed\": 16",
                           "\"encoder\": {\"layers\": 2, \"hidden\": 32, \"cells\": "
                           "[{\"layer\": 1, \"name\": \"lstm\", \"sha256\": \"",
                           "{\"layer\": 2, \"name\": \"gru\", \"sha256\": \"",
                           "\"resumable\": true, \"shortlist\": true",
                           "\"training\": {\"step\": 200, \"epochs_done\": 40, \"epochs\": 40, "
                           "\"batch\": 0, \"lr\": 0.02}",
                           "\"best_dev\": {\"loss\": "};
    for (size_t i = 0; i < sizeof jwant / sizeof *jwant; i++)
        cr_assert(strstr(out, jwant[i]), "no '%s' in:\n%s", jwant[i], out);
    free(out);
    free(err);

    /* --config: the run file, which loads back */
    cr_assert_eq(run("info --config run/best.ckpt", NULL, &out, &err), 0, "%s", err);
    scratch_write(dir, 0, "again.yaml", out, strlen(out));
    free(out);
    free(err);
    cr_assert_eq(run("config again.yaml", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "lr: 0.02\n"), "%s", out);
    free(out);
    free(err);

    /* errors: one line, the file named; usage errors exit 2 */
    cr_assert_eq(run("info nosuch.ckpt", NULL, &out, &err), 1);
    cr_assert(strstr(err, "nosuch.ckpt") && lines(err) == 1, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(run("info", NULL, &out, &err), 2);
    free(out);
    free(err);
}

Test(cli_info, info_shows_attention_and_a_bidirectional_encoder)
{
    write_toy_tsv();
    const char *yaml =
        "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
        "  split_every: 0\n  min_count: 1\n"
        "model:\n  embed: 8\n"
        "  encoder: {cell: lstm, hidden: 8, bidirectional: true}\n"
        "  decoder: {cell: lstm, hidden: 16}\n"
        "  attention: mlp\n  input_feed: true\n  dropout: 0.25\n"
        "train:\n  batch: 5\n  epochs: 1\n  threads: 1\n  run_dir: run\n";
    scratch_write(dir, 0, "att.yaml", yaml, strlen(yaml));
    char *out, *err;
    cr_assert_eq(run("train att.yaml", NULL, &out, &err), 0, "train: %s", err);
    free(out);
    free(err);
    cr_assert_eq(run("info run/last.ckpt", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "bidirectional"), "%s", out);
    cr_assert(strstr(out, "attention   mlp, input feeding, dropout 0.25\n"), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(run("info run/last.ckpt --json", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "\"bidirectional\": true, \"attention\": \"mlp\", "
                          "\"input_feed\": true, \"dropout\": 0.25"), "%s", out);
    free(out);
    free(err);
}

Test(cli_info, export_is_a_third_of_the_size_and_translates_the_same)
{
    train_toy("");
    char *out, *err, *out2;
    cr_assert_eq(run("export run/last.ckpt small.ckpt", NULL, &out, &err), 0, "%s", err);
    free(out);
    free(err);
    long big = file_size("run/last.ckpt"), small = file_size("small.ckpt");
    cr_assert(small * 10 < big * 4, "exported %ld bytes of %ld", small, big);

    /* the same translations and scores */
    char in[2048] = "", *p = in;
    for (int k = 0; k < 25; k++) {
        char s[64], t[64];
        toy_pair(k, s, t);
        p += sprintf(p, "%s\n", s);
    }
    cr_assert_eq(run("translate -m run/last.ckpt", in, &out, &err), 0, "%s", err);
    free(err);
    cr_assert_eq(run("translate -m small.ckpt", in, &out2, &err), 0, "%s", err);
    free(err);
    cr_assert_str_eq(out, out2);
    cr_assert_eq(lines(out), 25);
    free(out);
    free(out2);
    cr_assert_eq(run("eval -m run/last.ckpt", NULL, &out, &err), 0, "%s", err);
    free(err);
    cr_assert_eq(run("eval -m small.ckpt", NULL, &out2, &err), 0, "%s", err);
    free(err);
    cr_assert_str_eq(out, out2);
    free(out);
    free(out2);

    /* info says what it is, and keeps the figures */
    cr_assert_eq(run("info --json small.ckpt", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "\"resumable\": false"), "%s", out);
    cr_assert(strstr(out, "\"training\": {\"step\": 200"), "%s", out);
    cr_assert(strstr(out, "\"best_dev\": {\"loss\": "), "%s", out);
    free(out);
    free(err);

    /* --resume refuses it, in one line */
    cr_assert_eq(run("train toy.yaml --resume-from small.ckpt", NULL, &out, &err), 1);
    cr_assert_eq(lines(err), 1, "%s", err);
    cr_assert(strstr(err, "small.ckpt") && strstr(err, "translation-only"), "%s", err);
    free(out);
    free(err);

    /* a broken input names the file; nothing is written */
    scratch_write(dir, 0, "junk.ckpt", "S2SCKPT junk", 12);
    cr_assert_eq(run("export junk.ckpt out.ckpt", NULL, &out, &err), 1);
    cr_assert(strstr(err, "junk.ckpt") && lines(err) == 1, "%s", err);
    free(out);
    free(err);
    char path[512];
    snprintf(path, sizeof path, "%s/out.ckpt", dir);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(run("export run/last.ckpt", NULL, &out, &err), 2);
    free(out);
    free(err);
}

Test(cli_info, help_agrees_with_the_commands)
{
    char *out, *err, *bench;
    cr_assert_eq(run("--help", NULL, &out, &err), 0);
    free(err);
    cr_assert_eq(run("bench --help", NULL, &bench, &err), 0);
    free(err);
    /* s2s --help shows bench's own arguments, not others */
    cr_assert(strstr(out, "  bench [--configs S,G,R,M,A] [--quality S,A] [--no-quality]"),
              "%s", out);
    cr_assert(strstr(bench, "usage: s2s bench [--configs S,G,R,M,A]"), "%s", bench);
    cr_assert(strstr(out, "  info CKPT [--json]") && strstr(out, "  export CKPT OUT"), "%s", out);
    free(out);
    free(bench);
    const char *cmds[] = {"info --help", "export --help"};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(run(cmds[i], NULL, &out, &err), 0, "%s", cmds[i]);
        cr_assert(strncmp(out, "usage: s2s ", 11) == 0, "%s: %s", cmds[i], out);
        free(out);
        free(err);
    }
}

Test(cli_info, a_benchmark_config_without_its_corpus_says_what_it_is)
{
    char repo[4096], args[8192];
    cr_assert_not_null(getcwd(repo, sizeof repo)); /* tests run from the root */
    setenv("S2S_TATOEBA", "nosuch/eng-fra.txt", 1);
    snprintf(args, sizeof args, "train '%s/configs/S.yaml'", repo);
    char *out, *err;
    cr_assert_eq(run(args, NULL, &out, &err), 1, "%s", err);
    cr_assert_eq(lines(err), 1, "%s", err);
    const char *want[] = {"nosuch/eng-fra.txt: No such file", "Tatoeba English-French",
                          "sha256 0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104",
                          "manythings.org/anki", "corpora/tatoeba/eng-fra.txt"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(err, want[i]), "no '%s' in: %s", want[i], err);
    free(out);
    free(err);
}
