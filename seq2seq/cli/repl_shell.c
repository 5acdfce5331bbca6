/* seq2seq/cli/repl_shell.c — the read-translate-print loop of `s2s repl`:
 * line editing with libedit (its native histedit API) on a terminal, plain
 * getline on a pipe, and the ':' commands (see repl_shell.h).
 */
#include "seq2seq/cli/repl_shell.h"

#include "core/file.h"

#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sysinfo.h"

#define PROMPT "s2s> "
#define HISTORY_FILE ".s2s_history"
#define HISTORY_MAX 1000

#ifndef S2S_VERSION
#define S2S_VERSION "?"
#endif

static const char HELP[] =
    "Type a sentence to translate it. Commands:\n"
    "  :help            this text\n"
    "  :quit            leave (also :q, :exit, or end of input / Ctrl-D)\n"
    "  :tokens on|off   also show the source and output tokens\n"
    "  :time on|off     also show the milliseconds per sentence\n"
    "  :align on|off    also show the attention weights as a heat map\n"
    "                   (models with attention)\n"
    "  :beam K          keep K hypotheses per sentence (1 = greedy)\n"
    "  :nbest N         also show the N best translations with their scores\n"
    "  :shortlist K     decode over the checkpoint's lexical shortlist, K target\n"
    "                   words per source word (0 = off; changes output)\n"
    "  ::text           translate \":text\" (a sentence starting with ':')\n"
    "With :tokens on, a source word the model does not know shows as\n"
    "<unk:word>. Ctrl-C clears the line; history is kept in "
    "~/" HISTORY_FILE ".\n";

/* Writes s with any line break replaced by a space: every message the loop
 * prints is one line, whatever the callback put in it. */
static void put_one_line(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
}

typedef struct shell {
    const s2s_repl_ops *ops;
    void *ctx;
    FILE *out, *err;
    int interactive;
    int commands;        /* lines starting with ':' are commands */
    int show_tokens, show_time, show_align;
    int quit;
    long lineno;         /* input lines read */
    long failed;         /* lines that failed (pipe mode) */
} shell;

/* A problem with one line: on a terminal "error: ..." in place of the
 * translation; from a pipe an empty line on the output (which stays
 * aligned with the input) and "s2s: stdin:N: ..." on the error stream. */
static void line_error(shell *sh, const char *msg)
{
    if (sh->interactive) {
        fputs("error: ", sh->out);
        put_one_line(sh->out, msg);
        fputc('\n', sh->out);
        return;
    }
    fputc('\n', sh->out);
    fprintf(sh->err, "s2s: stdin:%ld: ", sh->lineno);
    put_one_line(sh->err, msg);
    fputc('\n', sh->err);
    fflush(sh->err);
    sh->failed++;
}

/* ------------------------------------------------------------------------ */
/* One line of input                                                        */

/* Columns a UTF-8 string takes on a terminal (one per code point). */
static int cols(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* The k-th space-separated token of s: its start, and its length in *n. */
static const char *nth_token(const char *s, int k, size_t *n)
{
    for (; k > 0 && *s; k--) s += strcspn(s, " ") + (s[strcspn(s, " ")] != 0);
    *n = strcspn(s, " ");
    return s;
}

/* Output tokens down, source tokens across, each weight as a shade. */
static void heat_map(FILE *out, const char *src, const char *hyp,
                     const float *a, int n_out, int n_src)
{
    static const char *shade[] = {" ", "\u2591", "\u2592", "\u2593", "\u2588"};
    int row_w = 0;
    size_t n;
    for (int j = 0; j < n_out; j++) {
        const char *t = nth_token(hyp, j, &n);
        if (cols(t, n) > row_w) row_w = cols(t, n);
    }
    fprintf(out, "  %*s", row_w, "");
    for (int i = 0; i < n_src; i++) {
        const char *t = nth_token(src, i, &n);
        fprintf(out, " %.*s", (int)n, t);
        for (int c = cols(t, n); c < 2; c++) fputc(' ', out);
    }
    fputc('\n', out);
    for (int j = 0; j < n_out; j++) {
        const char *t = nth_token(hyp, j, &n);
        fprintf(out, "  %.*s%*s", (int)n, t, row_w - cols(t, n), "");
        for (int i = 0; i < n_src; i++) {
            const char *st = nth_token(src, i, &n);
            int w = cols(st, n) > 2 ? cols(st, n) : 2;
            float v = a[(size_t)j * n_src + i];
            int k = v < 0.1f ? 0 : v < 0.3f ? 1 : v < 0.6f ? 2 : v < 0.85f ? 3 : 4;
            fputc(' ', out);
            for (int c = 0; c < w; c++) fputs(shade[k], out);
        }
        fputc('\n', out);
    }
}

static void translate_line(shell *sh, const char *line)
{
    char *text = NULL, *src = NULL, *hyp = NULL;
    double seconds = -1;
    s2s_err e;
    e.msg[0] = '\0';
    double t0 = s2s_monotonic_seconds();
    int rc = sh->ops->translate(sh->ctx, line, &text, &src, &hyp, &seconds, &e);
    double took = s2s_monotonic_seconds() - t0;
    if (!(seconds >= 0))
        seconds = took;
    if (rc != 0) {
        line_error(sh, e.msg[0] ? e.msg : "the translation failed");
    } else {
        put_one_line(sh->out, text ? text : "");
        fputc('\n', sh->out);
        if (sh->show_tokens) {
            fputs("  src: ", sh->out);
            put_one_line(sh->out, src ? src : "(not available)");
            fputs("\n  out: ", sh->out);
            put_one_line(sh->out, hyp ? hyp : "(not available)");
            fputc('\n', sh->out);
        }
        if (sh->show_time)
            fprintf(sh->out, "  time: %.1f ms\n", seconds * 1e3);
        int n_out = 0, n_src = 0;
        const float *a = sh->show_align && sh->ops->attention
                             ? sh->ops->attention(sh->ctx, &n_out, &n_src) : NULL;
        if (a && src && hyp) heat_map(sh->out, src, hyp, a, n_out, n_src);
        if (sh->ops->after) sh->ops->after(sh->ctx, sh->out);
    }
    free(text);
    free(src);
    free(hyp);
}

/* ":tokens on" and the like; `what` names the setting in messages. */
static void set_flag(shell *sh, int *flag, const char *what, const char *arg)
{
    if (arg[0] == '\0') {
        fprintf(sh->out, "%s: %s\n", what, *flag ? "on" : "off");
    } else if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
        *flag = strcmp(arg, "on") == 0;
        if (sh->interactive)
            fprintf(sh->out, "%s: %s\n", what, *flag ? "on" : "off");
    } else {
        char msg[256];
        snprintf(msg, sizeof msg, ":%s takes on or off, not '%.200s'", what, arg);
        line_error(sh, msg);
    }
}

