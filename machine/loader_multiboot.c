/* Multiboot 1 (specification 0.6.96): the kernel's header, its image (ELF32
 * or the a.out kludge), modules, and the boot information the kernel finds
 * in EBX. Everything is validated before one byte of guest RAM is written,
 * so a refused image leaves the machine as it was. */
#include "machine/loader.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "multiboot structures are read and written in host byte order");

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH_BYTES 8192 /* spec 3.1.1: header within the first 8 KiB */

/* Header flags (spec 3.1.2). Bits 0-15 are requirements: a loader that
 * does not understand one must refuse the kernel. */
#define MB_HF_PAGE_ALIGN (1u << 0)
#define MB_HF_MEMORY_INFO (1u << 1)
#define MB_HF_VIDEO_MODE (1u << 2)
#define MB_HF_AOUT_KLUDGE (1u << 16)
#define MB_HF_REQUIRED 0xFFFFu
#define MB_HF_SUPPORTED (MB_HF_PAGE_ALIGN | MB_HF_MEMORY_INFO | MB_HF_VIDEO_MODE)

/* Boot information flags (spec 3.3). */
#define MB_IF_MEMORY (1u << 0)
#define MB_IF_CMDLINE (1u << 2)
#define MB_IF_MODS (1u << 3)
#define MB_IF_MMAP (1u << 6)
#define MB_IF_LOADER_NAME (1u << 9)

#define MB_MMAP_AVAILABLE 1u
#define MB_MMAP_RESERVED 2u

/* Spec 3.1.1: the header, with the a.out (offsets 12-28) and video (32-44)
 * fields that the flags make valid. */
struct mb_header {
    uint32_t magic, flags, checksum;
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
    uint32_t mode_type, width, height, depth;
};
_Static_assert(sizeof(struct mb_header) == 48, "multiboot header is 48 bytes");
_Static_assert(offsetof(struct mb_header, header_addr) == 12, "a.out fields at 12");
_Static_assert(offsetof(struct mb_header, entry_addr) == 28, "entry_addr at 28");
_Static_assert(offsetof(struct mb_header, mode_type) == 32, "video fields at 32");

#define MB_HEADER_BASE_LEN 12
#define MB_HEADER_AOUT_LEN 32
#define MB_HEADER_VIDEO_LEN 48

/* Spec 3.3: the boot information structure, up to the framebuffer fields. */
struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
    uint32_t boot_loader_name, apm_table;
    uint32_t vbe_control_info, vbe_mode_info;
    uint16_t vbe_mode, vbe_interface_seg, vbe_interface_off, vbe_interface_len;
    uint64_t framebuffer_addr;
    uint32_t framebuffer_pitch, framebuffer_width, framebuffer_height;
    uint8_t framebuffer_bpp, framebuffer_type, color_info[6];
} __attribute__((packed));
_Static_assert(sizeof(struct mb_info) == 116, "multiboot info is 116 bytes");
_Static_assert(offsetof(struct mb_info, cmdline) == 16, "cmdline at 16");
_Static_assert(offsetof(struct mb_info, mods_count) == 20, "mods_count at 20");
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "mmap_length at 44");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64, "loader name at 64");
_Static_assert(offsetof(struct mb_info, vbe_mode) == 80, "vbe_mode at 80");
_Static_assert(offsetof(struct mb_info, framebuffer_addr) == 88, "framebuffer at 88");

/* Spec 3.3: each entry's size field counts the bytes after itself. */
struct mb_mmap_entry {
    uint32_t size;
    uint64_t base_addr, length;
    uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "mmap entry is 24 bytes");

struct mb_module {
    uint32_t mod_start, mod_end, string, reserved;
};
_Static_assert(sizeof(struct mb_module) == 16, "module entry is 16 bytes");

/* The PC's low-memory layout the memory map describes: conventional
 * memory up to the EBDA, the EBDA, then VGA memory and the BIOS area. */
