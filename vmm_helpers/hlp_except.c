/* Exception and interrupt delivery (SDM Vol. 3A chapter 6, 20.1.4, 20.3;
 * Vol. 2A INT n pseudo-code): the real-mode IVT, protected-mode interrupt,
 * trap and task gates with privilege changes and TSS stack switches, exits
 * from virtual-8086 mode, and the double-fault and shutdown rules of
 * Table 6-5.
 *
 * A fault while an event is delivered unwinds (hlp_raise) to the catch
 * point hlp_deliver arms for itself, which combines it with the event it
 * interrupted: serially, into #DF, or into a triple fault that stops the
 * machine. CR4.VME interrupt redirection is absent: the popek CPU does not
 * advertise VME, so CR4.VME cannot be set. */
#include "vmm_helpers/hlp_sys_internal.h"

#include <setjmp.h>

struct event {
    unsigned vector;
    int32_t error; /* HLP_NO_ERROR_CODE or the code to push */
    enum hlp_event_kind kind;
    uint32_t ret_eip;
    unsigned ext;  /* EXT bit of faults raised while delivering it (6.13) */
};

/* Table 6-4: the exception classes that decide a double fault. */
enum exc_class { EXC_BENIGN, EXC_CONTRIBUTORY, EXC_PAGE_FAULT, EXC_DOUBLE };

static enum exc_class exc_class(unsigned vector)
{
    switch (vector) {
    case HLP_VEC_DE:
    case HLP_VEC_TS:
    case HLP_VEC_NP:
    case HLP_VEC_SS:
    case HLP_VEC_GP:
        return EXC_CONTRIBUTORY;
    case HLP_VEC_PF:
        return EXC_PAGE_FAULT;
    case HLP_VEC_DF:
        return EXC_DOUBLE;
    default:
        return EXC_BENIGN;
    }
}

/* Table 6-1: the exceptions that push an error code (in protected mode). */
static bool has_error_code(unsigned vector)
{
    return vector == HLP_VEC_DF || (vector >= HLP_VEC_TS && vector <= HLP_VEC_PF) ||
           vector == HLP_VEC_AC;
}

/* Fault-class exceptions other than #DB push EFLAGS with RF set, so the
 * faulting instruction restarts without re-triggering an instruction
 * breakpoint (17.3.1.1). */
static bool sets_rf(unsigned vector)
{
    switch (vector) {
    case HLP_VEC_DE: case HLP_VEC_BR: case HLP_VEC_UD: case HLP_VEC_NM: case HLP_VEC_TS:
    case HLP_VEC_NP: case HLP_VEC_SS: case HLP_VEC_GP: case HLP_VEC_PF: case HLP_VEC_MF:
    case HLP_VEC_AC: case HLP_VEC_XM:
        return true;
    default:
        return false;
    }
}

/* ---- real mode (20.1.4) -------------------------------------------------------- */

static void deliver_real(struct hlp_cpu *cpu, const struct event *ev)
{
    if (ev->vector * 4 + 3 > cpu->idtr.limit)
        hlp_raise(cpu, HLP_VEC_GP, 0);
    uint32_t ivt = hlp_read_sys32(cpu, cpu->idtr.base + ev->vector * 4);
    struct hlp_stack st;
    hlp_stack_current(cpu, &st);
    hlp_stack_room(cpu, &st, 6);
    hlp_stack_push(cpu, &st, cpu->eflags & 0xFFFF, 2);
    hlp_stack_push(cpu, &st, cpu->seg[HLP_CS].sel, 2);
    hlp_stack_push(cpu, &st, ev->ret_eip & 0xFFFF, 2);
    /* Vol. 2A INT, REAL-ADDRESS-MODE: IF, TF and AC cleared. */
    cpu->eflags &= ~(HLP_FL_IF | HLP_FL_TF | HLP_FL_AC | HLP_FL_RF);
    struct hlp_seg cs = cpu->seg[HLP_CS];
    hlp_seg_real(cpu, &cs, HLP_CS, (uint16_t)(ivt >> 16));
    hlp_set_cs(cpu, &cs, 0);
    cpu->eip = ivt & 0xFFFF;
    hlp_stack_commit(cpu, &st);
}

/* ---- protected mode (6.12) ----------------------------------------------------- */

