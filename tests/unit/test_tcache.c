/* tcache/: code buffer (W^X views), lookup, jump cache, side table,
 * chaining with unpatching on invalidation, flush. Blocks here hold real
 * x86-64 code that the tests run, so a wrong patch shows as a wrong
 * return value. */
#include <criterion/criterion.h>
#include <string.h>

#include "tcache/tcache.h"

static struct tcache tc;
static struct tc_jcache jc;
static uint64_t dropped_pages[8];
static unsigned n_dropped;

static void on_drop(void *opaque, uint64_t page)
{
    (void)opaque;
    if (n_dropped < 8)
        dropped_pages[n_dropped] = page;
    n_dropped++;
}

static void setup(void)
{
    struct mach_err err;
    cr_assert_eq(tc_init(&tc, 1u << 20, &err), 0, "%s", err.msg);
    memset(&jc, 0, sizeof jc);
    tc_set_jcache(&tc, &jc);
    n_dropped = 0;
    tc_set_page_hook(&tc, on_drop, NULL);
}

static void teardown(void) { tc_destroy(&tc); }

static const uint8_t guest[64] = {0x90, 0x90, 0x40, 0xC3};

/* mov eax, imm32; jmp rel32 (exit 0, unchained: to the ret after it);
 * ret. exit 0's stub is the ret. */
static struct tc_block *make_block(uint64_t phys, uint32_t eip, uint32_t value, uint32_t target)
{
    struct tc_block *b = tc_alloc(&tc, 2, 64);
    cr_assert_not_null(b);
    uint8_t code[11] = {0xB8, 0, 0, 0, 0, 0xE9, 0, 0, 0, 0, 0xC3};
    memcpy(code + 1, &value, 4);
    memcpy(tc_rw(&tc, b->code), code, sizeof code);
    b->key = (struct tc_key){.phys = phys, .eip = eip, .mode = 1};
    b->guest_len = 4;
    b->map[0] = (struct tc_insn_map){.host_off = 0, .guest_off = 0};
    b->map[1] = (struct tc_insn_map){.host_off = 5, .guest_off = 2};
    b->n_exits = 1;
    b->exits[0] = (struct tc_exit){.patch_off = 6, .stub_off = 10, .target_eip = target};
    tc_commit(&tc, b, sizeof code, guest);
    return b;
}

static uint32_t run(const struct tc_block *b)
{
    return ((uint32_t(*)(void))(uintptr_t)b->code)();
}

TestSuite(tcache, .init = setup, .fini = teardown);

Test(tcache, views_are_write_xor_execute)
{
    cr_assert_neq(tc.rw, tc.rx);
    struct tc_block *b = make_block(0x1000, 0x1000, 42, 0x1100);
    cr_assert_eq(run(b), 42u);
    cr_assert_eq(tc_rw(&tc, b->code)[0], 0xB8);
}

Test(tcache, lookup_by_key_and_jump_cache)
{
    struct tc_block *b = make_block(0x5000, 0x8000, 1, 0);
    struct tc_key k = {.phys = 0x5000, .eip = 0x8000, .mode = 1};
    cr_assert_eq(tc_lookup_jc(&tc, &k), b);
    cr_assert_eq(tc.stats.jc_hits, 1);
    k.mode = 2;
    cr_assert_null(tc_lookup_jc(&tc, &k));
    k.mode = 1;
    k.phys = 0x6000; /* same EIP, another page mapping: another block */
    cr_assert_null(tc_lookup_jc(&tc, &k));
}

Test(tcache, host_pc_maps_to_guest_instruction)
{
    struct tc_block *a = make_block(0x1000, 0x1000, 1, 0);
    struct tc_block *b = make_block(0x2000, 0x2000, 2, 0);
    cr_assert_eq(tc_find_by_pc(&tc, (uintptr_t)b->code + 3), b);
    cr_assert_eq(tc_find_by_pc(&tc, (uintptr_t)a->code), a);
    cr_assert_null(tc_find_by_pc(&tc, (uintptr_t)b->code + b->code_len));
    cr_assert_eq(tc_insn_at_pc(a, (uintptr_t)a->code + 4), 0);
    cr_assert_eq(tc_insn_at_pc(a, (uintptr_t)a->code + 7), 1);
}

Test(tcache, hash_checks_guest_bytes)
{
    struct tc_block *b = make_block(0x1000, 0x1000, 1, 0);
    uint8_t copy[64];
    memcpy(copy, guest, sizeof copy);
    cr_assert(tc_block_verify(b, copy));
    copy[2] ^= 1;
    cr_assert_not(tc_block_verify(b, copy));
}

Test(tcache, chain_same_page_only_and_unpatch_on_invalidate)
{
    struct tc_block *from = make_block(0x3000, 0x3000, 7, 0x3100);
    struct tc_block *to = make_block(0x3100, 0x3100, 9, 0);
    struct tc_block *far = make_block(0x4000, 0x4000, 11, 0);
    /* mov eax, 9 then ret: the chained jump lands there and returns 9. */
    cr_assert(tc_chain(&tc, from, 0, to));
    cr_assert_eq(run(from), 9u);
    cr_assert_not(tc_chain(&tc, to, 0, far), "other page");
    cr_assert_eq(tc_invalidate(&tc, 0x3100, 1), 1u);
    cr_assert_eq(run(from), 7u, "jump back to its stub");
    cr_assert_null(from->exits[0].to);
    cr_assert_eq(tc.stats.unchains, 1);
    struct tc_key k = {.phys = 0x3100, .eip = 0x3100, .mode = 1};
    cr_assert_null(tc_lookup_jc(&tc, &k));
    cr_assert_eq(n_dropped, 0u, "the page still holds a block");
    cr_assert_eq(tc_invalidate(&tc, 0x3000, 0x1000), 1u);
    cr_assert_eq(n_dropped, 1u);
    cr_assert_eq(dropped_pages[0], 0x3000u);
    cr_assert_not(tc_page_has_code(&tc, 0x3000));
    cr_assert(tc_page_has_code(&tc, 0x4000));
}

