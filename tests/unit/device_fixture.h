/* Shared by the device tests: a machine with a small RAM whose serial and
 * debug console output land in memory streams, port I/O through the real
 * bus as the guest's IN/OUT, and a clock the test moves by hand. */
#ifndef POPEK_TESTS_DEVICE_FIXTURE_H
#define POPEK_TESTS_DEVICE_FIXTURE_H

#include "machine/machine_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>

struct dev_fixture {
    struct machine *m;
    FILE *serial, *debugcon;
    char *serial_buf, *debugcon_buf;
    size_t serial_len, debugcon_len;
};

static inline struct machine *dev_machine(struct dev_fixture *fx, uint64_t ram_mib)
{
    fx->serial = open_memstream(&fx->serial_buf, &fx->serial_len);
    fx->debugcon = open_memstream(&fx->debugcon_buf, &fx->debugcon_len);
    cr_assert(fx->serial && fx->debugcon);
    struct mach_config cfg = {
        .ram_bytes = ram_mib << 20,
        .serial_out = fx->serial,
        .debugcon_out = fx->debugcon,
    };
    struct mach_err err = {{0}};
    fx->m = mach_create(&cfg, &err);
    cr_assert(fx->m, "mach_create: %s", err.msg);
    return fx->m;
}

static inline void dev_free(struct dev_fixture *fx)
{
    mach_destroy(fx->m);
    fclose(fx->serial);
    fclose(fx->debugcon);
    free(fx->serial_buf);
    free(fx->debugcon_buf);
    *fx = (struct dev_fixture){0};
}

static inline void outb(struct machine *m, uint16_t port, uint8_t v) { mach_pio(m, port, &v, 1, true); }
static inline void outw(struct machine *m, uint16_t port, uint16_t v) { mach_pio(m, port, &v, 2, true); }
static inline void outl(struct machine *m, uint16_t port, uint32_t v) { mach_pio(m, port, &v, 4, true); }

static inline uint8_t inb(struct machine *m, uint16_t port)
{
    uint8_t v = 0;
    mach_pio(m, port, &v, 1, false);
    return v;
}

static inline uint16_t inw(struct machine *m, uint16_t port)
{
    uint16_t v = 0;
    mach_pio(m, port, &v, 2, false);
    return v;
}

static inline uint32_t inl(struct machine *m, uint16_t port)
{
    uint32_t v = 0;
    mach_pio(m, port, &v, 4, false);
    return v;
}

/* A clock that only moves when the test says so. */
struct fake_clock {
    uint64_t now;
};

static inline uint64_t fake_clock_read(void *opaque) { return ((struct fake_clock *)opaque)->now; }

static inline struct mach_clock fake_clock_of(struct fake_clock *c)
{
    return (struct mach_clock){fake_clock_read, c};
}

/* The 8259A pair as Linux's init_8259A programs it: vectors 0x30 and 0x38,
 * slave on IR2, 8086 mode; then the given masks. */
static inline void pic_init_linux(struct machine *m, uint8_t master_mask, uint8_t slave_mask)
{
    outb(m, 0x21, 0xFF);
    outb(m, 0x20, 0x11);
    outb(m, 0x21, 0x30);
    outb(m, 0x21, 1u << 2);
    outb(m, 0x21, 0x01);
    outb(m, 0xA0, 0x11);
    outb(m, 0xA1, 0x38);
    outb(m, 0xA1, 2);
    outb(m, 0xA1, 0x01);
    outb(m, 0x21, master_mask);
    outb(m, 0xA1, slave_mask);
}

/* OCW3 reads of the IRR and ISR. */
static inline uint8_t pic_irr(struct machine *m, uint16_t cmd)
{
    outb(m, cmd, 0x0A);
    return inb(m, cmd);
}

static inline uint8_t pic_isr(struct machine *m, uint16_t cmd)
{
    outb(m, cmd, 0x0B);
    uint8_t v = inb(m, cmd);
    outb(m, cmd, 0x0A);
    return v;
}

#endif
