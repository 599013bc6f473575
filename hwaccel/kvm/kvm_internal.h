/* hwaccel/kvm/ internal: the engine's VM state, shared by its files.
 *
 *   kvm.c        the engine: run, --stats
 *   kvm_host.c   what the host's KVM can do: available, hw_assisted, has_cap
 *   kvm_vm.c     VM, vCPU, memory slots, CPUID, initial CPU state
 *   kvm_loop.c   the run loop: one switch on the exit reason, interrupts
 *   kvm_kick.c   the host timer that makes KVM_RUN return
 *   kvm_report.c guest state and instruction bytes for fatal exits */
#ifndef POPEK_KVM_INTERNAL_H
#define POPEK_KVM_INTERNAL_H

#include "hwaccel/kvm/kvm.h"
#include "vmm_helpers/vmm_helpers.h"

#include <linux/kvm.h>
#include <signal.h>
#include <time.h>

/* ---- --stats ----
 * Exit classes, counted by kvm_loop.c and printed by kvm.c in this order. */
#define KVM_EXIT_CLASSES(X)                                       \
    X(KVM_CLASS_IO, "io")                 /* KVM_EXIT_IO */         \
    X(KVM_CLASS_MMIO, "mmio")             /* KVM_EXIT_MMIO */       \
    X(KVM_CLASS_HLT, "hlt")               /* KVM_EXIT_HLT */        \
    X(KVM_CLASS_IRQ_WINDOW, "irq-window") /* KVM_EXIT_IRQ_WINDOW_OPEN */ \
    X(KVM_CLASS_SIGNAL, "signal")         /* KVM_RUN -> EINTR: kick timer */ \
    X(KVM_CLASS_SHUTDOWN, "shutdown")     /* KVM_EXIT_SHUTDOWN */   \
    X(KVM_CLASS_INTERNAL, "internal-error")                         \
    X(KVM_CLASS_FAIL_ENTRY, "fail-entry")                           \
    X(KVM_CLASS_OTHER, "other")

#define KVM_AS_ENUM(id, name) id,
enum kvm_exit_class { KVM_EXIT_CLASSES(KVM_AS_ENUM) KVM_CLASS_COUNT };
#undef KVM_AS_ENUM

/* Event counters: field, label. */
#define KVM_EVENT_COUNTERS(X)                                    \
    X(runs, "KVM_RUN calls")                                     \
    X(injected, "interrupts injected")                           \
    X(window_requests, "interrupt-window requests")              \
    X(hlt_wakeups, "HLT exits woken by an interrupt")            \
    X(kick_arms, "kick timer arms")

struct kvm_exit_stat {
    uint64_t count;
    uint64_t in_kvm_ns;  /* inside the KVM_RUN call that ended in this exit */
    uint64_t handle_ns;  /* from KVM_RUN returning to the next KVM_RUN call */
};

#define KVM_AS_FIELD(field, label) uint64_t field;
struct kvm_stats {
    struct kvm_exit_stat exit[KVM_CLASS_COUNT];
    KVM_EVENT_COUNTERS(KVM_AS_FIELD)
    bool hw_assisted;
};
#undef KVM_AS_FIELD

/* ---- the kick timer (kvm_kick.c) ---- */
struct kvm_kick {
    timer_t timer;
    bool timer_created;
    bool handler_installed;
    int signo;
    uint64_t armed_ns; /* absolute expiry of the armed one-shot, 0: none */
    struct sigaction old_action;
    sigset_t old_mask;
};

/* ---- the VM ---- */
struct kvm_vm {
    struct machine *m;
    int sys_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *rom; /* page-aligned copy of the BIOS ROM for its memory slots */
    size_t rom_size;
    bool rom_read_only;                /* KVM_MEM_READONLY available */
    struct kvm_mem_piece *mem_pieces;  /* scratch for kvm_mem_layout */
    unsigned mem_max_pieces, mem_slots_used;
    bool hw;      /* the host runs guests with VT-x/AMD-V */
    bool immediate_exit;
    struct hlp_cpu_model cpu;
    struct kvm_kick kick;
    struct kvm_stats *stats;
};

/* kvm_host.c: the engine's available(), hw_assisted() and has_cap(). */
bool kvm_host_available(struct machine *m, struct mach_err *why);
bool kvm_host_hw_assisted(void);
bool kvm_host_has_cap(const char *cap, struct mach_err *why);
/* "kvm_pvm, no VT-x/AMD-V" or "no VT-x/AMD-V": for messages. */
const char *kvm_host_limits(void);

/* kvm_vm.c: opens /dev/kvm, creates the VM and its vCPU with memory,
 * CPUID and the boot state; kvm_vm_destroy undoes any part of it. */
int kvm_vm_create(struct kvm_vm *vm, struct machine *m, struct kvm_stats *stats,
                  struct mach_err *err);
void kvm_vm_destroy(struct kvm_vm *vm);

/* kvm_mem.c: guest memory as memory slots, rebuilt when the A20 gate
 * changes (the machine's a20_changed hook). */
struct kvm_mem_piece;
int kvm_mem_create(struct kvm_vm *vm, struct mach_err *err);
int kvm_mem_layout(struct kvm_vm *vm, bool a20, struct mach_err *err);
void kvm_mem_destroy(struct kvm_vm *vm);

/* kvm_loop.c: runs until mach_exit_requested(). */
void kvm_loop_run(struct kvm_vm *vm);

/* kvm_kick.c */
int kvm_kick_start(struct kvm_vm *vm, struct mach_err *err);
/* Arms the one-shot timer for the next device event, at most ~1 ms ahead. */
void kvm_kick_arm(struct kvm_vm *vm);
void kvm_kick_stop(struct kvm_vm *vm);

/* kvm_report.c: each records the VM's exit with the guest's state. */
void kvm_report_shutdown(struct kvm_vm *vm);
void kvm_report_internal_error(struct kvm_vm *vm);
void kvm_report_fail_entry(struct kvm_vm *vm);
/* "0008:00101234 in 32-bit protected mode" style location for traces. */
void kvm_report_location(struct kvm_vm *vm, char *buf, size_t len);

#endif
