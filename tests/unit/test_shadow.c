/* softmmu shadow windows: guest page tables built in RAM, guest accesses
 * made from C through the windows (volatile loads and stores at window base
 * + linear address), host faults handled by a SIGSEGV handler that calls
 * mmu_shadow_fault and retries, or records the report and jumps out.
 * Expected values: SDM Vol. 3A 4.6 (rights), 4.7 (#PF error code), 4.8
 * (A/D flags), 4.10.4 (invalidation). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softmmu/softmmu.h"

#define P 0x1u
#define RW 0x2u
#define US 0x4u
#define ACC 0x20u
#define DIRTY 0x40u
#define PS 0x80u
#define G 0x100u

#define PD 0x10000u
#define MMIO_BASE 0xD0000000u
#define OK (-1) /* access() result: no report, the access completed */

static struct machine *m;
static struct mmu mmu;
static struct mmu_shadow sh;
static uint8_t *ram;
static uint32_t next_table;

static sigjmp_buf jb;
static volatile int reported;
static struct mmu_shadow_fault rep;
static volatile unsigned retries;

static void wr32(uint64_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static uint32_t rd32(uint64_t pa)
{
    uint32_t v;
    memcpy(&v, ram + pa, 4);
    return v;
}

static unsigned dev_reads;

static void dev_io(void *opaque, uint64_t offset, void *data, unsigned size, bool is_write)
{
    (void)opaque, (void)offset;
    if (!is_write) {
        memset(data, 0xAB, size);
        dev_reads++;
    }
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    struct mmu_shadow_fault out;
    enum mmu_shadow_result r =
        mmu_shadow_fault(&sh, si->si_addr, mmu_shadow_sig_is_write(uc), &out);
    if (r == MMU_SHADOW_RETRY) {
        retries++;
        return;
    }
    rep = out;
    reported = (int)r;
    siglongjmp(jb, 1);
}

static void setup(void)
{
    struct mach_config cfg = {.ram_bytes = 16u << 20};
    struct mach_err err = {{0}};
    m = mach_create(&cfg, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_eq(mach_bus_register(m, MACH_BUS_MMIO, MMIO_BASE, 0x2000, dev_io, NULL, "dev",
                                   &err),
                 0, "%s", err.msg);
    cr_assert_eq(mmu_init(&mmu, m, &err), 0, "%s", err.msg);
    mmu_set_a20(&mmu, true);
    cr_assert_eq(mmu_shadow_init(&sh, &mmu, m, &err), 0, "%s", err.msg);
    ram = mach_ram(m);
    next_table = 0x11000;
    dev_reads = 0;
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

static void teardown(void)
{
    signal(SIGSEGV, SIG_DFL);
    mmu_shadow_destroy(&sh);
    mmu_destroy(&mmu);
    mach_destroy(m);
}

TestSuite(shadow, .init = setup, .fini = teardown);

/* ---- guest page tables (32-bit paging, SDM 4.3) ---- */

static uint32_t pte_addr(uint32_t lin)
{
    uint32_t pde_pa = PD + (lin >> 22) * 4;
    uint32_t pde = rd32(pde_pa);
    if (!(pde & P) || (pde & PS)) {
        pde = next_table | P | RW | US;
        memset(ram + next_table, 0, 4096);
        next_table += 4096;
        wr32(pde_pa, pde);
    }
    return (pde & 0xFFFFF000u) + ((lin >> 12) & 0x3FF) * 4;
}

static void map(uint32_t lin, uint32_t phys, uint32_t flags)
{
    wr32(pte_addr(lin), (phys & 0xFFFFF000u) | flags);
}

static void paging(uint32_t cr0_extra, uint32_t cr4)
{
    struct mmu_regs r = {.cr0 = 1u | MMU_CR0_PG | cr0_extra, .cr3 = PD, .cr4 = cr4};
    struct mmu_fault f;
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_OK);
}

/* ---- accesses through the windows ---- */

static volatile uint8_t *at(unsigned cpl, uint64_t lin)
{
    return mmu_shadow_window_base(&sh, cpl) + lin;
}

/* Guest accesses may be unaligned (x86 allows it; so does the host). */
typedef uint32_t __attribute__((aligned(1))) u32_unaligned;

static int load(unsigned cpl, uint64_t lin, uint32_t *v)
{
    reported = OK;
    if (sigsetjmp(jb, 1) == 0)
        *v = *(volatile u32_unaligned *)at(cpl, lin);
    return reported;
}

static int store(unsigned cpl, uint64_t lin, uint32_t v)
{
    reported = OK;
    if (sigsetjmp(jb, 1) == 0)
        *(volatile u32_unaligned *)at(cpl, lin) = v;
    return reported;
}

static uint32_t must_load(unsigned cpl, uint64_t lin)
{
    uint32_t v = 0;
    int r = load(cpl, lin, &v);
    cr_assert_eq(r, OK, "load cpl %u lin %#llx reported %d", cpl, (unsigned long long)lin, r);
    return v;
}

static void must_store(unsigned cpl, uint64_t lin, uint32_t v)
{
    int r = store(cpl, lin, v);
    cr_assert_eq(r, OK, "store cpl %u lin %#llx reported %d", cpl, (unsigned long long)lin, r);
}

/* VMAs /proc/self/maps shows inside a window, to check the shadow's own
 * count (window VMAs = cuts + 1). */
static unsigned host_vmas(unsigned cpl)
{
    uintptr_t lo = (uintptr_t)mmu_shadow_window_base(&sh, cpl);
    uintptr_t hi = lo + MMU_SHADOW_SPAN + MMU_SHADOW_GUARD;
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    unsigned n = 0;
    unsigned long a, b;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
            n++;
    }
    fclose(f);
    return n;
}

static void check_vma_count(void)
{
    for (unsigned cpl = 0; cpl <= 3; cpl += 3)
        cr_assert_eq(host_vmas(cpl), sh.win[cpl == 3].vma_units + 1, "cpl %u: host %u, counted %u",
                     cpl, host_vmas(cpl), sh.win[cpl == 3].vma_units + 1);
}

/* ---- tests ---- */

Test(shadow, maps_lazily_and_once)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    wr32(0x200010, 0xCAFEF00D);
    cr_assert_eq(must_load(0, 0x400010), 0xCAFEF00D);
    cr_assert_eq(sh.stats.faults, 1);
    cr_assert_eq(must_load(0, 0x400010), 0xCAFEF00D);
    must_store(0, 0x400014, 0x12345678); /* D already set: mapped writable */
    cr_assert_eq(sh.stats.faults, 1);
    cr_assert_eq(rd32(0x200014), 0x12345678, "the window is the machine's RAM");
    cr_assert_eq(sh.stats.pages_mapped, 1);
    check_vma_count();
}

