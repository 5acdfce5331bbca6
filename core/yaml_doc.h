/* core/yaml_doc.h — a small generic YAML reader.
 *
 * Parses one YAML document (libyaml) into a tree of mappings, sequences and
 * scalars, each node carrying its 1-based line and column, so that callers
 * can validate values and name the place of every mistake. It knows nothing
 * of what the keys mean.
 *
 * Refused, each with "NAME:LINE:COL: what": syntax errors (libyaml's problem
 * text), duplicate keys in a mapping, non-scalar keys, anchors and aliases,
 * tags, more than one document, nesting deeper than S2S_YAML_MAX_DEPTH,
 * files larger than S2S_YAML_MAX_FILE.
 * An empty document (nothing, only comments, or a lone null such as "~")
 * gives a NULL root.
 */
#ifndef S2S_YAML_DOC_H
#define S2S_YAML_DOC_H

#include <stddef.h>

#include "core/error.h"

#define S2S_YAML_MAX_DEPTH 64
#define S2S_YAML_MAX_FILE (16u << 20) /* bytes read from a file at most */

typedef enum s2s_yaml_kind {
    S2S_YAML_SCALAR,
    S2S_YAML_MAP,
    S2S_YAML_SEQ,
} s2s_yaml_kind;

typedef struct s2s_yaml_node s2s_yaml_node;
struct s2s_yaml_node {
    s2s_yaml_kind kind;
    int line, col;      /* 1-based, where the node starts */
    /* Scalar: len bytes plus a terminating NUL; strlen(str) < len only
     * when the scalar holds a "\0" escape. */
    char *str;
    size_t len;
    int quoted;         /* scalar was written '...' or "..." (or | >) */
    /* Mapping: n pairs keys[i] -> items[i]; keys are scalars.
     * Sequence: n items. */
    size_t n;
    s2s_yaml_node **keys;
    s2s_yaml_node **items;
};

typedef struct s2s_yaml_doc {
    s2s_yaml_node *root; /* NULL for an empty document */
} s2s_yaml_doc;

/* Parses `len` bytes of `text`; `name` stands for the file in messages.
 * On error returns -1 with one line in err, and doc->root is NULL. */
int s2s_yaml_parse_string(s2s_yaml_doc *doc, const char *text, size_t len,
                          const char *name, s2s_err *err);

/* Reads and parses the file at `path`; a file that cannot be read fails
 * with "PATH: strerror". */
int s2s_yaml_parse_file(s2s_yaml_doc *doc, const char *path, s2s_err *err);

void s2s_yaml_free(s2s_yaml_doc *doc);

/* The value under `key` in mapping `map`, or NULL (also when map is NULL
 * or not a mapping). */
const s2s_yaml_node *s2s_yaml_get(const s2s_yaml_node *map, const char *key);

/* True for a plain scalar that YAML reads as null: empty, "~", "null",
 * "Null", "NULL". */
int s2s_yaml_is_null(const s2s_yaml_node *node);

/* "a scalar", "a mapping", "a sequence" — for messages. */
const char *s2s_yaml_kind_name(s2s_yaml_kind kind);

#endif
