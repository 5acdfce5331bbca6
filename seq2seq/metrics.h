/* seq2seq/metrics.h — evaluation metrics: corpus BLEU-4, chrF and
 * perplexity, as the reference protocol defines them (bench/README.md).
 *
 * BLEU and chrF are accumulating statistics: init, add one hypothesis /
 * reference pair at a time (the trainer's dev loop and `s2s eval` feed them
 * as they decode), then score. Scores are computed from the summed counts
 * (corpus level), never by averaging sentence scores. Two accumulators can
 * be merged, so threads may each keep their own.
 *
 * BLEU-4 (Papineni et al. 2002, one reference, no smoothing):
 *   p_n  = sum over sentences of clipped n-gram matches / sum of hypothesis
 *          n-grams, n = 1..4; a hypothesis n-gram counts at most as often as
 *          it occurs in the reference;
 *   BP   = 1 if c > r, else exp(1 - r/c), with c, r the total hypothesis and
 *          reference lengths in tokens;
 *   BLEU = 100 * BP * exp(mean of log p_n); 0 when any p_n is 0 (or has no
 *          hypothesis n-grams at all) or c is 0.
 * Same numbers as sacreBLEU's corpus BLEU with --tokenize none and
 * smoothing none, and as NLTK's corpus_bleu when no hypothesis is shorter
 * than 4 tokens (NLTK counts at least one n-gram per sentence and order).
 *
 * chrF (Popovic 2015, as sacreBLEU's CHRF defaults: character n-grams
 * 1..6, beta 2, no word n-grams, whitespace removed): characters are
 * Unicode code points; all white space (as Python's str.split) is deleted
 * first, so n-grams run across word boundaries. For each order n the
 * hypothesis, reference and clipped-match counts are summed over the
 * corpus; then, as sacreBLEU does,
 *   P = mean over orders of match_n / hyp_n,  R = mean of match_n / ref_n,
 * the mean taken over the orders where both hyp_n and ref_n are > 0 (a
 * corpus of very short strings has fewer effective orders), and
 *   chrF = 100 * (1 + beta^2) P R / (beta^2 P + R)   (0 if P + R = 0).
 * Text that is not valid UTF-8 counts each bad byte as one character.
 */
#ifndef S2S_METRICS_H
#define S2S_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define S2S_BLEU_N 4
#define S2S_CHRF_N 6
#define S2S_CHRF_BETA 2.0

/* ------------------------------------------------------------------------
 * BLEU
 * ------------------------------------------------------------------------ */

typedef struct s2s_bleu_stats {
    uint64_t match[S2S_BLEU_N];     /* clipped matches of order n+1 */
    uint64_t total[S2S_BLEU_N];     /* hypothesis n-grams of order n+1 */
    uint64_t hyp_len, ref_len;      /* tokens: c and r */
    uint64_t sentences;
} s2s_bleu_stats;

void s2s_bleu_init(s2s_bleu_stats *b);

/* Adds one pair of token sequences (tokens compared as byte strings). */
void s2s_bleu_add(s2s_bleu_stats *b, const char *const *hyp, size_t n_hyp,
                  const char *const *ref, size_t n_ref);

/* Same on token ids. Equal ids are equal tokens: when the reference went
 * through a vocabulary, its out-of-vocabulary words all became <unk> and
 * match a hypothesis <unk>, so use this for dev monitoring only and
 * s2s_bleu_add on the reference's real tokens for reported figures. */
void s2s_bleu_add_ids(s2s_bleu_stats *b, const uint32_t *hyp, size_t n_hyp,
                      const uint32_t *ref, size_t n_ref);

/* into += from. */
void s2s_bleu_merge(s2s_bleu_stats *into, const s2s_bleu_stats *from);

/* Corpus BLEU-4 in [0, 100]. */
double s2s_bleu_score(const s2s_bleu_stats *b);

/* The parts of the score: precisions p_n in [0, 1] (0 when there are no
 * n-grams of that order) and the brevity penalty. */
double s2s_bleu_precision(const s2s_bleu_stats *b, int n); /* n = 1..4 */
double s2s_bleu_brevity(const s2s_bleu_stats *b);

/* One line in sacreBLEU's style:
 * "BLEU = 34.21 65.0/41.2/28.3/19.9 (BP = 0.975 ratio = 0.975 hyp_len = 39
 *  ref_len = 40)". Returns what snprintf returns. */
int s2s_bleu_format(const s2s_bleu_stats *b, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * chrF
 * ------------------------------------------------------------------------ */

typedef struct s2s_chrf_stats {
    uint64_t hyp[S2S_CHRF_N];       /* hypothesis n-grams of order n+1 */
    uint64_t ref[S2S_CHRF_N];       /* reference n-grams */
    uint64_t match[S2S_CHRF_N];     /* clipped matches */
    uint64_t sentences;
} s2s_chrf_stats;

void s2s_chrf_init(s2s_chrf_stats *c);
/* Holds no memory today; call it anyway, so the stats may grow some. */
void s2s_chrf_free(s2s_chrf_stats *c);

/* Adds one pair of token sequences. The tokens are concatenated, which is
 * the same as joining them with spaces, since white space is removed; so
 * this equals s2s_chrf_add_text on the detokenised text whenever
 * detokenising only changes spacing. */
void s2s_chrf_add(s2s_chrf_stats *c, const char *const *hyp, size_t n_hyp,
                  const char *const *ref, size_t n_ref);

/* Same for one pair of UTF-8 strings (white space is removed before
 * counting). */
void s2s_chrf_add_text(s2s_chrf_stats *c, const char *hyp, const char *ref);

void s2s_chrf_merge(s2s_chrf_stats *into, const s2s_chrf_stats *from);

/* Corpus chrF (beta 2) in [0, 100]. */
double s2s_chrf_score(const s2s_chrf_stats *c);

/* ------------------------------------------------------------------------
 * Perplexity
 * ------------------------------------------------------------------------ */

/* exp(total_nll / tokens), total_nll summed in nats over `tokens` target
 * tokens (<eos> included). NAN when tokens is 0; INFINITY on overflow. */
double s2s_perplexity(double total_nll, uint64_t tokens);

#endif
