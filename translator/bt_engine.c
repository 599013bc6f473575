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
/* Devices follow host time: poll every this many guest instructions (as
 * the interpreter does). */
#define BT_POLL_INSNS 16384
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
    return mode;
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

/* Runs block b natively and hands over what it stopped at. */
static void run_block(struct bt *bt, const struct tc_block *b)
{
    struct hlp_cpu *cpu = bt->cpu;
    const uint32_t guest_flags = HLP_FL_ARITH | HLP_FL_DF;
    memcpy(bt->rt.gpr, cpu->gpr, sizeof bt->rt.gpr);
    bt->rt.eip = cpu->eip;
    set_gs_base(bt, (uint64_t)(uintptr_t)mmu_shadow_window_base(&bt->shadow, cpu->cpl));
    bt->running = b;
    bt->stats.entries++;
    struct bt_ret r = bt->enter(&bt->rt, b->code, (cpu->eflags & guest_flags) | HLP_FL_FIXED1);
    bt->running = NULL;
    memcpy(cpu->gpr, bt->rt.gpr, sizeof cpu->gpr);
    cpu->eip = bt->rt.eip;
    cpu->eflags = (cpu->eflags & ~guest_flags) | ((uint32_t)r.rflags & guest_flags);
    bt->poll_budget -= b->n_insns + 1;
    unsigned reason = r.reason & 0xFF;
    if (reason == BT_EXIT_NEXT) {
        bt->stats.exits_next++;
        return;
    }
    if (reason == BT_EXIT_INTERP) {
        if ((r.reason >> 24) == BT_HANDOFF_SYSTEM)
            bt->stats.helper_system++;
        else
            bt->stats.helper_untranslated++;
    }
    hlp_interp_run(cpu, 1, false);
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
    if (b)
        return b;
    bt->rt.eip = cpu->eip;
    b = bt_translate(bt, mode, f.phys, f.host, f.avail);
    if (!b) {
        bt->stats.code_flushes++;
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
            bt->poll_budget = BT_POLL_INSNS;
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
            bt->poll_budget -= (int64_t)(bt->stats.interp_insns - before) + 1;
            continue;
        }
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
        if (tc_page_has_code(&bt->tc, p) && !mmu_code_page_test(&bt->cpu->mmu, p))
            mmu_code_page_set(&bt->cpu->mmu, p);
}

static void hook_mmu_flushed(void *opaque, enum mmu_flush scope, uint32_t lin)
{
    struct bt *bt = opaque;
    hlp_interp_tlb_flushed(bt->cpu, scope, lin);
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
    uint8_t buf[256];
    size_t next_off, common_off;
    size_t n = bt_emit_trampolines(buf, sizeof buf, &next_off, &common_off);
    const uint8_t *rx = n ? tc_reserve_code(&bt->tc, buf, n) : NULL;
    if (!rx)
        return mach_errf(err, "bt: no room for the trampolines");
    bt->enter = (bt_enter_fn)(uintptr_t)rx;
    bt->exit_next = rx + next_off;
    bt->exit_common = rx + common_off;
    return 0;
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
    if (!bt->interp || setup_code(bt, err) < 0) {
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
    bt->poll_budget = BT_POLL_INSNS;
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
    bt_signals_remove();
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
    print_handoffs(bt, out);
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
