/* tests/seq2seq_plot.c — the metrics CSV reader and the SVG plot: parsed
 * values, empty/NaN/inf cells, a step counter that restarts, one polyline
 * per series with one point per finite value, balanced tags, escaping,
 * the atomic write, and every error line (missing file, empty file, bad
 * header, wrong field count, a cell that is not a number).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seq2seq/plot.h"

#define HEADER S2S_METRICS_HEADER "\n"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/s2s_plot_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(plot, .init = make_dir, .fini = remove_dir);

/* dir/name, in a static buffer per slot. */
static const char *in_dir(const char *name, int slot)
{
    static char buf[4][512];
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
    return buf[slot];
}

static const char *put(const char *name, const char *text)
{
    const char *path = in_dir(name, 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Number of "x,y" points in the polyline of class "series NAME", -1 if
 * there is none. Also checks every coordinate is a finite number. */
static int polyline_points(const char *svg, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "<polyline class=\"series %s\"", name);
    const char *p = strstr(svg, key);
    if (!p)
        return -1;
    cr_assert_null(strstr(p + 1, key), "two polylines for %s", name);
    p = strstr(p, "points=\"");
    cr_assert_not_null(p);
    p += 8;
    int n = 0;
    while (*p != '"') {
        char *end;
        double x = strtod(p, &end);
        cr_assert(end != p && *end == ',', "bad point in %s: %.20s", name, p);
        double y = strtod(end + 1, &end);
        cr_assert(isfinite(x) && isfinite(y));
        cr_assert(*end == ' ' || *end == '"');
        p = *end == ' ' ? end + 1 : end;
        n++;
    }
    return n;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Tags balance: every <name ...> is closed by </name> in order, or is
 * self-closing. Enough to catch a forgotten or crossed end tag. */
static void assert_tags_balance(const char *svg)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = strchr(svg, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        cr_assert_not_null(end);
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = strcspn(name, " />\n");
        cr_assert(n > 0 && n < 32);
        if (closing) {
            cr_assert(depth > 0, "</%.*s> closes nothing", (int)n, name);
            depth--;
            cr_assert(strlen(stack[depth]) == n && !strncmp(stack[depth], name, n),
                      "</%.*s> closes <%s>", (int)n, name, stack[depth]);
        } else if (end[-1] != '/') {
            cr_assert(depth < 64);
            memcpy(stack[depth], name, n);
            stack[depth][n] = '\0';
            depth++;
        }
        /* No raw '<' or '&' that is not an entity inside the tag or text. */
        for (const char *q = p + 1; q < end; q++)
            cr_assert_neq(*q, '<');
    }
    cr_assert_eq(depth, 0, "%d tags left open", depth);
    for (const char *a = strchr(svg, '&'); a; a = strchr(a + 1, '&'))
        cr_assert(!strncmp(a, "&amp;", 5) || !strncmp(a, "&lt;", 4)
                  || !strncmp(a, "&gt;", 4) || !strncmp(a, "&quot;", 6));
}

static void assert_svg_shape(const char *svg)
{
    cr_assert(strncmp(svg, "<svg", 4) == 0, "starts with %.20s", svg);
    size_t n = strlen(svg);
    cr_assert(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0);
    cr_assert_eq(count_of(svg, "<svg"), 1);
    /* Self-contained: no external references, scripts or fonts. */
    cr_assert_null(strstr(svg, "<script"));
    cr_assert_null(strstr(svg, "href"));
    cr_assert_null(strstr(svg, "@import"));
    cr_assert_null(strstr(svg, "url("));
    assert_tags_balance(svg);
}

/* ------------------------------------------------------------------------ */

Test(plot, parses_values_and_empty_cells)
{
    const char *csv = put("m.csv", HEADER
        "1,100,4.5,,,,6012,0.001\n"
        "1,200,4.25,,,,6100,0.001\n"
        "1,200,,4.0,54.6,3.5,,0.001\n"
        "2,300,nan,inf,,-inf,,0.0009\n");
    s2s_metrics m;
    s2s_err e;
    cr_assert_eq(s2s_metrics_read(csv, &m, &e), 0, "%s", e.msg);
    cr_assert_eq(m.n, 4);
    cr_assert_float_eq(m.x[0], 100, 0);
    cr_assert_float_eq(m.x[3], 300, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_EPOCH][3], 2, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_TRAIN_LOSS][1], 4.25, 0);
    cr_assert(isnan(m.col[S2S_METRIC_TRAIN_LOSS][2]));
    cr_assert_float_eq(m.col[S2S_METRIC_DEV_LOSS][2], 4.0, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_DEV_PPL][2], 54.6, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_DEV_BLEU][2], 3.5, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_TOKENS_PER_S][0], 6012, 0);
    cr_assert_float_eq(m.col[S2S_METRIC_LR][3], 0.0009, 0);
    /* NaN and infinities are kept out of the data. */
    cr_assert(isnan(m.col[S2S_METRIC_TRAIN_LOSS][3]));
    cr_assert(isnan(m.col[S2S_METRIC_DEV_LOSS][3]));
    cr_assert(isnan(m.col[S2S_METRIC_DEV_BLEU][3]));
    s2s_metrics_free(&m);
}