#define PC_EBDA_BASE 0x9FC00ull
#define PC_VGA_BASE 0xA0000ull
#define PC_BIOS_BASE 0xF0000ull
#define PC_HIGH_BASE 0x100000ull
/* The first page holds the real-mode IVT and BIOS data area. */
#define MB_LOWEST_LOAD 0x1000ull
/* The boot information sits just below the EBDA, as GRUB puts its own in
 * low memory; it may take at most this much. */
#define MB_INFO_MAX 0x10000ull
#define MB_PAGE 0x1000ull
#define FOUR_GIB (1ull << 32)
#define MB_MMAP_MAX 5

struct mb_load {
    struct machine *m;
    struct mach_file kernel;
    struct mb_header hdr;
    size_t hdr_off;
    struct mach_load_image img;
    struct mach_file *mods;
    uint32_t *mod_addr;
    unsigned nmods;
    uint64_t info_base, info_size;
    char ram_desc[48];
};

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- the header ---- */

static bool header_at(const struct mach_file *f, size_t o, uint32_t *sum)
{
    uint32_t w[3];
    memcpy(w, f->data + o, sizeof(w));
    *sum = w[0] + w[1] + w[2];
    return w[0] == MB_HEADER_MAGIC;
}

static int find_header(struct mb_load *ld, struct mach_err *err)
{
    const struct mach_file *f = &ld->kernel;
    size_t window = f->size < MB_SEARCH_BYTES ? f->size : MB_SEARCH_BYTES;
    size_t bad = SIZE_MAX;
    uint32_t sum, bad_sum = 0;
    for (size_t o = 0; o + MB_HEADER_BASE_LEN <= window; o += 4) {
        if (!header_at(f, o, &sum))
            continue;
        if (sum != 0) {
            if (bad == SIZE_MAX) {
                bad = o;
                bad_sum = sum;
            }
            continue;
        }
        ld->hdr_off = o;
        memset(&ld->hdr, 0, sizeof(ld->hdr));
        size_t n = f->size - o < sizeof(ld->hdr) ? f->size - o : sizeof(ld->hdr);
        memcpy(&ld->hdr, f->data + o, n);
        return 0;
    }
    if (bad != SIZE_MAX)
        return mach_errf(err,
                         "%s: the multiboot header at offset 0x%zx has a bad checksum "
                         "(magic + flags + checksum = 0x%x, must be 0)",
                         f->path, bad, bad_sum);
    /* Only to say why a header the user knows is there was not taken. */
    for (size_t o = 0; o + MB_HEADER_BASE_LEN <= f->size; o += 4)
        if (o + MB_HEADER_BASE_LEN > window && header_at(f, o, &sum) && sum == 0)
            return mach_errf(err,
                             "%s: the multiboot header is at offset 0x%zx, beyond the first "
                             "%d bytes where Multiboot 0.6.96 section 3.1.1 requires it",
                             f->path, o, MB_SEARCH_BYTES);
    return mach_errf(err,
                     "%s: no multiboot header (magic 0x1BADB002) in the first %d bytes: "
                     "not a Multiboot 1 kernel",
                     f->path, MB_SEARCH_BYTES);
}

static int check_header(const struct mb_load *ld, struct mach_err *err)
{
    const struct mb_header *h = &ld->hdr;
    uint32_t unknown = h->flags & MB_HF_REQUIRED & ~MB_HF_SUPPORTED;
    if (unknown)
        return mach_errf(err,
                         "%s: the multiboot header requires feature flags 0x%x (lowest: bit "
                         "%d) that popek does not support; Multiboot 0.6.96 section 3.1.2 "
                         "says to refuse such a kernel",
                         ld->kernel.path, unknown, __builtin_ctz(unknown));
    size_t need = MB_HEADER_BASE_LEN;
    if (h->flags & MB_HF_AOUT_KLUDGE)
        need = MB_HEADER_AOUT_LEN;
    if (h->flags & MB_HF_VIDEO_MODE)
        need = MB_HEADER_VIDEO_LEN;
    size_t end = ld->hdr_off + need;
    if (end > ld->kernel.size || end > MB_SEARCH_BYTES)
        return mach_errf(err,
                         "%s: the multiboot header at offset 0x%zx has flags 0x%x that need "
                         "%zu header bytes, but the %s ends at 0x%zx",
                         ld->kernel.path, ld->hdr_off, h->flags, need,
                         end > ld->kernel.size ? "file" : "8192-byte search window",
                         end > ld->kernel.size ? ld->kernel.size : (size_t)MB_SEARCH_BYTES);
    return 0;
}

