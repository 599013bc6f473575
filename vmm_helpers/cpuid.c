/* The popek CPU as CPUID describes it (Intel SDM Vol. 2A, "CPUID—CPU
 * Identification"). Defined once here; every engine answers CPUID from it
 * (kvm hands the same leaves to KVM_SET_CPUID2).
 *
 * Why GenuineIntel, family 6: Linux i386 and the usual BIOSes take the
 * best-tested paths for an Intel P6-class CPU, and model 13 stepping 8
 * (Pentium M "Dothan") is the P6 core that has SSE2, so the full feature
 * set below names a processor that existed. No Linux quirk keys on that
 * model (the Pentium Pro SYSENTER quirk needs model < 3, the Tualatin
 * cache quirk model 11, constant TSC model >= 14).
 *
 * Base features (every engine implements them):
 *   FPU   x87 on chip.
 *   PSE   4 MiB pages, CR4.PSE (SDM Vol. 3A 4.3).
 *   TSC   RDTSC, CR4.TSD.
 *   MSR   RDMSR/WRMSR.
 *   PAE   36-bit physical addressing with 3-level paging (SDM Vol. 3A 4.4).
 *   CX8   CMPXCHG8B.
 *   SEP   SYSENTER/SYSEXIT and IA32_SYSENTER_CS/ESP/EIP (SDM Vol. 2B).
 *   PGE   global pages, CR4.PGE.
 *   CMOV  CMOVcc/FCMOVcc/FCOMI (i686 kernels require it).
 * Left out on purpose:
 *   VME, DE  virtual-8086 extensions and I/O breakpoints: not modelled.
 *   MCE, MCA machine checks: a virtual board has none to report.
 *   APIC     the board has only the 8259A pair.
 *   MTRR, PAT memory types: meaningless for guest RAM, and their MSRs are
 *            not modelled.
 *   PSE36, CLFSH, and everything in leaf 1 ECX (SSE3 and later).
 * Options (enum hlp_cpu_option): MMX, FXSR, SSE, SSE2.
 *
 * No hypervisor bit (CPUID.01H:ECX[31]): there are no hypervisor leaves
 * behind it, and guests then treat the CPU as the bare P6 it describes. */
#include "vmm_helpers/vmm_helpers.h"

#include <string.h>

/* The bit positions of Table 3-11, checked against the masks written in
 * hex so a mistyped shift cannot go unnoticed. */
_Static_assert(HLP_CPUID_FPU == 0x00000001u, "CPUID.01H:EDX.FPU is bit 0");
_Static_assert(HLP_CPUID_PSE == 0x00000008u, "CPUID.01H:EDX.PSE is bit 3");
_Static_assert(HLP_CPUID_TSC == 0x00000010u, "CPUID.01H:EDX.TSC is bit 4");
_Static_assert(HLP_CPUID_MSR == 0x00000020u, "CPUID.01H:EDX.MSR is bit 5");
_Static_assert(HLP_CPUID_PAE == 0x00000040u, "CPUID.01H:EDX.PAE is bit 6");
_Static_assert(HLP_CPUID_CX8 == 0x00000100u, "CPUID.01H:EDX.CX8 is bit 8");
_Static_assert(HLP_CPUID_APIC == 0x00000200u, "CPUID.01H:EDX.APIC is bit 9");
_Static_assert(HLP_CPUID_SEP == 0x00000800u, "CPUID.01H:EDX.SEP is bit 11");
_Static_assert(HLP_CPUID_PGE == 0x00002000u, "CPUID.01H:EDX.PGE is bit 13");
_Static_assert(HLP_CPUID_CMOV == 0x00008000u, "CPUID.01H:EDX.CMOV is bit 15");
_Static_assert(HLP_CPUID_CLFSH == 0x00080000u, "CPUID.01H:EDX.CLFSH is bit 19");
_Static_assert(HLP_CPUID_MMX == 0x00800000u, "CPUID.01H:EDX.MMX is bit 23");
_Static_assert(HLP_CPUID_FXSR == 0x01000000u, "CPUID.01H:EDX.FXSR is bit 24");
_Static_assert(HLP_CPUID_SSE == 0x02000000u, "CPUID.01H:EDX.SSE is bit 25");
_Static_assert(HLP_CPUID_SSE2 == 0x04000000u, "CPUID.01H:EDX.SSE2 is bit 26");

#define BASE_EDX1                                                                     \
    (HLP_CPUID_FPU | HLP_CPUID_PSE | HLP_CPUID_TSC | HLP_CPUID_MSR | HLP_CPUID_PAE | \
     HLP_CPUID_CX8 | HLP_CPUID_SEP | HLP_CPUID_PGE | HLP_CPUID_CMOV)

