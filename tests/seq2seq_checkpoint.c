/* tests/seq2seq_checkpoint.c — a model checkpoint round-trips exactly, and
 * truncated, corrupted or hostile files are rejected with a message before
 * anything in them is trusted (cut at every section boundary and inside
 * each section, flipped bytes, absurd sizes, a mismatched config). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ckpt.h"
#include "seq2seq/checkpoint.h"
#include "scratch.h"

static char dir[256], path[512];
static unsigned char *good;
static size_t good_len;

static s2s_vocab *toy_vocab(int n)
{
    const char *w[] = {"a", "b", "c", "d", "e", "f"};
    return s2s_vocab_from_tokens(w, (size_t)n, NULL);
}

static void setup(void)
{
    const char *b = getenv("S2S_BUILD");
    char cells[4200];
    snprintf(cells, sizeof cells, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", cells, 1);
    scratch_make(dir, sizeof dir, "ck");
    snprintf(path, sizeof path, "%s/m.ckpt", dir);

    s2s_config c;
    s2s_config_defaults(&c);
    c.model.embed = 4;
    c.model.encoder.hidden = c.model.decoder.hidden = 5;
    snprintf(c.model.decoder.cell[0], S2S_PATH_MAX, "gru"); /* with a bridge */
    s2s_vocab *sv = toy_vocab(6), *tv = toy_vocab(5);
    s2s_model m;
    s2s_err err;
    cr_assert_eq(s2s_model_build(&m, &c, (int)s2s_vocab_size(sv),
                                 (int)s2s_vocab_size(tv), &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 5);
    s2s_model_init_params(&m, 0.1f, &rng);
    for (size_t i = 0; i < m.params.n; i++) {
        m.params.m[i] = (float)i * 1e-3f;
        m.params.v[i] = (float)i * 1e-6f;
    }
    s2s_train_state st = {.step = 123, .epoch = 2, .batch = 7, .lr = 5e-4f,
                          .best_dev_loss = 1.25, .best_dev_bleu = 31.5,
                          .best_dev_chrf = 50.25, .best_step = 100, .best_epoch = 2};
    cr_assert_eq(s2s_checkpoint_save(path, &c, sv, tv, &m, &st, &err), 0, "%s", err.msg);
    s2s_model_free(&m);
    s2s_vocab_free(sv);
    s2s_vocab_free(tv);

    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    good_len = (size_t)ftell(f);
    rewind(f);
    good = malloc(good_len);
    cr_assert_eq(fread(good, 1, good_len, f), good_len);
    fclose(f);
}

static void teardown(void)
{
    scratch_remove(dir);
    free(good);
}

TestSuite(ckpt_model, .init = setup, .fini = teardown, .timeout = 60);

static void write_bytes(const unsigned char *p, size_t n)
{
    scratch_write(dir, 0, "m.ckpt", p, n); /* = path */
}

/* Loading must fail with a one-line message naming the file. */
static void expect_reject(const char *what)
{
    s2s_loaded l;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), -1, "%s: accepted", what);
    cr_assert(strstr(err.msg, path), "%s: message does not name the file: %s", what, err.msg);
    cr_assert_null(strchr(err.msg, '\n'), "%s: more than one line: %s", what, err.msg);
}

Test(ckpt_model, round_trip)
{
    s2s_loaded l;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.has_state, 1);
    cr_assert_eq(l.state.step, 123);
    cr_assert_eq(l.state.epoch, 2);
    cr_assert_eq(l.state.batch, 7);
    cr_assert_eq(l.state.lr, 5e-4f);
    cr_assert_eq(l.state.best_dev_loss, 1.25);
    cr_assert_eq(l.state.best_dev_bleu, 31.5);
    cr_assert_eq(l.state.best_dev_chrf, 50.25);
    cr_assert_eq(l.state.best_step, 100);
    cr_assert_eq(l.state.best_epoch, 2);
    cr_assert(l.model.use_bridge);
    cr_assert_str_eq(l.cfg.model.decoder.cell[0], "gru");
    cr_assert_eq(s2s_vocab_size(l.src), 10);
    cr_assert_str_eq(s2s_vocab_token(l.tgt, 8), "e");
    for (size_t i = 0; i < l.model.params.n; i++) {
        cr_assert_eq(l.model.params.m[i], (float)i * 1e-3f);
        cr_assert_eq(l.model.params.v[i], (float)i * 1e-6f);
    }
    /* saving what was loaded gives the same bytes */
    char again[600];
    snprintf(again, sizeof again, "%s/again.ckpt", dir);
    cr_assert_eq(s2s_checkpoint_save(again, &l.cfg, l.src, l.tgt, &l.model, &l.state, &err), 0);
    FILE *f = fopen(again, "rb");
    unsigned char *b = malloc(good_len + 1);
    size_t n = fread(b, 1, good_len + 1, f);
    fclose(f);
    cr_assert_eq(n, good_len);
    cr_assert(memcmp(b, good, n) == 0);
    free(b);
    s2s_loaded_free(&l);
}

