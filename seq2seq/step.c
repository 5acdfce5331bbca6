/* seq2seq/step.c — forward and backward through time of the whole model on
 * one thread's share of a batch, and greedy decoding.
 *
 * Sequences are packed time-major: at source step t the B_t rows whose
 * length exceeds t are rows 0..B_t-1 (rows sorted longest first), stored at
 * packed offset P_t. The decoder packs the same way over rows re-sorted by
 * target length (perm). Padding is never computed, so it cannot leak into
 * a final state or a gradient.
 */
#include "seq2seq/step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "core/phase.h"
#include "tokenizer/vocab.h"

#define L_MAX S2S_MAX_LAYERS

struct s2s_work {
    /* capacities the buffers below were sized for */
    int capB, capT, capU, capTrain;
    size_t capNe, capNd;

    /* packing of the current pass */
    int T, U, Ne, Nd;
    int *Bt, *Pt;          /* (T+1) rows running at t, packed offset of t */
    int *Du, *Qu;          /* (U+1) same for the decoder */
    int *perm;             /* (B) decoder row j is share row perm[j] */
    int *final_pos;        /* (B) packed position of row b's final state */
    uint32_t *ids_e, *ids_d, *gold_d; /* (Ne), (Nd), (Nd) */

    float *emb_e, *emb_d;  /* (Ne x E), (Nd x E) */
    float *xp_e[L_MAX], *st_e[L_MAX], *cache_e[L_MAX]; /* (Ne x GH|SH|K) */
    float *xp_d[L_MAX], *st_d[L_MAX], *cache_d[L_MAX]; /* (Nd x ...) */
    float *encfin[L_MAX];  /* (B x SH_e) final encoder states, decoder order */
    float *init_d[L_MAX];  /* (B x SH_d) decoder initial states */
    float *logits;         /* (Nd x V) logits, then their gradient */
    float *zeros;          /* (B x SHmax) */

    /* backward scratch */
    float *ds_a, *ds_b;    /* (Nmax x SHmax) state gradients of two layers */
    float *dxp;            /* (Nmax x GHmax) */
    float *dc_a, *dc_b;    /* (B x SHmax) gradient carried between steps */
    float *demb_e, *demb_d; /* (Ne x E), (Nd x E) embedding-row gradients,
                              kept until the trainer applies them */
    float *dinit[L_MAX];   /* (B x SH_d) */
    float *denc[L_MAX];    /* (B x SH_e) share order */
    float *dtmp;           /* (B x SHmax) */

    /* greedy decoding */
    uint32_t *src_sorted;  /* (B x T) */
    int *order, *len_sorted, *row_of; /* (B) */
    uint32_t *cur_ids;     /* (B) */
    float *gst[2][L_MAX];  /* (B x SH) ping-pong states */
    float *gxp, *gcache;   /* (B x GHmax), (B x Kmax) */

    int SHmax, GHmax, Kmax;
};

static const s2s_cell_host *host(void) { return s2s_cell_host_services(); }

/* ------------------------------------------------------------------------
 * Workspace */

static void *grow(void *p, size_t bytes)
{
    free(p);
    return s2s_xaligned(bytes ? bytes : 64);
}

#define GROWF(p, n) ((p) = grow((p), (size_t)(n) * sizeof(float)))
#define GROWI(p, n) ((p) = grow((p), (size_t)(n) * sizeof(int)))
#define GROWU(p, n) ((p) = grow((p), (size_t)(n) * sizeof(uint32_t)))

s2s_work *s2s_work_new(const s2s_model *m)
{
    s2s_work *w = s2s_xcalloc(1, sizeof *w);
    for (int l = 0; l < m->L_enc; l++) {
        const s2s_layer *L = &m->enc[l];
        if (L->S * L->H > w->SHmax) w->SHmax = L->S * L->H;
        if (L->G * L->H > w->GHmax) w->GHmax = L->G * L->H;
        if (L->K > w->Kmax) w->Kmax = L->K;
    }
    for (int l = 0; l < m->L_dec; l++) {
        const s2s_layer *L = &m->dec[l];
        if (L->S * L->H > w->SHmax) w->SHmax = L->S * L->H;
        if (L->G * L->H > w->GHmax) w->GHmax = L->G * L->H;
        if (L->K > w->Kmax) w->Kmax = L->K;
    }
    return w;
}

