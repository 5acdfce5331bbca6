/* seq2seq/translator.c — the public API (s2s.h): a checkpoint loaded for
 * translation, the tokenizer in front and the detokeniser behind. */
#include "seq2seq/s2s.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kernels.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/decode.h"
#include "tokenizer/detok.h"
#include "tokenizer/tokenizer.h"

/* Source tokens decoded together at most (memory for the encoder's
 * states grows with it). */
#define GROUP_TOKENS 8192

struct s2s_translator {
    s2s_loaded ck;
    s2s_tok_opts tok;
    int threads;
    s2s_work **work;
    s2s_tokens tokens;
    char *last_src, *last_out;
    float *last_attn;          /* (last_n_out x last_n_src) */
    int last_n_out, last_n_src;
    s2s_beam_opts beam;        /* from the checkpoint's decode section */
    uint32_t *pid;   /* subword units: the ids of the sentence in `tokens` */
    size_t pid_cap;
};

s2s_translator *s2s_translator_open(const char *path, int threads,
                                    s2s_err *err)
{
    s2s_translator *t = s2s_xcalloc(1, sizeof *t);
    if (s2s_checkpoint_load(path, &t->ck, err) < 0) {
        free(t);
        return NULL;
    }
    t->tok.nfkc = t->ck.cfg.tokenizer.nfkc;
    t->tok.lowercase = t->ck.cfg.tokenizer.lowercase;
    t->tok.split_punct = t->ck.cfg.tokenizer.split_punct;
    t->threads = threads > 0 ? threads : omp_get_num_procs();
    t->work = s2s_xcalloc((size_t)t->threads, sizeof *t->work);
    for (int i = 0; i < t->threads; i++) t->work[i] = s2s_work_new(&t->ck.model);
    /* the weights never change from here: few-row products (beam search)
     * may keep transposed copies (core/frozen.c); no room is no harm */
    (void)s2s_gemm_freeze(t->ck.model.params.w, t->ck.model.params.n);
    s2s_tokens_init(&t->tokens);
    s2s_beam_opts_of(&t->ck.cfg, &t->beam);
    t->beam.shortlist = t->ck.lex;
    if (s2s_translator_set_shortlist(t, t->beam.shortlist_per_word, err) < 0) {
        s2s_fail_prefix(err, "%s: decode.shortlist is %d", path,
                        t->beam.shortlist_per_word);
        s2s_translator_close(t);
        return NULL;
    }
    return t;
}

void s2s_translator_close(s2s_translator *t)
{
    if (!t) return;
    s2s_gemm_thaw(t->ck.model.params.w);
    for (int i = 0; i < t->threads; i++) s2s_work_free(t->work[i]);
    free(t->work);
    s2s_tokens_free(&t->tokens);
    s2s_loaded_free(&t->ck);
    free(t->pid);
    free(t->last_src);
    free(t->last_out);
    free(t->last_attn);
    free(t);
}

/* Subword units: text -> ids in t->pid and the pieces in t->tokens (for
 * s2s_last_source_tokens and the token count). */
static int encode_pieces(s2s_translator *t, const char *text, s2s_err *e)
{
    size_t n;
    if (s2s_subword_encode(t->ck.sub_src, text, strlen(text), &t->pid,
                           &t->pid_cap, &n, e) < 0)
        return -1;
    /* the pieces, space-joined, through the tokenizer's buffers: pieces
     * hold no white space (SentencePiece writes it as U+2581) */
    size_t bytes = 1;
    for (size_t k = 0; k < n; k++) bytes += s2s_vocab_token_len(t->ck.src, t->pid[k]) + 1;
    char *joined = s2s_xmalloc(bytes), *p = joined;
    for (size_t k = 0; k < n; k++) {
        size_t len = s2s_vocab_token_len(t->ck.src, t->pid[k]);
        memcpy(p, s2s_vocab_token(t->ck.src, t->pid[k]), len);
        p += len;
        *p++ = ' ';
    }
    *p = '\0';
    s2s_tok_opts raw = {0, 0, 0};
    int rc = s2s_tokenize(&raw, joined, (size_t)(p - joined), &t->tokens, e);
    free(joined);
    if (rc == 0 && t->tokens.n != n)
        rc = s2s_fail(e, "SentencePiece gave a piece with white space in it");
    return rc;
}

