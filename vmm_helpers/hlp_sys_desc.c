/* Descriptor-table instructions: LGDT, LIDT, SGDT, SIDT, LLDT, SLDT, LTR,
 * STR, and the descriptor probes LAR, LSL, VERR, VERW with ARPL (SDM
 * Vol. 2A/2B instruction pages; Vol. 3A 3.5, 5.10, 7.2.4). */
#include "vmm_helpers/hlp_sys_internal.h"

/* ---- GDTR/IDTR ------------------------------------------------------------------ */

/* LGDT/LIDT m16&32: the limit, then the base, of which a 16-bit operand
 * size keeps 24 bits (Vol. 2A LGDT). Both are read before either loads. */
static void load_dtr(struct hlp_cpu *cpu, const struct dec_insn *d, struct hlp_dtr *dtr)
{
    hlp_require_cpl0(cpu);
    const struct dec_op *op = &d->ops[0];
    if (op->kind != DEC_OP_MEM)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    uint32_t ea = hlp_op_ea(cpu, d, op);
    uint16_t limit = hlp_read16(cpu, op->mem.seg, ea);
    uint32_t base = hlp_read32(cpu, op->mem.seg, d->addrsize == 16 ? (ea + 2) & 0xFFFF : ea + 2);
    if (d->opsize == 16)
        base &= 0xFFFFFF;
    dtr->limit = limit;
    dtr->base = base;
}

/* SGDT/SIDT store the limit and all 32 bits of the base whatever the
 * operand size (Vol. 2B SGDT, "Legacy or Compatibility Mode"). */
static void store_dtr(struct hlp_cpu *cpu, const struct dec_insn *d, const struct hlp_dtr *dtr)
{
    const struct dec_op *op = &d->ops[0];
    if (op->kind != DEC_OP_MEM)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    uint32_t ea = hlp_op_ea(cpu, d, op);
    uint32_t ea2 = d->addrsize == 16 ? (ea + 2) & 0xFFFF : ea + 2;
    hlp_check_write(cpu, op->mem.seg, ea, 2);
    hlp_check_write(cpu, op->mem.seg, ea2, 4);
    hlp_write16(cpu, op->mem.seg, ea, dtr->limit);
    hlp_write32(cpu, op->mem.seg, ea2, dtr->base);
}

/* ---- LDTR and TR ------------------------------------------------------------------- */

static void lldt(struct hlp_cpu *cpu, uint16_t sel)
{
    hlp_require_cpl0(cpu);
    if (sel_null(sel)) {
        hlp_seg_null(&cpu->ldtr, sel);
        return;
    }
    if (sel & SEL_TI)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    if (desc_is_seg(d) || desc_type(d) != SYS_LDT)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    hlp_seg_from_descriptor(&cpu->ldtr, sel, d);
}

/* LTR: an available TSS in the GDT, marked busy in memory and in TR
 * (Vol. 2A LTR, 7.2.4). */
static void ltr(struct hlp_cpu *cpu, uint16_t sel)
{
    hlp_require_cpl0(cpu);
    if (sel_null(sel))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    if (sel & SEL_TI)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    if (desc_is_seg(d) || (desc_type(d) != SYS_TSS16_AVL && desc_type(d) != SYS_TSS32_AVL))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    hlp_set_tss_busy(cpu, sel, true);
    hlp_seg_from_descriptor(&cpu->tr, sel, d | ((uint64_t)SYS_TSS_BUSY_BIT << 40));
}

/* ---- LAR, LSL, VERR, VERW (Vol. 2A LAR/LSL, Vol. 2B VERR/VERW) ----------------------- */

enum probe { PROBE_LAR, PROBE_LSL, PROBE_VERR, PROBE_VERW };

/* System types each probe accepts: LAR the TSSs, LDT, call and task
 * gates; LSL only those with a limit (TSSs and LDT); VERR/VERW none. */
static const uint16_t probe_sys_types[4] = {
    [PROBE_LAR] = (1u << SYS_TSS16_AVL) | (1u << SYS_LDT) | (1u << SYS_TSS16_BUSY) |
                  (1u << SYS_CALL16) | (1u << SYS_TASK) | (1u << SYS_TSS32_AVL) |
                  (1u << SYS_TSS32_BUSY) | (1u << SYS_CALL32),
    [PROBE_LSL] = (1u << SYS_TSS16_AVL) | (1u << SYS_LDT) | (1u << SYS_TSS16_BUSY) |
                  (1u << SYS_TSS32_AVL) | (1u << SYS_TSS32_BUSY),
};

/* Whether the probe succeeds (ZF = 1); the descriptor in *out. A selector
 * beyond its table gives ZF = 0, not a fault. */
