/* The emitter: host code for one guest instruction. Innocuous
 * instructions are re-encoded by the Zydis encoder for 64-bit mode with
 * ESP renamed to r8d and every memory operand rewritten to
 * gs:[addr32 ...] (gs:[r9d] through a segment with a base,
 * bt_emit_seg.c); the ones whose 64-bit meaning differs (INC/DEC r,
 * PUSH, POP, LEAVE, near branches, string instructions in bt_emit_str.c)
 * get explicit sequences; anything else is handed to the interpreter. */
#include "translator/bt_asm.h"

#include <assert.h>
#include <string.h>

#include <Zydis/Encoder.h>

/* ---- stack instructions (stores first, ESP after: faults stay precise) --- */

static enum bt_emit_result emit_push(struct bt_asm *a, const struct dec_insn *d, uint32_t mode)
{
    const struct dec_op *op = &d->ops[0];
    struct dec_mem m;
    if (d->opsize != 32 || d->n_ops < 1)
        return BT_EMIT_FALLBACK;
    if (op->kind == DEC_OP_IMM) {
        bt_mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, bt_stack_at(&m, -4), true);
        bt_d32(a, op->imm);
    } else if (op->kind == DEC_OP_REG && op->reg.cls == DEC_RC_GPR && op->size == 32) {
        bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, bt_host_reg(op->reg.num), bt_stack_at(&m, -4),
                 true);
    } else if (bt_load_r9(a, op, mode)) {
        bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, R_R9, bt_stack_at(&m, -4), true);
    } else {
        return BT_EMIT_FALLBACK;
    }
    bt_add_esp(a, -4);
    return BT_EMIT_OK;
}

/* POP m32: the address is computed with ESP already incremented when
 * ESP is its base (SDM Vol. 2B POP); the store comes before the ESP move
 * so a fault on either access leaves ESP as it was. */
static enum bt_emit_result emit_pop_mem(struct bt_asm *a, const struct dec_op *op, uint32_t mode)
{
    struct dec_mem m, dst = op->mem;
    if (!bt_seg_flat(mode, dst.seg) || dst.index == HLP_ESP)
        return BT_EMIT_FALLBACK;
    if (dst.base == HLP_ESP)
        dst.disp += 4;
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, bt_stack_at(&m, 0), true);
    bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, R_R9, &dst, true);
    bt_add_esp(a, 4);
    return BT_EMIT_OK;
}

static enum bt_emit_result emit_pop(struct bt_asm *a, const struct dec_insn *d, uint32_t mode)
{
    const struct dec_op *op = &d->ops[0];
    struct dec_mem m;
    if (d->opsize == 32 && op->kind == DEC_OP_MEM && op->size == 32)
        return emit_pop_mem(a, op, mode);
    if (d->opsize != 32 || op->kind != DEC_OP_REG || op->reg.cls != DEC_RC_GPR)
        return BT_EMIT_FALLBACK;
    unsigned r = bt_host_reg(op->reg.num);
    /* POP ESP: ESP is the value read (SDM Vol. 2B POP). */
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, r, bt_stack_at(&m, 0), true);
    if (r != R_R8)
        bt_add_esp(a, 4);
    return BT_EMIT_OK;
}

/* LEAVE: ESP <- EBP, then EBP <- pop (SDM Vol. 2A LEAVE). */
static enum bt_emit_result emit_leave(struct bt_asm *a, const struct dec_insn *d)
{
    if (d->opsize != 32)
        return BT_EMIT_FALLBACK;
    struct dec_mem m = {.disp = 0, .seg = DEC_SEG_SS, .base = HLP_EBP, .index = DEC_NOREG};
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, &m, true);
    m.disp = 4;
    bt_mem_insn(a, false, (const uint8_t[]){0x8D}, 1, R_R8, &m, false);
    bt_mov_rr(a, HLP_EBP, R_R9);
    return BT_EMIT_OK;
}

/* INC/DEC r (40-4F are REX prefixes in 64-bit mode): FF /0, FF /1. */
static enum bt_emit_result emit_incdec(struct bt_asm *a, const struct dec_insn *d)
{
    unsigned r = bt_host_reg(d->opcode & 7), ext = d->opcode >= 0x48;
    if (d->opsize == 16)
        bt_b1(a, P_OPSIZE);
    if (r >= 8)
        bt_b1(a, 0x41);
    bt_b1(a, 0xFF);
    bt_b1(a, (uint8_t)(0xC0 | ext << 3 | (r & 7)));
    return BT_EMIT_OK;
}

/* ---- control transfers: the translator owns them -------------------------- */

