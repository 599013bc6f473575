/* The popek CPU's CPUID leaves (vmm_helpers/cpuid.c) against the Intel SDM
 * Vol. 2A CPUID reference: vendor, signature, feature bits per option,
 * brand string, out-of-range leaves. */
#include "vmm_helpers/vmm_helpers.h"

#include <criterion/criterion.h>
#include <string.h>

static struct hlp_cpu_model model(unsigned options)
{
    struct hlp_cpu_model m;
    cr_assert_eq(hlp_cpu_model_init(&m, options), 0, "options 0x%x rejected", options);
    return m;
}

Test(cpuid, leaf0_vendor_and_max_leaf)
{
    struct hlp_cpu_model m = model(HLP_CPU_ALL_OPTIONS);
    struct hlp_cpuid_regs r = hlp_cpuid(&m, 0, 0);
    char vendor[13];
    memcpy(vendor, &r.ebx, 4);
    memcpy(vendor + 4, &r.edx, 4);
    memcpy(vendor + 8, &r.ecx, 4);
    vendor[12] = '\0';
    cr_expect_str_eq(vendor, "GenuineIntel");
    cr_expect_eq(r.eax, hlp_cpuid_max_leaf(&m));
    cr_expect_geq(r.eax, 1u);
}

Test(cpuid, leaf1_signature_is_p6)
{
    struct hlp_cpu_model m = model(HLP_CPU_ALL_OPTIONS);
    struct hlp_cpuid_regs r = hlp_cpuid(&m, 1, 0);
    cr_expect_eq(r.eax, hlp_cpu_signature(&m));
    cr_expect_eq((r.eax >> 8) & 0xF, 6u, "family");
    cr_expect_eq((r.eax >> 4) & 0xF, 13u, "model");
    cr_expect_eq((r.eax >> 16) & 0xF, 0u, "extended model");
    cr_expect_eq((r.eax >> 20) & 0xFF, 0u, "extended family");
    /* No CLFSH/HTT: EBX carries only APIC ID 0 and brand index 0. */
    cr_expect_eq(r.ebx, 0u);
    cr_expect_eq(r.ecx, 0u);
}

Test(cpuid, leaf1_base_features)
{
    struct hlp_cpu_model m = model(0);
    uint32_t edx = hlp_cpuid(&m, 1, 0).edx;
    /* FPU, PSE, TSC, MSR, PAE, CX8, SEP, PGE, CMOV; no VME, DE, MCE, APIC,
     * MTRR, MCA, PAT, PSE36, CLFSH, and no SIMD without options. */
    cr_expect_eq(edx, 0x0000A979u, "EDX = 0x%08x", edx);
    cr_expect_eq(edx & (HLP_CPUID_APIC | HLP_CPUID_MMX | HLP_CPUID_SSE), 0u);
    cr_expect_eq(m.edx1, edx);
}

Test(cpuid, leaf1_options)
{
    struct hlp_cpu_model m = model(HLP_CPU_ALL_OPTIONS);
    uint32_t edx = hlp_cpuid(&m, 1, 0).edx;
    cr_expect_eq(edx, 0x0000A979u | 0x07800000u, "EDX = 0x%08x", edx);
    m = model(HLP_CPU_MMX);
    cr_expect_eq(hlp_cpuid(&m, 1, 0).edx, 0x0000A979u | HLP_CPUID_MMX);
    m = model(HLP_CPU_MMX | HLP_CPU_FXSR | HLP_CPU_SSE);
    cr_expect_eq(hlp_cpuid(&m, 1, 0).edx & HLP_CPUID_SSE2, 0u);
}

Test(cpuid, options_need_what_they_build_on)
{
    struct hlp_cpu_model m = {.options = 0x5A5A, .edx1 = 0x1234};
    cr_expect_eq(hlp_cpu_model_init(&m, HLP_CPU_SSE), -1, "SSE without MMX and FXSR");
    cr_expect_eq(hlp_cpu_model_init(&m, HLP_CPU_MMX | HLP_CPU_SSE), -1, "SSE without FXSR");
    cr_expect_eq(hlp_cpu_model_init(&m, HLP_CPU_MMX | HLP_CPU_FXSR | HLP_CPU_SSE2), -1,
                 "SSE2 without SSE");
    cr_expect_eq(hlp_cpu_model_init(&m, 1u << 20), -1, "unknown option");
    cr_expect_eq(m.options, 0x5A5Au, "a rejected init leaves the model alone");
    cr_expect_eq(m.edx1, 0x1234u);
}

Test(cpuid, brand_string)
{
    struct hlp_cpu_model m = model(HLP_CPU_ALL_OPTIONS);
    cr_assert_geq(hlp_cpuid(&m, 0x80000000u, 0).eax, 0x80000004u);
    cr_expect_eq(hlp_cpuid_max_ext_leaf(&m), hlp_cpuid(&m, 0x80000000u, 0).eax);
    char brand[49];
    for (uint32_t i = 0; i < 3; i++) {
        struct hlp_cpuid_regs r = hlp_cpuid(&m, 0x80000002u + i, 0);
        memcpy(brand + 16 * i, &r.eax, 4);
        memcpy(brand + 16 * i + 4, &r.ebx, 4);
        memcpy(brand + 16 * i + 8, &r.ecx, 4);
        memcpy(brand + 16 * i + 12, &r.edx, 4);
    }
    brand[48] = 'X';
    cr_expect_str_eq(brand, "popek virtual CPU");
    struct hlp_cpuid_regs ext = hlp_cpuid(&m, 0x80000001u, 0);
    cr_expect_eq(ext.edx | ext.ecx, 0u, "no extended features");
}

/* SDM Vol. 2A CPUID: a leaf above the maximum returns the highest basic
 * leaf's data on Intel processors. */
Test(cpuid, out_of_range_leaves_return_highest_basic_leaf)
{
    struct hlp_cpu_model m = model(HLP_CPU_ALL_OPTIONS);
    struct hlp_cpuid_regs top = hlp_cpuid(&m, hlp_cpuid_max_leaf(&m), 0);
    uint32_t leaves[] = {hlp_cpuid_max_leaf(&m) + 1, 7, 0x40000000u, 0x7FFFFFFFu,
                         hlp_cpuid_max_ext_leaf(&m) + 1, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        struct hlp_cpuid_regs r = hlp_cpuid(&m, leaves[i], 0);
        cr_expect(r.eax == top.eax && r.ebx == top.ebx && r.ecx == top.ecx && r.edx == top.edx,
                  "leaf 0x%x", leaves[i]);
    }
}
