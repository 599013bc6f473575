/* The MC146818 RTC and CMOS RAM at 0x70/0x71 with hand-driven clocks:
 * time formats, the update cycle and its flags, periodic and alarm
 * interrupts on IRQ8, setting the clock, and the BIOS memory bytes. */
#define _GNU_SOURCE
#include "device_fixture.h"

#include <time.h>

static struct dev_fixture fx;
static struct machine *m;
static struct fake_clock mono, wall;

#define NS 1000000000ull

/* 2024-02-29 23:59:58 UTC, a Thursday. */
static uint64_t leap_day_ns(void)
{
    struct tm tm = {.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 23, .tm_min = 59,
                    .tm_sec = 58};
    return (uint64_t)timegm(&tm) * NS;
}

static void use_clocks(void)
{
    struct mach_clock mc = fake_clock_of(&mono), wc = fake_clock_of(&wall);
    cmos_rtc_set_clocks(m->rtc, &mc, &wc);
}

static void setup(void)
{
    m = dev_machine(&fx, 1);
    mono.now = 5 * NS;
    wall.now = leap_day_ns() + NS / 2;
    use_clocks();
}

static void teardown(void) { dev_free(&fx); }

TestSuite(cmos_rtc, .init = setup, .fini = teardown);

static uint8_t cmos(uint8_t idx)
{
    outb(m, 0x70, idx);
    return inb(m, 0x71);
}

static void cmos_set(uint8_t idx, uint8_t v)
{
    outb(m, 0x70, idx);
    outb(m, 0x71, v);
}

static void advance(uint64_t ns)
{
    mono.now += ns;
    wall.now += ns;
    cmos_rtc_poll(m->rtc, mono.now);
}

Test(cmos_rtc, bcd_24h_time_by_default)
{
    cr_assert_eq(cmos(0x0A), 0x26);
    cr_assert_eq(cmos(0x0B), 0x02);
    cr_assert_eq(cmos(0x00), 0x58);
    cr_assert_eq(cmos(0x02), 0x59);
    cr_assert_eq(cmos(0x04), 0x23);
    cr_assert_eq(cmos(0x06), 0x05); /* Sunday = 1 */
    cr_assert_eq(cmos(0x07), 0x29);
    cr_assert_eq(cmos(0x08), 0x02);
    cr_assert_eq(cmos(0x09), 0x24);
    cr_assert_eq(cmos(0x32), 0x20);
}

Test(cmos_rtc, binary_and_12_hour_formats)
{
    cmos_set(0x0B, 0x06); /* binary, 24h */
    cr_assert_eq(cmos(0x00), 58);
    cr_assert_eq(cmos(0x04), 23);
    cr_assert_eq(cmos(0x09), 24);
    cr_assert_eq(cmos(0x32), 20);
    cmos_set(0x0B, 0x00); /* BCD, 12h: 11 PM */
    cr_assert_eq(cmos(0x04), 0x91);
    cmos_set(0x0B, 0x04); /* binary, 12h */
    cr_assert_eq(cmos(0x04), 0x80 | 11);
}

Test(cmos_rtc, midnight_is_12_am)
{
    advance(2 * NS);
    cmos_set(0x0B, 0x00);
    cr_assert_eq(cmos(0x04), 0x12);
}

Test(cmos_rtc, noon_is_12_pm)
{
    wall.now = leap_day_ns() - 11 * 3600 * NS; /* 12:59:58 */
    cmos_set(0x0B, 0x00);
    cr_assert_eq(cmos(0x04), 0x92);
    cmos_set(0x0B, 0x02);
    cr_assert_eq(cmos(0x04), 0x12);
}

Test(cmos_rtc, the_clock_runs_into_march)
{
    advance(2 * NS);
    cr_assert_eq(cmos(0x00), 0x00);
    cr_assert_eq(cmos(0x02), 0x00);
    cr_assert_eq(cmos(0x04), 0x00);
    cr_assert_eq(cmos(0x07), 0x01);
    cr_assert_eq(cmos(0x08), 0x03);
    cr_assert_eq(cmos(0x06), 0x06);
}

Test(cmos_rtc, uip_shows_the_last_244us_of_a_second)
{
    cr_assert_eq(cmos(0x0A) & 0x80, 0);
    wall.now = leap_day_ns() + NS - 100000;
    cr_assert_eq(cmos(0x0A) & 0x80, 0x80);
    wall.now = leap_day_ns() + NS - 300000;
    cr_assert_eq(cmos(0x0A) & 0x80, 0);
}