Test(ckpt_model, export_drops_the_moments_and_nothing_else)
{
    char out[600];
    snprintf(out, sizeof out, "%s/small.ckpt", dir);
    uint64_t a = 0, b = 0;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_export(path, out, &a, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(a, good_len);
    s2s_ckpt ck;
    cr_assert_eq(s2s_ckpt_open(&ck, out, &err), 0, "%s", err.msg);
    cr_assert_eq(b, ck.size);
    cr_assert_null(s2s_ckpt_get(&ck, "adam_m", NULL));
    cr_assert_null(s2s_ckpt_get(&ck, "adam_v", NULL));
    const char *kept[] = {"meta", "config", "vsrc", "vtgt", "params", "state", "best"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        cr_assert_not_null(s2s_ckpt_get(&ck, kept[i], NULL), "%s dropped", kept[i]);
    s2s_ckpt_close(&ck);

    /* the same model, no training state */
    s2s_loaded l0, l1;
    cr_assert_eq(s2s_checkpoint_load(path, &l0, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_checkpoint_load(out, &l1, &err), 0, "%s", err.msg);
    cr_assert_eq(l1.has_state, 0);
    cr_assert_eq(l1.model.params.n, l0.model.params.n);
    cr_assert(memcmp(l1.model.params.w, l0.model.params.w,
                     l0.model.params.n * sizeof(float)) == 0);
    s2s_loaded_free(&l0);
    s2s_loaded_free(&l1);

    /* info reads the position and figures it kept */
    s2s_ckpt_info *in = calloc(1, sizeof *in);
    cr_assert_eq(s2s_checkpoint_info(out, in, &err), 0, "%s", err.msg);
    cr_assert_eq(in->resumable, 0);
    cr_assert_eq(in->has_position, 1);
    cr_assert_eq(in->state.step, 123);
    cr_assert_eq(in->has_best, 1);
    cr_assert_eq(in->state.best_dev_bleu, 31.5);
    cr_assert_gt(in->params, 0);
    cr_assert_eq(in->n_cells, 2);
    cr_assert_str_eq(in->cells[0].side, "encoder");
    cr_assert_str_eq(in->cells[0].name, "lstm");
    cr_assert_str_eq(in->cells[1].side, "decoder");
    cr_assert_str_eq(in->cells[1].name, "gru");
    cr_assert_eq(strlen(in->cells[1].sha256), 64, "the plugin digest, in hex");
    cr_assert_eq(s2s_checkpoint_info(path, in, &err), 0, "%s", err.msg);
    cr_assert_eq(in->resumable, 1);
    cr_assert_eq(in->file_bytes, good_len);
    free(in);

    /* a damaged input: an error naming it, and no output */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    scratch_write(dir, 1, "bad.ckpt", good, good_len / 2);
    snprintf(out, sizeof out, "%s/none.ckpt", dir);
    cr_assert_eq(s2s_checkpoint_export(bad, out, NULL, NULL, &err), -1);
    cr_assert(strstr(err.msg, "bad.ckpt"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0);
}

Test(ckpt_model, truncated_at_every_section_boundary_and_inside)
{
    s2s_ckpt ck;
    s2s_err err;
    cr_assert_eq(s2s_ckpt_open_mem(&ck, good, good_len, "m", &err), 0, "%s", err.msg);
    cr_assert_geq(ck.n_sections, 7u);
    for (uint32_t k = 0; k < ck.n_sections; k++) {
        size_t cuts[4] = {ck.sections[k].off - 1, ck.sections[k].off,
                          ck.sections[k].off + ck.sections[k].len / 2,
                          ck.sections[k].off + ck.sections[k].len};
        for (int c = 0; c < 4; c++) {
            if (cuts[c] >= good_len) continue;
            write_bytes(good, cuts[c]);
            char what[64];
            snprintf(what, sizeof what, "cut at %zu (section %s)", cuts[c], ck.sections[k].tag);
            expect_reject(what);
        }
    }
    s2s_ckpt_close(&ck);
    write_bytes(good, 0);
    expect_reject("empty file");
}

Test(ckpt_model, flipped_bytes)
{
    unsigned char *b = malloc(good_len);
    /* every byte of the small sections, and a stride through the rest */
    for (size_t i = 0; i < good_len; i += (i < 2048 ? 1 : 97)) {
        memcpy(b, good, good_len);
        b[i] ^= 0x10;
        write_bytes(b, good_len);
        char what[64];
        snprintf(what, sizeof what, "byte %zu flipped", i);
        expect_reject(what);
    }
    free(b);
}

Test(ckpt_model, absurd_sizes_and_appended_junk)
{
    /* the first section's length field set to 2^62 (layout in
     * core/ckpt.h; this host is little-endian like the file) */
    unsigned char *b = malloc(good_len + 16);
    memcpy(b, good, good_len);
    s2s_ckpt ck;
    s2s_err err;
    cr_assert_eq(s2s_ckpt_open_mem(&ck, good, good_len, "m", &err), 0);
    size_t len_at = ck.sections[0].off - 16; /* tag 8, length 8, crc 4, 4 */
    s2s_ckpt_close(&ck);
    uint64_t huge = (uint64_t)1 << 62;
    memcpy(b + len_at, &huge, 8);
    write_bytes(b, good_len);
    expect_reject("section length 2^62");
    memcpy(b, good, good_len);
    memcpy(b + good_len, "garbage!garbage!", 16);
    write_bytes(b, good_len + 16);
    expect_reject("junk appended");
    free(b);
}

Test(ckpt_model, config_that_builds_another_model)
{
    /* a valid container whose config disagrees with its parameters */
    s2s_ckpt ck;
    s2s_err err;
    cr_assert_eq(s2s_ckpt_open_mem(&ck, good, good_len, "m", &err), 0);
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (uint32_t k = 0; k < ck.n_sections; k++) {
        const char *tag = ck.sections[k].tag;
        const void *p = ck.data + ck.sections[k].off;
        size_t n = ck.sections[k].len;
        if (strcmp(tag, "config") == 0) {
            const char *alt = "model:\n  embed: 4\n  hidden: 6\n  decoder:\n    cell: gru\n";
            cr_assert_eq(s2s_ckpt_add(w, tag, alt, strlen(alt), &err), 0);
        } else {
            cr_assert_eq(s2s_ckpt_add(w, tag, p, n, &err), 0);
        }
    }
    cr_assert_eq(s2s_ckpt_commit(w, &err), 0, "%s", err.msg);
    s2s_ckpt_close(&ck);
    expect_reject("config for another size");
}

/* A model with a non-finite parameter or moment is never written: the
 * save fails and the previous file stays as it was. */
Test(ckpt_model, never_saves_a_non_finite_value)
{
    s2s_loaded l;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    float *arrays[3] = {l.model.params.w, l.model.params.m, l.model.params.v};
    for (int a = 0; a < 3; a++) {
        float keep = arrays[a][3];
        arrays[a][3] = a == 1 ? INFINITY : NAN;
        cr_assert_eq(s2s_checkpoint_save(path, &l.cfg, l.src, l.tgt, &l.model, &l.state,
                                         &err), -1, "array %d", a);
        cr_assert(strstr(err.msg, "not written") && strstr(err.msg, " 3 is "), "%s", err.msg);
        arrays[a][3] = keep;
    }
    cr_assert(s2s_checkpoint_nonfinite_state(&l.model) == 0);
    l.model.params.v[0] = NAN;
    cr_assert(s2s_checkpoint_nonfinite_state(&l.model) == 1);
    s2s_loaded_free(&l);
    FILE *f = fopen(path, "rb");
    unsigned char *b = malloc(good_len + 1);
    cr_assert_eq(fread(b, 1, good_len + 1, f), good_len);
    fclose(f);
    cr_assert(memcmp(b, good, good_len) == 0, "the previous file changed");
    free(b);
}

/* Rewrites the file without its "cells" section (as an older s2s wrote
 * it), or with the pinned digest of its first cell flipped. */
static void rewrite_cells(int flip)
{
    s2s_ckpt ck;
    s2s_err e;
    cr_assert_eq(s2s_ckpt_open_mem(&ck, good, good_len, "mem", &e), 0, "%s", e.msg);
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
    cr_assert_not_null(w);
    for (uint32_t i = 0; i < ck.n_sections; i++) {
        const s2s_ckpt_section *s = &ck.sections[i];
        unsigned char *d = malloc(s->len + 1);
        memcpy(d, ck.data + s->off, s->len);
        int is_cells = strcmp(s->tag, "cells") == 0;
        if (is_cells && flip) d[s->len - 1] ^= 1;
        if (!is_cells || flip) cr_assert_eq(s2s_ckpt_add(w, s->tag, d, s->len, &e), 0);
        free(d);
    }
    cr_assert_eq(s2s_ckpt_commit(w, &e), 0, "%s", e.msg);
    s2s_ckpt_close(&ck);
}

Test(ckpt_model, older_checkpoint_without_digests_loads_by_name)
{
    rewrite_cells(0);
    s2s_loaded l;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    cr_assert_eq(l.model.n_cells, 2);
    s2s_loaded_free(&l);
}

Test(ckpt_model, cell_with_another_digest_is_refused)
{
    rewrite_cells(1);
    s2s_loaded l;
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), -1);
    cr_assert(strstr(err.msg, "with sha256 ") && strstr(err.msg, "not found in"), "%s", err.msg);
    cr_assert(strstr(err.msg, "/cells/"), "names where it looked: %s", err.msg);
}
