/* tests/seq2seq_train.c — training end to end on a small synthetic
 * corpus: each cell learns it (loss falls below a bound and greedy decoding
 * reproduces the training pairs), runs are bit-identical for the same seed
 * and thread count, and resuming from a checkpoint continues exactly. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kernels.h"
#include "core/optim.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/decode.h"
#include "seq2seq/s2s.h"
#include "seq2seq/train.h"
#include "scratch.h"

static char dir[256];
static char corpus[300];

/* 40 pairs over a 10-word "language": the target maps each source word to
 * its own word and reverses the order (the model must remember the whole
 * sentence in the context vector). */
static void make_corpus(void)
{
    const char *b = getenv("S2S_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", path, 1);
    scratch_make(dir, sizeof dir, "train");
    snprintf(corpus, sizeof corpus, "%s/toy.tsv", dir);
    FILE *f = fopen(corpus, "w");
    cr_assert_not_null(f);
    static const char *src[] = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "ze"};
    static const char *tgt[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    unsigned x = 12345;
    for (int k = 0; k < 40; k++) {
        int n = 2 + k % 3, w[4];
        for (int i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            w[i] = (int)((x >> 16) % 10);
        }
        for (int i = n - 1; i >= 0; i--) fprintf(f, "%s%s", tgt[w[i]], i ? " " : "");
        fputc('\t', f);
        for (int i = 0; i < n; i++) fprintf(f, "%s%s", src[w[i]], i + 1 < n ? " " : "");
        fputc('\n', f);
    }
    fclose(f);
}

static void remove_dir(void) { scratch_remove(dir); }

static void toy_config(s2s_config *c, const char *cell, const char *run)
{
    s2s_config_defaults(c);
    snprintf(c->data.train, S2S_PATH_MAX, "%s", corpus);
    snprintf(c->data.dev, S2S_PATH_MAX, "%s", corpus);
    snprintf(c->data.test, S2S_PATH_MAX, "%s", corpus);
    c->data.split_every = 0;
    c->data.min_count = 1;
    c->model.embed = 16;
    c->model.encoder.hidden = c->model.decoder.hidden = 48;
    for (int l = 0; l < S2S_MAX_LAYERS; l++) {
        snprintf(c->model.encoder.cell[l], S2S_PATH_MAX, "%s", cell);
        snprintf(c->model.decoder.cell[l], S2S_PATH_MAX, "%s", cell);
    }
    c->train.batch = 8;
    c->train.lr = 0.01f;
    c->train.threads = 2;
    c->train.epochs = 60;
    c->train.log_every = 1000;
    snprintf(c->train.run_dir, S2S_PATH_MAX, "%s/%s", dir, run);
}

static void learns(const char *cell)
{
    make_corpus();
    s2s_config c;
    toy_config(&c, cell, cell);
    s2s_trainer tr;
    s2s_err err;
    cr_assert_eq(s2s_trainer_init(&tr, &c, NULL, &err), 0, "%s", err.msg);
    double first = s2s_trainer_loss(&tr, S2S_TRAIN);
    size_t nb = s2s_batcher_count(&tr.batcher);
    for (int e = 0; e < c.train.epochs; e++)
        for (size_t k = 0; k < nb; k++) {
            s2s_batcher_get(&tr.batcher, (uint64_t)e, k, &tr.batch);
            s2s_trainer_step(&tr, &tr.batch);
        }
    double last = s2s_trainer_loss(&tr, S2S_TRAIN);
    cr_assert(last < 0.05 && last < first / 20, "%s: loss %.4f -> %.4f", cell, first, last);
    s2s_scores sc;
    cr_assert_eq(s2s_trainer_score(&tr, S2S_TRAIN, NULL, &sc, &err), 0);
    cr_assert(sc.bleu > 95.0, "%s: BLEU on its training pairs %.2f", cell, sc.bleu);
    s2s_trainer_free(&tr);
    remove_dir();
}

