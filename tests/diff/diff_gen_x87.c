/* The generator's x87 families: loads, arithmetic, stores, compares and
 * the control instructions, with memory operands in the data area (SDM
 * Vol. 2A/2B, opcode map Vol. 2 Appendix A.5). Both sides start every
 * case with FNINIT; results reach the comparison through the data area
 * (stores), EAX (FNSTSW AX) and EFLAGS (FCOMI, FUCOMI). The
 * transcendentals are not generated: the interpreter computes them more
 * precisely than the CPU (docs/fpu-status.md); nor FXAM, whose C1 shows
 * the stale sign of an empty register, nor the environment and state
 * images, which hold the instruction pointers of each side's own process
 * or guest. */
#include "diff_gen.h"

/* Interesting doubles and singles (raw bits): zeros, ones, pi, the edges
 * of the ranges, denormals, infinities, quiet and signalling NaNs. */
static const uint64_t doubles[] = {
    0x0000000000000000ull, 0x8000000000000000ull, 0x3FF0000000000000ull, 0xBFF8000000000000ull,
    0x400921FB54442D18ull, 0x7FEFFFFFFFFFFFFFull, 0x0010000000000000ull, 0x000FFFFFFFFFFFFFull,
    0x0000000000000001ull, 0x7FF0000000000000ull, 0xFFF0000000000000ull, 0x7FF8000000000000ull,
    0x7FF4000000000000ull, 0x4330000000000000ull, 0x41DFFFFFFFC00000ull, 0xC3E0000000000000ull,
    0x3FE0000000000000ull, 0x4024000000000000ull, 0x3FB999999999999Aull, 0x43E0000000000001ull,
};
static const uint32_t singles[] = {
    0x00000000, 0x80000000, 0x3F800000, 0xBFC00000, 0x40490FDB, 0x7F7FFFFF, 0x00800000,
    0x007FFFFF, 0x00000001, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7FA00000, 0x4B000000,
};

/* mov dword [m + off], v: a setup store (C7 /0). */
static int store32(struct gen *g, const struct rm *m, uint32_t off, uint32_t v)
{
    struct rm at = *m;
    at.disp += off;
    if (at.disp_len == 0 && off)
        return -1;
    if (at.disp_len == 1 && (int32_t)at.disp != (int8_t)at.disp)
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, 32, &at);
    enc_byte(&e, 0xC7);
    enc_modrm(&e, 0, &at);
    enc_imm(&e, v, 4);
    return gen_emit(g, &e);
}

/* Sometimes puts an interesting value where the operand will be read
 * from; the data area's random bits are the rest. */
static int maybe_value(struct gen *g, const struct rm *m, unsigned bytes, bool integer)
{
    if (integer || bytes == 10 || !gen_chance(g, 50))
        return 0;
    if (bytes == 4)
        return store32(g, m, 0, singles[gen_below(g, sizeof singles / sizeof singles[0])]);
    uint64_t v = doubles[gen_below(g, sizeof doubles / sizeof doubles[0])];
    if (store32(g, m, 0, (uint32_t)v) < 0)
        return -1;
    return store32(g, m, 4, (uint32_t)(v >> 32));
}

/* opcode /reg with a memory operand of `bytes` bytes. */
static int emit_mem(struct gen *g, uint8_t op, unsigned reg, unsigned bytes, bool load,
                    bool integer)
{
    struct rm m;
    if (!gen_pick_mem(g, bytes, 0, &m))
        return -1;
    if (load && maybe_value(g, &m, bytes, integer) < 0)
        return -1;
    struct enc e = {.n = 0};
    enc_prefixes(&e, 0, 32, &m);
    enc_byte(&e, op);
    enc_modrm(&e, reg, &m);
    return gen_emit(g, &e);
}

static int emit2(struct gen *g, uint8_t op, uint8_t modrm)
{
    struct enc e = {.n = 0};
    enc_byte(&e, op);
    enc_byte(&e, modrm);
    return gen_emit(g, &e);
}

static int load_one(struct gen *g);

/* Operands for what follows: values pushed (FLD, FILD, constants) so the
 * operation sees numbers more often than the empty registers of FNINIT. */
static int load_some(struct gen *g, unsigned most)
{
    for (unsigned n = gen_below(g, most + 1); n; n--)
        if (load_one(g) < 0)
            return -1;
    return 0;
}

/* The result where the comparison sees it: FST/FSTP m32/m64/m80 or
 * FISTP m32 (not always: results also stay for later instructions). */
