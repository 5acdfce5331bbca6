/* seq2seq/step.c — forward and backward through time of the whole model on
 * one thread's share of a batch, and the decoder step every decoding loop
 * is built on.
 *
 * Sequences are packed time-major: at source step t the B_t rows whose
 * length exceeds t are rows 0..B_t-1 (rows sorted longest first), stored at
 * packed offset P_t. The decoder packs the same way over rows re-sorted by
 * target length (perm). Padding is never computed, so it cannot leak into
 * a final state, an attention weight or a gradient.
 *
 * The encoder produces the final state of every layer (the context, handed
 * to the decoder directly or through the bridge) and the memory: the top
 * layer's output at every source position, batch-major (B x T x D) with
 * each sentence's own length, which attention reads.
 *
 * The decoder is one primitive, decoder_span: the steps u0..u1-1 of the
 * packed layout, from the previous tokens, the states before u0 and the
 * memory, to the states, attention weights and logits of those steps.
 * Teacher forcing runs it once over the whole target (each layer's input
 * projection one GEMM) when no step's input depends on the step before;
 * input feeding, sampled inputs and greedy decoding run it one step at a
 * time. decoder_span_backward is its reverse, over the same spans.
 */
#include "seq2seq/step.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "core/kernels.h"
#include "core/loader.h"
#include "core/phase.h"
#include "core/screen.h"
#include "tokenizer/vocab.h"

#define L_MAX S2S_MAX_LAYERS

struct s2s_work {
    /* capacities the buffers below were sized for */
    int capB, capT, capU, capTrain;
    size_t capNe, capNd;
    int capV;              /* target vocabulary logits was sized for (a
                              shortlist's differs from batch to batch) */

    /* packing of the current pass */
    int T, U, Ne, Nd;
    int *Bt, *Pt;          /* (T+1) rows running at t, packed offset of t */
    int *Du, *Qu;          /* (U+1) same for the decoder */
    int *perm;             /* (B) decoder row j is share row perm[j] */
    int *final_pos;        /* (B) packed position of row b's final state */
    int *rev;              /* (Ne) position p=(b,t) -> (b, len_b-1-t) */
    uint32_t *ids_e, *ids_d, *gold_d; /* (Ne), (Nd), (Nd) */
    float drop;            /* dropout of this pass (0: none) */
    s2s_rng *rng;          /* draws of this pass (dropout masks) */

    /* encoder */
    float *emb_e;          /* (Ne x E) */
    float *xp_e[L_MAX], *st_e[L_MAX], *cache_e[L_MAX]; /* (Ne x GH|SH|K) */
    float *xr_e[L_MAX];    /* (Ne x X) reversed input of a bidirectional layer */
    float *xp_r[L_MAX], *st_r[L_MAX], *cache_r[L_MAX]; /* its backward pass */
    float *out_e[L_MAX];   /* (Ne x 2H) both directions' h, forward first */
    float *xin_e[L_MAX];   /* (Ne x X) layer l>0's input after dropout */
    float *mask_e[L_MAX];  /* (Ne x X) dropout masks of layer l's input */

    /* memory (attention), rows in share order */
    int Tm;                /* positions per memory row */
    float *mem;            /* (B x Tm x D) */
    float *keys;           /* (B x Tm x H|A) general: W_a m; mlp: W_a m */
    int *mlen;             /* (B) */
    int *mrow;             /* (B) memory row of decoder row j */

    /* decoder */
    float *emb_d;          /* (Nd x E) */
    float *mask_d[L_MAX];  /* (Nd x X) dropout masks of layer l's input */
    float *xin_d[L_MAX];   /* (Nd x X) layer l's input when not a plain copy */
    float *xp_d[L_MAX], *st_d[L_MAX], *cache_d[L_MAX]; /* (Nd x ...) */
    float *attn;           /* (Nd x Tm) attention weights */
    float *cat;            /* (Nd x (D+H)) [c; h] */
    float *ht;             /* (Nd x H) attentional state h~ */
    float *feed;           /* (Nd x H) the output layer's input after dropout */
    float *mask_o;         /* (Nd x H) its dropout mask */
    float *wq;             /* (Nd x A) mlp: W_q h + b_q */
    float *scratch;        /* (A + T) */
    float *encfin[L_MAX];  /* (B x SH_e) final encoder states, decoder order */
    float *init_d[L_MAX];  /* (B x SH_d) decoder initial states */
    float *logits;         /* (Nd x V) logits, then their gradient */
    float *zeros;          /* (B x Wmax) */

    /* backward scratch */
    float *ds_a, *ds_b;    /* (Nmax x Wmax) gradients of two layers */
    float *dst_r;          /* (Ne x SHmax) reversed layer's state gradient */
    float *dxr;            /* (Ne x Xmax) reversed layer's input gradient */
    float *dxp;            /* (Nmax x GHmax) */
    float *dc_a, *dc_b;    /* (B x SHmax) gradient carried between steps */
    float *dcar[L_MAX];    /* (B x SH) carried between decoder spans */
    float *dfd;            /* (Nd x H) gradient on the output layer's input */
    float *dcat;           /* (Nd x (D+H)) */
    float *dmem, *dkeys;   /* like mem, keys */
    float *dwq;            /* (Nd x A) */
    float *demb_e, *demb_d; /* (Ne x E), (Nd x E) embedding-row gradients,
                              kept until the trainer applies them */
    float *dinit[L_MAX];   /* (B x SH_d) */
    float *denc[L_MAX];    /* (B x SH_e) share order */
    float *dtmp;           /* (B x SHmax) */
    float *hprev;          /* (rows x H) h_{t-1} of every step of a layer */
    size_t hprev_cap;      /* floats */

    /* greedy decoding */
    uint32_t *src_sorted;  /* (B x T) */
    int *order, *len_sorted, *row_of; /* (B) */
    float *gst[L_MAX];     /* (B x SH) states before the step */
    float *gfeed;          /* (B x H) h~ before the step */
    const float *lg;       /* the last step's logits: w->logits or shared */
    s2s_coop *coop;        /* the output layer shared with other threads */
    int coop_t;            /* this thread's index in it */
    s2s_coop *coop_own;    /* the one this work lends its threads (thread 0) */
    s2s_screen *screen;    /* the output layer's arg-max (core/screen.c) */
    long screen_of;        /* the freeze of the weights it was made from */
    int greedy;            /* decoding greedily (s2s_step_greedy; until
                              s2s_step_decode): arg-maxes, not logits */
    int tok_valid;         /* the last step gave tok[], not logits */
    int tok_cap;
    uint32_t *tok;         /* (tok_cap) each row's arg-max */
    float *tok_z;          /* (tok_cap) scratch: its logit */

    int SHmax, GHmax, Kmax, Wmax, Xmax;
};

static const s2s_cell_host *host(void) { return s2s_cell_host_services(); }

/* Whether environment variable `name` is set to `value`, read once into
 * *cache (-1 until then): switches asked at every step, by several
 * threads at once. */
static int env_is(_Atomic int *cache, const char *name, const char *value)
{
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = e && strcmp(e, value) == 0;
    }
    return *cache;
}

/* Whether the host adds layer L's recurrent weight gradient over whole
 * sequences (cells/cell.h): when its cell says where W_rec is, unless
 * S2S_PER_STEP_GRAD=1 asks for the cell's own product at every step (to
 * compare). */
static s2s_cell_rec_off_fn sums_steps(const s2s_layer *L)
{
    static _Atomic int per_step = -1;
    return env_is(&per_step, "S2S_PER_STEP_GRAD", "1") ? NULL
                                                      : s2s_cell_recurrent_offset(L->cell);
}

/* dW_rec += dxp^T . h_{t-1} over steps t0..t1-1 of a layer, as one GEMM:
 * the rows of step t are dxp's at Pt[t], and their h_{t-1} the first H of
 * the first Bt[t] rows of step t-1 (rows are longest first), or of init
 * at t0. */
static void recurrent_grad(const s2s_layer *L, float *dw, s2s_work *w,
                           int t0, int t1, const int *Bt, const int *Pt,
                           const float *init, const float *st)
{
    int H = L->H, SH = L->S * L->H, GH = L->G * L->H;
    size_t N = (size_t)(Pt[t1] - Pt[t0]);
    if (N == 0) return;
    if (N * H > w->hprev_cap) {
        free(w->hprev);
        w->hprev = s2s_xaligned(N * H * sizeof(float));
        w->hprev_cap = N * H;
    }
    for (int t = t0; t < t1; t++) {
        const float *prev = t > t0 ? st + (size_t)Pt[t - 1] * SH : init;
        float *dst = w->hprev + (size_t)(Pt[t] - Pt[t0]) * H;
        for (int r = 0; r < Bt[t]; r++)
            memcpy(dst + (size_t)r * H, prev + (size_t)r * SH, (size_t)H * sizeof(float));
    }
    s2s_gemm(1, 0, GH, H, (int)N, 1.0f, w->dxp + (size_t)Pt[t0] * GH, GH,
             w->hprev, H, 1.0f, dw, H);
}

static int has_attn(const s2s_model *m) { return m->attn.kind != S2S_ATTN_NONE; }

/* The output layer and target embeddings decoding reads: a shortlist's
 * rows (model.h) or the parameters' own. */
static const float *out_w(const s2s_model *m)
{
    return m->view_out_w ? m->view_out_w : m->params.w + m->off_out_w;
}
static const float *out_b(const s2s_model *m)
{
    return m->view_out_b ? m->view_out_b : m->params.w + m->off_out_b;
}
static const float *emb_tgt(const s2s_model *m)
{
    return m->view_emb_tgt ? m->view_emb_tgt : m->params.w + m->off_emb_tgt;
}

/* Width of the fed-back / output-layer input h~ (the decoder's top h). */
static int top_H(const s2s_model *m) { return m->dec[m->L_dec - 1].H; }

