/* softmmu: page walks over page tables built in a machine's RAM, checked
 * against the expected translations, #PF error codes (SDM Vol. 3A 4.7),
 * accessed/dirty flags (4.8) and TLB behaviour (4.10). */
#include <criterion/criterion.h>
#include <unistd.h>

#include "softmmu/softmmu.h"

#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define ACC 0x20u
#define DIRTY 0x40u
#define PS 0x80u
#define G 0x100u
#define XD (1ull << 63)

#define CR0_PE 0x1u
#define PD 0x10000u   /* 32-bit page directory */
#define PDPT 0x30000u /* PAE page-directory-pointer table */
#define MMIO_BASE 0xD0000000u

static struct machine *m;
static struct mmu mmu;
static uint8_t *ram;
static uint32_t next_table;
static struct mmu_fault f;

static void wr32(uint64_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static uint32_t rd32(uint64_t pa)
{
    uint32_t v;
    memcpy(&v, ram + pa, 4);
    return v;
}
static void wr64(uint64_t pa, uint64_t v) { memcpy(ram + pa, &v, 8); }
static uint64_t rd64(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, ram + pa, 8);
    return v;
}

/* A test MMIO device: remembers the last access, reads give a pattern. */
static struct {
    uint64_t offset, data;
    unsigned size, count;
    bool is_write;
} dev;

static void dev_io(void *opaque, uint64_t offset, void *data, unsigned size, bool is_write)
{
    (void)opaque;
    dev.offset = offset;
    dev.size = size;
    dev.is_write = is_write;
    dev.count++;
    if (is_write) {
        dev.data = 0;
        memcpy(&dev.data, data, size);
    } else {
        uint64_t v = 0x8877665544332211ull;
        memcpy(data, &v, size);
    }
}

static void setup(void)
{
    struct mach_config cfg = {.ram_bytes = 16u << 20};
    struct mach_err err = {{0}};
    m = mach_create(&cfg, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_eq(mach_bus_register(m, MACH_BUS_MMIO, MMIO_BASE, 0x2000, dev_io, NULL, "testdev",
                                   &err),
                 0, "%s", err.msg);
    cr_assert_eq(mmu_init(&mmu, m, &err), 0, "%s", err.msg);
    mmu_set_a20(&mmu, true); /* tests use addresses with bit 20 set */
    ram = mach_ram(m);
    next_table = 0x11000;
    memset(&dev, 0, sizeof(dev));
}

static void teardown(void)
{
    mmu_destroy(&mmu);
    mach_destroy(m);
}

TestSuite(softmmu, .init = setup, .fini = teardown);

static void set_regs(uint32_t cr0, uint32_t cr3, uint32_t cr4, bool nxe)
{
    struct mmu_regs r = {.cr0 = cr0, .cr3 = cr3, .cr4 = cr4, .nxe = nxe};
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_OK);
}

static void paging32(uint32_t cr0_extra, uint32_t cr4)
{
    set_regs(CR0_PE | MMU_CR0_PG | cr0_extra, PD, cr4, false);
}

/* Maps one 4-KByte page with 32-bit paging; the page table of the PDE is
 * allocated on first use and the PDE gets pde_flags. */
static void map4k(uint32_t lin, uint32_t phys, uint32_t pte_flags, uint32_t pde_flags)
{
    uint32_t pde = rd32(PD + (lin >> 22) * 4);
    uint32_t table = pde & P ? pde & MMU_PAGE_MASK : (next_table += 0x1000) - 0x1000;
    wr32(PD + (lin >> 22) * 4, table | pde_flags);
    wr32(table + ((lin >> 12) & 0x3FF) * 4, phys | pte_flags);
}

static uint32_t pte_addr(uint32_t lin)
{
    return (rd32(PD + (lin >> 22) * 4) & MMU_PAGE_MASK) + ((lin >> 12) & 0x3FF) * 4;
}

static enum mmu_result rd(uint32_t lin, unsigned acc, uint32_t *v)
{
    return mmu_read32(&mmu, lin, acc, v, &f);
}

static enum mmu_result wr(uint32_t lin, unsigned acc, uint32_t v)
{
    return mmu_write32(&mmu, lin, acc, v, &f);
}

static void expect_pf(enum mmu_result r, uint32_t cr2, uint32_t ec)
{
    cr_assert_eq(r, MMU_FAULT);
    cr_assert_eq(f.vector, MMU_VEC_PF);
    cr_assert_eq(f.cr2, cr2, "cr2 0x%x, expected 0x%x", f.cr2, cr2);
    cr_assert_eq(f.error_code, ec, "error code 0x%x, expected 0x%x", f.error_code, ec);
}

