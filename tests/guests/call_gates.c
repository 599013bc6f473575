/* Far transfers between privilege levels (SDM Vol. 3A 5.8): CALL through
 * a call gate from ring 3 to ring 0 with the stack switch and parameter
 * copy (5.8.5, Figure 5-13), RETF imm16 back to ring 3 nulling data
 * segment registers the outer level may not use (Vol. 2A RET), JMP to a
 * conforming code segment (CPL unchanged), and the #GP cases. */
#include "guest.h"

NEEDS("pm-iret");

enum {
    G_GATE = GDT_FIRST_FREE, /* call gate, DPL 3, 2 parameters -> ring 0 */
    G_GATE_DPL0,             /* call gate, DPL 0 */
    G_CONFORMING,            /* conforming code, DPL 0 */
};
#define SEL(i) ((uint16_t)((i) << 3))
_Static_assert(SEL(G_GATE) == 0x38 && SEL(G_GATE_DPL0) == 0x40 && SEL(G_CONFORMING) == 0x48,
               "selectors in the asm below");

/* What the ring-0 target saw: its stack (EIP, CS, 2 params, ESP, SS),
 * ESP, CS and SS. */
volatile uint32_t cg_frame[6], cg_esp, cg_cs, cg_ss;

__asm__(".text\n"
        /* Ring 0, entered through the gate. Loads kernel DS/ES (DPL 0)
         * and user FS (DPL 3) so RETF has something to null. */
        "cg_target:\n"
        "  push %eax\n"
        "  push %ecx\n"
        "  mov $0x10, %eax\n"
        "  mov %eax, %ds\n"
        "  mov %eax, %es\n"
        "  mov $0x23, %eax\n"
        "  mov %eax, %fs\n"
        "  xor %ecx, %ecx\n"
        "1:\n"
        "  mov 8(%esp,%ecx,4), %eax\n"
        "  mov %eax, cg_frame(,%ecx,4)\n"
        "  inc %ecx\n"
        "  cmp $6, %ecx\n"
        "  jb 1b\n"
        "  lea 8(%esp), %eax\n"
        "  mov %eax, cg_esp\n"
        "  mov %cs, %eax\n"
        "  mov %eax, cg_cs\n"
        "  mov %ss, %eax\n"
        "  mov %eax, cg_ss\n"
        "  pop %ecx\n"
        "  pop %eax\n"
        "  lret $8\n"
        /* Ring 3: pushes two parameters, calls through the gate; returns
         * ESP after minus before, and DS/ES/FS in the result's halves. */
        "u_gate_call:\n"
        "  mov %esp, %ebx\n"
        "  push $0x11111111\n"
        "  push $0x22222222\n"
        "u_gate_call_insn:\n"
        "  lcall $0x3b, $0\n"
        "u_gate_call_ret:\n"
        /* DS may be null now: the stores go through SS. */
        "  mov %esp, %eax\n"
        "  sub %ebx, %eax\n"
        "  mov %ds, %ecx\n"
        "  mov %ecx, %ss:u_ds\n"
        "  mov %es, %ecx\n"
        "  mov %ecx, %ss:u_es\n"
        "  mov %fs, %ecx\n"
        "  mov %ecx, %ss:u_fs\n"
        "  mov %cs, %ecx\n"
        "  mov %ecx, %ss:u_cs\n"
        "  mov $0x23, %ecx\n"
        "  mov %ecx, %ds\n"
        "  mov %ecx, %es\n"
        "  ret\n"
        "u_gate_dpl0:\n"
        "u_gate_dpl0_insn:\n"
        "  lcall $0x43, $0\n"
        "  ret\n"
        /* JMP to conforming DPL 0 code: CPL stays 3, CS.RPL = 3. */
        "u_conforming:\n"
        "  ljmp $0x4b, $u_conf_body\n"
        "u_conf_body:\n"
        "  mov %cs, %eax\n"
        "  int $0x80\n"
        /* JMP to non-conforming DPL 0 code from ring 3: #GP(selector). */
        "u_jmp_kcode:\n"
        "u_jmp_kcode_insn:\n"
        "  ljmp $0x08, $u_conf_body\n"
        ".data\n"
        ".balign 4\n"
        "u_ds: .long 0\n"
        "u_es: .long 0\n"
        "u_fs: .long 0\n"
        "u_cs: .long 0\n"
        ".text\n");

