/* A CPU-bound guest for measuring an engine's integer core: a sieve, a
 * bitwise CRC32, memory copies (a C loop and REP MOVSD), a call-heavy
 * recursive Fibonacci and an insertion sort, ROUNDS times over. Prints
 * one checksum line on the debug console (port 0xE9) so a wrong result
 * shows, and exits through the debug-exit port with status 0x01 when the
 * checksum matches the one computed natively at build time (CHECKSUM). */
#include <stdint.h>

#ifndef ROUNDS
#define ROUNDS 40
#endif

#ifdef BENCH_NATIVE
/* Built for the host too: the same code run natively gives CHECKSUM. */
#include <stdio.h>
static int is_header;
static void emit(char c) { if (!is_header) putchar(c); }
#else
static void emit(char c) { __asm__ volatile("outb %0, $0xE9" ::"a"(c)); }
#endif

static void puts_e9(const char *s)
{
    while (*s)
        emit(*s++);
}

static void puthex(uint32_t v)
{
    for (int i = 28; i >= 0; i -= 4)
        emit("0123456789abcdef"[(v >> i) & 15]);
}

#define SIEVE_N 65536
static uint8_t sieve_buf[SIEVE_N];

static uint32_t sieve(void)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < SIEVE_N; i++)
        sieve_buf[i] = 1;
    for (uint32_t i = 2; i < SIEVE_N; i++) {
        if (!sieve_buf[i])
            continue;
        count++;
        for (uint32_t j = i + i; j < SIEVE_N; j += i)
            sieve_buf[j] = 0;
    }
    return count;
}

#define BUF_WORDS 4096
static uint32_t src[BUF_WORDS], dst[BUF_WORDS];

static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

static uint32_t copies(void)
{
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        dst[i] = src[i] + i;
    uint32_t n = BUF_WORDS;
    void *d = src, *s = dst;
    __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    uint32_t sum = 0;
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        sum = (sum << 3 | sum >> 29) ^ src[i];
    return sum;
}

__attribute__((noinline)) static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint32_t sort(uint32_t seed)
{
    static int32_t a[512];
    for (int i = 0; i < 512; i++) {
        seed = seed * 1103515245u + 12345u;
        a[i] = (int32_t)(seed >> 8);
    }
    for (int i = 1; i < 512; i++) {
        int32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
    uint32_t h = 0;
    for (int i = 0; i < 512; i += 7)
        h = h * 31 + (uint32_t)a[i];
    return h;
}

uint32_t bench_main(void);
uint32_t bench_main(void)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < BUF_WORDS; i++)
        src[i] = i * 2654435761u;
    for (int r = 0; r < ROUNDS; r++) {
        sum += sieve();
        sum ^= crc32((const uint8_t *)src, sizeof src / 4);
        sum += copies();
        sum += fib(20);
        sum ^= sort(sum);
    }
    puts_e9("interp_bench checksum ");
    puthex(sum);
    puts_e9("\n");
#ifdef BENCH_NATIVE
    if (is_header)
        printf("#define CHECKSUM 0x%08xu\n", sum);
#endif
#ifdef CHECKSUM
    return sum == CHECKSUM ? 0 : 1;
#else
    return 0;
#endif
}

#ifdef BENCH_NATIVE
/* With an argument, prints the checksum as the header the guest build
 * includes (#define CHECKSUM). */
int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        is_header = 1;
    bench_main();
    return 0;
}
#endif
