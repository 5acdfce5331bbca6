/* tests/seq2seq_config.c — the YAML run file (seq2seq/config): defaults,
 * every key read, the model shorthand and per-side / per-layer cells, every
 * kind of error with its line and key, write -> read round trips, and the
 * files in configs/. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "seq2seq/config.h"

/* ~100 KB each: static, not on the stack. */
static s2s_config cfg, cfg2, ref;
static s2s_err err;

static int load(s2s_config *c, const char *text)
{
    memset(&err, 0, sizeof err);
    return s2s_config_load_string(c, text, strlen(text), "t.yaml", &err);
}

/* Loads `text`, expecting failure with exactly `msg`; the config must be
 * left as it was. */
static void assert_error(const char *text, const char *msg)
{
    s2s_config_defaults(&cfg);
    cfg.train.epochs = 77; /* a marker: a failed load changes nothing */
    memcpy(&ref, &cfg, sizeof cfg);
    cr_assert_eq(load(&cfg, text), -1, "loaded:\n%s", text);
    cr_assert_str_eq(err.msg, msg, "got: %s\nfor:\n%s", err.msg, text);
    cr_assert_eq(memcmp(&cfg, &ref, sizeof cfg), 0, "config changed on error");
}

static char *write_to_string(const s2s_config *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    cr_assert_not_null(f);
    cr_assert_eq(s2s_config_write(c, f), 0);
    cr_assert_eq(fclose(f), 0);
    return buf;
}

/* write -> load_string must give back the identical struct. */
static void assert_round_trip(const s2s_config *c)
{
    size_t len;
    char *text = write_to_string(c, &len);
    memset(&cfg2, 0xa5, sizeof cfg2); /* load must overwrite every byte */
    memset(&err, 0, sizeof err);
    cr_assert_eq(s2s_config_load_string(&cfg2, text, len, "written", &err), 0,
                 "%s\n%s", err.msg, text);
    memcpy(&ref, c, sizeof ref);
    memset(ref.source_file, 0, sizeof ref.source_file); /* not a key */
    cr_assert_eq(memcmp(&ref, &cfg2, sizeof ref), 0, "differs after:\n%s", text);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* Defaults                                                                 */

static void assert_defaults(const s2s_config *c)
{
    cr_assert_str_eq(c->data.train, "corpora/default/eng-fra.tsv");
    cr_assert_str_eq(c->data.train_target, "");
    cr_assert_eq(c->data.src_column, 2);
    cr_assert_eq(c->data.tgt_column, 1);
    cr_assert_str_eq(c->data.dev, "");
    cr_assert_str_eq(c->data.dev_target, "");
    cr_assert_str_eq(c->data.test, "");
    cr_assert_str_eq(c->data.test_target, "");
    cr_assert_eq(c->data.split_every, 50);
    cr_assert_eq(c->data.min_len, 1);
    cr_assert_eq(c->data.max_len, 10);
    cr_assert_eq(c->data.min_count, 2);
    cr_assert_eq(c->data.max_vocab, 0);
    cr_assert_eq(c->data.skip_invalid_utf8, 0);
    cr_assert_eq(c->tokenizer.nfkc, 1);
    cr_assert_eq(c->tokenizer.lowercase, 1);
    cr_assert_eq(c->tokenizer.split_punct, 1);
    cr_assert_eq(c->tokenizer.french_spacing, 0);
    cr_assert_eq(c->model.embed, 256);
    cr_assert_eq(c->model.init_range, 0.0f); /* not given: cells init their own */
    const s2s_side_config *sides[2] = { &c->model.encoder, &c->model.decoder };
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(sides[s]->layers, 1);
        cr_assert_eq(sides[s]->hidden, 256);
        cr_assert_str_eq(sides[s]->cell[0], "lstm");
        for (int l = 1; l < S2S_MAX_LAYERS; l++)
            cr_assert_eq(sides[s]->cell[l][0], '\0');
    }
    cr_assert_eq(c->train.batch, 64);
    cr_assert_eq(c->train.epochs, 10);
    cr_assert_eq(c->train.max_steps, 0);
    cr_assert_str_eq(c->train.optimizer, "adam");
    cr_assert_eq(c->train.lr, 1e-3f);
    cr_assert_eq(c->train.beta1, 0.9f);
    cr_assert_eq(c->train.beta2, 0.999f);
    cr_assert_eq(c->train.eps, 1e-8f);
    cr_assert_eq(c->train.lr_decay, 1.0f);
    cr_assert_eq(c->train.clip, 5.0f);
    cr_assert_eq(c->train.teacher_forcing, 1.0f);
    cr_assert_eq(c->train.threads, 0);
    cr_assert_eq(c->train.seed, 1);
    cr_assert_str_eq(c->train.run_dir, "runs/default");
    cr_assert_eq(c->train.eval_every, 0);
    cr_assert_eq(c->train.log_every, 100);
    cr_assert_eq(c->decode.max_len, 20);
    cr_assert_eq(c->decode.max_len_ratio, 0.0f);
    cr_assert_eq(c->decode.batch, 64);
}

Test(config, defaults_are_the_documented_ones)
{
    memset(&cfg, 0xff, sizeof cfg);
    s2s_config_defaults(&cfg);
    assert_defaults(&cfg);
    cr_assert_str_eq(cfg.source_file, "");
    /* every byte is defined: two calls give the same bytes */
    memset(&cfg2, 0x11, sizeof cfg2);
    s2s_config_defaults(&cfg2);
    cr_assert_eq(memcmp(&cfg, &cfg2, sizeof cfg), 0);
}

Test(config, empty_input_gives_the_defaults)
{
    /* Chosen: an empty run file (or only comments) is valid, all defaults. */
    s2s_config_defaults(&ref);
    const char *empty[] = { "", "# nothing\n", "---\n", "data:\ntrain:\n" };
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        memset(&cfg, 0x5a, sizeof cfg);
        cr_assert_eq(load(&cfg, empty[i]), 0, "%s", err.msg);
        cr_assert_eq(memcmp(&cfg, &ref, sizeof cfg), 0, "[%s]", empty[i]);
    }
    memset(&cfg, 0x5a, sizeof cfg);
    cr_assert_eq(s2s_config_load_string(&cfg, NULL, 0, NULL, &err), 0);
    cr_assert_eq(memcmp(&cfg, &ref, sizeof cfg), 0);
}

Test(config, a_partial_file_keeps_other_defaults)
{
    cr_assert_eq(load(&cfg, "train:\n  epochs: 3\n"), 0, "%s", err.msg);
    cr_assert_eq(cfg.train.epochs, 3);
    cfg.train.epochs = 10;
    assert_defaults(&cfg);
}

/* ------------------------------------------------------------------------ */
/* Every key                                                                */

