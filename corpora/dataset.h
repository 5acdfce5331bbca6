/* corpora/dataset.h — a parallel corpus loaded, tokenized, filtered, split
 * and turned into ids: the vocabularies and the train / dev / test splits.
 *
 * Pipeline (BENCHMARK.md): reader (corpora/reader.h) -> tokenizer on each
 * side -> filter (both sides min_len..max_len tokens) -> split of the kept
 * pairs numbered i = 0, 1, ... in file order: i % split_every == 0 -> test,
 * == 1 -> dev, else train -> vocabularies from train only -> ids.
 *
 * Separate dev / test files may be given instead: a split given as a file
 * is read from it (same layout as train: TSV columns or aligned files, same
 * tokenizer and filter) and the pairs of train that would have gone to it
 * stay in train. split_every = 0 puts every kept train-file pair in train.
 */
#ifndef S2S_DATASET_H
#define S2S_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "tokenizer/subword.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

/* Which split. */
enum { S2S_TRAIN = 0, S2S_DEV = 1, S2S_TEST = 2, S2S_NUM_SPLITS = 3 };

/* What to load. Paths are borrowed for the duration of s2s_dataset_load;
 * NULL and "" both mean "not given". */
typedef struct s2s_data_spec {
    const char *train;        /* TSV file, or the source side of aligned files */
    const char *train_target; /* target side of aligned files; NULL = TSV */
    const char *dev, *dev_target;   /* NULL = split from train */
    const char *test, *test_target; /* NULL = split from train */
    int src_column, tgt_column; /* 1-based TSV columns (default 2, 1: fr -> en) */
    int split_every;          /* default 50; 0 = no split */
    int min_len, max_len;     /* tokens per side, inclusive (1, 10); max_len 0 = no cap */
    uint64_t min_count;       /* vocabulary threshold (2) */
    size_t max_vocab;         /* cap on vocab size incl. specials; 0 = none */
    int skip_invalid_utf8;    /* 0: invalid UTF-8 is an error (default) */
    s2s_tok_opts tok;         /* default S2S_TOK_OPTS_DEFAULT */
    size_t max_line;          /* longest line in bytes; 0 = S2S_MAX_LINE_DEFAULT */
    int keep_text;            /* 1: keep each pair's text (src_text, tgt_text),
                                 for s2s_dataset_use_subwords (0) */
} s2s_data_spec;

/* The benchmark's settings; all paths NULL. */
void s2s_data_spec_defaults(s2s_data_spec *s);

/* One split: n pairs. Pair k has src_len[k] source ids at
 * src_ids + src_off[k] and tgt_len[k] target ids at tgt_ids + tgt_off[k]
 * (no specials: the batcher adds <sos> / <eos>), the target tokens as
 * strings (the real tokens, never "<unk>": references for BLEU) and the
 * source tokens likewise, and its 1-based line in `file`. Everything lives
 * in a few arrays owned by the split. */
typedef struct s2s_split {
    size_t n;                 /* pairs */
    const char *file;         /* file the pairs came from (owned) */
    size_t *line;             /* (n) 1-based line numbers */
    uint32_t *src_len, *tgt_len;  /* (n) tokens per side */
    size_t *src_off, *tgt_off;    /* (n) start of pair k in the id / token arrays */
    uint32_t *src_ids, *tgt_ids;  /* all ids back to back */
    const char **src_tok, **tgt_tok; /* token strings, same layout as the ids */
    char *text;               /* arena the token strings point into */
    size_t n_src_tokens, n_tgt_tokens; /* totals */

    /* With spec.keep_text: (n) each side's text as read, NUL-terminated. */
    const char **src_text, **tgt_text;
    char *raw;                /* arena they point into */
    /* After s2s_dataset_use_subwords: the ids, src_tok and tgt_tok above
     * are pieces, and the target's word tokens, the references, move here
     * (ref_len[k] words at ref_tok + ref_off[k]); NULL for word units. */
    uint32_t *ref_len;
    size_t *ref_off;
    const char **ref_tok;
    size_t n_ref_tokens;
} s2s_split;

