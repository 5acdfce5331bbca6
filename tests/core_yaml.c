/* tests/core_yaml.c — the generic YAML reader (core/yaml_doc): the tree and
 * its positions, and every way a document is refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/yaml_doc.h"

static s2s_yaml_doc doc;
static s2s_err err;

static int parse(const char *text)
{
    memset(&err, 0, sizeof err);
    return s2s_yaml_parse_string(&doc, text, strlen(text), "t.yaml", &err);
}

static void teardown(void) { s2s_yaml_free(&doc); }

TestSuite(yaml, .fini = teardown);

/* ------------------------------------------------------------------------ */
/* The tree                                                                 */

Test(yaml, nested_tree_with_positions)
{
    const char *text =
        "# a comment\n"
        "train:\n"
        "  batch: 64\n"
        "  lr: 1.0e-3\n"
        "model:\n"
        "  cell: [lstm, \"gru\"]\n"
        "  name: 'x y'\n";
    cr_assert_eq(parse(text), 0, "%s", err.msg);
    const s2s_yaml_node *root = doc.root;
    cr_assert_not_null(root);
    cr_assert_eq(root->kind, S2S_YAML_MAP);
    cr_assert_eq(root->n, 2);
    cr_assert_str_eq(root->keys[0]->str, "train");
    cr_assert_eq(root->keys[0]->line, 2);
    cr_assert_eq(root->keys[0]->col, 1);

    const s2s_yaml_node *train = s2s_yaml_get(root, "train");
    cr_assert_eq(train->kind, S2S_YAML_MAP);
    const s2s_yaml_node *batch = s2s_yaml_get(train, "batch");
    cr_assert_eq(batch->kind, S2S_YAML_SCALAR);
    cr_assert_str_eq(batch->str, "64");
    cr_assert_eq(batch->len, 2);
    cr_assert_eq(batch->line, 3);
    cr_assert_eq(batch->col, 10);
    cr_assert_eq(batch->quoted, 0);
    cr_assert_eq(train->keys[1]->line, 4);
    cr_assert_eq(train->keys[1]->col, 3);

    const s2s_yaml_node *cell = s2s_yaml_get(s2s_yaml_get(root, "model"), "cell");
    cr_assert_eq(cell->kind, S2S_YAML_SEQ);
    cr_assert_eq(cell->n, 2);
    cr_assert_null(cell->keys);
    cr_assert_str_eq(cell->items[0]->str, "lstm");
    cr_assert_eq(cell->items[0]->quoted, 0);
    cr_assert_str_eq(cell->items[1]->str, "gru");
    cr_assert_eq(cell->items[1]->quoted, 1);
    cr_assert_eq(cell->items[1]->line, 6);
    cr_assert_eq(cell->items[1]->col, 16);
    const s2s_yaml_node *name = s2s_yaml_get(s2s_yaml_get(root, "model"), "name");
    cr_assert_str_eq(name->str, "x y");
    cr_assert_eq(name->quoted, 1);
}

Test(yaml, get_misses_and_non_maps)
{
    cr_assert_eq(parse("a: 1\nb: [1]\n"), 0, "%s", err.msg);
    cr_assert_null(s2s_yaml_get(doc.root, "c"));
    cr_assert_null(s2s_yaml_get(doc.root, "a "));
    cr_assert_null(s2s_yaml_get(NULL, "a"));
    cr_assert_null(s2s_yaml_get(s2s_yaml_get(doc.root, "b"), "a"));
    cr_assert_null(s2s_yaml_get(s2s_yaml_get(doc.root, "a"), "a"));
}

