/* x87 instructions in translated code: they run on the host FPU, which
 * holds the guest's x87 registers while translated code may use them
 * (ownership and the last-instruction pointers: bt_x87.h).
 *
 * What runs natively is what x87 state and the memory operand define
 * completely: loads, stores and conversions, arithmetic, compares (FCOMI
 * and FUCOMI write the guest's EFLAGS, which are the host's), FXCH,
 * FCMOVcc, the constants, the transcendentals, FLDCW/FNSTCW/FNSTSW/
 * FNCLEX and FWAIT. The interpreter keeps what stores or loads the
 * pointers as a whole (FNSTENV, FLDENV, FNSAVE, FRSTOR; FXSAVE and
 * FXRSTOR are system instructions anyway), FNINIT (it clears them), the
 * reserved aliases and no-op encodings, FISTTP (SSE3, #UD on the popek
 * CPU), and any form with a prefix other than a segment override.
 *
 * Faults stay precise: the x87 instruction is the first host
 * instruction of its guest instruction. A memory fault leaves the x87
 * state unchanged (SDM Vol. 1 8.1.8), the pointers are those of the
 * instructions before it (bt_x87_exited), and the interpreter redoes
 * it. An unmasked exception
 * is pending in the host FPU as in the guest's; the next waiting x87
 * instruction raises #MF, which the host kernel turns into SIGFPE at
 * that instruction (bt_signal.c leaves there); the interpreter redoes
 * it and, after the write-back brought ES over, raises the #MF (SDM
 * Vol. 1 8.6). */
#include "translator/bt_asm.h"

#include <string.h>

/* FXSAVE image offsets (SDM Vol. 1 Table 10-2); fpu_internal.h has the
 * same for fpu*.c. */
enum { FX_FCW = 0, FX_FTW = 4, FX_FOP = 6, FX_FIP = 8, FX_FCS = 12, FX_FDP = 16, FX_FDS = 20,
       FX_MXCSR = 24, FX_ST0 = 32 };
#define FX_ST_BYTES 10 /* of each 16-byte register slot */
_Static_assert(FX_ST0 + 8 * 16 == 160, "FXSAVE layout: XMM0 at byte 160");

uint32_t bt_x87_mode(const struct hlp_cpu *cpu)
{
    bool native = !(cpu->cr0 & (HLP_CR0_EM | HLP_CR0_TS)) && (cpu->cr0 & HLP_CR0_NE);
    return native ? BT_MODE_X87 : 0;
}

enum x87_kind {
    X87_NO,      /* the interpreter's */
    X87_INSN,    /* native; sets FIP/FOP (and FDP/FDS with memory) */
    X87_CONTROL, /* native; a control instruction sets none (Vol. 1 8.1.8) */
};
static enum x87_kind classify(const struct dec_insn *d, uint32_t mode, const struct dec_op **m);
#define ALL_FLAT (0x3Fu << BT_MODE_FLAT_SHIFT)

/* ---- ownership -------------------------------------------------------------- */

/* A fault inside a group left at rt.eip before the group's code stored
 * the pointers: the instructions from group_eip up to it, decoded again
 * (the same bytes: their page is write-protected or hash-checked, and
 * the fault changed no mapping), give them, with the registers the
 * group ran with. */
static void group_interrupted(struct bt *bt)
{
    struct hlp_cpu *cpu = bt->cpu;
    struct bt_x87_rec *r = &bt->x87.rec;
    uint32_t eip = r->group_eip;
    r->group = 0;
    for (unsigned n = 0; n < TC_MAX_INSNS && eip != bt->rt.eip; n++) {
        struct mmu_fetch f;
        struct mmu_fault fault;
        struct dec_insn d;
        const struct dec_op *m;
        if (mmu_fetch(&cpu->mmu, eip, mmu_acc(cpu->cpl, MMU_ACC_EXEC), &f, &fault) != MMU_OK ||
            dec_decode(&cpu->dec, DEC_MODE_32, f.host, f.avail, &d) != DEC_OK)
            return;
        enum x87_kind k = classify(&d, ALL_FLAT | BT_MODE_X87, &m);
        if (k == X87_NO)
            return;
        if (k == X87_INSN) {
            r->fip = eip;
            r->fop = (uint16_t)((d.opcode - 0xD8u) << 8 | d.modrm);
            r->fcs_new = 1;
        }
        if (k == X87_INSN && m) {
            uint32_t ea = (uint32_t)m->mem.disp;
            if (m->mem.base != DEC_NOREG)
                ea += bt->rt.gpr[m->mem.base];
            if (m->mem.index != DEC_NOREG)
                ea += bt->rt.gpr[m->mem.index] * m->mem.scale;
            r->fdp = ea;
            r->fds_seg = m->mem.seg;
            r->fds_new = 1;
        }
        eip += d.len;
    }
}

