/* tests/cli_repl.c — the REPL loop driven through files, pipes and a
 * pseudo-terminal with a fake translator that reverses the words: one
 * translation per line, :tokens, :time, :help, :quit, unknown commands, an
 * error from the callback that does not stop the loop, a 100 KB line, input
 * without a final newline, read and write errors, and the libedit path
 * (prompt, history file) on a pty.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "seq2seq/cli/repl_shell.h"

/* ------------------------------------------------------------------------ */
/* The fake translator                                                      */

typedef struct fake {
    int calls;
    char last[64]; /* the start of the last line it was given */
} fake;

/* "a b c" -> "c b a". Fails on lines containing FAIL (with a newline in
 * the message, which the shell must keep on one line); reports its own
 * time (250 ms) on lines containing SLOW, else lets the shell time it. */
static int reverse_words(void *ctx, const char *line, char **out_text,
                         char **out_src, char **out_hyp, double *seconds,
                         s2s_err *err)
{
    fake *f = ctx;
    f->calls++;
    snprintf(f->last, sizeof f->last, "%s", line);
    /* Set before failing: the shell must free it anyway. */
    *out_src = strdup(line);
    if (strstr(line, "FAIL"))
        return s2s_fail(err, "cannot translate\nthis: %s", line);
    size_t n = strlen(line);
    char *out = malloc(n + 1), *o = out;
    const char *end = line + n;
    while (end > line) {
        while (end > line && end[-1] == ' ')
            end--;
        const char *start = end;
        while (start > line && start[-1] != ' ')
            start--;
        if (start == end)
            break;
        if (o != out)
            *o++ = ' ';
        memcpy(o, start, (size_t)(end - start));
        o += end - start;
        end = start;
    }
    *o = '\0';
    *out_text = out;
    *out_hyp = strdup(out);
    if (strstr(line, "SLOW"))
        *seconds = 0.25;
    return 0;
}

static const s2s_repl_ops OPS = {reverse_words};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static FILE *input_of(const char *text, size_t n)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, n, f), n);
    rewind(f);
    return f;
}

static char *contents(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    return s;
}

/* What the last run() wrote to its error stream. */
static char errors[4096];

/* Runs the loop in pipe mode over text, with ':' commands on (as `s2s repl
 * --commands`) or off; returns the output, the errors in `errors`. */
static char *run_with(const char *text, fake *fk, int *rc, int commands)
{
    FILE *in = input_of(text, strlen(text)), *out = tmpfile(), *err = tmpfile();
    s2s_err e;
    s2s_repl_options opt = {.commands = commands, .err = err};
    *rc = s2s_repl_run_with(&OPS, fk, in, out, &opt, &e);
    char *s = contents(out), *es = contents(err);
    snprintf(errors, sizeof errors, "%s", es);
    free(es);
    fclose(in);
    fclose(out);
    fclose(err);
    return s;
}

static char *run(const char *text, fake *fk, int *rc)
{
    return run_with(text, fk, rc, 1);
}

/* ------------------------------------------------------------------------ */

Test(repl, translations_one_per_line)
{
    fake fk = {0};
    int rc;
    char *out = run("the cat sat\nhello world\n  spaced   out  \n", &fk, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "sat cat the\nworld hello\nout spaced\n");
    cr_assert_eq(fk.calls, 3);
    free(out);
}

Test(repl, empty_lines_and_crlf)
{
    fake fk = {0};
    int rc;
    char *out = run("a b\n\n   \r\nc d\r\n", &fk, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "b a\n\n\nd c\n");
    cr_assert_eq(fk.calls, 2, "empty lines reached the translator");
    free(out);
}

Test(repl, no_final_newline)
{
    fake fk = {0};
    int rc;
    char *out = run("one two\nthree four", &fk, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "two one\nfour three\n");
    free(out);
}

Test(repl, tokens_on_and_off)
{
    fake fk = {0};
    int rc;
    char *out = run(":tokens on\nx y\n:tokens off\np q\n:tokens\n", &fk, &rc);
    cr_assert_eq(rc, 0);
    /* Switching is silent on a pipe; asking shows the state. */
    cr_assert_str_eq(out, "y x\n  src: x y\n  out: y x\nq p\ntokens: off\n");
    free(out);
}

