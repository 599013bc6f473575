/* POPF, PUSHF, CLI, STI and IN against CPL and IOPL: the classic
 * Popek-Goldberg example of a sensitive but unprivileged instruction. At
 * CPL 3 with IOPL < 3, POPF changes neither IF nor IOPL and does not fault,
 * so a guest kernel deprivileged to ring 3 silently loses its CLI/STI
 * (SDM Vol. 2B POPF, Vol. 1 3.4.3, Vol. 3A 5.9, Vol. 1 19.5.1). */
#include "guest.h"

NEEDS("pm-iret");

#define UNASSIGNED_PORT 0x300
#define FL_RSVD_ZERO ((1u << 3) | (1u << 5) | (1u << 15))
#define FL_VIF (1u << 19)
#define FL_VIP (1u << 20)
/* Flags POPF may write at CPL 0 in protected mode: all but the reserved
 * bits, RF (cleared), VM, VIF and VIP (unchanged). */
#define FL_ALL_LOW22 0x003FFFFFu
#define POPF_CPL0_WRITABLE \
    (FL_ALL_LOW22 & ~(FL_RSVD_ZERO | FL_FIXED1 | FL_RF | FL_VM | FL_VIF | FL_VIP))

__asm__(".text\n"
        /* Loads EFLAGS from the argument, returns PUSHF, then clears what
         * it can (DF, NT, AC, ...) before returning. */
        "u_popf_get:\n"
        "  pushl 4(%esp)\n"
        "  popfl\n"
        "  pushfl\n"
        "  pop %eax\n"
        "  pushl $2\n"
        "  popfl\n"
        "  ret\n"
        "u_pushf:\n"
        "  pushfl\n"
        "  pop %eax\n"
        "  ret\n"
        "u_cli:\n"
        "u_cli_insn:\n"
        "  cli\n"
        "  pushfl\n"
        "  pop %eax\n"
        "  ret\n"
        "u_sti:\n"
        "u_sti_insn:\n"
        "  sti\n"
        "  pushfl\n"
        "  pop %eax\n"
        "  ret\n"
        "u_in:\n"
        "  mov $0x300, %edx\n"
        "u_in_insn:\n"
        "  inb (%dx), %al\n"
        "  movzbl %al, %eax\n"
        "  ret\n");
extern uint32_t u_popf_get(uint32_t), u_pushf(uint32_t), u_cli(uint32_t);
extern uint32_t u_sti(uint32_t), u_in(uint32_t);
extern const char u_cli_insn[], u_sti_insn[], u_in_insn[];

static uint32_t iopl(unsigned n) { return (uint32_t)n << FL_IOPL_SHIFT; }

/* EFLAGS as user code saw it: run fn at CPL 3 and return its result. */
static uint32_t at_cpl3(user_fn fn, uint32_t arg, uint32_t eflags)
{
    unsigned v = user_run(fn, arg, eflags);
    if (v != VEC_SYSCALL)
        fail("user code trapped: vector 0x%x error 0x%x eip 0x%08x", v, trap_last.error,
             trap_last.eip);
    return trap_last.eax;
}

static void cpl0(void)
{
    cli();
    check_eq("cpl0.pushf_after_cli", 0, read_eflags() & FL_IF);
    sti();
    check_eq("cpl0.pushf_after_sti", FL_IF, read_eflags() & FL_IF);
    cli();
    check_eq("cpl0.popf_sets_if", FL_IF, u_popf_get(FL_IF) & FL_IF);
    check_eq("cpl0.popf_clears_if", 0, u_popf_get(0) & FL_IF);
    check_eq("cpl0.popf_sets_iopl3", iopl(3), u_popf_get(iopl(3)) & FL_IOPL);
    check_eq("cpl0.popf_sets_iopl1", iopl(1), u_popf_get(iopl(1)) & FL_IOPL);
    check_eq("cpl0.popf_zero", FL_FIXED1, u_popf_get(0));
    /* Everything but the reserved bits, IF and TF (which would single-step). */
    uint32_t w = FL_ALL_LOW22 & ~(FL_TF | FL_IF);
    check_eq("cpl0.popf_all", (w & POPF_CPL0_WRITABLE) | FL_FIXED1, u_popf_get(w));
    check_eq("cpl0.popf_vm_rf_ignored", FL_FIXED1, u_popf_get(FL_VM | FL_RF) & ~FL_IF);
}

