/* tests/core_progress.c — the progress reporter: plain log lines with known
 * figures (a fake clock), the h:mm:ss format, the in-place terminal bar
 * ('\r', no newline per step, redraw throttling) and log lines that do not
 * mangle the bar.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"

/* A clock the test moves by hand. */
typedef struct fake_clock {
    double t;
} fake_clock;

static double fake_now(void *ctx)
{
    return ((fake_clock *)ctx)->t;
}

/* Everything written to f so far, as a NUL-terminated malloc'd string. */
static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    cr_assert(n >= 0);
    char *s = malloc((size_t)n + 1);
    rewind(f);
    size_t got = fread(s, 1, (size_t)n, f);
    cr_assert_eq(got, (size_t)n);
    s[n] = '\0';
    return s;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

/* ------------------------------------------------------------------------ */

Test(progress, hms_format)
{
    char b[32];
    cr_assert_str_eq(s2s_format_hms(0, b, sizeof b), "0:00:00");
    cr_assert_str_eq(s2s_format_hms(59.4, b, sizeof b), "0:00:59");
    cr_assert_str_eq(s2s_format_hms(59.6, b, sizeof b), "0:01:00");
    cr_assert_str_eq(s2s_format_hms(312, b, sizeof b), "0:05:12");
    cr_assert_str_eq(s2s_format_hms(3599.5, b, sizeof b), "1:00:00");
    cr_assert_str_eq(s2s_format_hms(27 * 3600 + 46 * 60 + 40, b, sizeof b), "27:46:40");
    cr_assert_str_eq(s2s_format_hms(NAN, b, sizeof b), "-:--:--");
    cr_assert_str_eq(s2s_format_hms(INFINITY, b, sizeof b), "-:--:--");
    cr_assert_str_eq(s2s_format_hms(-1, b, sizeof b), "-:--:--");
    cr_assert_str_eq(s2s_format_hms(1e300, b, sizeof b), "-:--:--");
    /* A short buffer is truncated, never overrun. */
    char small[5] = "xxxx";
    s2s_format_hms(3723, small, sizeof small);
    cr_assert_str_eq(small, "1:02");
}

Test(progress, plain_lines_with_known_figures)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    fake_clock clk = {100.0};
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_PLAIN, 2);
    s2s_progress_set_clock(&p, fake_now, &clk);
    cr_assert_eq(p.mode, S2S_PROGRESS_PLAIN);

    /* Epoch 1 of 2, 4 steps of 1 s and 100 tokens each. */
    s2s_progress_begin_epoch(&p, 1, 2, 4);
    cr_assert(isnan(s2s_progress_mean_loss(&p)));
    cr_assert(isnan(s2s_progress_eta(&p)));
    const double loss[4] = {4, 2, 3, 1};
    for (int k = 1; k <= 4; k++) {
        clk.t += 1;
        s2s_progress_step(&p, k, loss[k - 1], 100);
    }
    s2s_progress_end_epoch(&p);

    /* Epoch 2: a NaN loss is left out of the mean; 2 s per step. */
    s2s_progress_begin_epoch(&p, 2, 2, 4);
    clk.t += 2;
    s2s_progress_step(&p, 1, 5.0, 10);
    clk.t += 2;
    s2s_progress_step(&p, 2, NAN, 30);
    cr_assert_float_eq(s2s_progress_mean_loss(&p), 5.0, 1e-12);
    cr_assert_float_eq(s2s_progress_window_loss(&p), 5.0, 1e-12);
    cr_assert_float_eq(s2s_progress_tokens_per_s(&p), 10.0, 1e-12);
    cr_assert_float_eq(s2s_progress_eta(&p), 4.0, 1e-12);

    char *out = slurp(f);
    const char *want =
        /* step 2: mean (4+2)/2, 200 tok / 2 s, 1 s/step x (2 + 4) left;
         * step 4: the window of steps 3-4, (3+1)/2; the closing line:
         * the epoch's mean */
        "epoch 1/2 step 2/4 loss 3.000 tok/s 100 eta 0:00:06\n"
        "epoch 1/2 step 4/4 loss 2.000 tok/s 100 eta 0:00:04\n"
        "epoch 1/2 done: 4 steps epoch loss 2.500 tok/s 100 time 0:00:04\n"
        "epoch 2/2 step 2/4 loss 5.000 tok/s 10 eta 0:00:04\n";
    cr_assert_str_eq(out, want);
    cr_assert_eq(strchr(out, '\r'), NULL);
    free(out);
    fclose(f);
}

