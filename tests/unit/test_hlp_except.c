/* Event delivery and IRET: IDT gates with the privilege change and TSS
 * stack switch (SDM Vol. 3A 6.12), error codes with EXT/IDT bits (6.13),
 * #DF and shutdown (Table 6-5), real-mode IVT delivery, virtual-8086 mode
 * entry and exit (20.3), and IRET to ring 3 with data-segment nulling. */
#include "hlp_fixture.h"

TestSuite(hlp_except, .init = fx_setup, .fini = fx_teardown);

/* The frame at the new ESP, as doublewords. */
static uint32_t frame(unsigned i) { return fx_rd32(fx_cpu.gpr[HLP_ESP] + 4 * i); }

Test(hlp_except, ring3_to_ring0_with_stack_switch)
{
    fx_enter_ring3(FX_USTACK);
    fx_cpu.eip = 0x12345;
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_TF;
    cr_assert_eq(fx_deliver(HLP_VEC_GP, 0x28, HLP_EVENT_EXCEPTION), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 0);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_KCODE);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + 13 * 16);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_KDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_KSTACK - 24);
    cr_assert_eq(frame(0), 0x28, "error code");
    cr_assert_eq(frame(1), 0x12345, "EIP");
    cr_assert_eq(frame(2), FX_UCODE, "CS");
    cr_assert_eq(frame(3), HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_TF | HLP_FL_RF,
                 "EFLAGS with RF for a fault");
    cr_assert_eq(frame(4), FX_USTACK, "ESP");
    cr_assert_eq(frame(5), FX_UDATA, "SS");
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1, "IF and TF cleared by an interrupt gate");
}

Test(hlp_except, trap_gate_keeps_if_and_same_level)
{
    fx_idt_set(0x81, fx_gate(FX_HANDLER, FX_KCODE, 0xF, 3, 0));
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF;
    uint32_t esp = fx_cpu.gpr[HLP_ESP];
    fx_cpu.eip = FX_CODE;
    cr_assert_eq(FX_EXEC(0xCD, 0x81), FX_OK);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], esp - 12);
    cr_assert_eq(frame(0), FX_CODE + 2, "INT n returns after itself");
    cr_assert_eq(frame(1), FX_KCODE);
    cr_assert(fx_cpu.eflags & HLP_FL_IF);
}

Test(hlp_except, software_int_gate_dpl)
{
    fx_enter_ring3(FX_USTACK);
    /* The #GP of the delivery is delivered in its place, returning to
     * the INT instruction itself. */
    cr_assert_eq(FX_EXEC(0xCD, 0x30), FX_OK);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_GP * 16, "DPL-0 gate from CPL 3: #GP");
    cr_assert_eq(frame(0), 0x30 * 8 + 2, "IDT bit, no EXT for INT n");
    cr_assert_eq(frame(1), FX_CODE);
    /* The same vector as an external interrupt ignores the gate's DPL. */
    fx_enter_ring3(FX_USTACK);
    fx_cpu.eip = FX_CODE;
    cr_assert_eq(fx_deliver(0x30, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 0);
    cr_assert_eq(frame(0), FX_CODE);
}

Test(hlp_except, not_present_gate_gives_np_with_idt_ext)
{
    uint64_t g = fx_gate(FX_HANDLER, FX_KCODE, 0xE, 0, 0) & ~(1ull << 47);
    fx_idt_set(0x40, g);
    cr_assert_eq(fx_deliver(0x40, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL), FX_OK);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_NP * 16, "#NP delivered instead");
    cr_assert_eq(frame(0), 0x40 * 8 + 2 + 1, "IDT and EXT bits");
}

Test(hlp_except, double_fault_on_contributory_during_delivery)
{
    /* #GP's gate is not present: the #NP it raises is contributory after
     * a contributory #GP, so #DF with error 0 (Table 6-5). */
    fx_idt_set(HLP_VEC_GP, fx_gate(FX_HANDLER, FX_KCODE, 0xE, 0, 0) & ~(1ull << 47));
    fx_cpu.eip = 0x4321;
    cr_assert_eq(fx_deliver(HLP_VEC_GP, 0, HLP_EVENT_EXCEPTION), FX_OK);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_DF * 16);
    cr_assert_eq(frame(0), 0, "#DF error code");
    cr_assert_eq(fx_cpu.delivering, -1);
}

