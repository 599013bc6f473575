/* PCI configuration mechanism #1 with no devices, and the reset control
 * register at 0xCF9 inside CONFIG_ADDRESS's bytes. */
#include "device_fixture.h"

static struct dev_fixture fx;
static struct machine *m;

static void setup(void) { m = dev_machine(&fx, 1); }
static void teardown(void) { dev_free(&fx); }

TestSuite(pci_host, .init = setup, .fini = teardown);

Test(pci_host, config_address_reads_back)
{
    outl(m, 0xCF8, 0x80000000u);
    cr_assert_eq(inl(m, 0xCF8), 0x80000000u);
    /* Reserved bits 30-24 and 1-0 read 0. */
    outl(m, 0xCF8, 0xFFFFFFFFu);
    cr_assert_eq(inl(m, 0xCF8), 0x80FFFFFCu);
}

Test(pci_host, no_device_answers)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        outl(m, 0xCF8, 0x80000000u | dev << 11);
        cr_assert_eq(inl(m, 0xCFC), 0xFFFFFFFFu);
    }
    outl(m, 0xCF8, 0x80000000u);
    cr_assert_eq(inw(m, 0xCFE), 0xFFFF);
    cr_assert_eq(inb(m, 0xCFD), 0xFF);
    outl(m, 0xCFC, 0x12345678);
    cr_assert_eq(inl(m, 0xCFC), 0xFFFFFFFFu);
}

Test(pci_host, linux_type1_probe)
{
    /* pci_check_type1: a byte write to 0xCFB is not CONFIG_ADDRESS. */
    outl(m, 0xCF8, 0x80001234u);
    outb(m, 0xCFB, 0x01);
    uint32_t saved = inl(m, 0xCF8);
    cr_assert_eq(saved, 0x80001234u);
    outl(m, 0xCF8, 0x80000000u);
    cr_assert_eq(inl(m, 0xCF8), 0x80000000u);
}

Test(pci_host, linux_type2_probe_fails)
{
    /* pci_check_type2 wants 0xCF8 and 0xCFA to read back 0 as bytes. */
    outb(m, 0xCFB, 0x00);
    outb(m, 0xCF8, 0x00);
    outb(m, 0xCFA, 0x00);
    cr_assert_eq(inb(m, 0xCF8), 0xFF);
    cr_assert_eq(inb(m, 0xCFA), 0xFF);
}

Test(pci_host, byte_accesses_next_to_cf9_are_unclaimed)
{
    uint64_t r0 = m->pio.unassigned_reads, w0 = m->pio.unassigned_writes;
    inb(m, 0xCFB);
    outb(m, 0xCF8, 0);
    cr_assert_eq(m->pio.unassigned_reads - r0, 1);
    cr_assert_eq(m->pio.unassigned_writes - w0, 1);
}

Test(pci_host, cf9_is_the_reset_control_register)
{
    outl(m, 0xCF8, 0x80000800u);
    outb(m, 0xCF9, 0x02); /* SRST: hard reset type, no reset yet */
    cr_assert_not(mach_exit_requested(m));
    cr_assert_eq(inb(m, 0xCF9), 0x02);
    cr_assert_eq(inl(m, 0xCF8), 0x80000800u); /* untouched */
    outb(m, 0xCF9, 0x06);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_RESET);
    cr_assert_eq(mach_exit_status(m), 0);
}

Test(pci_host, a_dword_at_cf8_never_resets)
{
    outl(m, 0xCF8, 0x00000600u);
    cr_assert_not(mach_exit_requested(m));
}

Test(pci_host, disabled_data_window_is_unclaimed_io)
{
    outl(m, 0xCF8, 0);
    uint64_t r0 = m->pio.unassigned_reads;
    cr_assert_eq(inl(m, 0xCFC), 0xFFFFFFFFu);
    cr_assert_eq(m->pio.unassigned_reads - r0, 1);
}
