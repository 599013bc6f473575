/* The 8254 programmable interval timer at 0x40-0x43 and the NMI status and
 * control port 0x61. Port 0x61 lives here because it is the PIT's channel 2
 * seen from the other side: bit 0 is channel 2's GATE and bit 5 its OUT
 * (Linux calibrates the TSC through them), and bit 4 toggles with the
 * refresh clock that channel 1 drove on the AT.
 *
 * The counters follow the host clock: a channel's state is a function of
 * the ticks of the 1.193182 MHz input clock elapsed since its count was
 * loaded (or its gate triggered it), so nothing runs between port accesses.
 * References: Intel 8254 datasheet (modes 0-5, latch and read-back
 * commands, status byte), 82371AB (PIIX4) datasheet (NMI status and
 * control register, port 61h). */
#include "machine/machine_internal.h"

#include <stdlib.h>

#define PIT_HZ 1193182ull
#define NS_PER_S 1000000000ull
/* Refresh request toggle period: 18 input clocks (15.09 us), the rate at
 * which the AT BIOS programmed channel 1 for DRAM refresh. */
#define REFRESH_TICKS 18

/* Control word (port 0x43): SC1-SC0, RW1-RW0, M2-M0, BCD. */
#define CW_SC(v) (((v) >> 6) & 3)
#define CW_RW(v) (((v) >> 4) & 3)
#define CW_MODE(v) (((v) >> 1) & 7)
#define CW_BCD 0x01
#define SC_READBACK 3
#define RW_LATCH 0
#define RW_LSB 1
#define RW_MSB 2
#define RW_WORD 3
/* Read-back command: D5 = !COUNT, D4 = !STATUS, D3-D1 select counters. */
#define RB_NO_COUNT 0x20
#define RB_NO_STATUS 0x10
/* Status byte. */
#define ST_OUT 0x80
#define ST_NULL_COUNT 0x40

/* Port 0x61. */
#define P61_GATE2 0x01
#define P61_SPEAKER 0x02
#define P61_WRITABLE 0x0F
#define P61_REFRESH 0x10
#define P61_OUT2 0x20

_Static_assert(ST_OUT == 1 << 7 && ST_NULL_COUNT == 1 << 6, "8254 status byte layout");
_Static_assert(P61_REFRESH == 1 << 4 && P61_OUT2 == 1 << 5, "port 61h layout");

struct pit_channel {
    uint8_t mode, rw;
    bool bcd;
    uint16_t cr;           /* count register as written (BCD digits in BCD mode) */
    uint32_t n;            /* initial count in the counting element, 1..65536 */
    bool loaded;           /* n is counting (modes 1 and 5: once triggered) */
    bool cr_written;       /* modes 1 and 5: a count waits for a trigger */
    bool null_count;
    bool gate;
    bool write_msb_next, read_msb_next;
    uint8_t write_lsb;
    uint16_t held;         /* the counter while nothing is loaded */

    /* Elapsed ticks = base_ticks + (running ? ticks since start_ns : 0). */
    bool running;
    uint64_t start_ns, base_ticks;

    uint8_t latch_bytes;   /* 0, or how the latched count is still read */
    uint16_t latched_count;
    bool status_latched;
    uint8_t status;

    uint64_t irq_next;     /* channel 0: tick of the next undelivered rising edge */
};

struct i8254 {
    struct machine *m;
    struct mach_clock clock;
    struct pit_channel ch[3];
    uint8_t port61;
};

#define NO_EDGE UINT64_MAX

static uint64_t host_clock(void *opaque)
{
    (void)opaque;
    return mach_now_ns();
}

static uint64_t now_of(const struct i8254 *pit) { return pit->clock.now_ns(pit->clock.opaque); }

static uint64_t ns_to_ticks(uint64_t ns) { return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S); }

