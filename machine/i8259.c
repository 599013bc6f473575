/* The 8259A programmable interrupt controller pair of a PC: the master at
 * 0x20/0x21 takes IRQ0-7, the slave at 0xA0/0xA1 takes IRQ8-15 and drives
 * the master's IR2. The trigger mode of each line comes from the PIIX edge/
 * level control registers (ELCR) at 0x4D0/0x4D1. References: Intel 8259A
 * datasheet (ICWs, OCWs, priority, poll command, spurious IR7), Intel
 * 82371AB (PIIX4) datasheet (ELCR1/ELCR2). */
#include "machine/machine_internal.h"

#include <stdlib.h>

enum { PIC_MASTER, PIC_SLAVE };
#define PIC_CASCADE_IR 2

/* ICW1 (A0 = 0, D4 = 1). */
#define ICW1_IC4 0x01   /* ICW4 follows */
#define ICW1_SNGL 0x02  /* single 8259A, no ICW3 */
#define ICW1_LTIM 0x08  /* level-triggered inputs */
#define ICW1_SELECT 0x10
/* ICW4. */
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
/* OCW3 (A0 = 0, D4 = 0, D3 = 1). */
#define OCW3_SELECT 0x08
#define OCW3_RIS 0x01   /* read ISR instead of IRR */
#define OCW3_RR 0x02    /* RIS is valid */
#define OCW3_POLL 0x04
#define OCW3_SMM 0x20   /* set special mask mode... */
#define OCW3_ESMM 0x40  /* ...when this enables the change */

_Static_assert(ICW1_SELECT == 1 << 4 && OCW3_SELECT == 1 << 3,
               "8259A: ICW1 is D4 = 1, OCW3 is D4 = 0 with D3 = 1");

/* PIIX ELCR: IRQ0, 1, 2, 8 and 13 are edge-triggered only. */
#define ELCR1_MASK 0xF8
#define ELCR2_MASK 0xDE

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t pins;      /* current levels of the IR inputs */
    uint8_t elcr, elcr_mask;
    uint8_t base;      /* ICW2: vector of IR0 (T7-T3) */
    uint8_t icw3;
    uint8_t lowest;    /* the IR with the lowest priority (rotation) */
    uint8_t init_step; /* 0: ready; 2, 3, 4: expecting that ICW */
    bool need_icw4, single, ltim;
    bool auto_eoi, rotate_on_aeoi, sfnm;
    bool read_isr, poll, special_mask;
};

struct i8259 {
    struct pic_chip chip[2];
};

static uint8_t level_lines(const struct pic_chip *c)
{
    return c->ltim ? 0xFF : c->elcr;
}

/* Priority rank of an IR: 0 is the highest, 7 the lowest (after rotation). */
static unsigned rank(const struct pic_chip *c, unsigned ir)
{
    return (ir - c->lowest - 1) & 7;
}

/* The highest-priority IR set in bits, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
    for (unsigned r = 0; r < 8; r++) {
        unsigned ir = (c->lowest + 1 + r) & 7;
        if (bits & (1u << ir))
            return (int)ir;
    }
    return -1;
}

/* The IR this chip would present on INT, or -1: the highest unmasked
 * request with a higher priority than every in-service level that still
 * blocks it (datasheet, "Interrupt sequence" and "Special Mask Mode"). */
static int chip_pending(const struct pic_chip *c, bool is_master)
{
    if (c->init_step)
        return -1;
    /* Special mask mode: only the mask inhibits a level; the ISR holds
     * back nothing but its own level (datasheet, "Special Mask Mode"). */
    if (c->special_mask)
        return highest(c, c->irr & ~c->imr & ~c->isr);
    int req = highest(c, c->irr & ~c->imr);
    if (req < 0)
        return -1;
    uint8_t blocking = c->isr;
    /* Special fully nested mode: the slave's higher-priority requests pass
     * even while the cascade IR is in service. */
    if (is_master && c->sfnm)
        blocking &= ~(1u << PIC_CASCADE_IR);
    int cur = highest(c, blocking);
    if (cur >= 0 && rank(c, (unsigned)cur) <= rank(c, (unsigned)req))
        return -1;
    return req;
}

/* An IR input changed level: edge lines latch a rising edge into the IRR,
 * level lines follow the pin. */
