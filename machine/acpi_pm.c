/* The PM1a control register of the PIIX4 power management block at 0x604,
 * where QEMU's i440fx puts it (PMBA 0x600): writing SLP_EN with the S5
 * sleep type powers the machine off, as `outw(0x604, 0x2000)` does under
 * QEMU. Without ACPI tables nothing else of the block is ever found by a
 * guest, so only this register exists. References: ACPI 6.4 section 4.8.3.2
 * (PM1 control: SCI_EN, SLP_TYP, SLP_EN), Intel 82371AB datasheet (PMCNTRL
 * SUS_TYP codes), QEMU hw/acpi/core.c (acpi_pm1_cnt_write). */
#include "machine/machine_internal.h"

#include <stdlib.h>

#define ACPI_PM1A_CNT 0x604
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7u << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN (1u << 13)
/* SLP_TYP values of the i440fx DSDT (\_S5 and \_S4 are PIIX4 "soft off",
 * \_S3 is suspend to RAM). */
#define SLP_TYP_S5 0
#define SLP_TYP_S3 1
#define SLP_TYP_S4 2

_Static_assert(PM1_SLP_EN == 0x2000, "ACPI PM1_CNT.SLP_EN is bit 13");

struct acpi_pm {
    struct machine *m;
    uint16_t cnt;
};

static void sleep_request(struct acpi_pm *pm, uint16_t val)
{
    unsigned typ = (val & PM1_SLP_TYP_MASK) >> PM1_SLP_TYP_SHIFT;
    if (typ == SLP_TYP_S5 || typ == SLP_TYP_S4)
        mach_request_exit(pm->m, MACH_EXIT_POWEROFF, 0,
                          "powered off by the guest: PM1a_CNT <- 0x%04x", val);
    else if (typ == SLP_TYP_S3)
        mach_request_exit(pm->m, MACH_EXIT_UNSUPPORTED, 0,
                          "the guest asked for suspend to RAM (PM1a_CNT <- 0x%04x), "
                          "which this board cannot resume from", val);
}

static void pm_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct acpi_pm *pm = dev;
    uint8_t *b = data;
    if (!is_write) {
        for (unsigned i = 0; i < size; i++)
            b[i] = offset + i < 2 ? (uint8_t)(pm->cnt >> (8 * (offset + i))) : 0xFF;
        return;
    }
    uint16_t val = pm->cnt;
    for (unsigned i = 0; i < size && offset + i < 2; i++) {
        unsigned shift = 8 * (unsigned)(offset + i);
        val = (uint16_t)((val & ~(0xFFu << shift)) | ((unsigned)b[i] << shift));
    }
    /* SLP_EN is write-only: it starts the transition and reads as 0. */
    pm->cnt = val & (uint16_t)~PM1_SLP_EN;
    if (val & PM1_SLP_EN)
        sleep_request(pm, val);
}

struct acpi_pm *acpi_pm_create(struct machine *m, struct mach_err *err)
{
    struct acpi_pm *pm = calloc(1, sizeof(*pm));
    if (!pm) {
        mach_errf(err, "ACPI PM: out of memory");
        return NULL;
    }
    pm->m = m;
    if (mach_bus_register(m, MACH_BUS_PIO, ACPI_PM1A_CNT, 2, pm_io, pm, "ACPI PM1a_CNT",
                          err) < 0) {
        free(pm);
        return NULL;
    }
    return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm) { free(pm); }