static char *join_ids(const s2s_vocab *v, const uint32_t *ids, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) len += s2s_vocab_token_len(v, ids[i]) + 1;
    char *s = s2s_xmalloc(len), *p = s;
    for (int i = 0; i < n; i++) {
        size_t k = s2s_vocab_token_len(v, ids[i]);
        if (i) *p++ = ' ';
        memcpy(p, s2s_vocab_token(v, ids[i]), k);
        p += k;
    }
    *p = 0;
    return s;
}

/* The tokens space-joined, those the source vocabulary lacks (id
 * S2S_UNK) as "<unk:token>", so that :tokens shows what the model saw. */
static char *join_marking_unknown(const s2s_tokens *tk, const uint32_t *ids)
{
    size_t len = 1;
    for (size_t i = 0; i < tk->n; i++) len += tk->len[i] + 8;
    char *s = s2s_xmalloc(len), *p = s;
    for (size_t i = 0; i < tk->n; i++) {
        if (i) *p++ = ' ';
        int unk = ids[i] == S2S_UNK;
        if (unk) p += sprintf(p, "<unk:");
        memcpy(p, tk->buf + tk->off[i], tk->len[i]);
        p += tk->len[i];
        if (unk) *p++ = '>';
    }
    *p = 0;
    return s;
}

/* "0-0 1-2 ...": source position - output position of each output
 * token's highest attention weight (Pharaoh format). */
static char *pharaoh(const int *amax, int n)
{
    char *s = s2s_xmalloc((size_t)n * 24 + 1), *p = s;
    *p = 0;
    for (int k = 0; k < n; k++)
        p += sprintf(p, "%s%d-%d", k ? " " : "", amax[k], k);
    return s;
}

/* Translates n sentences, nb hypotheses each (beam search when t->beam
 * says so or nb > 1): out[i*nb + h] (malloc'd, NULL past nh[i] or for a
 * failed sentence), its score when `score` is not NULL, its alignment
 * when `align` is not NULL. Returns the number of failed sentences. */
