/* core/ckpt.c — the checkpoint container (format in core/ckpt.h; its CRC-32
 * in core/crc32.c): the atomic writer, the validating reader, and the little-endian byte
 * buffer and cursor the model side serialises its scalars with.
 */
#include "core/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_SIZE 24
#define SEC_SIZE 24
#define TRL_SIZE 16

static const unsigned char MAGIC[8] = {'S', '2', 'S', 'C', 'K', 'P', 'T', 0};
static const unsigned char TRAILER[8] = {
    'S', '2', 'S', 'C', 'K', 'E', 'N', 'D'};

/* ------------------------------------------------------------------------
 * Little-endian encoding
 * ------------------------------------------------------------------------ */

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* Tags are 1..8 characters from '!'..'~', NUL-padded in the file. */
static int tag_ok(const char *tag)
{
    size_t n = 0;
    while (n <= S2S_CKPT_TAG_MAX && tag[n]) {
        if (tag[n] < '!' || tag[n] > '~')
            return 0;
        n++;
    }
    return n >= 1 && n <= S2S_CKPT_TAG_MAX;
}

static int tag_ok_file(const unsigned char *t)
{
    size_t n = 0;
    while (n < S2S_CKPT_TAG_MAX && t[n]) {
        if (t[n] < '!' || t[n] > '~')
            return 0;
        n++;
    }
    if (n == 0)
        return 0;
    for (size_t i = n; i < S2S_CKPT_TAG_MAX; i++)
        if (t[i])
            return 0;
    return 1;
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */

struct s2s_ckpt_writer {
    char *path;                     /* the final name */
    char *tmp;                      /* PATH.tmp.PID */
    int fd;                         /* -1 once closed */
    uint64_t off;                   /* bytes written so far */
    uint32_t count;
    char (*tags)[S2S_CKPT_TAG_MAX + 1];
    size_t tags_cap;
    int failed;                     /* a write failed: msg says how */
    char msg[sizeof(((s2s_err *)0)->msg)];
};

/* Closes and removes the temp file and frees w. */
static void writer_drop(s2s_ckpt_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w->tags);
    free(w);
}

/* Records the first write error; later calls report the same line. */
static int writer_fail(s2s_ckpt_writer *w, s2s_err *err, const char *what,
                       int errnum)
{
    if (!w->failed) {
        snprintf(w->msg, sizeof w->msg,
                 "%s: %s failed (temp file %s, byte %llu): %s", w->path, what,
                 w->tmp, (unsigned long long)w->off, strerror(errnum));
        w->failed = 1;
    }
    return s2s_fail(err, "%s", w->msg);
}

static int write_all(s2s_ckpt_writer *w, const void *data, size_t n,
                     s2s_err *err)
{
    const unsigned char *p = data;
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return writer_fail(w, err, "write", errno);
        }
        if (k == 0)
            return writer_fail(w, err, "write", EIO);
        p += k;
        n -= (size_t)k;
        w->off += (uint64_t)k;
    }
    return 0;
}

s2s_ckpt_writer *s2s_ckpt_create(const char *path, s2s_err *err)
{
    if (!path || !*path) {
        s2s_fail(err, "checkpoint: empty path");
        return NULL;
    }
    s2s_ckpt_writer *w = s2s_xcalloc(1, sizeof *w);
    w->path = s2s_xstrdup(path);
    size_t n = strlen(path) + 32;
    w->tmp = s2s_xmalloc(n);
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        s2s_fail(err, "%s: cannot create temp file %s: %s", path, w->tmp,
                 strerror(errno));
        free(w->path);
        free(w->tmp);
        free(w);
        return NULL;
    }
    /* Room for the header, filled in by commit once the count is known. */
    unsigned char hdr[HDR_SIZE] = {0};
    if (write_all(w, hdr, sizeof hdr, err) < 0) {
        writer_drop(w);
        return NULL;
    }
    return w;
}

