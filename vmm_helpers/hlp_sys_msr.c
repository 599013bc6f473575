/* CPUID, the time stamp counter, performance counters, model-specific
 * registers and the fast system calls (SDM Vol. 2A CPUID, Vol. 2B RDTSC,
 * RDPMC, RDMSR/WRMSR, SYSENTER/SYSEXIT; Vol. 4 chapter 2 for the MSRs a
 * P6-family processor has). */
#include "vmm_helpers/hlp_sys_internal.h"

enum {
    MSR_TSC = 0x10,
    MSR_PLATFORM_ID = 0x17,
    MSR_BIOS_SIGN_ID = 0x8B,
    MSR_SYSENTER_CS = 0x174,
    MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176,
    MSR_MISC_ENABLE = 0x1A0,
};
/* IA32_MISC_ENABLE: what a write may change (fast strings); the other
 * implemented bits read back as reset and writes to them are ignored. */
#define MISC_ENABLE_RW 0x1u

/* The guest TSC runs at 1 GHz of host monotonic time plus an offset that
 * RESET and WRMSR IA32_TSC set: it never goes backwards, and an idle
 * guest sees time pass as it does. */
uint64_t hlp_tsc_read(const struct hlp_cpu *cpu)
{
    return (uint64_t)mach_now_ns() + cpu->tsc_offset;
}

/* Returns false for an MSR the popek CPU does not have (#GP(0)). The
 * local APIC (IA32_APIC_BASE), EFER, MTRRs, PAT and machine-check banks
 * are absent because CPUID does not report them. */
static bool rdmsr(struct hlp_cpu *cpu, uint32_t msr, uint64_t *v)
{
    switch (msr) {
    case MSR_TSC: *v = hlp_tsc_read(cpu); return true;
    /* Platform ID 0 and microcode revision 0 (Vol. 4 Table 2-3): a CPU
     * that needs no microcode update. */
    case MSR_PLATFORM_ID: *v = 0; return true;
    case MSR_BIOS_SIGN_ID: *v = 0; return true;
    case MSR_SYSENTER_CS: *v = cpu->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *v = cpu->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *v = cpu->sysenter_eip; return true;
    case MSR_MISC_ENABLE: *v = cpu->misc_enable; return true;
    default: return false;
    }
}

static bool wrmsr(struct hlp_cpu *cpu, uint32_t msr, uint64_t v)
{
    switch (msr) {
    case MSR_TSC: cpu->tsc_offset = v - (uint64_t)mach_now_ns(); return true;
    /* Writing the microcode-revision MSR is how software asks for the
     * revision (Vol. 3A 9.11.7.1); there is none to report. */
    case MSR_BIOS_SIGN_ID: return true;
    case MSR_SYSENTER_CS: cpu->sysenter_cs = (uint32_t)v & 0xFFFF; return true;
    case MSR_SYSENTER_ESP: cpu->sysenter_esp = (uint32_t)v; return true;
    case MSR_SYSENTER_EIP: cpu->sysenter_eip = (uint32_t)v; return true;
    case MSR_MISC_ENABLE:
        if (v & ~(uint64_t)HLP_MISC_ENABLE_RESET)
            return false;
        cpu->misc_enable = (cpu->misc_enable & ~(uint64_t)MISC_ENABLE_RW) | (v & MISC_ENABLE_RW);
        return true;
    default: return false;
    }
}

static void set_edx_eax(struct hlp_cpu *cpu, uint64_t v)
{
    cpu->gpr[HLP_EAX] = (uint32_t)v;
    cpu->gpr[HLP_EDX] = (uint32_t)(v >> 32);
}

/* SYSENTER: flat ring-0 CS and SS from IA32_SYSENTER_CS (SS = CS + 8),
 * VM, IF and RF cleared (Vol. 2B SYSENTER). */
static void sysenter(struct hlp_cpu *cpu)
{
    if (!hlp_protected(cpu) || (cpu->sysenter_cs & 0xFFFC) == 0)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint16_t sel = (uint16_t)(cpu->sysenter_cs & 0xFFFC);
    struct hlp_seg cs = {.sel = sel, .base = 0, .limit = 0xFFFFFFFFu,
                         .attr = HLP_SEG_P | HLP_SEG_S | DESC_T_CODE | DESC_T_RW |
                                 DESC_T_ACCESSED | HLP_SEG_DB | HLP_SEG_G};
    struct hlp_seg ss = {.sel = (uint16_t)(sel + 8), .base = 0, .limit = 0xFFFFFFFFu,
                         .attr = HLP_SEG_P | HLP_SEG_S | DESC_T_RW | DESC_T_ACCESSED |
                                 HLP_SEG_DB | HLP_SEG_G};
    cpu->eflags &= ~(HLP_FL_VM | HLP_FL_IF | HLP_FL_RF);
    hlp_set_cs(cpu, &cs, 0);
    cpu->seg[HLP_SS] = ss;
    cpu->gpr[HLP_ESP] = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
}

