/* tests/corpora_batch.c — batcher invariants: every pair exactly once per
 * epoch, the order a function of (seed, epoch) alone, padding only past
 * each length, rows sorted by source length, <sos>/<eos> placement, the
 * decoder's row order, length grouping, and the sequential mode.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "corpora/batch.h"

#include "corpora/tatoeba.h"

#define SHARED_CORPUS s2s_tatoeba_path()

static char dir[64];
static s2s_dataset ds;

/* A corpus of n pairs with pseudo-random lengths 1..10 (an LCG, so the
 * test does not depend on the RNG under test): source "a<k> w w ...",
 * target "b<k> v v ...". */
static void load_synthetic(size_t n)
{
    strcpy(dir, "/tmp/s2s_batch_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.tsv", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint32_t x = 12345;
    for (size_t k = 0; k < n; k++) {
        x = x * 1103515245u + 12345u;
        int ls = 1 + (int)((x >> 16) % 10);
        x = x * 1103515245u + 12345u;
        int lt = 1 + (int)((x >> 16) % 10);
        fprintf(f, "a%zu", k);
        for (int i = 1; i < ls; i++)
            fputs(" w", f);
        fprintf(f, "\tb%zu", k);
        for (int i = 1; i < lt; i++)
            fputs(" v", f);
        fputc('\n', f);
    }
    fclose(f);
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = path;
    sp.src_column = 1;
    sp.tgt_column = 2;
    sp.split_every = 0;
    sp.min_count = 1;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &ds, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(ds.split[S2S_TRAIN].n, n);
    unlink(path);
    rmdir(dir);
}

static void unload(void)
{
    s2s_dataset_free(&ds);
}

static void setup_1000(void)
{
    load_synthetic(1000);
}

TestSuite(batch, .init = setup_1000, .fini = unload);

/* Every structural property of one batch against the split. */
static void check_batch(const s2s_batch *b, const s2s_split *s)
{
    cr_assert_gt(b->B, 0);
    size_t ntok = 0;
    int maxs = 0, maxt = 0;
    for (int r = 0; r < b->B; r++) {
        size_t k = b->pair[r];
        cr_assert_lt(k, s->n);
        int ls = b->src_len[r], lt = b->tgt_len[r];
        cr_assert_eq(ls, (int)s->src_len[k]);
        cr_assert_eq(lt, (int)s->tgt_len[k] + 1);
        if (ls > maxs)
            maxs = ls;
        if (lt > maxt)
            maxt = lt;
        /* rows by source length, descending; ties by target length
         * descending then pair index */
        if (r > 0) {
            int pls = b->src_len[r - 1], plt = b->tgt_len[r - 1];
            cr_assert(pls > ls || (pls == ls && (plt > lt ||
                      (plt == lt && b->pair[r - 1] < k))),
                      "row %d out of order", r);
        }
        const uint32_t *x = s2s_split_src(s, k), *y = s2s_split_tgt(s, k);
        const uint32_t *src = b->src + (size_t)r * b->T;       /* (T) */
        const uint32_t *tin = b->tgt_in + (size_t)r * b->U;    /* (U) */
        const uint32_t *tout = b->tgt_out + (size_t)r * b->U;  /* (U) */
        for (int t = 0; t < b->T; t++) {
            if (t < ls) {
                cr_assert_eq(src[t], x[t]);
                cr_assert_neq(src[t], S2S_PAD);
            } else {
                cr_assert_eq(src[t], S2S_PAD);
            }
        }
        cr_assert_eq(tin[0], S2S_SOS);
        for (int u = 1; u < lt; u++)
            cr_assert_eq(tin[u], y[u - 1]);
        for (int u = 0; u < lt - 1; u++)
            cr_assert_eq(tout[u], y[u]);
        cr_assert_eq(tout[lt - 1], S2S_EOS);
        for (int u = lt; u < b->U; u++) {
            cr_assert_eq(tin[u], S2S_PAD);
            cr_assert_eq(tout[u], S2S_PAD);
        }
        for (int u = 0; u < lt; u++) {
            cr_assert_neq(tin[u], S2S_PAD);
            cr_assert_neq(tout[u], S2S_PAD);
        }
        ntok += (size_t)lt;
    }
    cr_assert_eq(b->T, maxs);
    cr_assert_eq(b->U, maxt);
    cr_assert_eq(b->ntokens, ntok);
    /* tgt_order: a permutation of the rows, by tgt_len descending, ties by
     * row */
    char *seen = calloc((size_t)b->B, 1);
    for (int i = 0; i < b->B; i++) {
        int r = b->tgt_order[i];
        cr_assert(r >= 0 && r < b->B);
        cr_assert(!seen[r]);
        seen[r] = 1;
        if (i > 0) {
            int p = b->tgt_order[i - 1];
            cr_assert(b->tgt_len[p] > b->tgt_len[r] ||
                      (b->tgt_len[p] == b->tgt_len[r] && p < r));
        }
    }
    free(seen);
}

/* The pair indices of epoch e, batch after batch. */
static size_t *epoch_pairs(s2s_batcher *bt, uint64_t e, size_t n)
{
    size_t *out = malloc(n * sizeof *out), pos = 0;
    s2s_batch b;
    s2s_batch_init(&b);
    for (size_t k = 0; k < s2s_batcher_count(bt); k++) {
        s2s_batcher_get(bt, e, k, &b);
        for (int r = 0; r < b.B; r++) {
            cr_assert_lt(pos, n);
            out[pos++] = b.pair[r];
        }
    }
    cr_assert_eq(pos, n);
    s2s_batch_free(&b);
    return out;
}

Test(batch, every_pair_once_per_epoch)
{
    const s2s_split *s = &ds.split[S2S_TRAIN];
    s2s_batcher bt;
    s2s_err err;
    cr_assert_eq(s2s_batcher_init(&bt, s, 64, 1, 1, &err), 0);
    cr_assert_eq(s2s_batcher_count(&bt), 16); /* ceil(1000 / 64) */
    s2s_batch b;
    s2s_batch_init(&b);
    for (uint64_t e = 0; e < 3; e++) {
        char *seen = calloc(s->n, 1);
        int short_batches = 0;
        for (size_t k = 0; k < s2s_batcher_count(&bt); k++) {
            s2s_batcher_get(&bt, e, k, &b);
            check_batch(&b, s);
            cr_assert_leq(b.B, 64);
            short_batches += b.B < 64;
            for (int r = 0; r < b.B; r++) {
                cr_assert(!seen[b.pair[r]], "pair %zu twice in epoch %lu",
                          b.pair[r], (unsigned long)e);
                seen[b.pair[r]] = 1;
            }
        }
        for (size_t k = 0; k < s->n; k++)
            cr_assert(seen[k], "pair %zu missing in epoch %lu", k,
                      (unsigned long)e);
        cr_assert_eq(short_batches, 1); /* 1000 = 15 * 64 + 40 */
        free(seen);
    }
    s2s_batch_free(&b);
    s2s_batcher_free(&bt);
}

Test(batch, order_depends_on_seed_and_epoch_only)
{
    const s2s_split *s = &ds.split[S2S_TRAIN];
    s2s_batcher a, b, c;
    cr_assert_eq(s2s_batcher_init(&a, s, 32, 1, 7, NULL), 0);
    cr_assert_eq(s2s_batcher_init(&b, s, 32, 1, 7, NULL), 0);
    cr_assert_eq(s2s_batcher_init(&c, s, 32, 1, 8, NULL), 0);
    size_t n = s->n;
    size_t *a0 = epoch_pairs(&a, 0, n), *a1 = epoch_pairs(&a, 1, n);
    size_t *a5 = epoch_pairs(&a, 5, n);
    /* b jumps straight to epoch 5, then goes back to 0: resumption needs
     * no replay */
    size_t *b5 = epoch_pairs(&b, 5, n), *b0 = epoch_pairs(&b, 0, n);
    size_t *c0 = epoch_pairs(&c, 0, n);
    cr_assert(memcmp(a0, b0, n * sizeof *a0) == 0);
    cr_assert(memcmp(a5, b5, n * sizeof *a5) == 0);
    cr_assert(memcmp(a0, a1, n * sizeof *a0) != 0);
    cr_assert(memcmp(a0, c0, n * sizeof *a0) != 0);
    /* one batch out of the middle, asked for alone, matches */
    s2s_batcher d;
    cr_assert_eq(s2s_batcher_init(&d, s, 32, 1, 7, NULL), 0);
    s2s_batch x;
    s2s_batch_init(&x);
    s2s_batcher_get(&d, 5, 17, &x);
    size_t start = 0;
    s2s_batch y;
    s2s_batch_init(&y);
    for (size_t k = 0; k < 17; k++) {
        s2s_batcher_get(&a, 5, k, &y);
        start += (size_t)y.B;
    }
    for (int r = 0; r < x.B; r++)
        cr_assert_eq(x.pair[r], a5[start + (size_t)r]);
    s2s_batch_free(&x);
    s2s_batch_free(&y);
    free(a0); free(a1); free(a5); free(b5); free(b0); free(c0);
    s2s_batcher_free(&a);
    s2s_batcher_free(&b);
    s2s_batcher_free(&c);
    s2s_batcher_free(&d);
}

Test(batch, groups_similar_lengths)
{
    /* Sorting chunks of 100*B by length makes batches nearly uniform:
     * with lengths 1..10 and B = 8 (chunks of 800 pairs) the source
     * padding must be far below that of file-order batches. */
    const s2s_split *s = &ds.split[S2S_TRAIN];
    s2s_batcher sh, seq;
    cr_assert_eq(s2s_batcher_init(&sh, s, 8, 1, 1, NULL), 0);
    cr_assert_eq(s2s_batcher_init(&seq, s, 8, 0, 1, NULL), 0);
    s2s_batch b;
    s2s_batch_init(&b);
    size_t pad_sh = 0, pad_seq = 0;
    for (size_t k = 0; k < s2s_batcher_count(&sh); k++) {
        s2s_batcher_get(&sh, 0, k, &b);
        for (int r = 0; r < b.B; r++)
            pad_sh += (size_t)(b.T - b.src_len[r]);
        s2s_batcher_get(&seq, 0, k, &b);
        for (int r = 0; r < b.B; r++)
            pad_seq += (size_t)(b.T - b.src_len[r]);
    }
    cr_assert_lt(pad_sh * 4, pad_seq, "padding %zu shuffled vs %zu file "
                 "order", pad_sh, pad_seq);
    s2s_batch_free(&b);
    s2s_batcher_free(&sh);
    s2s_batcher_free(&seq);
}

Test(batch, sequential_mode_is_file_order)
{
    const s2s_split *s = &ds.split[S2S_TRAIN];
    s2s_batcher bt;
    cr_assert_eq(s2s_batcher_init(&bt, s, 300, 0, 99, NULL), 0);
    cr_assert_eq(s2s_batcher_count(&bt), 4);
    s2s_batch b;
    s2s_batch_init(&b);
    for (uint64_t e = 0; e < 2; e++) {
        for (size_t k = 0; k < 4; k++) {
            s2s_batcher_get(&bt, e, k, &b);
            check_batch(&b, s);
            cr_assert_eq(b.B, k < 3 ? 300 : 100);
            /* the rows are a permutation of pairs k*300 .. */
            char seen[300] = {0};
            for (int r = 0; r < b.B; r++) {
                size_t p = b.pair[r];
                cr_assert(p >= k * 300 && p < k * 300 + (size_t)b.B);
                cr_assert(!seen[p - k * 300]);
                seen[p - k * 300] = 1;
            }
        }
    }
    s2s_batch_free(&b);
    s2s_batcher_free(&bt);
}

Test(batch, small_cases_and_errors)
{
    const s2s_split *s = &ds.split[S2S_TRAIN];
    s2s_batcher bt;
    s2s_err err;
    cr_assert_eq(s2s_batcher_init(&bt, s, 0, 1, 1, &err), -1);
    cr_assert_str_eq(err.msg, "batch size must be >= 1 (got 0)");
    /* B larger than the split: one batch of everything */
    cr_assert_eq(s2s_batcher_init(&bt, s, 5000, 1, 1, &err), 0);
    cr_assert_eq(s2s_batcher_count(&bt), 1);
    s2s_batch b;
    s2s_batch_init(&b);
    s2s_batcher_get(&bt, 3, 0, &b);
    cr_assert_eq(b.B, 1000);
    check_batch(&b, s);
    s2s_batcher_free(&bt);
    /* B = 1 */
    cr_assert_eq(s2s_batcher_init(&bt, s, 1, 1, 1, &err), 0);
    cr_assert_eq(s2s_batcher_count(&bt), 1000);
    s2s_batcher_get(&bt, 0, 999, &b);
    cr_assert_eq(b.B, 1);
    check_batch(&b, s);
    s2s_batcher_free(&bt);
    /* an empty split has no batches */
    const s2s_split *dev = &ds.split[S2S_DEV];
    cr_assert_eq(dev->n, 0);
    cr_assert_eq(s2s_batcher_init(&bt, dev, 4, 1, 1, &err), 0);
    cr_assert_eq(s2s_batcher_count(&bt), 0);
    s2s_batcher_free(&bt);
    /* an explicit subset */
    uint32_t pick[3] = {10, 3, 999};
    s2s_batch_fill(&b, s, pick, 3);
    cr_assert_eq(b.B, 3);
    check_batch(&b, s);
    s2s_batch_free(&b);
}

Test(batch, known_small_batch)
{
    /* Pairs 0..2 of the synthetic corpus filled by hand-checked rules. */
    const s2s_split *s = &ds.split[S2S_TRAIN];
    uint32_t pick[2] = {0, 1};
    s2s_batch b;
    s2s_batch_init(&b);
    s2s_batch_fill(&b, s, pick, 2);
    int l0 = (int)s->src_len[0], l1 = (int)s->src_len[1];
    int first = (l1 > l0 || (l1 == l0 && s->tgt_len[1] > s->tgt_len[0]));
    cr_assert_eq(b.pair[0], first ? 1u : 0u);
    cr_assert_eq(b.T, l0 > l1 ? l0 : l1);
    /* the first source token of pair k is "a<k>" */
    char want[16];
    snprintf(want, sizeof want, "a%zu", b.pair[0]);
    cr_assert_str_eq(s2s_vocab_token(ds.src_vocab, b.src[0]), want);
    snprintf(want, sizeof want, "b%zu", b.pair[1]);
    cr_assert_str_eq(s2s_vocab_token(ds.tgt_vocab, b.tgt_in[b.U + 1]), want);
    cr_assert_str_eq(s2s_vocab_token(ds.tgt_vocab, b.tgt_out[b.U]), want);
    s2s_batch_free(&b);
}

Test(batch, shared_corpus_train_epoch,
     .timeout = 120)
{
    if (access(SHARED_CORPUS, R_OK) != 0)
        cr_skip_test("%s not found: %s", SHARED_CORPUS, S2S_TATOEBA_ABOUT);
    s2s_dataset d;
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = SHARED_CORPUS;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    const s2s_split *s = &d.split[S2S_TRAIN];
    s2s_batcher bt;
    cr_assert_eq(s2s_batcher_init(&bt, s, 64, 1, 1, &err), 0);
    cr_assert_eq(s2s_batcher_count(&bt), (113767 + 63) / 64);
    char *seen = calloc(s->n, 1);
    s2s_batch b;
    s2s_batch_init(&b);
    size_t tokens = 0;
    for (size_t k = 0; k < s2s_batcher_count(&bt); k++) {
        s2s_batcher_get(&bt, 0, k, &b);
        if (k % 97 == 0)
            check_batch(&b, s);
        for (int r = 0; r < b.B; r++) {
            cr_assert(!seen[b.pair[r]]);
            seen[b.pair[r]] = 1;
        }
        tokens += b.ntokens;
    }
    for (size_t k = 0; k < s->n; k++)
        cr_assert(seen[k]);
    /* target tokens + one <eos> per pair */
    cr_assert_eq(tokens, s->n_tgt_tokens + s->n);
    free(seen);
    s2s_batch_free(&b);
    s2s_batcher_free(&bt);
    s2s_dataset_free(&d);
}