/* Threads that decode rows of their own but share the output layer: after
 * each step every thread's output-layer input rows are gathered, and
 * thread t computes the logits of all of them over its slice of the
 * vocabulary (one GEMM of all rows against 1/threads of the output
 * matrix, instead of every thread repacking all of it for its own rows). */
struct s2s_coop {
    int nt, cap, capT;     /* threads, rows, room in gath */
    int capV;              /* vocabulary logits has room for (a shortlist's
                              is smaller than the model's) */
    int *n;                /* (nt) rows each thread put in this step */
    const float **rows;    /* (nt) where they are */
    int *ld;               /* (nt) their stride */
    float *logits;         /* (cap x V) all rows, thread order */
    float **gath;          /* (nt) (cap x H) each thread's gathered input */
    double *wait;          /* (nt) seconds each thread spent at the barriers */
    int *argmax;           /* (nt) each thread can take arg-maxes this round */
    uint32_t *best;        /* (cap x nt) each row's arg-max in each slice */
    float *best_z;         /* (cap x nt) its logit */
    int skip;              /* calls to run without sharing (s2s_step_coop_use) */
    int mode;              /* 1 always share, 0 never, -1 as measured */
};

static void coop_free(s2s_coop *c)
{
    if (!c) return;
    for (int t = 0; t < c->capT; t++) free(c->gath[t]);
    free(c->gath); free(c->n); free(c->rows); free(c->ld); free(c->logits);
    free(c->wait); free(c->argmax); free(c->best); free(c->best_z); free(c);
}

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

static int imax(int a, int b) { return a > b ? a : b; }

static void note_layer(s2s_work *w, const s2s_layer *L)
{
    w->SHmax = imax(w->SHmax, L->S * L->H);
    w->GHmax = imax(w->GHmax, L->G * L->H);
    w->Kmax = imax(w->Kmax, L->K);
    w->Xmax = imax(w->Xmax, L->X);
}

s2s_work *s2s_work_new(const s2s_model *m)
{
    s2s_work *w = s2s_xcalloc(1, sizeof *w);
    for (int l = 0; l < m->L_enc; l++) {
        note_layer(w, &m->enc[l]);
        w->Wmax = imax(w->Wmax, s2s_enc_width(m, l));
    }
    for (int l = 0; l < m->L_dec; l++) note_layer(w, &m->dec[l]);
    w->Wmax = imax(w->Wmax, imax(w->SHmax, w->Xmax));
    w->Wmax = imax(w->Wmax, imax(m->E, top_H(m)));
    if (has_attn(m)) w->Wmax = imax(w->Wmax, m->attn.D + m->attn.H);
    return w;
}

void s2s_work_free(s2s_work *w)
{
    if (!w) return;
    free(w->Bt); free(w->Pt); free(w->Du); free(w->Qu); free(w->perm);
    free(w->final_pos); free(w->rev); free(w->ids_e); free(w->ids_d);
    free(w->gold_d); free(w->emb_e); free(w->emb_d); free(w->mem);
    free(w->keys); free(w->mlen); free(w->mrow); free(w->attn); free(w->cat);
    free(w->ht); free(w->feed); free(w->mask_o); free(w->wq);
    free(w->scratch); free(w->logits); free(w->zeros); free(w->ds_a);
    free(w->ds_b); free(w->dst_r); free(w->dxr); free(w->dxp); free(w->dc_a);
    free(w->dc_b); free(w->dfd); free(w->dcat); free(w->dmem); free(w->dkeys);
    free(w->dwq); free(w->demb_e); free(w->demb_d); free(w->dtmp); free(w->hprev);
    free(w->src_sorted); free(w->order); free(w->len_sorted); free(w->row_of);
    free(w->gfeed);
    coop_free(w->coop_own);
    s2s_screen_free(w->screen);
    free(w->tok); free(w->tok_z);
    for (int l = 0; l < L_MAX; l++) {
        free(w->xp_e[l]); free(w->st_e[l]); free(w->cache_e[l]);
        free(w->xr_e[l]); free(w->xp_r[l]); free(w->st_r[l]);
        free(w->cache_r[l]); free(w->out_e[l]); free(w->xin_e[l]);
        free(w->mask_e[l]); free(w->mask_d[l]); free(w->xin_d[l]);
        free(w->xp_d[l]); free(w->st_d[l]); free(w->cache_d[l]);
        free(w->encfin[l]); free(w->init_d[l]); free(w->dcar[l]);
        free(w->dinit[l]); free(w->denc[l]); free(w->gst[l]);
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
        Nd <= w->capNd && train <= w->capTrain && m->V_tgt <= w->capV)
        return;
    int V = imax(m->V_tgt, w->capV);
    if (B < w->capB) B = w->capB;
    if (T < w->capT) T = w->capT;
    if (U < w->capU) U = w->capU;
    if (Ne < w->capNe) Ne = w->capNe;
    if (Nd < w->capNd) Nd = w->capNd;
    if (train < w->capTrain) train = w->capTrain;
    if (Nd < (size_t)B) Nd = (size_t)B; /* greedy decoding: one step of B rows */
    int tr = train == FOR_TRAIN;
    size_t Nmax = Ne > Nd ? Ne : Nd, Nb = tr ? Nmax : 1;
    size_t Neb = tr ? Ne : 1, Ndb = tr ? Nd : 1;
    int E = m->E, H = top_H(m), drop = m->dropout > 0 && tr;
    int D = m->attn.D, A = m->attn.kind == S2S_ATTN_MLP ? m->attn.A : 1;
    int KW = m->attn.kind == S2S_ATTN_GENERAL ? m->attn.H : A;
    size_t BT = (size_t)B * T;

    GROWI(w->Bt, T + 1); GROWI(w->Pt, T + 1);
    GROWI(w->Du, U + 1); GROWI(w->Qu, U + 1);
    GROWI(w->perm, B); GROWI(w->final_pos, B); GROWI(w->rev, Ne);
    GROWU(w->ids_e, Ne); GROWU(w->ids_d, Nd); GROWU(w->gold_d, Nd);
    GROWF(w->emb_e, Ne * E); GROWF(w->emb_d, Nd * E);
    for (int l = 0; l < m->L_enc; l++) {
        const s2s_layer *L = &m->enc[l];
        GROWF(w->xp_e[l], Ne * L->G * L->H);
        GROWF(w->st_e[l], Ne * L->S * L->H);
        GROWF(w->cache_e[l], Ne * L->K);
        GROWF(w->denc[l], (size_t)B * L->S * s2s_enc_width(m, l));
        GROWF(w->encfin[l], (size_t)B * L->S * s2s_enc_width(m, l));
        if (m->bidir) {
            GROWF(w->xr_e[l], Ne * L->X);
            GROWF(w->xp_r[l], Ne * L->G * L->H);
            GROWF(w->st_r[l], Ne * L->S * L->H);
            GROWF(w->cache_r[l], Ne * L->K);
            GROWF(w->out_e[l], Ne * 2 * L->H);
        }
        if (drop) {
            GROWF(w->mask_e[l], Ne * L->X);
            if (l > 0) GROWF(w->xin_e[l], Ne * L->X);
        }
    }
    for (int l = 0; l < m->L_dec; l++) {
        const s2s_layer *L = &m->dec[l];
        GROWF(w->xp_d[l], Nd * L->G * L->H);
        GROWF(w->st_d[l], Nd * L->S * L->H);
        GROWF(w->cache_d[l], Nd * L->K);
        GROWF(w->init_d[l], (size_t)B * L->S * L->H);
        GROWF(w->dinit[l], (size_t)B * L->S * L->H);
        GROWF(w->dcar[l], (size_t)B * L->S * L->H);
        GROWF(w->gst[l], (size_t)B * L->S * L->H);
        if (drop) GROWF(w->mask_d[l], Nd * L->X);
        if ((l == 0 && m->input_feed) || (l > 0 && drop))
            GROWF(w->xin_d[l], Nd * L->X);
    }
    if (has_attn(m)) {
        GROWF(w->mem, BT * D); GROWF(w->keys, BT * KW);
        GROWF(w->dmem, tr ? BT * D : 1); GROWF(w->dkeys, tr ? BT * KW : 1);
        GROWF(w->attn, Nd * T); GROWF(w->cat, Nd * (D + H));
        GROWF(w->ht, Nd * H); GROWF(w->wq, Nd * A); GROWF(w->dwq, Ndb * A);
        GROWF(w->dcat, Ndb * (D + H));
    }
    GROWF(w->scratch, (size_t)A + T); /* mlp hidden (A), score gradients (T) */
    GROWI(w->mlen, B); GROWI(w->mrow, B);
    GROWF(w->feed, Nd * H); GROWF(w->mask_o, drop ? Nd * H : 1);
    GROWF(w->dfd, Ndb * H);
    GROWF(w->logits, Nd * V);
    GROWF(w->zeros, (size_t)B * w->Wmax);
    memset(w->zeros, 0, (size_t)B * w->Wmax * sizeof(float));
    GROWF(w->ds_a, Nb * w->Wmax); GROWF(w->ds_b, Nb * w->Wmax);
    GROWF(w->dst_r, m->bidir ? Neb * w->SHmax : 1);
    GROWF(w->dxr, m->bidir ? Neb * w->Xmax : 1);
    GROWF(w->dxp, Nb * w->GHmax);
    GROWF(w->dc_a, (size_t)B * w->SHmax); GROWF(w->dc_b, (size_t)B * w->SHmax);
    GROWF(w->demb_e, Neb * E); GROWF(w->demb_d, Nd * E);
    GROWF(w->dtmp, (size_t)B * imax(2 * w->SHmax, w->Wmax)); /* bridge input */
    GROWU(w->src_sorted, BT);
    GROWI(w->order, B); GROWI(w->len_sorted, B); GROWI(w->row_of, B);
    GROWF(w->gfeed, (size_t)B * H);
    w->capB = B; w->capT = T; w->capU = U;
    w->capNe = Ne; w->capNd = Nd; w->capTrain = train; w->capV = V;
}

/* ------------------------------------------------------------------------
 * Packing, embeddings, dropout */

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

