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
struct i8042;
struct port92;
struct debugcon;
struct post_port;
struct acpi_pm;
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

    unsigned a20_inputs; /* enum mach_a20_input bits that are high */

    struct i8259 *pic;
    struct i8254 *pit; /* and port 0x61 */
    struct uart16550 *uart;
    struct cmos_rtc *rtc;
    struct i8042 *kbc;
    struct port92 *port92;
    struct debugcon *debugcon;
    struct post_port *post;
    struct acpi_pm *acpi_pm;
    struct pci_host *pci; /* and the reset control register 0xCF9 */
};

/* Finds the region covering addr on a bus, or NULL. */
const struct mach_bus_region *mach_bus_find(const struct mach_bus *bus, uint64_t addr);

/* ---- devices ------------------------------------------------------------
 * One device per file. A constructor registers the device's ports on m and
 * returns its state (freed by the matching destroy), or NULL with err. */

/* A device's time source. Devices read the host clocks through it so that
 * unit tests can drive time by hand. */
struct mach_clock {
    uint64_t (*now_ns)(void *opaque);
    void *opaque;
};

/* ISA devices have 8-bit ports: the chipset splits a wider access into byte
 * cycles at consecutive ports. Lanes past the device's region float high on
 * reads and are lost on writes. */
typedef void (*mach_byte_io_fn)(void *dev, unsigned offset, uint8_t *val, bool is_write);

static inline void mach_io_bytewise(mach_byte_io_fn fn, void *dev, uint64_t region_len,
                                    uint64_t offset, void *data, unsigned size,
                                    bool is_write)
{
    uint8_t *bytes = data;
    for (unsigned i = 0; i < size; i++) {
        if (offset + i < region_len)
            fn(dev, (unsigned)(offset + i), &bytes[i], is_write);
        else if (!is_write)
            bytes[i] = 0xFF;
    }
}

/* The two inputs of the A20 gate. The PIIX asserts A20M# only while both
 * the keyboard controller's A20GATE and port 92h bit 1 are low (82371AB
 * datasheet, port 92h), so A20 is enabled while either is high. */
enum mach_a20_input {
    MACH_A20_I8042 = 1u << 0,
    MACH_A20_PORT92 = 1u << 1,
};
void mach_set_a20_input(struct machine *m, unsigned input, bool high);

/* 8259A pair, master at 0x20 and slave at 0xA0 on IRQ2, ELCR at 0x4D0. */
struct i8259 *i8259_create(struct machine *m, struct mach_err *err);
void i8259_destroy(struct i8259 *pic);
void i8259_set_irq(struct i8259 *pic, unsigned irq, bool level);
bool i8259_intr_pending(struct i8259 *pic);
uint8_t i8259_intr_ack(struct i8259 *pic);

/* 8254 PIT at 0x40-0x43 and the NMI status and control port 0x61. */
struct i8254 *i8254_create(struct machine *m, struct mach_err *err);
void i8254_destroy(struct i8254 *pit);
/* The clock port reads use (mach_now_ns unless replaced). */
void i8254_set_clock(struct i8254 *pit, const struct mach_clock *clock);
/* Raises IRQ0 once if channel 0's output rose since the last poll. */
void i8254_poll(struct i8254 *pit, uint64_t now_ns);
/* Nanoseconds from now_ns to channel 0's next rising edge (UINT64_MAX: none). */
uint64_t i8254_next_event_ns(struct i8254 *pit, uint64_t now_ns);

/* 16550A UART. */
struct uart16550 *uart16550_create(struct machine *m, uint16_t base, unsigned irq,
                                   FILE *out, int in_fd, struct mach_err *err);
void uart16550_destroy(struct uart16550 *uart);
/* Flushes output, reads pending input from in_fd (non-blocking) and
 * updates the IRQ. */
void uart16550_poll(struct uart16550 *uart);
/* The input fd, when the UART reads one (for poll() while halted), else -1. */
int uart16550_input_fd(const struct uart16550 *uart);
/* Nanoseconds to a pending character timeout interrupt (UINT64_MAX: none). */
uint64_t uart16550_next_event_ns(const struct uart16550 *uart, uint64_t now_ns);

/* MC146818 RTC and CMOS RAM at 0x70/0x71, IRQ8. */
struct cmos_rtc *cmos_rtc_create(struct machine *m, struct mach_err *err);
void cmos_rtc_destroy(struct cmos_rtc *rtc);
/* mono drives the periodic interrupt (mach_now_ns unless replaced), wall
 * the date and time (CLOCK_REALTIME unless replaced); NULL keeps one. */
void cmos_rtc_set_clocks(struct cmos_rtc *rtc, const struct mach_clock *mono,
                         const struct mach_clock *wall);
/* Updates the flags and IRQ8 (periodic/update/alarm) to now. */
void cmos_rtc_poll(struct cmos_rtc *rtc, uint64_t now_ns);
/* Nanoseconds to the next enabled RTC interrupt (UINT64_MAX: none). */
uint64_t cmos_rtc_next_event_ns(struct cmos_rtc *rtc, uint64_t now_ns);

/* 8042 keyboard controller at 0x60/0x64: A20 gate and reset, no keyboard. */
struct i8042 *i8042_create(struct machine *m, struct mach_err *err);
void i8042_destroy(struct i8042 *kbc);

/* System Control Port A at 0x92: fast A20 and fast reset. */
struct port92 *port92_create(struct machine *m, struct mach_err *err);
void port92_destroy(struct port92 *p);

/* QEMU's isa-debug-exit at 0xF4 (iosize 4); it has no state. */
int debug_exit_register(struct machine *m, struct mach_err *err);

/* Bochs/QEMU debug console at 0xE9. */
struct debugcon *debugcon_create(struct machine *m, FILE *out, struct mach_err *err);
void debugcon_destroy(struct debugcon *con);
void debugcon_print_stats(const struct debugcon *con, FILE *out);

/* POST code port 0x80. */
struct post_port *post_port_create(struct machine *m, struct mach_err *err);
void post_port_destroy(struct post_port *post);
/* How many codes were written; *last gets the last one (0 if none). */
uint64_t post_port_count(const struct post_port *post, uint8_t *last);
void post_port_print_stats(const struct post_port *post, FILE *out);

/* ACPI PM1a control register at 0x604: S5 soft-off. */
struct acpi_pm *acpi_pm_create(struct machine *m, struct mach_err *err);
void acpi_pm_destroy(struct acpi_pm *pm);

/* PCI configuration mechanism #1 at 0xCF8/0xCFC (no devices) and the reset
 * control register at 0xCF9 that shares its ports. */
struct pci_host *pci_host_create(struct machine *m, struct mach_err *err);
void pci_host_destroy(struct pci_host *pci);

#endif
