/* The x87 executor's entry point and state: the device-not-available and
 * pending-exception checks every x87 instruction makes before it runs
 * (SDM Vol. 3A 2.5 Table 2-2, Vol. 1 8.6-8.7), the register stack on the
 * FXSAVE image, the status-word bookkeeping and the last-instruction
 * pointers (Vol. 1 8.1.8). The instructions themselves are in
 * fpu_arith.c, fpu_ldst.c, fpu_misc.c, fpu_trans.c and fpu_env.c; the
 * arithmetic in fpu_sf*.c. */
#include "vmm_helpers/fpu_internal.h"

/* ---- the register stack -------------------------------------------------------- */

void fpu_set_tag(struct hlp_cpu *cpu, unsigned i, bool valid)
{
    uint8_t bit = (uint8_t)(1u << fpu_phys(cpu, i));
    cpu->fx.bytes[FX_FTW] = valid ? cpu->fx.bytes[FX_FTW] | bit : cpu->fx.bytes[FX_FTW] & ~bit;
}

void fpu_st_set(struct hlp_cpu *cpu, unsigned i, struct fpu_f80 v)
{
    memcpy(cpu->fx.bytes + FX_ST0 + 16 * i, &v.sig, 8);
    memcpy(cpu->fx.bytes + FX_ST0 + 16 * i + 8, &v.se, 2);
    fpu_set_tag(cpu, i, true);
}

void fpu_set_fsw(struct hlp_cpu *cpu, uint16_t fsw) { fpu_put16(cpu, FX_FSW, fsw); }

void fpu_set_cc(struct hlp_cpu *cpu, uint16_t which, uint16_t v)
{
    fpu_set_fsw(cpu, (uint16_t)((fpu_fsw(cpu) & ~which) | (v & which)));
}

/* Slot k holds ST(k): when TOP moves by dir, every register's stack
 * index moves the other way, the slots rotate with it. */
void fpu_rotate(struct hlp_cpu *cpu, int dir)
{
    uint8_t *st = cpu->fx.bytes + FX_ST0;
    uint8_t tmp[16];
    if (dir < 0) { /* TOP - 1: old ST(7) becomes ST(0) */
        memcpy(tmp, st + 7 * 16, 16);
        memmove(st + 16, st, 7 * 16);
        memcpy(st, tmp, 16);
    } else {
        memcpy(tmp, st, 16);
        memmove(st, st + 16, 7 * 16);
        memcpy(st + 7 * 16, tmp, 16);
    }
    unsigned top = (fpu_top(cpu) + (dir < 0 ? 7u : 1u)) & 7;
    fpu_set_fsw(cpu, (uint16_t)((fpu_fsw(cpu) & ~FPU_TOP_MASK) | top << FPU_TOP_SHIFT));
}

void fpu_push(struct hlp_cpu *cpu, struct fpu_f80 v)
{
    fpu_rotate(cpu, -1);
    fpu_st_set(cpu, 0, v);
}

void fpu_pop(struct hlp_cpu *cpu)
{
    fpu_set_tag(cpu, 0, false);
    fpu_rotate(cpu, 1);
}

/* Vol. 1 8.1.7, Figure 8-7: 00 valid, 01 zero, 10 special (NaN,
 * infinity, denormal, unsupported), 11 empty. */
unsigned fpu_full_tag_phys(const struct hlp_cpu *cpu, unsigned phys)
{
    if (!((cpu->fx.bytes[FX_FTW] >> phys) & 1))
        return 3;
    struct fpu_f80 v = fpu_st(cpu, (phys - fpu_top(cpu)) & 7);
    switch (fpu_classify(v)) {
    case FPU_NORMAL: return 0;
    case FPU_ZERO: return 1;
    default: return 2;
    }
}

/* ---- status word ------------------------------------------------------------------ */

