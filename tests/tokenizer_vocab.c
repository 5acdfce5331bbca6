/* tests/tokenizer_vocab.c — vocabularies: specials, lookup, the counter and
 * its deterministic order, min_count / max_size, save/load and
 * serialize/parse round trips, and hostile vocabulary files.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer/vocab.h"

static void add_n(s2s_counter *c, const char *tok, int n)
{
    for (int i = 0; i < n; i++)
        s2s_counter_add(c, tok, strlen(tok));
}

Test(vocab, specials)
{
    s2s_vocab *v = s2s_vocab_from_tokens(NULL, 0, NULL);
    cr_assert_eq(s2s_vocab_size(v), 4);
    cr_assert_str_eq(s2s_vocab_token(v, S2S_PAD), "<pad>");
    cr_assert_str_eq(s2s_vocab_token(v, S2S_UNK), "<unk>");
    cr_assert_str_eq(s2s_vocab_token(v, S2S_SOS), "<sos>");
    cr_assert_str_eq(s2s_vocab_token(v, S2S_EOS), "<eos>");
    cr_assert_eq(s2s_vocab_id(v, "<eos>", 5), S2S_EOS);
    cr_assert_eq(s2s_vocab_id(v, "<pad>", 5), S2S_PAD);
    cr_assert_eq(s2s_vocab_id(v, "hello", 5), S2S_UNK);
    cr_assert_eq(s2s_vocab_id(v, "", 0), S2S_UNK);
    /* out-of-range ids read as <unk> */
    cr_assert_str_eq(s2s_vocab_token(v, 4), "<unk>");
    cr_assert_str_eq(s2s_vocab_token(v, UINT32_MAX), "<unk>");
    cr_assert_eq(s2s_vocab_count(v, 99), 0);
    s2s_vocab_free(v);
}

Test(vocab, build_orders_by_count_then_bytes)
{
    s2s_counter *c = s2s_counter_new();
    /* first-seen order differs from the expected order on purpose */
    add_n(c, "b", 3);
    add_n(c, "d", 1);
    add_n(c, "ab", 3);
    add_n(c, "c", 5);
    add_n(c, "a", 3);
    add_n(c, "\xC3\xA9", 3); /* é: bytes C3 A9 sort after ASCII */
    add_n(c, "<unk>", 7);     /* spelled like a special: never added */
    cr_assert_eq(s2s_counter_distinct(c), 7);

    s2s_vocab *v = s2s_vocab_build(c, 2, 0);
    const char *want[] = {"<pad>", "<unk>", "<sos>", "<eos>", "c", "a",
                          "ab", "b", "\xC3\xA9"};
    const uint64_t counts[] = {0, 0, 0, 0, 5, 3, 3, 3, 3};
    cr_assert_eq(s2s_vocab_size(v), 9);
    for (uint32_t i = 0; i < 9; i++) {
        cr_assert_str_eq(s2s_vocab_token(v, i), want[i], "id %u", i);
        cr_assert_eq(s2s_vocab_count(v, i), counts[i], "id %u", i);
        cr_assert_eq(s2s_vocab_id(v, want[i], strlen(want[i])), i);
        cr_assert_eq(s2s_vocab_token_len(v, i), strlen(want[i]));
    }
    cr_assert_eq(s2s_vocab_id(v, "d", 1), S2S_UNK); /* count 1 < 2 */
    /* lookups use the length, not a terminator */
    cr_assert_eq(s2s_vocab_id(v, "abc", 2), 6);
    s2s_vocab_free(v);

    /* min_count 1 keeps d, at the end */
    v = s2s_vocab_build(c, 1, 0);
    cr_assert_eq(s2s_vocab_size(v), 10);
    cr_assert_str_eq(s2s_vocab_token(v, 9), "d");
    s2s_vocab_free(v);

    /* max_size counts the specials */
    v = s2s_vocab_build(c, 1, 6);
    cr_assert_eq(s2s_vocab_size(v), 6);
    cr_assert_str_eq(s2s_vocab_token(v, 5), "a");
    cr_assert_eq(s2s_vocab_id(v, "ab", 2), S2S_UNK);
    s2s_vocab_free(v);
    v = s2s_vocab_build(c, 1, 2); /* never below the specials */
    cr_assert_eq(s2s_vocab_size(v), 4);
    s2s_vocab_free(v);
    s2s_counter_free(c);
}

Test(vocab, build_does_not_depend_on_insertion_order)
{
    s2s_counter *a = s2s_counter_new(), *b = s2s_counter_new();
    char tok[16];
    for (int i = 0; i < 500; i++) {
        snprintf(tok, sizeof tok, "w%d", i);
        add_n(a, tok, 1 + i % 7);
    }
    for (int i = 499; i >= 0; i--) {
        snprintf(tok, sizeof tok, "w%d", i);
        add_n(b, tok, 1 + i % 7);
    }
    s2s_vocab *va = s2s_vocab_build(a, 2, 0), *vb = s2s_vocab_build(b, 2, 0);
    cr_assert(s2s_vocab_equal(va, vb));
    /* 500 tokens, counts 1..7: those with count 1 (i % 7 == 0) dropped */
    cr_assert_eq(s2s_vocab_size(va), 4 + 500 - 72);
    s2s_vocab_free(va);
    s2s_vocab_free(vb);
    s2s_counter_free(a);
    s2s_counter_free(b);
}

