/* seq2seq/cli/main.c — the `s2s` command: train, translate, repl, eval, config,
 * bench. The only place that prints an error and picks an exit status:
 * 0 success, 1 a failure (with one line on stderr), 2 a usage error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/cellcheck.h"
#include "core/dist.h"
#include "core/file.h"
#include "core/kernels.h"
#include "core/loader.h"
#include "seq2seq/cli/bench.h"
#include "seq2seq/cli/info.h"
#include "seq2seq/cli/repl_shell.h"
#include "seq2seq/config.h"
#include "seq2seq/decode.h"
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
    if (errno || end == s || *end || v < 0 || v > 256)
        return usage_error(cmd, "--threads wants a number from 0 to 256, got '%s'", s);
    *out = (int)v;
    return 0;
}

/* A whole number from 1 to max for option `opt` of `cmd`. */
static int parse_range(const char *cmd, const char *opt, const char *s, int min,
                       int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "s2s %s: %s wants a number from %d to %d, got '%s' "
                "(see 's2s %s --help')\n", cmd, opt, min, max, s, cmd);
        return 2;
    }
    *out = (int)v;
    return 0;
}

static int parse_count(const char *cmd, const char *opt, const char *s, int max,
                       int *out)
{
    return parse_range(cmd, opt, s, 1, max, out);
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
    "  -h, --help       this text\n"
    "\n"
    "Under MPI (mpirun -np N s2s train RUN.yaml) the N processes train one\n"
    "model: each takes its shares of every batch with --threads threads,\n"
    "rank 0 alone prints and writes files.\n";

/* Under MPI a failing rank says which it is and takes the job down with
 * it (the others may be waiting for it); alone, an ordinary failure. */
static int train_fail(const s2s_err *e)
{
    if (s2s_dist_size() == 1) return fail(e);
    fprintf(stderr, "s2s: rank %d of %d: %s\n", s2s_dist_rank(),
            s2s_dist_size(), e->msg);
    s2s_dist_abort(1);
    return 1;
}

/* Setting up (run file, data, checkpoint) is where ranks fail together or
 * apart: every rank says whether it failed, and rank 0 prints each reason
 * once (naming the rank unless all ranks gave it). Returns 1 if any rank
 * failed, so that all of them end cleanly. Alone: fail() when failed. */
static int setup_failed(int failed, const s2s_err *e)
{
    int R = s2s_dist_size();
    if (R == 1) return failed ? fail(e) : 0;
    typedef struct { int failed; char msg[sizeof e->msg]; } status;
    status mine = {failed, ""}, *all = s2s_xcalloc((size_t)R, sizeof *all);
    if (failed) snprintf(mine.msg, sizeof mine.msg, "%s", e->msg);
    s2s_dist_allgather(&mine, all, sizeof mine);
    int any = 0;
    for (int q = 0; q < R; q++) {
        if (!all[q].failed) continue;
        any = 1;
        int same = 0, everyone = 1;
        for (int u = 0; u < R; u++) {
            if (u < q && all[u].failed && strcmp(all[u].msg, all[q].msg) == 0) same = 1;
            if (!all[u].failed || strcmp(all[u].msg, all[q].msg) != 0) everyone = 0;
        }
        if (s2s_dist_rank() != 0 || same) continue;
        if (everyone) fprintf(stderr, "s2s: %s\n", all[q].msg);
        else fprintf(stderr, "s2s: rank %d of %d: %s\n", q, R, all[q].msg);
    }
    free(all);
    return any;
}

/* --cell-path DIR: a trusted directory for cell plugins, searched first */
static int cell_path_option(const char *cmd, const char *dir)
{
    s2s_err err;
    if (s2s_cell_trust_dir(dir, &err) < 0)
        return usage_error(cmd, "%s", err.msg);
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"resume", no_argument, 0, 'r'},
        {"resume-from", required_argument, 0, 'R'},
        {"threads", required_argument, 0, 't'},
        {"cell-path", required_argument, 0, 'C'},
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
        case 'C':
            if (cell_path_option("train", optarg)) return 2;
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
    if (setup_failed(s2s_config_load(&cfg, argv[optind], &err) < 0, &err)) return 1;
    if (threads >= 0) cfg.train.threads = threads;
    char last[S2S_PATH_MAX + 16];
    if (want_resume && !resume) {
        snprintf(last, sizeof last, "%s/last.ckpt", cfg.train.run_dir);
        resume = last;
    }
    s2s_trainer tr;
    int bad = s2s_trainer_init(&tr, &cfg, resume, &err) < 0;
    if (setup_failed(bad, &err)) {
        if (!bad) s2s_trainer_free(&tr);
        return 1;
    }
    if (s2s_dist_rank() == 0) s2s_dataset_summary(&tr.data, stderr);
    /* Ctrl-C or a polite kill: finish the step, save, say how to resume */
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = s2s_trainer_run(&tr, stderr, &err);
    s2s_trainer_free(&tr);
    if (rc == S2S_TRAIN_STOPPED) {
        if (s2s_dist_rank() == 0) fprintf(stderr, "s2s: %s\n", err.msg);
        return 130;
    }
    return rc < 0 ? train_fail(&err) : 0;
}

