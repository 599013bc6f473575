/* ROM loader: a firmware image ends at 4 GiB with its last 64 KiB at
 * 0xF0000, and the CPU starts at the reset vector; bad sizes are refused. */
#include "tests/unit/loader_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

TestSuite(loader_rom, .init = lt_setup, .fini = lt_teardown);

static uint8_t *rom_image(size_t size)
{
    uint8_t *b = malloc(size);
    cr_assert_not_null(b);
    for (size_t i = 0; i < size; i++)
        b[i] = (uint8_t)(i * 13 + (i >> 12));
    return b;
}

static void expect_fail(const char *path, const char *want)
{
    struct machine *m = lt_machine(16, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_rom(m, path, &err), -1, "loaded; expected \"%s\"", want);
    cr_assert_not_null(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
    cr_assert_null(mach_rom(m, NULL, NULL));
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_NONE);
}

static uint64_t hook_lo, hook_len;
static void on_code_written(void *opaque, uint64_t paddr, uint64_t len)
{
    (void)opaque;
    hook_lo = paddr;
    hook_len = len;
}

Test(loader_rom, maps_top_and_alias)
{
    const size_t size = 128 << 10;
    uint8_t *img = rom_image(size);
    struct machine *m = lt_machine(16, 0);
    mach_set_hooks(m, &(struct mach_hooks){.code_written = on_code_written});
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_rom(m, lt_file("bios.bin", img, size), &err), 0, "%s", err.msg);
    uint64_t rsize, base;
    cr_assert_not_null(mach_rom(m, &rsize, &base));
    cr_assert_eq(rsize, size);
    cr_assert_eq(base, 0xFFFE0000ull);
    const struct mach_boot *bs = mach_boot_state(m);
    cr_assert_eq(bs->kind, MACH_BOOT_RESET);
    cr_assert_eq(bs->eip, 0xFFF0);
    uint8_t got[16];
    cr_assert(mach_phys_read(m, 0xFFFFFFF0, got, 16));
    cr_assert_arr_eq(got, img + size - 16, 16, "reset vector bytes");
    cr_assert(mach_phys_read(m, 0xFFFF0, got, 16));
    cr_assert_arr_eq(got, img + size - 16, 16, "alias at 0xFFFF0");
    cr_assert(mach_phys_read(m, 0xF0000, got, 16));
    cr_assert_arr_eq(got, img + size - 0x10000, 16, "alias at 0xF0000");
    cr_assert(mach_phys_read(m, 0xFFFE0000, got, 16));
    cr_assert_arr_eq(got, img, 16, "ROM start");
    /* A 128 KiB ROM is aliased whole below 1 MiB, as QEMU's isa-bios. */
    cr_assert(mach_phys_read(m, 0xE0000, got, 16));
    cr_assert_arr_eq(got, img, 16, "alias at 0xE0000");
    uint64_t abase, asize;
    mach_rom_alias(m, &abase, &asize);
    cr_assert_eq(abase, 0xE0000);
    cr_assert_eq(asize, 0x20000);
    cr_assert_eq(hook_lo, 0xE0000);
    cr_assert_eq(hook_len, 0x20000);
    free(img);
}

Test(loader_rom, accepts_64k_and_16m_and_reloads)
{
    uint8_t *img = rom_image(64 << 10);
    struct machine *m = lt_machine(16, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_rom(m, lt_file("small.bin", img, 64 << 10), &err), 0, "%s", err.msg);
    uint64_t base;
    mach_rom(m, NULL, &base);
    cr_assert_eq(base, 0xFFFF0000ull);
    /* A 64 KiB ROM leaves 0xE0000-0xEFFFF to RAM. */
    uint8_t *host;
    uint64_t run;
    cr_assert_eq(mach_phys_lookup(m, 0xE0000, &host, &run), MACH_PHYS_RAM);
    cr_assert_eq(run, 0x10000);
    cr_assert_eq(mach_phys_lookup(m, 0xF0000, &host, &run), MACH_PHYS_ROM);
    cr_assert_eq(mach_load_rom(m, lt_sparse_file("big.bin", 16 << 20), &err), 0, "%s", err.msg);
    mach_rom(m, NULL, &base);
    cr_assert_eq(base, 0xFF000000ull);
    free(img);
}

Test(loader_rom, rejects_bad_sizes)
{
    uint8_t *img = rom_image(68 << 10);
    expect_fail(lt_file("4k.bin", img, 4 << 10),
                "a ROM image must be a multiple of 64 KiB; this one is 4096 bytes");
    expect_fail(lt_file("68k.bin", img, 68 << 10), "multiple of 64 KiB; this one is 69632 bytes");
    expect_fail(lt_file("odd.bin", img, 65535), "multiple of 64 KiB");
    expect_fail(lt_sparse_file("huge.bin", 32 << 20),
                "33554432 bytes is more than 16 MiB, the largest ROM popek maps");
    expect_fail(lt_file("empty.bin", img, 0), "empty.bin: file is empty");
    free(img);
}

Test(loader_rom, rejects_unusable_files)
{
    expect_fail("/nonexistent/bios.bin", "/nonexistent/bios.bin: cannot open");
    expect_fail(lt_dir(), "is a directory");
}
