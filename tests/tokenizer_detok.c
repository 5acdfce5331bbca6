/* tests/tokenizer_detok.c — detokenisation: each spacing rule, French
 * spacing, and round trips on real sentences (tests/data/sample.tsv and,
 * when present, the shared corpus).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/detok.h"
#include "tokenizer/tokenizer.h"
#include "corpora/tatoeba.h"

#define NNBSP "\xE2\x80\xAF"

/* detok(tokenize(s)) with the default tokenizer. */
static char *retok(const char *s, int french)
{
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    cr_assert_eq(s2s_tokenize(&o, s, strlen(s), &t, NULL), 0);
    char *d = s2s_detokenize(s2s_tokens_ptrs(&t), t.n, french);
    s2s_tokens_free(&t);
    return d;
}

static void expect_detok(const char *in, int french, const char *want)
{
    char *d = retok(in, french);
    cr_assert_str_eq(d, want, "detok(\"%s\", french=%d) = \"%s\", want \"%s\"",
                     in, french, d, want);
    free(d);
}

/* Normalised text in the detokenizer's own style comes back unchanged. */
static void round_trip(const char *s, int french)
{
    expect_detok(s, french, s);
}

Test(detok, empty)
{
    char *d = s2s_detokenize(NULL, 0, 0);
    cr_assert_str_eq(d, "");
    free(d);
}

Test(detok, apostrophes_join)
{
    expect_detok("j ' ai faim", 0, "j'ai faim");
    expect_detok("don ' t", 0, "don't");
    expect_detok("aujourd ' hui", 1, "aujourd'hui");
    expect_detok("c \xE2\x80\x99 est", 0, "c\xE2\x80\x99" "est");
    /* not between words: a quote */
    expect_detok("' oui '", 0, "'oui'");
    expect_detok("' oui ' , dit - il", 0, "'oui', dit-il");
    /* between two words ' is taken for an apostrophe, even when it was a
     * quote: "il a dit ' oui ' ." cannot be told apart from an elision */
    expect_detok("il a dit \" oui \" .", 0, "il a dit \"oui\".");
}

Test(detok, closing_and_opening)
{
    expect_detok("bon , d ' accord .", 0, "bon, d'accord.");
    expect_detok("ravi ( e ) .", 0, "ravi (e).");
    expect_detok("[ a ] { b }", 0, "[a] {b}");
    expect_detok("wait . . .", 0, "wait...");
    expect_detok("50 % off", 0, "50% off");
    expect_detok("\xC2\xBF qu\xC3\xA9 ?", 0, "\xC2\xBFqu\xC3\xA9?");
    expect_detok("\" hello , \" he said .", 0, "\"hello,\" he said.");
    expect_detok("\xE2\x80\x9C yes \xE2\x80\x9D", 0,
                 "\xE2\x80\x9Cyes\xE2\x80\x9D");
}

Test(detok, hyphens_numbers_slashes)
{
    expect_detok("peut - \xC3\xAAtre", 0, "peut-\xC3\xAAtre");
    expect_detok("est - ce que", 1, "est-ce que");
    expect_detok("et / ou", 0, "et/ou");
    expect_detok("3 . 5 and 1 , 000", 0, "3.5 and 1,000");
    expect_detok("it ' s 3 : 30 .", 0, "it's 3:30.");
    expect_detok("il est 3 : 30 .", 1, "il est 3:30.");
    /* a dash between spaces keeps them */
    expect_detok("oui \xE2\x80\x94 non", 0, "oui \xE2\x80\x94 non");
    /* a hyphen not between words is spaced */
    expect_detok("- oui", 0, "- oui");
}

Test(detok, plain_spacing)
{
    expect_detok("quoi ? !", 0, "quoi?!");
    expect_detok("il a dit : \xC2\xAB regarde . \xC2\xBB", 0,
                 "il a dit: \xC2\xABregarde.\xC2\xBB");
    expect_detok("a ; b", 0, "a; b");
}

