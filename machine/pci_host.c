/* The host bridge's PCI configuration mechanism #1 with no device behind
 * it, and the PIIX reset control register that shares its ports.
 *
 * 0xCF8-0xCFB: only a dword access at 0xCF8 is CONFIG_ADDRESS; any other
 * access there is ordinary I/O passed on to the buses (PCI 3.0, 3.2.2.3.2).
 * The PIIX claims the byte at 0xCF9 as its reset control register; the
 * other bytes are unclaimed. So one region covers 0xCF8-0xCFB and sorts
 * accesses by size and offset, exactly as the chipset decodes them.
 * 0xCFC-0xCFF: CONFIG_DATA. With the enable bit set, an access is a
 * configuration cycle to a device that is not there: it master-aborts,
 * reads give all ones and writes are dropped (PCI 3.0, 6.1). With it clear,
 * the access is unclaimed I/O, with the same result.
 * References: PCI Local Bus Specification 3.0; Intel 82371SB (PIIX3)
 * datasheet, reset control register (CF9h). */
#include "machine/machine_internal.h"

#include <stdlib.h>
#include <string.h>

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define RESET_CONTROL 0xCF9
/* CONFIG_ADDRESS: enable (31), bus, device, function, register (23-2);
 * bits 30-24 and 1-0 are reserved and read as 0. */
#define CONFADD_WRITABLE 0x80FFFFFCu
#define RC_SRST 0x02 /* system reset type: 1 hard, 0 soft */
#define RC_RCPU 0x04 /* writing 1 resets */

_Static_assert(RESET_CONTROL - PCI_CONFIG_ADDRESS == 1, "CF9h is byte 1 of CONFIG_ADDRESS");

struct pci_host {
    struct machine *m;
    uint32_t config_address;
    uint8_t reset_control;
};

static void reset_control(struct pci_host *pci, uint8_t *val, bool is_write)
{
    if (!is_write) {
        *val = pci->reset_control;
        return;
    }
    pci->reset_control = *val & RC_SRST;
    if (*val & RC_RCPU)
        mach_request_exit(pci->m, MACH_EXIT_RESET, 0,
                          "%s reset by the guest: port 0xcf9 <- 0x%02x",
                          (*val & RC_SRST) ? "hard" : "soft", *val);
}

static void address_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct pci_host *pci = dev;
    if (offset == 0 && size == 4) {
        if (is_write) {
            uint32_t v;
            memcpy(&v, data, 4);
            pci->config_address = v & CONFADD_WRITABLE;
        } else {
            memcpy(data, &pci->config_address, 4);
        }
        return;
    }
    uint8_t *b = data;
    bool unclaimed = false;
    for (unsigned i = 0; i < size; i++) {
        if (PCI_CONFIG_ADDRESS + offset + i == RESET_CONTROL) {
            reset_control(pci, &b[i], is_write);
        } else {
            unclaimed = true;
            if (!is_write)
                b[i] = 0xFF;
        }
    }
    if (unclaimed && is_write)
        pci->m->pio.unassigned_writes++;
    else if (unclaimed)
        pci->m->pio.unassigned_reads++;
}

static void data_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct pci_host *pci = dev;
    (void)offset;
    if (!is_write)
        memset(data, 0xFF, size);
    if (pci->config_address & 0x80000000u)
        return;
    if (is_write)
        pci->m->pio.unassigned_writes++;
    else
        pci->m->pio.unassigned_reads++;
}

struct pci_host *pci_host_create(struct machine *m, struct mach_err *err)
{
    struct pci_host *pci = calloc(1, sizeof(*pci));
    if (!pci) {
        mach_errf(err, "PCI host: out of memory");
        return NULL;
    }
    pci->m = m;
    if (mach_bus_register(m, MACH_BUS_PIO, PCI_CONFIG_ADDRESS, 4, address_io, pci,
                          "PCI CONFIG_ADDRESS/reset control", err) < 0 ||
        mach_bus_register(m, MACH_BUS_PIO, PCI_CONFIG_DATA, 4, data_io, pci,
                          "PCI CONFIG_DATA", err) < 0) {
        free(pci);
        return NULL;
    }
    return pci;
}

void pci_host_destroy(struct pci_host *pci) { free(pci); }