Test(repl, time_on_and_off)
{
    fake fk = {0};
    int rc;
    char *out = run(":time on\nSLOW one\nfast two\n:time off\nthree four\n", &fk, &rc);
    cr_assert_eq(rc, 0);
    /* The callback's own time, then one the shell measured. */
    const char *want = "one SLOW\n  time: 250.0 ms\ntwo fast\n  time: ";
    cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
    char *p = out + strlen(want), *end;
    double ms = strtod(p, &end);
    cr_assert(end != p && ms >= 0, "%s", p);
    cr_assert_str_eq(end, " ms\nfour three\n");
    free(out);
}

Test(repl, help_and_unknown_commands)
{
    fake fk = {0};
    int rc;
    char *out = run(":help\n:frobnicate now\n:tokens maybe\n", &fk, &rc);
    cr_assert_eq(rc, 2, "two lines failed");
    cr_assert_not_null(strstr(out, ":tokens on|off"));
    cr_assert_not_null(strstr(out, ":time on|off"));
    cr_assert_not_null(strstr(out, ":quit"));
    cr_assert_null(strstr(out, "error"), "%s", out);
    /* from a pipe the errors go to the error stream, naming the line */
    cr_assert_str_eq(errors,
                     "s2s: stdin:2: unknown command ':frobnicate' (:help lists the commands)\n"
                     "s2s: stdin:3: :tokens takes on or off, not 'maybe'\n");
    cr_assert_eq(fk.calls, 0);
    free(out);
}

Test(repl, quit_stops_reading)
{
    fake fk = {0};
    int rc;
    char *out = run("a b\n:quit\nc d\n", &fk, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "b a\n");
    cr_assert_eq(fk.calls, 1);
    free(out);
    out = run("  :q  \nc d\n", &fk, &rc);
    cr_assert_str_eq(out, "");
    free(out);
}

Test(repl, double_colon_translates_a_colon_line)
{
    fake fk = {0};
    int rc;
    char *out = run("::) smile\n", &fk, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, "smile :)\n");
    cr_assert_str_eq(fk.last, ":) smile");
    free(out);
}

Test(repl, callback_error_is_one_line_and_the_loop_goes_on)
{
    fake fk = {0};
    int rc;
    char *out = run("a b\nFAIL here\nc d\n", &fk, &rc);
    cr_assert_eq(rc, 1, "one line failed");
    /* an empty line keeps the output aligned with the input */
    cr_assert_str_eq(out, "b a\n\nd c\n");
    cr_assert_str_eq(errors, "s2s: stdin:2: cannot translate this: FAIL here\n");
    cr_assert_eq(fk.calls, 3);
    free(out);
}

Test(repl, a_100_kb_line)
{
    /* 20000 words "w0 .. w19999" (about 118 KB) on one line. */
    const int nw = 20000;
    size_t cap = 8u * (size_t)nw + 2;
    char *in = malloc(cap), *want = malloc(cap);
    size_t n = 0, m = 0;
    for (int i = 0; i < nw; i++)
        n += (size_t)snprintf(in + n, cap - n, i ? " w%d" : "w%d", i);
    cr_assert(n > 100000);
    for (int i = nw - 1; i >= 0; i--)
        m += (size_t)snprintf(want + m, cap - m, i < nw - 1 ? " w%d" : "w%d", i);
    in[n++] = '\n';
    in[n] = '\0';
    want[m++] = '\n';
    want[m] = '\0';

    fake fk = {0};
    FILE *fin = input_of(in, n), *fout = tmpfile();
    s2s_err e;
    cr_assert_eq(s2s_repl_run(&OPS, &fk, fin, fout, &e), 0, "%s", e.msg);
    char *out = contents(fout);
    cr_assert_eq(strlen(out), m);
    cr_assert(strcmp(out, want) == 0);
    free(out);
    free(in);
    free(want);
    fclose(fin);
    fclose(fout);
}

Test(repl, through_a_pipe)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *text = ":time off\nvive la france\n:tokens on\nun deux";
    cr_assert_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r"), *out = tmpfile();
    fake fk = {0};
    s2s_err e;
    s2s_repl_options opt = {.commands = 1};
    cr_assert_eq(s2s_repl_run_with(&OPS, &fk, in, out, &opt, &e), 0, "%s", e.msg);
    char *s = contents(out);
    cr_assert_str_eq(s, "france la vive\ndeux un\n  src: un deux\n  out: deux un\n");
    free(s);
    fclose(in);
    fclose(out);
}

