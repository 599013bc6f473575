/* The D9 register forms that are not loads or transcendental: FNOP,
 * FCHS, FABS, FTST, FXAM, the constants FLD1..FLDZ, FDECSTP, FINCSTP,
 * FSQRT, FRNDINT (SDM Vol. 2A; opcode map Vol. 2 Table A-10). */
#include "vmm_helpers/fpu_internal.h"

/* ST(0) = f(ST(0)) for the one-operand arithmetic. */
static void unary(struct fpu_insn *x, struct fpu_f80 (*f)(struct fpu_env *, struct fpu_f80))
{
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(x->cpu, &e, 0, &under);
    struct fpu_f80 r = under ? fpu_indefinite : f(&e, a);
    if (fpu_commit(x->cpu, &e))
        fpu_st_set(x->cpu, 0, r);
}

/* FCHS, FABS: sign only, no exception but stack underflow. */
static void sign_op(struct fpu_insn *x, bool abs)
{
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(x->cpu, &e, 0, &under);
    if (!fpu_commit(x->cpu, &e))
        return;
    if (!under)
        a.se = abs ? a.se & 0x7FFF : a.se ^ 0x8000;
    fpu_st_set(x->cpu, 0, a);
}

/* FTST: ST(0) against +0.0 like FCOM. */
static void ftst(struct fpu_insn *x)
{
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(x->cpu, &e, 0, &under);
    enum fpu_cmp r = under ? FPU_CMP_UN : fpu_compare(&e, a, fpu_make(false, 0, 0), false);
    static const uint16_t cc[] = {FPU_C0, FPU_C3, 0, FPU_C0 | FPU_C2 | FPU_C3};
    e.flags &= (uint16_t)~FPU_C1;
    fpu_commit(x->cpu, &e);
    fpu_set_cc(x->cpu, FPU_C0 | FPU_C2 | FPU_C3, cc[r]);
}

/* FXAM (Vol. 2A FXAM, Table 3-xx): C1 = sign, C3 C2 C0 = class. */
static void fxam(struct fpu_insn *x)
{
    struct fpu_f80 a = fpu_st(x->cpu, 0);
    uint16_t cc;
    if (fpu_empty(x->cpu, 0)) {
        cc = FPU_C3 | FPU_C0;
    } else {
        switch (fpu_classify(a)) {
        case FPU_UNSUPPORTED: cc = 0; break;
        case FPU_QNAN: case FPU_SNAN: cc = FPU_C0; break;
        case FPU_NORMAL: cc = FPU_C2; break;
        case FPU_INF: cc = FPU_C2 | FPU_C0; break;
        case FPU_ZERO: cc = FPU_C3; break;
        default: cc = FPU_C3 | FPU_C2; break;
        }
    }
    if (fpu_sign(a))
        cc |= FPU_C1;
    fpu_set_cc(x->cpu, FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3, cc);
}

/* The constants (Vol. 1 8.3.8): the processor rounds its internal
 * 66-bit values by RC; every one of them lies strictly between two
 * 64-bit neighbours, so the truncated significand and which half the
 * remainder is in decide all four modes. */
struct konst {
    uint16_t exp;
    uint64_t sig;      /* truncated to 64 bits */
    bool upper_half;   /* the remainder exceeds half an ulp */
};
static const struct konst konsts[7] = {
    {0x3FFF, FPU_J, false},                     /* E8 FLD1 (exact) */
    {0x4000, 0xD49A784BCD1B8AFEull, false},     /* E9 FLDL2T = log2(10) */
    {0x3FFF, 0xB8AA3B295C17F0BBull, true},      /* EA FLDL2E = log2(e) */
    {0x4000, 0xC90FDAA22168C234ull, true},      /* EB FLDPI */
    {0x3FFD, 0x9A209A84FBCFF798ull, true},      /* EC FLDLG2 = log10(2) */
    {0x3FFE, 0xB17217F7D1CF79ABull, true},      /* ED FLDLN2 = ln(2) */
    {0, 0, false},                              /* EE FLDZ */
};

static void load_const(struct fpu_insn *x, unsigned k)
{
    const struct konst *c = &konsts[k];
    uint64_t sig = c->sig;
    bool inexact = k >= 1 && k <= 5;
    if (inexact) {
        unsigned rc = (x->fcw >> 10) & 3;
        if ((rc == FPU_RC_NEAREST && c->upper_half) || rc == FPU_RC_UP)
            sig++; /* none of them is all ones: no carry */
    }
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 v = fpu_make(false, c->exp, sig);
    if (fpu_overflow(x->cpu, &e))
        v = fpu_indefinite;
    if (fpu_commit(x->cpu, &e))
        fpu_push(x->cpu, v);
}

bool fpu_exec_d9(struct fpu_insn *x)
{
    if (x->esc != 1 || x->mem)
        return false;
    unsigned op = 0xC0 | x->reg << 3 | x->rm;
    switch (op) {
    case 0xD0: return true; /* FNOP */
    case 0xE0: sign_op(x, false); return true;
    case 0xE1: sign_op(x, true); return true;
    case 0xE4: ftst(x); return true;
    case 0xE5: fxam(x); return true;
    case 0xE8: case 0xE9: case 0xEA: case 0xEB: case 0xEC: case 0xED: case 0xEE:
        load_const(x, op - 0xE8);
        return true;
    case 0xF6: case 0xF7: /* FDECSTP, FINCSTP: C1 cleared */
        fpu_rotate(x->cpu, op == 0xF6 ? -1 : 1);
        fpu_set_cc(x->cpu, FPU_C1, 0);
        return true;
    case 0xFA: unary(x, fpu_sqrt); return true;
    case 0xFC: unary(x, fpu_round_int); return true;
    default:
        return op >= 0xF0 && fpu_exec_trans(x);
    }
}
