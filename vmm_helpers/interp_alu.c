/* The integer ALU (ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT),
 * MOV and the data moves around it, with every flag as SDM Vol. 2 gives
 * it; each form of the hot instructions has its own handler. */
#include "vmm_helpers/interp_internal.h"

#define CF HLP_FL_CF
#define AF HLP_FL_AF
#define OF HLP_FL_OF

/* a and b are already reduced to the operand size. SDM Vol. 2 ADD, ADC,
 * SUB, SBB, CMP: OF from the signs, AF from the carry out of bit 3; AND,
 * OR, XOR, TEST clear OF and CF and leave AF undefined (it comes out 0,
 * as on the processors we compare with). */
IX_INLINE uint32_t alu(struct hlp_cpu *cpu, unsigned op, unsigned size, uint32_t a, uint32_t b)
{
    uint32_t m = ix_mask(size), sb = ix_sign_bit(size), r, f = 0;
    switch (op) {
    case ALU_ADD:
    case ALU_ADC: {
        uint32_t c = op == ALU_ADC ? (cpu->eflags & CF) : 0;
        uint64_t full = (uint64_t)a + b + c;
        r = (uint32_t)full & m;
        f = (full > m ? CF : 0) | ((a ^ r) & (b ^ r) & sb ? OF : 0) | ((a ^ b ^ r) & AF);
        break;
    }
    case ALU_SUB:
    case ALU_SBB:
    case ALU_CMP: {
        uint32_t c = op == ALU_SBB ? (cpu->eflags & CF) : 0;
        r = (a - b - c) & m;
        f = ((uint64_t)a < (uint64_t)b + c ? CF : 0) | ((a ^ b) & (a ^ r) & sb ? OF : 0) |
            ((a ^ b ^ r) & AF);
        break;
    }
    case ALU_OR: r = a | b; break;
    case ALU_XOR: r = a ^ b; break;
    default: r = a & b; break; /* AND, TEST */
    }
    ix_set_arith(cpu, f | ix_szp(r, size));
    return r;
}

uint32_t ix_alu(struct hlp_cpu *cpu, unsigned op, unsigned size, uint32_t a, uint32_t b)
{
    return alu(cpu, op, size, a & ix_mask(size), b & ix_mask(size));
}

IX_INLINE bool alu_writes(unsigned op) { return op != ALU_CMP && op != ALU_TEST; }

IX_INLINE void alu_rr(struct interp *ix, const struct iop *i, unsigned op, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t r = alu(cpu, op, size, ix_reg(cpu, i->r0, size), ix_reg(cpu, i->r1, size));
    if (alu_writes(op))
        ix_set_reg(cpu, i->r0, size, r);
    ix_next(ix, i);
}

IX_INLINE void alu_ri(struct interp *ix, const struct iop *i, unsigned op, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t r = alu(cpu, op, size, ix_reg(cpu, i->r0, size), i->imm);
    if (alu_writes(op))
        ix_set_reg(cpu, i->r0, size, r);
    ix_next(ix, i);
}

IX_INLINE void alu_rm(struct interp *ix, const struct iop *i, unsigned op, unsigned size)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t b = ix_rd(ix, i->seg, ix_ea(ix, i), size);
    uint32_t r = alu(cpu, op, size, ix_reg(cpu, i->r0, size), b);
    if (alu_writes(op))
        ix_set_reg(cpu, i->r0, size, r);
    ix_next(ix, i);
}

IX_INLINE void alu_m(struct interp *ix, const struct iop *i, unsigned op, unsigned size,
                     uint32_t b)
{
    uint32_t ea = ix_ea(ix, i);
    if (!alu_writes(op)) {
        alu(&ix->cpu, op, size, ix_rd(ix, i->seg, ea, size), b);
    } else {
        uint32_t lin, a;
        uint8_t *p = ix_rmw(ix, i->seg, ea, size, &lin, &a);
        ix_rmw_done(ix, p, lin, alu(&ix->cpu, op, size, a, b), size);
    }
    ix_next(ix, i);
}

