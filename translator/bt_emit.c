/* The emitter: host code for one guest instruction. Innocuous
 * instructions are re-encoded by the Zydis encoder for 64-bit mode with
 * ESP renamed to r8d and every memory operand rewritten to
 * gs:[addr32 ...]; the ones whose 64-bit meaning differs (INC/DEC r,
 * PUSH, POP, LEAVE, near branches) get explicit sequences; anything else
 * is handed to the interpreter. */
#include "translator/bt_internal.h"

#include <string.h>

#include <Zydis/Encoder.h>

enum { R_R8 = 8, R_R9 = 9 };
enum { P_GS = 0x65, P_ADDR32 = 0x67, P_OPSIZE = 0x66 };

static void b1(struct bt_asm *a, uint8_t v) { *a->p++ = v; }
static void d32(struct bt_asm *a, uint32_t v)
{
    memcpy(a->p, &v, 4);
    a->p += 4;
}
static void bytes(struct bt_asm *a, const void *v, size_t n)
{
    memcpy(a->p, v, n);
    a->p += n;
}

/* RX address of the write position. */
static const uint8_t *rx_here(const struct bt_asm *a, const uint8_t *rx_start)
{
    return rx_start + (a->p - a->start);
}

static void rel32_to(struct bt_asm *a, const uint8_t *rx_start, const uint8_t *target)
{
    const uint8_t *next = rx_here(a, rx_start) + 4;
    d32(a, (uint32_t)(int32_t)(target - next));
}

static unsigned host_reg(unsigned guest) { return guest == HLP_ESP ? R_R8 : guest; }

/* ---- memory operands: [base + index*scale + disp] with 32-bit addressing -- */

static unsigned mem_rex(const struct dec_mem *m)
{
    unsigned rex = 0;
    if (m->base != DEC_NOREG && host_reg(m->base) >= 8)
        rex |= 1; /* REX.B */
    if (m->index != DEC_NOREG && host_reg(m->index) >= 8)
        rex |= 2; /* REX.X */
    return rex;
}

/* ModRM (+SIB, disp) for reg field `reg` (low 3 bits) and memory m (SDM
 * Vol. 2A 2.1.5 Tables 2-2, 2-3; in 64-bit mode mod=00 rm=101 is
 * RIP-relative, so an absolute [disp32] takes the SIB form). */
static void modrm_mem(struct bt_asm *a, unsigned reg, const struct dec_mem *m)
{
    reg &= 7;
    int32_t disp = m->disp;
    bool has_base = m->base != DEC_NOREG, has_index = m->index != DEC_NOREG;
    unsigned base = has_base ? host_reg(m->base) & 7 : 5;
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
        b1(a, (uint8_t)(mod << 6 | reg << 3 | base));
    } else {
        unsigned ss = m->scale == 8 ? 3 : m->scale == 4 ? 2 : m->scale == 2 ? 1 : 0;
        unsigned index = has_index ? host_reg(m->index) & 7 : 4;
        b1(a, (uint8_t)(mod << 6 | reg << 3 | 4));
        b1(a, (uint8_t)(ss << 6 | index << 3 | base));
    }
    if (mod == 1)
        b1(a, (uint8_t)disp);
    else if (mod == 2 || !has_base)
        d32(a, (uint32_t)disp);
}

/* gs: [66] [REX] opcode modrm..: an access to guest memory m with host
 * register hreg in the reg field. */
static void mem_insn(struct bt_asm *a, bool o16, const uint8_t *op, size_t n, unsigned hreg,
                     const struct dec_mem *m, bool gs)
{
    if (gs)
        b1(a, P_GS);
    b1(a, P_ADDR32);
    if (o16)
        b1(a, P_OPSIZE);
    unsigned rex = mem_rex(m) | (hreg >= 8 ? 4 : 0);
    if (rex)
        b1(a, (uint8_t)(0x40 | rex));
    bytes(a, op, n);
    modrm_mem(a, hreg, m);
}