void s2s_work_free(s2s_work *w)
{
    if (!w) return;
    free(w->Bt); free(w->Pt); free(w->Du); free(w->Qu); free(w->perm);
    free(w->final_pos); free(w->ids_e); free(w->ids_d); free(w->gold_d);
    free(w->emb_e); free(w->emb_d); free(w->logits); free(w->zeros);
    free(w->ds_a); free(w->ds_b); free(w->dxp); free(w->dc_a); free(w->dc_b);
    free(w->demb_e); free(w->demb_d); free(w->dtmp); free(w->src_sorted); free(w->order);
    free(w->len_sorted); free(w->row_of); free(w->cur_ids); free(w->gxp);
    free(w->gcache);
    for (int l = 0; l < L_MAX; l++) {
        free(w->xp_e[l]); free(w->st_e[l]); free(w->cache_e[l]);
        free(w->xp_d[l]); free(w->st_d[l]); free(w->cache_d[l]);
        free(w->encfin[l]); free(w->init_d[l]); free(w->dinit[l]);
        free(w->denc[l]); free(w->gst[0][l]); free(w->gst[1][l]);
    }
    free(w);
}

/* What a pass keeps: greedy decoding keeps no decoder history, a loss
 * evaluation keeps it, training also needs the backward scratch. */
enum { FOR_GREEDY = 0, FOR_LOSS = 1, FOR_TRAIN = 2 };

/* Sizes the buffers for B rows, T source and U target steps, Ne and Nd
 * packed source and target rows (the sums of the lengths) and a pass of
 * kind `train` (FOR_*). Grows, never shrinks, so a training loop allocates
 * only in its first steps. */
static void work_reserve(const s2s_model *m, s2s_work *w, int B, int T, int U,
                         size_t Ne, size_t Nd, int train)
{
    if (B <= w->capB && T <= w->capT && U <= w->capU && Ne <= w->capNe &&
        Nd <= w->capNd && train <= w->capTrain)
        return;
    if (B < w->capB) B = w->capB;
    if (T < w->capT) T = w->capT;
    if (U < w->capU) U = w->capU;
    if (Ne < w->capNe) Ne = w->capNe;
    if (Nd < w->capNd) Nd = w->capNd;
    if (train < w->capTrain) train = w->capTrain;
    if (Nd < (size_t)B) Nd = (size_t)B; /* greedy decoding: one step of B rows */
    size_t Nmax = Ne > Nd ? Ne : Nd, Nb = train == FOR_TRAIN ? Nmax : 1;
    int E = m->E;

    GROWI(w->Bt, T + 1); GROWI(w->Pt, T + 1);
    GROWI(w->Du, U + 1); GROWI(w->Qu, U + 1);
    GROWI(w->perm, B); GROWI(w->final_pos, B);
    GROWU(w->ids_e, Ne); GROWU(w->ids_d, Nd); GROWU(w->gold_d, Nd);
    GROWF(w->emb_e, Ne * E); GROWF(w->emb_d, Nd * E);
    for (int l = 0; l < m->L_enc; l++) {
        const s2s_layer *L = &m->enc[l];
        GROWF(w->xp_e[l], Ne * L->G * L->H);
        GROWF(w->st_e[l], Ne * L->S * L->H);
        GROWF(w->cache_e[l], Ne * L->K);
        GROWF(w->denc[l], (size_t)B * L->S * L->H);
        GROWF(w->encfin[l], (size_t)B * L->S * L->H);
    }
    for (int l = 0; l < m->L_dec; l++) {
        const s2s_layer *L = &m->dec[l];
        size_t Nl = train >= FOR_LOSS ? Nd : 1;
        GROWF(w->xp_d[l], Nl * L->G * L->H);
        GROWF(w->st_d[l], Nl * L->S * L->H);
        GROWF(w->cache_d[l], Nl * L->K);
        GROWF(w->init_d[l], (size_t)B * L->S * L->H);
        GROWF(w->dinit[l], (size_t)B * L->S * L->H);
        GROWF(w->gst[0][l], (size_t)B * L->S * L->H);
        GROWF(w->gst[1][l], (size_t)B * L->S * L->H);
    }
    GROWF(w->logits, Nd * m->V_tgt);
    GROWF(w->zeros, (size_t)B * w->SHmax);
    memset(w->zeros, 0, (size_t)B * w->SHmax * sizeof(float));
    GROWF(w->ds_a, Nb * w->SHmax); GROWF(w->ds_b, Nb * w->SHmax);
    GROWF(w->dxp, Nb * w->GHmax);
    GROWF(w->dc_a, (size_t)B * w->SHmax); GROWF(w->dc_b, (size_t)B * w->SHmax);
    GROWF(w->demb_e, (train == FOR_TRAIN ? Ne : 1) * E); GROWF(w->demb_d, Nd * E);
    GROWF(w->dtmp, (size_t)B * w->SHmax);
    GROWU(w->src_sorted, (size_t)B * T);
    GROWI(w->order, B); GROWI(w->len_sorted, B); GROWI(w->row_of, B);
    GROWU(w->cur_ids, B);
    GROWF(w->gxp, (size_t)B * w->GHmax);
    GROWF(w->gcache, (size_t)B * (w->Kmax ? w->Kmax : 1));
    w->capB = B; w->capT = T; w->capU = U;
    w->capNe = Ne; w->capNd = Nd; w->capTrain = train;
}

