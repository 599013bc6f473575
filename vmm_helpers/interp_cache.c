/* The decode cache: blocks of pre-decoded instructions keyed by guest
 * physical address and code size, dropped when their bytes are written
 * (self-modifying code, code loaded by DMA or a helper). Pages holding
 * cached code are marked in the softmmu so every write to them reaches
 * ix_code_written. */
#include "vmm_helpers/interp_internal.h"

#include <stdlib.h>
#include <sys/mman.h>

int ix_cache_init(struct ix_cache *c, struct mach_err *err)
{
    /* Reserved, not committed: pages are touched only as blocks fill it. */
    void *p = mmap(NULL, IX_ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return mach_errf(err, "interp: cannot reserve %u MiB for the decode cache",
                         IX_ARENA_BYTES >> 20);
    c->arena = p;
    c->used = 0;
    return 0;
}

void ix_cache_destroy(struct ix_cache *c)
{
    if (c->arena)
        munmap(c->arena, IX_ARENA_BYTES);
    c->arena = NULL;
}

static unsigned block_hash(uint64_t phys, bool code32)
{
    return (unsigned)(((uint32_t)phys * 0x9E3779B1u) >> (32 - IX_HASH_BITS)) ^ (code32 ? 1u : 0u);
}

static unsigned page_hash(uint64_t page)
{
    return (unsigned)(((uint32_t)page * 0x9E3779B1u) >> (32 - IX_PAGE_HASH_BITS));
}

static void *arena_alloc(struct ix_cache *c, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (c->used + n > IX_ARENA_BYTES)
        return NULL;
    void *p = c->arena + c->used;
    c->used += n;
    return p;
}

void ix_cache_flush(struct interp *ix)
{
    struct ix_cache *c = &ix->cache;
    for (unsigned h = 0; h < (1u << IX_PAGE_HASH_BITS); h++)
        for (struct ix_page *pg = c->pages[h]; pg; pg = pg->next)
            mmu_code_page_clear(&ix->cpu.mmu, pg->page << 12);
    memset(c->hash, 0, sizeof c->hash);
    memset(c->pages, 0, sizeof c->pages);
    c->used = 0;
    ix->stats.cache_flushes++;
    ix->abort = true;
    ix->jc_gen++;
}

void ix_tlb_flushed(void *opaque, enum mmu_flush scope, uint32_t lin)
{
    (void)scope;
    (void)lin;
    ((struct interp *)opaque)->jc_gen++;
}

static struct ix_page *find_page(struct ix_cache *c, uint64_t page)
{
    for (struct ix_page *pg = c->pages[page_hash(page)]; pg; pg = pg->next)
        if (pg->page == page)
            return pg;
    return NULL;
}

static void unlink_hash(struct ix_cache *c, struct iblock *b)
{
    for (struct iblock **pp = &c->hash[block_hash(b->phys, b->code32)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == b) {
            *pp = b->hnext;
            return;
        }
    }
}

/* Writes reach here after the bytes changed (softmmu contract), so a
 * block decoded afterwards sees the new code; the running block is left
 * after the current instruction (ix->abort). */
void ix_code_written(void *opaque, uint64_t paddr, uint64_t len)
{
    struct interp *ix = opaque;
    struct ix_cache *c = &ix->cache;
    uint64_t end = paddr + len;
    for (uint64_t page = paddr >> 12; page <= (end - 1) >> 12; page++) {
        struct ix_page *pg = find_page(c, page);
        if (!pg)
            continue;
        for (struct iblock **pp = &pg->blocks; *pp;) {
            struct iblock *b = *pp;
            if (b->phys < end && paddr < b->phys + b->nbytes) {
                unlink_hash(c, b);
                *pp = b->pnext;
                ix->stats.invalidations++;
                ix->abort = true;
                ix->jc_gen++;
            } else {
                pp = &b->pnext;
            }
        }
        if (!pg->blocks)
            mmu_code_page_clear(&ix->cpu.mmu, page << 12);
    }
}

/* ---- decoding ------------------------------------------------------------------ */

/* Instructions after which a block must end: unconditional control
 * transfers and everything the system half executes (it may change CS,
 * paging, the mode or the code itself). Conditional branches (Jcc, LOOP,
 * JCXZ) do not: the block goes on with the fall-through path, and a taken
 * branch leaves it (ix->abort), which makes blocks longer at no cost. */
static bool ends_block(const struct dec_insn *d, const struct iop *i)
{
    bool conditional = d->cf == DEC_CF_JCC || d->cf == DEC_CF_LOOP || d->cf == DEC_CF_JCXZ;
    return (d->cf != DEC_CF_NONE && !conditional) || i->fn == ix_op_system ||
           i->fn == ix_op_ud || i->fn == ix_op_gp0;
}

/* An instruction the decoder rejects: #UD, or #GP(0) for one longer than
 * 15 bytes (SDM Vol. 2A 2.3.11). */
static void build_bad(struct dec_insn *d, struct iop *i, enum dec_status st)
{
    memset(d, 0, sizeof *d);
    d->len = 1;
    memset(i, 0, sizeof *i);
    i->d = d;
    i->len = 1;
    i->fn = st == DEC_TOO_LONG ? ix_op_gp0 : ix_op_ud;
}

/* Bytes of the instruction stream at lin up to the end of its page (at
 * most max), through the TLB, or through mmu_read for code in MMIO. */
static unsigned fetch_part(struct interp *ix, uint32_t lin, uint8_t *buf, unsigned max)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned acc = mmu_acc(cpu->cpl, MMU_ACC_EXEC);
    struct mmu_fetch f;
    struct mmu_fault fault;
    enum mmu_result r = mmu_fetch(&cpu->mmu, lin, acc, &f, &fault);
    unsigned n = MMU_PAGE_SIZE - (lin & ~MMU_PAGE_MASK);
    if (n > max)
        n = max;
    if (r == MMU_OK) {
        memcpy(buf, f.host, n);
        return n;
    }
    if (r == MMU_NOT_RAM)
        r = mmu_read(&cpu->mmu, lin, buf, n, acc, &fault);
    if (r != MMU_OK)
        hlp_raise_mmu(cpu, r, &fault);
    return n;
}

