/* x87 instructions (SDM Vol. 1 ch. 8; Vol. 2A/2B): a CPU-bound loop with
 * loads, stores, integer and BCD conversions, arithmetic, FSQRT,
 * compares (FCOMI, FCOM + FNSTSW AX), FCMOV, FXCH and FLDCW switching
 * precision and rounding control; the exact operations (FPREM, FPREM1,
 * FSCALE, FXTRACT, FRNDINT, ...); the transcendentals within a few
 * ulps; the last-instruction pointers FNSTENV and FXSAVE store after
 * them (Vol. 1 8.1.8); an unmasked exception as #MF at the next waiting
 * instruction (CR0.NE = 1, Vol. 1 8.6; x87_ferr.c has CR0.NE = 0); #NM
 * under CR0.TS and CR0.EM (Vol. 3A 2.5); a page fault on the operand of
 * FLD m64, which leaves the x87 state as it was.
 *
 * On bt the x87 instructions run natively in translated code (CR0.NE
 * set, EM and TS clear; docs/bt-status.md): every result must be the
 * interpreter's, whose soft-float the exact values came from the host
 * x87 for. The expected values were taken from the same routines run
 * natively in a 32-bit Linux process on an Intel host. */
#include "guest.h"

NEEDS("x87 paging");

#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
_Static_assert(CR0_EM == 0x4 && CR0_TS == 0x8 && CR0_NE == 0x20, "SDM Vol. 3A 2.5");
#define VEC_NM 7
#define VEC_MF 16