/* ------------------------------------------------------------------------
 * s2s translate */

static const char TRANSLATE_HELP[] =
    "usage: s2s translate -m CHECKPOINT [FILE] [--batch N] [--threads N] [--align]\n"
    "                     [--beam K] [--n-best N]\n"
    "\n"
    "Translates FILE (default: standard input), one sentence per line, and\n"
    "writes one line per input line to standard output. Lines are decoded\n"
    "in batches of up to --batch; from a pipe, whatever has arrived is\n"
    "decoded as soon as input pauses (so a program can write a line and\n"
    "wait for its translation), and each batch is flushed at once; from a\n"
    "terminal each line is translated as soon as it is typed.\n"
    "\n"
    "  -m, --model CKPT  the checkpoint (e.g. runs/default/best.ckpt)\n"
    "  --batch N         sentences read and decoded together (default 64)\n"
    "  --threads N       threads (0 = all cores)\n"
    "  --cell-path DIR   look for the model's cell plugins in DIR first\n"
    "  --max-line BYTES  longest input line accepted (default 1048576)\n"
    "  --beam K          hypotheses kept per sentence (default: the checkpoint's\n"
    "                    decode.beam; 1 = greedy)\n"
    "  --n-best N        print the N best translations of each line, best first,\n"
    "                    as 'i ||| translation ||| score' (i counts input lines\n"
    "                    from 0; the score is the length-normalised\n"
    "                    log-probability that ranks them)\n"
    "  --shortlist K     decode over a lexical shortlist: the checkpoint's\n"
    "                    decode.shortlist_frequent most frequent target tokens\n"
    "                    and the K best of each source token of a batch\n"
    "                    (faster beam search; changes output; default: the\n"
    "                    checkpoint's decode.shortlist, 0 = off)\n"
    "  --align           (models with attention) append ' ||| ' and the hard\n"
    "                    alignment in Pharaoh format, '0-0 1-2 ...': for each\n"
    "                    output token j the source token i it attends to most,\n"
    "                    as i-j (token positions from 0)\n";

/* --align: each line also carries its hard alignment; --n-best N */
static int translate_align, translate_nbest;

/* --n-best: N lines per input line, 'i ||| translation ||| score'. */
static void print_nbest(s2s_translator *t, char **lines, size_t n,
                        size_t first_line, const char *name, int *bad)
{
    int N = translate_nbest;
    char **hyps = s2s_xcalloc((n ? n : 1) * (size_t)N, sizeof *hyps);
    float *sc = s2s_xcalloc((n ? n : 1) * (size_t)N, sizeof *sc);
    int *nh = s2s_xcalloc(n ? n : 1, sizeof *nh);
    s2s_err *errs = s2s_xcalloc(n ? n : 1, sizeof *errs);
    s2s_translate_batch_nbest(t, (const char *const *)lines, n, N, hyps, sc, nh, errs);
    for (size_t i = 0; i < n; i++) {
        if (!hyps[i * N]) {
            fprintf(stderr, "s2s: %s:%zu: %s\n", name, first_line + i, errs[i].msg);
            *bad = 1;
        }
        for (int h = 0; h < nh[i]; h++) {
            printf("%zu ||| %s ||| %.6f\n", first_line + i - 1, hyps[i * N + h],
                   sc[i * N + h]);
            free(hyps[i * N + h]);
        }
    }
    free(hyps); free(sc); free(nh); free(errs);
}

