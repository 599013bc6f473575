/* Self-modifying code. Every case is written the way SDM Vol. 3A 8.1.3
 * ("Handling Self- and Cross-Modifying Code") says keeps the result defined:
 * the store, then a jump (or call) to the new code or a serializing
 * instruction, then the new code. One case also relies on the P6-and-later
 * rule of SDM Vol. 3A 11.6: a store to an instruction already prefetched
 * invalidates the prefetch (checked by linear address), so the very next
 * instruction in the same straight-line block sees the store. */
#include "guest.h"

#define ROUNDS 48
#define MOV_EAX_IMM32 0xB8
#define RET 0xC3

/* All cases live in their own writable code pages, away from the runtime. */
__asm__(".section .text.smc, \"awx\", @progbits\n"
        ".balign 4096\n"
        /* The writer and the code it patches share a page; reached by CALL. */
        "smc_same_page:\n"
        "  mov %eax, smc_same_page_target + 1\n"
        "  call smc_same_page_target\n"
        "  ret\n"
        "smc_same_page_target:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        /* Store into the next instruction, then JMP to it (8.1.3 option 1). */
        "smc_next_jmp:\n"
        "  mov %eax, 1f + 1\n"
        "  jmp 1f\n"
        "1:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        /* Store, serialize with CPUID, execute (8.1.3 option 2). */
        "smc_next_cpuid:\n"
        "  push %ebx\n"
        "  mov %eax, 2f + 1\n"
        "  xor %eax, %eax\n"
        "  cpuid\n"
        "2:\n"
        "  mov $0, %eax\n"
        "  pop %ebx\n"
        "  ret\n"
        /* Store into the very next instruction, nothing in between (11.6). */
        "smc_next_insn:\n"
        "  mov %eax, 3f + 1\n"
        "3:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        /* MOV EAX, imm32 whose opcode byte is 2 bytes before the end of a
         * page: the immediate is split 1 + 3 across the boundary. */
        ".balign 4096\n"
        ".skip 4096 - 2\n"
        "smc_cross:\n"
        "  mov $0, %eax\n"
        "  ret\n"
        ".balign 4096\n"
        ".text\n");
extern uint32_t smc_same_page(uint32_t) __attribute__((regparm(1)));
extern uint32_t smc_next_jmp(uint32_t) __attribute__((regparm(1)));
extern uint32_t smc_next_cpuid(uint32_t) __attribute__((regparm(1)));
extern uint32_t smc_next_insn(uint32_t) __attribute__((regparm(1)));
extern uint8_t smc_cross[];

/* Generated code in a data page of its own. */
static uint8_t buffer[64] __attribute__((aligned(PAGE_SIZE)));

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

static uint32_t call_code(void *code) { return ((uint32_t(*)(void))code)(); }

static void write_imm(volatile uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void other_page(void)
{
    volatile uint8_t *b = buffer;
    b[0] = MOV_EAX_IMM32;
    b[5] = RET;
    unsigned mismatches = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        write_imm(b + 1, value(i));
        mismatches += call_code(buffer) != value(i);
    }
    check_eq("other_page.mismatches", 0, mismatches);

    /* New code with other instruction boundaries over the old bytes:
     * xor eax,eax; inc eax; inc eax; ret, then a 5-byte MOV again. */
    static const uint8_t incs[] = {0x31, 0xC0, 0x40, 0x40, RET};
    memcpy(buffer, incs, sizeof(incs));
    check_eq("other_page.new_boundaries", 2, call_code(buffer));
    b[0] = MOV_EAX_IMM32;
    write_imm(b + 1, 0x12345678);
    b[5] = RET;
    check_eq("other_page.old_boundaries_again", 0x12345678, call_code(buffer));
}

static void page_crossing(void)
{
    volatile uint8_t *imm = smc_cross + 1;
    check_eq("cross.straddles_page", PAGE_SIZE - 2, (uint32_t)smc_cross & (PAGE_SIZE - 1));
    unsigned mismatches = 0;
    for (unsigned i = 0; i < ROUNDS; i++) {
        write_imm(imm, value(i));
        mismatches += call_code(smc_cross) != value(i);
    }
    check_eq("cross.mismatches", 0, mismatches);
    /* Only the bytes on the second page change: the instruction that
     * starts on the first page must still see them. */
    write_imm(imm, 0x11111111);
    (void)call_code(smc_cross);
    imm[1] = 0x22;
    imm[2] = 0x33;
    imm[3] = 0x44;
    check_eq("cross.second_page_only", 0x44332211, call_code(smc_cross));
}

void test_main(void)
{
    patched_loop("same_page", smc_same_page);
    patched_loop("next_insn_after_jmp", smc_next_jmp);
    patched_loop("next_insn_after_cpuid", smc_next_cpuid);
    patched_loop("next_insn_straight_line", smc_next_insn);
    other_page();
    page_crossing();
}
