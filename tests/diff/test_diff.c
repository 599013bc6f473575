/* The differential harness's own tests: the generator is deterministic and
 * covers its families, the tracker rejects what would break the sandbox
 * or consume undefined values, the oracle gives the architectural answers
 * on hand-written cases, and the comparison catches planted differences
 * and ignores only undefined bits. */
#include "diff.h"

#include <criterion/criterion.h>
#include <string.h>

#ifndef DIFF_NATIVE_PATH
#error "DIFF_NATIVE_PATH: the diff_native oracle"
#endif

static const uint8_t end_marker[DIFF_END_LEN] = {0xFF, 0x25, 0x00, 0x70, 0x00, 0x00};

static struct diff_case make_case(const char *hex)
{
    struct diff_case c;
    memset(&c, 0, sizeof(c));
    uint32_t init[DIFF_NGPR] = {1,
                                2,
                                3,
                                DIFF_DATA_BASE + 0x100,
                                DIFF_DATA_BASE + 0x300,
                                DIFF_DATA_BASE + 0x200,
                                DIFF_DATA_BASE + 0x40,
                                DIFF_DATA_BASE + 0x80};
    memcpy(c.gpr, init, sizeof(init));
    c.eflags = DIFF_FL_FIXED;
    unsigned n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        cr_assert(sscanf(p, "%2x", &v) == 1);
        c.code[n++] = (uint8_t)v;
        p += 2;
    }
    memcpy(c.code + n, end_marker, DIFF_END_LEN);
    c.code_len = n + DIFF_END_LEN;
    for (unsigned i = 0; i < DIFF_DATA_SIZE; i++)
        c.data[i] = (uint8_t)(i * 7 + 1);
    return c;
}

static void analyse_ok(const struct diff_case *c, struct diff_meta *m)
{
    const char *why = "";
    unsigned bad = 0;
    int r = diff_analyse(c, m, &why, &bad);
    cr_assert_eq(r, 0, "instruction %u rejected: %s", bad, why);
}

static const char *analyse_why(const struct diff_case *c)
{
    struct diff_meta m;
    const char *why = NULL;
    unsigned bad;
    return diff_analyse(c, &m, &why, &bad) < 0 ? why : NULL;
}

static struct diff_result native1(const struct diff_case *c)
{
    struct diff_result r;
    char msg[256];
    int st = diff_native_run((void *)DIFF_NATIVE_PATH, c, 1, &r, msg, sizeof(msg));
    cr_assert_eq(st, 0, "native run: %s", msg);
    return r;
}

Test(generator, same_seed_same_case)
{
    for (uint64_t i = 0; i < 200; i++) {
        struct diff_case a, b;
        struct diff_meta ma, mb;
        diff_gen_case(7, i, &a, &ma);
        diff_gen_case(7, i, &b, &mb);
        cr_assert(memcmp(&a, &b, sizeof(a)) == 0, "case %llu differs", (unsigned long long)i);
        diff_gen_case(8, i, &b, &mb);
        cr_assert(memcmp(&a, &b, sizeof(a)) != 0);
    }
}

Test(generator, every_case_is_valid_and_varied)
{
    unsigned lens[DIFF_MAX_INSNS + 1] = {0};
    for (uint64_t i = 0; i < 3000; i++) {
        struct diff_case c;
        struct diff_meta m, m2;
        diff_gen_case(1, i, &c, &m);
        cr_assert_neq(c.code_len, 0u);
        analyse_ok(&c, &m2);
        cr_assert(memcmp(&m, &m2, sizeof(m)) == 0);
        cr_assert(m.n >= 1 && m.n <= DIFF_MAX_INSNS);
        lens[m.n]++;
    }
    cr_assert(lens[1] > 0 && lens[8] > 0 && lens[12] > 0, "sequence lengths not varied");
}

