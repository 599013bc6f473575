#include "tests/unit/loader_fixture.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LT_MAX_FILES 16

static char dir[64];
static char *files[LT_MAX_FILES];
static unsigned nfiles;
static struct machine *machine;

void lt_setup(void)
{
    strcpy(dir, "/tmp/popek-loader-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

void lt_teardown(void)
{
    for (unsigned i = 0; i < nfiles; i++) {
        unlink(files[i]);
        free(files[i]);
    }
    nfiles = 0;
    rmdir(dir);
    mach_destroy(machine);
    machine = NULL;
}

struct machine *lt_machine(uint64_t ram_mib, unsigned trace)
{
    struct mach_config cfg = {.ram_bytes = ram_mib << 20, .trace = trace};
    struct mach_err err = {{0}};
    mach_destroy(machine);
    machine = mach_create(&cfg, &err);
    cr_assert_not_null(machine, "mach_create: %s", err.msg);
    return machine;
}

static const char *new_path(const char *name)
{
    size_t dlen = strlen(dir);
    for (unsigned i = 0; i < nfiles; i++)
        if (!strcmp(files[i] + dlen + 1, name))
            return files[i];
    cr_assert_lt(nfiles, LT_MAX_FILES);
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    cr_assert_not_null(p);
    sprintf(p, "%s/%s", dir, name);
    files[nfiles++] = p;
    return p;
}

const char *lt_file(const char *name, const void *data, size_t len)
{
    const char *p = new_path(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return p;
}

const char *lt_sparse_file(const char *name, uint64_t size)
{
    const char *p = new_path(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    close(fd);
    return p;
}

const char *lt_dir(void) { return dir; }

void lt_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

uint32_t lt_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
