/* core/progress.c — the training progress reporter: an in-place bar on a
 * terminal, plain log lines elsewhere. See progress.h for the formats.
 */
#include "core/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/error.h"
#include "core/sysinfo.h"

/* The bar is redrawn at most this often (seconds): more is flicker and
 * wasted terminal I/O on fast steps. */
#define REDRAW_INTERVAL 0.1

/* ------------------------------------------------------------------------ */
/* Formatting helpers                                                       */

char *s2s_format_hms(double seconds, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    /* Beyond ~1e15 s the cast to long long is not meaningful anyway. */
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e15) {
        snprintf(buf, size, "-:--:--");
        return buf;
    }
    long long s = llround(seconds);
    snprintf(buf, size, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
    return buf;
}

static double default_clock(void *ctx)
{
    (void)ctx;
    return s2s_monotonic_seconds();
}

static double now(const s2s_progress *p)
{
    return p->now(p->now_ctx);
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */

void s2s_progress_init(s2s_progress *p, FILE *f, s2s_progress_mode mode,
                       long log_every)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->log_every = log_every > 0 ? log_every : 100;
    p->now = default_clock;
    p->width = 80;
    p->win_mean = NAN;
    int fd = f ? fileno(f) : -1;
    int tty = fd >= 0 && isatty(fd);
    if (mode == S2S_PROGRESS_AUTO)
        mode = tty ? S2S_PROGRESS_TERMINAL : S2S_PROGRESS_PLAIN;
    p->mode = mode;
    if (tty) {
        struct winsize ws;
        if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
            p->width = ws.ws_col;
    }
    p->t_epoch = p->t_draw = now(p);
}

void s2s_progress_set_clock(s2s_progress *p, s2s_progress_clock clock,
                            void *ctx)
{
    p->now = clock ? clock : default_clock;
    p->now_ctx = clock ? ctx : NULL;
    p->t_epoch = p->t_draw = now(p);
}

void s2s_progress_set_total_steps(s2s_progress *p, long total)
{
    p->total_steps = total > 0 ? total : 0;
}

void s2s_progress_set_steps_done(s2s_progress *p, long done)
{
    p->done_before = done > 0 ? done : 0;
    p->seen = 0;
}

/* ------------------------------------------------------------------------ */
/* Figures                                                                  */

double s2s_progress_mean_loss(const s2s_progress *p)
{
    return p->loss_n > 0 ? p->loss_sum / (double)p->loss_n : NAN;
}

double s2s_progress_window_loss(const s2s_progress *p)
{
    if (!isnan(p->win_mean))
        return p->win_mean;
    return p->win_n > 0 ? p->win_sum / (double)p->win_n : NAN;
}

double s2s_progress_tokens_per_s(const s2s_progress *p)
{
    double dt = now(p) - p->t_epoch;
    return dt > 0 ? p->tokens / dt : NAN;
}

double s2s_progress_eta(const s2s_progress *p)
{
    if (p->seen <= 0)
        return NAN;
    /* Training stops at whichever limit comes first. */
    double remaining = INFINITY;
    if (p->steps > 0)
        remaining = (double)(p->steps - p->step)
                  + (double)(p->epochs - p->epoch) * (double)p->steps;
    if (p->total_steps > 0)
        remaining = fmin(remaining, (double)(p->total_steps - (p->done_before + p->seen)));
    if (isinf(remaining))
        return NAN;
    if (remaining < 0)
        remaining = 0;
    /* Per step over the steps seen this epoch: a resumed epoch starts at a
     * high step number after little time. */
    double per_step = (now(p) - p->t_epoch) / (double)p->seen;
    return per_step >= 0 ? per_step * remaining : NAN;
}

/* "epoch 2/10 step 340/1778" into buf. */
static void format_position(const s2s_progress *p, char *buf, size_t size)
{
    int n = p->epochs > 0
        ? snprintf(buf, size, "epoch %d/%d", p->epoch, p->epochs)
        : snprintf(buf, size, "epoch %d", p->epoch);
    if (n < 0 || (size_t)n >= size)
        return;
    if (p->steps > 0)
        snprintf(buf + n, size - n, " step %ld/%ld", p->step, p->steps);
    else
        snprintf(buf + n, size - n, " step %ld", p->step);
}

