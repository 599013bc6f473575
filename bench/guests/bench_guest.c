/* The benchmark guest: a Multiboot kernel on the guest test runtime
 * (tests/guests/lib) that runs one workload, named with its iteration
 * count on the kernel command line ("NAME ITERS", e.g. popek run --append
 * "sieve 1000"), and reports on the serial port:
 *
 *   BENCH name=NAME iters=N ticks=T tsc_khz=F checksum=0xC
 *
 * T is the TSC difference around the workload alone (set-up excluded), F
 * the TSC rate measured against the 8254 PIT, so that T / F is time
 * whatever rate an engine gives its TSC (popek's interp ticks in ns, KVM
 * and QEMU's TCG pass the host TSC through). It then leaves through the
 * debug-exit port with value 0 (exit status 1); 1 (status 3) when the
 * command line names no workload.
 *
 * Besides the shared kernels (kernels.c) it has the nanobenchmarks that
 * need ring 0: INT from ring 3, IN, CR3 writes, page faults, #DE, PTE
 * updates with INVLPG. Their checksum counts the iterations that behaved
 * as the SDM says (the native program prints the iteration count for
 * them), so a wrong engine shows in the checksum column. */
#include "guest.h"
#include "workloads.h"

#define DEBUG_EXIT_PORT 0xF4
#define PIC1_DATA 0x21
#define MB_INFO_CMDLINE (1u << 2) /* Multiboot 0.6.96 3.3: cmdline valid */

/* A linear address outside the identity map (pg_init maps 0..8 MiB), and
 * two frames whose first words tell which one a read went to. */
#define TEST_VA 0x01000000u
#define FRAME_A_WORD 0xA1A1A1A1u
#define FRAME_B_WORD 0xB2B2B2B2u
static uint32_t frame_a[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t frame_b[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t dir2[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t table2[1024] __attribute__((aligned(PAGE_SIZE)));
static uint8_t smc_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static inline uint32_t read_test_va(void) { return *(volatile uint32_t *)TEST_VA; }

/* ---- syscall: INT 0x82 from ring 3 to a ring-0 stub that counts and IRETs */
volatile uint32_t bench_int_count;
void bench_int_stub(void);
__asm__(".text\n"
        ".globl bench_int_stub\n"
        "bench_int_stub:\n\t"
        "incl bench_int_count\n\t"
        "iret\n");
#define VEC_BENCH_INT 0x82

static uint32_t user_int_loop(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        __asm__ volatile("int %0" ::"i"(VEC_BENCH_INT) : "memory");
    return n;
}

static void setup_syscall(void)
{
    idt_set_gate(VEC_BENCH_INT, (uint32_t)bench_int_stub, SEL_KCODE, GATE_INT32, 3, true);
}

static uint32_t wl_syscall(uint32_t iters)
{
    bench_int_count = 0;
    if (user_run(user_int_loop, iters, 0) != VEC_SYSCALL)
        return 0;
    return bench_int_count;
}

/* ---- IN: the master 8259A's IMR (OCW1), all ones after pic_remap ---------- */
static uint32_t wl_in_port(uint32_t iters)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++)
        ok += inb(PIC1_DATA) == 0xFF;
    return ok;
}

/* ---- paging set-up shared by the paging workloads ------------------------ */
static void setup_paging(void)
{
    frame_a[0] = FRAME_A_WORD;
    frame_b[0] = FRAME_B_WORD;
    pg_init();
    pg_map_4k(TEST_VA, (uint32_t)frame_a, PTE_P | PTE_W);
    pg_enable(false);
}

/* ---- CR3 write: alternate between two directories that map TEST_VA to
 * different frames; a MOV to CR3 flushes the non-global TLB entries (SDM
 * Vol. 3A 4.10.4.1), so every read must see the new directory's frame. */
static void setup_cr3(void)
{
    setup_paging();
    for (unsigned i = 0; i < 1024; i++)
        dir2[i] = pg_dir[i];
    table2[(TEST_VA >> 12) & 0x3FF] = (uint32_t)frame_b | PTE_P | PTE_W;
    dir2[TEST_VA >> 22] = (uint32_t)table2 | PTE_P | PTE_W;
}

static uint32_t wl_cr3(uint32_t iters)
{
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++) {
        bool odd = i & 1;
        write_cr3(odd ? (uint32_t)dir2 : (uint32_t)pg_dir);
        ok += read_test_va() == (odd ? FRAME_B_WORD : FRAME_A_WORD);
    }
    write_cr3((uint32_t)pg_dir);
    return ok;
}

/* ---- PTE update + INVLPG: remap TEST_VA to the other frame and invalidate
 * its TLB entry (SDM Vol. 3A 4.10.4.1, INVLPG), then read through it. */
static uint32_t wl_pte_invlpg(uint32_t iters)
{
    volatile uint32_t *pte = pg_pte(TEST_VA);
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++) {
        bool odd = i & 1;
        *pte = (odd ? (uint32_t)frame_b : (uint32_t)frame_a) | PTE_P | PTE_W;
        invlpg(TEST_VA);
        ok += read_test_va() == (odd ? FRAME_B_WORD : FRAME_A_WORD);
    }
    return ok;
}

/* ---- page fault: TEST_VA is not present; the #PF handler maps it and the
 * read restarts (a fault's saved EIP is the faulting instruction, SDM Vol.
 * 3A 6.15 interrupt 14). Unmapping needs INVLPG; mapping a not-present
 * entry does not (SDM Vol. 3A 4.10.4.3). */
