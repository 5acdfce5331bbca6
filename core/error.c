/* core/error.c — error messages (one line each) and the allocators that
 * cannot fail: out of memory is fatal, everything else is a status code.
 */
#include "core/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the message on one line whatever the pieces carried (dlerror,
 * a file name with a newline in it). */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

int s2s_fail(s2s_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    one_line(e->msg);
    return -1;
}

int s2s_fail_prefix(s2s_err *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    old[sizeof old - 1] = '\0';

    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used > sizeof e->msg - 1)
        used = sizeof e->msg - 1;

    /* Append ": " and the old message, cut to fit. */
    const char *parts[2] = { ": ", old };
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(parts[k]), room = sizeof e->msg - 1 - used;
        if (len > room)
            len = room;
        memcpy(e->msg + used, parts[k], len);
        used += len;
    }
    e->msg[used] = '\0';
    one_line(e->msg);
    return -1;
}

/* ------------------------------------------------------------------------ */

static void oom(size_t n)
{
    fprintf(stderr, "s2s: out of memory (%zu bytes)\n", n);
    abort();
}

void *s2s_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *s2s_xcalloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *s2s_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *s2s_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = s2s_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void *s2s_xaligned(size_t n)
{
    /* aligned_alloc wants a multiple of the alignment. */
    if (n > SIZE_MAX - 63)
        oom(n);
    size_t r = (n + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, r ? r : 64);
    if (!p)
        oom(n);
    return p;
}
