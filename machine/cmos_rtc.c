/* The MC146818 real-time clock and CMOS RAM at 0x70 (index, bit 7 masks
 * NMI) and 0x71 (data), interrupting on IRQ8. The clock shows host UTC plus
 * whatever offset the guest sets; the periodic interrupt follows the host
 * monotonic clock. The CMOS RAM holds what a PC BIOS and Linux read: memory
 * sizes, the equipment byte, the century, and the AT checksum.
 * References: Motorola MC146818A datasheet (registers A-D, update cycle,
 * periodic rates, alarm don't-care codes), IBM PC AT Technical Reference
 * (CMOS RAM map 0x0E-0x3F and its checksum), QEMU hw/rtc/mc146818rtc.c
 * and hw/i386/pc.c (0x30/0x31, 0x34/0x35, 0x5F as SeaBIOS reads them). */
#define _GNU_SOURCE
#include "machine/machine_internal.h"

#include <stdlib.h>
#include <time.h>

enum {
    RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01,
    RTC_MINUTES = 0x02, RTC_MINUTES_ALARM = 0x03,
    RTC_HOURS = 0x04, RTC_HOURS_ALARM = 0x05,
    RTC_DAY_OF_WEEK = 0x06, RTC_DAY_OF_MONTH = 0x07,
    RTC_MONTH = 0x08, RTC_YEAR = 0x09,
    RTC_REG_A = 0x0A, RTC_REG_B = 0x0B, RTC_REG_C = 0x0C, RTC_REG_D = 0x0D,
    CMOS_EQUIPMENT = 0x14,
    CMOS_BASE_MEM_LO = 0x15, CMOS_BASE_MEM_HI = 0x16,
    CMOS_EXT_MEM_LO = 0x17, CMOS_EXT_MEM_HI = 0x18,
    CMOS_CHECKSUM_HI = 0x2E, CMOS_CHECKSUM_LO = 0x2F,
    CMOS_EXT_MEM2_LO = 0x30, CMOS_EXT_MEM2_HI = 0x31,
    CMOS_CENTURY = 0x32,
    CMOS_MEM_ABOVE_16M_LO = 0x34, CMOS_MEM_ABOVE_16M_HI = 0x35,
    CMOS_SMP_COUNT = 0x5F, /* CPUs - 1, as SeaBIOS reads it */
    CMOS_SIZE = 128,
};

#define REG_A_UIP 0x80
#define REG_A_DV 0x70
#define REG_A_DV_RESET 0x60 /* DV2-DV1 = 11: divider chain held in reset */
#define REG_A_RS 0x0F
#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_DM_BINARY 0x04
#define REG_B_24H 0x02
#define REG_C_IRQF 0x80
#define REG_C_PF 0x40
#define REG_C_AF 0x20
#define REG_C_UF 0x10
#define REG_D_VRT 0x80
#define HOUR_PM 0x80
#define ALARM_DONT_CARE 0xC0

_Static_assert(REG_C_PF == REG_B_PIE && REG_C_AF == REG_B_AIE && REG_C_UF == REG_B_UIE,
               "MC146818: each flag in C sits at its enable bit in B");

#define NS_PER_S 1000000000ll
#define RTC_OSC_HZ 32768ll
/* UIP rises 244 us before the update cycle (datasheet, "Update Cycle"). */
#define UIP_LEAD_NS 244141ll

struct cmos_rtc {
    struct machine *m;
    struct mach_clock mono, wall;
    uint8_t index;
    bool nmi_masked;
    uint8_t ram[CMOS_SIZE];

    int64_t offset_s;     /* guest time minus host UTC */
    int64_t last_second;  /* the guest second of the last update cycle */
    uint64_t periodic_base_ns, periodic_ticks;
    bool irq_level;
};

static uint64_t host_mono(void *opaque)
{
    (void)opaque;
    return mach_now_ns();
}