static const char *FULL =
    "data:\n"
    "  train: corpora/x/train.fr\n"
    "  train_target: corpora/x/train.en\n"
    "  src_column: 3\n"
    "  tgt_column: 5\n"
    "  dev: corpora/x/dev.fr\n"
    "  dev_target: corpora/x/dev.en\n"
    "  test: 'corpora/x/test.fr'\n"
    "  test_target: \"corpora/x/test.en\"\n"
    "  split_every: 0\n"
    "  min_len: 2\n"
    "  max_len: 30\n"
    "  min_count: 5\n"
    "  max_vocab: 30000\n"
    "  skip_invalid_utf8: yes\n"
    "tokenizer:\n"
    "  nfkc: false\n"
    "  lowercase: no\n"
    "  split_punct: False\n"
    "  french_spacing: true\n"
    "  type: sentencepiece\n"
    "  sentencepiece:\n"
    "    model: \n"
    "    src_model: sp/fr.model\n"
    "    tgt_model: sp/en.model\n"
    "    train:\n"
    "      vocab_size: 16000\n"
    "      model_type: unigram\n"
    "      character_coverage: 0.9995\n"
    "      byte_fallback: false\n"
    "      joint: no\n"
    "model:\n"
    "  embed: 300\n"
    "  init_range: 0.08\n"
    "  attention: mlp\n"
    "  input_feed: true\n"
    "  dropout: 0.25\n"
    "  encoder:\n"
    "    cell: gru\n"
    "    layers: 3\n"
    "    hidden: 512\n"
    "    bidirectional: true\n"
    "  decoder:\n"
    "    cell: [lstm, ./plugins/my cell.so]\n"
    "    layers: 2\n"
    "    hidden: 1024\n"
    "train:\n"
    "  batch: 32\n"
    "  epochs: 7\n"
    "  max_steps: 123456789012\n"
    "  optimizer: sgd\n"
    "  lr: 0.5\n"
    "  beta1: 0.8\n"
    "  beta2: 0.99\n"
    "  eps: 1e-6\n"
    "  lr_decay: 0.5\n"
    "  clip: 0\n"
    "  teacher_forcing: 0.75\n"
    "  threads: 2\n"
    "  seed: 18446744073709551615\n"
    "  run_dir: runs/full\n"
    "  eval_every: 500\n"
    "  log_every: 250\n"
    "decode:\n"
    "  max_len: 50\n"
    "  max_len_ratio: 1.5\n"
    "  batch: 1\n"
    "  replace_unk: true\n"
    "  beam: 12\n"
    "  length_penalty: wu\n"
    "  alpha: 0.8\n"
    "  beta: 0.2\n";

Test(config, a_file_with_every_key)
{
    cr_assert_eq(load(&cfg, FULL), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.data.train, "corpora/x/train.fr");
    cr_assert_str_eq(cfg.data.train_target, "corpora/x/train.en");
    cr_assert_eq(cfg.data.src_column, 3);
    cr_assert_eq(cfg.data.tgt_column, 5);
    cr_assert_str_eq(cfg.data.dev, "corpora/x/dev.fr");
    cr_assert_str_eq(cfg.data.dev_target, "corpora/x/dev.en");
    cr_assert_str_eq(cfg.data.test, "corpora/x/test.fr");
    cr_assert_str_eq(cfg.data.test_target, "corpora/x/test.en");
    cr_assert_eq(cfg.data.split_every, 0);
    cr_assert_eq(cfg.data.min_len, 2);
    cr_assert_eq(cfg.data.max_len, 30);
    cr_assert_eq(cfg.data.min_count, 5);
    cr_assert_eq(cfg.data.max_vocab, 30000);
    cr_assert_eq(cfg.data.skip_invalid_utf8, 1);
    cr_assert_eq(cfg.tokenizer.nfkc, 0);
    cr_assert_eq(cfg.tokenizer.lowercase, 0);
    cr_assert_eq(cfg.tokenizer.split_punct, 0);
    cr_assert_eq(cfg.tokenizer.french_spacing, 1);
    cr_assert_eq(cfg.model.embed, 300);
    cr_assert_eq(cfg.model.init_range, 0.08f);
    cr_assert_str_eq(cfg.model.attention, "mlp");
    cr_assert_eq(cfg.model.input_feed, 1);
    cr_assert_eq(cfg.model.dropout, 0.25f);
    cr_assert_eq(cfg.model.bidirectional, 1);
    cr_assert_eq(cfg.decode.replace_unk, 1);
    cr_assert_eq(cfg.decode.beam, 12);
    cr_assert_str_eq(cfg.decode.length_penalty, "wu");
    cr_assert_eq(cfg.decode.alpha, 0.8f);
    cr_assert_eq(cfg.decode.beta, 0.2f);
    cr_assert_eq(cfg.model.encoder.layers, 3);
    cr_assert_eq(cfg.model.encoder.hidden, 512);
    for (int l = 0; l < 3; l++) cr_assert_str_eq(cfg.model.encoder.cell[l], "gru");
    cr_assert_eq(cfg.model.encoder.cell[3][0], '\0');
    cr_assert_eq(cfg.model.decoder.layers, 2);
    cr_assert_eq(cfg.model.decoder.hidden, 1024);
    cr_assert_str_eq(cfg.model.decoder.cell[0], "lstm");
    cr_assert_str_eq(cfg.model.decoder.cell[1], "./plugins/my cell.so");
    cr_assert_eq(cfg.model.decoder.cell[2][0], '\0');
    cr_assert_eq(cfg.train.batch, 32);
    cr_assert_eq(cfg.train.epochs, 7);
    cr_assert_eq(cfg.train.max_steps, 123456789012L);
    cr_assert_str_eq(cfg.train.optimizer, "sgd");
    cr_assert_eq(cfg.train.lr, 0.5f);
    cr_assert_eq(cfg.train.beta1, 0.8f);
    cr_assert_eq(cfg.train.beta2, 0.99f);
    cr_assert_eq(cfg.train.eps, 1e-6f);
    cr_assert_eq(cfg.train.lr_decay, 0.5f);
    cr_assert_eq(cfg.train.clip, 0.0f);
    cr_assert_eq(cfg.train.teacher_forcing, 0.75f);
    cr_assert_eq(cfg.train.threads, 2);
    cr_assert_eq(cfg.train.seed, UINT64_MAX);
    cr_assert_str_eq(cfg.train.run_dir, "runs/full");
    cr_assert_eq(cfg.train.eval_every, 500);
    cr_assert_eq(cfg.train.log_every, 250);
    cr_assert_eq(cfg.decode.max_len, 50);
    cr_assert_eq(cfg.decode.max_len_ratio, 1.5f);
    cr_assert_eq(cfg.decode.batch, 1);
    cr_assert_str_eq(cfg.source_file, "");
}

Test(config, scalar_spellings)
{
    cr_assert_eq(load(&cfg, "train: {batch: +12, lr: .25, clip: 5., eps: 2E-3,"
                            " seed: +0, epochs: 007}\n"
                            "tokenizer: {nfkc: NO, lowercase: Yes}\n"
                            "model: {init_range: 1}\n"), 0, "%s", err.msg);
    cr_assert_eq(cfg.train.batch, 12);
    cr_assert_eq(cfg.train.lr, 0.25f);
    cr_assert_eq(cfg.train.clip, 5.0f);
    cr_assert_eq(cfg.train.eps, 2e-3f);
    cr_assert_eq(cfg.train.seed, 0);
    cr_assert_eq(cfg.train.epochs, 7); /* decimal, not octal */
    cr_assert_eq(cfg.tokenizer.nfkc, 0);
    cr_assert_eq(cfg.tokenizer.lowercase, 1);
    cr_assert_eq(cfg.model.init_range, 1.0f);
    /* strings may be written plain or quoted, digits included */
    cr_assert_eq(load(&cfg, "train: {run_dir: 2024, optimizer: 'sgd'}\n"), 0,
                 "%s", err.msg);
    cr_assert_str_eq(cfg.train.run_dir, "2024");
    cr_assert_str_eq(cfg.train.optimizer, "sgd");
}

