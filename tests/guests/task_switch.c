/* Hardware task switching between 32-bit TSSs (SDM Vol. 3A 7.3, Table
 * 7-1): CALL and JMP to a TSS descriptor and through a task gate, IRET
 * with NT set back to the caller, the busy bits (7.2.2), the previous task
 * link (7.4), CR0.TS (2.5), the state saved into the old TSS and loaded
 * from the new one (7.3 steps 10-12), and the #TS and #GP cases. Paging
 * stays off: CR3 and the task gate for #DF are in double_fault_task.c. */
#include "guest.h"

NEEDS("pm-iret");

enum {
    G_TSS_B = GDT_FIRST_FREE, /* 32-bit TSS of task B */
    G_GATE_B,                 /* task gate -> task B */
    G_TSS_SMALL,              /* 32-bit TSS with limit 0x66 < 0x67 */
    G_DATA2,                  /* flat data, a second selector */
};
#define SEL(i) ((uint16_t)((i) << 3))
#define SEL_B SEL(G_TSS_B)
#define SEL_DATA2 SEL(G_DATA2)
_Static_assert(SEL_DATA2 == 0x50, "G_DATA2 selector in the asm below");
/* TSS fields the asm below writes (Figure 7-2). */
_Static_assert(offsetof(struct tss32, ebx) == 0x34, "TSS EBX");
/* TSS descriptor types (SDM Vol. 3A 3.5, Table 3-2). */
#define TYPE_TSS32_AVL 0x9u
#define TYPE_TSS32_BUSY 0xBu
#define TYPE_TASK_GATE 0x5u

struct tss32 tss_b __attribute__((aligned(128)));
struct tss32 tss_small __attribute__((aligned(128)));
static uint8_t stack_b[2048] __attribute__((aligned(16)));

/* What task B saw on entry: EAX..EDI (PUSHA order), EFLAGS, CS SS DS ES
 * FS GS, TR, LDTR, CR0, the high dwords of the GDT entries of the main
 * task and of B, and B's link field. */
volatile uint32_t tb_regs[8], tb_eflags, tb_segs[6], tb_tr, tb_ldtr, tb_cr0;
volatile uint32_t tb_gdt_main, tb_gdt_b, tb_link, tb_runs;
/* The main task after the switch back: EAX..EDI, EFLAGS, FS, GS; and
 * its ESP just before the switch. */
volatile uint32_t ts_after[8], ts_after_eflags, ts_after_fs, ts_after_gs, ts_esp;
/* Far pointer of the CALL/JMP: offset (ignored for a TSS), selector. */
volatile uint32_t ts_far[2];

/* Task B records what it sees, changes the EBX saved in the main task's
 * TSS (which the return must load) and gives its own registers known
 * values, which the switch back must save into tss_b. */
#define TB_RECORD                                                            \
    "  mov %eax, tb_regs+0\n"                                                \
    "  mov %ecx, tb_regs+4\n"                                                \
    "  mov %edx, tb_regs+8\n"                                                \
    "  mov %ebx, tb_regs+12\n"                                               \
    "  mov %esp, tb_regs+16\n"                                               \
    "  mov %ebp, tb_regs+20\n"                                               \
    "  mov %esi, tb_regs+24\n"                                               \
    "  mov %edi, tb_regs+28\n"                                               \
    "  pushf\n"                                                              \
    "  popl tb_eflags\n"                                                     \
    "  mov %cs, tb_segs+0\n"                                                 \
    "  mov %ss, tb_segs+4\n"                                                 \
    "  mov %ds, tb_segs+8\n"                                                 \
    "  mov %es, tb_segs+12\n"                                                \
    "  mov %fs, tb_segs+16\n"                                                \
    "  mov %gs, tb_segs+20\n"                                                \
    "  str %eax\n"                                                           \
    "  mov %eax, tb_tr\n"                                                    \
    "  sldt %eax\n"                                                          \
    "  mov %eax, tb_ldtr\n"                                                  \
    "  mov %cr0, %eax\n"                                                     \
    "  mov %eax, tb_cr0\n"                                                   \
    "  mov rt_gdt+5*8+4, %eax\n"                                             \
    "  mov %eax, tb_gdt_main\n"                                              \
    "  mov rt_gdt+7*8+4, %eax\n"                                             \
    "  mov %eax, tb_gdt_b\n"                                                 \
    "  mov tss_b, %eax\n"                                                    \
    "  mov %eax, tb_link\n"                                                  \
    "  incl tb_runs\n"                                                       \
    "  movl $0x4444AAAA, rt_tss+0x34\n"                                      \
    "  mov $0xB0B0B0B0, %eax\n"                                              \
    "  mov $0xB1B1B1B1, %ecx\n"                                              \
    "  cmp %eax, %eax\n"

