/* seq2seq/config.h — the resolved run configuration (the YAML run file).
 *
 * Every field has a documented default (s2s_config_defaults); a run file
 * overrides any subset. See README.md, "The run file", for each key.
 */
#ifndef S2S_CONFIG_H
#define S2S_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define S2S_MAX_LAYERS 8
#define S2S_PATH_MAX 4096

/* One side (encoder or decoder) of the model. */
typedef struct s2s_side_config {
    int layers;                         /* model.<side>.layers   */
    int hidden;                         /* model.<side>.hidden   */
    char cell[S2S_MAX_LAYERS][S2S_PATH_MAX]; /* per layer: a name or a .so path */
} s2s_side_config;

typedef struct s2s_config {
    char source_file[S2S_PATH_MAX]; /* the YAML file it came from, "" if none */

    struct {
        char train[S2S_PATH_MAX];   /* data.train: TSV file, or the source side of aligned files */
        char train_target[S2S_PATH_MAX]; /* data.train_target: target side when aligned ("" = TSV) */
        int src_column, tgt_column; /* data.src_column / tgt_column: 1-based TSV columns (2, 1) */
        char dev[S2S_PATH_MAX], dev_target[S2S_PATH_MAX];   /* data.dev(_target): "" = split from train */
        char test[S2S_PATH_MAX], test_target[S2S_PATH_MAX]; /* data.test(_target) */
        int split_every;            /* data.split_every: 50 -> i%50==0 test, ==1 dev */
        int min_len, max_len;       /* data.min_len / max_len: tokens per side (1, 10) */
        int min_count;              /* data.min_count: vocab threshold (2) */
        int max_vocab;              /* data.max_vocab: 0 = no cap */
        int skip_invalid_utf8;      /* data.skip_invalid_utf8: false -> error */
        int max_line_bytes;         /* data.max_line_bytes: longer lines are an error (1 MiB) */
    } data;

    struct {
        int nfkc, lowercase, split_punct; /* tokenizer.*: all true */
        int french_spacing;         /* tokenizer.french_spacing: detok option (false) */
        char type[16];              /* tokenizer.type: words | sentencepiece (words) */
        struct {
            char model[S2S_PATH_MAX];     /* tokenizer.sentencepiece.model: one joint .model ("") */
            char src_model[S2S_PATH_MAX]; /* tokenizer.sentencepiece.src_model / tgt_model: */
            char tgt_model[S2S_PATH_MAX]; /*   one per side ("") */
            struct {                      /* tokenizer.sentencepiece.train.*: when no model is given */
                int vocab_size;           /* pieces per model, specials included (8000) */
                int src_vocab_size;       /* src_vocab_size / tgt_vocab_size: one side's */
                int tgt_vocab_size;       /*   model's, not joint (0: vocab_size) */
                char model_type[16];      /* bpe | unigram (bpe) */
                float character_coverage; /* (0, 1] (1.0) */
                int byte_fallback;        /* unknown characters as byte pieces (true) */
                int joint;                /* one model for both sides (true) */
            } train;
            /* tokenizer.sentencepiece.sampling_alpha / sampling_nbest:
             * subword regularisation, a new segmentation of every training
             * pair drawn each epoch (SentencePiece's SampleEncode); alpha 0
             * = off (0; -1: sample from all segmentations, unigram models) */
            float sampling_alpha;
            int sampling_nbest;
        } sentencepiece;
    } tokenizer;

    struct {
        int embed;                  /* model.embed (256) */
        s2s_side_config encoder, decoder;
        float init_range;           /* model.init_range: > 0, every parameter
                                     * uniform(-r, r); 0 (the default, "not
                                     * given"): each cell's own init for its
                                     * parameters, uniform(-0.1, 0.1) for the
                                     * rest */
        int bidirectional;          /* model.encoder.bidirectional: each encoder layer
                                       runs both ways, outputs concatenated (false) */
        char attention[16];         /* model.attention: none | dot | general | mlp (none) */
        int input_feed;             /* model.input_feed: the previous attentional
                                       state joins the decoder's input (false) */
        float dropout;              /* model.dropout: inverted dropout, training only (0) */
    } model;

    struct {
        int batch;                  /* train.batch (64) */
        int epochs;                 /* train.epochs (10) */
        long max_steps;             /* train.max_steps: 0 = no limit */
        char optimizer[16];         /* train.optimizer: adam | sgd */
        float lr, beta1, beta2, eps;/* train.lr (1e-3), beta1 (0.9), beta2 (0.999), eps (1e-8) */
        float lr_decay;             /* train.lr_decay: lr *= this after each epoch (1.0) */
        float clip;                 /* train.clip: global L2 norm, 0 = off (5.0) */
        float teacher_forcing;      /* train.teacher_forcing: ratio in [0,1] (1.0) */
        int threads;                /* train.threads: 0 = all cores (0) */
        uint64_t seed;              /* train.seed (1) */
        char run_dir[S2S_PATH_MAX]; /* train.run_dir: checkpoints, metrics (runs/default) */
        int eval_every;             /* train.eval_every: steps, 0 = each epoch only */
        int log_every;              /* train.log_every: steps between log lines (100) */
        int length_grouping;        /* train.length_grouping: sort chunks of this many
                                       batches by length; 0 or 1 = random batches (0) */
        int save_every;             /* train.save_every: steps between last.ckpt saves, 0 = off (1000) */
        float save_every_minutes;   /* train.save_every_minutes: minutes between saves, 0 = off (10) */
    } train;

    struct {
        int max_len;                /* decode.max_len: hard cap on output tokens (20) */
        float max_len_ratio;        /* decode.max_len_ratio: cap = min(max_len, ratio*src+5); 0 = off */
        int batch;                  /* decode.batch (64) */
        int replace_unk;            /* decode.replace_unk: an output <unk> becomes the
                                       source token attended most (false) */
        int beam;                   /* decode.beam: hypotheses per sentence, 1 = greedy (5) */
        char length_penalty[8];     /* decode.length_penalty: none | avg | wu (avg) */
        float alpha;                /* decode.alpha: wu's exponent (0.6) */
        float beta;                 /* decode.beta: coverage penalty weight (0) */
        int shortlist;              /* decode.shortlist: target tokens per source
                                       token of a batch's lexical shortlist, 0 = off (0) */
        int shortlist_frequent;     /* decode.shortlist_frequent: the most frequent
                                       target tokens it always holds (100) */
    } decode;
} s2s_config;