Test(hlp_except, page_fault_then_gp_is_double_but_gp_then_pf_is_serial)
{
    fx_idt_set(HLP_VEC_PF, fx_gate(FX_HANDLER, FX_KCODE, 0xE, 0, 0) & ~(1ull << 47));
    cr_assert_eq(fx_deliver(HLP_VEC_PF, 2, HLP_EVENT_EXCEPTION), FX_OK);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_DF * 16, "#PF then #NP: #DF");
    fx_idt_set(HLP_VEC_PF, fx_gate(FX_HANDLER, FX_KCODE, 0xE, 0, 0));
    fx_cpu.eip = FX_CODE;
    /* A benign first exception is followed serially. */
    fx_idt_set(HLP_VEC_UD, fx_gate(FX_HANDLER, FX_KCODE, 0xE, 0, 0) & ~(1ull << 47));
    cr_assert_eq(fx_deliver(HLP_VEC_UD, HLP_NO_ERROR_CODE, HLP_EVENT_EXCEPTION), FX_OK);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_NP * 16);
}

Test(hlp_except, triple_fault_stops_the_machine)
{
    fx_cpu.idtr.limit = 0; /* every gate is beyond the IDT */
    cr_assert_eq(fx_deliver(HLP_VEC_GP, 0, HLP_EVENT_EXCEPTION), FX_STOPPED);
    cr_assert_eq(mach_exit_kind(fx_m), MACH_EXIT_TRIPLE_FAULT);
    cr_assert(strstr(mach_exit_message(fx_m), "triple fault"), "%s", mach_exit_message(fx_m));
    cr_assert(strstr(mach_exit_message(fx_m), "EIP="), "registers in the message");
}

Test(hlp_except, bad_ring0_stack_gives_ts_with_ext)
{
    fx_enter_ring3(FX_USTACK);
    fx_wr32(FX_TSS + 8, FX_UDATA); /* SS0 with RPL 3 != 0 */
    /* #TS is handled at CPL 3 (a DPL-3 code segment), on the user stack. */
    fx_idt_set(HLP_VEC_TS, fx_gate(FX_HANDLER, FX_UCODE, 0xE, 0, 0));
    cr_assert_eq(fx_deliver(0x40, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 3);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_USTACK - 16);
    cr_assert_eq(frame(0), (FX_UDATA & ~3u) | 1, "#TS(SS0 selector + EXT)");
}

Test(hlp_except, bad_ring0_stack_everywhere_shuts_down)
{
    fx_enter_ring3(FX_USTACK);
    fx_wr32(FX_TSS + 8, FX_UDATA);
    /* #TS, then #TS delivering it (#DF), then #TS delivering #DF. */
    cr_assert_eq(fx_deliver(0x40, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL), FX_STOPPED);
    cr_assert_eq(mach_exit_kind(fx_m), MACH_EXIT_TRIPLE_FAULT);
}

Test(hlp_except, iret_to_ring3_nulls_kernel_data_segments)
{
    uint32_t esp = FX_KSTACK - 20;
    fx_wr32(esp + 0, 0x400000);
    fx_wr32(esp + 4, FX_UCODE);
    fx_wr32(esp + 8, HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_IOPL);
    fx_wr32(esp + 12, FX_USTACK);
    fx_wr32(esp + 16, FX_UDATA);
    fx_cpu.gpr[HLP_ESP] = esp;
    /* DS: the user segment stays; FS: the kernel one is nulled. */
    fx_cpu.gpr[HLP_EAX] = FX_UDATA;
    cr_assert_eq(FX_EXEC(0x8E, 0xD8), FX_OK);
    cr_assert_eq(FX_EXEC(0xCF), FX_OK); /* iretd */
    cr_assert_eq(fx_cpu.cpl, 3);
    cr_assert_eq(fx_cpu.eip, 0x400000);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_UCODE);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_UDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_USTACK);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_IOPL, "IOPL loaded at CPL 0");
    cr_assert_eq(fx_cpu.seg[HLP_DS].sel, FX_UDATA);
    cr_assert(!(fx_cpu.seg[HLP_DS].attr & HLP_SEG_UNUSABLE));
    cr_assert_eq(fx_cpu.seg[HLP_FS].sel, 0);
    cr_assert(fx_cpu.seg[HLP_FS].attr & HLP_SEG_UNUSABLE);
}