static int translate_flush(s2s_translator *t, char **lines, size_t n,
                           size_t first_line, const char *name, int *bad)
{
    if (translate_nbest) {
        print_nbest(t, lines, n, first_line, name, bad);
        for (size_t i = 0; i < n; i++) free(lines[i]);
        fflush(stdout);
        return ferror(stdout) ? -1 : 0;
    }
    char **out = s2s_xcalloc(n ? n : 1, sizeof *out);
    s2s_err *errs = s2s_xcalloc(n ? n : 1, sizeof *errs);
    char **align = translate_align ? s2s_xcalloc(n ? n : 1, sizeof *align) : NULL;
    s2s_translate_batch_aligned(t, (const char *const *)lines, n, out, align, errs);
    for (size_t i = 0; i < n; i++) {
        if (out[i]) {
            fputs(out[i], stdout);
            if (align) fprintf(stdout, " ||| %s", align[i] ? align[i] : "");
            if (align) free(align[i]);
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
    free(align);
    fflush(stdout);
    return ferror(stdout) ? -1 : 0;
}

/* Lines read with read(2) into a buffer of our own (not stdio's), so that
 * whether more input is ready can be asked of the descriptor with poll(). */
typedef struct line_reader {
    int fd, eof;
    char *buf;
    size_t cap, start, end; /* unread bytes: buf[start..end) */
    char *line;             /* the line handed out */
    size_t line_cap;
    size_t max;             /* longest line accepted, in bytes */
} line_reader;

/* The next line, its line end included and a NUL after it, in *line (valid
 * until the next call) and its length in *len. Returns 1 for a line, 0 at
 * the end of input, -1 on a read error (errno says why), -2 for a line
 * longer than rd->max bytes, and 2 when `wait` is 0, no whole line is
 * buffered and no byte is ready to read. */
static int reader_next(line_reader *rd, int wait, char **line, size_t *len)
{
    for (;;) {
        char *nl = rd->end > rd->start ? memchr(rd->buf + rd->start, '\n', rd->end - rd->start) : NULL;
        if (nl || (rd->eof && rd->end > rd->start)) {
            size_t k = nl ? (size_t)(nl - (rd->buf + rd->start)) + 1 : rd->end - rd->start;
            if (k > rd->max + 2) return -2; /* the line end aside */
            if (k + 1 > rd->line_cap) {
                rd->line_cap = k + 1;
                rd->line = s2s_xrealloc(rd->line, rd->line_cap);
            }
            memcpy(rd->line, rd->buf + rd->start, k);
            rd->line[k] = 0;
            rd->start += k;
            *line = rd->line;
            *len = k;
            return 1;
        }
        if (rd->eof) return 0;
        if (rd->end - rd->start > rd->max) return -2; /* e.g. /dev/zero */
        if (!wait) {
            struct pollfd p = {.fd = rd->fd, .events = POLLIN};
            if (poll(&p, 1, 0) == 0) return 2;
        }
        if (rd->start > 0) {
            memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
            rd->end -= rd->start;
            rd->start = 0;
        }
        if (rd->cap - rd->end < 4096) {
            rd->cap = rd->cap ? 2 * rd->cap : 65536;
            rd->buf = s2s_xrealloc(rd->buf, rd->cap);
        }
        ssize_t r = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) rd->eof = 1;
        rd->end += (size_t)r;
    }
}

static int cmd_translate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'},
        {"align", no_argument, 0, 'a'},
        {"beam", required_argument, 0, 'k'},
        {"n-best", required_argument, 0, 'n'},
        {"shortlist", required_argument, 0, 'S'},
        {"max-line", required_argument, 0, 'L'},
        {"cell-path", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL;
    size_t max_line = S2S_MAX_LINE_DEFAULT;
    int threads = 0, batch = 0, beam = 0, shortlist = -1, c;
    translate_align = translate_nbest = 0;
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
        case 'a': translate_align = 1; break;
        case 'k':
            if (parse_count("translate", "--beam", optarg, 1024, &beam)) return 2;
            break;
        case 'n':
            if (parse_count("translate", "--n-best", optarg, 1024, &translate_nbest)) return 2;
            break;
        case 'S':
            if (parse_range("translate", "--shortlist", optarg, 0, 64, &shortlist)) return 2;
            break;
        case 'L': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || optarg[0] == '-')
                return usage_error("translate", "--max-line wants a number of bytes, got '%s'", optarg);
            max_line = (size_t)v;
            break;
        }
        case 'C':
            if (cell_path_option("translate", optarg)) return 2;
            break;
        case 'h': fputs(TRANSLATE_HELP, stdout); return 0;
        default: return usage_error("translate", "%s", "bad option");
        }
    }
    if (!model) return usage_error("translate", "%s", "needs -m CHECKPOINT");
    if (translate_align && translate_nbest)
        return usage_error("translate", "%s", "--align goes with one translation "
                           "per line, not with --n-best");
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
    if (translate_align && !s2s_translator_has_attention(t)) {
        if (in != stdin) fclose(in);
        s2s_translator_close(t);
        return usage_error("translate", "--align needs a model with attention; "
                           "%s has model.attention: none", model);
    }
    if (beam) s2s_translator_set_beam(t, beam);
    if (shortlist >= 0 && s2s_translator_set_shortlist(t, shortlist, &err) < 0) {
        fprintf(stderr, "s2s: %s: %s\n", model, err.msg);
        s2s_translator_close(t);
        if (in != stdin) fclose(in);
        return 1;
    }
    if (translate_nbest > s2s_translator_beam(t))
        s2s_translator_set_beam(t, translate_nbest); /* N best need a beam of N */
    if (batch == 0) batch = 64;
    int interactive = in == stdin && isatty(fileno(stdin));
    if (interactive) batch = 1;
    char **lines = s2s_xcalloc((size_t)batch, sizeof *lines);
    size_t n = 0, lineno = 0, first = 1;
    line_reader rd = {.fd = fileno(in), .max = max_line};
    char *buf;
    size_t got;
    int bad = 0, rc = 0, r;
    /* A batch is decoded when it is full or, from a pipe, as soon as no
     * more input is ready: a program that writes one line and waits for
     * its translation gets it; a stream of lines is still batched. */
    while ((r = reader_next(&rd, n == 0, &buf, &got)) != 0) {
        if (r < 0) break;
        if (r == 2) {
            if (translate_flush(t, lines, n, first, name, &bad) < 0) {
                fprintf(stderr, "s2s: writing the output: %s\n", strerror(errno));
                rc = 1;
                break;
            }
            n = 0;
            continue;
        }
        lineno++;
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) buf[--got] = 0;
        if (got != strlen(buf)) {
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
    if (rc == 0 && r < 0) {
        /* what was read is still translated; then the reason */
        int e = errno;
        translate_flush(t, lines, n, first, name, &bad);
        n = 0;
        if (r == -2)
            fprintf(stderr, "s2s: %s:%zu: a line longer than %zu bytes (not text, "
                    "or raise --max-line)\n", name, lineno + 1, max_line);
        else
            fprintf(stderr, "s2s: %s: read error: %s\n", name, strerror(e ? e : EIO));
        rc = 1;
    }
    if (rc == 0 && translate_flush(t, lines, n, first, name, &bad) < 0) {
        fprintf(stderr, "s2s: writing the output: %s\n", strerror(errno));
        rc = 1;
    }
    free(rd.buf);
    free(rd.line);
    free(lines);
    if (in != stdin) fclose(in);
    s2s_translator_close(t);
    return rc ? rc : bad;
}