/* The first nanosecond at which ns_to_ticks reaches ticks. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * NS_PER_S + PIT_HZ - 1) / PIT_HZ);
}

static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
    if (!c->running || now < c->start_ns)
        return c->base_ticks;
    return c->base_ticks + ns_to_ticks(now - c->start_ns);
}

static unsigned bcd_to_bin(uint16_t v)
{
    return (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;
}

static uint16_t bin_to_bcd(unsigned v)
{
    return (uint16_t)((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) |
                      ((v / 1000 % 10) << 12));
}

/* A written count of 0 means the maximum: 2^16 in binary, 10^4 in BCD. */
static uint32_t initial_count(const struct pit_channel *c)
{
    uint32_t v = c->bcd ? bcd_to_bin(c->cr) : c->cr;
    if (v == 0)
        v = c->bcd ? 10000 : 65536;
    return v;
}

/* The counting element after d ticks (datasheet, "Operating Modes"). Mode 3
 * counts down by two; an odd count N spends (N+1)/2 clocks high counting
 * N-1..0 and (N-1)/2 low counting N-1..2. */
static unsigned counter_value(const struct pit_channel *c, uint64_t d)
{
    uint32_t n = c->n, modulus = c->bcd ? 10000 : 65536;
    switch (c->mode) {
    case 2:
        return n - (unsigned)(d % n);
    case 3: {
        uint32_t p = (uint32_t)(d % n), high = (n + 1) / 2;
        uint32_t q = p < high ? p : p - high;
        uint32_t top = (n & 1) ? n - 1 : n;
        return top >= 2 * q ? top - 2 * q : 0;
    }
    default: /* 0, 1, 4, 5: count down through 0 and wrap */
        return (uint32_t)((n + modulus - d % modulus) % modulus);
    }
}

static uint16_t read_counter(const struct pit_channel *c, uint64_t now)
{
    if (!c->loaded)
        return c->held;
    unsigned v = counter_value(c, elapsed(c, now));
    return c->bcd ? bin_to_bcd(v % 10000) : (uint16_t)v;
}

static bool out_level(const struct pit_channel *c, uint64_t now)
{
    if (!c->loaded)
        return c->mode != 0; /* after the control word: mode 0 low, others high */
    uint64_t d = elapsed(c, now);
    uint32_t n = c->n;
    switch (c->mode) {
    case 0:
    case 1:
        return d >= n;
    case 2:
        return !c->gate || d % n != n - 1;
    case 3:
        return !c->gate || d % n < (n + 1) / 2;
    default: /* 4, 5: one clock low when the count reaches 0 */
        return d != n;
    }
}

/* The first rising edge of OUT after tick `after`, or NO_EDGE. Modes 2 and
 * 3 rise at every multiple of N; mode 4 rises one clock after its strobe. */
static uint64_t next_rise(const struct pit_channel *c, uint64_t after)
{
    if (!c->loaded || !c->running)
        return NO_EDGE;
    uint64_t n = c->n;
    switch (c->mode) {
    case 0:
    case 1:
        return after < n ? n : NO_EDGE;
    case 2:
    case 3:
        return (after / n + 1) * n;
    default:
        return after < n + 1 ? n + 1 : NO_EDGE;
    }
}

/* Starts counting n from now: a count load, a trigger or a reload. */
static void start_counting(struct i8254 *pit, struct pit_channel *c, uint64_t now)
{
    c->n = initial_count(c);
    c->loaded = true;
    c->null_count = false;
    c->base_ticks = 0;
    c->start_ns = now;
    c->running = c->gate || c->mode == 1 || c->mode == 5;
    if (c == &pit->ch[0])
        c->irq_next = next_rise(c, 0);
}

static void stop_counting(struct pit_channel *c, uint64_t now)
{
    c->base_ticks = elapsed(c, now);
    c->running = false;
}

