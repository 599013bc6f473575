/* String instructions (issue #4 item 1): MOVS, CMPS, STOS, LODS, SCAS
 * (byte, word, dword) with 32-bit addressing, flat segments, either DF;
 * REP MOVS/STOS and REP/REPE/REPNE CMPS, SCAS, LODS. The host's own
 * string instructions do the work, so the iterations, the flags of CMPS
 * and SCAS (SDM Vol. 2A CMPS, Vol. 2B SCAS: SRC1 - SRC2 as CMP), DF and
 * the register updates are the processor's.
 *
 * In 64-bit mode ES has base 0 and cannot be overridden (SDM Vol. 1
 * 3.4.2.1), so whatever touches ES:EDI runs on RDI = window + EDI
 * (64-bit addressing) and gets EDI back after; the source takes a GS
 * override, so RSI stays the guest's ESI. A fault there leaves RDI
 * biased: rt.str_biased tells the dispatcher (bt_engine.c, run_block)
 * to subtract the window, and the interpreter redoes the instruction
 * from the registers as the processor left them (an interrupted REP
 * restarts, SDM Vol. 2B REP). LODS needs nothing of that: gs addr32
 * LODS reads gs:[ESI] and wraps ESI at 4 GiB itself. */
#include "translator/bt_asm.h"

#include <assert.h>
#include <string.h>

enum str_kind { K_MOVS, K_CMPS, K_STOS, K_LODS, K_SCAS };

/* A REP CMPS/SCAS/LODS runs at most STR_CHUNK iterations per host REP,
 * then charges them to the budget (r14) and goes on or leaves for the
 * dispatcher (interrupts, polling) with the instruction half done, as
 * the processor may (SDM Vol. 2B REP: an interrupted string instruction
 * resumes where it stopped). A chunk's pointers must stay STR_MARGIN
 * away from 0 and from 4 GiB, whatever DF: the window cannot wrap. */
enum { STR_CHUNK = 4096, STR_MARGIN = STR_CHUNK * 4 };

static int kind_of(unsigned mnemonic)
{
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
        return K_MOVS;
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
        return K_CMPS;
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
        return K_STOS;
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
        return K_LODS;
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
        return K_SCAS;
    default:
        return -1;
    }
}

static void set_str_biased(struct bt_asm *a, uint32_t v)
{
    /* mov dword [r15+str_biased], v */
    bt_bytes(a, (const uint8_t[]){0x41, 0xC7, 0x47, BT_RT_STR_BIASED}, 4);
    bt_d32(a, v);
}

/* mov r12, [r15+gs_base]; lea rdi, [rdi+r12] */
static void bias_edi(struct bt_asm *a)
{
    bt_bytes(a, (const uint8_t[]){0x4D, 0x8B, 0xA7}, 3);
    bt_d32(a, BT_RT_GS_BASE);
    bt_bytes(a, (const uint8_t[]){0x4A, 0x8D, 0x3C, 0x27}, 4);
}

/* EDI <- RDI - window (not r12; lea edi, [rdi+r12+1]), ESI <- its low
 * half (a 64-bit source pointer may step to 2^32 or below 0): both
 * wrap as the guest's 32-bit registers, and no flag changes. */
static void unbias(struct bt_asm *a, bool esi)
{
    bt_bytes(a, (const uint8_t[]){0x49, 0xF7, 0xD4, 0x42, 0x8D, 0x7C, 0x27, 0x01}, 8);
    if (esi)
        bt_bytes(a, (const uint8_t[]){0x89, 0xF6}, 2);
}

/* [gs] [addr32] [66] [rep] opcode: the host string instruction. */
static void host_op(struct bt_asm *a, enum str_kind kind, unsigned size, uint8_t rep)
{
    static const uint8_t opcode[] = {[K_MOVS] = 0xA4, [K_CMPS] = 0xA6, [K_STOS] = 0xAA,
                                     [K_LODS] = 0xAC, [K_SCAS] = 0xAE};
    if (kind != K_STOS && kind != K_SCAS)
        bt_b1(a, P_GS);
    if (kind == K_LODS)
        bt_b1(a, P_ADDR32);
    if (size == 2)
        bt_b1(a, P_OPSIZE);
    if (rep)
        bt_b1(a, rep);
    bt_b1(a, (uint8_t)(opcode[kind] | (size > 1)));
}

/* Without REP: one host instruction (LODS), or one between the bias of
 * RDI and its removal. */
