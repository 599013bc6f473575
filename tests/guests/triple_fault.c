/* A triple fault (SDM Vol. 3A 6.15, interrupt 8: a fault while delivering
 * #DF shuts the processor down). With an empty IDT every delivery fails
 * past its limit: UD2 -> #GP (benign first) -> #GP again -> #DF -> shutdown. popek stops with status 6; the
 * runner expects exactly that, after a passing SUMMARY (QEMU -no-reboot
 * exits 0 instead). */
#include "guest.h"

NEEDS("nested-exceptions");
EXIT_STATUS("6");

void test_main(void)
{
    /* One level short first: #NP on the gate of #DE is a survivable #DF. */
    struct dtr idtr = sidt();
    idt_set_gate(VEC_DE, idt_stub(VEC_DE), SEL_KCODE, GATE_INT32, 0, false);
    bool t = TRY_FAULT(__asm__ volatile("xor %%edx, %%edx\n\tdivl %0" ::"r"(0u), "a"(1u)
                                        : "edx"));
    idt_set_gate(VEC_DE, idt_stub(VEC_DE), SEL_KCODE, GATE_INT32, 0, true);
    check_eq("df_first.trapped", 1, t);
    check_eq("df_first.vector", VEC_DF, trap_last.vector);
    if (!summary_print())
        finish();
    struct dtr empty = {0, idtr.base};
    __asm__ volatile("lidt %0\n\tud2" ::"m"(empty));
    fail("survived-a-triple-fault");
    finish();
}
