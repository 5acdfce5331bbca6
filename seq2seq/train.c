/* seq2seq/train.c — the training loop (see train.h). */
#include "seq2seq/train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/blas.h"
#include "core/ckpt.h"
#include "core/dist.h"
#include "core/kernels.h"
#include "core/optim.h"
#include "core/phase.h"
#include "core/progress.h"
#include "core/sysinfo.h"
#include "corpora/tatoeba.h"
#include "seq2seq/decode.h"
#include "seq2seq/metrics.h"
#include "seq2seq/plot.h"

/* Under MPI: the embedding rows of one share of the global batch, from
 * this rank's workspaces or received from the rank that did the share. */
struct s2s_share_rows {
    const uint32_t *ids[2]; /* source, target */
    const float *demb[2];
    int n[2];
};

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
    s->max_line = (size_t)c->data.max_line_bytes;
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
    int side = src && tgt ? 0 : src ? cfg->tokenizer.sentencepiece.train.src_vocab_size
                                    : cfg->tokenizer.sentencepiece.train.tgt_vocab_size;
    s2s_subword_train_opts o = {
        .vocab_size = side > 0 ? side : cfg->tokenizer.sentencepiece.train.vocab_size,
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

static char *config_yaml(const s2s_config *c)
{
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    if (!f) s2s_xmalloc((size_t)-1);
    s2s_config_write(c, f);
    fclose(f);
    return yaml;
}

/* The rule for resuming with a run file that differs from the
 * checkpoint's: the data, tokenizer and model sections, train.seed and
 * train.batch define what is being trained and must be equal (else the
 * resume is refused, naming every difference); every other key is applied
 * from the run file, and a changed train.lr replaces the current (decayed)
 * learning rate. Every difference is listed. Returns 1 if some key is
 * refused. `applied` and `refused` collect "key: old -> new" lists. */
static int resume_differences(const s2s_config *ck, const s2s_config *run,
                              char *applied, size_t asize, char *refused,
                              size_t rsize)
{
    /* data paths absolute on both sides (older checkpoints stored them as
     * given) */
    s2s_config *ca = s2s_xmalloc(sizeof *ca), *cb = s2s_xmalloc(sizeof *cb);
    *ca = *ck;
    *cb = *run;
    s2s_config_absolute_data_paths(ca);
    s2s_config_absolute_data_paths(cb);
    char *ya = config_yaml(ca), *yb = config_yaml(cb);
    free(ca);
    free(cb);
    char *sa = NULL, *sb = NULL;
    char *la = strtok_r(ya, "\n", &sa), *lb = strtok_r(yb, "\n", &sb);
    char sec[64] = "", sub[64] = "";
    applied[0] = refused[0] = 0;
    int bad = 0;
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        while (la && la[0] == '#') la = strtok_r(NULL, "\n", &sa);
        while (lb && lb[0] == '#') lb = strtok_r(NULL, "\n", &sb);
        if (!la || !lb) break;
        size_t ind = strspn(la, " ");
        const char *colon = strchr(la, ':');
        if (!colon) continue;
        int klen = (int)(colon - la - (long)ind);
        if (colon[1] == 0) { /* a section header */
            if (ind == 0) snprintf(sec, sizeof sec, "%.*s", klen, la);
            else snprintf(sub, sizeof sub, ".%.*s", klen, la + ind);
            if (ind == 0) sub[0] = 0;
            continue;
        }
        if (ind == 2) sub[0] = 0;
        if (strcmp(la, lb) == 0) continue;
        char key[200];
        snprintf(key, sizeof key, "%s%s.%.*s", sec, sub, klen, la + ind);
        int must = strcmp(sec, "data") == 0 || strcmp(sec, "tokenizer") == 0 ||
                   strcmp(sec, "model") == 0 || strcmp(key, "train.seed") == 0 ||
                   strcmp(key, "train.batch") == 0;
        char *dst = must ? refused : applied;
        size_t size = must ? rsize : asize, used = strlen(dst);
        snprintf(dst + used, size - used, "%s%s:%s ->%s", used ? "; " : "", key,
                 colon + 1, strchr(lb, ':') ? strchr(lb, ':') + 1 : "");
        bad |= must;
    }
    free(ya);
    free(yb);
    return bad;
}

static int trainer_threads(s2s_trainer *tr, s2s_err *err);
static int lazy_adam(const s2s_trainer *tr);
static void share_state(s2s_trainer *tr);
static int check_ranks_agree(const s2s_trainer *tr, const char *when, s2s_err *err);

int s2s_trainer_init(s2s_trainer *tr, const s2s_config *cfg,
                     const char *resume_path, s2s_err *err)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    /* the checkpoints store the data paths absolute, so that `s2s eval`
     * finds the data from any directory; they are read as given, so that
     * messages name them as the user wrote them */
    s2s_config_absolute_data_paths(&tr->cfg);
    s2s_loaded ck;
    memset(&ck, 0, sizeof ck);
    int resuming = resume_path != NULL;
    if (resuming) {
        /* cells named by path in the user's own run file are trusted */
        const char *files[2 * S2S_MAX_LAYERS + 1];
        int nf = 0;
        const s2s_side_config *sides[2] = {&cfg->model.encoder, &cfg->model.decoder};
        for (int s = 0; s < 2; s++)
            for (int l = 0; l < sides[s]->layers; l++)
                if (strchr(sides[s]->cell[l], '/') || strstr(sides[s]->cell[l], ".so"))
                    files[nf++] = sides[s]->cell[l];
        files[nf] = NULL;
        if (s2s_checkpoint_load_trusting(resume_path, files, &ck, err) < 0) return -1;
        if (!ck.has_state) {
            s2s_loaded_free(&ck);
            return s2s_fail(err, "%s: a translation-only checkpoint (s2s export) "
                            "has no optimiser state to resume from; resume from "
                            "the run's last.ckpt", resume_path);
        }
        if (s2s_checkpoint_nonfinite_state(&ck.model)) {
            s2s_loaded_free(&ck);
            return s2s_fail(err, "%s: its Adam moments hold a non-finite value, "
                            "so training cannot continue from it; resume from "
                            "an earlier checkpoint", resume_path);
        }
        char refused[700];
        if (resume_differences(&ck.cfg, cfg, tr->resume_changes,
                               sizeof tr->resume_changes, refused, sizeof refused)) {
            s2s_loaded_free(&ck);
            return s2s_fail(err, "%s: cannot resume: the run file's data, tokenizer, "
                            "model, train.seed and train.batch must be the "
                            "checkpoint's, but %s", resume_path, refused);
        }
    }

    s2s_data_spec spec;
    s2s_config_data_spec(cfg, &spec);
    int sub = s2s_config_subwords(cfg);
    if (s2s_dataset_load(&spec, resuming && !sub ? ck.src : NULL,
                         resuming && !sub ? ck.tgt : NULL, &tr->data, err) < 0) {
        /* the benchmark's corpus is not in the repository: say what it is */
        if (strcmp(cfg->data.train, s2s_tatoeba_path()) == 0 &&
            access(cfg->data.train, R_OK) != 0)
            s2s_fail(err, "%s: %s; %s", cfg->data.train, strerror(errno),
                     S2S_TATOEBA_ABOUT);
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
    /* a resumed run keeps the table it started with */
    if (resuming && ck.lex) {
        tr->lex = ck.lex;
        ck.lex = NULL;
    } else {
        tr->lex_from_data = 1;
        s2s_trainer_shortlist(tr);
    }

    if (resuming) {
        tr->model = ck.model; /* takes over the loaded model */
        memset(&ck.model, 0, sizeof ck.model);
        tr->st = ck.state;
        /* a new train.lr replaces the current rate; decay continues from it */
        if (cfg->train.lr != ck.cfg.train.lr) tr->st.lr = cfg->train.lr;
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
        tr->st.best_dev_bleu = tr->st.best_dev_chrf = NAN;
    }
    tr->loaded = 2;
    if (trainer_threads(tr, err) < 0) return -1;
    /* before the node's ranks pool their parameters: all must agree */
    if (check_ranks_agree(tr, "at the start", err) < 0) {
        s2s_trainer_free(tr);
        return -1;
    }
    share_state(tr);
    return 0;
}

