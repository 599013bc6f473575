/* Data segments with a base (issue #4 item 1): an expand-up writable
 * data segment with a 4 GiB limit and a non-zero base, such as Linux's
 * per-CPU segment in FS at CPL 0 or glibc's TLS segment in GS at CPL 3,
 * needs no limit check, only the base (SDM Vol. 3A 3.4.5.1: with a
 * limit of FFFFFFFFH every offset is valid). Translated code forms the
 * linear address in r9d, base + effective address modulo 2^32 (the
 * processor's linear addresses wrap in 32-bit mode, Vol. 3A 3.3), and
 * accesses gs:[r9d] in the shadow window. The base comes from
 * rt.seg_base at run time, so a MOV to the segment register that keeps
 * its kind (based) needs no retranslation. Segments with a smaller
 * limit or expand-down stay on the interpreter: every access would need
 * a limit check, which real guests with such segments (16-bit and
 * segmented OSes) do not make worth it. */
#include "translator/bt_asm.h"

/* Present, writable, expand-up data with a 4 GiB limit and a base: the
 * kind bt_engine.c's flat_data accepts but for the base. */
static bool based_data(const struct hlp_seg *s)
{
    unsigned type = s->attr & HLP_SEG_TYPE;
    return !(s->attr & HLP_SEG_UNUSABLE) && (s->attr & HLP_SEG_P) && (s->attr & HLP_SEG_S) &&
           (type & 0xA) == 0x2 && !(type & 0x4) && s->base != 0 && s->limit == 0xFFFFFFFFu;
}
_Static_assert(HLP_SEG_TYPE == 0xF, "data type: bit 3 code, bit 2 expand-down, bit 1 writable");

uint32_t bt_seg_based_bits(const struct hlp_cpu *cpu)
{
    uint32_t bits = 0;
    for (unsigned s = 0; s < 6; s++)
        if (s != HLP_CS && based_data(&cpu->seg[s]))
            bits |= 1u << (BT_MODE_BASED_SHIFT + s);
    return bits;
}

void bt_seg_sync(struct bt_rt *rt, const struct hlp_cpu *cpu)
{
    for (unsigned s = 0; s < 6; s++)
        rt->seg_base[s] = cpu->seg[s].base;
}

bool bt_seg_based(uint32_t mode, unsigned seg)
{
    return seg < 6 && (mode >> (BT_MODE_BASED_SHIFT + seg)) & 1;
}

/* ModRM mod and displacement bytes for [r9 (+ SIB) + disp]: r9's low
 * bits (001) need neither the SIB escape nor the no-base form. */
static unsigned disp_mod(int32_t disp)
{
    return disp == 0 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
}

static void disp_bytes(struct bt_asm *a, unsigned mod, int32_t disp)
{
    if (mod == 1)
        bt_b1(a, (uint8_t)disp);
    else if (mod == 2)
        bt_d32(a, (uint32_t)disp);
}

/* r9d <- seg base + effective address, all LEA and MOV: the guest flags
 * stay in RFLAGS. A 32-bit LEA keeps the low 32 bits of its 64-bit sum,
 * which is the wrap-around of the linear address. */
void bt_seg_lin_r9(struct bt_asm *a, const struct dec_mem *m)
{
    uint32_t at = BT_RT_SEG_BASE + 4u * m->seg;
    bool has_base = m->base != DEC_NOREG, has_index = m->index != DEC_NOREG;
    if (has_base && has_index) {
        bt_mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R9, m, false); /* lea r9d, [ea] */
        bt_bytes(a, (const uint8_t[]){0x45, 0x8B, 0x97}, 3);         /* mov r10d, [r15+base] */
        bt_d32(a, at);
        bt_bytes(a, (const uint8_t[]){0x47, 0x8D, 0x0C, 0x11}, 4);   /* lea r9d, [r9+r10] */
        return;
    }
    bt_bytes(a, (const uint8_t[]){0x45, 0x8B, 0x8F}, 3); /* mov r9d, [r15+base] */
    bt_d32(a, at);
    unsigned mod = disp_mod(m->disp);
    if (has_base || has_index) {
        /* lea r9d, [r9 + reg*scale + disp] */
        unsigned r = bt_host_reg(has_base ? m->base : m->index);
        unsigned scale = has_base ? 1 : m->scale;
        unsigned ss = scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
        bt_b1(a, (uint8_t)(0x45 | (r >= 8 ? 2 : 0)));
        bt_b1(a, 0x8D);
        bt_b1(a, (uint8_t)(mod << 6 | 1 << 3 | 4));
        bt_b1(a, (uint8_t)(ss << 6 | (r & 7) << 3 | 1));
        disp_bytes(a, mod, m->disp);
    } else if (mod) {
        /* lea r9d, [r9 + disp] */
        bt_bytes(a, (const uint8_t[]){0x45, 0x8D, (uint8_t)(mod << 6 | 1 << 3 | 1)}, 3);
        disp_bytes(a, mod, m->disp);
    }
}

bool bt_seg_load_r9(struct bt_asm *a, const struct dec_op *op, uint32_t mode)
{
    if (op->kind != DEC_OP_MEM || op->size != 32 || !bt_seg_based(mode, op->mem.seg))
        return false;
    bt_seg_lin_r9(a, &op->mem);
    bt_bytes(a, (const uint8_t[]){P_GS, P_ADDR32, 0x45, 0x8B, 0x09}, 5); /* mov r9d, gs:[r9d] */
    return true;
}
