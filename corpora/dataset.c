/* corpora/dataset.c — loads a parallel corpus into vocabularies and
 * train / dev / test splits of ids (see dataset.h): read, tokenize,
 * filter, split, count train tokens, build or copy the vocabularies, map
 * tokens to ids.
 */
#include "corpora/dataset.h"

#include "core/file.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "corpora/reader.h"

void s2s_data_spec_defaults(s2s_data_spec *s)
{
    memset(s, 0, sizeof *s);
    s->src_column = 2;
    s->tgt_column = 1;
    s->split_every = 50;
    s->min_len = 1;
    s->max_len = 10;
    s->min_count = 2;
    s->max_vocab = 0;
    s->skip_invalid_utf8 = 0;
    s->tok = S2S_TOK_OPTS_DEFAULT;
}

static int given(const char *p)
{
    return p && *p;
}

/* ------------------------------------------------------------ split builder */

/* A split while it is being read: token strings in one arena, addressed
 * by offsets (the arena moves as it grows); pointers and ids come after. */
typedef struct {
    size_t n, cap;
    size_t *line;
    uint32_t *src_len, *tgt_len;
    size_t *src_off, *tgt_off;
    /* tokens of both sides: start in arena, byte length */
    size_t *src_toff, *tgt_toff;
    uint32_t *src_tlen, *tgt_tlen;
    size_t nsrc, ntgt, src_tcap, tgt_tcap;
    char *arena;
    size_t arena_len, arena_cap;
    /* with keep_text: each pair's text, by offset into raw */
    size_t *src_roff, *tgt_roff, rcap;
    char *raw;
    size_t raw_len, raw_cap;
} builder;

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    *cap = c;
    return s2s_xrealloc(p, c * elem);
}

static void builder_free(builder *b)
{
    free(b->line);
    free(b->src_len);
    free(b->tgt_len);
    free(b->src_off);
    free(b->tgt_off);
    free(b->src_toff);
    free(b->tgt_toff);
    free(b->src_tlen);
    free(b->tgt_tlen);
    free(b->arena);
    free(b->src_roff);
    free(b->tgt_roff);
    free(b->raw);
    memset(b, 0, sizeof *b);
}

/* Keeps one side's text (len bytes) of the pair just added. */
static size_t add_raw(builder *b, const char *text, size_t len)
{
    b->raw = grow(b->raw, &b->raw_cap, b->raw_len + len + 1, 1);
    size_t at = b->raw_len;
    memcpy(b->raw + at, text, len);
    b->raw[at + len] = '\0';
    b->raw_len += len + 1;
    return at;
}

/* Appends tokens of t to one side. */
static void add_side(builder *b, const s2s_tokens *t, size_t **toff,
                     uint32_t **tlen, size_t *ntok, size_t *tcap)
{
    size_t c = *tcap;
    *toff = grow(*toff, &c, *ntok + t->n, sizeof **toff);
    c = *tcap;
    *tlen = grow(*tlen, &c, *ntok + t->n, sizeof **tlen);
    *tcap = c;
    size_t bytes = 0;
    for (size_t k = 0; k < t->n; k++)
        bytes += t->len[k] + 1;
    b->arena = grow(b->arena, &b->arena_cap, b->arena_len + bytes, 1);
    for (size_t k = 0; k < t->n; k++) {
        (*toff)[*ntok] = b->arena_len;
        (*tlen)[*ntok] = t->len[k];
        (*ntok)++;
        memcpy(b->arena + b->arena_len, t->buf + t->off[k], t->len[k] + 1);
        b->arena_len += t->len[k] + 1;
    }
}

static void builder_add(builder *b, size_t line, const s2s_tokens *src,
                        const s2s_tokens *tgt, const s2s_raw_pair *raw)
{
    if (raw) {
        size_t c = b->rcap;
        b->src_roff = grow(b->src_roff, &c, b->n + 1, sizeof *b->src_roff);
        c = b->rcap;
        b->tgt_roff = grow(b->tgt_roff, &c, b->n + 1, sizeof *b->tgt_roff);
        b->rcap = c;
        b->src_roff[b->n] = add_raw(b, raw->src, raw->src_len);
        b->tgt_roff[b->n] = add_raw(b, raw->tgt, raw->tgt_len);
    }
    if (b->n == b->cap) {
        size_t c = b->cap ? 2 * b->cap : 1024;
        b->line = s2s_xrealloc(b->line, c * sizeof *b->line);
        b->src_len = s2s_xrealloc(b->src_len, c * sizeof *b->src_len);
        b->tgt_len = s2s_xrealloc(b->tgt_len, c * sizeof *b->tgt_len);
        b->src_off = s2s_xrealloc(b->src_off, c * sizeof *b->src_off);
        b->tgt_off = s2s_xrealloc(b->tgt_off, c * sizeof *b->tgt_off);
        b->cap = c;
    }
    size_t k = b->n++;
    b->line[k] = line;
    b->src_len[k] = (uint32_t)src->n;
    b->tgt_len[k] = (uint32_t)tgt->n;
    b->src_off[k] = b->nsrc;
    b->tgt_off[k] = b->ntgt;
    add_side(b, src, &b->src_toff, &b->src_tlen, &b->nsrc, &b->src_tcap);
    add_side(b, tgt, &b->tgt_toff, &b->tgt_tlen, &b->ntgt, &b->tgt_tcap);
}