/* ------------------------------------------------------------------------
 * s2s repl */

static const char REPL_HELP[] =
    "usage: s2s repl -m CHECKPOINT [--commands] [--threads N]\n"
    "\n"
    "Loads the model once, then translates each line typed at the prompt:\n"
    "line editing, Ctrl-C clears the line, Ctrl-D leaves; history is saved\n"
    "after every line in ~/.s2s_history. Commands: :help, :tokens on|off\n"
    "(a source word the model does not know shows as <unk:word>),\n"
    ":time on|off, :align on|off (attention heat map), :beam K, :nbest N,\n"
    ":shortlist K (the checkpoint's lexical shortlist; 0 = off), :quit.\n"
    "\n"
    "From a pipe it prints one translation per line on standard output,\n"
    "each as soon as its line has arrived; a line that fails gives an empty\n"
    "line there and its reason on standard error, and the exit status is 1.\n"
    "Lines starting with ':' are sentences there, unless --commands.\n"
    "\n"
    "  -m, --model CKPT  the checkpoint (e.g. runs/default/best.ckpt)\n"
    "  --commands        from a pipe too, ':' lines are commands\n"
    "  --cell-path DIR   look for the model's cell plugins in DIR first\n"
    "  --threads N       threads (default 1)\n";

/* The REPL's model side: the translator, and :nbest's list. */
typedef struct repl_model {
    s2s_translator *t;
    int nbest;
    char *hyps[64];
    float scores[64];
    int n_hyps;
} repl_model;

