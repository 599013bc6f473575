/* The page walk: 32-bit paging (SDM Vol. 3A 4.3) with 4-MByte pages and
 * PSE-36, and PAE paging (4.4) with 2-MByte pages and execute-disable.
 *
 * Order of checks, as the processor makes them: each entry is read, a
 * clear P flag ends the walk (#PF, P=0), then its reserved bits are checked
 * (#PF, P=1 RSVD=1; they are not checked in entries that are not present,
 * 4.7); access rights are checked once the leaf is found, against the
 * rights of all levels combined (4.6).
 *
 * Accessed and dirty flags (4.8): "whenever the processor uses a
 * paging-structure entry as part of linear-address translation, it sets
 * the accessed flag in that entry". A directory entry that references a
 * page table is used as soon as the walk reads that table, so its A flag
 * is set even when the walk then faults on the PTE; the leaf is used only
 * if the access is allowed, so a faulting access leaves the leaf's A and D
 * flags alone. This is what QEMU's target/i386 mmu_translate does (A set
 * on each non-leaf level as it is passed, A/D on the leaf after the
 * permission checks) and what Linux relies on. D is set only by writes, in
 * the leaf (a PTE, or a PDE with PS=1).
 *
 * A peek (mmu_walk_peek) is the same walk with every write refused: it
 * fails where the real one would set a flag or read MMIO. */
#include "softmmu/softmmu_internal.h"

/* Paging-structure entry bits (SDM Vol. 3A Tables 4-4 to 4-11). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_XD (1ull << 63)
_Static_assert(PTE_P == 0x1 && PTE_RW == 0x2 && PTE_US == 0x4, "P, R/W, U/S: bits 0-2");
_Static_assert(PTE_A == 0x20 && PTE_D == 0x40 && PTE_PS == 0x80 && PTE_G == 0x100,
               "A bit 5, D bit 6, PS bit 7, G bit 8");
_Static_assert(PTE_XD == 0x8000000000000000ull, "XD is bit 63 (PAE, Table 4-9)");

/* 32-bit paging, 4-MByte PDE (Table 4-4, PSE-36): bits 31:22 are physical
 * 31:22, bits (M-20):13 are physical (M-1):32, bits 21:(M-19) reserved. */
#define PSE_ADDR_LO 0xFFC00000u
#define PSE_HI_SHIFT 13
#define PSE_HI_BITS (MMU_MAXPHYADDR - 32)
#define PSE_RSVD (((1ull << 22) - 1) & ~((1ull << (MMU_MAXPHYADDR - 19)) - 1))
_Static_assert(PSE_RSVD == 0x3E0000, "M=36: PDE bits 21:17 reserved for 4-MByte pages");

/* PAE (Tables 4-8 to 4-11): bits (M-1):12 address a page or table; bits
 * 62:M are reserved, and bit 63 too unless EFER.NXE. */
#define PAE_ADDR (((1ull << MMU_MAXPHYADDR) - 1) & ~0xFFFull)
#define PAE_RSVD_HI (((1ull << 63) - 1) & ~((1ull << MMU_MAXPHYADDR) - 1))
#define PAE_2M_RSVD 0x1FE000ull /* PDE bits 20:13 with PS=1 */
/* A PDPTE reserves bits 2:1, 8:5 and 63:M (Table 4-8). */
#define PDPTE_RSVD (0x1E6ull | PAE_RSVD_HI | PTE_XD)
_Static_assert(PDPTE_RSVD == 0xFFFFFFF0000001E6ull, "M=36 PDPTE reserved bits");

static enum mmu_result page_fault(struct mmu *mmu, uint32_t lin, unsigned acc, uint32_t ec,
                                  struct mmu_fault *fault)
{
    if (acc & MMU_ACC_PEEK)
        return MMU_FAULT; /* nothing to deliver: the peek just fails */
    if (acc & MMU_ACC_WRITE)
        ec |= MMU_PF_W;
    if (acc & MMU_ACC_USER)
        ec |= MMU_PF_U;
    /* I/D describes the access, but only with PAE and NXE (no SMEP here). */
    if ((acc & MMU_ACC_EXEC) && (mmu->regs.cr4 & MMU_CR4_PAE) && mmu->regs.nxe)
        ec |= MMU_PF_ID;
    *fault = (struct mmu_fault){.vector = MMU_VEC_PF, .error_code = ec, .cr2 = lin};
    mmu->stats.page_faults++;
    return MMU_FAULT;
}

/* A peek reads entries from RAM or ROM only: an MMIO read could have a
 * device side effect. */
static enum mmu_result read_entry(struct mmu *mmu, unsigned acc, uint64_t addr, unsigned size,
                                  uint64_t *val, struct mmu_fault *fault)
{
    *val = 0;
    if (acc & MMU_ACC_PEEK) {
        uint8_t *host;
        uint64_t run;
        enum mach_phys_kind kind = mach_phys_lookup(mmu->m, addr, &host, &run);
        if ((kind != MACH_PHYS_RAM && kind != MACH_PHYS_ROM) || run < size)
            return MMU_FAULT;
        memcpy(val, host, size);
        return MMU_OK;
    }
    return mmu_phys_rw(mmu, addr, val, size, false, fault);
}

