/* tokenizer/subword.c — SentencePiece models tied to s2s vocabularies
 * (see subword.h): normalisation, the id maps, encoding, decoding,
 * training. */
#include "tokenizer/subword.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"

struct s2s_subword {
    s2s_spm *spm;
    s2s_tok_opts norm;
    s2s_vocab *vocab;
    uint32_t *to_s2s; /* (model pieces) vocabulary id of each piece */
    int *to_spm;      /* (vocabulary size) piece of each id, -1 = none */
    /* scratch */
    s2s_tokens tok;
    int *pid;
    size_t pid_cap;
};

s2s_subword *s2s_subword_open(const void *data, size_t len, const char *name,
                              const s2s_tok_opts *norm, s2s_err *err)
{
    s2s_spm *spm = s2s_spm_open(data, len, name, err);
    if (!spm) return NULL;
    int np = s2s_spm_size(spm);
    const char **pieces = s2s_xcalloc((size_t)np + 1, sizeof *pieces);
    uint32_t *to_s2s = s2s_xcalloc((size_t)np + 1, sizeof *to_s2s);
    size_t n = 0;
    for (int i = 0; i < np; i++) {
        int kind = s2s_spm_kind(spm, i);
        const char *p = s2s_spm_piece(spm, i);
        if (kind == S2S_SPM_UNKNOWN) {
            to_s2s[i] = S2S_UNK;
        } else if (kind == S2S_SPM_CONTROL) {
            /* pad / bos / eos by their names in either convention */
            to_s2s[i] = strcmp(p, "<pad>") == 0                        ? S2S_PAD
                        : strcmp(p, "<s>") == 0 || strcmp(p, "<sos>") == 0 ? S2S_SOS
                        : strcmp(p, "</s>") == 0 || strcmp(p, "<eos>") == 0 ? S2S_EOS
                                                                          : S2S_UNK;
        } else {
            to_s2s[i] = (uint32_t)(S2S_NUM_SPECIALS + n);
            pieces[n++] = p;
        }
    }
    s2s_vocab *v = s2s_vocab_from_tokens(pieces, n, err);
    free(pieces);
    if (!v) {
        s2s_fail_prefix(err, "%s: a SentencePiece piece cannot be an s2s "
                        "token", name);
        free(to_s2s);
        s2s_spm_free(spm);
        return NULL;
    }
    s2s_subword *sw = s2s_xcalloc(1, sizeof *sw);
    sw->spm = spm;
    sw->norm = *norm;
    sw->norm.split_punct = 0;
    sw->vocab = v;
    sw->to_s2s = to_s2s;
    uint32_t V = s2s_vocab_size(v);
    sw->to_spm = s2s_xmalloc(V * sizeof *sw->to_spm);
    for (uint32_t k = 0; k < V; k++) sw->to_spm[k] = -1;
    for (int i = 0; i < np; i++)
        if (to_s2s[i] >= S2S_NUM_SPECIALS) sw->to_spm[to_s2s[i]] = i;
    sw->to_spm[S2S_UNK] = s2s_spm_unk_id(spm);
    s2s_tokens_init(&sw->tok);
    return sw;
}

s2s_subword *s2s_subword_load(const char *path, const s2s_tok_opts *norm,
                              s2s_err *err)
{
    size_t len;
    char *buf = s2s_read_file(path, 0, &len, err);
    if (!buf) return NULL;
    s2s_subword *sw = s2s_subword_open(buf, len, path, norm, err);
    free(buf);
    return sw;
}

void s2s_subword_free(s2s_subword *sw)
{
    if (!sw) return;
    s2s_spm_free(sw->spm);
    s2s_vocab_free(sw->vocab);
    free(sw->to_s2s);
    free(sw->to_spm);
    s2s_tokens_free(&sw->tok);
    free(sw->pid);
    free(sw);
}

const s2s_vocab *s2s_subword_vocab(const s2s_subword *sw)
{
    return sw->vocab;
}

const void *s2s_subword_bytes(const s2s_subword *sw, size_t *len)
{
    return s2s_spm_bytes(sw->spm, len);
}