/* ------------------------------------------------------------------------
 * Packing */

/* counts[t] = rows with len > t (len sorted descending over `order`),
 * offs[t] = packed offset of step t; returns the packed row count. */
static int pack_steps(const int *len, const int *order, int B, int T,
                      int *counts, int *offs)
{
    int n = B, off = 0;
    for (int t = 0; t < T; t++) {
        while (n > 0 && len[order ? order[n - 1] : n - 1] <= t) n--;
        counts[t] = n;
        offs[t] = off;
        off += n;
    }
    counts[T] = 0;
    offs[T] = off;
    return off;
}

static void embed(const float *table, int E, const uint32_t *ids, int n,
                  float *out)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * E, table + (size_t)ids[i] * E,
               (size_t)E * sizeof(float));
}

/* Adds the gradient rows whose ids fall in [lo, hi), in packed order. */
static void embed_backward(float *dtable, int E, const uint32_t *ids, int n,
                           const float *demb, uint32_t lo, uint32_t hi)
{
    for (int i = 0; i < n; i++)
        if (ids[i] >= lo && ids[i] < hi)
            s2s_add(dtable + (size_t)ids[i] * E, demb + (size_t)i * E,
                    (size_t)E);
}

/* ------------------------------------------------------------------------
 * One layer over a packed sequence */

static void layer_forward(const s2s_layer *L, const float *P, const float *x,
                          int ldx, int N, int T, const int *Bt,
                          const int *Pt, const float *init, float *xp,
                          float *st, float *cache)
{
    const float *p = P + L->off;
    int SH = L->S * L->H, GH = L->G * L->H;
    s2s_phase(S2S_PH_INPUT_PROJ);
    L->cell->project(host(), p, L->X, L->H, N, x, ldx, xp);
    s2s_phase(S2S_PH_RECURRENT);
    for (int t = 0; t < T; t++) {
        const float *prev = t ? st + (size_t)Pt[t - 1] * SH : init;
        L->cell->forward(host(), p, L->X, L->H, Bt[t], xp + (size_t)Pt[t] * GH,
                         prev, st + (size_t)Pt[t] * SH,
                         cache + (size_t)Pt[t] * L->K);
    }
    s2s_phase(S2S_PH_OTHER);
}

/* dst (N x SH) holds the loss gradient on every packed state from above
 * (and from final-state injections). Writes the gradient on the initial
 * state to dinit (Bt[0] x SH) when not NULL, and accumulates the input
 * gradient into dx (N x X, stride lddx) when not NULL. */
static void layer_backward(const s2s_layer *L, const float *P, float *g,
                           s2s_work *w, const float *x, int ldx, int N, int T,
                           const int *Bt, const int *Pt, const float *init,
                           const float *xp, const float *st, float *cache,
                           const float *dst, float *dinit, float *dx,
                           int lddx)
{
    const float *p = P + L->off;
    int SH = L->S * L->H, GH = L->G * L->H;
    float *dc = w->dc_a, *dp = w->dc_b;
    s2s_phase(S2S_PH_BWD_RECURRENT);
    for (int t = T - 1; t >= 0; t--) {
        int n = Bt[t], n_later = Bt[t + 1];
        /* rows ending at t carry nothing from later steps */
        memset(dc + (size_t)n_later * SH, 0,
               (size_t)(n - n_later) * SH * sizeof(float));
        s2s_add(dc, dst + (size_t)Pt[t] * SH, (size_t)n * SH);
        const float *prev = t ? st + (size_t)Pt[t - 1] * SH : init;
        L->cell->backward(host(), p, g, L->X, L->H, n,
                          xp + (size_t)Pt[t] * GH, prev,
                          st + (size_t)Pt[t] * SH,
                          cache + (size_t)Pt[t] * L->K, dc,
                          w->dxp + (size_t)Pt[t] * GH, dp);
        float *tmp = dc; dc = dp; dp = tmp;
    }
    if (dinit) memcpy(dinit, dc, (size_t)Bt[0] * SH * sizeof(float));
    s2s_phase(S2S_PH_BWD_INPUT_PROJ);
    L->cell->project_backward(host(), p, g, L->X, L->H, N, x, ldx, w->dxp,
                              dx, lddx);
    s2s_phase(S2S_PH_OTHER);
}

