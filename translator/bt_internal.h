/* translator/ internal: the bt engine's state, the run-time block that
 * translated code reaches through r15, and the module's entry points.
 *
 * Register contract while translated code runs (docs/bt-status.md):
 *   guest EAX ECX EDX EBX EBP ESI EDI -> host eax ecx edx ebx ebp esi edi
 *   guest ESP -> r8d; r15 -> struct bt_rt; r9, r10, r11, r12 scratch;
 *   r14 the budget, r13 the inline-lookup hits (struct bt_rt)
 *   guest CF PF AF ZF SF OF DF -> host RFLAGS
 *   GS base -> the shadow window of the current CPL
 * Every host instruction that can fault belongs to exactly one guest
 * instruction, and the guest state in the host registers is the state
 * before that instruction until its last faulting host instruction has
 * run (stack stores come before the ESP update). */
#ifndef POPEK_BT_INTERNAL_H
#define POPEK_BT_INTERNAL_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "decoder/decoder.h"
#include "softmmu/softmmu.h"
#include "tcache/tcache.h"
#include "translator/bt_obs.h"
#include "translator/bt_x87.h"
#include "translator/translator.h"
#include "vmm_helpers/vmm_helpers.h"

/* What translated code reads and writes through r15. */
struct bt_rt {
    uint32_t gpr[8];    /* enum hlp_gpr order */
    uint32_t eip;       /* next guest EIP at an exit */
    /* While a translated string instruction runs on host addresses:
     * which of ESI/EDI (BT_STR_*) hold window + guest value, and whether
     * ECX lacks str_rest (BT_STR_ECX), for a fault there. */
    uint32_t str_biased;
    /* Guest instructions translated code may still run before it must
     * return to the dispatcher (mach_poll, interrupts, exit requests);
     * in r14 while it runs. Every block subtracts its instruction count
     * at entry and leaves once the value is negative. */
    int64_t budget;
    uint64_t last_exit; /* BT_EXIT_CHAIN: tc_block | exit; BT_EXIT_LOOKUP: ic key */
    uint64_t ic_hits;   /* inline indirect lookups that found their block (r13) */
    struct tc_icache ic;
    uint64_t gs_base;   /* the shadow window in use (GS base) */
    uint64_t rflags;    /* host RFLAGS image around a helper call */
    /* The return-address stack (bt_ras.c): translated code runs on its
     * own host stack, where a guest CALL's host CALL leaves the address
     * of the code that checks the return; host_rsp is the dispatcher's
     * stack (helpers and exits go back to it), ras_top the slot of the
     * sentinel below which the stack starts at every entry. */
    uint64_t host_rsp;
    uint64_t ras_top;
    /* Bits 32-63 of every inline-cache key: the entered block's mode
     * << 32 | the TLB epoch << BT_IC_EPOCH_SHIFT (bt_engine.c,
     * hook_mmu_flushed). */
    uint64_t mode_key;
    /* Guest EFLAGS but CF PF AF ZF SF OF DF (host RFLAGS) and IF (vif),
     * for inline CLI/STI/PUSHF/POPF (bt_emit_flags.c). intr_pending: an
     * interrupt is requested (only the dispatcher and helper calls change
     * that). STI leaves sti_next (its next EIP) and sti_if_was (IF before
     * it): an exit at sti_next with IF set there from 0 is inside STI's
     * interrupt shadow. */
    uint32_t eflags_sys;
    uint8_t vif;
    uint8_t intr_pending;
    uint8_t sti_if_was;
    uint8_t pad_;
    uint32_t sti_next;
    /* Bases of the data segments (enum hlp_sreg order), current while
     * translated code runs: a block whose key marks a segment based
     * (BT_MODE_BASED_SHIFT) adds it at run time (bt_emit_seg.c). */
    uint32_t seg_base[6];
    /* A translated REP CMPS/SCAS/LODS runs at most a chunk of its count
     * per host REP (bt_emit_str.c): with BT_STR_ECX in str_biased, the
     * guest's ECX is the host's plus str_rest. */
    uint32_t str_rest;
};
enum { BT_RT_SEG_BASE = offsetof(struct bt_rt, seg_base),
       BT_RT_STR_REST = offsetof(struct bt_rt, str_rest) };