#define ALU_FORMS(OP, SZ)                                                                    \
    static void alu_##OP##_##SZ##_rr(struct interp *ix, const struct iop *i)                 \
    {                                                                                        \
        alu_rr(ix, i, OP, SZ);                                                               \
    }                                                                                        \
    static void alu_##OP##_##SZ##_ri(struct interp *ix, const struct iop *i)                 \
    {                                                                                        \
        alu_ri(ix, i, OP, SZ);                                                               \
    }                                                                                        \
    static void alu_##OP##_##SZ##_rm(struct interp *ix, const struct iop *i)                 \
    {                                                                                        \
        alu_rm(ix, i, OP, SZ);                                                               \
    }                                                                                        \
    static void alu_##OP##_##SZ##_mr(struct interp *ix, const struct iop *i)                 \
    {                                                                                        \
        alu_m(ix, i, OP, SZ, ix_reg(&ix->cpu, i->r1, SZ));                                   \
    }                                                                                        \
    static void alu_##OP##_##SZ##_mi(struct interp *ix, const struct iop *i)                 \
    {                                                                                        \
        alu_m(ix, i, OP, SZ, i->imm);                                                        \
    }
#define ALU_SIZES(OP) ALU_FORMS(OP, 1) ALU_FORMS(OP, 2) ALU_FORMS(OP, 4)
ALU_SIZES(ALU_ADD)
ALU_SIZES(ALU_OR)
ALU_SIZES(ALU_ADC)
ALU_SIZES(ALU_SBB)
ALU_SIZES(ALU_AND)
ALU_SIZES(ALU_SUB)
ALU_SIZES(ALU_XOR)
ALU_SIZES(ALU_CMP)
ALU_SIZES(ALU_TEST)

