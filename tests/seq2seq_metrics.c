/* tests/seq2seq_metrics.c — BLEU-4, chrF and perplexity on cases computed
 * by hand (the arithmetic is in the comments), the n-gram matcher against a
 * brute-force count, and BLEU on a fixed pseudo-random corpus against the
 * value NLTK's corpus_bleu gives for it (scripts/bleu_crosscheck.py; chrF
 * there against the script's own Python statement of sacreBLEU's CHRF).
 *
 * Set S2S_CROSSCHECK_DIR=DIR to have the last test write that corpus to
 * DIR/hyp.txt and DIR/ref.txt and print our score, for the script.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seq2seq/metrics.h"

/* Splits a copy of `s` on spaces into at most 64 tokens. */
typedef struct {
    char buf[512];
    const char *tok[64];
    size_t n;
} toks;

static void split(toks *t, const char *s)
{
    snprintf(t->buf, sizeof t->buf, "%s", s);
    t->n = 0;
    for (char *p = strtok(t->buf, " "); p; p = strtok(NULL, " "))
        t->tok[t->n++] = p;
}

static void bleu_add(s2s_bleu_stats *b, const char *hyp, const char *ref)
{
    toks h, r;
    split(&h, hyp);
    split(&r, ref);
    s2s_bleu_add(b, h.tok, h.n, r.tok, r.n);
}

static double bleu1(const char *hyp, const char *ref)
{
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    bleu_add(&b, hyp, ref);
    return s2s_bleu_score(&b);
}

static double chrf1(const char *hyp, const char *ref)
{
    s2s_chrf_stats c;
    s2s_chrf_init(&c);
    s2s_chrf_add_text(&c, hyp, ref);
    return s2s_chrf_score(&c);
}

#define EPS 1e-9

/* ------------------------------------------------------------------------
 * BLEU
 * ------------------------------------------------------------------------ */

Test(bleu, perfect_match_is_100)
{
    /* 6 tokens: p1..p4 = 6/6, 5/5, 4/4, 3/3; c = r so BP = exp(0) = 1. */
    cr_assert_float_eq(bleu1("the cat sat on the mat", "the cat sat on the mat"),
                       100.0, EPS);
    /* Tokens are compared by content, not by pointer. */
    char a[] = "x", b[] = "y", a2[] = "x", b2[] = "y";
    const char *h[] = {a, b, a, b}, *r[] = {a2, b2, a2, b2};
    s2s_bleu_stats s;
    s2s_bleu_init(&s);
    s2s_bleu_add(&s, h, 4, r, 4);
    cr_assert_float_eq(s2s_bleu_score(&s), 100.0, EPS);
}

Test(bleu, brevity_penalty)
{
    /* Every hypothesis n-gram is in the reference: p1..p4 = 1. c = 6,
     * r = 7: BP = exp(1 - 7/6) = exp(-1/6) = 0.846481724890614. */
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    bleu_add(&b, "the cat sat on the mat", "the cat sat on the mat today");
    cr_assert_float_eq(s2s_bleu_brevity(&b), exp(-1.0 / 6.0), EPS);
    cr_assert_float_eq(s2s_bleu_score(&b), 84.6481724890614, 1e-9);
    char line[256];
    s2s_bleu_format(&b, line, sizeof line);
    cr_assert_str_eq(line, "BLEU = 84.65 100.0/100.0/100.0/100.0 (BP = 0.846 "
                           "ratio = 0.857 hyp_len = 6 ref_len = 7)");
    /* A longer hypothesis is not rewarded: c = 7 > r = 6 gives BP = 1. */
    s2s_bleu_init(&b);
    bleu_add(&b, "the cat sat on the mat today", "the cat sat on the mat");
    cr_assert_float_eq(s2s_bleu_brevity(&b), 1.0, EPS);
}

