/* The perf map: with POPEK_PERF_MAP=1 each translated block gets a line
 * "START SIZE popek-guest-0xEIP" in /tmp/perf-PID.map, where `perf
 * report` looks up the symbols of anonymous executable memory (perf's
 * tools/perf/Documentation/jit-interface.txt). Lines go through a large
 * stdio buffer and reach the file when it fills and at the end of the
 * run. After a code-buffer flush new blocks reuse addresses; their lines
 * are appended anyway, and perf takes the latest entry for an address. */
#include "translator/bt_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BT_PERFMAP_BUF (1u << 20)

int bt_perfmap_format(char *buf, size_t cap, const void *start, size_t size, uint32_t eip)
{
    return snprintf(buf, cap, "%" PRIxPTR " %zx popek-guest-0x%08" PRIx32 "\n",
                    (uintptr_t)start, size, eip);
}

int bt_perfmap_open(struct bt_obs *o, const char *path, const void *tramp, size_t tramp_len,
                    struct mach_err *err)
{
    char def[64];
    if (!path) {
        snprintf(def, sizeof def, "/tmp/perf-%ld.map", (long)getpid());
        path = def;
    }
    o->perf = fopen(path, "a");
    if (!o->perf)
        return mach_errf(err, "bt: cannot open the perf map %s: %s", path, strerror(errno));
    o->perf_buf = malloc(BT_PERFMAP_BUF);
    if (o->perf_buf)
        setvbuf(o->perf, o->perf_buf, _IOFBF, BT_PERFMAP_BUF);
    if (tramp_len)
        fprintf(o->perf, "%" PRIxPTR " %zx popek-bt-trampolines\n", (uintptr_t)tramp,
                tramp_len);
    return 0;
}

void bt_perfmap_block(struct bt_obs *o, const struct tc_block *b)
{
    char line[96];
    int n = bt_perfmap_format(line, sizeof line, b->code, b->code_len, b->key.eip);
    if (n > 0 && (size_t)n < sizeof line)
        fputs(line, o->perf);
}

void bt_perfmap_close(struct bt_obs *o)
{
    if (o->perf)
        fclose(o->perf);
    free(o->perf_buf);
    o->perf = NULL;
    o->perf_buf = NULL;
}
