/* Seeded random guest programs for the robustness test (fuzz_guests.c). */
#ifndef POPEK_TESTS_FUZZ_GUEST_GEN_H
#define POPEK_TESTS_FUZZ_GUEST_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where images go: RAM is small so that random addresses often miss it. */
#define FG_RAM_BYTES (2u << 20)
#define FG_LOAD_REAL 0x1000u
#define FG_LOAD_FLAT32 0x10000u
#define FG_MAX_IMAGE 4096u

enum fg_style {
    FG_RANDOM_BYTES,  /* uniformly random bytes */
    FG_STRUCTURED,    /* random instructions from a table, privileged ones
                       * included, on whatever IDT/IVT the boot left */
    FG_WITH_HANDLER,  /* the same after installing an IDT/IVT whose every
                       * vector counts and IRETs, ending the run after
                       * 40 events through the debug-exit port */
    FG_STYLE_COUNT_,
};

struct fg_image {
    uint8_t bytes[FG_MAX_IMAGE];
    size_t len;
    bool real;     /* real mode at FG_LOAD_REAL, else flat 32-bit at FG_LOAD_FLAT32 */
    uint32_t load; /* load address = entry */
};

void fg_generate(uint64_t seed, enum fg_style style, bool real, struct fg_image *img);

#endif