Test(softmmu, paging_off_is_identity_and_a20_masks_bit_20)
{
    uint32_t v;
    static struct mmu fresh;
    cr_assert_eq(mmu_init(&fresh, m, NULL), 0);
    cr_assert_eq(fresh.a20_mask == ~0ull, mach_a20_enabled(m), "mmu_init follows the gate");
    mmu_destroy(&fresh);
    uint64_t changes = mmu.stats.a20_changes;
    cr_assert_eq(wr(0x5000, 0, 0xCAFEBABE), MMU_OK);
    cr_assert_eq(rd32(0x5000), 0xCAFEBABE);
    wr32(0x105000, 0x11111111);
    cr_assert_eq(rd(0x105000, MMU_ACC_USER, &v), MMU_OK);
    cr_assert_eq(v, 0x11111111);
    mmu_set_a20(&mmu, false);
    cr_assert_eq(rd(0x105000, MMU_ACC_USER, &v), MMU_OK, "A20 change must flush the TLB");
    cr_assert_eq(v, 0xCAFEBABE);
    mmu_set_a20(&mmu, true);
    cr_assert_eq(rd(0x105000, 0, &v), MMU_OK);
    cr_assert_eq(v, 0x11111111);
    cr_assert_eq(mmu.stats.a20_changes, changes + 2);
}

Test(softmmu, a20_masks_page_walk_addresses)
{
    /* CR3 at 1 MiB + PD: with A20 off the directory is read from PD. */
    map4k(0x00400000, 0x200000, P | RW, P | RW);
    wr32(0x200000, 0x600DF00D);
    set_regs(CR0_PE | MMU_CR0_PG, PD | 0x100000, 0, false);
    uint32_t v;
    expect_pf(rd(0x00400000, 0, &v), 0x00400000, 0);
    mmu_set_a20(&mmu, false);
    cr_assert_eq(rd(0x00400000, 0, &v), MMU_OK);
    cr_assert_eq(v, 0x600DF00D);
}

Test(softmmu, maps_4k_pages_identity_and_not)
{
    map4k(0x00003000, 0x00003000, P | RW, P | RW);
    map4k(0x00401000, 0x00208000, P | RW, P | RW);
    paging32(0, 0);
    cr_assert_eq(wr(0x00003010, 0, 0x12345678), MMU_OK);
    cr_assert_eq(rd32(0x3010), 0x12345678);
    cr_assert_eq(wr(0x00401ffc, 0, 0xA5A5A5A5), MMU_OK);
    cr_assert_eq(rd32(0x208ffc), 0xA5A5A5A5);
    uint32_t v;
    cr_assert_eq(rd(0x00401ffc, 0, &v), MMU_OK);
    cr_assert_eq(v, 0xA5A5A5A5);
    expect_pf(rd(0x00402000, 0, &v), 0x00402000, 0);
    expect_pf(wr(0x00800000, 0, 1), 0x00800000, MMU_PF_W);
}

Test(softmmu, pse_4m_pages_only_with_cr4_pse)
{
    wr32(PD + 1 * 4, 0x00800000 | PS | RW | P);
    wr32(0x00801234, 0xDEADBEEF);
    paging32(0, MMU_CR4_PSE);
    uint32_t v;
    cr_assert_eq(rd(0x00401234, 0, &v), MMU_OK);
    cr_assert_eq(v, 0xDEADBEEF);
    struct mmu_xlat x;
    cr_assert_eq(mmu_translate(&mmu, 0x007FF000, 0, &x, &f), MMU_OK);
    cr_assert_eq(x.phys, 0x00BFF000);
    cr_assert_eq(x.page_size, 4u << 20);
    /* Without CR4.PSE the PDE points at a page table (all zero here). */
    paging32(0, 0);
    expect_pf(rd(0x00401234, 0, &v), 0x00401234, 0);
}

Test(softmmu, pse36_high_bits_leave_guest_ram)
{
    /* PDE bits 16:13 are physical bits 35:32 (SDM Table 4-4). */
    wr32(PD, 0x00400000 | (1u << 13) | PS | RW | P);
    paging32(0, MMU_CR4_PSE);
    struct mmu_xlat x;
    cr_assert_eq(mmu_translate(&mmu, 0x1000, 0, &x, &f), MMU_OK);
    cr_assert_eq(x.phys, 0x100401000ull);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_BAD_PHYS);
    cr_assert_eq(f.paddr, 0x100401000ull);
}

