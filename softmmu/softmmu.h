/* softmmu/ public interface: the guest's virtual memory for the interpreter
 * and the VMM helpers.
 *
 * A struct mmu translates 32-bit linear addresses to guest physical ones
 * the way the processor does (Intel SDM Vol. 3A ch. 4: paging off, 32-bit
 * paging with PSE/PSE-36 and global pages, PAE paging with NX), caches the
 * translations in a direct-mapped software TLB that holds host pointers for
 * RAM, and tracks which physical pages hold code that an engine has decoded
 * or translated, so that writes to them reach the engine.
 *
 * It sits on machine/ only and knows nothing of the CPU: the caller passes
 * the few registers paging depends on (struct mmu_regs) and, with every
 * access, its kind and privilege (MMU_ACC_*). Faults are returned, never
 * delivered: MMU_FAULT comes with a struct mmu_fault (vector, error code,
 * CR2) for the caller to raise; MMU_BAD_PHYS (guest touched physical memory
 * that does not exist) is a VM error the caller turns into
 * MACH_EXIT_BAD_MEMORY (mmu_report_bad_phys does that).
 *
 * Engines that keep their own copies of translations hear of every TLB
 * flush through mmu_hooks.flushed; the translator's shadow windows (the
 * last section) are kept here and told of flushes directly. */
#ifndef POPEK_SOFTMMU_H
#define POPEK_SOFTMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "machine/machine.h"

/* Guest values are copied to and from host integers with memcpy. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "softmmu assumes a little-endian host, like the guest");

/* ---- architectural constants --------------------------------------------- */

/* Control-register bits paging depends on (SDM Vol. 3A 2.5, Figure 2-7). */
#define MMU_CR0_WP (1u << 16)
#define MMU_CR0_NW (1u << 29)
#define MMU_CR0_CD (1u << 30)
#define MMU_CR0_PG (1u << 31)
#define MMU_CR4_PSE (1u << 4)
#define MMU_CR4_PAE (1u << 5)
#define MMU_CR4_PGE (1u << 7)
_Static_assert(MMU_CR0_WP == 0x00010000u && MMU_CR0_PG == 0x80000000u, "CR0.WP bit 16, PG bit 31");
_Static_assert(MMU_CR0_NW == 0x20000000u && MMU_CR0_CD == 0x40000000u, "CR0.NW bit 29, CD bit 30");
_Static_assert(MMU_CR4_PSE == 0x10 && MMU_CR4_PAE == 0x20 && MMU_CR4_PGE == 0x80,
               "CR4.PSE bit 4, PAE bit 5, PGE bit 7");

/* Page-fault error code (SDM Vol. 3A 4.7, Figure 4-12). */
#define MMU_PF_P (1u << 0)    /* 0: not present; 1: protection or reserved bit */
#define MMU_PF_W (1u << 1)    /* the access was a write */
#define MMU_PF_U (1u << 2)    /* the access was a user-mode access */
#define MMU_PF_RSVD (1u << 3) /* a reserved bit was set in an entry */
#define MMU_PF_ID (1u << 4)   /* instruction fetch, with PAE and EFER.NXE */
_Static_assert(MMU_PF_P == 1 && MMU_PF_W == 2 && MMU_PF_U == 4 && MMU_PF_RSVD == 8 &&
                   MMU_PF_ID == 16,
               "#PF error code bits 0-4");

#define MMU_VEC_GP 13 /* #GP(0): a PDPTE with a reserved bit (SDM 4.4.1) */
#define MMU_VEC_PF 14

/* The physical-address width the guest is told (CPUID must agree: leaf
 * 80000008H EAX[7:0], or 36 when that leaf is absent and PAE is reported,
 * SDM Vol. 3A 4.1.4). It decides which entry bits are reserved: PAE bits
 * 63/62:36, and for PSE-36 4-MByte pages PDE bits 21:17 (bits 16:13 give
 * physical bits 35:32, SDM 4.3). Guest RAM lies below 4 GiB, so an address
 * above it simply reaches unassigned memory. */
