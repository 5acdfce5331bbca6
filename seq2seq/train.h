/* seq2seq/train.h — the training loop: teacher forcing over shuffled,
 * length-grouped batches, each batch split across OpenMP threads with a
 * gradient buffer per thread summed in a fixed order; clipping; Adam or
 * SGD; dev perplexity and BLEU after each epoch; checkpoints (last and
 * best) and a metrics CSV in the run directory. Under MPI (core/dist.h)
 * the processes are a level above the threads: each takes its shares of
 * every batch, and the gradients are summed across them before the clip.
 */
#ifndef S2S_TRAIN_H
#define S2S_TRAIN_H

#include <stdio.h>

#include "core/optim.h"
#include "corpora/batch.h"
#include "corpora/dataset.h"
#include "seq2seq/beam.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/config.h"
#include "seq2seq/model.h"
#include "seq2seq/shortlist.h"
#include "seq2seq/step.h"

/* Steps in a row with a non-finite gradient norm (each skipped) that stop
 * a run as diverged. */
#define S2S_MAX_SKIPPED_STEPS 5

typedef struct s2s_trainer {
    s2s_config cfg;
    s2s_dataset data;
    s2s_model model;
    int threads;
    int rank, ranks;       /* this process in an MPI job (0 of 1 alone) */
    int shares;            /* ranks * threads: the batch splits this many
                              ways; rank r does shares r*threads .. +threads-1 */
    s2s_work **work;       /* one per thread */
    float **grad;          /* one per thread; grad[0] is model.params.g */
    double *nll;           /* per share: the loss of its rows */
    int *start;            /* (shares + 1) first row of each share */
    /* under MPI only (train.c): every share's embedding rows this step */
    struct s2s_share_rows *srows; /* (shares) */
    unsigned char *pack, *gath;   /* the rows sent and received */
    size_t cap_pack, cap_gath;
    size_t *counts;        /* (ranks) bytes of each rank's rows */
    double comm_bytes;     /* bytes this rank put into the last step's
                              reductions (dense gradient + its rows) */
    double comm_seconds;   /* wall time of the last step's exchange across
                              ranks (waiting for the slowest included) */
    double comm_wait;      /* of which in the first, small exchange: mostly
                              waiting for the slowest rank's backward */
    int stop;              /* the job's stop decision after the last step */
    int want_save, save_due; /* the time-based save: this rank's wish before
                              the step, rank 0's decision after it */
    float *own_w, *own_m, *own_v, *own_g; /* the model's own buffers while
                              w, m, v (and g) live in memory the node's
                              ranks share */
    int local, locals;     /* this rank among those sharing w, m, v (0 of 1
                              when not shared): it updates the norm's parts
                              k with k % locals == local */
    float *slots;          /* node-shared: each local rank's params.g, in
                              which the owner of a part sums that part of
                              all of them in rank order (NULL: all-reduce) */
    size_t slot_stride;
    double *part_sums;     /* node-shared: each part's sum of squares */
    unsigned char *xbox;   /* node-shared, when the job is one node: each
                              local rank's losses, flags and rows for the
                              others to read in place (NULL: MPI calls) */
    size_t xbox_stride, xbox_rows; /* bytes per rank; of which for rows */
    s2s_batcher batcher;
    s2s_batch batch;
    s2s_train_state st;
    int skipped;           /* the last step's gradient norm was not finite:
                              no update was made */
    char resume_changes[2048]; /* "key: old -> new; ..." applied on resume */
    int loaded;            /* what s2s_trainer_free must release */
    /* lazy Adam on embedding rows (train.c): NULL when dense */
    long *emb_upto;        /* (V_src + V_tgt) last step applied to each row */
    long *emb_seen;        /* (V_src + V_tgt) stamp: row listed this step */
    size_t *rows;          /* (V_src + V_tgt) the rows of the current batch */
    s2s_adam_k *hist;      /* constants of steps hist_base+1 .. +hist_n */
    size_t hist_n, hist_cap;
    long hist_base;
    s2s_subword *sub_src, *sub_tgt; /* SentencePiece models; NULL for words */
    s2s_shortlist *lex;    /* the lexical shortlist of the training split
                              (saved in every checkpoint); NULL if none */
    int lex_from_data;     /* s2s_trainer_shortlist may build it from the
                              train split (a real one, not a test file) */
    const float *frozen_w; /* the weights frozen for training's few-row
                              products (core/frozen.c), or NULL */
} s2s_trainer;

