/* Multiboot 1 loader: good ELF32 and a.out-kludge kernels land where their
 * headers say with the boot information the spec describes; malformed ones
 * are refused with a message naming the problem and leave RAM untouched. */
#include "tests/unit/loader_fixture.h"

#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(loader_multiboot, .init = lt_setup, .fini = lt_teardown);

#define MB_MAGIC 0x1BADB002u
#define IMG_SIZE 0x3000u
#define KBASE 0x100000u
#define KENTRY (KBASE + 0x20)
#define POISON 0xCC

/* Info structure offsets, typed in from Multiboot 0.6.96 section 3.3. */
enum {
    I_FLAGS = 0, I_MEM_LOWER = 4, I_MEM_UPPER = 8, I_CMDLINE = 16, I_MODS_COUNT = 20,
    I_MODS_ADDR = 24, I_MMAP_LENGTH = 44, I_MMAP_ADDR = 48, I_LOADER_NAME = 64,
};

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 8) + 1); }

static void mb_header(uint8_t *b, size_t off, uint32_t flags)
{
    lt_put32(b + off, MB_MAGIC);
    lt_put32(b + off + 4, flags);
    lt_put32(b + off + 8, -(MB_MAGIC + flags));
}

static Elf32_Ehdr *ehdr(uint8_t *b) { return (Elf32_Ehdr *)b; }
static Elf32_Phdr *phdr(uint8_t *b, unsigned i)
{
    return (Elf32_Phdr *)(b + sizeof(Elf32_Ehdr) + i * sizeof(Elf32_Phdr));
}

/* Text 0x100000-0x100fff from file 0x1000 (with the multiboot header at its
 * start), data 0x101000-0x1017ff from file 0x2000 plus bss to 0x103fff,
 * and a PT_GNU_STACK header the loader must skip. */
static void good_elf(uint8_t *b)
{
    memset(b, 0, IMG_SIZE);
    for (size_t i = 0x1000; i < IMG_SIZE; i++)
        b[i] = pattern(i);
    Elf32_Ehdr *e = ehdr(b);
    memcpy(e->e_ident, ELFMAG, SELFMAG);
    e->e_ident[EI_CLASS] = ELFCLASS32;
    e->e_ident[EI_DATA] = ELFDATA2LSB;
    e->e_ident[EI_VERSION] = EV_CURRENT;
    e->e_type = ET_EXEC;
    e->e_machine = EM_386;
    e->e_version = EV_CURRENT;
    e->e_entry = KENTRY;
    e->e_phoff = sizeof(Elf32_Ehdr);
    e->e_ehsize = sizeof(Elf32_Ehdr);
    e->e_phentsize = sizeof(Elf32_Phdr);
    e->e_phnum = 3;
    *phdr(b, 0) = (Elf32_Phdr){PT_LOAD, 0x1000, KBASE, KBASE, 0x1000, 0x1000, PF_R | PF_X, 0x1000};
    *phdr(b, 1) = (Elf32_Phdr){PT_LOAD, 0x2000, KBASE + 0x1000, KBASE + 0x1000, 0x800, 0x3000,
                               PF_R | PF_W, 0x1000};
    *phdr(b, 2) = (Elf32_Phdr){PT_GNU_STACK, 0, 0, 0, 0, 0, PF_R | PF_W, 16};
    mb_header(b, 0x1000, 0x3);
}

#define AOUT_LOAD 0x200000u
#define AOUT_HDR_OFF 0x40u
#define AOUT_LOAD_OFF 0x20u

/* A flat binary: file offset 0x20 goes to 0x200000, 0x1800 bytes loaded,
 * bss to 0x204000, entry 0x200100. */
static void good_aout(uint8_t *b)
{
    for (size_t i = 0; i < IMG_SIZE; i++)
        b[i] = pattern(i);
    uint8_t *h = b + AOUT_HDR_OFF;
    mb_header(b, AOUT_HDR_OFF, 0x10002);
    lt_put32(h + 12, AOUT_LOAD + AOUT_HDR_OFF - AOUT_LOAD_OFF); /* header_addr */
    lt_put32(h + 16, AOUT_LOAD);                                /* load_addr */
    lt_put32(h + 20, AOUT_LOAD + 0x1800);                       /* load_end_addr */
    lt_put32(h + 24, AOUT_LOAD + 0x4000);                       /* bss_end_addr */
    lt_put32(h + 28, AOUT_LOAD + 0x100);                        /* entry_addr */
}

