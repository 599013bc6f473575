/* The 8259A pair through ports 0x20/0x21, 0xA0/0xA1 and 0x4D0/0x4D1, with
 * IRQ lines driven through the machine as devices drive them. */
#include "device_fixture.h"

static struct dev_fixture fx;
static struct machine *m;

static void setup(void)
{
    m = dev_machine(&fx, 1);
    pic_init_linux(m, 0x00, 0x00);
}

static void teardown(void) { dev_free(&fx); }

TestSuite(i8259, .init = setup, .fini = teardown);

static void eoi_master(uint8_t irq) { outb(m, 0x20, 0x60 | irq); }

Test(i8259, linux_init_sequence_and_mask_readback)
{
    /* probe_8259A: the mask reads back. */
    outb(m, 0xA1, 0xFF);
    outb(m, 0x21, 0xFB);
    cr_assert_eq(inb(m, 0x21), 0xFB);
    cr_assert_eq(inb(m, 0xA1), 0xFF);
    /* A 16-bit read of 0x20 is two byte cycles: IRR then IMR. */
    cr_assert_eq(inw(m, 0x20), 0xFB00);
    outb(m, 0x21, 0x00);
    cr_assert_not(mach_intr_pending(m));
    mach_irq_pulse(m, 1);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x31);
    cr_assert_eq(pic_isr(m, 0x20), 0x02);
    cr_assert_eq(pic_irr(m, 0x20), 0x00);
    cr_assert_not(mach_intr_pending(m));
    eoi_master(1);
    cr_assert_eq(pic_isr(m, 0x20), 0x00);
}

Test(i8259, masked_requests_wait_in_the_irr)
{
    outb(m, 0x21, 0x08);
    mach_irq_pulse(m, 3);
    cr_assert_not(mach_intr_pending(m));
    cr_assert_eq(pic_irr(m, 0x20), 0x08);
    outb(m, 0x21, 0x00);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x33);
}

Test(i8259, fixed_priority_and_nesting)
{
    mach_irq_pulse(m, 3);
    mach_irq_pulse(m, 1);
    cr_assert_eq(mach_intr_ack(m), 0x31);
    /* IRQ3 has a lower priority than IRQ1, which is in service. */
    cr_assert_not(mach_intr_pending(m));
    /* IRQ0 has a higher one and nests. */
    mach_irq_pulse(m, 0);
    cr_assert_eq(mach_intr_ack(m), 0x30);
    cr_assert_eq(pic_isr(m, 0x20), 0x03);
    /* Non-specific EOI ends the highest-priority service: IRQ0. */
    outb(m, 0x20, 0x20);
    cr_assert_eq(pic_isr(m, 0x20), 0x02);
    cr_assert_not(mach_intr_pending(m));
    outb(m, 0x20, 0x20);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x33);
}

Test(i8259, the_lowest_level_in_service_blocks_nothing_above_it)
{
    mach_irq_pulse(m, 7);
    cr_assert_eq(mach_intr_ack(m), 0x37);
    mach_irq_pulse(m, 6);
    cr_assert_eq(mach_intr_ack(m), 0x36);
    mach_irq_pulse(m, 7);
    cr_assert_not(mach_intr_pending(m));
}

Test(i8259, specific_eoi_clears_only_that_level)
{
    mach_irq_pulse(m, 4);
    cr_assert_eq(mach_intr_ack(m), 0x34);
    mach_irq_pulse(m, 3); /* IRQ3 nests over IRQ4 */
    cr_assert_eq(mach_intr_ack(m), 0x33);
    eoi_master(4);
    cr_assert_eq(pic_isr(m, 0x20), 0x08);
}

Test(i8259, cascade_through_the_slave)
{
    mach_irq_pulse(m, 12);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(pic_irr(m, 0xA0), 0x10);
    cr_assert_eq(mach_intr_ack(m), 0x3C);
    cr_assert_eq(pic_isr(m, 0xA0), 0x10);
    cr_assert_eq(pic_isr(m, 0x20), 0x04);
    /* A second slave request waits: IR2 is in service on the master. */
    mach_irq_pulse(m, 14);
    cr_assert_not(mach_intr_pending(m));
    /* Linux's mask_and_ack: specific EOI to the slave, then to IR2. */
    outb(m, 0xA0, 0x60 | 4);
    outb(m, 0x20, 0x60 | 2);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x3E);
}

