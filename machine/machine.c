/* The board: guest RAM, the physical address space, devices and the exit
 * state. Devices live one per file; this file only wires them up. */
#define _GNU_SOURCE
#include "machine/machine_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* RAM stops below the 32-bit PCI hole, where the ROM and MMIO live. */
#define MACH_RAM_MAX (3ull << 30)
#define MACH_RAM_MIN (1ull << 20)

static int create_ram(struct machine *m, uint64_t bytes, struct mach_err *err)
{
    if (bytes < MACH_RAM_MIN || bytes > MACH_RAM_MAX || (bytes & 0xFFFFF))
        return mach_errf(err, "guest RAM must be a whole number of MiB between 1 and %llu MiB",
                         MACH_RAM_MAX >> 20);
    m->ram_fd = memfd_create("popek-guest-ram", MFD_CLOEXEC);
    if (m->ram_fd < 0)
        return mach_errf(err, "memfd_create: %s", strerror(errno));
    if (ftruncate(m->ram_fd, (off_t)bytes) < 0)
        return mach_errf(err, "sizing guest RAM to %llu MiB: %s",
                         (unsigned long long)(bytes >> 20), strerror(errno));
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->ram_fd, 0);
    if (p == MAP_FAILED)
        return mach_errf(err, "mapping guest RAM: %s", strerror(errno));
    m->ram = p;
    m->ram_size = bytes;
    return 0;
}

static int create_devices(struct machine *m, struct mach_err *err)
{
    int in_fd = (m->cfg.serial_stdin && isatty(STDIN_FILENO)) ? STDIN_FILENO : -1;
    FILE *out = m->cfg.serial_out ? m->cfg.serial_out : stdout;
    FILE *con = m->cfg.debugcon_out ? m->cfg.debugcon_out : stdout;
    if (!(m->pic = i8259_create(m, err)) || !(m->pit = i8254_create(m, err)) ||
        !(m->uart = uart16550_create(m, 0x3F8, 4, out, in_fd, err)) ||
        !(m->rtc = cmos_rtc_create(m, err)) || !(m->kbc = i8042_create(m, err)) ||
        !(m->port92 = port92_create(m, err)) || debug_exit_register(m, err) < 0 ||
        !(m->debugcon = debugcon_create(m, con, err)) ||
        !(m->post = post_port_create(m, err)) || !(m->acpi_pm = acpi_pm_create(m, err)) ||
        !(m->pci = pci_host_create(m, err)))
        return -1;
    return 0;
}

