/* seq2seq/decode.c — decoding many sentences, greedy or by beam search,
 * rows split across threads. */
#include "seq2seq/decode.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/kernels.h"
#include "seq2seq/shortlist.h"

int s2s_decode_limit(const s2s_config *cfg, int src_len)
{
    int cap = cfg->decode.max_len;
    if (cfg->decode.max_len_ratio > 0) {
        double r = cfg->decode.max_len_ratio * src_len + 5;
        if (r < cap) cap = (int)r;
    }
    return cap;
}

void s2s_beam_opts_of(const s2s_config *cfg, s2s_beam_opts *o)
{
    memset(o, 0, sizeof *o);
    o->beam = cfg->decode.beam;
    o->nbest = 1;
    o->lp = strcmp(cfg->decode.length_penalty, "wu") == 0    ? S2S_LP_WU
            : strcmp(cfg->decode.length_penalty, "avg") == 0 ? S2S_LP_AVG
                                                             : S2S_LP_NONE;
    o->alpha = cfg->decode.alpha;
    o->beta = cfg->decode.beta;
    o->shortlist_per_word = cfg->decode.shortlist;
    o->shortlist_frequent = cfg->decode.shortlist_frequent;
}

/* Decoding over a lexical shortlist: a copy of the model whose vocabulary
 * is the batch's shortlist (its output rows and target embeddings
 * gathered; the specials keep their ids), then the ids mapped back. */
static void decode_shortlisted(const s2s_model *m, s2s_work **work,
                               int threads, const s2s_beam_opts *o, int B,
                               const uint32_t *src, int ld_src,
                               const int *src_len, const int *max_out,
                               uint32_t *out, int ld_out, int *out_len,
                               float *score, double *logprob, int *n_hyp,
                               float *align, int ld_align, int per_sentence)
{
    int V = m->V_tgt, H = m->dec[m->L_dec - 1].H, E = m->E;
    uint32_t *ids = s2s_xmalloc((size_t)V * sizeof *ids);
    int n = s2s_shortlist_select(o->shortlist, o->shortlist_frequent,
                                 o->shortlist_per_word, src, ld_src, src_len,
                                 B, ids);
    const float *P = m->params.w;
    float *w = s2s_xmalloc((size_t)n * H * sizeof *w);
    float *b = s2s_xmalloc((size_t)n * sizeof *b);
    float *e = s2s_xmalloc((size_t)n * E * sizeof *e);
    for (int i = 0; i < n; i++) {
        memcpy(w + (size_t)i * H, P + m->off_out_w + (size_t)ids[i] * H,
               (size_t)H * sizeof *w);
        b[i] = P[m->off_out_b + ids[i]];
        memcpy(e + (size_t)i * E, P + m->off_emb_tgt + (size_t)ids[i] * E,
               (size_t)E * sizeof *e);
    }
    s2s_model view = *m;
    view.V_tgt = n;
    view.view_out_w = w;
    view.view_out_b = b;
    view.view_emb_tgt = e;
    s2s_beam_opts plain = *o;
    plain.shortlist = NULL;
    s2s_decode_batch(&view, work, threads, &plain, B, src, ld_src, src_len,
                     max_out, out, ld_out, out_len, score, logprob, n_hyp,
                     align, ld_align);
    for (int s = 0; s < B; s++) {
        int hyps = n_hyp ? n_hyp[s] : 1;
        for (int h = 0; h < hyps; h++) {
            size_t at = (size_t)s * per_sentence + h;
            for (int i = 0; i < out_len[at]; i++)
                out[at * ld_out + i] = ids[out[at * ld_out + i]];
        }
    }
    free(ids);
    free(w);
    free(b);
    free(e);
}

/* One thread's rows. */
static void decode_rows(const s2s_model *m, s2s_work *w, const s2s_beam_opts *o,
                        int greedy, int B, const uint32_t *src, int ld_src,
                        const int *src_len, const int *max_out, uint32_t *out,
                        int ld_out, int *out_len, float *score, double *logprob,
                        int *n_hyp, float *align, int ld_align)
{
    if (greedy) {
        s2s_step_greedy(m, w, B, src, ld_src, src_len, max_out, out, ld_out,
                        out_len, align, ld_align);
        for (int b = 0; n_hyp && b < B; b++) n_hyp[b] = 1;
        return;
    }
    s2s_beam_search(m, w, o, B, src, ld_src, src_len, max_out, out, ld_out,
                    out_len, score, logprob, n_hyp, align, ld_align);
}

void s2s_decode_batch(const s2s_model *m, s2s_work **work, int threads,
                      const s2s_beam_opts *o, int B, const uint32_t *src,
                      int ld_src, const int *src_len, const int *max_out,
                      uint32_t *out, int ld_out, int *out_len, float *score,
                      double *logprob, int *n_hyp, float *align, int ld_align)
{
    int greedy = !o || (o->beam <= 1 && o->nbest <= 1 && !score && !logprob);
    int nb = greedy ? 1 : (o->nbest < 1 ? 1 : o->nbest);
    if (o && o->shortlist && o->shortlist_per_word > 0) {
        decode_shortlisted(m, work, threads, o, B, src, ld_src, src_len,
                           max_out, out, ld_out, out_len, score, logprob,
                           n_hyp, align, ld_align, nb);
        return;
    }
    int blas = s2s_blas_get_threads();
    if (B < 2 * threads) {
        /* too few rows to share out: one decoder, the BLAS threaded; a
         * beam's few-row products against frozen weights take the threads
         * instead (one pool at a time: the BLAS's spins meanwhile) */
        int few = !greedy && s2s_gemm_is_frozen(m->params.w);
        s2s_blas_set_threads(few ? 1 : threads);
        if (few) s2s_gemm_frozen_threads(threads);
        decode_rows(m, work[0], o, greedy, B, src, ld_src, src_len, max_out,
                    out, ld_out, out_len, score, logprob, n_hyp, align, ld_align);
        if (few) s2s_gemm_frozen_threads(1);
        s2s_blas_set_threads(blas);
        return;
    }
    s2s_blas_set_threads(1);
    /* rows split over the threads, the output layer shared (step.h) */
    int K = greedy ? 1 : (o->beam > 0 ? o->beam : 1);
    s2s_coop *coop = s2s_step_coop(m, work[0], threads, B * K);
    int share = s2s_step_coop_use(coop);
    double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int r0 = (int)((long)B * t / nt), r1 = (int)((long)B * (t + 1) / nt);
        size_t h0 = (size_t)r0 * nb;
        if (share && nt == threads) s2s_step_join(work[t], coop, t);
        if (r1 > r0)
            decode_rows(m, work[t], o, greedy, r1 - r0, src + (size_t)r0 * ld_src,
                        ld_src, src_len + r0, max_out + r0, out + h0 * ld_out,
                        ld_out, out_len + h0, score ? score + h0 : NULL,
                        logprob ? logprob + h0 : NULL, n_hyp ? n_hyp + r0 : NULL,
                        align ? align + h0 * ld_out * ld_align : NULL, ld_align);
        s2s_step_coop_drain(m, work[t]);
        s2s_step_join(work[t], NULL, 0);
    }
    if (share) s2s_step_coop_note(coop, omp_get_wtime() - t0);
    s2s_blas_set_threads(blas);
}
