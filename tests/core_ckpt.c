/* tests/core_ckpt.c — the checkpoint container: CRC-32 against known values
 * and a bitwise reference, the byte layout against a file built by hand,
 * round trips, every truncation and every flipped byte rejected cleanly,
 * hostile lengths, atomic replacement, a full disk (RLIMIT_FSIZE), and the
 * byte buffer / cursor helpers.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ckpt.h"

/* ------------------------------------------------------------------------
 * Helpers: an independent bitwise CRC and a hand-built file encoder, so the
 * reader is checked against the documented layout, not against the writer.
 * ------------------------------------------------------------------------ */

static uint32_t ref_crc(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

typedef struct {
    unsigned char b[4096];
    size_t n;
} raw;

static void raw_bytes(raw *r, const void *p, size_t n)
{
    cr_assert(r->n + n <= sizeof r->b);
    memcpy(r->b + r->n, p, n);
    r->n += n;
}

static void raw_u32(raw *r, uint32_t v)
{
    unsigned char p[4] = {v, v >> 8, v >> 16, v >> 24};
    raw_bytes(r, p, 4);
}

static void raw_u64(raw *r, uint64_t v)
{
    raw_u32(r, (uint32_t)v);
    raw_u32(r, (uint32_t)(v >> 32));
}

static void raw_header(raw *r, uint32_t version, uint32_t count)
{
    r->n = 0;
    raw_bytes(r, "S2SCKPT\0", 8);
    raw_u32(r, version);
    raw_u32(r, count);
    raw_u32(r, 0);
    raw_u32(r, ref_crc(0, r->b, 20));
}

/* A section with a given declared length; `data` holds min(len, n) bytes
 * actually written. The CRC covers tag, length and the written data. */
static void raw_section(raw *r, const char *tag, uint64_t len,
                        const void *data, size_t n)
{
    unsigned char h[16] = {0};
    memcpy(h, tag, strlen(tag));
    for (int i = 0; i < 8; i++)
        h[8 + i] = (unsigned char)(len >> (8 * i));
    raw_bytes(r, h, 16);
    raw_u32(r, ref_crc(ref_crc(0, h, 16), data, n));
    raw_u32(r, 0);
    raw_bytes(r, data, n);
    static const unsigned char z[8];
    raw_bytes(r, z, (8 - n % 8) % 8);
}

static void raw_trailer(raw *r)
{
    raw_bytes(r, "S2SCKEND", 8);
    raw_u64(r, r->n + 8);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/s2s_ckpt_XXXXXX",
             base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

/* Runs after the test, passed or failed. */
static void remove_tmpdir(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (tmpdir[0] && system(cmd) != 0)
        cr_log_warn("could not remove %s", tmpdir);
}

/* Tests that write files get a fresh directory, removed afterwards. */
#define WITH_TMPDIR .init = make_tmpdir, .fini = remove_tmpdir

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz ? (size_t)sz : 1);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Opening `b` must fail with a one-line message naming `name`. */
static void expect_reject(const void *b, size_t n, const char *name,
                          const char *want)
{
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open_mem(&c, b, n, name, &e), -1,
                 "%s accepted (%zu bytes)", name, n);
    cr_assert(strncmp(e.msg, name, strlen(name)) == 0, "message: %s", e.msg);
    cr_assert_null(strchr(e.msg, '\n'));
    if (want)
        cr_assert(strstr(e.msg, want), "message '%s' lacks '%s'", e.msg, want);
    cr_assert_null(c.data);
    cr_assert_eq(c.n_sections, 0);
    s2s_ckpt_close(&c); /* harmless after a failed open */
}

/* ------------------------------------------------------------------------
 * CRC-32
 * ------------------------------------------------------------------------ */

Test(ckpt, crc32_known_values)
{
    /* The standard check value of CRC-32/ISO-HDLC (zlib's crc32). */
    cr_assert_eq(s2s_crc32(0, "123456789", 9), 0xCBF43926u);
    cr_assert_eq(s2s_crc32(0, "", 0), 0u);
    cr_assert_eq(s2s_crc32(0, "a", 1), 0xE8B7BE43u);
    cr_assert_eq(s2s_crc32(0, "The quick brown fox jumps over the lazy dog",
                           43), 0x414FA339u);
    /* Chaining equals one call. */
    cr_assert_eq(s2s_crc32(s2s_crc32(0, "12345", 5), "6789", 4), 0xCBF43926u);
}