/* ------------------------------------------------------------------------ */
/* The model shorthand, per side and per layer                              */

Test(config, model_shorthand_sets_both_sides)
{
    cr_assert_eq(load(&cfg, "model:\n  cell: gru\n  layers: 2\n  hidden: 128\n"),
                 0, "%s", err.msg);
    const s2s_side_config *sides[2] = { &cfg.model.encoder, &cfg.model.decoder };
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(sides[s]->layers, 2);
        cr_assert_eq(sides[s]->hidden, 128);
        cr_assert_str_eq(sides[s]->cell[0], "gru");
        cr_assert_str_eq(sides[s]->cell[1], "gru");
        cr_assert_eq(sides[s]->cell[2][0], '\0');
    }
}

Test(config, per_layer_cell_list)
{
    cr_assert_eq(load(&cfg, "model:\n  layers: 3\n"
                            "  cell: [lstm, gru, /opt/cells/mine.so]\n"),
                 0, "%s", err.msg);
    const s2s_side_config *sides[2] = { &cfg.model.encoder, &cfg.model.decoder };
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(sides[s]->layers, 3);
        cr_assert_str_eq(sides[s]->cell[0], "lstm");
        cr_assert_str_eq(sides[s]->cell[1], "gru");
        cr_assert_str_eq(sides[s]->cell[2], "/opt/cells/mine.so");
        cr_assert_eq(sides[s]->cell[3][0], '\0');
    }
    /* block-sequence form, eight layers (the maximum) */
    cr_assert_eq(load(&cfg, "model:\n  layers: 8\n  cell:\n"
                            "    - lstm\n    - gru\n    - elman\n    - lstm\n"
                            "    - gru\n    - elman\n    - lstm\n    - x.so\n"),
                 0, "%s", err.msg);
    cr_assert_str_eq(cfg.model.decoder.cell[7], "x.so");
    cr_assert_str_eq(cfg.model.encoder.cell[2], "elman");
}

Test(config, per_side_overrides_in_any_order)
{
    /* the side keys come before the shorthand they override */
    const char *text =
        "model:\n"
        "  encoder:\n"
        "    cell: lstm\n"
        "    hidden: 64\n"
        "  decoder:\n"
        "    layers: 1\n"
        "    cell: [elman]\n"
        "  cell: gru\n"
        "  layers: 2\n"
        "  hidden: 128\n";
    cr_assert_eq(load(&cfg, text), 0, "%s", err.msg);
    const s2s_side_config *e = &cfg.model.encoder, *d = &cfg.model.decoder;
    cr_assert_eq(e->layers, 2);
    cr_assert_eq(e->hidden, 64);
    cr_assert_str_eq(e->cell[0], "lstm");
    cr_assert_str_eq(e->cell[1], "lstm");
    cr_assert_eq(d->layers, 1);
    cr_assert_eq(d->hidden, 128);
    cr_assert_str_eq(d->cell[0], "elman");
    cr_assert_eq(d->cell[1][0], '\0');
}

Test(config, side_layers_extend_the_default_cell)
{
    cr_assert_eq(load(&cfg, "model: {decoder: {layers: 4}}\n"), 0, "%s", err.msg);
    cr_assert_eq(cfg.model.encoder.layers, 1);
    cr_assert_eq(cfg.model.decoder.layers, 4);
    for (int l = 0; l < 4; l++) cr_assert_str_eq(cfg.model.decoder.cell[l], "lstm");
    cr_assert_eq(cfg.model.decoder.cell[4][0], '\0');
    cr_assert_eq(cfg.model.encoder.cell[1][0], '\0');
}

/* ------------------------------------------------------------------------ */
/* Errors: each names the file, the line and the key                        */

Test(config, unknown_keys_with_suggestions)
{
    assert_error("data:\n  min_len: 1\n\ntrain:\n  epochs: 2\n  bach: 32\n",
                 "t.yaml:6: unknown key 'train.bach' (did you mean 'train.batch'?)");
    assert_error("# run\ntrian:\n  batch: 3\n",
                 "t.yaml:2: unknown key 'trian' (did you mean 'train'?)");
    assert_error("model:\n  encoder:\n    layers: 2\n    hiden: 3\n",
                 "t.yaml:4: unknown key 'model.encoder.hiden' "
                 "(did you mean 'model.encoder.hidden'?)");
    assert_error("model:\n  decodr: {layers: 2}\n",
                 "t.yaml:2: unknown key 'model.decodr' (did you mean 'model.decoder'?)");
    assert_error("train:\n  embed: 3\n",
                 "t.yaml:2: unknown key 'train.embed' (did you mean 'model.embed'?)");
    assert_error("batch: 3\n",
                 "t.yaml:1: unknown key 'batch' (did you mean 'train.batch'?)");
    assert_error("train:\n  zzzzzzzz: 1\n", "t.yaml:2: unknown key 'train.zzzzzzzz'");
    assert_error("train:\n  batch:\n    size: 1\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got a mapping");
    assert_error("train.batch: 3\n",
                 "t.yaml:1: unknown key 'train.batch' (keys are nested: write "
                 "each part of 'train.batch' on its own line, indented below "
                 "the one before)");
    assert_error("model:\n  encoder:\n    cell:\n      lstm: 1\n",
                 "t.yaml:3: key 'model.encoder.cell' must be a cell name or a "
                 "list of one per layer, got a mapping");
}

Test(config, wrong_types)
{
    assert_error("train:\n  batch: abc\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got 'abc'");
    assert_error("train:\n  batch: 64x\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got '64x'");
    assert_error("train:\n  batch: 6.4\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got '6.4'");
    assert_error("train:\n  batch: \"64\"\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got a quoted string '64'");
    assert_error("train:\n  batch:\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got nothing");
    assert_error("train:\n  batch: [64]\n",
                 "t.yaml:2: key 'train.batch' must be an integer, got a sequence");
    assert_error("train:\n  lr: fast\n",
                 "t.yaml:2: key 'train.lr' must be a number, got 'fast'");
    assert_error("train:\n  lr: nan\n",
                 "t.yaml:2: key 'train.lr' must be a number, got 'nan'");
    assert_error("train:\n  lr: .inf\n",
                 "t.yaml:2: key 'train.lr' must be a number, got '.inf'");
    assert_error("train:\n  lr: 0x1p-3\n",
                 "t.yaml:2: key 'train.lr' must be a number, got '0x1p-3'");
    assert_error("train:\n  lr: 1e-3e\n",
                 "t.yaml:2: key 'train.lr' must be a number, got '1e-3e'");
    assert_error("tokenizer:\n  nfkc: maybe\n",
                 "t.yaml:2: key 'tokenizer.nfkc' must be true or false (or yes "
                 "or no), got 'maybe'");
    assert_error("tokenizer:\n  nfkc: 1\n",
                 "t.yaml:2: key 'tokenizer.nfkc' must be true or false (or yes "
                 "or no), got '1'");
    assert_error("train:\n  run_dir: {a: b}\n",
                 "t.yaml:2: key 'train.run_dir' must be a string, got a mapping");
    assert_error("train: 5\n",
                 "t.yaml:1: key 'train' must be a mapping (keys indented below "
                 "it), got '5'");
    assert_error("- data\n- train\n",
                 "t.yaml:1: a run file must be a mapping of sections (data, "
                 "tokenizer, model, train, decode), got a sequence");
    assert_error("train:\n  seed: -1\n",
                 "t.yaml:2: key 'train.seed' must be a non-negative integer, got '-1'");
    assert_error("train:\n  seed: 1.5\n",
                 "t.yaml:2: key 'train.seed' must be a non-negative integer, got '1.5'");
    assert_error("train:\n  optimizer: adamw\n",
                 "t.yaml:2: key 'train.optimizer' must be adam or sgd, got 'adamw'");
    assert_error("model:\n  cell: [lstm, [gru]]\n",
                 "t.yaml:2: item 2 of key 'model.cell' must name a cell (lstm, "
                 "gru, elman, or a path to a .so), got a sequence");
    assert_error("model:\n  cell:\n",
                 "t.yaml:2: key 'model.cell' must name a cell (lstm, gru, elman, "
                 "or a path to a .so), got nothing");
}

