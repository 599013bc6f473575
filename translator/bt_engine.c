/* The bt engine: the dispatcher (block lookup and translation, the
 * interpreter for what is not translated, interrupts at block entry,
 * HLT, device polling), the hooks the softmmu and the board call, and
 * --stats. */
#define _GNU_SOURCE
#include "translator/bt_internal.h"

#include <asm/prctl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BT_CODE_BYTES (64u << 20)
/* Devices follow host time: poll every this many guest instructions run
 * in translated code (some 30-60 us at native speed); an instruction of
 * the interpreter weighs BT_INTERP_WEIGHT, so interpreted code polls
 * every 16,384 instructions, as the interp engine does. */
#define BT_POLL_BUDGET 65536
#define BT_INTERP_WEIGHT 4
#define BT_HALT_WAIT_NS (20u * 1000 * 1000)
/* Instructions per interpreter run for code the translator does not run. */
#define BT_INTERP_SLICE 4096
#define HWCAP2_FSGSBASE_BIT (1u << 1) /* Linux arch/x86 uapi hwcap2.h */

static struct bt *last_run;

/* ---- modes ------------------------------------------------------------------ */

/* A segment the translator may address without base or limit: base 0,
 * 4 GiB limit, present writable expand-up data (SDM Vol. 3A 3.4.5.1). */
static bool flat_data(const struct hlp_seg *s)
{
    unsigned type = s->attr & HLP_SEG_TYPE;
    return !(s->attr & HLP_SEG_UNUSABLE) && (s->attr & HLP_SEG_P) && (s->attr & HLP_SEG_S) &&
           (type & 0xA) == 0x2 && !(type & 0x4) && s->base == 0 && s->limit == 0xFFFFFFFFu;
}

/* The key bits of the current state, or 0 when the translator cannot run
 * it: real, V86 and 16-bit code, TF and the interrupt shadow (instruction
 * granularity), armed debug registers, alignment checking, a CS with a
 * base or a limit, tracing of single instructions. */
static uint32_t current_mode(const struct bt *bt)
{
    const struct hlp_cpu *cpu = bt->cpu;
    const struct hlp_seg *cs = &cpu->seg[HLP_CS];
    if (!hlp_code32(cpu) || (cpu->eflags & HLP_FL_TF) || cpu->intr_shadow || hlp_dbg_armed(cpu) ||
        cs->base != 0 || cs->limit != 0xFFFFFFFFu || !bt->shadow_ready)
        return 0;
    if ((cpu->cr0 & HLP_CR0_AM) && (cpu->eflags & HLP_FL_AC) && cpu->cpl == 3)
        return 0;
    uint32_t mode = BT_MODE_VALID | (uint32_t)cpu->cpl << BT_MODE_CPL_SHIFT;
    if (cpu->cr0 & MMU_CR0_PG)
        mode |= BT_MODE_PAGING;
    for (unsigned s = 0; s < 6; s++)
        if (s != HLP_CS && flat_data(&cpu->seg[s]))
            mode |= 1u << (BT_MODE_FLAT_SHIFT + s);
    return mode | bt_seg_based_bits(cpu) | bt_x87_mode(cpu);
}

/* ---- running ---------------------------------------------------------------- */

static void set_gs_base(struct bt *bt, uint64_t base)
{
    if (bt->gs_base == base)
        return;
    if (bt->have_wrgsbase)
        __asm__ volatile("wrgsbase %0" : : "r"(base) : "memory");
    else
        syscall(SYS_arch_prctl, ARCH_SET_GS, base);
    bt->gs_base = base;
}

/* What a direct or indirect exit asks of the dispatcher once it has
 * found the next block: chain the exit into it, or fill the inline
 * indirect cache. */
static void note_exit(struct bt *bt, unsigned reason)
{
    struct hlp_cpu *cpu = bt->cpu;
    if (reason == BT_EXIT_CHAIN) {
        bt->stats.exits_chain++;
        struct tc_block *from = (struct tc_block *)(uintptr_t)(bt->rt.last_exit & ~TC_EXIT_TAG);
        cpu->eip = from->exits[bt->rt.last_exit & TC_EXIT_TAG].target_eip;
        bt->chain_from = (struct tc_block *)(uintptr_t)bt->rt.last_exit;
    } else if (reason == BT_EXIT_LOOKUP) {
        bt->stats.ic_misses++;
        bt->ic_fill = bt->rt.last_exit;
    } else if (reason == BT_EXIT_BUDGET) {
        bt->stats.exits_budget++;
        bt->poll_budget = 0;
    } else {
        bt->stats.exits_next++;
    }
}

