/* vmm_helpers/ internal: the interpreter's state, its pre-decoded
 * instruction form and the inline fast paths of segmented memory access.
 * Included by interp*.c and hlp_mem.c only.
 *
 * Execution model. Decoded instructions are cached per guest physical
 * address in blocks (straight-line runs ending at an unconditional control
 * transfer, a system instruction or the end of a page; a taken conditional
 * branch leaves its block early). Each instruction becomes a
 * struct iop whose handler is chosen once, at decode time, for its exact
 * form (ADD r32,imm; MOV r/m8,r8; ...), so the hot path never looks at the
 * decoder's record again. A handler runs with cpu->eip at the instruction's
 * first byte, raises faults before it commits anything (hlp_cpu.h) and
 * advances or sets cpu->eip as its last act. Flags are kept eagerly in
 * cpu->eflags, so the system half and exception delivery read them
 * directly. */
#ifndef POPEK_INTERP_INTERNAL_H
#define POPEK_INTERP_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm_helpers/vmm_helpers.h"

#define IX_LIKELY(x) __builtin_expect(!!(x), 1)
#define IX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define IX_INLINE static inline __attribute__((always_inline))

struct interp;
struct iop;
typedef void (*iop_fn)(struct interp *ix, const struct iop *i);

/* Operand kinds of an iop (k0: destination or first operand, k1: source). */
enum { IK_NONE, IK_REG, IK_MEM, IK_IMM };

/* One pre-decoded instruction. Register operands of byte size hold the
 * byte index into cpu->gpr (AL=0, AH=1, CL=4, ...: num * 4 + high); other
 * sizes hold the register number. */
struct iop {
    iop_fn fn;
    const struct dec_insn *d; /* the decoder's record: system, trace, rare forms */
    uint32_t disp;            /* memory operand displacement */
    uint32_t amask;           /* 0xFFFF or 0xFFFFFFFF: effective-address size */
    uint32_t imm;             /* immediate; relative branches: len + rel */
    uint32_t imm2;            /* second immediate (ENTER level, shift count source) */
    uint32_t omask;           /* operand-size mask; branches: the EIP mask */
    uint8_t len;
    uint8_t size;             /* operand size in bytes: 1, 2, 4 */
    uint8_t k0, k1;           /* IK_* */
    uint8_t r0, r1;           /* register operands */
    uint8_t seg;              /* memory operand's segment */
    uint8_t base, index;      /* GPR numbers, 8 = none */
    uint8_t scale;            /* shift count 0-3 */
    uint8_t sub;              /* handler-specific: ALU op, condition, ... */
    uint8_t flags;            /* handler-specific */
};

/* A block: iops covering [phys, phys + nbytes) of one physical page, run
 * in order until one sets ix->abort. */
struct iblock {
    uint64_t phys;
    struct iblock *hnext;   /* hash chain */
    struct iblock *pnext;   /* the page's list */
    uint16_t nbytes;
    uint16_t n;
    uint8_t code32;
    struct iop ops[];
};

/* Per-segment access window for the interpreter's fast path, computed
 * from cpu->seg by ix_refresh: an access of len bytes at off is allowed
 * when lo <= off and off + len - 1 <= hi. An empty window has lo > hi. */
struct ix_seg {
    uint32_t base;
    uint32_t rlo, rhi;
    uint32_t wlo, whi;
};

/* Counters for --stats, defined once. */
#define INTERP_STATS(X)                                                                \
    X(insns, "instructions executed")                                                  \
    X(blocks, "blocks executed")                                                       \
    X(cache_hits, "decode-cache hits")                                                 \
    X(cache_misses, "decode-cache misses (blocks decoded)")                            \
    X(decoded, "instructions decoded")                                                 \
    X(invalidations, "blocks invalidated by code writes")                              \
    X(jc_hits, "jump-cache hits")                                                      \
    X(cache_flushes, "decode-cache flushes")                                           \
    X(cross_page, "page-crossing instructions")                                        \
    X(system_insns, "system instructions")                                             \
    X(interrupts, "external interrupts delivered")                                     \
    X(exceptions, "exceptions raised")                                                 \
    X(hlts, "HLT waits")                                                               \
    X(polls, "device polls")