/* Spec 3.1.3: with flag 16 the header's address fields say where the file
 * goes, whatever executable format it has. */
static int parse_aout(struct mb_load *ld, struct mach_err *err)
{
    const struct mb_header *h = &ld->hdr;
    const char *path = ld->kernel.path;
    if (h->load_addr > h->header_addr)
        return mach_errf(err, "%s: a.out kludge: load_addr 0x%x is above header_addr 0x%x",
                         path, h->load_addr, h->header_addr);
    uint32_t lead = h->header_addr - h->load_addr;
    if (lead > ld->hdr_off)
        return mach_errf(err,
                         "%s: a.out kludge: header_addr - load_addr = 0x%x, but the header is "
                         "at file offset 0x%zx: loading would start before the file",
                         path, lead, ld->hdr_off);
    uint64_t offset = ld->hdr_off - lead;
    uint64_t filesz = ld->kernel.size - offset;
    if (h->load_end_addr != 0) {
        if (h->load_end_addr <= h->load_addr)
            return mach_errf(err,
                             "%s: a.out kludge: load_end_addr 0x%x is not above load_addr 0x%x",
                             path, h->load_end_addr, h->load_addr);
        filesz = h->load_end_addr - h->load_addr;
        if (offset + filesz > ld->kernel.size)
            return mach_errf(err,
                             "%s: a.out kludge: load_end_addr 0x%x asks for 0x%llx bytes from "
                             "file offset 0x%llx, past the end of the file (%zu bytes)",
                             path, h->load_end_addr, (unsigned long long)filesz,
                             (unsigned long long)offset, ld->kernel.size);
        if ((uint64_t)lead + MB_HEADER_AOUT_LEN > filesz)
            return mach_errf(err,
                             "%s: a.out kludge: the header at 0x%x is not inside the loaded "
                             "image 0x%x-0x%x",
                             path, h->header_addr, h->load_addr, h->load_end_addr);
    }
    uint64_t data_end = h->load_addr + filesz;
    uint64_t memsz = filesz;
    if (h->bss_end_addr != 0) {
        if (h->bss_end_addr < data_end)
            return mach_errf(err,
                             "%s: a.out kludge: bss_end_addr 0x%x is below the end of the "
                             "loaded image 0x%llx",
                             path, h->bss_end_addr, (unsigned long long)data_end);
        memsz = h->bss_end_addr - h->load_addr;
    }
    if (h->entry_addr < h->load_addr || h->entry_addr >= data_end)
        return mach_errf(err,
                         "%s: a.out kludge: entry_addr 0x%x is outside the loaded image "
                         "0x%x-0x%llx",
                         path, h->entry_addr, h->load_addr, (unsigned long long)data_end);
    ld->img.nsegs = 1;
    ld->img.entry = h->entry_addr;
    ld->img.seg[0] = (struct mach_load_seg){.what = "a.out kludge image", .paddr = h->load_addr,
                                            .offset = offset, .filesz = filesz, .memsz = memsz};
    return 0;
}

/* ---- where things go ---- */