int s2s_ckpt_add(s2s_ckpt_writer *w, const char *tag, const void *data,
                 size_t len, s2s_err *err)
{
    if (w->failed)
        return s2s_fail(err, "%s", w->msg);
    if (!tag || !tag_ok(tag))
        return s2s_fail(err, "%s: bad section tag '%s' (1 to 8 printable "
                        "ASCII characters, no space)", w->path,
                        tag ? tag : "(null)");
    for (uint32_t i = 0; i < w->count; i++)
        if (strcmp(w->tags[i], tag) == 0)
            return s2s_fail(err, "%s: duplicate section '%s'", w->path, tag);
    if (w->count == UINT32_MAX)
        return s2s_fail(err, "%s: too many sections", w->path);
    if (len > 0 && !data)
        return s2s_fail(err, "%s: section '%s': no data for %zu bytes",
                        w->path, tag, len);

    unsigned char hdr[SEC_SIZE] = {0};
    memcpy(hdr, tag, strlen(tag));
    le64(hdr + 8, (uint64_t)len);
    uint32_t crc = s2s_crc32(0, hdr, 16);
    if (len > 0)
        crc = s2s_crc32(crc, data, len);
    le32(hdr + 16, crc);

    static const unsigned char zeros[8] = {0};
    size_t pad = (8 - len % 8) % 8;
    if (write_all(w, hdr, sizeof hdr, err) < 0 ||
        (len > 0 && write_all(w, data, len, err) < 0) ||
        write_all(w, zeros, pad, err) < 0)
        return -1;

    if (w->count == w->tags_cap) {
        w->tags_cap = w->tags_cap ? 2 * w->tags_cap : 16;
        w->tags = s2s_xrealloc(w->tags, w->tags_cap * sizeof *w->tags);
    }
    snprintf(w->tags[w->count], sizeof w->tags[0], "%s", tag);
    w->count++;
    return 0;
}

int s2s_ckpt_add_f32(s2s_ckpt_writer *w, const char *tag, const float *x,
                     size_t n, s2s_err *err)
{
    if (n > SIZE_MAX / 4)
        return s2s_fail(err, "%s: section '%s': %zu floats is too many",
                        w->path, tag ? tag : "(null)", n);
    if (HOST_LE)
        return s2s_ckpt_add(w, tag, x, n * 4, err);
    unsigned char *b = s2s_xmalloc(n * 4);
    for (size_t i = 0; i < n; i++)
        le32(b + 4 * i, f32_bits(x[i]));
    int rc = s2s_ckpt_add(w, tag, b, n * 4, err);
    free(b);
    return rc;
}

/* The directory holding `path`, to make the rename durable. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return s2s_xstrdup(".");
    if (slash == path)
        return s2s_xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *d = s2s_xmalloc(n + 1);
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

int s2s_ckpt_commit(s2s_ckpt_writer *w, s2s_err *err)
{
    if (!w)
        return s2s_fail(err, "checkpoint: commit without a writer");
    if (w->failed) {
        s2s_fail(err, "%s", w->msg);
        writer_drop(w);
        return -1;
    }

    unsigned char trl[TRL_SIZE];
    memcpy(trl, TRAILER, 8);
    le64(trl + 8, w->off + TRL_SIZE);
    if (write_all(w, trl, sizeof trl, err) < 0) {
        writer_drop(w);
        return -1;
    }

    unsigned char hdr[HDR_SIZE] = {0};
    memcpy(hdr, MAGIC, 8);
    le32(hdr + 8, S2S_CKPT_VERSION);
    le32(hdr + 12, w->count);
    le32(hdr + 16, 0);
    le32(hdr + 20, s2s_crc32(0, hdr, 20));
    size_t done = 0;
    while (done < sizeof hdr) {
        ssize_t k = pwrite(w->fd, hdr + done, sizeof hdr - done, (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            writer_fail(w, err, "write of the header", k < 0 ? errno : EIO);
            writer_drop(w);
            return -1;
        }
        done += (size_t)k;
    }

    if (fsync(w->fd) < 0) {
        writer_fail(w, err, "fsync", errno);
        writer_drop(w);
        return -1;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) < 0) {
        writer_fail(w, err, "close", errno);
        writer_drop(w);
        return -1;
    }
    if (rename(w->tmp, w->path) < 0) {
        s2s_fail(err, "%s: cannot rename temp file %s over it: %s", w->path,
                 w->tmp, strerror(errno));
        writer_drop(w);
        return -1;
    }

    /* The new name is in place; without this a crash could forget it.
     * Some file systems cannot fsync a directory (EINVAL): nothing to do. */
    int rc = 0;
    char *dir = dir_of(w->path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL && errno != ENOTSUP))
        rc = s2s_fail(err, "%s: written, but fsync of directory %s failed "
                      "(the new checkpoint may not survive a crash): %s",
                      w->path, dir, strerror(errno));
    if (dfd >= 0)
        close(dfd);
    free(dir);
    free(w->path);
    free(w->tmp);
    free(w->tags);
    free(w);
    return rc;
}