Test(ckpt, crc32_matches_bitwise_reference)
{
    /* Every length 0..200 at every alignment 0..7 exercises the 8-byte
     * loop, its tail, and unaligned starts. */
    unsigned char buf[256];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    for (size_t a = 0; a < 8; a++)
        for (size_t n = 0; a + n <= 208; n++)
            cr_assert_eq(s2s_crc32(7, buf + a, n), ref_crc(7, buf + a, n),
                         "align %zu len %zu", a, n);
}

/* ------------------------------------------------------------------------
 * Layout and round trip
 * ------------------------------------------------------------------------ */

Test(ckpt, layout_matches_the_documented_format, WITH_TMPDIR)
{
    char path[512];
    path_in(path, sizeof path, "one.ckpt");
    s2s_err e = {{0}};
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
    cr_assert_not_null(w, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(w, "ab", "xyz", 3, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(w, "12345678", "01234567", 8, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_commit(w, &e), 0, "%s", e.msg);

    raw r;
    raw_header(&r, 1, 2);
    raw_section(&r, "ab", 3, "xyz", 3);
    raw_section(&r, "12345678", 8, "01234567", 8);
    raw_trailer(&r);
    /* 24 header + (24 + 3 + 5 pad) + (24 + 8) + 16 trailer */
    cr_assert_eq(r.n, 104);

    size_t n;
    unsigned char *b = slurp(path, &n);
    cr_assert_eq(n, r.n);
    cr_assert(memcmp(b, r.b, n) == 0, "written bytes differ from the spec");
    free(b);
}

Test(ckpt, reads_a_file_built_by_hand)
{
    raw r;
    float f[3] = {1.5f, -2.0f, 0.25f};
    unsigned char fl[12];
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f[i], 4);
        for (int k = 0; k < 4; k++)
            fl[4 * i + k] = (unsigned char)(u >> (8 * k));
    }
    raw_header(&r, 1, 3);
    raw_section(&r, "empty", 0, "", 0);
    raw_section(&r, "w", 12, fl, 12);
    raw_section(&r, "txt", 5, "hello", 5);
    raw_trailer(&r);

    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open_mem(&c, r.b, r.n, "hand", &e), 0, "%s", e.msg);
    cr_assert_eq(c.version, 1);
    cr_assert_eq(c.n_sections, 3);
    size_t len = 99;
    cr_assert_not_null(s2s_ckpt_get(&c, "empty", &len));
    cr_assert_eq(len, 0);
    const char *t = s2s_ckpt_get(&c, "txt", &len);
    cr_assert_eq(len, 5);
    cr_assert(memcmp(t, "hello", 5) == 0);
    float g[3];
    cr_assert_eq(s2s_ckpt_get_f32(&c, "w", g, 3, &e), 0, "%s", e.msg);
    cr_assert(memcmp(f, g, sizeof f) == 0);
    /* Wrong count, missing section: errors naming the file and section. */
    cr_assert_eq(s2s_ckpt_get_f32(&c, "w", g, 2, &e), -1);
    cr_assert(strstr(e.msg, "hand: section 'w' holds 12 bytes"), "%s", e.msg);
    cr_assert_eq(s2s_ckpt_get_f32(&c, "txt", g, 1, &e), -1);
    cr_assert_null(s2s_ckpt_get(&c, "nope", &len));
    cr_assert_eq(len, 0);
    cr_assert_null(s2s_ckpt_require(&c, "nope", NULL, &e));
    cr_assert_str_eq(e.msg, "hand: no section 'nope' in this checkpoint");
    s2s_ckpt_close(&c);
}

