/* fuzz/fuzz_runfile.c — the YAML run-file reader: any bytes give a config
 * or a one-line error; a config read back from its own YAML is the same. */
#include <string.h>

#include "fuzz.h"
#include "seq2seq/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    s2s_config c, again;
    s2s_err err;
    if (s2s_config_load_string(&c, (const char *)data, n, "fuzz", &err) < 0) {
        if (strchr(err.msg, '\n')) abort();
        return 0;
    }
    char *yaml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&yaml, &len);
    s2s_config_write(&c, f);
    fclose(f);
    if (s2s_config_load_string(&again, yaml, len, "again", &err) < 0) abort();
    free(yaml);
    /* the same config, byte for byte (configs are memset before filling;
     * where each was read from is not a key) */
    memset(c.source_file, 0, sizeof c.source_file);
    memset(again.source_file, 0, sizeof again.source_file);
    if (memcmp(&c, &again, sizeof c) != 0) abort();
    return 0;
}
