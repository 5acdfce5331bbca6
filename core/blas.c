/* core/blas.c — BLAS facts and OpenBLAS kernel selection (see blas.h). */
#include "core/blas.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/error.h"

/* Set for the re-executed program: "check:FROM" (verify the kernel we
 * chose, OpenBLAS had picked FROM), then "chosen:FROM" or
 * "failed:KERNEL:FROM" for it and its children; "off" from the user. */
#define MARK "S2S_BLAS_SELECT"

/* ------------------------------------------------------------------------
 * CPUID */

int s2s_cpuid_read(s2s_cpuid_regs *r)
{
    memset(r, 0, sizeof *r);
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return -1;
    unsigned max = a;
    r->vendor[0] = b;
    r->vendor[1] = d;
    r->vendor[2] = c;
    if (max < 1 || !__get_cpuid(1, &a, &b, &c, &d)) return -1;
    r->l1_eax = a;
    r->l1_ecx = c;
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        r->l7_ebx = b;
        r->l7_ecx = c;
        r->l7_edx = d;
        unsigned sub = a;
        if (sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            r->l71_eax = a;
        }
    }
    if (r->l1_ecx & (1u << 27)) { /* OSXSAVE: XGETBV is there */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        r->xcr0 = ((uint64_t)hi << 32) | lo;
    }
    return 0;
#else
    return -1;
#endif
}

void s2s_cpu_features_decode(const s2s_cpuid_regs *r, s2s_cpu_features *f)
{
    memset(f, 0, sizeof *f);
    memcpy(f->vendor, r->vendor, 12);
    f->vendor[12] = 0;
    unsigned fam = (r->l1_eax >> 8) & 0xf, mod = (r->l1_eax >> 4) & 0xf;
    f->family = (int)(fam == 0xf ? fam + ((r->l1_eax >> 20) & 0xff) : fam);
    f->model = (int)(fam == 6 || fam == 0xf ? mod | (((r->l1_eax >> 16) & 0xf) << 4)
                                            : mod);
    int osxsave = (r->l1_ecx >> 27) & 1;
    int ymm = osxsave && (r->xcr0 & 0x6) == 0x6;      /* SSE + AVX state */
    int zmm = ymm && (r->xcr0 & 0xe0) == 0xe0;        /* opmask, ZMM */
    f->avx = ymm && ((r->l1_ecx >> 28) & 1);
    f->fma = f->avx && ((r->l1_ecx >> 12) & 1);
    f->avx2 = f->avx && ((r->l7_ebx >> 5) & 1);
    const uint32_t need = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) |
                          (1u << 31); /* F, DQ, CD, BW, VL */
    f->avx512 = zmm && f->avx2 && f->fma && (r->l7_ebx & need) == need;
    f->avx512_bf16 = f->avx512 && ((r->l71_eax >> 5) & 1);
}

/* ------------------------------------------------------------------------
 * The choice */

const char *s2s_blas_best_core(const s2s_cpu_features *f)
{
    int amd = strcmp(f->vendor, "AuthenticAMD") == 0 ||
              strcmp(f->vendor, "HygonGenuine") == 0;
    if (f->avx512) return "SkylakeX";
    if (f->avx2 && f->fma) return amd ? "Zen" : "Haswell";
    if (f->avx) return "Sandybridge";
    return NULL;
}

int s2s_blas_core_rank(const char *name)
{
    static const char *const R0[] = {
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
        "Katmai", "Coppermine", "Northwood", "Banias", "Athlon", "Opteron",
        "Opteron_SSE3", "Barcelona", "Bobcat", "Nano", "Generic", NULL};
    static const char *const R1[] = {"Sandybridge", "Bulldozer", "Piledriver",
                                     NULL};
    static const char *const R2[] = {"Haswell", "Zen", "Steamroller",
                                     "Excavator", NULL};
    static const char *const R3[] = {"SkylakeX", "Cooperlake", "SapphireRapids",
                                     NULL};
    const char *const *ranks[] = {R0, R1, R2, R3};
    if (!name) return -1;
    for (int k = 0; k < 4; k++)
        for (const char *const *n = ranks[k]; *n; n++)
            if (strcasecmp(name, *n) == 0) return k;
    return -1;
}

