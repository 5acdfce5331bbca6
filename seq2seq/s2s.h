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

/* As s2s_translate_batch; with a model that attends, align[i] also
 * receives the hard alignment of sentence i in the Pharaoh format of
 * fast_align and Marian, "0-0 1-2 ...": for each output token j, the
 * source token position i it attends to most, as "i-j" (token positions
 * after tokenisation, from 0). align[i] is malloc'd, or NULL for a failed
 * sentence or a model without attention. */
size_t s2s_translate_batch_aligned(s2s_translator *t, const char *const *texts,
                                   size_t n, char **out, char **align,
                                   s2s_err *errs);

/* The n best translations of one sentence by beam search (beam at least
 * n): hyps[0..k-1] receive malloc'd translations, best first, scores[h]
 * (when not NULL) their ranking scores (log-probability after the
 * checkpoint's length normalisation, decode.length_penalty). Returns k
 * (<= n), or -1 with err filled. */
int s2s_translate_nbest(s2s_translator *t, const char *text, int n,
                        char **hyps, float *scores, s2s_err *err);

/* The same for n sentences: hyps[i*nbest + h] (NULL past n_hyp[i] and for
 * failed sentences, whose messages go to errs[i]). Returns the number of
 * failures. */
size_t s2s_translate_batch_nbest(s2s_translator *t, const char *const *texts,
                                 size_t n, int nbest, char **hyps,
                                 float *scores, int *n_hyp, s2s_err *errs);

/* Hypotheses kept per sentence from now on (decode.beam of the checkpoint
 * until set; 1 is greedy decoding). */
void s2s_translator_set_beam(s2s_translator *t, int beam);
int s2s_translator_beam(const s2s_translator *t);

/* Decode over a lexical shortlist from now on (decode.shortlist of the
 * checkpoint until set): the decode.shortlist_frequent most frequent
 * target tokens and the per_word best of each source token of a batch; 0
 * turns it off. Changes output (seq2seq/shortlist.h). -1 when the
 * checkpoint has no shortlist. */
int s2s_translator_set_shortlist(s2s_translator *t, int per_word, s2s_err *err);
int s2s_translator_shortlist(const s2s_translator *t);

/* Forced decoding: the log-probability the model gives target tgt[i]
 * (and the <eos> after it) as the translation of src[i], in logprob[i],
 * and the tokens scored (<eos> included) in ntok[i]. A pair that cannot be
 * read gets NAN and its message in errs[i]. Returns the number of
 * failures. */
size_t s2s_score_batch(s2s_translator *t, const char *const *src,
                       const char *const *tgt, size_t n, double *logprob,
                       int *ntok, s2s_err *errs);

/* The TSV columns (from 1) the model was trained on: source, target. */
void s2s_translator_columns(const s2s_translator *t, int *src_col,
                            int *tgt_col);

/* Whether the model attends (dot, general or mlp). */
int s2s_translator_has_attention(const s2s_translator *t);

/* The attention weights of the last s2s_translate: *n_out rows (output
 * tokens) of *n_src weights (source tokens), or NULL without attention.
 * Valid until the next call. */
const float *s2s_last_attention(const s2s_translator *t, int *n_out, int *n_src);

/* Details of the last s2s_translate: the normalised source tokens and the
 * output tokens, space-joined (valid until the next call); SentencePiece
 * pieces for a subword model. A source token the model's vocabulary lacks
 * (read as <unk>) shows as "<unk:token>". */
const char *s2s_last_source_tokens(const s2s_translator *t);
const char *s2s_last_output_tokens(const s2s_translator *t);

#ifdef __cplusplus
}
#endif

#endif