Test(plot, columns_by_name_crlf_bom_and_restarting_steps)
{
    /* Reordered and extra columns, no epoch/lr, Windows line ends, a BOM,
     * blank lines, and a step counter that restarts each epoch. */
    const char *csv = put("m.csv",
        "\xEF\xBB\xBF" "step, dev_bleu ,train_loss,dev_loss,note\r\n"
        "10,,3.0,,a\r\n"
        "20,,2.0,,b\r\n"
        "\r\n"
        "10,,1.5,,c\r\n"
        "20, 7 ,1.0,,d\r\n"
        "\n");
    s2s_metrics m;
    s2s_err e;
    cr_assert_eq(s2s_metrics_read(csv, &m, &e), 0, "%s", e.msg);
    cr_assert_eq(m.n, 4);
    const double x[4] = {10, 20, 30, 40};
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(m.x[i], x[i], 0, "x[%d] = %g", i, m.x[i]);
    cr_assert_float_eq(m.col[S2S_METRIC_DEV_BLEU][3], 7, 0);
    cr_assert(isnan(m.col[S2S_METRIC_EPOCH][0]));
    cr_assert(isnan(m.col[S2S_METRIC_LR][0]));
    s2s_metrics_free(&m);
}

Test(plot, svg_has_a_polyline_per_series)
{
    /* 6 train rows, 2 dev rows (one with a NaN BLEU), 1 row without step. */
    const char *csv = put("m.csv", HEADER
        "1,1,6.0,,,,10,0.001\n"
        "1,2,5.0,,,,10,0.001\n"
        "1,3,4.5,,,,10,0.001\n"
        "1,3,,4.8,121.5,0.5,,\n"
        "2,4,4.0,,,,10,0.001\n"
        "2,5,3.5,,,,10,0.001\n"
        "2,,3.4,,,,10,0.001\n"
        "2,6,3.2,,,,10,0.001\n"
        "2,6,,4.1,60.3,nan,,\n");
    const char *svg_path = in_dir("curves.svg", 1);
    s2s_err e;
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), 0, "%s", e.msg);
    char *svg = slurp(svg_path);
    assert_svg_shape(svg);
    cr_assert_eq(polyline_points(svg, "train_loss"), 6);
    cr_assert_eq(polyline_points(svg, "dev_loss"), 2);
    cr_assert_eq(polyline_points(svg, "dev_bleu"), 1);
    /* Few points: each also has a dot (8 data + 3 legend dots). */
    cr_assert_eq(count_of(svg, "<circle"), 6 + 2 + 1 + 3);
    /* Title, legend, axis labels. */
    cr_assert_not_null(strstr(svg, "s2s training curves"));
    cr_assert_not_null(strstr(svg, ">train loss</text>"));
    cr_assert_not_null(strstr(svg, ">dev loss</text>"));
    cr_assert_not_null(strstr(svg, ">dev BLEU</text>"));
    cr_assert_eq(count_of(svg, ">step</text>"), 2);
    cr_assert_null(strstr(svg, "no dev evaluation yet"));
    cr_assert_null(strstr(svg, "nan"));
    free(svg);
}

