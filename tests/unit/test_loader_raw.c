/* Raw loader: bytes land at the load address, the CPU starts at the entry
 * in the asked mode; images outside RAM (or 1 MiB for real mode) are
 * refused. */
#include "tests/unit/loader_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

TestSuite(loader_raw, .init = lt_setup, .fini = lt_teardown);

static uint8_t code[0x1234];

static const char *image(void)
{
    for (size_t i = 0; i < sizeof(code); i++)
        code[i] = (uint8_t)(i * 31 + 7);
    return lt_file("raw.bin", code, sizeof(code));
}

static void expect_fail(const char *path, uint32_t at, uint32_t entry, enum mach_boot_kind kind,
                        const char *want)
{
    struct machine *m = lt_machine(128, 0);
    memset(mach_ram(m), 0xCC, 2 << 20);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_raw(m, path, at, entry, kind, &err), -1, "loaded; expected \"%s\"",
                 want);
    cr_assert_not_null(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_NONE);
    size_t i = 0;
    while (i < 2 << 20 && mach_ram(m)[i] == 0xCC)
        i++;
    cr_assert_eq(i, 2 << 20, "RAM at 0x%zx written", i);
}

static uint64_t hook_lo, hook_len;
static void on_code_written(void *opaque, uint64_t paddr, uint64_t len)
{
    (void)opaque;
    hook_lo = paddr;
    hook_len = len;
}

Test(loader_raw, flat32)
{
    const char *p = image();
    struct machine *m = lt_machine(128, 0);
    mach_set_hooks(m, &(struct mach_hooks){.code_written = on_code_written});
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_raw(m, p, 0x100000, 0x100010, MACH_BOOT_FLAT32, &err), 0, "%s",
                 err.msg);
    cr_assert_arr_eq(mach_ram(m) + 0x100000, code, sizeof(code));
    cr_assert_eq(mach_ram(m)[0x100000 + sizeof(code)], 0);
    const struct mach_boot *bs = mach_boot_state(m);
    cr_assert_eq(bs->kind, MACH_BOOT_FLAT32);
    cr_assert_eq(bs->eip, 0x100010);
    cr_assert_eq(hook_lo, 0x100000);
    cr_assert_eq(hook_len, sizeof(code));
}

Test(loader_raw, real_mode_boot_sector)
{
    const char *p = image();
    struct machine *m = lt_machine(16, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_raw(m, p, 0x7C00, 0x7C00, MACH_BOOT_REAL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(mach_ram(m) + 0x7C00, code, sizeof(code));
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_REAL);
    cr_assert_eq(mach_boot_state(m)->eip, 0x7C00);
}

Test(loader_raw, fills_ram_exactly)
{
    const char *p = image();
    struct machine *m = lt_machine(1, 0);
    struct mach_err err = {{0}};
    uint32_t at = (1 << 20) - sizeof(code);
    cr_assert_eq(mach_load_raw(m, p, at, at, MACH_BOOT_REAL, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(mach_ram(m) + at, code, sizeof(code));
}

Test(loader_raw, rejects_out_of_range)
{
    const char *p = image();
    expect_fail(p, 0x7FFF000, 0x7FFF000, MACH_BOOT_FLAT32,
                "raw.bin: 4660 bytes at 0x7fff000 end at 0x8000234, beyond the 128 MiB of "
                "guest RAM");
    expect_fail(p, 0xFFFFF000, 0x1000, MACH_BOOT_FLAT32,
                "4660 bytes at 0xfffff000 wrap past 4 GiB");
    expect_fail(p, 0x100000, 0x8000000, MACH_BOOT_FLAT32,
                "entry 0x8000000 is beyond the 128 MiB of guest RAM");
    expect_fail(p, 0xFF000, 0xFF000, MACH_BOOT_REAL,
                "a real-mode image must lie and start below 1 MiB; this one is 0xff000-0x100233");
    expect_fail(p, 0x7C00, 0x100000, MACH_BOOT_REAL, "with entry 0x100000");
    expect_fail(p, 0x7C00, 0x7C00, MACH_BOOT_MULTIBOOT, "flat 32-bit protected mode or real mode");
}

Test(loader_raw, rejects_unusable_files)
{
    expect_fail("/nonexistent/raw.bin", 0x1000, 0x1000, MACH_BOOT_FLAT32,
                "/nonexistent/raw.bin: cannot open");
    expect_fail(lt_dir(), 0x1000, 0x1000, MACH_BOOT_FLAT32, "is a directory");
    expect_fail(lt_file("empty.bin", "", 0), 0x1000, 0x1000, MACH_BOOT_FLAT32, "file is empty");
    expect_fail(lt_sparse_file("huge.bin", 129 << 20), 0, 0, MACH_BOOT_FLAT32,
                "135266304 bytes is more than the 128 MiB of guest RAM");
}

Test(loader_raw, rejects_image_under_rom_alias)
{
    uint8_t *rom = calloc(1, 64 << 10);
    cr_assert_not_null(rom);
    const char *rom_path = lt_file("bios.bin", rom, 64 << 10);
    free(rom);
    const char *p = image();
    struct machine *m = lt_machine(16, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_rom(m, rom_path, &err), 0, "%s", err.msg);
    cr_assert_eq(mach_load_raw(m, p, 0xEF000, 0xEF000, MACH_BOOT_REAL, &err), -1);
    cr_assert_not_null(strstr(err.msg, "overlaps the BIOS ROM's alias at 0xf0000-0xfffff"), "%s",
                       err.msg);
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_RESET, "the ROM's boot state stays");
    cr_assert_eq(mach_load_raw(m, p, 0xEE000, 0xEE000, MACH_BOOT_REAL, &err), 0, "%s", err.msg);
}
