/* What every loader shares: reading an image file whole, with every way it
 * can fail named, and placing bytes in guest RAM. */
#include "machine/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_all(int fd, struct mach_file *f, struct mach_err *err)
{
    size_t got = 0;
    while (got < f->size) {
        ssize_t n = read(fd, f->data + got, f->size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return mach_errf(err, "%s: read error after %zu bytes: %s", f->path, got,
                             strerror(errno));
        if (n == 0)
            return mach_errf(err, "%s: short read: got %zu of %zu bytes (did the file shrink?)",
                             f->path, got, f->size);
        got += (size_t)n;
    }
    return 0;
}

static int check_stat(const char *path, const struct stat *st, uint64_t limit,
                      const char *limit_what, struct mach_err *err)
{
    if (S_ISDIR(st->st_mode))
        return mach_errf(err, "%s: is a directory, not an image file", path);
    if (!S_ISREG(st->st_mode))
        return mach_errf(err, "%s: not a regular file", path);
    if (st->st_size == 0)
        return mach_errf(err, "%s: file is empty", path);
    if ((uint64_t)st->st_size > limit || (uint64_t)st->st_size > SIZE_MAX)
        return mach_errf(err, "%s: %llu bytes is more than %s", path,
                         (unsigned long long)st->st_size, limit_what);
    return 0;
}

int mach_file_read(const char *path, uint64_t limit, const char *limit_what,
                   struct mach_file *f, struct mach_err *err)
{
    *f = (struct mach_file){.path = path};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mach_errf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return mach_errf(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (check_stat(path, &st, limit, limit_what, err) < 0) {
        close(fd);
        return -1;
    }
    f->size = (size_t)st.st_size;
    f->data = malloc(f->size);
    if (!f->data) {
        close(fd);
        return mach_errf(err, "%s: out of memory reading %zu bytes", path, f->size);
    }
    int r = read_all(fd, f, err);
    close(fd);
    if (r < 0)
        mach_file_free(f);
    return r;
}

void mach_file_free(struct mach_file *f)
{
    free(f->data);
    f->data = NULL;
    f->size = 0;
}

void mach_load_place(struct machine *m, uint64_t paddr, const void *src, uint64_t len,
                     uint64_t zero_len)
{
    if (len)
        memcpy(m->ram + paddr, src, len);
    memset(m->ram + paddr + len, 0, zero_len);
    if (m->hooks.code_written && len + zero_len)
        m->hooks.code_written(m->hooks.opaque, paddr, len + zero_len);
}
