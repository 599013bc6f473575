/* From the decoder's record to an executable iop: operands unpacked once,
 * and the handler chosen for the instruction's exact form. */
#include "vmm_helpers/interp_internal.h"

/* What the system half executes (hlp_exec_system): every sensitive,
 * privileged, IOPL- or I/O-class instruction, and the transfers that
 * leave the code segment or change privilege. */
static bool is_system(const struct dec_insn *d)
{
    switch (d->cls) {
    case DEC_CLASS_PRIVILEGED:
    case DEC_CLASS_SENSITIVE:
    case DEC_CLASS_IOPL:
    case DEC_CLASS_IO:
    case DEC_CLASS_NONE:
        return true;
    default: break;
    }
    switch (d->cf) {
    case DEC_CF_JMP_FAR:
    case DEC_CF_CALL_FAR:
    case DEC_CF_RET_FAR:
    case DEC_CF_INT:
    case DEC_CF_INT3:
    case DEC_CF_INTO:
    case DEC_CF_INT1:
    case DEC_CF_IRET:
    case DEC_CF_SYSENTER:
    case DEC_CF_SYSEXIT:
    case DEC_CF_SYSCALL:
    case DEC_CF_SYSRET:
    case DEC_CF_HLT:
    case DEC_CF_XBEGIN:
    case DEC_CF_XEND:
        return true;
    default: return false;
    }
}

static void op_fpu(struct interp *ix, const struct iop *i)
{
    if (!hlp_exec_fpu(&ix->cpu, i->d))
        hlp_raise(&ix->cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
}

/* Byte registers are addressed as bytes of cpu->gpr: AL..BL are byte 0 of
 * EAX..EBX, AH..BH byte 1 (little-endian host, checked in softmmu.h). */
static uint8_t reg_code(const struct dec_reg *r)
{
    return r->width == 8 ? (uint8_t)(r->num * 4 + (r->high ? 1 : 0)) : r->num;
}

static void fill_operands(const struct dec_insn *d, struct iop *i)
{
    bool have_imm = false;
    for (unsigned k = 0; k < d->n_ops && k < 3; k++) {
        const struct dec_op *op = &d->ops[k];
        uint8_t kind = IK_NONE, reg = 0;
        switch (op->kind) {
        case DEC_OP_REG:
            if (op->reg.cls == DEC_RC_GPR && op->reg.num < 8) {
                kind = IK_REG;
                reg = reg_code(&op->reg);
            }
            break;
        case DEC_OP_MEM:
            kind = IK_MEM;
            i->seg = op->mem.seg;
            i->base = op->mem.base < 8 ? op->mem.base : 8;
            i->index = op->mem.index < 8 ? op->mem.index : 8;
            i->scale = op->mem.scale == 8 ? 3 : op->mem.scale == 4 ? 2 : op->mem.scale == 2 ? 1 : 0;
            i->disp = (uint32_t)op->mem.disp;
            break;
        case DEC_OP_IMM: {
            uint32_t v = op->size < 32 ? op->imm & ((1u << op->size) - 1) : op->imm;
            kind = IK_IMM;
            if (!have_imm)
                i->imm = v;
            else
                i->imm2 = v;
            have_imm = true;
            break;
        }
        case DEC_OP_REL:
            i->imm = d->len + (uint32_t)op->rel;
            i->omask = d->opsize == 16 ? 0xFFFFu : 0xFFFFFFFFu;
            break;
        default: break;
        }
        if (k == 0) {
            i->k0 = kind;
            i->r0 = reg;
        } else if (k == 1) {
            i->k1 = kind;
            i->r1 = reg;
        }
    }
}

static uint8_t size_of(const struct dec_insn *d)
{
    if (d->n_ops > 0 && (d->ops[0].kind == DEC_OP_REG || d->ops[0].kind == DEC_OP_MEM)) {
        unsigned s = d->ops[0].size;
        if (s == 8 || s == 16 || s == 32)
            return (uint8_t)(s / 8);
    }
    return d->opsize == 8 ? 1 : d->opsize == 16 ? 2 : 4;
}

void ix_build(struct interp *ix, const struct dec_insn *d, struct iop *i)
{
    memset(i, 0, sizeof *i);
    i->d = d;
    i->len = d->len;
    i->base = i->index = 8;
    i->amask = d->addrsize == 16 ? 0xFFFFu : 0xFFFFFFFFu;
    i->omask = 0xFFFFFFFFu;
    i->size = size_of(d);
    fill_operands(d, i);

    iop_fn fn = NULL;
    /* x87/SIMD state instructions first: FXSAVE, FNSAVE and FNSTENV are
     * sensitive for the translator (they store the x87 instruction
     * pointer), but their semantics live in fpu*.c. */
    if (d->cf == DEC_CF_UD)
        fn = ix_op_ud;
    else if (d->flags & (DEC_F_X87 | DEC_F_SIMD | DEC_F_VEX | DEC_F_EVEX | DEC_F_XOP))
        fn = op_fpu;
    else if (is_system(d))
        fn = ix_op_system;
    if (!fn)
        fn = ix_build_misc(ix, d, i);
    if (!fn)
        fn = ix_build_flow(d, i);
    if (!fn)
        fn = ix_build_string(d, i);
    if (!fn)
        fn = ix_build_shift(d, i);
    if (!fn)
        fn = ix_build_muldiv(d, i);
    if (!fn)
        fn = ix_build_bits(d, i);
    /* Nothing else exists on the popek CPU (an i686 with the extensions
     * in CPUID): #UD, as on a processor without the extension. */
    i->fn = fn ? fn : ix_op_ud;
}