/* Under MPI with several ranks on a node: the parameters and Adam moments
 * move to memory the node's ranks share, and each rank owns some of the
 * norm's parts, so that the optimiser step (and the lazy rows' replay) is
 * not done once per rank on the same cores. When every node runs as many
 * ranks, each rank's gradient moves there too (a slot per local rank): the
 * owner of a part sums that part of all the slots, in rank order, as
 * threads do, into its own slot, and nothing is copied. Every rank still
 * ends a step with the same parameters and moments (on a node the same
 * bytes; across nodes the same updates of the same gradient). */
static void share_state(s2s_trainer *tr)
{
    s2s_params *p = &tr->model.params;
    tr->local = 0;
    tr->locals = 1;
    if (tr->ranks == 1) return;
    size_t stride = (p->n + 15) & ~(size_t)15;
    size_t nd = p->n - tr->model.off_dense, dstride = (nd + 15) & ~(size_t)15;
    size_t L = (size_t)s2s_dist_local_size();
    int local;
    (void)dstride;
    /* a job on one node also passes the rows through the node's memory:
     * room for every token of a batch of the longest pairs per rank */
    int one_node = s2s_dist_local_size() == s2s_dist_size() && s2s_dist_nodes_uniform();
    size_t rows_bytes = 0, head = 0;
    if (one_node) {
        double maxT = 1, maxU = 1;
        const s2s_split *sp = &tr->data.split[S2S_TRAIN];
        /* sampled segmentations (subword regularisation) change from epoch
         * to epoch: bounded by the text's bytes (a piece covers at least
         * one, or the word boundary before it) */
        int sampled = tr->sub_src && tr->cfg.tokenizer.sentencepiece.sampling_alpha > 0;
        for (size_t i = 0; i < sp->n; i++) {
            double t = sampled ? 2.0 * strlen(sp->src_text[i]) + 2 : sp->src_len[i];
            double u = sampled ? 2.0 * strlen(sp->tgt_text[i]) + 3 : sp->tgt_len[i] + 1.0;
            if (t > maxT) maxT = t;
            if (u > maxU) maxU = u;
        }
        rows_bytes = (size_t)tr->cfg.train.batch * (size_t)(maxT + maxU) *
                     (sizeof(uint32_t) + (size_t)tr->model.E * sizeof(float));
        rows_bytes = (rows_bytes + 63) & ~(size_t)63;
        head = ((3 * (size_t)tr->threads + 2) * sizeof(double) + 63) & ~(size_t)63;
    }
    size_t floats = (3 + L) * stride + 2 * S2S_NORM_PARTS; /* + the part sums */
    floats = (floats + 15) & ~(size_t)15;
    float *sh = s2s_dist_node_shared(floats * sizeof(float) + L * (head + rows_bytes),
                                     &local);
    if (!sh) return;
    if (local == 0) { /* every rank holds the same values: one copies */
        memcpy(sh, p->w, p->n * sizeof(float));
        memcpy(sh + stride, p->m, p->n * sizeof(float));
        memcpy(sh + 2 * stride, p->v, p->n * sizeof(float));
    }
    s2s_dist_node_sync();
    tr->own_w = p->w;
    tr->own_m = p->m;
    tr->own_v = p->v;
    p->w = sh;
    p->m = sh + stride;
    p->v = sh + 2 * stride;
    if (s2s_dist_nodes_uniform()) {
        tr->slots = sh + 3 * stride;
        tr->slot_stride = stride;
        tr->part_sums = (double *)(void *)(sh + (3 + L) * stride);
        tr->own_g = p->g;
        p->g = tr->slots + (size_t)local * stride;
        memset(p->g, 0, p->n * sizeof(float));
        tr->grad[0] = p->g;
        if (one_node) {
            tr->xbox = (unsigned char *)(sh + floats);
            tr->xbox_stride = head + rows_bytes;
            tr->xbox_rows = rows_bytes;
        }
        s2s_dist_node_sync();
    }
    tr->local = local;
    tr->locals = (int)L;
}

/* The least the workspaces of one batch of the longest sentences take
 * (seq2seq/step.c sizes them per packed row): refused up front, with the
 * size, when the machine cannot hold it, instead of an out-of-memory abort
 * in the middle of the first epoch. */
static int workspace_check(const s2s_trainer *tr, s2s_err *err)
{
    const s2s_model *m = &tr->model;
    double maxT = 1, maxU = 1;
    for (int k = 0; k < 3; k++) {
        const s2s_split *sp = &tr->data.split[k];
        for (size_t i = 0; i < sp->n; i++) {
            if (sp->src_len[i] > maxT) maxT = sp->src_len[i];
            if (sp->tgt_len[i] + 1.0 > maxU) maxU = sp->tgt_len[i] + 1.0;
        }
    }
    double enc = 2.0 * m->E, dec = 2.0 * m->E + m->V_tgt;
    for (int l = 0; l < m->L_enc; l++)
        enc += (double)(m->enc[l].G + m->enc[l].S) * m->enc[l].H + m->enc[l].K;
    for (int l = 0; l < m->L_dec; l++)
        dec += (double)(m->dec[l].G + m->dec[l].S) * m->dec[l].H + m->dec[l].K;
    double B = tr->cfg.train.batch, most = 1;
    for (int k = 0; k < 3; k++)
        if ((double)tr->data.split[k].n > most) most = (double)tr->data.split[k].n;
    if (B > most) B = most; /* no batch holds more pairs than a split */
    double bytes = sizeof(float) * B * (maxT * enc + maxU * dec) +
                   (double)m->params.n * 4 * sizeof(float);
    return s2s_mem_check(bytes, "the parameters and the workspace of one batch of "
                         "the longest sentences (set data.max_len or a smaller "
                         "train.batch)", err);
}

/* Per-thread workspaces and gradient buffers, and the training batcher. */
static int trainer_threads(s2s_trainer *tr, s2s_err *err)
{
    const s2s_config *cfg = &tr->cfg;
    if (workspace_check(tr, err) < 0) {
        s2s_trainer_free(tr);
        return -1;
    }
    tr->threads = cfg->train.threads > 0 ? cfg->train.threads : omp_get_num_procs();
    if (cfg->train.threads <= 0 && s2s_dist_local_size() > 1 &&
        omp_get_num_procs() >= sysconf(_SC_NPROCESSORS_ONLN)) {
        /* ranks not pinned (mpirun --bind-to none): share the node's cores */
        tr->threads /= s2s_dist_local_size();
        if (tr->threads < 1) tr->threads = 1;
    }
    tr->rank = s2s_dist_rank();
    tr->ranks = s2s_dist_size();
    tr->shares = tr->threads * tr->ranks;
    tr->locals = 1;
    omp_set_dynamic(0); /* the shares, not the team, fix the results */
    tr->nll = s2s_xcalloc((size_t)tr->shares, sizeof *tr->nll);
    tr->start = s2s_xcalloc((size_t)tr->shares + 1, sizeof *tr->start);
    if (tr->ranks > 1) {
        tr->srows = s2s_xcalloc((size_t)tr->shares, sizeof *tr->srows);
        tr->counts = s2s_xcalloc((size_t)tr->ranks, sizeof *tr->counts);
    }
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
    if (lazy_adam(tr)) {
        size_t V = (size_t)tr->model.V_src + (size_t)tr->model.V_tgt;
        tr->emb_upto = s2s_xmalloc((V + 1) * sizeof *tr->emb_upto);
        tr->emb_seen = s2s_xcalloc(V + 1, sizeof *tr->emb_seen);
        tr->rows = s2s_xmalloc((V + 1) * sizeof *tr->rows);
        for (size_t r = 0; r < V; r++) tr->emb_upto[r] = tr->st.step;
        tr->hist_base = tr->st.step;
    }
    tr->loaded = 3;
    return 0;
}

/* One line naming the first data file of the checkpoint's run file that
 * cannot be read, and how to go on; 0 when all can. */
