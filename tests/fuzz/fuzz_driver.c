/* A standalone main for the libFuzzer-style targets, for builds without
 * libFuzzer (gcc, the ASan/UBSan CI build): replays every file of the
 * corpus directories or files given, then runs --runs seeded inputs, each
 * a corpus entry (or nothing) put through a few of libFuzzer's own kinds
 * of mutation. Deterministic for a given seed and corpus; the input that
 * kills the process is saved (fuzz_install_crash_hooks) and can be
 * replayed by naming the file. */
#define _GNU_SOURCE
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct corpus {
    uint8_t **data;
    size_t *size;
    size_t n, cap;
};

static void corpus_add(struct corpus *c, uint8_t *data, size_t size)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->data = realloc(c->data, c->cap * sizeof(*c->data));
        c->size = realloc(c->size, c->cap * sizeof(*c->size));
        if (!c->data || !c->size) {
            fprintf(stderr, "fuzz: out of memory\n");
            exit(2);
        }
    }
    c->data[c->n] = data;
    c->size[c->n++] = size;
}

static int read_file(const char *path, struct corpus *c)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fprintf(stderr, "fuzz: %s: cannot read\n", path);
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    corpus_add(c, buf, (size_t)len);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries in name order, so runs do not depend on readdir. */
static int read_dir(const char *dir, struct corpus *c)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        if (!names || asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
            exit(2);
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), compare_names);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && read_file(names[i], c) < 0)
            r = -1;
        free(names[i]);
    }
    free(names);
    return r;
}

/* ---- mutation ---- */

static const uint32_t interesting[] = {
    0,          1,          0x7F,       0x80,       0xFF,       0x100,      0x1000,
    0x7FFF,     0x8000,     0xFFFF,     0x10000,    0x100000,   0x9FC00,    0xF0000,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0, 0xFFFFF000, 0x1BADB002, 0x464C457F,
};

static size_t mutate_once(uint8_t *buf, size_t len, size_t max, uint64_t *rng,
                          const struct corpus *c)
{
    uint32_t pos = len ? fuzz_below(rng, (uint32_t)len) : 0;
    switch (fuzz_below(rng, 9)) {
    case 0: /* flip a bit */
        if (len)
            buf[pos] ^= (uint8_t)(1u << fuzz_below(rng, 8));
        return len;
    case 1: /* a random byte */
        if (len)
            buf[pos] = (uint8_t)fuzz_rand(rng);
        return len;
    case 2: { /* an interesting 8-, 16- or 32-bit little-endian value */
        uint32_t v = interesting[fuzz_below(rng, sizeof(interesting) / sizeof(interesting[0]))];
        if (fuzz_rand(rng) & 1)
            v += fuzz_below(rng, 33) - 16;
        size_t w = (size_t)1 << fuzz_below(rng, 3);
        pos &= ~(uint32_t)(w - 1) | (fuzz_rand(rng) & 1 ? 0xFFFFFFFF : 0);
        for (size_t i = 0; i < w && pos + i < len; i++)
            buf[pos + i] = (uint8_t)(v >> (8 * i));
        return len;
    }
    case 3: { /* insert random bytes */
        size_t n = 1 + fuzz_below(rng, 16);
        if (len + n > max)
            return len;
        memmove(buf + pos + n, buf + pos, len - pos);
        for (size_t i = 0; i < n; i++)
            buf[pos + i] = (uint8_t)fuzz_rand(rng);
        return len + n;
    }
    case 4: { /* erase a range */
        size_t n = 1 + fuzz_below(rng, 16);
        if (pos + n > len)
            n = len - pos;
        memmove(buf + pos, buf + pos + n, len - pos - n);
        return len - n;
    }
    case 5: { /* copy a range within */
        if (!len)
            return len;
        uint32_t from = fuzz_below(rng, (uint32_t)len);
        size_t n = 1 + fuzz_below(rng, 64);
        if (from + n > len)
            n = len - from;
        if (pos + n > len)
            n = len - pos;
        memmove(buf + pos, buf + from, n);
        return len;
    }
    case 6: { /* splice in part of another corpus entry */
        if (!c->n)
            return len;
        size_t k = fuzz_below(rng, (uint32_t)c->n);
        if (!c->size[k])
            return len;
        uint32_t from = fuzz_below(rng, (uint32_t)c->size[k]);
        size_t n = 1 + fuzz_below(rng, 256);
        if (from + n > c->size[k])
            n = c->size[k] - from;
        if (pos + n > max)
            n = max - pos;
        memcpy(buf + pos, c->data[k] + from, n);
        return pos + n > len ? pos + n : len;
    }
    case 7: /* truncate */
        return pos;
    default: { /* append random bytes */
        size_t n = 1 + fuzz_below(rng, 64);
        if (len + n > max)
            n = max - len;
        for (size_t i = 0; i < n; i++)
            buf[len + i] = (uint8_t)fuzz_rand(rng);
        return len + n;
    }
    }
}

