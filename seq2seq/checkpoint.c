/* seq2seq/checkpoint.c — a model and its training state in a checkpoint
 * file (sections of core/ckpt.h): "meta", "config" (the resolved run file
 * as YAML), "vsrc" and "vtgt" (vocabularies), "spm_src" and "spm_tgt"
 * (the SentencePiece models, only when tokenizer.type is sentencepiece;
 * older files have neither and load as word models), "cells" (each cell's
 * name and plugin digest), "params", and for resuming "adam_m", "adam_v"
 * and "state"; "best" (optional) holds the dev figures of the best
 * evaluation. An exported checkpoint keeps "state" and "best" for
 * information, drops the moments and says so in "meta". */
#include "seq2seq/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckpt.h"

#define MODEL_FORMAT 1u

static int add_buf(s2s_ckpt_writer *w, const char *tag, s2s_buf *b,
                   s2s_err *err)
{
    int rc = s2s_ckpt_add(w, tag, b->data, b->len, err);
    s2s_buf_free(b);
    return rc;
}

static int first_nonfinite(const float *x, size_t n, const char *what,
                           const char *path, s2s_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return s2s_fail(err, "%s: not written: %s %zu is %g (the model "
                            "diverged); the previous file is kept", path, what,
                            i, (double)x[i]);
    return 0;
}

int s2s_checkpoint_nonfinite_state(const s2s_model *m)
{
    for (size_t i = 0; i < m->params.n; i++)
        if (!isfinite(m->params.m[i]) || !isfinite(m->params.v[i])) return 1;
    return 0;
}

int s2s_checkpoint_save(const char *path, const s2s_config *cfg,
                        const s2s_vocab *src, const s2s_vocab *tgt,
                        const s2s_model *m, const s2s_train_state *st,
                        s2s_err *err)
{
    return s2s_checkpoint_save_subwords(path, cfg, src, tgt, NULL, NULL, NULL,
                                        m, st, err);
}