static void emit_single(struct bt_asm *a, enum str_kind kind, unsigned size)
{
    if (kind == K_LODS) {
        host_op(a, kind, size, 0);
        return;
    }
    set_str_biased(a, BT_STR_EDI);
    bias_edi(a);
    host_op(a, kind, size, 0);
    unbias(a, kind == K_MOVS || kind == K_CMPS);
    set_str_biased(a, 0);
}

/* A forward rel8 whose target is placed later (rel8_fix). */
static size_t rel8(struct bt_asm *a, const uint8_t *op, size_t n)
{
    bt_bytes(a, op, n);
    bt_b1(a, 0);
    return (size_t)(a->p - a->start) - 1;
}

static void rel8_fix(struct bt_asm *a, size_t at)
{
    size_t d = (size_t)(a->p - a->start) - (at + 1);
    assert(d <= 127);
    a->start[at] = (uint8_t)d;
}

/* REP/REPE/REPNE CMPS, SCAS and REP LODS, in chunks:
 *
 *       jecxz done               ; ECX = 0: nothing, flags kept
 *       pushfq                   ; the checks below use the flags
 *   again:
 *       r11d <- ECX - min(ECX, STR_CHUNK), ECX <- min(ECX, STR_CHUNK)
 *       ESI, EDI (those used) within [STR_MARGIN, 4 GiB - STR_MARGIN) or slow
 *       rt.str_rest <- r11d, rt.str_biased <- ECX (| EDI), bias RDI
 *       popfq; [gs] rep(e/ne) op; unbias
 *       rt.str_biased <- 0; ECX <- ECX + r11d
 *       jne/je done (REPE/REPNE: stopped on the condition); jecxz done
 *       pushfq; sub r14, STR_CHUNK; jns again   ; the flags are saved
 *       popfq; leave with BT_EXIT_BUDGET at the instruction
 *   slow:
 *       popfq; hand it to the interpreter (a range near 0 or 4 GiB)
 *   done:
 *
 * The flags seen at either exit are those of the last iteration run,
 * as after an interrupted REP on the processor. */
static void emit_rep_chunked(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                             enum str_kind kind, unsigned size)
{
    bool src = kind != K_SCAS, dst = kind != K_LODS, compares = kind != K_LODS;
    bool repne = compares && (d->prefixes & DEC_P_REPNE);
    size_t done[3], slow[2];
    unsigned n_done = 0, n_slow = 0;
    /* jecxz +2; jmp +5; jmp rel32 done (fixed at the end) */
    bt_bytes(a, (const uint8_t[]){P_ADDR32, 0xE3, 0x02, 0xEB, 0x05, 0xE9}, 6);
    done[n_done++] = (size_t)(a->p - a->start);
    bt_d32(a, 0);
    bt_b1(a, 0x9C);
    const uint8_t *again = a->p;
    /* mov r11d, ecx; cmp ecx, CHUNK */
    bt_bytes(a, (const uint8_t[]){0x44, 0x8B, 0xD9, 0x81, 0xF9}, 5);
    bt_d32(a, STR_CHUNK);
    bt_bytes(a, (const uint8_t[]){0x76, 0x05, 0xB9}, 3); /* jbe +5; mov ecx, CHUNK */
    bt_d32(a, STR_CHUNK);
    bt_bytes(a, (const uint8_t[]){0x41, 0x29, 0xCB}, 3); /* sub r11d, ecx */
    for (unsigned r = 0; r < 2 && kind != K_LODS; r++) {
        if ((r == 0 && !src) || (r == 1 && !dst))
            continue;
        /* lea r12d, [rsi/rdi - MARGIN]; cmp r12d, -2 * MARGIN; jae slow */
        bt_bytes(a, (const uint8_t[]){0x44, 0x8D, (uint8_t)(r ? 0xA7 : 0xA6)}, 3);
        bt_d32(a, (uint32_t)-STR_MARGIN);
        bt_bytes(a, (const uint8_t[]){0x41, 0x81, 0xFC}, 3);
        bt_d32(a, (uint32_t)-2 * STR_MARGIN);
        slow[n_slow++] = bt_jcc32(a, 0x3);
    }
    bt_bytes(a, (const uint8_t[]){0x45, 0x89, 0x9F}, 3); /* mov [r15+str_rest], r11d */
    bt_d32(a, BT_RT_STR_REST);
    set_str_biased(a, BT_STR_ECX | (dst ? BT_STR_EDI : 0));
    if (dst)
        bias_edi(a);
    bt_b1(a, 0x9D);
    host_op(a, kind, size, repne ? 0xF2 : 0xF3);
    if (dst)
        unbias(a, src);
    set_str_biased(a, 0);
    bt_bytes(a, (const uint8_t[]){0x42, 0x8D, 0x0C, 0x19}, 4); /* lea ecx, [rcx+r11] */
    if (compares)
        done[n_done++] = rel8(a, (const uint8_t[]){(uint8_t)(repne ? 0x74 : 0x75)}, 1);
    done[n_done++] = rel8(a, (const uint8_t[]){P_ADDR32, 0xE3}, 2);
    bt_bytes(a, (const uint8_t[]){0x9C, 0x49, 0x81, 0xEE}, 4); /* pushfq; sub r14, CHUNK */
    bt_d32(a, STR_CHUNK);
    bt_bytes(a, (const uint8_t[]){0x0F, 0x89}, 2); /* jns again */
    bt_d32(a, (uint32_t)(int32_t)(again - (a->p + 4)));
    bt_bytes(a, (const uint8_t[]){0x9D, 0x41, 0xBA}, 3); /* popfq; mov r10d, BUDGET */
    bt_d32(a, BT_EXIT_BUDGET);
    size_t to_leave = rel8(a, (const uint8_t[]){0xEB}, 1);
    for (unsigned i = 0; i < n_slow; i++)
        bt_jcc32_fix(a, slow[i]);
    bt_bytes(a, (const uint8_t[]){0x9D, 0x41, 0xBA}, 3); /* slow: popfq; mov r10d, reason */
    bt_d32(a, BT_EXIT_INTERP | (uint32_t)(d->mnemonic & 0xFFFF) << 8 |
                  (uint32_t)BT_HANDOFF_UNTRANSLATED << 24);
    rel8_fix(a, to_leave);
    bt_set_eip_imm(a, eip);
    bt_b1(a, 0xE9);
    bt_rel32_to(a, a->rx_start, a->exit_common);
    /* done: the first jump is the rel32 after the entry's jecxz. */
    int32_t rel = (int32_t)((size_t)(a->p - a->start) - (done[0] + 4));
    memcpy(a->start + done[0], &rel, 4);
    for (unsigned i = 1; i < n_done; i++)
        rel8_fix(a, done[i]);
}