static const struct dec_mem *stack_at(struct dec_mem *m, int32_t disp)
{
    *m = (struct dec_mem){.disp = disp, .seg = DEC_SEG_SS, .base = HLP_ESP,
                          .index = DEC_NOREG};
    return m;
}

/* lea r8d, [r8d + n]: moves ESP without touching the flags. */
static void add_esp(struct bt_asm *a, int32_t n)
{
    struct dec_mem m;
    mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R8, stack_at(&m, n), false);
}

/* mov r/m32 <-> reg between two host registers: 89 /r (dst in rm). */
static void mov_rr(struct bt_asm *a, unsigned dst, unsigned src)
{
    unsigned rex = (src >= 8 ? 4 : 0) | (dst >= 8 ? 1 : 0);
    if (rex)
        b1(a, (uint8_t)(0x40 | rex));
    b1(a, 0x89);
    b1(a, (uint8_t)(0xC0 | (src & 7) << 3 | (dst & 7)));
}

/* mov [r15 + BT_RT_EIP], imm32 */
static void set_eip_imm(struct bt_asm *a, uint32_t eip)
{
    bytes(a, (const uint8_t[]){0x41, 0xC7, 0x47, BT_RT_EIP}, 4);
    d32(a, eip);
}

/* The memory operand of a d (first non-AGEN one), or NULL. */
static const struct dec_op *mem_operand(const struct dec_insn *d)
{
    for (unsigned i = 0; i < d->n_ops; i++)
        if (d->ops[i].kind == DEC_OP_MEM && !(d->ops[i].flags & DEC_OPF_AGEN))
            return &d->ops[i];
    return NULL;
}

static bool seg_flat(uint32_t mode, unsigned seg)
{
    return seg < 6 && (mode >> (BT_MODE_FLAT_SHIFT + seg)) & 1;
}

/* r9d <- the 32-bit value of operand op (register or flat memory). */
static bool load_r9(struct bt_asm *a, const struct dec_op *op, uint32_t mode)
{
    if (op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_GPR && op->size == 32) {
        mov_rr(a, R_R9, host_reg(op->reg.num));
        return true;
    }
    if (op->kind == DEC_OP_MEM && op->size == 32 && seg_flat(mode, op->mem.seg)) {
        mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, &op->mem, true);
        return true;
    }
    return false;
}

/* ---- stack instructions (stores first, ESP after: faults stay precise) --- */

static enum bt_emit_result emit_push(struct bt_asm *a, const struct dec_insn *d, uint32_t mode)
{
    const struct dec_op *op = &d->ops[0];
    struct dec_mem m;
    if (d->opsize != 32 || d->n_ops < 1)
        return BT_EMIT_FALLBACK;
    if (op->kind == DEC_OP_IMM) {
        mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, stack_at(&m, -4), true);
        d32(a, op->imm);
    } else if (op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_GPR && op->size == 32) {
        mem_insn(a, false, (const uint8_t[]){0x89}, 1, host_reg(op->reg.num), stack_at(&m, -4),
                 true);
    } else if (load_r9(a, op, mode)) {
        mem_insn(a, false, (const uint8_t[]){0x89}, 1, R_R9, stack_at(&m, -4), true);
    } else {
        return BT_EMIT_FALLBACK;
    }
    add_esp(a, -4);
    return BT_EMIT_OK;
}

static enum bt_emit_result emit_pop(struct bt_asm *a, const struct dec_insn *d)
{
    const struct dec_op *op = &d->ops[0];
    struct dec_mem m;
    if (d->opsize != 32 || op->kind != DEC_OP_REG || op->reg.cls != DEC_RC_GPR)
        return BT_EMIT_FALLBACK;
    unsigned r = host_reg(op->reg.num);
    /* POP ESP: ESP is the value read (SDM Vol. 2B POP). */
    mem_insn(a, false, (const uint8_t[]){0x8B}, 1, r, stack_at(&m, 0), true);
    if (r != R_R8)
        add_esp(a, 4);
    return BT_EMIT_OK;
}