static size_t make_input(uint8_t *buf, size_t max, uint64_t *rng, const struct corpus *c)
{
    size_t len = 0;
    if (c->n && fuzz_below(rng, 8) != 0) {
        size_t k = fuzz_below(rng, (uint32_t)c->n);
        len = c->size[k] < max ? c->size[k] : max;
        memcpy(buf, c->data[k], len);
    } else {
        len = fuzz_below(rng, (uint32_t)(max < 512 ? max : 512) + 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)fuzz_rand(rng);
    }
    unsigned rounds = 1 + fuzz_below(rng, 8);
    for (unsigned i = 0; i < rounds; i++)
        len = mutate_once(buf, len, max, rng, c);
    return len;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--runs N] [--seed S] [--max-len BYTES] [--watchdog SECONDS] "
            "[CORPUS_DIR|FILE]...\n"
            "Replays every file given (or found in a directory), then runs N inputs\n"
            "mutated from them with the seeded generator (default: 10000 runs, seed 1).\n",
            argv0);
}

int main(int argc, char **argv)
{
    unsigned long long runs = 10000, seed = 1, max_len = 1 << 16, watchdog = 10;
    struct corpus c = {0};
    for (int i = 1; i < argc; i++) {
        unsigned long long *opt = !strcmp(argv[i], "--runs")       ? &runs
                                  : !strcmp(argv[i], "--seed")     ? &seed
                                  : !strcmp(argv[i], "--max-len")  ? &max_len
                                  : !strcmp(argv[i], "--watchdog") ? &watchdog
                                                                   : NULL;
        if (opt && i + 1 < argc) {
            *opt = strtoull(argv[++i], NULL, 0);
            continue;
        }
        if (argv[i][0] == '-') {
            usage(argv[0]);
            return 2;
        }
        struct stat st;
        int r = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? read_dir(argv[i], &c)
                                                                : read_file(argv[i], &c);
        if (r < 0)
            return 2;
    }
    if (!max_len)
        max_len = 1;
    fuzz_install_crash_hooks((unsigned)watchdog);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t k = 0; k < c.n; k++) {
        fuzz_set_current("replay", c.data[k], c.size[k]);
        LLVMFuzzerTestOneInput(c.data[k], c.size[k]);
        fuzz_watchdog_kick();
    }
    uint8_t *buf = malloc(max_len);
    if (!buf)
        return 2;
    uint64_t rng = seed;
    for (unsigned long long i = 0; i < runs; i++) {
        size_t len = make_input(buf, max_len, &rng, &c);
        /* A copy of exactly len bytes, so ASan sees any read past the end. */
        uint8_t *in = malloc(len ? len : 1);
        if (!in)
            return 2;
        memcpy(in, buf, len);
        fuzz_set_current("mutated", in, len);
        LLVMFuzzerTestOneInput(in, len);
        fuzz_set_current("none", NULL, 0);
        free(in);
        fuzz_watchdog_kick();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("fuzz: %s: replayed %zu corpus inputs and ran %llu mutated inputs (seed %llu) in "
           "%.1f s: no crash\n",
           argv[0], c.n, runs, seed, secs);
    for (size_t k = 0; k < c.n; k++)
        free(c.data[k]);
    free(c.data);
    free(c.size);
    free(buf);
    return 0;
}
