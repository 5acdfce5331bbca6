/* corpora/reader.h — raw sentence pairs from a parallel corpus, with
 * FILE:LINE on every error.
 *
 * Two layouts:
 *   - one TSV file, the source and target in 1-based columns src_col and
 *     tgt_col (other columns ignored);
 *   - two aligned plain-text files, line k of one translating line k of
 *     the other (their line counts must agree).
 *
 * Files are read whole into memory; a line longer than max_line bytes
 * (S2S_MAX_LINE_DEFAULT with s2s_reader_open) is an error naming the file
 * and line, found while reading. Accepted: LF, CRLF or lone CR line ends
 * (a file of CR-only ends reads line by line), a UTF-8 BOM at the start, a
 * last line without newline.
 * Errors (-1, one line in err):
 *   "PATH: cannot open: <strerror>"                       (and read errors)
 *   "PATH:LINE: expected at least N tab-separated columns, found M"
 *   "PATH:LINE: NUL byte at byte offset K (file offset F)"
 *   "PATH:LINE: invalid UTF-8 at byte offset K (file offset F)"
 *       (unless skip_invalid_utf8: the line is skipped and counted)
 *   "aligned files differ in length: PATH1 has N1 lines, PATH2 has N2"
 * K is 0-based within the line (after a BOM on line 1), F within the file.
 * The whole line is checked for NUL and UTF-8, unused columns included.
 *
 * A blank line (nothing but an optional CR) yields a pair with both sides
 * empty, counted as blank; the caller decides (the dataset skips it).
 */
#ifndef S2S_READER_H
#define S2S_READER_H

#include <stddef.h>

#include "core/error.h"

typedef struct s2s_raw_pair {
    const char *src, *tgt;   /* not NUL-terminated; point into the reader */
    size_t src_len, tgt_len;
    size_t line;             /* 1-based line number in its file(s) */
    int blank;               /* 1: a blank line (both sides empty) */
} s2s_raw_pair;

typedef struct s2s_reader {
    char *path, *target;     /* target NULL for TSV */
    int src_col, tgt_col;    /* 1-based (TSV) */
    int skip_invalid_utf8;
    char *buf[2];            /* whole file(s) */
    size_t len[2], pos[2], start[2]; /* start: after the BOM */
    size_t line;             /* lines consumed */
    /* stats */
    size_t lines;            /* lines read */
    size_t blank;            /* blank lines (returned, both sides empty) */
    size_t invalid_utf8;     /* lines skipped for invalid UTF-8 */
} s2s_reader;

/* Opens a TSV file (target NULL or "") or two aligned files (path = source
 * side, target = target side). src_col / tgt_col are used only for TSV and
 * must be >= 1. */
int s2s_reader_open(s2s_reader *r, const char *path, const char *target,
                    int src_col, int tgt_col, int skip_invalid_utf8,
                    s2s_err *err);
/* The same with a bound on line length (bytes). */
int s2s_reader_open_max(s2s_reader *r, const char *path, const char *target,
                        int src_col, int tgt_col, int skip_invalid_utf8,
                        size_t max_line, s2s_err *err);
/* 1 with the next pair in p, 0 at the end, -1 on error. */
int s2s_reader_next(s2s_reader *r, s2s_raw_pair *p, s2s_err *err);
void s2s_reader_close(s2s_reader *r);


#endif
