/* seq2seq/model.c — builds the model's shapes from a run config: loads the
 * cell plugins, lays out every module in the flat parameter buffer, and
 * decides how the encoder's final states reach the decoder. */
#include "seq2seq/model.h"

#include <string.h>

#include "core/sysinfo.h"

/* Loads the plugin named `name` and returns its descriptor; a file
 * already loaded for another layer is shared (matched by the file the
 * name resolved to, never by the name a plugin gives itself). */
static const s2s_cell_desc *model_cell(s2s_model *m, const char *name,
                                       const s2s_cell_pins *pins, s2s_err *err)
{
    s2s_cell *c = &m->cells[m->n_cells];
    if (pins ? s2s_cell_load_pins(c, name, pins, err) < 0
             : s2s_cell_load(c, name, err) < 0)
        return NULL;
    for (int i = 0; i < m->n_cells; i++)
        if (strcmp(m->cells[i].path, c->path) == 0) {
            s2s_cell_unload(c);
            return m->cells[i].desc;
        }
    m->n_cells++;
    return c->desc;
}

static int model_layer(s2s_model *m, const char *cell, int X, int H,
                       s2s_layer *L, const char *side, int l,
                       const s2s_cell_pins *pins, s2s_err *err)
{
    const s2s_cell_desc *d = model_cell(m, cell, pins, err);
    if (!d) return s2s_fail_prefix(err, "model.%s layer %d", side, l + 1);
    /* the plugin's answers for the sizes used, bounded (cells/cell.h) */
    size_t np, nk;
    if (s2s_cell_check_shape(d, X, H, &np, &nk, err) < 0)
        return s2s_fail_prefix(err, "model.%s layer %d", side, l + 1);
    L->cell = d;
    L->X = X;
    L->H = H;
    L->S = d->state_per_unit;
    L->G = d->proj_per_unit;
    L->K = (int)nk;
    L->off = s2s_params_reserve(&m->params, np);
    return 0;
}

/* Layer l reads X0 (l = 0) or the layer below's output; a bidirectional
 * layer is two layers of the same cell over the same input. */
static int model_side(s2s_model *m, const s2s_side_config *sc, int X0,
                      s2s_layer *out, s2s_layer *out_rev, const char *side,
                      const s2s_cell_pins *pins, s2s_err *err)
{
    int X = X0;
    for (int l = 0; l < sc->layers; l++) {
        if (model_layer(m, sc->cell[l], X, sc->hidden, &out[l], side, l, pins,
                        err) < 0 ||
            (out_rev && model_layer(m, sc->cell[l], X, sc->hidden, &out_rev[l],
                                    side, l, pins, err) < 0))
            return -1;
        X = sc->hidden * (out_rev ? 2 : 1);
    }
    return 0;
}

/* The decoder's state can be the encoder's as it is only when every layer
 * pairs with a layer of the same cell and width (both directions of a
 * bidirectional layer together). */
static int sides_match(const s2s_config *cfg)
{
    const s2s_side_config *e = &cfg->model.encoder, *d = &cfg->model.decoder;
    int width = e->hidden * (cfg->model.bidirectional ? 2 : 1);
    if (e->layers != d->layers || width != d->hidden) return 0;
    for (int l = 0; l < e->layers; l++)
        if (strcmp(e->cell[l], d->cell[l]) != 0) return 0;
    return 1;
}

static s2s_attn_kind attn_kind(const char *name)
{
    if (strcmp(name, "dot") == 0) return S2S_ATTN_DOT;
    if (strcmp(name, "general") == 0) return S2S_ATTN_GENERAL;
    if (strcmp(name, "mlp") == 0) return S2S_ATTN_MLP;
    return S2S_ATTN_NONE;
}

static void plan_attention(s2s_model *m, s2s_attn_kind kind)
{
    s2s_attention *a = &m->attn;
    a->kind = kind;
    if (kind == S2S_ATTN_NONE) return;
    a->D = s2s_enc_width(m, m->L_enc - 1);
    a->H = m->dec[m->L_dec - 1].H;
    a->A = a->H;
    if (kind == S2S_ATTN_GENERAL)
        a->off_wa = s2s_params_reserve(&m->params, (size_t)a->H * a->D);
    if (kind == S2S_ATTN_MLP) {
        a->off_wa = s2s_params_reserve(&m->params, (size_t)a->A * a->D);
        a->off_wq = s2s_params_reserve(&m->params, (size_t)a->A * a->H);
        a->off_bq = s2s_params_reserve(&m->params, (size_t)a->A);
        a->off_v = s2s_params_reserve(&m->params, (size_t)a->A);
    }
    a->off_wc = s2s_params_reserve(&m->params, (size_t)a->H * (a->D + a->H));
}

int s2s_model_build(s2s_model *m, const s2s_config *cfg, int V_src,
                    int V_tgt, s2s_err *err)
{
    if (s2s_model_plan(m, cfg, V_src, V_tgt, err) < 0) return -1;
    s2s_params_alloc(&m->params);
    return 0;
}

int s2s_model_plan(s2s_model *m, const s2s_config *cfg, int V_src,
                   int V_tgt, s2s_err *err)
{
    return s2s_model_plan_pinned(m, cfg, V_src, V_tgt, NULL, err);
}

