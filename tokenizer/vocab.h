/* tokenizer/vocab.h — vocabularies: token <-> id with O(1) lookup, a counter
 * to build one from a corpus, and save/load as plain text.
 *
 * Ids 0..3 are always the specials <pad> <unk> <sos> <eos>; real tokens
 * follow. A token spelled like a special ("<unk>" in the text) maps to that
 * special's id and is never added twice.
 *
 * Text format (file and memory alike), one entry per line, in id order:
 *     token<TAB>count\n
 * The first four lines are the specials (count 0 unless set). Tokens are
 * non-empty valid UTF-8 without TAB, CR, LF or NUL; counts are decimal
 * integers < 2^63. A final line without "\n" and CRLF line ends are read.
 */
#ifndef S2S_VOCAB_H
#define S2S_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

#define S2S_PAD 0
#define S2S_UNK 1
#define S2S_SOS 2
#define S2S_EOS 3
#define S2S_NUM_SPECIALS 4

/* "<pad>", "<unk>", "<sos>", "<eos>" by id. */
extern const char *const s2s_special_tokens[S2S_NUM_SPECIALS];

typedef struct s2s_vocab s2s_vocab;     /* opaque */
typedef struct s2s_counter s2s_counter; /* opaque */

/* ---------------------------------------------------------------- lookup */

/* The id of tok (len bytes, need not be NUL-terminated); S2S_UNK when
 * absent. */
uint32_t s2s_vocab_id(const s2s_vocab *v, const char *tok, size_t len);
/* The token of id (NUL-terminated, owned by v); "<unk>" for an id out of
 * range. */
const char *s2s_vocab_token(const s2s_vocab *v, uint32_t id);
/* Its byte length. */
size_t s2s_vocab_token_len(const s2s_vocab *v, uint32_t id);
/* Entries, specials included. */
uint32_t s2s_vocab_size(const s2s_vocab *v);
/* The count it was built with (0 for the specials and out-of-range ids). */
uint64_t s2s_vocab_count(const s2s_vocab *v, uint32_t id);
/* ids[k] = id of token k of t, for k < t->n. Returns how many were
 * S2S_UNK. */
size_t s2s_vocab_encode(const s2s_vocab *v, const s2s_tokens *t,
                        uint32_t *ids);

/* ------------------------------------------------------------- building */

s2s_counter *s2s_counter_new(void);
void s2s_counter_free(s2s_counter *c);
/* Counts one occurrence of tok (len bytes). */
void s2s_counter_add(s2s_counter *c, const char *tok, size_t len);
/* Counts every token of t. */
void s2s_counter_add_tokens(s2s_counter *c, const s2s_tokens *t);
/* Distinct tokens counted. */
size_t s2s_counter_distinct(const s2s_counter *c);

/* The specials, then every counted token with count >= min_count, ordered
 * by count descending, ties by byte order (memcmp; a prefix sorts first),
 * so the result depends only on the counts, not on the order of the
 * corpus. max_size > 0 caps the total size (specials included) by keeping
 * the first max_size entries of that order; 0 = no cap. Tokens spelled
 * like a special are not added. Never fails (out of memory aborts). */
s2s_vocab *s2s_vocab_build(const s2s_counter *c, uint64_t min_count,
                           size_t max_size);

/* A vocabulary of the specials only, then `n` given tokens in order (count
 * 0); for tests and tools. Fails on an empty, duplicate or special token,
 * or one holding TAB/CR/LF/NUL. */
s2s_vocab *s2s_vocab_from_tokens(const char *const *tokens, size_t n,
                                 s2s_err *err);

/* A deep copy. */
s2s_vocab *s2s_vocab_clone(const s2s_vocab *v);
void s2s_vocab_free(s2s_vocab *v);

/* 1 when a and b hold the same tokens with the same ids and counts. */
int s2s_vocab_equal(const s2s_vocab *a, const s2s_vocab *b);

/* ------------------------------------------------------------- save/load */

/* The text format above, malloc'd (not NUL-terminated beyond *len, though a
 * NUL is appended for convenience); *len gets its byte length. */
char *s2s_vocab_serialize(const s2s_vocab *v, size_t *len);

/* Parses the text format from buf (len bytes; no NUL needed, an embedded
 * NUL is an error). `name` stands for the file in messages:
 * "NAME:LINE: what is wrong". Rejects: missing or misplaced specials in
 * lines 1-4, a line without TAB, an empty token, a token with CR or NUL,
 * invalid UTF-8, a count that is empty, not decimal or too large,
 * duplicate tokens (naming the first line), a blank line. */
s2s_vocab *s2s_vocab_parse(const char *buf, size_t len, const char *name,
                           s2s_err *err);

/* To and from a file; errors name the path (and strerror for I/O). */
int s2s_vocab_save(const s2s_vocab *v, const char *path, s2s_err *err);
s2s_vocab *s2s_vocab_load(const char *path, s2s_err *err);

#endif