struct machine *mach_create(const struct mach_config *cfg, struct mach_err *err)
{
    struct machine *m = calloc(1, sizeof(*m));
    if (!m) {
        mach_errf(err, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->ram_fd = -1;
    if (cfg->timeout_ns)
        m->deadline_ns = mach_now_ns() + cfg->timeout_ns;
    if (create_ram(m, cfg->ram_bytes, err) < 0 || create_devices(m, err) < 0) {
        mach_destroy(m);
        return NULL;
    }
    return m;
}

void mach_destroy(struct machine *m)
{
    if (!m)
        return;
    if (m->pci)
        pci_host_destroy(m->pci);
    if (m->acpi_pm)
        acpi_pm_destroy(m->acpi_pm);
    if (m->post)
        post_port_destroy(m->post);
    if (m->debugcon)
        debugcon_destroy(m->debugcon);
    if (m->port92)
        port92_destroy(m->port92);
    if (m->kbc)
        i8042_destroy(m->kbc);
    if (m->rtc)
        cmos_rtc_destroy(m->rtc);
    if (m->uart)
        uart16550_destroy(m->uart);
    if (m->pit)
        i8254_destroy(m->pit);
    if (m->pic)
        i8259_destroy(m->pic);
    if (m->ram)
        munmap(m->ram, m->ram_size);
    if (m->ram_fd >= 0)
        close(m->ram_fd);
    free(m->rom);
    free(m);
}

uint8_t *mach_ram(const struct machine *m) { return m->ram; }
uint64_t mach_ram_size(const struct machine *m) { return m->ram_size; }
int mach_ram_fd(const struct machine *m) { return m->ram_fd; }

const uint8_t *mach_rom(const struct machine *m, uint64_t *size, uint64_t *base)
{
    if (size)
        *size = m->rom_size;
    if (base)
        *base = m->rom_base;
    return m->rom;
}

const struct mach_boot *mach_boot_state(const struct machine *m) { return &m->boot; }
void mach_set_hooks(struct machine *m, const struct mach_hooks *hooks) { m->hooks = *hooks; }
void mach_set_engine_state(struct machine *m, void *state) { m->engine_state = state; }
void *mach_engine_state(const struct machine *m) { return m->engine_state; }

/* ---- exit state ---- */

void mach_request_exit(struct machine *m, enum mach_exit_kind kind, uint32_t value,
                       const char *fmt, ...)
{
    if (m->exit_kind != MACH_RUNNING)
        return;
    m->exit_kind = kind;
    m->exit_value = value;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->exit_msg, sizeof(m->exit_msg), fmt, ap);
    va_end(ap);
}

/* ---- A20 gate ---- */

void mach_set_a20_input(struct machine *m, unsigned input, bool high)
{
    bool was = mach_a20_enabled(m);
    m->a20_inputs = high ? m->a20_inputs | input : m->a20_inputs & ~input;
    bool now = mach_a20_enabled(m);
    if (was != now && m->hooks.a20_changed)
        m->hooks.a20_changed(m->hooks.opaque, now);
}

bool mach_a20_enabled(const struct machine *m) { return m->a20_inputs != 0; }

bool mach_exit_requested(const struct machine *m) { return m->exit_kind != MACH_RUNNING; }
enum mach_exit_kind mach_exit_kind(const struct machine *m) { return m->exit_kind; }
const char *mach_exit_message(const struct machine *m) { return m->exit_msg; }

int mach_exit_status(const struct machine *m)
{
    switch (m->exit_kind) {
    case MACH_RUNNING:
    case MACH_EXIT_POWEROFF:
    case MACH_EXIT_RESET:
        return MACH_STATUS_OK;
    case MACH_EXIT_DEBUG:
        return (int)(((m->exit_value << 1) | 1) & 0xFF);
    case MACH_EXIT_TRIPLE_FAULT:
        return MACH_STATUS_TRIPLE_FAULT;
    case MACH_EXIT_BAD_MEMORY:
        return MACH_STATUS_BAD_MEMORY;
    case MACH_EXIT_TIMEOUT:
        return MACH_STATUS_TIMEOUT;
    case MACH_EXIT_UNSUPPORTED:
        return MACH_STATUS_UNSUPPORTED;
    case MACH_EXIT_ENGINE_ERROR:
        return MACH_STATUS_ENGINE_ERROR;
    }
    return MACH_STATUS_ENGINE_ERROR;
}

void mach_print_stats(const struct machine *m, FILE *out)
{
    fprintf(out, "machine: unassigned port reads %llu, writes %llu; "
                 "unassigned MMIO reads %llu, writes %llu\n",
            (unsigned long long)m->pio.unassigned_reads,
            (unsigned long long)m->pio.unassigned_writes,
            (unsigned long long)m->mmio.unassigned_reads,
            (unsigned long long)m->mmio.unassigned_writes);
    fprintf(out, "machine: A20 gate %s\n", mach_a20_enabled(m) ? "enabled" : "disabled");
    if (m->post)
        post_port_print_stats(m->post, out);
    if (m->debugcon)
        debugcon_print_stats(m->debugcon, out);
    if (m->exit_kind == MACH_EXIT_RESET || m->exit_kind == MACH_EXIT_POWEROFF)
        fprintf(out, "machine: %s\n", m->exit_msg);
}
