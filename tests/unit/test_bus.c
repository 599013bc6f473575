/* The port and MMIO bus: registration rules, dispatch with region-relative
 * offsets, unassigned accesses. */
#include "device_fixture.h"

#include <string.h>

static struct dev_fixture fx;

static void setup(void) { dev_machine(&fx, 1); }
static void teardown(void) { dev_free(&fx); }

TestSuite(bus, .init = setup, .fini = teardown);

struct probe {
    uint64_t offset;
    unsigned size, calls;
    bool is_write;
    uint32_t last;
};

static void probe_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct probe *p = dev;
    p->offset = offset;
    p->size = size;
    p->is_write = is_write;
    p->calls++;
    if (is_write) {
        p->last = 0;
        memcpy(&p->last, data, size);
    } else {
        uint32_t v = 0xA5A5A5A5u;
        memcpy(data, &v, size);
    }
}

Test(bus, overlapping_registration_is_rejected)
{
    struct probe p = {0};
    struct mach_err err = {{0}};
    /* 0x3FC-0x403 overlaps the UART at 0x3F8-0x3FF. */
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x3FC, 8, probe_io, &p, "probe", &err), -1);
    cr_assert(strstr(err.msg, "overlaps 16550 UART"), "message: %s", err.msg);
    /* Overlapping the start of a region from below. */
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x3F0, 9, probe_io, &p, "probe", &err), -1);
    /* Touching but not overlapping is fine. */
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x3F0, 8, probe_io, &p, "probe", &err), 0);
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x3F4, 1, probe_io, &p, "probe2", &err), -1);
}

Test(bus, empty_and_wrapping_regions_are_rejected)
{
    struct probe p = {0};
    struct mach_err err = {{0}};
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x300, 0, probe_io, &p, "probe", &err), -1);
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_MMIO, UINT64_MAX - 1, 4, probe_io, &p, "probe",
                                   &err), -1);
}

Test(bus, the_region_table_has_a_limit)
{
    struct probe p = {0};
    struct mach_err err = {{0}};
    int r = 0;
    unsigned n = 0;
    for (n = 0; n < MACH_BUS_MAX_REGIONS + 1 && r == 0; n++)
        r = mach_bus_register(fx.m, MACH_BUS_MMIO, 0xE0000000ull + n * 0x1000, 0x1000, probe_io,
                              &p, "probe", &err);
    cr_assert_eq(r, -1);
    cr_assert_eq(n, MACH_BUS_MAX_REGIONS + 1);
    cr_assert(strstr(err.msg, "too many"), "message: %s", err.msg);
}

Test(bus, handlers_get_region_relative_offsets_and_sizes)
{
    struct probe p = {0};
    struct mach_err err = {{0}};
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_PIO, 0x300, 8, probe_io, &p, "probe", &err), 0);
    outw(fx.m, 0x306, 0xBEEF);
    cr_assert_eq(p.offset, 6);
    cr_assert_eq(p.size, 2);
    cr_assert(p.is_write);
    cr_assert_eq(p.last, 0xBEEF);
    cr_assert_eq(inl(fx.m, 0x300), 0xA5A5A5A5u);
    cr_assert_eq(p.offset, 0);
    cr_assert_eq(p.size, 4);
    cr_assert_not(p.is_write);
    cr_assert_eq(p.calls, 2);
    /* Just past the region is unassigned again. */
    cr_assert_eq(inb(fx.m, 0x308), 0xFF);
    cr_assert_eq(p.calls, 2);
}

Test(bus, unassigned_ports_read_all_ones_and_drop_writes)
{
    uint64_t r0 = fx.m->pio.unassigned_reads, w0 = fx.m->pio.unassigned_writes;
    cr_assert_eq(inb(fx.m, 0x300), 0xFF);
    cr_assert_eq(inw(fx.m, 0x300), 0xFFFF);
    cr_assert_eq(inl(fx.m, 0x300), 0xFFFFFFFFu);
    outb(fx.m, 0x300, 0x12);
    outl(fx.m, 0x300, 0x12345678);
    cr_assert_eq(fx.m->pio.unassigned_reads - r0, 3);
    cr_assert_eq(fx.m->pio.unassigned_writes - w0, 2);
    /* The write went nowhere: a read still gives all ones. */
    cr_assert_eq(inb(fx.m, 0x300), 0xFF);
}

Test(bus, unassigned_mmio_fails_and_is_counted)
{
    uint32_t v = 0x1234;
    cr_assert_not(mach_mmio(fx.m, 0xFEC00000, &v, 4, false));
    cr_assert_not(mach_mmio(fx.m, 0xFEC00000, &v, 4, true));
    cr_assert_eq(fx.m->mmio.unassigned_reads, 1);
    cr_assert_eq(fx.m->mmio.unassigned_writes, 1);

    struct probe p = {0};
    struct mach_err err = {{0}};
    cr_assert_eq(mach_bus_register(fx.m, MACH_BUS_MMIO, 0xFEC00000, 0x1000, probe_io, &p,
                                   "probe", &err), 0);
    uint64_t q = 0x1122334455667788ull;
    cr_assert(mach_mmio(fx.m, 0xFEC00010, &q, 4, true));
    cr_assert_eq(p.offset, 0x10);
    cr_assert_eq(p.last, 0x55667788u);
    cr_assert_eq(mach_phys_lookup(fx.m, 0xFEC00800, &(uint8_t *){NULL}, &(uint64_t){0}),
                 MACH_PHYS_MMIO);
}

Test(bus, every_board_port_is_claimed_by_its_device)
{
    static const struct {
        uint16_t port;
        const char *name;
    } ports[] = {
        {0x20, "8259A master"}, {0xA1, "8259A slave"}, {0x4D0, "ELCR"},
        {0x43, "8254 PIT"}, {0x61, "NMI status/control"}, {0x3FF, "16550 UART"},
        {0x71, "MC146818 RTC"}, {0x60, "8042 data"}, {0x64, "8042 command"},
        {0x92, "system control A"}, {0xF4, "isa-debug-exit"}, {0xF7, "isa-debug-exit"},
        {0xE9, "debugcon"}, {0x80, "POST port"}, {0x605, "ACPI PM1a_CNT"},
        {0xCF9, "PCI CONFIG_ADDRESS/reset control"}, {0xCFF, "PCI CONFIG_DATA"},
    };
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
        const struct mach_bus_region *r = mach_bus_find(&fx.m->pio, ports[i].port);
        cr_assert(r, "port 0x%x unclaimed", ports[i].port);
        cr_assert_str_eq(r->name, ports[i].name);
    }
    cr_assert_null(mach_bus_find(&fx.m->pio, 0x62));
    cr_assert_null(mach_bus_find(&fx.m->pio, 0xF8));
}
