/* tests/cli_subwords.c — `s2s` with tokenizer.type sentencepiece end to
 * end: the model trained when `s2s train` starts is reproducible, lives in
 * the checkpoint (translate, repl and eval need nothing else), a model
 * from `spm_train` loads by path, BLEU is on word tokens, --resume keeps
 * the model, and a missing or corrupt .model is a one-line error. */
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
    scratch_find_s2s(bin, sizeof bin);
    scratch_make(dir, sizeof dir, "clisw");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli_subwords, .init = setup, .fini = teardown, .timeout = 300);

static void write_file(const char *name, const char *text)
{
    scratch_write(dir, 0, name, text, strlen(text));
}

/* `s2s ARGS` in dir, stdin from stdin_text (or /dev/null); returns the
 * exit status, stdout and stderr (malloc'd). */
static int run(const char *args, const char *stdin_text, char **out, char **err)
{
    return scratch_run(dir, bin, args, stdin_text, out, err);
}

static int sh(const char *fmt)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, fmt);
    return system(cmd);
}

/* The toy task of cli_commands.c: four source words, the target their
 * "translations" reversed. */
static void toy_pair(int k, char *src, char *tgt)
{
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    static const char *tw[] = {"a", "b", "c", "d", "e"};
    int w[4] = {k % 5, (k / 5) % 5, (k + 1) % 5, (k / 5 + 2) % 5};
    sprintf(src, "%s %s %s %s", sw[w[0]], sw[w[1]], sw[w[2]], sw[w[3]]);
    sprintf(tgt, "%s %s %s %s", tw[w[3]], tw[w[2]], tw[w[1]], tw[w[0]]);
}

/* toy.tsv and toy.yaml; `sp` is the tokenizer.sentencepiece mapping. */
static void toy_run_file(const char *sp, int epochs, int max_steps)
{
    char path[512];
    snprintf(path, sizeof path, "%s/toy.tsv", dir);
    FILE *f = fopen(path, "w");
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
             "tokenizer:\n  type: sentencepiece\n  sentencepiece: %s\n"
             "model:\n  cell: lstm\n  embed: 16\n  hidden: 48\n"
             "train:\n  batch: 5\n  epochs: %d\n  max_steps: %d\n  lr: 0.01\n"
             "  threads: 2\n  run_dir: run\n  log_every: 1000\n",
             sp, epochs, max_steps);
    write_file("toy.yaml", yaml);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

#define TRAIN_SETTINGS "{train: {vocab_size: 30, byte_fallback: false}}"

Test(cli_subwords, trained_model_is_reproducible_and_travels_in_the_checkpoint)
{
    char *out, *err;
    /* twice, a few steps each: the same checkpoint, byte for byte */
    toy_run_file(TRAIN_SETTINGS, 1, 3);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "SentencePiece pieces"), "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("mv run/last.ckpt first.ckpt && rm -rf run"), 0);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("cmp -s first.ckpt run/last.ckpt"), 0,
                 "two runs of the same file gave different checkpoints");

    /* learnt: BLEU on words, no <unk> in the output */
    toy_run_file(TRAIN_SETTINGS, 100, 0);
    cr_assert_eq(sh("rm -rf run"), 0);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("mv toy.tsv data.tsv"), 0); /* translate needs no data */
    char s0[64], t0[64], s1[64], t1[64], in[256], want[256];
    toy_pair(3, s0, t0);
    toy_pair(17, s1, t1);
    snprintf(in, sizeof in, "%s\n%s\n", s0, s1);
    cr_assert_eq(run("translate -m run/best.ckpt", in, &out, &err), 0, "%s", err);
    snprintf(want, sizeof want, "%s\n%s\n", t0, t1);
    cr_assert_str_eq(out, want);
    free(out); free(err);
    /* the REPL shows the pieces */
    snprintf(in, sizeof in, ":tokens on\n%s\n", s0);
    cr_assert_eq(run("repl --commands -m run/best.ckpt", in, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, t0), "%s", out);
    cr_assert(strstr(out, "\xe2\x96\x81"), "no SentencePiece pieces shown: %s", out);
    free(out); free(err);

    cr_assert_eq(sh("mv data.tsv toy.tsv"), 0);
    cr_assert_eq(run("eval -m run/best.ckpt", NULL, &out, &err), 0, "%s", err);
    const char *p = strstr(out, "\"bleu\": ");
    cr_assert(p && atof(p + 8) > 90, "%s", out);
    cr_assert(strstr(out, "\"output_unk\": 0}"), "%s", out);
    free(out); free(err);

    /* --resume keeps the model it started with */
    toy_run_file(TRAIN_SETTINGS, 101, 0);
    cr_assert_eq(run("train toy.yaml --resume", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(err, "epoch 101"), "%s", err);
    free(out); free(err);
    cr_assert_eq(run("translate -m run/last.ckpt", s0, &out, &err), 0, "%s", err);
    snprintf(want, sizeof want, "%s\n", t0);
    cr_assert_str_eq(out, want);
    free(out); free(err);
}