#define MMU_MAXPHYADDR 36

#define MMU_PAGE_SIZE 4096u
#define MMU_PAGE_MASK 0xFFFFF000u

/* ---- accesses ---------------------------------------------------------------
 * An access is a kind, plus MMU_ACC_USER for a user-mode access: one made
 * at CPL 3 that is not an implicit supervisor-mode access (descriptor
 * table, TSS and IDT reads are supervisor accesses at any CPL, SDM 4.6).
 * MMU_ACC_WRITE may be given to mmu_read for the read half of a
 * read-modify-write: the page is then checked (and marked dirty) for
 * writing, as the processor does for such instructions. */
enum {
    MMU_ACC_READ = 0,
    MMU_ACC_WRITE = 1,
    MMU_ACC_EXEC = 2,
    MMU_ACC_USER = 4,
};

/* One bit per access class (kind x user/supervisor) in TLB permission masks. */
#define MMU_CLASS(acc) ((uint8_t)(1u << (acc)))
#define MMU_WRITE_CLASSES (MMU_CLASS(MMU_ACC_WRITE) | MMU_CLASS(MMU_ACC_WRITE | MMU_ACC_USER))

static inline unsigned mmu_acc(unsigned cpl, unsigned kind)
{
    return kind | (cpl == 3 ? MMU_ACC_USER : 0);
}

/* ---- results ------------------------------------------------------------------ */
enum mmu_result {
    MMU_OK = 0,
    MMU_FAULT,    /* deliver the struct mmu_fault to the guest */
    MMU_BAD_PHYS, /* unassigned physical memory: VM error (MACH_EXIT_BAD_MEMORY) */
    MMU_NOT_RAM,  /* mmu_fetch only: code in MMIO; fetch it with mmu_read */
};

struct mmu_fault {
    uint8_t vector;      /* MMU_VEC_PF, or MMU_VEC_GP from a PDPTE load */
    uint32_t error_code;
    uint32_t cr2;        /* #PF: the linear address that faulted */
    uint64_t paddr;      /* MMU_BAD_PHYS: the unassigned physical address */
};

/* ---- registers -----------------------------------------------------------------
 * What paging depends on; CR3 is kept whole (PAE uses bits 31:5). */
struct mmu_regs {
    uint32_t cr0, cr3, cr4;
    bool nxe; /* IA32_EFER.NXE */
};

/* ---- hooks ------------------------------------------------------------------------ */
enum mmu_flush {
    MMU_FLUSH_ALL,       /* every translation, global ones included */
    MMU_FLUSH_NONGLOBAL, /* CR3 load: global translations stay (SDM 4.10.4.1) */
    MMU_FLUSH_PAGE,      /* INVLPG: every translation of the page holding lin,
                            whatever its size, global or not */
};

struct mmu_hooks {
    void *opaque;
    /* Bytes [paddr, paddr+len) of a page marked by mmu_code_page_set were
     * written; called after the bytes changed. May be NULL. */
    void (*code_written)(void *opaque, uint64_t paddr, uint64_t len);
    /* Translations were dropped (lin only for MMU_FLUSH_PAGE). May be NULL. */
    void (*flushed)(void *opaque, enum mmu_flush scope, uint32_t lin);
};

/* ---- counters (for --stats), defined once --------------------------------------- */
#define MMU_STATS(X)                                                                   \
    X(tlb_hits, "TLB hits")                                                            \
    X(tlb_misses, "TLB misses")                                                        \
    X(walks, "page walks")                                                             \
    X(page_faults, "page faults")                                                      \
    X(flush_all, "full flushes")                                                       \
    X(flush_nonglobal, "CR3 flushes")                                                  \
    X(invlpg, "INVLPG")                                                                \
    X(pdpte_loads, "PDPTE loads")                                                      \
    X(a20_changes, "A20 changes")                                                      \
    X(mmio, "MMIO accesses")                                                           \
    X(code_writes, "writes to code pages")                                             \
    X(bad_phys, "unassigned accesses")

