/* CLI, STI, PUSHFD and POPFD at CPL 0 as a kernel uses them for its
 * interrupt masking (local_irq_save/restore), run in hot loops so a
 * translator runs them inline, plus where a pending interrupt is taken
 * after them: STI holds interrupts off for one more instruction (SDM
 * Vol. 3A 6.8.3), so "sti; hlt" with an interrupt waiting halts first
 * and the interrupt returns past the HLT; POPFD that sets IF has no such
 * shadow (Vol. 2B POPF), so the interrupt comes right after it. */
#include "guest.h"

NEEDS("pm-iret");

#define PIT_DIVISOR 1193 /* ~1 kHz */
#define WAIT_LIMIT 100000000u

static volatile uint32_t ticks, irq_eip;

static void irq0_handler(struct trap_frame *f)
{
    ticks++;
    irq_eip = f->eip;
    pic_eoi(0);
}

/* Spins with IF = 0 until IRQ 0 is requested at the PIC (IRR bit 0). */
static bool wait_irq0_pending(void)
{
    for (uint32_t i = 0; i < WAIT_LIMIT; i++)
        if (pic_read_irr() & 1)
            return true;
    return false;
}

extern const char after_sti_hlt[], after_sti_nop[], after_popf[];

/* sti; hlt with IRQ 0 waiting: taken inside HLT, the frame's EIP is past it. */
static void sti_hlt(void)
{
    cli();
    check_true("sti_hlt.pending", wait_irq0_pending());
    __asm__ volatile("sti\n hlt\n"
                     ".globl after_sti_hlt\n after_sti_hlt:\n cli" ::: "memory");
    check_eq("sti_hlt.irq_after_hlt", (uint32_t)(uintptr_t)after_sti_hlt, irq_eip);
}

/* sti; nop: the NOP runs in the shadow, the interrupt comes after it. */
static void sti_nop(void)
{
    cli();
    check_true("sti_nop.pending", wait_irq0_pending());
    __asm__ volatile("sti\n nop\n"
                     ".globl after_sti_nop\n after_sti_nop:\n nop\n nop\n cli" ::: "memory");
    check_eq("sti_nop.irq_after_nop", (uint32_t)(uintptr_t)after_sti_nop, irq_eip);
}

/* sti; cli: the shadow covers the CLI, so nothing is taken at all. */
static void sti_cli(void)
{
    cli();
    check_true("sti_cli.pending", wait_irq0_pending());
    uint32_t before = ticks;
    __asm__ volatile("sti\n cli\n"
                     "" ::: "memory");
    check_true("sti_cli.not_taken", ticks == before);
    check_true("sti_cli.still_pending", pic_read_irr() & 1);
}

/* popfd with IF set: the interrupt is taken right after the POPFD. */
static void popf_if(void)
{
    cli();
    check_true("popf.pending", wait_irq0_pending());
    uint32_t fl = read_eflags() | FL_IF;
    __asm__ volatile("pushl %0\n popfl\n"
                     ".globl after_popf\n after_popf:\n nop\n cli"
                     :
                     : "r"(fl)
                     : "memory", "cc");
    check_eq("popf.irq_after_popf", (uint32_t)(uintptr_t)after_popf, irq_eip);
}

/* local_irq_save/restore in a hot loop: PUSHFD image with every
 * combination of the arithmetic flags, DF, IOPL, NT, AC and ID the loop
 * sets through POPFD, IF saved and restored around CLI. */
static void save_restore_loop(void)
{
    /* IF only with no DF or NT: the timer handler runs with them. */
    static const uint32_t sys[] = {0, FL_IOPL, FL_NT, FL_AC, FL_ID, FL_DF};
    uint32_t images = 0, n_if = 0;
    cli();
    for (uint32_t i = 0; i < 20000; i++) {
        bool with_if = i % 6 == 0 && (i & 64);
        uint32_t want = FL_FIXED1 | (i & 0x8D5) | sys[i % 6] | (with_if ? FL_IF : 0);
        n_if += with_if;
        uint32_t got, in_cli, after;
        __asm__ volatile("pushl %3\n popfl\n"   /* set the image */
                         "pushfl\n pop %0\n"    /* save */
                         "cli\n"
                         "pushfl\n pop %1\n"
                         "pushl %0\n popfl\n"   /* restore */
                         "pushfl\n pop %2\n"
                         "pushl $2\n popfl"     /* IF = 0 again, everything clear */
                         : "=&r"(got), "=&r"(in_cli), "=&r"(after)
                         : "r"(want)
                         : "memory", "cc");
        images |= got ^ want;
        images |= in_cli ^ (want & ~FL_IF);
        images |= after ^ want;
    }
    check_eq("loop.images_exact", 0, images);
    check_eq("loop.with_if", 1664, n_if);
}

/* PUSHFD/POPFD must leave the arithmetic flags of the code around them
 * alone: CF from before a PUSHFD/CLI/STI run is still there after. */
static void flags_kept(void)
{
    uint32_t cf = 0, zf = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        uint8_t c, z;
        __asm__ volatile("xor %%eax, %%eax\n stc\n"     /* ZF=1 CF=1 */
                         "pushfl\n cli\n sti\n cli\n pushfl\n lea 8(%%esp), %%esp\n"
                         "setc %0\n setz %1"
                         : "=r"(c), "=r"(z)
                         :
                         : "eax", "memory", "cc");
        cf += c;
        zf += z;
    }
    check_eq("kept.cf", 10000, cf);
    check_eq("kept.zf", 10000, zf);
}

void test_main(void)
{
    idt_set_handler(VEC_IRQ0, irq0_handler);
    pit_periodic(PIT_DIVISOR);
    pic_unmask(0);
    save_restore_loop();
    flags_kept();
    for (int round = 0; round < 3; round++) {
        sti_hlt();
        sti_nop();
        sti_cli();
        popf_if();
    }
    cli();
}