static bool probe(struct hlp_cpu *cpu, uint16_t sel, enum probe kind, uint64_t *out)
{
    if (sel_null(sel))
        return false;
    uint32_t base = cpu->gdtr.base, limit = cpu->gdtr.limit;
    if (sel & SEL_TI) {
        if (cpu->ldtr.attr & HLP_SEG_UNUSABLE)
            return false;
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    }
    if ((sel & ~7u) + 7 > limit)
        return false;
    uint64_t d = hlp_read_sys64(cpu, base + (sel & ~7u));
    *out = d;
    if (!desc_is_seg(d)) {
        if (!(probe_sys_types[kind] >> desc_type(d) & 1))
            return false;
    } else if (kind == PROBE_VERR && desc_is_code(d) && !(desc_type(d) & DESC_T_RW)) {
        return false;
    } else if (kind == PROBE_VERW && (desc_is_code(d) || !(desc_type(d) & DESC_T_RW))) {
        return false;
    }
    /* Conforming code segments are exempt from the DPL test. */
    if (!desc_conforming(d) && (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & SEL_RPL)))
        return false;
    return true;
}

static void set_zf(struct hlp_cpu *cpu, bool zf)
{
    cpu->eflags = zf ? cpu->eflags | HLP_FL_ZF : cpu->eflags & ~HLP_FL_ZF;
}

static void exec_probe(struct hlp_cpu *cpu, const struct dec_insn *d, enum probe kind)
{
    const struct dec_op *src = kind <= PROBE_LSL ? &d->ops[1] : &d->ops[0];
    uint16_t sel = (uint16_t)hlp_op_read(cpu, d, src);
    uint64_t desc = 0;
    bool ok = probe(cpu, sel, kind, &desc);
    if (ok && kind == PROBE_LAR) {
        /* Descriptor bits 32-63 masked with 00FxFF00H; the x (limit
         * 19:16) is kept, as Intel processors return it. */
        uint32_t ar = (uint32_t)(desc >> 32) & 0x00FFFF00u;
        hlp_gpr_set(cpu, &d->ops[0].reg, d->opsize == 16 ? ar & 0xFF00 : ar);
    } else if (ok && kind == PROBE_LSL) {
        hlp_gpr_set(cpu, &d->ops[0].reg, desc_limit(desc));
    }
    set_zf(cpu, ok);
}

/* ARPL r/m16, r16: raise the destination's RPL to the source's (Vol. 2A). */
static void arpl(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    const struct dec_op *dst = &d->ops[0];
    hlp_op_check_write(cpu, d, dst);
    uint16_t a = (uint16_t)hlp_op_read(cpu, d, dst);
    uint16_t b = (uint16_t)hlp_op_read(cpu, d, &d->ops[1]);
    bool raise = (a & SEL_RPL) < (b & SEL_RPL);
    if (raise)
        hlp_op_write(cpu, d, dst, (a & ~SEL_RPL) | (b & SEL_RPL));
    set_zf(cpu, raise);
}

/* SLDT and STR: a word to memory, zero-extended to a 32-bit register. */
static void store_sel(struct hlp_cpu *cpu, const struct dec_insn *d, uint16_t sel)
{
    hlp_op_write(cpu, d, &d->ops[0], sel);
}

bool hlp_exec_desc(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_LGDT: load_dtr(cpu, d, &cpu->gdtr); return true;
    case ZYDIS_MNEMONIC_LIDT: load_dtr(cpu, d, &cpu->idtr); return true;
    case ZYDIS_MNEMONIC_SGDT: store_dtr(cpu, d, &cpu->gdtr); return true;
    case ZYDIS_MNEMONIC_SIDT: store_dtr(cpu, d, &cpu->idtr); return true;
    case ZYDIS_MNEMONIC_LLDT: lldt(cpu, (uint16_t)hlp_op_read(cpu, d, &d->ops[0])); return true;
    case ZYDIS_MNEMONIC_LTR: ltr(cpu, (uint16_t)hlp_op_read(cpu, d, &d->ops[0])); return true;
    case ZYDIS_MNEMONIC_SLDT: store_sel(cpu, d, cpu->ldtr.sel); return true;
    case ZYDIS_MNEMONIC_STR: store_sel(cpu, d, cpu->tr.sel); return true;
    case ZYDIS_MNEMONIC_LAR: exec_probe(cpu, d, PROBE_LAR); return true;
    case ZYDIS_MNEMONIC_LSL: exec_probe(cpu, d, PROBE_LSL); return true;
    case ZYDIS_MNEMONIC_VERR: exec_probe(cpu, d, PROBE_VERR); return true;
    case ZYDIS_MNEMONIC_VERW: exec_probe(cpu, d, PROBE_VERW); return true;
    case ZYDIS_MNEMONIC_ARPL:
        if (!hlp_protected(cpu) || hlp_v86(cpu))
            hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
        arpl(cpu, d);
        return true;
    default:
        return false;
    }
}
