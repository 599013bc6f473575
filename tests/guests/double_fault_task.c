/* Task switches under paging (SDM Vol. 3A 7.3): CR3 is a static field of
 * the TSS (7.2.1), loaded from the new task and never saved into the old
 * one; and the classic way to survive a kernel stack overflow (6.15,
 * "Interrupt 8"): the push onto a not-present stack page faults, the #PF
 * cannot be delivered on that stack, and the resulting #DF goes through
 * an IDT task gate to a task with a stack of its own, which repairs the
 * interrupted task and returns to it by IRET. */
#include "guest.h"

NEEDS("paging pm-iret nested-exceptions");

enum {
    G_TSS_B = GDT_FIRST_FREE, /* task B: reads through its own CR3 */
    G_TSS_DF,                 /* the #DF task */
};
#define SEL(i) ((uint16_t)((i) << 3))
#define TYPE_TSS32_AVL 0x9u
#define TYPE_TSS32_BUSY 0xBu
#define GATE_TASK 0x5u
_Static_assert(offsetof(struct tss32, eip) == 0x20 && offsetof(struct tss32, esp) == 0x38,
               "TSS offsets in the asm below");

#define VA_WIN 0x40000000u   /* mapped differently by each page directory */
#define VA_STACK 0x40400000u /* a stack page; the page below is not present */

