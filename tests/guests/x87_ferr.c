/* An unmasked x87 exception with CR0.NE = 0 (MS-DOS compatibility mode,
 * SDM Vol. 1 8.7 and D.2): no #MF; the error goes out as FERR#, which a
 * PC wires to IRQ 13 (Vol. 1 D.2.1), and waiting instructions go on.
 * Where the processor asserts FERR# differs (at the end of the faulting
 * instruction on the P6, before the next waiting one on the Pentium and
 * i486, Vol. 3A 22.18.6.7); with IF clear until after the FWAIT the
 * interrupt waits in the PIC either way.
 *
 * On bt, x87 code with CR0.NE = 0 runs in the interpreter
 * (docs/bt-status.md); x87.c covers CR0.NE = 1. */
#include "guest.h"

NEEDS("x87");

#define IRQ_FERR 13
#define FSW_ZE 0x0004u /* Vol. 1 8.1.3 */
#define FSW_ES 0x0080u
#define FSW_B 0x8000u

__asm__(".data\n"
        "ferr_cw_ze: .word 0x037B\n" /* ZE unmasked */
        ".text\n"
        ".intel_syntax noprefix\n"
        "ferr_divide:\n"
        "  fldcw word ptr [ferr_cw_ze]\n"
        "  fld1\n"
        "  fldz\n"
        "  fdivp st(1), st(0)\n"
        "  fwait\n"
        "  fld1\n"
        "  ret\n"
        ".att_syntax prefix\n");
extern void ferr_divide(void);

static uint16_t fnstsw(void)
{
    uint16_t v;
    __asm__ volatile("fnstsw %0" : "=a"(v));
    return v;
}

static volatile uint32_t ferr_irqs;
static volatile uint16_t ferr_fsw;

static void on_ferr(struct trap_frame *f)
{
    (void)f;
    ferr_fsw = fnstsw();
    outb(0xF0, 0); /* clears the FERR# latch (IGNNE#) on a PC/AT */
    __asm__ volatile("fnclex" ::: "memory");
    ferr_irqs++;
    pic_eoi(IRQ_FERR);
}

void test_main(void)
{
    const uint16_t err = FSW_ES | FSW_B | FSW_ZE;
    idt_set_handler(0x28 + (IRQ_FERR - 8), on_ferr);
    pic_unmask(IRQ_FERR);
    write_cr0(read_cr0() & ~CR0_NE);
    __asm__ volatile("fninit" ::: "memory");
    bool t = TRY_FAULT(ferr_divide());
    check_eq("ferr.no_mf", 0, t);
    check_eq("ferr.before_sti", 0, ferr_irqs);
    check_eq("ferr.fsw_top5", err | 0x2800, fnstsw() & (err | 0x3800));
    __asm__ volatile("sti; nop; nop; cli" ::: "memory");
    check_eq("ferr.irq13", 1, ferr_irqs);
    check_eq("ferr.handler_fsw", err, ferr_fsw & err);
    check_eq("ferr.cleared", 0, fnstsw() & err);
    pic_mask(IRQ_FERR);
    write_cr0(read_cr0() | CR0_NE);
    __asm__ volatile("fninit" ::: "memory");
}