/* An instruction that crosses into the next page, or code in MMIO: decoded
 * into the scratch block each time it runs. The next page is fetched (and
 * may fault) only when the instruction really continues there. */
static const struct iblock *decode_uncached(struct interp *ix, uint32_t lin, uint64_t phys,
                                            bool code32)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint8_t buf[DEC_MAX_LEN];
    struct iblock *b = (struct iblock *)ix->cache.scratch;
    struct dec_insn *d = (struct dec_insn *)(b->ops + 1);
    enum dec_mode mode = code32 ? DEC_MODE_32 : DEC_MODE_16;

    unsigned have = fetch_part(ix, lin, buf, DEC_MAX_LEN);
    enum dec_status st = dec_decode(&cpu->dec, mode, buf, have, d);
    if (st == DEC_NEED_MORE && have < DEC_MAX_LEN) {
        ix->stats.cross_page++;
        have += fetch_part(ix, lin + have, buf + have, DEC_MAX_LEN - have);
        st = dec_decode(&cpu->dec, mode, buf, have, d);
    }
    ix->stats.decoded++;
    *b = (struct iblock){.phys = phys, .n = 1, .code32 = code32};
    if (st == DEC_OK)
        ix_build(ix, d, &b->ops[0]);
    else
        build_bad(d, &b->ops[0], st == DEC_NEED_MORE ? DEC_TOO_LONG : st);
    b->nbytes = b->ops[0].len;
    return b;
}

