/* Host-code primitives shared by the emitter files: bytes, rel32s,
 * ModRM/SIB for guest memory operands through the GS window, the stack
 * forms and the inline indirect lookup (bt_asm.h). */
#include "translator/bt_asm.h"

#include <string.h>

void bt_b1(struct bt_asm *a, uint8_t v) { *a->p++ = v; }
void bt_d32(struct bt_asm *a, uint32_t v)
{
    memcpy(a->p, &v, 4);
    a->p += 4;
}
void bt_bytes(struct bt_asm *a, const void *v, size_t n)
{
    memcpy(a->p, v, n);
    a->p += n;
}

/* RX address of the write position. */
const uint8_t *bt_rx_here(const struct bt_asm *a, const uint8_t *rx_start)
{
    return rx_start + (a->p - a->start);
}

void bt_rel32_to(struct bt_asm *a, const uint8_t *rx_start, const uint8_t *target)
{
    const uint8_t *next = bt_rx_here(a, rx_start) + 4;
    bt_d32(a, (uint32_t)(int32_t)(target - next));
}

unsigned bt_host_reg(unsigned guest) { return guest == HLP_ESP ? R_R8 : guest; }

/* ---- memory operands: [base + index*scale + disp] with 32-bit addressing -- */

static unsigned bt_mem_rex(const struct dec_mem *m)
{
    unsigned rex = 0;
    if (m->base != DEC_NOREG && bt_host_reg(m->base) >= 8)
        rex |= 1; /* REX.B */
    if (m->index != DEC_NOREG && bt_host_reg(m->index) >= 8)
        rex |= 2; /* REX.X */
    return rex;
}

/* ModRM (+SIB, disp) for reg field `reg` (low 3 bits) and memory m (SDM
 * Vol. 2A 2.1.5 Tables 2-2, 2-3; in 64-bit mode mod=00 rm=101 is
 * RIP-relative, so an absolute [disp32] takes the SIB form). */
void bt_modrm_mem(struct bt_asm *a, unsigned reg, const struct dec_mem *m)
{
    reg &= 7;
    int32_t disp = m->disp;
    bool has_base = m->base != DEC_NOREG, has_index = m->index != DEC_NOREG;
    unsigned base = has_base ? bt_host_reg(m->base) & 7 : 5;
    unsigned mod;
    if (!has_base)
        mod = 0;
    else if (disp == 0 && base != 5)
        mod = 0;
    else if (disp >= -128 && disp <= 127)
        mod = 1;
    else
        mod = 2;
    if (!has_index && has_base && base != 4) {
        bt_b1(a, (uint8_t)(mod << 6 | reg << 3 | base));
    } else {
        unsigned ss = m->scale == 8 ? 3 : m->scale == 4 ? 2 : m->scale == 2 ? 1 : 0;
        unsigned index = has_index ? bt_host_reg(m->index) & 7 : 4;
        bt_b1(a, (uint8_t)(mod << 6 | reg << 3 | 4));
        bt_b1(a, (uint8_t)(ss << 6 | index << 3 | base));
    }
    if (mod == 1)
        bt_b1(a, (uint8_t)disp);
    else if (mod == 2 || !has_base)
        bt_d32(a, (uint32_t)disp);
}

/* gs: [66] [REX] opcode modrm..: an access to guest memory m with host
 * register hreg in the reg field. */
void bt_mem_insn(struct bt_asm *a, bool o16, const uint8_t *op, size_t n, unsigned hreg,
                     const struct dec_mem *m, bool gs)
{
    if (gs)
        bt_b1(a, P_GS);
    bt_b1(a, P_ADDR32);
    if (o16)
        bt_b1(a, P_OPSIZE);
    unsigned rex = bt_mem_rex(m) | (hreg >= 8 ? 4 : 0);
    if (rex)
        bt_b1(a, (uint8_t)(0x40 | rex));
    bt_bytes(a, op, n);
    bt_modrm_mem(a, hreg, m);
}

const struct dec_mem *bt_stack_at(struct dec_mem *m, int32_t disp)
{
    *m = (struct dec_mem){.disp = disp, .seg = DEC_SEG_SS, .base = HLP_ESP,
                          .index = DEC_NOREG};
    return m;
}

/* lea r8d, [r8d + n]: moves ESP without touching the flags. */
void bt_add_esp(struct bt_asm *a, int32_t n)
{
    struct dec_mem m;
    bt_mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R8, bt_stack_at(&m, n), false);
}

/* mov r/m32 <-> reg between two host registers: 89 /r (dst in rm). */
void bt_mov_rr(struct bt_asm *a, unsigned dst, unsigned src)
{
    unsigned rex = (src >= 8 ? 4 : 0) | (dst >= 8 ? 1 : 0);
    if (rex)
        bt_b1(a, (uint8_t)(0x40 | rex));
    bt_b1(a, 0x89);
    bt_b1(a, (uint8_t)(0xC0 | (src & 7) << 3 | (dst & 7)));
}