/* Leaf 1 EAX (Figure 3-6): stepping [3:0], model [7:4], family [11:8],
 * type [13:12] = 0 (original OEM processor); family 6 needs no extended
 * family, model 13 no extended model. */
#define SIGNATURE_FAMILY 6u
#define SIGNATURE_MODEL 13u
#define SIGNATURE_STEPPING 8u
#define SIGNATURE ((SIGNATURE_FAMILY << 8) | (SIGNATURE_MODEL << 4) | SIGNATURE_STEPPING)
_Static_assert(SIGNATURE == 0x6D8u, "family 6 model 13 stepping 8");

/* Leaf 1 only: leaf 2's cache and TLB descriptors would describe caches
 * this CPU does not model (Linux skips them below level 2). */
#define MAX_LEAF 1u
/* Through the brand string. */
#define MAX_EXT_LEAF 0x80000004u

static const char vendor[12] = {'G', 'e', 'n', 'u', 'i', 'n', 'e', 'I', 'n', 't', 'e', 'l'};
/* 48 bytes, NUL-terminated (SDM Vol. 2A, "The Processor Brand String Method"). */
static const char brand[48] = "popek virtual CPU";

static const struct {
    unsigned option;
    uint32_t edx1;
    unsigned needs;
} options[] = {
    {HLP_CPU_MMX, HLP_CPUID_MMX, 0},
    {HLP_CPU_FXSR, HLP_CPUID_FXSR, 0},
    {HLP_CPU_SSE, HLP_CPUID_SSE, HLP_CPU_MMX | HLP_CPU_FXSR},
    {HLP_CPU_SSE2, HLP_CPUID_SSE2, HLP_CPU_SSE},
};

int hlp_cpu_model_init(struct hlp_cpu_model *model, unsigned opts)
{
    if (opts & ~(unsigned)HLP_CPU_ALL_OPTIONS)
        return -1;
    uint32_t edx1 = BASE_EDX1;
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (!(opts & options[i].option))
            continue;
        if ((opts & options[i].needs) != options[i].needs)
            return -1;
        edx1 |= options[i].edx1;
    }
    model->options = opts;
    model->edx1 = edx1;
    return 0;
}

uint32_t hlp_cpuid_max_leaf(const struct hlp_cpu_model *model)
{
    (void)model;
    return MAX_LEAF;
}

uint32_t hlp_cpuid_max_ext_leaf(const struct hlp_cpu_model *model)
{
    (void)model;
    return MAX_EXT_LEAF;
}

uint32_t hlp_cpu_signature(const struct hlp_cpu_model *model)
{
    (void)model;
    return SIGNATURE;
}

static uint32_t le32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Four bytes per register in EAX, EBX, ECX, EDX order, 16 per leaf. */
static struct hlp_cpuid_regs brand_leaf(uint32_t leaf)
{
    const char *p = brand + (leaf - 0x80000002u) * 16;
    return (struct hlp_cpuid_regs){le32(p), le32(p + 4), le32(p + 8), le32(p + 12)};
}

struct hlp_cpuid_regs hlp_cpuid(const struct hlp_cpu_model *model, uint32_t leaf,
                                uint32_t subleaf)
{
    (void)subleaf; /* no leaf of this model has subleaves */
    /* "If a value entered for CPUID.EAX is higher than the maximum input
     * value for basic or extended function for that processor then the
     * data for the highest basic information leaf is returned." */
    if ((leaf > MAX_LEAF && leaf < 0x80000000u) || leaf > MAX_EXT_LEAF)
        leaf = MAX_LEAF;
    switch (leaf) {
    case 0:
        /* The vendor string is EBX, EDX, ECX. */
        return (struct hlp_cpuid_regs){MAX_LEAF, le32(vendor), le32(vendor + 8), le32(vendor + 4)};
    case 1:
        /* EBX: brand index 0, CLFLUSH size and logical processor count
         * only with CLFSH and HTT, initial APIC ID 0. ECX: nothing. */
        return (struct hlp_cpuid_regs){SIGNATURE, 0, 0, model->edx1};
    case 0x80000000u:
        return (struct hlp_cpuid_regs){MAX_EXT_LEAF, 0, 0, 0};
    case 0x80000001u:
        /* No extended features (no NX, no LAHF in 64-bit mode). */
        return (struct hlp_cpuid_regs){0, 0, 0, 0};
    default:
        return brand_leaf(leaf);
    }
}