static void chip_set_pin(struct pic_chip *c, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);
    bool was = c->pins & bit;
    c->pins = level ? c->pins | bit : c->pins & ~bit;
    if (level_lines(c) & bit)
        c->irr = level ? c->irr | bit : c->irr & ~bit;
    else if (level && !was)
        c->irr |= bit;
}

/* The slave's INT output is the master's IR2 input. */
static void update_cascade(struct i8259 *pic)
{
    chip_set_pin(&pic->chip[PIC_MASTER], PIC_CASCADE_IR,
                 chip_pending(&pic->chip[PIC_SLAVE], false) >= 0);
}

/* The INTA cycle on one chip for IR ir: ISR set (unless AEOI), an edge
 * request consumed. */
static void chip_ack(struct pic_chip *c, unsigned ir)
{
    uint8_t bit = (uint8_t)(1u << ir);
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->lowest = (uint8_t)ir;
    } else {
        c->isr |= bit;
    }
    if (!(level_lines(c) & bit))
        c->irr &= ~bit;
}

void i8259_set_irq(struct i8259 *pic, unsigned irq, bool level)
{
    if (irq >= 16 || irq == PIC_CASCADE_IR)
        return;
    chip_set_pin(&pic->chip[irq >> 3], irq & 7, level);
    update_cascade(pic);
}

bool i8259_intr_pending(struct i8259 *pic)
{
    return chip_pending(&pic->chip[PIC_MASTER], true) >= 0;
}

/* With no request left at INTA time the 8259A answers with IR7 of the chip
 * and leaves its ISR alone: the spurious IRQ7 (or IRQ15 via the cascade). */
uint8_t i8259_intr_ack(struct i8259 *pic)
{
    struct pic_chip *master = &pic->chip[PIC_MASTER], *slave = &pic->chip[PIC_SLAVE];
    int ir = chip_pending(master, true);
    uint8_t vector;
    if (ir < 0) {
        vector = master->base + 7;
    } else {
        chip_ack(master, (unsigned)ir);
        if (ir == PIC_CASCADE_IR && !master->single) {
            int sir = chip_pending(slave, false);
            if (sir < 0) {
                vector = slave->base + 7;
            } else {
                chip_ack(slave, (unsigned)sir);
                vector = slave->base + (uint8_t)sir;
            }
        } else {
            vector = master->base + (uint8_t)ir;
        }
    }
    update_cascade(pic);
    return vector;
}

/* ICW1 starts initialisation: IMR, ISR and the edge-sense latches are
 * cleared, IR7 gets the lowest priority, special mask mode ends, reads
 * select the IRR, and ICW4's functions reset to 0 (datasheet, ICW1). A pin
 * that is high must go low and high again to request an edge interrupt. */
static void write_icw1(struct pic_chip *c, uint8_t val)
{
    c->imr = 0;
    c->isr = 0;
    c->lowest = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->auto_eoi = c->rotate_on_aeoi = c->sfnm = false;
    c->need_icw4 = val & ICW1_IC4;
    c->single = val & ICW1_SNGL;
    c->ltim = val & ICW1_LTIM;
    c->irr = c->pins & level_lines(c);
    c->init_step = 2;
}

static void write_icw(struct pic_chip *c, uint8_t val)
{
    switch (c->init_step) {
    case 2:
        c->base = val & 0xF8;
        c->init_step = c->single ? (c->need_icw4 ? 4 : 0) : 3;
        break;
    case 3:
        c->icw3 = val;
        c->init_step = c->need_icw4 ? 4 : 0;
        break;
    default:
        /* uPM (8086 mode) is the only mode of the PC; buffered mode
         * changes nothing visible. */
        c->auto_eoi = val & ICW4_AEOI;
        c->sfnm = val & ICW4_SFNM;
        c->init_step = 0;
        break;
    }
}

