/* The decoder's record for hand-picked encodings in 16- and 32-bit mode:
 * lengths, operands, memory parts, prefixes, control-flow kinds, the class
 * of every sensitive and privileged instruction, and the failure statuses
 * (#UD, > 15 bytes, instruction continuing past the buffer). Encodings are
 * from the SDM Vol2 opcode tables. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "decoder/decoder.h"

static struct dec_ctx ctx;

static void setup(void) { cr_assert_eq(dec_init(&ctx, 0), 0); }

TestSuite(decoder, .init = setup);

/* Parses "8b 43 05" into b; returns the byte count. */
static size_t hex(const char *s, uint8_t *b)
{
    size_t n = 0;
    unsigned v;
    int used;
    while (sscanf(s, " %2x%n", &v, &used) == 1) {
        b[n++] = (uint8_t)v;
        s += used;
    }
    return n;
}

static struct dec_insn dec(enum dec_mode mode, const char *bytes)
{
    uint8_t b[32];
    size_t n = hex(bytes, b);
    struct dec_insn d;
    enum dec_status st = dec_decode(&ctx, mode, b, n, &d);
    cr_assert_eq(st, DEC_OK, "%s: status %d", bytes, st);
    cr_assert_eq(d.len, n, "%s: length %u", bytes, d.len);
    cr_assert(memcmp(d.bytes, b, n) == 0);
    return d;
}

static enum dec_status status(enum dec_mode mode, const char *bytes)
{
    uint8_t b[32];
    size_t n = hex(bytes, b);
    struct dec_insn d;
    return dec_decode(&ctx, mode, b, n, &d);
}

static bool is(const struct dec_insn *d, ZydisMnemonic m) { return d->mnemonic == m; }

/* ---- memory operands ---------------------------------------------------- */

Test(decoder, mem16_bp_di_disp8)
{
    struct dec_insn d = dec(DEC_MODE_16, "8b 43 05"); /* mov ax, [bp+di+5] */
    cr_assert(is(&d, ZYDIS_MNEMONIC_MOV));
    cr_assert_eq(d.opsize, 16);
    cr_assert_eq(d.addrsize, 16);
    cr_assert_eq(d.n_ops, 2);
    cr_assert_eq(d.ops[0].kind, DEC_OP_REG);
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_GPR);
    cr_assert_eq(d.ops[0].reg.num, 0);
    cr_assert_eq(d.ops[0].reg.width, 16);
    cr_assert_eq(d.ops[0].flags & (DEC_OPF_READ | DEC_OPF_WRITE), DEC_OPF_WRITE);
    const struct dec_mem *m = &d.ops[1].mem;
    cr_assert_eq(d.ops[1].kind, DEC_OP_MEM);
    cr_assert_eq(d.ops[1].size, 16);
    cr_assert_eq(m->seg, DEC_SEG_SS); /* BP-based: SS (SDM Vol1 3.7.4) */
    cr_assert_eq(m->base, 5);
    cr_assert_eq(m->index, 7);
    cr_assert_eq(m->scale, 1);
    cr_assert_eq(m->disp, 5);
    cr_assert_not(d.ops[1].flags & DEC_OPF_SEG_OVERRIDE);
    cr_assert_eq(d.flags & (DEC_F_MODRM | DEC_F_SIB | DEC_F_MEM_READ | DEC_F_MEM_WRITE),
                 DEC_F_MODRM | DEC_F_MEM_READ);
    cr_assert_eq(d.modrm, 0x43);
    cr_assert_eq(dec_modrm_mod(&d), 1);
    cr_assert_eq(dec_modrm_rm(&d), 3);
    cr_assert_not(d.flags & DEC_F_CODE32);
    cr_assert_eq(d.cls, DEC_CLASS_INNOCUOUS);
}

Test(decoder, mem16_forms)
{
    struct dec_insn d = dec(DEC_MODE_16, "8b 06 34 12"); /* mov ax, [0x1234] */
    cr_assert_eq(d.ops[1].mem.base, DEC_NOREG);
    cr_assert_eq(d.ops[1].mem.index, DEC_NOREG);
    cr_assert_eq(d.ops[1].mem.scale, 0);
    cr_assert_eq(d.ops[1].mem.disp, 0x1234);
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_DS);

    d = dec(DEC_MODE_16, "8b 80 fe ff"); /* mov ax, [bx+si-2]: disp16 sign-extended */
    cr_assert_eq(d.ops[1].mem.base, 3);
    cr_assert_eq(d.ops[1].mem.index, 6);
    cr_assert_eq(d.ops[1].mem.disp, -2);

    d = dec(DEC_MODE_16, "26 8b 07"); /* mov ax, es:[bx] */
    cr_assert(d.prefixes & DEC_P_SEG);
    cr_assert_eq(d.seg_override, DEC_SEG_ES);
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_ES);
    cr_assert(d.ops[1].flags & DEC_OPF_SEG_OVERRIDE);

    d = dec(DEC_MODE_16, "67 8b 04 24"); /* mov ax, [esp]: 32-bit addressing in 16-bit code */
    cr_assert(d.prefixes & DEC_P_ADDRSIZE);
    cr_assert_eq(d.addrsize, 32);
    cr_assert(d.flags & DEC_F_SIB);
    cr_assert_eq(d.sib, 0x24);
    cr_assert_eq(d.ops[1].mem.base, 4);
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_SS);
}

