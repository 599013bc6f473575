/* Extra-precision helpers for the x87 transcendental instructions
 * (fpu_xf.c): struct fpu_unpacked values (128-bit significand, exponent
 * biased like the register format, sig == 0 for zero) with truncating
 * arithmetic, and the series kernels fpu_trans.c builds on. */
#ifndef POPEK_FPU_XF_H
#define POPEK_FPU_XF_H

#include "vmm_helpers/fpu_sf.h"

#define XF_ZERO_EXP 0

struct fpu_unpacked xf_from_f80(struct fpu_f80 a); /* finite values */
struct fpu_unpacked xf_int(int64_t v);
bool xf_is_zero(struct fpu_unpacked a);
struct fpu_unpacked xf_mul(struct fpu_unpacked a, struct fpu_unpacked b);
struct fpu_unpacked xf_add(struct fpu_unpacked a, struct fpu_unpacked b);
struct fpu_unpacked xf_sub(struct fpu_unpacked a, struct fpu_unpacked b);
struct fpu_unpacked xf_neg(struct fpu_unpacked a);
struct fpu_unpacked xf_div(struct fpu_unpacked a, struct fpu_unpacked b);
struct fpu_unpacked xf_ldexp(struct fpu_unpacked a, int32_t n);
struct fpu_unpacked xf_sqrt(struct fpu_unpacked a);
int32_t xf_ilog2(struct fpu_unpacked a);
/* Rounds to the register format by e's RC at 64 bits (the transcendental
 * instructions ignore PC, Vol. 1 8.1.5.2), PE always set. */
struct fpu_f80 xf_round(struct fpu_env *e, struct fpu_unpacked a);

struct fpu_unpacked xf_ln2(void);
struct fpu_unpacked xf_pi(void);

struct fpu_unpacked xf_expm1(struct fpu_unpacked t);       /* |t| < 1 */
struct fpu_unpacked xf_atanh2(struct fpu_unpacked s);      /* 2 atanh(s), |s| < 0.2 */
struct fpu_unpacked xf_log_near1(struct fpu_unpacked m);   /* ln m, m in [0.7, 1.42] */
void xf_sincos_kernel(struct fpu_unpacked r, struct fpu_unpacked *s, struct fpu_unpacked *c);
struct fpu_unpacked xf_atan01(struct fpu_unpacked t);      /* 0 <= t <= 1 */

#endif
