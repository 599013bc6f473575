/* Portable 80-bit extended-precision arithmetic with the x87's exact
 * semantics (SDM Vol. 1 chapters 4 and 8): rounding control, precision
 * control, denormals, pseudo-denormals and the unsupported encodings,
 * QNaN/SNaN propagation, the "real indefinite", every exception flag and
 * C1's "rounded up" meaning. Host floating point is never used, so the
 * interpreter gives the same bits on any host; the x87 of an x86-64 host
 * is the oracle of tests/unit/test_fpu_sf.c.
 *
 * Uses unsigned __int128 (GCC and Clang on every 64-bit host). */
#ifndef POPEK_FPU_SF_H
#define POPEK_FPU_SF_H

#include <stdbool.h>
#include <stdint.h>

/* An x87 register image: 64-bit significand with its explicit integer
 * bit J (bit 63), and sign << 15 | biased exponent (SDM Vol. 1 4.2.2). */
struct fpu_f80 {
    uint64_t sig;
    uint16_t se;
};

#define FPU_EXP_BIAS 16383
#define FPU_EXP_MAX 0x7FFF
#define FPU_J (1ull << 63)
#define FPU_QUIET (1ull << 62)

/* Status-word bits the arithmetic produces (SDM Vol. 1 8.1.3). */
enum {
    FPU_IE = 1u << 0,
    FPU_DE = 1u << 1,
    FPU_ZE = 1u << 2,
    FPU_OE = 1u << 3,
    FPU_UE = 1u << 4,
    FPU_PE = 1u << 5,
    FPU_SF = 1u << 6,
    FPU_ES = 1u << 7,
    FPU_C0 = 1u << 8,
    FPU_C1 = 1u << 9,
    FPU_C2 = 1u << 10,
    FPU_C3 = 1u << 14,
    FPU_B = 1u << 15,
};
#define FPU_EXC_MASK 0x3Fu
_Static_assert(FPU_C3 == 0x4000 && FPU_ES == 0x80, "FSW bit positions (Vol. 1 Fig. 8-4)");

/* Control-word fields (SDM Vol. 1 8.1.5). */
enum { FPU_RC_NEAREST = 0, FPU_RC_DOWN = 1, FPU_RC_UP = 2, FPU_RC_ZERO = 3 };
enum { FPU_PC_24 = 0, FPU_PC_53 = 2, FPU_PC_64 = 3 };

/* One operation's environment and outcome. fcw is the guest's control
 * word (masks, PC, RC); flags collects FPU_IE..FPU_PE and FPU_C1 (round
 * up). When the operation finds an unmasked invalid, zero-divide or
 * denormal exception, `suppress` is set: the SDM says the destination is
 * then left unchanged (Vol. 1 8.7). */
struct fpu_env {
    uint16_t fcw;
    uint16_t flags;
    bool suppress;
    bool denormal_src; /* the second operand came from a denormal m32/m64
                        * (widened exactly, so no longer denormal itself) */
};

static inline struct fpu_env fpu_env_make(uint16_t fcw)
{
    return (struct fpu_env){.fcw = fcw};
}

/* ---- classification ------------------------------------------------------- */
enum fpu_class {
    FPU_ZERO,
    FPU_DENORMAL, /* exponent 0, significand non-zero (pseudo-denormals too) */
    FPU_NORMAL,
    FPU_INF,
    FPU_QNAN,
    FPU_SNAN,
    FPU_UNSUPPORTED, /* unnormals, pseudo-NaNs, pseudo-infinities (Vol. 1 8.2.2) */
};
enum fpu_class fpu_classify(struct fpu_f80 a);
static inline bool fpu_sign(struct fpu_f80 a) { return a.se >> 15; }
static inline unsigned fpu_exp(struct fpu_f80 a) { return a.se & 0x7FFF; }
static inline bool fpu_is_nan(struct fpu_f80 a)
{
    enum fpu_class c = fpu_classify(a);
    return c == FPU_QNAN || c == FPU_SNAN;
}

extern const struct fpu_f80 fpu_indefinite; /* real indefinite: -QNaN C000..0 */
static inline struct fpu_f80 fpu_make(bool sign, unsigned exp, uint64_t sig)
{
    return (struct fpu_f80){.sig = sig, .se = (uint16_t)((sign ? 0x8000u : 0) | exp)};
}