Test(ckpt, round_trip_with_a_large_float_array, WITH_TMPDIR)
{
    char path[512];
    path_in(path, sizeof path, "model.ckpt");

    size_t nf = 300001; /* odd: 4*nf is not a multiple of 8 */
    float *w = malloc(nf * sizeof *w);
    for (size_t i = 0; i < nf; i++)
        w[i] = (float)sin((double)i) * 1e-3f * (float)(i % 97);
    w[5] = -0.0f;
    w[6] = INFINITY;
    const char *cfg = "model:\n  embed: 256\n";

    s2s_buf vocab;
    s2s_buf_init(&vocab);
    s2s_buf_put_u32(&vocab, 3);
    s2s_buf_put_str(&vocab, "<pad>");
    s2s_buf_put_str(&vocab, "été");
    s2s_buf_put_str(&vocab, "");

    s2s_err e = {{0}};
    s2s_ckpt_writer *wr = s2s_ckpt_create(path, &e);
    cr_assert_not_null(wr, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(wr, "config", cfg, strlen(cfg), &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(wr, "vocab_sr", vocab.data, vocab.len, &e), 0);
    cr_assert_eq(s2s_ckpt_add_f32(wr, "params", w, nf, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(wr, "empty", NULL, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add_f32(wr, "tail", w, 2, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_commit(wr, &e), 0, "%s", e.msg);

    s2s_ckpt c;
    cr_assert_eq(s2s_ckpt_open(&c, path, &e), 0, "%s", e.msg);
    cr_assert_eq(c.n_sections, 5);
    const char *order[] = {"config", "vocab_sr", "params", "empty", "tail"};
    for (int i = 0; i < 5; i++) {
        cr_assert_str_eq(c.sections[i].tag, order[i]);
        cr_assert_eq(c.sections[i].off % 8, 0, "payload alignment");
    }
    /* Every section costs 24 + payload rounded up to 8. */
    size_t vlen = vocab.len, plen = nf * 4;
    size_t expect = 24 + (24 + ((strlen(cfg) + 7) & ~7ul)) + (24 + ((vlen + 7) & ~7ul)) +
                    (24 + ((plen + 7) & ~7ul)) + 24 + (24 + 8) + 16;
    cr_assert_eq(c.size, expect);

    size_t len;
    const char *p = s2s_ckpt_get(&c, "config", &len);
    cr_assert_eq(len, strlen(cfg));
    cr_assert(memcmp(p, cfg, len) == 0);

    float *back = malloc(nf * sizeof *back);
    cr_assert_eq(s2s_ckpt_get_f32(&c, "params", back, nf, &e), 0, "%s", e.msg);
    cr_assert(memcmp(back, w, nf * sizeof *w) == 0, "params differ");

    s2s_cur cur;
    cr_assert_eq(s2s_ckpt_cursor(&c, "vocab_sr", &cur, &e), 0);
    uint32_t count;
    char tok[16];
    cr_assert_eq(s2s_cur_u32(&cur, &count, &e), 0);
    cr_assert_eq(count, 3);
    cr_assert_eq(s2s_cur_str(&cur, tok, sizeof tok, &e), 0);
    cr_assert_str_eq(tok, "<pad>");
    cr_assert_eq(s2s_cur_str(&cur, tok, sizeof tok, &e), 0);
    cr_assert_str_eq(tok, "été");
    cr_assert_eq(s2s_cur_str(&cur, tok, sizeof tok, &e), 0);
    cr_assert_str_eq(tok, "");
    cr_assert_eq(s2s_cur_end(&cur, &e), 0);
    /* Reading past the end names the file and the section. */
    cr_assert_eq(s2s_cur_u32(&cur, &count, &e), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: section 'vocab_sr': truncated at byte %zu",
             path, vlen);
    cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_cursor(&c, "absent", &cur, &e), -1);

    s2s_ckpt_close(&c);
    s2s_ckpt_close(&c); /* twice is harmless */
    s2s_buf_free(&vocab);
    free(w);
    free(back);
}

/* ------------------------------------------------------------------------
 * Damaged and hostile files
 * ------------------------------------------------------------------------ */

/* A small file with sections whose lengths cover every padding case. */
static void small_file(raw *r)
{
    raw_header(r, 1, 4);
    raw_section(r, "config", 5, "a: 1\n", 5);
    raw_section(r, "vocab_sr", 8, "abcdefgh", 8);
    raw_section(r, "z", 0, "", 0);
    raw_section(r, "params", 13, "0123456789abc", 13);
    raw_trailer(r);
}

Test(ckpt, every_truncation_is_rejected, WITH_TMPDIR)
{
    raw r;
    small_file(&r);
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open_mem(&c, r.b, r.n, "small", &e), 0, "%s", e.msg);
    s2s_ckpt_close(&c);

    char path[512], want[64];
    path_in(path, sizeof path, "cut.ckpt");
    for (size_t n = 0; n < r.n; n++) {
        snprintf(want, sizeof want, "truncated at byte %zu ", n);
        expect_reject(r.b, n, "small", want);
        /* The same through a real file. */
        spit(path, r.b, n);
        cr_assert_eq(s2s_ckpt_open(&c, path, &e), -1, "prefix %zu accepted", n);
        cr_assert(strncmp(e.msg, path, strlen(path)) == 0, "%s", e.msg);
        cr_assert(strstr(e.msg, want), "prefix %zu: %s", n, e.msg);
        s2s_ckpt_close(&c);
    }
    /* A message in the words a user needs. */
    expect_reject(r.b, 24 + 24 + 8 + 24 + 8 + 24 + 24 + 5, "small",
                  "truncated at byte 141 (section 'params' at byte 112 wants "
                  "13 bytes, 5 are left)");
}

Test(ckpt, every_flipped_byte_is_detected)
{
    raw r;
    small_file(&r);
    const unsigned char masks[] = {0x01, 0x10, 0x80, 0xFF};
    for (size_t i = 0; i < r.n; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            raw d = r;
            d.b[i] ^= masks[m];
            expect_reject(d.b, d.n, "flip", NULL);
        }
    /* Payload damage names the section. */
    raw d = r;
    d.b[24 + 24 + 8 + 24 + 3] ^= 1;
    expect_reject(d.b, d.n, "flip", "checksum mismatch in section 'vocab_sr'");
    d = r;
    d.b[0] = 'X';
    expect_reject(d.b, d.n, "flip", "not an s2s checkpoint (bad magic)");
    d = r;
    d.b[13] ^= 1;
    expect_reject(d.b, d.n, "flip", "header checksum mismatch");
}

Test(ckpt, absurd_lengths_are_rejected_without_allocating)
{
    /* A declared length of 2^63 with valid checksums everywhere else:
     * it must be compared with the bytes left before anything else. An
     * attempt to allocate or read it would abort or crash under ASan. */
    const char payload[8] = "12345678";
    uint64_t lens[] = {1ull << 63, UINT64_MAX, UINT64_MAX - 3, 1ull << 32, 25};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        raw r;
        raw_header(&r, 1, 1);
        raw_section(&r, "params", lens[i], payload, 8);
        raw_trailer(&r);
        char want[128];
        snprintf(want, sizeof want, "(section 'params' at byte 24 wants %llu "
                 "bytes", (unsigned long long)lens[i]);
        expect_reject(r.b, r.n, "huge", want);
    }
    /* A length that fits but whose padding does not. */
    raw r;
    raw_header(&r, 1, 1);
    raw_section(&r, "p", 21, "0123456789abcdefghijk", 21); /* + 3 pad */
    raw_trailer(&r);
    raw cut = r;
    cut.n = 24 + 24 + 21 + 1; /* trailer gone, 2 pad bytes missing */
    expect_reject(cut.b, cut.n, "pad", "truncated at byte 70");
    /* Section counts that cannot fit in the file. */
    uint32_t counts[] = {UINT32_MAX, 1u << 31, 2};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        raw h;
        raw_header(&h, 1, counts[i]);
        raw_section(&h, "a", 1, "x", 1);
        raw_trailer(&h);
        char want[128];
        snprintf(want, sizeof want, "header announces %u sections", counts[i]);
        expect_reject(h.b, h.n, "count", want);
    }
}