void s2s_ckpt_abort(s2s_ckpt_writer *w)
{
    if (w)
        writer_drop(w);
}

/* ------------------------------------------------------------------------
 * Reader: nothing from the file is trusted until it has been compared with
 * the number of bytes really there.
 * ------------------------------------------------------------------------ */

static int cmp_tags(const void *a, const void *b)
{
    const s2s_ckpt_section *x = *(const s2s_ckpt_section *const *)a;
    const s2s_ckpt_section *y = *(const s2s_ckpt_section *const *)b;
    return strcmp(x->tag, y->tag);
}

static int validate(s2s_ckpt *c, s2s_err *err)
{
    const unsigned char *d = c->data;
    const size_t size = c->size;
    const char *nm = c->name;

    if (size < 8 || memcmp(d, MAGIC, 8) != 0) {
        if (size < 8 && (size == 0 || memcmp(d, MAGIC, size) == 0))
            return s2s_fail(err, "%s: truncated at byte %zu (header wants "
                            "%d bytes)", nm, size, HDR_SIZE);
        return s2s_fail(err, "%s: not an s2s checkpoint (bad magic)", nm);
    }
    /* The version is read before the header checksum: a later format may
     * lay out the rest of its header differently. */
    if (size >= 12) {
        uint32_t v = rd32(d + 8);
        if (v > S2S_CKPT_VERSION)
            return s2s_fail(err, "%s: checkpoint format version %u, this s2s "
                            "reads %u", nm, v, S2S_CKPT_VERSION);
        if (v == 0)
            return s2s_fail(err, "%s: bad checkpoint format version 0 at "
                            "byte 8", nm);
    }
    if (size < HDR_SIZE)
        return s2s_fail(err, "%s: truncated at byte %zu (header wants %d "
                        "bytes)", nm, size, HDR_SIZE);
    if (s2s_crc32(0, d, 20) != rd32(d + 20))
        return s2s_fail(err, "%s: header checksum mismatch (bytes 0..19)", nm);
    if (rd32(d + 16) != 0)
        return s2s_fail(err, "%s: nonzero reserved field at byte 16", nm);
    c->version = rd32(d + 8);

    uint32_t count = rd32(d + 12);
    /* Each section takes at least SEC_SIZE bytes: a count that cannot fit
     * is rejected before anything is allocated for it. */
    size_t room = size - HDR_SIZE;
    if ((uint64_t)count * SEC_SIZE + TRL_SIZE > room)
        return s2s_fail(err, "%s: truncated at byte %zu (header announces %u "
                        "sections, which need at least %llu bytes)", nm, size,
                        count, (unsigned long long)HDR_SIZE +
                        (unsigned long long)count * SEC_SIZE + TRL_SIZE);

    c->sections = s2s_xcalloc(count ? count : 1, sizeof *c->sections);
    size_t pos = HDR_SIZE;
    for (uint32_t i = 0; i < count; i++) {
        s2s_ckpt_section *s = &c->sections[i];
        size_t left = size - pos;
        if (left < SEC_SIZE)
            return s2s_fail(err, "%s: truncated at byte %zu (section #%u at "
                            "byte %zu wants a %d-byte header)", nm, size, i,
                            pos, SEC_SIZE);
        const unsigned char *h = d + pos;
        if (!tag_ok_file(h))
            return s2s_fail(err, "%s: bad tag in section #%u at byte %zu",
                            nm, i, pos);
        memcpy(s->tag, h, S2S_CKPT_TAG_MAX);
        s->tag[S2S_CKPT_TAG_MAX] = '\0';
        uint64_t len = rd64(h + 8);
        if (rd32(h + 20) != 0)
            return s2s_fail(err, "%s: nonzero reserved field in section '%s' "
                            "at byte %zu", nm, s->tag, pos + 20);
        left -= SEC_SIZE;
        if (len > left)
            return s2s_fail(err, "%s: truncated at byte %zu (section '%s' at "
                            "byte %zu wants %llu bytes, %zu are left)", nm,
                            size, s->tag, pos, (unsigned long long)len, left);
        size_t pad = (size_t)((8 - len % 8) % 8);
        if (pad > left - len)
            return s2s_fail(err, "%s: truncated at byte %zu (section '%s' "
                            "wants %zu bytes of padding)", nm, size, s->tag,
                            pad);
        s->off = pos + SEC_SIZE;
        s->len = (size_t)len;
        uint32_t crc = s2s_crc32(s2s_crc32(0, h, 16), d + s->off, s->len);
        if (crc != rd32(h + 16))
            return s2s_fail(err, "%s: checksum mismatch in section '%s' "
                            "(byte %zu)", nm, s->tag, pos);
        for (size_t k = 0; k < pad; k++)
            if (d[s->off + s->len + k])
                return s2s_fail(err, "%s: nonzero padding after section '%s' "
                                "at byte %zu", nm, s->tag,
                                s->off + s->len + k);
        pos = s->off + s->len + pad;
    }

    size_t left = size - pos;
    if (left < TRL_SIZE)
        return s2s_fail(err, "%s: truncated at byte %zu (trailer at byte %zu "
                        "wants %d bytes)", nm, size, pos, TRL_SIZE);
    if (memcmp(d + pos, TRAILER, 8) != 0)
        return s2s_fail(err, "%s: bad trailer at byte %zu (file damaged)", nm,
                        pos);
    uint64_t total = rd64(d + pos + 8);
    if (left > TRL_SIZE)
        return s2s_fail(err, "%s: %zu unexpected bytes after the trailer at "
                        "byte %zu", nm, left - TRL_SIZE, pos + TRL_SIZE);
    if (total != size)
        return s2s_fail(err, "%s: trailer at byte %zu says the file has %llu "
                        "bytes, it has %zu", nm, pos,
                        (unsigned long long)total, size);

    if (count > 1) {
        const s2s_ckpt_section **by = s2s_xmalloc(count * sizeof *by);
        for (uint32_t i = 0; i < count; i++)
            by[i] = &c->sections[i];
        qsort(by, count, sizeof *by, cmp_tags);
        for (uint32_t i = 1; i < count; i++)
            if (strcmp(by[i - 1]->tag, by[i]->tag) == 0) {
                int rc = s2s_fail(err, "%s: duplicate section '%s' at byte "
                                  "%zu", nm, by[i]->tag,
                                  (by[i]->off > by[i - 1]->off ? by[i]->off
                                                               : by[i - 1]->off)
                                  - SEC_SIZE);
                free(by);
                return rc;
            }
        free(by);
    }
    c->n_sections = count;
    return 0;
}

