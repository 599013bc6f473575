/* tcache/ public interface: the translation cache of the `bt` engine.
 *
 * What it holds:
 *   - the code buffer: shared memory mapped twice, read-write for the emitter
 *     and read-execute for running (W^X: no page is ever writable and
 *     executable at the same address);
 *   - blocks: host code for one guest basic block, keyed by the guest
 *     physical address of its first byte, its EIP (a block embeds EIPs:
 *     return addresses, fall-through targets) and the translator's mode
 *     bits (CS.D, CPL, paging, ...), found through a per-vCPU jump cache
 *     in front of a hash table;
 *   - per physical page, the list of its blocks, so a write to guest code
 *     invalidates exactly the blocks it touches;
 *   - per block, a compact host-pc -> guest-instruction side table (for
 *     precise faults) and the XXH3 hash of its guest bytes;
 *   - direct chaining: a block's exits are jumps that may be patched to go
 *     straight into the target block (same guest page only, as QEMU does,
 *     so invalidating a page never leaves a jump into another page's
 *     stale code), with incoming-jump lists so invalidation unpatches them.
 *
 * A full buffer is normal control flow: tc_alloc fails, the caller calls
 * tc_flush and translates again (nothing is evicted one by one).
 * Single-threaded: one vCPU owns a cache. Nothing here allocates in the
 * lookup paths. */
#ifndef POPEK_TCACHE_H
#define POPEK_TCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/machine.h"

#define TC_PAGE_SHIFT 12
#define TC_MAX_EXITS 8         /* direct exits per block (side exits of Jcc, the end) */
#define TC_EXIT_TAG ((uintptr_t)7) /* block pointer | exit index: records are 16-aligned */
_Static_assert(TC_MAX_EXITS <= TC_EXIT_TAG + 1, "exit index in the low bits of a record");
#define TC_MAX_INSNS 64        /* guest instructions per block */
#define TC_JC_BITS 12          /* jump-cache entries: 1 << TC_JC_BITS */

/* Lookup key. mode is the translator's business (it must change whenever
 * the same bytes would translate differently). */
struct tc_key {
    uint64_t phys;
    uint32_t eip;
    uint32_t mode;
};

/* One direct exit of a block: the rel32 at code + patch_off jumps to
 * code + stub_off while unchained, to the target block once chained. */
struct tc_exit {
    uint32_t patch_off;     /* offset of the jump's rel32 in the block's code */
    uint32_t stub_off;      /* where the unchained jump goes */
    uint32_t target_eip;
    struct tc_block *to;    /* chained target, or NULL */
    struct tc_block *next_in; /* next block in to->incoming (tagged: TC_EXIT_TAG) */
};

/* Side table entry: guest instruction k starts host code at host_off[k]
 * and guest byte guest_off[k] (both relative to the block). */
struct tc_insn_map {
    uint16_t host_off;
    uint16_t guest_off;
};

struct tc_block {
    struct tc_key key;
    uint8_t *code;            /* RX address of the host code */
    uint32_t code_len;
    uint16_t guest_len;       /* guest bytes covered, all on key.phys's page */
    uint16_t n_insns;         /* translated guest instructions */
    uint64_t hash;            /* XXH3-64 of the guest bytes */
    uint32_t flags;           /* translator-defined */
    bool valid;
    uint8_t n_exits;
    struct tc_exit exits[TC_MAX_EXITS];
    uintptr_t incoming;       /* first chained jump into this block (tagged) */
    struct tc_block *hnext;   /* hash chain */
    struct tc_block *pnext;   /* page list */
    struct tc_insn_map map[]; /* n_insns entries */
};

/* Per-vCPU jump cache: the block last found for an EIP. Cleared by the
 * owner whenever EIP may mean other code (paging changes) and by the
 * cache itself for dropped blocks. */
struct tc_jcache {
    struct tc_block *e[1u << TC_JC_BITS];
};

static inline unsigned tc_jc_index(uint32_t eip)
{
    return (eip ^ (eip >> TC_JC_BITS)) & ((1u << TC_JC_BITS) - 1);
}

/* Per-vCPU indirect-branch cache, probed inline by translated code at
 * RET, indirect JMP and CALL (translator/bt_block.c): guest linear EIP
 * and the translator's mode bits -> host code of the block. Keyed by the
 * linear EIP, unlike blocks, so the owner clears it whenever linear
 * addresses may mean other physical pages (every TLB flush); the cache
 * itself drops entries of dropped blocks. Key 0 is empty (mode bits are
 * never 0 for a block). */
#define TC_IC_BITS 10
struct tc_icache_entry {
    uint64_t key;        /* tc_ic_key(eip, mode) */
    const uint8_t *code; /* tc_block.code */
};
struct tc_icache {
    struct tc_icache_entry e[1u << TC_IC_BITS];
};
_Static_assert(sizeof(struct tc_icache_entry) == 16, "translated code indexes entries << 4");
static inline uint64_t tc_ic_key(uint32_t eip, uint32_t mode) { return (uint64_t)mode << 32 | eip; }
/* The low bits: two instructions in the emitted probe. */
static inline unsigned tc_ic_index(uint32_t eip) { return eip & ((1u << TC_IC_BITS) - 1); }