struct interp_stats {
#define INTERP_STAT_FIELD(name, desc) uint64_t name;
    INTERP_STATS(INTERP_STAT_FIELD)
#undef INTERP_STAT_FIELD
    uint64_t by_vector[32];
};

/* The decode cache: blocks in one arena, found by physical address and
 * code size through a hash table, listed per physical page for
 * invalidation. A full arena flushes everything (as QEMU's code buffer). */
#define IX_HASH_BITS 16
#define IX_PAGE_HASH_BITS 12
#define IX_ARENA_BYTES (48u << 20)
#define IX_MAX_BLOCK 48

struct ix_page {
    uint64_t page;          /* physical page number */
    struct iblock *blocks;
    struct ix_page *next;
};

struct ix_cache {
    struct iblock *hash[1u << IX_HASH_BITS];
    struct ix_page *pages[1u << IX_PAGE_HASH_BITS];
    uint8_t *arena;
    size_t used;
    /* A page-crossing instruction is decoded into this block each time it
     * runs, never cached. */
    _Alignas(16) uint8_t scratch[sizeof(struct iblock) + sizeof(struct iop) +
                                 sizeof(struct dec_insn)];
};

/* The jump cache in front of the decode cache: block by linear EIP
 * (CS.base + EIP). An entry is valid while its generation is current; the
 * generation moves whenever a linear address may come to mean other code:
 * a TLB flush, a change of CS base, code size or CPL, a dropped block. */
#define IX_JC_BITS 12
struct ix_jc {
    uint32_t lin;
    uint32_t gen;
    const struct iblock *b;
};

/* ix->attention: reasons to leave the fast block loop. */
enum {
    IX_ATT_INTR = 1u << 0,  /* an interrupt may have become deliverable */
    IX_ATT_CHECK = 1u << 1, /* re-evaluate exit, halt and single-stepping */
};

struct interp {
    struct hlp_cpu cpu;
    struct machine *m;
    unsigned attention;  /* IX_ATT_* */
    uint32_t jc_gen;
    uint32_t code_key[3]; /* CS base, code size, CPL the jump cache holds */
    struct ix_seg segc[6];
    unsigned acc;        /* mmu_acc(cpl, MMU_ACC_READ) */
    uint32_t ac_mask;    /* ~0 while alignment checking is on (SDM 6.15 #AC), else 0 */
    uint32_t sp_mask;    /* 0xFFFF or 0xFFFFFFFF: SS.B */
    bool abort;          /* leave the running block after this instruction
                          * (a code write, a taken Jcc, a long REP) */
    bool trace;
    int64_t poll_budget; /* instructions until the next mach_poll */
    jmp_buf jb;
    struct interp_stats stats;
    struct ix_jc jc[1u << IX_JC_BITS];
    struct ix_cache cache;
};

static inline struct interp *ix_of(struct hlp_cpu *cpu)
{
    return (struct interp *)((char *)cpu - offsetof(struct interp, cpu));
}

/* ---- flags ---------------------------------------------------------------- */
extern const uint8_t ix_parity[256]; /* HLP_FL_PF for an even number of bits */

IX_INLINE uint32_t ix_sign_bit(unsigned size) { return 1u << (size * 8 - 1); }
IX_INLINE uint32_t ix_mask(unsigned size) { return size == 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1; }

/* ZF, SF and PF of a result (SDM Vol. 1 3.4.3.1). */
IX_INLINE uint32_t ix_szp(uint32_t r, unsigned size)
{
    r &= ix_mask(size);
    return (r == 0 ? HLP_FL_ZF : 0) | ((r & ix_sign_bit(size)) ? HLP_FL_SF : 0) |
           ix_parity[r & 0xFF];
}

IX_INLINE void ix_set_arith(struct hlp_cpu *cpu, uint32_t f)
{
    cpu->eflags = (cpu->eflags & ~HLP_FL_ARITH) | f;
}