int s2s_checkpoint_save_subwords(const char *path, const s2s_config *cfg,
                                 const s2s_vocab *src, const s2s_vocab *tgt,
                                 const s2s_subword *sub_src,
                                 const s2s_subword *sub_tgt,
                                 const s2s_shortlist *lex, const s2s_model *m,
                                 const s2s_train_state *st, s2s_err *err)
{
    if (!sub_src != !sub_tgt || !sub_src != !s2s_config_subwords(cfg))
        return s2s_fail(err, "%s: tokenizer.type is %s but %s SentencePiece "
                        "models were given", path, cfg->tokenizer.type,
                        sub_src ? "" : "no");
    /* a checkpoint never holds a non-finite value: refusing here keeps the
     * last good file in place */
    if (first_nonfinite(m->params.w, m->params.n, "parameter", path, err) < 0 ||
        (st && (first_nonfinite(m->params.m, m->params.n, "Adam first moment",
                                path, err) < 0 ||
                first_nonfinite(m->params.v, m->params.n, "Adam second moment",
                                path, err) < 0)))
        return -1;
    s2s_ckpt_writer *w = s2s_ckpt_create(path, err);
    if (!w) return -1;
    s2s_buf b;

    s2s_buf_init(&b);
    s2s_buf_put_u32(&b, MODEL_FORMAT);
    s2s_buf_put_str(&b, S2S_VERSION);
    s2s_buf_put_u64(&b, m->params.n);
    s2s_buf_put_u32(&b, (uint32_t)m->V_src);
    s2s_buf_put_u32(&b, (uint32_t)m->V_tgt);
    s2s_buf_put_u8(&b, st != NULL);
    if (add_buf(w, "meta", &b, err) < 0) goto fail;

    char *yaml = NULL;
    size_t ylen = 0;
    FILE *mf = open_memstream(&yaml, &ylen);
    if (!mf) s2s_xmalloc((size_t)-1); /* only fails for lack of memory */
    s2s_config_write(cfg, mf);
    fclose(mf);
    int rc = s2s_ckpt_add(w, "config", yaml, ylen, err);
    free(yaml);
    if (rc < 0) goto fail;

    size_t n;
    char *v = s2s_vocab_serialize(src, &n);
    rc = s2s_ckpt_add(w, "vsrc", v, n, err);
    free(v);
    if (rc < 0) goto fail;
    v = s2s_vocab_serialize(tgt, &n);
    rc = s2s_ckpt_add(w, "vtgt", v, n, err);
    free(v);
    if (rc < 0) goto fail;

    /* each cell by name and the digest of the file trained with: loading
     * finds it by name in the trusted search path and checks the digest */
    s2s_buf_init(&b);
    s2s_buf_put_u32(&b, (uint32_t)m->n_cells);
    for (int i = 0; i < m->n_cells; i++) {
        s2s_buf_put_str(&b, m->cells[i].desc->name);
        s2s_buf_put(&b, m->cells[i].sha256, 32);
    }
    if (add_buf(w, "cells", &b, err) < 0) goto fail;
    if (sub_src) {
        size_t blen;
        const void *bytes = s2s_subword_bytes(sub_src, &blen);
        if (s2s_ckpt_add(w, "spm_src", bytes, blen, err) < 0) goto fail;
        bytes = s2s_subword_bytes(sub_tgt, &blen);
        if (s2s_ckpt_add(w, "spm_tgt", bytes, blen, err) < 0) goto fail;
    }
    if (lex) {
        size_t blen;
        void *bytes = s2s_shortlist_bytes(lex, &blen);
        int rc = s2s_ckpt_add(w, "lex", bytes, blen, err);
        free(bytes);
        if (rc < 0) goto fail;
    }

    if (s2s_ckpt_add_f32(w, "params", m->params.w, m->params.n, err) < 0)
        goto fail;
    if (st) {
        if (s2s_ckpt_add_f32(w, "adam_m", m->params.m, m->params.n, err) < 0 ||
            s2s_ckpt_add_f32(w, "adam_v", m->params.v, m->params.n, err) < 0)
            goto fail;
        s2s_buf_init(&b);
        s2s_buf_put_i64(&b, st->step);
        s2s_buf_put_i32(&b, st->epoch);
        s2s_buf_put_u64(&b, st->batch);
        s2s_buf_put_f32(&b, st->lr);
        s2s_buf_put_f64(&b, st->best_dev_loss);
        if (add_buf(w, "state", &b, err) < 0) goto fail;
        if (isfinite(st->best_dev_loss)) {
            s2s_buf_init(&b);
            s2s_buf_put_f64(&b, st->best_dev_bleu);
            s2s_buf_put_f64(&b, st->best_dev_chrf);
            s2s_buf_put_i64(&b, st->best_step);
            s2s_buf_put_i32(&b, st->best_epoch);
            if (add_buf(w, "best", &b, err) < 0) goto fail;
        }
    }
    return s2s_ckpt_commit(w, err);
fail:
    s2s_ckpt_abort(w);
    return -1;
}

