/* fuzz/fuzz_corpus_tsv.c — the TSV corpus reader and the tokenizer on
 * every pair it yields. */
#include "corpora/reader.h"
#include "fuzz.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file(0, data, n);
    int col = n ? 1 + data[0] % 3 : 1;
    s2s_reader r;
    s2s_err err;
    if (s2s_reader_open_max(&r, path, NULL, col, col == 1 ? 2 : 1, n & 1, 4096, &err) < 0)
        return 0;
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_tok_opts o = S2S_TOK_OPTS_DEFAULT;
    s2s_raw_pair p;
    while (s2s_reader_next(&r, &p, &err) == 1) {
        s2s_tokenize(&o, p.src, p.src_len, &t, &err);
        s2s_tokenize(&o, p.tgt, p.tgt_len, &t, &err);
    }
    s2s_tokens_free(&t);
    s2s_reader_close(&r);
    return 0;
}