void fpu_update_es(struct hlp_cpu *cpu)
{
    uint16_t fsw = fpu_fsw(cpu);
    bool was = fsw & FPU_ES;
    /* B mirrors ES on every processor since the 387 (Vol. 1 8.1.3.1). */
    if (fsw & ~fpu_fcw(cpu) & FPU_EXC_MASK)
        fsw |= FPU_ES | FPU_B;
    else
        fsw &= (uint16_t)~(FPU_ES | FPU_B);
    fpu_set_fsw(cpu, fsw);
    /* With CR0.NE clear the PC routes FERR# to IRQ 13 (Vol. 1 D.2.1);
     * the IGNNE# latch at port F0H belongs to the board. */
    if (!was && (fsw & FPU_ES) && !(cpu->cr0 & HLP_CR0_NE) && cpu->m)
        mach_irq_pulse(cpu->m, 13);
}

bool fpu_commit(struct hlp_cpu *cpu, const struct fpu_env *e)
{
    uint16_t fsw = fpu_fsw(cpu);
    fsw |= e->flags & (FPU_EXC_MASK | FPU_SF);
    fsw = (uint16_t)((fsw & ~FPU_C1) | (e->flags & FPU_C1));
    fpu_set_fsw(cpu, fsw);
    fpu_update_es(cpu);
    return !e->suppress;
}

struct fpu_f80 fpu_src(struct hlp_cpu *cpu, struct fpu_env *e, unsigned i, bool *under)
{
    if (!fpu_empty(cpu, i))
        return fpu_st(cpu, i);
    fpu_raise(e, FPU_IE);
    e->flags = (uint16_t)((e->flags | FPU_SF) & ~FPU_C1);
    *under = true;
    return fpu_indefinite;
}

bool fpu_overflow(struct hlp_cpu *cpu, struct fpu_env *e)
{
    if (fpu_empty(cpu, 7))
        return false;
    fpu_raise(e, FPU_IE);
    e->flags |= FPU_SF | FPU_C1;
    return true;
}

/* ---- memory ------------------------------------------------------------------------- */

struct fpu_f80 fpu_read80(struct fpu_insn *x, uint32_t off)
{
    struct fpu_f80 v;
    v.sig = hlp_read64(x->cpu, x->seg, off);
    v.se = hlp_read16(x->cpu, x->seg, off + 8);
    return v;
}

void fpu_write80(struct fpu_insn *x, uint32_t off, struct fpu_f80 v)
{
    hlp_check_write(x->cpu, x->seg, off, 10);
    hlp_write64(x->cpu, x->seg, off, v.sig);
    hlp_write16(x->cpu, x->seg, off + 8, v.se);
}

/* ---- entry ----------------------------------------------------------------------------- */

/* FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE (and the 8087 leftovers
 * FNENI, FNDISI, FNSETPM) do not wait for pending exceptions (Vol. 1
 * 8.3.11). */
static bool is_nowait(const struct fpu_insn *x)
{
    if (x->mem)
        return (x->esc == 1 && x->reg >= 6) || (x->esc == 5 && x->reg >= 6);
    if (x->esc == 3 && x->reg == 4)
        return true; /* DB E0-E7 */
    return x->esc == 7 && x->reg == 4 && x->rm == 0; /* FNSTSW AX */
}

bool fpu_is_control(const struct fpu_insn *x)
{
    if (x->mem)
        return (x->esc == 1 && x->reg >= 4) || (x->esc == 5 && (x->reg == 4 || x->reg >= 6));
    return (x->esc == 3 && x->reg == 4) || (x->esc == 7 && x->reg == 4);
}

/* Device-not-available and pending-exception checks (Vol. 3A Table 2-2,
 * Vol. 1 8.6). FWAIT: #NM only with both MP and TS. */
