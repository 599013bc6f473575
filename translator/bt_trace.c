/* What the bt engine shows of itself: --trace in_asm (guest instructions
 * of each block translated, Zydis text), out_asm (its host code through
 * Capstone, with the guest-instruction boundaries of the side table) and
 * exec (each block the dispatcher enters; with exec on, every block
 * starts with the dispatcher-only prologue of bt_obs.h, so blocks reached
 * by chained jumps or inline lookups are shown too), the perf map hooks,
 * and the counters of this part for --stats. */
#include "translator/bt_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <capstone/capstone.h>

#define BT_TRACE_LINE 256

static void trace_line(void *opaque, const char *line)
{
    mach_trace((const struct machine *)opaque, "%s", line);
}

/* ---- formatting ---------------------------------------------------------------- */

/* Whether the side table lists the instruction at guest offset off. */
static bool in_side_table(const struct tc_block *b, uint32_t off)
{
    for (unsigned i = 0; i < b->n_insns; i++)
        if (b->map[i].guest_off == off)
            return true;
    return false;
}

void bt_trace_format_in(const struct dec_ctx *dec, const struct tc_block *b,
                        const uint8_t *guest, bt_line_fn emit, void *opaque)
{
    char line[BT_TRACE_LINE], text[160];
    snprintf(line, sizeof line, "IN: eip 0x%08" PRIx32 " phys 0x%09" PRIx64
             " mode 0x%03" PRIx32 ": %u bytes, %u translated%s",
             b->key.eip, b->key.phys, b->key.mode, b->guest_len, b->n_insns,
             b->flags & BT_BLOCK_HASHCHECK ? ", hash-checked" : "");
    emit(opaque, line);
    for (uint32_t off = 0; off < b->guest_len;) {
        struct dec_insn d;
        uint32_t eip = b->key.eip + off;
        if (dec_decode(dec, DEC_MODE_32, guest + off, b->guest_len - off, &d) != DEC_OK) {
            snprintf(line, sizeof line,
                     "  0x%08" PRIx32 ":  (db 0x%02x: does not decode here)  ; interpreter", eip,
                     guest[off]);
            emit(opaque, line);
            break;
        }
        /* Not translated: the hand-over ending the block, or a helper call. */
        const char *note = in_side_table(b, off)                     ? ""
                           : off + d.len >= b->guest_len &&
                                     (b->flags & BT_BLOCK_HANDOFF) ? "  ; interpreter"
                                                                   : "  ; helper call";
        if (dec_format(dec, &d, eip, text, sizeof text) < 0)
            snprintf(text, sizeof text, "%s", dec_mnemonic_name(&d));
        snprintf(line, sizeof line, "  0x%08" PRIx32 ":  %s%s", eip, text, note);
        emit(opaque, line);
        off += d.len;
    }
}

/* The mark to print before the host instruction at block offset off. */
static const char *out_mark(const struct tc_block *b, uint32_t off, char *buf, size_t cap)
{
    if (off == 0 && (b->flags & BT_BLOCK_PROLOGUE))
        return "  -- prologue: enter through the dispatcher";
    for (unsigned k = 0; k < b->n_insns; k++) {
        if (b->map[k].host_off == off) {
            snprintf(buf, cap, "  -- guest 0x%08" PRIx32, b->key.eip + b->map[k].guest_off);
            return buf;
        }
    }
    for (unsigned e = 0; e < b->n_exits; e++) {
        if (b->exits[e].patch_off == off + 1) {
            snprintf(buf, cap, "  -- exit %u to 0x%08" PRIx32 "%s", e, b->exits[e].target_eip,
                     b->exits[e].to ? " (chained)" : "");
            return buf;
        }
    }
    return NULL;
}

void bt_trace_format_out(size_t cs, const struct tc_block *b, bt_line_fn emit, void *opaque)
{
    char line[BT_TRACE_LINE], mark[64];
    snprintf(line, sizeof line, "OUT: eip 0x%08" PRIx32 ": %" PRIu32 " bytes at %p", b->key.eip,
             b->code_len, (const void *)b->code);
    emit(opaque, line);
    cs_insn *insn = cs_malloc(cs);
    if (!insn)
        return;
    const uint8_t *code = b->code;
    size_t left = b->code_len;
    uint64_t addr = (uint64_t)(uintptr_t)b->code;
    for (;;) {
        uint32_t off = (uint32_t)(addr - (uint64_t)(uintptr_t)b->code);
        const char *m = left ? out_mark(b, off, mark, sizeof mark) : NULL;
        if (m)
            emit(opaque, m);
        if (!left)
            break;
        if (!cs_disasm_iter(cs, &code, &left, &addr, insn)) {
            snprintf(line, sizeof line, "  0x%" PRIx64 ":  (%zu bytes Capstone does not decode)",
                     addr, left);
            emit(opaque, line);
            break;
        }
        snprintf(line, sizeof line, "  0x%" PRIx64 ":  %s%s%s", insn->address, insn->mnemonic,
                 *insn->op_str ? " " : "", insn->op_str);
        emit(opaque, line);
    }
    cs_free(insn, 1);
}

