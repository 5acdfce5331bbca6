/* seq2seq/config.c — the YAML run file: defaults, reading with validation
 * of every key (seq2seq/config.h), and writing the resolved config back.
 *
 * Reading goes through core/yaml_doc (a tree of nodes with line numbers)
 * and one table of keys. The model keys are special: model.cell / layers /
 * hidden set both sides, model.encoder.* and model.decoder.* override one
 * side, so they are collected first and resolved once the whole file is
 * read (the order of keys in the file does not matter).
 */
#include "seq2seq/config.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/yaml_doc.h"

/* ------------------------------------------------------------------------ */
/* Defaults                                                                 */

static void set_str(char *dst, size_t size, const char *src)
{
    /* Whole buffer zeroed: configs are compared with memcmp. */
    memset(dst, 0, size);
    snprintf(dst, size, "%s", src);
}

static void side_defaults(s2s_side_config *s)
{
    s->layers = 1;
    s->hidden = 256;
    set_str(s->cell[0], sizeof s->cell[0], "lstm");
}


/* ------------------------------------------------------------------------ */
/* The table of keys                                                        */
/* One line per key, with its range and default, drives the defaults, the
 * reader (range checks, messages, suggestions) and the writer
 * (s2s_config_write, the checkpoint's copy of the run file). A new key:
 * its field in config.h, a line in KEYS, a row in configs/README.md. */

typedef enum key_type {
    K_SECTION, /* a mapping of further keys */
    K_INT,     /* int field, ilo..ihi */
    K_LONG,    /* long field, ilo..ihi */
    K_U64,     /* uint64_t field, any non-negative value */
    K_FLOAT,   /* float field, finite, flo..fhi (open ends by flags) */
    K_BOOL,    /* int field, 0 or 1 */
    K_STR,     /* char[size] field */
    K_CHOICE,  /* char[size] field, one of the words in .choices */
    K_LAYERS,  /* model[.side].layers: resolved after reading */
    K_HIDDEN,  /* model[.side].hidden */
    K_CELL,    /* model[.side].cell: a name, or a list of one per layer */
} key_type;

enum { NONEMPTY = 1 };
enum { SIDE_BOTH = 0, SIDE_ENC = 1, SIDE_DEC = 2 };

typedef struct key_spec {
    const char *key;  /* dotted path */
    key_type type;
    size_t off, size; /* field in s2s_config */
    long long ilo, ihi;
    double flo, fhi;
    const char *choices; /* K_CHOICE: words separated by '|' */
    long long idef;      /* the default: K_INT, K_LONG, K_U64, K_BOOL */
    double fdef;         /*   K_FLOAT */
    const char *sdef;    /*   K_STR, K_CHOICE */
    unsigned char lo_open, hi_open, flags, side;
} key_spec;

#define FIELD(f) .off = offsetof(s2s_config, f), .size = sizeof(((s2s_config *)0)->f)
#define SEC(k) { .key = k, .type = K_SECTION }
/* the last argument of each: the key's default */
#define INT(k, f, lo, hi, d) \
    { .key = k, .type = K_INT, FIELD(f), .ilo = lo, .ihi = hi, .idef = d }
#define LONG_(k, f, lo, hi, d) \
    { .key = k, .type = K_LONG, FIELD(f), .ilo = lo, .ihi = hi, .idef = d }
#define FLT(k, f, lo, lo_op, hi, hi_op, d) \
    { .key = k, .type = K_FLOAT, FIELD(f), .flo = lo, .lo_open = lo_op, \
      .fhi = hi, .hi_open = hi_op, .fdef = d }
#define BOOL_(k, f, d) { .key = k, .type = K_BOOL, FIELD(f), .idef = d }
#define STR(k, f, fl, d) { .key = k, .type = K_STR, FIELD(f), .flags = fl, .sdef = d }
#define CHOICE(k, f, words, d) \
    { .key = k, .type = K_CHOICE, FIELD(f), .choices = words, .sdef = d }
#define SIDE(k, t, s, lo, hi) { .key = k, .type = t, .side = s, .ilo = lo, .ihi = hi }

#define MAX_SIZE 65536 /* embed, hidden, batches, decode length */