struct mmu_stats {
#define MMU_STAT_FIELD(name, desc) uint64_t name;
    MMU_STATS(MMU_STAT_FIELD)
#undef MMU_STAT_FIELD
};

/* ---- state ---------------------------------------------------------------------------
 * The caller allocates a struct mmu (it is large: embed it in the engine's
 * state); everything below is private to softmmu/ and read here only by the
 * inline fast paths. */
#define MMU_TLB_BITS 10
#define MMU_TLB_SIZE (1u << MMU_TLB_BITS)
#define MMU_TLB_INVALID 1u /* never equal to a page-aligned tag */

enum {
    MMU_TLBF_GLOBAL = 1 << 0, /* G=1 with CR4.PGE: survives CR3 loads */
    MMU_TLBF_2M = 1 << 1,     /* part of a 2-MByte PAE page */
    MMU_TLBF_4M = 1 << 2,     /* part of a 4-MByte PSE page */
};

struct mmu_tlb_entry {
    uint32_t tag;    /* linear page address, or MMU_TLB_INVALID */
    uint8_t allowed; /* MMU_CLASS bits the page tables allow; write classes
                        only once the dirty flag is set */
    uint8_t fast;    /* the subset served directly through host */
    uint8_t flags;   /* MMU_TLBF_* */
    uint8_t kind;    /* enum mach_phys_kind of the page */
    uint8_t *host;   /* host address of the page (RAM, ROM), else NULL */
    uint64_t phys;   /* guest physical address of the page */
};

struct mmu_shadow;

struct mmu {
    struct mmu_tlb_entry tlb[MMU_TLB_SIZE];
    struct mmu_stats stats;
    struct mmu_regs regs;
    uint64_t pdpte[4];   /* PAE PDPTE registers, loaded with CR3 (SDM 4.4.1) */
    uint64_t a20_mask;   /* ~0, or bit 20 clear while A20 is disabled */
    uint32_t large_lo;   /* linear range [large_lo, large_hi) covered by TLB */
    uint64_t large_hi;   /*   entries of large pages (for INVLPG) */
    struct machine *m;
    uint64_t *code_bits; /* one bit per 4-KByte page of RAM */
    uint64_t code_pages;
    struct mmu_hooks hooks;
    struct mmu_shadow *shadow; /* set by mmu_shadow_init: told of flushes and
                                  code-page changes */
};

/* ---- life cycle and registers ------------------------------------------------------- */

/* Paging off, A20 as the machine's gate, TLB empty. -1 with err if out
 * of memory. The TLB keeps host pointers: if the physical map changes
 * afterwards (a ROM loaded over the 0xF0000 alias), call mmu_flush. */
int mmu_init(struct mmu *mmu, struct machine *m, struct mach_err *err);
void mmu_destroy(struct mmu *mmu);
void mmu_set_hooks(struct mmu *mmu, const struct mmu_hooks *hooks);

/* Installs new register values (MOV to CR0/CR4, WRMSR EFER, task switch,
 * reset) and flushes what the change requires: everything when CR0.PG or
 * WP, CR4.PSE, PGE or PAE, or EFER.NXE change; non-global translations
 * when CR3 changes. With PAE paging in use afterwards, a change of CR3,
 * CR0.PG/CD/NW or CR4.PAE/PGE/PSE loads the PDPTEs (SDM 4.4.1); if one of
 * them is present with a reserved bit set, returns MMU_FAULT with #GP(0)
 * and changes nothing: the instruction faults and the caller must not
 * commit its register either. */
enum mmu_result mmu_set_regs(struct mmu *mmu, const struct mmu_regs *regs,
                             struct mmu_fault *fault);