static int repl_translate(void *ctx, const char *line, char **out_text,
                          char **out_src_tokens, char **out_hyp_tokens,
                          double *seconds, s2s_err *err)
{
    repl_model *rm = ctx;
    s2s_translator *t = rm->t;
    double t0 = omp_get_wtime();
    char *out = s2s_translate(t, line, err);
    if (!out) return -1;
    if (rm->nbest > 1) {
        int k = s2s_translate_nbest(t, line, rm->nbest, rm->hyps, rm->scores, err);
        rm->n_hyps = k > 0 ? k : 0;
    }
    *seconds = omp_get_wtime() - t0;
    *out_text = out;
    *out_src_tokens = s2s_xstrdup(s2s_last_source_tokens(t));
    *out_hyp_tokens = s2s_xstrdup(s2s_last_output_tokens(t));
    return 0;
}


static const float *repl_attention(void *ctx, int *n_out, int *n_src)
{
    return s2s_last_attention(((repl_model *)ctx)->t, n_out, n_src);
}

/* The whole number a REPL command was given, from min to max (0 meaning
 * off); 0, with the message, when it is not one. */
static int repl_number(const char *cmd, const char *arg, int min, int max,
                       FILE *out, int *v)
{
    char *end;
    long x = strtol(arg, &end, 10);
    if (*end || x < min || x > max) {
        fprintf(out, "error: %s takes a number from %d to %d%s\n", cmd, min, max,
                min == 0 ? " (0 = off)" : "");
        return 0;
    }
    *v = (int)x;
    return 1;
}

/* :shortlist K (0 = off): decoding over the checkpoint's lexical shortlist */
static int repl_shortlist(repl_model *rm, const char *arg, FILE *out)
{
    int v = s2s_translator_shortlist(rm->t), x;
    if (*arg) {
        if (!repl_number(":shortlist", arg, 0, 64, out, &x)) return 1;
        s2s_err err;
        if (s2s_translator_set_shortlist(rm->t, x, &err) < 0) {
            fprintf(out, "error: %s\n", err.msg);
            return 1;
        }
        v = x;
    }
    if (!*arg || isatty(fileno(out)))
        fprintf(out, "shortlist: %d\n", v);
    return 1;
}

static int repl_command(void *ctx, const char *cmd, const char *arg, FILE *out)
{
    repl_model *rm = ctx;
    if (!strcmp(cmd, ":shortlist")) return repl_shortlist(rm, arg, out);
    int beam = !strcmp(cmd, ":beam");
    if (!beam && strcmp(cmd, ":nbest") != 0) return 0;
    int max = beam ? 1024 : 64, v = s2s_translator_beam(rm->t);
    if (!beam) v = rm->nbest;
    if (*arg) {
        if (!repl_number(cmd, arg, 1, max, out, &v)) return 1;
        if (beam) s2s_translator_set_beam(rm->t, v);
        else rm->nbest = v;
        if (!beam && v > s2s_translator_beam(rm->t)) s2s_translator_set_beam(rm->t, v);
    }
    if (!*arg || isatty(fileno(out))) /* a pipe gets translations only */
        fprintf(out, "%s: %d\n", cmd + 1, v);
    return 1;
}

static void repl_after(void *ctx, FILE *out)
{
    repl_model *rm = ctx;
    for (int h = 0; h < rm->n_hyps; h++) {
        fprintf(out, "  %d. %s ||| %.4f\n", h + 1, rm->hyps[h], rm->scores[h]);
        free(rm->hyps[h]);
    }
    rm->n_hyps = 0;
}

