/* The soft-float x87 arithmetic (vmm_helpers/fpu_sf*.c) against the
 * host's own x87: every operation, rounding mode and precision, masked and
 * unmasked exceptions, on special and random operands. The host result is
 * read with non-waiting FNSTSW/FNSAVE so an unmasked exception leaves its
 * state visible instead of trapping. x86 hosts only; elsewhere it skips. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vmm_helpers/fpu_sf.h"

#if defined(__x86_64__) || defined(__i386__)

typedef struct fpu_f80 f80;

static void put80(uint8_t *p, f80 v)
{
    memcpy(p, &v.sig, 8);
    memcpy(p + 8, &v.se, 2);
}

static f80 get80(const uint8_t *p)
{
    f80 v;
    memcpy(&v.sig, p, 8);
    memcpy(&v.se, p + 8, 2);
    return v;
}

/* ---- operands ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const f80 specials[] = {
    {0, 0},                                  /* +0 */
    {0, 0x8000},                             /* -0 */
    {1, 0},                                  /* smallest denormal */
    {0x7FFFFFFFFFFFFFFFull, 0x8000},         /* largest denormal */
    {0x8000000000000001ull, 0},              /* pseudo-denormal */
    {FPU_J, 1},                              /* smallest normal */
    {FPU_J, 0x3FFF},                         /* 1.0 */
    {0xC000000000000000ull, 0xBFFF},         /* -1.5 */
    {~0ull, 0x7FFE},                         /* largest finite */
    {~0ull, 0xFFFE},
    {FPU_J, 0x7FFF},                         /* +inf */
    {FPU_J, 0xFFFF},                         /* -inf */
    {0xC000000000000000ull, 0xFFFF},         /* indefinite */
    {0xC000000000000123ull, 0x7FFF},         /* QNaN */
    {0x8000000000000456ull, 0x7FFF},         /* SNaN */
    {0x8000000000000456ull, 0xFFFF},
    {0x4000000000000000ull, 0x3FFF},         /* unnormal */
    {0x4000000000000000ull, 0x7FFF},         /* pseudo-NaN */
    {0, 0x7FFF},                             /* pseudo-infinity */
    {0x8000000000000001ull, 0x3FFF},
    {0xFFFFFFFFFFFFF800ull, 0x3FFE},
};
#define N_SPECIALS (sizeof specials / sizeof specials[0])

static uint64_t rnd_sig(void)
{
    switch (rnd() % 6) {
    case 0: return FPU_J | (rnd() >> (rnd() % 64)); /* short */
    case 1: return ~0ull << (rnd() % 40);          /* runs of ones */
    case 2: return FPU_J | (1ull << (rnd() % 63)) | (rnd() & 1);
    case 3: return FPU_J | (rnd() & ((1ull << 40) - 1)) << 23; /* near float */
    default: return rnd() | FPU_J;
    }
}

static f80 rnd_f80(void)
{
    unsigned r = (unsigned)(rnd() % 100);
    if (r < 6)
        return specials[rnd() % N_SPECIALS];
    uint16_t sign = (rnd() & 1) ? 0x8000 : 0;
    unsigned exp;
    if (r < 12)
        exp = (unsigned)(rnd() % 70); /* denormal boundary */
    else if (r < 18)
        exp = 0x7FFE - (unsigned)(rnd() % 70);
    else if (r < 22)
        exp = 0x3FFF - 150 + (unsigned)(rnd() % 300); /* float ranges */
    else if (r < 26)
        exp = (rnd() & 1 ? 0x3C00 + 100 : 0x3FFF + 1024 - 100) + (unsigned)(rnd() % 200);
    else
        exp = 0x3FFF - 80 + (unsigned)(rnd() % 160);
    uint64_t sig = rnd_sig();
    if (exp == 0)
        sig &= ~FPU_J;
    return (f80){sig, (uint16_t)(sign | exp)};
}

/* b near a, for cancellation and ties */
static f80 rnd_pair(f80 a)
{
    if (rnd() % 3)
        return rnd_f80();
    f80 b = a;
    b.se ^= (rnd() & 1) ? 0x8000 : 0;
    b.se = (uint16_t)((b.se & 0x8000) | ((b.se + (unsigned)(rnd() % 3) - 1) & 0x7FFF));
    b.sig ^= rnd() >> (rnd() % 63 + 1) >> (rnd() % 2 ? 0 : 20);
    b.sig |= (a.se & 0x7FFF) ? FPU_J : 0;
    return b;
}