/* Counters, defined once. */
#define TC_STATS(X)                                                                    \
    X(blocks, "blocks stored")                                                         \
    X(lookups, "hash lookups")                                                         \
    X(lookup_hits, "hash lookup hits")                                                 \
    X(jc_hits, "jump-cache hits")                                                      \
    X(invalidated, "blocks invalidated")                                               \
    X(chains, "jumps chained")                                                         \
    X(unchains, "jumps unchained")                                                     \
    X(flushes, "code-buffer flushes")

struct tc_stats {
#define TC_STAT_FIELD(name, desc) uint64_t name;
    TC_STATS(TC_STAT_FIELD)
#undef TC_STAT_FIELD
};

struct tc_page;

/* Called for a page whose last block was dropped (so the translator can
 * stop write-protecting it), and after a flush with page UINT64_MAX. */
typedef void (*tc_page_fn)(void *opaque, uint64_t page);

struct tcache {
    uint8_t *rw, *rx;           /* the two mappings of the code buffer */
    size_t code_size;
    size_t code_used;
    size_t code_reserved;       /* bytes at the start kept across flushes */
    uint8_t *meta;              /* block records and page records */
    size_t meta_size, meta_used;
    struct tc_block **hash;     /* 1 << hash_bits chains */
    unsigned hash_bits;
    struct tc_page **pages;     /* page hash */
    unsigned page_bits;
    struct tc_block **by_addr;  /* blocks in code-address order, for host pc lookup */
    size_t n_by_addr, max_by_addr;
    struct tc_jcache *jc;       /* the owner's jump cache, or NULL */
    struct tc_icache *ic;       /* the owner's indirect-branch cache, or NULL */
    tc_page_fn page_dropped;
    void *opaque;
    struct tc_stats stats;
};

/* Creates a cache with code_bytes of code buffer (rounded up to pages).
 * -1 with err on a host failure. */
int tc_init(struct tcache *tc, size_t code_bytes, struct mach_err *err);
void tc_destroy(struct tcache *tc);
void tc_set_jcache(struct tcache *tc, struct tc_jcache *jc);
void tc_set_icache(struct tcache *tc, struct tc_icache *ic);
void tc_set_page_hook(struct tcache *tc, tc_page_fn fn, void *opaque);

/* Permanent code at the start of the buffer (trampolines): copies len
 * bytes and keeps them across flushes. Only before any block exists.
 * Returns the RX address or NULL when it does not fit. */
void *tc_reserve_code(struct tcache *tc, const void *bytes, size_t len);

/* ---- building a block -----------------------------------------------------
 * tc_alloc gives a block record for n_insns instructions and room for
 * max_code bytes of code at block->code (write it through tc_rw(block));
 * NULL when the buffer is full (tc_flush, then start again). tc_commit
 * shrinks the code to code_len, hashes the guest bytes and publishes the
 * block (hash table, page list, jump cache). */
struct tc_block *tc_alloc(struct tcache *tc, unsigned n_insns, size_t max_code);
void tc_commit(struct tcache *tc, struct tc_block *b, size_t code_len, const uint8_t *guest_bytes);
/* n bytes (16-byte aligned) of the translator's own data for the block
 * being built, kept until the next flush; NULL when there is no room. */
void *tc_alloc_data(struct tcache *tc, size_t n);
static inline uint8_t *tc_rw(const struct tcache *tc, const uint8_t *rx)
{
    return tc->rw + (rx - tc->rx);
}

/* ---- lookup ---------------------------------------------------------------- */
struct tc_block *tc_lookup(struct tcache *tc, const struct tc_key *key);
/* Jump cache, then hash (filling the jump cache on a hit). */
static inline struct tc_block *tc_lookup_jc(struct tcache *tc, const struct tc_key *key)
{
    struct tc_block *b = tc->jc ? tc->jc->e[tc_jc_index(key->eip)] : NULL;
    if (b && b->key.eip == key->eip && b->key.mode == key->mode && b->key.phys == key->phys) {
        tc->stats.jc_hits++;
        return b;
    }
    return tc_lookup(tc, key);
}
/* The block whose code contains host address pc (RX), or NULL. */
struct tc_block *tc_find_by_pc(const struct tcache *tc, uintptr_t pc);
/* Guest instruction index in b for host pc (the instruction whose code
 * contains pc); -1 when pc is in no instruction's code (exit stubs). */
int tc_insn_at_pc(const struct tc_block *b, uintptr_t pc);
/* Whether b's guest bytes still hash to what was translated. */
bool tc_block_verify(const struct tc_block *b, const uint8_t *guest_bytes);

/* ---- chaining ----------------------------------------------------------------
 * Patches exit `exit` of from to jump into to (same guest page and mode
 * required: false, nothing done, otherwise). */
bool tc_chain(struct tcache *tc, struct tc_block *from, unsigned exit, struct tc_block *to);

/* ---- invalidation -------------------------------------------------------------
 * Drops every block with guest bytes in [paddr, paddr + len): out of the
 * hash, the page list and the jump cache, chained jumps into it unpatched.
 * Returns how many were dropped. */
unsigned tc_invalidate(struct tcache *tc, uint64_t paddr, uint64_t len);
/* Whether any valid block lies on the page holding paddr. */
bool tc_page_has_code(const struct tcache *tc, uint64_t paddr);
/* Drops everything (the reserved code stays). */
void tc_flush(struct tcache *tc);

void tc_print_stats(const struct tcache *tc, FILE *out);

#endif
