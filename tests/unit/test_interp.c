/* The interpreter on small raw code snippets: ALU flags, shifts, mul/div
 * and #DE, string instructions with REP and DF, 16-bit real-mode code,
 * stack corner cases, bit instructions, self-modifying code, single steps
 * and debug-register breakpoints, expand-down segments. Each
 * snippet ends with OUT 0F4H, AL (the debug-exit port), which stops the
 * machine without touching a register; the test then reads the CPU state
 * the engine leaves behind. Expected values are worked out from the SDM
 * instruction pages. */
#include <criterion/criterion.h>

#include "loader_fixture.h"
#include "vmm_helpers/interp_internal.h"

#define D(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), (uint8_t)((x) >> 24)
#define W(x) (uint8_t)(x), (uint8_t)((x) >> 8)
#define EXIT 0xE6, 0xF4 /* out 0xF4, al */

#define LOAD32 0x100000u /* flat 32-bit snippets */
#define LOAD16 0x7C00u   /* real-mode snippets, CS = 0 */

TestSuite(interp, .init = lt_setup, .fini = lt_teardown);

static struct machine *m;

static struct hlp_cpu *run(const uint8_t *code, size_t len, enum mach_boot_kind kind)
{
    struct mach_err err = {{0}};
    uint32_t at = kind == MACH_BOOT_REAL ? LOAD16 : LOAD32;
    m = lt_machine(4, 0);
    cr_assert_eq(mach_load_raw(m, lt_file("code.bin", code, len), at, at, kind, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(interp_engine.run(m, &err), 0, "%s", err.msg);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_DEBUG, "stopped by: %s", mach_exit_message(m));
    struct interp *ix = mach_engine_state(m);
    return &ix->cpu;
}

#define RUN32(...)                                                                           \
    ({                                                                                       \
        static const uint8_t code_[] = {__VA_ARGS__};                                        \
        run(code_, sizeof code_, MACH_BOOT_FLAT32);                                          \
    })
#define RUN16(...)                                                                           \
    ({                                                                                       \
        static const uint8_t code_[] = {__VA_ARGS__};                                        \
        run(code_, sizeof code_, MACH_BOOT_REAL);                                            \
    })

static uint32_t ram32(uint32_t paddr)
{
    uint32_t v;
    memcpy(&v, mach_ram(m) + paddr, 4);
    return v;
}

static uint16_t ram16(uint32_t paddr)
{
    uint16_t v;
    memcpy(&v, mach_ram(m) + paddr, 2);
    return v;
}

#define ARITH(f) ((f) & HLP_FL_ARITH)

Test(interp, add_signed_overflow)
{
    struct hlp_cpu *c = RUN32(0xB8, D(0x7FFFFFFF), /* mov eax, 7fffffffh */
                              0xBB, D(1),          /* mov ebx, 1 */
                              0x01, 0xD8,          /* add eax, ebx */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 0x80000000u);
    cr_expect_eq(ARITH(c->eflags), HLP_FL_OF | HLP_FL_SF | HLP_FL_AF | HLP_FL_PF);
}

Test(interp, sub_borrow_byte)
{
    struct hlp_cpu *c = RUN32(0xB0, 0x00, /* mov al, 0 */
                              0x2C, 0x01, /* sub al, 1 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFF, 0xFFu);
    cr_expect_eq(ARITH(c->eflags), HLP_FL_CF | HLP_FL_SF | HLP_FL_AF | HLP_FL_PF);
}

Test(interp, adc_sbb_chain)
{
    struct hlp_cpu *c = RUN32(0xB8, D(0xFFFFFFFF), /* mov eax, -1 */
                              0x83, 0xC0, 0x01,    /* add eax, 1: CF=1 ZF=1 */
                              0xBB, D(0),          /* mov ebx, 0 */
                              0x83, 0xD3, 0x00,    /* adc ebx, 0 -> 1 */
                              0xB9, D(5),          /* mov ecx, 5 */
                              0xF9,                /* stc */
                              0x83, 0xD9, 0x05,    /* sbb ecx, 5 -> -1, CF=1 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 0u);
    cr_expect_eq(c->gpr[HLP_EBX], 1u);
    cr_expect_eq(c->gpr[HLP_ECX], 0xFFFFFFFFu);
    cr_expect_eq(ARITH(c->eflags), HLP_FL_CF | HLP_FL_SF | HLP_FL_AF | HLP_FL_PF);
}

Test(interp, inc_keeps_cf_neg_sets_it)
{
    struct hlp_cpu *c = RUN32(0xF9,                /* stc */
                              0xB8, D(0x7FFFFFFF), /* mov eax, 7fffffffh */
                              0x40,                /* inc eax: OF, CF kept */
                              0xBA, D(0),          /* mov edx, 0 */
                              0xF7, 0xDA,          /* neg edx: CF=0 ZF=1 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 0x80000000u);
    cr_expect_eq(ARITH(c->eflags), HLP_FL_ZF | HLP_FL_PF);
}

Test(interp, rcl_count_modulo_9_changes_nothing)
{
    struct hlp_cpu *c = RUN32(0xB0, 0x81, /* mov al, 81h */
                              0xF9,       /* stc */
                              0xB1, 0x09, /* mov cl, 9 */
                              0xD2, 0xD0, /* rcl al, cl */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFF, 0x81u);
    cr_expect(c->eflags & HLP_FL_CF);
}

Test(interp, rcl_by_one_sets_of)
{
    struct hlp_cpu *c = RUN32(0xB0, 0x81, /* mov al, 81h */
                              0xF8,       /* clc */
                              0xD0, 0xD0, /* rcl al, 1 -> 02h, CF=1, OF=1 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFF, 0x02u);
    cr_expect_eq(c->eflags & (HLP_FL_CF | HLP_FL_OF), HLP_FL_CF | HLP_FL_OF);
}

Test(interp, shift_count_zero_keeps_flags)
{
    struct hlp_cpu *c = RUN32(0xB8, D(0x1234), /* mov eax, 1234h */
                              0xF9,            /* stc */
                              0xB1, 0x20,      /* mov cl, 32 */
                              0xD3, 0xE0,      /* shl eax, cl: count masks to 0 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 0x1234u);
    cr_expect(c->eflags & HLP_FL_CF);
}

Test(interp, sar_and_shld)
{
    struct hlp_cpu *c = RUN32(0xB8, D(0x80000000), /* mov eax, 80000000h */
                              0xC1, 0xF8, 0x1F,    /* sar eax, 31 */
                              0xBB, D(0x12345678), /* mov ebx, 12345678h */
                              0xBA, D(0x9ABCDEF0), /* mov edx, 9abcdef0h */
                              0x0F, 0xA4, 0xD3, 0x08, /* shld ebx, edx, 8 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 0xFFFFFFFFu);
    cr_expect_eq(c->gpr[HLP_EBX], 0x3456789Au);
    cr_expect_eq(c->eflags & HLP_FL_CF, 0u); /* last bit out of EBX: bit 24 = 0 */
}

Test(interp, mul_div)
{
    struct hlp_cpu *c = RUN32(0xB8, D(7), 0xB9, D(3), 0x31, 0xD2, /* eax=7 ecx=3 edx=0 */
                              0xF7, 0xF1,                         /* div ecx */
                              0x89, 0xC6, 0x89, 0xD7,             /* mov esi,eax; mov edi,edx */
                              0xB8, D(0xFFFFFFFE),                /* mov eax, -2 */
                              0xF7, 0xE9,                         /* imul ecx -> edx:eax = -6 */
                              0x69, 0xD9, D(0x10000),             /* imul ebx, ecx, 10000h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ESI], 2u);
    cr_expect_eq(c->gpr[HLP_EDI], 1u);
    cr_expect_eq(c->gpr[HLP_EAX], 0xFFFFFFFAu);
    cr_expect_eq(c->gpr[HLP_EDX], 0xFFFFFFFFu);
    cr_expect_eq(c->gpr[HLP_EBX], 0x30000u);
    cr_expect_eq(c->eflags & (HLP_FL_CF | HLP_FL_OF), 0u);
}

/* Real mode: IVT vector 0 -> handler; DIV BL with BL = 0 faults with the
 * DIV's own IP pushed (a fault, SDM Vol. 3A 6.15 interrupt 0). */
Test(interp, divide_error_real_mode)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                         /* 00 xor ax, ax */
                              0x8E, 0xD8,                         /* 02 mov ds, ax */
                              0xC7, 0x06, W(0), W(LOAD16 + 25),   /* 04 mov word [0], handler */
                              0xC7, 0x06, W(2), W(0),             /* 10 mov word [2], 0 */
                              0xBC, W(0x7C00),                    /* 16 mov sp, 7c00h */
                              0xB3, 0x00,                         /* 19 mov bl, 0 */
                              0xF6, 0xF3,                         /* 21 div bl */
                              EXIT,                               /* 23 */
                              0xB9, W(0x1234),                    /* 25 handler: mov cx, 1234h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0x1234u);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 21); /* IP of the DIV */
    cr_expect_eq(ram16(0x7BFC), 0u);          /* CS */
}

/* A word at offset 0FFFFh crosses the real-mode limit: #GP (vector 13),
 * with the faulting instruction's IP pushed. */
Test(interp, real_mode_word_at_ffff_faults)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                        /* 00 xor ax, ax */
                              0x8E, 0xD8,                        /* 02 mov ds, ax */
                              0xC7, 0x06, W(52), W(LOAD16 + 26), /* 04 mov word [13*4], handler */
                              0xC7, 0x06, W(54), W(0),           /* 10 mov word [13*4+2], 0 */
                              0xBC, W(0x7C00),                   /* 16 mov sp, 7c00h */
                              0xBB, W(0xFFFF),                   /* 19 mov bx, 0ffffh */
                              0x8B, 0x07,                        /* 22 mov ax, [bx] */
                              EXIT,                              /* 24 */
                              0xB9, W(0x55AA),                   /* 26 handler: mov cx, 55aah */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0x55AAu);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 22);
}

