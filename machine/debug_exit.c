/* QEMU's isa-debug-exit device as `-device isa-debug-exit,iobase=0xf4,
 * iosize=4` configures it: a write of V, of any size, stops the VM with
 * process status (V << 1) | 1, so a test guest reports pass or fail through
 * the exit status. Reads float high, as on an unclaimed port. */
#include "machine/machine_internal.h"

#include <string.h>

#define DEBUG_EXIT_PORT 0xF4
#define DEBUG_EXIT_IOSIZE 4

static void debug_exit_io(void *dev, uint64_t offset, void *data, unsigned size,
                          bool is_write)
{
    struct machine *m = dev;
    if (!is_write) {
        memset(data, 0xFF, size);
        return;
    }
    uint32_t v = 0;
    memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
    mach_request_exit(m, MACH_EXIT_DEBUG, v,
                      "debug-exit: port 0x%x <- 0x%x (status %u)",
                      DEBUG_EXIT_PORT + (unsigned)offset, v, ((v << 1) | 1) & 0xFF);
}

int debug_exit_register(struct machine *m, struct mach_err *err)
{
    return mach_bus_register(m, MACH_BUS_PIO, DEBUG_EXIT_PORT, DEBUG_EXIT_IOSIZE,
                             debug_exit_io, m, "isa-debug-exit", err);
}