Test(shadow, accessed_then_dirty)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US);
    uint32_t pte = pte_addr(0x400000);
    must_load(3, 0x400000);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC, "a read sets A only (SDM 4.8)");
    must_store(3, 0x400000, 7);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC | DIRTY, "the first write sets D");
    cr_assert_eq(sh.stats.faults, 2);
    cr_assert_eq(sh.stats.dirty_upgrades, 1);
    must_store(3, 0x400004, 8);
    cr_assert_eq(sh.stats.faults, 2, "writable after the upgrade");
    check_vma_count();
}

Test(shadow, user_window_enforces_us)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW); /* supervisor page */
    uint32_t v;
    cr_assert_eq(load(3, 0x400123, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.vector, MMU_VEC_PF);
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_U);
    cr_assert_eq(rep.fault.cr2, 0x400123);
    cr_assert_eq(rep.cpl, 3);
    cr_assert_eq(store(3, 0x400000, 1), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    must_store(0, 0x400000, 1);
    cr_assert_eq(load(3, 0x800000, &v), MMU_SHADOW_GUEST_FAULT, "not present");
    cr_assert_eq(rep.fault.error_code, MMU_PF_U);
    cr_assert_eq(load(3, 0x400000, &v), MMU_SHADOW_GUEST_FAULT,
                 "the supervisor mapping is not visible in the user window");
}

