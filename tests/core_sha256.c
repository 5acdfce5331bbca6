/* tests/core_sha256.c — SHA-256 against the FIPS 180-4 / NIST example
 * digests, fed whole and in pieces across block boundaries. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/sha256.h"

static void digest_hex(const void *p, size_t n, size_t piece, char hex[65])
{
    s2s_sha256 s;
    unsigned char d[32];
    s2s_sha256_init(&s);
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += piece)
        s2s_sha256_update(&s, b + i, n - i < piece ? n - i : piece);
    s2s_sha256_final(&s, d);
    s2s_sha256_hex(d, hex);
}

Test(sha256, nist_vectors)
{
    static const struct { const char *in, *out; } v[] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    char hex[65];
    for (size_t i = 0; i < 3; i++)
        for (size_t piece = 1; piece <= 64; piece *= 3) {
            digest_hex(v[i].in, strlen(v[i].in), piece, hex);
            cr_assert_str_eq(hex, v[i].out, "vector %zu piece %zu", i, piece);
        }
}

/* One million 'a's (FIPS 180-2 appendix B.3), through a file descriptor. */
Test(sha256, million_a_through_fd)
{
    char path[] = "/tmp/s2s-sha-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static char a[1000000];
    memset(a, 'a', sizeof a);
    cr_assert_eq(write(fd, a, sizeof a), (ssize_t)sizeof a);
    lseek(fd, 0, SEEK_SET);
    unsigned char d[32];
    s2s_err e;
    cr_assert_eq(s2s_sha256_fd(fd, path, d, &e), 0);
    close(fd);
    unlink(path);
    char hex[65];
    s2s_sha256_hex(d, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
