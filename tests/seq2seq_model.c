/* tests/seq2seq_model.c — the whole model's gradients against central
 * finite differences (embeddings, both stacks, the bridge, the projection),
 * and masking: a padded batch gives the same loss and gradients as its
 * sequences run one at a time. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"
#include "seq2seq/step.h"
#include "tokenizer/vocab.h"

static void use_built_cells(void)
{
    const char *b = getenv("S2S_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", path, 1);
}

/* A tiny config: E=3, H=4; enc/dec cells as given. */
static void tiny_config(s2s_config *c, const char *enc, const char *dec,
                        int enc_layers, int dec_layers, int dec_hidden)
{
    s2s_config_defaults(c);
    c->model.embed = 3;
    c->model.encoder.layers = enc_layers;
    c->model.encoder.hidden = 4;
    c->model.decoder.layers = dec_layers;
    c->model.decoder.hidden = dec_hidden;
    for (int l = 0; l < S2S_MAX_LAYERS; l++) {
        snprintf(c->model.encoder.cell[l], S2S_PATH_MAX, "%s", enc);
        snprintf(c->model.decoder.cell[l], S2S_PATH_MAX, "%s", dec);
    }
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

static void gradcheck(const char *enc, const char *dec, int le, int ld, int hd)
{
    use_built_cells();
    s2s_config c;
    tiny_config(&c, enc, dec, le, ld, hd);
    s2s_model m;
    s2s_err err;
    cr_assert_eq(s2s_model_build(&m, &c, 9, 8, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 7);
    s2s_model_init_params(&m, 0.5f, &rng);
    s2s_work *w = s2s_work_new(&m);
    s2s_seqs s = all_rows();

    size_t n = m.params.n;
    float *g = calloc(n, sizeof *g);
    s2s_step_train(&m, w, &s, g, 1.0f, 1.0f, NULL);

    /* every parameter that the batch touches (others have zero gradient,
     * checked too) */
    int checked = 0, bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = m.params.w[i];
        const float eps = 1e-2f;
        m.params.w[i] = keep + eps;
        double lp = s2s_step_loss(&m, w, &s);
        m.params.w[i] = keep - eps;
        double lm = s2s_step_loss(&m, w, &s);
        m.params.w[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        double diff = fabs(num - g[i]);
        double tol = 2e-3 + 2e-2 * fabs(num);
        if (diff > tol) {
            if (bad < 5)
                cr_log_error("param %zu: analytic %.6f numeric %.6f", i, g[i], num);
            bad++;
        }
        if (diff > worst) worst = diff;
        checked++;
    }
    cr_assert_eq(bad, 0, "%s->%s: %d of %d gradients off (worst %.2e)", enc,
                 dec, bad, checked, worst);
    /* the bridge exists exactly when the sides differ */
    int differ = strcmp(enc, dec) != 0 || le != ld || hd != 4;
    cr_assert_eq(m.use_bridge, differ);
    free(g);
    s2s_work_free(w);
    s2s_model_free(&m);
}

Test(model_grad, lstm_direct) { gradcheck("lstm", "lstm", 1, 1, 4); }
Test(model_grad, gru_two_layers) { gradcheck("gru", "gru", 2, 2, 4); }
Test(model_grad, elman_direct) { gradcheck("elman", "elman", 1, 1, 4); }
Test(model_grad, bridge_lstm_to_gru) { gradcheck("lstm", "gru", 1, 1, 4); }
Test(model_grad, bridge_layers_and_size) { gradcheck("gru", "lstm", 2, 1, 5); }
Test(model_grad, bridge_more_decoder_layers) { gradcheck("elman", "lstm", 1, 2, 4); }

/* Masking: the batch equals the sum of its rows run one by one. */
static void masking(const char *cell)
{
    use_built_cells();
    s2s_config c;
    tiny_config(&c, cell, cell, 2, 2, 4);
    s2s_model m;
    s2s_err err;
    cr_assert_eq(s2s_model_build(&m, &c, 9, 8, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 3);
    s2s_model_init_params(&m, 0.3f, &rng);
    s2s_work *w = s2s_work_new(&m);
    size_t n = m.params.n;
    float *gb = calloc(n, sizeof *gb), *g1 = calloc(n, sizeof *g1);

    s2s_seqs s = all_rows();
    double lb = s2s_step_train(&m, w, &s, gb, 1.0f, 1.0f, NULL);
    double l1 = 0;
    for (int b = 0; b < NB; b++) {
        /* row b alone, with no padding at all */
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

Test(masking, lstm) { masking("lstm"); }
Test(masking, gru) { masking("gru"); }
Test(masking, elman) { masking("elman"); }

/* Greedy decoding of a batch equals decoding each sentence alone, and
 * respects the per-row length cap. */
Test(greedy, batch_equals_single)
{
    use_built_cells();
    s2s_config c;
    tiny_config(&c, "lstm", "lstm", 1, 1, 4);
    s2s_model m;
    s2s_err err;
    cr_assert_eq(s2s_model_build(&m, &c, 9, 8, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 11);
    s2s_model_init_params(&m, 1.0f, &rng);
    s2s_work *w = s2s_work_new(&m);
    /* unsorted on purpose */
    const uint32_t src[3][4] = {{6, 0, 0, 0}, {4, 5, 6, 7}, {8, 4, 5, 0}};
    const int len[3] = {1, 4, 3}, cap[3] = {6, 2, 9};
    uint32_t out[3][10];
    int olen[3];
    s2s_step_greedy(&m, w, 3, &src[0][0], 4, len, cap, &out[0][0], 10, olen, NULL, 0);
    for (int b = 0; b < 3; b++) {
        uint32_t one[10];
        int n1;
        s2s_step_greedy(&m, w, 1, src[b], 4, &len[b], &cap[b], one, 10, &n1, NULL, 0);
        cr_assert_eq(olen[b], n1, "row %d: %d vs %d tokens", b, olen[b], n1);
        cr_assert(olen[b] <= cap[b]);
        for (int k = 0; k < n1; k++) cr_assert_eq(out[b][k], one[k]);
        for (int k = 0; k < n1; k++) cr_assert_neq(out[b][k], S2S_EOS);
    }
    s2s_work_free(w);
    s2s_model_free(&m);
}