static const key_spec KEYS[] = {
    SEC("data"),
    STR("data.train", data.train, NONEMPTY, "corpora/default/eng-fra.tsv"),
    STR("data.train_target", data.train_target, 0, ""),
    INT("data.src_column", data.src_column, 1, INT_MAX, 2),
    INT("data.tgt_column", data.tgt_column, 1, INT_MAX, 1),
    STR("data.dev", data.dev, 0, ""),
    STR("data.dev_target", data.dev_target, 0, ""),
    STR("data.test", data.test, 0, ""),
    STR("data.test_target", data.test_target, 0, ""),
    INT("data.split_every", data.split_every, 0, INT_MAX, 50),
    INT("data.min_len", data.min_len, 1, INT_MAX, 1),
    INT("data.max_len", data.max_len, 0, INT_MAX, 10),
    INT("data.min_count", data.min_count, 1, INT_MAX, 2),
    INT("data.max_vocab", data.max_vocab, 0, INT_MAX, 0),
    BOOL_("data.skip_invalid_utf8", data.skip_invalid_utf8, 0),
    INT("data.max_line_bytes", data.max_line_bytes, 1, INT_MAX, 1 << 20),

    SEC("tokenizer"),
    BOOL_("tokenizer.nfkc", tokenizer.nfkc, 1),
    BOOL_("tokenizer.lowercase", tokenizer.lowercase, 1),
    BOOL_("tokenizer.split_punct", tokenizer.split_punct, 1),
    BOOL_("tokenizer.french_spacing", tokenizer.french_spacing, 0),
    CHOICE("tokenizer.type", tokenizer.type, "words|sentencepiece", "words"),
    SEC("tokenizer.sentencepiece"),
    STR("tokenizer.sentencepiece.model", tokenizer.sentencepiece.model, 0, ""),
    STR("tokenizer.sentencepiece.src_model", tokenizer.sentencepiece.src_model, 0, ""),
    STR("tokenizer.sentencepiece.tgt_model", tokenizer.sentencepiece.tgt_model, 0, ""),
    FLT("tokenizer.sentencepiece.sampling_alpha",
        tokenizer.sentencepiece.sampling_alpha, 0, 0, 1, 0, 0.0f),
    INT("tokenizer.sentencepiece.sampling_nbest",
        tokenizer.sentencepiece.sampling_nbest, -1, 1000, -1),
    SEC("tokenizer.sentencepiece.train"),
    INT("tokenizer.sentencepiece.train.vocab_size",
        tokenizer.sentencepiece.train.vocab_size, 8, 1000000, 8000),
    INT("tokenizer.sentencepiece.train.src_vocab_size",
        tokenizer.sentencepiece.train.src_vocab_size, 0, 1000000, 0),
    INT("tokenizer.sentencepiece.train.tgt_vocab_size",
        tokenizer.sentencepiece.train.tgt_vocab_size, 0, 1000000, 0),
    CHOICE("tokenizer.sentencepiece.train.model_type",
           tokenizer.sentencepiece.train.model_type, "bpe|unigram", "bpe"),
    FLT("tokenizer.sentencepiece.train.character_coverage",
        tokenizer.sentencepiece.train.character_coverage, 0, 1, 1, 0, 1.0f),
    BOOL_("tokenizer.sentencepiece.train.byte_fallback",
          tokenizer.sentencepiece.train.byte_fallback, 1),
    BOOL_("tokenizer.sentencepiece.train.joint", tokenizer.sentencepiece.train.joint, 1),

    SEC("model"),
    INT("model.embed", model.embed, 1, MAX_SIZE, 256),
    FLT("model.init_range", model.init_range, 0, 0, HUGE_VAL, 0, 0.0f),
    SIDE("model.cell", K_CELL, SIDE_BOTH, 0, 0),
    SIDE("model.layers", K_LAYERS, SIDE_BOTH, 1, S2S_MAX_LAYERS),
    SIDE("model.hidden", K_HIDDEN, SIDE_BOTH, 1, MAX_SIZE),
    CHOICE("model.attention", model.attention, "none|dot|general|mlp", "none"),
    BOOL_("model.input_feed", model.input_feed, 0),
    FLT("model.dropout", model.dropout, 0, 0, 1, 1, 0),
    SEC("model.encoder"),
    BOOL_("model.encoder.bidirectional", model.bidirectional, 0),
    SIDE("model.encoder.cell", K_CELL, SIDE_ENC, 0, 0),
    SIDE("model.encoder.layers", K_LAYERS, SIDE_ENC, 1, S2S_MAX_LAYERS),
    SIDE("model.encoder.hidden", K_HIDDEN, SIDE_ENC, 1, MAX_SIZE),
    SEC("model.decoder"),
    SIDE("model.decoder.cell", K_CELL, SIDE_DEC, 0, 0),
    SIDE("model.decoder.layers", K_LAYERS, SIDE_DEC, 1, S2S_MAX_LAYERS),
    SIDE("model.decoder.hidden", K_HIDDEN, SIDE_DEC, 1, MAX_SIZE),

    SEC("train"),
    INT("train.batch", train.batch, 1, MAX_SIZE, 64),
    INT("train.epochs", train.epochs, 1, INT_MAX, 10),
    LONG_("train.max_steps", train.max_steps, 0, LONG_MAX, 0),
    CHOICE("train.optimizer", train.optimizer, "adam|sgd", "adam"),
    FLT("train.lr", train.lr, 0, 1, HUGE_VAL, 0, 1e-3f),
    FLT("train.beta1", train.beta1, 0, 0, 1, 1, 0.9f),
    FLT("train.beta2", train.beta2, 0, 0, 1, 1, 0.999f),
    FLT("train.eps", train.eps, 0, 1, HUGE_VAL, 0, 1e-8f),
    FLT("train.lr_decay", train.lr_decay, 0, 1, 1, 0, 1.0f),
    FLT("train.clip", train.clip, 0, 0, HUGE_VAL, 0, 5.0f),
    FLT("train.teacher_forcing", train.teacher_forcing, 0, 0, 1, 0, 1.0f),
    INT("train.threads", train.threads, 0, 1024, 0),
    { .key = "train.seed", .type = K_U64, FIELD(train.seed), .idef = 1 },
    STR("train.run_dir", train.run_dir, NONEMPTY, "runs/default"),
    INT("train.eval_every", train.eval_every, 0, INT_MAX, 0),
    INT("train.log_every", train.log_every, 1, INT_MAX, 100),
    INT("train.length_grouping", train.length_grouping, 0, 100000, 0),
    INT("train.save_every", train.save_every, 0, INT_MAX, 1000),
    FLT("train.save_every_minutes", train.save_every_minutes, 0, 0, HUGE_VAL, 0, 10.0f),

    SEC("decode"),
    INT("decode.max_len", decode.max_len, 1, MAX_SIZE, 20),
    FLT("decode.max_len_ratio", decode.max_len_ratio, 0, 0, HUGE_VAL, 0, 0.0f),
    INT("decode.batch", decode.batch, 1, MAX_SIZE, 64),
    BOOL_("decode.replace_unk", decode.replace_unk, 0),
    INT("decode.beam", decode.beam, 1, 1024, 5),
    CHOICE("decode.length_penalty", decode.length_penalty, "none|avg|wu", "avg"),
    FLT("decode.alpha", decode.alpha, 0, 0, HUGE_VAL, 0, 0.6f),
    FLT("decode.beta", decode.beta, 0, 0, HUGE_VAL, 0, 0.0f),
    INT("decode.shortlist", decode.shortlist, 0, 64, 0),
    INT("decode.shortlist_frequent", decode.shortlist_frequent, 0, 2000, 100),
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

void s2s_config_defaults(s2s_config *c)
{
    memset(c, 0, sizeof *c); /* padding too, so memcmp compares configs */
    for (size_t i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        char *field = (char *)c + k->off;
#define PUT(T, x) do { T v_ = (T)(x); memcpy(field, &v_, sizeof v_); } while (0)
        switch (k->type) {
        case K_INT: case K_BOOL: PUT(int, k->idef); break;
        case K_LONG: PUT(long, k->idef); break;
        case K_U64: PUT(uint64_t, k->idef); break;
        case K_FLOAT: PUT(float, k->fdef); break;
        case K_STR: case K_CHOICE: set_str(field, k->size, k->sdef ? k->sdef : ""); break;
        default: break; /* sections; the sides below */
        }
#undef PUT
    }
    side_defaults(&c->model.encoder);
    side_defaults(&c->model.decoder);
}

static int find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].key, key) == 0) return (int)i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Reading context and messages                                             */

