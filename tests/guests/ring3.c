/* Ring 3 and back: IRET to CPL 3, INT n through DPL 3 gates with the TSS
 * stack switch, IRET back to CPL 3, and the privilege checks on the way
 * (SDM Vol. 3A 5.8-5.9, 6.12.1, 7.2; Vol. 2A INT n and IRET). */
#include "guest.h"

NEEDS("pm-iret");

#define VEC_INTGATE_PROBE 0x82
#define IRET_FRAME_BYTES 20 /* SS, ESP, EFLAGS, CS, EIP */

static uint8_t alt_stack[4096] __attribute__((aligned(16)));

__asm__(".text\n"
        "u_syscall:\n"
        "  mov $20, %eax\n"
        "  int $0x81\n"
        "  ret\n"
        /* ESP after the round trip minus before: IRET restores it. */
        "u_esp_kept:\n"
        "  mov %esp, %ecx\n"
        "  int $0x81\n"
        "  mov %esp, %eax\n"
        "  sub %ecx, %eax\n"
        "  ret\n"
        "u_fs_gs:\n"
        "  xor %eax, %eax\n"
        "  mov %fs, %ax\n"
        "  shl $16, %eax\n"
        "  mov %gs, %ax\n"
        "  ret\n"
        "u_ds_es:\n"
        "  xor %eax, %eax\n"
        "  mov %ds, %ax\n"
        "  shl $16, %eax\n"
        "  mov %es, %ax\n"
        "  ret\n"
        "u_cs_ss:\n"
        "  xor %eax, %eax\n"
        "  mov %cs, %ax\n"
        "  shl $16, %eax\n"
        "  mov %ss, %ax\n"
        "  ret\n"
        "u_if_probe:\n"
        "  int $0x82\n"
        "  int $0x81\n"
        "  ret\n"
        "u_int_dpl0:\n"
        "u_int_dpl0_insn:\n"
        "  int $0x21\n"
        "  ret\n"
        "u_int3:\n"
        "u_int3_insn:\n"
        "  int3\n"
        "  ret\n"
        "u_hlt:\n"
        "u_hlt_insn:\n"
        "  hlt\n"
        "  ret\n"
        "u_read_cr0:\n"
        "u_read_cr0_insn:\n"
        "  mov %cr0, %eax\n"
        "  ret\n"
        "u_load_kernel_ds:\n"
        "  mov $0x10, %eax\n"
        "u_load_kernel_ds_insn:\n"
        "  mov %eax, %ds\n"
        "  ret\n");
extern uint32_t u_syscall(uint32_t), u_esp_kept(uint32_t), u_fs_gs(uint32_t);
extern uint32_t u_ds_es(uint32_t), u_cs_ss(uint32_t), u_if_probe(uint32_t);
extern uint32_t u_int_dpl0(uint32_t), u_int3(uint32_t), u_hlt(uint32_t);
extern uint32_t u_read_cr0(uint32_t), u_load_kernel_ds(uint32_t);
extern const char u_int_dpl0_insn[], u_int3_insn[], u_hlt_insn[], u_read_cr0_insn[];
extern const char u_load_kernel_ds_insn[];

static volatile uint32_t trap_gate_eflags, trap_gate_ss, int_gate_eflags;

static uint32_t user_return(uint32_t arg) { return arg ^ 0xFFFF; }

/* DPL 3 trap gate: computes 2 * EAX + 1 and returns to CPL 3 by IRET. */
static void trap_gate_handler(struct trap_frame *f)
{
    uint32_t ss;
    __asm__ volatile("xor %0, %0; mov %%ss, %w0" : "=r"(ss));
    trap_gate_eflags = read_eflags();
    trap_gate_ss = ss;
    f->eax = f->eax * 2 + 1;
}

static void int_gate_handler(struct trap_frame *f)
{
    (void)f;
    int_gate_eflags = read_eflags();
}

static void round_trip(void)
{
    unsigned v = user_run(user_return, 0x1234, 0);
    check_eq("exit.vector", VEC_SYSCALL, v);
    check_eq("exit.result", 0x1234 ^ 0xFFFF, trap_last.eax);
    check_eq("exit.saved_cs", SEL_UCODE, trap_last.cs);
    check_eq("exit.saved_cs_rpl", 3, trap_last.cs & 3);
    check_eq("exit.saved_ss", SEL_UDATA, trap_last.ss);
    /* The return popped the exit stub's address; the argument is left. */
    check_eq("exit.saved_esp", (uint32_t)rt_user_stack_end - 4, trap_last.esp);
    check_eq("exit.saved_eip", (uint32_t)rt_user_exit_stub + 2, trap_last.eip);
    /* The CPU switched to SS0:ESP0 from the TSS and pushed five dwords. */
    check_eq("exit.ring0_frame", rt_tss.esp0 - IRET_FRAME_BYTES, trap_last.frame);

    /* ESP0 is read from the TSS at every switch. */
    uint32_t saved_esp0 = rt_tss.esp0;
    rt_tss.esp0 = (uint32_t)alt_stack + sizeof(alt_stack);
    user_run(user_return, 0, 0);
    check_eq("exit.ring0_frame_alt_esp0",
             (uint32_t)alt_stack + sizeof(alt_stack) - IRET_FRAME_BYTES, trap_last.frame);
    rt_tss.esp0 = saved_esp0;
}