/* MOV to CR3: flushes non-global translations even when the value does not
 * change, and reloads the PDPTEs under PAE paging (#GP(0) as above). */
enum mmu_result mmu_write_cr3(struct mmu *mmu, uint32_t cr3, struct mmu_fault *fault);
/* INVLPG lin (SDM Vol. 2A INVLPG, Vol. 3A 4.10.4.1). */
void mmu_invlpg(struct mmu *mmu, uint32_t lin);
/* Drops every translation, global ones included (shadow windows too). */
void mmu_flush(struct mmu *mmu);
/* The A20 gate: while disabled, physical bit 20 of every address the
 * processor generates, page-table and PDPTE reads included, is forced to
 * 0, as on the PC/AT. Flushes the TLB when the state changes. mmu_init
 * reads the machine's gate; afterwards the engine's mach_hooks.a20_changed
 * calls mmu_set_a20, or the engine calls mmu_sync_a20 (mach_a20_enabled). */
void mmu_set_a20(struct mmu *mmu, bool enabled);
void mmu_sync_a20(struct mmu *mmu);

/* ---- accesses ---------------------------------------------------------------------------
 * len is at most MMU_PAGE_SIZE, so an access touches at most two pages
 * (linear addresses wrap at 4 GiB). Every page is translated and checked
 * before any byte moves: a fault leaves memory unchanged, with CR2 the
 * first address of the page that faulted. */
enum mmu_result mmu_read(struct mmu *mmu, uint32_t lin, void *buf, size_t len, unsigned acc,
                         struct mmu_fault *fault);
enum mmu_result mmu_write(struct mmu *mmu, uint32_t lin, const void *buf, size_t len,
                          unsigned acc, struct mmu_fault *fault);

/* A translation as an access of kind acc would make it (A/D flags set,
 * faults as for the access), for helpers and for shadow windows. */
struct mmu_xlat {
    uint64_t phys;              /* physical address of lin */
    uint8_t *host;              /* host address of lin for RAM and ROM, else NULL */
    enum mach_phys_kind kind;   /* what lies at phys */
    uint8_t allowed;            /* MMU_CLASS bits usable without a new walk */
    uint8_t fast;               /* those that may go straight to host */
    uint32_t page_size;         /* 4 KiB, 2 MiB or 4 MiB */
    bool global;
};
enum mmu_result mmu_translate(struct mmu *mmu, uint32_t lin, unsigned acc,
                              struct mmu_xlat *out, struct mmu_fault *fault);

/* Instruction fetch for the decoder: where the bytes at lin are and how
 * many follow on the same page. acc is MMU_ACC_EXEC, with MMU_ACC_USER at
 * CPL 3. MMU_NOT_RAM when the page is not RAM or ROM. */
struct mmu_fetch {
    const uint8_t *host;
    uint32_t avail; /* bytes from lin to the end of its page */
    uint64_t phys;  /* physical address of lin, the decode cache's key */
};
enum mmu_result mmu_fetch_slow(struct mmu *mmu, uint32_t lin, unsigned acc,
                               struct mmu_fetch *out, struct mmu_fault *fault);

/* ---- code pages ------------------------------------------------------------------------
 * Pages of RAM holding code an engine decoded or translated. Writes to them
 * never take the TLB's fast path: each calls mmu_hooks.code_written. With
 * a shadow attached, setting a mark also write-protects every window
 * mapping of the page, and clearing it makes them writable again. */
void mmu_code_page_set(struct mmu *mmu, uint64_t paddr);
void mmu_code_page_clear(struct mmu *mmu, uint64_t paddr);
bool mmu_code_page_test(const struct mmu *mmu, uint64_t paddr);
/* For writes that bypass the softmmu (devices, loaders, mach_phys_write):
 * an engine's mach_hooks.code_written calls this, and it calls
 * mmu_hooks.code_written when the range touches a code page. */
