/* Accesses through the softmmu that miss the inline fast path: page-crossing
 * and MMIO accesses, ROM writes, writes to code pages, fetches, and the
 * guest physical accesses of the page walker. */
#include "softmmu/softmmu_internal.h"

#include <assert.h>

/* The write hook fires after the bytes changed, so an engine that drops
 * and re-decodes the page sees the new code. */
static void note_code_write(struct mmu *mmu, uint64_t paddr, uint64_t len)
{
    uint64_t first = paddr >> 12, last = (paddr + len - 1) >> 12;
    for (uint64_t p = first; p <= last; p++) {
        if (mmu_code_page_test(mmu, p << 12)) {
            mmu->stats.code_writes++;
            if (mmu->hooks.code_written)
                mmu->hooks.code_written(mmu->hooks.opaque, paddr, len);
            return;
        }
    }
}

/* MMIO goes to devices in naturally aligned pieces of at most 8 bytes, as
 * the processor's bus cycles would split it. */
static unsigned mmio_piece(uint64_t paddr, size_t len)
{
    unsigned n = 8;
    while (n > len || (paddr & (n - 1)))
        n >>= 1;
    return n;
}

static enum mmu_result bad_phys(struct mmu *mmu, uint64_t paddr, struct mmu_fault *fault)
{
    mmu->stats.bad_phys++;
    *fault = (struct mmu_fault){.paddr = paddr};
    return MMU_BAD_PHYS;
}

enum mmu_result mmu_phys_rw(struct mmu *mmu, uint64_t paddr, void *buf, size_t len,
                            bool is_write, struct mmu_fault *fault)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint8_t *host;
        uint64_t run;
        size_t n;
        switch (mach_phys_lookup(mmu->m, paddr, &host, &run)) {
        case MACH_PHYS_RAM:
            n = run < len ? (size_t)run : len;
            if (is_write) {
                memcpy(host, p, n);
                note_code_write(mmu, paddr, n);
            } else {
                memcpy(p, host, n);
            }
            break;
        case MACH_PHYS_ROM: /* writes to the BIOS ROM are dropped */
            n = run < len ? (size_t)run : len;
            if (!is_write)
                memcpy(p, host, n);
            break;
        case MACH_PHYS_MMIO:
            n = mmio_piece(paddr, len);
            mmu->stats.mmio++;
            if (!mach_mmio(mmu->m, paddr, p, (unsigned)n, is_write))
                return bad_phys(mmu, paddr, fault);
            break;
        default:
            return bad_phys(mmu, paddr, fault);
        }
        paddr += n;
        p += n;
        len -= n;
    }
    return MMU_OK;
}

/* One page's part of an access, translated before any byte moves. */
struct part {
    uint32_t lin;
    size_t len;
    uint64_t phys;
    uint8_t *host; /* RAM or ROM at phys, else NULL */
    uint8_t kind;
};

static enum mmu_result translate_part(struct mmu *mmu, struct part *pt, unsigned acc,
                                      struct mmu_fault *fault)
{
    const struct mmu_tlb_entry *e;
    enum mmu_result r = mmu_tlb_lookup(mmu, pt->lin, acc, &e, fault);
    if (r != MMU_OK)
        return r;
    uint32_t off = pt->lin & ~MMU_PAGE_MASK;
    pt->phys = e->phys + off;
    pt->host = e->host ? e->host + off : NULL;
    pt->kind = e->kind;
    return MMU_OK;
}

/* After a write to a code page the engine may have dropped the page's
 * code (mmu_code_page_clear): the entry can then serve writes directly
 * again. */
static void rearm_write(struct mmu *mmu, const struct part *pt)
{
    struct mmu_tlb_entry *e = &mmu->tlb[(pt->lin >> 12) & (MMU_TLB_SIZE - 1)];
    if (e->tag == (pt->lin & MMU_PAGE_MASK) && e->kind == MACH_PHYS_RAM && e->host &&
        e->phys == (pt->phys & ~0xFFFull) && !mmu_code_page_test(mmu, e->phys))
        e->fast |= e->allowed & MMU_WRITE_CLASSES;
}

static enum mmu_result move_part(struct mmu *mmu, const struct part *pt, uint8_t *buf,
                                 bool is_write, struct mmu_fault *fault)
{
    if (pt->host && pt->kind == MACH_PHYS_RAM && !is_write) {
        memcpy(buf, pt->host, pt->len);
        return MMU_OK;
    }
    if (pt->host && pt->kind == MACH_PHYS_ROM) {
        if (!is_write)
            memcpy(buf, pt->host, pt->len);
        return MMU_OK;
    }
    if (pt->host && pt->kind == MACH_PHYS_RAM) {
        memcpy(pt->host, buf, pt->len);
        note_code_write(mmu, pt->phys, pt->len);
        rearm_write(mmu, pt);
        return MMU_OK;
    }
    return mmu_phys_rw(mmu, pt->phys, buf, pt->len, is_write, fault);
}

