/* seq2seq/beam.h — batched beam search over the decoder step
 * (seq2seq/step.h): the beams of several sentences advance together as the
 * rows of one batch, and a finished hypothesis leaves it.
 */
#ifndef S2S_BEAM_H
#define S2S_BEAM_H

#include <stdint.h>

#include "seq2seq/step.h"

/* How a finished hypothesis Y of log-probability log P is ranked. */
typedef enum s2s_length_penalty {
    S2S_LP_NONE = 0, /* log P */
    S2S_LP_AVG,      /* log P / |Y| */
    S2S_LP_WU        /* log P / ((5 + |Y|) / 6)^alpha (Wu et al. 2016, GNMT) */
} s2s_length_penalty;

typedef struct s2s_beam_opts {
    int beam;                  /* K hypotheses per sentence, >= 1 */
    int nbest;                 /* returned per sentence, 1..K */
    s2s_length_penalty lp;
    float alpha;               /* S2S_LP_WU's exponent */
    float beta;                /* coverage penalty (attention models): plus
                                  beta * sum_i log(min(sum_j a_ij, 1)) */
    /* s2s_decode_batch over a lexical shortlist (seq2seq/shortlist.h) when
     * shortlist is set and per_word > 0; beam search itself ignores them */
    const struct s2s_shortlist *shortlist;
    int shortlist_per_word, shortlist_frequent;
} s2s_beam_opts;

/* Beam search of B sources (any order of lengths). |Y| counts the output
 * tokens and the <eos> that ended them. Every step keeps, per sentence,
 * the K - (finished so far) best continuations by log P; one that ends in
 * <eos>, or reaches max_out[b] tokens, is finished; a sentence stops when
 * K of its hypotheses have finished. For sentence b, n_hyp[b] hypotheses
 * (at most nbest), best first: hypothesis h is out[(b*nbest + h)*ld_out
 * ...] (without <eos>), out_len[b*nbest + h] tokens, its ranking score
 * score[...] and log P logprob[...] (which counts <eos> only when it ended
 * with one); score, logprob and n_hyp may be NULL. align, when not NULL, receives each output token's attention
 * weights at align[((b*nbest + h)*ld_out + i)*ld_align ...]. With K = 1
 * the one hypothesis is exactly s2s_step_greedy's output. */
void s2s_beam_search(const s2s_model *m, s2s_work *w, const s2s_beam_opts *o,
                     int B, const uint32_t *src, int ld_src,
                     const int *src_len, const int *max_out, uint32_t *out,
                     int ld_out, int *out_len, float *score, double *logprob,
                     int *n_hyp, float *align, int ld_align);

#endif
