/* Software interrupts at CPL 0: INT3 and INTO are traps (saved EIP after
 * the instruction), INT n checks the gate before the present bit (SDM
 * Vol. 2A INT n/INTO/INT3/INT1, Vol. 3A 6.12-6.13). The handler returns by
 * IRET: these need an engine that can run INT n and IRET in protected
 * mode. */
#include "guest.h"

NEEDS("pm-iret");

#define VEC_SOFT 0x40
#define VEC_NOT_PRESENT 0x90
#define VEC_BAD_TYPE 0x91

__asm__(".text\n"
        "s_int3:\n"
        "  stc\n"
        "  int3\n"
        "s_int3_next:\n"
        "  ret\n"
        /* The two-byte form CD 03 is INT 3 too, with its own length. */
        "s_int_3:\n"
        "  int $3\n"
        "s_int_3_next:\n"
        "  ret\n"
        "s_into_set:\n"
        "  mov $0x7fffffff, %eax\n"
        "  add $1, %eax\n"
        "  into\n"
        "s_into_set_next:\n"
        "  ret\n"
        "s_into_clear:\n"
        "  xor %eax, %eax\n"
        "  into\n"
        "  ret\n"
        "s_int_soft:\n"
        "  mov $5, %eax\n"
        "  int $0x40\n"
        "s_int_soft_next:\n"
        "  ret\n"
        "s_int_not_present:\n"
        "s_int_not_present_insn:\n"
        "  int $0x90\n"
        "  ret\n"
        "s_int_bad_type:\n"
        "s_int_bad_type_insn:\n"
        "  int $0x91\n"
        "  ret\n");
extern void s_int3(void), s_int_3(void), s_into_set(void), s_into_clear(void);
extern void s_int_not_present(void), s_int_bad_type(void);
extern uint32_t s_int_soft(void);
extern const char s_int3_next[], s_int_3_next[], s_into_set_next[], s_int_soft_next[];
extern const char s_int_not_present_insn[], s_int_bad_type_insn[];

static volatile uint32_t soft_eip, soft_eflags;

static void soft_handler(struct trap_frame *f)
{
    soft_eip = f->eip;
    soft_eflags = read_eflags();
    f->eax *= 3;
}

void test_main(void)
{
    bool t = TRY_FAULT(s_int3());
    check_trap("bp.int3", t, VEC_BP, 0, (uint32_t)s_int3_next);
    check_eq("bp.int3.eflags_cf_if", FL_FIXED1 | FL_CF,
             trap_last.eflags & (FL_FIXED1 | FL_CF | FL_IF));
    t = TRY_FAULT(s_int_3());
    check_trap("bp.int_3", t, VEC_BP, 0, (uint32_t)s_int_3_next);
    t = TRY_FAULT(s_into_set());
    check_trap("of.into_set", t, VEC_OF, 0, (uint32_t)s_into_set_next);
    check_eq("of.into_clear.no_trap", 0, TRY_FAULT(s_into_clear()));

    /* Through a DPL 0 interrupt gate and back by IRET. */
    idt_set_gate(VEC_SOFT, idt_stub(VEC_SOFT), SEL_KCODE, GATE_INT32, 0, true);
    idt_set_handler(VEC_SOFT, soft_handler);
    sti();
    uint32_t r = s_int_soft();
    uint32_t after = read_eflags();
    cli();
    check_eq("int_n.result", 15, r);
    check_eq("int_n.saved_eip", (uint32_t)s_int_soft_next, soft_eip);
    check_eq("int_n.handler_if_cleared", 0, soft_eflags & FL_IF);
    check_eq("int_n.iret_restores_if", FL_IF, after & FL_IF);

    /* A gate with a valid type but P = 0: #NP(n * 8 + 2), the IDT bit set
     * (SDM Vol. 3A 6.13). */
    idt_set_gate(VEC_NOT_PRESENT, idt_stub(VEC_NOT_PRESENT), SEL_KCODE, GATE_INT32, 0, false);
    t = TRY_FAULT(s_int_not_present());
    check_trap("np.int_gate_not_present", t, VEC_NP, VEC_NOT_PRESENT * 8 + 2,
               (uint32_t)s_int_not_present_insn);
    /* An all-zero entry has no valid gate type, which is checked first. */
    idt_set_gate(VEC_BAD_TYPE, 0, 0, 0, 0, false);
    t = TRY_FAULT(s_int_bad_type());
    check_trap("gp.int_gate_bad_type", t, VEC_GP, VEC_BAD_TYPE * 8 + 2,
               (uint32_t)s_int_bad_type_insn);
}
