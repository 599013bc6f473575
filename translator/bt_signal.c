/* Host faults raised by translated code. SIGSEGV from a shadow window:
 * map the page and retry, or invalidate a code page the guest writes
 * (self-modifying code); everything else (guest #PF, MMIO, unassigned
 * memory) and SIGFPE (#DE) leave the block at the faulting guest
 * instruction, whose state the host registers hold exactly (the
 * contract in bt_internal.h), and the interpreter redoes it with the
 * architectural result. Faults outside translated code go to the
 * handler installed before ours.
 *
 * Async-signal safety: the signals are synchronous, raised on the guest
 * thread by translated code, which holds no lock and is inside no libc
 * call; the handler allocates nothing and calls only the tcache, the
 * interpreter's invalidation and the shadow (mmap/mprotect). */
#define _GNU_SOURCE
#include "translator/bt_internal.h"

#include <signal.h>
#include <string.h>
#include <ucontext.h>

static struct bt *sig_bt;
static struct sigaction old_segv, old_fpe;

/* Leaves translated code for the dispatcher at guest eip with reason. */
static void leave_at(struct bt *bt, ucontext_t *uc, uint32_t eip, uint32_t reason)
{
    bt->rt.eip = eip;
    uc->uc_mcontext.gregs[REG_R10] = reason;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)bt->exit_common;
    bt->stats.fault_redos++;
}

/* Lets the previous handler see the fault: reinstalled, it runs when the
 * faulting instruction is retried. */
static void pass_on(int sig)
{
    sigaction(sig, sig == SIGSEGV ? &old_segv : &old_fpe, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    struct bt *bt = sig_bt;
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    struct tc_block *b = bt ? tc_find_by_pc(&bt->tc, pc) : NULL;
    int k = b ? tc_insn_at_pc(b, pc) : -1;
    if (k < 0) {
        pass_on(sig);
        return;
    }
    if (sig == SIGSEGV && bt_ras_guard_fault(bt, si->si_addr, uc))
        return;
    uint32_t eip = b->key.eip + b->map[k].guest_off;
    if (sig == SIGFPE) {
        bt->stats.fpe_faults++;
        leave_at(bt, uc, eip, BT_EXIT_FAULT);
        return;
    }
    bt->stats.shadow_faults++;
    struct mmu_shadow_fault out;
    enum mmu_shadow_result r =
        mmu_shadow_fault(&bt->shadow, si->si_addr, mmu_shadow_sig_is_write(uc), &out);
    switch (r) {
    case MMU_SHADOW_RETRY:
        bt->stats.shadow_retries++;
        return;
    case MMU_SHADOW_SMC:
        /* The page's blocks are dropped, or checked at entry from now on
         * (bt_smc.c); a block that wrote its own page must not run its
         * stale rest. */
        if (!bt_smc_write_fault(bt, out.paddr & ~(uint64_t)(MMU_PAGE_SIZE - 1)) ||
            (b->key.phys >> 12) != (out.paddr >> 12))
            return;
        leave_at(bt, uc, eip, BT_EXIT_SMC);
        return;
    case MMU_SHADOW_NOT_OURS:
        pass_on(sig);
        return;
    case MMU_SHADOW_GUEST_FAULT:
        /* The guest's #PF handler will likely make this access possible:
         * the dispatcher maps it before the retry (bt_prefault_check). */
        bt->pf = (struct bt_pf){.pending = true, .eip = eip, .lin = out.lin, .cpl = out.cpl};
        leave_at(bt, uc, eip, BT_EXIT_FAULT);
        return;
    default: /* guest fault, MMIO, unassigned, host error: the interpreter redoes it */
        leave_at(bt, uc, eip, BT_EXIT_FAULT);
        return;
    }
}

int bt_signals_install(struct bt *bt, struct mach_err *err)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    /* On the alternate stack: translated code runs on the small
     * return-address stack (bt_ras.c). */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (bt_altstack_install(bt, err) < 0)
        return -1;
    sig_bt = bt;
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0 || sigaction(SIGFPE, &sa, &old_fpe) < 0) {
        bt_altstack_remove(bt);
        return mach_errf(err, "bt: cannot install the fault handlers");
    }
    return 0;
}

void bt_signals_remove(void)
{
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGFPE, &old_fpe, NULL);
    if (sig_bt)
        bt_altstack_remove(sig_bt);
    sig_bt = NULL;
}
