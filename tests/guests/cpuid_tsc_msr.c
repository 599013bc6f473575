/* CPUID, the time-stamp counter and MSRs at CPL 0 (SDM Vol. 2A CPUID,
 * Vol. 2B RDTSC, RDMSR, WRMSR; Vol. 3B 17.17; Vol. 4 MSR list). Values that
 * differ between CPUs (vendor, family, TSC readings) are only checked for
 * consistency, so every engine prints the same CHECK lines. */
#include "guest.h"

#define CPUID1_EDX_TSC (1u << 4)
#define CPUID1_EDX_MSR (1u << 5)
#define CPUID1_EDX_PSE (1u << 3)
#define CPUID1_EDX_SEP (1u << 11)
#define MSR_IA32_TSC 0x10
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_NONEXISTENT 0x4B564D99u /* in no vendor's MSR space */

static bool printable(uint32_t w)
{
    for (int i = 0; i < 4; i++, w >>= 8)
        if ((w & 0xFF) < 0x20 || (w & 0xFF) > 0x7E)
            return false;
    return true;
}

static void cpuid_leaves(void)
{
    struct cpuid_regs l0 = cpuid(0, 0);
    char vendor[13];
    memcpy(vendor, &l0.ebx, 4);
    memcpy(vendor + 4, &l0.edx, 4);
    memcpy(vendor + 8, &l0.ecx, 4);
    vendor[12] = 0;
    kprintf("cpuid: max leaf 0x%x, vendor %s\n", l0.eax, vendor);
    check_true("cpuid0.max_leaf_at_least_1", l0.eax >= 1);
    check_true("cpuid0.vendor_printable", printable(l0.ebx) && printable(l0.edx) &&
                                              printable(l0.ecx));
    struct cpuid_regs again = cpuid(0, 0);
    check_true("cpuid0.stable", again.eax == l0.eax && again.ebx == l0.ebx &&
                                    again.ecx == l0.ecx && again.edx == l0.edx);
    struct cpuid_regs l1 = cpuid(1, 0);
    struct cpuid_regs l1b = cpuid(1, 0);
    /* EAX (signature), ECX and EDX (features) never change; EBX[31:24] is
     * the initial APIC ID of the CPU that runs it, also fixed here. */
    check_true("cpuid1.stable", l1.eax == l1b.eax && l1.ecx == l1b.ecx && l1.edx == l1b.edx);
    uint32_t family = (l1.eax >> 8) & 0xF;
    check_true("cpuid1.family_p6_or_later", family >= 6);
    uint32_t need = CPUID1_EDX_TSC | CPUID1_EDX_MSR | CPUID1_EDX_PSE | CPUID1_EDX_SEP;
    check_eq("cpuid1.edx_tsc_msr_pse_sep", need, l1.edx & need);
    /* The extended range reports its own maximum (>= 0x80000000). */
    struct cpuid_regs e0 = cpuid(0x80000000u, 0);
    check_true("cpuid80000000.max_ext_leaf", e0.eax >= 0x80000000u && e0.eax < 0x80010000u);
}

static void tsc(void)
{
    uint64_t prev = rdtsc();
    bool increasing = true;
    for (int i = 0; i < 8; i++) {
        uint64_t now = rdtsc();
        increasing &= now > prev;
        prev = now;
    }
    check_true("rdtsc.strictly_increasing", increasing);
    /* IA32_TSC is the counter RDTSC reads (SDM Vol. 3B 17.17). */
    uint64_t t0 = rdtsc();
    uint64_t m = rdmsr(MSR_IA32_TSC);
    uint64_t t1 = rdtsc();
    check_true("rdmsr_tsc.between_rdtsc", t0 <= m && m <= t1);
}

static void msrs(void)
{
    wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
    check_eq("sysenter_cs.readback", SEL_KCODE, (uint32_t)rdmsr(MSR_SYSENTER_CS));
    wrmsr(MSR_SYSENTER_ESP, 0x00123450);
    check_eq("sysenter_esp.readback", 0x00123450, (uint32_t)rdmsr(MSR_SYSENTER_ESP));
    wrmsr(MSR_SYSENTER_EIP, 0x00100000);
    check_eq("sysenter_eip.readback", 0x00100000, (uint32_t)rdmsr(MSR_SYSENTER_EIP));
    wrmsr(MSR_SYSENTER_CS, 0);

    /* A reserved or unimplemented MSR: #GP(0) (SDM Vol. 2B RDMSR). */
    volatile uint64_t sink = 0;
    bool t = TRY_FAULT(sink = rdmsr(MSR_NONEXISTENT));
    check_eq("rdmsr_invalid.trapped", 1, t);
    check_eq("rdmsr_invalid.vector", VEC_GP, trap_last.vector);
    check_eq("rdmsr_invalid.error", 0, trap_last.error);
    t = TRY_FAULT(wrmsr(MSR_NONEXISTENT, 1));
    check_eq("wrmsr_invalid.trapped", 1, t);
    check_eq("wrmsr_invalid.vector", VEC_GP, trap_last.vector);
    (void)sink;
}

void test_main(void)
{
    cpuid_leaves();
    tsc();
    msrs();
}
