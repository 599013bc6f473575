/* Segmented memory access (SDM Vol. 3A 3.4, 5.3, 6.15): segment limit and
 * type checks, alignment checks, then the softmmu at the current CPL; and
 * the unwinding that turns a fault found anywhere into an exception at the
 * engine's catch point. */
#include "vmm_helpers/interp_internal.h"

/* ---- unwinding -------------------------------------------------------------- */

_Noreturn void hlp_raise(struct hlp_cpu *cpu, unsigned vector, int32_t error_code)
{
    cpu->pending_vector = (uint8_t)vector;
    cpu->pending_error = error_code;
    longjmp(*cpu->fault_jmp, HLP_UNWIND_FAULT);
}

_Noreturn void hlp_stop(struct hlp_cpu *cpu) { longjmp(*cpu->fault_jmp, HLP_UNWIND_STOP); }

_Noreturn void hlp_raise_mmu(struct hlp_cpu *cpu, enum mmu_result r, const struct mmu_fault *f)
{
    if (r == MMU_FAULT) {
        /* CR2 holds the faulting linear address once the #PF is taken
         * (SDM Vol. 3A 4.7); a #GP from a PDPTE load has no CR2. */
        if (f->vector == MMU_VEC_PF)
            cpu->cr2 = f->cr2;
        hlp_raise(cpu, f->vector, f->vector == MMU_VEC_PF ? (int32_t)f->error_code : 0);
    }
    if (r == MMU_BAD_PHYS)
        mmu_report_bad_phys(&cpu->mmu, f);
    else
        mach_request_exit(cpu->m, MACH_EXIT_ENGINE_ERROR, 0,
                          "unexpected softmmu result %d at linear 0x%08x", (int)r, f->cr2);
    hlp_stop(cpu);
}

/* ---- segment checks -------------------------------------------------------------
 * The window of offsets an access may use (SDM Vol. 3A 5.3: expand-up
 * segments allow [0, limit], expand-down ones (limit, 0xFFFF or
 * 0xFFFFFFFF by the B flag]; 5.4.1 / 3.4.5.1: type rules). Real-address and
 * V86 mode check only the limit; the hidden part keeps whatever limit was
 * loaded (unreal mode). */