Test(yaml, block_sequence_and_flow_mapping)
{
    cr_assert_eq(parse("- a\n- {k: v, n: 2}\n-\n"), 0, "%s", err.msg);
    const s2s_yaml_node *r = doc.root;
    cr_assert_eq(r->kind, S2S_YAML_SEQ);
    cr_assert_eq(r->n, 3);
    cr_assert_eq(r->items[1]->kind, S2S_YAML_MAP);
    cr_assert_str_eq(s2s_yaml_get(r->items[1], "n")->str, "2");
    cr_assert_eq(r->items[1]->line, 2);
    cr_assert_eq(r->items[1]->col, 3);
    cr_assert(s2s_yaml_is_null(r->items[2]));
}

Test(yaml, nulls)
{
    cr_assert_eq(parse("a:\nb: ~\nc: null\nd: NULL\ne: ''\nf: \"~\"\ng: nul\n"),
                 0, "%s", err.msg);
    const s2s_yaml_node *r = doc.root;
    cr_assert(s2s_yaml_is_null(s2s_yaml_get(r, "a")));
    cr_assert(s2s_yaml_is_null(s2s_yaml_get(r, "b")));
    cr_assert(s2s_yaml_is_null(s2s_yaml_get(r, "c")));
    cr_assert(s2s_yaml_is_null(s2s_yaml_get(r, "d")));
    cr_assert_not(s2s_yaml_is_null(s2s_yaml_get(r, "e"))); /* quoted: a string */
    cr_assert_not(s2s_yaml_is_null(s2s_yaml_get(r, "f")));
    cr_assert_not(s2s_yaml_is_null(s2s_yaml_get(r, "g")));
    cr_assert_not(s2s_yaml_is_null(NULL));
    cr_assert_not(s2s_yaml_is_null(r));
}

Test(yaml, escapes_and_nul_byte)
{
    cr_assert_eq(parse("a: \"x\\0y\\n\\u00e9\"\n"), 0, "%s", err.msg);
    const s2s_yaml_node *a = s2s_yaml_get(doc.root, "a");
    cr_assert_eq(a->len, 6); /* x NUL y LF 0xC3 0xA9 */
    cr_assert_eq(memcmp(a->str, "x\0y\n\xc3\xa9", 7), 0);
    cr_assert_eq(strlen(a->str), 1);
}

Test(yaml, empty_documents_give_null_root)
{
    const char *empty[] = { "", "# only a comment\n\n", "---\n", "~\n",
                            "---\n...\n", "\n\n   \n" };
    for (size_t i = 0; i < sizeof empty / sizeof *empty; i++) {
        doc.root = (s2s_yaml_node *)&err; /* must be overwritten */
        cr_assert_eq(parse(empty[i]), 0, "[%s]: %s", empty[i], err.msg);
        cr_assert_null(doc.root, "[%s]", empty[i]);
    }
}

Test(yaml, single_explicit_document)
{
    cr_assert_eq(parse("---\na: 1\n...\n"), 0, "%s", err.msg);
    cr_assert_str_eq(s2s_yaml_get(doc.root, "a")->str, "1");
    cr_assert_eq(doc.root->keys[0]->line, 2);
}

/* ------------------------------------------------------------------------ */
/* Refusals                                                                 */

static void assert_fails(const char *text, const char *msg)
{
    doc.root = (s2s_yaml_node *)&err; /* must be reset to NULL */
    cr_assert_eq(parse(text), -1, "[%s] parsed", text);
    cr_assert_null(doc.root);
    cr_assert_str_eq(err.msg, msg, "got: %s", err.msg);
}

Test(yaml, syntax_errors_name_line_and_column)
{
    assert_fails("a: 1\nb: [1, 2\nc: 3\n",
                 "t.yaml:3:2: did not find expected ',' or ']' "
                 "(while parsing a flow sequence at line 2)");
    assert_fails("a: 1\n b: 2\n",
                 "t.yaml:2:3: mapping values are not allowed in this context");
    assert_fails("a: 1\nb\nc: 2\n",
                 "t.yaml:3:1: could not find expected ':' "
                 "(while scanning a simple key at line 2)");
    assert_fails("a: \"unterminated\n",
                 "t.yaml:2:1: found unexpected end of stream "
                 "(while scanning a quoted scalar at line 1)");
    assert_fails("a:\n\tb: 1\n",
                 "t.yaml:2:1: found character that cannot start any token "
                 "(while scanning for the next token at line 2)");
}