static uint64_t host_wall(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * (uint64_t)NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int64_t guest_ns(const struct cmos_rtc *rtc)
{
    return (int64_t)rtc->wall.now_ns(rtc->wall.opaque) + rtc->offset_s * NS_PER_S;
}

/* The clock counts while SET is clear and the divider chain runs. */
static bool counting(const struct cmos_rtc *rtc)
{
    return !(rtc->ram[RTC_REG_B] & REG_B_SET) &&
           (rtc->ram[RTC_REG_A] & REG_A_DV_RESET) != REG_A_DV_RESET;
}

static bool binary_mode(const struct cmos_rtc *rtc) { return rtc->ram[RTC_REG_B] & REG_B_DM_BINARY; }

static uint8_t to_reg(const struct cmos_rtc *rtc, unsigned v)
{
    return binary_mode(rtc) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned from_reg(const struct cmos_rtc *rtc, uint8_t v)
{
    return binary_mode(rtc) ? v : (unsigned)((v >> 4) * 10 + (v & 0xF));
}

static uint8_t hour_to_reg(const struct cmos_rtc *rtc, unsigned h)
{
    if (rtc->ram[RTC_REG_B] & REG_B_24H)
        return to_reg(rtc, h);
    unsigned h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(to_reg(rtc, h12) | (h >= 12 ? HOUR_PM : 0));
}

static unsigned hour_from_reg(const struct cmos_rtc *rtc, uint8_t v)
{
    if (rtc->ram[RTC_REG_B] & REG_B_24H)
        return from_reg(rtc, v);
    return from_reg(rtc, v & ~HOUR_PM) % 12 + ((v & HOUR_PM) ? 12 : 0);
}

/* Writes the guest's current time into the clock registers. */
static void load_time(struct cmos_rtc *rtc, int64_t second)
{
    time_t t = (time_t)second;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return;
    unsigned year = (unsigned)tm.tm_year + 1900;
    rtc->ram[RTC_SECONDS] = to_reg(rtc, (unsigned)tm.tm_sec);
    rtc->ram[RTC_MINUTES] = to_reg(rtc, (unsigned)tm.tm_min);
    rtc->ram[RTC_HOURS] = hour_to_reg(rtc, (unsigned)tm.tm_hour);
    rtc->ram[RTC_DAY_OF_WEEK] = to_reg(rtc, (unsigned)tm.tm_wday + 1);
    rtc->ram[RTC_DAY_OF_MONTH] = to_reg(rtc, (unsigned)tm.tm_mday);
    rtc->ram[RTC_MONTH] = to_reg(rtc, (unsigned)tm.tm_mon + 1);
    rtc->ram[RTC_YEAR] = to_reg(rtc, year % 100);
    rtc->ram[CMOS_CENTURY] = to_reg(rtc, year / 100 % 100);
}

/* The guest wrote the clock: its time is now whatever the registers say. */
static void take_time_from_registers(struct cmos_rtc *rtc)
{
    struct tm tm = {
        .tm_sec = (int)from_reg(rtc, rtc->ram[RTC_SECONDS]),
        .tm_min = (int)from_reg(rtc, rtc->ram[RTC_MINUTES]),
        .tm_hour = (int)hour_from_reg(rtc, rtc->ram[RTC_HOURS]),
        .tm_mday = (int)from_reg(rtc, rtc->ram[RTC_DAY_OF_MONTH]),
        .tm_mon = (int)from_reg(rtc, rtc->ram[RTC_MONTH]) - 1,
        .tm_year = (int)(from_reg(rtc, rtc->ram[CMOS_CENTURY]) * 100 +
                         from_reg(rtc, rtc->ram[RTC_YEAR])) - 1900,
    };
    time_t t = timegm(&tm);
    int64_t host_s = (int64_t)(rtc->wall.now_ns(rtc->wall.opaque) / (uint64_t)NS_PER_S);
    rtc->offset_s = (int64_t)t - host_s;
    rtc->last_second = (int64_t)t;
}

static void update_irq(struct cmos_rtc *rtc)
{
    uint8_t c = rtc->ram[RTC_REG_C] & (REG_C_PF | REG_C_AF | REG_C_UF);
    bool irqf = (c & rtc->ram[RTC_REG_B]) != 0;
    rtc->ram[RTC_REG_C] = (uint8_t)(c | (irqf ? REG_C_IRQF : 0));
    if (irqf != rtc->irq_level) {
        rtc->irq_level = irqf;
        mach_irq_set(rtc->m, 8, irqf);
    }
}

/* Periodic interrupt period in oscillator cycles: rates 1 and 2 alias 8
 * and 9 at 32.768 kHz (256 Hz and 128 Hz); 0 is off. */
static unsigned periodic_cycles(const struct cmos_rtc *rtc)
{
    unsigned rs = rtc->ram[RTC_REG_A] & REG_A_RS;
    if (rs == 0)
        return 0;
    if (rs < 3)
        rs += 7;
    return 1u << (rs - 1);
}

static bool alarm_matches(const struct cmos_rtc *rtc)
{
    static const uint8_t pairs[3][2] = {{RTC_SECONDS_ALARM, RTC_SECONDS},
                                        {RTC_MINUTES_ALARM, RTC_MINUTES},
                                        {RTC_HOURS_ALARM, RTC_HOURS}};
    for (unsigned i = 0; i < 3; i++) {
        uint8_t alarm = rtc->ram[pairs[i][0]];
        if ((alarm & ALARM_DONT_CARE) != ALARM_DONT_CARE && alarm != rtc->ram[pairs[i][1]])
            return false;
    }
    return true;
}

/* Brings the clock registers and flags up to now: one update cycle (UF,
 * alarm check) when the second changed, PF when a periodic tick passed.
 * Missed ticks collapse into one flag, as a guest that reads C late sees. */
static void advance(struct cmos_rtc *rtc, uint64_t mono_ns)
{
    if (counting(rtc)) {
        int64_t ns = guest_ns(rtc);
        int64_t second = ns / NS_PER_S - (ns % NS_PER_S < 0);
        load_time(rtc, second);
        if (second != rtc->last_second) {
            rtc->last_second = second;
            rtc->ram[RTC_REG_C] |= REG_C_UF;
            if (alarm_matches(rtc))
                rtc->ram[RTC_REG_C] |= REG_C_AF;
        }
    }
    unsigned cycles = periodic_cycles(rtc);
    if (cycles && (rtc->ram[RTC_REG_A] & REG_A_DV_RESET) != REG_A_DV_RESET &&
        mono_ns >= rtc->periodic_base_ns) {
        uint64_t ticks = (uint64_t)((unsigned __int128)(mono_ns - rtc->periodic_base_ns) *
                                    RTC_OSC_HZ / NS_PER_S / cycles);
        if (ticks > rtc->periodic_ticks) {
            rtc->periodic_ticks = ticks;
            rtc->ram[RTC_REG_C] |= REG_C_PF;
        }
    }
    update_irq(rtc);
}

static void restart_periodic(struct cmos_rtc *rtc)
{
    rtc->periodic_base_ns = rtc->mono.now_ns(rtc->mono.opaque);
    rtc->periodic_ticks = 0;
}

static uint8_t read_data(struct cmos_rtc *rtc)
{
    uint8_t idx = rtc->index, v;
    advance(rtc, rtc->mono.now_ns(rtc->mono.opaque));
    switch (idx) {
    case RTC_REG_A: {
        v = rtc->ram[RTC_REG_A] & (uint8_t)~REG_A_UIP;
        int64_t ns = guest_ns(rtc) % NS_PER_S;
        if (ns < 0)
            ns += NS_PER_S;
        if (counting(rtc) && ns >= NS_PER_S - UIP_LEAD_NS)
            v |= REG_A_UIP;
        return v;
    }
    case RTC_REG_C:
        v = rtc->ram[RTC_REG_C];
        rtc->ram[RTC_REG_C] = 0; /* reading C clears every flag and IRQF */
        update_irq(rtc);
        return v;
    case RTC_REG_D:
        return REG_D_VRT; /* the battery is always good */
    default:
        return rtc->ram[idx];
    }
}

static void write_reg_b(struct cmos_rtc *rtc, uint8_t val)
{
    uint8_t old = rtc->ram[RTC_REG_B];
    if (val & REG_B_SET)
        val &= (uint8_t)~REG_B_UIE; /* setting SET clears UIE */
    rtc->ram[RTC_REG_B] = val;
    if ((old & REG_B_SET) && !(val & REG_B_SET))
        take_time_from_registers(rtc);
    update_irq(rtc);
}

static void write_data(struct cmos_rtc *rtc, uint8_t val)
{
    uint8_t idx = rtc->index;
    bool was_counting;
    /* Registers hold the time of this instant before anything changes. */
    advance(rtc, rtc->mono.now_ns(rtc->mono.opaque));
    switch (idx) {
    case RTC_SECONDS:
    case RTC_MINUTES:
    case RTC_HOURS:
    case RTC_DAY_OF_WEEK:
    case RTC_DAY_OF_MONTH:
    case RTC_MONTH:
    case RTC_YEAR:
    case CMOS_CENTURY:
        rtc->ram[idx] = val;
        if (counting(rtc))
            take_time_from_registers(rtc);
        break;
    case RTC_REG_A:
        was_counting = counting(rtc);
        if ((val & REG_A_RS) != (rtc->ram[RTC_REG_A] & REG_A_RS))
            restart_periodic(rtc);
        rtc->ram[RTC_REG_A] = val & (uint8_t)~REG_A_UIP;
        if (!was_counting && counting(rtc))
            take_time_from_registers(rtc);
        break;
    case RTC_REG_B:
        write_reg_b(rtc, val);
        break;
    case RTC_REG_C:
    case RTC_REG_D:
        break; /* read-only */
    default:
        rtc->ram[idx] = val;
        break;
    }
}

static void rtc_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    struct cmos_rtc *rtc = dev;
    if (offset == 0) {
        if (is_write) {
            rtc->index = *val & 0x7F;
            rtc->nmi_masked = *val & 0x80;
        } else {
            *val = 0xFF; /* the index register is write-only */
        }
    } else if (is_write) {
        write_data(rtc, *val);
    } else {
        *val = read_data(rtc);
    }
}

static void rtc_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(rtc_byte, dev, 2, offset, data, size, is_write);
}

