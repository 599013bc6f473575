/* translator/ emitter: the host code of single guest instructions, checked
 * byte for byte where the encoding is fixed and by decoding the result in
 * 64-bit mode where Zydis chooses. */
#include <criterion/criterion.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "translator/bt_internal.h"
#include "translator/translator.h"

static int rewrite(const uint8_t *in, size_t len, uint8_t *out)
{
    return bt_rewrite_one(in, len, 0x1000, out, 256);
}

#define EXPECT_BYTES(in, ...)                                                           \
    do {                                                                                \
        static const uint8_t in_[] = in;                                                \
        static const uint8_t want_[] = __VA_ARGS__;                                     \
        uint8_t out_[256];                                                              \
        int n_ = rewrite(in_, sizeof in_, out_);                                        \
        cr_assert_eq(n_, (int)sizeof want_, "length %d, want %zu", n_, sizeof want_);  \
        cr_assert_arr_eq(out_, want_, sizeof want_);                                    \
    } while (0)

#define B(...) {__VA_ARGS__}

/* Decodes host code in 64-bit mode: one instruction. */
static void decode64(const uint8_t *code, size_t len, ZydisDecodedInstruction *zi,
                     ZydisDecodedOperand *ops)
{
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    cr_assert(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code, len, zi, ops)));
    cr_assert_eq(zi->length, len, "one instruction");
}

Test(bt_emit, memory_operand_gets_gs_and_addr32)
{
    EXPECT_BYTES(B(0x8B, 0x44, 0x8B, 0x08), B(0x65, 0x67, 0x8B, 0x44, 0x8B, 0x08));
}

Test(bt_emit, esp_becomes_r8d)
{
    uint8_t out[256];
    static const uint8_t in[] = {0x8B, 0x44, 0x24, 0x04}; /* mov eax, [esp+4] */
    int n = rewrite(in, sizeof in, out);
    cr_assert_gt(n, 0);
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    decode64(out, (size_t)n, &zi, ops);
    cr_assert_eq(ops[1].mem.base, ZYDIS_REGISTER_R8D);
    cr_assert_eq(ops[1].mem.segment, ZYDIS_REGISTER_GS);
    cr_assert_eq(ops[1].mem.disp.value, 4);
    cr_assert_eq(zi.address_width, 32);
}

/* Zydis 4.0.0 ignores the address-size hint for [disp32]: the emitter adds
 * 0x67 itself, so the address is not sign-extended (or RIP-relative). */
Test(bt_emit, absolute_disp32_above_2g)
{
    static const uint8_t forms[][6] = {{0x8B, 0x05, 0x00, 0x10, 0x00, 0x80},
                                       {0xA1, 0x00, 0x10, 0x00, 0x80}};
    static const size_t lens[] = {6, 5};
    for (unsigned f = 0; f < 2; f++) {
        uint8_t out[256];
        int n = rewrite(forms[f], lens[f], out);
        cr_assert_gt(n, 0, "form %u", f);
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        decode64(out, (size_t)n, &zi, ops);
        cr_assert_eq(zi.address_width, 32, "form %u", f);
        cr_assert_eq(ops[1].mem.segment, ZYDIS_REGISTER_GS);
        cr_assert_eq(ops[1].mem.base, ZYDIS_REGISTER_NONE, "form %u not RIP-relative", f);
        cr_assert_eq((uint32_t)ops[1].mem.disp.value, 0x80001000u, "form %u", f);
    }
}

Test(bt_emit, lea_has_no_segment)
{
    EXPECT_BYTES(B(0x8D, 0x04, 0x8B), B(0x67, 0x8D, 0x04, 0x8B));
}

Test(bt_emit, inc_dec_register_forms)
{
    EXPECT_BYTES(B(0x40), B(0xFF, 0xC0));             /* inc eax */
    EXPECT_BYTES(B(0x44), B(0x41, 0xFF, 0xC0));       /* inc esp -> inc r8d */
    EXPECT_BYTES(B(0x4F), B(0xFF, 0xCF));             /* dec edi */
    EXPECT_BYTES(B(0x66, 0x41), B(0x66, 0xFF, 0xC1)); /* inc cx */
}

