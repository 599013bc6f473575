/* Shadow windows: TLB flushes (SDM Vol. 3A 4.10.4.1).
 *
 * A CR3 load must drop every non-global translation and an INVLPG the
 * page's; a window mapping is such a translation. Dropping one costs a
 * host call, and the guest touching the page again a SIGSEGV, a walk and
 * another call: 8-14 us on this host, where the interpreter's whole CR3
 * load takes 1-2 us. Most mappings a flush would drop are found again
 * unchanged (kernel pages without G, shared pages, the page whose PTE an
 * INVLPG follows when only its rights changed), so a flush first looks
 * at what the paging structures say now, with a peek walk that writes
 * nothing (mmu_walk_peek):
 * - the same translation, every accessed flag set, writable only with D
 *   set: the mapping stays;
 * - another translation with the same property: the page is mapped to it
 *   at once (at most REFRESH_MAX pages per flush and window), which saves
 *   the SIGSEGV if the guest touches the page again;
 * - anything else (not present, A or D clear, MMIO, a fault): dropped
 *   (parked, shadow_pages.c).
 * This is what a processor may do: right after the flush it may cache any
 * translation whose accessed flags are set, speculatively, without an
 * access (4.10.2.3), and caching one whose flags are set writes nothing,
 * so the guest sees no difference in memory. The one visible effect is
 * the architectural one: a PTE changed after the flush without another
 * INVLPG may still be served from the kept translation, as from any TLB
 * entry (4.10.4.2, 4.10.4.3). Pages whose flags are clear are left for
 * the access to walk, so A and D stay exactly as the interpreter sets
 * them. Global pages stay over CR3 loads unchecked, as in the TLB.
 *
 * The check costs a walk per mapped page (one per large page), so a CR3
 * load walks at most CHECK_MAX times, from the most recently mapped run
 * backwards, and drops the rest unchecked. */
#include "softmmu/shadow_internal.h"

#define REFRESH_MAX 16u
#define CHECK_MAX 2048u

struct refresh {
    uint32_t idx, state;
};

struct flush {
    struct refresh todo[REFRESH_MAX];
    unsigned ntodo;
    uint32_t checks_left;
    struct mmu_shadow_span sp; /* the last translation peeked (large pages) */
};

enum verdict { KEEP, REFRESH, DROP };

/* What to do with VALID page idx. KEEP updates the page's flags (G, the
 * guest's write right, large page) to the translation's. */
static enum verdict check(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx,
                          struct flush *f, uint32_t *now)
{
    uint32_t old = w->state[idx];
    uint32_t st = mmu_shadow_peek_state(s, w, idx, &f->sp);
    *now = st;
    if (!(st & SHW_VALID))
        return DROP;
    if (((st ^ old) & (SHW_PPN | SHW_ROM | SHW_WRITE)) != 0)
        return REFRESH;
    w->state[idx] = st | (old & SHW_INRUN);
    if (st & SHW_LARGE)
        w->has_large = true;
    s->stats.flush_kept++;
    return KEEP;
}

/* Whether page idx must be dropped; refreshes are queued. */
static bool must_drop(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx,
                      struct flush *f)
{
    bool cached = f->sp.contiguous && idx >= f->sp.lo && idx < f->sp.hi;
    if (!cached && f->checks_left == 0)
        return true;
    f->checks_left -= !cached;
    uint32_t now;
    enum verdict v = check(s, w, idx, f, &now);
    if (v == REFRESH && f->ntodo < REFRESH_MAX) {
        for (unsigned k = 0; k < f->ntodo; k++) {
            if (f->todo[k].idx == idx) /* runs may overlap */
                return false;
        }
        f->todo[f->ntodo++] = (struct refresh){idx, now};
        return false;
    }
    return v != KEEP;
}

/* Maps the queued pages to their new translations. The old ones stay
 * until then (no guest code runs in between); a failed map drops them. */
static void refresh(struct mmu_shadow *s, struct mmu_shadow_window *w, const struct flush *f)
{
    for (unsigned k = 0; k < f->ntodo; k++) {
        mmu_shadow_make_room(s, w);
        if (mmu_shadow_map(s, w, f->todo[k].idx, 1, f->todo[k].state) != 0) {
            mmu_shadow_unmap(s, w, f->todo[k].idx, 1);
            continue;
        }
        s->stats.flush_refreshed++;
    }
}

/* CR3 load: non-global mappings are checked, the most recent first. */
static void flush_nonglobal(struct mmu_shadow *s, struct mmu_shadow_window *w)
{
    struct flush f = {.checks_left = CHECK_MAX};
    for (uint32_t r = w->nruns; r-- > 0;) {
        struct mmu_shadow_run run = w->runs[r];
        uint32_t end = run.page + run.npages, drop_from = end;
        for (uint32_t i = run.page; i < end; i++) {
            uint32_t st = w->state[i];
            bool drop = (st & (SHW_VALID | SHW_GLOBAL)) == SHW_VALID && must_drop(s, w, i, &f);
            if (drop && drop_from == end)
                drop_from = i;
            if (!drop && drop_from != end) {
                mmu_shadow_unmap(s, w, drop_from, i - drop_from);
                drop_from = end;
            }
        }
        if (drop_from != end)
            mmu_shadow_unmap(s, w, drop_from, end - drop_from);
    }
    mmu_shadow_compact_runs(w);
    refresh(s, w, &f);
}

/* INVLPG of one 4 KiB mapping (idx may be the mirror of page 0). */
static void flush_one(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t idx)
{
    if (!(w->state[idx] & SHW_VALID))
        return;
    struct flush f = {.checks_left = 1};
    if (must_drop(s, w, idx, &f))
        mmu_shadow_unmap(s, w, idx, 1);
    refresh(s, w, &f);
}

/* INVLPG drops the translation of the whole page holding lin, whatever its
 * size; pieces of any large page in the surrounding 4 MiB go too (dropping
 * more than asked is always allowed). Large pages are dropped unchecked. */
static void flush_page(struct mmu_shadow *s, struct mmu_shadow_window *w, uint32_t lin)
{
    uint32_t idx = lin >> 12;
    if (w->state[idx] & SHW_LARGE) {
        mmu_shadow_unmap(s, w, idx, 1);
    } else {
        flush_one(s, w, idx);
        if (idx == 0)
            flush_one(s, w, SHW_MIRROR);
    }
    if (!w->has_large)
        return;
    uint32_t first = idx & ~1023u;
    for (uint32_t i = first; i < first + 1024; i++) {
        if ((w->state[i] & (SHW_VALID | SHW_LARGE)) == (SHW_VALID | SHW_LARGE))
            mmu_shadow_unmap(s, w, i, 1);
    }
}

void mmu_shadow_flushed(struct mmu_shadow *s, enum mmu_flush scope, uint32_t lin)
{
    for (unsigned k = 0; k < 2; k++) {
        struct mmu_shadow_window *w = &s->win[k];
        switch (scope) {
        case MMU_FLUSH_ALL:
            mmu_shadow_wipe(s, w);
            break;
        case MMU_FLUSH_NONGLOBAL:
            flush_nonglobal(s, w);
            break;
        case MMU_FLUSH_PAGE:
            flush_page(s, w, lin);
            break;
        }
    }
}
