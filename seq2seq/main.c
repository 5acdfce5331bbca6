/* seq2seq/main.c — the `s2s` command: train, translate, repl, eval, config,
 * bench. The only place that prints an error and picks an exit status:
 * 0 success, 1 a failure (with one line on stderr), 2 a usage error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seq2seq/bench.h"
#include "seq2seq/config.h"
#include "seq2seq/repl_shell.h"
#include "seq2seq/s2s.h"
#include "seq2seq/train.h"

static void on_interrupt(int sig)
{
    (void)sig;
    s2s_trainer_request_stop();
}

static int fail(const s2s_err *e)
{
    fprintf(stderr, "s2s: %s\n", e->msg);
    return 1;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "s2s %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 's2s %s --help')\n", cmd);
    return 2;
}

static int parse_threads(const char *cmd, const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 256)
        return usage_error(cmd, "--threads wants a number from 0 to 256, got '%s'", s);
    *out = (int)v;
    return 0;
}

/* ------------------------------------------------------------------------
 * s2s train */

static const char TRAIN_HELP[] =
    "usage: s2s train RUN.yaml [--resume | --resume-from CKPT] [--threads N]\n"
    "\n"
    "Trains the model the run file describes on its data. Writes last.ckpt,\n"
    "best.ckpt (lowest dev loss), metrics.csv and curves.svg to train.run_dir.\n"
    "\n"
    "  --resume         continue from RUN_DIR/last.ckpt, bit-identically to a\n"
    "                   run that never stopped (train.epochs may be raised)\n"
    "  --resume-from CKPT  the same from another checkpoint\n"
    "  --threads N      override train.threads (0 = all cores)\n"
    "  -h, --help       this text\n";

static int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"resume", no_argument, 0, 'r'},
        {"resume-from", required_argument, 0, 'R'},
        {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *resume = NULL;
    int want_resume = 0, threads = -1, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            want_resume = 1;
            break;
        case 'R':
            want_resume = 1;
            resume = optarg;
            break;
        case 't':
            if (parse_threads("train", optarg, &threads)) return 2;
            break;
        case 'h':
            fputs(TRAIN_HELP, stdout);
            return 0;
        default:
            return usage_error("train", "%s", "bad option");
        }
    }
    if (optind != argc - 1)
        return usage_error("train", "%s", "wants exactly one run file");
    s2s_config cfg;
    s2s_err err;
    if (s2s_config_load(&cfg, argv[optind], &err) < 0) return fail(&err);
    if (threads >= 0) cfg.train.threads = threads;
    char last[S2S_PATH_MAX + 16];
    if (want_resume && !resume) {
        snprintf(last, sizeof last, "%s/last.ckpt", cfg.train.run_dir);
        resume = last;
    }
    s2s_trainer tr;
    if (s2s_trainer_init(&tr, &cfg, resume, &err) < 0) return fail(&err);
    s2s_dataset_summary(&tr.data, stderr);
    /* Ctrl-C or a polite kill: finish the step, save, say how to resume */
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = s2s_trainer_run(&tr, stderr, &err);
    s2s_trainer_free(&tr);
    if (rc == S2S_TRAIN_STOPPED) {
        fprintf(stderr, "s2s: %s\n", err.msg);
        return 130;
    }
    return rc < 0 ? fail(&err) : 0;
}

/* ------------------------------------------------------------------------
 * s2s translate */

static const char TRANSLATE_HELP[] =
    "usage: s2s translate -m CHECKPOINT [FILE] [--batch N] [--threads N]\n"
    "\n"
    "Translates FILE (default: standard input), one sentence per line, and\n"
    "writes one line per input line to standard output. Lines are decoded\n"
    "in batches; when standard input is a terminal each line is translated\n"
    "as soon as it is typed.\n"
    "\n"
    "  -m, --model CKPT  the checkpoint (e.g. runs/default/best.ckpt)\n"
    "  --batch N         sentences read and decoded together (default 64)\n"
    "  --threads N       threads (0 = all cores)\n";

static int translate_flush(s2s_translator *t, char **lines, size_t n,
                           size_t first_line, const char *name, int *bad)
{
    char **out = s2s_xcalloc(n ? n : 1, sizeof *out);
    s2s_err *errs = s2s_xcalloc(n ? n : 1, sizeof *errs);
    s2s_translate_batch(t, (const char *const *)lines, n, out, errs);
    for (size_t i = 0; i < n; i++) {
        if (out[i]) {
            fputs(out[i], stdout);
        } else {
            /* keep output aligned with input: an empty line, and say why */
            fprintf(stderr, "s2s: %s:%zu: %s\n", name, first_line + i, errs[i].msg);
            *bad = 1;
        }
        fputc('\n', stdout);
        free(out[i]);
        free(lines[i]);
    }
    free(out);
    free(errs);
    fflush(stdout);
    return ferror(stdout) ? -1 : 0;
}