__asm__(".data\n"
        ".balign 8\n"
        "x87_half:  .double 0.5\n"
        "x87_quarter: .double 0.25\n"
        "x87_one:   .double 1.0\n"
        "x87_three: .double 3.0\n"
        "x87_thr:   .double 1000.5\n"
        "x87_a:     .double 10.3\n"
        "x87_m25:   .double -2.5\n"
        "x87_mod:   .long 1009\n"
        /* PC64 RN, PC53 RN, PC64 RZ, PC24 RD (Vol. 1 8.1.5) */
        "x87_cws:   .word 0x037F, 0x027F, 0x0F7F, 0x047F\n"
        "x87_cw_ze: .word 0x037B\n" /* ZE unmasked */
        ".text\n"
        ".intel_syntax noprefix\n"
        /* x87_kernel(n, out): over i = 1..n, with the control word
         * cycling through the modes above: sum += sqrt(i*i + 0.5) / i,
         * prod *= 1 + 1 / (i + 1), max of (7919 i) mod 1009 by FCOMI and
         * FCMOVB, count of i >= 1000.5 by FCOM and FNSTSW AX. */
        "x87_kernel:\n"
        "  push ebx\n"
        "  push esi\n"
        "  push edi\n"
        "  mov ecx, [esp+16]\n"
        "  mov edi, [esp+20]\n"
        "  fldz\n"
        "  fld1\n"
        "  fldz\n"                          /* max prod sum */
        "  xor esi, esi\n"
        "  mov ebx, 1\n"
        "1:\n"
        "  mov [edi+32], ebx\n"
        "  mov eax, ebx\n"
        "  and eax, 3\n"
        "  fldcw word ptr [x87_cws + eax*2]\n"
        "  fild dword ptr [edi+32]\n"       /* i max prod sum */
        "  fld st(0)\n"
        "  fmul st(0), st(0)\n"
        "  fadd qword ptr [x87_half]\n"
        "  fsqrt\n"
        "  fdiv st(0), st(1)\n"
        "  faddp st(4), st(0)\n"
        "  fld1\n"
        "  fadd st(0), st(1)\n"
        "  fdivr qword ptr [x87_one]\n"
        "  fld1\n"
        "  faddp st(1), st(0)\n"
        "  fmulp st(3), st(0)\n"
        "  mov eax, ebx\n"
        "  imul eax, eax, 7919\n"
        "  xor edx, edx\n"
        "  div dword ptr [x87_mod]\n"
        "  mov [edi+32], edx\n"
        "  fild dword ptr [edi+32]\n"       /* v i max prod sum */
        "  fcomi st(0), st(2)\n"
        "  fcmovb st(0), st(2)\n"
        "  fstp st(2)\n"
        "  fcom qword ptr [x87_thr]\n"
        "  fnstsw ax\n"
        "  test ah, 1\n"                    /* C0: i < 1000.5 */
        "  jnz 2f\n"
        "  inc esi\n"
        "2:\n"
        "  fxch st(3)\n"
        "  fxch st(3)\n"
        "  fstp st(0)\n"                    /* max prod sum */
        "  inc ebx\n"
        "  cmp ebx, ecx\n"
        "  jbe 1b\n"
        "  mov [edi+28], esi\n"
        "  fldcw word ptr [x87_cws]\n"
        "  fld st(2)\n"
        "  fistp dword ptr [edi+36]\n"
        "  fld st(2)\n"
        "  fbstp tbyte ptr [edi+40]\n"
        "  fbld tbyte ptr [edi+40]\n"
        "  fistp dword ptr [edi+68]\n"
        "  fstp qword ptr [edi+20]\n"
        "  fld st(0)\n"
        "  fistp qword ptr [edi+56]\n"
        "  fstp tbyte ptr [edi+8]\n"
        "  fld st(0)\n"
        "  fstp dword ptr [edi+64]\n"
        "x87_kernel_last:\n"
        "  fstp qword ptr [edi]\n"
        "  fnstsw word ptr [edi+52]\n"
        "  pop edi\n"
        "  pop esi\n"
        "  pop ebx\n"
        "  ret\n"
        /* x87_misc(out): operations with exact results. */
        "x87_misc:\n"
        "  mov edx, [esp+4]\n"
        "  fld qword ptr [x87_three]\n"
        "  fld qword ptr [x87_a]\n"
        "  fprem\n"
        "  fnstsw ax\n"
        "  mov [edx+48], ax\n"
        "  fstp qword ptr [edx]\n"
        "  fstp st(0)\n"
        "  fld1\n"
        "  fchs\n"
        "  fldpi\n"
        "  fscale\n"
        "  fstp tbyte ptr [edx+8]\n"
        "  fstp st(0)\n"
        "  fldl2e\n"
        "  fxtract\n"
        "  fstp tbyte ptr [edx+20]\n"
        "  fistp dword ptr [edx+32]\n"
        "  fld qword ptr [x87_m25]\n"
        "  frndint\n"
        "  fabs\n"
        "  ftst\n"
        "  fnstsw ax\n"
        "  mov [edx+36], ax\n"
        "  fxam\n"
        "  fnstsw ax\n"
        "  mov [edx+38], ax\n"
        "  fldln2\n"
        "  fucompp\n"
        "  fnstsw ax\n"
        "  mov [edx+40], ax\n"
        "  fldlg2\n"
        "  fldl2t\n"
        "  fcompp\n"
        "  fnstsw ax\n"
        "  mov [edx+42], ax\n"
        "  fild word ptr [x87_mod]\n"
        "  fidiv dword ptr [x87_mod]\n"
        "  fisub word ptr [x87_mod]\n"
        "  fistp word ptr [edx+44]\n"
        "  fld1\n"
        "  fld1\n"
        "  fld qword ptr [x87_three]\n"
        "  fprem1\n"
        "  fucomip st(0), st(1)\n"
        "  setz al\n"
        "  mov [edx+46], al\n"
        "  fcomip st(0), st(0)\n"
        "  setz al\n"
        "  mov [edx+47], al\n"
        "  fnstsw ax\n"
        "  mov [edx+50], ax\n"
        "  ret\n"
        /* x87_trans(out): transcendentals, 80-bit results 10 bytes apart. */
        "x87_trans:\n"
        "  mov edx, [esp+4]\n"
        "  fld qword ptr [x87_half]\n"
        "  fsin\n"
        "  fstp tbyte ptr [edx]\n"
        "  fld qword ptr [x87_half]\n"
        "  fcos\n"
        "  fstp tbyte ptr [edx+10]\n"
        "  fld1\n"
        "  fld1\n"
        "  fpatan\n"
        "  fstp tbyte ptr [edx+20]\n"
        "  fld1\n"
        "  fld qword ptr [x87_three]\n"
        "  fyl2x\n"
        "  fstp tbyte ptr [edx+30]\n"
        "  fld qword ptr [x87_half]\n"
        "  f2xm1\n"
        "  fstp tbyte ptr [edx+40]\n"
        "  fld qword ptr [x87_half]\n"
        "  fptan\n"
        "  fstp st(0)\n"
        "  fstp tbyte ptr [edx+50]\n"
        "  fld qword ptr [x87_half]\n"
        "  fsincos\n"
        "  fstp tbyte ptr [edx+60]\n"
        "  fstp tbyte ptr [edx+70]\n"
        "  fld1\n"
        "  fld qword ptr [x87_quarter]\n"
        "  fyl2xp1\n"
        "  fstp tbyte ptr [edx+80]\n"
        "  ret\n"
        /* An unmasked divide by zero, then FWAIT: #MF there. */
        "x87_mf:\n"
        "  fldcw word ptr [x87_cw_ze]\n"
        "  fld1\n"
        "  fldz\n"
        "x87_mf_div:\n"
        "  fdivp st(1), st(0)\n"
        "x87_mf_wait:\n"
        "  fwait\n"
        "  ret\n"
        /* The same, then a store, which must not happen. */
        "x87_mf2:\n"
        "  mov eax, [esp+4]\n"
        "  fldcw word ptr [x87_cw_ze]\n"
        "  fld1\n"
        "  fldz\n"
        "x87_mf2_div:\n"
        "  fdiv st(1), st(0)\n"
        "x87_mf2_store:\n"
        "  fst qword ptr [eax]\n"
        "  ret\n"
        /* x87_pf(va, dst): FLD m64 from dst, then from va. */
        "x87_pf:\n"
        "  mov eax, [esp+4]\n"
        "  mov edx, [esp+8]\n"
        "x87_pf_first:\n"
        "  fld qword ptr [edx]\n"
        "x87_pf_insn:\n"
        "  fld qword ptr [eax]\n"
        "  fstp qword ptr [edx]\n"
        "  fstp st(0)\n"
        "  ret\n"
        "x87_nm:\n"
        "x87_nm_insn:\n"
        "  fld1\n"
        "  fstp st(0)\n"
        "  ret\n"
        "x87_nm_wait:\n"
        "x87_nm_wait_insn:\n"
        "  fwait\n"
        "  ret\n"
        ".att_syntax prefix\n");
