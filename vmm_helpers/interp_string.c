/* String instructions MOVS CMPS STOS LODS SCAS, with REP/REPE/REPNE (SDM
 * Vol. 2 REP/REPE/REPZ/REPNE/REPNZ). The source segment may be
 * overridden, the destination is always ES; the address size picks
 * SI/DI/CX or ESI/EDI/ECX; DF picks the direction. A repeated
 * instruction commits ECX, ESI and EDI after every iteration, so a fault
 * leaves them at the iteration that faulted, and it returns to the run
 * loop after a bounded number of iterations without advancing EIP, so
 * interrupts and timers are serviced and the instruction continues. */
#include "vmm_helpers/interp_internal.h"

enum { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS };
enum { REP_NONE, REP_E, REP_NE };

/* Iterations of one REP instruction between two visits of the run loop. */
#define IX_REP_CHUNK 4096

IX_INLINE void advance(struct hlp_cpu *cpu, unsigned reg, uint32_t step, uint32_t amask)
{
    cpu->gpr[reg] = (cpu->gpr[reg] & ~amask) | ((cpu->gpr[reg] + step) & amask);
}

/* One iteration; returns ZF after CMPS/SCAS. */
IX_INLINE bool iterate(struct interp *ix, const struct iop *i, unsigned kind, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t am = i->amask;
    uint32_t step = (cpu->eflags & HLP_FL_DF) ? (uint32_t)-(int32_t)size : size;
    uint32_t si = cpu->gpr[HLP_ESI] & am, di = cpu->gpr[HLP_EDI] & am;
    switch (kind) {
    case S_MOVS:
        ix_wr(ix, HLP_ES, di, ix_rd(ix, i->seg, si, size), size);
        advance(cpu, HLP_ESI, step, am);
        advance(cpu, HLP_EDI, step, am);
        return false;
    case S_CMPS: {
        uint32_t a = ix_rd(ix, i->seg, si, size), b = ix_rd(ix, HLP_ES, di, size);
        ix_alu(cpu, ALU_CMP, size, a, b);
        advance(cpu, HLP_ESI, step, am);
        advance(cpu, HLP_EDI, step, am);
        return cpu->eflags & HLP_FL_ZF;
    }
    case S_STOS:
        ix_wr(ix, HLP_ES, di, ix_reg(cpu, HLP_EAX, size), size);
        advance(cpu, HLP_EDI, step, am);
        return false;
    case S_LODS:
        ix_set_reg(cpu, HLP_EAX, size, ix_rd(ix, i->seg, si, size));
        advance(cpu, HLP_ESI, step, am);
        return false;
    default:
        ix_alu(cpu, ALU_CMP, size, ix_reg(cpu, HLP_EAX, size), ix_rd(ix, HLP_ES, di, size));
        advance(cpu, HLP_EDI, step, am);
        return cpu->eflags & HLP_FL_ZF;
    }
}

/* Where the next iterations of a forward REP MOVS/STOS stay within one
 * page of each operand, inside their segments, and go straight to host
 * RAM, they run as one copy or fill: the result the iterations would give.
 * Anything else (DF set, a page or segment edge, MMIO, code pages,
 * overlapping copies, alignment checks, armed debug registers, which
 * empty the segment windows) leaves it to the one-at-a-time path, which
 * faults at the right iteration. Returns the iterations done. */
static uint32_t bulk(struct interp *ix, const struct iop *i, unsigned kind, unsigned size,
                     uint32_t count)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t am = i->amask;
    if (cpu->eflags & HLP_FL_DF)
        return 0;
    const struct ix_seg *es = &ix->segc[HLP_ES], *ss = &ix->segc[i->seg];
    uint32_t di = cpu->gpr[HLP_EDI] & am, si = cpu->gpr[HLP_ESI] & am;
    uint32_t ld = es->base + di, ls = ss->base + si;
    uint64_t n = count;
    n = n < ((uint64_t)am - di + 1) / size ? n : ((uint64_t)am - di + 1) / size;
    n = n < (MMU_PAGE_SIZE - (ld & ~MMU_PAGE_MASK)) / size ? n
                                                         : (MMU_PAGE_SIZE - (ld & ~MMU_PAGE_MASK)) / size;
    if (kind == S_MOVS) {
        n = n < ((uint64_t)am - si + 1) / size ? n : ((uint64_t)am - si + 1) / size;
        n = n < (MMU_PAGE_SIZE - (ls & ~MMU_PAGE_MASK)) / size
                ? n
                : (MMU_PAGE_SIZE - (ls & ~MMU_PAGE_MASK)) / size;
    }
    uint32_t bytes = (uint32_t)n * size;
    if (n == 0 || di < es->wlo || (uint64_t)di + bytes - 1 > es->whi ||
        ((ld | ls) & ix->ac_mask & (size - 1)))
        return 0;
    uint8_t *pd = mmu_tlb_fast(&cpu->mmu, ld, bytes, ix->acc | MMU_ACC_WRITE);
    if (!pd)
        return 0;
    if (kind == S_STOS) {
        uint32_t v = ix_reg(cpu, HLP_EAX, size);
        if (size == 1)
            memset(pd, (int)v, bytes);
        else
            for (uint32_t k = 0; k < bytes; k += size)
                ix_store(pd + k, v, size);
    } else {
        if (si < ss->rlo || (uint64_t)si + bytes - 1 > ss->rhi)
            return 0;
        const uint8_t *ps = mmu_tlb_fast(&cpu->mmu, ls, bytes, ix->acc);
        if (!ps || (ps < pd + bytes && pd < ps + bytes))
            return 0;
        memcpy(pd, ps, bytes);
        cpu->gpr[HLP_ESI] = (cpu->gpr[HLP_ESI] & ~am) | ((si + bytes) & am);
    }
    cpu->gpr[HLP_EDI] = (cpu->gpr[HLP_EDI] & ~am) | ((di + bytes) & am);
    cpu->gpr[HLP_ECX] = (cpu->gpr[HLP_ECX] & ~am) | ((count - (uint32_t)n) & am);
    return (uint32_t)n;
}