Test(softmmu, user_and_supervisor_rights_and_error_codes)
{
    map4k(0x1000, 0x100000, P | RW, P | RW | US);      /* supervisor page */
    map4k(0x2000, 0x101000, P | US, P | RW | US);      /* user read-only */
    map4k(0x3000, 0x102000, P | RW | US, P | RW | US); /* user read-write */
    map4k(0x00400000, 0x103000, P | RW | US, P | RW);  /* PDE says supervisor */
    paging32(0, 0);
    uint32_t v;
    const unsigned U = MMU_ACC_USER;
    expect_pf(rd(0x1000, U, &v), 0x1000, MMU_PF_P | MMU_PF_U);
    expect_pf(wr(0x1004, U, 1), 0x1004, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(rd(0x2000, U, &v), MMU_OK);
    expect_pf(wr(0x2008, U, 1), 0x2008, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(wr(0x3000, U, 7), MMU_OK);
    expect_pf(rd(0x00400010, U, &v), 0x00400010, MMU_PF_P | MMU_PF_U);
    /* Implicit supervisor accesses at CPL 3 are supervisor accesses. */
    cr_assert_eq(rd(0x1000, mmu_acc(0, MMU_ACC_READ), &v), MMU_OK);
    cr_assert_eq(mmu_acc(3, MMU_ACC_WRITE), MMU_ACC_WRITE | MMU_ACC_USER);
    /* Not present, from user mode: P=0. */
    expect_pf(wr(0x5000, U, 1), 0x5000, MMU_PF_W | MMU_PF_U);
    /* CR0.WP=0: supervisor writes to read-only pages succeed. */
    cr_assert_eq(wr(0x2000, 0, 0x77), MMU_OK);
    cr_assert_eq(rd32(0x101000), 0x77);
    /* CR0.WP=1 must take effect although the TLB allowed the write. */
    paging32(MMU_CR0_WP, 0);
    expect_pf(wr(0x2000, 0, 0x78), 0x2000, MMU_PF_P | MMU_PF_W);
    cr_assert_eq(rd32(0x101000), 0x77);
    cr_assert_eq(wr(0x3000, 0, 8), MMU_OK);
}

Test(softmmu, read_only_pde_makes_the_region_read_only)
{
    map4k(0x1000, 0x100000, P | RW | US, P | US);
    paging32(MMU_CR0_WP, 0);
    expect_pf(wr(0x1000, MMU_ACC_USER, 1), 0x1000, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    expect_pf(wr(0x1000, 0, 1), 0x1000, MMU_PF_P | MMU_PF_W);
}

Test(softmmu, accessed_and_dirty_flags)
{
    map4k(0x1000, 0x100000, P | RW, P | RW);
    paging32(0, 0);
    uint32_t pde = PD, pte = pte_addr(0x1000);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(rd32(pde) & (ACC | DIRTY), ACC);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC);
    /* The TLB entry of the read must not let the write skip setting D. */
    cr_assert_eq(wr(0x1000, 0, 5), MMU_OK);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC | DIRTY);
    cr_assert_eq(rd32(pde) & DIRTY, 0, "D is set only in the leaf");
    /* Further writes hit the TLB. */
    uint64_t walks = mmu.stats.walks;
    cr_assert_eq(wr(0x1004, 0, 6), MMU_OK);
    cr_assert_eq(mmu.stats.walks, walks);
}

Test(softmmu, dirty_flag_in_a_4m_pde)
{
    wr32(PD, 0x00400000 | PS | RW | P);
    paging32(0, MMU_CR4_PSE);
    cr_assert_eq(wr(0x10, 0, 1), MMU_OK);
    cr_assert_eq(rd32(PD) & (ACC | DIRTY), ACC | DIRTY);
}

Test(softmmu, faulting_walks_leave_the_faulting_entries_alone)
{
    /* Not-present PDE: nothing is written. */
    paging32(0, 0);
    uint32_t v;
    expect_pf(rd(0x00800000, 0, &v), 0x00800000, 0);
    cr_assert_eq(rd32(PD + 2 * 4), 0);
    /* Not-present PTE: the PDE was used to reach it, so it is accessed
     * (SDM 4.8); the PTE is not touched. */
    map4k(0x1000, 0x100000, P | RW, P | RW);
    wr32(pte_addr(0x2000), 0x101000 | RW); /* P=0 */
    expect_pf(wr(0x2000, 0, 1), 0x2000, MMU_PF_W);
    cr_assert_eq(rd32(PD) & (ACC | DIRTY), ACC);
    cr_assert_eq(rd32(pte_addr(0x2000)), 0x101000 | RW);
    /* Protection fault: the leaf gets neither A nor D. */
    map4k(0x3000, 0x102000, P, P | RW | US);
    expect_pf(wr(0x3000, MMU_ACC_USER, 1), 0x3000, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(rd32(pte_addr(0x3000)) & (ACC | DIRTY), 0);
}

Test(softmmu, tlb_hits_after_a_walk_until_invlpg)
{
    map4k(0x1000, 0x100000, P | RW, P | RW);
    paging32(0, 0);
    wr32(0x100000, 1);
    wr32(0x104000, 2);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    uint64_t walks = mmu.stats.walks, hits = mmu.stats.tlb_hits;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(mmu.stats.walks, walks);
    cr_assert_eq(mmu.stats.tlb_hits, hits + 1);
    /* A PTE change is not seen until the entry is invalidated. */
    wr32(pte_addr(0x1000), 0x104000 | P | RW | ACC);
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 1);
    mmu_invlpg(&mmu, 0x1ABC);
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(mmu.stats.walks, walks + 1);
}

Test(softmmu, cr3_load_keeps_only_global_entries)
{
    map4k(0x1000, 0x100000, P | RW | G, P | RW);
    map4k(0x2000, 0x101000, P | RW, P | RW);
    wr32(0x100000, 1);
    wr32(0x101000, 2);
    wr32(0x102000, 3);
    paging32(0, MMU_CR4_PGE);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(rd(0x2000, 0, &v), MMU_OK);
    wr32(pte_addr(0x1000), 0x102000 | P | RW);
    wr32(pte_addr(0x2000), 0x102000 | P | RW);
    cr_assert_eq(mmu_write_cr3(&mmu, PD, &f), MMU_OK); /* same value: flushes */
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 1, "global entry survives a CR3 load");
    cr_assert_eq(rd(0x2000, 0, &v), MMU_OK);
    cr_assert_eq(v, 3, "non-global entry is flushed");
    /* INVLPG drops global entries too. */
    mmu_invlpg(&mmu, 0x1000);
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 3);
}

