/* tests/seq2seq_beam.c — beam search: a beam of 1 is greedy decoding bit
 * for bit; a beam wide enough to keep every hypothesis finds exactly what
 * exhaustive search over all outputs finds; the log-probabilities it
 * reports are the forced-decoding scores of its hypotheses; n-best lists
 * are sorted and distinct; a sentence's list does not depend on what it is
 * batched with. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/kernels.h"
#include "core/screen.h"
#include "seq2seq/beam.h"
#include "seq2seq/decode.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"
#include "seq2seq/step.h"
#include "tokenizer/vocab.h"

static void build_sized(s2s_model *m, const char *attention, int feed,
                        int bidir, int V_tgt, uint64_t seed, float range,
                        int hidden)
{
    const char *b = getenv("S2S_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", path, 1);
    s2s_config c;
    s2s_config_defaults(&c);
    c.model.embed = 5;
    c.model.encoder.hidden = bidir ? hidden / 2 : hidden;
    c.model.decoder.hidden = hidden;
    snprintf(c.model.attention, sizeof c.model.attention, "%s", attention);
    c.model.input_feed = feed;
    c.model.bidirectional = bidir;
    s2s_err err;
    cr_assert_eq(s2s_model_build(m, &c, 9, V_tgt, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, seed);
    s2s_model_init_params(m, range, &rng);
}

static void build(s2s_model *m, const char *attention, int feed, int bidir,
                  int V_tgt, uint64_t seed, float range)
{
    build_sized(m, attention, feed, bidir, V_tgt, seed, range, 6);
}

enum { NB = 4, TT = 5 };
static const uint32_t SRC[NB][TT] = {
    {4, 5, 6, 7, 8}, {8, 4, 5, 0, 0}, {6, 0, 0, 0, 0}, {7, 7, 0, 0, 0}};
static const int SRC_LEN[NB] = {5, 3, 1, 2};

/* log P of target y (n tokens) for source row b, with <eos> after it when
 * `eos`: forced decoding through s2s_step_score. */
static double forced(const s2s_model *m, s2s_work *w, int b, const uint32_t *y,
                     int n, int eos)
{
    uint32_t tin[64], tout[64];
    tin[0] = S2S_SOS;
    for (int i = 0; i < n; i++) {
        tin[i + 1] = y[i];
        tout[i] = y[i];
    }
    tout[n] = S2S_EOS;
    int U = n + (eos ? 1 : 0);
    if (U == 0) return 0;
    s2s_seqs s = {1, SRC[b], TT, &SRC_LEN[b], tin, tout, U, &U};
    double nll;
    s2s_step_score(m, w, &s, &nll);
    return -nll;
}

/* Beam 1 is greedy decoding: the same tokens, for every kind of model. */
static void beam1_is_greedy(const char *attention, int feed, int bidir)
{
    s2s_model m;
    build(&m, attention, feed, bidir, 11, 17, 1.5f);
    s2s_work *w = s2s_work_new(&m);
    enum { LD = 12 };
    const int cap[NB] = {LD, 4, LD, 7};
    uint32_t g[NB][LD], bm[NB][LD];
    int gl[NB], bl[NB], nh[NB];
    float sc[NB];
    double lp[NB];
    s2s_step_greedy(&m, w, NB, &SRC[0][0], TT, SRC_LEN, cap, &g[0][0], LD, gl,
                    NULL, 0);
    s2s_beam_opts o = {.beam = 1, .nbest = 1, .lp = S2S_LP_AVG};
    s2s_beam_search(&m, w, &o, NB, &SRC[0][0], TT, SRC_LEN, cap, &bm[0][0], LD,
                    bl, sc, lp, nh, NULL, 0);
    int tokens = 0;
    for (int b = 0; b < NB; b++) {
        cr_assert_eq(nh[b], 1);
        cr_assert_eq(bl[b], gl[b], "row %d: beam %d tokens, greedy %d", b, bl[b], gl[b]);
        for (int i = 0; i < gl[b]; i++) cr_assert_eq(bm[b][i], g[b][i]);
        tokens += gl[b];
    }
    cr_assert(tokens > NB, "the model says almost nothing: a weak test");
    s2s_work_free(w);
    s2s_model_free(&m);
}

