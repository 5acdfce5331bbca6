/* corpora/reader.c — reads raw sentence pairs from a TSV file or from two
 * aligned files, held whole in memory, with FILE:LINE on every error (see
 * reader.h).
 */
#include "corpora/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "tokenizer/tokenizer.h"

/* Lines in buf[start..len): a last line without newline counts. */
/* The length of the line at s (rest bytes left) and, in *skip, the bytes
 * of it and its end: LF, CR LF, or a lone CR (old Mac files). */
static size_t line_len(const char *s, size_t rest, size_t *skip)
{
    const char *nl = memchr(s, '\n', rest);
    size_t len = nl ? (size_t)(nl - s) : rest;
    const char *cr = memchr(s, '\r', len);
    if (cr && cr + 1 < s + len) { /* a CR inside: a lone CR ends the line */
        len = (size_t)(cr - s);
        *skip = len + 1;
        return len;
    }
    *skip = len + (nl != NULL);
    if (len && s[len - 1] == '\r')
        len--;
    return len;
}

static size_t count_lines(const char *buf, size_t start, size_t len)
{
    size_t n = 0, skip;
    const char *p = buf + start, *end = buf + len;
    while (p < end) {
        line_len(p, (size_t)(end - p), &skip);
        n++;
        p += skip;
    }
    return n;
}

static size_t bom_len(const char *buf, size_t len)
{
    return len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

int s2s_reader_open(s2s_reader *r, const char *path, const char *target,
                    int src_col, int tgt_col, int skip_invalid_utf8,
                    s2s_err *err)
{
    return s2s_reader_open_max(r, path, target, src_col, tgt_col,
                               skip_invalid_utf8, S2S_MAX_LINE_DEFAULT, err);
}

int s2s_reader_open_max(s2s_reader *r, const char *path, const char *target,
                        int src_col, int tgt_col, int skip_invalid_utf8,
                        size_t max_line, s2s_err *err)
{
    memset(r, 0, sizeof *r);
    if (target && !*target)
        target = NULL;
    if (!path || !*path)
        return s2s_fail(err, "no corpus file given");
    if (!target && (src_col < 1 || tgt_col < 1))
        return s2s_fail(err, "%s: columns are 1-based (got source %d, "
                        "target %d)", path, src_col, tgt_col);
    r->path = s2s_xstrdup(path);
    r->target = target ? s2s_xstrdup(target) : NULL;
    r->src_col = src_col;
    r->tgt_col = tgt_col;
    r->skip_invalid_utf8 = skip_invalid_utf8;

    int nfiles = target ? 2 : 1;
    const char *names[2] = {path, target};
    for (int i = 0; i < nfiles; i++) {
        r->buf[i] = s2s_read_text_file(names[i], max_line, &r->len[i], err);
        if (!r->buf[i]) {
            s2s_reader_close(r);
            return -1;
        }
        r->start[i] = r->pos[i] = bom_len(r->buf[i], r->len[i]);
    }
    if (target) {
        size_t a = count_lines(r->buf[0], r->start[0], r->len[0]);
        size_t b = count_lines(r->buf[1], r->start[1], r->len[1]);
        if (a != b) {
            s2s_fail(err, "aligned files differ in length: %s has %zu "
                     "lines, %s has %zu", path, a, target, b);
            s2s_reader_close(r);
            return -1;
        }
    }
    return 0;
}

void s2s_reader_close(s2s_reader *r)
{
    free(r->path);
    free(r->target);
    free(r->buf[0]);
    free(r->buf[1]);
    memset(r, 0, sizeof *r);
}

/* The next line of file i (without LF and CR); its start offset in the
 * file goes to *at. */
static const char *take_line(s2s_reader *r, int i, size_t *n, size_t *at)
{
    const char *s = r->buf[i] + r->pos[i];
    size_t skip;
    *n = line_len(s, r->len[i] - r->pos[i], &skip);
    *at = r->pos[i];
    r->pos[i] += skip;
    return s;
}

/* 0 when the line is clean, 1 when it is to be skipped (invalid UTF-8
 * with skip_invalid_utf8), -1 on error. */
static int check_line(s2s_reader *r, const char *name, size_t line,
                      const char *s, size_t n, size_t at, s2s_err *err)
{
    const char *nul = memchr(s, '\0', n);
    if (nul) {
        size_t k = (size_t)(nul - s);
        return s2s_fail(err, "%s:%zu: NUL byte at byte offset %zu (file "
                        "offset %zu)", name, line, k, at + k);
    }
    size_t bad = s2s_utf8_check(s, n);
    if (bad < n) {
        if (r->skip_invalid_utf8)
            return 1;
        return s2s_fail(err, "%s:%zu: invalid UTF-8 at byte offset %zu "
                        "(file offset %zu)", name, line, bad, at + bad);
    }
    return 0;
}

/* Field `col` (1-based) of a TSV line. */
static int tsv_field(const char *s, size_t n, int col, const char **f,
                     size_t *fl)
{
    const char *p = s, *end = s + n;
    for (int c = 1; c < col; c++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab)
            return -1;
        p = tab + 1;
    }
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    *f = p;
    *fl = tab ? (size_t)(tab - p) : (size_t)(end - p);
    return 0;
}

static int count_columns(const char *s, size_t n)
{
    int c = 1;
    for (const char *p = s, *end = s + n;
         (p = memchr(p, '\t', (size_t)(end - p))) != NULL; p++)
        c++;
    return c;
}

int s2s_reader_next(s2s_reader *r, s2s_raw_pair *p, s2s_err *err)
{
    for (;;) {
        if (r->pos[0] >= r->len[0])
            return 0;
        size_t line = ++r->line;
        r->lines++;
        size_t n0, at0;
        const char *s0 = take_line(r, 0, &n0, &at0);
        int rc = check_line(r, r->path, line, s0, n0, at0, err);
        if (rc < 0)
            return -1;

        if (r->target) {
            size_t n1 = 0, at1;
            const char *s1 = take_line(r, 1, &n1, &at1);
            int rc1 = check_line(r, r->target, line, s1, n1, at1, err);
            /* An error in either file wins over a skip. */
            if (rc1 < 0)
                return -1;
            if (rc || rc1) {
                r->invalid_utf8++;
                continue;
            }
            int blank = n0 == 0 && n1 == 0;
            r->blank += blank;
            *p = (s2s_raw_pair){s0, s1, n0, n1, line, blank};
            return 1;
        }

        if (rc) {
            r->invalid_utf8++;
            continue;
        }
        if (n0 == 0) {
            r->blank++;
            *p = (s2s_raw_pair){s0, s0, 0, 0, line, 1};
            return 1;
        }
        int need = r->src_col > r->tgt_col ? r->src_col : r->tgt_col;
        if (tsv_field(s0, n0, r->src_col, &p->src, &p->src_len) < 0 ||
            tsv_field(s0, n0, r->tgt_col, &p->tgt, &p->tgt_len) < 0)
            return s2s_fail(err, "%s:%zu: expected at least %d "
                            "tab-separated columns, found %d", r->path, line,
                            need, count_columns(s0, n0));
        p->line = line;
        p->blank = 0;
        return 1;
    }
}
