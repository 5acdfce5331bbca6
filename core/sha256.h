/* core/sha256.h — SHA-256 (FIPS 180-4), for pinning cell plugins in
 * checkpoints: a checkpoint records the digest of each plugin file it was
 * trained with, and the loader checks it before dlopen. */
#ifndef S2S_SHA256_H
#define S2S_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct s2s_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
} s2s_sha256;

void s2s_sha256_init(s2s_sha256 *s);
void s2s_sha256_update(s2s_sha256 *s, const void *data, size_t n);
void s2s_sha256_final(s2s_sha256 *s, unsigned char out[32]);

/* The digest of a whole file read through the open descriptor fd (from its
 * current position); -1 with "PATH: read error: ..." in err. */
int s2s_sha256_fd(int fd, const char *path, unsigned char out[32],
                  s2s_err *err);

/* 64 lowercase hex digits and a NUL into hex. */
void s2s_sha256_hex(const unsigned char d[32], char hex[65]);

#endif