Test(decoder, mem32_sib)
{
    /* mov eax, [ecx*4+0x1000]: SIB with no base (mod 00, base 101). */
    struct dec_insn d = dec(DEC_MODE_32, "8b 04 8d 00 10 00 00");
    cr_assert(d.flags & DEC_F_SIB);
    cr_assert(d.flags & DEC_F_CODE32);
    cr_assert_eq(d.ops[1].mem.base, DEC_NOREG);
    cr_assert_eq(d.ops[1].mem.index, 1);
    cr_assert_eq(d.ops[1].mem.scale, 4);
    cr_assert_eq(d.ops[1].mem.disp, 0x1000);
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_DS);

    d = dec(DEC_MODE_32, "8b 44 24 08"); /* mov eax, [esp+8] */
    cr_assert_eq(d.ops[1].mem.base, 4);
    cr_assert_eq(d.ops[1].mem.index, DEC_NOREG);
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_SS);
    cr_assert_eq(d.ops[1].mem.disp, 8);

    d = dec(DEC_MODE_32, "64 a1 14 00 00 00"); /* mov eax, fs:[0x14] (moffs) */
    cr_assert_eq(d.ops[1].mem.seg, DEC_SEG_FS);
    cr_assert_eq(d.ops[1].mem.disp, 0x14);
    cr_assert(d.ops[0].flags & DEC_OPF_IMPLICIT); /* EAX is implied by A1 */

    d = dec(DEC_MODE_32, "8d 84 88 00 00 00 80"); /* lea eax, [eax+ecx*4-0x80000000] */
    cr_assert(d.ops[1].flags & DEC_OPF_AGEN);
    cr_assert_eq(d.ops[1].mem.disp, INT32_MIN);
    cr_assert_not(d.flags & (DEC_F_MEM_READ | DEC_F_MEM_WRITE));

    d = dec(DEC_MODE_32, "0f 1f 44 00 00"); /* nop [eax+eax]: hint, no access */
    cr_assert(d.ops[0].flags & DEC_OPF_AGEN);
    cr_assert_not(d.flags & (DEC_F_MEM_READ | DEC_F_MEM_WRITE));
}

/* ---- registers, immediates, sizes ------------------------------------------ */

Test(decoder, registers_and_immediates)
{
    struct dec_insn d = dec(DEC_MODE_32, "8a 27"); /* mov ah, [edi] */
    cr_assert_eq(d.opsize, 8);
    cr_assert_eq(d.ops[0].reg.num, 0);
    cr_assert_eq(d.ops[0].reg.high, 1);
    cr_assert_eq(d.ops[0].reg.width, 8);
    cr_assert_eq(d.ops[1].mem.base, 7);

    d = dec(DEC_MODE_32, "83 c0 ff"); /* add eax, -1 */
    cr_assert_eq(d.ops[1].kind, DEC_OP_IMM);
    cr_assert_eq(d.ops[1].imm, 0xFFFFFFFFu);
    cr_assert(d.ops[1].flags & DEC_OPF_SIGNED);
    cr_assert_eq(d.ops[0].flags & (DEC_OPF_READ | DEC_OPF_WRITE), DEC_OPF_READ | DEC_OPF_WRITE);
    cr_assert_eq(d.eflags_written, 0x8D5); /* OF SF ZF AF PF CF */
    cr_assert_eq(d.eflags_read, 0);

    d = dec(DEC_MODE_32, "66 83 c0 ff"); /* add ax, -1 */
    cr_assert(d.prefixes & DEC_P_OPSIZE);
    cr_assert_eq(d.opsize, 16);
    cr_assert_eq(d.ops[1].size, 16);
    cr_assert_eq(d.ops[1].imm & 0xFFFF, 0xFFFF);

    d = dec(DEC_MODE_16, "66 b8 78 56 34 12"); /* mov eax, 0x12345678 in 16-bit code */
    cr_assert_eq(d.opsize, 32);
    cr_assert_eq(d.ops[0].reg.width, 32);
    cr_assert_eq(d.ops[1].imm, 0x12345678u);
    cr_assert_not(d.ops[1].flags & DEC_OPF_SIGNED);

    d = dec(DEC_MODE_32, "e4 80"); /* in al, 0x80: unsigned imm8 */
    cr_assert_eq(d.ops[1].imm, 0x80);
    cr_assert_not(d.ops[1].flags & DEC_OPF_SIGNED);
    d = dec(DEC_MODE_32, "6b c1 80"); /* imul eax, ecx, -128 */
    cr_assert_eq(d.ops[2].imm, 0xFFFFFF80u);
    cr_assert_eq(d.ops[2].size, 32);
    cr_assert(d.ops[2].flags & DEC_OPF_SIGNED);
    d = dec(DEC_MODE_32, "b0 ff"); /* mov al, 0xFF */
    cr_assert_eq(d.ops[1].imm & 0xFF, 0xFF);
    cr_assert_eq(d.ops[1].size, 8);

    d = dec(DEC_MODE_32, "c8 10 00 01"); /* enter 16, 1 */
    cr_assert_eq(d.n_ops, 2);
    cr_assert_eq(d.ops[0].imm, 16);
    cr_assert_eq(d.ops[1].imm, 1);
    cr_assert(d.flags & DEC_F_STACK);

    d = dec(DEC_MODE_32, "d1 e0"); /* shl eax, 1: the 1 is implicit */
    cr_assert_eq(d.n_ops, 2);
    cr_assert_eq(d.ops[1].kind, DEC_OP_IMM);
    cr_assert_eq(d.ops[1].imm, 1);
    cr_assert(d.ops[1].flags & DEC_OPF_IMPLICIT);

    d = dec(DEC_MODE_32, "0f bd c1"); /* bsr eax, ecx */
    cr_assert_eq(d.eflags_written, 0x8D5);
    cr_assert_eq(d.eflags_undefined, 0x895); /* all but ZF (SDM BSR) */

    d = dec(DEC_MODE_32, "11 c8"); /* adc eax, ecx reads CF */
    cr_assert_eq(d.eflags_read, 0x001);
    d = dec(DEC_MODE_32, "40"); /* inc eax: CF untouched, REX in 64-bit mode */
    cr_assert_eq(d.eflags_written, 0x8D4);
    cr_assert(d.flags & DEC_F_NO64);
    d = dec(DEC_MODE_32, "0f 44 c1"); /* cmovz: conditional write, reads ZF */
    cr_assert(d.ops[0].flags & DEC_OPF_COND);
    cr_assert_eq(d.eflags_read, 0x040);
}

