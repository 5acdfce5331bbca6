/* seq2seq/model.h — the encoder-decoder model: embeddings, encoder and
 * decoder stacks of cell plugins, the context handoff (direct or through a
 * learned bridge), and the output projection. All parameters live in one
 * flat s2s_params buffer; the structs here hold only shapes and offsets.
 *
 * Legend: B batch rows, T source time, U target time, E embedding,
 * X layer input, H hidden, S state floats per unit, G projection width per
 * unit, V vocabulary, D memory width (encoder top output, both directions),
 * A attention (mlp) width. Sequences are packed time-major: step t holds the
 * B_t rows still running (rows sorted by length, longest first), so no
 * padding is ever computed.
 */
#ifndef S2S_MODEL_H
#define S2S_MODEL_H

#include <stddef.h>

#include "core/error.h"
#include "core/loader.h"
#include "core/params.h"
#include "core/rng.h"
#include "seq2seq/config.h"

typedef struct s2s_layer {
    const s2s_cell_desc *cell; /* borrowed from the model's loaded cells */
    int X, H, S, G, K;         /* input, hidden, state/unit, proj/unit, cache/row */
    size_t off;                /* this layer's parameters in the flat buffer */
} s2s_layer;

/* Maps an encoder layer's final state to a decoder layer's initial state
 * when the two differ in cell, size or count: init = W . enc_state + b. */
typedef struct s2s_bridge {
    int from;                  /* encoder layer index */
    int in, out;               /* S_e*H_e -> S_d*H_d */
    size_t off_w, off_b;       /* W (out x in), b (out) */
} s2s_bridge;

/* Luong et al. 2015 (dot, general) and Bahdanau et al. 2015 (mlp)
 * scores over the encoder memory. */
typedef enum s2s_attn_kind {
    S2S_ATTN_NONE = 0, S2S_ATTN_DOT, S2S_ATTN_GENERAL, S2S_ATTN_MLP
} s2s_attn_kind;

/* score(h, m_s): dot h.m_s; general h.(W_a m_s); mlp v.tanh(W_q h + b_q +
 * W_a m_s). Then a = softmax over the sentence's own positions, c =
 * sum a_s m_s, and the attentional state h~ = tanh(W_c [c; h]) feeds the
 * output layer (and, with input feeding, the next step's input). */
typedef struct s2s_attention {
    s2s_attn_kind kind;
    int D, H, A;               /* memory width, decoder top hidden, mlp width */
    size_t off_wa;             /* general: H x D; mlp: A x D */
    size_t off_wq, off_bq;     /* mlp: A x H, A */
    size_t off_v;              /* mlp: A */
    size_t off_wc;             /* H x (D + H) */
} s2s_attention;

typedef struct s2s_model {
    int V_src, V_tgt, E;
    int L_enc, L_dec;
    s2s_layer enc[S2S_MAX_LAYERS], dec[S2S_MAX_LAYERS];
    int bidir;                 /* enc_rev[l] reads layer l's input backwards */
    s2s_layer enc_rev[S2S_MAX_LAYERS];
    s2s_attention attn;        /* kind NONE: the decoder's top h feeds the output */
    int input_feed;            /* decoder layer 0 reads [embedding; h~ of the last step] */
    float dropout;             /* inverted, on embeddings, layer inputs and h~ */
    int use_bridge;            /* 0: encoder layer l's state is decoder layer l's */
    s2s_bridge bridge[S2S_MAX_LAYERS]; /* from: S_e*H_e (x2 both ways) */
    size_t off_emb_src;        /* V_src x E */
    size_t off_emb_tgt;        /* V_tgt x E */
    size_t off_out_w;          /* V_tgt x H_top (on h~ with attention) */
    size_t off_out_b;          /* V_tgt */
    size_t off_dense;          /* everything from here on is not an embedding */
    s2s_params params;
    /* Decoding over a shortlist (seq2seq/shortlist.h) decodes with a copy
     * of the model whose V_tgt is the shortlist's size and whose output
     * layer and target embeddings are these rows, gathered; NULL: the
     * parameters' own. Only decoding reads them. */
    const float *view_out_w, *view_out_b, *view_emb_tgt;

    /* Loaded plugins, one per distinct cell name (a plugin serves many
     * layers). */
    int n_cells;
    s2s_cell cells[2 * S2S_MAX_LAYERS];
} s2s_model;

/* Builds the model's shapes from the config and vocabulary sizes, loads
 * the cell plugins and allocates the parameters (zeroed). */
int s2s_model_build(s2s_model *m, const s2s_config *cfg, int V_src,
                    int V_tgt, s2s_err *err);
/* The same without allocating the parameters (m->params.n is their
 * count): for checking a size read from a file before trusting it. Call
 * s2s_params_alloc(&m->params) after. */
int s2s_model_plan(s2s_model *m, const s2s_config *cfg, int V_src, int V_tgt,
                   s2s_err *err);
/* Width of encoder layer l's output (and final state per state part):
 * H, or 2H when both ways. */
static inline int s2s_enc_width(const s2s_model *m, int l)
{
    return m->enc[l].H * (m->bidir ? 2 : 1);
}

/* The cells of a model read from a checkpoint: each cell's name and the
 * SHA-256 of the plugin file it was trained with. Cells are then loaded by
 * name from the trusted search path only, digest checked before dlopen
 * (core/loader.h); a config entry that is a path stands for its base name. */
typedef struct s2s_cell_pins {
    int n;
    struct {
        char name[256];
        unsigned char sha256[32];
    } pin[2 * S2S_MAX_LAYERS];
    int has_hashes;            /* 0: an older checkpoint, any digest */
    const char *const *files;  /* plugin paths the user named (NULL-ended) */
} s2s_cell_pins;

/* s2s_model_plan loading the cells as pins say (NULL: as the config says). */
int s2s_model_plan_pinned(s2s_model *m, const s2s_config *cfg, int V_src,
                          int V_tgt, const s2s_cell_pins *pins, s2s_err *err);
int s2s_cell_load_pins(s2s_cell *c, const char *name, const s2s_cell_pins *pins,
                       s2s_err *err);

/* Fills the parameters: uniform(-r, r) when r > 0, else each cell's own
 * init and uniform(-0.1, 0.1) for the rest. */
void s2s_model_init_params(s2s_model *m, float init_range, s2s_rng *rng);
void s2s_model_free(s2s_model *m);

/* Multiply-adds of forward+backward per target token and per source
 * token, from the shapes (for the GFLOP/s figures). */
double s2s_model_flops_per_token(const s2s_model *m, double src_tokens_per_tgt);

#endif
