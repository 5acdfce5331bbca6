/* seq2seq/decode.h — decoding many sentences at once (greedy or beam
 * search), split across threads (each with its own workspace). */
#ifndef S2S_DECODE_H
#define S2S_DECODE_H

#include <stdint.h>

#include "seq2seq/config.h"
#include "seq2seq/beam.h"
#include "seq2seq/step.h"

/* Output cap for a source of n tokens: decode.max_len, or with
 * decode.max_len_ratio r > 0, min(max_len, r*n + 5). */
int s2s_decode_limit(const s2s_config *cfg, int src_len);

/* The beam settings of the run file's decode section (nbest 1). */
void s2s_beam_opts_of(const s2s_config *cfg, s2s_beam_opts *o);

/* Decodes B sources (row b: src[b*ld_src ..], src_len[b] ids) on
 * `threads` threads with work[0..threads-1]: greedily when o is NULL or
 * asks for a beam of 1 and one hypothesis without scores, else by beam
 * search. Output as s2s_beam_search: o->nbest (1 when greedy) hypotheses
 * per sentence at out[(b*nbest + h)*ld_out ...]; score, logprob and n_hyp
 * may be NULL when greedy (n_hyp is then 1 per sentence). align (when not
 * NULL, with attention) receives each output token's weights. */
void s2s_decode_batch(const s2s_model *m, s2s_work **work, int threads,
                      const s2s_beam_opts *o, int B, const uint32_t *src,
                      int ld_src, const int *src_len, const int *max_out,
                      uint32_t *out, int ld_out, int *out_len, float *score,
                      double *logprob, int *n_hyp, float *align, int ld_align);

#endif
