/* translator/bt_x87.c: which x87 instructions run natively, their host
 * code, and the stores of the last-instruction pointers a group of them
 * leaves (decoded back in 64-bit mode where the encoding is Zydis'
 * business). */
#include <criterion/criterion.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "translator/bt_internal.h"

#define FLAT (0x3Fu << BT_MODE_FLAT_SHIFT)
#define MODE (BT_MODE_VALID | FLAT | BT_MODE_X87)

static struct dec_ctx ctx;
static uint8_t buf[512];
static struct bt_asm a;

static void setup(void)
{
    cr_assert_eq(dec_init(&ctx, 0), 0);
    memset(buf, 0xCC, sizeof buf);
    a = (struct bt_asm){.p = buf, .start = buf, .end = buf + sizeof buf, .rx_start = buf};
}

static struct dec_insn decode(const uint8_t *bytes, size_t len)
{
    struct dec_insn d;
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, bytes, len, &d), DEC_OK);
    return d;
}

/* Emits one instruction; returns its code length, or -1 for a fallback. */
static int emit(const uint8_t *bytes, size_t len, uint32_t eip, uint32_t mode)
{
    struct dec_insn d = decode(bytes, len);
    uint8_t *before = a.p;
    if (bt_x87_emit(&a, &d, eip, mode) == BT_EMIT_FALLBACK) {
        cr_assert_eq(a.p, before, "a fallback emits nothing");
        return -1;
    }
    return (int)(a.p - before);
}

/* The host instructions of buf[0..len), decoded in 64-bit mode. */
static unsigned decode64(size_t len, ZydisDecodedInstruction *zi,
                         ZydisDecodedOperand (*ops)[ZYDIS_MAX_OPERAND_COUNT], unsigned max)
{
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    unsigned n = 0;
    for (size_t off = 0; off < len && n < max; n++) {
        cr_assert(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, buf + off, len - off, &zi[n], ops[n])));
        off += zi[n].length;
    }
    return n;
}

TestSuite(bt_x87, .init = setup);

Test(bt_x87, register_forms_are_copied)
{
    static const uint8_t forms[][2] = {
        {0xD9, 0xE8}, /* fld1 */
        {0xD8, 0xC1}, /* fadd st0, st1 */
        {0xDE, 0xF9}, /* fdivp */
        {0xD9, 0xFA}, /* fsqrt */
        {0xD9, 0xFE}, /* fsin: the host's, as the real CPU */
        {0xDB, 0xF1}, /* fcomi */
        {0xDA, 0xC1}, /* fcmovb */
        {0xD9, 0xC9}, /* fxch */
        {0xDB, 0xE2}, /* fnclex */
        {0xDF, 0xE0}, /* fnstsw ax */
    };
    for (unsigned i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        uint8_t *at = a.p;
        cr_assert_geq(emit(forms[i], 2, 0x1000, MODE), 2, "form %u", i);
        cr_assert_arr_eq(at, forms[i], 2, "form %u", i);
        bt_x87_flush(&a);
    }
    static const uint8_t fwait[] = {0x9B};
    uint8_t *at = a.p;
    cr_assert_eq(emit(fwait, 1, 0x1000, MODE), 1);
    cr_assert_eq(*at, 0x9B);
}

Test(bt_x87, memory_operands_get_gs_and_addr32)
{
    static const uint8_t fld[] = {0xDD, 0x44, 0x24, 0x08}; /* fld qword [esp+8] */
    int n = emit(fld, sizeof fld, 0x1000, MODE);
    cr_assert_gt(n, 0);
    ZydisDecodedInstruction zi[1];
    ZydisDecodedOperand ops[1][ZYDIS_MAX_OPERAND_COUNT];
    decode64((size_t)n, zi, ops, 1);
    cr_assert_eq(zi[0].mnemonic, ZYDIS_MNEMONIC_FLD);
    cr_assert_eq(zi[0].length, (unsigned)n, "nothing but the instruction for a group of one");
    const ZydisDecodedOperand *m = &ops[0][0]; /* ST(0) is a hidden operand */
    cr_assert_eq(m->type, ZYDIS_OPERAND_TYPE_MEMORY);
    cr_assert_eq(m->mem.segment, ZYDIS_REGISTER_GS);
    cr_assert_eq(m->mem.base, ZYDIS_REGISTER_R8D);
    cr_assert_eq(m->mem.disp.value, 8);
    cr_assert_eq(zi[0].address_width, 32);
    cr_assert_eq(m->size, 64);
}