/* Inverted dropout: out (n x d, stride ldo) = in (stride ldi) * mask, the
 * mask (n x d) drawn from the pass's RNG: 0 with probability p, else
 * 1/(1-p). out may be in. */
static void dropout_forward(s2s_work *w, const float *in, int ldi, float *out,
                            int ldo, int n, int d, float *mask)
{
    float p = w->drop, keep = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++) {
        float *mk = mask + (size_t)i * d;
        for (int k = 0; k < d; k++)
            mk[k] = s2s_rng_float(w->rng) < p ? 0.0f : keep;
        const float *x = in + (size_t)i * ldi;
        float *y = out + (size_t)i * ldo;
        for (int k = 0; k < d; k++) y[k] = x[k] * mk[k];
    }
}

/* g (n x d, stride ld) *= mask, in place. */
static void dropout_backward(float *g, int ld, int n, int d, const float *mask)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            g[(size_t)i * ld + k] *= mask[(size_t)i * d + k];
}

/* ------------------------------------------------------------------------
 * One layer over steps t0..t1-1 of a packed sequence. x points at the
 * input of step t0's first row; xp, st, cache and dst are whole-sequence
 * buffers indexed by the packed offsets Pt. */

static void layer_forward(const s2s_layer *L, const float *P, const float *x,
                          int ldx, int t0, int t1, const int *Bt,
                          const int *Pt, const float *init, float *xp,
                          float *st, float *cache)
{
    const float *p = P + L->off;
    int SH = L->S * L->H, GH = L->G * L->H;
    s2s_phase(S2S_PH_INPUT_PROJ);
    L->cell->project(host(), p, L->X, L->H, Pt[t1] - Pt[t0], x, ldx,
                     xp + (size_t)Pt[t0] * GH);
    s2s_phase(S2S_PH_RECURRENT);
    for (int t = t0; t < t1; t++) {
        const float *prev = t > t0 ? st + (size_t)Pt[t - 1] * SH : init;
        L->cell->forward(host(), p, L->X, L->H, Bt[t], xp + (size_t)Pt[t] * GH,
                         prev, st + (size_t)Pt[t] * SH,
                         cache + (size_t)Pt[t] * L->K);
    }
    s2s_phase(S2S_PH_OTHER);
}

/* Reverse of layer_forward. dst holds the loss gradient on every packed
 * state from above. carry (Bt[t1] x SH, when t1 < the sequence's end)
 * holds the gradient reaching step t1-1's states from step t1; on return
 * it holds the gradient on the states before t0 — copied to dinit too
 * when dinit is not NULL. Accumulates the input gradient into dx (the
 * rows of t0.., stride lddx) when dx is not NULL. */
static void layer_backward(const s2s_layer *L, const float *P, float *g,
                           s2s_work *w, const float *x, int ldx, int t0,
                           int t1, const int *Bt, const int *Pt,
                           const float *init, const float *xp,
                           const float *st, float *cache, const float *dst,
                           float *carry, float *dinit, float *dx, int lddx)
{
    const float *p = P + L->off;
    int SH = L->S * L->H, GH = L->G * L->H;
    float *dc = w->dc_a, *dp = w->dc_b;
    s2s_cell_rec_off_fn rec = sums_steps(L);
    const s2s_cell_host *hs = rec ? s2s_cell_host_summing() : host();
    if (carry && Bt[t1] > 0)
        memcpy(dc, carry, (size_t)Bt[t1] * SH * sizeof(float));
    s2s_phase(S2S_PH_BWD_RECURRENT);
    for (int t = t1 - 1; t >= t0; t--) {
        int n = Bt[t], n_later = Bt[t + 1];
        /* rows ending at t carry nothing from later steps */
        memset(dc + (size_t)n_later * SH, 0,
               (size_t)(n - n_later) * SH * sizeof(float));
        s2s_add(dc, dst + (size_t)Pt[t] * SH, (size_t)n * SH);
        const float *prev = t > t0 ? st + (size_t)Pt[t - 1] * SH : init;
        L->cell->backward(hs, p, g, L->X, L->H, n,
                          xp + (size_t)Pt[t] * GH, prev,
                          st + (size_t)Pt[t] * SH,
                          cache + (size_t)Pt[t] * L->K, dc,
                          w->dxp + (size_t)Pt[t] * GH, dp);
        float *tmp = dc; dc = dp; dp = tmp;
    }
    if (rec) recurrent_grad(L, g + rec(L->X, L->H), w, t0, t1, Bt, Pt, init, st);
    size_t n0 = (size_t)Bt[t0] * SH * sizeof(float);
    if (dinit) memcpy(dinit, dc, n0);
    if (carry) memcpy(carry, dc, n0);
    s2s_phase(S2S_PH_BWD_INPUT_PROJ);
    L->cell->project_backward(host(), p, g, L->X, L->H, Pt[t1] - Pt[t0], x,
                              ldx, w->dxp + (size_t)Pt[t0] * GH, dx, lddx);
    s2s_phase(S2S_PH_OTHER);
}

/* ------------------------------------------------------------------------
 * Encoder and memory */

/* rows (n x d) of `in` (stride ldi) gathered to out row rev[i] ... i.e.
 * out[rev[i]] = in[i]: the reversal is its own inverse. */
static void reverse_rows(const int *rev, int n, const float *in, int ldi,
                         float *out, int ldo, int d)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)rev[i] * ldo, in + (size_t)i * ldi,
               (size_t)d * sizeof(float));
}

static void encoder_forward(const s2s_model *m, s2s_work *w, int B,
                            const uint32_t *src, int ld_src,
                            const int *src_len)
{
    const float *P = m->params.w;
    int T = src_len[0], E = m->E;
    w->T = T;
    w->Ne = pack_steps(src_len, NULL, B, T, w->Bt, w->Pt);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < w->Bt[t]; b++)
            w->ids_e[w->Pt[t] + b] = src[(size_t)b * ld_src + t];
    for (int b = 0; b < B; b++) w->final_pos[b] = w->Pt[src_len[b] - 1] + b;
    if (m->bidir)
        for (int t = 0; t < T; t++)
            for (int b = 0; b < w->Bt[t]; b++)
                w->rev[w->Pt[t] + b] = w->Pt[src_len[b] - 1 - t] + b;
    embed(P + m->off_emb_src, E, w->ids_e, w->Ne, w->emb_e);
    if (w->drop)
        dropout_forward(w, w->emb_e, E, w->emb_e, E, w->Ne, E, w->mask_e[0]);

    const float *x = w->emb_e;
    int ldx = E;
    for (int l = 0; l < m->L_enc; l++) {
        const s2s_layer *L = &m->enc[l];
        if (l > 0 && w->drop) {
            dropout_forward(w, x, ldx, w->xin_e[l], L->X, w->Ne, L->X,
                            w->mask_e[l]);
            x = w->xin_e[l];
            ldx = L->X;
        }
        layer_forward(L, P, x, ldx, 0, T, w->Bt, w->Pt, w->zeros, w->xp_e[l],
                      w->st_e[l], w->cache_e[l]);
        if (!m->bidir) {
            x = w->st_e[l];
            ldx = L->S * L->H;
            continue;
        }
        /* the backward direction reads each sentence from its end: the
         * same packing over reversed rows */
        const s2s_layer *R = &m->enc_rev[l];
        reverse_rows(w->rev, w->Ne, x, ldx, w->xr_e[l], L->X, L->X);
        layer_forward(R, P, w->xr_e[l], L->X, 0, T, w->Bt, w->Pt, w->zeros,
                      w->xp_r[l], w->st_r[l], w->cache_r[l]);
        int H = L->H, SH = L->S * H;
        float *out = w->out_e[l];
        for (int i = 0; i < w->Ne; i++)
            memcpy(out + (size_t)i * 2 * H, w->st_e[l] + (size_t)i * SH,
                   (size_t)H * sizeof(float));
        reverse_rows(w->rev, w->Ne, w->st_r[l], SH, out + H, 2 * H, H);
        x = out;
        ldx = 2 * H;
    }
}

/* The top encoder layer's output at packed position i, and its stride. */
static const float *enc_top(const s2s_model *m, const s2s_work *w, int *ld)
{
    int l = m->L_enc - 1;
    if (m->bidir) {
        *ld = 2 * m->enc[l].H;
        return w->out_e[l];
    }
    *ld = m->enc[l].S * m->enc[l].H;
    return w->st_e[l];
}

/* Memory rows in share order (B x T x D, padding zeroed) and the keys the
 * scores read. */
static void memory_forward(const s2s_model *m, s2s_work *w, int B,
                           const int *src_len)
{
    const s2s_attention *a = &m->attn;
    const float *P = m->params.w;
    int D = a->D, T = w->T, ld;
    const float *top = enc_top(m, w, &ld);
    w->Tm = T;
    memset(w->mem, 0, (size_t)B * T * D * sizeof(float));
    for (int b = 0; b < B; b++) {
        w->mlen[b] = src_len[b];
        for (int t = 0; t < src_len[b]; t++)
            memcpy(w->mem + ((size_t)b * T + t) * D,
                   top + (size_t)(w->Pt[t] + b) * ld, (size_t)D * sizeof(float));
    }
    if (a->kind == S2S_ATTN_GENERAL)
        s2s_gemm(0, 1, B * T, a->H, D, 1.0f, w->mem, D, P + a->off_wa, D, 0.0f,
                 w->keys, a->H);
    else if (a->kind == S2S_ATTN_MLP)
        s2s_gemm(0, 1, B * T, a->A, D, 1.0f, w->mem, D, P + a->off_wa, D, 0.0f,
                 w->keys, a->A);
}

/* Decoder initial states for rows taken in the order rows[j] (share rows):
 * the encoder's final states, both directions side by side in each state
 * part, directly or through the bridge. */
