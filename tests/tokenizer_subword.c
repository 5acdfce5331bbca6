/* tests/tokenizer_subword.c — subword units through SentencePiece: the
 * pieces and ids s2s produces equal those of Debian's `spm_encode` with the
 * same model on the bundled corpus (a model from `spm_train`, loaded by
 * path, and a model s2s trained itself); decode(encode(x)) gives back the
 * normalised text; training is deterministic; byte fallback leaves no
 * <unk>; a missing or corrupt .model is a one-line error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "scratch.h"
#include "tokenizer/subword.h"

#define CORPUS "corpora/default/eng-fra.tsv"

static char dir[256];

static void setup(void) { scratch_make(dir, sizeof dir, "subword"); }
static void teardown(void) { scratch_remove(dir); }

TestSuite(subword, .init = setup, .fini = teardown, .timeout = 120);

/* Every sentence of the bundled corpus, both columns, in file order:
 * *n sentences pointing into one buffer (*buf, free it). */
static char **corpus(size_t *n, char **buf)
{
    size_t len;
    s2s_err err;
    *buf = s2s_read_file(CORPUS, 0, &len, &err);
    if (!*buf) cr_skip_test("run from the repository root (%s)", err.msg);
    size_t cap = 0;
    char **s = NULL;
    *n = 0;
    for (char *line = *buf, *next; line < *buf + len && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        else next = line + strlen(line);
        char *tab = strchr(line, '\t');
        cr_assert_not_null(tab);
        *tab = '\0';
        if (*n + 2 > cap) {
            cap = cap ? 2 * cap : 4096;
            s = realloc(s, cap * sizeof *s);
        }
        s[(*n)++] = tab + 1; /* French */
        s[(*n)++] = line;    /* English */
    }
    return s;
}

/* Writes the sentences one per line to dir/name; returns the path. */
static const char *write_lines(const char *name, char **s, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += strlen(s[i]) + 1;
    char *text = malloc(total + 1), *p = text;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(s[i]);
        memcpy(p, s[i], l);
        p += l;
        *p++ = '\n';
    }
    const char *path = scratch_write(dir, 0, name, text, total);
    free(text);
    return path;
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, dir, a, b);
    int rc = system(cmd);
    if (rc != 0) cr_skip_test("needs Debian's sentencepiece tools: %s", cmd);
}

/* Line i of spm_encode's output (the file read whole into *buf). */
static char **read_lines(const char *path, size_t *n, char **buf)
{
    size_t len;
    s2s_err err;
    *buf = s2s_read_file(path, 0, &len, &err);
    cr_assert_not_null(*buf, "%s", err.msg);
    char **l = NULL;
    size_t cap = 0;
    *n = 0;
    for (char *p = *buf, *next; p < *buf + len; p = next) {
        next = strchr(p, '\n');
        cr_assert_not_null(next);
        *next++ = '\0';
        if (*n == cap) {
            cap = cap ? 2 * cap : 4096;
            l = realloc(l, cap * sizeof *l);
        }
        l[(*n)++] = p;
    }
    return l;
}

static const s2s_tok_opts RAW = {0, 0, 0};

/* The pieces of s as one space-joined string, through s2s. */
static void s2s_pieces(s2s_subword *sw, const char *s, char *out, size_t size,
                       uint32_t **ids, size_t *cap, size_t *n)
{
    s2s_err err;
    cr_assert_eq(s2s_subword_encode(sw, s, strlen(s), ids, cap, n, &err), 0,
                 "%s", err.msg);
    const s2s_vocab *v = s2s_subword_vocab(sw);
    size_t pos = 0;
    out[0] = '\0';
    for (size_t k = 0; k < *n; k++)
        pos += (size_t)snprintf(out + pos, size - pos, "%s%s", k ? " " : "",
                                s2s_vocab_token(v, (*ids)[k]));
    cr_assert_lt(pos, size);
}

