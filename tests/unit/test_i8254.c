/* The 8254 PIT and port 0x61 with a clock the test moves by hand: counting
 * in each mode, latch and read-back, channel 2 gated through port 0x61 as
 * Linux's TSC calibration uses it, and IRQ0 delivery through the PIC. */
#include "device_fixture.h"

#include <time.h>

#define PIT_HZ 1193182ull

static struct dev_fixture fx;
static struct machine *m;
static struct fake_clock clk;

/* The first nanosecond at which `ticks` input clocks have passed since
 * the origin (the last event the test counts from). */
static uint64_t origin;
static uint64_t ticks_ns(uint64_t ticks) { return (ticks * 1000000000ull + PIT_HZ - 1) / PIT_HZ; }
static uint64_t at_tick(uint64_t ticks) { return origin + ticks_ns(ticks); }
static void go_to_tick(uint64_t ticks) { clk.now = at_tick(ticks); }
static void rebase(void) { origin = clk.now; }

static void setup(void)
{
    m = dev_machine(&fx, 1);
    origin = clk.now = 1000000000000ull;
    struct mach_clock c = fake_clock_of(&clk);
    i8254_set_clock(m->pit, &c);
    pic_init_linux(m, 0xFE, 0xFF); /* only IRQ0 */
}

static void teardown(void) { dev_free(&fx); }

TestSuite(i8254, .init = setup, .fini = teardown);

static void program(unsigned channel, uint8_t mode_bits, uint16_t count)
{
    outb(m, 0x43, (uint8_t)((channel << 6) | 0x30 | mode_bits));
    outb(m, (uint16_t)(0x40 + channel), (uint8_t)count);
    outb(m, (uint16_t)(0x40 + channel), (uint8_t)(count >> 8));
}

static uint16_t latch_read(unsigned channel)
{
    outb(m, 0x43, (uint8_t)(channel << 6)); /* counter latch command */
    uint8_t lo = inb(m, (uint16_t)(0x40 + channel));
    uint8_t hi = inb(m, (uint16_t)(0x40 + channel));
    return (uint16_t)(lo | (hi << 8));
}

static bool irq0_requested(void) { return pic_irr(m, 0x20) & 1; }

static void take_irq0(void)
{
    cr_assert_eq(mach_intr_ack(m), 0x30);
    outb(m, 0x20, 0x20);
}

Test(i8254, mode2_counts_down_and_fires_every_period)
{
    program(0, 0x04, 1000); /* channel 0, lo/hi, mode 2 */
    cr_assert_eq(latch_read(0), 1000);
    go_to_tick(100);
    cr_assert_eq(latch_read(0), 900);
    go_to_tick(999);
    cr_assert_eq(latch_read(0), 1);
    cr_assert_eq(i8254_next_event_ns(m->pit, clk.now), at_tick(1000) - clk.now);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    go_to_tick(1000);
    cr_assert_eq(latch_read(0), 1000); /* reloaded */
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
    take_irq0();
    go_to_tick(1500);
    cr_assert_eq(latch_read(0), 500);
    cr_assert_eq(i8254_next_event_ns(m->pit, clk.now), at_tick(2000) - clk.now);
}

Test(i8254, missed_periods_coalesce_into_one_edge)
{
    program(0, 0x04, 100);
    go_to_tick(1050); /* ten periods went by unpolled */
    i8254_poll(m->pit, clk.now);
    take_irq0();
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    /* The timer is not lost: the next period fires. */
    cr_assert_eq(i8254_next_event_ns(m->pit, clk.now), at_tick(1100) - clk.now);
    go_to_tick(1100);
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
}

Test(i8254, mode3_square_wave_on_channel2)
{
    outb(m, 0x61, 0x01); /* gate 2 on, speaker off */
    program(2, 0x06, 100);
    cr_assert(inb(m, 0x61) & 0x20);
    go_to_tick(10);
    cr_assert_eq(latch_read(2), 80); /* counts by two */
    go_to_tick(49);
    cr_assert(inb(m, 0x61) & 0x20);
    go_to_tick(50);
    cr_assert_not(inb(m, 0x61) & 0x20);
    cr_assert_eq(latch_read(2), 100);
    go_to_tick(99);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(100);
    cr_assert(inb(m, 0x61) & 0x20);
}

