/* translator/ internal: what the bt engine shows of itself (--trace
 * in_asm, out_asm, exec; the perf map) and its policy for self-modifying
 * code. Included by bt_internal.h; the state lives in struct bt (obs).
 *
 * Entry prologue: a block that must be entered from the dispatcher only
 * starts with an exit to the dispatcher (BT_OBS_PROLOGUE_LEN bytes: set
 * rt.eip to the block's EIP, leave with BT_EXIT_NEXT). Chained jumps and
 * inline lookups, which enter at tc_block.code, land there and return to
 * the dispatcher; the dispatcher enters at bt_obs_enter(), past it. Two
 * kinds of block have it:
 *   - every block while --trace exec is on, so the trace sees each block
 *     executed even when chaining and inline lookups would skip the
 *     dispatcher (QEMU needs -d exec,nochain for that);
 *   - every block of a page in hash-check mode (bt_smc.c). */
#ifndef POPEK_BT_OBS_H
#define POPEK_BT_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decoder/decoder.h"
#include "machine/machine.h"
#include "tcache/tcache.h"

struct bt;
struct bt_asm;
struct mach_err;
struct tc_block;

/* tc_block.flags bits owned by this part. */
enum {
    BT_BLOCK_PROLOGUE = 1u << 0,  /* starts with the dispatcher-only prologue */
    BT_BLOCK_HASHCHECK = 1u << 1, /* on a hash-check page: verified at entry */
    BT_BLOCK_HANDOFF = 1u << 2,   /* its last instruction goes to the interpreter */
};
/* mov dword [r15 + BT_RT_EIP], imm32 (8); mov r10d, imm32 (6); jmp rel32 (5) */
#define BT_OBS_PROLOGUE_LEN 19

/* ---- self-modifying code (bt_smc.c) ---------------------------------------
 * A page whose blocks are invalidated by guest writes more than
 * BT_SMC_HOT_COUNT times, each within BT_SMC_WINDOW block entries of the
 * previous one, holds code and hot data together. It switches for good to
 * hash-check mode: no longer write-protected, its blocks check the XXH3 of
 * their guest bytes when the dispatcher enters them and are translated
 * again when it differs; a block there ends after every instruction that
 * writes memory, so code written by the block itself is checked before
 * it runs (SDM Vol. 3A 11.6: a store to the instruction stream is seen by
 * the next instruction). */
#define BT_SMC_HOT_COUNT 8
#define BT_SMC_WINDOW 100000
#define BT_SMC_HOT_SLOTS 64     /* pages whose invalidations are counted */
#define BT_SMC_HASH_SLOTS 256   /* pages in hash-check mode, at most */

#define BT_SMC_STATS(X)                                                                \
    X(hash_pages, "SMC pages in hash-check mode")                                      \
    X(hash_checks, "SMC hash checks at block entry")                                   \
    X(hash_misses, "SMC hash-check misses (retranslated)")                             \
    X(hash_faults, "SMC write faults on hash-check pages")

struct bt_smc_stats {
#define BT_SMC_STAT_FIELD(name, desc) uint64_t name;
    BT_SMC_STATS(BT_SMC_STAT_FIELD)
#undef BT_SMC_STAT_FIELD
};

struct bt_smc {
    struct {
        uint64_t page;  /* physical page number + 1; 0: free */
        uint64_t stamp; /* bt stats.entries at the last invalidation */
        uint32_t count;
    } hot[BT_SMC_HOT_SLOTS];
    uint64_t hash_page[BT_SMC_HASH_SLOTS]; /* page number + 1, open addressing */
    struct bt_smc_stats stats;
};

/* Called from the SIGSEGV handler for a guest write to code page `page`
 * (physical address): drops what must be dropped and lets writes through.
 * Returns whether a block on that page that is running must stop before
 * the writing instruction (false on hash-check pages, whose blocks end
 * after each write anyway). Async-signal-safe: no allocation, no stdio. */
