/* softmmu/ internal: what shadow.c (the fault path), shadow_pages.c
 * (page state, VMA accounting) and shadow_flush.c (flushes) share. */
#ifndef POPEK_SHADOW_INTERNAL_H
#define POPEK_SHADOW_INTERNAL_H

#include "softmmu/softmmu_internal.h"

/* Per-page state of a window: what is mapped at a linear page. For RAM the
 * low bits are the guest physical page (also the memfd page); for ROM they
 * are the page of the ROM copy. 24 bits hold a MAXPHYADDR-36 page number. */
#define SHW_PPN 0x00FFFFFFu
#define SHW_VALID (1u << 24)   /* mapped */
#define SHW_WRITE (1u << 25)   /* mapped writable */
#define SHW_GUEST_W (1u << 26) /* the guest allows the write (and D is set);
                                  cleared WRITE then means a code page */
#define SHW_GLOBAL (1u << 27)  /* survives CR3 loads */
#define SHW_LARGE (1u << 28)   /* piece of a 2/4 MiB page: INVLPG drops it all */
#define SHW_ROM (1u << 29)     /* SHW_PPN is a page of the ROM copy */
#define SHW_PARKED (1u << 30)  /* not VALID, but the file page (SHW_PPN, SHW_ROM)
                                  is still mapped there with PROT_NONE: a
                                  flush parks pages with one mprotect, and
                                  mapping the same page again is another */
#define SHW_INRUN (1u << 31)   /* some entry of w->runs covers the page (it may
                                  also be clear on a covered page) */
_Static_assert(MMU_MAXPHYADDR - 12 <= 24, "a physical page number fits SHW_PPN");

/* Index of the page past 4 GiB that mirrors linear page 0. */
#define SHW_MIRROR MMU_SHADOW_PAGES
#define SHW_INDEXES (MMU_SHADOW_PAGES + 1u)

/* What one translation says about every page it covers. */
struct mmu_shadow_span {
    uint32_t lo, hi;     /* window pages the translation covers */
    uint64_t phys_lo;    /* physical address of page lo */
    bool contiguous;     /* page lo+i is at phys_lo + i pages (else only lo) */
    uint32_t flags;      /* SHW_GUEST_W, SHW_GLOBAL, SHW_LARGE */
};

/* shadow.c: the span of translation x of window page idx for cpl. */
void mmu_shadow_describe(const struct mmu *mmu, uint32_t idx, const struct mmu_xlat *x,
                         unsigned cpl, struct mmu_shadow_span *sp);
/* shadow.c: the state window page idx of span sp gets (SHW_VALID set), or
 * 0 if it cannot be mapped (MMIO, unassigned, a partial page). */
uint32_t mmu_shadow_span_state(const struct mmu_shadow *s, const struct mmu_shadow_span *sp,
                               uint32_t idx);
/* shadow.c: the state page idx of window w would get from a read fault
 * now, if that fault's walk would write nothing (mmu_walk_peek); 0 when it
 * would (or would fault, or find no RAM or ROM). sp caches the span
 * across calls (sp->hi = 0 before the first): pages of one large page
 * need one walk. */
uint32_t mmu_shadow_peek_state(struct mmu_shadow *s, const struct mmu_shadow_window *w,
                               uint32_t idx, struct mmu_shadow_span *sp);

/* shadow_pages.c. Every change of what a window maps goes through these,
 * which keep the reverse map (RAM page -> linear pages) and the VMA count
 * exact. They make only mmap/mprotect/madvise calls (signal context). */

/* Maps window pages [first, first+n) with state, state+1, ... (one mmap:
 * the pages are contiguous in one file with one protection; one mprotect
 * when they are parked on those very file pages). 0, or an errno value
 * when the call failed. */
int mmu_shadow_map(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                   uint32_t n, uint32_t state);
/* Makes whatever is mapped in [first, first+n) inaccessible: parked
 * (one mprotect per run) while the VMA count is under half the budget,
 * else unmapped. The mirror goes with page 0. */
void mmu_shadow_unmap(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                      uint32_t n);
/* Drops runs with nothing mapped any more from w->runs. */
void mmu_shadow_compact_runs(struct mmu_shadow_window *w);
/* Makes sure one more mapping fits the VMA budget and the run list,
 * wiping windows if needed (w last, if at all). */
void mmu_shadow_make_room(struct mmu_shadow *s, struct mmu_shadow_window *w);
/* Replaces the whole window with one PROT_NONE mapping. 0 or errno. */
int mmu_shadow_wipe(struct mmu_shadow *s, struct mmu_shadow_window *w);

#endif