Test(ckpt, wrong_magic_and_future_version)
{
    expect_reject("", 0, "empty", "empty: truncated at byte 0 (header wants 24 bytes)");
    expect_reject("PK\3\4 this is a zip file, not a checkpoint", 40, "zip",
                  "zip: not an s2s checkpoint (bad magic)");
    expect_reject("S2SCKP", 6, "short", "truncated at byte 6");
    expect_reject("S2SCKPX", 7, "short", "not an s2s checkpoint (bad magic)");

    raw r;
    raw_header(&r, 2, 0);
    raw_trailer(&r);
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open_mem(&c, r.b, r.n, "new.ckpt", &e), -1);
    cr_assert_str_eq(e.msg, "new.ckpt: checkpoint format version 2, this s2s reads 1");
    /* Even a future header this s2s cannot check says which version. */
    raw_header(&r, 7, 0);
    r.b[20] ^= 0xFF;
    expect_reject(r.b, 12, "v7", "v7: checkpoint format version 7, this s2s reads 1");
    raw_header(&r, 0, 0);
    raw_trailer(&r);
    expect_reject(r.b, r.n, "v0", "bad checkpoint format version 0");
}

Test(ckpt, other_structural_damage)
{
    raw r;
    /* Duplicate tags (the writer refuses them; a hand-made file may not). */
    raw_header(&r, 1, 3);
    raw_section(&r, "a", 1, "x", 1);
    raw_section(&r, "b", 1, "y", 1);
    raw_section(&r, "a", 1, "z", 1);
    raw_trailer(&r);
    expect_reject(r.b, r.n, "dup", "duplicate section 'a' at byte 88");
    /* Junk after the trailer. */
    raw_header(&r, 1, 1);
    raw_section(&r, "a", 1, "x", 1);
    raw_trailer(&r);
    raw_bytes(&r, "junk", 4);
    expect_reject(r.b, r.n, "junk", "4 unexpected bytes after the trailer");
    /* Nonzero padding: outside every checksum, so checked on its own. */
    raw_header(&r, 1, 1);
    raw_section(&r, "a", 1, "x", 1);
    r.b[24 + 24 + 1 + 2] = 7;
    raw_trailer(&r);
    expect_reject(r.b, r.n, "pad", "nonzero padding after section 'a' at byte 51");
    /* A tag that is not NUL-padded ASCII. */
    raw_header(&r, 1, 1);
    raw_section(&r, "a\tb", 1, "x", 1);
    raw_trailer(&r);
    expect_reject(r.b, r.n, "tag", "bad tag in section #0 at byte 24");
    raw_header(&r, 1, 1);
    raw_section(&r, "", 1, "x", 1);
    raw_trailer(&r);
    expect_reject(r.b, r.n, "tag", "bad tag in section #0");
    /* A file whose trailer length is wrong. */
    raw_header(&r, 1, 0);
    raw_bytes(&r, "S2SCKEND", 8);
    raw_u64(&r, 41);
    expect_reject(r.b, r.n, "len", "trailer at byte 24 says the file has 41 bytes, it has 40");
    /* The smallest valid file: no sections. */
    raw_header(&r, 1, 0);
    raw_trailer(&r);
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open_mem(&c, r.b, r.n, "none", &e), 0, "%s", e.msg);
    cr_assert_eq(c.n_sections, 0);
    cr_assert_null(s2s_ckpt_get(&c, "a", NULL));
    s2s_ckpt_close(&c);
}