/* The main task's side: known registers, FS and GS, then the switch; on
 * return, everything it finds. */
#define TS_SWITCH(name, insn)                                                \
    ".globl " #name "\n" #name ":\n"                                         \
    "  push %ebx\n"                                                          \
    "  push %esi\n"                                                          \
    "  push %edi\n"                                                          \
    "  push %ebp\n"                                                          \
    "  mov $0x50, %eax\n"                                                    \
    "  mov %eax, %fs\n"                                                      \
    "  mov $0x23, %eax\n"                                                    \
    "  mov %eax, %gs\n"                                                      \
    "  mov %esp, ts_esp\n"                                                   \
    "  mov $0x11111111, %eax\n"                                              \
    "  mov $0x22222222, %ecx\n"                                              \
    "  mov $0x33333333, %edx\n"                                              \
    "  mov $0x44444444, %ebx\n"                                              \
    "  mov $0x55555555, %ebp\n"                                              \
    "  mov $0x66666666, %esi\n"                                              \
    "  mov $0x77777777, %edi\n"                                              \
    "  cmp %eax, %eax\n"                                                     \
    "  " insn " *ts_far\n"                                                   \
    #name "_ret:\n"                                                          \
    "  mov %eax, ts_after+0\n"                                               \
    "  mov %ecx, ts_after+4\n"                                               \
    "  mov %edx, ts_after+8\n"                                               \
    "  mov %ebx, ts_after+12\n"                                              \
    "  mov %esp, ts_after+16\n"                                              \
    "  mov %ebp, ts_after+20\n"                                              \
    "  mov %esi, ts_after+24\n"                                              \
    "  mov %edi, ts_after+28\n"                                              \
    "  pushf\n"                                                              \
    "  popl ts_after_eflags\n"                                               \
    "  mov %fs, %eax\n"                                                      \
    "  mov %eax, ts_after_fs\n"                                              \
    "  mov %gs, %eax\n"                                                      \
    "  mov %eax, ts_after_gs\n"                                              \
    "  mov $0x10, %eax\n"                                                    \
    "  mov %eax, %fs\n"                                                      \
    "  mov %eax, %gs\n"                                                      \
    "  pop %ebp\n"                                                           \
    "  pop %edi\n"                                                           \
    "  pop %esi\n"                                                           \
    "  pop %ebx\n"                                                           \
    "  ret\n"

__asm__(".text\n"
        /* Task B for CALL: back by IRET (NT is set), again from the top
         * the next time it is entered. */
        "tb_call_entry:\n" TB_RECORD
        "  iret\n"
        "tb_call_after_iret:\n"
        "  jmp tb_call_entry\n"
        /* Task B for JMP: back by a JMP to the main task's TSS. */
        "tb_jmp_entry:\n" TB_RECORD
        "  ljmp $0x28, $0\n"
        "tb_jmp_after:\n"
        "  jmp tb_jmp_entry\n"
        TS_SWITCH(ts_call, "lcall")
        TS_SWITCH(ts_jmp, "ljmp")
        /* A switch that must fault before anything changes. */
        "ts_bad_jmp:\n"
        "ts_bad_jmp_insn:\n"
        "  ljmp *ts_far\n"
        "  ret\n"
        "ts_bad_call:\n"
        "ts_bad_call_insn:\n"
        "  lcall *ts_far\n"
        "  ret\n");