/* What the file says about one side (or both) of the model; resolved into
 * the config after the whole file is read. */
typedef struct side_pending {
    int layers, hidden;
    int has_layers, has_hidden;
    const s2s_yaml_node *cell; /* validated scalar or sequence, or NULL */
    int cell_line;             /* line of its key */
} side_pending;

typedef struct ctx {
    const char *name;
    s2s_err *err;
    s2s_config *c;
    int line[NKEYS]; /* line of each key in the file, 0 = not given */
    side_pending side[3];
} ctx;

/* Fails with "NAME:LINE: what" (or "NAME: what" when line is 0). */
static int fail_at(ctx *x, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(ctx *x, int line, const char *fmt, ...)
{
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (line > 0) return s2s_fail(x->err, "%s:%d: %s", x->name, line, what);
    return s2s_fail(x->err, "%s: %s", x->name, what);
}

/* Copies at most 60 bytes of s, control bytes as '?', for a message. */
static const char *clip(char *buf, size_t size, const char *s, size_t len)
{
    size_t max = size - 4 < 60 ? size - 4 : 60, j = 0;
    for (size_t i = 0; i < len && j < max; i++)
        buf[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (len > max) { memcpy(buf + j, "...", 3); j += 3; }
    buf[j] = '\0';
    return buf;
}

/* How a value looks in a message: 'abc', a quoted string 'abc', nothing,
 * a mapping. */
static const char *show(char *buf, size_t size, const s2s_yaml_node *v)
{
    char t[80];
    if (v->kind != S2S_YAML_SCALAR) return s2s_yaml_kind_name(v->kind);
    if (s2s_yaml_is_null(v)) return "nothing";
    clip(t, sizeof t, v->str, v->len);
    snprintf(buf, size, v->quoted ? "a quoted string '%s'" : "'%s'", t);
    return buf;
}

static void range_text(const key_spec *k, char *buf, size_t size)
{
    if (k->type == K_FLOAT) {
        if (isinf(k->fhi))
            snprintf(buf, size, "%s %g", k->lo_open ? ">" : ">=", k->flo);
        else
            snprintf(buf, size, "in %c%g, %g%c", k->lo_open ? '(' : '[',
                     k->flo, k->fhi, k->hi_open ? ')' : ']');
    } else if (k->ihi == INT_MAX || k->ihi == LONG_MAX) {
        snprintf(buf, size, ">= %lld", k->ilo);
    } else {
        snprintf(buf, size, "between %lld and %lld", k->ilo, k->ihi);
    }
}

/* ------------------------------------------------------------------------ */
/* Unknown keys: a suggestion                                               */

static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= m; j++) row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t sub = diag + (tolower((unsigned char)a[i - 1]) !=
                                 tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[m];
}

static const char *leaf_of(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

/* The known key nearest to `leaf` under `prefix` ("" at the top); else a
 * key elsewhere with exactly that last name (train.embed -> model.embed). */
static const char *suggest(const char *prefix, const char *leaf)
{
    size_t plen = strlen(prefix), n = strlen(leaf);
    size_t limit = n <= 3 ? 1 : n <= 6 ? 2 : 3, best = SIZE_MAX;
    const char *hit = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *k = KEYS[i].key;
        if (plen ? strncmp(k, prefix, plen) != 0 || k[plen] != '.' : 0) continue;
        const char *rest = plen ? k + plen + 1 : k;
        if (strchr(rest, '.')) continue; /* deeper, not a sibling */
        size_t d = edit_distance(leaf, rest);
        if (d <= limit && d < best) { best = d; hit = k; }
    }
    if (hit) return hit;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(leaf_of(KEYS[i].key), leaf) == 0) return KEYS[i].key;
    return NULL;
}

static int unknown_key(ctx *x, const s2s_yaml_node *key, const char *prefix,
                       const char *full)
{
    char shown[80];
    clip(shown, sizeof shown, full, strlen(full));
    if (strlen(key->str) != key->len)
        return fail_at(x, key->line, "unknown key '%s'", shown);
    if (find_key(key->str) >= 0 && strchr(key->str, '.'))
        return fail_at(x, key->line,
                       "unknown key '%s' (keys are nested: write each part "
                       "of '%s' on its own line, indented below the one before)",
                       shown, key->str);
    const char *s = suggest(prefix, key->str);
    if (s) return fail_at(x, key->line, "unknown key '%s' (did you mean '%s'?)",
                          shown, s);
    return fail_at(x, key->line, "unknown key '%s'", shown);
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                  */

/* Integers: optional sign, decimal digits, nothing else. */
static int parse_int(const s2s_yaml_node *v, long long *out, int *range_err)
{
    *range_err = 0;
    if (v->kind != S2S_YAML_SCALAR || v->quoted || v->len == 0) return -1;
    const char *s = v->str;
    size_t i = (s[0] == '+' || s[0] == '-');
    if (i == v->len) return -1;
    for (; i < v->len; i++)
        if (!isdigit((unsigned char)s[i])) return -1;
    char *end;
    errno = 0;
    long long r = strtoll(s, &end, 10);
    if (end != s + v->len) return -1;
    if (errno == ERANGE) *range_err = 1;
    *out = r;
    return 0;
}

/* Floats: what strtod reads, spelled with digits, sign, '.', 'e' only (no
 * inf, nan or hex); finite as a float. */
static int parse_float(const s2s_yaml_node *v, float *out, int *range_err)
{
    *range_err = 0;
    if (v->kind != S2S_YAML_SCALAR || v->quoted || v->len == 0) return -1;
    const char *s = v->str;
    int digits = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (isdigit((unsigned char)s[i])) digits = 1;
        else if (!strchr("+-.eE", s[i])) return -1;
    }
    if (!digits) return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end != s + v->len) return -1;
    /* at or past the midpoint between FLT_MAX and 2^128 rounds to inf */
    if (!isfinite(d) || fabs(d) >= 0x1.ffffffp127) {
        *range_err = 1;
        return 0;
    }
    *out = (float)d;
    return 0;
}