static int missing_data(const char *ckpt, s2s_config *c, s2s_err *err)
{
    s2s_data_key keys[6];
    size_t n = s2s_config_data_keys(c, keys);
    for (size_t i = 0; i < n; i++) {
        const char *p = keys[i].path;
        if (!p[0] || access(p, R_OK) == 0) continue;
        int e = errno;
        char where[S2S_PATH_MAX + 32] = "", cwd[S2S_PATH_MAX];
        if (p[0] != '/' && getcwd(cwd, sizeof cwd))
            snprintf(where, sizeof where, " (relative to %s)", cwd);
        s2s_fail(err, "%s: %s '%s' of the training run%s: %s; run from the "
                 "directory training ran in, or score a file of your own "
                 "with --test FILE [--test-target FILE]", ckpt, keys[i].key, p,
                 where, strerror(e));
        return 1;
    }
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
    } else if (missing_data(path, &tr->cfg, err)) {
        s2s_loaded_free(&ck);
        return -1;
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
    /* the checkpoint's shortlist; one from before it had none is built
     * when asked for (s2s_trainer_shortlist) */
    tr->lex = ck.lex;
    ck.lex = NULL;
    tr->lex_from_data = rc == 0 && !test_file;
    s2s_loaded_free(&ck);
    tr->loaded = 2;
    if (rc < 0) {
        s2s_trainer_free(tr);
        return -1;
    }
    return trainer_threads(tr, err);
}

s2s_shortlist *s2s_trainer_shortlist(s2s_trainer *tr)
{
    if (!tr->lex && tr->lex_from_data && tr->data.split[S2S_TRAIN].n)
        tr->lex = s2s_shortlist_build(&tr->data.split[S2S_TRAIN],
                                      (int)s2s_vocab_size(tr->data.src_vocab),
                                      (int)s2s_vocab_size(tr->data.tgt_vocab));
    return tr->lex;
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
    if (tr->own_w) { /* the model frees its own buffers */
        tr->model.params.w = tr->own_w;
        tr->model.params.m = tr->own_m;
        tr->model.params.v = tr->own_v;
    }
    if (tr->own_g) tr->model.params.g = tr->own_g;
    if (tr->frozen_w) s2s_gemm_thaw(tr->frozen_w);
    free(tr->srows);
    free(tr->pack);
    free(tr->gath);
    free(tr->counts);
    free(tr->work);
    free(tr->grad);
    free(tr->emb_upto);
    free(tr->emb_seen);
    free(tr->rows);
    free(tr->hist);
    free(tr->nll);
    free(tr->start);
    if (tr->loaded >= 2) s2s_model_free(&tr->model);
    if (tr->loaded >= 1) s2s_dataset_free(&tr->data);
    s2s_subword_free(tr->sub_src);
    s2s_subword_free(tr->sub_tgt);
    s2s_shortlist_free(tr->lex);
    memset(tr, 0, sizeof *tr);
}

/* ------------------------------------------------------------------------
 * One step */

/* Set by s2s_trainer_request_stop (a signal handler); under MPI every step
 * turns the flags of all ranks into one decision, tr->stop. */
static volatile sig_atomic_t stop_requested;

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

/* After the shares: one pass over each of the norm's fixed parts of the
 * flat buffer adds the other threads' dense gradients into params.g (in
 * share order, clearing them), adds the embedding rows (share order, then
 * packed order) and sums the part's squares; a barrier; then one pass per
 * part clips, updates and clears the gradient. Each part is done by one
 * thread with the same operations in the same order as the whole-buffer
 * reduction, s2s_clip_grad_norm and s2s_adam_step / s2s_sgd_step, so the
 * results are theirs bit for bit, whichever thread does which part.
 *
 * Embedding rows a step does not touch have a zero gradient. Summing its
 * squares adds nothing, so the norm reads only the touched rows. SGD
 * leaves such a row as it is, so it is skipped. Adam still moves it (its
 * moments decay), which would be a pass over three tables the size of the
 * vocabularies each step, memory-bound; instead ("lazy") such a row is
 * brought up to date only when it is next read: the steps it missed are
 * replayed on it, with a zero gradient and each step's own constants, i.e.
 * the very operations the dense update would have done, in cache. Rows are
 * read by the forward pass of a batch that holds them (replayed first), and
 * by anything outside the step: s2s_trainer_sync() replays them all. With
 * teacher forcing below 1 the decoder reads rows the batch does not name,
 * so there Adam stays dense. */

typedef struct {
    size_t *span[S2S_NORM_PARTS]; /* touched embedding spans of each part */
    size_t nspan[S2S_NORM_PARTS];
    int sparse;                   /* update only those spans */
} step_parts;

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int lazy_adam(const s2s_trainer *tr)
{
    const s2s_config *c = &tr->cfg;
    return strcmp(c->train.optimizer, "sgd") != 0 && c->train.teacher_forcing >= 1.0f;
}

/* Flat offset of embedding row r (source rows, then target rows). */
static size_t row_off(const s2s_model *m, size_t r)
{
    size_t E = (size_t)m->E;
    return r < (size_t)m->V_src ? m->off_emb_src + r * E
                                : m->off_emb_tgt + (r - (size_t)m->V_src) * E;
}

/* Adam steps upto+1 .. to on row r, whose gradient is zero (as it is
 * between steps, for a row the step did not touch). */
static void replay_row(s2s_trainer *tr, size_t r, long to)
{
    s2s_params *p = &tr->model.params;
    size_t off = row_off(&tr->model, r), E = (size_t)tr->model.E;
    if (tr->locals > 1) {
        /* ranks sharing the parameters: the pieces of the row in the norm
         * parts this rank owns (element-wise, so the same bits) */
        int k = (int)((double)off * S2S_NORM_PARTS / (double)p->n);
        size_t lo, hi;
        for (;; k++) {
            s2s_norm_part(p->n, k, &lo, &hi);
            if (hi > off) break;
        }
        while (lo > off) s2s_norm_part(p->n, --k, &lo, &hi);
        for (; k < S2S_NORM_PARTS && lo < off + E; k++) {
            s2s_norm_part(p->n, k, &lo, &hi);
            size_t a = lo > off ? lo : off, b = hi < off + E ? hi : off + E;
            if (a >= b || k % tr->locals != tr->local) continue;
            for (long s = tr->emb_upto[r] + 1; s <= to; s++)
                s2s_adam_range(p, &tr->hist[s - tr->hist_base - 1], a, b, 1.0f,
                               0, 0);
        }
        tr->emb_upto[r] = to;
        return;
    }
    for (long s = tr->emb_upto[r] + 1; s <= to; s++)
        s2s_adam_range(p, &tr->hist[s - tr->hist_base - 1], off, off + E, 1.0f,
                       0, 0);
    tr->emb_upto[r] = to;
}

void s2s_trainer_sync(s2s_trainer *tr)
{
    /* no step since the last sync: every row is up to date (so a call by
     * rank 0 alone after all ranks synced is no collective call) */
    if (!tr->emb_upto || tr->hist_n == 0) return;
    long to = tr->st.step;
    long n = (long)tr->model.V_src + tr->model.V_tgt;
    /* (ranks sharing the parameters replay the parts each owns) */
#pragma omp parallel for schedule(dynamic, 64) num_threads(tr->threads)
    for (long r = 0; r < n; r++)
        if (tr->emb_upto[r] < to) replay_row(tr, (size_t)r, to);
    tr->hist_n = 0;
    tr->hist_base = to;
    if (tr->locals > 1) s2s_dist_node_sync();
}

/* The rows batch b reads, each once, into tr->rows; returns the count. */
static size_t batch_rows(s2s_trainer *tr, const s2s_batch *b, long stamp)
{
    size_t n = 0, Vs = (size_t)tr->model.V_src;
    for (int r = 0; r < b->B; r++) {
        for (int i = 0; i < b->src_len[r]; i++) {
            size_t id = b->src[(size_t)r * b->T + i];
            if (tr->emb_seen[id] != stamp) tr->emb_seen[id] = stamp, tr->rows[n++] = id;
        }
        for (int i = 0; i < b->tgt_len[r]; i++) {
            size_t id = Vs + b->tgt_in[(size_t)r * b->U + i];
            if (tr->emb_seen[id] != stamp) tr->emb_seen[id] = stamp, tr->rows[n++] = id;
        }
    }
    return n;
}

/* The embedding rows of share u added into [lo, hi) of params.g (add) or
 * cleared there. Alone the shares are the threads' workspaces; under MPI
 * every rank's shares, as the exchange left them in tr->srows. */
static void share_rows_span(s2s_trainer *tr, int u, int add, size_t lo,
                            size_t hi)
{
    const s2s_model *m = &tr->model;
    float *g = tr->model.params.g;
    if (tr->ranks == 1) {
        if (add)
            s2s_step_embed_grad_span(m, tr->work[u], g, lo, hi);
        else
            s2s_step_embed_clear_span(m, tr->work[u], g, lo, hi);
        return;
    }
    const struct s2s_share_rows *r = &tr->srows[u];
    for (int side = 0; side < 2; side++)
        s2s_step_embed_span_ids(m, side, r->ids[side], r->n[side],
                                add ? r->demb[side] : NULL, g, lo, hi);
}

