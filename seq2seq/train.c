/* seq2seq/train.c — the training loop (see train.h). */
#include "seq2seq/train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/kernels.h"
#include "core/optim.h"
#include "core/progress.h"
#include "seq2seq/decode.h"
#include "seq2seq/metrics.h"
#include "seq2seq/plot.h"

void s2s_config_data_spec(const s2s_config *c, s2s_data_spec *s)
{
    s2s_data_spec_defaults(s);
    s->train = c->data.train;
    s->train_target = c->data.train_target[0] ? c->data.train_target : NULL;
    s->dev = c->data.dev[0] ? c->data.dev : NULL;
    s->dev_target = c->data.dev_target[0] ? c->data.dev_target : NULL;
    s->test = c->data.test[0] ? c->data.test : NULL;
    s->test_target = c->data.test_target[0] ? c->data.test_target : NULL;
    s->src_column = c->data.src_column;
    s->tgt_column = c->data.tgt_column;
    s->split_every = c->data.split_every;
    s->min_len = c->data.min_len;
    s->max_len = c->data.max_len;
    s->min_count = (uint64_t)c->data.min_count;
    s->max_vocab = (size_t)c->data.max_vocab;
    s->skip_invalid_utf8 = c->data.skip_invalid_utf8;
    s->tok.nfkc = c->tokenizer.nfkc;
    s->tok.lowercase = c->tokenizer.lowercase;
    s->tok.split_punct = c->tokenizer.split_punct;
    s->keep_text = s2s_config_subwords(c);
}

/* ------------------------------------------------------------------------
 * SentencePiece models */

static s2s_tok_opts subword_norm(const s2s_config *c)
{
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    o.nfkc = c->tokenizer.nfkc;
    o.lowercase = c->tokenizer.lowercase;
    o.split_punct = 0;
    return o;
}

/* Trains one model on the texts of the train split: the source side,
 * the target side, or both (joint). */
static s2s_subword *train_subword(const s2s_config *cfg, const s2s_split *sp,
                                  int src, int tgt, s2s_err *err)
{
    const char **s = s2s_xmalloc((2 * sp->n + 1) * sizeof *s);
    size_t n = 0;
    for (size_t k = 0; k < sp->n; k++) {
        if (src) s[n++] = sp->src_text[k];
        if (tgt) s[n++] = sp->tgt_text[k];
    }
    s2s_subword_train_opts o = {
        .vocab_size = cfg->tokenizer.sentencepiece.train.vocab_size,
        .unigram = strcmp(cfg->tokenizer.sentencepiece.train.model_type,
                          "unigram") == 0,
        .character_coverage =
            cfg->tokenizer.sentencepiece.train.character_coverage,
        .byte_fallback = cfg->tokenizer.sentencepiece.train.byte_fallback,
    };
    s2s_tok_opts norm = subword_norm(cfg);
    size_t len;
    void *bytes = s2s_subword_train(s, n, &o, &norm, &len, err);
    free(s);
    if (!bytes) {
        s2s_fail_prefix(err, "tokenizer.sentencepiece.train (on %s)",
                        cfg->data.train);
        return NULL;
    }
    s2s_subword *sw = s2s_subword_open(bytes, len, "trained model", &norm, err);
    free(bytes);
    return sw;
}