/* Maps the run config's data and tokenizer sections onto a corpus spec. */
void s2s_config_data_spec(const s2s_config *cfg, s2s_data_spec *spec);

/* For tokenizer.type sentencepiece: the models the run file names
 * (tokenizer.sentencepiece.model, or src_model and tgt_model), else models
 * trained on the train split's text of `d` (loaded with keep_text) with
 * tokenizer.sentencepiece.train.* — deterministically: the same text and
 * settings give the same models. Errors name the file or the key. */
int s2s_trainer_subword_models(const s2s_config *cfg, const s2s_dataset *d,
                               s2s_subword **src, s2s_subword **tgt,
                               s2s_err *err);

/* Loads the data, builds and initialises the model. With resume_path, the
 * model, optimiser and position come from that checkpoint, whose data,
 * tokenizer and model sections must equal cfg's. */
int s2s_trainer_init(s2s_trainer *tr, const s2s_config *cfg,
                     const char *resume_path, s2s_err *err);
/* For evaluation: the model, vocabularies and config of a checkpoint,
 * and the splits of its data read with those vocabularies. threads: 0 =
 * the checkpoint's train.threads. With test_file (TSV in the checkpoint's
 * columns, or with test_target two aligned files) that file alone is read,
 * unfiltered, as the train split. */
int s2s_trainer_open_checkpoint(s2s_trainer *tr, const char *path,
                                int threads, const char *test_file,
                                const char *test_target, s2s_err *err);

/* The shortlist for decoding: the checkpoint's, or for a checkpoint from
 * before shortlists one built from its training split on first use (not
 * from a test file read in its place). NULL when neither. */
s2s_shortlist *s2s_trainer_shortlist(s2s_trainer *tr);
void s2s_trainer_free(s2s_trainer *tr);

/* One optimiser step on batch b: forward and backward on every thread's
 * share, gradients summed, clipped, applied. Returns the mean NLL per
 * target token. */
double s2s_trainer_step(s2s_trainer *tr, const s2s_batch *b);

/* Brings every parameter up to the last step. Training with Adam updates
 * embedding rows a step does not touch only when they are next read (with
 * the same bits as a dense update); s2s_trainer_loss, _score and the
 * checkpoints call this themselves, anything else that reads
 * model.params after s2s_trainer_step must call it first. */
void s2s_trainer_sync(s2s_trainer *tr);

/* Mean NLL per target token over a split (teacher forcing). */
double s2s_trainer_loss(s2s_trainer *tr, int split);

/* Decodes a split (greedily when o is NULL, else as o says) and scores it
 * against its references: BLEU and chrF on word tokens (for subword units,
 * the decoded text tokenized as the references are), so that word and
 * subword models compare. */
typedef struct s2s_scores {
    double bleu, chrf;
    size_t sentences;
    size_t out_tokens, out_unk; /* output ids, and how many were <unk> */
} s2s_scores;
int s2s_trainer_score(s2s_trainer *tr, int split, const s2s_beam_opts *o,
                      s2s_scores *out, s2s_err *err);

/* Decoding reads the weights only: freezes them for decoding
 * (core/frozen.c: the few-row kernel, greedy's screen), as the translator
 * does, in place of training's freeze, whose copies the optimiser has
 * made stale (the next training step freezes for training again).
 * s2s_trainer_score does it for its own decoding. Returns 1 when it froze
 * them (the caller thaws with s2s_gemm_thaw(tr->model.params.w)), 0 when
 * they were frozen for decoding already or cannot be. */
int s2s_trainer_freeze_for_decoding(s2s_trainer *tr);

/* Asks a running s2s_trainer_run to stop after the current step, save
 * last.ckpt at that position and return S2S_TRAIN_STOPPED. Safe to call
 * from a signal handler. */
void s2s_trainer_request_stop(void);
#define S2S_TRAIN_STOPPED (-2)

/* mkdir -p. */
int s2s_make_dirs(const char *path, s2s_err *err);

/* The whole run: epochs from the current position, progress on `log`,
 * dev evaluation, checkpoints, metrics CSV and the curves SVG. */
int s2s_trainer_run(s2s_trainer *tr, FILE *log, s2s_err *err);

#endif