/* Every key, as a dotted name and the section path to write it. */
static const char *ALL_KEYS[] = {
    "data.train", "data.train_target", "data.src_column", "data.tgt_column",
    "data.dev", "data.dev_target", "data.test", "data.test_target",
    "data.split_every", "data.min_len", "data.max_len", "data.min_count",
    "data.max_vocab", "data.skip_invalid_utf8",
    "tokenizer.nfkc", "tokenizer.lowercase", "tokenizer.split_punct",
    "tokenizer.french_spacing",
    "tokenizer.type", "tokenizer.sentencepiece.model",
    "tokenizer.sentencepiece.src_model", "tokenizer.sentencepiece.tgt_model",
    "tokenizer.sentencepiece.train.vocab_size",
    "tokenizer.sentencepiece.train.model_type",
    "tokenizer.sentencepiece.train.character_coverage",
    "tokenizer.sentencepiece.train.byte_fallback",
    "tokenizer.sentencepiece.train.joint",
    "model.embed", "model.init_range", "model.cell", "model.layers",
    "model.hidden", "model.encoder.cell", "model.encoder.layers",
    "model.encoder.hidden", "model.decoder.cell", "model.decoder.layers",
    "model.decoder.hidden", "model.attention", "model.input_feed",
    "model.dropout", "model.encoder.bidirectional",
    "train.batch", "train.epochs", "train.max_steps", "train.optimizer",
    "train.lr", "train.beta1", "train.beta2", "train.eps", "train.lr_decay",
    "train.clip", "train.teacher_forcing", "train.threads", "train.seed",
    "train.run_dir", "train.eval_every", "train.log_every",
    "decode.max_len", "decode.max_len_ratio", "decode.batch",
    "decode.replace_unk", "decode.beam", "decode.length_penalty",
    "decode.alpha", "decode.beta",
};

/* "a.b.c" with `value` -> "a:\n  b:\n    c: value\n" */
static void nested(char *out, size_t size, const char *key, const char *value)
{
    char k[64];
    snprintf(k, sizeof k, "%s", key);
    size_t len = 0;
    int depth = 0;
    for (char *part = strtok(k, "."), *next; part; part = next, depth++) {
        next = strtok(NULL, ".");
        len += (size_t)snprintf(out + len, size - len, "%*s%s:%s", 2 * depth, "",
                                part, next ? "\n" : " ");
    }
    snprintf(out + len, size - len, "%s\n", value);
}

Test(config, every_key_refuses_a_mapping_and_a_sequence_where_it_expects_a_scalar)
{
    char text[256], want[256];
    for (size_t i = 0; i < sizeof ALL_KEYS / sizeof *ALL_KEYS; i++) {
        const char *key = ALL_KEYS[i];
        int depth = 0;
        for (const char *p = key; *p; p++) depth += *p == '.';
        nested(text, sizeof text, key, "{a: 1}");
        s2s_config_defaults(&cfg);
        cr_assert_eq(load(&cfg, text), -1, "%s", text);
        snprintf(want, sizeof want, "t.yaml:%d: key '%s' must ", depth + 1, key);
        cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
        cr_assert(strstr(err.msg, "got a mapping"), "%s", err.msg);
        if (strstr(key, ".cell")) continue; /* a list is its other form */
        nested(text, sizeof text, key, "[1]");
        cr_assert_eq(load(&cfg, text), -1, "%s", text);
        cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
        cr_assert(strstr(err.msg, "got a sequence"), "%s", err.msg);
    }
}

Test(config, every_documented_key_is_in_the_full_file)
{
    /* FULL (above) gives each key except the model shorthand once */
    for (size_t i = 0; i < sizeof ALL_KEYS / sizeof *ALL_KEYS; i++) {
        const char *key = ALL_KEYS[i];
        if (strncmp(key, "model.", 6) == 0 && !strstr(key, "coder.") &&
            strcmp(key, "model.embed") && strcmp(key, "model.init_range"))
            continue;
        char leaf[64];
        snprintf(leaf, sizeof leaf, " %s:", strrchr(key, '.') + 1);
        cr_assert(strstr(FULL, leaf), "FULL lacks %s", key);
    }
}

Test(config, readme_documents_every_key)
{
    FILE *f = fopen("configs/README.md", "r");
    if (!f) cr_skip_test("run from the repository root (no configs/README.md)");
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; i < sizeof ALL_KEYS / sizeof *ALL_KEYS; i++) {
        char cell[80];
        snprintf(cell, sizeof cell, "| `%s` |", ALL_KEYS[i]);
        cr_assert(strstr(text, cell), "configs/README.md lacks a row for %s",
                  ALL_KEYS[i]);
    }
}

Test(config, integer_overflow)
{
    assert_error("train:\n  batch: 99999999999999999999\n",
                 "t.yaml:2: key 'train.batch' must be between 1 and 65536, got "
                 "'99999999999999999999'");
    assert_error("data:\n  min_count: 2147483648\n",
                 "t.yaml:2: key 'data.min_count' must be >= 1, got '2147483648'");
    assert_error("train:\n  max_steps: 9223372036854775808\n",
                 "t.yaml:2: key 'train.max_steps' must be >= 0, got "
                 "'9223372036854775808'");
    assert_error("train:\n  seed: 18446744073709551616\n",
                 "t.yaml:2: key 'train.seed' must be at most 18446744073709551615, "
                 "got '18446744073709551616'");
    assert_error("train:\n  lr: 1e39\n",
                 "t.yaml:2: key 'train.lr' must be a finite float (magnitude at "
                 "most 3.40282347e+38), got '1e39'");
    assert_error("train:\n  lr: 1e400\n",
                 "t.yaml:2: key 'train.lr' must be a finite float (magnitude at "
                 "most 3.40282347e+38), got '1e400'");
    cr_assert_eq(load(&cfg, "data:\n  min_count: 2147483647\n"), 0, "%s", err.msg);
    cr_assert_eq(cfg.data.min_count, 2147483647);
}