/* LEAVE: ESP <- EBP, then EBP <- pop (SDM Vol. 2A LEAVE). */
static enum bt_emit_result emit_leave(struct bt_asm *a, const struct dec_insn *d)
{
    if (d->opsize != 32)
        return BT_EMIT_FALLBACK;
    struct dec_mem m = {.disp = 0, .seg = DEC_SEG_SS, .base = HLP_EBP, .index = DEC_NOREG};
    mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, &m, true);
    m.disp = 4;
    mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R8, &m, false);
    mov_rr(a, HLP_EBP, R_R9);
    return BT_EMIT_OK;
}

/* INC/DEC r (40-4F are REX prefixes in 64-bit mode): FF /0, FF /1. */
static enum bt_emit_result emit_incdec(struct bt_asm *a, const struct dec_insn *d)
{
    unsigned r = host_reg(d->opcode & 7), ext = d->opcode >= 0x48;
    if (d->opsize == 16)
        b1(a, P_OPSIZE);
    if (r >= 8)
        b1(a, 0x41);
    b1(a, 0xFF);
    b1(a, (uint8_t)(0xC0 | ext << 3 | (r & 7)));
    return BT_EMIT_OK;
}

/* ---- control transfers: the translator owns them -------------------------- */

/* The indirect target is in r9d: mov r10d, mode; jmp ind_lookup (the
 * inline cache probe, bt_block.c). */
static void jmp_ind_lookup(struct bt_asm *a, uint32_t mode)
{
    bytes(a, (const uint8_t[]){0x41, 0xBA}, 2);
    d32(a, mode);
    b1(a, 0xE9);
    rel32_to(a, a->rx_start, a->ind_lookup);
}

/* Budget check (bt_internal.h, struct bt_rt): r14 -= n without touching
 * the flags (LEA); BSWAP brings the sign half of r14 into ECX, so JECXZ
 * (flags untouched, SDM Vol. 2A Jcc) continues while r14 >= 0 and
 * r14 < 2^32. Guest ECX waits in r9. */
enum { BUDGET_SUB_DISP = 3, BUDGET_ADD_DISP = 22 };
size_t bt_emit_budget_check(struct bt_asm *a, uint32_t eip)
{
    size_t at = (size_t)(a->p - a->start);
    static const uint8_t head[] = {
        0x4D, 0x8D, 0x76, 0x00, /* lea r14, [r14 - n] */
        0x49, 0x89, 0xC9,       /* mov r9, rcx */
        0x4C, 0x89, 0xF1,       /* mov rcx, r14 */
        0x48, 0x0F, 0xC9,       /* bswap rcx */
        0x67, 0xE3, 26,         /* jecxz ok */
        0x4C, 0x89, 0xC9,       /* mov rcx, r9 */
        0x4D, 0x8D, 0x76, 0x00, /* lea r14, [r14 + n] */
    };
    bytes(a, head, sizeof head);
    bt_emit_handoff(a, eip, BT_EXIT_BUDGET);
    bytes(a, (const uint8_t[]){0x4C, 0x89, 0xC9}, 3); /* ok: mov rcx, r9 */
    return at;
}
_Static_assert(TC_MAX_INSNS <= 127, "the budget check's disp8");

void bt_patch_budget_check(struct bt_asm *a, size_t at, unsigned n)
{
    a->start[at + BUDGET_SUB_DISP] = (uint8_t)-(int8_t)n;
    a->start[at + BUDGET_ADD_DISP] = (uint8_t)n;
}