static size_t translate(s2s_translator *t, const char *const *texts, size_t n,
                        int nb, char **out, float *score, int *nh,
                        char **align, s2s_err *errs)
{
    const s2s_config *cfg = &t->ck.cfg;
    const s2s_vocab *sv = t->ck.src, *tv = t->ck.tgt;
    size_t failed = 0, total = 0, m = n ? n : 1, mh = m * (size_t)nb;
    int *len = s2s_xcalloc(m, sizeof *len);
    int *cap = s2s_xcalloc(m, sizeof *cap);
    int *hlen = s2s_xcalloc(mh, sizeof *hlen);
    int *nhyp = s2s_xcalloc(m, sizeof *nhyp);
    float *sc = s2s_xcalloc(mh, sizeof *sc);
    char *bad = s2s_xcalloc(m, 1);
    size_t *off = s2s_xcalloc(m, sizeof *off);
    uint32_t *ids = NULL;
    s2s_beam_opts o = t->beam;
    o.nbest = nb;

    /* tokenize everything first: ids back to back */
    for (size_t i = 0; i < n; i++) {
        for (int h = 0; h < nb; h++) out[i * nb + h] = NULL;
        if (align) for (int h = 0; h < nb; h++) align[i * nb + h] = NULL;
        s2s_err e;
        if (t->ck.sub_src) {
            /* subword units: SentencePiece's pieces are the tokens */
            if (encode_pieces(t, texts[i], &e) < 0) {
                if (errs) errs[i] = e;
                bad[i] = 1;
                failed++;
                continue;
            }
        } else if (s2s_tokenize(&t->tok, texts[i], strlen(texts[i]), &t->tokens, &e) < 0) {
            if (errs) errs[i] = e;
            bad[i] = 1;
            failed++;
            continue;
        }
        if (t->tokens.n > S2S_MAX_SOURCE_TOKENS) {
            if (errs)
                s2s_fail(&errs[i], "%zu tokens; a sentence may have at most %d",
                         t->tokens.n, S2S_MAX_SOURCE_TOKENS);
            bad[i] = 1;
            failed++;
            continue;
        }
        ids = s2s_xrealloc(ids, (total + t->tokens.n + 1) * sizeof *ids);
        if (t->ck.sub_src)
            memcpy(ids + total, t->pid, t->tokens.n * sizeof *ids);
        else
            s2s_vocab_encode(sv, &t->tokens, ids + total);
        off[i] = total;
        len[i] = (int)t->tokens.n;
        total += t->tokens.n;
        if (n == 1) {
            free(t->last_src);
            t->last_src = join_marking_unknown(&t->tokens, ids + off[i]);
        }
    }
    /* decoded in groups of at most GROUP_TOKENS source tokens, so that one
     * long line among short ones costs memory for its own length only */
    int ld_out = cfg->decode.max_len > 0 ? cfg->decode.max_len : 1;
    uint32_t *hyp = s2s_xcalloc(mh * (size_t)ld_out, sizeof *hyp);
    uint32_t *src = NULL;
    /* with attention: each output token's most attended source position */
    int attn = t->ck.model.attn.kind != S2S_ATTN_NONE;
    int *amax = attn ? s2s_xcalloc(mh * (size_t)ld_out, sizeof *amax) : NULL;
    float *al = NULL;
    if (n == 1) t->last_n_out = 0;
    for (size_t i0 = 0, i1; i0 < n; i0 = i1) {
        size_t sum = 0;
        int T = 1;
        for (i1 = i0; i1 < n && (i1 == i0 || sum + (size_t)len[i1] <= GROUP_TOKENS); i1++) {
            sum += (size_t)len[i1];
            if (len[i1] > T) T = len[i1];
        }
        size_t g = i1 - i0, h0 = i0 * (size_t)nb;
        src = s2s_xrealloc(src, g * (size_t)T * sizeof *src);
        for (size_t i = i0; i < i1; i++) {
            if (len[i]) memcpy(src + (i - i0) * T, ids + off[i], (size_t)len[i] * sizeof *src);
            cap[i] = bad[i] ? 0 : s2s_decode_limit(cfg, len[i]);
        }
        if (attn) al = s2s_xrealloc(al, g * nb * (size_t)ld_out * T * sizeof *al);
        s2s_decode_batch(&t->ck.model, t->work, t->threads, &o, (int)g, src, T,
                         len + i0, cap + i0, hyp + h0 * ld_out, ld_out,
                         hlen + h0, score ? sc + h0 : NULL, NULL, nhyp + i0, al, T);
        for (size_t i = i0; i < i1 && attn; i++)
            for (int h = 0; h < nhyp[i]; h++) {
                size_t at = i * (size_t)nb + h;
                for (int k = 0; k < hlen[at]; k++) {
                    const float *a = al + ((at - h0) * (size_t)ld_out + k) * T;
                    int best = 0;
                    for (int s = 1; s < len[i]; s++)
                        if (a[s] > a[best]) best = s;
                    amax[at * ld_out + k] = best;
                }
                if (n == 1 && h == 0 && hlen[at] > 0) {
                    /* the best hypothesis's weights, for s2s_last_attention */
                    free(t->last_attn);
                    t->last_attn = s2s_xmalloc((size_t)hlen[at] * len[i] * sizeof(float));
                    for (int k = 0; k < hlen[at]; k++)
                        memcpy(t->last_attn + (size_t)k * len[i],
                               al + ((at - h0) * (size_t)ld_out + k) * T,
                               (size_t)len[i] * sizeof(float));
                    t->last_n_out = hlen[at];
                    t->last_n_src = len[i];
                }
            }
    }

    const char **toks = s2s_xcalloc((size_t)ld_out, sizeof *toks);
    for (size_t i = 0; i < n; i++) {
        if (bad[i]) continue;
        if (nh) nh[i] = nhyp[i];
        int retok = 0;
        for (int h = 0; h < nhyp[i]; h++) {
            size_t at = i * (size_t)nb + h;
            const uint32_t *y = hyp + at * ld_out;
            int unk = 0;
            for (int k = 0; k < hlen[at]; k++) {
                toks[k] = s2s_vocab_token(tv, y[k]);
                unk |= y[k] == S2S_UNK;
            }
            if (unk && attn && cfg->decode.replace_unk &&
                (retok || s2s_tokenize(&t->tok, texts[i], strlen(texts[i]),
                                       &t->tokens, NULL) == 0)) {
                /* an <unk> becomes the source token it attends to most */
                retok = 1;
                for (int k = 0; k < hlen[at]; k++)
                    if (y[k] == S2S_UNK)
                        toks[k] = s2s_tokens_get(&t->tokens, (size_t)amax[at * ld_out + k]);
            }
            out[at] = t->ck.sub_tgt
                          ? s2s_subword_decode(t->ck.sub_tgt, y, (size_t)hlen[at])
                          : s2s_detokenize(toks, (size_t)hlen[at], cfg->tokenizer.french_spacing);
            if (score) score[at] = sc[at];
            if (align) align[at] = attn ? pharaoh(amax + at * ld_out, hlen[at]) : NULL;
            if (n == 1 && h == 0) {
                free(t->last_out);
                t->last_out = join_ids(tv, y, hlen[at]);
            }
        }
    }
    free(toks); free(src); free(hyp); free(ids); free(bad); free(amax); free(al);
    free(len); free(cap); free(hlen); free(off); free(nhyp); free(sc);
    return failed;
}

