/* seq2seq/plot.c — reads the trainer's metrics CSV and draws the training
 * curves as a self-contained SVG (see plot.h).
 */
#include "seq2seq/plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const COLUMN_NAME[S2S_METRIC_COUNT] = {
    "epoch", "step", "train_loss", "dev_loss",
    "dev_ppl", "dev_bleu", "tokens_per_s", "lr",
};

static const int REQUIRED[] = {
    S2S_METRIC_STEP, S2S_METRIC_TRAIN_LOSS, S2S_METRIC_DEV_LOSS,
    S2S_METRIC_DEV_BLEU,
};

/* ------------------------------------------------------------------------ */
/* Reading the CSV                                                          */

void s2s_metrics_free(s2s_metrics *m)
{
    free(m->x);
    for (int c = 0; c < S2S_METRIC_COUNT; c++)
        free(m->col[c]);
    memset(m, 0, sizeof *m);
}

/* Trims blanks from both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Strips the line end (LF or CRLF) in place; returns the new length. */
static size_t chomp(char *line, size_t n)
{
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return n;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return 0;
    return 1;
}

static size_t count_fields(const char *line)
{
    size_t n = 1;
    for (; *line; line++)
        n += *line == ',';
    return n;
}

/* Maps each header field to a column (or -1 for an extra column). */
static int parse_header(const char *path, char *line, int **map,
                        size_t *nfields, s2s_err *err)
{
    /* A UTF-8 byte order mark from a spreadsheet export. */
    if ((unsigned char)line[0] == 0xEF && (unsigned char)line[1] == 0xBB
        && (unsigned char)line[2] == 0xBF)
        line += 3;
    *nfields = count_fields(line);
    *map = s2s_xmalloc(*nfields * sizeof **map);
    int seen[S2S_METRIC_COUNT] = {0};
    const char *s = line;
    for (size_t i = 0; i < *nfields; i++) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *name = s;
        trim(&name, &n);
        (*map)[i] = -1;
        for (int c = 0; c < S2S_METRIC_COUNT; c++) {
            if (!seen[c] && strlen(COLUMN_NAME[c]) == n
                && memcmp(COLUMN_NAME[c], name, n) == 0) {
                (*map)[i] = c;
                seen[c] = 1;
            }
        }
        s = end ? end + 1 : s + n;
    }
    for (size_t r = 0; r < sizeof REQUIRED / sizeof REQUIRED[0]; r++) {
        if (!seen[REQUIRED[r]]) {
            free(*map);
            *map = NULL;
            return s2s_fail(err, "%s:1: the header has no '%s' column (expected '%s')",
                            path, COLUMN_NAME[REQUIRED[r]], S2S_METRICS_HEADER);
        }
    }
    return 0;
}

/* Parses one cell: empty gives NAN; anything but a whole number is an
 * error. Non-finite values parse but are stored as NAN (skipped). */
static int parse_cell(const char *s, size_t n, double *out)
{
    trim(&s, &n);
    if (n == 0) {
        *out = NAN;
        return 0;
    }
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return -1;
    *out = isfinite(v) ? v : NAN;
    return 0;
}