Test(plot, one_row_and_header_only)
{
    const char *csv = put("one.csv", HEADER "1,1,9.21,,,,100,0.001\n");
    const char *svg_path = in_dir("one.svg", 1);
    s2s_err e;
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), 0, "%s", e.msg);
    char *svg = slurp(svg_path);
    assert_svg_shape(svg);
    cr_assert_eq(polyline_points(svg, "train_loss"), 1);
    cr_assert_eq(polyline_points(svg, "dev_loss"), -1);
    cr_assert_eq(polyline_points(svg, "dev_bleu"), -1);
    cr_assert_not_null(strstr(svg, "no dev evaluation yet"));
    free(svg);

    csv = put("empty.csv", HEADER);
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), 0, "%s", e.msg);
    svg = slurp(svg_path);
    assert_svg_shape(svg);
    cr_assert_eq(polyline_points(svg, "train_loss"), -1);
    cr_assert_not_null(strstr(svg, "no data yet"));
    cr_assert_not_null(strstr(svg, "0 rows"));
    free(svg);
}

Test(plot, many_points_scale_into_the_frame)
{
    /* 2000 rows up to step 200000: points stay inside the 900 x 690 view,
     * and no dots are drawn for that many points. */
    const char *csv = in_dir("big.csv", 2);
    FILE *f = fopen(csv, "w");
    fputs(HEADER, f);
    for (int i = 1; i <= 2000; i++)
        fprintf(f, "1,%d,%.4f,,,,1,1\n", i * 100, 2 + 5.0 / i);
    fclose(f);
    const char *svg_path = in_dir("big.svg", 1);
    s2s_err e;
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), 0, "%s", e.msg);
    char *svg = slurp(svg_path);
    assert_svg_shape(svg);
    cr_assert_eq(polyline_points(svg, "train_loss"), 2000);
    cr_assert_eq(count_of(svg, "<circle"), 3); /* the legend's */
    const char *p = strstr(strstr(svg, "series train_loss"), "points=\"") + 8;
    while (*p != '"') {
        char *end;
        double x = strtod(p, &end), y = strtod(end + 1, &end);
        cr_assert(x >= 80 && x <= 870 && y >= 100 && y <= 330, "%g,%g", x, y);
        p = *end == ' ' ? end + 1 : end;
    }
    /* Big step counts are labelled in thousands. */
    cr_assert_not_null(strstr(svg, "k</text>"));
    free(svg);
}

Test(plot, title_is_escaped)
{
    s2s_metrics m = {0};
    FILE *f = tmpfile();
    s2s_err e;
    cr_assert_eq(s2s_plot_svg_write(&m, "runs/<a&b> \"x\" caf\xc3\xa9 \xff\x01", f, &e), 0);
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *svg = malloc((size_t)n + 1);
    cr_assert_eq(fread(svg, 1, (size_t)n, f), (size_t)n);
    svg[n] = '\0';
    fclose(f);
    assert_svg_shape(svg);
    /* Markup escaped, valid UTF-8 kept, a stray byte and a control
     * character replaced. */
    cr_assert_not_null(strstr(svg, "runs/&lt;a&amp;b&gt; &quot;x&quot; caf\xc3\xa9 ??"), "%s", svg);
    free(svg);
}