Test(beam, one_is_greedy_plain) { beam1_is_greedy("none", 0, 0); }
Test(beam, one_is_greedy_attention) { beam1_is_greedy("general", 1, 1); }
Test(beam, one_is_greedy_mlp) { beam1_is_greedy("mlp", 0, 0); }

/* Every output of up to T tokens over a vocabulary of V: a beam of V^T
 * keeps them all, so its n-best list is exhaustive search's. */
static void exhaustive(const char *attention, s2s_length_penalty lp)
{
    enum { V = 6, T = 3, K = 216, NBEST = 6 };
    s2s_model m;
    build(&m, attention, attention[0] != 'n', 0, V, 9, 2.0f);
    s2s_work *w = s2s_work_new(&m);
    s2s_beam_opts o = {.beam = K, .nbest = NBEST, .lp = lp, .alpha = 0.6f};
    for (int b = 0; b < NB; b++) {
        /* all sequences: y of length k < T ending in <eos>, or T tokens */
        typedef struct { uint32_t y[T]; int n; double lp; float sc; } seq;
        static seq all[2000];
        int na = 0;
        for (int code = 0; code < V * V * V; code++) {
            uint32_t y[T] = {(uint32_t)(code % V), (uint32_t)(code / V % V),
                             (uint32_t)(code / V / V)};
            int n = 0;
            while (n < T && y[n] != S2S_EOS) n++;
            /* each distinct output once: past <eos>, only zeros */
            int canon = 1;
            for (int i = n + 1; i < T; i++) canon &= y[i] == 0;
            if (!canon) continue;
            int ended = n < T;
            seq *q = &all[na++];
            memcpy(q->y, y, sizeof y);
            q->n = n;
            q->lp = forced(&m, w, b, y, n, ended);
            int len = ended ? n + 1 : n;
            q->sc = lp == S2S_LP_AVG ? (float)(q->lp / len)
                    : lp == S2S_LP_WU ? (float)(q->lp / pow((5.0 + len) / 6.0, 0.6))
                                      : (float)q->lp;
        }
        /* best NBEST by score (selection) */
        for (int i = 0; i < NBEST; i++)
            for (int j = i + 1; j < na; j++)
                if (all[j].sc > all[i].sc) {
                    seq t = all[i];
                    all[i] = all[j];
                    all[j] = t;
                }
        uint32_t out[NBEST][T];
        int ol[NBEST], nh, cap = T;
        float sc[NBEST];
        double lpv[NBEST];
        s2s_beam_search(&m, w, &o, 1, SRC[b], TT, &SRC_LEN[b], &cap, &out[0][0],
                        T, ol, sc, lpv, &nh, NULL, 0);
        cr_assert_eq(nh, NBEST);
        for (int h = 0; h < NBEST; h++) {
            cr_assert(fabsf(sc[h] - all[h].sc) < 1e-5f * (1 + fabsf(sc[h])),
                      "source %d, hypothesis %d: beam %.7f exhaustive %.7f", b, h,
                      sc[h], all[h].sc);
            cr_assert(fabs(lpv[h] - all[h].lp) < 1e-5 * (1 + fabs(lpv[h])),
                      "log P %.7f vs forced %.7f", lpv[h], all[h].lp);
            /* the same output, unless two outputs tie to the last bit */
            if (h + 1 < NBEST && all[h].sc == all[h + 1].sc) continue;
            cr_assert_eq(ol[h], all[h].n, "source %d hypothesis %d", b, h);
            for (int i = 0; i < ol[h]; i++) cr_assert_eq(out[h][i], all[h].y[i]);
        }
    }
    s2s_work_free(w);
    s2s_model_free(&m);
}

Test(beam, wide_beam_is_exhaustive_search_avg) { exhaustive("none", S2S_LP_AVG); }
Test(beam, wide_beam_is_exhaustive_search_none) { exhaustive("general", S2S_LP_NONE); }
Test(beam, wide_beam_is_exhaustive_search_wu) { exhaustive("dot", S2S_LP_WU); }

/* Scores are forced-decoding scores; lists sorted, distinct; a sentence's
 * list is the same alone and in a batch. */
