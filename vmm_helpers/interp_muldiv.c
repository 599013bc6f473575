/* MUL, IMUL (one, two and three operands), DIV, IDIV and the BCD adjusts
 * DAA DAS AAA AAS AAM AAD (SDM Vol. 2, each instruction's page). Divide
 * errors (#DE) are raised before any register changes. Flags the SDM
 * leaves undefined: MUL/IMUL give SF ZF PF of the low half and clear AF;
 * DIV/IDIV leave the flags alone; the BCD adjusts clear what they leave
 * undefined. */
#include "vmm_helpers/interp_internal.h"

#define CF HLP_FL_CF
#define AF HLP_FL_AF
#define OF HLP_FL_OF

IX_INLINE int64_t sext(uint32_t v, unsigned size)
{
    return size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : (int32_t)v;
}

/* SF ZF AF PF are undefined after MUL/IMUL; AMD processors give SF and
 * PF of the low half and clear ZF and AF. */
static void mul_flags(struct hlp_cpu *cpu, bool overflow, uint32_t low, unsigned size)
{
    ix_set_arith(cpu, (overflow ? CF | OF : 0) | (ix_szp(low, size) & ~HLP_FL_ZF));
}

/* The accumulator pair for size: AX (8-bit), DX:AX, EDX:EAX. */
static void set_pair(struct hlp_cpu *cpu, unsigned size, uint64_t v)
{
    if (size == 1) {
        ix_set_reg(cpu, HLP_EAX, 2, (uint32_t)v);
    } else {
        ix_set_reg(cpu, HLP_EAX, size, (uint32_t)v);
        ix_set_reg(cpu, HLP_EDX, size, (uint32_t)(v >> (size * 8)));
    }
}

static uint64_t get_pair(const struct hlp_cpu *cpu, unsigned size)
{
    if (size == 1)
        return cpu->gpr[HLP_EAX] & 0xFFFF;
    return ((uint64_t)ix_reg(cpu, HLP_EDX, size) << (size * 8)) | ix_reg(cpu, HLP_EAX, size);
}

/* MUL r/m: CF = OF = upper half non-zero. */
static void op_mul(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint64_t p = (uint64_t)ix_get(ix, i, i->k0, i->r0, size) * ix_reg(cpu, HLP_EAX, size);
    set_pair(cpu, size, p);
    mul_flags(cpu, (p >> (size * 8)) != 0, (uint32_t)p, size);
    ix_next(ix, i);
}

/* IMUL r/m: CF = OF = the product does not fit the low half signed. */
static void op_imul1(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    int64_t p = sext(ix_get(ix, i, i->k0, i->r0, size), size) * sext(ix_reg(cpu, HLP_EAX, size), size);
    set_pair(cpu, size, (uint64_t)p);
    mul_flags(cpu, p != sext((uint32_t)p, size), (uint32_t)p, size);
    ix_next(ix, i);
}

/* IMUL r, r/m and IMUL r, r/m, imm (flags = 1): the truncated product. */
static void op_imul2(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t b = ix_get(ix, i, i->k1, i->r1, size);
    uint32_t a = i->flags ? i->imm : ix_reg(cpu, i->r0, size);
    int64_t p = sext(a, size) * sext(b, size);
    ix_set_reg(cpu, i->r0, size, (uint32_t)p);
    mul_flags(cpu, p != sext((uint32_t)p, size), (uint32_t)p, size);
    ix_next(ix, i);
}

/* DIV r/m: #DE for a zero divisor or a quotient that does not fit. */
static void op_div(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint64_t divisor = ix_get(ix, i, i->k0, i->r0, size);
    uint64_t dividend = get_pair(cpu, size);
    if (divisor == 0 || dividend / divisor > ix_mask(size))
        hlp_raise(cpu, HLP_VEC_DE, HLP_NO_ERROR_CODE);
    uint64_t q = dividend / divisor, r = dividend % divisor;
    if (size == 1)
        ix_set_reg(cpu, HLP_EAX, 2, (uint32_t)((r << 8) | q));
    else {
        ix_set_reg(cpu, HLP_EAX, size, (uint32_t)q);
        ix_set_reg(cpu, HLP_EDX, size, (uint32_t)r);
    }
    ix_next(ix, i);
}

/* IDIV r/m: the quotient truncates toward zero, the remainder has the
 * dividend's sign; #DE when it is outside the signed range. */
