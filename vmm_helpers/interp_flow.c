/* Near control transfers (JMP, CALL, RET, LOOP, JCXZ) and the stack
 * instructions (PUSH, POP, PUSHA, POPA, ENTER, LEAVE). Every one reads
 * and checks everything before it changes ESP or EIP, so a fault leaves
 * the state as before the instruction. */
#include "vmm_helpers/interp_internal.h"

static void check_target(struct interp *ix, uint32_t target)
{
    if (IX_UNLIKELY(target > ix->cpu.seg[HLP_CS].limit))
        ix_raise_gp0(ix);
}

static void op_jmp_rel(struct interp *ix, const struct iop *i)
{
    ix_jump(ix, (ix->cpu.eip + i->imm) & i->omask);
}

/* JMP r/m: a 16-bit operand size takes the zero-extended word (SDM Vol. 2
 * JMP: "EIP <- tempEIP AND 0000FFFFH"). */
static void op_jmp_ind(struct interp *ix, const struct iop *i)
{
    ix_jump(ix, ix_get(ix, i, i->k0, i->r0, i->size));
}

static void op_call_rel(struct interp *ix, const struct iop *i)
{
    uint32_t eip = ix->cpu.eip, target = (eip + i->imm) & i->omask;
    check_target(ix, target);
    ix_push(ix, (eip + i->len) & i->omask, i->size);
    ix->cpu.eip = target;
}

static void op_call_ind(struct interp *ix, const struct iop *i)
{
    uint32_t eip = ix->cpu.eip, target = ix_get(ix, i, i->k0, i->r0, i->size);
    check_target(ix, target);
    ix_push(ix, (eip + i->len) & i->omask, i->size);
    ix->cpu.eip = target;
}

/* RET and RET imm16 (imm: the bytes to release after the pop). */
static void op_ret(struct interp *ix, const struct iop *i)
{
    uint32_t target = ix_peek(ix, i->size, 0);
    check_target(ix, target);
    ix_add_sp(ix, i->size + i->imm);
    ix->cpu.eip = target;
}

/* LOOP/LOOPE/LOOPNE (sub 0/1/2) and JCXZ (sub 3): the address size picks
 * CX or ECX (SDM Vol. 2 LOOPcc, Jcc). */
static void op_loop(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t count = cpu->gpr[HLP_ECX] & i->amask;
    bool zf = cpu->eflags & HLP_FL_ZF, taken;
    if (i->sub == 3) {
        taken = count == 0;
    } else {
        count = (count - 1) & i->amask;
        taken = count != 0 && (i->sub == 0 || (i->sub == 1 ? zf : !zf));
    }
    uint32_t target = (cpu->eip + i->imm) & i->omask;
    if (taken)
        check_target(ix, target);
    if (i->sub != 3)
        cpu->gpr[HLP_ECX] = (cpu->gpr[HLP_ECX] & ~i->amask) | count;
    if (taken) {
        cpu->eip = target;
        ix->abort = true; /* blocks go on past a LOOP/JCXZ: leave this one */
    } else {
        ix_next(ix, i);
    }
}

/* ---- stack ---------------------------------------------------------------------------- */

/* PUSH r/m/imm: PUSH ESP pushes the value before the push (SDM Vol. 2
 * PUSH), which reading the operand first gives. */
static void op_push(struct interp *ix, const struct iop *i)
{
    ix_push(ix, ix_get(ix, i, i->k0, i->r0, i->size), i->size);
    ix_next(ix, i);
}

static void op_push_r32(struct interp *ix, const struct iop *i)
{
    ix_push(ix, ix->cpu.gpr[i->r0], 4);
    ix_next(ix, i);
}

/* POP r: the register is written after ESP moves, so POP ESP loads the
 * popped value. */
static void op_pop_r(struct interp *ix, const struct iop *i)
{
    uint32_t v = ix_peek(ix, i->size, 0);
    ix_add_sp(ix, i->size);
    ix_set_reg(&ix->cpu, i->r0, i->size, v);
    ix_next(ix, i);
}

/* POP m: an address using ESP is computed with ESP already incremented
 * (SDM Vol. 2 POP); the store may still fault, so ESP is committed last. */
static void op_pop_m(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t v = ix_peek(ix, i->size, 0), old = cpu->gpr[HLP_ESP];
    ix_add_sp(ix, i->size);
    uint32_t after = cpu->gpr[HLP_ESP];
    uint32_t ea = ix_ea(ix, i);
    cpu->gpr[HLP_ESP] = old;
    ix_wr(ix, i->seg, ea, v, i->size);
    cpu->gpr[HLP_ESP] = after;
    ix_next(ix, i);
}

/* PUSHA/PUSHAD: EAX ECX EDX EBX (original ESP) EBP ESI EDI. */
static void op_pusha(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t sp = cpu->gpr[HLP_ESP];
    for (unsigned r = 0; r < 8; r++) {
        sp = (sp - size) & ix->sp_mask;
        ix_wr(ix, HLP_SS, sp, cpu->gpr[r], size);
    }
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~ix->sp_mask) | sp;
    ix_next(ix, i);
}