Test(bt_x87, what_the_interpreter_keeps)
{
    static const struct {
        uint8_t b[4];
        size_t len;
        uint32_t mode;
    } cases[] = {
        {{0xD9, 0xE8}, 2, BT_MODE_VALID | FLAT},       /* fld1 without the mode bit (EM, TS, NE) */
        {{0xDB, 0xE3}, 2, MODE},                       /* fninit: clears the pointers */
        {{0xDB, 0x08}, 2, MODE},                       /* fisttp m32: SSE3, #UD here */
        {{0xDD, 0x08}, 2, MODE},                       /* fisttp m64 */
        {{0xD9, 0x20}, 2, MODE},                       /* fldenv */
        {{0xDD, 0x20}, 2, MODE},                       /* frstor */
        {{0xD9, 0xD8}, 2, MODE},                       /* fstp1: a reserved alias */
        {{0xDF, 0xC0}, 2, MODE},                       /* ffreep */
        {{0xDC, 0xD0}, 2, MODE},                       /* fcom2 */
        {{0x66, 0xD9, 0xE8}, 3, MODE},                 /* 66 prefix */
        {{0xD9, 0x03}, 2, BT_MODE_VALID | BT_MODE_X87}, /* fld m32 through a non-flat DS */
        {{0x67, 0xDD, 0x07}, 3, MODE},                 /* 16-bit addressing */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(emit(cases[i].b, cases[i].len, 0x1000, cases[i].mode), -1, "case %u", i);
}

Test(bt_x87, a_group_stores_its_last_pointers_once)
{
    static const uint8_t fld[] = {0xDD, 0x03};        /* 0x1000: fld qword [ebx] */
    static const uint8_t fadd[] = {0xD8, 0x46, 0x10}; /* 0x1002: fadd dword [esi+16] */
    static const uint8_t fxch[] = {0xD9, 0xC9};       /* 0x1005: fxch */
    static const uint8_t fnstcw[] = {0xD9, 0x3F};     /* 0x1007: fnstcw [edi]: control */
    cr_assert_eq(emit(fld, sizeof fld, 0x1000, MODE), 4, "gs addr32 DD 03: no stores yet");
    cr_assert_gt(emit(fadd, sizeof fadd, 0x1002, MODE), 0);
    cr_assert_gt(emit(fxch, sizeof fxch, 0x1005, MODE), 0);
    cr_assert_gt(emit(fnstcw, sizeof fnstcw, 0x1007, MODE), 0);
    cr_assert(a.x87.group);
    bt_x87_flush(&a);
    cr_assert_not(a.x87.group);

    /* Before the second instruction: the group runs from 0x1000. */
    ZydisDecodedInstruction zi[12];
    ZydisDecodedOperand ops[12][ZYDIS_MAX_OPERAND_COUNT];
    size_t len = (size_t)(a.p - buf);
    unsigned n = decode64(len, zi, ops, 12);
    cr_assert_eq(n, 11, "fld, the marker (2), fadd, fxch, fnstcw, the flush (5)");
    cr_assert_eq(zi[1].mnemonic, ZYDIS_MNEMONIC_MOV);
    cr_assert_eq(ops[1][1].imm.value.u, (uint64_t)0x1000 << 32 | 1u << 24);
    cr_assert_eq(zi[2].mnemonic, ZYDIS_MNEMONIC_MOV);
    cr_assert_eq(ops[2][0].mem.disp.value,
                 (int64_t)(offsetof(struct bt, x87.rec) + offsetof(struct bt_x87_rec, fop)));

    /* The flush: FIP and FOP of FXCH (the last non-control one), FDP from
     * FADD's operand, FDS its segment. */
    unsigned f = n - 5;
    size_t rec = offsetof(struct bt, x87.rec);
    cr_assert_eq(ops[f][0].mem.base, ZYDIS_REGISTER_R15);
    cr_assert_eq(ops[f][0].mem.disp.value, (int64_t)(rec + offsetof(struct bt_x87_rec, fip)));
    cr_assert_eq(ops[f][1].imm.value.u, 0x1005);
    cr_assert_eq(ops[f + 1][0].mem.disp.value, (int64_t)(rec + offsetof(struct bt_x87_rec, fop)));
    cr_assert_eq(ops[f + 1][1].imm.value.u, (1u << 8 | 0xC9) | 1u << 16);
    cr_assert_eq(zi[f + 2].mnemonic, ZYDIS_MNEMONIC_LEA);
    cr_assert_eq(ops[f + 2][1].mem.base, ZYDIS_REGISTER_ESI);
    cr_assert_eq(ops[f + 2][1].mem.disp.value, 16);
    cr_assert_eq(ops[f + 3][0].mem.disp.value, (int64_t)(rec + offsetof(struct bt_x87_rec, fdp)));
    cr_assert_eq(ops[f + 4][0].mem.disp.value,
                 (int64_t)(rec + offsetof(struct bt_x87_rec, fds_seg)));
    cr_assert_eq(ops[f + 4][1].imm.value.u, DEC_SEG_DS | 1u << 8);

    /* Nothing pending: a second flush emits nothing. */
    uint8_t *end = a.p;
    bt_x87_flush(&a);
    cr_assert_eq(a.p, end);
}

Test(bt_x87, fnstsw_ax_ends_a_group)
{
    struct dec_insn fnstsw = decode((const uint8_t[]){0xDF, 0xE0}, 2);
    struct dec_insn fadd = decode((const uint8_t[]){0xD8, 0xC1}, 2);
    struct dec_insn mov = decode((const uint8_t[]){0x89, 0xC8}, 2);
    cr_assert_not(bt_x87_continues(&fnstsw, MODE), "it writes AX, which an address may use");
    cr_assert(bt_x87_continues(&fadd, MODE));
    cr_assert_not(bt_x87_continues(&fadd, BT_MODE_VALID | FLAT));
    cr_assert_not(bt_x87_continues(&mov, MODE));
}