static void syscalls(void)
{
    idt_set_handler(VEC_SYSCALL_TRAP, trap_gate_handler);
    idt_set_gate(VEC_INTGATE_PROBE, idt_stub(VEC_INTGATE_PROBE), SEL_KCODE, GATE_INT32, 3, true);
    idt_set_handler(VEC_INTGATE_PROBE, int_gate_handler);

    check_eq("syscall.vector", VEC_SYSCALL, user_run(u_syscall, 0, 0));
    check_eq("syscall.result", 41, trap_last.eax);
    check_eq("syscall.handler_ss", SEL_KDATA, trap_gate_ss);
    check_eq("syscall.esp_kept", 0, (user_run(u_esp_kept, 0, 0), trap_last.eax));
    /* An interrupt gate clears IF, a trap gate leaves it (SDM Vol. 3A 6.12.1.3). */
    user_run(u_if_probe, 0, FL_IF);
    check_eq("syscall.interrupt_gate_if", 0, int_gate_eflags & FL_IF);
    check_eq("syscall.trap_gate_if", FL_IF, trap_gate_eflags & FL_IF);

    idt_set_handler(VEC_SYSCALL_TRAP, NULL);
    idt_set_handler(VEC_INTGATE_PROBE, NULL);
}

static void segments_at_cpl3(void)
{
    user_run(u_cs_ss, 0, 0);
    check_eq("cpl3.cs_ss", (SEL_UCODE << 16) | SEL_UDATA, trap_last.eax);
    user_run(u_ds_es, 0, 0);
    check_eq("cpl3.ds_es", (SEL_UDATA << 16) | SEL_UDATA, trap_last.eax);
    /* FS and GS held the DPL 0 data segment: IRET to CPL 3 nulls them. */
    user_run(u_fs_gs, 0, 0);
    check_eq("cpl3.fs_gs_nulled", 0, trap_last.eax);
    /* DPL 0 data is out of reach from CPL 3: #GP(selector). */
    unsigned v = user_run(u_load_kernel_ds, 0, 0);
    check_eq("cpl3.load_kernel_ds.vector", VEC_GP, v);
    check_eq("cpl3.load_kernel_ds.error", SEL_KDATA, trap_last.error);
    check_eq("cpl3.load_kernel_ds.eip", (uint32_t)u_load_kernel_ds_insn, trap_last.eip);
}

static void privilege_faults(void)
{
    /* INT n from CPL 3 through a DPL 0 gate: #GP(n * 8 + 2). */
    unsigned v = user_run(u_int_dpl0, 0, 0);
    check_eq("cpl3.int_dpl0_gate.vector", VEC_GP, v);
    check_eq("cpl3.int_dpl0_gate.error", 0x21 * 8 + 2, trap_last.error);
    check_eq("cpl3.int_dpl0_gate.eip", (uint32_t)u_int_dpl0_insn, trap_last.eip);
    v = user_run(u_int3, 0, 0);
    check_eq("cpl3.int3_dpl0_gate.vector", VEC_GP, v);
    check_eq("cpl3.int3_dpl0_gate.error", VEC_BP * 8 + 2, trap_last.error);
    check_eq("cpl3.int3_dpl0_gate.eip", (uint32_t)u_int3_insn, trap_last.eip);
    /* With a DPL 3 gate, INT3 from CPL 3 is the #BP trap. */
    idt_set_gate(VEC_BP, idt_stub(VEC_BP), SEL_KCODE, GATE_INT32, 3, true);
    v = user_run(u_int3, 0, 0);
    check_eq("cpl3.int3_dpl3_gate.vector", VEC_BP, v);
    check_eq("cpl3.int3_dpl3_gate.eip", (uint32_t)u_int3_insn + 1, trap_last.eip);
    idt_set_gate(VEC_BP, idt_stub(VEC_BP), SEL_KCODE, GATE_INT32, 0, true);
    /* Privileged instructions at CPL 3: #GP(0) (SDM Vol. 3A 5.9). */
    v = user_run(u_hlt, 0, 0);
    check_eq("cpl3.hlt.vector", VEC_GP, v);
    check_eq("cpl3.hlt.error", 0, trap_last.error);
    check_eq("cpl3.hlt.eip", (uint32_t)u_hlt_insn, trap_last.eip);
    v = user_run(u_read_cr0, 0, 0);
    check_eq("cpl3.mov_from_cr0.vector", VEC_GP, v);
    check_eq("cpl3.mov_from_cr0.eip", (uint32_t)u_read_cr0_insn, trap_last.eip);
}

void test_main(void)
{
    round_trip();
    syscalls();
    segments_at_cpl3();
    privilege_faults();
    /* Back at CPL 0 with the kernel's code segment. */
    uint32_t cs = 0;
    __asm__ volatile("mov %%cs, %w0" : "+r"(cs));
    check_eq("after.cs", SEL_KCODE, cs);
}
