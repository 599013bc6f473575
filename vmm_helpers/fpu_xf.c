/* Working precision for the x87 transcendental instructions: values with
 * a 128-bit significand (struct fpu_unpacked), truncating arithmetic, and
 * the series kernels built on it. Every kernel is accurate to well under
 * 2^-100 relative before the final rounding to 64 bits, so results are
 * correctly rounded except in rare near-halfway cases (within 1 ulp in
 * any case); real processors differ from each other in the last bit here
 * too (docs/fpu-status.md). */
#include "vmm_helpers/fpu_xf.h"

static int clz128(fpu_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)v);
}

static struct fpu_unpacked norm(bool sign, int32_t exp, fpu_u128 sig)
{
    if (!sig)
        return (struct fpu_unpacked){.sign = sign, .exp = XF_ZERO_EXP, .sig = 0};
    int s = clz128(sig);
    return (struct fpu_unpacked){.sign = sign, .exp = exp - s, .sig = sig << s};
}

struct fpu_unpacked xf_from_f80(struct fpu_f80 a)
{
    if (fpu_classify(a) == FPU_ZERO)
        return norm(fpu_sign(a), 0, 0);
    return fpu_unpack(a);
}

struct fpu_unpacked xf_int(int64_t v)
{
    bool sign = v < 0;
    uint64_t m = sign ? 0 - (uint64_t)v : (uint64_t)v;
    return norm(sign, FPU_EXP_BIAS + 127, m);
}

bool xf_is_zero(struct fpu_unpacked a) { return a.sig == 0; }

struct fpu_unpacked xf_mul(struct fpu_unpacked a, struct fpu_unpacked b)
{
    if (!a.sig || !b.sig)
        return norm(a.sign ^ b.sign, 0, 0);
    uint64_t a1 = (uint64_t)(a.sig >> 64), a0 = (uint64_t)a.sig;
    uint64_t b1 = (uint64_t)(b.sig >> 64), b0 = (uint64_t)b.sig;
    fpu_u128 hh = (fpu_u128)a1 * b1, hl = (fpu_u128)a1 * b0, lh = (fpu_u128)a0 * b1;
    fpu_u128 ll = (fpu_u128)a0 * b0;
    fpu_u128 mid = (hl & ~0ull) + (lh & ~0ull) + (ll >> 64);
    fpu_u128 hi = hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
    /* hi is the top of a 256-bit product with its leading one at bit 255
     * or 254. */
    return norm(a.sign ^ b.sign, a.exp + b.exp - FPU_EXP_BIAS + 1, hi);
}

static fpu_u128 shift_right(fpu_u128 v, int32_t n) { return n >= 128 ? 0 : v >> n; }

struct fpu_unpacked xf_add(struct fpu_unpacked a, struct fpu_unpacked b)
{
    if (!b.sig)
        return a;
    if (!a.sig)
        return b;
    if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) {
        struct fpu_unpacked t = a;
        a = b;
        b = t;
    }
    fpu_u128 x = a.sig >> 1, y = shift_right(b.sig >> 1, a.exp - b.exp);
    fpu_u128 s = a.sign == b.sign ? x + y : x - y;
    return norm(a.sign, a.exp + 1, s);
}

struct fpu_unpacked xf_neg(struct fpu_unpacked a)
{
    a.sign = !a.sign;
    return a;
}

struct fpu_unpacked xf_sub(struct fpu_unpacked a, struct fpu_unpacked b)
{
    return xf_add(a, xf_neg(b));
}

struct fpu_unpacked xf_div(struct fpu_unpacked a, struct fpu_unpacked b)
{
    if (!a.sig)
        return norm(a.sign ^ b.sign, 0, 0);
    /* Restoring division, one quotient bit per step, from a 129-bit
     * partial remainder held as (carry, r). */
    fpu_u128 r = a.sig, q = 0;
    int32_t exp = a.exp - b.exp + FPU_EXP_BIAS;
    if (r >= b.sig) {
        r -= b.sig;
        q = 1;
    }
    for (int i = 0; i < 127; i++) {
        bool carry = r >> 127;
        r <<= 1;
        q <<= 1;
        if (carry || r >= b.sig) {
            r -= b.sig;
            q |= 1;
        }
    }
    return norm(a.sign ^ b.sign, exp, q);
}

struct fpu_unpacked xf_ldexp(struct fpu_unpacked a, int32_t n)
{
    if (a.sig)
        a.exp += n;
    return a;
}

