/* D9 F0-FF: F2XM1, FYL2X, FPTAN, FPATAN, FXTRACT, FPREM1, FPREM,
 * FYL2XP1, FSINCOS, FSCALE, FSIN, FCOS (SDM Vol. 2A). FPREM, FPREM1,
 * FSCALE and FXTRACT are exact; the transcendental ones are computed in
 * 128-bit working precision (fpu_xf.c) and rounded once. */
#include "vmm_helpers/fpu_internal.h"
#include "vmm_helpers/fpu_xf.h"

/* Operands of the two-operand group: ST(0) and ST(1), with stack
 * underflow and NaN/unsupported screening. Returns true with *r set
 * when that decides the result. */
static bool screen(struct hlp_cpu *cpu, struct fpu_env *e, unsigned n, struct fpu_f80 *a,
                   struct fpu_f80 *b, struct fpu_f80 *r)
{
    bool under = false;
    *a = fpu_src(cpu, e, 0, &under);
    *b = n > 1 ? fpu_src(cpu, e, 1, &under) : *a;
    if (under) {
        *r = fpu_indefinite;
        return true;
    }
    enum fpu_class ca = fpu_classify(*a), cb = fpu_classify(*b);
    if (ca == FPU_UNSUPPORTED || cb == FPU_UNSUPPORTED) {
        *r = fpu_invalid(e);
        return true;
    }
    if (fpu_is_nan(*a) || fpu_is_nan(*b)) {
        *r = fpu_propagate_nan(e, *a, *b);
        return true;
    }
    return false;
}

static void raise_denormal(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    if (fpu_classify(a) == FPU_DENORMAL || fpu_classify(b) == FPU_DENORMAL)
        fpu_raise(e, FPU_DE);
}

static struct fpu_f80 inf(bool sign) { return fpu_make(sign, FPU_EXP_MAX, FPU_J); }
static struct fpu_f80 zero(bool sign) { return fpu_make(sign, 0, 0); }

/* ---- F2XM1, FYL2X, FYL2XP1 ------------------------------------------------------- */

static struct fpu_f80 f2xm1(struct fpu_env *e, struct fpu_f80 x)
{
    switch (fpu_classify(x)) {
    case FPU_ZERO: return x;
    case FPU_INF: return fpu_sign(x) ? fpu_make(true, FPU_EXP_BIAS, FPU_J) : x;
    default: break;
    }
    raise_denormal(e, x, x);
    return xf_round(e, xf_expm1(xf_mul(xf_from_f80(x), xf_ln2())));
}

/* log2(x) for finite x > 0 as e + ln(m)/ln 2, m in [1/sqrt2, sqrt2]. */
static struct fpu_unpacked log2_xf(struct fpu_unpacked x)
{
    int32_t k = xf_ilog2(x);
    struct fpu_unpacked m = xf_ldexp(x, -k);
    if ((uint64_t)(m.sig >> 64) > 0xB504F333F9DE6484ull) { /* above sqrt(2) */
        m = xf_ldexp(m, -1);
        k++;
    }
    return xf_add(xf_int(k), xf_div(xf_log_near1(m), xf_ln2()));
}

/* Vol. 2A FYL2X Table 3-xx: the special operands. */
static struct fpu_f80 fyl2x(struct fpu_env *e, struct fpu_f80 x, struct fpu_f80 y)
{
    enum fpu_class cx = fpu_classify(x), cy = fpu_classify(y);
    bool sy = fpu_sign(y);
    if (fpu_sign(x) && cx != FPU_ZERO)
        return fpu_invalid(e);
    raise_denormal(e, x, y);
    bool one = cx == FPU_NORMAL && fpu_exp(x) == FPU_EXP_BIAS && x.sig == FPU_J;
    if (cx == FPU_ZERO) {
        if (cy == FPU_ZERO)
            return fpu_invalid(e);
        if (cy != FPU_INF && !fpu_raise(e, FPU_ZE))
            return y;
        return inf(!sy);
    }
    if (cx == FPU_INF) {
        if (cy == FPU_ZERO)
            return fpu_invalid(e);
        return inf(sy);
    }
    if (one)
        return cy == FPU_INF ? fpu_invalid(e) : zero(sy);
    bool below_one = fpu_exp(x) < FPU_EXP_BIAS;
    if (cy == FPU_INF)
        return inf(sy ^ below_one);
    if (cy == FPU_ZERO)
        return zero(sy ^ below_one);
    return xf_round(e, xf_mul(xf_from_f80(y), log2_xf(xf_from_f80(x))));
}