Test(subword, spm_train_model_loads_by_path_and_gives_spm_encode_pieces)
{
    size_t n;
    char *buf;
    char **s = corpus(&n, &buf);
    const char *in = write_lines("input.txt", s, n);
    (void)in;
    /* spm_train's own conventions: unk=0 <s>=1 </s>=2, no pad */
    sh("cd '%s' && spm_train --input=%s --model_prefix=m --vocab_size=1000 "
       "--model_type=bpe --minloglevel=2 >/dev/null 2>&1", "input.txt", "");
    sh("cd '%s' && spm_encode --model=m.model --output_format=piece < %s > "
       "pieces.txt%s", "input.txt", "");
    sh("cd '%s' && spm_encode --model=m.model --output_format=id < %s > "
       "ids.txt%s", "input.txt", "");
    char path[512], *pbuf, *ibuf;
    snprintf(path, sizeof path, "%s/m.model", dir);
    s2s_err err;
    s2s_subword *sw = s2s_subword_load(path, &RAW, &err);
    cr_assert_not_null(sw, "%s", err.msg);
    /* 1000 pieces, 3 of them specials (unk, <s>, </s>), + s2s's 4 */
    cr_assert_eq(s2s_vocab_size(s2s_subword_vocab(sw)), 1001);

    snprintf(path, sizeof path, "%s/pieces.txt", dir);
    size_t np, ni;
    char **want = read_lines(path, &np, &pbuf);
    snprintf(path, sizeof path, "%s/ids.txt", dir);
    char **want_ids = read_lines(path, &ni, &ibuf);
    cr_assert_eq(np, n);
    cr_assert_eq(ni, n);
    static char got[1 << 16];
    uint32_t *ids = NULL;
    size_t cap = 0, m;
    for (size_t i = 0; i < n; i++) {
        s2s_pieces(sw, s[i], got, sizeof got, &ids, &cap, &m);
        /* piece by piece; spm_encode shows an unknown piece by its text
         * ("19" where this model lacks the digits), s2s as <unk> */
        char *g = got, *w = want[i];
        for (size_t k = 0; k < m; k++) {
            size_t gl = strcspn(g, " "), wl = strcspn(w, " ");
            cr_assert(wl > 0, "sentence %zu: spm has fewer pieces", i);
            if (ids[k] != S2S_UNK)
                cr_assert(gl == wl && memcmp(g, w, gl) == 0,
                          "sentence %zu ('%s'): s2s '%s', spm_encode '%s'", i,
                          s[i], got, want[i]);
            g += gl + (g[gl] == ' ');
            w += wl + (w[wl] == ' ');
        }
        cr_assert_eq(*w, '\0', "sentence %zu: spm has more pieces", i);
        /* ids: spm's id + 1 (its 3 specials out, s2s's 4 in) */
        char *p = want_ids[i];
        for (size_t k = 0; k < m; k++) {
            long id = strtol(p, &p, 10);
            cr_assert_eq(ids[k], (uint32_t)id + 1, "sentence %zu piece %zu", i, k);
        }
    }
    free(ids);
    free(want);
    free(want_ids);
    free(pbuf);
    free(ibuf);
    s2s_subword_free(sw);
    free(s);
    free(buf);
}