extern void cg_target(void);
extern uint32_t u_gate_call(uint32_t), u_gate_dpl0(uint32_t), u_conforming(uint32_t);
extern uint32_t u_jmp_kcode(uint32_t);
extern const char u_gate_call_ret[], u_gate_dpl0_insn[], u_jmp_kcode_insn[];
extern volatile uint32_t u_ds, u_es, u_fs, u_cs;

/* Call-gate descriptor: SDM Vol. 3A 5.8.3, Figure 5-8 (type 0CH). */
static uint64_t call_gate(uint16_t sel, uint32_t off, unsigned dpl, unsigned params)
{
    uint64_t g = off & 0xFFFFu;
    g |= (uint64_t)sel << 16;
    g |= (uint64_t)(params & 0x1F) << 32;
    g |= (uint64_t)(0x80u | (dpl << 5) | 0xC) << 40;
    g |= (uint64_t)(off >> 16) << 48;
    return g;
}

void test_main(void)
{
    gdt_set(G_GATE, call_gate(SEL_KCODE, (uint32_t)cg_target, 3, 2));
    gdt_set(G_GATE_DPL0, call_gate(SEL_KCODE, (uint32_t)cg_target, 0, 2));
    gdt_set(G_CONFORMING, desc_make(0, 0xFFFFF,
                                    DESC_P | DESC_S | DESC_CODE | DESC_CONFORMING |
                                        DESC_READABLE | DESC_ACCESSED,
                                    DESC_G | DESC_DB));

    unsigned v = user_run(u_gate_call, 0, 0);
    check_eq("gate.returned", VEC_SYSCALL, v);
    /* RETF 8 popped the two parameters the caller pushed. */
    check_eq("gate.esp_balanced", 0, trap_last.eax);
    check_eq("gate.frame.eip", (uint32_t)u_gate_call_ret, cg_frame[0]);
    check_eq("gate.frame.cs", SEL_UCODE, cg_frame[1]);
    /* Parameters copied in order: the last pushed is nearest the top. */
    check_eq("gate.frame.param0", 0x22222222, cg_frame[2]);
    check_eq("gate.frame.param1", 0x11111111, cg_frame[3]);
    check_eq("gate.frame.ss", SEL_UDATA, cg_frame[5]);
    check_eq("gate.frame.esp", (uint32_t)rt_user_stack_end - 8 - 8, cg_frame[4]);
    check_eq("gate.ring0.cs", SEL_KCODE, cg_cs);
    /* SS:ESP from the TSS ring-0 fields, minus the 6 dwords pushed. */
    check_eq("gate.ring0.ss", SEL_KDATA, cg_ss);
    check_eq("gate.ring0.esp", (uint32_t)rt_ring0_stack_end - 24, cg_esp);
    check_eq("retf.cs", SEL_UCODE, u_cs);
    /* DS and ES held DPL-0 data: nulled on the return to CPL 3; FS (DPL 3)
     * kept. */
    check_eq("retf.ds_nulled", 0, u_ds);
    check_eq("retf.es_nulled", 0, u_es);
    check_eq("retf.fs_kept", SEL_UDATA, u_fs);

    /* A gate with DPL 0 < CPL 3: #GP(gate selector). */
    v = user_run(u_gate_dpl0, 0, 0);
    check_eq("gate_dpl0.vector", VEC_GP, v);
    check_eq("gate_dpl0.error", SEL(G_GATE_DPL0), trap_last.error);
    check_eq("gate_dpl0.eip", (uint32_t)u_gate_dpl0_insn, trap_last.eip);

    v = user_run(u_conforming, 0, 0);
    check_eq("conforming.returned", VEC_SYSCALL, v);
    check_eq("conforming.cs", SEL(G_CONFORMING) | 3, trap_last.eax & 0xFFFF);
    check_eq("conforming.trap_cs", SEL(G_CONFORMING) | 3, trap_last.cs);

    v = user_run(u_jmp_kcode, 0, 0);
    check_eq("jmp_nonconforming.vector", VEC_GP, v);
    check_eq("jmp_nonconforming.error", SEL_KCODE, trap_last.error);
    check_eq("jmp_nonconforming.eip", (uint32_t)u_jmp_kcode_insn, trap_last.eip);
}
