/* The guest physical address space: RAM from 0, the BIOS ROM ending at
 * 4 GiB with its last 128 KiB aliased below 1 MiB (mach_rom_alias), MMIO
 * regions, and nothing else. */
#include "machine/machine_internal.h"

#include <string.h>

#define ONE_MIB 0x100000ull
#define ROM_ALIAS_MAX 0x20000ull /* QEMU's isa-bios: at most 128 KiB */

void mach_rom_alias(const struct machine *m, uint64_t *base, uint64_t *size)
{
    uint64_t len = m->rom ? (m->rom_size < ROM_ALIAS_MAX ? m->rom_size : ROM_ALIAS_MAX) : 0;
    *base = ONE_MIB - len;
    *size = len;
}

enum mach_phys_kind mach_phys_lookup(const struct machine *m, uint64_t paddr,
                                     uint8_t **host, uint64_t *run)
{
    uint64_t alias_base, alias_size;
    mach_rom_alias(m, &alias_base, &alias_size);
    if (m->rom) {
        if (paddr >= alias_base && paddr < ONE_MIB) {
            *host = m->rom + m->rom_size - (ONE_MIB - paddr);
            *run = ONE_MIB - paddr;
            return MACH_PHYS_ROM;
        }
        if (paddr >= m->rom_base && paddr < m->rom_base + m->rom_size) {
            *host = m->rom + (paddr - m->rom_base);
            *run = m->rom_base + m->rom_size - paddr;
            return MACH_PHYS_ROM;
        }
    }
    if (paddr < m->ram_size) {
        *host = m->ram + paddr;
        /* With a ROM the alias splits low RAM in two runs. */
        uint64_t end = m->ram_size;
        if (m->rom && paddr < alias_base)
            end = alias_base;
        *run = end - paddr;
        return MACH_PHYS_RAM;
    }
    *host = NULL;
    *run = 0;
    if (mach_bus_find(&m->mmio, paddr))
        return MACH_PHYS_MMIO;
    return MACH_PHYS_UNASSIGNED;
}

/* Splits [paddr, paddr+len) into RAM/ROM runs and MMIO accesses; checks
 * every byte is assigned before touching anything. */
static bool phys_access(struct machine *m, uint64_t paddr, uint8_t *buf, size_t len,
                        bool is_write, bool dry_run)
{
    while (len > 0) {
        uint8_t *host;
        uint64_t run;
        enum mach_phys_kind kind = mach_phys_lookup(m, paddr, &host, &run);
        size_t chunk;
        switch (kind) {
        case MACH_PHYS_RAM:
        case MACH_PHYS_ROM:
            chunk = run < len ? (size_t)run : len;
            if (!dry_run && kind == MACH_PHYS_RAM) {
                if (is_write) {
                    memcpy(host, buf, chunk);
                    if (m->hooks.code_written)
                        m->hooks.code_written(m->hooks.opaque, paddr, chunk);
                } else {
                    memcpy(buf, host, chunk);
                }
            } else if (!dry_run && !is_write) {
                memcpy(buf, host, chunk);
            }
            break;
        case MACH_PHYS_MMIO:
            chunk = 1;
            if (!dry_run)
                mach_mmio(m, paddr, buf, 1, is_write);
            break;
        default:
            return false;
        }
        paddr += chunk;
        buf += chunk;
        len -= chunk;
    }
    return true;
}

bool mach_phys_read(struct machine *m, uint64_t paddr, void *buf, size_t len)
{
    return phys_access(m, paddr, buf, len, false, true) &&
           phys_access(m, paddr, buf, len, false, false);
}

bool mach_phys_write(struct machine *m, uint64_t paddr, const void *buf, size_t len)
{
    return phys_access(m, paddr, (uint8_t *)buf, len, true, true) &&
           phys_access(m, paddr, (uint8_t *)buf, len, true, false);
}