static int cmd_repl(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"threads", required_argument, 0, 't'},
        {"commands", no_argument, 0, 'c'},
        {"cell-path", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL;
    int threads = 1, commands = 0, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': commands = 1; break;
        case 't':
            if (parse_threads("repl", optarg, &threads)) return 2;
            break;
        case 'C':
            if (cell_path_option("repl", optarg)) return 2;
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
    s2s_repl_ops ops = {.translate = repl_translate, .command = repl_command,
                        .after = repl_after};
    if (s2s_translator_has_attention(t)) ops.attention = repl_attention;
    repl_model rm = {.t = t, .nbest = 1};
    s2s_repl_options ro = {.commands = commands};
    int rc = s2s_repl_run_with(&ops, &rm, stdin, stdout, &ro, &err);
    s2s_translator_close(t);
    return rc < 0 ? fail(&err) : rc > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------------
 * s2s score */

static const char SCORE_HELP[] =
    "usage: s2s score -m CHECKPOINT FILE [--target FILE2] [--threads N]\n"
    "                 [--cell-path DIR]\n"
    "\n"
    "Forced decoding: for each pair, the log-probability the model gives the\n"
    "target (and the <eos> after it) as the translation of the source. FILE\n"
    "is TSV in the columns the model was trained on (data.src_column,\n"
    "data.tgt_column), or with --target FILE2 the source side, line by line\n"
    "aligned with FILE2. Prints one line per pair: the total log-probability\n"
    "and the mean per scored token (<eos> included), separated by a tab. A\n"
    "pair that cannot be read prints an empty line and one message on stderr\n"
    "(exit status 1).\n";

/* Column `col` (from 1) of a tab-separated line, cut in place; NULL if
 * the line has fewer columns. */
static char *tsv_column(char *line, int col)
{
    for (int c = 1; c < col; c++) {
        line = strchr(line, '\t');
        if (!line) return NULL;
        line++;
    }
    line[strcspn(line, "\t")] = 0;
    return line;
}

static int cmd_score(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"target", required_argument, 0, 'T'},
        {"threads", required_argument, 0, 't'},
        {"cell-path", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *target = NULL;
    int threads = 1, c;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'T': target = optarg; break;
        case 't':
            if (parse_threads("score", optarg, &threads)) return 2;
            break;
        case 'C':
            if (cell_path_option("score", optarg)) return 2;
            break;
        case 'h': fputs(SCORE_HELP, stdout); return 0;
        default: return usage_error("score", "%s", "bad option");
        }
    }
    if (!model) return usage_error("score", "%s", "needs -m CHECKPOINT");
    if (argc - optind != 1) return usage_error("score", "%s", "needs one FILE");
    const char *name = argv[optind];
    FILE *in = fopen(name, "r"), *tin = NULL;
    if (!in) {
        fprintf(stderr, "s2s: %s: %s\n", name, strerror(errno));
        return 1;
    }
    if (target && !(tin = fopen(target, "r"))) {
        fprintf(stderr, "s2s: %s: %s\n", target, strerror(errno));
        fclose(in);
        return 1;
    }
    s2s_err err;
    s2s_translator *t = s2s_translator_open(model, threads, &err);
    if (!t) {
        fclose(in);
        if (tin) fclose(tin);
        return fail(&err);
    }
    int sc, tc, bad = 0;
    s2s_translator_columns(t, &sc, &tc);
    char *buf = NULL, *tbuf = NULL;
    size_t cap = 0, tcap = 0, lineno = 0;
    ssize_t got;
    while ((got = getline(&buf, &cap, in)) >= 0) {
        lineno++;
        while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) buf[--got] = 0;
        char *src = buf, *tgt = NULL;
        if (tin) {
            ssize_t tg = getline(&tbuf, &tcap, tin);
            if (tg < 0) {
                fprintf(stderr, "s2s: %s: ends at line %zu, before %s\n", target,
                        lineno - 1, name);
                bad = 1;
                break;
            }
            while (tg > 0 && (tbuf[tg - 1] == '\n' || tbuf[tg - 1] == '\r')) tbuf[--tg] = 0;
            tgt = tbuf;
        } else {
            char *copy = s2s_xstrdup(buf);
            src = tsv_column(buf, sc);
            tgt = tsv_column(copy, tc);
            if (tgt) memmove(copy, tgt, strlen(tgt) + 1);
            tgt = tgt ? copy : NULL;
            if (!src || !tgt) {
                fprintf(stderr, "s2s: %s:%zu: wants columns %d (source) and %d "
                        "(target) separated by tabs\n", name, lineno, sc, tc);
                free(copy);
                putchar('\n');
                bad = 1;
                continue;
            }
        }
        double lp;
        int nt;
        s2s_err e;
        if (s2s_score_batch(t, (const char *const *)&src, (const char *const *)&tgt,
                            1, &lp, &nt, &e) > 0) {
            fprintf(stderr, "s2s: %s:%zu: %s\n", name, lineno, e.msg);
            putchar('\n');
            bad = 1;
        } else {
            printf("%.6f\t%.6f\n", lp, lp / nt);
        }
        if (!tin) free(tgt);
    }
    if (ferror(in)) {
        fprintf(stderr, "s2s: %s: %s\n", name, strerror(errno));
        bad = 1;
    }
    free(buf);
    free(tbuf);
    fclose(in);
    if (tin) fclose(tin);
    s2s_translator_close(t);
    fflush(stdout);
    return bad;
}

