/* CLI, STI, PUSHFD and POPFD inline on the guest flags translated code
 * keeps in struct bt_rt (IF in rt.vif, the other system flags in
 * rt.eflags_sys), instead of a helper call: these are the instructions
 * of a kernel's interrupt masking (local_irq_save/restore), which is
 * where trap-and-emulate pays an exit per instruction and VT-x none.
 * Only where the block's CPL makes the privilege checks static: CLI,
 * STI and POPFD at CPL 0 (CPL <= IOPL always holds, SDM Vol. 2A CLI/STI,
 * Vol. 2B POPF: IOPL and IF writable); PUSHFD at any CPL (translated
 * code is never V86, the only mode where PUSHF checks IOPL). Anything
 * else is a helper call as before. */
#include "translator/bt_asm.h"

enum { POPF_SYS = HLP_FL_IOPL | HLP_FL_NT | HLP_FL_AC | HLP_FL_ID };

static void rt_op(struct bt_asm *a, const uint8_t *op, size_t n, uint32_t disp)
{
    bt_bytes(a, op, n);
    bt_d32(a, disp);
}

/* mov dword [r15+eip], next; mov r10d, BT_EXIT_NEXT; jmp exit_common */
static void exit_to(struct bt_asm *a, uint32_t next)
{
    bt_set_eip_imm(a, next);
    bt_bytes(a, (const uint8_t[]){0x41, 0xBA, BT_EXIT_NEXT, 0, 0, 0, 0xE9}, 7);
    bt_rel32_to(a, a->rx_start, a->exit_common);
}

/* STI: IF <- 1, noting where its interrupt shadow is (SDM Vol. 3A
 * 6.8.3); with an interrupt waiting, leave at the next instruction,
 * which the dispatcher then runs inside the shadow before delivering
 * it. Flag-free: the test goes through ECX (guest ECX in r11). */
static void emit_sti(struct bt_asm *a, uint32_t next)
{
    rt_op(a, (const uint8_t[]){0x45, 0x0F, 0xB6, 0x97}, 4, BT_RT_VIF);   /* movzx r10d, vif */
    rt_op(a, (const uint8_t[]){0x45, 0x88, 0x97}, 3, BT_RT_STI_IF_WAS);  /* mov sti_if_was, r10b */
    rt_op(a, (const uint8_t[]){0x41, 0xC6, 0x87}, 3, BT_RT_VIF);         /* mov vif, 1 */
    bt_b1(a, 1);
    rt_op(a, (const uint8_t[]){0x41, 0xC7, 0x87}, 3, BT_RT_STI_NEXT);    /* mov sti_next, next */
    bt_d32(a, next);
    bt_bytes(a, (const uint8_t[]){0x49, 0x89, 0xCB}, 3);                 /* mov r11, rcx */
    rt_op(a, (const uint8_t[]){0x41, 0x0F, 0xB6, 0x8F}, 4, BT_RT_INTR_PENDING); /* movzx ecx, pending */
    bt_bytes(a, (const uint8_t[]){0xE3, 0}, 2);                          /* jrcxz on */
    size_t on = (size_t)(a->p - a->start) - 1;
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD9}, 3);                 /* mov rcx, r11 */
    exit_to(a, next);
    a->start[on] = (uint8_t)((size_t)(a->p - a->start) - (on + 1));
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD9}, 3);                 /* on: mov rcx, r11 */
}

/* PUSHFD: the image is the host's CF PF AF ZF SF OF DF, rt's system
 * flags and IF, with VM and RF clear (SDM Vol. 2B PUSHF). The host
 * flags are restored (POPFQ) before the store, the one instruction that
 * can fault. */
static void emit_pushfd(struct bt_asm *a)
{
    struct dec_mem m;
    bt_bytes(a, (const uint8_t[]){0x9C, 0x4C, 0x8B, 0x14, 0x24}, 5);   /* pushfq; mov r10, [rsp] */
    bt_bytes(a, (const uint8_t[]){0x41, 0x81, 0xE2}, 3);               /* and r10d, arith|DF */
    bt_d32(a, HLP_FL_ARITH | HLP_FL_DF);
    rt_op(a, (const uint8_t[]){0x45, 0x0B, 0x97}, 3, BT_RT_EFLAGS_SYS); /* or r10d, eflags_sys */
    rt_op(a, (const uint8_t[]){0x45, 0x0F, 0xB6, 0x9F}, 4, BT_RT_VIF);  /* movzx r11d, vif */
    bt_bytes(a, (const uint8_t[]){0x41, 0xC1, 0xE3, 9, 0x45, 0x09, 0xDA}, 7); /* shl r11d, 9; or r10d, r11d */
    bt_bytes(a, (const uint8_t[]){0x41, 0x81, 0xE2}, 3);               /* and r10d, ~(VM|RF) */
    bt_d32(a, ~(uint32_t)(HLP_FL_VM | HLP_FL_RF));
    bt_b1(a, 0x9D);                                                     /* popfq */
    bt_mem_insn(a, false, (const uint8_t[]){0x89}, 1, R_R10, bt_stack_at(&m, -4), true);
    bt_add_esp(a, -4);
}