size_t s2s_translate_batch_aligned(s2s_translator *t, const char *const *texts,
                                   size_t n, char **out, char **align,
                                   s2s_err *errs)
{
    return translate(t, texts, n, 1, out, NULL, NULL, align, errs);
}

int s2s_translate_nbest(s2s_translator *t, const char *text, int n,
                        char **hyps, float *scores, s2s_err *err)
{
    int nh = 0;
    s2s_err e;
    if (n < 1) n = 1;
    if (translate(t, &text, 1, n, hyps, scores, &nh, NULL, &e) > 0) {
        if (err) *err = e;
        return -1;
    }
    return nh;
}

size_t s2s_translate_batch_nbest(s2s_translator *t, const char *const *texts,
                                 size_t n, int nbest, char **hyps,
                                 float *scores, int *n_hyp, s2s_err *errs)
{
    return translate(t, texts, n, nbest < 1 ? 1 : nbest, hyps, scores, n_hyp,
                     NULL, errs);
}

void s2s_translator_set_beam(s2s_translator *t, int beam)
{
    t->beam.beam = beam < 1 ? 1 : beam;
}

int s2s_translator_beam(const s2s_translator *t) { return t->beam.beam; }

int s2s_translator_shortlist(const s2s_translator *t)
{
    return t->beam.shortlist_per_word;
}

int s2s_translator_set_shortlist(s2s_translator *t, int per_word, s2s_err *err)
{
    if (per_word > 0 && !t->ck.lex)
        return s2s_fail(err, "the checkpoint has no shortlist (it was trained "
                        "before shortlists were kept)");
    t->beam.shortlist_per_word = per_word < 0 ? 0 : per_word;
    return 0;
}

size_t s2s_translate_batch(s2s_translator *t, const char *const *texts,
                           size_t n, char **out, s2s_err *errs)
{
    return s2s_translate_batch_aligned(t, texts, n, out, NULL, errs);
}