static void poison(struct machine *m)
{
    memset(mach_ram(m) + KBASE, POISON, 0x300000);
}

static int load(struct machine *m, const uint8_t *b, size_t len, const char *append,
                const struct mach_module *mods, unsigned n, struct mach_err *err)
{
    return mach_load_multiboot(m, lt_file("kernel.elf", b, len), append, mods, n, err);
}

static void expect_fail(const uint8_t *b, size_t len, const char *want)
{
    struct machine *m = lt_machine(128, 0);
    poison(m);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, len, "x", NULL, 0, &err), -1, "loaded; expected \"%s\"", want);
    cr_assert_not_null(strstr(err.msg, want), "message \"%s\" lacks \"%s\"", err.msg, want);
    cr_assert_not_null(strstr(err.msg, "kernel.elf"), "message \"%s\" names no file", err.msg);
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_NONE);
    size_t i = 0;
    while (i < 0x300000 && mach_ram(m)[KBASE + i] == POISON)
        i++;
    cr_assert_eq(i, 0x300000, "RAM at 0x%zx written", KBASE + i);
}

static const uint8_t *info(struct machine *m)
{
    const struct mach_boot *bs = mach_boot_state(m);
    cr_assert_eq(bs->kind, MACH_BOOT_MULTIBOOT);
    cr_assert_eq(bs->eax, 0x2BADB002u);
    cr_assert_lt(bs->ebx + 116ull, mach_ram_size(m));
    return mach_ram(m) + bs->ebx;
}

static const char *str_at(struct machine *m, uint32_t addr)
{
    cr_assert_lt(addr, 0x9FC00u, "string at 0x%x is outside the boot information", addr);
    return (const char *)mach_ram(m) + addr;
}

Test(loader_multiboot, elf_segments_and_bss)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct machine *m = lt_machine(128, 0);
    poison(m);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    const uint8_t *ram = mach_ram(m);
    cr_assert_arr_eq(ram + KBASE, b + 0x1000, 0x1000);
    cr_assert_arr_eq(ram + KBASE + 0x1000, b + 0x2000, 0x800);
    for (size_t a = KBASE + 0x1800; a < KBASE + 0x4000; a++)
        cr_assert_eq(ram[a], 0, "bss byte 0x%zx not zeroed", a);
    cr_assert_eq(ram[KBASE + 0x4000], POISON, "wrote past the image");
    cr_assert_eq(ram[KBASE - 1], 0, "wrote below the image");
    const struct mach_boot *bs = mach_boot_state(m);
    cr_assert_eq(bs->eip, KENTRY);
    cr_assert_eq(bs->ebx & 0xFFF, 0);
    cr_assert_lt(bs->ebx, 0x9FC00u);
    cr_assert_geq(bs->ebx, 0x90000u);
}

Test(loader_multiboot, info_memory_and_map)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    const uint8_t *in = info(m);
    uint32_t flags = lt_get32(in + I_FLAGS);
    /* mem, cmdline, mods, mmap, loader name; no boot device, no video. */
    cr_assert_eq(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    cr_assert_eq(lt_get32(in + I_MEM_LOWER), 639);
    cr_assert_eq(lt_get32(in + I_MEM_UPPER), 127 * 1024);
    cr_assert_str_eq(str_at(m, lt_get32(in + I_LOADER_NAME)), "popek");
    cr_assert_eq(lt_get32(in + I_MODS_COUNT), 0);
    static const struct { uint64_t base, len; uint32_t type; } want[] = {
        {0, 0x9FC00, 1}, {0x9FC00, 0x400, 2}, {0xF0000, 0x10000, 2}, {0x100000, 127 << 20, 1},
    };
    cr_assert_eq(lt_get32(in + I_MMAP_LENGTH), 4 * 24);
    const uint8_t *e = mach_ram(m) + lt_get32(in + I_MMAP_ADDR);
    for (unsigned i = 0; i < 4; i++, e += 24) {
        uint64_t base, len;
        memcpy(&base, e + 4, 8);
        memcpy(&len, e + 12, 8);
        cr_assert_eq(lt_get32(e), 20, "entry %u size field", i);
        cr_assert_eq(base, want[i].base, "entry %u base", i);
        cr_assert_eq(len, want[i].len, "entry %u length", i);
        cr_assert_eq(lt_get32(e + 20), want[i].type, "entry %u type", i);
    }
}

