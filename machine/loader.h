/* machine/ internal: what the image loaders share. Only the loader files
 * and their unit tests include this. */
#ifndef POPEK_MACHINE_LOADER_H
#define POPEK_MACHINE_LOADER_H

#include "machine/machine_internal.h"

/* A whole image file read into host memory. */
struct mach_file {
    const char *path;
    uint8_t *data;
    size_t size;
};

/* Reads all of path into f. Fails, naming the file, when it is missing,
 * unreadable, not a regular file, empty, larger than `limit` bytes
 * (`limit_what` says what the limit is, e.g. "the 128 MiB of guest RAM") or
 * shorter than its size said. */
int mach_file_read(const char *path, uint64_t limit, const char *limit_what,
                   struct mach_file *f, struct mach_err *err);
void mach_file_free(struct mach_file *f);

/* Copies len bytes of src to RAM at paddr and zeroes the following zero_len
 * bytes, then reports the whole range to the code-write hook. The caller
 * has checked that the range is RAM no ROM alias hides. */
void mach_load_place(struct machine *m, uint64_t paddr, const void *src, uint64_t len,
                     uint64_t zero_len);

/* ---- executable images (multiboot kernels) ---- */

/* Real kernels have a handful of loadable segments; the cap keeps the
 * overlap check quadratic-but-small. */
#define MACH_LOAD_MAX_SEGS 64

struct mach_load_seg {
    char what[32];   /* "program header 2", "a.out kludge image", ... */
    uint64_t paddr;  /* where it goes in guest physical memory */
    uint64_t offset; /* its bytes in the file */
    uint64_t filesz; /* bytes copied from the file */
    uint64_t memsz;  /* bytes occupied; the rest after filesz is zeroed */
};

struct mach_load_image {
    struct mach_load_seg seg[MACH_LOAD_MAX_SEGS];
    unsigned nsegs;
    uint32_t entry; /* physical */
};

/* Parses an ELF32 i386 executable into its loadable segments and physical
 * entry point. Checks the file's own consistency only (headers, offsets,
 * sizes); where the segments land is the caller's to check. */
int mach_elf32_parse(const struct mach_file *f, struct mach_load_image *img,
                     struct mach_err *err);

#endif
