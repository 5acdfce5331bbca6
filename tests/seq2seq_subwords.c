/* tests/seq2seq_subwords.c — subword units through the library: a
 * checkpoint written before SentencePiece came in (tests/data/
 * words-2895872.ckpt, by commit 2895872) still loads and gives the same
 * figures; a subword checkpoint carries its models and refuses a model
 * that does not match its vocabulary; a dataset in pieces keeps its pairs
 * and its word references. Run from the repository root. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckpt.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/s2s.h"
#include "seq2seq/train.h"
#include "scratch.h"

#define OLD "tests/data/words-2895872.ckpt"

static char dir[256];

static void setup(void)
{
    const char *b = getenv("S2S_BUILD");
    char cells[4200];
    snprintf(cells, sizeof cells, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", cells, 1);
    scratch_make(dir, sizeof dir, "sw");
}

static void teardown(void) { scratch_remove(dir); }

TestSuite(subwords, .init = setup, .fini = teardown, .timeout = 120);

Test(subwords, checkpoint_from_before_subwords_loads_as_words)
{
    s2s_loaded l;
    s2s_err err;
    int rc = s2s_checkpoint_load(OLD, &l, &err);
    if (rc < 0 && strstr(err.msg, "cannot open"))
        cr_skip_test("run from the repository root (%s)", err.msg);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_str_eq(l.cfg.tokenizer.type, "words");
    cr_assert_null(l.sub_src);
    cr_assert_null(l.sub_tgt);
    s2s_loaded_free(&l);

    /* what commit 2895872's `s2s translate` and `s2s eval` printed */
    s2s_translator *t = s2s_translator_open(OLD, 1, &err);
    cr_assert_not_null(t, "%s", err.msg);
    char *out = s2s_translate(t, "Va !", &err);
    cr_assert_not_null(out, "%s", err.msg);
    char want[256] = "have";
    for (int i = 1; i < 20; i++) strcat(want, " have");
    cr_assert_str_eq(out, want);
    free(out);
    s2s_translator_close(t);

    s2s_trainer tr;
    cr_assert_eq(s2s_trainer_open_checkpoint(&tr, OLD, 1, NULL, NULL, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(tr.data.split[S2S_TEST].n, 5);
    double loss = s2s_trainer_loss(&tr, S2S_TEST);
    cr_assert(fabs(loss - 4.7683) < 5e-5, "test loss %.6f, was 4.7683", loss);
    s2s_trainer_free(&tr);
}

/* The bundled corpus's train split text, both sides: a small joint model. */
static s2s_subword *small_model(const s2s_dataset *d, const s2s_tok_opts *norm)
{
    const s2s_split *sp = &d->split[S2S_TRAIN];
    const char **s = malloc(2 * sp->n * sizeof *s);
    for (size_t k = 0; k < sp->n; k++) {
        s[2 * k] = sp->src_text[k];
        s[2 * k + 1] = sp->tgt_text[k];
    }
    s2s_subword_train_opts o = {1500, 0, 1.0, 1};
    s2s_err err;
    size_t len;
    void *m = s2s_subword_train(s, 2 * sp->n, &o, norm, &len, &err);
    cr_assert_not_null(m, "%s", err.msg);
    free(s);
    s2s_subword *sw = s2s_subword_open(m, len, "m", norm, &err);
    cr_assert_not_null(sw, "%s", err.msg);
    free(m);
    return sw;
}

static void load_corpus(s2s_dataset *d, int keep_text)
{
    s2s_data_spec spec;
    s2s_data_spec_defaults(&spec);
    spec.train = "corpora/default/eng-fra.tsv";
    spec.keep_text = keep_text;
    s2s_err err;
    int rc = s2s_dataset_load(&spec, NULL, NULL, d, &err);
    if (rc < 0 && strstr(err.msg, "cannot open"))
        cr_skip_test("run from the repository root (%s)", err.msg);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

Test(subwords, dataset_in_pieces_keeps_its_pairs_and_word_references)
{
    s2s_dataset w, d;
    load_corpus(&w, 0);
    load_corpus(&d, 1);
    s2s_tok_opts norm = S2S_TOK_OPTS_DEFAULT;
    s2s_subword *sw = small_model(&d, &norm);
    s2s_err err;
    cr_assert_eq(s2s_dataset_use_subwords(&w, sw, sw, &err), -1);
    cr_assert(strstr(err.msg, "keep_text"), "%s", err.msg);
    cr_assert_eq(s2s_dataset_use_subwords(&d, sw, sw, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_vocab_size(d.tgt_vocab), 1500);
    cr_assert_eq(d.src_unk + d.tgt_unk, 0);
    cr_assert_eq(d.tgt_words, w.split[0].n_tgt_tokens + w.split[1].n_tgt_tokens +
                                  w.split[2].n_tgt_tokens);
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        const s2s_split *a = &w.split[k], *b = &d.split[k];
        cr_assert_eq(a->n, b->n);
        cr_assert_gt(b->n_tgt_tokens, a->n_tgt_tokens); /* pieces outnumber words */
        for (size_t i = 0; i < a->n; i++) {
            cr_assert_eq(a->line[i], b->line[i]);
            /* the references are the word tokens, as in a word dataset */
            cr_assert_eq(s2s_split_ref_len(a, i), s2s_split_ref_len(b, i));
            const char *const *ra = s2s_split_ref_tokens(a, i);
            const char *const *rb = s2s_split_ref_tokens(b, i);
            for (size_t j = 0; j < s2s_split_ref_len(a, i); j++)
                cr_assert_str_eq(ra[j], rb[j]);
            /* and the target ids decode to the normalised text */
            char *text = s2s_subword_decode(sw, s2s_split_tgt(b, i), b->tgt_len[i]);
            char *want = s2s_subword_normalise(sw, b->tgt_text[i],
                                               strlen(b->tgt_text[i]), &err);
            cr_assert_str_eq(text, want);
            free(text);
            free(want);
        }
    }

    /* a checkpoint with the models round-trips them ... */
    s2s_config c;
    s2s_config_defaults(&c);
    snprintf(c.tokenizer.type, sizeof c.tokenizer.type, "sentencepiece");
    c.model.embed = 4;
    c.model.encoder.hidden = c.model.decoder.hidden = 4;
    s2s_model m;
    cr_assert_eq(s2s_model_build(&m, &c, 1500, 1500, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 1);
    s2s_model_init_params(&m, 0.1f, &rng);
    char path[512];
    snprintf(path, sizeof path, "%s/sw.ckpt", dir);
    cr_assert_eq(s2s_checkpoint_save(path, &c, d.src_vocab, d.tgt_vocab, &m, NULL,
                                     &err), -1, "saved without its models");
    cr_assert_eq(s2s_checkpoint_save_subwords(path, &c, d.src_vocab, d.tgt_vocab,
                                              sw, sw, NULL, &m, NULL, &err), 0, "%s",
                 err.msg);
    s2s_loaded l;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    cr_assert_not_null(l.sub_src);
    size_t la, lb;
    const void *a = s2s_subword_bytes(sw, &la), *b = s2s_subword_bytes(l.sub_tgt, &lb);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0);
    s2s_loaded_free(&l);

    /* ... and refuses a model whose pieces are not its vocabulary */
    s2s_subword *other = small_model(&d, &(s2s_tok_opts){0, 0, 0});
    s2s_vocab *v = s2s_vocab_clone(s2s_subword_vocab(other));
    cr_assert(!s2s_vocab_equal(v, d.tgt_vocab), "a cased model, the same pieces?");
    {
        cr_assert_eq(s2s_checkpoint_save_subwords(path, &c, d.src_vocab, d.tgt_vocab,
                                                  sw, other, NULL, &m, NULL, &err), 0);
        cr_assert_eq(s2s_checkpoint_load(path, &l, &err), -1);
        cr_assert(strstr(err.msg, "spm_tgt") && strstr(err.msg, "differ"), "%s",
                  err.msg);
        cr_assert_null(strchr(err.msg, '\n'));
    }
    s2s_vocab_free(v);
    s2s_subword_free(other);
    s2s_model_free(&m);
    s2s_subword_free(sw);
    s2s_dataset_free(&w);
    s2s_dataset_free(&d);
}

/* The ids of one side of a split, back to back, and their count. */
static uint32_t *side_ids(const s2s_split *sp, int target, size_t *n)
{
    *n = target ? sp->n_tgt_tokens : sp->n_src_tokens;
    uint32_t *ids = malloc((*n + 1) * sizeof *ids);
    memcpy(ids, target ? sp->tgt_ids : sp->src_ids, *n * sizeof *ids);
    return ids;
}

static int same_ids(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && memcmp(a, b, na * sizeof *a) == 0;
}

/* Subword regularisation: the training split drawn anew still decodes to
 * its text and keeps its word references; the same seed draws the same
 * pieces, another seed others, and both differ from the plain encoding. */
Test(subwords, resampling_is_seeded_and_round_trips)
{
    s2s_dataset d;
    load_corpus(&d, 1);
    s2s_tok_opts norm = S2S_TOK_OPTS_DEFAULT;
    s2s_subword *sw = small_model(&d, &norm);
    s2s_err err;
    cr_assert_eq(s2s_dataset_resample_subwords(&d, S2S_TRAIN, sw, sw, -1, 0.3f, 7, &err),
                 -1, "a word dataset cannot be resampled");
    cr_assert_eq(s2s_dataset_use_subwords(&d, sw, sw, &err), 0, "%s", err.msg);
    s2s_split *sp = &d.split[S2S_TRAIN];
    size_t n0, n1, n2, n3, r0 = sp->n_ref_tokens;
    uint32_t *plain = side_ids(sp, 1, &n0);
    cr_assert_eq(s2s_dataset_resample_subwords(&d, S2S_TRAIN, sw, sw, -1, 0.3f, 7, &err),
                 0, "%s", err.msg);
    uint32_t *a = side_ids(sp, 1, &n1);
    for (size_t i = 0; i < sp->n; i++) {
        char *text = s2s_subword_decode(sw, s2s_split_tgt(sp, i), sp->tgt_len[i]);
        char *want = s2s_subword_normalise(sw, sp->tgt_text[i], strlen(sp->tgt_text[i]), &err);
        cr_assert_str_eq(text, want, "pair %zu", i);
        free(text);
        free(want);
    }
    cr_assert_eq(sp->n_ref_tokens, r0);
    cr_assert_eq(s2s_dataset_resample_subwords(&d, S2S_TRAIN, sw, sw, -1, 0.3f, 7, &err), 0);
    uint32_t *b = side_ids(sp, 1, &n2);
    cr_assert_eq(s2s_dataset_resample_subwords(&d, S2S_TRAIN, sw, sw, -1, 0.3f, 8, &err), 0);
    uint32_t *c = side_ids(sp, 1, &n3);
    cr_assert(same_ids(a, n1, b, n2), "seed 7 twice drew different pieces");
    cr_assert(!same_ids(a, n1, c, n3), "seeds 7 and 8 drew the same pieces");
    cr_assert(!same_ids(a, n1, plain, n0), "sampling drew the plain encoding");
    free(plain); free(a); free(b); free(c);
    s2s_subword_free(sw);
    s2s_dataset_free(&d);
}