/* Sets A (and D) in an entry read from addr. Only the low dword holds
 * them, so only it is written back. */
static enum mmu_result set_flags(struct mmu *mmu, unsigned acc, uint64_t addr, uint64_t *entry,
                                 uint64_t flags, struct mmu_fault *fault)
{
    if ((*entry & flags) == flags)
        return MMU_OK;
    if (acc & MMU_ACC_PEEK)
        return MMU_FAULT; /* a peek writes nothing */
    *entry |= flags;
    uint32_t lo = (uint32_t)*entry;
    return mmu_phys_rw(mmu, addr, &lo, 4, true, fault);
}

/* Access rights of a translation (SDM 4.6, no SMEP/SMAP/protection keys):
 * supervisor reads always; supervisor writes if every level allows writes
 * or CR0.WP=0; user accesses need U/S=1 at every level, user writes R/W=1
 * at every level too; fetches need XD=0 at every level. */
static uint8_t rights(const struct mmu *mmu, bool user, bool writable, bool nx)
{
    uint8_t c = MMU_CLASS(MMU_ACC_READ);
    if (writable || !(mmu->regs.cr0 & MMU_CR0_WP))
        c |= MMU_CLASS(MMU_ACC_WRITE);
    if (!nx)
        c |= MMU_CLASS(MMU_ACC_EXEC);
    if (user) {
        c |= MMU_CLASS(MMU_ACC_READ | MMU_ACC_USER);
        if (writable)
            c |= MMU_CLASS(MMU_ACC_WRITE | MMU_ACC_USER);
        if (!nx)
            c |= MMU_CLASS(MMU_ACC_EXEC | MMU_ACC_USER);
    }
    return c;
}

struct leaf {
    uint64_t addr;  /* physical address of the entry */
    uint64_t entry; /* the PTE, or the PDE with PS=1 */
    uint64_t all;   /* AND of the entries walked (U/S, R/W) */
    uint64_t any;   /* OR of the entries walked (XD) */
    uint64_t phys;  /* physical 4-KByte page of lin */
    uint8_t size_flag;
};

/* Checks the access against the combined rights, then marks the leaf
 * accessed (and dirty for a write). */
static enum mmu_result finish(struct mmu *mmu, uint32_t lin, unsigned acc, struct leaf *l,
                              struct mmu_walk *w, struct mmu_fault *fault)
{
    bool nx = mmu->regs.nxe && (mmu->regs.cr4 & MMU_CR4_PAE) && (l->any & PTE_XD);
    uint8_t allowed = rights(mmu, l->all & PTE_US, l->all & PTE_RW, nx);
    if (!(allowed & MMU_CLASS(acc & ~MMU_ACC_PEEK)))
        return page_fault(mmu, lin, acc, MMU_PF_P, fault);
    uint64_t flags = PTE_A | ((acc & MMU_ACC_WRITE) ? PTE_D : 0);
    enum mmu_result r = set_flags(mmu, acc, l->addr, &l->entry, flags, fault);
    if (r != MMU_OK)
        return r;
    /* A read leaves D clear, so a later write must walk again to set it. */
    if (!(l->entry & PTE_D))
        allowed &= (uint8_t)~MMU_WRITE_CLASSES;
    w->phys = l->phys & mmu->a20_mask;
    w->allowed = allowed;
    w->flags = l->size_flag;
    if ((l->entry & PTE_G) && (mmu->regs.cr4 & MMU_CR4_PGE))
        w->flags |= MMU_TLBF_GLOBAL;
    return MMU_OK;
}

static enum mmu_result walk32(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w,
                              struct mmu_fault *fault)
{
    struct leaf l = {0};
    uint64_t pde_addr = ((mmu->regs.cr3 & MMU_PAGE_MASK) | ((lin >> 20) & 0xFFC)) & mmu->a20_mask;
    uint64_t pde;
    enum mmu_result r = read_entry(mmu, acc, pde_addr, 4, &pde, fault);
    if (r != MMU_OK)
        return r;
    if (!(pde & PTE_P))
        return page_fault(mmu, lin, acc, 0, fault);
    if ((pde & PTE_PS) && (mmu->regs.cr4 & MMU_CR4_PSE)) {
        if (pde & PSE_RSVD)
            return page_fault(mmu, lin, acc, MMU_PF_P | MMU_PF_RSVD, fault);
        uint64_t hi = (pde >> PSE_HI_SHIFT) & ((1u << PSE_HI_BITS) - 1);
        l = (struct leaf){pde_addr, pde, pde, pde,
                          (hi << 32) | (pde & PSE_ADDR_LO) | (lin & 0x3FF000), MMU_TLBF_4M};
        return finish(mmu, lin, acc, &l, w, fault);
    }
    if ((r = set_flags(mmu, acc, pde_addr, &pde, PTE_A, fault)) != MMU_OK)
        return r;
    uint64_t pte_addr = ((pde & MMU_PAGE_MASK) | ((lin >> 10) & 0xFFC)) & mmu->a20_mask;
    uint64_t pte;
    if ((r = read_entry(mmu, acc, pte_addr, 4, &pte, fault)) != MMU_OK)
        return r;
    if (!(pte & PTE_P))
        return page_fault(mmu, lin, acc, 0, fault);
    l = (struct leaf){pte_addr, pte, pde & pte, pde | pte, pte & MMU_PAGE_MASK, 0};
    return finish(mmu, lin, acc, &l, w, fault);
}

