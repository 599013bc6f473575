/* 8259A PIC pair and 8254 PIT channel 0 (Intel 8259A and 82C54 datasheets). */
#include "guest.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086 0x01
#define OCW2_EOI 0x20
#define OCW3_READ_IRR 0x0A
#define OCW3_READ_ISR 0x0B
#define PIT_CH0 0x40
#define PIT_CMD 0x43

void pic_remap(uint8_t base1, uint8_t base2)
{
    outb(PIC1_CMD, ICW1_INIT_ICW4);
    outb(PIC2_CMD, ICW1_INIT_ICW4);
    outb(PIC1_DATA, base1);
    outb(PIC2_DATA, base2);
    outb(PIC1_DATA, 1u << 2); /* slave on IR2 */
    outb(PIC2_DATA, 2);       /* slave identity */
    outb(PIC1_DATA, ICW4_8086);
    outb(PIC2_DATA, ICW4_8086);
    outb(PIC1_DATA, 0xFF);
    outb(PIC2_DATA, 0xFF);
}

void pic_mask(unsigned irq)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    outb(port, inb(port) | (uint8_t)(1u << (irq & 7)));
}

void pic_unmask(unsigned irq)
{
    uint16_t port = irq < 8 ? PIC1_DATA : PIC2_DATA;
    outb(port, inb(port) & (uint8_t)~(1u << (irq & 7)));
    if (irq >= 8)
        outb(PIC1_DATA, inb(PIC1_DATA) & (uint8_t)~(1u << 2));
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, OCW2_EOI);
    outb(PIC1_CMD, OCW2_EOI);
}

static uint16_t read_both(uint8_t ocw3)
{
    outb(PIC1_CMD, ocw3);
    outb(PIC2_CMD, ocw3);
    return (uint16_t)(inb(PIC1_CMD) | (inb(PIC2_CMD) << 8));
}

uint16_t pic_read_irr(void) { return read_both(OCW3_READ_IRR); }
uint16_t pic_read_isr(void) { return read_both(OCW3_READ_ISR); }
uint16_t pic_read_imr(void) { return (uint16_t)(inb(PIC1_DATA) | (inb(PIC2_DATA) << 8)); }

void pit_periodic(uint16_t divisor)
{
    outb(PIT_CMD, 0x34); /* channel 0, LSB then MSB, mode 2, binary */
    outb(PIT_CH0, (uint8_t)divisor);
    outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

uint16_t pit_read_count0(void)
{
    outb(PIT_CMD, 0x00); /* counter latch, channel 0 */
    uint8_t lo = inb(PIT_CH0);
    return (uint16_t)(lo | (inb(PIT_CH0) << 8));
}
