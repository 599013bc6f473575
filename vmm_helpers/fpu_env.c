/* The x87 control instructions and the state images: FLDCW, FNSTCW,
 * FNSTSW, FNCLEX, FNINIT, FLDENV, FNSTENV, FRSTOR, FNSAVE in the four
 * layouts of SDM Vol. 1 8.1.10 (Figures 8-9 to 8-12: 16/32-bit operand
 * size, protected or real/V86 mode), and FXSAVE/FXRSTOR (Vol. 1 10.5,
 * Table 10-2). */
#include "vmm_helpers/fpu_internal.h"

#define FNINIT_FCW 0x037Fu

/* Real-address and V86 mode images hold linear instruction and operand
 * addresses (Vol. 1 8.1.10). */
static bool real_layout(const struct hlp_cpu *cpu) { return !hlp_protected(cpu) || hlp_v86(cpu); }

/* ---- environment images --------------------------------------------------------- */

/* The 7 fields as the image holds them, in dwords (32-bit) or words. */
static void env_fields(struct hlp_cpu *cpu, uint32_t f[7], bool op32)
{
    uint16_t ftw = 0;
    for (unsigned r = 0; r < 8; r++)
        ftw |= (uint16_t)(fpu_full_tag_phys(cpu, r) << (2 * r));
    uint32_t fip = fpu_get32(cpu, FX_FIP), fdp = fpu_get32(cpu, FX_FDP);
    uint16_t fcs = fpu_get16(cpu, FX_FCS), fds = fpu_get16(cpu, FX_FDS);
    uint32_t fop = fpu_get16(cpu, FX_FOP) & 0x7FF;
    /* Reserved upper halves read as ones on Intel processors. */
    uint32_t hi = op32 ? 0xFFFF0000u : 0;
    f[0] = fpu_fcw(cpu) | hi;
    f[1] = fpu_fsw(cpu) | hi;
    f[2] = ftw | hi;
    if (real_layout(cpu)) {
        uint32_t lip = fip + ((uint32_t)fcs << 4), ldp = fdp + ((uint32_t)fds << 4);
        f[3] = (lip & 0xFFFF) | hi;
        f[4] = fop | ((lip >> 16) << 12);
        f[5] = (ldp & 0xFFFF) | hi;
        f[6] = (ldp >> 16) << 12;
        if (!op32) {
            f[4] &= 0xFFFF;
            f[6] &= 0xFFFF;
        }
    } else {
        f[3] = op32 ? fip : fip & 0xFFFF;
        f[4] = fcs | (op32 ? fop << 16 : 0);
        f[5] = op32 ? fdp : fdp & 0xFFFF;
        f[6] = fds | hi;
    }
}

static unsigned env_size(bool op32) { return op32 ? 28 : 14; }

static void store_env(struct fpu_insn *x, bool op32)
{
    uint32_t f[7];
    env_fields(x->cpu, f, op32);
    for (unsigned k = 0; k < 7; k++) {
        if (op32)
            hlp_write32(x->cpu, x->seg, x->off + 4 * k, f[k]);
        else
            hlp_write16(x->cpu, x->seg, x->off + 2 * k, (uint16_t)f[k]);
    }
}

/* Reads an image into the x87 state; nothing is committed before every
 * read has succeeded. */