Test(repl, colon_lines_are_sentences_from_a_pipe_without_the_flag)
{
    fake fk = {0};
    int rc;
    char *out = run_with(":tokens on\na b\n:quit now\n::x\n", &fk, &rc, 0);
    cr_assert_eq(rc, 0, "%s", errors);
    cr_assert_str_eq(out, "on :tokens\nb a\nnow :quit\n::x\n");
    cr_assert_eq(fk.calls, 4);
    cr_assert_str_eq(errors, "");
    free(out);
}

Test(repl, options_set_the_initial_state)
{
    FILE *in = input_of("a b\n", 4), *out = tmpfile();
    fake fk = {0};
    s2s_err e;
    s2s_repl_options opt = {.mode = S2S_REPL_PIPE, .show_tokens = 1};
    cr_assert_eq(s2s_repl_run_with(&OPS, &fk, in, out, &opt, &e), 0);
    char *s = contents(out);
    cr_assert_str_eq(s, "b a\n  src: a b\n  out: b a\n");
    free(s);
    fclose(in);
    fclose(out);
}

Test(repl, write_error_is_reported)
{
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        cr_skip_test("/dev/full is not available");
    FILE *in = input_of("a b\nc d\n", 8);
    fake fk = {0};
    s2s_err e;
    cr_assert_eq(s2s_repl_run(&OPS, &fk, in, full, &e), -1);
    cr_assert_str_eq(e.msg, "repl: writing the output: No space left on device");
    /* It stops at the first failed line. */
    cr_assert_eq(fk.calls, 1);
    fclose(in);
    fclose(full);
}

Test(repl, read_error_is_reported)
{
    FILE *in = fopen("/", "r");
    cr_assert_not_null(in);
    FILE *out = tmpfile();
    fake fk = {0};
    s2s_err e;
    cr_assert_eq(s2s_repl_run(&OPS, &fk, in, out, &e), -1);
    cr_assert_str_eq(e.msg, "repl: reading input line 1: Is a directory");
    fclose(in);
    fclose(out);
}

/* ------------------------------------------------------------------------ */
/* The libedit path on a pseudo-terminal                                    */

/* Reads what the shell wrote to the pty's master side. */
static char *drain(int master)
{
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    struct pollfd p = {master, POLLIN, 0};
    while (n + 1 < cap && poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
        ssize_t got = read(master, s + n, cap - 1 - n);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    s[n] = '\0';
    return s;
}

Test(repl, terminal_uses_line_editing_and_history)
{
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        cr_skip_test("no pseudo-terminals here: %s", strerror(errno));
    char home[] = "/tmp/s2s_repl_home_XXXXXX";
    cr_assert_not_null(mkdtemp(home));
    setenv("HOME", home, 1);

    /* Typed ahead: a sentence, an edit (a word typed, erased with
     * backspace), a command, and :quit. */
    const char *typed = "hello world\rab\x7f\x7f" "ok go\r"
                        "caf\xc3\xa9 cr\xc3\xa8me\r:tokens on\rx y\r:quit\r";
    cr_assert_eq(write(master, typed, strlen(typed)), (ssize_t)strlen(typed));

    FILE *in = fdopen(slave, "r"), *out = fdopen(dup(slave), "w");
    fake fk = {0};
    s2s_err e;
    cr_assert_eq(s2s_repl_run(&OPS, &fk, in, out, &e), 0, "%s", e.msg);
    fclose(in);
    fclose(out);

    char *screen = drain(master);
    close(master);
    cr_assert_not_null(strstr(screen, ":help for commands"), "%s", screen);
    cr_assert_not_null(strstr(screen, "s2s> "), "%s", screen);
    cr_assert_not_null(strstr(screen, "world hello"), "%s", screen);
    cr_assert_not_null(strstr(screen, "go ok"), "%s", screen);
    /* UTF-8 goes through whole (not as octal escapes). */
    cr_assert_not_null(strstr(screen, "cr\xc3\xa8me caf\xc3\xa9"), "%s", screen);
    cr_assert_not_null(strstr(screen, "tokens: on"), "%s", screen);
    cr_assert_not_null(strstr(screen, "  src: x y"), "%s", screen);
    cr_assert_eq(fk.calls, 4);
    cr_assert_str_eq(fk.last, "x y");
    free(screen);

    /* The history file holds what was typed. */
    char path[128];
    snprintf(path, sizeof path, "%s/.s2s_history", home);
    FILE *h = fopen(path, "r");
    cr_assert_not_null(h, "no history file");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, h);
    buf[n] = '\0';
    fclose(h);
    cr_assert_not_null(strstr(buf, "hello"), "%s", buf);
    cr_assert_not_null(strstr(buf, "ok"), "%s", buf);
    unlink(path);
    rmdir(home);
}