static size_t share_rows_count(const s2s_trainer *tr, int u)
{
    if (tr->ranks == 1) return s2s_step_embed_count(tr->work[u]);
    return (size_t)tr->srows[u].n[0] + (size_t)tr->srows[u].n[1];
}

/* As s2s_step_embed_rows, for share u. */
static size_t share_rows_in(const s2s_trainer *tr, int u, size_t lo, size_t hi,
                            size_t *starts)
{
    const s2s_model *m = &tr->model;
    if (tr->ranks == 1) return s2s_step_embed_rows(m, tr->work[u], lo, hi, starts);
    const struct s2s_share_rows *r = &tr->srows[u];
    size_t k = 0, E = (size_t)m->E;
    for (int side = 0; side < 2; side++) {
        size_t off = side ? m->off_emb_tgt : m->off_emb_src;
        for (int i = 0; i < r->n[side]; i++) {
            size_t a = off + (size_t)r->ids[side][i] * E;
            if (a < hi && a + E > lo) starts[k++] = a;
        }
    }
    return k;
}

/* Adds the other threads' dense gradients into params.g over [a, b), in
 * share order, clearing theirs. */
static void reduce_range(s2s_trainer *tr, size_t a, size_t b)
{
    size_t od = tr->model.off_dense;
    float *g0 = tr->model.params.g;
    for (int u = 1; u < tr->threads; u++) {
        float *restrict gu = tr->grad[u] - od; /* indexed like p->g */
        for (size_t i = a; i < b; i++) {
            g0[i] += gu[i];
            gu[i] = 0;
        }
    }
}

#define REDUCE_CHUNK 4096

/* (reduce: also add the other threads' dense gradients; under MPI that
 * was done before the exchange) */
static void reduce_part(s2s_trainer *tr, int k, int want_norm, double *part,
                        step_parts *sp, int reduce)
{
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    int nt = tr->threads;
    size_t lo, hi, od = m->off_dense;
    s2s_norm_part(p->n, k, &lo, &hi);
    size_t dlo = lo > od ? lo : od;
    sp->span[k] = NULL;
    sp->nspan[k] = 0;
    if (lo < od) {
        s2s_phase(S2S_PH_EMBED);
        for (int u = 0; u < tr->shares; u++)
            share_rows_span(tr, u, 1, lo, hi < od ? hi : od);
    }
    if (lo < od && (want_norm || sp->sparse)) {
        /* the spans of the touched rows in this part, ascending, once */
        size_t cap = 0, nr = 0, ns = 0, E = (size_t)m->E;
        for (int u = 0; u < tr->shares; u++) cap += share_rows_count(tr, u);
        size_t *rows = s2s_xmalloc((cap + 1) * sizeof *rows);
        size_t *span = s2s_xmalloc((cap + 1) * 2 * sizeof *span);
        size_t ehi = hi < od ? hi : od;
        for (int u = 0; u < tr->shares; u++)
            nr += share_rows_in(tr, u, lo, ehi, rows + nr);
        qsort(rows, nr, sizeof *rows, cmp_size);
        for (size_t j = 0; j < nr; j++) {
            if (j && rows[j] == rows[j - 1]) continue;
            span[2 * ns] = rows[j] > lo ? rows[j] : lo;
            span[2 * ns + 1] = rows[j] + E < ehi ? rows[j] + E : ehi;
            ns++;
        }
        free(rows);
        sp->span[k] = span;
        sp->nspan[k] = ns;
    }
    if (!want_norm) {
        if (dlo < hi && nt > 1 && reduce) {
            s2s_phase(S2S_PH_REDUCE);
            reduce_range(tr, dlo, hi);
        }
        s2s_phase(S2S_PH_OTHER);
        return;
    }
    /* the sum of squares in index order: the touched embedding rows (zero
     * rows add nothing, see s2s_grad_sumsq_spans), then the dense range a
     * chunk at a time, each right after its reduction, still in cache */
    double lane[8] = {0};
    s2s_phase(S2S_PH_CLIP);
    for (size_t j = 0; j < sp->nspan[k]; j++)
        s2s_grad_sumsq_acc(lane, p->g, lo, hi, sp->span[k][2 * j],
                           sp->span[k][2 * j + 1]);
    for (size_t a = dlo; a < hi; a += REDUCE_CHUNK) {
        size_t b = hi - a < REDUCE_CHUNK ? hi : a + REDUCE_CHUNK;
        if (nt > 1 && reduce) {
            s2s_phase(S2S_PH_REDUCE);
            reduce_range(tr, a, b);
            s2s_phase(S2S_PH_CLIP);
        }
        s2s_grad_sumsq_acc(lane, p->g, lo, hi, a, b);
    }
    part[k] = s2s_grad_sumsq_lanes(lane);
    s2s_phase(S2S_PH_OTHER);
}

static void update_part(s2s_trainer *tr, int k, int sgd, const s2s_adam_k *ak,
                        float gscale, step_parts *sp, int skip)
{
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    size_t lo, hi, od = m->off_dense;
    s2s_norm_part(p->n, k, &lo, &hi);
    s2s_phase(S2S_PH_OPTIM);
    if (skip) {
        /* a non-finite gradient (or, under MPI, a part another rank of the
         * node updates): no update, only the clearing */
        size_t from = sp->sparse && lo < od ? (od < hi ? od : hi) : lo;
        memset(p->g + from, 0, (hi - from) * sizeof(float));
    }
    /* the dense part is cleared here; the embedding rows this step
     * touched are cleared below (the rest are zero already) */
    if (!skip && sp->sparse && lo < od) {
        for (size_t j = 0; j < sp->nspan[k]; j++) {
            size_t a = sp->span[k][2 * j], b = sp->span[k][2 * j + 1];
            if (sgd)
                s2s_sgd_range(p, tr->st.lr, a, b, gscale, od, 0);
            else
                s2s_adam_range(p, ak, a, b, gscale, od, 0);
        }
        lo = od < hi ? od : hi; /* then the dense part of the part */
    }
    if (!skip && lo < hi) {
        if (sgd)
            s2s_sgd_range(p, tr->st.lr, lo, hi, gscale, od, 1);
        else
            s2s_adam_range(p, ak, lo, hi, gscale, od, 1);
    }
    s2s_norm_part(p->n, k, &lo, &hi);
    if (lo < od) {
        s2s_phase(S2S_PH_EMBED);
        for (int u = 0; u < tr->shares; u++)
            share_rows_span(tr, u, 0, lo, hi < od ? hi : od);
    }
    free(sp->span[k]);
    s2s_phase(S2S_PH_OTHER);
}

/* ------------------------------------------------------------------------
 * One step under MPI: ranks are a level above threads. The global batch
 * splits into ranks x threads shares by split_rows' rule; each rank does
 * its threads' shares and sums their dense gradients as alone; then the
 * exchange (below) gives every rank the job's dense gradient and every
 * share's embedding rows, which each rank adds in share order; from there
 * the tail is the single process's (norm on the global gradient, clip
 * inside the update, the gradient cleared), the same on every rank. */

static void grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    *cap = need;
    *buf = s2s_xrealloc(*buf, need ? need : 1);
}

/* After backward: every rank learns every share's loss and embedding rows
 * (an all-gather: rows are few beside the tables) and the job's stop and
 * time-to-save decisions; without slots, the sum of the ranks' dense
 * gradients arrives in params.g by MPI_Allreduce (with slots the owners of
 * the parts sum them next, sum_slots). */