static void load_env_fields(struct hlp_cpu *cpu, const uint32_t f[7], bool op32)
{
    fpu_put16(cpu, FX_FCW, (uint16_t)f[0]);
    fpu_put16(cpu, FX_FSW, (uint16_t)f[1]);
    if (real_layout(cpu)) {
        fpu_put32(cpu, FX_FIP, (f[3] & 0xFFFF) | ((f[4] >> 12) << 16));
        fpu_put16(cpu, FX_FOP, (uint16_t)(f[4] & 0x7FF));
        fpu_put16(cpu, FX_FCS, 0);
        fpu_put32(cpu, FX_FDP, (f[5] & 0xFFFF) | ((f[6] >> 12) << 16));
        fpu_put16(cpu, FX_FDS, 0);
    } else {
        fpu_put32(cpu, FX_FIP, op32 ? f[3] : f[3] & 0xFFFF);
        fpu_put16(cpu, FX_FCS, (uint16_t)f[4]);
        fpu_put16(cpu, FX_FOP, op32 ? (uint16_t)((f[4] >> 16) & 0x7FF) : 0);
        fpu_put32(cpu, FX_FDP, op32 ? f[5] : f[5] & 0xFFFF);
        fpu_put16(cpu, FX_FDS, (uint16_t)f[6]);
    }
    /* Only "empty or not" survives into the abridged tag; the processor
     * recomputes the other tag values from the contents (Vol. 1 8.1.7). */
    uint8_t ftw = 0;
    for (unsigned r = 0; r < 8; r++)
        if (((f[2] >> (2 * r)) & 3) != 3)
            ftw |= (uint8_t)(1u << r);
    cpu->fx.bytes[FX_FTW] = ftw;
    fpu_update_es(cpu);
}

static void read_env(struct fpu_insn *x, bool op32, uint32_t f[7])
{
    for (unsigned k = 0; k < 7; k++)
        f[k] = op32 ? hlp_read32(x->cpu, x->seg, x->off + 4 * k)
                    : hlp_read16(x->cpu, x->seg, x->off + 2 * k);
}

static void fninit(struct hlp_cpu *cpu)
{
    fpu_put16(cpu, FX_FCW, FNINIT_FCW);
    fpu_put16(cpu, FX_FSW, 0);
    cpu->fx.bytes[FX_FTW] = 0;
    fpu_put16(cpu, FX_FOP, 0);
    fpu_put32(cpu, FX_FIP, 0);
    fpu_put16(cpu, FX_FCS, 0);
    fpu_put32(cpu, FX_FDP, 0);
    fpu_put16(cpu, FX_FDS, 0);
}

/* FNSTENV, FNSAVE: the whole image is checked writable first. FNSTENV
 * then masks every exception; FNSAVE reinitializes (Vol. 2A). */
static void save(struct fpu_insn *x, bool full)
{
    struct hlp_cpu *cpu = x->cpu;
    bool op32 = x->d->opsize == 32;
    unsigned env = env_size(op32);
    hlp_check_write(cpu, x->seg, x->off, env + (full ? 80 : 0));
    store_env(x, op32);
    if (full) {
        for (unsigned i = 0; i < 8; i++)
            fpu_write80(x, x->off + env + 10 * i, fpu_st(cpu, i));
        fninit(cpu);
    } else {
        fpu_put16(cpu, FX_FCW, fpu_fcw(cpu) | FPU_EXC_MASK);
        fpu_update_es(cpu);
    }
}

static void restore(struct fpu_insn *x, bool full)
{
    struct hlp_cpu *cpu = x->cpu;
    bool op32 = x->d->opsize == 32;
    uint32_t f[7];
    struct fpu_f80 st[8];
    read_env(x, op32, f);
    if (full)
        for (unsigned i = 0; i < 8; i++)
            st[i] = fpu_read80(x, x->off + env_size(op32) + 10 * i);
    load_env_fields(cpu, f, op32);
    if (full) {
        for (unsigned i = 0; i < 8; i++) {
            memcpy(cpu->fx.bytes + FX_ST0 + 16 * i, &st[i].sig, 8);
            memcpy(cpu->fx.bytes + FX_ST0 + 16 * i + 8, &st[i].se, 2);
        }
    }
}