static uint16_t rnd_fcw(void)
{
    static const uint16_t pcs[] = {FPU_PC_24, FPU_PC_53, FPU_PC_64, FPU_PC_64};
    uint16_t masks = (rnd() % 4) ? 0x3F : (uint16_t)(rnd() & 0x3F);
    return (uint16_t)(0x40 | masks | pcs[rnd() % 4] << 8 | (rnd() % 4) << 10);
}

/* ---- the host side -------------------------------------------------------------- */

struct host {
    uint16_t fsw;
    uint8_t img[108]; /* FNSAVE image: ST(0) at byte 28 */
    uint8_t mem[10];
};

enum op { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_RNDINT, OP_COUNT_ };
static const char *const op_names[] = {"add", "sub", "mul", "div", "sqrt", "rndint"};

#define HOST_RUN(insn)                                                                  \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\tfldt %[b]\n\tfldt %[a]\n\t" insn         \
                     "\n\tfnstsw %[sw]\n\tfnsave %[img]\n"                              \
                     : [sw] "=m"(h->fsw), [img] "=m"(h->img), [mem] "+m"(h->mem)        \
                     : [cw] "m"(fcw), [a] "m"(ma), [b] "m"(mb)                          \
                     : "memory")

/* ST(0) = a op ST(1) = b, then the stores to memory. */
static void host_arith(enum op op, uint16_t fcw, f80 a, f80 b, struct host *h)
{
    uint8_t ma[10], mb[10];
    put80(ma, a);
    put80(mb, b);
    switch (op) {
    case OP_ADD: HOST_RUN(".byte 0xD8, 0xC1"); break;
    case OP_SUB: HOST_RUN(".byte 0xD8, 0xE1"); break;
    case OP_MUL: HOST_RUN(".byte 0xD8, 0xC9"); break;
    case OP_DIV: HOST_RUN(".byte 0xD8, 0xF1"); break;
    case OP_SQRT: HOST_RUN("fsqrt"); break;
    default: HOST_RUN("frndint"); break;
    }
}

enum conv { CV_ST32, CV_ST64, CV_IST16, CV_IST32, CV_IST64, CV_BST, CV_LD32, CV_LD64,
            CV_COM, CV_UCOM, CV_COUNT_ };
static const char *const conv_names[] = {"fst m32", "fst m64", "fist m16", "fist m32",
                                         "fistp m64", "fbstp", "fld m32", "fld m64",
                                         "fcom", "fucom"};

static void host_conv(enum conv cv, uint16_t fcw, f80 a, f80 b, struct host *h)
{
    uint8_t ma[10], mb[10];
    put80(ma, a);
    put80(mb, b);
    switch (cv) {
    case CV_ST32: HOST_RUN("fsts %[mem]"); break;
    case CV_ST64: HOST_RUN("fstl %[mem]"); break;
    case CV_IST16: HOST_RUN("fists %[mem]"); break;
    case CV_IST32: HOST_RUN("fistl %[mem]"); break;
    case CV_IST64: HOST_RUN("fistpll %[mem]"); break;
    case CV_BST: HOST_RUN("fbstp %[mem]"); break;
    case CV_LD32: HOST_RUN("flds %[mem]"); break;
    case CV_LD64: HOST_RUN("fldl %[mem]"); break;
    case CV_COM: HOST_RUN("fcom %%st(1)"); break;
    default: HOST_RUN("fucom %%st(1)"); break;
    }
}

/* ---- the model side --------------------------------------------------------------- */

static uint16_t model_fsw(const struct fpu_env *e, uint16_t extra)
{
    uint16_t fsw = (uint16_t)(e->flags | extra);
    if (fsw & ~e->fcw & FPU_EXC_MASK)
        fsw |= FPU_ES | FPU_B;
    return fsw;
}

static int failures;

static void report(const char *what, uint16_t fcw, f80 a, f80 b, uint16_t want_sw,
                   uint16_t got_sw, const char *want, const char *got)
{
    if (++failures > 12)
        return;
    fprintf(stderr,
            "%s fcw=%04x a=%04x:%016llx b=%04x:%016llx: host fsw=%04x %s, model fsw=%04x %s\n",
            what, fcw, a.se, (unsigned long long)a.sig, b.se, (unsigned long long)b.sig, want_sw,
            want, got_sw, got);
}