const char *s2s_blas_choose(const s2s_cpu_features *f, const char *loaded,
                            const char *user_set)
{
    if (user_set) return NULL;                 /* the user's word wins */
    if (s2s_blas_core_rank(loaded) != 0) return NULL; /* not a fallback */
    const char *best = s2s_blas_best_core(f);
    return best && s2s_blas_core_rank(best) > 0 ? best : NULL;
}

/* ------------------------------------------------------------------------
 * Self-check */

static float lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int check_gemm(int ta, int tb, int M, int N, int K)
{
    uint32_t s = (uint32_t)(M * 131 + N * 7 + K + ta * 3 + tb);
    float *a = s2s_xmalloc((size_t)M * K * sizeof *a);
    float *b = s2s_xmalloc((size_t)K * N * sizeof *b);
    float *c = s2s_xmalloc((size_t)M * N * sizeof *c);
    double *ref = s2s_xmalloc((size_t)M * N * sizeof *ref);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = lcg(&s);
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = lcg(&s);
    for (size_t i = 0; i < (size_t)M * N; i++) c[i] = lcg(&s);
    const float alpha = 0.75f, beta = -0.5f;
    int lda = ta ? M : K, ldb = tb ? K : N;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double x = 0;
            for (int k = 0; k < K; k++)
                x += (double)(ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k]) *
                     (double)(tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j]);
            ref[(size_t)i * N + j] = alpha * x + beta * (double)c[(size_t)i * N + j];
        }
    if (M == 1 && !ta)
        cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K,
                    tb ? K : N, alpha, b, ldb, a, 1, beta, c, 1);
    else
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                    tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, a, lda, b,
                    ldb, beta, c, N);
    int bad = 0;
    double tol = 1e-5 * (K + 4);
    for (size_t i = 0; i < (size_t)M * N && !bad; i++)
        bad = !(fabs((double)c[i] - ref[i]) <= tol);
    free(a); free(b); free(c); free(ref);
    return bad ? -1 : 0;
}

