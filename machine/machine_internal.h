/* machine/ internal: the board's state and the devices' constructors.
 * Only machine/ and its unit tests include this. */
#ifndef POPEK_MACHINE_INTERNAL_H
#define POPEK_MACHINE_INTERNAL_H

#include "machine/machine.h"

#define MACH_BUS_MAX_REGIONS 48

struct mach_bus_region {
    uint64_t base, len;
    mach_io_fn fn;
    void *dev;
    const char *name;
};

struct mach_bus {
    struct mach_bus_region regions[MACH_BUS_MAX_REGIONS];
    unsigned count;
    uint64_t unassigned_reads, unassigned_writes;
};

struct i8259;
struct i8254;
struct uart16550;
struct cmos_rtc;
struct mach_sysctl;
struct pci_host;

struct machine {
    struct mach_config cfg;

    int ram_fd;
    uint8_t *ram;
    uint64_t ram_size;

    uint8_t *rom; /* malloc'd copy of the BIOS image, NULL if none */
    uint64_t rom_size, rom_base;

    struct mach_bus pio, mmio;
    struct mach_hooks hooks;
    struct mach_boot boot;
    void *engine_state;

    uint64_t deadline_ns; /* mach_now_ns() value of --timeout, 0: none */
    enum mach_exit_kind exit_kind;
    uint32_t exit_value;
    char exit_msg[512];

    struct i8259 *pic;
    struct i8254 *pit;
    struct uart16550 *uart;
    struct cmos_rtc *rtc;
    struct mach_sysctl *sysctl; /* debug-exit, debugcon, POST, A20, reset, ACPI off */
    struct pci_host *pci;
};

/* Finds the region covering addr on a bus, or NULL. */
const struct mach_bus_region *mach_bus_find(const struct mach_bus *bus, uint64_t addr);

/* Device constructors: each registers its ports/regions on m and returns
 * its state (freed by the matching destroy), or NULL with err. */
struct i8259 *i8259_create(struct machine *m, struct mach_err *err);
void i8259_destroy(struct i8259 *pic);
void i8259_set_irq(struct i8259 *pic, unsigned irq, bool level);
bool i8259_intr_pending(struct i8259 *pic);
uint8_t i8259_intr_ack(struct i8259 *pic);

struct i8254 *i8254_create(struct machine *m, struct mach_err *err);
void i8254_destroy(struct i8254 *pit);
/* Raises IRQ0 for every period that elapsed up to now_ns. */
void i8254_poll(struct i8254 *pit, uint64_t now_ns);
uint64_t i8254_next_event_ns(struct i8254 *pit, uint64_t now_ns);

struct uart16550 *uart16550_create(struct machine *m, uint16_t base, unsigned irq,
                                   FILE *out, int in_fd, struct mach_err *err);
void uart16550_destroy(struct uart16550 *uart);
/* Reads pending input from in_fd (non-blocking) and updates the IRQ. */
void uart16550_poll(struct uart16550 *uart);
/* The input fd, when the UART reads one (for poll() while halted), else -1. */
int uart16550_input_fd(const struct uart16550 *uart);

struct cmos_rtc *cmos_rtc_create(struct machine *m, struct mach_err *err);
void cmos_rtc_destroy(struct cmos_rtc *rtc);
/* Updates the clock registers and IRQ8 (periodic/update/alarm) to now. */
void cmos_rtc_poll(struct cmos_rtc *rtc, uint64_t now_ns);

struct mach_sysctl *mach_sysctl_create(struct machine *m, struct mach_err *err);
void mach_sysctl_destroy(struct mach_sysctl *s);
void mach_sysctl_print_stats(const struct mach_sysctl *s, FILE *out);

struct pci_host *pci_host_create(struct machine *m, struct mach_err *err);
void pci_host_destroy(struct pci_host *pci);

#endif
