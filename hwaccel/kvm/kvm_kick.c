/* The kick timer. Without an in-kernel irqchip a guest that spins in a
 * loop makes no exits, so nothing would deliver PIT interrupts or notice
 * --timeout. A one-shot POSIX timer aimed at the vCPU thread sends a signal
 * that makes KVM_RUN return with EINTR at the next device event (PIT
 * period, --timeout deadline), and at least every KICK_MAX_NS for the
 * UART's input. The handler sets kvm_run.immediate_exit, so a signal that
 * lands between the run loop's checks and its KVM_RUN call still makes
 * that KVM_RUN return at once (api.rst, KVM_CAP_IMMEDIATE_EXIT); without
 * the capability such a signal is only late, by one timer period. */
#define _GNU_SOURCE
#include "hwaccel/kvm/kvm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define KICK_MAX_NS 1000000ull
/* Floor for a device event that is already due: no signal storms. */
#define KICK_MIN_NS 20000ull

/* The kvm_run whose immediate_exit the handler sets. A process runs one
 * kvm vCPU at a time (the signal is process-wide). */
static struct kvm_run *volatile kick_run;

/* Async-signal-safe: one store. */
static void kick_handler(int signo)
{
    (void)signo;
    struct kvm_run *run = kick_run;
    if (run)
        run->immediate_exit = 1;
}

int kvm_kick_start(struct kvm_vm *vm, struct mach_err *err)
{
    struct kvm_kick *k = &vm->kick;
    k->signo = SIGRTMIN;
    struct sigaction sa = {.sa_handler = kick_handler, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    if (sigaction(k->signo, &sa, &k->old_action) < 0)
        return mach_errf(err, "sigaction: %s", strerror(errno));
    k->handler_installed = true;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, k->signo);
    pthread_sigmask(SIG_UNBLOCK, &set, &k->old_mask);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = k->signo};
    ev._sigev_un._tid = gettid(); /* Debian 12 glibc lacks sigev_notify_thread_id */
    if (timer_create(CLOCK_MONOTONIC, &ev, &k->timer) < 0)
        return mach_errf(err, "timer_create: %s", strerror(errno));
    k->timer_created = true;
    k->armed_ns = 0;
    if (vm->immediate_exit)
        kick_run = vm->run;
    return 0;
}

void kvm_kick_arm(struct kvm_vm *vm)
{
    struct kvm_kick *k = &vm->kick;
    uint64_t now = mach_now_ns();
    uint64_t wait = mach_next_event_ns(vm->m);
    if (wait > KICK_MAX_NS)
        wait = KICK_MAX_NS;
    if (wait < KICK_MIN_NS)
        wait = KICK_MIN_NS;
    uint64_t due = now + wait;
    if (k->armed_ns > now && k->armed_ns <= due)
        return;
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(due / 1000000000ull),
                                          .tv_nsec = (long)(due % 1000000000ull)}};
    timer_settime(k->timer, TIMER_ABSTIME, &its, NULL);
    k->armed_ns = due;
    vm->stats->kick_arms++;
}

void kvm_kick_stop(struct kvm_vm *vm)
{
    struct kvm_kick *k = &vm->kick;
    kick_run = NULL;
    if (k->timer_created)
        timer_delete(k->timer);
    k->timer_created = false;
    if (!k->handler_installed)
        return;
    /* A signal already queued would meet the old handler (SIG_DFL ends
     * the process for a real-time signal): block, drain, then restore. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, k->signo);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    sigaction(k->signo, &k->old_action, NULL);
    pthread_sigmask(SIG_SETMASK, &k->old_mask, NULL);
    k->handler_installed = false;
}