Test(softmmu, toggling_pge_flushes_global_entries)
{
    map4k(0x1000, 0x100000, P | RW | G, P | RW);
    wr32(0x100000, 1);
    wr32(0x102000, 3);
    paging32(0, MMU_CR4_PGE);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    wr32(pte_addr(0x1000), 0x102000 | P | RW | G);
    paging32(0, 0);
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 3);
    /* Without CR4.PGE the G bit means nothing: CR3 loads flush it. */
    wr32(pte_addr(0x1000), 0x100000 | P | RW | G);
    cr_assert_eq(mmu_write_cr3(&mmu, PD, &f), MMU_OK);
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    cr_assert_eq(v, 1);
}

Test(softmmu, invlpg_drops_every_piece_of_a_large_page)
{
    wr32(PD + 1 * 4, 0x00800000 | PS | RW | P);
    wr32(0x00800000, 1);
    wr32(0x00BFF000, 2);
    wr32(0x00C00000, 3);
    wr32(0x00FFF000, 4);
    paging32(0, MMU_CR4_PSE);
    uint32_t v;
    cr_assert_eq(rd(0x00400000, 0, &v), MMU_OK);
    cr_assert_eq(rd(0x007FF000, 0, &v), MMU_OK);
    wr32(PD + 1 * 4, 0x00C00000 | PS | RW | P);
    mmu_invlpg(&mmu, 0x00512345); /* some other address of the same page */
    cr_assert_eq(rd(0x00400000, 0, &v), MMU_OK);
    cr_assert_eq(v, 3);
    cr_assert_eq(rd(0x007FF000, 0, &v), MMU_OK);
    cr_assert_eq(v, 4);
}