Test(loader_multiboot, map_reserves_rom)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    uint8_t *rom = calloc(1, 128 << 10);
    cr_assert_not_null(rom);
    const char *rom_path = lt_file("bios.bin", rom, 128 << 10);
    free(rom);
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_rom(m, rom_path, &err), 0, "%s", err.msg);
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    const uint8_t *in = info(m);
    cr_assert_eq(lt_get32(in + I_MMAP_LENGTH), 5 * 24);
    const uint8_t *e = mach_ram(m) + lt_get32(in + I_MMAP_ADDR) + 4 * 24;
    uint64_t base, len;
    memcpy(&base, e + 4, 8);
    memcpy(&len, e + 12, 8);
    cr_assert_eq(base, 0xFFFE0000ull);
    cr_assert_eq(len, 128 << 10);
    cr_assert_eq(lt_get32(e + 20), 2, "the ROM is reserved");
}

Test(loader_multiboot, smallest_ram_has_no_upper_memory)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    for (unsigned i = 0; i < 2; i++)
        phdr(b, i)->p_paddr = phdr(b, i)->p_vaddr = phdr(b, i)->p_paddr - KBASE + 0x10000;
    ehdr(b)->e_entry = 0x10020;
    struct machine *m = lt_machine(1, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    const uint8_t *in = info(m);
    cr_assert_eq(lt_get32(in + I_MEM_UPPER), 0);
    cr_assert_eq(lt_get32(in + I_MMAP_LENGTH), 3 * 24, "no empty RAM entry above 1 MiB");
    cr_assert_arr_eq(mach_ram(m) + 0x10000, b + 0x1000, 0x1000);
}

Test(loader_multiboot, cmdline_is_path_then_append)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    char want[256];
    cr_assert_eq(load(m, b, IMG_SIZE, "console=ttyS0 quiet", NULL, 0, &err), 0, "%s", err.msg);
    snprintf(want, sizeof(want), "%s/kernel.elf console=ttyS0 quiet", lt_dir());
    cr_assert_str_eq(str_at(m, lt_get32(info(m) + I_CMDLINE)), want);
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    snprintf(want, sizeof(want), "%s/kernel.elf", lt_dir());
    cr_assert_str_eq(str_at(m, lt_get32(info(m) + I_CMDLINE)), want);
    cr_assert_eq(load(m, b, IMG_SIZE, NULL, NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_str_eq(str_at(m, lt_get32(info(m) + I_CMDLINE)), want);
}

Test(loader_multiboot, modules_page_aligned_after_kernel)
{
    static uint8_t b[IMG_SIZE], m0[5000], m1[100];
    good_elf(b);
    for (size_t i = 0; i < sizeof(m0); i++)
        m0[i] = (uint8_t)(i ^ 0xA5);
    memset(m1, 0x3C, sizeof(m1));
    struct mach_module mods[] = {
        {lt_file("initrd", m0, sizeof(m0)), "initrd root=/dev/ram0"},
        {lt_file("extra", m1, sizeof(m1)), NULL},
    };
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", mods, 2, &err), 0, "%s", err.msg);
    const uint8_t *in = info(m);
    cr_assert_eq(lt_get32(in + I_MODS_COUNT), 2);
    const uint8_t *list = mach_ram(m) + lt_get32(in + I_MODS_ADDR);
    uint32_t s0 = lt_get32(list), e0 = lt_get32(list + 4);
    uint32_t s1 = lt_get32(list + 16), e1 = lt_get32(list + 20);
    cr_assert_eq(s0, KBASE + 0x4000, "first module right after the kernel's bss");
    cr_assert_eq(e0, s0 + sizeof(m0));
    cr_assert_eq(s1, KBASE + 0x6000, "second module page aligned after the first");
    cr_assert_eq(e1, s1 + sizeof(m1));
    cr_assert_arr_eq(mach_ram(m) + s0, m0, sizeof(m0));
    cr_assert_arr_eq(mach_ram(m) + s1, m1, sizeof(m1));
    cr_assert_str_eq(str_at(m, lt_get32(list + 8)), "initrd root=/dev/ram0");
    cr_assert_str_eq(str_at(m, lt_get32(list + 24)), mods[1].path, "no string: the path");
    cr_assert_eq(lt_get32(list + 12), 0);
}

Test(loader_multiboot, module_missing_or_too_big)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct mach_module missing = {"/nonexistent/initrd", "initrd"};
    struct machine *m = lt_machine(2, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", &missing, 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/initrd: cannot open"), "%s", err.msg);
    struct mach_module big = {lt_sparse_file("big", 1 << 20), "big"};
    cr_assert_eq(load(m, b, IMG_SIZE, "", &big, 1, &err), -1);
    cr_assert_not_null(strstr(err.msg, "module 0"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "beyond the 2 MiB of guest RAM"), "%s", err.msg);
    cr_assert_eq(mach_boot_state(m)->kind, MACH_BOOT_NONE);
}