enum { BT_STR_EDI = 1, BT_STR_ESI = 2, BT_STR_ECX = 4 };
enum { BT_RT_GPR = 0, BT_RT_EIP = 32, BT_RT_STR_BIASED = 36, BT_RT_BUDGET = 40,
       BT_RT_LAST_EXIT = 48, BT_RT_IC_HITS = 56, BT_RT_IC = 64,
       BT_RT_GS_BASE = BT_RT_IC + (int)sizeof(struct tc_icache),
       BT_RT_RFLAGS = BT_RT_GS_BASE + 8, BT_RT_HOST_RSP = BT_RT_RFLAGS + 8,
       BT_RT_RAS_TOP = BT_RT_HOST_RSP + 8, BT_RT_MODE_KEY = BT_RT_RAS_TOP + 8,
       BT_RT_EFLAGS_SYS = BT_RT_MODE_KEY + 8, BT_RT_VIF = BT_RT_EFLAGS_SYS + 4,
       BT_RT_INTR_PENDING = BT_RT_VIF + 1, BT_RT_STI_IF_WAS = BT_RT_VIF + 2,
       BT_RT_STI_NEXT = BT_RT_EFLAGS_SYS + 8 };
_Static_assert(offsetof(struct bt_rt, gpr) == BT_RT_GPR && offsetof(struct bt_rt, eip) == BT_RT_EIP &&
                   offsetof(struct bt_rt, budget) == BT_RT_BUDGET &&
                   offsetof(struct bt_rt, last_exit) == BT_RT_LAST_EXIT &&
                   offsetof(struct bt_rt, ic_hits) == BT_RT_IC_HITS &&
                   offsetof(struct bt_rt, ic) == BT_RT_IC &&
                   offsetof(struct bt_rt, str_biased) == BT_RT_STR_BIASED &&
                   offsetof(struct bt_rt, gs_base) == BT_RT_GS_BASE &&
                   offsetof(struct bt_rt, rflags) == BT_RT_RFLAGS &&
                   offsetof(struct bt_rt, host_rsp) == BT_RT_HOST_RSP &&
                   offsetof(struct bt_rt, ras_top) == BT_RT_RAS_TOP &&
                   offsetof(struct bt_rt, mode_key) == BT_RT_MODE_KEY &&
                   offsetof(struct bt_rt, eflags_sys) == BT_RT_EFLAGS_SYS &&
                   offsetof(struct bt_rt, vif) == BT_RT_VIF &&
                   offsetof(struct bt_rt, intr_pending) == BT_RT_INTR_PENDING &&
                   offsetof(struct bt_rt, sti_if_was) == BT_RT_STI_IF_WAS &&
                   offsetof(struct bt_rt, sti_next) == BT_RT_STI_NEXT,
               "offsets the emitted code uses");

/* Why translated code returned to the dispatcher (host r10d at the exit):
 * low byte the reason, bits 8-23 the ZydisMnemonic of the instruction
 * handed to the interpreter. */
enum bt_exit_reason {
    BT_EXIT_NEXT = 0,   /* continue at rt.eip (a branch, an indirect target) */
    BT_EXIT_INTERP = 1, /* the instruction at rt.eip runs on the interpreter */
    BT_EXIT_FAULT = 2,  /* a host fault at rt.eip: the interpreter redoes it */
    BT_EXIT_SMC = 3,    /* the block wrote its own page: redo that write */
    BT_EXIT_CHAIN = 4,  /* a direct exit not chained yet (rt.last_exit) */
    BT_EXIT_LOOKUP = 5, /* an inline indirect lookup missed (rt.eip, rt.last_exit) */
    BT_EXIT_BUDGET = 6, /* the budget ran out before rt.eip */
    BT_EXIT_BUDGET_FLAGS = 7, /* same, flags garbage: the interpreter runs
                                 rt.eip first, which writes them all */
};
/* How the instruction an interpreter exit hands over is counted. */
enum bt_handoff {
    BT_HANDOFF_SYSTEM = 0, /* sensitive or privileged: the helper semantics */
    BT_HANDOFF_UNTRANSLATED = 1, /* innocuous, but not rewritten (yet) */
};

/* Counters for --stats, defined once (chaining counts are the tcache's;
 * inline indirect lookups add theirs here when they exist). */