static void deliver_task_gate(struct hlp_cpu *cpu, const struct event *ev, uint64_t gate)
{
    uint16_t tss = gate_sel(gate);
    /* Vol. 2A INT, TASK-GATE: a GDT selector of an available TSS. */
    if (tss & SEL_TI)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(tss, ev->ext));
    uint64_t d = hlp_fetch_descriptor(cpu, tss, HLP_VEC_GP, ev->ext);
    unsigned t = desc_type(d);
    if (desc_is_seg(d) || (t != SYS_TSS16_AVL && t != SYS_TSS32_AVL))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(tss, ev->ext));
    if (!desc_present(d))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(tss, ev->ext));
    hlp_task_switch(cpu, tss, d, TASK_INT, ev->ret_eip, ev->error, ev->ext);
}

/* The gate for the event: 6.12.1.1 and Vol. 2A INT n pseudo-code, in its
 * order of checks. */
static uint64_t read_gate(struct hlp_cpu *cpu, const struct event *ev)
{
    int32_t idt_err = (int32_t)(ev->vector * 8 + ERR_IDT + ev->ext);
    if (ev->vector * 8 + 7 > cpu->idtr.limit)
        hlp_raise(cpu, HLP_VEC_GP, idt_err);
    uint64_t gate = hlp_read_sys64(cpu, cpu->idtr.base + ev->vector * 8);
    unsigned t = desc_type(gate);
    if (desc_is_seg(gate) ||
        (t != SYS_TASK && t != SYS_INT16 && t != SYS_TRAP16 && t != SYS_INT32 && t != SYS_TRAP32))
        hlp_raise(cpu, HLP_VEC_GP, idt_err);
    /* Only INT n, INT3 and INTO are held to the gate's DPL (6.12.1.1). */
    if (ev->kind == HLP_EVENT_SOFTWARE && desc_dpl(gate) < cpu->cpl)
        hlp_raise(cpu, HLP_VEC_GP, idt_err);
    if (!desc_present(gate))
        hlp_raise(cpu, HLP_VEC_NP, idt_err);
    return gate;
}