static void put16(uint8_t *ram, unsigned lo, unsigned hi, uint64_t v)
{
    if (v > 0xFFFF)
        v = 0xFFFF;
    ram[lo] = (uint8_t)v;
    ram[hi] = (uint8_t)(v >> 8);
}

/* The CMOS RAM a BIOS would leave: memory sizes in KiB (base, extended
 * above 1 MiB up to 64 MiB) and in 64 KiB units above 16 MiB, a math
 * coprocessor and no floppies in the equipment byte, one CPU. */
static void init_nvram(struct cmos_rtc *rtc, uint64_t ram_bytes)
{
    uint8_t *ram = rtc->ram;
    ram[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz periodic rate */
    ram[RTC_REG_B] = REG_B_24H;
    ram[RTC_REG_D] = REG_D_VRT;
    ram[CMOS_EQUIPMENT] = 0x02;
    put16(ram, CMOS_BASE_MEM_LO, CMOS_BASE_MEM_HI, 640);
    uint64_t ext_kib = ram_bytes > (1u << 20) ? (ram_bytes - (1u << 20)) >> 10 : 0;
    put16(ram, CMOS_EXT_MEM_LO, CMOS_EXT_MEM_HI, ext_kib);
    put16(ram, CMOS_EXT_MEM2_LO, CMOS_EXT_MEM2_HI, ext_kib);
    uint64_t above16 = ram_bytes > (16u << 20) ? (ram_bytes - (16u << 20)) >> 16 : 0;
    put16(ram, CMOS_MEM_ABOVE_16M_LO, CMOS_MEM_ABOVE_16M_HI, above16);
    ram[CMOS_SMP_COUNT] = 0;
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2D; i++)
        sum += ram[i];
    ram[CMOS_CHECKSUM_HI] = (uint8_t)(sum >> 8);
    ram[CMOS_CHECKSUM_LO] = (uint8_t)sum;
}