void mmu_phys_written(struct mmu *mmu, uint64_t paddr, uint64_t len);

/* ---- reports ---------------------------------------------------------------------------- */
void mmu_print_stats(const struct mmu *mmu, FILE *out);
/* Stops the VM with MACH_EXIT_BAD_MEMORY for an MMU_BAD_PHYS result. */
void mmu_report_bad_phys(struct mmu *mmu, const struct mmu_fault *fault);

/* ==== shadow windows (the translator's view of guest memory) ==============================
 *
 * A window is a 4 GiB PROT_NONE host reservation in which guest linear page
 * V is mapped on demand, MAP_SHARED from the machine's RAM memfd at the
 * physical page the guest's paging gives for V, with the guest's rights.
 * Translated code addresses it as gs:[addr32 ...] with GS base = the
 * window of the current CPL: one window for supervisor accesses (CPL 0-2)
 * and one for user accesses (CPL 3), so the host MMU enforces U/S and R/W.
 *
 * What is mapped, and how:
 * - RAM: read-only until the guest page is dirty (D=1), so the first write
 *   faults, sets D through the page walk (SDM Vol. 3A 4.8) and remaps the
 *   page writable; read-only where the guest forbids the write in that
 *   window (with CR0.WP=0 supervisor writes to read-only pages are allowed,
 *   SDM 4.6, so the supervisor window maps them writable).
 * - Code pages (mmu_code_page_set): read-only in every window; a write
 *   faults with MMU_SHADOW_SMC. The engine drops the page's blocks and
 *   clears the mark (mmu_code_page_clear makes the aliases writable again;
 *   otherwise the retried write faults once more and maps the page).
 * - ROM: read-only (a private memfd copy made at mmu_shadow_init); writes
 *   fault with MMU_SHADOW_MMIO, and the emulated write is dropped.
 * - MMIO: never mapped; every access faults with MMU_SHADOW_MMIO.
 * - Paging off: linear = physical (with the A20 mask), mapped lazily in
 *   physically contiguous runs of up to 1 MiB; large guest pages (2/4 MiB)
 *   are mapped whole on their first fault. Both save faults and VMAs.
 * - The first page past 4 GiB mirrors linear page 0, so an access at
 *   0xFFFFFFFE..0x00000001 (the processor's linear wrap-around, which the
 *   host cannot do) runs natively; the rest of the guard area stays
 *   PROT_NONE and is never guest-reachable (accesses are at most 16 bytes
 *   past 4 GiB).
 *
 * - Ahead of a fault: neighbours of a 4 KiB page in its page table that
 *   continue it in physical memory are mapped with it by the same mmap when
 *   their translations need no flag write (A set; writable only with D
 *   set), up to 16 pages each way (shadow.c map_ahead).
 *
 * Flushes follow TLB semantics (SDM 4.10.4.1): the mmu tells an attached
 * shadow of every flush it makes. A CR3 load checks the non-global
 * mappings, an INVLPG the page's, against the paging structures with a
 * walk that writes nothing: a translation that is the same, with its
 * flags set, stays; one that changed but needs no flag write is mapped at
 * once (up to 16 per flush); the rest are dropped, the accessed and dirty
 * flags left to the access (shadow_flush.c says why this is what a TLB may
 * do). Large pages are dropped whole by INVLPG. Full flushes (CR0.PG/WP,
 * CR4.PSE/PGE/PAE, EFER.NXE, A20, mmu_flush) wipe both windows with one
 * mmap each. A dropped page is parked: left mapped PROT_NONE by one
 * mprotect per run, so that mapping the same page again is one mprotect
 * too. The shadow keeps one window pair, not a cache keyed by CR3: without
 * write-protecting the guest's page tables, a cached address space could
 * hold translations the guest changed while it was not current (legal,
 * since its CR3 load flushes them).
 *
 * VMAs: every mapping may split the reservation (two VMAs per scattered
 * page, vm.max_map_count is 65530 here). The shadow keeps the exact count
 * (the kernel merges neighbours with contiguous file offsets and equal
 * protection) against a budget (half of vm.max_map_count) and wipes a
 * window before the budget runs out.
 *
 * Signal context: mmu_shadow_fault is meant to be called from a SIGSEGV
 * handler for a fault raised by translated code on the guest thread. It
 * uses no malloc and no stdio, only mmap/mprotect/madvise and the softmmu
 * walk, and it preserves errno. This is safe because the signal is
 * synchronous and the interrupted code is translated code holding no libc
 * lock; the one exception is a guest whose page tables lie in MMIO or in
 * a code page, where the walk calls a device handler or
 * mmu_hooks.code_written from the handler. Flushes and code-page changes
 * must not run concurrently with it (they come from helpers on the same
 * thread). */

