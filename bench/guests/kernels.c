/* The workloads both sides run with the same code (see workloads.h).
 * Built freestanding for the guest and for the native program with the
 * same flags (-m32 -march=i686 -O2 -mgeneral-regs-only -fno-builtin
 * -fno-tree-loop-distribute-patterns), so no libc routine or vector unit
 * stands in for a loop on one side only. Each kernel folds the iteration
 * number into its input so that no call can be hoisted out of the loop
 * and the checksum covers every iteration. */
#include "workloads.h"

/* Hides a value from the optimizer: it can neither fold nor hoist it. */
#define OPAQUE(v) __asm__("" : "+r"(v))

/* ---- sieve of Eratosthenes over 8 KiB ------------------------------------ */
#define SIEVE_N 8192
static uint8_t sieve_buf[SIEVE_N];

static uint32_t sieve(uint8_t *buf, uint32_t n)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++)
        buf[i] = 1;
    for (uint32_t i = 2; i < n; i++) {
        if (!buf[i])
            continue;
        count++;
        for (uint32_t j = i + i; j < n; j += i)
            buf[j] = 0;
    }
    return count;
}

uint32_t wl_sieve(uint32_t iters)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < iters; i++)
        sum = sum * 33 + sieve(sieve_buf, SIEVE_N - (i & 63));
    return sum;
}

/* ---- bitwise CRC-32 (IEEE 802.3, reflected) over 1 KiB ------------------- */
#define CRC_BYTES 1024
static uint8_t crc_buf[CRC_BYTES];

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

uint32_t wl_crc32(uint32_t iters)
{
    uint32_t x = 0x12345678u;
    for (uint32_t i = 0; i < CRC_BYTES; i++) {
        x = x * 1103515245u + 12345u;
        crc_buf[i] = (uint8_t)(x >> 16);
    }
    uint32_t sum = 0;
    for (uint32_t i = 0; i < iters; i++) {
        crc_buf[i % CRC_BYTES] ^= (uint8_t)i;
        sum ^= crc32(crc_buf, CRC_BYTES) + i;
    }
    return sum;
}

/* ---- insertion sort of 128 pseudo-random integers ------------------------ */
#define SORT_N 128
#define SORT_MAX 512 /* interp_bench's size */
static int32_t sort_buf[SORT_MAX];

/* Inlined, on the one buffer rather than through a pointer: so GCC gives
 * wl_sort the code it had before interp_bench shared the kernel. */
__attribute__((always_inline)) static inline uint32_t sort(int n, uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        sort_buf[i] = (int32_t)(seed >> 4);
    }
    for (int i = 1; i < n; i++) {
        int32_t v = sort_buf[i];
        int j = i - 1;
        while (j >= 0 && sort_buf[j] > v) {
            sort_buf[j + 1] = sort_buf[j];
            j--;
        }
        sort_buf[j + 1] = v;
    }
    uint32_t h = 0;
    for (int i = 0; i < n; i += 5)
        h = h * 31 + (uint32_t)sort_buf[i];
    return h;
}

uint32_t wl_sort(uint32_t iters)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < iters; i++)
        sum += sort(SORT_N, i);
    return sum;
}

/* ---- call-heavy recursion: fib(13) or fib(14), 753 or 1,219 calls ------- */
__attribute__((noipa)) static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

uint32_t wl_fib(uint32_t iters)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t n = 13 + (i & 1);
        OPAQUE(n);
        sum = sum * 7 + fib(n);
    }
    return sum;
}

/* ---- memcpy/memset-style loops: C word loops and REP MOVSD/STOSB --------- */
#define MEM_WORDS 1024
static uint32_t mem_a[MEM_WORDS], mem_b[MEM_WORDS];
static uint8_t mem_c[MEM_WORDS * 4];

uint32_t wl_memops(uint32_t iters)
{
    uint32_t sum = 0;
    for (uint32_t j = 0; j < MEM_WORDS; j++)
        mem_a[j] = j * 2654435761u;
    for (uint32_t i = 0; i < iters; i++) {
        for (uint32_t j = 0; j < MEM_WORDS; j++)
            mem_b[j] = mem_a[j] + i;
        void *d = mem_a, *s = mem_b;
        uint32_t n = MEM_WORDS;
        __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(s), "+c"(n)::"memory");
        d = mem_c;
        n = sizeof mem_c;
        __asm__ volatile("cld; rep stosb" : "+D"(d), "+c"(n) : "a"(i) : "memory");
        for (uint32_t j = 0; j < MEM_WORDS; j += 64)
            sum = (sum << 3 | sum >> 29) ^ mem_a[j] ^ mem_c[j * 4 + (i & 3)];
    }
    return sum;
}

/* ---- a tiny bytecode interpreter: a stack machine with a switch dispatch - */
enum { OP_HALT, OP_PUSH, OP_LDA, OP_STA, OP_LDK, OP_ADD, OP_MUL, OP_XOR, OP_JEVEN,
       OP_DECK, OP_JNZK };

