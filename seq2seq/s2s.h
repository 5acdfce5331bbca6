/* seq2seq/s2s.h — the public C API of s2s: load a trained model from its
 * checkpoint and translate sentences with it. The `s2s` command's
 * translate, repl and eval are built on these calls.
 *
 * `make install` installs this file as <s2s/s2s.h>, with libs2s (shared
 * and static) and a pkg-config file:
 *
 *   cc app.c $(pkg-config --cflags --libs s2s)
 *
 *   #include <s2s/s2s.h>
 *   s2s_err err;
 *   s2s_translator *t = s2s_translator_open("runs/default/best.ckpt", 0, &err);
 *   if (!t) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *   char *en = s2s_translate(t, "Je suis fatigué.", &err);   // "i'm tired."
 *   free(en);
 *   s2s_translator_close(t);
 *
 * A translator is not safe to use from several threads at once (it uses
 * its own threads inside); open one per thread instead. This header is
 * self-contained: it includes nothing of the s2s source tree.
 */
#ifndef S2S_H
#define S2S_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of s2s, from the Makefile's VERSION: written into the
 * installed copy of this header; s2s's own build passes both with -D.
 * S2S_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH, for #if. */
#ifndef S2S_VERSION_NUMBER
#define S2S_VERSION "@S2S_VERSION@"
#define S2S_VERSION_NUMBER @S2S_VERSION_NUMBER@
#endif

/* The version of the library actually loaded (may differ from the header
 * a program was compiled with). */
const char *s2s_version(void);

/* An error: one line saying what and where (file, line, key, byte
 * offset). Calls that fail return NULL (or a count of failures) and fill
 * it. The same type as the library uses inside (core/error.h). */
#ifndef S2S_ERR_DEFINED
#define S2S_ERR_DEFINED
typedef struct s2s_err {
    char msg[1024];
} s2s_err;
#endif

typedef struct s2s_translator s2s_translator;

/* Longer sentences are refused (the error names the count). */
#define S2S_MAX_SOURCE_TOKENS 1000

/* Loads the checkpoint (and the cell plugins its config names, found
 * along $S2S_CELL_PATH and the installed cell directory). threads: 0 = all
 * cores. NULL on error, with the reason in err. */
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
 * output tokens, space-joined (valid until the next call). */
const char *s2s_last_source_tokens(const s2s_translator *t);
const char *s2s_last_output_tokens(const s2s_translator *t);

#ifdef __cplusplus
}
#endif

#endif