Test(config, out_of_range)
{
    struct { const char *text, *msg; } cases[] = {
        { "train:\n  batch: 0\n", "t.yaml:2: key 'train.batch' must be between 1 and 65536, got '0'" },
        { "train:\n  batch: -3\n", "t.yaml:2: key 'train.batch' must be between 1 and 65536, got '-3'" },
        { "model:\n  layers: 0\n", "t.yaml:2: key 'model.layers' must be between 1 and 8, got '0'" },
        { "model:\n  decoder:\n    layers: 9\n", "t.yaml:3: key 'model.decoder.layers' must be between 1 and 8, got '9'" },
        { "model:\n  hidden: 65537\n", "t.yaml:2: key 'model.hidden' must be between 1 and 65536, got '65537'" },
        { "model:\n  encoder: {hidden: 0}\n", "t.yaml:2: key 'model.encoder.hidden' must be between 1 and 65536, got '0'" },
        { "model:\n  embed: 0\n", "t.yaml:2: key 'model.embed' must be between 1 and 65536, got '0'" },
        { "model:\n  init_range: -0.5\n", "t.yaml:2: key 'model.init_range' must be >= 0, got '-0.5'" },
        { "train:\n  lr: 0\n", "t.yaml:2: key 'train.lr' must be > 0, got '0'" },
        { "train:\n  lr: -1e-3\n", "t.yaml:2: key 'train.lr' must be > 0, got '-1e-3'" },
        { "train:\n  lr: 1e-50\n", "t.yaml:2: key 'train.lr' must be > 0, got '1e-50'" },
        { "train:\n  teacher_forcing: 1.5\n", "t.yaml:2: key 'train.teacher_forcing' must be in [0, 1], got '1.5'" },
        { "train:\n  teacher_forcing: -0.1\n", "t.yaml:2: key 'train.teacher_forcing' must be in [0, 1], got '-0.1'" },
        { "train:\n  beta1: 1\n", "t.yaml:2: key 'train.beta1' must be in [0, 1), got '1'" },
        { "train:\n  beta2: -0.5\n", "t.yaml:2: key 'train.beta2' must be in [0, 1), got '-0.5'" },
        { "train:\n  beta2: 0.99999999\n", "t.yaml:2: key 'train.beta2' must be in [0, 1), got '0.99999999'" },
        { "train:\n  eps: 0\n", "t.yaml:2: key 'train.eps' must be > 0, got '0'" },
        { "train:\n  lr_decay: 0\n", "t.yaml:2: key 'train.lr_decay' must be in (0, 1], got '0'" },
        { "train:\n  lr_decay: 1.5\n", "t.yaml:2: key 'train.lr_decay' must be in (0, 1], got '1.5'" },
        { "train:\n  clip: -1\n", "t.yaml:2: key 'train.clip' must be >= 0, got '-1'" },
        { "train:\n  threads: -1\n", "t.yaml:2: key 'train.threads' must be between 0 and 1024, got '-1'" },
        { "train:\n  epochs: 0\n", "t.yaml:2: key 'train.epochs' must be >= 1, got '0'" },
        { "train:\n  max_steps: -1\n", "t.yaml:2: key 'train.max_steps' must be >= 0, got '-1'" },
        { "train:\n  eval_every: -1\n", "t.yaml:2: key 'train.eval_every' must be >= 0, got '-1'" },
        { "train:\n  log_every: 0\n", "t.yaml:2: key 'train.log_every' must be >= 1, got '0'" },
        { "data:\n  src_column: 0\n", "t.yaml:2: key 'data.src_column' must be >= 1, got '0'" },
        { "data:\n  tgt_column: -2\n", "t.yaml:2: key 'data.tgt_column' must be >= 1, got '-2'" },
        { "data:\n  min_len: 0\n", "t.yaml:2: key 'data.min_len' must be >= 1, got '0'" },
        { "data:\n  max_len: -1\n", "t.yaml:2: key 'data.max_len' must be >= 0, got '-1'" },
        { "data:\n  min_count: 0\n", "t.yaml:2: key 'data.min_count' must be >= 1, got '0'" },
        { "data:\n  max_vocab: -1\n", "t.yaml:2: key 'data.max_vocab' must be >= 0, got '-1'" },
        { "data:\n  max_vocab: 4\n", "t.yaml:2: key 'data.max_vocab' must be 0 (no cap) or >= 5 (the 4 specials count), got 4" },
        { "data:\n  split_every: -1\n", "t.yaml:2: key 'data.split_every' must be >= 0, got '-1'" },
        { "data:\n  split_every: 2\n", "t.yaml:2: key 'data.split_every' must be 0 (dev and test from files) or >= 3, got 2" },
        { "decode:\n  max_len: 0\n", "t.yaml:2: key 'decode.max_len' must be between 1 and 65536, got '0'" },
        { "decode:\n  max_len_ratio: -1\n", "t.yaml:2: key 'decode.max_len_ratio' must be >= 0, got '-1'" },
        { "decode:\n  batch: 0\n", "t.yaml:2: key 'decode.batch' must be between 1 and 65536, got '0'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_error(cases[i].text, cases[i].msg);
}

Test(config, keys_checked_against_each_other)
{
    assert_error("data:\n  max_len: 3\n  min_len: 5\n",
                 "t.yaml:3: key 'data.min_len' (5) must be <= data.max_len (3)");
    assert_error("data:\n  src_column: 1\n",
                 "t.yaml:2: keys 'data.src_column' and 'data.tgt_column' must "
                 "differ (both 1)");
    assert_error("data:\n  dev: d.tsv\n  split_every: 0\n",
                 "t.yaml:3: key 'data.split_every' is 0 (no split) but data.test "
                 "is not given; give data.dev and data.test files, or "
                 "split_every >= 3");
    assert_error("data:\n  split_every: 0\n",
                 "t.yaml:2: key 'data.split_every' is 0 (no split) but data.dev "
                 "is not given; give data.dev and data.test files, or "
                 "split_every >= 3");
    assert_error("data:\n  dev: d.tsv\n  dev_target: d.en\n",
                 "t.yaml:3: key 'data.dev_target' is given but data.train_target "
                 "is not (TSV files hold both sides: drop data.dev_target, or "
                 "give data.train_target)");
    assert_error("data:\n  test_target: t.en\n",
                 "t.yaml:2: key 'data.test_target' is given without data.test");
    assert_error("data:\n  train: a.fr\n  train_target: a.en\n  test: t.fr\n",
                 "t.yaml:4: key 'data.test' needs data.test_target too, as "
                 "data.train_target is given (aligned files)");
    /* max_len 0 means no cap: any min_len goes */
    cr_assert_eq(load(&cfg, "data: {max_len: 0, min_len: 50}\n"), 0, "%s", err.msg);
    /* separate dev / test files with the split kept, and with no split */
    cr_assert_eq(load(&cfg, "data: {dev: d.tsv, test: t.tsv}\n"), 0, "%s", err.msg);
    cr_assert_eq(load(&cfg, "data: {dev: d.tsv, test: t.tsv, split_every: 0}\n"),
                 0, "%s", err.msg);
    cr_assert_eq(cfg.data.split_every, 0);
}

Test(config, cell_list_length_must_match_layers)
{
    assert_error("model:\n  layers: 2\n  cell: [lstm]\n",
                 "t.yaml:3: key 'model.cell' lists 1 cells but model.layers is 2: "
                 "give one cell per layer, or one name for all");
    assert_error("model:\n  cell: [lstm, gru]\n",
                 "t.yaml:2: key 'model.cell' lists 2 cells but "
                 "model.encoder.layers is 1 (the default): give one cell per "
                 "layer, or one name for all");
    assert_error("model:\n  cell: [lstm, gru]\n  layers: 2\n"
                 "  decoder:\n    layers: 3\n",
                 "t.yaml:2: key 'model.cell' lists 2 cells but "
                 "model.decoder.layers is 3: give one cell per layer, or one "
                 "name for all");
    assert_error("model:\n  encoder:\n    layers: 3\n    cell:\n      - lstm\n"
                 "      - gru\n",
                 "t.yaml:4: key 'model.encoder.cell' lists 2 cells but "
                 "model.encoder.layers is 3: give one cell per layer, or one "
                 "name for all");
    assert_error("model:\n  layers: 8\n  cell: [a, a, a, a, a, a, a, a, a]\n",
                 "t.yaml:3: key 'model.cell' lists 9 cells, at most 8 (one per layer)");
    assert_error("model:\n  cell: []\n",
                 "t.yaml:2: key 'model.cell' must name at least one cell");
}

Test(config, strings_empty_nul_and_too_long)
{
    assert_error("data:\n  train: ''\n", "t.yaml:2: key 'data.train' must not be empty");
    assert_error("data:\n  train:\n", "t.yaml:2: key 'data.train' must not be empty");
    assert_error("train:\n  run_dir: ~\n", "t.yaml:2: key 'train.run_dir' must not be empty");
    assert_error("model:\n  cell: \"\"\n", "t.yaml:2: key 'model.cell' must not be empty");
    assert_error("model:\n  layers: 2\n  cell: [lstm, '']\n",
                 "t.yaml:3: item 2 of key 'model.cell' must not be empty");
    assert_error("data:\n  train: \"a\\0b\"\n", "t.yaml:2: key 'data.train' contains a NUL byte");

    /* S2S_PATH_MAX - 1 bytes fit, S2S_PATH_MAX do not */
    size_t n = S2S_PATH_MAX;
    char *text = malloc(n + 64);
    for (int fits = 1; fits >= 0; fits--) {
        size_t len = fits ? n - 1 : n;
        int k = snprintf(text, 64, "train:\n  run_dir: ");
        memset(text + k, 'r', len);
        strcpy(text + k + len, "\n");
        if (fits) {
            cr_assert_eq(load(&cfg, text), 0, "%s", err.msg);
            cr_assert_eq(strlen(cfg.train.run_dir), n - 1);
        } else {
            assert_error(text, "t.yaml:2: key 'train.run_dir' is too long "
                               "(4096 bytes, at most 4095)");
        }
    }
    {
        int k = snprintf(text, 64, "model:\n  cell: ");
        memset(text + k, 'c', n);
        strcpy(text + k + n, "\n");
        assert_error(text, "t.yaml:2: key 'model.cell' is too long (4096 "
                           "bytes, at most 4095)");
    }
    free(text);
}

Test(config, yaml_syntax_error_names_the_line)
{
    assert_error("train:\n  batch: 64\n  lr: [1e-3\nmodel:\n  cell: gru\n",
                 "t.yaml:4:6: did not find expected ',' or ']' (while parsing "
                 "a flow sequence at line 3)");
    assert_error("train:\n  batch: 64\n   epochs: 3\n",
                 "t.yaml:3:10: mapping values are not allowed in this context");
    assert_error("train:\n  batch: 64\n  batch: 32\n",
                 "t.yaml:3:3: duplicate key 'batch' (first at line 2)");
    assert_error("train: &t\n  batch: 64\n",
                 "t.yaml:1:8: anchors ('&t') are not supported");
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/s2s_config_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", tmpdir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(config_file, load_names_the_file, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/run.yaml", tmpdir);
    write_file(path, "train:\n  epochs: 4\n");
    cr_assert_eq(s2s_config_load(&cfg, path, &err), 0, "%s", err.msg);
    cr_assert_eq(cfg.train.epochs, 4);
    cr_assert_str_eq(cfg.source_file, path);

    write_file(path, "# a comment\ntrain:\n  bach: 4\n");
    cr_assert_eq(s2s_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof want,
             "%s:3: unknown key 'train.bach' (did you mean 'train.batch'?)", path);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(cfg.train.epochs, 4); /* unchanged */

    write_file(path, "");
    cr_assert_eq(s2s_config_load(&cfg, path, &err), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.source_file, path);
    memcpy(&ref, &cfg, sizeof cfg);
    memset(ref.source_file, 0, sizeof ref.source_file);
    s2s_config_defaults(&cfg2);
    cr_assert_eq(memcmp(&ref, &cfg2, sizeof ref), 0);
}

Test(config_file, missing_file_gives_strerror, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/missing.yaml", tmpdir);
    cr_assert_eq(s2s_config_load(&cfg, path, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(s2s_config_load(&cfg, tmpdir, &err), -1);
    snprintf(want, sizeof want, "%s: read error: %s", tmpdir, strerror(EISDIR));
    cr_assert_str_eq(err.msg, want);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

Test(config, write_then_load_is_identical)
{
    s2s_config_defaults(&cfg);
    assert_round_trip(&cfg);
    cr_assert_eq(load(&cfg, FULL), 0, "%s", err.msg);
    assert_round_trip(&cfg);
    cr_assert_eq(load(&cfg, "model: {layers: 3, cell: [lstm, gru, elman],"
                            " decoder: {hidden: 7}}\n"), 0, "%s", err.msg);
    assert_round_trip(&cfg);
}

Test(config, write_round_trips_awkward_strings)
{
    /* quotes, backslash, newline, tab, CR, C0 and C1 controls, DEL, a BOM,
     * non-ASCII, astral plane, '#' and ': ' that plain YAML would eat */
    const char *ok =
        "data:\n"
        "  train: \"a \\\"q\\\" b\\\\c\\nd\\te\\r\\x01\\x7f\\x85\\u0090 #x: y\"\n"
        "  test: \" lead and trail \"\n"
        "  dev: \"\\ufeff\\u00e9\\u2028\\U0001F600 'é'\"\n"
        "train:\n"
        "  run_dir: \"[not, a, list]\"\n"
        "model:\n"
        "  cell: \"{x}.so\"\n"
        "  decoder: {cell: 'true'}\n";
    cr_assert_eq(load(&cfg, ok), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.data.train, "a \"q\" b\\c\nd\te\r\x01\x7f\xc2\x85\xc2\x90 #x: y");
    cr_assert_str_eq(cfg.data.dev, "\xef\xbb\xbf\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80 '\xc3\xa9'");
    cr_assert_str_eq(cfg.data.test, " lead and trail ");
    cr_assert_str_eq(cfg.model.decoder.cell[0], "true");
    assert_round_trip(&cfg);
}

Test(config, write_round_trips_every_float)
{
    /* floats drawn over many magnitudes survive the shortest form exactly */
    s2s_rng rng;
    s2s_rng_seed(&rng, 42);
    s2s_config_defaults(&cfg);
    for (int i = 0; i < 300; i++) {
        float e = s2s_rng_uniform(&rng, -30.0f, 30.0f);
        cfg.train.lr = powf(10.0f, e);
        cfg.model.init_range = s2s_rng_uniform(&rng, 1e-7f, 1.0f);
        cfg.train.beta1 = s2s_rng_float(&rng);
        cfg.train.beta2 = nextafterf(1.0f, 0.0f); /* largest below 1 */
        cfg.train.eps = powf(10.0f, s2s_rng_uniform(&rng, -37.0f, 0.0f));
        cfg.train.lr_decay = s2s_rng_uniform(&rng, 1e-6f, 1.0f);
        cfg.train.clip = s2s_rng_uniform(&rng, 0.0f, 1e30f);
        cfg.train.teacher_forcing = s2s_rng_float(&rng);
        cfg.decode.max_len_ratio = s2s_rng_uniform(&rng, 0.0f, 100.0f);
        cfg.train.seed = s2s_rng_next(&rng);
        assert_round_trip(&cfg);
    }
    cfg.train.lr = FLT_TRUE_MIN; /* subnormal */
    cfg.train.clip = FLT_MAX;
    assert_round_trip(&cfg);
}

Test(config, paths_take_environment_variables)
{
    setenv("S2S_TEST_CORPUS", "/data/c.tsv", 1);
    unsetenv("S2S_TEST_UNSET");
    s2s_config_defaults(&cfg);
    cr_assert_eq(load(&cfg, "data:\n  train: ${S2S_TEST_CORPUS:-x.tsv}\n"
                            "  dev: ${S2S_TEST_UNSET:-corpora/d.tsv}\n"
                            "  test: a$b/${S2S_TEST_CORPUS}.t\n"
                            "train:\n  run_dir: runs/${S2S_TEST_UNSET:-}S\n"), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.data.train, "/data/c.tsv");
    cr_assert_str_eq(cfg.data.dev, "corpora/d.tsv");
    cr_assert_str_eq(cfg.data.test, "a$b//data/c.tsv.t");
    cr_assert_str_eq(cfg.train.run_dir, "runs/S");
    assert_error("data:\n  train: ${S2S_TEST_UNSET}/x\n",
                 "t.yaml:2: key 'data.train': environment variable S2S_TEST_UNSET is not "
                 "set (set it, or write ${S2S_TEST_UNSET:-DEFAULT})");
    assert_error("data:\n  train: ${S2S_TEST_CORPUS\n",
                 "t.yaml:2: key 'data.train': '${' without a closing '}' in '${S2S_TEST_CORPUS'");
    assert_error("train:\n  run_dir: ${S2S_TEST_UNSET:-}\n",
                 "t.yaml:2: key 'train.run_dir' must not be empty");
    unsetenv("S2S_TEST_CORPUS");
}

Test(config, write_prints_the_shortest_float_that_reads_back)
{
    s2s_config_defaults(&cfg);
    cfg.train.lr = 1e-3f;          /* %.9g: 0.00100000005 */
    cfg.train.eps = 1e-8f;
    cfg.model.init_range = 0.1f;
    cfg.train.beta2 = 0.999f;
    cfg.train.clip = 5.0f;
    cfg.decode.max_len_ratio = 1.0f / 3.0f; /* 8 digits: 0.33333334 */
    size_t len;
    char *text = write_to_string(&cfg, &len);
    const char *want[] = {"  lr: 0.001\n", "  eps: 1e-08\n", "  init_range: 0.1\n",
                          "  beta2: 0.999\n", "  clip: 5\n", "  max_len_ratio: 0.33333334\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(strstr(text, want[i]), "no '%s' in:\n%s", want[i], text);
    free(text);
    assert_round_trip(&cfg);
}

Test(config, write_names_the_source_file_in_a_comment_only)
{
    s2s_config_defaults(&cfg);
    strcpy(cfg.source_file, "configs/S.yaml");
    size_t len;
    char *text = write_to_string(&cfg, &len);
    cr_assert_not_null(strstr(text, "# Read from \"configs/S.yaml\"\n"));
    free(text);
    assert_round_trip(&cfg); /* the comment is not read back */
}

Test(config, write_reports_io_errors)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) cr_skip_test("no /dev/full here");
    setvbuf(f, NULL, _IONBF, 0);
    s2s_config_defaults(&cfg);
    cr_assert_eq(s2s_config_write(&cfg, f), -1);
    fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Overrides on top of a loaded config                                      */

Test(config, apply_string_overrides_only_what_it_names)
{
    cr_assert_eq(load(&cfg, FULL), 0, "%s", err.msg);
    memcpy(&ref, &cfg, sizeof cfg);
    cr_assert_eq(s2s_config_apply_string(&cfg, "train: {epochs: 1}", 18, "--set",
                                         &err), 0, "%s", err.msg);
    cr_assert_eq(cfg.train.epochs, 1);
    ref.train.epochs = 1;
    cr_assert_eq(memcmp(&cfg, &ref, sizeof cfg), 0);

    /* one cell name for all layers extends to a new layer count */
    cr_assert_eq(s2s_config_apply_string(&cfg, "model: {encoder: {layers: 5}}",
                                         29, "--set", &err), 0, "%s", err.msg);
    for (int l = 0; l < 5; l++) cr_assert_str_eq(cfg.model.encoder.cell[l], "gru");

    /* a per-layer list does not: the error names the key, cfg is kept */
    memcpy(&ref, &cfg, sizeof cfg);
    const char *set = "model:\n  decoder:\n    layers: 3\n";
    cr_assert_eq(s2s_config_apply_string(&cfg, set, strlen(set), "--set", &err), -1);
    cr_assert_str_eq(err.msg, "--set:3: key 'model.decoder.layers' sets 3 layers "
                              "but model.decoder.cell lists 2 cells; give "
                              "model.decoder.cell too");
    cr_assert_eq(memcmp(&cfg, &ref, sizeof cfg), 0);

    /* fewer layers of a list, with the list given: the tail is cleared */
    set = "model: {decoder: {layers: 1, cell: [elman]}}";
    cr_assert_eq(s2s_config_apply_string(&cfg, set, strlen(set), "--set", &err),
                 0, "%s", err.msg);
    cr_assert_str_eq(cfg.model.decoder.cell[0], "elman");
    cr_assert_eq(cfg.model.decoder.cell[1][0], '\0');
    assert_round_trip(&cfg);

    cr_assert_eq(s2s_config_apply_string(&cfg, "train: {bach: 1}", 16, "--set",
                                         &err), -1);
    cr_assert_str_eq(err.msg, "--set:1: unknown key 'train.bach' (did you mean "
                              "'train.batch'?)");
}

/* ------------------------------------------------------------------------ */
/* The files in configs/                                                    */

static int load_config_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "configs/%s", name);
    return s2s_config_load(&cfg, path, &err);
}

Test(configs_dir, every_file_loads_and_round_trips)
{
    DIR *d = opendir("configs");
    if (!d) cr_skip_test("run from the repository root (no configs/ here)");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        cr_assert_eq(load_config_file(e->d_name), 0, "%s", err.msg);
        assert_round_trip(&cfg);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 5, "expected default, S, M, G and R");
}

/* BENCHMARK.md: data, tokenizer, training and decoding shared by S/M/G/R. */
static void assert_benchmark_common(const char *run_dir)
{
    /* the corpus location is the user's: $S2S_TATOEBA, or the default */
    const char *env = getenv("S2S_TATOEBA");
    cr_assert_str_eq(cfg.data.train, env && *env ? env : "corpora/tatoeba/eng-fra.txt");
    cr_assert_str_eq(cfg.data.train_target, "");
    cr_assert_eq(cfg.data.src_column, 2);
    cr_assert_eq(cfg.data.tgt_column, 1);
    cr_assert_eq(cfg.data.split_every, 50);
    cr_assert_eq(cfg.data.min_len, 1);
    cr_assert_eq(cfg.data.max_len, 10);
    cr_assert_eq(cfg.data.min_count, 2);
    cr_assert_eq(cfg.data.max_vocab, 0);
    cr_assert_str_eq(cfg.data.dev, "");
    cr_assert_str_eq(cfg.data.test, "");
    cr_assert(cfg.tokenizer.nfkc && cfg.tokenizer.lowercase &&
              cfg.tokenizer.split_punct);
    cr_assert_eq(cfg.model.embed, 256);
    cr_assert_eq(cfg.model.init_range, 0.1f);
    cr_assert_eq(cfg.train.batch, 64);
    cr_assert_eq(cfg.train.epochs, 3);
    cr_assert_eq(cfg.train.max_steps, 0);
    cr_assert_str_eq(cfg.train.optimizer, "adam");
    cr_assert_eq(cfg.train.lr, 1e-3f);
    cr_assert_eq(cfg.train.beta1, 0.9f);
    cr_assert_eq(cfg.train.beta2, 0.999f);
    cr_assert_eq(cfg.train.eps, 1e-8f);
    cr_assert_eq(cfg.train.lr_decay, 1.0f);
    cr_assert_eq(cfg.train.clip, 5.0f);
    cr_assert_eq(cfg.train.teacher_forcing, 1.0f);
    cr_assert_eq(cfg.train.seed, 1);
    cr_assert_str_eq(cfg.train.run_dir, run_dir);
    cr_assert_eq(cfg.decode.max_len, 20);
    cr_assert_eq(cfg.decode.max_len_ratio, 0.0f);
}

static void assert_model(const char *cell, int layers, int hidden)
{
    const s2s_side_config *sides[2] = { &cfg.model.encoder, &cfg.model.decoder };
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(sides[s]->layers, layers);
        cr_assert_eq(sides[s]->hidden, hidden);
        for (int l = 0; l < layers; l++) cr_assert_str_eq(sides[s]->cell[l], cell);
    }
}