Test(progress, total_steps_and_unknown_epoch_size)
{
    FILE *f = tmpfile();
    fake_clock clk = {0};
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_PLAIN, 1);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_set_total_steps(&p, 10);

    s2s_progress_begin_epoch(&p, 1, 5, 4);
    for (int k = 1; k <= 4; k++) {
        clk.t += 0.5;
        s2s_progress_step(&p, k, 1.0, 8);
    }
    s2s_progress_end_epoch(&p);
    /* Epoch 2, step 1 at 3 s/step: 10 - (4 + 1) steps left. */
    s2s_progress_begin_epoch(&p, 2, 5, 4);
    clk.t += 3;
    s2s_progress_step(&p, 1, 1.0, 8);

    /* Epochs give 3 + 3 * 4 steps left, the limit 5: the first wins. */
    cr_assert_float_eq(s2s_progress_eta(&p), 15.0, 1e-12);

    /* Unknown epoch size and no total: no fraction, no ETA. */
    fclose(f);
    f = tmpfile();
    s2s_progress_init(&p, f, S2S_PROGRESS_PLAIN, 5);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_begin_epoch(&p, 3, 0, 0);
    for (int k = 1; k <= 5; k++) {
        clk.t += 1;
        s2s_progress_step(&p, k, 2.0, 4);
    }
    cr_assert(isnan(s2s_progress_eta(&p)));
    char *out = slurp(f);
    cr_assert_str_eq(out, "epoch 3 step 5 loss 2.000 tok/s 4 eta -:--:--\n");
    free(out);
    fclose(f);
}

Test(progress, resumed_run)
{
    /* Resumed mid-epoch: the first step reported is 51 of 100, after 1 s.
     * The time per step comes from the steps seen, not the step number. */
    fake_clock clk = {0};
    s2s_progress p;
    s2s_progress_init(&p, NULL, S2S_PROGRESS_PLAIN, 10);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_begin_epoch(&p, 3, 3, 100);
    clk.t = 1;
    s2s_progress_step(&p, 51, 1.0, 1);
    cr_assert_float_eq(s2s_progress_eta(&p), 49.0, 1e-12);

    /* With a step limit: 6 steps were taken before; 10 - (6 + 1) left. */
    s2s_progress_init(&p, NULL, S2S_PROGRESS_PLAIN, 10);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_set_total_steps(&p, 10);
    s2s_progress_set_steps_done(&p, 6);
    s2s_progress_begin_epoch(&p, 2, 5, 4);
    clk.t = 3;
    s2s_progress_step(&p, 3, 1.0, 1);
    cr_assert_float_eq(s2s_progress_eta(&p), 6.0, 1e-12);
    /* Past the limit the ETA is zero, not negative. */
    for (long k = 4; k <= 8; k++)
        s2s_progress_step(&p, k, 1.0, 1);
    cr_assert_float_eq(s2s_progress_eta(&p), 0.0, 1e-12);
}

Test(progress, terminal_redraws_in_place_without_newlines)
{
    FILE *f = tmpfile();
    fake_clock clk = {0};
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_TERMINAL, 100);
    s2s_progress_set_clock(&p, fake_now, &clk);
    cr_assert_eq(p.mode, S2S_PROGRESS_TERMINAL);
    cr_assert_eq(p.width, 80); /* not a real terminal: the default */

    /* 50 steps 0.01 s apart over 0.5 s: the first step draws, then one
     * draw per 0.1 s elapsed, and the last step always draws. */
    s2s_progress_begin_epoch(&p, 1, 3, 50);
    for (int k = 1; k <= 50; k++) {
        clk.t = k * 0.01;
        s2s_progress_step(&p, k, 2.0, 10);
    }
    char *out = slurp(f);
    cr_assert_eq(count_char(out, '\n'), 0, "a step wrote a newline: %s", out);
    size_t draws = count_char(out, '\r');
    cr_assert(draws >= 5 && draws <= 7, "draws = %zu", draws);
    /* Every drawn line clears to the end of the line and fits in 79
     * columns so it never wraps. */
    for (char *seg = strtok(out, "\r"); seg; seg = strtok(NULL, "\r")) {
        size_t n = strlen(seg);
        cr_assert(n >= 3 && strcmp(seg + n - 3, "\033[K") == 0);
        cr_assert(n - 3 <= 79, "line of %zu columns", n - 3);
    }
    free(out);

    out = slurp(f);
    const char *last = strrchr(out, '\r') + 1;
    cr_assert(strncmp(last, "epoch 1/3 step 50/50 [", 22) == 0, "%s", last);
    cr_assert(strstr(last, "] loss 2.000 tok/s 1000 eta ") != NULL, "%s", last);
    /* The bar of the last step is full. */
    const char *bar = strchr(last, '[');
    for (const char *c = bar + 1; *c != ']'; c++)
        cr_assert_eq(*c, '#');
    free(out);

    /* The end of the epoch keeps the bar: one newline. */
    s2s_progress_end_epoch(&p);
    out = slurp(f);
    cr_assert_eq(count_char(out, '\n'), 1);
    cr_assert_eq(out[strlen(out) - 1], '\n');
    free(out);
    fclose(f);
}

