/* seq2seq/shortlist.h — a lexical shortlist: decoding over the target
 * tokens a batch's source tokens make likely instead of the whole
 * vocabulary, as Marian's --shortlist does (seq2seq/shortlist.c).
 *
 * Built from the training split when training starts and kept in every
 * checkpoint (section "lex"): the most frequent target tokens, and per
 * source token the target tokens that co-occur with it most in the
 * training pairs (Dice's coefficient over sentence pairs). Decoding with
 * it (decode.shortlist: K, or translate/eval --shortlist K) takes the
 * decode.shortlist_frequent most frequent target tokens, plus the K best
 * of each source token of the batch. It changes output — scores are
 * normalised over the shortlist, and a token outside it cannot be
 * produced — so it is off by default.
 */
#ifndef S2S_SHORTLIST_H
#define S2S_SHORTLIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "corpora/dataset.h"

#define S2S_SHORTLIST_PER_WORD_MAX 64   /* kept per source token */
#define S2S_SHORTLIST_FREQUENT_MAX 2000 /* most frequent kept */

typedef struct s2s_shortlist s2s_shortlist;

/* From the pairs of a split whose ids are below V_src and V_tgt. The same
 * split gives the same shortlist. Never NULL (out of memory aborts). */
s2s_shortlist *s2s_shortlist_build(const s2s_split *train, int V_src, int V_tgt);
void s2s_shortlist_free(s2s_shortlist *s);
/* The most (s, t) pairs a build sorts at once (2^24; 0 restores that);
 * a source id with more is counted another way, to the same result. For
 * tests. */
void s2s_shortlist_pairs_max(size_t n);

/* Its bytes for a checkpoint (malloc'd; never NULL), and back: NULL with "NAME: ..."
 * when the bytes are not a shortlist of these vocabulary sizes. */
void *s2s_shortlist_bytes(const s2s_shortlist *s, size_t *len);
s2s_shortlist *s2s_shortlist_parse(const void *data, size_t len, int V_src,
                                   int V_tgt, const char *name, s2s_err *err);

/* The target ids B sources (row b: src_len[b] ids at src + b*ld_src) may
 * decode to: the specials (ids 0..3, so that they keep their ids), the
 * `frequent` most frequent target tokens and the `per_word` best of each
 * source token, ascending, each once. Writes them to out (room for V_tgt
 * ids) and returns how many. */
int s2s_shortlist_select(const s2s_shortlist *s, int frequent, int per_word,
                         const uint32_t *src, int ld_src, const int *src_len,
                         int B, uint32_t *out);

#endif