Test(train, lstm_learns, .timeout = 120) { learns("lstm"); }
Test(train, gru_learns, .timeout = 120) { learns("gru"); }
Test(train, elman_learns, .timeout = 120) { learns("elman"); }

/* Runs the whole loop (checkpoints included) and returns the last
 * checkpoint. */
static void run(s2s_config *c, const char *resume, s2s_loaded *out)
{
    s2s_trainer tr;
    s2s_err err;
    cr_assert_eq(s2s_trainer_init(&tr, c, resume, &err), 0, "%s", err.msg);
    FILE *log = tmpfile();
    cr_assert_eq(s2s_trainer_run(&tr, log, &err), 0, "%s", err.msg);
    fclose(log);
    s2s_trainer_free(&tr);
    char path[S2S_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/last.ckpt", c->train.run_dir);
    cr_assert_eq(s2s_checkpoint_load(path, out, &err), 0, "%s", err.msg);
}

static void assert_same(const s2s_loaded *a, const s2s_loaded *b)
{
    cr_assert_eq(a->model.params.n, b->model.params.n);
    size_t bytes = a->model.params.n * sizeof(float);
    cr_assert(memcmp(a->model.params.w, b->model.params.w, bytes) == 0, "parameters differ");
    cr_assert(memcmp(a->model.params.m, b->model.params.m, bytes) == 0, "Adam m differs");
    cr_assert(memcmp(a->model.params.v, b->model.params.v, bytes) == 0, "Adam v differs");
    cr_assert_eq(a->state.step, b->state.step);
    cr_assert_eq(a->state.epoch, b->state.epoch);
}

Test(train, deterministic_and_resumable, .timeout = 120)
{
    make_corpus();
    s2s_config c;
    s2s_loaded a, b, r;
    toy_config(&c, "lstm", "a");
    c.train.epochs = 2;
    c.train.teacher_forcing = 0.7f; /* the sampled path draws from the RNG */
    run(&c, NULL, &a);
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/b", dir);
    run(&c, NULL, &b);
    assert_same(&a, &b);

    /* 1 epoch, stop, resume for the second */
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/r", dir);
    c.train.epochs = 1;
    run(&c, NULL, &r);
    cr_assert_eq(r.state.epoch, 1);
    s2s_loaded_free(&r);
    c.train.epochs = 2;
    char ck[S2S_PATH_MAX + 16];
    snprintf(ck, sizeof ck, "%s/last.ckpt", c.train.run_dir);
    run(&c, ck, &r);
    assert_same(&a, &r);

    /* stopped mid-epoch (step 7 of 2 x 5), resumed: still the same */
    s2s_loaded_free(&r);
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/m", dir);
    c.train.max_steps = 7;
    run(&c, NULL, &r);
    cr_assert_eq(r.state.epoch, 1);
    cr_assert_eq(r.state.batch, 2);
    s2s_loaded_free(&r);
    c.train.max_steps = 0;
    snprintf(ck, sizeof ck, "%s/last.ckpt", c.train.run_dir);
    run(&c, ck, &r);
    assert_same(&a, &r);

    /* a different seed gives a different model */
    s2s_loaded d;
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/d", dir);
    c.train.seed = 2;
    run(&c, NULL, &d);
    cr_assert(memcmp(a.model.params.w, d.model.params.w,
                     a.model.params.n * sizeof(float)) != 0);
    s2s_loaded_free(&a);
    s2s_loaded_free(&b);
    s2s_loaded_free(&r);
    s2s_loaded_free(&d);
    remove_dir();
}

/* The public API translates with nothing but the checkpoint. */
Test(train, translator_api, .timeout = 120)
{
    make_corpus();
    s2s_config c;
    toy_config(&c, "gru", "api");
    c.train.epochs = 40;
    s2s_loaded l;
    run(&c, NULL, &l);
    s2s_loaded_free(&l);
    char ck[S2S_PATH_MAX + 16];
    snprintf(ck, sizeof ck, "%s/best.ckpt", c.train.run_dir);
    s2s_err err;
    s2s_translator *t = s2s_translator_open(ck, 1, &err);
    cr_assert_not_null(t, "%s", err.msg);
    /* first line of the corpus */
    FILE *f = fopen(corpus, "r");
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    char *tab = strchr(line, '\t');
    *tab = 0;
    char *out = s2s_translate(t, tab + 1, &err);
    cr_assert_not_null(out, "%s", err.msg);
    cr_assert_str_eq(out, line);
    cr_assert_str_eq(s2s_last_output_tokens(t), line);
    free(out);
    /* batch with an invalid sentence in the middle */
    const char *in[3] = {tab + 1, "ka \xff lo", ""};
    char *outs[3];
    s2s_err errs[3];
    cr_assert_eq(s2s_translate_batch(t, in, 3, outs, errs), 1);
    cr_assert_str_eq(outs[0], line);
    cr_assert_null(outs[1]);
    cr_assert(strstr(errs[1].msg, "invalid UTF-8"), "%s", errs[1].msg);
    cr_assert_str_eq(outs[2], "");
    free(outs[0]);
    free(outs[2]);
    s2s_translator_close(t);
    remove_dir();
}

/* A cell built outside s2s (tests/cells/mgu.c, against cells/cell.h
 * alone), named by its path in the config, trains like a built-in one. */
Test(train, third_party_cell_learns, .timeout = 120)
{
    const char *b = getenv("S2S_BUILD");
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/cells/mgu.so", b ? b : "build");
    learns(path);
}

/* A non-finite gradient skips the update (parameters and moments stay as
 * they were, the step count too); five in a row stop the run with an
 * error, and no checkpoint with a non-finite value is written. */
Test(train, non_finite_gradient_skips_the_step, .timeout = 120)
{
    make_corpus();
    s2s_config c;
    toy_config(&c, "lstm", "nan");
    c.train.epochs = 2;
    s2s_trainer tr;
    s2s_err err;
    cr_assert_eq(s2s_trainer_init(&tr, &c, NULL, &err), 0, "%s", err.msg);
    s2s_params *p = &tr.model.params;
    p->w[tr.model.off_out_b] = NAN; /* the loss and every gradient go NaN */
    float *before = malloc(p->n * sizeof(float));
    memcpy(before, p->w, p->n * sizeof(float));
    s2s_batcher_get(&tr.batcher, 0, 0, &tr.batch);
    s2s_trainer_step(&tr, &tr.batch);
    cr_assert_eq(tr.skipped, 1);
    cr_assert_eq(tr.st.step, 0);
    cr_assert(memcmp(before, p->w, p->n * sizeof(float)) == 0, "parameters changed");
    for (size_t i = 0; i < p->n; i++) cr_assert(p->m[i] == 0 && p->v[i] == 0);
    free(before);
    FILE *log = tmpfile();
    cr_assert_eq(s2s_trainer_run(&tr, log, &err), -1);
    cr_assert(strstr(err.msg, "5 steps in a row had a non-finite gradient norm"), "%s", err.msg);
    rewind(log);
    char line[512];
    int skipped = 0;
    while (fgets(line, sizeof line, log)) skipped += strstr(line, "step skipped") != NULL;
    cr_assert_eq(skipped, 5);
    fclose(log);
    char path[S2S_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/last.ckpt", c.train.run_dir);
    cr_assert_eq(access(path, F_OK), -1, "a checkpoint was written");
    s2s_trainer_free(&tr);
    remove_dir();
}

/* The trainer's fused step (reduction, embedding rows, norm, clip, update
 * and clearing in two passes over fixed parts; Adam on untouched embedding
 * rows deferred until they are read or synced) gives the bits of the plain
 * composition: gradient, s2s_clip_grad_norm, then s2s_adam_step or
 * s2s_sgd_step over the whole buffer; and leaves the gradient all zero. */
static void fused_equals_plain(const char *optimizer)
{
    make_corpus();
    s2s_config c;
    toy_config(&c, "lstm", "fused");
    c.train.threads = 1;
    c.train.clip = 0.05f; /* small: clipping every step */
    snprintf(c.train.optimizer, sizeof c.train.optimizer, "%s", optimizer);
    s2s_trainer a, b;
    s2s_err err;
    cr_assert_eq(s2s_trainer_init(&a, &c, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_trainer_init(&b, &c, NULL, &err), 0, "%s", err.msg);
    s2s_params *pa = &a.model.params, *pb = &b.model.params;
    size_t bytes = pa->n * sizeof(float);
    for (size_t k = 0; k < s2s_batcher_count(&a.batcher) * 3; k++) {
        size_t nb = s2s_batcher_count(&a.batcher);
        s2s_batcher_get(&a.batcher, k / nb, k % nb, &a.batch);
        s2s_trainer_step(&a, &a.batch);

        s2s_batch *bt = &a.batch;
        s2s_seqs s = {.B = bt->B, .src = bt->src, .ld_src = bt->T,
                      .src_len = bt->src_len, .tgt_in = bt->tgt_in,
                      .tgt_out = bt->tgt_out, .ld_tgt = bt->U,
                      .tgt_len = bt->tgt_len};
        s2s_rng rng;
        s2s_rng_seed(&rng, 1);
        s2s_blas_set_threads(1);
        s2s_step_train(&b.model, b.work[0], &s, pb->g, 1.0f / (float)bt->ntokens,
                       1.0f, &rng);
        s2s_clip_grad_norm(pb->g, pb->n, c.train.clip);
        b.st.step++;
        if (strcmp(optimizer, "sgd") == 0) {
            s2s_sgd_step(pb, b.st.lr);
        } else {
            s2s_adam_cfg ac = {b.st.lr, c.train.beta1, c.train.beta2, c.train.eps};
            s2s_adam_step(pb, &ac, b.st.step);
        }
        memset(pb->g, 0, bytes);
        if (k % 3 != 2) continue; /* let the lazy rows fall behind */
        s2s_trainer_sync(&a);

        cr_assert(memcmp(pa->w, pb->w, bytes) == 0, "%s step %zu: parameters differ",
                  optimizer, k);
        cr_assert(memcmp(pa->m, pb->m, bytes) == 0, "step %zu: Adam m differs", k);
        cr_assert(memcmp(pa->v, pb->v, bytes) == 0, "step %zu: Adam v differs", k);
        cr_assert(memcmp(pa->g, pb->g, bytes) == 0, "step %zu: gradient not cleared", k);
    }
    s2s_trainer_free(&a);
    s2s_trainer_free(&b);
    remove_dir();
}

Test(train, fused_step_equals_plain_adam, .timeout = 120) { fused_equals_plain("adam"); }
Test(train, fused_step_equals_plain_sgd, .timeout = 120) { fused_equals_plain("sgd"); }

/* Training serves its few-row products against the recurrent weights from
 * copies that are repacked once a step (core/frozen.c): the model trained
 * so is bit for bit the one the BLAS alone trains (S2S_FROZEN=0), and the
 * copies did serve products. */
Test(train, frozen_weights_train_bit_for_bit, .timeout = 120)
{
    make_corpus();
    s2s_config c;
    s2s_loaded a, b;
    toy_config(&c, "lstm", "a");
    c.model.embed = 32;
    c.model.encoder.hidden = c.model.decoder.hidden = 256; /* W_hh 1024 x 256 */
    c.train.batch = 40;                                   /* 20 rows a thread */
    c.train.epochs = 4;
    long served = s2s_gemm_frozen_served();
    run(&c, NULL, &a);
    cr_assert_gt(s2s_gemm_frozen_served(), served, "the copies served no product");
    setenv("S2S_FROZEN", "0", 1);
    snprintf(c.train.run_dir, S2S_PATH_MAX, "%s/b", dir);
    served = s2s_gemm_frozen_served();
    run(&c, NULL, &b);
    unsetenv("S2S_FROZEN");
    cr_assert_eq(s2s_gemm_frozen_served(), served);
    assert_same(&a, &b);
    s2s_loaded_free(&a);
    s2s_loaded_free(&b);
    remove_dir();
}