Test(softmmu, page_crossing_write_faults_before_writing)
{
    map4k(0x1000, 0x100000, P | RW | US, P | RW | US);
    map4k(0x2000, 0x101000, P | US, P | RW | US);
    paging32(MMU_CR0_WP, 0);
    wr32(0x100ffc, 0x44332211);
    wr32(0x101000, 0x88776655);
    uint64_t val = 0xFFFFFFFFFFFFFFFFull;
    expect_pf(mmu_write64(&mmu, 0x1ffc, MMU_ACC_USER, val, &f), 0x2000,
              MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(rd32(0x100ffc), 0x44332211);
    cr_assert_eq(rd32(0x101000), 0x88776655);
    /* The same access as a read crosses fine, from two pages. */
    uint64_t got;
    cr_assert_eq(mmu_read64(&mmu, 0x1ffc, MMU_ACC_USER, &got, &f), MMU_OK);
    cr_assert_eq(got, 0x8877665544332211ull);
    /* A page-crossing write that is allowed writes both parts. */
    map4k(0x3000, 0x200000, P | RW, P | RW);
    map4k(0x4000, 0x300000, P | RW, P | RW);
    cr_assert_eq(wr(0x3ffe, 0, 0xAABBCCDD), MMU_OK);
    cr_assert_eq(ram[0x200ffe], 0xDD);
    cr_assert_eq(ram[0x200fff], 0xCC);
    cr_assert_eq(ram[0x300000], 0xBB);
    cr_assert_eq(ram[0x300001], 0xAA);
}

Test(softmmu, linear_addresses_wrap_at_4g)
{
    map4k(0xFFFFF000, 0x100000, P | RW, P | RW);
    map4k(0x00000000, 0x101000, P | RW, P | RW);
    paging32(0, 0);
    cr_assert_eq(wr(0xFFFFFFFE, 0, 0x44332211), MMU_OK);
    cr_assert_eq(ram[0x100ffe], 0x11);
    cr_assert_eq(ram[0x101001], 0x44);
}

static void pae_setup(uint32_t cr0_extra, bool nxe)
{
    for (unsigned i = 0; i < 4; i++)
        wr64(PDPT + i * 8, (0x31000 + i * 0x1000) | P);
    set_regs(CR0_PE | MMU_CR0_PG | cr0_extra, PDPT, MMU_CR4_PAE, nxe);
}

/* PAE: PD for the first GiB at 0x31000, one page table at 0x35000. */
static uint64_t pae_pde(uint32_t lin) { return 0x31000 + ((lin >> 21) & 0x1FF) * 8; }
static uint64_t pae_pte(uint32_t lin) { return 0x35000 + ((lin >> 12) & 0x1FF) * 8; }

Test(softmmu, pae_4k_and_2m_pages)
{
    wr64(pae_pde(0x00200000), 0x00400000 | PS | RW | P); /* 2 MiB at 4 MiB */
    wr64(pae_pde(0x00000000), 0x35000 | RW | P);
    wr64(pae_pte(0x00003000), 0x00700000 | RW | P);
    wr32(0x00512344, 0x2222);
    wr32(0x00700ff0, 0x4444);
    pae_setup(0, false);
    uint32_t v;
    cr_assert_eq(rd(0x00312344, 0, &v), MMU_OK);
    cr_assert_eq(v, 0x2222);
    cr_assert_eq(rd(0x00003ff0, 0, &v), MMU_OK);
    cr_assert_eq(v, 0x4444);
    cr_assert_eq(wr(0x00312344, 0, 1), MMU_OK);
    cr_assert_eq(rd64(pae_pde(0x00200000)) & (ACC | DIRTY), ACC | DIRTY);
    struct mmu_xlat x;
    cr_assert_eq(mmu_translate(&mmu, 0x003FF000, 0, &x, &f), MMU_OK);
    cr_assert_eq(x.page_size, 2u << 20);
    cr_assert_eq(x.phys, 0x005FF000);
    /* The PDPTEs are cached: changing one in memory has no effect until
     * CR3 is loaded again. */
    wr64(PDPT, 0);
    mmu_flush(&mmu);
    cr_assert_eq(rd(0x00003ff0, 0, &v), MMU_OK);
    cr_assert_eq(mmu_write_cr3(&mmu, PDPT, &f), MMU_OK);
    expect_pf(rd(0x00003ff0, 0, &v), 0x00003ff0, 0);
}

Test(softmmu, pae_nx_fetch_faults_with_id_bit)
{
    wr64(pae_pde(0x00200000), 0x00400000 | PS | RW | US | P | XD);
    wr64(pae_pde(0x00400000), 0x00600000 | PS | RW | US | P);
    pae_setup(0, true);
    struct mmu_fetch fe;
    expect_pf(mmu_fetch(&mmu, 0x00200010, MMU_ACC_EXEC, &fe, &f), 0x00200010,
              MMU_PF_P | MMU_PF_ID);
    expect_pf(mmu_fetch(&mmu, 0x00200010, MMU_ACC_EXEC | MMU_ACC_USER, &fe, &f), 0x00200010,
              MMU_PF_P | MMU_PF_ID | MMU_PF_U);
    uint32_t v;
    cr_assert_eq(rd(0x00200010, 0, &v), MMU_OK, "NX pages stay readable");
    /* Not present fetch: I/D is set too (it describes the access). */
    expect_pf(mmu_fetch(&mmu, 0x40000000, MMU_ACC_EXEC, &fe, &f), 0x40000000, MMU_PF_ID);
    ram[0x00600123] = 0x90;
    cr_assert_eq(mmu_fetch(&mmu, 0x00400123, MMU_ACC_EXEC, &fe, &f), MMU_OK);
    cr_assert_eq(fe.host[0], 0x90);
    cr_assert_eq(fe.avail, 0x1000 - 0x123);
    cr_assert_eq(fe.phys, 0x00600123);
}

Test(softmmu, no_id_bit_without_pae_nxe)
{
    paging32(0, 0);
    struct mmu_fetch fe;
    expect_pf(mmu_fetch(&mmu, 0x1000, MMU_ACC_EXEC, &fe, &f), 0x1000, 0);
}

Test(softmmu, xd_bit_is_reserved_without_nxe)
{
    wr64(pae_pde(0x00200000), 0x00400000 | PS | RW | P | XD);
    pae_setup(0, false);
    uint32_t v;
    expect_pf(rd(0x00200000, 0, &v), 0x00200000, MMU_PF_P | MMU_PF_RSVD);
    /* Turning NXE on flushes and makes the same PDE valid. */
    set_regs(CR0_PE | MMU_CR0_PG, PDPT, MMU_CR4_PAE, true);
    cr_assert_eq(rd(0x00200000, 0, &v), MMU_OK);
}

Test(softmmu, reserved_bits_fault_with_rsvd)
{
    wr64(pae_pde(0x00000000), 0x35000 | RW | P);
    wr64(pae_pte(0x1000), 0x00100000 | RW | P | (1ull << 40));
    wr64(pae_pde(0x00200000), 0x00400000 | PS | RW | P | (1ull << 13));
    pae_setup(0, true);
    uint32_t v;
    expect_pf(wr(0x1000, 0, 1), 0x1000, MMU_PF_P | MMU_PF_RSVD | MMU_PF_W);
    cr_assert_eq(rd64(pae_pte(0x1000)) & ACC, 0);
    expect_pf(rd(0x00200000, MMU_ACC_USER, &v), 0x00200000,
              MMU_PF_P | MMU_PF_RSVD | MMU_PF_U);
    /* 32-bit paging: bit 21 of a 4-MByte PDE, and bit 17 (above M=36). */
    wr32(PD, 0x00400000 | (1u << 21) | PS | RW | P);
    wr32(PD + 4, 0x00400000 | (1u << 17) | PS | RW | P);
    paging32(0, MMU_CR4_PSE);
    expect_pf(rd(0x10, 0, &v), 0x10, MMU_PF_P | MMU_PF_RSVD);
    expect_pf(rd(0x00400010, 0, &v), 0x00400010, MMU_PF_P | MMU_PF_RSVD);
}

Test(softmmu, pdpte_reserved_bits_raise_gp)
{
    for (unsigned i = 0; i < 4; i++)
        wr64(PDPT + i * 8, (0x31000 + i * 0x1000) | P);
    wr64(PDPT + 16, 0x33000 | P | RW); /* bit 1 is reserved in a PDPTE */
    struct mmu_regs r = {.cr0 = CR0_PE | MMU_CR0_PG, .cr3 = PDPT, .cr4 = MMU_CR4_PAE};
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_FAULT);
    cr_assert_eq(f.vector, MMU_VEC_GP);
    cr_assert_eq(f.error_code, 0);
    cr_assert_eq(mmu.regs.cr0, 0, "a failed load changes nothing");
    /* A reserved bit in a PDPTE that is not present is ignored. */
    wr64(PDPT + 16, 0x33000 | RW);
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_OK);
    wr64(PDPT + 24, 0x34000 | P | (1ull << 40));
    cr_assert_eq(mmu_write_cr3(&mmu, PDPT, &f), MMU_FAULT);
    cr_assert_eq(f.vector, MMU_VEC_GP);
    wr64(PDPT + 24, 0x34000 | P | XD); /* bit 63 is reserved even with NXE */
    r.nxe = true;
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_OK); /* no PDPTE reload */
    cr_assert_eq(mmu_write_cr3(&mmu, PDPT, &f), MMU_FAULT);
}