/* Trains a model on the corpus with s2s; returns its bytes. */
static void *train(char **s, size_t n, int vocab, int byte_fallback,
                   const s2s_tok_opts *norm, size_t *len)
{
    s2s_subword_train_opts o = {vocab, 0, 1.0, byte_fallback};
    s2s_err err;
    void *m = s2s_subword_train((const char *const *)s, n, &o, norm, len, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

Test(subword, s2s_trained_model_has_spm_ids_and_spm_encode_pieces)
{
    size_t n, len;
    char *buf;
    char **s = corpus(&n, &buf);
    void *m = train(s, n, 2000, 1, &RAW, &len);
    scratch_write(dir, 1, "s2s.model", m, len);
    write_lines("input.txt", s, n);
    sh("cd '%s' && spm_encode --model=s2s.model --output_format=id < %s > "
       "ids.txt%s", "input.txt", "");
    s2s_err err;
    s2s_subword *sw = s2s_subword_open(m, len, "s2s.model", &RAW, &err);
    cr_assert_not_null(sw, "%s", err.msg);
    const s2s_vocab *v = s2s_subword_vocab(sw);
    cr_assert_eq(s2s_vocab_size(v), 2000);
    cr_assert_str_eq(s2s_vocab_token(v, 4), "<0x00>"); /* first byte piece */
    char path[512], *ibuf;
    snprintf(path, sizeof path, "%s/ids.txt", dir);
    size_t ni;
    char **want = read_lines(path, &ni, &ibuf);
    cr_assert_eq(ni, n);
    uint32_t *ids = NULL;
    size_t cap = 0, k;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s2s_subword_encode(sw, s[i], strlen(s[i]), &ids, &cap, &k,
                                        &err), 0);
        /* pad=0 unk=1 bos=2 eos=3: the same numbers on both sides */
        char *p = want[i];
        for (size_t j = 0; j < k; j++) {
            long id = strtol(p, &p, 10);
            cr_assert_eq(ids[j], (uint32_t)id, "sentence %zu piece %zu", i, j);
        }
        cr_assert_eq(strtol(p, &p, 10), 0, "sentence %zu: spm has more", i);
    }
    free(ids);
    free(want);
    free(ibuf);
    s2s_subword_free(sw);
    free(m);
    free(s);
    free(buf);
}

Test(subword, decode_of_encode_is_the_normalised_text)
{
    size_t n, len;
    char *buf;
    char **s = corpus(&n, &buf);
    s2s_tok_opts norm = S2S_TOK_OPTS_DEFAULT;
    void *m = train(s, n, 4000, 1, &norm, &len);
    s2s_err err;
    s2s_subword *sw = s2s_subword_open(m, len, "m", &norm, &err);
    cr_assert_not_null(sw, "%s", err.msg);
    uint32_t *ids = NULL;
    size_t cap = 0, k, unk = 0, pieces = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s2s_subword_encode(sw, s[i], strlen(s[i]), &ids, &cap, &k,
                                        &err), 0, "%s", err.msg);
        for (size_t j = 0; j < k; j++) unk += ids[j] == S2S_UNK;
        pieces += k;
        char *text = s2s_subword_decode(sw, ids, k);
        char *want = s2s_subword_normalise(sw, s[i], strlen(s[i]), &err);
        cr_assert_str_eq(text, want, "sentence %zu: '%s'", i, s[i]);
        free(text);
        free(want);
    }
    cr_assert_eq(unk, 0);
    cr_assert_gt(pieces, n);
    /* lower-cased, NFKC'd: "Ｊ’AI ﬁni" decodes as "j’ai fini" */
    const char *x = "\xef\xbc\xaa\xe2\x80\x99" "AI  \xef\xac\x81ni";
    cr_assert_eq(s2s_subword_encode(sw, x, strlen(x), &ids, &cap, &k, &err), 0);
    char *text = s2s_subword_decode(sw, ids, k);
    cr_assert_str_eq(text, "j\xe2\x80\x99" "ai fini");
    free(text);
    /* the specials other than <unk> decode to nothing */
    uint32_t sp[] = {S2S_SOS, ids[0], S2S_PAD, S2S_EOS};
    text = s2s_subword_decode(sw, sp, 4);
    cr_assert_str_eq(text, "j");
    free(text);
    free(ids);
    s2s_subword_free(sw);
    free(m);
    free(s);
    free(buf);
}

Test(subword, training_is_deterministic)
{
    size_t n, la, lb, lc;
    char *buf;
    char **s = corpus(&n, &buf);
    n /= 4;
    s2s_tok_opts norm = S2S_TOK_OPTS_DEFAULT;
    void *a = train(s, n, 1000, 1, &norm, &la);
    void *b = train(s, n, 1000, 1, &norm, &lb);
    void *c = train(s, n, 1200, 1, &norm, &lc);
    cr_assert_eq(la, lb);
    cr_assert(memcmp(a, b, la) == 0, "two trainings differ");
    cr_assert(lc != la || memcmp(a, c, la) != 0, "vocab_size had no effect");
    free(a);
    free(b);
    free(c);
    free(s);
    free(buf);
}