static int open_common(s2s_ckpt *c, s2s_err *err)
{
    if (validate(c, err) == 0)
        return 0;
    s2s_ckpt_close(c);
    return -1;
}

int s2s_ckpt_open(s2s_ckpt *c, const char *path, s2s_err *err)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return s2s_fail(err, "%s: cannot open checkpoint: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return s2s_fail(err, "%s: cannot stat checkpoint: %s", path,
                        strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return s2s_fail(err, "%s: not a regular file", path);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return s2s_fail(err, "%s: file too large for this machine", path);
    }
    size_t size = (size_t)st.st_size;
    c->name = s2s_xstrdup(path);
    c->data = s2s_xmalloc(size);
    c->size = size;
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, c->data + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            s2s_fail(err, "%s: read failed at byte %zu: %s", path, got,
                     strerror(e));
            s2s_ckpt_close(c);
            return -1;
        }
        if (k == 0) /* shrank since fstat: validate what is there */
            break;
        got += (size_t)k;
    }
    close(fd);
    c->size = got;
    return open_common(c, err);
}

int s2s_ckpt_open_mem(s2s_ckpt *c, const void *data, size_t size,
                      const char *name, s2s_err *err)
{
    memset(c, 0, sizeof *c);
    c->name = s2s_xstrdup(name ? name : "(memory)");
    c->data = s2s_xmalloc(size);
    if (size)
        memcpy(c->data, data, size);
    c->size = size;
    return open_common(c, err);
}

const void *s2s_ckpt_get(const s2s_ckpt *c, const char *tag, size_t *len)
{
    for (uint32_t i = 0; i < c->n_sections; i++)
        if (strcmp(c->sections[i].tag, tag) == 0) {
            if (len)
                *len = c->sections[i].len;
            return c->data + c->sections[i].off;
        }
    if (len)
        *len = 0;
    return NULL;
}

const void *s2s_ckpt_require(const s2s_ckpt *c, const char *tag, size_t *len,
                             s2s_err *err)
{
    const void *p = s2s_ckpt_get(c, tag, len);
    if (!p)
        s2s_fail(err, "%s: no section '%s' in this checkpoint", c->name, tag);
    return p;
}