int s2s_trainer_subword_models(const s2s_config *cfg, const s2s_dataset *d,
                               s2s_subword **src, s2s_subword **tgt,
                               s2s_err *err)
{
    const char *model = cfg->tokenizer.sentencepiece.model,
               *src_model = cfg->tokenizer.sentencepiece.src_model,
               *tgt_model = cfg->tokenizer.sentencepiece.tgt_model;
    s2s_tok_opts norm = subword_norm(cfg);
    *src = *tgt = NULL;
    if (model[0] || src_model[0]) {
        *src = s2s_subword_load(model[0] ? model : src_model, &norm, err);
        if (*src)
            *tgt = s2s_subword_load(model[0] ? model : tgt_model, &norm, err);
    } else {
        const s2s_split *sp = &d->split[S2S_TRAIN];
        int joint = cfg->tokenizer.sentencepiece.train.joint;
        *src = train_subword(cfg, sp, 1, joint, err);
        if (*src && joint) {
            size_t blen;
            const void *bytes = s2s_subword_bytes(*src, &blen);
            *tgt = s2s_subword_open(bytes, blen, "trained model", &norm, err);
        } else if (*src) {
            *tgt = train_subword(cfg, sp, 0, 1, err);
        }
    }
    if (!*src || !*tgt) {
        s2s_subword_free(*src);
        s2s_subword_free(*tgt);
        *src = *tgt = NULL;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Set-up */

/* A resumed run must train the same model on the same data; the training
 * keys (epochs, lr schedule, ...) may change. */
static void canonical(const s2s_config *c, s2s_config *out)
{
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    if (!f) s2s_xmalloc((size_t)-1); /* fails only for lack of memory */
    s2s_config_write(c, f);
    fclose(f);
    s2s_err err;
    if (s2s_config_load_string(out, yaml, len, "config", &err) < 0)
        *out = *c; /* cannot happen: write emits what load reads */
    free(yaml);
}

static int same_model_and_data(const s2s_config *a0, const s2s_config *b0)
{
    /* compare what the run files say, not unused bytes (e.g. cells of
     * layers beyond model.layers) */
    s2s_config ca, cb, *a = &ca, *b = &cb;
    canonical(a0, a);
    canonical(b0, b);
    return memcmp(&a->data, &b->data, sizeof a->data) == 0 &&
           memcmp(&a->tokenizer, &b->tokenizer, sizeof a->tokenizer) == 0 &&
           memcmp(&a->model, &b->model, sizeof a->model) == 0 &&
           a->train.seed == b->train.seed && a->train.batch == b->train.batch;
}

static int trainer_threads(s2s_trainer *tr, s2s_err *err);

int s2s_trainer_init(s2s_trainer *tr, const s2s_config *cfg,
                     const char *resume_path, s2s_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    s2s_loaded ck;
    memset(&ck, 0, sizeof ck);
    int resuming = resume_path != NULL;
    if (resuming) {
        if (s2s_checkpoint_load(resume_path, &ck, err) < 0) return -1;
        if (!ck.has_state) {
            s2s_loaded_free(&ck);
            return s2s_fail(err, "%s: no training state in this checkpoint "
                            "(it was saved for translation only)", resume_path);
        }
        if (!same_model_and_data(&ck.cfg, cfg)) {
            s2s_loaded_free(&ck);
            return s2s_fail(err, "%s: the run file's data, tokenizer, model, "
                            "train.seed or train.batch differ from the "
                            "checkpoint's; resume with the same run file "
                            "(`s2s config` prints both)", resume_path);
        }
    }

    s2s_data_spec spec;
    s2s_config_data_spec(cfg, &spec);
    int sub = s2s_config_subwords(cfg);
    if (s2s_dataset_load(&spec, resuming && !sub ? ck.src : NULL,
                         resuming && !sub ? ck.tgt : NULL, &tr->data, err) < 0) {
        s2s_dataset_free(&tr->data);
        if (resuming) s2s_loaded_free(&ck);
        return -1;
    }
    tr->loaded = 1;
    if (sub) {
        /* a resumed run keeps the models it started with */
        int rc = 0;
        if (resuming) {
            tr->sub_src = ck.sub_src;
            tr->sub_tgt = ck.sub_tgt;
            ck.sub_src = ck.sub_tgt = NULL;
        } else {
            rc = s2s_trainer_subword_models(cfg, &tr->data, &tr->sub_src,
                                            &tr->sub_tgt, err);
        }
        if (rc == 0)
            rc = s2s_dataset_use_subwords(&tr->data, tr->sub_src, tr->sub_tgt, err);
        if (rc < 0) {
            if (resuming) s2s_loaded_free(&ck);
            s2s_trainer_free(tr);
            return -1;
        }
    }
    if (tr->data.split[S2S_TRAIN].n == 0) {
        if (resuming) s2s_loaded_free(&ck);
        s2s_trainer_free(tr);
        return s2s_fail(err, "%s: no training pairs", cfg->data.train);
    }

    if (resuming) {
        tr->model = ck.model; /* takes over the loaded model */
        memset(&ck.model, 0, sizeof ck.model);
        tr->st = ck.state;
        s2s_loaded_free(&ck);
    } else {
        if (s2s_model_build(&tr->model, cfg,
                            (int)s2s_vocab_size(tr->data.src_vocab),
                            (int)s2s_vocab_size(tr->data.tgt_vocab), err) < 0) {
            s2s_trainer_free(tr);
            return -1;
        }
        s2s_rng rng;
        s2s_rng_seed(&rng, cfg->train.seed);
        s2s_model_init_params(&tr->model, cfg->model.init_range, &rng);
        tr->st.lr = cfg->train.lr;
        tr->st.best_dev_loss = INFINITY;
    }
    tr->loaded = 2;
    return trainer_threads(tr, err);
}

/* Per-thread workspaces and gradient buffers, and the training batcher. */
static int trainer_threads(s2s_trainer *tr, s2s_err *err)
{
    const s2s_config *cfg = &tr->cfg;
    tr->threads = cfg->train.threads > 0 ? cfg->train.threads : omp_get_num_procs();
    omp_set_dynamic(0); /* the shares, not the team, fix the results */
    tr->nll = s2s_xcalloc((size_t)tr->threads, sizeof *tr->nll);
    tr->start = s2s_xcalloc((size_t)tr->threads + 1, sizeof *tr->start);
    tr->work = s2s_xcalloc((size_t)tr->threads, sizeof *tr->work);
    tr->grad = s2s_xcalloc((size_t)tr->threads, sizeof *tr->grad);
    for (int t = 0; t < tr->threads; t++) {
        tr->work[t] = s2s_work_new(&tr->model);
        /* thread 0 works in params.g; the others keep only the dense
         * part (embedding rows are applied from their workspaces) */
        size_t nd = tr->model.params.n - tr->model.off_dense;
        tr->grad[t] = t ? s2s_xcalloc(nd ? nd : 1, sizeof(float))
                        : tr->model.params.g;
    }
    if (s2s_batcher_init(&tr->batcher, &tr->data.split[S2S_TRAIN],
                         cfg->train.batch, 1, cfg->train.seed, err) < 0) {
        s2s_trainer_free(tr);
        return -1;
    }
    tr->batcher.group = cfg->train.length_grouping;
    s2s_batch_init(&tr->batch);
    tr->loaded = 3;
    return 0;
}

int s2s_trainer_open_checkpoint(s2s_trainer *tr, const char *path,
                                int threads, const char *test_file,
                                const char *test_target, s2s_err *err)
{
    memset(tr, 0, sizeof *tr);
    s2s_loaded ck;
    if (s2s_checkpoint_load(path, &ck, err) < 0) return -1;
    tr->cfg = ck.cfg;
    if (threads > 0) tr->cfg.train.threads = threads;
    if (test_file) {
        s2s_config *c = &tr->cfg;
        snprintf(c->data.train, sizeof c->data.train, "%s", test_file);
        snprintf(c->data.train_target, sizeof c->data.train_target, "%s",
                 test_target ? test_target : "");
        c->data.dev[0] = c->data.dev_target[0] = 0;
        c->data.test[0] = c->data.test_target[0] = 0;
        c->data.split_every = 0;
        c->data.min_len = 1;
        c->data.max_len = 0; /* every sentence of a test set counts */
    }
    s2s_data_spec spec;
    s2s_config_data_spec(&tr->cfg, &spec);
    int sub = ck.sub_src != NULL;
    int rc = s2s_dataset_load(&spec, sub ? NULL : ck.src, sub ? NULL : ck.tgt,
                              &tr->data, err);
    tr->loaded = 1;
    if (sub) {
        tr->sub_src = ck.sub_src;
        tr->sub_tgt = ck.sub_tgt;
        ck.sub_src = ck.sub_tgt = NULL;
        if (rc == 0)
            rc = s2s_dataset_use_subwords(&tr->data, tr->sub_src, tr->sub_tgt, err);
    }
    tr->model = ck.model;
    memset(&ck.model, 0, sizeof ck.model);
    tr->st = ck.state;
    s2s_loaded_free(&ck);
    tr->loaded = 2;
    if (rc < 0) {
        s2s_trainer_free(tr);
        return -1;
    }
    return trainer_threads(tr, err);
}

void s2s_trainer_free(s2s_trainer *tr)
{
    if (tr->loaded >= 3) {
        s2s_batcher_free(&tr->batcher);
        s2s_batch_free(&tr->batch);
    }
    if (tr->work)
        for (int t = 0; t < tr->threads; t++) {
            s2s_work_free(tr->work[t]);
            if (t) free(tr->grad[t]);
        }
    free(tr->work);
    free(tr->grad);
    free(tr->nll);
    free(tr->start);
    if (tr->loaded >= 2) s2s_model_free(&tr->model);
    if (tr->loaded >= 1) s2s_dataset_free(&tr->data);
    s2s_subword_free(tr->sub_src);
    s2s_subword_free(tr->sub_tgt);
    memset(tr, 0, sizeof *tr);
}

/* ------------------------------------------------------------------------
 * One step */

/* Rows r0..r1 of b as the step function sees them. */
static s2s_seqs share_of(const s2s_batch *b, int r0, int r1)
{
    s2s_seqs s = {
        .B = r1 - r0,
        .src = b->src + (size_t)r0 * b->T,
        .ld_src = b->T,
        .src_len = b->src_len + r0,
        .tgt_in = b->tgt_in + (size_t)r0 * b->U,
        .tgt_out = b->tgt_out + (size_t)r0 * b->U,
        .ld_tgt = b->U,
        .tgt_len = b->tgt_len + r0,
    };
    return s;
}

/* The teacher-forcing draws of step k on thread t, independent of
 * everything that came before (so resuming needs no RNG state). */
static void step_rng(s2s_rng *r, uint64_t seed, long step, int t)
{
    s2s_rng_seed(r, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(step + 1)) ^
                        ((uint64_t)t << 48));
}

/* Row where thread t's share of b starts: shares of about equal cost,
 * counting a source token at the encoder's cost and a target token at the
 * decoder's and the projection's. Depends on the batch alone. */
static void split_rows(const s2s_model *m, const s2s_batch *b, int nt,
                       int *start)
{
    double enc = s2s_model_flops_per_token(m, 1.0) -
                 s2s_model_flops_per_token(m, 0.0);
    double dec = s2s_model_flops_per_token(m, 0.0);
    double total = 0;
    for (int r = 0; r < b->B; r++) total += enc * b->src_len[r] + dec * b->tgt_len[r];
    double cum = 0;
    int r = 0;
    start[0] = 0;
    for (int t = 1; t < nt; t++) {
        double goal = total * t / nt;
        while (r < b->B) {
            double c = enc * b->src_len[r] + dec * b->tgt_len[r];
            if (cum + c / 2 > goal) break;
            cum += c;
            r++;
        }
        start[t] = r;
    }
    start[nt] = b->B;
}

double s2s_trainer_step(s2s_trainer *tr, const s2s_batch *b)
{
    const s2s_config *c = &tr->cfg;
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    int nt = tr->threads, *start = tr->start;
    double *nll = tr->nll;
    float scale = 1.0f / (float)b->ntokens;
    size_t nd = p->n - m->off_dense;
    float *g0 = p->g + m->off_dense;
    split_rows(m, b, nt, start);
    int blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);

    /* Shares are fixed by the thread count asked for; should OpenMP give
     * fewer threads, each takes several shares, with the same results. */
#pragma omp parallel num_threads(nt)
    {
        int team = omp_get_num_threads();
        for (int t = omp_get_thread_num(); t < nt; t += team) {
            s2s_seqs s = share_of(b, start[t], start[t + 1]);
            s2s_rng rng;
            step_rng(&rng, c->train.seed, tr->st.step, t);
            nll[t] = s2s_step_train_dense(m, tr->work[t], &s,
                                          t ? tr->grad[t] : g0, scale,
                                          c->train.teacher_forcing, &rng);
        }
#pragma omp barrier
        for (int t = omp_get_thread_num(); t < nt; t += team) {
            /* dense part: g0 += g1 + ... in share order over a fixed slice
             * each, clearing the other buffers for the next step */
            size_t i0 = nd * (size_t)t / (size_t)nt, i1 = nd * (size_t)(t + 1) / (size_t)nt;
            for (int u = 1; u < nt; u++) {
                float *gu = tr->grad[u];
                for (size_t i = i0; i < i1; i++) {
                    g0[i] += gu[i];
                    gu[i] = 0;
                }
            }
            /* embedding rows: each slice owns a range of rows and adds
             * every share's rows in it, in share order */
            uint32_t vs = (uint32_t)m->V_src, vt = (uint32_t)m->V_tgt;
            for (int u = 0; u < nt; u++)
                s2s_step_embed_grad(m, tr->work[u], p->g,
                                    (uint32_t)((uint64_t)vs * t / nt),
                                    (uint32_t)((uint64_t)vs * (t + 1) / nt),
                                    (uint32_t)((uint64_t)vt * t / nt),
                                    (uint32_t)((uint64_t)vt * (t + 1) / nt));
        }
    }
    s2s_blas_set_threads(blas);

    if (c->train.clip > 0) s2s_clip_grad_norm(p->g, p->n, c->train.clip);
    tr->st.step++;
    if (strcmp(c->train.optimizer, "sgd") == 0) {
        s2s_sgd_step(p, tr->st.lr);
    } else {
        s2s_adam_cfg a = {tr->st.lr, c->train.beta1, c->train.beta2, c->train.eps};
        s2s_adam_step(p, &a, tr->st.step);
    }
    /* the gradient starts at zero for the next step: the dense part and
     * the embedding rows this step touched */
    memset(g0, 0, nd * sizeof(float));
    for (int t = 0; t < nt; t++) s2s_step_embed_clear(m, tr->work[t], p->g);

    double sum = 0;
    for (int t = 0; t < nt; t++) sum += nll[t];
    return sum / (double)b->ntokens;
}