/* 1 when tokenizer.type is sentencepiece. */
int s2s_config_subwords(const s2s_config *c);

/* Fills every field with its documented default. */
void s2s_config_defaults(s2s_config *c);

/* Reads a YAML run file over the defaults. Unknown keys, wrong types and
 * out-of-range values fail with "FILE:LINE: key 'a.b': what is wrong".
 * On error c is unchanged. Sets source_file to path. An empty file (or
 * only comments) gives the defaults. */
int s2s_config_load(s2s_config *c, const char *path, s2s_err *err);

/* Same, from a string (for checkpoints and tests); `name` is used in
 * messages in place of a file name; source_file is left "". */
int s2s_config_load_string(s2s_config *c, const char *yaml, size_t len,
                           const char *name, s2s_err *err);

/* Reads YAML over the config as it is (not over the defaults): for
 * overrides such as "train: {epochs: 1}" on top of a loaded file. On error
 * c is left unchanged. */
int s2s_config_apply_string(s2s_config *c, const char *yaml, size_t len,
                            const char *name, s2s_err *err);

/* Writes the fully resolved config as YAML that s2s_config_load reads back
 * to an identical struct. */
int s2s_config_write(const s2s_config *c, FILE *f);

/* Makes every data.* path that names an existing file absolute (realpath),
 * so that a checkpoint's run file finds its data from any directory; a
 * path that does not resolve is left as it is (the loader reports it). */
void s2s_config_absolute_data_paths(s2s_config *c);

/* The data.* keys of c: their names and fields, n of them. */
typedef struct s2s_data_key {
    const char *key;
    char *path;
} s2s_data_key;
size_t s2s_config_data_keys(s2s_config *c, s2s_data_key out[6]);

#endif