Test(interp, rep_movsb_forward_and_backward)
{
    /* data: 8 bytes at LOAD32 + 0x100, copied to +0x200; then copied
     * backwards (STD) from +0x103 down to +0x300 + 3. */
    uint8_t code[0x200] = {
        0xBE, D(LOAD32 + 0x100), /* mov esi, src */
        0xBF, D(LOAD32 + 0x200), /* mov edi, dst */
        0xB9, D(8),              /* mov ecx, 8 */
        0xFC,                    /* cld */
        0xF3, 0xA4,              /* rep movsb */
        0xBE, D(LOAD32 + 0x103), /* mov esi, src + 3 */
        0xBF, D(LOAD32 + 0x303), /* mov edi, dst2 + 3 */
        0xB9, D(4),              /* mov ecx, 4 */
        0xFD,                    /* std */
        0xF3, 0xA4,              /* rep movsb */
        0xFC,                    /* cld */
        0xB0, 0x44,              /* mov al, 44h */
        0xBF, D(LOAD32 + 0x100), /* mov edi, src */
        0xB9, D(8),              /* mov ecx, 8 */
        0xF2, 0xAE,              /* repne scasb */
        EXIT,
    };
    memcpy(code + 0x100, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    struct hlp_cpu *c = run(code, sizeof code, MACH_BOOT_FLAT32);
    cr_expect_eq(memcmp(mach_ram(m) + LOAD32 + 0x200, "\x11\x22\x33\x44\x55\x66\x77\x88", 8), 0);
    cr_expect_eq(memcmp(mach_ram(m) + LOAD32 + 0x300, "\x11\x22\x33\x44", 4), 0);
    cr_expect_eq(c->gpr[HLP_EDI], LOAD32 + 0x104); /* one past the 44h */
    cr_expect_eq(c->gpr[HLP_ECX], 4u);
    cr_expect(c->eflags & HLP_FL_ZF);
}

Test(interp, rep_stosd_with_16bit_address_size)
{
    struct hlp_cpu *c = RUN32(0xB8, D(0xA5A5A5A5),    /* mov eax, a5a5a5a5h */
                              0xBF, D(0xFFFF0000 | 0x2000), /* mov edi: upper half ignored */
                              0xB9, D(0xABCD0003),    /* mov ecx: CX = 3 */
                              0xFC,                   /* cld */
                              0x67, 0xF3, 0xAB,       /* a16 rep stosd */
                              EXIT);
    cr_expect_eq(ram32(0x2000), 0xA5A5A5A5u);
    cr_expect_eq(ram32(0x2008), 0xA5A5A5A5u);
    cr_expect_eq(ram32(0x200C), 0u);
    cr_expect_eq(c->gpr[HLP_ECX], 0xABCD0000u);
    cr_expect_eq(c->gpr[HLP_EDI], 0xFFFF200Cu);
}

/* A store into the next instruction of the same block: the new byte must
 * be executed. */
Test(interp, self_modifying_code_same_block)
{
    struct hlp_cpu *c = RUN32(0xC6, 0x05, D(LOAD32 + 8), 0x42, /* 0 mov byte [imm of next], 42h */
                              0xB0, 0x00,                     /* 7 mov al, 0 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFF, 0x42u);
}

Test(interp, loop_with_16bit_count)
{
    struct hlp_cpu *c = RUN32(0x31, 0xC0,          /* 0 xor eax, eax */
                              0xB9, D(0x00010005), /* 2 mov ecx, 10005h */
                              0x40,                /* 7 inc eax */
                              0x67, 0xE2, 0xFC,    /* 8 a16 loop 7 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX], 5u);
    cr_expect_eq(c->gpr[HLP_ECX], 0x00010000u);
}

Test(interp, push_pop_esp_and_enter)
{
    struct hlp_cpu *c = RUN32(0xBC, D(0x200000),    /* mov esp, 200000h */
                              0x54,                 /* push esp */
                              0x5C,                 /* pop esp */
                              0x89, 0xE6,           /* mov esi, esp */
                              0xBD, D(0x180000),    /* mov ebp, 180000h */
                              0xC8, W(8), 0x02,     /* enter 8, 2 */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ESI], 0x200000u);
    cr_expect_eq(ram32(0x1FFFFC), 0x180000u); /* pushed EBP, then POP ESP's value before it */
    cr_expect_eq(ram32(0x1FFFF4), 0x1FFFFCu); /* frame pointer copy */
    cr_expect_eq(c->gpr[HLP_EBP], 0x1FFFFCu);
    cr_expect_eq(c->gpr[HLP_ESP], 0x1FFFECu);
}

