/* The sensitive but unprivileged system-register reads: SGDT, SIDT, SLDT,
 * STR and SMSW run at CPL 3 without faulting and return what the kernel
 * loaded (CR4.UMIP clear). A VMM that deprivileges its guest kernel must
 * hide its own tables here; these are why x86 fails Popek and Goldberg's
 * condition (SDM Vol. 2B SGDT/SIDT/SLDT/SMSW/STR, Vol. 3A 2.8). Their
 * privileged neighbours fault (#GP(0), SDM Vol. 3A 5.9). */
#include "guest.h"

NEEDS("pm-iret");

struct sysregs {
    struct dtr gdtr;
    uint16_t pad0;
    struct dtr idtr;
    uint16_t pad1;
    uint32_t ldtr_r32, tr_r32, tr_m16, msw_m16, msw_r16;
    uint32_t cpuid0_eax, cpuid0_ebx;
};

static volatile struct sysregs at_cpl3;

static uint32_t read_sysregs(uint32_t arg)
{
    volatile struct sysregs *r = &at_cpl3;
    uint32_t v;
    (void)arg;
    __asm__ volatile("sgdt %0" : "=m"(r->gdtr));
    __asm__ volatile("sidt %0" : "=m"(r->idtr));
    /* The r32 forms clear bits 31:16 on P6 and later (SDM SLDT, STR). */
    v = 0xDEADBEEF;
    __asm__ volatile("sldt %0" : "+r"(v));
    r->ldtr_r32 = v;
    v = 0xDEADBEEF;
    __asm__ volatile("str %0" : "+r"(v));
    r->tr_r32 = v;
    uint16_t m = 0xBEEF;
    __asm__ volatile("str %0" : "=m"(m));
    r->tr_m16 = m;
    m = 0xBEEF;
    __asm__ volatile("smsw %0" : "=m"(m));
    r->msw_m16 = m;
    v = 0xDEADBEEF;
    __asm__ volatile("smsw %w0" : "+r"(v));
    r->msw_r16 = v;
    struct cpuid_regs c = cpuid(0, 0);
    r->cpuid0_eax = c.eax;
    r->cpuid0_ebx = c.ebx;
    return 0x5E5;
}

__asm__(".text\n"
        "u_rdtsc:\n"
        "u_rdtsc_insn:\n"
        "  rdtsc\n"
        "  mov $1, %eax\n"
        "  ret\n"
        "u_rdmsr:\n"
        "  mov $0x174, %ecx\n"
        "u_rdmsr_insn:\n"
        "  rdmsr\n"
        "  ret\n"
        "u_lgdt:\n"
        "u_lgdt_insn:\n"
        "  lgdt (%esp)\n"
        "  ret\n"
        "u_mov_from_dr7:\n"
        "u_mov_from_dr7_insn:\n"
        "  mov %dr7, %eax\n"
        "  ret\n"
        "u_clts:\n"
        "u_clts_insn:\n"
        "  clts\n"
        "  ret\n");
extern uint32_t u_rdtsc(uint32_t), u_rdmsr(uint32_t), u_lgdt(uint32_t);
extern uint32_t u_mov_from_dr7(uint32_t), u_clts(uint32_t);
extern const char u_rdtsc_insn[], u_rdmsr_insn[], u_lgdt_insn[], u_mov_from_dr7_insn[];
extern const char u_clts_insn[];

static void reads(void)
{
    struct dtr gdtr = sgdt(), idtr = sidt();
    struct cpuid_regs c0 = cpuid(0, 0);
    unsigned v = user_run(read_sysregs, 0, 0);
    check_eq("cpl3.ran", VEC_SYSCALL, v);
    check_eq("cpl3.result", 0x5E5, trap_last.eax);
    check_eq("cpl3.sgdt_base", gdtr.base, at_cpl3.gdtr.base);
    check_eq("cpl3.sgdt_base_is_kernel_gdt", (uint32_t)rt_gdt, at_cpl3.gdtr.base);
    check_eq("cpl3.sgdt_limit", gdtr.limit, at_cpl3.gdtr.limit);
    check_eq("cpl3.sidt_base", idtr.base, at_cpl3.idtr.base);
    check_eq("cpl3.sidt_limit", 256 * 8 - 1, at_cpl3.idtr.limit);
    check_eq("cpl3.sldt_r32", SEL_LDT, at_cpl3.ldtr_r32);
    check_eq("cpl3.str_r32", SEL_TSS, at_cpl3.tr_r32);
    check_eq("cpl3.str_m16", SEL_TSS, at_cpl3.tr_m16);
    check_eq("cpl3.smsw_m16", read_cr0() & 0xFFFF, at_cpl3.msw_m16);
    /* SMSW r16 writes AX only. */
    check_eq("cpl3.smsw_r16", 0xDEAD0000 | (read_cr0() & 0xFFFF), at_cpl3.msw_r16);
    check_eq("cpl3.smsw_value", CR0_PE | CR0_ET | CR0_NE, at_cpl3.msw_m16);
    check_eq("cpl3.cpuid0_eax", c0.eax, at_cpl3.cpuid0_eax);
    check_eq("cpl3.cpuid0_ebx", c0.ebx, at_cpl3.cpuid0_ebx);
    /* SMSW follows CR0: set TS (bit 3). */
    write_cr0(read_cr0() | (1u << 3));
    user_run(read_sysregs, 0, 0);
    check_eq("cpl3.smsw_sees_ts", CR0_PE | CR0_ET | CR0_NE | (1u << 3), at_cpl3.msw_m16);
    write_cr0(read_cr0() & ~(1u << 3));
}

static void privileged(void)
{
    unsigned v = user_run(u_rdtsc, 0, 0);
    check_eq("cpl3.rdtsc_tsd0.vector", VEC_SYSCALL, v);
    check_eq("cpl3.rdtsc_tsd0.result", 1, trap_last.eax);
    /* CR4.TSD restricts RDTSC to CPL 0 (SDM Vol. 2B RDTSC). */
    write_cr4(read_cr4() | CR4_TSD);
    v = user_run(u_rdtsc, 0, 0);
    check_trap("cpl3.rdtsc_tsd1", v == VEC_GP, VEC_GP, 0, (uint32_t)u_rdtsc_insn);
    write_cr4(read_cr4() & ~CR4_TSD);
    v = user_run(u_rdmsr, 0, 0);
    check_trap("cpl3.rdmsr", v == VEC_GP, VEC_GP, 0, (uint32_t)u_rdmsr_insn);
    v = user_run(u_lgdt, 0, 0);
    check_trap("cpl3.lgdt", v == VEC_GP, VEC_GP, 0, (uint32_t)u_lgdt_insn);
    v = user_run(u_mov_from_dr7, 0, 0);
    check_trap("cpl3.mov_from_dr7", v == VEC_GP, VEC_GP, 0, (uint32_t)u_mov_from_dr7_insn);
    v = user_run(u_clts, 0, 0);
    check_trap("cpl3.clts", v == VEC_GP, VEC_GP, 0, (uint32_t)u_clts_insn);
    /* The GDT the kernel loaded is still in place. */
    check_eq("cpl0.gdtr_unchanged", (uint32_t)rt_gdt, sgdt().base);
}

void test_main(void)
{
    reads();
    privileged();
}
