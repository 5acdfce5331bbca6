/* seq2seq/plot.h — the training-curve plot: reads the metrics CSV the
 * trainer writes and draws a self-contained SVG (no external fonts, styles
 * or scripts) with two panels: train and dev loss against step, and dev
 * BLEU against step.
 *
 * The CSV starts with the header
 *   epoch,step,train_loss,dev_loss,dev_ppl,dev_bleu,tokens_per_s,lr,epoch_train_loss
 * (train_loss on the rows written every log_every steps, dev columns and
 * epoch_train_loss on evaluation rows; columns are found by name; step, train_loss, dev_loss and dev_bleu are
 * required, the others and any extra columns are optional). Dev columns
 * are empty on rows without a dev evaluation; empty, NaN and infinite cells
 * are skipped. `step` is meant to count over the whole run; if it ever goes
 * down (a counter restarted per epoch, or a resumed run that restarted it)
 * the curve continues after the largest step seen instead of folding back.
 */
#ifndef S2S_PLOT_H
#define S2S_PLOT_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

/* The columns of the metrics CSV, in their documented order. */
enum {
    S2S_METRIC_EPOCH,
    S2S_METRIC_STEP,
    S2S_METRIC_TRAIN_LOSS,
    S2S_METRIC_DEV_LOSS,
    S2S_METRIC_DEV_PPL,
    S2S_METRIC_DEV_BLEU,
    S2S_METRIC_TOKENS_PER_S,
    S2S_METRIC_LR,
    S2S_METRIC_COUNT
};

/* The columns the plot knows (the trainer appends epoch_train_loss). */
#define S2S_METRICS_HEADER \
    "epoch,step,train_loss,dev_loss,dev_ppl,dev_bleu,tokens_per_s,lr"

typedef struct s2s_metrics {
    size_t n;                        /* rows with a finite step */
    double *x;                       /* (n) step, continued across restarts */
    double *col[S2S_METRIC_COUNT];   /* (n) each; NAN where empty, missing
                                        or not finite */
} s2s_metrics;

/* Reads a metrics CSV. Errors: "PATH: cannot open: <strerror>",
 * "PATH:LINE: <what is wrong>" for a bad header, a wrong number of fields
 * or a cell that is not a number. A file with only the header gives n = 0.
 * On success free with s2s_metrics_free. */
int s2s_metrics_read(const char *csv_path, s2s_metrics *m, s2s_err *err);
void s2s_metrics_free(s2s_metrics *m);

/* Writes the SVG of m to f; `title` (may be NULL) is shown on top, escaped.
 * Fails only when writing fails. */
int s2s_plot_svg_write(const s2s_metrics *m, const char *title, FILE *f,
                       s2s_err *err);

/* Reads csv_path and writes svg_path atomically (a temporary file in the
 * same directory, flushed, then renamed over svg_path). */
int s2s_plot_svg(const char *csv_path, const char *svg_path, s2s_err *err);

#endif