bool bt_smc_write_fault(struct bt *bt, uint64_t page);
bool bt_smc_hash_page(const struct bt *bt, uint64_t paddr);
/* Whether a block on a hash-check page must end after instruction d. */
bool bt_smc_split_after(const struct tc_block *b, const struct dec_insn *d);
/* The dispatcher's check of a block about to be entered, guest its guest
 * bytes now: false when it is stale (it was dropped: translate again). */
bool bt_smc_verify(struct bt *bt, const struct tc_block *b, const uint8_t *guest);
static inline bool bt_smc_check(struct bt *bt, const struct tc_block *b, const uint8_t *guest)
{
    return !(b->flags & BT_BLOCK_HASHCHECK) || bt_smc_verify(bt, b, guest);
}

/* ---- hooks of the engine (bt_trace.c) ------------------------------------- */
struct bt_obs {
    struct machine *m;
    unsigned trace;     /* MACH_TRACE_IN_ASM | OUT_ASM | EXEC bits in force */
    size_t cs;          /* Capstone handle (csh) for out_asm */
    bool cs_open;
    FILE *perf;         /* /tmp/perf-PID.map, or NULL */
    char *perf_buf;     /* its stdio buffer */
    /* Interpreter exits as they happen, by ZydisMnemonic (the static
     * counts are bt_stats.handoff_by_mnemonic). */
    uint64_t fallback_exec[ZYDIS_MNEMONIC_MAX_VALUE + 1];
    struct bt_smc smc;
};

int bt_obs_init(struct bt *bt, struct mach_err *err);
/* Flushes and closes the perf map, closes Capstone; idempotent. */
void bt_obs_fini(struct bt *bt);
/* At the start of bt_translate, before any code: emits the prologue when
 * the block needs one; returns the tc_block.flags bits to set. */
uint32_t bt_obs_block_start(struct bt *bt, struct bt_asm *a, uint64_t phys, uint32_t eip);
/* After tc_commit: write-protects the code page (unless it is in
 * hash-check mode), traces in_asm/out_asm, writes the perf map line.
 * guest: the guest bytes translated. */
void bt_obs_block_done(struct bt *bt, const struct tc_block *b, const uint8_t *guest);
/* Where the dispatcher enters b (past its prologue); traces exec. */
void bt_obs_trace_exec(const struct bt_obs *o, const struct tc_block *b);
static inline const uint8_t *bt_obs_enter(const struct bt_obs *o, const struct tc_block *b)
{
    if (o->trace & MACH_TRACE_EXEC)
        bt_obs_trace_exec(o, b);
    return b->code + (b->flags & BT_BLOCK_PROLOGUE ? BT_OBS_PROLOGUE_LEN : 0);
}
/* Counts an interpreter exit (the r10d value of the exit) by mnemonic. */
void bt_obs_fallback(struct bt *bt, uint64_t reason);
void bt_obs_print_stats(const struct bt *bt, FILE *out);

/* ---- formatting, for the hooks and the unit tests --------------------------
 * Each writes whole lines (no newline) through emit. */
typedef void (*bt_line_fn)(void *opaque, const char *line);
/* in_asm: the guest instructions of b, decoded from guest. */
void bt_trace_format_in(const struct dec_ctx *dec, const struct tc_block *b,
                        const uint8_t *guest, bt_line_fn emit, void *opaque);
/* out_asm: the host code of b, with a mark where each guest instruction's
 * code starts (side table). cs: an open Capstone handle (x86-64). */
void bt_trace_format_out(size_t cs, const struct tc_block *b, bt_line_fn emit, void *opaque);
/* One perf map line, "START SIZE popek-guest-0xEIP" (perf's
 * tools/perf/Documentation/jit-interface.txt: hex without 0x). Returns
 * the length written (as snprintf). */
int bt_perfmap_format(char *buf, size_t cap, const void *start, size_t size, uint32_t eip);
/* Opens /tmp/perf-PID.map for appending when POPEK_PERF_MAP=1 (path:
 * where, or NULL for the default); records the reserved trampolines. */
int bt_perfmap_open(struct bt_obs *o, const char *path, const void *tramp, size_t tramp_len,
                    struct mach_err *err);
void bt_perfmap_block(struct bt_obs *o, const struct tc_block *b);
void bt_perfmap_close(struct bt_obs *o);

#endif