static int cmd_translate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL;
    int threads = 0, batch = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 65536)
                return usage_error("translate", "--batch wants a number from 1 to 65536, got '%s'", optarg);
            batch = (int)v;
            break;
        }
        case 't':
            if (parse_threads("translate", optarg, &threads)) return 2;
            break;
        case 'h': fputs(TRANSLATE_HELP, stdout); return 0;
        default: return usage_error("translate", "%s", "bad option");
        }
    }
    if (!model) return usage_error("translate", "%s", "needs -m CHECKPOINT");
    if (argc - optind > 1) return usage_error("translate", "%s", "takes at most one input file");
    const char *name = optind < argc ? argv[optind] : "stdin";
    FILE *in = optind < argc ? fopen(argv[optind], "r") : stdin;
    if (!in) {
        fprintf(stderr, "s2s: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    s2s_err err;
    s2s_translator *t = s2s_translator_open(model, threads, &err);
    if (!t) {
        if (in != stdin) fclose(in);
        return fail(&err);
    }
    if (batch == 0) batch = 64;
    int interactive = in == stdin && isatty(fileno(stdin));
    if (interactive) batch = 1;
    char **lines = s2s_xcalloc((size_t)batch, sizeof *lines);
    size_t n = 0, lineno = 0, first = 1;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int bad = 0, rc = 0;
    while ((got = getline(&buf, &cap, in)) >= 0) {
        lineno++;
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) buf[--got] = 0;
        if ((size_t)got != strlen(buf)) {
            fprintf(stderr, "s2s: %s:%zu: NUL byte in line\n", name, lineno);
            buf[0] = 0;
            bad = 1;
        }
        if (n == 0) first = lineno;
        lines[n++] = s2s_xstrdup(buf);
        if (n == (size_t)batch) {
            n = 0;
            if (translate_flush(t, lines, (size_t)batch, first, name, &bad) < 0) {
                fprintf(stderr, "s2s: writing the output: %s\n", strerror(errno));
                rc = 1;
                break;
            }
        }
    }
    if (rc == 0 && ferror(in)) {
        /* what was read is still translated; then the reason */
        int e = errno;
        translate_flush(t, lines, n, first, name, &bad);
        n = 0;
        fprintf(stderr, "s2s: %s: %s\n", name, strerror(e));
        rc = 1;
    }
    if (rc == 0 && translate_flush(t, lines, n, first, name, &bad) < 0) {
        fprintf(stderr, "s2s: writing the output: %s\n", strerror(errno));
        rc = 1;
    }
    free(buf);
    free(lines);
    if (in != stdin) fclose(in);
    s2s_translator_close(t);
    return rc ? rc : bad;
}

/* ------------------------------------------------------------------------
 * s2s repl */

static const char REPL_HELP[] =
    "usage: s2s repl -m CHECKPOINT [--threads N]\n"
    "\n"
    "Loads the model once, then translates each line typed at the prompt\n"
    "(line editing and history on a terminal; plain lines from a pipe).\n"
    "Commands: :help, :tokens on|off, :time on|off, :quit.\n";

static int repl_translate(void *ctx, const char *line, char **out_text,
                          char **out_src_tokens, char **out_hyp_tokens,
                          double *seconds, s2s_err *err)
{
    s2s_translator *t = ctx;
    double t0 = omp_get_wtime();
    char *out = s2s_translate(t, line, err);
    if (!out) return -1;
    *seconds = omp_get_wtime() - t0;
    *out_text = out;
    *out_src_tokens = s2s_xstrdup(s2s_last_source_tokens(t));
    *out_hyp_tokens = s2s_xstrdup(s2s_last_output_tokens(t));
    return 0;
}

static int cmd_repl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL;
    int threads = 1, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 't':
            if (parse_threads("repl", optarg, &threads)) return 2;
            break;
        case 'h': fputs(REPL_HELP, stdout); return 0;
        default: return usage_error("repl", "%s", "bad option");
        }
    }
    if (!model) return usage_error("repl", "%s", "needs -m CHECKPOINT");
    if (optind != argc) return usage_error("repl", "%s", "takes no file arguments");
    s2s_err err;
    s2s_translator *t = s2s_translator_open(model, threads, &err);
    if (!t) return fail(&err);
    s2s_repl_ops ops = {.translate = repl_translate};
    int rc = s2s_repl_run(&ops, t, stdin, stdout, &err);
    s2s_translator_close(t);
    return rc < 0 ? fail(&err) : 0;
}

/* ------------------------------------------------------------------------
 * s2s eval */

static const char EVAL_HELP[] =
    "usage: s2s eval -m CHECKPOINT [--split test|dev] [--threads N]\n"
    "       s2s eval -m CHECKPOINT --test FILE [--test-target FILE]\n"
    "\n"
    "Scores the model on a split of the data its run file names (the test\n"
    "split by default), or on every pair of FILE (TSV in the run file's\n"
    "columns, or with --test-target two aligned files): corpus BLEU-4, chrF\n"
    "and perplexity, as one JSON line, with the output's token count and how\n"
    "many were <unk>. BLEU and chrF are on word tokens whatever the model's\n"
    "units; perplexity is per model token (per piece for subword models).\n";

