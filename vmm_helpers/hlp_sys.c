/* hlp_exec_system: the one entry point for the privileged and sensitive
 * instructions, shared by the interpreter and the translator's helper
 * calls. Control transfers (far JMP/CALL/RET, INT, IRET, SYSENTER/SYSEXIT,
 * HLT) are handled here; the other groups live in hlp_sys_*.c and
 * hlp_io.c and leave EIP to this file, which moves it past the
 * instruction once the group returns. */
#include "vmm_helpers/hlp_sys_internal.h"

void hlp_require_cpl0(struct hlp_cpu *cpu)
{
    if (cpu->cpl != 0)
        hlp_raise(cpu, HLP_VEC_GP, 0);
}

/* ---- EFLAGS: CLI, STI, PUSHF, POPF (Vol. 2A CLI/STI, Vol. 2B PUSHF/POPF) ---- */

/* IF may change in protected mode when CPL <= IOPL and in V86 mode when
 * IOPL = 3 (no PVI/VME on the popek CPU, 20.2.7); real mode always. */
static void check_if_privilege(struct hlp_cpu *cpu)
{
    if (!hlp_protected(cpu))
        return;
    unsigned need = hlp_v86(cpu) ? 3 : cpu->cpl;
    if (hlp_iopl(cpu) < need)
        hlp_raise(cpu, HLP_VEC_GP, 0);
}

/* PUSHF/POPF, INT n and IRET raise #GP(0) in V86 mode below IOPL 3. */
static void check_v86_iopl(struct hlp_cpu *cpu)
{
    if (hlp_v86(cpu) && hlp_iopl(cpu) != 3)
        hlp_raise(cpu, HLP_VEC_GP, 0);
}

void hlp_write_eflags_popf(struct hlp_cpu *cpu, uint32_t value, unsigned size)
{
    check_v86_iopl(cpu);
    uint32_t mask = HLP_FL_ARITH | HLP_FL_TF | HLP_FL_DF | HLP_FL_NT | HLP_FL_AC | HLP_FL_ID;
    bool real_or_cpl0 = !hlp_protected(cpu) || (!hlp_v86(cpu) && cpu->cpl == 0);
    if (real_or_cpl0)
        mask |= HLP_FL_IOPL | HLP_FL_IF;
    else if (hlp_v86(cpu) || cpu->cpl <= hlp_iopl(cpu))
        mask |= HLP_FL_IF;
    if (size == 2)
        mask &= 0xFFFF;
    uint32_t eflags = (cpu->eflags & ~mask) | (value & mask);
    /* POPFD clears RF; VM, VIP and VIF are never popped. */
    if (size == 4)
        eflags &= ~HLP_FL_RF;
    cpu->eflags = hlp_eflags_fix(eflags);
}

static bool exec_flags(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    unsigned sz = d->opsize / 8;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
        check_if_privilege(cpu);
        cpu->eflags &= ~HLP_FL_IF;
        return true;
    case ZYDIS_MNEMONIC_STI:
        check_if_privilege(cpu);
        /* 6.8.3: interrupts stay blocked for one more instruction only
         * when STI sets IF. */
        if (!(cpu->eflags & HLP_FL_IF))
            cpu->intr_shadow = true;
        cpu->eflags |= HLP_FL_IF;
        return true;
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
        check_v86_iopl(cpu);
        /* The image has VM and RF clear (Vol. 2B PUSHF). */
        hlp_push(cpu, cpu->eflags & ~(HLP_FL_VM | HLP_FL_RF), sz);
        return true;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD: {
        check_v86_iopl(cpu);
        uint32_t v = hlp_stack_peek(cpu, 0, sz);
        hlp_write_eflags_popf(cpu, v, sz);
        cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], sz);
        return true;
    }
    default:
        return false;
    }
}

/* ---- segment registers: MOV, PUSH, POP, LDS.. (Vol. 2A/2B) ------------------- */

static bool is_sreg(const struct dec_op *op)
{
    return op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_SEG;
}

