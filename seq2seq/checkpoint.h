/* seq2seq/checkpoint.h — what a model checkpoint holds, on top of the
 * generic container of core/ckpt.h: the resolved run config (as YAML), both
 * vocabularies, the parameters and, for resuming, the Adam moments and the
 * position in training; for subword units the SentencePiece models too.
 * The cell names are in the config; the "cells" section pins each to the
 * SHA-256 of the plugin file trained with. */
#ifndef S2S_CHECKPOINT_H
#define S2S_CHECKPOINT_H

#include <stdint.h>

#include "core/ckpt.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"
#include "seq2seq/shortlist.h"
#include "tokenizer/subword.h"
#include "tokenizer/vocab.h"

/* Where training stands; with the seed this fixes everything to come: the
 * batch order of epoch e derives from (seed, e), the teacher-forcing draws
 * of step k from (seed, k, thread). */
typedef struct s2s_train_state {
    long step;            /* optimiser steps taken */
    int epoch;            /* 0-based epoch in progress */
    uint64_t batch;       /* next batch of that epoch */
    float lr;             /* current learning rate (after decay) */
    double best_dev_loss; /* per token; INFINITY before the first eval */
    /* the evaluation that gave best_dev_loss (section "best"; NAN where
     * not measured, e.g. BLEU at a train.eval_every evaluation) */
    double best_dev_bleu, best_dev_chrf;
    long best_step;
    int best_epoch;       /* 1-based */
} s2s_train_state;

/* Writes atomically (temporary file, fsync, rename). state may be NULL
 * (a model for translation only: no moments). */
int s2s_checkpoint_save(const char *path, const s2s_config *cfg,
                        const s2s_vocab *src, const s2s_vocab *tgt,
                        const s2s_model *m, const s2s_train_state *state,
                        s2s_err *err);
/* The same, with the SentencePiece models of a subword run (sections
 * "spm_src" and "spm_tgt": the bytes of each side's .model file); NULL,
 * NULL for word units. */
int s2s_checkpoint_save_subwords(const char *path, const s2s_config *cfg,
                                 const s2s_vocab *src, const s2s_vocab *tgt,
                                 const s2s_subword *sub_src,
                                 const s2s_subword *sub_tgt,
                                 const s2s_shortlist *lex, const s2s_model *m,
                                 const s2s_train_state *state, s2s_err *err);

typedef struct s2s_loaded {
    s2s_config cfg;
    s2s_vocab *src, *tgt;
    s2s_subword *sub_src, *sub_tgt; /* tokenizer.type sentencepiece, else NULL */
    s2s_shortlist *lex;    /* the lexical shortlist ("lex"), NULL if none */
    s2s_model model;       /* built, cells loaded, parameters filled */
    int has_state;
    s2s_train_state state; /* and model.params.m / .v when has_state */
} s2s_loaded;

/* Reads and validates the whole file before trusting any size in it.
 * The cells are found by name in the trusted search path and their
 * plugin files' SHA-256 checked before loading (seq2seq/model.h,
 * s2s_cell_pins); never from a path the file names. */
int s2s_checkpoint_load(const char *path, s2s_loaded *out, s2s_err *err);
/* The same, also trusting the plugin files `files` (NULL-terminated; the
 * paths a resumed run's own run file names). */
int s2s_checkpoint_load_trusting(const char *path, const char *const *files,
                                 s2s_loaded *out, s2s_err *err);
/* 1 when an Adam moment of m is not finite (such a state cannot resume). */
int s2s_checkpoint_nonfinite_state(const s2s_model *m);
void s2s_loaded_free(s2s_loaded *l);

/* ------------------------------------------------------------------------
 * Inspecting and shipping a checkpoint (`s2s info`, `s2s export`): the
 * sections are read, checked and copied without building the model or
 * loading a plugin. */

typedef struct s2s_ckpt_cell {
    const char *side;          /* "encoder" or "decoder" */
    int layer;                 /* 1-based */
    char name[S2S_PATH_MAX];   /* as the run file gave it */
    char sha256[65];           /* hex SHA-256 of the plugin it was trained
                                  with; "" when the file does not record it */
} s2s_ckpt_cell;

typedef struct s2s_ckpt_info {
    uint64_t file_bytes;
    uint32_t format;           /* the model format (meta) */
    char version[64];          /* the s2s that wrote it */
    uint64_t params;
    uint32_t vocab_src, vocab_tgt;
    int resumable;             /* holds the Adam moments (not exported) */
    int has_shortlist;         /* holds a lexical shortlist ("lex") */
    int has_position;          /* `state` is the position in training */
    int has_best;              /* `state.best_*` are the best dev figures */
    s2s_train_state state;
    s2s_config cfg;
    int n_cells;
    s2s_ckpt_cell cells[2 * S2S_MAX_LAYERS];
} s2s_ckpt_info;

/* Fills info (large: allocate it) from the file at path. */
int s2s_checkpoint_info(const char *path, s2s_ckpt_info *info, s2s_err *err);

/* The cells of ck, encoder layers then decoder layers, with the plugin
 * hashes the file records (when it does). Returns the count. */
int s2s_checkpoint_cells(const s2s_ckpt *ck, const s2s_config *cfg,
                         s2s_ckpt_cell *out, int max);

/* Writes a translation-only copy of checkpoint `in` to `out` (atomically):
 * every section but the Adam moments, marked as holding no training state,
 * so translate, eval and info accept it and `train --resume` refuses it.
 * *in_bytes and *out_bytes (if not NULL) receive both sizes. */
int s2s_checkpoint_export(const char *in, const char *out, uint64_t *in_bytes,
                          uint64_t *out_bytes, s2s_err *err);

#endif
