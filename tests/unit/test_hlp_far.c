/* Far transfers: call gates with the stack switch and parameter copy
 * (SDM Vol. 3A 5.8.5), far RET to an outer level (5.8.6), task switches
 * through task gates and TSS descriptors with nesting and IRET (7.3),
 * SYSENTER/SYSEXIT (Vol. 2B) and real-mode far CALL/RET. */
#include "hlp_fixture.h"

TestSuite(hlp_far, .init = fx_setup, .fini = fx_teardown);

static uint32_t stack(unsigned i) { return fx_rd32(fx_cpu.gpr[HLP_ESP] + 4 * i); }

Test(hlp_far, call_gate_to_ring0_copies_parameters)
{
    fx_gdt_set(FX_FREE, fx_gate(0x7777, FX_KCODE, 0xC, 3, 2)); /* 0x40 */
    fx_enter_ring3(FX_USTACK);
    fx_wr32(FX_USTACK, 0x11111111);
    fx_wr32(FX_USTACK + 4, 0x22222222);
    cr_assert_eq(FX_EXEC(0x9A, 0, 0, 0, 0, 0x43, 0), FX_OK); /* call 0x43:0 */
    cr_assert_eq(fx_cpu.cpl, 0);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_KCODE);
    cr_assert_eq(fx_cpu.eip, 0x7777);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_KDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_KSTACK - 24);
    static const uint32_t want[6] = {FX_CODE + 7, FX_UCODE, 0x11111111, 0x22222222,
                                     FX_USTACK, FX_UDATA};
    for (unsigned i = 0; i < 6; i++)
        cr_assert_eq(stack(i), want[i], "stack[%u] = %x", i, stack(i));

    /* ret far 8: back to ring 3, the parameters dropped from its stack. */
    fx_cpu.gpr[HLP_EAX] = FX_KDATA;
    cr_assert_eq(FX_EXEC(0x8E, 0xE0), FX_OK); /* mov fs, ax: nulled on return */
    cr_assert_eq(FX_EXEC(0xCA, 0x08, 0x00), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 3);
    cr_assert_eq(fx_cpu.eip, FX_CODE + 7);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_UDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], FX_USTACK + 8);
    cr_assert(fx_cpu.seg[HLP_FS].attr & HLP_SEG_UNUSABLE);
}

Test(hlp_far, call_gate_checks)
{
    fx_gdt_set(FX_FREE, fx_gate(0x7777, FX_KCODE, 0xC, 0, 0));
    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(FX_EXEC(0x9A, 0, 0, 0, 0, 0x43, 0), HLP_VEC_GP, "gate DPL 0 < CPL 3");
    cr_assert_eq(fx_cpu.pending_error, 0x40);
    fx_gdt_set(FX_FREE, fx_gate(0x7777, FX_KCODE, 0xC, 3, 0) & ~(1ull << 47));
    cr_assert_eq(FX_EXEC(0x9A, 0, 0, 0, 0, 0x43, 0), HLP_VEC_NP);
    cr_assert_eq(fx_cpu.pending_error, 0x40);
    /* JMP through a call gate to a more privileged segment: #GP(code sel). */
    fx_gdt_set(FX_FREE, fx_gate(0x7777, FX_KCODE, 0xC, 3, 0));
    cr_assert_eq(FX_EXEC(0xEA, 0, 0, 0, 0, 0x43, 0), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, FX_KCODE);
    cr_assert_eq(fx_cpu.cpl, 3);
}

Test(hlp_far, far_jmp_direct)
{
    cr_assert_eq(FX_EXEC(0xEA, 0, 0, 0, 0, FX_UCODE, 0), HLP_VEC_GP, "non-conforming DPL 3");
    cr_assert_eq(fx_cpu.pending_error, FX_UCODE & ~3);
    cr_assert_eq(FX_EXEC(0xEA, 0x44, 0x33, 0x22, 0x11, FX_KCODE, 0), FX_OK);
    cr_assert_eq(fx_cpu.eip, 0x11223344);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_KCODE);
}

/* The second task's TSS: EIP 0x20000, EAX 0xAAAA, kernel segments. */
static void fill_tss2(void)
{
    fx_wr32(FX_TSS2 + 0x20, 0x20000);
    fx_wr32(FX_TSS2 + 0x24, HLP_FL_FIXED1);
    fx_wr32(FX_TSS2 + 0x28, 0xAAAA);
    fx_wr32(FX_TSS2 + 0x38, 0x8800);
    static const uint16_t segs[6] = {FX_KDATA, FX_KCODE, FX_KDATA, FX_KDATA, FX_KDATA, FX_KDATA};
    for (unsigned s = 0; s < 6; s++)
        fx_wr32(FX_TSS2 + 0x48 + 4 * s, segs[s]);
    fx_wr32(FX_TSS2 + 0x60, 0);
}

static unsigned gdt_type(uint16_t sel) { return (fx_gdt_get(sel >> 3) >> 40) & 0xF; }

