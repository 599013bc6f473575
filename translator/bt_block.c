/* The block builder and the trampolines. A block runs from its first
 * guest instruction to a control transfer, an instruction the emitter
 * hands to the interpreter (sensitive, privileged or not rewritten), the
 * end of the guest page or TC_MAX_INSNS instructions. */
#include "translator/bt_asm.h"

#include <string.h>

/* Room the end of a block needs: its exit stubs (a cross-page one is an
 * inline lookup, ~80 bytes), the budget check's exit and the prologue. */
#define BT_TAIL_ROOM (TC_MAX_EXITS * 96 + 128)
/* Host code reserved for a block; one_insn ends the block early when an
 * instruction at its largest might not fit before the tail. */
#define BT_MAX_BLOCK_CODE (TC_MAX_INSNS * BT_MAX_INSN_CODE / 2 + BT_TAIL_ROOM)

#define LE32(x) (uint8_t)((x) & 0xFF), (uint8_t)((x) >> 8 & 0xFF), (uint8_t)((x) >> 16 & 0xFF), \
                 (uint8_t)((uint32_t)(x) >> 24)

/* bt_enter(rt = rdi, code = rsi, rflags = rdx): saves the callee-saved
 * registers, keeps the dispatcher's rsp (16-byte aligned: helper calls
 * use it) in rt.host_rsp and runs on the return-address stack from its
 * sentinel (bt_ras.c), loads the guest registers, the block budget (r14)
 * and the inline-lookup hit count (r13) (contract in bt_internal.h) and
 * jumps to the code. */
static const uint8_t tramp_enter[] = {
    0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, /* push rbx..r15 */
    0x48, 0x83, 0xEC, 0x08,                                     /* sub rsp, 8 */
    0x49, 0x89, 0xFF,                                           /* mov r15, rdi */
    0x49, 0x89, 0xF3,                                           /* mov r11, rsi */
    0x49, 0x89, 0xA7, LE32(BT_RT_HOST_RSP),                     /* mov [r15+host_rsp], rsp */
    0x49, 0x8B, 0xA7, LE32(BT_RT_RAS_TOP),                      /* mov rsp, [r15+ras_top] */
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
    0x4D, 0x8B, 0x6F, BT_RT_IC_HITS,                            /* mov r13, [r15+ic_hits] */
    0x41, 0xFF, 0xE3,                                           /* jmp r11 */
};

/* exit_chain: an unchained direct exit, r10 = its tc_block | exit index
 * (bt_emit_stubs) -> rt.last_exit; exit_next: mov r10d, 0; exit_common:
 * stores the guest registers, budget and hit count, returns {rflags, r10} with
 * DF clear for C (SysV ABI 3.2.1). The three follow each other. */
