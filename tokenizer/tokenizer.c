/* tokenizer/tokenizer.c — NFKC, lower-casing, punctuation splitting and
 * white-space splitting of one UTF-8 string (see tokenizer.h), with a
 * fast path for pure-ASCII text.
 */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------ lifecycle */

void s2s_tokens_init(s2s_tokens *t)
{
    memset(t, 0, sizeof *t);
}

void s2s_tokens_free(s2s_tokens *t)
{
    free(t->buf);
    free(t->off);
    free(t->len);
    free(t->cp);
    free(t->ptr);
    memset(t, 0, sizeof *t);
}

/* Grows the char buffer to hold `bytes` and the token arrays to hold
 * `toks` entries. Capacities only grow, so steady state allocates nothing. */
static void reserve(s2s_tokens *t, size_t bytes, size_t toks)
{
    if (bytes > t->buf_cap) {
        size_t cap = t->buf_cap ? t->buf_cap : 256;
        while (cap < bytes)
            cap *= 2;
        t->buf = s2s_xrealloc(t->buf, cap);
        t->buf_cap = cap;
    }
    if (toks > t->tok_cap) {
        size_t cap = t->tok_cap ? t->tok_cap : 64;
        while (cap < toks)
            cap *= 2;
        t->off = s2s_xrealloc(t->off, cap * sizeof *t->off);
        t->len = s2s_xrealloc(t->len, cap * sizeof *t->len);
        t->tok_cap = cap;
    }
}

/* ------------------------------------------------------------ UTF-8 */

size_t s2s_utf8_check(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return i; /* continuation byte, C0/C1 overlong lead, F5..FF */
        }
        if (n - i - 1 < need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return n;
}