/* ------------------------------------------------------------------------
 * Evaluation */

double s2s_trainer_loss(s2s_trainer *tr, int split)
{
    const s2s_split *sp = &tr->data.split[split];
    if (sp->n == 0) return NAN;
    s2s_batcher bt;
    s2s_batch b;
    if (s2s_batcher_init(&bt, sp, tr->cfg.train.batch, 0, 0, NULL) < 0) return NAN;
    s2s_batch_init(&b);
    double nll = 0;
    size_t ntok = 0;
    int nt = tr->threads;
    int blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    for (size_t k = 0; k < s2s_batcher_count(&bt); k++) {
        s2s_batcher_get(&bt, 0, k, &b);
        split_rows(&tr->model, &b, nt, tr->start);
#pragma omp parallel num_threads(nt)
        {
            int team = omp_get_num_threads();
            for (int t = omp_get_thread_num(); t < nt; t += team) {
                s2s_seqs s = share_of(&b, tr->start[t], tr->start[t + 1]);
                tr->nll[t] = s2s_step_loss(&tr->model, tr->work[t], &s);
            }
        }
        for (int t = 0; t < nt; t++) nll += tr->nll[t];
        ntok += b.ntokens;
    }
    s2s_blas_set_threads(blas);
    s2s_batch_free(&b);
    s2s_batcher_free(&bt);
    return nll / (double)ntok;
}

