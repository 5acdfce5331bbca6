/* core/file.h — reading a whole file into memory. */
#ifndef S2S_FILE_H
#define S2S_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

/* Reads the file into a malloc'd buffer (a NUL appended, not counted in
 * *len). max > 0 refuses files of more bytes. NULL with "PATH: cannot
 * open: ...", "PATH: read error: ..." or "PATH: larger than N bytes". */
char *s2s_read_file(const char *path, size_t max, size_t *len, s2s_err *err);

/* The default longest line a line-oriented reader accepts (1 MiB). */
#define S2S_MAX_LINE_DEFAULT ((size_t)1 << 20)

/* s2s_read_file for line-oriented text: a line (ended by LF, CR or the end
 * of the file) longer than max_line bytes stops the read at once with
 * "PATH:LINE: a line longer than N bytes" (so /dev/zero or a binary file
 * fails fast instead of filling memory). */
char *s2s_read_text_file(const char *path, size_t max_line, size_t *len,
                         s2s_err *err);

/* getline with a bound, for stdin and pipes: 1 with the line in *buf (its
 * end of line kept; *n its length), 0 at the end of input, -1 on a read
 * error (errno set), -2 when the line exceeds max bytes (the rest of it is
 * left unread). */
int s2s_getline_max(char **buf, size_t *cap, size_t *n, FILE *f, size_t max);

#endif
