/* Far JMP, CALL and RET (SDM Vol. 2A JMP, CALL; Vol. 2B RET; Vol. 3A 5.8):
 * direct transfers to code segments, call gates with the stack switch and
 * parameter copy of 5.8.5-5.8.6, task gates and TSSs (hlp_task.c), and
 * returns to the same or an outer privilege level. Real and virtual-8086
 * mode load CS as a paragraph. */
#include "vmm_helpers/hlp_sys_internal.h"

static bool pm(const struct hlp_cpu *cpu) { return hlp_protected(cpu) && !hlp_v86(cpu); }

/* Real and V86 mode: the new IP must lie within CS's limit (64 KiB in V86
 * mode, what real mode keeps otherwise). */
static void far_real(struct hlp_cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize,
                     bool call, uint32_t next_eip)
{
    if (opsize == 16)
        off &= 0xFFFF;
    struct hlp_seg cs = cpu->seg[HLP_CS];
    hlp_seg_real(cpu, &cs, HLP_CS, sel);
    if (off > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    struct hlp_stack st;
    hlp_stack_current(cpu, &st);
    if (call) {
        unsigned sz = opsize / 8;
        hlp_stack_room(cpu, &st, 2 * sz);
        hlp_stack_push(cpu, &st, cpu->seg[HLP_CS].sel, sz);
        hlp_stack_push(cpu, &st, next_eip, sz);
    }
    hlp_set_cs(cpu, &cs, hlp_v86(cpu) ? 3 : 0);
    cpu->eip = off;
    hlp_stack_commit(cpu, &st);
}

/* The checks of a transfer to a code segment at the current privilege
 * level (JMP/CALL direct: rpl is the selector's; through a call gate 0,
 * since the gate's RPL is not checked against the target). */
static void check_same_level_code(struct hlp_cpu *cpu, uint16_t sel, uint64_t d, unsigned rpl)
{
    if (!desc_is_code(d))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (desc_conforming(d) ? desc_dpl(d) > cpu->cpl : (rpl > cpu->cpl || desc_dpl(d) != cpu->cpl))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
}

/* CS for the current privilege level: RPL becomes CPL (5.8.2). */
static struct hlp_seg code_at_cpl(struct hlp_cpu *cpu, uint16_t sel, uint64_t d, uint32_t eip)
{
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, (uint16_t)((sel & ~SEL_RPL) | cpu->cpl), d | (1ull << 40));
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    return cs;
}

/* Task gates and TSS descriptors as JMP/CALL targets (7.3, Vol. 2A JMP
 * "TASK-GATE", "TASK-STATE-SEGMENT"). */
static void far_task(struct hlp_cpu *cpu, uint16_t sel, uint64_t d, enum hlp_task_reason why,
                     uint32_t next_eip)
{
    if (desc_dpl(d) < cpu->cpl || desc_dpl(d) < (sel & SEL_RPL))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    if (desc_type(d) == SYS_TASK) {
        sel = gate_sel(d);
        if (sel & SEL_TI)
            hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
        d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    }
    hlp_task_switch(cpu, sel, d, why, next_eip, HLP_NO_ERROR_CODE, 0);
}

/* A call gate's checks and its target descriptor (5.8.4). */
static uint64_t gate_target(struct hlp_cpu *cpu, uint16_t sel, uint64_t gate)
{
    if (desc_dpl(gate) < cpu->cpl || desc_dpl(gate) < (sel & SEL_RPL))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(gate))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    uint16_t csel = gate_sel(gate);
    if (sel_null(csel))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint64_t cd = hlp_fetch_descriptor(cpu, csel, HLP_VEC_GP, 0);
    if (!desc_is_code(cd) || desc_dpl(cd) > cpu->cpl)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(csel, 0));
    return cd;
}

static bool is_task_type(uint64_t d)
{
    unsigned t = desc_type(d);
    return t == SYS_TASK || t == SYS_TSS16_AVL || t == SYS_TSS32_AVL || t == SYS_TSS16_BUSY ||
           t == SYS_TSS32_BUSY;
}