static void exchange(s2s_trainer *tr)
{
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    int R = tr->ranks, T = tr->threads;
    size_t E = (size_t)m->E, od = m->off_dense, nd = p->n - od;
    size_t rec = sizeof(uint32_t) + E * sizeof(float);
    size_t nrec = 3 * (size_t)T + 2, head = tr->xbox_stride - tr->xbox_rows;

    /* the small things: losses, row counts, stop and save flags (in this
     * rank's box when the job is one node) */
    double *mine, *all = NULL;
    if (tr->xbox) {
        mine = (double *)(void *)(tr->xbox + (size_t)tr->rank * tr->xbox_stride);
    } else {
        mine = s2s_xcalloc(nrec * ((size_t)R + 1), sizeof *mine);
        all = mine + nrec;
    }
    size_t bytes = 0;
    for (int t = 0; t < T; t++) {
        const uint32_t *ids;
        const float *demb;
        int ne = s2s_step_embed_ids(tr->work[t], 0, &ids, &demb);
        int nd_ = s2s_step_embed_ids(tr->work[t], 1, &ids, &demb);
        mine[3 * t] = tr->nll[tr->rank * T + t];
        mine[3 * t + 1] = ne;
        mine[3 * t + 2] = nd_;
        bytes += ((size_t)ne + (size_t)nd_) * rec;
    }
    mine[3 * T] = stop_requested != 0;
    mine[3 * T + 1] = tr->want_save;

    /* rows: per share and side, the ids then their gradients */
    unsigned char *w;
    if (tr->xbox) {
        if (bytes > tr->xbox_rows) { /* cannot be: the box holds a batch */
            fprintf(stderr, "s2s: rank %d: %zu bytes of embedding rows, over the "
                    "%zu set aside\n", tr->rank, bytes, tr->xbox_rows);
            s2s_dist_abort(1);
            abort();
        }
        w = (unsigned char *)mine + head;
    } else {
        grow(&tr->pack, &tr->cap_pack, bytes);
        w = tr->pack;
    }
    for (int t = 0; t < T; t++)
        for (int side = 0; side < 2; side++) {
            const uint32_t *ids;
            const float *demb;
            size_t n = (size_t)s2s_step_embed_ids(tr->work[t], side, &ids, &demb);
            memcpy(w, ids, n * sizeof *ids);
            memcpy(w + n * sizeof *ids, demb, n * E * sizeof *demb);
            w += n * rec;
        }

    double t0 = omp_get_wtime();
    if (tr->xbox)
        s2s_dist_node_sync(); /* boxes and slots written: read them in place */
    else
        s2s_dist_allgather(mine, all, nrec * sizeof *mine);
    tr->comm_wait = omp_get_wtime() - t0;
    size_t total = 0;
    tr->stop = 0;
    for (int q = 0; q < R; q++) {
        const double *a = tr->xbox ? (const double *)(const void *)(tr->xbox +
                                                                   (size_t)q * tr->xbox_stride)
                                   : all + (size_t)q * nrec;
        tr->counts[q] = 0;
        for (int t = 0; t < T; t++) {
            struct s2s_share_rows *r = &tr->srows[q * T + t];
            tr->nll[q * T + t] = a[3 * t];
            r->n[0] = (int)a[3 * t + 1];
            r->n[1] = (int)a[3 * t + 2];
            tr->counts[q] += ((size_t)r->n[0] + (size_t)r->n[1]) * rec;
        }
        tr->stop |= a[3 * T] != 0;
        if (q == 0) tr->save_due = a[3 * T + 1] != 0; /* rank 0's clock decides */
        total += tr->counts[q];
    }
    if (!tr->xbox) free(mine);

    const unsigned char *q = tr->gath;
    if (!tr->xbox) {
        grow(&tr->gath, &tr->cap_gath, total);
        s2s_dist_allgatherv(tr->pack, tr->gath, tr->counts);
        q = tr->gath;
    }
    for (int k = 0; k < tr->shares; k++) {
        if (tr->xbox && k % T == 0)
            q = tr->xbox + (size_t)(k / T) * tr->xbox_stride + head;
        for (int side = 0; side < 2; side++) {
            struct s2s_share_rows *r = &tr->srows[k];
            size_t n = (size_t)r->n[side];
            r->ids[side] = (const uint32_t *)(const void *)q;
            r->demb[side] = (const float *)(const void *)(q + n * sizeof(uint32_t));
            q += n * rec;
        }
    }

    if (tr->slots && !tr->xbox)
        s2s_dist_node_sync(); /* the slots are written: summed by the owners */
    else if (!tr->slots)
        s2s_dist_allreduce_sum(p->g + od, nd);
    tr->comm_bytes = (double)nd * sizeof(float) + (double)tr->counts[tr->rank];
}

/* Part k's dense range summed over the node's slots in rank order (the
 * order of the threads' sum) into this rank's slot, which owns the part. */
static void sum_slots(s2s_trainer *tr, int k)
{
    const s2s_params *p = &tr->model.params;
    size_t lo, hi, od = tr->model.off_dense;
    s2s_norm_part(p->n, k, &lo, &hi);
    if (lo < od) lo = od;
    if (lo >= hi) return;
    int L = tr->locals;
    const float *s0 = tr->slots;
    float *restrict g = p->g;
    if (tr->local == 0) {
        for (int u = 1; u < L; u++) {
            const float *restrict su = s0 + (size_t)u * tr->slot_stride;
            for (size_t i = lo; i < hi; i++) g[i] += su[i];
        }
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        float acc = s0[i];
        for (int u = 1; u < L; u++) acc += s0[(size_t)u * tr->slot_stride + i];
        g[i] = acc;
    }
}

/* Each thread's share of the batch goes through the recurrent weights in
 * products of a few rows, once per time step: up to this many rows the
 * weights are served from copies that are not repacked at every product
 * (core/frozen.c; same bits). Measured on SkylakeX, 1 thread, against the
 * BLAS: 1.5-1.7x at 32 rows, 1.15x at 64, even at 128. */
#define TRAIN_FEW_ROWS 96

/* With weights frozen for training: the copies the last step used are
 * repacked from its update, each of the team's threads a share. Called
 * by every thread of the team; returns after a barrier. */
static void refresh_frozen(const s2s_trainer *tr, int id, int team)
{
    if (!tr->frozen_w) return;
    s2s_phase(S2S_PH_OPTIM);
    s2s_gemm_frozen_refresh(tr->frozen_w, id, team);
    s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
#pragma omp single
    s2s_gemm_frozen_refreshed(tr->frozen_w);
}

/* What every step does first and last, with or without ranks. */
typedef struct step_head {
    long step;                 /* this step's number */
    int sgd;
    s2s_adam_k ak;             /* its Adam constants */
    size_t nrows;              /* lazy Adam: the batch's embedding rows */
    int blas;                  /* the BLAS's threads, given back at the end */
} step_head;

/* Rows split into `shares`, the BLAS on one thread (the step's own threads
 * call it), the step counted, and with lazy Adam this step's constants
 * kept for the rows it does not touch. */
static void step_begin(s2s_trainer *tr, const s2s_batch *b, int shares,
                       step_head *h)
{
    const s2s_config *c = &tr->cfg;
    s2s_phase(S2S_PH_OTHER);
    split_rows(&tr->model, b, shares, tr->start);
    h->blas = s2s_blas_get_threads();
    s2s_blas_set_threads(1);
    if (!tr->frozen_w &&
        s2s_gemm_freeze_training(tr->model.params.w, tr->model.params.n,
                                 TRAIN_FEW_ROWS) == 0)
        tr->frozen_w = tr->model.params.w;
    h->sgd = strcmp(c->train.optimizer, "sgd") == 0;
    h->step = ++tr->st.step;
    s2s_adam_cfg a = {tr->st.lr, c->train.beta1, c->train.beta2, c->train.eps};
    s2s_adam_prepare(&a, h->step, &h->ak);
    h->nrows = 0;
    if (tr->emb_upto) {
        if (tr->hist_n == tr->hist_cap) {
            tr->hist_cap = tr->hist_cap ? 2 * tr->hist_cap : 1024;
            tr->hist = s2s_xrealloc(tr->hist, tr->hist_cap * sizeof *tr->hist);
        }
        tr->hist[tr->hist_n++] = h->ak;
        h->nrows = batch_rows(tr, b, h->step);
    }
}

/* A skipped step (non-finite norm) is undone as if it had not been (the
 * caller says so); the rows read are marked up to date. The mean loss per
 * target token of the batch. */
static double step_end(s2s_trainer *tr, const s2s_batch *b, const step_head *h,
                       int skip, int shares)
{
    long step = h->step;
    s2s_phase(S2S_PH_OTHER);
    if (tr->frozen_w) s2s_gemm_frozen_changed(tr->frozen_w);
    tr->skipped = skip;
    if (skip) {
        step = --tr->st.step;
        if (tr->emb_upto) tr->hist_n--;
    }
    for (size_t j = 0; j < h->nrows; j++) tr->emb_upto[tr->rows[j]] = step;
    s2s_blas_set_threads(h->blas);
    double sum = 0;
    for (int k = 0; k < shares; k++) sum += tr->nll[k];
    s2s_phase_stop();
    return sum / (double)b->ntokens;
}