static volatile uint32_t pf_count;

static void on_page_fault(struct trap_frame *f)
{
    volatile uint32_t *pte = pg_pte(TEST_VA);
    if ((read_cr2() & ~0xFFFu) != TEST_VA || (*pte & PTE_P) || (f->error & 1)) {
        fail("bench: unexpected #PF cr2=0x%08x error=0x%x eip=0x%08x", read_cr2(),
             f->error, f->eip);
        finish();
    }
    *pte = (uint32_t)frame_a | PTE_P | PTE_W;
    pf_count++;
}

static void setup_pagefault(void)
{
    setup_paging();
    *pg_pte(TEST_VA) = 0;
    invlpg(TEST_VA);
    idt_set_handler(VEC_PF, on_page_fault);
}

static uint32_t wl_pagefault(uint32_t iters)
{
    volatile uint32_t *pte = pg_pte(TEST_VA);
    uint32_t ok = 0;
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t before = pf_count;
        uint32_t v = read_test_va();
        ok += v == FRAME_A_WORD && pf_count == before + 1;
        *pte = 0;
        invlpg(TEST_VA);
    }
    return ok;
}

/* ---- divide fault: #DE, handler resumes after the DIV --------------------- */
static volatile uint32_t de_count;

static void on_divide_error(struct trap_frame *f)
{
    f->eip = (uint32_t)bench_div0_resume;
    de_count++;
}

static void setup_divfault(void) { idt_set_handler(VEC_DE, on_divide_error); }

static uint32_t wl_divfault(uint32_t iters)
{
    for (uint32_t i = 0; i < iters; i++)
        bench_div0();
    return de_count;
}

static uint32_t wl_smc_guest(uint32_t iters) { return wl_smc(iters, smc_page); }

/* ---- the workload table ---------------------------------------------------- */
struct workload {
    const char *name;
    void (*setup)(void);
    uint32_t (*run)(uint32_t iters);
};

static const struct workload workloads[] = {
    {"sieve", 0, wl_sieve},
    {"crc32", 0, wl_crc32},
    {"sort", 0, wl_sort},
    {"fib", 0, wl_fib},
    {"memops", 0, wl_memops},
    {"vm", 0, wl_vm},
    {"nbody", 0, wl_nbody},
    {"callret", 0, wl_callret},
    {"smc", 0, wl_smc_guest},
    {"syscall", setup_syscall, wl_syscall},
    {"in_port", 0, wl_in_port},
    {"cr3", setup_cr3, wl_cr3},
    {"pte_invlpg", setup_paging, wl_pte_invlpg},
    {"pagefault", setup_pagefault, wl_pagefault},
    {"divfault", setup_divfault, wl_divfault},
};

/* The TSC rate in kHz: TSC ticks over 20 ms of PIT channel 0 input clocks
 * (1.193182 MHz, 8254 datasheet), counting down from 65536 in mode 2. */
static uint32_t tsc_khz(void)
{
    pit_periodic(0);
    uint16_t last = pit_read_count0();
    uint64_t t0 = rdtsc();
    uint32_t elapsed = 0;
    while (elapsed < PIT_HZ / 50) {
        uint16_t now = pit_read_count0();
        elapsed += (uint16_t)(last - now);
        last = now;
    }
    uint64_t t1 = rdtsc();
    return (uint32_t)((t1 - t0) * PIT_HZ / elapsed / 1000);
}

static const char *u64_dec(uint64_t v, char buf[21])
{
    char *p = buf + 20;
    *p = 0;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static bool streq(const char *a, const char *b, size_t n)
{
    return strlen(a) == n && !memcmp(a, b, n);
}

/* The last two words of the command line (the first is the image's
 * name): the workload and its iteration count. */
static const struct workload *parse_cmdline(uint32_t *iters)
{
    const struct multiboot_info *mbi = (const struct multiboot_info *)rt_boot_ebx;
    if (!(mbi->flags & MB_INFO_CMDLINE))
        return 0;
    const char *words[2] = {0, 0};
    size_t lens[2] = {0, 0};
    for (const char *s = (const char *)mbi->cmdline; *s;) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        if (s > w) {
            words[0] = words[1], lens[0] = lens[1];
            words[1] = w, lens[1] = (size_t)(s - w);
        }
    }
    if (!words[0])
        return 0;
    *iters = 0;
    for (size_t i = 0; i < lens[1]; i++) {
        if (words[1][i] < '0' || words[1][i] > '9')
            return 0;
        *iters = *iters * 10 + (uint32_t)(words[1][i] - '0');
    }
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (streq(workloads[i].name, words[0], lens[0]))
            return &workloads[i];
    return 0;
}

void test_main(void)
{
    uint32_t iters;
    const struct workload *w = parse_cmdline(&iters);
    if (!w) {
        kprintf("bench: the command line must end in NAME ITERS\n");
        outb(DEBUG_EXIT_PORT, 1);
        finish();
    }
    uint32_t khz = tsc_khz();
    if (w->setup)
        w->setup();
    uint64_t t0 = rdtsc();
    uint32_t sum = w->run(iters);
    uint64_t t1 = rdtsc();
    char buf[21];
    kprintf("BENCH name=%s iters=%u ticks=%s tsc_khz=%u checksum=0x%08x\n", w->name, iters,
            u64_dec(t1 - t0, buf), khz, sum);
    outb(DEBUG_EXIT_PORT, 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}