Test(decoder, maps_and_group_opcodes)
{
    struct dec_insn d = dec(DEC_MODE_32, "0f 01 38"); /* invlpg [eax] */
    cr_assert_eq(d.map, DEC_MAP_0F);
    cr_assert_eq(d.opcode, 0x01);
    cr_assert_eq(dec_modrm_reg(&d), 7);
    d = dec(DEC_MODE_32, "f7 f1"); /* div ecx */
    cr_assert_eq(d.map, DEC_MAP_1B);
    cr_assert_eq(d.opcode, 0xF7);
    cr_assert_eq(dec_modrm_reg(&d), 6);
    cr_assert(d.flags & DEC_F_FAULTS);
    d = dec(DEC_MODE_32, "66 0f 38 00 c1"); /* pshufb xmm0, xmm1 */
    cr_assert_eq(d.map, DEC_MAP_0F38);
    cr_assert_eq(d.opcode, 0x00);
    cr_assert(d.flags & DEC_F_SIMD);
    cr_assert_eq(d.ops[1].reg.cls, DEC_RC_XMM);
    cr_assert_eq(d.ops[1].reg.num, 1);
    cr_assert_not(d.prefixes & DEC_P_OPSIZE); /* mandatory, not a size override */
    d = dec(DEC_MODE_32, "66 0f 3a 0f c1 08"); /* palignr xmm0, xmm1, 8 */
    cr_assert_eq(d.map, DEC_MAP_0F3A);
    cr_assert_eq(d.ops[2].imm, 8);
    d = dec(DEC_MODE_32, "0f 0f c1 b4"); /* pfmul mm0, mm1 */
    cr_assert_eq(d.map, DEC_MAP_3DNOW);
    cr_assert_eq(d.opcode, 0xB4);
    cr_assert(d.flags & DEC_F_X87);
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_MMX);
    d = dec(DEC_MODE_32, "c5 f8 77"); /* vzeroupper */
    cr_assert(d.flags & DEC_F_VEX);
    cr_assert_eq(d.isa, ZYDIS_ISA_EXT_AVX);
    d = dec(DEC_MODE_32, "d9 c9"); /* fxch st1 (ST0 is hidden) */
    cr_assert(d.flags & DEC_F_X87);
    cr_assert_eq(d.n_ops, 1);
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_ST);
    cr_assert_eq(d.ops[0].reg.num, 1);
    d = dec(DEC_MODE_32, "9b"); /* fwait: #NM/#MF without operands */
    cr_assert_eq(d.flags & (DEC_F_X87 | DEC_F_FAULTS), DEC_F_X87 | DEC_F_FAULTS);
    d = dec(DEC_MODE_32, "0f ae 10"); /* ldmxcsr [eax] */
    cr_assert(d.flags & DEC_F_SIMD);
    d = dec(DEC_MODE_32, "0f 18 00"); /* prefetchnta: no state, no access */
    cr_assert_not(d.flags & (DEC_F_SIMD | DEC_F_X87 | DEC_F_MEM_READ));
}

/* ---- prefixes and string instructions ------------------------------------------ */

