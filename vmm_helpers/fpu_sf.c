/* x87 extended-precision arithmetic in portable C: the four basic
 * operations, square root, round to integer and comparison, with rounding
 * and exceptions as SDM Vol. 1 4.8-4.9 and 8.5-8.7 specify. Each operation
 * checks its operands in the priority order of Vol. 1 8.7 (invalid
 * operands, then QNaN propagation, then zero-divide and invalid
 * combinations, then denormals), computes the exact result with enough
 * guard bits, and leaves rounding to fpu_round_pack. */
#include "vmm_helpers/fpu_sf.h"

const struct fpu_f80 fpu_indefinite = {.sig = FPU_J | FPU_QUIET, .se = 0xFFFF};

enum fpu_class fpu_classify(struct fpu_f80 a)
{
    unsigned exp = fpu_exp(a);
    if (exp == 0)
        return a.sig ? FPU_DENORMAL : FPU_ZERO;
    if (!(a.sig & FPU_J))
        return FPU_UNSUPPORTED;
    if (exp != FPU_EXP_MAX)
        return FPU_NORMAL;
    if (!(a.sig << 1))
        return FPU_INF;
    return (a.sig & FPU_QUIET) ? FPU_QNAN : FPU_SNAN;
}

bool fpu_raise(struct fpu_env *e, unsigned flag)
{
    e->flags |= (uint16_t)flag;
    bool masked = (e->fcw & flag) != 0;
    if (!masked && (flag & (FPU_IE | FPU_ZE | FPU_DE)))
        e->suppress = true;
    return masked;
}

struct fpu_f80 fpu_invalid(struct fpu_env *e)
{
    fpu_raise(e, FPU_IE);
    return fpu_indefinite;
}

unsigned fpu_pc_bits(uint16_t fcw)
{
    switch ((fcw >> 8) & 3) {
    case FPU_PC_24: return 24;
    case FPU_PC_53: return 53;
    default: return 64; /* 01B is reserved; it behaves as 64 bits */
    }
}

static int clz64(uint64_t v) { return __builtin_clzll(v); }

static int clz128(fpu_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? clz64(hi) : 64 + clz64((uint64_t)v);
}

/* Right shift that keeps every lost bit as a sticky 1 in bit 0. */
static fpu_u128 shift_jam(fpu_u128 v, int32_t n)
{
    if (n <= 0)
        return v;
    if (n >= 128)
        return v != 0;
    return (v >> n) | ((v << (128 - n)) != 0);
}

struct fpu_unpacked fpu_unpack(struct fpu_f80 a)
{
    /* Denormals and pseudo-denormals have the exponent of 2^-16382
     * (Vol. 1 8.2.2). */
    int32_t exp = fpu_exp(a) ? (int32_t)fpu_exp(a) : 1;
    int shift = clz64(a.sig);
    return (struct fpu_unpacked){.sign = fpu_sign(a), .exp = exp - shift,
                                 .sig = (fpu_u128)a.sig << (64 + shift)};
}

static struct fpu_f80 quiet(struct fpu_f80 a)
{
    a.sig |= FPU_QUIET;
    return a;
}

/* Vol. 1 Table 4-7: a QNaN source wins over an SNaN; of two NaNs of the
 * same kind the one with the larger significand, then the positive one. */
struct fpu_f80 fpu_propagate_nan(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    bool an = ca == FPU_QNAN || ca == FPU_SNAN, bn = cb == FPU_QNAN || cb == FPU_SNAN;
    if (ca == FPU_SNAN || cb == FPU_SNAN)
        fpu_raise(e, FPU_IE);
    if (!bn)
        return quiet(a);
    if (!an)
        return quiet(b);
    if (ca == FPU_QNAN && cb == FPU_SNAN)
        return a;
    if (cb == FPU_QNAN && ca == FPU_SNAN)
        return b;
    uint64_t sa = a.sig | FPU_QUIET, sb = b.sig | FPU_QUIET;
    if (sa != sb)
        return quiet(sa > sb ? a : b);
    return quiet(fpu_sign(a) ? b : a);
}

/* ---- rounding ------------------------------------------------------------- */

/* Rounds the 128-bit significand to its top `bits` bits (within the high
 * 64) by RC; returns the high 64 bits, *carry when it rounded up to
 * 2^64. */
