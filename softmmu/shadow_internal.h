/* softmmu/ internal: what shadow.c (the fault path) and shadow_pages.c
 * (page state, VMA accounting, flushes) share. */
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
_Static_assert(MMU_MAXPHYADDR - 12 <= 24, "a physical page number fits SHW_PPN");

/* Index of the page past 4 GiB that mirrors linear page 0. */
#define SHW_MIRROR MMU_SHADOW_PAGES
#define SHW_INDEXES (MMU_SHADOW_PAGES + 1u)

/* shadow_pages.c. Every change of what a window maps goes through these,
 * which keep the reverse map (RAM page -> linear pages) and the VMA count
 * exact. They make only mmap/mprotect/madvise calls (signal context). */

/* Maps window pages [first, first+n) with state, state+1, ... (one mmap:
 * the pages are contiguous in one file with one protection). 0, or an
 * errno value when mmap failed. */
int mmu_shadow_map(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                   uint32_t n, uint32_t state);
/* Unmaps whatever is mapped in [first, first+n); the mirror goes with
 * page 0. */
void mmu_shadow_unmap(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                      uint32_t n);
/* Makes sure one more mapping fits the VMA budget and the run list,
 * wiping windows if needed (w last, if at all). */
void mmu_shadow_make_room(struct mmu_shadow *s, struct mmu_shadow_window *w);
/* Replaces the whole window with one PROT_NONE mapping. 0 or errno. */
int mmu_shadow_wipe(struct mmu_shadow *s, struct mmu_shadow_window *w);

#endif
