/* Shared by the loader tests: a machine to load into and image files in a
 * temporary directory that lives as long as one test. */
#ifndef POPEK_TESTS_LOADER_FIXTURE_H
#define POPEK_TESTS_LOADER_FIXTURE_H

#include "machine/machine.h"

/* Criterion .init/.fini: make and remove the test's directory. */
void lt_setup(void);
void lt_teardown(void);

/* A machine with ram_mib MiB of RAM (freed by lt_teardown). */
struct machine *lt_machine(uint64_t ram_mib, unsigned trace);
/* Writes data to a file of that name in the test directory; returns its
 * path, valid until lt_teardown. */
const char *lt_file(const char *name, const void *data, size_t len);
/* A file of `size` bytes that takes no disk space. */
const char *lt_sparse_file(const char *name, uint64_t size);
/* The test directory itself (a directory, not an image). */
const char *lt_dir(void);

/* Little-endian 32-bit access for building and checking structures. */
void lt_put32(uint8_t *p, uint32_t v);
uint32_t lt_get32(const uint8_t *p);

#endif