Test(shadow, read_only_and_wp)
{
    paging(MMU_CR0_WP, 0);
    map(0x400000, 0x200000, P | US);
    cr_assert_eq(store(3, 0x400000, 1), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_W | MMU_PF_U);
    cr_assert_eq(store(0, 0x400000, 1), MMU_SHADOW_GUEST_FAULT, "CR0.WP=1");
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_W);
    must_load(0, 0x400000);
    paging(0, 0); /* WP=0: supervisor writes to read-only pages (SDM 4.6) */
    must_store(0, 0x400000, 0x55);
    cr_assert_eq(rd32(0x200000), 0x55);
    cr_assert(rd32(pte_addr(0x400000)) & DIRTY);
    cr_assert_eq(store(3, 0x400000, 1), MMU_SHADOW_GUEST_FAULT, "users still may not");
}

Test(shadow, cr3_load_keeps_only_global)
{
    paging(0, MMU_CR4_PGE);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    map(0x401000, 0x201000, P | RW | US | ACC | DIRTY | G);
    wr32(0x200000, 1), wr32(0x201000, 2), wr32(0x300000, 3), wr32(0x301000, 4);
    cr_assert_eq(must_load(0, 0x400000), 1);
    cr_assert_eq(must_load(0, 0x401000), 2);
    /* Repoint both without INVLPG: cached translations stay in use. */
    map(0x400000, 0x300000, P | RW | US | ACC | DIRTY);
    map(0x401000, 0x301000, P | RW | US | ACC | DIRTY | G);
    cr_assert_eq(must_load(0, 0x400000), 1);
    struct mmu_fault f;
    cr_assert_eq(mmu_write_cr3(&mmu, PD, &f), MMU_OK);
    cr_assert_eq(must_load(0, 0x400000), 3, "non-global translation dropped");
    cr_assert_eq(must_load(0, 0x401000), 2, "global translation survives (SDM 4.10.4.1)");
    check_vma_count();
}

Test(shadow, invlpg_one_page)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    map(0x401000, 0x201000, P | RW | US | ACC | DIRTY);
    wr32(0x200000, 1), wr32(0x201000, 2), wr32(0x300000, 3), wr32(0x301000, 4);
    must_load(3, 0x400000), must_load(3, 0x401000), must_load(0, 0x400000);
    map(0x400000, 0x300000, P | RW | US | ACC | DIRTY);
    map(0x401000, 0x301000, P | RW | US | ACC | DIRTY);
    mmu_invlpg(&mmu, 0x400abc);
    cr_assert_eq(must_load(3, 0x400000), 3);
    cr_assert_eq(must_load(0, 0x400000), 3, "both windows");
    cr_assert_eq(must_load(3, 0x401000), 2, "the neighbour keeps its translation");
    check_vma_count();
}

Test(shadow, large_page_mapped_whole_and_invlpg_drops_it_all)
{
    paging(0, MMU_CR4_PSE);
    wr32(PD + 1 * 4, 0x800000u | P | RW | US | PS | ACC | DIRTY); /* 4 MiB at 4 MiB */
    wr32(0x800000 + 0x1000, 11), wr32(0x800000 + 0x3FF000, 12);
    wr32(0xC00000 + 0x1000, 21), wr32(0xC00000 + 0x3FF000, 22);
    cr_assert_eq(must_load(0, 0x401000), 11);
    cr_assert_eq(must_load(0, 0x7FF000), 12);
    cr_assert_eq(sh.stats.faults, 1, "one fault maps the whole 4 MiB page");
    cr_assert_eq(sh.stats.mmaps, 1);
    wr32(PD + 1 * 4, 0xC00000u | P | RW | US | PS | ACC | DIRTY);
    mmu_invlpg(&mmu, 0x400000);
    cr_assert_eq(must_load(0, 0x7FF000), 22, "INVLPG drops the whole large page");
    cr_assert_eq(must_load(0, 0x401000), 21);
    check_vma_count();
}

Test(shadow, code_page_write_reports_smc)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    map(0x900000, 0x200000, P | RW | US | ACC | DIRTY); /* an alias */
    must_store(0, 0x400000, 1);
    must_store(3, 0x900000, 1);
    mmu_code_page_set(&mmu, 0x200000);
    cr_assert_eq(must_load(0, 0x400000), 1, "code pages stay readable");
    cr_assert_eq(store(0, 0x400008, 2), MMU_SHADOW_SMC);
    cr_assert_eq(rep.paddr, 0x200008);
    cr_assert_eq(rep.lin, 0x400008);
    cr_assert_eq(store(3, 0x900010, 2), MMU_SHADOW_SMC, "every alias is protected");
    cr_assert_eq(rep.paddr, 0x200010);
    check_vma_count();
    unsigned faults = (unsigned)sh.stats.faults;
    mmu_code_page_clear(&mmu, 0x200000); /* the engine dropped the page's blocks */
    must_store(0, 0x400008, 2);
    must_store(3, 0x900010, 3);
    cr_assert_eq(sh.stats.faults, faults, "clearing the mark made the aliases writable");
    cr_assert_eq(rd32(0x200008), 2);
    check_vma_count();
}