static void cpl3_iopl0(void)
{
    /* The saved IF really is what the kernel set: PUSHF at CPL 3 shows it. */
    check_eq("cpl3.iopl0.pushf_shows_if1", FL_IF, at_cpl3(u_pushf, 0, FL_IF) & FL_IF);
    check_eq("cpl3.iopl0.pushf_shows_if0", 0, at_cpl3(u_pushf, 0, 0) & FL_IF);
    check_eq("cpl3.iopl0.pushf_iopl", 0, at_cpl3(u_pushf, 0, 0) & FL_IOPL);
    /* POPF ignores IF and IOPL without faulting. */
    check_eq("cpl3.iopl0.popf_if1_ignored", 0, at_cpl3(u_popf_get, FL_IF, 0) & FL_IF);
    check_eq("cpl3.iopl0.popf_if0_ignored", FL_IF, at_cpl3(u_popf_get, 0, FL_IF) & FL_IF);
    check_eq("cpl3.iopl0.popf_iopl_ignored", 0, at_cpl3(u_popf_get, iopl(3), 0) & FL_IOPL);
    uint32_t w = FL_ALL_LOW22 & ~FL_TF;
    uint32_t writable = POPF_CPL0_WRITABLE & ~(FL_IF | FL_IOPL);
    check_eq("cpl3.iopl0.popf_all", (w & writable) | FL_FIXED1 | FL_IF,
             at_cpl3(u_popf_get, w, FL_IF));
    /* CLI, STI and IN are IOPL-sensitive: #GP(0) at CPL 3 > IOPL 0. */
    unsigned v = user_run(u_cli, 0, FL_IF);
    check_trap("cpl3.iopl0.cli", v == VEC_GP, VEC_GP, 0, (uint32_t)u_cli_insn);
    v = user_run(u_sti, 0, 0);
    check_trap("cpl3.iopl0.sti", v == VEC_GP, VEC_GP, 0, (uint32_t)u_sti_insn);
    v = user_run(u_in, 0, 0);
    check_trap("cpl3.iopl0.in", v == VEC_GP, VEC_GP, 0, (uint32_t)u_in_insn);
}

static void cpl3_iopl3(void)
{
    /* With IOPL 3, CPL 3 may change IF (POPF, CLI, STI) but never IOPL. */
    check_eq("cpl3.iopl3.popf_sets_if", FL_IF,
             at_cpl3(u_popf_get, FL_IF | iopl(3), iopl(3)) & FL_IF);
    check_eq("cpl3.iopl3.popf_clears_if", 0,
             at_cpl3(u_popf_get, iopl(3), FL_IF | iopl(3)) & FL_IF);
    check_eq("cpl3.iopl3.popf_iopl_kept", iopl(3), at_cpl3(u_popf_get, 0, iopl(3)) & FL_IOPL);
    check_eq("cpl3.iopl3.cli", 0, at_cpl3(u_cli, 0, FL_IF | iopl(3)) & FL_IF);
    check_eq("cpl3.iopl3.sti", FL_IF, at_cpl3(u_sti, 0, iopl(3)) & FL_IF);
    check_eq("cpl3.iopl3.in_unassigned", 0xFF, at_cpl3(u_in, 0, iopl(3)));
    /* IOPL 2 is still below CPL 3. */
    unsigned v = user_run(u_cli, 0, iopl(2));
    check_trap("cpl3.iopl2.cli", v == VEC_GP, VEC_GP, 0, (uint32_t)u_cli_insn);
}

void test_main(void)
{
    cpl0();
    cpl3_iopl0();
    cpl3_iopl3();
    check_eq("kernel.iopl_after", 0, read_eflags() & FL_IOPL);
}
