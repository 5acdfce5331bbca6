/* seq2seq/decode.c — greedy decoding of many sentences, rows split across
 * threads. */
#include "seq2seq/decode.h"

#include <omp.h>

#include "core/kernels.h"

int s2s_decode_limit(const s2s_config *cfg, int src_len)
{
    int cap = cfg->decode.max_len;
    if (cfg->decode.max_len_ratio > 0) {
        double r = cfg->decode.max_len_ratio * src_len + 5;
        if (r < cap) cap = (int)r;
    }
    return cap;
}

void s2s_decode_batch(const s2s_model *m, s2s_work **work, int threads,
                      int B, const uint32_t *src, int ld_src,
                      const int *src_len, const int *max_out, uint32_t *out,
                      int ld_out, int *out_len, float *align, int ld_align)
{
    int blas = s2s_blas_get_threads();
    if (B < 2 * threads) {
        /* too few rows to share out: one decoder, the BLAS threaded */
        s2s_blas_set_threads(threads);
        s2s_step_greedy(m, work[0], B, src, ld_src, src_len, max_out, out,
                        ld_out, out_len, align, ld_align);
        s2s_blas_set_threads(blas);
        return;
    }
    s2s_blas_set_threads(1);
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int r0 = (int)((long)B * t / nt), r1 = (int)((long)B * (t + 1) / nt);
        if (r1 > r0)
            s2s_step_greedy(m, work[t], r1 - r0, src + (size_t)r0 * ld_src,
                            ld_src, src_len + r0, max_out + r0,
                            out + (size_t)r0 * ld_out, ld_out, out_len + r0,
                            align ? align + (size_t)r0 * ld_out * ld_align
                                  : NULL, ld_align);
    }
    s2s_blas_set_threads(blas);
}
