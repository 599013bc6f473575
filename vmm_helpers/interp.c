/* The interpreter engine: the run loop (interrupts, halt, device polling,
 * faults), the one-instruction path (TF and RF, debug registers, the
 * interrupt shadow, --trace insn) and --stats. */
#include "vmm_helpers/interp_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Devices that follow host time are polled every this many guest
 * instructions: about 0.2 ms of guest time at 100 M instructions/s, and
 * still a few ms on the slowest code, well inside a 1 ms PIT tick. */
#define IX_POLL_INSNS 16384
/* How long one HLT sleep may last before the loop looks again. */
#define IX_HALT_WAIT_NS (20u * 1000 * 1000)

/* The state of the last run, kept for print_stats (called after run). */
static struct interp *last_run;

const uint8_t ix_parity[256] = {
#define P8(n) ((0x6996u >> (((n) ^ ((n) >> 4)) & 15)) & 1 ? 0 : HLP_FL_PF)
#define ROW(n) P8(n), P8(n + 1), P8(n + 2), P8(n + 3), P8(n + 4), P8(n + 5), P8(n + 6), P8(n + 7)
    ROW(0),   ROW(8),   ROW(16),  ROW(24),  ROW(32),  ROW(40),  ROW(48),  ROW(56),
    ROW(64),  ROW(72),  ROW(80),  ROW(88),  ROW(96),  ROW(104), ROW(112), ROW(120),
    ROW(128), ROW(136), ROW(144), ROW(152), ROW(160), ROW(168), ROW(176), ROW(184),
    ROW(192), ROW(200), ROW(208), ROW(216), ROW(224), ROW(232), ROW(240), ROW(248),
#undef ROW
#undef P8
};

/* Recomputes what the fast paths cache from the CPU state: segment
 * windows, the access privilege, alignment checking and the stack size.
 * Called whenever something outside the integer instructions may have
 * changed them (system instructions, event delivery). */
