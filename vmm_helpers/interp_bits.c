/* Bit and exchange instructions: BT BTS BTR BTC, BSF BSR, BSWAP, XADD,
 * CMPXCHG, CMPXCHG8B (SDM Vol. 2, each instruction's page). */
#include "vmm_helpers/interp_internal.h"

#define CF HLP_FL_CF
#define ZF HLP_FL_ZF

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

static uint32_t bt_apply(unsigned kind, uint32_t v, uint32_t bit)
{
    switch (kind) {
    case BT_SET: return v | bit;
    case BT_RESET: return v & ~bit;
    case BT_COMPLEMENT: return v ^ bit;
    default: return v;
    }
}

/* BT family. A register bit offset into a memory operand addresses the
 * whole bit string: the signed offset picks the operand-sized unit
 * (SDM Vol. 2 BT, "Bit(BitBase, BitOffset)"); an immediate offset and a
 * register destination take the offset modulo the operand size. CF gets
 * the bit; ZF is unchanged; OF SF AF PF are undefined and left alone. */
static void op_bt(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size, n = size * 8;
    uint32_t off = i->k1 == IK_IMM ? i->imm : ix_reg(cpu, i->r1, size);
    uint32_t v, result;
    if (i->k0 == IK_REG) {
        uint32_t bit = 1u << (off & (n - 1));
        v = ix_reg(cpu, i->r0, size);
        if (i->sub != BT_TEST)
            ix_set_reg(cpu, i->r0, size, bt_apply(i->sub, v, bit));
        result = v & bit;
    } else {
        uint32_t ea = ix_ea(ix, i);
        if (i->k1 == IK_REG) {
            int32_t soff = size == 2 ? (int16_t)off : (int32_t)off;
            int32_t unit = soff >> (size == 2 ? 4 : 5); /* floor division */
            ea = (ea + (uint32_t)unit * size) & i->amask;
        }
        uint32_t bit = 1u << (off & (n - 1));
        if (i->sub == BT_TEST) {
            v = ix_rd(ix, i->seg, ea, size);
        } else {
            uint32_t lin;
            uint8_t *p = ix_rmw(ix, i->seg, ea, size, &lin, &v);
            ix_rmw_done(ix, p, lin, bt_apply(i->sub, v, bit), size);
        }
        result = v & bit;
    }
    cpu->eflags = (cpu->eflags & ~CF) | (result ? CF : 0);
    ix_next(ix, i);
}

/* BSF/BSR (flags = 1 for BSR): a zero source sets ZF and leaves the
 * destination as it was (the SDM says undefined; processors keep it).
 * CF OF SF AF PF are undefined; AMD processors clear them but PF, which
 * they give for the result (the bit index, or 0 for a zero source). */
static void op_bsf_bsr(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t v = ix_get(ix, i, i->k1, i->r1, size);
    if (v == 0) {
        ix_set_arith(cpu, ZF | HLP_FL_PF);
    } else {
        uint32_t idx = i->flags ? 31u - (uint32_t)__builtin_clz(v) : (uint32_t)__builtin_ctz(v);
        ix_set_reg(cpu, i->r0, size, idx);
        ix_set_arith(cpu, ix_parity[idx]);
    }
    ix_next(ix, i);
}

/* BSWAP r32; with a 16-bit operand the result is undefined and
 * processors clear the word, which this does too. */
static void op_bswap(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    if (i->size == 2)
        ix_set_reg(cpu, i->r0, 2, 0);
    else
        cpu->gpr[i->r0] = __builtin_bswap32(cpu->gpr[i->r0]);
    ix_next(ix, i);
}

/* XADD r/m, r: the sum goes to the destination, the old destination to
 * the source register (written first, so XADD r, r leaves the sum). */