Test(interp, bt_negative_offset_and_bsf_zero)
{
    uint8_t code[0x40] = {
        0xBB, D(0x12345678),                 /* mov ebx, 12345678h */
        0x31, 0xC9,                          /* xor ecx, ecx */
        0x42,                                /* inc edx: ZF=0 */
        0x0F, 0xBC, 0xD9,                    /* bsf ebx, ecx: ZF=1, ebx kept */
        0xB8, D(0xFFFFFFFF),                 /* mov eax, -1 */
        0x0F, 0xA3, 0x05, D(LOAD32 + 0x24),  /* bt [data + 4], eax: bit 31 of [data] */
        EXIT,
    };
    code[0x23] = 0x80; /* dword at +0x20 = 80000000h */
    struct hlp_cpu *c = run(code, sizeof code, MACH_BOOT_FLAT32);
    cr_expect(c->eflags & HLP_FL_CF);
    cr_expect(c->eflags & HLP_FL_ZF);
    cr_expect_eq(c->gpr[HLP_EBX], 0x12345678u);
}

Test(interp, cmpxchg_xadd_bswap)
{
    struct hlp_cpu *c = RUN32(0xB8, D(5), 0xBB, D(5), 0xB9, D(9), /* eax=5 ebx=5 ecx=9 */
                              0x0F, 0xB1, 0xCB,                   /* cmpxchg ebx, ecx: ZF, ebx=9 */
                              0xBA, D(1),                         /* mov edx, 1 */
                              0x0F, 0xC1, 0xD1,                   /* xadd ecx, edx: ecx=10 edx=9 */
                              0xBE, D(0x11223344),                /* mov esi, 11223344h */
                              0x0F, 0xCE,                         /* bswap esi */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EBX], 9u);
    cr_expect_eq(c->gpr[HLP_ECX], 10u);
    cr_expect_eq(c->gpr[HLP_EDX], 9u);
    cr_expect_eq(c->gpr[HLP_ESI], 0x44332211u);
}

