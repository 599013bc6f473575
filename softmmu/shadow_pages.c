/* Shadow windows: what each window maps, kept exact.
 *
 * Three things must agree with the host's page tables at all times: the
 * per-page state (what the fault path and the flushes consult), the
 * reverse map from RAM pages to the linear pages mapping them (to
 * write-protect every alias of a page that becomes code), and the count of
 * VMAs the window holds (to wipe before vm.max_map_count is reached).
 *
 * The VMA count follows from the state alone: Linux merges neighbouring
 * mappings of the same file with contiguous offsets and the same
 * protection, and neighbouring anonymous PROT_NONE pieces of the
 * reservation (checked on this host: 100 contiguous single-page maps make
 * one VMA, unmapping them leaves none). So a window holds one VMA plus one
 * per "cut", a pair of neighbouring pages that cannot merge; a change to
 * pages [first, first+n) only changes the cuts from first-1 to first+n.
 * A parked page (a file page left mapped with PROT_NONE) merges like any
 * file mapping: with parked neighbours on the next file page.
 *
 * Why park instead of unmapping: on this host (a nested VM) replacing a
 * populated page with the anonymous reservation costs 3-5 us, an
 * mprotect to PROT_NONE 1-1.5 us, and when the guest comes back to the
 * same page (a #PF handler fixing its PTE, an INVLPG of a PTE that did not
 * move) an mprotect back costs 1 us and keeps the host's page-table entry,
 * where a new mmap costs 2-4 us plus a 1.2-1.5 us host fault on the first
 * touch (docs/shadow-status.md).
 *
 * Everything here runs in the SIGSEGV handler too: only mmap, mprotect
 * and madvise, no allocation. */
#include "softmmu/shadow_internal.h"

#include <assert.h>
#include <errno.h>
#include <sys/mman.h>

#define ANON_NONE (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED)

static uint32_t state_at(const struct mmu_shadow_window *w, uint64_t idx)
{
    return idx < SHW_INDEXES ? w->state[idx] : 0;
}

static bool joins(uint32_t a, uint32_t b)
{
    const uint32_t file = SHW_VALID | SHW_PARKED;
    if (!(a & file) || !(b & file))
        return !(a & file) && !(b & file);
    return ((a ^ b) & (file | SHW_WRITE | SHW_ROM)) == 0 && (b & SHW_PPN) == (a & SHW_PPN) + 1;
}

/* Cuts between neighbours among pages first-1 .. first+n. */
static uint32_t cuts(const struct mmu_shadow_window *w, uint32_t first, uint32_t n)
{
    uint32_t c = 0;
    uint64_t from = first > 0 ? first : 1, to = (uint64_t)first + n;
    if (to > SHW_INDEXES)
        to = SHW_INDEXES;
    for (uint64_t i = from; i <= to; i++)
        c += !joins(state_at(w, i - 1), state_at(w, i));
    return c;
}

static void account(struct mmu_shadow_window *w, uint32_t before, uint32_t after)
{
    w->vma_units = w->vma_units + after >= before ? w->vma_units + after - before : 0;
}

static uint8_t *page_addr(const struct mmu_shadow_window *w, uint32_t idx)
{
    return w->base + (uint64_t)idx * MMU_PAGE_SIZE;
}

/* ---- reverse map ---- */

static bool in_rmap(const struct mmu_shadow *s, uint32_t st)
{
    return (st & SHW_VALID) && !(st & SHW_ROM) && (st & SHW_PPN) < s->ram_pages;
}

static void rmap_insert(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx)
{
    uint32_t ppn = w->state[idx] & SHW_PPN;
    if (!in_rmap(s, w->state[idx]))
        return;
    w->rnext[idx] = w->rhead[ppn];
    w->rhead[ppn] = idx + 1;
}

static void rmap_remove(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx)
{
    if (!in_rmap(s, w->state[idx]))
        return;
    uint32_t *link = &w->rhead[w->state[idx] & SHW_PPN];
    while (*link != 0 && *link != idx + 1)
        link = &w->rnext[*link - 1];
    if (*link == idx + 1)
        *link = w->rnext[idx];
    w->rnext[idx] = 0;
}

/* ---- mapping and unmapping ---- */

/* Whether [first, first+n) maps, or is parked on, the file pages state,
 * state+1, ...: then only the protection changes. */
