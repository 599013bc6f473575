/* Hardware task switching (SDM Vol. 3A 7.3, Table 7-1): JMP and CALL to a
 * TSS or task gate, interrupts through task gates and IRET with NT set, on
 * 32-bit and 16-bit TSSs. Everything up to the commit point (the old task's
 * state saved, TR loaded) is checked with faults in the old task; the
 * segment loads after it fault in the context of the new task, as Table
 * 7-1 says. The T flag (debug trap on entry) is not implemented. */
#include "vmm_helpers/hlp_sys_internal.h"

/* The 32-bit TSS (Figure 7-2) and the 16-bit TSS (Figure 7-11): offsets of
 * the dynamic fields, in the order of hlp_cpu.gpr and the Sreg numbering. */
struct tss_layout {
    uint32_t min_limit; /* the smallest limit a valid TSS has (7.2.2) */
    unsigned size;      /* field width: 4 or 2 */
    uint32_t eip, eflags, gpr, seg, ldt;
};
static const struct tss_layout tss32 = {0x67, 4, 0x20, 0x24, 0x28, 0x48, 0x60};
static const struct tss_layout tss16 = {0x2B, 2, 0x0E, 0x10, 0x12, 0x22, 0x2A};
#define TSS32_CR3 0x1C

struct tss_image {
    uint32_t cr3, eip, eflags;
    uint32_t gpr[8];
    uint16_t seg[6];
    uint16_t ldt;
};

static uint32_t tss_read(struct hlp_cpu *cpu, uint32_t base, uint32_t off, unsigned size)
{
    uint32_t v = hlp_read_sys32(cpu, base + off);
    return size == 4 ? v : v & 0xFFFF;
}

static void tss_write(struct hlp_cpu *cpu, uint32_t base, uint32_t off, unsigned size, uint32_t v)
{
    if (size == 2)
        v = (hlp_read_sys32(cpu, base + off) & 0xFFFF0000u) | (v & 0xFFFF);
    hlp_write_sys32(cpu, base + off, v);
}

static void read_image(struct hlp_cpu *cpu, uint32_t base, const struct tss_layout *l,
                       struct tss_image *img)
{
    unsigned sz = l->size;
    img->cr3 = l == &tss32 ? hlp_read_sys32(cpu, base + TSS32_CR3) : 0;
    img->eip = tss_read(cpu, base, l->eip, sz);
    img->eflags = tss_read(cpu, base, l->eflags, sz);
    for (unsigned r = 0; r < 8; r++)
        img->gpr[r] = tss_read(cpu, base, l->gpr + r * sz, sz);
    /* The 16-bit TSS has no FS and GS (Figure 7-11): they become null. */
    for (unsigned s = 0; s < 6; s++)
        img->seg[s] = (sz == 2 && s >= HLP_FS) ? 0 : (uint16_t)tss_read(cpu, base, l->seg + s * sz, 2);
    img->ldt = (uint16_t)tss_read(cpu, base, l->ldt, 2);
}

static void save_state(struct hlp_cpu *cpu, uint32_t eip, uint32_t eflags)
{
    const struct tss_layout *l = (seg_type(&cpu->tr) & 0x8) ? &tss32 : &tss16;
    unsigned sz = l->size;
    uint32_t base = cpu->tr.base;
    tss_write(cpu, base, l->eip, sz, eip);
    tss_write(cpu, base, l->eflags, sz, eflags);
    for (unsigned r = 0; r < 8; r++)
        tss_write(cpu, base, l->gpr + r * sz, sz, cpu->gpr[r]);
    unsigned nseg = sz == 4 ? 6 : 4;
    for (unsigned s = 0; s < nseg; s++)
        tss_write(cpu, base, l->seg + s * sz, 2, cpu->seg[s].sel);
}

/* LDTR of the new task (Table 7-1: #TS(LDT selector) for a selector in
 * the LDT, beyond the GDT, not an LDT or not present). */
static void load_task_ldt(struct hlp_cpu *cpu, uint16_t sel)
{
    if (sel_null(sel)) {
        hlp_seg_null(&cpu->ldtr, sel);
        return;
    }
    if (sel & SEL_TI)
        hlp_raise(cpu, HLP_VEC_TS, sel_err(sel, 0));
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_TS, 0);
    if (desc_is_seg(d) || desc_type(d) != SYS_LDT || !desc_present(d))
        hlp_raise(cpu, HLP_VEC_TS, sel_err(sel, 0));
    hlp_seg_from_descriptor(&cpu->ldtr, sel, d);
}

static void load_task_cs(struct hlp_cpu *cpu, uint16_t sel)
{
    if (sel_null(sel))
        hlp_raise(cpu, HLP_VEC_TS, 0);
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_TS, 0);
    unsigned rpl = sel & SEL_RPL;
    if (!desc_is_code(d) || (desc_conforming(d) ? desc_dpl(d) > rpl : desc_dpl(d) != rpl))
        hlp_raise(cpu, HLP_VEC_TS, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    hlp_set_accessed(cpu, sel, d);
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, sel, d | (1ull << 40));
    hlp_set_cs(cpu, &cs, rpl);
}