/* Decodes valid UTF-8 (checked before) at s; stores the code point. */
static size_t decode(const unsigned char *s, int32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    if (c < 0xE0) {
        *cp = (int32_t)(((c & 0x1Fu) << 6) | (s[1] & 0x3Fu));
        return 2;
    }
    if (c < 0xF0) {
        *cp = (int32_t)(((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) |
                        (s[2] & 0x3Fu));
        return 3;
    }
    *cp = (int32_t)(((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) |
                    ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu));
    return 4;
}

/* ------------------------------------------------------------ classes */

int s2s_is_space_cp(int32_t c)
{
    /* Python's str.split() set: Unicode White_Space plus the C0 separators
     * U+001C..U+001F. */
    if (c <= 0x20)
        return c == 0x20 || (c >= 0x09 && c <= 0x0D) ||
               (c >= 0x1C && c <= 0x1F);
    if (c < 0x85)
        return 0;
    switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

int s2s_is_punct_cp(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return 1;
    default:
        return 0;
    }
}

/* ASCII classes: 1 white space, 2 punctuation (categories P*), 0 other.
 * The P* set of ASCII is !"#%&'()*,-./:;?@[\]_{} ; the symbols $+<=>^`|~
 * are S* and stay inside tokens. tests/tokenizer_basic.c checks this
 * table against utf8proc. */
static const unsigned char ascii_class[128] = {
    ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
    [0x1C] = 1, [0x1D] = 1, [0x1E] = 1, [0x1F] = 1, [' '] = 1,
    ['!'] = 2, ['"'] = 2, ['#'] = 2, ['%'] = 2, ['&'] = 2, ['\''] = 2,
    ['('] = 2, [')'] = 2, ['*'] = 2, [','] = 2, ['-'] = 2, ['.'] = 2,
    ['/'] = 2, [':'] = 2, [';'] = 2, ['?'] = 2, ['@'] = 2, ['['] = 2,
    ['\\'] = 2, [']'] = 2, ['_'] = 2, ['{'] = 2, ['}'] = 2,
};

/* ------------------------------------------------------------ splitting */

/* Token builder over t's buffers; the caller reserved enough room. */
typedef struct {
    s2s_tokens *t;
    size_t pos;   /* bytes used in t->buf */
    size_t start; /* start of the open token, == pos when none */
} builder;

static inline void close_token(builder *b)
{
    if (b->pos == b->start)
        return;
    s2s_tokens *t = b->t;
    t->off[t->n] = (uint32_t)b->start;
    t->len[t->n] = (uint32_t)(b->pos - b->start);
    t->n++;
    t->buf[b->pos++] = '\0';
    b->start = b->pos;
}

static void tokenize_ascii(const s2s_tok_opts *o, const unsigned char *s,
                           size_t len, s2s_tokens *t)
{
    /* Worst case "a.a.a": every byte a token, each + NUL. */
    reserve(t, 2 * len + 1, len + 1);
    builder b = {t, 0, 0};
    for (size_t i = 0; i < len; i++) {
        unsigned c = s[i];
        unsigned cls = ascii_class[c];
        if (cls == 1) {
            close_token(&b);
            continue;
        }
        if (o->lowercase && c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (cls == 2 && o->split_punct) {
            close_token(&b);
            t->buf[b.pos++] = (char)c;
            close_token(&b);
            continue;
        }
        t->buf[b.pos++] = (char)c;
    }
    close_token(&b);
}

static int tokenize_unicode(const s2s_tok_opts *o, const unsigned char *s,
                            size_t len, s2s_tokens *t, s2s_err *err)
{
    /* Code points: at most one per byte before NFKC; NFKC may expand
     * (U+FDFA is 18 code points), so ask utf8proc and retry if needed. */
    size_t ncp;
    if (o->nfkc) {
        const utf8proc_option_t opt =
            UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        for (;;) {
            utf8proc_ssize_t r = utf8proc_decompose(
                s, (utf8proc_ssize_t)len, t->cp, (utf8proc_ssize_t)t->cp_cap,
                opt);
            if (r < 0)
                return s2s_fail(err, "cannot normalise text: %s",
                                utf8proc_errmsg(r));
            if ((size_t)r <= t->cp_cap) {
                r = utf8proc_normalize_utf32(t->cp, r, opt);
                if (r < 0)
                    return s2s_fail(err, "cannot normalise text: %s",
                                    utf8proc_errmsg(r));
                ncp = (size_t)r;
                break;
            }
            t->cp_cap = (size_t)r + 64;
            t->cp = s2s_xrealloc(t->cp, t->cp_cap * sizeof *t->cp);
        }
    } else {
        if (len > t->cp_cap) {
            t->cp_cap = len + 64;
            t->cp = s2s_xrealloc(t->cp, t->cp_cap * sizeof *t->cp);
        }
        ncp = 0;
        for (size_t i = 0; i < len;)
            i += decode(s + i, &t->cp[ncp++]);
    }
    if (ncp > UINT32_MAX / 5)
        return s2s_fail(err, "text too long to tokenize (%zu code points)",
                        ncp);

    /* Each code point is at most 4 bytes, plus a NUL per token. */
    reserve(t, 5 * ncp + 1, ncp + 1);
    builder b = {t, 0, 0};
    for (size_t i = 0; i < ncp; i++) {
        int32_t c = t->cp[i];
        if (s2s_is_space_cp(c)) {
            close_token(&b);
            continue;
        }
        if (c == 0xFEFF) /* a BOM inside a line (files joined): invisible, dropped */
            continue;
        if (o->lowercase)
            c = utf8proc_tolower(c);
        int punct = o->split_punct && s2s_is_punct_cp(c);
        if (punct)
            close_token(&b);
        b.pos += (size_t)utf8proc_encode_char(
            c, (utf8proc_uint8_t *)t->buf + b.pos);
        if (punct)
            close_token(&b);
    }
    close_token(&b);
    return 0;
}

int s2s_tokenize(const s2s_tok_opts *o, const char *text, size_t len,
                 s2s_tokens *t, s2s_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    t->n = 0;
    if (len > UINT32_MAX / 5)
        return s2s_fail(err, "text too long to tokenize (%zu bytes)", len);

    /* One pass decides the path and finds NUL bytes. */
    unsigned char any = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0)
            return s2s_fail(err, "NUL byte at byte offset %zu", i);
        any |= s[i];
    }
    if (!(any & 0x80)) {
        tokenize_ascii(o, s, len, t);
        return 0;
    }
    size_t bad = s2s_utf8_check(text, len);
    if (bad < len)
        return s2s_fail(err, "invalid UTF-8 at byte offset %zu", bad);
    if (tokenize_unicode(o, s, len, t, err) < 0) {
        t->n = 0;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ views */

const char *const *s2s_tokens_ptrs(s2s_tokens *t)
{
    if (t->n > t->ptr_cap) {
        t->ptr_cap = t->n + 16;
        t->ptr = s2s_xrealloc(t->ptr, t->ptr_cap * sizeof *t->ptr);
    }
    for (size_t k = 0; k < t->n; k++)
        t->ptr[k] = t->buf + t->off[k];
    return (const char *const *)t->ptr;
}

char *s2s_tokens_join(const s2s_tokens *t)
{
    size_t total = 1;
    for (size_t k = 0; k < t->n; k++)
        total += t->len[k] + 1;
    char *out = s2s_xmalloc(total);
    size_t pos = 0;
    for (size_t k = 0; k < t->n; k++) {
        if (k)
            out[pos++] = ' ';
        memcpy(out + pos, t->buf + t->off[k], t->len[k]);
        pos += t->len[k];
    }
    out[pos] = '\0';
    return out;
}
