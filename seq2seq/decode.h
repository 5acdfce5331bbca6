/* seq2seq/decode.h — greedy decoding of many sentences at once, split
 * across threads (each with its own workspace). */
#ifndef S2S_DECODE_H
#define S2S_DECODE_H

#include <stdint.h>

#include "seq2seq/config.h"
#include "seq2seq/step.h"

/* Output cap for a source of n tokens: decode.max_len, or with
 * decode.max_len_ratio r > 0, min(max_len, r*n + 5). */
int s2s_decode_limit(const s2s_config *cfg, int src_len);

/* Greedy-decodes B sources (row b: src[b*ld_src ..], src_len[b] ids) on
 * `threads` threads with work[0..threads-1]. Output (and the attention
 * weights when align is not NULL) as s2s_step_greedy. */
void s2s_decode_batch(const s2s_model *m, s2s_work **work, int threads,
                      int B, const uint32_t *src, int ld_src,
                      const int *src_len, const int *max_out, uint32_t *out,
                      int ld_out, int *out_len, float *align, int ld_align);

#endif
