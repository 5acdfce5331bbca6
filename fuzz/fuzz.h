/* fuzz/fuzz.h — what the libFuzzer harnesses share: the fuzz input as a
 * file (a memfd, named /proc/self/fd/N) for readers that take a path. */
#ifndef S2S_FUZZ_H
#define S2S_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Replaces the content of memory file `slot` (0 or 1) with data; returns
 * its path. */
static inline const char *fuzz_file(int slot, const void *data, size_t n)
{
    static int fd[2] = {-1, -1};
    static char path[2][64];
    if (fd[slot] < 0) {
        fd[slot] = memfd_create(slot ? "s2s-fuzz-1" : "s2s-fuzz-0", 0);
        if (fd[slot] < 0) abort();
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0) != 0) abort();
    if (n && pwrite(fd[slot], data, n, 0) != (ssize_t)n) abort();
    return path[slot];
}

#endif