Test(cmos_rtc, update_ended_flag_and_irq8)
{
    pic_init_linux(m, 0xFB, 0xFE);
    cmos_set(0x0A, 0x20); /* no periodic flag in the way */
    advance(NS);
    cr_assert_eq(cmos(0x0C), 0x10); /* UF without UIE: no IRQF */
    cr_assert_eq(cmos(0x0C), 0x00); /* cleared by the read */
    cr_assert_not(mach_intr_pending(m));
    cmos_set(0x0B, 0x12); /* UIE */
    advance(NS);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(mach_intr_ack(m), 0x38);
    cr_assert_eq(cmos(0x0C) & 0xD0, 0x90); /* (AF too: the alarm registers hold 00:00:00) */
    outb(m, 0xA0, 0x20);
    outb(m, 0x20, 0x20);
    cr_assert_not(mach_intr_pending(m));
    /* The flag comes back at the next second only. */
    advance(NS / 4);
    cr_assert_eq(cmos(0x0C), 0x00);
    advance(NS);
    cr_assert(mach_intr_pending(m));
}

Test(cmos_rtc, periodic_interrupt_at_1024_hz)
{
    pic_init_linux(m, 0xFB, 0xFE);
    cmos_set(0x0B, 0x42); /* PIE */
    mono.now += 900000; /* 0.9 ms: less than one period */
    cmos_rtc_poll(m->rtc, mono.now);
    cr_assert_not(mach_intr_pending(m));
    mono.now += 200000;
    cmos_rtc_poll(m->rtc, mono.now);
    cr_assert(mach_intr_pending(m));
    cr_assert_eq(cmos(0x0C) & 0xC0, 0xC0);
    /* Rate 15 is 2 Hz. */
    cmos_set(0x0A, 0x2F);
    mono.now += 400000000;
    cr_assert_eq(cmos(0x0C) & 0x40, 0);
    mono.now += 100000000;
    cr_assert_eq(cmos(0x0C) & 0x40, 0x40);
}

Test(cmos_rtc, enabled_interrupts_schedule_a_wakeup)
{
    cr_assert_eq(cmos_rtc_next_event_ns(m->rtc, mono.now), UINT64_MAX);
    cmos_set(0x0B, 0x12); /* UIE: the next update is half a second away */
    cr_assert_eq(cmos_rtc_next_event_ns(m->rtc, mono.now), NS / 2);
    cmos_set(0x0B, 0x42); /* PIE at 1024 Hz: 976.6 us after the start */
    uint64_t first = cmos_rtc_next_event_ns(m->rtc, mono.now);
    cr_assert_eq(first, 976563, "%llu", (unsigned long long)first);
    mono.now += 976563;
    cr_assert_eq(cmos_rtc_next_event_ns(m->rtc, mono.now), 0);
    cmos_rtc_poll(m->rtc, mono.now);
    cr_assert_eq(cmos_rtc_next_event_ns(m->rtc, mono.now), 1953125 - 976563);
}

Test(cmos_rtc, periodic_flag_without_pie_and_no_rate)
{
    mono.now += 2000000;
    cr_assert_eq(cmos(0x0C), 0x40); /* PF is set even with PIE clear */
    cmos_set(0x0A, 0x20);           /* rate 0: off */
    mono.now += 1000000000;
    cr_assert_eq(cmos(0x0C) & 0x40, 0);
}

Test(cmos_rtc, alarm_with_dont_care_fields)
{
    cmos_set(0x01, 0x00);
    cmos_set(0x03, 0xC0);
    cmos_set(0x05, 0xFF);
    cmos_set(0x0B, 0x22); /* AIE */
    cmos(0x0C);
    advance(NS);
    cr_assert_eq(cmos(0x0C) & 0xA0, 0x00); /* 23:59:59 */
    advance(NS);
    cr_assert_eq(cmos(0x0C) & 0xA0, 0xA0); /* 00:00:00 matches ss = 00 */
}

Test(cmos_rtc, the_guest_sets_the_clock)
{
    cmos_set(0x0B, 0x82); /* SET: updates stop */
    cmos_set(0x09, 0x99);
    cmos_set(0x32, 0x19);
    cmos_set(0x08, 0x12);
    cmos_set(0x07, 0x31);
    cmos_set(0x04, 0x23);
    cmos_set(0x02, 0x59);
    cmos_set(0x00, 0x59);
    advance(3 * NS);
    cr_assert_eq(cmos(0x00), 0x59);
    cmos_set(0x0B, 0x02);
    advance(NS);
    cr_assert_eq(cmos(0x00), 0x00);
    cr_assert_eq(cmos(0x09), 0x00);
    cr_assert_eq(cmos(0x32), 0x20);
    cr_assert_eq(cmos(0x08), 0x01);
    cr_assert_eq(cmos(0x06), 0x07); /* 2000-01-01 was a Saturday */
}