static void handoff_forward(const s2s_model *m, s2s_work *w, int B,
                            const int *rows, float *const *init)
{
    const float *P = m->params.w;
    for (int l = 0; l < m->L_enc; l++) {
        int H = m->enc[l].H, S = m->enc[l].S, SH = S * H;
        for (int j = 0; j < B; j++) {
            size_t at = (size_t)w->final_pos[rows[j]] * SH;
            if (!m->bidir) {
                memcpy(w->encfin[l] + (size_t)j * SH, w->st_e[l] + at,
                       (size_t)SH * sizeof(float));
                continue;
            }
            float *o = w->encfin[l] + (size_t)j * 2 * SH;
            for (int s = 0; s < S; s++) {
                memcpy(o + (size_t)s * 2 * H, w->st_e[l] + at + (size_t)s * H,
                       (size_t)H * sizeof(float));
                memcpy(o + (size_t)s * 2 * H + H, w->st_r[l] + at + (size_t)s * H,
                       (size_t)H * sizeof(float));
            }
        }
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
 * Attention over one span of decoder rows */

static float dot(const float *a, const float *b, int n)
{
    float s = 0;
    for (int k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* e = tanh(wq + key) (A floats), for the mlp score v.e */
static void mlp_hidden(const float *wq, const float *key, int A, float *e)
{
    for (int k = 0; k < A; k++) e[k] = wq[k] + key[k];
    s2s_tanh(e, (size_t)A);
}

/* The rows of steps u0..u1-1 (decoder row j reads memory row mrow[j]):
 * scores, weights (w->attn), context and h into w->cat, then
 * h~ = tanh(W_c cat). */
static void attend_forward(const s2s_model *m, s2s_work *w, int u0, int u1)
{
    const s2s_attention *a = &m->attn;
    const float *P = m->params.w;
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    int D = a->D, H = a->H, A = a->A, SHt = top->S * top->H, Tm = w->Tm;
    int i0 = w->Qu[u0], N = w->Qu[u1] - i0;
    const float *h = w->st_d[m->L_dec - 1];
    if (a->kind == S2S_ATTN_MLP) {
        float *wq = w->wq + (size_t)i0 * A;
        for (int i = 0; i < N; i++)
            memcpy(wq + (size_t)i * A, P + a->off_bq, (size_t)A * sizeof(float));
        s2s_gemm(0, 1, N, A, H, 1.0f, h + (size_t)i0 * SHt, SHt, P + a->off_wq,
                 H, 1.0f, wq, A);
    }
    for (int u = u0; u < u1; u++)
        for (int j = 0; j < w->Du[u]; j++) {
            size_t i = (size_t)w->Qu[u] + j;
            int b = w->mrow[j], Tb = w->mlen[b];
            const float *q = h + i * SHt;
            const float *mem = w->mem + (size_t)b * Tm * D;
            float *s = w->attn + i * Tm;
            for (int t = 0; t < Tb; t++) {
                switch (a->kind) {
                case S2S_ATTN_DOT:
                    s[t] = dot(q, mem + (size_t)t * D, D);
                    break;
                case S2S_ATTN_GENERAL:
                    s[t] = dot(q, w->keys + ((size_t)b * Tm + t) * H, H);
                    break;
                default:
                    mlp_hidden(w->wq + i * A, w->keys + ((size_t)b * Tm + t) * A,
                               A, w->scratch);
                    s[t] = dot(P + a->off_v, w->scratch, A);
                }
            }
            for (int t = Tb; t < Tm; t++) s[t] = 0;
            s2s_softmax_rows(s, 1, Tb, Tm);
            float *c = w->cat + i * (D + H);
            memset(c, 0, (size_t)D * sizeof(float));
            for (int t = 0; t < Tb; t++)
                for (int k = 0; k < D; k++) c[k] += s[t] * mem[(size_t)t * D + k];
            memcpy(c + D, q, (size_t)H * sizeof(float));
        }
    float *ht = w->ht + (size_t)i0 * H;
    s2s_gemm(0, 1, N, H, D + H, 1.0f, w->cat + (size_t)i0 * (D + H), D + H,
             P + a->off_wc, D + H, 0.0f, ht, H);
    s2s_tanh(ht, (size_t)N * H);
}

/* Reverse of attend_forward over the same rows. dfd holds the gradient on
 * h~; adds the gradient on h into dh (stride ldh, absolute rows), on the
 * memory into w->dmem and on the keys into w->dkeys. */
static void attend_backward(const s2s_model *m, s2s_work *w, float *Gd,
                            size_t off_dense, int u0, int u1, float *dh,
                            int ldh)
{
#define G_AT(off) (Gd + ((off) - off_dense))
    const s2s_attention *a = &m->attn;
    const float *P = m->params.w;
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    int D = a->D, H = a->H, A = a->A, SHt = top->S * top->H, Tm = w->Tm;
    int i0 = w->Qu[u0], N = w->Qu[u1] - i0;
    const float *h = w->st_d[m->L_dec - 1];
    float *dz = w->dfd + (size_t)i0 * H;
    const float *ht = w->ht + (size_t)i0 * H;
    for (size_t k = 0; k < (size_t)N * H; k++) dz[k] *= s2s_dtanh_y(ht[k]);
    float *cat = w->cat + (size_t)i0 * (D + H);
    s2s_gemm(1, 0, H, D + H, N, 1.0f, dz, H, cat, D + H, 1.0f,
             G_AT(a->off_wc), D + H);
    float *dcat = w->dcat + (size_t)i0 * (D + H);
    s2s_gemm(0, 0, N, D + H, H, 1.0f, dz, H, P + a->off_wc, D + H, 0.0f, dcat,
             D + H);
    float *dwq = a->kind == S2S_ATTN_MLP ? w->dwq + (size_t)i0 * A : NULL;
    if (dwq) memset(dwq, 0, (size_t)N * A * sizeof(float));
    for (int u = u0; u < u1; u++)
        for (int j = 0; j < w->Du[u]; j++) {
            size_t i = (size_t)w->Qu[u] + j;
            int b = w->mrow[j], Tb = w->mlen[b];
            const float *q = h + i * SHt;
            const float *mem = w->mem + (size_t)b * Tm * D;
            float *dmem = w->dmem + (size_t)b * Tm * D;
            const float *s = w->attn + i * Tm;
            const float *dc = w->dcat + i * (D + H);
            float *dq = dh + i * ldh;
            s2s_add(dq, dc + D, (size_t)H);
            /* da_t = dc.m_t; dscore = a (da - sum a da) */
            float *ds = w->scratch + (a->kind == S2S_ATTN_MLP ? A : 0), sum = 0;
            for (int t = 0; t < Tb; t++) {
                ds[t] = dot(dc, mem + (size_t)t * D, D);
                sum += s[t] * ds[t];
                for (int k = 0; k < D; k++) dmem[(size_t)t * D + k] += s[t] * dc[k];
            }
            for (int t = 0; t < Tb; t++) ds[t] = s[t] * (ds[t] - sum);
            for (int t = 0; t < Tb; t++) {
                if (a->kind == S2S_ATTN_DOT) {
                    for (int k = 0; k < D; k++) {
                        dq[k] += ds[t] * mem[(size_t)t * D + k];
                        dmem[(size_t)t * D + k] += ds[t] * q[k];
                    }
                } else if (a->kind == S2S_ATTN_GENERAL) {
                    const float *key = w->keys + ((size_t)b * Tm + t) * H;
                    float *dkey = w->dkeys + ((size_t)b * Tm + t) * H;
                    for (int k = 0; k < H; k++) {
                        dq[k] += ds[t] * key[k];
                        dkey[k] += ds[t] * q[k];
                    }
                } else {
                    const float *key = w->keys + ((size_t)b * Tm + t) * A;
                    float *dkey = w->dkeys + ((size_t)b * Tm + t) * A;
                    float *e = w->scratch, *dv = G_AT(a->off_v);
                    const float *v = P + a->off_v;
                    mlp_hidden(w->wq + i * A, key, A, e);
                    float *dw = dwq + (i - (size_t)i0) * A;
                    for (int k = 0; k < A; k++) {
                        dv[k] += ds[t] * e[k];
                        float de = ds[t] * v[k] * s2s_dtanh_y(e[k]);
                        dw[k] += de;
                        dkey[k] += de;
                    }
                }
            }
        }
    if (dwq) {
        s2s_gemm(1, 0, A, H, N, 1.0f, dwq, A, h + (size_t)i0 * SHt, SHt, 1.0f,
                 G_AT(a->off_wq), H);
        float *dbq = G_AT(a->off_bq);
        for (int i = 0; i < N; i++) s2s_add(dbq, dwq + (size_t)i * A, (size_t)A);
        s2s_gemm(0, 0, N, H, A, 1.0f, dwq, A, P + a->off_wq, H, 1.0f,
                 dh + (size_t)i0 * ldh, ldh);
    }
#undef G_AT
}

/* Reverse of memory_forward's keys: dW_a, and the memory gradient. */
static void memory_backward(const s2s_model *m, s2s_work *w, int B,
                            float *Gd, size_t off_dense)
{
    const s2s_attention *a = &m->attn;
    const float *P = m->params.w;
    int D = a->D, T = w->Tm;
    int KW = a->kind == S2S_ATTN_GENERAL ? a->H : a->A;
    if (a->kind == S2S_ATTN_DOT) return;
    s2s_gemm(1, 0, KW, D, B * T, 1.0f, w->dkeys, KW, w->mem, D, 1.0f,
             Gd + (a->off_wa - off_dense), D);
    s2s_gemm(0, 0, B * T, D, KW, 1.0f, w->dkeys, KW, P + a->off_wa, D, 1.0f,
             w->dmem, D);
}

/* ------------------------------------------------------------------------
 * Output projection and loss */

static void project_logits(const s2s_model *m, const float *h, int ldh,
                           int n, float *logits)
{
    int V = m->V_tgt, H = top_H(m);
    s2s_phase(S2S_PH_OUTPUT_PROJ);
    for (int i = 0; i < n; i++)
        memcpy(logits + (size_t)i * V, out_b(m), (size_t)V * sizeof(float));
    s2s_gemm(0, 1, n, V, H, 1.0f, h, ldh, out_w(m), H, 1.0f, logits, V);
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

/* The first index of the largest logit, as the scan `if (z[v] > z[best])
 * best = v` from best = 0 finds it: NaN never wins (but a NaN z[0] stays),
 * ties go to the lower index. With vectors: the largest non-NaN value
 * (max_ps(z, m) keeps m when z is NaN), then the first index holding it
 * (+0 and -0 compare equal there as in the scan). */
static uint32_t argmax_row(const float *z, int V)
{
    if (z[0] != z[0]) return 0;
    int v = 0;
    float m = z[0];
#if defined(__AVX512F__)
    if (V >= 16) {
        __m512 mv = _mm512_set1_ps(m);
        for (; v + 16 <= V; v += 16) mv = _mm512_max_ps(_mm512_loadu_ps(z + v), mv);
        m = _mm512_reduce_max_ps(mv);
    }
#elif defined(__AVX__)
    if (V >= 8) {
        __m256 mv = _mm256_set1_ps(m);
        for (; v + 8 <= V; v += 8) mv = _mm256_max_ps(_mm256_loadu_ps(z + v), mv);
        float lanes[8];
        _mm256_storeu_ps(lanes, mv);
        for (int i = 0; i < 8; i++) m = lanes[i] > m ? lanes[i] : m;
    }
#endif
    for (; v < V; v++)
        if (z[v] > m) m = z[v];
    for (v = 0; v < V; v++)
        if (z[v] == m) break;
    return (uint32_t)v;
}

/* ------------------------------------------------------------------------
 * The decoder step primitive */

/* What the output layer reads (and input feeding passes on): the top h, or
 * h~ with attention, after dropout when there is any. */
static const float *out_rows(const s2s_model *m, const s2s_work *w, int *ld)
{
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    if (w->drop) { *ld = top->H; return w->feed; }
    if (has_attn(m)) { *ld = top->H; return w->ht; }
    *ld = top->S * top->H;
    return w->st_d[m->L_dec - 1];
}

/* Decoder layer l's input over the rows of steps u0..u1-1, and its
 * stride: the embeddings (with h~ of the step before when input feeding)
 * for l = 0, the layer below's h above; dropout applied. feed_init is h~
 * before step u0 (B x H). */
static const float *dec_input(const s2s_model *m, s2s_work *w, int l, int u0,
                              int u1, const float *feed_init, int *ldx)
{
    const s2s_layer *L = &m->dec[l];
    int i0 = w->Qu[u0], N = w->Qu[u1] - i0, E = m->E;
    if (l == 0 && !m->input_feed) {
        *ldx = E;
        return w->emb_d + (size_t)i0 * E;
    }
    if (l > 0 && !w->drop) {
        *ldx = m->dec[l - 1].S * m->dec[l - 1].H;
        return w->st_d[l - 1] + (size_t)i0 * *ldx;
    }
    float *x = w->xin_d[l] + (size_t)i0 * L->X;
    *ldx = L->X;
    if (l == 0) {
        int H = top_H(m), ldf;
        const float *fo = out_rows(m, w, &ldf);
        for (int u = u0; u < u1; u++)
            for (int j = 0; j < w->Du[u]; j++) {
                float *r = w->xin_d[0] + ((size_t)w->Qu[u] + j) * L->X;
                const float *f = u == u0 ? feed_init + (size_t)j * H
                                         : fo + ((size_t)w->Qu[u - 1] + j) * ldf;
                memcpy(r, w->emb_d + ((size_t)w->Qu[u] + j) * E,
                       (size_t)E * sizeof(float));
                memcpy(r + E, f, (size_t)H * sizeof(float));
            }
        return x;
    }
    const s2s_layer *Lb = &m->dec[l - 1];
    int SH = Lb->S * Lb->H;
    dropout_forward(w, w->st_d[l - 1] + (size_t)i0 * SH, SH, x, L->X, N, L->X,
                    w->mask_d[l] + (size_t)i0 * L->X);
    return x;
}

/* Steps u0..u1-1 of the decoder over the packed layout (Du, Qu): reads
 * ids_d of those rows, the states before u0 (init, per layer) and h~
 * before u0 (feed_init, with input feeding); writes their states,
 * attention weights, h~ and (with `logits`) logits. Decoder row j's
 * memory is mrow[j]. */
static void decoder_span(const s2s_model *m, s2s_work *w, int u0, int u1,
                         float *const *init, const float *feed_init,
                         int logits)
{
    const float *P = m->params.w;
    int E = m->E, i0 = w->Qu[u0], N = w->Qu[u1] - i0;
    float *emb = w->emb_d + (size_t)i0 * E;
    embed(emb_tgt(m), E, w->ids_d + i0, N, emb);
    if (w->drop)
        dropout_forward(w, emb, E, emb, E, N, E, w->mask_d[0] + (size_t)i0 * E);
    for (int l = 0; l < m->L_dec; l++) {
        const s2s_layer *L = &m->dec[l];
        int ldx;
        const float *x = dec_input(m, w, l, u0, u1, feed_init, &ldx);
        layer_forward(L, P, x, ldx, u0, u1, w->Du, w->Qu, init[l], w->xp_d[l],
                      w->st_d[l], w->cache_d[l]);
    }
    if (has_attn(m)) {
        s2s_phase(S2S_PH_ATTENTION);
        attend_forward(m, w, u0, u1);
        s2s_phase(S2S_PH_OTHER);
    }
    int H = top_H(m), ld;
    if (w->drop) {
        const s2s_layer *top = &m->dec[m->L_dec - 1];
        const float *o = has_attn(m) ? w->ht : w->st_d[m->L_dec - 1];
        int ldo = has_attn(m) ? H : top->S * top->H;
        dropout_forward(w, o + (size_t)i0 * ldo, ldo, w->feed + (size_t)i0 * H,
                        H, N, H, w->mask_o + (size_t)i0 * H);
    }
    if (!logits) return;
    const float *o = out_rows(m, w, &ld);
    project_logits(m, o + (size_t)i0 * ld, ld, N,
                   w->logits + (size_t)i0 * m->V_tgt);
}

/* The output projection's part of the backward pass over rows i0..i0+N-1:
 * dW_out, db_out, and the gradient on its input added to w->dfd (with
 * attention or dropout) or written to the top state gradient dtop. */
static void output_backward(const s2s_model *m, s2s_work *w, float *Gd,
                            int i0, int N, float *dtop, int ldtop)
{
    const float *P = m->params.w;
    int V = m->V_tgt, H = top_H(m), ldo;
    const float *o = out_rows(m, w, &ldo);
    const float *dlog = w->logits + (size_t)i0 * V;
    s2s_phase(S2S_PH_BWD_OUTPUT);
    s2s_gemm(1, 0, V, H, N, 1.0f, dlog, V, o + (size_t)i0 * ldo, ldo, 1.0f,
             Gd + (m->off_out_w - m->off_dense), H);
    float *db = Gd + (m->off_out_b - m->off_dense);
    for (int i = 0; i < N; i++) s2s_add(db, dlog + (size_t)i * V, V);
    if (!w->drop && !has_attn(m))
        s2s_gemm(0, 0, N, H, V, 1.0f, dlog, V, P + m->off_out_w, H, 0.0f,
                 dtop + (size_t)i0 * ldtop, ldtop);
    else
        s2s_gemm(0, 0, N, H, V, 1.0f, dlog, V, P + m->off_out_w, H, 1.0f,
                 w->dfd + (size_t)i0 * H, H);
    s2s_phase(S2S_PH_OTHER);
}

/* Reverse of decoder_span. w->logits holds the gradient on the span's
 * logits, w->dfd the gradient reaching its h~ from the step after (input
 * feeding). dinit receives the gradient on init when u0 = 0; otherwise
 * the carries w->dcar pass it to the span before, and the gradient on h~
 * of step u0-1 is added to w->dfd. Gd: the dense gradient. out_done: the
 * output projection's part is done already (output_backward). */
static void decoder_span_backward(const s2s_model *m, s2s_work *w, float *Gd,
                                  int u0, int u1, float *const *init,
                                  int out_done)
{
#define G_AT(off) (Gd + ((off) - m->off_dense))
    const float *P = m->params.w;
    int E = m->E, H = top_H(m);
    int i0 = w->Qu[u0], N = w->Qu[u1] - i0;
    const s2s_layer *top = &m->dec[m->L_dec - 1];
    int SHt = top->S * top->H;

    float *cur = w->ds_a, *below = w->ds_b;
    memset(cur + (size_t)i0 * SHt, 0, (size_t)N * SHt * sizeof(float));
    if (!out_done) output_backward(m, w, Gd, i0, N, cur, SHt);
    if (w->drop || has_attn(m)) {
        float *dfd = w->dfd + (size_t)i0 * H;
        if (w->drop) dropout_backward(dfd, H, N, H, w->mask_o + (size_t)i0 * H);
        if (has_attn(m)) {
            s2s_phase(S2S_PH_BWD_ATTENTION);
            attend_backward(m, w, Gd, m->off_dense, u0, u1, cur, SHt);
            s2s_phase(S2S_PH_OTHER);
        } else {
            for (int i = 0; i < N; i++)
                s2s_add(cur + ((size_t)i0 + i) * SHt, dfd + (size_t)i * H,
                        (size_t)H);
        }
    }

    /* layers, top down */
    for (int l = m->L_dec - 1; l >= 0; l--) {
        const s2s_layer *L = &m->dec[l];
        float *dx;
        int lddx;
        const float *x;
        int ldx;
        if (l > 0) {
            lddx = m->dec[l - 1].S * m->dec[l - 1].H;
            dx = below;
            x = w->drop ? w->xin_d[l] : w->st_d[l - 1];
            ldx = w->drop ? L->X : lddx;
        } else if (m->input_feed) {
            lddx = L->X;
            dx = below;
            x = w->xin_d[0];
            ldx = L->X;
        } else {
            lddx = E;
            dx = w->demb_d;
            x = w->emb_d;
            ldx = E;
        }
        dx += (size_t)i0 * lddx;
        memset(dx, 0, (size_t)N * lddx * sizeof(float));
        layer_backward(L, P, G_AT(L->off), w, x + (size_t)i0 * ldx, ldx, u0, u1,
                       w->Du, w->Qu, init[l], w->xp_d[l], w->st_d[l],
                       w->cache_d[l], cur, w->dcar[l], u0 == 0 ? w->dinit[l] : NULL,
                       dx, lddx);
        if (l > 0 && w->drop)
            dropout_backward(dx, lddx, N, L->X, w->mask_d[l] + (size_t)i0 * L->X);
        if (l == 0 && m->input_feed) {
            /* split [d emb; d h~ of the step before] */
            for (int u = u0; u < u1; u++)
                for (int j = 0; j < w->Du[u]; j++) {
                    size_t i = (size_t)w->Qu[u] + j;
                    const float *r = below + i * lddx;
                    memcpy(w->demb_d + i * E, r, (size_t)E * sizeof(float));
                    if (u > 0)
                        s2s_add(w->dfd + ((size_t)w->Qu[u - 1] + j) * H, r + E,
                                (size_t)H);
                }
        }
        float *tmp = cur; cur = below; below = tmp;
    }
    if (w->drop)
        dropout_backward(w->demb_d + (size_t)i0 * E, E, N, E,
                         w->mask_d[0] + (size_t)i0 * E);
#undef G_AT
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
    for (int j = 0; j < B; j++) w->mrow[j] = w->perm[j];
}

/* The states before step u: the initial ones, or step u-1's. */
static void states_before(const s2s_model *m, s2s_work *w, int u,
                          float **prev)
{
    for (int l = 0; l < m->L_dec; l++) {
        int SH = m->dec[l].S * m->dec[l].H;
        prev[l] = u ? w->st_d[l] + (size_t)w->Qu[u - 1] * SH : w->init_d[l];
    }
}

/* The whole target in one span when no step's input depends on the step
 * before, else one span per step. With tf_ratio < 1 each input is, with
 * probability 1 - tf_ratio, the previous step's arg-max. */
static void decoder_forward(const s2s_model *m, s2s_work *w, float tf_ratio,
                            s2s_rng *rng)
{
    if (tf_ratio >= 1.0f && !m->input_feed) {
        decoder_span(m, w, 0, w->U, w->init_d, NULL, 1);
        return;
    }
    int V = m->V_tgt;
    float *prev[L_MAX];
    for (int u = 0; u < w->U; u++) {
        int n = w->Du[u], q = w->Qu[u];
        if (u > 0 && tf_ratio < 1.0f)
            for (int j = 0; j < n; j++)
                if (s2s_rng_float(rng) >= tf_ratio)
                    w->ids_d[q + j] = argmax_row(
                        w->logits + (size_t)(w->Qu[u - 1] + j) * V, V);
        states_before(m, w, u, prev);
        int ld;
        const float *fed = out_rows(m, w, &ld); /* stride H with input feeding */
        /* the logits feed nothing back unless inputs are sampled: then
         * one GEMM over every step */
        decoder_span(m, w, u, u + 1, prev,
                     u ? fed + (size_t)w->Qu[u - 1] * ld : w->zeros,
                     tf_ratio < 1.0f);
    }
    if (tf_ratio >= 1.0f) {
        int ld;
        const float *o = out_rows(m, w, &ld);
        project_logits(m, o, ld, w->Nd, w->logits);
    }
}

/* ------------------------------------------------------------------------
 * Backward */

/* Gradients on the encoder's final states (share order), from the
 * decoder's initial states. */
static void handoff_backward(const s2s_model *m, s2s_work *w, int B, float *Gd)
{
#define G_AT(off) (Gd + ((off) - m->off_dense))
    const float *P = m->params.w;
    for (int l = 0; l < m->L_enc; l++)
        memset(w->denc[l], 0,
               (size_t)B * m->enc[l].S * s2s_enc_width(m, l) * sizeof(float));
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
#undef G_AT
}

/* Encoder layers top down. dtop: gradient on the top layer's output from
 * the memory (NULL without attention). */
static void encoder_backward(const s2s_model *m, s2s_work *w, int B, float *Gd)
{
#define G_AT(off) (Gd + ((off) - m->off_dense))
    const float *P = m->params.w;
    int E = m->E, Ne = w->Ne;
    float *cur = w->ds_a, *below = w->ds_b;
    for (int l = m->L_enc - 1; l >= 0; l--) {
        const s2s_layer *L = &m->enc[l];
        int H = L->H, S = L->S, SH = S * H, X = L->X;
        int ldout = m->bidir ? 2 * H : SH; /* cur: gradient on the output */
        if (l == m->L_enc - 1) {
            memset(cur, 0, (size_t)Ne * ldout * sizeof(float));
            if (has_attn(m)) {
                int D = m->attn.D;
                for (int b = 0; b < B; b++)
                    for (int t = 0; t < w->mlen[b]; t++)
                        s2s_add(cur + (size_t)(w->Pt[t] + b) * ldout,
                                w->dmem + ((size_t)b * w->Tm + t) * D, (size_t)D);
            }
        }
        const float *x = l ? (w->drop ? w->xin_e[l] : m->bidir ? w->out_e[l - 1]
                                                               : w->st_e[l - 1])
                           : w->emb_e;
        int ldx = l ? (w->drop ? X : m->bidir ? 2 * m->enc[l - 1].H
                                              : m->enc[l - 1].S * m->enc[l - 1].H)
                    : E;
        /* gradient on the input goes to the layer below's output (its
         * layout) or the embedding rows */
        int lddx = l ? (m->bidir ? 2 * m->enc[l - 1].H
                                 : m->enc[l - 1].S * m->enc[l - 1].H)
                     : E;
        if (!m->bidir) {
            for (int b = 0; b < B; b++)
                s2s_add(cur + (size_t)w->final_pos[b] * SH,
                        w->denc[l] + (size_t)b * SH, SH);
            float *dx = l ? below : w->demb_e;
            memset(dx, 0, (size_t)Ne * lddx * sizeof(float));
            layer_backward(L, P, G_AT(L->off), w, x, ldx, 0, w->T, w->Bt, w->Pt,
                           w->zeros, w->xp_e[l], w->st_e[l], w->cache_e[l], cur,
                           NULL, NULL, dx, lddx);
            if (w->drop) dropout_backward(dx, lddx, Ne, X, w->mask_e[l]);
            float *tmp = cur; cur = below; below = tmp;
            continue;
        }
        /* both ways: split the output gradient into the two directions'
         * state gradients (the backward one in reversed order) */
        const s2s_layer *R = &m->enc_rev[l];
        float *dsf = below, *dsr = w->dst_r;
        memset(dsf, 0, (size_t)Ne * SH * sizeof(float));
        memset(dsr, 0, (size_t)Ne * SH * sizeof(float));
        for (int i = 0; i < Ne; i++)
            memcpy(dsf + (size_t)i * SH, cur + (size_t)i * 2 * H,
                   (size_t)H * sizeof(float));
        reverse_rows(w->rev, Ne, cur + H, 2 * H, dsr, SH, H);
        for (int b = 0; b < B; b++) {
            size_t at = (size_t)w->final_pos[b] * SH;
            const float *d = w->denc[l] + (size_t)b * 2 * SH;
            for (int s = 0; s < S; s++) {
                s2s_add(dsf + at + (size_t)s * H, d + (size_t)s * 2 * H, (size_t)H);
                s2s_add(dsr + at + (size_t)s * H, d + (size_t)s * 2 * H + H,
                        (size_t)H);
            }
        }
        float *dx = l ? cur : w->demb_e;
        memset(dx, 0, (size_t)Ne * lddx * sizeof(float));
        layer_backward(L, P, G_AT(L->off), w, x, ldx, 0, w->T, w->Bt, w->Pt,
                       w->zeros, w->xp_e[l], w->st_e[l], w->cache_e[l], dsf,
                       NULL, NULL, dx, lddx);
        memset(w->dxr, 0, (size_t)Ne * X * sizeof(float));
        layer_backward(R, P, G_AT(R->off), w, w->xr_e[l], X, 0, w->T, w->Bt,
                       w->Pt, w->zeros, w->xp_r[l], w->st_r[l], w->cache_r[l],
                       dsr, NULL, NULL, w->dxr, X);
        for (int i = 0; i < Ne; i++)
            s2s_add(dx + (size_t)w->rev[i] * lddx, w->dxr + (size_t)i * X,
                    (size_t)X);
        if (w->drop) dropout_backward(dx, lddx, Ne, X, w->mask_e[l]);
    }
#undef G_AT
}

/* Gd points at the gradient of parameter m->off_dense (the dense part:
 * everything but the embeddings, whose row gradients stay in w). */
static void model_backward(const s2s_model *m, s2s_work *w, int B, float *Gd)
{
    if (has_attn(m)) {
        memset(w->dmem, 0, (size_t)B * w->Tm * m->attn.D * sizeof(float));
        if (m->attn.kind != S2S_ATTN_DOT)
            memset(w->dkeys, 0, (size_t)B * w->Tm *
                   (m->attn.kind == S2S_ATTN_GENERAL ? m->attn.H : m->attn.A) *
                   sizeof(float));
    }
    if (w->drop || has_attn(m))
        memset(w->dfd, 0, (size_t)w->Nd * top_H(m) * sizeof(float));
    float *prev[L_MAX];
    if (!m->input_feed) {
        decoder_span_backward(m, w, Gd, 0, w->U, w->init_d, 0);
    } else {
        /* the output projection of every step in one GEMM each way */
        output_backward(m, w, Gd, 0, w->Nd, NULL, 0);
        for (int u = w->U - 1; u >= 0; u--) {
            states_before(m, w, u, prev);
            decoder_span_backward(m, w, Gd, u, u + 1, prev, 1);
        }
    }
    handoff_backward(m, w, B, Gd);
    if (has_attn(m)) memory_backward(m, w, B, Gd, m->off_dense);
    encoder_backward(m, w, B, Gd);
}

/* ------------------------------------------------------------------------
 * Entry points */

/* Everything up to the logits; `scale` != 0 marks a training pass. */
static void forward(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
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
    w->drop = scale != 0.0f && rng && m->dropout > 0 ? m->dropout : 0.0f;
    w->rng = rng;
    encoder_forward(m, w, B, s->src, s->ld_src, s->src_len);
    if (has_attn(m)) memory_forward(m, w, B, s->src_len);
    decoder_pack(m, w, s);
    handoff_forward(m, w, B, w->perm, w->init_d);
    decoder_forward(m, w, tf_ratio, rng);
}

static double forward_loss(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                           float tf_ratio, s2s_rng *rng, float scale)
{
    forward(m, w, s, tf_ratio, rng, scale);
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

int s2s_step_embed_ids(const s2s_work *w, int side, const uint32_t **ids,
                       const float **demb)
{
    *ids = side ? w->ids_d : w->ids_e;
    *demb = side ? w->demb_d : w->demb_e;
    return side ? w->Nd : w->Ne;
}

void s2s_step_embed_span_ids(const s2s_model *m, int side, const uint32_t *ids,
                             int n, const float *demb, float *grad, size_t lo,
                             size_t hi)
{
    if (side)
        embed_span(grad, m->off_emb_tgt, (size_t)m->V_tgt, m->E, ids, n, demb,
                   lo, hi);
    else
        embed_span(grad, m->off_emb_src, (size_t)m->V_src, m->E, ids, n, demb,
                   lo, hi);
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

void s2s_step_score(const s2s_model *m, s2s_work *w, const s2s_seqs *s,
                    double *row_nll)
{
    for (int b = 0; b < s->B; b++) row_nll[b] = 0;
    if (s->B == 0) return;
    forward(m, w, s, 1.0f, NULL, 0.0f);
    int V = m->V_tgt;
    for (int u = 0; u < w->U; u++)
        for (int j = 0; j < w->Du[u]; j++) {
            size_t i = (size_t)w->Qu[u] + j;
            row_nll[w->perm[j]] +=
                s2s_xent_row(w->logits + i * V, V, w->gold_d[i], 0.0f);
        }
}

/* ------------------------------------------------------------------------
 * Decoding: the encoder once, then one decoder step at a time */

int s2s_step_encode(const s2s_model *m, s2s_work *w, int B,
                    const uint32_t *src, int ld_src, const int *src_len,
                    int n_dec)
{
    int T = 0;
    size_t Ne = 0;
    for (int b = 0; b < B; b++) {
        T = src_len[b] > T ? src_len[b] : T;
        Ne += (size_t)(src_len[b] > 0 ? src_len[b] : 0);
    }
    work_reserve(m, w, B > n_dec ? B : n_dec, T > 0 ? T : 1, 1, Ne,
                 (size_t)(B > n_dec ? B : n_dec), FOR_GREEDY);
    w->drop = 0;
    w->rng = NULL;

    /* rows with a source, longest first (empty sources translate to "") */
    int n = 0;
    for (int b = 0; b < B; b++)
        if (src_len[b] > 0) w->order[n++] = b;
    for (int i = 1; i < n; i++) {
        int r = w->order[i], j = i;
        while (j > 0 && src_len[w->order[j - 1]] < src_len[r]) {
            w->order[j] = w->order[j - 1];
            j--;
        }
        w->order[j] = r;
    }
    if (n == 0) return 0;
    for (int j = 0; j < n; j++) {
        int r = w->order[j];
        w->len_sorted[j] = src_len[r];
        memcpy(w->src_sorted + (size_t)j * T, src + (size_t)r * ld_src,
               (size_t)src_len[r] * sizeof(uint32_t));
    }
    encoder_forward(m, w, n, w->src_sorted, T, w->len_sorted);
    if (has_attn(m)) memory_forward(m, w, n, w->len_sorted);
    for (int j = 0; j < n; j++) w->perm[j] = j;
    handoff_forward(m, w, n, w->perm, w->gst);
    memset(w->gfeed, 0, (size_t)n * top_H(m) * sizeof(float));
    for (int j = 0; j < n; j++) w->mrow[j] = j;
    return n;
}

const int *s2s_step_encoded_rows(const s2s_work *w) { return w->order; }

int s2s_step_memory_len(const s2s_work *w, int k) { return w->mlen[k]; }

s2s_coop *s2s_step_coop(const s2s_model *m, s2s_work *w0, int threads,
                        int rows)
{
    s2s_coop *c = w0->coop_own;
    if (c && c->capT >= threads && c->cap >= rows && c->capV >= m->V_tgt) {
        c->nt = threads;
        memset(c->wait, 0, (size_t)threads * sizeof *c->wait);
        return c;
    }
    int old_mode = c ? c->mode : -1;
    coop_free(c);
    c = s2s_xcalloc(1, sizeof *c);
    c->nt = c->capT = threads;
    c->cap = rows;
    c->capV = m->V_tgt;
    c->mode = old_mode;
    c->n = s2s_xcalloc((size_t)threads, sizeof *c->n);
    c->rows = s2s_xcalloc((size_t)threads, sizeof *c->rows);
    c->ld = s2s_xcalloc((size_t)threads, sizeof *c->ld);
    c->gath = s2s_xcalloc((size_t)threads, sizeof *c->gath);
    c->wait = s2s_xcalloc((size_t)threads, sizeof *c->wait);
    c->argmax = s2s_xcalloc((size_t)threads, sizeof *c->argmax);
    c->best = s2s_xcalloc((size_t)rows * threads, sizeof *c->best);
    c->best_z = s2s_xcalloc((size_t)rows * threads, sizeof *c->best_z);
    for (int t = 0; t < threads; t++)
        c->gath[t] = s2s_xaligned((size_t)rows * top_H(m) * sizeof(float));
    c->logits = s2s_xaligned((size_t)rows * m->V_tgt * sizeof(float));
    w0->coop_own = c;
    return c;
}

double s2s_step_coop_wait(const s2s_coop *c)
{
    double s = 0;
    for (int t = 0; t < c->nt; t++) s += c->wait[t];
    return s;
}

/* Sharing the output layer costs two barriers per step. On a quiet
 * machine they cost microseconds and the shared GEMM saves a third or
 * more of the work; when the threads do not run at the same time (a
 * machine busy with other work) a barrier waits for a whole time slice
 * and sharing is slower than projecting each thread's own rows. So: share,
 * measure the time spent at the barriers, and when it passes 40 % of the
 * threads' time, project separately for the next 16 calls, then measure
 * again. Either way the logits have the same bits. */
void s2s_step_coop_mode(s2s_coop *c, int mode) { c->mode = mode; }

int s2s_step_coop_use(s2s_coop *c)
{
    if (c->mode >= 0) return c->mode;
    if (c->skip > 0) {
        c->skip--;
        return 0;
    }
    return 1;
}

void s2s_step_coop_note(s2s_coop *c, double wall)
{
    if (wall > 0 && s2s_step_coop_wait(c) > 0.4 * wall * c->nt) c->skip = 16;
}

void s2s_step_join(s2s_work *w, s2s_coop *c, int t)
{
    w->coop = c;
    w->coop_t = t;
}

static s2s_screen *screen_of(const s2s_model *m, s2s_work *w);

/* Room for n arg-maxes in w->tok. */
static void tok_room(s2s_work *w, int n)
{
    if (n <= w->tok_cap) return;
    GROWU(w->tok, n);
    GROWF(w->tok_z, n);
    w->tok_cap = n;
}

/* The arg-max of each of n rows of h over the vocabulary's slice [v0, v1)
 * into w->tok and its logit into w->tok_z, as the logits s2s_gemm would
 * compute for them (n >= 2 rows at once) give it: from the screen when
 * the frozen kernel would do that product, else from the logits (into
 * lg, n x V). Only for rows s2s_screen_rows_usable accepted: no logit is
 * NaN. */
static void slice_argmax(const s2s_model *m, s2s_work *w, s2s_screen *scr,
                         int n, const float *h, int ldh, int v0, int v1,
                         float *lg)
{
    int H = top_H(m), V = m->V_tgt;
    const float *wv = out_w(m) + (size_t)v0 * H;
    int kb = s2s_gemm_frozen_chain(n, v1 - v0, H, wv, H, 1);
    tok_room(w, n);
    if (kb > 0 && s2s_screen_argmax_rows(scr, n, h, ldh, v0, v1, kb, w->tok, w->tok_z))
        return;
    for (int r = 0; r < n; r++)
        memcpy(lg + (size_t)r * V + v0, out_b(m) + v0, (size_t)(v1 - v0) * sizeof(float));
    s2s_gemm(0, 1, n, v1 - v0, H, 1.0f, h, ldh, wv, H, 1.0f, lg + v0, V);
    for (int r = 0; r < n; r++) {
        const float *z = lg + (size_t)r * V + v0;
        uint32_t b = argmax_row(z, v1 - v0);
        w->tok[r] = (uint32_t)v0 + b;
        w->tok_z[r] = z[b];
    }
}

/* The shared output layer of one step (see struct s2s_coop): every thread
 * of the team calls it once per round with its n rows (0 when done).
 * Rows of a thread that has exactly one take the one-row path of their
 * own (s2s_gemm's GEMV), as they did when each thread projected its own
 * rows, so decoded output does not change; the GEMM over the others gives
 * every element the bits of any GEMM over its row (same k order).
 * In greedy decoding, when every thread's screen can answer for its rows,
 * each thread finds the arg-max of every row over its slice instead
 * (slice_argmax), and each row's is the first largest of those (the
 * slices are in order): w->tok.
 * Returns the rows of all threads, 0 when every thread is done. */
static int coop_project(const s2s_model *m, s2s_work *w, int n)
{
    s2s_coop *c = w->coop;
    int t = w->coop_t, nt = c->nt, V = m->V_tgt, H = top_H(m), ld;
    const float *o = out_rows(m, w, &ld);
    s2s_screen *scr = w->greedy ? screen_of(m, w) : NULL;
    c->n[t] = n;
    c->rows[t] = o;
    c->ld[t] = ld;
    c->argmax[t] = scr && (n < 2 || s2s_screen_rows_usable(scr, n, o, ld));
    w->tok_valid = 0;
    s2s_phase(S2S_PH_WAIT);
    double t0 = omp_get_wtime();
#pragma omp barrier
    c->wait[t] += omp_get_wtime() - t0;
    s2s_phase(S2S_PH_OUTPUT_PROJ);
    int all = 0, total = 0, off = 0, argmax = 1;
    for (int j = 0; j < nt; j++) {
        all += c->n[j];
        argmax &= c->argmax[j];
        if (c->n[j] < 2) continue;
        if (j == t) off = total;
        total += c->n[j];
    }
    if (all == 0) {
        s2s_phase(S2S_PH_OTHER);
        return 0;
    }
    if (total > 0) {
        float *g = c->gath[t];
        int i = 0;
        for (int j = 0; j < nt; j++)
            for (int r = 0; c->n[j] >= 2 && r < c->n[j]; r++, i++)
                memcpy(g + (size_t)i * H, c->rows[j] + (size_t)r * c->ld[j],
                       (size_t)H * sizeof(float));
        int v0 = (int)((long)V * t / nt), v1 = (int)((long)V * (t + 1) / nt);
        if (argmax && v1 > v0) {
            slice_argmax(m, w, scr, total, g, H, v0, v1, c->logits);
            for (int r = 0; r < total; r++) {
                c->best[(size_t)r * nt + t] = w->tok[r];
                c->best_z[(size_t)r * nt + t] = w->tok_z[r];
            }
        } else {
            for (int r = 0; r < total && v1 > v0; r++)
                memcpy(c->logits + (size_t)r * V + v0, out_b(m) + v0,
                       (size_t)(v1 - v0) * sizeof(float));
            s2s_gemm(0, 1, total, v1 - v0, H, 1.0f, g, H, out_w(m) + (size_t)v0 * H,
                     H, 1.0f, c->logits + v0, V);
        }
    }
    s2s_phase(S2S_PH_WAIT);
    t0 = omp_get_wtime();
#pragma omp barrier
    c->wait[t] += omp_get_wtime() - t0;
    s2s_phase(S2S_PH_OTHER);
    if (n == 1) {
        project_logits(m, o, ld, 1, w->logits);
        w->lg = w->logits;
    } else if (argmax && n >= 2) {
        tok_room(w, n);
        for (int r = 0; r < n; r++) {
            const uint32_t *b = c->best + (size_t)(off + r) * nt;
            const float *z = c->best_z + (size_t)(off + r) * nt;
            int k = -1;
            for (int j = 0; j < nt; j++)
                if ((int)((long)V * (j + 1) / nt) > (int)((long)V * j / nt) &&
                    (k < 0 || z[j] > z[k]))
                    k = j;
            w->tok[r] = b[k];
        }
        w->tok_valid = 1;
    } else {
        w->lg = c->logits + (size_t)off * V;
    }
    return all;
}

void s2s_step_coop_drain(const s2s_model *m, s2s_work *w)
{
    if (!w->coop) return;
    while (coop_project(m, w, 0) > 0) {}
}

/* One decoder step of n rows; the logits too unless `logits` is 0. */
static void decode_step(const s2s_model *m, s2s_work *w, int n,
                        const uint32_t *prev_ids, const int *mem_of, int logits)
{
    w->U = 1;
    w->Du[0] = n;
    w->Du[1] = 0;
    w->Qu[0] = 0;
    w->Qu[1] = n;
    memcpy(w->ids_d, prev_ids, (size_t)n * sizeof(uint32_t));
    memcpy(w->mrow, mem_of, (size_t)n * sizeof(int));
    decoder_span(m, w, 0, 1, w->gst, w->gfeed, logits && !w->coop);
    if (w->coop)
        coop_project(m, w, n);
    else
        w->lg = w->logits;
}

void s2s_step_decode(const s2s_model *m, s2s_work *w, int n,
                     const uint32_t *prev_ids, const int *mem_of)
{
    w->greedy = 0; /* every logit, also in a shared output layer */
    decode_step(m, w, n, prev_ids, mem_of, 1);
}

const float *s2s_step_logits(const s2s_work *w) { return w->lg; }

const float *s2s_step_attention(const s2s_work *w, int j)
{
    return w->attn ? w->attn + (size_t)j * w->Tm : NULL;
}

void s2s_step_keep(const s2s_model *m, s2s_work *w, int n, const int *from)
{
    int H = top_H(m), ld;
    const float *o = out_rows(m, w, &ld);
    for (int k = 0; k < n; k++) {
        int j = from[k];
        for (int l = 0; l < m->L_dec; l++) {
            int SH = m->dec[l].S * m->dec[l].H;
            memcpy(w->gst[l] + (size_t)k * SH, w->st_d[l] + (size_t)j * SH,
                   (size_t)SH * sizeof(float));
        }
        if (m->input_feed)
            memcpy(w->gfeed + (size_t)k * H, o + (size_t)j * ld,
                   (size_t)H * sizeof(float));
    }
}

/* ------------------------------------------------------------------------
 * Greedy decoding */

/* The screen of the output layer (core/screen.c) while the weights are
 * frozen for decoding; NULL otherwise, or with S2S_SCREEN=0 in the
 * environment (every logit computed, to compare). */
static s2s_screen *screen_of(const s2s_model *m, s2s_work *w)
{
    static _Atomic int off = -1;
    if (env_is(&off, "S2S_SCREEN", "0")) return NULL;
    /* a shortlist's rows are gathered for each batch: no screen (the
     * model's own stays for the next batch without one) */
    if (m->view_out_w) return NULL;
    long id = s2s_gemm_frozen_id(m->params.w, m->params.n);
    if (id != w->screen_of) {
        s2s_screen_free(w->screen);
        w->screen = id ? s2s_screen_new(m->params.w + m->off_out_w,
                                         m->params.w + m->off_out_b, m->V_tgt,
                                         top_H(m))
                       : NULL;
        w->screen_of = id;
    }
    return w->screen;
}

/* The arg-max of each of the step's n rows from the screen, into w->tok
 * (one row: the BLAS's GEMV reproduced; more: the frozen kernel's chains,
 * or the logits when that kernel does not do the product); when it cannot
 * tell, the logits are computed into w->lg instead. */
static void screened_argmax(const s2s_model *m, s2s_work *w, s2s_screen *s,
                            int n)
{
    int ld;
    const float *o = out_rows(m, w, &ld);
    s2s_phase(S2S_PH_OUTPUT_PROJ);
    tok_room(w, n);
    int ok;
    if (n == 1) {
        ok = s2s_screen_argmax(s, o, w->tok);
    } else if ((ok = s2s_screen_rows_usable(s, n, o, ld))) {
        slice_argmax(m, w, s, n, o, ld, 0, m->V_tgt, w->logits);
    }
    s2s_phase(S2S_PH_OTHER);
    w->tok_valid = ok;
    if (!ok) {
        project_logits(m, o, ld, n, w->logits);
        w->lg = w->logits;
    }
}

void s2s_step_screen_counts(const s2s_work *w, long *answered, long *exact)
{
    s2s_screen_counts(w->screen, answered, exact);
}

void s2s_step_greedy(const s2s_model *m, s2s_work *w, int B,
                     const uint32_t *src, int ld_src, const int *src_len,
                     const int *max_out, uint32_t *out, int ld_out,
                     int *out_len, float *align, int ld_align)
{
    int V = m->V_tgt;
    for (int b = 0; b < B; b++) out_len[b] = 0;
    int n = s2s_step_encode(m, w, B, src, ld_src, src_len, B);
    /* rows allowed no output stop at once */
    uint32_t *cur = w->src_sorted; /* free once the encoder has run */
    int *mem_of = w->len_sorted;
    int kept = 0;
    for (int j = 0; j < n; j++) {
        if (max_out[w->order[j]] <= 0) continue;
        for (int l = 0; l < m->L_dec && kept != j; l++) {
            size_t SH = (size_t)m->dec[l].S * m->dec[l].H;
            memmove(w->gst[l] + kept * SH, w->gst[l] + j * SH,
                    SH * sizeof(float));
        }
        w->row_of[kept] = w->order[j];
        cur[kept] = S2S_SOS;
        mem_of[kept++] = j;
    }
    n = kept;
    w->greedy = 1; /* the shared output layer may take arg-maxes too (also
                      once this thread's rows are done: see coop_project) */
    while (n > 0) {
        /* the screen finds the arg-maxes without every logit */
        s2s_screen *scr = !w->coop ? screen_of(m, w) : NULL;
        w->tok_valid = 0;
        decode_step(m, w, n, cur, mem_of, !scr);
        if (scr) screened_argmax(m, w, scr, n);
        /* keep the unfinished rows, packed to the front */
        s2s_phase(S2S_PH_SOFTMAX); /* the arg-max, decoding's "softmax" */
        kept = 0;
        for (int j = 0; j < n; j++) {
            int r = w->row_of[j];
            uint32_t tok = w->tok_valid ? w->tok[j] : argmax_row(w->lg + (size_t)j * V, V);
            if (tok == S2S_EOS) continue;
            if (align && has_attn(m))
                memcpy(align + ((size_t)r * ld_out + out_len[r]) * ld_align,
                       w->attn + (size_t)j * w->Tm,
                       (size_t)w->mlen[mem_of[j]] * sizeof(float));
            out[(size_t)r * ld_out + out_len[r]++] = tok;
            if (out_len[r] >= max_out[r]) continue;
            w->row_of[kept] = r;
            w->perm[kept] = j;
            cur[kept] = tok;
            mem_of[kept] = mem_of[j];
            kept++;
        }
        s2s_phase(S2S_PH_OTHER);
        s2s_step_keep(m, w, kept, w->perm);
        n = kept;
    }
}
