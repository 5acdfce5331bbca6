/* tests/cli_mpi.c — `mpirun -np N s2s train` end to end: two (and three)
 * ranks of one thread train bit for bit as one process of two (three)
 * threads, and as themselves again; a run resumes across a different number of ranks;
 * SIGTERM to one rank stops every rank at the same step with one
 * last.ckpt; a rank killed outright ends the job with an error, not a hang;
 * 2 ranks of 2 threads are as close to 4 threads as rounding allows; SGD
 * and dense Adam also match bit for bit.
 * Skipped (with a note) when the build has no MPI or mpirun is missing. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/dist.h"
#include "scratch.h"
#include "seq2seq/checkpoint.h"

static char dir[256], bin[4200], corpus[4200];

static void setup(void)
{
    scratch_find_s2s(bin, sizeof bin);
    char b[4096];
    cr_assert_not_null(realpath("corpora/default/eng-fra.tsv", b));
    snprintf(corpus, sizeof corpus, "%s", b);
    /* Open MPI's own allocations outlive MPI_Finalize: not ours to report */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    scratch_make(dir, sizeof dir, "mpi");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(mpi, .init = setup, .fini = teardown, .timeout = 240);

static void need_mpi(void)
{
    if (!s2s_dist_available() || system("command -v mpirun >/dev/null 2>&1") != 0)
        cr_skip_test("no MPI in this build (pkg-config ompi-c) or no mpirun");
}

/* run file NAME: a small LSTM on the bundled corpus, max_steps steps, in
 * run directory RUN; extra: more train keys ("  key: value\n" lines) */
static void run_file_with(const char *name, const char *run, int max_steps,
                          int epochs, const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text,
             "data:\n  train: %s\n  src_column: 2\n  tgt_column: 1\n"
             "  split_every: 50\n  max_len: 10\n  min_count: 2\n"
             "model:\n  cell: lstm\n  embed: 32\n  hidden: 48\n  init_range: 0.1\n"
             "train:\n  batch: 32\n  epochs: %d\n  max_steps: %d\n"
             "  lr: 3.0e-3\n  clip: 1.0\n  seed: 7\n  log_every: 1\n"
             "  run_dir: %s/%s\n%s"
             "decode:\n  max_len: 12\n",
             corpus, epochs, max_steps, dir, run, extra);
    scratch_write(dir, 0, name, text, strlen(text));
}

static void run_file(const char *name, const char *run, int max_steps, int epochs)
{
    run_file_with(name, run, max_steps, epochs, "");
}

/* `s2s ARGS` under mpirun -np np (np 0: no mpirun), bounded in time;
 * stderr to dir/err.txt. Returns the exit status. */