int s2s_ckpt_get_f32(const s2s_ckpt *c, const char *tag, float *x, size_t n,
                     s2s_err *err)
{
    size_t len;
    const unsigned char *p = s2s_ckpt_require(c, tag, &len, err);
    if (!p)
        return -1;
    if (len % 4 != 0 || len / 4 != n)
        return s2s_fail(err, "%s: section '%s' holds %zu bytes, expected %zu "
                        "floats", c->name, tag, len, n);
    if (HOST_LE)
        memcpy(x, p, len);
    else
        for (size_t i = 0; i < n; i++)
            x[i] = bits_f32(rd32(p + 4 * i));
    return 0;
}

void s2s_ckpt_close(s2s_ckpt *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->data);
    free(c->sections);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------
 * Byte buffer
 * ------------------------------------------------------------------------ */

void s2s_buf_init(s2s_buf *b)
{
    memset(b, 0, sizeof *b);
}

void s2s_buf_free(s2s_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Room for n more bytes; returns where they go. */
static unsigned char *buf_grow(s2s_buf *b, size_t n)
{
    if (n > SIZE_MAX - b->len) {
        fprintf(stderr, "s2s: byte buffer overflow\n");
        abort();
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap = cap > SIZE_MAX / 2 ? b->len + n : 2 * cap;
        b->data = s2s_xrealloc(b->data, cap);
        b->cap = cap;
    }
    unsigned char *p = b->data + b->len;
    b->len += n;
    return p;
}

void s2s_buf_put(s2s_buf *b, const void *p, size_t n)
{
    if (n)
        memcpy(buf_grow(b, n), p, n);
}

void s2s_buf_put_u8(s2s_buf *b, uint8_t v) { *buf_grow(b, 1) = v; }
void s2s_buf_put_u32(s2s_buf *b, uint32_t v) { le32(buf_grow(b, 4), v); }
void s2s_buf_put_u64(s2s_buf *b, uint64_t v) { le64(buf_grow(b, 8), v); }
void s2s_buf_put_i32(s2s_buf *b, int32_t v) { s2s_buf_put_u32(b, (uint32_t)v); }
void s2s_buf_put_i64(s2s_buf *b, int64_t v) { s2s_buf_put_u64(b, (uint64_t)v); }
void s2s_buf_put_f32(s2s_buf *b, float v) { s2s_buf_put_u32(b, f32_bits(v)); }

void s2s_buf_put_f64(s2s_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    s2s_buf_put_u64(b, u);
}

void s2s_buf_put_f32s(s2s_buf *b, const float *x, size_t n)
{
    if (n > SIZE_MAX / 4) {
        fprintf(stderr, "s2s: byte buffer overflow\n");
        abort();
    }
    unsigned char *p = buf_grow(b, n * 4);
    for (size_t i = 0; i < n; i++)
        le32(p + 4 * i, f32_bits(x[i]));
}

void s2s_buf_put_strn(s2s_buf *b, const char *s, size_t n)
{
    if (n > UINT32_MAX) {
        fprintf(stderr, "s2s: string of %zu bytes too long to serialise\n", n);
        abort();
    }
    s2s_buf_put_u32(b, (uint32_t)n);
    s2s_buf_put(b, s, n);
}

void s2s_buf_put_str(s2s_buf *b, const char *s)
{
    s2s_buf_put_strn(b, s, strlen(s));
}

/* ------------------------------------------------------------------------
 * Cursor
 * ------------------------------------------------------------------------ */

void s2s_cur_init(s2s_cur *c, const void *data, size_t len, const char *what)
{
    c->p = data;
    c->len = data ? len : 0;
    c->pos = 0;
    snprintf(c->what, sizeof c->what, "%s", what ? what : "(data)");
}

int s2s_ckpt_cursor(const s2s_ckpt *ck, const char *tag, s2s_cur *c,
                    s2s_err *err)
{
    size_t len;
    const void *p = s2s_ckpt_require(ck, tag, &len, err);
    if (!p)
        return -1;
    s2s_cur_init(c, p, len, NULL);
    snprintf(c->what, sizeof c->what, "%s: section '%s'", ck->name, tag);
    return 0;
}

/* The n bytes at the cursor, advancing it; NULL (cursor unmoved) if fewer
 * are left. */
static const unsigned char *cur_take(s2s_cur *c, size_t n, const char *what,
                                     s2s_err *err)
{
    static const unsigned char none[1];
    if (n == 0)
        return c->p ? c->p + c->pos : none;
    if (n > c->len - c->pos) {
        s2s_fail(err, "%s: truncated at byte %zu (%s wants %zu bytes, %zu "
                 "left)", c->what, c->pos, what, n, c->len - c->pos);
        return NULL;
    }
    const unsigned char *p = c->p + c->pos;
    c->pos += n;
    return p;
}

int s2s_cur_u8(s2s_cur *c, uint8_t *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 1, "u8", err);
    if (!p)
        return -1;
    *v = p[0];
    return 0;
}