/* "loss 3.912 tok/s 6012 eta 0:41:07" into buf. */
static void format_figures(const s2s_progress *p, char *buf, size_t size)
{
    char loss[32], rate[32], eta[32];
    double l = s2s_progress_window_loss(p), r = s2s_progress_tokens_per_s(p);
    if (isfinite(l))
        snprintf(loss, sizeof loss, "%.3f", l);
    else
        snprintf(loss, sizeof loss, "-");
    if (isfinite(r))
        snprintf(rate, sizeof rate, "%.0f", r);
    else
        snprintf(rate, sizeof rate, "-");
    s2s_format_hms(s2s_progress_eta(p), eta, sizeof eta);
    snprintf(buf, size, "loss %s tok/s %s eta %s", loss, rate, eta);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* Draws the bar line in place: '\r', the line, clear to end of line. The
 * line is kept shorter than the terminal so it never wraps (a wrapped line
 * cannot be redrawn with '\r'). */
static void draw_bar(s2s_progress *p)
{
    char pos[96], fig[128], bar[128], line[512];
    format_position(p, pos, sizeof pos);
    format_figures(p, fig, sizeof fig);
    int room = p->width - 1 - (int)strlen(pos) - (int)strlen(fig) - 4;
    if (room > 40)
        room = 40;
    if (room >= 10 && p->steps > 0) {
        double frac = (double)p->step / (double)p->steps;
        frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        int full = (int)(frac * room);
        bar[0] = '[';
        for (int i = 0; i < room; i++)
            bar[1 + i] = i < full ? '#' : '.';
        bar[1 + room] = ']';
        bar[2 + room] = '\0';
        snprintf(line, sizeof line, "%s %s %s", pos, bar, fig);
    } else {
        snprintf(line, sizeof line, "%s %s", pos, fig);
    }
    if (p->width > 1 && strlen(line) > (size_t)(p->width - 1))
        line[p->width - 1] = '\0';
    fprintf(p->f, "\r%s\033[K", line);
    fflush(p->f);
    p->bar_shown = 1;
    p->t_draw = now(p);
}

static void clear_bar(s2s_progress *p)
{
    if (p->bar_shown) {
        fputs("\r\033[K", p->f);
        p->bar_shown = 0;
    }
}

void s2s_progress_begin_epoch(s2s_progress *p, int epoch, int epochs,
                              long steps)
{
    p->done_before += p->seen;
    p->seen = 0;
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps > 0 ? steps : 0;
    p->step = 0;
    p->loss_sum = 0;
    p->loss_n = 0;
    p->win_sum = 0;
    p->win_n = 0;
    p->win_mean = NAN;
    p->tokens = 0;
    p->t_epoch = now(p);
    p->t_draw = p->t_epoch;
}

void s2s_progress_step(s2s_progress *p, long step, double loss, long ntokens)
{
    p->step = step;
    p->seen++;
    if (isfinite(loss)) {
        p->loss_sum += loss;
        p->loss_n++;
        p->win_sum += loss;
        p->win_n++;
    }
    if (step % p->log_every == 0) {
        /* a window ends here (a row of metrics.csv) */
        p->win_mean = p->win_n > 0 ? p->win_sum / (double)p->win_n : NAN;
        p->win_sum = 0;
        p->win_n = 0;
    }
    if (ntokens > 0)
        p->tokens += (double)ntokens;
    if (!p->f)
        return;
    if (p->mode == S2S_PROGRESS_TERMINAL) {
        if (!p->bar_shown || step == p->steps
            || now(p) - p->t_draw >= REDRAW_INTERVAL)
            draw_bar(p);
    } else if (p->mode == S2S_PROGRESS_PLAIN) {
        if (step % p->log_every == 0) {
            char pos[96], fig[128];
            format_position(p, pos, sizeof pos);
            format_figures(p, fig, sizeof fig);
            fprintf(p->f, "%s %s\n", pos, fig);
            fflush(p->f);
        }
    }
}

void s2s_progress_end_epoch(s2s_progress *p)
{
    if (!p->f)
        return;
    if (p->mode == S2S_PROGRESS_TERMINAL) {
        draw_bar(p);
        fputc('\n', p->f);
        p->bar_shown = 0;
    } else if (p->mode == S2S_PROGRESS_PLAIN) {
        char pos[96], loss[32], rate[32], took[32];
        double l = s2s_progress_mean_loss(p), r = s2s_progress_tokens_per_s(p);
        if (p->epochs > 0)
            snprintf(pos, sizeof pos, "epoch %d/%d", p->epoch, p->epochs);
        else
            snprintf(pos, sizeof pos, "epoch %d", p->epoch);
        if (isfinite(l))
            snprintf(loss, sizeof loss, "%.3f", l);
        else
            snprintf(loss, sizeof loss, "-");
        if (isfinite(r))
            snprintf(rate, sizeof rate, "%.0f", r);
        else
            snprintf(rate, sizeof rate, "-");
        s2s_format_hms(now(p) - p->t_epoch, took, sizeof took);
        fprintf(p->f, "%s done: %ld steps epoch loss %s tok/s %s time %s\n", pos,
                p->step, loss, rate, took);
    }
    fflush(p->f);
}

void s2s_progress_log(s2s_progress *p, const char *fmt, ...)
{
    if (!p->f)
        return;
    char small[1024], *line = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof small) {
        line = s2s_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(line, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int redraw = p->bar_shown;
    clear_bar(p);
    fputs(line, p->f);
    if (n == 0 || line[n - 1] != '\n')
        fputc('\n', p->f);
    if (line != small)
        free(line);
    if (redraw)
        draw_bar(p);
    fflush(p->f);
}

void s2s_progress_finish(s2s_progress *p)
{
    if (!p->f)
        return;
    clear_bar(p);
    fflush(p->f);
}