Test(detok, french_spacing)
{
    expect_detok("j ' ai faim !", 1, "j'ai faim" NNBSP "!");
    expect_detok("quoi ? !", 1, "quoi" NNBSP "?!");
    expect_detok("a ; b : c", 1, "a" NNBSP "; b" NNBSP ": c");
    expect_detok("il a dit : \xC2\xAB regarde . \xC2\xBB", 1,
                 "il a dit" NNBSP ": \xC2\xAB" NNBSP "regarde." NNBSP "\xC2\xBB");
    expect_detok("\xC2\xAB oui ! \xC2\xBB", 1,
                 "\xC2\xAB" NNBSP "oui" NNBSP "!" NNBSP "\xC2\xBB");
    /* periods and commas take no space in either style */
    expect_detok("oui , non .", 1, "oui, non.");
}

Test(detok, round_trips_on_real_sentences)
{
    /* English, plain style */
    round_trip("i don't know what you're talking about.", 0);
    round_trip("tom's car is red.", 0);
    round_trip("\"look,\" she said.", 0);
    round_trip("it's 99.9% effective.", 0);
    round_trip("i have to be there by 7:00.", 0);
    round_trip("africa is a continent; greenland is not.", 0);
    round_trip("he leaned over her and said, \"no, i'm not lying.\"", 0);
    round_trip("can i borrow your eraser for a moment?", 0);
    /* French, French spacing */
    round_trip("j'ai faim" NNBSP "!", 1);
    round_trip("qu'est-ce que c'est" NNBSP "?", 1);
    round_trip("te rappelles-tu comment nous nous sommes rencontr\xC3\xA9"
               "es" NNBSP "?", 1);
    round_trip("elle a dit" NNBSP ": \xC2\xAB" NNBSP "regarde." NNBSP
               "\xC2\xBB", 1);
    round_trip("si tu ne petit-d\xC3\xA9jeunes pas, tu auras probablement "
               "faim.", 1);
    round_trip("j\xE2\x80\x99" "ai gagn\xC3\xA9.", 1);
}

/* tokenize(detok(tokenize(s))) == tokenize(s), both styles, for every
 * side of every line of a TSV file (at most max_lines lines). */
static size_t check_file(const char *path, size_t max_lines)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    s2s_tokens a, b;
    s2s_tokens_init(&a);
    s2s_tokens_init(&b);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while (n < max_lines && (len = getline(&line, &cap, f)) > 0) {
        n++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        const char *sides[2] = {line, tab + 1};
        for (int s = 0; s < 2; s++) {
            cr_assert_eq(s2s_tokenize(&o, sides[s], strlen(sides[s]), &a,
                                      NULL), 0);
            for (int fr = 0; fr < 2; fr++) {
                char *d = s2s_detokenize(s2s_tokens_ptrs(&a), a.n, fr);
                cr_assert_eq(s2s_tokenize(&o, d, strlen(d), &b, NULL), 0);
                cr_assert_eq(b.n, a.n, "%s:%zu: \"%s\" -> \"%s\"", path, n,
                             sides[s], d);
                for (size_t k = 0; k < a.n; k++)
                    cr_assert_str_eq(s2s_tokens_get(&a, k),
                                     s2s_tokens_get(&b, k),
                                     "%s:%zu: \"%s\" -> \"%s\"", path, n,
                                     sides[s], d);
                free(d);
            }
        }
    }
    free(line);
    fclose(f);
    s2s_tokens_free(&a);
    s2s_tokens_free(&b);
    return n;
}

Test(detok, retokenizes_to_the_same_tokens_sample)
{
    cr_assert_eq(check_file("tests/data/sample.tsv", 1000), 55,
                 "tests/data/sample.tsv missing or short (run from the "
                 "repository root)");
}

Test(detok, retokenizes_to_the_same_tokens_corpus)
{
    const char *path = s2s_tatoeba_path();
    FILE *f = fopen(path, "rb");
    if (!f)
        cr_skip_test("%s not found: %s", path, S2S_TATOEBA_ABOUT);
    fclose(f);
    cr_assert_eq(check_file(path, 20000), 20000);
}