Test(decoder, string_and_lock_prefixes)
{
    struct dec_insn d = dec(DEC_MODE_32, "f3 a4"); /* rep movsb */
    cr_assert(is(&d, ZYDIS_MNEMONIC_MOVSB));
    cr_assert_eq(d.prefixes, DEC_P_REP);
    cr_assert_eq(d.cls, DEC_CLASS_STRING);
    cr_assert_eq(d.flags & (DEC_F_STRING | DEC_F_MEM_READ | DEC_F_MEM_WRITE),
                 DEC_F_STRING | DEC_F_MEM_READ | DEC_F_MEM_WRITE);
    cr_assert_eq(d.eflags_read, 0x400); /* DF */

    d = dec(DEC_MODE_32, "f2 ae"); /* repne scasb */
    cr_assert_eq(d.prefixes, DEC_P_REPNE);
    d = dec(DEC_MODE_32, "f3 a6"); /* repe cmpsb */
    cr_assert_eq(d.prefixes, DEC_P_REP);
    d = dec(DEC_MODE_16, "f3 67 a5"); /* rep movsw with 32-bit addressing */
    cr_assert_eq(d.prefixes, DEC_P_REP | DEC_P_ADDRSIZE);
    cr_assert_eq(d.addrsize, 32);
    cr_assert_eq(d.opsize, 16);
    d = dec(DEC_MODE_32, "26 a5"); /* movsd with ES: override of the source */
    cr_assert_eq(d.seg_override, DEC_SEG_ES);
    d = dec(DEC_MODE_32, "a5"); /* movsd (string) vs movsd (SSE2) */
    cr_assert_eq(d.cls, DEC_CLASS_STRING);
    d = dec(DEC_MODE_32, "f2 0f 10 c1");
    cr_assert(is(&d, ZYDIS_MNEMONIC_MOVSD));
    cr_assert_eq(d.cls, DEC_CLASS_INNOCUOUS);
    cr_assert_not(d.flags & DEC_F_STRING);
    cr_assert_eq(d.prefixes, 0);
    d = dec(DEC_MODE_32, "f2 0f c2 c1 00"); /* cmpeqsd */
    cr_assert_eq(d.cls, DEC_CLASS_INNOCUOUS);

    d = dec(DEC_MODE_32, "f0 0f b1 0a"); /* lock cmpxchg [edx], ecx */
    cr_assert_eq(d.prefixes, DEC_P_LOCK);
    cr_assert_eq(d.flags & (DEC_F_MEM_READ | DEC_F_MEM_WRITE), DEC_F_MEM_READ | DEC_F_MEM_WRITE);
    cr_assert_eq(status(DEC_MODE_32, "f0 01 c0"), DEC_INVALID); /* LOCK, register destination */
    cr_assert_eq(status(DEC_MODE_32, "f0 90"), DEC_INVALID);    /* LOCK NOP */
}

/* ---- control flow ------------------------------------------------------------ */

struct cf_case {
    enum dec_mode mode;
    const char *bytes;
    uint8_t cls, cf;
};

static const struct cf_case cf_cases[] = {
    { DEC_MODE_32, "eb fe", DEC_CLASS_CONTROL, DEC_CF_JMP_REL },
    { DEC_MODE_32, "e9 fb ff ff ff", DEC_CLASS_CONTROL, DEC_CF_JMP_REL },
    { DEC_MODE_32, "74 fe", DEC_CLASS_CONTROL, DEC_CF_JCC },
    { DEC_MODE_32, "0f 84 00 01 00 00", DEC_CLASS_CONTROL, DEC_CF_JCC },
    { DEC_MODE_32, "e8 00 00 00 00", DEC_CLASS_CONTROL, DEC_CF_CALL_REL },
    { DEC_MODE_32, "ff d0", DEC_CLASS_CONTROL, DEC_CF_CALL_IND },
    { DEC_MODE_32, "ff 15 00 10 00 00", DEC_CLASS_CONTROL, DEC_CF_CALL_IND },
    { DEC_MODE_32, "ff e0", DEC_CLASS_CONTROL, DEC_CF_JMP_IND },
    { DEC_MODE_32, "ff 24 85 00 10 00 00", DEC_CLASS_CONTROL, DEC_CF_JMP_IND },
    { DEC_MODE_32, "c3", DEC_CLASS_CONTROL, DEC_CF_RET },
    { DEC_MODE_32, "c2 08 00", DEC_CLASS_CONTROL, DEC_CF_RET_IMM },
    { DEC_MODE_32, "e2 fe", DEC_CLASS_CONTROL, DEC_CF_LOOP },
    { DEC_MODE_32, "e1 fe", DEC_CLASS_CONTROL, DEC_CF_LOOP },
    { DEC_MODE_32, "e0 fe", DEC_CLASS_CONTROL, DEC_CF_LOOP },
    { DEC_MODE_32, "e3 fe", DEC_CLASS_CONTROL, DEC_CF_JCXZ },
    { DEC_MODE_16, "e3 fe", DEC_CLASS_CONTROL, DEC_CF_JCXZ },
    { DEC_MODE_32, "ea 78 56 34 12 08 00", DEC_CLASS_SENSITIVE, DEC_CF_JMP_FAR },
    { DEC_MODE_32, "ff 2d 00 10 00 00", DEC_CLASS_SENSITIVE, DEC_CF_JMP_FAR },
    { DEC_MODE_32, "9a 78 56 34 12 08 00", DEC_CLASS_SENSITIVE, DEC_CF_CALL_FAR },
    { DEC_MODE_32, "ff 1d 00 10 00 00", DEC_CLASS_SENSITIVE, DEC_CF_CALL_FAR },
    { DEC_MODE_32, "cb", DEC_CLASS_SENSITIVE, DEC_CF_RET_FAR },
    { DEC_MODE_32, "ca 04 00", DEC_CLASS_SENSITIVE, DEC_CF_RET_FAR },
    { DEC_MODE_16, "ea 00 00 ff ff", DEC_CLASS_SENSITIVE, DEC_CF_JMP_FAR },
    { DEC_MODE_32, "cd 80", DEC_CLASS_SENSITIVE, DEC_CF_INT },
    { DEC_MODE_32, "cc", DEC_CLASS_SENSITIVE, DEC_CF_INT3 },
    { DEC_MODE_32, "ce", DEC_CLASS_SENSITIVE, DEC_CF_INTO },
    { DEC_MODE_32, "f1", DEC_CLASS_SENSITIVE, DEC_CF_INT1 },
    { DEC_MODE_32, "cf", DEC_CLASS_SENSITIVE, DEC_CF_IRET },
    { DEC_MODE_16, "cf", DEC_CLASS_SENSITIVE, DEC_CF_IRET },
    { DEC_MODE_32, "0f 34", DEC_CLASS_SENSITIVE, DEC_CF_SYSENTER },
    { DEC_MODE_32, "0f 35", DEC_CLASS_PRIVILEGED, DEC_CF_SYSEXIT },
    { DEC_MODE_32, "0f 05", DEC_CLASS_SENSITIVE, DEC_CF_SYSCALL },
    { DEC_MODE_32, "0f 07", DEC_CLASS_PRIVILEGED, DEC_CF_SYSRET },
    { DEC_MODE_32, "f4", DEC_CLASS_PRIVILEGED, DEC_CF_HLT },
    { DEC_MODE_32, "0f 0b", DEC_CLASS_INNOCUOUS, DEC_CF_UD },
    { DEC_MODE_32, "0f b9 c0", DEC_CLASS_INNOCUOUS, DEC_CF_UD },
    { DEC_MODE_32, "c7 f8 00 00 00 00", DEC_CLASS_CONTROL, DEC_CF_XBEGIN },
    { DEC_MODE_32, "90", DEC_CLASS_INNOCUOUS, DEC_CF_NONE },
};