/* k = 64 .. 1: a = a * 31 + k; if a is odd, a ^= 0x5B. About 770 ops. */
static const uint8_t vm_prog[] = {
    OP_LDA, OP_PUSH, 31, OP_MUL, OP_LDK, OP_ADD, OP_STA,   /* 0: a = a * 31 + k */
    OP_LDA, OP_JEVEN, 15,                                  /* 7: even: skip */
    OP_LDA, OP_PUSH, 0x5B, OP_XOR, OP_STA,                 /* 10: a ^= 0x5B */
    OP_DECK, OP_JNZK, 0,                                   /* 15: loop while --k */
    OP_HALT,
};

static uint32_t vm_run(uint32_t a, uint32_t k)
{
    uint32_t st[8];
    unsigned sp = 0, pc = 0;
    for (;;) {
        uint8_t op = vm_prog[pc++];
        switch (op) {
        case OP_PUSH: st[sp++ & 7] = vm_prog[pc++]; break;
        case OP_LDA: st[sp++ & 7] = a; break;
        case OP_STA: a = st[--sp & 7]; break;
        case OP_LDK: st[sp++ & 7] = k; break;
        case OP_ADD: sp--; st[(sp - 1) & 7] += st[sp & 7]; break;
        case OP_MUL: sp--; st[(sp - 1) & 7] *= st[sp & 7]; break;
        case OP_XOR: sp--; st[(sp - 1) & 7] ^= st[sp & 7]; break;
        case OP_JEVEN:
            if (!(st[--sp & 7] & 1))
                pc = vm_prog[pc];
            else
                pc++;
            break;
        case OP_DECK: k--; break;
        case OP_JNZK: pc = k ? vm_prog[pc] : pc + 1; break;
        default: return a;
        }
    }
}

uint32_t wl_vm(uint32_t iters)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < iters; i++)
        sum += vm_run(i, 64);
    return sum;
}

/* ---- interp_bench.elf's workload (bench/interp_bench.sh): the kernels
 * above at larger sizes one after another, for one guest-instructions-
 * per-second figure: a sieve over 64 KiB, CRC-32 over 4 KiB, a 16 KiB
 * copy by a C loop and by REP MOVSD, fib(20) and an insertion sort of 512
 * integers. ---------------------------------------------------------------- */
#define IB_SIEVE_N 65536
#define IB_WORDS 4096
static uint8_t ib_sieve_buf[IB_SIEVE_N];
static uint32_t ib_src[IB_WORDS], ib_dst[IB_WORDS];

static uint32_t ib_copies(void)
{
    for (uint32_t i = 0; i < IB_WORDS; i++)
        ib_dst[i] = ib_src[i] + i;
    uint32_t n = IB_WORDS;
    void *d = ib_src, *s = ib_dst;
    __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    uint32_t sum = 0;
    for (uint32_t i = 0; i < IB_WORDS; i++)
        sum = (sum << 3 | sum >> 29) ^ ib_src[i];
    return sum;
}

uint32_t wl_interp_bench(uint32_t rounds)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < IB_WORDS; i++)
        ib_src[i] = i * 2654435761u;
    for (uint32_t r = 0; r < rounds; r++) {
        sum += sieve(ib_sieve_buf, IB_SIEVE_N);
        sum ^= crc32((const uint8_t *)ib_src, sizeof ib_src / 4);
        sum += ib_copies();
        sum += fib(20);
        sum ^= sort(SORT_MAX, sum);
    }
    return sum;
}

/* ---- call/ret: one near call and return per iteration -------------------- */
__attribute__((noipa)) static uint32_t callee(uint32_t x) { return x * 3 + 1; }

uint32_t wl_callret(uint32_t iters)
{
    uint32_t acc = 0;
    for (uint32_t i = 0; i < iters; i++)
        acc = callee(acc ^ i);
    return acc;
}

/* ---- self-modifying code: rewrite "MOV EAX, imm32; RET", then call it ----
 * A store into the instruction stream followed by a call of it: the CPU
 * executes the new bytes (SDM Vol. 3A 11.6, self-modifying code). */
uint32_t wl_smc(uint32_t iters, uint8_t *code)
{
    uint32_t (*fn)(void) = (uint32_t (*)(void))(uintptr_t)code;
    uint32_t sum = 0;
    code[0] = 0xB8; /* MOV EAX, imm32 */
    code[5] = 0xC3; /* RET */
    for (uint32_t i = 0; i < iters; i++) {
        uint32_t imm = i * 0x9E3779B9u;
        for (int b = 0; b < 4; b++)
            ((volatile uint8_t *)code)[1 + b] = (uint8_t)(imm >> (8 * b));
        sum = (sum << 1 | sum >> 31) + fn();
    }
    return sum;
}

/* ---- the divide-fault routine: DIV by zero raises #DE (SDM Vol. 3A 6.15,
 * interrupt 0), a fault: the handler skips to bench_div0_resume. */
__asm__(".text\n"
        ".globl bench_div0\n"
        ".globl bench_div0_resume\n"
        "bench_div0:\n\t"
        "movl $1, %eax\n\t"
        "xorl %edx, %edx\n\t"
        "xorl %ecx, %ecx\n\t"
        "divl %ecx\n"
        "bench_div0_resume:\n\t"
        "ret\n");
