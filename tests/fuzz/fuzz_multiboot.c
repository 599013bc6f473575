/* Fuzz target: the Multiboot 1 loader (header search, ELF32 program
 * headers, the a.out kludge, module placement, the boot information) on a
 * kernel image of arbitrary bytes. The kernel is loaded with a command line
 * and one module (the input's first bytes), so the information builder
 * and module placement run on every image the loader accepts. */
#include "tests/fuzz/fuzz.h"

#include "machine/machine.h"

#include <string.h>

#define RAM_BYTES (8u << 20)
#define MB_BOOT_MAGIC 0x2BADB002u
#define EBDA_BASE 0x9FC00u

static struct machine *machine(void)
{
    static struct machine *m;
    if (!m) {
        struct mach_config cfg = {.ram_bytes = RAM_BYTES};
        struct mach_err err = {{0}};
        m = mach_create(&cfg, &err);
        if (!m)
            fuzz_fail("mach_create: %s", err.msg);
    }
    return m;
}

static uint32_t get32(struct machine *m, uint32_t addr)
{
    uint32_t v = 0;
    if (!mach_phys_read(m, addr, &v, sizeof(v)))
        fuzz_fail("boot information at 0x%x is not in RAM", addr);
    return v;
}

/* What the kernel is told must describe memory that exists. */
static void check_loaded(struct machine *m, size_t mod_size)
{
    const struct mach_boot *b = mach_boot_state(m);
    if (b->kind != MACH_BOOT_MULTIBOOT || b->eax != MB_BOOT_MAGIC)
        fuzz_fail("accepted kernel left boot kind %d, eax 0x%x", b->kind, b->eax);
    if (b->eip >= RAM_BYTES || b->eip < 0x1000)
        fuzz_fail("accepted kernel has entry 0x%x outside loadable RAM", b->eip);
    if (b->ebx >= EBDA_BASE || b->ebx < 0x1000)
        fuzz_fail("boot information at 0x%x is not below the EBDA", b->ebx);
    uint32_t mods = get32(m, b->ebx + 24);
    uint32_t start = get32(m, mods), end = get32(m, mods + 4);
    if (get32(m, b->ebx + 20) != 1 || end - start != mod_size || end > RAM_BYTES ||
        start < 0x100000)
        fuzz_fail("module placed at 0x%x-0x%x for %zu bytes", start, end, mod_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct machine *m = machine();
    size_t mod_size = size < 64 ? (size ? size : 1) : 64;
    const char *mod_path = fuzz_memfd_path(1, size ? data : (const uint8_t *)"", mod_size);
    struct mach_module mod = {mod_path, "module argument"};
    const char *path = fuzz_memfd_path(0, data, size);
    struct mach_err err = {{0}};
    if (mach_load_multiboot(m, path, "console=ttyS0 fuzz", &mod, 1, &err) == 0)
        check_loaded(m, mod_size);
    else if (!err.msg[0])
        fuzz_fail("a refused kernel got no message");
    return 0;
}
