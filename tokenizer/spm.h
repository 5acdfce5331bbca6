/* tokenizer/spm.h — a thin C interface over the SentencePiece C++ library
 * (Debian's libsentencepiece-dev): load a model from its bytes, look at its
 * pieces, encode text to piece ids, decode piece ids to text, train a model
 * from sentences in memory. tokenizer/spm.cc implements it; it is the only
 * C++ in the tree, and nothing else includes a C++ header.
 *
 * Ids here are SentencePiece's own; tokenizer/subword.h maps them onto the
 * ids of an s2s vocabulary. Errors are one line in s2s_err; no C++
 * exception crosses this interface.
 */
#ifndef S2S_SPM_H
#define S2S_SPM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/error.h"

typedef struct s2s_spm s2s_spm; /* opaque: a loaded model */

/* The kind of a piece (SentencePiece's ModelProto piece types). */
enum {
    S2S_SPM_NORMAL = 1,
    S2S_SPM_UNKNOWN = 2,
    S2S_SPM_CONTROL = 3,
    S2S_SPM_USER_DEFINED = 4,
    S2S_SPM_BYTE = 6,
    S2S_SPM_UNUSED = 5,
};

/* Loads a model from the bytes of a .model file (a serialized ModelProto;
 * copied). `name` stands for the file in messages: "NAME: not a
 * SentencePiece model (...)". NULL on error. */
s2s_spm *s2s_spm_open(const void *data, size_t len, const char *name,
                      s2s_err *err);
void s2s_spm_free(s2s_spm *m);

/* The model's bytes, as it would be written to a .model file (owned by m). */
const void *s2s_spm_bytes(const s2s_spm *m, size_t *len);

/* Pieces in the model; the piece of id (NUL-terminated, owned by m), its
 * kind (S2S_SPM_*). id must be in [0, size). */
int s2s_spm_size(const s2s_spm *m);
const char *s2s_spm_piece(const s2s_spm *m, int id);
int s2s_spm_kind(const s2s_spm *m, int id);
/* The id of the unknown piece. */
int s2s_spm_unk_id(const s2s_spm *m);

/* Encodes text (len bytes) into piece ids: *ids is grown with realloc as
 * needed (*cap entries), *n gets the count. Returns 0 or -1. */
int s2s_spm_encode(const s2s_spm *m, const char *text, size_t len, int **ids,
                   size_t *cap, size_t *n, s2s_err *err);

/* The same with subword regularisation (SentencePiece's SampleEncode): one
 * segmentation drawn at random, from the nbest best (-1: all, unigram
 * models) with smoothing alpha, or for BPE models with merges dropped with
 * probability alpha. The draws come from a generator each thread seeds
 * from s2s_spm_seed's value the first time it samples (SentencePiece's
 * thread-local one): the same seed in a new thread gives the same draws. */
int s2s_spm_sample(const s2s_spm *m, const char *text, size_t len, int nbest,
                   float alpha, int **ids, size_t *cap, size_t *n,
                   s2s_err *err);
void s2s_spm_seed(unsigned seed);
/* The text of n piece ids (malloc'd, NUL-terminated). Ids out of range are
 * skipped. */
char *s2s_spm_decode(const s2s_spm *m, const int *ids, size_t n);

/* Trains a model on n sentences with spm_train's options given as
 * "--key=value" words separated by spaces (no input, no model_prefix: the
 * sentences come from memory and the model comes back as bytes). Seeds
 * SentencePiece's random generator with `seed` first. Returns the model's
 * bytes (malloc'd, *len bytes) or NULL. */
void *s2s_spm_train(const char *const *sentences, size_t n,
                    const char *options, unsigned seed, size_t *len,
                    s2s_err *err);

#ifdef __cplusplus
}
#endif

#endif