/* The guest EFLAGS translated code keeps in rt (inline CLI/STI/PUSHFD/
 * POPFD, bt_emit_flags.c): taken before it runs, given back after. */
static void rt_take_flags(struct bt *bt)
{
    const struct hlp_cpu *cpu = bt->cpu;
    bt->rt.eflags_sys = cpu->eflags & ~(HLP_FL_ARITH | HLP_FL_DF | HLP_FL_IF);
    bt->rt.vif = (cpu->eflags & HLP_FL_IF) != 0;
    bt->rt.intr_pending = mach_intr_pending(bt->m);
    bt->rt.sti_if_was = 1; /* no STI shadow */
}

/* cpu->eip must be where translated code stopped: an inline STI right
 * before it puts the instruction there in the interrupt shadow. */
static void rt_give_flags(struct bt *bt, uint64_t rflags)
{
    struct hlp_cpu *cpu = bt->cpu;
    cpu->eflags = ((uint32_t)rflags & (HLP_FL_ARITH | HLP_FL_DF)) | bt->rt.eflags_sys |
                  (bt->rt.vif ? HLP_FL_IF : 0);
    if (bt->rt.vif && !bt->rt.sti_if_was && bt->rt.sti_next == cpu->eip)
        cpu->intr_shadow = true;
    bt->rt.sti_if_was = 1;
}

/* Runs translated code from block b until it hands over, and hands over
 * what it stopped at. */
static void run_block(struct bt *bt, const struct tc_block *b)
{
    struct hlp_cpu *cpu = bt->cpu;
    const uint32_t guest_flags = HLP_FL_ARITH | HLP_FL_DF;
    memcpy(bt->rt.gpr, cpu->gpr, sizeof bt->rt.gpr);
    bt->rt.eip = cpu->eip;
    bt->rt.budget = bt->poll_budget;
    rt_take_flags(bt);
    /* Back at an instruction that took a guest #PF: its handler ran. */
    if (bt->pf.pending && bt->pf.eip == cpu->eip) {
        mmu_shadow_prefault(&bt->shadow, bt->pf.cpl, bt->pf.lin);
        bt->pf.pending = false;
    }
    set_gs_base(bt, (uint64_t)(uintptr_t)mmu_shadow_window_base(&bt->shadow, cpu->cpl));
    bt->rt.gs_base = bt->gs_base;
    bt_seg_sync(&bt->rt, cpu);
    bt->rt.mode_key = (uint64_t)b->key.mode << 32 | (uint64_t)bt->ic_epoch << BT_IC_EPOCH_SHIFT;
    bt->running = b;
    bt->stats.entries++;
    if ((b->key.mode & BT_MODE_X87) && !cpu->fx_owner)
        bt_x87_load(bt); /* its native x87 code needs the state (bt_x87.h) */
    /* bt_obs_enter: past the dispatcher-only prologue; --trace exec. */
    struct bt_ret r = bt->enter(&bt->rt, bt_obs_enter(&bt->obs, b),
                                (cpu->eflags & guest_flags) | HLP_FL_FIXED1);
    bt->running = NULL;
    bt_x87_exited(bt);
    memcpy(cpu->gpr, bt->rt.gpr, sizeof cpu->gpr);
    if (bt->rt.str_biased) { /* a fault inside a translated string instruction */
        if (bt->rt.str_biased & BT_STR_ESI)
            cpu->gpr[HLP_ESI] -= (uint32_t)bt->rt.gs_base;
        if (bt->rt.str_biased & BT_STR_EDI)
            cpu->gpr[HLP_EDI] -= (uint32_t)bt->rt.gs_base;
        if (bt->rt.str_biased & BT_STR_ECX)
            cpu->gpr[HLP_ECX] += bt->rt.str_rest;
        bt->rt.str_biased = 0;
    }
    cpu->eip = bt->rt.eip;
    rt_give_flags(bt, r.rflags);
    bt->stats.insns_translated_run +=
        (uint64_t)(bt->poll_budget - bt->rt.budget - bt->helper_charge);
    bt->helper_charge = 0;
    bt->poll_budget = bt->rt.budget - 1;
    unsigned reason = r.reason & 0xFF;
    if (reason == BT_EXIT_BUDGET_FLAGS) {
        /* The flags are garbage until this instruction writes them. */
        bt->stats.exits_budget++;
        bt->poll_budget = 0;
    } else if (reason != BT_EXIT_INTERP && reason != BT_EXIT_FAULT && reason != BT_EXIT_SMC) {
        note_exit(bt, reason);
        return;
    }
    if (reason == BT_EXIT_INTERP) {
        bt_obs_fallback(bt, r.reason); /* dynamic counts by mnemonic */
        if ((r.reason >> 24) == BT_HANDOFF_SYSTEM)
            bt->stats.helper_system++;
        else
            bt->stats.helper_untranslated++;
    }
    uint64_t n = hlp_interp_run(cpu, 1, false);
    bt->stats.insns_single += n;
    bt->poll_budget -= (int64_t)n * BT_INTERP_WEIGHT;
}

