/* tests/corpora_dataset.c — loading a corpus: the split rule over kept
 * pairs, the length filter and its counters, vocabularies from train only,
 * fixed vocabularies, dev/test files, aligned files, spec errors, and the
 * benchmark protocol's figures on the shared corpus (skipped when absent),
 * with the load time printed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corpora/dataset.h"

#include "corpora/tatoeba.h"

#define SHARED_CORPUS s2s_tatoeba_path()

#include "scratch.h"

static char dir[64];

static void setup(void) { scratch_make(dir, sizeof dir, "dataset"); }
static void teardown(void) { scratch_remove(dir); }

TestSuite(dataset, .init = setup, .fini = teardown);

static const char *write_file(int slot, const char *name, const char *data,
                              size_t len)
{
    return scratch_write(dir, slot, name, data, len);
}
#define WRITE(slot, name, lit) write_file(slot, name, lit, sizeof(lit) - 1)

/* Tokens of pair k, side tgt or src, joined by spaces. */
static char *joined(const s2s_split *s, size_t k, int tgt)
{
    static char buf[4][1024];
    static int slot;
    char *b = buf[slot++ % 4];
    size_t n = tgt ? s->tgt_len[k] : s->src_len[k];
    const char *const *t = tgt ? s2s_split_tgt_tokens(s, k)
                               : s2s_split_src_tokens(s, k);
    b[0] = '\0';
    for (size_t j = 0; j < n; j++) {
        if (j)
            strcat(b, " ");
        strcat(b, t[j]);
    }
    return b;
}

/* Line i (1-based) of the synthetic corpus: source "s<i> x ... x" with
 * i % 7 == 0 lines 12 tokens long (filtered out), target "t<i> y". */
static const char *synthetic(int nlines, int *kept_lines, size_t *nkept)
{
    size_t cap = (size_t)nlines * 64 + 1, pos = 0;
    char *data = malloc(cap);
    *nkept = 0;
    for (int i = 1; i <= nlines; i++) {
        pos += (size_t)snprintf(data + pos, cap - pos, "T%d y\tS%d%s\n", i, i,
                                i % 7 == 0 ? " x x x x x x x x x x x" : " x");
        if (i % 7)
            kept_lines[(*nkept)++] = i;
    }
    const char *p = write_file(0, "syn.tsv", data, pos);
    free(data);
    return p;
}

Test(dataset, split_rule_over_kept_pairs)
{
    int kept[200];
    size_t nkept;
    const char *f = synthetic(200, kept, &nkept);
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.split_every = 5;
    sp.min_count = 1;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);

    /* Independent assignment: kept index i -> i%5==0 test, ==1 dev. */
    size_t want_n[3] = {0, 0, 0};
    for (size_t i = 0; i < nkept; i++) {
        int to = i % 5 == 0 ? S2S_TEST : i % 5 == 1 ? S2S_DEV : S2S_TRAIN;
        const s2s_split *s = &d.split[to];
        size_t k = want_n[to]++;
        cr_assert_lt(k, s->n);
        cr_assert_eq(s->line[k], (size_t)kept[i], "kept pair %zu", i);
        char src[32], tgt[32];
        snprintf(src, sizeof src, "s%d x", kept[i]);
        snprintf(tgt, sizeof tgt, "t%d y", kept[i]);
        cr_assert_str_eq(joined(s, k, 0), src);
        cr_assert_str_eq(joined(s, k, 1), tgt);
        cr_assert_eq(s->src_len[k], 2);
        cr_assert_eq(s->tgt_len[k], 2);
        /* ids: train tokens are in the vocabulary, dev/test "s<i>" are not */
        const uint32_t *x = s2s_split_src(s, k), *y = s2s_split_tgt(s, k);
        char s0[16];
        snprintf(s0, sizeof s0, "s%d", kept[i]);
        if (to == S2S_TRAIN)
            cr_assert_str_eq(s2s_vocab_token(d.src_vocab, x[0]), s0);
        else
            cr_assert_eq(x[0], S2S_UNK);
        cr_assert_str_eq(s2s_vocab_token(d.src_vocab, x[1]), "x");
        cr_assert_str_eq(s2s_vocab_token(d.tgt_vocab, y[1]), "y");
    }
    for (int k = 0; k < 3; k++)
        cr_assert_eq(d.split[k].n, want_n[k]);
    cr_assert_eq(d.stats[S2S_TRAIN].lines, 200);
    cr_assert_eq(d.stats[S2S_TRAIN].kept, nkept);
    cr_assert_eq(d.stats[S2S_TRAIN].too_long, 200 - nkept);
    cr_assert_null(d.stats[S2S_DEV].file);
    cr_assert_str_eq(d.split[S2S_DEV].file, f);
    /* vocab: specials + x + every train s<i>; "x x x" lines were filtered
     * so x counts only kept train pairs */
    cr_assert_eq(s2s_vocab_size(d.src_vocab), 4 + 1 + want_n[S2S_TRAIN]);
    cr_assert_eq(s2s_vocab_count(d.src_vocab,
                                 s2s_vocab_id(d.src_vocab, "x", 1)),
                 want_n[S2S_TRAIN]);
    cr_assert_eq(d.src_unk, want_n[S2S_DEV] + want_n[S2S_TEST]);
    s2s_dataset_free(&d);
}