extern void x87_kernel(uint32_t n, void *out);
extern void x87_misc(void *out);
extern void x87_trans(void *out);
extern void x87_mf(void), x87_mf2(void *dst), x87_pf(uint32_t va, void *dst);
extern void x87_nm(void), x87_nm_wait(void);
extern const char x87_kernel_last[], x87_mf_div[], x87_mf_wait[], x87_mf2_div[],
    x87_mf2_store[], x87_pf_first[], x87_pf_insn[], x87_nm_insn[], x87_nm_wait_insn[];

static inline void fninit(void) { __asm__ volatile("fninit" ::: "memory"); }
static inline void clts(void) { __asm__ volatile("clts" ::: "memory"); }

/* The 32-bit protected-mode FNSTENV image (Vol. 1 Figure 8-9). */
struct fpu_env {
    uint32_t fcw, fsw, ftw, fip, fcs_fop, fdp, fds;
};
static struct fpu_env fnstenv(void)
{
    struct fpu_env e;
    __asm__ volatile("fnstenv %0" : "=m"(e) : : "memory");
    return e;
}
static uint16_t fnstsw(void)
{
    uint16_t v;
    __asm__ volatile("fnstsw %0" : "=a"(v));
    return v;
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
    uint32_t v;
    memcpy(&v, p + off, 4);
    return v;
}
static uint32_t get16(const uint8_t *p, unsigned off) { return get32(p, off) & 0xFFFF; }