/* Runs the instruction of a helper call site: system instructions by
 * hlp_exec_system directly, with the interpreter's contract around it
 * (interp.c ix_op_system: hlp_after_insn; faults caught and delivered),
 * anything else (x87, untranslated forms) by one interpreter step.
 * Returns whether it completed without a fault. */
static bool helper_exec(struct bt *bt, const struct dec_insn *d)
{
    struct hlp_cpu *cpu = bt->cpu;
    if (d->cls == DEC_CLASS_INNOCUOUS || d->cls == DEC_CLASS_STRING ||
        (d->flags & (DEC_F_X87 | DEC_F_SIMD))) /* FNSTENV, FXSAVE, ...: fpu*.c */
        return hlp_interp_run(cpu, 1, false) == 1 && cpu->eip == bt->rt.eip + d->len;
    jmp_buf *outer = cpu->fault_jmp;
    jmp_buf jb;
    uint32_t eflags = cpu->eflags;
    cpu->fault_jmp = &jb;
    int why = setjmp(jb);
    if (why == HLP_UNWIND_NONE) {
        if (!hlp_exec_system(cpu, d))
            hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
        hlp_after_insn(cpu, eflags);
    } else if (why == HLP_UNWIND_FAULT) {
        hlp_deliver_pending(cpu);
    }
    cpu->fault_jmp = outer;
    return why == HLP_UNWIND_NONE;
}

/* An instruction a helper executes, called from translated code (the
 * helper trampoline, bt_block.c): rt has the guest state, rt.eip the
 * instruction, rt.last_exit its struct bt_helper_site. Translated code
 * goes on when the instruction fell through and nothing the block was
 * translated for or the dispatcher watches changed: mode bits, the code
 * of any block (its own page may be written), the TLB (chained jumps,
 * the inline cache and the return-address stack assume the linear
 * mappings they were made under), a deliverable interrupt,
 * an exit request, HLT; otherwise it leaves at the new EIP (the
 * instruction is done). */
static uint64_t helper_call(struct bt_rt *rt)
{
    struct bt *bt = (struct bt *)rt; /* rt is its first member */
    struct hlp_cpu *cpu = bt->cpu;
    const struct bt_helper_site *site = (const struct bt_helper_site *)(uintptr_t)rt->last_exit;
    const uint32_t guest_flags = HLP_FL_ARITH | HLP_FL_DF;
    uint32_t next = rt->eip + site->d.len;
    bt_x87_exited(bt);
    memcpy(cpu->gpr, rt->gpr, sizeof cpu->gpr);
    cpu->eip = rt->eip;
    rt_give_flags(bt, rt->rflags);
    uint64_t invalidated = bt->tc.stats.invalidated, flushes = bt->tc.stats.flushes;
    uint64_t tlb_flushes = bt->tlb_flushes;
    bool done = helper_exec(bt, &site->d);
    bt->stats.helper_calls++;
    bt->stats.insns_single++;
    bt->helper_charge += BT_INTERP_WEIGHT;
    rt->budget -= BT_INTERP_WEIGHT;
    memcpy(rt->gpr, cpu->gpr, sizeof rt->gpr);
    rt->rflags = (rt->rflags & ~(uint64_t)guest_flags) | (cpu->eflags & guest_flags);
    rt_take_flags(bt);
    rt->eip = cpu->eip;
    bt_seg_sync(rt, cpu); /* a segment load that kept the mode bits */
    bool go = done && cpu->eip == next && !cpu->halted && current_mode(bt) == site->mode &&
              bt->tc.stats.invalidated == invalidated && bt->tc.stats.flushes == flushes &&
              bt->tlb_flushes == tlb_flushes && !mach_exit_requested(bt->m) &&
              !(mach_intr_pending(bt->m) && hlp_intr_window(cpu));
    if (!go)
        bt->stats.helper_leaves++;
    else if ((site->mode & BT_MODE_X87) && !cpu->fx_owner)
        bt_x87_load(bt); /* the instruction took the x87 state back */
    return go;
}