static uint64_t round_sig(struct fpu_env *e, bool sign, fpu_u128 sig, unsigned bits,
                          bool *inexact, bool *up, bool *carry)
{
    uint64_t hi = (uint64_t)(sig >> 64), lo = (uint64_t)sig;
    unsigned drop = 64 - bits;
    uint64_t mask = drop ? (1ull << drop) - 1 : 0;
    uint64_t rest = hi & mask;
    *inexact = rest || lo;
    *up = false;
    *carry = false;
    switch ((e->fcw >> 10) & 3) {
    case FPU_RC_NEAREST: {
        uint64_t half_hi = drop ? 1ull << (drop - 1) : 0, half_lo = drop ? 0 : 1ull << 63;
        bool above = rest > half_hi || (rest == half_hi && lo > half_lo);
        bool tie = rest == half_hi && lo == half_lo;
        *up = above || (tie && ((hi >> drop) & 1));
        break;
    }
    case FPU_RC_DOWN: *up = *inexact && sign; break;
    case FPU_RC_UP: *up = *inexact && !sign; break;
    default: break;
    }
    hi &= ~mask;
    if (*up) {
        uint64_t old = hi;
        hi += 1ull << drop;
        if (hi < old) {
            *carry = true;
            hi = FPU_J;
        }
    }
    return hi;
}

/* Masked overflow: infinity or the largest finite value by RC and sign
 * (Vol. 1 4.9.1.4, Table 4-8). */
static bool overflow_to_inf(uint16_t fcw, bool sign)
{
    switch ((fcw >> 10) & 3) {
    case FPU_RC_NEAREST: return true;
    case FPU_RC_DOWN: return sign;
    case FPU_RC_UP: return !sign;
    default: return false;
    }
}

/* The bias adjustment of an unmasked overflow or underflow delivered to
 * a register (Vol. 1 8.5.4, 8.5.5). */
#define FPU_BIAS_ADJUST 24576

struct fpu_f80 fpu_round_pack(struct fpu_env *e, struct fpu_unpacked u, unsigned bits)
{
    return fpu_round_pack_to(e, u, bits, FPU_EXP_MAX);
}

struct fpu_f80 fpu_round_pack_to(struct fpu_env *e, struct fpu_unpacked u, unsigned bits,
                                 int32_t emax)
{
    bool inexact, up, carry;
    int32_t exp = u.exp;
    /* Tininess is detected after rounding, as if the exponent range were
     * unbounded: a result that rounds up to the smallest normal is not
     * tiny (the normal path below gives it exponent 1). */
    bool tiny = exp < 0;
    if (exp == 0) {
        round_sig(e, u.sign, u.sig, bits, &inexact, &up, &carry);
        tiny = !carry;
    }
    if (tiny) {
        if (!(e->fcw & FPU_UE)) {
            /* Unmasked: the rounded significand with the exponent wrapped
             * into range. */
            uint64_t sig = round_sig(e, u.sign, u.sig, bits, &inexact, &up, &carry);
            exp += FPU_BIAS_ADJUST + carry;
            e->flags |= FPU_UE | (inexact ? FPU_PE : 0) | (up ? FPU_C1 : 0);
            return fpu_make(u.sign, (unsigned)exp & 0x7FFF, sig);
        }
        /* Masked: denormalize, then round at the same position (the
         * precision field stays anchored to the 64-bit significand). */
        uint64_t sig = round_sig(e, u.sign, shift_jam(u.sig, 1 - exp), bits, &inexact, &up,
                                 &carry);
        unsigned ef = (sig & FPU_J) ? 1 : 0;
        if (inexact)
            e->flags |= FPU_UE | FPU_PE | (up ? FPU_C1 : 0);
        return fpu_make(u.sign, ef, sig);
    }
    uint64_t sig = round_sig(e, u.sign, u.sig, bits, &inexact, &up, &carry);
    exp += carry;
    if (exp >= emax) {
        if (!(e->fcw & FPU_OE)) {
            e->flags |= FPU_OE | (inexact ? FPU_PE : 0) | (up ? FPU_C1 : 0);
            return fpu_make(u.sign, (unsigned)(exp - FPU_BIAS_ADJUST) & 0x7FFF, sig);
        }
        e->flags |= FPU_OE | FPU_PE;
        if (overflow_to_inf(e->fcw, u.sign)) {
            e->flags |= FPU_C1;
            return fpu_make(u.sign, (unsigned)emax, FPU_J);
        }
        return fpu_make(u.sign, (unsigned)emax - 1, ~0ull << (64 - bits));
    }
    if (inexact)
        e->flags |= FPU_PE | (up ? FPU_C1 : 0);
    return fpu_make(u.sign, (unsigned)exp, sig);
}

