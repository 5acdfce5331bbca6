/* tests/corpora_default.c — the bundled corpus corpora/default/eng-fra.tsv:
 * it loads cleanly with the default settings and gives the figures its
 * README states; its sha256 matches the README; the licence file carries
 * the attribution the source demands.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "corpora/dataset.h"
#include "corpora/reader.h"

#define DEFAULT_CORPUS "corpora/default/eng-fra.tsv"

Test(default_corpus, loads_with_the_documented_figures)
{
    s2s_data_spec sp;
    s2s_data_spec_defaults(&sp);
    sp.train = DEFAULT_CORPUS;
    s2s_dataset d;
    s2s_err err = {{0}};
    cr_assert_eq(s2s_dataset_load(&sp, NULL, NULL, &d, &err), 0, "%s",
                 err.msg);
    const s2s_read_stats *st = &d.stats[S2S_TRAIN];
    cr_assert_eq(st->lines, 27490);
    cr_assert_eq(st->kept, 26714);
    cr_assert_eq(st->too_long, 776);
    cr_assert_eq(st->blank + st->empty + st->too_short + st->invalid_utf8, 0);
    cr_assert_eq(d.split[S2S_TRAIN].n, 25644);
    cr_assert_eq(d.split[S2S_DEV].n, 535);
    cr_assert_eq(d.split[S2S_TEST].n, 535);
    cr_assert_eq(s2s_vocab_size(d.src_vocab), 4956);
    cr_assert_eq(s2s_vocab_size(d.tgt_vocab), 3599);
    s2s_dataset_free(&d);
}

static char *slurp(const char *path)
{
    size_t len;
    s2s_err err;
    char *buf = s2s_read_file(path, 0, &len, &err);
    cr_assert_not_null(buf, "%s", err.msg);
    return buf;
}

Test(default_corpus, sha256_matches_readme)
{
    FILE *p = popen("sha256sum " DEFAULT_CORPUS " 2>/dev/null", "r");
    char line[256] = "";
    if (!p || !fgets(line, sizeof line, p) || strlen(line) < 64) {
        if (p)
            pclose(p);
        cr_skip_test("sha256sum not available");
    }
    pclose(p);
    line[64] = '\0';
    char *readme = slurp("corpora/default/README.md");
    char want[300];
    snprintf(want, sizeof want, "sha256 %s", line);
    cr_assert(strstr(readme, want), "README.md does not state %s", want);
    free(readme);
}

Test(default_corpus, licence_carries_the_attribution)
{
    char *lic = slurp("corpora/default/LICENSE.md");
    cr_assert(strstr(lic, "www.manythings.org/anki and tatoeba.org"));
    cr_assert(strstr(lic, "Tatoeba Project"));
    cr_assert(strstr(lic, "CC BY 2.0"));
    cr_assert(strstr(lic, "https://creativecommons.org/licenses/by/2.0/"));
    free(lic);
}
