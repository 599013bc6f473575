/* Segment checks at CPL 0 without paging (SDM Vol. 3A 5.3-5.6, Vol. 2A MOV
 * and the protected-mode exception lists): limit violations (#GP(0)
 * through DS, #SS(0) through SS), expand-down data segments, reads of
 * execute-only code through a CS override, writes to code and read-only
 * data, the null selector, loading SS with an unwritable segment, not
 * present segments (#NP(sel) / #SS(sel)) and LDT selectors (TI = 1). */
#include "guest.h"

enum {
    G_SMALL = GDT_FIRST_FREE, /* data RW, base 0, limit 0xFFF */
    G_DOWN,                   /* data RW expand-down, base 64 KiB, limit 0xFFF, B = 1 */
    G_XONLY,                  /* 32-bit code, execute-only, flat */
    G_RO,                     /* data read-only, flat */
    G_CODE_R,                 /* 32-bit code, readable, flat */
    G_NP,                     /* data RW, not present */
    G_STACK,                  /* data RW, limit just above the kernel stack */
};
#define SEL(i) ((uint16_t)((i) << 3))
#define LDT_SEL(i) ((uint16_t)(((i) << 3) | 4))

__asm__(".text\n"
        /* EAX = selector for DS, EDX = offset: reads DS:[EDX]. */
        "s_read_ds:\n"
        "  mov %eax, %ds\n"
        "s_read_ds_insn:\n"
        "  mov (%edx), %eax\n"
        "  mov $0x10, %ecx\n"
        "  mov %ecx, %ds\n"
        "  ret\n"
        /* EAX = selector for DS, EDX = offset: writes DS:[EDX]. */
        "s_write_ds:\n"
        "  mov %eax, %ds\n"
        "s_write_ds_insn:\n"
        "  movl $0x5a5a5a5a, (%edx)\n"
        "  mov $0x10, %ecx\n"
        "  mov %ecx, %ds\n"
        "  ret\n"
        /* EAX = selector for SS, EDX = offset: reads SS:[EBP] with
         * EBP = EDX, ESP left valid (the exception frame must fit). */
        "s_read_ss:\n"
        "  push %ebp\n"
        "  mov %ss, %ecx\n"
        "  mov %edx, %ebp\n"
        "  mov %eax, %ss\n"
        "s_read_ss_insn:\n"
        "  mov (%ebp), %eax\n"
        "  mov %ecx, %ss\n"
        "  pop %ebp\n"
        "  ret\n"
        "s_load_ss:\n"
        "s_load_ss_insn:\n"
        "  mov %eax, %ss\n"
        "  ret\n"
        /* Runs in the execute-only segment: a read through CS. */
        "s_xonly_body:\n"
        "s_xonly_insn:\n"
        "  mov %cs:s_scratch, %eax\n"
        "  ljmp $0x08, $s_xonly_back\n"
        "s_xonly:\n"
        "  ljmp $0x48, $s_xonly_body\n"
        "s_xonly_back:\n"
        "  ret\n"
        /* Runs in the readable code segment: a read through CS. */
        "s_code_r_body:\n"
        "  mov %cs:s_scratch, %eax\n"
        "  ljmp $0x08, $s_code_r_back\n"
        "s_code_r:\n"
        "  ljmp $0x58, $s_code_r_body\n"
        "s_code_r_back:\n"
        "  ret\n"
        ".data\n"
        ".balign 4\n"
        "s_scratch: .long 0x13572468\n"
        ".text\n");

extern uint32_t s_read_ds(uint32_t sel, uint32_t off) __attribute__((regparm(2)));
extern void s_write_ds(uint32_t sel, uint32_t off) __attribute__((regparm(2)));
extern uint32_t s_read_ss(uint32_t sel, uint32_t off) __attribute__((regparm(2)));
extern void s_load_ss(uint32_t sel) __attribute__((regparm(1)));
extern uint32_t s_xonly(void), s_code_r(void);
extern const char s_read_ds_insn[], s_write_ds_insn[], s_read_ss_insn[], s_load_ss_insn[];
extern const char s_xonly_insn[];
extern volatile uint32_t s_scratch;

_Static_assert(SEL(G_XONLY) == 0x48 && SEL(G_CODE_R) == 0x58, "selectors in the asm above");