/* ---- operand screening ------------------------------------------------------ */

/* The checks common to two-operand arithmetic: unsupported encodings and
 * NaNs. Returns true with *r set when they decide the result. */
static bool screen2(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b, struct fpu_f80 *r)
{
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    if (ca == FPU_UNSUPPORTED || cb == FPU_UNSUPPORTED) {
        *r = fpu_invalid(e);
        return true;
    }
    if (ca == FPU_QNAN || ca == FPU_SNAN || cb == FPU_QNAN || cb == FPU_SNAN) {
        *r = fpu_propagate_nan(e, a, b);
        return true;
    }
    return false;
}

/* A denormal operand: DE; an unmasked DE suppresses the operation. */
static bool denormal_stops(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    if (fpu_classify(a) != FPU_DENORMAL && fpu_classify(b) != FPU_DENORMAL && !e->denormal_src)
        return false;
    return !fpu_raise(e, FPU_DE);
}

static struct fpu_f80 zero(bool sign) { return fpu_make(sign, 0, 0); }
static struct fpu_f80 inf(bool sign) { return fpu_make(sign, FPU_EXP_MAX, FPU_J); }

/* ---- add and subtract ----------------------------------------------------------- */

static struct fpu_f80 add_finite(struct fpu_env *e, struct fpu_unpacked x, struct fpu_unpacked y)
{
    if (x.exp < y.exp) {
        struct fpu_unpacked t = x;
        x = y;
        y = t;
    }
    /* One bit of headroom for the carry of a sum. */
    fpu_u128 sx = x.sig >> 1, sy = shift_jam(y.sig >> 1, x.exp - y.exp);
    struct fpu_unpacked r = {.sign = x.sign, .exp = x.exp + 1};
    if (x.sign == y.sign) {
        r.sig = sx + sy;
    } else if (sx >= sy) {
        r.sig = sx - sy;
    } else {
        r.sig = sy - sx;
        r.sign = y.sign;
    }
    if (!r.sig) /* exact zero difference: +0, or -0 rounding down (Vol. 1 4.8.3.4) */
        return zero(((e->fcw >> 10) & 3) == FPU_RC_DOWN);
    int shift = clz128(r.sig);
    r.sig <<= shift;
    r.exp -= shift;
    return fpu_round_pack(e, r, fpu_pc_bits(e->fcw));
}

static struct fpu_f80 add_signed(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b, bool negb)
{
    struct fpu_f80 r;
    if (screen2(e, a, b, &r))
        return r;
    bool sa = fpu_sign(a), sb = fpu_sign(b) ^ negb;
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    if (ca == FPU_INF || cb == FPU_INF) {
        if (ca == FPU_INF && cb == FPU_INF && sa != sb)
            return fpu_invalid(e);
        if (denormal_stops(e, a, b))
            return a;
        return inf(ca == FPU_INF ? sa : sb);
    }
    if (denormal_stops(e, a, b))
        return a;
    if (ca == FPU_ZERO && cb == FPU_ZERO)
        return zero(sa == sb ? sa : ((e->fcw >> 10) & 3) == FPU_RC_DOWN);
    if (ca == FPU_ZERO || cb == FPU_ZERO) {
        struct fpu_unpacked u = fpu_unpack(ca == FPU_ZERO ? b : a);
        u.sign = ca == FPU_ZERO ? sb : sa;
        return fpu_round_pack(e, u, fpu_pc_bits(e->fcw));
    }
    struct fpu_unpacked x = fpu_unpack(a), y = fpu_unpack(b);
    y.sign = sb;
    return add_finite(e, x, y);
}

struct fpu_f80 fpu_add(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    return add_signed(e, a, b, false);
}

struct fpu_f80 fpu_sub(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    return add_signed(e, a, b, true);
}

