/* corpora/tatoeba.h — where the reference corpus of the benchmark (and of
 * the tests that read it) is expected, and what to say when it is not
 * there. The corpus is not part of the repository: 11.7 MB of someone
 * else's data, fetched once by the user (bench/README.md). */
#ifndef S2S_TATOEBA_H
#define S2S_TATOEBA_H

#include <stdlib.h>

/* The environment variable that names it (`make bench TATOEBA=PATH` and
 * `make test` set it); the benchmark configs read it as
 * ${S2S_TATOEBA:-corpora/tatoeba/eng-fra.txt}. */
#define S2S_TATOEBA_ENV "S2S_TATOEBA"
#define S2S_TATOEBA_DEFAULT "corpora/tatoeba/eng-fra.txt"

/* One line: what the file is, where it is published and where it goes. */
#define S2S_TATOEBA_ABOUT                                                      \
    "the reference corpus is the Tatoeba English-French pairs eng-fra.txt "   \
    "(167,130 lines English<TAB>French, 11,669,748 bytes, sha256 "            \
    "0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104): "     \
    "fra.txt of the 2019-04-08 fra-eng.zip of manythings.org/anki, archived " \
    "in github.com/modelexlab/data; put it at corpora/tatoeba/eng-fra.txt "   \
    "or set S2S_TATOEBA=PATH (see bench/README.md)"

/* $S2S_TATOEBA when set and not empty, else the default place. */
static inline const char *s2s_tatoeba_path(void)
{
    const char *p = getenv(S2S_TATOEBA_ENV);
    return p && *p ? p : S2S_TATOEBA_DEFAULT;
}

#endif