Test(decoder, control_flow_kinds)
{
    for (size_t i = 0; i < sizeof cf_cases / sizeof cf_cases[0]; i++) {
        const struct cf_case *c = &cf_cases[i];
        struct dec_insn d = dec(c->mode, c->bytes);
        cr_expect_eq(d.cls, c->cls, "%s: class %s", c->bytes, dec_class_name(d.cls));
        cr_expect_eq(d.cf, c->cf, "%s: cf %s", c->bytes, dec_cf_name(d.cf));
    }
}

Test(decoder, branch_operands_and_targets)
{
    struct dec_insn d = dec(DEC_MODE_32, "e9 fb ff ff ff");
    cr_assert_eq(d.ops[0].kind, DEC_OP_REL);
    cr_assert_eq(d.ops[0].rel, -5);
    cr_assert_eq(dec_rel_target(&d, &d.ops[0], 0x1000), 0x1000);
    cr_assert_not(d.flags & DEC_F_STACK);

    d = dec(DEC_MODE_16, "eb 10"); /* jmp $+0x12 at IP 0xFFFE wraps to 0x0010 */
    cr_assert_eq(dec_rel_target(&d, &d.ops[0], 0xFFFE), 0x0010);
    d = dec(DEC_MODE_16, "66 e9 00 00 01 00"); /* jmp with a 32-bit operand size */
    cr_assert_eq(dec_rel_target(&d, &d.ops[0], 0xFFF0), 0x1FFF6);

    d = dec(DEC_MODE_32, "e8 00 00 00 00");
    cr_assert(d.flags & DEC_F_STACK);
    cr_assert(d.flags & DEC_F_MEM_WRITE);

    d = dec(DEC_MODE_32, "9a 78 56 34 12 08 00"); /* call 0x0008:0x12345678 */
    cr_assert_eq(d.ops[0].kind, DEC_OP_PTR);
    cr_assert_eq(d.ops[0].ptr.seg, 0x0008);
    cr_assert_eq(d.ops[0].ptr.off, 0x12345678u);
    cr_assert(d.flags & DEC_F_NO64);

    d = dec(DEC_MODE_16, "ea 00 00 ff ff"); /* jmp 0xFFFF:0x0000 */
    cr_assert_eq(d.ops[0].ptr.seg, 0xFFFF);
    cr_assert_eq(d.ops[0].ptr.off, 0);
    cr_assert_eq(d.ops[0].size, 32);

    d = dec(DEC_MODE_32, "ff 1d 00 10 00 00"); /* call far [0x1000]: m16:32 */
    cr_assert_eq(d.ops[0].kind, DEC_OP_MEM);
    cr_assert_eq(d.ops[0].size, 48);

    d = dec(DEC_MODE_32, "ca 04 00"); /* retf 4 */
    cr_assert_eq(d.ops[0].imm, 4);
    d = dec(DEC_MODE_32, "e3 fe");
    cr_assert_eq(d.addrsize, 32);
    d = dec(DEC_MODE_32, "67 e3 fe"); /* jcxz: CX by the address size */
    cr_assert_eq(d.addrsize, 16);
    cr_assert(is(&d, ZYDIS_MNEMONIC_JCXZ));
}

