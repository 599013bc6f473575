/* softmmu/ internal: what the page walker, the TLB and the access paths
 * share. Only softmmu/ includes this. */
#ifndef POPEK_SOFTMMU_INTERNAL_H
#define POPEK_SOFTMMU_INTERNAL_H

#include "softmmu/softmmu.h"

/* Every class: what a translation with paging off allows. */
#define MMU_ALL_CLASSES                                                                 \
    (MMU_CLASS(MMU_ACC_READ) | MMU_CLASS(MMU_ACC_WRITE) | MMU_CLASS(MMU_ACC_EXEC) |     \
     MMU_CLASS(MMU_ACC_USER) | MMU_CLASS(MMU_ACC_WRITE | MMU_ACC_USER) |                \
     MMU_CLASS(MMU_ACC_EXEC | MMU_ACC_USER))

/* The result of one successful walk. */
struct mmu_walk {
    uint64_t phys;   /* physical address of the 4-KByte page holding lin */
    uint8_t allowed; /* MMU_CLASS bits, write classes only if dirty */
    uint8_t flags;   /* MMU_TLBF_* */
};

/* walk.c: translates lin for an access acc, setting accessed and dirty
 * flags; MMU_FAULT with a #PF, or MMU_BAD_PHYS when a paging structure
 * lies in unassigned memory. */
enum mmu_result mmu_walk(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w,
                         struct mmu_fault *fault);
/* walk.c: the translation a walk for acc would make now, if that walk
 * would write nothing (every accessed flag it passes already 1, and the
 * dirty flag for a write) and find every paging structure in RAM or ROM;
 * MMU_FAULT otherwise (no fault to deliver, no counter moves). The shadow
 * windows use it to map translations ahead of the access: a processor may
 * cache any translation at any time, speculatively (SDM Vol. 3A
 * 4.10.2.3), and one that needs no flag write leaves no trace in memory. */
enum mmu_result mmu_walk_peek(struct mmu *mmu, uint32_t lin, unsigned acc, struct mmu_walk *w);
/* An access bit private to walk.c: the walk of mmu_walk_peek. */
#define MMU_ACC_PEEK 8u
_Static_assert((MMU_ACC_PEEK & (MMU_ACC_WRITE | MMU_ACC_EXEC | MMU_ACC_USER)) == 0,
               "the peek bit is not an access kind");

/* walk.c: reads the four PDPTEs at cr3 into pdpte; MMU_FAULT with #GP(0)
 * if a present one sets a reserved bit. */
enum mmu_result mmu_load_pdptes(struct mmu *mmu, uint32_t cr3, uint64_t pdpte[4],
                                struct mmu_fault *fault);

/* access.c: reads or writes guest physical memory as the processor would
 * (RAM, ROM with writes dropped, MMIO), calling the code-write hook for
 * code pages; MMU_BAD_PHYS at the first unassigned byte. The range lies in
 * one 4-KByte page. */
enum mmu_result mmu_phys_rw(struct mmu *mmu, uint64_t paddr, void *buf, size_t len,
                            bool is_write, struct mmu_fault *fault);

/* tlb.c: the TLB entry for lin, walking the page tables on a miss or when
 * the entry does not allow the access. */
enum mmu_result mmu_tlb_lookup(struct mmu *mmu, uint32_t lin, unsigned acc,
                               const struct mmu_tlb_entry **entry, struct mmu_fault *fault);
/* tlb.c: removes write classes from the fast path of entries mapping the
 * physical page ppage (it just became a code page). */
void mmu_tlb_protect_code(struct mmu *mmu, uint64_t ppage);

/* shadow_pages.c: what tlb.c and access.c tell an attached shadow
 * (mmu->shadow): every flush they make, and code-page marks set and
 * cleared (ppage page-aligned). */
void mmu_shadow_flushed(struct mmu_shadow *s, enum mmu_flush scope, uint32_t lin);
void mmu_shadow_code_marked(struct mmu_shadow *s, uint64_t ppage);
void mmu_shadow_code_cleared(struct mmu_shadow *s, uint64_t ppage);

#endif