void ix_refresh(struct interp *ix)
{
    struct hlp_cpu *cpu = &ix->cpu;
    bool armed = hlp_dbg_armed(cpu);
    for (unsigned s = 0; s < 6; s++) {
        struct ix_seg *c = &ix->segc[s];
        c->base = cpu->seg[s].base;
        hlp_seg_window(cpu, s, false, &c->rlo, &c->rhi);
        hlp_seg_window(cpu, s, true, &c->wlo, &c->whi);
        if (armed) { /* every access through ix_lin_slow */
            c->rlo = c->wlo = 1;
            c->rhi = c->whi = 0;
        }
    }
    ix->acc = mmu_acc(cpu->cpl, MMU_ACC_READ);
    ix->ac_mask = ((cpu->cr0 & HLP_CR0_AM) && (cpu->eflags & HLP_FL_AC) && cpu->cpl == 3)
                      ? 0xFFFFFFFFu
                      : 0;
    ix->sp_mask = (cpu->seg[HLP_SS].attr & HLP_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    uint32_t key[3] = {cpu->seg[HLP_CS].base, hlp_code32(cpu), cpu->cpl};
    if (memcmp(key, ix->code_key, sizeof key)) {
        memcpy(ix->code_key, key, sizeof key);
        ix->jc_gen++;
    }
}

static void after_system(struct interp *ix)
{
    ix_refresh(ix);
    ix->attention |= IX_ATT_INTR | IX_ATT_CHECK;
}

/* ---- handlers the other files share ----------------------------------------------- */

/* System instructions are where the debug bookkeeping (RF loaded by
 * IRET, events that suppress the single-step trap) comes from, so each is
 * followed by hlp_after_insn, in the block loop as in single steps. */
void ix_op_system(struct interp *ix, const struct iop *i)
{
    struct hlp_cpu *cpu = &ix->cpu;
    uint32_t eflags = cpu->eflags;
    ix->stats.system_insns++;
    if (!hlp_exec_system(cpu, i->d))
        hlp_raise(cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
    if (cpu->halted)
        ix->stats.hlts++;
    hlp_after_insn(cpu, eflags);
    after_system(ix);
    /* The instruction may have changed paging, CS or the code itself. */
    ix->abort = true;
}

void ix_op_ud(struct interp *ix, const struct iop *i)
{
    (void)i;
    hlp_raise(&ix->cpu, HLP_VEC_UD, HLP_NO_ERROR_CODE);
}

void ix_op_gp0(struct interp *ix, const struct iop *i)
{
    (void)i;
    hlp_raise(&ix->cpu, HLP_VEC_GP, 0);
}

/* ---- interrupts and halt ----------------------------------------------------------------- */

/* External interrupts are taken between instructions when IF is set and
 * no interrupt shadow is active (SDM Vol. 3A 6.8.1, 6.8.3). */
static void service_interrupts(struct interp *ix)
{
    struct hlp_cpu *cpu = &ix->cpu;
    if (!mach_intr_pending(ix->m) || !hlp_intr_window(cpu))
        return;
    uint8_t vector = mach_intr_ack(ix->m);
    cpu->halted = false;
    ix->stats.interrupts++;
    hlp_deliver(cpu, vector, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL);
    after_system(ix);
}

static void poll_devices(struct interp *ix)
{
    ix->stats.polls++;
    ix->poll_budget = IX_POLL_INSNS;
    mach_poll(ix->m);
    ix->attention |= IX_ATT_INTR | IX_ATT_CHECK;
}

/* ---- tracing -------------------------------------------------------------------------------- */

static const char *const gpr_names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};

static void trace_changes(struct interp *ix, const uint32_t before[8], uint32_t eflags_before,
                          const char *head)
{
    char buf[256];
    size_t n = 0;
    const struct hlp_cpu *cpu = &ix->cpu;
    for (unsigned r = 0; r < 8 && n < sizeof buf; r++)
        if (cpu->gpr[r] != before[r])
            n += (size_t)snprintf(buf + n, sizeof buf - n, " %s=%08x", gpr_names[r], cpu->gpr[r]);
    if (cpu->eflags != eflags_before && n < sizeof buf)
        n += (size_t)snprintf(buf + n, sizeof buf - n, " eflags=%08x", cpu->eflags);
    buf[n < sizeof buf ? n : sizeof buf - 1] = '\0';
    mach_trace(ix->m, "%s%s", head, buf);
}

/* ---- execution ---------------------------------------------------------------------------- */

/* Runs one instruction (the first of the block at EIP) with the checks
 * the block loop leaves out: the interrupt shadow, instruction and data
 * breakpoints, single-step traps, RF, and --trace insn (the hlp_cpu.h
 * debug contract). */
void ix_step(struct interp *ix)
{
    struct hlp_cpu *cpu = &ix->cpu;
    const struct iblock *b = ix_block_at(ix);
    const struct iop *i = &b->ops[0];
    uint32_t before[8], eflags_before = cpu->eflags;
    char head[160];

    /* The shadow of STI / MOV SS covers exactly this instruction. */
    cpu->intr_shadow = false;
    ix->attention |= IX_ATT_INTR | IX_ATT_CHECK;
    if (hlp_dbg_armed(cpu))
        hlp_check_code_breakpoint(cpu);
    if ((uint64_t)cpu->eip + i->len - 1 > cpu->seg[HLP_CS].limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    if (ix->trace) {
        char text[96];
        if (dec_format(&cpu->dec, i->d, cpu->eip, text, sizeof text) < 0)
            snprintf(text, sizeof text, "(undecodable)");
        snprintf(head, sizeof head, "%04x:%08x  %s", cpu->seg[HLP_CS].sel, cpu->eip, text);
        memcpy(before, cpu->gpr, sizeof before);
    }
    i->fn(ix, i);
    ix->abort = false;
    ix->stats.insns++;
    ix->poll_budget--;
    if (ix->trace)
        trace_changes(ix, before, eflags_before, head);
    if (i->fn != ix_op_system) {
        hlp_after_insn(cpu, eflags_before);
        after_system(ix);
    }
}

/* Runs a block; returns the instructions completed. The CS limit is
 * checked once for the whole block; a block that reaches past it runs one
 * instruction at a time so the #GP comes at the instruction that crosses
 * the limit. Only for when ix_stepping() is false. */
unsigned ix_run_block(struct interp *ix, const struct iblock *b)
{
    uint64_t before = ix->stats.insns;
    struct hlp_cpu *cpu = &ix->cpu;
    const struct iop *i = b->ops, *end = b->ops + b->n;
    if (IX_UNLIKELY((uint64_t)cpu->eip + b->nbytes - 1 > cpu->seg[HLP_CS].limit)) {
        for (; i != end && !ix->abort; i++) {
            if ((uint64_t)cpu->eip + i->len - 1 > cpu->seg[HLP_CS].limit)
                hlp_raise(cpu, HLP_VEC_GP, 0);
            i->fn(ix, i);
            ix->stats.insns++;
        }
    } else {
        do {
            i->fn(ix, i);
            i++;
        } while (i != end && IX_LIKELY(!ix->abort));
        ix->stats.insns += (uint64_t)(i - b->ops);
    }
    ix->abort = false;
    ix->poll_budget -= b->n;
    ix->stats.blocks++;
    return (unsigned)(ix->stats.insns - before);
}

bool ix_stepping(const struct interp *ix)
{
    const struct hlp_cpu *cpu = &ix->cpu;
    return ix->trace || (cpu->eflags & (HLP_FL_TF | HLP_FL_RF)) || cpu->intr_shadow ||
           hlp_dbg_armed(cpu);
}

/* Everything the block loop does not look at: exit, devices, interrupts,
 * halt, single-stepping. Returns true when the run is over. */
static bool attend(struct interp *ix)
{
    struct hlp_cpu *cpu = &ix->cpu;
    unsigned why = ix->attention;
    ix->attention = 0;
    if (mach_exit_requested(ix->m))
        return true;
    if (ix->poll_budget <= 0) {
        poll_devices(ix);
        if (mach_exit_requested(ix->m))
            return true;
        why |= ix->attention;
    }
    if (why & IX_ATT_INTR)
        service_interrupts(ix);
    if (cpu->halted) {
        mach_wait_event(ix->m, IX_HALT_WAIT_NS);
        ix->attention |= IX_ATT_INTR | IX_ATT_CHECK;
        return false;
    }
    if (ix_stepping(ix)) {
        ix_step(ix);
        ix->attention |= IX_ATT_CHECK;
    }
    return false;
}

/* The fast loop looks at one word and a counter per block; anything
 * that needs more sets ix->attention (interrupt hooks, system
 * instructions, event delivery) or runs out the poll budget. */
static void exec_loop(struct interp *ix)
{
    ix->attention |= IX_ATT_INTR | IX_ATT_CHECK;
    for (;;) {
        if (IX_UNLIKELY(ix->attention || ix->poll_budget <= 0)) {
            if (attend(ix))
                return;
            continue;
        }
        ix_run_block(ix, ix_block_at(ix));
    }
}

/* ---- the engine ------------------------------------------------------------------------------ */

static void hook_irq(void *opaque) { ((struct interp *)opaque)->attention |= IX_ATT_INTR; }

static void hook_code(void *opaque, uint64_t paddr, uint64_t len)
{
    mmu_phys_written(&((struct interp *)opaque)->cpu.mmu, paddr, len);
}

static void hook_a20(void *opaque, bool enabled)
{
    mmu_set_a20(&((struct interp *)opaque)->cpu.mmu, enabled);
}

int ix_init(struct interp *ix, struct machine *m, struct mach_err *err)
{
    ix->m = m;
    if (hlp_cpu_init(&ix->cpu, m, HLP_CPU_POPEK_OPTIONS, err) < 0)
        return -1;
    if (ix_cache_init(&ix->cache, err) < 0) {
        hlp_cpu_destroy(&ix->cpu);
        return -1;
    }
    struct mmu_hooks mh = {
        .opaque = ix, .code_written = ix_code_written, .flushed = ix_tlb_flushed};
    mmu_set_hooks(&ix->cpu.mmu, &mh);
    ix->jc_gen = 1; /* zeroed jump-cache entries are never current */
    ix_refresh(ix);
    return 0;
}

void ix_fini(struct interp *ix)
{
    ix_cache_destroy(&ix->cache);
    hlp_cpu_destroy(&ix->cpu);
}

static void free_interp(struct interp *ix)
{
    if (!ix)
        return;
    ix_fini(ix);
    free(ix);
}

static struct interp *create(struct machine *m, struct mach_err *err)
{
    struct interp *ix = calloc(1, sizeof *ix);
    if (!ix) {
        mach_errf(err, "interp: out of memory");
        return NULL;
    }
    if (ix_init(ix, m, err) < 0) {
        free(ix);
        return NULL;
    }
    ix->trace = mach_tracing(m, MACH_TRACE_INSN);
    ix->cpu.fault_jmp = &ix->jb;
    struct mach_hooks hooks = {
        .opaque = ix, .irq_changed = hook_irq, .code_written = hook_code, .a20_changed = hook_a20};
    mach_set_hooks(m, &hooks);
    mmu_sync_a20(&ix->cpu.mmu);
    ix_refresh(ix);
    ix->attention = IX_ATT_INTR | IX_ATT_CHECK;
    ix->poll_budget = IX_POLL_INSNS;
    return ix;
}

/* A fault raised by an instruction (or by the delivery of another one,
 * which hlp_deliver_pending turns into #DF or a triple fault). */
static void on_fault(struct interp *ix)
{
    struct hlp_cpu *cpu = &ix->cpu;
    ix->stats.exceptions++;
    ix->stats.by_vector[cpu->pending_vector & 31]++;
    if (ix->trace)
        mach_trace(ix->m, "%04x:%08x  exception %u (error %d)", cpu->seg[HLP_CS].sel, cpu->eip,
                   cpu->pending_vector, cpu->pending_error);
    ix->abort = false;
    /* A fault counts as an instruction for device polling: a guest whose
     * exception handler faults again completes no instruction at all, and
     * must still see its timer and --timeout. */
    ix->poll_budget--;
    cpu->dbg_hits = 0; /* a faulting instruction reports no data breakpoint */
    hlp_deliver_pending(cpu);
    after_system(ix);
}

static int interp_run(struct machine *m, struct mach_err *err)
{
    free_interp(last_run);
    last_run = NULL;
    struct interp *ix = create(m, err);
    if (!ix)
        return -1;
    last_run = ix;
    mach_set_engine_state(m, ix);
    for (;;) {
        int why = setjmp(ix->jb);
        if (why == HLP_UNWIND_STOP)
            break;
        if (why == HLP_UNWIND_FAULT) {
            on_fault(ix);
            continue;
        }
        exec_loop(ix);
        break;
    }
    mach_set_hooks(m, &(struct mach_hooks){0});
    return 0;
}

static void interp_print_stats(struct machine *m, FILE *out)
{
    const struct interp *ix = mach_engine_state(m);
    if (!ix || ix != last_run)
        return;
    fprintf(out, "interp:\n");
#define INTERP_STAT_PRINT(name, desc) \
    fprintf(out, "  %-44s %" PRIu64 "\n", desc, ix->stats.name);
    INTERP_STATS(INTERP_STAT_PRINT)
#undef INTERP_STAT_PRINT
    for (unsigned v = 0; v < 32; v++)
        if (ix->stats.by_vector[v])
            fprintf(out, "  exceptions with vector %-21u %" PRIu64 "\n", v,
                    ix->stats.by_vector[v]);
    mmu_print_stats(&ix->cpu.mmu, out);
}

static bool interp_available(struct machine *m, struct mach_err *why)
{
    (void)m;
    (void)why;
    return true;
}

const struct mach_engine interp_engine = {
    .name = "interp",
    .available = interp_available,
    .run = interp_run,
    .print_stats = interp_print_stats,
};