#define ARITH_SW_MASK (FPU_EXC_MASK | FPU_ES | FPU_B | FPU_C1)

static void check_arith(enum op op, uint16_t fcw, f80 a, f80 b)
{
    struct host h;
    memset(h.mem, 0, sizeof h.mem);
    host_arith(op, fcw, a, b, &h);
    f80 want = get80(h.img + 28);
    struct fpu_env e = fpu_env_make(fcw);
    f80 got;
    switch (op) {
    case OP_ADD: got = fpu_add(&e, a, b); break;
    case OP_SUB: got = fpu_sub(&e, a, b); break;
    case OP_MUL: got = fpu_mul(&e, a, b); break;
    case OP_DIV: got = fpu_div(&e, a, b); break;
    case OP_SQRT: got = fpu_sqrt(&e, a); break;
    default: got = fpu_round_int(&e, a); break;
    }
    if (e.suppress)
        got = a;
    uint16_t msw = model_fsw(&e, 0) & ARITH_SW_MASK, hsw = h.fsw & ARITH_SW_MASK;
    if (msw != hsw || want.sig != got.sig || want.se != got.se) {
        char ws[40], gs[40];
        snprintf(ws, sizeof ws, "%04x:%016llx", want.se, (unsigned long long)want.sig);
        snprintf(gs, sizeof gs, "%04x:%016llx", got.se, (unsigned long long)got.sig);
        report(op_names[op], fcw, a, b, hsw, msw, ws, gs);
    }
}

/* Builds the memory operand of the loads from the random value. */
static void conv_input(enum conv cv, f80 a, uint8_t mem[10])
{
    memset(mem, 0xA5, 10);
    if (cv == CV_LD32 || cv == CV_LD64) {
        uint64_t v = rnd();
        if (rnd() % 4 == 0) /* special exponents */
            v = (rnd() & 1) ? v & 0x800FFFFFFFFFFFFFull : v | 0x7FF0000000000000ull;
        if (cv == CV_LD32 && rnd() % 4 == 0)
            v = (rnd() & 1) ? v & 0x807FFFFFu : v | 0x7F800000u;
        memcpy(mem, &v, 8);
    }
    (void)a;
}

static void check_conv(enum conv cv, uint16_t fcw, f80 a, f80 b)
{
    struct host h;
    conv_input(cv, a, h.mem);
    uint8_t in[10], out[10];
    memcpy(in, h.mem, 10);
    memcpy(out, h.mem, 10);
    host_conv(cv, fcw, a, b, &h);
    struct fpu_env e = fpu_env_make(fcw);
    uint16_t extra = 0, mask = ARITH_SW_MASK;
    f80 st0 = a;
    switch (cv) {
    case CV_ST32: { uint32_t v = fpu_to_f32(&e, a); if (!e.suppress) memcpy(out, &v, 4); break; }
    case CV_ST64: { uint64_t v = fpu_to_f64(&e, a); if (!e.suppress) memcpy(out, &v, 8); break; }
    case CV_IST16: case CV_IST32: case CV_IST64: {
        unsigned bits = cv == CV_IST16 ? 16 : cv == CV_IST32 ? 32 : 64;
        int64_t v = fpu_to_int(&e, a, bits, false);
        if (!e.suppress)
            memcpy(out, &v, bits / 8);
        break;
    }
    case CV_BST: { uint8_t bcd[10]; fpu_to_bcd(&e, a, bcd); if (!e.suppress) memcpy(out, bcd, 10); break; }
    case CV_LD32: case CV_LD64: {
        uint32_t v32; uint64_t v64;
        memcpy(&v32, in, 4);
        memcpy(&v64, in, 8);
        f80 v = cv == CV_LD32 ? fpu_from_f32(&e, v32) : fpu_from_f64(&e, v64);
        if (!e.suppress)
            st0 = v;
        break;
    }
    default: {
        enum fpu_cmp c = fpu_compare(&e, a, b, cv == CV_UCOM);
        static const uint16_t cc[] = {FPU_C0, FPU_C3, 0, FPU_C0 | FPU_C2 | FPU_C3};
        extra = cc[c];
        mask |= FPU_C0 | FPU_C2 | FPU_C3;
        break;
    }
    }
    uint16_t msw = model_fsw(&e, extra) & mask, hsw = h.fsw & mask;
    bool ld = cv == CV_LD32 || cv == CV_LD64;
    f80 hst0 = get80(h.img + 28);
    bool ok = msw == hsw && !memcmp(out, h.mem, 10);
    if (ld && !e.suppress)
        ok = ok && hst0.sig == st0.sig && hst0.se == st0.se;
    if (!ok) {
        char ws[64], gs[64];
        if (ld) {
            snprintf(ws, sizeof ws, "in=%016llx st0=%04x:%016llx",
                     (unsigned long long)get80(in).sig, hst0.se, (unsigned long long)hst0.sig);
            snprintf(gs, sizeof gs, "st0=%04x:%016llx", st0.se, (unsigned long long)st0.sig);
        } else {
            snprintf(ws, sizeof ws, "mem=%04x:%016llx", get80(h.mem).se,
                     (unsigned long long)get80(h.mem).sig);
            snprintf(gs, sizeof gs, "mem=%04x:%016llx", get80(out).se,
                     (unsigned long long)get80(out).sig);
        }
        report(conv_names[cv], fcw, a, b, hsw, msw, ws, gs);
    }
}

