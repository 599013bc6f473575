/* The return-address stack. Translated code runs on a host stack of
 * its own: a guest CALL is a host CALL into the callee's block, so the
 * address pushed is the code after it in the caller's block, which
 * checks that the guest returned where the CALL said (the guest stack
 * is data the guest may rewrite) and goes on to the return address's
 * block; a guest RET is a host RET. The host's return predictor then
 * predicts guest returns as it predicts its own (Intel SDM Vol. 3 /
 * optimization manual 3.4.1.4: returns are paired with calls), instead
 * of an inline-cache probe per RET. The stack is dropped at every exit
 * to the dispatcher; CALLs that never return (longjmp, a task switch in
 * a helper) only fill it until its guard page, where the push faults
 * and the stack starts again from its sentinel. The sentinel (the
 * bottom entry, bt_block.c) looks a RET's target up like any indirect
 * branch. Signals are taken on an alternate stack: a fault with rsp on
 * this small stack, or on its guard, must not need room on it. */
#define _GNU_SOURCE
#include "translator/bt_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

#define BT_RAS_BYTES (64u << 10)   /* 8,192 return addresses */
#define BT_RAS_GUARD 4096u
#define BT_ALTSTACK_BYTES (64u << 10)

int bt_ras_init(struct bt *bt, const uint8_t *sentinel, struct mach_err *err)
{
    struct bt_ras *r = &bt->ras;
    r->len = BT_RAS_GUARD + BT_RAS_BYTES;
    r->map = mmap(NULL, r->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        return mach_errf(err, "bt: cannot map the return-address stack");
    }
    if (mprotect(r->map + BT_RAS_GUARD, BT_RAS_BYTES, PROT_READ | PROT_WRITE) < 0)
        return mach_errf(err, "bt: cannot map the return-address stack");
    uint64_t *slot = (uint64_t *)(void *)(r->map + r->len - 16);
    *slot = (uint64_t)(uintptr_t)sentinel;
    bt->rt.ras_top = (uint64_t)(uintptr_t)slot;
    return 0;
}

void bt_ras_fini(struct bt *bt)
{
    if (bt->ras.map)
        munmap(bt->ras.map, bt->ras.len);
    bt->ras.map = NULL;
}

bool bt_ras_guard_fault(struct bt *bt, const void *addr, ucontext_t *uc)
{
    const uint8_t *p = addr;
    if (!bt->ras.map || p < bt->ras.map || p >= bt->ras.map + BT_RAS_GUARD)
        return false;
    /* The faulting push is retried onto the empty stack. */
    uc->uc_mcontext.gregs[REG_RSP] = (greg_t)bt->rt.ras_top;
    bt->stats.ras_resets++;
    return true;
}

int bt_altstack_install(struct bt *bt, struct mach_err *err)
{
    struct bt_ras *r = &bt->ras;
    r->altstack = malloc(BT_ALTSTACK_BYTES);
    if (!r->altstack)
        return mach_errf(err, "bt: out of memory");
    stack_t ss = {.ss_sp = r->altstack, .ss_size = BT_ALTSTACK_BYTES};
    if (sigaltstack(&ss, &r->old_altstack) < 0) {
        free(r->altstack);
        r->altstack = NULL;
        return mach_errf(err, "bt: cannot set the signal stack");
    }
    return 0;
}

void bt_altstack_remove(struct bt *bt)
{
    struct bt_ras *r = &bt->ras;
    if (!r->altstack)
        return;
    /* An old stack that was disabled is given back disabled. */
    if (r->old_altstack.ss_flags & SS_DISABLE)
        r->old_altstack = (stack_t){.ss_flags = SS_DISABLE};
    sigaltstack(&r->old_altstack, NULL);
    free(r->altstack);
    r->altstack = NULL;
}