/* Every mnemonic the brief lists shows up within 20,000 cases. */
Test(generator, covers_the_instruction_list)
{
    static const ZydisMnemonic want[] = {
        ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_SBB,
        ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
        ZYDIS_MNEMONIC_TEST, ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG,
        ZYDIS_MNEMONIC_NOT, ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR,
        ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR,
        ZYDIS_MNEMONIC_SHLD, ZYDIS_MNEMONIC_SHRD, ZYDIS_MNEMONIC_MUL, ZYDIS_MNEMONIC_IMUL,
        ZYDIS_MNEMONIC_DIV, ZYDIS_MNEMONIC_IDIV, ZYDIS_MNEMONIC_DAA, ZYDIS_MNEMONIC_DAS,
        ZYDIS_MNEMONIC_AAA, ZYDIS_MNEMONIC_AAS, ZYDIS_MNEMONIC_AAM, ZYDIS_MNEMONIC_AAD,
        ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC,
        ZYDIS_MNEMONIC_BSF, ZYDIS_MNEMONIC_BSR, ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX,
        ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_XCHG, ZYDIS_MNEMONIC_XADD,
        ZYDIS_MNEMONIC_CMPXCHG, ZYDIS_MNEMONIC_CMPXCHG8B, ZYDIS_MNEMONIC_BSWAP,
        ZYDIS_MNEMONIC_LEA, ZYDIS_MNEMONIC_PUSH, ZYDIS_MNEMONIC_POP, ZYDIS_MNEMONIC_PUSHAD,
        ZYDIS_MNEMONIC_POPAD, ZYDIS_MNEMONIC_PUSHA, ZYDIS_MNEMONIC_ENTER, ZYDIS_MNEMONIC_LEAVE,
        ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_LODSB,
        ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE,
        ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_LAHF, ZYDIS_MNEMONIC_SAHF,
        ZYDIS_MNEMONIC_CLC, ZYDIS_MNEMONIC_STC, ZYDIS_MNEMONIC_CMC, ZYDIS_MNEMONIC_CLD,
        ZYDIS_MNEMONIC_STD, ZYDIS_MNEMONIC_XLAT, ZYDIS_MNEMONIC_UD2, ZYDIS_MNEMONIC_INT3,
        ZYDIS_MNEMONIC_INTO, ZYDIS_MNEMONIC_BOUND, ZYDIS_MNEMONIC_FLD, ZYDIS_MNEMONIC_FILD,
        ZYDIS_MNEMONIC_FSTP, ZYDIS_MNEMONIC_FISTP, ZYDIS_MNEMONIC_FBSTP, ZYDIS_MNEMONIC_FADD,
        ZYDIS_MNEMONIC_FDIVRP, ZYDIS_MNEMONIC_FSQRT, ZYDIS_MNEMONIC_FPREM1, ZYDIS_MNEMONIC_FXCH,
        ZYDIS_MNEMONIC_FCMOVNBE, ZYDIS_MNEMONIC_FCOMI, ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FNSTSW,
        ZYDIS_MNEMONIC_FLDCW, ZYDIS_MNEMONIC_FWAIT};
    static bool seen[sizeof(want) / sizeof(want[0])];
    bool rep16 = false, lock_ud = false, sib_esp = false;
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    for (uint64_t i = 0; i < 20000; i++) {
        struct diff_case c;
        struct diff_meta m;
        diff_gen_case(3, i, &c, &m);
        for (unsigned k = 0; k < m.n; k++) {
            ZydisDecodedInstruction in;
            ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
            const uint8_t *p = c.code + m.off[k];
            if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p, m.off[k + 1] - m.off[k], &in, ops))) {
                lock_ud |= p[0] == 0xF0;
                continue;
            }
            for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
                seen[w] |= in.mnemonic == want[w];
            rep16 |= in.address_width == 16 && (in.attributes & ZYDIS_ATTRIB_HAS_REP);
            sib_esp |= in.raw.sib.base == 4 && in.raw.modrm.rm == 4;
        }
    }
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
        cr_expect(seen[w], "never generated: %s", ZydisMnemonicGetString(want[w]));
    cr_expect(rep16, "no REP string instruction with 16-bit addressing");
    cr_expect(lock_ud, "no LOCK on a register operand");
    cr_expect(sib_esp, "no ESP-based SIB operand");
}