Test(shadow, code_page_mapped_later_is_read_only)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    mmu_code_page_set(&mmu, 0x200000);
    must_load(3, 0x400000);
    cr_assert_eq(store(3, 0x400000, 1), MMU_SHADOW_SMC);
    cr_assert(rd32(pte_addr(0x400000)) & DIRTY);
    mmu_code_page_clear(&mmu, 0x200000);
    must_store(3, 0x400000, 1);
    cr_assert_eq(rd32(0x200000), 1);
}

Test(shadow, mmio_is_never_mapped)
{
    paging(0, 0);
    map(0x400000, MMIO_BASE, P | RW | US);
    uint32_t v;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(load(0, 0x400040, &v), MMU_SHADOW_MMIO);
        cr_assert_eq(rep.paddr, MMIO_BASE + 0x40);
    }
    cr_assert_eq(store(3, 0x400044, 1), MMU_SHADOW_MMIO);
    cr_assert_eq(rep.paddr, MMIO_BASE + 0x44);
    cr_assert(rd32(pte_addr(0x400000)) & DIRTY, "the walk of the write set D");
    cr_assert_eq(sh.stats.mmio, 3);
    cr_assert_eq(sh.stats.pages_mapped, 0);
}

Test(shadow, unassigned_is_bad_phys)
{
    paging(0, 0);
    map(0x400000, 0x40000000u, P | RW | US);
    uint32_t v;
    cr_assert_eq(load(0, 0x400000, &v), MMU_SHADOW_BAD_PHYS);
    cr_assert_eq(rep.fault.paddr, 0x40000000u);
}

Test(shadow, wraps_at_4gib)
{
    paging(0, 0);
    map(0xFFFFF000u, 0x200000, P | RW | US | ACC | DIRTY);
    map(0, 0x300000, P | RW | US | ACC | DIRTY);
    ram[0x200FFE] = 0x11, ram[0x200FFF] = 0x22, ram[0x300000] = 0x33, ram[0x300001] = 0x44;
    cr_assert_eq(must_load(3, 0xFFFFFFFEu), 0x44332211u);
    must_store(0, 0xFFFFFFFDu, 0xA1B2C3D4u);
    cr_assert_eq(ram[0x200FFD], 0xD4);
    cr_assert_eq(ram[0x200FFF], 0xB2);
    cr_assert_eq(ram[0x300000], 0xA1, "the last byte wrapped to linear 0");
    cr_assert_eq(ram[0x300001], 0x44);
    /* INVLPG 0 drops the mirror too. */
    map(0, 0x301000, P | RW | US | ACC | DIRTY);
    ram[0x301000] = 0x55, ram[0x301001] = 0x66;
    mmu_invlpg(&mmu, 0);
    cr_assert_eq(must_load(3, 0xFFFFFFFEu) >> 16, 0x6655);
    /* A wrapped access into a missing page 0 faults with CR2 = 0. */
    map(0, 0, 0);
    mmu_invlpg(&mmu, 0);
    uint32_t v;
    cr_assert_eq(load(3, 0xFFFFFFFEu, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.cr2, 0);
    cr_assert_eq(rep.lin, 0);
    check_vma_count();
}

Test(shadow, wipes_before_the_vma_limit)
{
    paging(0, 0);
    mmu_shadow_set_vma_budget(&sh, 200);
    /* Scattered pages, each 2 VMAs: 300 of them need 600. */
    for (uint32_t i = 0; i < 300; i++) {
        map(0x1000000 + i * 0x2000, 0x200000 + i * 0x3000, P | RW | US | ACC | DIRTY);
        wr32(0x200000 + i * 0x3000, i * 3 + 1);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < 300; i++) {
            cr_assert_eq(must_load(3, 0x1000000 + i * 0x2000), i * 3 + 1);
            cr_assert_leq(sh.win[0].vma_units + sh.win[1].vma_units, 200);
        }
    }
    cr_assert_geq(sh.stats.budget_wipes, 2);
    check_vma_count();
}