Test(tcache, invalidating_the_source_unlinks_it_from_the_target)
{
    struct tc_block *from = make_block(0x3000, 0x3000, 7, 0x3100);
    struct tc_block *to = make_block(0x3100, 0x3100, 9, 0);
    cr_assert(tc_chain(&tc, from, 0, to));
    cr_assert_eq(tc_invalidate(&tc, 0x3000, 2), 1u);
    cr_assert_eq(to->incoming, 0u);
    cr_assert(to->valid);
}

Test(tcache, range_invalidation_is_precise)
{
    make_block(0x7000, 0x7000, 1, 0);  /* bytes 0x7000-0x7003 */
    make_block(0x7010, 0x7010, 2, 0);  /* bytes 0x7010-0x7013 */
    cr_assert_eq(tc_invalidate(&tc, 0x7004, 12), 0u);
    cr_assert_eq(tc_invalidate(&tc, 0x7003, 14), 2u);
}

Test(tcache, full_buffer_fails_then_flush_keeps_reserved_code)
{
    uint8_t ret = 0xC3;
    void *tramp = tc_reserve_code(&tc, &ret, 1);
    cr_assert_not_null(tramp);
    unsigned n = 0;
    for (;;) {
        struct tc_block *b = tc_alloc(&tc, 2, 64);
        if (!b)
            break;
        b->key = (struct tc_key){.phys = n * 16, .eip = n * 16, .mode = 1};
        b->guest_len = 1;
        tc_commit(&tc, b, 64, guest);
        n++;
    }
    cr_assert_gt(n, 1000u);
    tc_flush(&tc);
    cr_assert_eq(tc.stats.flushes, 1);
    cr_assert_null(tc_find_by_pc(&tc, (uintptr_t)tc.rx + 100));
    make_block(0x1000, 0x1000, 3, 0);
    cr_assert_eq(((uint8_t *)tramp)[0], 0xC3);
    cr_assert_null(tc_reserve_code(&tc, &ret, 1), "only before blocks");
}

/* Exit indexes above 1 share the tagged incoming list (TC_EXIT_TAG):
 * several blocks chained into one, by different exits, all unpatch. */
Test(tcache, chains_from_high_exit_indexes_unpatch)
{
    struct tc_block *to = make_block(0x3100, 0x3100, 9, 0);
    struct tc_block *a = make_block(0x3000, 0x3000, 7, 0x3100);
    struct tc_block *b = make_block(0x3200, 0x3200, 8, 0x3100);
    /* Move b's only exit to index 5 (same code, same patch site). */
    b->exits[5] = b->exits[0];
    b->exits[0] = (struct tc_exit){.target_eip = 0xFFFFFFFF};
    b->n_exits = 6;
    cr_assert(tc_chain(&tc, a, 0, to));
    cr_assert(tc_chain(&tc, b, 5, to));
    cr_assert_eq(run(a), 9u);
    cr_assert_eq(run(b), 9u);
    cr_assert_eq(tc_invalidate(&tc, 0x3100, 1), 1u);
    cr_assert_eq(run(a), 7u);
    cr_assert_eq(run(b), 8u);
    cr_assert_null(b->exits[5].to);
    cr_assert_eq(tc.stats.unchains, 2);
}

/* The indirect cache: entries of dropped blocks go, a flush empties it,
 * other entries stay. */
Test(tcache, icache_follows_invalidation_and_flush)
{
    static struct tc_icache ic;
    memset(&ic, 0, sizeof ic);
    tc_set_icache(&tc, &ic);
    struct tc_block *x = make_block(0x3000, 0x3000, 1, 0);
    struct tc_block *y = make_block(0x5000, 0x5004, 2, 0);
    ic.e[tc_ic_index(x->key.eip)] = (struct tc_icache_entry){tc_ic_key(x->key.eip, 1), x->code};
    ic.e[tc_ic_index(y->key.eip)] = (struct tc_icache_entry){tc_ic_key(y->key.eip, 1), y->code};
    cr_assert_neq(tc_ic_index(x->key.eip), tc_ic_index(y->key.eip));
    cr_assert_eq(tc_invalidate(&tc, 0x3000, 1), 1u);
    cr_assert_eq(ic.e[tc_ic_index(x->key.eip)].key, 0u);
    cr_assert_null(ic.e[tc_ic_index(x->key.eip)].code);
    cr_assert_eq(ic.e[tc_ic_index(y->key.eip)].code, y->code);
    tc_flush(&tc);
    cr_assert_eq(ic.e[tc_ic_index(y->key.eip)].key, 0u);
}

/* Block data lives until the flush and never takes the room a block
 * needs. */
Test(tcache, block_data_is_aligned_and_bounded)
{
    void *p = tc_alloc_data(&tc, 40);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p & 15, 0u);
    cr_assert_null(tc_alloc_data(&tc, tc.meta_size));
}