Test(tracker, rejects_what_breaks_the_sandbox)
{
    struct diff_case c = make_case("a1 00 00 00 00"); /* mov eax, [0] */
    cr_assert_str_eq(analyse_why(&c), "memory access outside the data area");
    c = make_case("89 c4"); /* mov esp, eax */
    cr_assert_str_eq(analyse_why(&c), "writes ESP");
    c = make_case("64 8b 03"); /* mov eax, fs:[ebx] */
    cr_assert_not_null(analyse_why(&c));
    c = make_case("8b 00"); /* mov eax, [eax]: eax = 1 */
    cr_assert_not_null(analyse_why(&c));
    c = make_case("eb 00"); /* jmp: not modelled */
    cr_assert_str_eq(analyse_why(&c), "instruction not modelled");
    c = make_case("8b 03 8b 00"); /* mov eax, [ebx]; mov eax, [eax]: eax unknown now */
    cr_assert_str_eq(analyse_why(&c), "address from an unknown base register");
    c = make_case("b8 10 8e 00 00 8b 00"); /* mov eax, imm (known again); mov eax, [eax] */
    cr_assert_null(analyse_why(&c));
}

Test(tracker, undefined_values_are_never_consumed)
{
    struct diff_case c = make_case("f7 e1 83 d0 00"); /* mul ecx; adc eax, 0 */
    cr_assert_null(analyse_why(&c)); /* CF is defined after MUL */
    c = make_case("f7 e1 0f 44 c1"); /* mul ecx; cmovz eax, ecx: ZF undefined */
    cr_assert_str_eq(analyse_why(&c), "reads an undefined flag");
    c = make_case("bb 00 00 00 00 0f bc c3 01 c1"); /* bsf eax, 0; add ecx, eax */
    cr_assert_str_eq(analyse_why(&c), "reads an undefined register");
    c = make_case("bb 00 00 00 00 0f bc c3 b8 01 00 00 00 01 c1"); /* ...; mov eax, 1; add */
    cr_assert_null(analyse_why(&c));
    c = make_case("66 0f a5 c8"); /* shld ax, cx, cl with cl = 2: defined */
    cr_assert_null(analyse_why(&c));
}

Test(tracker, masks_follow_the_table)
{
    struct diff_meta m;
    struct diff_case c = make_case("c1 e0 02 d1 e0 c1 e0 00 f7 e1 01 c8");
    analyse_ok(&c, &m); /* shl eax,2; shl eax,1; shl eax,0; mul ecx; add eax,ecx */
    cr_assert_eq(m.n, 5u);
    cr_assert_eq(m.undef_flags[1], DIFF_FL_OF | DIFF_FL_AF);
    cr_assert_eq(m.undef_flags[2], DIFF_FL_AF);
    cr_assert_eq(m.undef_flags[3], DIFF_FL_AF); /* a zero count changes nothing */
    cr_assert_eq(m.undef_flags[4], DIFF_FL_SF | DIFF_FL_ZF | DIFF_FL_AF | DIFF_FL_PF);
    cr_assert_eq(m.undef_flags[5], 0);
    c = make_case("66 c1 e0 12"); /* shl ax, 18: CF undefined too */
    analyse_ok(&c, &m);
    cr_assert_eq(m.undef_flags[1], DIFF_FL_OF | DIFF_FL_AF | DIFF_FL_CF);
    c = make_case("66 0f a4 c8 11"); /* shld ax, cx, 17: all flags and AX undefined */
    analyse_ok(&c, &m);
    cr_assert_eq(m.undef_flags[1], DIFF_FL_ARITH);
    cr_assert_eq(m.undef_regs[1], 1u << DIFF_EAX);

    struct diff_flag_effect e;
    diff_flag_effect(ZYDIS_MNEMONIC_RCL, 8, 9, DIFF_FL_CF | DIFF_FL_OF, &e);
    cr_assert_eq(e.undefined, DIFF_FL_OF);
    diff_flag_effect(ZYDIS_MNEMONIC_ROL, 32, 33, DIFF_FL_CF | DIFF_FL_OF, &e);
    cr_assert_eq(e.undefined, 0); /* 33 & 31 == 1 */
    diff_flag_effect(ZYDIS_MNEMONIC_ADD, 32, -1, DIFF_FL_ARITH, &e);
    cr_assert_eq(e.undefined, 0);
}