static enum bt_emit_result emit_control(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                        uint32_t mode, struct bt_exits *ex)
{
    uint32_t next = eip + d->len;
    struct dec_mem m;
    if (d->opsize != 32 || !seg_flat(mode, HLP_SS))
        return BT_EMIT_FALLBACK;
    switch (d->cf) {
    case DEC_CF_JMP_REL:
        *ex = (struct bt_exits){.n = 1, .target = {dec_rel_target(d, &d->ops[0], eip)}};
        return BT_EMIT_ENDS;
    case DEC_CF_JCC:
        /* Exit 0: not taken (falls in); exit 1: taken. */
        b1(a, 0x0F);
        b1(a, (uint8_t)(0x80 | (d->opcode & 0xF)));
        *ex = (struct bt_exits){.n = 2, .target = {next, dec_rel_target(d, &d->ops[0], eip)},
                                .fixup = {0, (uint32_t)(a->p - a->start)}};
        d32(a, 0);
        return BT_EMIT_ENDS;
    case DEC_CF_CALL_REL:
        mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, stack_at(&m, -4), true);
        d32(a, next);
        add_esp(a, -4);
        *ex = (struct bt_exits){.n = 1, .target = {dec_rel_target(d, &d->ops[0], eip)}};
        return BT_EMIT_ENDS;
    case DEC_CF_JMP_IND:
    case DEC_CF_CALL_IND:
        /* The target is read with ESP before the push (SDM Vol. 2A CALL). */
        if (!load_r9(a, &d->ops[0], mode))
            return BT_EMIT_FALLBACK;
        if (d->cf == DEC_CF_CALL_IND) {
            mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, stack_at(&m, -4), true);
            d32(a, next);
            add_esp(a, -4);
        }
        jmp_ind_lookup(a, mode);
        return BT_EMIT_ENDS;
    case DEC_CF_RET:
    case DEC_CF_RET_IMM: {
        uint32_t extra = d->cf == DEC_CF_RET_IMM ? (d->ops[0].imm & 0xFFFF) : 0;
        mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, stack_at(&m, 0), true);
        add_esp(a, (int32_t)(4 + extra));
        jmp_ind_lookup(a, mode);
        return BT_EMIT_ENDS;
    }
    case DEC_CF_LOOP:
        if (d->mnemonic != ZYDIS_MNEMONIC_LOOP || d->addrsize != 32)
            return BT_EMIT_FALLBACK;
        /* lea ecx, [rcx-1] (LOOP leaves the flags alone); jecxz over the
         * jump to the taken stub into the fall-through one. */
        bytes(a, (const uint8_t[]){0x8D, 0x49, 0xFF, P_ADDR32, 0xE3, 0x05, 0xE9}, 7);
        *ex = (struct bt_exits){.n = 2, .target = {next, dec_rel_target(d, &d->ops[0], eip)},
                                .fixup = {0, (uint32_t)(a->p - a->start)}};
        d32(a, 0);
        return BT_EMIT_ENDS;
    case DEC_CF_JCXZ:
        if (d->addrsize != 32)
            return BT_EMIT_FALLBACK;
        /* jecxz falls into the taken stub (exit 0); else jump to exit 1. */
        bytes(a, (const uint8_t[]){P_ADDR32, 0xE3, 0x05, 0xE9}, 4);
        *ex = (struct bt_exits){.n = 2, .target = {dec_rel_target(d, &d->ops[0], eip), next},
                                .fixup = {0, (uint32_t)(a->p - a->start)}};
        d32(a, 0);
        return BT_EMIT_ENDS;
    default:
        return BT_EMIT_FALLBACK;
    }
}

void bt_emit_stubs(struct bt_asm *a, const struct bt_exits *ex, struct tc_block *b)
{
    b->n_exits = (uint8_t)ex->n;
    for (unsigned i = 0; i < ex->n; i++) {
        uint32_t at = (uint32_t)(a->p - a->start);
        if (ex->fixup[i]) {
            int32_t rel = (int32_t)(at - (ex->fixup[i] + 4));
            memcpy(a->start + ex->fixup[i], &rel, 4);
        }
        if ((ex->target[i] ^ a->block_eip) >> TC_PAGE_SHIFT) {
            /* Another page may map elsewhere by the time this runs
             * again: no chaining (tc_chain), the inline lookup, which
             * every TLB flush clears. */
            bytes(a, (const uint8_t[]){0x41, 0xB9}, 2); /* mov r9d, target */
            d32(a, ex->target[i]);
            jmp_ind_lookup(a, a->mode);
            b->exits[i] = (struct tc_exit){.patch_off = at, .stub_off = at,
                                           .target_eip = ex->target[i]};
            continue;
        }
        /* jmp +0 (tc_chain's patch site); mov r10, block | i; jmp exit_chain:
         * the dispatcher learns which exit to chain (tc_block records
         * are 16-byte aligned, TC_MAX_EXITS is 2). */
        b1(a, 0xE9);
        d32(a, 0);
        bytes(a, (const uint8_t[]){0x49, 0xBA}, 2);
        uint64_t tag = (uint64_t)(uintptr_t)a->block | i;
        memcpy(a->p, &tag, 8);
        a->p += 8;
        b1(a, 0xE9);
        rel32_to(a, a->rx_start, a->exit_chain);
        b->exits[i] = (struct tc_exit){.patch_off = at + 1, .stub_off = at + 5,
                                       .target_eip = ex->target[i]};
    }
}