/* ------------------------------------------------------------------------
 * Encoder */

static void encoder_forward(const s2s_model *m, s2s_work *w, int B,
                            const uint32_t *src, int ld_src,
                            const int *src_len)
{
    const float *P = m->params.w;
    int T = src_len[0];
    w->T = T;
    w->Ne = pack_steps(src_len, NULL, B, T, w->Bt, w->Pt);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < w->Bt[t]; b++)
            w->ids_e[w->Pt[t] + b] = src[(size_t)b * ld_src + t];
    for (int b = 0; b < B; b++) w->final_pos[b] = w->Pt[src_len[b] - 1] + b;
    embed(P + m->off_emb_src, m->E, w->ids_e, w->Ne, w->emb_e);

    const float *x = w->emb_e;
    int ldx = m->E;
    for (int l = 0; l < m->L_enc; l++) {
        const s2s_layer *L = &m->enc[l];
        layer_forward(L, P, x, ldx, w->Ne, T, w->Bt, w->Pt, w->zeros,
                      w->xp_e[l], w->st_e[l], w->cache_e[l]);
        x = w->st_e[l];
        ldx = L->S * L->H;
    }
}

/* Decoder initial states for rows taken in the order rows[j] (share rows):
 * the encoder's final states, directly or through the bridge. */
static void handoff_forward(const s2s_model *m, s2s_work *w, int B,
                            const int *rows, float *const *init)
{
    const float *P = m->params.w;
    for (int l = 0; l < m->L_enc; l++) {
        int SH = m->enc[l].S * m->enc[l].H;
        for (int j = 0; j < B; j++)
            memcpy(w->encfin[l] + (size_t)j * SH,
                   w->st_e[l] + (size_t)w->final_pos[rows[j]] * SH,
                   (size_t)SH * sizeof(float));
    }
    for (int l = 0; l < m->L_dec; l++) {
        int SH = m->dec[l].S * m->dec[l].H;
        if (!m->use_bridge) {
            memcpy(init[l], w->encfin[l], (size_t)B * SH * sizeof(float));
            continue;
        }
        const s2s_bridge *br = &m->bridge[l];
        for (int j = 0; j < B; j++)
            memcpy(init[l] + (size_t)j * SH, P + br->off_b,
                   (size_t)SH * sizeof(float));
        s2s_gemm(0, 1, B, br->out, br->in, 1.0f, w->encfin[br->from], br->in,
                 P + br->off_w, br->in, 1.0f, init[l], SH);
    }
}

/* ------------------------------------------------------------------------
 * Output projection and loss */

static void project_logits(const s2s_model *m, const float *h, int ldh,
                           int n, float *logits)
{
    const float *P = m->params.w;
    int V = m->V_tgt, H = m->dec[m->L_dec - 1].H;
    s2s_phase(S2S_PH_OUTPUT_PROJ);
    for (int i = 0; i < n; i++)
        memcpy(logits + (size_t)i * V, P + m->off_out_b,
               (size_t)V * sizeof(float));
    s2s_gemm(0, 1, n, V, H, 1.0f, h, ldh, P + m->off_out_w, H, 1.0f, logits,
             V);
    s2s_phase(S2S_PH_OTHER);
}

/* Softmax cross-entropy of each row against gold; returns the summed NLL.
 * With scale != 0, replaces the logits by scale * d(NLL)/d(logits). */
static double softmax_xent(float *logits, int n, int V, const uint32_t *gold,
                           float scale)
{
    double nll = 0;
    s2s_phase(S2S_PH_SOFTMAX);
    for (int i = 0; i < n; i++)
        nll += s2s_xent_row(logits + (size_t)i * V, V, gold[i], scale);
    s2s_phase(S2S_PH_OTHER);
    return nll;
}

static uint32_t argmax_row(const float *z, int V)
{
    int best = 0;
    for (int v = 1; v < V; v++)
        if (z[v] > z[best]) best = v;
    return (uint32_t)best;
}

/* ------------------------------------------------------------------------
 * Decoder over a packed target (training and loss) */