void hlp_far_jmp(struct hlp_cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize,
                 uint32_t next_eip)
{
    if (!pm(cpu)) {
        far_real(cpu, sel, off, opsize, false, next_eip);
        return;
    }
    if (sel_null(sel))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    if (desc_is_seg(d)) {
        check_same_level_code(cpu, sel, d, sel & SEL_RPL);
        struct hlp_seg cs = code_at_cpl(cpu, sel, d, opsize == 16 ? off & 0xFFFF : off);
        hlp_set_accessed(cpu, sel, d);
        hlp_set_cs(cpu, &cs, cpu->cpl);
        cpu->eip = opsize == 16 ? off & 0xFFFF : off;
        return;
    }
    unsigned t = desc_type(d);
    if (t == SYS_CALL16 || t == SYS_CALL32) {
        uint64_t cd = gate_target(cpu, sel, d);
        uint16_t csel = gate_sel(d);
        /* JMP through a call gate never changes privilege (5.8.5). */
        check_same_level_code(cpu, csel, cd, 0);
        struct hlp_seg cs = code_at_cpl(cpu, csel, cd, gate_offset(d));
        hlp_set_accessed(cpu, csel, cd);
        hlp_set_cs(cpu, &cs, cpu->cpl);
        cpu->eip = gate_offset(d);
        return;
    }
    if (!is_task_type(d))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    far_task(cpu, sel, d, TASK_JMP, next_eip);
}

/* CALL through a call gate to a more privileged non-conforming segment:
 * the TSS stack of the new level, the caller's SS:ESP, the gate's
 * parameter count of words or doublewords copied from the old stack, then
 * CS:EIP (5.8.5, Figure 5-13). */
static void call_gate_inner(struct hlp_cpu *cpu, uint64_t gate, uint16_t csel, uint64_t cd,
                            uint32_t next_eip)
{
    unsigned new_cpl = desc_dpl(cd);
    uint16_t ss_sel;
    uint32_t esp;
    hlp_tss_stack(cpu, new_cpl, &ss_sel, &esp, 0);
    struct hlp_stack st = {.ss = hlp_check_stack_seg(cpu, ss_sel, new_cpl, HLP_VEC_TS, 0),
                           .esp = esp, .cpl = new_cpl, .err = sel_err(ss_sel, 0)};
    unsigned sz = desc_type(gate) == SYS_CALL32 ? 4 : 2;
    unsigned n = gate_params(gate);
    hlp_stack_room(cpu, &st, sz * (4 + n));
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, (uint16_t)((csel & ~SEL_RPL) | new_cpl), cd | (1ull << 40));
    uint32_t eip = gate_offset(gate);
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    hlp_stack_push(cpu, &st, cpu->seg[HLP_SS].sel, sz);
    hlp_stack_push(cpu, &st, cpu->gpr[HLP_ESP], sz);
    for (unsigned i = n; i-- > 0;)
        hlp_stack_push(cpu, &st, hlp_stack_peek(cpu, i * sz, sz), sz);
    hlp_stack_push(cpu, &st, cpu->seg[HLP_CS].sel, sz);
    hlp_stack_push(cpu, &st, next_eip, sz);
    hlp_set_accessed(cpu, csel, cd);
    hlp_set_cs(cpu, &cs, new_cpl);
    cpu->eip = eip;
    hlp_stack_commit(cpu, &st);
}

/* Pushes CS:EIP on the current stack and enters cs:eip at the same level. */
static void call_same(struct hlp_cpu *cpu, uint16_t sel, uint64_t d, uint32_t eip, unsigned sz,
                      uint32_t next_eip)
{
    struct hlp_seg cs = code_at_cpl(cpu, sel, d, eip);
    struct hlp_stack st;
    hlp_stack_current(cpu, &st);
    hlp_stack_room(cpu, &st, 2 * sz);
    hlp_stack_push(cpu, &st, cpu->seg[HLP_CS].sel, sz);
    hlp_stack_push(cpu, &st, next_eip, sz);
    hlp_set_accessed(cpu, sel, d);
    hlp_set_cs(cpu, &cs, cpu->cpl);
    cpu->eip = eip;
    hlp_stack_commit(cpu, &st);
}