/* NFKC / lower-casing / white space as the word tokenizer does them. */
static char *normalise(const s2s_tok_opts *norm, s2s_tokens *tok,
                       const char *text, size_t len, s2s_err *err)
{
    if (!norm->nfkc && !norm->lowercase) {
        char *s = s2s_xmalloc(len + 1);
        memcpy(s, text, len);
        s[len] = '\0';
        return s;
    }
    s2s_tok_opts o = *norm;
    o.split_punct = 0;
    if (s2s_tokenize(&o, text, len, tok, err) < 0) return NULL;
    return s2s_tokens_join(tok);
}

char *s2s_subword_normalise(s2s_subword *sw, const char *text, size_t len,
                            s2s_err *err)
{
    return normalise(&sw->norm, &sw->tok, text, len, err);
}

int s2s_subword_encode(s2s_subword *sw, const char *text, size_t len,
                       uint32_t **ids, size_t *cap, size_t *n, s2s_err *err)
{
    return s2s_subword_sample(sw, text, len, 0, 0.0f, ids, cap, n, err);
}

int s2s_subword_sample(s2s_subword *sw, const char *text, size_t len,
                       int nbest, float alpha, uint32_t **ids, size_t *cap,
                       size_t *n, s2s_err *err)
{
    *n = 0;
    char *s = normalise(&sw->norm, &sw->tok, text, len, err);
    if (!s) return -1;
    size_t np;
    int rc = alpha > 0 ? s2s_spm_sample(sw->spm, s, strlen(s), nbest, alpha,
                                        &sw->pid, &sw->pid_cap, &np, err)
                       : s2s_spm_encode(sw->spm, s, strlen(s), &sw->pid,
                                        &sw->pid_cap, &np, err);
    free(s);
    if (rc < 0) return -1;
    if (np + 1 > *cap) {
        *cap = np + 16;
        *ids = s2s_xrealloc(*ids, *cap * sizeof **ids);
    }
    int size = s2s_spm_size(sw->spm);
    for (size_t i = 0; i < np; i++)
        (*ids)[i] = sw->pid[i] >= 0 && sw->pid[i] < size ? sw->to_s2s[sw->pid[i]]
                                                         : S2S_UNK;
    *n = np;
    return 0;
}

char *s2s_subword_decode(s2s_subword *sw, const uint32_t *ids, size_t n)
{
    if (n + 1 > sw->pid_cap) {
        sw->pid_cap = n + 16;
        sw->pid = s2s_xrealloc(sw->pid, sw->pid_cap * sizeof *sw->pid);
    }
    uint32_t V = s2s_vocab_size(sw->vocab);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int p = ids[i] < V ? sw->to_spm[ids[i]] : sw->to_spm[S2S_UNK];
        if (p >= 0) sw->pid[m++] = p;
    }
    return s2s_spm_decode(sw->spm, sw->pid, m);
}

void *s2s_subword_train(const char *const *sentences, size_t n,
                        const s2s_subword_train_opts *o,
                        const s2s_tok_opts *norm, size_t *len, s2s_err *err)
{
    if (n == 0) {
        s2s_fail(err, "no sentences to train a SentencePiece model on");
        return NULL;
    }
    char **norm_s = s2s_xcalloc(n, sizeof *norm_s);
    s2s_tokens tok;
    s2s_tokens_init(&tok);
    void *model = NULL;
    size_t k;
    for (k = 0; k < n; k++) {
        norm_s[k] = normalise(norm, &tok, sentences[k], strlen(sentences[k]),
                              err);
        if (!norm_s[k]) {
            s2s_fail_prefix(err, "sentence %zu", k + 1);
            break;
        }
    }
    if (k == n) {
        char opts[1024];
        snprintf(opts, sizeof opts,
                 "--model_type=%s --vocab_size=%d --character_coverage=%.9g "
                 "--byte_fallback=%s --pad_id=0 --unk_id=1 --bos_id=2 "
                 "--eos_id=3 --pad_piece=<pad> --unk_piece=<unk> "
                 "--bos_piece=<sos> --eos_piece=<eos> --num_threads=1 "
                 "--input_sentence_size=0 --shuffle_input_sentence=false "
                 "--minloglevel=2",
                 o->unigram ? "unigram" : "bpe", o->vocab_size,
                 o->character_coverage, o->byte_fallback ? "true" : "false");
        model = s2s_spm_train((const char *const *)norm_s, n, opts, 1u, len,
                              err);
    }
    for (size_t i = 0; i < n; i++) free(norm_s[i]);
    free(norm_s);
    s2s_tokens_free(&tok);
    return model;
}