static void decoder_pack(const s2s_model *m, s2s_work *w, const s2s_seqs *s)
{
    (void)m;
    int B = s->B;
    /* stable insertion sort of rows by target length, longest first */
    for (int b = 0; b < B; b++) {
        int j = b;
        while (j > 0 && s->tgt_len[w->perm[j - 1]] < s->tgt_len[b]) {
            w->perm[j] = w->perm[j - 1];
            j--;
        }
        w->perm[j] = b;
    }
    int U = s->tgt_len[w->perm[0]];
    w->U = U;
    w->Nd = pack_steps(s->tgt_len, w->perm, B, U, w->Du, w->Qu);
    for (int u = 0; u < U; u++)
        for (int j = 0; j < w->Du[u]; j++) {
            size_t at = (size_t)w->perm[j] * s->ld_tgt + u;
            w->ids_d[w->Qu[u] + j] = s->tgt_in[at];
            w->gold_d[w->Qu[u] + j] = s->tgt_out[at];
        }
}

/* Teacher-forced decoder forward, layer by layer (each layer's input
 * projection over all steps in one GEMM). */
static void decoder_forward_teacher(const s2s_model *m, s2s_work *w)
{
    const float *P = m->params.w;
    embed(P + m->off_emb_tgt, m->E, w->ids_d, w->Nd, w->emb_d);
    const float *x = w->emb_d;
    int ldx = m->E;
    for (int l = 0; l < m->L_dec; l++) {
        const s2s_layer *L = &m->dec[l];
        layer_forward(L, P, x, ldx, w->Nd, w->U, w->Du, w->Qu, w->init_d[l],
                      w->xp_d[l], w->st_d[l], w->cache_d[l]);
        x = w->st_d[l];
        ldx = L->S * L->H;
    }
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    project_logits(m, w->st_d[m->L_dec - 1], top->S * top->H, w->Nd,
                   w->logits);
}

/* Decoder forward step by step, feeding the model's own previous arg-max
 * with probability 1 - tf_ratio. The packed buffers end up laid out as in
 * the teacher-forced pass, so the backward pass is the same. */
static void decoder_forward_sampled(const s2s_model *m, s2s_work *w,
                                    float tf_ratio, s2s_rng *rng)
{
    const float *P = m->params.w;
    int E = m->E, V = m->V_tgt;
    for (int u = 0; u < w->U; u++) {
        int n = w->Du[u], q = w->Qu[u];
        if (u > 0)
            for (int j = 0; j < n; j++)
                if (s2s_rng_float(rng) >= tf_ratio)
                    w->ids_d[q + j] = argmax_row(
                        w->logits + (size_t)(w->Qu[u - 1] + j) * V, V);
        embed(P + m->off_emb_tgt, E, w->ids_d + q, n, w->emb_d + (size_t)q * E);
        const float *x = w->emb_d + (size_t)q * E;
        int ldx = E;
        for (int l = 0; l < m->L_dec; l++) {
            const s2s_layer *L = &m->dec[l];
            const float *p = P + L->off;
            int SH = L->S * L->H, GH = L->G * L->H;
            float *xp = w->xp_d[l] + (size_t)q * GH;
            float *st = w->st_d[l] + (size_t)q * SH;
            s2s_phase(S2S_PH_INPUT_PROJ);
            L->cell->project(host(), p, L->X, L->H, n, x, ldx, xp);
            s2s_phase(S2S_PH_RECURRENT);
            const float *prev =
                u ? w->st_d[l] + (size_t)w->Qu[u - 1] * SH : w->init_d[l];
            L->cell->forward(host(), p, L->X, L->H, n, xp, prev, st,
                             w->cache_d[l] + (size_t)q * L->K);
            s2s_phase(S2S_PH_OTHER);
            x = st;
            ldx = SH;
        }
        project_logits(m, x, ldx, n, w->logits + (size_t)q * V);
    }
}

/* ------------------------------------------------------------------------
 * Backward */

/* G points at the gradient of parameter m->off_dense (the dense part:
 * everything but the embeddings, whose row gradients stay in w). */