Test(cli_subwords, spm_train_model_by_path_then_not_needed)
{
    toy_run_file("{model: toy.model}", 1, 3);
    if (sh("cut -f1,2 toy.tsv | tr '\\t' '\\n' > text.txt && spm_train "
           "--input=text.txt --model_prefix=toy --vocab_size=25 "
           "--minloglevel=2 >/dev/null 2>&1") != 0)
        cr_skip_test("needs Debian's sentencepiece tools (spm_train)");
    char *out, *err;
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    /* 25 pieces, 3 of them spm's specials, and s2s's 4 */
    cr_assert(strstr(err, "source 26, target 26 entries"), "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("rm toy.model"), 0);
    cr_assert_eq(run("translate -m run/last.ckpt", "ka lo\n", &out, &err), 0,
                 "%s", err);
    cr_assert_eq(lines(out), 1, "%s", out);
    free(out); free(err);
}

/* One line on stderr holding both needles, exit status 1. */
static void expect_error(const char *args, const char *n1, const char *n2)
{
    char *out, *err;
    int rc = run(args, NULL, &out, &err);
    cr_assert_eq(rc, 1, "s2s %s: exit %d, stderr: %s", args, rc, err);
    cr_assert_eq(lines(err), 1, "s2s %s: want one line, got: %s", args, err);
    cr_assert(strstr(err, n1), "'%s' not in: %s", n1, err);
    if (n2) cr_assert(strstr(err, n2), "'%s' not in: %s", n2, err);
    free(out);
    free(err);
}

Test(cli_subwords, missing_and_corrupt_models_and_bad_keys)
{
    toy_run_file("{model: nosuch.model}", 1, 3);
    expect_error("train toy.yaml", "nosuch.model", NULL);

    toy_run_file("{model: bad.model}", 1, 3);
    write_file("bad.model", "\x0a\x05hello\x12\x03not a model at all\n");
    expect_error("train toy.yaml", "bad.model", "not a usable SentencePiece model");

    toy_run_file("{model: a.model, src_model: b.model, tgt_model: c.model}", 1, 3);
    expect_error("train toy.yaml", "toy.yaml:", "exclude each other");
    toy_run_file("{src_model: b.model}", 1, 3);
    expect_error("train toy.yaml", "toy.yaml:", "tokenizer.sentencepiece.tgt_model");
    toy_run_file("{train: {model_type: wordpiece}}", 1, 3);
    expect_error("train toy.yaml", "toy.yaml:", "must be bpe or unigram");
    /* more pieces than the text can give: SentencePiece says so, one line */
    toy_run_file("{train: {vocab_size: 5000}}", 1, 3);
    expect_error("train toy.yaml", "tokenizer.sentencepiece.train", NULL);
    /* one side's size needs a model per side */
    toy_run_file("{train: {src_vocab_size: 40}}", 1, 3);
    expect_error("train toy.yaml", "toy.yaml:", "joint: false");
    toy_run_file("{train: {joint: false, tgt_vocab_size: 5}}", 1, 3);
    expect_error("train toy.yaml", "toy.yaml:", "tokenizer.sentencepiece.train.tgt_vocab_size");
}

/* Per-side sizes: each side's model gets its own, the other the shared
 * vocab_size, and the checkpoint's vocabularies say so. */
Test(cli_subwords, each_side_its_own_size)
{
    char *out, *err;
    toy_run_file("{train: {vocab_size: 14, src_vocab_size: 28, joint: false, "
                 "byte_fallback: false}}", 1, 2);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(run("info run/last.ckpt", NULL, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "source 28, target 14"), "%s", out);
    free(out); free(err);
}

/* Subword regularisation (sampling_alpha): the training pairs drawn anew
 * each epoch from the seed and the epoch alone, so two runs give the same
 * checkpoint, and a run stopped after epoch 1 and resumed gives what the
 * uninterrupted one gave. */
Test(cli_subwords, sampled_segmentations_are_reproducible_across_resume)
{
    char *out, *err;
#define SAMPLED "{train: {vocab_size: 30, byte_fallback: false}, sampling_alpha: 0.3}"
    toy_run_file(SAMPLED, 2, 0);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("mv run/last.ckpt twice.ckpt && rm -rf run"), 0);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("cmp -s run/last.ckpt twice.ckpt"), 0, "two runs differ");
    cr_assert_eq(sh("rm -rf run"), 0);
    toy_run_file(SAMPLED, 1, 0);
    cr_assert_eq(run("train toy.yaml", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    toy_run_file(SAMPLED, 2, 0);
    cr_assert_eq(run("train toy.yaml --resume", NULL, &out, &err), 0, "%s", err);
    free(out); free(err);
    cr_assert_eq(sh("cmp -s run/last.ckpt twice.ckpt"), 0,
                 "the resumed run differs from the uninterrupted one");
#undef SAMPLED
}