#define ALU_ROW(OP, SZ)                                                                      \
    {alu_##OP##_##SZ##_rr, alu_##OP##_##SZ##_ri, alu_##OP##_##SZ##_rm, alu_##OP##_##SZ##_mr, \
     alu_##OP##_##SZ##_mi}
#define ALU_ROWS(OP) {ALU_ROW(OP, 1), ALU_ROW(OP, 2), ALU_ROW(OP, 4)}
static const iop_fn alu_table[ALU_N][3][F_N] = {
    ALU_ROWS(ALU_ADD), ALU_ROWS(ALU_OR),  ALU_ROWS(ALU_ADC),
    ALU_ROWS(ALU_SBB), ALU_ROWS(ALU_AND), ALU_ROWS(ALU_SUB),
    ALU_ROWS(ALU_XOR), ALU_ROWS(ALU_CMP), ALU_ROWS(ALU_TEST),
};

static unsigned size_index(unsigned size) { return size == 1 ? 0 : size == 2 ? 1 : 2; }

iop_fn ix_alu_fn(unsigned op, unsigned size, unsigned form)
{
    return alu_table[op][size_index(size)][form];
}

/* ---- MOV ------------------------------------------------------------------------------ */

#define MOV_FORMS(SZ)                                                                        \
    static void mov_##SZ##_rr(struct interp *ix, const struct iop *i)                        \
    {                                                                                        \
        ix_set_reg(&ix->cpu, i->r0, SZ, ix_reg(&ix->cpu, i->r1, SZ));                        \
        ix_next(ix, i);                                                                      \
    }                                                                                        \
    static void mov_##SZ##_ri(struct interp *ix, const struct iop *i)                        \
    {                                                                                        \
        ix_set_reg(&ix->cpu, i->r0, SZ, i->imm);                                             \
        ix_next(ix, i);                                                                      \
    }                                                                                        \
    static void mov_##SZ##_rm(struct interp *ix, const struct iop *i)                        \
    {                                                                                        \
        ix_set_reg(&ix->cpu, i->r0, SZ, ix_rd(ix, i->seg, ix_ea(ix, i), SZ));                \
        ix_next(ix, i);                                                                      \
    }                                                                                        \
    static void mov_##SZ##_mr(struct interp *ix, const struct iop *i)                        \
    {                                                                                        \
        ix_wr(ix, i->seg, ix_ea(ix, i), ix_reg(&ix->cpu, i->r1, SZ), SZ);                    \
        ix_next(ix, i);                                                                      \
    }                                                                                        \
    static void mov_##SZ##_mi(struct interp *ix, const struct iop *i)                        \
    {                                                                                        \
        ix_wr(ix, i->seg, ix_ea(ix, i), i->imm, SZ);                                         \
        ix_next(ix, i);                                                                      \
    }
MOV_FORMS(1)
MOV_FORMS(2)
MOV_FORMS(4)
#define MOV_ROW(SZ) {mov_##SZ##_rr, mov_##SZ##_ri, mov_##SZ##_rm, mov_##SZ##_mr, mov_##SZ##_mi}
static const iop_fn mov_table[3][F_N] = {MOV_ROW(1), MOV_ROW(2), MOV_ROW(4)};

iop_fn ix_mov_fn(unsigned size, unsigned form) { return mov_table[size_index(size)][form]; }

/* ---- INC, DEC, NEG, NOT ----------------------------------------------------------------
 * INC and DEC keep CF (SDM Vol. 2 INC, DEC); NEG sets CF unless the
 * operand was 0, i.e. it is SUB from 0; NOT changes no flag. */
enum { UN_INC, UN_DEC, UN_NEG, UN_NOT };

IX_INLINE uint32_t unop(struct hlp_cpu *cpu, unsigned kind, unsigned size, uint32_t a)
{
    uint32_t m = ix_mask(size), sb = ix_sign_bit(size), r;
    switch (kind) {
    case UN_INC:
        r = (a + 1) & m;
        ix_set_arith(cpu, (cpu->eflags & CF) | ix_szp(r, size) | ((a ^ r) & AF) |
                              (r == sb ? OF : 0));
        return r;
    case UN_DEC:
        r = (a - 1) & m;
        ix_set_arith(cpu, (cpu->eflags & CF) | ix_szp(r, size) | ((a ^ r) & AF) |
                              (a == sb ? OF : 0));
        return r;
    case UN_NEG: return alu(cpu, ALU_SUB, size, 0, a);
    default: return ~a & m;
    }
}

IX_INLINE void unop_r(struct interp *ix, const struct iop *i, unsigned kind, unsigned size)
{
    ix_set_reg(&ix->cpu, i->r0, size, unop(&ix->cpu, kind, size, ix_reg(&ix->cpu, i->r0, size)));
    ix_next(ix, i);
}

#define UNOP_R(K, SZ)                                                                        \
    static void unop_##K##_##SZ(struct interp *ix, const struct iop *i) { unop_r(ix, i, K, SZ); }
UNOP_R(UN_INC, 1)
UNOP_R(UN_INC, 2)
UNOP_R(UN_INC, 4)
UNOP_R(UN_DEC, 1)
UNOP_R(UN_DEC, 2)
UNOP_R(UN_DEC, 4)
static const iop_fn incdec_r[2][3] = {{unop_UN_INC_1, unop_UN_INC_2, unop_UN_INC_4},
                                      {unop_UN_DEC_1, unop_UN_DEC_2, unop_UN_DEC_4}};

static void unop_generic(struct interp *ix, const struct iop *i)
{
    unsigned size = i->size;
    if (i->k0 == IK_REG) {
        ix_set_reg(&ix->cpu, i->r0, size, unop(&ix->cpu, i->sub, size, ix_reg(&ix->cpu, i->r0, size)));
    } else {
        uint32_t lin, a;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &a);
        ix_rmw_done(ix, p, lin, unop(&ix->cpu, i->sub, size, a), size);
    }
    ix_next(ix, i);
}

/* ---- conditions ------------------------------------------------------------------------------
 * Jcc, SETcc, CMOVcc: the condition is the low nibble of the opcode
 * (SDM Vol. 2 Appendix B.1.4.7). */
IX_INLINE void jcc(struct interp *ix, const struct iop *i, unsigned cc)
{
    if (ix_cond(ix->cpu.eflags, cc)) {
        ix_jump(ix, (ix->cpu.eip + i->imm) & i->omask);
        ix->abort = true; /* blocks go on past a Jcc: leave this one */
    } else {
        ix_next(ix, i);
    }
}

