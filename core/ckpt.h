/* core/ckpt.h — the checkpoint container: a file of named, checksummed
 * sections, written atomically and validated completely before anything in
 * it is handed out. It knows nothing of models: the model side decides what
 * goes in which section (config, vocabularies, parameters, optimiser state).
 *
 * File layout (all integers little-endian, written byte by byte):
 *
 *   header   24 bytes
 *     0  magic        8  "S2SCKPT\0"
 *     8  version      u32  S2S_CKPT_VERSION
 *    12  sections     u32  number of sections that follow
 *    16  reserved     u32  0
 *    20  header CRC   u32  CRC-32 of bytes 0..19
 *   section  24 bytes + payload + zero padding to a multiple of 8
 *     0  tag          8  ASCII, NUL-padded, 1..8 characters from [!-~]
 *     8  length       u64  payload bytes
 *    16  CRC          u32  CRC-32 of tag, length (bytes 0..15) and payload
 *    20  reserved     u32  0
 *    24  payload      length bytes, then 0..7 zero bytes
 *   trailer  16 bytes
 *     0  magic        8  "S2SCKEND"
 *     8  file length  u64  total bytes, trailer included
 *
 * Every payload starts at a multiple of 8 from the start of the file, so a
 * float array read into (or mapped at) an aligned address is aligned too.
 * CRC-32 is the IEEE/zlib one (reflected polynomial 0xEDB88320).
 *
 * Writing goes to PATH.tmp.PID in the same directory, which is flushed,
 * fsync'ed and renamed over PATH, then the directory is fsync'ed: a crash or
 * a full disk leaves either the old checkpoint or the new one, never a mix.
 */
#ifndef S2S_CKPT_H
#define S2S_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define S2S_CKPT_VERSION 1u
#define S2S_CKPT_TAG_MAX 8

/* CRC-32 (IEEE). Chain calls by passing the previous result; start at 0.
 * s2s_crc32(0, "123456789", 9) == 0xCBF43926. */
uint32_t s2s_crc32(uint32_t crc, const void *data, size_t n);

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

typedef struct s2s_ckpt_writer s2s_ckpt_writer;

/* Starts a checkpoint that will replace `path` on commit. Creates
 * PATH.tmp.PID; NULL with a message if it cannot. */
s2s_ckpt_writer *s2s_ckpt_create(const char *path, s2s_err *err);

/* Appends a section. The tag is 1..8 printable ASCII characters (no space)
 * and unique within the file. A write error (full disk, file size limit) is
 * reported here and again by commit, which then removes the temp file. */
int s2s_ckpt_add(s2s_ckpt_writer *w, const char *tag, const void *data,
                 size_t len, s2s_err *err);

/* Same, for n floats stored little-endian whatever the host's byte order. */
int s2s_ckpt_add_f32(s2s_ckpt_writer *w, const char *tag, const float *x,
                     size_t n, s2s_err *err);

/* Finishes the file, flushes it to disk and renames it over the path.
 * Always consumes `w`. On any error returns -1 with one line naming the
 * path and strerror; the temp file is removed and whatever was at the path
 * before is left untouched. */
int s2s_ckpt_commit(s2s_ckpt_writer *w, s2s_err *err);

/* Drops the temp file; the path keeps its old content. NULL is a no-op. */
void s2s_ckpt_abort(s2s_ckpt_writer *w);

/* Removes the temp files (NAME.tmp.PID) in dir that processes which no
 * longer exist left behind (kill -9, power loss). Returns how many were
 * removed; the first one's path goes to first (if not NULL). */
int s2s_ckpt_remove_stale(const char *dir, char *first, size_t size);

/* ------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------ */

typedef struct s2s_ckpt_section {
    char tag[S2S_CKPT_TAG_MAX + 1]; /* NUL-terminated */
    size_t off;                     /* payload offset in the file */
    size_t len;                     /* payload bytes */
} s2s_ckpt_section;

typedef struct s2s_ckpt {
    char *name;                     /* the path, for messages */
    unsigned char *data;            /* the whole file (8-byte aligned) */
    size_t size;
    uint32_t version;
    uint32_t n_sections;
    s2s_ckpt_section *sections;     /* n_sections, in file order */
} s2s_ckpt;

/* Reads the whole file and checks all of it — magic, version, header and
 * section checksums, every length against the bytes that are really there,
 * padding, trailer — before returning 0. On error returns -1 with one line
 * "PATH: what is wrong at byte N" and leaves `c` empty (closing it is then
 * harmless). */
int s2s_ckpt_open(s2s_ckpt *c, const char *path, s2s_err *err);