static const uint8_t tramp_exit_chain[] = {
    0x4D, 0x89, 0x57, BT_RT_LAST_EXIT,  /* mov [r15+last_exit], r10 */
    0x41, 0xBA, BT_EXIT_CHAIN, 0, 0, 0, /* mov r10d, BT_EXIT_CHAIN */
    0xEB, 0x06,                         /* jmp exit_common (over exit_next) */
};
static const uint8_t tramp_exit_next[] = {0x41, 0xBA, 0, 0, 0, 0};
static const uint8_t tramp_exit_common[] = {
    0x49, 0x8B, 0xA7, LE32(BT_RT_HOST_RSP), /* mov rsp, [r15+host_rsp]: drops the RAS */
    0x4D, 0x89, 0x77, BT_RT_BUDGET,     /* mov [r15+budget], r14 */
    0x4D, 0x89, 0x6F, BT_RT_IC_HITS,    /* mov [r15+ic_hits], r13 */
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

/* ind_miss: an inline indirect-cache probe (bt_emit.c) missed, r9d =
 * guest target EIP, r10 = the probe's key: leaves with BT_EXIT_LOOKUP,
 * rt.eip = target and rt.last_exit = key, so the dispatcher fills the
 * entry. */
static const uint8_t tramp_ind_miss[] = {
    0x45, 0x89, 0x4F, BT_RT_EIP,                  /* mov [r15+eip], r9d */
    0x4D, 0x89, 0x57, BT_RT_LAST_EXIT,            /* mov [r15+last_exit], r10 */
    0x41, 0xBA, BT_EXIT_LOOKUP, 0, 0, 0,          /* mov r10d, BT_EXIT_LOOKUP */
    0xE9,                                         /* jmp exit_common (rel32 follows) */
};
_Static_assert(BT_RT_LAST_EXIT < 128, "disp8 offsets in the trampolines");

/* helper: called (CALL rel32) by translated code for an instruction the
 * interpreter executes, with rt.eip = its EIP. Stores the guest
 * registers, budget and flags in rt, calls helper_fn(rt) with DF clear
 * and rsp 16-byte aligned (SysV ABI 3.2.1; the CALL into here left it at
 * 8 mod 16), reloads everything from rt, and returns into translated
 * code, or (helper_fn returned 0) leaves for the dispatcher with
 * BT_EXIT_NEXT. r12-r14 are callee-saved in C. The C code runs on the
 * dispatcher's stack (rt.host_rsp, aligned), the return-address stack
 * waits in r12: nothing here pushes on it, so only the CALL into here
 * can meet its guard (bt_ras.c). */
static const uint8_t tramp_helper_head[] = {
    0x49, 0x89, 0xE4,                                                 /* mov r12, rsp */
    0x49, 0x8B, 0xA7, LE32(BT_RT_HOST_RSP),                           /* mov rsp, [r15+host_rsp] */
    0x4D, 0x89, 0x57, BT_RT_LAST_EXIT,                                /* mov [r15+last_exit], r10 */
    0x41, 0x89, 0x07, 0x41, 0x89, 0x4F, 0x04, 0x41, 0x89, 0x57, 0x08, /* mov [r15+0..8], eax..edx */
    0x41, 0x89, 0x5F, 0x0C, 0x45, 0x89, 0x47, 0x10,                   /* ebx, r8d */
    0x41, 0x89, 0x6F, 0x14, 0x41, 0x89, 0x77, 0x18, 0x41, 0x89, 0x7F, 0x1C, /* ebp, esi, edi */
    0x4D, 0x89, 0x77, BT_RT_BUDGET,                                   /* mov [r15+budget], r14 */
    0x4D, 0x89, 0x6F, BT_RT_IC_HITS,                                  /* mov [r15+ic_hits], r13 */
    0x9C, 0x41, 0x8F, 0x87, BT_RT_RFLAGS & 0xFF, (BT_RT_RFLAGS >> 8) & 0xFF,
    (BT_RT_RFLAGS >> 16) & 0xFF, 0,                                   /* pushfq; pop [r15+rflags] */
    0xFC,                                                             /* cld */
    0x4C, 0x89, 0xFF,                                                 /* mov rdi, r15 */
    0x48, 0xB8,                                                       /* mov rax, helper_fn */
};
static const uint8_t tramp_helper_reload[] = {
    0x41, 0xFF, 0xB7, BT_RT_RFLAGS & 0xFF, (BT_RT_RFLAGS >> 8) & 0xFF,
    (BT_RT_RFLAGS >> 16) & 0xFF, 0, 0x9D,                             /* push [r15+rflags]; popfq */
    0x41, 0x8B, 0x07, 0x41, 0x8B, 0x4F, 0x04, 0x41, 0x8B, 0x57, 0x08, /* mov eax..edx, [r15+0..8] */
    0x41, 0x8B, 0x5F, 0x0C, 0x45, 0x8B, 0x47, 0x10,                   /* ebx, r8d */
    0x41, 0x8B, 0x6F, 0x14, 0x41, 0x8B, 0x77, 0x18, 0x41, 0x8B, 0x7F, 0x1C, /* ebp, esi, edi */
};
static const uint8_t tramp_helper_call[] = {
    0xFF, 0xD0,                                                       /* call rax */
    0x4C, 0x89, 0xE4,                                                 /* mov rsp, r12 */
    0x4D, 0x8B, 0x77, BT_RT_BUDGET,                                   /* mov r14, [r15+budget] */
    0x85, 0xC0,                                                       /* test eax, eax */
    0x74, sizeof tramp_helper_reload + 1,                             /* jz leave */
};
/* After the second reload: drop the return address, mov r10d, BT_EXIT_NEXT;
 * jmp exit_common (rel32 follows). */
static const uint8_t tramp_helper_leave[] = {0x48, 0x8D, 0x64, 0x24, 0x08, 0x41, 0xBA, 0, 0, 0, 0, 0xE9};
_Static_assert(BT_RT_RFLAGS < (1 << 23) && BT_RT_BUDGET < 128 && BT_RT_IC_HITS < 128,
               "helper trampoline displacements");

size_t bt_emit_trampolines(uint8_t *buf, size_t cap, bt_helper_fn helper_fn,
                           struct bt_tramps *out)
{
    size_t n = 0;
    if (cap < sizeof tramp_enter + sizeof tramp_exit_chain + sizeof tramp_exit_next +
                  sizeof tramp_exit_common + sizeof tramp_ind_miss + 4 +
                  sizeof tramp_helper_head + 8 + sizeof tramp_helper_call +
                  2 * sizeof tramp_helper_reload + 1 + sizeof tramp_helper_leave + 4 +
                  BT_MAX_INSN_CODE)
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
    out->ind_miss = n;
    memcpy(buf + n, tramp_ind_miss, sizeof tramp_ind_miss);
    n += sizeof tramp_ind_miss;
    int32_t rel = (int32_t)out->exit_common - (int32_t)(n + 4);
    memcpy(buf + n, &rel, 4);
    n += 4;
    out->helper = n;
    memcpy(buf + n, tramp_helper_head, sizeof tramp_helper_head);
    n += sizeof tramp_helper_head;
    uint64_t fn = (uint64_t)(uintptr_t)helper_fn;
    memcpy(buf + n, &fn, 8);
    n += 8;
    memcpy(buf + n, tramp_helper_call, sizeof tramp_helper_call);
    n += sizeof tramp_helper_call;
    memcpy(buf + n, tramp_helper_reload, sizeof tramp_helper_reload);
    n += sizeof tramp_helper_reload;
    buf[n++] = 0xC3; /* ret: back into translated code */
    memcpy(buf + n, tramp_helper_reload, sizeof tramp_helper_reload);
    n += sizeof tramp_helper_reload;
    memcpy(buf + n, tramp_helper_leave, sizeof tramp_helper_leave);
    n += sizeof tramp_helper_leave;
    rel = (int32_t)out->exit_common - (int32_t)(n + 4);
    memcpy(buf + n, &rel, 4);
    n += 4;
    /* The sentinel: a guest RET with no host return address of ours
     * left lands here; it puts itself back (its slot is never written)
     * and looks the target (r9d) up like any indirect branch. The
     * buffer is copied as is, so buf stands for its RX address. */
    out->ras_sentinel = n;
    struct bt_asm a = {.p = buf + n, .start = buf, .end = buf + cap, .rx_start = buf,
                       .ind_miss = buf + out->ind_miss};
    bt_bytes(&a, (const uint8_t[]){0x48, 0x8D, 0x64, 0x24, 0xF8}, 5); /* lea rsp, [rsp-8] */
    bt_jmp_ind_lookup(&a);
    return (size_t)(a.p - buf);
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

/* Whether d writes OF SF ZF AF PF CF and reads none of them (SDM Vol. 1
 * Appendix A, EFLAGS cross-reference): the flags are dead just before
 * it (BT_BUDGET_FAST); INC and DEC the same but for CF, which they keep
 * (BT_BUDGET_FAST_CF). AF is undefined after the logic instructions;
 * the CPU still writes it. Shifts are not here: a count of 0 writes
 * nothing. 0: neither. */
static int kills_flags(const struct dec_insn *d)
{
    if (d->cls != DEC_CLASS_INNOCUOUS)
        return 0;
    switch (d->mnemonic) {
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
        return 2;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_TEST:
        return 1;
    default:
        return 0;
    }
}

bool bt_helper_call_fits(const struct dec_insn *d)
{
    return d->cf == DEC_CF_NONE && d->mnemonic != ZYDIS_MNEMONIC_HLT;
}

/* Whether the instruction the emitter did not translate may run through
 * a helper call in the middle of the block: it falls through
 * (bt_helper_call_fits), and the block is not on a hash-check page,
 * whose blocks must end after every write (bt_obs.h). */
static bool helper_call_ok(const struct tc_block *b, const struct dec_insn *d,
                           enum dec_status st)
{
    return st == DEC_OK && bt_helper_call_fits(d) && !(b->flags & BT_BLOCK_HASHCHECK);
}

/* lea r14, [r14 - m]: m, a segment's instruction count, patched in at
 * the last byte. */
static void bytes_lea_r14(struct bt_asm *a)
{
    static const uint8_t lea[] = {0x4D, 0x8D, 0x76, 0x00};
    memcpy(a->p, lea, sizeof lea);
    a->p += sizeof lea;
}

/* Where the block's budget check goes: before the first instruction
 * that kills every flag (BT_BUDGET_FAST, one fused uop), else before the
 * first INC/DEC (BT_BUDGET_FAST_CF: two more, on r14's chain), met
 * before anything that may end the block or the first side exit; -1
 * for none (then BT_BUDGET_ENTRY at entry). */
static int check_index(struct bt *bt, const uint8_t *host, uint32_t avail)
{
    uint32_t off = 0;
    int inc_dec = -1;
    for (unsigned n = 0; n < TC_MAX_INSNS && off < avail; n++) {
        struct dec_insn d;
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
        if (dec_decode_zydis(&bt->cpu->dec, DEC_MODE_32, host + off, avail - off, &d, &zi,
                             zops) != DEC_OK ||
            (d.cls != DEC_CLASS_INNOCUOUS && d.cls != DEC_CLASS_STRING))
            break;
        int kill = kills_flags(&d);
        if (kill == 1)
            return (int)n;
        if (kill == 2 && inc_dec < 0)
            inc_dec = (int)n;
        off += d.len;
    }
    return inc_dec;
}

/* A block being built. Budget counts go per straight-line segment (a
 * side exit ends one): the check counts the first (seg0_n), a LEA after
 * each side exit the next (seg_at: its displacement, seg_first: where
 * it starts). */
struct build {
    struct bt *bt;
    struct tc_block *b;
    struct bt_asm a;
    struct bt_budget bc;
    struct bt_exits ex;
    uint32_t eip, off, mode;
    unsigned n, calls; /* translated instructions, helper calls */
    int check_at;      /* instruction index for the fast check, or -1 */
    unsigned seg_first, seg0_n;
    size_t seg_at;
};

static void check_here(struct build *k, enum bt_budget_kind kind)
{
    if (!k->bc.placed)
        bt_emit_budget_check(&k->a, &k->bc, kind, k->eip + k->off, k->n);
}

/* The block ends before the instruction at off; the code falls into
 * that exit's stub. */
static void fall_through(struct build *k)
{
    bt_x87_flush(&k->a); /* an x87 group ends with the block */
    check_here(k, BT_BUDGET_LAST);
    k->ex.target[k->ex.n] = k->eip + k->off;
    k->ex.fixup[k->ex.n++] = 0;
}

static void end_segment(struct build *k, bool another)
{
    if (k->seg_at)
        k->a.start[k->seg_at] = (uint8_t)-(int8_t)(k->n - k->seg_first);
    else
        k->seg0_n = k->n;
    if (another) {
        bytes_lea_r14(&k->a);
        k->seg_at = (size_t)(k->a.p - k->a.start) - 1;
        k->seg_first = k->n;
    }
}

/* An instruction the emitter did not translate: a helper call that lets
 * the block go on (true), or the hand-over that ends it (false). */
static bool untranslated(struct build *k, const struct dec_insn *d, enum dec_status st)
{
    struct bt_helper_site *site = NULL;
    if (k->bc.placed && k->bc.kind != BT_BUDGET_LAST && helper_call_ok(k->b, d, st))
        site = tc_alloc_data(&k->bt->tc, sizeof *site);
    if (site) {
        *site = (struct bt_helper_site){.d = *d, .mode = k->mode};
        bt_emit_helper_call(&k->a, k->eip + k->off, site);
        k->off += d->len;
        k->calls++;
        return true;
    }
    check_here(k, BT_BUDGET_LAST);
    bt_emit_handoff(&k->a, k->eip + k->off, handoff_reason(d, st == DEC_OK));
    k->b->flags |= BT_BLOCK_HANDOFF;
    if (st == DEC_OK)
        k->bt->stats.handoff_by_mnemonic[d->mnemonic]++;
    /* The handed-over instruction's bytes belong to the block: rewriting
     * them may make it translatable. */
    k->off += st == DEC_OK ? d->len : 1;
    return false;
}

/* Translates the instruction at off; false when the block ends. */
static bool one_insn(struct build *k, const uint8_t *host, uint32_t avail)
{
    struct dec_insn d;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
    if (k->n + k->calls == TC_MAX_INSNS || k->off >= avail ||
        k->a.end - k->a.p < BT_MAX_INSN_CODE + BT_TAIL_ROOM) {
        fall_through(k);
        return false;
    }
    enum dec_status st = dec_decode_zydis(&k->bt->cpu->dec, DEC_MODE_32, host + k->off,
                                          avail - k->off, &d, &zi, zops);
    if (st != DEC_OK || !bt_x87_continues(&d, k->mode))
        bt_x87_flush(&k->a); /* before the code of what may leave (bt_x87.h) */
    bool last = st != DEC_OK || (d.cls != DEC_CLASS_INNOCUOUS && d.cls != DEC_CLASS_STRING &&
                                 !bt_flags_inline(&d, k->mode));
    if (last)
        check_here(k, BT_BUDGET_LAST);
    else if ((int)(k->n + k->calls) == k->check_at && kills_flags(&d))
        check_here(k, kills_flags(&d) == 1 ? BT_BUDGET_FAST : BT_BUDGET_FAST_CF);
    uint8_t *insn_start = k->a.p;
    enum bt_emit_result r = BT_EMIT_FALLBACK;
    if (st == DEC_OK)
        r = bt_emit_insn(&k->a, &d, &zi, zops, k->eip + k->off, k->mode, &k->ex);
    if (r == BT_EMIT_FALLBACK) {
        k->a.p = insn_start;
        return untranslated(k, &d, st);
    }
    k->b->map[k->n] = (struct tc_insn_map){.host_off = (uint16_t)(insn_start - k->a.start),
                                           .guest_off = (uint16_t)k->off};
    k->n++;
    k->off += d.len;
    if (r == BT_EMIT_ENDS)
        return false;
    if (k->bc.kind == BT_BUDGET_LAST) {
        /* Its exit must stay within a rel8 of the check: end here (the
         * pre-scan makes this rare). */
        fall_through(k);
        return false;
    }
    if (d.cf == DEC_CF_JCC)
        end_segment(k, true);
    /* SMC hash-check page: what this wrote may be the next instruction. */
    if (bt_smc_split_after(k->b, &d)) {
        fall_through(k);
        return false;
    }
    return true;
}

struct tc_block *bt_translate(struct bt *bt, uint32_t mode, uint64_t phys,
                              const uint8_t *host, uint32_t avail)
{
    struct tcache *tc = &bt->tc;
    struct tc_block *b = tc_alloc(tc, TC_MAX_INSNS, BT_MAX_BLOCK_CODE);
    if (!b)
        return NULL;
    uint8_t *rw = tc_rw(tc, b->code);
    struct build k = {
        .bt = bt, .b = b, .eip = bt->rt.eip, .mode = mode,
        .a = {.p = rw, .start = rw, .end = rw + BT_MAX_BLOCK_CODE, .rx_start = b->code,
              .exit_next = bt->exit_next, .exit_common = bt->exit_common,
              .exit_chain = bt->exit_chain, .ind_miss = bt->ind_miss, .helper = bt->helper,
              .block = b, .block_eip = bt->rt.eip, .mode = mode},
    };
    /* Before any code: the dispatcher-only prologue, if needed (bt_obs.h). */
    b->flags |= bt_obs_block_start(bt, &k.a, phys, k.eip);
    /* Chained blocks and inline lookups pass no dispatcher: each block
     * has one budget check, so polling and interrupts keep going. */
    k.check_at = check_index(bt, host, avail);
    if (k.check_at < 0)
        bt_emit_budget_check(&k.a, &k.bc, BT_BUDGET_ENTRY, k.eip, 0);
    while (one_insn(&k, host, avail))
        ;
    end_segment(&k, false);
    bt_emit_stubs(&k.a, &k.ex, b);
    bt_emit_budget_exit(&k.a, &k.bc, k.seg0_n);
    b->key = (struct tc_key){.phys = phys, .eip = k.eip, .mode = mode};
    b->n_insns = (uint16_t)k.n;
    b->guest_len = (uint16_t)(k.off > avail ? avail : k.off);
    tc_commit(tc, b, (size_t)(k.a.p - rw), host);
    /* Write-protects the page (unless hash-checked), traces, perf map. */
    bt_obs_block_done(bt, b, host);
    bt->stats.blocks++;
    bt->stats.insns += k.n;
    return b;
}