/* The condition of Jcc/SETcc/CMOVcc number cc (SDM Vol. 2 Appendix B.1.4.7). */
IX_INLINE bool ix_cond(uint32_t f, unsigned cc)
{
    bool r;
    switch (cc >> 1) {
    case 0: r = f & HLP_FL_OF; break;
    case 1: r = f & HLP_FL_CF; break;
    case 2: r = f & HLP_FL_ZF; break;
    case 3: r = f & (HLP_FL_CF | HLP_FL_ZF); break;
    case 4: r = f & HLP_FL_SF; break;
    case 5: r = f & HLP_FL_PF; break;
    case 6: r = !(f & HLP_FL_SF) != !(f & HLP_FL_OF); break;
    default: r = (f & HLP_FL_ZF) || (!(f & HLP_FL_SF) != !(f & HLP_FL_OF)); break;
    }
    return r ^ (cc & 1);
}

/* ---- registers ------------------------------------------------------------ */
IX_INLINE uint32_t ix_reg(const struct hlp_cpu *cpu, unsigned r, unsigned size)
{
    if (size == 1)
        return ((const uint8_t *)cpu->gpr)[r];
    if (size == 2)
        return cpu->gpr[r] & 0xFFFF;
    return cpu->gpr[r];
}

/* Writes of 8 and 16 bits keep the rest of the register (SDM Vol. 1 3.4.1). */
IX_INLINE void ix_set_reg(struct hlp_cpu *cpu, unsigned r, unsigned size, uint32_t v)
{
    if (size == 1)
        ((uint8_t *)cpu->gpr)[r] = (uint8_t)v;
    else if (size == 2)
        cpu->gpr[r] = (cpu->gpr[r] & 0xFFFF0000u) | (v & 0xFFFF);
    else
        cpu->gpr[r] = v;
}

/* ---- effective addresses --------------------------------------------------- */
IX_INLINE uint32_t ix_ea(const struct interp *ix, const struct iop *i)
{
    const uint32_t *g = ix->cpu.gpr;
    uint32_t ea = i->disp;
    ea += g[i->base & 7] & -(uint32_t)(i->base < 8);
    ea += (g[i->index & 7] & -(uint32_t)(i->index < 8)) << i->scale;
    return ea & i->amask;
}

/* ---- faults --------------------------------------------------------------- */
/* hlp_mem.c: the offsets seg allows for reads or writes (lo > hi: none). */
void hlp_seg_window(const struct hlp_cpu *cpu, unsigned seg, bool write, uint32_t *lo,
                    uint32_t *hi);
/* An access outside the cached window: the full check (which raises #GP
 * or #SS), or, while debug registers are armed (ix_refresh then empties
 * the windows), the data-breakpoint check. Returns the linear address. */
uint32_t ix_lin_slow(struct interp *ix, unsigned seg, uint32_t off, unsigned len, bool write);

/* ---- segmented memory, fast paths ---------------------------------------------
 * Window check, then the softmmu TLB; anything else (TLB miss, MMIO, code
 * pages, page crossings, #AC) goes to the out-of-line slow paths. */
uint32_t ix_read_slow(struct interp *ix, uint32_t lin, unsigned len, unsigned acc);
void ix_write_slow(struct interp *ix, uint32_t lin, uint32_t v, unsigned len);
void ix_read_lin(struct interp *ix, uint32_t lin, void *buf, unsigned len, unsigned acc);
void ix_write_lin(struct interp *ix, uint32_t lin, const void *buf, unsigned len);

IX_INLINE uint32_t ix_lin_r(struct interp *ix, unsigned seg, uint32_t off, unsigned len)
{
    const struct ix_seg *s = &ix->segc[seg];
    if (IX_UNLIKELY(off < s->rlo || (uint64_t)off + (len - 1) > s->rhi))
        return ix_lin_slow(ix, seg, off, len, false);
    return s->base + off;
}

IX_INLINE uint32_t ix_lin_w(struct interp *ix, unsigned seg, uint32_t off, unsigned len)
{
    const struct ix_seg *s = &ix->segc[seg];
    if (IX_UNLIKELY(off < s->wlo || (uint64_t)off + (len - 1) > s->whi))
        return ix_lin_slow(ix, seg, off, len, true);
    return s->base + off;
}