#define BT_STATS(X)                                                                    \
    X(blocks, "blocks translated")                                                     \
    X(insns, "guest instructions translated")                                          \
    X(entries, "entries into translated code")                                         \
    X(exits_next, "exits to the dispatcher: branches not chained")                     \
    X(exits_chain, "exits to the dispatcher: direct, to chain")                        \
    X(exits_budget, "exits to the dispatcher: budget (poll, interrupts)")              \
    X(ic_misses, "inline indirect lookups: misses")                                    \
    X(insns_translated_run, "guest instructions run in translated code")               \
    X(insns_single, "instructions stepped by the interpreter at exits")               \
    X(helper_system, "helper calls: system instructions")                              \
    X(helper_calls, "helper calls from translated code")                               \
    X(helper_leaves, "helper calls that left translated code")                         \
    X(helper_untranslated, "interpreter fallbacks: untranslated instructions")         \
    X(interp_runs, "interpreter runs (real mode, V86, 16-bit, TF)")                    \
    X(interp_insns, "instructions in interpreter runs")                                \
    X(shadow_faults, "shadow faults")                                                  \
    X(shadow_retries, "shadow faults resolved by mapping")                             \
    X(fault_redos, "faulting instructions redone by the interpreter")                  \
    X(fpe_faults, "divide faults (SIGFPE)")                                            \
    X(x87_loads, "x87 state loads into the host FPU (FXRSTOR)")                        \
    X(x87_syncs, "x87 state write-backs to cpu->fx (FXSAVE)")                          \
    X(smc_invalidations, "SMC invalidations")                                          \
    X(code_written, "code-write invalidations (helpers, devices)")                     \
    X(code_flushes, "code-buffer flushes")                                             \
    X(interrupts, "external interrupts delivered")                                     \
    X(hlt_waits, "HLT waits")                                                          \
    X(polls, "device polls")                                                          \
    X(ras_resets, "return-address stack overflows (restarted)")

struct bt_stats {
#define BT_STAT_FIELD(name, desc) uint64_t name;
    BT_STATS(BT_STAT_FIELD)
#undef BT_STAT_FIELD
    /* Static counts by ZydisMnemonic: instructions a block hands over. */
    uint32_t handoff_by_mnemonic[ZYDIS_MNEMONIC_MAX_VALUE + 1];
};

typedef struct bt_ret {
    uint64_t rflags;
    uint64_t reason;
} (*bt_enter_fn)(struct bt_rt *rt, const void *code, uint64_t rflags);

/* The return-address stack's memory and the signal stack (bt_ras.c). */
struct bt_ras {
    uint8_t *map; /* guard page, then the stack */
    size_t len;
    void *altstack;
    stack_t old_altstack;
};

/* A guest page fault taken in translated code, until its instruction is
 * entered again (bt_engine.c maps the page then if the guest fixed it). */
struct bt_pf {
    bool pending;
    unsigned cpl;
    uint32_t eip, lin;
};

struct bt {
    struct bt_rt rt;
    struct machine *m;
    struct hlp_interp *interp;
    struct hlp_cpu *cpu;
    struct mmu_shadow shadow;
    bool shadow_ready;
    struct tcache tc;
    struct tc_jcache jc;
    bt_enter_fn enter;
    const uint8_t *exit_next; /* exit entry points in the code buffer */
    const uint8_t *exit_common; /* reason already in r10d */
    const uint8_t *exit_chain;  /* r10 = tc_block | exit index */
    const uint8_t *ind_miss;    /* r9d = target EIP, r10 = the probe's key */
    const uint8_t *helper;      /* call: rt.eip = insn, r10 = struct bt_helper_site */
    int64_t helper_charge;      /* budget a helper call took (not translated code) */
    uint64_t gs_base;         /* current host GS base */
    bool have_wrgsbase;
    const struct tc_block *running; /* block entered last (for SMC) */
    struct tc_block *chain_from; /* BT_EXIT_CHAIN: the exit to patch (tagged) */
    uint64_t ic_fill;         /* BT_EXIT_LOOKUP: the key of the missed probe */
    uint64_t interp_decoded;  /* hlp_interp_blocks_decoded at last look */
    uint64_t tlb_flushes;     /* mmu flushed hook calls (helper calls leave) */
    uint8_t ic_epoch;         /* TLB flushes mod 256: the top byte of inline-cache keys */
    int64_t poll_budget;
    jmp_buf jb;
    struct bt_stats stats;
    struct bt_obs obs;        /* tracing, perf map, SMC policy (bt_obs.h) */
    struct bt_ras ras;
    struct bt_pf pf;
    struct bt_x87 x87;        /* x87 in translated code (bt_x87.h) */
};

