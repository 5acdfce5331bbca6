/* core/blas.h — which BLAS runs our GEMMs, and choosing OpenBLAS's kernel
 * when it has fallen back to a generic one.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks a kernel for the
 * processor when the library loads. A release that does not know a newer
 * processor falls back to its generic SSE kernel ("Prescott"), 3-5x slower
 * at SGEMM, without a word (OpenBLAS issue 4267: 0.3.21 on Emerald Rapids).
 * It reads OPENBLAS_CORETYPE once, at load, so the choice must be made
 * before the program (re)starts: s2s_blas_autoselect() in main() sets it
 * and re-executes the program once, then checks the chosen kernel against
 * a reference GEMM (in a child process, so that a crash counts as a
 * failure), and goes back to OpenBLAS's own pick if it is wrong.
 * A value the user set (even empty) always wins; S2S_BLAS_SELECT=off turns
 * the choice off.
 *
 * For tests: S2S_BLAS_SELECT=test takes a set OPENBLAS_CORETYPE as if
 * OpenBLAS had picked that kernel itself (so OPENBLAS_CORETYPE=Prescott
 * drives the whole path on any AVX machine), and S2S_BLAS_SELFCHECK_FAIL
 * makes the check of the chosen kernel fail.
 *
 * The choice itself (features -> kernel) is a pure function of CPUID
 * values, tested on recorded feature sets.
 */
#ifndef S2S_BLAS_H
#define S2S_BLAS_H

#include <stddef.h>
#include <stdint.h>

/* Raw CPUID values: leaf 0 (ebx, edx, ecx = vendor), leaf 1 (eax, ecx),
 * leaf 7 subleaf 0 (ebx, ecx, edx), leaf 7 subleaf 1 (eax) and XCR0 (the
 * register states the OS saves; 0 when OSXSAVE is off). */
typedef struct s2s_cpuid_regs {
    uint32_t vendor[3];
    uint32_t l1_eax, l1_ecx;
    uint32_t l7_ebx, l7_ecx, l7_edx;
    uint32_t l71_eax;
    uint64_t xcr0;
} s2s_cpuid_regs;

typedef struct s2s_cpu_features {
    char vendor[13];        /* "GenuineIntel", "AuthenticAMD", ... */
    int family, model;      /* display family and model */
    int avx, avx2, fma;     /* usable: the OS saves the YMM state */
    int avx512;             /* F, DQ, CD, BW and VL usable (ZMM state saved) */
    int avx512_bf16;
} s2s_cpu_features;

/* Reads this processor's CPUID (x86 only; -1 elsewhere). */
int s2s_cpuid_read(s2s_cpuid_regs *r);
void s2s_cpu_features_decode(const s2s_cpuid_regs *r, s2s_cpu_features *f);

/* The OpenBLAS kernel (OPENBLAS_CORETYPE name) that suits the features
 * best: "SkylakeX" for AVX-512, "Haswell" (Intel) or "Zen" (AMD) for
 * AVX2 + FMA, "Sandybridge" for AVX; NULL when only SSE is usable. */
const char *s2s_blas_best_core(const s2s_cpu_features *f);

/* 0 for OpenBLAS's generic SSE kernels (Prescott, Core2, Penryn,
 * Dunnington, Nehalem, Atom, Katmai, ...), 1 AVX (Sandybridge), 2 AVX2
 * (Haswell, Zen, ...), 3 AVX-512 (SkylakeX, Cooperlake, SapphireRapids);
 * -1 for a name it does not know. */
int s2s_blas_core_rank(const char *name);

/* What to set OPENBLAS_CORETYPE to, or NULL to leave OpenBLAS alone: only
 * when the user set nothing (user_set NULL), OpenBLAS fell back to a
 * generic kernel (`loaded`, openblas_get_corename()) and the features
 * support a better one. */
const char *s2s_blas_choose(const s2s_cpu_features *f, const char *loaded,
                            const char *user_set);

/* First thing in main(): may re-execute the program (argv) once with
 * OPENBLAS_CORETYPE set, as described above. Prints nothing; the outcome
 * is in s2s_blas_get_info(). */
void s2s_blas_autoselect(char **argv);

/* 0 when a few GEMMs (both transposes, odd sizes, alpha, beta) agree with
 * a double-precision reference; -1 otherwise. */
int s2s_blas_selfcheck(void);

typedef struct s2s_blas_info {
    char library[32];   /* "OpenBLAS" */
    char version[32];   /* "0.3.21" */
    char kernel[32];    /* the kernel in use, e.g. "SkylakeX" */
    char source[16];    /* "openblas" (its own pick), "user"
                         * (OPENBLAS_CORETYPE), "s2s" (chosen here) */
    char fallback[32];  /* source "s2s": what OpenBLAS had picked */
    char failed[32];    /* a kernel s2s tried and rejected, or "" */
    int threads;        /* OpenBLAS's thread count */
} s2s_blas_info;

void s2s_blas_get_info(s2s_blas_info *out);

/* One line for a log header, e.g. "BLAS: OpenBLAS 0.3.21, kernel SkylakeX
 * (chosen by s2s: OpenBLAS fell back to Prescott on this processor; set
 * OPENBLAS_CORETYPE to override), 2 threads". Returns buf. */
const char *s2s_blas_describe(char *buf, size_t size);

/* The same as JSON members (no braces), for benchmark lines:
 * "blas": "OpenBLAS 0.3.21", "blas_kernel": ..., "blas_kernel_source": ...,
 * "blas_threads": N. Returns buf. */
const char *s2s_blas_json(char *buf, size_t size);

#endif