/* Store first, then move ESP, so a fault leaves ESP untouched. */
Test(bt_emit, push_pop_store_then_adjust)
{
    EXPECT_BYTES(B(0x50), B(0x65, 0x67, 0x41, 0x89, 0x40, 0xFC,   /* mov gs:[r8d-4], eax */
                            0x67, 0x45, 0x8D, 0x40, 0xFC));       /* lea r8d, [r8d-4] */
    EXPECT_BYTES(B(0x6A, 0xFF), B(0x65, 0x67, 0x41, 0xC7, 0x40, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF,
                                  0x67, 0x45, 0x8D, 0x40, 0xFC));
    EXPECT_BYTES(B(0x5B), B(0x65, 0x67, 0x41, 0x8B, 0x18,         /* mov ebx, gs:[r8d] */
                            0x67, 0x45, 0x8D, 0x40, 0x04));
    EXPECT_BYTES(B(0x5C), B(0x65, 0x67, 0x45, 0x8B, 0x00));       /* pop esp */
    EXPECT_BYTES(B(0xC9), B(0x65, 0x67, 0x44, 0x8B, 0x4D, 0x00,   /* leave */
                            0x67, 0x44, 0x8D, 0x45, 0x04, 0x44, 0x89, 0xCD));
}

Test(bt_emit, handed_to_the_interpreter)
{
    static const uint8_t cases[][4] = {
        {0x0F, 0x01, 0x00},       /* sgdt [eax]: sensitive, a helper */
        {0x66, 0x9C},             /* pushf (16-bit): not inline */
        {0x67, 0xA5},             /* movsd with 16-bit addressing (SI, DI) */
        {0xF3, 0x0F, 0xBD, 0xC1}, /* BSR with F3: LZCNT on newer hosts */
        {0x8A, 0x24, 0x24},       /* mov ah, [esp]: AH and r8 cannot share REX */
        {0x27},                   /* daa: invalid in 64-bit mode */
        {0x66, 0x60},             /* pushaw: 16-bit */
        {0xC8, 0x08, 0x00, 0x01}, /* enter 8, 1: nesting levels */
        {0xD9, 0xE8},             /* fld1: x87 state is the interpreter's */
        {0x0F, 0xA3, 0x03},       /* bt [ebx], eax: reaches past the operand */
    };
    static const size_t lens[] = {3, 2, 2, 4, 3, 1, 2, 4, 2, 3};
    for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t out[256];
        cr_assert_eq(rewrite(cases[i], lens[i], out), 0, "case %u", i);
    }
}

/* String instructions (bt_emit_str.c): LODS is gs addr32 LODS; the
 * others run on RDI biased by the window, marked in rt.str_biased. */
Test(bt_emit, string_forms)
{
    EXPECT_BYTES(B(0xAC), B(0x65, 0x67, 0xAC));
    EXPECT_BYTES(B(0x66, 0xAD), B(0x65, 0x67, 0x66, 0xAD));
    static const uint8_t forms[][2] = {{0xA5}, {0xA6}, {0xAA}, {0xAF}, {0xF3, 0xA6}, {0xF2, 0xAE},
                                       {0xF3, 0xAD}, {0xF3, 0xAB}};
    static const size_t lens[] = {1, 1, 1, 1, 2, 2, 2, 2};
    for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t out[256];
        int n = rewrite(forms[i], lens[i], out);
        cr_assert_gt(n, 0, "form %u translated", i);
        cr_assert_leq(n, BT_MAX_INSN_CODE, "form %u fits", i);
        uint8_t op = forms[i][lens[i] - 1];
        bool found = false;
        for (int k = 0; k < n && !found; k++)
            found = out[k] == op;
        cr_assert(found, "form %u uses the host instruction", i);
    }
}