static void set_gate(struct i8254 *pit, struct pit_channel *c, bool gate, uint64_t now)
{
    bool rising = gate && !c->gate;
    if (gate == c->gate)
        return;
    if (c->loaded && c->running && !gate && c->mode != 1 && c->mode != 5)
        stop_counting(c, now);
    c->gate = gate;
    if (!rising)
        return;
    switch (c->mode) {
    case 1:
    case 5: /* a rising gate (re)triggers the one-shot */
        if (c->cr_written || c->loaded)
            start_counting(pit, c, now);
        break;
    case 2:
    case 3: /* a rising gate reloads the count */
        if (c->loaded)
            start_counting(pit, c, now);
        break;
    default: /* 0, 4: counting resumes */
        if (c->loaded) {
            c->start_ns = now;
            c->running = true;
        }
        break;
    }
}

static void write_control(struct i8254 *pit, uint8_t val, uint64_t now)
{
    unsigned sc = CW_SC(val);
    if (sc == SC_READBACK) {
        for (unsigned i = 0; i < 3; i++) {
            struct pit_channel *c = &pit->ch[i];
            if (!(val & (2u << i)))
                continue;
            if (!(val & RB_NO_COUNT) && !c->latch_bytes) {
                c->latched_count = read_counter(c, now);
                c->latch_bytes = c->rw;
            }
            if (!(val & RB_NO_STATUS) && !c->status_latched) {
                c->status = (uint8_t)((out_level(c, now) ? ST_OUT : 0) |
                                      (c->null_count ? ST_NULL_COUNT : 0) | (c->rw << 4) |
                                      (c->mode << 1) | (c->bcd ? CW_BCD : 0));
                c->status_latched = true;
            }
        }
        return;
    }
    struct pit_channel *c = &pit->ch[sc];
    if (CW_RW(val) == RW_LATCH) {
        /* A second latch before the count is read is ignored. */
        if (!c->latch_bytes) {
            c->latched_count = read_counter(c, now);
            c->latch_bytes = c->rw;
        }
        return;
    }
    c->held = read_counter(c, now);
    c->rw = (uint8_t)CW_RW(val);
    c->mode = (uint8_t)CW_MODE(val);
    if (c->mode > 5)
        c->mode -= 4; /* X1X: modes 6 and 7 are modes 2 and 3 */
    c->bcd = val & CW_BCD;
    c->loaded = c->cr_written = c->running = false;
    c->base_ticks = 0;
    c->null_count = true;
    c->write_msb_next = c->read_msb_next = false;
    if (c == &pit->ch[0])
        c->irq_next = NO_EDGE;
}

/* A count is complete: modes 0, 2, 3 and 4 load it at once (a new count in
 * modes 2 and 3 takes effect at the end of the current period on a real
 * 8254; starting at once differs by less than one period, as in QEMU);
 * modes 1 and 5 wait for a gate trigger. */
static void count_written(struct i8254 *pit, struct pit_channel *c, uint64_t now)
{
    c->null_count = true;
    if (c->mode == 1 || c->mode == 5) {
        c->cr_written = true;
        return;
    }
    start_counting(pit, c, now);
}

static void write_counter(struct i8254 *pit, struct pit_channel *c, uint8_t val, uint64_t now)
{
    switch (c->rw) {
    case RW_LSB:
        c->cr = val;
        count_written(pit, c, now);
        break;
    case RW_MSB:
        c->cr = (uint16_t)(val << 8);
        count_written(pit, c, now);
        break;
    case RW_WORD:
        if (!c->write_msb_next) {
            c->write_lsb = val;
            c->write_msb_next = true;
            c->null_count = true;
            /* Mode 0: writing the first byte stops the count (and OUT is
             * low until the new count reaches 0). */
            if (c->mode == 0 && c->loaded) {
                c->held = read_counter(c, now);
                c->loaded = false;
                c->running = false;
                if (c == &pit->ch[0])
                    c->irq_next = NO_EDGE;
            }
            break;
        }
        c->write_msb_next = false;
        c->cr = (uint16_t)(c->write_lsb | (val << 8));
        count_written(pit, c, now);
        break;
    default: /* no count access mode programmed yet */
        break;
    }
}

