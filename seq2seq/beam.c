/* seq2seq/beam.c — batched beam search (see beam.h).
 *
 * The active hypotheses of all sentences are the rows of one decoder step,
 * grouped by sentence. Row r of step s holds s tokens; the tokens are kept
 * as back-pointers (the token each row added and the row it continued), so
 * a step copies no token sequences, only the decoder states of the rows
 * that go on (s2s_step_keep).
 */
#include "seq2seq/beam.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/kernels.h"
#include "tokenizer/vocab.h"

typedef struct cand {
    double logp;
    int row, rank;             /* continues `row`; rank of v among its tokens */
    uint32_t tok;
} cand;

typedef struct fin {
    double logp;
    float score;
    int len;                   /* output tokens, <eos> not counted */
    int order;                 /* when it finished, for stable ties */
    uint32_t *ids;             /* len */
    float *attn;               /* len x T, or NULL */
} fin;

typedef struct beam_state {
    int K, V, T, R;            /* beam, vocabulary, memory positions, max rows */
    int steps;                 /* history capacity */
    uint32_t *tok_hist;        /* (steps x R) token row r' of step s+1 added */
    int *par_hist;             /* (steps x R) the row of step s it continued */
    float *attn_hist;          /* (steps x R x T) weights of row r at step s */
} beam_state;

/* Candidates best first: log P, then the row, then the token's rank. */
static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logp != y->logp) return x->logp > y->logp ? -1 : 1;
    if (x->row != y->row) return x->row - y->row;
    return x->rank - y->rank;
}

static int fin_cmp(const void *a, const void *b)
{
    const fin *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->logp != y->logp) return x->logp > y->logp ? -1 : 1;
    return x->order - y->order;
}

/* Does any of z[0..16) beat t (z > t, false for NaN)? One vector
 * comparison where there are vectors. */
static inline int any_above(const float *z, float t)
{
#if defined(__AVX512F__)
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(z), _mm512_set1_ps(t), _CMP_GT_OQ) != 0;
#elif defined(__AVX__)
    __m256 tv = _mm256_set1_ps(t);
    return _mm256_movemask_ps(_mm256_or_ps(
               _mm256_cmp_ps(_mm256_loadu_ps(z), tv, _CMP_GT_OQ),
               _mm256_cmp_ps(_mm256_loadu_ps(z + 8), tv, _CMP_GT_OQ))) != 0;
#else
    int any = 0;
    for (int i = 0; i < 16; i++) any |= z[i] > t;
    return any;
#endif
}

/* The k largest logits of a row, largest first; ties go to the lower id,
 * as greedy decoding's arg-max. Once k are held, a block of 16 none of
 * which beats the k-th is skipped with one comparison: the insertions,
 * and so the result, are those of the plain scan. */
static int top_k(const float *z, int V, int k, uint32_t *ids)
{
    int n = 0;
    for (int v = 0; v < V; v++) {
        if (n == k && (v & 15) == 0 && v + 16 <= V && !any_above(z + v, z[ids[n - 1]])) {
            v += 15;
            continue;
        }
        if (n == k && !(z[v] > z[ids[n - 1]])) continue;
        int i = n < k ? n++ : n - 1;
        while (i > 0 && z[v] > z[ids[i - 1]]) {
            ids[i] = ids[i - 1];
            i--;
        }
        ids[i] = (uint32_t)v;
    }
    return n;
}

static float length_norm(const s2s_beam_opts *o, double logp, int len)
{
    switch (o->lp) {
    case S2S_LP_AVG: return (float)(logp / len);
    case S2S_LP_WU: return (float)(logp / pow((5.0 + len) / 6.0, o->alpha));
    default: return (float)logp;
    }
}

/* GNMT's coverage penalty over the weights of every output step (n rows
 * of T, mem_len positions). */
static float coverage(const float *attn, int n, int T, int mem_len,
                      float beta)
{
    double cp = 0;
    for (int i = 0; i < mem_len; i++) {
        double c = 0;
        for (int j = 0; j < n; j++) c += attn[(size_t)j * T + i];
        cp += log(c < 1.0 ? c : 1.0);
    }
    return (float)(beta * cp);
}

/* The s tokens of row r of step s, and with attention their weights. */
static void trace(const beam_state *bs, int r, int s, uint32_t *ids,
                  float *attn)
{
    for (int pos = s - 1; pos >= 0; pos--) {
        ids[pos] = bs->tok_hist[(size_t)pos * bs->R + r];
        r = bs->par_hist[(size_t)pos * bs->R + r];
        if (attn)
            memcpy(attn + (size_t)pos * bs->T,
                   bs->attn_hist + ((size_t)pos * bs->R + r) * bs->T,
                   (size_t)bs->T * sizeof(float));
    }
}