/* ---- multiply and divide ----------------------------------------------------------- */

struct fpu_f80 fpu_mul(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    struct fpu_f80 r;
    if (screen2(e, a, b, &r))
        return r;
    bool sign = fpu_sign(a) ^ fpu_sign(b);
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    if ((ca == FPU_INF && cb == FPU_ZERO) || (ca == FPU_ZERO && cb == FPU_INF))
        return fpu_invalid(e);
    if (denormal_stops(e, a, b))
        return a;
    if (ca == FPU_INF || cb == FPU_INF)
        return inf(sign);
    if (ca == FPU_ZERO || cb == FPU_ZERO)
        return zero(sign);
    struct fpu_unpacked x = fpu_unpack(a), y = fpu_unpack(b);
    struct fpu_unpacked p = {.sign = sign, .exp = x.exp + y.exp - FPU_EXP_BIAS + 1,
                             .sig = (fpu_u128)(uint64_t)(x.sig >> 64) * (uint64_t)(y.sig >> 64)};
    if (!(p.sig >> 127)) {
        p.sig <<= 1;
        p.exp--;
    }
    return fpu_round_pack(e, p, fpu_pc_bits(e->fcw));
}

struct fpu_f80 fpu_div(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b)
{
    struct fpu_f80 r;
    if (screen2(e, a, b, &r))
        return r;
    bool sign = fpu_sign(a) ^ fpu_sign(b);
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    if ((ca == FPU_INF && cb == FPU_INF) || (ca == FPU_ZERO && cb == FPU_ZERO))
        return fpu_invalid(e);
    if (cb == FPU_ZERO && ca != FPU_INF) {
        /* The zero divide outranks a denormal dividend (Vol. 1 8.7). */
        if (!fpu_raise(e, FPU_ZE))
            return a;
        return inf(sign);
    }
    if (denormal_stops(e, a, b))
        return a;
    if (ca == FPU_INF || cb == FPU_ZERO)
        return inf(sign);
    if (ca == FPU_ZERO || cb == FPU_INF)
        return zero(sign);
    struct fpu_unpacked x = fpu_unpack(a), y = fpu_unpack(b);
    uint64_t n = (uint64_t)(x.sig >> 64), d = (uint64_t)(y.sig >> 64);
    struct fpu_unpacked q = {.sign = sign, .exp = x.exp - y.exp + FPU_EXP_BIAS};
    /* A 64-bit quotient with its leading one at bit 63, then 64 more
     * quotient bits and the remainder as sticky. */
    fpu_u128 num = (fpu_u128)n << (n >= d ? 63 : 64);
    if (n < d)
        q.exp--;
    uint64_t q1 = (uint64_t)(num / d);
    fpu_u128 rem = num % d;
    fpu_u128 num2 = rem << 64;
    uint64_t q2 = (uint64_t)(num2 / d);
    q.sig = ((fpu_u128)q1 << 64) | q2 | ((num2 % d) != 0);
    return fpu_round_pack(e, q, fpu_pc_bits(e->fcw));
}

/* ---- square root -------------------------------------------------------------------- */

/* floor(sqrt(x)) of a 128-bit integer and the remainder x - root^2. */
static uint64_t isqrt128(fpu_u128 x, fpu_u128 *rem)
{
    fpu_u128 r = 0, root = 0;
    for (int i = 0; i < 64; i++) {
        r = (r << 2) | (x >> 126);
        x <<= 2;
        root <<= 1;
        fpu_u128 t = (root << 1) | 1;
        if (r >= t) {
            r -= t;
            root |= 1;
        }
    }
    *rem = r;
    return (uint64_t)root;
}

