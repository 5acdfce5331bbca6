/* tests/seq2seq_shortlist.c — the lexical shortlist: what it ranks for a
 * source token on pairs whose co-occurrences are known, what a selection
 * holds, its bytes round trip and bad bytes are refused, it survives a
 * checkpoint, and decoding over it: a shortlist of the whole vocabulary
 * decodes exactly as without one, a smaller one only ever outputs its
 * tokens. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/config.h"
#include "seq2seq/decode.h"
#include "seq2seq/model.h"
#include "seq2seq/shortlist.h"
#include "tokenizer/vocab.h"

/* A split of n pairs given as 0-terminated id lists. */
static void make_split(s2s_split *sp, const uint32_t (*src)[6],
                       const uint32_t (*tgt)[6], size_t n)
{
    memset(sp, 0, sizeof *sp);
    sp->n = n;
    sp->src_len = calloc(n, sizeof *sp->src_len);
    sp->tgt_len = calloc(n, sizeof *sp->tgt_len);
    sp->src_off = calloc(n, sizeof *sp->src_off);
    sp->tgt_off = calloc(n, sizeof *sp->tgt_off);
    sp->src_ids = calloc(6 * n, sizeof *sp->src_ids);
    sp->tgt_ids = calloc(6 * n, sizeof *sp->tgt_ids);
    size_t a = 0, b = 0;
    for (size_t k = 0; k < n; k++) {
        sp->src_off[k] = a;
        sp->tgt_off[k] = b;
        for (int i = 0; src[k][i]; i++) sp->src_ids[a++] = src[k][i], sp->src_len[k]++;
        for (int i = 0; tgt[k][i]; i++) sp->tgt_ids[b++] = tgt[k][i], sp->tgt_len[k]++;
    }
}

static void free_split(s2s_split *sp)
{
    free(sp->src_len); free(sp->tgt_len); free(sp->src_off); free(sp->tgt_off);
    free(sp->src_ids); free(sp->tgt_ids);
}

static s2s_shortlist *random_shortlist(int V, size_t n);

/* Source 4 ("chat") always comes with target 8 ("cat"), source 5 with 9;
 * target 10 (".") is in every pair, target 11 once. */
static const uint32_t SRC[][6] = {{4, 6}, {4, 6}, {5, 6}, {5}, {4, 5}};
static const uint32_t TGT[][6] = {{8, 10}, {8, 10}, {9, 10}, {9, 10, 11}, {8, 9, 10}};
enum { VS = 7, VT = 12 };

Test(shortlist, ranks_and_selects)
{
    s2s_split sp;
    make_split(&sp, SRC, TGT, 5);
    s2s_shortlist *s = s2s_shortlist_build(&sp, VS, VT);
    cr_assert_not_null(s);
    uint32_t out[VT];
    int src[] = {4}, len = 1;
    uint32_t ids[] = {4};
    /* per word 1: 4's best is 8 (Dice 2*3/(3+3) = 1); frequent 1: 10 */
    int n = s2s_shortlist_select(s, 1, 1, ids, 1, &len, 1, out);
    uint32_t want[] = {0, 1, 2, 3, 8, 10};
    cr_assert_eq(n, 6);
    cr_assert_arr_eq(out, want, sizeof want);
    /* nothing but the specials */
    n = s2s_shortlist_select(s, 0, 0, ids, 1, &len, 1, out);
    cr_assert_eq(n, 4);
    /* two sentences, 2 per word: 4 -> 8 then 10 (Dice 2*3/(3+5)),
     * 5 -> 9 then 10; no frequent: ascending, each once */
    uint32_t two[] = {4, 5};
    int lens[] = {1, 1};
    n = s2s_shortlist_select(s, 0, 2, two, 1, lens, 2, out);
    uint32_t want2[] = {0, 1, 2, 3, 8, 9, 10};
    cr_assert_eq(n, 7);
    cr_assert_arr_eq(out, want2, sizeof want2);
    /* a source id past the vocabulary is ignored */
    uint32_t past[] = {VS + 3};
    n = s2s_shortlist_select(s, 0, 5, past, 1, &len, 1, out);
    cr_assert_eq(n, 4);
    (void)src;
    s2s_shortlist_free(s);
    free_split(&sp);
}

/* Built with room for 1 pair at a time (every source id counted into a
 * row of counters) or for 40 (chunks of a few ids): the same shortlist. */
Test(shortlist, chunked_and_counted_builds_agree)
{
    enum { V = 60 };
    s2s_shortlist *ref = random_shortlist(V, 400);
    for (size_t room = 1; room <= 40; room += 39) {
        s2s_shortlist_pairs_max(room);
        s2s_shortlist *s = random_shortlist(V, 400);
        s2s_shortlist_pairs_max(0);
        size_t la, lb;
        unsigned char *a = s2s_shortlist_bytes(ref, &la), *b = s2s_shortlist_bytes(s, &lb);
        cr_assert_eq(la, lb);
        cr_assert_arr_eq(a, b, la, "room for %zu pairs", room);
        free(a);
        free(b);
        s2s_shortlist_free(s);
    }
    s2s_shortlist_free(ref);
}