static struct iblock *insert(struct interp *ix, const struct dec_insn *tmp, unsigned n,
                             const enum dec_status *st, uint64_t phys, bool code32, unsigned nbytes)
{
    struct ix_cache *c = &ix->cache;
    uint64_t page = phys >> 12;
    size_t size = sizeof(struct iblock) + n * (sizeof(struct iop) + sizeof(struct dec_insn));
    struct ix_page *pg = find_page(c, page);
    struct iblock *b = arena_alloc(c, size);
    if (!pg && b) {
        pg = arena_alloc(c, sizeof *pg);
        if (pg) {
            *pg = (struct ix_page){.page = page, .next = c->pages[page_hash(page)]};
            c->pages[page_hash(page)] = pg;
        }
    }
    if (!b || !pg) {
        ix_cache_flush(ix);
        return insert(ix, tmp, n, st, phys, code32, nbytes);
    }
    *b = (struct iblock){.phys = phys, .n = (uint16_t)n, .nbytes = (uint16_t)nbytes,
                         .code32 = code32};
    struct dec_insn *decs = (struct dec_insn *)(b->ops + n);
    for (unsigned k = 0; k < n; k++) {
        decs[k] = tmp[k];
        if (st[k] == DEC_OK)
            ix_build(ix, &decs[k], &b->ops[k]);
        else
            build_bad(&decs[k], &b->ops[k], st[k]);
    }
    unsigned h = block_hash(phys, code32);
    b->hnext = c->hash[h];
    c->hash[h] = b;
    b->pnext = pg->blocks;
    pg->blocks = b;
    mmu_code_page_set(&ix->cpu.mmu, phys);
    return b;
}

static const struct iblock *decode_block(struct interp *ix, uint32_t lin,
                                         const struct mmu_fetch *f, bool code32)
{
    struct dec_insn tmp[IX_MAX_BLOCK];
    enum dec_status st[IX_MAX_BLOCK];
    struct iop probe;
    enum dec_mode mode = code32 ? DEC_MODE_32 : DEC_MODE_16;
    unsigned n = 0, off = 0;

    while (n < IX_MAX_BLOCK && off < f->avail) {
        st[n] = dec_decode(&ix->cpu.dec, mode, f->host + off, f->avail - off, &tmp[n]);
        if (st[n] == DEC_NEED_MORE)
            break;
        ix->stats.decoded++;
        if (st[n] != DEC_OK) {
            off += 1;
            n++;
            break;
        }
        ix_build(ix, &tmp[n], &probe);
        off += tmp[n].len;
        n++;
        if (ends_block(&tmp[n - 1], &probe))
            break;
    }
    if (n == 0)
        return decode_uncached(ix, lin, f->phys, code32);
    return insert(ix, tmp, n, st, f->phys, code32, off);
}

/* A jump-cache miss: the fetch (which raises #PF), the decode cache, a
 * decode on a miss; refills the jump-cache entry. */
const struct iblock *ix_lookup_slow(struct interp *ix, uint32_t lin)
{
    struct hlp_cpu *cpu = &ix->cpu;
    struct mmu_fetch f;
    struct mmu_fault fault;
    enum mmu_result r = mmu_fetch(&cpu->mmu, lin, mmu_acc(cpu->cpl, MMU_ACC_EXEC), &f, &fault);
    bool code32 = hlp_code32(cpu);
    if (IX_UNLIKELY(r != MMU_OK)) {
        if (r != MMU_NOT_RAM)
            hlp_raise_mmu(cpu, r, &fault);
        return decode_uncached(ix, lin, 0, code32);
    }
    const struct iblock *b;
    for (b = ix->cache.hash[block_hash(f.phys, code32)]; b; b = b->hnext)
        if (b->phys == f.phys && b->code32 == code32)
            break;
    if (b) {
        ix->stats.cache_hits++;
    } else {
        ix->stats.cache_misses++;
        b = decode_block(ix, lin, &f, code32);
        if ((const uint8_t *)b == ix->cache.scratch)
            return b;
    }
    *ix_jc_slot(ix, lin) = (struct ix_jc){.lin = lin, .gen = ix->jc_gen, .b = b};
    return b;
}