bool fpu_exec_control(struct fpu_insn *x)
{
    struct hlp_cpu *cpu = x->cpu;
    if (x->mem) {
        switch (x->esc << 3 | x->reg) {
        case 1 << 3 | 4: restore(x, false); return true;           /* FLDENV */
        case 1 << 3 | 5:                                            /* FLDCW */
            fpu_put16(cpu, FX_FCW, hlp_read16(cpu, x->seg, x->off));
            fpu_update_es(cpu);
            return true;
        case 1 << 3 | 6: save(x, false); return true;              /* FNSTENV */
        case 1 << 3 | 7: hlp_write16(cpu, x->seg, x->off, fpu_fcw(cpu)); return true;
        case 5 << 3 | 4: restore(x, true); return true;            /* FRSTOR */
        case 5 << 3 | 6: save(x, true); return true;               /* FNSAVE */
        case 5 << 3 | 7: hlp_write16(cpu, x->seg, x->off, fpu_fsw(cpu)); return true;
        default: return false;
        }
    }
    if (x->esc == 7 && x->reg == 4 && x->rm == 0) { /* FNSTSW AX */
        cpu->gpr[HLP_EAX] = (cpu->gpr[HLP_EAX] & 0xFFFF0000u) | fpu_fsw(cpu);
        return true;
    }
    if (x->esc != 3 || x->reg != 4)
        return false;
    switch (x->rm) {
    case 0: case 1: case 4: /* FNENI, FNDISI, FNSETPM: no-ops since the 387 */
        return true;
    case 2: /* FNCLEX (Vol. 2A FCLEX) */
        fpu_set_fsw(cpu, fpu_fsw(cpu) & (uint16_t)~(FPU_EXC_MASK | FPU_SF | FPU_ES | FPU_B));
        return true;
    case 3: fninit(cpu); return true;
    default: return false;
    }
}

/* ---- FXSAVE / FXRSTOR ---------------------------------------------------------------- */

/* Bytes 0-159 are the x87 part (with MXCSR at 24), 160-287 XMM0-7;
 * the rest of the 512 bytes is reserved or left to software and not
 * written (Vol. 2A FXSAVE). */
#define FX_X87_END 160
#define FX_XMM_END 288

bool fpu_exec_fxsr(struct hlp_cpu *cpu, const struct dec_insn *d)
{
    bool save_op = d->mnemonic == ZYDIS_MNEMONIC_FXSAVE;
    if (!save_op && d->mnemonic != ZYDIS_MNEMONIC_FXRSTOR)
        return false;
    if (!(cpu->model.options & HLP_CPU_FXSR) || dec_modrm_mod(d) == 3)
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    if (cpu->cr0 & (HLP_CR0_EM | HLP_CR0_TS))
        hlp_raise(cpu, HLP_VEC_NM, HLP_NO_ERROR_CODE);
    const struct dec_op *op = &d->ops[0];
    unsigned seg = op->mem.seg;
    uint32_t off = hlp_op_ea(cpu, d, op);
    if ((cpu->seg[seg].base + off) & 15)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    /* The XMM state only when the OS declared FXSAVE support
     * (CR4.OSFXSR); without SSE the area is reserved. */
    bool xmm = (cpu->cr4 & HLP_CR4_OSFXSR) && (cpu->model.options & HLP_CPU_SSE);
    unsigned end = xmm ? FX_XMM_END : FX_X87_END;
    if (save_op) {
        hlp_check_write(cpu, seg, off, end);
        fpu_put32(cpu, FX_MXCSR_MASK, (cpu->model.options & HLP_CPU_SSE) ? FPU_MXCSR_MASK : 0);
        for (unsigned k = 0; k < end; k += 4)
            hlp_write32(cpu, seg, off + k, fpu_get32(cpu, k));
        return true;
    }
    uint8_t img[FX_XMM_END];
    for (unsigned k = 0; k < end; k += 4) {
        uint32_t v = hlp_read32(cpu, seg, off + k);
        memcpy(img + k, &v, 4);
    }
    uint32_t mxcsr;
    memcpy(&mxcsr, img + FX_MXCSR, 4);
    if ((cpu->model.options & HLP_CPU_SSE) && (mxcsr & ~FPU_MXCSR_MASK))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    if (!(cpu->model.options & HLP_CPU_SSE))
        memcpy(img + FX_MXCSR, cpu->fx.bytes + FX_MXCSR, 8);
    memcpy(cpu->fx.bytes, img, end);
    fpu_update_es(cpu);
    return true;
}