static uint8_t read_channel(struct pit_channel *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    bool msb;
    if (c->latch_bytes) {
        v = c->latched_count;
        msb = c->latch_bytes == RW_MSB;
        c->latch_bytes = c->latch_bytes == RW_WORD ? RW_MSB : 0;
    } else {
        v = read_counter(c, now);
        msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->read_msb_next);
        if (c->rw == RW_WORD)
            c->read_msb_next = !c->read_msb_next;
    }
    return (uint8_t)(msb ? v >> 8 : v);
}

static void pit_byte(void *dev, unsigned offset, uint8_t *val, bool is_write)
{
    struct i8254 *pit = dev;
    uint64_t now = now_of(pit);
    if (offset == 3) {
        if (is_write)
            write_control(pit, *val, now);
        else
            *val = 0xFF; /* the control word register cannot be read */
    } else if (is_write) {
        write_counter(pit, &pit->ch[offset], *val, now);
    } else {
        *val = read_channel(&pit->ch[offset], now);
    }
}

static void pit_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    mach_io_bytewise(pit_byte, dev, 4, offset, data, size, is_write);
}

/* NMI status and control: bits 0-3 are written (gate 2, speaker data,
 * parity and I/O channel check enables), bits 4-7 are status. No NMI
 * source exists on this board, so bits 6 and 7 read 0. */
static void port61_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct i8254 *pit = dev;
    uint64_t now = now_of(pit);
    uint8_t *b = data;
    (void)offset;
    if (is_write) {
        pit->port61 = b[0] & P61_WRITABLE;
        set_gate(pit, &pit->ch[2], pit->port61 & P61_GATE2, now);
        return;
    }
    bool refresh = (ns_to_ticks(now) / REFRESH_TICKS) & 1;
    b[0] = (uint8_t)(pit->port61 | (refresh ? P61_REFRESH : 0) |
                     (out_level(&pit->ch[2], now) ? P61_OUT2 : 0));
    for (unsigned i = 1; i < size; i++)
        b[i] = 0xFF;
}

void i8254_poll(struct i8254 *pit, uint64_t now_ns)
{
    struct pit_channel *c = &pit->ch[0];
    if (c->irq_next == NO_EDGE)
        return;
    uint64_t d = elapsed(c, now_ns);
    if (d < c->irq_next)
        return;
    /* Deliver one edge for every period that passed since the last poll:
     * missed periods are coalesced, the next edge is the next one due. */
    c->irq_next = next_rise(c, d);
    mach_irq_pulse(pit->m, 0);
}

uint64_t i8254_next_event_ns(struct i8254 *pit, uint64_t now_ns)
{
    const struct pit_channel *c = &pit->ch[0];
    if (c->irq_next == NO_EDGE || !c->running)
        return UINT64_MAX;
    uint64_t d = elapsed(c, now_ns);
    if (d >= c->irq_next)
        return 0;
    uint64_t due = c->start_ns + ticks_to_ns(c->irq_next - c->base_ticks);
    return due > now_ns ? due - now_ns : 0;
}

void i8254_set_clock(struct i8254 *pit, const struct mach_clock *clock) { pit->clock = *clock; }

struct i8254 *i8254_create(struct machine *m, struct mach_err *err)
{
    struct i8254 *pit = calloc(1, sizeof(*pit));
    if (!pit) {
        mach_errf(err, "8254: out of memory");
        return NULL;
    }
    pit->m = m;
    pit->clock = (struct mach_clock){host_clock, NULL};
    /* Channels 0 and 1 have GATE tied high; channel 2's comes from port
     * 0x61. Until programmed no channel counts (the datasheet leaves the
     * power-on state undefined). */
    for (unsigned i = 0; i < 3; i++) {
        pit->ch[i].gate = i != 2;
        pit->ch[i].irq_next = NO_EDGE;
    }
    if (mach_bus_register(m, MACH_BUS_PIO, 0x40, 4, pit_io, pit, "8254 PIT", err) < 0 ||
        mach_bus_register(m, MACH_BUS_PIO, 0x61, 1, port61_io, pit, "NMI status/control",
                          err) < 0) {
        free(pit);
        return NULL;
    }
    return pit;
}

void i8254_destroy(struct i8254 *pit) { free(pit); }
