/* seq2seq/cli/repl_shell.h — the interactive translation loop of `s2s repl`,
 * independent of the model: the model side is one callback.
 *
 * When the input is a terminal the loop reads with libedit (line editing;
 * history in ~/.s2s_history, saved after every line, best effort) after
 * the prompt "s2s> "; Ctrl-C drops the line being typed and gives a fresh
 * prompt, Ctrl-D on an empty line leaves. Otherwise (a pipe, a file) it
 * reads lines with getline and writes only translations, one per input
 * line, flushed per line, no prompt, no banner; a line that fails gives an
 * empty output line (the output stays aligned with the input) and one line
 * "s2s: stdin:N: why" on the error stream.
 *
 * Lines starting with ':' are commands on a terminal, and from a pipe only
 * when the options say so (`s2s repl --commands`); otherwise they are
 * sentences like any other:
 *
 *   :help            the commands
 *   :quit            leave (so does end of input; also :q, :exit)
 *   :tokens on|off   also show the source and output tokens
 *   :time on|off     also show the milliseconds each sentence took
 *   :align on|off    also show the attention weights as a heat map
 *   (and the model side's own commands, e.g. :beam K, :nbest N)
 *   ::text           translate ":text" (a sentence that starts with ':')
 *
 * An empty line prints an empty line. On a terminal, an error from the
 * callback prints one line "error: ..." in place of the translation and
 * the loop goes on. Extra lines from :tokens and :time are indented by two
 * spaces.
 */
#ifndef S2S_REPL_SHELL_H
#define S2S_REPL_SHELL_H

#include <stdio.h>

#include "core/error.h"

typedef struct s2s_repl_ops {
    /* Translates one line (no line end). On success returns 0 and sets
     * *out_text to the translation; it may also set *out_src_tokens and
     * *out_hyp_tokens (tokens separated by spaces) and *seconds (the time
     * the translation took; left negative, the shell times the call). Every
     * string is malloc'd and the shell frees it, also on failure. On
     * failure returns -1 with err filled. */
    int (*translate)(void *ctx, const char *line, char **out_text,
                     char **out_src_tokens, char **out_hyp_tokens,
                     double *seconds, s2s_err *err);
    /* Optional (NULL: the model does not attend, :align says so): the
     * attention weights of the last translation, *n_out rows (output
     * tokens) of *n_src weights (source tokens), borrowed; NULL if none. */
    const float *(*attention)(void *ctx, int *n_out, int *n_src);
    /* Optional: a command the shell does not know (":beam 5"): returns 1
     * when it handled it (printing any reply to out), 0 if unknown. */
    int (*command)(void *ctx, const char *cmd, const char *arg, FILE *out);
    /* Optional: extra lines after each translation (e.g. an n-best list),
     * written to out, each indented by two spaces. */
    void (*after)(void *ctx, FILE *out);
} s2s_repl_ops;

typedef enum s2s_repl_mode {
    S2S_REPL_AUTO = 0,        /* interactive if isatty(fileno(in)) */
    S2S_REPL_INTERACTIVE,     /* libedit, prompt, banner, history */
    S2S_REPL_PIPE             /* getline, translations only */
} s2s_repl_mode;

typedef struct s2s_repl_options {
    s2s_repl_mode mode;
    const char *history;      /* NULL: $HOME/.s2s_history; "": none */
    int show_tokens;          /* initial :tokens state */
    int show_time;            /* initial :time state */
    int commands;             /* pipe mode: ':' lines are commands */
    FILE *err;                /* pipe mode: where line errors go (NULL: stderr) */
} s2s_repl_options;

/* Runs the loop until :quit or end of input with the default options.
 * Returns the number of input lines that failed (pipe mode; 0 when all
 * went well), or -1 when reading `in` or writing `out` fails (err says
 * which and why). */
int s2s_repl_run(const s2s_repl_ops *ops, void *ctx, FILE *in, FILE *out,
                 s2s_err *err);

/* The same with options (NULL = defaults). */
int s2s_repl_run_with(const s2s_repl_ops *ops, void *ctx, FILE *in,
                      FILE *out, const s2s_repl_options *opt, s2s_err *err);

#endif