Test(hlp_except, iret_at_cpl3_cannot_raise_iopl_or_privilege)
{
    fx_enter_ring3(FX_USTACK);
    fx_cpu.eflags = HLP_FL_FIXED1;
    fx_wr32(FX_USTACK + 0, 0x500);
    fx_wr32(FX_USTACK + 4, FX_UCODE);
    fx_wr32(FX_USTACK + 8, HLP_FL_FIXED1 | HLP_FL_IOPL | HLP_FL_IF | HLP_FL_CF);
    cr_assert_eq(FX_EXEC(0xCF), FX_OK);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_CF, "IOPL and IF kept at CPL 3, IOPL 0");
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_USTACK + 12);
    /* Returning to ring 0 from ring 3: #GP(selector). */
    fx_wr32(FX_USTACK + 12, 0x500);
    fx_wr32(FX_USTACK + 16, FX_KCODE);
    fx_wr32(FX_USTACK + 20, HLP_FL_FIXED1);
    cr_assert_eq(FX_EXEC(0xCF), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, FX_KCODE);
}

/* Builds the IRET frame of a return to V86 mode at CS:IP 1000:0100. */
static void v86_frame(uint32_t esp, uint32_t iopl)
{
    uint32_t f[9] = {0x0100, 0x1000, HLP_FL_FIXED1 | HLP_FL_VM | HLP_FL_IF | iopl,
                     0xFFF0, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000};
    for (unsigned i = 0; i < 9; i++)
        fx_wr32(esp + 4 * i, f[i]);
}

Test(hlp_except, iret_to_v86_and_interrupt_back)
{
    uint32_t esp = FX_KSTACK - 36;
    v86_frame(esp, 0);
    fx_cpu.gpr[HLP_ESP] = esp;
    cr_assert_eq(FX_EXEC(0xCF), FX_OK);
    cr_assert(hlp_v86(&fx_cpu));
    cr_assert_eq(fx_cpu.cpl, 3);
    cr_assert_eq(fx_cpu.seg[HLP_CS].base, 0x10000);
    cr_assert_eq(fx_cpu.eip, 0x100);
    cr_assert_eq(fx_cpu.seg[HLP_SS].base, 0x20000);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0xFFF0);
    cr_assert_eq(fx_cpu.seg[HLP_ES].base, 0x30000);
    cr_assert_eq(fx_cpu.seg[HLP_GS].base, 0x60000);
    cr_assert_eq(fx_cpu.seg[HLP_DS].limit, 0xFFFF);

    /* IOPL 0: INT n, PUSHF and CLI are #GP(0); INT3 goes to the IDT. */
    cr_assert_eq(FX_EXEC(0xCD, 0x21), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, 0);
    cr_assert_eq(FX_EXEC(0x9C), HLP_VEC_GP);
    cr_assert_eq(FX_EXEC(0xFA), HLP_VEC_GP);
    cr_assert_eq(FX_EXEC(0xCF), HLP_VEC_GP, "IRET in V86 needs IOPL 3");

    cr_assert_eq(fx_deliver(0x40, HLP_NO_ERROR_CODE, HLP_EVENT_EXTERNAL), FX_OK);
    cr_assert(!hlp_v86(&fx_cpu));
    cr_assert_eq(fx_cpu.cpl, 0);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_KSTACK - 36);
    static const uint32_t want[9] = {0x0100, 0x1000, HLP_FL_FIXED1 | HLP_FL_VM | HLP_FL_IF,
                                     0xFFF0, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000};
    for (unsigned i = 0; i < 9; i++)
        cr_assert_eq(frame(i), want[i], "frame[%u] = %x", i, frame(i));
    for (unsigned s = HLP_ES; s <= HLP_GS; s++)
        if (s != HLP_CS && s != HLP_SS)
            cr_assert(fx_cpu.seg[s].attr & HLP_SEG_UNUSABLE, "segment %u nulled", s);
}

Test(hlp_except, v86_with_iopl3)
{
    uint32_t esp = FX_KSTACK - 36;
    v86_frame(esp, HLP_FL_IOPL);
    fx_cpu.gpr[HLP_ESP] = esp;
    cr_assert_eq(FX_EXEC(0xCF), FX_OK);
    cr_assert_eq(FX_EXEC(0xFA), FX_OK, "CLI at IOPL 3");
    cr_assert(!(fx_cpu.eflags & HLP_FL_IF));
    /* PUSHF in V86: 16-bit image without VM. */
    cr_assert_eq(FX_EXEC(0x9C), FX_OK);
    cr_assert_eq(fx_rd16(0x20000 + 0xFFEE), HLP_FL_FIXED1 | HLP_FL_IOPL);
    /* POPF cannot change IOPL in V86 mode. */
    fx_wr16(0x20000 + 0xFFEE, HLP_FL_FIXED1);
    cr_assert_eq(FX_EXEC(0x9D), FX_OK);
    cr_assert_eq(hlp_iopl(&fx_cpu), 3);
    cr_assert(hlp_v86(&fx_cpu));
}