/* After a direct exit or an indirect miss: b is the block the exit
 * asked for (tc_chain checks target, page and mode; an interrupt
 * delivered in between gives another block, which it refuses). */
static void link_exit(struct bt *bt, const struct tc_block *b)
{
    if (bt->chain_from) {
        struct tc_block *from = (struct tc_block *)((uintptr_t)bt->chain_from & ~TC_EXIT_TAG);
        tc_chain(&bt->tc, from, (uintptr_t)bt->chain_from & TC_EXIT_TAG, (struct tc_block *)b);
        bt->chain_from = NULL;
    }
    if (bt->ic_fill) {
        if (b->key.eip == (uint32_t)bt->ic_fill &&
            b->key.mode == ((bt->ic_fill >> 32) & BT_MODE_MASK) &&
            bt->ic_fill >> BT_IC_EPOCH_SHIFT == bt->ic_epoch)
            bt->rt.ic.e[tc_ic_index(b->key.eip)] =
                (struct tc_icache_entry){.key = bt->ic_fill, .code = b->code};
        bt->ic_fill = 0;
    }
}

static void service_interrupts(struct bt *bt)
{
    struct hlp_cpu *cpu = bt->cpu;
    if (!mach_intr_pending(bt->m) || !hlp_intr_window(cpu))
        return;
    uint8_t vector = mach_intr_ack(bt->m);
    cpu->halted = false;
    bt->stats.interrupts++;
    hlp_deliver(cpu, vector, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL);
}

/* The block for the current state, translated on a miss; NULL when the
 * fetch itself faults or is not RAM (the interpreter then takes it). */
static const struct tc_block *find_block(struct bt *bt, uint32_t mode)
{
    struct hlp_cpu *cpu = bt->cpu;
    struct mmu_fetch f;
    struct mmu_fault fault;
    if (mmu_fetch(&cpu->mmu, cpu->eip, mmu_acc(cpu->cpl, MMU_ACC_EXEC), &f, &fault) != MMU_OK)
        return NULL;
    struct tc_key key = {.phys = f.phys, .eip = cpu->eip, .mode = mode};
    struct tc_block *b = tc_lookup_jc(&bt->tc, &key);
    if (b && bt_smc_check(bt, b, f.host)) /* false: stale on a hash-check page */
        return b;
    bt->rt.eip = cpu->eip;
    b = bt_translate(bt, mode, f.phys, f.host, f.avail);
    if (!b) {
        bt->stats.code_flushes++;
        bt->chain_from = NULL; /* its record is gone */
        tc_flush(&bt->tc);
        b = bt_translate(bt, mode, f.phys, f.host, f.avail);
    }
    return b;
}

static void dispatch(struct bt *bt)
{
    struct hlp_cpu *cpu = bt->cpu;
    for (;;) {
        if (mach_exit_requested(bt->m))
            return;
        if (bt->poll_budget <= 0) {
            bt->stats.polls++;
            bt->poll_budget = BT_POLL_BUDGET;
            mach_poll(bt->m);
            continue;
        }
        service_interrupts(bt);
        if (cpu->halted) {
            bt->stats.hlt_waits++;
            mach_wait_event(bt->m, BT_HALT_WAIT_NS);
            bt->poll_budget = 0;
            continue;
        }
        uint32_t mode = current_mode(bt);
        const struct tc_block *b = mode ? find_block(bt, mode) : NULL;
        if (!b) {
            bt->stats.interp_runs++;
            uint64_t before = bt->stats.interp_insns;
            /* Past an interrupt shadow or a fault the translator may
             * take over again at once; other states last. */
            uint64_t max = mode || cpu->intr_shadow ? 1 : BT_INTERP_SLICE;
            bt->stats.interp_insns = before + hlp_interp_run(cpu, max, !hlp_code32(cpu));
            bt->poll_budget -=
                (int64_t)(bt->stats.interp_insns - before) * BT_INTERP_WEIGHT + 1;
            bt->chain_from = NULL;
            bt->ic_fill = 0;
            continue;
        }
        link_exit(bt, b);
        run_block(bt, b);
    }
}