int s2s_model_plan_pinned(s2s_model *m, const s2s_config *cfg, int V_src,
                          int V_tgt, const s2s_cell_pins *pins, s2s_err *err)
{
    memset(m, 0, sizeof *m);
    m->V_src = V_src;
    m->V_tgt = V_tgt;
    m->E = cfg->model.embed;
    m->L_enc = cfg->model.encoder.layers;
    m->L_dec = cfg->model.decoder.layers;
    m->bidir = cfg->model.bidirectional;
    m->input_feed = cfg->model.input_feed;
    m->dropout = cfg->model.dropout;
    s2s_attn_kind kind = attn_kind(cfg->model.attention);
    /* with input feeding, decoder layer 0 also reads h~ (the top's width) */
    int X_dec = m->E + (m->input_feed ? cfg->model.decoder.hidden : 0);

    m->off_emb_src = s2s_params_reserve(&m->params, (size_t)V_src * m->E);
    m->off_emb_tgt = s2s_params_reserve(&m->params, (size_t)V_tgt * m->E);
    m->off_dense = s2s_params_reserve(&m->params, 0);
    if (model_side(m, &cfg->model.encoder, m->E, m->enc,
                   m->bidir ? m->enc_rev : NULL, "encoder", pins, err) < 0 ||
        model_side(m, &cfg->model.decoder, X_dec, m->dec, NULL, "decoder",
                   pins, err) < 0) {
        s2s_model_free(m);
        return -1;
    }
    m->use_bridge = !sides_match(cfg);
    if (m->use_bridge) {
        /* Decoder layer l reads encoder layer l, or the top one when the
         * encoder has fewer layers. */
        for (int l = 0; l < m->L_dec; l++) {
            s2s_bridge *b = &m->bridge[l];
            b->from = l < m->L_enc ? l : m->L_enc - 1;
            b->in = m->enc[b->from].S * s2s_enc_width(m, b->from);
            b->out = m->dec[l].S * m->dec[l].H;
            b->off_w = s2s_params_reserve(&m->params, (size_t)b->out * b->in);
            b->off_b = s2s_params_reserve(&m->params, (size_t)b->out);
        }
    }
    plan_attention(m, kind);
    int H_top = m->dec[m->L_dec - 1].H;
    m->off_out_w = s2s_params_reserve(&m->params, (size_t)V_tgt * H_top);
    m->off_out_b = s2s_params_reserve(&m->params, (size_t)V_tgt);
    /* parameters, gradients and two moments: refused before allocating
     * when the machine cannot hold them */
    if (s2s_mem_check((double)m->params.n * 4 * sizeof(float),
                      "the model's parameters, gradients and Adam moments",
                      err) < 0) {
        s2s_model_free(m);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------ cells from a checkpoint */

int s2s_cell_load_pins(s2s_cell *c, const char *name, const s2s_cell_pins *pins,
                       s2s_err *err)
{
    char key[256];
    s2s_cell_key(name, key, sizeof key);
    const unsigned char *sha = NULL;
    for (int i = 0; i < pins->n; i++)
        if (strcmp(pins->pin[i].name, key) == 0) sha = pins->pin[i].sha256;
    if (pins->has_hashes && !sha)
        return s2s_fail(err, "cell '%s' is not among the checkpoint's pinned "
                        "cells", key);
    return s2s_cell_load_pinned(c, key, sha, pins->files, err);
}

static void fill_uniform(float *p, size_t n, float r, s2s_rng *rng)
{
    for (size_t i = 0; i < n; i++) p[i] = s2s_rng_uniform(rng, -r, r);
}

void s2s_model_init_params(s2s_model *m, float init_range, s2s_rng *rng)
{
    if (init_range > 0) {
        fill_uniform(m->params.w, m->params.n, init_range, rng);
        return;
    }
    /* Cells choose their own; everything else gets the benchmark's range. */
    fill_uniform(m->params.w, m->params.n, 0.1f, rng);
    const s2s_cell_host *host = s2s_cell_host_services();
    for (int l = 0; l < m->L_enc; l++) {
        m->enc[l].cell->init(host, rng, m->params.w + m->enc[l].off,
                             m->enc[l].X, m->enc[l].H);
        if (m->bidir)
            m->enc_rev[l].cell->init(host, rng, m->params.w + m->enc_rev[l].off,
                                     m->enc_rev[l].X, m->enc_rev[l].H);
    }
    for (int l = 0; l < m->L_dec; l++)
        m->dec[l].cell->init(host, rng, m->params.w + m->dec[l].off,
                             m->dec[l].X, m->dec[l].H);
}

void s2s_model_free(s2s_model *m)
{
    s2s_params_free(&m->params);
    for (int i = 0; i < m->n_cells; i++) s2s_cell_unload(&m->cells[i]);
    m->n_cells = 0;
}

static double layer_macs(const s2s_layer *L)
{
    return (double)L->G * L->H * (L->X + L->H);
}

double s2s_model_flops_per_token(const s2s_model *m, double src_per_tgt)
{
    double enc = 0, dec = 0;
    for (int l = 0; l < m->L_enc; l++)
        enc += layer_macs(&m->enc[l]) * (m->bidir ? 2 : 1);
    for (int l = 0; l < m->L_dec; l++) dec += layer_macs(&m->dec[l]);
    dec += (double)m->V_tgt * m->dec[m->L_dec - 1].H;
    const s2s_attention *a = &m->attn;
    if (a->kind != S2S_ATTN_NONE) {
        /* W_c per target token; scores and context over the source
         * positions; keys (general, mlp) once per source token */
        dec += (double)a->H * (a->D + a->H) + 2.0 * a->D * src_per_tgt;
        if (a->kind == S2S_ATTN_GENERAL) enc += (double)a->H * a->D;
        if (a->kind == S2S_ATTN_MLP) {
            enc += (double)a->A * a->D;
            dec += (double)a->A * a->H + (double)a->A * src_per_tgt;
        }
    }
    /* forward 1x, backward 2x (input and weight gradients); 2 FLOP/MAC */
    return 2.0 * 3.0 * (dec + enc * src_per_tgt);
}
