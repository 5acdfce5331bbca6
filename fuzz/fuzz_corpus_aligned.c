/* fuzz/fuzz_corpus_aligned.c — the aligned-files corpus reader: the input
 * is cut at its first 0xFF byte (or the middle) into the two files. */
#include <string.h>

#include "corpora/reader.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const uint8_t *cut = memchr(data, 0xFF, n);
    size_t a = cut ? (size_t)(cut - data) : n / 2;
    size_t b0 = cut ? a + 1 : a;
    const char *p0 = fuzz_file(0, data, a);
    const char *p1 = fuzz_file(1, data + b0, n - b0);
    s2s_reader r;
    s2s_err err;
    if (s2s_reader_open_max(&r, p0, p1, 1, 1, n & 1, 4096, &err) < 0)
        return 0;
    s2s_raw_pair p;
    while (s2s_reader_next(&r, &p, &err) == 1)
        if (p.src_len > 4096 || p.tgt_len > 4096) abort();
    s2s_reader_close(&r);
    return 0;
}
