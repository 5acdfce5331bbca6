/* tokenizer/detok.c — joins tokens into readable text, undoing the
 * tokenizer's punctuation splitting with the spacing rules of detok.h.
 */
#include "tokenizer/detok.h"

#include <string.h>
#include <utf8proc.h>

#include "core/error.h"

#define NNBSP "\xE2\x80\xAF" /* U+202F NARROW NO-BREAK SPACE */

/* First and last code point of a token; -1 when empty or not UTF-8. */
static int32_t first_cp(const char *s)
{
    int32_t c;
    size_t n = strlen(s);
    if (!n || utf8proc_iterate((const utf8proc_uint8_t *)s,
                               (utf8proc_ssize_t)n, &c) <= 0)
        return -1;
    return c;
}

static int32_t last_cp(const char *s)
{
    size_t n = strlen(s);
    if (!n)
        return -1;
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                         (utf8proc_ssize_t)(n - i), &c) <= 0)
        return -1;
    return c;
}

/* The token's only code point, or -1 when it has more or none. */
static int32_t single_cp(const char *s)
{
    int32_t c;
    size_t n = strlen(s);
    if (!n)
        return -1;
    utf8proc_ssize_t r =
        utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &c);
    return r == (utf8proc_ssize_t)n ? c : -1;
}

/* Letters, marks and digits make words. */
static int is_word_cp(int32_t c)
{
    if (c < 0)
        return 0;
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

static int is_digit_cp(int32_t c)
{
    return c >= 0 && utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

static int in(int32_t c, const int32_t *set)
{
    for (; *set; set++)
        if (*set == c)
            return 1;
    return 0;
}

/* No space before these. */
static const int32_t closing[] = {
    '.', ',', '!', '?', ')', ']', '}', ';', ':', '%', 0x2026 /* … */,
    0x201D /* ” */, 0x00BB /* » */, 0x203A /* › */, 0x2030 /* ‰ */, 0};
/* No space after these. */
static const int32_t opening[] = {
    '(', '[', '{', 0x00BF /* ¿ */, 0x00A1 /* ¡ */, 0x201C /* “ */,
    0x2018 /* ‘ */, 0x00AB /* « */, 0x2039 /* ‹ */, 0x201E /* „ */, 0};
/* French typography: a narrow no-break space before these. */
static const int32_t french_before[] = {';', ':', '!', '?', 0x00BB, 0};
static const int32_t apostrophes[] = {'\'', 0x2019 /* ’ */, 0};
static const int32_t joiners[] = {'-', 0x2010, 0x2011, '/', 0};
static const int32_t number_joiners[] = {'.', ',', ':', 0};

enum { SEP_NONE, SEP_SPACE, SEP_NNBSP };

char *s2s_detokenize(const char *const *tokens, size_t n, int french_spacing)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(tokens[i]) + 3;
    char *out = s2s_xmalloc(cap);
    size_t pos = 0;

    int next_sep = SEP_NONE; /* separator the previous token asks for */
    int dq_open = 0, sq_open = 0;
    int32_t prev_last = -1, prev_single = -1;
    for (size_t i = 0; i < n; i++) {
        const char *t = tokens[i];
        int32_t c = single_cp(t);
        int32_t next_first = i + 1 < n ? first_cp(tokens[i + 1]) : -1;
        int sep = i ? next_sep : SEP_NONE;
        int after = SEP_SPACE;

        int between_words = is_word_cp(prev_last) && is_word_cp(next_first);
        if (c < 0) {
            /* a word */
        } else if (in(c, apostrophes) && between_words) {
            sep = SEP_NONE;
            after = SEP_NONE;
        } else if (in(c, joiners) && between_words) {
            sep = SEP_NONE;
            after = SEP_NONE;
        } else if (in(c, number_joiners) && is_digit_cp(prev_last) &&
                   is_digit_cp(next_first)) {
            sep = SEP_NONE;
            after = SEP_NONE;
        } else if (c == '"' || c == '\'') {
            int *open = c == '"' ? &dq_open : &sq_open;
            if (!*open)
                after = SEP_NONE;
            else
                sep = SEP_NONE;
            *open = !*open;
        } else if (c == 0x2019) { /* ’ not between words: a closing quote */
            sep = SEP_NONE;
        } else if (in(c, opening)) {
            after = (c == 0x00AB && french_spacing) ? SEP_NNBSP : SEP_NONE;
        } else if (in(c, closing)) {
            /* "?!" stays one group: one space before it, none inside. */
            int stacked = (c == '!' || c == '?') &&
                          (prev_single == '!' || prev_single == '?');
            if (french_spacing && in(c, french_before) && sep != SEP_NONE &&
                !stacked)
                sep = SEP_NNBSP;
            else
                sep = SEP_NONE;
        }

        if (i) {
            if (sep == SEP_SPACE)
                out[pos++] = ' ';
            else if (sep == SEP_NNBSP) {
                memcpy(out + pos, NNBSP, 3);
                pos += 3;
            }
        }
        size_t len = strlen(t);
        memcpy(out + pos, t, len);
        pos += len;
        next_sep = after;
        prev_last = last_cp(t);
        prev_single = c;
    }
    out[pos] = '\0';
    return out;
}