static double step_ranks(s2s_trainer *tr, const s2s_batch *b)
{
    const s2s_config *c = &tr->cfg;
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    int nt = tr->threads, first = tr->rank * nt, *start = tr->start;
    double *nll = tr->nll;
    float scale = 1.0f / (float)b->ntokens;
    float *g0 = p->g + m->off_dense;
    size_t od = m->off_dense;
    /* (the rows of the whole batch: the same set on every rank) */
    step_head h;
    step_begin(tr, b, tr->shares, &h);
    int skip = 0, sgd = h.sgd;
    long step = h.step;
    s2s_adam_k ak = h.ak;
    size_t nrows = h.nrows;
    double part[S2S_NORM_PARTS];
    float gscale = 1.0f;
    step_parts sp;
    sp.sparse = sgd || tr->emb_upto;
    if (nrows) {
        /* rows the forward pass reads, brought up to the last step (ranks
         * that share the parameters: each the parts it owns) */
        s2s_phase(S2S_PH_OPTIM);
#pragma omp parallel num_threads(nt)
        {
            size_t team = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
            for (size_t j = id; j < nrows; j += team)
                if (tr->emb_upto[tr->rows[j]] < step - 1)
                    replay_row(tr, tr->rows[j], step - 1);
        }
    }
    /* the node's ranks have written their parts: the last step's update
     * and this replay (a rank writes only its own parts, so one barrier
     * here serves both) */
    if (tr->locals > 1) {
        s2s_phase(S2S_PH_WAIT);
        s2s_dist_node_sync();
    }

#pragma omp parallel num_threads(nt)
    {
        int team = omp_get_num_threads(), id = omp_get_thread_num();
        refresh_frozen(tr, id, team);
        s2s_phase(S2S_PH_OTHER);
        for (int t = id; t < nt; t += team) {
            int k = first + t;
            s2s_seqs s = share_of(b, start[k], start[k + 1]);
            s2s_rng rng;
            step_rng(&rng, c->train.seed, step - 1, k);
            nll[k] = s2s_step_train_dense(m, tr->work[t], &s,
                                          t ? tr->grad[t] : g0, scale,
                                          c->train.teacher_forcing, &rng);
        }
        s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        if (nt > 1) {
            s2s_phase(S2S_PH_REDUCE);
            for (int k = id; k < S2S_NORM_PARTS; k += team) {
                size_t lo, hi;
                s2s_norm_part(p->n, k, &lo, &hi);
                if (lo < od) lo = od;
                if (lo < hi) reduce_range(tr, lo, hi);
            }
        }
        s2s_phase(S2S_PH_OTHER);
    }

    s2s_phase(S2S_PH_WAIT);
    double t0 = omp_get_wtime();
    exchange(tr);
    tr->comm_seconds = omp_get_wtime() - t0;
    s2s_phase(S2S_PH_OTHER);

    /* with slots each rank does its own parts only, and the node's ranks
     * pool the parts' sums of squares */
    int L = tr->slots ? tr->locals : 1, me = tr->slots ? tr->local : 0;
    for (int k = 0; k < S2S_NORM_PARTS; k++) sp.span[k] = NULL;
    if (tr->slots) {
        t0 = omp_get_wtime();
        s2s_phase(S2S_PH_REDUCE);
#pragma omp parallel for schedule(static, 1) num_threads(nt)
        for (int k = me; k < S2S_NORM_PARTS; k += L) sum_slots(tr, k);
        /* then with the ranks of the same index on the other nodes */
        for (int k = me; k < S2S_NORM_PARTS; k += L) {
            size_t lo, hi;
            s2s_norm_part(p->n, k, &lo, &hi);
            if (lo < od) lo = od;
            if (lo < hi) s2s_dist_peers_allreduce_sum(p->g + lo, hi - lo);
        }
        tr->comm_seconds += omp_get_wtime() - t0;
        s2s_phase(S2S_PH_OTHER);
    }
#pragma omp parallel num_threads(nt)
    {
        int team = omp_get_num_threads(), id = omp_get_thread_num();
        for (int k = me + id * L; k < S2S_NORM_PARTS; k += team * L)
            reduce_part(tr, k, 1, part, &sp, 0);
    }
    if (tr->slots) {
        s2s_phase(S2S_PH_WAIT);
        for (int k = me; k < S2S_NORM_PARTS; k += L) tr->part_sums[k] = part[k];
        t0 = omp_get_wtime();
        s2s_dist_node_sync();
        tr->comm_seconds += omp_get_wtime() - t0;
        for (int k = 0; k < S2S_NORM_PARTS; k++) part[k] = tr->part_sums[k];
    }
#pragma omp parallel num_threads(nt)
    {
        int team = omp_get_num_threads(), id = omp_get_thread_num();
        s2s_phase(S2S_PH_CLIP);
#pragma omp single nowait
        {
            double norm = s2s_grad_norm_of_parts(part);
            skip = !isfinite(norm);
            if (c->train.clip > 0 && !skip) gscale = s2s_clip_factor(norm, c->train.clip);
        }
        s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        /* the parts this rank updates (all, unless the node's ranks share
         * the parameters); the others are only cleared */
        for (int k = id; k < S2S_NORM_PARTS; k += team)
            update_part(tr, k, sgd, &ak, gscale, &sp,
                        skip || k % tr->locals != tr->local);
        s2s_phase(S2S_PH_WAIT);
    }
    /* (the parts written here are seen by the others after the barrier at
     * the start of the next step, or settle()) */
    return step_end(tr, b, &h, skip, tr->shares);
}

double s2s_trainer_step(s2s_trainer *tr, const s2s_batch *b)
{
    if (tr->ranks > 1) return step_ranks(tr, b);
    const s2s_config *c = &tr->cfg;
    const s2s_model *m = &tr->model;
    s2s_params *p = &tr->model.params;
    int nt = tr->threads, *start = tr->start;
    double *nll = tr->nll;
    float scale = 1.0f / (float)b->ntokens;
    float *g0 = p->g + m->off_dense;
    step_head h;
    step_begin(tr, b, nt, &h);
    /* the norm is always taken (it rides on the reduction): a non-finite
     * one skips the update, so parameters and moments stay finite */
    int want_norm = 1, skip = 0, sgd = h.sgd;
    long step = h.step;
    s2s_adam_k ak = h.ak;
    size_t nrows = h.nrows;
    double part[S2S_NORM_PARTS];
    float gscale = 1.0f;
    step_parts sp;
    sp.sparse = sgd || tr->emb_upto;

    /* Shares are fixed by the thread count asked for; should OpenMP give
     * fewer threads, each takes several shares, with the same results. */
#pragma omp parallel num_threads(nt)
    {
        int team = omp_get_num_threads(), id = omp_get_thread_num();
        if (nrows) {
            /* rows the forward pass reads, brought up to the last step */
            s2s_phase(S2S_PH_OPTIM);
            for (size_t j = (size_t)id; j < nrows; j += (size_t)team)
                if (tr->emb_upto[tr->rows[j]] < step - 1)
                    replay_row(tr, tr->rows[j], step - 1);
            s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        }
        refresh_frozen(tr, id, team);
        s2s_phase(S2S_PH_OTHER);
        for (int t = id; t < nt; t += team) {
            s2s_seqs s = share_of(b, start[t], start[t + 1]);
            s2s_rng rng;
            step_rng(&rng, c->train.seed, step - 1, t);
            nll[t] = s2s_step_train_dense(m, tr->work[t], &s,
                                          t ? tr->grad[t] : g0, scale,
                                          c->train.teacher_forcing, &rng);
        }
        s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        for (int k = id; k < S2S_NORM_PARTS; k += team)
            reduce_part(tr, k, want_norm, part, &sp, 1);
        s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        s2s_phase(S2S_PH_CLIP);
#pragma omp single nowait
        {
            double norm = s2s_grad_norm_of_parts(part);
            skip = !isfinite(norm);
            if (c->train.clip > 0 && !skip) gscale = s2s_clip_factor(norm, c->train.clip);
        }
        s2s_phase(S2S_PH_WAIT);
#pragma omp barrier
        /* (the barrier publishes gscale) */
        for (int k = id; k < S2S_NORM_PARTS; k += team)
            update_part(tr, k, sgd, &ak, gscale, &sp, skip);
        s2s_phase(S2S_PH_WAIT);
    }
    return step_end(tr, b, &h, skip, nt);
}

