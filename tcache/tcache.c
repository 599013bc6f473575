/* The translation cache: code buffer, block records, lookup, page lists,
 * invalidation and chaining (see tcache.h). */
#define _GNU_SOURCE
#include "tcache/tcache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#define TC_HASH_BITS 15
#define TC_PAGE_BITS 12
#define TC_CODE_ALIGN 16

/* The blocks of one physical page. */
struct tc_page {
    uint64_t page;
    struct tc_block *blocks;
    struct tc_page *next;
};

static unsigned key_hash(const struct tc_key *k, unsigned bits)
{
    uint64_t h = (k->phys * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)k->eip << 17) ^ k->mode;
    h *= 0xC2B2AE3D27D4EB4Full;
    return (unsigned)(h >> (64 - bits));
}

static unsigned page_hash(uint64_t page, unsigned bits)
{
    return (unsigned)((page * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

int tc_init(struct tcache *tc, size_t code_bytes, struct mach_err *err)
{
    memset(tc, 0, sizeof *tc);
    long pg = sysconf(_SC_PAGESIZE);
    code_bytes = (code_bytes + (size_t)pg - 1) & ~((size_t)pg - 1);
    /* Two views of one buffer (W^X): the emitter writes through rw, the
     * CPU executes rx. Shared anonymous memory aliased by mremap (old size
     * 0 duplicates a shared mapping, mremap(2)), not a memfd: perf takes
     * it for anonymous memory (/dev/zero) and names its code from
     * /tmp/perf-PID.map (translator/bt_perfmap.c); a memfd is a file to
     * perf, which then ignores the map. */
    void *rw = mmap(NULL, code_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    void *rx = rw == MAP_FAILED ? MAP_FAILED : mremap(rw, 0, code_bytes, MREMAP_MAYMOVE);
    if (rw == MAP_FAILED || rx == MAP_FAILED ||
        mprotect(rx, code_bytes, PROT_READ | PROT_EXEC) < 0) {
        mach_errf(err, "tcache: cannot create the code buffer: %s", strerror(errno));
        if (rx != MAP_FAILED)
            munmap(rx, code_bytes);
        if (rw != MAP_FAILED)
            munmap(rw, code_bytes);
        return -1;
    }
    tc->rw = rw;
    tc->rx = rx;
    tc->code_size = code_bytes;
    tc->hash_bits = TC_HASH_BITS;
    tc->page_bits = TC_PAGE_BITS;
    /* Metadata: block records with their side tables, page records. A
     * block needs at most this much, so the two fill at similar rates. */
    tc->meta_size = code_bytes;
    tc->max_by_addr = code_bytes / 32;
    tc->meta = malloc(tc->meta_size);
    tc->hash = calloc(1u << tc->hash_bits, sizeof *tc->hash);
    tc->pages = calloc(1u << tc->page_bits, sizeof *tc->pages);
    tc->by_addr = malloc(tc->max_by_addr * sizeof *tc->by_addr);
    if (!tc->rw || !tc->rx || !tc->meta || !tc->hash || !tc->pages || !tc->by_addr) {
        mach_errf(err, "tcache: out of memory for a %zu MiB code buffer", code_bytes >> 20);
        tc_destroy(tc);
        return -1;
    }
    return 0;
}

void tc_destroy(struct tcache *tc)
{
    if (tc->rw)
        munmap(tc->rw, tc->code_size);
    if (tc->rx)
        munmap(tc->rx, tc->code_size);
    free(tc->meta);
    free(tc->hash);
    free(tc->pages);
    free(tc->by_addr);
    memset(tc, 0, sizeof *tc);
}

void tc_set_jcache(struct tcache *tc, struct tc_jcache *jc) { tc->jc = jc; }
void tc_set_icache(struct tcache *tc, struct tc_icache *ic) { tc->ic = ic; }

void tc_set_page_hook(struct tcache *tc, tc_page_fn fn, void *opaque)
{
    tc->page_dropped = fn;
    tc->opaque = opaque;
}

void *tc_reserve_code(struct tcache *tc, const void *bytes, size_t len)
{
    size_t at = tc->code_used;
    size_t end = (at + len + TC_CODE_ALIGN - 1) & ~(size_t)(TC_CODE_ALIGN - 1);
    if (tc->code_used != tc->code_reserved || end > tc->code_size)
        return NULL;
    memcpy(tc->rw + at, bytes, len);
    tc->code_used = tc->code_reserved = end;
    return tc->rx + at;
}

static void *meta_alloc(struct tcache *tc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (tc->meta_used + n > tc->meta_size)
        return NULL;
    void *p = tc->meta + tc->meta_used;
    tc->meta_used += n;
    return p;
}

struct tc_block *tc_alloc(struct tcache *tc, unsigned n_insns, size_t max_code)
{
    if (tc->n_by_addr == tc->max_by_addr || tc->code_used + max_code > tc->code_size)
        return NULL;
    /* A page record may be needed at commit: keep room for it. */
    size_t need = sizeof(struct tc_block) + n_insns * sizeof(struct tc_insn_map);
    if (tc->meta_used + need + 2 * sizeof(struct tc_page) + 32 > tc->meta_size)
        return NULL;
    struct tc_block *b = meta_alloc(tc, need);
    memset(b, 0, sizeof *b);
    b->n_insns = (uint16_t)n_insns;
    b->code = tc->rx + tc->code_used;
    return b;
}

void *tc_alloc_data(struct tcache *tc, size_t n)
{
    /* Keep the room tc_alloc promised for a page record at commit. */
    if (tc->meta_used + ((n + 15) & ~(size_t)15) + 2 * sizeof(struct tc_page) + 32 > tc->meta_size)
        return NULL;
    return meta_alloc(tc, n);
}

static struct tc_page *find_page(const struct tcache *tc, uint64_t page)
{
    for (struct tc_page *p = tc->pages[page_hash(page, tc->page_bits)]; p; p = p->next)
        if (p->page == page)
            return p;
    return NULL;
}

void tc_commit(struct tcache *tc, struct tc_block *b, size_t code_len, const uint8_t *guest_bytes)
{
    b->code_len = (uint32_t)code_len;
    tc->code_used = (tc->code_used + code_len + TC_CODE_ALIGN - 1) & ~(size_t)(TC_CODE_ALIGN - 1);
    b->hash = XXH3_64bits(guest_bytes, b->guest_len);
    b->valid = true;

    unsigned h = key_hash(&b->key, tc->hash_bits);
    b->hnext = tc->hash[h];
    tc->hash[h] = b;

    uint64_t page = b->key.phys >> TC_PAGE_SHIFT;
    struct tc_page *p = find_page(tc, page);
    if (!p) {
        p = meta_alloc(tc, sizeof *p); /* room kept by tc_alloc */
        *p = (struct tc_page){.page = page, .next = tc->pages[page_hash(page, tc->page_bits)]};
        tc->pages[page_hash(page, tc->page_bits)] = p;
    }
    b->pnext = p->blocks;
    p->blocks = b;
    tc->by_addr[tc->n_by_addr++] = b;
    if (tc->jc)
        tc->jc->e[tc_jc_index(b->key.eip)] = b;
    tc->stats.blocks++;
}

struct tc_block *tc_lookup(struct tcache *tc, const struct tc_key *key)
{
    tc->stats.lookups++;
    for (struct tc_block *b = tc->hash[key_hash(key, tc->hash_bits)]; b; b = b->hnext) {
        if (b->key.phys == key->phys && b->key.eip == key->eip && b->key.mode == key->mode) {
            tc->stats.lookup_hits++;
            if (tc->jc)
                tc->jc->e[tc_jc_index(key->eip)] = b;
            return b;
        }
    }
    return NULL;
}

struct tc_block *tc_find_by_pc(const struct tcache *tc, uintptr_t pc)
{
    size_t lo = 0, hi = tc->n_by_addr;
    /* by_addr is in allocation order, which is code-address order. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)tc->by_addr[mid]->code <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    struct tc_block *b = tc->by_addr[lo - 1];
    return pc < (uintptr_t)b->code + b->code_len ? b : NULL;
}

int tc_insn_at_pc(const struct tc_block *b, uintptr_t pc)
{
    uintptr_t off = pc - (uintptr_t)b->code;
    int found = -1;
    for (unsigned k = 0; k < b->n_insns && b->map[k].host_off <= off; k++)
        found = (int)k;
    return found;
}

bool tc_block_verify(const struct tc_block *b, const uint8_t *guest_bytes)
{
    return XXH3_64bits(guest_bytes, b->guest_len) == b->hash;
}

/* ---- chaining -------------------------------------------------------------------- */

static void patch_rel32(struct tcache *tc, struct tc_block *b, unsigned exit, const uint8_t *dest)
{
    const uint8_t *site = b->code + b->exits[exit].patch_off;
    int32_t rel = (int32_t)(dest - (site + 4));
    memcpy(tc_rw(tc, site), &rel, 4);
}

bool tc_chain(struct tcache *tc, struct tc_block *from, unsigned exit, struct tc_block *to)
{
    struct tc_exit *x = &from->exits[exit];
    if (exit >= from->n_exits || x->to || !from->valid || !to->valid ||
        x->target_eip != to->key.eip || from->key.mode != to->key.mode ||
        (from->key.phys >> TC_PAGE_SHIFT) != (to->key.phys >> TC_PAGE_SHIFT) ||
        (from->key.eip >> TC_PAGE_SHIFT) != (to->key.eip >> TC_PAGE_SHIFT))
        return false;
    patch_rel32(tc, from, exit, to->code);
    x->to = to;
    x->next_in = (struct tc_block *)to->incoming;
    to->incoming = (uintptr_t)from | exit;
    tc->stats.chains++;
    return true;
}

/* Removes from's exit `exit` from its target's incoming list. */
static void unlink_incoming(struct tc_block *from, unsigned exit)
{
    struct tc_block *to = from->exits[exit].to;
    uintptr_t me = (uintptr_t)from | exit;
    uintptr_t *pp = &to->incoming;
    while (*pp) {
        struct tc_block *b = (struct tc_block *)(*pp & ~TC_EXIT_TAG);
        unsigned e = *pp & TC_EXIT_TAG;
        if (*pp == me) {
            *pp = (uintptr_t)b->exits[e].next_in;
            return;
        }
        pp = (uintptr_t *)&b->exits[e].next_in;
    }
}

static void drop_block(struct tcache *tc, struct tc_block *b)
{
    struct tc_block **pp = &tc->hash[key_hash(&b->key, tc->hash_bits)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
    /* Jumps into b go back to their stubs. */
    for (uintptr_t in = b->incoming; in;) {
        struct tc_block *src = (struct tc_block *)(in & ~TC_EXIT_TAG);
        unsigned e = in & TC_EXIT_TAG;
        in = (uintptr_t)src->exits[e].next_in;
        patch_rel32(tc, src, e, src->code + src->exits[e].stub_off);
        src->exits[e].to = NULL;
        src->exits[e].next_in = NULL;
        tc->stats.unchains++;
    }
    b->incoming = 0;
    for (unsigned e = 0; e < b->n_exits; e++) {
        if (b->exits[e].to) {
            unlink_incoming(b, e);
            patch_rel32(tc, b, e, b->code + b->exits[e].stub_off);
            b->exits[e].to = NULL;
        }
    }
    if (tc->jc && tc->jc->e[tc_jc_index(b->key.eip)] == b)
        tc->jc->e[tc_jc_index(b->key.eip)] = NULL;
    /* An indirect-cache entry for b has b's own EIP as key. */
    if (tc->ic && tc->ic->e[tc_ic_index(b->key.eip)].code == b->code)
        tc->ic->e[tc_ic_index(b->key.eip)] = (struct tc_icache_entry){0, NULL};
    b->valid = false;
    tc->stats.invalidated++;
}

unsigned tc_invalidate(struct tcache *tc, uint64_t paddr, uint64_t len)
{
    unsigned dropped = 0;
    if (!len)
        return 0;
    uint64_t end = paddr + len;
    for (uint64_t page = paddr >> TC_PAGE_SHIFT; page <= (end - 1) >> TC_PAGE_SHIFT; page++) {
        struct tc_page *p = find_page(tc, page);
        if (!p || !p->blocks)
            continue;
        for (struct tc_block **pp = &p->blocks; *pp;) {
            struct tc_block *b = *pp;
            if (b->key.phys < end && paddr < b->key.phys + b->guest_len) {
                *pp = b->pnext;
                drop_block(tc, b);
                dropped++;
            } else {
                pp = &b->pnext;
            }
        }
        if (!p->blocks && tc->page_dropped)
            tc->page_dropped(tc->opaque, page << TC_PAGE_SHIFT);
    }
    return dropped;
}

bool tc_page_has_code(const struct tcache *tc, uint64_t paddr)
{
    const struct tc_page *p = find_page(tc, paddr >> TC_PAGE_SHIFT);
    return p && p->blocks;
}

void tc_flush(struct tcache *tc)
{
    memset(tc->hash, 0, (sizeof *tc->hash) << tc->hash_bits);
    memset(tc->pages, 0, (sizeof *tc->pages) << tc->page_bits);
    if (tc->jc)
        memset(tc->jc, 0, sizeof *tc->jc);
    if (tc->ic)
        memset(tc->ic, 0, sizeof *tc->ic);
    tc->n_by_addr = 0;
    tc->meta_used = 0;
    tc->code_used = tc->code_reserved;
    tc->stats.flushes++;
    if (tc->page_dropped)
        tc->page_dropped(tc->opaque, UINT64_MAX);
}

void tc_print_stats(const struct tcache *tc, FILE *out)
{
#define TC_STAT_PRINT(name, desc) fprintf(out, "  %-44s %" PRIu64 "\n", desc, tc->stats.name);
    TC_STATS(TC_STAT_PRINT)
#undef TC_STAT_PRINT
    fprintf(out, "  %-44s %zu KiB of %zu KiB\n", "code buffer used", tc->code_used >> 10,
            tc->code_size >> 10);
}