IX_INLINE void string_op(struct interp *ix, const struct iop *i, unsigned kind, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    if (i->flags == REP_NONE) {
        iterate(ix, i, kind, size);
        ix_next(ix, i);
        return;
    }
    uint32_t am = i->amask;
    bool compares = kind == S_CMPS || kind == S_SCAS;
    /* Single-stepping traps after every iteration (SDM Vol. 3A 17.3.1.4). */
    bool tf = cpu->eflags & HLP_FL_TF;
    unsigned chunk = tf ? 1 : IX_REP_CHUNK;
    for (unsigned n = 0; n < chunk; n++) {
        uint32_t count = cpu->gpr[HLP_ECX] & am;
        if (count == 0) {
            ix->poll_budget -= n;
            ix_next(ix, i);
            return;
        }
        if ((kind == S_MOVS || kind == S_STOS) && !tf) {
            uint32_t done = bulk(ix, i, kind, size, count);
            if (done) {
                n += done - 1;
                continue;
            }
        }
        bool zf = iterate(ix, i, kind, size);
        cpu->gpr[HLP_ECX] = (cpu->gpr[HLP_ECX] & ~am) | ((count - 1) & am);
        if (((count - 1) & am) == 0 || (compares && (i->flags == REP_E ? !zf : zf))) {
            ix->poll_budget -= n;
            ix_next(ix, i);
            return;
        }
        /* A data breakpoint traps after the iteration that hit it, with
         * EIP still at the instruction (SDM Vol. 3A 17.3.1.2). */
        if (IX_UNLIKELY(cpu->dbg_hits)) {
            if ((cpu->gpr[HLP_ECX] & am) == 0)
                ix_next(ix, i);
            return;
        }
    }
    /* Not finished: run it again after the loop has had a look. */
    ix->poll_budget -= chunk;
    ix->abort = true;
}

#define STRING_FN(K, SZ) \
    static void str_##K##_##SZ(struct interp *ix, const struct iop *i) { string_op(ix, i, K, SZ); }
#define STRING_SIZES(K) STRING_FN(K, 1) STRING_FN(K, 2) STRING_FN(K, 4)
STRING_SIZES(S_MOVS)
STRING_SIZES(S_CMPS)
STRING_SIZES(S_STOS)
STRING_SIZES(S_LODS)
STRING_SIZES(S_SCAS)
#define STRING_ROW(K) {str_##K##_1, str_##K##_2, str_##K##_4}
static const iop_fn string_table[5][3] = {STRING_ROW(S_MOVS), STRING_ROW(S_CMPS),
                                          STRING_ROW(S_STOS), STRING_ROW(S_LODS),
                                          STRING_ROW(S_SCAS)};

static int kind_of(unsigned mn)
{
    switch (mn) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
        return S_MOVS;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
        return S_CMPS;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
        return S_STOS;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
        return S_LODS;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        return S_SCAS;
    default: return -1;
    }
}

iop_fn ix_build_string(const struct dec_insn *d, struct iop *i)
{
    if (!(d->flags & DEC_F_STRING) || d->map != DEC_MAP_1B)
        return NULL;
    int kind = kind_of(d->mnemonic);
    if (kind < 0)
        return NULL;
    unsigned size = d->opsize / 8;
    if (size != 1 && size != 2 && size != 4)
        return NULL;
    i->size = (uint8_t)size;
    i->seg = d->seg_override != DEC_SEG_NONE ? d->seg_override : DEC_SEG_DS;
    i->amask = d->addrsize == 16 ? 0xFFFFu : 0xFFFFFFFFu;
    bool compares = kind == S_CMPS || kind == S_SCAS;
    /* F2 repeats MOVS/STOS/LODS as F3 does; for CMPS/SCAS it is REPNE. */
    if (d->prefixes & DEC_P_REPNE)
        i->flags = compares ? REP_NE : REP_E;
    else if (d->prefixes & DEC_P_REP)
        i->flags = REP_E;
    return string_table[kind][size == 1 ? 0 : size == 2 ? 1 : 2];
}