/* ------------------------------------------------------------------------
 * Evaluation */

double s2s_trainer_loss(s2s_trainer *tr, int split)
{
    const s2s_split *sp = &tr->data.split[split];
    s2s_trainer_sync(tr);
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

int s2s_trainer_freeze_for_decoding(s2s_trainer *tr)
{
    const float *w = tr->model.params.w;
    if (s2s_gemm_frozen_id(w, tr->model.params.n)) return 0;
    if (tr->frozen_w) {
        s2s_gemm_thaw(tr->frozen_w);
        tr->frozen_w = NULL;
    }
    return s2s_gemm_freeze(w, tr->model.params.n) == 0;
}

int s2s_trainer_score(s2s_trainer *tr, int split, const s2s_beam_opts *o,
                      s2s_scores *out, s2s_err *err)
{
    const s2s_split *sp = &tr->data.split[split];
    s2s_trainer_sync(tr);
    int froze = s2s_trainer_freeze_for_decoding(tr);
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
        s2s_beam_opts one;
        if (o) { one = *o; one.nbest = 1; } /* the best hypothesis only */
        s2s_decode_batch(&tr->model, tr->work, tr->threads, o ? &one : NULL, B,
                         src, maxT, len, cap, hyp, ld_out, hlen, NULL, NULL,
                         NULL, NULL, 0);
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
    if (froze) s2s_gemm_thaw(tr->model.params.w);
    (void)err;
    return 0;
}

/* ------------------------------------------------------------------------
 * The run */

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
    s2s_trainer_sync(tr);
    snprintf(path, sizeof path, "%s/%s", tr->cfg.train.run_dir, name);
    return s2s_checkpoint_save_subwords(path, &tr->cfg, tr->data.src_vocab,
                                        tr->data.tgt_vocab, tr->sub_src,
                                        tr->sub_tgt, tr->lex, &tr->model,
                                        &tr->st, err);
}

static FILE *open_metrics(const s2s_trainer *tr, char *path, size_t size,
                          s2s_err *err)
{
    snprintf(path, size, "%s/metrics.csv", tr->cfg.train.run_dir);
    /* a new file gets the header, also when resuming into a new run_dir */
    struct stat sb;
    int fresh = tr->st.step == 0 || stat(path, &sb) != 0 || sb.st_size == 0;
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
    if (with_bleu && tr->data.split[S2S_DEV].n) s2s_trainer_score(tr, S2S_DEV, NULL, &sc, NULL);
    if (with_bleu)
        s2s_progress_log(prog, "epoch %d: epoch train loss %.4f, dev loss %.4f, dev ppl %.3f, "
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
        tr->st.best_dev_bleu = with_bleu ? sc.bleu : NAN;
        tr->st.best_dev_chrf = with_bleu ? sc.chrf : NAN;
        tr->st.best_step = tr->st.step;
        tr->st.best_epoch = epoch;
        return save(tr, "best.ckpt", err);
    }
    if (tr->data.split[S2S_DEV].n == 0 && with_bleu)
        return save(tr, "best.ckpt", err); /* no dev split: best = last */
    return 0;
}

/* A 64-bit digest of what every rank must hold alike: parameters, Adam
 * moments, the position in training and what fixes the split of the
 * batches (seed, batch, threads). */
static uint64_t state_digest(const s2s_trainer *tr)
{
    const s2s_params *p = &tr->model.params;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)p->n;
    const float *bufs[3] = {p->w, p->m, p->v};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < p->n; i++) {
            uint32_t u;
            memcpy(&u, &bufs[k][i], sizeof u);
            h = (h ^ u) * 0x100000001B3ull;
            h ^= h >> 29;
        }
    h = (h ^ (uint64_t)tr->cfg.train.seed) * 0x100000001B3ull;
    h = (h ^ (uint64_t)tr->cfg.train.batch) * 0x100000001B3ull;
    h = (h ^ (uint64_t)tr->threads) * 0x100000001B3ull;
    h = (h ^ (uint64_t)tr->st.step) * 0x100000001B3ull;
    h = (h ^ (uint64_t)tr->st.batch) * 0x100000001B3ull;
    return (h ^ (uint64_t)tr->st.epoch) * 0x100000001B3ull;
}

/* Under MPI: fails (on every rank alike) unless every rank holds the same
 * model, optimiser state and position as rank 0. Lazily updated rows must
 * be brought up to date first (s2s_trainer_sync). */
static int check_ranks_agree(const s2s_trainer *tr, const char *when, s2s_err *err)
{
    if (tr->ranks == 1) return 0;
    uint64_t mine = state_digest(tr);
    uint64_t *all = s2s_xcalloc((size_t)tr->ranks, sizeof *all);
    s2s_dist_allgather(&mine, all, sizeof mine);
    int bad = -1;
    for (int q = 1; q < tr->ranks && bad < 0; q++)
        if (all[q] != all[0]) bad = q;
    free(all);
    if (bad < 0) return 0;
    return s2s_fail(err, "%s: rank %d holds other parameters, optimiser state, "
                    "seed, batch or thread count than rank 0 (every rank needs "
                    "the same data, run file, checkpoint and --threads)", when, bad);
}

/* Before rank 0 alone reads the parameters (to evaluate, to save): every
 * row brought up to date, and the last step's parts of every rank of the
 * node written. Collective: every rank calls it at the same point. */
static void settle(s2s_trainer *tr)
{
    s2s_trainer_sync(tr);
    if (tr->locals > 1) s2s_dist_node_sync();
}

/* Subword regularisation: the training pairs in pieces drawn anew for the
 * epoch in progress, from the seed and the epoch alone (a resumed run
 * draws what the uninterrupted one did). Nothing without sampling_alpha. */
static int resample(s2s_trainer *tr, s2s_err *err)
{
    const s2s_config *c = &tr->cfg;
    float alpha = c->tokenizer.sentencepiece.sampling_alpha;
    if (!tr->sub_src || alpha <= 0) return 0;
    unsigned seed = (unsigned)(c->train.seed * 1000003u + (uint64_t)tr->st.epoch * 7919u + 1);
    if (seed == UINT_MAX) seed = 1; /* SentencePiece's "no seed" */
    if (s2s_dataset_resample_subwords(&tr->data, S2S_TRAIN, tr->sub_src,
                                      tr->sub_tgt,
                                      c->tokenizer.sentencepiece.sampling_nbest,
                                      alpha, seed, err) < 0)
        return -1;
    s2s_batcher_lengths_changed(&tr->batcher);
    return 0;
}