/* Budget checks (struct bt_rt: r14 is the budget; negative: leave).
 * BT_BUDGET_FAST, where the arithmetic flags are dead (the next
 * instruction writes OF SF ZF AF PF CF and reads none): SUB r14, n; JS
 * (one fused uop); on expiry the guest flags are garbage, so that
 * instruction runs on the interpreter before anything sees them.
 * BT_BUDGET_FAST_CF, before INC/DEC, which keep CF: LEA r14, [r14-(n-1)];
 * DEC r14 (CF kept too, SDM Vol. 2A DEC); JS. The
 * safe forms keep every flag (LEA, BSWAP, JECXZ touch none, SDM Vol.
 * 2A/2B): BSWAP brings the sign half of r14 into ECX (r14 < 2^32
 * always); BT_BUDGET_ENTRY jumps over its exit while that is 0, and
 * BT_BUDGET_LAST adds 1 first, so that JECXZ leaves exactly when r14 < 0
 * for an exit placed after the block's last instruction. Guest ECX
 * waits in r9. n, the block's instruction count, is patched in by
 * bt_emit_budget_exit. */
enum { ENTRY_EXIT_LEN = 3 + 4 + 19 };
void bt_emit_budget_check(struct bt_asm *a, struct bt_budget *bc, enum bt_budget_kind kind,
                          uint32_t eip, unsigned before)
{
    *bc = (struct bt_budget){.placed = true, .kind = kind, .eip = eip, .before = before};
    if (kind == BT_BUDGET_FAST) {
        bt_bytes(a, (const uint8_t[]){0x49, 0x83, 0xEE}, 3); /* sub r14, n */
        bc->n_at = (size_t)(a->p - a->start);
        bt_bytes(a, (const uint8_t[]){0x00, 0x0F, 0x88}, 3); /* js rel32 */
        bc->jump_at = (size_t)(a->p - a->start);
        bt_d32(a, 0);
        return;
    }
    if (kind == BT_BUDGET_FAST_CF) {
        bt_bytes(a, (const uint8_t[]){0x4D, 0x8D, 0x76}, 3); /* lea r14, [r14 - (n - 1)] */
        bc->n_at = (size_t)(a->p - a->start);
        bt_bytes(a, (const uint8_t[]){0x00, 0x49, 0xFF, 0xCE, 0x0F, 0x88}, 6); /* dec r14; js rel32 */
        bc->jump_at = (size_t)(a->p - a->start);
        bt_d32(a, 0);
        return;
    }
    bt_bytes(a, (const uint8_t[]){0x4D, 0x8D, 0x76}, 3);  /* lea r14, [r14 - n] */
    bc->n_at = (size_t)(a->p - a->start);
    static const uint8_t rest[] = {
        0x00,
        0x49, 0x89, 0xC9,       /* mov r9, rcx */
        0x4C, 0x89, 0xF1,       /* mov rcx, r14 */
        0x48, 0x0F, 0xC9,       /* bswap rcx */
    };
    bt_bytes(a, rest, sizeof rest);
    if (kind == BT_BUDGET_LAST)
        bt_bytes(a, (const uint8_t[]){0x8D, 0x49, 0x01}, 3); /* lea ecx, [rcx + 1] */
    bt_bytes(a, (const uint8_t[]){0x67, 0xE3}, 2); /* jecxz rel8 */
    bc->jump_at = (size_t)(a->p - a->start);
    bt_b1(a, kind == BT_BUDGET_ENTRY ? ENTRY_EXIT_LEN : 0);
    if (kind == BT_BUDGET_ENTRY) {
        bc->exit_at = (size_t)(a->p - a->start);
        a->p += ENTRY_EXIT_LEN; /* filled by bt_emit_budget_exit */
    }
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xC9}, 3); /* mov rcx, r9 */
}
_Static_assert(TC_MAX_INSNS <= 127, "the budget checks' imm8/disp8");

/* Where an expired check leaves: r14 gets back the instructions the
 * block has not run; BT_EXIT_BUDGET_FLAGS names the fast form. */