#ifndef RANDOM_CASES
#define RANDOM_CASES 20000
#endif

Test(fpu_sf, arith_specials)
{
    failures = 0;
    for (unsigned op = 0; op < OP_COUNT_; op++)
        for (unsigned i = 0; i < N_SPECIALS; i++)
            for (unsigned j = 0; j < N_SPECIALS; j++)
                for (unsigned rc = 0; rc < 4; rc++)
                    for (unsigned masks = 0; masks < 2; masks++)
                        check_arith(op, (uint16_t)(0x340 | rc << 10 | (masks ? 0x3F : 0)),
                                    specials[i], specials[j]);
    cr_assert_eq(failures, 0, "%d mismatches", failures);
}

Test(fpu_sf, arith_random)
{
    failures = 0;
    for (unsigned op = 0; op < OP_COUNT_; op++)
        for (unsigned n = 0; n < RANDOM_CASES; n++) {
            f80 a = rnd_f80();
            check_arith(op, rnd_fcw(), a, rnd_pair(a));
        }
    cr_assert_eq(failures, 0, "%d mismatches", failures);
}

Test(fpu_sf, conversions_specials)
{
    failures = 0;
    for (unsigned cv = 0; cv < CV_COUNT_; cv++)
        for (unsigned i = 0; i < N_SPECIALS; i++)
            for (unsigned j = 0; j < N_SPECIALS; j++)
                for (unsigned rc = 0; rc < 4; rc++)
                    check_conv(cv, (uint16_t)(0x37F | rc << 10), specials[i], specials[j]);
    cr_assert_eq(failures, 0, "%d mismatches", failures);
}

Test(fpu_sf, conversions_random)
{
    failures = 0;
    for (unsigned cv = 0; cv < CV_COUNT_; cv++)
        for (unsigned n = 0; n < RANDOM_CASES; n++) {
            f80 a = rnd_f80();
            if (cv >= CV_IST16 && cv <= CV_BST && rnd() % 2) /* integer-sized values */
                a.se = (uint16_t)((a.se & 0x8000) | (0x3FFF + rnd() % 66));
            check_conv(cv, rnd_fcw(), a, rnd_pair(a));
        }
    cr_assert_eq(failures, 0, "%d mismatches", failures);
}

Test(fpu_sf, bcd_load)
{
    for (unsigned n = 0; n < 2000; n++) {
        uint8_t bcd[10];
        uint64_t v = 0;
        for (int i = 8; i >= 0; i--) {
            unsigned hi = (unsigned)(rnd() % 10), lo = (unsigned)(rnd() % 10);
            bcd[i] = (uint8_t)(hi << 4 | lo);
            v = v * 100 + hi * 10 + lo;
        }
        bcd[9] = (rnd() & 1) ? 0x80 : 0;
        uint8_t img[108];
        __asm__ volatile("fninit\n\tfbld %[m]\n\tfnsave %[img]\n"
                         : [img] "=m"(img)
                         : [m] "m"(bcd)
                         : "memory");
        f80 want = get80(img + 28), got = fpu_from_bcd(bcd);
        cr_assert(want.sig == got.sig && want.se == got.se, "fbld %llu", (unsigned long long)v);
    }
}

#else

Test(fpu_sf, not_x86, .disabled = true) {}

#endif
