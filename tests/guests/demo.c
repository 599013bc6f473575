/* The demo guest: says hello over the serial port, tells what it runs on,
 * and powers the machine off through ACPI, so `popek run demo.elf` ends
 * with status 0. */
#include "guest.h"

#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
/* PM1a control block of QEMU's PIIX4 PM at 0x600: SLP_TYPx = 0 (S5 in its
 * DSDT) with SLP_EN (bit 13), ACPI 6.4 4.8.3.2.1. */
#define ACPI_PM1A_CNT 0x604
#define ACPI_SLP_EN_S5 0x2000
#define DEBUG_EXIT_PORT 0xF4

extern char __image_start[], __image_end[];

static void cpu_strings(char vendor[13], char brand[49])
{
    struct cpuid_regs r = cpuid(0, 0);
    memcpy(vendor, &r.ebx, 4);
    memcpy(vendor + 4, &r.edx, 4);
    memcpy(vendor + 8, &r.ecx, 4);
    vendor[12] = 0;
    brand[0] = 0;
    if (cpuid(0x80000000u, 0).eax < 0x80000004u)
        return;
    for (uint32_t leaf = 0; leaf < 3; leaf++) {
        r = cpuid(0x80000002u + leaf, 0);
        memcpy(brand + 16 * leaf, &r, 16);
    }
    brand[48] = 0;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

void test_main(void)
{
    char vendor[13], brand[49];
    cpu_strings(vendor, brand);
    struct cpuid_regs sig = cpuid(1, 0);
    const struct multiboot_info *mbi = (const struct multiboot_info *)rt_boot_ebx;

    kprintf("\n");
    kprintf("  Hello from inside popek!\n");
    kprintf("\n");
    kprintf("  I am a 32-bit x86 guest kernel: %u KiB of Multiboot ELF loaded at %p,\n",
            (uint32_t)(__image_end - __image_start) / 1024, (void *)__image_start);
    kprintf("  running in ring 0 of flat protected mode and talking to you through\n");
    kprintf("  a 16550 UART at port 0x3F8.\n");
    kprintf("\n");
    kprintf("  The CPU I see: %s%s%s\n", vendor, brand[0] ? ", " : "", skip_spaces(brand));
    kprintf("  (family %u, model %u, stepping %u)\n", (sig.eax >> 8) & 0xF,
            ((sig.eax >> 4) & 0xF) | ((sig.eax >> 12) & 0xF0), sig.eax & 0xF);
    if (rt_boot_eax == 0x2BADB002u && (mbi->flags & MBI_FLAG_MEM))
        kprintf("  Memory: %u KiB low, %u KiB above 1 MiB\n", mbi->mem_lower, mbi->mem_upper);
    if (rt_boot_eax == 0x2BADB002u && (mbi->flags & MBI_FLAG_CMDLINE) && mbi->cmdline)
        kprintf("  Command line: \"%s\"\n", (const char *)mbi->cmdline);
    kprintf("\n");
    kprintf("  popek is a software-only x86 virtual machine: the same unmodified guest\n");
    kprintf("  runs under its binary translator (bt), its interpreter (interp) or KVM.\n");
    kprintf("\n");
    kprintf("  Goodbye! Powering off through ACPI (port 0x%x).\n", ACPI_PM1A_CNT);
    outw(ACPI_PM1A_CNT, ACPI_SLP_EN_S5);
    /* A VMM may carry out the power-off asynchronously (QEMU's main loop
     * does, while the vCPU runs on): give it time, each port read being an
     * exit, before deciding there is no ACPI power-off here. */
    for (unsigned i = 0; i < 20000; i++)
        inb(0x80);
    /* Still here: no ACPI power-off on this machine. */
    kprintf("  The machine did not power off; leaving through the debug-exit port.\n");
    outb(DEBUG_EXIT_PORT, 1);
    for (;;)
        __asm__ volatile("cli; hlt");
}