IX_INLINE uint32_t ix_load(const uint8_t *p, unsigned len)
{
    if (len == 1)
        return *p;
    if (len == 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

IX_INLINE void ix_store(uint8_t *p, uint32_t v, unsigned len)
{
    if (len == 1)
        *p = (uint8_t)v;
    else if (len == 2) {
        uint16_t w = (uint16_t)v;
        memcpy(p, &w, 2);
    } else
        memcpy(p, &v, 4);
}

IX_INLINE uint32_t ix_rd(struct interp *ix, unsigned seg, uint32_t off, unsigned len)
{
    uint32_t lin = ix_lin_r(ix, seg, off, len);
    const uint8_t *p = mmu_tlb_fast(&ix->cpu.mmu, lin, len, ix->acc);
    if (IX_LIKELY(p && !(lin & ix->ac_mask & (len - 1))))
        return ix_load(p, len);
    return ix_read_slow(ix, lin, len, ix->acc);
}

IX_INLINE void ix_wr(struct interp *ix, unsigned seg, uint32_t off, uint32_t v, unsigned len)
{
    uint32_t lin = ix_lin_w(ix, seg, off, len);
    uint8_t *p = mmu_tlb_fast(&ix->cpu.mmu, lin, len, ix->acc | MMU_ACC_WRITE);
    if (IX_LIKELY(p && !(lin & ix->ac_mask & (len - 1))))
        ix_store(p, v, len);
    else
        ix_write_slow(ix, lin, v, len);
}

/* Read-modify-write: the read is checked for writing (segment and page),
 * as the processor does; *lin is set for the write-back. Returns a host
 * pointer when the write may go straight to it, else NULL (then *val holds
 * the value read). */
IX_INLINE uint8_t *ix_rmw(struct interp *ix, unsigned seg, uint32_t off, unsigned len,
                          uint32_t *lin, uint32_t *val)
{
    uint32_t l = ix_lin_w(ix, seg, off, len);
    uint8_t *p = mmu_tlb_fast(&ix->cpu.mmu, l, len, ix->acc | MMU_ACC_WRITE);
    *lin = l;
    if (IX_LIKELY(p && !(l & ix->ac_mask & (len - 1)))) {
        *val = ix_load(p, len);
        return p;
    }
    *val = ix_read_slow(ix, l, len, ix->acc | MMU_ACC_WRITE);
    return NULL;
}

IX_INLINE void ix_rmw_done(struct interp *ix, uint8_t *p, uint32_t lin, uint32_t v,
                           unsigned len)
{
    if (IX_LIKELY(p != NULL))
        ix_store(p, v, len);
    else
        ix_write_slow(ix, lin, v, len);
}

/* ---- operands (generic handlers) ------------------------------------------------ */
IX_INLINE uint32_t ix_get(struct interp *ix, const struct iop *i, unsigned kind, unsigned r,
                          unsigned size)
{
    if (kind == IK_REG)
        return ix_reg(&ix->cpu, r, size);
    if (kind == IK_MEM)
        return ix_rd(ix, i->seg, ix_ea(ix, i), size);
    return i->imm & ix_mask(size);
}

/* ---- stack ------------------------------------------------------------------------ */
IX_INLINE void ix_push(struct interp *ix, uint32_t v, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t sp = (cpu->gpr[HLP_ESP] - size) & ix->sp_mask;
    ix_wr(ix, HLP_SS, sp, v, size);
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~ix->sp_mask) | sp;
}

/* Reads the value a pop would return, without moving ESP (so the
 * instruction can still fault before it commits). */
IX_INLINE uint32_t ix_peek(struct interp *ix, unsigned size, uint32_t skip)
{
    return ix_rd(ix, HLP_SS, (ix->cpu.gpr[HLP_ESP] + skip) & ix->sp_mask, size);
}

IX_INLINE void ix_add_sp(struct interp *ix, uint32_t n)
{
    struct hlp_cpu *cpu = &ix->cpu;
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~ix->sp_mask) | ((cpu->gpr[HLP_ESP] + n) & ix->sp_mask);
}

/* ---- control transfers --------------------------------------------------------------
 * A near transfer to an offset beyond the CS limit faults at the branch
 * (SDM Vol. 2 JMP/CALL/RET: "IF tempEIP not within code segment limit THEN
 * #GP(0)"). */