static int store_some(struct gen *g)
{
    static const struct {
        uint8_t op, reg, bytes;
    } forms[] = {{0xDD, 3, 8}, {0xDD, 2, 8}, {0xDB, 7, 10}, {0xD9, 3, 4}, {0xDB, 3, 4}};
    if (!gen_chance(g, 75))
        return 0;
    unsigned k = gen_below(g, sizeof forms / sizeof forms[0]);
    return emit_mem(g, forms[k].op, forms[k].reg, forms[k].bytes, false, false);
}

/* FLD m32/m64/m80, FILD m16/m32/m64, FBLD, FLD ST(i), the constants. */
int gen_fam_x87_load(struct gen *g)
{
    if (load_one(g) < 0)
        return -1;
    return store_some(g);
}

static int load_one(struct gen *g)
{
    static const struct {
        uint8_t op, reg, bytes;
        bool integer;
    } forms[] = {
        {0xD9, 0, 4, false}, {0xDD, 0, 8, false}, {0xDB, 5, 10, false}, {0xDF, 0, 2, true},
        {0xDB, 0, 4, true},  {0xDF, 5, 8, true},  {0xDF, 4, 10, true},
    };
    unsigned k = gen_below(g, 9);
    if (k < 7)
        return emit_mem(g, forms[k].op, forms[k].reg, forms[k].bytes, true, forms[k].integer);
    if (k == 7)
        return emit2(g, 0xD9, (uint8_t)(0xC0 + gen_below(g, 8))); /* FLD ST(i) */
    return emit2(g, 0xD9, (uint8_t)(0xE8 + gen_below(g, 7)));     /* FLD1 .. FLDZ */
}

/* The arithmetic: D8/DC/DA/DE memory forms (FADD FMUL FCOM FCOMP FSUB
 * FSUBR FDIV FDIVR on m32, m64, m32int, m16int), the register forms and
 * their popping variants, FCHS FABS FSQRT FRNDINT FSCALE FXTRACT FPREM
 * FPREM1, FXCH, FCMOVcc, FINCSTP, FDECSTP. */
static int arith_one(struct gen *g);

int gen_fam_x87_arith(struct gen *g)
{
    if (load_some(g, 2) < 0 || arith_one(g) < 0)
        return -1;
    return store_some(g);
}

static int arith_one(struct gen *g)
{
    static const uint8_t mem_ops[] = {0xD8, 0xDC, 0xDA, 0xDE};
    static const uint8_t mem_bytes[] = {4, 8, 4, 2};
    static const uint8_t unary[] = {0xE0, 0xE1, 0xFA, 0xFC, 0xFD, 0xF4, 0xF8, 0xF5, 0xF6, 0xF7};
    unsigned i = gen_below(g, 8);
    switch (gen_below(g, 6)) {
    case 0:
    case 1: {
        unsigned k = gen_below(g, 4);
        return emit_mem(g, mem_ops[k], gen_below(g, 8), mem_bytes[k], true, k >= 2);
    }
    case 2: /* D8: ST(0), ST(i); DC and DE (popping): ST(i), ST(0), no FCOM aliases */
        switch (gen_below(g, 3)) {
        case 0: return emit2(g, 0xD8, (uint8_t)(0xC0 + gen_below(g, 64)));
        case 1: {
            static const uint8_t rows[] = {0xC0, 0xC8, 0xE0, 0xE8, 0xF0, 0xF8};
            return emit2(g, 0xDC, (uint8_t)(rows[gen_below(g, 6)] + i));
        }
        default: {
            static const uint8_t rows[] = {0xC0, 0xC8, 0xE0, 0xE8, 0xF0, 0xF8};
            return emit2(g, 0xDE, (uint8_t)(rows[gen_below(g, 6)] + i));
        }
        }
    case 3:
        return emit2(g, 0xD9, unary[gen_below(g, sizeof unary)]);
    case 4:
        return emit2(g, 0xD9, (uint8_t)(0xC8 + i)); /* FXCH */
    default: /* FCMOVcc: DA C0-DF, DB C0-DF */
        return emit2(g, gen_chance(g, 50) ? 0xDA : 0xDB, (uint8_t)(0xC0 + gen_below(g, 32)));
    }
}

/* FST/FSTP m32/m64, FSTP m80, FIST/FISTP m16/m32, FISTP m64, FBSTP,
 * FST/FSTP ST(i), FFREE. */