/* Mode bits of a block key (tc_key.mode). */
enum {
    BT_MODE_CPL_SHIFT = 0,    /* 2 bits */
    BT_MODE_PAGING = 1u << 2,
    BT_MODE_FLAT_SHIFT = 3,   /* one bit per enum hlp_sreg: a flat data segment */
    BT_MODE_VALID = 1u << 9,
    /* One bit per enum hlp_sreg: a data segment like a flat one but for
     * a non-zero base (expand-up, 4 GiB limit, writable); its base is
     * read from rt.seg_base at run time (bt_emit_seg.c). */
    BT_MODE_BASED_SHIFT = 16,
    BT_MODE_X87 = 1u << 10,   /* x87 instructions run natively (bt_x87.h) */
};
/* Mode bits stay below bit 24: inline-cache keys hold the mode in bits
 * 32-55 and the TLB epoch in 56-63. */
#define BT_MODE_MASK 0xFFFFFFu
#define BT_IC_EPOCH_SHIFT 56
_Static_assert(BT_MODE_VALID <= BT_MODE_MASK && BT_MODE_X87 <= BT_MODE_MASK &&
                   (0x3Fu << BT_MODE_BASED_SHIFT) <= BT_MODE_MASK,
               "mode bits in an inline-cache key");

/* bt_block.c: translates the block at rt.eip (linear lin, physical phys);
 * NULL when the buffer is full (flush and retry). */
struct tc_block *bt_translate(struct bt *bt, uint32_t mode, uint64_t phys,
                              const uint8_t *host, uint32_t avail);

/* bt_emit.c: the code of one guest instruction. */
struct bt_asm {
    uint8_t *p;     /* write position (RW view) */
    uint8_t *start; /* first byte of the block (RW view) */
    uint8_t *end;
    const uint8_t *rx_start;    /* start's address in the RX view */
    const uint8_t *exit_next;   /* trampoline entry points (RX) */
    const uint8_t *exit_common;
    const uint8_t *exit_chain;
    const uint8_t *ind_miss;
    const uint8_t *helper;
    const struct tc_block *block; /* the block being built (its exits name it) */
    uint32_t block_eip;           /* its first guest instruction */
    uint32_t mode;                /* its key's mode bits */
    struct bt_x87_pending x87;    /* the x87 group being translated (bt_x87.h) */
};
enum bt_emit_result {
    BT_EMIT_OK,       /* translated, the block goes on */
    BT_EMIT_ENDS,     /* translated, and it ended the block with its exits */
    BT_EMIT_FALLBACK, /* not translated: hand it to the interpreter */
};
/* Direct exits of a block, appended by bt_emit_insn (side exits of Jcc
 * in the middle, then those of the last instruction) and by the block
 * builder: exit i continues at target[i]; fixup[i] is the block offset
 * of a rel32 that must reach exit i's stub, 0 when the code falls into
 * it (one exit at most). */
struct bt_exits {
    unsigned n;
    uint32_t target[TC_MAX_EXITS];
    uint32_t fixup[TC_MAX_EXITS];
};
enum bt_emit_result bt_emit_insn(struct bt_asm *a, const struct dec_insn *d,
                                 const ZydisDecodedInstruction *zi,
                                 const ZydisDecodedOperand *zops, uint32_t eip, uint32_t mode,
                                 struct bt_exits *ex);
/* bt_emit_str.c: MOVS CMPS STOS LODS SCAS, with and without REP. */
enum bt_emit_result bt_emit_string(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                   uint32_t mode);
/* bt_emit_flags.c: CLI, STI, PUSHFD, POPFD inline on the guest flags
 * in rt, where the block's CPL allows; BT_EMIT_FALLBACK otherwise. */
enum bt_emit_result bt_emit_flags(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                  uint32_t mode);
bool bt_flags_inline(const struct dec_insn *d, uint32_t mode);
/* bt_emit_stack.c: PUSHAD, POPAD, ENTER n, 0 and XLAT. */
enum bt_emit_result bt_emit_stack_forms(struct bt_asm *a, const struct dec_insn *d,
                                        uint32_t mode);
