/* tests/seq2seq_attention.c — attention (dot, general, mlp), input
 * feeding, the bidirectional encoder and dropout: whole-model gradients
 * against central finite differences, masking (a padded batch equals its
 * rows alone, and no weight lands on padding), dropout's limits, config A
 * against figures PyTorch computes, and a toy task that attention learns
 * clearly better than the context vector alone.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"
#include "seq2seq/step.h"
#include "seq2seq/train.h"
#include "tokenizer/vocab.h"
#include "scratch.h"

static void use_built_cells(void)
{
    const char *b = getenv("S2S_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", path, 1);
}

typedef struct variant {
    const char *attention;     /* none | dot | general | mlp */
    int input_feed, bidir;
    const char *enc, *dec;     /* cells */
    int enc_layers, dec_layers;
    int enc_hidden, dec_hidden;
    float dropout;
} variant;

static void config_of(s2s_config *c, const variant *v)
{
    s2s_config_defaults(c);
    c->model.embed = 3;
    c->model.encoder.layers = v->enc_layers;
    c->model.encoder.hidden = v->enc_hidden;
    c->model.decoder.layers = v->dec_layers;
    c->model.decoder.hidden = v->dec_hidden;
    for (int l = 0; l < S2S_MAX_LAYERS; l++) {
        snprintf(c->model.encoder.cell[l], S2S_PATH_MAX, "%s", v->enc);
        snprintf(c->model.decoder.cell[l], S2S_PATH_MAX, "%s", v->dec);
    }
    snprintf(c->model.attention, sizeof c->model.attention, "%s", v->attention);
    c->model.input_feed = v->input_feed;
    c->model.bidirectional = v->bidir;
    c->model.dropout = v->dropout;
}

/* Three pairs of different lengths, sorted by source length, V_src = 9,
 * V_tgt = 8 (ids >= 4 are words). */
enum { NB = 3, TT = 4, UU = 5 };
static const uint32_t SRC[NB][TT] = {{4, 5, 6, 7}, {8, 4, 5, 0}, {6, 0, 0, 0}};
static const int SRC_LEN[NB] = {4, 3, 1};
static const uint32_t TIN[NB][UU] = {
    {S2S_SOS, 4, 5, 0, 0}, {S2S_SOS, 6, 7, 4, 5}, {S2S_SOS, 0, 0, 0, 0}};
static const uint32_t TOUT[NB][UU] = {
    {4, 5, S2S_EOS, 0, 0}, {6, 7, 4, 5, S2S_EOS}, {S2S_EOS, 0, 0, 0, 0}};
static const int TGT_LEN[NB] = {3, 5, 1};

static s2s_seqs all_rows(void)
{
    s2s_seqs s = {NB, &SRC[0][0], TT, SRC_LEN, &TIN[0][0], &TOUT[0][0], UU, TGT_LEN};
    return s;
}