Test(bleu, clipping)
{
    /* "the the the" vs "the cat": "the" occurs once in the reference, so
     * the three hypothesis "the" count once: p1 = 1/3, not 3/3. Bigrams
     * "the the" x2 match nothing: p2 = 0/2, so BLEU = 0. */
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    bleu_add(&b, "the the the", "the cat");
    cr_assert_float_eq(s2s_bleu_precision(&b, 1), 1.0 / 3.0, EPS);
    cr_assert_float_eq(s2s_bleu_precision(&b, 2), 0.0, EPS);
    cr_assert_eq(b.total[1], 2);
    cr_assert_eq(b.total[2], 1);
    cr_assert_eq(b.total[3], 0);
    cr_assert_float_eq(s2s_bleu_score(&b), 0.0, EPS);

    /* A non-zero case with clipping. hyp (7) "the the cat sat on the mat",
     * ref (6) "the cat sat on the mat":
     *   1-grams: the x3 (ref has 2 -> 2) + cat sat on mat = 6 of 7
     *   2-grams: all but "the the"                          = 5 of 6
     *   3-grams: all but "the the cat"                      = 4 of 5
     *   4-grams: all but "the the cat sat"                  = 3 of 4
     *   c = 7 > r = 6: BP = 1
     *   BLEU = 100 (6/7 5/6 4/5 3/4)^(1/4) = 100 (3/7)^(1/4) = 80.9106711570 */
    s2s_bleu_init(&b);
    bleu_add(&b, "the the cat sat on the mat", "the cat sat on the mat");
    cr_assert_float_eq(s2s_bleu_precision(&b, 1), 6.0 / 7.0, EPS);
    cr_assert_float_eq(s2s_bleu_precision(&b, 4), 3.0 / 4.0, EPS);
    cr_assert_float_eq(s2s_bleu_score(&b), 100.0 * pow(3.0 / 7.0, 0.25), EPS);
    cr_assert_float_eq(s2s_bleu_score(&b), 80.91067115702212, 1e-9);
}

Test(bleu, zero_four_gram_precision_gives_zero)
{
    /* hyp "a b c d f g", ref "a b c e f g":
     *   1-grams 5/6; 2-grams a-b b-c f-g = 3/5; 3-grams a-b-c = 1/4;
     *   4-grams a-b-c-d, b-c-d-f, c-d-f-g: 0/3 -> BLEU 0 (no smoothing). */
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    bleu_add(&b, "a b c d f g", "a b c e f g");
    cr_assert_float_eq(s2s_bleu_precision(&b, 1), 5.0 / 6.0, EPS);
    cr_assert_float_eq(s2s_bleu_precision(&b, 2), 3.0 / 5.0, EPS);
    cr_assert_float_eq(s2s_bleu_precision(&b, 3), 1.0 / 4.0, EPS);
    cr_assert_float_eq(s2s_bleu_precision(&b, 4), 0.0, EPS);
    cr_assert_eq(s2s_bleu_score(&b), 0.0);
    /* A 3-token perfect match has no 4-grams at all: also 0. */
    cr_assert_eq(bleu1("a b c", "a b c"), 0.0);
    /* Nothing at all, and an empty hypothesis. */
    s2s_bleu_init(&b);
    cr_assert_eq(s2s_bleu_score(&b), 0.0);
    cr_assert_eq(s2s_bleu_brevity(&b), 0.0);
    s2s_bleu_add(&b, NULL, 0, (const char *[]){"a"}, 1);
    cr_assert_eq(s2s_bleu_score(&b), 0.0);
    cr_assert_eq(b.ref_len, 1);
}

Test(bleu, corpus_level_is_not_the_mean_of_sentences)
{
    /* Pair 1: "a b c d" = "a b c d": sentence BLEU 100.
     * Pair 2: "s t u v w x" vs "e f g h i j": sentence BLEU 0.
     * Mean of sentences = 50. Corpus counts:
     *   p1 = (4+0)/(4+6) = 4/10, p2 = 3/8, p3 = 2/6, p4 = 1/4
     *   c = r = 10: BP = 1
     *   BLEU = 100 (4/10 3/8 2/6 1/4)^(1/4) = 100 (24/1920)^(1/4)
     *        = 100 (1/80)^(1/4) = 33.4370152488 */
    s2s_bleu_stats all, one, two;
    s2s_bleu_init(&all);
    s2s_bleu_init(&one);
    s2s_bleu_init(&two);
    bleu_add(&all, "a b c d", "a b c d");
    bleu_add(&all, "s t u v w x", "e f g h i j");
    bleu_add(&one, "a b c d", "a b c d");
    bleu_add(&two, "s t u v w x", "e f g h i j");
    double mean = (s2s_bleu_score(&one) + s2s_bleu_score(&two)) / 2;
    cr_assert_float_eq(mean, 50.0, EPS);
    cr_assert_float_eq(s2s_bleu_score(&all), 100.0 * pow(1.0 / 80.0, 0.25), EPS);
    cr_assert_float_eq(s2s_bleu_score(&all), 33.437015248821, 1e-9);
    cr_assert_eq(all.sentences, 2);
    /* Merging per-thread accumulators gives the same counts. */
    s2s_bleu_merge(&one, &two);
    cr_assert(memcmp(&one, &all, sizeof all) == 0);
}

