/* tests/core_blas.c — OpenBLAS kernel selection on recorded CPUID values
 * (this Xeon, Emerald Rapids, EPYC, Haswell, Sandy Bridge, an OS without
 * AVX-512 state, one without XSAVE), kernel ranks, the user's word, and
 * the GEMM self-check of the kernel in use.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/blas.h"

#define INTEL {0x756e6547, 0x49656e69, 0x6c65746e} /* GenuineIntel */
#define AMD   {0x68747541, 0x69746e65, 0x444d4163} /* AuthenticAMD */

/* Read off the development machine: "Intel(R) Xeon(R) Processor", family
 * 6 model 167, AVX-512 with BF16 and FP16. */
static const s2s_cpuid_regs XEON = {
    INTEL, 0xa0671, 0xfffa3203, 0xf1bf2ffb, 0x1a415f46, 0x23c14010, 0x1c30,
    0x600e7};

/* Emerald Rapids (family 6, model 207): the machine; OpenBLAS
 * 0.3.21 does not know the model and falls back to Prescott. Same
 * features as above, its own signature. */
static s2s_cpuid_regs emerald(void)
{
    s2s_cpuid_regs r = XEON;
    r.l1_eax = 0x000c06f2;
    return r;
}

/* EPYC (Zen 3, family 25 model 1): AVX2 + FMA, no AVX-512. */
static const s2s_cpuid_regs EPYC = {
    AMD, 0x00a00f11, 0x7ef8320b, 0x219c97a9, 0x0040069c, 0x00000010, 0, 0x7};

/* Xeon E5 v3 (Haswell, family 6 model 63). */
static const s2s_cpuid_regs HASWELL = {
    INTEL, 0x000306f2, 0x7ffefbff, 0x000037ab, 0, 0x9c000000, 0, 0x7};

/* Core i7-2600 (Sandy Bridge): AVX, no FMA, no AVX2. */
static const s2s_cpuid_regs SANDY = {
    INTEL, 0x000206a7, 0x1fbae3ff, 0, 0, 0x9c000000, 0, 0x7};

static s2s_cpu_features decode(s2s_cpuid_regs r)
{
    s2s_cpu_features f;
    s2s_cpu_features_decode(&r, &f);
    return f;
}

Test(blas, decodes_recorded_cpuid)
{
    s2s_cpu_features f = decode(XEON);
    cr_assert_str_eq(f.vendor, "GenuineIntel");
    cr_assert_eq(f.family, 6);
    cr_assert_eq(f.model, 167);
    cr_assert(f.avx && f.avx2 && f.fma && f.avx512 && f.avx512_bf16);
    f = decode(emerald());
    cr_assert_eq(f.family, 6);
    cr_assert_eq(f.model, 207);
    f = decode(EPYC);
    cr_assert_str_eq(f.vendor, "AuthenticAMD");
    cr_assert_eq(f.family, 25);
    cr_assert_eq(f.model, 1);
    cr_assert(f.avx2 && f.fma && !f.avx512);
    f = decode(HASWELL);
    cr_assert_eq(f.model, 63);
    cr_assert(f.avx2 && f.fma && !f.avx512);
    f = decode(SANDY);
    cr_assert(f.avx && !f.fma && !f.avx2);
}

Test(blas, best_kernel_per_processor)
{
    s2s_cpu_features f = decode(emerald());
    cr_assert_str_eq(s2s_blas_best_core(&f), "SkylakeX");
    f = decode(EPYC);
    cr_assert_str_eq(s2s_blas_best_core(&f), "Zen");
    f = decode(HASWELL);
    cr_assert_str_eq(s2s_blas_best_core(&f), "Haswell");
    f = decode(SANDY);
    cr_assert_str_eq(s2s_blas_best_core(&f), "Sandybridge");
}

/* The processor has AVX-512 but the OS does not save the ZMM state (XCR0
 * without bits 5-7): AVX-512 code would fault, so AVX2. Without OSXSAVE
 * no AVX at all. */
Test(blas, what_the_os_saves_counts)
{
    s2s_cpuid_regs r = emerald();
    r.xcr0 = 0x7;
    s2s_cpu_features f = decode(r);
    cr_assert(!f.avx512 && f.avx2);
    cr_assert_str_eq(s2s_blas_best_core(&f), "Haswell");
    r.l1_ecx &= ~(1u << 27);
    r.xcr0 = 0;
    f = decode(r);
    cr_assert(!f.avx && !f.avx2 && !f.avx512);
    cr_assert_null(s2s_blas_best_core(&f));
    cr_assert_null(s2s_blas_choose(&f, "Prescott", NULL));
}

Test(blas, kernel_ranks)
{
    cr_assert_eq(s2s_blas_core_rank("Prescott"), 0);
    cr_assert_eq(s2s_blas_core_rank("NEHALEM"), 0);
    cr_assert_eq(s2s_blas_core_rank("Sandybridge"), 1);
    cr_assert_eq(s2s_blas_core_rank("Haswell"), 2);
    cr_assert_eq(s2s_blas_core_rank("Zen"), 2);
    cr_assert_eq(s2s_blas_core_rank("SkylakeX"), 3);
    cr_assert_eq(s2s_blas_core_rank("Cooperlake"), 3);
    cr_assert_eq(s2s_blas_core_rank("NoSuchCore"), -1);
    cr_assert_eq(s2s_blas_core_rank(NULL), -1);
}

/* Only a fallback to a generic kernel is overruled, and never a value the
 * user set (even an empty one, which OpenBLAS treats its own way). */
Test(blas, choose_only_over_a_generic_fallback)
{
    s2s_cpu_features f = decode(emerald());
    cr_assert_str_eq(s2s_blas_choose(&f, "Prescott", NULL), "SkylakeX");
    cr_assert_null(s2s_blas_choose(&f, "SkylakeX", NULL));
    cr_assert_null(s2s_blas_choose(&f, "Cooperlake", NULL));
    cr_assert_null(s2s_blas_choose(&f, "Haswell", NULL));
    cr_assert_null(s2s_blas_choose(&f, "Prescott", "Prescott"));
    cr_assert_null(s2s_blas_choose(&f, "Prescott", ""));
    cr_assert_null(s2s_blas_choose(&f, "SomethingNew", NULL));
    f = decode(EPYC);
    cr_assert_null(s2s_blas_choose(&f, "Zen", NULL));
    cr_assert_str_eq(s2s_blas_choose(&f, "Prescott", NULL), "Zen");
    f = decode(HASWELL);
    cr_assert_str_eq(s2s_blas_choose(&f, "Core2", NULL), "Haswell");
    f = decode(SANDY);
    cr_assert_str_eq(s2s_blas_choose(&f, "Nehalem", NULL), "Sandybridge");
}

Test(blas, kernel_in_use_passes_the_selfcheck_and_reports)
{
    cr_assert_eq(s2s_blas_selfcheck(), 0);
    s2s_blas_info i;
    s2s_blas_get_info(&i);
    cr_assert_str_eq(i.library, "OpenBLAS");
    cr_assert(i.version[0] >= '0' && i.version[0] <= '9', "version %s", i.version);
    cr_assert(i.kernel[0]);
    cr_assert(i.threads >= 1);
    char buf[512];
    cr_assert(strstr(s2s_blas_describe(buf, sizeof buf), "BLAS: OpenBLAS "));
    cr_assert(strstr(s2s_blas_json(buf, sizeof buf), "\"blas_kernel\": \""));
}