void bt_emit_handoff(struct bt_asm *a, uint32_t eip, uint32_t reason)
{
    set_eip_imm(a, eip);
    b1(a, 0x41); /* mov r10d, imm32 */
    b1(a, 0xBA);
    d32(a, reason);
    b1(a, 0xE9);
    rel32_to(a, a->rx_start, a->exit_common);
}

/* ---- innocuous instructions: the Zydis encoder ------------------------------ */

static ZydisRegister rename_reg(ZydisRegister r)
{
    switch (r) {
    case ZYDIS_REGISTER_ESP: return ZYDIS_REGISTER_R8D;
    case ZYDIS_REGISTER_SP: return ZYDIS_REGISTER_R8W;
    case ZYDIS_REGISTER_NONE:
    case ZYDIS_REGISTER_EAX: case ZYDIS_REGISTER_ECX: case ZYDIS_REGISTER_EDX:
    case ZYDIS_REGISTER_EBX: case ZYDIS_REGISTER_EBP: case ZYDIS_REGISTER_ESI:
    case ZYDIS_REGISTER_EDI:
    case ZYDIS_REGISTER_AX: case ZYDIS_REGISTER_CX: case ZYDIS_REGISTER_DX:
    case ZYDIS_REGISTER_BX: case ZYDIS_REGISTER_BP: case ZYDIS_REGISTER_SI:
    case ZYDIS_REGISTER_DI:
    case ZYDIS_REGISTER_AL: case ZYDIS_REGISTER_CL: case ZYDIS_REGISTER_DL:
    case ZYDIS_REGISTER_BL: case ZYDIS_REGISTER_AH: case ZYDIS_REGISTER_CH:
    case ZYDIS_REGISTER_DH: case ZYDIS_REGISTER_BH:
        return r;
    default:
        return ZYDIS_REGISTER_MAX_VALUE; /* not a guest GPR: not rewritten */
    }
}

static bool is_legacy_prefix(uint8_t b)
{
    return b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65 ||
           b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3;
}

static bool zydis_rewrite(struct bt_asm *a, const ZydisDecodedInstruction *zi,
                          const ZydisDecodedOperand *zops, bool agen)
{
    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(
            zi, zops, zi->operand_count_visible, &req)))
        return false;
    req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    bool mem = false, absolute = false;
    for (unsigned i = 0; i < req.operand_count; i++) {
        ZydisEncoderOperand *op = &req.operands[i];
        if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
            op->reg.value = rename_reg(op->reg.value);
            if (op->reg.value == ZYDIS_REGISTER_MAX_VALUE)
                return false;
        } else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
            mem = true;
            op->mem.base = rename_reg(op->mem.base);
            op->mem.index = rename_reg(op->mem.index);
            if (op->mem.base == ZYDIS_REGISTER_MAX_VALUE ||
                op->mem.index == ZYDIS_REGISTER_MAX_VALUE)
                return false;
            if (op->mem.base == ZYDIS_REGISTER_NONE && op->mem.index == ZYDIS_REGISTER_NONE) {
                /* Zydis 4.0.0 encodes [disp32] with 64-bit addressing and
                 * rejects displacements >= 2^31: give it the signed value
                 * and add the address-size prefix below. */
                absolute = true;
                op->mem.displacement = (int32_t)op->mem.displacement;
            }
        }
    }
    req.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_SEGMENT;
    if (mem) {
        if (!agen)
            req.prefixes |= ZYDIS_ATTRIB_HAS_SEGMENT_GS;
        req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
    }
    uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH + 1];
    ZyanUSize len = ZYDIS_MAX_INSTRUCTION_LENGTH;
    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, buf + 1, &len)))
        return false;
    uint8_t *out = buf + 1;
    if (absolute) {
        bool has67 = false;
        for (ZyanUSize i = 0; i < len && is_legacy_prefix(out[i]); i++)
            has67 |= out[i] == P_ADDR32;
        if (!has67) {
            *--out = P_ADDR32;
            len++;
        }
    }
    bytes(a, out, len);
    return true;
}

