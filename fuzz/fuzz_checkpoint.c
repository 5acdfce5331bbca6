/* fuzz/fuzz_checkpoint.c — the checkpoint reader, whole: container, config,
 * vocabularies, cell pins, model plan, parameters. An input of even length
 * gets its CRCs and trailer length repaired first, so mutations reach the
 * model-level parsing instead of stopping at a checksum; odd lengths test
 * the container's own checks. Cells are found through S2S_CELL_PATH. */
#include <string.h>

#include "core/ckpt.h"
#include "fuzz.h"
#include "seq2seq/checkpoint.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void repair(uint8_t *b, size_t n)
{
    if (n < 40 || memcmp(b, "S2SCKPT", 8) != 0) return;
    put32(b + 20, s2s_crc32(0, b, 20));
    uint32_t ns = (uint32_t)(b[12] | b[13] << 8 | b[14] << 16 | (uint32_t)b[15] << 24);
    size_t pos = 24;
    for (uint32_t i = 0; i < ns && i < 1000 && pos + 24 <= n; i++) {
        uint64_t len = get64(b + pos + 8);
        if (len > n - pos - 24) break;
        uint32_t crc = s2s_crc32(0, b + pos, 16);
        put32(b + pos + 16, s2s_crc32(crc, b + pos + 24, (size_t)len));
        pos += 24 + (size_t)((len + 7) & ~(uint64_t)7);
    }
    if (memcmp(b + n - 16, "S2SCKEND", 8) == 0)
        for (int i = 0; i < 8; i++) b[n - 8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, data, n);
    if (n % 2 == 0) repair(b, n);
    const char *path = fuzz_file(0, b, n);
    free(b);
    s2s_loaded l;
    s2s_err err;
    if (s2s_checkpoint_load(path, &l, &err) == 0) s2s_loaded_free(&l);
    return 0;
}