static struct {
    unsigned calls;
    uint64_t paddr, len;
    bool clear;
} cw;

static void on_code_written(void *opaque, uint64_t paddr, uint64_t len)
{
    (void)opaque;
    cw.calls++;
    cw.paddr = paddr;
    cw.len = len;
    if (cw.clear)
        mmu_code_page_clear(&mmu, paddr);
}

Test(softmmu, writes_to_code_pages_reach_the_hook)
{
    memset(&cw, 0, sizeof(cw));
    struct mmu_hooks h = {.code_written = on_code_written};
    mmu_set_hooks(&mmu, &h);
    map4k(0x1000, 0x100000, P | RW, P | RW);
    map4k(0x2000, 0x101000, P | RW, P | RW);
    paging32(0, 0);
    /* A fast write entry exists before the page becomes code. */
    cr_assert_eq(wr(0x1000, 0, 1), MMU_OK);
    cr_assert_eq(wr(0x2000, 0, 1), MMU_OK);
    mmu_code_page_set(&mmu, 0x100000);
    cr_assert(mmu_code_page_test(&mmu, 0x100abc));
    cr_assert_not(mmu_code_page_test(&mmu, 0x101000));
    cr_assert_eq(mmu_write16(&mmu, 0x1010, 0, 0xBEEF, &f), MMU_OK);
    cr_assert_eq(cw.calls, 1);
    cr_assert_eq(cw.paddr, 0x100010);
    cr_assert_eq(cw.len, 2);
    cr_assert_eq(rd32(0x100010) & 0xFFFF, 0xBEEF);
    cr_assert_eq(wr(0x2000, 0, 2), MMU_OK);
    cr_assert_eq(cw.calls, 1, "other pages stay silent");
    /* Writes from outside the softmmu are forwarded by the engine. */
    mmu_phys_written(&mmu, 0x100ff0, 0x20);
    cr_assert_eq(cw.calls, 2);
    mmu_phys_written(&mmu, 0x102000, 0x20);
    cr_assert_eq(cw.calls, 2);
    /* Once the engine drops the page's code, writes are fast again. */
    cw.clear = true;
    cr_assert_eq(wr(0x1020, 0, 3), MMU_OK);
    cr_assert_eq(cw.calls, 3);
    cr_assert_not(mmu_code_page_test(&mmu, 0x100000));
    cr_assert_eq(wr(0x1024, 0, 4), MMU_OK);
    cr_assert_eq(cw.calls, 3);
    /* Code outside RAM is ignored. */
    mmu_code_page_set(&mmu, 0xFFFF0000);
    cr_assert_not(mmu_code_page_test(&mmu, 0xFFFF0000));
}

