/* The POST code port 0x80: a BIOS writes its progress codes here and Linux
 * writes it as an I/O delay. We keep the last code and a count (--stats)
 * and trace each code with --trace post. Nothing drives reads (there is no
 * POST card), so they float high as in QEMU. */
#include "machine/machine_internal.h"

#include <stdlib.h>
#include <string.h>

#define POST_PORT 0x80

struct post_port {
    struct machine *m;
    uint64_t count;
    uint8_t last;
};

static void post_io(void *dev, uint64_t offset, void *data, unsigned size, bool is_write)
{
    struct post_port *post = dev;
    (void)offset;
    if (!is_write) {
        memset(data, 0xFF, size);
        return;
    }
    post->last = *(const uint8_t *)data;
    post->count++;
    if (mach_tracing(post->m, MACH_TRACE_POST))
        mach_trace(post->m, "POST code 0x%02x", post->last);
}

struct post_port *post_port_create(struct machine *m, struct mach_err *err)
{
    struct post_port *post = calloc(1, sizeof(*post));
    if (!post) {
        mach_errf(err, "POST port: out of memory");
        return NULL;
    }
    post->m = m;
    if (mach_bus_register(m, MACH_BUS_PIO, POST_PORT, 1, post_io, post, "POST port", err) < 0) {
        free(post);
        return NULL;
    }
    return post;
}

uint64_t post_port_count(const struct post_port *post, uint8_t *last)
{
    if (last)
        *last = post->last;
    return post->count;
}

void post_port_print_stats(const struct post_port *post, FILE *out)
{
    if (post->count)
        fprintf(out, "post: %llu codes written to port 0x80, last 0x%02x\n",
                (unsigned long long)post->count, post->last);
    else
        fprintf(out, "post: no codes written to port 0x80\n");
}

void post_port_destroy(struct post_port *post) { free(post); }