#define JCC(CC) static void jcc_##CC(struct interp *ix, const struct iop *i) { jcc(ix, i, CC); }
JCC(0) JCC(1) JCC(2) JCC(3) JCC(4) JCC(5) JCC(6) JCC(7)
JCC(8) JCC(9) JCC(10) JCC(11) JCC(12) JCC(13) JCC(14) JCC(15)
static const iop_fn jcc_table[16] = {jcc_0, jcc_1, jcc_2,  jcc_3,  jcc_4,  jcc_5,  jcc_6,  jcc_7,
                                     jcc_8, jcc_9, jcc_10, jcc_11, jcc_12, jcc_13, jcc_14, jcc_15};

static void op_setcc(struct interp *ix, const struct iop *i)
{
    uint32_t v = ix_cond(ix->cpu.eflags, i->sub);
    if (i->k0 == IK_REG)
        ix_set_reg(&ix->cpu, i->r0, 1, v);
    else
        ix_wr(ix, i->seg, ix_ea(ix, i), v, 1);
    ix_next(ix, i);
}

/* CMOVcc reads its source whatever the condition (a memory source can
 * fault even when nothing moves, SDM Vol. 2 CMOVcc). */
static void op_cmovcc(struct interp *ix, const struct iop *i)
{
    uint32_t v = ix_get(ix, i, i->k1, i->r1, i->size);
    if (ix_cond(ix->cpu.eflags, i->sub))
        ix_set_reg(&ix->cpu, i->r0, i->size, v);
    ix_next(ix, i);
}

/* ---- data moves ------------------------------------------------------------------------------------ */

static void op_lea(struct interp *ix, const struct iop *i)
{
    ix_set_reg(&ix->cpu, i->r0, i->size, ix_ea(ix, i));
    ix_next(ix, i);
}

/* MOVZX/MOVSX: flags say sign extension, imm2 is the source size. */
static void op_movx(struct interp *ix, const struct iop *i)
{
    uint32_t v = ix_get(ix, i, i->k1, i->r1, i->imm2);
    if (i->flags) {
        uint32_t sb = ix_sign_bit(i->imm2);
        v = (v ^ sb) - sb;
    }
    ix_set_reg(&ix->cpu, i->r0, i->size, v);
    ix_next(ix, i);
}

static void op_xchg(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    if (i->k0 == IK_REG) {
        uint32_t a = ix_reg(cpu, i->r0, size), b = ix_reg(cpu, i->r1, size);
        ix_set_reg(cpu, i->r0, size, b);
        ix_set_reg(cpu, i->r1, size, a);
    } else {
        uint32_t lin, a;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &a);
        ix_rmw_done(ix, p, lin, ix_reg(cpu, i->r1, size), size);
        ix_set_reg(cpu, i->r1, size, a);
    }
    ix_next(ix, i);
}

static void op_nop(struct interp *ix, const struct iop *i) { ix_next(ix, i); }

/* SALC (D6): AL <- CF ? FFH : 00H, flags unchanged. Undocumented by Intel
 * until recently, but executed by every IA-32 processor. */
static void op_salc(struct interp *ix, const struct iop *i)
{
    ix_set_reg(&ix->cpu, 0, 1, (ix->cpu.eflags & CF) ? 0xFF : 0);
    ix_next(ix, i);
}

/* CBW/CWDE (sub 0) and CWD/CDQ (sub 1) by operand size. */
static void op_convert(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t eax = cpu->gpr[HLP_EAX];
    if (i->sub == 0) {
        if (i->size == 2)
            ix_set_reg(cpu, HLP_EAX, 2, (uint32_t)(int32_t)(int8_t)eax);
        else
            cpu->gpr[HLP_EAX] = (uint32_t)(int32_t)(int16_t)eax;
    } else {
        uint32_t sb = ix_sign_bit(i->size);
        ix_set_reg(cpu, HLP_EDX, i->size, (eax & sb) ? 0xFFFFFFFFu : 0);
    }
    ix_next(ix, i);
}

/* CLC STC CMC CLD STD: sub selects; LAHF/SAHF move SF ZF AF PF CF through
 * AH (SDM Vol. 2 LAHF, SAHF; bit 1 reads as 1). */