extern void ts_call(void), ts_jmp(void), ts_bad_jmp(void), ts_bad_call(void);
extern const char ts_call_ret[], ts_jmp_ret[], tb_call_entry[], tb_call_after_iret[];
extern const char tb_jmp_entry[], tb_jmp_after[], ts_bad_jmp_insn[], ts_bad_call_insn[];

static const uint32_t main_regs[8] = {0x11111111, 0x22222222, 0x33333333, 0x44444444,
                                      0, 0x55555555, 0x66666666, 0x77777777};
static const uint32_t b_regs[8] = {0xA0000001, 0xA0000002, 0xA0000003, 0xA0000004,
                                   0, 0xA0000006, 0xA0000007, 0xA0000008};
static const char *const reg_names[8] = {"eax", "ecx", "edx", "ebx",
                                         "esp", "ebp", "esi", "edi"};

static unsigned gdt_type(unsigned index) { return (uint32_t)(rt_gdt[index] >> 40) & 0xF; }

static uint16_t str(void)
{
    uint16_t s;
    __asm__ volatile("str %0" : "=r"(s));
    return s;
}

static uint16_t sldt(void)
{
    uint16_t s;
    __asm__ volatile("sldt %0" : "=r"(s));
    return s;
}

static void clts(void) { __asm__ volatile("clts"); }

/* Task B's TSS: EIP at entry, its own stack, EFLAGS with CF (a flag the
 * switch must load), ES with a DPL-3 selector and a null GS, no LDT. */
static void tss_b_init(const char *entry)
{
    memset(&tss_b, 0, sizeof(tss_b));
    tss_b.eip = (uint32_t)entry;
    tss_b.eflags = FL_FIXED1 | FL_CF;
    tss_b.eax = b_regs[0];
    tss_b.ecx = b_regs[1];
    tss_b.edx = b_regs[2];
    tss_b.ebx = b_regs[3];
    tss_b.esp = (uint32_t)(stack_b + sizeof(stack_b));
    tss_b.ebp = b_regs[5];
    tss_b.esi = b_regs[6];
    tss_b.edi = b_regs[7];
    tss_b.cs = SEL_KCODE;
    tss_b.ss = SEL_KDATA;
    tss_b.ds = SEL_KDATA;
    tss_b.es = SEL_UDATA;
    tss_b.fs = SEL_DATA2;
    tss_b.gs = 0;
    tss_b.ldt = 0;
    tss_b.iomap_base = sizeof(tss_b);
    gdt_set(G_TSS_B, desc_make((uint32_t)&tss_b, sizeof(tss_b) - 1, DESC_P | TYPE_TSS32_AVL, 0));
}

/* Task B on entry: the state of its TSS, plus NT and the busy bits. */
static void check_b_entry(const char *name, uint32_t nt, unsigned main_type)
{
    for (unsigned r = 0; r < 8; r++) {
        uint32_t want = r == 4 ? (uint32_t)(stack_b + sizeof(stack_b)) : b_regs[r];
        check_eqf(want, tb_regs[r], "%s.b.%s", name, reg_names[r]);
    }
    /* Named apart from the other checks: QEMU's TCG gets it wrong. */
    check_eqf(FL_FIXED1 | FL_CF | nt, tb_eflags, "b_entry_eflags.%s", name);
    check_eqf(SEL_KCODE, tb_segs[0] & 0xFFFF, "%s.b.cs", name);
    check_eqf(SEL_KDATA, tb_segs[1] & 0xFFFF, "%s.b.ss", name);
    check_eqf(SEL_KDATA, tb_segs[2] & 0xFFFF, "%s.b.ds", name);
    check_eqf(SEL_UDATA, tb_segs[3] & 0xFFFF, "%s.b.es", name);
    check_eqf(SEL_DATA2, tb_segs[4] & 0xFFFF, "%s.b.fs", name);
    check_eqf(0, tb_segs[5] & 0xFFFF, "%s.b.gs", name);
    check_eqf(SEL_B, tb_tr & 0xFFFF, "%s.b.tr", name);
    check_eqf(0, tb_ldtr & 0xFFFF, "%s.b.ldtr", name);
    check_eqf(0x8, tb_cr0 & 0x8, "%s.b.cr0_ts", name);
    check_eqf(main_type, (tb_gdt_main >> 8) & 0xF, "%s.b.main_type", name);
    check_eqf(TYPE_TSS32_BUSY, (tb_gdt_b >> 8) & 0xF, "%s.b.b_type", name);
}