/* POPFD at CPL 0: CF PF AF ZF SF OF DF to the host, IF to vif, IOPL NT
 * AC ID to eflags_sys, RF cleared (SDM Vol. 2B POPF). TF set would need
 * instruction stepping: the interpreter runs that POPFD (the flags this
 * sequence clobbered before deciding are all POPFD's to write). IF set
 * with an interrupt waiting: leave at the next instruction (POPF has no
 * interrupt shadow). */
static void emit_popfd(struct bt_asm *a, const struct dec_insn *d, uint32_t eip)
{
    struct dec_mem m;
    uint32_t next = eip + d->len;
    bt_mem_insn(a, false, (const uint8_t[]){0x8B}, 1, R_R10, bt_stack_at(&m, 0), true);
    bt_bytes(a, (const uint8_t[]){0x41, 0xF7, 0xC2}, 3);               /* test r10d, TF */
    bt_d32(a, HLP_FL_TF);
    size_t slow = bt_jcc32(a, 0x5);                                     /* jnz slow */
    bt_add_esp(a, 4);
    bt_bytes(a, (const uint8_t[]){0x45, 0x89, 0xD3, 0x41, 0xC1, 0xEB, 9, /* mov r11d, r10d; shr r11d, 9 */
                                  0x41, 0x83, 0xE3, 1}, 11);             /* and r11d, 1 */
    rt_op(a, (const uint8_t[]){0x45, 0x88, 0x9F}, 3, BT_RT_VIF);        /* mov vif, r11b */
    rt_op(a, (const uint8_t[]){0x45, 0x0F, 0xB6, 0xA7}, 4, BT_RT_INTR_PENDING); /* movzx r12d, pending */
    bt_bytes(a, (const uint8_t[]){0x45, 0x21, 0xE3}, 3);               /* and r11d, r12d: leave? */
    bt_bytes(a, (const uint8_t[]){0x45, 0x89, 0xD1, 0x41, 0x81, 0xE1}, 6); /* mov r9d, r10d; and r9d, */
    bt_d32(a, POPF_SYS);
    rt_op(a, (const uint8_t[]){0x45, 0x8B, 0xA7}, 3, BT_RT_EFLAGS_SYS); /* mov r12d, eflags_sys */
    bt_bytes(a, (const uint8_t[]){0x41, 0x81, 0xE4}, 3);               /* and r12d, ~(POPF_SYS|RF) */
    bt_d32(a, ~(uint32_t)(POPF_SYS | HLP_FL_RF));
    bt_bytes(a, (const uint8_t[]){0x45, 0x09, 0xCC}, 3);               /* or r12d, r9d */
    rt_op(a, (const uint8_t[]){0x45, 0x89, 0xA7}, 3, BT_RT_EFLAGS_SYS); /* mov eflags_sys, r12d */
    bt_bytes(a, (const uint8_t[]){0x41, 0x81, 0xE2}, 3);               /* and r10d, arith|DF|1 */
    bt_d32(a, HLP_FL_ARITH | HLP_FL_DF | HLP_FL_FIXED1);
    bt_bytes(a, (const uint8_t[]){0x41, 0x52, 0x9D}, 3);               /* push r10; popfq */
    bt_bytes(a, (const uint8_t[]){0x49, 0x89, 0xCA, 0x44, 0x89, 0xD9}, 6); /* mov r10, rcx; mov ecx, r11d */
    bt_bytes(a, (const uint8_t[]){0xE3, 0}, 2);                        /* jrcxz on */
    size_t on = (size_t)(a->p - a->start) - 1;
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD1}, 3);               /* mov rcx, r10 */
    exit_to(a, next);
    a->start[on] = (uint8_t)((size_t)(a->p - a->start) - (on + 1));
    bt_bytes(a, (const uint8_t[]){0x4C, 0x89, 0xD1, 0xE9}, 4);         /* on: mov rcx, r10; jmp done */
    size_t done = (size_t)(a->p - a->start);
    bt_d32(a, 0);
    bt_jcc32_fix(a, slow);
    bt_emit_handoff(a, eip, BT_EXIT_INTERP | (uint32_t)(d->mnemonic & 0xFFFF) << 8 |
                                (uint32_t)BT_HANDOFF_SYSTEM << 24);
    bt_jcc32_fix(a, done);
}

bool bt_flags_inline(const struct dec_insn *d, uint32_t mode)
{
    bool cpl0 = ((mode >> BT_MODE_CPL_SHIFT) & 3) == 0;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
        return cpl0;
    case ZYDIS_MNEMONIC_PUSHFD:
        return d->opsize == 32 && bt_seg_flat(mode, HLP_SS);
    case ZYDIS_MNEMONIC_POPFD:
        return cpl0 && d->opsize == 32 && bt_seg_flat(mode, HLP_SS);
    default:
        return false;
    }
}

enum bt_emit_result bt_emit_flags(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                  uint32_t mode)
{
    if (!bt_flags_inline(d, mode))
        return BT_EMIT_FALLBACK;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_CLI:
        rt_op(a, (const uint8_t[]){0x41, 0xC6, 0x87}, 3, BT_RT_VIF); /* mov vif, 0 */
        bt_b1(a, 0);
        break;
    case ZYDIS_MNEMONIC_STI:
        emit_sti(a, eip + d->len);
        break;
    case ZYDIS_MNEMONIC_PUSHFD:
        emit_pushfd(a);
        break;
    default:
        emit_popfd(a, d, eip);
        break;
    }
    return BT_EMIT_OK;
}