static void sync_to_host(struct cmos_rtc *rtc)
{
    rtc->offset_s = 0;
    int64_t ns = guest_ns(rtc);
    rtc->last_second = ns / NS_PER_S;
    load_time(rtc, rtc->last_second);
    restart_periodic(rtc);
}

void cmos_rtc_set_clocks(struct cmos_rtc *rtc, const struct mach_clock *mono,
                         const struct mach_clock *wall)
{
    if (mono)
        rtc->mono = *mono;
    if (wall)
        rtc->wall = *wall;
    sync_to_host(rtc);
}

void cmos_rtc_poll(struct cmos_rtc *rtc, uint64_t now_ns) { advance(rtc, now_ns); }

/* Only enabled interrupts wake a halted guest: the next periodic tick with
 * PIE, the next update cycle with UIE or AIE. */
uint64_t cmos_rtc_next_event_ns(struct cmos_rtc *rtc, uint64_t now_ns)
{
    uint8_t b = rtc->ram[RTC_REG_B];
    uint64_t next = UINT64_MAX;
    unsigned cycles = periodic_cycles(rtc);
    if ((b & REG_B_PIE) && cycles &&
        (rtc->ram[RTC_REG_A] & REG_A_DV_RESET) != REG_A_DV_RESET) {
        unsigned __int128 cyc = (unsigned __int128)(rtc->periodic_ticks + 1) * cycles;
        uint64_t due = rtc->periodic_base_ns +
                       (uint64_t)((cyc * NS_PER_S + RTC_OSC_HZ - 1) / RTC_OSC_HZ);
        next = due > now_ns ? due - now_ns : 0;
    }
    if ((b & (REG_B_UIE | REG_B_AIE)) && counting(rtc)) {
        int64_t frac = guest_ns(rtc) % NS_PER_S;
        if (frac < 0)
            frac += NS_PER_S;
        if ((uint64_t)(NS_PER_S - frac) < next)
            next = (uint64_t)(NS_PER_S - frac);
    }
    return next;
}

struct cmos_rtc *cmos_rtc_create(struct machine *m, struct mach_err *err)
{
    struct cmos_rtc *rtc = calloc(1, sizeof(*rtc));
    if (!rtc) {
        mach_errf(err, "MC146818: out of memory");
        return NULL;
    }
    rtc->m = m;
    rtc->mono = (struct mach_clock){host_mono, NULL};
    rtc->wall = (struct mach_clock){host_wall, NULL};
    init_nvram(rtc, mach_ram_size(m));
    sync_to_host(rtc);
    if (mach_bus_register(m, MACH_BUS_PIO, 0x70, 2, rtc_io, rtc, "MC146818 RTC", err) < 0) {
        free(rtc);
        return NULL;
    }
    return rtc;
}

void cmos_rtc_destroy(struct cmos_rtc *rtc) { free(rtc); }