Test(configs_dir, benchmark_configs_match_the_protocol)
{
    if (access("configs/S.yaml", R_OK) != 0)
        cr_skip_test("run from the repository root (no configs/S.yaml here)");
    struct { const char *file, *cell, *run_dir; int layers, hidden; } b[] = {
        { "S.yaml", "lstm", "runs/S", 1, 256 },
        { "M.yaml", "lstm", "runs/M", 2, 512 },
        { "G.yaml", "gru", "runs/G", 1, 256 },
        { "R.yaml", "elman", "runs/R", 1, 256 },
    };
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) {
        cr_assert_eq(load_config_file(b[i].file), 0, "%s", err.msg);
        assert_benchmark_common(b[i].run_dir);
        assert_model(b[i].cell, b[i].layers, b[i].hidden);
    }
}

Test(configs_dir, default_config_is_the_small_model)
{
    if (access("configs/default.yaml", R_OK) != 0)
        cr_skip_test("run from the repository root (no configs/default.yaml)");
    cr_assert_eq(load_config_file("default.yaml"), 0, "%s", err.msg);
    cr_assert_str_eq(cfg.data.train, "corpora/default/eng-fra.tsv");
    cr_assert_eq(cfg.data.src_column, 2); /* French -> English */
    cr_assert_eq(cfg.data.tgt_column, 1);
    cr_assert_eq(cfg.model.embed, 128);
    assert_model("lstm", 1, 256);
    cr_assert_eq(cfg.train.batch, 64);
    cr_assert(cfg.train.epochs >= 4 && cfg.train.epochs <= 15); /* minutes, not hours */
    cr_assert_str_eq(cfg.train.run_dir, "runs/default");
}

