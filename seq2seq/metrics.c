/* seq2seq/metrics.c — corpus BLEU-4, chrF and perplexity (definitions in
 * seq2seq/metrics.h).
 *
 * Clipped n-gram matches are counted by packing each n-gram into a 128-bit
 * key (4 token ids of 32 bits, or 6 code points of 21 bits), sorting the
 * hypothesis and reference keys and walking both lists: for each distinct
 * n-gram, min(count in hypothesis, count in reference). O(L log L) per
 * sentence, exact (no hashing collisions).
 */
#include "seq2seq/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ------------------------------------------------------------------------
 * Clipped matching over packed n-gram keys
 * ------------------------------------------------------------------------ */

typedef struct key {
    uint64_t a, b;
} key;

static int key_cmp(const void *x, const void *y)
{
    const key *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return 0;
}

static int key_eq(key p, key q)
{
    return p.a == q.a && p.b == q.b;
}

/* Sum over distinct keys of min(count in h, count in r). Sorts both. */
static uint64_t clipped_matches(key *h, size_t nh, key *r, size_t nr)
{
    qsort(h, nh, sizeof *h, key_cmp);
    qsort(r, nr, sizeof *r, key_cmp);
    uint64_t m = 0;
    size_t i = 0, j = 0;
    while (i < nh && j < nr) {
        int c = key_cmp(&h[i], &r[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            size_t ci = 0, cj = 0;
            key k = h[i];
            while (i < nh && key_eq(h[i], k)) {
                i++;
                ci++;
            }
            while (j < nr && key_eq(r[j], k)) {
                j++;
                cj++;
            }
            m += ci < cj ? ci : cj;
        }
    }
    return m;
}

/* Number of n-grams in a sequence of length L. */
static size_t ngrams(size_t L, int n)
{
    return L >= (size_t)n ? L - (size_t)n + 1 : 0;
}

/* ------------------------------------------------------------------------
 * BLEU
 * ------------------------------------------------------------------------ */

void s2s_bleu_init(s2s_bleu_stats *b)
{
    memset(b, 0, sizeof *b);
}

/* Key of the n ids at s (n <= 4): two ids per 64-bit half. */
static key id_key(const uint32_t *s, int n)
{
    uint32_t w[4] = {0, 0, 0, 0};
    for (int k = 0; k < n; k++)
        w[k] = s[k];
    key k = {(uint64_t)w[0] << 32 | w[1], (uint64_t)w[2] << 32 | w[3]};
    return k;
}

void s2s_bleu_add_ids(s2s_bleu_stats *b, const uint32_t *hyp, size_t n_hyp,
                      const uint32_t *ref, size_t n_ref)
{
    key *kh = s2s_xmalloc((n_hyp ? n_hyp : 1) * sizeof *kh);
    key *kr = s2s_xmalloc((n_ref ? n_ref : 1) * sizeof *kr);
    for (int n = 1; n <= S2S_BLEU_N; n++) {
        size_t th = ngrams(n_hyp, n), tr = ngrams(n_ref, n);
        b->total[n - 1] += th;
        if (th == 0 || tr == 0)
            continue;
        for (size_t i = 0; i < th; i++)
            kh[i] = id_key(hyp + i, n);
        for (size_t i = 0; i < tr; i++)
            kr[i] = id_key(ref + i, n);
        b->match[n - 1] += clipped_matches(kh, th, kr, tr);
    }
    free(kh);
    free(kr);
    b->hyp_len += n_hyp;
    b->ref_len += n_ref;
    b->sentences++;
}

typedef struct tok_ref {
    const char *s;
    size_t at; /* index into the combined hyp+ref sequence */
} tok_ref;

static int tok_cmp(const void *x, const void *y)
{
    const tok_ref *p = x, *q = y;
    int c = strcmp(p->s, q->s);
    if (c)
        return c;
    return p->at < q->at ? -1 : p->at > q->at;
}

void s2s_bleu_add(s2s_bleu_stats *b, const char *const *hyp, size_t n_hyp,
                  const char *const *ref, size_t n_ref)
{
    /* Give the pair's distinct tokens ids 0, 1, ... by sorting them. */
    size_t n = n_hyp + n_ref;
    tok_ref *t = s2s_xmalloc((n ? n : 1) * sizeof *t);
    uint32_t *ids = s2s_xmalloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n_hyp; i++)
        t[i] = (tok_ref){hyp[i], i};
    for (size_t i = 0; i < n_ref; i++)
        t[n_hyp + i] = (tok_ref){ref[i], n_hyp + i};
    qsort(t, n, sizeof *t, tok_cmp);
    uint32_t id = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(t[i].s, t[i - 1].s) != 0)
            id++;
        ids[t[i].at] = id;
    }
    s2s_bleu_add_ids(b, ids, n_hyp, ids + n_hyp, n_ref);
    free(t);
    free(ids);
}

