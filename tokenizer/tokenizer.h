/* tokenizer/tokenizer.h — Unicode normalisation and splitting of one UTF-8
 * string into tokens, as fixed by BENCHMARK.md:
 *
 *   1. NFKC (utf8proc), e.g. "ﬁ" -> "fi", full-width "Ａ" -> "A", U+00A0 -> " ";
 *   2. simple per-code-point lower-casing (utf8proc_tolower): no special
 *      casing, no context, no language rules: Turkish "İ" (U+0130) becomes
 *      plain "i" (its simple mapping; full case mapping would give i +
 *      U+0307), "I" becomes "i" (not dotless "ı"), final sigma is not
 *      special ("Σ" -> "σ" everywhere);
 *   3. a space on both sides of every code point of general category
 *      Pc Pd Ps Pe Pi Pf Po ("j'ai" -> "j ' ai", "“a”" -> "“ a ”");
 *   4. split on Unicode white space (category Zs, Zl, Zp, plus TAB, LF, VT,
 *      FF, CR, U+001C..U+001F, U+0085: the set Python's str.split() uses;
 *      U+200B ZERO WIDTH SPACE is Cf and does not split). Symbols (S*:
 *      "+", "<", "€", emoji) and marks stay inside their token.
 *   5. U+FEFF (a byte-order mark inside a line, left by joining files) is
 *      dropped: "run\uFEFF" is the token "run".
 *
 * Pure-ASCII input takes a fast path (NFKC is the identity on ASCII; case
 * and category come from a 128-entry table); any byte >= 0x80 sends the
 * string through utf8proc. Both paths give the same tokens.
 *
 * Tokens land in a reusable s2s_tokens: one char buffer holding every token
 * NUL-terminated back to back, plus offsets and lengths. Buffers only grow,
 * so tokenizing many strings with one s2s_tokens allocates nothing once the
 * buffers are large enough. Not thread-safe per s2s_tokens; use one per
 * thread.
 */
#ifndef S2S_TOKENIZER_H
#define S2S_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Each step can be turned off; the defaults (all 1) are the benchmark's. */
typedef struct s2s_tok_opts {
    int nfkc;        /* Unicode NFKC */
    int lowercase;   /* utf8proc_tolower per code point */
    int split_punct; /* spaces around punctuation (Pc Pd Ps Pe Pi Pf Po) */
} s2s_tok_opts;

#define S2S_TOK_OPTS_DEFAULT ((s2s_tok_opts){1, 1, 1})

/* A list of tokens; token k is the NUL-terminated string buf + off[k] of
 * len[k] bytes (the lengths exclude the NUL). */
typedef struct s2s_tokens {
    size_t n;          /* tokens */
    char *buf;         /* tokens, each followed by a NUL */
    uint32_t *off;     /* (n) start of each token in buf */
    uint32_t *len;     /* (n) byte length of each token */

    /* Capacities and scratch, private to the tokenizer. */
    size_t buf_cap, tok_cap;
    int32_t *cp;       /* code points of the string being normalised */
    size_t cp_cap;
    char **ptr;        /* see s2s_tokens_ptrs */
    size_t ptr_cap;
} s2s_tokens;

void s2s_tokens_init(s2s_tokens *t);
void s2s_tokens_free(s2s_tokens *t);

/* Token k as a NUL-terminated string (valid until the next call that fills
 * t). */
static inline const char *s2s_tokens_get(const s2s_tokens *t, size_t k)
{
    return t->buf + t->off[k];
}

/* Normalises and splits `text` (len bytes; need not be NUL-terminated) into
 * t, replacing what t held. Returns 0, or -1 with "invalid UTF-8 at byte
 * offset N" / "NUL byte at byte offset N" (N counted from `text`; callers
 * prefix FILE:LINE) in err, and t left empty. */
int s2s_tokenize(const s2s_tok_opts *o, const char *text, size_t len,
                 s2s_tokens *t, s2s_err *err);

/* An array of n pointers to t's tokens, for s2s_detokenize and friends;
 * valid until the next call that fills t. */
const char *const *s2s_tokens_ptrs(s2s_tokens *t);

/* The tokens joined by single spaces (the normalised text), malloc'd. */
char *s2s_tokens_join(const s2s_tokens *t);

/* Byte offset of the first invalid UTF-8 sequence in s[0..n) (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF), or n when all
 * of it is valid. NUL bytes are valid UTF-8 here. */
size_t s2s_utf8_check(const char *s, size_t n);

/* 1 when the code point counts as white space for step 4. */
int s2s_is_space_cp(int32_t c);
/* 1 when the code point is punctuation for step 3 (Pc Pd Ps Pe Pi Pf Po). */
int s2s_is_punct_cp(int32_t c);

#endif