static int s2s(int np, const char *args)
{
    char cmd[16384], launch[256] = "";
    if (np > 0)
        snprintf(launch, sizeof launch,
                 "mpirun --allow-run-as-root --oversubscribe -np %d "
                 "-x ASAN_OPTIONS -x S2S_CELL_PATH%s%s ", np,
                 getenv("S2S_MPI_SHM") ? " -x S2S_MPI_SHM" : "",
                 getenv("S2S_MPI_NODES") ? " -x S2S_MPI_NODES" : "");
    snprintf(cmd, sizeof cmd, "cd '%s' && timeout -k 5 180 %s'%s' %s >out.txt 2>err.txt",
             dir, launch, bin, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *slurp(const char *name)
{
    char *buf = scratch_read(dir, name, 1 << 20, NULL);
    return buf ? buf : calloc(1, 1);
}

static void train_ok(int np, const char *args)
{
    int rc = s2s(np, args);
    char *err = slurp("err.txt");
    cr_assert_eq(rc, 0, "np %d: s2s %s: exit %d: %s", np, args, rc, err);
    free(err);
}

/* The parameters, both Adam moments and the step of two checkpoints are
 * the same bits. */
static void same_state(const char *run_a, const char *run_b)
{
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/%s/last.ckpt", dir, run_a);
    snprintf(pb, sizeof pb, "%s/%s/last.ckpt", dir, run_b);
    s2s_loaded a, b;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(pa, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_checkpoint_load(pb, &b, &err), 0, "%s", err.msg);
    cr_assert(a.has_state && b.has_state);
    cr_assert_eq(a.state.step, b.state.step, "%s: step %ld, %s: step %ld", run_a,
                 a.state.step, run_b, b.state.step);
    size_t n = a.model.params.n;
    cr_assert_eq(n, b.model.params.n);
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += memcmp(&a.model.params.w[i], &b.model.params.w[i], sizeof(float)) != 0 ||
                memcmp(&a.model.params.m[i], &b.model.params.m[i], sizeof(float)) != 0 ||
                memcmp(&a.model.params.v[i], &b.model.params.v[i], sizeof(float)) != 0;
    cr_assert_eq(diff, 0, "%s vs %s: %zu of %zu parameters differ", run_a, run_b, diff, n);
    s2s_loaded_free(&a);
    s2s_loaded_free(&b);
}

Test(mpi, two_ranks_train_as_two_threads)
{
    need_mpi();
    run_file("a.yaml", "a", 50, 1);
    run_file("b.yaml", "b", 50, 1);
    run_file("c.yaml", "c", 50, 1);
    train_ok(0, "train a.yaml --threads 2");
    train_ok(2, "train b.yaml --threads 1");
    train_ok(2, "train c.yaml --threads 1");
    same_state("a", "b"); /* 2 ranks x 1 thread == 1 process x 2 threads */
    same_state("b", "c"); /* and the same again */
    /* on one node the ranks add in rank order, as threads do: any count */
    run_file("d.yaml", "d", 50, 1);
    run_file("e.yaml", "e", 50, 1);
    train_ok(0, "train d.yaml --threads 3");
    train_ok(3, "train e.yaml --threads 1");
    same_state("d", "e");
    /* and without the shared memory: private copies, one MPI_Allreduce */
    run_file("f.yaml", "f", 50, 1);
    setenv("S2S_MPI_SHM", "0", 1);
    train_ok(2, "train f.yaml --threads 1");
    unsetenv("S2S_MPI_SHM");
    same_state("a", "f");
    /* one run: rank 0 alone wrote the files and printed */
    char *err = slurp("err.txt");
    const char *p = strstr(err, " batches/epoch");
    cr_assert(p && !strstr(p + 1, " batches/epoch"), "progress printed more than once: %s", err);
    free(err);
}

/* The optimiser's other paths: SGD (sparse rows, no lazy Adam), and Adam
 * with teacher forcing below 1 (dense: every row moves every step) */
Test(mpi, two_ranks_train_as_two_threads_sgd_and_dense_adam)
{
    need_mpi();
    const char *sgd = "  optimizer: sgd\n";
    const char *tf = "  teacher_forcing: 0.5\n";
    run_file_with("a.yaml", "a", 30, 1, sgd);
    run_file_with("b.yaml", "b", 30, 1, sgd);
    train_ok(0, "train a.yaml --threads 2");
    train_ok(2, "train b.yaml --threads 1");
    same_state("a", "b");
    run_file_with("c.yaml", "c", 30, 1, tf);
    run_file_with("d.yaml", "d", 30, 1, tf);
    train_ok(0, "train c.yaml --threads 2");
    train_ok(2, "train d.yaml --threads 1");
    same_state("c", "d");
}

/* ||w_a - w_b|| / ||w_a|| over the parameters of two runs' last.ckpt */
static double rel_diff(const char *run_a, const char *run_b)
{
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s/%s/last.ckpt", dir, run_a);
    snprintf(pb, sizeof pb, "%s/%s/last.ckpt", dir, run_b);
    s2s_loaded a, b;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(pa, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_checkpoint_load(pb, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(a.model.params.n, b.model.params.n);
    double d = 0, w = 0;
    for (size_t i = 0; i < a.model.params.n; i++) {
        double x = a.model.params.w[i], y = b.model.params.w[i];
        d += (x - y) * (x - y);
        w += x * x;
    }
    s2s_loaded_free(&a);
    s2s_loaded_free(&b);
    return sqrt(d / w);
}

/* Several threads per rank: each rank sums its threads first, so the
 * bracketing differs from one process of 4 threads (rounding only), and
 * the same ranks and threads give the same bits again. */
Test(mpi, two_ranks_of_two_threads)
{
    need_mpi();
    run_file("a.yaml", "a", 50, 1);
    run_file("b.yaml", "b", 50, 1);
    run_file("c.yaml", "c", 50, 1);
    run_file("d.yaml", "d", 50, 1);
    train_ok(0, "train a.yaml --threads 4");
    train_ok(2, "train b.yaml --threads 2");
    train_ok(2, "train c.yaml --threads 2");
    train_ok(0, "train d.yaml --threads 3");
    same_state("b", "c");
    double near = rel_diff("a", "b"), other = rel_diff("a", "d");
    cr_log_info("2x2 vs 1x4: %.3g; 1x3 vs 1x4: %.3g", near, other);
    /* as close as another thread count's rounding, and no further */
    cr_assert(near < 1e-3 && near <= 10 * other + 1e-7,
              "2 ranks x 2 threads vs 4 threads: relative difference %g "
              "(3 threads vs 4: %g)", near, other);
}

/* What passes between nodes, on this machine (S2S_MPI_NODES splits the
 * ranks into pretend nodes): 2 nodes of 1 rank add by one MPI_Allreduce
 * of two, the same bits as 2 threads; 2 nodes of 2 ranks sum on each node
 * in the shared window and then across the nodes, rank 0 and 2 and rank 1
 * and 3 each for their parts: the same bits run to run, and as close to 4
 * threads as rounding allows. */
Test(mpi, ranks_on_two_nodes)
{
    need_mpi();
    run_file("a.yaml", "a", 50, 1);
    run_file("b.yaml", "b", 50, 1);
    run_file("c.yaml", "c", 50, 1);
    run_file("d.yaml", "d", 50, 1);
    run_file("e.yaml", "e", 50, 1);
    train_ok(0, "train a.yaml --threads 2");
    train_ok(0, "train b.yaml --threads 4");
    setenv("S2S_MPI_NODES", "2", 1);
    train_ok(2, "train c.yaml --threads 1");
    train_ok(4, "train d.yaml --threads 1");
    train_ok(4, "train e.yaml --threads 1");
    unsetenv("S2S_MPI_NODES");
    same_state("a", "c");
    same_state("d", "e");
    double near = rel_diff("b", "d");
    cr_log_info("2 nodes x 2 ranks vs 4 threads: %.3g", near);
    cr_assert(near < 1e-5, "2 nodes of 2 ranks vs 4 threads: relative difference %g",
              near);
}

Test(mpi, resume_with_another_rank_count)
{
    need_mpi();
    run_file("whole.yaml", "whole", 40, 1);
    train_ok(0, "train whole.yaml --threads 2");
    /* 2 ranks, then 1 process */
    run_file("x20.yaml", "x", 20, 1);
    run_file("x40.yaml", "x", 40, 1);
    train_ok(2, "train x20.yaml --threads 1");
    train_ok(0, "train x40.yaml --threads 2 --resume");
    same_state("whole", "x");
    /* 1 process, then 2 ranks */
    run_file("y20.yaml", "y", 20, 1);
    run_file("y40.yaml", "y", 40, 1);
    train_ok(0, "train y20.yaml --threads 2");
    train_ok(2, "train y40.yaml --threads 1 --resume");
    same_state("whole", "y");
}

/* ---- runs in the background, for signals */

static pid_t start(int np, const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec mpirun --allow-run-as-root --oversubscribe -np %d "
             "-x ASAN_OPTIONS -x S2S_CELL_PATH '%s' %s >out.txt 2>err.txt",
             dir, np, bin, args);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The pid of rank `rank` among mpirun's children, waiting up to 60 s for
 * metrics.csv to show a few steps (so training has started). */
static pid_t rank_pid(pid_t mpirun, const char *run, int rank)
{
    char metrics[512], want[64];
    snprintf(metrics, sizeof metrics, "%s/metrics.csv", run);
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    for (int i = 0; i < 600; i++) {
        char *m = slurp(metrics);
        int rows = 0;
        for (char *p = m; *p; p++) rows += *p == '\n';
        free(m);
        if (rows >= 4) {
            char cmd[256];
            snprintf(cmd, sizeof cmd, "pgrep -P %d", (int)mpirun);
            FILE *ps = popen(cmd, "r");
            int child;
            pid_t found = 0;
            while (ps && fscanf(ps, "%d", &child) == 1) {
                char path[64];
                snprintf(path, sizeof path, "/proc/%d/environ", child);
                FILE *f = fopen(path, "r");
                if (!f) continue;
                char env[65536];
                size_t n = fread(env, 1, sizeof env - 1, f);
                fclose(f);
                for (size_t k = 0; k < n; k += strlen(env + k) + 1) {
                    env[n] = 0;
                    if (strcmp(env + k, want) == 0) found = child;
                }
            }
            if (ps) pclose(ps);
            if (found) return found;
        }
        nap(100);
    }
    kill(mpirun, SIGKILL);
    cr_assert_fail("training did not start within 60 s: %s", slurp("err.txt"));
    return 0;
}

/* Waits up to `secs` for mpirun to end; returns its exit status. */
static int finish(pid_t pid, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        nap(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("mpirun still running after %d s (a rank hangs): %s", secs,
                   slurp("err.txt"));
    return -1;
}

Test(mpi, sigterm_to_one_rank_stops_all_at_one_step)
{
    need_mpi();
    run_file("long.yaml", "long", 0, 1000);
    pid_t mpirun = start(2, "train long.yaml --threads 1");
    kill(rank_pid(mpirun, "long", 1), SIGTERM); /* not rank 0: it must hear */
    int rc = finish(mpirun, 60);
    char *err = slurp("err.txt");
    cr_assert_neq(rc, 0, "%s", err);
    const char *p = strstr(err, "s2s: stopped at epoch 1, step ");
    cr_assert(p, "no stop message: %s", err);
    cr_assert(!strstr(p + 1, "s2s: stopped at"), "stop message twice: %s", err);
    long step = atol(p + strlen("s2s: stopped at epoch 1, step "));
    char path[512];
    snprintf(path, sizeof path, "%s/long/last.ckpt", dir);
    s2s_loaded ck;
    s2s_err e;
    cr_assert_eq(s2s_checkpoint_load(path, &ck, &e), 0, "%s", e.msg);
    cr_assert_eq(ck.state.step, step, "checkpoint at step %ld, message says %ld",
                 ck.state.step, step);
    s2s_loaded_free(&ck);
    free(err);
    /* and it continues, here on one process */
    run_file("more.yaml", "long", (int)step + 5, 1000);
    train_ok(0, "train more.yaml --threads 2 --resume");
}

Test(mpi, a_killed_rank_ends_the_job)
{
    need_mpi();
    run_file("long.yaml", "long", 0, 1000);
    pid_t mpirun = start(2, "train long.yaml --threads 1");
    kill(rank_pid(mpirun, "long", 1), SIGKILL);
    int rc = finish(mpirun, 60); /* rank 0 does not wait for ever */
    char *err = slurp("err.txt");
    cr_assert_neq(rc, 0, "%s", err);
    cr_assert(strstr(err, "rank 1") && strstr(err, "signal 9"),
              "no word of the dead rank: %s", err);
    free(err);
}

/* MPMD launches: rank 0 and rank 1 given different command lines */
static int s2s_mpmd(const char *args0, const char *args1)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout -k 5 120 mpirun --allow-run-as-root --oversubscribe "
             "-x ASAN_OPTIONS -x S2S_CELL_PATH -np 1 '%s' %s : -np 1 '%s' %s "
             ">out.txt 2>err.txt", dir, bin, args0, bin, args1);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

Test(mpi, one_rank_failing_to_start_ends_all_with_its_reason)
{
    need_mpi();
    run_file("a.yaml", "a", 5, 1);
    int rc = s2s_mpmd("train a.yaml --threads 1", "train nosuch.yaml --threads 1");
    char *err = slurp("err.txt");
    cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "s2s: rank 1 of 2: nosuch.yaml"), "no reason: %s", err);
    free(err);
}

Test(mpi, ranks_with_different_models_are_refused)
{
    need_mpi();
    run_file("a.yaml", "a", 5, 1);
    char *text = slurp("a.yaml");
    char *seed = strstr(text, "seed: 7");
    cr_assert_not_null(seed);
    seed[6] = '8';
    scratch_write(dir, 0, "b.yaml", text, strlen(text));
    free(text);
    int rc = s2s_mpmd("train a.yaml --threads 1", "train b.yaml --threads 1");
    char *err = slurp("err.txt");
    cr_assert_neq(rc, 0, "%s", err);
    cr_assert(strstr(err, "rank 1 holds other parameters"), "not refused: %s", err);
    free(err);
}