void bt_x87_exited(struct bt *bt)
{
    struct bt_x87 *x = &bt->x87;
    if (x->rec.group)
        group_interrupted(bt);
    if (x->rec.fcs_new) {
        x->fcs = bt->cpu->seg[HLP_CS].sel;
        x->rec.fcs_new = 0;
    }
    if (x->rec.fds_new) {
        x->fds = bt->cpu->seg[x->rec.fds_seg].sel;
        x->rec.fds_new = 0;
    }
}

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* FXRSTOR also loads MXCSR and XMM0-15 (SDM Vol. 2A FXRSTOR): the image
 * keeps the host's MXCSR, and the XMM registers are caller-saved in the
 * C ABI, so no C code holds a value in them across this. */
void bt_x87_load(struct bt *bt)
{
    struct bt_x87 *x = &bt->x87;
    const uint8_t *fx = bt->cpu->fx.bytes;
    memcpy(x->img, fx, FX_MXCSR);
    for (unsigned i = 0; i < 8; i++)
        memcpy(x->img + FX_ST0 + 16 * i, fx + FX_ST0 + 16 * i, FX_ST_BYTES);
    x->rec = (struct bt_x87_rec){.fip = get32(fx + FX_FIP), .fop = get16(fx + FX_FOP),
                                 .fdp = get32(fx + FX_FDP)};
    x->fcs = get16(fx + FX_FCS);
    x->fds = get16(fx + FX_FDS);
    __asm__ volatile("fxrstor %0"
                     :
                     : "m"(x->img)
                     : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    bt->cpu->fx_owner = &x->owner;
    bt->stats.x87_loads++;
}

/* hlp_fx_sync: FXSAVE does not wait for a pending exception (SDM Vol. 2A
 * FXSAVE), so the image keeps ES for the interpreter to act on; FNINIT
 * (no-wait too) leaves the host FPU as the C ABI expects it. The host's
 * pointers are replaced by the guest's; the bytes the host does not own
 * (reserved ones, MXCSR, XMM) stay as cpu->fx has them, as they do when
 * fpu.c runs the instructions. Never called in a signal handler, which
 * runs on a fresh FPU state (the interrupted one returns at sigreturn). */
static void sync(struct hlp_fx_owner *owner, struct hlp_cpu *cpu)
{
    struct bt *bt = (struct bt *)((char *)owner - offsetof(struct bt, x87.owner));
    struct bt_x87 *x = &bt->x87;
    uint8_t *fx = cpu->fx.bytes;
    bt_x87_exited(bt);
    __asm__ volatile("fxsave %0\n\tfninit" : "=m"(x->img) : : "memory");
    memcpy(fx, x->img, FX_FTW + 1);
    memcpy(fx + FX_FOP, &x->rec.fop, 2);
    memcpy(fx + FX_FIP, &x->rec.fip, 4);
    memcpy(fx + FX_FCS, &x->fcs, 2);
    memcpy(fx + FX_FDP, &x->rec.fdp, 4);
    memcpy(fx + FX_FDS, &x->fds, 2);
    for (unsigned i = 0; i < 8; i++)
        memcpy(fx + FX_ST0 + 16 * i, x->img + FX_ST0 + 16 * i, FX_ST_BYTES);
    cpu->fx_owner = NULL;
    bt->stats.x87_syncs++;
}

void bt_x87_init(struct bt *bt)
{
    bt->x87.owner.sync = sync;
    /* An image with the host's MXCSR (and a valid layout) to load from. */
    __asm__ volatile("fxsave %0" : "=m"(bt->x87.img) : : "memory");
}

/* ---- the emitter ------------------------------------------------------------- */

/* Memory forms D8-DF /reg (SDM Vol. 2A Table A-7 ff.; Vol. 1 8.1.8 for
 * the control ones). */
static enum x87_kind mem_form(unsigned esc, unsigned reg)
{
    switch (esc) {
    case 1: /* D9: FLD, FST, FSTP m32, FLDCW, FNSTCW; FLDENV, FNSTENV stay */
        if (reg == 5 || reg == 7)
            return X87_CONTROL;
        return reg == 0 || reg == 2 || reg == 3 ? X87_INSN : X87_NO;
    case 3: /* DB: FILD, FIST, FISTP m32, FLD, FSTP m80; FISTTP is SSE3 */
        return reg == 0 || reg == 2 || reg == 3 || reg == 5 || reg == 7 ? X87_INSN : X87_NO;
    case 5: /* DD: FLD, FST, FSTP m64, FNSTSW m16; FRSTOR, FNSAVE, FISTTP stay */
        if (reg == 7)
            return X87_CONTROL;
        return reg == 0 || reg == 2 || reg == 3 ? X87_INSN : X87_NO;
    case 7: /* DF: FILD, FIST, FISTP m16, FBLD, FILD m64, FBSTP, FISTP m64 */
        return reg == 1 ? X87_NO : X87_INSN;
    default: /* D8, DA, DC, DE: arithmetic and compares with m32/m64/m32int/m16int */
        return X87_INSN;
    }
}

/* Register forms, m = ModRM - C0H (row m >> 3 is the /reg digit). The
 * encodings left out are reserved, aliases (FSTP1, FCOM2, FXCH4, FCOMP5,
 * FFREEP, ...) or the 8087's no-ops. */
static enum x87_kind reg_form(unsigned esc, unsigned m)
{
    unsigned row = m >> 3;
    switch (esc) {
    case 0: /* D8: FADD..FDIVR ST(0), ST(i); FCOM, FCOMP */
        return X87_INSN;
    case 1: /* D9: FLD, FXCH, FNOP, FCHS, FABS, FTST, FXAM, constants, F0-FF */
        if (row <= 1 || m == 0x10 || m == 0x20 || m == 0x21 || m == 0x24 || m == 0x25 ||
            (m >= 0x28 && m <= 0x2E) || row >= 6)
            return X87_INSN;
        return X87_NO;
    case 2: /* DA: FCMOVB/E/BE/U, FUCOMPP */
        return row <= 3 || m == 0x29 ? X87_INSN : X87_NO;
    case 3: /* DB: FCMOVNB/NE/NBE/NU, FUCOMI, FCOMI; FNCLEX (FNINIT stays) */
        if (m == 0x22)
            return X87_CONTROL;
        return row <= 3 || row == 5 || row == 6 ? X87_INSN : X87_NO;
    case 4: /* DC: FADD, FMUL, FSUBR, FSUB, FDIVR, FDIV ST(i), ST(0) */
        return row == 2 || row == 3 ? X87_NO : X87_INSN;
    case 5: /* DD: FFREE, FST, FSTP, FUCOM, FUCOMP */
        return row == 1 || row >= 6 ? X87_NO : X87_INSN;
    case 6: /* DE: FADDP, FMULP, FCOMPP, FSUBRP, FSUBP, FDIVRP, FDIVP */
        return row == 2 || (row == 3 && m != 0x19) ? X87_NO : X87_INSN;
    default: /* DF: FNSTSW AX, FUCOMIP, FCOMIP */
        if (m == 0x20)
            return X87_CONTROL;
        return row == 5 || row == 6 ? X87_INSN : X87_NO;
    }
}

/* Segment overrides only: 66, 67, F0, F2 and F3 on x87 opcodes are
 * reserved or select other forms (FNSTENV's 16-bit layout). */
static bool plain_prefixes(const struct dec_insn *d)
{
    for (unsigned i = 0; i + 1 < d->len; i++) {
        switch (d->bytes[i]) {
        case 0x26: case 0x2E: case 0x36: case 0x3E: case 0x64: case 0x65:
            continue;
        case 0x66: case 0x67: case 0xF0: case 0xF2: case 0xF3:
            return false;
        default:
            return true;
        }
    }
    return true;
}

/* How d runs in a block of the given mode; *m gets its memory operand. */
static enum x87_kind classify(const struct dec_insn *d, uint32_t mode, const struct dec_op **m)
{
    *m = NULL;
    if (!(mode & BT_MODE_X87) || !(d->flags & DEC_F_X87) || d->map != DEC_MAP_1B ||
        d->addrsize != 32 || d->cls != DEC_CLASS_INNOCUOUS || !plain_prefixes(d))
        return X87_NO;
    if (d->opcode == 0x9B) /* FWAIT: waits for (raises) a pending exception */
        return X87_CONTROL;
    if (d->opcode < 0xD8 || !(d->flags & DEC_F_MODRM))
        return X87_NO;
    unsigned esc = d->opcode - 0xD8u;
    if (d->modrm >= 0xC0)
        return reg_form(esc, d->modrm - 0xC0u);
    *m = bt_mem_operand(d);
    if (!*m || !bt_seg_flat(mode, (*m)->mem.seg))
        return X87_NO;
    return mem_form(esc, (d->modrm >> 3) & 7);
}

static bool is_fnstsw_ax(const struct dec_insn *d) { return d->opcode == 0xDF && d->modrm == 0xE0; }

bool bt_x87_continues(const struct dec_insn *d, uint32_t mode)
{
    const struct dec_op *m;
    return classify(d, mode, &m) != X87_NO && !is_fnstsw_ax(d);
}

/* mov dword [r15 + disp32], imm32 (r15 -> struct bt, bt_internal.h). */
static void store_imm32(struct bt_asm *a, size_t off, uint32_t v)
{
    bt_bytes(a, (const uint8_t[]){0x41, 0xC7, 0x87}, 3);
    bt_d32(a, (uint32_t)off);
    bt_d32(a, v);
}

#define REC_OFF(field) (offsetof(struct bt, x87) + offsetof(struct bt_x87, rec) + \
                        offsetof(struct bt_x87_rec, field))