/* FOP: the low three bits of the first opcode byte and the ModRM byte
 * (Vol. 1 8.1.9). */
#define FOP(first, modrm) ((((first) & 7u) << 8) | (modrm))

static uint8_t kout[96] __attribute__((aligned(16)));
static uint8_t fxbuf[512] __attribute__((aligned(16)));

/* The loop, then FXSAVE and FNSTENV: the pointers are those of the last
 * non-control instruction, FSTP m64 [EDI] (DD 1F) with EDI = kout. */
static void kernel(void)
{
    fninit();
    x87_kernel(3000, kout);
    static const struct {
        const char *name;
        unsigned off;
        uint32_t value;
    } want[] = {
        {"kernel.sum.lo", 0, 0xa000ee9c},   {"kernel.sum.hi", 4, 0x40a770c3},
        {"kernel.prod.lo", 8, 0x2da35bdf},  {"kernel.prod.hi", 12, 0xbb9c63b1},
        {"kernel.prod.se", 16, 0x00004009}, {"kernel.max.lo", 20, 0x00000000},
        {"kernel.max.hi", 24, 0x408f8000},  {"kernel.count", 28, 2000},
        {"kernel.fistp_m32", 36, 3000},     {"kernel.fbstp.lo", 40, 0x00003000},
        {"kernel.fbstp.hi", 44, 0},         {"kernel.fbstp.se", 48, 0},
        {"kernel.fnstsw_m16", 52, 0x0220},  {"kernel.fistp_m64.lo", 56, 1501},
        {"kernel.fistp_m64.hi", 60, 0},     {"kernel.fstp_m32", 64, 0x453b861d},
        {"kernel.fbld_fistp", 68, 3000},
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        check_eq(want[i].name, want[i].value,
                 want[i].off == 48 || want[i].off == 52 ? get16(kout, want[i].off)
                                                        : get32(kout, want[i].off));
    __asm__ volatile("fxsave %0" : "=m"(fxbuf) : : "memory");
    check_eq("kernel.fxsave.fcw", 0x037F, get16(fxbuf, 0));
    check_eq("kernel.fxsave.fsw", 0x0220, get16(fxbuf, 2));
    check_eq("kernel.fxsave.ftw", 0x00, fxbuf[4]);
    check_eq("kernel.fxsave.fop", FOP(0xDD, 0x1F), get16(fxbuf, 6));
    check_eq("kernel.fxsave.fip", (uint32_t)x87_kernel_last, get32(fxbuf, 8));
    check_eq("kernel.fxsave.fcs", SEL_KCODE, get16(fxbuf, 12));
    check_eq("kernel.fxsave.fdp", (uint32_t)kout, get32(fxbuf, 16));
    check_eq("kernel.fxsave.fds", SEL_KDATA, get16(fxbuf, 20));
    struct fpu_env e = fnstenv();
    check_eq("kernel.fnstenv.fcw", 0x037F, e.fcw & 0xFFFF);
    check_eq("kernel.fnstenv.fsw", 0x0220, e.fsw & 0xFFFF);
    check_eq("kernel.fnstenv.ftw", 0xFFFF, e.ftw & 0xFFFF);
    check_eq("kernel.fnstenv.fip", (uint32_t)x87_kernel_last, e.fip);
    check_eq("kernel.fnstenv.fcs_fop", SEL_KCODE | FOP(0xDD, 0x1F) << 16, e.fcs_fop);
    check_eq("kernel.fnstenv.fdp", (uint32_t)kout, e.fdp);
    check_eq("kernel.fnstenv.fds", SEL_KDATA, e.fds & 0xFFFF);
}

static void misc(void)
{
    static uint8_t out[64];
    fninit();
    x87_misc(out);
    check_eq("fprem.lo", 0xccccccd0, get32(out, 0));
    check_eq("fprem.hi", 0x3ff4cccc, get32(out, 4));
    check_eq("fprem.fsw", 0x7200, get16(out, 48));
    check_eq("fscale.lo", 0x2168c235, get32(out, 8));
    check_eq("fscale.hi", 0xc90fdaa2, get32(out, 12));
    check_eq("fscale.se", 0x3fff, get16(out, 16));
    check_eq("fxtract.sig.lo", 0x5c17f0bc, get32(out, 20));
    check_eq("fxtract.sig.hi", 0xb8aa3b29, get32(out, 24));
    check_eq("fxtract.sig.se", 0x3fff, get16(out, 28));
    check_eq("fxtract.exp", 0, get32(out, 32));
    check_eq("ftst.fsw", 0x3820, get16(out, 36));
    check_eq("fxam.fsw", 0x3c20, get16(out, 38));
    check_eq("fucompp.fsw", 0x0120, get16(out, 40));
    check_eq("fcompp.fsw", 0x0020, get16(out, 42));
    check_eq("fidiv_fisub.fistp_m16", 0xfc10, get16(out, 44));
    check_eq("fprem1.fucomip.zf", 0, out[46]);
    check_eq("fcomip.zf", 1, out[47]);
    /* C1 masked: the SDM has FCOMIP clear it, Intel processors keep the
     * Q0 FPREM1 left there (docs/fpu-status.md). */
    check_eq("misc.fsw", 0x7820, get16(out, 50) & ~0x0200u);
}

/* Within 4 units in the last place of the 64-bit significand: the
 * transcendentals are exact to about 1 ulp on Intel, AMD and in the
 * interpreter's soft-float (docs/fpu-status.md), not bit-identical. */
static void trans(void)
{
    static const struct {
        const char *name;
        uint16_t se;
        uint64_t sig;
    } want[] = {
        {"fsin", 0x3ffd, 0xf57743a2582f7f44ull},
        {"fcos", 0x3ffe, 0xe0a94032dbea7ceeull},
        {"fpatan", 0x3ffe, 0xc90fdaa22168c235ull},
        {"fyl2x", 0x3fff, 0xcae00d1cfdeb43d0ull},
        {"f2xm1", 0x3ffd, 0xd413cccfe7799211ull},
        {"fptan", 0x3ffe, 0x8bda7adf9a3a5219ull},
        {"fsincos.cos", 0x3ffe, 0xe0a94032dbea7ceeull},
        {"fsincos.sin", 0x3ffd, 0xf57743a2582f7f44ull},
        {"fyl2xp1", 0x3ffd, 0xa4d3c25e68dc57f2ull},
    };
    static uint8_t out[96];
    fninit();
    x87_trans(out);
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t sig;
        memcpy(&sig, out + 10 * i, 8);
        uint64_t d = sig > want[i].sig ? sig - want[i].sig : want[i].sig - sig;
        check_eqf(want[i].se, get16(out, 10 * i + 8), "%s.se", want[i].name);
        check_eqf(1, d <= 4, "%s.sig_within_4ulp", want[i].name);
    }
}

