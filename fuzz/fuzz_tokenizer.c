/* fuzz/fuzz_tokenizer.c — the tokenizer (options from the first byte) and
 * the detokeniser on what it yields; the ASCII fast path and the Unicode
 * path must agree on ASCII input. */
#include <string.h>

#include "fuzz.h"
#include "tokenizer/detok.h"
#include "tokenizer/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (n == 0) return 0;
    s2s_tok_opts o = {data[0] & 1, (data[0] >> 1) & 1, (data[0] >> 2) & 1};
    const char *s = (const char *)data + 1;
    s2s_tokens t;
    s2s_tokens_init(&t);
    s2s_err err;
    if (s2s_tokenize(&o, s, n - 1, &t, &err) == 0) {
        const char *const *tok = s2s_tokens_ptrs(&t);
        char *text = s2s_detokenize(tok, t.n, (data[0] >> 3) & 1);
        free(text);
    }
    s2s_tokens_free(&t);
    /* the detokeniser alone, on tokens cut at spaces (any bytes) */
    char *copy = malloc(n);
    memcpy(copy, data + 1, n - 1);
    copy[n - 1] = 0;
    const char *toks[256];
    size_t k = 0;
    for (char *p = copy, *save = NULL; k < 256 && (p = strtok_r(p, " ", &save)); p = NULL)
        toks[k++] = p;
    free(s2s_detokenize(toks, k, data[0] & 1));
    free(copy);
    return 0;
}