Test(beam, scores_sorted_distinct_batch_invariant)
{
    s2s_model m;
    build(&m, "general", 1, 1, 12, 21, 1.2f);
    s2s_work *w = s2s_work_new(&m);
    enum { K = 5, N = 5, LD = 10 };
    s2s_beam_opts o = {.beam = K, .nbest = N, .lp = S2S_LP_WU, .alpha = 0.6f,
                       .beta = 0.2f};
    const int cap[NB] = {LD, LD, LD, LD};
    uint32_t out[NB * N][LD], one[N][LD];
    int ol[NB * N], nh[NB], ol1[N], nh1;
    float sc[NB * N], sc1[N];
    double lp[NB * N], lp1[N];
    s2s_beam_search(&m, w, &o, NB, &SRC[0][0], TT, SRC_LEN, cap, &out[0][0], LD,
                    ol, sc, lp, nh, NULL, 0);
    for (int b = 0; b < NB; b++) {
        cr_assert(nh[b] >= 2, "source %d: %d hypotheses", b, nh[b]);
        for (int h = 0; h < nh[b]; h++) {
            int at = b * N + h;
            if (h) cr_assert(sc[at] <= sc[at - 1], "not sorted");
            for (int g = 0; g < h; g++) {
                int same = ol[b * N + g] == ol[at] &&
                           !memcmp(out[b * N + g], out[at], (size_t)ol[at] * 4);
                cr_assert(!same, "source %d: hypotheses %d and %d are equal", b, g, h);
            }
            int ended = ol[at] < LD;
            double f = forced(&m, w, b, out[at], ol[at], ended);
            cr_assert(fabs(f - lp[at]) < 1e-5 * (1 + fabs(f)),
                      "source %d hyp %d: beam log P %.7f, forced %.7f", b, h, lp[at], f);
        }
        s2s_beam_search(&m, w, &o, 1, SRC[b], TT, &SRC_LEN[b], &cap[b], &one[0][0],
                        LD, ol1, sc1, lp1, &nh1, NULL, 0);
        cr_assert_eq(nh1, nh[b]);
        for (int h = 0; h < nh1; h++) {
            cr_assert_eq(ol1[h], ol[b * N + h]);
            cr_assert_eq(memcmp(one[h], out[b * N + h], (size_t)ol1[h] * 4), 0,
                         "source %d hypothesis %d differs alone", b, h);
            cr_assert(fabsf(sc1[h] - sc[b * N + h]) < 1e-5f);
        }
    }
    s2s_work_free(w);
    s2s_model_free(&m);
}

/* Batched decoding on two threads that share the output layer (each
 * projects every row onto half the vocabulary), and with the weights
 * frozen (few-row products from transposed copies): the same tokens and
 * the same score bits as each thread projecting its own rows with the
 * BLAS, greedy and beam. */