/* REP MOVS / REP STOS: the host's own REP MOVS/STOS on host addresses
 * (window + ESI/EDI), which honour the guest's DF and update ECX, ESI
 * and EDI element by element as the guest's would (SDM Vol. 2B REP).
 * A range that would wrap around 4 GiB goes to the interpreter (the
 * window cannot wrap). A fault inside leaves at this instruction with
 * ECX as the CPU left it and ESI/EDI biased by the window, which
 * rt.str_biased tells the dispatcher to undo; the interpreter then
 * finishes the instruction. */
static void emit_rep_movs_stos(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                               bool movs, unsigned size)
{
    size_t slow[4];
    unsigned n_slow = 0;
    bt_b1(a, 0x9C); /* pushfq: the checks below use the flags */
    if (size == 4)
        bt_bytes(a, (const uint8_t[]){0x4C, 0x8D, 0x0C, 0x8D, 0, 0, 0, 0}, 8); /* lea r9, [rcx*4] */
    else if (size == 2)
        bt_bytes(a, (const uint8_t[]){0x4C, 0x8D, 0x0C, 0x09}, 4); /* lea r9, [rcx+rcx] */
    else
        bt_bytes(a, (const uint8_t[]){0x49, 0x89, 0xC9}, 3); /* mov r9, rcx */
    bt_bytes(a, (const uint8_t[]){0xF6, 0x44, 0x24, 0x01, 0x04}, 5); /* test byte [rsp+1], DF>>8 */
    size_t down = bt_jcc32(a, 0x5); /* jnz down */
    /* DF = 0: the last byte, reg + bytes - 1, must stay below 4 GiB. */
    bt_bytes(a, (const uint8_t[]){0x49, 0xBB, 0, 0, 0, 0, 1, 0, 0, 0}, 10); /* mov r11, 1 << 32 */
    for (unsigned r = movs ? 0 : 1; r < 2; r++) {
        bt_bytes(a, (const uint8_t[]){0x4E, 0x8D, 0x14, (uint8_t)(r ? 0x0F : 0x0E)}, 4); /* lea r10, [rsi/rdi + r9] */
        bt_bytes(a, (const uint8_t[]){0x4D, 0x39, 0xDA}, 3);                          /* cmp r10, r11 */
        slow[n_slow++] = bt_jcc32(a, 0x7);                                             /* ja slow */
    }
    bt_bytes(a, (const uint8_t[]){0xEB, 0}, 2); /* jmp go */
    size_t to_go = (size_t)(a->p - a->start) - 1;
    bt_jcc32_fix(a, down);
    /* DF = 1: the lowest byte, reg - bytes + size, must not be below 0. */
    for (unsigned r = movs ? 0 : 1; r < 2; r++) {
        bt_bytes(a, (const uint8_t[]){0x4C, 0x8D, (uint8_t)(r ? 0x57 : 0x56), (uint8_t)size}, 4); /* lea r10, [rsi/rdi + size] */
        bt_bytes(a, (const uint8_t[]){0x4D, 0x39, 0xCA}, 3); /* cmp r10, r9 */
        slow[n_slow++] = bt_jcc32(a, 0x2);                    /* jb slow */
    }
    a->start[to_go] = (uint8_t)((size_t)(a->p - a->start) - (to_go + 1));
    /* go: */
    set_str_biased(a, movs ? BT_STR_EDI | BT_STR_ESI : BT_STR_EDI);
    bt_bytes(a, (const uint8_t[]){0x4D, 0x8B, 0xA7}, 3); /* mov r12, [r15+gs_base] */
    bt_d32(a, BT_RT_GS_BASE);
    if (movs)
        bt_bytes(a, (const uint8_t[]){0x4C, 0x01, 0xE6}, 3); /* add rsi, r12 */
    bt_bytes(a, (const uint8_t[]){0x4C, 0x01, 0xE7}, 3);     /* add rdi, r12 */
    bt_b1(a, 0x9D);                                          /* popfq */
    if (size == 2)
        bt_b1(a, P_OPSIZE);
    bt_b1(a, 0xF3);
    bt_b1(a, (uint8_t)((movs ? 0xA4 : 0xAA) | (size > 1))); /* rep movs / rep stos */
    /* Back to guest values without touching the flags: reg + ~base + 1. */
    bt_bytes(a, (const uint8_t[]){0x4D, 0x89, 0xE1, 0x49, 0xF7, 0xD1}, 6); /* mov r9, r12; not r9 */
    if (movs)
        bt_bytes(a, (const uint8_t[]){0x4A, 0x8D, 0x74, 0x0E, 0x01, 0x89, 0xF6}, 7); /* lea rsi, [rsi+r9+1]; mov esi, esi */
    bt_bytes(a, (const uint8_t[]){0x4A, 0x8D, 0x7C, 0x0F, 0x01, 0x89, 0xFF}, 7);     /* lea rdi, [rdi+r9+1]; mov edi, edi */
    set_str_biased(a, 0);
    bt_bytes(a, (const uint8_t[]){0xE9, 0, 0, 0, 0}, 5); /* jmp done */
    size_t done = (size_t)(a->p - a->start) - 4;
    for (unsigned i = 0; i < n_slow; i++)
        bt_jcc32_fix(a, slow[i]);
    bt_b1(a, 0x9D); /* slow: popfq; the interpreter */
    bt_emit_handoff(a, eip, BT_EXIT_INTERP | (uint32_t)(d->mnemonic & 0xFFFF) << 8 |
                                (uint32_t)BT_HANDOFF_UNTRANSLATED << 24);
    bt_jcc32_fix(a, done);
}

