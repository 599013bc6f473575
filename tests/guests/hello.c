/* The smallest guest test: the runtime comes up, prints, and the state the
 * Multiboot loader handed over is what Multiboot 0.6.96 section 3.2 says. */
#include "guest.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MBI_FLAG_MEM (1u << 0)

void test_main(void)
{
    kprintf("hello from a popek guest test\n");
    check_eq("boot.eax_magic", MULTIBOOT_BOOTLOADER_MAGIC, rt_boot_eax);
    /* EFLAGS.VM and IF clear, CR0.PE set and PG clear at the hand-off. */
    check_eq("boot.eflags_vm_if", 0, rt_boot_eflags & (FL_VM | FL_IF));
    check_eq("boot.cr0_pe_pg", CR0_PE, rt_boot_cr0 & (CR0_PE | CR0_PG));
    /* An ELF loader zeroes memsz beyond filesz: .bss. */
    check_eq("boot.bss_zeroed", 0, rt_boot_bss_dirty);
    /* The header asks for memory information (flags bit 1), so the loader
     * must fill mem_lower/mem_upper and set bit 0 of the info flags. */
    const struct multiboot_info *mbi = (const struct multiboot_info *)rt_boot_ebx;
    check_eq("boot.mbi_flags_mem", MBI_FLAG_MEM, mbi->flags & MBI_FLAG_MEM);
    check_true("boot.mem_upper_at_least_15MiB", mbi->mem_upper >= 15 * 1024);
    check_true("boot.mem_lower_at_most_640KiB", mbi->mem_lower <= 640);
    /* The runtime's own set-up took effect. */
    struct dtr g = sgdt();
    check_eq("rt.gdtr_base", (uint32_t)rt_gdt, g.base);
    check_eq("rt.gdtr_limit", sizeof(rt_gdt) - 1, g.limit);
    check_eq("rt.cr0", CR0_PE | CR0_ET | CR0_NE, read_cr0());
}
