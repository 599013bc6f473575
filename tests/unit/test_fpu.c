/* The x87 executor at instruction level: hlp_exec_fpu on a CPU booted
 * flat 32-bit (or switched to real mode), one decoded instruction at a
 * time, with guest memory through the softmmu. Checks the register stack
 * and tag word, exceptions (masked results, unmasked #MF, IRQ 13 with
 * CR0.NE clear), #NM/#UD rules, the FSTENV/FSAVE layouts and FXSAVE.
 * Expected values come from the SDM (Vol. 1 chapter 8, Vol. 2A). */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <string.h>

#include "loader_fixture.h"
#include "vmm_helpers/fpu_internal.h"

static struct machine *m;
static struct hlp_cpu cpu;

#define MEM 0x2000u /* scratch guest memory */
#define DISP(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), (uint8_t)((x) >> 24)

static void setup_options(unsigned options)
{
    lt_setup();
    static const uint8_t code[] = {0xE6, 0xF4};
    struct mach_err err = {{0}};
    m = lt_machine(4, 0);
    cr_assert_eq(mach_load_raw(m, lt_file("c.bin", code, sizeof code), 0x100000, 0x100000,
                               MACH_BOOT_FLAT32, &err), 0, "%s", err.msg);
    memset(&cpu, 0, sizeof cpu);
    cr_assert_eq(hlp_cpu_init(&cpu, m, options, &err), 0, "%s", err.msg);
    cpu.cr0 |= HLP_CR0_NE | HLP_CR0_MP;
}
static void setup(void) { setup_options(HLP_CPU_FXSR); }
static void teardown(void)
{
    hlp_cpu_destroy(&cpu);
    lt_teardown();
}

TestSuite(fpu, .init = setup, .fini = teardown);

/* Executes one instruction; returns the vector it raised or -1. */
static int exec(const uint8_t *bytes, size_t n)
{
    struct dec_insn d;
    enum dec_mode mode = hlp_code32(&cpu) ? DEC_MODE_32 : DEC_MODE_16;
    cr_assert_eq(dec_decode(&cpu.dec, mode, bytes, n, &d), DEC_OK);
    jmp_buf jb;
    cpu.fault_jmp = &jb;
    cpu.eip = 0x1000;
    if (setjmp(jb))
        return cpu.pending_vector;
    cr_assert(hlp_exec_fpu(&cpu, &d));
    cr_assert_eq(cpu.eip, 0x1000 + d.len);
    return -1;
}
#define X(...)                                                       \
    exec((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))
#define OK(...) cr_assert_eq(X(__VA_ARGS__), -1)

static uint16_t fsw(void) { return fpu_fsw(&cpu); }
static unsigned top(void) { return fpu_top(&cpu); }
static void put32(uint32_t a, uint32_t v) { memcpy(mach_ram(m) + a, &v, 4); }
static void put64(uint32_t a, uint64_t v) { memcpy(mach_ram(m) + a, &v, 8); }
static uint16_t get16(uint32_t a) { uint16_t v; memcpy(&v, mach_ram(m) + a, 2); return v; }
static uint32_t get32(uint32_t a) { uint32_t v; memcpy(&v, mach_ram(m) + a, 4); return v; }
static uint64_t get64(uint32_t a) { uint64_t v; memcpy(&v, mach_ram(m) + a, 8); return v; }

#define FLD1 0xD9, 0xE8
#define FLDZ 0xD9, 0xEE
#define FLDPI 0xD9, 0xEB
#define FNINIT 0xDB, 0xE3
#define FLDCW_MEM 0xD9, 0x2D, DISP(MEM + 0x100)

static void load_cw(uint16_t cw)
{
    put32(MEM + 0x100, cw);
    OK(FLDCW_MEM);
}

Test(fpu, fninit_and_push_pop)
{
    OK(FNINIT);
    cr_expect_eq(fpu_fcw(&cpu), 0x037F);
    cr_expect_eq(fsw(), 0);
    cr_expect_eq(cpu.fx.bytes[FX_FTW], 0);
    OK(FLD1);
    cr_expect_eq(top(), 7);
    cr_expect_eq(cpu.fx.bytes[FX_FTW], 0x80); /* physical R7 valid */
    OK(FLDPI);
    cr_expect_eq(top(), 6);
    struct fpu_f80 pi = fpu_st(&cpu, 0), one = fpu_st(&cpu, 1);
    cr_expect_eq(pi.sig, 0xC90FDAA22168C235ull); /* rounded to nearest */
    cr_expect_eq(pi.se, 0x4000);
    cr_expect_eq(one.sig, FPU_J);
    OK(0xDD, 0xD8); /* fstp st0: pop */
    cr_expect_eq(top(), 7);
    cr_expect_eq(fpu_st(&cpu, 0).sig, FPU_J);
    /* FOP and FIP of the last non-control instruction (Vol. 1 8.1.8) */
    cr_expect_eq(fpu_get16(&cpu, FX_FOP), 0x5D8);
    cr_expect_eq(fpu_get32(&cpu, FX_FIP), 0x1000);
}

