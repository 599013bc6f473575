/* Fuzz target: the ROM loader, and what the physical address space looks
 * like after it. Input: byte 0 selects padding (bit 0: zero-pad the image
 * to whole 64 KiB units so that most inputs load), bytes 1-8 two physical
 * addresses to read back; the rest is the image. */
#include "tests/fuzz/fuzz.h"

#include "machine/machine.h"

#include <stdlib.h>
#include <string.h>

#define UNIT 0x10000u
#define RAM_BYTES (2u << 20)

static void check_mapped(struct machine *m, const uint8_t *img, size_t size, uint32_t probe)
{
    uint8_t v[16];
    if (!mach_phys_read(m, 0xFFFFFFF0u, v, 16) || memcmp(v, img + size - 16, 16))
        fuzz_fail("the reset vector does not show the image's last 16 bytes");
    if (!mach_phys_read(m, 0xFFFF0u, v, 16) || memcmp(v, img + size - 16, 16))
        fuzz_fail("0xFFFF0 does not alias the image's last 16 bytes");
    /* Any probe: reads never fault the host; ROM bytes match the image. */
    uint8_t *host;
    uint64_t run;
    enum mach_phys_kind k = mach_phys_lookup(m, probe, &host, &run);
    uint8_t b[8];
    bool ok = mach_phys_read(m, probe, b, sizeof(b));
    uint64_t base = 0x100000000ull - size;
    if (k == MACH_PHYS_ROM && probe >= base && (run == 0 || host[0] != img[probe - base]))
        fuzz_fail("ROM lookup at 0x%x disagrees with the image", probe);
    if (ok && probe >= base && probe <= 0xFFFFFFF8u && memcmp(b, img + (probe - base), 8))
        fuzz_fail("ROM read at 0x%x disagrees with the image", probe);
    /* Writes to ROM are dropped (the flash is read-only to the guest). */
    uint8_t junk[4] = {0xA5, 0x5A, 0xC3, 0x3C};
    mach_phys_write(m, probe, junk, sizeof(junk));
    bool reread = mach_phys_read(m, probe, b, 4);
    if (probe >= base && probe <= 0xFFFFFFFCu && (!reread || memcmp(b, img + (probe - base), 4)))
        fuzz_fail("a write at 0x%x changed the ROM", probe);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    uint32_t probe;
    memcpy(&probe, data + 1, 4);
    bool pad = data[0] & 1;
    const uint8_t *body = data + 9;
    size_t len = size - 9;
    size_t img_size = pad ? (len + UNIT - 1) / UNIT * UNIT : len;
    if (pad && img_size == 0)
        img_size = UNIT;
    uint8_t *img = calloc(1, img_size ? img_size : 1);
    if (!img)
        return 0;
    memcpy(img, body, len);
    struct mach_config cfg = {.ram_bytes = RAM_BYTES};
    struct mach_err err = {{0}};
    struct machine *m = mach_create(&cfg, &err);
    if (!m)
        fuzz_fail("mach_create: %s", err.msg);
    const char *path = fuzz_memfd_path(0, img, img_size);
    if (mach_load_rom(m, path, &err) == 0) {
        if (img_size % UNIT || img_size > (16u << 20))
            fuzz_fail("a ROM of %zu bytes was accepted", img_size);
        check_mapped(m, img, img_size, probe);
        /* A raw image over the alias must now be refused. */
        const char *raw = fuzz_memfd_path(1, img, 32);
        if (mach_load_raw(m, raw, 0xF0000u - 16, 0xF0000u - 16, MACH_BOOT_REAL, &err) == 0)
            fuzz_fail("a raw image over the ROM alias at 0xF0000 was accepted");
    } else if (!err.msg[0]) {
        fuzz_fail("a refused ROM got no message");
    }
    mach_destroy(m);
    free(img);
    return 0;
}
