/* tests/seq2seq_init.c — who initialises the parameters: a plugin's own
 * `init` when the run file gives no model.init_range (or 0), and
 * uniform(-r, r) over every parameter when it gives r > 0. The third-party
 * cell tests/cells/irnn.c starts its recurrent matrix as exactly 0.5 I and
 * its biases as 0, which no uniform draw gives.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"

static void config_with(s2s_config *c, const char *extra)
{
    const char *b = getenv("S2S_BUILD");
    if (!b || !*b) cr_skip_test("S2S_BUILD is not set (run through make test)");
    char text[8192];
    snprintf(text, sizeof text,
             "model:\n  cell: %s/tests/cells/irnn.so\n  layers: 2\n"
             "  embed: 5\n  hidden: 6\n%s", b, extra);
    s2s_err err;
    cr_assert_eq(s2s_config_load_string(c, text, strlen(text), "t.yaml", &err),
                 0, "%s", err.msg);
}

/* Builds the model of c (V_src 7, V_tgt 9) and fills it with seed 3. */
static void build(s2s_model *m, const s2s_config *c)
{
    s2s_err err;
    cr_assert_eq(s2s_model_build(m, c, 7, 9, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 3);
    s2s_model_init_params(m, c->model.init_range, &rng);
}

/* Is layer L's recurrent block exactly 0.5 I and are its biases 0? */
static int irnn_init_of(const s2s_model *m, const s2s_layer *L)
{
    const float *w_hh = m->params.w + L->off + (size_t)L->H * L->X;
    for (int i = 0; i < L->H; i++)
        for (int j = 0; j < L->H; j++)
            if (w_hh[(size_t)i * L->H + j] != (i == j ? 0.5f : 0.0f)) return 0;
    for (int i = 0; i < 2 * L->H; i++)
        if (w_hh[(size_t)L->H * L->H + i] != 0.0f) return 0;
    return 1;
}

Test(init, a_plugins_init_sets_its_parameters_when_init_range_is_not_given)
{
    s2s_config c;
    config_with(&c, "");
    cr_assert_eq(c.model.init_range, 0.0f);
    s2s_model m;
    build(&m, &c);
    for (int l = 0; l < m.L_enc; l++)
        cr_assert(irnn_init_of(&m, &m.enc[l]), "encoder layer %d", l + 1);
    for (int l = 0; l < m.L_dec; l++)
        cr_assert(irnn_init_of(&m, &m.dec[l]), "decoder layer %d", l + 1);
    /* the rest (embeddings, output layer) uniform(-0.1, 0.1) */
    size_t n_emb = (size_t)(7 + 9) * 5;
    float lo = 1, hi = -1;
    for (size_t i = 0; i < n_emb; i++) {
        lo = fminf(lo, m.params.w[i]);
        hi = fmaxf(hi, m.params.w[i]);
    }
    cr_assert(lo >= -0.1f && hi < 0.1f && lo < -0.05f && hi > 0.05f,
              "embeddings in [%g, %g]", lo, hi);
    s2s_model_free(&m);

    /* 0 written out means the same, and the resolved file says so */
    s2s_config c0;
    config_with(&c0, "  init_range: 0\n");
    cr_assert_eq(c0.model.init_range, 0.0f);
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    s2s_config_write(&c0, f);
    fclose(f);
    cr_assert(strstr(yaml, "init_range: 0 "), "%s", yaml);
    s2s_config back;
    s2s_err err;
    cr_assert_eq(s2s_config_load_string(&back, yaml, len, "w.yaml", &err), 0,
                 "%s", err.msg);
    cr_assert_eq(back.model.init_range, 0.0f);
    free(yaml);
}

Test(init, a_given_init_range_overrides_every_parameter)
{
    s2s_config c;
    config_with(&c, "  init_range: 0.08\n");
    s2s_model m;
    build(&m, &c);
    cr_assert(!irnn_init_of(&m, &m.enc[0]));
    for (size_t i = 0; i < m.params.n; i++)
        cr_assert(m.params.w[i] >= -0.08f && m.params.w[i] < 0.08f,
                  "params[%zu] = %g", i, m.params.w[i]);
    /* bit-identical to the draw of every parameter in order */
    s2s_rng rng;
    s2s_rng_seed(&rng, 3);
    for (size_t i = 0; i < m.params.n; i++)
        cr_assert_eq(m.params.w[i], s2s_rng_uniform(&rng, -0.08f, 0.08f));
    s2s_model_free(&m);
}

Test(init, a_negative_init_range_is_refused)
{
    s2s_config c;
    s2s_config_defaults(&c);
    s2s_err err;
    const char *text = "model:\n  init_range: -0.1\n";
    cr_assert_eq(s2s_config_load_string(&c, text, strlen(text), "t.yaml", &err), -1);
    cr_assert(strstr(err.msg, "t.yaml:2") && strstr(err.msg, "model.init_range"),
              "%s", err.msg);
}
