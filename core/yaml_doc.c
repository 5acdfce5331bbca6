/* core/yaml_doc.c — parses one YAML document with libyaml's event API into
 * a tree of nodes that remember their line and column (see yaml_doc.h).
 *
 * The event API rather than libyaml's document loader: the loader silently
 * resolves aliases into shared nodes and keeps duplicate keys, and we want
 * to refuse both with a position.
 */
#include "core/yaml_doc.h"

#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct reader {
    yaml_parser_t parser;
    const char *name;
    const char *text; /* the whole input, to turn byte offsets into lines */
    size_t len;
    s2s_err *err;
} reader;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/* Line and column (1-based) of byte `off` in the input; columns count
 * characters, as libyaml's marks do (UTF-8 continuation bytes are not). */
static void offset_pos(const reader *r, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    if (off > r->len) off = r->len;
    for (size_t i = 0; i < off; i++) {
        unsigned char b = (unsigned char)r->text[i];
        if (b == '\n') { l++; c = 1; }
        else if ((b & 0xc0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

static int parser_error(reader *r)
{
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "syntax error";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return s2s_fail(r->err, "%s: out of memory while parsing YAML", r->name);
    case YAML_READER_ERROR: {
        int line, col;
        offset_pos(r, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            return s2s_fail(r->err, "%s:%d:%d: %s (byte %zu, value 0x%X)",
                            r->name, line, col, problem, p->problem_offset,
                            (unsigned)p->problem_value);
        return s2s_fail(r->err, "%s:%d:%d: %s (byte %zu)", r->name, line, col,
                        problem, p->problem_offset);
    }
    default:
        if (p->context)
            return s2s_fail(r->err, "%s:%d:%d: %s (%s at line %d)", r->name,
                            (int)p->problem_mark.line + 1,
                            (int)p->problem_mark.column + 1, problem,
                            p->context, (int)p->context_mark.line + 1);
        return s2s_fail(r->err, "%s:%d:%d: %s", r->name,
                        (int)p->problem_mark.line + 1,
                        (int)p->problem_mark.column + 1, problem);
    }
}

static int fail_at(reader *r, const yaml_mark_t *m, const char *what)
{
    return s2s_fail(r->err, "%s:%d:%d: %s", r->name, (int)m->line + 1,
                    (int)m->column + 1, what);
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */

static void node_free(s2s_yaml_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) node_free(n->keys[i]);
        node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->str);
    free(n);
}

static s2s_yaml_node *node_new(s2s_yaml_kind kind, const yaml_mark_t *m)
{
    s2s_yaml_node *n = s2s_xcalloc(1, sizeof *n);
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

/* Appends a pair (mapping, key != NULL) or an item (sequence). */
static void node_push(s2s_yaml_node *n, size_t *cap, s2s_yaml_node *key,
                      s2s_yaml_node *item)
{
    if (n->n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        n->items = s2s_xrealloc(n->items, *cap * sizeof *n->items);
        if (key) n->keys = s2s_xrealloc(n->keys, *cap * sizeof *n->keys);
    }
    if (key) n->keys[n->n] = key;
    n->items[n->n++] = item;
}

/* Anchors and tags would change what a node means in ways the callers do
 * not expect (aliases share nodes, tags retype scalars): refuse both. */
static int check_props(reader *r, const yaml_event_t *ev,
                       const yaml_char_t *anchor, const yaml_char_t *tag)
{
    char msg[300];
    if (anchor) {
        snprintf(msg, sizeof msg, "anchors ('&%.200s') are not supported",
                 (const char *)anchor);
        return fail_at(r, &ev->start_mark, msg);
    }
    if (tag) {
        /* libyaml hands over "!!int" resolved; show it as written */
        const char *t = (const char *)tag, *std = "tag:yaml.org,2002:";
        int is_std = strncmp(t, std, strlen(std)) == 0;
        snprintf(msg, sizeof msg, "tags ('%s%.200s') are not supported",
                 is_std ? "!!" : "", is_std ? t + strlen(std) : t);
        return fail_at(r, &ev->start_mark, msg);
    }
    return 0;
}

/* Sort entry for the duplicate-key check: a key and its position. */
typedef struct key_ref {
    const s2s_yaml_node *key;
    size_t i;
} key_ref;

static int key_cmp(const s2s_yaml_node *x, const s2s_yaml_node *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->str, y->str, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

static int key_ref_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = key_cmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Reports the first repeated key in document order. Sorting keeps this
 * O(n log n) for a hostile mapping of many keys. */
static int check_duplicates(reader *r, const s2s_yaml_node *map)
{
    if (map->n < 2) return 0;
    key_ref *a = s2s_xmalloc(map->n * sizeof *a);
    for (size_t i = 0; i < map->n; i++) a[i] = (key_ref){ map->keys[i], i };
    qsort(a, map->n, sizeof *a, key_ref_cmp);
    size_t dup = map->n, first = 0, run = 0;
    for (size_t k = 1; k < map->n; k++) {
        if (key_cmp(a[k - 1].key, a[k].key) != 0) {
            run = k;
            continue;
        }
        /* within a run positions ascend: a[run] is the original */
        if (a[k].i < dup) {
            dup = a[k].i;
            first = a[run].i;
        }
    }
    free(a);
    if (dup == map->n) return 0;
    const s2s_yaml_node *d = map->keys[dup];
    return s2s_fail(r->err, "%s:%d:%d: duplicate key '%.200s' (first at line %d)",
                    r->name, d->line, d->col, d->str, map->keys[first]->line);
}

static int parse_node(reader *r, yaml_event_t *ev, int depth,
                      s2s_yaml_node **out);

/* Parses the children of a collection whose start event was `start`, up to
 * and including its end event. */
static int parse_children(reader *r, s2s_yaml_node *n, int depth)
{
    size_t cap = 0;
    yaml_event_type_t end = n->kind == S2S_YAML_MAP ? YAML_MAPPING_END_EVENT
                                                    : YAML_SEQUENCE_END_EVENT;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&r->parser, &ev)) return parser_error(r);
        if (ev.type == end) {
            yaml_event_delete(&ev);
            break;
        }
        s2s_yaml_node *key = NULL, *item = NULL;
        if (n->kind == S2S_YAML_MAP) {
            if (parse_node(r, &ev, depth + 1, &key)) return -1;
            if (key->kind != S2S_YAML_SCALAR) {
                int line = key->line, col = key->col;
                node_free(key);
                return s2s_fail(r->err, "%s:%d:%d: mapping keys must be scalars",
                                r->name, line, col);
            }
            if (!yaml_parser_parse(&r->parser, &ev)) {
                node_free(key);
                return parser_error(r);
            }
        }
        if (parse_node(r, &ev, depth + 1, &item)) {
            node_free(key);
            return -1;
        }
        node_push(n, &cap, key, item);
    }
    return n->kind == S2S_YAML_MAP ? check_duplicates(r, n) : 0;
}

/* Builds the node that starts with event `ev` (consumed here). */
static int parse_node(reader *r, yaml_event_t *ev, int depth,
                      s2s_yaml_node **out)
{
    *out = NULL;
    int rc = 0;
    s2s_yaml_node *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        rc = check_props(r, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        if (rc) break;
        n = node_new(S2S_YAML_SCALAR, &ev->start_mark);
        n->len = ev->data.scalar.length;
        n->str = s2s_xmalloc(n->len + 1);
        memcpy(n->str, ev->data.scalar.value, n->len);
        n->str[n->len] = '\0';
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int seq = ev->type == YAML_SEQUENCE_START_EVENT;
        rc = seq ? check_props(r, ev, ev->data.sequence_start.anchor,
                               ev->data.sequence_start.tag)
                 : check_props(r, ev, ev->data.mapping_start.anchor,
                               ev->data.mapping_start.tag);
        if (rc) break;
        if (depth >= S2S_YAML_MAX_DEPTH) {
            char msg[80];
            snprintf(msg, sizeof msg, "nesting deeper than %d levels",
                     S2S_YAML_MAX_DEPTH);
            rc = fail_at(r, &ev->start_mark, msg);
            break;
        }
        n = node_new(seq ? S2S_YAML_SEQ : S2S_YAML_MAP, &ev->start_mark);
        rc = parse_children(r, n, depth);
        break;
    }
    case YAML_ALIAS_EVENT: {
        char msg[300];
        snprintf(msg, sizeof msg, "aliases ('*%.200s') are not supported",
                 (const char *)ev->data.alias.anchor);
        rc = fail_at(r, &ev->start_mark, msg);
        break;
    }
    default:
        /* libyaml only hands us the events above inside a document */
        rc = fail_at(r, &ev->start_mark, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    if (rc) {
        node_free(n);
        return -1;
    }
    *out = n;
    return 0;
}

/* STREAM-START [DOCUMENT-START node DOCUMENT-END] STREAM-END */
static int parse_stream(reader *r, s2s_yaml_node **root)
{
    yaml_event_t ev;
    *root = NULL;
    if (!yaml_parser_parse(&r->parser, &ev)) return parser_error(r);
    yaml_event_delete(&ev); /* STREAM-START */
    if (!yaml_parser_parse(&r->parser, &ev)) return parser_error(r);
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (!yaml_parser_parse(&r->parser, &ev)) return parser_error(r);
    if (parse_node(r, &ev, 0, root)) return -1;
    if (!yaml_parser_parse(&r->parser, &ev)) goto fail_parser;
    yaml_event_delete(&ev); /* DOCUMENT-END */
    if (!yaml_parser_parse(&r->parser, &ev)) goto fail_parser;
    if (ev.type != YAML_STREAM_END_EVENT) {
        fail_at(r, &ev.start_mark,
                "more than one YAML document ('---') is not supported");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    if (s2s_yaml_is_null(*root)) { /* "---" alone, "~", "null" */
        node_free(*root);
        *root = NULL;
    }
    return 0;
fail_parser:
    parser_error(r);
fail:
    node_free(*root);
    *root = NULL;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* API                                                                      */

int s2s_yaml_parse_string(s2s_yaml_doc *doc, const char *text, size_t len,
                          const char *name, s2s_err *err)
{
    reader r = { .name = name ? name : "<string>", .text = text, .len = len,
                 .err = err };
    doc->root = NULL;
    if (!yaml_parser_initialize(&r.parser))
        return s2s_fail(err, "%s: cannot initialise the YAML parser", r.name);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    int rc = parse_stream(&r, &doc->root);
    yaml_parser_delete(&r.parser);
    return rc;
}

int s2s_yaml_parse_file(s2s_yaml_doc *doc, const char *path, s2s_err *err)
{
    doc->root = NULL;
    size_t len;
    char *buf = s2s_read_file(path, S2S_YAML_MAX_FILE, &len, err);
    if (!buf)
        return -1;
    int rc = s2s_yaml_parse_string(doc, buf, len, path, err);
    free(buf);
    return rc;
}

void s2s_yaml_free(s2s_yaml_doc *doc)
{
    node_free(doc->root);
    doc->root = NULL;
}

const s2s_yaml_node *s2s_yaml_get(const s2s_yaml_node *map, const char *key)
{
    if (!map || map->kind != S2S_YAML_MAP) return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->len == klen && memcmp(map->keys[i]->str, key, klen) == 0)
            return map->items[i];
    return NULL;
}

int s2s_yaml_is_null(const s2s_yaml_node *node)
{
    if (!node || node->kind != S2S_YAML_SCALAR || node->quoted) return 0;
    const char *s = node->str;
    return node->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *s2s_yaml_kind_name(s2s_yaml_kind kind)
{
    switch (kind) {
    case S2S_YAML_SCALAR: return "a scalar";
    case S2S_YAML_MAP: return "a mapping";
    case S2S_YAML_SEQ: return "a sequence";
    }
    return "?";
}