/* Tokenizes and encodes text into *ids (grown); the token count, or -1. */
static int encode(s2s_translator *t, const s2s_vocab *v, const char *text,
                  uint32_t **ids, size_t *cap, s2s_err *err)
{
    s2s_subword *sub = v == t->ck.src ? t->ck.sub_src : t->ck.sub_tgt;
    if (sub) {
        /* subword units: SentencePiece's pieces are the tokens */
        size_t n;
        if (s2s_subword_encode(sub, text, strlen(text), ids, cap, &n, err) < 0)
            return -1;
        if (n > S2S_MAX_SOURCE_TOKENS)
            return s2s_fail(err, "%zu pieces; a sentence may have at most %d", n,
                            S2S_MAX_SOURCE_TOKENS);
        if (n + 2 > *cap) {
            *cap = n + 2;
            *ids = s2s_xrealloc(*ids, *cap * sizeof **ids);
        }
        return (int)n;
    }
    if (s2s_tokenize(&t->tok, text, strlen(text), &t->tokens, err) < 0) return -1;
    if (t->tokens.n > S2S_MAX_SOURCE_TOKENS)
        return s2s_fail(err, "%zu tokens; a sentence may have at most %d",
                        t->tokens.n, S2S_MAX_SOURCE_TOKENS);
    if (t->tokens.n + 2 > *cap) {
        *cap = t->tokens.n + 2;
        *ids = s2s_xrealloc(*ids, *cap * sizeof **ids);
    }
    s2s_vocab_encode(v, &t->tokens, *ids);
    return (int)t->tokens.n;
}

size_t s2s_score_batch(s2s_translator *t, const char *const *src,
                       const char *const *tgt, size_t n, double *logprob,
                       int *ntok, s2s_err *errs)
{
    size_t failed = 0;
    uint32_t *ids = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++) {
        logprob[i] = NAN;
        ntok[i] = 0;
        s2s_err e;
        int ns = encode(t, t->ck.src, src[i], &ids, &cap, &e);
        if (ns == 0) ns = s2s_fail(&e, "empty source");
        uint32_t *s_ids = NULL;
        if (ns > 0) {
            s_ids = s2s_xmalloc((size_t)ns * sizeof *s_ids);
            memcpy(s_ids, ids, (size_t)ns * sizeof *s_ids);
        }
        int nt = ns > 0 ? encode(t, t->ck.tgt, tgt[i], &ids, &cap, &e) : -1;
        if (nt < 0) {
            if (errs) errs[i] = e;
            failed++;
            free(s_ids);
            continue;
        }
        /* one pair: <sos> y -> y <eos> */
        uint32_t *tin = s2s_xmalloc(((size_t)nt + 1) * 2 * sizeof *tin), *tout = tin + nt + 1;
        tin[0] = S2S_SOS;
        memcpy(tin + 1, ids, (size_t)nt * sizeof *tin);
        memcpy(tout, ids, (size_t)nt * sizeof *tout);
        tout[nt] = S2S_EOS;
        int U = nt + 1;
        s2s_seqs s = {1, s_ids, ns, &ns, tin, tout, U, &U};
        double nll;
        s2s_step_score(&t->ck.model, t->work[0], &s, &nll);
        logprob[i] = -nll;
        ntok[i] = U;
        free(tin);
        free(s_ids);
    }
    free(ids);
    return failed;
}

void s2s_translator_columns(const s2s_translator *t, int *src_col,
                            int *tgt_col)
{
    *src_col = t->ck.cfg.data.src_column;
    *tgt_col = t->ck.cfg.data.tgt_column;
}

int s2s_translator_has_attention(const s2s_translator *t)
{
    return t->ck.model.attn.kind != S2S_ATTN_NONE;
}

const float *s2s_last_attention(const s2s_translator *t, int *n_out, int *n_src)
{
    *n_out = t->last_n_out;
    *n_src = t->last_n_src;
    return t->last_n_out ? t->last_attn : NULL;
}

char *s2s_translate(s2s_translator *t, const char *text, s2s_err *err)
{
    char *out = NULL;
    s2s_err e;
    if (s2s_translate_batch(t, &text, 1, &out, &e) > 0) {
        free(out);
        if (err) *err = e;
        return NULL;
    }
    return out;
}

const char *s2s_version(void) { return S2S_VERSION; }

const char *s2s_last_source_tokens(const s2s_translator *t)
{
    return t->last_src ? t->last_src : "";
}

const char *s2s_last_output_tokens(const s2s_translator *t)
{
    return t->last_out ? t->last_out : "";
}
