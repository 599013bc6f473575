/* Alignment checking (SDM Vol. 3A 6.15 interrupt 17 #AC, 2.5 CR0.AM; Vol. 1
 * 3.4.3.3 EFLAGS.AC, 4.1.1): a misaligned data access faults with #AC(0)
 * only at CPL 3 with both CR0.AM and EFLAGS.AC set; bytes never fault. */
#include "guest.h"

NEEDS("pm-iret");

#define VEC_AC 17u
#define FL_AC (1u << 18)
#define CR0_AM (1u << 18)

static uint32_t data[4] __attribute__((aligned(16)));

__asm__(".text\n"
        "u_load_dword_odd:\n"
        "  mov 4(%esp), %eax\n"
        "u_load_dword_odd_insn:\n"
        "  mov 1(%eax), %eax\n"
        "  ret\n"
        "u_store_word_odd:\n"
        "  mov 4(%esp), %eax\n"
        "u_store_word_odd_insn:\n"
        "  movw $0x1234, 1(%eax)\n"
        "  ret\n"
        "u_push_misaligned:\n"
        "  mov %esp, %ecx\n"
        "  mov 4(%esp), %esp\n"
        "u_push_misaligned_insn:\n"
        "  push %eax\n"
        "  mov %ecx, %esp\n"
        "  ret\n"
        "u_load_dword_aligned:\n"
        "  mov 4(%esp), %eax\n"
        "  mov 4(%eax), %eax\n"
        "  ret\n"
        "u_load_byte_odd:\n"
        "  mov 4(%esp), %eax\n"
        "  movzbl 3(%eax), %eax\n"
        "  ret\n");
extern uint32_t u_load_dword_odd(uint32_t), u_store_word_odd(uint32_t),
    u_push_misaligned(uint32_t), u_load_dword_aligned(uint32_t), u_load_byte_odd(uint32_t);
extern char u_load_dword_odd_insn[], u_store_word_odd_insn[], u_push_misaligned_insn[];

static void expect_ac(const char *name, user_fn fn, uint32_t arg, const char *insn)
{
    unsigned v = user_run(fn, arg, FL_AC);
    check_eqf(VEC_AC, v, "%s.vector", name);
    check_eqf(0, trap_last.error, "%s.error", name);
    check_eqf((uint32_t)insn, trap_last.eip, "%s.eip", name);
}

static void expect_no_ac(const char *name, user_fn fn, uint32_t arg, uint32_t eflags)
{
    check_eqf(VEC_SYSCALL, user_run(fn, arg, eflags), "%s.returned", name);
}

void test_main(void)
{
    data[0] = 0x44332211;
    data[1] = 0x88776655;
    write_cr0(read_cr0() | CR0_AM);
    expect_ac("ac.dword_load", u_load_dword_odd, (uint32_t)data, u_load_dword_odd_insn);
    expect_ac("ac.word_store", u_store_word_odd, (uint32_t)data, u_store_word_odd_insn);
    /* Stack accesses are data accesses too. */
    expect_ac("ac.push", u_push_misaligned, (uint32_t)&data[3] + 2, u_push_misaligned_insn);
    check_eq("ac.store_not_done", 0x44332211, data[0]);
    expect_no_ac("ac.aligned", u_load_dword_aligned, (uint32_t)data, FL_AC);
    check_eq("ac.aligned.value", 0x88776655, trap_last.eax);
    expect_no_ac("ac.byte", u_load_byte_odd, (uint32_t)data, FL_AC);
    check_eq("ac.byte.value", 0x44, trap_last.eax);
    /* EFLAGS.AC clear: no check. */
    expect_no_ac("ac.flag_clear", u_load_dword_odd, (uint32_t)data, 0);
    check_eq("ac.flag_clear.value", 0x55443322, trap_last.eax);
    /* CPL 0 with CR0.AM and EFLAGS.AC set: no check. */
    write_eflags(read_eflags() | FL_AC);
    volatile uint32_t *odd = (volatile uint32_t *)((uint8_t *)data + 1);
    check_eq("ac.cpl0", 0x55443322, *odd);
    write_eflags(read_eflags() & ~FL_AC);
    /* CR0.AM clear: no check at CPL 3 either. */
    write_cr0(read_cr0() & ~CR0_AM);
    expect_no_ac("ac.am_clear", u_load_dword_odd, (uint32_t)data, FL_AC);
}
