/* x87 data transfer: FLD, FST, FSTP (m32/m64/m80/ST(i)), FILD, FIST,
 * FISTP, FBLD, FBSTP, FXCH, FCMOVcc, FFREE (SDM Vol. 2A, Vol. 1 8.3.3).
 * Every store computes its value first, writes memory (which may fault
 * with the x87 state untouched) and only then updates FSW and the stack. */
#include "vmm_helpers/fpu_internal.h"

/* Loads: the value is pushed unless an unmasked exception suppresses
 * it; a full stack pushes the real indefinite (Vol. 1 8.5.1.1). The
 * overflow comes first: what the source alone would raise (DE, IE of an
 * SNaN) is not reported then, as on Intel processors (the differential
 * test found it). */
static void push_checked(struct fpu_insn *x, struct fpu_env *e, struct fpu_f80 v)
{
    struct fpu_env full = fpu_env_make(x->fcw);
    if (fpu_overflow(x->cpu, &full)) {
        *e = full;
        v = fpu_indefinite;
    }
    if (fpu_commit(x->cpu, e))
        fpu_push(x->cpu, v);
}

static void load_mem(struct fpu_insn *x, unsigned kind)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    struct fpu_f80 v;
    switch (kind) {
    case 32: v = fpu_from_f32(&e, hlp_read32(cpu, x->seg, x->off)); break;
    case 64: v = fpu_from_f64(&e, hlp_read64(cpu, x->seg, x->off)); break;
    case 80: v = fpu_read80(x, x->off); break;
    case 16 + 1: v = fpu_from_i64((int16_t)hlp_read16(cpu, x->seg, x->off)); break;
    case 32 + 1: v = fpu_from_i64((int32_t)hlp_read32(cpu, x->seg, x->off)); break;
    case 64 + 1: v = fpu_from_i64((int64_t)hlp_read64(cpu, x->seg, x->off)); break;
    default: {
        uint8_t bcd[10];
        for (unsigned k = 0; k < 10; k++)
            bcd[k] = hlp_read8(cpu, x->seg, x->off + k);
        v = fpu_from_bcd(bcd);
        break;
    }
    }
    push_checked(x, &e, v);
}

enum store_kind { ST_F32, ST_F64, ST_F80, ST_I16, ST_I32, ST_I64, ST_BCD };

/* FST/FSTP/FIST/FISTP/FBSTP to memory. An empty ST(0) stores the
 * indefinite of the format when IE is masked. */
static void store_mem(struct fpu_insn *x, enum store_kind kind, bool pop)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(cpu, &e, 0, &under);
    uint8_t buf[10];
    unsigned len;
    switch (kind) {
    case ST_F32: {
        uint32_t v = under ? 0xFFC00000u : fpu_to_f32(&e, a);
        memcpy(buf, &v, len = 4);
        break;
    }
    case ST_F64: {
        uint64_t v = under ? 0xFFF8000000000000ull : fpu_to_f64(&e, a);
        memcpy(buf, &v, len = 8);
        break;
    }
    case ST_F80:
        memcpy(buf, &a.sig, 8);
        memcpy(buf + 8, &a.se, 2);
        len = 10;
        break;
    case ST_BCD:
        fpu_to_bcd(&e, a, buf); /* the indefinite for an empty register too */
        len = 10;
        break;
    default: {
        unsigned bits = kind == ST_I16 ? 16 : kind == ST_I32 ? 32 : 64;
        int64_t v = under ? INT64_MIN : fpu_to_int(&e, a, bits, false);
        if (under)
            v >>= 64 - bits;
        memcpy(buf, &v, len = bits / 8);
        break;
    }
    }
    if (!e.suppress) {
        hlp_check_write(cpu, x->seg, x->off, len);
        for (unsigned k = 0; k < len; k++)
            hlp_write8(cpu, x->seg, x->off + k, buf[k]);
    }
    if (fpu_commit(cpu, &e) && pop)
        fpu_pop(cpu);
}

