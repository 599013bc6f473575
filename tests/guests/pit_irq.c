/* Timer interrupts: the 8254 PIT in mode 2 at 1 kHz on IRQ 0 through the
 * remapped 8259A, woken from HLT (SDM Vol. 3A 6.8.1; 8259A and 82C54
 * datasheets). */
#include "guest.h"

NEEDS("pm-iret");

#define PIT_DIVISOR 1193 /* ~1 kHz */
#define WAKEUPS 10
#define POLL_LIMIT 200000

static volatile uint32_t ticks, tick_vector, isr_in_handler;

static void irq0_handler(struct trap_frame *f)
{
    ticks++;
    tick_vector = f->vector;
    if (ticks == 1)
        isr_in_handler = pic_read_isr();
    pic_eoi(0);
}

static void sti_hlt_cli(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }

/* Polls the channel 0 count until it has reloaded `reloads` times (the
 * count goes up) or, when irr_bit is not 0, until that IRR bit is set.
 * True when the IRR bit was seen (irr_bit != 0) or all reloads happened. */
static bool wait_reloads(unsigned reloads, uint16_t irr_bit)
{
    uint16_t prev = pit_read_count0();
    for (unsigned i = 0; i < POLL_LIMIT && reloads; i++) {
        if (irr_bit && (pic_read_irr() & irr_bit))
            return true;
        uint16_t now = pit_read_count0();
        if (now > prev)
            reloads--;
        prev = now;
    }
    return !irr_bit && reloads == 0;
}

void test_main(void)
{
    idt_set_handler(VEC_IRQ0, irq0_handler);
    check_eq("pic.all_masked", 0xFFFF, pic_read_imr());
    pit_periodic(PIT_DIVISOR);
    uint16_t count = pit_read_count0();
    check_true("pit.count_in_range", count >= 1 && count <= PIT_DIVISOR);

    pic_unmask(0);
    check_eq("pic.irq0_unmasked", 0xFFFE, pic_read_imr());
    for (int i = 0; i < WAKEUPS; i++)
        sti_hlt_cli();
    /* Each HLT ends only with an interrupt: at least one tick per wake-up. */
    check_true("irq0.ticks_at_least_wakeups", ticks >= WAKEUPS);
    check_eq("irq0.vector", VEC_IRQ0, tick_vector);
    check_eq("irq0.isr_in_handler", 0x0001, isr_in_handler);
    check_eq("irq0.isr_after_eoi", 0, pic_read_isr());

    /* A masked edge is still latched in the IRR and is delivered once the
     * line is unmasked (8259A datasheet, "Interrupt mask register"). */
    pic_mask(0);
    uint32_t before = ticks;
    check_true("pit.reloads_while_masked", wait_reloads(3, 0));
    /* The PIT's edges may reach the PIC late (they do on QEMU, whose timers
     * run apart from the CPU): allow up to 50 periods. */
    check_true("irq0.masked_irr_latched", wait_reloads(50, 0x0001));
    check_eq("irq0.masked_no_delivery", 0, ticks - before);
    pic_unmask(0);
    sti_hlt_cli();
    check_true("irq0.delivered_after_unmask", ticks > before);
    pic_mask(0);
}