int s2s_metrics_read(const char *path, s2s_metrics *m, s2s_err *err)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "r");
    if (!f)
        return s2s_fail(err, "%s: cannot open: %s", path, strerror(errno));

    char *line = NULL;
    size_t cap = 0, rows_cap = 0, nfields = 0;
    int *map = NULL, rc = -1;
    long lineno = 1;
    ssize_t got = getline(&line, &cap, f);
    if (got < 0) {
        if (ferror(f))
            s2s_fail(err, "%s: read error: %s", path, strerror(errno));
        else
            s2s_fail(err, "%s:1: empty file, expected the header '%s'", path,
                     S2S_METRICS_HEADER);
        goto done;
    }
    chomp(line, (size_t)got);
    if (parse_header(path, line, &map, &nfields, err) != 0)
        goto done;

    double last_step = -INFINITY, max_x = 0, offset = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        chomp(line, (size_t)got);
        if (is_blank(line))
            continue;
        size_t nf = count_fields(line);
        if (nf != nfields) {
            s2s_fail(err, "%s:%ld: %zu fields, the header has %zu", path,
                     lineno, nf, nfields);
            goto done;
        }
        double v[S2S_METRIC_COUNT];
        for (int c = 0; c < S2S_METRIC_COUNT; c++)
            v[c] = NAN;
        const char *s = line;
        for (size_t i = 0; i < nfields; i++) {
            const char *end = strchr(s, ',');
            size_t n = end ? (size_t)(end - s) : strlen(s);
            if (map[i] >= 0 && parse_cell(s, n, &v[map[i]]) != 0) {
                const char *q = s;
                trim(&q, &n);
                s2s_fail(err, "%s:%ld: column '%s': '%.*s%s' is not a number",
                         path, lineno, COLUMN_NAME[map[i]],
                         (int)(n > 40 ? 40 : n), q, n > 40 ? "..." : "");
                goto done;
            }
            s = end ? end + 1 : s + n;
        }
        double step = v[S2S_METRIC_STEP];
        if (isnan(step))
            continue; /* a row that cannot be placed on the x axis */
        /* A step counter that went back restarts after the largest x. */
        if (step < last_step)
            offset = max_x;
        last_step = step;
        if (m->n == rows_cap) {
            rows_cap = rows_cap ? 2 * rows_cap : 64;
            m->x = s2s_xrealloc(m->x, rows_cap * sizeof *m->x);
            for (int c = 0; c < S2S_METRIC_COUNT; c++)
                m->col[c] = s2s_xrealloc(m->col[c], rows_cap * sizeof *m->col[c]);
        }
        m->x[m->n] = offset + step;
        if (m->x[m->n] > max_x)
            max_x = m->x[m->n];
        for (int c = 0; c < S2S_METRIC_COUNT; c++)
            m->col[c][m->n] = v[c];
        m->n++;
    }
    if (ferror(f)) {
        s2s_fail(err, "%s:%ld: read error: %s", path, lineno + 1, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(line);
    free(map);
    fclose(f);
    if (rc != 0)
        s2s_metrics_free(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Axes                                                                     */

typedef struct axis {
    double lo, hi, step; /* range, ending on ticks, and the tick spacing */
    int decimals;        /* for tick labels */
    int thousands;       /* labels in k */
} axis;

/* 1, 2 or 5 times a power of ten near range / target. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* An axis over [lo, hi] with about `target` ticks ending on ticks; ticks
 * are whole numbers when `integer` (steps). */
static axis make_axis(double lo, double hi, int target, int integer)
{
    axis a;
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    a.step = nice_step(hi - lo, target);
    if (integer && a.step < 1)
        a.step = 1;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    if (!(a.hi > a.lo))
        a.hi = a.lo + a.step;
    a.thousands = fmax(fabs(a.lo), fabs(a.hi)) >= 10000 && a.step >= 100;
    double shown = a.thousands ? a.step / 1000 : a.step;
    a.decimals = shown >= 1 ? 0 : (int)ceil(-log10(shown) - 1e-9);
    return a;
}

static int axis_ticks(const axis *a)
{
    return (int)lround((a->hi - a->lo) / a->step) + 1;
}

static double axis_tick(const axis *a, int i)
{
    double v = a->lo + i * a->step;
    return fabs(v) < a->step * 1e-9 ? 0.0 : v; /* never "-0" */
}

static void tick_label(const axis *a, double v, char *buf, size_t size)
{
    if (a->thousands && v != 0)
        snprintf(buf, size, "%.*fk", a->decimals, v / 1000);
    else
        snprintf(buf, size, "%.*f", a->decimals, v);
}

/* ------------------------------------------------------------------------ */
/* SVG pieces                                                               */

/* Text made safe for XML: markup characters escaped, control characters
 * and bytes that are not UTF-8 replaced by '?'. */
static void put_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '&') fputs("&amp;", f);
        else if (c == '<') fputs("&lt;", f);
        else if (c == '>') fputs("&gt;", f);
        else if (c == '"') fputs("&quot;", f);
        else if (c < 0x20 && c != '\t') fputc('?', f);
        else if (c < 0x80) fputc((int)c, f);
        else {
            /* Length of a well-formed UTF-8 sequence starting here, else 0. */
            int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
            for (int k = 1; k < len; k++)
                if ((p[k] & 0xC0) != 0x80)
                    len = 0;
            if (len == 3 && ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)))
                len = 0; /* overlong, surrogate */
            if (len == 4 && ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)))
                len = 0; /* overlong, beyond U+10FFFF */
            if (len == 0) {
                fputc('?', f);
            } else {
                fwrite(p, 1, (size_t)len, f);
                p += len - 1;
            }
        }
        p++;
    }
}