Test(interp, bcd_adjusts)
{
    struct hlp_cpu *c = RUN32(0xB0, 0x79, 0x04, 0x35, /* mov al, 79h; add al, 35h -> aeh */
                              0x27,                   /* daa -> 14h, CF=1 */
                              0x88, 0xC3,             /* mov bl, al */
                              0x66, 0xB8, W(0x0207),  /* mov ax, 0207h */
                              0xD5, 0x0A,             /* aad -> ax = 001bh */
                              0xD4, 0x0A,             /* aam -> ax = 0207h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFF, 0x14u);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFFFF, 0x0207u);
}

/* A REP STOSW that runs into the real-mode limit faults at the iteration
 * that would store at 0FFFFh: CX, DI say how far it got, and the pushed IP
 * is the REP instruction's (SDM Vol. 2 REP: interrupted and restartable). */
Test(interp, rep_fault_midway_keeps_progress)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                        /* 00 xor ax, ax */
                              0x8E, 0xD8,                        /* 02 mov ds, ax */
                              0x8E, 0xC0,                        /* 04 mov es, ax */
                              0xC7, 0x06, W(52), W(LOAD16 + 30), /* 06 mov word [13*4], handler */
                              0xC7, 0x06, W(54), W(0),           /* 12 mov word [13*4+2], 0 */
                              0xBC, W(0x7C00),                   /* 18 mov sp, 7c00h */
                              0xBF, W(0xFFF9),                   /* 21 mov di, 0fff9h */
                              0xB9, W(10),                       /* 24 mov cx, 10 */
                              0xF3, 0xAB,                        /* 27 rep stosw */
                              0x90,                              /* 29 */
                              EXIT);                             /* 30 handler */
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 7u);
    cr_expect_eq(c->gpr[HLP_EDI] & 0xFFFF, 0xFFFFu);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 27);
}