/* ---- engine hooks ------------------------------------------------------------------ */

int bt_obs_init(struct bt *bt, struct mach_err *err)
{
    struct bt_obs *o = &bt->obs;
    o->m = bt->m;
    static const unsigned flags[] = {MACH_TRACE_IN_ASM, MACH_TRACE_OUT_ASM, MACH_TRACE_EXEC};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (mach_tracing(bt->m, flags[i]))
            o->trace |= flags[i];
    if (o->trace & MACH_TRACE_OUT_ASM) {
        csh h;
        if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
            return mach_errf(err, "bt: Capstone cannot disassemble x86-64 for out_asm");
        o->cs = h;
        o->cs_open = true;
    }
    const char *env = getenv("POPEK_PERF_MAP");
    if (env && !strcmp(env, "1"))
        return bt_perfmap_open(o, NULL, bt->tc.rx, bt->tc.code_reserved, err);
    return 0;
}

void bt_obs_fini(struct bt *bt)
{
    struct bt_obs *o = &bt->obs;
    bt_perfmap_close(o);
    if (o->cs_open) {
        csh h = o->cs;
        cs_close(&h);
        o->cs_open = false;
    }
}

uint32_t bt_obs_block_start(struct bt *bt, struct bt_asm *a, uint64_t phys, uint32_t eip)
{
    uint32_t flags = 0;
    if (bt_smc_hash_page(bt, phys))
        flags |= BT_BLOCK_HASHCHECK | BT_BLOCK_PROLOGUE;
    if (bt->obs.trace & MACH_TRACE_EXEC)
        flags |= BT_BLOCK_PROLOGUE;
    if (flags & BT_BLOCK_PROLOGUE) {
        const uint8_t *at = a->p;
        bt_emit_handoff(a, eip, BT_EXIT_NEXT);
        assert(a->p - at == BT_OBS_PROLOGUE_LEN);
        (void)at;
    }
    return flags;
}

void bt_obs_block_done(struct bt *bt, const struct tc_block *b, const uint8_t *guest)
{
    struct bt_obs *o = &bt->obs;
    if (!(b->flags & BT_BLOCK_HASHCHECK))
        mmu_code_page_set(&bt->cpu->mmu, b->key.phys);
    if (o->trace & MACH_TRACE_IN_ASM)
        bt_trace_format_in(&bt->cpu->dec, b, guest, trace_line, bt->m);
    if (o->trace & MACH_TRACE_OUT_ASM)
        bt_trace_format_out(o->cs, b, trace_line, bt->m);
    if (o->perf)
        bt_perfmap_block(o, b);
}

void bt_obs_trace_exec(const struct bt_obs *o, const struct tc_block *b)
{
    mach_trace(o->m, "EXEC: eip 0x%08" PRIx32 " phys 0x%09" PRIx64 " mode 0x%03" PRIx32 " code %p",
               b->key.eip, b->key.phys, b->key.mode, (const void *)b->code);
}

void bt_obs_fallback(struct bt *bt, uint64_t reason)
{
    unsigned mn = (reason >> 8) & 0xFFFF;
    if ((reason & 0xFF) == BT_EXIT_INTERP && mn <= ZYDIS_MNEMONIC_MAX_VALUE)
        bt->obs.fallback_exec[mn]++;
}

/* The ten instructions most often run by the interpreter for translated
 * code (dynamic counts; bt_engine.c prints the static ones). */
static void print_fallbacks(const struct bt_obs *o, FILE *out)
{
    unsigned shown[10];
    for (unsigned k = 0; k < 10; k++) {
        unsigned best = 0;
        uint64_t best_n = 0;
        for (unsigned mn = 1; mn <= ZYDIS_MNEMONIC_MAX_VALUE; mn++) {
            bool seen = false;
            for (unsigned j = 0; j < k; j++)
                seen |= shown[j] == mn;
            if (!seen && o->fallback_exec[mn] > best_n) {
                best = mn;
                best_n = o->fallback_exec[mn];
            }
        }
        if (!best_n)
            return;
        shown[k] = best;
        fprintf(out, "  interpreter exits: %-25s %" PRIu64 "\n",
                ZydisMnemonicGetString((ZydisMnemonic)best), best_n);
    }
}

void bt_obs_print_stats(const struct bt *bt, FILE *out)
{
    const struct bt_obs *o = &bt->obs;
#define BT_SMC_STAT_PRINT(name, desc) \
    fprintf(out, "  %-44s %" PRIu64 "\n", desc, o->smc.stats.name);
    BT_SMC_STATS(BT_SMC_STAT_PRINT)
#undef BT_SMC_STAT_PRINT
    print_fallbacks(o, out);
}
