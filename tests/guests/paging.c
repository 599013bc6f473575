/* 32-bit paging beyond the basics: 4 MiB pages (CR4.PSE), accessed and
 * dirty bits, INVLPG and CR3 reloads, and user/supervisor and read/write
 * protection seen from CPL 3 (SDM Vol. 3A 4.3, 4.6, 4.8, 4.10). */
#include "guest.h"

NEEDS("paging pm-iret");

#define VA_4K 0x40000000u
#define VA_4M 0x80000000u
#define PA_4M 0x00400000u /* second 4 MiB of RAM, also identity-mapped */
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define USER_WRITE_VALUE 0x5555AAAAu

static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_b[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* A code page whose alias tests instruction fetches from CPL 3. */
__asm__(".text\n"
        ".balign 4096\n"
        "code_page:\n"
        "  mov $42, %eax\n"
        "  ret\n"
        ".balign 4096\n");
extern const char code_page[];

static uint32_t user_read(uint32_t va) { return *(volatile uint32_t *)va; }

static uint32_t user_write(uint32_t va)
{
    *(volatile uint32_t *)va = USER_WRITE_VALUE;
    return 0;
}

static void map(uint32_t va, uint32_t pa, uint32_t flags)
{
    pg_map_4k(va, pa, flags);
    invlpg(va);
}

static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

static void big_pages(void)
{
    pg_map_4m(VA_4M, PA_4M, PTE_P | PTE_W | PTE_U);
    invlpg(VA_4M);
    wr(PA_4M + 0x1234, 0xB16B00B5);
    check_eq("pse.read_low", 0xB16B00B5, rd(VA_4M + 0x1234));
    wr(VA_4M + 0x3FFFFC, 0x0D15EA5E);
    check_eq("pse.write_high", 0x0D15EA5E, rd(PA_4M + 0x3FFFFC));
    /* A and D of a 4 MiB page live in the PDE (SDM Vol. 3A 4.8). */
    check_eq("pse.leaf_is_pde", (uint32_t)pg_pde(VA_4M), (uint32_t)pg_leaf(VA_4M));
    check_eq("pse.pde_accessed_dirty", PTE_A | PTE_D, pg_accessed_dirty(VA_4M));
    pg_update(VA_4M, 0, PTE_A | PTE_D);
    (void)rd(VA_4M + 8);
    check_eq("pse.pde_read_sets_a_only", PTE_A, pg_accessed_dirty(VA_4M));
    /* An entry that is not dirty is walked again on the first write. */
    wr(VA_4M + 8, 1);
    check_eq("pse.pde_write_sets_d", PTE_A | PTE_D, pg_accessed_dirty(VA_4M));
}

static void accessed_dirty(void)
{
    const uint32_t va = VA_4K;
    map(va, (uint32_t)page_a, PTE_P | PTE_W | PTE_U);
    *pg_pde(va) &= ~PTE_A;
    invlpg(va);
    check_eq("ad.fresh_pte", 0, pg_accessed_dirty(va));
    (void)rd(va + 4);
    check_eq("ad.read_sets_a", PTE_A, pg_accessed_dirty(va));
    check_eq("ad.read_sets_pde_a", PTE_A, *pg_pde(va) & (PTE_A | PTE_D));
    wr(va + 4, 3);
    check_eq("ad.write_sets_d", PTE_A | PTE_D, pg_accessed_dirty(va));
    /* Cleared by software, D is set again by the next write. */
    pg_update(va, 0, PTE_D);
    wr(va + 4, 4);
    check_eq("ad.write_sets_d_again", PTE_A | PTE_D, pg_accessed_dirty(va));
    /* Only the leaf entry has a dirty bit (SDM Vol. 3A 4.8). */
    check_eq("ad.pde_no_d", 0, *pg_pde(va) & PTE_D);
    check_eq("ad.frame_unchanged", (uint32_t)page_a, *pg_pte(va) & ~0xFFFu);

    map(va + PAGE_SIZE, (uint32_t)page_b, PTE_P | PTE_W | PTE_U);
    wr(va + PAGE_SIZE, 9);
    check_eq("ad.first_write_sets_a_d", PTE_A | PTE_D, pg_accessed_dirty(va + PAGE_SIZE));
}

static void tlb_invalidation(void)
{
    const uint32_t va = VA_4K + 4 * PAGE_SIZE;
    *(volatile uint32_t *)page_a = 0xAAAA0001;
    *(volatile uint32_t *)page_b = 0xBBBB0002;
    map(va, (uint32_t)page_a, PTE_P | PTE_W);
    check_eq("tlb.before", 0xAAAA0001, rd(va));
    /* Without invalidation the stale translation may or may not be used;
     * after INVLPG the new one must be (SDM Vol. 3A 4.10.4.1). */
    pg_map_4k(va, (uint32_t)page_b, PTE_P | PTE_W);
    invlpg(va);
    check_eq("tlb.after_invlpg", 0xBBBB0002, rd(va));
    pg_map_4k(va, (uint32_t)page_a, PTE_P | PTE_W);
    pg_flush_all();
    check_eq("tlb.after_cr3_reload", 0xAAAA0001, rd(va));
}

static void check_user_pf(const char *name, unsigned vec, uint32_t error, uint32_t cr2)
{
    check_eqf(VEC_PF, vec, "%s.vector", name);
    check_eqf(error, trap_last.error, "%s.error", name);
    check_eqf(cr2, trap_last.cr2, "%s.cr2", name);
    check_eqf(SEL_UCODE, trap_last.cs, "%s.cs", name);
}

static void user_protection(void)
{
    const uint32_t va = VA_4K + 8 * PAGE_SIZE;
    volatile uint32_t *phys = (volatile uint32_t *)page_a;
    phys[1] = 0x600DF00D;

    map(va, (uint32_t)page_a, PTE_P | PTE_W);
    check_user_pf("user.read_supervisor", user_run(user_read, va + 4, 0), PF_P | PF_U, va + 4);
    check_user_pf("user.write_supervisor", user_run(user_write, va + 4, 0),
                  PF_P | PF_W | PF_U, va + 4);

    map(va, (uint32_t)page_a, PTE_P | PTE_U);
    check_eq("user.read_user_read_only.vector", VEC_SYSCALL, user_run(user_read, va + 4, 0));
    check_eq("user.read_user_read_only.value", 0x600DF00D, trap_last.eax);
    /* CR0.WP does not matter for CPL 3: read-only is read-only. */
    check_user_pf("user.write_read_only", user_run(user_write, va + 4, 0),
                  PF_P | PF_W | PF_U, va + 4);
    check_eq("user.write_read_only.not_stored", 0x600DF00D, phys[1]);

    map(va, (uint32_t)page_a, PTE_P | PTE_W | PTE_U);
    check_eq("user.write_user.vector", VEC_SYSCALL, user_run(user_write, va + 4, 0));
    check_eq("user.write_user.stored", USER_WRITE_VALUE, phys[1]);

    map(va, (uint32_t)page_a, PTE_U | PTE_W);
    check_user_pf("user.read_not_present", user_run(user_read, va + 8, 0), PF_U, va + 8);
    check_user_pf("user.write_not_present", user_run(user_write, va + 8, 0), PF_U | PF_W,
                  va + 8);

    /* U/S must be set at both levels (SDM Vol. 3A 4.6.1). */
    map(va, (uint32_t)page_a, PTE_P | PTE_W | PTE_U);
    *pg_pde(va) &= ~PTE_U;
    invlpg(va);
    check_user_pf("user.read_pde_supervisor", user_run(user_read, va + 12, 0), PF_P | PF_U,
                  va + 12);
    *pg_pde(va) |= PTE_U;
    invlpg(va);
}

static void user_fetch(void)
{
    const uint32_t va = VA_4K + 12 * PAGE_SIZE;
    map(va, (uint32_t)code_page, PTE_P | PTE_U);
    check_eq("user.fetch_user.vector", VEC_SYSCALL, user_run((user_fn)va, 0, 0));
    check_eq("user.fetch_user.result", 42, trap_last.eax);
    map(va, (uint32_t)code_page, PTE_P);
    unsigned v = user_run((user_fn)va, 0, 0);
    check_user_pf("user.fetch_supervisor", v, PF_P | PF_U, va);
    check_eq("user.fetch_supervisor.eip", va, trap_last.eip);
}

static void supervisor_write_protect(void)
{
    const uint32_t va = VA_4K + 16 * PAGE_SIZE;
    map(va, (uint32_t)page_b, PTE_P | PTE_U);
    check_eq("wp0.kernel_write_user_read_only.no_trap", 0, TRY_FAULT(wr(va, 5)));
    write_cr0(read_cr0() | CR0_WP);
    bool t = TRY_FAULT(wr(va, 6));
    check_eq("wp1.kernel_write_user_read_only.trapped", 1, t);
    check_eq("wp1.kernel_write_user_read_only.error", PF_P | PF_W, trap_last.error);
    check_eq("wp1.kernel_write_user_read_only.cr2", va, trap_last.cr2);
    check_eq("wp1.kernel_write_user_read_only.value", 5, rd(va));
    write_cr0(read_cr0() & ~CR0_WP);
}

void test_main(void)
{
    pg_init();
    pg_enable(true);
    check_eq("cr4.pse", CR4_PSE, read_cr4() & CR4_PSE);
    big_pages();
    accessed_dirty();
    tlb_invalidation();
    user_protection();
    user_fetch();
    supervisor_write_protect();
}