static void model_backward(const s2s_model *m, s2s_work *w, int B, float *Gd)
{
#define G_AT(off) (Gd + ((off) - m->off_dense))
    const float *P = m->params.w;
    int E = m->E, V = m->V_tgt;
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    int SHt = top->S * top->H;

    /* output projection: dlogits are in w->logits */
    s2s_phase(S2S_PH_BWD_OUTPUT);
    s2s_gemm(1, 0, V, top->H, w->Nd, 1.0f, w->logits, V,
             w->st_d[m->L_dec - 1], SHt, 1.0f, G_AT(m->off_out_w), top->H);
    float *db = G_AT(m->off_out_b);
    for (int i = 0; i < w->Nd; i++) s2s_add(db, w->logits + (size_t)i * V, V);
    float *cur = w->ds_a, *below = w->ds_b;
    memset(cur, 0, (size_t)w->Nd * SHt * sizeof(float));
    s2s_gemm(0, 0, w->Nd, top->H, V, 1.0f, w->logits, V, P + m->off_out_w,
             top->H, 0.0f, cur, SHt);
    s2s_phase(S2S_PH_OTHER);

    /* decoder layers, top down */
    for (int l = m->L_dec - 1; l >= 0; l--) {
        const s2s_layer *L = &m->dec[l];
        float *dx;
        int lddx;
        if (l > 0) {
            lddx = m->dec[l - 1].S * m->dec[l - 1].H;
            dx = below;
        } else {
            lddx = E;
            dx = w->demb_d;
        }
        memset(dx, 0, (size_t)w->Nd * lddx * sizeof(float));
        const float *x = l ? w->st_d[l - 1] : w->emb_d;
        layer_backward(L, P, G_AT(L->off), w, x, lddx, w->Nd, w->U, w->Du, w->Qu,
                       w->init_d[l], w->xp_d[l], w->st_d[l], w->cache_d[l],
                       cur, w->dinit[l], dx, lddx);
        float *tmp = cur; cur = below; below = tmp;
    }

    /* handoff: gradients on the encoder's final states, share order */
    for (int l = 0; l < m->L_enc; l++)
        memset(w->denc[l], 0,
               (size_t)B * m->enc[l].S * m->enc[l].H * sizeof(float));
    for (int l = 0; l < m->L_dec; l++) {
        int SHd = m->dec[l].S * m->dec[l].H;
        const float *dfin = w->dinit[l];
        int from = l, SHe = SHd;
        if (m->use_bridge) {
            const s2s_bridge *br = &m->bridge[l];
            from = br->from;
            SHe = br->in;
            s2s_gemm(1, 0, br->out, br->in, B, 1.0f, w->dinit[l], SHd,
                     w->encfin[from], br->in, 1.0f, G_AT(br->off_w), br->in);
            for (int j = 0; j < B; j++)
                s2s_add(G_AT(br->off_b), w->dinit[l] + (size_t)j * SHd, SHd);
            s2s_gemm(0, 0, B, br->in, br->out, 1.0f, w->dinit[l], SHd,
                     P + br->off_w, br->in, 0.0f, w->dtmp, br->in);
            dfin = w->dtmp;
        }
        for (int j = 0; j < B; j++)
            s2s_add(w->denc[from] + (size_t)w->perm[j] * SHe,
                    dfin + (size_t)j * SHe, SHe);
    }

    /* encoder layers, top down */
    for (int l = m->L_enc - 1; l >= 0; l--) {
        const s2s_layer *L = &m->enc[l];
        int SH = L->S * L->H;
        if (l == m->L_enc - 1) memset(cur, 0, (size_t)w->Ne * SH * sizeof(float));
        for (int b = 0; b < B; b++)
            s2s_add(cur + (size_t)w->final_pos[b] * SH,
                    w->denc[l] + (size_t)b * SH, SH);
        float *dx;
        int lddx;
        if (l > 0) {
            lddx = m->enc[l - 1].S * m->enc[l - 1].H;
            dx = below;
        } else {
            lddx = E;
            dx = w->demb_e;
        }
        memset(dx, 0, (size_t)w->Ne * lddx * sizeof(float));
        const float *x = l ? w->st_e[l - 1] : w->emb_e;
        layer_backward(L, P, G_AT(L->off), w, x, lddx, w->Ne, w->T, w->Bt, w->Pt,
                       w->zeros, w->xp_e[l], w->st_e[l], w->cache_e[l], cur,
                       NULL, dx, lddx);
        float *tmp = cur; cur = below; below = tmp;
    }
#undef G_AT
}

/* ------------------------------------------------------------------------
 * Entry points */

static double forward_loss(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                           float tf_ratio, s2s_rng *rng, float scale)
{
    int B = s->B, T = s->src_len[0], U = 0;
    size_t Ne = 0, Nd = 0;
    for (int b = 0; b < B; b++) {
        U = s->tgt_len[b] > U ? s->tgt_len[b] : U;
        Ne += (size_t)s->src_len[b];
        Nd += (size_t)s->tgt_len[b];
    }
    work_reserve(m, w, B, T, U, Ne, Nd, scale != 0.0f ? FOR_TRAIN : FOR_LOSS);
    encoder_forward(m, w, B, s->src, s->ld_src, s->src_len);
    decoder_pack(m, w, s);
    handoff_forward(m, w, B, w->perm, w->init_d);
    if (tf_ratio >= 1.0f)
        decoder_forward_teacher(m, w);
    else
        decoder_forward_sampled(m, w, tf_ratio, rng);
    return softmax_xent(w->logits, w->Nd, m->V_tgt, w->gold_d, scale);
}

