/* corpora/batch.h — padded id matrices of B pairs, grouped by length.
 *
 * Legend: B rows, T source time, U target time (max target length + 1).
 *
 * Shuffled mode (training): the order of epoch e depends on (seed, e)
 * alone, so training can resume at epoch e, batch k without replaying
 * anything. Per epoch: shuffle the pair indices; in consecutive chunks of
 * 100*B pairs sort by (src len, tgt len) descending (ties by pair index);
 * cut into batches of B; shuffle the batch order. Every pair appears
 * exactly once per epoch. Chunks hold a multiple of B pairs, so only one
 * batch (cut from the last chunk) may be short, and every epoch has
 * ceil(n / B) batches; after the batch shuffle the short one may come at
 * any position.
 *
 * Sequential mode (dev, test, translation): batch k holds pairs
 * k*B .. k*B+B-1 in file order; the epoch is ignored.
 *
 * In both modes the rows of a batch are sorted by source length descending
 * (ties: target length descending, then pair index ascending); `pair`
 * maps each row back to its pair.
 */
#ifndef S2S_BATCH_H
#define S2S_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "corpora/dataset.h"

typedef struct s2s_batch {
    int B;              /* rows in this batch (the last may be short) */
    int T;              /* longest source */
    int U;              /* longest target + 1 */
    uint32_t *src;      /* (B, T) source ids, S2S_PAD past src_len */
    int *src_len;       /* (B) descending */
    uint32_t *tgt_in;   /* (B, U) <sos> y1 .. yn, then S2S_PAD */
    uint32_t *tgt_out;  /* (B, U) y1 .. yn <eos>, then S2S_PAD */
    int *tgt_len;       /* (B) n + 1 */
    int *tgt_order;     /* (B) rows by tgt_len descending (ties by row):
                           for packing the decoder time-major */
    size_t *pair;       /* (B) index of each row's pair in the split */
    size_t ntokens;     /* sum of tgt_len: non-pad target tokens, <eos> included */
    size_t cap_rows, cap_src, cap_tgt; /* allocated elements, private */
} s2s_batch;

void s2s_batch_init(s2s_batch *b);
void s2s_batch_free(s2s_batch *b);

typedef struct s2s_batcher {
    const s2s_split *split; /* borrowed; must outlive the batcher */
    int B;
    int shuffle;
    uint64_t seed;
    int group;              /* chunks of group*B pairs sorted by length
                               (default 100); 0 or 1: plain random batches.
                               Set before the first s2s_batcher_get. */
    size_t n_batches;
    /* order of the epoch last asked for, private */
    long long epoch;        /* -1: none yet */
    uint32_t *order;        /* (n) pair indices, batch after batch */
    size_t *start;          /* (n_batches + 1) start of batch k in order */
} s2s_batcher;

/* B >= 1. shuffle = 1 for training order, 0 for file order. Returns -1
 * with a message for B < 1 or a split too large for 32-bit indices. */
int s2s_batcher_init(s2s_batcher *bt, const s2s_split *split, int B,
                     int shuffle, uint64_t seed, s2s_err *err);
void s2s_batcher_free(s2s_batcher *bt);

/* The split's lengths changed (its pairs re-encoded): the next
 * s2s_batcher_get computes its epoch's order afresh. */
void s2s_batcher_lengths_changed(s2s_batcher *bt);

/* Batches per epoch: ceil(n / B) (0 for an empty split). */
size_t s2s_batcher_count(const s2s_batcher *bt);

/* Fills out with batch k (< count) of epoch e. Recomputes the epoch's
 * order when e differs from the last call (O(n log n)), so call it from
 * one thread; out's buffers grow as needed. */
void s2s_batcher_get(s2s_batcher *bt, uint64_t epoch, size_t k,
                     s2s_batch *out);

/* Fills out with the given pairs of split (rows then sorted as above); for
 * translating arbitrary subsets. n >= 1. */
void s2s_batch_fill(s2s_batch *out, const s2s_split *split,
                    const uint32_t *pairs, size_t n);

#endif