enum { FL_CLC, FL_STC, FL_CMC, FL_CLD, FL_STD, FL_LAHF, FL_SAHF };
static void op_flagop(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    const uint32_t ah_flags = HLP_FL_SF | HLP_FL_ZF | HLP_FL_AF | HLP_FL_PF | HLP_FL_CF;
    switch (i->sub) {
    case FL_CLC: cpu->eflags &= ~CF; break;
    case FL_STC: cpu->eflags |= CF; break;
    case FL_CMC: cpu->eflags ^= CF; break;
    case FL_CLD: cpu->eflags &= ~HLP_FL_DF; break;
    case FL_STD: cpu->eflags |= HLP_FL_DF; break;
    case FL_LAHF: ix_set_reg(cpu, 1, 1, (cpu->eflags & ah_flags) | HLP_FL_FIXED1); break;
    default:
        cpu->eflags = (cpu->eflags & ~ah_flags) | (((cpu->gpr[HLP_EAX] >> 8) & ah_flags));
        break;
    }
    ix_next(ix, i);
}

/* XLAT: AL <- [seg:(E)BX + unsigned AL], DS unless overridden. */
static void op_xlat(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t off = (cpu->gpr[HLP_EBX] + (cpu->gpr[HLP_EAX] & 0xFF)) & i->amask;
    ix_set_reg(cpu, 0, 1, ix_rd(ix, i->seg, off, 1));
    ix_next(ix, i);
}

/* BOUND r, m16&16 / m32&32: #BR when the signed index is outside
 * [lower, upper] (SDM Vol. 2 BOUND). */
static void op_bound(struct interp *ix, const struct iop *i)
{
    unsigned size = i->size;
    uint32_t ea = ix_ea(ix, i), sb = ix_sign_bit(size);
    int32_t lo = (int32_t)((ix_rd(ix, i->seg, ea, size) ^ sb) - sb);
    int32_t hi = (int32_t)((ix_rd(ix, i->seg, (ea + size) & i->amask, size) ^ sb) - sb);
    int32_t idx = (int32_t)((ix_reg(&ix->cpu, i->r0, size) ^ sb) - sb);
    if (idx < lo || idx > hi)
        hlp_raise(&ix->cpu, HLP_VEC_BR, HLP_NO_ERROR_CODE);
    ix_next(ix, i);
}

/* ---- the builder for this file ---------------------------------------------------------------- */

static int alu_op_of(unsigned mn)
{
    switch (mn) {
    case ZYDIS_MNEMONIC_ADD: return ALU_ADD;
    case ZYDIS_MNEMONIC_OR: return ALU_OR;
    case ZYDIS_MNEMONIC_ADC: return ALU_ADC;
    case ZYDIS_MNEMONIC_SBB: return ALU_SBB;
    case ZYDIS_MNEMONIC_AND: return ALU_AND;
    case ZYDIS_MNEMONIC_SUB: return ALU_SUB;
    case ZYDIS_MNEMONIC_XOR: return ALU_XOR;
    case ZYDIS_MNEMONIC_CMP: return ALU_CMP;
    case ZYDIS_MNEMONIC_TEST: return ALU_TEST;
    default: return -1;
    }
}

static int form_of(const struct iop *i)
{
    if (i->k0 == IK_REG)
        return i->k1 == IK_REG ? F_RR : i->k1 == IK_IMM ? F_RI : i->k1 == IK_MEM ? F_RM : -1;
    if (i->k0 == IK_MEM)
        return i->k1 == IK_REG ? F_MR : i->k1 == IK_IMM ? F_MI : -1;
    return -1;
}

static int cc_of(const struct dec_insn *d) { return d->opcode & 15; }

/* Fences order memory for other processors and devices; with one CPU and
 * synchronous devices they only need to exist: SFENCE with SSE, LFENCE and
 * MFENCE with SSE2 (SDM Vol. 2: #UD when CPUID does not report them). */
static iop_fn fence(const struct interp *ix, uint32_t feature)
{
    return (ix->cpu.model.edx1 & feature) ? op_nop : ix_op_ud;
}