#define MMU_SHADOW_SPAN (1ull << 32)
#define MMU_SHADOW_GUARD (64u << 10) /* reserved past 4 GiB; first page mirrors page 0 */
#define MMU_SHADOW_PAGES ((uint32_t)(MMU_SHADOW_SPAN / MMU_PAGE_SIZE)) /* + 1 for the mirror */

enum mmu_shadow_result {
    MMU_SHADOW_RETRY,       /* the page is mapped now: restart the access */
    MMU_SHADOW_GUEST_FAULT, /* deliver out->fault (#PF, CR2) at the faulting insn */
    MMU_SHADOW_SMC,         /* write to a code page at out->paddr: drop its
                               blocks, mmu_code_page_clear, then retry */
    MMU_SHADOW_MMIO,        /* MMIO (or a ROM write) at out->paddr: emulate the
                               access through mmu_read/mmu_write */
    MMU_SHADOW_BAD_PHYS,    /* unassigned memory at out->paddr (or a page
                               table there): VM error, see mmu_report_bad_phys */
    MMU_SHADOW_NOT_OURS,    /* the address is outside both windows (or in
                               the unused guard): a host bug, not the guest's */
    MMU_SHADOW_HOST_ERROR,  /* mmap failed even after a wipe: out->host_errno */
};

struct mmu_shadow_fault {
    uint32_t lin;           /* guest linear address of the faulting byte */
    unsigned cpl;           /* 0 for the supervisor window, 3 for the user one */
    uint64_t paddr;         /* SMC, MMIO: physical address of lin */
    struct mmu_fault fault; /* GUEST_FAULT: what to deliver; BAD_PHYS: .paddr */
    int host_errno;         /* HOST_ERROR */
};

#define MMU_SHADOW_STATS(X)                                                            \
    X(faults, "shadow faults")                                                         \
    X(pages_mapped, "pages mapped")                                                    \
    X(mmaps, "mmap calls")                                                             \
    X(dirty_upgrades, "dirty upgrades")                                                \
    X(guest_faults, "guest #PF")                                                       \
    X(smc, "SMC faults")                                                               \
    X(mmio, "MMIO faults")                                                             \
    X(unmapped_runs, "runs unmapped")                                                  \
    X(parked_runs, "runs parked (PROT_NONE)")                                          \
    X(unparks, "remaps of parked pages by mprotect")                                   \
    X(flush_kept, "mappings kept by flushes (same translation)")                       \
    X(flush_refreshed, "mappings refreshed by flushes")                                \
    X(prefetched, "pages mapped ahead of a fault")                                     \
    X(prefaulted, "pages mapped before a retried access (after a guest #PF)")          \
    X(code_protects, "code-page write protects")                                       \
    X(wipes, "window wipes")                                                           \
    X(budget_wipes, "wipes for the VMA budget")

struct mmu_shadow_stats {
#define MMU_SHADOW_STAT_FIELD(name, desc) uint64_t name;
    MMU_SHADOW_STATS(MMU_SHADOW_STAT_FIELD)
#undef MMU_SHADOW_STAT_FIELD
};

