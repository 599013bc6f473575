/* The 8042 keyboard controller at 0x60 (data) and 0x64 (status/command),
 * as much of it as guests use without a keyboard: the A20 gate and the
 * reset line on its output port, the self-tests, the command byte. No
 * keyboard is attached: bytes sent to it get no answer, and it never sends
 * keys. References: IBM PC AT Technical Reference (keyboard controller
 * commands, status register, output port), QEMU hw/input/pckbd.c (the HP
 * Vectra A20 commands 0xDD/0xDF and the power-on output port). */
#include "machine/machine_internal.h"

#include <stdlib.h>

/* Status register (port 0x64 read). */
#define STAT_OBF 0x01     /* output buffer full */
#define STAT_IBF 0x02     /* input buffer full: never, commands run at once */
#define STAT_SYS 0x04     /* system flag, set by a passed self-test */
#define STAT_CMD 0x08     /* the last write went to 0x64 */
#define STAT_UNLOCKED 0x10 /* keyboard inhibit switch off */

/* Command byte. */
#define CB_KBD_INT 0x01
#define CB_SYS 0x04
#define CB_KBD_DISABLED 0x10

/* Output port. */
#define OUT_RESET 0x01 /* active low: 0 resets the CPU */
#define OUT_A20 0x02
#define OUT_KBD_OBF 0x10
#define OUT_ONES 0xCC  /* keyboard clock and data lines, idle high */

enum {
    CMD_READ_CB = 0x20,
    CMD_WRITE_CB = 0x60,
    CMD_SELF_TEST = 0xAA,
    CMD_KBD_TEST = 0xAB,
    CMD_KBD_DISABLE = 0xAD,
    CMD_KBD_ENABLE = 0xAE,
    CMD_READ_OUTPORT = 0xD0,
    CMD_WRITE_OUTPORT = 0xD1,
    CMD_WRITE_KBD_OBUF = 0xD2,
    CMD_A20_DISABLE = 0xDD,
    CMD_A20_ENABLE = 0xDF,
    CMD_PULSE_FIRST = 0xF0,
};

#define SELF_TEST_OK 0x55
#define KBD_TEST_OK 0x00

struct i8042 {
    struct machine *m;
    uint8_t status, command_byte, outport;
    uint8_t obuf;
    uint8_t pending;   /* command waiting for its data byte on 0x60, or 0 */
    bool irq_level;
};

/* IRQ1 follows a full output buffer while the command byte enables it. */
static void update_irq(struct i8042 *k)
{
    bool level = (k->status & STAT_OBF) && (k->command_byte & CB_KBD_INT);
    if (level != k->irq_level) {
        k->irq_level = level;
        mach_irq_set(k->m, 1, level);
    }
}

static void queue(struct i8042 *k, uint8_t byte)
{
    k->obuf = byte;
    k->status |= STAT_OBF;
}

static void write_outport(struct i8042 *k, uint8_t val)
{
    k->outport = val;
    mach_set_a20_input(k->m, MACH_A20_I8042, val & OUT_A20);
    if (!(val & OUT_RESET))
        mach_request_exit(k->m, MACH_EXIT_RESET, 0,
                          "reset by the guest: i8042 output port <- 0x%02x", val);
}

static void command(struct i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case CMD_READ_CB:
        queue(k, k->command_byte);
        break;
    case CMD_WRITE_CB:
    case CMD_WRITE_OUTPORT:
    case CMD_WRITE_KBD_OBUF:
        k->pending = cmd;
        break;
    case CMD_SELF_TEST:
        k->status |= STAT_SYS;
        queue(k, SELF_TEST_OK);
        break;
    case CMD_KBD_TEST:
        queue(k, KBD_TEST_OK);
        break;
    case CMD_KBD_DISABLE:
        k->command_byte |= CB_KBD_DISABLED;
        break;
    case CMD_KBD_ENABLE:
        k->command_byte &= (uint8_t)~CB_KBD_DISABLED;
        break;
    case CMD_READ_OUTPORT:
        queue(k, (uint8_t)((k->outport & ~OUT_KBD_OBF) |
                           ((k->status & STAT_OBF) ? OUT_KBD_OBF : 0)));
        break;
    case CMD_A20_DISABLE:
        write_outport(k, k->outport & (uint8_t)~OUT_A20);
        break;
    case CMD_A20_ENABLE:
        write_outport(k, k->outport | OUT_A20);
        break;
    default:
        /* 0xF0-0xFF pulse the output port lines whose bit is 0 in the low
         * nibble; bit 0 is the reset line (0xFE is the classic reset). */
        if (cmd >= CMD_PULSE_FIRST && !(cmd & OUT_RESET))
            mach_request_exit(k->m, MACH_EXIT_RESET, 0,
                              "reset by the guest: i8042 command 0x%02x", cmd);
        break; /* other commands concern devices this board lacks */
    }
}

static void write_data(struct i8042 *k, uint8_t val)
{
    uint8_t cmd = k->pending;
    k->pending = 0;
    switch (cmd) {
    case CMD_WRITE_CB:
        k->command_byte = val;
        k->status = (uint8_t)((k->status & ~STAT_SYS) | (val & CB_SYS));
        break;
    case CMD_WRITE_OUTPORT:
        write_outport(k, val);
        break;
    case CMD_WRITE_KBD_OBUF:
        queue(k, val);
        break;
    default:
        break; /* a byte for the keyboard, which is not there */
    }
}

static void kbc_data(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct i8042 *k = dev;
    uint8_t *b = data;
    (void)offset;
    if (is_write) {
        k->status &= (uint8_t)~STAT_CMD;
        write_data(k, b[0]);
    } else {
        b[0] = k->obuf; /* with OBF clear the old byte is read again */
        k->status &= (uint8_t)~STAT_OBF;
        for (unsigned i = 1; i < size; i++)
            b[i] = 0xFF;
    }
    update_irq(k);
}

static void kbc_command(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct i8042 *k = dev;
    uint8_t *b = data;
    (void)offset;
    if (is_write) {
        k->status |= STAT_CMD;
        k->pending = 0;
        command(k, b[0]);
    } else {
        b[0] = k->status;
        for (unsigned i = 1; i < size; i++)
            b[i] = 0xFF;
    }
    update_irq(k);
}

struct i8042 *i8042_create(struct machine *m, struct mach_err *err)
{
    struct i8042 *k = calloc(1, sizeof(*k));
    if (!k) {
        mach_errf(err, "8042: out of memory");
        return NULL;
    }
    k->m = m;
    k->status = STAT_CMD | STAT_UNLOCKED;
    k->command_byte = CB_KBD_INT;
    if (mach_bus_register(m, MACH_BUS_PIO, 0x60, 1, kbc_data, k, "8042 data", err) < 0 ||
        mach_bus_register(m, MACH_BUS_PIO, 0x64, 1, kbc_command, k, "8042 command", err) < 0) {
        free(k);
        return NULL;
    }
    /* Power-on output port: reset inactive, A20 on (the PC leaves A20
     * enabled for the BIOS, as QEMU does). */
    write_outport(k, OUT_RESET | OUT_A20 | OUT_ONES);
    return k;
}

void i8042_destroy(struct i8042 *k) { free(k); }