enum bt_emit_result bt_emit_string(struct bt_asm *a, const struct dec_insn *d, uint32_t eip,
                                   uint32_t mode)
{
    int kind = kind_of(d->mnemonic);
    unsigned size = d->opsize / 8;
    if (kind < 0 || d->addrsize != 32 || (size != 1 && size != 2 && size != 4))
        return BT_EMIT_FALLBACK;
    /* The source is DS:ESI or its override, the destination ES:EDI. */
    unsigned src_seg = d->seg_override != DEC_SEG_NONE ? d->seg_override : DEC_SEG_DS;
    bool src = kind == K_MOVS || kind == K_CMPS || kind == K_LODS;
    bool dst = kind != K_LODS;
    if ((src && !bt_seg_flat(mode, src_seg)) || (dst && !bt_seg_flat(mode, DEC_SEG_ES)))
        return BT_EMIT_FALLBACK;
    if (!(d->prefixes & (DEC_P_REP | DEC_P_REPNE)))
        emit_single(a, (enum str_kind)kind, size);
    else if (kind == K_MOVS || kind == K_STOS)
        emit_rep_movs_stos(a, d, eip, kind == K_MOVS, size);
    else
        emit_rep_chunked(a, d, eip, (enum str_kind)kind, size);
    return BT_EMIT_OK;
}