static void deliver_pm(struct hlp_cpu *cpu, const struct event *ev)
{
    uint64_t gate = read_gate(cpu, ev);
    if (desc_type(gate) == SYS_TASK) {
        deliver_task_gate(cpu, ev, gate);
        return;
    }
    bool v86 = hlp_v86(cpu);
    uint16_t csel = gate_sel(gate);
    if (sel_null(csel))
        hlp_raise(cpu, HLP_VEC_GP, (int32_t)ev->ext);
    uint64_t cd = hlp_fetch_descriptor(cpu, csel, HLP_VEC_GP, ev->ext);
    if (!desc_is_code(cd) || desc_dpl(cd) > cpu->cpl)
        hlp_raise(cpu, HLP_VEC_GP, sel_err(csel, ev->ext));
    if (!desc_present(cd))
        hlp_raise(cpu, HLP_VEC_NP, sel_err(csel, ev->ext));
    unsigned dpl = desc_dpl(cd);
    bool inner = !desc_conforming(cd) && dpl < cpu->cpl;
    /* From V86 mode only to a ring-0 non-conforming segment (20.3.1.1). */
    if (v86 && (!inner || dpl != 0))
        hlp_raise(cpu, HLP_VEC_GP, sel_err(csel, ev->ext));
    unsigned new_cpl = inner ? dpl : cpu->cpl;

    struct hlp_stack st;
    if (inner) {
        uint16_t ss_sel;
        uint32_t esp;
        hlp_tss_stack(cpu, new_cpl, &ss_sel, &esp, ev->ext);
        st.ss = hlp_check_stack_seg(cpu, ss_sel, new_cpl, HLP_VEC_TS, ev->ext);
        st.esp = esp;
        st.cpl = new_cpl;
        st.err = sel_err(ss_sel, ev->ext);
    } else {
        hlp_stack_current(cpu, &st);
    }
    bool gate32 = desc_type(gate) & 0x8;
    unsigned sz = gate32 ? 4 : 2;
    bool push_err = ev->error != HLP_NO_ERROR_CODE;
    hlp_stack_room(cpu, &st, sz * (3 + (inner ? 2 : 0) + (v86 ? 4 : 0) + (push_err ? 1 : 0)));

    struct hlp_seg cs;
    hlp_seg_from_descriptor(&cs, (uint16_t)((csel & ~SEL_RPL) | new_cpl), cd | (1ull << 40));
    uint32_t eip = gate_offset(gate);
    if (eip > cs.limit)
        hlp_raise(cpu, HLP_VEC_GP, (int32_t)ev->ext);
    hlp_set_accessed(cpu, csel, cd);

    uint32_t flags = cpu->eflags;
    if (ev->kind == HLP_EVENT_EXCEPTION && sets_rf(ev->vector))
        flags |= HLP_FL_RF;
    if (v86) {
        hlp_stack_push(cpu, &st, cpu->seg[HLP_GS].sel, sz);
        hlp_stack_push(cpu, &st, cpu->seg[HLP_FS].sel, sz);
        hlp_stack_push(cpu, &st, cpu->seg[HLP_DS].sel, sz);
        hlp_stack_push(cpu, &st, cpu->seg[HLP_ES].sel, sz);
    }
    if (inner) {
        hlp_stack_push(cpu, &st, cpu->seg[HLP_SS].sel, sz);
        hlp_stack_push(cpu, &st, cpu->gpr[HLP_ESP], sz);
    }
    hlp_stack_push(cpu, &st, flags, sz);
    hlp_stack_push(cpu, &st, cpu->seg[HLP_CS].sel, sz);
    hlp_stack_push(cpu, &st, ev->ret_eip, sz);
    if (push_err)
        hlp_stack_push(cpu, &st, (uint32_t)ev->error, sz);

    /* Commit (6.12.1.3): TF, NT, RF and VM cleared; IF too through an
     * interrupt gate. */
    if (v86)
        for (unsigned s = HLP_ES; s <= HLP_GS; s++)
            if (s != HLP_CS && s != HLP_SS)
                hlp_seg_null(&cpu->seg[s], 0);
    uint32_t clear = HLP_FL_TF | HLP_FL_NT | HLP_FL_RF | HLP_FL_VM;
    if (!(desc_type(gate) & 1))
        clear |= HLP_FL_IF;
    cpu->eflags &= ~clear;
    hlp_set_cs(cpu, &cs, new_cpl);
    cpu->eip = eip;
    hlp_stack_commit(cpu, &st);
}

void hlp_tss_stack(struct hlp_cpu *cpu, unsigned cpl, uint16_t *ss, uint32_t *esp, unsigned ext)
{
    /* 7.2.1 (32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n) and 7.6 (16-bit
     * TSS: SPn at 2 + 4n, SSn at 4 + 4n). */
    bool tss32 = seg_type(&cpu->tr) & 0x8;
    uint32_t off = tss32 ? 4 + cpl * 8 : 2 + cpl * 4;
    uint32_t last = tss32 ? off + 5 : off + 3;
    if (last > cpu->tr.limit)
        hlp_raise(cpu, HLP_VEC_TS, sel_err(cpu->tr.sel, ext));
    if (tss32) {
        *esp = hlp_read_sys32(cpu, cpu->tr.base + off);
        *ss = (uint16_t)hlp_read_sys32(cpu, cpu->tr.base + off + 4);
    } else {
        uint32_t v = hlp_read_sys32(cpu, cpu->tr.base + off);
        *esp = v & 0xFFFF;
        *ss = (uint16_t)(v >> 16);
    }
}

/* ---- the event loop ------------------------------------------------------------ */

static void deliver_one(struct hlp_cpu *cpu, const struct event *ev)
{
    cpu->halted = false;
    cpu->dbg_event = true;
    if (hlp_protected(cpu))
        deliver_pm(cpu, ev);
    else
        deliver_real(cpu, ev);
}