static struct {
    unsigned all, nonglobal, page;
    uint32_t lin;
} fl;

static void on_flush(void *opaque, enum mmu_flush scope, uint32_t lin)
{
    (void)opaque;
    if (scope == MMU_FLUSH_ALL)
        fl.all++;
    else if (scope == MMU_FLUSH_NONGLOBAL)
        fl.nonglobal++;
    else
        fl.page++, fl.lin = lin;
}

Test(softmmu, flushes_are_reported_to_the_engine)
{
    memset(&fl, 0, sizeof(fl));
    struct mmu_hooks h = {.flushed = on_flush};
    mmu_set_hooks(&mmu, &h);
    paging32(0, 0);
    cr_assert_eq(fl.all, 1);
    set_regs(CR0_PE | MMU_CR0_PG, PD + 0x1000, 0, false);
    cr_assert_eq(fl.nonglobal, 1);
    set_regs(CR0_PE | MMU_CR0_PG | MMU_CR0_CD, PD + 0x1000, 0, false);
    cr_assert_eq(fl.all + fl.nonglobal, 2, "CR0.CD alone flushes nothing");
    mmu_invlpg(&mmu, 0x1234);
    cr_assert_eq(fl.page, 1);
    cr_assert_eq(fl.lin, 0x1234);
}