static enum mmu_result walk_pae(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w,
                                struct mmu_fault *fault)
{
    uint64_t rsvd = PAE_RSVD_HI | (mmu->regs.nxe ? 0 : PTE_XD);
    uint64_t pdpte = mmu->pdpte[lin >> 30];
    if (!(pdpte & PTE_P))
        return page_fault(mmu, lin, acc, 0, fault);
    uint64_t pde_addr = ((pdpte & PAE_ADDR) | ((lin >> 18) & 0xFF8)) & mmu->a20_mask;
    uint64_t pde;
    enum mmu_result r = read_entry(mmu, acc, pde_addr, 8, &pde, fault);
    if (r != MMU_OK)
        return r;
    if (!(pde & PTE_P))
        return page_fault(mmu, lin, acc, 0, fault);
    /* PAE paging honours PS whatever CR4.PSE says (SDM 4.4.2). */
    if ((pde & rsvd) || ((pde & PTE_PS) && (pde & PAE_2M_RSVD)))
        return page_fault(mmu, lin, acc, MMU_PF_P | MMU_PF_RSVD, fault);
    struct leaf l;
    if (pde & PTE_PS) {
        l = (struct leaf){pde_addr, pde, pde, pde,
                          (pde & PAE_ADDR & ~0x1FFFFFull) | (lin & 0x1FF000), MMU_TLBF_2M};
        return finish(mmu, lin, acc, &l, w, fault);
    }
    if ((r = set_flags(mmu, acc, pde_addr, &pde, PTE_A, fault)) != MMU_OK)
        return r;
    uint64_t pte_addr = ((pde & PAE_ADDR) | ((lin >> 9) & 0xFF8)) & mmu->a20_mask;
    uint64_t pte;
    if ((r = read_entry(mmu, acc, pte_addr, 8, &pte, fault)) != MMU_OK)
        return r;
    if (!(pte & PTE_P))
        return page_fault(mmu, lin, acc, 0, fault);
    if (pte & rsvd)
        return page_fault(mmu, lin, acc, MMU_PF_P | MMU_PF_RSVD, fault);
    l = (struct leaf){pte_addr, pte, pde & pte, pde | pte, pte & PAE_ADDR, 0};
    return finish(mmu, lin, acc, &l, w, fault);
}

enum mmu_result mmu_walk(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w,
                         struct mmu_fault *fault)
{
    if (!(mmu->regs.cr0 & MMU_CR0_PG)) {
        w->phys = (lin & MMU_PAGE_MASK) & mmu->a20_mask;
        w->allowed = MMU_ALL_CLASSES;
        w->flags = 0;
        return MMU_OK;
    }
    mmu->stats.walks++;
    if (mmu->regs.cr4 & MMU_CR4_PAE)
        return walk_pae(mmu, lin, acc, w, fault);
    return walk32(mmu, lin, acc, w, fault);
}

enum mmu_result mmu_walk_peek(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w)
{
    struct mmu_fault unused;
    if (!(mmu->regs.cr0 & MMU_CR0_PG))
        return mmu_walk(mmu, lin, acc, w, &unused);
    if (mmu->regs.cr4 & MMU_CR4_PAE)
        return walk_pae(mmu, lin, acc | MMU_ACC_PEEK, w, &unused);
    return walk32(mmu, lin, acc | MMU_ACC_PEEK, w, &unused);
}

enum mmu_result mmu_load_pdptes(struct mmu *mmu, uint32_t cr3, uint64_t pdpte[4],
                                struct mmu_fault *fault)
{
    /* CR3 bits 31:5 locate the 32-byte PDPT under PAE paging (SDM 4.4.1). */
    uint64_t base = (cr3 & ~0x1Fu) & mmu->a20_mask;
    enum mmu_result r = mmu_phys_rw(mmu, base, pdpte, 32, false, fault);
    if (r != MMU_OK)
        return r;
    mmu->stats.pdpte_loads++;
    for (unsigned i = 0; i < 4; i++) {
        if ((pdpte[i] & PTE_P) && (pdpte[i] & PDPTE_RSVD)) {
            *fault = (struct mmu_fault){.vector = MMU_VEC_GP, .error_code = 0};
            return MMU_FAULT;
        }
    }
    return MMU_OK;
}
