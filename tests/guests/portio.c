/* Port I/O: IN/OUT of each size on the CMOS RTC, unassigned ports, the PCI
 * configuration mechanism, and the string forms INS/OUTS with their
 * register updates (SDM Vol. 1 19; Vol. 2A IN, INS, Vol. 2B OUT, OUTS). */
#include "guest.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define CMOS_REG_D 0x0D
#define CMOS_REG_D_VRT 0x80 /* valid RAM and time (MC146818A datasheet) */
#define CMOS_SCRATCH 0x5A   /* general-purpose CMOS RAM (14..127) */
#define POST_PORT 0x80
#define DEBUGCON_PORT 0xE9
#define UNASSIGNED_PORT 0x300
#define PCI_ADDR 0xCF8
#define PCI_DATA 0xCFC
#define PCI_ENABLE 0x80000000u
/* Bus 0, device 31, function 0, register 0: no device there on popek or
 * on QEMU's pc machine. */
#define PCI_EMPTY_SLOT (PCI_ENABLE | (31u << 11))

static uint8_t cmos_read(uint8_t reg)
{
    outb(CMOS_INDEX, reg);
    return inb(CMOS_DATA);
}

static void cmos(void)
{
    outb(CMOS_INDEX, CMOS_SCRATCH);
    outb(CMOS_DATA, 0x5A);
    check_eq("cmos.byte_write_read", 0x5A, cmos_read(CMOS_SCRATCH));
    /* A 16-bit OUT to an 8-bit ISA device is two byte cycles, at the port
     * and the port + 1: index then data. */
    outw(CMOS_INDEX, (uint16_t)(0xA500 | CMOS_SCRATCH));
    check_eq("cmos.word_out_index_then_data", 0xA5, cmos_read(CMOS_SCRATCH));
    check_eq("cmos.reg_d_vrt", CMOS_REG_D_VRT, cmos_read(CMOS_REG_D) & CMOS_REG_D_VRT);
    uint8_t sec = cmos_read(0);
    bool binary = cmos_read(0x0B) & 0x04;
    check_true("cmos.seconds_in_range", binary ? sec < 60 : (sec < 0x60 && (sec & 0xF) < 10));
}

static void unassigned_and_pci(void)
{
    outb(POST_PORT, 0x42);
    check_eq("unassigned.inb", 0xFF, inb(UNASSIGNED_PORT));
    check_eq("unassigned.inw", 0xFFFF, inw(UNASSIGNED_PORT));
    check_eq("unassigned.inl", 0xFFFFFFFF, inl(UNASSIGNED_PORT));
    outb(UNASSIGNED_PORT, 0x12);
    check_eq("unassigned.inb_after_write", 0xFF, inb(UNASSIGNED_PORT));

    /* PCI Local Bus spec 3.0, 3.2.2.3.2: CONFIG_ADDRESS is a read/write
     * dword register; a read of a function that does not exist ends in a
     * master abort, which returns all ones. */
    outl(PCI_ADDR, PCI_EMPTY_SLOT);
    check_eq("pci.address_readback", PCI_EMPTY_SLOT, inl(PCI_ADDR));
    check_eq("pci.empty_slot_dword", 0xFFFFFFFF, inl(PCI_DATA));
    check_eq("pci.empty_slot_word", 0xFFFF, inw(PCI_DATA + 2));
    check_eq("pci.empty_slot_byte", 0xFF, inb(PCI_DATA + 1));
    outl(PCI_ADDR, 0);
    check_eq("pci.address_cleared", 0, inl(PCI_ADDR));
}

struct string_io {
    uint32_t esi, edi, ecx;
};

static struct string_io rep_outsb(uint16_t port, const void *src, uint32_t count)
{
    struct string_io r;
    __asm__ volatile("rep outsb"
                     : "=S"(r.esi), "=c"(r.ecx), "=D"(r.edi)
                     : "d"(port), "0"(src), "1"(count), "2"(0)
                     : "memory");
    return r;
}

static struct string_io rep_insb(uint16_t port, void *dst, uint32_t count)
{
    struct string_io r;
    __asm__ volatile("rep insb"
                     : "=D"(r.edi), "=c"(r.ecx), "=S"(r.esi)
                     : "d"(port), "0"(dst), "1"(count), "2"(0)
                     : "memory");
    return r;
}

static void string_forms(void)
{
    static const uint8_t src[3] = {0x11, 0x22, 0x33};
    static const char msg[] = "portio: OUTSB to the debug console\n";
    uint8_t dst[8];
    memset(dst, 0xEE, sizeof(dst));

    outb(CMOS_INDEX, CMOS_SCRATCH);
    struct string_io r = rep_outsb(CMOS_DATA, src, 3);
    check_eq("outsb.esi", (uint32_t)src + 3, r.esi);
    check_eq("outsb.ecx", 0, r.ecx);
    check_eq("outsb.last_byte_wins", 0x33, cmos_read(CMOS_SCRATCH));
    r = rep_insb(CMOS_DATA, dst, 2);
    check_eq("insb.edi", (uint32_t)dst + 2, r.edi);
    check_eq("insb.ecx", 0, r.ecx);
    check_eq("insb.data", 0xEEEE3333, *(uint32_t *)dst);
    r = rep_insb(CMOS_DATA, dst, 0);
    check_eq("insb.count0_edi", (uint32_t)dst, r.edi);

    uint32_t edi;
    __asm__ volatile("insw" : "=D"(edi) : "d"(UNASSIGNED_PORT), "0"(dst + 2) : "memory");
    check_eq("insw.unassigned_edi", (uint32_t)dst + 4, edi);
    __asm__ volatile("insl" : "=D"(edi) : "d"(UNASSIGNED_PORT), "0"(dst + 4) : "memory");
    check_eq("insl.unassigned_edi", (uint32_t)dst + 8, edi);
    check_eq("insw.data", 0xFFFF3333, *(uint32_t *)dst);
    check_eq("insl.data", 0xFFFFFFFF, *(uint32_t *)(dst + 4));
    /* DF = 1: the index registers count down. */
    __asm__ volatile("std; insb; cld" : "=D"(edi) : "d"(UNASSIGNED_PORT), "0"(dst + 1) : "memory");
    check_eq("insb.df_edi", (uint32_t)dst, edi);
    check_eq("insb.df_data", 0xFF, dst[1]);

    r = rep_outsb(DEBUGCON_PORT, msg, sizeof(msg) - 1);
    check_eq("outsb.debugcon_esi", (uint32_t)msg + sizeof(msg) - 1, r.esi);
    uint32_t esi;
    __asm__ volatile("rep outsw" : "=S"(esi) : "d"(POST_PORT), "0"(src), "c"(1) : "memory");
    check_eq("outsw.esi", (uint32_t)src + 2, esi);
}

void test_main(void)
{
    cmos();
    unassigned_and_pci();
    string_forms();
}