Test(shortlist, bytes_round_trip_and_bad_bytes)
{
    s2s_split sp;
    make_split(&sp, SRC, TGT, 5);
    s2s_shortlist *s = s2s_shortlist_build(&sp, VS, VT);
    size_t len;
    unsigned char *b = s2s_shortlist_bytes(s, &len);
    s2s_err err;
    s2s_shortlist *t = s2s_shortlist_parse(b, len, VS, VT, "x", &err);
    cr_assert_not_null(t, "%s", err.msg);
    uint32_t o1[VT], o2[VT], ids[] = {4, 5, 6};
    int l = 3;
    for (int f = 0; f <= 3; f++)
        for (int k = 0; k <= 3; k++) {
            int n1 = s2s_shortlist_select(s, f, k, ids, 3, &l, 1, o1);
            int n2 = s2s_shortlist_select(t, f, k, ids, 3, &l, 1, o2);
            cr_assert_eq(n1, n2);
            cr_assert_arr_eq(o1, o2, (size_t)n1 * sizeof *o1);
        }
    s2s_shortlist_free(t);
    cr_assert_null(s2s_shortlist_parse(b, len - 4, VS, VT, "x", &err));
    cr_assert(strstr(err.msg, "x: ") == err.msg, "%s", err.msg);
    cr_assert_null(s2s_shortlist_parse(b, len, VS, VT + 1, "x", &err));
    cr_assert(strstr(err.msg, "vocabularies"), "%s", err.msg);
    b[len - 4] = 0xfe; /* the last id: past the vocabulary, not NONE */
    cr_assert_null(s2s_shortlist_parse(b, len, VS, VT, "x", &err));
    cr_assert(strstr(err.msg, "past the vocabulary"), "%s", err.msg);
    b[0] ^= 1;
    cr_assert_null(s2s_shortlist_parse(b, len, VS, VT, "x", &err));
    free(b);
    s2s_shortlist_free(s);
    free_split(&sp);
}

/* ------------------------------------------------------- decoding over it */

static void toy_config(s2s_config *c)
{
    s2s_config_defaults(c);
    c->model.embed = 5;
    c->model.encoder.hidden = 12;
    c->model.decoder.hidden = 12;
}

/* A model of 30 source and V_tgt target tokens, random weights. */
static void build(s2s_model *m, int V_tgt)
{
    const char *b = getenv("S2S_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/cells", b ? b : "build");
    setenv("S2S_CELL_PATH", path, 1);
    s2s_config c;
    toy_config(&c);
    s2s_err err;
    cr_assert_eq(s2s_model_build(m, &c, 30, V_tgt, &err), 0, "%s", err.msg);
    s2s_rng rng;
    s2s_rng_seed(&rng, 3);
    s2s_model_init_params(m, 0.8f, &rng);
}

/* The shortlist of n random pairs over source ids 4..29 and target ids
 * 4..V-1. */
static s2s_shortlist *random_shortlist(int V, size_t n)
{
    s2s_split sp;
    uint32_t (*src)[6] = calloc(n, sizeof *src), (*tgt)[6] = calloc(n, sizeof *tgt);
    s2s_rng r;
    s2s_rng_seed(&r, 17);
    for (size_t k = 0; k < n; k++)
        for (int i = 0; i < 5; i++) {
            src[k][i] = 4 + (uint32_t)s2s_rng_below(&r, 26);
            tgt[k][i] = 4 + (uint32_t)s2s_rng_below(&r, (uint64_t)V - 4);
        }
    make_split(&sp, (const uint32_t (*)[6])src, (const uint32_t (*)[6])tgt, n);
    free(src);
    free(tgt);
    s2s_shortlist *s = s2s_shortlist_build(&sp, 30, V);
    free_split(&sp);
    return s;
}

enum { NB = 6, TT = 5, LD = 8, K = 4, NBEST = 2 };

static void decode(const s2s_model *m, s2s_work **w, const s2s_shortlist *s,
                   int per_word, int frequent, uint32_t out[NB * NBEST][LD],
                   int *len, float *score, int *nh)
{
    static const uint32_t src[NB][TT] = {{4, 5, 6, 7, 8}, {9, 10, 0, 0, 0},
        {11, 0, 0, 0, 0}, {12, 13, 14, 0, 0}, {15, 16, 17, 18, 0}, {19, 20, 0, 0, 0}};
    static const int src_len[NB] = {5, 2, 1, 3, 4, 2};
    int cap[NB];
    for (int b = 0; b < NB; b++) cap[b] = LD;
    s2s_beam_opts o = {.beam = K, .nbest = NBEST, .lp = S2S_LP_AVG,
                       .shortlist = s, .shortlist_per_word = per_word,
                       .shortlist_frequent = frequent};
    s2s_decode_batch(m, w, 2, &o, NB, &src[0][0], TT, src_len, cap, &out[0][0],
                     LD, len, score, NULL, nh, NULL, 0);
}