Test(ckpt, open_errors_name_the_file)
{
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open(&c, "/nonexistent/dir/x.ckpt", &e), -1);
    cr_assert_str_eq(e.msg, "/nonexistent/dir/x.ckpt: cannot open checkpoint: "
                            "No such file or directory");
    cr_assert_eq(s2s_ckpt_open(&c, "/tmp", &e), -1);
    cr_assert_str_eq(e.msg, "/tmp: not a regular file");
}

/* ------------------------------------------------------------------------
 * Writer: errors, atomic replacement, full disk
 * ------------------------------------------------------------------------ */

Test(ckpt, writer_errors, WITH_TMPDIR)
{
    s2s_err e = {{0}};
    cr_assert_null(s2s_ckpt_create("/nonexistent/dir/x.ckpt", &e));
    cr_assert(strstr(e.msg, "/nonexistent/dir/x.ckpt: cannot create temp file "
                            "/nonexistent/dir/x.ckpt.tmp."), "%s", e.msg);
    cr_assert(strstr(e.msg, ": No such file or directory"), "%s", e.msg);
    cr_assert_null(s2s_ckpt_create("", &e));

    char path[512];
    path_in(path, sizeof path, "w.ckpt");
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
    cr_assert_not_null(w, "%s", e.msg);
    const char *bad[] = {"", "ninechars", "a b", "t\xc3\xa9", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(s2s_ckpt_add(w, bad[i], "x", 1, &e), -1, "tag %zu", i);
        cr_assert(strstr(e.msg, "bad section tag"), "%s", e.msg);
    }
    cr_assert_eq(s2s_ckpt_add(w, NULL, "x", 1, &e), -1);
    cr_assert_eq(s2s_ckpt_add(w, "ok", NULL, 3, &e), -1);
    cr_assert_eq(s2s_ckpt_add(w, "ok", "x", 1, &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(w, "ok", "y", 1, &e), -1);
    char want[600];
    snprintf(want, sizeof want, "%s: duplicate section 'ok'", path);
    cr_assert_str_eq(e.msg, want);
    /* The refused adds left the file consistent. */
    cr_assert_eq(s2s_ckpt_commit(w, &e), 0, "%s", e.msg);
    s2s_ckpt c;
    cr_assert_eq(s2s_ckpt_open(&c, path, &e), 0, "%s", e.msg);
    cr_assert_eq(c.n_sections, 1);
    s2s_ckpt_close(&c);
    cr_assert_eq(s2s_ckpt_commit(NULL, &e), -1);
    s2s_ckpt_abort(NULL);
}

static void write_ckpt(const char *path, const char *text)
{
    s2s_err e = {{0}};
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
    cr_assert_not_null(w, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(w, "text", text, strlen(text), &e), 0, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_commit(w, &e), 0, "%s", e.msg);
}

Test(ckpt, abort_and_commit_replace_atomically, WITH_TMPDIR)
{
    char path[512], tmp[600];
    path_in(path, sizeof path, "run.ckpt");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    write_ckpt(path, "old");
    size_t n0, n1;
    unsigned char *before = slurp(path, &n0);

    /* While a writer is open, the old file is untouched and the new bytes
     * go to PATH.tmp.PID; abort removes them. */
    s2s_err e = {{0}};
    s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
    cr_assert_not_null(w, "%s", e.msg);
    cr_assert_eq(s2s_ckpt_add(w, "text", "new", 3, &e), 0);
    cr_assert(exists(tmp), "no temp file %s", tmp);
    unsigned char *during = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, during, n0) == 0);
    free(during);
    s2s_ckpt_abort(w);
    cr_assert(!exists(tmp), "temp file left behind");
    unsigned char *after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "old checkpoint changed");
    free(after);

    /* Commit replaces it whole. */
    write_ckpt(path, "newer");
    cr_assert(!exists(tmp));
    s2s_ckpt c;
    cr_assert_eq(s2s_ckpt_open(&c, path, &e), 0, "%s", e.msg);
    size_t len;
    const char *t = s2s_ckpt_get(&c, "text", &len);
    cr_assert(len == 5 && memcmp(t, "newer", 5) == 0);
    s2s_ckpt_close(&c);
    free(before);
}