/* F2/F3 on a non-string instruction select another instruction on hosts
 * with newer extensions (F3 0F BD is LZCNT there, BSR on the popek CPU). */
static bool has_rep_prefix_byte(const struct dec_insn *d)
{
    for (unsigned i = 0; i < d->len && is_legacy_prefix(d->bytes[i]); i++)
        if (d->bytes[i] == 0xF2 || d->bytes[i] == 0xF3)
            return true;
    return false;
}

static bool needs_interp(const struct dec_insn *d, uint32_t mode)
{
    if (d->flags & (DEC_F_STRING | DEC_F_X87 | DEC_F_SIMD | DEC_F_VEX | DEC_F_EVEX | DEC_F_XOP |
                    DEC_F_STACK | DEC_F_NO64 | DEC_F_MORE_OPS))
        return true;
    if (d->isa != ZYDIS_ISA_EXT_BASE || has_rep_prefix_byte(d))
        return true;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_XLAT: /* implicit DS:[EBX+AL] */
        return true;
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        /* A register bit offset reaches beyond the operand (SDM Vol. 2A
         * BT: bit string up to 2^31 bits away). */
        return d->ops[0].kind == DEC_OP_MEM && d->ops[1].kind == DEC_OP_REG;
    default:
        break;
    }
    const struct dec_op *m = mem_operand(d);
    return m && !seg_flat(mode, m->mem.seg);
}

enum bt_emit_result bt_emit_insn(struct bt_asm *a, const struct dec_insn *d,
                                 const ZydisDecodedInstruction *zi,
                                 const ZydisDecodedOperand *zops, uint32_t eip, uint32_t mode,
                                 struct bt_exits *ex)
{
    if (d->addrsize != 32)
        return BT_EMIT_FALLBACK;
    if (d->cls == DEC_CLASS_CONTROL)
        return emit_control(a, d, eip, mode, ex);
    if (d->cls != DEC_CLASS_INNOCUOUS || d->cf != DEC_CF_NONE)
        return BT_EMIT_FALLBACK;
    if (d->map == DEC_MAP_1B && d->opcode >= 0x40 && d->opcode <= 0x4F &&
        !(d->flags & DEC_F_MODRM))
        return emit_incdec(a, d);
    if (d->flags & DEC_F_STACK) {
        if (!seg_flat(mode, HLP_SS))
            return BT_EMIT_FALLBACK;
        if (d->mnemonic == ZYDIS_MNEMONIC_PUSH)
            return emit_push(a, d, mode);
        if (d->mnemonic == ZYDIS_MNEMONIC_POP)
            return emit_pop(a, d);
        if (d->mnemonic == ZYDIS_MNEMONIC_LEAVE)
            return emit_leave(a, d);
        return BT_EMIT_FALLBACK;
    }
    if (needs_interp(d, mode))
        return BT_EMIT_FALLBACK;
    bool agen = false;
    for (unsigned i = 0; i < d->n_ops; i++)
        agen |= d->ops[i].kind == DEC_OP_MEM && (d->ops[i].flags & DEC_OPF_AGEN);
    uint8_t *start = a->p;
    if (!zydis_rewrite(a, zi, zops, agen)) {
        a->p = start;
        return BT_EMIT_FALLBACK;
    }
    return BT_EMIT_OK;
}