Test(i8259, slave_mask_blocks_the_cascade)
{
    outb(m, 0xA1, 0x01);
    mach_irq_pulse(m, 8);
    cr_assert_not(mach_intr_pending(m));
    outb(m, 0xA1, 0x00);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x38);
}

Test(i8259, spurious_irq7_when_the_request_goes_away)
{
    outb(m, 0x4D0, 0x20); /* IRQ5 level-triggered */
    mach_irq_set(m, 5, true);
    cr_assert(mach_intr_pending(m));
    mach_irq_set(m, 5, false); /* dropped before INTA */
    cr_assert_eq(mach_intr_ack(m), 0x37);
    cr_assert_eq(pic_isr(m, 0x20), 0x00);
}

Test(i8259, spurious_irq15_through_the_cascade)
{
    outb(m, 0x4D1, 0x04); /* IRQ10 level-triggered */
    mach_irq_set(m, 10, true);
    mach_irq_set(m, 10, false);
    /* The master latched the edge on IR2; the slave has nothing left. */
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x3F);
    cr_assert_eq(pic_isr(m, 0xA0), 0x00);
    cr_assert_eq(pic_isr(m, 0x20), 0x04);
}

Test(i8259, edge_requests_are_latched_and_consumed)
{
    mach_irq_set(m, 3, true);
    mach_irq_set(m, 3, false);
    cr_assert_eq(pic_irr(m, 0x20), 0x08);
    cr_assert_eq(mach_intr_ack(m), 0x33);
    cr_assert_eq(pic_irr(m, 0x20), 0x00);
    eoi_master(3);
    cr_assert_not(mach_intr_pending(m));
    /* A line held high is one edge, not a stream of requests. */
    mach_irq_set(m, 3, true);
    cr_assert_eq(mach_intr_ack(m), 0x33);
    eoi_master(3);
    mach_irq_set(m, 3, true);
    cr_assert_not(mach_intr_pending(m));
}

Test(i8259, level_requests_follow_the_line)
{
    outb(m, 0x4D0, 0x08);
    cr_assert_eq(inb(m, 0x4D0), 0x08);
    mach_irq_set(m, 3, true);
    cr_assert_eq(mach_intr_ack(m), 0x33);
    /* Still asserted: IRR stays, and after EOI the request is back. */
    cr_assert_eq(pic_irr(m, 0x20), 0x08);
    eoi_master(3);
    cr_assert(mach_intr_pending(m));
    mach_irq_set(m, 3, false);
    cr_assert_eq(pic_irr(m, 0x20), 0x00);
    cr_assert_not(mach_intr_pending(m));
}

Test(i8259, elcr_keeps_timer_keyboard_cascade_rtc_fpu_edge)
{
    outb(m, 0x4D0, 0xFF);
    outb(m, 0x4D1, 0xFF);
    cr_assert_eq(inb(m, 0x4D0), 0xF8);
    cr_assert_eq(inb(m, 0x4D1), 0xDE);
    cr_assert_eq(inw(m, 0x4D0), 0xDEF8);
}

Test(i8259, poll_mode_acknowledges_on_read)
{
    mach_irq_pulse(m, 6);
    outb(m, 0x20, 0x0C); /* OCW3: poll */
    cr_assert_eq(inb(m, 0x20), 0x86);
    cr_assert_eq(pic_isr(m, 0x20), 0x40);
    cr_assert_eq(pic_irr(m, 0x20), 0x00);
    /* The poll is for one read only; with nothing pending it reads 0. */
    eoi_master(6);
    outb(m, 0x21, 0x80);
    outb(m, 0x20, 0x0C);
    cr_assert_eq(inb(m, 0x20), 0x00);
    cr_assert_eq(inb(m, 0x21), 0x80); /* IMR again */
}