static bool on_file_pages(const struct mmu_shadow_window *w, uint32_t first, uint32_t n,
                          uint32_t state)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t st = w->state[first + i];
        if (!(st & (SHW_VALID | SHW_PARKED)) || ((st ^ state) & SHW_ROM) ||
            (st & SHW_PPN) != ((state + i) & SHW_PPN))
            return false;
    }
    return true;
}

int mmu_shadow_map(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                   uint32_t n, uint32_t state)
{
    assert(w->nruns < s->run_cap); /* mmu_shadow_make_room first */
    int prot = PROT_READ | ((state & SHW_WRITE) ? PROT_WRITE : 0);
    int fd = (state & SHW_ROM) ? s->rom_fd : s->ram_fd;
    off_t off = (off_t)(state & SHW_PPN) * MMU_PAGE_SIZE;
    uint32_t before = cuts(w, first, n);
    size_t len = (size_t)n * MMU_PAGE_SIZE;
    bool covered = true;
    for (uint32_t i = 0; i < n && covered; i++)
        covered = w->state[first + i] & SHW_INRUN;
    if (on_file_pages(w, first, n, state)) {
        if (mprotect(page_addr(w, first), len, prot) != 0)
            return errno;
        s->stats.unparks++;
    } else {
        if (mmap(page_addr(w, first), len, prot, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED)
            return errno;
        s->stats.mmaps++;
    }
    for (uint32_t i = 0; i < n; i++) {
        rmap_remove(s, w, first + i);
        w->state[first + i] = (state + i) | SHW_INRUN;
        rmap_insert(s, w, first + i);
    }
    account(w, before, cuts(w, first, n));
    if (state & SHW_LARGE)
        w->has_large = true;
    /* Pages mapped again (a dirty upgrade, a parked page, a refresh) must
     * not pile up runs: flushes walk them all. */
    if (!covered)
        w->runs[w->nruns++] = (struct mmu_shadow_run){first, n};
    s->stats.pages_mapped += n;
    return 0;
}

static void unmap_span(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                       uint32_t n)
{
    uint32_t before = cuts(w, first, n);
    /* Over an existing mapping MAP_FIXED cannot fail for lack of VMAs
     * here: the result merges with the reservation on both sides. */
    mmap(page_addr(w, first), (size_t)n * MMU_PAGE_SIZE, PROT_NONE, ANON_NONE, -1, 0);
    for (uint32_t i = 0; i < n; i++) {
        rmap_remove(s, w, first + i);
        w->state[first + i] = 0;
    }
    account(w, before, cuts(w, first, n));
    s->stats.unmapped_runs++;
}

static uint32_t total_units(const struct mmu_shadow *s)
{
    return s->win[0].vma_units + s->win[1].vma_units;
}

/* [first, first+n) is all VALID: one mprotect leaves the file pages there,
 * inaccessible. Parked pages keep VMAs, so past half the budget the pages
 * are unmapped instead, and so they are if mprotect fails (it can need a
 * VMA to split; replacing with the reservation merges instead). */
static void park_span(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                      uint32_t n)
{
    if (total_units(s) + 2 > s->vma_budget / 2 ||
        mprotect(page_addr(w, first), (size_t)n * MMU_PAGE_SIZE, PROT_NONE) != 0) {
        unmap_span(s, w, first, n);
        return;
    }
    uint32_t before = cuts(w, first, n);
    for (uint32_t i = 0; i < n; i++) {
        rmap_remove(s, w, first + i);
        w->state[first + i] =
            (w->state[first + i] & (SHW_PPN | SHW_ROM | SHW_INRUN)) | SHW_PARKED;
    }
    account(w, before, cuts(w, first, n));
    s->stats.parked_runs++;
}

void mmu_shadow_unmap(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t first,
                      uint32_t n)
{
    uint32_t i = first, end = first + n;
    while (i < end) {
        if (!(w->state[i] & SHW_VALID)) {
            i++;
            continue;
        }
        uint32_t j = i + 1;
        while (j < end && (w->state[j] & SHW_VALID))
            j++;
        park_span(s, w, i, j - i);
        i = j;
    }
    if (first == 0 && n > 0 && (w->state[SHW_MIRROR] & SHW_VALID))
        park_span(s, w, SHW_MIRROR, 1);
}

/* Changes the protection of one mapped page (code marks). */
static void reprotect(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx,
                      bool writable)
{
    uint32_t before = cuts(w, idx, 1);
    if (mprotect(page_addr(w, idx), MMU_PAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0)) !=
        0) {
        /* Out of VMAs for the split: dropping the page is always correct. */
        unmap_span(s, w, idx, 1);
        return;
    }
    w->state[idx] = writable ? w->state[idx] | SHW_WRITE : w->state[idx] & ~SHW_WRITE;
    account(w, before, cuts(w, idx, 1));
}

