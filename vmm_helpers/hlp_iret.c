/* IRET in all its forms (SDM Vol. 2A IRET/IRETD): real mode, virtual-8086
 * mode (IOPL 3 only: no CR4.VME on the popek CPU), the nested-task return
 * (NT set, 7.3), returns to the same and to an outer privilege level, and
 * the return to virtual-8086 mode from CPL 0. Every check happens before
 * anything is committed; the frame is read, never popped, until then. */
#include "vmm_helpers/hlp_sys_internal.h"

/* Real-address mode, 32 bits: "EFLAGS <- (tempEFLAGS AND 257FD5H) OR
 * (EFLAGS AND 1A0000H)": VM, VIF and VIP stay, everything else (RF, AC, ID
 * included) comes from the image. */
static void iret_real(struct hlp_cpu *cpu, unsigned sz)
{
    uint32_t eip = hlp_stack_peek(cpu, 0, sz);
    uint16_t sel = (uint16_t)hlp_stack_peek(cpu, sz, sz);
    uint32_t fl = hlp_stack_peek(cpu, 2 * sz, sz);
    struct hlp_seg cs = cpu->seg[HLP_CS];
    hlp_seg_real(cpu, &cs, HLP_CS, sel);
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint32_t eflags;
    if (hlp_v86(cpu)) {
        /* 20.2.7: IOPL, VM, VIP and VIF are not changed by IRET in V86. */
        uint32_t keep = HLP_FL_IOPL | HLP_FL_VM | HLP_FL_VIP | HLP_FL_VIF;
        if (sz == 2)
            keep |= 0xFFFF0000u;
        eflags = (fl & ~keep) | (cpu->eflags & keep);
    } else if (sz == 4) {
        eflags = (fl & 0x257FD5u) | (cpu->eflags & 0x1A0000u);
    } else {
        eflags = (cpu->eflags & 0xFFFF0000u) | (fl & 0xFFFF);
    }
    hlp_set_cs(cpu, &cs, hlp_v86(cpu) ? 3 : 0);
    cpu->eip = eip;
    cpu->eflags = hlp_eflags_fix(eflags);
    cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], 3 * sz);
}

/* Vol. 2A IRET, TASK-RETURN: back to the task in the current TSS's link
 * field, which must be a busy TSS in the GDT (#TS otherwise). */
static void iret_task(struct hlp_cpu *cpu, uint32_t next_eip)
{
    uint16_t link = (uint16_t)hlp_read_sys32(cpu, cpu->tr.base);
    if (link & SEL_TI)
        hlp_raise(cpu, HLP_VEC_TS, sel_err(link, 0));
    uint64_t d = hlp_fetch_descriptor(cpu, link, HLP_VEC_TS, 0);
    hlp_task_switch(cpu, link, d, TASK_IRET, next_eip, HLP_NO_ERROR_CODE, 0);
}

/* RETURN-TO-VIRTUAL-8086-MODE: from CPL 0 with VM set in the 32-bit image;
 * the frame continues with ESP, SS, ES, DS, FS, GS (Figure 20-2). */
static void iret_to_v86(struct hlp_cpu *cpu, uint32_t eip, uint16_t sel, uint32_t fl)
{
    uint32_t v[6];
    for (unsigned i = 0; i < 6; i++)
        v[i] = hlp_stack_peek(cpu, 12 + 4 * i, 4);
    cpu->eflags = hlp_eflags_fix(fl);
    static const unsigned order[4] = {HLP_ES, HLP_DS, HLP_FS, HLP_GS};
    struct hlp_seg cs = cpu->seg[HLP_CS];
    hlp_seg_real(cpu, &cs, HLP_CS, sel);
    hlp_set_cs(cpu, &cs, 3);
    cpu->eip = eip & 0xFFFF;
    hlp_seg_real(cpu, &cpu->seg[HLP_SS], HLP_SS, (uint16_t)v[1]);
    cpu->gpr[HLP_ESP] = v[0];
    for (unsigned i = 0; i < 4; i++)
        hlp_seg_real(cpu, &cpu->seg[order[i]], order[i], (uint16_t)v[2 + i]);
}

static void iret_pm(struct hlp_cpu *cpu, unsigned sz)
{
    uint32_t eip = hlp_stack_peek(cpu, 0, sz);
    uint16_t sel = (uint16_t)hlp_stack_peek(cpu, sz, sz);
    uint32_t fl = hlp_stack_peek(cpu, 2 * sz, sz);
    if (sz == 4 && (fl & HLP_FL_VM) && cpu->cpl == 0) {
        iret_to_v86(cpu, eip, sel, fl);
        return;
    }
    uint64_t d = hlp_check_return_cs(cpu, sel);
    unsigned rpl = sel & SEL_RPL, old_cpl = cpu->cpl;
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, sel, d | (1ull << 40));
    if (rpl == old_cpl) {
        if (eip > cs.limit)
            hlp_raise(cpu, HLP_VEC_GP, 0);
        hlp_set_accessed(cpu, sel, d);
        hlp_write_eflags_iret(cpu, fl, sz, old_cpl);
        hlp_set_cs(cpu, &cs, rpl);
        cpu->eip = eip;
        cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], 3 * sz);
        return;
    }
    /* RETURN-TO-OUTER-PRIVILEGE-LEVEL: SS:ESP follow EFLAGS. */
    uint32_t esp = hlp_stack_peek(cpu, 3 * sz, sz);
    uint16_t ss_sel = (uint16_t)hlp_stack_peek(cpu, 4 * sz, sz);
    struct hlp_seg ss = hlp_check_return_ss(cpu, ss_sel, rpl);
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    hlp_set_accessed(cpu, sel, d);
    hlp_write_eflags_iret(cpu, fl, sz, old_cpl);
    hlp_set_cs(cpu, &cs, rpl);
    cpu->eip = eip;
    cpu->seg[HLP_SS] = ss;
    cpu->gpr[HLP_ESP] = sz == 4 ? esp : (cpu->gpr[HLP_ESP] & 0xFFFF0000u) | (esp & 0xFFFF);
    hlp_null_inaccessible_segs(cpu);
}

void hlp_iret(struct hlp_cpu *cpu, unsigned opsize, uint32_t next_eip)
{
    unsigned sz = opsize / 8;
    if (hlp_v86(cpu) && hlp_iopl(cpu) != 3)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    if (!hlp_protected(cpu) || hlp_v86(cpu))
        iret_real(cpu, sz);
    else if (cpu->eflags & HLP_FL_NT)
        iret_task(cpu, next_eip);
    else
        iret_pm(cpu, sz);
    /* RF comes from the image: not cleared after this instruction. */
    cpu->dbg_keep_rf = true;
}

void hlp_write_eflags_iret(struct hlp_cpu *cpu, uint32_t value, unsigned size, unsigned cpl)
{
    uint32_t mask = HLP_FL_ARITH | HLP_FL_TF | HLP_FL_DF | HLP_FL_NT;
    if (size == 4)
        mask |= HLP_FL_RF | HLP_FL_AC | HLP_FL_ID;
    if (cpl <= hlp_iopl(cpu))
        mask |= HLP_FL_IF;
    if (cpl == 0) {
        mask |= HLP_FL_IOPL;
        if (size == 4)
            mask |= HLP_FL_VM | HLP_FL_VIF | HLP_FL_VIP;
    }
    cpu->eflags = hlp_eflags_fix((cpu->eflags & ~mask) | (value & mask));
}