int s2s_trainer_score(s2s_trainer *tr, int split, s2s_scores *out,
                      s2s_err *err)
{
    const s2s_split *sp = &tr->data.split[split];
    memset(out, 0, sizeof *out);
    s2s_bleu_stats bleu;
    s2s_chrf_stats chrf;
    s2s_bleu_init(&bleu);
    s2s_chrf_init(&chrf);
    int Bmax = tr->cfg.decode.batch, maxT = 1;
    for (size_t k = 0; k < sp->n; k++)
        if ((int)sp->src_len[k] > maxT) maxT = (int)sp->src_len[k];
    int ld_out = tr->cfg.decode.max_len;
    uint32_t *src = s2s_xcalloc((size_t)Bmax * maxT, sizeof *src);
    uint32_t *hyp = s2s_xcalloc((size_t)Bmax * ld_out + 1, sizeof *hyp);
    int *len = s2s_xcalloc((size_t)Bmax, sizeof *len);
    int *cap = s2s_xcalloc((size_t)Bmax, sizeof *cap);
    int *hlen = s2s_xcalloc((size_t)Bmax, sizeof *hlen);
    const char **htok = s2s_xcalloc((size_t)ld_out + 1, sizeof *htok);
    s2s_tokens words;
    s2s_tokens_init(&words);
    for (size_t k0 = 0; k0 < sp->n; k0 += (size_t)Bmax) {
        int B = (int)(sp->n - k0 < (size_t)Bmax ? sp->n - k0 : (size_t)Bmax);
        for (int b = 0; b < B; b++) {
            len[b] = (int)sp->src_len[k0 + b];
            memcpy(src + (size_t)b * maxT, s2s_split_src(sp, k0 + b),
                   (size_t)len[b] * sizeof *src);
            cap[b] = s2s_decode_limit(&tr->cfg, len[b]);
        }
        s2s_decode_batch(&tr->model, tr->work, tr->threads, B, src, maxT, len,
                         cap, hyp, ld_out, hlen);
        for (int b = 0; b < B; b++) {
            const uint32_t *h = hyp + (size_t)b * ld_out;
            for (int i = 0; i < hlen[b]; i++) out->out_unk += h[i] == S2S_UNK;
            out->out_tokens += (size_t)hlen[b];
            const char *const *ref = s2s_split_ref_tokens(sp, k0 + b);
            size_t rn = s2s_split_ref_len(sp, k0 + b), hn = (size_t)hlen[b];
            const char *const *hw = htok;
            if (tr->sub_tgt) {
                /* the decoded text in the references' word tokens */
                char *text = s2s_subword_decode(tr->sub_tgt, h, hn);
                if (s2s_tokenize(&tr->data.tok, text, strlen(text), &words,
                                 NULL) < 0)
                    words.n = 0;
                free(text);
                hw = s2s_tokens_ptrs(&words);
                hn = words.n;
            } else {
                for (size_t i = 0; i < hn; i++)
                    htok[i] = s2s_vocab_token(tr->data.tgt_vocab, h[i]);
            }
            s2s_bleu_add(&bleu, hw, hn, ref, rn);
            s2s_chrf_add(&chrf, hw, hn, ref, rn);
        }
    }
    out->bleu = s2s_bleu_score(&bleu);
    out->chrf = s2s_chrf_score(&chrf);
    out->sentences = sp->n;
    s2s_chrf_free(&chrf);
    free(src); free(hyp); free(len); free(cap); free(hlen); free(htok);
    s2s_tokens_free(&words);
    (void)err;
    return 0;
}

