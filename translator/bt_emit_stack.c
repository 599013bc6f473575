/* PUSHAD, POPAD, ENTER and XLAT, invalid or different in 64-bit mode,
 * as explicit sequences on a flat stack (DS for XLAT). Faults stay
 * precise: stores come before ESP moves, and POPAD touches the first
 * and the last dword of its 32 bytes before it overwrites any register,
 * so the loads after them find both pages mapped in the window. */
#include "translator/bt_asm.h"

/* PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI at ESP-4
 * down to ESP-32 (SDM Vol. 2B PUSHA/PUSHAD). */
static void emit_pushad(struct bt_asm *a)
{
    struct dec_mem m;
    for (unsigned r = 0; r < 8; r++)
        bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, bt_host_reg(r),
                    bt_stack_at(&m, -4 * (int32_t)(r + 1)), true);
    bt_add_esp(a, -32);
}

/* POPAD: EDI, ESI, EBP from [ESP], [ESP+4], [ESP+8]; [ESP+12] skipped;
 * EBX, EDX, ECX, EAX from [ESP+16] up (SDM Vol. 2B POPA/POPAD). */
static void emit_popad(struct bt_asm *a)
{
    struct dec_mem m;
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R9, bt_stack_at(&m, 28), true);
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R10, bt_stack_at(&m, 0), true);
    for (unsigned r = HLP_ECX; r <= HLP_ESI; r++)
        if (r != HLP_ESP)
            bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, r,
                        bt_stack_at(&m, 28 - 4 * (int32_t)r), true);
    bt_mov_rr(a, HLP_EDI, R_R10);
    bt_mov_rr(a, HLP_EAX, R_R9);
    bt_add_esp(a, 32);
}

/* ENTER size, 0: push EBP, EBP <- ESP, ESP -= size (SDM Vol. 2A ENTER).
 * The new ESP must be writable (a page fault otherwise, as the
 * interpreter checks it): a byte there is read and written back, so a
 * fault there leaves before anything changed. */
static void emit_enter(struct bt_asm *a, uint32_t size)
{
    struct dec_mem m;
    if (size) {
        int32_t at = -4 - (int32_t)size;
        bt_mem_insn(a, false, (const uint8_t[]){0x8A}, 1, R_R11, bt_stack_at(&m, at), true);
        bt_mem_insn(a, false, (const uint8_t[]){0x88}, 1, R_R11, bt_stack_at(&m, at), true);
    }
    bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, HLP_EBP, bt_stack_at(&m, -4), true);
    bt_add_esp(a, -4);
    bt_mov_rr(a, HLP_EBP, R_R8);
    if (size)
        bt_add_esp(a, -(int32_t)size);
}

/* XLAT: AL <- DS:[EBX + zero-extended AL] (SDM Vol. 2B XLAT). */
static void emit_xlat(struct bt_asm *a)
{
    bt_bytes(a, (const uint8_t[]){0x44, 0x0F, 0xB6, 0xC8}, 4);       /* movzx r9d, al */
    bt_bytes(a, (const uint8_t[]){0x46, 0x8D, 0x0C, 0x0B}, 4);       /* lea r9d, [rbx+r9] */
    bt_bytes(a, (const uint8_t[]){P_GS, P_ADDR32, 0x41, 0x8A, 0x01}, 5); /* mov al, gs:[r9d] */
}

enum bt_emit_result bt_emit_stack_forms(struct bt_asm *a, const struct dec_insn *d, uint32_t mode)
{
    if (d->addrsize != 32)
        return BT_EMIT_FALLBACK;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_PUSHAD:
    case ZYDIS_MNEMONIC_POPAD:
        if (d->opsize != 32 || !bt_seg_flat(mode, HLP_SS))
            return BT_EMIT_FALLBACK;
        if (d->mnemonic == ZYDIS_MNEMONIC_PUSHAD)
            emit_pushad(a);
        else
            emit_popad(a);
        return BT_EMIT_OK;
    case ZYDIS_MNEMONIC_ENTER:
        if (d->opsize != 32 || (d->ops[1].imm & 31) != 0 || !bt_seg_flat(mode, HLP_SS))
            return BT_EMIT_FALLBACK;
        emit_enter(a, (uint32_t)d->ops[0].imm & 0xFFFF);
        return BT_EMIT_OK;
    case ZYDIS_MNEMONIC_XLAT: {
        /* Its operands are implicit (no dec_op): DS unless overridden. */
        unsigned seg = (d->prefixes & DEC_P_SEG) ? d->seg_override : DEC_SEG_DS;
        if (!bt_seg_flat(mode, seg))
            return BT_EMIT_FALLBACK;
        emit_xlat(a);
        return BT_EMIT_OK;
    }
    default:
        return BT_EMIT_FALLBACK;
    }
}