Test(shadow, paging_off_maps_runs)
{
    wr32(0x5000, 0xAAAA5555), wr32(0x9F000, 0x12121212), wr32(0x100000, 0xBBBB);
    cr_assert_eq(must_load(0, 0x5000), 0xAAAA5555);
    cr_assert_eq(must_load(3, 0x9F000), 0x12121212);
    cr_assert_eq(must_load(0, 0x9F000), 0x12121212);
    must_store(0, 0x6000, 9);
    cr_assert_eq(sh.stats.faults, 2, "one fault maps the whole first MiB of RAM, per window");
    cr_assert_eq(rd32(0x6000), 9);
    uint32_t v;
    cr_assert_eq(load(0, 0x40000000u, &v), MMU_SHADOW_BAD_PHYS);
    check_vma_count();
    /* CR3 loads do not drop paging-off mappings; A20 changes flush. */
    struct mmu_fault f;
    cr_assert_eq(mmu_write_cr3(&mmu, 0, &f), MMU_OK);
    must_load(0, 0x5000);
    cr_assert_eq(sh.stats.faults, 3, "two mappings and the unassigned access");
    mmu_set_a20(&mmu, false);
    cr_assert_eq(must_load(0, 0x105000), 0xAAAA5555, "A20 off: bit 20 forced to 0");
}

Test(shadow, full_flush_wipes)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    wr32(0x200000, 5);
    must_load(0, 0x400000);
    paging(MMU_CR0_WP, 0); /* a CR0.WP change flushes everything */
    cr_assert_geq(sh.stats.wipes, 2);
    cr_assert_eq(sh.win[0].vma_units, 0);
    cr_assert_eq(must_load(0, 0x400000), 5);
    cr_assert_eq(sh.stats.faults, 2);
    check_vma_count();
}

Test(shadow, outside_the_windows_is_not_ours)
{
    struct mmu_shadow_fault out;
    int x = 0;
    cr_assert_eq(mmu_shadow_fault(&sh, &x, false, &out), MMU_SHADOW_NOT_OURS);
    const uint8_t *guard = mmu_shadow_window_base(&sh, 0) + MMU_SHADOW_SPAN + MMU_PAGE_SIZE;
    cr_assert_eq(mmu_shadow_fault(&sh, guard, false, &out), MMU_SHADOW_NOT_OURS);
}