Test(loader_multiboot, entry_translated_from_virtual)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    phdr(b, 0)->p_vaddr = 0xC0100000;
    ehdr(b)->e_entry = 0xC0100020;
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(mach_boot_state(m)->eip, KENTRY);
}

Test(loader_multiboot, video_request_boots_in_text_mode)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    mb_header(b, 0x1000, 0x7);
    lt_put32(b + 0x1000 + 32, 0); /* mode_type 0: linear graphics */
    lt_put32(b + 0x1000 + 36, 1024);
    lt_put32(b + 0x1000 + 40, 768);
    lt_put32(b + 0x1000 + 44, 32);
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(lt_get32(info(m) + I_FLAGS) & ((1u << 11) | (1u << 12)), 0);
}

Test(loader_multiboot, aout_kludge)
{
    static uint8_t b[IMG_SIZE];
    good_aout(b);
    struct machine *m = lt_machine(128, 0);
    poison(m);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    const uint8_t *ram = mach_ram(m);
    cr_assert_arr_eq(ram + AOUT_LOAD, b + AOUT_LOAD_OFF, 0x1800);
    for (size_t a = AOUT_LOAD + 0x1800; a < AOUT_LOAD + 0x4000; a++)
        cr_assert_eq(ram[a], 0, "bss byte 0x%zx not zeroed", a);
    cr_assert_eq(ram[AOUT_LOAD + 0x4000], POISON);
    cr_assert_eq(mach_boot_state(m)->eip, AOUT_LOAD + 0x100);
}

Test(loader_multiboot, aout_kludge_whole_file_no_bss)
{
    static uint8_t b[IMG_SIZE];
    good_aout(b);
    lt_put32(b + AOUT_HDR_OFF + 20, 0);
    lt_put32(b + AOUT_HDR_OFF + 24, 0);
    struct machine *m = lt_machine(128, 0);
    poison(m);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_arr_eq(mach_ram(m) + AOUT_LOAD, b + AOUT_LOAD_OFF, IMG_SIZE - AOUT_LOAD_OFF);
    cr_assert_eq(mach_ram(m)[AOUT_LOAD + IMG_SIZE - AOUT_LOAD_OFF], POISON);
}

/* ---- refused images ---- */

Test(loader_multiboot, rejects_bad_headers)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    expect_fail(b, 10, "no multiboot header");
    memset(b + 0x1000, 0, 12);
    expect_fail(b, IMG_SIZE, "no multiboot header");
    good_elf(b);
    lt_put32(b + 0x1008, lt_get32(b + 0x1008) + 1);
    expect_fail(b, IMG_SIZE, "bad checksum");
    good_elf(b);
    memset(b + 0x1000, 0, 12);
    mb_header(b, 0x2000, 0x3);
    expect_fail(b, IMG_SIZE, "beyond the first 8192 bytes");
    good_elf(b);
    mb_header(b, 0x1000, 0x3 | (1u << 3));
    expect_fail(b, IMG_SIZE, "requires feature flags 0x8");
    mb_header(b, 0x1000, 0x3 | (1u << 15));
    expect_fail(b, IMG_SIZE, "bit 15");
    /* Optional bits 17-31 that popek does not know are fine. */
    mb_header(b, 0x1000, 0x3 | (1u << 20));
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
}