int s2s_cur_u32(s2s_cur *c, uint32_t *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 4, "u32", err);
    if (!p)
        return -1;
    *v = rd32(p);
    return 0;
}

int s2s_cur_u64(s2s_cur *c, uint64_t *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 8, "u64", err);
    if (!p)
        return -1;
    *v = rd64(p);
    return 0;
}

int s2s_cur_i32(s2s_cur *c, int32_t *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 4, "i32", err);
    if (!p)
        return -1;
    uint32_t u = rd32(p);
    memcpy(v, &u, 4);
    return 0;
}

int s2s_cur_i64(s2s_cur *c, int64_t *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 8, "i64", err);
    if (!p)
        return -1;
    uint64_t u = rd64(p);
    memcpy(v, &u, 8);
    return 0;
}

int s2s_cur_f32(s2s_cur *c, float *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 4, "f32", err);
    if (!p)
        return -1;
    *v = bits_f32(rd32(p));
    return 0;
}

int s2s_cur_f64(s2s_cur *c, double *v, s2s_err *err)
{
    const unsigned char *p = cur_take(c, 8, "f64", err);
    if (!p)
        return -1;
    uint64_t u = rd64(p);
    memcpy(v, &u, 8);
    return 0;
}

int s2s_cur_f32s(s2s_cur *c, float *x, size_t n, s2s_err *err)
{
    if (n > (c->len - c->pos) / 4)
        return s2s_fail(err, "%s: truncated at byte %zu (%zu floats want "
                        "more than the %zu bytes left)", c->what, c->pos, n,
                        c->len - c->pos);
    const unsigned char *p = cur_take(c, n * 4, "f32 array", err);
    for (size_t i = 0; i < n; i++)
        x[i] = bits_f32(rd32(p + 4 * i));
    return 0;
}

int s2s_cur_bytes(s2s_cur *c, const void **p, size_t n, s2s_err *err)
{
    const unsigned char *q = cur_take(c, n, "byte string", err);
    if (!q)
        return -1;
    *p = q;
    return 0;
}

int s2s_cur_strref(s2s_cur *c, const char **s, size_t *n, s2s_err *err)
{
    size_t start = c->pos;
    uint32_t len;
    if (s2s_cur_u32(c, &len, err) < 0)
        return -1;
    const unsigned char *p = cur_take(c, len, "string", err);
    if (!p) {
        c->pos = start;
        return -1;
    }
    *s = (const char *)p;
    *n = len;
    return 0;
}

int s2s_cur_str(s2s_cur *c, char *dst, size_t cap, s2s_err *err)
{
    size_t start = c->pos;
    const char *s;
    size_t n;
    if (s2s_cur_strref(c, &s, &n, err) < 0)
        return -1;
    if (n >= cap || memchr(s, 0, n)) {
        c->pos = start;
        return s2s_fail(err, "%s: string at byte %zu %s", c->what, start,
                        n >= cap ? "is too long" : "contains a NUL byte");
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

int s2s_cur_end(const s2s_cur *c, s2s_err *err)
{
    if (c->pos != c->len)
        return s2s_fail(err, "%s: %zu unexpected bytes after byte %zu",
                        c->what, c->len - c->pos, c->pos);
    return 0;
}

/* ------------------------------------------------------------------------
 * Stale temp files
 * ------------------------------------------------------------------------ */

int s2s_ckpt_remove_stale(const char *dir, char *first, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || t == e->d_name)
            continue;
        const char *digits = t + 5;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (*digits < '0' || *digits > '9' || *end || errno || pid <= 0 ||
            pid > 0x3fffffff)
            continue;
        /* alive (or not ours to signal): keep it */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        if (unlink(path) == 0) {
            if (removed == 0 && first && size)
                snprintf(first, size, "%s", path);
            removed++;
        }
    }
    closedir(d);
    return removed;
}