Test(shadow, pae_2mib_page)
{
    enum { PDPT = 0x30000, PAE_PD = 0x31000 };
    memset(ram + PDPT, 0, 0x2000);
    uint64_t pdpte = PAE_PD | P, pde = 0x600000u | P | RW | US | PS | ACC | DIRTY;
    memcpy(ram + PDPT, &pdpte, 8);
    memcpy(ram + PAE_PD + 1 * 8, &pde, 8); /* lin 0x200000 -> 0x600000, 2 MiB */
    struct mmu_regs r = {.cr0 = 1u | MMU_CR0_PG, .cr3 = PDPT, .cr4 = MMU_CR4_PAE};
    struct mmu_fault f;
    cr_assert_eq(mmu_set_regs(&mmu, &r, &f), MMU_OK);
    wr32(0x600000 + 0x1FF000, 0x2A2A);
    must_store(3, 0x200000, 1);
    cr_assert_eq(must_load(3, 0x3FF000), 0x2A2A);
    cr_assert_eq(sh.stats.faults, 1);
    cr_assert_eq(sh.stats.pages_mapped, 512);
    uint32_t v;
    cr_assert_eq(load(3, 0x400000, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_U, "PDE 2 is not present");
    check_vma_count();
}

Test(shadow, rom_read_mapped_write_emulated)
{
    uint8_t img[0x10000];
    for (unsigned i = 0; i < sizeof(img); i++)
        img[i] = (uint8_t)(i * 7 + 3);
    char path[] = "/tmp/popek-shadow-romXXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, img, sizeof(img)), (ssize_t)sizeof(img));
    close(fd);
    struct mach_err err = {{0}};
    mmu_shadow_destroy(&sh);
    cr_assert_eq(mach_load_rom(m, path, &err), 0, "%s", err.msg);
    unlink(path);
    mmu_flush(&mmu);
    cr_assert_eq(mmu_shadow_init(&sh, &mmu, m, &err), 0, "%s", err.msg);
    uint32_t want;
    memcpy(&want, img + 0xFFF0, 4);
    /* Paging off: the alias below 1 MiB and the top of 4 GiB. */
    cr_assert_eq(must_load(0, 0xFFFF0), want);
    cr_assert_eq(must_load(0, 0xFFFFFFF0u), want);
    wr32(0xEF000, 0x77);
    cr_assert_eq(must_load(0, 0xEF000), 0x77, "RAM below the alias");
    cr_assert_eq(store(0, 0xFFFF0, 0), MMU_SHADOW_MMIO, "ROM writes are emulated (dropped)");
    cr_assert_eq(rep.paddr, 0xFFFF0);
    cr_assert_eq(must_load(0, 0xFFFF0), want);
    check_vma_count();
}

/* ---- flushes check translations before dropping them (shadow_flush.c) ---- */

static void load_cr3(uint32_t cr3)
{
    struct mmu_fault f;
    cr_assert_eq(mmu_write_cr3(&mmu, cr3, &f), MMU_OK);
}

Test(shadow, cr3_load_keeps_unchanged_translations)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    wr32(0x200000, 7);
    cr_assert_eq(must_load(0, 0x400000), 7);
    load_cr3(PD);
    cr_assert_eq(must_load(0, 0x400000), 7);
    must_store(0, 0x400000, 8);
    cr_assert_eq(sh.stats.faults, 1, "the same translation, A and D set: kept");
    cr_assert_eq(sh.stats.flush_kept, 1);
    cr_assert_eq(rd32(0x200000), 8);
    check_vma_count();
}

Test(shadow, cr3_load_refreshes_changed_translations)
{
    enum { PD2 = 0x20000 };
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    memcpy(ram + PD2, ram + PD, 4096);
    /* PD2 has its own page table for 0x400000, pointing elsewhere. */
    wr32(PD2 + 4, 0x21000 | P | RW | US | ACC);
    memset(ram + 0x21000, 0, 4096);
    wr32(0x21000, 0x300000 | P | RW | US | ACC | DIRTY);
    wr32(0x200000, 1), wr32(0x300000, 2), wr32(0x301000, 3);
    cr_assert_eq(must_load(3, 0x400000), 1);
    load_cr3(PD2);
    cr_assert_eq(must_load(3, 0x400000), 2);
    load_cr3(PD);
    cr_assert_eq(must_load(3, 0x400000), 1);
    cr_assert_eq(sh.stats.faults, 1, "each CR3 load mapped the new translation");
    cr_assert_eq(sh.stats.flush_refreshed, 2);
    /* A PTE of the other address space changed while it was not current. */
    wr32(0x21000, 0x301000 | P | RW | US | ACC | DIRTY);
    load_cr3(PD2);
    cr_assert_eq(must_load(3, 0x400000), 3, "the CR3 load sees the new PTE");
    must_store(3, 0x400000, 4);
    cr_assert_eq(rd32(0x301000), 4);
    /* Not present there any more: the access faults. */
    load_cr3(PD);
    wr32(0x21000, 0);
    load_cr3(PD2);
    uint32_t v;
    cr_assert_eq(load(3, 0x400000, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_U);
    check_vma_count();
}

Test(shadow, flushes_leave_accessed_and_dirty_to_the_access)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    uint32_t pte = pte_addr(0x400000);
    must_store(0, 0x400000, 1);
    /* A cleared by software: the next access walks and sets it again. */
    wr32(pte, rd32(pte) & ~ACC);
    load_cr3(PD);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), DIRTY, "the flush itself sets nothing");
    must_load(0, 0x400000);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC | DIRTY);
    cr_assert_eq(sh.stats.faults, 2);
    /* D cleared: the page stays readable, the first write walks again. */
    wr32(pte, rd32(pte) & ~DIRTY);
    load_cr3(PD);
    must_load(0, 0x400000);
    cr_assert_eq(sh.stats.faults, 2, "still mapped, read-only");
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC, "a read does not set D");
    must_store(0, 0x400000, 2);
    cr_assert_eq(sh.stats.faults, 3);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC | DIRTY);
    /* Rights taken away: the user window no longer maps it. */
    wr32(pte, rd32(pte) & ~US);
    load_cr3(PD);
    uint32_t v;
    cr_assert_eq(load(3, 0x400000, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_U);
    check_vma_count();
}