/* OCW2: R, SL, EOI in D7-D5, the IR level in D2-D0 (datasheet, table 3). */
static void write_ocw2(struct pic_chip *c, uint8_t val)
{
    unsigned cmd = val >> 5, level = val & 7;
    int ir;
    switch (cmd) {
    case 0: /* rotate in automatic EOI mode (clear) */
        c->rotate_on_aeoi = false;
        break;
    case 4: /* rotate in automatic EOI mode (set) */
        c->rotate_on_aeoi = true;
        break;
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        ir = highest(c, c->isr);
        if (ir >= 0) {
            c->isr &= ~(1u << ir);
            if (cmd == 5)
                c->lowest = (uint8_t)ir;
        }
        break;
    case 3: /* specific EOI */
    case 7: /* rotate on specific EOI */
        c->isr &= ~(1u << level);
        if (cmd == 7)
            c->lowest = (uint8_t)level;
        break;
    case 6: /* set priority: level becomes the lowest */
        c->lowest = (uint8_t)level;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void write_ocw3(struct pic_chip *c, uint8_t val)
{
    if (val & OCW3_ESMM)
        c->special_mask = val & OCW3_SMM;
    if (val & OCW3_RR)
        c->read_isr = val & OCW3_RIS;
    c->poll = val & OCW3_POLL;
}

/* The poll command: the next read is an interrupt acknowledge, returning
 * I (D7) and the highest pending level (D2-D0) (datasheet, "The Poll
 * Command"). */
static uint8_t read_poll(struct i8259 *pic, unsigned which)
{
    struct pic_chip *c = &pic->chip[which];
    c->poll = false;
    int ir = chip_pending(c, which == PIC_MASTER);
    if (ir < 0)
        return 0;
    chip_ack(c, (unsigned)ir);
    return (uint8_t)(0x80 | ir);
}

static void chip_io(struct i8259 *pic, unsigned which, unsigned a0, uint8_t *val,
                    bool is_write)
{
    struct pic_chip *c = &pic->chip[which];
    if (!is_write) {
        if (c->poll)
            *val = read_poll(pic, which);
        else if (a0)
            *val = c->imr;
        else
            *val = c->read_isr ? c->isr : c->irr;
    } else if (!a0 && (*val & ICW1_SELECT)) {
        write_icw1(c, *val);
    } else if (a0 && c->init_step) {
        write_icw(c, *val);
    } else if (a0) {
        c->imr = *val; /* OCW1 */
    } else if (*val & OCW3_SELECT) {
        write_ocw3(c, *val);
    } else {
        write_ocw2(c, *val);
    }
    update_cascade(pic);
}

static void master_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    chip_io(dev, PIC_MASTER, offset, val, is_write);
}

static void slave_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    chip_io(dev, PIC_SLAVE, offset, val, is_write);
}

/* ELCR1 at 0x4D0 (IRQ0-7), ELCR2 at 0x4D1 (IRQ8-15): 1 = level. */
static void elcr_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    struct i8259 *pic = dev;
    struct pic_chip *c = &pic->chip[offset];
    if (!is_write) {
        *val = c->elcr;
        return;
    }
    c->elcr = *val & c->elcr_mask;
    /* Lines that became level-triggered follow their pin from now on. */
    c->irr = (c->irr & ~level_lines(c)) | (c->pins & level_lines(c));
    update_cascade(pic);
}

static void master_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(master_byte, dev, 2, offset, data, size, is_write);
}

static void slave_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(slave_byte, dev, 2, offset, data, size, is_write);
}

static void elcr_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(elcr_byte, dev, 2, offset, data, size, is_write);
}

struct i8259 *i8259_create(struct machine *m, struct mach_err *err)
{
    struct i8259 *pic = calloc(1, sizeof(*pic));
    if (!pic) {
        mach_errf(err, "8259A: out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < 2; i++)
        pic->chip[i].lowest = 7;
    pic->chip[PIC_MASTER].elcr_mask = ELCR1_MASK;
    pic->chip[PIC_SLAVE].elcr_mask = ELCR2_MASK;
    if (mach_bus_register(m, MACH_BUS_PIO, 0x20, 2, master_io, pic, "8259A master", err) < 0 ||
        mach_bus_register(m, MACH_BUS_PIO, 0xA0, 2, slave_io, pic, "8259A slave", err) < 0 ||
        mach_bus_register(m, MACH_BUS_PIO, 0x4D0, 2, elcr_io, pic, "ELCR", err) < 0) {
        free(pic);
        return NULL;
    }
    return pic;
}

void i8259_destroy(struct i8259 *pic) { free(pic); }
