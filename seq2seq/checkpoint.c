/* seq2seq/checkpoint.c — a model and its training state in a checkpoint
 * file (sections of core/ckpt.h): "meta", "config" (the resolved run file
 * as YAML), "vsrc" and "vtgt" (vocabularies), "spm_src" and "spm_tgt"
 * (the SentencePiece models, only when tokenizer.type is sentencepiece;
 * older files have neither and load as word models), "params", and for
 * resuming "adam_m", "adam_v" and "state". */
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

int s2s_checkpoint_save(const char *path, const s2s_config *cfg,
                        const s2s_vocab *src, const s2s_vocab *tgt,
                        const s2s_model *m, const s2s_train_state *st,
                        s2s_err *err)
{
    return s2s_checkpoint_save_subwords(path, cfg, src, tgt, NULL, NULL, m,
                                        st, err);
}

int s2s_checkpoint_save_subwords(const char *path, const s2s_config *cfg,
                                 const s2s_vocab *src, const s2s_vocab *tgt,
                                 const s2s_subword *sub_src,
                                 const s2s_subword *sub_tgt,
                                 const s2s_model *m,
                                 const s2s_train_state *st, s2s_err *err)
{
    if (!sub_src != !sub_tgt || !sub_src != !s2s_config_subwords(cfg))
        return s2s_fail(err, "%s: tokenizer.type is %s but %s SentencePiece "
                        "models were given", path, cfg->tokenizer.type,
                        sub_src ? "" : "no");
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

    if (sub_src) {
        size_t blen;
        const void *bytes = s2s_subword_bytes(sub_src, &blen);
        if (s2s_ckpt_add(w, "spm_src", bytes, blen, err) < 0) goto fail;
        bytes = s2s_subword_bytes(sub_tgt, &blen);
        if (s2s_ckpt_add(w, "spm_tgt", bytes, blen, err) < 0) goto fail;
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
    /* sizes first, memory after: nothing read from the file is allocated
     * before it agrees with the bytes actually there */
    if (s2s_model_plan(&out->model, &out->cfg, (int)vs, (int)vt, err) < 0) {
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
    s2s_model_free(&l->model);
    memset(l, 0, sizeof *l);
}
