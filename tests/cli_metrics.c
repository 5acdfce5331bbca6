/* tests/cli_metrics.c — the training log and metrics.csv agree: each log
 * line's "loss" is the train_loss of the CSV row at the same step (one
 * window of log_every steps), and no step has two dev rows, with
 * train.eval_every and train.max_steps set. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "scratch.h"

static char dir[256], bin[4200];

static void setup(void)
{
    scratch_find_s2s(bin, sizeof bin);
    scratch_make(dir, sizeof dir, "metrics");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(cli_metrics, .init = setup, .fini = teardown, .timeout = 60);

static FILE *open_in_dir(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    return f;
}

/* 25 pairs, batch 5: 5 steps an epoch; log_every 2 leaves windows that
 * end mid-epoch and a last one cut by the epoch's end. */
static void train(const char *extra)
{
    char tsv[4096] = "", *p = tsv;
    static const char *sw[] = {"ka", "lo", "mi", "nu", "pe"};
    for (int k = 0; k < 25; k++)
        p += sprintf(p, "%c %c\t%s %s\n", 'a' + k % 5, 'a' + k / 5, sw[k / 5], sw[k % 5]);
    scratch_write(dir, 0, "toy.tsv", tsv, strlen(tsv));
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "data:\n  train: toy.tsv\n  dev: toy.tsv\n  test: toy.tsv\n"
             "  split_every: 0\n  min_count: 1\n"
             "model:\n  cell: gru\n  embed: 8\n  hidden: 16\n"
             "train:\n  batch: 5\n  lr: 0.02\n  threads: 1\n  run_dir: run\n"
             "  log_every: 2\n%s", extra);
    scratch_write(dir, 0, "toy.yaml", yaml, strlen(yaml));
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf run && '%s' train toy.yaml 2>log.txt",
             dir, bin);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "train failed");
}

static void check(int want_dev_rows)
{
    /* the log's loss figures, in order */
    char line[1024], loss_log[64][16];
    int nlog = 0;
    FILE *f = open_in_dir("log.txt");
    while (fgets(line, sizeof line, f)) {
        const char *l = strstr(line, " step ");
        const char *x = strstr(line, " loss ");
        if (strncmp(line, "epoch ", 6) == 0 && l && x && !strstr(line, "done:")) {
            cr_assert_lt(nlog, 64);
            sscanf(x + 6, "%15s", loss_log[nlog++]);
        }
    }
    fclose(f);

    /* the CSV's train rows and dev rows */
    f = open_in_dir("run/metrics.csv");
    cr_assert_not_null(fgets(line, sizeof line, f));
    int ntrain = 0, ndev = 0;
    long dev_steps[64];
    while (fgets(line, sizeof line, f)) {
        char *fields[9] = {0}, *save = NULL, *s = line;
        int n = 0;
        /* strsep keeps empty fields */
        while (n < 9 && (fields[n] = strsep(&s, ",")) != NULL) n++;
        cr_assert_eq(n, 9, "row: %s", line);
        long step = atol(fields[1]);
        if (fields[2][0]) {
            char want[32];
            snprintf(want, sizeof want, "%.3f", atof(fields[2]));
            cr_assert_lt(ntrain, nlog, "more CSV train rows than log lines");
            cr_assert_str_eq(loss_log[ntrain], want, "train row %d (step %ld)", ntrain, step);
            ntrain++;
        }
        if (fields[3][0]) {
            for (int i = 0; i < ndev; i++)
                cr_assert_neq(dev_steps[i], step, "two dev rows at step %ld", step);
            dev_steps[ndev++] = step;
        }
        (void)save;
    }
    fclose(f);
    cr_assert_eq(ntrain, nlog, "log lines %d, CSV train rows %d", nlog, ntrain);
    cr_assert_eq(ndev, want_dev_rows);
}

Test(cli_metrics, log_loss_is_the_csv_train_loss)
{
    /* 3 epochs of 5 steps: windows end at batches 2 and 4 of each */
    train("  epochs: 3\n");
    check(3);
}

Test(cli_metrics, eval_every_and_max_steps_give_one_dev_row_per_step)
{
    /* evaluations at steps 3 and 6; the run stops at 6 (mid-epoch 2),
     * where the closing evaluation is the only one */
    train("  epochs: 2\n  eval_every: 3\n  max_steps: 6\n");
    check(3); /* steps 3, 5 (end of epoch 1), 6 */
}