/* ------------------------------------------------------------------------
 * s2s eval */

static const char EVAL_HELP[] =
    "usage: s2s eval -m CHECKPOINT [--split test|dev] [--threads N] [--beam K]\n"
    "                [--shortlist K]\n"
    "                [--length-penalty none|avg|wu]\n"
    "       s2s eval -m CHECKPOINT --test FILE [--test-target FILE]\n"
    "\n"
    "Scores the model on a split of the data its run file names (the test\n"
    "split by default), or on every pair of FILE (TSV in the run file's\n"
    "columns, or with --test-target two aligned files): corpus BLEU-4, chrF\n"
    "and perplexity, as one JSON line, with the output's token count and how\n"
    "many were <unk>. BLEU and chrF are on word tokens whatever the model's\n"
    "units; perplexity is per model token (per piece for subword models).\n"
    "Decoding as the run file's decode section says (decode.beam), or with\n"
    "--beam K (1 = greedy); --shortlist K decodes over a lexical shortlist\n"
    "(see 's2s translate --help').\n";

static int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"split", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"test", required_argument, 0, 'T'},
        {"test-target", required_argument, 0, 'U'},
        {"shortlist", required_argument, 0, 'S'},
        {"beam", required_argument, 0, 'b'},
        {"length-penalty", required_argument, 0, 'P'},
        {"cell-path", required_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *test = NULL, *test_target = NULL;
    int split = S2S_TEST, threads = 0, beam = 0, shortlist = -1, c;
    const char *lp = NULL;
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
        case 'C':
            if (cell_path_option("eval", optarg)) return 2;
            break;
        case 'T': test = optarg; break;
        case 'U': test_target = optarg; break;
        case 'b':
            if (parse_count("eval", "--beam", optarg, 1024, &beam)) return 2;
            break;
        case 'S':
            if (parse_range("eval", "--shortlist", optarg, 0, 64, &shortlist)) return 2;
            break;
        case 'P':
            if (strcmp(optarg, "none") && strcmp(optarg, "avg") && strcmp(optarg, "wu"))
                return usage_error("eval", "--length-penalty is none, avg or wu, not '%s'", optarg);
            lp = optarg;
            break;
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
    s2s_trainer_sync(&tr);
    (void)s2s_trainer_freeze_for_decoding(&tr); /* read only */
    double loss = s2s_trainer_loss(&tr, split);
    s2s_scores sc;
    s2s_beam_opts bo;
    if (lp) snprintf(tr.cfg.decode.length_penalty, sizeof tr.cfg.decode.length_penalty, "%s", lp);
    s2s_beam_opts_of(&tr.cfg, &bo);
    if (beam) bo.beam = beam;
    if (shortlist >= 0) bo.shortlist_per_word = shortlist;
    bo.shortlist = bo.shortlist_per_word > 0 ? s2s_trainer_shortlist(&tr) : NULL;
    if (bo.shortlist_per_word > 0 && !bo.shortlist) {
        s2s_gemm_thaw(tr.model.params.w);
        s2s_trainer_free(&tr);
        fprintf(stderr, "s2s: %s: a shortlist was asked for, but the checkpoint "
                "has none and its training data is not at hand\n", model);
        return 1;
    }
    s2s_trainer_score(&tr, split, &bo, &sc, &err);
    /* JSON has no inf: a diverged model's perplexity prints as null */
    char ppl[32];
    if (isfinite(exp(loss))) snprintf(ppl, sizeof ppl, "%.3f", exp(loss));
    else snprintf(ppl, sizeof ppl, "null");
    printf("{\"split\": \"%s\", \"sentences\": %zu, \"beam\": %d, \"bleu\": %.2f, "
           "\"chrf\": %.2f, \"loss\": %.4f, \"perplexity\": %s, \"output_tokens\": %zu, "
           "\"output_unk\": %zu}\n",
           names[split], sc.sentences, bo.beam, sc.bleu, sc.chrf, loss, ppl,
           sc.out_tokens, sc.out_unk);
    s2s_gemm_thaw(tr.model.params.w);
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

/* ------------------------------------------------------------------------
 * s2s check-cell */

static const char CHECK_CELL_HELP[] =
    "usage: s2s check-cell PATH.so | NAME\n"
    "\n"
    "Loads a cell plugin as training would and checks that it keeps the\n"
    "contract of cells/cell.h, one line per check, pass or FAIL with its\n"
    "figures: the descriptor; init fills exactly its parameters; forward\n"
    "and backward are deterministic and batch-invariant; every gradient\n"
    "against central finite differences; no write outside the buffers it\n"
    "is given; a toy task it should learn. Exit status 1 if any fails.\n";

/* A plugin that crashes: say in which check, as one more FAIL line. */
static void on_cell_crash(int sig)
{
    static const char a[] = "FAIL  ", b[] = ": the plugin crashed (signal ",
                      c[] = "); run it under gdb, or build it with "
                            "-fsanitize=address, to see where\n";
    const char *check = s2s_cellcheck_current();
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), 0};
    ssize_t w = write(1, a, sizeof a - 1);
    w += write(1, check, strlen(check));
    w += write(1, b, sizeof b - 1);
    w += write(1, sig >= 10 ? num : num + 1, sig >= 10 ? 2 : 1);
    w += write(1, c, sizeof c - 1);
    (void)w;
    _exit(1);
}

