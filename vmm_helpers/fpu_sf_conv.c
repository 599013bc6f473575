/* Conversions between the x87 register format and the memory formats:
 * integers (FILD/FIST/FISTTP), single and double precision (FLD/FST
 * m32/m64) and packed BCD (FBLD/FBSTP), SDM Vol. 1 4.2, 4.7, 8.2 and the
 * instruction pages in Vol. 2A. */
#include "vmm_helpers/fpu_sf.h"

static int clz64(uint64_t v) { return __builtin_clzll(v); }

struct fpu_f80 fpu_from_i64(int64_t v)
{
    if (!v)
        return fpu_make(false, 0, 0);
    bool sign = v < 0;
    uint64_t mag = sign ? 0 - (uint64_t)v : (uint64_t)v;
    int shift = clz64(mag);
    return fpu_make(sign, (unsigned)(FPU_EXP_BIAS + 63 - shift), mag << shift);
}

/* An IEEE binary format narrower than the register's. */
struct narrow_fmt {
    unsigned frac_bits; /* 23, 52 */
    int32_t bias;       /* 127, 1023 */
    uint32_t exp_max;   /* 255, 2047 */
};
static const struct narrow_fmt fmt32 = {23, 127, 255};
static const struct narrow_fmt fmt64 = {52, 1023, 2047};

/* FLD m32/m64: exact; an SNaN raises IE and loads quieted, a denormal
 * raises DE and loads normalized. */
static struct fpu_f80 widen(struct fpu_env *e, uint64_t v, const struct narrow_fmt *f,
                            bool operand)
{
    bool sign = (v >> (f->frac_bits + (f->frac_bits == 23 ? 8 : 11))) & 1;
    uint32_t exp = (uint32_t)(v >> f->frac_bits) & f->exp_max;
    uint64_t frac = v & ((1ull << f->frac_bits) - 1);
    unsigned up = 63 - f->frac_bits; /* fraction bits move up to below J */
    if (exp == f->exp_max) {
        if (!frac)
            return fpu_make(sign, FPU_EXP_MAX, FPU_J);
        bool snan = !(frac >> (f->frac_bits - 1));
        if (snan && !operand)
            fpu_raise(e, FPU_IE);
        return fpu_make(sign, FPU_EXP_MAX, FPU_J | (operand ? 0 : FPU_QUIET) | (frac << up));
    }
    if (exp == 0) {
        if (!frac)
            return fpu_make(sign, 0, 0);
        if (operand)
            e->denormal_src = true;
        else
            fpu_raise(e, FPU_DE);
        int shift = clz64(frac << up);
        /* Denormal: frac * 2^(1 - bias - frac_bits). */
        return fpu_make(sign, (unsigned)(FPU_EXP_BIAS - f->bias + 1 - shift), frac << (up + shift));
    }
    return fpu_make(sign, (unsigned)((int32_t)exp - f->bias + FPU_EXP_BIAS), FPU_J | (frac << up));
}

struct fpu_f80 fpu_from_f32(struct fpu_env *e, uint32_t v) { return widen(e, v, &fmt32, false); }
struct fpu_f80 fpu_from_f64(struct fpu_env *e, uint64_t v) { return widen(e, v, &fmt64, false); }
struct fpu_f80 fpu_operand_f32(struct fpu_env *e, uint32_t v) { return widen(e, v, &fmt32, true); }
struct fpu_f80 fpu_operand_f64(struct fpu_env *e, uint64_t v) { return widen(e, v, &fmt64, true); }

static uint64_t pack_narrow(const struct narrow_fmt *f, bool sign, uint32_t exp, uint64_t frac)
{
    unsigned total = f->frac_bits == 23 ? 31 : 63;
    return ((uint64_t)sign << total) | ((uint64_t)exp << f->frac_bits) | frac;
}

/* FST m32/m64 (Vol. 2A FST; Vol. 1 4.9.1.4-4.9.1.5): rounding by RC to
 * the format's precision and exponent range. An unmasked overflow or
 * underflow leaves memory unchanged (the handler sees the source in the
 * register): reported as e->suppress. */