Test(oracle, known_answers)
{
    struct diff_case c = make_case("01 d8"); /* add eax, ebx */
    c.gpr[DIFF_EAX] = 0x7FFFFFFF;
    c.gpr[DIFF_EBX] = 1;
    struct diff_result r = native1(&c);
    cr_assert_eq(r.vector, DIFF_VEC_END);
    cr_assert_eq(r.gpr[DIFF_EAX], 0x80000000);
    cr_assert_eq(r.eflags & DIFF_FL_ARITH, DIFF_FL_OF | DIFF_FL_SF | DIFF_FL_AF | DIFF_FL_PF);
    cr_assert_eq(r.eip, DIFF_CODE_BASE + 2);

    c = make_case("90 f7 f1"); /* nop; div ecx with edx:eax = 3:1, ecx = 2 -> #DE */
    r = native1(&c);
    cr_assert_eq(r.vector, 0u);
    cr_assert_eq(r.eip, DIFF_CODE_BASE + 1);

    c = make_case("cc"); /* int3: a trap, EIP after it */
    c.slot = 5;
    r = native1(&c);
    cr_assert_eq(r.vector, 3u);
    cr_assert_eq(r.eip, DIFF_CODE_BASE + 5 * DIFF_SLOT_SIZE + 1);

    c = make_case("ce"); /* into with OF = 1 */
    c.eflags |= DIFF_FL_OF;
    cr_assert_eq(native1(&c).vector, 4u);
    c = make_case("0f 0b");
    cr_assert_eq(native1(&c).vector, 6u);
    c = make_case("f0 01 c8"); /* lock add eax, ecx */
    cr_assert_eq(native1(&c).vector, 6u);

    c = make_case("fd 53 f3 a4"); /* std; push ebx; rep movsb (ecx = 2) */
    r = native1(&c);
    cr_assert_eq(r.gpr[DIFF_ESP], DIFF_DATA_BASE + 0x2FC);
    uint32_t pushed;
    memcpy(&pushed, r.data + 0x2FC, 4);
    cr_assert_eq(pushed, DIFF_DATA_BASE + 0x100);
    cr_assert_eq(r.gpr[DIFF_ESI], DIFF_DATA_BASE + 0x3E);
    cr_assert_eq(r.gpr[DIFF_ECX], 0u);
    cr_assert_eq(r.data[0x7F], c.data[0x3F]);
    cr_assert(r.eflags & DIFF_FL_DF);

    c = make_case("67 f3 aa"); /* rep stosb with 16-bit addressing: CX, DI */
    c.gpr[DIFF_ECX] = 0xABCD0003;
    c.gpr[DIFF_EDI] = 0x12340000 | (DIFF_DATA_BASE + 0x10);
    r = native1(&c);
    cr_assert_eq(r.gpr[DIFF_ECX], 0xABCD0000);
    cr_assert_eq(r.gpr[DIFF_EDI], 0x12340000 | (DIFF_DATA_BASE + 0x13));
    cr_assert_eq(r.data[0x12], 1);
}

