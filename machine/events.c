/* Interrupt lines and host time: the devices that follow the host clock
 * (PIT, RTC, UART input) advance here, when an engine polls. */
#define _GNU_SOURCE
#include "machine/machine_internal.h"

#include <poll.h>
#include <time.h>

uint64_t mach_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mach_irq_set(struct machine *m, unsigned irq, bool level)
{
    if (mach_tracing(m, MACH_TRACE_IRQ))
        mach_trace(m, "irq %u %s", irq, level ? "raised" : "lowered");
    i8259_set_irq(m->pic, irq, level);
    if (m->hooks.irq_changed)
        m->hooks.irq_changed(m->hooks.opaque);
}

void mach_irq_pulse(struct machine *m, unsigned irq)
{
    mach_irq_set(m, irq, true);
    mach_irq_set(m, irq, false);
}

bool mach_intr_pending(struct machine *m) { return i8259_intr_pending(m->pic); }

uint8_t mach_intr_ack(struct machine *m)
{
    uint8_t vector = i8259_intr_ack(m->pic);
    if (mach_tracing(m, MACH_TRACE_IRQ))
        mach_trace(m, "intr ack vector 0x%02x", vector);
    return vector;
}

void mach_poll(struct machine *m)
{
    uint64_t now = mach_now_ns();
    if (m->deadline_ns && now >= m->deadline_ns)
        mach_request_exit(m, MACH_EXIT_TIMEOUT, 0, "timeout: the guest ran for %.3f s",
                          (double)m->cfg.timeout_ns / 1e9);
    i8254_poll(m->pit, now);
    cmos_rtc_poll(m->rtc, now);
    uart16550_poll(m->uart);
}

uint64_t mach_next_event_ns(struct machine *m)
{
    uint64_t now = mach_now_ns();
    uint64_t next = i8254_next_event_ns(m->pit, now);
    uint64_t rtc = cmos_rtc_next_event_ns(m->rtc, now);
    uint64_t uart = uart16550_next_event_ns(m->uart, now);
    if (rtc < next)
        next = rtc;
    if (uart < next)
        next = uart;
    if (m->deadline_ns) {
        uint64_t left = m->deadline_ns > now ? m->deadline_ns - now : 0;
        if (left < next)
            next = left;
    }
    return next;
}

void mach_wait_event(struct machine *m, uint64_t max_ns)
{
    mach_poll(m);
    if (mach_intr_pending(m) || mach_exit_requested(m))
        return;
    uint64_t wait = mach_next_event_ns(m);
    if (wait > max_ns)
        wait = max_ns;
    struct pollfd pfd = {.fd = uart16550_input_fd(m->uart), .events = POLLIN};
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
                          .tv_nsec = (long)(wait % 1000000000ull)};
    ppoll(&pfd, pfd.fd >= 0 ? 1 : 0, &ts, NULL);
    mach_poll(m);
}