_Noreturn static void triple_fault(struct hlp_cpu *cpu, unsigned second)
{
    const uint32_t *r = cpu->gpr;
    mach_request_exit(cpu->m, MACH_EXIT_TRIPLE_FAULT, 0,
                      "triple fault: exception %u while delivering #DF (error 0x%x) at "
                      "CS:EIP=%04x:%08x CPL %u EFLAGS=%08x CR0=%08x CR2=%08x CR3=%08x; "
                      "EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x "
                      "ESP=%08x SS=%04x IDTR=%08x/%04x GDTR=%08x/%04x TR=%04x",
                      second, (uint32_t)cpu->pending_error, cpu->seg[HLP_CS].sel, cpu->eip,
                      cpu->cpl, cpu->eflags, cpu->cr0, cpu->cr2, cpu->cr3, r[HLP_EAX],
                      r[HLP_EBX], r[HLP_ECX], r[HLP_EDX], r[HLP_ESI], r[HLP_EDI], r[HLP_EBP],
                      r[HLP_ESP], cpu->seg[HLP_SS].sel, cpu->idtr.base, cpu->idtr.limit,
                      cpu->gdtr.base, cpu->gdtr.limit, cpu->tr.sel);
    hlp_stop(cpu);
}

/* Table 6-5: what a fault during the delivery of `first` becomes. Returns
 * false for a triple fault. */
static bool combine(struct event *first, unsigned second, int32_t error, uint32_t eip)
{
    enum exc_class c1 = first->kind == HLP_EVENT_EXCEPTION ? exc_class(first->vector) : EXC_BENIGN;
    enum exc_class c2 = exc_class(second);
    bool dbl = (c1 == EXC_CONTRIBUTORY && c2 == EXC_CONTRIBUTORY) ||
               (c1 == EXC_PAGE_FAULT && (c2 == EXC_CONTRIBUTORY || c2 == EXC_PAGE_FAULT));
    if (c1 == EXC_DOUBLE && (c2 == EXC_CONTRIBUTORY || c2 == EXC_PAGE_FAULT))
        return false;
    *first = (struct event){.vector = dbl ? HLP_VEC_DF : second,
                            .error = dbl ? 0 : error,
                            .kind = HLP_EVENT_EXCEPTION,
                            .ret_eip = eip,
                            .ext = 1};
    return true;
}

/* ev belongs to the caller's frame, so it keeps its value across the
 * longjmp back to the setjmp here (C11 7.13.2.1). */
static void run_event(struct hlp_cpu *cpu, struct event *ev)
{
    jmp_buf jb;
    jmp_buf *outer = cpu->fault_jmp;
    cpu->fault_jmp = &jb;
    int why = setjmp(jb);
    if (why == HLP_UNWIND_STOP) {
        cpu->fault_jmp = outer;
        cpu->delivering = -1;
        hlp_stop(cpu);
    }
    if (why == HLP_UNWIND_FAULT && !combine(ev, cpu->pending_vector, cpu->pending_error, cpu->eip)) {
        cpu->fault_jmp = outer;
        cpu->delivering = -1;
        triple_fault(cpu, cpu->pending_vector);
    }
    if (!hlp_protected(cpu) || ev->kind != HLP_EVENT_EXCEPTION || !has_error_code(ev->vector))
        ev->error = HLP_NO_ERROR_CODE;
    else if (ev->error == HLP_NO_ERROR_CODE)
        ev->error = 0;
    cpu->delivering = (int16_t)ev->vector;
    deliver_one(cpu, ev);
    cpu->delivering = -1;
    cpu->fault_jmp = outer;
}

void hlp_deliver(struct hlp_cpu *cpu, unsigned vector, int32_t error_code,
                 enum hlp_event_kind kind)
{
    struct event ev = {.vector = vector & 0xFF,
                       .error = error_code,
                       .kind = kind,
                       .ret_eip = cpu->eip,
                       .ext = kind != HLP_EVENT_SOFTWARE};
    run_event(cpu, &ev);
}

void hlp_deliver_soft(struct hlp_cpu *cpu, unsigned vector, enum hlp_event_kind kind,
                      uint32_t ret_eip)
{
    struct event ev = {.vector = vector & 0xFF,
                       .error = HLP_NO_ERROR_CODE,
                       .kind = kind,
                       .ret_eip = ret_eip,
                       .ext = kind != HLP_EVENT_SOFTWARE};
    run_event(cpu, &ev);
}

void hlp_deliver_pending(struct hlp_cpu *cpu)
{
    hlp_deliver(cpu, cpu->pending_vector, cpu->pending_error, HLP_EVENT_EXCEPTION);
}

bool hlp_intr_window(const struct hlp_cpu *cpu)
{
    return (cpu->eflags & HLP_FL_IF) && !cpu->intr_shadow;
}