static void build(s2s_model *m, const variant *v, uint64_t seed, float range)
{
    use_built_cells();
    s2s_config c;
    config_of(&c, v);
    s2s_err err;
    cr_assert_eq(s2s_model_build(m, &c, 9, 8, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, seed);
    s2s_model_init_params(m, range, &rng);
}

/* The training loss with the dropout masks of RNG seed 99 (the same masks
 * at every call); `g` receives the gradient when not NULL. */
static double train_loss(const s2s_model *m, s2s_work *w, float *g,
                         float *scratch)
{
    s2s_seqs s = all_rows();
    s2s_rng rng;
    s2s_rng_seed(&rng, 99);
    if (!g) {
        memset(scratch, 0, m->params.n * sizeof(float));
        g = scratch;
    }
    return s2s_step_train(m, w, &s, g, 1.0f, 1.0f, &rng);
}

static void gradcheck(variant v)
{
    s2s_model m;
    build(&m, &v, 7, 0.5f);
    s2s_work *w = s2s_work_new(&m);
    size_t n = m.params.n;
    float *g = calloc(n, sizeof *g), *scratch = calloc(n, sizeof *scratch);
    train_loss(&m, w, g, scratch);

    int bad = 0, nonzero = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = m.params.w[i];
        const float eps = 1e-2f;
        m.params.w[i] = keep + eps;
        double lp = train_loss(&m, w, NULL, scratch);
        m.params.w[i] = keep - eps;
        double lm = train_loss(&m, w, NULL, scratch);
        m.params.w[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        double diff = fabs(num - g[i]);
        if (diff > 2e-3 + 2e-2 * fabs(num)) {
            if (bad < 5)
                cr_log_error("param %zu: analytic %.6f numeric %.6f", i, g[i], num);
            bad++;
        }
        nonzero += g[i] != 0;
        if (diff > worst) worst = diff;
    }
    cr_assert_eq(bad, 0, "%s feed=%d bidir=%d %s->%s drop=%.1f: %d of %zu "
                 "gradients off (worst %.2e)", v.attention, v.input_feed,
                 v.bidir, v.enc, v.dec, v.dropout, bad, n, worst);
    /* a check of zeros proves nothing: most gradients must be live */
    cr_assert(nonzero > (int)(n / 2), "only %d of %zu gradients non-zero",
              nonzero, n);
    free(g);
    free(scratch);
    s2s_work_free(w);
    s2s_model_free(&m);
}

/* config A's shape, small: biLSTM 2x2 -> LSTM 4, general, input feeding */
Test(attention_grad, general_feed_bidir_lstm)
{
    gradcheck((variant){"general", 1, 1, "lstm", "lstm", 1, 1, 2, 4, 0});
}
Test(attention_grad, dot_lstm)
{
    gradcheck((variant){"dot", 0, 0, "lstm", "lstm", 1, 1, 4, 4, 0});
}
Test(attention_grad, dot_feed_bidir_gru_two_layers)
{
    gradcheck((variant){"dot", 1, 1, "gru", "gru", 2, 2, 2, 4, 0});
}
Test(attention_grad, mlp_feed_mixed_cells_bridge)
{
    gradcheck((variant){"mlp", 1, 0, "gru", "lstm", 1, 2, 4, 5, 0});
}
Test(attention_grad, general_bidir_two_layers_to_elman)
{
    gradcheck((variant){"general", 0, 1, "gru", "elman", 2, 1, 3, 5, 0});
}
Test(attention_grad, mlp_bidir_elman)
{
    gradcheck((variant){"mlp", 0, 1, "elman", "elman", 1, 1, 2, 4, 0});
}
Test(attention_grad, bidir_without_attention)
{
    gradcheck((variant){"none", 0, 1, "lstm", "lstm", 2, 2, 2, 4, 0});
}
Test(dropout_grad, general_feed_bidir_two_layers)
{
    gradcheck((variant){"general", 1, 1, "lstm", "gru", 2, 2, 2, 4, 0.3f});
}
Test(dropout_grad, without_attention)
{
    gradcheck((variant){"none", 0, 0, "gru", "gru", 2, 2, 4, 4, 0.3f});
}

/* Masking: the batch equals the sum of its rows run one by one, padding
 * included in neither. */
static void masking(variant v)
{
    s2s_model m;
    build(&m, &v, 3, 0.3f);
    s2s_work *w = s2s_work_new(&m);
    size_t n = m.params.n;
    float *gb = calloc(n, sizeof *gb), *g1 = calloc(n, sizeof *g1);
    s2s_seqs s = all_rows();
    double lb = s2s_step_train(&m, w, &s, gb, 1.0f, 1.0f, NULL);
    double l1 = 0;
    for (int b = 0; b < NB; b++) {
        s2s_seqs one = {1, SRC[b], SRC_LEN[b], &SRC_LEN[b], TIN[b], TOUT[b],
                        TGT_LEN[b], &TGT_LEN[b]};
        l1 += s2s_step_train(&m, w, &one, g1, 1.0f, 1.0f, NULL);
    }
    cr_assert(fabs(lb - l1) < 1e-5 * fabs(lb), "loss %.9f vs %.9f", lb, l1);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(gb[i] - g1[i]) < 1e-5 + 1e-4 * fabs(g1[i]),
                  "grad %zu: batch %.8f alone %.8f", i, gb[i], g1[i]);
    free(gb);
    free(g1);
    s2s_work_free(w);
    s2s_model_free(&m);
}

Test(attention_masking, general_feed_bidir)
{
    masking((variant){"general", 1, 1, "lstm", "lstm", 2, 1, 2, 4, 0});
}
Test(attention_masking, mlp) { masking((variant){"mlp", 0, 0, "gru", "gru", 1, 1, 4, 4, 0}); }
Test(attention_masking, dot_feed) { masking((variant){"dot", 1, 0, "lstm", "lstm", 1, 1, 4, 4, 0}); }

/* Greedy decoding with attention: a batch equals each sentence alone, and
 * each output token's weights cover exactly its own source positions. */