static bool exec_mem(struct fpu_insn *x)
{
    static const int8_t load_kind[8][8] = {
        /* D9 */ [1] = {32, 0, 0, 0, 0, 0, 0, 0},
        /* DB */ [3] = {32 + 1, 0, 0, 0, 0, 80, 0, 0},
        /* DD */ [5] = {64, 0, 0, 0, 0, 0, 0, 0},
        /* DF */ [7] = {16 + 1, 0, 0, 0, 1, 64 + 1, 0, 0},
    };
    int kind = load_kind[x->esc][x->reg];
    if (kind) {
        load_mem(x, (unsigned)kind);
        return true;
    }
    /* FISTTP (DB /1, DD /1, DF /1) is SSE3: #UD on the popek CPU. */
    switch (x->esc << 3 | x->reg) {
    case 1 << 3 | 2: store_mem(x, ST_F32, false); return true;
    case 1 << 3 | 3: store_mem(x, ST_F32, true); return true;
    case 3 << 3 | 2: store_mem(x, ST_I32, false); return true;
    case 3 << 3 | 3: store_mem(x, ST_I32, true); return true;
    case 3 << 3 | 7: store_mem(x, ST_F80, true); return true;
    case 5 << 3 | 2: store_mem(x, ST_F64, false); return true;
    case 5 << 3 | 3: store_mem(x, ST_F64, true); return true;
    case 7 << 3 | 2: store_mem(x, ST_I16, false); return true;
    case 7 << 3 | 3: store_mem(x, ST_I16, true); return true;
    case 7 << 3 | 6: store_mem(x, ST_BCD, true); return true;
    case 7 << 3 | 7: store_mem(x, ST_I64, true); return true;
    default: return false;
    }
}

/* FST/FSTP ST(i) (DD D0/D8, and the aliases D9 D8, DF D0/D8). */
static void store_reg(struct fpu_insn *x, bool pop)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 v = fpu_src(cpu, &e, 0, &under);
    if (!fpu_commit(cpu, &e))
        return;
    fpu_st_set(cpu, x->rm, v);
    if (pop)
        fpu_pop(cpu);
}

/* FXCH: an empty register reads as the indefinite when IE is masked
 * (Vol. 2A FXCH). */
static void exchange(struct fpu_insn *x)
{
    struct hlp_cpu *cpu = x->cpu;
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    struct fpu_f80 a = fpu_src(cpu, &e, 0, &under), b = fpu_src(cpu, &e, x->rm, &under);
    if (!fpu_commit(cpu, &e))
        return;
    fpu_st_set(cpu, 0, b);
    fpu_st_set(cpu, x->rm, a);
}

/* FCMOVcc (P6, Vol. 2A FCMOVcc): DA /0-/3 B, E, BE, U; DB the negations.
 * An empty ST(0) or ST(i) is a stack underflow whatever the condition;
 * masked, ST(0) becomes the indefinite (as Intel processors do: an empty
 * ST(0) with a valid ST(i) and the condition true gives the indefinite,
 * not ST(i); the differential test found it). */
static void cmov(struct fpu_insn *x)
{
    struct hlp_cpu *cpu = x->cpu;
    uint32_t f = cpu->eflags;
    bool cond;
    switch (x->reg) {
    case 0: cond = f & HLP_FL_CF; break;
    case 1: cond = f & HLP_FL_ZF; break;
    case 2: cond = f & (HLP_FL_CF | HLP_FL_ZF); break;
    default: cond = f & HLP_FL_PF; break;
    }
    if (x->esc == 3)
        cond = !cond;
    struct fpu_env e = fpu_env_make(x->fcw);
    bool under = false;
    fpu_src(cpu, &e, 0, &under);
    struct fpu_f80 v = fpu_src(cpu, &e, x->rm, &under);
    if (fpu_commit(cpu, &e) && (cond || under))
        fpu_st_set(cpu, 0, under ? fpu_indefinite : v);
}

bool fpu_exec_load(struct fpu_insn *x)
{
    if (x->mem)
        return exec_mem(x);
    struct fpu_env e = fpu_env_make(x->fcw);
    switch (x->esc << 3 | x->reg) {
    case 1 << 3 | 0: { /* FLD ST(i) */
        bool under = false;
        struct fpu_f80 v = fpu_src(x->cpu, &e, x->rm, &under);
        push_checked(x, &e, v);
        return true;
    }
    case 1 << 3 | 1: case 5 << 3 | 1: case 7 << 3 | 1: exchange(x); return true;
    case 2 << 3 | 0: case 2 << 3 | 1: case 2 << 3 | 2: case 2 << 3 | 3:
    case 3 << 3 | 0: case 3 << 3 | 1: case 3 << 3 | 2: case 3 << 3 | 3:
        cmov(x);
        return true;
    case 5 << 3 | 2: store_reg(x, false); return true;
    case 1 << 3 | 3: case 5 << 3 | 3: case 7 << 3 | 2: case 7 << 3 | 3:
        store_reg(x, true);
        return true;
    case 5 << 3 | 0: case 7 << 3 | 0: /* FFREE, FFREEP */
        fpu_set_tag(x->cpu, x->rm, false);
        if (x->esc == 7)
            fpu_pop(x->cpu);
        return true;
    default:
        return false;
    }
}
