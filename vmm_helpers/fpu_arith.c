/* x87 arithmetic and comparison instructions: FADD, FMUL, FSUB(R),
 * FDIV(R) with their P and I forms (opcodes D8, DA, DC, DE), FCOM,
 * FCOMP, FCOMPP, FICOM(P), FUCOM(P)(P), FCOMI(P), FUCOMI(P) (SDM Vol. 2A,
 * opcode map Vol. 2 A.5). */
#include "vmm_helpers/fpu_internal.h"

/* The /digit of D8 and of the memory forms of DA, DC and DE. */
enum arith_op { A_ADD, A_MUL, A_COM, A_COMP, A_SUB, A_SUBR, A_DIV, A_DIVR };

/* dst = dst op src, with the reversed forms computing src op dst. */
static struct fpu_f80 apply(struct fpu_env *e, unsigned op, struct fpu_f80 dst, struct fpu_f80 src)
{
    switch (op) {
    case A_ADD: return fpu_add(e, dst, src);
    case A_MUL: return fpu_mul(e, dst, src);
    case A_SUB: return fpu_sub(e, dst, src);
    case A_SUBR: return fpu_sub(e, src, dst);
    case A_DIV: return fpu_div(e, dst, src);
    default: return fpu_div(e, src, dst);
    }
}

/* The memory operand of D8 (m32fp), DA (m32int), DC (m64fp), DE (m16int),
 * read before anything changes. */
static struct fpu_f80 mem_operand(struct fpu_insn *x, struct fpu_env *e)
{
    switch (x->esc) {
    case 0: return fpu_operand_f32(e, hlp_read32(x->cpu, x->seg, x->off));
    case 2: return fpu_from_i64((int32_t)hlp_read32(x->cpu, x->seg, x->off));
    case 4: return fpu_operand_f64(e, hlp_read64(x->cpu, x->seg, x->off));
    default: return fpu_from_i64((int16_t)hlp_read16(x->cpu, x->seg, x->off));
    }
}

/* Condition codes of FCOM/FUCOM/FTST/FICOM (Vol. 2A FCOM, Table 3-xx). */
static const uint16_t cmp_cc[] = {
    [FPU_CMP_LT] = FPU_C0,
    [FPU_CMP_EQ] = FPU_C3,
    [FPU_CMP_GT] = 0,
    [FPU_CMP_UN] = FPU_C0 | FPU_C2 | FPU_C3,
};
#define CC_ALL (FPU_C0 | FPU_C1 | FPU_C2 | FPU_C3)

/* Compares ST(0) with src and sets C3/C2/C0 (C1 cleared); pops `pops`
 * times unless an unmasked exception stopped it. Stack underflow gives
 * "unordered". */
static void compare(struct fpu_insn *x, struct fpu_env *e, struct fpu_f80 src, bool src_under,
                    bool quiet, unsigned pops)
{
    struct hlp_cpu *cpu = x->cpu;
    bool under = src_under;
    struct fpu_f80 a = fpu_src(cpu, e, 0, &under);
    enum fpu_cmp r = FPU_CMP_UN;
    if (!under)
        r = fpu_compare(e, a, src, quiet);
    e->flags &= (uint16_t)~FPU_C1;
    bool ok = fpu_commit(cpu, e);
    fpu_set_cc(cpu, CC_ALL, cmp_cc[r]);
    if (ok)
        while (pops--)
            fpu_pop(cpu);
}

/* FCOMI/FUCOMI(P): the result goes to ZF, PF, CF; OF, SF, AF cleared
 * (Vol. 2A FCOMI). */