typedef struct series {
    const char *name;   /* the CSV column, also the element class */
    const char *label;  /* in the legend */
    const char *color;
    const double *y;    /* (n) NAN where absent */
} series;

typedef struct panel {
    double top, bottom, left, right; /* plot area in SVG units */
    const char *title, *ylabel, *empty_note;
    int from_zero;                   /* the y axis starts at 0 */
    const series *s;
    int ns;
} panel;

#define SVG_W 900
#define SVG_H 690
#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"

/* Approximate width of text at 12px, for laying out the legend. */
static double text_width(const char *s)
{
    return 6.8 * (double)strlen(s);
}

static void draw_panel(FILE *f, const panel *pn, const s2s_metrics *m,
                       const axis *ax)
{
    /* The y range over this panel's finite values. */
    double lo = INFINITY, hi = -INFINITY;
    size_t npoints = 0;
    for (int k = 0; k < pn->ns; k++)
        for (size_t i = 0; i < m->n; i++)
            if (isfinite(pn->s[k].y[i])) {
                lo = fmin(lo, pn->s[k].y[i]);
                hi = fmax(hi, pn->s[k].y[i]);
                npoints++;
            }
    if (npoints == 0) {
        lo = 0;
        hi = 1;
    } else if (pn->from_zero) {
        lo = fmin(lo, 0);
        hi = hi > lo ? hi + 0.05 * (hi - lo) : lo + 1;
    } else if (hi > lo) {
        double pad = 0.05 * (hi - lo);
        lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
        hi += pad;
    }
    axis ay = make_axis(lo, hi, 5, 0);
    double w = pn->right - pn->left, h = pn->bottom - pn->top;
#define PX(v) (pn->left + ((v) - ax->lo) / (ax->hi - ax->lo) * w)
#define PY(v) (pn->bottom - ((v) - ay.lo) / (ay.hi - ay.lo) * h)

    fprintf(f, "<g class=\"panel\">\n");
    /* Title on the left of the header row, legend on the right. */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">",
            pn->left, pn->top - 12);
    put_text(f, pn->title);
    fputs("</text>\n", f);
    double lw = 0;
    for (int k = 0; k < pn->ns; k++)
        lw += 24 + text_width(pn->s[k].label) + (k ? 16 : 0);
    double lx = pn->right - lw;
    for (int k = 0; k < pn->ns; k++) {
        if (k)
            lx += 16;
        double ly = pn->top - 16;
        fprintf(f, "<g class=\"legend\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\" stroke-width=\"2.5\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" "
                "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">",
                lx, ly, lx + 18, ly, pn->s[k].color, lx + 9, ly, pn->s[k].color,
                lx + 24, ly + 4);
        put_text(f, pn->s[k].label);
        fputs("</text></g>\n", f);
        lx += 24 + text_width(pn->s[k].label);
    }

    /* Grid and tick labels. */
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
            "stroke=\"none\"/>\n", pn->left, pn->top, w, h);
    char lab[64];
    for (int i = 0; i < axis_ticks(&ay); i++) {
        double v = axis_tick(&ay, i), y = PY(v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
                pn->left, y, pn->right, y);
        tick_label(&ay, v, lab, sizeof lab);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
                pn->left - 6, y + 4, lab);
    }
    for (int i = 0; i < axis_ticks(ax); i++) {
        double v = axis_tick(ax, i), x = PX(v);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
                x, pn->top, x, pn->bottom);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
                x, pn->bottom, x, pn->bottom + 4);
        tick_label(ax, v, lab, sizeof lab);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
                x, pn->bottom + 17, lab);
    }
    /* Axes: the frame's left and bottom edges. */
    fprintf(f, "<polyline class=\"axes\" fill=\"none\" stroke=\"#333\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
            pn->left, pn->top, pn->left, pn->bottom, pn->right, pn->bottom);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">step</text>\n",
            pn->left + w / 2, pn->bottom + 34);
    fprintf(f, "<text transform=\"translate(%.1f,%.1f) rotate(-90)\" font-size=\"12\" "
            "text-anchor=\"middle\">", pn->left - 50, pn->top + h / 2);
    put_text(f, pn->ylabel);
    fputs("</text>\n", f);

    /* The series: a line through the finite points, and dots when there
     * are few (a single evaluation is then still visible). */
    for (int k = 0; k < pn->ns; k++) {
        const series *s = &pn->s[k];
        size_t n = 0;
        for (size_t i = 0; i < m->n; i++)
            n += isfinite(s->y[i]) != 0;
        if (n == 0)
            continue;
        fprintf(f, "<polyline class=\"series %s\" fill=\"none\" stroke=\"%s\" "
                "stroke-width=\"1.8\" stroke-linejoin=\"round\" points=\"", s->name, s->color);
        const char *sep = "";
        for (size_t i = 0; i < m->n; i++) {
            if (!isfinite(s->y[i]))
                continue;
            fprintf(f, "%s%.1f,%.1f", sep, PX(m->x[i]), PY(s->y[i]));
            sep = " ";
        }
        fputs("\"/>\n", f);
        if (n <= 60) {
            fprintf(f, "<g class=\"markers %s\" fill=\"%s\">", s->name, s->color);
            for (size_t i = 0; i < m->n; i++)
                if (isfinite(s->y[i]))
                    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>",
                            PX(m->x[i]), PY(s->y[i]));
            fputs("</g>\n", f);
        }
    }
    if (npoints == 0) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#888\" "
                "text-anchor=\"middle\">", pn->left + w / 2, pn->top + h / 2);
        put_text(f, pn->empty_note);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