Test(dataset, filters_and_counters)
{
    const char *f = WRITE(0, "f.tsv",
        "a b\tc d\n"                 /* 1 kept */
        "\n"                         /* 2 blank */
        "\tx\n"                      /* 3 empty source */
        "x\t \xC2\xA0 \n"            /* 4 target only white space: empty */
        "a\tb\n"                     /* 5 too short with min_len 2 */
        "a b c d\te f\n"             /* 6 too long with max_len 3 */
        "a b\t\xFF\n"                /* 7 invalid UTF-8 (skipped) */
        "e f\tg h i\n"               /* 8 kept */
        "1 2 3 4\t\n");              /* 9 empty side wins over too long */
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.src_column = 1;
    sp.tgt_column = 2;
    sp.min_len = 2;
    sp.max_len = 3;
    sp.split_every = 0;
    sp.min_count = 1;
    sp.skip_invalid_utf8 = 1;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    const s2s_read_stats *st = &d.stats[S2S_TRAIN];
    cr_assert_str_eq(st->file, f);
    cr_assert_eq(st->lines, 9);
    cr_assert_eq(st->kept, 2);
    cr_assert_eq(st->blank, 1);
    cr_assert_eq(st->empty, 3);
    cr_assert_eq(st->too_short, 1);
    cr_assert_eq(st->too_long, 1);
    cr_assert_eq(st->invalid_utf8, 1);
    cr_assert_eq(d.split[S2S_TRAIN].n, 2);
    cr_assert_eq(d.split[S2S_DEV].n, 0);
    cr_assert_eq(d.split[S2S_TEST].n, 0);
    cr_assert_eq(d.split[S2S_TRAIN].line[0], 1);
    cr_assert_eq(d.split[S2S_TRAIN].line[1], 8);
    cr_assert_str_eq(joined(&d.split[S2S_TRAIN], 1, 1), "g h i");

    /* the summary carries the same figures */
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    s2s_dataset_summary(&d, m);
    fclose(m);
    char want[512];
    snprintf(want, sizeof want, "data: %s: 9 lines, 2 pairs kept; skipped: "
             "1 too long, 1 too short, 3 with an empty side, 1 blank, 1 "
             "invalid UTF-8\n", f);
    cr_assert(strstr(text, want), "summary:\n%s", text);
    cr_assert(strstr(text, "data: splits: train 2 (4 source, 5 target "
                           "tokens), dev 0 (0 source, 0 target tokens), "
                           "test 0 (0 source, 0 target tokens)\n"),
              "summary:\n%s", text);
    cr_assert(strstr(text, "data: vocabularies (built from train): source "
                           "8, target 9 entries; <unk> 0.00% of source, "
                           "0.00% of target tokens\n"), "summary:\n%s", text);
    free(text);
    s2s_dataset_free(&d);

    /* without skipping, line 7 is an error with its place */
    sp.skip_invalid_utf8 = 0;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    snprintf(want, sizeof want, "%s:7: invalid UTF-8 at byte offset 4 (file "
             "offset 39)", f);
    cr_assert_str_eq(err.msg, want);
    s2s_dataset_free(&d);
}