/* Turns a finished builder into a split: ids from the vocabularies,
 * pointers into the arena (which the split takes over). */
static void builder_finish(builder *b, const char *file, const s2s_vocab *vs,
                           const s2s_vocab *vt, s2s_split *s,
                           size_t *src_unk, size_t *tgt_unk)
{
    memset(s, 0, sizeof *s);
    s->n = b->n;
    s->file = s2s_xstrdup(file);
    s->line = b->line;
    s->src_len = b->src_len;
    s->tgt_len = b->tgt_len;
    s->src_off = b->src_off;
    s->tgt_off = b->tgt_off;
    s->text = b->arena;
    s->n_src_tokens = b->nsrc;
    s->n_tgt_tokens = b->ntgt;
    /* +1: never a zero-size malloc for an empty split */
    s->src_ids = s2s_xmalloc((b->nsrc + 1) * sizeof *s->src_ids);
    s->tgt_ids = s2s_xmalloc((b->ntgt + 1) * sizeof *s->tgt_ids);
    s->src_tok = s2s_xmalloc((b->nsrc + 1) * sizeof *s->src_tok);
    s->tgt_tok = s2s_xmalloc((b->ntgt + 1) * sizeof *s->tgt_tok);
    for (size_t j = 0; j < b->nsrc; j++) {
        const char *t = b->arena + b->src_toff[j];
        s->src_tok[j] = t;
        s->src_ids[j] = s2s_vocab_id(vs, t, b->src_tlen[j]);
        *src_unk += s->src_ids[j] == S2S_UNK;
    }
    for (size_t j = 0; j < b->ntgt; j++) {
        const char *t = b->arena + b->tgt_toff[j];
        s->tgt_tok[j] = t;
        s->tgt_ids[j] = s2s_vocab_id(vt, t, b->tgt_tlen[j]);
        *tgt_unk += s->tgt_ids[j] == S2S_UNK;
    }
    if (b->src_roff) {
        s->raw = b->raw;
        s->src_text = s2s_xmalloc((b->n + 1) * sizeof *s->src_text);
        s->tgt_text = s2s_xmalloc((b->n + 1) * sizeof *s->tgt_text);
        for (size_t k = 0; k < b->n; k++) {
            s->src_text[k] = b->raw + b->src_roff[k];
            s->tgt_text[k] = b->raw + b->tgt_roff[k];
        }
    } else {
        free(b->raw);
    }
    free(b->src_roff);
    free(b->tgt_roff);
    free(b->src_toff);
    free(b->tgt_toff);
    free(b->src_tlen);
    free(b->tgt_tlen);
    memset(b, 0, sizeof *b);
}