/* ------------------------------------------------------------------------
 * The run */

static volatile sig_atomic_t stop_requested;

void s2s_trainer_request_stop(void) { stop_requested = 1; }

int s2s_make_dirs(const char *path, s2s_err *err)
{
    char buf[S2S_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return s2s_fail(err, "%s: cannot create directory: %s", buf,
                            strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) < 0 && errno != EEXIST)
        return s2s_fail(err, "%s: cannot create directory: %s", buf,
                        strerror(errno));
    return 0;
}

static int save(s2s_trainer *tr, const char *name, s2s_err *err)
{
    char path[S2S_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", tr->cfg.train.run_dir, name);
    return s2s_checkpoint_save_subwords(path, &tr->cfg, tr->data.src_vocab,
                                        tr->data.tgt_vocab, tr->sub_src,
                                        tr->sub_tgt, &tr->model, &tr->st, err);
}

static FILE *open_metrics(const s2s_trainer *tr, char *path, size_t size,
                          s2s_err *err)
{
    snprintf(path, size, "%s/metrics.csv", tr->cfg.train.run_dir);
    int fresh = tr->st.step == 0;
    FILE *f = fopen(path, fresh ? "w" : "a");
    if (!f) {
        s2s_fail(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fresh)
        fprintf(f, "%s,epoch_train_loss\n", S2S_METRICS_HEADER);
    return f;
}

/* Dev loss, perplexity and (with_bleu) BLEU into the log and one metrics
 * row; a new lowest dev loss saves best.ckpt. */
static int evaluate(s2s_trainer *tr, s2s_progress *prog, FILE *metrics,
                    int epoch, double train_loss, double tps, int with_bleu,
                    s2s_err *err)
{
    double dev = s2s_trainer_loss(tr, S2S_DEV);
    s2s_scores sc = {0};
    if (with_bleu && tr->data.split[S2S_DEV].n) s2s_trainer_score(tr, S2S_DEV, &sc, NULL);
    if (with_bleu)
        s2s_progress_log(prog, "epoch %d: train loss %.4f, dev loss %.4f, dev ppl %.3f, "
                         "dev BLEU %.2f, chrF %.2f, %.0f tok/s", epoch, train_loss,
                         dev, exp(dev), sc.bleu, sc.chrf, tps);
    else
        s2s_progress_log(prog, "step %ld: dev loss %.4f, dev ppl %.3f", tr->st.step,
                         dev, exp(dev));
    /* train_loss is left to the log_every rows (the curve); evaluation
     * rows carry the mean since the epoch began in epoch_train_loss */
    fprintf(metrics, "%d,%ld,,%.6f,%.6f,", epoch, tr->st.step, dev, exp(dev));
    if (with_bleu) fprintf(metrics, "%.4f", sc.bleu);
    fprintf(metrics, ",%.1f,%.8g,%.6f\n", tps, tr->st.lr, train_loss);
    fflush(metrics);
    if (isfinite(dev) && dev < tr->st.best_dev_loss) {
        tr->st.best_dev_loss = dev;
        return save(tr, "best.ckpt", err);
    }
    if (tr->data.split[S2S_DEV].n == 0 && with_bleu)
        return save(tr, "best.ckpt", err); /* no dev split: best = last */
    return 0;
}

int s2s_trainer_run(s2s_trainer *tr, FILE *log, s2s_err *err)
{
    const s2s_config *c = &tr->cfg;
    if (s2s_make_dirs(c->train.run_dir, err) < 0) return -1;
    char csv[S2S_PATH_MAX + 32], svg[S2S_PATH_MAX + 32];
    FILE *metrics = open_metrics(tr, csv, sizeof csv, err);
    if (!metrics) return -1;
    snprintf(svg, sizeof svg, "%s/curves.svg", c->train.run_dir);

    s2s_progress prog;
    s2s_progress_init(&prog, log, S2S_PROGRESS_AUTO, c->train.log_every);
    size_t nb = s2s_batcher_count(&tr->batcher);
    if (c->train.max_steps > 0) {
        s2s_progress_set_total_steps(&prog, c->train.max_steps);
        s2s_progress_set_steps_done(&prog, tr->st.step);
    }
    s2s_progress_log(&prog, "training %zu pairs, %zu batches/epoch, %zu parameters, %d threads",
                     tr->data.split[S2S_TRAIN].n, nb, tr->model.params.n, tr->threads);
    if (tr->data.split[S2S_DEV].n == 0)
        s2s_progress_log(&prog, "warning: no dev split, so no dev figures; best.ckpt "
                         "will be the last checkpoint");

    int rc = 0;
    stop_requested = 0;
    while (tr->st.epoch < c->train.epochs &&
           (c->train.max_steps <= 0 || tr->st.step < c->train.max_steps)) {
        int epoch = tr->st.epoch + 1; /* 1-based, for people */
        s2s_progress_begin_epoch(&prog, epoch, c->train.epochs, (long)nb);
        double loss_sum = 0, win_sum = 0;
        size_t loss_n = 0, win_n = 0, tok = 0;
        double t0 = omp_get_wtime();
        while (tr->st.batch < nb &&
               (c->train.max_steps <= 0 || tr->st.step < c->train.max_steps)) {
            s2s_batcher_get(&tr->batcher, (uint64_t)tr->st.epoch, tr->st.batch, &tr->batch);
            double loss = s2s_trainer_step(tr, &tr->batch);
            if (!isfinite(loss)) {
                s2s_progress_finish(&prog);
                rc = s2s_fail(err, "training diverged: loss is %g at epoch %d step %ld; "
                              "lower train.lr or set train.clip", loss, epoch,
                              tr->st.step);
                goto out;
            }
            tr->st.batch++;
            loss_sum += loss;
            loss_n++;
            win_sum += loss;
            win_n++;
            tok += tr->batch.ntokens;
            s2s_progress_step(&prog, (long)tr->st.batch, loss, (long)tr->batch.ntokens);
            double tps = tok / (omp_get_wtime() - t0);
            if (tr->st.step % c->train.log_every == 0) {
                /* a train-loss point for the curves; dev columns empty */
                fprintf(metrics, "%d,%ld,%.6f,,,,%.1f,%.8g,\n", epoch, tr->st.step,
                        win_sum / win_n, tps, tr->st.lr);
                win_sum = 0;
                win_n = 0;
            }
            if (stop_requested) {
                /* nothing is lost: the position is saved mid-epoch and
                 * --resume continues exactly from here */
                s2s_progress_finish(&prog);
                if (save(tr, "last.ckpt", err) < 0) {
                    rc = -1;
                    goto out;
                }
                rc = S2S_TRAIN_STOPPED;
                s2s_fail(err, "stopped at epoch %d, step %ld; saved %s/last.ckpt "
                         "(continue with: s2s train %s --resume)", epoch,
                         tr->st.step, c->train.run_dir,
                         c->source_file[0] ? c->source_file : "RUN.yaml");
                goto out;
            }
            if (c->train.eval_every > 0 && tr->st.step % c->train.eval_every == 0 &&
                tr->st.batch < nb &&
                evaluate(tr, &prog, metrics, epoch, loss_sum / loss_n, tps, 0, err) < 0) {
                rc = -1;
                goto out;
            }
        }
        double secs = omp_get_wtime() - t0;
        s2s_progress_end_epoch(&prog);
        if (tr->st.batch >= nb) {
            tr->st.epoch++;
            tr->st.batch = 0;
        }
        if (tr->st.batch == 0) tr->st.lr *= c->train.lr_decay;
        if (evaluate(tr, &prog, metrics, epoch, loss_n ? loss_sum / loss_n : NAN,
                     secs > 0 ? tok / secs : 0, 1, err) < 0 ||
            save(tr, "last.ckpt", err) < 0) {
            rc = -1;
            goto out;
        }
    }
    s2s_progress_log(&prog, "checkpoints: %s/last.ckpt, %s/best.ckpt; metrics: %s",
                     c->train.run_dir, c->train.run_dir, csv);
out:
    if (fclose(metrics) != 0 && rc == 0)
        rc = s2s_fail(err, "%s: %s", csv, strerror(errno));
    if (rc == 0) {
        s2s_err perr;
        if (s2s_plot_svg(csv, svg, &perr) < 0)
            s2s_progress_log(&prog, "warning: no curves: %s", perr.msg);
        else
            s2s_progress_log(&prog, "curves: %s", svg);
    }
    return rc;
}
