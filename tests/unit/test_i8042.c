/* The 8042 keyboard controller at 0x60/0x64: self-tests, the command byte,
 * the output port with A20 and reset, and its interplay with port 0x92. */
#include "device_fixture.h"

static struct dev_fixture fx;
static struct machine *m;

static void setup(void) { m = dev_machine(&fx, 1); }
static void teardown(void) { dev_free(&fx); }

TestSuite(i8042, .init = setup, .fini = teardown);

/* What a guest does: wait for an empty input buffer, write. */
static void kbc_command(uint8_t cmd)
{
    cr_assert_eq(inb(m, 0x64) & 0x02, 0);
    outb(m, 0x64, cmd);
}

static uint8_t kbc_read(void)
{
    cr_assert(inb(m, 0x64) & 0x01, "output buffer empty");
    return inb(m, 0x60);
}

Test(i8042, status_at_power_on)
{
    uint8_t st = inb(m, 0x64);
    cr_assert_eq(st & 0x03, 0);    /* both buffers empty */
    cr_assert_eq(st & 0x10, 0x10); /* not inhibited */
    cr_assert_eq(st & 0x04, 0);    /* cold boot: self-test not run */
}

Test(i8042, self_test_and_interface_test)
{
    kbc_command(0xAA);
    cr_assert_eq(kbc_read(), 0x55);
    cr_assert_eq(inb(m, 0x64) & 0x01, 0);
    cr_assert_eq(inb(m, 0x64) & 0x04, 0x04); /* system flag */
    kbc_command(0xAB);
    cr_assert_eq(kbc_read(), 0x00);
}

Test(i8042, command_byte_read_and_write)
{
    kbc_command(0x20);
    cr_assert_eq(kbc_read(), 0x01);
    kbc_command(0x60);
    cr_assert_eq(inb(m, 0x64) & 0x08, 0x08); /* last write was a command */
    outb(m, 0x60, 0x65);
    cr_assert_eq(inb(m, 0x64) & 0x08, 0x00);
    cr_assert_eq(inb(m, 0x64) & 0x04, 0x04); /* SYS follows the command byte */
    kbc_command(0x20);
    cr_assert_eq(kbc_read(), 0x65);
    kbc_command(0xAD);
    kbc_command(0x20);
    cr_assert_eq(kbc_read(), 0x75);
    kbc_command(0xAE);
    kbc_command(0x20);
    cr_assert_eq(kbc_read(), 0x65);
}

Test(i8042, output_buffer_raises_irq1_when_enabled)
{
    pic_init_linux(m, 0xFD, 0xFF);
    kbc_command(0xAA);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x31);
    outb(m, 0x20, 0x20);
    inb(m, 0x60);
    /* With the interrupt disabled in the command byte, no IRQ1. */
    kbc_command(0x60);
    outb(m, 0x60, 0x00);
    kbc_command(0xAA);
    cr_assert_not(mach_intr_pending(m));
}

Test(i8042, a20_through_the_output_port)
{
    cr_assert(mach_a20_enabled(m));
    kbc_command(0xD0);
    cr_assert_eq(kbc_read() & 0x03, 0x03);
    kbc_command(0xD1);
    outb(m, 0x60, 0xDD);
    cr_assert_not(mach_a20_enabled(m));
    kbc_command(0xD0);
    cr_assert_eq(kbc_read() & 0x03, 0x01);
    kbc_command(0xD1);
    outb(m, 0x60, 0xDF);
    cr_assert(mach_a20_enabled(m));
    cr_assert_not(mach_exit_requested(m));
}

Test(i8042, hp_vectra_a20_commands)
{
    kbc_command(0xDD);
    cr_assert_not(mach_a20_enabled(m));
    kbc_command(0xDF);
    cr_assert(mach_a20_enabled(m));
}

static unsigned a20_events;
static bool a20_last;
static void a20_hook(void *opaque, bool on)
{
    (void)opaque;
    a20_events++;
    a20_last = on;
}

Test(i8042, a20_changes_reach_the_engine_hook)
{
    struct mach_hooks h = {.a20_changed = a20_hook};
    mach_set_hooks(m, &h);
    a20_events = 0;
    kbc_command(0xDD);
    cr_assert_eq(a20_events, 1);
    cr_assert_not(a20_last);
    kbc_command(0xDD); /* no change, no call */
    cr_assert_eq(a20_events, 1);
    outb(m, 0x92, 0x02);
    cr_assert_eq(a20_events, 2);
    cr_assert(a20_last);
}

Test(i8042, a20_is_on_while_either_gate_is)
{
    outb(m, 0x92, 0x02);
    kbc_command(0xDD);
    cr_assert(mach_a20_enabled(m)); /* port 0x92 still holds it */
    outb(m, 0x92, 0x00);
    cr_assert_not(mach_a20_enabled(m));
    kbc_command(0xDF);
    cr_assert(mach_a20_enabled(m));
}

Test(i8042, pulse_fe_resets)
{
    kbc_command(0xFE);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_RESET);
    cr_assert_eq(mach_exit_status(m), 0);
}

Test(i8042, pulsing_other_lines_does_not_reset)
{
    kbc_command(0xFF);
    kbc_command(0xF1);
    cr_assert_not(mach_exit_requested(m));
}

Test(i8042, output_port_reset_bit_low_resets)
{
    kbc_command(0xD1);
    outb(m, 0x60, 0x02);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_RESET);
}

Test(i8042, no_keyboard_answers)
{
    outb(m, 0x60, 0xFF); /* keyboard reset */
    outb(m, 0x60, 0xF2); /* identify */
    cr_assert_eq(inb(m, 0x64) & 0x01, 0);
    /* 0xD2 echoes a byte as if the keyboard had sent it. */
    kbc_command(0xD2);
    outb(m, 0x60, 0x1C);
    cr_assert_eq(kbc_read(), 0x1C);
}