/* The main task after the switch back: its registers from rt_tss (EBX as
 * task B changed it there), what was saved there, the busy bits, TR. */
static void check_main_back(const char *name, const char *ret_eip, uint32_t flags_if)
{
    for (unsigned r = 0; r < 8; r++) {
        uint32_t want = r == 4 ? ts_esp : r == 3 ? 0x4444AAAAu : main_regs[r];
        check_eqf(want, ts_after[r], "%s.main.%s", name, reg_names[r]);
    }
    check_eqf(0x46 | flags_if, ts_after_eflags, "%s.main.eflags", name);
    check_eqf(SEL_DATA2, ts_after_fs & 0xFFFF, "%s.main.fs", name);
    check_eqf(SEL_UDATA, ts_after_gs & 0xFFFF, "%s.main.gs", name);
    check_eqf((uint32_t)ret_eip, rt_tss.eip, "%s.saved.eip", name);
    check_eqf(0x46 | flags_if, rt_tss.eflags, "%s.saved.eflags", name);
    check_eqf(main_regs[0], rt_tss.eax, "%s.saved.eax", name);
    check_eqf(main_regs[7], rt_tss.edi, "%s.saved.edi", name);
    check_eqf(ts_esp, rt_tss.esp, "%s.saved.esp", name);
    check_eqf(SEL_KCODE, rt_tss.cs & 0xFFFF, "%s.saved.cs", name);
    check_eqf(SEL_KDATA, rt_tss.ss & 0xFFFF, "%s.saved.ss", name);
    check_eqf(SEL_DATA2, rt_tss.fs & 0xFFFF, "%s.saved.fs", name);
    check_eqf(SEL_UDATA, rt_tss.gs & 0xFFFF, "%s.saved.gs", name);
    check_eqf(TYPE_TSS32_BUSY, gdt_type(SEL_TSS >> 3), "%s.main_type", name);
    check_eqf(TYPE_TSS32_AVL, gdt_type(G_TSS_B), "%s.b_type", name);
    check_eqf(SEL_TSS, str(), "%s.tr", name);
    check_eqf(SEL_LDT, sldt(), "%s.ldtr", name);
    check_eqf(0x8, read_cr0() & 0x8, "%s.cr0_ts", name);
    /* Task B's state, saved by the switch back: EIP after its IRET/JMP. */
    check_eqf(0xB0B0B0B0, tss_b.eax, "%s.b_saved.eax", name);
    check_eqf(0xB1B1B1B1, tss_b.ecx, "%s.b_saved.ecx", name);
    clts();
}