#undef PX
#undef PY
}

/* The last finite value of a column, NAN if none. */
static double last_value(const s2s_metrics *m, int c)
{
    for (size_t i = m->n; i-- > 0;)
        if (isfinite(m->col[c][i]))
            return m->col[c][i];
    return NAN;
}

int s2s_plot_svg_write(const s2s_metrics *m, const char *title, FILE *f,
                       s2s_err *err)
{
    double xmax = 0, xmin = 0;
    for (size_t i = 0; i < m->n; i++) {
        xmax = fmax(xmax, m->x[i]);
        xmin = fmin(xmin, m->x[i]);
    }
    /* A little room on the right so the last point is not on the frame. */
    double xhi = xmax > xmin ? xmax + 0.02 * (xmax - xmin) : xmin + 1;
    axis ax = make_axis(xmin, xhi, 8, 1);

    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"%s\" fill=\"#222\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H, FONT);
    fputs("<title>", f);
    put_text(f, title ? title : "s2s training curves");
    fputs("</title>\n", f);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", SVG_W, SVG_H);
    fprintf(f, "<text x=\"%d\" y=\"30\" font-size=\"18\" font-weight=\"bold\" "
            "text-anchor=\"middle\">", SVG_W / 2);
    put_text(f, title ? title : "s2s training curves");
    fputs("</text>\n", f);

    /* A summary of where the run stands. */
    char sum[256];
    int len = snprintf(sum, sizeof sum, "%zu row%s", m->n, m->n == 1 ? "" : "s");
    if (m->n > 0)
        len += snprintf(sum + len, sizeof sum - (size_t)len, ", last step %.0f", m->x[m->n - 1]);
    static const struct { int col; const char *fmt; } LAST[] = {
        {S2S_METRIC_TRAIN_LOSS, ", train loss %.3f"},
        {S2S_METRIC_DEV_LOSS, ", dev loss %.3f"},
        {S2S_METRIC_DEV_PPL, ", dev ppl %.2f"},
        {S2S_METRIC_DEV_BLEU, ", dev BLEU %.2f"},
    };
    for (size_t k = 0; k < sizeof LAST / sizeof LAST[0] && m->n > 0; k++) {
        double v = last_value(m, LAST[k].col);
        if (isfinite(v) && (size_t)len < sizeof sum)
            len += snprintf(sum + len, sizeof sum - (size_t)len, LAST[k].fmt, v);
    }
    fprintf(f, "<text x=\"%d\" y=\"50\" font-size=\"12\" fill=\"#666\" "
            "text-anchor=\"middle\">%s</text>\n", SVG_W / 2, sum);

    series loss[2] = {
        {"train_loss", "train loss", "#1f77b4", m->col[S2S_METRIC_TRAIN_LOSS]},
        {"dev_loss", "dev loss", "#d62728", m->col[S2S_METRIC_DEV_LOSS]},
    };
    series bleu[1] = {
        {"dev_bleu", "dev BLEU", "#2ca02c", m->col[S2S_METRIC_DEV_BLEU]},
    };
    panel p1 = {100, 330, 80, SVG_W - 30, "Loss", "cross-entropy per target token",
                "no data yet", 0, loss, 2};
    panel p2 = {430, 630, 80, SVG_W - 30, "Dev BLEU", "BLEU",
                "no dev evaluation yet", 1, bleu, 1};
    draw_panel(f, &p1, m, &ax);
    draw_panel(f, &p2, m, &ax);
    fputs("</svg>\n", f);
    if (ferror(f))
        return s2s_fail(err, "writing the SVG: %s", strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading and writing files                                                */

int s2s_plot_svg(const char *csv_path, const char *svg_path, s2s_err *err)
{
    s2s_metrics m;
    if (s2s_metrics_read(csv_path, &m, err) != 0)
        return -1;
    size_t len = strlen(svg_path);
    char *tmp = s2s_xmalloc(len + 16);
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", svg_path);
    int rc = -1;
    FILE *f = NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        s2s_fail(err, "%s: cannot create a temporary file beside it: %s", svg_path,
                 strerror(errno));
        goto done;
    }
    /* mkstemp makes the file private; a plot is for reading. */
    fchmod(fd, 0644);
    f = fdopen(fd, "w");
    if (!f) {
        s2s_fail(err, "%s: %s", tmp, strerror(errno));
        close(fd);
        goto fail_unlink;
    }
    char title[512];
    snprintf(title, sizeof title, "s2s training curves: %s", csv_path);
    if (s2s_plot_svg_write(&m, title, f, err) != 0) {
        s2s_fail_prefix(err, "%s", tmp);
        fclose(f);
        goto fail_unlink;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        s2s_fail(err, "%s: write: %s", tmp, strerror(errno));
        fclose(f);
        goto fail_unlink;
    }
    if (fclose(f) != 0) {
        s2s_fail(err, "%s: close: %s", tmp, strerror(errno));
        goto fail_unlink;
    }
    if (rename(tmp, svg_path) != 0) {
        s2s_fail(err, "%s: cannot rename %s over it: %s", svg_path, tmp, strerror(errno));
        goto fail_unlink;
    }
    rc = 0;
    goto done;
fail_unlink:
    unlink(tmp);
done:
    free(tmp);
    s2s_metrics_free(&m);
    return rc;
}