static int cmd_check_cell(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(CHECK_CELL_HELP, stdout);
        return 0;
    }
    if (argc != 2) return usage_error("check-cell", "%s", "wants one plugin path or cell name");
    s2s_cell cell;
    s2s_err err;
    if (s2s_cell_load(&cell, argv[1], &err) < 0) {
        printf("FAIL  load: %s\n", err.msg);
        return 1;
    }
    printf("checking %s (cell '%s')\n", cell.path, cell.desc->name);
    fflush(stdout);
    static const int crashes[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof crashes / sizeof *crashes; i++) {
        struct sigaction sa = {.sa_handler = on_cell_crash};
        sigemptyset(&sa.sa_mask);
        sigaction(crashes[i], &sa, NULL);
    }
    int failed = s2s_cellcheck_run(cell.desc, cell.path, stdout);
    printf("%s: %d of 7 checks failed\n", failed ? "FAIL" : "pass", failed);
    s2s_cell_unload(&cell);
    return failed ? 1 : 0;
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
    "  score -m CKPT FILE      log-probability of given translations (forced decoding)\n"
    "  eval -m CKPT            BLEU, chrF and perplexity on the test split\n"
    "  config [RUN.yaml]       print the resolved run configuration\n"
    "  info CKPT [--json]      what a checkpoint holds: model, vocabularies, training\n"
    "  export CKPT OUT         a translation-only copy (no optimiser state)\n"
    "  check-cell PATH.so      check a cell plugin of your own\n"
    "  bench [--configs S,G,R,M,A] [--quality S,A] [--no-quality] ...\n"
    "                          the reference benchmark (bench/README.md), JSON lines\n"
    "\n"
    "'s2s COMMAND --help' tells more. s2s --version prints the version.\n";

int main(int argc, char **argv)
{
    /* a closed pipe (`s2s translate ... | head`) is a write error to report,
     * not a signal that kills silently */
    signal(SIGPIPE, SIG_IGN);
    /* before anything else: may restart the program once with a better
     * OpenBLAS kernel than the generic one it fell back to */
    s2s_blas_autoselect(argv);
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
        char blas[384];
        printf("s2s %s\n%s\n", S2S_VERSION, s2s_blas_describe(blas, sizeof blas));
        return 0;
    }
    argc--;
    argv++;
    if (strcmp(cmd, "train") == 0) {
        /* joins an MPI job when mpirun started us; alone, does nothing */
        s2s_err err;
        if (s2s_dist_init(&argc, &argv, &err) < 0) return fail(&err);
        int rc = cmd_train(argc, argv);
        s2s_dist_finalize();
        return rc;
    }
    if (strcmp(cmd, "translate") == 0) return cmd_translate(argc, argv);
    if (strcmp(cmd, "score") == 0) return cmd_score(argc, argv);
    if (strcmp(cmd, "repl") == 0) return cmd_repl(argc, argv);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc, argv);
    if (strcmp(cmd, "config") == 0) return cmd_config(argc, argv);
    if (strcmp(cmd, "bench") == 0) return s2s_bench_main(argc, argv);
    if (strcmp(cmd, "check-cell") == 0) return cmd_check_cell(argc, argv);
    if (strcmp(cmd, "info") == 0) return s2s_info_main(argc, argv);
    if (strcmp(cmd, "export") == 0) return s2s_export_main(argc, argv);
    fprintf(stderr, "s2s: unknown command '%s' (see 's2s --help')\n", cmd);
    return 2;
}
