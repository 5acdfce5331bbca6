/* tokenizer/vocab.c — vocabularies and token counters over one string hash
 * table (open addressing, linear probing), and the "token<TAB>count" text
 * format (see vocab.h).
 */
#include "tokenizer/vocab.h"

#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const s2s_special_tokens[S2S_NUM_SPECIALS] = {
    "<pad>", "<unk>", "<sos>", "<eos>",
};

/* ------------------------------------------------------------ table */

/* Strings stored NUL-terminated in one arena; entry i has a count. Slots
 * hold entry index + 1 (0 = empty); the table stays at most half full. */
typedef struct strtab {
    char *arena;
    size_t arena_len, arena_cap;
    size_t *off;       /* (n) start of entry i in arena */
    uint32_t *len;     /* (n) */
    uint64_t *hash;    /* (n) */
    uint64_t *count;   /* (n) */
    size_t n, cap;
    uint32_t *slot;    /* (nslot) */
    size_t nslot;      /* power of two */
} strtab;

struct s2s_vocab {
    strtab t;
};
struct s2s_counter {
    strtab t;
};

/* FNV-1a, 64 bit: tokens are short, and it needs no alignment. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void tab_free(strtab *t)
{
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->hash);
    free(t->count);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static void tab_rehash(strtab *t, size_t nslot)
{
    free(t->slot);
    t->slot = s2s_xcalloc(nslot, sizeof *t->slot);
    t->nslot = nslot;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = t->hash[i] & (nslot - 1);
        while (t->slot[j])
            j = (j + 1) & (nslot - 1);
        t->slot[j] = (uint32_t)(i + 1);
    }
}

/* Index of s in t, or SIZE_MAX; *slot_out gets the slot where it is or
 * would go. */
static size_t tab_find(const strtab *t, const char *s, size_t n, uint64_t h,
                       size_t *slot_out)
{
    if (!t->nslot) {
        *slot_out = 0;
        return SIZE_MAX;
    }
    size_t j = h & (t->nslot - 1);
    while (t->slot[j]) {
        size_t i = t->slot[j] - 1;
        if (t->hash[i] == h && t->len[i] == n &&
            memcmp(t->arena + t->off[i], s, n) == 0) {
            *slot_out = j;
            return i;
        }
        j = (j + 1) & (t->nslot - 1);
    }
    *slot_out = j;
    return SIZE_MAX;
}

/* Appends s (known absent) with count c; returns its index. */
static size_t tab_add(strtab *t, const char *s, size_t n, uint64_t h,
                      uint64_t c)
{
    if (t->n >= UINT32_MAX - 1 || n >= UINT32_MAX) {
        fprintf(stderr, "s2s: vocabulary table overflow\n");
        abort();
    }
    if (2 * (t->n + 1) > t->nslot)
        tab_rehash(t, t->nslot ? 2 * t->nslot : 64);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->off = s2s_xrealloc(t->off, t->cap * sizeof *t->off);
        t->len = s2s_xrealloc(t->len, t->cap * sizeof *t->len);
        t->hash = s2s_xrealloc(t->hash, t->cap * sizeof *t->hash);
        t->count = s2s_xrealloc(t->count, t->cap * sizeof *t->count);
    }
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_len + n + 1)
            cap *= 2;
        t->arena = s2s_xrealloc(t->arena, cap);
        t->arena_cap = cap;
    }
    size_t i = t->n++;
    t->off[i] = t->arena_len;
    t->len[i] = (uint32_t)n;
    t->hash[i] = h;
    t->count[i] = c;
    memcpy(t->arena + t->arena_len, s, n);
    t->arena[t->arena_len + n] = '\0';
    t->arena_len += n + 1;

    size_t j = h & (t->nslot - 1);
    while (t->slot[j])
        j = (j + 1) & (t->nslot - 1);
    t->slot[j] = (uint32_t)(i + 1);
    return i;
}

static void tab_copy(strtab *dst, const strtab *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n; i++)
        tab_add(dst, src->arena + src->off[i], src->len[i], src->hash[i],
                src->count[i]);
}

/* ------------------------------------------------------------ lookup */

uint32_t s2s_vocab_id(const s2s_vocab *v, const char *tok, size_t len)
{
    size_t slot;
    size_t i = tab_find(&v->t, tok, len, hash_bytes(tok, len), &slot);
    return i == SIZE_MAX ? S2S_UNK : (uint32_t)i;
}

const char *s2s_vocab_token(const s2s_vocab *v, uint32_t id)
{
    if (id >= v->t.n)
        return s2s_special_tokens[S2S_UNK];
    return v->t.arena + v->t.off[id];
}

size_t s2s_vocab_token_len(const s2s_vocab *v, uint32_t id)
{
    if (id >= v->t.n)
        return strlen(s2s_special_tokens[S2S_UNK]);
    return v->t.len[id];
}

uint32_t s2s_vocab_size(const s2s_vocab *v)
{
    return (uint32_t)v->t.n;
}