/* Step 12 of 7.3: the new task's segment registers. The selectors go in
 * first, so that a fault on one of them is taken with the new task's
 * selectors visible, as the processor does. */
static void load_task_segments(struct hlp_cpu *cpu, const struct tss_image *img)
{
    for (unsigned s = 0; s < 6; s++)
        if (s != HLP_CS)
            hlp_seg_null(&cpu->seg[s], img->seg[s]);
    cpu->seg[HLP_CS].sel = img->seg[HLP_CS];
    load_task_ldt(cpu, img->ldt);
    if (cpu->eflags & HLP_FL_VM) {
        struct hlp_seg cs = cpu->seg[HLP_CS];
        hlp_seg_real(cpu, &cs, HLP_CS, img->seg[HLP_CS]);
        hlp_set_cs(cpu, &cs, 3);
        for (unsigned s = 0; s < 6; s++)
            if (s != HLP_CS)
                hlp_seg_real(cpu, &cpu->seg[s], s, img->seg[s]);
        return;
    }
    load_task_cs(cpu, img->seg[HLP_CS]);
    cpu->seg[HLP_SS] = hlp_check_stack_seg(cpu, img->seg[HLP_SS], cpu->cpl, HLP_VEC_TS, 0);
    static const unsigned data[] = {HLP_DS, HLP_ES, HLP_FS, HLP_GS};
    for (unsigned i = 0; i < 4; i++)
        cpu->seg[data[i]] = hlp_check_data_seg(cpu, img->seg[data[i]], cpu->cpl, HLP_VEC_TS, 0);
}

/* The checks on the new TSS descriptor (7.3 steps 3-4; IRET: Vol. 2A
 * TASK-RETURN). Returns its layout. */
static const struct tss_layout *check_new_tss(struct hlp_cpu *cpu, uint16_t sel, uint64_t desc,
                                              enum hlp_task_reason why, unsigned ext)
{
    unsigned t = desc_type(desc);
    bool busy = t & SYS_TSS_BUSY_BIT;
    bool is_tss = !desc_is_seg(desc) && (t & ~(SYS_TSS_BUSY_BIT | 0x8u)) == SYS_TSS16_AVL;
    if (!is_tss || busy != (why == TASK_IRET))
        hlp_raise(cpu, why == TASK_IRET ? HLP_VEC_TS : HLP_VEC_GP, sel_err(sel, ext));
    if (!desc_present(desc))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, ext));
    const struct tss_layout *l = (t & 0x8) ? &tss32 : &tss16;
    if (desc_limit(desc) < l->min_limit)
        hlp_raise(cpu, HLP_VEC_TS, sel_err(sel, ext));
    return l;
}

void hlp_task_switch(struct hlp_cpu *cpu, uint16_t sel, uint64_t desc, enum hlp_task_reason why,
                     uint32_t ret_eip, int32_t error_code, unsigned ext)
{
    const struct tss_layout *l = check_new_tss(cpu, sel, desc, why, ext);
    uint32_t base = desc_base(desc);
    struct tss_image img;
    read_image(cpu, base, l, &img);

    uint32_t old_flags = cpu->eflags;
    if (why == TASK_IRET)
        old_flags &= ~HLP_FL_NT;
    if (why == TASK_JMP || why == TASK_IRET)
        hlp_set_tss_busy(cpu, cpu->tr.sel, false);
    save_state(cpu, ret_eip, old_flags);
    if (why == TASK_CALL || why == TASK_INT) {
        tss_write(cpu, base, 0, 2, cpu->tr.sel);
        img.eflags |= HLP_FL_NT;
    }
    if (why != TASK_IRET)
        hlp_set_tss_busy(cpu, sel, true);

    /* Commit point: TR, CR0.TS, then the new task's state (7.3 steps 11-12). */
    hlp_seg_from_descriptor(&cpu->tr, sel, desc | ((uint64_t)SYS_TSS_BUSY_BIT << 40));
    cpu->cr0 |= HLP_CR0_TS;
    if (l == &tss32 && (cpu->cr0 & MMU_CR0_PG)) {
        struct mmu_fault f;
        enum mmu_result r = mmu_write_cr3(&cpu->mmu, img.cr3, &f);
        if (r != MMU_OK)
            hlp_raise_mmu(cpu, r, &f);
        cpu->cr3 = img.cr3;
    }
    uint32_t live = l == &tss32 ? HLP_FL_LIVE : 0xFFFFu;
    cpu->eflags = hlp_eflags_fix(img.eflags & live);
    cpu->eip = img.eip;
    for (unsigned r = 0; r < 8; r++)
        cpu->gpr[r] = img.gpr[r];
    cpu->dbg_keep_rf = true;
    load_task_segments(cpu, &img);

    if (error_code != HLP_NO_ERROR_CODE) {
        struct hlp_stack st;
        hlp_stack_current(cpu, &st);
        st.err = (int32_t)ext;
        hlp_stack_push(cpu, &st, (uint32_t)error_code, l->size);
        hlp_stack_commit(cpu, &st);
    }
    if (cpu->eip > cpu->seg[HLP_CS].limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
}
