/* tests/tokenizer_basic.c — the tokenizer's normalisation and splitting
 * (BENCHMARK.md): NFKC, lower-casing, punctuation, white space, each
 * option off, the ASCII fast path against the Unicode path, and invalid
 * input with byte offsets.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer/tokenizer.h"

/* Tokenizes s with o and checks the tokens against the NULL-terminated
 * list of expected strings. */
static void expect_opts(s2s_tok_opts o, const char *s, ...)
{
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_err err = {{0}};
    int rc = s2s_tokenize(&o, s, strlen(s), &t, &err);
    cr_assert_eq(rc, 0, "tokenize(\"%s\") failed: %s", s, err.msg);
    va_list ap;
    va_start(ap, s);
    size_t k = 0;
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        cr_assert_lt(k, t.n, "\"%s\": only %zu tokens, expected more (next "
                     "'%s')", s, t.n, want);
        cr_assert_str_eq(s2s_tokens_get(&t, k), want,
                         "\"%s\": token %zu is '%s', expected '%s'", s, k,
                         s2s_tokens_get(&t, k), want);
        cr_assert_eq(t.len[k], strlen(want));
        k++;
    }
    va_end(ap);
    cr_assert_eq(t.n, k, "\"%s\": %zu tokens, expected %zu", s, t.n, k);
    s2s_tokens_free(&t);
}

#define expect(s, ...) expect_opts(S2S_TOK_OPTS_DEFAULT, s, __VA_ARGS__, NULL)

static void expect_error(const char *s, size_t len, const char *msg)
{
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_err err = {{0}};
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    cr_assert_eq(s2s_tokenize(&o, s, len, &t, &err), -1);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_eq(t.n, 0);
    s2s_tokens_free(&t);
}

Test(tokenizer, benchmark_example)
{
    expect("J'ai faim !", "j", "'", "ai", "faim", "!");
    expect("Go.", "go", ".");
    expect("Don't do that...", "don", "'", "t", "do", "that", ".", ".", ".");
}

Test(tokenizer, empty_and_blank)
{
    expect_opts(S2S_TOK_OPTS_DEFAULT, "", NULL);
    expect_opts(S2S_TOK_OPTS_DEFAULT, " \t \r\n", NULL);
    expect_opts(S2S_TOK_OPTS_DEFAULT, "\xC2\xA0\xE2\x80\xAF\xE3\x80\x80", NULL);
}

Test(tokenizer, composed_and_decomposed_e_acute_agree)
{
    /* "été" precomposed (U+00E9) and as e + U+0301 */
    expect("\xC3\xA9t\xC3\xA9", "\xC3\xA9t\xC3\xA9");
    expect("e\xCC\x81te\xCC\x81", "\xC3\xA9t\xC3\xA9");
    expect("E\xCC\x81T\xC3\x89", "\xC3\xA9t\xC3\xA9");
}

Test(tokenizer, compatibility_forms)
{
    expect("\xEF\xAC\x81n", "fin");                 /* ligature ﬁ (U+FB01) */
    expect("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xEF\xBC\x91\xEF\xBC\x92",
           "abc12");                                /* full-width ＡＢＣ１２ */
    expect("\xEF\xBC\x81", "!");                    /* full-width ！ -> ! */
    expect("x\xC2\xB2", "x2");                      /* superscript two */
    /* U+FDFA expands to 18 code points under NFKC, spaces included: the
     * code-point buffer must grow past one per input byte. */
    expect("\xEF\xB7\xBA",
           "\xD8\xB5\xD9\x84\xD9\x89",
           "\xD8\xA7\xD9\x84\xD9\x84\xD9\x87",
           "\xD8\xB9\xD9\x84\xD9\x8A\xD9\x87",
           "\xD9\x88\xD8\xB3\xD9\x84\xD9\x85");
}

