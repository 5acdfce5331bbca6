/* fuzz/fuzz_vocab.c — the vocabulary file parser: a vocabulary it accepts
 * serialises back to text that parses to an equal vocabulary. */
#include "fuzz.h"
#include "tokenizer/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    s2s_err err;
    s2s_vocab *v = s2s_vocab_parse((const char *)data, n, "fuzz", &err);
    if (!v) return 0;
    size_t len;
    char *text = s2s_vocab_serialize(v, &len);
    s2s_vocab *w = s2s_vocab_parse(text, len, "again", &err);
    if (!w || !s2s_vocab_equal(v, w)) abort();
    free(text);
    s2s_vocab_free(w);
    s2s_vocab_free(v);
    return 0;
}