void s2s_bleu_merge(s2s_bleu_stats *into, const s2s_bleu_stats *from)
{
    for (int n = 0; n < S2S_BLEU_N; n++) {
        into->match[n] += from->match[n];
        into->total[n] += from->total[n];
    }
    into->hyp_len += from->hyp_len;
    into->ref_len += from->ref_len;
    into->sentences += from->sentences;
}

double s2s_bleu_precision(const s2s_bleu_stats *b, int n)
{
    if (n < 1 || n > S2S_BLEU_N || b->total[n - 1] == 0)
        return 0.0;
    return (double)b->match[n - 1] / (double)b->total[n - 1];
}

double s2s_bleu_brevity(const s2s_bleu_stats *b)
{
    if (b->hyp_len == 0)
        return 0.0;
    if (b->hyp_len > b->ref_len)
        return 1.0;
    return exp(1.0 - (double)b->ref_len / (double)b->hyp_len);
}

double s2s_bleu_score(const s2s_bleu_stats *b)
{
    if (b->hyp_len == 0)
        return 0.0;
    double logp = 0.0;
    for (int n = 0; n < S2S_BLEU_N; n++) {
        if (b->match[n] == 0 || b->total[n] == 0)
            return 0.0;
        logp += log((double)b->match[n]) - log((double)b->total[n]);
    }
    return 100.0 * s2s_bleu_brevity(b) * exp(logp / S2S_BLEU_N);
}

int s2s_bleu_format(const s2s_bleu_stats *b, char *buf, size_t size)
{
    double ratio = b->ref_len ? (double)b->hyp_len / (double)b->ref_len : 0.0;
    return snprintf(buf, size,
                    "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f "
                    "hyp_len = %llu ref_len = %llu)",
                    s2s_bleu_score(b), 100 * s2s_bleu_precision(b, 1),
                    100 * s2s_bleu_precision(b, 2),
                    100 * s2s_bleu_precision(b, 3),
                    100 * s2s_bleu_precision(b, 4), s2s_bleu_brevity(b), ratio,
                    (unsigned long long)b->hyp_len,
                    (unsigned long long)b->ref_len);
}

/* ------------------------------------------------------------------------
 * chrF
 * ------------------------------------------------------------------------ */

void s2s_chrf_init(s2s_chrf_stats *c)
{
    memset(c, 0, sizeof *c);
}

void s2s_chrf_free(s2s_chrf_stats *c)
{
    (void)c;
}

/* Python's str.isspace(), which is what sacreBLEU strips. */
static int is_space(uint32_t u)
{
    return (u >= 0x09 && u <= 0x0D) || (u >= 0x1C && u <= 0x20) ||
           u == 0x85 || u == 0xA0 || u == 0x1680 ||
           (u >= 0x2000 && u <= 0x200A) || u == 0x2028 || u == 0x2029 ||
           u == 0x202F || u == 0x205F || u == 0x3000;
}

/* A growable array of code points. */
typedef struct cps {
    uint32_t *u;
    size_t n, cap;
} cps;

static void cps_push(cps *a, uint32_t u)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->u = s2s_xrealloc(a->u, a->cap * sizeof *a->u);
    }
    a->u[a->n++] = u;
}

/* Appends the code points of UTF-8 text s, dropping white space. A byte
 * that does not start a valid sequence stands for itself, as a value past
 * the Unicode range (0x110000 + byte), so it can only match itself. */