Test(yaml, invalid_utf8_names_line_and_byte)
{
    assert_fails("a: 1\nb: \xff\n",
                 "t.yaml:2:4: invalid leading UTF-8 octet (byte 8, value 0xFF)");
}

Test(yaml, invalid_utf8_column_counts_characters)
{
    assert_fails("a: 1\nb: \xc3\xa9\xc3\xa9\xff\n",
                 "t.yaml:2:6: invalid leading UTF-8 octet (byte 12, value 0xFF)");
    assert_fails("a: \xc3\n",
                 "t.yaml:1:5: invalid trailing UTF-8 octet (byte 4, value 0xA)");
    assert_fails("a: \xc3",
                 "t.yaml:1:4: incomplete UTF-8 octet sequence (byte 3)");
}

Test(yaml, control_characters_refused)
{
    assert_fails("a: 1\nb: x\x01y\n",
                 "t.yaml:2:5: control characters are not allowed (byte 9, value 0x1)");
    /* a NUL byte inside the given length is a control character too */
    const char text[] = "a: x\0y\n";
    doc.root = NULL;
    cr_assert_eq(s2s_yaml_parse_string(&doc, text, sizeof text - 1, "t.yaml",
                                       &err), -1);
    cr_assert_str_eq(err.msg, "t.yaml:1:5: control characters are not allowed "
                              "(byte 4, value 0x0)");
}

Test(yaml, duplicate_keys)
{
    assert_fails("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a' (first at line 1)");
    assert_fails("x:\n  k: 1\n  k: 2\n", "t.yaml:3:3: duplicate key 'k' (first at line 2)");
    /* quoting does not make a key different */
    assert_fails("k: 1\n\"k\": 2\n", "t.yaml:2:1: duplicate key 'k' (first at line 1)");
    /* the same key in different mappings is fine */
    cr_assert_eq(parse("a: {k: 1}\nb: {k: 2}\n"), 0, "%s", err.msg);
}

Test(yaml, duplicate_key_in_a_large_mapping_is_the_first_in_order)
{
    /* 300 keys; "k250" repeats at the end, "k7" repeats earlier: k7 wins. */
    size_t cap = 16384, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(text + len, cap - len, "k%d: %d\n", i, i);
    len += (size_t)snprintf(text + len, cap - len, "z: 1\nk7: 2\nk250: 3\n");
    assert_fails(text, "t.yaml:302:1: duplicate key 'k7' (first at line 8)");
    free(text);
}

Test(yaml, non_scalar_keys_refused)
{
    assert_fails("? [a, b]\n: 1\n", "t.yaml:1:3: mapping keys must be scalars");
    assert_fails("{a: 1}: 2\n", "t.yaml:1:1: mapping keys must be scalars");
}

Test(yaml, anchors_aliases_tags_refused)
{
    assert_fails("a: &x 1\nb: 2\n", "t.yaml:1:4: anchors ('&x') are not supported");
    assert_fails("a: 1\nb: *x\n", "t.yaml:2:4: aliases ('*x') are not supported");
    assert_fails("a: &m {k: 1}\n", "t.yaml:1:4: anchors ('&m') are not supported");
    assert_fails("a: !!int 1\n", "t.yaml:1:4: tags ('!!int') are not supported");
    assert_fails("a: !custom [1]\n", "t.yaml:1:4: tags ('!custom') are not supported");
}

Test(yaml, multiple_documents_refused)
{
    assert_fails("a: 1\n---\nb: 2\n",
                 "t.yaml:2:1: more than one YAML document ('---') is not supported");
}