/* A loop that patches an instruction of a block it has already run: the
 * cached block must be dropped and the new immediate used. */
Test(interp, self_modifying_code_earlier_block)
{
    struct hlp_cpu *c = RUN32(0x31, 0xDB,                     /* 00 xor ebx, ebx */
                              0xB9, D(2),                     /* 02 mov ecx, 2 */
                              0xB0, 0x01,                     /* 07 mov al, 1 (imm at 08) */
                              0x00, 0xC3,                     /* 09 add bl, al */
                              0xC6, 0x05, D(LOAD32 + 8), 0x05, /* 11 mov byte [imm], 5 */
                              0xE2, 0xF3,                     /* 18 loop 07 */
                              EXIT);                          /* 20 */
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFF, 6u);
}

Test(interp, pusha_popa_16bit)
{
    struct hlp_cpu *c = RUN16(0xBC, W(0x7C00), /* mov sp, 7c00h */
                              0xB8, W(1),      /* mov ax, 1 */
                              0xBB, W(2),      /* mov bx, 2 */
                              0xBF, W(7),      /* mov di, 7 */
                              0x60,            /* pusha */
                              0xB8, W(9),      /* mov ax, 9 */
                              0xBB, W(9),      /* mov bx, 9 */
                              0x61,            /* popa */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_EAX] & 0xFFFF, 1u);
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFFFF, 2u);
    cr_expect_eq(c->gpr[HLP_ESP] & 0xFFFF, 0x7C00u);
    cr_expect_eq(ram16(0x7BFE), 1u);      /* AX pushed first */
    cr_expect_eq(ram16(0x7BF6), 0x7C00u); /* the original SP */
    cr_expect_eq(ram16(0x7BF0), 7u);      /* DI last */
}

Test(interp, setcc_cmovcc)
{
    struct hlp_cpu *c = RUN32(0xB8, D(1),          /* mov eax, 1 */
                              0x31, 0xD2,          /* xor edx, edx */
                              0x83, 0xF8, 0x02,    /* cmp eax, 2: less (signed) */
                              0x0F, 0x9C, 0xC1,    /* setl cl */
                              0x0F, 0x4C, 0xD0,    /* cmovl edx, eax */
                              0x0F, 0x47, 0xF0,    /* cmova esi, eax: not taken */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFF, 1u);
    cr_expect_eq(c->gpr[HLP_EDX], 1u);
    cr_expect_neq(c->gpr[HLP_ESI], 1u);
}

/* POPF sets TF: the instruction after it completes, then #DB traps with
 * the next IP pushed and DR6.BS set (SDM Vol. 3A 17.3.1.4). */
