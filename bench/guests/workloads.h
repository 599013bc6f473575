/* The benchmark workloads shared by the guest (bench_guest.c, a Multiboot
 * kernel) and the native program (bench_native.c, a 32-bit Linux process):
 * the CPU-bound kernels and the nanobenchmarks whose code is the same on
 * both sides (kernels.c, compiled with the same flags for both, so the
 * native run executes the very instruction sequence the engines do).
 *
 * Every workload takes an iteration count and returns a checksum that
 * depends on every iteration; the harness (run_bench.sh) checks that each
 * engine returns the checksum the native run returned. */
#ifndef BENCH_WORKLOADS_H
#define BENCH_WORKLOADS_H

#include <stdint.h>

/* CPU-bound kernels: one call of the kernel per iteration. */
uint32_t wl_sieve(uint32_t iters);
uint32_t wl_crc32(uint32_t iters);
uint32_t wl_sort(uint32_t iters);
uint32_t wl_fib(uint32_t iters);
uint32_t wl_memops(uint32_t iters);
uint32_t wl_vm(uint32_t iters);
/* kernels_x87.c: the same, on the x87 (double precision). */
uint32_t wl_nbody(uint32_t iters);
/* interp_bench.elf's rounds (bench/interp_bench.sh): the kernels at
 * larger sizes, one after another. */
uint32_t wl_interp_bench(uint32_t rounds);

/* Nanobenchmarks with one implementation for both sides. */
uint32_t wl_callret(uint32_t iters);
/* code: a writable and executable buffer of at least 16 bytes, alone in
 * its page (the guest's .data has no NX; the native side maps one). */
uint32_t wl_smc(uint32_t iters, uint8_t *code);

/* Divides 1 by 0: the #DE handler (or SIGFPE handler) must resume at
 * bench_div0_resume, which returns. */
void bench_div0(void);
extern const char bench_div0_resume[];

#endif