_Static_assert(REC_OFF(fds_new) < INT32_MAX, "disp32");

/* What fpu.c's record_last would have left after the group: FIP and FOP
 * of its last non-control instruction (the same store clears group), FDP
 * of its last memory operand, computed now: the registers are those the
 * group ran with. */
void bt_x87_flush(struct bt_asm *a)
{
    struct bt_x87_pending *p = &a->x87;
    if (!p->group)
        return;
    store_imm32(a, REC_OFF(fip), p->fip);
    store_imm32(a, REC_OFF(fop), p->fop | 1u << 16); /* fcs_new = 1, group = 0 */
    if (p->mem) {
        /* lea r9d, [addr32 ...]: the effective address, wrapped at 4 GiB */
        bt_mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R9, &p->m, false);
        bt_bytes(a, (const uint8_t[]){0x45, 0x89, 0x8F}, 3); /* mov [r15 + disp32], r9d */
        bt_d32(a, (uint32_t)REC_OFF(fdp));
        bt_bytes(a, (const uint8_t[]){0x66, 0x41, 0xC7, 0x87}, 4); /* mov word [..], imm16 */
        bt_d32(a, (uint32_t)REC_OFF(fds_seg));
        bt_b1(a, p->m.seg);
        bt_b1(a, 1); /* fds_new */
    }
    *p = (struct bt_x87_pending){.group = false};
}