Test(tokenizer, unicode_spaces)
{
    /* U+00A0 (NFKC makes it a space), U+202F, U+3000, U+2009, U+2028 */
    expect("a\xC2\xA0" "b\xE2\x80\xAF" "c\xE3\x80\x80" "d\xE2\x80\x89"
           "e\xE2\x80\xA8" "f", "a", "b", "c", "d", "e", "f");
    /* French typography from the corpus: NBSP / NNBSP before ! ? */
    expect("Va\xC2\xA0!", "va", "!");
    expect("Qui\xE2\x80\xAF?", "qui", "?");
    /* The separators are white space even without NFKC. */
    s2s_tok_opts o = {0, 1, 1};
    expect_opts(o, "a\xC2\xA0" "b\xE2\x80\xAF" "c", "a", "b", "c", NULL);
    /* U+200B ZERO WIDTH SPACE is Cf, not white space: it stays inside. */
    expect("a\xE2\x80\x8B" "b", "a\xE2\x80\x8B" "b");
}

Test(tokenizer, quotes_are_punctuation)
{
    expect("\xE2\x80\x9C" "Bonjour\xE2\x80\x9D", "\xE2\x80\x9C", "bonjour",
           "\xE2\x80\x9D");                            /* “Bonjour” */
    expect("C\xE2\x80\x99" "est", "c", "\xE2\x80\x99", "est"); /* C’est */
    expect("\xC2\xAB" "Oui\xC2\xBB", "\xC2\xAB", "oui", "\xC2\xBB"); /* «Oui» */
    expect("\"Hi\"", "\"", "hi", "\"");
}

