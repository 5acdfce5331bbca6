/* seq2seq/shortlist.c — the lexical shortlist (see shortlist.h).
 *
 * Co-occurrence is counted over sentence pairs, each token once per side:
 * Dice(s, t) = 2 c(s, t) / (c(s) + c(t)), c the number of pairs holding
 * the token(s). Dice rather than P(t | s) so that tokens frequent
 * everywhere (".", "the") do not fill every source token's list: those
 * come in through the frequent list. The pairs (s, t) are sorted, in
 * chunks of source ids small enough to hold at most pairs_max of them, so
 * a large corpus costs passes, not memory; a source id with more pairs
 * than that alone (".", in a large corpus) is counted into a row of V_tgt
 * counters instead. Out of memory aborts, as everywhere in s2s.
 */
#include "seq2seq/shortlist.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/vocab.h"

#define NONE UINT32_MAX
#define MAGIC 0x3158454cu /* "LEX1" little-endian */
static size_t pairs_max = (size_t)1 << 24; /* s2s_shortlist_pairs_max */

void s2s_shortlist_pairs_max(size_t n) { pairs_max = n ? n : (size_t)1 << 24; }

struct s2s_shortlist {
    int V_src, V_tgt, n_freq, per;
    uint32_t *freq; /* n_freq target ids, most frequent first */
    uint32_t *best; /* V_src x per target ids, best first, NONE past the end */
};

void s2s_shortlist_free(s2s_shortlist *s)
{
    if (!s) return;
    free(s->freq);
    free(s->best);
    free(s);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The distinct ids >= S2S_NUM_SPECIALS of ids[0..n) into u (sorted). */
static int distinct(const uint32_t *ids, uint32_t n, uint32_t *u)
{
    int m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] >= S2S_NUM_SPECIALS) u[m++] = ids[i];
    qsort(u, (size_t)m, sizeof *u, cmp_u32);
    int k = 0;
    for (int i = 0; i < m; i++)
        if (k == 0 || u[i] != u[k - 1]) u[k++] = u[i];
    return k;
}

typedef struct { double score; uint32_t t; } scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

/* Counts of id over the split's sentences into n[]: once per sentence
 * (`once`) or every occurrence. */
static void count(const s2s_split *sp, int target, int once, uint32_t *u,
                  uint32_t *n)
{
    for (size_t k = 0; k < sp->n; k++) {
        const uint32_t *ids = target ? s2s_split_tgt(sp, k) : s2s_split_src(sp, k);
        uint32_t len = target ? sp->tgt_len[k] : sp->src_len[k];
        if (once) {
            int m = distinct(ids, len, u);
            for (int i = 0; i < m; i++) n[u[i]]++;
        } else {
            for (uint32_t i = 0; i < len; i++) n[ids[i]]++;
        }
    }
}

/* Source id src's best `per` of the nc candidates (sorted here). */
static void keep_best(s2s_shortlist *s, uint32_t src, scored *cand, int nc)
{
    qsort(cand, (size_t)nc, sizeof *cand, cmp_scored);
    for (int j = 0; j < nc && j < s->per; j++) s->best[(size_t)src * s->per + j] = cand[j].t;
}

/* The best targets of one source id from a row of counters. */
static void rank_dense(s2s_shortlist *s, const s2s_split *sp, uint32_t src,
                       const uint32_t *cs, const uint32_t *ct, uint32_t *us,
                       uint32_t *ut)
{
    uint32_t *co = s2s_xcalloc((size_t)s->V_tgt + 1, sizeof *co);
    scored *cand = s2s_xmalloc(((size_t)s->V_tgt + 1) * sizeof *cand);
    for (size_t k = 0; k < sp->n; k++) {
        int ms = distinct(s2s_split_src(sp, k), sp->src_len[k], us), has = 0;
        for (int i = 0; i < ms && !has; i++) has = us[i] == src;
        if (!has) continue;
        int mt = distinct(s2s_split_tgt(sp, k), sp->tgt_len[k], ut);
        for (int j = 0; j < mt; j++) co[ut[j]]++;
    }
    int nc = 0;
    for (int t = 0; t < s->V_tgt; t++)
        if (co[t]) cand[nc++] = (scored){2.0 * co[t] / ((double)cs[src] + ct[t]), (uint32_t)t};
    keep_best(s, src, cand, nc);
    free(co);
    free(cand);
}