Test(hlp_except, real_mode_ivt)
{
    hlp_cpu_reset(&fx_cpu);
    struct hlp_seg cs = fx_cpu.seg[HLP_CS];
    cs.sel = 0;
    cs.base = 0;
    hlp_set_cs(&fx_cpu, &cs, 0);
    fx_cpu.eip = 0x7C00;
    fx_cpu.gpr[HLP_ESP] = 0x7000;
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_TF;
    fx_wr32(0x21 * 4, 0xF0001234);
    cr_assert_eq(FX_EXEC(0xCD, 0x21), FX_OK);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, 0xF000);
    cr_assert_eq(fx_cpu.seg[HLP_CS].base, 0xF0000);
    cr_assert_eq(fx_cpu.eip, 0x1234);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x7000 - 6);
    cr_assert_eq(fx_rd16(0x7000 - 6), 0x7C02);
    cr_assert_eq(fx_rd16(0x7000 - 4), 0);
    cr_assert_eq(fx_rd16(0x7000 - 2), HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_TF);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1);
    /* IRET (16-bit) back. */
    cr_assert_eq(FX_EXEC(0xCF), FX_OK);
    cr_assert_eq(fx_cpu.eip, 0x7C02);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, 0);
    cr_assert_eq(fx_cpu.eflags, HLP_FL_FIXED1 | HLP_FL_IF | HLP_FL_TF);
}

Test(hlp_except, single_step_trap_after_instruction)
{
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_TF;
    cr_assert_eq(FX_EXEC(0xFA), FX_OK); /* cli */
    hlp_after_insn(&fx_cpu, HLP_FL_FIXED1 | HLP_FL_TF);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_DB * 16);
    cr_assert(fx_cpu.dr[HLP_DR6] & HLP_DR6_BS);
    cr_assert_eq(frame(0), FX_CODE + 1, "trap: the next instruction");
}

Test(hlp_except, data_and_code_breakpoints)
{
    fx_cpu.dr[0] = 0x6000;
    fx_cpu.dr[HLP_DR7] = 0x400 | 0x2 | (1u << 16) | (3u << 18); /* G0, write, 4 bytes */
    cr_assert(hlp_dbg_armed(&fx_cpu));
    hlp_check_data_breakpoint(&fx_cpu, 0x6002, 1, false);
    cr_assert_eq(fx_cpu.dbg_hits, 0, "reads do not match a write breakpoint");
    hlp_check_data_breakpoint(&fx_cpu, 0x5FFF, 2, true);
    cr_assert_eq(fx_cpu.dbg_hits, 1);
    fx_cpu.eip = FX_CODE + 1;
    hlp_after_insn(&fx_cpu, HLP_FL_FIXED1);
    cr_assert_eq(fx_cpu.eip, FX_HANDLER + HLP_VEC_DB * 16);
    cr_assert_eq(fx_cpu.dr[HLP_DR6] & 0xF, 1);

    fx_cpu.dr[1] = FX_CODE;
    fx_cpu.dr[HLP_DR7] = 0x400 | 0x4; /* L1, execute */
    fx_cpu.eip = FX_CODE;
    fx_cpu.eflags = HLP_FL_FIXED1;
    jmp_buf jb;
    jmp_buf *old = fx_cpu.fault_jmp;
    fx_cpu.fault_jmp = &jb;
    int why = setjmp(jb);
    if (!why)
        hlp_check_code_breakpoint(&fx_cpu);
    fx_cpu.fault_jmp = old;
    cr_assert_eq(why, HLP_UNWIND_FAULT);
    cr_assert_eq(fx_cpu.pending_vector, HLP_VEC_DB);
    cr_assert_eq(fx_cpu.dr[HLP_DR6] & 0xF, 2);
    fx_cpu.eflags |= HLP_FL_RF;
    hlp_check_code_breakpoint(&fx_cpu); /* RF suppresses it: returns */
}
