/* One bus type for port I/O and MMIO, one handler type for every device
 * (as kvmtool's mmio.c): regions are few, so a linear scan is enough. */
#include "machine/machine_internal.h"

#include <string.h>

static struct mach_bus *bus_of(struct machine *m, enum mach_bus_id id)
{
    return id == MACH_BUS_PIO ? &m->pio : &m->mmio;
}

const struct mach_bus_region *mach_bus_find(const struct mach_bus *bus, uint64_t addr)
{
    for (unsigned i = 0; i < bus->count; i++) {
        const struct mach_bus_region *r = &bus->regions[i];
        if (addr >= r->base && addr - r->base < r->len)
            return r;
    }
    return NULL;
}

int mach_bus_register(struct machine *m, enum mach_bus_id id, uint64_t base,
                      uint64_t len, mach_io_fn fn, void *dev, const char *name,
                      struct mach_err *err)
{
    struct mach_bus *bus = bus_of(m, id);
    if (len == 0 || base + len < base)
        return mach_errf(err, "%s: empty or wrapping region", name);
    for (unsigned i = 0; i < bus->count; i++) {
        const struct mach_bus_region *r = &bus->regions[i];
        if (base < r->base + r->len && r->base < base + len)
            return mach_errf(err, "%s at 0x%llx overlaps %s", name,
                             (unsigned long long)base, r->name);
    }
    if (bus->count == MACH_BUS_MAX_REGIONS)
        return mach_errf(err, "%s: too many regions on the bus", name);
    bus->regions[bus->count++] = (struct mach_bus_region){base, len, fn, dev, name};
    return 0;
}

static void trace_access(const struct machine *m, const char *bus, uint64_t addr,
                         const void *data, unsigned size, bool is_write, const char *name)
{
    uint64_t v = 0;
    memcpy(&v, data, size);
    mach_trace(m, "%s %s 0x%llx/%u %s 0x%llx (%s)", bus, is_write ? "write" : "read",
               (unsigned long long)addr, size, is_write ? "<-" : "->",
               (unsigned long long)v, name ? name : "unassigned");
}

void mach_pio(struct machine *m, uint16_t port, void *data, unsigned size, bool is_write)
{
    const struct mach_bus_region *r = mach_bus_find(&m->pio, port);
    if (r) {
        r->fn(r->dev, port - r->base, data, size, is_write);
    } else if (is_write) {
        m->pio.unassigned_writes++;
    } else {
        memset(data, 0xFF, size);
        m->pio.unassigned_reads++;
    }
    if (mach_tracing(m, MACH_TRACE_PIO))
        trace_access(m, "pio", port, data, size, is_write, r ? r->name : NULL);
}

bool mach_mmio(struct machine *m, uint64_t paddr, void *data, unsigned size, bool is_write)
{
    const struct mach_bus_region *r = mach_bus_find(&m->mmio, paddr);
    if (!r) {
        if (is_write)
            m->mmio.unassigned_writes++;
        else
            m->mmio.unassigned_reads++;
        return false;
    }
    r->fn(r->dev, paddr - r->base, data, size, is_write);
    if (mach_tracing(m, MACH_TRACE_MMIO))
        trace_access(m, "mmio", paddr, data, size, is_write, r->name);
    return true;
}