/* CR0.NE = 1: the exception is pending until the next waiting
 * instruction, which faults with #MF before it does anything; the
 * pointers are those of the divide (Vol. 1 8.6). */
static void mf_native(void)
{
    fninit();
    bool t = TRY_FAULT(x87_mf());
    check_trap("mf.fwait", t, VEC_MF, 0, (uint32_t)x87_mf_wait);
    struct fpu_env e = fnstenv();
    check_eq("mf.fwait.fsw", 0xB084, e.fsw & 0xFFFF);
    check_eq("mf.fwait.ftw", 0x1FFF, e.ftw & 0xFFFF);
    check_eq("mf.fwait.fip", (uint32_t)x87_mf_div, e.fip);
    check_eq("mf.fwait.fcs_fop", SEL_KCODE | FOP(0xDE, 0xF9) << 16, e.fcs_fop);
    check_eq("mf.fwait.fdp", 0, e.fdp);
    fninit();
    static uint32_t slot[2] = {0x11111111, 0x22222222};
    t = TRY_FAULT(x87_mf2(slot));
    check_trap("mf.fst", t, VEC_MF, 0, (uint32_t)x87_mf2_store);
    check_eq("mf.fst.not_stored", 0x11111111, slot[0]);
    e = fnstenv();
    check_eq("mf.fst.fsw", 0xB084, e.fsw & 0xFFFF);
    check_eq("mf.fst.fip", (uint32_t)x87_mf2_div, e.fip);
    check_eq("mf.fst.fcs_fop", SEL_KCODE | FOP(0xDC, 0xF9) << 16, e.fcs_fop);
    fninit();
}