enum bt_emit_result bt_x87_emit(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                uint32_t mode)
{
    const struct dec_op *m;
    enum x87_kind k = classify(d, mode, &m);
    if (k == X87_NO)
        return BT_EMIT_FALLBACK;
    struct bt_x87_pending *p = &a->x87;
    if (p->group && !p->marked) {
        /* A fault from here on is inside the group: mov r9, first << 32 |
         * 1 << 24; mov [r15 + fop], r9 sets group_eip and group (fop and
         * fcs_new get stored again before anything reads them: at the
         * flush, or by bt_x87_exited). A group of one instruction, which
         * no fault can interrupt, does without. */
        bt_bytes(a, (const uint8_t[]){0x49, 0xB9}, 2);
        uint64_t v = (uint64_t)p->first << 32 | 1u << 24;
        bt_bytes(a, &v, 8);
        bt_bytes(a, (const uint8_t[]){0x4D, 0x89, 0x8F}, 3);
        bt_d32(a, (uint32_t)REC_OFF(fop));
        p->marked = true;
    }
    if (m)
        bt_mem_insn(a, false, &d->opcode, 1, (d->modrm >> 3) & 7u, &m->mem, true);
    else if (d->opcode == 0x9B)
        bt_b1(a, 0x9B);
    else
        bt_bytes(a, (const uint8_t[]){d->opcode, d->modrm}, 2);
    if (k == X87_CONTROL)
        return BT_EMIT_OK;
    if (!p->group)
        p->first = eip;
    p->group = true;
    p->fip = eip;
    p->fop = (uint16_t)((d->opcode - 0xD8u) << 8 | d->modrm);
    if (m) {
        p->mem = true;
        p->m = m->mem;
    }
    return BT_EMIT_OK;
}