/* ---- hooks ------------------------------------------------------------------- */

static void hook_mmu_code(void *opaque, uint64_t paddr, uint64_t len)
{
    struct bt *bt = opaque;
    hlp_interp_code_written(bt->cpu, paddr, len);
    bt->stats.code_written += tc_invalidate(&bt->tc, paddr, len);
    /* The interpreter clears a page's mark when its own blocks are gone;
     * blocks of ours outside the written range still need it. */
    for (uint64_t p = paddr & ~(uint64_t)0xFFF; p < paddr + len; p += MMU_PAGE_SIZE)
        if (tc_page_has_code(&bt->tc, p) && !mmu_code_page_test(&bt->cpu->mmu, p) &&
            !bt_smc_hash_page(bt, p)) /* hash-check pages stay writable */
            mmu_code_page_set(&bt->cpu->mmu, p);
}

static void hook_mmu_flushed(void *opaque, enum mmu_flush scope, uint32_t lin)
{
    struct bt *bt = opaque;
    hlp_interp_tlb_flushed(bt->cpu, scope, lin);
    bt->tlb_flushes++;
    /* The inline indirect cache is keyed by linear EIP, like a TLB: a
     * new epoch in its keys (rt.mode_key) drops every entry at once;
     * when the epoch wraps, old entries could match again. */
    if (++bt->ic_epoch == 0)
        memset(&bt->rt.ic, 0, sizeof bt->rt.ic);
}

static void hook_code(void *opaque, uint64_t paddr, uint64_t len)
{
    mmu_phys_written(&((struct bt *)opaque)->cpu->mmu, paddr, len);
}

static void hook_a20(void *opaque, bool enabled)
{
    mmu_set_a20(&((struct bt *)opaque)->cpu->mmu, enabled);
}

/* ---- life cycle ---------------------------------------------------------------- */

static void free_bt(struct bt *bt)
{
    if (!bt)
        return;
    bt_obs_fini(bt);
    bt_ras_fini(bt);
    if (bt->shadow_ready)
        mmu_shadow_destroy(&bt->shadow);
    tc_destroy(&bt->tc);
    hlp_interp_destroy(bt->interp);
    free(bt);
}

static int setup_code(struct bt *bt, struct mach_err *err)
{
    if (tc_init(&bt->tc, BT_CODE_BYTES, err) < 0)
        return -1;
    tc_set_jcache(&bt->tc, &bt->jc);
    tc_set_icache(&bt->tc, &bt->rt.ic);
    uint8_t buf[1024];
    struct bt_tramps t;
    size_t n = bt_emit_trampolines(buf, sizeof buf, helper_call, &t);
    const uint8_t *rx = n ? tc_reserve_code(&bt->tc, buf, n) : NULL;
    if (!rx)
        return mach_errf(err, "bt: no room for the trampolines");
    bt->enter = (bt_enter_fn)(uintptr_t)rx;
    bt->exit_next = rx + t.exit_next;
    bt->exit_common = rx + t.exit_common;
    bt->exit_chain = rx + t.exit_chain;
    bt->ind_miss = rx + t.ind_miss;
    bt->helper = rx + t.helper;
    return bt_ras_init(bt, rx + t.ras_sentinel, err);
}