Test(fpu, pi_follows_rounding_control)
{
    load_cw(0x077F); /* round down */
    OK(FLDPI);
    cr_expect_eq(fpu_st(&cpu, 0).sig, 0xC90FDAA22168C234ull);
}

Test(fpu, load_add_store_double)
{
    put32(MEM, 0x3FC00000);                /* 1.5f */
    put64(MEM + 8, 0x4002000000000000ull); /* 2.25 */
    OK(0xD9, 0x05, DISP(MEM));             /* fld dword [MEM] */
    OK(0xDC, 0x05, DISP(MEM + 8));         /* fadd qword [MEM+8] */
    OK(0xDD, 0x1D, DISP(MEM + 16));        /* fstp qword [MEM+16] */
    cr_expect_eq(get64(MEM + 16), 0x400E000000000000ull); /* 3.75 */
    cr_expect_eq(top(), 0);
    cr_expect_eq(cpu.fx.bytes[FX_FTW], 0);
    cr_expect_eq(fpu_get32(&cpu, FX_FDP), MEM + 16);
}

Test(fpu, integer_round_trip_with_rc)
{
    put32(MEM, 7);
    OK(0xDB, 0x05, DISP(MEM));     /* fild dword [MEM] */
    put32(MEM + 4, 2);
    OK(0xDA, 0x35, DISP(MEM + 4)); /* fidiv dword: 3.5 */
    OK(0xDF, 0x15, DISP(MEM + 8)); /* fist word: nearest even = 4 */
    cr_expect_eq(get16(MEM + 8), 4);
    cr_expect(fsw() & FPU_PE);
    cr_expect(fsw() & FPU_C1); /* rounded up */
    load_cw(0x0F7F);               /* toward zero */
    OK(0xDF, 0x1D, DISP(MEM + 8)); /* fistp word */
    cr_expect_eq(get16(MEM + 8), 3);
    cr_expect_eq(top(), 0);
}

Test(fpu, stack_overflow_masked_and_unmasked)
{
    for (int i = 0; i < 8; i++)
        OK(FLD1);
    OK(FLDZ); /* ninth push: IE + SF + C1, ST(0) = indefinite */
    cr_expect_eq(fsw() & (FPU_IE | FPU_SF | FPU_C1 | FPU_ES), FPU_IE | FPU_SF | FPU_C1);
    cr_expect_eq(fpu_st(&cpu, 0).sig, FPU_J | FPU_QUIET);
    cr_expect_eq(fpu_st(&cpu, 0).se, 0xFFFF);
    OK(0xDB, 0xE2); /* fnclex */
    load_cw(0x037E); /* IE unmasked */
    unsigned t = top();
    OK(FLDZ);
    cr_expect_eq(top(), t, "an unmasked overflow leaves the stack");
    cr_expect(fsw() & FPU_ES);
    cr_expect(fsw() & FPU_B);
    cr_expect_eq(X(FLD1), HLP_VEC_MF, "next waiting instruction: #MF");
    OK(0xDF, 0xE0); /* fnstsw ax does not wait */
    cr_expect_eq(cpu.gpr[HLP_EAX] & 0xFFFF, fsw());
    cr_expect_eq(X(0x9B), HLP_VEC_MF); /* fwait */
    OK(0xDB, 0xE2);
    OK(0x9B);
}

Test(fpu, stack_underflow)
{
    OK(0xD8, 0xC1); /* fadd st0, st1 on an empty stack */
    cr_expect_eq(fsw() & (FPU_IE | FPU_SF | FPU_C1), FPU_IE | FPU_SF);
    cr_expect_eq(fpu_st(&cpu, 0).se, 0xFFFF);
    cr_expect(!fpu_empty(&cpu, 0));
}

Test(fpu, ferr_irq13_without_ne)
{
    cpu.cr0 &= ~(uint32_t)HLP_CR0_NE;
    load_cw(0x037B); /* ZE unmasked */
    OK(FLDZ);
    OK(FLD1);
    OK(0xD8, 0xF1); /* fdiv st0, st1: 1/0 */
    cr_expect(fsw() & FPU_ZE);
    cr_expect(fsw() & FPU_ES);
    cr_expect_eq(fpu_st(&cpu, 0).sig, FPU_J, "unmasked ZE leaves the destination");
    /* Without NE the next waiting instruction proceeds (IGNNE#); the
     * exception went to IRQ 13. */
    OK(FLD1);
}