Test(attention_greedy, weights_on_own_positions_and_batch_invariant)
{
    variant v = {"general", 1, 1, "lstm", "lstm", 1, 1, 2, 4, 0};
    s2s_model m;
    build(&m, &v, 5, 0.8f);
    s2s_work *w = s2s_work_new(&m);
    enum { LD = 6 };
    const int cap[NB] = {LD, LD, LD};
    uint32_t out[NB][LD], one[LD];
    int olen[NB], n1;
    float al[NB][LD][TT], al1[LD][TT];
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < LD; i++)
            for (int t = 0; t < TT; t++) al[b][i][t] = -1.0f; /* untouched */
    s2s_step_greedy(&m, w, NB, &SRC[0][0], TT, SRC_LEN, cap, &out[0][0], LD,
                    olen, &al[0][0][0], TT);
    int tokens = 0;
    for (int b = 0; b < NB; b++) {
        for (int i = 0; i < olen[b]; i++, tokens++) {
            double sum = 0;
            for (int t = 0; t < SRC_LEN[b]; t++) {
                cr_assert(al[b][i][t] >= 0 && al[b][i][t] <= 1);
                sum += al[b][i][t];
            }
            cr_assert(fabs(sum - 1) < 1e-5, "row %d token %d: weights sum %f", b, i, sum);
            for (int t = SRC_LEN[b]; t < TT; t++)
                cr_assert_eq(al[b][i][t], -1.0f, "weight written past the source");
        }
        s2s_step_greedy(&m, w, 1, SRC[b], TT, &SRC_LEN[b], &cap[b], one, LD,
                        &n1, &al1[0][0], TT);
        cr_assert_eq(olen[b], n1);
        for (int i = 0; i < n1; i++) {
            cr_assert_eq(out[b][i], one[i]);
            for (int t = 0; t < SRC_LEN[b]; t++)
                cr_assert(fabsf(al[b][i][t] - al1[i][t]) < 1e-5);
        }
    }
    cr_assert(tokens > 0, "nothing decoded: the test would prove nothing");
    s2s_work_free(w);
    s2s_model_free(&m);
}

/* Config A's equations as PyTorch computes them: the figures are those of
 * bench/pytorch_reference.py's AttnSeq2Seq in float64 on the three pairs
 * above with the parameters below (`scripts/xcheck_attention.py --golden`
 * prints them; `make xcheck` compares the whole model and its training).
 * Pins what finite differences cannot see: which state of the backward
 * direction is final, [h_fwd; h_bwd] and [c_t; h_t], h~_0 = 0, both LSTM
 * biases, the source mask and the loss averaged over target tokens. */
Test(attention_reference, config_a_equals_pytorch)
{
    s2s_model m;
    build(&m, &(variant){"general", 1, 1, "lstm", "lstm", 1, 1, 2, 4, 0}, 1, 0.1f);
    size_t n = m.params.n;
    cr_assert_eq(n, 488, "config A's small shape has %zu parameters", n);
    for (size_t i = 0; i < n; i++) /* the blocks' padding too */
        m.params.w[i] = (float)((int)((37 * i + 11) % 101) - 50) / 250.0f;
    s2s_work *w = s2s_work_new(&m);
    s2s_seqs s = all_rows();

    static const double want[NB] = {6.3382081111, 10.6438555775, 2.2573236197};
    double nll[NB];
    s2s_step_score(&m, w, &s, nll);
    for (int k = 0; k < NB; k++)
        cr_assert(fabs(nll[k] - want[k]) < 2e-5, "pair %d: NLL %.7f, PyTorch %.7f",
                  k, nll[k], want[k]);

    float *g = calloc(n, sizeof *g);
    s2s_step_train(&m, w, &s, g, 1.0f / 9.0f, 1.0f, NULL); /* 9 target tokens */
    double norm = 0, dot_u = 0;
    for (size_t i = 0; i < n; i++) {
        norm += (double)g[i] * g[i];
        dot_u += g[i] * (((int)((53 * i + 7) % 97) - 48) / 48.0);
    }
    norm = sqrt(norm);
    cr_assert(fabs(norm - 0.3541820766) < 1e-5, "gradient norm %.7f, PyTorch 0.3541821", norm);
    cr_assert(fabs(dot_u + 0.1276391591) < 1e-5, "gradient . u %.7f, PyTorch -0.1276392",
              dot_u);
    free(g);
    s2s_work_free(w);
    s2s_model_free(&m);
}

/* Dropout 0 is no dropout, bit for bit; p > 0 changes training but never
 * evaluation. */