static void shared_and_frozen(const char *attention, int feed, int bidir)
{
    s2s_model m;
    build(&m, attention, feed, bidir, 203, 23, 1.3f);
    enum { K = 5, N = 3, LD = 9, H = NB * N };
    s2s_work *w[2] = {s2s_work_new(&m), s2s_work_new(&m)};
    const int cap[NB] = {LD, 3, LD, 6};
    uint32_t ref[H][LD], got[H][LD];
    int rl[H], gl[H], rn[NB], gn[NB];
    float rs[H], gs[H];
    double rp[H], gp[H];
    s2s_beam_opts o = {.beam = K, .nbest = N, .lp = S2S_LP_AVG};
    /* the references: each thread its own rows, nothing frozen */
    s2s_step_coop_mode(s2s_step_coop(&m, w[0], 2, NB * K), 0);
    s2s_decode_batch(&m, w, 2, &o, NB, &SRC[0][0], TT, SRC_LEN, cap,
                     &ref[0][0], LD, rl, rs, rp, rn, NULL, 0);
    uint32_t gref[NB][LD], gout[NB][LD];
    int grl[NB], gol[NB];
    s2s_decode_batch(&m, w, 2, NULL, NB, &SRC[0][0], TT, SRC_LEN, cap,
                     &gref[0][0], LD, grl, NULL, NULL, NULL, NULL, 0);
    int tokens = 0;
    for (int b = 0; b < NB; b++) tokens += grl[b];
    cr_assert(tokens > NB, "the model says almost nothing: a weak test");
    for (int run = 1; run < 4; run++) {
        int frozen = run >= 2, share = run != 2;
        if (frozen) cr_assert_eq(s2s_gemm_freeze(m.params.w, m.params.n), 0);
        s2s_step_coop_mode(s2s_step_coop(&m, w[0], 2, NB * K), share);
        s2s_decode_batch(&m, w, 2, &o, NB, &SRC[0][0], TT, SRC_LEN, cap,
                         &got[0][0], LD, gl, gs, gp, gn, NULL, 0);
        s2s_decode_batch(&m, w, 2, NULL, NB, &SRC[0][0], TT, SRC_LEN, cap,
                         &gout[0][0], LD, gol, NULL, NULL, NULL, NULL, 0);
        if (frozen) s2s_gemm_thaw(m.params.w);
        for (int b = 0; b < NB; b++) {
            cr_assert_eq(gol[b], grl[b], "run %d greedy row %d", run, b);
            cr_assert_eq(memcmp(gout[b], gref[b], (size_t)grl[b] * 4), 0);
            cr_assert_eq(gn[b], rn[b]);
            for (int h = b * N; h < b * N + rn[b]; h++) {
                cr_assert_eq(gl[h], rl[h], "run %d hypothesis %d", run, h);
                cr_assert_eq(memcmp(got[h], ref[h], (size_t)rl[h] * 4), 0);
                cr_assert_eq(memcmp(&gs[h], &rs[h], sizeof *gs), 0,
                             "run %d hypothesis %d: score %.9g vs %.9g",
                             run, h, gs[h], rs[h]);
                cr_assert_eq(memcmp(&gp[h], &rp[h], sizeof *gp), 0);
            }
        }
    }
    /* one sentence at a time (the batch-1 path: the frozen kernel gets
     * the threads, the BLAS one) */
    for (int b = 0; b < NB; b++) {
        uint32_t one[2][N][LD];
        int ol[2][N], on[2];
        float os[2][N];
        for (int frozen = 0; frozen <= 1; frozen++) {
            if (frozen) cr_assert_eq(s2s_gemm_freeze(m.params.w, m.params.n), 0);
            s2s_decode_batch(&m, w, 2, &o, 1, SRC[b], TT, &SRC_LEN[b], &cap[b],
                             &one[frozen][0][0], LD, ol[frozen], os[frozen], NULL,
                             &on[frozen], NULL, 0);
            if (frozen) s2s_gemm_thaw(m.params.w);
        }
        cr_assert_eq(on[0], on[1]);
        for (int h = 0; h < on[0]; h++) {
            cr_assert_eq(ol[0][h], ol[1][h], "batch 1, source %d hypothesis %d", b, h);
            cr_assert_eq(memcmp(one[0][h], one[1][h], (size_t)ol[0][h] * 4), 0);
            cr_assert_eq(memcmp(&os[0][h], &os[1][h], sizeof(float)), 0);
        }
    }
    s2s_work_free(w[0]);
    s2s_work_free(w[1]);
    s2s_model_free(&m);
}

Test(beam, shared_output_layer_and_frozen_weights_plain) { shared_and_frozen("none", 0, 0); }
Test(beam, shared_output_layer_and_frozen_weights_attention) { shared_and_frozen("general", 1, 1); }

/* Greedy decoding one sentence at a time with the weights frozen takes
 * each step's arg-max from the output layer's screen (core/screen.c): the
 * same tokens as computing every logit, on models whose logits are spread
 * (range 1.3) and nearly flat (0.05: many near ties), with and without
 * attention. (Each freeze makes a new screen: the counts are the last
 * sentence's.) */