static struct fpu_f80 fyl2xp1(struct fpu_env *e, struct fpu_f80 x, struct fpu_f80 y)
{
    enum fpu_class cx = fpu_classify(x), cy = fpu_classify(y);
    raise_denormal(e, x, y);
    if (cx == FPU_ZERO)
        return cy == FPU_INF ? fpu_invalid(e) : zero(fpu_sign(x) ^ fpu_sign(y));
    if (cy == FPU_ZERO)
        return zero(fpu_sign(x) ^ fpu_sign(y));
    if (cx == FPU_INF || cy == FPU_INF)
        return cx == FPU_INF ? fpu_invalid(e) : inf(fpu_sign(x) ^ fpu_sign(y));
    /* ln(1 + x) = 2 atanh(x / (2 + x)); the instruction is defined for
     * |x| < 1 - sqrt(2)/2. */
    struct fpu_unpacked ux = xf_from_f80(x);
    struct fpu_unpacked s = xf_div(ux, xf_add(xf_int(2), ux));
    struct fpu_unpacked l2 = xf_div(xf_atanh2(s), xf_ln2());
    return xf_round(e, xf_mul(xf_from_f80(y), l2));
}

/* ---- FSIN, FCOS, FSINCOS, FPTAN, FPATAN ---------------------------------------------- */

/* r = x - q pi/2 with q rounded to nearest; returns q mod 4. Valid for
 * |x| < 2^63 (C2 reports larger operands, Vol. 2A FSIN). */
static unsigned reduce(struct fpu_f80 x, struct fpu_unpacked *r)
{
    struct fpu_unpacked ux = xf_from_f80(x), pio2 = xf_ldexp(xf_pi(), -1);
    struct fpu_env e = fpu_env_make(0x037F);
    struct fpu_f80 qf = fpu_round_int(&e, xf_round(&e, xf_div(ux, pio2)));
    int64_t q = fpu_to_int(&e, qf, 64, false);
    *r = xf_sub(ux, xf_mul(xf_int(q), pio2));
    return (unsigned)q & 3;
}

static bool trig_out_of_range(struct fpu_f80 x)
{
    return fpu_exp(x) >= FPU_EXP_BIAS + 63;
}

/* sin and cos of a finite x with |x| < 2^63. */
static void sincos_xf(struct fpu_f80 x, struct fpu_unpacked *s, struct fpu_unpacked *c)
{
    struct fpu_unpacked r, ks, kc;
    unsigned q = reduce(x, &r);
    xf_sincos_kernel(r, &ks, &kc);
    switch (q) {
    case 0: *s = ks; *c = kc; break;
    case 1: *s = kc; *c = xf_neg(ks); break;
    case 2: *s = xf_neg(ks); *c = xf_neg(kc); break;
    default: *s = xf_neg(kc); *c = ks; break;
    }
}

enum trig { T_SIN, T_COS, T_SINCOS, T_TAN };

static void trig(struct fpu_insn *x, enum trig op)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 a, b, r = fpu_indefinite, r2 = fpu_make(false, FPU_EXP_BIAS, FPU_J);
    bool pushes = op == T_SINCOS || op == T_TAN;
    bool decided = screen(cpu, &e, 1, &a, &b, &r);
    if (decided) {
        r2 = r;
    } else if (fpu_classify(a) == FPU_INF) {
        r = r2 = fpu_invalid(&e);
    } else if (trig_out_of_range(a)) {
        fpu_set_cc(cpu, FPU_C2, FPU_C2); /* operand left as it is */
        fpu_commit(cpu, &e);
        return;
    } else if (fpu_classify(a) == FPU_ZERO) {
        r = op == T_COS ? r2 : a;
        if (op == T_SINCOS) {
            r = r2;
            r2 = a;
        }
    } else {
        raise_denormal(&e, a, a);
        struct fpu_unpacked s, c;
        sincos_xf(a, &s, &c);
        switch (op) {
        case T_SIN: r = xf_round(&e, s); break;
        case T_COS: r = xf_round(&e, c); break;
        case T_TAN: r = xf_round(&e, xf_div(s, c)); break;
        default: r = xf_round(&e, c); r2 = xf_round(&e, s); break;
        }
    }
    if (pushes && fpu_overflow(cpu, &e))
        r = r2 = fpu_indefinite;
    fpu_set_cc(cpu, FPU_C2, 0);
    if (!fpu_commit(cpu, &e))
        return;
    if (!pushes) {
        fpu_st_set(cpu, 0, r);
        return;
    }
    /* FPTAN: ST(0) = tan, push 1.0; FSINCOS: ST(0) = sin, push cos. */
    if (op == T_TAN) {
        fpu_st_set(cpu, 0, r);
        fpu_push(cpu, r2);
    } else {
        fpu_st_set(cpu, 0, r2);
        fpu_push(cpu, r);
    }
}