static uint64_t narrow(struct fpu_env *e, struct fpu_f80 a, const struct narrow_fmt *f)
{
    enum fpu_class c = fpu_classify(a);
    bool sign = fpu_sign(a);
    uint64_t qnan_frac = 1ull << (f->frac_bits - 1);
    switch (c) {
    case FPU_UNSUPPORTED:
        fpu_raise(e, FPU_IE);
        return pack_narrow(f, true, f->exp_max, qnan_frac);
    case FPU_SNAN:
        fpu_raise(e, FPU_IE);
        /* fall through */
    case FPU_QNAN:
        return pack_narrow(f, sign, f->exp_max,
                           qnan_frac | ((a.sig << 1) >> (64 - f->frac_bits)));
    case FPU_INF: return pack_narrow(f, sign, f->exp_max, 0);
    case FPU_ZERO: return pack_narrow(f, sign, 0, 0);
    default: break;
    }
    struct fpu_unpacked u = fpu_unpack(a);
    /* Rebias into the narrow format; fpu_round_pack then sees the narrow
     * exponent range as if it were the register's. */
    u.exp = u.exp - FPU_EXP_BIAS + f->bias;
    struct fpu_env n = *e;
    n.flags = 0;
    n.fcw |= FPU_UE | FPU_OE; /* masked rounding; unmasked cases judged below */
    bool tiny = u.exp < 1;
    struct fpu_f80 r = fpu_round_pack_to(&n, u, f->frac_bits + 1, (int32_t)f->exp_max);
    if ((n.flags & FPU_OE) && !(e->fcw & FPU_OE)) {
        e->flags |= FPU_OE;
        e->suppress = true;
        return 0;
    }
    if (tiny && !(e->fcw & FPU_UE)) {
        e->flags |= FPU_UE;
        e->suppress = true;
        return 0;
    }
    e->flags |= n.flags;
    uint64_t frac = (r.sig >> (63 - f->frac_bits)) & ((1ull << f->frac_bits) - 1);
    return pack_narrow(f, sign, fpu_exp(r), frac);
}

uint32_t fpu_to_f32(struct fpu_env *e, struct fpu_f80 a) { return (uint32_t)narrow(e, a, &fmt32); }
uint64_t fpu_to_f64(struct fpu_env *e, struct fpu_f80 a) { return narrow(e, a, &fmt64); }

/* The integer part of |a| rounded by RC (or toward zero), with PE/C1;
 * false when it does not fit in 64 bits. */
static bool int_magnitude(struct fpu_env *e, struct fpu_f80 a, bool truncate, uint64_t *mag,
                          uint16_t *flags)
{
    struct fpu_env t = *e;
    /* FIST and FBSTP do not report denormal operands (Vol. 2A FIST). */
    t.fcw |= FPU_DE;
    if (truncate)
        t.fcw |= FPU_RC_ZERO << 10;
    t.flags = 0;
    struct fpu_f80 r = fpu_round_int(&t, a);
    *flags = t.flags & (FPU_PE | FPU_C1);
    if (fpu_classify(r) == FPU_ZERO) {
        *mag = 0;
        return true;
    }
    int32_t ue = (int32_t)fpu_exp(r) - FPU_EXP_BIAS;
    if (ue > 63)
        return false;
    *mag = r.sig >> (63 - ue);
    return true;
}

int64_t fpu_to_int(struct fpu_env *e, struct fpu_f80 a, unsigned bits, bool truncate)
{
    int64_t indefinite = (int64_t)(~0ull << (bits - 1));
    enum fpu_class c = fpu_classify(a);
    if (c == FPU_UNSUPPORTED || c == FPU_QNAN || c == FPU_SNAN || c == FPU_INF) {
        fpu_raise(e, FPU_IE);
        return indefinite;
    }
    uint64_t mag;
    uint16_t flags;
    bool sign = fpu_sign(a);
    uint64_t limit = (1ull << (bits - 1)) - (sign ? 0 : 1);
    if (!int_magnitude(e, a, truncate, &mag, &flags) || mag > limit) {
        fpu_raise(e, FPU_IE);
        return indefinite;
    }
    e->flags |= flags;
    return sign ? (int64_t)(0 - mag) : (int64_t)mag;
}

struct fpu_f80 fpu_from_bcd(const uint8_t bcd[10])
{
    uint64_t v = 0;
    for (int i = 8; i >= 0; i--)
        v = v * 100 + (uint64_t)(bcd[i] >> 4) * 10 + (bcd[i] & 0xF);
    struct fpu_f80 r = fpu_from_i64((int64_t)v);
    if (bcd[9] & 0x80)
        r.se |= 0x8000;
    return r;
}

/* FBSTP: 18 digits; out of range, NaN or infinity store the packed BCD
 * indefinite (Vol. 1 4.7, Table 4-4: FFFF C000 0000 0000 0000). */
void fpu_to_bcd(struct fpu_env *e, struct fpu_f80 a, uint8_t bcd[10])
{
    enum fpu_class c = fpu_classify(a);
    uint64_t mag = 0;
    uint16_t flags = 0;
    bool ok = c != FPU_UNSUPPORTED && c != FPU_QNAN && c != FPU_SNAN && c != FPU_INF &&
              int_magnitude(e, a, false, &mag, &flags) && mag <= 999999999999999999ull;
    if (!ok) {
        fpu_raise(e, FPU_IE);
        static const uint8_t indef[10] = {0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF};
        for (int i = 0; i < 10; i++)
            bcd[i] = indef[i];
        return;
    }
    e->flags |= flags;
    for (int i = 0; i < 9; i++) {
        unsigned lo = (unsigned)(mag % 10), hi = (unsigned)(mag / 10 % 10);
        mag /= 100;
        bcd[i] = (uint8_t)(hi << 4 | lo);
    }
    bcd[9] = fpu_sign(a) ? 0x80 : 0;
}