static void compare_eflags(struct fpu_insn *x, bool quiet, bool pop)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(cpu, &e, 0, &under), b = fpu_src(cpu, &e, x->rm, &under);
    enum fpu_cmp r = under ? FPU_CMP_UN : fpu_compare(&e, a, b, quiet);
    e.flags &= (uint16_t)~FPU_C1;
    bool ok = fpu_commit(cpu, &e);
    static const uint32_t fl[] = {
        [FPU_CMP_LT] = HLP_FL_CF,
        [FPU_CMP_EQ] = HLP_FL_ZF,
        [FPU_CMP_GT] = 0,
        [FPU_CMP_UN] = HLP_FL_ZF | HLP_FL_PF | HLP_FL_CF,
    };
    cpu->eflags = (cpu->eflags & ~(uint32_t)HLP_FL_ARITH) | fl[r];
    if (ok && pop)
        fpu_pop(cpu);
}

/* Register forms: D8 is ST(0) = ST(0) op ST(i); DC and DE are ST(i) =
 * ST(i) op ST(0) with SUB/SUBR and DIV/DIVR swapped in the encoding
 * (DC E0+i is FSUBR ST(i), ST(0)); DE pops. */
static void arith_reg(struct fpu_insn *x, unsigned op)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    unsigned dst = x->esc == 0 ? 0 : x->rm, src = x->esc == 0 ? x->rm : 0;
    if (x->esc != 0 && op >= A_SUB)
        op ^= 1;
    bool under = false;
    struct fpu_f80 a = fpu_src(cpu, &e, dst, &under), b = fpu_src(cpu, &e, src, &under);
    struct fpu_f80 r = under ? fpu_indefinite : apply(&e, op, a, b);
    if (!fpu_commit(cpu, &e))
        return;
    fpu_st_set(cpu, dst, r);
    if (x->esc == 6)
        fpu_pop(cpu);
}

static void arith_mem(struct fpu_insn *x, unsigned op)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 src = mem_operand(x, &e);
    if (op == A_COM || op == A_COMP) {
        compare(x, &e, src, false, false, op == A_COMP);
        return;
    }
    bool under = false;
    struct fpu_f80 a = fpu_src(cpu, &e, 0, &under);
    struct fpu_f80 r = under ? fpu_indefinite : apply(&e, op, a, src);
    if (fpu_commit(cpu, &e))
        fpu_st_set(cpu, 0, r);
}

/* FCOM/FCOMP ST(i) and their aliases (DC D0-DF, DE D0-D7), FCOMPP,
 * FUCOM(P)(P). */
static void compare_reg(struct fpu_insn *x, bool quiet, unsigned pops, unsigned i)
{
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 b = fpu_src(x->cpu, &e, i, &under);
    compare(x, &e, b, under, quiet, pops);
}

bool fpu_exec_arith(struct fpu_insn *x)
{
    unsigned op = x->reg;
    switch (x->esc) {
    case 0: case 2: case 4: case 6:
        if (x->mem) {
            arith_mem(x, op);
            return true;
        }
        if (op == A_COM || op == A_COMP) {
            if (x->esc == 2)
                break;
            if (x->esc == 6 && op == A_COMP) { /* DE D9: FCOMPP */
                if (x->rm != 1)
                    return false;
                compare_reg(x, false, 2, 1);
            } else {
                compare_reg(x, false, op == A_COMP || x->esc == 6 ? 1 : 0, x->rm);
            }
            return true;
        }
        if (x->esc == 2)
            break;
        arith_reg(x, op);
        return true;
    case 3: case 7: /* FUCOMI(P), FCOMI(P) */
        if (x->mem || (x->reg != 5 && x->reg != 6))
            return false;
        compare_eflags(x, x->reg == 5, x->esc == 7);
        return true;
    case 5: /* FUCOM, FUCOMP */
        if (x->mem || (x->reg != 4 && x->reg != 5))
            return false;
        compare_reg(x, true, x->reg == 5, x->rm);
        return true;
    default:
        return false;
    }
    /* DA register forms: FCMOVcc (fpu_ldst.c) and DA E9 FUCOMPP. */
    if (x->reg == 5 && x->rm == 1) {
        compare_reg(x, true, 2, 1);
        return true;
    }
    return false;
}