static int check_segment(const struct mb_load *ld, unsigned i, struct mach_err *err)
{
    const struct mach_load_seg *s = &ld->img.seg[i];
    const char *path = ld->kernel.path;
    unsigned long long at = s->paddr, len = s->memsz, end = s->paddr + s->memsz;
    if (end > FOUR_GIB)
        return mach_errf(err, "%s: %s places 0x%llx bytes at 0x%llx, wrapping past 4 GiB",
                         path, s->what, len, at);
    if (end > mach_ram_size(ld->m))
        return mach_errf(err, "%s: %s places 0x%llx bytes at 0x%llx, beyond %s", path,
                         s->what, len, at, ld->ram_desc);
    if (at < MB_LOWEST_LOAD)
        return mach_errf(err,
                         "%s: %s places 0x%llx bytes at 0x%llx, in the first 4 KiB (real-mode "
                         "interrupt table and BIOS data), which is not loadable",
                         path, s->what, len, at);
    if (at < PC_HIGH_BASE && end > ld->info_base)
        return mach_errf(err,
                         "%s: %s places 0x%llx bytes at 0x%llx, over %s 0x%llx-0x%llx",
                         path, s->what, len, at,
                         end > PC_EBDA_BASE ? "the EBDA, VGA and BIOS area"
                                            : "the multiboot information popek puts at",
                         end > PC_EBDA_BASE ? PC_EBDA_BASE : (unsigned long long)ld->info_base,
                         end > PC_EBDA_BASE ? PC_HIGH_BASE - 1 : PC_EBDA_BASE - 1);
    for (unsigned j = 0; j < i; j++) {
        const struct mach_load_seg *o = &ld->img.seg[j];
        if (s->paddr < o->paddr + o->memsz && o->paddr < end)
            return mach_errf(err, "%s: %s (0x%llx-0x%llx) overlaps %s (0x%llx-0x%llx)", path,
                             s->what, at, end - 1, o->what, (unsigned long long)o->paddr,
                             (unsigned long long)(o->paddr + o->memsz - 1));
    }
    return 0;
}

/* Spec 3.3 leaves module placement to the loader; like GRUB and QEMU put
 * them page aligned after the kernel, and never below 1 MiB so a kernel
 * loaded low cannot push them into the EBDA or VGA area. */
static int place_modules(struct mb_load *ld, struct mach_err *err)
{
    uint64_t next = PC_HIGH_BASE;
    for (unsigned i = 0; i < ld->img.nsegs; i++) {
        uint64_t end = ld->img.seg[i].paddr + ld->img.seg[i].memsz;
        if (end > next)
            next = end;
    }
    for (unsigned i = 0; i < ld->nmods; i++) {
        uint64_t at = align_up(next, MB_PAGE);
        uint64_t end = at + ld->mods[i].size;
        if (end > mach_ram_size(ld->m))
            return mach_errf(err,
                             "%s: module %u (%zu bytes) would end at 0x%llx, beyond %s",
                             ld->mods[i].path, i, ld->mods[i].size, (unsigned long long)end,
                             ld->ram_desc);
        ld->mod_addr[i] = (uint32_t)at;
        next = end;
    }
    return 0;
}

/* ---- the boot information ---- */

/* Appends to the information area; with no buffer it only measures. */
struct mb_writer {
    uint8_t *buf;
    uint64_t base, pos;
};

static uint32_t put(struct mb_writer *w, const void *p, size_t n)
{
    uint32_t addr = (uint32_t)(w->base + w->pos);
    if (w->buf)
        memcpy(w->buf + w->pos, p, n);
    w->pos += n;
    return addr;
}

static unsigned build_mmap(const struct machine *m, struct mb_mmap_entry *e)
{
    uint64_t ram = mach_ram_size(m), rom_size, rom_base;
    unsigned n = 0;
    const uint32_t sz = sizeof(*e) - sizeof(e->size);
    e[n++] = (struct mb_mmap_entry){sz, 0, PC_EBDA_BASE, MB_MMAP_AVAILABLE};
    e[n++] = (struct mb_mmap_entry){sz, PC_EBDA_BASE, PC_VGA_BASE - PC_EBDA_BASE,
                                    MB_MMAP_RESERVED};
    /* The BIOS area, from where a loaded ROM's low alias begins. */
    uint64_t alias_base, alias_size;
    mach_rom_alias(m, &alias_base, &alias_size);
    uint64_t bios_base = alias_size && alias_base < PC_BIOS_BASE ? alias_base : PC_BIOS_BASE;
    e[n++] = (struct mb_mmap_entry){sz, bios_base, PC_HIGH_BASE - bios_base, MB_MMAP_RESERVED};
    if (ram > PC_HIGH_BASE)
        e[n++] = (struct mb_mmap_entry){sz, PC_HIGH_BASE, ram - PC_HIGH_BASE,
                                        MB_MMAP_AVAILABLE};
    if (mach_rom(m, &rom_size, &rom_base))
        e[n++] = (struct mb_mmap_entry){sz, rom_base, rom_size, MB_MMAP_RESERVED};
    return n;
}