int s2s_blas_selfcheck(void)
{
    static const int sz[][5] = {
        {0, 0, 3, 5, 7},     {0, 1, 67, 129, 95}, {1, 0, 33, 70, 257},
        {1, 1, 17, 31, 64},  {0, 1, 1, 300, 256}, {0, 0, 1, 257, 129},
        {0, 1, 160, 384, 256},
    };
    for (size_t k = 0; k < sizeof sz / sizeof sz[0]; k++)
        if (check_gemm(sz[k][0], sz[k][1], sz[k][2], sz[k][3], sz[k][4]) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Re-execution */

/* The check in a child process: a kernel that crashes (an instruction the
 * processor lacks) fails it instead of killing the program. */
static int selfcheck_isolated(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(s2s_blas_selfcheck() == 0 && !getenv("S2S_BLAS_SELFCHECK_FAIL") ? 0 : 1);
    if (pid < 0) return s2s_blas_selfcheck();
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void reexec(char **argv)
{
    fflush(NULL);
    execv("/proc/self/exe", argv);
}

void s2s_blas_autoselect(char **argv)
{
    const char *mark = getenv(MARK);
    char buf[128];
    if (mark && strncmp(mark, "check:", 6) == 0) {
        /* restarted with our choice: keep it only if it is what runs and
         * it computes right; else restart on OpenBLAS's own pick */
        char from[32];
        snprintf(from, sizeof from, "%s", mark + 6);
        const char *want = getenv("OPENBLAS_CORETYPE");
        const char *now = openblas_get_corename();
        int ok = selfcheck_isolated() == 0;
        if (want && s2s_blas_core_rank(now) > s2s_blas_core_rank(from) && ok) {
            snprintf(buf, sizeof buf, "chosen:%s", from);
            setenv(MARK, buf, 1);
            return;
        }
        snprintf(buf, sizeof buf, "failed:%.40s:%s", want ? want : "", from);
        setenv(MARK, buf, 1);
        unsetenv("OPENBLAS_CORETYPE");
        reexec(argv);
        fprintf(stderr, "s2s: warning: OpenBLAS kernel %s failed its check and "
                "s2s cannot restart without it; set OPENBLAS_CORETYPE\n",
                want ? want : "?");
        return;
    }
    /* "test": take OPENBLAS_CORETYPE as if OpenBLAS had picked it itself,
     * to drive this path on any machine */
    int test = mark && strcmp(mark, "test") == 0;
    if (mark && !test) return; /* decided before (or "off") */
    if (getenv("OPENBLAS_CORETYPE") && !test) return;
    s2s_cpuid_regs r;
    s2s_cpu_features f;
    if (s2s_cpuid_read(&r) < 0) return;
    s2s_cpu_features_decode(&r, &f);
    const char *loaded = openblas_get_corename();
    const char *pick = s2s_blas_choose(&f, loaded, NULL);
    if (!pick) {
        if (test) unsetenv(MARK);
        return;
    }
    snprintf(buf, sizeof buf, "check:%.40s", loaded);
    setenv("OPENBLAS_CORETYPE", pick, 1);
    setenv(MARK, buf, 1);
    reexec(argv);
    unsetenv("OPENBLAS_CORETYPE"); /* could not restart: as we were */
    unsetenv(MARK);
    if (test) setenv("OPENBLAS_CORETYPE", loaded, 1);
}

/* ------------------------------------------------------------------------
 * Facts */

static void copy_word(char *dst, size_t size, const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != ' ' && n + 1 < size) n++;
    memcpy(dst, s, n);
    dst[n] = 0;
}

void s2s_blas_get_info(s2s_blas_info *o)
{
    memset(o, 0, sizeof *o);
    const char *cfg = openblas_get_config(); /* "OpenBLAS 0.3.21 ..." */
    copy_word(o->library, sizeof o->library, cfg ? cfg : "unknown");
    const char *sp = cfg ? strchr(cfg, ' ') : NULL;
    copy_word(o->version, sizeof o->version, sp ? sp + 1 : "unknown");
    const char *core = openblas_get_corename();
    snprintf(o->kernel, sizeof o->kernel, "%s", core ? core : "unknown");
    o->threads = openblas_get_num_threads();
    const char *mark = getenv(MARK);
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (mark && strncmp(mark, "chosen:", 7) == 0 && user) {
        snprintf(o->source, sizeof o->source, "s2s");
        snprintf(o->fallback, sizeof o->fallback, "%s", mark + 7);
    } else {
        snprintf(o->source, sizeof o->source, "%s", user ? "user" : "openblas");
    }
    if (mark && strncmp(mark, "failed:", 7) == 0) {
        const char *end = strchr(mark + 7, ':');
        size_t n = end ? (size_t)(end - (mark + 7)) : strlen(mark + 7);
        if (n >= sizeof o->failed) n = sizeof o->failed - 1;
        memcpy(o->failed, mark + 7, n);
        o->failed[n] = 0;
    }
}

const char *s2s_blas_describe(char *buf, size_t size)
{
    s2s_blas_info i;
    s2s_blas_get_info(&i);
    char why[192] = "";
    if (strcmp(i.source, "s2s") == 0)
        snprintf(why, sizeof why, " (chosen by s2s: OpenBLAS %s fell back to its "
                 "generic %s kernel on this processor; set OPENBLAS_CORETYPE "
                 "to override)", i.version, i.fallback);
    else if (strcmp(i.source, "user") == 0)
        snprintf(why, sizeof why, " (OPENBLAS_CORETYPE=%s)", getenv("OPENBLAS_CORETYPE"));
    else if (i.failed[0])
        snprintf(why, sizeof why, " (s2s tried %s: it failed its check)", i.failed);
    snprintf(buf, size, "BLAS: %s %s, kernel %s%s, %d thread%s", i.library,
             i.version, i.kernel, why, i.threads, i.threads == 1 ? "" : "s");
    return buf;
}

const char *s2s_blas_json(char *buf, size_t size)
{
    s2s_blas_info i;
    s2s_blas_get_info(&i);
    snprintf(buf, size, "\"blas\": \"%s %s\", \"blas_kernel\": \"%s\", "
             "\"blas_kernel_source\": \"%s\", \"blas_fallback\": \"%s\", "
             "\"blas_threads\": %d", i.library, i.version, i.kernel, i.source,
             i.fallback, i.threads);
    return buf;
}