Test(bleu, ids_and_tokens_agree)
{
    /* The same pair as in `clipping`, with the -> 7, cat -> 3, ... */
    uint32_t h[] = {7, 7, 3, 4, 5, 7, 6}, r[] = {7, 3, 4, 5, 7, 6};
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    s2s_bleu_add_ids(&b, h, 7, r, 6);
    cr_assert_float_eq(s2s_bleu_score(&b), 100.0 * pow(3.0 / 7.0, 0.25), EPS);
    /* Id 0 and the largest id are ordinary tokens. */
    uint32_t z[] = {0, 0, UINT32_MAX, 0, 0};
    s2s_bleu_init(&b);
    s2s_bleu_add_ids(&b, z, 5, z, 5);
    cr_assert_float_eq(s2s_bleu_score(&b), 100.0, EPS);
}

/* Brute-force clipped matches of order n, for comparison. */
static uint64_t brute_match(const uint32_t *h, size_t nh, const uint32_t *r,
                            size_t nr, size_t n)
{
    uint64_t m = 0;
    if (nh < n)
        return 0;
    for (size_t i = 0; i + n <= nh; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = memcmp(h + k, h + i, n * sizeof *h) == 0;
        if (seen)
            continue;
        uint64_t ch = 0, cr = 0;
        for (size_t k = 0; k + n <= nh; k++)
            ch += memcmp(h + k, h + i, n * sizeof *h) == 0;
        for (size_t k = 0; k + n <= nr; k++)
            cr += memcmp(r + k, h + i, n * sizeof *h) == 0;
        m += ch < cr ? ch : cr;
    }
    return m;
}