Test(i8254, mode3_odd_count_is_high_one_clock_longer)
{
    outb(m, 0x61, 0x01);
    program(2, 0x06, 5);
    go_to_tick(2);
    cr_assert(inb(m, 0x61) & 0x20);
    go_to_tick(3);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(4);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(5);
    cr_assert(inb(m, 0x61) & 0x20);
}

Test(i8254, mode3_channel0_fires_once_per_period)
{
    program(0, 0x06, 200);
    go_to_tick(100); /* falling edge only */
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    go_to_tick(200);
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
}

Test(i8254, linux_tsc_calibration_through_port_61)
{
    /* pit_calibrate_tsc: gate high, speaker off, channel 2 mode 0. */
    outb(m, 0x61, (uint8_t)((inb(m, 0x61) & ~0x02) | 0x01));
    outb(m, 0x43, 0xB0);
    outb(m, 0x42, 1193 & 0xFF);
    outb(m, 0x42, 1193 >> 8);
    cr_assert_not(inb(m, 0x61) & 0x20);
    /* quick_pit_calibrate reads lo then hi without latching. */
    go_to_tick(193);
    cr_assert_eq(inb(m, 0x42), 1000 & 0xFF);
    cr_assert_eq(inb(m, 0x42), 1000 >> 8);
    go_to_tick(1192);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(1193);
    cr_assert(inb(m, 0x61) & 0x20);
    go_to_tick(5000);
    cr_assert(inb(m, 0x61) & 0x20); /* stays high */
}

Test(i8254, gate_low_suspends_mode0)
{
    outb(m, 0x61, 0x01);
    program(2, 0x00, 1000);
    go_to_tick(300);
    outb(m, 0x61, 0x00);
    go_to_tick(5000);
    cr_assert_eq(latch_read(2), 700);
    cr_assert_not(inb(m, 0x61) & 0x20);
    outb(m, 0x61, 0x01);
    rebase();
    go_to_tick(699);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(700);
    cr_assert(inb(m, 0x61) & 0x20);
}

Test(i8254, port61_keeps_its_control_bits_and_toggles_refresh)
{
    outb(m, 0x61, 0xFF);
    cr_assert_eq(inb(m, 0x61) & 0xCF, 0x0F);
    /* Refresh toggles every 18 input clocks of the host clock's epoch. */
    clk.now = ticks_ns(18 * 1000000);
    uint8_t a = inb(m, 0x61) & 0x10;
    clk.now = ticks_ns(18 * 1000000 + 17);
    cr_assert_eq(inb(m, 0x61) & 0x10, a);
    clk.now = ticks_ns(18 * 1000001);
    cr_assert_neq(inb(m, 0x61) & 0x10, a);
}

Test(i8254, latch_freezes_the_count_until_read)
{
    program(0, 0x04, 1000);
    go_to_tick(10);
    outb(m, 0x43, 0x00);
    go_to_tick(500);
    outb(m, 0x43, 0x00); /* a second latch before reading is ignored */
    cr_assert_eq(inb(m, 0x40), 990 & 0xFF);
    cr_assert_eq(inb(m, 0x40), 990 >> 8);
    cr_assert_eq(latch_read(0), 500);
}

Test(i8254, read_back_latches_status_then_count)
{
    program(0, 0x04, 1000);
    go_to_tick(1);
    outb(m, 0x43, 0xC2); /* read-back: count and status of channel 0 */
    go_to_tick(2);
    cr_assert_eq(inb(m, 0x40), 0xB4); /* OUT high, lo/hi, mode 2, binary */
    cr_assert_eq(inb(m, 0x40), 999 & 0xFF);
    cr_assert_eq(inb(m, 0x40), 999 >> 8);
    /* Status only, after a new control word: null count is set. */
    outb(m, 0x43, 0x30);
    outb(m, 0x43, 0xE2);
    cr_assert_eq(inb(m, 0x40), 0x70); /* mode 0, OUT low, null count */
}

Test(i8254, read_back_selects_several_counters)
{
    program(1, 0x04, 0x1234);
    program(2, 0x04, 0x5678);
    outb(m, 0x43, 0xDC); /* count of channels 1 and 2, no status */
    go_to_tick(0x10);
    cr_assert_eq(inb(m, 0x41), 0x34);
    cr_assert_eq(inb(m, 0x41), 0x12);
    /* Channel 2's gate is low: it has not counted anyway. */
    cr_assert_eq(inb(m, 0x42), 0x78);
    cr_assert_eq(inb(m, 0x42), 0x56);
}