/* ---- arithmetic (precision control applies, Vol. 1 8.1.5.2) ------------- */
struct fpu_f80 fpu_add(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b);
struct fpu_f80 fpu_sub(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b);
struct fpu_f80 fpu_mul(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b);
struct fpu_f80 fpu_div(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b);
struct fpu_f80 fpu_sqrt(struct fpu_env *e, struct fpu_f80 a);
/* FRNDINT: to an integer by RC, at full precision. */
struct fpu_f80 fpu_round_int(struct fpu_env *e, struct fpu_f80 a);

/* Comparison: FCOM-style (quiet = false: any NaN is IE) or FUCOM-style
 * (quiet: only SNaN is IE). */
enum fpu_cmp { FPU_CMP_LT, FPU_CMP_EQ, FPU_CMP_GT, FPU_CMP_UN };
enum fpu_cmp fpu_compare(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b, bool quiet);

/* ---- conversions (fpu_sf_conv.c) ------------------------------------------ */
struct fpu_f80 fpu_from_i64(int64_t v);
struct fpu_f80 fpu_from_f32(struct fpu_env *e, uint32_t v);
struct fpu_f80 fpu_from_f64(struct fpu_env *e, uint64_t v);
/* The same exact widening for an arithmetic operand: no exception, an
 * SNaN stays signaling, and a denormal sets e->denormal_src so that the
 * operation reports DE in its own priority order. */
struct fpu_f80 fpu_operand_f32(struct fpu_env *e, uint32_t v);
struct fpu_f80 fpu_operand_f64(struct fpu_env *e, uint64_t v);
/* To an integer of `bits` (16, 32, 64) by RC, or toward zero when
 * truncate (FISTTP); the integer indefinite (the most negative value) on
 * IE. */
int64_t fpu_to_int(struct fpu_env *e, struct fpu_f80 a, unsigned bits, bool truncate);
uint32_t fpu_to_f32(struct fpu_env *e, struct fpu_f80 a);
uint64_t fpu_to_f64(struct fpu_env *e, struct fpu_f80 a);
/* Packed BCD, 10 bytes little-endian (Vol. 1 4.7). */
struct fpu_f80 fpu_from_bcd(const uint8_t bcd[10]);
void fpu_to_bcd(struct fpu_env *e, struct fpu_f80 a, uint8_t bcd[10]);

/* ---- internals shared by the soft-float files ----------------------------- */
typedef unsigned __int128 fpu_u128;

/* An unpacked finite non-zero value: sig has its leading one at bit 127
 * (value = sig / 2^127 * 2^(exp - bias)), exp may leave the format's
 * range. */
struct fpu_unpacked {
    bool sign;
    int32_t exp;
    fpu_u128 sig;
};

/* Rounds to `bits` significant bits (24, 53, 64) within the 15-bit
 * exponent range with RC and the masks of e->fcw, raising OE/UE/PE and
 * C1 as Vol. 1 4.9.1.4-4.9.1.6 and 8.5.4-8.5.6 describe. */
struct fpu_f80 fpu_round_pack(struct fpu_env *e, struct fpu_unpacked u, unsigned bits);
/* The same for a narrower format whose infinity has biased exponent emax
 * (u.exp biased for it); the unmasked bias adjustment is for registers
 * only, so callers narrowing to memory mask OE and UE. */
struct fpu_f80 fpu_round_pack_to(struct fpu_env *e, struct fpu_unpacked u, unsigned bits,
                                 int32_t emax);
/* Precision-control bits of fcw. */
unsigned fpu_pc_bits(uint16_t fcw);
/* Unpacks a finite non-zero value (normal or denormal). */
struct fpu_unpacked fpu_unpack(struct fpu_f80 a);
/* NaN propagation for two operands (Vol. 1 Table 4-7); raises IE for an
 * SNaN. */
struct fpu_f80 fpu_propagate_nan(struct fpu_env *e, struct fpu_f80 a, struct fpu_f80 b);
/* Raises an invalid-operation exception, returns the real indefinite. */
struct fpu_f80 fpu_invalid(struct fpu_env *e);
/* Raises a flag; returns true when it is masked. */
bool fpu_raise(struct fpu_env *e, unsigned flag);

#endif