/* Offsets near 4 GiB wrap to linear addresses just below the base, in RAM. */
#define DOWN_BASE 0x10000u

static volatile uint32_t low_probe[4] __attribute__((aligned(16)));

static void setup(void)
{
    const uint8_t data = DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED;
    const uint8_t code = DESC_P | DESC_S | DESC_CODE | DESC_ACCESSED;
    gdt_set(G_SMALL, desc_make(0, 0xFFF, data, DESC_DB));
    gdt_set(G_DOWN, desc_make(DOWN_BASE, 0xFFF, data | DESC_EXPAND_DOWN, DESC_DB));
    gdt_set(G_XONLY, desc_make(0, 0xFFFFF, code, DESC_G | DESC_DB));
    gdt_set(G_RO, desc_make(0, 0xFFFFF, DESC_P | DESC_S | DESC_ACCESSED, DESC_G | DESC_DB));
    gdt_set(G_CODE_R, desc_make(0, 0xFFFFF, code | DESC_READABLE, DESC_G | DESC_DB));
    gdt_set(G_NP, desc_make(0, 0xFFFFF, data & ~DESC_P, DESC_G | DESC_DB));
    /* 4 KiB granularity: the limit covers the kernel stack, not beyond. */
    uint32_t esp;
    __asm__ volatile("mov %%esp, %0" : "=r"(esp));
    gdt_set(G_STACK, desc_make(0, (esp >> 12) + 1, data, DESC_G | DESC_DB));
    ldt_set(2, desc_make(0, 0xFFFFF, data & ~DESC_P, DESC_G | DESC_DB));
}

