/* Self-modifying code, the cases smc.c leaves out: a store into a later
 * instruction of the same straight-line block, and a page where code and
 * often-written data live together (a counter next to the loop that
 * increments it, code patched from the same page). Each store is seen by
 * the next instruction fetched after it, as SDM Vol. 3A 11.6 says for
 * P6 and later processors (the store invalidates a prefetched copy by
 * linear address), and 8.1.3 for a store followed by a jump.
 * Under `bt` these pages are written often enough to change how they are
 * handled (write protection first, then hash checks): the results must
 * not change when that happens. */
#include "guest.h"

#define ROUNDS 48
#define HOT_ITERS 1000

__asm__(".section .text.smc_hot, \"awx\", @progbits\n"
        ".balign 4096\n"
        /* Store into the fourth instruction after it: no jump, no
         * serializing instruction in between. */
        "smc_same_block:\n"
        "  mov %eax, 1f + 1\n"
        "  mov %eax, %ecx\n"
        "  add $1, %ecx\n"
        "  xor %edx, %edx\n"
        "1:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        /* Code and hot data on one page. */
        ".balign 4096\n"
        "hot_counter: .long 0\n"
        "hot_sum: .long 0\n"
        /* hot_loop(n): n times counter += 1 and sum += 3 (in hot_leaf). */
        "hot_loop:\n"
        "2:\n"
        "  incl hot_counter\n"
        "  call hot_leaf\n"
        "  dec %eax\n"
        "  jnz 2b\n"
        "  mov hot_counter, %eax\n"
        "  ret\n"
        "hot_leaf:\n"
        "  addl $3, hot_sum\n"
        "  ret\n"
        /* Patched from this page and from elsewhere. */
        "hot_patched:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        "hot_patch_and_call:\n"
        "  mov %eax, hot_patched + 1\n"
        "  call hot_patched\n"
        "  ret\n"
        /* Store into the very next instruction, on the hot page. */
        "hot_next_insn:\n"
        "  incl hot_counter\n"
        "  mov %eax, 3f + 1\n"
        "3:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        ".balign 4096\n"
        ".text\n");
extern uint32_t smc_same_block(uint32_t) __attribute__((regparm(1)));
extern uint32_t hot_loop(uint32_t) __attribute__((regparm(1)));
extern uint32_t hot_patch_and_call(uint32_t) __attribute__((regparm(1)));
extern uint32_t hot_next_insn(uint32_t) __attribute__((regparm(1)));
extern uint32_t hot_patched(void);
extern volatile uint32_t hot_counter, hot_sum;

static uint32_t value(unsigned i) { return 0x9E3779B9u * (i + 1); }

typedef uint32_t (*patch_fn)(uint32_t) __attribute__((regparm(1)));

static void patched_loop(const char *name, patch_fn fn)
{
    unsigned mismatches = 0;
    uint32_t last = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        last = fn(value(i));
        mismatches += last != value(i);
    }
    check_eqf(0, mismatches, "%s.mismatches", name);
    check_eqf(value(ROUNDS - 1), last, "%s.last", name);
}

static void write_imm(volatile uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void hot_page(void)
{
    check_eq("hot.same_page", (uint32_t)&hot_counter >> 12, (uint32_t)hot_loop >> 12);
    check_eq("hot.loop", HOT_ITERS, hot_loop(HOT_ITERS));
    check_eq("hot.sum", 3 * HOT_ITERS, hot_sum);

    /* Patched from another page, with the page's data still being written. */
    volatile uint8_t *imm = (volatile uint8_t *)(uintptr_t)hot_patched + 1;
    unsigned mismatches = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        write_imm(imm, value(i));
        hot_loop(3);
        mismatches += hot_patched() != value(i);
    }
    check_eq("hot.patched_from_outside", 0, mismatches);

    patched_loop("hot.patched_from_page", hot_patch_and_call);
    patched_loop("hot.next_insn", hot_next_insn);
    check_eq("hot.counter", HOT_ITERS + 3 * ROUNDS + ROUNDS, hot_counter);
    check_eq("hot.loop_again", HOT_ITERS + 4 * ROUNDS + 100, hot_loop(100));
    check_eq("hot.sum_again", 3 * (HOT_ITERS + 3 * ROUNDS + 100), hot_sum);
}

void test_main(void)
{
    patched_loop("same_block", smc_same_block);
    hot_page();
}
