/* core/sysinfo.h — facts about the process and the machine for benchmark
 * output and progress: peak resident memory, online CPUs, the git commit
 * the program was run from, and a monotonic clock.
 */
#ifndef S2S_SYSINFO_H
#define S2S_SYSINFO_H

#include <stddef.h>

#include "core/error.h"

/* Peak resident set size of this process in bytes: the larger of
 * getrusage's ru_maxrss and /proc/self/status VmHWM (either may be missing
 * on some systems). -1 if neither is available. */
long long s2s_peak_rss_bytes(void);

/* Current resident set size (/proc/self/status VmRSS) in bytes, -1 if
 * unavailable. */
long long s2s_current_rss_bytes(void);

/* Number of online CPUs (at least 1). */
int s2s_online_cpus(void);

/* The abbreviated (7 hex digits) commit checked out in the git work tree
 * containing `dir` (NULL = the current directory), read from the .git files
 * (HEAD, the loose ref or packed-refs; a worktree's "gitdir:" file is
 * followed) without running git. Writes "unknown" when dir is not inside a
 * work tree or HEAD cannot be resolved (an unborn branch). Returns buf. */
const char *s2s_git_commit(const char *dir, char *buf, size_t size);

/* Physical memory of the machine in bytes (0 if unknown). */
double s2s_machine_memory(void);

/* -1 with "WHAT needs N MiB, more than this machine's M MiB of memory"
 * when bytes exceeds the machine's physical memory: for refusing a model or
 * workspace before allocating it. */
int s2s_mem_check(double bytes, const char *what, s2s_err *err);

/* Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double s2s_monotonic_seconds(void);

#endif
