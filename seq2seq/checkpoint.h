/* seq2seq/checkpoint.h — what a model checkpoint holds, on top of the
 * generic container of core/ckpt.h: the resolved run config (as YAML), both
 * vocabularies, the parameters and, for resuming, the Adam moments and the
 * position in training. The cell names are in the config; the "cells"
 * section pins each to the SHA-256 of the plugin file trained with. */
#ifndef S2S_CHECKPOINT_H
#define S2S_CHECKPOINT_H

#include <stdint.h>

#include "seq2seq/config.h"
#include "seq2seq/model.h"
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

typedef struct s2s_loaded {
    s2s_config cfg;
    s2s_vocab *src, *tgt;
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

#endif
