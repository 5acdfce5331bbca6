/* tests/core_progress_sysinfo.c — process and machine facts: peak memory
 * grows when memory is touched, the CPU count, the git commit read from
 * hand-made .git directories (loose ref, packed ref, detached HEAD,
 * worktree "gitdir:" file, not a repository), the monotonic clock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/sysinfo.h"

#define HASH_A "0123456789abcdef0123456789abcdef01234567"
#define HASH_B "fedcba9876543210fedcba9876543210fedcba98"

static char root[256]; /* short, so paths under it always fit */

static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/s2s_sysinfo_XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void remove_root(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

/* Writes text to root/rel, creating the directories on the way. */
static void put(const char *rel, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *s = path + strlen(root) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
            *s = '/';
        }
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *rel)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s/.keep", rel);
    put(tmp, "");
}

static const char *commit_of(const char *rel, char *buf, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return s2s_git_commit(path, buf, size);
}

TestSuite(sysinfo, .init = make_root, .fini = remove_root);

Test(sysinfo, peak_rss_grows_with_touched_memory)
{
    long long before = s2s_peak_rss_bytes();
    cr_assert(before > 0);
    size_t n = 64u << 20;
    char *block = malloc(n);
    cr_assert_not_null(block);
    memset(block, 1, n);
    long long now = s2s_current_rss_bytes();
    long long after = s2s_peak_rss_bytes();
    cr_assert(now > (long long)n, "rss %lld", now);
    cr_assert(after >= now, "peak %lld < current %lld", after, now);
    cr_assert(after >= before);
    /* Keep the memset from being optimised away. */
    cr_assert_eq(block[n - 1], 1);
    free(block);
}

Test(sysinfo, online_cpus)
{
    int n = s2s_online_cpus();
    cr_assert(n >= 1);
    cr_assert_eq(n, (int)sysconf(_SC_NPROCESSORS_ONLN));
}

Test(sysinfo, monotonic_clock_advances)
{
    double t0 = s2s_monotonic_seconds();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double t1 = s2s_monotonic_seconds();
    cr_assert(t1 - t0 >= 0.019, "%f", t1 - t0);
}

Test(sysinfo, git_loose_ref_from_a_subdirectory)
{
    put("repo/.git/HEAD", "ref: refs/heads/main\n");
    put("repo/.git/refs/heads/main", HASH_A "\n");
    mkdirs("repo/src/deep");
    char buf[64];
    cr_assert_str_eq(commit_of("repo", buf, sizeof buf), "0123456");
    cr_assert_str_eq(commit_of("repo/src/deep", buf, sizeof buf), "0123456");
    /* A short buffer is truncated, never overrun. */
    char small[4];
    cr_assert_str_eq(commit_of("repo", small, sizeof small), "012");
}

Test(sysinfo, git_packed_ref_and_detached_head)
{
    put("p/.git/HEAD", "ref: refs/heads/dev\n");
    put("p/.git/packed-refs",
        "# pack-refs with: peeled fully-peeled sorted\n"
        HASH_A " refs/heads/dev-old\n"
        HASH_B " refs/heads/dev\n"
        "^" HASH_A "\n");
    char buf[64];
    cr_assert_str_eq(commit_of("p", buf, sizeof buf), "fedcba9");

    put("d/.git/HEAD", HASH_B "\n");
    cr_assert_str_eq(commit_of("d", buf, sizeof buf), "fedcba9");
}

Test(sysinfo, git_worktree_file)
{
    /* A linked worktree: .git is a file naming its git dir, which holds
     * HEAD; the branch ref lives in the common dir. */
    put("main/.git/refs/heads/topic", HASH_B "\n");
    put("main/.git/worktrees/wt/HEAD", "ref: refs/heads/topic\n");
    put("main/.git/worktrees/wt/commondir", "../..\n");
    char gitdir[512];
    snprintf(gitdir, sizeof gitdir, "gitdir: %s/main/.git/worktrees/wt\n", root);
    put("wt/.git", gitdir);
    char buf[64];
    cr_assert_str_eq(commit_of("wt", buf, sizeof buf), "fedcba9");
}

Test(sysinfo, git_unknown)
{
    char buf[64];
    /* No .git anywhere up to / (the test root is under /tmp). */
    mkdirs("plain");
    if (strcmp(s2s_git_commit("/tmp", buf, sizeof buf), "unknown") != 0)
        cr_skip_test("/tmp is inside a git work tree here");
    cr_assert_str_eq(commit_of("plain", buf, sizeof buf), "unknown");
    /* Unborn branch: HEAD names a ref that does not exist. */
    put("unborn/.git/HEAD", "ref: refs/heads/main\n");
    cr_assert_str_eq(commit_of("unborn", buf, sizeof buf), "unknown");
    /* Garbage in HEAD. */
    put("bad/.git/HEAD", "not a ref\n");
    cr_assert_str_eq(commit_of("bad", buf, sizeof buf), "unknown");
    /* A directory that does not exist. */
    cr_assert_str_eq(commit_of("missing", buf, sizeof buf), "unknown");
}

Test(sysinfo, git_this_repository_matches_git)
{
    /* Compare with git itself when both it and a repository are here. */
    FILE *p = popen("git rev-parse --short=7 HEAD 2>/dev/null", "r");
    char want[64] = "";
    if (p) {
        if (!fgets(want, sizeof want, p))
            want[0] = '\0';
        pclose(p);
    }
    want[strcspn(want, "\n")] = '\0';
    if (strlen(want) != 7)
        cr_skip_test("git or a commit is not available here");
    char buf[64];
    cr_assert_str_eq(s2s_git_commit(NULL, buf, sizeof buf), want);
}
