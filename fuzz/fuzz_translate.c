/* fuzz/fuzz_translate.c — the translate input path: lines read with the
 * bounded reader, then tokenised, encoded and decoded in a batch by a
 * small model built (and saved, and loaded) at start-up. */
#include <string.h>

#include "core/file.h"
#include "fuzz.h"
#include "seq2seq/checkpoint.h"
#include "seq2seq/s2s.h"

static s2s_translator *tr;

static void open_model(void)
{
    s2s_config c;
    s2s_config_defaults(&c);
    c.model.embed = 8;
    c.model.encoder.hidden = c.model.decoder.hidden = 8;
    /* An untrained model decodes to the cap: a short one keeps the
     * harness on the input path (reading, tokenising, batching, encoding)
     * instead of in beam steps that look the same for every input. */
    c.decode.max_len = 4;
    const char *w[] = {"je", "suis", "la", ".", "i", "am", "here", "!"};
    s2s_vocab *v = s2s_vocab_from_tokens(w, 8, NULL);
    s2s_model m;
    s2s_err err;
    if (s2s_model_build(&m, &c, (int)s2s_vocab_size(v), (int)s2s_vocab_size(v), &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    s2s_rng rng;
    s2s_rng_seed(&rng, 1);
    s2s_model_init_params(&m, 0.5f, &rng);
    char path[] = "/tmp/s2s-fuzz-model-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    if (s2s_checkpoint_save(path, &c, v, v, &m, NULL, &err) < 0) abort();
    s2s_model_free(&m);
    s2s_vocab_free(v);
    tr = s2s_translator_open(path, 1, &err);
    unlink(path);
    if (!tr) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    if (!tr) open_model();
    FILE *f = fmemopen((void *)data, n ? n : 1, "r");
    if (!f) return 0;
    char *lines[16], *buf = NULL;
    size_t cap = 0, len, k = 0;
    int rc;
    while (k < 16 && (rc = s2s_getline_max(&buf, &cap, &len, f, 2048)) == 1)
        lines[k++] = strdup(buf);
    fclose(f);
    free(buf);
    char *out[16];
    s2s_err errs[16];
    s2s_translate_batch(tr, (const char *const *)lines, k, out, errs);
    for (size_t i = 0; i < k; i++) {
        free(out[i]);
        free(lines[i]);
    }
    return 0;
}