Test(vocab, many_tokens_grow_the_table)
{
    s2s_counter *c = s2s_counter_new();
    char tok[16];
    for (int i = 0; i < 100000; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        add_n(c, tok, 2);
    }
    s2s_vocab *v = s2s_vocab_build(c, 2, 0);
    cr_assert_eq(s2s_vocab_size(v), 100004);
    for (int i = 0; i < 100000; i += 997) {
        snprintf(tok, sizeof tok, "t%d", i);
        uint32_t id = s2s_vocab_id(v, tok, strlen(tok));
        cr_assert_geq(id, 4);
        cr_assert_str_eq(s2s_vocab_token(v, id), tok);
    }
    s2s_vocab_free(v);
    s2s_counter_free(c);
}

Test(vocab, encode_tokens)
{
    const char *toks[] = {"j", "'", "ai"};
    s2s_vocab *v = s2s_vocab_from_tokens(toks, 3, NULL);
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    cr_assert_eq(s2s_tokenize(&o, "J'ai faim", 9, &t, NULL), 0);
    uint32_t ids[4];
    cr_assert_eq(s2s_vocab_encode(v, &t, ids), 1);
    cr_assert_eq(ids[0], 4);
    cr_assert_eq(ids[1], 5);
    cr_assert_eq(ids[2], 6);
    cr_assert_eq(ids[3], S2S_UNK);
    s2s_tokens_free(&t);
    s2s_vocab_free(v);
}

Test(vocab, from_tokens_rejects_bad_tokens)
{
    s2s_err err;
    const char *dup[] = {"a", "b", "a"};
    cr_assert_null(s2s_vocab_from_tokens(dup, 3, &err));
    cr_assert_str_eq(err.msg, "vocabulary token 2: duplicate token");
    const char *sp[] = {"<sos>"};
    cr_assert_null(s2s_vocab_from_tokens(sp, 1, &err));
    cr_assert_str_eq(err.msg, "vocabulary token 0: special token");
    const char *tab[] = {"a\tb"};
    cr_assert_null(s2s_vocab_from_tokens(tab, 1, &err));
    cr_assert_str_eq(err.msg, "vocabulary token 0: TAB in token");
    const char *empty[] = {""};
    cr_assert_null(s2s_vocab_from_tokens(empty, 1, &err));
    cr_assert_str_eq(err.msg, "vocabulary token 0: empty token");
}

static s2s_vocab *sample_vocab(void)
{
    s2s_counter *c = s2s_counter_new();
    add_n(c, "le", 9);
    add_n(c, "j\xE2\x80\x99" "ai", 4);
    add_n(c, "\xF0\x9F\x8D\x95", 2);
    add_n(c, "!", 9);
    s2s_vocab *v = s2s_vocab_build(c, 1, 0);
    s2s_counter_free(c);
    return v;
}