static void run_command(shell *sh, char *cmd)
{
    /* cmd is trimmed and starts with ':'; split off the argument. */
    char *arg = cmd + strcspn(cmd, " \t");
    if (*arg) {
        *arg++ = '\0';
        arg += strspn(arg, " \t");
    }
    if (!strcmp(cmd, ":help") || !strcmp(cmd, ":h") || !strcmp(cmd, ":?"))
        fputs(HELP, sh->out);
    else if (!strcmp(cmd, ":quit") || !strcmp(cmd, ":q") || !strcmp(cmd, ":exit"))
        sh->quit = 1;
    else if (!strcmp(cmd, ":tokens"))
        set_flag(sh, &sh->show_tokens, "tokens", arg);
    else if (!strcmp(cmd, ":time"))
        set_flag(sh, &sh->show_time, "time", arg);
    else if (!strcmp(cmd, ":align") && !sh->ops->attention)
        fputs("error: :align needs a model with attention\n", sh->out);
    else if (!strcmp(cmd, ":align"))
        set_flag(sh, &sh->show_align, "align", arg);
    else if (sh->ops->command && sh->ops->command(sh->ctx, cmd, arg, sh->out))
        ;
    else {
        char msg[256];
        snprintf(msg, sizeof msg, "unknown command '%.200s' (:help lists the "
                 "commands)", cmd);
        line_error(sh, msg);
    }
}

/* Handles one line without its line end (modified in place). */
static void handle_line(shell *sh, char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        line[--n] = '\0';
    /* Trimmed view for deciding what the line is. */
    char *s = line + strspn(line, " \t");
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == s) {
        fputc('\n', sh->out);
    } else if (sh->commands && s[0] == ':' && s[1] == ':') {
        translate_line(sh, s + 1);
    } else if (sh->commands && s[0] == ':') {
        *end = '\0';
        run_command(sh, s);
    } else {
        translate_line(sh, line);
    }
}

/* ------------------------------------------------------------------------ */
/* The two loops                                                            */

static int flush_out(shell *sh, s2s_err *err)
{
    if (fflush(sh->out) != 0 || ferror(sh->out))
        return s2s_fail(err, "repl: writing the output: %s", strerror(errno));
    return 0;
}

static int pipe_loop(shell *sh, FILE *in, s2s_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    long lineno = 0;
    while (!sh->quit) {
        errno = 0;
        size_t n;
        int got = s2s_getline_max(&line, &cap, &n, in, S2S_MAX_LINE_DEFAULT);
        if (got == -2) {
            rc = s2s_fail(err, "repl: input line %ld is longer than %zu bytes",
                          lineno + 1, S2S_MAX_LINE_DEFAULT);
            break;
        }
        if (got <= 0) {
            if (got < 0)
                rc = s2s_fail(err, "repl: reading input line %ld: %s", lineno + 1,
                              strerror(errno ? errno : EIO));
            break;
        }
        lineno++;
        sh->lineno = lineno;
        if (strlen(line) != n) {
            /* a NUL byte would silently cut the line: say so, go on */
            line_error(sh, "the line has a NUL byte; not translated");
            if ((rc = flush_out(sh, err)) != 0)
                break;
            continue;
        }
        handle_line(sh, line);
        if ((rc = flush_out(sh, err)) != 0)
            break;
    }
    free(line);
    return rc;
}