Test(yaml, deep_nesting_refused)
{
    char text[300];
    memset(text, '[', 200);
    text[200] = '\0';
    assert_fails(text, "t.yaml:1:65: nesting deeper than 64 levels");
    /* 64 levels are fine */
    char ok[140];
    memset(ok, '[', 64);
    memset(ok + 64, ']', 64);
    ok[128] = '\0';
    cr_assert_eq(parse(ok), 0, "%s", err.msg);
    const s2s_yaml_node *n = doc.root;
    int depth = 1;
    while (n->n) { n = n->items[0]; depth++; }
    cr_assert_eq(depth, 64);
}

Test(yaml, name_defaults_in_messages)
{
    memset(&err, 0, sizeof err);
    cr_assert_eq(s2s_yaml_parse_string(&doc, "a: [", 4, NULL, &err), -1);
    cr_assert(strncmp(err.msg, "<string>:", 9) == 0, "%s", err.msg);
    /* a NULL err is allowed */
    cr_assert_eq(s2s_yaml_parse_string(&doc, "a: [", 4, "x", NULL), -1);
}

Test(yaml, kind_names)
{
    cr_assert_str_eq(s2s_yaml_kind_name(S2S_YAML_SCALAR), "a scalar");
    cr_assert_str_eq(s2s_yaml_kind_name(S2S_YAML_MAP), "a mapping");
    cr_assert_str_eq(s2s_yaml_kind_name(S2S_YAML_SEQ), "a sequence");
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/s2s_yaml_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    s2s_yaml_free(&doc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", tmpdir);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

Test(yaml_file, reads_a_file_and_names_it_in_errors, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/run.yaml", tmpdir);
    write_file(path, "a:\n  b: [1, 2]\n", 15);
    cr_assert_eq(s2s_yaml_parse_file(&doc, path, &err), 0, "%s", err.msg);
    cr_assert_str_eq(s2s_yaml_get(doc.root, "a")->items[0]->items[1]->str, "2");
    s2s_yaml_free(&doc);

    write_file(path, "a: 1\na: 2\n", 10);
    cr_assert_eq(s2s_yaml_parse_file(&doc, path, &err), -1);
    snprintf(want, sizeof want, "%s:2:1: duplicate key 'a' (first at line 1)", path);
    cr_assert_str_eq(err.msg, want);
}

Test(yaml_file, larger_than_a_buffer, .init = make_tmpdir, .fini = remove_tmpdir)
{
    /* 20000 keys (~200 KB): exercises the read loop's growth */
    char path[128];
    snprintf(path, sizeof path, "%s/big.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 20000; i++) fprintf(f, "key_%05d: value_%d\n", i, i);
    fclose(f);
    cr_assert_eq(s2s_yaml_parse_file(&doc, path, &err), 0, "%s", err.msg);
    cr_assert_eq(doc.root->n, 20000);
    cr_assert_str_eq(s2s_yaml_get(doc.root, "key_19999")->str, "value_19999");
    cr_assert_eq(doc.root->keys[19999]->line, 20000);
}

Test(yaml_file, missing_file_and_directory, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/none.yaml", tmpdir);
    cr_assert_eq(s2s_yaml_parse_file(&doc, path, &err), -1);
    snprintf(want, sizeof want, "%s: cannot open: %s", path, strerror(ENOENT));
    cr_assert_str_eq(err.msg, want);
    cr_assert_null(doc.root);

    cr_assert_eq(s2s_yaml_parse_file(&doc, tmpdir, &err), -1);
    snprintf(want, sizeof want, "%s: read error: %s", tmpdir, strerror(EISDIR));
    cr_assert_str_eq(err.msg, want);
}

Test(yaml_file, empty_file_is_an_empty_document, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/empty.yaml", tmpdir);
    write_file(path, "", 0);
    cr_assert_eq(s2s_yaml_parse_file(&doc, path, &err), 0, "%s", err.msg);
    cr_assert_null(doc.root);
}
