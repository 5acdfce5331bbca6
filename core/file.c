/* core/file.c — reading a whole file into memory, with the error
 * messages every reader of s2s shares. */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *s2s_read_file(const char *path, size_t max, size_t *len, s2s_err *err)
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
    size_t n = 0;
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