Test(dataset, vocab_min_count_and_max_size)
{
    const char *f = WRITE(0, "v.tsv",
                          "a a b\tX\nA c\tX Y\nb\tY\nd\tZ\n");
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.src_column = 1;
    sp.tgt_column = 2;
    sp.split_every = 0;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    /* counts a:3 b:2 c:1 d:1 -> a, b ; x:2 y:2 z:1 -> x, y */
    cr_assert_eq(s2s_vocab_size(d.src_vocab), 6);
    cr_assert_str_eq(s2s_vocab_token(d.src_vocab, 4), "a");
    cr_assert_str_eq(s2s_vocab_token(d.src_vocab, 5), "b");
    cr_assert_eq(s2s_vocab_size(d.tgt_vocab), 6);
    cr_assert_str_eq(s2s_vocab_token(d.tgt_vocab, 4), "x");
    cr_assert_str_eq(s2s_vocab_token(d.tgt_vocab, 5), "y");
    /* <unk> in ids, real tokens in strings */
    const s2s_split *s = &d.split[S2S_TRAIN];
    cr_assert_eq(s2s_split_tgt(s, 3)[0], S2S_UNK);
    cr_assert_str_eq(s2s_split_tgt_tokens(s, 3)[0], "z");
    cr_assert_eq(d.src_unk, 2);
    cr_assert_eq(d.tgt_unk, 1);
    s2s_dataset_free(&d);

    sp.max_vocab = 5;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0);
    cr_assert_eq(s2s_vocab_size(d.src_vocab), 5);
    cr_assert_eq(s2s_vocab_size(d.tgt_vocab), 5);
    s2s_dataset_free(&d);
}