static void split_free(s2s_split *s)
{
    free((char *)s->file);
    free(s->line);
    free(s->src_len);
    free(s->tgt_len);
    free(s->src_off);
    free(s->tgt_off);
    free(s->src_ids);
    free(s->tgt_ids);
    free(s->src_tok);
    free(s->tgt_tok);
    free(s->text);
    free(s->src_text);
    free(s->tgt_text);
    free(s->raw);
    free(s->ref_len);
    free(s->ref_off);
    free(s->ref_tok);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ reading */

typedef struct {
    const s2s_data_spec *spec;
    builder b[S2S_NUM_SPLITS];
    s2s_counter *src_count, *tgt_count; /* NULL with fixed vocabularies */
    s2s_tokens src, tgt;
} loader;

/* Reads one input file into the builders. `which` is the split a file
 * given for dev or test feeds; S2S_TRAIN for the train file, whose kept
 * pairs are distributed by split_every. */
static int read_input(loader *L, int which, const char *path,
                      const char *target, s2s_read_stats *st, s2s_err *err)
{
    const s2s_data_spec *sp = L->spec;
    s2s_reader r;
    if (s2s_reader_open_max(&r, path, target, sp->src_column, sp->tgt_column,
                            sp->skip_invalid_utf8,
                            sp->max_line ? sp->max_line : S2S_MAX_LINE_DEFAULT,
                            err) < 0)
        return -1;
    free((char *)st->file);
    st->file = s2s_xstrdup(path);
    int dev_from_train = !given(sp->dev), test_from_train = !given(sp->test);
    size_t min_len = sp->min_len > 0 ? (size_t)sp->min_len : 0;
    size_t max_len = sp->max_len > 0 ? (size_t)sp->max_len : 0;
    s2s_raw_pair p;
    int rc;
    while ((rc = s2s_reader_next(&r, &p, err)) == 1) {
        if (p.blank) {
            st->blank++;
            continue;
        }
        if (s2s_tokenize(&sp->tok, p.src, p.src_len, &L->src, err) < 0 ||
            s2s_tokenize(&sp->tok, p.tgt, p.tgt_len, &L->tgt, err) < 0) {
            s2s_fail_prefix(err, "%s:%zu", path, p.line);
            rc = -1;
            break;
        }
        size_t ns = L->src.n, nt = L->tgt.n;
        if (ns == 0 || nt == 0) {
            st->empty++;
            continue;
        }
        if (max_len && (ns > max_len || nt > max_len)) {
            st->too_long++;
            continue;
        }
        if (ns < min_len || nt < min_len) {
            st->too_short++;
            continue;
        }
        size_t i = st->kept++;
        int to = which;
        if (which == S2S_TRAIN && sp->split_every > 0) {
            size_t m = i % (size_t)sp->split_every;
            if (m == 0 && test_from_train)
                to = S2S_TEST;
            else if (m == 1 && dev_from_train)
                to = S2S_DEV;
        }
        if (to == S2S_TRAIN && L->src_count) {
            s2s_counter_add_tokens(L->src_count, &L->src);
            s2s_counter_add_tokens(L->tgt_count, &L->tgt);
        }
        builder_add(&L->b[to], p.line, &L->src, &L->tgt,
                    sp->keep_text ? &p : NULL);
    }
    st->lines = r.lines;
    st->invalid_utf8 = r.invalid_utf8;
    s2s_reader_close(&r);
    return rc < 0 ? -1 : 0;
}

int s2s_dataset_load(const s2s_data_spec *sp, const s2s_vocab *fixed_src,
                     const s2s_vocab *fixed_tgt, s2s_dataset *out,
                     s2s_err *err)
{
    memset(out, 0, sizeof *out);
    out->tok = sp->tok;
    if (!given(sp->train))
        return s2s_fail(err, "data: no training corpus given");
    if (!fixed_src != !fixed_tgt)
        return s2s_fail(err, "data: fixed vocabularies must be given for "
                        "both sides or neither");
    if (sp->split_every < 0 || sp->min_len < 0 || sp->max_len < 0)
        return s2s_fail(err, "data: split_every, min_len and max_len must "
                        "be >= 0 (got %d, %d, %d)", sp->split_every,
                        sp->min_len, sp->max_len);
    if (sp->max_len > 0 && sp->min_len > sp->max_len)
        return s2s_fail(err, "data: min_len %d is above max_len %d",
                        sp->min_len, sp->max_len);
    if (given(sp->dev_target) && !given(sp->dev))
        return s2s_fail(err, "data: dev_target given without dev");
    if (given(sp->test_target) && !given(sp->test))
        return s2s_fail(err, "data: test_target given without test");

    loader L;
    memset(&L, 0, sizeof L);
    L.spec = sp;
    s2s_tokens_init(&L.src);
    s2s_tokens_init(&L.tgt);
    if (!fixed_src) {
        L.src_count = s2s_counter_new();
        L.tgt_count = s2s_counter_new();
    }
    int rc = read_input(&L, S2S_TRAIN, sp->train, sp->train_target,
                        &out->stats[S2S_TRAIN], err);
    if (rc == 0 && given(sp->dev))
        rc = read_input(&L, S2S_DEV, sp->dev, sp->dev_target,
                        &out->stats[S2S_DEV], err);
    if (rc == 0 && given(sp->test))
        rc = read_input(&L, S2S_TEST, sp->test, sp->test_target,
                        &out->stats[S2S_TEST], err);
    if (rc == 0 && !fixed_src && L.b[S2S_TRAIN].n == 0)
        rc = s2s_fail(err, "%s: no training pairs left after filtering "
                      "(%zu lines read)", sp->train,
                      out->stats[S2S_TRAIN].lines);

    if (rc == 0) {
        if (fixed_src) {
            out->src_vocab = s2s_vocab_clone(fixed_src);
            out->tgt_vocab = s2s_vocab_clone(fixed_tgt);
            out->fixed_vocab = 1;
        } else {
            out->src_vocab =
                s2s_vocab_build(L.src_count, sp->min_count, sp->max_vocab);
            out->tgt_vocab =
                s2s_vocab_build(L.tgt_count, sp->min_count, sp->max_vocab);
        }
        const char *files[S2S_NUM_SPLITS] = {sp->train, sp->train,
                                             sp->train};
        if (given(sp->dev))
            files[S2S_DEV] = sp->dev;
        if (given(sp->test))
            files[S2S_TEST] = sp->test;
        for (int k = 0; k < S2S_NUM_SPLITS; k++)
            builder_finish(&L.b[k], files[k], out->src_vocab,
                           out->tgt_vocab, &out->split[k], &out->src_unk,
                           &out->tgt_unk);
    }
    for (int k = 0; k < S2S_NUM_SPLITS; k++)
        builder_free(&L.b[k]);
    s2s_counter_free(L.src_count);
    s2s_counter_free(L.tgt_count);
    s2s_tokens_free(&L.src);
    s2s_tokens_free(&L.tgt);
    return rc;
}

void s2s_dataset_free(s2s_dataset *d)
{
    s2s_vocab_free(d->src_vocab);
    s2s_vocab_free(d->tgt_vocab);
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        split_free(&d->split[k]);
        free((char *)d->stats[k].file);
    }
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------ subwords */

/* One side of split s in pieces: lengths, offsets, ids and piece strings
 * replaced; *unk counts ids that are <unk>. alpha > 0 samples each
 * segmentation (s2s_subword_sample); `again`: the split is in pieces
 * already (its references moved before). */
static int encode_side(s2s_split *s, int target, s2s_subword *sw,
                       const s2s_vocab *v, int nbest, float alpha, int again,
                       size_t *unk, s2s_err *err)
{
    const char **text = target ? s->tgt_text : s->src_text;
    uint32_t *len = s2s_xmalloc((s->n + 1) * sizeof *len);
    size_t *off = s2s_xmalloc((s->n + 1) * sizeof *off);
    uint32_t *ids = NULL, *one = NULL;
    size_t cap = 0, one_cap = 0, total = 0;
    for (size_t k = 0; k < s->n; k++) {
        size_t m;
        if (s2s_subword_sample(sw, text[k], strlen(text[k]), nbest, alpha,
                               &one, &one_cap, &m, err) < 0) {
            s2s_fail_prefix(err, "%s:%zu", s->file, s->line[k]);
            free(len); free(off); free(ids); free(one);
            return -1;
        }
        ids = grow(ids, &cap, total + m + 1, sizeof *ids);
        memcpy(ids + total, one, m * sizeof *one);
        len[k] = (uint32_t)m;
        off[k] = total;
        total += m;
    }
    free(one);
    ids = grow(ids, &cap, total + 1, sizeof *ids);
    const char **tok = s2s_xmalloc((total + 1) * sizeof *tok);
    for (size_t j = 0; j < total; j++) {
        tok[j] = s2s_vocab_token(v, ids[j]);
        *unk += ids[j] == S2S_UNK;
    }
    if (target && again) {
        free(s->tgt_len); free(s->tgt_off); free(s->tgt_ids); free(s->tgt_tok);
        s->tgt_len = len; s->tgt_off = off; s->tgt_ids = ids; s->tgt_tok = tok;
        s->n_tgt_tokens = total;
    } else if (target) {
        /* the word tokens become the references */
        s->ref_len = s->tgt_len;
        s->ref_off = s->tgt_off;
        s->ref_tok = s->tgt_tok;
        s->n_ref_tokens = s->n_tgt_tokens;
        free(s->tgt_ids);
        s->tgt_len = len; s->tgt_off = off; s->tgt_ids = ids; s->tgt_tok = tok;
        s->n_tgt_tokens = total;
    } else {
        free(s->src_len); free(s->src_off); free(s->src_ids); free(s->src_tok);
        s->src_len = len; s->src_off = off; s->src_ids = ids; s->src_tok = tok;
        s->n_src_tokens = total;
    }
    return 0;
}

int s2s_dataset_use_subwords(s2s_dataset *d, s2s_subword *src,
                             s2s_subword *tgt, s2s_err *err)
{
    if (d->subwords)
        return s2s_fail(err, "the dataset is in subword units already");
    for (int k = 0; k < S2S_NUM_SPLITS; k++)
        if (d->split[k].n && !d->split[k].src_text)
            return s2s_fail(err, "%s: the dataset was loaded without "
                            "keep_text", d->split[k].file);
    s2s_vocab_free(d->src_vocab);
    s2s_vocab_free(d->tgt_vocab);
    d->src_vocab = s2s_vocab_clone(s2s_subword_vocab(src));
    d->tgt_vocab = s2s_vocab_clone(s2s_subword_vocab(tgt));
    d->fixed_vocab = 1;
    d->subwords = 1;
    d->src_unk = d->tgt_unk = 0;
    d->src_words = d->tgt_words = 0;
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        s2s_split *s = &d->split[k];
        d->src_words += s->n_src_tokens;
        d->tgt_words += s->n_tgt_tokens;
        if (encode_side(s, 0, src, d->src_vocab, 0, 0.0f, 0, &d->src_unk, err) < 0 ||
            encode_side(s, 1, tgt, d->tgt_vocab, 0, 0.0f, 0, &d->tgt_unk, err) < 0)
            return -1;
    }
    return 0;
}