static inline const uint32_t *s2s_split_src(const s2s_split *s, size_t k)
{
    return s->src_ids + s->src_off[k];
}
static inline const uint32_t *s2s_split_tgt(const s2s_split *s, size_t k)
{
    return s->tgt_ids + s->tgt_off[k];
}
/* The tokens of pair k, ready for s2s_detokenize or BLEU. */
static inline const char *const *s2s_split_src_tokens(const s2s_split *s, size_t k)
{
    return s->src_tok + s->src_off[k];
}
static inline const char *const *s2s_split_tgt_tokens(const s2s_split *s, size_t k)
{
    return s->tgt_tok + s->tgt_off[k];
}

/* The reference of pair k for BLEU and chrF: the target's word tokens,
 * whatever the units of the ids. */
static inline const char *const *s2s_split_ref_tokens(const s2s_split *s, size_t k)
{
    return s->ref_tok ? s->ref_tok + s->ref_off[k] : s->tgt_tok + s->tgt_off[k];
}
static inline size_t s2s_split_ref_len(const s2s_split *s, size_t k)
{
    return s->ref_tok ? s->ref_len[k] : s->tgt_len[k];
}

/* What happened to the lines of one input file. */
typedef struct s2s_read_stats {
    const char *file;         /* NULL when this input was not given (owned) */
    size_t lines;             /* lines read */
    size_t kept;              /* pairs that passed every filter */
    size_t blank;             /* blank lines */
    size_t empty;             /* a side with no tokens */
    size_t too_short;         /* a side with 1..min_len-1 tokens */
    size_t too_long;          /* a side with more than max_len tokens */
    size_t invalid_utf8;      /* skipped (only with skip_invalid_utf8) */
} s2s_read_stats;

typedef struct s2s_dataset {
    s2s_vocab *src_vocab, *tgt_vocab; /* owned */
    int fixed_vocab;          /* 1: copied from the caller, not built */
    s2s_split split[S2S_NUM_SPLITS];
    s2s_read_stats stats[S2S_NUM_SPLITS]; /* per input file: train, dev, test */
    size_t src_unk, tgt_unk;  /* tokens mapped to <unk>, over all splits */
    s2s_tok_opts tok;         /* the options used */
    int subwords;             /* 1 after s2s_dataset_use_subwords */
    size_t src_words, tgt_words; /* word tokens, over all splits */
} s2s_dataset;

/* Loads the corpus described by spec into out (which it overwrites; free
 * with s2s_dataset_free even after an error). With fixed_src and fixed_tgt
 * (both or neither; e.g. from a checkpoint) the vocabularies are copied
 * from them — the caller keeps ownership of its own — else they are built
 * from the train split (min_count, max_vocab). Errors: everything the
 * reader reports (FILE:LINE: ...), a bad spec (column < 1, min_len >
 * max_len, ...), and "PATH: no training pairs left after filtering" when
 * vocabularies are to be built from an empty train split. */
int s2s_dataset_load(const s2s_data_spec *spec, const s2s_vocab *fixed_src,
                     const s2s_vocab *fixed_tgt, s2s_dataset *out,
                     s2s_err *err);
void s2s_dataset_free(s2s_dataset *d);

/* Re-expresses a dataset loaded with keep_text in SentencePiece pieces:
 * each pair's text is encoded by src / tgt (tokenizer/subword.h; the same
 * model may serve both sides), the ids and token strings become pieces,
 * the vocabularies become the models' (copies), and the target's word
 * tokens stay as the references (s2s_split_ref_tokens). Filtering and
 * splitting stay as they were, on word tokens, so that the same pairs
 * are in each split whatever the units. Errors: "FILE:LINE: ..." for a
 * text SentencePiece cannot encode, or "PATH: the dataset was loaded
 * without keep_text". */
int s2s_dataset_use_subwords(s2s_dataset *d, s2s_subword *src,
                             s2s_subword *tgt, s2s_err *err);

/* Re-encodes one split of a dataset in pieces with subword regularisation
 * (s2s_subword_sample: nbest, alpha): a new segmentation of every pair,
 * drawn from `seed` alone (the same seed, the same pieces). The
 * references stay. */
int s2s_dataset_resample_subwords(s2s_dataset *d, int split, s2s_subword *src,
                                  s2s_subword *tgt, int nbest, float alpha,
                                  unsigned seed, s2s_err *err);

/* A few lines: per input its lines, kept pairs and skips by reason; split
 * sizes; vocabulary sizes; <unk> rates. */
void s2s_dataset_summary(const s2s_dataset *d, FILE *f);

#endif