Test(oracle, deterministic)
{
    enum { N = 3000 };
    static struct diff_case cs[N];
    static struct diff_result a[N], b[N];
    struct diff_meta m;
    for (unsigned i = 0; i < N; i++) {
        diff_gen_case(11, i, &cs[i], &m);
        cs[i].slot = i % DIFF_MAX_BATCH;
    }
    char msg[256];
    cr_assert_eq(diff_native_run((void *)DIFF_NATIVE_PATH, cs, N, a, msg, sizeof(msg)), 0, "%s",
                 msg);
    cr_assert_eq(diff_native_run((void *)DIFF_NATIVE_PATH, cs, N, b, msg, sizeof(msg)), 0, "%s",
                 msg);
    unsigned faults = 0;
    for (unsigned i = 0; i < N; i++) {
        cr_assert(memcmp(&a[i], &b[i], sizeof(a[i])) == 0, "case %u differs between runs", i);
        cr_assert_eq(a[i].flags, 0u, "case %u wrote outside the data area", i);
        cr_assert(a[i].vector != 13 && a[i].vector != 14, "case %u: #GP/#PF natively", i);
        faults += a[i].vector != DIFF_VEC_END;
    }
    cr_assert(faults > N / 100 && faults < N / 2, "%u faulting cases of %u", faults, N);
}

Test(compare, catches_planted_differences)
{
    struct diff_meta m;
    char why[2048];
    struct diff_case c = make_case("f7 e1 89 03"); /* mul ecx; mov [ebx], eax */
    analyse_ok(&c, &m);
    struct diff_result want = native1(&c), got = want;
    cr_assert(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
    got.gpr[DIFF_EDX] ^= 1;
    cr_assert_not(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
    got = want;
    got.eflags ^= DIFF_FL_CF; /* defined after MUL */
    cr_assert_not(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
    got = want;
    got.eflags ^= DIFF_FL_SF | DIFF_FL_ZF | DIFF_FL_AF | DIFF_FL_PF; /* undefined */
    cr_assert(diff_compare(&c, &m, &want, &got, why, sizeof(why)), "%s", why);
    got = want;
    got.eflags ^= 0x200; /* IF: not compared */
    cr_assert(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
    got = want;
    got.data[0x101] ^= 0x40;
    cr_assert_not(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
    got = want;
    got.vector = 6;
    cr_assert_not(diff_compare(&c, &m, &want, &got, why, sizeof(why)));

    c = make_case("0f 0b"); /* ud2: the guest's frame below ESP is not compared */
    analyse_ok(&c, &m);
    want = native1(&c);
    got = want;
    got.data[0x300 - 12] ^= 0xFF;
    cr_assert(diff_compare(&c, &m, &want, &got, why, sizeof(why)), "%s", why);
    got.data[0x300 - 13] ^= 0xFF;
    cr_assert_not(diff_compare(&c, &m, &want, &got, why, sizeof(why)));
}

/* A fake engine that is wrong about INC ECX: the minimiser must shrink a
 * longer failing sequence down to that one instruction. */
static int wrong_inc(void *ctx, const struct diff_case *cases, size_t n, struct diff_result *res,
                     char *msg, size_t msglen)
{
    (void)ctx;
    if (diff_native_run((void *)DIFF_NATIVE_PATH, cases, n, res, msg, msglen) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct diff_meta m;
        const char *why;
        unsigned bad;
        if (diff_analyse(&cases[i], &m, &why, &bad) < 0)
            continue;
        for (unsigned k = 0; k < m.n; k++)
            if (cases[i].code[m.off[k]] == 0x41)
                res[i].gpr[DIFF_ECX] ^= 0x100;
    }
    return 0;
}

Test(compare, minimiser_shrinks_to_the_culprit)
{
    struct diff_meta m;
    struct diff_case c = make_case("01 d8 53 41 f7 e3 5a 0f c8");
    analyse_ok(&c, &m);
    struct diff_runner native = {"native", diff_native_run, (void *)DIFF_NATIVE_PATH};
    struct diff_runner engine = {"wrong", wrong_inc, NULL};
    diff_minimise(&c, &m, &native, &engine);
    cr_assert_eq(m.n, 1u);
    cr_assert_eq(c.code[0], 0x41);
}