static int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"split", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"test", required_argument, 0, 'T'},
        {"test-target", required_argument, 0, 'U'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *test = NULL, *test_target = NULL;
    int split = S2S_TEST, threads = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 's':
            if (strcmp(optarg, "test") == 0) split = S2S_TEST;
            else if (strcmp(optarg, "dev") == 0) split = S2S_DEV;
            else if (strcmp(optarg, "train") == 0) split = S2S_TRAIN;
            else return usage_error("eval", "--split is test, dev or train, not '%s'", optarg);
            break;
        case 't':
            if (parse_threads("eval", optarg, &threads)) return 2;
            break;
        case 'T': test = optarg; break;
        case 'U': test_target = optarg; break;
        case 'h': fputs(EVAL_HELP, stdout); return 0;
        default: return usage_error("eval", "%s", "bad option");
        }
    }
    if (!model) return usage_error("eval", "%s", "needs -m CHECKPOINT");
    if (optind != argc) return usage_error("eval", "takes no other arguments, got '%s'", argv[optind]);
    s2s_err err;
    s2s_trainer tr;
    if (test_target && !test)
        return usage_error("eval", "%s", "--test-target goes with --test");
    if (test) split = S2S_TRAIN; /* the file is read as one split */
    if (s2s_trainer_open_checkpoint(&tr, model, threads, test, test_target, &err) < 0)
        return fail(&err);
    const char *names[] = {test ? "file" : "train", "dev", "test"};
    if (tr.data.split[split].n == 0) {
        s2s_trainer_free(&tr);
        fprintf(stderr, "s2s: %s: the %s split is empty\n", model, names[split]);
        return 1;
    }
    double loss = s2s_trainer_loss(&tr, split);
    s2s_scores sc;
    s2s_trainer_score(&tr, split, &sc, &err);
    /* JSON has no inf: a diverged model's perplexity prints as null */
    char ppl[32];
    if (isfinite(exp(loss))) snprintf(ppl, sizeof ppl, "%.3f", exp(loss));
    else snprintf(ppl, sizeof ppl, "null");
    printf("{\"split\": \"%s\", \"sentences\": %zu, \"bleu\": %.2f, \"chrf\": %.2f, "
           "\"loss\": %.4f, \"perplexity\": %s, \"output_tokens\": %zu, "
           "\"output_unk\": %zu}\n",
           names[split], sc.sentences, sc.bleu, sc.chrf, loss, ppl,
           sc.out_tokens, sc.out_unk);
    s2s_trainer_free(&tr);
    return 0;
}

/* ------------------------------------------------------------------------
 * s2s config */

static int cmd_config(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        puts("usage: s2s config [RUN.yaml]\n\n"
             "Prints the fully resolved run configuration: the file's values over\n"
             "every default (no file: the defaults alone).");
        return 0;
    }
    if (argc > 2) return usage_error("config", "%s", "takes at most one run file");
    s2s_config cfg;
    s2s_err err;
    if (argc == 2) {
        if (s2s_config_load(&cfg, argv[1], &err) < 0) return fail(&err);
    } else {
        s2s_config_defaults(&cfg);
    }
    s2s_config_write(&cfg, stdout);
    return 0;
}

/* ------------------------------------------------------------------------ */

static const char HELP[] =
    "usage: s2s COMMAND [ARGS]\n"
    "\n"
    "Neural machine translation with recurrent encoder-decoder models.\n"
    "\n"
    "  train RUN.yaml          train the model a run file describes\n"
    "  translate -m CKPT [F]   translate lines of F (or stdin) to stdout\n"
    "  repl -m CKPT            translate interactively\n"
    "  eval -m CKPT            BLEU, chrF and perplexity on the test split\n"
    "  config [RUN.yaml]       print the resolved run configuration\n"
    "  bench [CONFIG...]       the reference benchmark, as JSON lines\n"
    "\n"
    "'s2s COMMAND --help' tells more. s2s --version prints the version.\n";

int main(int argc, char **argv)
{
    /* a closed pipe (`s2s translate ... | head`) is a write error to report,
     * not a signal that kills silently */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(HELP, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(HELP, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("s2s %s\n", S2S_VERSION);
        return 0;
    }
    argc--;
    argv++;
    if (strcmp(cmd, "train") == 0) return cmd_train(argc, argv);
    if (strcmp(cmd, "translate") == 0) return cmd_translate(argc, argv);
    if (strcmp(cmd, "repl") == 0) return cmd_repl(argc, argv);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc, argv);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc, argv);
    if (strcmp(cmd, "bench") == 0) return s2s_bench_main(argc, argv);
    fprintf(stderr, "s2s: unknown command '%s' (see 's2s --help')\n", cmd);
    return 2;
}