struct fpu_f80 fpu_sqrt(struct fpu_env *e, struct fpu_f80 a)
{
    enum fpu_class c = fpu_classify(a);
    if (c == FPU_UNSUPPORTED)
        return fpu_invalid(e);
    if (c == FPU_QNAN || c == FPU_SNAN)
        return fpu_propagate_nan(e, a, a);
    if (c == FPU_ZERO)
        return a;
    if (fpu_sign(a))
        return fpu_invalid(e);
    if (c == FPU_INF)
        return a;
    if (denormal_stops(e, a, a))
        return a;
    struct fpu_unpacked u = fpu_unpack(a);
    int32_t ue = u.exp - FPU_EXP_BIAS;
    int32_t half = ue >= 0 ? ue / 2 : -((1 - ue) / 2);
    bool odd = ue != 2 * half;
    uint64_t s = (uint64_t)(u.sig >> 64);
    fpu_u128 rem;
    uint64_t root = isqrt128((fpu_u128)s << (odd ? 64 : 63), &rem);
    /* (root + 1/2)^2 is never an integer, so rem > root means the
     * fraction is above one half and no tie exists. */
    uint64_t low = rem > root ? (1ull << 63) | 1 : (rem != 0);
    struct fpu_unpacked r = {.sign = false, .exp = half + FPU_EXP_BIAS,
                             .sig = ((fpu_u128)root << 64) | low};
    return fpu_round_pack(e, r, fpu_pc_bits(e->fcw));
}

/* ---- round to integer ------------------------------------------------------------------ */

struct fpu_f80 fpu_round_int(struct fpu_env *e, struct fpu_f80 a)
{
    enum fpu_class c = fpu_classify(a);
    if (c == FPU_UNSUPPORTED)
        return fpu_invalid(e);
    if (c == FPU_QNAN || c == FPU_SNAN)
        return fpu_propagate_nan(e, a, a);
    if (c == FPU_ZERO || c == FPU_INF)
        return a;
    if (denormal_stops(e, a, a))
        return a;
    struct fpu_unpacked u = fpu_unpack(a);
    int32_t ue = u.exp - FPU_EXP_BIAS;
    if (ue >= 63)
        return a;
    /* Place the binary point between the high and low 64 bits. */
    fpu_u128 fixed = shift_jam(u.sig, 63 - ue);
    bool inexact, up, carry;
    uint64_t ip = round_sig(e, u.sign, fixed, 64, &inexact, &up, &carry);
    if (inexact)
        e->flags |= FPU_PE | (up ? FPU_C1 : 0);
    (void)carry; /* |a| < 2^63: the integer part cannot carry out */
    if (!ip)
        return zero(u.sign);
    int shift = clz64(ip);
    return fpu_make(u.sign, (unsigned)(FPU_EXP_BIAS + 63 - shift), ip << shift);
}

/* ---- compare ---------------------------------------------------------------------------- */

/* Magnitude order key: pseudo-denormals weigh like exponent 1. */
static uint32_t mag_exp(struct fpu_f80 a)
{
    unsigned exp = fpu_exp(a);
    return exp ? exp : (a.sig >> 63);
}

enum fpu_cmp fpu_compare(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b, bool quiet)
{
    enum fpu_class ca = fpu_classify(a), cb = fpu_classify(b);
    if (ca == FPU_UNSUPPORTED || cb == FPU_UNSUPPORTED || ca == FPU_SNAN || cb == FPU_SNAN) {
        fpu_raise(e, FPU_IE);
        return FPU_CMP_UN;
    }
    if (ca == FPU_QNAN || cb == FPU_QNAN) {
        if (!quiet)
            fpu_raise(e, FPU_IE);
        return FPU_CMP_UN;
    }
    /* Condition codes are set even when DE (or IE) is unmasked. */
    if (ca == FPU_DENORMAL || cb == FPU_DENORMAL || e->denormal_src)
        fpu_raise(e, FPU_DE);
    if (ca == FPU_ZERO && cb == FPU_ZERO)
        return FPU_CMP_EQ;
    bool sa = fpu_sign(a), sb = fpu_sign(b);
    if (ca == FPU_ZERO)
        return sb ? FPU_CMP_GT : FPU_CMP_LT;
    if (cb == FPU_ZERO)
        return sa ? FPU_CMP_LT : FPU_CMP_GT;
    if (sa != sb)
        return sa ? FPU_CMP_LT : FPU_CMP_GT;
    uint32_t ea = mag_exp(a), eb = mag_exp(b);
    int mag = ea != eb ? (ea < eb ? -1 : 1) : a.sig != b.sig ? (a.sig < b.sig ? -1 : 1) : 0;
    if (!mag)
        return FPU_CMP_EQ;
    return (mag < 0) != sa ? FPU_CMP_LT : FPU_CMP_GT;
}
