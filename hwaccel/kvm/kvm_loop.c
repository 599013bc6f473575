/* The run loop, as kvmtool's kvm_cpu__start: poll the board, inject an
 * interrupt or ask for an interrupt window, KVM_RUN, then one flat switch
 * on the exit reason. Every field of kvm_run that the guest influences is
 * checked before use: nothing a guest does may crash popek. */
#define _GNU_SOURCE
#include "hwaccel/kvm/kvm_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

/* Longest single sleep of a halted vCPU; it wakes earlier for device
 * events, interrupts and exit requests. */
#define HALT_WAIT_MAX_NS 100000000ull

/* Port I/O, string forms included: KVM leaves count elements of size
 * bytes at data_offset in the kvm_run mapping (api.rst, KVM_EXIT_IO). */
static void handle_io(struct kvm_vm *vm)
{
    struct machine *m = vm->m;
    struct kvm_run *run = vm->run;
    unsigned size = run->io.size;
    uint32_t count = run->io.count;
    uint64_t offset = run->io.data_offset;
    if ((size != 1 && size != 2 && size != 4) || count == 0 || offset > vm->run_size ||
        (uint64_t)size * count > vm->run_size - offset) {
        mach_request_exit(m, MACH_EXIT_ENGINE_ERROR, 0,
                          "KVM_EXIT_IO out of bounds: port 0x%x, %u x %u bytes at offset %llu "
                          "of the %zu-byte kvm_run area",
                          run->io.port, count, size, (unsigned long long)offset, vm->run_size);
        return;
    }
    uint8_t *data = (uint8_t *)run + offset;
    bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
    for (uint32_t i = 0; i < count && !mach_exit_requested(m); i++)
        mach_pio(m, run->io.port, data + (size_t)i * size, size, is_write);
}

static bool mmio_access(struct machine *m, uint64_t pa, uint8_t *data, unsigned len,
                        bool is_write)
{
    if (len == 1 || len == 2 || len == 4 || len == 8)
        return mach_mmio(m, pa, data, len, is_write);
    /* KVM splits accesses at page boundaries and into 8-byte pieces, so
     * odd lengths happen; devices see them byte by byte. */
    for (unsigned i = 0; i < len; i++)
        if (!mach_mmio(m, pa + i, data + i, 1, is_write))
            return false;
    return true;
}

/* A guest access outside every memory slot: a device region, a write to
 * the read-only ROM slots (dropped: machine.h), or nothing at all. */
static void handle_mmio(struct kvm_vm *vm)
{
    struct machine *m = vm->m;
    struct kvm_run *run = vm->run;
    uint64_t pa = run->mmio.phys_addr;
    unsigned len = run->mmio.len;
    bool is_write = run->mmio.is_write;
    if (len == 0 || len > sizeof(run->mmio.data)) {
        mach_request_exit(m, MACH_EXIT_ENGINE_ERROR, 0,
                          "KVM_EXIT_MMIO of %u bytes at 0x%llx", len, (unsigned long long)pa);
        return;
    }
    uint8_t *host;
    uint64_t left;
    if (mach_phys_lookup(m, pa, &host, &left) == MACH_PHYS_ROM && left >= len) {
        if (!is_write)
            memcpy(run->mmio.data, host, len);
        return;
    }
    if (mmio_access(m, pa, run->mmio.data, len, is_write))
        return;
    char where[96];
    kvm_report_location(vm, where, sizeof(where));
    mach_request_exit(m, MACH_EXIT_BAD_MEMORY, 0,
                      "guest touched missing physical memory at 0x%llx (%u-byte %s at %s)",
                      (unsigned long long)pa, len, is_write ? "write" : "read", where);
}

/* HLT with IF=0: only NMI, SMI, INIT or reset would wake the CPU (SDM
 * Vol. 2A, HLT), and the board raises none of them; sleep until --timeout
 * or another exit request. */
static void sleep_halted(struct machine *m)
{
    uint64_t wait = mach_next_event_ns(m);
    if (wait > HALT_WAIT_MAX_NS)
        wait = HALT_WAIT_MAX_NS;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                          .tv_nsec = (long)(wait % 1000000000ull)};
    nanosleep(&ts, NULL);
    mach_poll(m);
}

/* Without an in-kernel LAPIC, KVM leaves HLT to user space with EIP past
 * the HLT: the vCPU stays here until an interrupt can be taken. */
static void handle_hlt(struct kvm_vm *vm)
{
    struct machine *m = vm->m;
    bool interruptible = vm->run->if_flag;
    while (!mach_exit_requested(m)) {
        if (interruptible && mach_intr_pending(m)) {
            vm->stats->hlt_wakeups++;
            return;
        }
        if (interruptible)
            mach_wait_event(m, HALT_WAIT_MAX_NS);
        else
            sleep_halted(m);
    }
}