Test(plot, atomic_write_replaces_and_leaves_no_temporary)
{
    const char *csv = put("m.csv", HEADER "1,1,2.0,,,,1,1\n");
    const char *svg_path = in_dir("out.svg", 1);
    FILE *f = fopen(svg_path, "w");
    fputs("old", f);
    fclose(f);
    s2s_err e;
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), 0, "%s", e.msg);
    char *svg = slurp(svg_path);
    cr_assert(strncmp(svg, "<svg", 4) == 0);
    free(svg);
    struct stat st;
    cr_assert_eq(stat(svg_path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    /* Only m.csv and out.svg are in the directory. */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.') {
            files++;
            cr_assert(!strcmp(de->d_name, "m.csv") || !strcmp(de->d_name, "out.svg"),
                      "left behind: %s", de->d_name);
        }
    closedir(d);
    cr_assert_eq(files, 2);

    /* A directory that does not exist: an error, nothing written. */
    const char *bad = in_dir("nope/out.svg", 2);
    cr_assert_eq(s2s_plot_svg(csv, bad, &e), -1);
    cr_assert_not_null(strstr(e.msg, bad), "%s", e.msg);
    cr_assert_not_null(strstr(e.msg, "No such file or directory"), "%s", e.msg);
}

Test(plot, error_missing_file)
{
    const char *csv = in_dir("absent.csv", 0);
    const char *svg_path = in_dir("x.svg", 1);
    s2s_err e;
    cr_assert_eq(s2s_plot_svg(csv, svg_path, &e), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", csv);
    cr_assert_str_eq(e.msg, want);
    struct stat st;
    cr_assert_neq(stat(svg_path, &st), 0, "an SVG was written anyway");
}

/* Runs the reader on text and checks the message is "PATH:" + tail. */
static void assert_read_error(const char *text, const char *tail)
{
    const char *csv = put("bad.csv", text);
    s2s_metrics m;
    s2s_err e;
    cr_assert_eq(s2s_metrics_read(csv, &m, &e), -1, "accepted: %s", text);
    char want[1200];
    snprintf(want, sizeof want, "%s:%s", csv, tail);
    cr_assert_str_eq(e.msg, want);
    cr_assert_null(strchr(e.msg, '\n'));
    cr_assert_eq(m.n, 0);
    cr_assert_null(m.x);
}

Test(plot, error_lines)
{
    assert_read_error("", "1: empty file, expected the header '" S2S_METRICS_HEADER "'");
    assert_read_error("epoch,step,train_loss,dev_loss\n1,2,3,4\n",
                      "1: the header has no 'dev_bleu' column (expected '"
                      S2S_METRICS_HEADER "')");
    assert_read_error(HEADER "1,1,2.0,,,,1,1\n1,2,abc,,,,1,1\n",
                      "3: column 'train_loss': 'abc' is not a number");
    assert_read_error(HEADER "1,1,2.0,,,,1,1\n1,2,3.5x,,,,1,1\n",
                      "3: column 'train_loss': '3.5x' is not a number");
    assert_read_error(HEADER "1,1,2.0,,,\n", "2: 6 fields, the header has 8");
    assert_read_error(HEADER "1,1,2.0,,,,1,1,9\n", "2: 9 fields, the header has 8");
    /* A long bad cell is quoted only in part. */
    char text[400];
    snprintf(text, sizeof text, HEADER "1,1,2,,,%s,1,1\n",
             "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assert_read_error(text, "2: column 'dev_bleu': "
                      "'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...' is not a number");
    /* A broken line far down is reported with its own line number. */
    char *big = malloc(20000);
    size_t n = (size_t)snprintf(big, 20000, HEADER);
    for (int i = 1; i <= 99; i++)
        n += (size_t)snprintf(big + n, 20000 - n, "1,%d,2.0,,,,1,1\n", i);
    snprintf(big + n, 20000 - n, "1,100,2.0,,,,1,--\n");
    assert_read_error(big, "101: column 'lr': '--' is not a number");
    free(big);
}