Test(interp, single_step_trap)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                       /* 00 xor ax, ax */
                              0x8E, 0xD8,                       /* 02 mov ds, ax */
                              0xC7, 0x06, W(4), W(LOAD16 + 30), /* 04 mov word [1*4], handler */
                              0xC7, 0x06, W(6), W(0),           /* 10 mov word [1*4+2], 0 */
                              0xBC, W(0x7C00),                  /* 16 mov sp, 7c00h */
                              0x9C,                             /* 19 pushf */
                              0x58,                             /* 20 pop ax */
                              0x80, 0xCC, 0x01,                 /* 21 or ah, 1 (TF) */
                              0x50,                             /* 24 push ax */
                              0x9D,                             /* 25 popf */
                              0x43,                             /* 26 inc bx */
                              0x43,                             /* 27 inc bx */
                              EXIT,                             /* 28 */
                              0xB9, W(0x77),                    /* 30 handler: mov cx, 77h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0x77u);
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFFFF, 1u);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 27);
    cr_expect(c->dr[HLP_DR6] & HLP_DR6_BS);
}

/* An execute breakpoint in DR0/DR7 faults before the instruction runs,
 * with its own IP pushed and DR6.B0 set (SDM Vol. 3A 17.3.1.1). */
Test(interp, instruction_breakpoint_fault)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                       /* 00 xor ax, ax */
                              0x8E, 0xD8,                       /* 02 mov ds, ax */
                              0xC7, 0x06, W(4), W(LOAD16 + 41), /* 04 mov word [1*4], handler */
                              0xC7, 0x06, W(6), W(0),           /* 10 mov word [1*4+2], 0 */
                              0xBC, W(0x7C00),                  /* 16 mov sp, 7c00h */
                              0x66, 0xB8, D(LOAD16 + 37),       /* 19 mov eax, target */
                              0x0F, 0x23, 0xC0,                 /* 25 mov dr0, eax */
                              0x66, 0xB8, D(1),                 /* 28 mov eax, 1 (L0, execute) */
                              0x0F, 0x23, 0xF8,                 /* 34 mov dr7, eax */
                              0x43,                             /* 37 inc bx: the target */
                              0x43,                             /* 38 inc bx */
                              EXIT,                             /* 39 */
                              0xB9, W(0x99),                    /* 41 handler: mov cx, 99h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0x99u);
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFFFF, 0u);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 37);
    cr_expect(c->dr[HLP_DR6] & 1u);
}

/* A write breakpoint (DR1, 2 bytes) traps after the store that hits it,
 * with the next IP pushed and DR6.B1 set (SDM Vol. 3A 17.3.1.2). */
Test(interp, data_breakpoint_trap)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                       /* 00 xor ax, ax */
                              0x8E, 0xD8,                       /* 02 mov ds, ax */
                              0xC7, 0x06, W(4), W(LOAD16 + 43), /* 04 mov word [1*4], handler */
                              0xC7, 0x06, W(6), W(0),           /* 10 mov word [1*4+2], 0 */
                              0xBC, W(0x7C00),                  /* 16 mov sp, 7c00h */
                              0x66, 0xB8, D(0x600),             /* 19 mov eax, 600h */
                              0x0F, 0x23, 0xC8,                 /* 25 mov dr1, eax */
                              0x66, 0xB8, D(0x00500004),        /* 28 mov eax: L1, write, 2 bytes */
                              0x0F, 0x23, 0xF8,                 /* 34 mov dr7, eax */
                              0xA3, W(0x600),                   /* 37 mov [600h], ax */
                              0x43,                             /* 40 inc bx */
                              EXIT,                             /* 41 */
                              0xB9, W(0x55),                    /* 43 handler: mov cx, 55h */
                              EXIT);
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0x55u);
    cr_expect_eq(c->gpr[HLP_EBX] & 0xFFFF, 0u);
    cr_expect_eq(ram16(0x7BFA), LOAD16 + 40);
    cr_expect(c->dr[HLP_DR6] & 2u);
}

/* Overlapping forward MOVSB replicates the first byte (each iteration
 * reads what the previous one wrote); a STOSD run crosses a page edge. */
