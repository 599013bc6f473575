/* The software TLB and the register changes that flush it.
 *
 * Direct-mapped, indexed by linear page number; an entry holds the
 * physical page, the access classes the page tables allow and the subset
 * that may go straight to the host pointer (RAM for every allowed class
 * but writes to code pages, ROM for reads and fetches). Large pages are
 * cached 4 KiB at a time, like QEMU's TLB: an entry remembers the size of
 * the page it came from, and the linear range covered by large-page
 * entries is kept so that INVLPG in a large page can find all of its
 * pieces (SDM 4.10.4.1: INVLPG invalidates the translation of the whole
 * page, whatever its size) with one scan, and skips the scan otherwise. */
#include "softmmu/softmmu_internal.h"

#include <stdlib.h>

static void notify(struct mmu *mmu, enum mmu_flush scope, uint32_t lin)
{
    if (mmu->shadow)
        mmu_shadow_flushed(mmu->shadow, scope, lin);
    if (mmu->hooks.flushed)
        mmu->hooks.flushed(mmu->hooks.opaque, scope, lin);
}

static void reset_large_range(struct mmu *mmu)
{
    mmu->large_lo = UINT32_MAX;
    mmu->large_hi = 0;
}

static uint32_t entry_page_size(const struct mmu_tlb_entry *e)
{
    if (e->flags & MMU_TLBF_4M)
        return 4u << 20;
    if (e->flags & MMU_TLBF_2M)
        return 2u << 20;
    return MMU_PAGE_SIZE;
}

static void widen_large_range(struct mmu *mmu, const struct mmu_tlb_entry *e)
{
    uint32_t size = entry_page_size(e);
    uint32_t base = e->tag & ~(size - 1);
    if (base < mmu->large_lo)
        mmu->large_lo = base;
    if ((uint64_t)base + size > mmu->large_hi)
        mmu->large_hi = (uint64_t)base + size;
}

static void flush_all(struct mmu *mmu)
{
    for (unsigned i = 0; i < MMU_TLB_SIZE; i++)
        mmu->tlb[i].tag = MMU_TLB_INVALID;
    reset_large_range(mmu);
    mmu->stats.flush_all++;
    notify(mmu, MMU_FLUSH_ALL, 0);
}

static void flush_nonglobal(struct mmu *mmu)
{
    reset_large_range(mmu);
    for (unsigned i = 0; i < MMU_TLB_SIZE; i++) {
        struct mmu_tlb_entry *e = &mmu->tlb[i];
        if (!(e->flags & MMU_TLBF_GLOBAL))
            e->tag = MMU_TLB_INVALID;
        else if (e->tag != MMU_TLB_INVALID && (e->flags & (MMU_TLBF_2M | MMU_TLBF_4M)))
            widen_large_range(mmu, e);
    }
    mmu->stats.flush_nonglobal++;
    notify(mmu, MMU_FLUSH_NONGLOBAL, 0);
}

void mmu_flush(struct mmu *mmu) { flush_all(mmu); }

int mmu_init(struct mmu *mmu, struct machine *m, struct mach_err *err)
{
    memset(mmu, 0, sizeof(*mmu));
    mmu->m = m;
    mmu->a20_mask = ~0ull;
    mmu->code_pages = (mach_ram_size(m) + MMU_PAGE_SIZE - 1) / MMU_PAGE_SIZE;
    mmu->code_bits = calloc((mmu->code_pages + 63) / 64 + 1, sizeof(uint64_t));
    if (!mmu->code_bits)
        return mach_errf(err, "out of memory for the code-page bitmap");
    for (unsigned i = 0; i < MMU_TLB_SIZE; i++)
        mmu->tlb[i].tag = MMU_TLB_INVALID;
    reset_large_range(mmu);
    if (!mach_a20_enabled(m))
        mmu->a20_mask = ~(1ull << 20);
    return 0;
}

void mmu_destroy(struct mmu *mmu)
{
    free(mmu->code_bits);
    mmu->code_bits = NULL;
    mmu->code_pages = 0;
}

void mmu_set_hooks(struct mmu *mmu, const struct mmu_hooks *hooks) { mmu->hooks = *hooks; }

static bool pae_paging(const struct mmu_regs *r)
{
    return (r->cr0 & MMU_CR0_PG) && (r->cr4 & MMU_CR4_PAE);
}

enum mmu_result mmu_set_regs(struct mmu *mmu, const struct mmu_regs *regs,
                             struct mmu_fault *fault)
{
    const struct mmu_regs old = mmu->regs;
    uint32_t cr0_changed = old.cr0 ^ regs->cr0, cr4_changed = old.cr4 ^ regs->cr4;
    /* SDM 4.4.1: the PDPTE registers are loaded by MOV to CR0/CR4 that
     * changes CR0.PG/CD/NW or CR4.PAE/PGE/PSE, and by loads of CR3, when
     * PAE paging is in use afterwards. */
    if (pae_paging(regs) &&
        (old.cr3 != regs->cr3 || (cr0_changed & (MMU_CR0_PG | MMU_CR0_CD | MMU_CR0_NW)) ||
         (cr4_changed & (MMU_CR4_PAE | MMU_CR4_PGE | MMU_CR4_PSE)))) {
        uint64_t pdpte[4];
        enum mmu_result r = mmu_load_pdptes(mmu, regs->cr3, pdpte, fault);
        if (r != MMU_OK)
            return r;
        memcpy(mmu->pdpte, pdpte, sizeof(pdpte));
    }
    mmu->regs = *regs;
    /* SDM 4.10.4.1 flushes everything on CR0.PG and CR4.PGE/PAE/PSE
     * changes; this TLB also caches decisions that depend on CR0.WP and
     * EFER.NXE, so those changes flush it too. */
    if ((cr0_changed & (MMU_CR0_PG | MMU_CR0_WP)) ||
        (cr4_changed & (MMU_CR4_PSE | MMU_CR4_PGE | MMU_CR4_PAE)) || old.nxe != regs->nxe)
        flush_all(mmu);
    else if (old.cr3 != regs->cr3)
        flush_nonglobal(mmu);
    return MMU_OK;
}