/* FPATAN: ST(1) = arctan(ST(1) / ST(0)) with the quadrant of (ST(0),
 * ST(1)), Vol. 2A FPATAN Table 3-xx for zeros and infinities. */
static struct fpu_f80 fpatan(struct fpu_env *e, struct fpu_f80 x, struct fpu_f80 y)
{
    raise_denormal(e, x, y);
    bool sx = fpu_sign(x), sy = fpu_sign(y);
    enum fpu_class cx = fpu_classify(x), cy = fpu_classify(y);
    struct fpu_unpacked pi = xf_pi(), a;
    if (cy == FPU_ZERO || (cx == FPU_INF && cy != FPU_INF)) {
        if (!sx)
            return zero(sy);
        a = pi;
    } else if (cx == FPU_ZERO || (cy == FPU_INF && cx != FPU_INF)) {
        a = xf_ldexp(pi, -1);
    } else if (cx == FPU_INF) { /* both infinite: pi/4 or 3pi/4 */
        a = xf_ldexp(pi, -2);
        if (sx)
            a = xf_sub(pi, a);
    } else {
        struct fpu_unpacked ux = xf_from_f80(x), uy = xf_from_f80(y);
        ux.sign = uy.sign = false;
        bool swap = uy.exp > ux.exp || (uy.exp == ux.exp && uy.sig > ux.sig);
        a = swap ? xf_sub(xf_ldexp(pi, -1), xf_atan01(xf_div(ux, uy)))
                 : xf_atan01(xf_div(uy, ux));
        if (sx)
            a = xf_sub(pi, a);
    }
    a.sign = sy;
    return xf_round(e, a);
}

/* ---- FXTRACT, FSCALE ---------------------------------------------------------------- */

static void fxtract(struct fpu_insn *x)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 a, b, expo, sig;
    if (screen(cpu, &e, 1, &a, &b, &expo)) {
        sig = expo;
    } else if (fpu_classify(a) == FPU_ZERO) {
        /* Vol. 2A FXTRACT: ZE, exponent -inf, significand the zero. */
        fpu_raise(&e, FPU_ZE);
        expo = inf(true);
        sig = a;
    } else if (fpu_classify(a) == FPU_INF) {
        expo = inf(false);
        sig = a;
    } else {
        raise_denormal(&e, a, a);
        struct fpu_unpacked u = fpu_unpack(a);
        expo = fpu_from_i64(u.exp - FPU_EXP_BIAS);
        sig = fpu_make(fpu_sign(a), FPU_EXP_BIAS, (uint64_t)(u.sig >> 64));
    }
    if (fpu_overflow(cpu, &e))
        expo = sig = fpu_indefinite;
    if (!fpu_commit(cpu, &e))
        return;
    fpu_st_set(cpu, 0, expo);
    fpu_push(cpu, sig);
}

static struct fpu_f80 fscale(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    raise_denormal(e, a, b);
    if (cb == FPU_INF) {
        bool neg = fpu_sign(b);
        if ((ca == FPU_ZERO && !neg) || (ca == FPU_INF && neg))
            return fpu_invalid(e);
        if (ca == FPU_ZERO || ca == FPU_INF)
            return a;
        return neg ? zero(fpu_sign(a)) : inf(fpu_sign(a));
    }
    if (ca == FPU_ZERO || ca == FPU_INF)
        return a;
    /* Scale factors beyond +-2^16 already leave the range of any
     * finite operand, so clamping them changes nothing. */
    struct fpu_env t = fpu_env_make(0x0F7F);
    struct fpu_f80 n = fpu_round_int(&t, b);
    int32_t k = fpu_exp(n) > FPU_EXP_BIAS + 16 ? (fpu_sign(n) ? -70000 : 70000)
                                               : (int32_t)fpu_to_int(&t, n, 32, true);
    struct fpu_unpacked u = fpu_unpack(a);
    u.exp += k;
    return fpu_round_pack(e, u, 64);
}

/* ---- FPREM, FPREM1 ------------------------------------------------------------------- */

/* Exact partial remainder (Vol. 2A FPREM/FPREM1): complete when the
 * exponent difference D < 64, with the three low quotient bits in C0,
 * C3, C1; otherwise reduced by 2^(D - N) with N = 32 + D mod 32 and C2
 * set (as Intel processors do). Without a quotient (stack underflow, a
 * NaN, an invalid operand) C1 and C2 are cleared and C0, C3 kept, as on
 * Intel processors (the differential test found it). */
