/* seq2seq/translator.c — the public API (s2s.h): a checkpoint loaded for
 * translation, the tokenizer in front and the detokeniser behind. */
#include "seq2seq/s2s.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

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
    s2s_tokens_init(&t->tokens);
    return t;
}

void s2s_translator_close(s2s_translator *t)
{
    if (!t) return;
    for (int i = 0; i < t->threads; i++) s2s_work_free(t->work[i]);
    free(t->work);
    s2s_tokens_free(&t->tokens);
    s2s_loaded_free(&t->ck);
    free(t->pid);
    free(t->last_src);
    free(t->last_out);
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

size_t s2s_translate_batch(s2s_translator *t, const char *const *texts,
                           size_t n, char **out, s2s_err *errs)
{
    const s2s_config *cfg = &t->ck.cfg;
    const s2s_vocab *sv = t->ck.src, *tv = t->ck.tgt;
    size_t failed = 0, total = 0, m = n ? n : 1;
    int *len = s2s_xcalloc(m, sizeof *len);
    int *cap = s2s_xcalloc(m, sizeof *cap);
    int *hlen = s2s_xcalloc(m, sizeof *hlen);
    char *bad = s2s_xcalloc(m, 1);
    size_t *off = s2s_xcalloc(m, sizeof *off);
    uint32_t *ids = NULL;
    int T = 1;

    /* tokenize everything first: ids back to back */
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
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
        if (len[i] > T) T = len[i];
        if (n == 1) {
            free(t->last_src);
            t->last_src = s2s_tokens_join(&t->tokens);
        }
    }
    /* decoded in groups of at most GROUP_TOKENS source tokens, so that one
     * long line among short ones costs memory for its own length only */
    int ld_out = cfg->decode.max_len > 0 ? cfg->decode.max_len : 1;
    uint32_t *hyp = s2s_xcalloc(m * (size_t)ld_out, sizeof *hyp);
    uint32_t *src = NULL;
    for (size_t i0 = 0, i1; i0 < n; i0 = i1) {
        size_t sum = 0;
        int T = 1;
        for (i1 = i0; i1 < n && (i1 == i0 || sum + (size_t)len[i1] <= GROUP_TOKENS); i1++) {
            sum += (size_t)len[i1];
            if (len[i1] > T) T = len[i1];
        }
        size_t g = i1 - i0;
        src = s2s_xrealloc(src, g * (size_t)T * sizeof *src);
        for (size_t i = i0; i < i1; i++) {
            if (len[i]) memcpy(src + (i - i0) * T, ids + off[i], (size_t)len[i] * sizeof *src);
            cap[i] = bad[i] ? 0 : s2s_decode_limit(cfg, len[i]);
        }
        s2s_decode_batch(&t->ck.model, t->work, t->threads, (int)g, src, T,
                         len + i0, cap + i0, hyp + i0 * (size_t)ld_out, ld_out,
                         hlen + i0);
    }

    const char **toks = s2s_xcalloc((size_t)ld_out, sizeof *toks);
    for (size_t i = 0; i < n; i++) {
        if (bad[i]) continue;
        const uint32_t *h = hyp + i * (size_t)ld_out;
        if (t->ck.sub_tgt) {
            out[i] = s2s_subword_decode(t->ck.sub_tgt, h, (size_t)hlen[i]);
        } else {
            for (int k = 0; k < hlen[i]; k++) toks[k] = s2s_vocab_token(tv, h[k]);
            out[i] = s2s_detokenize(toks, (size_t)hlen[i], cfg->tokenizer.french_spacing);
        }
        if (n == 1) {
            free(t->last_out);
            t->last_out = join_ids(tv, h, hlen[i]);
        }
    }
    free(toks); free(src); free(hyp); free(ids); free(bad);
    free(len); free(cap); free(hlen); free(off);
    return failed;
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

const char *s2s_last_source_tokens(const s2s_translator *t)
{
    return t->last_src ? t->last_src : "";
}

const char *s2s_last_output_tokens(const s2s_translator *t)
{
    return t->last_out ? t->last_out : "";
}