Test(loader_multiboot, rejects_header_cut_short)
{
    static uint8_t b[IMG_SIZE];
    good_aout(b);
    memset(b + AOUT_HDR_OFF, 0, 12);
    mb_header(b, 0x100, 0x10002);
    expect_fail(b, 0x110, "need 32 header bytes, but the file ends at 0x110");
    good_elf(b);
    memset(b + 0x1000, 0, 12);
    mb_header(b, 8192 - 24, 0x7);
    expect_fail(b, IMG_SIZE, "need 48 header bytes, but the 8192-byte search window ends");
}

Test(loader_multiboot, rejects_bad_elf_identity)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    ehdr(b)->e_machine = EM_X86_64;
    expect_fail(b, IMG_SIZE, "not the Intel 80386");
    good_elf(b);
    ehdr(b)->e_ident[EI_CLASS] = ELFCLASS64;
    expect_fail(b, IMG_SIZE, "not ELFCLASS32 (a 64-bit kernel");
    good_elf(b);
    ehdr(b)->e_ident[EI_DATA] = ELFDATA2MSB;
    expect_fail(b, IMG_SIZE, "not little-endian");
    good_elf(b);
    ehdr(b)->e_type = ET_DYN;
    expect_fail(b, IMG_SIZE, "not an executable");
    good_elf(b);
    b[0] = 'X';
    expect_fail(b, IMG_SIZE, "not an ELF file");
    good_elf(b);
    ehdr(b)->e_phentsize = 40;
    expect_fail(b, IMG_SIZE, "program header size 40");
}

Test(loader_multiboot, rejects_truncated_elf)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    /* The header survives but the data segment does not. */
    expect_fail(b, 0x2400, "program header 1: its 0x800 bytes at file offset 0x2000 lie beyond "
                           "the end of the file (9216 bytes)");
    good_elf(b);
    memmove(b + 0x20, b + 0x1000, 12);
    expect_fail(b, 0x2C, "truncated ELF header");
    good_elf(b);
    ehdr(b)->e_phoff = IMG_SIZE - 40;
    expect_fail(b, IMG_SIZE, "program header table (3 entries at offset 0x2fd8) lies beyond");
    good_elf(b);
    ehdr(b)->e_phoff = 0xFFFFFFF0;
    expect_fail(b, IMG_SIZE, "program header table");
}

Test(loader_multiboot, rejects_bad_segments)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    phdr(b, 1)->p_filesz = 0x3001;
    expect_fail(b, IMG_SIZE, "program header 1 has a file size (0x3001) larger than its memory");
    good_elf(b);
    phdr(b, 1)->p_paddr = KBASE + 0xF00;
    expect_fail(b, IMG_SIZE, "program header 1 (0x100f00-0x103eff) overlaps program header 0");
    good_elf(b);
    phdr(b, 1)->p_type = PT_NOTE;
    phdr(b, 0)->p_type = PT_NULL;
    expect_fail(b, IMG_SIZE, "no loadable (PT_LOAD) segment");
    good_elf(b);
    ehdr(b)->e_entry = 0x5000000;
    expect_fail(b, IMG_SIZE, "entry point 0x5000000 is not inside any loadable segment");
}

Test(loader_multiboot, rejects_segments_out_of_place)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    phdr(b, 1)->p_paddr = 0x7FFF000;
    phdr(b, 1)->p_memsz = 0x2000;
    expect_fail(b, IMG_SIZE, "program header 1 places 0x2000 bytes at 0x7fff000, beyond the "
                             "128 MiB of guest RAM");
    good_elf(b);
    phdr(b, 1)->p_paddr = 0xFFFFF000;
    expect_fail(b, IMG_SIZE, "wrapping past 4 GiB");
    good_elf(b);
    phdr(b, 1)->p_paddr = 0x800;
    expect_fail(b, IMG_SIZE, "at 0x800, in the first 4 KiB");
    good_elf(b);
    phdr(b, 1)->p_paddr = 0x9C800;
    expect_fail(b, IMG_SIZE, "over the multiboot information");
    good_elf(b);
    phdr(b, 1)->p_paddr = 0xB8000;
    expect_fail(b, IMG_SIZE, "over the EBDA, VGA and BIOS area 0x9fc00-0xfffff");
}