enum mmu_result mmu_write_cr3(struct mmu *mmu, uint32_t cr3, struct mmu_fault *fault)
{
    if (pae_paging(&mmu->regs)) {
        uint64_t pdpte[4];
        enum mmu_result r = mmu_load_pdptes(mmu, cr3, pdpte, fault);
        if (r != MMU_OK)
            return r;
        memcpy(mmu->pdpte, pdpte, sizeof(pdpte));
    }
    mmu->regs.cr3 = cr3;
    flush_nonglobal(mmu);
    return MMU_OK;
}

void mmu_invlpg(struct mmu *mmu, uint32_t lin)
{
    struct mmu_tlb_entry *e = &mmu->tlb[(lin >> 12) & (MMU_TLB_SIZE - 1)];
    if (e->tag == (lin & MMU_PAGE_MASK))
        e->tag = MMU_TLB_INVALID;
    if (lin >= mmu->large_lo && lin < mmu->large_hi) {
        for (unsigned i = 0; i < MMU_TLB_SIZE; i++) {
            e = &mmu->tlb[i];
            if (e->tag == MMU_TLB_INVALID || !(e->flags & (MMU_TLBF_2M | MMU_TLBF_4M)))
                continue;
            if (((e->tag ^ lin) & ~(entry_page_size(e) - 1)) == 0)
                e->tag = MMU_TLB_INVALID;
        }
    }
    mmu->stats.invlpg++;
    notify(mmu, MMU_FLUSH_PAGE, lin);
}

void mmu_set_a20(struct mmu *mmu, bool enabled)
{
    uint64_t mask = enabled ? ~0ull : ~(1ull << 20);
    if (mask == mmu->a20_mask)
        return;
    mmu->a20_mask = mask;
    mmu->stats.a20_changes++;
    flush_all(mmu);
}

void mmu_sync_a20(struct mmu *mmu) { mmu_set_a20(mmu, mach_a20_enabled(mmu->m)); }

static void fill(struct mmu *mmu, struct mmu_tlb_entry *e, uint32_t lin, const struct mmu_walk *w)
{
    uint8_t *host;
    uint64_t run;
    enum mach_phys_kind kind = mach_phys_lookup(mmu->m, w->phys, &host, &run);
    *e = (struct mmu_tlb_entry){.tag = lin & MMU_PAGE_MASK,
                                .allowed = w->allowed,
                                .flags = w->flags,
                                .kind = (uint8_t)kind,
                                .phys = w->phys};
    /* Pages not wholly RAM or ROM go through mmu_phys_rw, byte-exact. */
    if ((kind == MACH_PHYS_RAM || kind == MACH_PHYS_ROM) && run >= MMU_PAGE_SIZE) {
        e->host = host;
        e->fast = w->allowed;
        if (kind == MACH_PHYS_ROM || mmu_code_page_test(mmu, w->phys))
            e->fast &= (uint8_t)~MMU_WRITE_CLASSES;
    }
    if (w->flags & (MMU_TLBF_2M | MMU_TLBF_4M))
        widen_large_range(mmu, e);
}

enum mmu_result mmu_tlb_lookup(struct mmu *mmu, uint32_t lin, unsigned acc,
                               const struct mmu_tlb_entry **entry, struct mmu_fault *fault)
{
    struct mmu_tlb_entry *e = &mmu->tlb[(lin >> 12) & (MMU_TLB_SIZE - 1)];
    if (e->tag == (lin & MMU_PAGE_MASK) && (e->allowed & MMU_CLASS(acc))) {
        mmu->stats.tlb_hits++;
        *entry = e;
        return MMU_OK;
    }
    mmu->stats.tlb_misses++;
    struct mmu_walk w;
    enum mmu_result r = mmu_walk(mmu, lin, acc, &w, fault);
    if (r != MMU_OK)
        return r;
    fill(mmu, e, lin, &w);
    *entry = e;
    return MMU_OK;
}

void mmu_tlb_protect_code(struct mmu *mmu, uint64_t ppage)
{
    for (unsigned i = 0; i < MMU_TLB_SIZE; i++) {
        struct mmu_tlb_entry *e = &mmu->tlb[i];
        if (e->tag != MMU_TLB_INVALID && e->phys == ppage)
            e->fast &= (uint8_t)~MMU_WRITE_CLASSES;
    }
}

void mmu_print_stats(const struct mmu *mmu, FILE *out)
{
    const char *sep = "softmmu: ";
#define MMU_STAT_PRINT(name, desc)                                                      \
    fprintf(out, "%s%s %llu", sep, desc, (unsigned long long)mmu->stats.name);          \
    sep = ", ";
    MMU_STATS(MMU_STAT_PRINT)
#undef MMU_STAT_PRINT
    fputc('\n', out);
}