/* $HOME/.s2s_history, or NULL when there is no home. */
static char *history_path(const char *opt)
{
    if (opt)
        return opt[0] ? s2s_xstrdup(opt) : NULL;
    const char *home = getenv("HOME");
    if (!home || !home[0])
        return NULL;
    size_t n = strlen(home) + sizeof HISTORY_FILE + 1;
    char *p = s2s_xmalloc(n);
    snprintf(p, n, "%s/%s", home, HISTORY_FILE);
    return p;
}

/* Ctrl-C at the prompt: the handler only notes it; the read it
 * interrupts (installed without SA_RESTART) makes el_gets return NULL with
 * errno EINTR, and the loop starts a fresh line, as bash and python do. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static char *prompt(EditLine *el)
{
    (void)el;
    return PROMPT;
}

static int edit_loop(shell *sh, FILE *in, const char *history_opt, s2s_err *err)
{
    /* libedit shows and edits multibyte characters only under a UTF-8
     * LC_CTYPE; the C locale would show "é" as "\303\251". LC_NUMERIC is
     * untouched, so number formatting stays as it was. */
    char *old_ctype = s2s_xstrdup(setlocale(LC_CTYPE, NULL));
    const char *loc = setlocale(LC_CTYPE, "");
    if (!loc || (!strstr(loc, "UTF-8") && !strstr(loc, "utf8")))
        setlocale(LC_CTYPE, "C.UTF-8");

    EditLine *el = el_init("s2s", in, sh->out, stderr);
    History *hist = history_init();
    if (!el || !hist) {
        if (el) el_end(el);
        if (hist) history_end(hist);
        setlocale(LC_CTYPE, old_ctype);
        free(old_ctype);
        return s2s_fail(err, "repl: cannot set up line editing (libedit)");
    }
    HistEvent ev;
    history(hist, &ev, H_SETSIZE, HISTORY_MAX);
    history(hist, &ev, H_SETUNIQUE, 1); /* no repeats of the last line */
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt);
    el_set(el, EL_HIST, history, hist);
    el_source(el, NULL); /* ~/.editrc, as other libedit programs do */
    char *path = history_path(history_opt);
    if (path)
        history(hist, &ev, H_LOAD, path); /* best effort: a first run has none */

    struct sigaction sa = {.sa_handler = on_interrupt}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);

    fprintf(sh->out, "s2s %s: type a sentence to translate it; :help for commands, "
            ":quit or Ctrl-D to leave.\n", S2S_VERSION);
    int rc = flush_out(sh, err);
    while (rc == 0 && !sh->quit) {
        interrupted = 0;
        int count = 0;
        const char *got = el_gets(el, &count);
        if (!got && (interrupted || (count < 0 && errno == EINTR))) {
            fputs("^C\n", sh->out); /* the line is dropped; a fresh prompt */
            rc = flush_out(sh, err);
            continue;
        }
        if (!got || count <= 0) {
            fputc('\n', sh->out); /* end the prompt's line on Ctrl-D */
            rc = flush_out(sh, err);
            break;
        }
        char *line = s2s_xstrdup(got);
        sh->lineno++;
        /* History keeps what was typed, saved at once (a crash or a kill
         * loses nothing), as a shell with its history file does. */
        if (line[strspn(line, " \t\r\n")]) {
            size_t n = strlen(line);
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                line[--n] = '\0';
            history(hist, &ev, H_ENTER, line);
            if (path)
                history(hist, &ev, H_SAVE, path);
        }
        handle_line(sh, line);
        free(line);
        rc = flush_out(sh, err);
    }
    sigaction(SIGINT, &old_sa, NULL);
    free(path);
    el_end(el);
    history_end(hist);
    setlocale(LC_CTYPE, old_ctype);
    free(old_ctype);
    return rc;
}

int s2s_repl_run_with(const s2s_repl_ops *ops, void *ctx, FILE *in,
                      FILE *out, const s2s_repl_options *opt, s2s_err *err)
{
    s2s_repl_options defaults = {0};
    if (!opt)
        opt = &defaults;
    shell sh = {
        .ops = ops,
        .ctx = ctx,
        .out = out,
        .err = opt->err ? opt->err : stderr,
        .show_tokens = opt->show_tokens != 0,
        .show_time = opt->show_time != 0,
    };
    if (opt->mode == S2S_REPL_AUTO)
        sh.interactive = isatty(fileno(in));
    else
        sh.interactive = opt->mode == S2S_REPL_INTERACTIVE;
    sh.commands = sh.interactive || opt->commands;
    int rc = sh.interactive ? edit_loop(&sh, in, opt->history, err)
                            : pipe_loop(&sh, in, err);
    if (rc < 0)
        return -1;
    return sh.failed > 0 ? (sh.failed > 1000000 ? 1000000 : (int)sh.failed) : 0;
}

int s2s_repl_run(const s2s_repl_ops *ops, void *ctx, FILE *in, FILE *out,
                 s2s_err *err)
{
    return s2s_repl_run_with(ops, ctx, in, out, NULL, err);
}