Test(shadow, invlpg_checks_the_new_pte)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    uint32_t pte = pte_addr(0x400000);
    wr32(0x200000, 1), wr32(0x201000, 2), wr32(0x202000, 3);
    cr_assert_eq(must_load(3, 0x400000), 1);
    map(0x400000, 0x201000, P | RW | US | ACC | DIRTY);
    mmu_invlpg(&mmu, 0x400000);
    cr_assert_eq(must_load(3, 0x400000), 2);
    cr_assert_eq(sh.stats.faults, 1, "mapped at the INVLPG: A and D were set");
    map(0x400000, 0x202000, P | RW | US);
    mmu_invlpg(&mmu, 0x400000);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), 0, "INVLPG sets no flag");
    cr_assert_eq(must_load(3, 0x400000), 3);
    cr_assert_eq(sh.stats.faults, 2);
    cr_assert_eq(rd32(pte) & (ACC | DIRTY), ACC);
    map(0x400000, 0x202000, 0);
    mmu_invlpg(&mmu, 0x400000);
    uint32_t v;
    cr_assert_eq(load(3, 0x400000, &v), MMU_SHADOW_GUEST_FAULT);
    check_vma_count();
}

Test(shadow, page_mapped_again_by_mprotect)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US);
    wr32(0x200000, 5);
    cr_assert_eq(must_load(0, 0x400000), 5);
    uint64_t mmaps = sh.stats.mmaps;
    /* A #PF handler's dance: not present, INVLPG, present again. */
    map(0x400000, 0x200000, 0);
    mmu_invlpg(&mmu, 0x400000);
    check_vma_count();
    uint32_t v;
    cr_assert_eq(load(0, 0x400000, &v), MMU_SHADOW_GUEST_FAULT);
    map(0x400000, 0x200000, P | RW | US);
    cr_assert_eq(must_load(0, 0x400000), 5);
    cr_assert_eq(sh.stats.mmaps, mmaps, "the parked page came back by mprotect");
    cr_assert_eq(sh.stats.unparks, 1);
    check_vma_count();
    must_store(0, 0x400000, 6);
    cr_assert_eq(rd32(0x200000), 6);
    cr_assert_eq(sh.win[0].nruns, 1, "mapping a page again adds no run");
    check_vma_count();
    /* The middle of a run parked and mapped again: the kernel splits the
     * VMA and merges it back, as the count says. */
    for (uint32_t i = 1; i < 4; i++)
        map(0x400000 + i * 0x1000, 0x200000 + i * 0x1000, P | RW | US | ACC | DIRTY);
    must_load(0, 0x402000);
    cr_assert_eq(sh.stats.prefetched, 2);
    map(0x402000, 0x202000, 0);
    mmu_invlpg(&mmu, 0x402000);
    check_vma_count();
    map(0x402000, 0x202000, P | RW | US | ACC | DIRTY);
    mmu_invlpg(&mmu, 0x402000);
    cr_assert_eq(sh.stats.unparks, 2, "mapped again at the INVLPG");
    must_store(0, 0x401000, 1), must_store(0, 0x402000, 2), must_store(0, 0x403000, 3);
    check_vma_count();
}

Test(shadow, flushes_never_read_mmio)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US | ACC | DIRTY);
    must_load(0, 0x400000);
    /* The page table moves to MMIO: a check at the CR3 load would have to
     * read the device, so the mapping is dropped unread. */
    wr32(PD + 4, MMIO_BASE | P | RW | US | ACC);
    load_cr3(PD);
    cr_assert_eq(dev_reads, 0);
    uint32_t v;
    cr_assert_eq(load(0, 0x400000, &v), MMU_SHADOW_BAD_PHYS, "the access walks the device");
    cr_assert_eq(dev_reads, 1);
}