void s2s_beam_search(const s2s_model *m, s2s_work *w, const s2s_beam_opts *o,
                     int B, const uint32_t *src, int ld_src,
                     const int *src_len, const int *max_out, uint32_t *out,
                     int ld_out, int *out_len, float *score, double *logprob,
                     int *n_hyp, float *align, int ld_align)
{
    int K = o->beam > 0 ? o->beam : 1, V = m->V_tgt;
    int nbest = o->nbest < 1 ? 1 : o->nbest > K ? K : o->nbest;
    int nbest0 = o->nbest < 1 ? 1 : o->nbest > K ? K : o->nbest;
    for (int b = 0; b < B; b++) {
        /* an empty source translates to one empty hypothesis */
        size_t at = (size_t)b * nbest0;
        if (n_hyp) n_hyp[b] = 1;
        out_len[at] = 0;
        if (score) score[at] = 0;
        if (logprob) logprob[at] = 0;
    }
    int n = s2s_step_encode(m, w, B, src, ld_src, src_len, B * K);
    if (n == 0) return;
    const int *enc_row = s2s_step_encoded_rows(w); /* encoded row -> source */
    int attn = m->attn.kind != S2S_ATTN_NONE;
    int keep_attn = attn && (align || o->beta > 0);
    beam_state bs = {.K = K, .V = V, .R = n * K, .T = 1};
    int steps = 1;
    for (int k = 0; k < n; k++) {
        int b = enc_row[k];
        if (max_out[b] > steps) steps = max_out[b];
        if (src_len[b] > bs.T) bs.T = src_len[b];
    }
    bs.steps = steps;
    int R = bs.R, T = bs.T;
    bs.tok_hist = s2s_xmalloc((size_t)steps * R * sizeof *bs.tok_hist);
    bs.par_hist = s2s_xmalloc((size_t)steps * R * sizeof *bs.par_hist);
    bs.attn_hist = keep_attn ? s2s_xcalloc((size_t)(steps + 1) * R * T, sizeof(float))
                             : NULL;

    /* per encoded row: finished hypotheses (at most K) */
    fin *fins = s2s_xcalloc((size_t)n * K, sizeof *fins);
    int *nfin = s2s_xcalloc((size_t)n, sizeof *nfin);
    /* active rows of the current step */
    uint32_t *cur = s2s_xmalloc((size_t)R * sizeof *cur);
    int *sent = s2s_xmalloc((size_t)R * sizeof *sent);
    double *lp = s2s_xmalloc((size_t)R * sizeof *lp);
    uint32_t *ncur = s2s_xmalloc((size_t)R * sizeof *ncur);
    int *nsent = s2s_xmalloc((size_t)R * sizeof *nsent);
    double *nlp = s2s_xmalloc((size_t)R * sizeof *nlp);
    int *from = s2s_xmalloc((size_t)R * sizeof *from);
    int kk = K < V ? K : V;
    uint32_t *top = s2s_xmalloc((size_t)R * kk * sizeof *top);
    double *rowlse = s2s_xmalloc((size_t)R * sizeof *rowlse);
    float *rowmax = s2s_xmalloc((size_t)R * sizeof *rowmax);
    float *scratch = s2s_xmalloc((size_t)V * sizeof *scratch);
    cand *cands = s2s_xmalloc((size_t)K * kk * sizeof *cands);
    uint32_t *ids = s2s_xmalloc(((size_t)steps + 1) * sizeof *ids);
    float *fattn = keep_attn ? s2s_xmalloc(((size_t)steps + 1) * T * sizeof(float)) : NULL;
    int order = 0;

    int A = n;
    for (int k = 0; k < n; k++) {
        cur[k] = S2S_SOS;
        sent[k] = k;
        lp[k] = 0;
    }

    for (int s = 0; A > 0; s++) {
        s2s_step_decode(m, w, A, cur, sent);
        const float *logits = s2s_step_logits(w);
        for (int r = 0; r < A; r++) {
            const float *z = logits + (size_t)r * V;
            top_k(z, V, kk, top + (size_t)r * kk);
            s2s_logsumexp_row(z, V, scratch, &rowmax[r], &rowlse[r]);
            if (keep_attn)
                memcpy(bs.attn_hist + ((size_t)s * R + r) * T,
                       s2s_step_attention(w, r),
                       (size_t)s2s_step_memory_len(w, sent[r]) * sizeof(float));
        }
        int nA = 0;
        for (int r0 = 0, r1; r0 < A; r0 = r1) {
            int k = sent[r0], b = enc_row[k];
            for (r1 = r0; r1 < A && sent[r1] == k; r1++) {}
            int nc = 0;
            for (int r = r0; r < r1; r++)
                for (int i = 0; i < kk; i++) {
                    uint32_t v = top[(size_t)r * kk + i];
                    const float *z = logits + (size_t)r * V;
                    cands[nc++] = (cand){
                        .logp = lp[r] + ((double)(z[v] - rowmax[r]) - rowlse[r]),
                        .row = r, .rank = i, .tok = v};
                }
            qsort(cands, (size_t)nc, sizeof *cands, cand_cmp);
            int budget = K - nfin[k];
            if (max_out[b] <= 0) {
                /* no output allowed: one empty hypothesis */
                fins[(size_t)k * K] = (fin){.order = order++};
                fins[(size_t)k * K].ids = s2s_xmalloc(sizeof(uint32_t));
                nfin[k] = 1;
                budget = 0;
            }
            for (int c = 0; c < nc && c < budget; c++) {
                const cand *cd = &cands[c];
                int ended = cd->tok == S2S_EOS;
                if (!ended && s + 1 < max_out[b]) {
                    /* goes on */
                    ncur[nA] = cd->tok;
                    nsent[nA] = k;
                    nlp[nA] = cd->logp;
                    from[nA] = cd->row;
                    bs.tok_hist[(size_t)s * R + nA] = cd->tok;
                    bs.par_hist[(size_t)s * R + nA] = cd->row;
                    nA++;
                    continue;
                }
                /* finished: ended by <eos>, or at the length limit */
                fin *f = &fins[(size_t)k * K + nfin[k]++];
                int len = ended ? s : s + 1;
                trace(&bs, cd->row, s, ids, fattn);
                if (!ended) ids[s] = cd->tok;
                if (fattn) /* the weights of this step (of <eos>: coverage only) */
                    memcpy(fattn + (size_t)s * T,
                           bs.attn_hist + ((size_t)s * R + cd->row) * T,
                           (size_t)T * sizeof(float));
                f->logp = cd->logp;
                f->len = len;
                f->order = order++;
                f->score = length_norm(o, cd->logp, ended ? len + 1 : len);
                if (o->beta > 0 && fattn)
                    f->score += coverage(fattn, s + 1, T, src_len[b], o->beta);
                f->ids = s2s_xmalloc(((size_t)len + 1) * sizeof *f->ids);
                memcpy(f->ids, ids, (size_t)len * sizeof *ids);
                if (align && fattn) {
                    f->attn = s2s_xmalloc(((size_t)len + 1) * T * sizeof(float));
                    memcpy(f->attn, fattn, (size_t)len * T * sizeof(float));
                }
            }
        }
        if (nA) s2s_step_keep(m, w, nA, from);
        A = nA;
        uint32_t *tu = cur; cur = ncur; ncur = tu;
        int *ti = sent; sent = nsent; nsent = ti;
        double *td = lp; lp = nlp; nlp = td;
    }

    for (int k = 0; k < n; k++) {
        int b = enc_row[k];
        fin *fk = fins + (size_t)k * K;
        qsort(fk, (size_t)nfin[k], sizeof *fk, fin_cmp);
        int nh = nfin[k] < nbest ? nfin[k] : nbest;
        if (n_hyp) n_hyp[b] = nh;
        for (int h = 0; h < nh; h++) {
            size_t at = (size_t)b * nbest + h;
            int len = fk[h].len < ld_out ? fk[h].len : ld_out;
            if (len) memcpy(out + at * ld_out, fk[h].ids, (size_t)len * sizeof *out);
            out_len[at] = len;
            if (score) score[at] = fk[h].score;
            if (logprob) logprob[at] = fk[h].logp;
            if (align && fk[h].attn)
                for (int i = 0; i < len; i++)
                    memcpy(align + (at * ld_out + i) * ld_align,
                           fk[h].attn + (size_t)i * T,
                           (size_t)src_len[b] * sizeof(float));
        }
        for (int h = 0; h < nfin[k]; h++) {
            free(fk[h].ids);
            free(fk[h].attn);
        }
    }
    free(fins); free(nfin); free(cur); free(sent); free(lp); free(ncur);
    free(nsent); free(nlp); free(from); free(top); free(rowlse); free(rowmax);
    free(scratch); free(cands); free(ids); free(fattn);
    free(bs.tok_hist); free(bs.par_hist); free(bs.attn_hist);
}
