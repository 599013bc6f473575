/* Decoder throughput over the i386 libc's .text: Zydis alone
 * (ZydisDecoderDecodeFull) against dec_decode, which adds popek's record.
 * Not a test; run by hand: bench_decoder [elf32-file]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "decoder/decoder.h"
#include "elf32_text.h"

#define PASSES 15

/* Thread CPU time: the build machines are shared, and time spent
 * descheduled is not the decoder's. */
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t avail_at(size_t off, size_t len)
{
    return len - off < DEC_MAX_LEN ? len - off : DEC_MAX_LEN;
}

/* Offsets of the instructions of a linear walk (invalid bytes skipped). */
static size_t collect(const struct dec_ctx *ctx, const uint8_t *text, size_t len,
                      uint32_t *starts)
{
    size_t n = 0;
    for (size_t off = 0; off < len;) {
        struct dec_insn d;
        if (dec_decode(ctx, DEC_MODE_32, text + off, avail_at(off, len), &d) == DEC_OK) {
            starts[n++] = (uint32_t)off;
            off += d.len;
        } else {
            off++;
        }
    }
    return n;
}

static double zydis_pass(const ZydisDecoder *zd, const uint8_t *text, size_t len,
                         const uint32_t *starts, size_t n, unsigned *sink)
{
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(zd, text + starts[i], avail_at(starts[i], len),
                                                &zi, zo)))
            *sink += zi.length;
    }
    return (double)(now_ns() - t0) / (double)n;
}

static double popek_pass(const struct dec_ctx *ctx, const uint8_t *text, size_t len,
                         const uint32_t *starts, size_t n, unsigned *sink)
{
    struct dec_insn d;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (dec_decode(ctx, DEC_MODE_32, text + starts[i], avail_at(starts[i], len), &d) ==
            DEC_OK)
            *sink += d.len + d.cls;
    }
    return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/usr/lib32/libc.so.6";
    uint8_t *text;
    size_t len;
    uint32_t addr;
    char why[512];
    if (elf32_read_text(path, &text, &len, &addr, why, sizeof why) < 0) {
        fprintf(stderr, "bench_decoder: %s\n", why);
        return 1;
    }
    static struct dec_ctx ctx;
    if (dec_init(&ctx, 0) < 0) {
        fprintf(stderr, "bench_decoder: dec_init failed\n");
        return 1;
    }
    uint32_t *starts = malloc(len * sizeof *starts);
    if (!starts) {
        fprintf(stderr, "bench_decoder: out of memory\n");
        return 1;
    }
    size_t n = collect(&ctx, text, len, starts);

    double best_z = 1e9, best_p = 1e9;
    unsigned sink = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double z = zydis_pass(&ctx.zd[DEC_MODE_32], text, len, starts, n, &sink);
        double p = popek_pass(&ctx, text, len, starts, n, &sink);
        best_z = z < best_z ? z : best_z;
        best_p = p < best_p ? p : best_p;
    }
    printf("%s .text: %zu bytes, %zu instructions (best of %d passes)\n", path, len, n, PASSES);
    printf("  ZydisDecoderDecodeFull  %6.1f ns/insn\n", best_z);
    printf("  dec_decode              %6.1f ns/insn (+%.1f ns for the record, sink %u)\n",
           best_p, best_p - best_z, sink & 1);
    free(starts);
    free(text);
    return 0;
}