static enum mmu_result access(struct mmu *mmu, uint32_t lin, uint8_t *buf, size_t len,
                              unsigned acc, bool is_write, struct mmu_fault *fault)
{
    assert(len <= MMU_PAGE_SIZE);
    if (len == 0)
        return MMU_OK;
    size_t first = MMU_PAGE_SIZE - (lin & ~MMU_PAGE_MASK);
    struct part pt[2] = {{.lin = lin, .len = len < first ? len : first}};
    unsigned n = 1;
    if (pt[0].len < len) {
        pt[1] = (struct part){.lin = lin + (uint32_t)pt[0].len, .len = len - pt[0].len};
        n = 2;
    }
    for (unsigned i = 0; i < n; i++) {
        enum mmu_result r = translate_part(mmu, &pt[i], acc, fault);
        if (r != MMU_OK)
            return r;
    }
    for (unsigned i = 0; i < n; i++) {
        enum mmu_result r = move_part(mmu, &pt[i], buf, is_write, fault);
        if (r != MMU_OK)
            return r;
        buf += pt[i].len;
    }
    return MMU_OK;
}

enum mmu_result mmu_read(struct mmu *mmu, uint32_t lin, void *buf, size_t len, unsigned acc,
                         struct mmu_fault *fault)
{
    return access(mmu, lin, buf, len, acc, false, fault);
}

enum mmu_result mmu_write(struct mmu *mmu, uint32_t lin, const void *buf, size_t len,
                          unsigned acc, struct mmu_fault *fault)
{
    /* The buffer is only read: access() shares one path for both ways. */
    return access(mmu, lin, (uint8_t *)buf, len, (acc & ~MMU_ACC_EXEC) | MMU_ACC_WRITE, true,
                  fault);
}

enum mmu_result mmu_translate(struct mmu *mmu, uint32_t lin, unsigned acc,
                              struct mmu_xlat *out, struct mmu_fault *fault)
{
    const struct mmu_tlb_entry *e;
    enum mmu_result r = mmu_tlb_lookup(mmu, lin, acc, &e, fault);
    if (r != MMU_OK)
        return r;
    uint32_t off = lin & ~MMU_PAGE_MASK;
    *out = (struct mmu_xlat){
        .phys = e->phys + off,
        .host = e->host ? e->host + off : NULL,
        .kind = (enum mach_phys_kind)e->kind,
        .allowed = e->allowed,
        .fast = e->fast,
        .page_size = (e->flags & MMU_TLBF_4M)   ? 4u << 20
                     : (e->flags & MMU_TLBF_2M) ? 2u << 20
                                                : MMU_PAGE_SIZE,
        .global = (e->flags & MMU_TLBF_GLOBAL) != 0,
    };
    if (!e->host) { /* the entry only knows the page's first byte */
        uint8_t *host;
        uint64_t run;
        out->kind = mach_phys_lookup(mmu->m, out->phys, &host, &run);
    }
    return MMU_OK;
}

enum mmu_result mmu_fetch_slow(struct mmu *mmu, uint32_t lin, unsigned acc,
                               struct mmu_fetch *out, struct mmu_fault *fault)
{
    const struct mmu_tlb_entry *e;
    enum mmu_result r = mmu_tlb_lookup(mmu, lin, acc | MMU_ACC_EXEC, &e, fault);
    if (r != MMU_OK)
        return r;
    uint32_t off = lin & ~MMU_PAGE_MASK;
    out->phys = e->phys + off;
    out->avail = MMU_PAGE_SIZE - off;
    out->host = e->host ? e->host + off : NULL;
    if (e->host)
        return MMU_OK;
    uint8_t *host;
    uint64_t run;
    if (mach_phys_lookup(mmu->m, out->phys, &host, &run) == MACH_PHYS_MMIO)
        return MMU_NOT_RAM;
    return bad_phys(mmu, out->phys, fault);
}

/* ---- code pages ---- */

void mmu_code_page_set(struct mmu *mmu, uint64_t paddr)
{
    uint64_t page = paddr >> 12;
    if (page >= mmu->code_pages)
        return; /* not RAM: nothing can write there */
    uint64_t bit = 1ull << (page & 63);
    if (mmu->code_bits[page >> 6] & bit)
        return;
    mmu->code_bits[page >> 6] |= bit;
    mmu_tlb_protect_code(mmu, page << 12);
    if (mmu->shadow)
        mmu_shadow_code_marked(mmu->shadow, page << 12);
}

void mmu_code_page_clear(struct mmu *mmu, uint64_t paddr)
{
    uint64_t page = paddr >> 12;
    if (page >= mmu->code_pages || !mmu_code_page_test(mmu, paddr))
        return;
    mmu->code_bits[page >> 6] &= ~(1ull << (page & 63));
    if (mmu->shadow)
        mmu_shadow_code_cleared(mmu->shadow, page << 12);
}

bool mmu_code_page_test(const struct mmu *mmu, uint64_t paddr)
{
    uint64_t page = paddr >> 12;
    return page < mmu->code_pages && (mmu->code_bits[page >> 6] >> (page & 63)) & 1;
}

void mmu_phys_written(struct mmu *mmu, uint64_t paddr, uint64_t len)
{
    if (len > 0)
        note_code_write(mmu, paddr, len);
}

void mmu_report_bad_phys(struct mmu *mmu, const struct mmu_fault *fault)
{
    mach_request_exit(mmu->m, MACH_EXIT_BAD_MEMORY, 0,
                      "guest accessed unassigned physical memory at 0x%llx",
                      (unsigned long long)fault->paddr);
}