/* ---- classes of the instructions that matter to the VMM ------------------------ */

struct class_case {
    enum dec_mode mode;
    const char *bytes;
    ZydisMnemonic mnemonic;
    uint8_t cls;
    uint32_t flags; /* DEC_F_* bits that must be set */
};

#define C32(b, m, cls, f) { DEC_MODE_32, b, ZYDIS_MNEMONIC_##m, DEC_CLASS_##cls, f }
#define C16(b, m, cls, f) { DEC_MODE_16, b, ZYDIS_MNEMONIC_##m, DEC_CLASS_##cls, f }

static const struct class_case class_cases[] = {
    /* Sensitive but unprivileged (Robin & Irvine's 17 and relatives). */
    C32("9c", PUSHFD, SENSITIVE, DEC_F_IOPL_V86 | DEC_F_STACK),
    C16("9c", PUSHF, SENSITIVE, DEC_F_IOPL_V86),
    C32("9d", POPFD, SENSITIVE, DEC_F_IOPL_V86 | DEC_F_STACK),
    C32("0f 01 00", SGDT, SENSITIVE, DEC_F_CR4_PRIV | DEC_F_MEM_WRITE),
    C32("0f 01 08", SIDT, SENSITIVE, DEC_F_CR4_PRIV),
    C32("0f 00 c0", SLDT, SENSITIVE, DEC_F_CR4_PRIV | DEC_F_PM_ONLY),
    C32("0f 01 e0", SMSW, SENSITIVE, DEC_F_CR4_PRIV),
    C32("0f 00 c8", STR, SENSITIVE, DEC_F_CR4_PRIV | DEC_F_PM_ONLY),
    C32("0f 02 c1", LAR, SENSITIVE, DEC_F_PM_ONLY),
    C32("0f 03 c1", LSL, SENSITIVE, DEC_F_PM_ONLY),
    C32("0f 00 e0", VERR, SENSITIVE, DEC_F_PM_ONLY),
    C32("0f 00 e8", VERW, SENSITIVE, DEC_F_PM_ONLY),
    C32("06", PUSH, SENSITIVE, DEC_F_STACK | DEC_F_NO64),
    C32("0e", PUSH, SENSITIVE, DEC_F_STACK),
    C32("16", PUSH, SENSITIVE, DEC_F_STACK),
    C32("1e", PUSH, SENSITIVE, DEC_F_STACK),
    C32("0f a0", PUSH, SENSITIVE, DEC_F_STACK),
    C32("0f a8", PUSH, SENSITIVE, DEC_F_STACK),
    C32("07", POP, SENSITIVE, DEC_F_STACK),
    C32("17", POP, SENSITIVE, DEC_F_STACK),
    C32("1f", POP, SENSITIVE, DEC_F_STACK),
    C32("0f a1", POP, SENSITIVE, DEC_F_STACK),
    C32("0f a9", POP, SENSITIVE, DEC_F_STACK),
    C32("8e d8", MOV, SENSITIVE, 0),
    C32("8e 10", MOV, SENSITIVE, DEC_F_MEM_READ),
    C32("8c c8", MOV, SENSITIVE, 0),
    C16("8c d0", MOV, SENSITIVE, 0),
    C32("c5 00", LDS, SENSITIVE, DEC_F_NO64),
    C32("c4 00", LES, SENSITIVE, DEC_F_NO64),
    C32("0f b2 00", LSS, SENSITIVE, 0),
    C32("0f b4 00", LFS, SENSITIVE, 0),
    C32("0f b5 00", LGS, SENSITIVE, 0),
    C32("cd 21", INT, SENSITIVE, DEC_F_IOPL_V86),
    C32("cf", IRETD, SENSITIVE, DEC_F_IOPL_V86),
    C32("0f a2", CPUID, SENSITIVE, 0),
    C32("0f 31", RDTSC, SENSITIVE, DEC_F_CR4_PRIV),
    C32("0f 33", RDPMC, SENSITIVE, DEC_F_CR4_PRIV),
    C32("0f ae 00", FXSAVE, SENSITIVE, DEC_F_MEM_WRITE),
    C32("0f ae 08", FXRSTOR, SENSITIVE, DEC_F_MEM_READ),
    C32("d9 30", FNSTENV, SENSITIVE, DEC_F_X87),
    C32("dd 30", FNSAVE, SENSITIVE, DEC_F_X87),
    C32("0f ae 20", XSAVE, SENSITIVE, 0),
    C32("0f 01 d0", XGETBV, SENSITIVE, 0),
    C32("0f aa", RSM, SENSITIVE, 0),
    /* Privileged: #GP(0) at CPL > 0. */
    C32("0f 01 10", LGDT, PRIVILEGED, DEC_F_MEM_READ),
    C32("0f 01 18", LIDT, PRIVILEGED, 0),
    C32("0f 00 d0", LLDT, PRIVILEGED, DEC_F_PM_ONLY),
    C32("0f 00 d8", LTR, PRIVILEGED, DEC_F_PM_ONLY),
    C32("0f 01 f0", LMSW, PRIVILEGED, 0),
    C32("0f 06", CLTS, PRIVILEGED, 0),
    C32("0f 08", INVD, PRIVILEGED, 0),
    C32("0f 09", WBINVD, PRIVILEGED, 0),
    C32("0f 01 38", INVLPG, PRIVILEGED, 0),
    C32("0f 32", RDMSR, PRIVILEGED, 0),
    C32("0f 30", WRMSR, PRIVILEGED, 0),
    C32("0f 22 c0", MOV, PRIVILEGED, 0),
    C32("0f 20 d8", MOV, PRIVILEGED, 0),
    C32("0f 22 e0", MOV, PRIVILEGED, 0),
    C32("0f 23 f8", MOV, PRIVILEGED, 0),
    C32("0f 21 f0", MOV, PRIVILEGED, 0),
    C32("0f 01 d1", XSETBV, PRIVILEGED, 0),
    C32("0f 01 c8", MONITOR, PRIVILEGED, 0),
    C32("0f 01 c9", MWAIT, PRIVILEGED, 0),
    /* IOPL-sensitive and I/O. */
    C32("fa", CLI, IOPL, DEC_F_IOPL_V86),
    C32("fb", STI, IOPL, DEC_F_IOPL_V86),
    C32("e4 60", IN, IO, 0),
    C32("ec", IN, IO, 0),
    C32("66 ed", IN, IO, 0),
    C32("e6 80", OUT, IO, 0),
    C32("ee", OUT, IO, 0),
    C32("6c", INSB, IO, DEC_F_STRING | DEC_F_MEM_WRITE),
    C32("6d", INSD, IO, DEC_F_STRING),
    C32("f3 6e", OUTSB, IO, DEC_F_STRING | DEC_F_MEM_READ),
    C16("6f", OUTSW, IO, DEC_F_STRING),
    /* Innocuous with properties the engines need. */
    C32("50", PUSH, INNOCUOUS, DEC_F_STACK | DEC_F_MEM_WRITE),
    C32("6a ff", PUSH, INNOCUOUS, DEC_F_STACK),
    C32("ff 30", PUSH, INNOCUOUS, DEC_F_STACK | DEC_F_MEM_READ | DEC_F_MEM_WRITE),
    C32("58", POP, INNOCUOUS, DEC_F_STACK | DEC_F_MEM_READ),
    C32("60", PUSHAD, INNOCUOUS, DEC_F_STACK | DEC_F_NO64),
    C32("c9", LEAVE, INNOCUOUS, DEC_F_STACK),
    C32("89 c8", MOV, INNOCUOUS, 0),
    C32("b8 01 00 00 00", MOV, INNOCUOUS, 0),
    C32("89 08", MOV, INNOCUOUS, DEC_F_MEM_WRITE),
    C32("f7 38", IDIV, INNOCUOUS, DEC_F_FAULTS),
    C32("d4 0a", AAM, INNOCUOUS, DEC_F_FAULTS | DEC_F_NO64),
    C32("62 00", BOUND, INNOCUOUS, DEC_F_FAULTS | DEC_F_NO64),
    C32("63 c8", ARPL, INNOCUOUS, DEC_F_PM_ONLY | DEC_F_NO64),
    C32("d7", XLAT, INNOCUOUS, DEC_F_MEM_READ),
    C32("fc", CLD, INNOCUOUS, 0),
    C32("0f ae f8", SFENCE, INNOCUOUS, 0),
    C32("f3 90", PAUSE, INNOCUOUS, 0),
};