/* Same over a buffer in memory (copied); `name` is used in messages. */
int s2s_ckpt_open_mem(s2s_ckpt *c, const void *data, size_t size,
                      const char *name, s2s_err *err);

/* The payload of section `tag` (valid until close) and its length in *len
 * (if len is not NULL); NULL if there is no such section. */
const void *s2s_ckpt_get(const s2s_ckpt *c, const char *tag, size_t *len);

/* Like s2s_ckpt_get, but a missing section is an error naming the file. */
const void *s2s_ckpt_require(const s2s_ckpt *c, const char *tag, size_t *len,
                             s2s_err *err);

/* Copies section `tag`, which must hold exactly n little-endian floats,
 * into x. */
int s2s_ckpt_get_f32(const s2s_ckpt *c, const char *tag, float *x, size_t n,
                     s2s_err *err);

void s2s_ckpt_close(s2s_ckpt *c);

/* ------------------------------------------------------------------------
 * Byte buffer and cursor: explicit little-endian serialisation of scalars
 * and strings for the model side's sections.
 * ------------------------------------------------------------------------ */

/* A growable byte buffer; out of memory is fatal. Zero-initialise it (or
 * call s2s_buf_init), put, hand data/len to s2s_ckpt_add, then free. */
typedef struct s2s_buf {
    unsigned char *data;
    size_t len, cap;
} s2s_buf;

void s2s_buf_init(s2s_buf *b);
void s2s_buf_free(s2s_buf *b);
void s2s_buf_put(s2s_buf *b, const void *p, size_t n);
void s2s_buf_put_u8(s2s_buf *b, uint8_t v);
void s2s_buf_put_u32(s2s_buf *b, uint32_t v);
void s2s_buf_put_u64(s2s_buf *b, uint64_t v);
void s2s_buf_put_i32(s2s_buf *b, int32_t v);
void s2s_buf_put_i64(s2s_buf *b, int64_t v);
void s2s_buf_put_f32(s2s_buf *b, float v);  /* IEEE bits, exact */
void s2s_buf_put_f64(s2s_buf *b, double v);
void s2s_buf_put_f32s(s2s_buf *b, const float *x, size_t n);
/* u32 byte length, then the bytes (no NUL). */
void s2s_buf_put_str(s2s_buf *b, const char *s);
void s2s_buf_put_strn(s2s_buf *b, const char *s, size_t n);

/* A bounds-checked reader over a byte range. Every get fails cleanly past
 * the end ("WHAT: truncated at byte N (u32 wants 4 bytes, 2 left)") and
 * leaves the cursor where it was. */
typedef struct s2s_cur {
    const unsigned char *p;
    size_t len, pos;
    char what[256];                 /* e.g. "ckpt.bin: section 'meta'" */
} s2s_cur;

void s2s_cur_init(s2s_cur *c, const void *data, size_t len, const char *what);
/* A cursor over section `tag` of a checkpoint; fails if it is missing. */
int s2s_ckpt_cursor(const s2s_ckpt *ck, const char *tag, s2s_cur *c,
                    s2s_err *err);

int s2s_cur_u8(s2s_cur *c, uint8_t *v, s2s_err *err);
int s2s_cur_u32(s2s_cur *c, uint32_t *v, s2s_err *err);
int s2s_cur_u64(s2s_cur *c, uint64_t *v, s2s_err *err);
int s2s_cur_i32(s2s_cur *c, int32_t *v, s2s_err *err);
int s2s_cur_i64(s2s_cur *c, int64_t *v, s2s_err *err);
int s2s_cur_f32(s2s_cur *c, float *v, s2s_err *err);
int s2s_cur_f64(s2s_cur *c, double *v, s2s_err *err);
int s2s_cur_f32s(s2s_cur *c, float *x, size_t n, s2s_err *err);
/* n raw bytes; *p points into the underlying data. */
int s2s_cur_bytes(s2s_cur *c, const void **p, size_t n, s2s_err *err);
/* A string written by s2s_buf_put_str: *s points into the data (not
 * NUL-terminated), *n is its length. */
int s2s_cur_strref(s2s_cur *c, const char **s, size_t *n, s2s_err *err);
/* Same, copied NUL-terminated into dst; fails if it needs more than cap
 * bytes or contains a NUL. */
int s2s_cur_str(s2s_cur *c, char *dst, size_t cap, s2s_err *err);
/* Fails unless every byte has been read (catches a layout mismatch). */
int s2s_cur_end(const s2s_cur *c, s2s_err *err);

#endif
