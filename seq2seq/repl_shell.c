/* seq2seq/repl_shell.c — the read-translate-print loop of `s2s repl`: line
 * editing with libedit on a terminal, plain getline on a pipe, and the
 * ':' commands (see repl_shell.h).
 */
#include "seq2seq/repl_shell.h"

#include "core/file.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

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
    "  ::text           translate \":text\" (a sentence starting with ':')\n";

typedef struct shell {
    const s2s_repl_ops *ops;
    void *ctx;
    FILE *out;
    int interactive;
    int show_tokens, show_time;
    int quit;
} shell;

/* ------------------------------------------------------------------------ */
/* One line of input                                                        */

/* Writes s with any line break replaced by a space: every message the loop
 * prints is one line, whatever the callback put in it. */
static void put_one_line(FILE *out, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
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
        fputs("error: ", sh->out);
        put_one_line(sh->out, e.msg[0] ? e.msg : "the translation failed");
        fputc('\n', sh->out);
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
        fprintf(sh->out, "error: :%s takes on or off, not '", what);
        put_one_line(sh->out, arg);
        fputs("'\n", sh->out);
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
    else {
        fputs("error: unknown command '", sh->out);
        put_one_line(sh->out, cmd);
        fputs("' (:help lists the commands)\n", sh->out);
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
    } else if (s[0] == ':' && s[1] == ':') {
        translate_line(sh, s + 1);
    } else if (s[0] == ':') {
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
        if (strlen(line) != n) {
            /* a NUL byte would silently cut the line: say so, go on */
            fprintf(sh->out, "error: input line %ld has a NUL byte; not "
                    "translated\n", lineno);
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

static int edit_loop(shell *sh, FILE *in, const char *history_opt, s2s_err *err)
{
    /* libedit shows and edits multibyte characters only under a UTF-8
     * LC_CTYPE; the C locale would show "é" as "\303\251". LC_NUMERIC is
     * untouched, so number formatting stays as it was. */
    char *old_ctype = s2s_xstrdup(setlocale(LC_CTYPE, NULL));
    const char *loc = setlocale(LC_CTYPE, "");
    if (!loc || (!strstr(loc, "UTF-8") && !strstr(loc, "utf8")))
        setlocale(LC_CTYPE, "C.UTF-8");

    FILE *old_in = rl_instream, *old_out = rl_outstream;
    rl_instream = in;
    rl_outstream = sh->out;
    rl_readline_name = "s2s";
    rl_initialize();
    using_history();
    stifle_history(HISTORY_MAX);
    char *hist = history_path(history_opt);
    if (hist)
        read_history(hist); /* best effort: a first run has none */

    fprintf(sh->out, "s2s %s: type a sentence to translate it; :help for commands, "
            ":quit or Ctrl-D to leave.\n", S2S_VERSION);
    int rc = flush_out(sh, err);
    char *last = NULL;
    while (rc == 0 && !sh->quit) {
        char *line = readline(PROMPT);
        if (!line) {
            fputc('\n', sh->out); /* end the prompt's line on Ctrl-D */
            rc = flush_out(sh, err);
            break;
        }
        /* History keeps what was typed, not repeats of the last line. */
        if (line[strspn(line, " \t")] && (!last || strcmp(last, line) != 0)) {
            add_history(line);
            free(last);
            last = s2s_xstrdup(line);
        }
        handle_line(sh, line);
        free(line);
        rc = flush_out(sh, err);
    }
    free(last);
    if (hist) {
        write_history(hist); /* best effort, as a shell does */
        free(hist);
    }
    clear_history();
    rl_instream = old_in;
    rl_outstream = old_out;
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
        .show_tokens = opt->show_tokens != 0,
        .show_time = opt->show_time != 0,
    };
    if (opt->mode == S2S_REPL_AUTO)
        sh.interactive = isatty(fileno(in));
    else
        sh.interactive = opt->mode == S2S_REPL_INTERACTIVE;
    return sh.interactive ? edit_loop(&sh, in, opt->history, err)
                          : pipe_loop(&sh, in, err);
}

int s2s_repl_run(const s2s_repl_ops *ops, void *ctx, FILE *in, FILE *out,
                 s2s_err *err)
{
    return s2s_repl_run_with(ops, ctx, in, out, NULL, err);
}
