/* Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR SHLD SHRD (SDM
 * Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", SHLD, SHRD). The count is
 * masked to 5 bits; a masked count of 0 changes neither the operand nor
 * any flag (the memory operand is still checked: the processor reads it).
 * OF is architectural only for a count of 1; for larger counts the SDM
 * leaves it undefined and this gives what AMD processors (the hosts popek
 * is compared against) do: the OF of the first one-bit step, computed from
 * the original operand; except that ROL and ROR of a register by an
 * immediate count leave OF unchanged, and RCL/RCR by a multiple of 9 or 17 (which rotate
 * the value back into place) leave every flag unchanged. Shifts also clear
 * AF (undefined) like them.  */
#include "vmm_helpers/interp_internal.h"

#define CF HLP_FL_CF
#define OF HLP_FL_OF

enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR, SH_SHLD, SH_SHRD };

/* The flags a shift sets: CF, OF and (for shifts, not rotates) SF ZF PF. */
static void shift_flags(struct hlp_cpu *cpu, uint32_t mask, uint32_t f)
{
    cpu->eflags = (cpu->eflags & ~mask) | (f & mask);
}

/* OF of the first one-bit step (see the header comment). */
static uint32_t first_step_of(unsigned kind, uint32_t a, uint32_t sb, uint32_t cf_in)
{
    bool msb = a & sb, msb1 = a & (sb >> 1), lsb = a & 1;
    switch (kind) {
    case SH_ROL: case SH_RCL: case SH_SHL: case SH_SAL: return msb != msb1 ? OF : 0;
    case SH_ROR: return lsb != msb ? OF : 0;
    case SH_RCR: return msb != (cf_in != 0) ? OF : 0;
    case SH_SHR: return msb ? OF : 0;
    default: return 0; /* SAR */
    }
}

static uint32_t do_shift(struct hlp_cpu *cpu, unsigned kind, unsigned size, uint32_t a,
                         unsigned c, bool reg_imm)
{
    unsigned n = size * 8;
    uint32_t m = ix_mask(size), sb = ix_sign_bit(size), r, cf;
    const uint32_t szp = HLP_FL_SF | HLP_FL_ZF | HLP_FL_PF | HLP_FL_AF;
    uint32_t of = first_step_of(kind, a, sb, cpu->eflags & CF);
    if (reg_imm && c > 1 && (kind == SH_ROL || kind == SH_ROR))
        of = cpu->eflags & OF;
    switch (kind) {
    case SH_SHL:
    case SH_SAL:
        r = (uint32_t)(((uint64_t)a << c) & m);
        cf = c <= n ? (uint32_t)((uint64_t)a >> (n - c)) & 1 : 0;
        shift_flags(cpu, CF | OF | szp, cf | of | ix_szp(r, size));
        return r;
    case SH_SHR:
        r = (uint32_t)((uint64_t)a >> c);
        cf = (uint32_t)((uint64_t)a >> (c - 1)) & 1;
        shift_flags(cpu, CF | OF | szp, cf | of | ix_szp(r, size));
        return r;
    case SH_SAR: {
        int64_t sa = (int64_t)(int32_t)((a ^ sb) - sb);
        r = (uint32_t)(sa >> c) & m;
        cf = (uint32_t)(sa >> (c - 1)) & 1;
        shift_flags(cpu, CF | OF | szp, cf | ix_szp(r, size));
        return r;
    }
    case SH_ROL: {
        unsigned t = c % n;
        r = t ? ((a << t) | (a >> (n - t))) & m : a;
        shift_flags(cpu, CF | OF, (r & 1) | of);
        return r;
    }
    case SH_ROR: {
        unsigned t = c % n;
        r = t ? ((a >> t) | (a << (n - t))) & m : a;
        shift_flags(cpu, CF | OF, ((r & sb) ? CF : 0) | of);
        return r;
    }
    case SH_RCL:
    case SH_RCR: {
        /* An (n+1)-bit rotate through CF; 8- and 16-bit counts modulo 9
         * and 17. */
        unsigned t = c % (n + 1);
        if (t == 0)
            return a;
        uint64_t w = (uint64_t)a | ((uint64_t)(cpu->eflags & CF) << n);
        uint64_t wm = (2ull << n) - 1;
        if (kind == SH_RCL)
            w = ((w << t) | (w >> (n + 1 - t))) & wm;
        else
            w = ((w >> t) | (w << (n + 1 - t))) & wm;
        r = (uint32_t)w & m;
        cf = (uint32_t)(w >> n) & 1;
        shift_flags(cpu, CF | OF, cf | of);
        return r;
    }
    default: return a;
    }
}

