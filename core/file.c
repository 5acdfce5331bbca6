/* core/file.c — reading a whole file into memory, with the error
 * messages every reader of s2s shares. */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *read_file(const char *path, size_t max, size_t max_line,
                       size_t *len, s2s_err *err);

char *s2s_read_file(const char *path, size_t max, size_t *len, s2s_err *err)
{
    return read_file(path, max, 0, len, err);
}

char *s2s_read_text_file(const char *path, size_t max_line, size_t *len,
                         s2s_err *err)
{
    return read_file(path, 0, max_line, len, err);
}

static size_t count_eols(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'));
    return k;
}

static char *read_file(const char *path, size_t max, size_t max_line,
                       size_t *len, s2s_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        s2s_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* The size is only a hint: pipes and /proc files report 0. */
    struct stat st;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    char *buf = s2s_xmalloc(cap);
    size_t n = 0, line_start = 0;
    for (;;) {
        if (max && n > max) {
            fclose(f);
            free(buf);
            s2s_fail(err, "%s: larger than %zu bytes", path, max);
            return NULL;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            buf = s2s_xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, f);
        n += r;
        if (max_line) {
            /* every line in what was just read, and the one still open */
            int too_long = 0;
            for (size_t i = n - r; i < n; i++) {
                if (buf[i] == '\n' || buf[i] == '\r')
                    line_start = i + 1;
                else if (i + 1 - line_start > max_line) {
                    too_long = 1;
                    break;
                }
            }
            if (too_long) {
                size_t line = count_eols(buf, line_start) + 1;
                fclose(f);
                free(buf);
                s2s_fail(err, "%s:%zu: a line longer than %zu bytes (not text, "
                         "or raise data.max_line_bytes)", path, line, max_line);
                return NULL;
            }
        }
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        free(buf);
        s2s_fail(err, "%s: read error: %s", path, strerror(e));
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int s2s_getline_max(char **buf, size_t *cap, size_t *n, FILE *f, size_t max)
{
    size_t k = 0;
    for (;;) {
        if (k + 2 > *cap) {
            *cap = *cap ? *cap * 2 : 256;
            *buf = s2s_xrealloc(*buf, *cap);
        }
        int c = getc(f);
        if (c == EOF) {
            (*buf)[k] = 0;
            *n = k;
            if (ferror(f))
                return -1;
            return k > 0;
        }
        (*buf)[k++] = (char)c;
        if (c == '\n') {
            (*buf)[k] = 0;
            *n = k;
            return 1;
        }
        if (k > max) {
            (*buf)[k] = 0;
            *n = k;
            return -2;
        }
    }
}