/* bt_x87.c: x87 instructions on the host FPU in BT_MODE_X87 blocks. */
enum bt_emit_result bt_x87_emit(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                uint32_t mode);
/* Places the exit stubs of ex (and records them in b) at a->p. Each stub
 * starts with the jump tc_chain patches. */
void bt_emit_stubs(struct bt_asm *a, const struct bt_exits *ex, struct tc_block *b);
/* An exit that hands the instruction at eip to the interpreter; reason
 * is the whole r10d value (enum bt_exit_reason and the mnemonic). */
void bt_emit_handoff(struct bt_asm *a, uint32_t eip, uint32_t reason);
/* Room one instruction's code may need at most. */
#define BT_MAX_INSN_CODE 192
/* The budget check (bt_emit.c): one per block, so every cycle of
 * chained blocks and inline lookups passes one. Placed before the first
 * instruction that makes the flags dead (FAST; FAST_CF before INC/DEC,
 * which keep CF) when the block has one,
 * else at entry (ENTRY), or, when the block ends before that
 * instruction, before its last one (LAST). before: the block's
 * instructions ahead of the check. bt_emit_budget_exit places where an
 * expired check leaves, once the block's instruction count n is known. */
enum bt_budget_kind { BT_BUDGET_FAST, BT_BUDGET_FAST_CF, BT_BUDGET_ENTRY, BT_BUDGET_LAST };
struct bt_budget {
    bool placed;
    enum bt_budget_kind kind;
    size_t n_at, jump_at, exit_at; /* count, jump displacement, ENTRY's exit */
    unsigned before;
    uint32_t eip;
};
void bt_emit_budget_check(struct bt_asm *a, struct bt_budget *bc, enum bt_budget_kind kind,
                          uint32_t eip, unsigned before);
void bt_emit_budget_exit(struct bt_asm *a, const struct bt_budget *bc, unsigned n);
/* The entry and exit trampolines (into the reserved code): offsets. */
struct bt_tramps {
    size_t exit_chain, exit_next, exit_common, ind_miss, helper, ras_sentinel;
};
/* helper_fn: called by the helper trampoline with the struct bt_rt (the
 * first member of struct bt), rt.last_exit = the call site's r10; returns non-zero to go on in translated
 * code, 0 to leave for the dispatcher at rt.eip. */
typedef uint64_t (*bt_helper_fn)(struct bt_rt *rt);
size_t bt_emit_trampolines(uint8_t *buf, size_t cap, bt_helper_fn helper_fn,
                           struct bt_tramps *out);
/* What a helper call site passes (rt.last_exit points at it): the
 * instruction, decoded at translation, and the block's mode bits. Lives
 * in the tcache's block data (tc_alloc_data). */
struct bt_helper_site {
    struct dec_insn d;
    uint32_t mode;
};
/* A call of the helper trampoline for the instruction at eip
 * (bt_engine.c, helper_call). */
void bt_emit_helper_call(struct bt_asm *a, uint32_t eip, const struct bt_helper_site *site);
/* Whether an instruction the emitter hands over can be a helper call
 * that lets the block go on (bt_block.c): it falls through, with no
 * control transfer and not HLT, which waits in the dispatcher. */
bool bt_helper_call_fits(const struct dec_insn *d);

/* bt_ras.c: the return-address stack (rt.ras_top, the sentinel's
 * slot), whether a fault at addr was a push onto its guard (then the
 * stack restarts and the push is retried), the alternate signal stack. */
int bt_ras_init(struct bt *bt, const uint8_t *sentinel, struct mach_err *err);
void bt_ras_fini(struct bt *bt);
bool bt_ras_guard_fault(struct bt *bt, const void *addr, ucontext_t *uc);
int bt_altstack_install(struct bt *bt, struct mach_err *err);
void bt_altstack_remove(struct bt *bt);

/* bt_emit_seg.c: the BT_MODE_BASED_SHIFT bits of the CPU's data
 * segments, and the bases translated code reads (rt.seg_base), copied
 * from the CPU whenever translated code is entered or goes on after a
 * helper call (a segment load keeps the mode bits but not the base). */
uint32_t bt_seg_based_bits(const struct hlp_cpu *cpu);
void bt_seg_sync(struct bt_rt *rt, const struct hlp_cpu *cpu);

/* bt_signal.c */
int bt_signals_install(struct bt *bt, struct mach_err *err);
void bt_signals_remove(void);

#endif