Test(fpu, compare_and_fnstsw)
{
    OK(FLD1);
    OK(FLDZ);
    OK(0xD8, 0xD1); /* fcom st1: 0 < 1 */
    cr_expect_eq(fsw() & (FPU_C0 | FPU_C2 | FPU_C3), FPU_C0);
    OK(0xDB, 0xF1); /* fcomi st0, st1 */
    cr_expect_eq(cpu.eflags & (HLP_FL_CF | HLP_FL_ZF | HLP_FL_PF), HLP_FL_CF);
    OK(0xDE, 0xD9); /* fcompp */
    cr_expect_eq(cpu.fx.bytes[FX_FTW], 0);
    OK(0xD9, 0xE5); /* fxam on empty: C3 C0 */
    cr_expect_eq(fsw() & (FPU_C0 | FPU_C2 | FPU_C3), FPU_C3 | FPU_C0);
}

Test(fpu, fucom_quiet_nan)
{
    put32(MEM, 0x7FC00000); /* QNaN */
    OK(0xD9, 0x05, DISP(MEM));
    OK(FLD1);
    OK(0xDD, 0xE1); /* fucom st1 */
    cr_expect_eq(fsw() & (FPU_C0 | FPU_C2 | FPU_C3 | FPU_IE), FPU_C0 | FPU_C2 | FPU_C3);
    OK(0xD8, 0xD1); /* fcom st1: IE */
    cr_expect(fsw() & FPU_IE);
}

Test(fpu, fstenv_protected_32)
{
    OK(FLD1);
    OK(FLDZ);
    OK(0xD9, 0x35, DISP(MEM)); /* fnstenv [MEM] */
    cr_expect_eq(get32(MEM), 0xFFFF037F);
    cr_expect_eq(get32(MEM + 4) & 0xFFFF, fsw());
    /* R7 valid (1.0) = 00, R6 zero = 01, the rest empty */
    cr_expect_eq(get32(MEM + 8), 0xFFFF0000u | 0x1FFF);
    cr_expect_eq(get32(MEM + 12), 0x1000);                               /* FIP */
    cr_expect_eq(get32(MEM + 16), cpu.seg[HLP_CS].sel | (0x1EEu << 16)); /* FCS, FOP */
    cr_expect_eq(fpu_fcw(&cpu), 0x037F, "FNSTENV masks all exceptions");
    load_cw(0x0360);
    OK(0xD9, 0x35, DISP(MEM));
    cr_expect_eq(fpu_fcw(&cpu), 0x037F);
    /* FLDENV back: the saved control word */
    OK(0xD9, 0x25, DISP(MEM));
    cr_expect_eq(fpu_fcw(&cpu), 0x0360);
}

Test(fpu, fsave_frstor_round_trip)
{
    OK(FLDPI);
    OK(FLD1);
    uint8_t before[160];
    memcpy(before, cpu.fx.bytes, sizeof before);
    OK(0xDD, 0x35, DISP(MEM)); /* fnsave */
    cr_expect_eq(fsw(), 0, "FNSAVE reinitializes");
    cr_expect_eq(cpu.fx.bytes[FX_FTW], 0);
    cr_expect_eq(get64(MEM + 28), FPU_J);          /* ST(0) = 1.0 */
    cr_expect_eq(get64(MEM + 38), 0xC90FDAA22168C235ull);
    OK(0xDD, 0x25, DISP(MEM)); /* frstor */
    cr_expect_eq(memcmp(before, cpu.fx.bytes, 24), 0);
    cr_expect_eq(memcmp(before + 32, cpu.fx.bytes + 32, 128), 0);
}

Test(fpu, fstenv_real_mode_16)
{
    cpu.cr0 &= ~(uint32_t)HLP_CR0_PE;
    cpu.seg[HLP_CS].sel = 0x1234;
    cpu.seg[HLP_CS].base = 0x12340;
    cpu.seg[HLP_CS].attr &= ~(uint32_t)HLP_SEG_DB;
    OK(FLD1);
    OK(0xD9, 0x36, 0x00, 0x30); /* fnstenv [0x3000] (16-bit) */
    uint32_t lip = 0x12340 + 0x1000;
    cr_expect_eq(get16(0x3000), 0x037F);
    cr_expect_eq(get16(0x3006), lip & 0xFFFF);
    cr_expect_eq(get16(0x3008), ((lip >> 16) << 12) | 0x1E8);
}