uint64_t s2s_vocab_count(const s2s_vocab *v, uint32_t id)
{
    return id < v->t.n ? v->t.count[id] : 0;
}

size_t s2s_vocab_encode(const s2s_vocab *v, const s2s_tokens *t,
                        uint32_t *ids)
{
    size_t unk = 0;
    for (size_t k = 0; k < t->n; k++) {
        ids[k] = s2s_vocab_id(v, t->buf + t->off[k], t->len[k]);
        unk += ids[k] == S2S_UNK;
    }
    return unk;
}

/* ------------------------------------------------------------ building */

s2s_counter *s2s_counter_new(void)
{
    return s2s_xcalloc(1, sizeof(s2s_counter));
}

void s2s_counter_free(s2s_counter *c)
{
    if (!c)
        return;
    tab_free(&c->t);
    free(c);
}

void s2s_counter_add(s2s_counter *c, const char *tok, size_t len)
{
    uint64_t h = hash_bytes(tok, len);
    size_t slot;
    size_t i = tab_find(&c->t, tok, len, h, &slot);
    if (i != SIZE_MAX)
        c->t.count[i]++;
    else
        tab_add(&c->t, tok, len, h, 1);
}

void s2s_counter_add_tokens(s2s_counter *c, const s2s_tokens *t)
{
    for (size_t k = 0; k < t->n; k++)
        s2s_counter_add(c, t->buf + t->off[k], t->len[k]);
}

size_t s2s_counter_distinct(const s2s_counter *c)
{
    return c->t.n;
}

static s2s_vocab *vocab_specials(void)
{
    s2s_vocab *v = s2s_xcalloc(1, sizeof *v);
    for (int i = 0; i < S2S_NUM_SPECIALS; i++) {
        const char *s = s2s_special_tokens[i];
        tab_add(&v->t, s, strlen(s), hash_bytes(s, strlen(s)), 0);
    }
    return v;
}

static int is_special(const char *s, size_t n)
{
    for (int i = 0; i < S2S_NUM_SPECIALS; i++)
        if (strlen(s2s_special_tokens[i]) == n &&
            memcmp(s2s_special_tokens[i], s, n) == 0)
            return 1;
    return 0;
}

/* qsort context: the counter being sorted (qsort has no user pointer). */
static _Thread_local const strtab *sort_tab;

static int by_count_then_bytes(const void *pa, const void *pb)
{
    const strtab *t = sort_tab;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (t->count[a] != t->count[b])
        return t->count[a] > t->count[b] ? -1 : 1;
    size_t la = t->len[a], lb = t->len[b];
    int c = memcmp(t->arena + t->off[a], t->arena + t->off[b],
                   la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

s2s_vocab *s2s_vocab_build(const s2s_counter *c, uint64_t min_count,
                           size_t max_size)
{
    const strtab *t = &c->t;
    size_t *idx = s2s_xmalloc((t->n + 1) * sizeof *idx);
    size_t m = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->count[i] >= min_count &&
            !is_special(t->arena + t->off[i], t->len[i]))
            idx[m++] = i;
    sort_tab = t;
    qsort(idx, m, sizeof *idx, by_count_then_bytes);
    sort_tab = NULL;

    s2s_vocab *v = vocab_specials();
    for (size_t k = 0; k < m; k++) {
        if (max_size && v->t.n >= max_size)
            break;
        size_t i = idx[k];
        tab_add(&v->t, t->arena + t->off[i], t->len[i], t->hash[i],
                t->count[i]);
    }
    free(idx);
    return v;
}

/* Why a token cannot be a vocabulary entry, or NULL. */
static const char *bad_token(const char *s, size_t n)
{
    if (n == 0)
        return "empty token";
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\t')
            return "TAB in token";
        if (s[i] == '\r')
            return "CR in token";
        if (s[i] == '\n')
            return "LF in token";
        if (s[i] == '\0')
            return "NUL byte in token";
    }
    if (s2s_utf8_check(s, n) < n)
        return "invalid UTF-8 in token";
    return NULL;
}

s2s_vocab *s2s_vocab_from_tokens(const char *const *tokens, size_t n,
                                 s2s_err *err)
{
    s2s_vocab *v = vocab_specials();
    for (size_t k = 0; k < n; k++) {
        size_t len = strlen(tokens[k]);
        const char *why = bad_token(tokens[k], len);
        uint64_t h = hash_bytes(tokens[k], len);
        size_t slot;
        if (!why && tab_find(&v->t, tokens[k], len, h, &slot) != SIZE_MAX)
            why = is_special(tokens[k], len) ? "special token"
                                             : "duplicate token";
        if (why) {
            s2s_fail(err, "vocabulary token %zu: %s", k, why);
            s2s_vocab_free(v);
            return NULL;
        }
        tab_add(&v->t, tokens[k], len, h, 0);
    }
    return v;
}

s2s_vocab *s2s_vocab_clone(const s2s_vocab *v)
{
    s2s_vocab *c = s2s_xcalloc(1, sizeof *c);
    tab_copy(&c->t, &v->t);
    return c;
}