typedef struct {
    s2s_dataset *d;
    int split, nbest;
    s2s_subword *src, *tgt;
    float alpha;
    unsigned seed;
    s2s_err *err;
    int rc;
} resample_job;

static void *resample_run(void *arg)
{
    resample_job *j = arg;
    s2s_split *s = &j->d->split[j->split];
    size_t unk = 0;
    s2s_spm_seed(j->seed);
    j->rc = encode_side(s, 0, j->src, j->d->src_vocab, j->nbest, j->alpha, 1,
                        &unk, j->err) < 0 ||
                    encode_side(s, 1, j->tgt, j->d->tgt_vocab, j->nbest,
                                j->alpha, 1, &unk, j->err) < 0
                ? -1
                : 0;
    return NULL;
}

int s2s_dataset_resample_subwords(s2s_dataset *d, int split, s2s_subword *src,
                                  s2s_subword *tgt, int nbest, float alpha,
                                  unsigned seed, s2s_err *err)
{
    if (!d->subwords)
        return s2s_fail(err, "the dataset is not in subword units");
    /* SentencePiece draws from a generator each thread seeds once, at its
     * first draw: a new thread per call makes the draws depend on `seed`
     * alone, not on what this process sampled before (a resumed run
     * samples as the uninterrupted one did) */
    resample_job j = {d, split, nbest, src, tgt, alpha, seed, err, -1};
    pthread_t th;
    if (pthread_create(&th, NULL, resample_run, &j) != 0)
        return s2s_fail(err, "cannot start a thread to re-encode the %s split",
                        d->split[split].file);
    pthread_join(th, NULL);
    return j.rc;
}

