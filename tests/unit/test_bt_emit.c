/* translator/ emitter: the host code of single guest instructions, checked
 * byte for byte where the encoding is fixed and by decoding the result in
 * 64-bit mode where Zydis chooses. */
#include <criterion/criterion.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "translator/translator.h"

static int rewrite(const uint8_t *in, size_t len, uint8_t *out)
{
    return bt_rewrite_one(in, len, 0x1000, out, 128);
}

#define EXPECT_BYTES(in, ...)                                                           \
    do {                                                                                \
        static const uint8_t in_[] = in;                                                \
        static const uint8_t want_[] = __VA_ARGS__;                                     \
        uint8_t out_[128];                                                              \
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
    uint8_t out[128];
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
        uint8_t out[128];
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
        {0xFA},                   /* cli: IOPL-sensitive */
        {0x9C},                   /* pushfd: sensitive */
        {0xA5},                   /* movsd: ES:EDI ignores the GS base */
        {0xF3, 0x0F, 0xBD, 0xC1}, /* BSR with F3: LZCNT on newer hosts */
        {0x8A, 0x24, 0x24},       /* mov ah, [esp]: AH and r8 cannot share REX */
        {0x27},                   /* daa: invalid in 64-bit mode */
        {0x60},                   /* pushad */
        {0xD7},                   /* xlat */
        {0xD9, 0xE8},             /* fld1: x87 state is the interpreter's */
        {0x0F, 0xA3, 0x03},       /* bt [ebx], eax: reaches past the operand */
    };
    static const size_t lens[] = {1, 1, 1, 4, 3, 1, 1, 1, 2, 3};
    for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t out[128];
        cr_assert_eq(rewrite(cases[i], lens[i], out), 0, "case %u", i);
    }
}

Test(bt_emit, control_transfers_are_explicit)
{
    /* call rel32: the return address is stored, then ESP moves. */
    EXPECT_BYTES(B(0xE8, 0x00, 0x00, 0x00, 0x00),
                 B(0x65, 0x67, 0x41, 0xC7, 0x40, 0xFC, 0x05, 0x10, 0x00, 0x00,
                   0x67, 0x45, 0x8D, 0x40, 0xFC));
    uint8_t out[128];
    static const uint8_t ret[] = {0xC3};
    int n = rewrite(ret, 1, out);
    cr_assert_gt(n, 0);
    static const uint8_t ret_load[] = {0x65, 0x67, 0x45, 0x8B, 0x08}; /* mov r9d, gs:[r8d] */
    cr_assert_arr_eq(out, ret_load, sizeof ret_load);
}
