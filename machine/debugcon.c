/* The Bochs/QEMU debug console at port 0xE9: each byte written goes to the
 * host, and a read returns 0xE9 so a guest can tell the port is there. The
 * port is 8 bits wide: of a wider write only the byte at 0xE9 is printed. */
#include "machine/machine_internal.h"

#include <stdlib.h>
#include <string.h>

#define DEBUGCON_PORT 0xE9

struct debugcon {
    FILE *out;
    uint64_t bytes;
};

static void debugcon_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct debugcon *con = dev;
    uint8_t *b = data;
    (void)offset;
    if (!is_write) {
        memset(data, 0xFF, size);
        b[0] = DEBUGCON_PORT;
        return;
    }
    con->bytes++;
    fputc(b[0], con->out);
    /* Flush at line ends so the guest's lines interleave sanely with
     * popek's own messages on stderr. */
    if (b[0] == '\n')
        fflush(con->out);
}

struct debugcon *debugcon_create(struct machine *m, FILE *out, struct mach_err *err)
{
    struct debugcon *con = calloc(1, sizeof(*con));
    if (!con) {
        mach_errf(err, "debugcon: out of memory");
        return NULL;
    }
    con->out = out;
    if (mach_bus_register(m, MACH_BUS_PIO, DEBUGCON_PORT, 1, debugcon_io, con, "debugcon",
                          err) < 0) {
        free(con);
        return NULL;
    }
    return con;
}

void debugcon_print_stats(const struct debugcon *con, FILE *out)
{
    if (con->bytes)
        fprintf(out, "debugcon: %llu bytes written to port 0xe9\n",
                (unsigned long long)con->bytes);
}

void debugcon_destroy(struct debugcon *con)
{
    fflush(con->out);
    free(con);
}