Test(i8259, auto_eoi_leaves_isr_clear)
{
    outb(m, 0x20, 0x11);
    outb(m, 0x21, 0x30);
    outb(m, 0x21, 0x04);
    outb(m, 0x21, 0x03); /* 8086 mode, AEOI */
    mach_irq_pulse(m, 5);
    cr_assert_eq(mach_intr_ack(m), 0x35);
    cr_assert_eq(pic_isr(m, 0x20), 0x00);
    mach_irq_pulse(m, 6);
    cr_assert_eq(mach_intr_ack(m), 0x36);
}

Test(i8259, icw1_resets_the_chip_state)
{
    outb(m, 0x21, 0x55);
    mach_irq_pulse(m, 1);
    cr_assert_eq(pic_irr(m, 0x20), 0x02);
    outb(m, 0x20, 0x11);
    /* Until the ICWs are complete the chip asks for nothing. */
    cr_assert_not(mach_intr_pending(m));
    outb(m, 0x21, 0x20);
    outb(m, 0x21, 0x04);
    outb(m, 0x21, 0x01);
    cr_assert_eq(inb(m, 0x21), 0x00);
    cr_assert_eq(pic_irr(m, 0x20), 0x00);
    mach_irq_pulse(m, 1);
    cr_assert_eq(mach_intr_ack(m), 0x21);
}

Test(i8259, set_priority_and_rotation)
{
    outb(m, 0x20, 0xC3); /* IR3 lowest: IR4 is the highest */
    mach_irq_pulse(m, 1);
    mach_irq_pulse(m, 5);
    cr_assert_eq(mach_intr_ack(m), 0x35);
    outb(m, 0x20, 0x20);
    cr_assert_eq(mach_intr_ack(m), 0x31);
    /* Rotate on non-specific EOI: IR1 becomes the lowest. */
    outb(m, 0x20, 0xA0);
    mach_irq_pulse(m, 1);
    mach_irq_pulse(m, 7);
    cr_assert_eq(mach_intr_ack(m), 0x37);
}

Test(i8259, special_mask_mode_lets_lower_levels_in)
{
    mach_irq_pulse(m, 3);
    cr_assert_eq(mach_intr_ack(m), 0x33);
    mach_irq_pulse(m, 5);
    cr_assert_not(mach_intr_pending(m));
    outb(m, 0x21, 0x08);  /* mask the level in service */
    outb(m, 0x20, 0x68);  /* OCW3: set special mask */
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x35);
    outb(m, 0x20, 0x48);  /* reset special mask */
    outb(m, 0x21, 0x00);
    cr_assert_eq(pic_isr(m, 0x20), 0x28);
}

Test(i8259, special_fully_nested_mode_lets_the_slave_nest)
{
    outb(m, 0x20, 0x11);
    outb(m, 0x21, 0x30);
    outb(m, 0x21, 0x04);
    outb(m, 0x21, 0x11); /* 8086 mode, SFNM */
    mach_irq_pulse(m, 12);
    cr_assert_eq(mach_intr_ack(m), 0x3C);
    mach_irq_pulse(m, 8); /* higher priority on the slave */
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x38);
    /* Without SFNM the same request waits for the master's EOI. */
    dev_free(&fx);
    m = dev_machine(&fx, 1);
    pic_init_linux(m, 0, 0);
    mach_irq_pulse(m, 12);
    cr_assert_eq(mach_intr_ack(m), 0x3C);
    mach_irq_pulse(m, 8);
    cr_assert_not(mach_intr_pending(m));
}

Test(i8259, irr_and_isr_select_is_sticky)
{
    mach_irq_pulse(m, 4);
    outb(m, 0x20, 0x0A);
    cr_assert_eq(inb(m, 0x20), 0x10);
    cr_assert_eq(inb(m, 0x20), 0x10);
    outb(m, 0x20, 0x0B);
    cr_assert_eq(inb(m, 0x20), 0x00);
    outb(m, 0x20, 0x08); /* OCW3 with RR = 0 keeps the ISR selected */
    cr_assert_eq(inb(m, 0x20), 0x00);
}
