/* Self-modifying code policy (bt_obs.h). A write-protected code page
 * costs one SIGSEGV, the loss of every block of the page and their
 * retranslation per guest write: right for code that is patched now and
 * then, ruinous for a page where code and often-written data live
 * together. Such a page goes to hash-check mode: writable, its blocks
 * entered only through the dispatcher, which compares the XXH3 the
 * tcache keeps of each block's guest bytes with the bytes there now. */
#include "translator/bt_internal.h"

#include <assert.h>

static unsigned slot_of(uint64_t key, unsigned slots)
{
    return (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 40) & (slots - 1);
}
_Static_assert((BT_SMC_HOT_SLOTS & (BT_SMC_HOT_SLOTS - 1)) == 0 &&
                   (BT_SMC_HASH_SLOTS & (BT_SMC_HASH_SLOTS - 1)) == 0,
               "slot counts are powers of two");

bool bt_smc_hash_page(const struct bt *bt, uint64_t paddr)
{
    const struct bt_smc *s = &bt->obs.smc;
    uint64_t key = (paddr >> TC_PAGE_SHIFT) + 1;
    unsigned h = slot_of(key, BT_SMC_HASH_SLOTS);
    for (unsigned i = 0; i < BT_SMC_HASH_SLOTS && s->hash_page[h]; i++) {
        if (s->hash_page[h] == key)
            return true;
        h = (h + 1) & (BT_SMC_HASH_SLOTS - 1);
    }
    return false;
}

/* Keeps at most half the table in use so that lookups stay short; a page
 * that does not fit stays write-protected (slower, still correct). */
static bool add_hash_page(struct bt_smc *s, uint64_t paddr)
{
    uint64_t key = (paddr >> TC_PAGE_SHIFT) + 1;
    if (s->stats.hash_pages >= BT_SMC_HASH_SLOTS / 2)
        return false;
    unsigned h = slot_of(key, BT_SMC_HASH_SLOTS);
    while (s->hash_page[h])
        h = (h + 1) & (BT_SMC_HASH_SLOTS - 1);
    s->hash_page[h] = key;
    s->stats.hash_pages++;
    return true;
}

/* Counts one invalidation of the page at paddr; true once it is hot. The
 * table is direct-mapped: two pages sharing a slot only restart each
 * other's count. */
static bool count_hot(struct bt *bt, uint64_t paddr)
{
    struct bt_smc *s = &bt->obs.smc;
    uint64_t key = (paddr >> TC_PAGE_SHIFT) + 1;
    uint64_t now = bt->stats.entries;
    unsigned h = slot_of(key, BT_SMC_HOT_SLOTS);
    if (s->hot[h].page != key || now - s->hot[h].stamp > BT_SMC_WINDOW) {
        s->hot[h].page = key;
        s->hot[h].count = 0;
    }
    s->hot[h].stamp = now;
    return ++s->hot[h].count > BT_SMC_HOT_COUNT;
}

bool bt_smc_write_fault(struct bt *bt, uint64_t page)
{
    struct hlp_cpu *cpu = bt->cpu;
    if (bt_smc_hash_page(bt, page)) {
        /* Marked again by the interpreter's decode cache (code it ran from
         * this page) or by a helper: only the interpreter's blocks go, the
         * translator's are checked when entered. */
        bt->obs.smc.stats.hash_faults++;
        hlp_interp_code_written(cpu, page, MMU_PAGE_SIZE);
        mmu_code_page_clear(&cpu->mmu, page);
        return false;
    }
    bt->stats.smc_invalidations++;
    tc_invalidate(&bt->tc, page, MMU_PAGE_SIZE);
    hlp_interp_code_written(cpu, page, MMU_PAGE_SIZE);
    mmu_code_page_clear(&cpu->mmu, page);
    if (count_hot(bt, page))
        add_hash_page(&bt->obs.smc, page);
    return true;
}

bool bt_smc_split_after(const struct tc_block *b, const struct dec_insn *d)
{
    if (!(b->flags & BT_BLOCK_HASHCHECK))
        return false;
    if (d->flags & DEC_F_STACK)
        return true;
    for (unsigned i = 0; i < d->n_ops; i++)
        if (d->ops[i].kind == DEC_OP_MEM && !(d->ops[i].flags & DEC_OPF_AGEN) &&
            (d->ops[i].flags & DEC_OPF_WRITE))
            return true;
    return false;
}

bool bt_smc_verify(struct bt *bt, const struct tc_block *b, const uint8_t *guest)
{
    assert(b->flags & BT_BLOCK_PROLOGUE);
    bt->obs.smc.stats.hash_checks++;
    if (tc_block_verify(b, guest))
        return true;
    bt->obs.smc.stats.hash_misses++;
    tc_invalidate(&bt->tc, b->key.phys, b->guest_len);
    return false;
}
