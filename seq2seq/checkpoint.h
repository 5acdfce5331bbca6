/* seq2seq/checkpoint.h — what a model checkpoint holds, on top of the
 * generic container of core/ckpt.h: the resolved run config (as YAML), both
 * vocabularies, the parameters and, for resuming, the Adam moments and the
 * position in training; for subword units the SentencePiece models too.
 * The cell names are in the config. */
#ifndef S2S_CHECKPOINT_H
#define S2S_CHECKPOINT_H

#include <stdint.h>

#include "seq2seq/config.h"
#include "seq2seq/model.h"
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
                                 const s2s_model *m,
                                 const s2s_train_state *state, s2s_err *err);

typedef struct s2s_loaded {
    s2s_config cfg;
    s2s_vocab *src, *tgt;
    s2s_subword *sub_src, *sub_tgt; /* tokenizer.type sentencepiece, else NULL */
    s2s_model model;       /* built, cells loaded, parameters filled */
    int has_state;
    s2s_train_state state; /* and model.params.m / .v when has_state */
} s2s_loaded;

/* Reads and validates the whole file before trusting any size in it. */
int s2s_checkpoint_load(const char *path, s2s_loaded *out, s2s_err *err);
void s2s_loaded_free(s2s_loaded *l);

#endif
