/* corpora/batch.c — the batcher: per-epoch deterministic, length-grouped
 * order of a split, and padded id matrices of one batch (see batch.h).
 */
#include "corpora/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* ------------------------------------------------------------ batch */

void s2s_batch_init(s2s_batch *b)
{
    memset(b, 0, sizeof *b);
}

void s2s_batch_free(s2s_batch *b)
{
    free(b->src);
    free(b->src_len);
    free(b->tgt_in);
    free(b->tgt_out);
    free(b->tgt_len);
    free(b->tgt_order);
    free(b->pair);
    memset(b, 0, sizeof *b);
}

/* A row to sort: lengths and pair index. */
typedef struct {
    uint32_t s, t;
    uint32_t idx;
} rowkey;

/* Source length desc, target length desc, pair index asc: a total order,
 * so qsort's instability cannot show. */
static int by_len_desc(const void *pa, const void *pb)
{
    const rowkey *a = pa, *b = pb;
    if (a->s != b->s)
        return a->s > b->s ? -1 : 1;
    if (a->t != b->t)
        return a->t > b->t ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void reserve(s2s_batch *b, size_t rows, size_t src, size_t tgt)
{
    if (rows > b->cap_rows) {
        b->src_len = s2s_xrealloc(b->src_len, rows * sizeof *b->src_len);
        b->tgt_len = s2s_xrealloc(b->tgt_len, rows * sizeof *b->tgt_len);
        b->tgt_order =
            s2s_xrealloc(b->tgt_order, rows * sizeof *b->tgt_order);
        b->pair = s2s_xrealloc(b->pair, rows * sizeof *b->pair);
        b->cap_rows = rows;
    }
    if (src > b->cap_src) {
        b->src = s2s_xrealloc(b->src, src * sizeof *b->src);
        b->cap_src = src;
    }
    if (tgt > b->cap_tgt) {
        b->tgt_in = s2s_xrealloc(b->tgt_in, tgt * sizeof *b->tgt_in);
        b->tgt_out = s2s_xrealloc(b->tgt_out, tgt * sizeof *b->tgt_out);
        b->cap_tgt = tgt;
    }
}

void s2s_batch_fill(s2s_batch *out, const s2s_split *sp,
                    const uint32_t *pairs, size_t n)
{
    rowkey *rows = s2s_xmalloc((n ? n : 1) * sizeof *rows);
    uint32_t T = 0, Umax = 0;
    for (size_t r = 0; r < n; r++) {
        uint32_t k = pairs[r];
        rows[r] = (rowkey){sp->src_len[k], sp->tgt_len[k], k};
        if (rows[r].s > T)
            T = rows[r].s;
        if (rows[r].t > Umax)
            Umax = rows[r].t;
    }
    qsort(rows, n, sizeof *rows, by_len_desc);
    size_t U = (size_t)Umax + 1;
    reserve(out, n, n * T, n * U);
    out->B = (int)n;
    out->T = (int)T;
    out->U = (int)U;
    out->ntokens = 0;
    for (size_t r = 0; r < n; r++) {
        size_t k = rows[r].idx;
        uint32_t ls = rows[r].s, lt = rows[r].t;
        const uint32_t *x = s2s_split_src(sp, k);
        const uint32_t *y = s2s_split_tgt(sp, k);
        uint32_t *src = out->src + r * T;   /* (T) */
        uint32_t *tin = out->tgt_in + r * U;   /* (U) */
        uint32_t *tout = out->tgt_out + r * U; /* (U) */
        memcpy(src, x, ls * sizeof *src);
        for (size_t t = ls; t < T; t++)
            src[t] = S2S_PAD;
        tin[0] = S2S_SOS;
        memcpy(tin + 1, y, lt * sizeof *tin);
        memcpy(tout, y, lt * sizeof *tout);
        tout[lt] = S2S_EOS;
        for (size_t u = lt + 1; u < U; u++)
            tin[u] = tout[u] = S2S_PAD;
        out->src_len[r] = (int)ls;
        out->tgt_len[r] = (int)lt + 1;
        out->pair[r] = k;
        out->ntokens += lt + 1;
    }
    /* Rows by target length for the decoder: a stable insertion of row
     * numbers (already ordered by source length, so nearly sorted). */
    for (size_t r = 0; r < n; r++) {
        size_t j = r;
        while (j > 0 && out->tgt_len[out->tgt_order[j - 1]] <
                            out->tgt_len[r]) {
            out->tgt_order[j] = out->tgt_order[j - 1];
            j--;
        }
        out->tgt_order[j] = (int)r;
    }
    free(rows);
}

/* ------------------------------------------------------------ batcher */

int s2s_batcher_init(s2s_batcher *bt, const s2s_split *split, int B,
                     int shuffle, uint64_t seed, s2s_err *err)
{
    memset(bt, 0, sizeof *bt);
    if (B < 1)
        return s2s_fail(err, "batch size must be >= 1 (got %d)", B);
    if (split->n >= UINT32_MAX)
        return s2s_fail(err, "%s: %zu pairs is too many for one split",
                        split->file ? split->file : "split", split->n);
    bt->split = split;
    bt->B = B;
    bt->shuffle = shuffle;
    bt->seed = seed;
    bt->group = 100;
    bt->n_batches = (split->n + (size_t)B - 1) / (size_t)B;
    bt->epoch = -1;
    size_t n = split->n;
    bt->order = s2s_xmalloc((n + 1) * sizeof *bt->order);
    bt->start = s2s_xmalloc((bt->n_batches + 1) * sizeof *bt->start);
    for (size_t i = 0; i < n; i++)
        bt->order[i] = (uint32_t)i;
    for (size_t k = 0; k <= bt->n_batches; k++)
        bt->start[k] = k * (size_t)B < n ? k * (size_t)B : n;
    return 0;
}

void s2s_batcher_free(s2s_batcher *bt)
{
    free(bt->order);
    free(bt->start);
    memset(bt, 0, sizeof *bt);
}

void s2s_batcher_lengths_changed(s2s_batcher *bt) { bt->epoch = -1; }

size_t s2s_batcher_count(const s2s_batcher *bt)
{
    return bt->n_batches;
}

/* splitmix64's finaliser: a bijective mix of 64 bits. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The order of epoch e, from (seed, e) alone. */
static void epoch_order(s2s_batcher *bt, uint64_t epoch)
{
    const s2s_split *sp = bt->split;
    size_t n = sp->n, B = (size_t)bt->B, nb = bt->n_batches;
    s2s_rng rng;
    s2s_rng_seed(&rng, mix64(bt->seed ^ mix64(epoch + 0x9e3779b97f4a7c15ull)));

    uint32_t *perm = s2s_xmalloc((n + 1) * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    s2s_rng_shuffle_u32(&rng, perm, n);

    /* Chunks of group*B pairs sorted by length: batches of similar
     * lengths, while the chunk boundaries keep the epoch random. */
    if (bt->group > 1) {
        size_t chunk = (size_t)bt->group * B;
        rowkey *keys = s2s_xmalloc((chunk < n ? chunk : n + 1) * sizeof *keys);
        for (size_t c0 = 0; c0 < n; c0 += chunk) {
            size_t m = n - c0 < chunk ? n - c0 : chunk;
            for (size_t i = 0; i < m; i++) {
                uint32_t k = perm[c0 + i];
                keys[i] = (rowkey){sp->src_len[k], sp->tgt_len[k], k};
            }
            qsort(keys, m, sizeof *keys, by_len_desc);
            for (size_t i = 0; i < m; i++)
                perm[c0 + i] = keys[i].idx;
        }
        free(keys);
    }

    /* Batch b of the sorted order is perm[b*B ..]; shuffle which comes
     * when. */
    uint32_t *border = s2s_xmalloc((nb + 1) * sizeof *border);
    for (size_t b = 0; b < nb; b++)
        border[b] = (uint32_t)b;
    s2s_rng_shuffle_u32(&rng, border, nb);
    size_t pos = 0;
    for (size_t k = 0; k < nb; k++) {
        size_t b0 = (size_t)border[k] * B;
        size_t m = n - b0 < B ? n - b0 : B;
        bt->start[k] = pos;
        memcpy(bt->order + pos, perm + b0, m * sizeof *perm);
        pos += m;
    }
    bt->start[nb] = pos;
    free(border);
    free(perm);
    bt->epoch = (long long)epoch;
}

void s2s_batcher_get(s2s_batcher *bt, uint64_t epoch, size_t k,
                     s2s_batch *out)
{
    if (k >= bt->n_batches) {
        /* A bug in the caller, not something a user can cause. */
        fprintf(stderr, "s2s: batch %zu asked of %zu\n", k, bt->n_batches);
        abort();
    }
    if (bt->shuffle && (bt->epoch < 0 || (uint64_t)bt->epoch != epoch))
        epoch_order(bt, epoch);
    s2s_batch_fill(out, bt->split, bt->order + bt->start[k],
                   bt->start[k + 1] - bt->start[k]);
}
