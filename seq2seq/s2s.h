/* seq2seq/s2s.h — the public C API of s2s: load a trained model from its
 * checkpoint and translate sentences with it. The `s2s` command's
 * translate, repl and eval are built on these calls.
 *
 *   s2s_err err;
 *   s2s_translator *t = s2s_translator_open("runs/default/best.ckpt", 0, &err);
 *   if (!t) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *   char *fr = s2s_translate(t, "Je suis fatigué.", &err);   // "i'm tired."
 *   free(fr);
 *   s2s_translator_close(t);
 *
 * A translator is not safe to use from several threads at once (it uses
 * its own threads inside); open one per thread instead.
 */
#ifndef S2S_H
#define S2S_H

#include <stddef.h>

#include "core/error.h"

typedef struct s2s_translator s2s_translator;

/* Longer sentences are refused (the error names the count). */
#define S2S_MAX_SOURCE_TOKENS 1000

/* Loads the checkpoint (and the cell plugins its config names). threads:
 * 0 = all cores. NULL on error, with the reason in err. */
s2s_translator *s2s_translator_open(const char *ckpt_path, int threads,
                                    s2s_err *err);
void s2s_translator_close(s2s_translator *t);

/* One sentence; returns the translation (malloc'd, detokenised) or NULL
 * with err filled (e.g. invalid UTF-8). */
char *s2s_translate(s2s_translator *t, const char *text, s2s_err *err);

/* n sentences decoded together. out[i] receives a malloc'd translation, or
 * NULL when sentence i failed (its message in errs[i] when errs is not
 * NULL). Returns the number of failures. */
size_t s2s_translate_batch(s2s_translator *t, const char *const *texts,
                           size_t n, char **out, s2s_err *errs);

/* Details of the last s2s_translate: the normalised source tokens and the
 * output tokens, space-joined (valid until the next call); SentencePiece
 * pieces for a subword model. */
const char *s2s_last_source_tokens(const s2s_translator *t);
const char *s2s_last_output_tokens(const s2s_translator *t);

#endif
