/* Page faults at CPL 0 under 32-bit paging: error code, CR2 and saved EIP
 * (SDM Vol. 3A 4.7 and 6.15 "Interrupt 14"), CR0.WP (4.6.1). */
#include "guest.h"

NEEDS("paging");

#define VA_ALIAS 0x40000000u   /* page table created by pg_pte */
#define VA_NO_PDE 0x50000000u  /* its PDE stays not present */
/* #PF error code bits (SDM Vol. 3A 4.7, Figure 4-12). */
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u

static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

__asm__(".text\n"
        "pf_read:\n"
        "pf_read_insn:\n"
        "  mov (%eax), %eax\n"
        "  ret\n"
        "pf_write:\n"
        "pf_write_insn:\n"
        "  movl $0x5a5a5a5a, (%eax)\n"
        "  ret\n");
extern uint32_t pf_read(uint32_t va) __attribute__((regparm(1)));
extern void pf_write(uint32_t va) __attribute__((regparm(1)));
extern const char pf_read_insn[], pf_write_insn[];

static void check_pf(const char *name, bool trapped, uint32_t error, uint32_t cr2,
                     uint32_t eip)
{
    check_trap(name, trapped, VEC_PF, error, eip);
    check_eqf(cr2, trap_last.cr2, "%s.cr2", name);
}

static void map(uint32_t va, uint32_t pa, uint32_t flags)
{
    pg_map_4k(va, pa, flags);
    invlpg(va);
}

static void aliases(void)
{
    volatile uint32_t *phys = (volatile uint32_t *)page_a;
    volatile uint32_t *alias = (volatile uint32_t *)(VA_ALIAS + 0x10);
    map(VA_ALIAS, (uint32_t)page_a, PTE_P | PTE_W);
    phys[4] = 0xCAFEBABE;
    check_eq("alias.read_sees_physical_write", 0xCAFEBABE, *alias);
    *alias = 0x12345678;
    check_eq("alias.write_reaches_physical", 0x12345678, phys[4]);
}

static void not_present(void)
{
    const uint32_t va = VA_ALIAS + PAGE_SIZE;
    map(va, (uint32_t)page_a, 0);
    bool t = TRY_FAULT(pf_read(va + 0x123));
    check_pf("pf.read_not_present", t, 0, va + 0x123, (uint32_t)pf_read_insn);
    check_eq("pf.read_not_present.cs", SEL_KCODE, trap_last.cs);
    t = TRY_FAULT(pf_write(va + 0xFFC));
    check_pf("pf.write_not_present", t, PF_W, va + 0xFFC, (uint32_t)pf_write_insn);
    t = TRY_FAULT(pf_read(VA_NO_PDE + 0x44));
    check_pf("pf.read_pde_not_present", t, 0, VA_NO_PDE + 0x44, (uint32_t)pf_read_insn);
    /* A fetch from a not-present page faults with the fetch address as
     * both CR2 and the saved EIP; without NX/SMEP the I/D bit stays 0. */
    t = TRY_FAULT(((void (*)(void))(va + 0x80))());
    check_pf("pf.fetch_not_present", t, 0, va + 0x80, va + 0x80);
    /* A not-present entry is never cached (SDM Vol. 3A 4.10.2.3): setting
     * P makes the page usable. */
    page_a[0x200] = 0x77;
    *pg_pte(va) |= PTE_P;
    check_eq("pf.present_after_fix", 0x77, pf_read(va + 0x200) & 0xFF);
}

/* Supervisor writes to read-only pages succeed unless CR0.WP is set
 * (SDM Vol. 3A 4.6.1). */
static void write_protect(void)
{
    const uint32_t va = VA_ALIAS + 2 * PAGE_SIZE;
    volatile uint32_t *phys = (volatile uint32_t *)page_a;
    map(va, (uint32_t)page_a, PTE_P | PTE_U);
    phys[0x40] = 1;
    bool t = TRY_FAULT(pf_write(va + 0x100));
    check_eq("wp0.write_read_only.no_trap", 0, t);
    check_eq("wp0.write_read_only.stored", 0x5a5a5a5a, phys[0x40]);

    write_cr0(read_cr0() | CR0_WP);
    phys[0x40] = 2;
    t = TRY_FAULT(pf_write(va + 0x100));
    check_pf("wp1.write_read_only", t, PF_P | PF_W, va + 0x100, (uint32_t)pf_write_insn);
    check_eq("wp1.write_read_only.not_stored", 2, phys[0x40]);
    check_eq("wp1.read_read_only.no_trap", 0, TRY_FAULT(pf_read(va + 0x100)));
    /* Access rights combine both levels (SDM Vol. 3A 4.6.1). */
    map(va, (uint32_t)page_a, PTE_P | PTE_W | PTE_U);
    *pg_pde(va) &= ~PTE_W;
    invlpg(va);
    t = TRY_FAULT(pf_write(va + 0x104));
    check_pf("wp1.write_pde_read_only", t, PF_P | PF_W, va + 0x104, (uint32_t)pf_write_insn);
    *pg_pde(va) |= PTE_W;
    invlpg(va);
    check_eq("wp1.write_pde_writable.no_trap", 0, TRY_FAULT(pf_write(va + 0x104)));
    write_cr0(read_cr0() & ~CR0_WP);
    /* U/S = 0 pages are accessible at CPL 0 (no SMAP). */
    map(va, (uint32_t)page_a, PTE_P | PTE_W);
    check_eq("cpl0.read_supervisor_page.no_trap", 0, TRY_FAULT(pf_read(va)));
}

void test_main(void)
{
    pg_init();
    pg_enable(false);
    check_eq("cr0.pg", CR0_PG, read_cr0() & CR0_PG);
    check_eq("cr3", (uint32_t)pg_dir, read_cr3());
    aliases();
    not_present();
    write_protect();
    pg_disable();
    check_eq("cr0.pg_off", 0, read_cr0() & CR0_PG);
}