static void load_sreg_shadowed(struct hlp_cpu *cpu, unsigned seg, uint16_t sel)
{
    hlp_load_sreg(cpu, seg, sel);
    /* MOV SS and POP SS hold off interrupts and debug traps for one
     * instruction, so SS:ESP can be changed as a pair (6.8.3). */
    if (seg == HLP_SS)
        cpu->intr_shadow = true;
}

static bool exec_sreg(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    unsigned sz = d->opsize / 8;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        if (d->n_ops >= 2 && is_sreg(&d->ops[0])) {
            load_sreg_shadowed(cpu, d->ops[0].reg.num, (uint16_t)hlp_op_read(cpu, d, &d->ops[1]));
            return true;
        }
        if (d->n_ops >= 2 && is_sreg(&d->ops[1])) {
            /* To a 32-bit register the selector is zero-extended (P6 and
             * later); to memory it is always a word. */
            hlp_op_write(cpu, d, &d->ops[0], cpu->seg[d->ops[1].reg.num].sel);
            return true;
        }
        return false;
    case ZYDIS_MNEMONIC_PUSH: {
        if (!is_sreg(&d->ops[0]))
            return false;
        /* With a 32-bit operand size the selector is written with a
         * 16-bit store, ESP still moving by 4 (Vol. 2B PUSH). */
        const struct hlp_seg *ss = &cpu->seg[HLP_SS];
        uint32_t esp = hlp_stack_adjust(ss, cpu->gpr[HLP_ESP], (uint32_t)-sz);
        uint32_t off = ss->attr & HLP_SEG_DB ? esp : esp & 0xFFFF;
        hlp_check_write(cpu, HLP_SS, off, sz);
        hlp_write16(cpu, HLP_SS, off, cpu->seg[d->ops[0].reg.num].sel);
        cpu->gpr[HLP_ESP] = esp;
        return true;
    }
    case ZYDIS_MNEMONIC_POP: {
        if (!is_sreg(&d->ops[0]))
            return false;
        uint16_t sel = (uint16_t)hlp_stack_peek(cpu, 0, sz);
        load_sreg_shadowed(cpu, d->ops[0].reg.num, sel);
        cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], sz);
        return true;
    }
    default:
        break;
    }
    unsigned seg;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_LDS: seg = HLP_DS; break;
    case ZYDIS_MNEMONIC_LES: seg = HLP_ES; break;
    case ZYDIS_MNEMONIC_LFS: seg = HLP_FS; break;
    case ZYDIS_MNEMONIC_LGS: seg = HLP_GS; break;
    case ZYDIS_MNEMONIC_LSS: seg = HLP_SS; break;
    default: return false;
    }
    /* LDS r, m16:16/32: offset first, selector after it (Vol. 2A LDS). */
    const struct dec_op *m = &d->ops[1];
    if (m->kind != DEC_OP_MEM)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    uint32_t ea = hlp_op_ea(cpu, d, m);
    uint32_t off = sz == 2 ? hlp_read16(cpu, m->mem.seg, ea) : hlp_read32(cpu, m->mem.seg, ea);
    uint32_t sel_ea = d->addrsize == 16 ? (ea + sz) & 0xFFFF : ea + sz;
    uint16_t sel = hlp_read16(cpu, m->mem.seg, sel_ea);
    hlp_load_sreg(cpu, seg, sel);
    hlp_gpr_set(cpu, &d->ops[0].reg, off);
    return true;
}

/* ---- control transfers ------------------------------------------------------- */

/* The far pointer of JMP/CALL far: ptr16:16/32 in the instruction or
 * m16:16/32 in memory, offset first. */
static void far_target(struct hlp_cpu *cpu, const struct dec_insn *d, uint16_t *sel, uint32_t *off)
{
    const struct dec_op *op = &d->ops[0];
    if (op->kind == DEC_OP_PTR) {
        *sel = op->ptr.seg;
        *off = op->ptr.off;
        return;
    }
    if (op->kind != DEC_OP_MEM)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    unsigned sz = d->opsize / 8;
    uint32_t ea = hlp_op_ea(cpu, d, op);
    *off = sz == 2 ? hlp_read16(cpu, op->mem.seg, ea) : hlp_read32(cpu, op->mem.seg, ea);
    *sel = hlp_read16(cpu, op->mem.seg, d->addrsize == 16 ? (ea + sz) & 0xFFFF : ea + sz);
}