static void fprem(struct fpu_insn *x, bool ieee)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 a, b, r;
    uint16_t cc = 0, which = FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3;
    if (screen(cpu, &e, 2, &a, &b, &r)) {
        which = FPU_C1 | FPU_C2;
    } else if (fpu_classify(a) == FPU_INF || fpu_classify(b) == FPU_ZERO) {
        r = fpu_invalid(&e);
        which = FPU_C1 | FPU_C2;
    } else if (fpu_classify(a) == FPU_ZERO || fpu_classify(b) == FPU_INF) {
        raise_denormal(&e, a, b);
        r = a;
    } else {
        raise_denormal(&e, a, b);
        struct fpu_unpacked ua = fpu_unpack(a), ub = fpu_unpack(b);
        uint64_t ma = (uint64_t)(ua.sig >> 64), mb = (uint64_t)(ub.sig >> 64);
        int32_t d = ua.exp - ub.exp;
        bool sign = ua.sign;
        fpu_u128 rem;
        int32_t rexp; /* remainder = rem * 2^(rexp - bias - 63) */
        if (d >= 64) {
            int32_t n = 32 + d % 32;
            fpu_u128 num = (fpu_u128)ma << n;
            rem = num % mb;
            rexp = ua.exp - n;
            cc = FPU_C2;
        } else {
            uint64_t q = 0;
            if (d >= 0) {
                fpu_u128 num = (fpu_u128)ma << d;
                q = (uint64_t)(num / mb);
                rem = num % mb;
            } else {
                rem = ma;
            }
            rexp = ub.exp + (d < 0 ? d : 0);
            /* FPREM1 rounds the quotient to nearest, even on a tie; below
             * D = -1 the quotient rounds to 0. */
            fpu_u128 div = d >= 0 ? mb : d == -1 ? (fpu_u128)mb << 1 : 0;
            if (ieee && div && (rem * 2 > div || (rem * 2 == div && (q & 1)))) {
                q++;
                rem = div - rem;
                sign = !sign;
            }
            cc = (uint16_t)(((q >> 2) & 1 ? FPU_C0 : 0) | ((q >> 1) & 1 ? FPU_C3 : 0) |
                            (q & 1 ? FPU_C1 : 0));
        }
        if (!rem) {
            r = zero(ua.sign);
        } else {
            uint64_t hi = (uint64_t)(rem >> 64);
            int s = hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)rem);
            struct fpu_unpacked u = {sign, rexp + 64 - s, rem << s};
            r = fpu_round_pack(&e, u, 64);
        }
    }
    e.flags &= (uint16_t)~FPU_C1;
    if (!fpu_commit(cpu, &e))
        return;
    fpu_set_cc(cpu, which, cc);
    fpu_st_set(cpu, 0, r);
}

/* ---- dispatch ----------------------------------------------------------------------- */

typedef struct fpu_f80 (*binary_fn)(struct fpu_env *, struct fpu_f80, struct fpu_f80);

/* ST(1) = f(ST(0), ST(1)), then pop. */
static void binary_pop(struct fpu_insn *x, binary_fn f)
{
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 a, b, r;
    if (!screen(x->cpu, &e, 2, &a, &b, &r))
        r = f(&e, a, b);
    if (!fpu_commit(x->cpu, &e))
        return;
    fpu_st_set(x->cpu, 1, r);
    fpu_pop(x->cpu);
}

bool fpu_exec_trans(struct fpu_insn *x)
{
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 a, b, r;
    switch (0xC0 | x->reg << 3 | x->rm) {
    case 0xF0:
        if (!screen(x->cpu, &e, 1, &a, &b, &r))
            r = f2xm1(&e, a);
        if (fpu_commit(x->cpu, &e))
            fpu_st_set(x->cpu, 0, r);
        return true;
    case 0xF1: binary_pop(x, fyl2x); return true;
    case 0xF2: trig(x, T_TAN); return true;
    case 0xF3: binary_pop(x, fpatan); return true;
    case 0xF4: fxtract(x); return true;
    case 0xF5: fprem(x, true); return true;
    case 0xF8: fprem(x, false); return true;
    case 0xF9: binary_pop(x, fyl2xp1); return true;
    case 0xFB: trig(x, T_SINCOS); return true;
    case 0xFD:
        if (!screen(x->cpu, &e, 2, &a, &b, &r))
            r = fscale(&e, a, b);
        if (fpu_commit(x->cpu, &e))
            fpu_st_set(x->cpu, 0, r);
        return true;
    case 0xFE: trig(x, T_SIN); return true;
    case 0xFF: trig(x, T_COS); return true;
    default: return false;
    }
}
