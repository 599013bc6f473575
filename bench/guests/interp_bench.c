/* A CPU-bound guest for measuring an engine's integer core: the rounds of
 * wl_interp_bench (kernels.c: a sieve, a bitwise CRC32, memory copies by a
 * C loop and REP MOVSD, a call-heavy recursive Fibonacci and an insertion
 * sort), ROUNDS times. Prints one checksum line on the debug console (port
 * 0xE9) so a wrong result shows, and exits through the debug-exit port
 * with status 0x01 when the checksum matches the one computed natively at
 * build time (CHECKSUM) by the same kernels.o. */
#include <stdint.h>

#include "workloads.h"

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

uint32_t bench_main(void);
uint32_t bench_main(void)
{
    uint32_t sum = wl_interp_bench(ROUNDS);
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