static void exec_int(struct hlp_cpu *cpu, const struct dec_insn *d, uint32_t next)
{
    switch (d->cf) {
    case DEC_CF_INT:
        /* INT n in V86 mode needs IOPL 3 (20.2.7); INT3 and INTO do not. */
        check_v86_iopl(cpu);
        hlp_deliver_soft(cpu, d->ops[0].imm & 0xFF, HLP_EVENT_SOFTWARE, next);
        return;
    case DEC_CF_INT3:
        hlp_deliver_soft(cpu, HLP_VEC_BP, HLP_EVENT_SOFTWARE, next);
        return;
    case DEC_CF_INTO:
        if (cpu->eflags & HLP_FL_OF)
            hlp_deliver_soft(cpu, HLP_VEC_OF, HLP_EVENT_SOFTWARE, next);
        else
            cpu->eip = next;
        return;
    default: /* INT1 (ICEBP): a #DB trap without the gate's DPL check */
        hlp_deliver_soft(cpu, HLP_VEC_DB, HLP_EVENT_ICEBP, next);
        return;
    }
}

static bool exec_control(struct hlp_cpu *cpu, const struct dec_insn *d, uint32_t next)
{
    uint16_t sel;
    uint32_t off;
    switch (d->cf) {
    case DEC_CF_JMP_FAR:
        far_target(cpu, d, &sel, &off);
        hlp_far_jmp(cpu, sel, off, d->opsize, next);
        return true;
    case DEC_CF_CALL_FAR:
        far_target(cpu, d, &sel, &off);
        hlp_far_call(cpu, sel, off, d->opsize, next);
        return true;
    case DEC_CF_RET_FAR:
        hlp_far_ret(cpu, d->opsize, d->n_ops > 0 ? (uint16_t)d->ops[0].imm : 0);
        return true;
    case DEC_CF_IRET:
        hlp_iret(cpu, d->opsize, next);
        return true;
    case DEC_CF_INT:
    case DEC_CF_INT3:
    case DEC_CF_INTO:
    case DEC_CF_INT1:
        exec_int(cpu, d, next);
        return true;
    case DEC_CF_HLT:
        hlp_require_cpl0(cpu);
        cpu->eip = next;
        cpu->halted = true;
        return true;
    case DEC_CF_SYSENTER:
    case DEC_CF_SYSEXIT:
        return hlp_exec_msr(cpu, d);
    case DEC_CF_SYSCALL:
    case DEC_CF_SYSRET:
        /* Not on a P6 (CPUID.80000001H:EDX.SYSCALL is clear). */
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    default:
        return false;
    }
}

bool hlp_exec_system(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    /* IP wraps within 64 KiB in 16-bit code. */
    uint32_t next = cpu->eip + d->len;
    if (!hlp_code32(cpu))
        next &= 0xFFFF;
    if ((d->flags & DEC_F_PM_ONLY) && (!hlp_protected(cpu) || hlp_v86(cpu)))
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    if (d->cf != DEC_CF_NONE)
        return exec_control(cpu, d, next);
    if (hlp_exec_io(cpu, d, next))
        return true;
    if (exec_flags(cpu, d) || exec_sreg(cpu, d) || hlp_exec_cr(cpu, d) || hlp_exec_desc(cpu, d) ||
        hlp_exec_msr(cpu, d)) {
        cpu->eip = next;
        return true;
    }
    /* Privileged instructions of extensions the popek CPU lacks (VMX,
     * SVM, SMAP, MONITOR, ...): #UD, as on a P6. */
    if (d->cls == DEC_CLASS_PRIVILEGED || d->cls == DEC_CLASS_IOPL || d->cls == DEC_CLASS_IO)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    return false;
}