static s2s_vocab *load_vocab(const s2s_ckpt *ck, const char *tag,
                             s2s_err *err)
{
    size_t n;
    const void *p = s2s_ckpt_require(ck, tag, &n, err);
    if (!p) return NULL;
    char name[S2S_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s: section '%s'", ck->name, tag);
    return s2s_vocab_parse(p, n, name, err);
}

/* The optional "best" section into st (NAN and 0 when absent). */
static int read_best(const s2s_ckpt *ck, s2s_train_state *st, s2s_err *err)
{
    st->best_dev_bleu = st->best_dev_chrf = NAN;
    st->best_step = 0;
    st->best_epoch = 0;
    if (!s2s_ckpt_get(ck, "best", NULL)) return 0;
    s2s_cur c;
    int64_t step;
    int32_t epoch;
    if (s2s_ckpt_cursor(ck, "best", &c, err) < 0 ||
        s2s_cur_f64(&c, &st->best_dev_bleu, err) < 0 ||
        s2s_cur_f64(&c, &st->best_dev_chrf, err) < 0 ||
        s2s_cur_i64(&c, &step, err) < 0 || s2s_cur_i32(&c, &epoch, err) < 0 ||
        s2s_cur_end(&c, err) < 0)
        return -1;
    st->best_step = (long)step;
    st->best_epoch = epoch;
    return 1;
}

/* meta: format, version, parameter count, vocabulary sizes, has_state. */
typedef struct meta {
    uint32_t format, vs, vt;
    uint64_t n;
    uint8_t has_state;
    char version[64];
} meta;

static int read_meta(const s2s_ckpt *ck, meta *m, s2s_err *err)
{
    s2s_cur c;
    if (s2s_ckpt_cursor(ck, "meta", &c, err) < 0 ||
        s2s_cur_u32(&c, &m->format, err) < 0)
        return -1;
    if (m->format != MODEL_FORMAT)
        return s2s_fail(err, "%s: model format %u, this s2s reads %u", ck->name,
                        m->format, MODEL_FORMAT);
    if (s2s_cur_str(&c, m->version, sizeof m->version, err) < 0 ||
        s2s_cur_u64(&c, &m->n, err) < 0 || s2s_cur_u32(&c, &m->vs, err) < 0 ||
        s2s_cur_u32(&c, &m->vt, err) < 0 || s2s_cur_u8(&c, &m->has_state, err) < 0 ||
        s2s_cur_end(&c, err) < 0)
        return -1;
    return 0;
}

static int read_pins(const s2s_ckpt *ck, const s2s_config *cfg,
                     s2s_cell_pins *pins, s2s_err *err);

int s2s_checkpoint_cells(const s2s_ckpt *ck, const s2s_config *cfg,
                         s2s_ckpt_cell *out, int max)
{
    /* names from the config, digests from the "cells" section when the
     * checkpoint has one */
    s2s_cell_pins pins;
    memset(&pins, 0, sizeof pins);
    if (read_pins(ck, cfg, &pins, NULL) < 0) pins.has_hashes = 0;
    const s2s_side_config *sides[2] = {&cfg->model.encoder, &cfg->model.decoder};
    const char *names[2] = {"encoder", "decoder"};
    int n = 0;
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < sides[s]->layers && l < S2S_MAX_LAYERS && n < max; l++, n++) {
            out[n].side = names[s];
            out[n].layer = l + 1;
            snprintf(out[n].name, sizeof out[n].name, "%s", sides[s]->cell[l]);
            out[n].sha256[0] = 0;
            char key[256];
            s2s_cell_key(sides[s]->cell[l], key, sizeof key);
            for (int i = 0; pins.has_hashes && i < pins.n; i++)
                if (strcmp(pins.pin[i].name, key) == 0)
                    for (int k = 0; k < 32; k++)
                        sprintf(out[n].sha256 + 2 * k, "%02x", pins.pin[i].sha256[k]);
        }
    return n;
}