static void append_utf8(cps *a, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        uint32_t u = s[0];
        int len = 1;
        if (u >= 0xC2 && u <= 0xDF && (s[1] & 0xC0) == 0x80) {
            u = (u & 0x1F) << 6 | (s[1] & 0x3F);
            len = 2;
        } else if (u >= 0xE0 && u <= 0xEF && (s[1] & 0xC0) == 0x80 &&
                   (s[2] & 0xC0) == 0x80 && !(u == 0xE0 && s[1] < 0xA0) &&
                   !(u == 0xED && s[1] > 0x9F)) {
            u = (u & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
            len = 3;
        } else if (u >= 0xF0 && u <= 0xF4 && (s[1] & 0xC0) == 0x80 &&
                   (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 &&
                   !(u == 0xF0 && s[1] < 0x90) && !(u == 0xF4 && s[1] > 0x8F)) {
            u = (u & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
                (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
            len = 4;
        } else if (u >= 0x80) {
            u = 0x110000u + u;
        }
        /* The checks above stop at a NUL (not a continuation byte), so
         * they never read past the end of the string. */
        if (!is_space(u))
            cps_push(a, u);
        s += len;
    }
}

/* Key of the n code points at s (n <= 6): three of 21 bits per half. */
static key cp_key(const uint32_t *s, int n)
{
    uint64_t w[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < n; k++)
        w[k] = s[k];
    key k = {w[0] << 42 | w[1] << 21 | w[2], w[3] << 42 | w[4] << 21 | w[5]};
    return k;
}

static void chrf_count(s2s_chrf_stats *c, const cps *h, const cps *r)
{
    key *kh = s2s_xmalloc((h->n ? h->n : 1) * sizeof *kh);
    key *kr = s2s_xmalloc((r->n ? r->n : 1) * sizeof *kr);
    for (int n = 1; n <= S2S_CHRF_N; n++) {
        size_t th = ngrams(h->n, n), tr = ngrams(r->n, n);
        c->hyp[n - 1] += th;
        c->ref[n - 1] += tr;
        if (th == 0 || tr == 0)
            continue;
        for (size_t i = 0; i < th; i++)
            kh[i] = cp_key(h->u + i, n);
        for (size_t i = 0; i < tr; i++)
            kr[i] = cp_key(r->u + i, n);
        c->match[n - 1] += clipped_matches(kh, th, kr, tr);
    }
    free(kh);
    free(kr);
    c->sentences++;
}

void s2s_chrf_add_text(s2s_chrf_stats *c, const char *hyp, const char *ref)
{
    cps h = {0}, r = {0};
    append_utf8(&h, hyp);
    append_utf8(&r, ref);
    chrf_count(c, &h, &r);
    free(h.u);
    free(r.u);
}

void s2s_chrf_add(s2s_chrf_stats *c, const char *const *hyp, size_t n_hyp,
                  const char *const *ref, size_t n_ref)
{
    cps h = {0}, r = {0};
    for (size_t i = 0; i < n_hyp; i++)
        append_utf8(&h, hyp[i]);
    for (size_t i = 0; i < n_ref; i++)
        append_utf8(&r, ref[i]);
    chrf_count(c, &h, &r);
    free(h.u);
    free(r.u);
}

void s2s_chrf_merge(s2s_chrf_stats *into, const s2s_chrf_stats *from)
{
    for (int n = 0; n < S2S_CHRF_N; n++) {
        into->hyp[n] += from->hyp[n];
        into->ref[n] += from->ref[n];
        into->match[n] += from->match[n];
    }
    into->sentences += from->sentences;
}

double s2s_chrf_score(const s2s_chrf_stats *c)
{
    double P = 0.0, R = 0.0;
    int orders = 0;
    for (int n = 0; n < S2S_CHRF_N; n++) {
        if (c->hyp[n] == 0 || c->ref[n] == 0)
            continue;
        P += (double)c->match[n] / (double)c->hyp[n];
        R += (double)c->match[n] / (double)c->ref[n];
        orders++;
    }
    if (orders == 0)
        return 0.0;
    P /= orders;
    R /= orders;
    if (P + R == 0.0)
        return 0.0;
    double b2 = S2S_CHRF_BETA * S2S_CHRF_BETA;
    return 100.0 * (1.0 + b2) * P * R / (b2 * P + R);
}

/* ------------------------------------------------------------------------
 * Perplexity
 * ------------------------------------------------------------------------ */

double s2s_perplexity(double total_nll, uint64_t tokens)
{
    if (tokens == 0)
        return NAN;
    return exp(total_nll / (double)tokens);
}