/* PUSHAD, POPAD, ENTER n, 0, XLAT: explicit sequences (bt_emit_stack.c). */
Test(bt_emit, stack_forms_are_explicit)
{
    EXPECT_BYTES(B(0xD7), B(0x44, 0x0F, 0xB6, 0xC8,         /* movzx r9d, al */
                            0x46, 0x8D, 0x0C, 0x0B,         /* lea r9d, [rbx+r9] */
                            0x65, 0x67, 0x41, 0x8A, 0x01)); /* mov al, gs:[r9d] */
    /* enter 0, 0: push ebp; mov ebp, esp. */
    EXPECT_BYTES(B(0xC8, 0x00, 0x00, 0x00),
                 B(0x65, 0x67, 0x41, 0x89, 0x68, 0xFC, 0x67, 0x45, 0x8D, 0x40, 0xFC, 0x44,
                   0x89, 0xC5));
    uint8_t out[256];
    /* pushad: eight stores, then ESP moves once. */
    int n = rewrite((const uint8_t[]){0x60}, 1, out);
    static const uint8_t esp_down[] = {0x67, 0x45, 0x8D, 0x40, 0xE0}; /* lea r8d, [r8d-32] */
    cr_assert_gt(n, (int)sizeof esp_down);
    cr_assert_arr_eq(out + n - sizeof esp_down, esp_down, sizeof esp_down);
    /* popad: its first load is the highest dword, into r9d. */
    static const uint8_t first[] = {0x65, 0x67, 0x45, 0x8B, 0x48, 0x1C}; /* mov r9d, gs:[r8d+28] */
    cr_assert_gt(rewrite((const uint8_t[]){0x61}, 1, out), (int)sizeof first);
    cr_assert_arr_eq(out, first, sizeof first);
}

/* CLI, STI, PUSHFD, POPFD inline at CPL 0 (bt_emit_flags.c). */
Test(bt_emit, interrupt_flag_inline)
{
    /* cli: mov byte [r15 + vif], 0 */
    uint8_t want_cli[] = {0x41, 0xC6, 0x87, 0, 0, 0, 0, 0};
    memcpy(want_cli + 3, &(uint32_t){BT_RT_VIF}, 4);
    uint8_t out[256];
    cr_assert_eq(rewrite((const uint8_t[]){0xFA}, 1, out), (int)sizeof want_cli);
    cr_assert_arr_eq(out, want_cli, sizeof want_cli);
    /* pushfd: pushfq first (the host flags), the guest store last but one. */
    int n = rewrite((const uint8_t[]){0x9C}, 1, out);
    cr_assert_gt(n, 10);
    cr_assert_eq(out[0], 0x9C);
    static const uint8_t store_esp[] = {0x65, 0x67, 0x45, 0x89, 0x50, 0xFC, /* mov gs:[r8d-4], r10d */
                                        0x67, 0x45, 0x8D, 0x40, 0xFC};     /* lea r8d, [r8d-4] */
    cr_assert_arr_eq(out + n - sizeof store_esp, store_esp, sizeof store_esp);
    /* sti and popfd: inline, longer than a helper call. */
    cr_assert_gt(rewrite((const uint8_t[]){0xFB}, 1, out), 0);
    cr_assert_gt(rewrite((const uint8_t[]){0x9D}, 1, out), 0);
}

Test(bt_emit, control_transfers_are_explicit)
{
    /* call rel32: the return address is stored, then ESP moves, then a
     * host CALL (the return-address stack, bt_ras.c). */
    uint8_t out[256];
    static const uint8_t call[] = {0xE8, 0x00, 0x00, 0x00, 0x00};
    static const uint8_t call_code[] = {0x65, 0x67, 0x41, 0xC7, 0x40, 0xFC, 0x05, 0x10, 0x00, 0x00,
                                        0x67, 0x45, 0x8D, 0x40, 0xFC, 0xE8};
    cr_assert_gt(rewrite(call, sizeof call, out), (int)sizeof call_code);
    cr_assert_arr_eq(out, call_code, sizeof call_code);
    /* ret: r9d <- the return address, ESP moves, host RET. */
    EXPECT_BYTES(B(0xC3), B(0x65, 0x67, 0x45, 0x8B, 0x08, /* mov r9d, gs:[r8d] */
                            0x67, 0x45, 0x8D, 0x40, 0x04, /* lea r8d, [r8d+4] */
                            0xC3));
}