/* Private to softmmu/shadow*.c. */
struct mmu_shadow_run {
    uint32_t page;   /* first linear page mapped by one mmap */
    uint32_t npages;
};

struct mmu_shadow_window {
    uint8_t *base;               /* 4 GiB + MMU_SHADOW_GUARD reservation */
    uint32_t *state;             /* per linear page (+ the mirror): SHW_* bits | ppn */
    uint32_t *rnext;             /* per linear page: next page mapping the same
                                    RAM page, + 1; 0 ends the chain */
    uint32_t *rhead;             /* per RAM page: first linear page + 1 */
    struct mmu_shadow_run *runs; /* what was mapped since the last wipe */
    uint32_t nruns;
    bool has_large;              /* some mapping came from a 2/4 MiB page */
    uint32_t vma_units;          /* VMAs this window holds beyond the first */
};

struct mmu_shadow {
    struct mmu *mmu;
    struct machine *m;
    struct mmu_shadow_window win[2]; /* [0] CPL 0-2, [1] CPL 3 */
    int ram_fd;
    uint64_t ram_pages;
    int rom_fd;                 /* private copy of the BIOS ROM, or -1 */
    const uint8_t *rom;
    uint64_t rom_size;
    uint32_t vma_budget;        /* for both windows together */
    uint32_t run_cap;           /* size of each window's runs array */
    struct mmu_shadow_stats stats;
};

/* Reserves both windows and attaches the shadow to mmu (which must outlive
 * it). -1 with err if the host refuses. */
int mmu_shadow_init(struct mmu_shadow *s, struct mmu *mmu, struct machine *m,
                    struct mach_err *err);
void mmu_shadow_destroy(struct mmu_shadow *s);

/* Host address of guest linear 0 in the window for cpl: the GS base. */
uint8_t *mmu_shadow_window_base(const struct mmu_shadow *s, unsigned cpl);

/* Maps linear page lin in cpl's window now if its walk would write no
 * flag (A set; writable only with D set), as map-ahead does: for the
 * access a guest #PF handler made possible, about to be retried. */
void mmu_shadow_prefault(struct mmu_shadow *s, unsigned cpl, uint32_t lin);

/* Handles a host fault at host_addr (si_addr). is_write from the host's
 * page-fault error code (mmu_shadow_sig_is_write). Translated code never
 * executes from a window, so there is no fetch kind. */
enum mmu_shadow_result mmu_shadow_fault(struct mmu_shadow *s, const void *host_addr,
                                        bool is_write, struct mmu_shadow_fault *out);
/* Whether a SIGSEGV was raised by a write: bit 1 of the x86 page-fault
 * error code Linux leaves in the ucontext (uc_mcontext.gregs[REG_ERR]). */
bool mmu_shadow_sig_is_write(const void *ucontext);

/* Lowers the VMA budget (units: VMAs, default vm.max_map_count / 2); for
 * tests and for hosts where other parts of the process need more. */
void mmu_shadow_set_vma_budget(struct mmu_shadow *s, uint32_t units);
void mmu_shadow_print_stats(const struct mmu_shadow *s, FILE *out);

/* ---- fast paths ----------------------------------------------------------------------------
 * One index, one compare, one pointer add on a TLB hit; everything else
 * goes to the out-of-line functions above. */
static inline uint8_t *mmu_tlb_fast(struct mmu *mmu, uint32_t lin, unsigned len, unsigned acc)
{
    struct mmu_tlb_entry *e = &mmu->tlb[(lin >> 12) & (MMU_TLB_SIZE - 1)];
    uint32_t off = lin & ~MMU_PAGE_MASK;
    if (__builtin_expect(e->tag == (lin & MMU_PAGE_MASK) && (e->fast & MMU_CLASS(acc)) &&
                             off <= MMU_PAGE_SIZE - len,
                         1)) {
        mmu->stats.tlb_hits++;
        return e->host + off;
    }
    return NULL;
}