/* The 8259A's INTR line, without an in-kernel irqchip: acknowledge and
 * inject when the guest can take an interrupt now, else have KVM exit as
 * soon as it can (api.rst, KVM_INTERRUPT, request_interrupt_window). */
static void update_interrupts(struct kvm_vm *vm)
{
    struct machine *m = vm->m;
    struct kvm_run *run = vm->run;
    run->request_interrupt_window = 0;
    if (!mach_intr_pending(m))
        return;
    if (run->ready_for_interrupt_injection && run->if_flag) {
        struct kvm_interrupt irq = {.irq = mach_intr_ack(m)};
        if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0) {
            mach_request_exit(m, MACH_EXIT_ENGINE_ERROR, 0, "KVM_INTERRUPT vector 0x%02x: %s",
                              irq.irq, strerror(errno));
            return;
        }
        vm->stats->injected++;
        if (!mach_intr_pending(m))
            return;
    }
    run->request_interrupt_window = 1;
    vm->stats->window_requests++;
}

static void trace_exit(struct kvm_vm *vm, int rc, int err)
{
    struct kvm_run *run = vm->run;
    char where[96];
    kvm_report_location(vm, where, sizeof(where));
    if (rc < 0) {
        mach_trace(vm->m, "kvm: KVM_RUN returned %s at %s", strerror(err), where);
        return;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        mach_trace(vm->m, "kvm: exit io %s port 0x%x size %u count %u at %s",
                   run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", run->io.port,
                   run->io.size, run->io.count, where);
        break;
    case KVM_EXIT_MMIO:
        mach_trace(vm->m, "kvm: exit mmio %s 0x%llx len %u at %s",
                   run->mmio.is_write ? "write" : "read",
                   (unsigned long long)run->mmio.phys_addr, run->mmio.len, where);
        break;
    case KVM_EXIT_HLT:
        mach_trace(vm->m, "kvm: exit hlt IF=%u at %s", run->if_flag, where);
        break;
    default:
        mach_trace(vm->m, "kvm: exit reason %u at %s", run->exit_reason, where);
        break;
    }
}

/* One exit, one case (api.rst, "struct kvm_run"). */
static enum kvm_exit_class handle_exit(struct kvm_vm *vm)
{
    struct kvm_run *run = vm->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        handle_io(vm);
        return KVM_CLASS_IO;
    case KVM_EXIT_MMIO:
        handle_mmio(vm);
        return KVM_CLASS_MMIO;
    case KVM_EXIT_HLT:
        handle_hlt(vm);
        return KVM_CLASS_HLT;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        /* update_interrupts() injects before the next KVM_RUN. */
        return KVM_CLASS_IRQ_WINDOW;
    case KVM_EXIT_INTR:
        return KVM_CLASS_SIGNAL;
    case KVM_EXIT_SHUTDOWN:
        kvm_report_shutdown(vm);
        return KVM_CLASS_SHUTDOWN;
    case KVM_EXIT_INTERNAL_ERROR:
        kvm_report_internal_error(vm);
        return KVM_CLASS_INTERNAL;
    case KVM_EXIT_FAIL_ENTRY:
        kvm_report_fail_entry(vm);
        return KVM_CLASS_FAIL_ENTRY;
    default:
        mach_request_exit(vm->m, MACH_EXIT_ENGINE_ERROR, 0, "unexpected KVM exit reason %u",
                          run->exit_reason);
        return KVM_CLASS_OTHER;
    }
}

void kvm_loop_run(struct kvm_vm *vm)
{
    struct machine *m = vm->m;
    struct kvm_stats *st = vm->stats;
    struct kvm_exit_stat *last = NULL;
    uint64_t exited_at = 0;
    for (;;) {
        mach_poll(m);
        if (!mach_exit_requested(m))
            update_interrupts(vm);
        if (mach_exit_requested(m))
            break;
        kvm_kick_arm(vm);
        uint64_t entered_at = mach_now_ns();
        if (last)
            last->handle_ns += entered_at - exited_at;
        int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        int err = errno;
        exited_at = mach_now_ns();
        vm->run->immediate_exit = 0;
        st->runs++;
        if (mach_tracing(m, MACH_TRACE_EXIT))
            trace_exit(vm, rc, err);
        enum kvm_exit_class class;
        if (rc == 0) {
            class = handle_exit(vm);
        } else if (err == EINTR || err == EAGAIN) {
            class = KVM_CLASS_SIGNAL;
        } else {
            mach_request_exit(m, MACH_EXIT_ENGINE_ERROR, 0, "KVM_RUN: %s", strerror(err));
            class = KVM_CLASS_OTHER;
        }
        last = &st->exit[class];
        last->count++;
        last->in_kvm_ns += exited_at - entered_at;
    }
    if (last)
        last->handle_ns += mach_now_ns() - exited_at;
}