static void op_xadd(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t src = ix_reg(cpu, i->r1, size);
    if (i->k0 == IK_REG) {
        uint32_t dst = ix_reg(cpu, i->r0, size);
        uint32_t sum = ix_alu(cpu, ALU_ADD, size, dst, src);
        ix_set_reg(cpu, i->r1, size, dst);
        ix_set_reg(cpu, i->r0, size, sum);
    } else {
        uint32_t lin, dst;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &dst);
        uint32_t sum = ix_alu(cpu, ALU_ADD, size, dst, src);
        ix_rmw_done(ix, p, lin, sum, size);
        ix_set_reg(cpu, i->r1, size, dst);
    }
    ix_next(ix, i);
}

/* CMPXCHG r/m, r: flags of CMP accumulator, destination. A memory
 * destination is always written (the old value when unequal), as the
 * processor's locked cycle does. */
static void op_cmpxchg(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t acc = ix_reg(cpu, HLP_EAX, size), src = ix_reg(cpu, i->r1, size);
    if (i->k0 == IK_REG) {
        uint32_t dst = ix_reg(cpu, i->r0, size);
        ix_alu(cpu, ALU_CMP, size, acc, dst);
        if (cpu->eflags & ZF)
            ix_set_reg(cpu, i->r0, size, src);
        else
            ix_set_reg(cpu, HLP_EAX, size, dst);
    } else {
        uint32_t lin, dst;
        uint8_t *p = ix_rmw(ix, i->seg, ix_ea(ix, i), size, &lin, &dst);
        uint32_t flags = cpu->eflags;
        ix_alu(cpu, ALU_CMP, size, acc, dst);
        bool eq = cpu->eflags & ZF;
        uint32_t newflags = cpu->eflags;
        cpu->eflags = flags; /* commit only after the store */
        ix_rmw_done(ix, p, lin, eq ? src : dst, size);
        cpu->eflags = newflags;
        if (!eq)
            ix_set_reg(cpu, HLP_EAX, size, dst);
    }
    ix_next(ix, i);
}

/* CMPXCHG8B m64: EDX:EAX against the quadword; ZF says which way. */
static void op_cmpxchg8b(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t ea = ix_ea(ix, i);
    uint32_t lin = ix_lin_w(ix, i->seg, ea, 8);
    uint64_t old;
    ix_read_lin(ix, lin, &old, 8, ix->acc | MMU_ACC_WRITE);
    uint64_t cmp = ((uint64_t)cpu->gpr[HLP_EDX] << 32) | cpu->gpr[HLP_EAX];
    bool eq = old == cmp;
    uint64_t nv = eq ? (((uint64_t)cpu->gpr[HLP_ECX] << 32) | cpu->gpr[HLP_EBX]) : old;
    ix_write_lin(ix, lin, &nv, 8);
    if (eq) {
        cpu->eflags |= ZF;
    } else {
        cpu->eflags &= ~ZF;
        cpu->gpr[HLP_EAX] = (uint32_t)old;
        cpu->gpr[HLP_EDX] = (uint32_t)(old >> 32);
    }
    ix_next(ix, i);
}

iop_fn ix_build_bits(const struct dec_insn *d, struct iop *i)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_BT: i->sub = BT_TEST; return op_bt;
    case ZYDIS_MNEMONIC_BTS: i->sub = BT_SET; return op_bt;
    case ZYDIS_MNEMONIC_BTR: i->sub = BT_RESET; return op_bt;
    case ZYDIS_MNEMONIC_BTC: i->sub = BT_COMPLEMENT; return op_bt;
    case ZYDIS_MNEMONIC_BSF: return op_bsf_bsr;
    case ZYDIS_MNEMONIC_BSR: i->flags = 1; return op_bsf_bsr;
    case ZYDIS_MNEMONIC_BSWAP: return op_bswap;
    case ZYDIS_MNEMONIC_XADD: return op_xadd;
    case ZYDIS_MNEMONIC_CMPXCHG: return op_cmpxchg;
    case ZYDIS_MNEMONIC_CMPXCHG8B: return i->k0 == IK_MEM ? op_cmpxchg8b : ix_op_ud;
    default: return NULL;
    }
}