/* In a child with RLIMIT_FSIZE = limit (and SIGXFSZ ignored, so writes
 * past it fail with EFBIG, as on a full disk), writes a checkpoint with
 * one `payload`-byte section. Returns the child's commit status and its
 * message in msg; *tmp_pid gets the child's pid (its temp file name). */
static int write_limited(const char *path, rlim_t limit, size_t payload,
                         int *add_rc, char *msg, size_t cap, pid_t *tmp_pid)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(3);
        unsigned char *data = calloc(payload, 1);
        s2s_err e = {{0}};
        int rc = -1, arc = 0;
        s2s_ckpt_writer *w = s2s_ckpt_create(path, &e);
        if (w) {
            arc = s2s_ckpt_add(w, "params", data, payload, &e);
            rc = s2s_ckpt_commit(w, &e);
        }
        free(data);
        char line[1100];
        int k = snprintf(line, sizeof line, "%d %d %s", arc, rc, e.msg);
        if (write(fds[1], line, (size_t)k) != k)
            _exit(4);
        _exit(0);
    }
    close(fds[1]);
    char line[1100] = {0};
    size_t got = 0;
    ssize_t k;
    while ((k = read(fds[0], line + got, sizeof line - 1 - got)) > 0)
        got += (size_t)k;
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "child failed (status %d)", status);
    int rc;
    int off = 0;
    cr_assert_eq(sscanf(line, "%d %d %n", add_rc, &rc, &off), 2, "%s", line);
    snprintf(msg, cap, "%s", line + off);
    *tmp_pid = pid;
    return rc;
}