static uint64_t sm_state;
static uint64_t splitmix(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Test(bleu, matcher_agrees_with_brute_force)
{
    sm_state = 42;
    uint32_t h[40], r[40];
    for (int trial = 0; trial < 300; trial++) {
        size_t nh = splitmix() % 40, nr = splitmix() % 40;
        uint32_t V = 1 + (uint32_t)(splitmix() % 4); /* tiny: many repeats */
        for (size_t i = 0; i < nh; i++)
            h[i] = (uint32_t)(splitmix() % V);
        for (size_t i = 0; i < nr; i++)
            r[i] = (uint32_t)(splitmix() % V);
        s2s_bleu_stats b;
        s2s_bleu_init(&b);
        s2s_bleu_add_ids(&b, h, nh, r, nr);
        for (size_t n = 1; n <= 4; n++) {
            cr_assert_eq(b.match[n - 1], brute_match(h, nh, r, nr, n),
                         "trial %d order %zu", trial, n);
            cr_assert_eq(b.total[n - 1], nh >= n ? nh - n + 1 : 0);
        }
    }
}

/* ------------------------------------------------------------------------
 * chrF
 * ------------------------------------------------------------------------ */

Test(chrf, hand_case)
{
    /* hyp "ab", ref "abc":
     *   1-grams: hyp a b (2), ref a b c (3), match 2
     *   2-grams: hyp ab (1), ref ab bc (2), match 1
     *   3-grams: hyp none -> order not counted; 4..6: none on either side
     *   P = (2/2 + 1/1)/2 = 1, R = (2/3 + 1/2)/2 = 7/12
     *   chrF = 100 * 5 P R / (4 P + R) = 100 * (35/12)/(55/12) = 700/11 */
    cr_assert_float_eq(chrf1("ab", "abc"), 700.0 / 11.0, EPS);

    /* White space goes, code points count once, matches are clipped:
     * hyp "é é" -> "éé", ref "é a" -> "éa":
     *   1-grams: hyp é x2, ref é a, match 1 (clipped): 1/2 and 1/2
     *   2-grams: hyp éé, ref éa, match 0: 0/1 and 0/1 (still counted)
     *   P = R = (1/2 + 0)/2 = 1/4; chrF = 100 * 5 (1/16)/(5/4) = 25 */
    cr_assert_float_eq(chrf1("\xc3\xa9 \xc3\xa9", "\xc3\xa9 a"), 25.0, EPS);
}

Test(chrf, identical_is_100)
{
    cr_assert_float_eq(chrf1("Le chat est là.", "Le chat est là."), 100.0, EPS);
    /* Only white space differs (tab, no-break space, ideographic space). */
    cr_assert_float_eq(chrf1("le chat", "le\t\xc2\xa0 chat\xe3\x80\x80"), 100.0, EPS);
    cr_assert_float_eq(chrf1("x", "x"), 100.0, EPS);
    /* Bytes that are not UTF-8 match only themselves. */
    cr_assert_float_eq(chrf1("\xff", "\xff"), 100.0, EPS);
    cr_assert_float_eq(chrf1("\xff", "\xfe"), 0.0, EPS);
    cr_assert_float_eq(chrf1("\xe9", "\xc3\xa9"), 0.0, EPS);
    /* Nothing to compare. */
    cr_assert_float_eq(chrf1("", ""), 0.0, EPS);
    cr_assert_float_eq(chrf1("abc", "   "), 0.0, EPS);
}

Test(chrf, corpus_level_and_tokens)
{
    /* The two pairs of hand_case together; counts are summed:
     *   1-grams: hyp 2+2 = 4, ref 3+2 = 5, match 2+1 = 3
     *   2-grams: hyp 1+1 = 2, ref 2+1 = 3, match 1+0 = 1
     *   3-grams: hyp 0 -> not counted
     *   P = (3/4 + 1/2)/2 = 5/8, R = (3/5 + 1/3)/2 = 7/15
     *   chrF = 100 * 5 (5/8)(7/15) / (4 (5/8) + 7/15) = 100 * 175/356
     * while the mean of the sentence scores is (700/11 + 25)/2. */
    s2s_chrf_stats c;
    s2s_chrf_init(&c);
    s2s_chrf_add_text(&c, "ab", "abc");
    s2s_chrf_add_text(&c, "\xc3\xa9 \xc3\xa9", "\xc3\xa9 a");
    cr_assert_float_eq(s2s_chrf_score(&c), 17500.0 / 356.0, EPS);
    cr_assert_eq(c.sentences, 2);

    /* Token sequences give what the joined text gives. */
    s2s_chrf_stats t;
    s2s_chrf_init(&t);
    const char *h1[] = {"ab"}, *r1[] = {"a", "bc"};
    const char *h2[] = {"\xc3\xa9", "\xc3\xa9"}, *r2[] = {"\xc3\xa9", "a"};
    s2s_chrf_add(&t, h1, 1, r1, 2);
    s2s_chrf_add(&t, h2, 2, r2, 2);
    cr_assert(memcmp(&c, &t, sizeof c) == 0);

    s2s_chrf_stats one, two;
    s2s_chrf_init(&one);
    s2s_chrf_init(&two);
    s2s_chrf_add_text(&one, "ab", "abc");
    s2s_chrf_add_text(&two, "\xc3\xa9 \xc3\xa9", "\xc3\xa9 a");
    s2s_chrf_merge(&one, &two);
    cr_assert(memcmp(&one, &c, sizeof c) == 0);
}

Test(chrf, six_orders)
{
    /* "abcdefg" vs "abcdefh": order n has 8-n n-grams on each side and
     * all but the last match: (7-n)/(8-n). P = R = mean of 6/7, 5/6, 4/5,
     * 3/4, 2/3, 1/2, and with P = R chrF = P. */
    double p = (6.0 / 7 + 5.0 / 6 + 4.0 / 5 + 3.0 / 4 + 2.0 / 3 + 1.0 / 2) / 6;
    cr_assert_float_eq(chrf1("abcdefg", "abcdefh"), 100.0 * p, EPS);
}

/* ------------------------------------------------------------------------
 * Perplexity
 * ------------------------------------------------------------------------ */

Test(perplexity, exp_of_mean_nll)
{
    /* 10 tokens each at probability 1/7: NLL = 10 ln 7, perplexity 7. */
    cr_assert_float_eq(s2s_perplexity(10.0 * log(7.0), 10), 7.0, 1e-12);
    cr_assert_float_eq(s2s_perplexity(0.0, 5), 1.0, 0.0);
    cr_assert(isnan(s2s_perplexity(1.0, 0)));
    cr_assert(isinf(s2s_perplexity(1e6, 1)));
}

/* ------------------------------------------------------------------------
 * Cross-check corpus: 300 pseudo-random pairs over 50 words, the
 * hypothesis an edited copy of the reference (so n-grams of every order
 * match), every hypothesis at least 4 tokens long (NLTK counts a
 * hypothesis shorter than n as one n-gram of order n; we count none).
 * ------------------------------------------------------------------------ */

#define XC_LINES 300

static size_t xc_sentence(uint32_t *ref, uint32_t *hyp, size_t *nh)
{
    /* Skewed word choice (min of two draws) so frequent words repeat. */
    size_t nr = 4 + splitmix() % 17;
    for (size_t i = 0; i < nr; i++) {
        uint32_t a = (uint32_t)(splitmix() % 50), b = (uint32_t)(splitmix() % 50);
        ref[i] = a < b ? a : b;
    }
    size_t n = 0;
    for (size_t i = 0; i < nr; i++) {
        uint64_t x = splitmix() % 100;
        if (x < 8) /* delete */
            continue;
        if (x < 20) /* substitute */
            hyp[n++] = (uint32_t)(splitmix() % 50);
        else
            hyp[n++] = ref[i];
        if (splitmix() % 100 < 6) /* insert */
            hyp[n++] = (uint32_t)(splitmix() % 50);
    }
    while (n < 4)
        hyp[n++] = (uint32_t)(splitmix() % 50);
    *nh = n;
    return nr;
}

static void xc_write(FILE *f, const uint32_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%sw%02u", i ? " " : "", s[i]);
    fputc('\n', f);
}

Test(bleu, agrees_with_nltk_corpus_bleu)
{
    const char *dir = getenv("S2S_CROSSCHECK_DIR");
    FILE *fh = NULL, *fr = NULL;
    if (dir && *dir) {
        char p[1024];
        snprintf(p, sizeof p, "%s/hyp.txt", dir);
        fh = fopen(p, "w");
        snprintf(p, sizeof p, "%s/ref.txt", dir);
        fr = fopen(p, "w");
        cr_assert(fh && fr, "cannot write to %s", dir);
    }
    sm_state = 2024;
    s2s_bleu_stats b;
    s2s_bleu_init(&b);
    s2s_chrf_stats c;
    s2s_chrf_init(&c);
    char words[50][8];
    const char *wp[50];
    for (int i = 0; i < 50; i++) {
        snprintf(words[i], sizeof words[i], "w%02u", (unsigned)i);
        wp[i] = words[i];
    }
    for (int line = 0; line < XC_LINES; line++) {
        uint32_t ref[32], hyp[64];
        size_t nh, nr = xc_sentence(ref, hyp, &nh);
        const char *th[64], *tr[32];
        for (size_t i = 0; i < nh; i++)
            th[i] = wp[hyp[i]];
        for (size_t i = 0; i < nr; i++)
            tr[i] = wp[ref[i]];
        s2s_bleu_add(&b, th, nh, tr, nr);
        s2s_chrf_add(&c, th, nh, tr, nr);
        if (fh) {
            xc_write(fh, hyp, nh);
            xc_write(fr, ref, nr);
        }
    }
    double ours = s2s_bleu_score(&b);
    if (fh) {
        fclose(fh);
        fclose(fr);
        char line[256];
        s2s_bleu_format(&b, line, sizeof line);
        printf("s2s: %s\ns2s: BLEU %.12f\ns2s: chrF %.12f\n", line, ours,
               s2s_chrf_score(&c));
    }
    /* NLTK 3.8 corpus_bleu(...) * 100 on these files, as printed by
     * scripts/bleu_crosscheck.py (BP 0.972 is in play: 3562 vs 3663). */
    cr_assert_float_eq(ours, 52.930606671915, 1e-9, "ours %.12f", ours);
    /* The script's --chrf (a Counter-based re-statement of sacreBLEU's
     * CHRF, not sacreBLEU itself) on the same files. */
    cr_assert_float_eq(s2s_chrf_score(&c), 73.667418033349, 1e-9, "ours %.12f",
                       s2s_chrf_score(&c));
}