int mmu_shadow_wipe(struct mmu_shadow *s, struct mmu_shadow_window *w)
{
    size_t len = MMU_SHADOW_SPAN + MMU_SHADOW_GUARD;
    if (mmap(w->base, len, PROT_NONE, ANON_NONE, -1, 0) == MAP_FAILED) {
        /* Replacing the VMAs can need one more; unmapping never does. The
         * guest thread is the only one that maps here, so the range stays
         * free in between. */
        if (munmap(w->base, len) != 0 ||
            mmap(w->base, len, PROT_NONE, (ANON_NONE & ~MAP_FIXED) | MAP_FIXED_NOREPLACE, -1,
                 0) != w->base)
            return errno;
    }
    size_t state_bytes = SHW_INDEXES * sizeof(uint32_t);
    madvise(w->state, state_bytes, MADV_DONTNEED);
    madvise(w->rnext, state_bytes, MADV_DONTNEED);
    madvise(w->rhead, s->ram_pages * sizeof(uint32_t), MADV_DONTNEED);
    w->nruns = 0;
    w->has_large = false;
    w->vma_units = 0;
    s->stats.wipes++;
    return 0;
}

void mmu_shadow_compact_runs(struct mmu_shadow_window *w)
{
    uint32_t kept = 0;
    for (uint32_t r = 0; r < w->nruns; r++) {
        struct mmu_shadow_run run = w->runs[r];
        bool valid = false;
        for (uint32_t i = 0; i < run.npages && !valid; i++)
            valid = w->state[run.page + i] & SHW_VALID;
        if (valid) {
            w->runs[kept++] = run;
            continue;
        }
        for (uint32_t i = 0; i < run.npages; i++)
            w->state[run.page + i] &= ~SHW_INRUN;
    }
    w->nruns = kept;
}

void mmu_shadow_make_room(struct mmu_shadow *s, struct mmu_shadow_window *w)
{
    if (w->nruns >= s->run_cap)
        mmu_shadow_compact_runs(w);
    if (w->nruns >= s->run_cap) {
        s->stats.budget_wipes++;
        mmu_shadow_wipe(s, w);
    }
    /* A mapping or protection change adds at most two cuts. */
    struct mmu_shadow_window *other = &s->win[w == &s->win[0]];
    if (total_units(s) + 2 > s->vma_budget && other->vma_units > w->vma_units) {
        s->stats.budget_wipes++;
        mmu_shadow_wipe(s, other);
    }
    if (total_units(s) + 2 > s->vma_budget) {
        s->stats.budget_wipes++;
        mmu_shadow_wipe(s, w);
    }
}

/* ---- code pages ---- */

void mmu_shadow_code_marked(struct mmu_shadow *s, uint64_t ppage)
{
    uint64_t ppn = ppage >> 12;
    if (ppn >= s->ram_pages)
        return;
    for (unsigned k = 0; k < 2; k++) {
        struct mmu_shadow_window *w = &s->win[k];
        uint32_t next;
        for (uint32_t link = w->rhead[ppn]; link != 0; link = next) {
            next = w->rnext[link - 1];
            if (!(w->state[link - 1] & SHW_WRITE))
                continue;
            mmu_shadow_make_room(s, w);
            if (!(w->state[link - 1] & SHW_VALID))
                break; /* the window was wiped: nothing left to protect */
            reprotect(s, w, link - 1, false);
            s->stats.code_protects++;
        }
    }
}

void mmu_shadow_code_cleared(struct mmu_shadow *s, uint64_t ppage)
{
    uint64_t ppn = ppage >> 12;
    if (ppn >= s->ram_pages)
        return;
    for (unsigned k = 0; k < 2; k++) {
        struct mmu_shadow_window *w = &s->win[k];
        uint32_t next;
        for (uint32_t link = w->rhead[ppn]; link != 0; link = next) {
            next = w->rnext[link - 1];
            uint32_t st = w->state[link - 1];
            if (!(st & SHW_GUEST_W) || (st & SHW_WRITE))
                continue;
            mmu_shadow_make_room(s, w);
            if (!(w->state[link - 1] & SHW_VALID))
                break;
            reprotect(s, w, link - 1, true);
        }
    }
}