static void op_idiv(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size, n = size * 8;
    int64_t divisor = sext(ix_get(ix, i, i->k0, i->r0, size), size);
    uint64_t raw = get_pair(cpu, size);
    int64_t dividend = size == 4 ? (int64_t)raw : (int64_t)(raw << (64 - 2 * n)) >> (64 - 2 * n);
    if (divisor == 0 || (dividend == INT64_MIN && divisor == -1))
        hlp_raise(cpu, HLP_VEC_DE, HLP_NO_ERROR_CODE);
    int64_t q = dividend / divisor, r = dividend % divisor;
    int64_t qmax = ((int64_t)1 << (n - 1)) - 1, qmin = -((int64_t)1 << (n - 1));
    if (q > qmax || q < qmin)
        hlp_raise(cpu, HLP_VEC_DE, HLP_NO_ERROR_CODE);
    if (size == 1)
        ix_set_reg(cpu, HLP_EAX, 2, (((uint32_t)r & 0xFF) << 8) | ((uint32_t)q & 0xFF));
    else {
        ix_set_reg(cpu, HLP_EAX, size, (uint32_t)q);
        ix_set_reg(cpu, HLP_EDX, size, (uint32_t)r);
    }
    ix_next(ix, i);
}

/* ---- BCD ------------------------------------------------------------------------ */
enum { BCD_DAA, BCD_DAS, BCD_AAA, BCD_AAS, BCD_AAM, BCD_AAD };

static void op_daa_das(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t al = cpu->gpr[HLP_EAX] & 0xFF, old_al = al;
    bool old_cf = cpu->eflags & CF, cf = false, af = false;
    bool das = i->sub == BCD_DAS;
    if ((al & 0xF) > 9 || (cpu->eflags & AF)) {
        cf = old_cf || (das ? al < 6 : al > 0xF9);
        al = (das ? al - 6 : al + 6) & 0xFF;
        af = true;
    }
    if (old_al > 0x99 || old_cf) {
        al = (das ? al - 0x60 : al + 0x60) & 0xFF;
        cf = true;
    } else if (!das) {
        cf = false;
    }
    ix_set_reg(cpu, 0, 1, al);
    ix_set_arith(cpu, (cf ? CF : 0) | (af ? AF : 0) | ix_szp(al, 1));
    ix_next(ix, i);
}

/* AAA/AAS as the current SDM gives them: AX +/- 106H / AX - 6, AH - 1. */
static void op_aaa_aas(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t ax = cpu->gpr[HLP_EAX] & 0xFFFF;
    bool adjust = (ax & 0xF) > 9 || (cpu->eflags & AF);
    if (adjust) {
        if (i->sub == BCD_AAA)
            ax = ax + 0x106;
        else
            ax = (ax - 6 - 0x100) & 0xFFFF;
    }
    ax &= 0xFF0F;
    ix_set_reg(cpu, HLP_EAX, 2, ax);
    ix_set_arith(cpu, (adjust ? CF | AF : 0) | ix_szp(ax & 0xFF, 1));
    ix_next(ix, i);
}

/* AAM imm8 (#DE for 0) and AAD imm8: SF ZF PF from AL. */
static void op_aam_aad(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t base = i->imm & 0xFF, al = cpu->gpr[HLP_EAX] & 0xFF, ah = (cpu->gpr[HLP_EAX] >> 8) & 0xFF;
    if (i->sub == BCD_AAM) {
        if (base == 0)
            hlp_raise(cpu, HLP_VEC_DE, HLP_NO_ERROR_CODE);
        ah = al / base;
        al = al % base;
        ix_set_reg(cpu, HLP_EAX, 2, (ah << 8) | al);
        ix_set_arith(cpu, ix_szp(al, 1));
    } else {
        /* OF AF CF are undefined: AMD processors leave those of the final
         * 8-bit addition AL + AH * imm8. */
        al = ix_alu(cpu, ALU_ADD, 1, al, (ah * base) & 0xFF);
        ix_set_reg(cpu, HLP_EAX, 2, al);
    }
    ix_next(ix, i);
}

iop_fn ix_build_muldiv(const struct dec_insn *d, struct iop *i)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_MUL: return op_mul;
    case ZYDIS_MNEMONIC_DIV: return op_div;
    case ZYDIS_MNEMONIC_IDIV: return op_idiv;
    case ZYDIS_MNEMONIC_IMUL:
        if (d->n_ops == 1)
            return op_imul1;
        if (d->n_ops == 3) {
            i->flags = 1;
            i->imm = d->ops[2].imm;
        }
        return op_imul2;
    case ZYDIS_MNEMONIC_DAA: i->sub = BCD_DAA; return op_daa_das;
    case ZYDIS_MNEMONIC_DAS: i->sub = BCD_DAS; return op_daa_das;
    case ZYDIS_MNEMONIC_AAA: i->sub = BCD_AAA; return op_aaa_aas;
    case ZYDIS_MNEMONIC_AAS: i->sub = BCD_AAS; return op_aaa_aas;
    /* D4 ib / D5 ib: the base is the last byte whether or not the
     * decoder shows it as an operand (it hides the usual 0AH). */
    case ZYDIS_MNEMONIC_AAM: i->sub = BCD_AAM; i->imm = d->bytes[d->len - 1]; return op_aam_aad;
    case ZYDIS_MNEMONIC_AAD: i->sub = BCD_AAD; i->imm = d->bytes[d->len - 1]; return op_aam_aad;
    default: return NULL;
    }
}
