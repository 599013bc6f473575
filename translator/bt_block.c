/* The block builder and the trampolines. A block runs from its first
 * guest instruction to a control transfer, an instruction the emitter
 * hands to the interpreter (sensitive, privileged or not rewritten), the
 * end of the guest page or TC_MAX_INSNS instructions. */
#include "translator/bt_internal.h"

#include <string.h>

/* Host code of the largest block: every instruction at its largest plus
 * the prologue, the budget check and the stubs. */
#define BT_MAX_BLOCK_CODE (TC_MAX_INSNS * BT_MAX_INSN_CODE + 256)

/* bt_enter(rt = rdi, code = rsi, rflags = rdx): saves the callee-saved
 * registers, loads the guest registers and the block budget (contract in
 * bt_internal.h) and jumps to the code; keeps rsp 16-byte aligned for
 * later helper calls. */
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
    0x4D, 0x8B, 0x77, BT_RT_BUDGET,                             /* mov r14, [r15+budget] */
    0x41, 0xFF, 0xE3,                                           /* jmp r11 */
};

/* exit_chain: an unchained direct exit, r10 = its tc_block | exit index
 * (bt_emit_stubs) -> rt.last_exit; exit_next: mov r10d, 0; exit_common:
 * stores the guest registers and the budget, returns {rflags, r10} with
 * DF clear for C (SysV ABI 3.2.1). The three follow each other. */