/* SHLD/SHRD: b supplies the bits shifted in. A count above the operand
 * size (16-bit forms only) leaves the result undefined; this computes it
 * over the 32-bit concatenation, deterministically. */
static uint32_t do_double(struct hlp_cpu *cpu, bool left, unsigned size, uint32_t a, uint32_t b,
                          unsigned c)
{
    unsigned n = size * 8;
    uint32_t m = ix_mask(size), sb = ix_sign_bit(size), r, cf;
    uint64_t w;
    if (left) {
        w = ((uint64_t)a << n) | b; /* a:b, shift left, take the top n bits */
        if (n == 16)
            w = (w << 16) | a;
        unsigned total = n == 16 ? 48 : 64;
        r = (uint32_t)((w << c) >> (total - n)) & m;
        cf = (uint32_t)(w >> (total - c)) & 1;
    } else {
        w = ((uint64_t)b << n) | a; /* b:a, shift right, take the low n bits */
        if (n == 16)
            w |= (uint64_t)a << 32;
        r = (uint32_t)(w >> c) & m;
        cf = (uint32_t)(w >> (c - 1)) & 1;
    }
    /* OF of the first one-bit step: the top bit changes from a's MSB to
     * the bit below it (SHLD) or to b's bit 0 (SHRD). */
    bool next = left ? (a & (sb >> 1)) : (b & 1);
    const uint32_t szp = HLP_FL_SF | HLP_FL_ZF | HLP_FL_PF | HLP_FL_AF;
    shift_flags(cpu, CF | OF | szp, cf | (((a & sb) != 0) != next ? OF : 0) | ix_szp(r, size));
    return r;
}

static unsigned count_of(const struct interp *ix, const struct iop *i)
{
    return (i->flags ? (ix->cpu.gpr[HLP_ECX] & 0xFF) : i->imm2) & 31;
}

static void op_shift(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size, c = count_of(ix, i);
    if (i->k0 == IK_REG) {
        if (c)
            ix_set_reg(cpu, i->r0, size, do_shift(cpu, i->sub, size, ix_reg(cpu, i->r0, size), c, !i->flags));
    } else {
        uint32_t lin, a;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &a);
        if (c)
            ix_rmw_done(ix, p, lin, do_shift(cpu, i->sub, size, a, c, false), size);
    }
    ix_next(ix, i);
}

static void op_double(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size, c = count_of(ix, i);
    bool left = i->sub == SH_SHLD;
    uint32_t b = ix_reg(cpu, i->r1, size);
    if (i->k0 == IK_REG) {
        if (c)
            ix_set_reg(cpu, i->r0, size, do_double(cpu, left, size, ix_reg(cpu, i->r0, size), b, c));
    } else {
        uint32_t lin, a;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &a);
        if (c)
            ix_rmw_done(ix, p, lin, do_double(cpu, left, size, a, b, c), size);
    }
    ix_next(ix, i);
}

/* The count operand: an immediate (C0/C1 ib, the implicit 1 of D0/D1) or
 * CL (flags = 1). */
static bool set_count(const struct dec_op *op, struct iop *i)
{
    if (op->kind == DEC_OP_IMM) {
        i->imm2 = op->imm & 0xFF;
        return true;
    }
    if (op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_GPR && op->reg.num == HLP_ECX) {
        i->flags = 1;
        return true;
    }
    return false;
}

iop_fn ix_build_shift(const struct dec_insn *d, struct iop *i)
{
    static const struct {
        uint16_t mn;
        uint8_t kind;
    } kinds[] = {
        {ZYDIS_MNEMONIC_ROL, SH_ROL}, {ZYDIS_MNEMONIC_ROR, SH_ROR}, {ZYDIS_MNEMONIC_RCL, SH_RCL},
        {ZYDIS_MNEMONIC_RCR, SH_RCR}, {ZYDIS_MNEMONIC_SHL, SH_SHL}, {ZYDIS_MNEMONIC_SHR, SH_SHR},
        {ZYDIS_MNEMONIC_SAR, SH_SAR}, {ZYDIS_MNEMONIC_SHLD, SH_SHLD},
        {ZYDIS_MNEMONIC_SHRD, SH_SHRD},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (kinds[k].mn != d->mnemonic)
            continue;
        i->sub = kinds[k].kind;
        if (i->sub == SH_SHLD || i->sub == SH_SHRD) {
            if (d->n_ops < 3 || !set_count(&d->ops[2], i))
                return NULL;
            return op_double;
        }
        if (d->n_ops < 2 || !set_count(&d->ops[1], i))
            return NULL;
        return op_shift;
    }
    return NULL;
}