/* POPA/POPAD: the ESP image is skipped. */
static void op_popa(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size;
    uint32_t v[8], sp = cpu->gpr[HLP_ESP];
    for (int r = 7; r >= 0; r--) {
        v[r] = ix_rd(ix, HLP_SS, sp & ix->sp_mask, size);
        sp += size;
    }
    for (unsigned r = 0; r < 8; r++)
        if (r != HLP_ESP)
            ix_set_reg(cpu, r, size, v[r]);
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~ix->sp_mask) | (sp & ix->sp_mask);
    ix_next(ix, i);
}

/* ENTER imm16, imm8 (SDM Vol. 2 ENTER): the nesting level is taken mod
 * 32; frame pointers of the outer levels are copied from [SS:EBP]; the
 * stack size decides EBP/ESP vs BP/SP. */
static void op_enter(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned size = i->size, level = i->imm2 & 31;
    uint32_t m = ix->sp_mask;
    uint32_t sp = (cpu->gpr[HLP_ESP] - size) & m, bp = cpu->gpr[HLP_EBP];
    ix_wr(ix, HLP_SS, sp, bp, size);
    uint32_t frame = sp;
    if (level > 0) {
        for (unsigned l = 1; l < level; l++) {
            bp = (bp - size) & m;
            uint32_t v = ix_rd(ix, HLP_SS, bp, size);
            sp = (sp - size) & m;
            ix_wr(ix, HLP_SS, sp, v, size);
        }
        sp = (sp - size) & m;
        ix_wr(ix, HLP_SS, sp, frame, size);
    }
    sp = (sp - (i->imm & 0xFFFF)) & m;
    /* The new ESP must be usable: the SDM checks the stack for the
     * allocation (#SS(0) if it would exceed the segment limit). */
    ix_lin_w(ix, HLP_SS, sp, 1);
    if (size == 2)
        ix_set_reg(cpu, HLP_EBP, 2, frame);
    else
        cpu->gpr[HLP_EBP] = (cpu->gpr[HLP_EBP] & ~m) | frame;
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~m) | sp;
    ix_next(ix, i);
}

/* LEAVE: ESP <- EBP (SP <- BP on a 16-bit stack), then pop EBP. */
static void op_leave(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t m = ix->sp_mask, sp = cpu->gpr[HLP_EBP] & m;
    uint32_t v = ix_rd(ix, HLP_SS, sp, i->size);
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~m) | ((sp + i->size) & m);
    ix_set_reg(cpu, HLP_EBP, i->size, v);
    ix_next(ix, i);
}

/* ---- builder --------------------------------------------------------------------------- */

static iop_fn build_cf(const struct dec_insn *d, struct iop *i)
{
    i->omask = d->opsize == 16 ? 0xFFFFu : 0xFFFFFFFFu;
    i->size = d->opsize == 16 ? 2 : 4;
    switch (d->cf) {
    case DEC_CF_JMP_REL: return op_jmp_rel;
    case DEC_CF_JMP_IND: return op_jmp_ind;
    case DEC_CF_CALL_REL: return op_call_rel;
    case DEC_CF_CALL_IND: return op_call_ind;
    case DEC_CF_RET: i->imm = 0; return op_ret;
    case DEC_CF_RET_IMM: i->imm = d->ops[0].imm & 0xFFFF; return op_ret;
    case DEC_CF_LOOP:
        i->sub = d->mnemonic == ZYDIS_MNEMONIC_LOOP ? 0 : d->mnemonic == ZYDIS_MNEMONIC_LOOPE ? 1 : 2;
        return op_loop;
    case DEC_CF_JCXZ: i->sub = 3; return op_loop;
    default: return NULL;
    }
}

iop_fn ix_build_flow(const struct dec_insn *d, struct iop *i)
{
    if (d->cf != DEC_CF_NONE && d->cf != DEC_CF_JCC)
        return build_cf(d, i);
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        i->size = d->opsize == 16 ? 2 : 4;
        if (i->k0 == IK_IMM)
            i->imm &= ix_mask(i->size);
        return i->k0 == IK_REG && i->size == 4 ? op_push_r32 : op_push;
    case ZYDIS_MNEMONIC_POP:
        i->size = d->opsize == 16 ? 2 : 4;
        return i->k0 == IK_REG ? op_pop_r : op_pop_m;
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
        i->size = d->opsize == 16 ? 2 : 4;
        return op_pusha;
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
        i->size = d->opsize == 16 ? 2 : 4;
        return op_popa;
    case ZYDIS_MNEMONIC_ENTER:
        i->size = d->opsize == 16 ? 2 : 4;
        i->imm = d->ops[0].imm & 0xFFFF;
        i->imm2 = d->ops[1].imm & 0xFF;
        return op_enter;
    case ZYDIS_MNEMONIC_LEAVE:
        i->size = d->opsize == 16 ? 2 : 4;
        return op_leave;
    default: return NULL;
    }
}