Test(tokenizer, symbols_and_emoji_stay)
{
    /* Emoji are So, € is Sc, + and < are Sm: not split. Skin-tone
     * modifiers (Sk) stay with their emoji. */
    expect("J'aime \xF0\x9F\x8D\x95!", "j", "'", "aime", "\xF0\x9F\x8D\x95",
           "!");
    expect("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
    expect("5\xE2\x82\xAC a+b<c", "5\xE2\x82\xAC", "a+b<c");
    expect("<unk>", "<unk>");
}

Test(tokenizer, combining_marks)
{
    /* n + U+0303 composes to ñ; q + U+0301 has no precomposed form and
     * stays two code points in one token. */
    expect("man\xCC\x83" "ana", "ma\xC3\xB1" "ana");
    expect("Q\xCC\x81", "q\xCC\x81");
    /* a lone combining mark is a token of its own */
    expect("\xCC\x81", "\xCC\x81");
}

Test(tokenizer, simple_lowercasing)
{
    /* Turkish İ (U+0130): the simple per-code-point mapping gives plain
     * "i" (not i + U+0307); I gives "i", not dotless ı. */
    expect("\xC4\xB0stanbul", "istanbul");
    expect("ISPARTA", "isparta");
    /* No final-sigma context: Σ -> σ everywhere. */
    expect("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83");
    /* ß has no simple lower/upper change; ẞ (U+1E9E) lowers to ß. */
    expect("Stra\xC3\x9F" "e \xE1\xBA\x9E", "stra\xC3\x9F" "e", "\xC3\x9F");
    expect("\xC3\x89T\xC3\x89", "\xC3\xA9t\xC3\xA9");
}

Test(tokenizer, punctuation_categories)
{
    /* Pc _, Pd - and –, Ps/Pe ( ), Po ¿ ¡ … */
    expect("a_b", "a", "_", "b");
    expect("peut-\xC3\xAAtre", "peut", "-", "\xC3\xAAtre");
    expect("1\xE2\x80\x93" "2", "1", "\xE2\x80\x93", "2");
    expect("(x)", "(", "x", ")");
    expect("\xC2\xBFQu\xC3\xA9?", "\xC2\xBF", "qu\xC3\xA9", "?");
    /* … (U+2026) is "..." under NFKC, and stays one Po without it */
    expect("Et\xE2\x80\xA6", "et", ".", ".", ".");
    expect_opts((s2s_tok_opts){0, 1, 1}, "Et\xE2\x80\xA6", "et",
                "\xE2\x80\xA6", NULL);
    expect("10:30", "10", ":", "30");
}

Test(tokenizer, options_off)
{
    s2s_tok_opts no_nfkc = {0, 1, 1};
    expect_opts(no_nfkc, "\xEF\xAC\x81n", "\xEF\xAC\x81n", NULL);
    expect_opts(no_nfkc, "e\xCC\x81t\xC3\xA9", "e\xCC\x81t\xC3\xA9", NULL);
    expect_opts(no_nfkc, "\xEF\xBC\xA1", "\xEF\xBD\x81", NULL); /* Ａ -> ａ */

    s2s_tok_opts no_lower = {1, 0, 1};
    expect_opts(no_lower, "J'ai Faim !", "J", "'", "ai", "Faim", "!", NULL);
    expect_opts(no_lower, "\xC3\x89T\xC3\x89", "\xC3\x89T\xC3\x89", NULL);

    s2s_tok_opts no_punct = {1, 1, 0};
    expect_opts(no_punct, "J'ai faim !", "j'ai", "faim", "!", NULL);
    expect_opts(no_punct, "\xE2\x80\x9C" "\xC3\x89t\xC3\xA9\xE2\x80\x9D",
                "\xE2\x80\x9C\xC3\xA9t\xC3\xA9\xE2\x80\x9D", NULL);

    s2s_tok_opts none = {0, 0, 0};
    expect_opts(none, " J'ai\tFAIM\xC2\xA0!", "J'ai", "FAIM", "!", NULL);
}

/* Both paths must agree: every ASCII byte in context, once through the
 * fast path and once forced through utf8proc by a non-ASCII token. */
Test(tokenizer, ascii_fast_path_matches_unicode_path)
{
    s2s_tok_opts opts[4] = {{1, 1, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 0}};
    s2s_tokens a, u;
    s2s_tokens_init(&a);
    s2s_tokens_init(&u);
    for (int oi = 0; oi < 4; oi++) {
        for (int c = 1; c < 128; c++) {
            char s[16], s2[24];
            snprintf(s, sizeof s, "xA%cBy", c);
            snprintf(s2, sizeof s2, "%s \xC3\xA9", s);
            cr_assert_eq(s2s_tokenize(&opts[oi], s, 5, &a, NULL), 0);
            cr_assert_eq(s2s_tokenize(&opts[oi], s2, strlen(s2), &u, NULL), 0);
            cr_assert_eq(u.n, a.n + 1, "byte %d: %zu vs %zu tokens", c, u.n,
                         a.n + 1);
            for (size_t k = 0; k < a.n; k++)
                cr_assert_str_eq(s2s_tokens_get(&a, k),
                                 s2s_tokens_get(&u, k), "byte %d", c);
            /* and the class is utf8proc's */
            size_t want = s2s_is_space_cp(c) ? 2
                        : (opts[oi].split_punct && s2s_is_punct_cp(c)) ? 3
                        : 1;
            cr_assert_eq(a.n, want, "byte %d (%s): %zu tokens", c,
                         utf8proc_category_string(c), a.n);
        }
    }
    s2s_tokens_free(&a);
    s2s_tokens_free(&u);
}

Test(tokenizer, punct_class_is_the_p_categories)
{
    /* Spot checks against the Unicode categories. */
    cr_assert(s2s_is_punct_cp('!'));
    cr_assert(s2s_is_punct_cp('_'));      /* Pc */
    cr_assert(s2s_is_punct_cp(0x2014));   /* — Pd */
    cr_assert(s2s_is_punct_cp(0x00AB));   /* « Pi */
    cr_assert(s2s_is_punct_cp(0x2019));   /* ’ Pf */
    cr_assert(s2s_is_punct_cp(0x3002));   /* 。 Po */
    cr_assert(!s2s_is_punct_cp('$'));     /* Sc */
    cr_assert(!s2s_is_punct_cp('+'));     /* Sm */
    cr_assert(!s2s_is_punct_cp('`'));     /* Sk */
    cr_assert(!s2s_is_punct_cp(0x1F600)); /* So */
    cr_assert(s2s_is_space_cp(0x00A0));
    cr_assert(s2s_is_space_cp(0x202F));
    cr_assert(s2s_is_space_cp(0x3000));
    cr_assert(s2s_is_space_cp(0x0085));
    cr_assert(!s2s_is_space_cp(0x200B));
    cr_assert(!s2s_is_space_cp(0xFEFF));
}

Test(tokenizer, invalid_utf8_offsets)
{
    expect_error("abc\xFF", 4, "invalid UTF-8 at byte offset 3");
    expect_error("\xC3\xA9\xC0\xAF", 4, "invalid UTF-8 at byte offset 2"); /* overlong / */
    expect_error("ab\xE2\x82", 4, "invalid UTF-8 at byte offset 2");       /* truncated € */
    expect_error("\xED\xA0\x80", 3, "invalid UTF-8 at byte offset 0");     /* surrogate */
    expect_error("x\xF4\x90\x80\x80", 5, "invalid UTF-8 at byte offset 1"); /* > U+10FFFF */
    expect_error("xy\x80", 3, "invalid UTF-8 at byte offset 2");           /* lone continuation */
    expect_error("\xE0\x80\xAF", 3, "invalid UTF-8 at byte offset 0");     /* overlong 3-byte */
    expect_error("ab\0c", 4, "NUL byte at byte offset 2");
    expect_error("\xC3\xA9\0", 3, "NUL byte at byte offset 2");
}

Test(tokenizer, utf8_check)
{
    cr_assert_eq(s2s_utf8_check("", 0), 0);
    cr_assert_eq(s2s_utf8_check("\xF0\x9F\x98\x80", 4), 4);
    cr_assert_eq(s2s_utf8_check("\xF4\x8F\xBF\xBF", 4), 4); /* U+10FFFF */
    cr_assert_eq(s2s_utf8_check("\xEF\xBF\xBF", 3), 3);     /* U+FFFF */
    cr_assert_eq(s2s_utf8_check("a\xF0\x9F\x98", 4), 1);
    cr_assert_eq(s2s_utf8_check("\xF5\x80\x80\x80", 4), 0);
}

Test(tokenizer, input_need_not_be_terminated)
{
    /* Only len bytes are read: "abc d" cut at 3. ASan checks no over-read. */
    char *s = malloc(5);
    memcpy(s, "Ab\xC3\xA9!", 5);
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    cr_assert_eq(s2s_tokenize(&o, s, 5, &t, NULL), 0);
    cr_assert_eq(t.n, 2);
    cr_assert_str_eq(s2s_tokens_get(&t, 0), "ab\xC3\xA9");
    cr_assert_eq(s2s_tokenize(&o, s, 2, &t, NULL), 0);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(s2s_tokens_get(&t, 0), "ab");
    free(s);
    s2s_tokens_free(&t);
}

Test(tokenizer, reuse_keeps_buffers)
{
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    char big[4000];
    for (int i = 0; i < 1000; i++)
        memcpy(big + 4 * i, "ab, ", 4);
    cr_assert_eq(s2s_tokenize(&o, big, sizeof big, &t, NULL), 0);
    cr_assert_eq(t.n, 2000);
    char *buf = t.buf;
    uint32_t *off = t.off;
    cr_assert_eq(s2s_tokenize(&o, "Qu'est-ce ?", 11, &t, NULL), 0);
    cr_assert_eq(t.n, 6);
    cr_assert_eq(t.buf, buf, "a smaller input must not reallocate");
    cr_assert_eq(t.off, off);
    cr_assert_str_eq(s2s_tokens_get(&t, 5), "?");
    /* an error leaves an empty list */
    cr_assert_eq(s2s_tokenize(&o, "a\xFF", 2, &t, NULL), -1);
    cr_assert_eq(t.n, 0);
    s2s_tokens_free(&t);
}

Test(tokenizer, join_and_ptrs)
{
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    const char *s = "Qu\xE2\x80\x99" "est-ce que c'est\xC2\xA0?";
    cr_assert_eq(s2s_tokenize(&o, s, strlen(s), &t, NULL), 0);
    char *j = s2s_tokens_join(&t);
    cr_assert_str_eq(j, "qu \xE2\x80\x99 est - ce que c ' est ?");
    free(j);
    const char *const *p = s2s_tokens_ptrs(&t);
    cr_assert_str_eq(p[0], "qu");
    cr_assert_str_eq(p[t.n - 1], "?");
    s2s_tokens_free(&t);
    s2s_tokens_free(&t); /* freeing twice is harmless */
}

/* A byte-order mark inside a line (files joined together) is dropped,
 * never part of a token. */
Test(tokenizer, bom_inside_a_line)
{
    expect("run\xef\xbb\xbf", "run");
    expect("\xef\xbb\xbfGo \xef\xbb\xbfru\xef\xbb\xbfn !", "go", "run", "!");
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    o.nfkc = 0;
    expect_opts(o, "a\xef\xbb\xbf b", "a", "b", NULL);
}
