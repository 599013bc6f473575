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
    for (unsigned n = 0; n < IX_REP_CHUNK; n++) {
        uint32_t count = cpu->gpr[HLP_ECX] & am;
        if (count == 0) {
            ix->poll_budget -= n;
            ix_next(ix, i);
            return;
        }
        bool zf = iterate(ix, i, kind, size);
        cpu->gpr[HLP_ECX] = (cpu->gpr[HLP_ECX] & ~am) | ((count - 1) & am);
        if (compares && (i->flags == REP_E ? !zf : zf)) {
            ix->poll_budget -= n;
            ix_next(ix, i);
            return;
        }
    }
    /* Not finished: run it again after the loop has had a look. */
    ix->poll_budget -= IX_REP_CHUNK;
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