int s2s_checkpoint_info(const char *path, s2s_ckpt_info *info, s2s_err *err)
{
    memset(info, 0, sizeof *info);
    s2s_ckpt ck;
    if (s2s_ckpt_open(&ck, path, err) < 0) return -1;
    meta m;
    if (read_meta(&ck, &m, err) < 0) goto fail;
    info->file_bytes = ck.size;
    info->format = m.format;
    memcpy(info->version, m.version, sizeof info->version);
    info->params = m.n;
    info->vocab_src = m.vs;
    info->vocab_tgt = m.vt;
    info->resumable = m.has_state;
    info->has_shortlist = s2s_ckpt_get(&ck, "lex", NULL) != NULL;
    size_t ylen;
    const char *yaml = s2s_ckpt_require(&ck, "config", &ylen, err);
    if (!yaml) goto fail;
    char name[S2S_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s: section 'config'", path);
    if (s2s_config_load_string(&info->cfg, yaml, ylen, name, err) < 0) goto fail;
    info->state.best_dev_loss = INFINITY;
    if (s2s_ckpt_get(&ck, "state", NULL)) {
        s2s_cur c;
        int64_t step;
        int32_t epoch;
        if (s2s_ckpt_cursor(&ck, "state", &c, err) < 0 ||
            s2s_cur_i64(&c, &step, err) < 0 || s2s_cur_i32(&c, &epoch, err) < 0 ||
            s2s_cur_u64(&c, &info->state.batch, err) < 0 ||
            s2s_cur_f32(&c, &info->state.lr, err) < 0 ||
            s2s_cur_f64(&c, &info->state.best_dev_loss, err) < 0 ||
            s2s_cur_end(&c, err) < 0)
            goto fail;
        info->state.step = (long)step;
        info->state.epoch = epoch;
        info->has_position = 1;
    }
    int rb = read_best(&ck, &info->state, err);
    if (rb < 0) goto fail;
    info->has_best = rb > 0 && isfinite(info->state.best_dev_loss);
    info->n_cells = s2s_checkpoint_cells(&ck, &info->cfg, info->cells,
                                         2 * S2S_MAX_LAYERS);
    s2s_ckpt_close(&ck);
    return 0;
fail:
    s2s_ckpt_close(&ck);
    return -1;
}

int s2s_checkpoint_export(const char *in, const char *out, uint64_t *in_bytes,
                          uint64_t *out_bytes, s2s_err *err)
{
    s2s_ckpt ck;
    if (s2s_ckpt_open(&ck, in, err) < 0) return -1;
    meta m;
    if (read_meta(&ck, &m, err) < 0) {
        s2s_ckpt_close(&ck);
        return -1;
    }
    s2s_ckpt_writer *w = s2s_ckpt_create(out, err);
    if (!w) {
        s2s_ckpt_close(&ck);
        return -1;
    }
    uint64_t total = 24 + 16; /* header and trailer */
    for (uint32_t i = 0; i < ck.n_sections; i++) {
        const s2s_ckpt_section *sec = &ck.sections[i];
        if (strcmp(sec->tag, "adam_m") == 0 || strcmp(sec->tag, "adam_v") == 0)
            continue;
        int rc;
        if (strcmp(sec->tag, "meta") == 0) {
            s2s_buf b;
            s2s_buf_init(&b);
            s2s_buf_put_u32(&b, m.format);
            s2s_buf_put_str(&b, m.version);
            s2s_buf_put_u64(&b, m.n);
            s2s_buf_put_u32(&b, m.vs);
            s2s_buf_put_u32(&b, m.vt);
            s2s_buf_put_u8(&b, 0); /* translation only */
            total += 24 + ((b.len + 7) & ~(size_t)7);
            rc = add_buf(w, "meta", &b, err);
        } else {
            total += 24 + ((sec->len + 7) & ~(size_t)7);
            rc = s2s_ckpt_add(w, sec->tag, ck.data + sec->off, sec->len, err);
        }
        if (rc < 0) {
            s2s_ckpt_abort(w);
            s2s_ckpt_close(&ck);
            return -1;
        }
    }
    if (in_bytes) *in_bytes = ck.size;
    if (out_bytes) *out_bytes = total;
    s2s_ckpt_close(&ck);
    return s2s_ckpt_commit(w, err);
}

/* The cells section, or for an older checkpoint without it the config's
 * names (a path stands for its base name, said on stderr). */
static int read_pins(const s2s_ckpt *ck, const s2s_config *cfg,
                     s2s_cell_pins *pins, s2s_err *err)
{
    size_t len;
    if (!s2s_ckpt_get(ck, "cells", &len)) {
        pins->has_hashes = 0;
        const s2s_side_config *sides[2] = {&cfg->model.encoder, &cfg->model.decoder};
        for (int s = 0; s < 2; s++)
            for (int l = 0; l < sides[s]->layers; l++) {
                const char *c = sides[s]->cell[l];
                char key[256];
                s2s_cell_key(c, key, sizeof key);
                if (strcmp(key, c) != 0)
                    fprintf(stderr, "%s: an older checkpoint without plugin "
                            "digests: cell '%s' is looked up by its name '%s' "
                            "in the cell search path\n", ck->name, c, key);
            }
        return 0;
    }
    s2s_cur c;
    uint32_t n;
    if (s2s_ckpt_cursor(ck, "cells", &c, err) < 0 || s2s_cur_u32(&c, &n, err) < 0)
        return -1;
    if (n > 2 * S2S_MAX_LAYERS)
        return s2s_fail(err, "%s: section 'cells': %u cells, at most %d", ck->name,
                        n, 2 * S2S_MAX_LAYERS);
    pins->n = (int)n;
    pins->has_hashes = 1;
    for (uint32_t i = 0; i < n; i++) {
        const void *h;
        if (s2s_cur_str(&c, pins->pin[i].name, sizeof pins->pin[i].name, err) < 0 ||
            s2s_cur_bytes(&c, &h, 32, err) < 0)
            return -1;
        memcpy(pins->pin[i].sha256, h, 32);
    }
    return s2s_cur_end(&c, err);
}

/* The SentencePiece model of section `tag`, which must give the
 * vocabulary stored beside it. */
static s2s_subword *load_subword(const s2s_ckpt *ck, const char *tag,
                                 const s2s_config *cfg, const s2s_vocab *v,
                                 s2s_err *err)
{
    size_t n;
    const void *p = s2s_ckpt_require(ck, tag, &n, err);
    if (!p) return NULL;
    char name[S2S_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s: section '%s'", ck->name, tag);
    s2s_tok_opts norm = S2S_TOK_OPTS_DEFAULT;
    norm.nfkc = cfg->tokenizer.nfkc;
    norm.lowercase = cfg->tokenizer.lowercase;
    s2s_subword *sw = s2s_subword_open(p, n, name, &norm, err);
    if (sw && !s2s_vocab_equal(s2s_subword_vocab(sw), v)) {
        s2s_fail(err, "%s: its pieces differ from the vocabulary stored "
                 "beside it", name);
        s2s_subword_free(sw);
        return NULL;
    }
    return sw;
}

int s2s_checkpoint_load(const char *path, s2s_loaded *out, s2s_err *err)
{
    return s2s_checkpoint_load_trusting(path, NULL, out, err);
}

int s2s_checkpoint_load_trusting(const char *path, const char *const *files,
                                 s2s_loaded *out, s2s_err *err)
{
    memset(out, 0, sizeof *out);
    s2s_ckpt ck;
    if (s2s_ckpt_open(&ck, path, err) < 0) return -1;

    s2s_cur c;
    uint32_t format, vs, vt;
    uint64_t n;
    uint8_t has_state;
    char version[64];
    if (s2s_ckpt_cursor(&ck, "meta", &c, err) < 0 ||
        s2s_cur_u32(&c, &format, err) < 0)
        goto fail;
    if (format != MODEL_FORMAT) {
        s2s_fail(err, "%s: model format %u, this s2s reads %u", path, format,
                 MODEL_FORMAT);
        goto fail;
    }
    if (s2s_cur_str(&c, version, sizeof version, err) < 0 ||
        s2s_cur_u64(&c, &n, err) < 0 || s2s_cur_u32(&c, &vs, err) < 0 ||
        s2s_cur_u32(&c, &vt, err) < 0 || s2s_cur_u8(&c, &has_state, err) < 0 ||
        s2s_cur_end(&c, err) < 0)
        goto fail;

    size_t ylen;
    const char *yaml = s2s_ckpt_require(&ck, "config", &ylen, err);
    if (!yaml) goto fail;
    char name[S2S_PATH_MAX + 32];
    snprintf(name, sizeof name, "%s: section 'config'", path);
    if (s2s_config_load_string(&out->cfg, yaml, ylen, name, err) < 0) goto fail;

    out->src = load_vocab(&ck, "vsrc", err);
    if (!out->src) goto fail;
    out->tgt = load_vocab(&ck, "vtgt", err);
    if (!out->tgt) goto fail;
    if (s2s_vocab_size(out->src) != vs || s2s_vocab_size(out->tgt) != vt) {
        s2s_fail(err, "%s: vocabulary sizes %u/%u disagree with the header's %u/%u",
                 path, s2s_vocab_size(out->src), s2s_vocab_size(out->tgt), vs, vt);
        goto fail;
    }
    if (s2s_config_subwords(&out->cfg)) {
        out->sub_src = load_subword(&ck, "spm_src", &out->cfg, out->src, err);
        if (!out->sub_src) goto fail;
        out->sub_tgt = load_subword(&ck, "spm_tgt", &out->cfg, out->tgt, err);
        if (!out->sub_tgt) goto fail;
    }
    size_t lex_len;
    const void *lex = s2s_ckpt_get(&ck, "lex", &lex_len);
    if (lex) { /* optional: checkpoints from before it have none */
        char name[S2S_PATH_MAX + 32];
        snprintf(name, sizeof name, "%s: section 'lex'", path);
        out->lex = s2s_shortlist_parse(lex, lex_len, (int)vs, (int)vt, name, err);
        if (!out->lex) goto fail;
    }
    /* sizes first, memory after: nothing read from the file is allocated
     * before it agrees with the bytes actually there */
    s2s_cell_pins pins;
    memset(&pins, 0, sizeof pins);
    pins.files = files;
    if (read_pins(&ck, &out->cfg, &pins, err) < 0) goto fail;
    if (s2s_model_plan_pinned(&out->model, &out->cfg, (int)vs, (int)vt, &pins,
                              err) < 0) {
        s2s_fail_prefix(err, "%s", path);
        goto fail;
    }
    size_t plen;
    if (!s2s_ckpt_require(&ck, "params", &plen, err)) goto fail;
    if (out->model.params.n != n || plen / sizeof(float) != n) {
        s2s_fail(err, "%s: holds %zu parameters (header: %llu) but its config "
                 "builds a model of %zu (was a cell plugin changed?)", path,
                 plen / sizeof(float), (unsigned long long)n, out->model.params.n);
        goto fail;
    }
    s2s_params_alloc(&out->model.params);
    if (s2s_ckpt_get_f32(&ck, "params", out->model.params.w, n, err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out->model.params.w[i])) {
            s2s_fail(err, "%s: parameter %zu is not finite", path, i);
            goto fail;
        }
    if (has_state) {
        int64_t step;
        int32_t epoch;
        if (s2s_ckpt_get_f32(&ck, "adam_m", out->model.params.m, n, err) < 0 ||
            s2s_ckpt_get_f32(&ck, "adam_v", out->model.params.v, n, err) < 0 ||
            s2s_ckpt_cursor(&ck, "state", &c, err) < 0 ||
            s2s_cur_i64(&c, &step, err) < 0 || s2s_cur_i32(&c, &epoch, err) < 0 ||
            s2s_cur_u64(&c, &out->state.batch, err) < 0 ||
            s2s_cur_f32(&c, &out->state.lr, err) < 0 ||
            s2s_cur_f64(&c, &out->state.best_dev_loss, err) < 0 ||
            s2s_cur_end(&c, err) < 0)
            goto fail;
        if (step < 0 || epoch < 0) {
            s2s_fail(err, "%s: section 'state': negative step or epoch", path);
            goto fail;
        }
        out->state.step = (long)step;
        out->state.epoch = epoch;
        out->has_state = 1;
        if (read_best(&ck, &out->state, err) < 0) goto fail;
    }
    s2s_ckpt_close(&ck);
    return 0;
fail:
    s2s_ckpt_close(&ck);
    s2s_loaded_free(out);
    return -1;
}

void s2s_loaded_free(s2s_loaded *l)
{
    s2s_vocab_free(l->src);
    s2s_vocab_free(l->tgt);
    s2s_subword_free(l->sub_src);
    s2s_subword_free(l->sub_tgt);
    s2s_shortlist_free(l->lex);
    s2s_model_free(&l->model);
    memset(l, 0, sizeof *l);
}
