/* core/error.h — the error convention of s2s.
 *
 * Library code never prints and never exits for anything a user can cause:
 * it returns -1 (or NULL) and fills an s2s_err with one line saying what and
 * where (file:line, key name, byte offset). Only the command-line front end
 * turns an error into a message on stderr and a non-zero exit status.
 * Out-of-memory and broken invariants (bugs) are fatal with a message.
 */
#ifndef S2S_ERROR_H
#define S2S_ERROR_H

#include <stddef.h>

/* seq2seq/s2s.h, the installed public header, defines the same type under
 * the same guard (it may include nothing of ours). */
#ifndef S2S_ERR_DEFINED
#define S2S_ERR_DEFINED
typedef struct s2s_err {
    char msg[1024];
} s2s_err;
#endif

/* Fills e (if not NULL) with a printf-style message; returns -1. */
int s2s_fail(s2s_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to e's message (e.g. a file name); returns -1. */
int s2s_fail_prefix(s2s_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocation that cannot fail: out of memory prints and aborts. */
void *s2s_xmalloc(size_t n);
void *s2s_xcalloc(size_t count, size_t size);
void *s2s_xrealloc(void *p, size_t n);
char *s2s_xstrdup(const char *s);
/* 64-byte aligned, for SIMD rows and to keep threads off shared lines.
 * Free with free(). */
void *s2s_xaligned(size_t n);

#endif