int gen_fam_x87_store(struct gen *g)
{
    if (load_some(g, 1) < 0)
        return -1;
    static const struct {
        uint8_t op, reg, bytes;
    } forms[] = {
        {0xD9, 2, 4}, {0xD9, 3, 4}, {0xDD, 2, 8}, {0xDD, 3, 8}, {0xDB, 7, 10}, {0xDF, 2, 2},
        {0xDF, 3, 2}, {0xDB, 2, 4}, {0xDB, 3, 4}, {0xDF, 7, 8}, {0xDF, 6, 10},
    };
    unsigned k = gen_below(g, 13);
    if (k < 11)
        return emit_mem(g, forms[k].op, forms[k].reg, forms[k].bytes, false, false);
    if (k == 11)
        return emit2(g, 0xDD, (uint8_t)((gen_chance(g, 50) ? 0xD0 : 0xD8) + gen_below(g, 8)));
    return emit2(g, 0xDD, (uint8_t)(0xC0 + gen_below(g, 8))); /* FFREE */
}

/* FCOM FCOMP FUCOM FUCOMP ST(i), FCOMPP, FUCOMPP, FTST, FICOM(P), often
 * followed by FNSTSW AX; FCOMI FCOMIP FUCOMI FUCOMIP (EFLAGS). */
int gen_fam_x87_compare(struct gen *g)
{
    unsigned i = gen_below(g, 8);
    int r;
    if (load_some(g, 2) < 0)
        return -1;
    switch (gen_below(g, 5)) {
    case 0: {
        static const uint8_t forms[][2] = {{0xD8, 0xD0}, {0xD8, 0xD8}, {0xDD, 0xE0}, {0xDD, 0xE8}};
        unsigned k = gen_below(g, 4);
        r = emit2(g, forms[k][0], (uint8_t)(forms[k][1] + i));
        break;
    }
    case 1: {
        static const uint8_t forms[][2] = {{0xDE, 0xD9}, {0xDA, 0xE9}, {0xD9, 0xE4}};
        unsigned k = gen_below(g, 3);
        r = emit2(g, forms[k][0], forms[k][1]);
        break;
    }
    case 2: {
        bool m32 = gen_chance(g, 50); /* FICOM(P) m32int (DA), m16int (DE) */
        r = emit_mem(g, m32 ? 0xDA : 0xDE, 2 + gen_below(g, 2), m32 ? 4 : 2, true, true);
        break;
    }
    default: {
        static const uint8_t forms[][2] = {{0xDB, 0xF0}, {0xDF, 0xF0}, {0xDB, 0xE8}, {0xDF, 0xE8}};
        unsigned k = gen_below(g, 4);
        return emit2(g, forms[k][0], (uint8_t)(forms[k][1] + i));
    }
    }
    if (r < 0 || !gen_chance(g, 70))
        return r;
    return emit2(g, 0xDF, 0xE0); /* FNSTSW AX */
}

/* FLDCW of a control word written just before (precision 24, 53 or 64
 * bits, any rounding, random exception masks: unmasked exceptions then
 * raise #MF at the next waiting instruction), FNSTCW, FNSTSW m16,
 * FNCLEX, FWAIT. */
int gen_fam_x87_control(struct gen *g)
{
    struct rm m;
    switch (gen_below(g, 5)) {
    case 0: {
        static const uint16_t pcs[] = {0x000, 0x200, 0x300};
        uint16_t masks = gen_chance(g, 70) ? 0x3F : (uint16_t)(gen_rand(g) & 0x3F);
        uint16_t cw = (uint16_t)(0x40 | masks | pcs[gen_below(g, 3)] | (gen_rand(g) & 0xC00));
        if (!gen_pick_mem(g, 2, 0, &m))
            return -1;
        struct enc e = {.n = 0};
        enc_prefixes(&e, 0, 16, &m); /* mov word [m], cw */
        enc_byte(&e, 0xC7);
        enc_modrm(&e, 0, &m);
        enc_imm(&e, cw, 2);
        if (gen_emit(g, &e) < 0)
            return -1;
        e.n = 0;
        enc_prefixes(&e, 0, 32, &m);
        enc_byte(&e, 0xD9);
        enc_modrm(&e, 5, &m);
        return gen_emit(g, &e);
    }
    case 1: return emit_mem(g, 0xD9, 7, 2, false, false); /* FNSTCW */
    case 2: return emit_mem(g, 0xDD, 7, 2, false, false); /* FNSTSW m16 */
    case 3: return emit2(g, 0xDB, 0xE2);                  /* FNCLEX */
    default: {
        struct enc e = {.n = 0};
        enc_byte(&e, 0x9B); /* FWAIT */
        return gen_emit(g, &e);
    }
    }
}
