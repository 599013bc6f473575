/* machine/ public interface: the board every engine runs on.
 *
 * The board owns guest RAM (one memfd), the physical address space (RAM,
 * the BIOS ROM, MMIO regions, unassigned), the port-I/O and MMIO buses, the
 * devices, the loaders and the exit state. It knows nothing of CPUs: an
 * engine registers hooks (struct mach_hooks) for what the board must tell
 * it, and reads the boot descriptor a loader filled in to build its initial
 * CPU state. */
#ifndef POPEK_MACHINE_H
#define POPEK_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct machine;

/* ---- errors ------------------------------------------------------------
 * A VM error (bad image, host problem) is reported to the user through a
 * struct mach_err; a guest fault is architectural and never reaches here. */
struct mach_err {
    char msg[512];
};

/* Formats msg into err (if not NULL) and returns -1, so a caller can write
 * `return mach_errf(err, "...", ...);`. */
int mach_errf(struct mach_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- exit state ---------------------------------------------------------
 * Set by devices (debug-exit, power-off, reset) or engines (triple fault,
 * missing memory, timeout); engine run loops return once it is set. The
 * process exit status of each kind is documented in `popek --help`. */
enum mach_exit_kind {
    MACH_RUNNING = 0,
    MACH_EXIT_DEBUG,       /* port 0xF4 write of V: status (V << 1) | 1 */
    MACH_EXIT_POWEROFF,    /* ACPI PM1a S5 write to port 0x604: status 0 */
    MACH_EXIT_RESET,       /* 0x64 <- 0xFE, port 0x92 bit 0, 0xCF9: status 0 */
    MACH_EXIT_TRIPLE_FAULT,
    MACH_EXIT_BAD_MEMORY,  /* guest touched physical memory that does not exist */
    MACH_EXIT_TIMEOUT,
    MACH_EXIT_UNSUPPORTED, /* the engine/host cannot run what the guest did */
    MACH_EXIT_ENGINE_ERROR,
};

/* Process exit statuses of VM errors: even, so none collides with a
 * debug-exit status, which is always odd. */
enum {
    MACH_STATUS_OK = 0,
    MACH_STATUS_USAGE = 2,
    MACH_STATUS_BAD_IMAGE = 4,
    MACH_STATUS_TRIPLE_FAULT = 6,
    MACH_STATUS_BAD_MEMORY = 8,
    MACH_STATUS_TIMEOUT = 10,
    MACH_STATUS_UNSUPPORTED = 12,
    MACH_STATUS_ENGINE_ERROR = 14,
};

/* Records why the VM stops; the first request wins. */
void mach_request_exit(struct machine *m, enum mach_exit_kind kind,
                       uint32_t value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool mach_exit_requested(const struct machine *m);
enum mach_exit_kind mach_exit_kind(const struct machine *m);
const char *mach_exit_message(const struct machine *m);
/* The process exit status for the recorded exit. */
int mach_exit_status(const struct machine *m);

/* ---- tracing ------------------------------------------------------------ */
enum mach_trace_flag {
    MACH_TRACE_PIO = 1u << 0,     /* every port access */
    MACH_TRACE_MMIO = 1u << 1,    /* every MMIO access */
    MACH_TRACE_POST = 1u << 2,    /* POST codes written to port 0x80 */
    MACH_TRACE_IRQ = 1u << 3,     /* IRQ lines and acknowledged vectors */
    MACH_TRACE_EXIT = 1u << 4,    /* engine exits (kvm: each KVM_RUN exit) */
    MACH_TRACE_INSN = 1u << 5,    /* each executed instruction (interp) */
    MACH_TRACE_IN_ASM = 1u << 6,  /* guest blocks as translated (bt) */
    MACH_TRACE_OUT_ASM = 1u << 7, /* host code of each block (bt) */
    MACH_TRACE_EXEC = 1u << 8,    /* each block executed (bt) */
    MACH_TRACE_LOAD = 1u << 9,    /* what the loader placed where */
};
/* Parses "pio,post,..." (or "help") into flags; -1 with err on a bad name. */
int mach_trace_parse(const char *list, unsigned *flags, struct mach_err *err);
/* The names accepted by mach_trace_parse, for --help. */
const char *mach_trace_names(void);
bool mach_tracing(const struct machine *m, unsigned flag);
void mach_trace(const struct machine *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- creation ------------------------------------------------------------ */
struct mach_config {
    uint64_t ram_bytes;     /* guest RAM, from physical address 0 */
    unsigned trace;         /* enum mach_trace_flag bits */
    bool serial_stdin;      /* UART input from stdin (when it is a terminal) */
    FILE *serial_out;       /* UART output; NULL means stdout */
    FILE *debugcon_out;     /* port 0xE9 output; NULL means stdout */
    uint64_t timeout_ns;    /* 0: none; else mach_poll stops the VM after it */
};

struct machine *mach_create(const struct mach_config *cfg, struct mach_err *err);
void mach_destroy(struct machine *m);

/* ---- guest physical memory ----------------------------------------------- */
uint8_t *mach_ram(const struct machine *m);
uint64_t mach_ram_size(const struct machine *m);
int mach_ram_fd(const struct machine *m); /* the memfd behind mach_ram() */

enum mach_phys_kind {
    MACH_PHYS_RAM,
    MACH_PHYS_ROM,        /* BIOS image: readable, writes dropped */
    MACH_PHYS_MMIO,       /* a device region on the MMIO bus */
    MACH_PHYS_UNASSIGNED, /* nothing: a guest touching it is a VM error */
};

/* What lies at paddr; for RAM and ROM, *host gets the host address and
 * *run the bytes from paddr to the end of that contiguous region. */
enum mach_phys_kind mach_phys_lookup(const struct machine *m, uint64_t paddr,
                                     uint8_t **host, uint64_t *run);

/* The BIOS ROM, once loaded: its bytes, size and guest physical base. Its
 * last 128 KiB (the whole ROM if smaller) are also visible just below
 * 1 MiB, as QEMU's isa-bios region: the last 64 KiB at 0xF0000 (segment
 * F000), the 64 KiB before at 0xE0000 (SeaBIOS runs code there). */
const uint8_t *mach_rom(const struct machine *m, uint64_t *size, uint64_t *base);
/* Where the ROM's low alias lies: [*base, 1 MiB); *size 0 without a ROM. */
void mach_rom_alias(const struct machine *m, uint64_t *base, uint64_t *size);

/* Physical reads and writes of any size for loaders, helpers and devices:
 * RAM, ROM and MMIO as the guest would see them. Returns false when part of
 * the range is unassigned (nothing is written then). Writes into RAM call
 * the code-write hook. */
bool mach_phys_read(struct machine *m, uint64_t paddr, void *buf, size_t len);
bool mach_phys_write(struct machine *m, uint64_t paddr, const void *buf, size_t len);

/* ---- buses ------------------------------------------------------------------
 * One handler type for port I/O and MMIO. `offset` is relative to the
 * region's base, size is 1, 2 or 4 (8 for MMIO), data is little-endian. */
typedef void (*mach_io_fn)(void *dev, uint64_t offset, void *data,
                           unsigned size, bool is_write);

enum mach_bus_id { MACH_BUS_PIO, MACH_BUS_MMIO };

int mach_bus_register(struct machine *m, enum mach_bus_id bus, uint64_t base,
                      uint64_t len, mach_io_fn fn, void *dev, const char *name,
                      struct mach_err *err);

/* Port I/O as the guest's IN/OUT: unassigned reads give all ones, writes
 * are dropped; both are counted. */
void mach_pio(struct machine *m, uint16_t port, void *data, unsigned size,
              bool is_write);
/* MMIO access; returns false when no region covers paddr. */
bool mach_mmio(struct machine *m, uint64_t paddr, void *data, unsigned size,
               bool is_write);

/* ---- interrupts ------------------------------------------------------------
 * ISA IRQ lines 0-15 go to the 8259A pair. Engines ask whether the PIC has
 * an interrupt for the CPU (INTR) and acknowledge it to get the vector. */
void mach_irq_set(struct machine *m, unsigned irq, bool level);
void mach_irq_pulse(struct machine *m, unsigned irq);
bool mach_intr_pending(struct machine *m);
/* The INTA cycle: returns the vector (a spurious vector if none). */
uint8_t mach_intr_ack(struct machine *m);

/* ---- A20 gate ------------------------------------------------------------
 * Whether physical address bit 20 reaches memory; when false an engine
 * forces it to 0 on every access (the 8086 wrap-around). The guest drives
 * it through the i8042 output port and port 0x92; it is on at power-on. */
bool mach_a20_enabled(const struct machine *m);

/* ---- time and events --------------------------------------------------------
 * Devices driven by host time (PIT, RTC, UART input) advance when an engine
 * calls mach_poll; engines call it at exits and at least every few ms of
 * guest execution. */
uint64_t mach_now_ns(void); /* CLOCK_MONOTONIC */
void mach_poll(struct machine *m);
/* Nanoseconds until the next timer event (UINT64_MAX: none). */
uint64_t mach_next_event_ns(struct machine *m);
/* Sleeps until an interrupt may be pending, an exit is requested, the
 * deadline passes or max_ns elapse (halted CPU). Polls devices after. */
void mach_wait_event(struct machine *m, uint64_t max_ns);

/* ---- engine hooks ------------------------------------------------------------ */
struct mach_hooks {
    void *opaque;
    /* An IRQ line changed (engines that run the guest asynchronously
     * kick the vCPU here). May be NULL. */
    void (*irq_changed)(void *opaque);
    /* Bytes [paddr, paddr+len) of RAM were written by a device, loader
     * or helper: translated code there is stale. May be NULL. */
    void (*code_written)(void *opaque, uint64_t paddr, uint64_t len);
    /* The A20 gate opened or closed (see mach_a20_enabled). May be NULL. */
    void (*a20_changed)(void *opaque, bool enabled);
};
void mach_set_hooks(struct machine *m, const struct mach_hooks *hooks);

/* ---- boot ---------------------------------------------------------------------
 * What a loader leaves for the engine: how to build the initial CPU. */
enum mach_boot_kind {
    MACH_BOOT_NONE,
    MACH_BOOT_MULTIBOOT, /* 32-bit flat protected mode, EAX magic, EBX info */
    MACH_BOOT_RESET,     /* the CPU reset state: CS:EIP = F000:FFF0 */
    MACH_BOOT_FLAT32,    /* raw image, 32-bit flat protected mode at entry */
    /* Raw image in real mode; eip holds the linear entry (< 1 MiB) and the
     * CPU starts at CS = (eip >> 4) & 0xF000, IP = eip & 0xFFFF: 0:entry
     * below 64 KiB, as a BIOS starts a boot sector at 0000:7C00, else the
     * 64 KiB segment holding the entry (0x10100 -> 1000:0100). */
    MACH_BOOT_REAL,
};

struct mach_boot {
    enum mach_boot_kind kind;
    uint32_t eip;
    uint32_t eax, ebx; /* multiboot: 0x2BADB002 and the info address */
    uint32_t esp;      /* 0 unless the loader chose a stack */
};
const struct mach_boot *mach_boot_state(const struct machine *m);

/* Loaders validate everything and fail with a clear message. */
struct mach_module {
    const char *path;
    const char *cmdline; /* string the guest sees for this module */
};
/* A Multiboot 1 kernel (ELF32 or a.out kludge). The kernel's command line is
 * "path cmdline" as GRUB and QEMU give it; modules go page aligned after the
 * kernel (at or above 1 MiB); the boot information and its strings sit just
 * below the EBDA at 0x9FC00, and kernel segments may not overlap them. */
int mach_load_multiboot(struct machine *m, const char *path, const char *cmdline,
                        const struct mach_module *mods, unsigned nmods,
                        struct mach_err *err);
/* A ROM image (a multiple of 64 KiB, as QEMU's -bios, at most 16 MiB) mapped
 * to end at 4 GiB, its last 64 KiB aliased at 0xF0000 (and the 64 KiB before
 * at 0xE0000, see mach_rom_alias); the CPU starts at the
 * reset vector. */
int mach_load_rom(struct machine *m, const char *path, struct mach_err *err);
/* A raw binary copied to RAM at load_addr; the CPU starts at entry in the
 * given boot kind (MACH_BOOT_FLAT32 or MACH_BOOT_REAL). Image and entry must
 * be in RAM; for real mode, below 1 MiB. */
int mach_load_raw(struct machine *m, const char *path, uint32_t load_addr,
                  uint32_t entry, enum mach_boot_kind kind, struct mach_err *err);

/* ---- engines ------------------------------------------------------------------
 * cli/ picks one; each engine file defines one of these. */
struct mach_engine {
    const char *name;
    /* Whether this host can run the engine for this machine's guest; when
     * not, why (e.g. "/dev/kvm: permission denied"). */
    bool (*available)(struct machine *m, struct mach_err *why);
    /* Runs until mach_exit_requested(); returns 0, or -1 with err for a
     * failure before the guest could start. */
    int (*run)(struct machine *m, struct mach_err *err);
    /* Per-engine counters for --stats (called after run). */
    void (*print_stats)(struct machine *m, FILE *out);
    /* True when this engine runs guest code on hardware-assisted
     * virtualization here (--accel auto prefers it then). May be NULL. */
    bool (*hw_assisted)(void);
    /* Whether this engine can run guests that need capability `cap` here,
     * with the reason when not; false for an unknown name. Capabilities
     * guests may declare: "paging" (32-bit 2-level paging, PSE), "pae",
     * "pm-iret" (IRET, INT n and task switches in protected mode),
     * "real-mode", "v86", "x87", "mmx", "sse", "bcd" (DAA/DAS/AAA/AAS/AAM/
     * AAD), "nested-exceptions" (#DF, triple fault). May be NULL:
     * everything is supported. */
    bool (*has_cap)(const char *cap, struct mach_err *why);
};

/* Machine-level counters (unassigned ports, POST codes, ...) for --stats. */
void mach_print_stats(const struct machine *m, FILE *out);

/* Private state of the engine running this machine. */
void mach_set_engine_state(struct machine *m, void *state);
void *mach_engine_state(const struct machine *m);

#endif