void bt_emit_budget_exit(struct bt_asm *a, const struct bt_budget *bc, unsigned n)
{
    uint8_t *end = a->p;
    if (bc->kind == BT_BUDGET_ENTRY)
        a->p = a->start + bc->exit_at;
    size_t at = (size_t)(a->p - a->start);
    bool fast = bc->kind == BT_BUDGET_FAST || bc->kind == BT_BUDGET_FAST_CF;
    if (fast) {
        a->start[bc->n_at] = bc->kind == BT_BUDGET_FAST ? (uint8_t)n : (uint8_t)-(int8_t)(n - 1);
        int32_t rel = (int32_t)(at - (bc->jump_at + 4));
        memcpy(a->start + bc->jump_at, &rel, 4);
    } else {
        a->start[bc->n_at] = (uint8_t)-(int8_t)n;
        if (bc->kind == BT_BUDGET_LAST) {
            assert(at - (bc->jump_at + 1) <= 127);
            a->start[bc->jump_at] = (uint8_t)(at - (bc->jump_at + 1));
        }
    }
    if (!fast)
        bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xC9}, 3); /* mov rcx, r9 */
    bt_bytes(a, (const uint8_t[]){0x4D, 0x8D, 0x76, (uint8_t)(n - bc->before)}, 4); /* lea r14, [r14 + k] */
    bt_emit_handoff(a, bc->eip, fast ? BT_EXIT_BUDGET_FLAGS : BT_EXIT_BUDGET);
    if (bc->kind == BT_BUDGET_ENTRY) {
        assert(a->p == a->start + bc->exit_at + ENTRY_EXIT_LEN);
        a->p = end;
    }
}

/* Appends a direct exit to target; fixup as in struct bt_exits. */
static void add_exit(struct bt_exits *ex, uint32_t target, uint32_t fixup)
{
    assert(ex->n < TC_MAX_EXITS);
    ex->target[ex->n] = target;
    ex->fixup[ex->n] = fixup;
    ex->n++;
}

/* Where a host RET of a guest RET lands: the code after the host CALL
 * of a guest CALL whose return address was next (bt_ras.c). r9d is the
 * address the guest RET popped: equal, on to next's block (a direct
 * exit, chained); else the inline lookup of r9d. Flag-free: the
 * difference goes through ECX (guest ECX waits in r11) to JRCXZ. */
static void emit_return_check(struct bt_asm *a, uint32_t next, struct bt_exits *ex)
{
    bt_bytes(a, (const uint8_t[]){0x49, 0x89, 0xCB}, 3);  /* mov r11, rcx */
    bt_bytes(a, (const uint8_t[]){0x41, 0x8D, 0x89}, 3);  /* lea ecx, [r9 - next] */
    bt_d32(a, (uint32_t)-next);
    bt_bytes(a, (const uint8_t[]){0xE3, 0}, 2);           /* jrcxz same */
    size_t to_same = (size_t)(a->p - a->start) - 1;
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD9}, 3);  /* mov rcx, r11 */
    bt_jmp_ind_lookup(a);
    a->start[to_same] = (uint8_t)((size_t)(a->p - a->start) - (to_same + 1));
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD9, 0xE9}, 4); /* same: mov rcx, r11; jmp next */
    add_exit(ex, next, (uint32_t)(a->p - a->start));
    bt_d32(a, 0);
}