/* Newton's step from the 64-bit square root doubles its precision. */
struct fpu_unpacked xf_sqrt(struct fpu_unpacked a)
{
    if (!a.sig)
        return a;
    struct fpu_env e = fpu_env_make(0x037F);
    struct fpu_f80 a80 = fpu_round_pack(&e, a, 64);
    struct fpu_unpacked y = fpu_unpack(fpu_sqrt(&e, a80));
    y = xf_add(y, xf_div(a, y));
    return xf_ldexp(y, -1);
}

struct fpu_f80 xf_round(struct fpu_env *e, struct fpu_unpacked a)
{
    if (!a.sig)
        return fpu_make(a.sign, 0, 0);
    a.sig |= 1; /* the truncated tail is never exactly zero */
    return fpu_round_pack(e, a, 64);
}

int32_t xf_ilog2(struct fpu_unpacked a) { return a.exp - FPU_EXP_BIAS; }

/* ---- constants ----------------------------------------------------------------- */

static struct fpu_unpacked konst(int32_t exp, uint64_t hi, uint64_t lo)
{
    return (struct fpu_unpacked){false, exp, ((fpu_u128)hi << 64) | lo};
}

struct fpu_unpacked xf_ln2(void)
{
    return konst(0x3FFE, 0xB17217F7D1CF79ABull, 0xC9E3B39803F2F6AFull);
}

struct fpu_unpacked xf_pi(void)
{
    return konst(0x4000, 0xC90FDAA22168C234ull, 0xC4C6628B80DC1CD1ull);
}

/* ---- kernels --------------------------------------------------------------------------- */

/* sum of t^k / k! for k >= 1: e^t - 1 for |t| < 1. */
struct fpu_unpacked xf_expm1(struct fpu_unpacked t)
{
    struct fpu_unpacked sum = t, term = t;
    for (int k = 2; k < 40; k++) {
        term = xf_div(xf_mul(term, t), xf_int(k));
        if (!term.sig || term.exp < sum.exp - 130)
            break;
        sum = xf_add(sum, term);
    }
    return sum;
}

/* 2 atanh(s) = ln((1 + s) / (1 - s)) for |s| < 0.2. */
struct fpu_unpacked xf_atanh2(struct fpu_unpacked s)
{
    struct fpu_unpacked s2 = xf_mul(s, s), term = s, sum = s;
    for (int k = 3; k < 140; k += 2) {
        term = xf_mul(term, s2);
        struct fpu_unpacked t = xf_div(term, xf_int(k));
        if (!t.sig || t.exp < sum.exp - 130)
            break;
        sum = xf_add(sum, t);
    }
    return xf_ldexp(sum, 1);
}

/* ln(m) for m in [1/sqrt2, sqrt2]: s = (m - 1) / (m + 1). */
struct fpu_unpacked xf_log_near1(struct fpu_unpacked m)
{
    struct fpu_unpacked one = xf_int(1);
    return xf_atanh2(xf_div(xf_sub(m, one), xf_add(m, one)));
}

/* sin and cos of |r| <= pi/4 by their Taylor series. */
void xf_sincos_kernel(struct fpu_unpacked r, struct fpu_unpacked *s, struct fpu_unpacked *c)
{
    struct fpu_unpacked r2 = xf_mul(r, r);
    struct fpu_unpacked ts = r, tc = xf_int(1);
    *s = ts;
    *c = tc;
    for (int k = 1; k < 30; k++) {
        ts = xf_neg(xf_div(xf_mul(ts, r2), xf_int((2 * k) * (2 * k + 1))));
        tc = xf_neg(xf_div(xf_mul(tc, r2), xf_int((2 * k - 1) * (2 * k))));
        if (!ts.sig || ts.exp < s->exp - 130)
            break;
        *s = xf_add(*s, ts);
        *c = xf_add(*c, tc);
    }
}

/* atan(t) for 0 <= t <= 1: three argument halvings, atan(t) =
 * 2 atan(t / (1 + sqrt(1 + t^2))), then the series. */
struct fpu_unpacked xf_atan01(struct fpu_unpacked t)
{
    struct fpu_unpacked one = xf_int(1);
    for (int i = 0; i < 3; i++)
        t = xf_div(t, xf_add(one, xf_sqrt(xf_add(one, xf_mul(t, t)))));
    struct fpu_unpacked t2 = xf_mul(t, t), term = t, sum = t;
    for (int k = 3; k < 120; k += 2) {
        term = xf_neg(xf_mul(term, t2));
        struct fpu_unpacked x = xf_div(term, xf_int(k));
        if (!x.sig || x.exp < sum.exp - 130)
            break;
        sum = xf_add(sum, x);
    }
    return xf_ldexp(sum, 3);
}