static void check_x87(struct hlp_cpu *cpu, bool wait_insn, bool nowait)
{
    if (wait_insn) {
        if ((cpu->cr0 & (HLP_CR0_MP | HLP_CR0_TS)) == (HLP_CR0_MP | HLP_CR0_TS))
            hlp_raise(cpu, HLP_VEC_NM, HLP_NO_ERROR_CODE);
    } else if (cpu->cr0 & (HLP_CR0_EM | HLP_CR0_TS)) {
        hlp_raise(cpu, HLP_VEC_NM, HLP_NO_ERROR_CODE);
    }
    /* With CR0.NE clear the exception went out as FERR#/IRQ 13 when it
     * was recorded; the instruction then proceeds as with IGNNE#. */
    if (!nowait && (fpu_fsw(cpu) & FPU_ES) && (cpu->cr0 & HLP_CR0_NE))
        hlp_raise(cpu, HLP_VEC_MF, HLP_NO_ERROR_CODE);
}

/* Vol. 1 8.1.8-8.1.9: every non-control instruction records its address,
 * its opcode (low 3 bits of the first byte and the ModRM byte) and its
 * memory operand. */
static void record_last(struct fpu_insn *x)
{
    struct hlp_cpu *cpu = x->cpu;
    fpu_put16(cpu, FX_FOP, (uint16_t)((x->esc << 8) | x->d->modrm));
    fpu_put32(cpu, FX_FIP, cpu->eip);
    fpu_put16(cpu, FX_FCS, cpu->seg[HLP_CS].sel);
    if (x->mem) {
        fpu_put32(cpu, FX_FDP, x->off);
        fpu_put16(cpu, FX_FDS, cpu->seg[x->seg].sel);
    }
}

static void exec_x87(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    if (d->opcode == 0x9B) { /* FWAIT */
        check_x87(cpu, true, false);
        return;
    }
    struct fpu_insn x = {.cpu = cpu, .d = d, .esc = d->opcode - 0xD8u,
                         .reg = dec_modrm_reg(d), .rm = dec_modrm_rm(d),
                         .mem = dec_modrm_mod(d) != 3, .fcw = fpu_fcw(cpu)};
    if (x.mem) {
        const struct dec_op *op = NULL;
        for (unsigned k = 0; k < d->n_ops; k++)
            if (d->ops[k].kind == DEC_OP_MEM)
                op = &d->ops[k];
        if (!op)
            hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
        x.seg = op->mem.seg;
        x.off = hlp_op_ea(cpu, d, op);
    }
    check_x87(cpu, false, is_nowait(&x));
    bool done;
    switch (x.esc) {
    case 0: case 2: case 4: case 6: done = fpu_exec_arith(&x) || fpu_exec_load(&x); break;
    case 1:
        done = x.mem ? (x.reg >= 4 ? fpu_exec_control(&x) : fpu_exec_load(&x))
                     : fpu_exec_load(&x) || fpu_exec_d9(&x);
        break;
    default:
        done = fpu_exec_load(&x) || fpu_exec_arith(&x) || fpu_exec_control(&x) ||
               fpu_exec_d9(&x);
        break;
    }
    if (!done)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    if (!fpu_is_control(&x))
        record_last(&x);
}

bool hlp_exec_fpu(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    if (!(d->flags & (DEC_F_X87 | DEC_F_SIMD | DEC_F_VEX | DEC_F_EVEX | DEC_F_XOP)))
        return false;
    hlp_fx_sync(cpu);
    uint32_t next = cpu->eip + d->len;
    if (!hlp_code32(cpu))
        next &= 0xFFFF;
    bool x87 = d->map == DEC_MAP_1B && !(d->flags & (DEC_F_VEX | DEC_F_EVEX | DEC_F_XOP)) &&
               ((d->opcode >= 0xD8 && d->opcode <= 0xDF) || d->opcode == 0x9B);
    if (x87)
        exec_x87(cpu, d);
    else if (!fpu_exec_fxsr(cpu, d))
        /* MMX, SSE and later: not executed by this interpreter yet, so
         * the model must not advertise them (docs/fpu-status.md). */
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    cpu->eip = next;
    return true;
}
