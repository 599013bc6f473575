/* The benchmark workloads as a 32-bit Linux program: the physical limit the
 * engines are compared with. Same command line and output line as the
 * guest (bench_guest.c):
 *
 *   bench_native NAME ITERS
 *   BENCH name=NAME iters=N ticks=T tsc_khz=F checksum=0xC
 *
 * The shared kernels run the code the guest runs (kernels.c, same flags).
 * The nanobenchmarks use the nearest thing a process has:
 *   syscall    INT 0x80 getpid, a ring 3 -> 0 -> 3 round trip in Linux
 *   pagefault  first touch of an anonymous page (Linux maps a zero page
 *              frame), MADV_DONTNEED after every 256 pages to unmap them
 *   divfault   #DE delivered as SIGFPE, the handler moves EIP past the DIV
 * For in_port, cr3 and pte_invlpg a process has no equivalent: the line
 * has ticks=- and the checksum the guest must compute (every iteration
 * behaving as the SDM says gives the iteration count). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "workloads.h"

#define PAGE 4096u

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The TSC rate against CLOCK_MONOTONIC over 20 ms, as the guest does
 * against the PIT. */
static uint32_t tsc_khz(void)
{
    uint64_t n0 = now_ns(), t0 = rdtsc(), n1;
    while ((n1 = now_ns()) - n0 < 20000000u)
        ;
    uint64_t t1 = rdtsc();
    return (uint32_t)((t1 - t0) * 1000000u / (n1 - n0));
}

static uint32_t wl_syscall(uint32_t iters)
{
    int pid = getpid();
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++) {
        int r = 20; /* __NR_getpid on i386 */
        __asm__ volatile("int $0x80" : "+a"(r)::"memory");
        ok += r == pid;
    }
    return ok;
}

#define PF_BATCH 256u
static uint8_t *pf_area;

static uint32_t wl_pagefault(uint32_t iters)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t k = i % PF_BATCH;
        if (k == 0 && i && madvise(pf_area, PF_BATCH * PAGE, MADV_DONTNEED))
            return 0;
        ok += ((volatile uint8_t *)pf_area)[k * PAGE] == 0;
    }
    return ok;
}

static volatile uint32_t de_count;

static void on_sigfpe(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    uc->uc_mcontext.gregs[REG_EIP] = (greg_t)(uintptr_t)bench_div0_resume;
    de_count++;
}

static uint32_t wl_divfault(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        bench_div0();
    return de_count;
}

static uint8_t *smc_code;
static uint32_t wl_smc_native(uint32_t iters) { return wl_smc(iters, smc_code); }

static int setup(const char *name)
{
    if (!strcmp(name, "smc")) {
        void *p = mmap(0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED)
            return -1;
        smc_code = p;
    } else if (!strcmp(name, "pagefault")) {
        void *p = mmap(0, PF_BATCH * PAGE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return -1;
        pf_area = p;
    } else if (!strcmp(name, "divfault")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigfpe;
        sa.sa_flags = SA_SIGINFO;
        if (sigaction(SIGFPE, &sa, 0))
            return -1;
    }
    return 0;
}

struct workload {
    const char *name;
    uint32_t (*run)(uint32_t iters); /* 0: no native equivalent */
};

static const struct workload workloads[] = {
    {"sieve", wl_sieve},       {"crc32", wl_crc32},       {"sort", wl_sort},
    {"fib", wl_fib},           {"memops", wl_memops},     {"vm", wl_vm},
    {"nbody", wl_nbody},
    {"callret", wl_callret},   {"smc", wl_smc_native},    {"syscall", wl_syscall},
    {"in_port", 0},            {"cr3", 0},                {"pte_invlpg", 0},
    {"pagefault", wl_pagefault}, {"divfault", wl_divfault},
};

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
            printf("%s\n", workloads[i].name);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: bench_native NAME ITERS | --list\n");
        return 2;
    }
    const struct workload *w = 0;
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (!strcmp(workloads[i].name, argv[1]))
            w = &workloads[i];
    char *end;
    unsigned long iters = strtoul(argv[2], &end, 10);
    if (!w || *end || iters > 0xFFFFFFFFul) {
        fprintf(stderr, "bench_native: unknown workload or bad count\n");
        return 2;
    }
    if (!w->run) {
        printf("BENCH name=%s iters=%lu ticks=- tsc_khz=- checksum=0x%08lx\n", w->name, iters,
               iters);
        return 0;
    }
    uint32_t khz = tsc_khz();
    if (setup(w->name)) {
        perror("bench_native: set-up");
        return 1;
    }
    uint64_t t0 = rdtsc();
    uint32_t sum = w->run((uint32_t)iters);
    uint64_t t1 = rdtsc();
    printf("BENCH name=%s iters=%lu ticks=%llu tsc_khz=%u checksum=0x%08x\n", w->name, iters,
           (unsigned long long)(t1 - t0), khz, sum);
    return 0;
}