Test(ckpt, full_disk_leaves_the_old_checkpoint, WITH_TMPDIR)
{
    char path[512], tmp[600], msg[1100];
    path_in(path, sizeof path, "full.ckpt");
    write_ckpt(path, "the good old checkpoint");
    size_t n0, n1;
    unsigned char *before = slurp(path, &n0);

    /* 1. The payload itself does not fit: add fails, commit repeats it. */
    int add_rc;
    pid_t pid;
    int rc = write_limited(path, 4096, 65536, &add_rc, msg, sizeof msg, &pid);
    cr_assert_eq(add_rc, -1);
    cr_assert_eq(rc, -1, "commit succeeded on a full disk");
    cr_assert(strncmp(msg, path, strlen(path)) == 0, "%s", msg);
    cr_assert(strstr(msg, strerror(EFBIG)), "no strerror in: %s", msg);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    cr_assert(!exists(tmp), "temp file %s left behind", tmp);
    unsigned char *after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "old checkpoint changed");
    free(after);

    /* 2. Everything but the trailer fits (24 + 24 + 1000): the error comes
     * from commit itself. */
    rc = write_limited(path, 24 + 24 + 1000, 1000, &add_rc, msg, sizeof msg, &pid);
    cr_assert_eq(add_rc, 0);
    cr_assert_eq(rc, -1, "commit succeeded on a full disk");
    cr_assert(strncmp(msg, path, strlen(path)) == 0, "%s", msg);
    cr_assert(strstr(msg, strerror(EFBIG)), "no strerror in: %s", msg);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
    cr_assert(!exists(tmp), "temp file %s left behind", tmp);
    after = slurp(path, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "old checkpoint changed");
    free(after);

    /* 3. With room, the same child code succeeds (the limit is the cause). */
    rc = write_limited(path, 1 << 20, 1000, &add_rc, msg, sizeof msg, &pid);
    cr_assert_eq(rc, 0, "%s", msg);
    s2s_ckpt c;
    s2s_err e = {{0}};
    cr_assert_eq(s2s_ckpt_open(&c, path, &e), 0, "%s", e.msg);
    size_t len;
    cr_assert_not_null(s2s_ckpt_get(&c, "params", &len));
    cr_assert_eq(len, 1000);
    s2s_ckpt_close(&c);
    free(before);
}

/* ------------------------------------------------------------------------
 * Byte buffer and cursor
 * ------------------------------------------------------------------------ */

Test(ckpt, buffer_is_little_endian_and_round_trips)
{
    s2s_buf b;
    s2s_buf_init(&b);
    s2s_buf_put_u32(&b, 0x01020304u);
    s2s_buf_put_u64(&b, 0x0102030405060708ull);
    const unsigned char want[12] = {4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1};
    cr_assert_eq(b.len, 12);
    cr_assert(memcmp(b.data, want, 12) == 0);
    s2s_buf_put_u8(&b, 0xAB);
    s2s_buf_put_i32(&b, -5);
    s2s_buf_put_i64(&b, INT64_MIN);
    s2s_buf_put_f32(&b, -0.0f);
    s2s_buf_put_f32(&b, NAN);
    s2s_buf_put_f64(&b, 0.1);
    float fs[3] = {1.0f, -1e-30f, 3.4e38f};
    s2s_buf_put_f32s(&b, fs, 3);
    s2s_buf_put_str(&b, "hé");
    s2s_buf_put_strn(&b, "a\0b", 3);
    /* 1.0f is 0x3F800000: bytes 00 00 80 3F. */
    size_t at1 = 12 + 1 + 4 + 8 + 4 + 4 + 8;
    cr_assert(memcmp(b.data + at1, "\x00\x00\x80\x3f", 4) == 0);

    s2s_cur c;
    s2s_err e = {{0}};
    s2s_cur_init(&c, b.data, b.len, "buf");
    uint32_t u32;
    uint64_t u64;
    uint8_t u8;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    cr_assert_eq(s2s_cur_u32(&c, &u32, &e), 0);
    cr_assert_eq(u32, 0x01020304u);
    cr_assert_eq(s2s_cur_u64(&c, &u64, &e), 0);
    cr_assert_eq(u64, 0x0102030405060708ull);
    cr_assert_eq(s2s_cur_u8(&c, &u8, &e), 0);
    cr_assert_eq(u8, 0xAB);
    cr_assert_eq(s2s_cur_i32(&c, &i32, &e), 0);
    cr_assert_eq(i32, -5);
    cr_assert_eq(s2s_cur_i64(&c, &i64, &e), 0);
    cr_assert_eq(i64, INT64_MIN);
    cr_assert_eq(s2s_cur_f32(&c, &f, &e), 0);
    cr_assert(f == 0.0f && signbit(f));
    cr_assert_eq(s2s_cur_f32(&c, &f, &e), 0);
    cr_assert(isnan(f));
    cr_assert_eq(s2s_cur_f64(&c, &d, &e), 0);
    cr_assert_eq(d, 0.1);
    float g[3];
    cr_assert_eq(s2s_cur_f32s(&c, g, 3, &e), 0);
    cr_assert(memcmp(fs, g, sizeof fs) == 0);
    const char *s;
    size_t n;
    cr_assert_eq(s2s_cur_strref(&c, &s, &n, &e), 0);
    cr_assert(n == 3 && memcmp(s, "hé", 3) == 0);
    /* A string with a NUL cannot be copied as a C string; the cursor stays. */
    size_t pos = c.pos;
    char buf[8];
    cr_assert_eq(s2s_cur_str(&c, buf, sizeof buf, &e), -1);
    cr_assert(strstr(e.msg, "contains a NUL byte"), "%s", e.msg);
    cr_assert_eq(c.pos, pos);
    cr_assert_eq(s2s_cur_str(&c, buf, 3, &e), -1);
    cr_assert(strstr(e.msg, "is too long"), "%s", e.msg);
    cr_assert_eq(s2s_cur_end(&c, &e), -1);
    cr_assert_str_eq(e.msg, "buf: 7 unexpected bytes after byte 60");
    cr_assert_eq(s2s_cur_strref(&c, &s, &n, &e), 0);
    cr_assert(n == 3 && memcmp(s, "a\0b", 3) == 0);
    cr_assert_eq(s2s_cur_end(&c, &e), 0);
    s2s_buf_free(&b);
    cr_assert_null(b.data);
}

