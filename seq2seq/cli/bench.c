/* seq2seq/cli/bench.c — `s2s bench`: the figures of the reference
 * benchmark (bench/README.md) as JSON lines, measured on the real training
 * and decoding code paths.
 *
 *   gemm peak (1 and 2 threads) -> split and vocabulary sizes ->
 *   training throughput per config (each in a child process, so that its
 *   peak RSS is its own) -> config S trained for N epochs: dev perplexity
 *   per epoch, test BLEU / chrF -> greedy decoding speed at batch 1 and 64.
 */
#include "seq2seq/cli/bench.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/kernels.h"
#include "core/phase.h"
#include "core/sysinfo.h"
#include "corpora/tatoeba.h"
#include "seq2seq/decode.h"
#include "seq2seq/step.h"
#include "seq2seq/train.h"

static char commit[64];

static void json_head(const char *figure, const char *config, int threads)
{
    char blas[512];
    printf("{\"figure\": \"%s\", \"config\": \"%s\", \"threads\": %d, \"commit\": \"%s\", %s",
           figure, config, threads, commit, s2s_blas_json(blas, sizeof blas));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------------------
 * GEMM peak */

static double gemm_gflops(int M, int N, int K, int threads)
{
    float *a = s2s_xaligned((size_t)M * K * sizeof(float));
    float *b = s2s_xaligned((size_t)K * N * sizeof(float));
    float *c = s2s_xaligned((size_t)M * N * sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.01f;
    s2s_blas_set_threads(threads);
    s2s_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N); /* warm-up */
    double t[7];
    for (int r = 0; r < 7; r++) {
        double t0 = omp_get_wtime();
        s2s_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        t[r] = omp_get_wtime() - t0;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / median(t, 7) / 1e9;
}

/* ------------------------------------------------------------------------
 * Training throughput: 200 steps after 20 warm-up steps */

static int load_config(const char *name, s2s_config *cfg, s2s_err *err)
{
    char path[256];
    snprintf(path, sizeof path, "configs/%s.yaml", name);
    if (s2s_config_load(cfg, path, err) < 0) return -1;
    if (access(cfg->data.train, R_OK) != 0)
        return s2s_fail(err, "%s: %s; %s", cfg->data.train, strerror(errno),
                        S2S_TATOEBA_ABOUT);
    return 0;
}

/* Multiply-adds per batch from the model's shapes and the batch's tokens. */
static double batch_flops(const s2s_model *m, const s2s_batch *b)
{
    double src = 0, tgt = (double)b->ntokens;
    for (int i = 0; i < b->B; i++) src += b->src_len[i];
    return s2s_model_flops_per_token(m, src / tgt) * tgt;
}

static int throughput(const char *name, int threads, int warmup, int steps,
                      double peak)
{
    s2s_config cfg;
    s2s_err err;
    if (load_config(name, &cfg, &err) < 0) goto fail;
    cfg.train.threads = threads;
    s2s_trainer tr;
    if (s2s_trainer_init(&tr, &cfg, NULL, &err) < 0) goto fail;
    size_t nb = s2s_batcher_count(&tr.batcher);
    double tok = 0, flops = 0, t0 = 0;
    for (int k = 0; k < warmup + steps; k++) {
        if (k == warmup) t0 = omp_get_wtime();
        s2s_batcher_get(&tr.batcher, 0, (size_t)k % nb, &tr.batch);
        s2s_trainer_step(&tr, &tr.batch);
        if (k >= warmup) {
            tok += (double)tr.batch.ntokens;
            flops += batch_flops(&tr.model, &tr.batch);
        }
    }
    double secs = omp_get_wtime() - t0;
    json_head("train_throughput", name, threads);
    printf(", \"steps\": %d, \"tokens_per_s\": %.0f, \"gflops\": %.1f, "
           "\"pct_of_gemm_peak\": %.1f, \"mflop_per_token\": %.2f, "
           "\"peak_rss_mb\": %.0f}\n",
           steps, tok / secs, flops / secs / 1e9, 100.0 * flops / secs / 1e9 / peak,
           flops / tok / 1e6, (double)s2s_peak_rss_bytes() / 1048576.0);
    fflush(stdout);
    s2s_trainer_free(&tr);
    return 0;
fail:
    fprintf(stderr, "s2s bench: %s\n", err.msg);
    return 1;
}

/* ------------------------------------------------------------------------
 * Where the time of a training step goes (--phases) */

/* Trains `steps` steps (after `warmup`) on `threads` threads with the
 * phase timers on; share[p] gets each phase's part of threads x wall time,
 * share[S2S_PH_COUNT] the rest (threads idle outside the parallel part). */
static int phase_run(const char *name, int threads, int warmup, int steps,
                     double *share, double *tps)
{
    s2s_config cfg;
    s2s_err err;
    if (load_config(name, &cfg, &err) < 0) goto fail;
    cfg.train.threads = threads;
    s2s_trainer tr;
    if (s2s_trainer_init(&tr, &cfg, NULL, &err) < 0) goto fail;
    size_t nb = s2s_batcher_count(&tr.batcher);
    double tok = 0, t0 = 0;
    for (int k = 0; k < warmup + steps; k++) {
        if (k == warmup) {
            s2s_phase_enable(1);
            t0 = omp_get_wtime();
        }
        s2s_phase(S2S_PH_OTHER);
        s2s_batcher_get(&tr.batcher, 0, (size_t)k % nb, &tr.batch);
        s2s_trainer_step(&tr, &tr.batch);
        if (k >= warmup) tok += (double)tr.batch.ntokens;
    }
    double wall = omp_get_wtime() - t0, sum = 0;
    for (int p = 0; p < S2S_PH_COUNT; p++) {
        share[p] = s2s_phase_seconds(p) / (wall * threads);
        sum += share[p];
    }
    share[S2S_PH_COUNT] = 1.0 - sum;
    s2s_phase_enable(0);
    *tps = tok / wall;
    json_head("train_phases", name, threads);
    printf(", \"steps\": %d, \"tokens_per_s\": %.0f, \"ms_per_step\": %.3f, \"pct\": {",
           steps, *tps, 1e3 * wall / steps);
    for (int p = 0; p <= S2S_PH_COUNT; p++)
        printf("%s\"%s\": %.2f", p ? ", " : "",
               p < S2S_PH_COUNT ? s2s_phase_name(p) : "idle", 100.0 * share[p]);
    printf("}}\n");
    fflush(stdout);
    s2s_trainer_free(&tr);
    return 0;
fail:
    fprintf(stderr, "s2s bench: %s\n", err.msg);
    return 1;
}

/* JSON lines on stdout, and a table per config on stderr for the README. */
static int phases(const char *name, int warmup, int steps)
{
    double share[2][S2S_PH_COUNT + 1], tps[2];
    for (int t = 1; t <= 2; t++)
        if (phase_run(name, t, warmup, steps, share[t - 1], &tps[t - 1]) < 0)
            return 1;
    fprintf(stderr, "\nconfig %s: share of threads x wall time of a training step\n"
            "| phase | 1 thread | 2 threads |\n|---|---:|---:|\n", name);
    for (int p = 0; p <= S2S_PH_COUNT; p++)
        fprintf(stderr, "| %s | %.1f %% | %.1f %% |\n",
                p < S2S_PH_COUNT ? s2s_phase_name(p) : "idle (serial part)",
                100.0 * share[0][p], 100.0 * share[1][p]);
    fprintf(stderr, "| tokens/s | %.0f | %.0f (%.2fx) |\n", tps[0], tps[1],
            tps[1] / tps[0]);
    return 0;
}

/* Runs one throughput measurement in a fresh process, so its peak RSS is
 * its own and no OpenMP state crosses a fork. */
static int child_throughput(const char *self, const char *name, int threads,
                            int warmup, int steps, double peak)
{
    char a[5][32];
    snprintf(a[0], 32, "%d", threads);
    snprintf(a[1], 32, "%d", warmup);
    snprintf(a[2], 32, "%d", steps);
    snprintf(a[3], 32, "%.3f", peak);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, "s2s", "bench", "--child", name, a[0], a[1], a[2], a[3], (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0) {
        fprintf(stderr, "s2s bench: cannot run %s for config %s: %s\n", self, name,
                strerror(errno));
        return 1;
    }
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "s2s bench: the measurement of config %s was killed by "
                "signal %d (%s)\n", name, WTERMSIG(st), strsignal(WTERMSIG(st)));
        return 1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* ------------------------------------------------------------------------
 * Quality and decoding on config S */

/* Test BLEU and chrF with batched decoding (batch decode.batch over the
 * whole test split, timed), then batch 1 over the first 500 test
 * sentences; greedy (beam 1) or with a beam of `beam`. */
static void decode_figures(s2s_trainer *tr, const char *name, int beam,
                           int shortlist)
{
    const s2s_config *cfg = &tr->cfg;
    s2s_scores sc;
    s2s_err err;
    s2s_beam_opts bo;
    s2s_beam_opts_of(cfg, &bo);
    bo.beam = beam;
    bo.shortlist = shortlist ? s2s_trainer_shortlist(tr) : NULL;
    bo.shortlist_per_word = shortlist;
    double t0 = omp_get_wtime();
    s2s_trainer_score(tr, S2S_TEST, &bo, &sc, &err);
    double secs = omp_get_wtime() - t0;
    if (sc.sentences == 0) {
        fprintf(stderr, "s2s bench: %s: no test split, so no quality or decoding figures\n", name);
        return;
    }
    json_head("test_quality", name, tr->threads);
    printf(", \"epochs\": %d, \"beam\": %d, \"shortlist\": %d, "
           "\"length_penalty\": \"%s\", \"sentences\": %zu, \"bleu\": %.2f, "
           "\"chrf\": %.2f}\n", tr->st.epoch, beam, shortlist,
           cfg->decode.length_penalty, sc.sentences, sc.bleu, sc.chrf);
    json_head("decode_batched", name, tr->threads);
    printf(", \"beam\": %d, \"shortlist\": %d, \"batch\": %d, "
           "\"sentences\": %zu, \"sentences_per_s\": %.0f}\n",
           beam, shortlist, cfg->decode.batch, sc.sentences, sc.sentences / secs);
    const s2s_split *sp = &tr->data.split[S2S_TEST];
    size_t n1 = sp->n < 500 ? sp->n : 500;
    if (n1 == 0) {
        fprintf(stderr, "s2s bench: %s: no test split, so no decoding figures\n", name);
        return;
    }
    double *lat = s2s_xcalloc(n1 + 1, sizeof *lat), total = 0;
    uint32_t out[256];
    long answered0, exact0, answered, exact;
    s2s_step_screen_counts(tr->work[0], &answered0, &exact0);
    for (size_t k = 0; k < n1; k++) {
        int len = (int)sp->src_len[k], cap = s2s_decode_limit(cfg, len), olen;
        if (cap > 256) cap = 256;
        double a = omp_get_wtime();
        s2s_decode_batch(&tr->model, tr->work, tr->threads, &bo, 1,
                         s2s_split_src(sp, k), len, &len, &cap, out, 256, &olen,
                         NULL, NULL, NULL, NULL, 0);
        lat[k] = omp_get_wtime() - a;
        total += lat[k];
    }
    /* greedy steps the output layer's screen answered (core/screen.c), and
     * the logits it computed exactly per answer */
    s2s_step_screen_counts(tr->work[0], &answered, &exact);
    answered -= answered0;
    exact -= exact0;
    json_head("decode_batch1", name, tr->threads);
    printf(", \"beam\": %d, \"shortlist\": %d, \"sentences\": %zu, "
           "\"sentences_per_s\": %.0f, \"median_ms\": %.3f, \"screened_steps\": %ld, "
           "\"exact_logits_per_step\": %.2f}\n", beam, shortlist, n1, n1 / total,
           1e3 * median(lat, (int)n1), answered,
           answered ? (double)exact / answered : 0.0);
    free(lat);
    fflush(stdout);
}

/* Where decoding's time goes: greedy decoding of the test split at batch
 * decode.batch (rows split over the threads), then of its first 500
 * sentences one at a time (the BLAS threaded); shares of threads x wall
 * time (for batch 1: of wall time, the BLAS's own threads not counted). */
static void decode_phases(s2s_trainer *tr, const char *name)
{
    const s2s_split *sp = &tr->data.split[S2S_TEST];
    if (sp->n == 0) {
        fprintf(stderr, "s2s bench: %s: no test split\n", name);
        return;
    }
    double share[2][S2S_PH_COUNT + 1], rate[2];
    s2s_scores sc;
    s2s_trainer_sync(tr);
    for (int mode = 0; mode < 2; mode++) {
        s2s_phase_enable(1);
        double t0 = omp_get_wtime();
        size_t n = 0;
        if (mode == 0) {
            s2s_phase(S2S_PH_OTHER);
            s2s_trainer_score(tr, S2S_TEST, NULL, &sc, NULL);
            n = sc.sentences;
        } else {
            uint32_t out[256];
            n = sp->n < 500 ? sp->n : 500;
            for (size_t k = 0; k < n; k++) {
                int len = (int)sp->src_len[k], olen;
                int cap = s2s_decode_limit(&tr->cfg, len);
                if (cap > 256) cap = 256;
                s2s_phase(S2S_PH_OTHER);
                s2s_decode_batch(&tr->model, tr->work, tr->threads, NULL, 1,
                                 s2s_split_src(sp, k), len, &len, &cap, out, 256,
                                 &olen, NULL, NULL, NULL, NULL, 0);
            }
        }
        s2s_phase_stop();
        double wall = omp_get_wtime() - t0, sum = 0;
        int acc = mode == 0 ? tr->threads : 1;
        for (int p = 0; p < S2S_PH_COUNT; p++) {
            share[mode][p] = s2s_phase_seconds(p) / (wall * acc);
            sum += share[mode][p];
        }
        share[mode][S2S_PH_COUNT] = 1.0 - sum;
        s2s_phase_enable(0);
        rate[mode] = (double)n / wall;
        json_head(mode ? "decode_batch1_phases" : "decode_batched_phases", name,
                  tr->threads);
        printf(", \"sentences\": %zu, \"sentences_per_s\": %.0f, \"pct\": {", n,
               rate[mode]);
        for (int p = 0; p <= S2S_PH_COUNT; p++)
            printf("%s\"%s\": %.2f", p ? ", " : "",
                   p < S2S_PH_COUNT ? s2s_phase_name(p) : "idle", 100.0 * share[mode][p]);
        printf("}}\n");
        fflush(stdout);
    }
    fprintf(stderr, "\n%s: share of greedy decoding time (softmax_loss = the arg-max)\n"
            "| phase | batch %d | batch 1 |\n|---|---:|---:|\n", name,
            tr->cfg.decode.batch);
    for (int p = 0; p <= S2S_PH_COUNT; p++)
        if (share[0][p] > 0.0005 || share[1][p] > 0.0005)
            fprintf(stderr, "| %s | %.1f %% | %.1f %% |\n",
                    p < S2S_PH_COUNT ? s2s_phase_name(p) : "idle / not marked",
                    100.0 * share[0][p], 100.0 * share[1][p]);
    fprintf(stderr, "| sentences/s | %.0f | %.0f |\n", rate[0], rate[1]);
}

static int quality(const char *name, int epochs, int threads, long seed)
{
    s2s_config cfg;
    s2s_err err;
    if (load_config(name, &cfg, &err) < 0) goto fail;
    if (seed >= 0) cfg.train.seed = (uint64_t)seed;
    cfg.train.threads = threads;
    cfg.train.epochs = epochs;
    s2s_trainer tr;
    if (s2s_trainer_init(&tr, &cfg, NULL, &err) < 0) goto fail;
    size_t nb = s2s_batcher_count(&tr.batcher);
    for (int e = 0; e < epochs; e++) {
        double t0 = omp_get_wtime(), tok = 0;
        for (size_t k = 0; k < nb; k++) {
            s2s_batcher_get(&tr.batcher, (uint64_t)e, k, &tr.batch);
            s2s_trainer_step(&tr, &tr.batch);
            tok += (double)tr.batch.ntokens;
        }
        double secs = omp_get_wtime() - t0;
        tr.st.epoch = e + 1;
        double dev = s2s_trainer_loss(&tr, S2S_DEV);
        json_head("dev_perplexity", name, threads);
        printf(", \"epoch\": %d, \"dev_loss\": %.4f, \"dev_perplexity\": %.3f, "
               "\"epoch_seconds\": %.1f, \"tokens_per_s\": %.0f}\n",
               e + 1, dev, exp(dev), secs, tok / secs);
        fflush(stdout);
    }
    /* decoded as translate and --decode do: weights frozen for decoding */
    int froze = s2s_trainer_freeze_for_decoding(&tr);
    decode_figures(&tr, name, 1, 0);
    decode_figures(&tr, name, 5, 0);
    if (froze) s2s_gemm_thaw(tr.model.params.w);
    char path[S2S_PATH_MAX + 64];
    if (seed >= 0) /* runs of several seeds side by side keep their models */
        snprintf(path, sizeof path, "%s/bench-seed%ld.ckpt", cfg.train.run_dir, seed);
    else
        snprintf(path, sizeof path, "%s/bench.ckpt", cfg.train.run_dir);
    s2s_trainer_sync(&tr);
    if (s2s_make_dirs(cfg.train.run_dir, &err) < 0 ||
        s2s_checkpoint_save(path, &tr.cfg, tr.data.src_vocab, tr.data.tgt_vocab,
                            &tr.model, &tr.st, &err) < 0) {
        s2s_trainer_free(&tr);
        goto fail;
    }
    fprintf(stderr, "s2s bench: model saved to %s\n", path);
    s2s_trainer_free(&tr);
    return 0;
fail:
    fprintf(stderr, "s2s bench: %s\n", err.msg);
    return 1;
}

static int data_figures(const char *name)
{
    s2s_config cfg;
    s2s_err err;
    s2s_data_spec spec;
    s2s_dataset d;
    if (load_config(name, &cfg, &err) < 0) goto fail;
    s2s_config_data_spec(&cfg, &spec);
    double t0 = omp_get_wtime();
    if (s2s_dataset_load(&spec, NULL, NULL, &d, &err) < 0) {
        s2s_dataset_free(&d);
        goto fail;
    }
    double secs = omp_get_wtime() - t0;
    json_head("data", name, 1);
    printf(", \"kept\": %zu, \"train\": %zu, \"dev\": %zu, \"test\": %zu, "
           "\"vocab_src\": %u, \"vocab_tgt\": %u, \"load_seconds\": %.3f}\n",
           d.stats[S2S_TRAIN].kept, d.split[S2S_TRAIN].n, d.split[S2S_DEV].n,
           d.split[S2S_TEST].n, s2s_vocab_size(d.src_vocab),
           s2s_vocab_size(d.tgt_vocab), secs);
    fflush(stdout);
    s2s_dataset_free(&d);
    return 0;
fail:
    fprintf(stderr, "s2s bench: %s\n", err.msg);
    return 1;
}

static const char HELP[] =
    "usage: s2s bench [--configs S,G,R,M,A] [--steps N] [--warmup N]\n"
    "                 [--epochs N] [--quality S,A] [--no-quality] [--seed N]\n"
    "       s2s bench --decode CHECKPOINT [--phases | --shortlist K]\n"
    "       s2s bench --phases [--configs S,...] [--steps N] [--warmup N]\n"
    "\n"
    "The reference benchmark of bench/README.md, as JSON lines on stdout: GEMM\n"
    "peak, split and vocabulary sizes, training throughput per config on 2\n"
    "threads (and S on 1), the --quality configs (S and A; '' for none)\n"
    "trained for --epochs (3) with dev perplexity per epoch, test BLEU and\n"
    "chrF greedy and with a beam of 5, and decoding speed of both.\n"
    "--seed overrides train.seed of the quality runs. --decode measures the\n"
    "decoding figures of a saved model (each quality run saves one to\n"
    "runs/NAME/bench.ckpt). --phases trains each config on 1 and 2 threads\n"
    "with phase timers on and prints the share of a training step spent in\n"
    "each phase (JSON lines on stdout, a Markdown table on stderr); with\n"
    "--decode, the same for greedy decoding at batch 64 and 1. Run from the\n"
    "repository root (it reads configs/*.yaml, and the corpus at\n"
    "$S2S_TATOEBA, by default corpora/tatoeba/eng-fra.txt).\n";

int s2s_bench_main(int argc, char **argv)
{
    s2s_git_commit(".", commit, sizeof commit);
    if (argc == 7 && strcmp(argv[1], "--child") == 0)
        return throughput(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                          atof(argv[6]));
    int decode_ph = argc == 4 && strcmp(argv[1], "--decode") == 0 &&
                    strcmp(argv[3], "--phases") == 0;
    int shortlist = 0;
    if (argc == 5 && strcmp(argv[1], "--decode") == 0 &&
        strcmp(argv[3], "--shortlist") == 0) {
        shortlist = atoi(argv[4]);
        if (shortlist < 1 || shortlist > 64) {
            fprintf(stderr, "s2s bench: --shortlist wants a number from 1 to 64, got '%s'\n",
                    argv[4]);
            return 2;
        }
    }
    if ((argc == 3 || decode_ph || shortlist) && strcmp(argv[1], "--decode") == 0) {
        /* decoding figures of a saved model, e.g. runs/S/bench.ckpt */
        s2s_trainer tr;
        s2s_err err;
        if (s2s_trainer_open_checkpoint(&tr, argv[2], 2, NULL, NULL, &err) < 0) {
            fprintf(stderr, "s2s bench: %s\n", err.msg);
            return 1;
        }
        /* nothing trains here: the weights may be frozen (core/frozen.c),
         * as the translator does */
        s2s_trainer_sync(&tr);
        (void)s2s_trainer_freeze_for_decoding(&tr);
        if (decode_ph) {
            decode_phases(&tr, argv[2]);
        } else {
            if (shortlist && !s2s_trainer_shortlist(&tr)) {
                fprintf(stderr, "s2s bench: %s: no shortlist (none in the "
                        "checkpoint, and no training data)\n", argv[2]);
            } else {
                decode_figures(&tr, argv[2], 1, shortlist);
                decode_figures(&tr, argv[2], 5, shortlist);
            }
        }
        s2s_gemm_thaw(tr.model.params.w);
        s2s_trainer_free(&tr);
        return 0;
    }

    static const struct option opts[] = {
        {"configs", required_argument, 0, 'c'}, {"steps", required_argument, 0, 's'},
        {"warmup", required_argument, 0, 'w'},  {"epochs", required_argument, 0, 'e'},
        {"no-quality", no_argument, 0, 'q'},    {"help", no_argument, 0, 'h'},
        {"seed", required_argument, 0, 'S'},   {"quality", required_argument, 0, 'Q'},
        {"phases", no_argument, 0, 'p'},
        {0, 0, 0, 0}};
    char configs[64] = "S,G,R,M,A", qconfigs[64] = "S,A";
    int steps = 200, warmup = 20, epochs = 3, do_quality = 1, do_phases = 0, c;
    long seed = -1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': snprintf(configs, sizeof configs, "%s", optarg); break;
        case 's': steps = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'e': epochs = atoi(optarg); break;
        case 'q': do_quality = 0; break;
        case 'Q': snprintf(qconfigs, sizeof qconfigs, "%s", optarg); break;
        case 'S': seed = atol(optarg); break;
        case 'p': do_phases = 1; break;
        case 'h': fputs(HELP, stdout); return 0;
        default: fputs(HELP, stderr); return 2;
        }
    }
    if (steps < 1 || warmup < 0 || epochs < 1) {
        fputs("s2s bench: --steps and --epochs want positive numbers\n", stderr);
        return 2;
    }
    if (do_phases) {
        int rc = 0;
        char *save = NULL;
        for (char *name = strtok_r(configs, ",", &save); name && rc == 0;
             name = strtok_r(NULL, ",", &save))
            rc = phases(name, warmup, steps);
        return rc;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fputs("s2s bench: cannot find its own executable\n", stderr);
        return 1;
    }
    self[n] = 0;

    {
        /* the corpus first: no figures at all rather than half of them */
        s2s_config cfg;
        s2s_err err;
        if (load_config("S", &cfg, &err) < 0) {
            fprintf(stderr, "s2s bench: %s\n", err.msg);
            return 1;
        }
    }
    double peak[3] = {0};
    for (int t = 1; t <= 2; t++) {
        double sq = gemm_gflops(1024, 1024, 1024, t);
        double fl = gemm_gflops(64, 4096, 1024, t);
        json_head("sgemm", "-", t);
        printf(", \"gflops_1024x1024x1024\": %.1f, \"gflops_64x4096x1024\": %.1f}\n", sq, fl);
        fflush(stdout);
        peak[t] = sq > fl ? sq : fl;
    }
    s2s_blas_set_threads(1);
    int rc = data_figures("S");
    char *save = NULL;
    for (char *name = strtok_r(configs, ",", &save); name && rc == 0;
         name = strtok_r(NULL, ",", &save)) {
        rc = child_throughput(self, name, 2, warmup, steps, peak[2]);
        if (rc == 0 && strcmp(name, "S") == 0)
            rc = child_throughput(self, name, 1, warmup, steps, peak[1]);
    }
    save = NULL;
    for (char *name = strtok_r(qconfigs, ",", &save); name && rc == 0 && do_quality;
         name = strtok_r(NULL, ",", &save))
        rc = quality(name, epochs, 2, seed);
    return rc;
}