int s2s_trainer_run(s2s_trainer *tr, FILE *log, s2s_err *err)
{
    const s2s_config *c = &tr->cfg;
    /* under MPI, rank 0 alone prints, evaluates and writes files; the
     * others train their shares and wait for it (s2s_trainer_sync first,
     * on every rank: it is collective when the node shares parameters) */
    int lead = tr->rank == 0, mpi = tr->ranks > 1;
    if (lead && s2s_make_dirs(c->train.run_dir, err) < 0) return -1;
    char csv[S2S_PATH_MAX + 32], svg[S2S_PATH_MAX + 32];
    FILE *metrics = NULL;
    if (lead && !(metrics = open_metrics(tr, csv, sizeof csv, err))) return -1;
    snprintf(svg, sizeof svg, "%s/curves.svg", c->train.run_dir);

    s2s_progress prog;
    s2s_progress_init(&prog, lead ? log : NULL,
                      lead ? S2S_PROGRESS_AUTO : S2S_PROGRESS_QUIET,
                      c->train.log_every);
    char stale[S2S_PATH_MAX + 64];
    int n_stale = lead ? s2s_ckpt_remove_stale(c->train.run_dir, stale, sizeof stale) : 0;
    if (n_stale > 0)
        s2s_progress_log(&prog, "removed %d temporary file%s of processes that no "
                         "longer run (%s%s)", n_stale, n_stale > 1 ? "s" : "", stale,
                         n_stale > 1 ? ", ..." : "");
    double last_save = omp_get_wtime();
    size_t nb = s2s_batcher_count(&tr->batcher);
    if (c->train.max_steps > 0) {
        s2s_progress_set_total_steps(&prog, c->train.max_steps);
        s2s_progress_set_steps_done(&prog, tr->st.step);
    }
    s2s_progress_log(&prog, "training %zu pairs, %zu batches/epoch, %zu parameters, %d threads",
                     tr->data.split[S2S_TRAIN].n, nb, tr->model.params.n, tr->threads);
    char blas[384];
    s2s_progress_log(&prog, "%s; the %d training threads call it with 1 thread each",
                     s2s_blas_describe(blas, sizeof blas), tr->threads);
    if (mpi)
        s2s_progress_log(&prog, "MPI: %d ranks x %d threads; each step sums %zu dense "
                         "gradient floats across ranks and gathers every share's "
                         "embedding rows", tr->ranks, tr->threads,
                         tr->model.params.n - tr->model.off_dense);
    if (tr->own_w)
        s2s_progress_log(&prog, "MPI: the %d ranks on this node share the parameters "
                         "and Adam moments and split the optimiser step", tr->locals);
    double comm_sum = 0, comm_secs = 0, comm_wait = 0, step_secs = 0;
    long comm_steps = 0;
    if (tr->data.split[S2S_DEV].n == 0)
        s2s_progress_log(&prog, "warning: no dev split, so no dev figures; best.ckpt "
                         "will be the last checkpoint");

    if (tr->resume_changes[0])
        s2s_progress_log(&prog, "resuming with these run-file changes applied: %s",
                         tr->resume_changes);
    int rc = 0, bad_in_row = 0;
    stop_requested = 0;
    while (tr->st.epoch < c->train.epochs &&
           (c->train.max_steps <= 0 || tr->st.step < c->train.max_steps)) {
        int epoch = tr->st.epoch + 1; /* 1-based, for people */
        if (resample(tr, err) < 0) {
            rc = -1;
            goto out;
        }
        s2s_progress_begin_epoch(&prog, epoch, c->train.epochs, (long)nb);
        double loss_sum = 0, win_sum = 0;
        size_t loss_n = 0, win_n = 0, tok = 0;
        double t0 = omp_get_wtime();
        while (tr->st.batch < nb &&
               (c->train.max_steps <= 0 || tr->st.step < c->train.max_steps)) {
            s2s_batcher_get(&tr->batcher, (uint64_t)tr->st.epoch, tr->st.batch, &tr->batch);
            tr->want_save = c->train.save_every_minutes > 0 &&
                            omp_get_wtime() - last_save >= 60.0 * c->train.save_every_minutes;
            double ts = omp_get_wtime();
            double loss = s2s_trainer_step(tr, &tr->batch);
            if (mpi) {
                step_secs += omp_get_wtime() - ts;
                comm_secs += tr->comm_seconds;
                comm_wait += tr->comm_wait;
                comm_sum += tr->comm_bytes;
                comm_steps++;
            }
            if (tr->skipped) {
                s2s_progress_log(&prog, "warning: step skipped at epoch %d batch %llu: "
                                 "the gradient norm is not finite (loss %g)", epoch,
                                 (unsigned long long)tr->st.batch + 1, loss);
                if (++bad_in_row >= S2S_MAX_SKIPPED_STEPS) {
                    s2s_progress_finish(&prog);
                    rc = s2s_fail(err, "training diverged: %d steps in a row had a "
                                  "non-finite gradient norm (epoch %d, step %ld); "
                                  "lower train.lr or set train.clip; the last "
                                  "checkpoint is kept", bad_in_row, epoch, tr->st.step);
                    goto out;
                }
                tr->st.batch++;
                continue;
            }
            bad_in_row = 0;
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
            if (tr->st.batch % (uint64_t)c->train.log_every == 0) {
                /* a train-loss point for the curves, dev columns empty: the
                 * mean over the same window as the log's "loss" (the
                 * progress reporter's windows end at the same batches) */
                if (metrics)
                    fprintf(metrics, "%d,%ld,%.6f,,,,%.1f,%.8g,\n", epoch, tr->st.step,
                            win_sum / win_n, tps, tr->st.lr);
                win_sum = 0;
                win_n = 0;
            }
            if (mpi ? tr->stop : stop_requested) {
                /* nothing is lost: the position is saved mid-epoch and
                 * --resume continues exactly from here (under MPI every
                 * rank stops after the same step: the flags went with it) */
                s2s_progress_finish(&prog);
                settle(tr);
                if (lead && save(tr, "last.ckpt", err) < 0) {
                    rc = -1;
                    goto out;
                }
                s2s_dist_barrier();
                rc = S2S_TRAIN_STOPPED;
                s2s_fail(err, "stopped at epoch %d, step %ld; saved %s/last.ckpt "
                         "(continue with: s2s train %s --resume)", epoch,
                         tr->st.step, c->train.run_dir,
                         c->source_file[0] ? c->source_file : "RUN.yaml");
                goto out;
            }
            /* periodic last.ckpt, so a crash loses little; at the end of the
             * epoch it is saved anyway */
            if (tr->st.batch < nb &&
                ((c->train.save_every > 0 && tr->st.step % c->train.save_every == 0) ||
                 (mpi ? tr->save_due
                      : c->train.save_every_minutes > 0 &&
                            omp_get_wtime() - last_save >= 60.0 * c->train.save_every_minutes))) {
                settle(tr);
                if (lead && save(tr, "last.ckpt", err) < 0) {
                    s2s_progress_finish(&prog);
                    rc = -1;
                    goto out;
                }
                s2s_dist_barrier();
                last_save = omp_get_wtime();
            }
            if (c->train.eval_every > 0 && tr->st.step % c->train.eval_every == 0 &&
                tr->st.batch < nb &&
                (c->train.max_steps <= 0 || tr->st.step < c->train.max_steps)) {
                settle(tr);
                if (lead && evaluate(tr, &prog, metrics, epoch, loss_sum / loss_n, tps, 0,
                                     err) < 0) {
                    rc = -1;
                    goto out;
                }
                s2s_dist_barrier();
            }
        }
        double secs = omp_get_wtime() - t0;
        s2s_progress_end_epoch(&prog);
        if (tr->st.batch >= nb) {
            tr->st.epoch++;
            tr->st.batch = 0;
        }
        if (tr->st.batch == 0) tr->st.lr *= c->train.lr_decay;
        settle(tr);
        if (check_ranks_agree(tr, "after an epoch", err) < 0 ||
            (lead && (evaluate(tr, &prog, metrics, epoch, loss_n ? loss_sum / loss_n : NAN,
                               secs > 0 ? tok / secs : 0, 1, err) < 0 ||
                      save(tr, "last.ckpt", err) < 0))) {
            rc = -1;
            goto out;
        }
        if (mpi && comm_steps)
            s2s_progress_log(&prog, "MPI: %.3f MB per step per rank into the reductions "
                             "(dense gradient %.3f MB + embedding rows); reductions "
                             "%.1f ms of %.1f ms per step (%.1f%%, of which %.1f ms "
                             "waiting for the slowest rank)",
                             comm_sum / comm_steps / 1e6,
                             (double)(tr->model.params.n - tr->model.off_dense) *
                                 sizeof(float) / 1e6,
                             1e3 * comm_secs / comm_steps, 1e3 * step_secs / comm_steps,
                             step_secs > 0 ? 100 * comm_secs / step_secs : 0,
                             1e3 * comm_wait / comm_steps);
        s2s_dist_barrier();
        last_save = omp_get_wtime();
        /* finite but absurd: worse than guessing uniformly over the
         * target vocabulary means the run diverged */
        double uniform = logf((float)tr->model.V_tgt);
        if (loss_n && loss_sum / loss_n > uniform + 1.0)
            s2s_progress_log(&prog, "warning: epoch %d's training loss %.4g is above "
                             "%.4g, the loss of a uniform guess over the %d target "
                             "words: the run has diverged; lower train.lr or set "
                             "train.clip", epoch, loss_sum / loss_n, uniform,
                             tr->model.V_tgt);
    }
    s2s_progress_log(&prog, "checkpoints: %s/last.ckpt, %s/best.ckpt; metrics: %s",
                     c->train.run_dir, c->train.run_dir, csv);
out:
    if (metrics && fclose(metrics) != 0 && rc == 0)
        rc = s2s_fail(err, "%s: %s", csv, strerror(errno));
    if (rc == 0 && lead) {
        s2s_err perr;
        if (s2s_plot_svg(csv, svg, &perr) < 0)
            s2s_progress_log(&prog, "warning: no curves: %s", perr.msg);
        else
            s2s_progress_log(&prog, "curves: %s", svg);
    }
    return rc;
}