Test(ckpt, cursor_fails_cleanly_at_the_end)
{
    unsigned char d[16] = {0};
    s2s_cur c;
    s2s_err e = {{0}};
    /* Every read over every shorter range fails, names the place, and
     * leaves the cursor unmoved. */
    for (size_t len = 0; len < 8; len++) {
        s2s_cur_init(&c, d, len, "sec");
        uint64_t u64;
        double x;
        int64_t i64;
        cr_assert_eq(s2s_cur_u64(&c, &u64, &e), -1);
        cr_assert_eq(s2s_cur_f64(&c, &x, &e), -1);
        cr_assert_eq(s2s_cur_i64(&c, &i64, &e), -1);
        cr_assert_eq(c.pos, 0);
        char want[80];
        snprintf(want, sizeof want, "sec: truncated at byte 0 (i64 wants 8 "
                 "bytes, %zu left)", len);
        cr_assert_str_eq(e.msg, want);
        if (len < 4) {
            uint32_t u;
            int32_t i;
            float f;
            cr_assert_eq(s2s_cur_u32(&c, &u, &e), -1);
            cr_assert_eq(s2s_cur_i32(&c, &i, &e), -1);
            cr_assert_eq(s2s_cur_f32(&c, &f, &e), -1);
        }
    }
    /* A string whose length prefix points past the end. */
    d[0] = 0xFF;
    d[1] = 0xFF;
    d[2] = 0xFF;
    d[3] = 0xFF;
    s2s_cur_init(&c, d, 16, "sec");
    const char *s;
    size_t n;
    cr_assert_eq(s2s_cur_strref(&c, &s, &n, &e), -1);
    cr_assert_str_eq(e.msg, "sec: truncated at byte 4 (string wants 4294967295 bytes, 12 left)");
    cr_assert_eq(c.pos, 0);
    /* A float array whose byte count would overflow size_t. */
    float f[1];
    cr_assert_eq(s2s_cur_f32s(&c, f, SIZE_MAX / 2, &e), -1);
    cr_assert_eq(c.pos, 0);
    const void *p;
    cr_assert_eq(s2s_cur_bytes(&c, &p, 17, &e), -1);
    cr_assert_eq(s2s_cur_bytes(&c, &p, 16, &e), 0);
    cr_assert_eq(p, d);
    uint8_t u8;
    cr_assert_eq(s2s_cur_u8(&c, &u8, &e), -1);
    /* An empty cursor over nothing. */
    s2s_cur_init(&c, NULL, 5, "none");
    cr_assert_eq(s2s_cur_bytes(&c, &p, 0, &e), 0);
    cr_assert_eq(s2s_cur_end(&c, &e), 0);
}