/* The best `per` targets of each source id in [s0, s1). */
static void rank_chunk(s2s_shortlist *s, const s2s_split *sp, uint32_t s0,
                       uint32_t s1, size_t npairs, const uint32_t *cs,
                       const uint32_t *ct, uint32_t *us, uint32_t *ut)
{
    uint64_t *pairs = s2s_xmalloc((npairs + 1) * sizeof *pairs);
    scored *cand = s2s_xmalloc(((size_t)s->V_tgt + 1) * sizeof *cand);
    size_t np = 0;
    for (size_t k = 0; k < sp->n; k++) {
        int ms = distinct(s2s_split_src(sp, k), sp->src_len[k], us);
        int mt = -1;
        for (int i = 0; i < ms; i++) {
            if (us[i] < s0 || us[i] >= s1) continue;
            if (mt < 0) mt = distinct(s2s_split_tgt(sp, k), sp->tgt_len[k], ut);
            for (int j = 0; j < mt; j++) pairs[np++] = (uint64_t)us[i] << 32 | ut[j];
        }
    }
    qsort(pairs, np, sizeof *pairs, cmp_u64);
    for (size_t i = 0; i < np;) {
        uint32_t src = (uint32_t)(pairs[i] >> 32);
        int nc = 0;
        while (i < np && (uint32_t)(pairs[i] >> 32) == src) {
            size_t j = i;
            while (j < np && pairs[j] == pairs[i]) j++;
            uint32_t t = (uint32_t)pairs[i];
            cand[nc++] = (scored){2.0 * (double)(j - i) / ((double)cs[src] + ct[t]), t};
            i = j;
        }
        keep_best(s, src, cand, nc);
    }
    free(pairs);
    free(cand);
}

s2s_shortlist *s2s_shortlist_build(const s2s_split *sp, int V_src, int V_tgt)
{
    s2s_shortlist *s = s2s_xcalloc(1, sizeof *s);
    s->V_src = V_src;
    s->V_tgt = V_tgt;
    s->per = S2S_SHORTLIST_PER_WORD_MAX;
    uint32_t maxlen = 1;
    for (size_t k = 0; k < sp->n; k++) {
        if (sp->src_len[k] > maxlen) maxlen = sp->src_len[k];
        if (sp->tgt_len[k] > maxlen) maxlen = sp->tgt_len[k];
    }
    uint32_t *us = s2s_xmalloc((size_t)maxlen * sizeof *us);
    uint32_t *ut = s2s_xmalloc((size_t)maxlen * sizeof *ut);
    uint32_t *cs = s2s_xcalloc((size_t)V_src + 1, sizeof *cs);
    uint32_t *ct = s2s_xcalloc((size_t)V_tgt + 1, sizeof *ct);
    uint32_t *tok = s2s_xcalloc((size_t)V_tgt + 1, sizeof *tok);
    size_t *npairs = s2s_xcalloc((size_t)V_src + 1, sizeof *npairs);
    s->best = s2s_xmalloc(((size_t)V_src * s->per + 1) * sizeof *s->best);
    s->freq = s2s_xmalloc(((size_t)V_tgt + 1) * sizeof *s->freq);
    count(sp, 0, 1, us, cs);
    count(sp, 1, 1, ut, ct);
    count(sp, 1, 0, ut, tok);
    /* the frequent list: by occurrences, then by id */
    scored *byfreq = s2s_xmalloc(((size_t)V_tgt + 1) * sizeof *byfreq);
    int nf = 0;
    for (int t = S2S_NUM_SPECIALS; t < V_tgt; t++)
        if (tok[t]) byfreq[nf++] = (scored){(double)tok[t], (uint32_t)t};
    qsort(byfreq, (size_t)nf, sizeof *byfreq, cmp_scored);
    s->n_freq = nf < S2S_SHORTLIST_FREQUENT_MAX ? nf : S2S_SHORTLIST_FREQUENT_MAX;
    for (int i = 0; i < s->n_freq; i++) s->freq[i] = byfreq[i].t;
    free(byfreq);
    /* pairs per source id, then chunks of source ids of at most pairs_max */
    for (size_t k = 0; k < sp->n; k++) {
        int ms = distinct(s2s_split_src(sp, k), sp->src_len[k], us);
        int mt = distinct(s2s_split_tgt(sp, k), sp->tgt_len[k], ut);
        for (int i = 0; i < ms; i++) npairs[us[i]] += (size_t)mt;
    }
    for (size_t i = 0; i < (size_t)V_src * s->per; i++) s->best[i] = NONE;
    for (uint32_t s0 = 0, s1; s0 < (uint32_t)V_src; s0 = s1) {
        size_t n = 0;
        for (s1 = s0; s1 < (uint32_t)V_src && (n == 0 || n + npairs[s1] <= pairs_max); s1++)
            n += npairs[s1];
        if (n > pairs_max) { /* one source id alone over the limit */
            for (uint32_t x = s0; x < s1; x++)
                if (npairs[x]) rank_dense(s, sp, x, cs, ct, us, ut);
        } else if (n) {
            rank_chunk(s, sp, s0, s1, n, cs, ct, us, ut);
        }
    }
    free(us); free(ut); free(cs); free(ct); free(tok); free(npairs);
    return s;
}