static void screened_greedy(const char *attention, float range)
{
    s2s_model m;
    /* (at 6 hidden units OpenBLAS's GEMV sums rows in an order no call of
     * fewer rows repeats, and the screen declines: 24) */
    build_sized(&m, attention, 0, 0, 203, 29, range, 24);
    s2s_work *w[2] = {s2s_work_new(&m), s2s_work_new(&m)};
    enum { LD = 9, N = 40 };
    s2s_rng r;
    s2s_rng_seed(&r, 5);
    long answered = 0, exact = 0;
    for (int i = 0; i < N; i++) {
        uint32_t src[TT], out[2][LD];
        int len = 1 + (int)s2s_rng_below(&r, TT), cap = LD, ol[2];
        for (int t = 0; t < len; t++) src[t] = 4 + (uint32_t)s2s_rng_below(&r, 5);
        for (int frozen = 0; frozen <= 1; frozen++) {
            if (frozen) cr_assert_eq(s2s_gemm_freeze(m.params.w, m.params.n), 0);
            s2s_decode_batch(&m, w, 2, NULL, 1, src, TT, &len, &cap, out[frozen],
                             LD, &ol[frozen], NULL, NULL, NULL, NULL, 0);
            if (frozen) s2s_gemm_thaw(m.params.w);
        }
        cr_assert_eq(ol[0], ol[1], "source %d", i);
        cr_assert_eq(memcmp(out[0], out[1], (size_t)ol[0] * 4), 0, "source %d", i);
    }
    s2s_step_screen_counts(w[0], &answered, &exact);
    float probe[4 * 8] = {0};
    s2s_screen *has = s2s_screen_new(probe, probe, 4, 8);
    if (!has) cr_skip_test("this build has no screen kernel");
    s2s_screen_free(has);
    cr_assert(answered >= 1 && exact >= answered, "%ld steps, %ld logits",
              answered, exact);
    s2s_work_free(w[0]);
    s2s_work_free(w[1]);
    s2s_model_free(&m);
}

/* The same at batch 24 on 2 threads: each step's rows' arg-maxes from the
 * screen over the frozen kernel's chains, with the output layer shared
 * between the threads (each its slice of the vocabulary) and not. */
static void screened_greedy_batched(const char *attention, float range, int shared)
{
    s2s_model m;
    build_sized(&m, attention, 0, 0, 203, 31, range, 24);
    s2s_work *w[2] = {s2s_work_new(&m), s2s_work_new(&m)};
    enum { LD = 9, B = 24 };
    s2s_step_coop_mode(s2s_step_coop(&m, w[0], 2, B), shared);
    s2s_rng r;
    s2s_rng_seed(&r, 9);
    long answered = 0;
    int kernel = 0; /* the frozen kernel served (its check passed on this BLAS) */
    for (int round = 0; round < 4; round++) {
        uint32_t src[B * TT], out[2][B * LD];
        int len[B], cap[B], ol[2][B];
        for (int b = 0; b < B; b++) {
            len[b] = 1 + (int)s2s_rng_below(&r, TT);
            cap[b] = LD;
            for (int t = 0; t < len[b]; t++) src[b * TT + t] = 4 + (uint32_t)s2s_rng_below(&r, 5);
        }
        for (int frozen = 0; frozen <= 1; frozen++) {
            if (frozen) cr_assert_eq(s2s_gemm_freeze(m.params.w, m.params.n), 0);
            s2s_decode_batch(&m, w, 2, NULL, B, src, TT, len, cap, out[frozen],
                             LD, ol[frozen], NULL, NULL, NULL, NULL, 0);
            if (frozen) {
                for (int t = 0; t < 2; t++) {
                    long a, e;
                    s2s_step_screen_counts(w[t], &a, &e);
                    answered += a;
                }
                kernel |= s2s_gemm_frozen_copies() > 0;
                s2s_gemm_thaw(m.params.w);
            }
        }
        for (int b = 0; b < B; b++) {
            cr_assert_eq(ol[0][b], ol[1][b], "round %d row %d", round, b);
            cr_assert_eq(memcmp(out[0] + b * LD, out[1] + b * LD, (size_t)ol[0][b] * 4),
                         0, "round %d row %d", round, b);
        }
    }
    float probe[4 * 8] = {0};
    s2s_screen *has = s2s_screen_new(probe, probe, 4, 8);
    if (!has) cr_skip_test("this build has no screen kernel");
    s2s_screen_free(has);
    if (!kernel) cr_skip_test("the frozen kernel does not match this BLAS: no screen");
    cr_assert(answered >= B, "%ld rows answered by the screen", answered);
    s2s_work_free(w[0]);
    s2s_work_free(w[1]);
    s2s_model_free(&m);
}

Test(beam, screened_greedy_spread) { screened_greedy("none", 1.3f); }
Test(beam, screened_greedy_batched_shared) { screened_greedy_batched("none", 1.3f, 1); }
Test(beam, screened_greedy_batched_flat_attention) { screened_greedy_batched("general", 0.05f, 0); }
Test(beam, screened_greedy_flat_attention) { screened_greedy("general", 0.05f); }