static uint32_t dir_b[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t dir_c[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t table_b[1024] __attribute__((aligned(PAGE_SIZE)));
static uint32_t table_c[1024] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_b[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_c[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t page_stack[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t stack_b[1024] __attribute__((aligned(16)));
static uint8_t stack_df[1024] __attribute__((aligned(16)));

struct tss32 tss_b __attribute__((aligned(128)));
struct tss32 tss_df __attribute__((aligned(128)));
/* Task B: CR3 and the word at VA_WIN it saw. */
volatile uint32_t tb_cr3, tb_win;
/* The #DF task: its error code, ESP after popping it, CR2, TR, link, and
 * the EIP and ESP the interrupted task was saved with. */
volatile uint32_t df_err, df_esp, df_cr2, df_tr, df_link, df_old_eip, df_old_esp, df_runs;
volatile uint32_t df_saved_esp;
extern uint32_t pg_dir[1024];

__asm__(".text\n"
        /* Task B: records, then puts the main directory into CR3 before
         * returning, which must not end up in its TSS. */
        "tb_entry:\n"
        "  mov %cr3, %eax\n"
        "  mov %eax, tb_cr3\n"
        "  mov 0x40000000, %eax\n"
        "  mov %eax, tb_win\n"
        "  mov $pg_dir, %eax\n"
        "  mov %eax, %cr3\n"
        "  iret\n"
        "  jmp tb_entry\n"
        "call_b:\n"
        "  lcall $0x38, $0\n"
        "  ret\n"
        /* The overflow: a push below the bottom of the stack page. */
        "df_trigger:\n"
        "  push %ebx\n"
        "  push %esi\n"
        "  push %edi\n"
        "  push %ebp\n"
        "  mov %esp, df_saved_esp\n"
        "  mov $0x40400000, %esp\n"
        "df_push:\n"
        "  pushl $0x12345678\n"
        "df_resume:\n"
        "  mov df_saved_esp, %esp\n"
        "  pop %ebp\n"
        "  pop %edi\n"
        "  pop %esi\n"
        "  pop %ebx\n"
        "  ret\n"
        /* The #DF task: the error code is on its own stack. It sends the
         * interrupted task to df_resume, which reloads a good ESP. */
        "df_entry:\n"
        "  popl df_err\n"
        "  mov %esp, df_esp\n"
        "  mov %cr2, %eax\n"
        "  mov %eax, df_cr2\n"
        "  str %eax\n"
        "  mov %eax, df_tr\n"
        "  mov tss_df, %eax\n"
        "  mov %eax, df_link\n"
        "  mov rt_tss+0x20, %eax\n"
        "  mov %eax, df_old_eip\n"
        "  mov rt_tss+0x38, %eax\n"
        "  mov %eax, df_old_esp\n"
        "  movl $df_resume, rt_tss+0x20\n"
        "  incl df_runs\n"
        "  iret\n"
        "  jmp df_entry\n");
extern void call_b(void), df_trigger(void);
extern const char tb_entry[], df_entry[], df_push[];

static unsigned gdt_type(unsigned index) { return (uint32_t)(rt_gdt[index] >> 40) & 0xF; }

static void tss_init(struct tss32 *t, unsigned index, const char *eip, uint8_t *stack_end,
                     uint32_t cr3)
{
    memset(t, 0, sizeof(*t));
    t->cr3 = cr3;
    t->eip = (uint32_t)eip;
    t->eflags = FL_FIXED1;
    t->esp = (uint32_t)stack_end;
    t->cs = SEL_KCODE;
    t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
    t->iomap_base = sizeof(*t);
    gdt_set(index, desc_make((uint32_t)t, sizeof(*t) - 1, DESC_P | TYPE_TSS32_AVL, 0));
}

/* A copy of the main directory whose VA_WIN maps page. */
static void make_dir(uint32_t *dir, uint32_t *table, uint8_t *page)
{
    memcpy(dir, pg_dir, sizeof(pg_dir));
    memset(table, 0, PAGE_SIZE);
    table[0] = (uint32_t)page | PTE_P | PTE_W;
    dir[VA_WIN >> 22] = (uint32_t)table | PTE_P | PTE_W;
}

static uint16_t str(void)
{
    uint16_t s;
    __asm__ volatile("str %0" : "=r"(s));
    return s;
}

static uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }

static void cr3_switch(void)
{
    *(volatile uint32_t *)page_a = 0xAAAA0000;
    *(volatile uint32_t *)page_b = 0xBBBB0000;
    *(volatile uint32_t *)page_c = 0xCCCC0000;
    pg_map_4k(VA_WIN, (uint32_t)page_a, PTE_P | PTE_W);
    invlpg(VA_WIN);
    make_dir(dir_b, table_b, page_b);
    make_dir(dir_c, table_c, page_c);
    check_eq("cr3.main_sees_a", 0xAAAA0000, rd(VA_WIN));

    /* The main task runs on pg_dir but its TSS names dir_c: the CALL must
     * not store CR3 there, so the return loads dir_c. */
    tss_init(&tss_b, G_TSS_B, tb_entry, stack_b + sizeof(stack_b), (uint32_t)dir_b);
    rt_tss.cr3 = (uint32_t)dir_c;
    call_b();
    check_eq("cr3.b_loaded", (uint32_t)dir_b, tb_cr3);
    check_eq("cr3.b_sees_b", 0xBBBB0000, tb_win);
    check_eq("cr3.b_tss_not_saved", (uint32_t)dir_b, tss_b.cr3);
    check_eq("cr3.main_tss_not_saved", (uint32_t)dir_c, rt_tss.cr3);
    check_eq("cr3.main_loaded", (uint32_t)dir_c, read_cr3());
    check_eq("cr3.main_sees_c", 0xCCCC0000, rd(VA_WIN));
    rt_tss.cr3 = (uint32_t)pg_dir;
    write_cr3((uint32_t)pg_dir);
    check_eq("cr3.back_to_a", 0xAAAA0000, rd(VA_WIN));
    __asm__ volatile("clts");
}

static void df_task(const char *name)
{
    unsigned runs = df_runs;
    uint32_t pf_count = trap_last.count;
    df_trigger();
    check_eqf(runs + 1, df_runs, "%s.df_task_ran", name);
    /* No handler of the runtime ran: neither #PF nor #DF reached the IDT's
     * interrupt gates. */
    check_eqf(pf_count, trap_last.count, "%s.no_trap_gate", name);
    check_eqf(0, df_err, "%s.error", name);
    check_eqf((uint32_t)(stack_df + sizeof(stack_df)), df_esp, "%s.df_esp", name);
    check_eqf(VA_STACK - 4, df_cr2, "%s.cr2", name);
    check_eqf(SEL(G_TSS_DF), df_tr, "%s.df_tr", name);
    check_eqf(SEL_TSS, df_link, "%s.link", name);
    /* A fault: the interrupted task was saved at the faulting PUSH with
     * the ESP it had before it. */
    check_eqf((uint32_t)df_push, df_old_eip, "%s.saved_eip", name);
    check_eqf(VA_STACK, df_old_esp, "%s.saved_esp", name);
    check_eqf(TYPE_TSS32_AVL, gdt_type(G_TSS_DF), "%s.df_type_after", name);
    check_eqf(TYPE_TSS32_BUSY, gdt_type(SEL_TSS >> 3), "%s.main_type_after", name);
    check_eqf(SEL_TSS, str(), "%s.tr_after", name);
    __asm__ volatile("clts");
}

void test_main(void)
{
    pg_init();
    pg_enable(false);
    rt_tss.cr3 = (uint32_t)pg_dir;
    rt_tss.ldt = SEL_LDT;
    cr3_switch();

    /* The stack page at VA_STACK, nothing below it. */
    pg_map_4k(VA_STACK, (uint32_t)page_stack, PTE_P | PTE_W);
    pg_map_4k(VA_STACK - PAGE_SIZE, 0, 0);
    invlpg(VA_STACK - PAGE_SIZE);
    tss_init(&tss_df, G_TSS_DF, df_entry, stack_df + sizeof(stack_df), (uint32_t)pg_dir);
    idt_set_gate(VEC_DF, 0, SEL(G_TSS_DF), GATE_TASK, 0, true);
    df_task("overflow");
    /* The #DF task's TSS holds its state after the IRET: a second
     * overflow resumes it there and works the same. */
    df_task("overflow_again");

    /* Ordinary page faults still go through the #PF interrupt gate. */
    bool t = TRY_FAULT((void)rd(VA_STACK - 8));
    check_eq("pf_after.trapped", 1, t);
    check_eq("pf_after.vector", VEC_PF, trap_last.vector);
    check_eq("pf_after.cr2", VA_STACK - 8, trap_last.cr2);
}
