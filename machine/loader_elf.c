/* ELF32 i386 executables as a Multiboot loader sees them: the program
 * headers' PT_LOAD segments at their physical addresses (System V ABI,
 * "Program Loading"; Multiboot 0.6.96 section 3.3: without the a.out kludge
 * the loader follows the ELF program headers). */
#include "machine/loader.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(Elf32_Ehdr) == 52, "ELF32 file header is 52 bytes");
_Static_assert(sizeof(Elf32_Phdr) == 32, "ELF32 program header is 32 bytes");
_Static_assert(EM_386 == 3 && ET_EXEC == 2 && PT_LOAD == 1, "ELF constants");

static int check_ehdr(const struct mach_file *f, const Elf32_Ehdr *eh, struct mach_err *err)
{
    const unsigned char *id = eh->e_ident;
    if (id[EI_CLASS] != ELFCLASS32)
        return mach_errf(err, "%s: ELF class %u is not ELFCLASS32 (%s)", f->path,
                         id[EI_CLASS],
                         id[EI_CLASS] == ELFCLASS64 ? "a 64-bit kernel; popek runs 32-bit guests"
                                                    : "unknown class");
    if (id[EI_DATA] != ELFDATA2LSB)
        return mach_errf(err, "%s: ELF data encoding %u is not little-endian (ELFDATA2LSB)",
                         f->path, id[EI_DATA]);
    if (id[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
        return mach_errf(err, "%s: ELF version %u/%u is not EV_CURRENT (1)", f->path,
                         id[EI_VERSION], eh->e_version);
    if (eh->e_type != ET_EXEC)
        return mach_errf(err, "%s: ELF type %u is not an executable (ET_EXEC = 2)", f->path,
                         eh->e_type);
    if (eh->e_machine != EM_386)
        return mach_errf(err, "%s: ELF machine %u is not the Intel 80386 (EM_386 = 3)",
                         f->path, eh->e_machine);
    if (eh->e_phnum == 0)
        return mach_errf(err, "%s: ELF file has no program headers", f->path);
    if (eh->e_phentsize != sizeof(Elf32_Phdr))
        return mach_errf(err, "%s: ELF program header size %u, expected %zu", f->path,
                         eh->e_phentsize, sizeof(Elf32_Phdr));
    uint64_t table_end = (uint64_t)eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr);
    if (table_end > f->size)
        return mach_errf(err,
                         "%s: ELF program header table (%u entries at offset 0x%x) lies "
                         "beyond the end of the file (%zu bytes)",
                         f->path, eh->e_phnum, eh->e_phoff, f->size);
    return 0;
}

static int add_segment(const struct mach_file *f, unsigned index, const Elf32_Phdr *ph,
                       struct mach_load_image *img, struct mach_err *err)
{
    if (ph->p_filesz > ph->p_memsz)
        return mach_errf(err,
                         "%s: program header %u has a file size (0x%x) larger than its "
                         "memory size (0x%x)",
                         f->path, index, ph->p_filesz, ph->p_memsz);
    if (ph->p_memsz == 0)
        return 0;
    if ((uint64_t)ph->p_offset + ph->p_filesz > f->size)
        return mach_errf(err,
                         "%s: program header %u: its 0x%x bytes at file offset 0x%x lie "
                         "beyond the end of the file (%zu bytes)",
                         f->path, index, ph->p_filesz, ph->p_offset, f->size);
    if (img->nsegs == MACH_LOAD_MAX_SEGS)
        return mach_errf(err, "%s: more than %d loadable segments", f->path,
                         MACH_LOAD_MAX_SEGS);
    struct mach_load_seg *s = &img->seg[img->nsegs++];
    snprintf(s->what, sizeof(s->what), "program header %u", index);
    s->paddr = ph->p_paddr;
    s->offset = ph->p_offset;
    s->filesz = ph->p_filesz;
    s->memsz = ph->p_memsz;
    return 0;
}

/* A kernel linked to run high (virtual != physical, as with AT() in a
 * linker script) names its entry by virtual address; like GRUB, translate
 * it through the segment that contains it. */
static int find_entry(const struct mach_file *f, uint32_t e_entry, const uint32_t *vaddr,
                      struct mach_load_image *img, struct mach_err *err)
{
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct mach_load_seg *s = &img->seg[i];
        if (e_entry >= vaddr[i] && e_entry - vaddr[i] < s->memsz) {
            img->entry = (uint32_t)(s->paddr + (e_entry - vaddr[i]));
            return 0;
        }
    }
    for (unsigned i = 0; i < img->nsegs; i++) {
        const struct mach_load_seg *s = &img->seg[i];
        if (e_entry >= s->paddr && e_entry - s->paddr < s->memsz) {
            img->entry = e_entry;
            return 0;
        }
    }
    return mach_errf(err, "%s: ELF entry point 0x%x is not inside any loadable segment",
                     f->path, e_entry);
}

int mach_elf32_parse(const struct mach_file *f, struct mach_load_image *img,
                     struct mach_err *err)
{
    Elf32_Ehdr eh;
    img->nsegs = 0;
    if (f->size < SELFMAG || memcmp(f->data, ELFMAG, SELFMAG) != 0)
        return mach_errf(err,
                         "%s: not an ELF file, and its multiboot header does not set flag "
                         "16 (a.out kludge) to say where to load it",
                         f->path);
    if (f->size < sizeof(eh))
        return mach_errf(err, "%s: truncated ELF header: the file is %zu bytes, the header %zu",
                         f->path, f->size, sizeof(eh));
    memcpy(&eh, f->data, sizeof(eh));
    if (check_ehdr(f, &eh, err) < 0)
        return -1;
    uint32_t vaddr[MACH_LOAD_MAX_SEGS];
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, f->data + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD)
            continue;
        unsigned before = img->nsegs;
        if (add_segment(f, i, &ph, img, err) < 0)
            return -1;
        if (img->nsegs != before)
            vaddr[before] = ph.p_vaddr;
    }
    if (img->nsegs == 0)
        return mach_errf(err, "%s: ELF file has no loadable (PT_LOAD) segment", f->path);
    return find_entry(f, eh.e_entry, vaddr, img, err);
}