Test(softmmu, mmio_and_unassigned_memory)
{
    map4k(0x1000, MMIO_BASE, P | RW, P | RW);
    map4k(0x2000, 0x08000000, P | RW, P | RW);
    paging32(0, 0);
    cr_assert_eq(wr(0x1010, 0, 0xABCD1234), MMU_OK);
    cr_assert(dev.is_write);
    cr_assert_eq(dev.offset, 0x10);
    cr_assert_eq(dev.size, 4);
    cr_assert_eq(dev.data, 0xABCD1234);
    uint32_t v;
    cr_assert_eq(rd(0x1020, 0, &v), MMU_OK);
    cr_assert_not(dev.is_write);
    cr_assert_eq(v, 0x44332211);
    /* A misaligned MMIO access is split into aligned pieces. */
    dev.count = 0;
    cr_assert_eq(wr(0x1001, 0, 0), MMU_OK);
    cr_assert_eq(dev.count, 3);
    struct mmu_fetch fe;
    cr_assert_eq(mmu_fetch(&mmu, 0x1000, MMU_ACC_EXEC, &fe, &f), MMU_NOT_RAM);
    cr_assert_eq(fe.phys, MMIO_BASE);
    cr_assert_eq(rd(0x2004, 0, &v), MMU_BAD_PHYS);
    cr_assert_eq(f.paddr, 0x08000004);
    cr_assert_eq(wr(0x2004, 0, 1), MMU_BAD_PHYS);
    cr_assert_eq(mmu_fetch(&mmu, 0x2000, MMU_ACC_EXEC, &fe, &f), MMU_BAD_PHYS);
    mmu_report_bad_phys(&mmu, &f);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_BAD_MEMORY);
    cr_assert(mmu.stats.bad_phys >= 3);
}

Test(softmmu, page_tables_in_unassigned_memory_are_a_vm_error)
{
    set_regs(CR0_PE | MMU_CR0_PG, 0x08000000, 0, false);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_BAD_PHYS);
    cr_assert_eq(f.paddr, 0x08000000);
    struct mmu_regs r = {.cr0 = CR0_PE | MMU_CR0_PG, .cr3 = 0x08000000, .cr4 = MMU_CR4_PAE};
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_BAD_PHYS);
}

Test(softmmu, rom_is_read_and_fetched_in_place_and_ignores_writes)
{
    static uint8_t image[0x10000];
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 7 + 1);
    char path[] = "/tmp/test_softmmu_romXXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *fp = fdopen(fd, "wb");
    cr_assert_eq(fwrite(image, 1, sizeof(image), fp), sizeof(image));
    fclose(fp);
    struct mach_err err = {{0}};
    int loaded = mach_load_rom(m, path, &err);
    unlink(path);
    cr_assert_eq(loaded, 0, "%s", err.msg);
    mmu_flush(&mmu); /* the physical map changed under the TLB */
    uint32_t v, want;
    memcpy(&want, image + 0xFFF0, 4);
    cr_assert_eq(rd(0xFFFFFFF0, 0, &v), MMU_OK);
    cr_assert_eq(v, want);
    cr_assert_eq(rd(0x000FFFF0, 0, &v), MMU_OK, "the alias below 1 MiB");
    cr_assert_eq(v, want);
    cr_assert_eq(wr(0x000FFFF0, 0, ~want), MMU_OK, "ROM writes are dropped");
    cr_assert_eq(rd(0xFFFFFFF0, 0, &v), MMU_OK);
    cr_assert_eq(v, want);
    struct mmu_fetch fe;
    cr_assert_eq(mmu_fetch(&mmu, 0xFFFFFFF0, MMU_ACC_EXEC, &fe, &f), MMU_OK);
    cr_assert_eq(fe.avail, 16);
    cr_assert_eq(fe.phys, 0xFFFFFFF0ull);
    cr_assert_eq(memcmp(fe.host, image + 0xFFF0, 16), 0);
}

Test(softmmu, read_with_write_intent_checks_and_dirties)
{
    map4k(0x1000, 0x100000, P | US, P | RW | US);
    map4k(0x2000, 0x101000, P | RW | US, P | RW | US);
    paging32(MMU_CR0_WP, 0);
    uint32_t v;
    expect_pf(mmu_read32(&mmu, 0x1000, MMU_ACC_USER | MMU_ACC_WRITE, &v, &f), 0x1000,
              MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(mmu_read32(&mmu, 0x2000, MMU_ACC_USER | MMU_ACC_WRITE, &v, &f), MMU_OK);
    cr_assert_eq(rd32(pte_addr(0x2000)) & DIRTY, DIRTY);
}

Test(softmmu, stats_are_printed)
{
    char buf[1024] = {0};
    FILE *out = fmemopen(buf, sizeof(buf) - 1, "w");
    cr_assert_not_null(out);
    uint32_t v;
    cr_assert_eq(rd(0x1000, 0, &v), MMU_OK);
    mmu_print_stats(&mmu, out);
    fclose(out);
    cr_assert(strstr(buf, "softmmu: TLB hits 0, TLB misses 1,") == buf, "%s", buf);
    cr_assert(strstr(buf, "page walks 0"), "paging is off: %s", buf);
}