Test(subword, byte_fallback_leaves_no_unk)
{
    size_t n, len;
    char *buf;
    char **s = corpus(&n, &buf);
    n /= 4;
    const char *x = "Le \xe6\x97\xa5\xe6\x9c\xac est loin \xe2\x98\x83.";
    s2s_err err;
    uint32_t *ids = NULL;
    size_t cap = 0, k;
    for (int fb = 0; fb <= 1; fb++) {
        void *m = train(s, n, 1000, fb, &RAW, &len);
        s2s_subword *sw = s2s_subword_open(m, len, "m", &RAW, &err);
        cr_assert_not_null(sw, "%s", err.msg);
        cr_assert_eq(s2s_subword_encode(sw, x, strlen(x), &ids, &cap, &k, &err), 0);
        size_t unk = 0;
        for (size_t j = 0; j < k; j++) unk += ids[j] == S2S_UNK;
        char *text = s2s_subword_decode(sw, ids, k);
        if (fb) {
            cr_assert_eq(unk, 0);
            cr_assert_str_eq(text, x);
        } else {
            cr_assert_geq(unk, 2, "unseen characters should be <unk>");
        }
        free(text);
        s2s_subword_free(sw);
        free(m);
    }
    free(ids);
    free(s);
    free(buf);
}

static void assert_one_line(const char *msg, const char *needle)
{
    cr_assert_null(strchr(msg, '\n'), "two lines: %s", msg);
    cr_assert(strstr(msg, needle), "'%s' not in: %s", needle, msg);
}

Test(subword, missing_and_corrupt_models_are_one_line_errors)
{
    s2s_err err;
    char path[512];
    snprintf(path, sizeof path, "%s/none.model", dir);
    cr_assert_null(s2s_subword_load(path, &RAW, &err));
    assert_one_line(err.msg, path);

    const char junk[] = "this is not a model\n\x01\x02\xff\xfe garbage\n";
    const char *p = scratch_write(dir, 1, "junk.model", junk, sizeof junk - 1);
    cr_assert_null(s2s_subword_load(p, &RAW, &err));
    assert_one_line(err.msg, "not a usable SentencePiece model");
    assert_one_line(err.msg, p);

    p = scratch_write(dir, 1, "empty.model", "", 0);
    cr_assert_null(s2s_subword_load(p, &RAW, &err));
    assert_one_line(err.msg, "not a usable SentencePiece model");

    /* a real model cut in half */
    size_t n, len;
    char *buf;
    char **s = corpus(&n, &buf);
    void *m = train(s, n / 8, 500, 1, &RAW, &len);
    p = scratch_write(dir, 1, "half.model", m, len / 2);
    cr_assert_null(s2s_subword_load(p, &RAW, &err));
    assert_one_line(err.msg, "not a usable SentencePiece model");
    /* the whole one loads */
    p = scratch_write(dir, 1, "whole.model", m, len);
    s2s_subword *sw = s2s_subword_load(p, &RAW, &err);
    cr_assert_not_null(sw, "%s", err.msg);
    size_t blen;
    const void *bytes = s2s_subword_bytes(sw, &blen);
    cr_assert_eq(blen, len);
    cr_assert(memcmp(bytes, m, len) == 0);
    s2s_subword_free(sw);
    free(m);
    free(s);
    free(buf);

    /* too few sentences for the vocabulary asked for */
    const char *few[] = {"a b", "b c"};
    s2s_subword_train_opts o = {8000, 0, 1.0, 1};
    cr_assert_null(s2s_subword_train(few, 2, &o, &RAW, &len, &err));
    assert_one_line(err.msg, "SentencePiece training failed");
}