static inline enum mmu_result mmu_read_n(struct mmu *mmu, uint32_t lin, void *val, unsigned len,
                                         unsigned acc, struct mmu_fault *fault)
{
    const uint8_t *p = mmu_tlb_fast(mmu, lin, len, acc);
    if (p) {
        memcpy(val, p, len);
        return MMU_OK;
    }
    return mmu_read(mmu, lin, val, len, acc, fault);
}

static inline enum mmu_result mmu_write_n(struct mmu *mmu, uint32_t lin, const void *val,
                                          unsigned len, unsigned acc, struct mmu_fault *fault)
{
    uint8_t *p = mmu_tlb_fast(mmu, lin, len, acc | MMU_ACC_WRITE);
    if (p) {
        memcpy(p, val, len);
        return MMU_OK;
    }
    return mmu_write(mmu, lin, val, len, acc | MMU_ACC_WRITE, fault);
}

static inline enum mmu_result mmu_read8(struct mmu *mmu, uint32_t lin, unsigned acc, uint8_t *v,
                                        struct mmu_fault *fault)
{
    return mmu_read_n(mmu, lin, v, 1, acc, fault);
}
static inline enum mmu_result mmu_read16(struct mmu *mmu, uint32_t lin, unsigned acc,
                                         uint16_t *v, struct mmu_fault *fault)
{
    return mmu_read_n(mmu, lin, v, 2, acc, fault);
}
static inline enum mmu_result mmu_read32(struct mmu *mmu, uint32_t lin, unsigned acc,
                                         uint32_t *v, struct mmu_fault *fault)
{
    return mmu_read_n(mmu, lin, v, 4, acc, fault);
}
static inline enum mmu_result mmu_read64(struct mmu *mmu, uint32_t lin, unsigned acc,
                                         uint64_t *v, struct mmu_fault *fault)
{
    return mmu_read_n(mmu, lin, v, 8, acc, fault);
}
static inline enum mmu_result mmu_write8(struct mmu *mmu, uint32_t lin, unsigned acc, uint8_t v,
                                         struct mmu_fault *fault)
{
    return mmu_write_n(mmu, lin, &v, 1, acc, fault);
}
static inline enum mmu_result mmu_write16(struct mmu *mmu, uint32_t lin, unsigned acc,
                                          uint16_t v, struct mmu_fault *fault)
{
    return mmu_write_n(mmu, lin, &v, 2, acc, fault);
}
static inline enum mmu_result mmu_write32(struct mmu *mmu, uint32_t lin, unsigned acc,
                                          uint32_t v, struct mmu_fault *fault)
{
    return mmu_write_n(mmu, lin, &v, 4, acc, fault);
}
static inline enum mmu_result mmu_write64(struct mmu *mmu, uint32_t lin, unsigned acc,
                                          uint64_t v, struct mmu_fault *fault)
{
    return mmu_write_n(mmu, lin, &v, 8, acc, fault);
}

static inline enum mmu_result mmu_fetch(struct mmu *mmu, uint32_t lin, unsigned acc,
                                        struct mmu_fetch *out, struct mmu_fault *fault)
{
    struct mmu_tlb_entry *e = &mmu->tlb[(lin >> 12) & (MMU_TLB_SIZE - 1)];
    uint32_t off = lin & ~MMU_PAGE_MASK;
    if (__builtin_expect(e->tag == (lin & MMU_PAGE_MASK) && (e->fast & MMU_CLASS(acc)), 1)) {
        mmu->stats.tlb_hits++;
        out->host = e->host + off;
        out->avail = MMU_PAGE_SIZE - off;
        out->phys = e->phys + off;
        return MMU_OK;
    }
    return mmu_fetch_slow(mmu, lin, acc, out, fault);
}

#endif