Test(i8254, lsb_and_msb_only_access_modes)
{
    outb(m, 0x43, 0x14); /* channel 0, LSB only, mode 2 */
    outb(m, 0x40, 200);
    go_to_tick(50);
    cr_assert_eq(inb(m, 0x40), 150);
    cr_assert_eq(inb(m, 0x40), 150);
    outb(m, 0x43, 0x24); /* MSB only */
    outb(m, 0x40, 0x02);
    go_to_tick(50 + 0x100);
    cr_assert_eq(inb(m, 0x40), 0x01);
}

Test(i8254, bcd_counting)
{
    outb(m, 0x43, 0x35); /* mode 2, BCD */
    outb(m, 0x40, 0x00);
    outb(m, 0x40, 0x10); /* 1000 decimal */
    go_to_tick(1);
    cr_assert_eq(latch_read(0), 0x0999);
    go_to_tick(1000);
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
}

Test(i8254, mode0_one_shot_interrupt)
{
    program(0, 0x00, 500);
    go_to_tick(499);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    go_to_tick(500);
    i8254_poll(m->pit, clk.now);
    take_irq0();
    cr_assert_eq(i8254_next_event_ns(m->pit, clk.now), UINT64_MAX);
    /* The counter wraps through 0 and keeps going, without more edges. */
    go_to_tick(501);
    cr_assert_eq(latch_read(0), 0xFFFF);
    go_to_tick(70000);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
}

Test(i8254, mode0_new_count_restarts_the_one_shot)
{
    program(0, 0x00, 500);
    go_to_tick(600);
    i8254_poll(m->pit, clk.now);
    take_irq0();
    /* The first byte stops the count and drops OUT. */
    outb(m, 0x40, 100 & 0xFF);
    uint16_t held = latch_read(0);
    outb(m, 0x43, 0xE2);
    cr_assert_eq(inb(m, 0x40) & 0xC0, 0x40); /* OUT low, null count */
    go_to_tick(650);
    cr_assert_eq(latch_read(0), held);
    outb(m, 0x40, 0);
    rebase();
    go_to_tick(99);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    go_to_tick(100);
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
}

Test(i8254, mode4_strobe_fires_one_clock_after_terminal_count)
{
    program(0, 0x08, 300);
    go_to_tick(300);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
    go_to_tick(301);
    i8254_poll(m->pit, clk.now);
    cr_assert(irq0_requested());
}

Test(i8254, mode1_waits_for_a_gate_trigger)
{
    program(2, 0x02, 100);
    outb(m, 0x61, 0x00);
    cr_assert(inb(m, 0x61) & 0x20); /* OUT high until triggered */
    go_to_tick(50);
    outb(m, 0x61, 0x01); /* rising gate triggers */
    rebase();
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(99);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(100);
    cr_assert(inb(m, 0x61) & 0x20);
    /* Retriggering restarts the one-shot. */
    outb(m, 0x61, 0x00);
    outb(m, 0x61, 0x01);
    cr_assert_not(inb(m, 0x61) & 0x20);
}

Test(i8254, mode5_strobes_after_a_trigger)
{
    program(2, 0x0A, 10);
    outb(m, 0x61, 0x01);
    go_to_tick(10);
    cr_assert_not(inb(m, 0x61) & 0x20);
    go_to_tick(11);
    cr_assert(inb(m, 0x61) & 0x20);
}

Test(i8254, unprogrammed_timer_never_fires)
{
    cr_assert_eq(i8254_next_event_ns(m->pit, clk.now), UINT64_MAX);
    go_to_tick(10000000);
    i8254_poll(m->pit, clk.now);
    cr_assert_not(irq0_requested());
}

Test(i8254, runs_on_the_host_clock_by_default)
{
    dev_free(&fx);
    m = dev_machine(&fx, 1);
    program(0, 0x04, 0); /* 65536: 54.9 ms */
    uint64_t next = mach_next_event_ns(m);
    cr_assert(next > 40000000 && next <= 54925410, "next %llu", (unsigned long long)next);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    uint16_t a = latch_read(0);
    nanosleep(&ts, NULL);
    uint16_t b = latch_read(0);
    cr_assert((uint16_t)(a - b) >= 2000, "%u then %u", a, b);
}