static void switch_call(const char *name, uint16_t sel)
{
    uint32_t flags_if = read_eflags() & FL_IF;
    tss_b_init(tb_call_entry);
    unsigned runs = tb_runs;
    ts_far[0] = 0;
    ts_far[1] = sel;
    ts_call();
    check_eqf(runs + 1, tb_runs, "%s.b_ran", name);
    check_b_entry(name, FL_NT, TYPE_TSS32_BUSY);
    check_eqf(SEL_TSS, tb_link, "%s.b.link", name);
    check_main_back(name, ts_call_ret, flags_if);
    check_eqf((uint32_t)tb_call_after_iret, tss_b.eip, "%s.b_saved.eip", name);
    /* IRET clears NT in the EFLAGS image it saves (7.3 step 9). */
    check_eqf(0x46, tss_b.eflags, "%s.b_saved.eflags", name);
    check_eqf(SEL_TSS, tss_b.link, "%s.b_saved.link", name);
}

static void switch_jmp(const char *name, uint16_t sel)
{
    uint32_t flags_if = read_eflags() & FL_IF;
    tss_b_init(tb_jmp_entry);
    tss_b.link = 0x1234;
    unsigned runs = tb_runs;
    ts_far[0] = 0;
    ts_far[1] = sel;
    ts_jmp();
    check_eqf(runs + 1, tb_runs, "%s.b_ran", name);
    /* JMP: the old task is no longer busy, NT and the link untouched. */
    check_b_entry(name, 0, TYPE_TSS32_AVL);
    check_eqf(0x1234, tb_link, "%s.b.link", name);
    check_main_back(name, ts_jmp_ret, flags_if);
    check_eqf((uint32_t)tb_jmp_after, tss_b.eip, "%s.b_saved.eip", name);
    check_eqf(0x46, tss_b.eflags, "%s.b_saved.eflags", name);
}

static void bad_switch(const char *name, bool call, uint16_t sel, unsigned vec)
{
    ts_far[0] = 0;
    ts_far[1] = sel;
    bool t = call ? TRY_FAULT(ts_bad_call()) : TRY_FAULT(ts_bad_jmp());
    check_trap(name, t, vec, sel & 0xFFFC,
               (uint32_t)(call ? ts_bad_call_insn : ts_bad_jmp_insn));
    check_eqf(SEL_TSS, str(), "%s.tr", name);
    check_eqf(TYPE_TSS32_BUSY, gdt_type(SEL_TSS >> 3), "%s.main_type", name);
    check_eqf(0, read_cr0() & 0x8, "%s.cr0_ts", name);
}

void test_main(void)
{
    /* The static fields of the main task's TSS (7.2.1): the LDT it gets
     * back when a switch returns to it. */
    rt_tss.ldt = SEL_LDT;
    gdt_set(G_DATA2, desc_make(0, 0xFFFFF, DESC_P | DESC_S | DESC_WRITABLE | DESC_ACCESSED,
                               DESC_G | DESC_DB));
    gdt_set(G_GATE_B, desc_make(SEL_B, 0, DESC_P | TYPE_TASK_GATE, 0));
    check_eq("initial.main_type", TYPE_TSS32_BUSY, gdt_type(SEL_TSS >> 3));

    switch_call("call_tss", SEL_B);
    switch_jmp("jmp_tss", SEL_B);
    switch_call("call_gate", SEL(G_GATE_B));
    switch_jmp("jmp_gate", SEL(G_GATE_B));

    /* #TS(selector): a 32-bit TSS whose limit is below 67H (7.2.2). */
    memset(&tss_small, 0, sizeof(tss_small));
    gdt_set(G_TSS_SMALL, desc_make((uint32_t)&tss_small, 0x66, DESC_P | TYPE_TSS32_AVL, 0));
    bad_switch("small_limit_jmp", false, SEL(G_TSS_SMALL), VEC_TS);
    bad_switch("small_limit_call", true, SEL(G_TSS_SMALL), VEC_TS);
    check_eq("small_limit.type", TYPE_TSS32_AVL, gdt_type(G_TSS_SMALL));
    /* #GP(selector): JMP or CALL to a busy TSS, here the current task's. */
    bad_switch("busy_jmp", false, SEL_TSS, VEC_GP);
    bad_switch("busy_call", true, SEL_TSS, VEC_GP);
}