/* ------------------------------------------------------------ bytes */

static void put32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void *s2s_shortlist_bytes(const s2s_shortlist *s, size_t *len)
{
    size_t n = 5 + (size_t)s->n_freq + (size_t)s->V_src * s->per;
    unsigned char *b = s2s_xmalloc(4 * n), *p = b;
    uint32_t head[5] = {MAGIC, (uint32_t)s->V_src, (uint32_t)s->V_tgt,
                        (uint32_t)s->n_freq, (uint32_t)s->per};
    for (int i = 0; i < 5; i++, p += 4) put32(p, head[i]);
    for (int i = 0; i < s->n_freq; i++, p += 4) put32(p, s->freq[i]);
    for (size_t i = 0; i < (size_t)s->V_src * s->per; i++, p += 4) put32(p, s->best[i]);
    *len = 4 * n;
    return b;
}

s2s_shortlist *s2s_shortlist_parse(const void *data, size_t len, int V_src,
                                   int V_tgt, const char *name, s2s_err *err)
{
    const unsigned char *p = data;
    if (len < 20 || len % 4 || get32(p) != MAGIC) {
        s2s_fail(err, "%s: not a shortlist", name);
        return NULL;
    }
    uint32_t vs = get32(p + 4), vt = get32(p + 8), nf = get32(p + 12), per = get32(p + 16);
    if (vs != (uint32_t)V_src || vt != (uint32_t)V_tgt) {
        s2s_fail(err, "%s: a shortlist for vocabularies of %u and %u, not %d and %d",
                 name, vs, vt, V_src, V_tgt);
        return NULL;
    }
    if (nf > S2S_SHORTLIST_FREQUENT_MAX || per < 1 || per > S2S_SHORTLIST_PER_WORD_MAX ||
        len / 4 != 5 + (size_t)nf + (size_t)vs * per) {
        s2s_fail(err, "%s: a shortlist of inconsistent size (%zu bytes for %u "
                 "frequent and %u per source token)", name, len, nf, per);
        return NULL;
    }
    s2s_shortlist *s = calloc(1, sizeof *s);
    if (!s) {
        s2s_fail(err, "%s: out of memory", name);
        return NULL;
    }
    *s = (s2s_shortlist){.V_src = V_src, .V_tgt = V_tgt, .n_freq = (int)nf, .per = (int)per};
    s->freq = malloc(((size_t)nf + 1) * sizeof *s->freq);
    s->best = malloc((size_t)vs * per * sizeof *s->best);
    if (!s->freq || !s->best) {
        s2s_shortlist_free(s);
        s2s_fail(err, "%s: out of memory", name);
        return NULL;
    }
    p += 20;
    for (uint32_t i = 0; i < nf; i++, p += 4) s->freq[i] = get32(p);
    for (size_t i = 0; i < (size_t)vs * per; i++, p += 4) s->best[i] = get32(p);
    for (uint32_t i = 0; i < nf; i++)
        if (s->freq[i] >= vt) goto bad;
    for (size_t i = 0; i < (size_t)vs * per; i++)
        if (s->best[i] != NONE && s->best[i] >= vt) goto bad;
    return s;
bad:
    s2s_shortlist_free(s);
    s2s_fail(err, "%s: a shortlist naming a target token past the vocabulary (%d)",
             name, V_tgt);
    return NULL;
}

/* ------------------------------------------------------------ use */

int s2s_shortlist_select(const s2s_shortlist *s, int frequent, int per_word,
                         const uint32_t *src, int ld_src, const int *src_len,
                         int B, uint32_t *out)
{
    unsigned char *on = s2s_xcalloc((size_t)s->V_tgt + 1, 1);
    for (int t = 0; t < S2S_NUM_SPECIALS && t < s->V_tgt; t++) on[t] = 1;
    for (int i = 0; i < frequent && i < s->n_freq; i++) on[s->freq[i]] = 1;
    int per = per_word < s->per ? per_word : s->per;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < src_len[b]; i++) {
            uint32_t w = src[(size_t)b * ld_src + i];
            if (w >= (uint32_t)s->V_src) continue;
            const uint32_t *row = s->best + (size_t)w * s->per;
            for (int j = 0; j < per && row[j] != NONE; j++) on[row[j]] = 1;
        }
    int n = 0;
    for (int t = 0; t < s->V_tgt; t++)
        if (on[t]) out[n++] = (uint32_t)t;
    free(on);
    return n;
}