Test(decoder, classes_of_sensitive_privileged_and_plain_instructions)
{
    for (size_t i = 0; i < sizeof class_cases / sizeof class_cases[0]; i++) {
        const struct class_case *c = &class_cases[i];
        struct dec_insn d = dec(c->mode, c->bytes);
        cr_expect_eq(d.mnemonic, c->mnemonic, "%s: %s", c->bytes, dec_mnemonic_name(&d));
        cr_expect_eq(d.cls, c->cls, "%s (%s): class %s", c->bytes, dec_mnemonic_name(&d),
                     dec_class_name(d.cls));
        cr_expect_eq(d.flags & c->flags, c->flags, "%s (%s): flags %#x", c->bytes,
                     dec_mnemonic_name(&d), d.flags);
    }
}

Test(decoder, segment_register_operands)
{
    struct dec_insn d = dec(DEC_MODE_32, "8e d8"); /* mov ds, ax */
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_SEG);
    cr_assert_eq(d.ops[0].reg.num, DEC_SEG_DS);
    d = dec(DEC_MODE_32, "0f a8"); /* push gs */
    cr_assert_eq(d.ops[0].reg.num, DEC_SEG_GS);
    d = dec(DEC_MODE_32, "0f 22 d8"); /* mov cr3, eax */
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_CR);
    cr_assert_eq(d.ops[0].reg.num, 3);
    d = dec(DEC_MODE_32, "0f 23 f8"); /* mov dr7, eax */
    cr_assert_eq(d.ops[0].reg.cls, DEC_RC_DR);
    cr_assert_eq(d.ops[0].reg.num, 7);
}

/* ---- failures ------------------------------------------------------------------ */