void hlp_seg_window(const struct hlp_cpu *cpu, unsigned seg, bool write, uint32_t *lo,
                    uint32_t *hi)
{
    const struct hlp_seg *s = &cpu->seg[seg];
    *lo = 1;
    *hi = 0;
    if (!hlp_protected(cpu) || hlp_v86(cpu)) {
        *lo = 0;
        *hi = s->limit;
        return;
    }
    unsigned type = s->attr & HLP_SEG_TYPE;
    if ((s->attr & HLP_SEG_UNUSABLE) || !(s->attr & HLP_SEG_S) || !(s->attr & HLP_SEG_P))
        return;
    if (type & 8) { /* code: never writable, readable when R */
        if (!write && (type & 2)) {
            *lo = 0;
            *hi = s->limit;
        }
        return;
    }
    if (write && !(type & 2))
        return;
    if (type & 4) { /* expand-down */
        uint32_t top = (s->attr & HLP_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
        if (s->limit < top) {
            *lo = s->limit + 1;
            *hi = top;
        }
        return;
    }
    *lo = 0;
    *hi = s->limit;
}

/* #SS(0) for the stack segment, #GP(0) for the others (SDM Vol. 3A 6.15,
 * interrupts 12 and 13). */
static _Noreturn void seg_fault(struct hlp_cpu *cpu, unsigned seg)
{
    hlp_raise(cpu, seg == HLP_SS ? HLP_VEC_SS : HLP_VEC_GP, 0);
}

_Noreturn void ix_raise_gp0(struct interp *ix) { hlp_raise(&ix->cpu, HLP_VEC_GP, 0); }

/* The segment check, then the data breakpoints (SDM Vol. 3A 17.2.4: they
 * match linear addresses) when DR7 enables any. */
static uint32_t seg_lin(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint32_t len, bool write)
{
    uint32_t lo, hi;
    hlp_seg_window(cpu, seg, write, &lo, &hi);
    if (off < lo || (uint64_t)off + (len - 1) > hi)
        seg_fault(cpu, seg);
    uint32_t lin = cpu->seg[seg].base + off;
    if (hlp_dbg_armed(cpu))
        hlp_check_data_breakpoint(cpu, lin, len, write);
    return lin;
}

uint32_t ix_lin_slow(struct interp *ix, unsigned seg, uint32_t off, unsigned len, bool write)
{
    return seg_lin(&ix->cpu, seg, off, len, write);
}

/* Alignment checking: CR0.AM, EFLAGS.AC and CPL 3, for data accesses
 * (SDM Vol. 3A 6.15 interrupt 17: words at odd addresses, doublewords at
 * addresses not a multiple of 4, quadwords not a multiple of 8). */
static bool align_check_on(const struct hlp_cpu *cpu)
{
    return (cpu->cr0 & HLP_CR0_AM) && (cpu->eflags & HLP_FL_AC) && cpu->cpl == 3;
}

static void check_align(struct hlp_cpu *cpu, uint32_t lin, unsigned len)
{
    if (len > 1 && (lin & (len - 1)) && align_check_on(cpu))
        hlp_raise(cpu, HLP_VEC_AC, 0);
}

static void lin_read(struct hlp_cpu *cpu, uint32_t lin, void *buf, unsigned len, unsigned acc)
{
    struct mmu_fault f;
    enum mmu_result r = mmu_read_n(&cpu->mmu, lin, buf, len, acc, &f);
    if (r != MMU_OK)
        hlp_raise_mmu(cpu, r, &f);
}

static void lin_write(struct hlp_cpu *cpu, uint32_t lin, const void *buf, unsigned len,
                      unsigned acc)
{
    struct mmu_fault f;
    enum mmu_result r = mmu_write_n(&cpu->mmu, lin, buf, len, acc, &f);
    if (r != MMU_OK)
        hlp_raise_mmu(cpu, r, &f);
}

/* ---- the public accessors ----------------------------------------------------------- */

static void seg_read(struct hlp_cpu *cpu, unsigned seg, uint32_t off, void *buf, unsigned len)
{
    uint32_t lin = seg_lin(cpu, seg, off, len, false);
    check_align(cpu, lin, len);
    lin_read(cpu, lin, buf, len, mmu_acc(cpu->cpl, MMU_ACC_READ));
}

static void seg_write(struct hlp_cpu *cpu, unsigned seg, uint32_t off, const void *buf,
                      unsigned len)
{
    uint32_t lin = seg_lin(cpu, seg, off, len, true);
    check_align(cpu, lin, len);
    lin_write(cpu, lin, buf, len, mmu_acc(cpu->cpl, MMU_ACC_WRITE));
}

uint8_t hlp_read8(struct hlp_cpu *cpu, unsigned seg, uint32_t off)
{
    uint8_t v;
    seg_read(cpu, seg, off, &v, 1);
    return v;
}

uint16_t hlp_read16(struct hlp_cpu *cpu, unsigned seg, uint32_t off)
{
    uint16_t v;
    seg_read(cpu, seg, off, &v, 2);
    return v;
}

uint32_t hlp_read32(struct hlp_cpu *cpu, unsigned seg, uint32_t off)
{
    uint32_t v;
    seg_read(cpu, seg, off, &v, 4);
    return v;
}

uint64_t hlp_read64(struct hlp_cpu *cpu, unsigned seg, uint32_t off)
{
    uint64_t v;
    seg_read(cpu, seg, off, &v, 8);
    return v;
}

void hlp_write8(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint8_t v)
{
    seg_write(cpu, seg, off, &v, 1);
}

void hlp_write16(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint16_t v)
{
    seg_write(cpu, seg, off, &v, 2);
}

void hlp_write32(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint32_t v)
{
    seg_write(cpu, seg, off, &v, 4);
}

void hlp_write64(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint64_t v)
{
    seg_write(cpu, seg, off, &v, 8);
}

/* The segment check, then a write-intent translation of every page the
 * range touches (marks them dirty, as the processor's locked read does). */
void hlp_check_write(struct hlp_cpu *cpu, unsigned seg, uint32_t off, uint32_t len)
{
    uint32_t lin = seg_lin(cpu, seg, off, len, true);
    check_align(cpu, lin, len);
    unsigned acc = mmu_acc(cpu->cpl, MMU_ACC_WRITE);
    uint32_t first = lin & MMU_PAGE_MASK, last = (lin + len - 1) & MMU_PAGE_MASK;
    for (uint32_t page = first;; page += MMU_PAGE_SIZE) {
        struct mmu_xlat x;
        struct mmu_fault f;
        enum mmu_result r = mmu_translate(&cpu->mmu, page == first ? lin : page, acc, &x, &f);
        if (r != MMU_OK)
            hlp_raise_mmu(cpu, r, &f);
        if (page == last)
            break;
    }
}

/* System-structure accesses are supervisor accesses whatever the CPL
 * (SDM Vol. 3A 4.6) and not subject to alignment checks (6.15). */
uint32_t hlp_read_sys32(struct hlp_cpu *cpu, uint32_t lin)
{
    uint32_t v;
    lin_read(cpu, lin, &v, 4, MMU_ACC_READ);
    return v;
}

uint64_t hlp_read_sys64(struct hlp_cpu *cpu, uint32_t lin)
{
    uint64_t v;
    lin_read(cpu, lin, &v, 8, MMU_ACC_READ);
    return v;
}

void hlp_write_sys32(struct hlp_cpu *cpu, uint32_t lin, uint32_t v)
{
    lin_write(cpu, lin, &v, 4, MMU_ACC_WRITE);
}

/* ---- stack ------------------------------------------------------------------------------
 * SS.B selects ESP or SP (SDM Vol. 3A 3.4.5, "B flag"); a 16-bit stack
 * pointer wraps within 64 KiB and the upper half of ESP is kept. */
void hlp_push(struct hlp_cpu *cpu, uint32_t v, unsigned size)
{
    uint32_t mask = (cpu->seg[HLP_SS].attr & HLP_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    uint32_t sp = (cpu->gpr[HLP_ESP] - size) & mask;
    seg_write(cpu, HLP_SS, sp, &v, size);
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~mask) | sp;
}

uint32_t hlp_pop(struct hlp_cpu *cpu, unsigned size)
{
    uint32_t mask = (cpu->seg[HLP_SS].attr & HLP_SEG_DB) ? 0xFFFFFFFFu : 0xFFFFu;
    uint32_t sp = cpu->gpr[HLP_ESP] & mask;
    uint32_t v = 0;
    seg_read(cpu, HLP_SS, sp, &v, size);
    cpu->gpr[HLP_ESP] = (cpu->gpr[HLP_ESP] & ~mask) | ((sp + size) & mask);
    return v;
}

/* ---- the interpreter's slow paths ----------------------------------------------------------- */

uint32_t ix_read_slow(struct interp *ix, uint32_t lin, unsigned len, unsigned acc)
{
    uint32_t v = 0;
    check_align(&ix->cpu, lin, len);
    lin_read(&ix->cpu, lin, &v, len, acc);
    return v;
}

void ix_write_slow(struct interp *ix, uint32_t lin, uint32_t v, unsigned len)
{
    check_align(&ix->cpu, lin, len);
    lin_write(&ix->cpu, lin, &v, len, ix->acc | MMU_ACC_WRITE);
}

void ix_read_lin(struct interp *ix, uint32_t lin, void *buf, unsigned len, unsigned acc)
{
    check_align(&ix->cpu, lin, len);
    lin_read(&ix->cpu, lin, buf, len, acc);
}

void ix_write_lin(struct interp *ix, uint32_t lin, const void *buf, unsigned len)
{
    check_align(&ix->cpu, lin, len);
    lin_write(&ix->cpu, lin, buf, len, ix->acc | MMU_ACC_WRITE);
}
