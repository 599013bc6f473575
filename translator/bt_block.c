/* The block builder and the trampolines. A block runs from its first
 * guest instruction to a control transfer, an instruction the emitter
 * hands to the interpreter (sensitive, privileged or not rewritten), the
 * end of the guest page or TC_MAX_INSNS instructions. */
#include "translator/bt_internal.h"

#include <string.h>

/* Host code of the largest block: every instruction at its largest plus
 * the stubs. */
#define BT_MAX_BLOCK_CODE (TC_MAX_INSNS * BT_MAX_INSN_CODE + 128)

/* bt_enter(rt = rdi, code = rsi, rflags = rdx): saves the callee-saved
 * registers, loads the guest registers (contract in bt_internal.h) and
 * jumps to the code; keeps rsp 16-byte aligned for later helper calls. */
static const uint8_t tramp_enter[] = {
    0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push rbx..r15 */
    0x48, 0x83, 0xEC, 0x08,                                     /* sub rsp, 8 */
    0x49, 0x89, 0xFF,                                           /* mov r15, rdi */
    0x49, 0x89, 0xF3,                                           /* mov r11, rsi */
    0x52, 0x9D,                                                 /* push rdx; popfq */
    0x41, 0x8B, 0x07,                                           /* mov eax, [r15] */
    0x41, 0x8B, 0x4F, 0x04,                                     /* mov ecx, [r15+4] */
    0x41, 0x8B, 0x57, 0x08,                                     /* mov edx, [r15+8] */
    0x41, 0x8B, 0x5F, 0x0C,                                     /* mov ebx, [r15+12] */
    0x45, 0x8B, 0x47, 0x10,                                     /* mov r8d, [r15+16] */
    0x41, 0x8B, 0x6F, 0x14,                                     /* mov ebp, [r15+20] */
    0x41, 0x8B, 0x77, 0x18,                                     /* mov esi, [r15+24] */
    0x41, 0x8B, 0x7F, 0x1C,                                     /* mov edi, [r15+28] */
    0x41, 0xFF, 0xE3,                                           /* jmp r11 */
};

/* exit_next: mov r10d, 0; exit_common: stores the guest registers,
 * returns {rflags, r10} with DF clear for C (SysV ABI 3.2.1). */
static const uint8_t tramp_exit_next[] = {0x41, 0xBA, 0, 0, 0, 0};
static const uint8_t tramp_exit_common[] = {
    0x41, 0x89, 0x07,                   /* mov [r15], eax */
    0x41, 0x89, 0x4F, 0x04,             /* mov [r15+4], ecx */
    0x41, 0x89, 0x57, 0x08,             /* mov [r15+8], edx */
    0x41, 0x89, 0x5F, 0x0C,             /* mov [r15+12], ebx */
    0x45, 0x89, 0x47, 0x10,             /* mov [r15+16], r8d */
    0x41, 0x89, 0x6F, 0x14,             /* mov [r15+20], ebp */
    0x41, 0x89, 0x77, 0x18,             /* mov [r15+24], esi */
    0x41, 0x89, 0x7F, 0x1C,             /* mov [r15+28], edi */
    0x9C, 0x58, 0xFC,                   /* pushfq; pop rax; cld */
    0x44, 0x89, 0xD2,                   /* mov edx, r10d */
    0x48, 0x83, 0xC4, 0x08,             /* add rsp, 8 */
    0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B, /* pop r15..rbx */
    0xC3,
};
_Static_assert(BT_RT_GPR == 0 && HLP_ESP == 4 && HLP_EDI == 7, "trampoline register slots");

size_t bt_emit_trampolines(uint8_t *buf, size_t cap, size_t *exit_next_off,
                           size_t *exit_common_off)
{
    size_t n = 0;
    if (cap < sizeof tramp_enter + sizeof tramp_exit_next + sizeof tramp_exit_common)
        return 0;
    memcpy(buf, tramp_enter, sizeof tramp_enter);
    n += sizeof tramp_enter;
    *exit_next_off = n;
    memcpy(buf + n, tramp_exit_next, sizeof tramp_exit_next);
    n += sizeof tramp_exit_next;
    *exit_common_off = n;
    memcpy(buf + n, tramp_exit_common, sizeof tramp_exit_common);
    return n + sizeof tramp_exit_common;
}

static uint32_t handoff_reason(const struct dec_insn *d, bool ok)
{
    unsigned kind = ok && d->cls != DEC_CLASS_INNOCUOUS && d->cls != DEC_CLASS_CONTROL &&
                            d->cls != DEC_CLASS_STRING
                        ? BT_HANDOFF_SYSTEM
                        : BT_HANDOFF_UNTRANSLATED;
    uint32_t mn = ok ? d->mnemonic : 0;
    return BT_EXIT_INTERP | (mn & 0xFFFF) << 8 | kind << 24;
}

struct tc_block *bt_translate(struct bt *bt, uint32_t mode, uint64_t phys,
                              const uint8_t *host, uint32_t avail)
{
    struct tcache *tc = &bt->tc;
    struct tc_block *b = tc_alloc(tc, TC_MAX_INSNS, BT_MAX_BLOCK_CODE);
    if (!b)
        return NULL;
    uint8_t *rw = tc_rw(tc, b->code);
    struct bt_asm a = {.p = rw, .start = rw, .end = rw + BT_MAX_BLOCK_CODE,
                       .rx_start = b->code, .exit_next = bt->exit_next,
                       .exit_common = bt->exit_common};
    uint32_t eip = bt->rt.eip, off = 0;
    unsigned n = 0;
    struct bt_exits ex = {.n = 0};
    for (;;) {
        struct dec_insn d;
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
        if (n == TC_MAX_INSNS || off >= avail) {
            ex = (struct bt_exits){.n = 1, .target = {eip + off}};
            break;
        }
        enum dec_status st = dec_decode_zydis(&bt->cpu->dec, DEC_MODE_32, host + off,
                                              avail - off, &d, &zi, zops);
        uint8_t *insn_start = a.p;
        enum bt_emit_result r = BT_EMIT_FALLBACK;
        if (st == DEC_OK)
            r = bt_emit_insn(&a, &d, &zi, zops, eip + off, mode, &ex);
        if (r == BT_EMIT_FALLBACK) {
            a.p = insn_start;
            bt_emit_handoff(&a, eip + off, handoff_reason(&d, st == DEC_OK));
            if (st == DEC_OK)
                bt->stats.handoff_by_mnemonic[d.mnemonic]++;
            /* The handed-over instruction's bytes belong to the block:
             * rewriting them may make it translatable. */
            off += st == DEC_OK ? d.len : 1;
            break;
        }
        b->map[n] = (struct tc_insn_map){.host_off = (uint16_t)(insn_start - rw),
                                         .guest_off = (uint16_t)off};
        n++;
        off += d.len;
        if (r == BT_EMIT_ENDS)
            break;
    }
    bt_emit_stubs(&a, &ex, b);
    if (off > avail)
        off = avail;
    b->key = (struct tc_key){.phys = phys, .eip = eip, .mode = mode};
    b->n_insns = (uint16_t)n;
    b->guest_len = (uint16_t)off;
    tc_commit(tc, b, (size_t)(a.p - rw), host);
    mmu_code_page_set(&bt->cpu->mmu, phys);
    bt->stats.blocks++;
    bt->stats.insns += n;
    return b;
}