Test(dataset, fixed_vocabularies_are_copied)
{
    const char *f = WRITE(0, "fx.tsv", "hello world\tbonjour monde\n"
                                       "hello\tsalut\n");
    const char *src_toks[] = {"salut", "monde"};
    const char *tgt_toks[] = {"world"};
    s2s_vocab *vs = s2s_vocab_from_tokens(src_toks, 2, NULL);
    s2s_vocab *vt = s2s_vocab_from_tokens(tgt_toks, 1, NULL);
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.split_every = 0;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, vs, vt, &d, &err), 0, "%s", err.msg);
    cr_assert(d.fixed_vocab);
    cr_assert(s2s_vocab_equal(d.src_vocab, vs));
    s2s_vocab_free(vs); /* the caller's copies are its own */
    s2s_vocab_free(vt);
    const s2s_split *s = &d.split[S2S_TRAIN];
    cr_assert_eq(s->n, 2);
    cr_assert_eq(s2s_split_src(s, 0)[0], S2S_UNK); /* bonjour */
    cr_assert_eq(s2s_split_src(s, 0)[1], 5);       /* monde */
    cr_assert_eq(s2s_split_src(s, 1)[0], 4);       /* salut */
    cr_assert_eq(s2s_split_tgt(s, 0)[1], 4);       /* world */
    cr_assert_eq(s2s_split_tgt(s, 1)[0], S2S_UNK);
    cr_assert_str_eq(s2s_vocab_token(d.src_vocab, 5), "monde");
    s2s_dataset_free(&d);

    /* empty train is fine with fixed vocabularies (e.g. eval of a file) */
    const char *e = WRITE(1, "empty.tsv", "a b c d\tx\n");
    sp.train = e;
    sp.max_len = 3;
    vs = s2s_vocab_from_tokens(NULL, 0, NULL);
    cr_assert_eq(s2s_dataset_load(&sp, vs, vs, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(d.split[S2S_TRAIN].n, 0);
    s2s_dataset_free(&d);
    s2s_vocab_free(vs);
}

Test(dataset, dev_and_test_files_and_aligned_train)
{
    const char *tr_src = WRITE(0, "tr.fr", "a\nb\nc\nd\ne\nf\n");
    const char *tr_tgt = WRITE(1, "tr.en", "A\nB\nC\nD\nE\nF\n");
    const char *dev = WRITE(2, "dev.tsv", "DA\tda\nDB\tdb\n");
    const char *te_src = WRITE(3, "te.fr", "ta\n");
    const char *te_tgt = WRITE(4, "te.en", "TA\n");
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = tr_src;
    sp.train_target = tr_tgt;
    sp.split_every = 3;
    sp.min_count = 1;
    s2s_dataset d;
    s2s_err err = {{0}};

    /* dev from a TSV file: kept i % 3 == 1 stays in train; test split
     * from train (i % 3 == 0) */
    sp.dev = dev;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.split[S2S_TEST].n, 2);    /* a, d */
    cr_assert_eq(d.split[S2S_TRAIN].n, 4);   /* b c e f */
    cr_assert_eq(d.split[S2S_DEV].n, 2);
    cr_assert_str_eq(joined(&d.split[S2S_TEST], 1, 0), "d");
    cr_assert_str_eq(joined(&d.split[S2S_TEST], 1, 1), "d");
    cr_assert_str_eq(joined(&d.split[S2S_TRAIN], 0, 1), "b");
    cr_assert_str_eq(d.split[S2S_DEV].file, dev);
    cr_assert_str_eq(d.stats[S2S_DEV].file, dev);
    cr_assert_eq(d.stats[S2S_DEV].kept, 2);
    cr_assert_str_eq(joined(&d.split[S2S_DEV], 1, 0), "db"); /* column 2 */
    cr_assert_str_eq(joined(&d.split[S2S_DEV], 1, 1), "db");
    cr_assert_eq(d.split[S2S_DEV].line[1], 2);
    s2s_dataset_free(&d);

    /* and test from aligned files too: every train pair stays in train */
    sp.test = te_src;
    sp.test_target = te_tgt;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.split[S2S_TRAIN].n, 6);
    cr_assert_eq(d.split[S2S_TEST].n, 1);
    cr_assert_str_eq(joined(&d.split[S2S_TEST], 0, 1), "ta");
    cr_assert_str_eq(d.split[S2S_TEST].file, te_src);
    s2s_dataset_free(&d);

    /* an error in the dev file names it */
    const char *bad = WRITE(5, "bad.tsv", "ok\tok\nonly-one-column\n");
    sp.dev = bad;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s:2: expected at least 2 tab-separated "
             "columns, found 1", bad);
    cr_assert_str_eq(err.msg, want);
    s2s_dataset_free(&d);
}

Test(dataset, spec_errors)
{
    const char *f = WRITE(0, "s.tsv", "a b c\td\n");
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    s2s_dataset d;
    s2s_err err;
    s2s_vocab *v = s2s_vocab_from_tokens(NULL, 0, NULL);

    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    cr_assert_str_eq(err.msg, "data: no training corpus given");
    s2s_dataset_free(&d);

    sp.train = f;
    cr_assert_eq(s2s_dataset_load(&sp, v, NULL, &d, &err), -1);
    cr_assert_str_eq(err.msg, "data: fixed vocabularies must be given for "
                              "both sides or neither");
    s2s_dataset_free(&d);

    sp.min_len = 5;
    sp.max_len = 4;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    cr_assert_str_eq(err.msg, "data: min_len 5 is above max_len 4");
    s2s_dataset_free(&d);

    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.split_every = -1;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    cr_assert_str_eq(err.msg, "data: split_every, min_len and max_len must "
                              "be >= 0 (got -1, 1, 10)");
    s2s_dataset_free(&d);

    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.dev_target = f;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    cr_assert_str_eq(err.msg, "data: dev_target given without dev");
    s2s_dataset_free(&d);

    /* nothing left to build vocabularies from */
    s2s_data_spec_defaults(&sp);
    sp.train = f;
    sp.max_len = 2;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s: no training pairs left after filtering "
             "(1 lines read)", f);
    cr_assert_str_eq(err.msg, want);
    s2s_dataset_free(&d);

    /* max_len 0: no cap */
    sp.max_len = 0;
    sp.split_every = 0;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(d.split[S2S_TRAIN].n, 1);
    s2s_dataset_free(&d);

    /* a missing file */
    snprintf(want, sizeof want, "%s/none.tsv", dir);
    sp.train = want;
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), -1);
    cr_assert(strstr(err.msg, ": cannot open: No such file or directory"),
              "%s", err.msg);
    s2s_dataset_free(&d);
    s2s_vocab_free(v);
}