Test(fpu, fxsave_layout_and_alignment)
{
    OK(FLD1);
    cr_expect_eq(X(0x0F, 0xAE, 0x05, DISP(MEM + 8)), HLP_VEC_GP);
    OK(0x0F, 0xAE, 0x05, DISP(MEM)); /* fxsave [MEM] */
    cr_expect_eq(get16(MEM), 0x037F);
    cr_expect_eq(mach_ram(m)[MEM + 4], 0x80); /* abridged tag: R7 */
    cr_expect_eq(get64(MEM + 32), FPU_J);
    OK(FNINIT);
    OK(0x0F, 0xAE, 0x0D, DISP(MEM)); /* fxrstor */
    cr_expect_eq(top(), 7);
    cr_expect_eq(fpu_st(&cpu, 0).sig, FPU_J);
}

Test(fpu, device_not_available)
{
    cpu.cr0 |= HLP_CR0_TS;
    cr_expect_eq(X(FLD1), HLP_VEC_NM);
    cr_expect_eq(X(0x9B), HLP_VEC_NM, "WAIT with TS and MP");
    cr_expect_eq(X(0x0F, 0xAE, 0x05, DISP(MEM)), HLP_VEC_NM);
    cpu.cr0 &= ~(uint32_t)HLP_CR0_MP;
    OK(0x9B);
    cpu.cr0 = (cpu.cr0 & ~(uint32_t)HLP_CR0_TS) | HLP_CR0_EM;
    cr_expect_eq(X(FLD1), HLP_VEC_NM);
    OK(0x9B);
}

Test(fpu, not_advertised_is_ud)
{
    cr_expect_eq(X(0x0F, 0x6F, 0xC1), HLP_VEC_UD);       /* movq mm0, mm1 */
    cr_expect_eq(X(0xDF, 0x0D, DISP(MEM)), HLP_VEC_UD);  /* fisttp (SSE3) */
    cr_expect_eq(X(0x0F, 0x58, 0xC1), HLP_VEC_UD);       /* addps */
}

Test(fpu, fxsave_needs_fxsr)
{
    teardown();
    setup_options(0);
    cr_expect_eq(X(0x0F, 0xAE, 0x05, DISP(MEM)), HLP_VEC_UD);
}

Test(fpu, fprem_quotient_bits)
{
    put32(MEM, 3);
    put32(MEM + 4, 17);
    OK(0xDB, 0x05, DISP(MEM));     /* fild 3 */
    OK(0xDB, 0x05, DISP(MEM + 4)); /* fild 17 */
    OK(0xD9, 0xF8);                /* fprem: 17 = 5*3 + 2 */
    cr_expect_eq(fpu_st(&cpu, 0).sig, FPU_J);
    cr_expect_eq(fpu_st(&cpu, 0).se, 0x4000); /* 2.0 */
    /* Q = 5 = 101b: C0 = 1, C3 = 0, C1 = 1, C2 = 0 */
    cr_expect_eq(fsw() & (FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3), FPU_C0 | FPU_C1);
    OK(0xDD, 0xD8);
    OK(0xDB, 0x05, DISP(MEM + 4));
    OK(0xD9, 0xF5); /* fprem1: 17 = 6*3 - 1 */
    cr_expect_eq(fpu_st(&cpu, 0).se, 0xBFFF);
    cr_expect_eq(fsw() & (FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3), FPU_C0 | FPU_C3);
}

Test(fpu, transcendental_sanity)
{
    OK(FLDPI);
    OK(0xD9, 0xFE); /* fsin(pi) ~ -2.5e-20 (pi rounded up) */
    struct fpu_f80 s = fpu_st(&cpu, 0);
    cr_expect_eq(s.se, 0xBFBE, "sin of the rounded pi: %04x", s.se);
    OK(0xDD, 0xD8);
    OK(FLD1);
    OK(FLD1);
    OK(0xD9, 0xF3); /* fpatan(1, 1) = pi/4 */
    cr_expect_eq(fpu_st(&cpu, 0).sig, 0xC90FDAA22168C235ull);
    cr_expect_eq(fpu_st(&cpu, 0).se, 0x3FFE);
    OK(0xDD, 0xD8);
    put32(MEM, 8);
    OK(FLD1);
    OK(0xDB, 0x05, DISP(MEM));
    OK(0xD9, 0xF1); /* fyl2x: 1 * log2(8) = 3 */
    cr_expect_eq(fpu_st(&cpu, 0).sig, 0xC000000000000000ull);
    cr_expect_eq(fpu_st(&cpu, 0).se, 0x4000);
}