/* Lays out the information structure, memory map, module list and strings
 * at w->base; measures only when w->buf is NULL. */
static void write_info(const struct mb_load *ld, const char *append,
                       const struct mach_module *mods, struct mb_writer *w)
{
    static const char loader_name[] = "popek";
    struct mb_info info = {
        .flags = MB_IF_MEMORY | MB_IF_CMDLINE | MB_IF_MODS | MB_IF_MMAP | MB_IF_LOADER_NAME,
        .mem_lower = (uint32_t)(PC_EBDA_BASE >> 10),
        .mem_upper = (uint32_t)((mach_ram_size(ld->m) - PC_HIGH_BASE) >> 10),
        .mods_count = ld->nmods,
    };
    struct mb_mmap_entry map[MB_MMAP_MAX];
    unsigned nmap = build_mmap(ld->m, map);
    w->pos = align_up(sizeof(info), 8);
    info.mmap_addr = put(w, map, nmap * sizeof(map[0]));
    info.mmap_length = nmap * sizeof(map[0]);
    uint64_t mods_pos = w->pos;
    w->pos += (uint64_t)ld->nmods * sizeof(struct mb_module);
    info.mods_addr = (uint32_t)(w->base + mods_pos);
    /* Like GRUB and QEMU: the image's name, then the user's arguments. */
    info.cmdline = put(w, ld->kernel.path, strlen(ld->kernel.path));
    if (append && *append) {
        put(w, " ", 1);
        put(w, append, strlen(append));
    }
    put(w, "", 1);
    info.boot_loader_name = put(w, loader_name, sizeof(loader_name));
    for (unsigned i = 0; i < ld->nmods; i++) {
        const char *s = mods[i].cmdline ? mods[i].cmdline : mods[i].path;
        struct mb_module mod = {ld->mod_addr[i], ld->mod_addr[i] + (uint32_t)ld->mods[i].size,
                                put(w, s, strlen(s) + 1), 0};
        if (w->buf)
            memcpy(w->buf + mods_pos + i * sizeof(mod), &mod, sizeof(mod));
    }
    if (w->buf)
        memcpy(w->buf, &info, sizeof(info));
}

static int size_info(struct mb_load *ld, const char *append, const struct mach_module *mods,
                     struct mach_err *err)
{
    struct mb_writer w = {0};
    write_info(ld, append, mods, &w);
    ld->info_size = w.pos;
    if (w.pos > MB_INFO_MAX)
        return mach_errf(err,
                         "%s: the command line and module strings need %llu bytes of boot "
                         "information, more than the %llu KiB popek reserves for it",
                         ld->kernel.path, (unsigned long long)w.pos, MB_INFO_MAX >> 10);
    ld->info_base = (PC_EBDA_BASE - w.pos) & ~(MB_PAGE - 1);
    return 0;
}

/* ---- loading ---- */

static int read_modules(struct mb_load *ld, const struct mach_module *mods, unsigned nmods,
                        struct mach_err *err)
{
    ld->mods = calloc(nmods ? nmods : 1, sizeof(*ld->mods));
    ld->mod_addr = calloc(nmods ? nmods : 1, sizeof(*ld->mod_addr));
    if (!ld->mods || !ld->mod_addr)
        return mach_errf(err, "out of memory for %u modules", nmods);
    for (unsigned i = 0; i < nmods; i++) {
        if (mach_file_read(mods[i].path, mach_ram_size(ld->m), ld->ram_desc, &ld->mods[i],
                           err) < 0)
            return -1;
        ld->nmods = i + 1;
    }
    return 0;
}