double s2s_step_train_dense(const s2s_model *m, s2s_work *w,
                            const s2s_seqs *s, float *grad_dense,
                            float scale, float tf_ratio, s2s_rng *rng)
{
    if (s->B == 0) {
        w->Ne = w->Nd = 0; /* no embedding rows to apply */
        return 0;
    }
    double nll = forward_loss(m, w, s, tf_ratio, rng, scale);
    model_backward(m, w, s->B, grad_dense);
    return nll;
}

void s2s_step_embed_grad(const s2s_model *m, const s2s_work *w, float *grad,
                         uint32_t src_lo, uint32_t src_hi, uint32_t tgt_lo,
                         uint32_t tgt_hi)
{
    embed_backward(grad + m->off_emb_src, m->E, w->ids_e, w->Ne, w->demb_e,
                   src_lo, src_hi);
    embed_backward(grad + m->off_emb_tgt, m->E, w->ids_d, w->Nd, w->demb_d,
                   tgt_lo, tgt_hi);
}

void s2s_step_embed_clear(const s2s_model *m, const s2s_work *w, float *grad)
{
    size_t E = (size_t)m->E;
    for (int i = 0; i < w->Ne; i++)
        memset(grad + m->off_emb_src + w->ids_e[i] * E, 0, E * sizeof(float));
    for (int i = 0; i < w->Nd; i++)
        memset(grad + m->off_emb_tgt + w->ids_d[i] * E, 0, E * sizeof(float));
}

/* Rows ids[0..n) of a table at flat offset off, restricted to [lo, hi):
 * adds demb's rows there (demb != NULL) or clears them. */
static void embed_span(float *grad, size_t off, size_t rows, int E,
                       const uint32_t *ids, int n, const float *demb,
                       size_t lo, size_t hi)
{
    size_t end = off + rows * (size_t)E;
    if (hi <= off || lo >= end) return;
    for (int i = 0; i < n; i++) {
        size_t a = off + (size_t)ids[i] * E, b = a + (size_t)E;
        size_t a1 = a > lo ? a : lo, b1 = b < hi ? b : hi;
        if (a1 >= b1) continue;
        if (demb)
            s2s_add(grad + a1, demb + (size_t)i * E + (a1 - a), b1 - a1);
        else
            memset(grad + a1, 0, (b1 - a1) * sizeof(float));
    }
}

void s2s_step_embed_grad_span(const s2s_model *m, const s2s_work *w,
                              float *grad, size_t lo, size_t hi)
{
    embed_span(grad, m->off_emb_src, (size_t)m->V_src, m->E, w->ids_e, w->Ne,
               w->demb_e, lo, hi);
    embed_span(grad, m->off_emb_tgt, (size_t)m->V_tgt, m->E, w->ids_d, w->Nd,
               w->demb_d, lo, hi);
}

void s2s_step_embed_clear_span(const s2s_model *m, const s2s_work *w,
                               float *grad, size_t lo, size_t hi)
{
    embed_span(grad, m->off_emb_src, (size_t)m->V_src, m->E, w->ids_e, w->Ne,
               NULL, lo, hi);
    embed_span(grad, m->off_emb_tgt, (size_t)m->V_tgt, m->E, w->ids_d, w->Nd,
               NULL, lo, hi);
}

size_t s2s_step_embed_count(const s2s_work *w)
{
    return (size_t)w->Ne + (size_t)w->Nd;
}

static size_t rows_in(size_t off, int E, const uint32_t *ids, int n,
                      size_t lo, size_t hi, size_t *starts)
{
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        size_t a = off + (size_t)ids[i] * E;
        if (a < hi && a + (size_t)E > lo) starts[k++] = a;
    }
    return k;
}

size_t s2s_step_embed_rows(const s2s_model *m, const s2s_work *w, size_t lo,
                           size_t hi, size_t *starts)
{
    size_t k = rows_in(m->off_emb_src, m->E, w->ids_e, w->Ne, lo, hi, starts);
    return k + rows_in(m->off_emb_tgt, m->E, w->ids_d, w->Nd, lo, hi, starts + k);
}