Test(dataset, sample_file_tokens)
{
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = "tests/data/sample.tsv";
    sp.split_every = 0;
    sp.min_count = 1;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    const s2s_split *s = &d.split[S2S_TRAIN];
    cr_assert_eq(d.stats[S2S_TRAIN].lines, 55);
    /* 14 of the 55 lines have a side over 10 tokens (counted with an
     * independent Python unicodedata implementation of the protocol) */
    cr_assert_eq(s->n, 41);
    cr_assert_eq(d.stats[S2S_TRAIN].too_long, 14);
    cr_assert_str_eq(joined(s, 0, 0), "va !");
    cr_assert_str_eq(joined(s, 0, 1), "go .");
    cr_assert_str_eq(joined(s, 2, 0), "j \xE2\x80\x99 ai gagn\xC3\xA9 .");
    cr_assert_str_eq(joined(s, 4, 0),
                     "dis : \xC2\xAB s ' il te pla\xC3\xAEt \xC2\xBB .");
    cr_assert_eq(s->line[4], 5);
    s2s_dataset_free(&d);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* BENCHMARK.md: source fr = column 2, target en = column 1; 1..10 tokens;
 * every 50th kept pair test, the next dev; min_count 2. */
Test(dataset, benchmark_protocol_on_shared_corpus, .timeout = 120)
{
    if (access(SHARED_CORPUS, R_OK) != 0)
        cr_skip_test("%s not found: %s", SHARED_CORPUS, S2S_TATOEBA_ABOUT);
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = SHARED_CORPUS;
    s2s_dataset d;
    s2s_err err = {{0}};
    double t0 = now();
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    double t1 = now();
    cr_log_info("shared corpus: read + normalise + filter + split + both "
                "vocabularies + ids in %.3f s", t1 - t0);
    fprintf(stderr, "corpora_dataset: shared corpus loaded (read, normalise, "
            "filter, split, both vocabularies, ids) in %.3f s\n", t1 - t0);
    cr_assert_eq(d.stats[S2S_TRAIN].lines, 167130);
    cr_assert_eq(d.stats[S2S_TRAIN].kept, 118509);
    cr_assert_eq(d.split[S2S_TRAIN].n, 113767);
    cr_assert_eq(d.split[S2S_DEV].n, 2371);
    cr_assert_eq(d.split[S2S_TEST].n, 2371);
    cr_assert_eq(s2s_vocab_size(d.src_vocab), 12012);
    cr_assert_eq(s2s_vocab_size(d.tgt_vocab), 7640);
    /* kept pair 0 (line 1) is the first test pair, pair 1 the first dev */
    cr_assert_eq(d.split[S2S_TEST].line[0], 1);
    cr_assert_str_eq(joined(&d.split[S2S_TEST], 0, 0), "va !");
    cr_assert_str_eq(joined(&d.split[S2S_TEST], 0, 1), "go .");
    cr_assert_eq(d.split[S2S_DEV].line[0], 2);
    cr_assert_str_eq(joined(&d.split[S2S_DEV], 0, 1), "hi .");
    /* every id is in range and every side 1..10 tokens */
    for (int k = 0; k < S2S_NUM_SPLITS; k++) {
        const s2s_split *s = &d.split[k];
        for (size_t i = 0; i < s->n; i++) {
            cr_assert(s->src_len[i] >= 1 && s->src_len[i] <= 10);
            cr_assert(s->tgt_len[i] >= 1 && s->tgt_len[i] <= 10);
        }
        for (size_t j = 0; j < s->n_src_tokens; j++)
            cr_assert_lt(s->src_ids[j], 12012);
        for (size_t j = 0; j < s->n_tgt_tokens; j++)
            cr_assert_lt(s->tgt_ids[j], 7640);
    }
    s2s_dataset_summary(&d, stderr);
    s2s_dataset_free(&d);
}