/* mov [r15 + BT_RT_EIP], imm32 */
void bt_set_eip_imm(struct bt_asm *a, uint32_t eip)
{
    bt_bytes(a, (const uint8_t[]){0x41, 0xC7, 0x47, BT_RT_EIP}, 4);
    bt_d32(a, eip);
}

/* The memory operand of a d (first non-AGEN one), or NULL. */
const struct dec_op *bt_mem_operand(const struct dec_insn *d)
{
    for (unsigned i = 0; i < d->n_ops; i++)
        if (d->ops[i].kind == DEC_OP_MEM && !(d->ops[i].flags & DEC_OPF_AGEN))
            return &d->ops[i];
    return NULL;
}

bool bt_seg_flat(uint32_t mode, unsigned seg)
{
    return seg < 6 && (mode >> (BT_MODE_FLAT_SHIFT + seg)) & 1;
}

/* r9d <- the 32-bit value of operand op (register, flat or based memory). */
bool bt_load_r9(struct bt_asm *a, const struct dec_op *op, uint32_t mode)
{
    if (op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_GPR && op->size == 32) {
        bt_mov_rr(a, R_R9, bt_host_reg(op->reg.num));
        return true;
    }
    if (op->kind == DEC_OP_MEM && op->size == 32 && bt_seg_flat(mode, op->mem.seg)) {
        bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, &op->mem, true);
        return true;
    }
    return bt_seg_load_r9(a, op, mode);
}

/* The indirect target is in r9d (upper half zero): probes the inline
 * indirect cache (tcache.h, struct tc_icache at rt.ic) and jumps to the
 * block on a hit, else to ind_miss. Inline at each site, so the host's
 * indirect-branch predictor sees each guest RET or JMP apart. The
 * guest's arithmetic flags are live at an indirect branch (assembly
 * returns status in CF): LAHF/SETO keep them in AX (guest EAX in r12),
 * ADD AL, 7Fh (OF) and SAHF put them back (SDM Vol. 2A LAHF, Vol. 2B
 * SAHF); DF is not touched. */
void bt_jmp_ind_lookup(struct bt_asm *a)
{
    static const uint8_t head[] = {
        0x49, 0x89, 0xC4,                         /* mov r12, rax */
        0x9F, 0x0F, 0x90, 0xC0,                   /* lahf; seto al */
        0x45, 0x89, 0xCB,                         /* mov r11d, r9d */
        0x41, 0xC1, 0xE3, 0x04,                   /* shl r11d, 4 */
        0x41, 0x81, 0xE3,                         /* and r11d, imm32: tc_ic_index << 4 */
        ((1u << TC_IC_BITS) - 1) << 4 & 0xFF, ((1u << TC_IC_BITS) - 1) >> 4 & 0xFF, 0, 0,
    };
    static const uint8_t tail[] = {
        0x4D, 0x09, 0xCA,                         /* or r10, r9: the key */
        0x4F, 0x3B, 0x54, 0x1F, BT_RT_IC,         /* cmp r10, [r15+r11+ic] */
        0x75, 0x12,                               /* jne miss */
        0x4D, 0x8D, 0x6D, 0x01,                   /* lea r13, [r13+1]: hits (rt.ic_hits) */
        0x4F, 0x8B, 0x5C, 0x1F, BT_RT_IC + 8,     /* mov r11, [r15+r11+ic+8] */
        0x04, 0x7F, 0x9E,                         /* add al, 7Fh; sahf */
        0x4C, 0x89, 0xE0,                         /* mov rax, r12 */
        0x41, 0xFF, 0xE3,                         /* jmp r11 */
        0x04, 0x7F, 0x9E,                         /* miss: add al, 7Fh; sahf */
        0x4C, 0x89, 0xE0,                         /* mov rax, r12 */
        0xE9,                                     /* jmp ind_miss */
    };
    _Static_assert(TC_IC_BITS == 10, "the AND mask above");
    _Static_assert(BT_RT_IC + 8 < 128, "disp8 offsets");
    _Static_assert(BT_RT_MODE_KEY < 0x10000, "disp32 below");
    bt_bytes(a, head, sizeof head);
    /* mov r10, [r15 + mode_key]: the mode and the TLB epoch. */
    bt_bytes(a, (const uint8_t[]){0x4D, 0x8B, 0x97}, 3);
    bt_d32(a, BT_RT_MODE_KEY);
    bt_bytes(a, tail, sizeof tail);
    bt_rel32_to(a, a->rx_start, a->ind_miss);
}


void bt_jcc32_fix(struct bt_asm *a, size_t at)
{
    int32_t rel = (int32_t)((size_t)(a->p - a->start) - (at + 4));
    memcpy(a->start + at, &rel, 4);
}

size_t bt_jcc32(struct bt_asm *a, uint8_t cc)
{
    bt_bytes(a, (const uint8_t[]){0x0F, (uint8_t)(0x80 | cc)}, 2);
    size_t at = (size_t)(a->p - a->start);
    bt_d32(a, 0);
    return at;
}