_Noreturn void ix_raise_gp0(struct interp *ix);
IX_INLINE void ix_jump(struct interp *ix, uint32_t target)
{
    if (IX_UNLIKELY(target > ix->cpu.seg[HLP_CS].limit))
        ix_raise_gp0(ix);
    ix->cpu.eip = target;
}

IX_INLINE void ix_next(struct interp *ix, const struct iop *i) { ix->cpu.eip += i->len; }

/* ---- module entry points ----------------------------------------------------------- */
/* interp.c; the execution primitives are also for interp_step.c (the
 * interpreter as the translator's library): ix_run_block when
 * ix_stepping() is false, else ix_step, which follows the debug contract
 * of hlp_cpu.h. Both may raise through cpu->fault_jmp. */
void ix_refresh(struct interp *ix);
/* What the interp engine and the interpreter library (interp_step.c)
 * share: the CPU for machine m, the decode cache and the softmmu hooks
 * that keep it coherent. ix must be zeroed; -1 with err on failure, with
 * nothing left to free. ix_fini undoes it. */
int ix_init(struct interp *ix, struct machine *m, struct mach_err *err);
void ix_fini(struct interp *ix);
bool ix_stepping(const struct interp *ix);
void ix_step(struct interp *ix);
unsigned ix_run_block(struct interp *ix, const struct iblock *b);
/* interp_cache.c */
int ix_cache_init(struct ix_cache *c, struct mach_err *err);
void ix_cache_destroy(struct ix_cache *c);
void ix_cache_flush(struct interp *ix);
void ix_code_written(void *opaque, uint64_t paddr, uint64_t len);
void ix_tlb_flushed(void *opaque, enum mmu_flush scope, uint32_t lin);
const struct iblock *ix_lookup_slow(struct interp *ix, uint32_t lin);

static inline struct ix_jc *ix_jc_slot(struct interp *ix, uint32_t lin)
{
    return &ix->jc[(lin ^ (lin >> IX_JC_BITS)) & ((1u << IX_JC_BITS) - 1)];
}

/* The block at CS:EIP, decoded on a miss. Instruction fetch faults (#PF)
 * are raised here, with cpu->eip at the instruction. */
static inline const struct iblock *ix_block_at(struct interp *ix)
{
    uint32_t lin = ix->cpu.seg[HLP_CS].base + ix->cpu.eip;
    const struct ix_jc *e = ix_jc_slot(ix, lin);
    if (IX_LIKELY(e->lin == lin && e->gen == ix->jc_gen)) {
        ix->stats.jc_hits++;
        return e->b;
    }
    return ix_lookup_slow(ix, lin);
}
/* interp_build.c: chooses the handler for d and fills i. */
void ix_build(struct interp *ix, const struct dec_insn *d, struct iop *i);
/* handlers shared between files */
void ix_op_system(struct interp *ix, const struct iop *i);
void ix_op_ud(struct interp *ix, const struct iop *i);
void ix_op_gp0(struct interp *ix, const struct iop *i);
/* The ALU with its flags, for the string and bit instructions. */
uint32_t ix_alu(struct hlp_cpu *cpu, unsigned op, unsigned size, uint32_t a, uint32_t b);
iop_fn ix_alu_fn(unsigned op, unsigned size, unsigned form);
iop_fn ix_mov_fn(unsigned size, unsigned form);
iop_fn ix_build_misc(struct interp *ix, const struct dec_insn *d, struct iop *i);
iop_fn ix_build_string(const struct dec_insn *d, struct iop *i);
iop_fn ix_build_flow(const struct dec_insn *d, struct iop *i);
iop_fn ix_build_shift(const struct dec_insn *d, struct iop *i);
iop_fn ix_build_muldiv(const struct dec_insn *d, struct iop *i);
iop_fn ix_build_bits(const struct dec_insn *d, struct iop *i);

/* ALU operation numbers: the /digit of opcodes 80-83 (SDM Vol. 2 Table
 * A-6 group 1), then TEST. */
enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP, ALU_TEST, ALU_N };
/* Operand forms of the fast handlers. */
enum { F_RR, F_RI, F_RM, F_MR, F_MI, F_N };

#endif