static void limit_checks(void)
{
    /* The last byte of the limit is in; a dword ending past it is not
     * (Vol. 3A 5.3: the whole operand must lie within the limit). */
    bool t = TRY_FAULT(s_read_ds(SEL(G_SMALL), 0xFFC));
    check_eq("limit.ds.last_dword_ok", 0, t);
    t = TRY_FAULT(s_read_ds(SEL(G_SMALL), 0xFFD));
    check_trap("limit.ds.straddle", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    t = TRY_FAULT(s_read_ds(SEL(G_SMALL), 0x2000));
    check_trap("limit.ds.beyond", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    /* Through SS: #SS(0) rather than #GP(0). */
    uint32_t stack_limit = (uint32_t)((rt_gdt[G_STACK] & 0xFFFF) |
                                      ((rt_gdt[G_STACK] >> 32) & 0xF0000)) * 4096 + 4095;
    t = TRY_FAULT(s_read_ss(SEL(G_STACK), (uint32_t)&low_probe[0]));
    check_eq("limit.ss.inside_ok", 0, t);
    t = TRY_FAULT(s_read_ss(SEL(G_STACK), stack_limit + 1));
    /* The fault left SS = G_STACK: back to the kernel's. */
    __asm__ volatile("mov %0, %%ss" ::"r"((uint32_t)SEL_KDATA));
    check_trap("limit.ss.beyond", t, VEC_SS, 0, (uint32_t)s_read_ss_insn);
}

/* Expand-down, B = 1: offsets limit+1 .. FFFFFFFFH are valid (Vol. 3A
 * 3.4.5.1). */
static void expand_down_checks(void)
{
    bool t = TRY_FAULT(s_read_ds(SEL(G_DOWN), 0x800));
    check_trap("expdown.below_limit", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    t = TRY_FAULT(s_read_ds(SEL(G_DOWN), 0xFFE));
    check_trap("expdown.straddle_limit", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    s_scratch = 0x2468ACE0;
    volatile uint32_t v = 0;
    t = TRY_FAULT(v = s_read_ds(SEL(G_DOWN), (uint32_t)&s_scratch - DOWN_BASE));
    check_eq("expdown.above_limit_ok", 0, t);
    check_eq("expdown.above_limit_value", 0x2468ACE0, v);
    t = TRY_FAULT(s_read_ds(SEL(G_DOWN), 0xFFFFFFFC));
    check_eq("expdown.top_ok", 0, t);
}

static void type_checks(void)
{
    s_scratch = 0x13572468;
    bool t = TRY_FAULT(s_xonly());
    check_trap("xonly.read_via_cs", t, VEC_GP, 0, (uint32_t)s_xonly_insn);
    check_eq("xonly.read_via_cs.cs", SEL(G_XONLY), trap_last.cs);
    __asm__ volatile("ljmp $0x08, $1f\n1:" ::: "memory");
    volatile uint32_t v = 0;
    t = TRY_FAULT(v = s_code_r());
    check_eq("code_readable.read_via_cs_ok", 0, t);
    check_eq("code_readable.value", 0x13572468, v);
    /* A readable code segment may be loaded into DS, but not written. */
    t = TRY_FAULT(s_write_ds(SEL(G_CODE_R), (uint32_t)&s_scratch));
    check_trap("code.write", t, VEC_GP, 0, (uint32_t)s_write_ds_insn);
    /* An execute-only one cannot even be loaded into DS: #GP(selector). */
    t = TRY_FAULT(s_read_ds(SEL(G_XONLY), 0));
    check_trap("xonly.load_ds", t, VEC_GP, SEL(G_XONLY), (uint32_t)s_read_ds);
    t = TRY_FAULT(s_write_ds(SEL(G_RO), (uint32_t)&s_scratch));
    check_trap("readonly.write", t, VEC_GP, 0, (uint32_t)s_write_ds_insn);
    t = TRY_FAULT(v = s_read_ds(SEL(G_RO), (uint32_t)&s_scratch));
    check_eq("readonly.read_ok", 0, t);
    /* The null selector loads into DS; using it faults with #GP(0). */
    t = TRY_FAULT(s_read_ds(0, (uint32_t)&s_scratch));
    check_trap("null.ds_access", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    t = TRY_FAULT(s_read_ds(3, (uint32_t)&s_scratch));
    check_trap("null_rpl3.ds_access", t, VEC_GP, 0, (uint32_t)s_read_ds_insn);
    /* SS: writable data only, null not at all (Vol. 2A MOV). */
    t = TRY_FAULT(s_load_ss(SEL(G_RO)));
    check_trap("ss.readonly", t, VEC_GP, SEL(G_RO), (uint32_t)s_load_ss_insn);
    t = TRY_FAULT(s_load_ss(SEL(G_CODE_R)));
    check_trap("ss.code", t, VEC_GP, SEL(G_CODE_R), (uint32_t)s_load_ss_insn);
    t = TRY_FAULT(s_load_ss(0));
    check_trap("ss.null", t, VEC_GP, 0, (uint32_t)s_load_ss_insn);
}

static void present_and_ldt_checks(void)
{
    bool t = TRY_FAULT(s_read_ds(SEL(G_NP), 0));
    check_trap("np.ds", t, VEC_NP, SEL(G_NP), (uint32_t)s_read_ds);
    t = TRY_FAULT(s_load_ss(SEL(G_NP)));
    check_trap("np.ss", t, VEC_SS, SEL(G_NP), (uint32_t)s_load_ss_insn);
    /* LDT entry 0 (the runtime's flat data segment) through TI = 1. */
    s_scratch = 0x0BADF00D;
    volatile uint32_t v = 0;
    t = TRY_FAULT(v = s_read_ds(LDT_SEL(0), (uint32_t)&s_scratch));
    check_eq("ldt.data_ok", 0, t);
    check_eq("ldt.data_value", 0x0BADF00D, v);
    t = TRY_FAULT(s_read_ds(LDT_SEL(2), 0));
    check_trap("ldt.not_present", t, VEC_NP, LDT_SEL(2), (uint32_t)s_read_ds);
    /* Index 5 is past the 4-entry LDT's limit: #GP(selector). */
    t = TRY_FAULT(s_read_ds(LDT_SEL(5), 0));
    check_trap("ldt.beyond_limit", t, VEC_GP, LDT_SEL(5), (uint32_t)s_read_ds);
    t = TRY_FAULT(s_read_ds(SEL(GDT_ENTRIES), 0));
    check_trap("gdt.beyond_limit", t, VEC_GP, SEL(GDT_ENTRIES), (uint32_t)s_read_ds);
}

void test_main(void)
{
    setup();
    limit_checks();
    expand_down_checks();
    type_checks();
    present_and_ldt_checks();
}