static const uint8_t tramp_exit_chain[] = {
    0x4D, 0x89, 0x57, BT_RT_LAST_EXIT,  /* mov [r15+last_exit], r10 */
    0x41, 0xBA, BT_EXIT_CHAIN, 0, 0, 0, /* mov r10d, BT_EXIT_CHAIN */
    0xEB, 0x06,                         /* jmp exit_common (over exit_next) */
};
static const uint8_t tramp_exit_next[] = {0x41, 0xBA, 0, 0, 0, 0};
static const uint8_t tramp_exit_common[] = {
    0x4D, 0x89, 0x77, BT_RT_BUDGET,     /* mov [r15+budget], r14 */
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
_Static_assert(sizeof tramp_exit_next == 6, "exit_chain jumps over exit_next");

/* ind_lookup: r9d = guest target EIP, r10d = the jumping block's mode.
 * Probes rt.ic (tcache.h, tc_ic_index: (eip * TC_IC_MUL) >> (32 - bits))
 * and jumps to the block's code on a hit; on a miss leaves with
 * BT_EXIT_LOOKUP, rt.eip = target and rt.last_exit = the key, so the
 * dispatcher fills the entry. The guest's arithmetic flags are live at
 * an indirect branch (assembly returns status in CF): LAHF/SETO save
 * them in r13 (guest EAX in r12), ADD AL, 7Fh (OF) and SAHF restore them
 * (SDM Vol. 2A LAHF, Vol. 2B SAHF). DF is not touched. */
static const uint8_t tramp_ind_lookup[] = {
    0x45, 0x89, 0x4F, BT_RT_EIP,                  /* mov [r15+eip], r9d */
    0x49, 0x89, 0xC4,                             /* mov r12, rax */
    0x9F, 0x0F, 0x90, 0xC0,                       /* lahf; seto al */
    0x49, 0x89, 0xC5,                             /* mov r13, rax */
    0x49, 0xC1, 0xE2, 0x20,                       /* shl r10, 32 */
    0x4D, 0x09, 0xCA,                             /* or r10, r9 (key) */
    0x45, 0x69, 0xD9, TC_IC_MUL & 0xFF, (TC_IC_MUL >> 8) & 0xFF, (TC_IC_MUL >> 16) & 0xFF,
    TC_IC_MUL >> 24,                              /* imul r11d, r9d, TC_IC_MUL */
    0x41, 0xC1, 0xEB, 32 - TC_IC_BITS,            /* shr r11d, 32 - TC_IC_BITS */
    0x41, 0xC1, 0xE3, 0x04,                       /* shl r11d, 4 */
    0x4F, 0x3B, 0x54, 0x1F, BT_RT_IC,             /* cmp r10, [r15+r11+ic] */
    0x75, 0x15,                                   /* jne miss */
    0x49, 0xFF, 0x47, BT_RT_IC_HITS,              /* inc qword [r15+ic_hits] */
    0x4F, 0x8B, 0x5C, 0x1F, BT_RT_IC + 8,         /* mov r11, [r15+r11+ic+8] */
    0x4C, 0x89, 0xE8, 0x04, 0x7F, 0x9E,           /* mov rax, r13; add al, 7Fh; sahf */
    0x4C, 0x89, 0xE0,                             /* mov rax, r12 */
    0x41, 0xFF, 0xE3,                             /* jmp r11 */
    /* miss: */
    0x4C, 0x89, 0xE8, 0x04, 0x7F, 0x9E,           /* mov rax, r13; add al, 7Fh; sahf */
    0x4C, 0x89, 0xE0,                             /* mov rax, r12 */
    0x4D, 0x89, 0x57, BT_RT_LAST_EXIT,            /* mov [r15+last_exit], r10 */
    0x41, 0xBA, BT_EXIT_LOOKUP, 0, 0, 0,          /* mov r10d, BT_EXIT_LOOKUP */
    0xE9,                                         /* jmp exit_common (rel32 follows) */
};
_Static_assert(BT_RT_IC + 8 < 128 && BT_RT_IC_HITS < 128 && BT_RT_LAST_EXIT < 128,
               "disp8 offsets in the trampolines");

size_t bt_emit_trampolines(uint8_t *buf, size_t cap, struct bt_tramps *out)
{
    size_t n = 0;
    if (cap < sizeof tramp_enter + sizeof tramp_exit_chain + sizeof tramp_exit_next +
                  sizeof tramp_exit_common + sizeof tramp_ind_lookup + 4)
        return 0;
    memcpy(buf, tramp_enter, sizeof tramp_enter);
    n += sizeof tramp_enter;
    out->exit_chain = n;
    memcpy(buf + n, tramp_exit_chain, sizeof tramp_exit_chain);
    n += sizeof tramp_exit_chain;
    out->exit_next = n;
    memcpy(buf + n, tramp_exit_next, sizeof tramp_exit_next);
    n += sizeof tramp_exit_next;
    out->exit_common = n;
    memcpy(buf + n, tramp_exit_common, sizeof tramp_exit_common);
    n += sizeof tramp_exit_common;
    out->ind_lookup = n;
    memcpy(buf + n, tramp_ind_lookup, sizeof tramp_ind_lookup);
    n += sizeof tramp_ind_lookup;
    int32_t rel = (int32_t)out->exit_common - (int32_t)(n + 4);
    memcpy(buf + n, &rel, 4);
    return n + 4;
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
                       .exit_common = bt->exit_common, .exit_chain = bt->exit_chain,
                       .ind_lookup = bt->ind_lookup, .block = b,
                       .block_eip = bt->rt.eip, .mode = mode};
    uint32_t eip = bt->rt.eip, off = 0;
    /* Before any code: the dispatcher-only prologue, if needed (bt_obs.h). */
    b->flags |= bt_obs_block_start(bt, &a, phys, eip);
    /* Chained blocks and inline lookups reach here without the
     * dispatcher: the budget keeps polling and interrupts going. */
    size_t budget_at = bt_emit_budget_check(&a, eip);
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
        /* SMC hash-check page: what this wrote may be the next instruction. */
        if (bt_smc_split_after(b, &d)) {
            ex = (struct bt_exits){.n = 1, .target = {eip + off}};
            break;
        }
    }
    bt_emit_stubs(&a, &ex, b);
    bt_patch_budget_check(&a, budget_at, n);
    if (off > avail)
        off = avail;
    b->key = (struct tc_key){.phys = phys, .eip = eip, .mode = mode};
    b->n_insns = (uint16_t)n;
    b->guest_len = (uint16_t)off;
    tc_commit(tc, b, (size_t)(a.p - rw), host);
    /* Write-protects the page (unless hash-checked), traces, perf map. */
    bt_obs_block_done(bt, b, host);
    bt->stats.blocks++;
    bt->stats.insns += n;
    return b;
}