double s2s_step_train(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                      float *grad, float scale, float tf_ratio, s2s_rng *rng)
{
    double nll = s2s_step_train_dense(m, w, s, grad + m->off_dense, scale,
                                      tf_ratio, rng);
    s2s_step_embed_grad(m, w, grad, 0, (uint32_t)m->V_src, 0,
                        (uint32_t)m->V_tgt);
    return nll;
}

double s2s_step_loss(const s2s_model *m, s2s_work *w, const s2s_seqs *s)
{
    if (s->B == 0) return 0;
    return forward_loss(m, w, s, 1.0f, NULL, 0.0f);
}

/* ------------------------------------------------------------------------
 * Greedy decoding */

void s2s_step_greedy(const s2s_model *m, s2s_work *w, int B,
                     const uint32_t *src, int ld_src, const int *src_len,
                     const int *max_out, uint32_t *out, int ld_out,
                     int *out_len)
{
    const float *P = m->params.w;
    int E = m->E, V = m->V_tgt;
    int T = 0;
    size_t Ne = 0;
    for (int b = 0; b < B; b++) {
        out_len[b] = 0;
        T = src_len[b] > T ? src_len[b] : T;
        Ne += (size_t)(src_len[b] > 0 ? src_len[b] : 0);
    }
    work_reserve(m, w, B, T > 0 ? T : 1, 1, Ne, (size_t)B, FOR_GREEDY);

    /* rows with a source, longest first (empty sources translate to "") */
    int n = 0;
    for (int b = 0; b < B; b++)
        if (src_len[b] > 0 && max_out[b] > 0) w->order[n++] = b;
    for (int i = 1; i < n; i++) {
        int r = w->order[i], j = i;
        while (j > 0 && src_len[w->order[j - 1]] < src_len[r]) {
            w->order[j] = w->order[j - 1];
            j--;
        }
        w->order[j] = r;
    }
    if (n == 0) return;
    for (int j = 0; j < n; j++) {
        int r = w->order[j];
        w->len_sorted[j] = src_len[r];
        memcpy(w->src_sorted + (size_t)j * T, src + (size_t)r * ld_src,
               (size_t)src_len[r] * sizeof(uint32_t));
    }
    encoder_forward(m, w, n, w->src_sorted, T, w->len_sorted);
    for (int j = 0; j < n; j++) w->perm[j] = j;
    float *const *st = w->gst[0];
    handoff_forward(m, w, n, w->perm, w->gst[0]);

    int cur = 0;
    for (int j = 0; j < n; j++) {
        w->row_of[j] = w->order[j];
        w->cur_ids[j] = S2S_SOS;
    }
    while (n > 0) {
        embed(P + m->off_emb_tgt, E, w->cur_ids, n, w->demb_d);
        const float *x = w->demb_d;
        int ldx = E;
        st = w->gst[cur];
        float *const *nx = w->gst[cur ^ 1];
        for (int l = 0; l < m->L_dec; l++) {
            const s2s_layer *L = &m->dec[l];
            const float *p = P + L->off;
            s2s_phase(S2S_PH_INPUT_PROJ);
            L->cell->project(host(), p, L->X, L->H, n, x, ldx, w->gxp);
            s2s_phase(S2S_PH_RECURRENT);
            L->cell->forward(host(), p, L->X, L->H, n, w->gxp, st[l], nx[l],
                             w->gcache);
            s2s_phase(S2S_PH_OTHER);
            x = nx[l];
            ldx = L->S * L->H;
        }
        project_logits(m, x, ldx, n, w->logits);
        /* keep the unfinished rows, packed to the front */
        int kept = 0;
        s2s_phase(S2S_PH_SOFTMAX); /* the arg-max, decoding's "softmax" */
        for (int j = 0; j < n; j++) {
            int r = w->row_of[j];
            uint32_t tok = argmax_row(w->logits + (size_t)j * V, V);
            if (tok == S2S_EOS) continue;
            out[(size_t)r * ld_out + out_len[r]++] = tok;
            if (out_len[r] >= max_out[r]) continue;
            if (kept != j)
                for (int l = 0; l < m->L_dec; l++) {
                    int SH = m->dec[l].S * m->dec[l].H;
                    memcpy(nx[l] + (size_t)kept * SH, nx[l] + (size_t)j * SH,
                           (size_t)SH * sizeof(float));
                }
            w->row_of[kept] = r;
            w->cur_ids[kept] = tok;
            kept++;
        }
        s2s_phase(S2S_PH_OTHER);
        n = kept;
        cur ^= 1;
    }
}
