/* core/file.h — reading a whole file into memory. */
#ifndef S2S_FILE_H
#define S2S_FILE_H

#include <stddef.h>

#include "core/error.h"

/* Reads the file into a malloc'd buffer (a NUL appended, not counted in
 * *len). max > 0 refuses files of more bytes. NULL with "PATH: cannot
 * open: ...", "PATH: read error: ..." or "PATH: larger than N bytes". */
char *s2s_read_file(const char *path, size_t max, size_t *len, s2s_err *err);

#endif
