/* tokenizer/subword.h — subword units through SentencePiece: a model
 * (tokenizer/spm.h) tied to an s2s vocabulary, text -> ids and ids -> text,
 * and training a model from sentences.
 *
 * Normalisation first: with nfkc or lowercase set (the run file's
 * tokenizer.nfkc / tokenizer.lowercase), the text goes through the same
 * NFKC and lower-casing as word tokens (tokenizer.h, steps 1, 2 and 4: no
 * punctuation splitting; runs of white space become one space) before
 * SentencePiece sees it, in training and in encoding alike. With both off
 * the text reaches SentencePiece as it is, so the pieces are exactly those
 * of `spm_encode` with the same model.
 *
 * Ids. The vocabulary is the four s2s specials (<pad>=0 <unk>=1 <sos>=2
 * <eos>=3), then every piece of the model that is neither a control symbol
 * nor the unknown piece, in the model's id order. A model trained by s2s
 * (s2s_subword_train) has pad_id=0 unk_id=1 bos_id=2 eos_id=3, so s2s ids
 * and SentencePiece ids are the same numbers; a model trained elsewhere
 * (spm_train's defaults: unk=0 <s>=1 </s>=2, no pad) is mapped: its
 * unknown piece to <unk>, its pieces after the specials, in order.
 */
#ifndef S2S_SUBWORD_H
#define S2S_SUBWORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenizer/spm.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

typedef struct s2s_subword s2s_subword; /* opaque; not thread-safe */

/* From the bytes of a .model file (copied); `name` stands for the file in
 * messages. norm: nfkc and lowercase are used (split_punct is ignored). */
s2s_subword *s2s_subword_open(const void *data, size_t len, const char *name,
                              const s2s_tok_opts *norm, s2s_err *err);
/* From a .model file: "PATH: cannot open: ..." or "PATH: not a usable
 * SentencePiece model (...)". */
s2s_subword *s2s_subword_load(const char *path, const s2s_tok_opts *norm,
                              s2s_err *err);
void s2s_subword_free(s2s_subword *sw);

/* The vocabulary (owned by sw) and the model's bytes. */
const s2s_vocab *s2s_subword_vocab(const s2s_subword *sw);
const void *s2s_subword_bytes(const s2s_subword *sw, size_t *len);

/* The text as SentencePiece sees it (normalised), malloc'd; NULL with
 * "invalid UTF-8 at byte offset N" and the like. */
char *s2s_subword_normalise(s2s_subword *sw, const char *text, size_t len,
                            s2s_err *err);

/* text (len bytes) -> ids of the vocabulary: *ids grown with realloc
 * (*cap entries), *n the count. Returns 0 or -1. */
int s2s_subword_encode(s2s_subword *sw, const char *text, size_t len,
                       uint32_t **ids, size_t *cap, size_t *n, s2s_err *err);

/* The same with subword regularisation (s2s_spm_sample): alpha > 0 draws
 * one segmentation at random (nbest -1: from all, unigram models); alpha 0
 * is s2s_subword_encode. */
int s2s_subword_sample(s2s_subword *sw, const char *text, size_t len,
                       int nbest, float alpha, uint32_t **ids, size_t *cap,
                       size_t *n, s2s_err *err);

/* ids -> text, decoded by SentencePiece (malloc'd). <pad> <sos> <eos> are
 * dropped, <unk> decodes as SentencePiece's unknown (" ⁇ "). */
char *s2s_subword_decode(s2s_subword *sw, const uint32_t *ids, size_t n);

/* ------------------------------------------------------------- training */

typedef struct s2s_subword_train_opts {
    int vocab_size;           /* pieces, specials included (8000) */
    int unigram;              /* 0: bpe, 1: unigram */
    double character_coverage;/* (0, 1] (1.0) */
    int byte_fallback;        /* unknown characters as UTF-8 byte pieces (1) */
} s2s_subword_train_opts;

/* Trains a model on n sentences, normalised by `norm` first, with
 * pad_id=0 unk_id=1 bos_id=2 eos_id=3 (pieces <pad> <unk> <sos> <eos>),
 * one thread and a fixed random seed: the same sentences and options give
 * the same bytes. Returns the model's bytes (malloc'd, *len) or NULL. */
void *s2s_subword_train(const char *const *sentences, size_t n,
                        const s2s_subword_train_opts *o,
                        const s2s_tok_opts *norm, size_t *len, s2s_err *err);

#endif