Test(vocab, serialize_parse_round_trip)
{
    s2s_vocab *v = sample_vocab();
    size_t len;
    char *buf = s2s_vocab_serialize(v, &len);
    cr_assert_eq(len, strlen(buf));
    cr_assert_str_eq(buf, "<pad>\t0\n<unk>\t0\n<sos>\t0\n<eos>\t0\n!\t9\n"
                          "le\t9\nj\xE2\x80\x99" "ai\t4\n\xF0\x9F\x8D\x95\t2\n");
    /* parse from an exact-size copy without a terminator (ASan checks) */
    char *exact = malloc(len);
    memcpy(exact, buf, len);
    s2s_err err = {{0}};
    s2s_vocab *w = s2s_vocab_parse(exact, len, "mem", &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert(s2s_vocab_equal(v, w));
    s2s_vocab_free(w);

    /* the last newline is optional; CRLF is accepted */
    w = s2s_vocab_parse(exact, len - 1, "mem", &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert(s2s_vocab_equal(v, w));
    s2s_vocab_free(w);
    const char *crlf = "<pad>\t0\r\n<unk>\t0\r\n<sos>\t0\r\n<eos>\t0\r\n"
                       "!\t9\r\nle\t9\r\nj\xE2\x80\x99" "ai\t4\r\n"
                       "\xF0\x9F\x8D\x95\t2\r\n";
    w = s2s_vocab_parse(crlf, strlen(crlf), "mem", &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert(s2s_vocab_equal(v, w));
    s2s_vocab_free(w);

    /* a clone is equal and independent */
    w = s2s_vocab_clone(v);
    s2s_vocab_free(v);
    cr_assert_eq(s2s_vocab_id(w, "le", 2), 5);
    cr_assert_eq(s2s_vocab_count(w, 5), 9);
    s2s_vocab_free(w);
    free(exact);
    free(buf);
}

Test(vocab, save_load_round_trip)
{
    char dir[] = "/tmp/s2s_vocab_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/v.txt", dir);
    s2s_vocab *v = sample_vocab();
    s2s_err err = {{0}};
    cr_assert_eq(s2s_vocab_save(v, path, &err), 0, "%s", err.msg);
    s2s_vocab *w = s2s_vocab_load(path, &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert(s2s_vocab_equal(v, w));
    s2s_vocab_free(w);
    s2s_vocab_free(v);
    unlink(path);

    /* the file in tests/data */
    w = s2s_vocab_load("tests/data/vocab.txt", &err);
    cr_assert_not_null(w, "%s", err.msg);
    cr_assert_eq(s2s_vocab_size(w), 8);
    cr_assert_eq(s2s_vocab_id(w, "the", 3), 5);
    cr_assert_eq(s2s_vocab_count(w, 4), 120);
    cr_assert_eq(s2s_vocab_id(w, "j\xE2\x80\x99" "ai", 6), 7);
    s2s_vocab_free(w);

    /* errors name the path */
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    cr_assert_null(s2s_vocab_load(path, &err));
    char want[512];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory",
             path);
    cr_assert_str_eq(err.msg, want);
    v = sample_vocab();
    snprintf(path, sizeof path, "%s/no/such/dir/v.txt", dir);
    cr_assert_eq(s2s_vocab_save(v, path, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open for writing: No such file "
             "or directory", path);
    cr_assert_str_eq(err.msg, want);
    s2s_vocab_free(v);
    rmdir(dir);
}

/* Every hostile input is rejected with the exact NAME:LINE message. */
static void reject(const char *buf, size_t len, const char *msg)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    s2s_err err = {{0}};
    s2s_vocab *v = s2s_vocab_parse(copy, len, "v.txt", &err);
    cr_assert_null(v, "accepted: %.*s", (int)len, buf);
    cr_assert_str_eq(err.msg, msg);
    free(copy);
}

#define SPECIALS "<pad>\t0\n<unk>\t0\n<sos>\t0\n<eos>\t0\n"
#define REJECT(lit, msg) reject(lit, sizeof(lit) - 1, msg)

Test(vocab, hostile_files_rejected)
{
    REJECT("", "v.txt:1: missing the special token <pad> (ids 0-3 must be "
               "<pad> <unk> <sos> <eos>)");
    REJECT("<pad>\t0\n<unk>\t0\n<sos>\t0\n",
           "v.txt:4: missing the special token <eos> (ids 0-3 must be "
           "<pad> <unk> <sos> <eos>)");
    REJECT("<unk>\t0\n<pad>\t0\n<sos>\t0\n<eos>\t0\n",
           "v.txt:1: expected the special token <pad> (id 0) here");
    REJECT("<pad>\t0\n<unk>\t0\nhello\t3\n<sos>\t0\n<eos>\t0\n",
           "v.txt:3: expected the special token <sos> (id 2) here");
    REJECT(SPECIALS "hello\t3\nhello\t2\n",
           "v.txt:6: duplicate token 'hello' (first on line 5)");
    REJECT(SPECIALS "a\t1\n<unk>\t5\n",
           "v.txt:6: duplicate token '<unk>' (first on line 2)");
    REJECT(SPECIALS "x\t-1\n", "v.txt:5: count '-1' is not a decimal integer");
    REJECT(SPECIALS "x\t+1\n", "v.txt:5: count '+1' is not a decimal integer");
    REJECT(SPECIALS "x\t 1\n", "v.txt:5: count ' 1' is not a decimal integer");
    REJECT(SPECIALS "x\t1a\n", "v.txt:5: count '1a' is not a decimal integer");
    REJECT(SPECIALS "x\t1\t2\n",
           "v.txt:5: count '1\t2' is not a decimal integer");
    REJECT(SPECIALS "x\t\n", "v.txt:5: missing count");
    REJECT(SPECIALS "x\t99999999999999999999\n", "v.txt:5: count too large");
    REJECT(SPECIALS "x\t9223372036854775808\n", "v.txt:5: count too large");
    REJECT(SPECIALS "x 3\n", "v.txt:5: expected token<TAB>count");
    REJECT(SPECIALS "\t3\n", "v.txt:5: empty token");
    REJECT(SPECIALS "a\t1\n\nb\t1\n", "v.txt:6: blank line");
    REJECT(SPECIALS "a\0b\t1\n", "v.txt:5: NUL byte in token");
    REJECT(SPECIALS "a\rb\t1\n", "v.txt:5: CR in token");
    REJECT(SPECIALS "\xFF\t1\n", "v.txt:5: invalid UTF-8 in token");
    REJECT(SPECIALS "\xC3\t1\n", "v.txt:5: invalid UTF-8 in token");
    REJECT("<pad>\t0\n<unk>\t0\n<sos>\t0\n<eos>\tx\n",
           "v.txt:4: count 'x' is not a decimal integer");

    /* the largest count accepted */
    const char *big = SPECIALS "x\t9223372036854775807\n";
    s2s_vocab *v = s2s_vocab_parse(big, strlen(big), "v.txt", NULL);
    cr_assert_not_null(v);
    cr_assert_eq(s2s_vocab_count(v, 4), 9223372036854775807ull);
    s2s_vocab_free(v);
}
