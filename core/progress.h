/* core/progress.h — the training progress reporter.
 *
 * On a terminal it keeps one status line redrawn in place with '\r' (at
 * most ~10 times a second):
 *
 *   epoch 2/10 step 340/1778 [######.................] loss 3.912 tok/s 6012 eta 0:41:07
 *
 * On anything else (a file, a pipe, CI logs) it writes plain lines every
 * `log_every` steps:
 *
 *   epoch 2/10 step 300/1778 loss 3.912 tok/s 6012 eta 0:41:07
 *
 * loss is the mean over the last complete window of log_every steps of
 * this epoch (windows end where step % log_every == 0, the rows of the
 * trainer's metrics.csv), or over the steps so far before the first window
 * ends; the epoch's closing line shows "epoch loss", the mean since the
 * epoch began. tok/s is the
 * target tokens passed since the epoch began over the time since then; the
 * ETA covers the whole run (the rest of this epoch and the epochs still to
 * come, or up to the limit set with s2s_progress_set_total_steps if that
 * comes first), at the mean time per step seen this epoch.
 *
 * s2s_progress_log() prints a full line (a dev evaluation, a checkpoint
 * message) without mangling the bar: it clears the bar, prints, redraws.
 *
 * Time comes from a clock function (CLOCK_MONOTONIC by default); tests pass
 * their own so that nothing depends on real time.
 */
#ifndef S2S_PROGRESS_H
#define S2S_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef enum s2s_progress_mode {
    S2S_PROGRESS_AUTO = 0, /* terminal if isatty(fileno(f)), else plain */
    S2S_PROGRESS_TERMINAL, /* the in-place bar */
    S2S_PROGRESS_PLAIN,    /* log lines every log_every steps */
    S2S_PROGRESS_QUIET     /* nothing but s2s_progress_log() lines */
} s2s_progress_mode;

/* Returns seconds on a monotonic clock; ctx is the pointer given with it. */
typedef double (*s2s_progress_clock)(void *ctx);

typedef struct s2s_progress {
    FILE *f;
    s2s_progress_mode mode;    /* resolved: never AUTO after init */
    long log_every;            /* plain mode: steps between lines */
    int width;                 /* terminal columns the bar line may use */
    s2s_progress_clock now;
    void *now_ctx;

    int epoch, epochs;         /* 1-based epoch of the run */
    long steps;                /* steps in this epoch (0 = unknown) */
    long step;                 /* last step reported, 1-based in the epoch */
    long seen;                 /* steps reported since begin_epoch */
    long total_steps;          /* whole run, 0 = epochs * steps */
    long done_before;          /* steps of the run before this epoch */

    double t_epoch;            /* clock at begin_epoch */
    double t_draw;             /* clock at the last bar draw */
    double loss_sum;           /* over the finite losses of this epoch */
    long loss_n;
    double win_sum;            /* ... of the window in progress */
    long win_n;
    double win_mean;           /* of the last complete window; NAN before */
    double tokens;             /* target tokens this epoch */
    int bar_shown;             /* a bar is on the line now (terminal mode) */
} s2s_progress;

/* Sets up a reporter writing to f (usually stderr). log_every <= 0 means
 * 100. The terminal width is read from the terminal when there is one. */
void s2s_progress_init(s2s_progress *p, FILE *f, s2s_progress_mode mode,
                       long log_every);

/* Replaces the clock (NULL restores CLOCK_MONOTONIC). */
void s2s_progress_set_clock(s2s_progress *p, s2s_progress_clock now,
                            void *ctx);

/* A limit on the steps of the whole run (train.max_steps); 0 = none. The
 * ETA then ends at whichever comes first, this or the last epoch. Steps
 * are counted from the first epoch begun, plus s2s_progress_set_steps_done
 * for a resumed run. */
void s2s_progress_set_total_steps(s2s_progress *p, long total);

/* Steps of the run already taken before this reporter started (a run
 * resumed from a checkpoint); call before the first begin_epoch. */
void s2s_progress_set_steps_done(s2s_progress *p, long done);

/* epoch is 1-based of `epochs`; steps is the number of steps this epoch will
 * take (0 if unknown: no bar fraction and no ETA). */
void s2s_progress_begin_epoch(s2s_progress *p, int epoch, int epochs,
                              long steps);

/* Reports step `step` (1-based within the epoch) with its loss (mean per
 * target token) and the number of target tokens it trained on. A NaN or
 * infinite loss is not averaged in, so one bad batch stays visible in the
 * caller's own checks without making the whole display read "nan". */
void s2s_progress_step(s2s_progress *p, long step, double loss,
                       long ntokens);

/* Closes the epoch: on a terminal the bar is drawn one last time and kept
 * (newline); in plain mode a closing line with the epoch's figures. */
void s2s_progress_end_epoch(s2s_progress *p);

/* Prints one full line (a newline is added unless the text ends in one). */
void s2s_progress_log(s2s_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears a bar left on the line (on a terminal); call before exiting
 * mid-epoch (an error) so the shell prompt starts on a clean line. */
void s2s_progress_finish(s2s_progress *p);

/* The running figures, for callers and tests. NAN when undefined. */
double s2s_progress_mean_loss(const s2s_progress *p);  /* since the epoch began */
double s2s_progress_window_loss(const s2s_progress *p); /* as `loss` shows */
double s2s_progress_tokens_per_s(const s2s_progress *p);
/* Seconds left in the run, NAN when unknown. */
double s2s_progress_eta(const s2s_progress *p);

/* Formats seconds as h:mm:ss ("0:05:12", "27:46:40"), rounding to the
 * nearest second; NaN, infinite or negative gives "-:--:--". Returns buf. */
char *s2s_format_hms(double seconds, char *buf, size_t size);

#endif
