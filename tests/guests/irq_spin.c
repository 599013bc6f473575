/* Timer interrupts that arrive while the guest spins with IF=1 (SDM Vol.
 * 3A 6.8.1): a translator that chains blocks and looks up returns
 * inline must still leave loops to deliver them, between instructions,
 * with the interrupted code's flags intact (SDM Vol. 3A 6.12.1: the
 * handler's IRET restores EFLAGS). */
#include "guest.h"

NEEDS("pm-iret");

#define PIT_DIVISOR 1193 /* ~1 kHz */
#define SPIN_LIMIT 200000000u

static volatile uint32_t ticks, flag;

static void irq0_handler(struct trap_frame *f)
{
    (void)f;
    ticks++;
    flag = 1;
    pic_eoi(0);
}

static __attribute__((noinline)) uint32_t leaf(uint32_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x + 1;
}

void test_main(void)
{
    idt_set_handler(VEC_IRQ0, irq0_handler);
    pit_periodic(PIT_DIVISOR);
    pic_unmask(0);
    sti();

    /* A counting loop: compare and branch back. */
    uint32_t spins = 0, t0 = ticks;
    while (ticks == t0 && spins < SPIN_LIMIT)
        spins++;
    check_true("spin.compare_loop_interrupted", ticks != t0);

    /* A loop that writes no flag: CF, set before it, must come out set
     * whatever number of interrupts hit the loop. */
    uint32_t cf;
    flag = 0;
    __asm__ volatile("stc\n"
                     "1: movl %1, %%ecx\n"
                     "jecxz 1b\n"
                     "setc %%al\n"
                     "movzbl %%al, %0"
                     : "=r"(cf)
                     : "m"(flag)
                     : "eax", "ecx", "cc", "memory");
    check_eq("spin.flagless_loop_cf_kept", 1, cf);

    /* The same with DEC in the loop, which writes every flag but CF. */
    flag = 0;
    __asm__ volatile("stc\n"
                     "1: movl %1, %%ecx\n"
                     "decl %%edx\n"
                     "jecxz 1b\n"
                     "setc %%al\n"
                     "movzbl %%al, %0"
                     : "=r"(cf)
                     : "m"(flag)
                     : "eax", "ecx", "edx", "cc", "memory");
    check_eq("spin.dec_loop_cf_kept", 1, cf);

    /* A loop through a call and its return. */
    uint32_t x = 0;
    flag = 0;
    while (!flag && x < SPIN_LIMIT)
        x = leaf(x);
    check_true("spin.call_loop_interrupted", flag == 1);

    /* OF, SF, ZF, AF, PF, CF set by one instruction and kept across a
     * long loop that leaves them alone: compared after it. */
    uint32_t before_flags, after_flags;
    flag = 0;
    __asm__ volatile("movl $0x7fffffff, %%eax\n"
                     "addl $0x7fffffff, %%eax\n" /* OF SF AF PF set, ZF CF clear */
                     "pushfl\n"
                     "popl %0\n"
                     "1: movl %2, %%ecx\n"
                     "leal 1(%%edx), %%edx\n"
                     "jecxz 1b\n"
                     "pushfl\n"
                     "popl %1"
                     : "=&r"(before_flags), "=&r"(after_flags)
                     : "m"(flag)
                     : "eax", "ecx", "edx", "cc", "memory");
    check_eq("spin.arith_flags_kept", before_flags & 0x8D5, after_flags & 0x8D5);
    cli();
    pic_mask(0);
}