/* ------------------------------------------------------------ summary */

static double pct(size_t a, size_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

void s2s_dataset_summary(const s2s_dataset *d, FILE *f)
{
    static const char *names[S2S_NUM_SPLITS] = {"train", "dev", "test"};
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        const s2s_read_stats *s = &d->stats[k];
        if (!s->file)
            continue;
        fprintf(f, "data: %s: %zu lines, %zu pairs kept; skipped: %zu too "
                "long, %zu too short, %zu with an empty side, %zu blank, "
                "%zu invalid UTF-8\n", s->file, s->lines, s->kept,
                s->too_long, s->too_short, s->empty, s->blank,
                s->invalid_utf8);
    }
    fprintf(f, "data: splits:");
    for (int k = 0; k < S2S_NUM_SPLITS; k++)
        fprintf(f, " %s %zu (%zu source, %zu target tokens)%s", names[k],
                d->split[k].n, d->split[k].n_src_tokens,
                d->split[k].n_tgt_tokens, k + 1 < S2S_NUM_SPLITS ? "," : "\n");
    size_t ns = 0, nt = 0;
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        ns += d->split[k].n_src_tokens;
        nt += d->split[k].n_tgt_tokens;
    }
    if (d->subwords)
        fprintf(f, "data: SentencePiece pieces: %.3f per source word, %.3f "
                "per target word (%zu / %zu words)\n",
                d->src_words ? (double)ns / (double)d->src_words : 0.0,
                d->tgt_words ? (double)nt / (double)d->tgt_words : 0.0,
                d->src_words, d->tgt_words);
    if (d->src_vocab)
        fprintf(f, "data: vocabularies (%s): source %u, target %u entries; "
                "<unk> %.2f%% of source, %.2f%% of target tokens\n",
                d->subwords ? "SentencePiece"
                : d->fixed_vocab ? "given" : "built from train",
                s2s_vocab_size(d->src_vocab), s2s_vocab_size(d->tgt_vocab),
                pct(d->src_unk, ns), pct(d->tgt_unk, nt));
}
