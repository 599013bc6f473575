/* The .text section of an ELF32 file, for tests and benchmarks that walk
 * real i386 code (the i386 libc, guest kit objects). */
#ifndef POPEK_TESTS_ELF32_TEXT_H
#define POPEK_TESTS_ELF32_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Reads path's ".text" into a malloc'd buffer (*text, *len; *addr is its
 * sh_addr). Returns 0, or -1 with a reason in why (size whylen) when the
 * file is missing, not ELF32 little-endian, or has no .text. */
int elf32_read_text(const char *path, uint8_t **text, size_t *len, uint32_t *addr,
                    char *why, size_t whylen);

#endif