static int parse_bool(const s2s_yaml_node *v, int *out)
{
    if (v->kind != S2S_YAML_SCALAR || v->quoted) return -1;
    const char *t[] = { "true", "yes" }, *f[] = { "false", "no" };
    for (int i = 0; i < 2; i++) {
        if (strcasecmp(v->str, t[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(v->str, f[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* A string value: any scalar (null is ""), no NUL byte, fits `size`.
 * `what` names it in messages ("key 'data.train'"), at `line`. */
static int get_string(ctx *x, const char *what, const s2s_yaml_node *v,
                      int line, size_t size, int nonempty, const char **out)
{
    char b[100];
    if (v->kind != S2S_YAML_SCALAR)
        return fail_at(x, line, "%s must be a string, got %s", what,
                       show(b, sizeof b, v));
    const char *s = s2s_yaml_is_null(v) ? "" : v->str;
    size_t len = strlen(s);
    if (*s && len != v->len)
        return fail_at(x, line, "%s contains a NUL byte", what);
    if (nonempty && len == 0)
        return fail_at(x, line, "%s must not be empty", what);
    if (len >= size)
        return fail_at(x, line, "%s is too long (%zu bytes, at most %zu)",
                       what, len, size - 1);
    *out = s;
    return 0;
}

/* A path with ${NAME} or ${NAME:-default} in it: the environment
 * variable NAME, or the default when NAME is unset or empty (as in the
 * shell), so that a run file can leave a location to its user (the
 * benchmark configs' corpus). A '$' not followed by '{' stays as it is. */
static int expand_env(ctx *x, const char *what, int line, const char *s,
                      char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        const char *piece = p;
        size_t len = 1;
        char name[256];
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end)
                return fail_at(x, line, "%s: '${' without a closing '}' in '%s'", what, s);
            const char *dflt = strstr(p + 2, ":-");
            size_t nlen = (size_t)((dflt && dflt < end ? dflt : end) - (p + 2));
            if (nlen == 0 || nlen >= sizeof name)
                return fail_at(x, line, "%s: bad variable name in '%s'", what, s);
            memcpy(name, p + 2, nlen);
            name[nlen] = 0;
            for (size_t i = 0; i < nlen; i++)
                if (!(name[i] == '_' || (name[i] >= 'A' && name[i] <= 'Z') ||
                      (name[i] >= 'a' && name[i] <= 'z') || (i && name[i] >= '0' && name[i] <= '9')))
                    return fail_at(x, line, "%s: bad variable name '%s' in '%s'", what,
                                   name, s);
            const char *val = getenv(name);
            if (val && *val) {
                piece = val;
                len = strlen(val);
            } else if (dflt && dflt < end) {
                piece = dflt + 2;
                len = (size_t)(end - piece);
            } else {
                return fail_at(x, line, "%s: environment variable %s is not set (set "
                               "it, or write ${%s:-DEFAULT})", what, name, name);
            }
            p = end + 1;
        } else {
            p++;
        }
        if (n + len >= size)
            return fail_at(x, line, "%s is too long once expanded (at most %zu bytes)",
                           what, size - 1);
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = 0;
    return 0;
}

/* A cell: a non-empty name or path; `item` is 1-based in a list (errors
 * then name the item's line), 0 for a single name. Plugins are not loaded
 * here (the loader does that). */
static int check_cell(ctx *x, const char *key, const s2s_yaml_node *v,
                      size_t item, int line)
{
    char b[100], what[160];
    if (item) snprintf(what, sizeof what, "item %zu of key '%s'", item, key);
    else snprintf(what, sizeof what, "key '%s'", key);
    if (v->kind != S2S_YAML_SCALAR || s2s_yaml_is_null(v))
        return fail_at(x, line, "%s must name a cell (lstm, gru, elman, or "
                       "a path to a .so), got %s", what, show(b, sizeof b, v));
    const char *s;
    return get_string(x, what, v, line, S2S_PATH_MAX, 1, &s);
}

/* ------------------------------------------------------------------------ */
/* Applying one key                                                         */

/* Errors name `line`, the line of the key. */
static int apply_leaf(ctx *x, int idx, const s2s_yaml_node *v, int line)
{
    const key_spec *k = &KEYS[idx];
    char *field = (char *)x->c + k->off;
    side_pending *sp = &x->side[k->side];
    char b[100], r[64];
    long long iv;
    int rerr;
    switch (k->type) {
    case K_INT:
    case K_LONG:
    case K_LAYERS:
    case K_HIDDEN:
        if (parse_int(v, &iv, &rerr))
            return fail_at(x, line, "key '%s' must be an integer, got %s",
                           k->key, show(b, sizeof b, v));
        if (rerr || iv < k->ilo || iv > k->ihi) {
            range_text(k, r, sizeof r);
            return fail_at(x, line, "key '%s' must be %s, got %s", k->key, r,
                           show(b, sizeof b, v));
        }
        if (k->type == K_INT) memcpy(field, &(int){ (int)iv }, sizeof(int));
        else if (k->type == K_LONG) memcpy(field, &(long){ (long)iv }, sizeof(long));
        else if (k->type == K_LAYERS) { sp->layers = (int)iv; sp->has_layers = 1; }
        else { sp->hidden = (int)iv; sp->has_hidden = 1; }
        return 0;
    case K_U64: {
        const char *s = v->str;
        int ok = v->kind == S2S_YAML_SCALAR && !v->quoted && v->len > 0;
        for (size_t i = ok && s[0] == '+'; ok && i < v->len; i++)
            ok = isdigit((unsigned char)s[i]);
        if (!ok || (s[0] == '+' && v->len == 1))
            return fail_at(x, line, "key '%s' must be a non-negative integer, "
                           "got %s", k->key, show(b, sizeof b, v));
        errno = 0;
        uint64_t u = strtoull(s, NULL, 10);
        if (errno == ERANGE)
            return fail_at(x, line, "key '%s' must be at most %" PRIu64
                           ", got %s", k->key, UINT64_MAX, show(b, sizeof b, v));
        memcpy(field, &u, sizeof u);
        return 0;
    }
    case K_FLOAT: {
        float f;
        if (parse_float(v, &f, &rerr))
            return fail_at(x, line, "key '%s' must be a number, got %s",
                           k->key, show(b, sizeof b, v));
        if (rerr)
            return fail_at(x, line, "key '%s' must be a finite float "
                           "(magnitude at most %.9g), got %s", k->key, FLT_MAX,
                           show(b, sizeof b, v));
        double d = f;
        if (d < k->flo || (k->lo_open && d == k->flo) || d > k->fhi ||
            (k->hi_open && d == k->fhi)) {
            range_text(k, r, sizeof r);
            return fail_at(x, line, "key '%s' must be %s, got %s", k->key, r,
                           show(b, sizeof b, v));
        }
        memcpy(field, &f, sizeof f);
        return 0;
    }
    case K_BOOL: {
        int bv;
        if (parse_bool(v, &bv))
            return fail_at(x, line, "key '%s' must be true or false (or yes "
                           "or no), got %s", k->key, show(b, sizeof b, v));
        memcpy(field, &bv, sizeof bv);
        return 0;
    }
    case K_STR: {
        const char *s;
        char path[S2S_PATH_MAX];
        snprintf(r, sizeof r, "key '%s'", k->key);
        if (get_string(x, r, v, line, k->size, k->flags & NONEMPTY, &s) ||
            expand_env(x, r, line, s, path, k->size < sizeof path ? k->size : sizeof path))
            return -1;
        if ((k->flags & NONEMPTY) && !path[0])
            return fail_at(x, line, "%s must not be empty", r);
        set_str(field, k->size, path);
        return 0;
    }
    case K_CHOICE: {
        int ok = v->kind == S2S_YAML_SCALAR && v->str;
        size_t n = ok ? strlen(v->str) : 0;
        ok = ok && n == v->len && n > 0;
        if (ok) {
            const char *c = strstr(k->choices, v->str);
            ok = 0;
            for (; c && !ok; c = strstr(c + 1, v->str))
                ok = (c == k->choices || c[-1] == '|') &&
                     (c[n] == '|' || c[n] == '\0');
        }
        if (!ok) {
            /* "a or b", "a, b, c or d" */
            char words[128];
            snprintf(words, sizeof words, "%s", k->choices);
            char *last = strrchr(words, '|');
            char list[160] = "";
            for (char *w = strtok(words, "|"); w; w = strtok(NULL, "|")) {
                if (list[0]) strcat(list, w == last + 1 ? " or " : ", ");
                strcat(list, w);
            }
            return fail_at(x, line, "key '%s' must be %s, got %s", k->key,
                           list, show(b, sizeof b, v));
        }
        set_str(field, k->size, v->str);
        return 0;
    }
    case K_CELL:
        if (v->kind == S2S_YAML_SEQ) {
            if (v->n == 0)
                return fail_at(x, line, "key '%s' must name at least one "
                               "cell", k->key);
            if (v->n > S2S_MAX_LAYERS)
                return fail_at(x, line, "key '%s' lists %zu cells, at most "
                               "%d (one per layer)", k->key, v->n, S2S_MAX_LAYERS);
            for (size_t i = 0; i < v->n; i++)
                if (check_cell(x, k->key, v->items[i], i + 1, v->items[i]->line))
                    return -1;
        } else if (v->kind == S2S_YAML_SCALAR) {
            if (check_cell(x, k->key, v, 0, line)) return -1;
        } else {
            return fail_at(x, line, "key '%s' must be a cell name or a list "
                           "of one per layer, got a mapping", k->key);
        }
        sp->cell = v;
        sp->cell_line = line;
        return 0;
    case K_SECTION:
        break;
    }
    return 0;
}

/* Walks mapping `map` whose keys sit under `prefix` ("" at the top). */
static int walk(ctx *x, const s2s_yaml_node *map, const char *prefix)
{
    char b[100];
    for (size_t i = 0; i < map->n; i++) {
        const s2s_yaml_node *key = map->keys[i], *v = map->items[i];
        char full[160];
        int n = snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "",
                         key->str);
        /* a dot inside a key would alias the nested form: refuse it */
        int idx = n < (int)sizeof full && strlen(key->str) == key->len &&
                          !strchr(key->str, '.')
                      ? find_key(full) : -1;
        if (idx < 0) return unknown_key(x, key, prefix, full);
        x->line[idx] = key->line;
        if (KEYS[idx].type != K_SECTION) {
            if (apply_leaf(x, idx, v, key->line)) return -1;
            continue;
        }
        if (s2s_yaml_is_null(v)) continue; /* an empty section */
        if (v->kind != S2S_YAML_MAP)
            return fail_at(x, key->line, "key '%s' must be a mapping (keys "
                           "indented below it), got %s", full,
                           show(b, sizeof b, v));
        if (walk(x, v, full)) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Resolving the model sides and checking keys against each other          */

static int line_of(const ctx *x, const char *key)
{
    int i = find_key(key);
    return i < 0 ? 0 : x->line[i];
}

/* The line of the first of two keys the file gives (0 if neither). */
static int line_of2(const ctx *x, const char *a, const char *b)
{
    int l = line_of(x, a);
    return l ? l : line_of(x, b);
}

static int resolve_side(ctx *x, int side)
{
    const char *sname = side == SIDE_ENC ? "encoder" : "decoder";
    s2s_side_config *sc = side == SIDE_ENC ? &x->c->model.encoder
                                           : &x->c->model.decoder;
    const side_pending *ps = &x->side[side], *pm = &x->side[SIDE_BOTH];
    char lkey[64], ckey[64];

    int layers = sc->layers;
    snprintf(lkey, sizeof lkey, "model.%s.layers", sname);
    if (ps->has_layers) layers = ps->layers;
    else if (pm->has_layers) { layers = pm->layers; snprintf(lkey, sizeof lkey, "model.layers"); }
    if (ps->has_hidden) sc->hidden = ps->hidden;
    else if (pm->has_hidden) sc->hidden = pm->hidden;

    const s2s_yaml_node *cell = ps->cell;
    int cell_line = ps->cell_line;
    snprintf(ckey, sizeof ckey, "model.%s.cell", sname);
    if (!cell && pm->cell) {
        cell = pm->cell;
        cell_line = pm->cell_line;
        snprintf(ckey, sizeof ckey, "model.cell");
    }

    if (cell && cell->kind == S2S_YAML_SEQ) {
        if ((int)cell->n != layers)
            return fail_at(x, cell_line, "key '%s' lists %zu cells but %s is "
                           "%d%s: give one cell per layer, or one name for all",
                           ckey, cell->n, lkey, layers,
                           line_of(x, lkey) ? "" : " (the default)");
        for (int l = 0; l < layers; l++)
            set_str(sc->cell[l], sizeof sc->cell[l], cell->items[l]->str);
    } else if (cell) {
        for (int l = 0; l < layers; l++)
            set_str(sc->cell[l], sizeof sc->cell[l], cell->str);
    } else if (layers != sc->layers) {
        /* The cells come from before this file: one name for all layers
         * extends to the new count, a per-layer list does not. */
        for (int l = 1; l < sc->layers; l++)
            if (strcmp(sc->cell[l], sc->cell[0]) != 0)
                return fail_at(x, line_of(x, lkey), "key '%s' sets %d layers but "
                               "model.%s.cell lists %d cells; give %s too", lkey,
                               layers, sname, sc->layers, ckey);
        for (int l = 1; l < layers; l++)
            set_str(sc->cell[l], sizeof sc->cell[l], sc->cell[0]);
    }
    sc->layers = layers;
    for (int l = layers; l < S2S_MAX_LAYERS; l++)
        memset(sc->cell[l], 0, sizeof sc->cell[l]);
    return 0;
}

static int cross_checks(ctx *x)
{
    const s2s_config *c = x->c;
    if (c->data.max_len > 0 && c->data.min_len > c->data.max_len)
        return fail_at(x, line_of2(x, "data.min_len", "data.max_len"),
                       "key 'data.min_len' (%d) must be <= data.max_len (%d)",
                       c->data.min_len, c->data.max_len);
    if (c->data.src_column == c->data.tgt_column)
        return fail_at(x, line_of2(x, "data.src_column", "data.tgt_column"),
                       "keys 'data.src_column' and 'data.tgt_column' must differ "
                       "(both %d)", c->data.src_column);
    if (c->data.max_vocab > 0 && c->data.max_vocab < 5)
        return fail_at(x, line_of(x, "data.max_vocab"), "key 'data.max_vocab' "
                       "must be 0 (no cap) or >= 5 (the 4 specials count), got %d",
                       c->data.max_vocab);
    if (c->model.input_feed && strcmp(c->model.attention, "none") == 0)
        return fail_at(x, line_of(x, "model.input_feed"), "key "
                       "'model.input_feed' needs model.attention (dot, general "
                       "or mlp): input feeding passes the attentional state on");
    int mem = c->model.encoder.hidden * (c->model.bidirectional ? 2 : 1);
    if (strcmp(c->model.attention, "dot") == 0 && mem != c->model.decoder.hidden)
        return fail_at(x, line_of2(x, "model.attention", "model.hidden"),
                       "key 'model.attention' is dot, which needs the encoder's "
                       "outputs (%d%s) as wide as the decoder's hidden size (%d); "
                       "use general or mlp, or match the sizes", mem,
                       c->model.bidirectional ? ", both directions" : "",
                       c->model.decoder.hidden);
    int sl = line_of(x, "data.split_every");
    if (c->data.split_every == 1 || c->data.split_every == 2)
        return fail_at(x, sl, "key 'data.split_every' must be 0 (dev and test "
                       "from files) or >= 3, got %d", c->data.split_every);
    if (c->data.split_every == 0 && (!c->data.dev[0] || !c->data.test[0]))
        return fail_at(x, sl ? sl : line_of2(x, "data.dev", "data.test"),
                       "key 'data.split_every' is 0 (no split) but data.%s is "
                       "not given; give data.dev and data.test files, or "
                       "split_every >= 3", c->data.dev[0] ? "test" : "dev");
    const char *spm_m = c->tokenizer.sentencepiece.model,
               *spm_s = c->tokenizer.sentencepiece.src_model,
               *spm_t = c->tokenizer.sentencepiece.tgt_model;
    if (spm_m[0] && (spm_s[0] || spm_t[0]))
        return fail_at(x, line_of2(x, "tokenizer.sentencepiece.src_model",
                                   "tokenizer.sentencepiece.tgt_model"),
                       "key 'tokenizer.sentencepiece.model' (one joint model) "
                       "and '%s' (one per side) exclude each other: give one "
                       "or the other", spm_s[0] ? "tokenizer.sentencepiece.src_model"
                                                : "tokenizer.sentencepiece.tgt_model");
    if (!spm_s[0] != !spm_t[0])
        return fail_at(x, line_of2(x, "tokenizer.sentencepiece.src_model",
                                   "tokenizer.sentencepiece.tgt_model"),
                       "key 'tokenizer.sentencepiece.%s' needs "
                       "tokenizer.sentencepiece.%s too (one model per side), "
                       "or give one joint tokenizer.sentencepiece.model",
                       spm_s[0] ? "src_model" : "tgt_model",
                       spm_s[0] ? "tgt_model" : "src_model");
    for (int side = 0; side < 2; side++) {
        int n = side ? c->tokenizer.sentencepiece.train.tgt_vocab_size
                     : c->tokenizer.sentencepiece.train.src_vocab_size;
        const char *key = side ? "tokenizer.sentencepiece.train.tgt_vocab_size"
                               : "tokenizer.sentencepiece.train.src_vocab_size";
        if (n > 0 && n < 8)
            return fail_at(x, line_of(x, key), "key '%s' must be 0 (vocab_size) "
                           "or 8 to 1000000, got %d", key, n);
        if (n > 0 && c->tokenizer.sentencepiece.train.joint)
            return fail_at(x, line_of(x, key), "key '%s' sizes one side's own "
                           "model: it needs tokenizer.sentencepiece.train.joint: "
                           "false", key);
    }
    const float alpha = c->tokenizer.sentencepiece.sampling_alpha;
    const int nbest = c->tokenizer.sentencepiece.sampling_nbest;
    if (alpha > 0 && strcmp(c->tokenizer.type, "sentencepiece") != 0)
        return fail_at(x, line_of(x, "tokenizer.sentencepiece.sampling_alpha"),
                       "key 'tokenizer.sentencepiece.sampling_alpha' samples "
                       "SentencePiece segmentations: it needs tokenizer.type: "
                       "sentencepiece");
    if (nbest == 0 || nbest == 1 || nbest > 512)
        return fail_at(x, line_of(x, "tokenizer.sentencepiece.sampling_nbest"),
                       "key 'tokenizer.sentencepiece.sampling_nbest' is -1 (every "
                       "segmentation) or 2 to 512 (SentencePiece's limit), not %d",
                       nbest);
    /* Aligned files (train_target given): every split given as files needs
     * its target side; TSV: no target files. */
    const char *side[2] = { "dev", "test" };
    const char *src[2] = { c->data.dev, c->data.test };
    const char *tgt[2] = { c->data.dev_target, c->data.test_target };
    for (int i = 0; i < 2; i++) {
        char ks[32], kt[32];
        snprintf(ks, sizeof ks, "data.%s", side[i]);
        snprintf(kt, sizeof kt, "data.%s_target", side[i]);
        if (tgt[i][0] && !src[i][0])
            return fail_at(x, line_of(x, kt), "key '%s' is given without %s",
                           kt, ks);
        if (tgt[i][0] && !c->data.train_target[0])
            return fail_at(x, line_of2(x, kt, "data.train_target"),
                           "key '%s' is given but data.train_target is not "
                           "(TSV files hold both sides: drop %s, or give "
                           "data.train_target)", kt, kt);
        if (src[i][0] && !tgt[i][0] && c->data.train_target[0])
            return fail_at(x, line_of2(x, ks, "data.train_target"),
                           "key '%s' needs %s too, as data.train_target is "
                           "given (aligned files)", ks, kt);
    }
    return 0;
}

/* Applies the document `root` (NULL = empty) over x->c. */
static int apply_doc(ctx *x, const s2s_yaml_node *root)
{
    if (root) {
        if (root->kind != S2S_YAML_MAP) {
            char b[100];
            return fail_at(x, root->line, "a run file must be a mapping of "
                           "sections (data, tokenizer, model, train, decode), "
                           "got %s", show(b, sizeof b, root));
        }
        if (walk(x, root, "")) return -1;
    }
    if (resolve_side(x, SIDE_ENC) || resolve_side(x, SIDE_DEC)) return -1;
    return cross_checks(x);
}

/* Parses text (or the file at path when text is NULL) over a copy of *c,
 * which is replaced only on success. */
static int apply(s2s_config *c, const char *path, const char *text, size_t len,
                 const char *name, s2s_err *err)
{
    s2s_yaml_doc doc;
    int rc = text ? s2s_yaml_parse_string(&doc, text, len, name, err)
                  : s2s_yaml_parse_file(&doc, path, err);
    if (rc) return -1;
    ctx *x = s2s_xcalloc(1, sizeof *x);
    x->name = text ? name : path;
    x->err = err;
    x->c = s2s_xmalloc(sizeof *c);
    memcpy(x->c, c, sizeof *c);
    rc = apply_doc(x, doc.root);
    if (rc == 0) memcpy(c, x->c, sizeof *c);
    free(x->c);
    free(x);
    s2s_yaml_free(&doc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* API                                                                      */

int s2s_config_subwords(const s2s_config *c)
{
    return strcmp(c->tokenizer.type, "sentencepiece") == 0;
}

int s2s_config_load(s2s_config *c, const char *path, s2s_err *err)
{
    if (strlen(path) >= S2S_PATH_MAX)
        return s2s_fail(err, "%.200s...: path too long (at most %d bytes)",
                        path, S2S_PATH_MAX - 1);
    s2s_config *t = s2s_xmalloc(sizeof *t);
    s2s_config_defaults(t);
    int rc = apply(t, path, NULL, 0, NULL, err);
    if (rc == 0) {
        set_str(t->source_file, sizeof t->source_file, path);
        memcpy(c, t, sizeof *c);
    }
    free(t);
    return rc;
}

int s2s_config_load_string(s2s_config *c, const char *yaml, size_t len,
                           const char *name, s2s_err *err)
{
    s2s_config *t = s2s_xmalloc(sizeof *t);
    s2s_config_defaults(t);
    int rc = apply(t, NULL, yaml ? yaml : "", yaml ? len : 0,
                   name ? name : "<string>", err);
    if (rc == 0) memcpy(c, t, sizeof *c);
    free(t);
    return rc;
}

int s2s_config_apply_string(s2s_config *c, const char *yaml, size_t len,
                            const char *name, s2s_err *err)
{
    return apply(c, NULL, yaml ? yaml : "", yaml ? len : 0,
                 name ? name : "<string>", err);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Decodes one UTF-8 code point at s (n bytes left); returns its length, or
 * 0 when the bytes are not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xf4) return 0;
    uint32_t v = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* Writes s as a double-quoted YAML scalar. Code points YAML does not allow
 * raw are escaped so the file reads back to the same bytes; invalid UTF-8
 * (which a run file cannot hold) is written as \xNN. */
static void write_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    fputc('"', f);
    while (n > 0) {
        uint32_t cp;
        size_t len = utf8_next(p, n, &cp);
        if (len == 0) {
            fprintf(f, "\\x%02X", p[0]);
            p++, n--;
            continue;
        }
        if (cp == '"' || cp == '\\') fprintf(f, "\\%c", (int)cp);
        else if (cp == '\n') fputs("\\n", f);
        else if (cp == '\t') fputs("\\t", f);
        else if (cp == '\r') fputs("\\r", f);
        else if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
                 (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) || cp >= 0x10000)
            fwrite(p, 1, len, f);
        else if (cp <= 0xff) fprintf(f, "\\x%02X", (unsigned)cp);
        else fprintf(f, "\\u%04X", (unsigned)cp);
        p += len, n -= len;
    }
    fputc('"', f);
}

static const char *yes_no(int b) { return b ? "true" : "false"; }

/* The shortest decimal that reads back to the same float: 1e-3 prints as
 * 0.001, not 0.00100000005 (%.9g always round-trips but is rarely the
 * shortest). buf holds at least 32 bytes. */
static const char *float_str(float v, char *buf)
{
    /* whole numbers as such: 10, not 1e+01 */
    if (v == nearbyintf(v) && fabsf(v) < 1e7f) {
        snprintf(buf, 32, "%.0f", (double)v);
        if (strtof(buf, NULL) == v && !signbit(v)) return buf;
    }
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, 32, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

/* One key's value as the run file spells it. */
static void write_value(FILE *f, const key_spec *k, const s2s_config *c)
{
    const char *field = (const char *)c + k->off;
    char buf[32];
    int iv;
    float fv;
    switch (k->type) {
    case K_INT: memcpy(&iv, field, sizeof iv); fprintf(f, "%d", iv); break;
    case K_LONG: {
        long v;
        memcpy(&v, field, sizeof v);
        fprintf(f, "%ld", v);
        break;
    }
    case K_U64: {
        uint64_t v;
        memcpy(&v, field, sizeof v);
        fprintf(f, "%" PRIu64, v);
        break;
    }
    case K_FLOAT: memcpy(&fv, field, sizeof fv); fputs(float_str(fv, buf), f); break;
    case K_BOOL: memcpy(&iv, field, sizeof iv); fputs(yes_no(iv), f); break;
    case K_STR: write_str(f, field); break;
    case K_CHOICE: fputs(field, f); break;
    default: break;
    }
}

/* A side's resolved cell (one name, or a list of one per layer), layers or
 * hidden size. */
static void write_side_value(FILE *f, const key_spec *k, const s2s_side_config *s)
{
    if (k->type == K_LAYERS) {
        fprintf(f, "%d", s->layers);
    } else if (k->type == K_HIDDEN) {
        fprintf(f, "%d", s->hidden);
    } else {
        int uniform = 1;
        for (int l = 1; l < s->layers; l++)
            uniform &= strcmp(s->cell[l], s->cell[0]) == 0;
        if (uniform) {
            write_str(f, s->cell[0]);
            return;
        }
        fputc('[', f);
        for (int l = 0; l < s->layers && l < S2S_MAX_LAYERS; l++) {
            if (l) fputs(", ", f);
            write_str(f, s->cell[l]);
        }
        fputc(']', f);
    }
}

/* Every key of the table, in its order, so that a key added to the table
 * is written (and read back) with nothing else to change. Sides are
 * written resolved: model.encoder.* and model.decoder.*, not the
 * model.cell / layers / hidden that set both. */
int s2s_config_write(const s2s_config *c, FILE *f)
{
    fputs("# s2s run file, fully resolved: every key with its value.\n"
          "# Paths are relative to the directory s2s runs in.\n", f);
    if (c->source_file[0]) {
        fputs("# Read from ", f);
        write_str(f, c->source_file);
        fputc('\n', f);
    }
    for (size_t i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (k->side == SIDE_BOTH && (k->type == K_CELL || k->type == K_LAYERS ||
                                     k->type == K_HIDDEN))
            continue;
        int depth = 0;
        for (const char *p = k->key; *p; p++) depth += *p == '.';
        fprintf(f, "%*s%s:", 2 * depth, "", leaf_of(k->key));
        if (k->type == K_SECTION) {
            fputc('\n', f);
            continue;
        }
        fputc(' ', f);
        if (k->type == K_CELL || k->type == K_LAYERS || k->type == K_HIDDEN)
            write_side_value(f, k, k->side == SIDE_ENC ? &c->model.encoder
                                                        : &c->model.decoder);
        else
            write_value(f, k, c);
        if (k->type == K_FLOAT && k->off == offsetof(s2s_config, model.init_range) &&
            c->model.init_range == 0)
            fputs("  # 0: each cell initialises its own parameters", f);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Data paths                                                               */

size_t s2s_config_data_keys(s2s_config *c, s2s_data_key out[6])
{
    out[0] = (s2s_data_key){"data.train", c->data.train};
    out[1] = (s2s_data_key){"data.train_target", c->data.train_target};
    out[2] = (s2s_data_key){"data.dev", c->data.dev};
    out[3] = (s2s_data_key){"data.dev_target", c->data.dev_target};
    out[4] = (s2s_data_key){"data.test", c->data.test};
    out[5] = (s2s_data_key){"data.test_target", c->data.test_target};
    return 6;
}

void s2s_config_absolute_data_paths(s2s_config *c)
{
    s2s_data_key keys[6];
    size_t n = s2s_config_data_keys(c, keys);
    for (size_t i = 0; i < n; i++) {
        char *p = keys[i].path;
        if (!p[0] || p[0] == '/') continue;
        char *abs = realpath(p, NULL);
        if (abs && strlen(abs) < S2S_PATH_MAX) {
            /* whole buffer zeroed: configs are compared with memcmp */
            memset(p, 0, S2S_PATH_MAX);
            memcpy(p, abs, strlen(abs));
        }
        free(abs);
    }
}