Test(shortlist, decoding_over_it)
{
    enum { V = 60 };
    s2s_model m;
    build(&m, V);
    s2s_shortlist *s = random_shortlist(V, 400);
    s2s_work *w[2] = {s2s_work_new(&m), s2s_work_new(&m)};
    uint32_t ref[NB * NBEST][LD], got[NB * NBEST][LD];
    int rl[NB * NBEST], gl[NB * NBEST], rn[NB], gn[NB];
    float rs[NB * NBEST], gs[NB * NBEST];
    decode(&m, w, NULL, 0, 0, ref, rl, rs, rn);
    /* a shortlist of every token: the same hypotheses and scores */
    decode(&m, w, s, S2S_SHORTLIST_PER_WORD_MAX, S2S_SHORTLIST_FREQUENT_MAX, got,
           gl, gs, gn);
    int tokens = 0;
    for (int b = 0; b < NB; b++) {
        cr_assert_eq(gn[b], rn[b]);
        for (int h = b * NBEST; h < b * NBEST + rn[b]; h++) {
            cr_assert_eq(gl[h], rl[h], "hypothesis %d", h);
            cr_assert_arr_eq(got[h], ref[h], (size_t)rl[h] * sizeof **ref);
            cr_assert_eq(gs[h], rs[h], "hypothesis %d: %.9g vs %.9g", h, gs[h], rs[h]);
            tokens += rl[h];
        }
    }
    cr_assert(tokens > NB, "the model says almost nothing: a weak test");
    /* a small one: every output token is in the batch's shortlist */
    static const uint32_t all_src[] = {4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                       16, 17, 18, 19, 20};
    int all_len = (int)(sizeof all_src / sizeof *all_src);
    uint32_t ids[V];
    int n = s2s_shortlist_select(s, 3, 2, all_src, all_len, &all_len, 1, ids);
    cr_assert_lt(n, V - 10, "a shortlist of %d of %d: not small", n, V);
    decode(&m, w, s, 2, 3, got, gl, gs, gn);
    int outside = 0, same = 1;
    for (int b = 0; b < NB; b++)
        for (int h = b * NBEST; h < b * NBEST + gn[b]; h++)
            for (int i = 0; i < gl[h]; i++) {
                int in = 0;
                for (int j = 0; j < n; j++) in |= ids[j] == got[h][i];
                outside += !in;
                same &= i < rl[h] && got[h][i] == ref[h][i];
            }
    cr_assert_eq(outside, 0, "%d output tokens outside the shortlist", outside);
    cr_assert(!same, "the small shortlist changed nothing: a weak test");
    s2s_work_free(w[0]);
    s2s_work_free(w[1]);
    s2s_shortlist_free(s);
    s2s_model_free(&m);
}

Test(shortlist, kept_in_the_checkpoint)
{
    enum { V = 60 };
    s2s_model m;
    build(&m, V);
    s2s_shortlist *s = random_shortlist(V, 200);
    s2s_config c;
    toy_config(&c);
    static char names[2][V][8];
    const char *toks[2][V];
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < V - 4; i++) {
            snprintf(names[side][i], sizeof names[side][i], "%c%d", "st"[side], i);
            toks[side][i] = names[side][i];
        }
    s2s_vocab *vs = s2s_vocab_from_tokens(toks[0], 26, NULL);
    s2s_vocab *vt = s2s_vocab_from_tokens(toks[1], V - 4, NULL);
    char path[] = "/tmp/s2s-shortlist-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    s2s_err err;
    cr_assert_eq(s2s_checkpoint_save_subwords(path, &c, vs, vt, NULL, NULL, s, &m,
                                              NULL, &err), 0, "%s", err.msg);
    s2s_loaded l;
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    cr_assert_not_null(l.lex);
    uint32_t o1[V], o2[V], ids[] = {4, 9, 13};
    int len = 3;
    int n1 = s2s_shortlist_select(s, 5, 3, ids, 3, &len, 1, o1);
    int n2 = s2s_shortlist_select(l.lex, 5, 3, ids, 3, &len, 1, o2);
    cr_assert_eq(n1, n2);
    cr_assert_arr_eq(o1, o2, (size_t)n1 * sizeof *o1);
    s2s_loaded_free(&l);
    /* without one: none after loading */
    cr_assert_eq(s2s_checkpoint_save(path, &c, vs, vt, &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(s2s_checkpoint_load(path, &l, &err), 0, "%s", err.msg);
    cr_assert_null(l.lex);
    s2s_loaded_free(&l);
    unlink(path);
    s2s_vocab_free(vs);
    s2s_vocab_free(vt);
    s2s_shortlist_free(s);
    s2s_model_free(&m);
}