/* #NM: any x87 instruction under CR0.TS or CR0.EM; FWAIT only under TS
 * with MP (Vol. 3A 2.5, Table 2-2). */
static void nm(void)
{
    uint32_t cr0 = read_cr0();
    fninit();
    write_cr0(cr0 | CR0_TS);
    bool t = TRY_FAULT(x87_nm());
    check_trap("nm.ts", t, VEC_NM, 0, (uint32_t)x87_nm_insn);
    t = TRY_FAULT(x87_nm_wait());
    check_eq("nm.ts.fwait_without_mp", 0, t);
    write_cr0(cr0 | CR0_TS | CR0_MP);
    t = TRY_FAULT(x87_nm_wait());
    check_trap("nm.ts_mp.fwait", t, VEC_NM, 0, (uint32_t)x87_nm_wait_insn);
    clts();
    t = TRY_FAULT(x87_nm());
    check_eq("nm.after_clts", 0, t);
    write_cr0(cr0 | CR0_EM);
    t = TRY_FAULT(x87_nm());
    check_trap("nm.em", t, VEC_NM, 0, (uint32_t)x87_nm_insn);
    write_cr0(cr0);
    t = TRY_FAULT(x87_nm());
    check_eq("nm.cleared", 0, t);
    check_eq("nm.fsw", 0, fnstsw());
}

#define VA_PF 0x40000000u
static uint8_t pf_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* A page fault on FLD's operand leaves the x87 state and the pointers as
 * they were (Vol. 1 8.1.8: only completed instructions set them). */
static void pf(void)
{
    static const uint32_t value[2] = {0x00000000, 0x400a0000}; /* 3.25 */
    uint32_t got[2] = {0, 0};
    memcpy(pf_page + 0x18, value, 8);
    pg_init();
    pg_enable(false);
    pg_map_4k(VA_PF, (uint32_t)pf_page, 0);
    invlpg(VA_PF);
    fninit();
    bool t = TRY_FAULT(x87_pf(VA_PF + 0x18, got));
    check_trap("pf.fld_m64", t, VEC_PF, 0, (uint32_t)x87_pf_insn);
    check_eq("pf.fld_m64.cr2", VA_PF + 0x18, trap_last.cr2);
    struct fpu_env e = fnstenv();
    check_eq("pf.fld_m64.fsw", 0x3800, e.fsw & 0xFFFF);
    check_eq("pf.fld_m64.ftw", 0x7FFF, e.ftw & 0xFFFF); /* R7 holds +0.0 */
    check_eq("pf.fld_m64.fip", (uint32_t)x87_pf_first, e.fip);
    check_eq("pf.fld_m64.fcs_fop", SEL_KCODE | FOP(0xDD, 0x02) << 16, e.fcs_fop);
    check_eq("pf.fld_m64.fdp", (uint32_t)got, e.fdp);
    check_eq("pf.fld_m64.fds", SEL_KDATA, e.fds & 0xFFFF);
    fninit();
    *pg_pte(VA_PF) |= PTE_P;
    invlpg(VA_PF);
    t = TRY_FAULT(x87_pf(VA_PF + 0x18, got));
    check_eq("pf.fld_m64.retry", 0, t);
    check_eq("pf.fld_m64.value.lo", value[0], got[0]);
    check_eq("pf.fld_m64.value.hi", value[1], got[1]);
    e = fnstenv();
    check_eq("pf.fld_m64.retry.fdp", (uint32_t)got, e.fdp);
    pg_disable();
    fninit();
}

void test_main(void)
{
    kernel();
    misc();
    trans();
    mf_native();
    nm();
    pf();
}
