/* core/sysinfo.c — peak memory, CPU count, git commit and a monotonic clock
 * for benchmark output (see sysinfo.h).
 */
#include "core/sysinfo.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Memory, CPUs, clock                                                      */

/* A "Key:   1234 kB" line of /proc/self/status, in bytes; -1 if absent. */
static long long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t klen = strlen(key);
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end;
            long long kb = strtoll(line + klen + 1, &end, 10);
            if (end != line + klen + 1 && kb >= 0)
                v = kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

long long s2s_peak_rss_bytes(void)
{
    long long best = -1;
    struct rusage ru;
    /* Linux reports ru_maxrss in kilobytes. */
    if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0)
        best = (long long)ru.ru_maxrss * 1024;
    long long hwm = proc_status_kb("VmHWM");
    return hwm > best ? hwm : best;
}

long long s2s_current_rss_bytes(void)
{
    return proc_status_kb("VmRSS");
}

int s2s_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= INT_MAX ? (int)n : 1;
}

double s2s_monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Git commit, read from the repository files                               */

/* Reads the first line of a small file into buf without the line end;
 * 0 on success. */
static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* A full object name: 40 (SHA-1) or 64 (SHA-256) hex digits. */
static int is_hash(const char *s)
{
    size_t n = 0;
    while (isxdigit((unsigned char)s[n]))
        n++;
    return (n == 40 || n == 64) && (s[n] == '\0' || isspace((unsigned char)s[n]));
}

/* `rel` relative to `base` unless it is absolute; 0 if it fits. */
static int join(char *out, size_t size, const char *base, const char *rel)
{
    int n = rel[0] == '/' ? snprintf(out, size, "%s", rel)
                          : snprintf(out, size, "%s/%s", base, rel);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* Finds the git directory for the work tree containing dir: a ".git"
 * directory, or a ".git" file saying "gitdir: PATH" (worktrees, submodules).
 * 0 on success. */
static int find_git_dir(const char *dir, char *gitdir, size_t size)
{
    char cur[PATH_MAX];
    if (dir) {
        if (!realpath(dir, cur))
            return -1;
    } else if (!getcwd(cur, sizeof cur)) {
        return -1;
    }
    for (;;) {
        char dotgit[PATH_MAX + 8];
        struct stat st;
        snprintf(dotgit, sizeof dotgit, "%s/.git", strcmp(cur, "/") ? cur : "");
        if (stat(dotgit, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                return join(gitdir, size, "", dotgit);
            char line[PATH_MAX + 16];
            if (S_ISREG(st.st_mode) && read_line(dotgit, line, sizeof line) == 0
                && strncmp(line, "gitdir: ", 8) == 0)
                return join(gitdir, size, cur, line + 8);
        }
        char *slash = strrchr(cur, '/');
        if (!slash || strcmp(cur, "/") == 0)
            return -1;
        if (slash == cur)
            cur[1] = '\0';
        else
            *slash = '\0';
    }
}

/* Resolves a ref name ("refs/heads/main") to a hash: the loose file in the
 * git dir or the common dir (symbolic refs followed a few levels), then
 * packed-refs. 0 on success. */
static int resolve_ref(const char *gitdir, const char *common, const char *ref,
                       char *hash, size_t size, int depth)
{
    if (depth > 5)
        return -1;
    const char *dirs[2] = {gitdir, common};
    for (int i = 0; i < 2; i++) {
        char path[2 * PATH_MAX], line[512];
        snprintf(path, sizeof path, "%s/%s", dirs[i], ref);
        if (read_line(path, line, sizeof line) != 0)
            continue;
        if (strncmp(line, "ref: ", 5) == 0)
            return resolve_ref(gitdir, common, line + 5, hash, size, depth + 1);
        if (is_hash(line)) {
            snprintf(hash, size, "%.64s", line);
            return 0;
        }
    }
    char path[PATH_MAX + 16], line[1024];
    snprintf(path, sizeof path, "%s/packed-refs", common);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = -1;
    size_t rlen = strlen(ref);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '^' || !is_hash(line))
            continue;
        const char *name = strchr(line, ' ');
        if (name && strncmp(name + 1, ref, rlen) == 0 && name[1 + rlen] == '\0') {
            snprintf(hash, size, "%.*s", (int)(name - line), line);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

const char *s2s_git_commit(const char *dir, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    char gitdir[PATH_MAX], common[PATH_MAX], line[PATH_MAX], hash[128];
    snprintf(buf, size, "unknown");
    if (find_git_dir(dir, gitdir, sizeof gitdir) != 0)
        return buf;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/commondir", gitdir);
    if (read_line(path, line, sizeof line) == 0) {
        if (join(common, sizeof common, gitdir, line) != 0)
            return buf;
    } else {
        snprintf(common, sizeof common, "%s", gitdir);
    }
    snprintf(path, sizeof path, "%s/HEAD", gitdir);
    if (read_line(path, line, sizeof line) != 0)
        return buf;
    if (strncmp(line, "ref: ", 5) == 0) {
        if (resolve_ref(gitdir, common, line + 5, hash, sizeof hash, 0) != 0)
            return buf;
    } else if (is_hash(line)) {
        snprintf(hash, sizeof hash, "%.64s", line);
    } else {
        return buf;
    }
    snprintf(buf, size, "%.7s", hash);
    return buf;
}

double s2s_machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

int s2s_mem_check(double bytes, const char *what, s2s_err *err)
{
    double have = s2s_machine_memory();
    if (have > 0 && bytes > have)
        return s2s_fail(err, "%s need %.0f MiB, more than this machine's "
                        "%.0f MiB of memory: make the model or batch smaller",
                        what, bytes / 1048576.0, have / 1048576.0);
    return 0;
}