Test(decoder, invalid_opcodes_are_ud)
{
    cr_assert_eq(status(DEC_MODE_32, "8e c8"), DEC_INVALID);    /* mov cs, ax */
    cr_assert_eq(status(DEC_MODE_32, "8e f0"), DEC_INVALID);    /* Sreg 6 */
    cr_assert_eq(status(DEC_MODE_32, "8d c0"), DEC_INVALID);    /* lea with a register */
    cr_assert_eq(status(DEC_MODE_32, "0f 0a"), DEC_INVALID);
    cr_assert_eq(status(DEC_MODE_32, "0f 04"), DEC_INVALID);
    cr_assert_eq(status(DEC_MODE_32, "c4 e0 78 00 c0"), DEC_INVALID); /* VEX map 0 */
    cr_assert_eq(status(DEC_MODE_32, "0f 24 c0"), DEC_INVALID); /* MOV from TR6 (i486 only) */
    cr_assert_eq(status(DEC_MODE_16, "0f ff"), DEC_NEED_MORE);  /* UD0 wants its ModRM */
}

Test(decoder, longer_than_15_bytes_is_gp)
{
    uint8_t b[32];
    struct dec_insn d;
    memset(b, 0x66, sizeof b);
    b[14] = 0x90; /* 14 prefixes + NOP: exactly 15 bytes */
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, 15, &d), DEC_OK);
    cr_assert_eq(d.len, 15);
    b[14] = 0x66, b[15] = 0x90; /* 16 bytes */
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, 16, &d), DEC_TOO_LONG);
    /* mov eax, [eax+ecx+0x12345678] behind 8 prefixes: 15 + 1 bytes */
    cr_assert_eq(status(DEC_MODE_32, "26 26 26 26 26 26 26 26 36 8b 84 08 78 56 34 12"),
                 DEC_TOO_LONG);
}

Test(decoder, instruction_past_the_buffer_needs_more)
{
    uint8_t b[16];
    size_t n = hex("8b 84 24 00 10 00 00", b); /* mov eax, [esp+0x1000] */
    struct dec_insn d;
    for (size_t avail = 0; avail < n; avail++)
        cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, avail, &d), DEC_NEED_MORE, "%zu", avail);
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert_eq(status(DEC_MODE_32, "0f"), DEC_NEED_MORE);
    cr_assert_eq(status(DEC_MODE_32, "66 66"), DEC_NEED_MORE);
    cr_assert_eq(status(DEC_MODE_16, "b8 01"), DEC_NEED_MORE);
    cr_assert_eq(status(DEC_MODE_16, "66 b8 01 02 03"), DEC_NEED_MORE);
}

/* ---- features, formatting ---------------------------------------------------------- */

Test(decoder, features_change_meaning)
{
    struct dec_ctx fctx;
    cr_assert_eq(dec_init(&fctx, DEC_FEAT_LZCNT | DEC_FEAT_TZCNT | DEC_FEAT_CET), 0);
    uint8_t b[8];
    struct dec_insn d;
    size_t n = hex("f3 0f bd c1", b);
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_BSR)); /* F3 ignored without LZCNT */
    cr_assert_eq(dec_decode(&fctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_LZCNT));
    n = hex("f3 0f bc c1", b);
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_BSF));
    cr_assert_eq(dec_decode(&fctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_TZCNT));
    n = hex("f3 0f 1e fb", b);
    cr_assert_eq(dec_decode(&ctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_NOP)); /* reserved hint NOP before CET */
    cr_assert_eq(dec_decode(&fctx, DEC_MODE_32, b, n, &d), DEC_OK);
    cr_assert(is(&d, ZYDIS_MNEMONIC_ENDBR32));
    cr_assert_eq(d.cls, DEC_CLASS_INNOCUOUS);
}

Test(decoder, format_intel_syntax)
{
    char buf[96];
    struct dec_insn d = dec(DEC_MODE_32, "0f 20 c0");
    cr_assert_eq(dec_format(&ctx, &d, 0x1000, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "mov eax, cr0");
    d = dec(DEC_MODE_32, "eb fe");
    cr_assert_eq(dec_format(&ctx, &d, 0x401000, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "jmp 0x00401000");
    d = dec(DEC_MODE_16, "8b 43 05");
    cr_assert_eq(dec_format(&ctx, &d, 0, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "mov ax, [bp+di+0x05]");
    d = dec(DEC_MODE_32, "f3 a4");
    cr_assert_eq(dec_format(&ctx, &d, 0, buf, sizeof buf), 0);
    cr_assert_str_eq(buf, "rep movsb");
    cr_assert_eq(dec_format(&ctx, &d, 0, buf, 4), -1);
    cr_assert_str_eq(dec_mnemonic_name(&d), "movsb");
}

Test(decoder, zydis_decode_is_returned_alongside)
{
    uint8_t b[8];
    size_t n = hex("8b 44 8b 08", b);
    struct dec_insn d;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
    cr_assert_eq(dec_decode_zydis(&ctx, DEC_MODE_32, b, n, &d, &zi, zo), DEC_OK);
    cr_assert_eq(zi.length, d.len);
    cr_assert_eq(zi.mnemonic, d.mnemonic);
    cr_assert_eq(zo[1].mem.index, ZYDIS_REGISTER_ECX);
    cr_assert_eq(d.ops[1].mem.index, 1);
    cr_assert_eq(d.ops[1].mem.base, 3);
    cr_assert_eq(d.ops[1].mem.scale, 4);
}