Test(loader_multiboot, rejects_image_bigger_than_ram)
{
    struct machine *m = lt_machine(1, 0);
    struct mach_err err = {{0}};
    const char *p = lt_sparse_file("huge.elf", 2 << 20);
    cr_assert_eq(mach_load_multiboot(m, p, "", NULL, 0, &err), -1);
    cr_assert_not_null(strstr(err.msg, "2097152 bytes is more than the 1 MiB of guest RAM"),
                       "%s", err.msg);
}

Test(loader_multiboot, rejects_unusable_files)
{
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    cr_assert_eq(mach_load_multiboot(m, "/nonexistent/kernel", "", NULL, 0, &err), -1);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/kernel: cannot open: No such file"), "%s",
                       err.msg);
    cr_assert_eq(mach_load_multiboot(m, lt_dir(), "", NULL, 0, &err), -1);
    cr_assert_not_null(strstr(err.msg, "is a directory"), "%s", err.msg);
    cr_assert_eq(mach_load_multiboot(m, lt_file("empty", "", 0), "", NULL, 0, &err), -1);
    cr_assert_not_null(strstr(err.msg, "file is empty"), "%s", err.msg);
    cr_assert_eq(mach_load_multiboot(m, "/dev/null", "", NULL, 0, &err), -1);
    cr_assert_not_null(strstr(err.msg, "/dev/null: not a regular file"), "%s", err.msg);
}

Test(loader_multiboot, rejects_oversized_boot_information)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    size_t n = 70000;
    char *append = malloc(n + 1);
    cr_assert_not_null(append);
    memset(append, 'a', n);
    append[n] = 0;
    struct machine *m = lt_machine(128, 0);
    struct mach_err err = {{0}};
    int r = load(m, b, IMG_SIZE, append, NULL, 0, &err);
    free(append);
    cr_assert_eq(r, -1);
    cr_assert_not_null(strstr(err.msg, "more than the 64 KiB"), "%s", err.msg);
}

Test(loader_multiboot, rejects_inconsistent_aout_fields)
{
    static const struct {
        unsigned field; /* header offset */
        uint32_t value;
        const char *want;
    } cases[] = {
        {16, AOUT_LOAD + 0x100, "load_addr 0x200100 is above header_addr 0x200020"},
        {12, AOUT_LOAD + 0x1000, "loading would start before the file"},
        {20, AOUT_LOAD, "load_end_addr 0x200000 is not above load_addr"},
        {20, AOUT_LOAD + 0x10000, "past the end of the file"},
        {20, AOUT_LOAD + 0x30, "is not inside the loaded image"},
        {24, AOUT_LOAD + 0x17FF, "bss_end_addr 0x2017ff is below the end of the loaded image"},
        {28, AOUT_LOAD + 0x1800, "entry_addr 0x201800 is outside the loaded image"},
        {28, AOUT_LOAD - 1, "entry_addr 0x1fffff is outside"},
        {24, 0xFFFFFFFF, "places 0xffdfffff bytes at 0x200000, beyond the 128 MiB"},
    };
    static uint8_t b[IMG_SIZE];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        good_aout(b);
        lt_put32(b + AOUT_HDR_OFF + cases[i].field, cases[i].value);
        expect_fail(b, IMG_SIZE, cases[i].want);
    }
    static const struct {
        uint32_t load_addr;
        const char *want;
    } whole_file[] = {
        {0x7FFF000, "a.out kludge image places 0x2fe0 bytes at 0x7fff000, beyond the 128 MiB"},
        {0xFFFFF000, "a.out kludge image places 0x2fe0 bytes at 0xfffff000, wrapping past 4 GiB"},
    };
    for (size_t i = 0; i < sizeof(whole_file) / sizeof(whole_file[0]); i++) {
        good_aout(b);
        uint32_t at = whole_file[i].load_addr;
        lt_put32(b + AOUT_HDR_OFF + 12, at + AOUT_HDR_OFF - AOUT_LOAD_OFF);
        lt_put32(b + AOUT_HDR_OFF + 16, at);
        lt_put32(b + AOUT_HDR_OFF + 20, 0);
        lt_put32(b + AOUT_HDR_OFF + 24, 0);
        lt_put32(b + AOUT_HDR_OFF + 28, at + 0x100);
        expect_fail(b, IMG_SIZE, whole_file[i].want);
    }
}