void hlp_far_call(struct hlp_cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize,
                  uint32_t next_eip)
{
    if (!pm(cpu)) {
        far_real(cpu, sel, off, opsize, true, next_eip);
        return;
    }
    if (sel_null(sel))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    if (desc_is_seg(d)) {
        check_same_level_code(cpu, sel, d, sel & SEL_RPL);
        call_same(cpu, sel, d, opsize == 16 ? off & 0xFFFF : off, opsize / 8, next_eip);
        return;
    }
    unsigned t = desc_type(d);
    if (t == SYS_CALL16 || t == SYS_CALL32) {
        uint64_t cd = gate_target(cpu, sel, d);
        uint16_t csel = gate_sel(d);
        if (!desc_present(cd))
            hlp_raise(cpu, HLP_VEC_NP, sel_err(csel, 0));
        if (!desc_conforming(cd) && desc_dpl(cd) < cpu->cpl)
            call_gate_inner(cpu, d, csel, cd, next_eip);
        else
            call_same(cpu, csel, cd, gate_offset(d), t == SYS_CALL32 ? 4 : 2, next_eip);
        return;
    }
    if (!is_task_type(d))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    far_task(cpu, sel, d, TASK_CALL, next_eip);
}

/* The return CS's checks, shared by RET far and IRET (Vol. 2B RET
 * "PROTECTED-MODE", Vol. 2A IRET "PROTECTED-MODE-RETURN"). */
uint64_t hlp_check_return_cs(struct hlp_cpu *cpu, uint16_t sel)
{
    if (sel_null(sel))
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint64_t d = hlp_fetch_descriptor(cpu, sel, HLP_VEC_GP, 0);
    unsigned rpl = sel & SEL_RPL;
    if (!desc_is_code(d) || rpl < cpu->cpl ||
        (desc_conforming(d) ? desc_dpl(d) > rpl : desc_dpl(d) != rpl))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(sel, 0));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(sel, 0));
    return d;
}

/* The outer stack of a return to a lower privilege (RPL of CS): #GP(sel)
 * unless it is a writable data segment with RPL = DPL = the new CPL. */
struct hlp_seg hlp_check_return_ss(struct hlp_cpu *cpu, uint16_t ss_sel, unsigned rpl)
{
    return hlp_check_stack_seg(cpu, ss_sel, rpl, HLP_VEC_GP, 0);
}

void hlp_far_ret(struct hlp_cpu *cpu, unsigned opsize, uint16_t imm)
{
    unsigned sz = opsize / 8;
    uint32_t eip = hlp_stack_peek(cpu, 0, sz);
    uint16_t sel = (uint16_t)hlp_stack_peek(cpu, sz, sz);
    if (!pm(cpu)) {
        struct hlp_seg cs = cpu->seg[HLP_CS];
        hlp_seg_real(cpu, &cs, HLP_CS, sel);
        if (eip > cs.limit)
            hlp_raise(cpu, HLP_VEC_GP, 0);
        hlp_set_cs(cpu, &cs, hlp_v86(cpu) ? 3 : 0);
        cpu->eip = eip;
        cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], 2 * sz + imm);
        return;
    }
    uint64_t d = hlp_check_return_cs(cpu, sel);
    unsigned rpl = sel & SEL_RPL;
    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, sel, d | (1ull << 40));
    if (rpl == cpu->cpl) {
        if (eip > cs.limit)
            hlp_raise(cpu, HLP_VEC_GP, 0);
        hlp_set_accessed(cpu, sel, d);
        hlp_set_cs(cpu, &cs, rpl);
        cpu->eip = eip;
        cpu->gpr[HLP_ESP] = hlp_stack_adjust(&cpu->seg[HLP_SS], cpu->gpr[HLP_ESP], 2 * sz + imm);
        return;
    }
    /* Return to an outer level: SS:ESP follow the parameters (5.8.6). */
    uint32_t esp = hlp_stack_peek(cpu, 2 * sz + imm, sz);
    uint16_t ss_sel = (uint16_t)hlp_stack_peek(cpu, 3 * sz + imm, sz);
    struct hlp_seg ss = hlp_check_return_ss(cpu, ss_sel, rpl);
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    hlp_set_accessed(cpu, sel, d);
    hlp_set_cs(cpu, &cs, rpl);
    cpu->eip = eip;
    cpu->seg[HLP_SS] = ss;
    cpu->gpr[HLP_ESP] = hlp_stack_adjust(&ss, sz == 2 ? (cpu->gpr[HLP_ESP] & 0xFFFF0000u) | (esp & 0xFFFF) : esp, imm);
    hlp_null_inaccessible_segs(cpu);
}
