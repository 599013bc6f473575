/* ELF32 section lookup (System V gABI, "Sections"): file header, section
 * header table, the section-name string table, then the section by name. */
#include "elf32_text.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failf(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return failf(why, whylen, "%s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return failf(why, whylen, "%s: cannot size the file", path);
    }
    *buf = malloc((size_t)size);
    if (!*buf || fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        free(*buf);
        fclose(f);
        return failf(why, whylen, "%s: read failed", path);
    }
    fclose(f);
    *len = (size_t)size;
    return 0;
}

static bool in_file(size_t off, size_t size, size_t file_len)
{
    return off <= file_len && size <= file_len - off;
}

int elf32_read_text(const char *path, uint8_t **text, size_t *len, uint32_t *addr,
                    char *why, size_t whylen)
{
    uint8_t *f = NULL;
    size_t flen = 0;
    if (read_file(path, &f, &flen, why, whylen) < 0)
        return -1;

    Elf32_Ehdr eh;
    int rc = -1;
    if (flen < sizeof eh) {
        failf(why, whylen, "%s: too short for ELF", path);
        goto out;
    }
    memcpy(&eh, f, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf32_Shdr) ||
        !in_file(eh.e_shoff, (size_t)eh.e_shnum * sizeof(Elf32_Shdr), flen) ||
        eh.e_shstrndx >= eh.e_shnum) {
        failf(why, whylen, "%s: not a little-endian ELF32 file with sections", path);
        goto out;
    }
    Elf32_Shdr strtab;
    memcpy(&strtab, f + eh.e_shoff + (size_t)eh.e_shstrndx * sizeof strtab, sizeof strtab);
    if (!in_file(strtab.sh_offset, strtab.sh_size, flen)) {
        failf(why, whylen, "%s: bad section name table", path);
        goto out;
    }
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf32_Shdr sh;
        memcpy(&sh, f + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
        if (sh.sh_name >= strtab.sh_size || sh.sh_type != SHT_PROGBITS)
            continue;
        const char *name = (const char *)f + strtab.sh_offset + sh.sh_name;
        if (strnlen(name, strtab.sh_size - sh.sh_name) == strtab.sh_size - sh.sh_name ||
            strcmp(name, ".text") != 0)
            continue;
        if (sh.sh_size == 0 || !in_file(sh.sh_offset, sh.sh_size, flen)) {
            failf(why, whylen, "%s: .text outside the file", path);
            goto out;
        }
        *text = malloc(sh.sh_size);
        if (!*text) {
            failf(why, whylen, "%s: out of memory", path);
            goto out;
        }
        memcpy(*text, f + sh.sh_offset, sh.sh_size);
        *len = sh.sh_size;
        *addr = sh.sh_addr;
        rc = 0;
        goto out;
    }
    failf(why, whylen, "%s: no .text section", path);
out:
    free(f);
    return rc;
}