/* ---- observability ---- */

static uint64_t written_lo = UINT64_MAX, written_hi;
static unsigned written_calls;

static void on_code_written(void *opaque, uint64_t paddr, uint64_t len)
{
    (void)opaque;
    written_calls++;
    if (paddr < written_lo)
        written_lo = paddr;
    if (paddr + len > written_hi)
        written_hi = paddr + len;
    if (paddr < 0x100000)
        cr_assert_geq(paddr, 0x90000, "unexpected write at 0x%llx", (unsigned long long)paddr);
}

Test(loader_multiboot, reports_writes_to_code_hook)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct machine *m = lt_machine(128, 0);
    mach_set_hooks(m, &(struct mach_hooks){.code_written = on_code_written});
    struct mach_err err = {{0}};
    cr_assert_eq(load(m, b, IMG_SIZE, "", NULL, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(written_calls, 3, "two segments and the information");
    cr_assert_eq(written_lo, mach_boot_state(m)->ebx);
    cr_assert_eq(written_hi, KBASE + 0x4000);
}

Test(loader_multiboot, traces_placement)
{
    static uint8_t b[IMG_SIZE];
    good_elf(b);
    struct machine *m = lt_machine(128, MACH_TRACE_LOAD);
    char log[] = "/tmp/popek-loader-trace-XXXXXX";
    int fd = mkstemp(log);
    cr_assert_geq(fd, 0);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    struct mach_err err = {{0}};
    int r = load(m, b, IMG_SIZE, "", NULL, 0, &err);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[2048] = {0};
    cr_assert_geq(pread(fd, text, sizeof(text) - 1, 0), 0);
    close(fd);
    unlink(log);
    cr_assert_eq(r, 0, "%s", err.msg);
    cr_assert_not_null(strstr(text, "program header 1: 0x101000-0x103fff, 0x800 bytes from "
                                    "file offset 0x2000, 0x2800 zeroed"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "entry 0x100020"), "%s", text);
}

/* ---- robustness: mutated images must load or fail cleanly ---- */

static uint32_t rng_state = 0x12345678;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static uint32_t interesting(void)
{
    static const uint32_t v[] = {0,          1,          0x1000,     0x9F000,   0xFFFFF,
                                 0x100000,   0x7FFFFFF,  0x8000000,  0x7FFFFFFF, 0x80000000,
                                 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFE, IMG_SIZE,  IMG_SIZE + 1};
    return (rng() & 1) ? v[rng() % (sizeof(v) / sizeof(v[0]))] : rng();
}

static void mutate_and_load(struct machine *m, uint8_t *b, size_t hot, size_t hot_len)
{
    for (unsigned k = 1 + rng() % 3; k > 0; k--)
        lt_put32(b + hot + (rng() % (hot_len / 4)) * 4, interesting());
    size_t len = (rng() % 8) ? IMG_SIZE : rng() % IMG_SIZE + 1;
    struct mach_err err = {{0}};
    if (load(m, b, len, "a", NULL, 0, &err) < 0)
        cr_assert_neq(err.msg[0], 0, "failure without a message");
}

Test(loader_multiboot, survives_mutated_images)
{
    static uint8_t b[IMG_SIZE];
    struct machine *m = lt_machine(128, 0);
    for (unsigned i = 0; i < 1500; i++) {
        good_elf(b);
        if (rng() & 1)
            mutate_and_load(m, b, 0, sizeof(Elf32_Ehdr) + 3 * sizeof(Elf32_Phdr));
        else
            mutate_and_load(m, b, 0x1000, 12);
        good_aout(b);
        mb_header(b, AOUT_HDR_OFF, 0x10002 | (rng() & 4));
        mutate_and_load(m, b, AOUT_HDR_OFF + 12, 36);
    }
}
