/* Fuzz target: the raw-image loader's range checks. Input: load address
 * (4 bytes), entry (4), flags (1: bit 0 real mode, bits 1-2 RAM size
 * 1/2/4/16 MiB, bit 3 a 64 KiB ROM loaded first), then the image. */
#include "tests/fuzz/fuzz.h"

#include "machine/machine.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t ram_mib[] = {1, 2, 4, 16};

static void check_loaded(struct machine *m, const uint8_t *img, size_t len, uint32_t addr,
                         uint32_t entry, enum mach_boot_kind kind)
{
    uint64_t ram = mach_ram_size(m);
    if ((uint64_t)addr + len > ram || entry >= ram)
        fuzz_fail("raw image 0x%x+%zu, entry 0x%x accepted in %llu bytes of RAM", addr, len,
                  entry, (unsigned long long)ram);
    if (kind == MACH_BOOT_REAL && ((uint64_t)addr + len > 0x100000 || entry >= 0x100000))
        fuzz_fail("real-mode image 0x%x+%zu, entry 0x%x accepted above 1 MiB", addr, len, entry);
    if (memcmp(mach_ram(m) + addr, img, len))
        fuzz_fail("the image's bytes are not at 0x%x", addr);
    const struct mach_boot *b = mach_boot_state(m);
    if (b->kind != kind || b->eip != entry)
        fuzz_fail("boot state %d/0x%x, expected %d/0x%x", b->kind, b->eip, kind, entry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10)
        return 0;
    uint32_t addr, entry;
    memcpy(&addr, data, 4);
    memcpy(&entry, data + 4, 4);
    uint8_t flags = data[8];
    enum mach_boot_kind kind = flags & 1 ? MACH_BOOT_REAL : MACH_BOOT_FLAT32;
    struct mach_config cfg = {.ram_bytes = (uint64_t)ram_mib[(flags >> 1) & 3] << 20};
    struct mach_err err = {{0}};
    struct machine *m = mach_create(&cfg, &err);
    if (!m)
        fuzz_fail("mach_create: %s", err.msg);
    if (flags & 8) {
        static uint8_t rom[0x10000];
        if (mach_load_rom(m, fuzz_memfd_path(1, rom, sizeof(rom)), &err) < 0)
            fuzz_fail("a 64 KiB ROM was refused: %s", err.msg);
    }
    const uint8_t *img = data + 9;
    size_t len = size - 9;
    if (mach_load_raw(m, fuzz_memfd_path(0, img, len), addr, entry, kind, &err) == 0) {
        check_loaded(m, img, len, addr, entry, kind);
        if ((flags & 8) && addr < 0x100000 && addr + len > 0xF0000)
            fuzz_fail("raw image 0x%x+%zu over the ROM alias accepted", addr, len);
    } else if (!err.msg[0]) {
        fuzz_fail("a refused raw image got no message");
    }
    mach_destroy(m);
    return 0;
}
