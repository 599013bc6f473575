/* The small system ports: isa-debug-exit 0xF4, debugcon 0xE9, POST 0x80,
 * System Control Port A 0x92, ACPI PM1a control 0x604, and --stats. */
#include "device_fixture.h"

#include <string.h>

static struct dev_fixture fx;
static struct machine *m;

static void setup(void) { m = dev_machine(&fx, 1); }
static void teardown(void) { dev_free(&fx); }

TestSuite(sysports, .init = setup, .fini = teardown);

Test(sysports, debug_exit_byte)
{
    outb(m, 0xF4, 0x21);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_DEBUG);
    cr_assert_eq(mach_exit_status(m), (0x21 << 1) | 1);
}

Test(sysports, debug_exit_dword_and_zero)
{
    outl(m, 0xF4, 0);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_DEBUG);
    cr_assert_eq(mach_exit_status(m), 1);
    /* The first request wins. */
    outl(m, 0xF4, 5);
    cr_assert_eq(mach_exit_status(m), 1);
}

Test(sysports, debug_exit_word_keeps_the_whole_value)
{
    outw(m, 0xF4, 0x0102);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_DEBUG);
    cr_assert(strstr(mach_exit_message(m), "0x102"), "%s", mach_exit_message(m));
    cr_assert_eq(mach_exit_status(m), ((0x0102 << 1) | 1) & 0xFF);
}

Test(sysports, debug_exit_reads_float)
{
    cr_assert_eq(inb(m, 0xF4), 0xFF);
    cr_assert_not(mach_exit_requested(m));
}

Test(sysports, debugcon_prints_and_identifies_itself)
{
    const char *s = "debugcon ok\n";
    for (const char *p = s; *p; p++)
        outb(m, 0xE9, (uint8_t)*p);
    outw(m, 0xE9, 0x4141); /* only the byte at 0xE9 */
    fflush(fx.debugcon);
    cr_assert_str_eq(fx.debugcon_buf, "debugcon ok\nA");
    cr_assert_eq(inb(m, 0xE9), 0xE9);
    fflush(fx.serial);
    cr_assert_eq(fx.serial_len, 0);
}

Test(sysports, post_codes_are_recorded)
{
    uint8_t last = 0xAA;
    cr_assert_eq(post_port_count(m->post, &last), 0);
    outb(m, 0x80, 0x12);
    outb(m, 0x80, 0x34);
    cr_assert_eq(post_port_count(m->post, &last), 2);
    cr_assert_eq(last, 0x34);
    cr_assert_eq(inb(m, 0x80), 0xFF);
    cr_assert_not(mach_exit_requested(m));
}

static char *stats(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mach_print_stats(m, f);
    fclose(f);
    return buf;
}

Test(sysports, stats_report_post_a20_and_the_reset)
{
    outb(m, 0x80, 0x3F);
    outb(m, 0xE9, 'x');
    outb(m, 0x92, 0x01);
    char *s = stats();
    cr_assert(strstr(s, "post: 1 codes written to port 0x80, last 0x3f"), "%s", s);
    cr_assert(strstr(s, "debugcon: 1 bytes"), "%s", s);
    cr_assert(strstr(s, "A20 gate enabled"), "%s", s);
    cr_assert(strstr(s, "port 0x92"), "%s", s);
    free(s);
}

Test(sysports, port92_a20_and_readback)
{
    outb(m, 0x92, 0x02);
    cr_assert_eq(inb(m, 0x92), 0x02);
    cr_assert(mach_a20_enabled(m));
    cr_assert_not(mach_exit_requested(m));
}

Test(sysports, port92_fast_reset_on_rising_bit0)
{
    outb(m, 0x92, 0x03);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_RESET);
    cr_assert_eq(mach_exit_status(m), 0);
}

Test(sysports, acpi_s5_powers_off)
{
    outw(m, 0x604, 0x2000); /* QEMU's outw(0x604, 0x2000) */
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_POWEROFF);
    cr_assert_eq(mach_exit_status(m), 0);
}

Test(sysports, acpi_pm1_control_without_slp_en)
{
    outw(m, 0x604, 0x0001); /* SCI_EN */
    cr_assert_not(mach_exit_requested(m));
    cr_assert_eq(inw(m, 0x604), 0x0001);
    outw(m, 0x604, 0x1401); /* S5 type... */
    cr_assert_not(mach_exit_requested(m));
    outb(m, 0x605, 0x20); /* ...then SLP_EN in the high byte alone */
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_POWEROFF);
}

Test(sysports, acpi_slp_en_reads_as_zero_and_s3_is_refused)
{
    outw(m, 0x604, 0x2400); /* SLP_TYP 1 (S3) */
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_UNSUPPORTED);
    cr_assert_eq(inw(m, 0x604) & 0x2000, 0);
}