static void place_all(struct mb_load *ld, const char *append, const struct mach_module *mods,
                      uint8_t *info_buf)
{
    struct machine *m = ld->m;
    bool trace = mach_tracing(m, MACH_TRACE_LOAD);
    for (unsigned i = 0; i < ld->img.nsegs; i++) {
        const struct mach_load_seg *s = &ld->img.seg[i];
        mach_load_place(m, s->paddr, ld->kernel.data + s->offset, s->filesz,
                        s->memsz - s->filesz);
        if (trace)
            mach_trace(m, "load: %s %s: 0x%llx-0x%llx, 0x%llx bytes from file offset 0x%llx, "
                          "0x%llx zeroed",
                       ld->kernel.path, s->what, (unsigned long long)s->paddr,
                       (unsigned long long)(s->paddr + s->memsz - 1),
                       (unsigned long long)s->filesz, (unsigned long long)s->offset,
                       (unsigned long long)(s->memsz - s->filesz));
    }
    for (unsigned i = 0; i < ld->nmods; i++) {
        mach_load_place(m, ld->mod_addr[i], ld->mods[i].data, ld->mods[i].size, 0);
        if (trace)
            mach_trace(m, "load: module %u %s: 0x%x-0x%llx", i, ld->mods[i].path,
                       ld->mod_addr[i],
                       (unsigned long long)(ld->mod_addr[i] + ld->mods[i].size - 1));
    }
    struct mb_writer w = {info_buf, ld->info_base, 0};
    write_info(ld, append, mods, &w);
    mach_load_place(m, ld->info_base, info_buf, ld->info_size, 0);
    if (trace)
        mach_trace(m, "load: multiboot information at 0x%llx-0x%llx; entry 0x%x",
                   (unsigned long long)ld->info_base,
                   (unsigned long long)(ld->info_base + ld->info_size - 1), ld->img.entry);
}

static int prepare(struct mb_load *ld, const char *path, const char *append,
                   const struct mach_module *mods, unsigned nmods, struct mach_err *err)
{
    if (mach_file_read(path, mach_ram_size(ld->m), ld->ram_desc, &ld->kernel, err) < 0 ||
        find_header(ld, err) < 0 || check_header(ld, err) < 0)
        return -1;
    int r = (ld->hdr.flags & MB_HF_AOUT_KLUDGE) ? parse_aout(ld, err)
                                                : mach_elf32_parse(&ld->kernel, &ld->img, err);
    if (r < 0 || read_modules(ld, mods, nmods, err) < 0 || size_info(ld, append, mods, err) < 0)
        return -1;
    for (unsigned i = 0; i < ld->img.nsegs; i++)
        if (check_segment(ld, i, err) < 0)
            return -1;
    return place_modules(ld, err);
}

int mach_load_multiboot(struct machine *m, const char *path, const char *cmdline,
                        const struct mach_module *mods, unsigned nmods, struct mach_err *err)
{
    struct mb_load *ld = calloc(1, sizeof(*ld));
    if (!ld)
        return mach_errf(err, "out of memory");
    ld->m = m;
    snprintf(ld->ram_desc, sizeof(ld->ram_desc), "the %llu MiB of guest RAM",
             (unsigned long long)(mach_ram_size(m) >> 20));
    int r = prepare(ld, path, cmdline, mods, nmods, err);
    uint8_t *info_buf = NULL;
    if (r == 0 && !(info_buf = calloc(1, ld->info_size)))
        r = mach_errf(err, "out of memory");
    if (r == 0) {
        /* Flag 2 (video mode) is honoured as QEMU does: popek has no
         * framebuffer, so the kernel boots in text mode with the info's
         * graphics fields absent (flags 11 and 12 clear). */
        place_all(ld, cmdline, mods, info_buf);
        m->boot = (struct mach_boot){.kind = MACH_BOOT_MULTIBOOT, .eip = ld->img.entry,
                                     .eax = MB_BOOT_MAGIC, .ebx = (uint32_t)ld->info_base};
    }
    free(info_buf);
    for (unsigned i = 0; i < ld->nmods; i++)
        mach_file_free(&ld->mods[i]);
    free(ld->mods);
    free(ld->mod_addr);
    mach_file_free(&ld->kernel);
    free(ld);
    return r;
}
