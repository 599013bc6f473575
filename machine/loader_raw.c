/* A raw binary: bytes copied to RAM, the CPU started at an entry point in
 * 32-bit flat protected mode or in real mode. */
#include "machine/loader.h"

#define ONE_MIB (1ull << 20)
#define FOUR_GIB (1ull << 32)

static int check_range(const struct machine *m, const struct mach_file *f, uint32_t load_addr,
                       uint32_t entry, enum mach_boot_kind kind, struct mach_err *err)
{
    unsigned long long end = (uint64_t)load_addr + f->size;
    unsigned long long ram_mib = mach_ram_size(m) >> 20;
    if (end > FOUR_GIB)
        return mach_errf(err, "%s: %zu bytes at 0x%x wrap past 4 GiB", f->path, f->size,
                         load_addr);
    if (end > mach_ram_size(m))
        return mach_errf(err,
                         "%s: %zu bytes at 0x%x end at 0x%llx, beyond the %llu MiB of guest RAM",
                         f->path, f->size, load_addr, end, ram_mib);
    if (entry >= mach_ram_size(m))
        return mach_errf(err, "%s: entry 0x%x is beyond the %llu MiB of guest RAM", f->path,
                         entry, ram_mib);
    /* Real mode addresses 1 MiB (the A20 wrap area above it is not for
     * loading code into). */
    if (kind == MACH_BOOT_REAL && (end > ONE_MIB || entry >= ONE_MIB))
        return mach_errf(err,
                         "%s: a real-mode image must lie and start below 1 MiB; this one is "
                         "0x%x-0x%llx with entry 0x%x",
                         f->path, load_addr, end - 1, entry);
    uint64_t alias_base, alias_size;
    mach_rom_alias(m, &alias_base, &alias_size);
    if (alias_size && load_addr < ONE_MIB && end > alias_base)
        return mach_errf(err, "%s: 0x%x-0x%llx overlaps the BIOS ROM's alias at 0x%llx-0xfffff",
                         f->path, load_addr, end - 1, (unsigned long long)alias_base);
    return 0;
}

int mach_load_raw(struct machine *m, const char *path, uint32_t load_addr, uint32_t entry,
                  enum mach_boot_kind kind, struct mach_err *err)
{
    if (kind != MACH_BOOT_FLAT32 && kind != MACH_BOOT_REAL)
        return mach_errf(err, "%s: a raw image starts in flat 32-bit protected mode or real mode",
                         path);
    char limit[48];
    snprintf(limit, sizeof(limit), "the %llu MiB of guest RAM",
             (unsigned long long)(mach_ram_size(m) >> 20));
    struct mach_file f;
    if (mach_file_read(path, mach_ram_size(m), limit, &f, err) < 0)
        return -1;
    if (check_range(m, &f, load_addr, entry, kind, err) < 0) {
        mach_file_free(&f);
        return -1;
    }
    mach_load_place(m, load_addr, f.data, f.size, 0);
    m->boot = (struct mach_boot){.kind = kind, .eip = entry};
    if (mach_tracing(m, MACH_TRACE_LOAD))
        mach_trace(m, "load: raw %s: 0x%x-0x%llx; entry 0x%x in %s", path, load_addr,
                   (unsigned long long)load_addr + f.size - 1, entry,
                   kind == MACH_BOOT_REAL ? "real mode" : "32-bit flat protected mode");
    mach_file_free(&f);
    return 0;
}