Test(cmos_rtc, setting_the_clock_in_12_hour_binary_mode)
{
    /* Changing the format does not convert the registers: the guest
     * writes every field in the new one. */
    cmos_set(0x0B, 0x84); /* SET, binary, 12h */
    static const uint8_t fields[][2] = {{0x00, 0}, {0x02, 5}, {0x04, 12 /* AM */},
                                        {0x07, 1}, {0x08, 1}, {0x09, 24}, {0x32, 20}};
    for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        cmos_set(fields[i][0], fields[i][1]);
    cmos_set(0x0B, 0x04);
    cmos_set(0x0B, 0x06); /* read back in 24h */
    cr_assert_eq(cmos(0x04), 0);
    cr_assert_eq(cmos(0x02), 5);
    cmos_set(0x0B, 0x84);
    cmos_set(0x04, 0x80 | 12); /* 12 PM */
    cmos_set(0x0B, 0x04);
    cmos_set(0x0B, 0x06);
    cr_assert_eq(cmos(0x04), 12);
}

Test(cmos_rtc, set_clears_uie_and_a_running_write_sticks)
{
    cmos_set(0x0B, 0x12);
    cmos_set(0x0B, 0x92);
    cr_assert_eq(cmos(0x0B), 0x82);
    cmos_set(0x0B, 0x02);
    cmos_set(0x02, 0x30); /* minutes, written while the clock runs */
    advance(NS);
    cr_assert_eq(cmos(0x02), 0x30);
    cr_assert_eq(cmos(0x04), 0x23);
}

Test(cmos_rtc, register_c_and_d_are_read_only)
{
    cmos_set(0x0D, 0x00);
    cr_assert_eq(cmos(0x0D), 0x80);
    cmos(0x0C);
    cmos_set(0x0C, 0xF0);
    cr_assert_eq(cmos(0x0C), 0x00);
}

Test(cmos_rtc, index_bit7_masks_nmi_not_the_index)
{
    outb(m, 0x70, 0x80 | 0x0D);
    cr_assert_eq(inb(m, 0x71), 0x80);
    outb(m, 0x70, 0x80 | 0x40);
    outb(m, 0x71, 0x5A);
    outb(m, 0x70, 0x40);
    cr_assert_eq(inb(m, 0x71), 0x5A);
}

static unsigned checksum(void)
{
    unsigned sum = 0;
    for (uint8_t i = 0x10; i <= 0x2D; i++)
        sum += cmos(i);
    return sum;
}

Test(cmos_rtc, memory_bytes_for_1_mib)
{
    cr_assert_eq(cmos(0x15) | cmos(0x16) << 8, 640);
    cr_assert_eq(cmos(0x17) | cmos(0x18) << 8, 0);
    cr_assert_eq(cmos(0x30) | cmos(0x31) << 8, 0);
    cr_assert_eq(cmos(0x34) | cmos(0x35) << 8, 0);
    cr_assert_eq(cmos(0x14), 0x02);
    cr_assert_eq(cmos(0x2E) << 8 | cmos(0x2F), checksum());
}

Test(cmos_rtc, memory_bytes_for_32_and_128_mib)
{
    dev_free(&fx);
    m = dev_machine(&fx, 32);
    cr_assert_eq(cmos(0x17) | cmos(0x18) << 8, 31 * 1024);
    cr_assert_eq(cmos(0x30) | cmos(0x31) << 8, 31 * 1024);
    cr_assert_eq(cmos(0x34) | cmos(0x35) << 8, 16 * 16);
    cr_assert_eq(cmos(0x2E) << 8 | cmos(0x2F), checksum());
    dev_free(&fx);
    m = dev_machine(&fx, 128);
    cr_assert_eq(cmos(0x17) | cmos(0x18) << 8, 0xFFFF); /* capped below 64 MiB */
    cr_assert_eq(cmos(0x34) | cmos(0x35) << 8, 112 * 16);
    cr_assert_eq(cmos(0x2E) << 8 | cmos(0x2F), checksum());
    cr_assert_eq(cmos(0x5F), 0); /* one CPU */
}

Test(cmos_rtc, host_time_by_default)
{
    dev_free(&fx);
    m = dev_machine(&fx, 1);
    time_t before = time(NULL);
    cmos_set(0x0B, 0x06);
    unsigned s = cmos(0x00), min = cmos(0x02), h = cmos(0x04);
    time_t after = time(NULL);
    struct tm a, b;
    gmtime_r(&before, &a);
    gmtime_r(&after, &b);
    unsigned got = h * 3600 + min * 60 + s;
    unsigned lo = (unsigned)(a.tm_hour * 3600 + a.tm_min * 60 + a.tm_sec);
    unsigned hi = (unsigned)(b.tm_hour * 3600 + b.tm_min * 60 + b.tm_sec);
    cr_assert((got >= lo && got <= hi) || hi < lo, "rtc %u, host %u..%u", got, lo, hi);
}