/* Ctrl-C at the prompt, as a terminal sends it (SIGINT to the reading
 * thread): the half-typed line is dropped and the loop goes on. The
 * history file already holds the first line before the loop ends. */
typedef struct typist {
    int master;
    pthread_t reader;    /* the thread running the loop */
    char screen[1 << 16];
    size_t n;
    int saw_prompt_again, history_early;
    char history[256];
} typist;

/* Reads the screen until `want` shows after `from`, within 10 s. */
static int wait_for(typist *t, size_t from, const char *want)
{
    for (int i = 0; i < 1000; i++) {
        t->screen[t->n] = '\0';
        if (strstr(t->screen + from, want)) return 1;
        struct pollfd p = {t->master, POLLIN, 0};
        if (poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) {
            ssize_t got = read(t->master, t->screen + t->n, sizeof t->screen - 1 - t->n);
            if (got > 0) t->n += (size_t)got;
        }
    }
    return 0;
}

static void *type_and_interrupt(void *arg)
{
    typist *t = arg;
    const char *first = "first line\rhalf typed";
    if (write(t->master, first, strlen(first)) != (ssize_t)strlen(first)) return NULL;
    if (!wait_for(t, 0, "line first") || !wait_for(t, 0, "half typed")) return NULL;
    FILE *h = fopen(t->history, "r");
    if (h) {
        char buf[1024];
        size_t k = fread(buf, 1, sizeof buf - 1, h);
        buf[k] = '\0';
        t->history_early = strstr(buf, "first") != NULL;
        fclose(h);
    }
    usleep(100000); /* the loop is back in read() */
    size_t mark = t->n;
    pthread_kill(t->reader, SIGINT);
    t->saw_prompt_again = wait_for(t, mark, "^C") && wait_for(t, mark, "s2s> ");
    const char *rest = "after all\r:quit\r";
    if (write(t->master, rest, strlen(rest)) != (ssize_t)strlen(rest)) return NULL;
    wait_for(t, mark, "all after");
    return NULL;
}

Test(repl, ctrl_c_clears_the_line_and_history_is_saved_after_each_line)
{
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
        cr_skip_test("no pseudo-terminals here: %s", strerror(errno));
    char home[] = "/tmp/s2s_repl_home_XXXXXX";
    cr_assert_not_null(mkdtemp(home));
    setenv("HOME", home, 1);
    static typist t;
    memset(&t, 0, sizeof t);
    t.master = master;
    t.reader = pthread_self();
    snprintf(t.history, sizeof t.history, "%s/.s2s_history", home);

    pthread_t typer;
    cr_assert_eq(pthread_create(&typer, NULL, type_and_interrupt, &t), 0);
    FILE *in = fdopen(slave, "r"), *out = fdopen(dup(slave), "w");
    fake fk = {0};
    s2s_err e;
    cr_assert_eq(s2s_repl_run(&OPS, &fk, in, out, &e), 0, "%s", e.msg);
    pthread_join(typer, NULL);
    fclose(in);
    fclose(out);
    close(master);

    cr_assert(t.history_early, "the history file lacked the first line while the loop ran");
    cr_assert(t.saw_prompt_again, "no ^C and fresh prompt after Ctrl-C:\n%s", t.screen);
    cr_assert_eq(fk.calls, 2, "%d calls:\n%s", fk.calls, t.screen);
    cr_assert_str_eq(fk.last, "after all", "the dropped text reached the translator");
    cr_assert_not_null(strstr(t.screen, "all after"), "%s", t.screen);
    unlink(t.history);
    rmdir(home);
}