Test(interp, rep_movsb_overlap_and_stosd_across_pages)
{
    struct hlp_cpu *c = RUN32(0xFC,                        /* cld */
                              0xC6, 0x05, D(0x3000), 0x5A, /* mov byte [3000h], 5ah */
                              0xBE, D(0x3000),             /* mov esi, 3000h */
                              0xBF, D(0x3001),             /* mov edi, 3001h */
                              0xB9, D(100),                /* mov ecx, 100 */
                              0xF3, 0xA4,                  /* rep movsb */
                              0xB8, D(0x11223344),         /* mov eax, 11223344h */
                              0xBF, D(0x4FF8),             /* mov edi, 4ff8h */
                              0xB9, D(1000),               /* mov ecx, 1000 */
                              0xF3, 0xAB,                  /* rep stosd */
                              EXIT);
    for (unsigned k = 0; k <= 100; k++)
        cr_expect_eq(mach_ram(m)[0x3000 + k], 0x5A, "byte %u", k);
    cr_expect_eq(mach_ram(m)[0x3065], 0);
    cr_expect_eq(ram32(0x4FF8), 0x11223344u);
    cr_expect_eq(ram32(0x4FFC), 0x11223344u);
    cr_expect_eq(ram32(0x5000), 0x11223344u);
    cr_expect_eq(ram32(0x4FF8 + 999 * 4), 0x11223344u);
    cr_expect_eq(ram32(0x4FF8 + 1000 * 4), 0u);
    cr_expect_eq(c->gpr[HLP_EDI], 0x4FF8u + 4000);
    cr_expect_eq(c->gpr[HLP_ECX], 0u);
}

/* ---- protected-mode segments: a GDT and an IDT built by the test ---------------- */

struct image {
    uint8_t b[0x400];
    unsigned n;
};