Test(hlp_far, jmp_through_task_gate)
{
    fill_tss2();
    fx_gdt_set(FX_FREE, fx_gate(0, FX_TSS2_SEL, 0x5, 0, 0)); /* task gate 0x40 */
    fx_cpu.gpr[HLP_EAX] = 0x1234;
    cr_assert_eq(FX_EXEC(0xEA, 0, 0, 0, 0, 0x40, 0), FX_OK);
    cr_assert_eq(fx_cpu.tr.sel, FX_TSS2_SEL);
    cr_assert_eq(fx_cpu.eip, 0x20000);
    cr_assert_eq(fx_cpu.gpr[HLP_EAX], 0xAAAA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x8800);
    cr_assert(fx_cpu.cr0 & HLP_CR0_TS);
    cr_assert(!(fx_cpu.eflags & HLP_FL_NT), "JMP does not nest");
    cr_assert_eq(fx_rd32(FX_TSS + 0x20), FX_CODE + 7, "old task saved after the JMP");
    cr_assert_eq(fx_rd32(FX_TSS + 0x28), 0x1234);
    cr_assert_eq(gdt_type(FX_TSS_SEL), 0x9, "old TSS no longer busy");
    cr_assert_eq(gdt_type(FX_TSS2_SEL), 0xB, "new TSS busy");
    /* Jumping to a busy TSS is #GP(selector). */
    cr_assert_eq(FX_EXEC(0xEA, 0, 0, 0, 0, FX_TSS2_SEL, 0), HLP_VEC_GP);
    cr_assert_eq(fx_cpu.pending_error, FX_TSS2_SEL);
}

Test(hlp_far, call_task_then_iret_returns)
{
    fill_tss2();
    cr_assert_eq(FX_EXEC(0x9A, 0, 0, 0, 0, FX_TSS2_SEL, 0), FX_OK);
    cr_assert_eq(fx_cpu.tr.sel, FX_TSS2_SEL);
    cr_assert(fx_cpu.eflags & HLP_FL_NT);
    cr_assert_eq(fx_rd16(FX_TSS2), FX_TSS_SEL, "back link");
    cr_assert_eq(gdt_type(FX_TSS_SEL), 0xB, "CALL keeps the caller busy");
    fx_cpu.gpr[HLP_EAX] = 0xBBBB;
    cr_assert_eq(FX_EXEC(0xCF), FX_OK); /* iretd with NT: task return */
    cr_assert_eq(fx_cpu.tr.sel, FX_TSS_SEL);
    cr_assert_eq(fx_cpu.eip, FX_CODE + 7);
    cr_assert_eq(gdt_type(FX_TSS2_SEL), 0x9);
    cr_assert_eq(fx_rd32(FX_TSS2 + 0x28), 0xBBBB, "the returning task saved");
    cr_assert_eq(fx_rd32(FX_TSS2 + 0x20), 0x20001, "after its IRET");
    cr_assert(!(fx_rd32(FX_TSS2 + 0x24) & HLP_FL_NT), "NT cleared in its image");
}

Test(hlp_far, interrupt_through_task_gate_pushes_error)
{
    fill_tss2();
    fx_idt_set(HLP_VEC_GP, fx_gate(0, FX_TSS2_SEL, 0x5, 0, 0));
    cr_assert_eq(fx_deliver(HLP_VEC_GP, 0x18, HLP_EVENT_EXCEPTION), FX_OK);
    cr_assert_eq(fx_cpu.tr.sel, FX_TSS2_SEL);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x8800 - 4);
    cr_assert_eq(fx_rd32(0x8800 - 4), 0x18);
    cr_assert(fx_cpu.eflags & HLP_FL_NT);
}

Test(hlp_far, sysenter_sysexit)
{
    fx_enter_ring3(FX_USTACK);
    cr_assert_eq(FX_EXEC(0x0F, 0x34), HLP_VEC_GP, "SYSENTER_CS = 0");
    fx_cpu.sysenter_cs = FX_KCODE;
    fx_cpu.sysenter_esp = 0x9000;
    fx_cpu.sysenter_eip = 0x5555;
    fx_cpu.eflags = HLP_FL_FIXED1 | HLP_FL_IF;
    cr_assert_eq(FX_EXEC(0x0F, 0x34), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 0);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_KCODE);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_KDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x9000);
    cr_assert_eq(fx_cpu.eip, 0x5555);
    cr_assert(!(fx_cpu.eflags & HLP_FL_IF));
    fx_cpu.gpr[HLP_ECX] = 0x7000;
    fx_cpu.gpr[HLP_EDX] = 0x400000;
    cr_assert_eq(FX_EXEC(0x0F, 0x35), FX_OK);
    cr_assert_eq(fx_cpu.cpl, 3);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, FX_UCODE);
    cr_assert_eq(fx_cpu.seg[HLP_SS].sel, FX_UDATA);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x7000);
    cr_assert_eq(fx_cpu.eip, 0x400000);
    cr_assert_eq(FX_EXEC(0x0F, 0x35), HLP_VEC_GP, "SYSEXIT at CPL 3");
}

Test(hlp_far, real_mode_far_call_and_ret)
{
    hlp_cpu_reset(&fx_cpu);
    struct hlp_seg cs = fx_cpu.seg[HLP_CS];
    cs.sel = 0;
    cs.base = 0;
    hlp_set_cs(&fx_cpu, &cs, 0);
    fx_cpu.eip = 0x7C00;
    fx_cpu.gpr[HLP_ESP] = 0x7000;
    cr_assert_eq(FX_EXEC(0x9A, 0x10, 0x00, 0x00, 0x10), FX_OK); /* call 1000:0010 */
    cr_assert_eq(fx_cpu.seg[HLP_CS].base, 0x10000);
    cr_assert_eq(fx_cpu.eip, 0x10);
    cr_assert_eq(fx_rd16(0x7000 - 4), 0x7C05);
    cr_assert_eq(fx_rd16(0x7000 - 2), 0);
    cr_assert_eq(FX_EXEC(0xCB), FX_OK); /* retf */
    cr_assert_eq(fx_cpu.eip, 0x7C05);
    cr_assert_eq(fx_cpu.seg[HLP_CS].sel, 0);
    cr_assert_eq(fx_cpu.gpr[HLP_ESP], 0x7000);
}
