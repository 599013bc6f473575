/* Exceptions during the delivery of another (SDM Vol. 3A 6.15, Table 6-5,
 * interrupt 8): contributory after contributory is a double fault with
 * error code 0; a contributory fault while delivering a benign exception
 * is simply delivered. Without paging and without IRET: the #DF and the
 * second fault are caught at CPL 0 (TRY_FAULT). */
#include "guest.h"

enum {
    G_CODE_NP = GDT_FIRST_FREE, /* code segment, not present */
};
#define SEL(i) ((uint16_t)((i) << 3))

__asm__(".text\n"
        "f_bad_ds:\n"
        "  mov $0x80, %eax\n"
        "f_bad_ds_insn:\n"
        "  mov %eax, %ds\n"
        "  ret\n"
        "f_div0:\n"
        "  xor %edx, %edx\n"
        "  xor %ecx, %ecx\n"
        "  mov $1, %eax\n"
        "f_div0_insn:\n"
        "  div %ecx\n"
        "  ret\n"
        "f_ud:\n"
        "f_ud_insn:\n"
        "  ud2\n"
        "  ret\n");
NEEDS("nested-exceptions");

extern void f_bad_ds(void), f_div0(void), f_ud(void);
extern const char f_bad_ds_insn[], f_div0_insn[], f_ud_insn[];

/* Error code of a fault on IDT entry v: index, IDT = 1, EXT = 1 (the
 * fault happened delivering an exception; 6.13). */
#define IDT_ERR(v) (((v) << 3) | 2u | 1u)

void test_main(void)
{
    uint32_t gp_stub = idt_stub(VEC_GP), de_stub = idt_stub(VEC_DE), ud_stub = idt_stub(VEC_UD);

    /* #GP whose IDT gate is not present: #NP during #GP -> #DF(0). */
    idt_set_gate(VEC_GP, gp_stub, SEL_KCODE, GATE_INT32, 0, false);
    bool t = TRY_FAULT(f_bad_ds());
    idt_set_gate(VEC_GP, gp_stub, SEL_KCODE, GATE_INT32, 0, true);
    check_eq("gp_gate_np.trapped", 1, t);
    check_eq("gp_gate_np.vector", VEC_DF, trap_last.vector);
    check_eq("gp_gate_np.error", 0, trap_last.error);

    /* #DE whose gate names a not-present code segment: #NP(sel) during
     * #DE -> #DF(0). */
    gdt_set(G_CODE_NP, desc_make(0, 0xFFFFF, DESC_S | DESC_CODE | DESC_READABLE,
                                 DESC_G | DESC_DB));
    idt_set_gate(VEC_DE, de_stub, SEL(G_CODE_NP), GATE_INT32, 0, true);
    t = TRY_FAULT(f_div0());
    check_eq("de_cs_np.trapped", 1, t);
    check_eq("de_cs_np.vector", VEC_DF, trap_last.vector);
    check_eq("de_cs_np.error", 0, trap_last.error);

    /* #DE whose gate selector is beyond the GDT: #GP during #DE -> #DF. */
    idt_set_gate(VEC_DE, de_stub, SEL(GDT_ENTRIES + 2), GATE_INT32, 0, true);
    t = TRY_FAULT(f_div0());
    idt_set_gate(VEC_DE, de_stub, SEL_KCODE, GATE_INT32, 0, true);
    check_eq("de_cs_beyond_gdt.vector", VEC_DF, trap_last.vector);
    check_eq("de_cs_beyond_gdt.error", 0, trap_last.error);

    /* #UD is benign: #NP on its gate is delivered as such, with the IDT
     * entry in the error code and the EIP of the UD2. */
    idt_set_gate(VEC_UD, ud_stub, SEL_KCODE, GATE_INT32, 0, false);
    t = TRY_FAULT(f_ud());
    idt_set_gate(VEC_UD, ud_stub, SEL_KCODE, GATE_INT32, 0, true);
    check_trap("ud_gate_np", t, VEC_NP, IDT_ERR(VEC_UD), (uint32_t)f_ud_insn);

    /* Everything still works after the double faults. */
    t = TRY_FAULT(f_div0());
    check_trap("de_normal", t, VEC_DE, 0, (uint32_t)f_div0_insn);
}