static uint32_t emit(struct image *im, const uint8_t *bytes, unsigned len)
{
    uint32_t at = LOAD32 + im->n;
    memcpy(im->b + im->n, bytes, len);
    im->n += len;
    return at;
}
#define E(im, ...) \
    emit(im, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void put64(struct image *im, unsigned off, uint64_t v) { memcpy(im->b + off, &v, 8); }

/* GDT at +0x300: flat code 08h, flat data 10h, and two expand-down data
 * segments at base 20000h with limit 0FFFh: 18h with B = 0 (offsets
 * 1000h-0FFFFh valid), 20h with B = 1 (1000h-0FFFFFFFFh). IDT at +0x380
 * with #GP (13) going to `gp`. The code starts with LGDT, LIDT, a stack
 * at 90000h, and DS = sel. */
static void pm_prologue(struct image *im, uint16_t sel)
{
    put64(im, 0x308, 0x00CF9A000000FFFFull);
    put64(im, 0x310, 0x00CF92000000FFFFull);
    put64(im, 0x318, 0x0000960200000FFFull);
    put64(im, 0x320, 0x0040960200000FFFull);
    memcpy(im->b + 0x3F0, (uint8_t[]){W(0x27), D(LOAD32 + 0x300)}, 6);  /* GDTR */
    memcpy(im->b + 0x3F8, (uint8_t[]){W(14 * 8 - 1), D(LOAD32 + 0x380)}, 6); /* IDTR */
    E(im, 0x0F, 0x01, 0x15, D(LOAD32 + 0x3F0)); /* lgdt */
    E(im, 0x0F, 0x01, 0x1D, D(LOAD32 + 0x3F8)); /* lidt */
    E(im, 0xBC, D(0x90000));                    /* mov esp, 90000h */
    E(im, 0x66, 0xB8, W(sel));                  /* mov ax, sel */
    E(im, 0x8E, 0xD8);                          /* mov ds, ax */
}

static void set_gp_handler(struct image *im, uint32_t handler)
{
    put64(im, 0x380 + 13 * 8,
          ((uint64_t)((handler & 0xFFFF0000u) | 0x8E00u) << 32) | (0x08u << 16) |
              (handler & 0xFFFF));
}

Test(interp, expand_down_16bit_segment)
{
    struct image im = {{0}, 0};
    pm_prologue(&im, 0x18);
    E(&im, 0xA1, D(0x1000));                   /* mov eax, [1000h]: lowest valid */
    E(&im, 0x66, 0xA1, D(0xFFFE));             /* mov ax, [0fffeh]: highest word */
    E(&im, 0xB9, D(1));                        /* mov ecx, 1 */
    uint32_t bad = E(&im, 0x66, 0xA1, D(0xFFFF)); /* mov ax, [0ffffh]: past 0FFFFh */
    E(&im, EXIT);
    set_gp_handler(&im, E(&im, 0xBA, D(0x77), EXIT)); /* gp: mov edx, 77h */
    struct hlp_cpu *c = run(im.b, sizeof im.b, MACH_BOOT_FLAT32);
    cr_expect_eq(c->gpr[HLP_ECX], 1u);
    cr_expect_eq(c->gpr[HLP_EDX], 0x77u);
    cr_expect_eq(ram32(0x90000 - 12), bad); /* EIP of the faulting MOV */
    cr_expect_eq(ram32(0x90000 - 16), 0u);  /* error code */
}

Test(interp, expand_down_limit_faults_below)
{
    struct image im = {{0}, 0};
    pm_prologue(&im, 0x20);
    E(&im, 0xA1, D(0xFFFFFFF0));               /* mov eax, [0fffffff0h]: valid with B = 1 */
    E(&im, 0xB9, D(1));                        /* mov ecx, 1 */
    uint32_t bad = E(&im, 0xA1, D(0x0FFE));    /* mov eax, [0ffeh]: reaches the limit */
    E(&im, EXIT);
    set_gp_handler(&im, E(&im, 0xBA, D(0x77), EXIT));
    struct hlp_cpu *c = run(im.b, sizeof im.b, MACH_BOOT_FLAT32);
    cr_expect_eq(c->gpr[HLP_ECX], 1u);
    cr_expect_eq(c->gpr[HLP_EDX], 0x77u);
    cr_expect_eq(ram32(0x90000 - 12), bad);
}

/* With TF set, a REP instruction traps after each iteration with IP still
 * at the instruction, and after its last one with IP past it. */
Test(interp, single_step_rep_iterations)
{
    struct hlp_cpu *c = RUN16(0x31, 0xC0,                       /* 00 xor ax, ax */
                              0x8E, 0xD8,                       /* 02 mov ds, ax */
                              0x8E, 0xC0,                       /* 04 mov es, ax */
                              0xC7, 0x06, W(4), W(LOAD16 + 40), /* 06 mov word [1*4], handler */
                              0xC7, 0x06, W(6), W(0),           /* 12 mov word [1*4+2], 0 */
                              0xBC, W(0x7C00),                  /* 18 mov sp, 7c00h */
                              0xBF, W(0x600),                   /* 21 mov di, 600h */
                              0xB9, W(3),                       /* 24 mov cx, 3 */
                              0x9C, 0x58,                       /* 27 pushf; pop ax */
                              0x80, 0xCC, 0x01,                 /* 29 or ah, 1 (TF) */
                              0x50, 0x9D,                       /* 32 push ax; popf */
                              0xF3, 0xAA,                       /* 34 rep stosb */
                              0x90,                             /* 36 nop */
                              EXIT,                             /* 37 */
                              0x90,                             /* 39 */
                              /* 40 handler: count traps in SI, keep stepping
                               * (the IRET frame keeps TF) */
                              0x46,                             /* 40 inc si */
                              0xCF);                            /* 41 iret */
    /* Traps: after each of the 3 iterations (IP 34, 34, 36), after NOP (37),
     * then OUT ends the run before its own trap is taken. */
    cr_expect_eq(c->gpr[HLP_ECX] & 0xFFFF, 0u);
    cr_expect_eq(c->gpr[HLP_EDI] & 0xFFFF, 0x603u);
    cr_expect_eq(c->gpr[HLP_ESI] & 0xFFFF, 4u);
}

/* A #UD handler that is itself an invalid opcode completes no instruction
 * ever; --timeout must still stop the machine (found by tests/fuzz). */
Test(interp, fault_loop_still_times_out, .timeout = 10)
{
    static const uint8_t code[] = {
        0xC7, 0x06, 0x18, 0x00, W(LOAD16 + 17), /* mov word [0x18], handler (IVT[6]) */
        0xC7, 0x06, 0x1A, 0x00, W(0),           /* mov word [0x1a], 0 */
        0xB8, W(0x0800), 0x8E, 0xD0,            /* mov ax, 0x800; mov ss, ax */
        0xFF, 0xFF,                             /* handler: invalid opcode */
    };
    struct mach_err err = {{0}};
    struct mach_config cfg = {.ram_bytes = 4u << 20, .timeout_ns = 200000000u};
    m = mach_create(&cfg, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_eq(mach_load_raw(m, lt_file("loop.bin", code, sizeof code), LOAD16, LOAD16,
                               MACH_BOOT_REAL, &err),
                 0, "%s", err.msg);
    cr_assert_eq(interp_engine.run(m, &err), 0, "%s", err.msg);
    cr_assert_eq(mach_exit_kind(m), MACH_EXIT_TIMEOUT, "stopped by: %s", mach_exit_message(m));
    mach_destroy(m);
    m = NULL;
}