static enum bt_emit_result emit_control(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                        uint32_t mode, struct bt_exits *ex)
{
    uint32_t next = eip + d->len;
    struct dec_mem m;
    bool uses_stack = d->cf == DEC_CF_CALL_REL || d->cf == DEC_CF_CALL_IND ||
                      d->cf == DEC_CF_RET || d->cf == DEC_CF_RET_IMM;
    if (d->opsize != 32 || (uses_stack && !bt_seg_flat(mode, HLP_SS)))
        return BT_EMIT_FALLBACK;
    switch (d->cf) {
    case DEC_CF_JMP_REL:
        add_exit(ex, dec_rel_target(d, &d->ops[0], eip), 0);
        return BT_EMIT_ENDS;
    case DEC_CF_JCC:
        /* A side exit when taken; not taken, the block goes on while
         * there is room for the exits of the instructions after it
         * (a Jcc or LOOP at the end takes two). */
        bt_b1(a, 0x0F);
        bt_b1(a, (uint8_t)(0x80 | (d->opcode & 0xF)));
        add_exit(ex, dec_rel_target(d, &d->ops[0], eip), (uint32_t)(a->p - a->start));
        bt_d32(a, 0);
        if (ex->n + 2 <= TC_MAX_EXITS)
            return BT_EMIT_OK;
        add_exit(ex, next, 0);
        return BT_EMIT_ENDS;
    case DEC_CF_CALL_REL:
        bt_mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, bt_stack_at(&m, -4), true);
        bt_d32(a, next);
        bt_add_esp(a, -4);
        bt_b1(a, 0xE8); /* call the callee's exit: chained, its block */
        add_exit(ex, dec_rel_target(d, &d->ops[0], eip), (uint32_t)(a->p - a->start));
        bt_d32(a, 0);
        emit_return_check(a, next, ex);
        return BT_EMIT_ENDS;
    case DEC_CF_JMP_IND:
        if (!bt_load_r9(a, &d->ops[0], mode))
            return BT_EMIT_FALLBACK;
        bt_jmp_ind_lookup(a);
        return BT_EMIT_ENDS;
    case DEC_CF_CALL_IND: {
        /* The target is read with ESP before the push (SDM Vol. 2A CALL). */
        if (!bt_load_r9(a, &d->ops[0], mode))
            return BT_EMIT_FALLBACK;
        bt_mem_insn(a, false, (const uint8_t[]){0xC7}, 1, 0, bt_stack_at(&m, -4), true);
        bt_d32(a, next);
        bt_add_esp(a, -4);
        bt_b1(a, 0xE8); /* call lookup */
        size_t to_lookup = (size_t)(a->p - a->start);
        bt_d32(a, 0);
        emit_return_check(a, next, ex);
        bt_jcc32_fix(a, to_lookup);
        bt_jmp_ind_lookup(a);
        return BT_EMIT_ENDS;
    }
    case DEC_CF_RET:
    case DEC_CF_RET_IMM: {
        uint32_t extra = d->cf == DEC_CF_RET_IMM ? (d->ops[0].imm & 0xFFFF) : 0;
        bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, bt_stack_at(&m, 0), true);
        bt_add_esp(a, (int32_t)(4 + extra));
        bt_b1(a, 0xC3); /* ret: to the matching CALL's return check (bt_ras.c) */
        return BT_EMIT_ENDS;
    }
    case DEC_CF_LOOP:
        if (d->mnemonic != ZYDIS_MNEMONIC_LOOP || d->addrsize != 32)
            return BT_EMIT_FALLBACK;
        /* lea ecx, [rcx-1] (LOOP leaves the flags alone); jecxz over the
         * jump to the taken stub into the fall-through one. */
        bt_bytes(a, (const uint8_t[]){0x8D, 0x49, 0xFF, P_ADDR32, 0xE3, 0x05, 0xE9}, 7);
        add_exit(ex, next, 0);
        add_exit(ex, dec_rel_target(d, &d->ops[0], eip), (uint32_t)(a->p - a->start));
        bt_d32(a, 0);
        return BT_EMIT_ENDS;
    case DEC_CF_JCXZ:
        if (d->addrsize != 32)
            return BT_EMIT_FALLBACK;
        /* jecxz falls into the taken stub (exit 0); else jump to exit 1. */
        bt_bytes(a, (const uint8_t[]){P_ADDR32, 0xE3, 0x05, 0xE9}, 4);
        add_exit(ex, dec_rel_target(d, &d->ops[0], eip), 0);
        add_exit(ex, next, (uint32_t)(a->p - a->start));
        bt_d32(a, 0);
        return BT_EMIT_ENDS;
    default:
        return BT_EMIT_FALLBACK;
    }
}

void bt_emit_stubs(struct bt_asm *a, const struct bt_exits *ex, struct tc_block *b)
{
    b->n_exits = (uint8_t)ex->n;
    /* The exit the code falls into (fixup 0) comes first. */
    for (unsigned k = 0; k < 2 * ex->n; k++) {
        unsigned i = k % ex->n;
        if ((k < ex->n) != (ex->fixup[i] == 0))
            continue;
        uint32_t at = (uint32_t)(a->p - a->start);
        if (ex->fixup[i]) {
            int32_t rel = (int32_t)(at - (ex->fixup[i] + 4));
            memcpy(a->start + ex->fixup[i], &rel, 4);
        }
        if ((ex->target[i] ^ a->block_eip) >> TC_PAGE_SHIFT) {
            /* Another page may map elsewhere by the time this runs
             * again: no chaining (tc_chain), the inline lookup, which
             * every TLB flush clears. */
            bt_bytes(a, (const uint8_t[]){0x41, 0xB9}, 2); /* mov r9d, target */
            bt_d32(a, ex->target[i]);
            bt_jmp_ind_lookup(a);
            b->exits[i] = (struct tc_exit){.patch_off = at, .stub_off = at,
                                           .target_eip = ex->target[i]};
            continue;
        }
        /* The patch site tc_chain rewrites: the branch's own rel32 when
         * it has one (a taken Jcc then goes straight to its target),
         * else a jmp +0 here. Then mov r10, block | i; jmp exit_chain:
         * the dispatcher learns which exit to chain (tc_block records
         * are 16-byte aligned: TC_EXIT_TAG). */
        uint32_t patch = ex->fixup[i];
        if (!patch) {
            bt_b1(a, 0xE9);
            bt_d32(a, 0);
            patch = at + 1;
        }
        uint32_t stub = (uint32_t)(a->p - a->start);
        bt_bytes(a, (const uint8_t[]){0x49, 0xBA}, 2);
        uint64_t tag = (uint64_t)(uintptr_t)a->block | i;
        memcpy(a->p, &tag, 8);
        a->p += 8;
        bt_b1(a, 0xE9);
        bt_rel32_to(a, a->rx_start, a->exit_chain);
        b->exits[i] = (struct tc_exit){.patch_off = patch, .stub_off = stub,
                                       .target_eip = ex->target[i]};
    }
}