Test(dropout, zero_is_none_and_eval_ignores_it)
{
    variant v0 = {"general", 1, 1, "lstm", "lstm", 1, 1, 2, 4, 0};
    variant vp = v0;
    vp.dropout = 0.4f;
    s2s_model m0, mp;
    build(&m0, &v0, 11, 0.5f);
    build(&mp, &vp, 11, 0.5f);
    cr_assert_eq(m0.params.n, mp.params.n);
    cr_assert_eq(memcmp(m0.params.w, mp.params.w, m0.params.n * sizeof(float)), 0);
    s2s_work *w0 = s2s_work_new(&m0), *wp = s2s_work_new(&mp);
    size_t n = m0.params.n;
    float *ga = calloc(n, sizeof *ga), *gb = calloc(n, sizeof *gb);
    float *gc = calloc(n, sizeof *gc);
    s2s_seqs s = all_rows();
    s2s_rng r;
    s2s_rng_seed(&r, 1);
    double la = s2s_step_train(&m0, w0, &s, ga, 1.0f, 1.0f, &r);
    double lb = s2s_step_train(&m0, w0, &s, gb, 1.0f, 1.0f, NULL);
    cr_assert_eq(la, lb);
    cr_assert_eq(memcmp(ga, gb, n * sizeof(float)), 0, "p = 0 is not bit-identical");
    s2s_rng_seed(&r, 1);
    double lp = s2s_step_train(&mp, wp, &s, gc, 1.0f, 1.0f, &r);
    cr_assert(lp != la, "dropout 0.4 left the training loss unchanged");
    cr_assert_eq(s2s_step_loss(&mp, wp, &s), s2s_step_loss(&m0, w0, &s),
                 "evaluation must not drop out");
    free(ga);
    free(gb);
    free(gc);
    s2s_work_free(w0);
    s2s_work_free(wp);
    s2s_model_free(&m0);
    s2s_model_free(&mp);
}

/* ------------------------------------------------------------------------
 * A toy task: reverse sentences of 5 to 8 words. The context vector alone
 * must hold the whole sentence; attention can look each word up. */

static char dir[256], corpus[300];

static void make_corpus(void)
{
    use_built_cells();
    scratch_make(dir, sizeof dir, "attn");
    snprintf(corpus, sizeof corpus, "%s/rev.tsv", dir);
    FILE *f = fopen(corpus, "w");
    cr_assert_not_null(f);
    static const char *src[] = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "tu",
                                "vo", "ze", "bi", "du"};
    static const char *tgt[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                "j", "k", "l"};
    unsigned x = 2024;
    for (int k = 0; k < 240; k++) {
        int n = 5 + k % 4, w[8];
        for (int i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            w[i] = (int)((x >> 16) % 12);
        }
        for (int i = n - 1; i >= 0; i--) fprintf(f, "%s%s", tgt[w[i]], i ? " " : "");
        fputc('\t', f);
        for (int i = 0; i < n; i++) fprintf(f, "%s%s", src[w[i]], i + 1 < n ? " " : "");
        fputc('\n', f);
    }
    fclose(f);
}

static double train_toy(const char *attention, int input_feed)
{
    s2s_config c;
    s2s_config_defaults(&c);
    snprintf(c.data.train, S2S_PATH_MAX, "%s", corpus);
    snprintf(c.data.dev, S2S_PATH_MAX, "%s", corpus);
    snprintf(c.data.test, S2S_PATH_MAX, "%s", corpus);
    c.data.split_every = 0;
    c.data.min_count = 1;
    c.model.embed = 16;
    c.model.encoder.hidden = c.model.decoder.hidden = 32;
    snprintf(c.model.attention, sizeof c.model.attention, "%s", attention);
    c.model.input_feed = input_feed;
    c.train.batch = 16;
    c.train.lr = 0.01f;
    c.train.threads = 2;
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/run-%s", dir, attention);
    s2s_trainer tr;
    s2s_err err;
    cr_assert_eq(s2s_trainer_init(&tr, &c, NULL, &err), 0, "%s", err.msg);
    size_t nb = s2s_batcher_count(&tr.batcher);
    for (int e = 0; e < 30; e++)
        for (size_t k = 0; k < nb; k++) {
            s2s_batcher_get(&tr.batcher, (uint64_t)e, k, &tr.batch);
            s2s_trainer_step(&tr, &tr.batch);
        }
    double loss = s2s_trainer_loss(&tr, S2S_TRAIN);
    s2s_trainer_free(&tr);
    return loss;
}

Test(attention_learns, reversal_better_than_context_alone, .timeout = 180)
{
    make_corpus();
    double none = train_toy("none", 0);
    double general = train_toy("general", 1);
    double mlp = train_toy("mlp", 0);
    double dot = train_toy("dot", 0);
    cr_log_info("loss after equal steps: none %.4f general+feed %.4f mlp %.4f "
                "dot %.4f", none, general, mlp, dot);
    cr_assert(general < none / 5, "general+feed %.4f vs none %.4f", general, none);
    cr_assert(mlp < none / 5, "mlp %.4f vs none %.4f", mlp, none);
    cr_assert(dot < none / 5, "dot %.4f vs none %.4f", dot, none);
    scratch_remove(dir);
}