/* SYSEXIT: flat ring-3 CS = SYSENTER_CS + 16, SS = + 24, RPL 3; EIP from
 * EDX, ESP from ECX (Vol. 2B SYSEXIT). */
static void sysexit(struct hlp_cpu *cpu)
{
    if (!hlp_protected(cpu) || hlp_v86(cpu) || cpu->cpl != 0 || (cpu->sysenter_cs & 0xFFFC) == 0)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint32_t dpl3 = 3u << HLP_SEG_DPL_SHIFT;
    struct hlp_seg cs = {.sel = (uint16_t)((cpu->sysenter_cs + 16) | 3), .base = 0,
                         .limit = 0xFFFFFFFFu,
                         .attr = HLP_SEG_P | HLP_SEG_S | dpl3 | DESC_T_CODE | DESC_T_RW |
                                 DESC_T_ACCESSED | HLP_SEG_DB | HLP_SEG_G};
    struct hlp_seg ss = {.sel = (uint16_t)((cpu->sysenter_cs + 24) | 3), .base = 0,
                         .limit = 0xFFFFFFFFu,
                         .attr = HLP_SEG_P | HLP_SEG_S | dpl3 | DESC_T_RW | DESC_T_ACCESSED |
                                 HLP_SEG_DB | HLP_SEG_G};
    hlp_set_cs(cpu, &cs, 3);
    cpu->seg[HLP_SS] = ss;
    cpu->gpr[HLP_ESP] = cpu->gpr[HLP_ECX];
    cpu->eip = cpu->gpr[HLP_EDX];
}

/* RDPMC: at CPL 0, or with CR4.PCE; the two P6 counters (ECX 0, 1) exist
 * but no event selector is modelled, so they never count. */
static void rdpmc(struct hlp_cpu *cpu)
{
    bool allowed = cpu->cpl == 0 || (cpu->cr4 & (1u << 8));
    if (!allowed || cpu->gpr[HLP_ECX] > 1)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    set_edx_eax(cpu, 0);
}

bool hlp_exec_msr(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    uint64_t v;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_CPUID: {
        struct hlp_cpuid_regs r = hlp_cpuid(&cpu->model, cpu->gpr[HLP_EAX], cpu->gpr[HLP_ECX]);
        cpu->gpr[HLP_EAX] = r.eax;
        cpu->gpr[HLP_EBX] = r.ebx;
        cpu->gpr[HLP_ECX] = r.ecx;
        cpu->gpr[HLP_EDX] = r.edx;
        return true;
    }
    case ZYDIS_MNEMONIC_RDTSC:
        /* CR4.TSD restricts RDTSC to CPL 0 (V86 mode runs at CPL 3). */
        if ((cpu->cr4 & HLP_CR4_TSD) && cpu->cpl != 0)
            hlp_raise(cpu, HLP_VEC_GP, 0);
        set_edx_eax(cpu, hlp_tsc_read(cpu));
        return true;
    case ZYDIS_MNEMONIC_RDPMC:
        rdpmc(cpu);
        return true;
    case ZYDIS_MNEMONIC_RDMSR:
        hlp_require_cpl0(cpu);
        if (!rdmsr(cpu, cpu->gpr[HLP_ECX], &v))
            hlp_raise(cpu, HLP_VEC_GP, 0);
        set_edx_eax(cpu, v);
        return true;
    case ZYDIS_MNEMONIC_WRMSR:
        hlp_require_cpl0(cpu);
        v = ((uint64_t)cpu->gpr[HLP_EDX] << 32) | cpu->gpr[HLP_EAX];
        if (!wrmsr(cpu, cpu->gpr[HLP_ECX], v))
            hlp_raise(cpu, HLP_VEC_GP, 0);
        return true;
    case ZYDIS_MNEMONIC_SYSENTER:
        sysenter(cpu);
        return true;
    case ZYDIS_MNEMONIC_SYSEXIT:
        sysexit(cpu);
        return true;
    default:
        return false;
    }
}
