/* The kvm engine: the guest runs on /dev/kvm with one vCPU and no
 * in-kernel irqchip; every device stays on popek's board, reached through
 * port-I/O and MMIO exits, so the same devices serve all three engines. */
#include "hwaccel/kvm/kvm_internal.h"

#include <string.h>

/* Counters of the last run, for print_stats (called after run). Static
 * because the kvm engine runs one vCPU per process at a time (its kick
 * signal is process-wide) and the board frees no engine state. */
static struct kvm_stats last_stats;

static int kvm_engine_run(struct machine *m, struct mach_err *err)
{
    struct kvm_vm vm;
    memset(&last_stats, 0, sizeof(last_stats));
    mach_set_engine_state(m, &last_stats);
    if (kvm_vm_create(&vm, m, &last_stats, err) < 0) {
        kvm_vm_destroy(&vm);
        return -1;
    }
    last_stats.hw_assisted = vm.hw;
    if (kvm_kick_start(&vm, err) < 0) {
        kvm_kick_stop(&vm);
        kvm_vm_destroy(&vm);
        return -1;
    }
    kvm_loop_run(&vm);
    kvm_kick_stop(&vm);
    kvm_vm_destroy(&vm);
    return 0;
}

static const char *const class_names[KVM_CLASS_COUNT] = {
#define KVM_AS_NAME(id, name) [id] = name,
    KVM_EXIT_CLASSES(KVM_AS_NAME)
#undef KVM_AS_NAME
};

static double mean_us(uint64_t ns, uint64_t count) { return count ? (double)ns / count / 1e3 : 0; }

static void kvm_engine_print_stats(struct machine *m, FILE *out)
{
    const struct kvm_stats *st = mach_engine_state(m);
    if (st != &last_stats)
        return;
    fprintf(out, "kvm: host %s\n",
            st->hw_assisted ? "with hardware assist" : kvm_host_limits());
    fprintf(out, "kvm: in-KVM = inside the KVM_RUN call that ended with this exit (guest "
                 "code, or its emulation without hardware assist, plus KVM's exit path);\n"
                 "kvm: handling = from KVM_RUN returning to the next KVM_RUN (popek's "
                 "user-space cost; for hlt it includes the halted wait)\n");
    fprintf(out, "kvm: %-15s %10s %13s %12s %13s %12s\n", "exit", "count", "in-KVM ms",
            "in-KVM us", "handling ms", "handling us");
    fprintf(out, "kvm: %-15s %10s %13s %12s %13s %12s\n", "", "", "total", "mean", "total",
            "mean");
    for (int i = 0; i < KVM_CLASS_COUNT; i++) {
        const struct kvm_exit_stat *e = &st->exit[i];
        if (!e->count)
            continue;
        fprintf(out, "kvm: %-15s %10llu %13.3f %12.3f %13.3f %12.3f\n", class_names[i],
                (unsigned long long)e->count, e->in_kvm_ns / 1e6, mean_us(e->in_kvm_ns, e->count),
                e->handle_ns / 1e6, mean_us(e->handle_ns, e->count));
    }
#define KVM_PRINT_COUNTER(field, label) \
    fprintf(out, "kvm: %-31s %llu\n", label, (unsigned long long)st->field);
    KVM_EVENT_COUNTERS(KVM_PRINT_COUNTER)
#undef KVM_PRINT_COUNTER
}

const struct mach_engine kvm_engine = {
    .name = "kvm",
    .available = kvm_host_available,
    .run = kvm_engine_run,
    .print_stats = kvm_engine_print_stats,
    .hw_assisted = kvm_host_hw_assisted,
    .has_cap = kvm_host_has_cap,
};