Test(shadow, maps_ahead_only_accessed_neighbours)
{
    paging(0, 0);
    /* Linear 0x400000 + i pages -> physical 0x200000 + i pages. */
    map(0x3FF000, 0x1FF000, P | RW | US | ACC);           /* another page table */
    map(0x400000, 0x200000, P | RW | US | ACC);
    map(0x401000, 0x201000, P | RW | US);                 /* faults first */
    map(0x402000, 0x202000, P | RW | US | ACC);
    map(0x403000, 0x203000, P | RW | ACC);                /* supervisor */
    map(0x404000, 0x204000, P | RW | US | ACC | DIRTY);   /* writable */
    map(0x405000, 0x205000, P | RW | US);                 /* A clear */
    wr32(0x200000, 0xF), wr32(0x202000, 2), wr32(0x203000, 3), wr32(0x205000, 5);
    must_load(0, 0x401000);
    cr_assert_eq(sh.stats.prefetched, 3, "0x400000, 0x402000, 0x403000, read-only");
    cr_assert_eq(must_load(0, 0x400000) + must_load(0, 0x402000) + must_load(0, 0x403000),
                 0xF + 2 + 3);
    cr_assert_eq(sh.stats.faults, 1);
    cr_assert_eq(rd32(pte_addr(0x402000)) & (ACC | DIRTY), ACC, "a read ahead sets no D");
    must_store(0, 0x402000, 12);
    cr_assert_eq(sh.stats.faults, 2, "the first write walks to set D");
    cr_assert_eq(rd32(pte_addr(0x402000)) & (ACC | DIRTY), ACC | DIRTY);
    cr_assert_eq(must_load(0, 0x405000), 5);
    cr_assert_eq(sh.stats.faults, 3, "never mapped ahead: its A was clear");
    must_load(0, 0x3FF000);
    cr_assert_eq(sh.stats.faults, 4, "not mapped ahead: another page table");
    /* The user window maps ahead only what CPL 3 may read. */
    must_load(3, 0x402000);
    uint32_t v;
    cr_assert_eq(load(3, 0x403000, &v), MMU_SHADOW_GUEST_FAULT);
    cr_assert_eq(rep.fault.error_code, MMU_PF_P | MMU_PF_U);
    /* A page mapped ahead follows its PTE's INVLPG like any other. */
    map(0x400000, 0x205000, P | RW | US | ACC);
    mmu_invlpg(&mmu, 0x400000);
    cr_assert_eq(must_load(0, 0x400000), 5);
    check_vma_count();
}

/* After a guest #PF handler fixed an entry: the page is mapped before the
 * retry only when no flag needs writing (A set; writable only with D). */
Test(shadow, prefault_maps_only_what_needs_no_flag_write)
{
    paging(0, 0);
    map(0x400000, 0x200000, P | RW | US);          /* A clear: left to the access */
    map(0x401000, 0x201000, P | RW | US | ACC);    /* A set, D clear: read-only */
    map(0x402000, 0x202000, P | RW | US | ACC | DIRTY);
    wr32(PD + (0x400000 >> 22) * 4, rd32(PD + (0x400000 >> 22) * 4) | ACC); /* PDE used before */
    mmu_shadow_prefault(&sh, 0, 0x400000);
    mmu_shadow_prefault(&sh, 0, 0x401000);
    mmu_shadow_prefault(&sh, 3, 0x402000);
    mmu_shadow_prefault(&sh, 0, 0x403000);         /* not present: nothing */
    cr_assert_eq(sh.stats.prefaulted, 2);
    cr_assert_eq(rd32(pte_addr(0x400000)) & (ACC | DIRTY), 0, "no flag written");
    cr_assert_eq(rd32(pte_addr(0x401000)) & DIRTY, 0);
    unsigned faults = sh.stats.faults;
    must_load(0, 0x401000);
    must_store(3, 0x402000, 5);
    cr_assert_eq(sh.stats.faults, faults, "mapped before the access");
    must_store(0, 0x401004, 6);
    cr_assert_eq(sh.stats.faults, faults + 1, "the first write still sets D");
    cr_assert_eq(rd32(pte_addr(0x401000)) & DIRTY, DIRTY);
    check_vma_count();
}