iop_fn ix_build_misc(struct interp *ix, const struct dec_insn *d, struct iop *i)
{
    unsigned mn = d->mnemonic;
    int op = alu_op_of(mn), form = form_of(i);
    if (op >= 0)
        return form >= 0 ? ix_alu_fn((unsigned)op, i->size, (unsigned)form) : NULL;
    switch (mn) {
    case ZYDIS_MNEMONIC_MOV:
        return form >= 0 ? ix_mov_fn(i->size, (unsigned)form) : NULL;
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
        i->sub = mn == ZYDIS_MNEMONIC_INC ? UN_INC : UN_DEC;
        if (i->k0 == IK_REG)
            return incdec_r[i->sub][size_index(i->size)];
        return unop_generic;
    case ZYDIS_MNEMONIC_NEG: i->sub = UN_NEG; return unop_generic;
    case ZYDIS_MNEMONIC_NOT: i->sub = UN_NOT; return unop_generic;
    case ZYDIS_MNEMONIC_LEA: return op_lea;
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
        i->imm2 = d->ops[1].size / 8;
        i->flags = mn == ZYDIS_MNEMONIC_MOVSX;
        return op_movx;
    case ZYDIS_MNEMONIC_XCHG:
        if (i->k0 == IK_MEM || i->k1 == IK_MEM) {
            /* keep the memory operand first, the register in r1 */
            if (i->k1 == IK_MEM)
                i->r1 = i->r0;
            i->k0 = IK_MEM;
            i->k1 = IK_REG;
        }
        return op_xchg;
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_PAUSE:
    case ZYDIS_MNEMONIC_PREFETCHNTA:
    case ZYDIS_MNEMONIC_PREFETCHT0:
    case ZYDIS_MNEMONIC_PREFETCHT1:
    case ZYDIS_MNEMONIC_PREFETCHT2:
        return op_nop;
    case ZYDIS_MNEMONIC_SFENCE: return fence(ix, HLP_CPUID_SSE);
    case ZYDIS_MNEMONIC_LFENCE:
    case ZYDIS_MNEMONIC_MFENCE: return fence(ix, HLP_CPUID_SSE2);
    case ZYDIS_MNEMONIC_SALC: return op_salc;
    case ZYDIS_MNEMONIC_CBW: i->size = 2; i->sub = 0; return op_convert;
    case ZYDIS_MNEMONIC_CWDE: i->size = 4; i->sub = 0; return op_convert;
    case ZYDIS_MNEMONIC_CWD: i->size = 2; i->sub = 1; return op_convert;
    case ZYDIS_MNEMONIC_CDQ: i->size = 4; i->sub = 1; return op_convert;
    case ZYDIS_MNEMONIC_CLC: i->sub = FL_CLC; return op_flagop;
    case ZYDIS_MNEMONIC_STC: i->sub = FL_STC; return op_flagop;
    case ZYDIS_MNEMONIC_CMC: i->sub = FL_CMC; return op_flagop;
    case ZYDIS_MNEMONIC_CLD: i->sub = FL_CLD; return op_flagop;
    case ZYDIS_MNEMONIC_STD: i->sub = FL_STD; return op_flagop;
    case ZYDIS_MNEMONIC_LAHF: i->sub = FL_LAHF; return op_flagop;
    case ZYDIS_MNEMONIC_SAHF: i->sub = FL_SAHF; return op_flagop;
    case ZYDIS_MNEMONIC_XLAT:
        i->seg = d->seg_override != DEC_SEG_NONE ? d->seg_override : DEC_SEG_DS;
        return op_xlat;
    case ZYDIS_MNEMONIC_BOUND: return op_bound;
    default: break;
    }
    if (d->cf == DEC_CF_JCC) {
        return jcc_table[cc_of(d)];
    }
    if (d->map == DEC_MAP_0F && (d->opcode & 0xF0) == 0x90) {
        i->sub = (uint8_t)cc_of(d);
        return op_setcc;
    }
    if (d->map == DEC_MAP_0F && (d->opcode & 0xF0) == 0x40 && d->n_ops == 2) {
        i->sub = (uint8_t)cc_of(d);
        return op_cmovcc;
    }
    return NULL;
}