Test(config, attention_keys_checked_against_each_other)
{
    assert_error("model:\n  attention: luong\n",
                 "t.yaml:2: key 'model.attention' must be none, dot, general or "
                 "mlp, got 'luong'");
    assert_error("model:\n  input_feed: true\n",
                 "t.yaml:2: key 'model.input_feed' needs model.attention (dot, "
                 "general or mlp): input feeding passes the attentional state on");
    assert_error("model:\n  hidden: 8\n  attention: dot\n  encoder:\n    bidirectional: true\n",
                 "t.yaml:3: key 'model.attention' is dot, which needs the "
                 "encoder's outputs (16, both directions) as wide as the "
                 "decoder's hidden size (8); use general or mlp, or match the sizes");
    assert_error("model:\n  dropout: 1\n",
                 "t.yaml:2: key 'model.dropout' must be in [0, 1), got '1'");
    cr_assert_eq(load(&cfg, "model:\n  attention: general\n  input_feed: yes\n"), 0,
                 "%s", err.msg);
}

Test(config, sentencepiece_keys)
{
    cr_assert_eq(load(&cfg, FULL), 0, "%s", err.msg);
    cr_assert(s2s_config_subwords(&cfg));
    cr_assert_str_eq(cfg.tokenizer.sentencepiece.model, "");
    cr_assert_str_eq(cfg.tokenizer.sentencepiece.src_model, "sp/fr.model");
    cr_assert_str_eq(cfg.tokenizer.sentencepiece.tgt_model, "sp/en.model");
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.vocab_size, 16000);
    cr_assert_str_eq(cfg.tokenizer.sentencepiece.train.model_type, "unigram");
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.character_coverage, 0.9995f);
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.byte_fallback, 0);
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.joint, 0);
    /* the defaults: words; a joint 8000-piece BPE model when asked */
    s2s_config_defaults(&cfg);
    cr_assert(!s2s_config_subwords(&cfg));
    cr_assert_str_eq(cfg.tokenizer.type, "words");
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.vocab_size, 8000);
    cr_assert_str_eq(cfg.tokenizer.sentencepiece.train.model_type, "bpe");
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.character_coverage, 1.0f);
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.byte_fallback, 1);
    cr_assert_eq(cfg.tokenizer.sentencepiece.train.joint, 1);

    assert_error("tokenizer:\n  type: bpe\n",
                 "t.yaml:2: key 'tokenizer.type' must be words or sentencepiece, "
                 "got 'bpe'");
    assert_error("tokenizer:\n  type: Words\n",
                 "t.yaml:2: key 'tokenizer.type' must be words or sentencepiece, "
                 "got 'Words'");
    assert_error("tokenizer:\n  sentencepiece:\n    train: {model_type: char}\n",
                 "t.yaml:3: key 'tokenizer.sentencepiece.train.model_type' must be "
                 "bpe or unigram, got 'char'");
    assert_error("tokenizer:\n  sentencepiece:\n    train: {vocab_size: 4}\n",
                 "t.yaml:3: key 'tokenizer.sentencepiece.train.vocab_size' must be "
                 "between 8 and 1000000, got '4'");
    assert_error("tokenizer:\n  sentencepiece:\n    train: {character_coverage: 0}\n",
                 "t.yaml:3: key 'tokenizer.sentencepiece.train.character_coverage' "
                 "must be in (0, 1], got '0'");
    assert_error("tokenizer:\n  sentencepiece:\n    model: a.model\n"
                 "    src_model: b.model\n    tgt_model: c.model\n",
                 "t.yaml:4: key 'tokenizer.sentencepiece.model' (one joint model) "
                 "and 'tokenizer.sentencepiece.src_model' (one per side) exclude "
                 "each other: give one or the other");
    assert_error("tokenizer:\n  sentencepiece:\n    tgt_model: c.model\n",
                 "t.yaml:3: key 'tokenizer.sentencepiece.tgt_model' needs "
                 "tokenizer.sentencepiece.src_model too (one model per side), or "
                 "give one joint tokenizer.sentencepiece.model");
}
