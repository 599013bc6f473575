/* A firmware image at the top of the 4 GiB space, as a PC's flash sits, with
 * its last 64 KiB also at 0xF0000 (the legacy BIOS segment F000) and up to
 * 64 KiB more below it (mach_rom_alias); the CPU
 * starts at the reset vector FFFF_FFF0 (Intel SDM Vol. 3A 10.1.4, "First
 * Instruction Executed"). */
#include "machine/loader.h"

#include <stdlib.h>

#define ROM_ALIAS_SIZE 0x10000ull
#define ROM_MAX_SIZE (16ull << 20)
#define FOUR_GIB (1ull << 32)
/* CS base FFFF0000 + EIP FFF0 is the first fetch at reset. */
#define RESET_EIP 0xFFF0u

int mach_load_rom(struct machine *m, const char *path, struct mach_err *err)
{
    struct mach_file f;
    if (mach_file_read(path, ROM_MAX_SIZE, "16 MiB, the largest ROM popek maps", &f, err) < 0)
        return -1;
    /* Whole 64 KiB units, as QEMU asks of -bios: the alias at 0xF0000
     * shows the last 64 KiB, so a smaller image would leave it part empty. */
    if (f.size % ROM_ALIAS_SIZE != 0) {
        size_t size = f.size;
        mach_file_free(&f);
        return mach_errf(err, "%s: a ROM image must be a multiple of 64 KiB; this one is %zu bytes",
                         path, size);
    }
    free(m->rom);
    m->rom = f.data;
    m->rom_size = f.size;
    m->rom_base = FOUR_GIB - f.size;
    /* The alias now hides whatever RAM held below 1 MiB. */
    uint64_t alias_base, alias_size;
    mach_rom_alias(m, &alias_base, &alias_size);
    if (m->hooks.code_written)
        m->hooks.code_written(m->hooks.opaque, alias_base, alias_size);
    m->boot = (struct mach_boot){.kind = MACH_BOOT_RESET, .eip = RESET_EIP};
    if (mach_tracing(m, MACH_TRACE_LOAD))
        mach_trace(m, "load: ROM %s: 0x%llx-0xffffffff (%zu KiB), last %llu KiB also at "
                      "0x%llx-0xfffff; reset vector at 0xfffffff0",
                   path, (unsigned long long)m->rom_base, f.size >> 10,
                   (unsigned long long)(alias_size >> 10), (unsigned long long)alias_base);
    return 0;
}
