/* System Control Port A at 0x92 (the PS/2 "fast A20" port): bit 1 drives
 * the A20 gate next to the 8042's, a 0->1 transition of bit 0 resets the
 * CPU. Reference: Intel 82371AB (PIIX4) datasheet, port 92h. */
#include "machine/machine_internal.h"

#include <stdlib.h>

#define P92_RESET 0x01 /* ALT_RST: a 0->1 transition resets the CPU */
#define P92_A20 0x02   /* ALT_A20 */

struct port92 {
    struct machine *m;
    uint8_t value;
};

static void port92_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct port92 *p = dev;
    uint8_t *b = data;
    (void)offset;
    if (!is_write) {
        b[0] = p->value;
        for (unsigned i = 1; i < size; i++)
            b[i] = 0xFF;
        return;
    }
    uint8_t old = p->value;
    p->value = b[0];
    mach_set_a20_input(p->m, MACH_A20_PORT92, b[0] & P92_A20);
    if ((b[0] & P92_RESET) && !(old & P92_RESET))
        mach_request_exit(p->m, MACH_EXIT_RESET, 0,
                          "reset by the guest: port 0x92 <- 0x%02x", b[0]);
}

struct port92 *port92_create(struct machine *m, struct mach_err *err)
{
    struct port92 *p = calloc(1, sizeof(*p));
    if (!p) {
        mach_errf(err, "port 0x92: out of memory");
        return NULL;
    }
    p->m = m;
    if (mach_bus_register(m, MACH_BUS_PIO, 0x92, 1, port92_io, p, "system control A",
                          err) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

void port92_destroy(struct port92 *p) { free(p); }
