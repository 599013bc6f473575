/* Faults at CPL 0 without paging: vector, error code and saved EIP (that of
 * the faulting instruction), SDM Vol. 3A 6.5 and 6.15. Each case is a small
 * assembly routine whose faulting instruction carries a label, so the
 * expected EIP is exact. INT3, INTO and INT n are in softint.c; #PF is in
 * pagefault.c. */
#include "guest.h"

enum {
    GDT_EXEC_ONLY = GDT_FIRST_FREE, /* code, execute-only */
    GDT_NOT_PRESENT,                /* data, P = 0 */
    GDT_READ_ONLY,                  /* data, not writable */
    GDT_NOT_ACCESSED,               /* data, accessed bit clear */
};
#define SEL(i) ((uint16_t)((i) << 3))

__asm__(".text\n"
        "x_div0:\n"
        "  xor %edx, %edx\n"
        "  mov $7, %eax\n"
        "  xor %ecx, %ecx\n"
        "x_div0_insn:\n"
        "  divl %ecx\n"
        "  ret\n"
        /* INT_MIN / -1 does not fit: #DE as well (SDM Vol. 2A IDIV). */
        "x_idiv_overflow:\n"
        "  mov $0x80000000, %eax\n"
        "  cdq\n"
        "  mov $-1, %ecx\n"
        "x_idiv_overflow_insn:\n"
        "  idivl %ecx\n"
        "  ret\n"
        "x_ud2:\n"
        "x_ud2_insn:\n"
        "  ud2\n"
        "  ret\n"
        /* LOCK on an instruction that cannot take it (SDM Vol. 2A LOCK). */
        "x_lock_nop:\n"
        "x_lock_nop_insn:\n"
        "  .byte 0xf0, 0x90\n"
        "  ret\n"
        /* A selector beyond the GDT limit: #GP(selector) (SDM Vol. 2A MOV,
         * protected-mode exceptions). */
        "x_bad_selector:\n"
        "  mov $0x80, %eax\n"
        "x_bad_selector_insn:\n"
        "  mov %eax, %ds\n"
        "  ret\n"
        /* Arg in EAX: a selector to load into DS. */
        "x_load_ds:\n"
        "x_load_ds_insn:\n"
        "  mov %eax, %ds\n"
        "  mov $0x10, %eax\n"
        "  mov %eax, %ds\n"
        "  ret\n"
        "x_load_ss:\n"
        "x_load_ss_insn:\n"
        "  mov %eax, %ss\n"
        "  ret\n"
        ".data\n"
        ".balign 4\n"
        "x_scratch: .long 0\n"
        ".text\n");

extern void x_div0(void), x_idiv_overflow(void), x_ud2(void), x_lock_nop(void);
extern void x_bad_selector(void);
extern void x_load_ds(uint32_t sel) __attribute__((regparm(1)));
extern void x_load_ss(uint32_t sel) __attribute__((regparm(1)));
extern const char x_div0_insn[], x_idiv_overflow_insn[], x_ud2_insn[], x_lock_nop_insn[];
extern const char x_bad_selector_insn[], x_load_ds_insn[], x_load_ss_insn[];
extern volatile uint32_t x_scratch;

static void divide_faults(void)
{
    bool t = TRY_FAULT(x_div0());
    check_trap("de.div_by_zero", t, VEC_DE, 0, (uint32_t)x_div0_insn);
    check_eq("de.div_by_zero.cs", SEL_KCODE, trap_last.cs);
    /* A fault leaves the state as before the instruction: EAX unchanged. */
    check_eq("de.div_by_zero.eax_kept", 7, trap_last.eax);
    t = TRY_FAULT(x_idiv_overflow());
    check_trap("de.idiv_overflow", t, VEC_DE, 0, (uint32_t)x_idiv_overflow_insn);
}

static void invalid_opcodes(void)
{
    bool t = TRY_FAULT(x_ud2());
    check_trap("ud.ud2", t, VEC_UD, 0, (uint32_t)x_ud2_insn);
    t = TRY_FAULT(x_lock_nop());
    check_trap("ud.lock_nop", t, VEC_UD, 0, (uint32_t)x_lock_nop_insn);
}

static void segment_faults(void)
{
    const uint8_t code = DESC_P | DESC_S | DESC_CODE | DESC_ACCESSED;
    const uint8_t data = DESC_P | DESC_S | DESC_ACCESSED;
    gdt_set(GDT_EXEC_ONLY, desc_make(0, 0xFFFFF, code, DESC_G | DESC_DB));
    gdt_set(GDT_NOT_PRESENT,
            desc_make(0, 0xFFFFF, (data | DESC_WRITABLE) & ~DESC_P, DESC_G | DESC_DB));
    gdt_set(GDT_READ_ONLY, desc_make(0, 0xFFFFF, data, DESC_G | DESC_DB));

    bool t = TRY_FAULT(x_bad_selector());
    check_trap("gp.selector_beyond_gdt_limit", t, VEC_GP, 0x80, (uint32_t)x_bad_selector_insn);
    /* Loading DS with an execute-only code segment: #GP(selector). */
    t = TRY_FAULT(x_load_ds(SEL(GDT_EXEC_ONLY)));
    check_trap("gp.ds_execute_only", t, VEC_GP, SEL(GDT_EXEC_ONLY), (uint32_t)x_load_ds_insn);
    /* The RPL of a selector is not part of the error code (SDM Vol. 3A 6.13). */
    t = TRY_FAULT(x_load_ds(SEL(GDT_EXEC_ONLY) | 3));
    check_trap("gp.ds_execute_only_rpl3", t, VEC_GP, SEL(GDT_EXEC_ONLY),
               (uint32_t)x_load_ds_insn);
    t = TRY_FAULT(x_load_ds(SEL(GDT_NOT_PRESENT)));
    check_trap("np.ds_not_present", t, VEC_NP, SEL(GDT_NOT_PRESENT), (uint32_t)x_load_ds_insn);
    /* SS needs RPL = DPL = CPL: the ring-3 data segment at CPL 0 is #GP. */
    t = TRY_FAULT(x_load_ss(SEL_UDATA));
    check_trap("gp.ss_dpl3_at_cpl0", t, VEC_GP, SEL_UDATA & ~3u, (uint32_t)x_load_ss_insn);
    /* A read-only data segment is fine for DS. */
    check_eq("ds_read_only.no_trap", 0, TRY_FAULT(x_load_ds(SEL(GDT_READ_ONLY))));
    /* The null selector loads into DS without a fault (SDM Vol. 3A 3.4.2). */
    check_eq("ds_null.no_trap", 0, TRY_FAULT(x_load_ds(0)));
    /* Loading a selector sets the descriptor's accessed bit in memory
     * (SDM Vol. 3A 3.4.5.1). */
    gdt_set(GDT_NOT_ACCESSED,
            desc_make(0, 0xFFFFF, (data | DESC_WRITABLE) & ~DESC_ACCESSED, DESC_G | DESC_DB));
    check_eq("ds_load.no_trap", 0, TRY_FAULT(x_load_ds(SEL(GDT_NOT_ACCESSED))));
    check_eq("ds_load.sets_accessed", DESC_ACCESSED,
             (uint32_t)(rt_gdt[GDT_NOT_ACCESSED] >> 40) & DESC_ACCESSED);
}

void test_main(void)
{
    divide_faults();
    invalid_opcodes();
    segment_faults();
    check_eq("fault_catch.no_trap", 0, TRY_FAULT(x_scratch = 2));
    check_eq("fault_catch.stmt_ran", 2, x_scratch);
}