Test(progress, terminal_bar_fraction)
{
    FILE *f = tmpfile();
    fake_clock clk = {0};
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_TERMINAL, 100);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_begin_epoch(&p, 1, 1, 4);
    clk.t = 1;
    s2s_progress_step(&p, 1, 1.0, 1);
    char *out = slurp(f);
    const char *open = strchr(out, '['), *close = strchr(out, ']');
    cr_assert(open && close && close > open);
    size_t width = (size_t)(close - open - 1), full = 0;
    for (const char *c = open + 1; c < close; c++)
        full += *c == '#';
    cr_assert(width >= 10);
    cr_assert_eq(full, width / 4, "%zu of %zu", full, width);
    free(out);
    fclose(f);
}

Test(progress, log_clears_and_redraws_the_bar)
{
    FILE *f = tmpfile();
    fake_clock clk = {0};
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_TERMINAL, 100);
    s2s_progress_set_clock(&p, fake_now, &clk);
    s2s_progress_begin_epoch(&p, 1, 1, 10);
    clk.t = 1;
    s2s_progress_step(&p, 1, 3.0, 10);
    long before = ftell(f);
    s2s_progress_log(&p, "dev loss %.2f", 2.5);
    char *out = slurp(f);
    const char *after = out + before;
    /* Clear the line, print the message on it, then the bar again. */
    const char *want = "\r\033[Kdev loss 2.50\n\repoch 1/1 step 1/10 [";
    cr_assert(strncmp(after, want, strlen(want)) == 0, "%s", after);
    free(out);
    fclose(f);
}

Test(progress, plain_log_and_quiet)
{
    FILE *f = tmpfile();
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_QUIET, 1);
    s2s_progress_begin_epoch(&p, 1, 1, 3);
    s2s_progress_step(&p, 1, 1.0, 1);
    s2s_progress_end_epoch(&p);
    s2s_progress_log(&p, "saved %s", "runs/x/ckpt.bin");
    s2s_progress_log(&p, "already ended\n");
    /* Longer than the formatter's stack buffer. */
    char *big = malloc(3001);
    memset(big, 'z', 3000);
    big[3000] = '\0';
    s2s_progress_log(&p, "%s", big);
    s2s_progress_finish(&p);
    char *out = slurp(f);
    cr_assert(strncmp(out, "saved runs/x/ckpt.bin\nalready ended\n", 36) == 0, "%s", out);
    cr_assert_eq(strlen(out), 36 + 3000 + 1);
    cr_assert_eq(out[strlen(out) - 1], '\n');
    free(big);
    free(out);
    fclose(f);
}

Test(progress, auto_mode_on_a_file_is_plain)
{
    FILE *f = tmpfile();
    s2s_progress p;
    s2s_progress_init(&p, f, S2S_PROGRESS_AUTO, 0);
    cr_assert_eq(p.mode, S2S_PROGRESS_PLAIN);
    cr_assert_eq(p.log_every, 100);
    /* The real clock runs forwards. */
    s2s_progress_begin_epoch(&p, 1, 1, 1000);
    s2s_progress_step(&p, 1, 1.0, 5);
    double eta = s2s_progress_eta(&p);
    cr_assert(isfinite(eta) && eta >= 0);
    fclose(f);
}