static struct bt *create(struct machine *m, struct mach_err *err)
{
    struct bt *bt = calloc(1, sizeof *bt);
    if (!bt) {
        mach_errf(err, "bt: out of memory");
        return NULL;
    }
    bt->m = m;
    bt->interp = hlp_interp_create(m, err);
    if (!bt->interp || setup_code(bt, err) < 0 || bt_obs_init(bt, err) < 0) {
        free_bt(bt);
        return NULL;
    }
    bt->cpu = hlp_interp_cpu(bt->interp);
    if (mmu_shadow_init(&bt->shadow, &bt->cpu->mmu, m, err) < 0) {
        free_bt(bt);
        return NULL;
    }
    bt->shadow_ready = true;
    bt->have_wrgsbase = getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_BIT;
    bt->gs_base = UINT64_MAX;
    struct mmu_hooks mh = {.opaque = bt, .code_written = hook_mmu_code,
                           .flushed = hook_mmu_flushed};
    mmu_set_hooks(&bt->cpu->mmu, &mh);
    struct mach_hooks hooks = {.opaque = bt, .code_written = hook_code, .a20_changed = hook_a20};
    mach_set_hooks(m, &hooks);
    mmu_sync_a20(&bt->cpu->mmu);
    bt->poll_budget = BT_POLL_BUDGET;
    bt_x87_init(bt);
    return bt;
}

static int bt_run(struct machine *m, struct mach_err *err)
{
    free_bt(last_run);
    last_run = NULL;
    struct bt *bt = create(m, err);
    if (!bt)
        return -1;
    if (bt_signals_install(bt, err) < 0) {
        mach_set_hooks(m, &(struct mach_hooks){0});
        free_bt(bt);
        return -1;
    }
    last_run = bt;
    mach_set_engine_state(m, bt);
    struct hlp_cpu *cpu = bt->cpu;
    cpu->fault_jmp = &bt->jb;
    for (;;) {
        int why = setjmp(bt->jb);
        if (why == HLP_UNWIND_STOP)
            break;
        if (why == HLP_UNWIND_FAULT) {
            hlp_deliver_pending(cpu);
            continue;
        }
        dispatch(bt);
        break;
    }
    hlp_fx_sync(cpu); /* the x87 state back in cpu->fx, the host FPU clean */
    bt_signals_remove();
    bt_obs_fini(bt); /* the perf map is complete */
    set_gs_base(bt, 0);
    mach_set_hooks(m, &(struct mach_hooks){0});
    return 0;
}

static void print_handoffs(const struct bt *bt, FILE *out)
{
    /* The ten instructions blocks hand over most often (static counts). */
    uint32_t shown[10] = {0};
    for (unsigned k = 0; k < 10; k++) {
        unsigned best = 0;
        uint32_t best_n = 0;
        for (unsigned mn = 1; mn <= ZYDIS_MNEMONIC_MAX_VALUE; mn++) {
            uint32_t n = bt->stats.handoff_by_mnemonic[mn];
            bool seen = false;
            for (unsigned j = 0; j < k; j++)
                seen |= shown[j] == mn;
            if (!seen && n > best_n) {
                best = mn;
                best_n = n;
            }
        }
        if (!best_n)
            break;
        shown[k] = best;
        fprintf(out, "  handed over: %-31s %" PRIu32 " blocks\n",
                ZydisMnemonicGetString((ZydisMnemonic)best), best_n);
    }
}

static void bt_print_stats(struct machine *m, FILE *out)
{
    const struct bt *bt = mach_engine_state(m);
    if (!bt || bt != last_run)
        return;
    fprintf(out, "bt:\n");
#define BT_STAT_PRINT(name, desc) fprintf(out, "  %-44s %" PRIu64 "\n", desc, bt->stats.name);
    BT_STATS(BT_STAT_PRINT)
#undef BT_STAT_PRINT
    fprintf(out, "  %-44s %" PRIu64 "\n", "inline indirect lookups: hits", bt->rt.ic_hits);
    uint64_t run = bt->stats.insns_translated_run;
    uint64_t all = run + bt->stats.insns_single + bt->stats.interp_insns;
    fprintf(out, "  %-44s %.3f%%\n", "share of instructions run translated",
            all ? 100.0 * (double)run / (double)all : 0.0);
    print_handoffs(bt, out);
    bt_obs_print_stats(bt, out);
    fprintf(out, "tcache:\n");
    tc_print_stats(&bt->tc, out);
    mmu_shadow_print_stats(&bt->shadow, out);
    mmu_print_stats(&bt->cpu->mmu, out);
}

static bool bt_available(struct machine *m, struct mach_err *why)
{
    (void)m;
    (void)why;
    return true;
}

const struct mach_engine bt_engine = {
    .name = "bt",
    .available = bt_available,
    .run = bt_run,
    .print_stats = bt_print_stats,
};