void s2s_vocab_free(s2s_vocab *v)
{
    if (!v)
        return;
    tab_free(&v->t);
    free(v);
}

int s2s_vocab_equal(const s2s_vocab *a, const s2s_vocab *b)
{
    if (a->t.n != b->t.n)
        return 0;
    for (size_t i = 0; i < a->t.n; i++)
        if (a->t.len[i] != b->t.len[i] || a->t.count[i] != b->t.count[i] ||
            memcmp(a->t.arena + a->t.off[i], b->t.arena + b->t.off[i],
                   a->t.len[i]) != 0)
            return 0;
    return 1;
}

/* ------------------------------------------------------------ save/load */

char *s2s_vocab_serialize(const s2s_vocab *v, size_t *len)
{
    size_t cap = 1;
    for (size_t i = 0; i < v->t.n; i++)
        cap += v->t.len[i] + 1 + 20 + 1;
    char *out = s2s_xmalloc(cap);
    size_t pos = 0;
    for (size_t i = 0; i < v->t.n; i++) {
        memcpy(out + pos, v->t.arena + v->t.off[i], v->t.len[i]);
        pos += v->t.len[i];
        pos += (size_t)snprintf(out + pos, cap - pos, "\t%llu\n",
                                (unsigned long long)v->t.count[i]);
    }
    out[pos] = '\0';
    *len = pos;
    return out;
}

s2s_vocab *s2s_vocab_parse(const char *buf, size_t len, const char *name,
                           s2s_err *err)
{
    s2s_vocab *v = s2s_xcalloc(1, sizeof *v);
    size_t pos = 0, line = 0;
    while (pos < len) {
        line++;
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0) {
            s2s_fail(err, "%s:%zu: blank line", name, line);
            goto fail;
        }
        const char *tab = memchr(s, '\t', n);
        if (!tab) {
            s2s_fail(err, "%s:%zu: expected token<TAB>count", name, line);
            goto fail;
        }
        size_t tl = (size_t)(tab - s);
        const char *why = bad_token(s, tl);
        if (why) {
            s2s_fail(err, "%s:%zu: %s", name, line, why);
            goto fail;
        }
        const char *c = tab + 1, *end = s + n;
        if (c == end) {
            s2s_fail(err, "%s:%zu: missing count", name, line);
            goto fail;
        }
        uint64_t count = 0;
        for (const char *p = c; p < end; p++) {
            if (*p < '0' || *p > '9') {
                s2s_fail(err, "%s:%zu: count '%.*s' is not a decimal "
                         "integer", name, line, (int)(end - c < 40 ? end - c : 40), c);
                goto fail;
            }
            uint64_t d = (uint64_t)(*p - '0');
            if (count > ((uint64_t)INT64_MAX - d) / 10) {
                s2s_fail(err, "%s:%zu: count too large", name, line);
                goto fail;
            }
            count = count * 10 + d;
        }
        if (line <= S2S_NUM_SPECIALS) {
            const char *want = s2s_special_tokens[line - 1];
            if (tl != strlen(want) || memcmp(s, want, tl) != 0) {
                s2s_fail(err, "%s:%zu: expected the special token %s "
                         "(id %zu) here", name, line, want, line - 1);
                goto fail;
            }
        }
        uint64_t h = hash_bytes(s, tl);
        size_t slot;
        size_t prev = tab_find(&v->t, s, tl, h, &slot);
        if (prev != SIZE_MAX) {
            s2s_fail(err, "%s:%zu: duplicate token '%.*s' (first on line "
                     "%zu)", name, line, (int)(tl < 100 ? tl : 100), s,
                     prev + 1);
            goto fail;
        }
        tab_add(&v->t, s, tl, h, count);
    }
    if (v->t.n < S2S_NUM_SPECIALS) {
        s2s_fail(err, "%s:%zu: missing the special token %s (ids 0-3 must "
                 "be <pad> <unk> <sos> <eos>)", name, line + 1,
                 s2s_special_tokens[v->t.n]);
        goto fail;
    }
    return v;
fail:
    s2s_vocab_free(v);
    return NULL;
}

int s2s_vocab_save(const s2s_vocab *v, const char *path, s2s_err *err)
{
    size_t len;
    char *buf = s2s_vocab_serialize(v, &len);
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(buf);
        return s2s_fail(err, "%s: cannot open for writing: %s", path,
                        strerror(e));
    }
    size_t w = fwrite(buf, 1, len, f);
    int e = errno;
    free(buf);
    if (w != len) {
        fclose(f);
        return s2s_fail(err, "%s: write error: %s", path, strerror(e));
    }
    if (fclose(f) != 0)
        return s2s_fail(err, "%s: write error: %s", path, strerror(errno));
    return 0;
}

s2s_vocab *s2s_vocab_load(const char *path, s2s_err *err)
{
    size_t len;
    char *buf = s2s_read_text_file(path, S2S_MAX_LINE_DEFAULT, &len, err);
    if (!buf)
        return NULL;
    s2s_vocab *v = s2s_vocab_parse(buf, len, path, err);
    free(buf);
    return v;
}
