/* Shared by the x87/MMX/SSE executor files (fpu*.c): access to the
 * FXSAVE-format state in cpu->fx and the per-instruction context.
 *
 * The state is kept exactly as FXSAVE stores it (SDM Vol. 1 Table 10-2):
 * the data registers in stack order (ST(0) at byte 32, 16 bytes apart), the
 * abridged tag byte with one bit per *physical* register R0-R7 (1 =
 * valid), TOP in FSW bits 11-13. A push or pop therefore rotates the eight
 * register slots, so that a native FXRSTOR of cpu->fx sees the same
 * machine. */
#ifndef POPEK_FPU_INTERNAL_H
#define POPEK_FPU_INTERNAL_H

#include <string.h>

#include "vmm_helpers/fpu_sf.h"
#include "vmm_helpers/hlp_sys_internal.h"

/* FXSAVE image offsets (Vol. 1 Table 10-2, 32-bit format). */
enum {
    FX_FCW = 0,
    FX_FSW = 2,
    FX_FTW = 4,
    FX_FOP = 6,
    FX_FIP = 8,
    FX_FCS = 12,
    FX_FDP = 16,
    FX_FDS = 20,
    FX_MXCSR = 24,
    FX_MXCSR_MASK = 28,
    FX_ST0 = 32,
    FX_XMM0 = 160,
};
#define FPU_TOP_SHIFT 11
#define FPU_TOP_MASK (7u << FPU_TOP_SHIFT)
/* MXCSR bits that exist on an SSE2 CPU without DAZ (Vol. 1 10.2.3.1). */
#define FPU_MXCSR_MASK 0xFFBFu
_Static_assert(FX_XMM0 == FX_ST0 + 8 * 16, "FXSAVE layout: XMM0 follows ST7");

static inline uint16_t fpu_get16(const struct hlp_cpu *cpu, unsigned off)
{
    uint16_t v;
    memcpy(&v, cpu->fx.bytes + off, 2);
    return v;
}
static inline void fpu_put16(struct hlp_cpu *cpu, unsigned off, uint16_t v)
{
    memcpy(cpu->fx.bytes + off, &v, 2);
}
static inline uint32_t fpu_get32(const struct hlp_cpu *cpu, unsigned off)
{
    uint32_t v;
    memcpy(&v, cpu->fx.bytes + off, 4);
    return v;
}
static inline void fpu_put32(struct hlp_cpu *cpu, unsigned off, uint32_t v)
{
    memcpy(cpu->fx.bytes + off, &v, 4);
}

static inline uint16_t fpu_fcw(const struct hlp_cpu *cpu) { return fpu_get16(cpu, FX_FCW); }
static inline uint16_t fpu_fsw(const struct hlp_cpu *cpu) { return fpu_get16(cpu, FX_FSW); }
static inline unsigned fpu_top(const struct hlp_cpu *cpu)
{
    return (fpu_fsw(cpu) >> FPU_TOP_SHIFT) & 7;
}
static inline unsigned fpu_phys(const struct hlp_cpu *cpu, unsigned i)
{
    return (fpu_top(cpu) + i) & 7;
}
static inline bool fpu_empty(const struct hlp_cpu *cpu, unsigned i)
{
    return !((cpu->fx.bytes[FX_FTW] >> fpu_phys(cpu, i)) & 1);
}
static inline struct fpu_f80 fpu_st(const struct hlp_cpu *cpu, unsigned i)
{
    struct fpu_f80 v;
    memcpy(&v.sig, cpu->fx.bytes + FX_ST0 + 16 * i, 8);
    memcpy(&v.se, cpu->fx.bytes + FX_ST0 + 16 * i + 8, 2);
    return v;
}

/* ---- fpu.c: state ------------------------------------------------------------- */
/* Writes ST(i) and tags it valid. */
void fpu_st_set(struct hlp_cpu *cpu, unsigned i, struct fpu_f80 v);
void fpu_set_tag(struct hlp_cpu *cpu, unsigned i, bool valid);
/* TOP - 1 with the slots rotated, then ST(0) = v; TOP + 1 after tagging
 * ST(0) empty. */
void fpu_push(struct hlp_cpu *cpu, struct fpu_f80 v);
void fpu_pop(struct hlp_cpu *cpu);
/* FINCSTP/FDECSTP: TOP +- 1 without tag changes. */
void fpu_rotate(struct hlp_cpu *cpu, int dir);
void fpu_set_fsw(struct hlp_cpu *cpu, uint16_t fsw);
/* Sets FSW condition codes: those in `which` take the values in `v`. */
void fpu_set_cc(struct hlp_cpu *cpu, uint16_t which, uint16_t v);
/* The full two-bit tag of ST(i) from its contents (Vol. 1 8.1.7). */
unsigned fpu_full_tag_phys(const struct hlp_cpu *cpu, unsigned phys);
/* Recomputes ES and B from the exception flags and masks; raises FERR#
 * (IRQ 13) with CR0.NE clear when ES turns on. */
void fpu_update_es(struct hlp_cpu *cpu);

/* Merges an operation's flags into FSW (exception bits sticky, C1 as the
 * operation left it) and returns true when its result is to be written
 * (no unmasked IE, ZE or DE). */
bool fpu_commit(struct hlp_cpu *cpu, const struct fpu_env *e);

/* Operand fetch with stack-fault detection: an empty ST(i) raises IE and
 * SF with C1 = 0 (Vol. 1 8.5.1.1) and reads as the real indefinite;
 * *under is set. */
struct fpu_f80 fpu_src(struct hlp_cpu *cpu, struct fpu_env *e, unsigned i, bool *under);
/* Stack overflow check before a push: IE, SF, C1 = 1; returns true when
 * ST(7) is not empty. */
bool fpu_overflow(struct hlp_cpu *cpu, struct fpu_env *e);

/* ---- per-instruction context -------------------------------------------------------- */
struct fpu_insn {
    struct hlp_cpu *cpu;
    const struct dec_insn *d;
    unsigned esc;  /* opcode - D8H */
    unsigned reg;  /* ModRM.reg: the /digit */
    unsigned rm;   /* ModRM.rm: ST(i) of register forms */
    bool mem;
    unsigned seg;  /* memory operand */
    uint32_t off;
    uint16_t fcw;
};

/* m80 access through hlp_read64/hlp_write64 (faults raised there). */
struct fpu_f80 fpu_read80(struct fpu_insn *x, uint32_t off);
void fpu_write80(struct fpu_insn *x, uint32_t off, struct fpu_f80 v);

/* The instruction groups; each returns false for an encoding that is
 * not an x87 instruction (the caller raises #UD). */
bool fpu_exec_arith(struct fpu_insn *x);   /* fpu_arith.c: D8, DA, DC, DE */
bool fpu_exec_load(struct fpu_insn *x);    /* fpu_ldst.c: D9, DB, DD, DF memory/moves */
bool fpu_exec_d9(struct fpu_insn *x);      /* fpu_misc.c: D9 register forms */
bool fpu_exec_control(struct fpu_insn *x); /* fpu_env.c: FLDENV, FSAVE, ... */
bool fpu_exec_fxsr(struct hlp_cpu *cpu, const struct dec_insn *d); /* fpu_env.c */
/* Whether the instruction is one that does not update FIP/FOP/FDP (Vol. 1
 * 8.1.8). */
bool fpu_is_control(const struct fpu_insn *x);

/* fpu_trans.c: the transcendental and scaling group of D9 F0-FF. */
bool fpu_exec_trans(struct fpu_insn *x);

#endif