void bt_emit_helper_call(struct bt_asm *a, uint32_t eip, const struct bt_helper_site *site)
{
    bt_set_eip_imm(a, eip);
    bt_bytes(a, (const uint8_t[]){0x49, 0xBA}, 2); /* mov r10, site */
    uint64_t p = (uint64_t)(uintptr_t)site;
    memcpy(a->p, &p, 8);
    a->p += 8;
    bt_b1(a, 0xE8); /* call helper */
    bt_rel32_to(a, a->rx_start, a->helper);
}

void bt_emit_handoff(struct bt_asm *a, uint32_t eip, uint32_t reason)
{
    bt_set_eip_imm(a, eip);
    bt_b1(a, 0x41); /* mov r10d, imm32 */
    bt_b1(a, 0xBA);
    bt_d32(a, reason);
    bt_b1(a, 0xE9);
    bt_rel32_to(a, a->rx_start, a->exit_common);
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

/* via_r9: the memory operand becomes gs:[r9d], its linear address
 * through a based segment (bt_emit_seg.c), with its size kept. */
static bool zydis_rewrite(struct bt_asm *a, const ZydisDecodedInstruction *zi,
                          const ZydisDecodedOperand *zops, bool agen, bool via_r9)
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
            if (via_r9) {
                op->mem.base = ZYDIS_REGISTER_R9D;
                op->mem.index = ZYDIS_REGISTER_NONE;
                op->mem.scale = 0;
                op->mem.displacement = 0;
                continue;
            }
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
    bt_bytes(a, out, len);
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
    const struct dec_op *m = bt_mem_operand(d);
    return m && !bt_seg_flat(mode, m->mem.seg) && !bt_seg_based(mode, m->mem.seg);
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
    if (d->cls == DEC_CLASS_STRING)
        return bt_emit_string(a, d, eip, mode);
    if (d->cls == DEC_CLASS_IOPL || d->cls == DEC_CLASS_SENSITIVE)
        return bt_emit_flags(a, d, eip, mode);
    if (d->cls != DEC_CLASS_INNOCUOUS || d->cf != DEC_CF_NONE)
        return BT_EMIT_FALLBACK;
    if (d->map == DEC_MAP_1B && d->opcode >= 0x40 && d->opcode <= 0x4F &&
        !(d->flags & DEC_F_MODRM))
        return emit_incdec(a, d);
    if (d->flags & DEC_F_STACK) {
        if (!bt_seg_flat(mode, HLP_SS))
            return BT_EMIT_FALLBACK;
        if (d->mnemonic == ZYDIS_MNEMONIC_PUSH)
            return emit_push(a, d, mode);
        if (d->mnemonic == ZYDIS_MNEMONIC_POP)
            return emit_pop(a, d, mode);
        if (d->mnemonic == ZYDIS_MNEMONIC_LEAVE)
            return emit_leave(a, d);
        return bt_emit_stack_forms(a, d, mode);
    }
    if (d->mnemonic == ZYDIS_MNEMONIC_XLAT)
        return bt_emit_stack_forms(a, d, mode);
    if (d->flags & DEC_F_X87)
        return bt_x87_emit(a, d, eip, mode);
    if (needs_interp(d, mode))
        return BT_EMIT_FALLBACK;
    bool agen = false;
    for (unsigned i = 0; i < d->n_ops; i++)
        agen |= d->ops[i].kind == DEC_OP_MEM && (d->ops[i].flags & DEC_OPF_AGEN);
    uint8_t *start = a->p;
    const struct dec_op *m = bt_mem_operand(d);
    bool via_r9 = m && bt_seg_based(mode, m->mem.seg);
    if (via_r9)
        bt_seg_lin_r9(a, &m->mem);
    if (!zydis_rewrite(a, zi, zops, agen, via_r9)) {
        a->p = start;
        return BT_EMIT_FALLBACK;
    }
    return BT_EMIT_OK;
}
